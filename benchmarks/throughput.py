"""Training and generation throughput of the DCGAN models, on one device.

    python -m benchmarks.throughput [--models pretrained/dcgan-fashion-mnist ...] [--steps 30] [--warmup 5]
                                    [--repeats 20] [--device cpu|cuda] [--out results/throughput.jsonl]

Per model (default: every DCGAN in pretrained/), with rows appended to `--out`:
    train_images_per_s            the real `Trainer`, rebuilt from the model's training.json: `--warmup`
                                  untimed, then `--steps` timed iterations of `Trainer.train_step()`
    latency_ms_batch{1,64}_{median,p90}
                                  `GeneratorPipeline.sample(n)` end to end, as apps call it: latents,
                                  labels, forward pass, uint8 images on the host; `--repeats` timed calls
    gen_images_per_s_batch64      64 / the median batch-64 latency

A model that fails gives error rows (value None) and the others still run; the
exit code is 1 when any row is an error. Runs in one process on one device:
it resets accelerate's per-process state around each training measurement.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import patch_environment
from tqdm.auto import tqdm

from benchmarks import run_scenarios
from core.errors import UserError
from core.hub import family_of, read_config, read_training
from core.inference import GeneratorPipeline, list_models, resolve_device, resolve_source
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label
from core.train.config import TrainConfig, load_training_config
from core.train.trainer import Trainer

BENCHMARK = "throughput"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
LATENCY_BATCHES = (1, 64)
TRAIN_METRICS = [("train_images_per_s", "images/s")]
GEN_METRICS = [(f"latency_ms_batch{b}_{stat}", "ms") for b in LATENCY_BATCHES for stat in ("median", "p90")] + [
    (f"gen_images_per_s_batch{LATENCY_BATCHES[-1]}", "images/s")
]


@dataclass(frozen=True)
class Scenario:
    """One model on one device, and how long to measure it."""

    model: str  # a model folder, a name in pretrained/, or a Hub repo id
    device: str = DEFAULT_DEVICE
    steps: int = 30  # timed training steps
    warmup: int = 5  # untimed training steps, and untimed generation calls per batch size
    repeats: int = 20  # timed generation calls per batch size

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.steps < 1 or self.repeats < 1 or self.warmup < 0:
            got = f"steps={self.steps}, repeats={self.repeats}, warmup={self.warmup}"
            raise ValueError(f"need steps >= 1, repeats >= 1, warmup >= 0; got {got}")

    @property
    def name(self) -> str:
        return Path(self.model).name


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Rows for one model on one device; a failure becomes error rows, never an exception."""
    label = device_label(scenario.device)
    work = scenario.warmup + scenario.steps + len(LATENCY_BATCHES) * (scenario.warmup + scenario.repeats)
    dataset = "unknown"
    rows: list[Row] = []
    with tqdm(total=work, desc=f"{scenario.name} on {scenario.device}", leave=False, disable=not progress) as bar:
        try:
            folder = resolve_source(scenario.model)
            config = load_training_config(folder)
            dataset = config.dataset
            rows += measure_training(scenario, folder, config, label, bar.update)
        except Exception as err:  # noqa: BLE001 - any failure is recorded as a row; the benchmark goes on
            rows += error_rows(scenario, TRAIN_METRICS, dataset, label, err)
        try:
            rows += measure_generation(scenario, dataset, label, bar.update)
        except Exception as err:  # noqa: BLE001 - as above
            rows += error_rows(scenario, GEN_METRICS, dataset, label, err)
    return rows


def error_rows(
    scenario: Scenario, metrics: list[tuple[str, str]], dataset: str, label: str, err: Exception
) -> list[Row]:
    message = f"{type(err).__name__}: {err}"
    params = {"steps": scenario.steps, "warmup": scenario.warmup, "repeats": scenario.repeats}
    return [
        Row(BENCHMARK, scenario.name, dataset, metric, None, unit, label, params, error=message)
        for metric, unit in metrics
    ]


# ---------------------------------------------------------------------- training


def measure_training(
    scenario: Scenario, folder: Path, config: TrainConfig, label: str, tick: Callable[[], object]
) -> list[Row]:
    device = resolve_device(scenario.device)
    if device.type == "cpu" and config.mixed_precision == "auto":
        # "auto" means bf16 whenever a GPU exists, even for this CPU run; a CPU-only machine resolves it to "no".
        config = replace(config, mixed_precision="no")
    with tempfile.TemporaryDirectory(prefix="fgl-throughput-") as run_dir, accelerate_on(device):
        trainer = Trainer(config, run_dir, progress=False)
        check_same_generator(trainer, folder)
        if trainer.milestones:  # a growing model (ProGAN): a step costs what its stage costs, so time the exported one's
            trainer.step = max(0, int(read_training(folder)["summary"]["steps"]) - scenario.warmup - scenario.steps)

        def step() -> None:
            trainer.train_step()  # what Trainer.fit does per iteration, minus logging, samples and checkpoints
            tick()

        for _ in range(scenario.warmup):
            step()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(scenario.steps):
            step()
        synchronize(device)
        seconds = time.perf_counter() - start
        params = {
            "batch_size": config.batch_size,
            "steps": scenario.steps,
            "warmup": scenario.warmup,
            "precision": trainer.accelerator.mixed_precision,
            "seed": config.seed,
            "recipe": config.recipe,
            "preset": config.preset,
            "objective": trainer.objective.name,
            "loss": getattr(trainer.objective.options, "loss", None),
            "real_batches_per_step": trainer.stream.per_step,
        }
        # real training images read per second (a phase repeated 5 times reads 5 batches a step)
        value = trainer.images_read(scenario.steps) / seconds
        return [Row(BENCHMARK, scenario.name, config.dataset, "train_images_per_s", value, "images/s", label,
                    params, trainer.data.describe())]


def check_same_generator(trainer: Trainer, folder: Path) -> None:
    """Refuse to time a training setup whose generator is not the exported one."""
    rebuilt = asdict(trainer.model_config)
    exported = read_config(folder)
    # Read through the typed config, as loading does: a setting added after the export has its default.
    exported = asdict(family_of(exported).make_config(**{k: v for k, v in exported.items() if k != "family"}))
    differing = sorted(k for k in rebuilt if exported.get(k) != rebuilt[k])
    if differing:
        raise UserError(
            f"training.json rebuilds a generator that differs from {folder / 'config.json'} in {differing}: "
            "the training number would not be for this model"
        )


@contextmanager
def accelerate_on(device: torch.device) -> Iterator[None]:
    """A fresh accelerate state on `device` while the block runs.

    accelerate keeps one state per process and refuses to change its device or
    precision, so each measurement starts from, and leaves, a clean one.
    """
    reset_accelerate()
    try:
        with patch_environment(ACCELERATE_USE_CPU=str(device.type == "cpu").lower()):
            yield
    finally:
        reset_accelerate()


def reset_accelerate() -> None:
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


# ---------------------------------------------------------------------- generation


def measure_generation(scenario: Scenario, dataset: str, label: str, tick: Callable[[], object]) -> list[Row]:
    device = resolve_device(scenario.device)
    pipe = GeneratorPipeline.from_pretrained(scenario.model, device=device)
    precision = str(next(pipe.generator.parameters()).dtype).removeprefix("torch.")
    data = "none read: latents drawn from N(0, I), classes cycled"
    common = {"repeats": scenario.repeats, "warmup": scenario.warmup, "precision": precision}
    rows, medians_ms = [], {}
    for batch in LATENCY_BATCHES:
        for seed in range(scenario.warmup):
            pipe.sample(batch, seed=seed)
            tick()
        times_ms = []
        for seed in range(scenario.repeats):
            synchronize(device)
            start = time.perf_counter()
            pipe.sample(batch, seed=seed)
            synchronize(device)
            times_ms.append((time.perf_counter() - start) * 1000)
            tick()
        medians_ms[batch] = float(np.median(times_ms))
        params = {"batch_size": batch, **common}
        for stat, value in (("median", medians_ms[batch]), ("p90", np.percentile(times_ms, 90))):
            rows.append(Row(BENCHMARK, scenario.name, dataset, f"latency_ms_batch{batch}_{stat}", value, "ms", label,
                            {**params, "statistic": stat}, data))
    big = LATENCY_BATCHES[-1]
    rows.append(Row(BENCHMARK, scenario.name, dataset, f"gen_images_per_s_batch{big}", big / (medians_ms[big] / 1000),
                    "images/s", label, {"batch_size": big, **common, "statistic": "batch size / median latency"}, data))
    return rows


# ---------------------------------------------------------------------- helpers


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def format_table(rows: list[Row]) -> str:
    """One line per (model, device); "error" where a metric failed, the messages below."""
    columns = [
        ("train img/s", "train_images_per_s", "{:,.1f}"),
        ("b1 median ms", "latency_ms_batch1_median", "{:.2f}"),
        ("b1 p90 ms", "latency_ms_batch1_p90", "{:.2f}"),
        ("b64 median ms", "latency_ms_batch64_median", "{:.2f}"),
        ("gen img/s", "gen_images_per_s_batch64", "{:,.1f}"),
    ]
    groups: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        groups.setdefault((row.model, row.device), {})[row.metric] = row
    header = ["model", "device", *(title for title, _, _ in columns)]
    lines = [header]
    errors: dict[tuple[str, str, str], None] = {}
    for (model, device), metrics in groups.items():
        cells = [model, device]
        for _, metric, fmt in columns:
            row = metrics.get(metric)
            cells.append("-" if row is None else "error" if row.error else fmt.format(row.value))
            if row is not None and row.error:
                errors[(model, device, row.error)] = None
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    ]
    text += [f"error: {model} on {device}: {message}" for model, device, message in errors]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", help="model folders or names in pretrained/ (default: every DCGAN there)"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed training steps (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed training steps and generation calls (default 5)")
    parser.add_argument("--repeats", type=int, default=20, help="timed generation calls per batch size (default 20)")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR / "throughput.jsonl", help="JSON-lines file to append to"
    )
    args = parser.parse_args(argv)

    models = args.models or [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, "dcgan")]
    if not models:
        parser.error(f"no DCGAN models in {PRETRAINED_DIR}; pass --models")
    try:
        scenarios = [Scenario(model, args.device, args.steps, args.warmup, args.repeats) for model in models]
    except ValueError as err:
        parser.error(str(err))

    rows = run_scenarios(scenarios, lambda scenario: run(scenario, progress=True), args.out, BENCHMARK, unit="model")
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
