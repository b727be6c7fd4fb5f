"""The benchmark runner (`python -m benchmarks`): rows, run ids, error rows, summary, publishing offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import PROFILES, Profile, finish, main, plan_quality, run_benchmarks, select_models
from core.results import read_rows


@pytest.fixture
def tiny_profile(tiny_classifier_dir: Path) -> Profile:
    return Profile(
        "tiny", "for tests",
        quality={"extractors": (str(tiny_classifier_dir),), "n_generated": 60, "kid_subsets": 3},
        throughput={"steps": 1, "warmup": 0, "repeats": 1},
    )


def test_a_run_appends_tagged_rows_records_failures_and_writes_the_summary(
    tmp_path, real_data_env, make_tiny_dcgan, broken_generator_dir, tiny_profile, capsys
) -> None:
    tiny = make_tiny_dcgan(tmp_path / "dcgan-tiny")
    results = tmp_path / "results"
    models = [str(tiny), str(broken_generator_dir)]
    rows, seconds = run_benchmarks(tiny_profile, ["quality", "throughput", "robustness"], models, "cpu", results)
    assert set(seconds) == {"quality", "throughput"}  # no classifiers given: robustness is skipped
    assert {row.run for row in rows} == {rows[0].run} and rows[0].run.endswith("-tiny")
    assert all(row.params["profile"] == "tiny" for row in rows)

    stored = read_rows(results)
    assert len(stored) == len(rows) and {r["benchmark"] for r in stored} == {"quality", "throughput"}
    quality_rows = [r for r in stored if r["benchmark"] == "quality"]
    # The broken model gets its own error rows; its baselines are not planned.
    assert {r["model"] for r in quality_rows} == {"dcgan-tiny", "dcgan-tiny-untrained", "real-test-split", "dcgan-broken"}
    broken = [r for r in stored if r["model"].startswith("dcgan-broken")]
    assert broken and all(r["value"] is None and r["error"] for r in broken)
    assert all(r["value"] is not None for r in stored if r["model"] in ("dcgan-tiny", "real-test-split"))
    assert (results / "samples" / "dcgan-tiny.png").is_file()

    assert finish(rows, seconds, results) == 1  # error rows make the run fail, after writing everything
    summary = (results / "summary.md").read_text()
    assert "dcgan-tiny" in summary and "real-test-split" in summary and "min in all" in summary
    out = capsys.readouterr().out
    assert "quality (" in out and "throughput (" in out


def test_robustness_takes_the_classifiers(tmp_path, real_data_env, tiny_classifier_dir) -> None:
    (tiny_classifier_dir / "training.json").write_text(json.dumps({"config": {"dataset": "fashion-mnist"}}))
    profile = Profile("tiny", "for tests", robustness={"limit": 20, "epsilons": (0.0, 0.1), "pgd_steps": 2})
    rows, _ = run_benchmarks(profile, ["robustness"], [str(tiny_classifier_dir)], "cpu", tmp_path)
    curves = {(r.params["attack"], r.params["mask"]) for r in rows if r.metric == "accuracy"}
    assert curves == {(a, m) for a in ("fgsm", "pgd", "noise") for m in (False, True)}
    assert all(r.error is None for r in rows) and (tmp_path / "robustness.jsonl").is_file()
    assert finish(rows, {"robustness": 1.0}, tmp_path) == 0 and (tmp_path / "robustness.png").is_file()


def test_models_are_split_by_kind(tiny_generator_dir, tiny_classifier_dir) -> None:
    both = [str(tiny_generator_dir), str(tiny_classifier_dir)]
    assert select_models(both, "generator") == [str(tiny_generator_dir)]
    assert select_models(both, "classifier") == [str(tiny_classifier_dir)]


def test_the_full_profile_uses_inception_only_when_its_weights_exist(monkeypatch, tmp_path, capsys, make_tiny_dcgan) -> None:
    import torch

    monkeypatch.setenv("FGL_INCEPTION_WEIGHTS", str(tmp_path / "absent.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    plan = plan_quality([str(make_tiny_dcgan(tmp_path / "g"))], PROFILES["full"], "cpu", tmp_path)
    assert {s.extractor for s in plan} == {"domain"}
    assert "Inception weights not present" in capsys.readouterr().out


def test_cli_errors_are_one_line_messages(tmp_path, capsys) -> None:
    assert main(["run", "--models", str(tmp_path / "nothing-here"), "--results", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--profile", "huge"])


def test_publish_offline_is_a_clear_message_and_keeps_the_results(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["publish", "--repo-id", "me/results", "--results", str(tmp_path)]) == 2
    assert "no result files" in capsys.readouterr().err
    (tmp_path / "quality.jsonl").write_text('{"x": 1}\n')
    assert main(["publish", "--repo-id", "me/results", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE=1" in err and f"results stay in {tmp_path}" in err
    assert (tmp_path / "quality.jsonl").read_text() == '{"x": 1}\n'


def test_summary_command_rewrites_the_summary(tmp_path) -> None:
    assert main(["summary", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "summary.md").is_file()


def test_keep_runs_keeps_the_collection_benchmarks_training_runs(tmp_path, monkeypatch) -> None:
    import benchmarks.__main__ as runner

    seen = {}

    def fake_run_benchmarks(profile, only, models, device, results, runs):
        seen["plan"] = runner.plan_collection([], profile, device, results)
        return [], {}

    monkeypatch.setattr(runner, "run_benchmarks", fake_run_benchmarks)
    assert main(["run", "--only", "collection", "--keep-runs", str(tmp_path / "kept"), "--results", str(tmp_path)]) == 2
    assert seen["plan"] and all(s.runs == tmp_path / "kept" for s in seen["plan"])  # every family's run is kept
    main(["run", "--only", "collection", "--results", str(tmp_path)])
    assert all(s.runs is None for s in seen["plan"])  # by default the runs are temporary
