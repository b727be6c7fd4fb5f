"""The memory benchmark (COCO-GAN vs a full-image GAN) on a tiny configuration on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import memory
from benchmarks.__main__ import Profile, run_benchmarks
from core.results import device_label


def test_both_models_are_measured_in_their_own_process() -> None:
    rows = []
    for scenario in memory.scenarios((32,), batch_size=2, steps=1, warmup=0, device="cpu", width=8, max_width=16, z_dim=8):
        rows += memory.run(scenario)
    assert [(row.model, row.metric) for row in rows] == [
        (model, metric) for model in memory.MODELS for metric in memory.METRICS
    ]
    by = {(row.model, row.metric): row for row in rows}
    for model in memory.MODELS:
        peak, own, speed = (by[(model, metric)] for metric in memory.METRICS)
        assert peak.error is None and peak.device == device_label("cpu") and peak.dataset == "synthetic"
        assert peak.value > own.value > 0 and speed.value > 0
        assert peak.params["resolution"] == 32 and peak.params["memory_source"] == "process peak RSS (VmHWM)"
    coco, full = by[("cocogan", "peak_memory_mb")].params, by[("full-image-gan", "peak_memory_mb")].params
    assert (coco["macro_size"], coco["micro_size"]) == (16, 8) and (full["macro_size"], full["micro_size"]) == (32, 32)
    table = memory.format_table(rows)
    assert "saved (training)" in table and "full-image-gan" in table


def test_a_failing_scenario_is_error_rows() -> None:
    rows = memory.run(memory.Scenario("cocogan", 32, batch_size=1, steps=1, warmup=0, device="cpu", channels=2))
    assert len(rows) == len(memory.METRICS)
    assert all(row.value is None and "channels must be 1 or 3" in row.error for row in rows)


def test_scenarios_refuse_bad_settings() -> None:
    with pytest.raises(ValueError, match="power of two"):
        memory.Scenario("cocogan", 48)
    with pytest.raises(ValueError, match="model must be one of"):
        memory.Scenario("stylegan", 64)


def test_the_runner_includes_memory_without_models(tmp_path: Path) -> None:
    profile = Profile("tiny", "for tests", memory={"resolutions": (16,), "batch_size": 1, "steps": 1, "warmup": 0})
    rows, seconds = run_benchmarks(profile, ["memory"], None, "cpu", tmp_path)
    assert set(seconds) == {"memory"} and {row.model for row in rows} == set(memory.MODELS)
    assert all(row.run and row.params["profile"] == "tiny" for row in rows)
    assert (tmp_path / "memory.jsonl").is_file()
