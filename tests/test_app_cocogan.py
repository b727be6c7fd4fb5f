"""The COCO-GAN Space: core.cocogan_demo (overlays, parts, beyond-boundary, patch-guided, gallery) and the Gradio app."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import cocogan_demo as lab
from core.errors import UserError
from core.hub import save_model
from core.inference import GeneratorPipeline
from core.models import CocoGANConfig, CocoGANGenerator

SHIPPED_EXAMPLES = Path(__file__).resolve().parent.parent / "apps" / "cocogan" / "examples"
CYAN, MAGENTA = np.array(lab.GRID_COLOUR), np.array(lab.OUTLINE_COLOUR)


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny untrained COCO-GANs: 32 px grayscale (8 px micro, 16 px macro) and 64 px RGB (16 px, 32 px)."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    common = {"z_dim": 8, "width": 8, "max_width": 16}
    gray = CocoGANConfig(image_size=32, macro_size=16, micro_size=8, channels=1, **common)
    rgb = CocoGANConfig(image_size=64, macro_size=32, micro_size=16, channels=3, **common)
    save_model(CocoGANGenerator(gray), root / "cocogan-gray")
    save_model(CocoGANGenerator(rgb), root / "cocogan-rgb")
    return root


@pytest.fixture(scope="module")
def models(models_root: Path) -> dict[str, str]:
    return {"cocogan-gray": str(models_root / "cocogan-gray"), "cocogan-rgb": str(models_root / "cocogan-rgb")}


@pytest.fixture(scope="module")
def gray(models: dict[str, str]) -> str:
    return models["cocogan-gray"]



def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def coloured(image: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Bool [H, W]: the pixels of exactly that colour (never a grey model pixel, which has R = G = B)."""
    return (image == colour).all(axis=2)


def box_mask(side: int, top: int, left: int, size: int, thickness: int) -> np.ndarray:
    """Bool [side, side]: the outline draw_box paints, inside the square's edge."""
    outer, inner = np.zeros((side, side), bool), np.zeros((side, side), bool)
    outer[top : top + size, left : left + size] = True
    inner[top + thickness : top + size - thickness, left + thickness : left + size - thickness] = True
    return outer & ~inner


def line_mask(side: int, cell_px: int) -> np.ndarray:
    lines = lab.grid_lines(side, cell_px)
    return lines[:, None] | lines[None, :]


# ---------------------------------------------------------------- models


def test_available_cocogans(models_root: Path, tiny_generator_dir: Path, tmp_path: Path) -> None:
    absent = tmp_path / "absent.txt"
    assert lab.available_cocogans({}, root=models_root, source_file=absent) == {
        "cocogan-gray": str(models_root / "cocogan-gray"),
        "cocogan-rgb": str(models_root / "cocogan-rgb"),
    }
    # a folder of mixed models: only the COCO-GANs; a comma list: local non-COCO-GAN folders dropped, Hub ids kept
    mixed = tmp_path / "mixed"
    shutil.copytree(models_root / "cocogan-rgb", mixed / "cocogan-rgb")
    shutil.copytree(tiny_generator_dir, mixed / "dcgan-tiny")
    assert list(lab.available_cocogans({"MODEL_SOURCE": str(mixed)}, source_file=absent)) == ["cocogan-rgb"]
    spec = f"{mixed / 'dcgan-tiny'},{mixed / 'cocogan-rgb'},you/cocogan-x"
    assert list(lab.available_cocogans({"MODEL_SOURCE": spec}, source_file=absent)) == ["cocogan-rgb", "you/cocogan-x"]


def test_geometry_and_describe(models: dict, tmp_path: Path) -> None:
    g = lab.geometry(models["cocogan-gray"])
    assert (g.grid, g.macro_grid, g.macro_offsets, g.scale, g.cell_px) == (4, 2, 3, 8, 64)
    g = lab.geometry(models["cocogan-rgb"])
    assert (g.grid, g.macro_grid, g.macro_offsets, g.scale, g.cell_px, g.channels) == (4, 2, 3, 4, 64, 3)
    assert lab.describe(models["cocogan-gray"]) == (
        "**cocogan-gray**: 32×32 px grayscale, drawn as 4×4 micro patches of 8 px; its discriminator judged "
        "16 px macro patches (2×2 micro patches); latent size 8."
    )
    exported = tmp_path / "cocogan-exported"
    shutil.copytree(models["cocogan-rgb"], exported)
    (exported / "training.json").write_text(json.dumps({"summary": {"data": "clothing train", "steps": 4000}}))
    assert lab.describe(str(exported)).endswith("latent size 8. Trained on clothing train for 4,000 steps.")


# ---------------------------------------------------------------- overlays and parts


@pytest.mark.parametrize(("name", "size"), [("cocogan-gray", 32), ("cocogan-rgb", 64)])
def test_generate_shows_the_models_pixels(models: dict, name: str, size: int) -> None:
    plain = lab.generate_image(models[name], 5, show_grid=False)
    assert plain.size == (256, 256) and plain.mode == "RGB"
    scale = 256 // size
    sample = GeneratorPipeline.from_pretrained(models[name]).sample(1, 5)[0]  # [S, S, C]
    shown = np.asarray(plain)
    assert np.array_equal(shown[::scale, ::scale], np.broadcast_to(sample, (size, size, 3)))
    assert np.array_equal(shown, lab.enlarge(shown[::scale, ::scale], scale))  # nearest neighbour: crisp blocks
    assert not np.array_equal(shown, np.asarray(lab.generate_image(models[name], 6, show_grid=False)))


@pytest.mark.parametrize("name", ["cocogan-gray", "cocogan-rgb"])
def test_grid_overlay_changes_only_grid_line_pixels(models: dict, name: str) -> None:
    plain = pixels(lab.generate_image(models[name], 0, show_grid=False))
    grid = pixels(lab.generate_image(models[name], 0, show_grid=True))
    lines = line_mask(256, 64)
    changed = (plain != grid).any(axis=2)
    assert not changed[~lines].any()  # nothing off the lines
    assert coloured(grid, CYAN)[lines].all()  # every line pixel cyan
    # 2 px lines on the inner cell borders (cells of 64 screen px), no frame around the image
    assert np.flatnonzero(lab.grid_lines(256, 64)).tolist() == [63, 64, 127, 128, 191, 192]


@pytest.mark.parametrize("extra", [0, 1, 3, 8])
def test_beyond_size_outline_and_centre(gray: str, extra: int) -> None:
    image = pixels(lab.beyond_image(gray, 2, extra, show_grid=False))
    side = (4 + 2 * extra) * 8
    scale = min(8, 1024 // side)  # beyond-boundary images stay under 1024 px
    assert image.shape == (side * scale, side * scale, 3)
    # the magenta outline is exactly the training-size region's border, inside its edge
    thickness = lab.line_width(8 * scale) + 1
    expected = box_mask(side * scale, extra * 8 * scale, extra * 8 * scale, 32 * scale, thickness)
    assert np.array_equal(coloured(image, MAGENTA), expected)
    # inside it: the training-size image of the same seed, pixel for pixel
    centre = image[::scale, ::scale][extra * 8 + 1 : extra * 8 + 31, extra * 8 + 1 : extra * 8 + 31]
    plain = pixels(lab.generate_image(gray, 2, show_grid=False))[::8, ::8][1:31, 1:31]
    assert np.array_equal(centre, plain)


@pytest.mark.parametrize(
    ("name", "row", "col"), [("cocogan-gray", 1, 2), ("cocogan-gray", 3, 0), ("cocogan-rgb", 0, 3)]
)
def test_redraw_changes_only_that_cell(models: dict, name: str, row: int, col: int) -> None:
    before = pixels(lab.generate_image(models[name], 4, show_grid=False))
    after = pixels(lab.redraw_cell(models[name], 4, row, col, 9, show_grid=False))
    cell = np.zeros((256, 256), bool)
    cell[row * 64 : (row + 1) * 64, col * 64 : (col + 1) * 64] = True
    changed = (before != after).any(axis=2)
    assert changed.any() and not changed[~cell].any()
    inner = box_mask(256, row * 64, col * 64, 64, 64)  # the whole cell...
    inner &= ~box_mask(256, row * 64, col * 64, 64, lab.line_width(64) + 1)  # ...minus its outline
    assert changed[inner].mean() > 0.5  # the patch itself was redrawn, not only outlined
    # the same latent for the cell redraws the same patch: only the outline shows
    same = pixels(lab.redraw_cell(models[name], 4, row, col, 4, show_grid=False))
    assert not (before != same).any(axis=2)[inner].any()


@pytest.mark.parametrize(
    ("name", "x", "y", "cell"),
    [
        ("cocogan-gray", 0, 0, (0, 0)),
        ("cocogan-gray", 255, 255, (3, 3)),
        ("cocogan-gray", 64, 63, (0, 1)),  # x = 64 is the first pixel of column 1; y = 63 the last of row 0
        ("cocogan-gray", 130.5, 200, (3, 2)),
        ("cocogan-rgb", 64, 191, (2, 1)),
    ],
)
def test_click_to_cell(models: dict, name: str, x: float, y: float, cell: tuple[int, int]) -> None:
    assert lab.cell_at(models[name], x, y) == cell


def test_click_to_macro_patch(gray: str) -> None:
    # a 2x2 macro patch starting at cell t has its centre at t + 1 cells (64 px each): the nearest one wins
    assert lab.macro_at(gray, 0, 0) == (0, 0)
    assert lab.macro_at(gray, 255, 255) == (2, 2)  # clamped: 3 positions per side
    assert lab.macro_at(gray, 1.2 * 64, 1.8 * 64) == (1, 0)  # rows: centre 2 is nearer 1.8; columns: 1 nearer 1.2
    assert lab.macro_at(gray, 2.6 * 64, 2.4 * 64) == (1, 2)


@pytest.mark.parametrize(("x", "y"), [(256, 0), (-1, 5), (None, None), (10, 300)])
def test_clicks_outside_the_image(gray: str, x: float | None, y: float | None) -> None:
    with pytest.raises(UserError, match="click inside the image"):
        lab.cell_at(gray, x, y)
    with pytest.raises(UserError, match="click inside the image"):
        lab.macro_at(gray, x, y)


# ---------------------------------------------------------------- patch-guided


@pytest.mark.parametrize(("row", "col", "extra"), [(0, 0, 0), (1, 2, 1), (2, 1, 0)])
def test_patch_guided(gray: str, row: int, col: int, extra: int) -> None:
    example = lab.examples_for(gray, SHIPPED_EXAMPLES)[4]
    result = lab.complete(gray, example.image, row, col, extra, show_grid=True)
    assert np.array_equal(result.guide, example.image[row * 8 : row * 8 + 16, col * 8 : col * 8 + 16])
    pipe = GeneratorPipeline.from_pretrained(gray)
    completed = pipe.complete(example.image, row, col, extra)
    shift = extra * 8
    assert np.array_equal(result.redrawn, completed[row * 8 + shift : row * 8 + shift + 16, col * 8 + shift :][:, :16])

    # the real image with its macro patch outlined (3 px inside the edge) over the grid
    real = pixels(result.real)
    assert real.shape == (256, 256, 3)
    assert np.array_equal(coloured(real, MAGENTA), box_mask(256, row * 64, col * 64, 128, 3))
    assert np.array_equal(coloured(real, CYAN), line_mask(256, 64) & ~box_mask(256, row * 64, col * 64, 128, 3))
    # the generated image, larger by `extra` patches per border, with the guiding region outlined where it was
    side = (4 + 2 * extra) * 8 * 8
    out = pixels(result.completed)
    assert out.shape == (side, side, 3)
    assert np.array_equal(coloured(out, MAGENTA), box_mask(side, (row * 8 + shift) * 8, (col * 8 + shift) * 8, 128, 3))
    assert f"top-left cell ({row}, {col})" in result.summary() and f"**{result.difference:.1f}**" in result.summary()
    assert 0 <= result.difference <= 255


def test_patch_guided_rgb(models: dict) -> None:
    example = lab.examples_for(models["cocogan-rgb"], SHIPPED_EXAMPLES)[0]
    result = lab.complete(models["cocogan-rgb"], example.image, 2, 2, 2, show_grid=False)
    assert result.guide.shape == result.redrawn.shape == (32, 32, 3)
    assert result.real.size == (256, 256) and result.completed.size == (8 * 16 * 4,) * 2  # 128 px at 4x
    assert "plus 2 micro patches beyond each border" in result.summary()


# ---------------------------------------------------------------- the gallery


def test_shipped_examples() -> None:
    assert sum(path.stat().st_size for path in SHIPPED_EXAMPLES.glob("*.png")) < 200_000
    examples = lab.example_images(SHIPPED_EXAMPLES)
    fashion = [e for e in examples if e.dataset == "fashion-mnist"]
    clothing = [e for e in examples if e.dataset == "clothing"]
    assert len(fashion) == 30 and len(clothing) == 20 and len(examples) == 50
    assert all(e.image.shape == (32, 32, 1) and e.image.dtype == np.uint8 for e in fashion)
    assert all(e.image.shape == (64, 64, 3) for e in clothing)
    assert [e.class_name for e in fashion[::3]][:3] == ["T-shirt/top", "Trouser", "Pullover"]
    # Fashion-MNIST padded by 2 px: black borders, as the 32 px COCO-GAN was trained
    assert all(e.image[:2].max() == 0 and e.image[:, -2:].max() == 0 for e in fashion)
    source = lab.examples_source(SHIPPED_EXAMPLES)
    assert "Zalando Research (MIT license" in source and "Alexey Grigorev (CC0-1.0 license" in source


def test_examples_follow_the_models_geometry(models: dict, tmp_path: Path) -> None:
    assert {e.dataset for e in lab.examples_for(models["cocogan-gray"], SHIPPED_EXAMPLES)} == {"fashion-mnist"}
    assert {e.dataset for e in lab.examples_for(models["cocogan-rgb"], SHIPPED_EXAMPLES)} == {"clothing"}
    # a geometry no file has: every example, converted
    odd = save_model(
        CocoGANGenerator(CocoGANConfig(16, 8, 4, channels=3, z_dim=4, width=4, max_width=8)), tmp_path / "odd"
    )
    converted = lab.examples_for(str(odd), SHIPPED_EXAMPLES)
    assert len(converted) == 50 and all(e.image.shape == (16, 16, 3) for e in converted)
    thumbnails = lab.gallery_items(models["cocogan-gray"], SHIPPED_EXAMPLES)
    assert len(thumbnails) == 30 and thumbnails[0][0].shape == (128, 128) and thumbnails[0][1] == "T-shirt/top"
    assert lab.gallery_items(models["cocogan-rgb"], SHIPPED_EXAMPLES)[0][0].shape == (128, 128, 3)


def test_make_examples_matches_the_shipped_file(real_data_env: Path, tmp_path: Path) -> None:
    (out,) = lab.make_examples(tmp_path, datasets=["fashion-mnist"])
    assert out.name == "fashion-mnist-test.png"
    rebuilt = lab.example_images(tmp_path)
    shipped = [e for e in lab.example_images(SHIPPED_EXAMPLES) if e.dataset == "fashion-mnist"]
    assert [(e.class_name, e.image.tobytes()) for e in rebuilt] == [(e.class_name, e.image.tobytes()) for e in shipped]


def test_missing_examples(gray: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="the example images are missing"):
        lab.examples_for(gray, tmp_path)


# ---------------------------------------------------------------- user mistakes


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: lab.generate_image(s, -1), "seed must be a whole number from 0"),
        (lambda s: lab.generate_image(s, None), "seed must be a whole number, got None"),
        (lambda s: lab.beyond_image(s, 0, 9), "extra micro patches per border must be a whole number from 0 to 8"),
        (lambda s: lab.redraw_cell(s, 0, 4, 0, 1), "cell row must be a whole number from 0 to 3"),
        (lambda s: lab.redraw_cell(s, 0, 0, 1.5, 1), "cell column must be a whole number from 0 to 3"),
        (lambda s: lab.redraw_cell(s, 0, 0, 0, "x"), "cell seed must be a whole number"),
        (
            lambda s: lab.complete(s, np.zeros((32, 32, 1), np.uint8), 3, 0),
            "macro patch row must be a whole number from 0 to 2",
        ),
        (
            lambda s: lab.complete(s, np.zeros((28, 28, 1), np.uint8), 0, 0),
            r"the guiding image must be uint8 \(32, 32, 1\)",
        ),
        (lambda s: lab.example_at(s, 30, SHIPPED_EXAMPLES), "example must be a whole number from 0 to 29"),
    ],
)
def test_bad_input_is_user_error(gray: str, call, message: str) -> None:
    with pytest.raises(UserError, match="^" + message):
        call(gray)


def test_models_the_space_cannot_use(models: dict, tiny_generator_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="dcgan-tiny draws whole images; this Space needs a patch-based generator"):
        lab.generate_image(str(tiny_generator_dir), 0)
    broken = tmp_path / "cocogan-broken"
    shutil.copytree(models["cocogan-gray"], broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="could not load model") as err:
        lab.generate_image(str(broken), 0)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="No COCO-GAN models found"):
        lab.pick({}, None)
    with pytest.raises(UserError, match="unknown model 'nope'; choose one of: cocogan-gray, cocogan-rgb"):
        lab.pick(models, "nope")


# ---------------------------------------------------------------- the app


def handler(demo, name: str):
    """The function behind an event: by api_name, else by the function's own name."""
    return next(fn.fn for fn in demo.fns.values() if name in (fn.api_name, fn.name))


def test_build_demo_and_its_handlers(offline: None, models: dict) -> None:
    import gradio as gr

    app = importlib.import_module("apps.cocogan.app")
    demo = app.build_demo()  # models from MODEL_SOURCE, examples shipped next to app.py
    assert app.EXAMPLES_DIR.resolve() == SHIPPED_EXAMPLES.resolve()
    api = demo.get_api_info()["named_endpoints"]
    parameters = {name: [p["parameter_name"] for p in api[name]["parameters"]] for name in api}
    assert parameters == {
        "/generate": ["model", "seed", "show_grid"],
        "/redraw_cell": ["model", "seed", "row", "col", "cell_seed", "show_grid"],
        "/beyond": ["model", "seed", "extra", "show_grid"],
        "/complete": ["model", "example", "row", "col", "extra", "show_grid"],
        "/model_info": ["model"],
    }
    assert handler(demo, "generate")("cocogan-gray", 0, True).size == (256, 256)
    real, completed, summary = handler(demo, "complete")("cocogan-rgb", 3, 1, 1, 1, False)
    assert real.size == (256, 256) and completed.size == (6 * 16 * 4,) * 2 and "Q read" in summary

    caption, row, col, macro_row, macro_col, gallery, example = handler(demo, "model_info")("cocogan-rgb")
    assert caption.startswith("**cocogan-rgb**") and example == 0
    assert (row.info, col.info) == ("0 to 3, from the top left",) * 2 and row.value == col.value == 0
    assert (macro_row.info, macro_col.info) == ("0 to 2, from the top left",) * 2
    assert len(gallery.value) == 20  # the clothing photos, for a 64 px RGB model

    assert handler(demo, "pick_cell")("cocogan-gray", gr.SelectData(None, {"index": [200, 70], "value": None})) == (
        1,
        3,
    )
    assert handler(demo, "pick_macro")("cocogan-gray", gr.SelectData(None, {"index": [0, 255], "value": None})) == (
        2,
        0,
    )
    assert handler(demo, "choose_example")(gr.SelectData(None, {"index": 12, "value": None})) == 12
    with pytest.raises(gr.Error, match="click inside the image"):
        handler(demo, "pick_cell")("cocogan-gray", gr.SelectData(None, {"index": None, "value": None}))
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handler(demo, "generate")("nope", 0, True)
    with pytest.raises(gr.Error, match="cell row must be a whole number from 0 to 3"):
        handler(demo, "redraw_cell")("cocogan-gray", 0, 7, 0, 1, True)


def test_space_without_models_still_builds(offline: None, tmp_path: Path) -> None:
    import gradio as gr

    app = importlib.import_module("apps.cocogan.app")
    demo = app.build_demo({}, examples_dir=tmp_path)  # no models, no examples: the page says so
    with pytest.raises(gr.Error, match="No COCO-GAN models found"):
        handler(demo, "generate")(None, 0, True)


def test_space_over_http(offline: None, models: dict, tmp_path: Path, free_port: int) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    # a third geometry: 4 px micro patches, 8 per side; the first model's grid must not limit it
    fine = save_model(CocoGANGenerator(CocoGANConfig(32, 8, 4, z_dim=4, width=4, max_width=8)), tmp_path / "fine")
    app = importlib.import_module("apps.cocogan.app")
    demo = app.build_demo({**models, "cocogan-fine": str(fine)})
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False)
        path = client.predict("cocogan-gray", 3, False, api_name="/generate")
        with Image.open(path) as served:
            assert np.array_equal(np.asarray(served), np.asarray(lab.generate_image(models["cocogan-gray"], 3, False)))

        path = client.predict("cocogan-gray", 3, 1, 2, 7, True, api_name="/redraw_cell")
        with Image.open(path) as served:
            assert np.array_equal(np.asarray(served), np.asarray(lab.redraw_cell(models["cocogan-gray"], 3, 1, 2, 7)))

        path = client.predict("cocogan-rgb", 0, 2, True, api_name="/beyond")
        with Image.open(path) as served:
            assert served.size == (8 * 16 * 4,) * 2

        real, completed, summary = client.predict("cocogan-gray", 7, 1, 1, 0, True, api_name="/complete")
        with Image.open(real) as served_real, Image.open(completed) as served_completed:
            assert served_real.size == served_completed.size == (256, 256)
        assert "top-left cell (1, 1)" in summary

        path = client.predict("cocogan-fine", 3, 6, 7, 1, False, api_name="/redraw_cell")
        with Image.open(path) as served:
            assert np.array_equal(np.asarray(served), np.asarray(lab.redraw_cell(str(fine), 3, 6, 7, 1, False)))

        with pytest.raises(AppError, match="cell row must be a whole number from 0 to 3, got 6"):
            client.predict("cocogan-gray", 3, 6, 7, 1, False, api_name="/redraw_cell")
        with pytest.raises(AppError, match="greater than maximum value 8"):  # the slider's own bound
            client.predict("cocogan-gray", 0, 12, True, api_name="/beyond")
    finally:
        demo.close()


def test_built_space_runs_on_its_own(models_root: Path, tmp_path: Path, run_in_space) -> None:
    from apps import build_spaces

    space = build_spaces.APPS_DIR / "cocogan"
    shipped = tmp_path / "pretrained"
    for name in build_spaces.shipped_models(space):  # tiny stand-ins under the real names
        shutil.copytree(models_root / ("cocogan-rgb" if "64" in name else "cocogan-gray"), shipped / name)
    out = build_spaces.build_space(space, tmp_path / "dist", shipped)
    assert (out / "pretrained" / "cocogan-fashion-mnist-32" / "model.safetensors").is_file()
    assert sorted(p.name for p in (out / "examples").iterdir()) == ["clothing-test.png", "fashion-mnist-test.png"]
    assert (out / "core" / "cocogan_demo.py").is_file() and not (out / "space.toml").exists()

    # demo(...) runs an event through Gradio's pre/postprocessing, as a click would
    script = (
        "import json, app\n"
        "from PIL import Image\n"
        "demo = app.build_demo()\n"
        "real, completed, summary = demo('cocogan-fashion-mnist-32', 4, 1, 1, 1, True, api_name='complete')\n"
        "print(json.dumps({'examples': str(app.EXAMPLES_DIR), 'sizes': [Image.open(real).size,"
        " Image.open(completed).size], 'summary': summary}))\n"
    )
    result = run_in_space(out, script)
    assert Path(result["examples"]).resolve() == (out / "examples").resolve()
    assert result["sizes"] == [[256, 256], [384, 384]] and "top-left cell (1, 1)" in result["summary"]
