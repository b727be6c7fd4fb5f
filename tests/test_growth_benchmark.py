"""The growth benchmark: a growing generator's stages scored at their own resolution."""

from __future__ import annotations

import torch

from benchmarks import growth
from core.hub import export_run, snapshot_folders
from core.train import resolve_config, train


def test_stages_are_scored_at_their_resolution_with_the_images_they_saw(real_data_env, tmp_path) -> None:
    # 7 steps: 4, 8, 16 px, then 32 px; on the smaller test split, whose features are the reference then
    config = resolve_config("progan-fashion-mnist-32", "smoke", {"split": "test"})
    run = train(config, tmp_path / "run", progress=False).run_dir
    model = export_run(run, "progan-tiny", out_root=tmp_path)
    stages = [folder.name for folder in snapshot_folders(model)]
    assert stages == ["stage_0004px", "stage_0008px", "stage_0016px"]  # the 32 px stage ends the run: it is the model
    plan = growth.scenarios([str(model)], device="cpu", n_generated=64, kid_subsets=2)
    assert [s.stage.name if s.stage else "final" for s in plan] == [*stages, "final"]
    rows = growth.run(plan[1])
    assert {row.metric for row in rows} == set(growth.METRICS) and all(row.error is None for row in rows)
    first = rows[0]
    assert first.params["size"] == 8 and first.params["step"] == 3 and first.params["images_shown"] == 3 * 8
    assert all(row.error is None for row in growth.run(plan[0]))  # 4 px, the smallest stage
    assert first.value > 0 and "at 8 px" in first.data and first.params["n_real"] == 4443
    from safetensors import safe_open

    with safe_open(str(model / "snapshots" / "stage_0008px" / "model.safetensors"), "pt") as f:  # a half-size copy
        assert f.get_tensor("to_rgb.1.weight").dtype == torch.float16 and f.get_tensor("stage").dtype == torch.int64
    assert "stage_0008px" in growth.format_table(rows)


def test_real_images_are_shown_at_the_stage_resolution() -> None:
    images = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4) * 10
    low = growth.at_resolution(images, 2, 4)
    assert low.shape == (1, 1, 4, 4) and torch.equal(low[0, 0, :2, :2], torch.full((2, 2), 25, dtype=torch.uint8))
    assert torch.equal(growth.at_resolution(images, 4, 4), images)
    # a stage's own images, already at its size, are only enlarged
    small = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2)
    assert torch.equal(growth.at_resolution(small, 2, 4), small.repeat_interleave(2, 2).repeat_interleave(2, 3))
