"""The classic collection against the reference implementation, at the reference's own budget.

    python -m benchmarks.collection [--families gan cgan ...] [--networks shipped reference] [--epochs 10]
                                    [--device cpu|cuda] [--out results/collection.jsonl] [--samples results/samples]
                                    [--runs runs/collection] [--no-baseline]
    python -m benchmarks run --only collection        # the same through the runner (not in the quick profile: it trains)

The protocol is the one the reference collection (pytorch-generative-model-collections)
was run under on this machine: Fashion-MNIST 8,226-image train prefix, batch 64,
`--epochs` passes of the critic over the data (10: 1,280 real batches, however many
generator steps a family takes per batch), 4,443 samples, FID/KID/precision/recall
with the domain extractor `features-fashion-mnist` against the train prefix, seed 0.

Every family of the collection is trained from scratch by the suite's trainer with
its own recipe (`<family>-fashion-mnist`, quick preset: the very run `make train`
makes, so `--runs runs/collection` keeps runs that export as the shipped models) and scored with the quality protocol
(`benchmarks.quality.generator_scores`); the class-conditional ones also get their
conditional accuracy (the share of samples `classifier-conv-fashion-mnist` assigns
to the requested class). `--networks` picks the nets: `shipped` (the recipe's) and
`reference`: like for like with the reference collection, its networks (`arch:
infogan` with its 1,024-wide layers in both) and its training algorithm (the
family's own, at the reference's learning rates, one generator step per real
batch; `reference_training`), for the families it has a figure for. A DCGAN row (`dcgan-fashion-mnist`'s recipe at the same
budget) is trained in the same run, so machine noise shows in the speeds. Training
speed is real training images read per second over the whole run (each critic step
reads a batch), on this machine's CPU or GPU.

Rows (benchmark "collection"): fid, kid_mean, kid_std, precision, recall,
conditional_accuracy (conditional families), train_images_per_s and train_seconds,
with the family, networks, epochs, steps and parameters in params. The reference
collection's own figures are not rows: they were measured once with its code (which
cannot ship here) and are cited by `REFERENCE` and in the summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import quality, run_scenarios
from benchmarks.throughput import accelerate_on, synchronize
from core.data import load_dataset
from core.errors import UserError
from core.images import make_grid, save_png
from core.inference import GeneratorPipeline, load_network, resolve_device
from core.models import COLLECTION, MODELS
from core.paths import RESULTS_DIR
from core.report import REFERENCE_COLLECTION
from core.results import Row, device_label
from core.train import Trainer, resolve_config
from core.train.config import family_defaults

BENCHMARK = "collection"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NETWORKS = ("shipped", "reference")
# `arch: infogan` at the reference collection's widths: its generator's and its critic's 1,024-wide layers.
REFERENCE_NETWORKS = {"arch": "infogan", "hidden": 1024, "generator_hidden": 1024}
REFERENCE_LR = {"G": 2e-4, "D": 2e-4}  # the reference collection's Adam, betas (0.5, 0.999) as the suite's default
BASELINE = "dcgan"  # the suite's DCGAN recipe, trained in the same run
# The reference collection's own code, run once on this 2-core CPU under this protocol (10 epochs; two
# patches only made it run on today's torchvision). Cited, not measured by this module; the targets are in core.report.
REFERENCE = REFERENCE_COLLECTION


@dataclass(frozen=True)
class Scenario:
    """One family trained for `epochs` with one set of networks, then scored."""

    family: str
    networks: str = "shipped"  # "shipped": the recipe's nets; "reference": the reference collection's
    epochs: float = 10
    seed: int = 0
    device: str = DEFAULT_DEVICE
    n_generated: int = 4443  # the protocol's sample count (the Fashion-MNIST test prefix's size)
    kid_subsets: int = 100
    samples: Path | None = None  # folder for the trained generator's sample grid
    runs: Path | None = None  # keep the training run in runs/<name> (to export or to score its snapshots); None: a temporary folder

    def __post_init__(self) -> None:
        if self.family not in (*COLLECTION, BASELINE):
            raise ValueError(f"family must be one of the collection ({', '.join(COLLECTION)}) or {BASELINE}")
        if self.networks not in NETWORKS:
            raise ValueError(f"networks must be one of {NETWORKS}, got {self.networks!r}")
        if self.family == BASELINE and self.networks != "shipped":
            raise ValueError("the DCGAN baseline has only its own networks")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if not self.epochs > 0 or self.n_generated < 2:
            raise ValueError(f"need epochs > 0 and n_generated >= 2, got {self.epochs} and {self.n_generated}")

    @property
    def recipe(self) -> str:
        return f"{self.family}-fashion-mnist"

    @property
    def name(self) -> str:
        return self.family if self.networks == "shipped" else f"{self.family}-reference-nets"


def config_for(scenario: Scenario):
    """The family's recipe under its quick preset (the protocol's 10 epochs: the run `make train` makes, mid-run
    grids, checkpoints and snapshots included), at the scenario's epochs and seed."""
    quick = resolve_config(scenario.recipe, "quick")
    overrides = {"epochs": scenario.epochs, "seed": scenario.seed, "batch_size": 64,
                 "snapshot_epochs": [e for e in quick.snapshot_epochs if e <= scenario.epochs]}
    if scenario.networks == "reference":
        overrides |= reference_training(scenario.family)
    return resolve_config(scenario.recipe, "quick", overrides)


def reference_training(family: str) -> dict:
    """Like for like with the reference collection: its networks and widths, and its training algorithm, the
    family's own (its critic steps, optimizer, clipping, penalty) with the reference's learning rates (2e-4
    where the family sets none) and one generator step per real batch, in place of the recipe's tuning."""
    own = family_defaults(family)
    return {"model_config": REFERENCE_NETWORKS, "lr": own.get("lr", dict(REFERENCE_LR)), "phases": {"G": {"repeats": 1}}}


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Train, time and score one scenario; a failure becomes error rows, never an exception."""
    label = device_label(scenario.device)
    params = {"family": scenario.family, "networks": scenario.networks, "epochs": scenario.epochs,
              "seed": scenario.seed, "batch_size": 64, "n_generated": scenario.n_generated}
    metrics = ["fid", "kid_mean", "kid_std", "precision", "recall", "train_images_per_s", "train_seconds"]
    data = ""
    try:
        device = resolve_device(scenario.device)
        config = config_for(scenario)
        with _run_dir(scenario) as run_dir, accelerate_on(device):
            trainer = Trainer(config, run_dir, progress=progress)
            data = f"trained and referenced on: {trainer.data.describe()}; candidate: {scenario.n_generated:,} generated images"
            synchronize(device)
            start = time.perf_counter()
            trainer.fit()
            synchronize(device)
            seconds = time.perf_counter() - start
            images = trainer.images_read(trainer.step)
            generator = load_network(Path(run_dir) / MODELS.get(config.model).exported, "generator")
            params |= {"steps": trainer.step, "real_batches_per_step": trainer.stream.per_step, "recipe": config.recipe,
                       "arch": getattr(trainer.model_config, "arch", "dcgan"),
                       "generator_parameters": sum(p.numel() for p in generator.parameters()),
                       "precision": trainer.accelerator.mixed_precision}
        pipe = GeneratorPipeline(generator, scenario.name, device)
        reference = load_dataset("fashion-mnist", "train", image_size=28, channels=1)
        scores = quality.generator_scores(pipe, "fashion-mnist", reference, scenario.n_generated, scenario.seed, device,
                                          kid_subsets=scenario.kid_subsets)
        scores |= {"train_images_per_s": images / seconds, "train_seconds": seconds}
        if scenario.samples is not None:
            grid = make_grid(pipe.sample(100, seed=scenario.seed), nrow=10)
            save_png(grid, scenario.samples / "collection" / f"{scenario.name}-epoch{scenario.epochs:g}.png", scale=2)
        if quality.CONDITIONAL_ACCURACY in scores:
            params["label_classifier"] = quality.LABEL_CLASSIFIERS["fashion-mnist"]
    except Exception as err:  # noqa: BLE001 - a failed scenario is recorded as rows; the benchmark goes on
        message = f"{type(err).__name__}: {err}"
        return [Row(BENCHMARK, scenario.name, "fashion-mnist", metric, None, UNITS.get(metric, ""), label, params, data,
                    error=message) for metric in metrics]
    return [Row(BENCHMARK, scenario.name, "fashion-mnist", metric, value, UNITS.get(metric, ""), label, params, data)
            for metric, value in scores.items()]


UNITS = {"train_images_per_s": "images/s", "train_seconds": "s"}


@contextmanager
def _run_dir(scenario: Scenario) -> Iterator[str]:
    if scenario.runs is None:
        with tempfile.TemporaryDirectory(prefix="fgl-collection-") as run_dir:
            yield run_dir
        return
    run_dir = scenario.runs / scenario.name
    if run_dir.exists():
        raise UserError(f"{run_dir} exists: the benchmark trains from scratch; remove it or pick another --runs folder")
    yield str(run_dir)


def scenarios(families: tuple[str, ...] = COLLECTION, networks: tuple[str, ...] = NETWORKS, baseline: bool = True,
              **options) -> list[Scenario]:
    """The DCGAN baseline first (unless `baseline` is false: re-running some families of an earlier run), then
    every family with its shipped networks and, where the reference collection has a figure to compare with
    (`REFERENCE`), with the reference's networks too (like for like)."""
    out = [Scenario(BASELINE, "shipped", **options)] if baseline else []
    for family in families:
        out += [Scenario(family, nets, **options) for nets in networks if nets == "shipped" or family in REFERENCE]
    return out


# ---------------------------------------------------------------------- table


def format_table(rows: list[Row]) -> str:
    """One line per scenario: the targets next to what was measured; errors listed below."""
    cells: dict[str, dict[str, Row]] = {}
    for row in rows:
        cells.setdefault(row.model, {})[row.metric] = row
    header = ["model", "networks", "epochs", "train img/s", "FID", "KID", "precision", "recall", "cond. acc", "reference FID"]
    lines, errors = [header], {}
    for model, metrics in cells.items():
        first = next(iter(metrics.values()))
        if first.error:
            errors[model] = first.error
            lines.append([model, first.params.get("networks", "?"), "-", *["error"] * 6, "-"])
            continue

        def cell(metric: str, fmt: str, metrics: dict[str, Row] = metrics) -> str:
            row = metrics.get(metric)
            return "-" if row is None or row.value is None else fmt.format(row.value)

        cited = REFERENCE.get(first.params["family"], {}).get("fid")
        lines.append([model, first.params["networks"], f"{first.params['epochs']:g}", cell("train_images_per_s", "{:,.0f}"),
                      cell("fid", "{:.2f}"), cell("kid_mean", "{:.4f}"), cell("precision", "{:.3f}"),
                      cell("recall", "{:.3f}"), cell(quality.CONDITIONAL_ACCURACY, "{:.3f}"),
                      "-" if cited is None else f"{cited:g}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    text += [f"error: {model}: {message}" for model, message in errors.items()]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collection", description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", choices=COLLECTION, default=list(COLLECTION))
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--epochs", type=float, default=10, help="passes of the critic over the data (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "collection.jsonl", help="JSON-lines file to append to")
    parser.add_argument("--samples", type=Path, default=RESULTS_DIR / "samples", help="folder for the sample grids")
    parser.add_argument("--no-baseline", action="store_true", help="no DCGAN row (re-running some families: the "
                        "summary keeps the newest row of each scenario)")
    parser.add_argument("--runs", type=Path, help="keep every training run in RUNS/<model> (export them with "
                        "python -m core export; score their snapshots with benchmarks.timeline)")
    args = parser.parse_args(argv)
    try:
        plan = scenarios(tuple(args.families), tuple(args.networks), not args.no_baseline, epochs=args.epochs, seed=args.seed,
                         device=args.device, samples=args.samples, runs=args.runs)
    except ValueError as err:
        parser.error(str(err))
    try:
        rows = run_scenarios(plan, lambda s: run(s, progress=True), args.out, BENCHMARK, unit="training run")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
