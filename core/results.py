"""The one result-row format every benchmark writes: JSON lines, one `Row` per line.

    rows = [Row("throughput", "dcgan-fashion-mnist", "fashion-mnist", "train_images_per_s", 812.5,
                "images/s", device_label("cpu"), {"batch_size": 64}, "Fashion-MNIST, train split, ...")]
    append_rows(rows, RESULTS_DIR / "throughput.jsonl")
    read_rows(RESULTS_DIR)  # every row of every *.jsonl file there, as dicts

Each row carries its environment (versions, git commit, UTC timestamp), so a
line still means something when copied out of its file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tomllib
import warnings
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.paths import PROJECT_ROOT

if TYPE_CHECKING:
    import torch
# torch is imported inside the functions that need it: reading rows (the dashboard Space) must not need it.

PACKAGE = "fashion-gan-lab"


@lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Versions and git commit of this process; cached, since neither changes while it runs."""
    import torch

    return {
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda or "none",
            PACKAGE: _package_version(),
        },
        "commit": _git_commit(),
    }


def _package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        # Run from a checkout without `pip install -e .`: the version is in pyproject.toml.
        pyproject = PROJECT_ROOT / "pyproject.toml"
        if not pyproject.is_file():
            return "unknown"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def _git(*args: str) -> str | None:
    """stdout of a git command in the project, or None when git or the repository is unavailable."""
    try:
        done = subprocess.run(["git", *args], check=False, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_commit() -> str:
    """Short sha, "-dirty" when tracked files changed; "unknown" outside a repository or before the first commit."""
    sha = _git("rev-parse", "--short", "HEAD")
    if not sha:
        return "unknown"
    # Untracked files are ignored (like `git describe --dirty`): results/ itself would otherwise mark every run dirty.
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}-dirty" if changes else sha


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def device_label(device: str | torch.device) -> str:
    """"cpu (2 threads)" or "cuda (NVIDIA H200)", as in training summaries."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})" if torch.cuda.is_available() else "cuda (not available)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


@dataclass(frozen=True)
class Row:
    """One measured number (or the error that prevented it), with what defines it."""

    benchmark: str  # "throughput", "fid", ...
    model: str
    dataset: str
    metric: str  # e.g. "train_images_per_s", "latency_ms_batch1_median"
    value: float | None  # None exactly when `error` is set
    unit: str
    device: str  # device_label(...)
    params: dict[str, Any] = field(default_factory=dict)  # batch size, precision, steps, seed, ...
    data: str = ""  # what data the measurement read, honestly: subset or complete split
    error: str | None = None
    run: str = ""  # the `python -m benchmarks` run that wrote the row ("" for a module run on its own)
    versions: dict[str, str] = field(default_factory=lambda: dict(environment()["versions"]))
    commit: str = field(default_factory=lambda: environment()["commit"])
    timestamp: str = field(default_factory=utc_timestamp)

    def __post_init__(self) -> None:
        if (self.value is None) == (self.error is None):
            raise ValueError(f"row {self.metric!r} needs exactly one of a value and an error")
        if self.value is not None:
            # float() also turns numpy scalars into something json can write
            object.__setattr__(self, "value", float(self.value))
            if not math.isfinite(self.value):
                raise ValueError(f"row {self.metric!r} has a non-finite value {self.value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What every row must have; fields with defaults may be added later without breaking old files.
REQUIRED_FIELDS = frozenset(f.name for f in fields(Row) if f.default is MISSING and f.default_factory is MISSING)


def append_rows(rows: Iterable[Row], path: str | Path) -> Path:
    """Append `rows` to the JSON-lines file `path` (created with its folders).

    One write of the whole text, then fsync. If an earlier append was cut short (a kill mid-write left a
    last line without its newline), that torn line is cut off first, with a warning: the file stays
    one valid row per line.
    """
    path = Path(path)
    text = "".join(json.dumps(row.to_dict(), allow_nan=False) + "\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        _cut_torn_tail(f, path)
        f.write(text.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return path


def _cut_torn_tail(f, path: Path) -> None:
    """Truncate `f` (opened a+b) after its last newline when it does not end with one."""
    size = f.seek(0, os.SEEK_END)
    if not size:
        return
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return
    end = size
    while end > 0:  # back to the last newline, a block at a time
        start = max(0, end - 65536)
        f.seek(start)
        block = f.read(end - start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        end = start
    warnings.warn(f"{path}: cut off a torn last line ({size - end} bytes) left by an interrupted write", stacklevel=3)
    f.truncate(end)
    f.seek(0, os.SEEK_END)


def read_rows(path_or_dir: str | Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of one .jsonl file, or of every *.jsonl file in a folder, as dicts.

    A line that is not a valid row (torn by a kill, edited by hand, of the wrong types) is skipped with a
    warning naming the file and line; `problems`, when given, collects those messages for a UI to show.
    """
    path = Path(path_or_dir)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    rows = []
    for file in files:
        with open(file, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                problem = _row_problem(line)
                if problem is None:
                    rows.append(json.loads(line))
                    continue
                message = f"{file}, line {number}: skipped, {problem}"
                warnings.warn(message, stacklevel=2)
                if problems is not None:
                    problems.append(message)
    return rows


# a row's fields and the types a reader may rely on
ROW_TYPES: dict[str, tuple[type, ...]] = {
    "benchmark": (str,), "model": (str,), "dataset": (str,), "metric": (str,), "unit": (str,), "device": (str,),
    "value": (int, float, type(None)), "params": (dict,), "data": (str,), "error": (str, type(None)),
}


def _row_problem(line: str) -> str | None:
    """Why `line` is not a result row, or None when it is one."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return f"not valid JSON ({err.msg})"
    if not isinstance(row, dict):
        return "not a result row (not a JSON object)"
    missing = sorted(REQUIRED_FIELDS - row.keys())
    if missing:
        return f"not a result row (missing fields: {missing})"
    for key, types in ROW_TYPES.items():
        if key in row and (not isinstance(row[key], types) or isinstance(row[key], bool)):
            return f"not a result row ({key} is {type(row[key]).__name__})"
    return None
