"""Data loading: images/s a `folder:` source delivers, streamed, next to what a training step consumes.

    python -m benchmarks.loader [--folder DATA_ROOT/clothing-small/train] [--sizes 64 128 256] [--workers 0 1 2]
                                [--batches 6] [--train-steps 5] [--device cpu|cuda] [--out results/loader.jsonl]

Rows, appended to `--out` (model names say size and workers):
    train_images_per_s        `dcgan-clothing-64` (quick preset, the built-in photos in memory): real images
                              `Trainer.train_step` reads per second, after `--train-warmup` untimed steps; and
                              `dcgan-clothing-64-streamed`: the same training on the folder, streamed (automatic
                              workers), so the cost of streaming shows in the training itself
    decoded_images_per_s      `folder-<S>px-<W>w`: batches of 64 read through BatchStream from StreamingData at
                              S px with W worker processes (0: decoded in this process, no read-ahead), the
                              first batch untimed (it starts the workers: `startup_s`); the folder's JPEGs are
                              decoded as `folder:` decodes them (PIL draft, core.data.folder.USER_IMAGES)
    loader_to_training_ratio  at the recipe's 64 px: decoded_images_per_s / the in-memory train_images_per_s of
                              the same run (also in the decoded row's params); the target is `TARGET_RATIO`

The loader is timed alone, with nothing training beside it; the streamed training row is the same loader
sharing the machine with a training step. The files are in the page cache after the first scenario.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import run_and_report
from benchmarks.throughput import accelerate_on, synchronize
from core.data.folder import FolderSource
from core.data.sources import readable
from core.data.stream import StreamingData, stream_workers
from core.inference import resolve_device
from core.paths import RESULTS_DIR, data_root
from core.results import Row, device_label
from core.train.batches import BatchStream
from core.train.config import resolve_config
from core.train.trainer import Trainer

BENCHMARK = "loader"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
RECIPE = "dcgan-clothing-64"  # what the loader is compared with: its image size is the ratio's
TARGET_RATIO = 3.0  # the loader must deliver at least this many times what training consumes (issue 14)
BATCH_SIZE = 64
_TRAINING: dict[str, float] = {}  # recipe -> in-memory training images/s measured earlier in this run


def default_folder() -> Path:
    return data_root() / "clothing-small" / "train"


@dataclass(frozen=True)
class Scenario:
    """Either a training measurement (`train` set: "memory" or "stream") or a loader one (size and workers)."""

    folder: Path
    image_size: int = 64
    workers: int = 0
    batches: int = 6  # timed batches of BATCH_SIZE
    train: str = ""  # "memory": the recipe on its built-in data; "stream": on the folder, streamed
    train_steps: int = 5
    train_warmup: int = 2
    device: str = DEFAULT_DEVICE

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.batches < 1 or self.train_steps < 1 or self.train_warmup < 0 or self.workers < 0:
            raise ValueError(f"need batches, train_steps >= 1 and train_warmup, workers >= 0; got {self}")

    @property
    def name(self) -> str:
        if self.train:
            return RECIPE + ("-streamed" if self.train == "stream" else "")
        return f"folder-{self.image_size}px-{self.workers}w"


def scenarios(
    folder: Path | None = None,
    sizes: tuple[int, ...] = (64, 128, 256),
    workers: tuple[int, ...] = (0, 1, 2),
    batches: int = 6,
    train_steps: int = 5,
    train_warmup: int = 2,
    device: str = DEFAULT_DEVICE,
) -> list[Scenario]:
    """Training first (the ratio needs its figure), then every size x workers."""
    folder = (Path(folder) if folder is not None else default_folder()).resolve()
    common = {"folder": folder, "train_steps": train_steps, "train_warmup": train_warmup, "device": device}
    return [Scenario(train="memory", **common), Scenario(train="stream", **common)] + [
        Scenario(image_size=size, workers=w, batches=batches, **common) for size in sizes for w in workers
    ]


def run(scenario: Scenario) -> list[Row]:
    """Rows for one scenario; a failure becomes an error row, never an exception."""
    label = device_label(scenario.device if scenario.train else "cpu")
    metric, unit = ("train_images_per_s", "images/s") if scenario.train else ("decoded_images_per_s", "images/s")
    try:
        return measure_training(scenario, label) if scenario.train else measure_loader(scenario, label)
    except Exception as err:  # noqa: BLE001 - a failure is recorded as a row; the benchmark goes on
        return [
            Row(
                BENCHMARK,
                scenario.name,
                f"folder:{scenario.folder}",
                metric,
                None,
                unit,
                label,
                {"image_size": scenario.image_size, "workers": scenario.workers},
                error=f"{type(err).__name__}: {err}",
            )
        ]


def measure_training(scenario: Scenario, label: str) -> list[Row]:
    device = resolve_device(scenario.device)
    overrides = {"mixed_precision": "no"} if device.type == "cpu" else {}
    if scenario.train == "stream":
        overrides |= {"dataset": f"folder:{scenario.folder}", "split": "train", "data_loading": "stream"}
    config = resolve_config(RECIPE, "quick", overrides)
    with tempfile.TemporaryDirectory(prefix="fgl-loader-") as run_dir, accelerate_on(device):
        trainer = Trainer(config, run_dir, progress=False)
        try:
            for _ in range(scenario.train_warmup):
                trainer.train_step()
            synchronize(device)
            start = time.perf_counter()
            for _ in range(scenario.train_steps):
                trainer.train_step()
            synchronize(device)
            seconds = time.perf_counter() - start
            value = trainer.images_read(scenario.train_steps, scenario.train_warmup) / seconds
            data = trainer.data.describe()
        finally:
            close = getattr(trainer.data, "close", None)
            if close is not None:
                close()  # stop the streaming workers now, not when the trainer is collected
    if scenario.train == "memory":
        _TRAINING[RECIPE] = value
    params = {
        "recipe": RECIPE,
        "preset": "quick",
        "batch_size": config.batch_size,
        "image_size": config.image_size,
        "steps": scenario.train_steps,
        "warmup": scenario.train_warmup,
        "data_loading": scenario.train,
        "precision": config.mixed_precision,
    }
    if scenario.train == "stream":
        params["workers"] = stream_workers(config.workers)
    return [Row(BENCHMARK, scenario.name, config.dataset, "train_images_per_s", value, "images/s", label, params, data)]


def measure_loader(scenario: Scenario, label: str) -> list[Row]:
    source = FolderSource.open(f"folder:{scenario.folder}", "train")
    data = StreamingData(source, readable(source), scenario.image_size, 3, workers=scenario.workers)
    stream = BatchStream(data, BATCH_SIZE, seed=0)
    try:
        start = time.perf_counter()
        stream(0)  # starts the workers and their read-ahead
        startup = time.perf_counter() - start
        start = time.perf_counter()
        for step in range(1, scenario.batches + 1):
            stream(step)
        seconds = time.perf_counter() - start
    finally:
        data.close()
    value = scenario.batches * BATCH_SIZE / seconds
    params = {
        "image_size": scenario.image_size,
        "workers": scenario.workers,
        "batch_size": BATCH_SIZE,
        "batches": scenario.batches,
        "startup_s": round(startup, 3),
        "decoding": source.decoding.tag,
    }
    description = f"{data.describe()}; JPEG photos, 256 px on the shorter side"
    rows = []
    training = _TRAINING.get(RECIPE)
    if training is not None and scenario.image_size == 64:
        ratio = value / training
        params |= {"training_images_per_s": round(training, 1), "ratio_to_training": round(ratio, 2)}
        rows.append(
            Row(
                BENCHMARK,
                scenario.name,
                source.name,
                "loader_to_training_ratio",
                ratio,
                "x",
                label,
                {**params, "target": TARGET_RATIO, "meets_target": ratio >= TARGET_RATIO},
                description,
            )
        )
    return [
        Row(
            BENCHMARK, scenario.name, source.name, "decoded_images_per_s", value, "images/s", label, params, description
        ),
        *rows,
    ]


def format_table(rows: list[Row]) -> str:
    """One line per scenario: images/s and, at 64 px, the ratio to training; errors below."""
    by_model: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_model.setdefault(row.model, {})[row.metric] = row
    lines = [["scenario", "images/s", "x training"]]
    errors = []
    for model, metrics in by_model.items():
        main = metrics.get("train_images_per_s") or metrics.get("decoded_images_per_s")
        ratio = metrics.get("loader_to_training_ratio")
        if main is None or main.error:
            errors.append(f"error: {model}: {main.error if main else 'no rows'}")
            lines.append([model, "error", ""])
            continue
        mark = (
            "" if ratio is None else f"{ratio.value:.1f}" + ("" if ratio.value >= TARGET_RATIO else " (below target)")
        )
        lines.append([model, f"{main.value:,.0f}", mark])
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    text = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    ]
    return "\n".join(text + errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="a folder of images (default: DATA_ROOT/clothing-small/train)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="worker processes (0: in process)")
    parser.add_argument("--batches", type=int, default=6, help=f"timed batches of {BATCH_SIZE} per scenario")
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--train-warmup", type=int, default=2)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="for the training rows")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{BENCHMARK}.jsonl")
    args = parser.parse_args(argv)
    try:
        plan = scenarios(
            args.folder,
            tuple(args.sizes),
            tuple(args.workers),
            args.batches,
            args.train_steps,
            args.train_warmup,
            args.device,
        )
    except ValueError as err:
        parser.error(str(err))
    return run_and_report(plan, run, args.out, BENCHMARK, format_table)


if __name__ == "__main__":
    sys.exit(main())
