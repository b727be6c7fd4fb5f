"""Training memory and speed of COCO-GAN against a full-image GAN of the same capacity, by resolution.

    python -m benchmarks.memory [--resolutions 64 128 256] [--fixed-resolutions 128 256 512 1024]
                                [--batch-size 8] [--steps 3] [--warmup 1]
                                [--device cpu|cuda] [--out results/memory.jsonl]

Models (`MODELS`), all built from core.models.cocogan with the same width
schedule (channels per resolution), z size and losses (core.objectives.cocogan:
WGAN-GP, spatial consistency, Q), at image size R:
- `cocogan`: micro patches of R/4 px, macro patches of R/2 px (256 / 128 / 64);
- `full-image-gan`: micro = macro = R: the generator draws the whole image and
  the discriminator judges it, i.e. the same networks without generation by parts;
- `cocogan-fixed-64-32`: macro patches of 64 px and micro patches of 32 px
  whatever R is (from 128 px), so the networks stay the same size while the
  image grows: COCO-GAN's promise that memory follows the patch, not the image.
The first two are the scaled series, at each of `--resolutions`; the fixed-patch
one runs at each of `--fixed-resolutions` (it sits next to the full-image GAN
of the scaled series at the resolutions both have). In the runner's quick
profile (2 CPU cores) the full-image GAN stops at 256 px: at 512 px it took
17 GB of training memory and 15 minutes for one scenario (batch 8, a trial on
the shared 2-core CPU), and at 1024 px it would need about four times that
memory, more than such a machine has; the full profile (a GPU) runs it to 1024 px.

One training step is the real trainer's (core.train.trainer.Trainer.train_step):
the objective's D phase and G phase, each with backward and an Adam step
(COCO-GAN's recipe: TTUR learning rates, betas 0 / 0.9, float32), then the EMA
of the generator, on a batch of `--batch-size` real images of R px that COCO-GAN
crops its macro patches from (random pixels: a dataset of that many seeded
random images registered in the worker process, so the trainer runs as it is,
its batch stream included). After `--warmup` untimed
steps, `--steps` timed ones give:
    peak_memory_mb      CUDA: torch.cuda.max_memory_allocated after resetting the peak;
                        CPU: the process's peak resident set (VmHWM) after resetting it
                        (/proc/self/clear_refs), each scenario in its own process
    training_memory_mb  peak_memory_mb minus what the process held before the trainer was built
                        (CPU: Python, torch and the libraries, ~0.8 GB; CUDA: 0), i.e. the training's
                        own memory (networks, EMA, optimizer state, activations, the real batch),
                        which is what the models differ in
    images_per_s        real images per second of training (batch size x steps / seconds)
Rows are appended to `--out`. A scenario that fails (say, out of memory: on CPU
an allocation beyond the memory available fails rather than waking the OOM
killer) is an error row, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from benchmarks import run_scenarios
from core.paths import PROJECT_ROOT, RESULTS_DIR
from core.results import Row, device_label

if TYPE_CHECKING:
    from core.train.config import TrainConfig

BENCHMARK = "memory"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
METRICS = {"peak_memory_mb": "MB", "training_memory_mb": "MB", "images_per_s": "images/s"}
BASELINE = "full-image-gan"  # what the "saved" columns compare with, at the same resolution

# COCO-GAN's recipe (core.train.config._cocogan): unconditional, TTUR, Adam betas 0 / 0.9, float32.
COCOGAN_TRAINING = {"conditional": False, "lr": {"G": 1e-4, "D": 4e-4}, "betas": (0.0, 0.9)}


@dataclass(frozen=True)
class Model:
    """What a model name of this benchmark is at image size R: a family, the sizes R sets, how it trains."""

    family: str  # a name in core.models.MODELS
    sizes: Callable[[int], dict[str, int]]  # R -> the family-config fields that follow R
    patches: str  # how those sizes follow R, for the rows
    sample: str  # what the discriminator judges
    training: dict = field(default_factory=dict)  # TrainConfig settings of its recipe
    min_resolution: int = 16
    # the step the measured steps start at (a growing ProGAN: where its last stage, at R, trains); None: 0
    start: Callable[[Any], int] | None = None


# Adding a model is one entry here and its name in a series below.
MODELS: dict[str, Model] = {
    "cocogan": Model(
        "cocogan",
        lambda r: {"macro_size": r // 2, "micro_size": r // 4},
        "macro R/2, micro R/4",
        "macro patch",
        COCOGAN_TRAINING,
    ),
    "full-image-gan": Model(
        "cocogan", lambda r: {"macro_size": r, "micro_size": r}, "macro = micro = R", "full image", COCOGAN_TRAINING
    ),
    "cocogan-fixed-64-32": Model(
        "cocogan",
        lambda r: {"macro_size": 64, "micro_size": 32},
        "fixed: macro 64 px, micro 32 px",
        "macro patch",
        COCOGAN_TRAINING,
        min_resolution=128,
    ),
    # grown to R: every stage's blocks, the last stage training at R (WGAN-GP with drift, Adam 0 / 0.99)
    "progan": Model(
        "progan",
        lambda r: {},
        "grown from 4 px to R, measured at R",
        "full image",
        {"conditional": False, "lr": {"G": 1e-3, "D": 1e-3}, "betas": (0.0, 0.99),
         "options": {"fade_images": 1, "stable_images": 1}},
        start=lambda trainer: trainer.objective.schedule[-1].first_step,
    ),
}
SCALED_SERIES = ("cocogan", "full-image-gan", "progan")  # at each of `resolutions`
FIXED_SERIES = ("cocogan-fixed-64-32",)  # at each of `fixed_resolutions`


@dataclass(frozen=True)
class Scenario:
    """One model at one resolution: how big, on what, and how long to measure."""

    model: str  # a name in MODELS
    resolution: int
    batch_size: int = 8
    steps: int = 3
    warmup: int = 1
    device: str = DEFAULT_DEVICE
    channels: int = 3
    z_dim: int = 128
    width: int = 32
    max_width: int = 128

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {tuple(MODELS)}, got {self.model!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.resolution < 16 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 16, got {self.resolution}")
        if self.resolution < MODELS[self.model].min_resolution:
            raise ValueError(
                f"{self.model} needs a resolution >= {MODELS[self.model].min_resolution} px "
                f"({MODELS[self.model].patches}), got {self.resolution}"
            )
        if self.batch_size < 1 or self.steps < 1 or self.warmup < 0:
            raise ValueError("need batch_size >= 1, steps >= 1 and warmup >= 0")

    @property
    def name(self) -> str:
        return self.model

    def model_config(self) -> dict:
        """The family config at this resolution (image size and channels included)."""
        return {
            "image_size": self.resolution,
            **MODELS[self.model].sizes(self.resolution),
            "channels": self.channels,
            "z_dim": self.z_dim,
            "width": self.width,
            "max_width": self.max_width,
        }

    def train_config(self, dataset: str) -> TrainConfig:
        """The TrainConfig of the measured steps (the image size and channels come from the data)."""
        from core.train.config import TrainConfig

        model = MODELS[self.model]
        own = {k: v for k, v in self.model_config().items() if k not in ("image_size", "channels")}
        return TrainConfig(
            model=model.family,
            model_config=own,
            dataset=dataset,
            image_size=self.resolution,
            channels=self.channels,
            batch_size=self.batch_size,
            steps=self.warmup + self.steps,
            mixed_precision="no",
            **model.training,
        )

    def params(self) -> dict:
        config, model = self.model_config(), MODELS[self.model]
        return {
            "resolution": self.resolution,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "warmup": self.warmup,
            "precision": "float32",
            "macro_size": config.get("macro_size"),
            "micro_size": config.get("micro_size"),
            "width": self.width,
            "max_width": self.max_width,
            "sample": model.sample,
            "patches": model.patches,
            "family": model.family,
            "training_step": "core.train.trainer.Trainer.train_step",
        }


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Rows for one scenario, measured in a fresh process (so CPU peak memory is the scenario's alone)."""
    label = device_label(scenario.device)
    command = [sys.executable, "-m", "benchmarks.memory", "--worker", json.dumps(asdict(scenario))]
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        if done.returncode < 0:
            name = signal.Signals(-done.returncode).name
            why = " (most likely the out-of-memory killer)" if -done.returncode == signal.SIGKILL else ""
            raise RuntimeError(f"the worker was killed by {name}{why}")
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"worker exited with code {done.returncode}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
    except Exception as err:  # noqa: BLE001 - a failed measurement is a row, the benchmark goes on
        return [
            Row(
                BENCHMARK,
                scenario.name,
                "synthetic",
                metric,
                None,
                unit,
                label,
                scenario.params(),
                error=f"{type(err).__name__}: {err}",
            )
            for metric, unit in METRICS.items()
        ]
    params = {
        **scenario.params(),
        "parameters": measured["parameters"],
        "memory_source": measured["memory_source"],
        "baseline_memory_mb": measured["baseline_memory_mb"],
        "trained_at_px": measured["trained_at_px"],
    }
    data = "none read: random images at the scenario's resolution (memory and speed do not depend on pixel values)"
    return [
        Row(BENCHMARK, scenario.name, "synthetic", metric, measured[metric], unit, label, params, data)
        for metric, unit in METRICS.items()
    ]


# ---------------------------------------------------------------------- the worker (runs in its own process)


def measure(scenario: Scenario) -> dict:
    """Build the real trainer on random images, train `warmup` + `steps` steps, return the figures."""
    from benchmarks.throughput import accelerate_on
    from core.train.trainer import Trainer

    device = torch.device(scenario.device)
    if device.type == "cpu":
        _guard_memory()
    dataset = _register_random_images(scenario.batch_size)
    config = scenario.train_config(dataset)
    with tempfile.TemporaryDirectory(prefix="fgl-memory-") as run_dir, accelerate_on(device):
        before = _current_mb(device)  # everything but the training itself
        trainer = Trainer(config, run_dir, progress=False)
        start_at = MODELS[scenario.model].start
        if start_at is not None:
            trainer.step = start_at(trainer)
        _peak_mb(device, reset=True)
        for _ in range(scenario.warmup):
            trainer.train_step()
        _synchronize(device)
        _peak_mb(device, reset=True)
        start = time.perf_counter()
        for _ in range(scenario.steps):
            trainer.train_step()
        _synchronize(device)
        seconds = time.perf_counter() - start
        peak = _peak_mb(device)
        images = trainer.images_read(scenario.steps, start=scenario.warmup)
        parameters = {name: sum(p.numel() for p in net.parameters()) for name, net in trainer.networks.items()}
        trained_at = trainer.accelerator.unwrap_model(trainer.networks["generator"]).output_size  # ProGAN: its stage
    return {
        "peak_memory_mb": peak,
        "training_memory_mb": peak - before,
        "images_per_s": images / seconds,
        "baseline_memory_mb": before,
        "memory_source": "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS (VmHWM)",
        "parameters": parameters,
        "trained_at_px": trained_at,
    }


def _register_random_images(count: int) -> str:
    """A dataset of `count` seeded random images at any size, registered in this (worker) process; its name."""
    from core.data import DATASETS, DatasetSpec

    name = f"random-images-{count}"
    if name in DATASETS:
        return name

    def load(root: Path, split: str, size: int, channels: int, download: bool):
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (count, channels, size, size), dtype=torch.uint8, generator=generator)
        return images, torch.zeros(count, dtype=torch.long), ["none"]

    DATASETS.register(name)(
        DatasetSpec(
            name=name,
            title="random images (memory benchmark)",
            splits=("train",),
            channels=3,
            native_size=1024,
            default_size=64,
            full_sizes={"train": count},
            license="none",
            source_url="",
            load=load,
        )
    )
    return name


def _guard_memory() -> None:
    """Make allocations beyond the memory available now fail (an error row) instead of waking the OOM killer,
    and should it wake anyway (others took memory since), make this worker the process it ends first."""
    Path("/proc/self/oom_score_adj").write_text("1000")  # raising one's own score needs no privilege
    available_kb = _field_kb(Path("/proc/meminfo"), "MemAvailable")
    data_kb = _field_kb(Path("/proc/self/status"), "VmData")
    limit = (data_kb + available_kb) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _field_kb(path: Path, key: str) -> int:
    """A "Key:   123 kB" line of a /proc file, in kB."""
    return next(int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith(f"{key}:"))


def _peak_mb(device: torch.device, reset: bool = False) -> float:
    """The peak since the last reset (MB), then reset it when asked."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        if reset:
            torch.cuda.reset_peak_memory_stats(device)
        return peak
    peak = _field_kb(Path("/proc/self/status"), "VmHWM") / 1024
    if reset:
        # Writing 5 resets the peak resident set size to the current one (Linux >= 4.0).
        Path("/proc/self/clear_refs").write_text("5")
    return peak


def _current_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _field_kb(Path("/proc/self/status"), "VmRSS") / 1024


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------- report and command line


def scenarios(
    resolutions: tuple[int, ...] = (64, 128, 256), fixed_resolutions: tuple[int, ...] = (), **options
) -> list[Scenario]:
    """The scaled series at each of `resolutions`, then the fixed-patch series at each of `fixed_resolutions`."""
    return [Scenario(model, resolution, **options) for resolution in resolutions for model in SCALED_SERIES] + [
        Scenario(model, resolution, **options) for resolution in fixed_resolutions for model in FIXED_SERIES
    ]


def format_table(rows: list[Row]) -> str:
    """Resolution x model: peak MB and images/s, each model's saving against the full-image GAN, then how
    each model's training memory grows from its smallest to its largest resolution."""
    cells: dict[tuple[int, str], dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.params["resolution"], row.model), {})[row.metric] = row
    order = {name: i for i, name in enumerate(MODELS)}
    lines = [["resolution", "model", "peak MB", "training MB", "images/s", "saved (peak)", "saved (training)"]]
    errors, training = [], {}
    for (resolution, model), metrics in sorted(cells.items(), key=lambda item: (item[0][0], order.get(item[0][1], 99))):
        peak, own, speed = (metrics.get(metric) for metric in METRICS)
        failed = next((row for row in (peak, own, speed) if row is not None and row.error), None)
        if failed or None in (peak, own, speed):
            errors.append(f"error: {model} at {resolution} px: {failed.error if failed else 'metrics missing'}")
            lines.append([str(resolution), model, "error", "error", "error", "", ""])
            continue
        training.setdefault(model, []).append((resolution, own.value))
        saved = []
        for metric, mine in (("peak_memory_mb", peak), ("training_memory_mb", own)):
            other = cells.get((resolution, BASELINE), {}).get(metric)
            ok = model != BASELINE and other is not None and other.value
            saved.append(f"{100 * (1 - mine.value / other.value):.0f} %" if ok else "")
        lines.append([str(resolution), model, f"{peak.value:,.0f}", f"{own.value:,.0f}", f"{speed.value:,.1f}", *saved])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(c.ljust(w) if i == 1 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines
    ]
    growth = [
        f"{model}: training memory x{points[-1][1] / points[0][1]:.2f} from {points[0][0]} to {points[-1][0]} px"
        for model, points in sorted(training.items(), key=lambda item: order.get(item[0], 99))
        if len(points) > 1 and points[0][1] > 0
    ]
    return "\n".join(text + growth + errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--resolutions",
        nargs="*",
        type=int,
        default=[64, 128, 256],
        help=f"the scaled series ({', '.join(SCALED_SERIES)}); default 64 128 256",
    )
    parser.add_argument(
        "--fixed-resolutions",
        nargs="*",
        type=int,
        default=[128, 256, 512, 1024],
        help=f"the fixed-patch series ({', '.join(FIXED_SERIES)}); default 128 256 512 1024",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed training steps first (default 1)")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "memory.jsonl", help="JSON-lines file to append to")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one scenario, print JSON
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(Scenario(**json.loads(args.worker)))))
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available on this machine; use --device cpu")
    try:
        plan = scenarios(
            tuple(args.resolutions),
            tuple(args.fixed_resolutions),
            batch_size=args.batch_size,
            steps=args.steps,
            warmup=args.warmup,
            device=args.device,
        )
    except ValueError as err:
        parser.error(str(err))
    if not plan:
        parser.error("nothing to measure: give --resolutions or --fixed-resolutions")
    rows = run_scenarios(plan, run, args.out, BENCHMARK)
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out} ({device_label(args.device)})")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
