"""The edit-then-search Space: core.demos.edit_search (editors, the index, an edit and its searches) and the app."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import retrieval
from core.data.attributes import COLOR_NAMES
from core.demos import edit_search as lab
from core.demos import translate as examples_lab
from core.errors import UserError
from core.hub import save_model
from core.models import MODELS

CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"]
SHIPPED_EXAMPLES = Path(__file__).resolve().parent.parent / "apps" / "edit_search" / "examples" / "clothing-test.png"


def export(folder: Path, family: str, **config) -> str:
    spec = MODELS.get(family)
    torch.manual_seed(0)
    network = spec.build(spec.make_config(image_size=64, width=4, max_width=8, **config))[spec.exported]
    return str(save_model(network, folder, family=family))


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Fader network and StarGAN of the ten clothing classes, and a paired model the Space leaves out."""
    root = tmp_path_factory.mktemp("editors")
    export(root / "fader-tiny", "fader", num_classes=10, class_names=CLASSES, color_names=COLOR_NAMES, hidden=8)
    export(root / "stargan-tiny", "stargan", num_classes=10, class_names=CLASSES, blocks=1)
    export(root / "pix2pix-tiny", "pix2pix", in_channels=1, source="edges")
    return root


@pytest.fixture(scope="module")
def index_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of a few real test photos of three classes (the pixel baseline embeds them: fast, no weights)."""
    root = tmp_path_factory.mktemp("index")
    gallery = root / "gallery"
    source = Path(os.environ.get("DATA_ROOT", "../shared/data")) / "clothing-small" / "test"
    if not source.is_dir():
        source = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing-small" / "test"
    for name in ("dress", "pants", "t-shirt"):
        (gallery / name).mkdir(parents=True)
        for file in sorted((source / name).iterdir())[:6]:
            shutil.copy2(file, gallery / name / file.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FGL_CACHE", str(root / "cache"))
        retrieval.build_index(retrieval.load_gallery(f"folder:{gallery}", "train"), "pixels:8", "exact",
                              out=root / "index")
    return root / "index"


@pytest.fixture
def models(models_root: Path) -> dict[str, str]:
    return {p.name: str(p) for p in sorted(models_root.iterdir())}


@pytest.fixture
def index(index_folder: Path) -> retrieval.RetrievalIndex:
    lab.open_index.cache_clear()
    return lab.open_index(index_folder)



def photo() -> np.ndarray:
    return examples_lab.example_images(SHIPPED_EXAMPLES)[27].image  # a t-shirt of the test split


# --------------------------------------------------------------------------- the editors


def test_only_editors_are_offered_fader_first(models_root: Path) -> None:
    editors = lab.available_editors({"MODEL_SOURCE": str(models_root)})
    assert list(editors) == ["fader-tiny", "stargan-tiny"]  # no paired model; shipped names would come first


def test_controls_and_captions(models: dict) -> None:
    fader, stargan = lab.controls(models["fader-tiny"]), lab.controls(models["stargan-tiny"])
    assert fader.sliders and fader.classes == CLASSES and fader.colors == COLOR_NAMES
    assert not stargan.sliders and stargan.classes == CLASSES and stargan.colors == []
    assert lab.describe(models["fader-tiny"]).startswith("**fader-tiny**: Fader network (Lample et al. (2017)); edits class")
    with pytest.raises(UserError, match="this Space edits with a Fader network or a StarGAN"):
        lab.load_editor(models["pix2pix-tiny"])


def test_edits_in_words_and_pixels(models: dict) -> None:
    image = photo()
    own, words = lab.edit(models["fader-tiny"], image, "t-shirt")
    red, said = lab.edit(models["fader-tiny"], image, "t-shirt", lab.KEEP, 1.0, "red", 0.5)
    assert own.shape == red.shape == (64, 64, 3) and not np.array_equal(own, red)
    assert words.startswith("reconstructed at its own class and colour") and "colour → *red* (strength 0.5)" in said
    dress, said = lab.edit(models["stargan-tiny"], image, class_to="dress")
    assert dress.shape == (64, 64, 3) and said == "redrawn as *dress* by stargan-tiny"


@pytest.mark.parametrize(("source", "kwargs", "message"), [
    ("stargan-tiny", {}, "choose the class to make it"),
    ("fader-tiny", {"own_class": "t-shirt", "color_to": "mauve"}, "unknown color 'mauve'"),
    ("fader-tiny", {"own_class": "t-shirt", "color_to": "red", "color_strength": 5}, "colour strength must be a number"),
    ("fader-tiny", {"own_class": "t-shirt", "class_to": "dress", "class_strength": "lots"}, "class strength must be a number"),
    ("fader-tiny", {"color_to": "red", "color_strength": 0.5}, "say which class the photo is"),
])
def test_edit_mistakes_are_one_line(models: dict, source: str, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        lab.edit(models[source], photo(), **kwargs)


# --------------------------------------------------------------------------- the index and the searches


def test_search_guess_and_the_index_note(index: retrieval.RetrievalIndex) -> None:
    found = lab.search(index, photo(), k=7)
    assert found.milliseconds > 0 and len(found.classes) == len(found.colors) == 7
    assert found.sheet.size == (5 * 132 + 4, 2 * 132 + 4)  # 128 px thumbnails, five a row, 4 px apart
    rows = found.table.splitlines()
    assert rows[0] == "| # | class | colour | distance |" and len(rows) == 2 + 7 and rows[2].startswith("| 1 | ")
    assert set(found.classes) <= {"dress", "pants", "t-shirt"} and set(found.colors) <= set(COLOR_NAMES)
    nearest = np.asarray(found.sheet)[4 + 20 : 4 + 128, 4 + 20 : 4 + 128]  # past the rank label: the thumbnail
    first = index.thumbnails[index.search(photo(), k=1).ids[0, 0]].permute(1, 2, 0).numpy().repeat(2, 0).repeat(2, 1)
    assert np.array_equal(nearest, first[20:, 20:])
    gallery_photo = index.thumbnails[7].permute(1, 2, 0).numpy()  # a pants photo of the gallery itself
    assert lab.guess_class(index, gallery_photo, k=1) == "pants"
    assert lab.index_note(index).startswith("Searching 18 real products") and "(shipped)" in lab.index_note(index)


def test_edit_and_search_any_upload(models: dict, index: retrieval.RetrievalIndex, tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    Image.fromarray(photo()[..., 0]).resize((90, 50)).save(gray)  # grayscale, not square
    rgba = Image.fromarray(photo()).convert("RGBA")
    for upload in (photo(), str(gray), rgba, gray.read_bytes()):
        result = lab.edit_and_search(models["fader-tiny"], upload, index, "t-shirt", color_to="blue", k=4)
        assert result.photo.size == result.edited.size == (256, 256)
        assert len(result.original.classes) == len(result.found.classes) == 4
        assert "colour → *blue*" in result.summary and "of the 4 are blue" in result.summary
    with pytest.raises(UserError, match="pick an example photo or upload one first"):
        lab.edit_and_search(models["fader-tiny"], None, index)
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UserError, match="could not read"):
        lab.edit_and_search(models["fader-tiny"], str(tmp_path / "notes.png"), index, "t-shirt")


def test_an_index_is_built_on_first_start_or_refused_saying_how(index_folder: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lab.open_index.cache_clear()
    tiny = retrieval.RetrievalIndex.load(index_folder)
    gallery = retrieval.Gallery(tiny.thumbnails, tiny.labels, tiny.class_names, tiny.colors, tiny.color_names,
                                [""] * len(tiny), "folder:x", "train", description="a tiny gallery")
    monkeypatch.setattr(retrieval, "load_gallery", lambda dataset, split: gallery)
    monkeypatch.setattr(retrieval, "INDEX_EXTRACTOR", "pixels:8")
    built = lab.open_index(tmp_path / "new")
    assert len(built) == 18 and (tmp_path / "new" / retrieval.META_FILE).is_file()
    assert "built on first start in" in lab.index_note(built)

    def missing(dataset, split):
        raise UserError("clothing photos not found in /nowhere")

    monkeypatch.setattr(retrieval, "load_gallery", missing)
    with pytest.raises(UserError, match=r"no search index in .*none could be built here .*`python -m core index`"):
        lab.open_index(tmp_path / "none")
    lab.open_index.cache_clear()


# --------------------------------------------------------------------------- the app


def handler(demo, api_name: str):
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


def test_build_demo_and_its_handlers(offline: None, index_folder: Path, tmp_path: Path) -> None:
    import gradio as gr

    lab.open_index.cache_clear()
    app = importlib.import_module("apps.edit_search.app")
    demo = app.build_demo(index_folder=index_folder)
    api = demo.get_api_info()["named_endpoints"]
    assert set(api) == {"/edit_search", "/search", "/upload", "/example", "/model_info"}
    image = photo()
    shown, edited, original, original_table, found, found_table, summary = handler(demo, "edit_search")(
        "fader-tiny", image, "t-shirt", lab.KEEP, 1, "red", 1)
    assert shown.size == edited.size == (256, 256) and original.size == found.size == (5 * 132 + 4, 2 * 132 + 4)
    assert len(original_table.splitlines()) == len(found_table.splitlines()) == 12  # header, rule, ten results
    assert summary.startswith("Edited: colour → *red* by fader-tiny. Searched 18 products")
    sheet, table, said = handler(demo, "search")(image)
    assert sheet.size == original.size and table == original_table and said.startswith("Searched 18 products in")

    upload = tmp_path / "photo.jpg"
    Image.fromarray(image).resize((200, 300)).save(upload)
    current, emptied, own = handler(demo, "upload")(str(upload))
    assert current.shape == (200, 200, 3) and emptied is None and own["value"] in ("dress", "pants", "t-shirt")
    picked, _, own = handler(demo, "example")(3)
    assert np.array_equal(picked, examples_lab.example_images(SHIPPED_EXAMPLES)[3].image) and own["value"] == "hat"
    caption, class_to, class_strength, color_to, color_strength = handler(demo, "model_info")("stargan-tiny")
    assert caption.startswith("**stargan-tiny**") and class_to.value == "dress" and not class_strength.visible
    assert not color_to.visible and not color_strength.visible
    _, class_to, _, color_to, _ = handler(demo, "model_info")("fader-tiny")
    assert class_to.value == lab.KEEP and color_to.visible and color_to.choices[0] in (lab.KEEP, (lab.KEEP, lab.KEEP))

    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handler(demo, "edit_search")("nope", image, None, None, 1, None, 1)
    with pytest.raises(gr.Error, match="no file was uploaded"):
        handler(demo, "upload")(None)
    lab.open_index.cache_clear()


def test_space_without_an_index_or_editors_says_why(offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    def missing(dataset, split):
        raise UserError("clothing photos not found in /nowhere")

    lab.open_index.cache_clear()
    monkeypatch.setattr(retrieval, "load_gallery", missing)
    app = importlib.import_module("apps.edit_search.app")
    demo = app.build_demo({}, index_folder=tmp_path / "none")
    markdown = [block.value or "" for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    assert lab.NO_EDITORS in markdown and any(text.startswith("no search index in") for text in markdown)
    with pytest.raises(gr.Error, match="no search index in"):
        handler(demo, "search")(photo())
    lab.open_index.cache_clear()


def test_built_space_ships_its_index_and_runs_on_its_own(models: dict, index_folder: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, run_in_space) -> None:
    from apps import build_spaces

    space = build_spaces.APPS_DIR / "edit_search"
    shipped = tmp_path / "pretrained"
    for name in build_spaces.shipped_models(space):  # tiny stand-ins under the real names, the real extractor
        stand_in = {"fader": models["fader-tiny"], "stargan": models["stargan-tiny"]}.get(name.split("-")[0])
        shutil.copytree(stand_in or build_spaces.PRETRAINED_DIR / name, shipped / name)
    project = tmp_path / "project"
    shutil.copytree(index_folder, project / "indexes" / "clothing-train")
    assert build_spaces.shipped_assets(space) == ["indexes/clothing-train"]
    real_root = build_spaces.PROJECT_ROOT
    monkeypatch.setattr(build_spaces, "PROJECT_ROOT", project)
    (project / "core").symlink_to(real_root / "core")
    out = build_spaces.build_space(space, tmp_path / "dist", shipped)
    assert (out / "indexes" / "clothing-train" / retrieval.META_FILE).is_file()
    assert sorted(p.name for p in (out / "examples").iterdir()) == ["clothing-test.png"]
    assert "faiss-cpu==1.15.1" in (out / "requirements.txt").read_text().splitlines()

    script = (
        "import json, app\n"
        "from core.demos import edit_search as lab\n"
        "from core.demos import translate as ex\n"
        "demo = app.build_demo()\n"
        "run = next(fn.fn for fn in demo.fns.values() if fn.api_name == 'edit_search')\n"
        "image = ex.example_images(app.EXAMPLES_FILE)[0].image\n"
        "*_, summary = run('fader-clothing-64', image, 'dress', 'keep', 1, 'red', 1)\n"
        "print(json.dumps({'editors': list(lab.available_editors()), 'note': lab.index_note(lab.open_index()),"
        " 'summary': summary}))\n"
    )
    result = run_in_space(out, script)
    assert result["editors"] == ["fader-clothing-64", "stargan-clothing-64"]
    assert result["note"].startswith("Searching 18 real products") and "(shipped)" in result["note"]
    assert "colour → *red*" in result["summary"]
