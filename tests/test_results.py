"""The shared result-row format: append, read back, errors, environment."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from core import results
from core.results import Row, append_rows, device_label, environment, read_rows


def make_row(**changes) -> Row:
    values = {
        "benchmark": "throughput", "model": "dcgan-tiny", "dataset": "fashion-mnist", "metric": "train_images_per_s",
        "value": 123.5, "unit": "images/s", "device": device_label("cpu"), "params": {"batch_size": 8, "precision": "no"},
        "data": "Fashion-MNIST, train split, 8,226 of 60,000 images (a subset)",
    }
    return Row(**{**values, **changes})


def test_rows_round_trip_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "throughput.jsonl"
    ok = make_row()
    failed = make_row(metric="latency_ms_batch1_median", value=None, unit="ms", error="UserError: no such model")
    append_rows([ok], path)
    append_rows([failed], path)  # appends, never overwrites

    rows = read_rows(path)
    assert rows == [ok.to_dict(), failed.to_dict()]
    first = rows[0]
    assert set(first) == {
        "benchmark", "model", "dataset", "metric", "value", "unit", "device", "params", "data", "error", "run",
        "versions", "commit", "timestamp",
    }
    assert first["value"] == 123.5 and first["error"] is None
    assert first["params"] == {"batch_size": 8, "precision": "no"}
    assert set(first["versions"]) >= {"python", "torch", "fashion-gan-lab"}
    assert first["commit"] and datetime.fromisoformat(first["timestamp"]).utcoffset().total_seconds() == 0
    assert rows[1]["value"] is None and rows[1]["error"] == "UserError: no such model"
    assert all(json.loads(line) for line in path.read_text().splitlines())  # one object per line


def test_read_rows_of_a_folder_skips_blank_lines(tmp_path: Path) -> None:
    append_rows([make_row(benchmark="a")], tmp_path / "a.jsonl")
    append_rows([make_row(benchmark="b")], tmp_path / "b.jsonl")
    with open(tmp_path / "b.jsonl", "a") as f:
        f.write("\n   \n")
    (tmp_path / "notes.txt").write_text("not rows")
    assert [row["benchmark"] for row in read_rows(tmp_path)] == ["a", "b"]


def test_a_corrupt_line_is_named_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "throughput.jsonl"
    append_rows([make_row()], path)
    with open(path, "a") as f:
        f.write('{"benchmark": "throughput", "val\n')
    with pytest.warns(UserWarning, match=r"throughput\.jsonl, line 2: skipped, not valid JSON"):
        assert len(read_rows(path)) == 1
    path.write_text('{"benchmark": "throughput"}\n')
    with pytest.warns(UserWarning, match=r"line 1: skipped, not a result row \(missing fields: \[.dataset., .device."):
        assert read_rows(path) == []


def test_an_unwritable_row_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "throughput.jsonl"
    with pytest.raises(TypeError):
        append_rows([make_row(), make_row(params={"device": object()})], path)
    assert not path.exists()


def test_a_row_has_a_finite_value_or_an_error() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        make_row(value=None)
    with pytest.raises(ValueError, match="exactly one"):
        make_row(error="boom")
    with pytest.raises(ValueError, match="non-finite"):
        make_row(value=float("nan"))
    assert make_row(value=3).value == 3.0 and isinstance(make_row(value=3).value, float)


def test_environment_is_cached_and_git_failures_read_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert environment() is environment()
    monkeypatch.setattr(results, "PROJECT_ROOT", tmp_path)  # not a repository
    assert results._git_commit() == "unknown"
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert results._git_commit() == "unknown"


def test_device_label() -> None:
    assert re.fullmatch(r"cpu \(\d+ threads\)", device_label("cpu"))
