"""The memory benchmark (COCO-GAN vs a full-image GAN) on a tiny configuration on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import memory
from benchmarks.__main__ import PROFILES, Profile, plan_memory, run_benchmarks
from core.models import MODELS as FAMILIES
from core.results import device_label

TINY = {"width": 8, "max_width": 16, "z_dim": 8}


def test_both_models_are_measured_in_their_own_process() -> None:
    rows = []
    for scenario in memory.scenarios((32,), batch_size=2, steps=1, warmup=0, device="cpu", **TINY):
        rows += memory.run(scenario)
    assert [(row.model, row.metric) for row in rows] == [
        (model, metric) for model in memory.SCALED_SERIES for metric in memory.METRICS
    ]
    by = {(row.model, row.metric): row for row in rows}
    for model in memory.SCALED_SERIES:
        peak, own, speed = (by[(model, metric)] for metric in memory.METRICS)
        assert peak.error is None and peak.device == device_label("cpu") and peak.dataset == "synthetic"
        assert peak.value > own.value > 0 and speed.value > 0
        assert peak.params["resolution"] == 32 and peak.params["memory_source"] == "process peak RSS (VmHWM)"
        assert peak.params["training_step"] == "core.train.trainer.Trainer.train_step"
    assert by[("progan", "peak_memory_mb")].params["trained_at_px"] == 32  # grown to R, its last stage measured
    coco, full = by[("cocogan", "peak_memory_mb")].params, by[("full-image-gan", "peak_memory_mb")].params
    assert (coco["macro_size"], coco["micro_size"]) == (16, 8) and (full["macro_size"], full["micro_size"]) == (32, 32)
    table = memory.format_table(rows)
    assert "saved (training)" in table and "full-image-gan" in table


def test_fixed_patches_keep_the_networks_the_same_size_as_the_image_grows() -> None:
    family = FAMILIES.get("cocogan")
    sizes, parameters = set(), set()
    for resolution in (128, 256, 512, 1024):
        scenario = memory.Scenario("cocogan-fixed-64-32", resolution, device="cpu", **TINY)
        config = family.make_config(**scenario.model_config())
        networks = family.build(config)
        assert config.image_size == resolution and config.grid == resolution // 32
        sizes.add((config.macro_size, config.micro_size, networks["discriminator"].config.macro_size))
        parameters.add(tuple(sum(p.numel() for p in net.parameters()) for net in networks.values()))
    assert sizes == {(64, 32, 64)} and len(parameters) == 1  # the same networks at every R
    # the scaled series' networks grow with R instead
    scaled = {memory.Scenario("cocogan", r, device="cpu").model_config()["macro_size"] for r in (128, 256)}
    assert scaled == {64, 128}


def test_a_fixed_patch_scenario_gives_rows_of_its_own() -> None:
    rows = memory.run(
        memory.Scenario("cocogan-fixed-64-32", 128, batch_size=2, steps=1, warmup=0, device="cpu", **TINY)
    )
    assert [row.metric for row in rows] == list(memory.METRICS)
    assert all(row.error is None and row.model == "cocogan-fixed-64-32" for row in rows)
    params = rows[0].params
    assert (params["resolution"], params["macro_size"], params["micro_size"]) == (128, 64, 32)
    assert params["patches"] == "fixed: macro 64 px, micro 32 px" and params["sample"] == "macro patch"
    assert "cocogan-fixed-64-32" in memory.format_table(rows)


def test_the_profiles_run_the_fixed_series_to_1024_px() -> None:
    for profile in PROFILES.values():
        plan = plan_memory([], profile, "cpu", Path("results"))
        fixed = [s.resolution for s in plan if s.model in memory.FIXED_SERIES]
        assert fixed == [128, 256, 512, 1024]
        assert {s.model for s in plan if s.model not in memory.FIXED_SERIES} == set(memory.SCALED_SERIES)
    # on 2 CPU cores the full-image GAN stops at 256 px (512 px: ~18 GB and minutes; 1024 px does not fit)
    quick = plan_memory([], PROFILES["quick"], "cpu", Path("results"))
    assert max(s.resolution for s in quick if s.model == "full-image-gan") == 256


def test_growth_is_summarised_per_model() -> None:
    from core.results import Row

    def rows(model: str, resolution: int, mb: float) -> list[Row]:
        return [
            Row("memory", model, "synthetic", metric, mb, unit, "cpu", {"resolution": resolution})
            for metric, unit in memory.METRICS.items()
        ]

    table = memory.format_table(rows("cocogan-fixed-64-32", 128, 400.0) + rows("cocogan-fixed-64-32", 1024, 500.0))
    assert "cocogan-fixed-64-32: training memory x1.25 from 128 to 1024 px" in table


def test_a_failing_scenario_is_error_rows() -> None:
    rows = memory.run(memory.Scenario("cocogan", 32, batch_size=1, steps=1, warmup=0, device="cpu", channels=2))
    assert len(rows) == len(memory.METRICS)
    assert all(row.value is None and "1 or 3" in row.error for row in rows)


def test_scenarios_refuse_bad_settings() -> None:
    with pytest.raises(ValueError, match="power of two"):
        memory.Scenario("cocogan", 48)
    with pytest.raises(ValueError, match="model must be one of"):
        memory.Scenario("stylegan", 64)
    with pytest.raises(ValueError, match="needs a resolution >= 128"):
        memory.Scenario("cocogan-fixed-64-32", 64)


def test_the_runner_includes_memory_without_models(tmp_path: Path) -> None:
    profile = Profile("tiny", "for tests", memory={"resolutions": (16,), "batch_size": 1, "steps": 1, "warmup": 0})
    rows, seconds = run_benchmarks(profile, ["memory"], None, "cpu", tmp_path)
    assert set(seconds) == {"memory"} and {row.model for row in rows} == set(memory.SCALED_SERIES)
    assert all(row.run and row.params["profile"] == "tiny" for row in rows)
    assert (tmp_path / "memory.jsonl").is_file()
