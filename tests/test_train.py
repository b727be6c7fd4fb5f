"""The trainer end to end on the real Fashion-MNIST subset: artefacts, resume, interruption."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest
import torch

from core.errors import UserError
from core.train import Trainer, TrainingInterrupted, resolve_config, train
from core.train.checkpoint import flatten, load_state, save_state, unflatten
from core.train.config import parse_overrides


def smoke_config(**overrides):
    return resolve_config("dcgan-fashion-mnist", "smoke", overrides)


def metric_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_smoke_run_writes_every_artefact(real_data_env, tmp_path) -> None:
    run = tmp_path / "run"
    result = train(smoke_config(), run, command="python -m core train --recipe dcgan-fashion-mnist --preset smoke", progress=False)
    assert result.step == 4 and result.images_per_s > 0
    for path in ("config.json", "command.txt", "metrics.csv", "summary.json", "checkpoints/last/state.safetensors",
                 "generator/config.json", "generator/model.safetensors", "samples/step_000002.png", "samples/step_000004.png"):
        assert (run / path).is_file(), path
    assert metric_steps(run) == [1, 2, 3, 4]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["num_images"] == 8226 and "8,226 of 60,000" in summary["data"]
    assert set(summary["final_losses"]) == {"loss_d", "loss_g"}
    assert load_state(run / "checkpoints" / "last")["step"] == 4


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_identical_state(real_data_env, tmp_path, monkeypatch, signum, assert_same_state) -> None:
    reference = tmp_path / "reference"
    train(smoke_config(), reference, progress=False)

    # The signal lands in the middle of step 3: the step completes, is saved, and training stops.
    interrupted = tmp_path / "interrupted"
    original_step = Trainer.train_step

    def signal_during_step_3(self):
        if self.step == 2:
            os.kill(os.getpid(), signum)
        return original_step(self)

    monkeypatch.setattr(Trainer, "train_step", signal_during_step_3)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 3"):
        train(smoke_config(), interrupted, progress=False)
    assert load_state(interrupted / "checkpoints" / "last")["step"] == 3
    monkeypatch.setattr(Trainer, "train_step", original_step)

    resumed = Trainer(smoke_config(), interrupted, progress=False)
    assert resumed.step == 3
    resumed.fit()
    assert_same_state(
        load_state(reference / "checkpoints" / "last"), load_state(interrupted / "checkpoints" / "last")
    )
    assert metric_steps(interrupted) == [1, 2, 3, 4]  # no step logged twice


def test_a_second_interrupt_stops_at_once_keeping_the_last_checkpoint(real_data_env, tmp_path, monkeypatch) -> None:
    original_step = Trainer.train_step

    def impatient_user(self):
        if self.step == 2:  # checkpoint_every=2, so step 2 is on disk
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return original_step(self)

    monkeypatch.setattr(Trainer, "train_step", impatient_user)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 2"):
        train(smoke_config(), tmp_path / "run", progress=False)
    assert load_state(tmp_path / "run" / "checkpoints" / "last")["step"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_extending_a_finished_run_continues_from_its_step(real_data_env, tmp_path) -> None:
    run = tmp_path / "run"
    train(smoke_config(steps=2), run, progress=False)
    first_seconds = load_state(run / "checkpoints" / "last")["train_seconds"]
    trainer = Trainer(smoke_config(steps=4), run, progress=False)
    assert trainer.step == 2
    assert trainer.fit().step == 4
    assert metric_steps(run) == [1, 2, 3, 4]
    # training time adds up over sessions
    assert first_seconds > 0
    assert json.loads((run / "summary.json").read_text())["train_seconds"] >= round(first_seconds, 1)


@pytest.mark.parametrize("loss, penalty", [("minimax", "none"), ("hinge", "r1"), ("wasserstein", "gradient"),
                                           ("least-squares", "dragan")])
def test_every_loss_and_penalty_trains(real_data_env, tmp_path, loss, penalty) -> None:
    run = tmp_path / loss
    result = train(smoke_config(loss=loss, penalty=penalty, steps=2), run, progress=False)
    assert result.step == 2
    with open(run / "metrics.csv", newline="") as f:
        columns = next(csv.reader(f))
    assert ("penalty" in columns) == (penalty != "none")  # the penalty is computed, and logged, only when chosen


def test_checkpoint_structure_round_trips(tmp_path) -> None:
    state = {"step": 7, "opt": {0: {"exp_avg": torch.randn(3)}}, "betas": (0.5, 0.9), "names": ["a", None], "x": 1.5}
    save_state(state, tmp_path / "ckpt")
    loaded = load_state(tmp_path / "ckpt")
    assert list(loaded["opt"]) == [0] and isinstance(loaded["betas"], tuple)
    assert torch.equal(loaded["opt"][0]["exp_avg"], state["opt"][0]["exp_avg"])
    assert unflatten(*flatten(state))["names"] == ["a", None]
    assert not (tmp_path / "ckpt.tmp").exists()


def test_config_errors_are_one_line_user_errors() -> None:
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        resolve_config("nope")
    with pytest.raises(UserError, match="unknown preset"):
        resolve_config("dcgan-fashion-mnist", "huge")
    with pytest.raises(UserError, match=r"unknown training setting\(s\) \['stepz'\]"):
        resolve_config("dcgan-fashion-mnist", "smoke", {"stepz": 3})
    assert parse_overrides(["lr.G=1e-4", "hflip=true", "split=test"]) == {"lr": {"G": 1e-4}, "hflip": True, "split": "test"}
    with pytest.raises(UserError, match="key=value"):
        parse_overrides(["steps"])


def test_recipe_presets_merge_nested_settings() -> None:
    config = resolve_config("dcgan-clothing-64", "smoke", {"lr": {"D": 1e-3}})
    assert config.split == "validation"  # the recipe's own smoke tweak
    assert config.model_config == {"z_dim": 128, "width": 8}  # preset width over recipe width
    assert config.lr == {"G": 2e-4, "D": 1e-3}


def test_recipe_helpers_honour_tweaks_for_every_preset() -> None:
    from core.train.config import _classifier, _cocogan

    for helper in (_classifier, _cocogan):
        recipe = helper({}, quick_steps=100, presets={"quick": {"batch_size": 8}, "full": {"steps": 7}})
        assert recipe["presets"]["quick"]["batch_size"] == 8 and recipe["presets"]["quick"]["steps"] == 100
        assert recipe["presets"]["full"]["steps"] == 7
        with pytest.raises(ValueError, match="unknown preset"):
            helper({}, quick_steps=100, presets={"qiuck": {"batch_size": 8}})


def test_mixed_precision_choices() -> None:
    from core.train.trainer import resolve_precision

    assert resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") in ("no", "bf16")
    with pytest.raises(UserError, match="mixed_precision must be"):
        resolve_precision("fp8")
    if not torch.cuda.is_available():
        assert resolve_precision("auto") == "no"
        with pytest.raises(UserError, match="fp16 mixed precision needs a GPU"):
            resolve_precision("fp16")


def test_batch_stream_is_a_deterministic_sharded_permutation() -> None:
    from core.data import ImageData
    from core.train.batches import BatchStream

    # image i has every pixel = i, so a batch tells which items it holds
    data = ImageData(torch.arange(24, dtype=torch.uint8).view(24, 1, 1, 1).expand(24, 1, 2, 2).clone(),
                     torch.arange(24), [str(i) for i in range(24)], "fashion-mnist", "train")
    ranks = [BatchStream(data, batch_size=4, seed=1, rank=r, world=2) for r in range(2)]
    assert ranks[0].batches_per_epoch == 3
    epoch = torch.cat([ranks[r](step)["labels"] for step in range(3) for r in range(2)])
    assert sorted(epoch.tolist()) == list(range(24))  # one epoch = every item once, shards disjoint
    assert torch.equal(BatchStream(data, 4, seed=1, rank=1, world=2)(2)["labels"], ranks[1](2)["labels"])
    assert not torch.equal(ranks[0](3)["labels"], ranks[0](0)["labels"])  # a new order each epoch
    batch = ranks[0](0)
    torch.testing.assert_close(batch["images"][:, 0, 0, 0], batch["labels"].float() / 127.5 - 1)
    with pytest.raises(UserError, match="larger than the dataset"):
        BatchStream(data, batch_size=16, seed=0, world=2)


def test_random_shifts_translate_whole_images_deterministically() -> None:
    from core.data import ImageData
    from core.train.batches import BatchStream, random_shift

    # One bright pixel in the middle of a dark 9x9 image: a shift moves it by at most 2 pixels per axis.
    images = torch.zeros(64, 1, 9, 9, dtype=torch.uint8)
    images[:, :, 4, 4] = 255
    shifted = random_shift(images.float(), 2, torch.Generator().manual_seed(0))
    positions = {tuple(divmod(int(img.argmax()), 9)) for img in shifted[:, 0]}
    assert positions <= {(y, x) for y in range(2, 7) for x in range(2, 7)} and len(positions) > 10
    assert torch.equal(shifted.sum((1, 2, 3)), torch.full((64,), 255.0))  # moved, never cropped away or duplicated
    data = ImageData(images, torch.zeros(64, dtype=torch.long), ["a"], "fashion-mnist", "train")
    stream = BatchStream(data, batch_size=8, seed=3, shift=2)
    assert torch.equal(stream(5)["images"], BatchStream(data, batch_size=8, seed=3, shift=2)(5)["images"])
    with pytest.raises(UserError, match="shift must be between 0 and 3"):
        BatchStream(data, batch_size=8, seed=3, shift=5)


def test_threads_setting_limits_torch_threads(real_data_env, tmp_path) -> None:
    before = torch.get_num_threads()
    try:
        Trainer(smoke_config(threads=1), tmp_path / "run", progress=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_diverging_loss_is_a_clear_error(real_data_env, tmp_path) -> None:
    trainer = Trainer(smoke_config(), tmp_path / "run", progress=False)
    trainer.train_step()
    trainer.check_finite()  # nothing wrong yet
    with torch.no_grad():  # what an exploding update leaves behind
        trainer.networks["discriminator"].score.weight.fill_(float("nan"))
    trainer.train_step()  # no host sync per step: the trainer looks every log_every steps
    with pytest.raises(UserError, match=r"training diverged: the D loss was not finite between steps 1 and 2.*--set lr.D="):
        trainer.check_finite()
    with pytest.raises(UserError, match="training diverged"):  # and never saves the diverged state
        trainer.save_checkpoint()
    assert load_state(trainer.checkpoint_dir) is None


def test_two_processes_under_torchrun(real_data_env, tmp_path) -> None:
    """The multi-GPU path (DDP, sharded batches, main-process checkpoints), run as 2 CPU processes over gloo."""
    import subprocess
    import sys

    from core.paths import PROJECT_ROOT

    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "core", "train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke",
               "--run-dir", str(run), "--no-progress"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("done: 4 steps") == 1  # one process reports
    summary = json.loads((run / "summary.json").read_text())
    assert summary["batch_size"] == 16  # 8 per process x 2
    assert load_state(run / "checkpoints" / "last")["step"] == 4
    assert (run / "generator" / "model.safetensors").is_file()


def test_batch_schedule_reads_the_same_sequence_at_any_batch_size():
    """Batches of a changing size still read each epoch's permutation in order, with no gap or repeat; with
    one size the batches are exactly the fixed-size stream's (old runs resume onto the same data)."""
    from core.data import load_dataset
    from core.train.batches import BatchSchedule, BatchStream

    data = load_dataset("fashion-mnist", "test", image_size=8)
    fixed = BatchStream(data, batch_size=16, seed=2)
    per_epoch = fixed.batches_per_epoch
    order = [fixed.order(0)[i * 16 : (i + 1) * 16] for i in range(per_epoch)] + [fixed.order(1)[:16]]
    assert all(torch.equal(fixed.indices(i), order[i]) for i in (0, 1, per_epoch - 1, per_epoch))

    schedule = BatchSchedule(starts=(0, 3, 7), sizes=(16, 8, 32))
    varying = BatchStream(data, batch_size=16, seed=2, schedule=schedule)
    read = torch.cat([varying.indices(step) for step in range(12)])
    assert torch.equal(read, fixed.order(0)[: 3 * 16 + 4 * 8 + 5 * 32])
    assert varying.images_read(12) == 3 * 16 + 4 * 8 + 5 * 32 and varying.indices(7).numel() == 32
    assert schedule.step_reaching(3 * 16 + 4 * 8 + 1) == 8 and varying.steps_for(1.0) == schedule.step_reaching(varying.epoch_length)
