"""Robust accuracy of the shipped classifiers: accuracy-versus-epsilon curves under L-inf attacks.

    python -m benchmarks.robustness [--models NAME ...] [--attacks fgsm pgd noise] [--masks off on]
                                    [--epsilons 0 0.05 ... 0.3] [--pgd-steps 10] [--mask-threshold 0.1]
                                    [--limit N] [--seed 0] [--device cpu|cuda]
                                    [--out results/robustness.jsonl] [--plot results/robustness.png]

One scenario is (model, attack, mask): its curve over the epsilon grid on the
model's whole test split (or the first `--limit` images). Rows appended to
`--out`, in the suite's one row format (core.results):
    accuracy        one row per epsilon; params: attack, mask, mask_threshold,
                    epsilon, seed, n_images, pgd_steps; data says which split
    curve_seconds   wall-clock time of the whole curve
An image counts as correct at epsilon only if it is classified correctly clean
and under the attack at every smaller epsilon of the grid (see
core.robustness.accuracy_curve). "mask on" perturbs only the garment's pixels
(brightness > `--mask-threshold`). A scenario that fails gives error rows and
the others still run; the exit code is then 1. `--plot` draws every curve.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from benchmarks import run_scenarios
from core.data import ImageData, load_dataset
from core.errors import UserError
from core.files import atomic_path
from core.inference import list_models, load_classifier_cached, resolve_device, resolve_source
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label
from core.robustness import ATTACKS, PGD, Attack, accuracy_curve, clean_correct

BENCHMARK = "robustness"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DEFAULT_EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


@dataclass(frozen=True)
class Scenario:
    """One classifier under one attack, on all pixels or on the garment's only."""

    model: str  # a model folder, a name in pretrained/, or a Hub repo id
    attack: str  # a name in core.robustness.ATTACKS
    mask: bool = False
    epsilons: tuple[float, ...] = DEFAULT_EPSILONS
    pgd_steps: int = 10
    mask_threshold: float = 0.1
    seed: int = 0
    limit: int | None = None  # first N test images; None = the whole split
    device: str = DEFAULT_DEVICE
    batch_size: int = 1024
    params: dict = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.attack not in ATTACKS:
            raise ValueError(f"unknown attack {self.attack!r}; known: {', '.join(ATTACKS.names())}")
        if not self.epsilons or any(not 0 <= e <= 1 for e in self.epsilons):
            raise ValueError(f"epsilons must lie in [0, 1] (pixels in [0, 1]), got {list(self.epsilons)}")
        if self.pgd_steps < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError(f"need pgd_steps >= 1 and limit >= 1, got {self.pgd_steps} and {self.limit}")
        params = {"attack": self.attack, "mask": self.mask, "mask_threshold": self.mask_threshold if self.mask else None,
                  "seed": self.seed}
        if self.attack == "pgd":
            params |= {"pgd_steps": self.pgd_steps, "pgd_step_size": "2.5 * epsilon / steps", "random_start": True}
        object.__setattr__(self, "params", params)

    @property
    def name(self) -> str:
        return Path(self.model).name

    def make_attack(self) -> Attack:
        if self.attack == "pgd":
            # An image counts as broken at its first misclassified iterate (any iterate is a valid
            # attack), so it drops out of later steps: cheaper, and never weaker than the last iterate.
            return PGD(steps=self.pgd_steps, early_stop=True)
        return ATTACKS.get(self.attack)()


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Rows for one curve; a failure becomes error rows, never an exception."""
    label = device_label(scenario.device)
    dataset, data_note = "unknown", ""
    try:
        pipe = load_classifier_cached(scenario.model, str(resolve_device(scenario.device)), "torch")  # attacks need gradients
        dataset = model_dataset(scenario.model)
        test = test_split(dataset, pipe.image_size, pipe.channels)
        images, labels = test.images, test.labels
        if scenario.limit is not None:
            images, labels = images[: scenario.limit], labels[: scenario.limit]
        data_note = test.describe() + (f"; first {len(labels):,} images" if len(labels) < len(test) else "")
        start = time.perf_counter()
        # The clean pass is shared by a model's curves (all attacks, mask on and off); its time is in the first.
        key = (scenario.model, scenario.device, scenario.limit)
        if key not in _CLEAN:
            _CLEAN[key] = clean_correct(pipe.classifier, images, labels, batch_size=scenario.batch_size)
        points = accuracy_curve(
            pipe.classifier, images, labels, scenario.make_attack(), scenario.epsilons,
            mask_threshold=scenario.mask_threshold if scenario.mask else None,
            batch_size=scenario.batch_size, seed=scenario.seed, progress=progress, clean=_CLEAN[key],
        )
        seconds = time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 - any failure is recorded as rows; the benchmark goes on
        message = f"{type(err).__name__}: {err}"
        return [
            Row(BENCHMARK, scenario.name, dataset, "accuracy", None, "fraction", label,
                {**scenario.params, "epsilon": eps}, data_note, error=message)
            for eps in sorted(set(scenario.epsilons))
        ]
    rows = [
        Row(BENCHMARK, scenario.name, dataset, "accuracy", point.accuracy, "fraction", label,
            {**scenario.params, "epsilon": point.epsilon, "n_images": point.n_images, "correct": point.correct}, data_note)
        for point in points
    ]
    rows.append(Row(BENCHMARK, scenario.name, dataset, "curve_seconds", seconds, "s", label,
                    {**scenario.params, "epsilons": [p.epsilon for p in points], "n_images": len(labels)}, data_note))
    return rows


_CLEAN: dict[tuple, torch.Tensor] = {}  # (model, device, limit) -> which test images are classified correctly


def model_dataset(source: str) -> str:
    """The dataset a model was trained on, from its training.json."""
    path = resolve_source(source) / "training.json"
    if not path.is_file():
        raise UserError(f"{source} has no training.json: cannot tell which test split to evaluate it on")
    return json.loads(path.read_text())["config"]["dataset"]


@lru_cache(maxsize=4)
def test_split(dataset: str, image_size: int, channels: int) -> ImageData:
    """The dataset's test split at the model's input size, loaded once per benchmark run."""
    return load_dataset(dataset, "test", image_size=image_size, channels=channels)


# ---------------------------------------------------------------------- report


def format_table(rows: list[Row]) -> str:
    """One line per curve: accuracy (%) at each epsilon, then the curve's time."""
    curves: dict[tuple, dict[float, Row]] = {}
    seconds: dict[tuple, float] = {}
    errors = []
    for row in rows:
        key = (row.model, row.params["attack"], "on" if row.params["mask"] else "off")
        if row.error:
            errors.append(f"error: {' '.join(key)}: {row.error}")
        if row.metric == "accuracy":
            curves.setdefault(key, {})[row.params["epsilon"]] = row
        elif row.metric == "curve_seconds":
            seconds[key] = row.value
    epsilons = sorted({eps for curve in curves.values() for eps in curve})
    header = ["model", "attack", "mask", *(f"{eps:g}" for eps in epsilons), "seconds"]
    lines = [header]
    for key, curve in curves.items():
        cells = [f"{100 * curve[e].value:.1f}" if e in curve and curve[e].value is not None else "-" for e in epsilons]
        lines.append([*key, *cells, f"{seconds[key]:.1f}" if key in seconds else "-"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    return "\n".join(text + sorted(set(errors)))


def plot_curves(rows: list[dict], path: Path) -> Path:
    """Accuracy vs epsilon, one panel per (attack, mask), one line per model; the newest row of each point wins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest: dict[tuple, dict] = {}
    for row in rows:
        if row["benchmark"] == BENCHMARK and row["metric"] == "accuracy" and row["value"] is not None:
            p = row["params"]
            latest[(row["model"], p["attack"], bool(p["mask"]), p["epsilon"])] = row
    if not latest:
        raise UserError("no robustness rows to plot")
    panels = sorted({(attack, mask) for _, attack, mask, _ in latest})
    models = sorted({model for model, *_ in latest})
    columns = sorted({attack for attack, _ in panels})
    masks = sorted({mask for _, mask in panels})
    fig, axes = plt.subplots(len(masks), len(columns), figsize=(4.2 * len(columns), 3.4 * len(masks)),
                             sharex=True, sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10")
    for (attack, mask) in panels:
        ax = axes[masks.index(mask)][columns.index(attack)]
        for i, model in enumerate(models):
            points = sorted((eps, row["value"]) for (m, a, k, eps), row in latest.items() if (m, a, k) == (model, attack, mask))
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, color=colours(i % 10), label=model)
        ax.set_title(f"{attack}, {'garment pixels only' if mask else 'all pixels'}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1)
    for ax in axes[-1]:
        ax.set_xlabel("epsilon (L-inf, pixels in [0, 1])")
    for row_axes in axes:
        row_axes[0].set_ylabel("accuracy")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(models), 3), fontsize=8, frameon=False)
    data = sorted({row["data"] for row in latest.values() if row.get("data")})
    fig.suptitle("Robust accuracy vs epsilon" + (f" ({'; '.join(data)})" if data else ""), fontsize=9)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * ((len(models) - 1) // 3), 1, 0.95))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="classifier folders or names in pretrained/ (default: every classifier there)")
    parser.add_argument("--attacks", nargs="+", choices=ATTACKS.names(), default=ATTACKS.names())
    parser.add_argument("--masks", nargs="+", choices=["off", "on"], default=["off", "on"],
                        help="perturb all pixels (off) and/or only the garment's (on)")
    parser.add_argument("--epsilons", nargs="+", type=float, default=list(DEFAULT_EPSILONS))
    parser.add_argument("--pgd-steps", type=int, default=10)
    parser.add_argument("--mask-threshold", type=float, default=0.1, help="garment pixels: brightness above this (in [0, 1])")
    parser.add_argument("--limit", type=int, help="only the first N test images (default: the whole test split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "robustness.jsonl", help="JSON-lines file to append to")
    parser.add_argument("--plot", type=Path, default=RESULTS_DIR / "robustness.png", help="where to draw the curves")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    models = args.models or [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, kind="classifier")]
    if not models:
        parser.error(f"no classifiers in {PRETRAINED_DIR}; pass --models")
    try:
        scenarios = [
            Scenario(model, attack, mask == "on", tuple(args.epsilons), args.pgd_steps, args.mask_threshold,
                     args.seed, args.limit, args.device)
            for model in models for attack in args.attacks for mask in args.masks
        ]
    except ValueError as err:
        parser.error(str(err))

    started = time.perf_counter()
    rows = run_scenarios(scenarios, run, args.out, BENCHMARK, unit="curve")
    total = time.perf_counter() - started
    print(format_table(rows))
    print(f"{len(scenarios)} curves in {total:.1f} s on {device_label(args.device)}; {len(rows)} rows appended to {args.out}")
    if any(row.value is not None for row in rows):
        # The plot shows exactly this run's curves (the file may hold older runs too).
        print(f"plot: {plot_curves([row.to_dict() for row in rows], args.plot)}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
