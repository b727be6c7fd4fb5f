"""Training memory and speed of COCO-GAN against a full-image GAN of the same capacity, by resolution.

    python -m benchmarks.memory [--resolutions 64 128 256] [--batch-size 8] [--steps 3] [--warmup 1]
                                [--device cpu|cuda] [--out results/memory.jsonl]

Two models per resolution R, both built from core.models.cocogan with the
same width schedule (channels per resolution), z size and losses
(core.objectives.cocogan: WGAN-GP, spatial consistency, Q):
- `cocogan`: micro patches of R/4 px, macro patches of R/2 px (256 / 128 / 64);
- `full-image-gan`: micro = macro = R: the generator draws the whole image and
  the discriminator judges it, i.e. the same networks without generation by parts.

One training step = the objective's D phase and G phase, each with backward
and an Adam step, on a batch of `--batch-size` samples (COCO-GAN: macro
patches; the baseline: full images), same precision (float32). After
`--warmup` untimed steps, `--steps` timed ones give:
    peak_memory_mb      CUDA: torch.cuda.max_memory_allocated after resetting the peak;
                        CPU: the process's peak resident set (VmHWM) after resetting it
                        (/proc/self/clear_refs), each scenario in its own process
    training_memory_mb  peak_memory_mb minus what the process held before the networks
                        were built (CPU: Python, torch and the libraries, ~0.8 GB; CUDA: 0),
                        i.e. the training's own memory, which is what the two models differ in
    images_per_s        samples per second of training (batch size x steps / seconds)
Rows are appended to `--out`. A scenario that fails (say, out of memory) is an
error row, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from benchmarks import run_scenarios
from core.paths import PROJECT_ROOT, RESULTS_DIR
from core.results import Row, device_label

BENCHMARK = "memory"
MODELS = ("cocogan", "full-image-gan")
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
METRICS = {"peak_memory_mb": "MB", "training_memory_mb": "MB", "images_per_s": "images/s"}


@dataclass(frozen=True)
class Scenario:
    """One model at one resolution: how big, on what, and how long to measure."""

    model: str  # "cocogan" or "full-image-gan"
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
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.resolution < 16 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 16, got {self.resolution}")
        if self.batch_size < 1 or self.steps < 1 or self.warmup < 0:
            raise ValueError("need batch_size >= 1, steps >= 1 and warmup >= 0")

    @property
    def name(self) -> str:
        return self.model

    def model_config(self) -> dict:
        r = self.resolution
        macro, micro = (r // 2, r // 4) if self.model == "cocogan" else (r, r)
        return {"image_size": r, "macro_size": macro, "micro_size": micro, "channels": self.channels,
                "z_dim": self.z_dim, "width": self.width, "max_width": self.max_width}

    def params(self) -> dict:
        config = self.model_config()
        return {"resolution": self.resolution, "batch_size": self.batch_size, "steps": self.steps,
                "warmup": self.warmup, "precision": "float32", "macro_size": config["macro_size"],
                "micro_size": config["micro_size"], "width": self.width, "max_width": self.max_width,
                "sample": "macro patch" if self.model == "cocogan" else "full image"}


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Rows for one scenario, measured in a fresh process (so CPU peak memory is the scenario's alone)."""
    label = device_label(scenario.device)
    command = [sys.executable, "-m", "benchmarks.memory", "--worker", json.dumps(asdict(scenario))]
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"worker exited with code {done.returncode}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
    except Exception as err:  # noqa: BLE001 - a failed measurement is a row, the benchmark goes on
        return [Row(BENCHMARK, scenario.name, "synthetic", metric, None, unit, label, scenario.params(),
                    error=f"{type(err).__name__}: {err}") for metric, unit in METRICS.items()]
    params = {**scenario.params(), "parameters": measured["parameters"], "memory_source": measured["memory_source"],
              "baseline_memory_mb": measured["baseline_memory_mb"]}
    data = "none read: random images in [-1, 1] (memory and speed do not depend on pixel values)"
    return [Row(BENCHMARK, scenario.name, "synthetic", metric, measured[metric], unit, label, params, data)
            for metric, unit in METRICS.items()]


# ---------------------------------------------------------------------- the worker (runs in its own process)


def measure(scenario: Scenario) -> dict:
    """Build the two networks and the objective, train `warmup` + `steps` steps, return the figures."""
    from core.models import MODELS as FAMILIES
    from core.objectives import OBJECTIVES
    from core.train.config import TrainConfig

    device = torch.device(scenario.device)
    before = _current_mb(device)  # everything but the training itself
    torch.manual_seed(0)
    family = FAMILIES.get("cocogan")
    networks = {name: net.to(device) for name, net in family.build(family.make_config(**scenario.model_config())).items()}
    objective_class = OBJECTIVES.get(family.objective)
    config = TrainConfig(model="cocogan", conditional=False, batch_size=scenario.batch_size, steps=1,
                         lr={"G": 1e-4, "D": 4e-4}, betas=(0.0, 0.9))
    optimizers = {
        phase.name: torch.optim.Adam([p for name in phase.trains for p in networks[name].parameters()],
                                     lr=config.lr[phase.name], betas=config.betas)
        for phase in objective_class.phases
    }
    objective = objective_class(networks, config)
    images = torch.rand(scenario.batch_size, scenario.channels, scenario.resolution, scenario.resolution,
                        device=device) * 2 - 1
    batch = {"images": images, "labels": torch.zeros(scenario.batch_size, dtype=torch.long, device=device)}

    def step() -> None:
        for phase in objective_class.phases:
            optimizers[phase.name].zero_grad(set_to_none=True)
            loss, _ = objective.loss(phase.name, batch)
            loss.backward()
            optimizers[phase.name].step()

    _peak_mb(device, reset=True)
    for _ in range(scenario.warmup):
        step()
    _synchronize(device)
    _peak_mb(device, reset=True)
    start = time.perf_counter()
    for _ in range(scenario.steps):
        step()
    _synchronize(device)
    seconds = time.perf_counter() - start
    peak = _peak_mb(device)
    return {
        "peak_memory_mb": peak,
        "training_memory_mb": peak - before,
        "images_per_s": scenario.batch_size * scenario.steps / seconds,
        "baseline_memory_mb": before,
        "memory_source": "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS (VmHWM)",
        "parameters": {name: sum(p.numel() for p in net.parameters()) for name, net in networks.items()},
    }


def _peak_mb(device: torch.device, reset: bool = False) -> float:
    """The peak since the last reset (MB), then reset it when asked."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        if reset:
            torch.cuda.reset_peak_memory_stats(device)
        return peak
    status = Path("/proc/self/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    if reset:
        # Writing 5 resets the peak resident set size to the current one (Linux >= 4.0).
        Path("/proc/self/clear_refs").write_text("5")
    return peak


def _current_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------- report and command line


def scenarios(resolutions: tuple[int, ...] = (64, 128, 256), **options) -> list[Scenario]:
    return [Scenario(model, resolution, **options) for resolution in resolutions for model in MODELS]


def format_table(rows: list[Row]) -> str:
    """Resolution x model: peak MB and images/s, then COCO-GAN's memory saving."""
    cells: dict[tuple[int, str], dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.params["resolution"], row.model), {})[row.metric] = row
    lines = [["resolution", "model", "peak MB", "training MB", "images/s", "saved (peak)", "saved (training)"]]
    errors = []
    for (resolution, model), metrics in sorted(cells.items()):
        peak, own, speed = (metrics.get(metric) for metric in METRICS)
        if peak is None or peak.error:
            errors.append(f"error: {model} at {resolution} px: {(peak or speed).error}")
            lines.append([str(resolution), model, "error", "error", "error", "", ""])
            continue
        saved = []
        for metric, mine in (("peak_memory_mb", peak), ("training_memory_mb", own)):
            other = cells.get((resolution, "full-image-gan"), {}).get(metric)
            ok = model == "cocogan" and other is not None and other.value and mine is not None
            saved.append(f"{100 * (1 - mine.value / other.value):.0f} %" if ok else "")
        lines.append([str(resolution), model, f"{peak.value:,.0f}", f"{own.value:,.0f}", f"{speed.value:,.1f}", *saved])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i == 1 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    return "\n".join(text + errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolutions", nargs="+", type=int, default=[64, 128, 256])
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
        plan = scenarios(tuple(args.resolutions), batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
                         device=args.device)
    except ValueError as err:
        parser.error(str(err))
    rows = run_scenarios(plan, run, args.out, BENCHMARK)
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out} ({device_label(args.device)})")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
