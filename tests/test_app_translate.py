"""The image-to-image Space: core.demos.translate (models, uploads, one translation, gallery) and the Gradio app."""

from __future__ import annotations

import importlib
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demos import translate as lab
from core.errors import UserError
from core.hub import save_model
from core.inference import TranslatorPipeline
from core.models import MODELS

SHIPPED_EXAMPLES = Path(__file__).resolve().parent.parent / "apps" / "translate" / "examples" / "clothing-test.png"
CLASSES = ["dress", "hat", "pants"]
DOMAINS = ["t-shirt", "longsleeve"]
SCALE = 4  # 64 px shown at 256


def export(folder: Path, family: str, **config) -> str:
    """A tiny untrained translator of `family`, exported as `core export` writes it (random weights, seed 0)."""
    import torch

    spec = MODELS.get(family)
    torch.manual_seed(0)
    save_model(spec.build(spec.make_config(image_size=64, width=4, max_width=8, **config))[spec.exported], folder,
               family=family)
    return str(folder)


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny paired translators (edges, grayscale, an L1 baseline) and a StarGAN, as a folder of exported models."""
    root = tmp_path_factory.mktemp("translators")
    export(root / "unet-l1-edges-tiny", "unet-l1", in_channels=1, source="edges")
    export(root / "pix2pix-edges-tiny", "pix2pix", in_channels=1, source="edges")
    export(root / "colorize-tiny", "pix2pix", in_channels=1, source="grayscale")
    export(root / "stargan-tiny", "stargan", num_classes=3, class_names=CLASSES, blocks=1)
    return root


@pytest.fixture
def models(models_root: Path) -> dict[str, str]:
    return {p.name: str(p) for p in sorted(models_root.iterdir())}


def unpaired(tmp_path: Path, family: str, **config) -> str:
    """A tiny unpaired translator t-shirt <-> longsleeve; skipped while its family is not part of core.models."""
    pytest.importorskip(f"core.models.{family}", reason=f"the {family} family is not in core.models yet")
    if family not in MODELS:
        pytest.skip(f"the {family} family is not registered")
    return export(tmp_path / f"{family}-tiny", family, domains=DOMAINS, blocks=1, **config)


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def with_size(png: bytes, width: int, height: int) -> bytes:
    """The PNG with another size in its header (and a valid CRC): a huge image in a few bytes."""
    data = bytearray(png)
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def garment(height: int, width: int) -> np.ndarray:
    """uint8 [height, width, 3]: a blue tall rectangle on near-white, a fair garment photo."""
    image = np.full((height, width, 3), 245, np.uint8)
    image[height // 5 : 4 * height // 5, width // 4 : 3 * width // 4] = (30, 60, 190)
    return image


def pixels(image: Image.Image) -> np.ndarray:
    """A shown image back at the model's size (every SCALE-th pixel of the nearest-neighbour enlargement)."""
    return np.asarray(image)[::SCALE, ::SCALE]


# ---------------------------------------------------------------- models and controls


def test_available_translators_lists_translators_shipped_first_baselines_last(
    models_root: Path, tiny_generator_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "pretrained"
    for name, tiny in [("unet-l1-edges2clothing-64", "unet-l1-edges-tiny"), ("stargan-clothing-64", "stargan-tiny"),
                       ("pix2pix-edges2clothing-64", "pix2pix-edges-tiny"), ("aaa-own-translator", "colorize-tiny")]:
        shutil.copytree(models_root / tiny, root / name)
    shutil.copytree(tiny_generator_dir, root / "dcgan-tiny")  # a generator: not offered
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    found = lab.available_translators({}, root, source_file=tmp_path / "none.txt")
    assert list(found) == ["pix2pix-edges2clothing-64", "stargan-clothing-64", "aaa-own-translator",
                           "unet-l1-edges2clothing-64"]
    assert found["stargan-clothing-64"] == str(root / "stargan-clothing-64")
    hub = lab.available_translators({"MODEL_SOURCE": "you/unet-l1-edges2clothing-64, you/colorize-clothing-64"})
    assert list(hub) == ["you/colorize-clothing-64", "you/unet-l1-edges2clothing-64"]  # Hub ids: checked when loaded


def test_controls_and_captions_follow_the_model(models: dict) -> None:
    paired = lab.controls(models["pix2pix-edges-tiny"])
    assert paired.targets == [] and paired.target is None and not paired.styles
    assert paired.preview == "What the model sees: the edges"
    assert lab.controls(models["colorize-tiny"]).preview == "What the model sees: the grayscale"
    star = lab.controls(models["stargan-tiny"])
    assert [value for _, value in star.targets] == [lab.EVERY_CLASS, *CLASSES] and star.target == lab.EVERY_CLASS
    assert star.target_label == "Target class" and star.preview is None and not star.styles and star.outputs == 3
    assert paired.outputs == 1
    assert lab.describe(models["pix2pix-edges-tiny"]) == (
        "**pix2pix-edges-tiny**: pix2pix (Isola et al. 2017); paired: the edges of a photo → the photo; 64×64 px."
    )
    assert "U-Net (L1 only)" in lab.describe(models["unet-l1-edges-tiny"])
    assert "3 classes as domains (dress, hat, pants)" in lab.describe(models["stargan-tiny"])


@pytest.mark.parametrize(("family", "config"), [("cyclegan", {}), ("munit", {"style_dim": 2, "mlp_dim": 8, "scales": 1})])
def test_unpaired_controls_and_outputs(tmp_path: Path, family: str, config: dict) -> None:
    source = unpaired(tmp_path, family, **config)
    chosen = lab.controls(source)
    assert chosen.targets == [("t-shirt → longsleeve", "longsleeve"), ("longsleeve → t-shirt", "t-shirt")]
    assert chosen.target == "longsleeve" and chosen.target_label == "Direction" and chosen.preview is None
    assert chosen.styles is (family == "munit") and chosen.outputs == (lab.DEFAULT_STYLES if family == "munit" else 1)
    photo = garment(80, 60)
    result = lab.translate(source, photo, "t-shirt", seed=3, styles=3)
    assert result.model_input is None and "longsleeve → t-shirt" in result.summary
    if family == "munit":
        assert [caption for _, caption in result.outputs] == ["style 1", "style 2", "style 3"]
        assert "3 styles drawn from seed 3" in result.summary
        again = lab.translate(source, photo, "t-shirt", seed=3, styles=3).outputs
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (a, _), (b, _) in zip(result.outputs, again, strict=True))
        other = lab.translate(source, photo, "t-shirt", seed=4, styles=3).outputs
        assert not np.array_equal(np.asarray(other[0][0]), np.asarray(result.outputs[0][0]))
    else:
        assert [caption for _, caption in result.outputs] == ["t-shirt"]
    with pytest.raises(UserError, match="not a multi-class model"):
        lab.translate(source, photo, lab.EVERY_CLASS)


# ---------------------------------------------------------------- translations


def test_paired_translation_shows_the_models_pixels(models: dict) -> None:
    source = models["pix2pix-edges-tiny"]
    pipe = TranslatorPipeline.from_pretrained(source)
    upload = garment(300, 200)
    result = lab.translate(source, lab.prepare_upload(upload))
    assert result.photo.size == result.model_input.size == result.outputs[0][0].size == (256, 256)
    assert np.array_equal(pixels(result.photo), pipe.photos(upload)[0])
    assert np.array_equal(pixels(result.model_input), pipe.model_input(upload)[0, ..., 0])
    assert np.array_equal(pixels(result.outputs[0][0]), pipe.translate(upload)[0])
    assert result.outputs[0][1] == "photo" and "from the photo's edges" in result.summary
    assert result.model_input.mode == "L" and pixels(result.model_input).max() > 0  # the rectangle's edges


def test_colorize_a_grayscale_upload(models: dict) -> None:
    gray = Image.fromarray(garment(120, 90)).convert("L")
    result = lab.translate(models["colorize-tiny"], lab.prepare_upload(encode(gray)))
    assert result.photo.mode == "RGB" and result.outputs[0][0].mode == "RGB"
    photo = np.asarray(result.photo).astype(int)
    assert np.abs(photo[..., 0] - photo[..., 2]).max() <= 1  # a grayscale upload stays grey
    assert np.abs(pixels(result.model_input).astype(int) - pixels(result.photo)[..., 0]).max() <= 1
    assert "colorized" in result.summary


def test_stargan_targets(models: dict) -> None:
    source = models["stargan-tiny"]
    photo = garment(64, 64)
    every = lab.translate(source, photo, lab.EVERY_CLASS)
    assert [caption for _, caption in every.outputs] == CLASSES and every.model_input is None
    one = lab.translate(source, photo, "HAT")
    assert [caption for _, caption in one.outputs] == ["hat"] and "as *hat*" in one.summary
    assert np.array_equal(np.asarray(one.outputs[0][0]), np.asarray(every.outputs[1][0]))
    with pytest.raises(UserError, match="unknown target 'coat'; stargan-tiny translates to: dress, hat, pants"):
        lab.translate(source, photo, "coat")
    with pytest.raises(UserError, match="choose a target"):
        lab.translate(source, photo, "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"styles": 0}, "number of styles must be a whole number from 1 to 8"),
        ({"styles": 2.5}, "number of styles must be a whole number"),
        ({"target": "hat"}, "takes no target"),
        ({"image": None}, "pick an example photo or upload one first"),
    ],
)
def test_bad_translation_input_is_one_line_user_error(models: dict, kwargs: dict, message: str) -> None:
    call = {"image": garment(64, 64), "target": None, "seed": 0, "styles": 4, **kwargs}
    with pytest.raises(UserError, match=message) as raised:
        lab.translate(models["pix2pix-edges-tiny"], **call)
    assert "\n" not in str(raised.value)


def test_unloadable_model_is_one_line(tmp_path: Path, tiny_generator_dir: Path) -> None:
    with pytest.raises(UserError, match="is a generator, not a translator") as raised:
        lab.describe(str(tiny_generator_dir))
    assert "\n" not in str(raised.value)
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "config.json").write_text('{"family": "pix2pix", "in_channels": 1, "source": "edges"}')
    with pytest.raises(UserError, match="could not load model"):
        lab.controls(str(tmp_path / "torn"))


# ---------------------------------------------------------------- uploads


def rgba() -> Image.Image:
    image = Image.fromarray(garment(90, 60)).convert("RGBA")
    alpha = np.zeros((90, 60), np.uint8)
    alpha[20:70, 15:45] = 255
    image.putalpha(Image.fromarray(alpha))
    return image


ODD_UPLOADS = {
    "rgba": lambda: encode(rgba()),
    "grayscale": lambda: encode(Image.fromarray(garment(90, 60)).convert("L")),
    "palette with transparency": lambda: encode(rgba().convert("P")),
    "16-bit": lambda: encode(Image.fromarray((np.arange(90 * 60).reshape(90, 60) * 12).astype(np.uint16))),
    "cmyk jpeg": lambda: encode(Image.fromarray(garment(90, 60)).convert("CMYK"), "JPEG"),
    "huge but allowed": lambda: encode(Image.fromarray(garment(2400, 3200)), "JPEG", quality=80),
    "tiny 1x1": lambda: encode(Image.new("RGB", (1, 1), (200, 30, 30))),
    "one pixel tall": lambda: encode(Image.new("RGB", (300, 1), (30, 200, 30))),
    "webp": lambda: encode(Image.fromarray(garment(90, 60)), "WEBP"),
}


@pytest.mark.parametrize("kind", list(ODD_UPLOADS))
def test_odd_uploads_are_translated(models: dict, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "upload.img"
    path.write_bytes(ODD_UPLOADS[kind]())
    photo = lab.prepare_upload(str(path))
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    assert photo.shape[0] == photo.shape[1] <= lab.WORK_SIDE
    result = lab.translate(models["pix2pix-edges-tiny"], photo)
    assert result.photo.size == result.outputs[0][0].size == (256, 256)


def test_transparency_is_composited_on_white() -> None:
    photo = lab.prepare_upload(rgba())
    assert (photo[0, 0] == 255).all() and (photo[photo.shape[0] // 2, photo.shape[1] // 2] == (30, 60, 190)).all()


def test_exif_rotation_is_applied() -> None:
    upright = Image.fromarray(garment(120, 40))  # tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    stored = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif.tobytes())
    photo = lab.prepare_upload(stored)
    assert photo.shape[:2] == (40, 40)  # the centre square of the upright 120 x 40 photo
    assert (photo[20, 20].astype(int) - (30, 60, 190) < 40).all()  # the garment, not the background


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "could not read 'upload.png' as an image: the file is empty"),
        (b"\x89PNG\r\n\x1a\n not really", r"could not read 'upload.png' as an image \(is it a PNG"),
        (b"<html>definitely not a PNG</html>", r"could not read 'upload.png' as an image \(is it a PNG"),
        (None, "could not read 'upload.png' as an image: no such file"),
    ],
)
def test_unreadable_uploads(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "upload.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as raised:
        lab.prepare_upload(str(path))
    assert "\n" not in str(raised.value)


def test_truncated_huge_and_missing_uploads() -> None:
    png = encode(Image.fromarray(garment(90, 60)))
    with pytest.raises(UserError, match="corrupt data"):
        lab.prepare_upload(png[: len(png) // 2])
    with pytest.raises(UserError, match="too large"):
        lab.prepare_upload(with_size(png, 100_000, 100_000))  # refused from the header, never decoded
    for nothing in (None, "", b""):
        with pytest.raises(UserError, match="no file was uploaded|it is empty"):
            lab.prepare_upload(nothing)
    with pytest.raises(UserError, match="an image array must be"):
        lab.prepare_upload(np.zeros((4, 4, 2), np.uint8))


# ---------------------------------------------------------------- the gallery


def test_shipped_examples() -> None:
    examples = lab.example_images(SHIPPED_EXAMPLES)
    assert len(examples) == 30 and [e.class_name for e in examples[:4]] == ["dress"] * 3 + ["hat"]
    assert {e.image.shape for e in examples} == {(64, 64, 3)}
    assert "test split: the first 3 photos of each class" in lab.examples_source(SHIPPED_EXAMPLES)
    thumbnail, caption = lab.gallery_items(examples)[0]
    assert thumbnail.shape == (128, 128, 3) and caption == "dress"
    assert lab.example_at(examples, 29).class_name == "t-shirt"
    with pytest.raises(UserError, match="example must be a whole number from 0 to 29"):
        lab.example_at(examples, 30)


def test_make_examples_matches_the_test_split(real_data_env: Path, tmp_path: Path) -> None:
    out = lab.make_examples(tmp_path / "examples.png", per_class=1)
    with Image.open(SHIPPED_EXAMPLES) as shipped:
        meta = json.loads(shipped.text[lab.EXAMPLES_KEY])
    made = lab.example_images(out)
    assert len(made) == 10
    # the first photo of each class, as the shipped file (made with 3 per class) holds it
    for row, example in enumerate(made):
        assert np.array_equal(example.image, lab.example_images(SHIPPED_EXAMPLES)[3 * row].image)
    assert [row[0] for row in meta["indices"]] == [row[0] for row in json.loads(Image.open(out).text[lab.EXAMPLES_KEY])["indices"]]


def test_missing_or_foreign_examples_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="the example photos are missing"):
        lab.example_images(tmp_path / "none.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "plain.png")
    with pytest.raises(UserError, match="is not an examples sprite"):
        lab.example_images(tmp_path / "plain.png")


# ---------------------------------------------------------------- the Space



def handler(demo, api_name: str):
    """The function an event with `api_name` runs (the app's handlers are closures in build_demo)."""
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


def test_build_demo_and_its_handlers(offline: None, tmp_path: Path) -> None:
    import gradio as gr

    app = importlib.import_module("apps.translate.app")
    demo = app.build_demo()  # models from MODEL_SOURCE
    assert isinstance(demo, gr.Blocks)
    api = demo.get_api_info()["named_endpoints"]
    assert set(api) == {"/translate", "/upload", "/example", "/model_info"}
    assert [p["parameter_name"] for p in api["/translate"]["parameters"]] == ["model", "target", "seed", "styles"]
    dropdown = next(b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Translator")
    assert [value for _, value in dropdown.choices] == ["colorize-tiny", "pix2pix-edges-tiny", "stargan-tiny",
                                                        "unet-l1-edges-tiny"]

    image = lab.example_images(app.EXAMPLES_FILE)[27].image  # a t-shirt
    photo, preview, results, summary = handler(demo, "translate")("stargan-tiny", image, lab.EVERY_CLASS, 0, 4)
    assert np.array_equal(pixels(photo), image) and preview is None
    assert [caption for _, caption in results] == CLASSES and "each of its 3 classes" in summary
    _, preview, results, _ = handler(demo, "translate")("colorize-tiny", image, None, 0, 4)
    assert preview.size == (256, 256) and len(results) == 1

    caption, target, seed, styles, preview, gallery = handler(demo, "model_info")("stargan-tiny")
    assert caption.startswith("**stargan-tiny**: StarGAN")
    assert target.visible and target.value == lab.EVERY_CLASS and target.label == "Target class"
    assert not seed.visible and not styles.visible and not preview.visible and gallery.columns == 3
    _, target, _, _, preview, gallery = handler(demo, "model_info")("pix2pix-edges-tiny")
    assert not target.visible and target.choices == [] and target.value is None
    assert preview.visible and preview.label == "What the model sees: the edges" and gallery.columns == 2

    path = tmp_path / "photo.jpg"
    Image.fromarray(garment(300, 200)).save(path)
    uploaded, emptied = handler(demo, "upload")(str(path))
    assert uploaded.shape == (200, 200, 3) and emptied is None
    picked, cleared_file = handler(demo, "example")(3)
    assert np.array_equal(picked, lab.example_images(app.EXAMPLES_FILE)[3].image) and cleared_file is None
    choose = next(fn.fn for fn in demo.fns.values() if fn.name == "choose_example")
    assert np.array_equal(choose(gr.SelectData(None, {"index": 12, "value": None}))[0],
                          lab.example_images(app.EXAMPLES_FILE)[12].image)

    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(gr.Error, match="could not read 'notes.png' as an image"):
        handler(demo, "upload")(str(tmp_path / "notes.png"))
    with pytest.raises(gr.Error, match="no file was uploaded"):
        handler(demo, "upload")(None)
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handler(demo, "translate")("nope", image, None, 0, 4)
    with pytest.raises(gr.Error, match="example must be a whole number from 0 to 29"):
        handler(demo, "example")(99)


def test_space_without_models_or_examples_starts(offline: None, tmp_path: Path) -> None:
    import gradio as gr

    app = importlib.import_module("apps.translate.app")
    demo = app.build_demo({}, examples_path=tmp_path / "none.png")
    markdown = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    assert lab.NO_MODELS in markdown and any("the example photos are missing" in (text or "") for text in markdown)


def test_broken_model_is_named_and_the_others_load(offline: None, models: dict, tmp_path: Path) -> None:
    import gradio as gr

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"family": "stargan"}')
    app = importlib.import_module("apps.translate.app")
    demo = app.build_demo({"broken": str(tmp_path / "broken"), "stargan-tiny": models["stargan-tiny"]})
    markdown = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    assert any((text or "").startswith("**Not loaded:** `broken`") for text in markdown)
    assert any((text or "").startswith("**stargan-tiny**") for text in markdown)


def test_space_over_http(offline: None, models: dict, tmp_path: Path, free_port: int) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    app = importlib.import_module("apps.translate.app")
    demo = app.build_demo(models)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False)
        # the session starts on the first gallery photo, a dress
        photo, preview, results, summary = client.predict("pix2pix-edges-tiny", "", 0, 4, api_name="/translate")
        first = lab.example_images(app.EXAMPLES_FILE)[0].image
        with Image.open(photo) as served:
            assert np.array_equal(pixels(served), first)
        with Image.open(preview) as served:
            assert served.size == (256, 256)
        assert len(results) == 1 and results[0]["caption"] == "photo" and "edges" in summary

        # an upload replaces the session's photo
        path = tmp_path / "shirt.png"
        Image.fromarray(garment(160, 120)).save(path)
        client.predict(handle_file(str(path)), api_name="/upload")
        photo, _, results, summary = client.predict("stargan-tiny", "every class", 0, 4, api_name="/translate")
        with Image.open(photo) as served:
            assert tuple(pixels(served)[32, 32]) == (30, 60, 190)
        assert [item["caption"] for item in results] == CLASSES
        with Image.open(results[0]["image"]) as served:
            assert served.size == (256, 256)

        client.predict(5, api_name="/example")
        photo, *_ = client.predict("colorize-tiny", "", 0, 4, api_name="/translate")
        with Image.open(photo) as served:
            assert np.array_equal(pixels(served), lab.example_images(app.EXAMPLES_FILE)[5].image)

        caption, *_ = client.predict("stargan-tiny", api_name="/model_info")
        assert caption.startswith("**stargan-tiny**")

        bad = tmp_path / "not-an-image.png"
        bad.write_text("<html>definitely not a PNG</html>")
        with pytest.raises(AppError, match="could not read 'not-an-image.png' as an image"):
            client.predict(handle_file(str(bad)), api_name="/upload")
        with pytest.raises(AppError, match="unknown target 'coat'"):
            client.predict("stargan-tiny", "coat", 0, 4, api_name="/translate")
    finally:
        demo.close()


def test_built_space_runs_on_its_own(models: dict, tmp_path: Path, run_in_space) -> None:
    from apps import build_spaces

    space = build_spaces.APPS_DIR / "translate"
    shipped = tmp_path / "pretrained"
    for name in build_spaces.shipped_models(space):  # tiny stand-ins under the real names
        tiny = "stargan-tiny" if name.startswith("stargan") else "unet-l1-edges-tiny" if "unet" in name else (
            "colorize-tiny" if "colorize" in name else "pix2pix-edges-tiny")
        shutil.copytree(models[tiny], shipped / name)
    out = build_spaces.build_space(space, tmp_path / "dist", shipped)
    assert sorted(p.name for p in (out / "pretrained").iterdir()) == sorted(build_spaces.shipped_models(space))
    assert sorted(p.name for p in (out / "examples").iterdir()) == ["clothing-test.png"]
    assert (out / "core" / "demos" / "translate.py").is_file() and not (out / "space.toml").exists()
    assert not (out / "__init__.py").exists()
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert "gradio==6.31.0" in requirements and "torchvision==0.29.1" in requirements
    readme = (out / "README.md").read_text()
    assert "sdk: gradio\nsdk_version: 6.31.0" in readme and "app_file: app.py" in readme

    # model_info runs through Gradio's pre/postprocessing, as a change of the dropdown would; translate is called
    # directly (its photo is per-session state, which Blocks.__call__ does not take)
    script = (
        "import json, app, core\n"
        "from core.demos import translate as lab\n"
        "demo = app.build_demo()\n"
        "caption = demo('stargan-clothing-64', api_name='model_info')[0]\n"
        "translate = next(fn.fn for fn in demo.fns.values() if fn.api_name == 'translate')\n"
        "photo = lab.example_images(app.EXAMPLES_FILE)[0].image\n"
        "_, preview, results, summary = translate('colorize-clothing-64', photo, None, 0, 4)\n"
        "print(json.dumps({'core': core.__file__, 'models': list(lab.available_translators()), 'caption': caption,"
        " 'examples': str(app.EXAMPLES_FILE), 'preview': preview.size, 'results': len(results),"
        " 'summary': summary}))\n"
    )
    result = run_in_space(out, script)
    assert Path(result["core"]).resolve() == (out / "core" / "__init__.py").resolve()
    assert Path(result["examples"]).resolve() == (out / "examples" / "clothing-test.png").resolve()
    assert result["models"] == build_spaces.shipped_models(space)  # shipped order, baselines last
    assert result["caption"].startswith("**stargan-clothing-64**: StarGAN")
    assert result["preview"] == [256, 256] and result["results"] == 1 and "colorized" in result["summary"]
