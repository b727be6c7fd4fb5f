"""core.report: reading result rows, picking the newest run, the tables and results/summary.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core import report
from core.errors import UserError
from core.paths import PROJECT_ROOT, RESULTS_DIR

DEVICE = "cpu (2 threads)"
FMNIST_DATA = "Fashion-MNIST, test split, 4,443 of 10,000 images (a subset)"


def row(benchmark: str, model: str, metric: str, value: float | None, **fields: Any) -> dict[str, Any]:
    """A result row as core.results writes it; `fields` override the defaults (params, run, timestamp, ...)."""
    base = {
        "benchmark": benchmark,
        "model": model,
        "dataset": "fashion-mnist",
        "metric": metric,
        "value": value,
        "unit": "",
        "device": DEVICE,
        "params": {},
        "data": FMNIST_DATA,
        "error": None,
        "run": "",
        "versions": {"python": "3.11.7"},
        "commit": "abc1234",
        "timestamp": "2026-11-22T07:10:00+00:00",
    }
    return {**base, **fields}


def quality(model: str, metric: str, value: float | None, role: str = "model", **fields: Any) -> dict[str, Any]:
    params = {
        "role": role,
        "extractor": "features-fashion-mnist",
        "reference_split": "train",
        "n_real": 4443,
        "n_generated": 4443,
        "seed": 0,
        "kid_subsets": 10,
        "kid_subset_size": 1000,
        "prc_neighborhood": 3,
        "profile": "quick",
    }
    return row("quality", model, metric, value, **{"params": params, "run": "run-2", **fields})


def quality_run() -> list[dict[str, Any]]:
    """The newest quality run: a generator, both baselines, and one failed measurement."""
    scores = {
        "dcgan-fashion-mnist": (12.5, 0.0123, 0.0004, 0.71, 0.52, "model"),
        "real-test-split": (1.25, 0.0002, 0.0001, 0.80, 0.79, "baseline"),
        "dcgan-fashion-mnist-untrained": (310.0, 0.4321, 0.0100, 0.0, 0.0, "baseline"),
    }
    rows = []
    for model, (fid, kid, kid_std, precision, recall, role) in scores.items():
        for metric, value in (
            ("fid", fid),
            ("kid_mean", kid),
            ("kid_std", kid_std),
            ("precision", precision),
            ("recall", recall),
        ):
            rows.append(quality(model, metric, value, role))
    rows.append(
        quality(
            "dcgan-clothing-64",
            "fid",
            None,
            dataset="clothing",
            error="out of memory at batch 512",
            data="Clothing photos, test split, 372 images (complete split)",
        )
    )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- load_rows ---


def test_load_rows_reads_every_file_and_skips_blank_lines(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "quality.jsonl", quality_run())
    (tmp_path / "throughput.jsonl").write_text(
        json.dumps(row("throughput", "dcgan-fashion-mnist", "train_images_per_s", 812.5)) + "\n\n  \n"
    )
    (tmp_path / "notes.txt").write_text("not rows")
    rows = report.load_rows(tmp_path)
    assert len(rows) == 17
    assert {r["benchmark"] for r in rows} == {"quality", "throughput"}
    assert report.load_rows(tmp_path / "missing") == []


def test_load_rows_skips_a_malformed_row_naming_file_and_line(tmp_path: Path) -> None:
    good = json.dumps(row("throughput", "m", "train_images_per_s", 1.0))
    (tmp_path / "throughput.jsonl").write_text(f"{good}\n\n{{not json\n")
    problems: list[str] = []
    with pytest.warns(UserWarning, match=r"throughput\.jsonl, line 3: skipped, not valid JSON"):
        assert [r["value"] for r in report.load_rows(tmp_path, problems)] == [1.0]
    assert len(problems) == 1
    (tmp_path / "throughput.jsonl").write_text(f'{good}\n{{"benchmark": "throughput"}}\n')
    with pytest.warns(UserWarning, match=r"line 2: skipped, not a result row \(missing fields: \['dataset', 'device'"):
        assert len(report.load_rows(tmp_path)) == 1
    wrong_types = dict(json.loads(good), params=["a"], value="3")
    (tmp_path / "throughput.jsonl").write_text(f"{good}\n{json.dumps(wrong_types)}\n")
    with pytest.warns(UserWarning, match=r"line 2: skipped, not a result row \(value is str\)"):
        assert len(report.load_rows(tmp_path)) == 1


def test_an_append_after_a_torn_one_repairs_the_file(tmp_path: Path) -> None:
    """A kill mid-append leaves a last line without its newline; the next append cuts it off, so the file is
    whole rows again, and every reader sees every complete row."""
    from core.results import Row, append_rows, read_rows

    path = tmp_path / "quality.jsonl"
    first = Row("quality", "a", "fashion-mnist", "fid", 1.0, "", "cpu", {}, "")
    append_rows([first], path)
    with path.open("a") as f:
        f.write('{"benchmark": "quality", "model": "b", "data')  # torn
    with pytest.warns(UserWarning, match="torn last line"):
        append_rows([Row("quality", "c", "fashion-mnist", "fid", 3.0, "", "cpu", {}, "")], path)
    assert [r["model"] for r in read_rows(path)] == ["a", "c"]
    assert path.read_text().count("\n") == 2


def test_report_does_not_import_torch() -> None:
    """The dashboard Space has no torch: reading and shaping rows must not need it."""
    code = "import sys, core.report; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- latest ---


def test_latest_keeps_only_the_newest_run_of_each_benchmark() -> None:
    old_quality = [quality("dcgan-fashion-mnist", "fid", 99.0, run="run-1", timestamp="2026-11-20T10:00:00+00:00")]
    new_quality = quality_run()
    legacy_throughput = [  # two module runs without a run id: one run, the newer row of each measurement wins
        row("throughput", "dcgan-fashion-mnist", "train_images_per_s", 600.0, timestamp="2026-11-22T03:00:00+00:00"),
        row("throughput", "dcgan-fashion-mnist", "train_images_per_s", 690.0, timestamp="2026-11-22T03:20:00+00:00"),
        row(
            "throughput", "dcgan-fashion-mnist", "latency_ms_batch1_median", 0.93, timestamp="2026-11-22T03:00:00+00:00"
        ),
    ]
    # Legacy robustness rows (no "run" field at all) lose to a newer named run.
    legacy_robustness = [row("robustness", "clf", "accuracy", 0.9, timestamp="2026-11-22T05:00:00+00:00")]
    for legacy in legacy_robustness:
        del legacy["run"]
    new_robustness = [
        row(
            "robustness",
            "clf",
            "accuracy",
            0.8,
            run="run-2",
            timestamp="2026-11-23T05:00:00+00:00",
            params={"attack": "pgd", "mask": False, "epsilon": 0.0, "correct": 80},
        )
    ]
    rows = old_quality + legacy_robustness + new_quality + legacy_throughput + new_robustness

    kept = report.latest(rows)
    assert sum(r["benchmark"] == "quality" for r in kept) == len(new_quality)
    assert all(r["run"] == "run-2" for r in kept if r["benchmark"] in ("quality", "robustness"))
    assert 99.0 not in [r["value"] for r in kept]
    throughput = {r["metric"]: r["value"] for r in kept if r["benchmark"] == "throughput"}
    assert throughput == {"train_images_per_s": 690.0, "latency_ms_batch1_median": 0.93}
    assert [r["value"] for r in kept if r["benchmark"] == "robustness"] == [0.8]
    assert report.latest(rows, "throughput") == [r for r in kept if r["benchmark"] == "throughput"]
    assert report.latest(kept) == kept  # idempotent: summary_markdown may be given either


def test_an_interrupted_run_replaces_only_the_models_it_measured() -> None:
    """A `make bench` killed after two of four models is the newest run, but the other two keep their figures
    from the last run that measured them, and each model's figures come from one run only."""
    def fid(model: str, value: float, run: str, day: int, n: int = 4443) -> dict[str, Any]:
        return quality(model, "fid", value, run=run, timestamp=f"2026-11-{day:02d}T10:00:00+00:00") | {
            "params": {"n_generated": n}}

    full = [fid(m, v, "full", 20) for m, v in (("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0))]
    cut = [fid("a", 1.5, "cut", 21, n=1000), fid("b", 2.5, "cut", 21, n=1000)]
    kept = {r["model"]: (r["value"], r["run"]) for r in report.latest(full + cut)}
    assert kept == {"a": (1.5, "cut"), "b": (2.5, "cut"), "c": (3.0, "full"), "d": (4.0, "full")}


def test_latest_keeps_the_newest_row_of_a_measurement_repeated_in_one_run() -> None:
    first = row("robustness", "clf", "accuracy", 0.5, run="r", params={"epsilon": 0.1, "correct": 50})
    again = row(
        "robustness",
        "clf",
        "accuracy",
        0.6,
        run="r",
        params={"epsilon": 0.1, "correct": 60},
        timestamp="2026-11-22T08:00:00+00:00",
    )
    other = row("robustness", "clf", "accuracy", 0.4, run="r", params={"epsilon": 0.2, "correct": 40})
    assert [r["value"] for r in report.latest([first, again, other])] == [0.6, 0.4]


def test_latest_keeps_the_newest_run_of_each_kind_of_device() -> None:
    def memory(value: float, device: str, run: str, timestamp: str) -> dict[str, Any]:
        return row("memory", "cocogan", "peak_memory_mb", value, device=device, run=run, timestamp=timestamp,
                   params={"resolution": 256})

    old_cpu = memory(2500.0, "cpu (2 threads)", "cpu-1", "2026-11-20T10:00:00+00:00")
    gpu = memory(1931.0, "cuda (NVIDIA H200)", "gpu-1", "2026-11-21T10:00:00+00:00")
    new_cpu = memory(2136.0, "cpu (16 threads)", "cpu-2", "2026-11-22T10:00:00+00:00")
    # A newer GPU run does not hide the CPU figures, and a newer CPU run (other thread count) replaces the old one.
    assert sorted(r["value"] for r in report.latest([old_cpu, gpu])) == [1931.0, 2500.0]
    assert sorted(r["value"] for r in report.latest([old_cpu, gpu, new_cpu])) == [1931.0, 2136.0]
    assert report.device_kind("cuda:1 (NVIDIA H200)") == "cuda"


def test_a_training_benchmark_keeps_the_newest_row_of_each_scenario() -> None:
    def fid(model: str, family: str, value: float, run: str, timestamp: str) -> dict[str, Any]:
        return row("collection", model, "fid", value, run=run, timestamp=timestamp,
                   params={"family": family, "networks": "shipped", "epochs": 10, "seed": 0, "steps": 1280})

    first = [fid("gan", "gan", 3.0, "full", "2026-11-20T10:00:00+00:00"),
             fid("infogan", "infogan", 4.6, "full", "2026-11-20T10:00:00+00:00")]
    rerun = [fid("infogan", "infogan", 4.1, "fix", "2026-11-21T10:00:00+00:00")]  # one family trained again
    assert sorted((r["model"], r["value"]) for r in report.latest(first + rerun)) == [("gan", 3.0), ("infogan", 4.1)]
    other_budget = fid("gan", "gan", 2.0, "long", "2026-11-22T10:00:00+00:00")
    other_budget["params"]["epochs"] = 50  # another scenario: both stay
    assert sorted(r["value"] for r in report.latest([*first, other_budget]) if r["model"] == "gan") == [2.0, 3.0]


# --- frames ---


def test_leaderboard_frame_ranks_by_fid_with_protocol() -> None:
    board = report.leaderboard_frame(quality_run())
    assert list(board["model"]) == ["real-test-split", "dcgan-fashion-mnist", "dcgan-fashion-mnist-untrained"]
    assert list(board["role"]) == ["baseline", "model", "baseline"]
    first = board.iloc[1]
    assert (first["FID"], first["KID"], first["KID std"], first["precision"], first["recall"]) == (
        12.5,
        0.0123,
        0.0004,
        0.71,
        0.52,
    )
    assert (first["extractor"], first["n_real"], first["n_generated"], first["split"]) == (
        "features-fashion-mnist",
        4443,
        4443,
        "train",
    )
    assert (first["seed"], first["profile"], first["device"], first["commit"]) == (0, "quick", DEVICE, "abc1234")
    assert first["date"] == "2026-11-22 07:10 UTC"
    assert report.leaderboard_frame([]).empty

    # The dashboard shows what every row shares as one line, and keeps what differs as columns.
    more = quality("dcgan-fashion-mnist-full", "fid", 10.0, timestamp="2026-11-22T09:00:00+00:00")
    more["params"] = {**more["params"], "n_generated": 10000}
    table, line = report.split_protocol(report.leaderboard_frame([*quality_run(), more]).drop(columns="dataset"))
    assert "n_generated" in table and "date" in table and "n_real" not in table and "extractor" not in table
    assert line.startswith("features from features-fashion-mnist · real images 4,443 · reference split train · seed 0")


def test_chart_frames_and_figures() -> None:
    frame = report.quality_frame(quality_run())
    kid = frame[(frame["metric"] == "kid_mean") & (frame["model"] == "dcgan-fashion-mnist")].iloc[0]
    assert kid["error_bar"] == 0.0004 and "kid_std" not in set(frame["metric"])
    figure = report.quality_figure(frame, "fid")
    assert [trace.name for trace in figure.data] == ["model", "baseline"]
    assert figure.layout.title.text == "FID (lower is better)"

    curve = [
        row(
            "robustness",
            "clf",
            "accuracy",
            value,
            unit="fraction",
            params={"attack": "pgd", "mask": mask, "epsilon": eps, "n_images": 100},
        )
        for mask in (False, True)
        for eps, value in ((0.0, 0.9), (0.1, 0.25))
    ]
    robustness = report.robustness_frame(curve)
    assert list(robustness["accuracy"]) == pytest.approx([90.0, 25.0, 90.0, 25.0])
    table = report.robustness_table(robustness)
    assert list(table.columns) == ["model", "attack", "pixels", "ε=0", "ε=0.1"]
    assert list(table["pixels"]) == ["all pixels", "garment pixels only"]
    assert len(report.robustness_figure(robustness).data) == 2

    memory = report.memory_frame(
        [
            row("memory", model, "peak_memory_mb", mb, unit="MB", params={"resolution": res, "batch_size": 8})
            for model, res, mb in (("cocogan", 64, 100.0), ("cocogan", 256, 300.0), ("full-image-gan", 64, 200.0))
        ]
    )
    assert list(memory["resolution"]) == [64, 256, 64]
    assert list(report.memory_figure(memory, "peak_memory_mb").layout.xaxis.tickvals) == [64, 256]


def test_charts_stay_readable_as_results_grow() -> None:
    """What the screenshots showed: CPU and CUDA lines of one model in one colour, latency labels running into
    each other, an epsilon axis crowded with ticks."""
    memory = report.memory_frame([
        row("memory", "cocogan", "peak_memory_mb", mb, unit="MB", device=device, params={"resolution": 64, "batch_size": 8})
        for device, mb in (("cpu (2 threads)", 100.0), ("cuda (NVIDIA H200)", 80.0))])
    lines = report.memory_figure(memory, "peak_memory_mb").data
    assert sorted(line.name.split(",")[0] for line in lines) == ["cocogan (cpu)", "cocogan (cuda)"]
    assert len({line.line.color for line in lines}) == 2

    many = report.throughput_frame([
        row("throughput", f"model-{i}", "latency_ms_batch1_median", 1.0 + i, unit="ms", params={"batch_size": 1})
        for i in range(14)])
    assert all(trace.text is None for trace in report.throughput_figure(many, "ms").data)
    few = report.throughput_frame([row("throughput", "m", "latency_ms_batch1_median", 1.25, unit="ms", params={"batch_size": 1})])
    assert list(report.throughput_figure(few, "ms").data[0].text) == ["1.25"]

    curve = report.robustness_frame([
        row("robustness", "clf", "accuracy", 0.5, unit="fraction",
            params={"attack": "pgd", "mask": False, "epsilon": eps, "n_images": 10})
        for eps in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3)])
    ticks = list(report.robustness_figure(curve).layout.xaxis.tickvals)
    assert len(ticks) <= 6 and ticks[0] == 0.0


# --- summary_markdown ---


def test_summary_markdown_tables_protocol_and_errors() -> None:
    rows = [
        quality("dcgan-fashion-mnist", "fid", 99.0, run="run-1", timestamp="2026-11-20T10:00:00+00:00"),
        *quality_run(),
        row("throughput", "dcgan-fashion-mnist", "train_images_per_s", 812.5, unit="images/s"),
        row("throughput", "dcgan-fashion-mnist", "latency_ms_batch1_median", 0.93, unit="ms"),
        *[
            row(
                "robustness",
                "classifier-conv-fashion-mnist",
                "accuracy",
                value,
                unit="fraction",
                params={"attack": "pgd", "mask": False, "epsilon": eps},
            )
            for eps, value in ((0.0, 0.9012), (0.1, 0.0432))
        ],
        row("robustness", "classifier-conv-fashion-mnist", "curve_seconds", 120.0, unit="s", params={"attack": "pgd"}),
        row(
            "memory",
            "cocogan",
            "peak_memory_mb",
            1536.0,
            unit="MB",
            device="cuda (NVIDIA H200)",
            params={"resolution": 256, "batch_size": 16},
        ),
        row(
            "memory",
            "cocogan",
            "images_per_s",
            420.0,
            unit="images/s",
            device="cuda (NVIDIA H200)",
            params={"resolution": 256, "batch_size": 16},
        ),
    ]
    text = report.summary_markdown(rows)
    lines = text.splitlines()
    assert lines[0] == "# Benchmark results"
    sections = [line for line in lines if line.startswith("## ")]
    assert sections == [f"## {report.TITLES[name]}" for name in ("quality", "throughput", "robustness", "memory")]

    # quality: per dataset and extractor, best FID first, the old run's 99.0 gone
    assert "### fashion-mnist, features from `features-fashion-mnist`" in lines
    table = [line for line in lines if line.startswith("| ") and ("dcgan-fashion-mnist" in line or "real-" in line)]
    assert table[:3] == [
        "| real-test-split | baseline | 4,443 / 4,443 | 1.25 | 0.0002 ± 0.0001 | 0.8000 | 0.7900 |",
        "| dcgan-fashion-mnist | model | 4,443 / 4,443 | 12.50 | 0.0123 ± 0.0004 | 0.7100 | 0.5200 |",
        "| dcgan-fashion-mnist-untrained | baseline | 4,443 / 4,443 | 310.0 | 0.4321 ± 0.0100 | 0.0000 | 0.0000 |",
    ]
    assert "99.00" not in text
    assert "Measured: run `run-2`, on cpu (2 threads), profile quick, commit abc1234, 2026-11-22 07:10 UTC." in lines
    assert f"- {FMNIST_DATA}" in lines
    assert "### Errors (1)" in lines
    assert "- dcgan-clothing-64 (clothing), `fid`: out of memory at batch 512" in lines

    # throughput, robustness (percent per epsilon), memory (resolution x model)
    assert "| dcgan-fashion-mnist | fashion-mnist | cpu (2 threads) | torch | 812.5 | 0.9300 |" in lines
    assert "| classifier-conv-fashion-mnist | pgd | all pixels | 90.1 | 4.3 |" in lines
    assert "The curves took 2.0 minutes in total." in lines
    assert "| model | device | resolution | batch_size | peak memory (MB) | images/s |" in lines
    assert "| cocogan | cuda (NVIDIA H200) | 256 | 16 | 1,536.0 | 420.0 |" in lines


def test_summary_markdown_without_rows() -> None:
    assert report.summary_markdown([]) == f"# Benchmark results\n\n{report.NO_RESULTS}\n"


def test_summary_markdown_of_the_committed_results() -> None:
    """The real files (with legacy rows that have no run id) give a section per benchmark, with no NaN."""
    rows = report.load_rows(RESULTS_DIR)
    if not rows:
        pytest.skip("no results committed")
    text = report.summary_markdown(rows)
    for benchmark in report.benchmarks(rows):
        assert f"## {report.TITLES.get(benchmark, benchmark.capitalize())}" in text
    assert "Traceback" not in text and "nan" not in text


# --- resolve_source ---


def test_resolve_source_local(tmp_path: Path) -> None:
    assert report.resolve_source(None) == RESULTS_DIR
    assert report.resolve_source("") == RESULTS_DIR
    assert report.resolve_source(str(tmp_path)) == tmp_path


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/results", "is neither an existing folder nor a Hub dataset repo id"),
        ("./results-missing", "is neither an existing folder nor a Hub dataset repo id"),
        ("not a repo", "is neither an existing folder nor a Hub dataset repo id"),
    ],
)
def test_resolve_source_missing_folder(source: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        report.resolve_source(source)


def test_resolve_source_file_is_an_error(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "quality.jsonl", quality_run())
    with pytest.raises(UserError, match="is a file; give the folder"):
        report.resolve_source(str(file))


def test_resolve_source_hub_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # nothing cached
    with pytest.raises(UserError) as caught:
        report.resolve_source("someone/fashion-gan-lab-results")
    message = str(caught.value)
    assert message.startswith("cannot read results from the Hub dataset 'someone/fashion-gan-lab-results': ")
    assert "the Hub is switched off (HF_HUB_OFFLINE=1)" in message and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_sample_grids(tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    for name in ("dcgan-fashion-mnist.png", "dcgan-clothing-64.png", "notes.txt"):
        (tmp_path / "samples" / name).write_bytes(b"")
    assert report.sample_grids(tmp_path) == {
        "dcgan-clothing-64": tmp_path / "samples" / "dcgan-clothing-64.png",
        "dcgan-fashion-mnist": tmp_path / "samples" / "dcgan-fashion-mnist.png",
    }
    assert report.sample_grids(tmp_path / "missing") == {}


def test_quality_against_sampling_cost_joins_quality_and_throughput_rows() -> None:
    def scored(model: str, fid: float, kid: float, **params: Any) -> list[dict[str, Any]]:
        base = {"role": "model", "candidate": "trained", "extractor": "features-fashion-mnist", "n_generated": 1000,
                "generator": model.split("@")[0], **params}
        return [row("quality", model, "fid", fid, params=base), row("quality", model, "kid_mean", kid, params=base)]

    def speed(model: str, images_per_s: float) -> dict[str, Any]:
        return row("throughput", model, "gen_images_per_s_batch64", images_per_s, unit="images/s")

    rows = [*scored("dcgan-fashion-mnist", 12.0, 0.01), speed("dcgan-fashion-mnist", 5000.0),
            *scored("ddpm-fashion-mnist-32", 20.0, 0.02, sampling_steps=50), speed("ddpm-fashion-mnist-32", 4.0),
            *scored("ddpm-fashion-mnist-32@10steps", 40.0, 0.05, sampling_steps=10),
            speed("ddpm-fashion-mnist-32@10steps", 20.0),
            *scored("gan-fashion-mnist", 9.0, 0.008),  # no throughput row: not on the plot
            row("throughput", "dcgan-fashion-mnist", "gen_images_per_s_batch64", 10.0, device="cuda (NVIDIA H200)")]
    frame = report.cost_frame(rows)
    assert sorted(frame["model"]) == ["dcgan-fashion-mnist", "ddpm-fashion-mnist-32", "ddpm-fashion-mnist-32@10steps"]
    by_model = frame.set_index("model")
    assert by_model.loc["ddpm-fashion-mnist-32", "ms_per_image"] == pytest.approx(250.0)
    assert by_model.loc["dcgan-fashion-mnist", "ms_per_image"] == pytest.approx(0.2)  # the CPU row, not the GPU's
    assert by_model.loc["ddpm-fashion-mnist-32@10steps", "kind"] == "diffusion"
    assert by_model.loc["dcgan-fashion-mnist", "kind"] == "GAN"
    assert list(report.cost_table(frame)["model"]) == ["dcgan-fashion-mnist", "ddpm-fashion-mnist-32@10steps",
                                                       "ddpm-fashion-mnist-32"]
    figure = report.cost_figure(frame, "kid_mean")
    assert figure.layout.xaxis.type == "log" and any(trace.mode == "lines" for trace in figure.data)
    summary = report.summary_markdown(rows)
    assert "## Quality against sampling cost: GANs and diffusion" in summary
    assert "| ddpm-fashion-mnist-32@10steps | diffusion | 10 | 50 |" in summary


def test_diffusion_reach_names_the_training_images_needed_for_the_best_gans_fid() -> None:
    def gan(model: str, fid: float, n: int = 4443) -> dict[str, Any]:
        return row("quality", model, "fid", fid, params={"candidate": "trained", "extractor": "features-fashion-mnist",
                                                         "n_generated": n})

    def snapshot(epoch: int, fid: float) -> dict[str, Any]:
        return row("timeline", "ddpm-fashion-mnist-32", "fid", fid, params={
            "epoch": epoch, "images_seen": epoch * 8226, "sampling_steps": 10, "n_generated": 4443,
            "extractor": "features-fashion-mnist"})

    rows = [gan("gan-fashion-mnist", 9.0), gan("dcgan-fashion-mnist", 12.0), gan("gan-fashion-mnist", 5.0, n=1000),
            snapshot(2, 30.0), snapshot(10, 8.5), snapshot(5, 11.0)]
    (line,) = report.diffusion_reach(rows)
    assert "reached the best GAN's FID (gan-fashion-mnist: 9.00) after 82,260 training images (epoch 10" in line
    (line,) = report.diffusion_reach(rows[:3] + rows[3:4])
    assert "did not reach the best GAN's FID (gan-fashion-mnist: 9.00) within 16,452 training images" in line
