"""Benchmark results shaped for people: the dashboard's tables and charts, and results/summary.md.

    folder = resolve_source(os.environ.get("RESULTS_SOURCE"))  # results/, a folder, or a Hub dataset
    rows = latest(load_rows(folder))                            # the newest run of each benchmark and device kind
    leaderboard_frame(rows)                                     # one row per model x protocol
    Path("results/summary.md").write_text(summary_markdown(load_rows(folder)))

Rows are the dicts of `core.results` (one JSON object per line). This module
reads them without torch, so the dashboard Space runs on pandas and plotly
alone; plotly is imported only by the functions that draw.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import UserError
from core.paths import RESULTS_DIR
from core.results import read_rows

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

# Display order; benchmarks not listed follow in order of appearance.
BENCHMARKS = ("quality", "throughput", "collection", "timeline", "growth", "translation", "robustness", "memory", "serving",
              "loader")
TITLES = {
    "quality": "Quality: FID, KID, precision, recall",
    "throughput": "Throughput: training and generation speed",
    "collection": "The classic collection at the reference's budget (10 epochs)",
    "timeline": "Training timelines: quality of the snapshots",
    "growth": "Growth: a Progressive GAN's quality at the end of each stage, at that stage's resolution",
    "robustness": "Robustness: accuracy under attack",
    "memory": "Memory: peak memory and speed by resolution",
    "serving": "Serving: each Space's main endpoint under load",
    "loader": "Loader: images/s a folder delivers, streamed, against what training reads",
    "translation": "Translation: image-to-image translators on the held-out photos, against their baselines",
    "clustering": "Silhouette clustering: K-Means on masks, grayscale and edges of every clothing photo",
    "retrieval": "Retrieval: similar real products from a faiss index, and edit then search",
}
CLUSTERING_TARGET_S = 30.0  # every clothing photo (3,781) clustered on this 2-core CPU
# The Spaces' main endpoints as first measured (2026-11, 2-core CPU, before batching): calls/s with 16
# clients. Targets: no errors, one-client p95 <= 150 ms, 16 clients >= 3x these calls/s with p95 < 1 s.
SERVING_BEFORE = {"dcgan": 12.3, "robustness": 10.1, "cocogan": 18.7}
SERVING_TARGET_P95_MS = 150.0
SERVING_TARGET_SPEEDUP = 3.0
SERVING_TARGET_P95_MS_BY_SPACE = {"edit_search": 300.0}  # its /search: at most 300 ms p95 on this CPU
# The classic collection, in table order (core.models.COLLECTION; this module stays free of torch).
COLLECTION_FAMILIES = ("gan", "cgan", "acgan", "infogan", "wgan", "wgan-gp", "dragan", "lsgan", "began", "ebgan")
# The reference collection's own code (pytorch-generative-model-collections), run once on the 2-core CPU
# under the collection protocol (Fashion-MNIST 8,226-image prefix, batch 64, 10 epochs, 4,443 samples,
# features-fashion-mnist FID against the train prefix, seed 0). Cited: that code cannot ship here.
REFERENCE_COLLECTION = {
    "gan": {"train_images_per_s": 240, "fid": 8.07, "recall": 0.37},
    "wgan-gp": {"train_images_per_s": 236, "fid": 94.6, "recall": 0.00},
}
COLLECTION_TARGET_FID = 4.0  # each family at most half the reference's FID, and never above 4.0
COLLECTION_TARGET_SPEEDUP = 3.0  # with the reference's own networks, at least 3x its training images/s
# Benchmarks whose scenarios are long trainings, re-run one at a time: the parameters that name a scenario.
SCENARIO_KEYS = {"collection": ("family", "networks", "epochs", "seed"), "timeline": ("epoch", "seed")}
# Outcomes a benchmark records next to the value; they do not define the measurement.
VOLATILE_PARAMS = frozenset({"correct"})
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
NO_RESULTS = "No results yet: run `make bench` to measure them."
QUALITY_NOTE = (
    "Lower FID and KID are better, higher precision and recall are better; numbers from different feature "
    "extractors are not comparable. Baselines: `real-<split>-split` (real held-out images against the reference split: "
    "the best a generator can hope for) and `<generator>-untrained` (the same network with random weights). "
    "Seam ratio (generators by parts): pixel steps across the micro-patch grid over pixel steps elsewhere; "
    "real images score about 1, visible seams well above it."
)
ROBUSTNESS_NOTE = (
    "Accuracy (%) at each L-inf budget ε (pixels in [0, 1]); an image counts as correct at ε only if every "
    "attack up to ε failed."
)

# quality metric -> (column label, lower is better)
QUALITY_METRICS = {
    "fid": ("FID", True),
    "kid_mean": ("KID", True),
    "kid_std": ("KID std", True),
    "precision": ("precision", False),
    "recall": ("recall", False),
    "seam_ratio": ("seam ratio", True),  # patch-based generators only; real images score about 1
    "conditional_accuracy": ("cond. accuracy", False),  # class-conditional generators: the requested class drawn
}
QUALITY_PROTOCOL = ("n_real", "n_generated", "split", "seed", "profile", "device", "commit", "date")
THROUGHPUT_METRICS = {
    "train_images_per_s": "train images/s",
    "gen_images_per_s_batch64": "sample images/s (batch 64)",
    "images_per_s_batch64": "classified / translated images/s (batch 64)",
    "latency_ms_batch1_median": "latency b1 median (ms)",
    "latency_ms_batch1_p90": "latency b1 p90 (ms)",
    "latency_ms_batch64_median": "latency b64 median (ms)",
    "latency_ms_batch64_p90": "latency b64 p90 (ms)",
}
MEMORY_METRICS = {
    "peak_memory_mb": "peak memory (MB)",
    "training_memory_mb": "training memory (MB)",
    "images_per_s": "images/s",
}
MASK_LABELS = {False: "all pixels", True: "garment pixels only"}
ROLE_COLORS = {"model": "#4C78A8", "baseline": "#BAB0AC"}


# --- reading ---


def load_rows(folder: str | Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of every *.jsonl file in `folder` (none when it does not exist); a malformed line is skipped
    with a warning, and its message added to `problems` when given."""
    return read_rows(folder, problems) if Path(folder).is_dir() else []


def folder_stamp(folder: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the result files in `folder`: changes whenever a benchmark appends rows."""
    folder = Path(folder)
    files = [*folder.glob("*.jsonl"), *folder.glob("samples/*.png")]
    return tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_source(source: str | None) -> Path:
    """The local folder of RESULTS_SOURCE: unset = results/, a folder, or a Hub dataset repo id (downloaded)."""
    if not source or not source.strip():
        return RESULTS_DIR
    source = source.strip()
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise UserError(f"RESULTS_SOURCE {source!r} is a file; give the folder that holds the *.jsonl files")
    if not HUB_ID.match(source):
        raise UserError(
            f"RESULTS_SOURCE {source!r} is neither an existing folder nor a Hub dataset repo id like 'user/results'"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    offline = _hub_offline()
    try:
        folder = Path(snapshot_download(source, repo_type="dataset", local_files_only=offline))
    except (HfHubHTTPError, OSError, ValueError) as err:
        if offline:
            raise UserError(
                f"cannot read results from the Hub dataset {source!r}: the Hub is switched off (HF_HUB_OFFLINE=1) "
                "and no copy is cached here; unset HF_HUB_OFFLINE on a machine with internet, or point "
                "RESULTS_SOURCE at a local results folder"
            ) from None
        raise UserError(
            f"cannot read results from the Hub dataset {source!r} ({err.__class__.__name__}): it is not a local "
            "folder either; check the repo id, your token and connection, or point RESULTS_SOURCE at a local folder"
        ) from None
    # A dataset repo may hold the files at its root or under results/, as in this repository.
    nested = folder / "results"
    return nested if not any(folder.glob("*.jsonl")) and nested.is_dir() else folder


def sample_grids(folder: str | Path, subfolder: str = "") -> dict[str, Path]:
    """model -> its sample grid, from `folder`/samples/<model>.png (or `folder`/samples/<subfolder>/<name>.png:
    the collection benchmark's grids, `collection/<family>-epoch10.png`)."""
    return {path.stem: path for path in sorted((Path(folder) / "samples" / subfolder).glob("*.png"))}


# --- selecting ---


def _when(row: dict[str, Any]) -> datetime:
    """The row's timestamp (UTC); rows without a readable one sort first."""
    try:
        when = datetime.fromisoformat(str(row.get("timestamp", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _measurement(row: dict[str, Any]) -> tuple:
    """What a row measures: the same measurement twice in one run keeps only the newer row."""
    params = {key: value for key, value in (row.get("params") or {}).items() if key not in VOLATILE_PARAMS}
    defining = json.dumps(params, sort_keys=True, default=str)
    return row["benchmark"], row["model"], row["dataset"], row["metric"], row["device"], defining


def latest(rows: Iterable[dict[str, Any]], benchmark: str | None = None) -> list[dict[str, Any]]:
    """For each benchmark (or only `benchmark`), kind of device and model, the rows of the newest run that
    measured that model, one per measurement.

    A run is the rows sharing a run id (`row["run"]`; rows without one, written by
    a benchmark module run on its own, count as one run); the newest run has the
    newest timestamp. A measurement repeated within that run keeps its newest row.
    Each model's figures come from one run, so a chart never mixes runs, and a run
    interrupted after some models replaces only those: the others keep their newest
    complete measurement. Runs on a GPU and on a CPU do not replace each other: `make
    bench` on a laptop keeps the GPU rows someone committed, and the other way round.
    The benchmarks that train (`SCENARIO_KEYS`: collection, timeline) keep the newest
    row of each scenario instead, so re-running one family does not hide the others.
    """
    runs: dict[tuple[str, str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    scenarios: dict[tuple, dict] = {}
    for row in rows:
        if benchmark is not None and row["benchmark"] != benchmark:
            continue
        if row["benchmark"] in SCENARIO_KEYS:  # newest row of each scenario, whichever run it came from
            params = row.get("params") or {}
            key = (row["benchmark"], row["model"], row["dataset"], row["metric"], device_kind(row["device"]),
                   *[json.dumps(params.get(name), default=str) for name in SCENARIO_KEYS[row["benchmark"]]])
            if key not in scenarios or _when(row) >= _when(scenarios[key]):
                scenarios[key] = row
            continue
        runs[row["benchmark"], device_kind(row["device"]), row["model"]][row.get("run") or ""].append(row)
    kept = list(scenarios.values())
    for by_run in runs.values():
        # Ties (same newest timestamp) go to the larger run id
        _, newest = max(by_run.items(), key=lambda item: (max(_when(row) for row in item[1]), item[0]))
        measurements: dict[tuple, dict] = {}
        for row in newest:
            key = _measurement(row)
            if key not in measurements or _when(row) >= _when(measurements[key]):
                measurements[key] = row
        kept.extend(measurements.values())
    return kept


def device_kind(label: str) -> str:
    """"cuda" for "cuda (NVIDIA H200)", "cpu" for "cpu (2 threads)": what a device label names, without the details."""
    return str(label).split(" ", 1)[0].split(":", 1)[0]


def benchmarks(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The benchmarks present in `rows`, known ones first in BENCHMARKS order."""
    present = list(dict.fromkeys(row["benchmark"] for row in rows))
    return [name for name in BENCHMARKS if name in present] + [name for name in present if name not in BENCHMARKS]


def of(rows: Iterable[dict[str, Any]], benchmark: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["benchmark"] == benchmark]


def error_lines(rows: Iterable[dict[str, Any]]) -> list[str]:
    """One line per error row: which model, data and metric failed, and why."""
    return [
        f"{row['model']} ({row['dataset']}), `{row['metric']}`: {row['error']}"
        for row in rows
        if row.get("error") is not None
    ]


def _date(row_or_when: dict[str, Any] | datetime) -> str:
    when = row_or_when if isinstance(row_or_when, datetime) else _when(row_or_when)
    return "unknown" if when.year == 1 else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _distinct(values: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(value) for value in values if value not in (None, "")))


def describe_run(rows: list[dict[str, Any]]) -> str:
    """One sentence on where and when `rows` (one benchmark's run) were measured."""
    if not rows:
        return ""
    run_ids = _distinct(row.get("run") for row in rows)
    parts = [f"run `{', '.join(run_ids)}`" if run_ids else "rows written outside a `python -m benchmarks` run"]
    parts.append(f"on {', '.join(_distinct(row['device'] for row in rows))}")
    profiles = _distinct((row.get("params") or {}).get("profile") for row in rows)
    if profiles:
        parts.append(f"profile {', '.join(profiles)}")
    commits = _distinct(row.get("commit") for row in rows)
    if commits:
        parts.append(f"commit {', '.join(commits)}")
    parts.append(_date(max(_when(row) for row in rows)))
    return ", ".join(parts)


def data_lines(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct `data` descriptions of `rows`: which images each measurement read."""
    return _distinct(row.get("data") for row in rows)


# --- frames (the dashboard's tables and the charts' inputs) ---


def _role(row: dict[str, Any]) -> str:
    role = (row.get("params") or {}).get("role")
    if role:
        return str(role)
    is_baseline = re.fullmatch(r"real-.+-split", row["model"]) or row["model"].endswith("-untrained")
    return "baseline" if is_baseline else "model"


def _integers(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for column in columns:
        if column in frame:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().any() and (numbers.dropna() % 1 == 0).all():
                frame[column] = numbers.astype("Int64")
    return frame


def _scalar(value: Any) -> Any:
    """A param as a table cell: numbers, text, booleans and None as they are; a list or mapping (a row edited by
    hand, or a benchmark's list-valued setting) as its JSON text, so a frame never holds unhashable cells."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value, default=str)


def leaderboard_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Quality leaderboard: one row per dataset x model x protocol, metrics as columns, best FID first.

    Pass `latest(rows)` for the newest run. Columns: dataset, model, role ("model" or
    "baseline"), extractor, FID, KID, KID std, precision, recall, then the protocol
    (n_real, n_generated, split, seed, profile, device, commit, date).
    """
    entries: dict[tuple, dict[str, Any]] = {}
    newest: dict[tuple, datetime] = {}
    for row in rows:
        if row["benchmark"] != "quality" or row.get("error") is not None:
            continue
        params = row.get("params") or {}
        protocol = {
            "n_real": _scalar(params.get("n_real")),
            "n_generated": _scalar(params.get("n_generated")),
            "split": _scalar(params.get("reference_split")),
            "seed": _scalar(params.get("seed")),
            "profile": _scalar(params.get("profile")),
            "device": row["device"],
        }
        key = (row["dataset"], row["model"], _scalar(params.get("extractor", "")), *map(str, protocol.values()))
        entry = entries.setdefault(
            key,
            {
                "dataset": row["dataset"],
                "model": row["model"],
                "role": _role(row),
                "extractor": _scalar(params.get("extractor", "")),
            },
        )
        entry[QUALITY_METRICS.get(row["metric"], (row["metric"],))[0]] = row["value"]
        if key not in newest or _when(row) >= newest[key]:
            newest[key] = _when(row)
            entry.update(protocol, commit=row.get("commit", ""), date=_date(row))
    metric_columns = [label for label, _ in QUALITY_METRICS.values()]
    frame = pd.DataFrame(list(entries.values()))
    leading = ["dataset", "model", "role", "extractor", *metric_columns]
    extra = [column for column in frame.columns if column not in (*leading, *QUALITY_PROTOCOL)]
    frame = frame.reindex(columns=[*leading, *extra, *QUALITY_PROTOCOL])
    frame = _integers(frame, ("n_real", "n_generated", "seed"))
    if frame.empty:
        return frame
    for label in [*metric_columns, *extra]:
        frame[label] = pd.to_numeric(frame[label], errors="coerce")
    return frame.sort_values(["dataset", "extractor", "FID"], na_position="last", kind="stable").reset_index(drop=True)


PROTOCOL_LABELS = {
    "extractor": "features from",
    "n_real": "real images",
    "n_generated": "generated images",
    "split": "reference split",
    "seed": "seed",
    "profile": "profile",
    "device": "device",
    "commit": "commit",
    "date": "measured",
}


def split_protocol(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A leaderboard table without the protocol columns that hold one value throughout, and those as one line
    ("features from X · real images 4443 · ..."): the table keeps only what differs between its rows."""
    constant = [c for c in PROTOCOL_LABELS if c in table and len(table) and table[c].nunique(dropna=False) == 1]
    line = " · ".join(
        f"{PROTOCOL_LABELS[c]} {_cell(table[c].iloc[0])}" for c in constant if not pd.isna(table[c].iloc[0])
    )
    return table.drop(columns=constant), line


def quality_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Quality metrics in long form for charts: dataset, extractor, model, role, metric, label, value,
    error_bar (the KID standard deviation on KID rows), lower_is_better, n_real, n_generated."""
    rows = [row for row in rows if row["benchmark"] == "quality" and row.get("error") is None]
    kid_std = {
        (row["dataset"], row["model"], _scalar((row.get("params") or {}).get("extractor", ""))): row["value"]
        for row in rows
        if row["metric"] == "kid_std"
    }
    records = []
    for row in rows:
        if row["metric"] == "kid_std":
            continue
        params = row.get("params") or {}
        label, lower = QUALITY_METRICS.get(row["metric"], (row["metric"], True))
        extractor = _scalar(params.get("extractor", ""))
        records.append(
            {
                "dataset": row["dataset"],
                "extractor": extractor,
                "model": row["model"],
                "role": _role(row),
                "metric": row["metric"],
                "label": label,
                "value": row["value"],
                "error_bar": kid_std.get((row["dataset"], row["model"], extractor))
                if row["metric"] == "kid_mean"
                else None,
                "lower_is_better": lower,
                "n_real": _scalar(params.get("n_real")),
                "n_generated": _scalar(params.get("n_generated")),
            }
        )
    columns = [
        "dataset",
        "extractor",
        "model",
        "role",
        "metric",
        "label",
        "value",
        "error_bar",
        "lower_is_better",
        "n_real",
        "n_generated",
    ]
    return pd.DataFrame(records, columns=columns)


def robustness_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Accuracy-vs-epsilon points: model, dataset, attack, mask, pixels, epsilon, accuracy (in %), n_images, data."""
    records = []
    for row in rows:
        if row["benchmark"] != "robustness" or row["metric"] != "accuracy" or row.get("error") is not None:
            continue
        params = row.get("params") or {}
        # Rows say "fraction" (0..1); a "%" unit is already in percent.
        accuracy = row["value"] if row.get("unit") == "%" else 100 * row["value"]
        mask = bool(params.get("mask", False))
        records.append(
            {
                "model": row["model"],
                "dataset": row["dataset"],
                "attack": _scalar(params.get("attack", "")),
                "mask": mask,
                "pixels": MASK_LABELS[mask],
                "epsilon": float(params.get("epsilon", math.nan)),
                "accuracy": accuracy,
                "n_images": _scalar(params.get("n_images")),
                "data": row.get("data", ""),
            }
        )
    columns = ["model", "dataset", "attack", "mask", "pixels", "epsilon", "accuracy", "n_images", "data"]
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values(["model", "attack", "mask", "epsilon"], kind="stable").reset_index(drop=True)


def _wide(frame: pd.DataFrame, index: list[str], columns: str, values: str) -> pd.DataFrame:
    """One row per `index` combination (missing keys kept), one column per value of `columns`."""
    if frame.empty:
        return pd.DataFrame(columns=index)
    table = frame.groupby([*index, columns], dropna=False, sort=True)[values].last().unstack(columns)
    table.columns.name = None
    return table.reset_index()


def robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """robustness_frame as a table: one row per model x attack x pixels, accuracy (%) at each epsilon as columns."""
    table = _wide(frame, ["model", "attack", "pixels"], "epsilon", "accuracy")
    return table.rename(columns={epsilon: f"ε={epsilon:g}" for epsilon in table.columns[3:]})


def curve_seconds(rows: Iterable[dict[str, Any]]) -> float:
    """Total time of the robustness curves in `rows`, in seconds."""
    return sum(
        row["value"]
        for row in rows
        if row["benchmark"] == "robustness" and row["metric"] == "curve_seconds" and row.get("value") is not None
    )


def throughput_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Throughput in long form: model, dataset, device, backend, metric, label, value, unit, batch_size, precision.

    backend: what served inference, torch or onnx (rows from before the onnx backend, and training rows, are torch).
    """
    records = [
        {
            "model": row["model"],
            "dataset": row["dataset"],
            "device": row["device"],
            "backend": (row.get("params") or {}).get("backend", "torch"),
            "metric": row["metric"],
            "label": THROUGHPUT_METRICS.get(row["metric"], f"{row['metric']} ({row.get('unit', '')})"),
            "value": row["value"],
            "unit": row.get("unit", ""),
            "batch_size": _scalar((row.get("params") or {}).get("batch_size")),
            "precision": _scalar((row.get("params") or {}).get("precision")),
        }
        for row in rows
        if row["benchmark"] == "throughput" and row.get("error") is None
    ]
    columns = ["model", "dataset", "device", "backend", "metric", "label", "value", "unit", "batch_size", "precision"]
    return pd.DataFrame(records, columns=columns)


def throughput_table(frame: pd.DataFrame) -> pd.DataFrame:
    """throughput_frame as a table: one row per model x device x backend, one column per metric."""
    table = _wide(frame, ["model", "dataset", "device", "backend"], "label", "value")
    measured = list(table.columns[4:])
    order = [label for label in THROUGHPUT_METRICS.values() if label in measured]
    return table[[*table.columns[:4], *order, *sorted(set(measured) - set(order))]]


def memory_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Memory benchmark in long form: model, device, resolution, batch_size, metric, label, value, unit."""
    records = []
    for row in rows:
        if row["benchmark"] != "memory" or row.get("error") is not None:
            continue
        params = row.get("params") or {}
        records.append(
            {
                "model": row["model"],
                "device": row["device"],
                "resolution": _scalar(params.get("resolution")),
                "batch_size": _scalar(params.get("batch_size")),
                "metric": row["metric"],
                "label": MEMORY_METRICS.get(row["metric"], row["metric"]),
                "value": row["value"],
                "unit": row.get("unit", ""),
            }
        )
    columns = ["model", "device", "resolution", "batch_size", "metric", "label", "value", "unit"]
    frame = _integers(pd.DataFrame(records, columns=columns), ("resolution", "batch_size"))
    return frame.sort_values(["model", "device", "resolution"], kind="stable").reset_index(drop=True)


def memory_table(frame: pd.DataFrame) -> pd.DataFrame:
    """memory_frame as a table: one row per model x device x resolution x batch size, one column per metric."""
    table = _wide(frame, ["model", "device", "resolution", "batch_size"], "label", "value")
    measured = list(table.columns[4:])
    order = [label for label in MEMORY_METRICS.values() if label in measured]
    return table[[*table.columns[:4], *order, *sorted(set(measured) - set(order))]]


# --- figures (plotly, imported here only) ---


def _layout(figure: Figure, height: int = 420) -> Figure:
    """Legend in rows at the bottom of the figure, so the plot keeps the width and the title stays clear."""
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"title_text": "", "orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
    )
    return figure


def _short(value: float) -> str:
    """A bar label: three significant digits, thousands without exponent (6,774 not 6.77e+3)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def quality_figure(frame: pd.DataFrame, metric: str) -> Figure:
    """Bars of one quality metric per model (one dataset and extractor in `frame`), best first, baselines hatched."""
    import plotly.express as px

    data = frame[frame["metric"] == metric]
    label, lower = QUALITY_METRICS.get(metric, (metric, True))
    data = data.sort_values("value", ascending=lower).assign(text=lambda f: f["value"].map(_short))
    error = "error_bar" if data["error_bar"].notna().any() else None
    figure = px.bar(
        data,
        x="model",
        y="value",
        color="role",
        pattern_shape="role",
        error_y=error,
        color_discrete_map=ROLE_COLORS,
        pattern_shape_map={"model": "", "baseline": "/"},
        category_orders={"model": list(data["model"]), "role": ["model", "baseline"]},
        title=f"{label} ({'lower' if lower else 'higher'} is better)",
        labels={"value": label, "model": ""},
        hover_data={"n_real": True, "n_generated": True, "role": False},
        text="text",
    )
    figure.update_traces(textposition="outside", cliponaxis=False)
    return _layout(figure)


def robustness_figure(frame: pd.DataFrame) -> Figure:
    """Accuracy (%) vs epsilon: a line per model and attack, one panel per pixel set (all / garment only)."""
    import plotly.express as px

    figure = px.line(
        frame,
        x="epsilon",
        y="accuracy",
        color="model",
        line_dash="attack",
        facet_col="pixels",
        markers=True,
        range_y=[0, 101],
        category_orders={"pixels": [label for label in MASK_LABELS.values() if label in set(frame["pixels"])]},
        labels={"epsilon": "ε (L-inf, pixels in [0, 1])", "accuracy": "accuracy (%)", "pixels": ""},
        hover_data={"n_images": True, "dataset": True},
    )
    figure.for_each_annotation(lambda annotation: annotation.update(text=annotation.text.lstrip("=")))
    epsilons = sorted(float(e) for e in frame["epsilon"].dropna().unique())
    if len(epsilons) > 8:  # every other measured value, so the labels never run into each other
        epsilons = epsilons[::2]
    figure.update_xaxes(tickvals=epsilons, ticktext=[f"{e:g}" for e in epsilons])
    return _layout(figure, height=440)


def throughput_figure(frame: pd.DataFrame, unit: str) -> Figure:
    """Grouped bars of the throughput metrics in `unit` ("images/s" or "ms") per model and device."""
    import plotly.express as px

    data = frame[frame["unit"] == unit].assign(text=lambda f: f["value"].map(_short))
    if data["backend"].nunique() > 1:  # a bar per backend: "dcgan-fashion-mnist (onnx)"
        data = data.assign(model=data["model"] + " (" + data["backend"] + ")")
    labelled = len(data) <= MAX_LABELLED_BARS  # more bars than that: their labels overlap; hover shows values
    figure = px.bar(
        data,
        x="model",
        y="value",
        color="label",
        barmode="group",
        facet_col="device" if data["device"].nunique() > 1 else None,
        title="Speed (higher is better)" if unit == "images/s" else "Latency (lower is better)",
        labels={"value": unit, "model": "", "label": "", "device": ""},
        hover_data={"batch_size": True, "precision": True},
        text="text" if labelled else None,
    )
    if labelled:
        figure.update_traces(textposition="outside", cliponaxis=False)
    return _layout(figure)


MAX_LABELLED_BARS = 12


def memory_figure(frame: pd.DataFrame, metric: str) -> Figure:
    """One memory-benchmark metric against resolution: a line per model and device."""
    import plotly.express as px

    data = frame[frame["metric"] == metric].assign(
        series=lambda f: f["model"] + " (" + f["device"].map(device_kind) + ")")
    label = MEMORY_METRICS.get(metric, metric)
    figure = px.line(
        data,
        x="resolution",
        y="value",
        color="series",
        hover_name="device",
        markers=True,
        log_x=True,
        title=f"{label} by resolution",
        labels={"value": label, "resolution": "resolution (px)"},
        hover_data={"batch_size": True},
    )
    resolutions = sorted(int(value) for value in data["resolution"].dropna().unique())
    figure.update_xaxes(tickvals=resolutions, ticktext=[str(value) for value in resolutions])
    return _layout(figure)


def _family_of(model: str) -> str | None:
    """The collection family of a model name: `wgan-gp-fashion-mnist`, `wgan-gp-reference-nets` -> wgan-gp."""
    for family in sorted(COLLECTION_FAMILIES, key=len, reverse=True):
        if model == family or model.startswith(family + "-"):
            return family
    return None


def collection_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The collection benchmark (pass `latest(rows)`): one row per trained family x networks, with the
    reference collection's cited FID and speed, and whether each target is met."""
    entries: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["benchmark"] != "collection" or row.get("error") is not None:
            continue
        params = row.get("params") or {}
        entry = entries.setdefault(row["model"], {
            "family": params.get("family", row["model"]), "networks": params.get("networks"),
            "epochs": params.get("epochs"), "device": row["device"],
        })
        entry[row["metric"]] = row["value"]
    frame = pd.DataFrame(list(entries.values()))
    if frame.empty:
        return frame
    frame = frame.reindex(columns=["family", "networks", "epochs", "train_images_per_s", "fid", "kid_mean", "precision",
                                   "recall", "conditional_accuracy", "device"])
    cited = lambda family, key: REFERENCE_COLLECTION.get(family, {}).get(key)
    frame["reference_fid"] = [cited(f, "fid") for f in frame["family"]]
    frame["reference_images_per_s"] = [cited(f, "train_images_per_s") for f in frame["family"]]
    bar = [min(COLLECTION_TARGET_FID, r / 2) if r is not None and not pd.isna(r) else COLLECTION_TARGET_FID
           for r in frame["reference_fid"]]
    frame["fid_target"] = bar
    frame["fid_met"] = [bool(f <= b) if not pd.isna(f) else None for f, b in zip(frame["fid"], bar)]
    order = {name: i for i, name in enumerate(("dcgan", *COLLECTION_FAMILIES))}
    frame["_order"] = [(order.get(f, 99), n != "shipped") for f, n in zip(frame["family"], frame["networks"])]
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def timeline_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Timeline rows (pass `latest(rows)`) in long form: model, epoch, metric, value."""
    lines = [
        {"model": row["model"], "epoch": int((row.get("params") or {}).get("epoch", 0)), "metric": row["metric"],
         "value": row["value"], "device": row["device"]}
        for row in rows if row["benchmark"] == "timeline" and row.get("error") is None and row["value"] is not None
    ]
    return pd.DataFrame(lines, columns=["model", "epoch", "metric", "value", "device"])


def collection_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The shipped collection models side by side (pass `latest(rows)`): quality at the full budget (FID, KID,
    precision, recall, conditional accuracy), training speed, FID of each timeline snapshot, and FID after the
    collection benchmark's 10 epochs."""
    rows = list(rows)
    lines: dict[str, dict[str, Any]] = {}
    for row in rows:
        family = _family_of(row["model"])
        if family is None or row.get("error") is not None or row["value"] is None:
            continue
        params = row.get("params") or {}
        if row["benchmark"] == "quality" and params.get("candidate") == "trained":
            lines.setdefault(row["model"], {"family": family})[QUALITY_METRICS.get(row["metric"], (row["metric"],))[0]] = row["value"]
        elif row["benchmark"] == "throughput" and row["metric"] == "train_images_per_s":
            lines.setdefault(row["model"], {"family": family})["train images/s"] = row["value"]
        elif row["benchmark"] == "timeline" and row["metric"] == "fid":
            lines.setdefault(row["model"], {"family": family})[f"FID @ epoch {int(params['epoch'])}"] = row["value"]
    frame = pd.DataFrame([{"model": model, **line} for model, line in lines.items()])
    if frame.empty:
        return frame
    trained = collection_frame(rows)
    ten = {} if trained.empty else dict(trained[trained["networks"] == "shipped"][["family", "fid"]].itertuples(index=False))
    frame["FID @ 10 epochs (collection benchmark)"] = [ten.get(f) for f in frame["family"]]
    epochs = sorted({int(c.rsplit(" ", 1)[1]) for c in frame.columns if c.startswith("FID @ epoch")})
    leading = ["model", "family", "FID", "KID", "precision", "recall", "cond. accuracy", "train images/s"]
    frame = frame.reindex(columns=[*leading, *[f"FID @ epoch {e}" for e in epochs], "FID @ 10 epochs (collection benchmark)"])
    order = {name: i for i, name in enumerate(COLLECTION_FAMILIES)}
    frame["_order"] = [order.get(f, 99) for f in frame["family"]]
    return frame.sort_values("_order", kind="stable").drop(columns=["_order", "family"]).reset_index(drop=True)


GROWTH_KEYS = ["model", "size", "stage", "step", "images_shown", "device"]


def growth_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Growth rows (pass `latest(rows)`) in long form: model, stage size and name, step, images shown, metric, value."""
    lines = [
        {"model": row["model"], "size": int(row["params"]["size"]), "stage": row["params"]["stage"],
         "step": int(row["params"]["step"]), "images_shown": int(row["params"]["images_shown"]),
         "device": row["device"], "metric": row["metric"], "value": row["value"]}
        for row in rows if row["benchmark"] == "growth" and row.get("error") is None and row["value"] is not None
    ]
    return pd.DataFrame(lines, columns=[*GROWTH_KEYS, "metric", "value"])


def growth_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One line per model and stage, its metrics as columns, in order of images shown (for summary.md and cards)."""
    frame = growth_frame(rows)
    if frame.empty:
        return frame
    wide = frame.pivot_table(index=GROWTH_KEYS, columns="metric", values="value", aggfunc="first").reset_index()
    wide.columns.name = None
    return wide.sort_values(["model", "images_shown", "size"]).reset_index(drop=True)


def growth_figure(frame: pd.DataFrame, metric: str = "fid") -> Figure:
    """`metric` against the real images shown, one line per model, each point a stage (labelled by its size)."""
    import plotly.express as px

    data = frame[frame["metric"] == metric].sort_values(["model", "images_shown", "size"])
    label = QUALITY_METRICS.get(metric, (metric,))[0]
    figure = px.line(data, x="images_shown", y="value", color="model", markers=True, text=data["size"].map("{} px".format),
                     title=f"{label} at the end of each stage", labels={"value": label, "images_shown": "real images shown"})
    figure.update_traces(textposition="top center")
    return _layout(figure)


def timeline_figure(frame: pd.DataFrame, metric: str = "fid") -> Figure:
    """`metric` against the snapshot epoch, one line per model (log-scaled FID: early epochs are far worse)."""
    import plotly.express as px

    data = frame[frame["metric"] == metric].sort_values(["model", "epoch"])
    label = QUALITY_METRICS.get(metric, (metric,))[0]
    figure = px.line(data, x="epoch", y="value", color="model", markers=True, title=f"{label} by training epoch",
                     labels={"value": label, "epoch": "epoch"}, log_y=metric in ("fid", "kid_mean"))
    figure.update_xaxes(tickvals=sorted(int(e) for e in data["epoch"].unique()))
    return _layout(figure)


# --- quality against sampling cost: GANs and diffusion on one plot (quality x throughput rows) ---

COST_METRIC = "gen_images_per_s_batch64"  # the throughput row that prices an image: batch 64, median latency
COST_NOTE = (
    "Each point is one generator as `make bench` measured it: its quality (quality benchmark, trained candidate) "
    "against what one image costs to sample (throughput benchmark: milliseconds per image at batch 64, on the same "
    "kind of device, the torch backend). A diffusion model appears once per sampler step count, joined by a line: "
    "each step is one pass of its U-Net. FID is biased upwards for fewer images, KID is not, so compare FIDs at "
    "equal image counts."
)


def cost_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One record per trained generator (and diffusion step count) with both a quality and a throughput row
    (pass `latest(rows)`): dataset, extractor, model, generator, kind (GAN or diffusion), steps, fid, kid_mean,
    n_generated, ms_per_image, device."""
    rows = [row for row in rows if row.get("error") is None and row.get("value") is not None]
    speed = {(row["model"], device_kind(row["device"])): (1000.0 / row["value"], row["device"])
             for row in rows if row["benchmark"] == "throughput" and row["metric"] == COST_METRIC and row["value"] > 0
             and (row.get("params") or {}).get("backend", "torch") == "torch"}  # the onnx backend has rows of its own
    records: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        params = row.get("params") or {}
        if row["benchmark"] != "quality" or params.get("candidate") != "trained" or row["metric"] not in ("fid", "kid_mean"):
            continue
        cost = speed.get((row["model"], device_kind(row["device"])))
        if cost is None:
            continue
        key = (row["dataset"], _scalar(params.get("extractor", "")), row["model"], cost[1])
        steps = params.get("sampling_steps")
        record = records.setdefault(key, {
            "dataset": key[0], "extractor": key[1], "model": row["model"], "generator": params.get("generator", row["model"]),
            "kind": "diffusion" if steps else "GAN", "steps": steps, "n_generated": _scalar(params.get("n_generated")),
            "ms_per_image": cost[0], "device": cost[1]})
        record[row["metric"]] = row["value"]
    columns = ["dataset", "extractor", "model", "generator", "kind", "steps", "fid", "kid_mean", "n_generated",
               "ms_per_image", "device"]
    return pd.DataFrame(list(records.values()), columns=columns)


def cost_figure(frame: pd.DataFrame, metric: str = "kid_mean") -> Figure:
    """`metric` against milliseconds per sampled image (both axes logarithmic) for one dataset and extractor:
    GANs as points, each diffusion model as a line through its step counts."""
    import plotly.express as px

    label = QUALITY_METRICS.get(metric, (metric,))[0]
    data = frame.dropna(subset=[metric]).sort_values(["generator", "ms_per_image"])
    # labels on the diffusion points only (their step counts): a dozen GAN names would overlap; hover names them
    data = data.assign(text=["" if pd.isna(s) or not s else f"{int(s)} steps" for s in data["steps"]])
    figure = px.scatter(data, x="ms_per_image", y=metric, color="kind", symbol="kind", text="text", log_x=True,
                        log_y=True, title=f"{label} against sampling cost (lower left is better)", hover_name="model",
                        labels={"ms_per_image": "ms per image (batch 64)", metric: label, "kind": ""},
                        hover_data={"n_generated": True, "device": True, "text": False},
                        color_discrete_map={"GAN": "#4C78A8", "diffusion": "#E45756"})
    for generator, line in data[data["kind"] == "diffusion"].groupby("generator"):
        figure.add_scatter(x=line["ms_per_image"], y=line[metric], mode="lines", line={"color": "#E45756", "dash": "dot"},
                           showlegend=False, hoverinfo="skip", name=generator)
    figure.update_traces(textposition="bottom left", cliponaxis=False, selector={"mode": "markers+text"})
    return _layout(figure, height=480)


def diffusion_reach(rows: Iterable[dict[str, Any]]) -> list[str]:
    """For each diffusion model with timeline rows (pass `latest(rows)`): how many training images its snapshots
    needed to reach the FID of the best GAN on the same data, extractor and number of generated images (quality
    rows), or that they did not within the run; one sentence each."""
    rows = [row for row in rows if row.get("error") is None and row.get("value") is not None and row["metric"] == "fid"]
    gans: dict[tuple, tuple[float, str]] = {}
    for row in rows:
        params = row.get("params") or {}
        if row["benchmark"] == "quality" and params.get("candidate") == "trained" and not params.get("sampling_steps"):
            key = (row["dataset"], _scalar(params.get("extractor", "")), _scalar(params.get("n_generated")))
            if key not in gans or row["value"] < gans[key][0]:
                gans[key] = (row["value"], row["model"])
    snapshots: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["benchmark"] == "timeline" and (row.get("params") or {}).get("sampling_steps"):
            snapshots[row["model"]].append(row)
    lines = []
    for model, found in sorted(snapshots.items()):
        found.sort(key=lambda r: r["params"].get("images_seen", 0))
        params = found[0]["params"]
        best = gans.get((found[0]["dataset"], _scalar(params.get("extractor", "")), params.get("n_generated")))
        if best is None:
            continue
        where = f"{params['sampling_steps']} sampler steps, {params.get('n_generated', 0):,} images"
        reached = next((r for r in found if r["value"] <= best[0]), None)
        if reached is not None:
            lines.append(f"{model} reached the best GAN's FID ({best[1]}: {best[0]:.2f}) after "
                         f"{reached['params']['images_seen']:,} training images (epoch {reached['params']['epoch']}: "
                         f"FID {reached['value']:.2f}; {where}).")
        else:
            top = min(found, key=lambda r: r["value"])
            lines.append(f"{model} did not reach the best GAN's FID ({best[1]}: {best[0]:.2f}) within "
                         f"{found[-1]['params']['images_seen']:,} training images: its best snapshot scored "
                         f"{top['value']:.2f} (epoch {top['params']['epoch']}; {where}).")
    return lines


def cost_table(frame: pd.DataFrame) -> pd.DataFrame:
    """cost_frame as a table, cheapest first: model, kind, steps, ms per image, FID, KID, images scored."""
    table = frame.sort_values(["dataset", "extractor", "ms_per_image"])
    return table[["dataset", "model", "kind", "steps", "ms_per_image", "fid", "kid_mean", "n_generated", "device"]]


# --- translation (benchmarks/translation.py): one table for results/summary.md, the dashboard and the model cards ---

# metric -> (column label, lower is better); the table's metric columns, in this order
TRANSLATION_METRICS = {
    "fid": ("FID", True),
    "kid_mean": ("KID", True),
    "kid_std": ("KID std", True),
    "l1": ("L1", True),  # paired: against each input's own photo, pixels in [0, 1]
    "psnr": ("PSNR (dB)", False),
    "ssim": ("SSIM", False),
    "lpips": ("LPIPS", True),  # only where the lpips package and its weights are present locally
    "colourfulness_gap": ("colourfulness gap", True),  # colorization: real photos' mean M minus the outputs'
    "colourfulness_output": ("colourfulness", False),
    "colourfulness_real": ("colourfulness (real)", False),
    "target_accuracy": ("target accuracy", False),  # unpaired and domains: share judged as the target class
    "cycle_l1": ("cycle L1", True),  # to the target domain and back, against the input
    "diversity_l1": ("diversity (L1)", False),  # MUNIT: mean pairwise L1 between the outputs of several styles
}
TRANSLATION_KEYS = ("task", "mode", "direction", "model", "candidate", "role", "family")
TRANSLATION_PROTOCOL = ("n_images", "n_real", "extractor", "reference_split", "device", "date")
TRANSLATION_COLUMNS = (*TRANSLATION_KEYS, *TRANSLATION_METRICS, *TRANSLATION_PROTOCOL)
TRANSLATION_CANDIDATES = ("trained", "unet-l1", "identity")
TRANSLATION_TASKS = ("edges2clothing", "mask2clothing", "colorize-clothing", "tshirt2longsleeve", "clothing-domains",
                     "clothing-attributes")
TRANSLATION_TARGET_ACCURACY = 0.70  # StarGAN: share of its outputs the classifier reads as the target class
TRANSLATION_COLORS = {"trained": "#4C78A8", "unet-l1": "#9D755D", "identity": "#BAB0AC"}
TRANSLATION_NOTE = (
    "Every translator is given the held-out test photos (64 px). FID and KID of its outputs against the target "
    "domain's real photos (`reference_split`: the test photos themselves for paired tasks, the train split's photos "
    "of the target class for unpaired and domain tasks), in the features of `classifier-clothing-64`; lower is "
    "better. Paired tasks also score each output against its own photo (L1, PSNR, SSIM, and LPIPS where present); "
    "colorization the colourfulness gap (Hasler & Süsstrunk 2003: real photos' mean minus the outputs'). Unpaired "
    "and domain tasks: the share of outputs classifier-clothing-64 reads as the target class, and the L1 after "
    "translating there and back. Baselines: `identity` (the input unchanged: a paired model's input shown as an RGB "
    "image, an unpaired model's photo itself) and `unet-l1` (the same U-Net trained with the L1 loss alone). "
    "Fader networks (attributes): class edits as for StarGAN; colour edits to each other named colour in turn, the "
    "target accuracy being the share of outputs whose own pixels read as the target colour (core.data.attributes); "
    "and the reconstruction at each photo's own class and colour."
)
TRANSLATION_UNPAIRED_NOTE = (
    "Unpaired and domain tasks have no ground truth to train an L1 U-Net on: identity is their only baseline."
)
TRANSLATION_LPIPS_ABSENT = "LPIPS: weights not present (the `lpips` package and its AlexNet weights are never downloaded)."


def translation_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Translation rows (pass `latest(rows)`, or one model's newest rows with its baselines') as one line per
    task, direction and model, a column per metric (NaN where a metric does not apply or was not measured).

    Columns, always all of them: task, mode, direction, model, candidate ("trained", "unet-l1", "identity"),
    role ("model" or "baseline"), family, then TRANSLATION_METRICS' keys (fid, kid_mean, kid_std, l1, psnr,
    ssim, lpips, colourfulness_gap, colourfulness_output, colourfulness_real, target_accuracy, cycle_l1,
    diversity_l1), then n_images, n_real, extractor, reference_split, device, date. Ordered by task, direction
    (as measured), candidate (trained, unet-l1, identity) and model.
    """
    entries: dict[tuple, dict[str, Any]] = {}
    newest: dict[tuple, datetime] = {}
    directions: dict[str, int] = {}
    for row in rows:
        if row["benchmark"] != "translation" or row.get("error") is not None or row["value"] is None:
            continue
        params = row.get("params") or {}
        task, direction = str(_scalar(params.get("task", ""))), str(_scalar(params.get("direction", "")))
        directions.setdefault(direction, len(directions))
        key = (task, direction, row["model"])
        entry = entries.setdefault(key, {
            "task": task, "mode": _scalar(params.get("mode", "")), "direction": direction, "model": row["model"],
            "candidate": _scalar(params.get("candidate", "")), "role": _role(row), "family": _scalar(params.get("family", "")),
        })
        entry[row["metric"]] = row["value"]
        if key not in newest or _when(row) >= newest[key]:
            newest[key] = _when(row)
            entry.update({name: _scalar(params.get(name)) for name in ("n_images", "n_real", "extractor", "reference_split")},
                         device=row["device"], date=_date(row))
    frame = pd.DataFrame(list(entries.values()))
    extra = [column for column in frame.columns if column not in TRANSLATION_COLUMNS]
    frame = frame.reindex(columns=[*TRANSLATION_KEYS, *TRANSLATION_METRICS, *extra, *TRANSLATION_PROTOCOL])
    if frame.empty:
        return frame
    for column in [*TRANSLATION_METRICS, *extra]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = _integers(frame, ("n_images", "n_real"))
    tasks = {name: i for i, name in enumerate(TRANSLATION_TASKS)}
    candidates = {name: i for i, name in enumerate(TRANSLATION_CANDIDATES)}
    order = [(tasks.get(t, len(tasks)), t, directions[d], candidates.get(c, len(candidates)), m)
             for t, d, c, m in zip(frame["task"], frame["direction"], frame["candidate"], frame["model"])]
    frame["_order"] = order
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def translation_value(metric: str, value: Any) -> str:
    """A translation metric as text: accuracy in percent, the rest as `_number`."""
    if value is None or pd.isna(value):
        return "–"
    return f"{100 * value:.1f} %" if metric == "target_accuracy" else _number(value)


def translation_notes(rows: Iterable[dict[str, Any]]) -> list[str]:
    """What a reader of the translation table needs besides it: the protocol, which baselines a task lacks, LPIPS."""
    rows = [row for row in rows if row["benchmark"] == "translation"]
    if not rows:
        return []
    table = translation_table(rows)
    notes = [TRANSLATION_NOTE]
    modes = {str((row.get("params") or {}).get("mode", "")) for row in rows}
    if modes & {"unpaired", "domains"}:
        notes.append(TRANSLATION_UNPAIRED_NOTE)
    if "paired" in modes:
        measured = any(row["metric"] == "lpips" and row.get("error") is None for row in rows)
        notes.append("LPIPS: AlexNet features (the `lpips` package)." if measured else TRANSLATION_LPIPS_ABSENT)
        paired = table[table["mode"] == "paired"]
        for task, group in paired.groupby("task", sort=False):
            if "unet-l1" not in set(group["candidate"]):
                notes.append(f"{task}: no unet-l1 model measured (none of that task in pretrained/), so identity is its only baseline.")
    return notes


def translation_targets(rows: Iterable[dict[str, Any]]) -> list[tuple[bool, str]]:
    """The translation targets, checked: (met, what) for every trained model and direction, "its FID is below
    each measured baseline's (identity, and unet-l1 for paired tasks)", and for a domain translator (StarGAN)
    "target-class accuracy >= 70 %"."""
    table = translation_table(rows)
    checks: list[tuple[bool, str]] = []
    if table.empty:
        return checks
    for (task, direction), group in table.groupby(["task", "direction"], sort=False):
        baselines = {candidate: group[group["candidate"] == candidate] for candidate in ("identity", "unet-l1")}
        # Fader networks (attributes) have no FID target: their edits are judged by attribute accuracy
        for entry in group[(group["candidate"] == "trained") & (group["mode"] != "attributes")].to_dict("records"):
            what = f"{entry['model']} ({task}, {direction})"
            fid = entry["fid"]
            if pd.isna(fid):
                checks.append((False, f"{what}: no FID measured"))
            else:
                beaten, parts = True, []
                for candidate, lines in baselines.items():
                    if candidate == "unet-l1" and entry["mode"] != "paired":
                        continue
                    values = [v for v in lines["fid"] if not pd.isna(v)]
                    if not values:
                        parts.append(f"no {candidate} baseline measured")
                        beaten = beaten and candidate != "identity"
                        continue
                    best = min(values)
                    beaten = beaten and fid < best
                    parts.append(f"{'below' if fid < best else 'NOT below'} {candidate}'s {_number(best)}")
                checks.append((beaten, f"{what}: FID {_number(fid)}, " + ", ".join(parts)))
            if entry["mode"] == "domains":
                accuracy = entry["target_accuracy"]
                met = not pd.isna(accuracy) and accuracy >= TRANSLATION_TARGET_ACCURACY
                shown = translation_value("target_accuracy", accuracy)
                checks.append((bool(met), f"{what}: target-class accuracy {shown} (target >= {TRANSLATION_TARGET_ACCURACY:.0%})"))
    return checks


def translation_for(rows: Iterable[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """The newest translation rows of `model` and of the baselines of its task(s) (identity, unet-l1): what its
    model card's table shows, `translation_table(translation_for(rows, model))`."""
    rows = latest(rows, "translation")
    own = [row for row in rows if row["model"] == model]
    tasks = {(row.get("params") or {}).get("task") for row in own}
    return own + [row for row in rows if row["model"] != model and _role(row) == "baseline"
                  and (row.get("params") or {}).get("task") in tasks]


def translation_figure(table: pd.DataFrame, task: str, metric: str = "fid") -> Figure:
    """Bars of `metric` for one task's lines of `translation_table`: each model next to its baselines
    (colour by candidate), one panel per direction when there are several."""
    import plotly.express as px

    data = table[(table["task"] == task) & table[metric].notna()]
    label, lower = TRANSLATION_METRICS.get(metric, (metric, True))
    data = data.assign(text=data[metric].map(_short))
    several = data["direction"].nunique() > 1
    figure = px.bar(
        data,
        x="model",
        y=metric,
        color="candidate",
        facet_col="direction" if several else None,
        color_discrete_map=TRANSLATION_COLORS,
        category_orders={"candidate": [c for c in TRANSLATION_CANDIDATES if c in set(data["candidate"])],
                         "direction": list(dict.fromkeys(data["direction"]))},
        title=f"{task}: {label} ({'lower' if lower else 'higher'} is better)",
        labels={metric: label, "model": "", "candidate": "", "direction": ""},
        hover_data={"n_images": True, "n_real": True, "reference_split": True},
        text="text",
    )
    figure.update_traces(textposition="outside", cliponaxis=False)
    if several:
        figure.for_each_annotation(lambda annotation: annotation.update(text=annotation.text.split("=", 1)[-1]))
        figure.update_xaxes(matches=None)
    return _layout(figure)


# --- Markdown (results/summary.md) ---


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    value = float(value)
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude >= 0.001 or value == 0:
        return f"{value:.4f}"
    return f"{value:.2g}"  # 0.00015, or 1.2e-05 when tinier


def _cell(value: Any, number: Callable[[Any], str] = _number) -> str:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        text = f"{value:,}"  # image counts, batch sizes: exact, with thousands separators
    else:
        text = number(value) if isinstance(value, float) or value is None or value is pd.NA else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _percent(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f}"


def _table(header: list[str], lines: Iterable[Iterable[Any]], number: Callable[[Any], str] = _number) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(value, number) for value in line) + " |" for line in lines]
    return out


def _quality_section(rows: list[dict[str, Any]]) -> list[str]:
    frame = leaderboard_frame(rows)
    out = []
    for (dataset, extractor), group in frame.groupby(["dataset", "extractor"], sort=False):
        out += ["", f"### {dataset}, features from `{extractor or 'unknown'}`", ""]
        seams = group["seam ratio"].notna().any()  # patch-based generators only
        lines = []
        for entry in group.to_dict("records"):
            kid = "–" if pd.isna(entry["KID"]) else _number(entry["KID"])
            if not pd.isna(entry["KID"]) and not pd.isna(entry["KID std"]):
                kid += f" ± {_number(entry['KID std'])}"
            lines.append(
                [
                    entry["model"],
                    entry["role"],
                    f"{_cell(entry['n_real'])} / {_cell(entry['n_generated'])}",
                    entry["FID"],
                    kid,
                    entry["precision"],
                    entry["recall"],
                    *([entry["seam ratio"]] if seams else []),
                ]
            )
        header = ["model", "role", "real / generated images", "FID", "KID (mean ± std)", "precision", "recall"]
        out += _table([*header, *(["seam ratio"] if seams else [])], lines)
    out += ["", QUALITY_NOTE]
    return out


def _throughput_section(rows: list[dict[str, Any]]) -> list[str]:
    table = throughput_table(throughput_frame(rows))
    return [""] + _table(list(table.columns), table.itertuples(index=False)) if not table.empty else []


def _robustness_section(rows: list[dict[str, Any]]) -> list[str]:
    table = robustness_table(robustness_frame(rows))
    if table.empty:
        return []
    out = ["", ROBUSTNESS_NOTE, ""]
    out += _table(list(table.columns), table.itertuples(index=False), number=_percent)
    seconds = curve_seconds(rows)
    if seconds:
        out += ["", f"The curves took {seconds / 60:.1f} minutes in total."]
    return out


COLLECTION_NOTE = (
    "Protocol: Fashion-MNIST 8,226-image train prefix, batch 64, {epochs} epochs (passes of the critic over the data, "
    "however many generator steps a family takes per batch), 4,443 samples, domain FID (`features-fashion-mnist`) "
    "against the train prefix, seed 0; every family trained from scratch by the suite's trainer with its recipe. "
    "`shipped`: the recipe's networks; `reference`: the reference collection's (infoGAN paper's) networks at its "
    "widths. Reference: pytorch-generative-model-collections' own code, run once on this 2-core CPU under the same "
    "protocol (cited; no row of this benchmark). Target: FID at most half the reference's and at most "
    f"{COLLECTION_TARGET_FID:g}; with the reference's networks, at least {COLLECTION_TARGET_SPEEDUP:g}x its images/s. "
    "Speeds are real training images read per second on this run's device (CPU times are noisy: compare within one run)."
)


COLLECTION_TABLE_NOTE = (
    "Each family's shipped model (`pretrained/<family>-fashion-mnist`): quality and training speed from the newest "
    "quality and throughput runs, FID of its training snapshots from the timeline benchmark, and the FID the same "
    "recipe reaches after the collection benchmark's 10 epochs. Details below."
)


def _collection_section(rows: list[dict[str, Any]]) -> list[str]:
    frame = collection_frame(rows)
    if frame.empty:
        return []
    lines = []
    for entry in frame.to_dict("records"):
        reference = entry["reference_fid"]
        lines.append([entry["family"], entry["networks"], entry["train_images_per_s"], entry["fid"], entry["kid_mean"],
                      entry["precision"], entry["recall"], entry["conditional_accuracy"],
                      "–" if reference is None or pd.isna(reference) else f"{reference:g}",
                      f"≤ {entry['fid_target']:g}: " + ("yes" if entry["fid_met"] else "no")])
    header = ["family", "networks", "train images/s", "FID", "KID", "precision", "recall", "cond. accuracy",
              "reference FID", "FID target met"]
    epochs = ", ".join(_distinct(frame["epochs"]))
    return ["", COLLECTION_NOTE.format(epochs=epochs), ""] + _table(header, lines)


def _timeline_section(rows: list[dict[str, Any]]) -> list[str]:
    frame = timeline_frame(rows)
    if frame.empty:
        return []
    fid = frame[frame["metric"] == "fid"].pivot_table(index="model", columns="epoch", values="value", aggfunc="first")
    lines = [[model, *values] for model, values in zip(fid.index, fid.to_numpy().tolist())]
    note = "FID of the averaged generator after each snapshot epoch (the quality benchmark's protocol):"
    return ["", note, ""] + _table(["model", *[f"epoch {e}" for e in fid.columns]], lines)


def _growth_section(rows: list[dict[str, Any]]) -> list[str]:
    wide = growth_table(rows)
    if wide.empty:
        return []
    lines = [[r.model, f"{r.size} px", r.stage, f"{r.images_shown:,}", *(getattr(r, m, None) for m in ("fid", "kid_mean", "precision", "recall"))]
             for r in wide.itertuples(index=False)]
    note = "Each stage judged at its own resolution (the training images brought to it, both enlarged to the full size):"
    return ["", note, ""] + _table(["model", "size", "stage", "real images shown", "FID", "KID", "precision", "recall"], lines)


def _translation_section(rows: list[dict[str, Any]]) -> list[str]:
    table = translation_table(rows)
    if table.empty:
        return []
    notes = translation_notes(rows)
    out = ["", notes[0]]
    for task, group in table.groupby("task", sort=False):
        metrics = [m for m in TRANSLATION_METRICS if m != "kid_std" and group[m].notna().any()]
        lines = [[e["direction"], e["model"], e["candidate"], f"{_cell(e['n_images'])} / {_cell(e['n_real'])}",
                  *[translation_value(m, e[m]) for m in metrics]] for e in group.to_dict("records")]
        header = ["direction", "model", "candidate", "images / reference", *[TRANSLATION_METRICS[m][0] for m in metrics]]
        splits = ", ".join(_distinct(group["reference_split"]))
        extractors = ", ".join(_distinct(group["extractor"]))
        out += ["", f"### {task} ({group['mode'].iloc[0]}), reference split `{splits}`, features from `{extractors}`", ""]
        out += _table(header, lines)
    out += ["", *[f"{note}" for note in notes[1:]]] if len(notes) > 1 else []
    checks = translation_targets(rows)
    if checks:
        intro = ("Targets (each trained translator's FID below its baselines'; StarGAN's target-class accuracy "
                 f">= {TRANSLATION_TARGET_ACCURACY:.0%}):")
        out += ["", intro, ""]
        out += [f"- {'met' if met else '**not met**'}: {text}" for met, text in checks]
    return out


def _memory_section(rows: list[dict[str, Any]]) -> list[str]:
    table = memory_table(memory_frame(rows))
    return [""] + _table(list(table.columns), table.itertuples(index=False)) if not table.empty else []


def _generic_section(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        [row["model"], row["dataset"], row["metric"], row["value"], row.get("unit", "")]
        for row in rows
        if row.get("error") is None
    ]
    return [""] + _table(["model", "dataset", "metric", "value", "unit"], lines) if lines else []


def _serving_section(rows: list[dict[str, Any]]) -> list[str]:
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for row in rows:
        if row.get("error") is None and row["value"] is not None:
            cells.setdefault((row["model"], int((row.get("params") or {}).get("clients", 0))), {})[row["metric"]] = row["value"]
    lines = []
    for (space, clients), m in sorted(cells.items()):
        before = SERVING_BEFORE.get(space)
        if clients == 1 and space in SERVING_TARGET_P95_MS_BY_SPACE:  # the edit-then-search Space's own target
            target = f"p95 <= {SERVING_TARGET_P95_MS_BY_SPACE[space]:.0f} ms"
        elif clients == 1:
            target = f"p95 <= {SERVING_TARGET_P95_MS:.0f} ms"
        else:
            target = f">= {SERVING_TARGET_SPEEDUP * before:.1f} calls/s, p95 < 1 s" if before else "p95 < 1 s"
        lines.append([space, clients, _fmt(m.get("latency_ms_p50"), "{:.0f}"), _fmt(m.get("latency_ms_p95"), "{:.0f}"),
                      _fmt(m.get("calls_per_s"), "{:.1f}"), _fmt(m.get("errors"), "{:.0f}"),
                      _fmt(m.get("temp_dir_mb"), "{:.1f}"), target])
    header = ["Space", "clients", "p50 ms", "p95 ms", "calls/s", "errors", "cache MB", "target"]
    return [""] + _table(header, lines) if lines else []


def _fmt(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _clustering_section(rows: list[dict[str, Any]]) -> list[str]:
    cells: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("error") is None and row["value"] is not None:
            cell = cells.setdefault(row["model"], {"params": row.get("params") or {}})
            cell[row["metric"]] = row["value"]
    lines = []
    for model, m in cells.items():
        seconds = m.get("seconds", m.get("decode_seconds"))
        p = m["params"]
        met = "" if "seconds" not in m else (" (met)" if seconds <= CLUSTERING_TARGET_S else " (NOT met)")
        lines.append([model, _cell(p.get("images")), _cell(p.get("threads")), _fmt(seconds, "{:.1f}") + met,
                      _fmt(m.get("images_per_s"), "{:,.0f}"), _fmt(m.get("silhouette"), "{:.3f}"),
                      _fmt(m.get("nmi"), "{:.3f}"), ", ".join(map(str, p.get("sizes", [])))])
    header = ["scenario", "images", "threads", f"seconds (target <= {CLUSTERING_TARGET_S:.0f})", "images/s",
              "silhouette", "NMI vs classes", "cluster sizes"]
    return ["", *_table(header, lines)] if lines else []


def _retrieval_section(rows: list[dict[str, Any]]) -> list[str]:
    table = retrieval_table(rows)
    if table.empty:
        return []
    metrics = [m for m in RETRIEVAL_METRICS if m in table and table[m].notna().any()]
    lines = [[e["model"], e["index"], *[retrieval_value(m, e[m]) for m in metrics]] for e in table.to_dict("records")]
    return ["", RETRIEVAL_NOTE, "", *_table(["embedding", "index", *[RETRIEVAL_METRICS[m][0] for m in metrics]], lines)]


SECTIONS = {
    "serving": _serving_section,
    "clustering": _clustering_section,
    "retrieval": _retrieval_section,
    "quality": _quality_section,
    "throughput": _throughput_section,
    "collection": _collection_section,
    "timeline": _timeline_section,
    "growth": _growth_section,
    "robustness": _robustness_section,
    "memory": _memory_section,
    "translation": _translation_section,
}


def summary_markdown(rows: Iterable[dict[str, Any]]) -> str:
    """results/summary.md: for the newest run of each benchmark in `rows`, its tables, protocol and errors."""
    rows = latest(rows)
    out = ["# Benchmark results", ""]
    if not rows:
        return "\n".join([*out, NO_RESULTS, ""])
    out.append(
        "The newest run of each benchmark and kind of device (CPU, GPU) in `results/*.jsonl` (older runs stay in those files). "
        "Written by `python -m benchmarks`; the dashboard (`make dashboard`) shows the same figures as charts."
    )
    table = collection_table(rows)
    if not table.empty:
        out += ["", "## The classic collection, side by side", "", COLLECTION_TABLE_NOTE, ""]
        out += _table(list(table.columns), table.itertuples(index=False))
    cost = cost_frame(rows)
    if (cost["kind"] == "diffusion").any():
        out += ["", "## Quality against sampling cost: GANs and diffusion", "", COST_NOTE]
        reach = diffusion_reach(rows)
        out += ["", *[f"- {line}" for line in reach]] if reach else []
        for (dataset, extractor), group in cost.groupby(["dataset", "extractor"], sort=False):
            lines = [[e["model"], e["kind"], "1 pass" if pd.isna(e["steps"]) or not e["steps"] else f"{int(e['steps'])}",
                      f"{e['ms_per_image']:.3g}", e["fid"], e["kid_mean"], e["n_generated"], e["device"]]
                     for e in cost_table(group).to_dict("records")]
            out += ["", f"### {dataset}, features from `{extractor}`", ""]
            out += _table(["model", "kind", "steps", "ms per image", "FID", "KID", "images", "device"], lines)
    for name in benchmarks(rows):
        selected = of(rows, name)
        out += ["", f"## {TITLES.get(name, name.capitalize())}", "", f"Measured: {describe_run(selected)}."]
        data = data_lines(selected)
        if data:
            out += ["", "Data:", *[f"- {line}" for line in data]]
        out += SECTIONS.get(name, _generic_section)(selected)
        errors = error_lines(selected)
        if errors:
            out += ["", f"### Errors ({len(errors)})", "", *[f"- {line}" for line in errors]]
    return "\n".join(out) + "\n"


# --- retrieval (benchmarks/retrieval.py) ---

# metric -> (column label, higher is better); the retrieval table's metric columns, in this order
RETRIEVAL_METRICS = {
    "recall_at_1": ("recall@1", True),  # share of test queries with a photo of their class first
    "recall_at_5": ("recall@5", True),
    "recall_at_10": ("recall@10", True),
    "precision_at_10": ("precision@10", True),  # mean share of the top 10 of the query's class
    "identity_at_1": ("identity@1", True),  # an augmented gallery photo finds itself first
    "identity_at_10": ("identity@10", True),
    "agreement_at_10": ("HNSW-exact agreement@10", True),
    "build_s": ("build s", False),  # the index from the embeddings
    "build_s_with_embedding": ("build s (with embedding)", False),
    "latency_ms_p50": ("upload p50 ms", False),  # one uploaded photo: decode, convert, embed, search
    "latency_ms_p95": ("upload p95 ms", False),
    "search_ms_p50": ("search p50 ms", False),  # one embedding: the search alone
    "search_ms_p95": ("search p95 ms", False),
    # edit, then search (a Fader network recolours each test photo, its class kept)
    "edit_target_color_at_10": ("edit: target colour@10", True),  # share of the edit's top 10 in the target colour
    "photo_target_color_at_10": ("photo: target colour@10", True),  # the same share for the unedited photo
    "edit_class_at_10": ("edit: class kept@10", True),
    "edit_color_accuracy": ("edit reads as target colour", True),
}
RETRIEVAL_KEYS = ("model", "role", "index")
RETRIEVAL_PROTOCOL = ("n_gallery", "n_queries", "dim", "extractor_fingerprint", "device", "date")
RETRIEVAL_INDEXES = ("exact", "hnsw")
RETRIEVAL_COLORS = {"recall@1": "#4C78A8", "recall@5": "#72B7B2", "recall@10": "#BAB0AC"}
RETRIEVAL_NOTE = (
    "Gallery: the clothing train split (3,068 photos, 64 px), each extractor's L2-normalised embeddings in a faiss "
    "index, exact (inner product) and HNSW (M 32, efSearch 128); cosine similarity. Queries: the test split. "
    "recall@k: share of queries with at least one photo of their class in the first k; precision@10: mean share of "
    "the top 10 of the query's class. identity@k: a gallery photo, lightly augmented (shift, flip, brightness; "
    "seeded), found at rank 1 / in the top 10. Agreement: mean overlap of HNSW's and the exact top-10 sets. Times "
    "on the run's (shared, noisy) CPU: compare within one run. Baselines: `pixels-16` (16 x 16 pixels, centred) and "
    "the untrained extractor (same architecture, random weights). Edit, then search: each test photo recoloured by "
    "fader-clothing-64 to another named colour in turn (class kept); the share of the edit's top 10 in the target "
    "colour, next to the same share for the unedited photo."
)


def retrieval_share(metric: str) -> bool:
    """Whether a retrieval metric is a share of queries (shown in percent) rather than a time."""
    return metric.startswith(("recall", "precision", "identity", "agreement", "edit_", "photo_")) or metric.endswith("_share")


def retrieval_value(metric: str, value: Any) -> str:
    """A retrieval metric as text: shares in percent, seconds and milliseconds as numbers."""
    if value is None or pd.isna(value):
        return "–"
    return f"{100 * value:.1f} %" if retrieval_share(metric) else _number(value)


def retrieval_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Retrieval rows (pass `latest(rows)`) as one line per extractor (`model`) and index kind, a column per metric
    (NaN where not measured). Columns: model, role, index, RETRIEVAL_METRICS' keys, any other metric the rows
    carry (a scenario kind added later), then n_gallery, n_queries, dim, extractor_fingerprint, device, date.
    Ordered: models before baselines, as measured; exact before hnsw."""
    entries: dict[tuple, dict[str, Any]] = {}
    newest: dict[tuple, datetime] = {}
    models: dict[str, int] = {}
    for row in rows:
        if row["benchmark"] != "retrieval" or row.get("error") is not None or row["value"] is None:
            continue
        params = row.get("params") or {}
        index = str(_scalar(params.get("index", "")) or "")
        models.setdefault(row["model"], len(models))
        key = (row["model"], index)
        entry = entries.setdefault(key, {"model": row["model"], "role": _role(row), "index": index})
        entry[row["metric"]] = row["value"]
        if key not in newest or _when(row) >= newest[key]:
            newest[key] = _when(row)
            entry.update({name: _scalar(params.get(name)) for name in RETRIEVAL_PROTOCOL[:4] if name in params},
                         device=row["device"], date=_date(row))
    frame = pd.DataFrame(list(entries.values()))
    extra = [column for column in frame.columns if column not in (*RETRIEVAL_KEYS, *RETRIEVAL_METRICS, *RETRIEVAL_PROTOCOL)]
    frame = frame.reindex(columns=[*RETRIEVAL_KEYS, *RETRIEVAL_METRICS, *extra, *RETRIEVAL_PROTOCOL])
    if frame.empty:
        return frame
    for column in [*RETRIEVAL_METRICS, *extra]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = _integers(frame, ("n_gallery", "n_queries", "dim"))
    indexes = {name: i for i, name in enumerate(RETRIEVAL_INDEXES)}
    frame["_order"] = [(role != "model", models[model], indexes.get(index, len(indexes)), index)
                       for model, role, index in zip(frame["model"], frame["role"], frame["index"])]
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def retrieval_figure(table: pd.DataFrame, index: str = "exact") -> Figure:
    """Grouped bars of recall@1, 5 and 10 of each extractor (`model`) on one index kind of `retrieval_table`."""
    import plotly.express as px

    metrics = [m for m in ("recall_at_1", "recall_at_5", "recall_at_10") if m in table]
    data = table[table["index"] == index].melt(id_vars=["model", "role"], value_vars=metrics, var_name="metric",
                                              value_name="value").dropna(subset=["value"])
    data = data.assign(k=data["metric"].map(lambda m: RETRIEVAL_METRICS[m][0]),
                       percent=100 * data["value"], text=(100 * data["value"]).map(lambda v: f"{v:.1f}"))
    figure = px.bar(
        data, x="model", y="percent", color="k", barmode="group", color_discrete_map=RETRIEVAL_COLORS,
        category_orders={"k": [RETRIEVAL_METRICS[m][0] for m in metrics], "model": list(dict.fromkeys(data["model"]))},
        title=f"Class recall@k, {index} index (higher is better)",
        labels={"percent": "recall (%)", "model": "", "k": ""}, hover_data={"role": True}, text="text",
    )
    figure.update_traces(textposition="outside", cliponaxis=False)
    figure.update_yaxes(range=[0, 105])
    return _layout(figure)
