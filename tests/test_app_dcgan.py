"""The DCGAN Space: core.demo helpers, and the Gradio app served on localhost and called via gradio_client."""

from __future__ import annotations

import importlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import demo as lab
from core.errors import UserError
from core.hub import save_model
from core.models import DCGANConfig, DCGANGenerator

PAD = 2  # core.images.make_grid's default padding


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny untrained models: 28 px grayscale with classes a/b/c, 64 px RGB with classes x/y."""
    root = tmp_path_factory.mktemp("models")
    gray = DCGANConfig(image_size=28, channels=1, z_dim=8, num_classes=3, width=8, class_names=["a", "b", "c"])
    rgb = DCGANConfig(image_size=64, channels=3, z_dim=8, num_classes=2, width=8, class_names=["x", "y"])
    save_model(DCGANGenerator(gray), root / "dcgan-gray")
    save_model(DCGANGenerator(rgb), root / "dcgan-rgb")
    return root


@pytest.fixture
def models(models_root: Path) -> dict[str, str]:
    return {"dcgan-gray": str(models_root / "dcgan-gray"), "dcgan-rgb": str(models_root / "dcgan-rgb")}



def grid_size(n: int, nrow: int, image_size: int, scale: int) -> tuple[int, int]:
    """(width, height) of a padded grid of n images, nrow per row, enlarged by scale."""
    rows = math.ceil(n / nrow)
    return ((nrow * (image_size + PAD) + PAD) * scale, (rows * (image_size + PAD) + PAD) * scale)


# ---------------------------------------------------------------- MODEL_SOURCE


def test_model_source_unset_lists_models_root(models_root: Path, tmp_path: Path) -> None:
    found = lab.available_models({}, root=models_root, source_file=tmp_path / "absent.txt")
    assert found == {"dcgan-gray": str(models_root / "dcgan-gray"), "dcgan-rgb": str(models_root / "dcgan-rgb")}
    assert lab.available_models({}, root=tmp_path / "empty", source_file=tmp_path / "absent.txt") == {}


def test_model_source_unset_uses_baked_list(models_root: Path, tmp_path: Path) -> None:
    baked = tmp_path / "model_source.txt"
    baked.write_text("you/dcgan-a,you/dcgan-b\n")
    assert lab.available_models({}, root=models_root, source_file=baked) == {
        "you/dcgan-a": "you/dcgan-a",
        "you/dcgan-b": "you/dcgan-b",
    }
    # the environment variable wins over the baked list
    assert list(lab.available_models({"MODEL_SOURCE": str(models_root)}, source_file=baked)) == [
        "dcgan-gray",
        "dcgan-rgb",
    ]


def test_model_source_directory(models_root: Path, tmp_path: Path) -> None:
    found = lab.available_models({"MODEL_SOURCE": str(models_root)}, root=tmp_path, source_file=tmp_path / "absent.txt")
    assert found == {"dcgan-gray": str(models_root / "dcgan-gray"), "dcgan-rgb": str(models_root / "dcgan-rgb")}


def test_model_source_comma_list(models_root: Path, tmp_path: Path) -> None:
    spec = f"{models_root / 'dcgan-rgb'} , you/dcgan-fashion-mnist,"
    found = lab.available_models({"MODEL_SOURCE": spec}, source_file=tmp_path / "absent.txt")
    assert found == {"dcgan-rgb": str(models_root / "dcgan-rgb"), "you/dcgan-fashion-mnist": "you/dcgan-fashion-mnist"}
    # a single model folder is that model, not a folder of models
    single = lab.available_models(
        {"MODEL_SOURCE": str(models_root / "dcgan-gray")}, source_file=tmp_path / "absent.txt"
    )
    assert single == {"dcgan-gray": str(models_root / "dcgan-gray")}


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("name", "n", "choice", "nrow", "size", "scale", "mode"),
    [
        ("dcgan-gray", 1, lab.ALL_CLASSES, 1, 28, 4, "L"),
        ("dcgan-gray", 5, lab.ALL_CLASSES, 3, 28, 4, "L"),  # all classes: one class per column
        ("dcgan-gray", 5, "b", 3, 28, 4, "L"),  # one class: square-ish grid
        ("dcgan-gray", 16, "c", 4, 28, 4, "L"),
        ("dcgan-rgb", 3, lab.ALL_CLASSES, 2, 64, 2, "RGB"),
    ],
)
def test_sample_grid_size(
    models: dict, name: str, n: int, choice: str, nrow: int, size: int, scale: int, mode: str
) -> None:
    image = lab.sample_grid(models[name], n, 0, choice)
    assert image.size == grid_size(n, nrow, size, scale)
    assert image.mode == mode
    assert lab.sample_grid(models[name], n, 0, choice, scale=1).size == grid_size(n, nrow, size, 1)


def test_seed_determines_images(models: dict) -> None:
    first = np.asarray(lab.sample_grid(models["dcgan-rgb"], 4, 7))
    again = np.asarray(lab.sample_grid(models["dcgan-rgb"], 4, 7.0))  # UI numbers arrive as floats
    other = np.asarray(lab.sample_grid(models["dcgan-rgb"], 4, 8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_class_changes_images(models: dict) -> None:
    a = np.asarray(lab.sample_grid(models["dcgan-gray"], 4, 0, "a"))
    b = np.asarray(lab.sample_grid(models["dcgan-gray"], 4, 0, "B"))  # names are case-insensitive
    assert not np.array_equal(a, b)


def test_interpolation_strip(models: dict) -> None:
    strip = lab.interpolation_strip(models["dcgan-gray"], 0, 1, 8, "b")
    assert strip.size == grid_size(8, 8, 28, 4)  # one row
    assert np.array_equal(np.asarray(strip), np.asarray(lab.interpolation_strip(models["dcgan-gray"], 0, 1, 8, "b")))
    assert not np.array_equal(
        np.asarray(strip), np.asarray(lab.interpolation_strip(models["dcgan-gray"], 0, 2, 8, "b"))
    )


def test_class_choices_follow_model(models: dict) -> None:
    assert lab.class_choices(models["dcgan-gray"]) == ["a", "b", "c"]
    assert lab.class_choices(models["dcgan-rgb"]) == ["x", "y"]


def test_describe(models: dict, tmp_path: Path) -> None:
    assert lab.describe(models["dcgan-gray"]) == "**dcgan-gray**: 28×28 px grayscale, 3 classes, latent size 8."
    assert "64×64 px RGB, 2 classes" in lab.describe(models["dcgan-rgb"])
    # an exported model also says what it was trained on (export_run writes training.json)
    exported = tmp_path / "dcgan-exported"
    shutil.copytree(models["dcgan-gray"], exported)
    (exported / "training.json").write_text(json.dumps({"summary": {"data": "Fashion-MNIST train", "steps": 5000}}))
    assert lab.describe(str(exported)).endswith("latent size 8. Trained on Fashion-MNIST train for 5,000 steps.")


# ---------------------------------------------------------------- user mistakes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_choice": "x"}, "unknown class 'x'; known: a, b, c"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"seed": 1.5}, "seed must be a whole number from 0"),
        ({"seed": None}, "seed must be a whole number, got None"),
        ({"n": 0}, "number of images must be a whole number from 1 to 64"),
        ({"n": 65}, "number of images must be a whole number from 1 to 64"),
    ],
)
def test_bad_input_is_user_error(models: dict, kwargs: dict, message: str) -> None:
    args = {"source": models["dcgan-gray"], "n": 4, "seed": 0, "class_choice": lab.ALL_CLASSES, **kwargs}
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(")):
        lab.sample_grid(**args)


def test_unloadable_model_is_one_line(models_root: Path, tmp_path: Path) -> None:
    broken = tmp_path / "dcgan-broken"
    broken.mkdir()
    (broken / "config.json").write_text((models_root / "dcgan-gray" / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    for source in (str(broken), str(tmp_path / "missing")):
        with pytest.raises(UserError) as err:
            lab.sample_grid(source, 1, 0)
        assert "\n" not in str(err.value) and repr(source) in str(err.value)


def test_unknown_model_label(models: dict) -> None:
    assert lab.pick(models, "dcgan-rgb") == models["dcgan-rgb"]
    with pytest.raises(UserError, match="unknown model 'nope'; choose one of: dcgan-gray, dcgan-rgb"):
        lab.pick(models, "nope")
    with pytest.raises(UserError, match="No models found"):
        lab.pick({}, None)


def test_app_turns_user_error_into_gr_error(offline: None) -> None:
    import gradio as gr

    # the wrapper every Space puts around its event handlers
    def fails(seed: int) -> None:
        raise UserError(f"bad seed {seed}")

    with pytest.raises(gr.Error, match="bad seed 3"):
        lab.friendly(fails)(3)


# ---------------------------------------------------------------- the served Space



def test_space_over_http(offline: None, models: dict, tmp_path: Path, free_port: int) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    app = importlib.import_module("apps.dcgan.app")
    demo = app.build_demo(models)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path), analytics_enabled=False)
        path = client.predict("dcgan-gray", lab.ALL_CLASSES, 3, 5, api_name="/generate")
        with Image.open(path) as served:
            assert served.size == grid_size(5, 3, 28, 4)
            assert np.array_equal(np.asarray(served), np.asarray(lab.sample_grid(models["dcgan-gray"], 5, 3)))

        # a class of the second model, without the UI's model-change event having run
        path = client.predict("dcgan-rgb", "y", 0, 2, api_name="/generate")
        with Image.open(path) as served:
            assert served.size == grid_size(2, 2, 64, 2)

        path = client.predict("dcgan-gray", "c", 0, 1, 6, api_name="/interpolate")
        with Image.open(path) as served:
            assert served.size == grid_size(6, 6, 28, 4)

        with pytest.raises(AppError, match="unknown class 'y'; known: a, b, c"):
            client.predict("dcgan-gray", "y", 0, 4, api_name="/generate")
        # hostile API inputs: each a one-line message, never Gradio's opaque error, nothing rounded
        for seed, message in ((1.5, "seed must be a whole number from 0 to"), ("abc", "seed must be a whole number"),
                              (None, "seed must be a whole number"), ("NaN", "seed must be a whole number"),
                              (-1, "seed must be a whole number from 0 to"), (2**64, "seed must be a whole number")):
            with pytest.raises(AppError, match=message):
                client.predict("dcgan-gray", lab.ALL_CLASSES, seed, 4, api_name="/generate")
        with pytest.raises(AppError, match="a latent walk keeps one class: pick one of a, b, c"):
            client.predict("dcgan-gray", lab.ALL_CLASSES, 0, 1, 6, api_name="/interpolate")
        assert client.predict("dcgan-gray", lab.ALL_CLASSES, 3.0, 2, api_name="/generate")  # 3.0 is seed 3
    finally:
        demo.close()


def test_the_space_starts_with_the_models_that_load_and_names_the_others(models: dict, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """One damaged folder or unreachable Hub id among good models once stopped the Space at start-up."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    broken = {}
    for name, text in (("bad-json", "{x"), ("a-list", "[]")):
        shutil.copytree(models["dcgan-gray"], tmp_path / name)
        (tmp_path / name / "config.json").write_text(text)
        broken[name] = str(tmp_path / name)
    shutil.copytree(models["dcgan-gray"], tmp_path / "bad-training")
    (tmp_path / "bad-training" / "training.json").write_text("{oops")  # the model still loads; its caption says less
    app = importlib.import_module("apps.dcgan.app")
    sources = {**broken, "someone/unreachable": "someone/unreachable", "bad-training": str(tmp_path / "bad-training"),
               **models}
    demo = app.build_demo(sources)
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "Model")
    assert [choice[0] for choice in dropdown.choices] == ["bad-training", *models]
    note = next(b.value for b in demo.blocks.values() if isinstance(b.value, str) and "Not loaded" in b.value)
    assert all(f"`{name}`" in note for name in (*broken, "someone/unreachable"))
    assert "not valid JSON" in note and "must hold a JSON object" in note and "Hub could not provide it" in note
    # and from a folder of models (MODEL_SOURCE), where a broken config once stopped the listing itself
    monkeypatch.setenv("MODEL_SOURCE", str(tmp_path))
    with pytest.warns(UserWarning, match="skipped bad-json"):
        listed = lab.available_models()
    assert "bad-json" not in listed and "bad-training" in listed
