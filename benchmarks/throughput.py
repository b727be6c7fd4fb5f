"""Training and inference throughput of the shipped models, on one device, on each inference backend.

    python -m benchmarks.throughput [--models pretrained/dcgan-fashion-mnist ...] [--steps 30] [--warmup 5]
                                    [--repeats 20] [--device cpu|cuda] [--backends torch onnx] [--no-training]
                                    [--sampling-steps 10 25 50] [--out results/throughput.jsonl]

Per model (default: every DCGAN in pretrained/; any generator, classifier or translator can be given) and
backend (default on the CPU: torch and onnx; on a GPU: torch), with rows appended to `--out`:
    train_images_per_s            torch only: the real `Trainer`, rebuilt from the model's training.json:
                                  `--warmup` untimed, then `--steps` timed iterations of `Trainer.train_step()`
    latency_ms_batch{1,64}_{median,p90}
                                  the pipeline end to end, as apps call it, `--repeats` timed calls: a generator's
                                  `sample(n)` (latents, labels, forward pass, uint8 images on the host), a
                                  classifier's `predict_proba` and a translator's `translate` of seeded uint8 images
    gen_images_per_s_batch64      generators: 64 / the median batch-64 latency (images_per_s_batch64 for the others)

A diffusion model is timed at each of `--sampling-steps` (rows named `model@Nsteps` except at its default step
count, `sampling_steps` in params), with one warm-up and two timed calls per batch size: a call costs a U-Net
pass per step.

Rows say their backend in `params`: torch (the weights) or onnx (model.onnx through onnxruntime, as
many threads as torch). A model without a model.onnx is exported into a temporary copy for the run (pretrained/
is never written); one whose family has no ONNX export gets torch rows only.

A model that fails gives error rows (value None) and the others still run; the
exit code is 1 when any row is an error. Runs in one process on one device:
it resets accelerate's per-process state around each training measurement.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import patch_environment
from tqdm.auto import tqdm

from benchmarks import run_scenarios
from benchmarks.quality import steps_name, takes_steps
from core.errors import UserError
from core.hub import CONFIG_FILE, WEIGHTS_FILE, family_of, read_config, read_training
from core.inference import (
    ClassifierPipeline,
    GeneratorPipeline,
    TranslatorPipeline,
    list_models,
    resolve_device,
    resolve_source,
)
from core.onnx import BACKENDS, ONNX_FILE, export_of, export_onnx
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label
from core.train.config import TrainConfig, load_training_config
from core.train.trainer import Trainer

BENCHMARK = "throughput"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
LATENCY_BATCHES = (1, 64)
TRAIN_METRICS = [("train_images_per_s", "images/s")]
LATENCY_METRICS = [(f"latency_ms_batch{b}_{stat}", "ms") for b in LATENCY_BATCHES for stat in ("median", "p90")]
GEN_METRICS = LATENCY_METRICS + [(f"gen_images_per_s_batch{LATENCY_BATCHES[-1]}", "images/s")]
# classifiers and translators: images classified or translated per second
IMAGE_METRICS = LATENCY_METRICS + [(f"images_per_s_batch{LATENCY_BATCHES[-1]}", "images/s")]
PIPELINES = {"generator": GeneratorPipeline, "classifier": ClassifierPipeline, "translator": TranslatorPipeline}
INPUTS = {
    "generator": "none read: latents drawn from N(0, I), classes cycled",
    "classifier": "none read: uniform random uint8 images",
    "translator": "none read: uniform random uint8 photos at the model's size, targets cycled",
}


def default_backends(device: str) -> tuple[str, ...]:
    """The backends measured by default: both on the CPU; on a GPU only torch (onnxruntime runs on the CPU here)."""
    return BACKENDS if device == "cpu" else ("torch",)


def onnx_ready(model: str) -> bool:
    """Whether `model` has a model.onnx or its family can be exported to one (else it gets no onnx rows)."""
    try:
        folder = resolve_source(model)
        if (folder / ONNX_FILE).is_file():
            return True
        export_of(family_of(read_config(folder), folder))
    except UserError:
        return False
    return True


@dataclass(frozen=True)
class Scenario:
    """One model on one device, and how long to measure it."""

    model: str  # a model folder, a name in pretrained/, or a Hub repo id
    device: str = DEFAULT_DEVICE
    steps: int = 30  # timed training steps
    warmup: int = 5  # untimed training steps, and untimed inference calls per batch size
    repeats: int = 20  # timed inference calls per batch size
    backend: str = "torch"  # what serves inference: torch (the weights) or onnx (model.onnx through onnxruntime)
    training: bool = True  # time training too (torch only)
    sampling_steps: int | None = None  # a diffusion model's sampler steps (None: its default); rows named model@Nsteps

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "onnx" and self.device != "cpu":
            raise ValueError("the onnx backend runs on the CPU (onnxruntime's CPU execution provider): use device cpu")
        if self.steps < 1 or self.repeats < 1 or self.warmup < 0:
            got = f"steps={self.steps}, repeats={self.repeats}, warmup={self.warmup}"
            raise ValueError(f"need steps >= 1, repeats >= 1, warmup >= 0; got {got}")

    @property
    def name(self) -> str:
        return Path(self.model).name


def scenarios(models: list[str], device: str, backends: tuple[str, ...], diffusion_steps: tuple[int, ...] = (),
              diffusion_warmup: int = 1, diffusion_repeats: int = 2, **settings: Any) -> list[Scenario]:
    """Each model on each backend (onnx only where it has or can get a graph). A diffusion model once per sampler
    step count in `diffusion_steps` (none: its default), with its own, fewer calls (each costs a U-Net pass per
    step), training timed only once."""
    out = []
    for model in models:
        diffusion = takes_steps(model)
        for backend in backends:
            if backend != "torch" and not onnx_ready(model):
                continue
            if not diffusion:
                out.append(Scenario(model, device, backend=backend, **settings))
                continue
            for i, steps in enumerate(sorted(diffusion_steps) or [None]):
                own = {**settings, "warmup": diffusion_warmup, "repeats": diffusion_repeats}
                own["training"] = settings.get("training", True) and i == 0
                out.append(Scenario(model, device, backend=backend, sampling_steps=steps, **own))
    return out


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Rows for one model on one device and backend; a failure becomes error rows, never an exception."""
    label = device_label(scenario.device)
    timed_training = scenario.training and scenario.backend == "torch"
    work = (scenario.warmup + scenario.steps if timed_training else 0) + len(LATENCY_BATCHES) * (scenario.warmup + scenario.repeats)
    dataset, kind = "unknown", "generator"  # what a model that cannot even be read is reported as
    rows: list[Row] = []
    desc = f"{scenario.name} on {scenario.device} ({scenario.backend})"
    with tqdm(total=work, desc=desc, leave=False, disable=not progress) as bar:
        try:
            folder = resolve_source(scenario.model)
            kind = family_of(read_config(folder), folder).kind
            config = load_training_config(folder) if timed_training or (folder / "training.json").is_file() else None
            dataset = config.dataset if config is not None else dataset
            if timed_training:
                rows += measure_training(scenario, folder, config, label, bar.update)
        except Exception as err:  # noqa: BLE001 - any failure is recorded as a row; the benchmark goes on
            if timed_training:
                rows += error_rows(scenario, TRAIN_METRICS, dataset, label, err)
        try:
            rows += measure_inference(scenario, kind, dataset, label, bar.update)
        except Exception as err:  # noqa: BLE001 - as above
            rows += error_rows(scenario, inference_metrics(kind), dataset, label, err)
    return rows


def inference_metrics(kind: str) -> list[tuple[str, str]]:
    return GEN_METRICS if kind == "generator" else IMAGE_METRICS


def error_rows(
    scenario: Scenario, metrics: list[tuple[str, str]], dataset: str, label: str, err: Exception
) -> list[Row]:
    message = f"{type(err).__name__}: {err}"
    params = {"steps": scenario.steps, "warmup": scenario.warmup, "repeats": scenario.repeats}
    if metrics is not TRAIN_METRICS:
        params["backend"] = scenario.backend
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
    # every model timed on this process's threads, not on those its run chose (threads=1 to share the cores with
    # other runs): the trainer sets them for the whole process, which would slow every model measured after it
    config = replace(config, threads=0)
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


# ---------------------------------------------------------------------- inference


def measure_inference(scenario: Scenario, kind: str, dataset: str, label: str, tick: Callable[[], object]) -> list[Row]:
    """The latency rows and the images/s row of one model's pipeline on the scenario's backend."""
    device = resolve_device(scenario.device)
    with serving(scenario.model, kind, scenario.backend, device) as (pipe, graph):
        weights = next(getattr(pipe, kind).parameters(), None)  # each pipeline holds its network under its kind's name
        precision = "float32" if weights is None else str(weights.dtype).removeprefix("torch.")  # onnx: float32 graphs
        common = {"repeats": scenario.repeats, "warmup": scenario.warmup, "precision": precision,
                  "backend": scenario.backend, **({"onnx_file": graph} if graph else {})}
        name = scenario.name
        if kind == "generator":
            default = pipe.sampling_steps
            steps = pipe.use_steps(scenario.sampling_steps)  # a GAN given steps: the one-line error
            if steps:  # a diffusion model: an image costs a U-Net pass per step
                common["sampling_steps"] = steps
                name = steps_name(name, steps, default)
        elif scenario.sampling_steps is not None:
            raise UserError(f"{scenario.name} draws an image in one pass: only diffusion models take sampling steps")
        rows, medians_ms = [], {}
        for batch in LATENCY_BATCHES:
            call = inference_call(kind, pipe, batch)
            for seed in range(scenario.warmup):
                call(seed)
                tick()
            times_ms = []
            for seed in range(scenario.repeats):
                synchronize(device)
                start = time.perf_counter()
                call(seed)
                synchronize(device)
                times_ms.append((time.perf_counter() - start) * 1000)
                tick()
            medians_ms[batch] = float(np.median(times_ms))
            params = {"batch_size": batch, **common}
            for stat, value in (("median", medians_ms[batch]), ("p90", np.percentile(times_ms, 90))):
                rows.append(Row(BENCHMARK, name, dataset, f"latency_ms_batch{batch}_{stat}", value, "ms", label,
                                {**params, "statistic": stat}, INPUTS[kind]))
    big = LATENCY_BATCHES[-1]
    metric = inference_metrics(kind)[-1][0]
    rows.append(Row(BENCHMARK, name, dataset, metric, big / (medians_ms[big] / 1000), "images/s", label,
                    {"batch_size": big, **common, "statistic": "batch size / median latency"}, INPUTS[kind]))
    return rows


def inference_call(kind: str, pipe: Any, batch: int) -> Callable[[int], object]:
    """What one timed call does for a pipeline of `kind` at `batch`, by seed: a generator samples; a classifier
    classifies, and a translator translates, the same seeded uint8 images every call (drawn here, untimed)."""
    if kind == "generator":
        return lambda seed: pipe.sample(batch, seed=seed)
    rng = np.random.default_rng(batch)
    if kind == "classifier":
        images = rng.integers(0, 256, (batch, pipe.image_size, pipe.image_size, pipe.channels), dtype=np.uint8)
        return lambda seed: pipe.predict_proba(images)
    photos = rng.integers(0, 256, (batch, pipe.image_size, pipe.image_size, 3), dtype=np.uint8)
    targets = [pipe.targets[i % len(pipe.targets)] for i in range(batch)] if pipe.targets else None
    return lambda seed: pipe.translate(photos, target=targets, seed=seed)


@contextmanager
def serving(model: str, kind: str, backend: str, device: torch.device) -> Iterator[tuple[Any, str]]:
    """(the pipeline of `model` on `backend`, where its graph came from: "" for torch, "model.onnx" for the model's
    own, "exported for this run" for one exported into a temporary copy of config.json and the weights)."""
    pipeline = PIPELINES[kind]
    if backend == "torch":
        yield pipeline.from_pretrained(model, device=device, backend="torch"), ""
        return
    folder = resolve_source(model)
    if (folder / ONNX_FILE).is_file():
        yield pipeline.from_pretrained(folder, device=device, backend="onnx"), ONNX_FILE
        return
    with tempfile.TemporaryDirectory(prefix="fgl-throughput-onnx-") as tmp:
        copy = Path(tmp) / folder.name  # same name: the rows and the pipeline say the model's
        copy.mkdir()
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copy2(folder / name, copy / name)
        export_onnx(copy)
        yield pipeline.from_pretrained(copy, device=device, backend="onnx"), "exported for this run"


# ---------------------------------------------------------------------- helpers


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def format_table(rows: list[Row]) -> str:
    """One line per (model, device, backend); "error" where a metric failed, the messages below."""
    columns = [
        ("train img/s", ("train_images_per_s",), "{:,.1f}"),
        ("b1 median ms", ("latency_ms_batch1_median",), "{:.2f}"),
        ("b1 p90 ms", ("latency_ms_batch1_p90",), "{:.2f}"),
        ("b64 median ms", ("latency_ms_batch64_median",), "{:.2f}"),
        ("b64 img/s", ("gen_images_per_s_batch64", "images_per_s_batch64"), "{:,.1f}"),
    ]
    groups: dict[tuple[str, str, str], dict[str, Row]] = {}
    for row in rows:
        # a training row is torch's; it goes on the model's torch line
        groups.setdefault((row.model, row.device, row.params.get("backend", "torch")), {})[row.metric] = row
    header = ["model", "device", "backend", *(title for title, _, _ in columns)]
    lines = [header]
    errors: dict[tuple[str, str, str], None] = {}
    for (model, device, backend), metrics in groups.items():
        cells = [model, device, backend]
        for _, names, fmt in columns:
            row = next((metrics[name] for name in names if name in metrics), None)
            cells.append("-" if row is None else "error" if row.error else fmt.format(row.value))
            if row is not None and row.error:
                errors[(model, device, row.error)] = None
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    ]
    text += [f"error: {model} on {device}: {message}" for model, device, message in errors]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", help="model folders or names in pretrained/: generators, classifiers, translators "
        "(default: every DCGAN there)"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed training steps (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed training steps and inference calls (default 5)")
    parser.add_argument("--repeats", type=int, default=20, help="timed inference calls per batch size (default 20)")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS,
                        help="inference backends (default: torch and onnx on the CPU, torch on a GPU)")
    parser.add_argument("--no-training", action="store_true", help="inference only: no training rows")
    parser.add_argument("--sampling-steps", type=int, nargs="+", default=[],
                        help="diffusion models: the sampler step counts to time (default: each model's own)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR / "throughput.jsonl", help="JSON-lines file to append to"
    )
    args = parser.parse_args(argv)

    models = args.models or [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, "dcgan")]
    if not models:
        parser.error(f"no DCGAN models in {PRETRAINED_DIR}; pass --models")
    backends = args.backends or default_backends(args.device)
    try:
        plan = scenarios(models, args.device, backends, steps=args.steps, warmup=args.warmup, repeats=args.repeats,
                         training=not args.no_training, diffusion_steps=tuple(args.sampling_steps))
    except ValueError as err:
        parser.error(str(err))

    rows = run_scenarios(plan, lambda scenario: run(scenario, progress=True), args.out, BENCHMARK, unit="model")
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
