"""The Progressive GAN Space: the growth strip, its handlers, and the app served over HTTP."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demos import progan as lab
from core.hub import SNAPSHOTS_DIR, save_model
from core.models import MODELS


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained 32 px ProGAN with a snapshot per stage (as `core export` writes them), and one without."""
    import torch

    root = tmp_path_factory.mktemp("models")
    family = MODELS.get("progan")
    torch.manual_seed(0)
    generator = family.build(family.make_config(image_size=32, channels=1, z_dim=8, width=4, max_width=8))["generator"]
    for stage, size in enumerate((4, 8, 16)):
        generator.set_progress(stage, 1.0)
        save_model(generator, root / "progan-tiny" / SNAPSHOTS_DIR / f"stage_{size:04d}px")
    generator.set_progress(3, 1.0)
    save_model(generator, root / "progan-tiny")
    save_model(generator, root / "progan-bare")
    return root


@pytest.fixture
def models(models_root: Path) -> dict[str, str]:
    return {"progan-tiny": str(models_root / "progan-tiny"), "progan-bare": str(models_root / "progan-bare")}


def test_growth_strip_shows_every_stage_at_one_size(models: dict) -> None:
    strip = lab.growth_strip(models["progan-tiny"], 3)
    size = 32 * 4  # display scale 4 for 32 px
    assert strip.size == (4 * size + 3 * lab.GAP, size)
    pixels = np.asarray(strip)
    first = pixels[:, :size]
    blocks = first.reshape(4, size // 4, 4, size // 4)  # the 4x4 stage: each pixel a constant 32 x 32 block
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert np.array_equal(np.asarray(lab.growth_strip(models["progan-tiny"], 3)), pixels)  # same seed, same strip
    assert not np.array_equal(np.asarray(lab.growth_strip(models["progan-tiny"], 4)), pixels)
    assert lab.stage_caption(models["progan-tiny"]).startswith("Stages, left to right: 4×4 → 8×8 → 16×16 → 32×32")


def test_growth_needs_stage_snapshots_and_a_valid_seed(models: dict) -> None:
    from core.errors import UserError

    with pytest.raises(UserError, match="exported no stage snapshots"):
        lab.growth_strip(models["progan-bare"], 0)
    with pytest.raises(UserError, match="seed"):
        lab.growth_strip(models["progan-tiny"], -1)


def test_space_over_http(space_env: None, models: dict, tmp_path: Path, free_port: int) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    app = importlib.import_module("apps.progan.app")
    demo = app.build_demo(models)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False)
        strip, caption = client.predict("progan-tiny", 5, api_name="/grow")
        with Image.open(strip) as served:
            assert np.array_equal(np.asarray(served), np.asarray(lab.growth_strip(models["progan-tiny"], 5)))
        assert "16×16" in caption
        with Image.open(client.predict("progan-tiny", 0, 4, api_name="/generate")) as grid:
            assert grid.size[0] > 32
        with Image.open(client.predict("progan-tiny", 0, 1, 5, api_name="/interpolate")) as walk:
            assert walk.size[0] > walk.size[1]
        with pytest.raises(AppError, match="exported no stage snapshots"):
            client.predict("progan-bare", 0, api_name="/grow")
        with pytest.raises(AppError, match="nope"):
            client.predict("nope", 0, api_name="/grow")
    finally:
        demo.close()
