"""Silhouette clustering: how fast and how well K-Means groups the photos, by feature kind (core.clustering).

    python -m benchmarks.clustering [--data clothing] [--split all] [--features mask grayscale edges] [--k 8]
                                    [--seed 0] [--threads 0] [--no-decode] [--out results/clustering.jsonl]

Rows, appended to `--out` (model `kmeans-<feature>-k<k>`; `decode` for the decoding row):
    seconds       every image of the data, from the decoded-split cache (warmed, untimed, beforehand) to the
                  scores: loading, features, K-Means, silhouette and NMI; the target is `TARGET_SECONDS` for the
                  3,781 clothing photos, on 2 CPU cores (params: each stage's seconds, `meets_target`)
    images_per_s  the images over those seconds
    silhouette    the silhouette score of the clusters on the features, in [-1, 1]
    nmi           normalized mutual information of the clusters and the class labels, in [0, 1] (none for a
                  single class); params of each row: k, seed, the cluster sizes
    decode_seconds  (model `decode`) the same images decoded from their files into a fresh, private cache: what
                  the first run on a machine pays once before `seconds`
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import run_and_report
from core.clustering import FEATURE_KINDS, check_kinds, cpu_threads, kmeans, load_photos
from core.clustering import features as compute_features
from core.errors import UserError
from core.paths import RESULTS_DIR
from core.results import Row, device_label

BENCHMARK = "clustering"
TARGET_SECONDS = 30.0  # all 3,781 clothing photos, each feature kind, on 2 CPU cores (the figure)
DECODE = "decode"
_WARM: set[tuple[str, str]] = set()  # (data, split) whose cache this process has filled


@dataclass(frozen=True)
class Scenario:
    """One feature kind clustered (or `kind` "decode": the images decoded into a fresh cache)."""

    kind: str
    data: str = "clothing"
    split: str = "all"
    k: int = 8
    seed: int = 0
    threads: int = 0  # CPU threads (torch and scikit-learn); 0: their defaults

    def __post_init__(self) -> None:
        if self.kind != DECODE:
            check_kinds([self.kind])
        if self.k < 2 or self.threads < 0:
            raise ValueError(f"need k >= 2 and threads >= 0, got k {self.k}, threads {self.threads}")

    @property
    def name(self) -> str:
        return DECODE if self.kind == DECODE else f"kmeans-{self.kind}-k{self.k}"


def scenarios(data: str = "clothing", split: str = "all", kinds: tuple[str, ...] = FEATURE_KINDS, k: int = 8,
              seed: int = 0, decode: bool = True, threads: int = 0) -> list[Scenario]:
    """The cold decode first (when `decode`), then each feature kind."""
    head = [Scenario(DECODE, data, split, k, seed, threads)] if decode else []
    return head + [Scenario(kind, data, split, k, seed, threads) for kind in kinds]


@contextmanager
def fresh_cache() -> Iterator[None]:
    """FGL_CACHE pointed at an empty temporary folder for the duration (core.paths.cache_dir reads it each call)."""
    before = os.environ.get("FGL_CACHE")
    with tempfile.TemporaryDirectory(prefix="fgl-cluster-cache-") as folder:
        os.environ["FGL_CACHE"] = folder
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("FGL_CACHE", None)
            else:
                os.environ["FGL_CACHE"] = before


def run(scenario: Scenario) -> list[Row]:
    """Rows for one scenario; a failure becomes an error row, never an exception."""
    try:
        with cpu_threads(scenario.threads):
            label = device_label("cpu")
            return measure_decode(scenario, label) if scenario.kind == DECODE else measure(scenario, label)
    except Exception as err:  # noqa: BLE001 - a failure is recorded as a row; the benchmark goes on
        metric = "decode_seconds" if scenario.kind == DECODE else "seconds"
        return [Row(BENCHMARK, scenario.name, scenario.data, metric, None, "s", label,
                    {"kind": scenario.kind, "k": scenario.k, "seed": scenario.seed, "split": scenario.split},
                    error=f"{type(err).__name__}: {err}")]


def measure_decode(scenario: Scenario, label: str) -> list[Row]:
    with fresh_cache():
        start = time.perf_counter()
        photos = load_photos(scenario.data, scenario.split)
        seconds = time.perf_counter() - start
    params = {"split": scenario.split, "images": len(photos), "image_size": photos.images.shape[-1],
              "threads": torch.get_num_threads()}
    return [Row(BENCHMARK, DECODE, scenario.data, "decode_seconds", seconds, "s", label, params, photos.title)]


def measure(scenario: Scenario, label: str) -> list[Row]:
    if (scenario.data, scenario.split) not in _WARM:
        load_photos(scenario.data, scenario.split)  # fills the cache: `seconds` is what every later run pays
        _WARM.add((scenario.data, scenario.split))
    start = time.perf_counter()
    photos = load_photos(scenario.data, scenario.split)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    feats = compute_features(photos.images, scenario.kind, progress=False)
    feature_seconds = time.perf_counter() - start
    labels = photos.labels.numpy() if len(photos.class_names) > 1 else None
    result = kmeans(feats, scenario.k, scenario.seed, labels, scenario.kind)
    stages = {"load": load_seconds, "features": feature_seconds, **result.seconds}
    seconds = sum(stages.values())
    params = {
        "kind": scenario.kind,
        "k": scenario.k,
        "seed": scenario.seed,
        "split": scenario.split,
        "threads": torch.get_num_threads(),
        "images": len(photos),
        "sizes": result.sizes,
        "stage_seconds": {key: round(value, 3) for key, value in stages.items()},
        "target_seconds": TARGET_SECONDS,
        "meets_target": seconds <= TARGET_SECONDS,
    }
    data = f"{photos.title} (every one), decoded at {photos.images.shape[-1]} px"
    rows = [
        Row(BENCHMARK, scenario.name, scenario.data, "seconds", seconds, "s", label, params, data),
        Row(BENCHMARK, scenario.name, scenario.data, "images_per_s", len(photos) / seconds, "images/s", label, params,
            data),
    ]
    if result.silhouette is not None:
        rows.append(Row(BENCHMARK, scenario.name, scenario.data, "silhouette", result.silhouette, "", label, params,
                        data))
    if result.nmi is not None:
        rows.append(Row(BENCHMARK, scenario.name, scenario.data, "nmi", result.nmi, "", label, params, data))
    return rows


def _cell(metrics: dict[str, Row], metric: str, spec: str) -> str:
    row = metrics.get(metric)
    return "" if row is None or row.value is None else format(row.value, spec)


def format_table(rows: list[Row]) -> str:
    """One line per scenario: seconds, images/s, silhouette, NMI and cluster sizes; errors below."""
    by_model: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_model.setdefault(row.model, {})[row.metric] = row
    lines = [["scenario", "seconds", "images/s", "silhouette", "NMI", "cluster sizes"]]
    errors = []
    for model, metrics in by_model.items():
        main = metrics.get("seconds") or metrics.get("decode_seconds")
        if main is None or main.error:
            errors.append(f"error: {model}: {main.error if main else 'no rows'}")
            lines.append([model, "error", "", "", "", ""])
            continue
        late = "" if main.params.get("meets_target", True) else " (over target)"
        speed = _cell(metrics, "images_per_s", ",.0f")
        sizes = ", ".join(map(str, main.params.get("sizes", [])))
        lines.append([model, f"{main.value:.1f}{late}", speed, _cell(metrics, "silhouette", ".3f"),
                      _cell(metrics, "nmi", ".3f"), sizes])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip()
            for line in lines]
    return "\n".join(text + errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.clustering", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="clothing", help="clothing, or a folder of images (default clothing)")
    parser.add_argument("--split", default="all", help="a split, or all (default)")
    parser.add_argument("--features", nargs="+", default=list(FEATURE_KINDS), metavar="KIND")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads, torch and scikit-learn (0: defaults)")
    parser.add_argument("--no-decode", action="store_true", help="leave out the cold decoding row")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{BENCHMARK}.jsonl")
    args = parser.parse_args(argv)
    try:
        plan = scenarios(args.data, args.split, tuple(args.features), args.k, args.seed, not args.no_decode,
                         args.threads)
    except (ValueError, UserError) as err:
        parser.error(str(err))
    return run_and_report(plan, run, args.out, BENCHMARK, format_table)


if __name__ == "__main__":
    sys.exit(main())
