"""Phases from the config, typed objective options, objective state and epochs: the trainer's new contract."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import UserError
from core.losses import HingeLoss, WassersteinLoss
from core.objectives import Phase
from core.train import Trainer, resolve_config, train
from core.train.checkpoint import load_state
from core.train.config import config_from_dict, equivalent_command, load_training_config, parse_overrides
from core.train.phases import plan_phases


def smoke(recipe: str = "wgan-fashion-mnist", **overrides):
    return resolve_config(recipe, "smoke", overrides)


def test_wgan_runs_five_rmsprop_critic_steps_on_five_fresh_batches_then_clips(real_data_env, tmp_path) -> None:
    trainer = Trainer(smoke(), tmp_path / "run", progress=False)
    assert all(isinstance(trainer.optimizers[p].optimizer, torch.optim.RMSprop) for p in ("D", "G"))  # accelerate wraps them
    seen: list[tuple[str, torch.Tensor]] = []
    original = trainer.objective.loss

    def recording(phase, batch):
        seen.append((phase, batch["images"].clone()))
        return original(phase, batch)

    trainer.objective.loss = recording
    trainer.train_step()
    assert [phase for phase, _ in seen] == ["D"] * 5 + ["G"]
    critic_batches = [images for phase, images in seen if phase == "D"]
    for i in range(5):  # every critic step on its own real batch
        for j in range(i):
            assert not torch.equal(critic_batches[i], critic_batches[j])
    assert torch.equal(seen[-1][1], critic_batches[0])  # the generator phase reuses the first batch (its labels)
    critic = trainer.networks["discriminator"]
    assert max(p.abs().max().item() for p in critic.parameters()) <= 0.01  # clipped after every critic step
    assert max(p.abs().max().item() for p in trainer.networks["generator"].parameters()) > 0.01  # G is not clipped
    # an iteration reads five real batches: that is what images/s and epochs count
    assert trainer.stream.per_step == 5 and trainer.images_read(1) == 5 * 8


def test_repeating_a_generator_phase_reads_no_more_data(real_data_env, tmp_path) -> None:
    trainer = Trainer(smoke("gan-fashion-mnist", phases={"G": {"repeats": 3}}), tmp_path / "run", progress=False)
    seen: list[tuple[str, torch.Tensor]] = []
    original = trainer.objective.loss
    trainer.objective.loss = lambda phase, batch: seen.append((phase, batch["images"])) or original(phase, batch)
    trainer.train_step()
    assert [phase for phase, _ in seen] == ["D", "G", "G", "G"]
    assert all(images is seen[0][1] for _, images in seen)  # one real batch for the whole iteration
    assert trainer.stream.per_step == 1 and trainer.images_read(1) == 8


def test_the_batch_depends_only_on_seed_step_rank_and_repeat(real_data_env, tmp_path) -> None:
    a = Trainer(smoke(), tmp_path / "a", progress=False).stream
    b = Trainer(smoke(), tmp_path / "b", progress=False).stream
    assert torch.equal(a(3, 4)["images"], b(3, 4)["images"])
    assert not torch.equal(a(3, 4)["images"], a(4, 0)["images"])  # batch 19 and batch 20 of the epoch
    with pytest.raises(ValueError, match="outside the 5 batches"):
        a(0, 5)


def test_phase_settings_are_validated() -> None:
    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",)))
    lr = {"D": 1e-4, "G": 1e-4}
    for settings, message in [
        ({"C": {}}, r"settings for \['C'\], but this objective's phases are \['D', 'G'\]"),
        ({"D": {"repeats": 0}}, "repeats must be a whole number from 1 to 100"),
        ({"D": {"optimizer": "sgd"}}, "optimizer must be one of adam, rmsprop"),
        ({"D": {"after_step": {"clip": 0.01}}}, "unknown step hook 'clip'; known: clip_weights"),
        ({"D": {"after_step": {"clip_weights": -1}}}, "clip_weights needs a positive bound"),
        ({"D": {"speed": 2}}, r"unknown setting\(s\) \['speed'\] for phase D"),
    ]:
        with pytest.raises(UserError, match=message):
            plan_phases(phases, settings, lr, (0.5, 0.999))
    with pytest.raises(UserError, match="lr.G must be a number between 0 and 1"):
        plan_phases(phases, {}, {"D": 1e-4, "G": "abc"}, (0.5, 0.999))
    planned = plan_phases(phases, {"D": {"repeats": 3, "betas": [0.0, 0.9]}}, lr, (0.5, 0.999))
    assert [(p.name, p.repeats) for p in planned] == [("D", 3), ("G", 1)]
    assert planned[0].make_optimizer([torch.nn.Parameter(torch.zeros(1))], 1e-4).defaults["betas"] == (0.0, 0.9)


def test_a_setting_the_objective_does_not_read_is_a_one_line_error() -> None:
    with pytest.raises(UserError, match=r"\['curriculum'\].*image-gan objective of model 'dcgan' does not read"):
        resolve_config("dcgan-fashion-mnist", "smoke", parse_overrides(["curriculum=[]"]))
    with pytest.raises(UserError, match=r"\['margin'\].*began"):
        resolve_config("began-fashion-mnist", "smoke", {"margin": 2.0})  # EBGAN's, not BEGAN's
    with pytest.raises(UserError, match="unknown loss 'hinj'; known: hinge"):
        resolve_config("gan-fashion-mnist", "smoke", {"loss": "hinj"})
    with pytest.raises(UserError, match="penalty_weight must be a number >= 0"):
        resolve_config("wgan-gp-fashion-mnist", "smoke", {"penalty_weight": -1})
    with pytest.raises(UserError, match="unknown model 'stylegan'"):
        resolve_config("gan-fashion-mnist", "smoke", {"model": "stylegan"})


def test_every_gan_objective_takes_its_loss_from_the_registry(real_data_env, tmp_path) -> None:
    coco = Trainer(resolve_config("cocogan-fashion-mnist-32", "smoke", {"loss": "hinge"}), tmp_path / "c", progress=False)
    assert isinstance(coco.objective.adversarial, HingeLoss)  # COCO-GAN no longer hard-codes WGAN-GP
    assert isinstance(Trainer(smoke(), tmp_path / "w", progress=False).objective.adversarial, WassersteinLoss)


def test_began_keeps_k_in_the_unit_interval_and_in_the_checkpoint(real_data_env, tmp_path) -> None:
    config = smoke("began-fashion-mnist", steps=6, log_every=1, checkpoint_every=3, lambda_k=0.5)  # a fast controller
    train(config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = [dict(zip(header, line.strip().split(","))) for header in [f.readline().strip().split(",")] for line in f]
    ks = [float(row["k"]) for row in rows]
    assert all(0 <= k <= 1 for k in ks) and len(set(ks)) > 1  # it moves, and stays in [0, 1]
    state = load_state(tmp_path / "run" / "checkpoints" / "last")
    assert 0 <= float(state["objective"]["k"]) <= 1
    resumed = Trainer(config, tmp_path / "run", progress=False)
    assert torch.equal(resumed.objective.k.cpu(), state["objective"]["k"])


def test_supervised_infogan_teaches_its_class_head_the_real_labels(real_data_env, tmp_path) -> None:
    # without this anchor G and Q agree on any permutation of the classes (conditional accuracy below chance)
    trainer = Trainer(smoke("infogan-fashion-mnist"), tmp_path / "run", progress=False)
    batch = trainer.stream(0)
    torch.manual_seed(0)
    loss, logs = trainer.objective.loss("D", batch)
    assert "class_real" in logs
    shuffled = {**batch, "labels": (batch["labels"] + 1) % 10}
    torch.manual_seed(0)
    other, _ = trainer.objective.loss("D", shuffled)
    _, logits, _ = trainer.networks["discriminator"](batch["images"])
    ce = torch.nn.functional.cross_entropy
    # the fakes take the batch's labels too, so compare the real-image term itself
    assert float(logs["class_real"]) == pytest.approx(ce(logits[:, :10], batch["labels"]).item(), rel=1e-4)
    assert not torch.equal(loss, other)


def test_epochs_set_the_steps_and_snapshots_are_kept_at_epoch_ends(real_data_env, tmp_path) -> None:
    # 8,226 images in batches of 512: 16 batches an epoch
    config = smoke("gan-fashion-mnist", batch_size=512, epochs=2, snapshot_epochs=[1, 2], log_every=4, sample_every=16)
    result = train(config, tmp_path / "run", progress=False)
    assert result.step == 32
    for epoch, step in ((1, 16), (2, 32)):
        folder = tmp_path / "run" / "snapshots" / f"epoch_{epoch:03d}"
        assert json.loads((folder / "snapshot.json").read_text()) == {"epoch": epoch, "step": step}
        assert (folder / "model.safetensors").is_file() and (folder / "samples.png").is_file()
        assert json.loads((folder / "config.json").read_text())["family"] == "gan"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs"] == 2.0 and summary["steps"] == 32
    # with 5 critic batches per step, an epoch is 16 / 5 steps, rounded up
    wgan = Trainer(smoke(batch_size=512, epochs=2), tmp_path / "wgan", progress=False)
    assert wgan.config.steps == 7


def test_a_run_started_from_python_records_an_equivalent_command(real_data_env, tmp_path) -> None:
    config = smoke("gan-fashion-mnist", steps=2, loss="hinge", lr={"G": 1e-3})
    train(config, tmp_path / "run", progress=False)
    command = (tmp_path / "run" / "command.txt").read_text().strip()
    assert command == "python -m core train --recipe gan-fashion-mnist --preset smoke --set loss=hinge lr.G=0.001 steps=2"
    assert equivalent_command(resolve_config("gan-fashion-mnist", "quick")) == (
        "python -m core train --recipe gan-fashion-mnist --preset quick")


def test_configs_saved_before_typed_options_still_load() -> None:
    """Old run records kept every objective's settings at the top level; they load as today's options."""
    from core.paths import PRETRAINED_DIR

    coco = load_training_config(PRETRAINED_DIR / "cocogan-fashion-mnist-32")
    assert coco.options["loss"] == "wasserstein" and coco.options["penalty"] == "gradient"
    assert coco.options["penalty_weight"] == 10.0 and coco.options["curriculum"][0]["name"] == "cloudy"
    adversarial = load_training_config(PRETRAINED_DIR / "classifier-conv-adv-fashion-mnist")
    assert adversarial.options == {"adversarial_training": {"attack": "pgd", "epsilon": 0.1, "steps": 3, "step_size": 0.04,
                                                            "warmup_steps": 200}}
    legacy = config_from_dict({"model": "dcgan", "loss": "hinge", "loss_options": {}, "curriculum": [], "eval_split": "test"})
    assert legacy.options == {"loss": "hinge"}  # what the objective never read is dropped, not refused


def test_bad_values_of_trainer_settings_are_one_line_errors() -> None:
    for overrides, message in [
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"checkpoint_every": 0}, "checkpoint_every must be a whole number >= 1"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"seed": 2**64}, "seed must be below 2\\*\\*63"),
        ({"epochs": "ten"}, "epochs must be a number >= 0"),
        ({"snapshot_epochs": [0]}, "snapshot_epochs must be a list of whole epochs >= 1"),
    ]:
        with pytest.raises(UserError, match=message):
            smoke(**overrides)
