"""The robustness Space: core.robustness.demo (uploads, one attack, curves, gallery) and the Gradio app."""

from __future__ import annotations

import importlib
import io
import math
import struct
import zlib
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from core.errors import UserError
from core.hub import save_model
from core.inference import ClassifierPipeline
from core.models import Classifier, ClassifierConfig
from core.results import Row, append_rows
from core.robustness import demo as lab

SHIPPED_EXAMPLES = Path(__file__).resolve().parent.parent / "apps" / "robustness" / "examples" / "fashion-mnist-test.png"


@pytest.fixture
def classifier(tiny_classifier_dir: Path) -> str:
    return str(tiny_classifier_dir)


@pytest.fixture
def offline(space_env: None, monkeypatch: pytest.MonkeyPatch, tiny_classifier_dir: Path) -> None:
    """`space_env`, showing the tiny classifier's folder."""
    monkeypatch.setenv("MODEL_SOURCE", str(tiny_classifier_dir.parent))


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def garment(height: int, width: int, background: int = 0, foreground: int = 255) -> np.ndarray:
    """uint8 [height, width]: a tall rectangle (half the height, a fifth of the width) in the middle."""
    image = np.full((height, width), background, np.uint8)
    image[height // 4 : height // 4 + height // 2, 2 * width // 5 : 3 * width // 5] = foreground
    return image


def with_size(png: bytes, width: int, height: int) -> bytes:
    """The PNG with another size in its header (and a valid CRC): a huge image in a few bytes."""
    data = bytearray(png)
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def check_tall_garment(out: np.ndarray) -> None:
    """A Fashion-MNIST-style rendering of `garment`: light on black, 28 px tall, narrow, centred."""
    assert out.shape == (28, 28) and out.dtype == np.uint8
    rows, cols = np.nonzero(out > 25)
    assert (rows.min(), rows.max()) == (0, 27)  # longest edge fills the frame, as in Fashion-MNIST
    assert cols.max() - cols.min() < 14 and abs((cols.min() + cols.max()) / 2 - 13.5) <= 1
    assert out.max() >= 240 and out[:, :4].max() == 0 and out[:, -4:].max() == 0  # background black


# ---------------------------------------------------------------- uploads


def test_plain_grayscale_upload(tmp_path: Path) -> None:
    path = tmp_path / "garment.png"
    Image.fromarray(garment(60, 50)).save(path)
    check_tall_garment(lab.load_upload(path))
    check_tall_garment(lab.load_upload(str(path)))
    check_tall_garment(lab.load_upload(path.read_bytes()))
    check_tall_garment(lab.load_upload(Image.fromarray(garment(60, 50))))


def test_product_photo_on_white_is_inverted() -> None:
    photo = np.stack([garment(90, 60, background=250, foreground=40)] * 3, axis=-1)  # dark garment on white, RGB
    out = lab.load_upload(encode(Image.fromarray(photo), "JPEG", quality=90))
    check_tall_garment(out)


def test_dark_background_is_not_inverted() -> None:
    out = lab.load_upload(encode(Image.fromarray(garment(90, 60, background=30, foreground=200))))
    check_tall_garment(out)  # grey background -> black, light garment -> white


def test_rgba_transparency_is_composited_on_white() -> None:
    rgba = np.zeros((80, 60, 4), np.uint8)  # fully transparent...
    rgba[20:60, 24:36] = (30, 30, 30, 255)  # ...but for an opaque dark garment
    check_tall_garment(lab.load_upload(encode(Image.fromarray(rgba, "RGBA"))))


def test_palette_with_transparency() -> None:
    palette = Image.new("P", (60, 80))
    palette.putpalette([255, 0, 0, 20, 20, 20] + [0] * 762)  # index 0: transparent red, 1: dark grey
    palette.putdata((garment(80, 60) > 0).astype(np.uint8).ravel().tolist())
    data = encode(palette, transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    check_tall_garment(lab.load_upload(data))


def test_16_bit_is_rescaled_not_clipped() -> None:
    deep = garment(80, 60).astype(np.uint16) * 200  # at most 51,000 of 65,535: clipping at 255 would flatten it
    data = encode(Image.fromarray(deep))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    check_tall_garment(lab.load_upload(data))


def test_cmyk_jpeg() -> None:
    cmyk = Image.fromarray(garment(80, 60, background=255, foreground=0)).convert("RGB").convert("CMYK")
    data = encode(cmyk, "JPEG")
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    check_tall_garment(lab.load_upload(data))


def test_exif_rotation_is_applied() -> None:
    wide = np.zeros((30, 80), np.uint8)
    wide[12:18, 5:75] = 255  # a horizontal bar...
    image = Image.fromarray(wide).convert("RGB")
    exif = image.getexif()
    exif[0x0112] = 6  # ...stored sideways: viewers rotate it 90 degrees, so it is upright
    out = lab.load_upload(encode(image, "JPEG", exif=exif.tobytes()))
    rows, cols = np.nonzero(out > 25)
    assert rows.max() - rows.min() > 20 and cols.max() - cols.min() < 8


def test_huge_but_allowed_upload() -> None:
    photo = Image.fromarray(garment(3000, 2000, background=245, foreground=60))
    check_tall_garment(lab.load_upload(encode(photo, "JPEG", quality=85)))


@pytest.mark.parametrize(("width", "height"), [(8000, 6000), (20000, 20000)])
def test_absurdly_huge_upload_is_refused_before_decoding(width: int, height: int) -> None:
    # 48 MP: our own check; 400 MP: PIL's decompression-bomb guard. Neither decodes any pixels.
    data = with_size(encode(Image.new("L", (4, 4))), width, height)
    with pytest.raises(UserError, match=r"too large.*at most 40 megapixels"):
        lab.load_upload(data)


def test_tiny_upload() -> None:
    tiny = np.zeros((3, 3), np.uint8)
    tiny[:, 1] = 200  # a 1-px-wide vertical stroke
    out = lab.load_upload(encode(Image.fromarray(tiny)))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    rows, cols = np.nonzero(out > 25)
    assert (rows.min(), rows.max()) == (0, 27) and cols.max() - cols.min() < 28 // 3 + 2


def test_fashion_mnist_images_pass_through_nearly_unchanged() -> None:
    """An image already in Fashion-MNIST's format stays as it is, up to a 1-px recentring; only objects
    less than 28 px long are enlarged (Fashion-MNIST's own rule: longest edge 28)."""
    unchanged = 0
    for image, _ in lab.example_images(SHIPPED_EXAMPLES):
        out = lab.load_upload(Image.fromarray(image))
        shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        unchanged += min(np.abs(np.roll(out, s, axis=(0, 1)).astype(int) - image).mean() for s in shifts) < 3
    assert unchanged >= 40


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "could not read 'upload.png' as an image: the file is empty"),
        (b"just some text, not an image\n", "could not read 'upload.png' as an image"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "could not read 'upload.png' as an image"),
        (None, "could not read 'upload.png' as an image"),  # a PNG cut off after its header
    ],
)
def test_unreadable_uploads(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is None:
        content = encode(Image.fromarray(garment(80, 60)))[:70]
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(")) as err:
        lab.load_upload(path)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="could not read"):
        lab.load_upload(content, name="upload.png")


def test_flat_or_missing_uploads(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="one flat colour"):
        lab.load_upload(encode(Image.new("RGB", (40, 40), (255, 255, 255))))
    with pytest.raises(UserError, match="no such file"):
        lab.load_upload(tmp_path / "missing.png")


# ---------------------------------------------------------------- one attack


@pytest.fixture(scope="module")
def examples() -> list[tuple[np.ndarray, str]]:
    return lab.example_images(SHIPPED_EXAMPLES)


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "noise"])
@pytest.mark.parametrize("use_mask", [False, True])
def test_attack_stays_within_epsilon(classifier: str, examples: list, attack: str, use_mask: bool) -> None:
    image, name = examples[12]
    epsilon = 0.1
    result = lab.attack_one(classifier, image, name, attack, epsilon, use_mask)
    delta = result.adversarial.astype(int) - result.original.astype(int)
    assert np.array_equal(result.original, image)
    assert result.adversarial.shape == (28, 28) and result.adversarial.dtype == np.uint8
    assert np.abs(delta).max() <= math.floor(epsilon * 255)  # L-inf in grey levels, after rounding
    assert np.count_nonzero(delta) > 100  # the attack did perturb
    if use_mask:
        assert result.mask is not None and result.mask.shape == (28, 28)
        assert np.array_equal(result.mask, image / 255 > 0.1)
        assert not delta[~result.mask].any()  # the background is untouched
    else:
        assert result.mask is None
    assert result.perturbation.shape == (28 * lab.DISPLAY_SCALE, 28 * lab.DISPLAY_SCALE, 3)
    assert result.perturbation.dtype == np.uint8
    for probs in (result.clean_probs, result.adv_probs):
        assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-5
    assert result.true_label == result.attacked_label == 2  # examples 10-14 are Pullovers
    # what is reported is what the model says about the images shown
    pipe = ClassifierPipeline.from_pretrained(classifier, device="cpu")
    np.testing.assert_allclose(result.clean_probs, pipe.predict_proba(image[None, :, :, None])[0], atol=1e-5)
    np.testing.assert_allclose(result.adv_probs, pipe.predict_proba(result.adversarial[None, :, :, None])[0], atol=1e-5)
    assert name in result.summary() and f"ε = {epsilon:g}" in result.summary()


def test_gradient_attacks_raise_the_loss(classifier: str, examples: list) -> None:
    image, name = examples[40]
    for attack in ("fgsm", "pgd"):
        result = lab.attack_one(classifier, image, name, attack, 0.3, False)
        label = result.attacked_label
        assert result.adv_probs[label] < result.clean_probs[label]


def test_epsilon_zero_changes_nothing(classifier: str, examples: list) -> None:
    image, name = examples[30]
    for attack in ("fgsm", "pgd", "noise"):
        result = lab.attack_one(classifier, image, name, attack, 0, True)
        assert np.array_equal(result.adversarial, image)
        np.testing.assert_array_equal(result.adv_probs, result.clean_probs)
        assert result.adv_pred == result.clean_pred and not result.flipped
        # an unchanged pixel is the colormap's middle (white-ish), everywhere
        middle = np.round(np.array(matplotlib.colormaps[lab.PERTURBATION_COLORMAP](0.5)[:3]) * 255)
        assert (result.perturbation == middle.astype(np.uint8)).all()
        assert "0 of 784 pixels changed" in result.summary()


def test_perturbation_colours_follow_the_sign(classifier: str) -> None:
    flat = np.full((28, 28), 128, np.uint8)  # mid-grey: no clipping at 0 or 255
    flat[8:20, 10:18] = 200
    result = lab.attack_one(classifier, flat, 0, "noise", 0.2, False)
    colormap = matplotlib.colormaps[lab.PERTURBATION_COLORMAP]
    small = result.perturbation[:: lab.DISPLAY_SCALE, :: lab.DISPLAY_SCALE].astype(int)  # [28, 28, 3]
    up = result.adversarial > result.original
    down = result.adversarial < result.original
    assert up.any() and down.any() and (up | down).all()  # noise moves every pixel by about +-epsilon
    red, blue = np.array(colormap(0.99)[:3]) * 255, np.array(colormap(0.01)[:3]) * 255
    assert np.abs(small[up] - red).max() < 12 and np.abs(small[down] - blue).max() < 12


def test_attack_is_seeded(classifier: str, examples: list) -> None:
    image, _ = examples[0]
    first = lab.attack_one(classifier, image, None, "noise", 0.1, False, seed=3)
    again = lab.attack_one(classifier, image, None, "noise", 0.1, False, seed=3.0)  # UI numbers arrive as floats
    other = lab.attack_one(classifier, image, None, "noise", 0.1, False, seed=4)
    assert np.array_equal(first.adversarial, again.adversarial)
    assert not np.array_equal(first.adversarial, other.adversarial)


def test_unknown_label_attacks_the_prediction(classifier: str, examples: list) -> None:
    image, _ = examples[45]
    for label in (None, "", "unknown", "Unknown"):
        result = lab.attack_one(classifier, image, label, "fgsm", 0.05, False)
        assert result.true_label is None and result.attacked_label == result.clean_pred
        assert "true class unknown" in result.summary()
    named = lab.attack_one(classifier, image, "ankle BOOT", "fgsm", 0.05, False)
    assert named.true_label == 9 == lab.attack_one(classifier, image, "9", "fgsm", 0.05, False).true_label


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "Hat"}, "unknown class 'Hat'; known: T-shirt/top, Trouser"),
        ({"label": 10}, "class id 10 is out of range 0..9"),
        ({"attack_name": "cw"}, "unknown attack 'cw'"),
        ({"epsilon": -0.1}, "epsilon must be in [0, 1]"),
        ({"epsilon": 1.5}, "epsilon must be in [0, 1]"),
        ({"epsilon": "lots"}, "epsilon must be a number"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"mask_threshold": 1}, "mask threshold must be in [0, 1)"),
        ({"image": np.zeros((32, 32), np.uint8)}, "expected a 28x28 grayscale image, got shape (32, 32)"),
        ({"image": np.zeros((28, 28), np.float32)}, "expected a uint8 image, got float32"),
    ],
)
def test_bad_attack_input_is_user_error(classifier: str, kwargs: dict, message: str) -> None:
    args = {
        "model_source": classifier,
        "image": garment(28, 28),
        "label": None,
        "attack_name": "pgd",
        "epsilon": 0.1,
        "use_mask": False,
        **kwargs,
    }
    with pytest.raises(UserError) as err:
        lab.attack_one(**args)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_models_the_space_cannot_attack(tiny_generator_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a generator, not a classifier"):
        lab.attack_one(str(tiny_generator_dir), garment(28, 28), None, "pgd", 0.1, False)
    rgb = save_model(Classifier(ClassifierConfig(arch="dense", image_size=64, channels=3)), tmp_path / "rgb-64")
    with pytest.raises(UserError, match="takes 64x64 RGB images; this Space attacks 28x28 grayscale"):
        lab.attack_one(str(rgb), garment(28, 28), None, "pgd", 0.1, False)
    with pytest.raises(UserError, match="not found"):
        lab.attack_one(str(tmp_path / "missing"), garment(28, 28), None, "pgd", 0.1, False)
    broken = tmp_path / "classifier-broken"
    broken.mkdir()
    (broken / "config.json").write_text((rgb / "config.json").read_text().replace('"image_size": 64', '"image_size": 28'))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match=f"^could not load model {str(broken)!r}: ") as err:
        lab.attack_one(str(broken), garment(28, 28), None, "pgd", 0.1, False)
    assert "\n" not in str(err.value)


def test_available_classifiers(tiny_classifier_dir: Path, tiny_generator_dir: Path, tmp_path: Path) -> None:
    root = tiny_classifier_dir.parent  # also holds dcgan-tiny
    save_model(Classifier(ClassifierConfig(arch="dense", image_size=64, channels=3)), root / "classifier-rgb-64")
    absent = tmp_path / "absent.txt"
    expected = {"classifier-tiny": str(tiny_classifier_dir)}
    assert lab.available_classifiers({"MODEL_SOURCE": str(root)}, source_file=absent) == expected
    assert lab.available_classifiers({}, root=root, source_file=absent) == expected
    listed = f"{tiny_classifier_dir},{root / 'classifier-rgb-64'},{tiny_generator_dir},you/classifier-x"
    assert lab.available_classifiers({"MODEL_SOURCE": listed}, source_file=absent) == {
        **expected,
        "you/classifier-x": "you/classifier-x",  # a Hub id is checked when loaded
    }
    assert lab.pick(expected, "classifier-tiny") == str(tiny_classifier_dir)
    with pytest.raises(UserError, match="No 28x28 grayscale classifiers found"):
        lab.pick({}, None)


def test_describe(classifier: str) -> None:
    assert lab.describe(classifier) == "**classifier-tiny**: cnn classifier of 28×28 grayscale images, 10 classes."


# ---------------------------------------------------------------- benchmark curves


def robustness_row(model: str, attack: str, mask: bool, epsilon: float, value: float | None, **extra) -> Row:
    return Row(
        "robustness", model, "fashion-mnist", "accuracy", value, "fraction", "cpu (2 threads)",
        {"attack": attack, "mask": mask, "epsilon": epsilon, "seed": 0, "n_images": 100},
        "Fashion-MNIST, test split, 4,443 of 10,000 images (a subset); first 100 images",
        error=None if value is not None else "RuntimeError: boom",
        **extra,
    )


def test_curve_for(tmp_path: Path) -> None:
    path = tmp_path / "robustness.jsonl"
    append_rows(
        [
            robustness_row("classifier-a", "pgd", False, 0.0, 0.5),  # superseded below
            robustness_row("classifier-a", "pgd", False, 0.1, 0.2),
            robustness_row("classifier-b", "pgd", False, 0.0, 0.99),  # another model
            robustness_row("classifier-a", "noise", True, 0.1, None),  # an error row
            Row("robustness", "classifier-a", "fashion-mnist", "curve_seconds", 3.0, "s", "cpu", {"attack": "pgd"}),
        ],
        path,
    )
    append_rows(
        [
            robustness_row("classifier-a", "pgd", False, 0.0, 0.9),
            robustness_row("classifier-a", "pgd", True, 0.1, 0.6),
            robustness_row("classifier-a", "pgd", True, 0.0, 0.9),
        ],
        path,
    )
    curve = lab.curve_for("classifier-a", path)
    assert list(curve.columns) == ["epsilon", "accuracy", "attack", "mask", "series"]
    assert curve.to_dict("records") == [
        {"epsilon": 0.0, "accuracy": 0.9, "attack": "pgd", "mask": False, "series": "pgd"},
        {"epsilon": 0.1, "accuracy": 0.2, "attack": "pgd", "mask": False, "series": "pgd"},
        {"epsilon": 0.0, "accuracy": 0.9, "attack": "pgd", "mask": True, "series": "pgd, garment only"},
        {"epsilon": 0.1, "accuracy": 0.6, "attack": "pgd", "mask": True, "series": "pgd, garment only"},
    ]
    assert "4,443 of 10,000 images" in curve.attrs["note"]
    # a model folder or Hub id finds its rows by name
    assert len(lab.curve_for("you/classifier-a", path)) == 4
    assert len(lab.curve_for(str(tmp_path / "classifier-b"), path)) == 1


def test_curve_for_without_results(tmp_path: Path) -> None:
    missing = lab.curve_for("classifier-a", tmp_path / "robustness.jsonl")
    assert missing.empty and list(missing.columns) == ["epsilon", "accuracy", "attack", "mask", "series"]
    assert "robustness.jsonl is missing" in missing.attrs["note"]
    path = append_rows([robustness_row("classifier-b", "pgd", False, 0.0, 0.9)], tmp_path / "robustness.jsonl")
    none = lab.curve_for("classifier-a", path)
    assert none.empty and "No robustness results for classifier-a" in none.attrs["note"]
    path.write_text("{not json\n")
    with pytest.warns(UserWarning, match="line 1: skipped"):  # a torn line is skipped, the others still count
        broken = lab.curve_for("classifier-a", path)
    assert broken.empty and "No robustness results for classifier-a" in broken.attrs["note"]


# ---------------------------------------------------------------- the gallery


def test_shipped_examples(examples: list) -> None:
    assert SHIPPED_EXAMPLES.stat().st_size < 200_000
    assert len(examples) == 50
    names = [name for _, name in examples]
    assert names[::5] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                          "Bag", "Ankle boot"]
    assert all(names[i] == names[i - i % 5] for i in range(50))  # five per class, class by class
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 for image, _ in examples)
    assert "Fashion-MNIST test split" in lab.examples_source(SHIPPED_EXAMPLES)


def test_make_examples_matches_the_test_split(real_data_env: Path, tmp_path: Path, examples: list) -> None:
    from core.data import load_dataset

    out = lab.make_examples(tmp_path / "examples.png", per_class=2)
    rebuilt = lab.example_images(out)
    test = load_dataset("fashion-mnist", "test")
    for image, name in rebuilt:
        label = test.class_names.index(name)
        assert any(np.array_equal(image, test.images[i, 0].numpy()) for i in np.flatnonzero(test.labels == label)[:2])
    # the shipped file is the same recipe with 5 per class: its first two per class are these
    shipped = [pair for i, pair in enumerate(examples) if i % 5 < 2]
    assert all(np.array_equal(a, b) and n == m for (a, n), (b, m) in zip(rebuilt, shipped, strict=True))


def test_missing_examples_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="the example images are missing"):
        lab.example_images(tmp_path / "none.png")


# ---------------------------------------------------------------- the app


def handler(demo, api_name: str):
    """The function an event with `api_name` runs (the app's handlers are closures in build_demo)."""
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


def test_build_demo_and_its_handlers(offline: None, classifier: str, tmp_path: Path) -> None:
    import gradio as gr

    app = importlib.import_module("apps.robustness.app")
    results = append_rows([robustness_row("classifier-tiny", "fgsm", False, 0.0, 0.1)], tmp_path / "r.jsonl")
    demo = app.build_demo(results_path=results)  # models from MODEL_SOURCE
    assert isinstance(demo, gr.Blocks)
    api = demo.get_api_info()["named_endpoints"]
    assert {"/attack", "/upload", "/model_info"} <= set(api)
    assert [p["parameter_name"] for p in api["/attack"]["parameters"]] == [
        "model", "true_class", "attack_name", "epsilon", "use_mask"
    ]

    image, name = lab.example_images(app.EXAMPLES_FILE)[7]
    original, perturbation, adversarial, clean, attacked, summary = handler(demo, "attack")(
        "classifier-tiny", image, name, "pgd", 0.1, True
    )
    assert original.size == adversarial.size == perturbation.size == (224, 224)
    assert np.array_equal(np.asarray(original)[::8, ::8], image)
    assert list(clean.columns) == list(attacked.columns) == ["class", "probability"]
    assert "PGD at ε = 0.1" in summary

    caption, dropdown, curve, _ = handler(demo, "model_info")("classifier-tiny")
    assert caption.startswith("**classifier-tiny**") and curve["accuracy"].tolist() == [0.1]
    assert ("unknown", "unknown") in dropdown.choices

    path = tmp_path / "photo.jpg"
    Image.fromarray(garment(120, 90, background=240, foreground=50)).convert("RGB").save(path)
    uploaded, true_class, preview = handler(demo, "upload")(str(path))
    check_tall_garment(uploaded)
    assert true_class == lab.UNKNOWN_CLASS and preview.size == (224, 224)

    with pytest.raises(gr.Error, match="could not read 'notes.png' as an image"):
        (tmp_path / "notes.png").write_text("hello")
        handler(demo, "upload")(str(tmp_path / "notes.png"))
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handler(demo, "attack")("nope", image, name, "pgd", 0.1, False)
    with pytest.raises(gr.Error, match="pick an example image or upload one first"):
        handler(demo, "attack")("classifier-tiny", None, name, "pgd", 0.1, False)

    choose = next(fn.fn for fn in demo.fns.values() if fn.name == "choose_example")
    picked, picked_class, _ = choose(gr.SelectData(None, {"index": 12, "value": None}))
    assert np.array_equal(picked, lab.example_images(app.EXAMPLES_FILE)[12][0])
    assert picked_class == "Pullover"



def test_space_over_http(offline: None, classifier: str, tmp_path: Path, free_port: int) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    app = importlib.import_module("apps.robustness.app")
    demo = app.build_demo({"classifier-tiny": classifier}, results_path=tmp_path / "none.jsonl")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False)
        # the session starts on the first gallery image, a T-shirt/top
        original, _, adversarial, clean, _, summary = client.predict(
            "classifier-tiny", "T-shirt/top", "noise", 0.2, False, api_name="/attack"
        )
        first = lab.example_images(app.EXAMPLES_FILE)[0][0]
        with Image.open(original) as served:
            assert np.array_equal(np.asarray(served)[::8, ::8], first)
        with Image.open(adversarial) as served:
            diff = np.asarray(served)[::8, ::8].astype(int) - first
            assert 0 < np.abs(diff).max() <= 51
        assert clean["columns"] == ["class", "probability"] and len(clean["data"]) == 10
        assert "NOISE at ε = 0.2" in summary

        # an upload replaces the session's image; its class is unknown
        path = tmp_path / "photo.png"
        Image.fromarray(garment(90, 60)).save(path)
        true_class, _ = client.predict(handle_file(str(path)), api_name="/upload")
        assert true_class == "unknown"
        original, *_, summary = client.predict("classifier-tiny", "unknown", "fgsm", 0.1, True, api_name="/attack")
        with Image.open(original) as served:
            check_tall_garment(np.asarray(served)[::8, ::8])
        assert "true class unknown" in summary

        caption, _, curve, note = client.predict("classifier-tiny", api_name="/model_info")
        assert caption.startswith("**classifier-tiny**") and curve["data"] == [] and "missing" in note

        with pytest.raises(AppError, match="unknown class 'Hat'"):
            client.predict("classifier-tiny", "Hat", "pgd", 0.1, False, api_name="/attack")
    finally:
        demo.close()
