"""The loader benchmark on a tiny folder: rows, the ratio to training, error rows, the table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks import loader


def tiny_folder(root: Path, n: int = 70) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(root / f"{i:03d}.jpg")
    return root


def test_the_plan_measures_training_first(tmp_path) -> None:
    plan = loader.scenarios(tmp_path, sizes=(64, 128), workers=(0, 2))
    assert [s.train for s in plan[:2]] == ["memory", "stream"] and not any(s.train for s in plan[2:])
    assert [s.name for s in plan] == [
        "dcgan-clothing-64",
        "dcgan-clothing-64-streamed",
        "folder-64px-0w",
        "folder-64px-2w",
        "folder-128px-0w",
        "folder-128px-2w",
    ]


def test_loader_rows_and_the_ratio_to_training(tmp_path, fgl_cache, monkeypatch) -> None:
    folder = tiny_folder(tmp_path / "photos")
    monkeypatch.setitem(loader._TRAINING, loader.RECIPE, 100.0)  # as if the training scenario had run
    rows = loader.run(loader.Scenario(folder, image_size=64, workers=1, batches=1, device="cpu"))
    decoded, ratio = rows
    assert decoded.metric == "decoded_images_per_s" and decoded.value > 0 and decoded.error is None
    assert decoded.params["workers"] == 1 and decoded.params["decoding"] == "u1"
    assert ratio.metric == "loader_to_training_ratio" and abs(ratio.value - decoded.value / 100.0) < 1e-9
    assert ratio.params["target"] == loader.TARGET_RATIO and "70 images" in decoded.data
    other = loader.run(loader.Scenario(folder, image_size=32, workers=0, batches=1, device="cpu"))
    assert [row.metric for row in other] == ["decoded_images_per_s"]  # a ratio only at the recipe's size
    missing = loader.run(loader.Scenario(tmp_path / "absent", device="cpu"))
    assert missing[0].value is None and "does not exist" in missing[0].error
    table = loader.format_table(rows + other + missing)
    assert "folder-64px-1w" in table and "error: folder-64px-0w" in table
