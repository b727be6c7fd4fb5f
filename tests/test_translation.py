"""Image-to-image core: paired transforms, data modes, the U-Net and PatchGAN, the translator pipeline, export, CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import ImageData
from core.data.modes import make_mode
from core.data.transforms import PAIRED_SOURCES, canny, grayscale, otsu_threshold, silhouette
from core.errors import UserError
from core.hub import save_model
from core.inference import TranslatorPipeline
from core.models import MODELS
from core.models.translator import PatchDiscriminator, UNet, patch_output_size, patch_receptive_field
from core.train.batches import mode_stream

# --------------------------------------------------------------------------- paired transforms


def square_image(size: int = 32, inside: float = 1.0, outside: float = -1.0, lo: int = 8, hi: int = 24) -> torch.Tensor:
    """[1, 3, size, size] in [-1, 1]: a square [lo, hi) of one level on another."""
    image = torch.full((1, 3, size, size), outside)
    image[..., lo:hi, lo:hi] = inside
    return image


def test_grayscale_is_the_luma_of_each_pixel() -> None:
    image = torch.zeros(1, 3, 4, 4)
    image[:, 0], image[:, 1], image[:, 2] = 1.0, -1.0, 0.0  # red 255, green 0, blue 127.5
    expected = (0.299 * 1.0 + 0.587 * 0.0 + 0.114 * 0.5) * 2 - 1
    assert torch.allclose(grayscale(image), torch.full((1, 1, 4, 4), expected))


def test_canny_finds_a_squares_outline_and_nothing_inside_or_far_away() -> None:
    edges = canny((square_image()[:, :1] + 1) / 2)[0, 0]
    assert edges.dtype == torch.bool and edges.any()
    rows, cols = torch.nonzero(edges, as_tuple=True)
    assert rows.min() >= 6 and rows.max() <= 25 and cols.min() >= 6 and cols.max() <= 25  # at the border, +-2 px
    assert not edges[11:21, 11:21].any()  # flat interior
    assert not edges[:4].any() and not edges[-4:].any()  # flat background
    assert edges[7:9, 12:20].any(dim=0).all()  # the top side is a line along its whole length
    assert not canny(torch.full((1, 1, 16, 16), 0.5)).any()  # a flat image has no edges


def test_otsu_splits_a_two_level_image_between_its_levels() -> None:
    gray = torch.full((1, 1, 8, 8), 0.2)
    gray[..., :, :3] = 0.7
    threshold = float(otsu_threshold(gray))
    assert 0.2 <= threshold < 0.7


@pytest.mark.parametrize("garment, background", [(-0.8, 0.9), (0.9, -0.8)])
def test_the_silhouette_is_the_object_whatever_the_backgrounds_brightness(garment: float, background: float) -> None:
    mask = silhouette((square_image(inside=garment, outside=background)[:, :1] + 1) / 2)[0, 0]
    assert mask[10:22, 10:22].all() and not mask[:5].any() and not mask[:, -5:].any()


def test_every_paired_source_is_one_channel_in_range() -> None:
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    for name in PAIRED_SOURCES.names():
        out = PAIRED_SOURCES.get(name)(images)
        assert out.shape == (2, 1, 32, 32) and out.min() >= -1 and out.max() <= 1, name


# --------------------------------------------------------------------------- data modes


def labelled_photos(n: int = 24, classes: int = 3, size: int = 16) -> ImageData:
    """Colour images whose red channel says their index and whose green channel says their class."""
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    labels = torch.arange(n) % classes
    images[:, 0] = torch.arange(n, dtype=torch.uint8).view(n, 1, 1) * 5
    images[:, 1] = (labels * 100).to(torch.uint8).view(n, 1, 1)
    return ImageData(images, labels, [f"class{i}" for i in range(classes)], "folder:synthetic", "train", title="synthetic")


def test_paired_batches_hold_the_photo_and_its_transform() -> None:
    data = labelled_photos()
    mode = make_mode("paired", {"source": "grayscale"})
    batch = mode_stream(mode, data, None, batch_size=8, seed=0)(0)
    assert set(batch) == {"source", "target", "labels"}
    assert batch["source"].shape == (8, 1, 16, 16) and batch["target"].shape == (8, 3, 16, 16)
    assert torch.equal(batch["source"], grayscale(batch["target"]))
    assert mode.model_settings(data) == {"in_channels": 1, "channels": 3, "source": "grayscale"}


def test_a_paired_flip_or_shift_moves_the_photo_and_its_source_together() -> None:
    data, mode = labelled_photos(), make_mode("paired", {"source": "grayscale"})
    plain = mode_stream(mode, data, None, batch_size=16, seed=3)(1)
    flipped = mode_stream(mode, data, None, batch_size=16, seed=3, hflip=True)(1)
    moved = [i for i in range(16) if not torch.equal(plain["target"][i], flipped["target"][i])]
    assert moved  # some examples were flipped ...
    for i in moved:  # ... photo and source alike
        assert torch.equal(flipped["target"][i], plain["target"][i].flip(-1))
        assert torch.equal(flipped["source"][i], plain["source"][i].flip(-1))
    shifted = mode_stream(mode, data, None, batch_size=16, seed=3, hflip=True, shift=3)(1)
    assert torch.allclose(shifted["source"], grayscale(shifted["target"]), atol=1e-6)


def test_unpaired_batches_draw_each_domain_from_its_own_class_with_its_own_order() -> None:
    data = labelled_photos(n=60)
    mode = make_mode("unpaired", {"domains": ["class0", "class2"]})
    stream = mode_stream(mode, data, None, batch_size=5, seed=0)
    batch = stream(0)
    assert set(batch) == {"A", "B"} and batch["A"].shape == batch["B"].shape == (5, 3, 16, 16)
    def green(images):
        return ((images[:, 1, 0, 0] + 1) * 127.5).round()

    assert (green(batch["A"]) == 0).all() and (green(batch["B"]) == 200).all()
    # shuffled apart: the positions of A's and B's images in their domains do not follow one permutation
    a_order = [torch.unique(((stream(s)["A"][:, 0, 0, 0] + 1) * 127.5).round() // 5 // 3) for s in range(4)]
    b_order = [torch.unique(((stream(s)["B"][:, 0, 0, 0] + 1) * 127.5).round() // 5 // 3) for s in range(4)]
    assert any(not torch.equal(a, b) for a, b in zip(a_order, b_order))
    assert all(torch.equal(stream(2)[k], stream(2)[k]) for k in ("A", "B"))  # by step: reproducible
    assert mode.model_settings(data)["domains"] == ["class0", "class2"]


def test_an_unpaired_domain_may_be_a_dataset_of_its_own() -> None:
    data, other = labelled_photos(n=30), labelled_photos(n=12, classes=1)
    asked = []

    def load(name: str) -> ImageData:
        asked.append(name)
        return other

    batch = mode_stream(make_mode("unpaired", {"domains": ["class1", "folder:/photos/pants"]}), data, load, batch_size=4, seed=0)(0)
    assert asked == ["folder:/photos/pants"]
    green = ((batch["A"][:, 1, 0, 0] + 1) * 127.5).round()
    assert (green == 100).all() and (((batch["B"][:, 1, 0, 0] + 1) * 127.5).round() == 0).all()


def test_modes_refuse_data_they_cannot_use() -> None:
    with pytest.raises(UserError, match="neither a class"):
        mode_stream(make_mode("unpaired", {"domains": ["class0", "jackets"]}), labelled_photos(), None, batch_size=2, seed=0)
    with pytest.raises(UserError, match="two different domains"):
        make_mode("unpaired", {"domains": ["class0"]})
    with pytest.raises(UserError, match="unknown paired source"):
        make_mode("paired", {"source": "sketch"})
    with pytest.raises(UserError, match="does not read"):
        make_mode("domains", {"source": "edges"})
    single = labelled_photos(classes=1)
    with pytest.raises(UserError, match="at least two classes"):
        make_mode("domains").check(single, conditional=True)
    gray = ImageData(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.long), [], "folder:x", "train", title="x")
    with pytest.raises(UserError, match="colour photos"):
        make_mode("paired").check(gray, conditional=False)


def test_a_translator_refuses_the_single_mode_and_a_generator_the_paired_one() -> None:
    from core.train import resolve_config

    with pytest.raises(UserError, match="trains on paired data"):
        resolve_config("pix2pix-edges2clothing-64", "smoke", {"data_mode": "single"})
    with pytest.raises(UserError, match="trains on single data"):
        resolve_config("dcgan-clothing-64", "smoke", {"data_mode": "paired"})


# --------------------------------------------------------------------------- networks


def test_the_unet_skip_connections_carry_input_detail_to_the_output() -> None:
    torch.manual_seed(0)
    unet = UNet(1, 3, 32, width=4, max_width=8, norm="none", dropout=0.0).eval()
    with torch.no_grad():  # cut the bottleneck: whatever still reaches the output goes through the skips
        unet.down[-1][0].weight.zero_()
        unet.down[-1][0].bias.zero_()
    x = torch.zeros(1, 1, 32, 32)
    dotted = x.clone()
    dotted[..., 5, 20] = 1.0
    with torch.no_grad():
        change = (unet(dotted) - unet(x)).abs().sum(1)[0]
    assert change.max() > 1e-4
    row, col = divmod(int(change.argmax()), 32)
    assert abs(row - 5) <= 3 and abs(col - 20) <= 3  # the detail stays where it was


def test_the_patchgan_maps_every_70px_patch_to_one_score() -> None:
    assert patch_receptive_field() == 70
    discriminator = PatchDiscriminator(3, width=4, max_width=8, norm="none")
    for size in (64, 128, 256):
        assert discriminator(torch.zeros(1, 3, size, size)).shape == (1, 1, patch_output_size(size), patch_output_size(size))
    assert [patch_output_size(s) for s in (64, 128, 256)] == [6, 14, 30]
    # one output's gradient reaches exactly a 70 px window of the input (less at the padded border)
    x = torch.randn(1, 3, 256, 256, requires_grad=True)
    discriminator(x)[0, 0, 15, 15].backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1)).sum(1))
    assert 60 < int(rows.max() - rows.min()) + 1 <= 70


# --------------------------------------------------------------------------- the pipeline


@pytest.fixture
def tiny_translator(tmp_path):
    """A tiny random pix2pix (edges -> photo), exported."""
    spec = MODELS.get("pix2pix")
    torch.manual_seed(0)
    net = spec.build(spec.make_config(image_size=64, in_channels=1, channels=3, source="edges", width=4, max_width=8))["translator"]
    return save_model(net, tmp_path / "p2p", family="pix2pix")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_pipeline_takes_odd_uploads_as_the_data_were_made(tiny_translator) -> None:
    pipe = TranslatorPipeline.from_pretrained(tiny_translator, device="cpu")
    assert (pipe.mode, pipe.input_transform, pipe.targets, pipe.style_dim) == ("paired", "edges", [], 0)
    odd = [
        png_bytes(Image.new("RGBA", (90, 40), (255, 0, 0, 0))),  # fully transparent: white
        Image.new("L", (50, 80), 128),
        Image.fromarray(np.full((20, 30), 40000, np.uint16)),  # 16-bit grayscale
        Image.new("RGB", (1, 1), (0, 0, 255)),  # tiny
        np.random.default_rng(0).random((70, 70)),  # floats in [0, 1]
        np.zeros((33, 65, 4), np.uint8),
    ]
    photos = pipe.photos(odd)
    assert photos.shape == (6, 64, 64, 3) and photos.dtype == np.uint8
    assert (photos[0] == 255).all() and (photos[1] == 128).all() and (photos[3] == (0, 0, 255)).all()
    out = pipe.translate(odd)
    assert out.shape == (6, 64, 64, 3) and out.dtype == np.uint8
    assert pipe.model_input(odd).shape == (6, 64, 64, 1)
    # the photo's shorter side is resized and the centre square kept, like the training photos
    wide = np.zeros((64, 192, 3), np.uint8)
    wide[:, 64:128] = 200
    assert (pipe.photos(wide)[0] == 200).all()


@pytest.mark.parametrize("upload, message", [
    (b"", "empty"),
    (b"not an image at all", "could not read"),
    (png_bytes(Image.new("RGB", (64, 64)))[:60], "could not read"),  # truncated
    (Image.new("1", (8000, 6000)), "too large"),
    (np.zeros((0, 5)), "shape"),
    (np.full((4, 4), np.nan), "finite"),
])
def test_bad_uploads_are_one_line_errors(tiny_translator, upload, message) -> None:
    pipe = TranslatorPipeline.from_pretrained(tiny_translator, device="cpu")
    with pytest.raises(UserError, match=message):
        pipe.translate(upload)


def test_targets_are_checked_against_what_the_model_translates_to(tiny_translator, tmp_path) -> None:
    pipe = TranslatorPipeline.from_pretrained(tiny_translator, device="cpu")
    with pytest.raises(UserError, match="takes no target"):
        pipe.translate(np.zeros((8, 8, 3), np.uint8), target="dress")
    with pytest.raises(UserError, match="not a generator"):
        from core.inference import GeneratorPipeline

        GeneratorPipeline.from_pretrained(tiny_translator)
    with pytest.raises(UserError, match="several styles need a MUNIT"):
        pipe.variations(np.zeros((8, 8, 3), np.uint8), 3)


# --------------------------------------------------------------------------- export and CLI


def test_a_translator_run_exports_what_its_family_declares_and_translates_from_the_cli(real_data_env, tmp_path) -> None:
    from core.cli import main
    from core.hub import export_run
    from core.train import resolve_config, train

    run = tmp_path / "run"
    train(resolve_config("colorize-clothing-64", "smoke", {"steps": 2}), run, progress=False)
    assert (run / "translator" / "model.safetensors").is_file() and not (run / "generator").exists()
    out = export_run(run, "colorize-tiny", tmp_path / "pretrained")
    card = (out / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in card and "not Lab chroma" in card and "--recipe colorize-clothing-64" in card
    config = json.loads((out / "config.json").read_text())
    assert (config["family"], config["source"], config["in_channels"], config["channels"]) == ("pix2pix", "grayscale", 1, 3)

    photo = tmp_path / "photo.png"
    Image.new("RGB", (100, 80), (10, 200, 30)).save(photo)
    assert main(["translate", "--model", str(out), "--input", str(photo), str(photo), "--show-input", "--out",
                 str(tmp_path / "grid.png")]) == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[0] > grid.shape[1] / 3  # two rows of (photo, grayscale, result)
    assert main(["translate", "--model", str(out), "--input", str(tmp_path / "missing.jpg")]) != 0


def test_export_refuses_a_folder_that_is_not_a_run(tmp_path) -> None:
    from core.hub import export_run

    (tmp_path / "config.json").write_text(json.dumps({"model": "no-such-family"}))
    with pytest.raises(UserError, match="names no known model family"):
        export_run(tmp_path, "x", tmp_path / "out")
