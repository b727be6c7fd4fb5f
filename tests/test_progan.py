"""Progressive GAN: fade-in, equalised learning rate, minibatch stddev, the growth schedule, resume mid-fade, export."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from core.inference import GeneratorPipeline
from core.models import MODELS
from core.models.progan import EqualizedConv2d, EqualizedLinear, minibatch_stddev
from core.objectives.progan import ProGANOptions, growth_schedule, progress_at
from core.train import Trainer, resolve_config, train
from core.train.checkpoint import load_state


def networks(image_size: int = 32, **values):
    torch.manual_seed(0)
    family = MODELS.get("progan")
    built = family.build(family.make_config(image_size=image_size, channels=1, z_dim=16, width=8, max_width=32, **values))
    return built["generator"].eval(), built["discriminator"].eval()


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_fade_in_starts_at_the_lower_stage_and_ends_at_the_new_one(stage: int) -> None:
    generator, critic = networks()
    z = torch.randn(6, 16)
    generator.set_progress(stage - 1, 1.0)
    lower = generator(z)
    generator.set_progress(stage, 0.0)
    assert torch.equal(generator(z), F.interpolate(lower, scale_factor=2, mode="nearest"))  # alpha 0: exactly the lower stage
    generator.set_progress(stage, 1.0)
    new = generator(z)
    generator.set_progress(stage, 0.5)
    halfway = generator(z)
    assert torch.allclose(halfway, 0.5 * new + 0.5 * F.interpolate(lower, scale_factor=2), atol=1e-6)
    # continuous in alpha: a small step in alpha is a small step in the image
    generator.set_progress(stage, 0.51)
    assert (generator(z) - halfway).abs().max() < 0.05 * (new - halfway).abs().max() + 1e-6

    images = torch.randn(6, 1, 4 * 2**stage, 4 * 2**stage)
    critic.set_progress(stage - 1, 1.0)
    lower_score = critic(F.avg_pool2d(images, 2))
    critic.set_progress(stage, 0.0)
    assert torch.allclose(critic(images), lower_score, atol=1e-6)  # the critic fades in the same way
    critic.set_progress(stage, 1.0)
    assert not torch.allclose(critic(images), lower_score)


def test_equalised_layers_scale_their_weights_at_run_time() -> None:
    torch.manual_seed(0)
    conv, linear = EqualizedConv2d(32, 16, 3), EqualizedLinear(200, 10, gain=1)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(32 * 9)) and linear.scale == pytest.approx(1 / math.sqrt(200))
    assert abs(conv.weight.std().item() - 1) < 0.05  # parameters are N(0, 1); the scale is not in them
    x = torch.randn(2, 32, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))
    v = torch.randn(3, 200)
    assert torch.allclose(linear(v), v @ (linear.weight * linear.scale).T + linear.bias)
    # so the output keeps unit scale whatever the fan-in (He's constant): std ~ sqrt(2) before the activation
    assert 1.2 < conv(torch.randn(64, 32, 8, 8)).std().item() < 1.6


def test_minibatch_stddev_adds_one_channel_that_depends_on_the_batch() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 5, 4, 4)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 6, 4, 4) and torch.equal(y[:, :5], x)
    assert torch.all(y[0, 5] == y[0, 5, 0, 0])  # one number per sample, broadcast over its pixels
    changed = x.clone()
    changed[2] *= 3  # sample 2 is in sample 6's group (groups are i mod B / 4), not in sample 1's
    z = minibatch_stddev(changed, group_size=4)
    assert not torch.equal(z[6, 5], y[6, 5]) and torch.equal(z[1, 5], y[1, 5])
    same = minibatch_stddev(x[:1].expand(4, -1, -1, -1), group_size=4)
    assert same[:, 5].abs().max() < 1e-3  # identical samples: no spread
    assert minibatch_stddev(torch.randn(6, 5, 4, 4), group_size=4).shape == (6, 6, 4, 4)  # groups that tile the batch


def test_growth_schedule_counts_images_with_a_batch_size_per_stage() -> None:
    options = ProGANOptions(fade_images=100, stable_images=60, batch_sizes={"16": 10, 32: 5})
    phases = growth_schedule(32, options, batch_size=20)
    assert [(p.size, p.fading, p.steps, p.batch_size) for p in phases] == [
        (4, False, 3, 20), (8, True, 5, 20), (8, False, 3, 20), (16, True, 10, 10), (16, False, 6, 10),
        (32, True, 20, 5), (32, False, None, 5),
    ]
    assert [p.first_step for p in phases] == [0, 3, 8, 11, 21, 27, 47]
    assert progress_at(phases, 0) == (0, 1.0) and progress_at(phases, 3) == (1, 0.0)
    assert progress_at(phases, 5) == (1, pytest.approx(0.4)) and progress_at(phases, 8) == (1, 1.0)
    assert progress_at(phases, 1000) == (3, 1.0)
    with pytest.raises(ValueError, match="fade_images"):
        ProGANOptions(fade_images=0)
    with pytest.raises(ValueError, match="batch_sizes"):
        ProGANOptions(batch_sizes={"big": 3})


def smoke(**overrides):
    # Batches of 8, halved from 16 px on. 4 px: step 0; 8 px: fade-in steps 1-3, stable step 4; 16 px: fade-in
    # steps 5-10, stable 11-12; 32 px: fade-in from step 13.
    settings = {"fade_images": 24, "stable_images": 8, "batch_sizes": {"16": 4, "32": 4}, "steps": 8,
                "checkpoint_every": 100, "sample_every": 100, **overrides}
    return resolve_config("progan-fashion-mnist-32", "smoke", settings)


def test_training_crosses_stages_and_resumes_mid_fade_bit_exactly(real_data_env, tmp_path, assert_same_state) -> None:
    config = smoke()
    straight = tmp_path / "straight"
    train(config, straight, progress=False)
    halted = tmp_path / "halted"
    first = Trainer(config, halted, progress=False)
    for _ in range(7):  # into the 16 px fade-in: step 6 is its second step, alpha 1/6
        first.train_step()
    assert (first.objective.stage, first.objective.alpha) == (2, pytest.approx(1 / 6))
    assert first.stream.indices(6).numel() == 4 and first.stream.indices(1).numel() == 8
    first.save_checkpoint()
    del first
    resumed = Trainer(config, halted, progress=False)
    assert resumed.step == 7
    resumed.fit()
    assert_same_state(load_state(straight / "checkpoints" / "last"), load_state(halted / "checkpoints" / "last"))
    # the end of every finished stage is kept for the growth curve
    snapshots = sorted(p.name for p in (straight / "snapshots").iterdir())
    assert snapshots == ["stage_0004px", "stage_0008px"]
    assert json.loads((straight / "snapshots" / "stage_0008px" / "snapshot.json").read_text())["step"] == 5
    assert GeneratorPipeline.from_pretrained(straight / "snapshots" / "stage_0004px").sample(2).shape == (2, 4, 4, 1)
    summary = json.loads((straight / "summary.json").read_text())
    assert summary["epochs"] == pytest.approx((1 * 8 + 4 * 8 + 3 * 4) / 8224, abs=1e-3)  # images shown, per stage batch


def test_a_model_exported_mid_growth_serves_the_stage_it_reached(real_data_env, tmp_path) -> None:
    run = tmp_path / "run"
    train(smoke(), run, progress=False)  # stops 3 steps into the 16 px fade-in
    config = json.loads((run / "generator" / "config.json").read_text())
    assert config["image_size"] == 32 and config["current_size"] == 16 and 0 < config["fade"] < 1
    pipe = GeneratorPipeline.from_pretrained(run / "generator")
    assert pipe.image_size == 16 and pipe.sample(3, seed=1).shape == (3, 16, 16, 1)
    full = train(smoke(steps=15), tmp_path / "grown", progress=False)
    grown = GeneratorPipeline.from_pretrained(full.run_dir / "generator")
    assert grown.image_size == 32 and grown.sample(2).shape == (2, 32, 32, 1)
    assert max(p.name for p in (full.run_dir / "snapshots").iterdir()) == "stage_0032px"


def test_the_256_px_recipe_grows_through_seven_stages_with_smaller_batches() -> None:
    from core.objectives.progan import final_size

    config = resolve_config("progan-clothing-256", "full")
    phases = growth_schedule(final_size(config), ProGANOptions(**config.options), config.batch_size)
    assert sorted({p.size for p in phases}) == [4, 8, 16, 32, 64, 128, 256]
    assert {p.size: p.batch_size for p in phases} == {4: 128, 8: 128, 16: 128, 32: 128, 64: 32, 128: 32, 256: 16}
    assert config.steps == phases[-1].first_step + 600_000 // 16
