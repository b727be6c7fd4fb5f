"""The Streamlit dashboard (apps/dashboard): every page renders from a results folder, empty or full, never crashing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.paths import PROJECT_ROOT

APP = PROJECT_ROOT / "apps" / "dashboard" / "app.py"
PAGES = {
    "views/quality.py": "Quality",
    "views/robustness.py": "Robustness",
    "views/performance.py": "Memory & throughput",
    "views/samples.py": "Samples",
}


def row(benchmark: str, model: str, metric: str, value: float | None, **fields: Any) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "model": model,
        "dataset": "fashion-mnist",
        "metric": metric,
        "value": value,
        "unit": "",
        "device": "cpu (2 threads)",
        "params": {},
        "data": "Fashion-MNIST, test split, 4,443 images",
        "error": None,
        "run": "run-1",
        "versions": {},
        "commit": "abc1234",
        "timestamp": "2026-11-22T07:10:00+00:00",
        **fields,
    }


def results_folder(folder: Path) -> Path:
    """A results/ folder with every benchmark: quality (a generator, both baselines, a failure), throughput,
    robustness, memory, and a sample grid."""
    quality = []
    for model, role, fid in (
        ("dcgan-fashion-mnist", "model", 12.5),
        ("real-test-split", "baseline", 1.2),
        ("dcgan-fashion-mnist-untrained", "baseline", 310.0),
    ):
        params = {
            "role": role,
            "extractor": "features-fashion-mnist",
            "reference_split": "train",
            "n_real": 4443,
            "n_generated": 4443,
            "seed": 0,
            "profile": "quick",
        }
        for metric, value in (
            ("fid", fid),
            ("kid_mean", fid / 1000),
            ("kid_std", 0.0001),
            ("precision", 0.7),
            ("recall", 0.5),
        ):
            quality.append(row("quality", model, metric, value, params=params))
    quality.append(
        row(
            "quality",
            "dcgan-clothing-64",
            "fid",
            None,
            dataset="clothing",
            error="feature extractor missing",
            params={"role": "model", "extractor": "classifier-clothing-64"},
        )
    )
    throughput = [
        row(
            "throughput", "dcgan-fashion-mnist", "train_images_per_s", 690.0, unit="images/s", params={"batch_size": 64}
        ),
        row("throughput", "dcgan-fashion-mnist", "latency_ms_batch1_median", 0.93, unit="ms", params={"batch_size": 1}),
    ]
    robustness = [
        row(
            "robustness",
            "classifier-conv-fashion-mnist",
            "accuracy",
            value,
            unit="fraction",
            params={"attack": attack, "mask": mask, "epsilon": eps, "n_images": 4443},
        )
        for attack in ("pgd", "noise")
        for mask in (False, True)
        for eps, value in ((0.0, 0.9), (0.1, 0.3))
    ]
    memory = [
        row(
            "memory",
            model,
            metric,
            value * res,
            unit=unit,
            device="cuda (NVIDIA H200)",
            params={"resolution": res, "batch_size": 8},
        )
        for model in ("cocogan", "full-image-gan")
        for res in (64, 256)
        for metric, value, unit in (("peak_memory_mb", 2.0, "MB"), ("images_per_s", 1.5, "images/s"))
    ]
    for name, rows in (
        ("quality", quality),
        ("throughput", throughput),
        ("robustness", robustness),
        ("memory", memory),
    ):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "samples").mkdir()
    Image.new("L", (62, 62), 128).save(folder / "samples" / "dcgan-fashion-mnist.png")
    return folder


def run_app(monkeypatch: pytest.MonkeyPatch, source: str) -> AppTest:
    monkeypatch.setenv("RESULTS_SOURCE", source)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.title, *at.header, *at.subheader, *at.markdown, *at.caption])


def test_every_page_renders_results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = run_app(monkeypatch, str(results_folder(tmp_path)))

    # Leaderboard: ranked by FID, protocol columns, the failure listed
    assert at.title[0].value == "Leaderboard" and not at.info
    assert [s.value for s in at.subheader] == ["fashion-mnist"]
    board = at.dataframe[0].value
    assert list(board["model"]) == ["real-test-split", "dcgan-fashion-mnist", "dcgan-fashion-mnist-untrained"]
    assert list(board["role"]) == ["baseline", "model", "baseline"]
    assert list(board.columns) == ["model", "role", "FID", "KID", "KID std", "precision", "recall"]
    # the protocol, the same for every row here, is one line above the table
    assert (
        "Every row: features from features-fashion-mnist · real images 4,443 · generated images 4,443 · "
        "reference split train · seed 0 · profile quick · device cpu (2 threads) · commit abc1234"
    ) in texts(at)
    assert "run `run-1`, on cpu (2 threads), profile quick, commit abc1234" in texts(at)
    assert "dcgan-clothing-64 (clothing), `fid`: feature extractor missing" in at.warning[0].value

    at.switch_page("views/quality.py").run()
    assert not at.exception and at.title[0].value == "Quality" and not at.info
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # FID, KID, precision, recall
    assert '"baseline"' in charts[0].proto.spec
    at.toggle[0].set_value(False).run()  # hide the baselines
    assert not at.exception and '"baseline"' not in at.get("plotly_chart")[0].proto.spec
    assert "feature extractor missing" in at.warning[0].value

    at.switch_page("views/robustness.py").run()
    assert not at.exception and at.title[0].value == "Robustness" and not at.info
    assert len(at.get("plotly_chart")) == 1
    table = at.dataframe[0].value
    assert list(table["attack"]) == ["pgd", "pgd"]  # PGD only by default
    assert list(table["ε=0.1"]) == pytest.approx([30.0, 30.0])

    at.switch_page("views/performance.py").run()
    assert not at.exception and at.title[0].value == "Memory & throughput" and not at.info
    assert len(at.get("plotly_chart")) == 4  # memory: MB, images/s; throughput: images/s, ms
    memory, throughput = (frame.value for frame in at.dataframe)
    assert list(memory["resolution"]) == [64, 256, 64, 256]
    assert list(memory["peak memory (MB)"]) == [128.0, 512.0, 128.0, 512.0]
    assert list(throughput["model"]) == ["dcgan-fashion-mnist"]

    at.switch_page("views/samples.py").run()
    assert not at.exception and at.title[0].value == "Samples" and not at.info
    assert at.image[0].captions == ["dcgan-fashion-mnist (fashion-mnist)"]


def test_empty_results_say_so_on_every_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = run_app(monkeypatch, str(tmp_path))
    assert at.info[0].value.startswith("No quality results yet: run `make bench`")
    expected = {
        "views/quality.py": ["No quality results yet"],
        "views/robustness.py": ["No robustness results yet"],
        "views/performance.py": ["No memory results yet", "No throughput results yet"],
        "views/samples.py": ["No sample grids yet"],
    }
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.title[0].value == title
        assert [info.value.split(":")[0] for info in at.info] == expected[page]
        assert not at.get("plotly_chart") and not at.warning
        assert "None" not in [m.value for m in at.markdown]  # no stray Streamlit "magic" output


def test_only_failed_measurements_are_listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for benchmark in ("quality", "throughput", "robustness", "memory"):
        failed = row(benchmark, "some-model", "some_metric", None, error=f"{benchmark} crashed")
        (tmp_path / f"{benchmark}.jsonl").write_text(json.dumps(failed) + "\n")
    at = run_app(monkeypatch, str(tmp_path))
    for page in ["views/leaderboard.py", *PAGES]:
        at.switch_page(page).run()
        assert not at.exception, page
        if page == "views/samples.py":
            continue
        assert all(info.value.startswith("Every ") and "failed" in info.value for info in at.info), page
        assert "crashed" in at.warning[0].value
        assert "None" not in [m.value for m in at.markdown]  # no stray Streamlit "magic" output


def test_unreadable_sources_are_one_error_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = run_app(monkeypatch, "someone/fashion-gan-lab-results")
    assert len(at.error) == 1
    assert "Hub dataset 'someone/fashion-gan-lab-results'" in at.error[0].value
    assert "HF_HUB_OFFLINE=1" in at.error[0].value and not at.title

    at = run_app(monkeypatch, str(tmp_path / "missing"))
    assert "is neither an existing folder nor a Hub dataset repo id" in at.error[0].value

    (tmp_path / "quality.jsonl").write_text("{broken\n")
    at = run_app(monkeypatch, str(tmp_path))  # a torn line is skipped and said, the page still renders
    assert not at.exception and not at.error and at.title
    assert "quality.jsonl, line 1: skipped, not valid JSON" in at.warning[0].value


def test_the_collection_page_shows_the_families_their_timelines_and_the_reference(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trained = {"candidate": "trained", "role": "model", "extractor": "features-fashion-mnist"}
    rows = [
        row("quality", "gan-fashion-mnist", "fid", 3.2, params=trained),
        row("quality", "cgan-fashion-mnist", "fid", 2.1, params=trained),
        row("quality", "cgan-fashion-mnist", "conditional_accuracy", 0.88, params=trained),
        *[row("timeline", "gan-fashion-mnist", "fid", fid, params={"epoch": epoch}) for epoch, fid in ((1, 60.0), (50, 3.2))],
        *[row("timeline", "gan-fashion-mnist", "recall", 0.5, params={"epoch": epoch}) for epoch in (1, 50)],
        row("collection", "gan", "fid", 3.9, params={"family": "gan", "networks": "shipped", "epochs": 10}),
        row("collection", "gan", "train_images_per_s", 700.0, unit="images/s",
            params={"family": "gan", "networks": "shipped", "epochs": 10}),
        row("collection", "wgan-gp", "fid", None, error="diverged", params={"family": "wgan-gp", "networks": "shipped"}),
    ]
    for name in ("quality", "timeline", "collection"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["benchmark"] == name))
    (tmp_path / "samples" / "collection").mkdir(parents=True)
    Image.new("L", (62, 62), 128).save(tmp_path / "samples" / "collection" / "gan-epoch10.png")
    at = run_app(monkeypatch, str(tmp_path))
    at.switch_page("views/collection.py").run()
    assert not at.exception and at.title[0].value == "The classic collection" and not at.info
    side, reference = (frame.value for frame in at.dataframe)
    assert list(side["model"]) == ["gan-fashion-mnist", "cgan-fashion-mnist"]  # the collection's order
    assert side.iloc[0]["FID @ epoch 1"] == 60.0 and side.iloc[1]["cond. accuracy"] == 0.88
    assert side.iloc[0]["FID @ 10 epochs (collection benchmark)"] == 3.9
    assert list(reference["family"]) == ["gan"] and reference.iloc[0]["reference_fid"] == 8.07
    assert bool(reference.iloc[0]["fid_met"]) is True
    assert len(at.get("plotly_chart")) == 2  # FID and recall against the epoch
    assert at.image[0].captions == ["gan-epoch10"]
    assert "wgan-gp (fashion-mnist), `fid`: diverged" in at.warning[0].value


def test_the_collection_page_says_what_to_run_when_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = run_app(monkeypatch, str(tmp_path))
    at.switch_page("views/collection.py").run()
    assert not at.exception
    assert [info.value.split(":")[0] for info in at.info] == [
        "No collection results yet", "No timeline results yet", "No collection results yet"]
    assert any("--only collection" in caption.value for caption in at.caption)


def test_hostile_result_files_leave_every_page_standing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A torn line, a row with list-typed params and a truncated sample grid: each page still renders, says
    what it skipped, and no visitor sees a traceback."""
    folder = results_folder(tmp_path)
    hostile = row("quality", "odd-model", "fid", 5.0, params={"role": "model", "extractor": ["a", "b"],
                                                                "n_real": [1, 2], "seed": {"x": 1}})
    with (folder / "quality.jsonl").open("a") as f:
        f.write(json.dumps(hostile) + "\n" + '{"benchmark": "quality", "mo')  # then a kill mid-append
    grid = folder / "samples" / "torn-model.png"
    Image.new("L", (200, 200), 7).save(grid)
    grid.write_bytes(grid.read_bytes()[:100])
    at = run_app(monkeypatch, str(folder))
    assert at.title[0].value == "Leaderboard" and "odd-model" in list(at.dataframe[0].value["model"])
    assert any("line 18: skipped, not valid JSON" in w.value for w in at.warning)
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception and at.title[0].value == title, page
    assert any("torn-model.png" in w.value for w in at.warning)  # the samples page names the unreadable grid
    assert len(at.get("image")) == 1  # the readable grid is still shown


def test_the_quality_page_draws_the_growth_curves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trained = {"candidate": "trained", "role": "model", "extractor": "features-fashion-mnist"}
    quality = [row("quality", "progan-fashion-mnist-32", "fid", 12.6, params=trained)]
    growth = [
        row("growth", "progan-fashion-mnist-32", metric, value,
            params={"stage": stage, "size": size, "step": 10 * size, "images_shown": 1000 * size})
        for stage, size, fid in (("stage_0004px", 4, 12.8), ("stage_0008px", 8, 10.9), ("final", 32, 12.7))
        for metric, value in (("fid", fid), ("recall", 0.3))
    ]
    (tmp_path / "quality.jsonl").write_text("".join(json.dumps(r) + "\n" for r in quality))
    (tmp_path / "growth.jsonl").write_text("".join(json.dumps(r) + "\n" for r in growth))
    at = run_app(monkeypatch, str(tmp_path))
    at.switch_page("views/quality.py").run()
    assert not at.exception and "Growth" in [h.value for h in at.header]
    spec = at.get("plotly_chart")[-2].proto.spec  # FID at the end of each stage
    assert "FID at the end of each stage" in spec and "8 px" in spec and "real images shown" in spec
    from core import report

    summary = report.summary_markdown(growth)  # the same rows as a table in results/summary.md
    assert "| progan-fashion-mnist-32 | 8 px | stage_0008px | 8,000 | 10.90 |" in summary
