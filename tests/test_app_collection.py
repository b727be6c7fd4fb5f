"""The classic-collection Space: core.demos.collection, and the Gradio app served on localhost and called via
gradio_client."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps import build_spaces
from core.demos import collection as lab
from core.demos.common import ALL_CLASSES, available_models
from core.errors import UserError
from core.hub import TIMELINE_DIR, save_model
from core.images import save_png
from core.models import COLLECTION, MODELS, DCGANConfig, DCGANGenerator
from core.results import Row, append_rows

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
CONDITIONAL = ("cgan", "acgan", "infogan")
TIMELINE_EPOCHS = (1, 10, 25, 50)
# A grid of 28 px images shown 4x, 2 px padding: 20 images of all classes are 10 columns (one per class) x 2 rows
ALL_CLASSES_GRID = ((10 * 30 + 2) * 4, (2 * 30 + 2) * 4)


def export_family(family: str, folder: Path, **extra) -> Path:
    """A tiny random-weight model of `family` (the infoGAN paper's nets, 32 wide, latent size 8)."""
    spec = MODELS.get(family)
    conditional = family in CONDITIONAL
    extra = {"bottleneck": 8, **extra} if family in ("began", "ebgan") else extra
    config = spec.make_config(image_size=28, channels=1, num_classes=10 if conditional else 0,
                              class_names=FASHION_CLASSES if conditional else [], arch="infogan", hidden=32,
                              generator_hidden=32, z_dim=8, **extra)
    return save_model(spec.build(config)[spec.exported], folder, family=family)


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every family as `<family>-fashion-mnist`; only GAN ships a timeline (grids of epochs 1, 10, 25, 50)."""
    root = tmp_path_factory.mktemp("collection-models")
    for family in COLLECTION:
        export_family(family, root / f"{family}-fashion-mnist")
    rng = np.random.default_rng(0)
    for epoch in TIMELINE_EPOCHS:
        pixels = rng.integers(0, 256, (62, 62, 1), dtype=np.uint8)
        save_png(pixels, root / "gan-fashion-mnist" / TIMELINE_DIR / f"epoch_{epoch:03d}.png")
    return root


@pytest.fixture(scope="session")
def models(models_root: Path) -> dict[str, str]:
    return available_models({"MODEL_SOURCE": str(models_root)}, family=None)


@pytest.fixture(scope="session")
def collection(models: dict[str, str]) -> lab.Collection:
    return lab.load_collection(models)


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Timeline FIDs of GAN's epochs 1, 10 and 25 (an older run says otherwise), final FIDs of GAN and CGAN."""
    folder = tmp_path_factory.mktemp("results")

    def row(benchmark: str, model: str, value: float, run: str, when: str, metric: str = "fid", **params) -> Row:
        return Row(benchmark, model, "fashion-mnist", metric, value, "", "cpu (2 threads)", params, run=run,
                   timestamp=f"2026-{when}T10:00:00+00:00")

    append_rows([row("timeline", "gan-fashion-mnist", 999.0, "old", "01-01", epoch=1, step=128)],
                folder / "timeline.jsonl")
    append_rows([row("timeline", "gan-fashion-mnist", fid, "new", "02-01", epoch=epoch, step=128 * epoch)
                 for epoch, fid in ((1, 150.0), (10, 40.5), (25, 12.25))], folder / "timeline.jsonl")
    append_rows([row("quality", "gan-fashion-mnist", 3.5, "q", "02-02", candidate="trained", role="model"),
                 row("quality", "gan-fashion-mnist", 0.01, "q", "02-02", metric="kid_mean", candidate="trained"),
                 row("quality", "cgan-fashion-mnist-untrained", 250.0, "q", "02-02", candidate="untrained"),
                 row("quality", "cgan-fashion-mnist", 4.25, "q", "02-02", candidate="trained", role="model")],
                folder / "quality.jsonl")
    return folder


@pytest.fixture(scope="session")
def scores(results_dir: Path) -> lab.Scores:
    return lab.read_scores(results_dir)


def pixels(items: list[tuple[Image.Image, str]]) -> list[np.ndarray]:
    return [np.asarray(image) for image, _ in items]


# ---------------------------------------------------------------- which models


def test_one_model_per_family_in_collection_order(models_root: Path, tmp_path: Path) -> None:
    for name in ("gan-fashion-mnist", "wgan-gp-fashion-mnist"):
        shutil.copytree(models_root / name, tmp_path / name)
    shutil.copytree(models_root / "gan-fashion-mnist", tmp_path / "gan-early")  # a second GAN, listed first
    save_model(DCGANGenerator(DCGANConfig(z_dim=8, width=8)), tmp_path / "dcgan-fashion-mnist")  # not in the collection
    models = available_models({"MODEL_SOURCE": str(tmp_path)}, family=None)
    assert list(models) == ["dcgan-fashion-mnist", "gan-early", "gan-fashion-mnist", "wgan-gp-fashion-mnist"]
    found = lab.candidates(models)
    assert list(found) == ["gan", "wgan-gp"]
    assert [label for label, _ in found["gan"]] == ["gan-fashion-mnist", "gan-early"]  # the preferred name first
    loaded = lab.load_collection(models)
    assert [(m.family, m.label) for m in loaded.members] == [("gan", "gan-fashion-mnist"),
                                                              ("wgan-gp", "wgan-gp-fashion-mnist")]
    assert loaded.missing == [f for f in COLLECTION if f not in ("gan", "wgan-gp")]
    assert "Showing 2 of 10 families: GAN, WGAN-GP." in lab.status(loaded)


def test_hub_ids_are_recognised_by_name() -> None:
    assert lab.family_of("you/wgan-gp-fashion-mnist", "you/wgan-gp-fashion-mnist") == "wgan-gp"
    assert lab.family_of("you/wgan-clothing", "you/wgan-clothing") == "wgan"
    assert lab.family_of("you/dcgan-fashion-mnist", "you/dcgan-fashion-mnist") is None


def test_every_family_loads(collection: lab.Collection) -> None:
    assert [m.family for m in collection.members] == list(COLLECTION)
    assert collection.failures == () and collection.missing == []
    assert collection.class_names == FASHION_CLASSES
    assert (collection.continuous_codes, collection.categorical_codes) == (2, 0)
    assert lab.status(collection).startswith("Showing 10 of 10 families: GAN, CGAN, ACGAN, infoGAN, WGAN, WGAN-GP")
    assert "Same seed, same z for all of them (latent size 8)." in lab.status(collection)
    assert "class label plays the categorical code" in lab.describe_codes(collection)


def test_broken_model_is_reported_and_the_others_load(models_root: Path, tmp_path: Path) -> None:
    for family in COLLECTION:
        shutil.copytree(models_root / f"{family}-fashion-mnist", tmp_path / f"{family}-fashion-mnist")
    (tmp_path / "lsgan-fashion-mnist" / "model.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "began-fashion-mnist" / "config.json").write_text("{not json")
    loaded = lab.load_collection(available_models({"MODEL_SOURCE": str(tmp_path)}, family=None))
    assert [m.family for m in loaded.members] == [f for f in COLLECTION if f not in ("lsgan", "began")]
    assert [family for family, _ in loaded.failures] == ["lsgan", "began"]
    assert all("\n" not in reason for _, reason in loaded.failures)
    text = lab.status(loaded)
    assert "Showing 8 of 10 families" in text and text.count("- did not load:") == 2
    assert "lsgan-fashion-mnist" in text and "began-fashion-mnist" in text and "no model for" not in text
    assert len(lab.side_by_side(loaded, 0, 4)) == 8


def test_no_models_says_how_to_get_them() -> None:
    empty = lab.load_collection({})
    assert lab.status(empty) == lab.NO_MODELS and "make train" in lab.NO_MODELS
    with pytest.raises(UserError, match="^No models of the classic collection found"):
        lab.side_by_side(empty, 0, 4)
    assert lab.class_choices(empty) == [] and lab.family_choices(empty) == []


# ---------------------------------------------------------------- side by side


def test_side_by_side_grids(collection: lab.Collection, scores: lab.Scores) -> None:
    items = lab.side_by_side(collection, 7, 20, ALL_CLASSES, scores=scores)
    assert [caption for _, caption in items][:3] == [
        "GAN · gan-fashion-mnist · FID 3.50",
        "CGAN · cgan-fashion-mnist · FID 4.25",
        "ACGAN · acgan-fashion-mnist",
    ]
    assert all(image.size == ALL_CLASSES_GRID and image.mode == "L" for image, _ in items)
    one_class = lab.side_by_side(collection, 7, 16, "Dress")
    assert all(image.size == ((4 * 30 + 2) * 4,) * 2 for image, _ in one_class)  # square: 4 x 4
    again = pixels(lab.side_by_side(collection, 7.0, "20", ALL_CLASSES))  # UI numbers arrive as floats or text
    other = pixels(lab.side_by_side(collection, 8, 20, ALL_CLASSES))
    assert all(np.array_equal(a, b) for a, b in zip(pixels(items), again))
    assert not any(np.array_equal(a, b) for a, b in zip(pixels(items), other))


def test_class_changes_only_conditional_models(collection: lab.Collection) -> None:
    dress = pixels(lab.side_by_side(collection, 0, 6, "Dress"))
    bag = pixels(lab.side_by_side(collection, 0, 6, "bag"))  # names are case-insensitive
    for member, a, b in zip(collection.members, dress, bag):
        assert np.array_equal(a, b) == (member.family not in CONDITIONAL), member.family


def test_codes_change_only_infogan(collection: lab.Collection) -> None:
    low = pixels(lab.side_by_side(collection, 0, 6, "Dress", codes=[-1.5, -1.5]))
    high = pixels(lab.side_by_side(collection, 0, 6, "Dress", codes=[1.5, 2]))
    drawn = pixels(lab.side_by_side(collection, 0, 6, "Dress"))
    for member, a, b, c in zip(collection.members, low, high, drawn):
        assert np.array_equal(a, b) == (member.family != "infogan"), member.family
        assert np.array_equal(a, c) == (member.family != "infogan"), member.family


def test_categorical_code_picker(tmp_path: Path) -> None:
    folder = export_family("infogan", tmp_path / "infogan-fashion-mnist", categorical_codes=3)
    loaded = lab.load_collection({"infogan-fashion-mnist": str(folder)})
    assert lab.categorical_choices(loaded) == [lab.DRAWN, "0", "1", "2"]
    assert "A categorical code with 3 values." in lab.describe_codes(loaded)
    assert lab.infogan_codes(loaded, [0.5, 0, "2"]) == {"continuous": [0.5, 0.0], "categorical": 2}
    assert lab.infogan_codes(loaded, [0.5, 0, lab.DRAWN]) == {"continuous": [0.5, 0.0]}
    assert lab.infogan_codes(loaded, []) is None  # everything drawn from the seed
    first, second = (np.asarray(lab.side_by_side(loaded, 0, 4, "Dress", [0, 0, value])[0][0]) for value in ("0", "1"))
    assert not np.array_equal(first, second)
    with pytest.raises(UserError, match="^the categorical code must be a whole number from 0 to 2, got '3'"):
        lab.side_by_side(loaded, 0, 4, "Dress", [0, 0, "3"])


def test_traversal(collection: lab.Collection) -> None:
    walk = lab.code_traversal(collection, 3, 5, "Coat", codes=[0.5, -0.5])
    assert walk.size == ((5 * 30 + 2) * 4, (2 * 30 + 2) * 4)  # a row of 5 per continuous code
    assert np.array_equal(np.asarray(walk), np.asarray(lab.code_traversal(collection, 3, 5, "Coat", [0.5, -0.5])))
    cells = np.asarray(walk)[8:120, 8:]  # the first row, without the outer padding
    first, last = cells[:, : 28 * 4], cells[:, 4 * 30 * 4 : 4 * 30 * 4 + 28 * 4]
    assert not np.array_equal(first, last)  # sweeping code 1 from -2 to 2 changes the image
    # the swept code's own value is replaced; the other code's is kept
    other_start = np.asarray(lab.code_traversal(collection, 3, 5, "Coat", [2, -0.5]))
    assert np.array_equal(np.asarray(walk)[: 31 * 4], other_start[: 31 * 4])


# ---------------------------------------------------------------- timelines and FIDs


def test_scores_from_newest_runs(scores: lab.Scores) -> None:
    assert scores.problem == ""
    assert dict(scores.timeline) == {"gan-fashion-mnist": {1: 150.0, 10: 40.5, 25: 12.25}}
    assert dict(scores.final) == {"gan-fashion-mnist": 3.5, "cgan-fashion-mnist": 4.25}


def test_timeline_with_fids(collection: lab.Collection, scores: lab.Scores) -> None:
    grids, note = lab.timeline(collection, "gan", scores)
    assert [caption for _, caption in grids] == ["epoch 1 · FID 150.00", "epoch 10 · FID 40.50",
                                                 "epoch 25 · FID 12.25", "epoch 50 · no FID yet"]
    assert all(image.size == (62, 62) for image, _ in grids)
    assert note == "**GAN** (`gan-fashion-mnist`): final FID 3.50 (quality benchmark)."


def test_missing_timeline_and_missing_results(collection: lab.Collection, scores: lab.Scores, tmp_path: Path) -> None:
    grids, note = lab.timeline(collection, "cgan", scores)
    assert grids == [] and "final FID 4.25" in note and "No training timeline ships with this model" in note
    empty = lab.read_scores(tmp_path)  # a results folder without rows
    assert empty.problem == "" and not empty.timeline and not empty.final
    grids, note = lab.timeline(collection, "gan", empty)
    assert len(grids) == 4 and "no final FID in the results yet" in note and "No timeline FIDs" in note


@pytest.mark.parametrize("source", ["relative/missing/folder", "quality.jsonl", "not a repo id", "you/no-such-results"])
def test_unreadable_results_are_one_line(collection: lab.Collection, source: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a Hub dataset id that is not cached: no download, one line
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "quality.jsonl").write_text("{}\n")
    scores = lab.read_scores(source)
    assert scores.problem.startswith("Cannot read results: ") and "\n" not in scores.problem
    assert scores.problem in lab.timeline(collection, "gan", scores)[1]


def test_a_torn_result_line_is_skipped_and_said_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = {"benchmark": "timeline", "model": "gan-fashion-mnist", "dataset": "fashion-mnist", "metric": "fid",
            "value": 3.5, "unit": "", "device": "cpu", "params": {"epoch": 1}, "data": "", "timestamp": "2026"}
    (tmp_path / "timeline.jsonl").write_text(json.dumps(good) + "\n" + '{"benchmark": "timel')  # a kill mid-append
    monkeypatch.setenv("RESULTS_SOURCE", str(tmp_path))
    with pytest.warns(UserWarning, match="line 2: skipped, not valid JSON"):
        scores = lab.read_scores()
    assert scores.timeline == {"gan-fashion-mnist": {1: 3.5}}  # the good row still counts
    assert scores.problem.startswith("Skipped 1 unreadable result line(s)") and "\n" not in scores.problem


def test_unreadable_timeline_grid_is_named(models_root: Path, tmp_path: Path, scores: lab.Scores) -> None:
    folder = shutil.copytree(models_root / "gan-fashion-mnist", tmp_path / "gan-fashion-mnist")
    (folder / TIMELINE_DIR / "epoch_010.png").write_bytes(b"not a png")
    grids, note = lab.timeline(lab.load_collection({"gan-fashion-mnist": str(folder)}), "gan", scores)
    assert [caption.split(" ·")[0] for _, caption in grids] == ["epoch 1", "epoch 25", "epoch 50"]
    assert "Could not read epoch_010.png." in note


# ---------------------------------------------------------------- user mistakes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"seed": None}, "seed must be a whole number, got None"),
        ({"n": 0}, "number of images must be a whole number from 1 to 40"),
        ({"n": 41}, "number of images must be a whole number from 1 to 40"),
        ({"class_choice": "Dragon"}, "unknown class 'Dragon'; known: T-shirt/top, Trouser"),
        ({"codes": [2.5, 0]}, "continuous code 1 must be a number from -2 to 2, got 2.5"),
        ({"codes": [0, "wide"]}, "continuous code 2 must be a number from -2 to 2, got 'wide'"),
        ({"codes": [0]}, "give all 2 continuous code values, got 1"),
        ({"codes": [0, 0, 1]}, r"got 3 code values, but the infoGAN here takes 2 continuous code\(s\)$"),
    ],
)
def test_bad_input_is_user_error(collection: lab.Collection, kwargs: dict, message: str) -> None:
    args = {"seed": 0, "n": 4, "class_choice": ALL_CLASSES, **kwargs}
    with pytest.raises(UserError, match="^" + message) as err:
        lab.side_by_side(collection, **args)
    assert "\n" not in str(err.value)


def test_bad_traversal_and_family(collection: lab.Collection, scores: lab.Scores) -> None:
    with pytest.raises(UserError, match="^steps must be a whole number from 2 to 15"):
        lab.code_traversal(collection, 0, 1)
    with pytest.raises(UserError, match="^unknown family 'dcgan'; choose one of: gan, cgan, acgan, infogan"):
        lab.timeline(collection, "dcgan", scores)
    without_infogan = lab.Collection(tuple(m for m in collection.members if m.family != "infogan"))
    with pytest.raises(UserError, match="^no infoGAN model is loaded"):
        lab.code_traversal(without_infogan, 0, 5)
    with pytest.raises(UserError, match="^no infogan model is loaded"):
        lab.timeline(without_infogan, "infogan", scores)
    unconditional = lab.Collection(tuple(m for m in collection.members if m.family not in CONDITIONAL))
    with pytest.raises(UserError, match="^no model here is class-conditional"):
        lab.side_by_side(unconditional, 0, 4, "Dress")


# ---------------------------------------------------------------- the Space: built and served


def test_space_builds_from_a_models_root(models_root: Path, results_dir: Path, tmp_path: Path) -> None:
    space = build_spaces.APPS_DIR / "collection"
    assert build_spaces.shipped_models(space) == [f"{family}-fashion-mnist" for family in COLLECTION]
    out = build_spaces.build_space(space, tmp_path, models_root, results_root=results_dir)
    assert sorted(p.name for p in (out / "pretrained").iterdir()) == sorted(build_spaces.shipped_models(space))
    assert (out / "pretrained" / "gan-fashion-mnist" / TIMELINE_DIR / "epoch_050.png").is_file()
    assert sorted(p.name for p in (out / "results").iterdir()) == ["quality.jsonl", "timeline.jsonl"]
    assert (out / "core" / "demos" / "collection.py").is_file() and not (out / "__init__.py").exists()
    assert "gradio==6.31.0" in (out / "requirements.txt").read_text().splitlines()
    assert "title: \"Fashion GAN Lab: the classic collection\"" in (out / "README.md").read_text()


@pytest.fixture
def offline(space_env: None, monkeypatch: pytest.MonkeyPatch, models_root: Path, results_dir: Path) -> None:
    """`space_env`, showing the tiny models and their results."""
    monkeypatch.setenv("MODEL_SOURCE", str(models_root))
    monkeypatch.setenv("RESULTS_SOURCE", str(results_dir))


def test_space_without_models_starts(offline: None) -> None:
    import gradio as gr

    app = importlib.import_module("apps.collection.app")
    demo = app.build_demo({}, lab.Scores())
    markdown = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    assert lab.NO_MODELS in markdown


def test_space_over_http(offline: None, collection: lab.Collection, scores: lab.Scores, tmp_path: Path,
                         free_port: int) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    # The module-level demo, built (again) under this test's MODEL_SOURCE and RESULTS_SOURCE
    app = importlib.reload(importlib.import_module("apps.collection.app"))
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path), analytics_enabled=False)
        served = client.predict(5, 20, "Sneaker", 0.5, -1.0, api_name="/side_by_side")
        expected = lab.side_by_side(collection, 5, 20, "Sneaker", [0.5, -1.0], scores)
        assert [item["caption"] for item in served] == [caption for _, caption in expected]
        for item, (image, _) in zip(served, expected):
            with Image.open(item["image"]) as shown:
                assert np.array_equal(np.asarray(shown), np.asarray(image))

        path = client.predict(0, 4, ALL_CLASSES, 0.0, 0.0, api_name="/traverse")
        with Image.open(path) as shown:
            assert shown.size == ((4 * 30 + 2) * 4, (2 * 30 + 2) * 4)

        grids, note = client.predict("gan", api_name="/timeline")
        expected_grids, _ = lab.timeline(collection, "gan", scores)
        assert [item["caption"] for item in grids] == [caption for _, caption in expected_grids]
        assert note.startswith("**GAN** (`gan-fashion-mnist`): final FID 3.50")

        with pytest.raises(AppError, match="unknown class 'Dragon'; known: T-shirt/top"):
            client.predict(0, 4, "Dragon", 0.0, 0.0, api_name="/side_by_side")
        with pytest.raises(AppError, match="^seed must be a whole number from 0 to"):  # the CLI's rule, one line
            client.predict(-3, 4, ALL_CLASSES, 0.0, 0.0, api_name="/traverse")
    finally:
        app.demo.close()
