"""The diffusion baseline: its loss on a known schedule, deterministic sampling, and one folder for two pipelines.

The contract tests (test_contracts.py) already build it, round-trip it, train and resume it bit-exactly and
check its pipeline is seed-deterministic; these check what is particular to diffusion.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import UserError
from core.hub import export_run, save_model
from core.inference import GeneratorPipeline
from core.models import MODELS
from core.models.ddpm import DDPMConfig, DDPMGenerator, trajectory_noise, write_diffusers_files
from core.objectives import OBJECTIVES
from core.train import resolve_config, train


def tiny(**values) -> DDPMGenerator:
    torch.manual_seed(0)
    settings = {"image_size": 16, "channels": 1, "width": 8, "max_width": 16, "levels": 2, "sampling_steps": 3, **values}
    network = DDPMGenerator(DDPMConfig(**settings)).eval()
    network.family = "ddpm"
    return network


def cosine_alpha_bar(t: np.ndarray, T: int) -> np.ndarray:
    """abar_t of Nichol & Dhariwal's cosine schedule as diffusers discretises it (betas capped at 0.999)."""
    def f(s: float) -> float:
        return math.cos((s / T + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)])
    return np.cumprod(1 - betas)[t]


def test_the_loss_is_the_mse_between_true_and_predicted_noise_on_the_known_schedule() -> None:
    network = tiny()
    config = resolve_config("ddpm-fashion-mnist-32", "smoke")
    objective = OBJECTIVES.get("diffusion")({"generator": network}, config)
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    torch.manual_seed(7)
    loss, logs = objective.loss("G", {"images": images, "labels": torch.zeros(4, dtype=torch.long)})
    # the same draws, in the objective's order, and x_t from the closed form
    torch.manual_seed(7)
    noise = torch.randn_like(images)
    t = torch.randint(0, 1000, (4,))
    abar = torch.tensor(cosine_alpha_bar(t.numpy(), 1000), dtype=torch.float32).view(-1, 1, 1, 1)
    noisy = abar.sqrt() * images + (1 - abar).sqrt() * noise
    with torch.no_grad():
        expected = ((network.denoise(noisy, t) - noise) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert logs["loss_mse"].item() == pytest.approx(loss.item())
    loss.backward()  # it trains the denoiser
    assert all(p.grad is not None for p in network.parameters())


def test_a_denoiser_that_predicts_no_noise_scores_the_noise_variance() -> None:
    network = tiny()
    config = resolve_config("ddpm-fashion-mnist-32", "smoke")
    objective = OBJECTIVES.get("diffusion")({"generator": network}, config)
    with torch.no_grad():
        for p in network.parameters():
            p.zero_()  # the U-Net's last convolution is then zero: it predicts no noise
    images = torch.rand(256, 1, 16, 16) * 2 - 1
    loss, _ = objective.loss("G", {"images": images, "labels": torch.zeros(256, dtype=torch.long)})
    assert loss.item() == pytest.approx(1.0, abs=0.02)  # E[eps^2] for standard-normal noise


def test_sampling_is_deterministic_for_a_seed_and_steps_are_an_argument(tmp_path) -> None:
    pipe = GeneratorPipeline.from_pretrained(save_model(tiny(), tmp_path / "m"), device="cpu")
    assert pipe.takes_steps and pipe.sampling_steps == 3 and pipe.z_dim == 16 * 16
    first, again = pipe.sample(5, seed=1), pipe.sample(5, seed=1)
    assert np.array_equal(first, again) and first.shape == (5, 16, 16, 1) and first.dtype == np.uint8
    assert np.array_equal(first, pipe.sample(5, seed=1, steps=3))  # the default is the config's
    assert not np.array_equal(first, pipe.sample(5, seed=1, steps=8))
    assert not np.array_equal(first, pipe.sample(5, seed=2))
    # one image does not depend on the others in its batch
    assert np.array_equal(pipe.generate(pipe.latents(5, seed=1), batch_size=2), first)
    for bad in (0, 1001, 2.5):
        with pytest.raises(UserError, match="sampling steps"):
            pipe.sample(2, seed=0, steps=bad)


def test_a_gan_takes_no_sampling_steps(tmp_path) -> None:
    network = MODELS.get("dcgan").build(MODELS.get("dcgan").make_config(width=8, z_dim=8))["generator"]
    pipe = GeneratorPipeline.from_pretrained(save_model(network, tmp_path / "g", family="dcgan"), device="cpu")
    assert not pipe.takes_steps
    with pytest.raises(UserError, match="only diffusion models take sampling steps"):
        pipe.sample(2, seed=0, steps=10)


def test_dpm_solver_samples_too_and_differs_from_ddim(tmp_path) -> None:
    ddim = GeneratorPipeline(tiny(), device="cpu")
    dpm = GeneratorPipeline(tiny(sampler="dpm-solver"), device="cpu")
    a, b = ddim.sample(3, seed=0, steps=4), dpm.sample(3, seed=0, steps=4)
    assert np.array_equal(b, dpm.sample(3, seed=0, steps=4)) and not np.array_equal(a, b)


def test_class_conditioning_changes_the_images(tmp_path) -> None:
    network = tiny(num_classes=3, class_names=["a", "b", "c"])
    torch.nn.init.normal_(network.class_embedding.weight, std=5.0)  # untrained embeddings: make them count
    pipe = GeneratorPipeline(network, device="cpu")
    assert pipe.num_classes == 3
    assert not np.array_equal(pipe.sample(2, seed=0, labels="a"), pipe.sample(2, seed=0, labels="c"))
    with pytest.raises(ValueError, match="class-conditional"):
        network.denoise(torch.zeros(1, 1, 16, 16), torch.zeros(1, dtype=torch.long))


def test_the_state_dict_is_diffusers_unet_key_for_key() -> None:
    from diffusers import UNet2DModel

    network = tiny()
    unet = UNet2DModel(**network.config.unet_config())
    assert network.state_dict().keys() == unet.state_dict().keys()
    assert network.unet.conv_in is network.conv_in  # the same layers, not a copy


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data_root: Path) -> Path:
    """The smoke recipe trained 2 steps and exported as make train exports (config, weights, card, diffusers files)."""
    root = tmp_path_factory.mktemp("ddpm")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATA_ROOT", str(data_root))
        env.setenv("FGL_CACHE", str(root / "cache"))
        config = resolve_config("ddpm-fashion-mnist-32", "smoke", {"steps": 2, "sample_every": 2})
        train(config, root / "run", progress=False)
        return export_run(root / "run", "ddpm-tiny", out_root=root / "pretrained")


def test_one_exported_folder_loads_in_both_pipelines_with_the_same_images(exported) -> None:
    from diffusers import DDIMScheduler, DDPMPipeline

    folder = exported
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").resolve() == (folder / "model.safetensors").resolve()
    ours = GeneratorPipeline.from_pretrained(folder, device="cpu")
    theirs = DDPMPipeline.from_pretrained(folder)
    theirs.set_progress_bar_config(disable=True)
    theirs.scheduler = DDIMScheduler.from_config(theirs.scheduler.config, timestep_spacing="trailing")
    z = ours.latents(3, seed=5)
    expected = ours.generate(z, steps=4)
    x = z.reshape(3, 1, 32, 32)
    theirs.scheduler.set_timesteps(4)
    noise = trajectory_noise(z)  # eta 1: the fresh noise of each step, as the suite draws it
    with torch.no_grad():
        for t in theirs.scheduler.timesteps:
            x = theirs.scheduler.step(theirs.unet(x, t).sample, t, x, eta=1.0,
                                      variance_noise=noise((1, 32, 32), x.device)).prev_sample
    got = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(got, expected)
    # diffusers' own calls run end to end on the same folder (their samplers, their noise), as the card shows
    from diffusers import DDIMPipeline

    fast = DDIMPipeline(unet=theirs.unet, scheduler=theirs.scheduler)
    fast.set_progress_bar_config(disable=True)
    for pipe, kwargs in ((DDPMPipeline.from_pretrained(folder), {}), (fast, {"eta": 1.0})):
        pipe.set_progress_bar_config(disable=True)
        images = pipe(batch_size=2, num_inference_steps=3, output_type="np", **kwargs).images
        assert images.shape == (2, 32, 32, 1) and np.isfinite(images).all()
    card = (folder / "README.md").read_text()
    assert "DDPMPipeline.from_pretrained" in card and "steps=4" in card


def test_rewriting_the_diffusers_files_is_idempotent(tmp_path) -> None:
    folder = save_model(tiny(), tmp_path / "m")
    write_diffusers_files(folder)
    write_diffusers_files(folder)
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").is_symlink()
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "model_index.json",
                                                         "scheduler", "unet"]


@pytest.mark.parametrize("bad, message", [
    ({"image_size": 28, "levels": 4}, "does not halve evenly"),
    ({"width": 12, "norm_groups": 8}, "norm_groups"),
    ({"sampler": "euler"}, "sampler must be one of"),
    ({"sampling_steps": 2000}, "sampling_steps"),
])
def test_bad_configs_are_one_line_errors(bad, message) -> None:
    with pytest.raises(UserError, match=message):
        MODELS.get("ddpm").make_config(**{"image_size": 32, **bad})


def test_the_quality_benchmark_scores_each_step_count_as_its_own_row(exported, real_data_env) -> None:
    from benchmarks import quality

    plan = quality.scenarios([str(exported)], diffusion_steps=(2, 4), diffusion_n=20, kid_subsets=2)
    trained = [(s.candidate, s.steps, s.n_generated) for s in plan if s.candidate != "real"]
    assert trained == [("trained", 2, 20), ("trained", 4, 20), ("untrained", 2, 20)]
    rows = quality.run(plan[0])
    assert {row.model for row in rows} == {"ddpm-tiny@2steps"} and not any(row.error for row in rows)
    assert rows[0].params["sampling_steps"] == 2 and rows[0].params["n_generated"] == 20
    default = quality.run(plan[1])  # 4 steps: the smoke model's own, so the row is the model itself
    assert {row.model for row in default} == {"ddpm-tiny"}


def test_the_throughput_benchmark_times_each_step_count_with_fewer_calls(exported, real_data_env) -> None:
    from benchmarks import throughput

    plan = throughput.scenarios([str(exported)], "cpu", ("torch",), diffusion_steps=(4, 2), steps=1, warmup=3,
                                repeats=10)
    assert [(s.sampling_steps, s.training, s.repeats, s.warmup) for s in plan] == [(2, True, 2, 1), (4, False, 2, 1)]
    rows = throughput.run(plan[1])
    assert {row.model for row in rows} == {"ddpm-tiny"} and not any(row.error for row in rows)
    fast = throughput.run(throughput.Scenario(str(exported), "cpu", warmup=0, repeats=1, training=False,
                                              sampling_steps=1))
    assert {row.model for row in fast} == {"ddpm-tiny@1steps"}
    assert all(row.params["sampling_steps"] == 1 for row in fast)
    gan = throughput.run(throughput.Scenario("dcgan-fashion-mnist", "cpu", warmup=0, repeats=1, training=False,
                                             sampling_steps=5))
    assert all("only diffusion models take sampling steps" in row.error for row in gan)
