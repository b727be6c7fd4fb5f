"""Training timelines: sample quality of the snapshots a run kept after given epochs.

    python -m benchmarks.timeline [RUN_DIR ...] [--device cpu|cuda] [--out results/timeline.jsonl]
    python -m benchmarks run --only timeline --runs RUN_DIR ...     # the same through the runner

A run trained with `snapshot_epochs` (every recipe of the classic collection:
epochs 1, 5 and 10; 1, 10, 25 and 50 under `full`) keeps the averaged generator of each of those epochs in
`RUN_DIR/snapshots/epoch_NNN/`. Each snapshot is scored with the quality protocol
(`benchmarks.quality.generator_scores`: FID, KID, precision, recall and, for a
class-conditional generator, conditional accuracy), against the split the run
trained on, with as many samples as its held-out split has (a diffusion model:
`diffusion_n` samples at `diffusion_steps` sampler steps, from the profile). Default runs: every
folder under runs/ that holds snapshots.

Rows (benchmark "timeline") are named after the run's recipe, which is the name
its model ships under in pretrained/, with the epoch and step in params; the
dashboard, the cards and the collection Space show them next to the snapshot's
sample grid (exported with the model as timeline/epoch_NNN.png).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import fidelity, quality, run_scenarios
from core.errors import UserError
from core.inference import GeneratorPipeline, resolve_device
from core.paths import PROJECT_ROOT, RESULTS_DIR
from core.results import Row, device_label
from core.train.config import config_from_dict

BENCHMARK = "timeline"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
METRICS = ("fid", "kid_mean", "kid_std", "precision", "recall")


@dataclass(frozen=True)
class Scenario:
    """One snapshot of one run."""

    snapshot: Path  # RUN_DIR/snapshots/epoch_NNN
    seed: int = 0
    device: str = DEFAULT_DEVICE
    kid_subsets: int = 100
    # a diffusion model's snapshots: sampler steps and images (None: its default steps; the held-out split's size,
    # as for the GANs, so that their FIDs compare)
    diffusion_steps: int | None = None
    diffusion_n: int | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")

    @property
    def run_dir(self) -> Path:
        return self.snapshot.parent.parent


def snapshots(run_dirs: list[Path]) -> list[Path]:
    """Every snapshot folder of the runs, in epoch order; a folder that is not a run with snapshots is a UserError."""
    found = []
    for run_dir in run_dirs:
        folders = sorted((Path(run_dir) / "snapshots").glob("epoch_*/snapshot.json"))
        if not folders:
            raise UserError(f"{run_dir} has no snapshots (train with snapshot_epochs, e.g. --set snapshot_epochs=[1,10])")
        found += [folder.parent for folder in folders]
    return found


def default_runs(root: Path = PROJECT_ROOT / "runs") -> list[Path]:
    return sorted({p.parent.parent.parent for p in root.glob("*/snapshots/epoch_*/snapshot.json")}) if root.is_dir() else []


def run(scenario: Scenario) -> list[Row]:
    label = device_label(scenario.device)
    model, dataset, data, params = scenario.run_dir.name, "unknown", "", {"seed": scenario.seed}
    try:
        device = resolve_device(scenario.device)
        config = config_from_dict(json.loads((scenario.run_dir / "config.json").read_text()))
        model, dataset = config.recipe or model, config.dataset
        snapshot = json.loads((scenario.snapshot / "snapshot.json").read_text())
        params |= {"epoch": snapshot["epoch"], "step": snapshot["step"], "run": scenario.run_dir.name}
        from core.data import load_dataset

        reference = load_dataset(dataset, config.split, image_size=config.image_size,
                                 channels=config.channels or None, pad=config.pad)
        n = len(load_dataset(dataset, quality.HELDOUT_SPLITS.get(dataset, "test"), image_size=config.image_size,
                             channels=config.channels or None, pad=config.pad))
        pipe = GeneratorPipeline.from_pretrained(scenario.snapshot, device=device)
        if pipe.takes_steps:  # each image costs a network pass per step: the profile's steps and images
            params["sampling_steps"] = pipe.use_steps(scenario.diffusion_steps)
            n = scenario.diffusion_n or n
        scores = quality.generator_scores(pipe, dataset, reference, n, scenario.seed, device, kid_subsets=scenario.kid_subsets)
        params["n_generated"], params["n_real"] = n, len(reference)
        params["images_seen"] = int(snapshot["epoch"] * len(reference))  # training images: epochs over the split
        params["extractor"] = fidelity.DOMAIN_EXTRACTORS[dataset]
        data = f"reference: {reference.describe()}; candidate: {n:,} generated images"
    except Exception as err:  # noqa: BLE001 - a failed snapshot is recorded as rows; the benchmark goes on
        return [Row(BENCHMARK, model, dataset, metric, None, "", label, params, data, error=f"{type(err).__name__}: {err}")
                for metric in METRICS]
    return [Row(BENCHMARK, model, dataset, metric, value, "", label, params, data) for metric, value in scores.items()]


def format_table(rows: list[Row]) -> str:
    cells: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.model, row.params.get("epoch", "?")), {})[row.metric] = row
    lines = [["model", "epoch", "FID", "KID", "precision", "recall", "cond. acc"]]
    errors = {}
    for (model, epoch), metrics in cells.items():
        first = next(iter(metrics.values()))
        if first.error:
            errors[model] = first.error
            lines.append([model, str(epoch), *["error"] * 5])
            continue
        columns = (("fid", "{:.2f}"), ("kid_mean", "{:.4f}"), ("precision", "{:.3f}"), ("recall", "{:.3f}"),
                   (quality.CONDITIONAL_ACCURACY, "{:.3f}"))
        lines.append([model, str(epoch), *("-" if m not in metrics else f.format(metrics[m].value) for m, f in columns)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i < 1 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    return "\n".join(text + [f"error: {model}: {message}" for model, message in errors.items()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.timeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders with snapshots/ (default: every one under runs/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "timeline.jsonl", help="JSON-lines file to append to")
    args = parser.parse_args(argv)
    try:
        runs = args.runs or default_runs()
        if not runs:
            raise UserError("no runs with snapshots under runs/: train a collection recipe first (make train)")
        plan = [Scenario(folder, args.seed, args.device) for folder in snapshots(runs)]
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = run_scenarios(plan, run, args.out, BENCHMARK, unit="snapshot")
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
