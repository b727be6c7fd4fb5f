"""Garment colours, the attributes data mode, Fader networks and their pipeline, benchmark rows and errors."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks import translation
from core.data.attributes import COLOR_NAMES, NAMED_COLORS, garment_colors, garment_mask, photo_colors, rgb_to_lab
from core.data.base import ImageData
from core.data.modes import make_mode
from core.errors import UserError
from core.hub import save_model
from core.inference import TranslatorPipeline
from core.models import MODELS
from core.models.fader import FaderConfig, FaderTranslator, LatentDiscriminator, attribute_code, split_logits
from core.objectives.fader import FaderObjective, latent_weight
from core.results import read_rows

CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"]


def garment(colour: tuple[int, int, int], background: tuple[int, int, int], size: int = 64) -> torch.Tensor:
    """uint8 [3, size, size]: a centred rectangle of `colour` (a garment) on `background`."""
    image = torch.tensor(background, dtype=torch.uint8).view(3, 1, 1).repeat(1, size, size)
    image[:, size // 4 : 3 * size // 4, size // 3 : 2 * size // 3] = torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1)
    return image


# ---------------------------------------------------------------------- colours


def test_lab_of_known_colours() -> None:
    lab = rgb_to_lab(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert torch.allclose(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05)
    assert torch.allclose(lab[1], torch.zeros(3), atol=1e-3)
    assert torch.allclose(lab[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.05)  # sRGB red in CIELAB (D65)


@pytest.mark.parametrize(("colour", "background", "name"), [
    ((190, 30, 40), (235, 235, 230), "red"),   # a red garment on a light floor
    ((35, 45, 85), (230, 230, 225), "navy"),
    ((240, 240, 236), (40, 40, 40), "white"),  # light on dark: the mask takes the other side
    ((60, 130, 70), (200, 190, 160), "green"),
])
def test_a_garment_is_named_by_its_own_pixels_not_its_background(colour, background, name) -> None:
    images = torch.stack([garment(colour, background)])
    assert COLOR_NAMES[int(garment_colors(images)[0])] == name
    floats = images.float() / 127.5 - 1  # training batches are floats in [-1, 1]: the same answer
    assert COLOR_NAMES[int(garment_colors(floats)[0])] == name


def test_the_mask_is_the_garment_and_falls_back_to_the_centre() -> None:
    mask = garment_mask(torch.stack([garment((190, 30, 40), (235, 235, 230), size=32)]))[0]  # read at 32 px at most
    assert mask.shape == (32, 32) and mask[12, 16] and not mask[2, 2] and not mask[16, 8]  # the garment, not the floor
    flat = garment_mask(torch.full((1, 3, 32, 32), 120, dtype=torch.uint8))[0]  # nothing to split: the central box
    assert flat[16, 16] and not flat[2, 2] and 0.3 < flat.float().mean() < 0.4


def test_colours_against_a_part_of_the_palette_and_bad_inputs() -> None:
    images = torch.stack([garment((185, 35, 45), (235, 235, 230)), garment((40, 90, 200), (235, 235, 230))])
    assert garment_colors(images, ["blue", "red"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="at least two different names"):
        garment_colors(images, ["red", "mauve"])
    with pytest.raises(UserError, match=r"RGB images \[B, 3, H, W\]"):
        garment_colors(images[:, :1])


def test_photo_colors_are_cached_by_the_pixels(fgl_cache: Path) -> None:
    images = torch.stack([garment((185, 35, 45), (235, 235, 230)), garment((35, 45, 85), (230, 230, 225))])
    data = ImageData(images, torch.tensor([0, 1]), ["a", "b"], "folder:x", "train")
    first = photo_colors(data)
    assert [COLOR_NAMES[i] for i in first] == ["red", "navy"]
    files = list(fgl_cache.rglob("colors-*.safetensors"))
    assert len(files) == 1
    assert torch.equal(photo_colors(data), first) and list(fgl_cache.rglob("colors-*.safetensors")) == files
    photo_colors(ImageData(images.flip(0), torch.tensor([1, 0]), ["a", "b"], "folder:x", "train"))
    assert len(list(fgl_cache.rglob("colors-*.safetensors"))) == 2  # other pixels, another table


# ---------------------------------------------------------------------- the data mode


def test_the_attributes_mode_adds_the_colours_and_checks_its_data() -> None:
    mode = make_mode("attributes")
    images = torch.stack([garment((185, 35, 45), (235, 235, 230))]).float() / 127.5 - 1
    batch = mode.examples(images, torch.tensor([3]))
    assert set(batch) == {"images", "labels", "colors"} and COLOR_NAMES[int(batch["colors"][0])] == "red"
    gray = ImageData(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), ["a", "b"], "fashion-mnist", "train")
    with pytest.raises(UserError, match="colour photos"):
        mode.check(gray, conditional=True)
    colour = ImageData(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.long), ["a"], "folder:x", "train",
                       title="folder x")
    with pytest.raises(UserError, match="class attribute needs labelled data"):
        mode.check(colour, conditional=False)
    make_mode("attributes", {"attributes": ["color"]}).check(colour, conditional=False)  # colour alone needs no classes
    assert mode.model_settings(colour)["color_names"] == COLOR_NAMES
    with pytest.raises(UserError, match="some of class, color"):
        make_mode("attributes", {"attributes": ["size"]})


# ---------------------------------------------------------------------- the model


def tiny(**values) -> FaderConfig:
    settings = {"image_size": 32, "width": 8, "max_width": 16, "num_classes": 3, "class_names": ["dress", "hat", "pants"],
                "color_names": ["black", "white", "red"], "hidden": 16, **values}
    return MODELS.get("fader").make_config(**settings)


def test_the_code_and_the_logits_follow_the_groups() -> None:
    config = tiny()
    assert config.code_dim == 6 and config.targets == ["dress", "hat", "pants"] and config.mode == "attributes"
    code = attribute_code(config, {"class": torch.tensor([2]), "color": torch.tensor([[0.25, 0.0, 0.75]])})
    assert code.tolist() == [[0.0, 0.0, 1.0, 0.25, 0.0, 0.75]]
    parts = split_logits(config, torch.arange(6.0).view(1, 6))
    assert parts["class"].tolist() == [[0, 1, 2]] and parts["color"].tolist() == [[3, 4, 5]]
    only = tiny(attributes=["color"], num_classes=0, class_names=[])
    assert only.code_dim == 3 and only.targets == ["black", "white", "red"]


@pytest.mark.parametrize(("values", "message"), [
    ({"latent_size": 3}, "latent_size must be image_size"),
    ({"latent_size": 16}, "latent_size must be image_size"),
    ({"num_classes": 0, "class_names": []}, "class attribute needs labelled data"),
    ({"color_names": ["red", "mauve"]}, "color names must be"),
    ({"attributes": ["class", "class"]}, "attributes must be some of"),
    ({"source": "edges", "in_channels": 1}, "source and domains must be empty"),
])
def test_bad_configs_are_one_line_errors(values, message) -> None:
    with pytest.raises(UserError, match=message):
        tiny(**values)


def test_the_decoder_reads_the_code() -> None:
    torch.manual_seed(0)
    model = FaderTranslator(tiny()).eval()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    a = model(images, attribute_code(model.config, {"class": torch.tensor([0, 0]), "color": torch.tensor([0, 0])}))
    b = model(images, attribute_code(model.config, {"class": torch.tensor([0, 0]), "color": torch.tensor([2, 2])}))
    assert a.shape == images.shape and not torch.allclose(a, b)
    with pytest.raises(ValueError, match=r"code must be \[2, 6\]"):
        model(images, torch.zeros(2, 5))


def test_the_latent_discriminator_and_the_encoder_pull_the_right_ways() -> None:
    """On a toy attribute (dark or light images), the latent discriminator learns to read it from the latent (its
    loss falls), and the encoder, trained against it alone, makes it unreadable (the discriminator's loss rises and
    the encoder's own term falls)."""
    torch.manual_seed(0)
    config = tiny(attributes=["color"], num_classes=0, class_names=[], color_names=["black", "white"], dropout=0.0)
    translator, discriminator = FaderTranslator(config), LatentDiscriminator(config)
    run = SimpleNamespace(options={"rec_weight": 0.0, "latent_weight": 1.0, "latent_ramp": 0})
    objective = FaderObjective({"translator": translator, "latent_discriminator": discriminator}, run)
    colors = torch.arange(32) % 2
    images = torch.where(colors.view(-1, 1, 1, 1) == 1, 0.8, -0.8) + 0.1 * torch.randn(32, 3, 32, 32)
    batch = {"images": images, "labels": torch.zeros(32, dtype=torch.long), "colors": colors}

    d_opt = torch.optim.Adam(discriminator.parameters(), 1e-3)
    losses = []
    for _ in range(40):
        loss, logs = objective.loss("D", batch)
        d_opt.zero_grad(), loss.backward(), d_opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0] and float(logs["d_acc_color"]) == 1.0

    discriminator.eval()  # now the encoder plays alone against this discriminator
    e_opt = torch.optim.Adam(translator.parameters(), 1e-3)
    before, _ = objective.loss("D", batch)
    fooled = []
    for _ in range(40):
        loss, logs = objective.loss("G", batch)
        e_opt.zero_grad(), loss.backward(), e_opt.step()
        fooled.append(float(logs["loss_e"]))
    after, _ = objective.loss("D", batch)
    assert fooled[-1] < 0.5 * fooled[0] and float(after.detach()) > 2 * float(before.detach())


def test_lambda_ramps_linearly() -> None:
    options = FaderObjective.Options(latent_weight=0.01, latent_ramp=100)
    assert [latent_weight(options, s) for s in (0, 50, 100, 400)] == [0.0, 0.005, 0.01, 0.01]
    assert latent_weight(FaderObjective.Options(latent_weight=0.01, latent_ramp=0), 0) == 0.01


# ---------------------------------------------------------------------- the pipeline


@pytest.fixture
def fader_pipe(tmp_path: Path) -> TranslatorPipeline:
    torch.manual_seed(0)
    config = tiny(image_size=64, num_classes=10, class_names=CLASSES, color_names=list(COLOR_NAMES))
    return TranslatorPipeline.from_pretrained(save_model(FaderTranslator(config), tmp_path / "fader-tiny", family="fader"),
                                              device="cpu")


def test_edits_slide_between_the_own_and_the_target_values(fader_pipe: TranslatorPipeline) -> None:
    photo = garment((185, 35, 45), (235, 235, 230)).permute(1, 2, 0).numpy()
    assert [n for n, _ in fader_pipe.attributes] == ["class", "color"]
    own = fader_pipe.edit(photo, classes="dress")
    unchanged = fader_pipe.edit(photo, classes="dress", color_to="blue", color_strength=0.0)
    blue = fader_pipe.edit(photo, classes="dress", color_to="blue")
    assert own.dtype == np.uint8 and own.shape == (1, 64, 64, 3)
    assert np.array_equal(own, unchanged) and not np.array_equal(own, blue)
    # setting the class outright needs no own class; translate() is that with the colour kept
    assert np.array_equal(fader_pipe.edit(photo, class_to="hat"), fader_pipe.translate(photo, target="hat"))
    x = fader_pipe.input_tensor(fader_pipe.photos(photo))
    halfway = fader_pipe.attribute_code(x, {"class": torch.tensor([0])}, {"color": torch.tensor([4])}, {"color": 0.5})
    red, blue_id = COLOR_NAMES.index("red"), COLOR_NAMES.index("blue")
    assert halfway[0, 10 + red] == 0.5 and halfway[0, 10 + blue_id] == 0.5 and halfway[0, 0] == 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"color_to": "red"}, "say which class the photo is"),
    ({"classes": "dress", "color_to": "mauve"}, "unknown color 'mauve'"),
    ({"classes": "coat"}, "unknown class 'coat'"),
    ({"class_to": "hat", "class_strength": 3}, "class_strength must be a number from 0 to 2"),
    ({"classes": ["dress", "hat"]}, "got 2 class values for 1 images"),
])
def test_edit_mistakes_are_one_line_errors(fader_pipe: TranslatorPipeline, kwargs, message) -> None:
    photo = np.zeros((40, 30, 3), np.uint8)
    with pytest.raises(UserError, match=message):
        fader_pipe.edit(photo, **kwargs)


def test_other_translators_do_not_edit(tmp_path: Path) -> None:
    spec = MODELS.get("stargan")
    network = spec.build(spec.make_config(image_size=64, width=4, max_width=8, num_classes=3, class_names=["a", "b", "c"],
                                          blocks=1))[spec.exported]
    pipe = TranslatorPipeline.from_pretrained(save_model(network, tmp_path / "stargan-tiny", family="stargan"), device="cpu")
    assert pipe.attributes == []
    with pytest.raises(UserError, match="not an attribute editor"):
        pipe.edit(np.zeros((8, 8, 3), np.uint8), color_to="red")


# ---------------------------------------------------------------------- the benchmark


def test_the_translation_benchmark_measures_edits_and_reconstruction(fader_pipe: TranslatorPipeline, data_root: Path,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ROOT", str(data_root))
    monkeypatch.setenv("FGL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "translation.jsonl"
    code = translation.main(["--models", fader_pipe.source, "--limit", "10", "--reference-split", "test",
                             "--reference-limit", "20", "--kid-subsets", "5", "--device", "cpu", "--out", str(out)])
    rows = read_rows(out)
    assert code == 0 and all(r["error"] is None and math.isfinite(r["value"]) for r in rows)
    got = {(r["model"], r["params"]["direction"], r["metric"]): r["value"] for r in rows}
    assert {r["params"]["task"] for r in rows} == {"clothing-attributes"}
    for direction in ("photo->other class", "photo->other colour"):
        for model in ("fader-tiny", "identity-clothing-attributes"):
            assert 0 <= got[model, direction, "target_accuracy"] <= 1 and got[model, direction, "fid"] > 0
        assert got["fader-tiny", direction, "cycle_l1"] > 0
    assert got["identity-clothing-attributes", "photo->other colour", "target_accuracy"] == 0  # never the target
    for direction in ("photo->other class (strength 2)", "photo->other colour (strength 2)"):  # the slider pushed on
        assert 0 <= got["fader-tiny", direction, "target_accuracy"] <= 1 and got["fader-tiny", direction, "cycle_l1"] > 0
        assert ("identity-clothing-attributes", direction, "fid") not in got
    assert got["fader-tiny", "reconstruction", "l1"] > 0 and 0 <= got["fader-tiny", "reconstruction", "ssim"] <= 1
    assert ("identity-clothing-attributes", "reconstruction", "l1") not in got
    assert NAMED_COLORS  # the palette the colours were judged against
