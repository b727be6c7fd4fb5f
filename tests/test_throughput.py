"""The throughput benchmark on tiny exported models and the real Fashion-MNIST subset, on both inference backends."""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import torch

from benchmarks.throughput import GEN_METRICS, IMAGE_METRICS, TRAIN_METRICS, Scenario, format_table, main, run
from core import report
from core.hub import save_model
from core.models import MODELS
from core.models.dcgan import DCGANConfig
from core.onnx import ONNX_FILE, export_onnx
from core.results import device_label, read_rows

ALL_METRICS = {metric for metric, _ in TRAIN_METRICS + GEN_METRICS}


@pytest.fixture
def tiny_model(tmp_path: Path, real_data_env: Path, make_tiny_dcgan) -> Path:
    return make_tiny_dcgan(tmp_path / "dcgan-tiny")


def quick(model: Path, **changes) -> Scenario:
    return Scenario(str(model), **{"device": "cpu", "steps": 2, "warmup": 1, "repeats": 3, **changes})


def test_run_measures_every_metric(tiny_model: Path) -> None:
    rows = run(quick(tiny_model))
    assert {row.metric for row in rows} == ALL_METRICS and len(rows) == len(ALL_METRICS)
    for row in rows:
        assert row.error is None and math.isfinite(row.value) and row.value > 0, row
        assert (row.benchmark, row.model, row.dataset) == ("throughput", "dcgan-tiny", "fashion-mnist")
        assert row.device == device_label("cpu")
    by_metric = {row.metric: row for row in rows}
    train = by_metric["train_images_per_s"]
    assert train.params["batch_size"] == 8 and train.params["steps"] == 2 and train.params["precision"] == "no"
    assert train.data == "Fashion-MNIST, train split, 8,226 of 60,000 images (a subset)"
    assert by_metric["latency_ms_batch64_p90"].value >= by_metric["latency_ms_batch64_median"].value
    assert by_metric["latency_ms_batch1_median"].params == {
        "batch_size": 1, "repeats": 3, "warmup": 1, "precision": "float32", "backend": "torch", "statistic": "median"
    }


def test_a_broken_model_gives_error_rows(broken_generator_dir: Path) -> None:
    rows = run(quick(broken_generator_dir))
    assert {row.metric for row in rows} == ALL_METRICS
    assert all(row.value is None and row.error for row in rows)
    assert "no training.json" in rows[0].error


def test_a_training_setup_for_another_generator_is_refused(tmp_path: Path, real_data_env: Path, make_tiny_dcgan) -> None:
    model = make_tiny_dcgan(tmp_path / "mismatch", {"model_config": {"z_dim": 64}})
    rows = {row.metric: row for row in run(quick(model))}
    assert rows["train_images_per_s"].value is None and "differs" in rows["train_images_per_s"].error
    assert "['z_dim']" in rows["train_images_per_s"].error
    assert all(rows[metric].value > 0 for metric, _ in GEN_METRICS)  # generation is still measured


def test_a_model_exported_before_a_setting_existed_is_still_timed(tiny_model: Path) -> None:
    """config.json of an older export lacks settings added since; they take their defaults, as on loading."""
    model = tiny_model
    config = json.loads((model / "config.json").read_text())
    defaults = {f.name: f.default for f in fields(DCGANConfig) if f.default is not MISSING}
    dropped = [key for key, value in config.items() if key in defaults and defaults[key] == value]
    assert dropped, "the tiny model needs a setting at its default for this test"
    (model / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k not in dropped}))
    rows = {row.metric: row for row in run(quick(model))}
    assert rows["train_images_per_s"].error is None and rows["train_images_per_s"].value > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_an_error_row(tiny_model: Path) -> None:
    rows = run(quick(tiny_model, device="cuda"))
    assert all(row.value is None and "CUDA is not available" in row.error for row in rows)


def test_scenario_refuses_bad_settings(tiny_model: Path) -> None:
    with pytest.raises(ValueError, match="device"):
        quick(tiny_model, device="tpu")
    with pytest.raises(ValueError, match="steps >= 1"):
        quick(tiny_model, steps=0)
    with pytest.raises(ValueError, match="backend"):
        quick(tiny_model, backend="tensorrt")
    with pytest.raises(ValueError, match="onnx backend runs on the CPU"):
        quick(tiny_model, backend="onnx", device="cuda")


def test_the_onnx_backend_is_timed_on_a_temporary_export(tiny_model: Path) -> None:
    """A model without model.onnx is exported into a temporary copy: its folder (pretrained/) is never written."""
    before = sorted(p.name for p in tiny_model.iterdir())
    rows = run(quick(tiny_model, backend="onnx"))
    assert {row.metric for row in rows} == {metric for metric, _ in GEN_METRICS}  # no training rows: torch's
    for row in rows:
        assert row.error is None and row.value > 0, row
        assert row.params["backend"] == "onnx" and row.params["onnx_file"] == "exported for this run"
        assert row.params["precision"] == "float32" and row.model == "dcgan-tiny"
    assert sorted(p.name for p in tiny_model.iterdir()) == before and not (tiny_model / ONNX_FILE).exists()

    export_onnx(tiny_model)  # a model that has its own graph is timed on that one
    again = run(quick(tiny_model, backend="onnx"))
    assert all(row.params["onnx_file"] == ONNX_FILE and row.value > 0 for row in again)


def test_classifiers_and_translators_are_timed_through_their_pipelines(tiny_classifier_dir: Path, tmp_path: Path) -> None:
    spec = MODELS.get("pix2pix")
    config = spec.make_config(image_size=64, in_channels=1, source="edges", width=4, max_width=8)
    translator = save_model(spec.build(config)["translator"], tmp_path / "pix2pix-tiny", family="pix2pix")
    for model in (tiny_classifier_dir, translator):
        for backend in ("torch", "onnx"):
            rows = run(quick(model, backend=backend, training=False))
            assert {row.metric for row in rows} == {metric for metric, _ in IMAGE_METRICS}, model.name
            assert all(row.error is None and row.value > 0 and row.params["backend"] == backend for row in rows)
            assert rows[0].dataset == "unknown"  # no training.json: nothing says what it was trained on
    table = format_table(rows)
    assert "backend" in table.splitlines()[0] and "pix2pix-tiny  cpu" in table and " onnx " in table


def test_cli_appends_rows_prints_a_table_and_fails_on_errors(
    tiny_model: Path, broken_generator_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "throughput.jsonl"
    common = ["--device", "cpu", "--steps", "1", "--warmup", "0", "--repeats", "2", "--out", str(out)]
    assert main(["--models", str(tiny_model), *common]) == 0
    assert main(["--models", str(tiny_model), str(broken_generator_dir), *common]) == 1
    rows = read_rows(out)
    per_model = len(ALL_METRICS) + len(GEN_METRICS)  # torch: training and sampling; onnx (the CPU's default): sampling
    assert len(rows) == 3 * per_model
    assert [row["model"] for row in rows].count("dcgan-broken") == per_model
    assert {row["params"].get("backend") for row in rows if row["metric"] != "train_images_per_s"} == {"torch", "onnx"}
    table = capsys.readouterr().out
    assert "train img/s" in table and "dcgan-tiny" in table and "onnx" in table
    assert "error: dcgan-broken on cpu" in table
    assert main(["--models", str(tiny_model), *common, "--backends", "torch", "--no-training"]) == 0
    assert len(read_rows(out)) == 3 * per_model + len(GEN_METRICS)
    # the summary's and the dashboard's table: a line per backend, training on torch's
    table = report.throughput_table(report.throughput_frame(report.latest(read_rows(out))))
    tiny = table[table["model"] == "dcgan-tiny"].set_index("backend")
    assert sorted(tiny.index) == ["onnx", "torch"] and tiny.loc["onnx", "sample images/s (batch 64)"] > 0
    assert tiny.loc["torch", "train images/s"] > 0 and tiny["train images/s"].isna()["onnx"]


def test_a_model_trained_on_one_thread_is_timed_on_the_process_threads(tmp_path: Path, real_data_env: Path,
                                                                       make_tiny_dcgan) -> None:
    # its run chose threads=1 to share the cores; the trainer sets threads for the whole process, which must not
    # leak into the models measured after it
    model = make_tiny_dcgan(tmp_path / "one-thread", train_overrides={"threads": 1})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rows = run(quick(model, repeats=1))
        assert not any(row.error for row in rows)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
