"""COCO-GAN: coordinates, the merging function Φ, beyond-boundary sizes, Q, and the curriculum on real data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.errors import UserError
from core.inference import GeneratorPipeline
from core.models import CocoGANConfig, CocoGANDiscriminator, CocoGANGenerator
from core.models.cocogan import (
    LatentField,
    PixelCoordinates,
    macro_coordinates,
    macro_offsets,
    merge,
    micro_coordinates,
    split,
)
from core.objectives.cocogan import CocoGANObjective
from core.train import resolve_config, train

TINY = {"image_size": 32, "macro_size": 16, "micro_size": 8, "channels": 1, "z_dim": 8, "width": 8, "max_width": 16}


@pytest.fixture(
    params=[{"depth": 1}, {"depth": 2}, {"pixel_coordinates": True, "latent_field": 4}], ids=["depth1", "depth2", "position-aware"]
)
def tiny(request: pytest.FixtureRequest) -> CocoGANGenerator:
    torch.manual_seed(0)
    return CocoGANGenerator(CocoGANConfig(**TINY, **request.param)).eval()


def test_merge_is_exact_and_split_inverts_it() -> None:
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    patches = split(images, 8)
    assert patches.shape == (2 * 16, 3, 8, 8)
    torch.testing.assert_close(patches[5], images[0, :, 8:16, 8:16], rtol=0, atol=0)  # row 1, col 1 of image 0
    torch.testing.assert_close(patches[16 + 3], images[1, :, 0:8, 24:32], rtol=0, atol=0)  # row 0, col 3 of image 1
    assert torch.equal(merge(patches, 4, 4), images)
    # Known patches (each filled with its own index) land in their cells.
    tiles = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 2, 2)
    assert merge(tiles, 2, 3)[0, 0].tolist() == [[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 4, 4, 5, 5]] * 2


def test_merge_is_differentiable() -> None:
    patches = torch.randn(8, 1, 4, 4, requires_grad=True)
    (merge(patches, 2, 2) * torch.arange(64.0).view(1, 1, 8, 8).repeat(2, 1, 1, 1)).sum().backward()
    assert patches.grad is not None and patches.grad.abs().sum() > 0


def test_coordinates_cover_the_grid_row_major_and_extend_beyond_it() -> None:
    config = CocoGANConfig(**TINY)  # a 4 x 4 grid of micro patches
    coords = micro_coordinates(config)
    assert coords.shape == (16, 2)
    assert coords[0].tolist() == [-1, -1] and coords[3].tolist() == [1, -1] and coords[-1].tolist() == [1, 1]
    assert coords[4].tolist() == pytest.approx([-1, -1 / 3])  # (x, y): second row, first column
    beyond = micro_coordinates(config, extra=1)
    assert beyond.shape == (36, 2)
    assert beyond[0].tolist() == pytest.approx([-5 / 3, -5 / 3]) and beyond[-1].tolist() == pytest.approx([5 / 3, 5 / 3])
    assert macro_offsets(config) == 3
    micro, macro = macro_coordinates(config, torch.tensor([2]), torch.tensor([0]))
    expected = torch.tensor([[-1, 1 / 3], [-1 / 3, 1 / 3], [-1, 1], [-1 / 3, 1]])  # row-major inside the patch
    torch.testing.assert_close(micro[0], expected)
    assert macro[0].tolist() == pytest.approx([-2 / 3, 2 / 3])


def test_full_image_equals_its_micro_patches_stitched(tiny: CocoGANGenerator) -> None:
    z = torch.randn(3, 8)
    with torch.no_grad():
        image = tiny(z)
        coords = micro_coordinates(tiny.config)
        for index, (x, y) in enumerate(coords.tolist()):
            row, col = divmod(index, 4)
            alone = tiny(z, coords=torch.tensor([[x, y]]).expand(3, 2))  # one part on demand
            torch.testing.assert_close(image[:, :, row * 8 : row * 8 + 8, col * 8 : col * 8 + 8], alone, rtol=1e-5, atol=1e-5)
    assert image.shape == (3, 1, 32, 32) and image.abs().max() <= 1


def test_beyond_boundary_sizes_and_the_inner_part_is_unchanged(tiny: CocoGANGenerator) -> None:
    z = torch.randn(2, 8)
    with torch.no_grad():
        inside, larger, largest = tiny(z), tiny(z, extra=1), tiny(z, extra=2)
    assert larger.shape == (2, 1, 48, 48) and largest.shape == (2, 1, 64, 64)
    torch.testing.assert_close(larger[:, :, 8:40, 8:40], inside, rtol=1e-5, atol=1e-5)


def test_q_and_discriminator_shapes(tiny: CocoGANGenerator) -> None:
    discriminator = CocoGANDiscriminator(CocoGANConfig(**TINY))
    macro_patch = torch.randn(5, 1, 16, 16)
    assert tiny.recover_latent(macro_patch).shape == (5, 8)
    score, coords = discriminator(macro_patch, torch.zeros(5, 2))
    assert score.shape == (5,) and coords.shape == (5, 2)


def test_config_refuses_impossible_geometry() -> None:
    with pytest.raises(ValueError, match="multiples of micro_size"):
        CocoGANConfig(image_size=36, macro_size=16, micro_size=8)
    with pytest.raises(ValueError, match="micro_size <= macro_size"):
        CocoGANConfig(image_size=32, macro_size=8, micro_size=16)
    with pytest.raises(ValueError, match="unconditional"):
        CocoGANConfig(num_classes=10)
    with pytest.raises(ValueError, match="depth"):
        CocoGANConfig(depth=0)
    with pytest.raises(ValueError, match="latent_field"):
        CocoGANConfig(latent_field=-1)


def test_pixel_coordinates_continue_across_patch_borders() -> None:
    config = CocoGANConfig(**TINY)  # 4 x 4 micro patches of 8 px, spacing 2/3
    maps = PixelCoordinates(config)(torch.zeros(16, 0, 8, 8), micro_coordinates(config))[:, -2:]
    xs, ys = merge(maps, 4, 4)[0]
    step = 2 / 3 / 8  # one pixel
    torch.testing.assert_close(xs[5], torch.arange(32.0) * step - 1 - 1 / 3 + step / 2)  # evenly spaced, no jump at borders
    torch.testing.assert_close(ys[:, 7], xs[5])  # rows the same way down
    assert torch.all(xs[:, 1:] - xs[:, :-1] > 0) and torch.allclose(xs, xs[0].expand(32, 32))


def test_the_latent_field_read_patch_by_patch_is_one_smooth_image() -> None:
    config = CocoGANConfig(**TINY, latent_field=4)  # 4 x 4 micro patches, each read at 4 x 4 positions
    field = LatentField(config, channels=3)
    z = torch.randn(1, 8)
    patches = field(z.expand(16, 8), micro_coordinates(config))
    whole = F.interpolate(field.project(z).view(1, 3, 4, 4), scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(merge(patches, 4, 4), whole)  # as if the field had been upsampled across the whole image


def test_depth_adds_same_resolution_blocks() -> None:
    shallow, deep = (CocoGANGenerator(CocoGANConfig(**TINY, depth=d)) for d in (1, 2))
    assert [b.upsample for b in shallow.blocks] == [True]
    assert [b.upsample for b in deep.blocks] == [True, False]  # 4 -> 8 px, then one more block at 8 px


def test_the_curriculum_runs_through_its_stages_on_real_data(real_data_env: Path, tmp_path: Path) -> None:
    config = resolve_config("cocogan-fashion-mnist-32", "smoke", {"steps": 8, "log_every": 1, "sample_every": 8})
    result = train(config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    blur = [float(row["stage_blur"]) for row in rows]
    assert blur == [4, 4, 2, 2, 1, 1, 1, 1]  # cloudy until 15 % of the steps, refine until 40 %, then lucid
    refine = [float(row["feature_matching"]) for row in rows if row["stage_blur"] == "2.0"]
    assert all(value > 0 for value in refine)  # feature matching only while refining
    assert all(float(row["feature_matching"]) == 0 for row in rows if row["stage_blur"] != "2.0")
    pipe = GeneratorPipeline.from_pretrained(result.run_dir / "generator", device="cpu")
    assert pipe.sample(4, seed=1).shape == (4, 32, 32, 1)  # Fashion-MNIST padded to 32 px


def test_the_cloudy_stage_blurs_the_real_patches_only() -> None:
    """G's patches reach D unblurred, so even the cloudy stage punishes seams and other high-frequency artefacts."""
    config = resolve_config("cocogan-fashion-mnist-32", "smoke", {"steps": 100})
    generator, discriminator = CocoGANGenerator(CocoGANConfig(**TINY)), CocoGANDiscriminator(CocoGANConfig(**TINY))
    drawn, judged = [], []
    generator.register_forward_hook(lambda module, args, output: drawn.append(output.detach()))
    discriminator.register_forward_pre_hook(lambda module, args: judged.append(args[0].detach()))
    objective = CocoGANObjective({"generator": generator, "discriminator": discriminator}, config)
    objective.set_step(0)
    assert objective.stage["blur"] == 4
    torch.manual_seed(0)
    objective.loss("D", {"images": torch.rand(6, 1, 32, 32) * 2 - 1, "labels": None})  # pixel noise
    real, fake = judged[0], judged[1]  # D scores the real macro patches, then the fake ones
    torch.testing.assert_close(fake, merge(drawn[0], 2, 2), rtol=0, atol=0)

    def roughness(x: torch.Tensor) -> float:
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean().item()

    assert roughness(real) < 0.25 * roughness(torch.rand(6, 1, 16, 16) * 2 - 1)  # the noise was low-passed


def test_bad_curriculum_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="invalid curriculum stage"):  # refused when the config is resolved
        resolve_config("cocogan-fashion-mnist-32", "smoke", {"curriculum": [{"name": "x", "blur": 0, "until": 1}]})


@pytest.fixture
def tiny_pipeline(tiny: CocoGANGenerator, tmp_path: Path) -> GeneratorPipeline:
    from core.hub import save_model

    return GeneratorPipeline.from_pretrained(save_model(tiny, tmp_path / "cocogan-tiny"), device="cpu")


def test_pipeline_parts_beyond_and_patch_guided(tiny_pipeline: GeneratorPipeline) -> None:
    pipe = tiny_pipeline
    assert pipe.is_patch_based and pipe.grid == 4
    image = pipe.sample(1, seed=3)[0]
    assert image.shape == (32, 32, 1)
    # Any part alone equals that cell of the whole image (uint8 rounding aside).
    part = pipe.part(3, row=2, col=1)
    assert part.shape == (8, 8, 1)
    assert abs(part.astype(int) - image[16:24, 8:16].astype(int)).max() <= 1
    larger = pipe.beyond(1, seed=3, extra=1)[0]
    assert larger.shape == (48, 48, 1) and abs(larger[8:40, 8:40].astype(int) - image.astype(int)).max() <= 1
    swapped = pipe.with_part(3, 0, 0, part_seed=4)
    assert (swapped[8:, 8:] == image[8:, 8:]).all() and not (swapped[:8, :8] == image[:8, :8]).all()
    completed = pipe.complete(image, row=1, col=2)
    assert completed.shape == (32, 32, 1) and completed.dtype == image.dtype
    with pytest.raises(UserError, match="outside the 4 x 4 grid"):
        pipe.part(3, 4, 0)
    with pytest.raises(UserError, match="within 0..2"):
        pipe.complete(image, 3, 0)
    with pytest.raises(UserError, match="uint8"):
        pipe.complete(image[:16], 0, 0)


def test_whole_image_generators_say_they_have_no_parts(tiny_generator_dir: Path) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")
    assert not pipe.is_patch_based
    with pytest.raises(UserError, match="patch-based generator"):
        pipe.beyond(1)
