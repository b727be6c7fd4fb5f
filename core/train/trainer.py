"""The one trainer: any registered family, any objective, on `accelerate`.

It knows phases and optimizers, never loss internals: each iteration runs
the objective's phases in order, each `repeats` times (the config's `phases`,
core.train.phases), and every run of a phase that reads images takes a fresh real batch, calls
`objective.loss(phase, batch)`, steps that phase's optimizer and runs its
hooks. Runs on CPU, one GPU, or several GPUs under `accelerate launch`;
bf16/fp16 mixed precision where the device supports it.

Logged values stay on the device and are read (one host sync) every
`log_every` steps, which is also when a non-finite loss is detected: a
diverged run stops with a clear error before its next checkpoint is written.

A run folder holds:
    config.json        the resolved TrainConfig (+ the model config)
    command.txt        the exact command that started the run
    metrics.csv        averaged losses every `log_every` steps
    samples/           grids from the EMA network with fixed inputs (generators: noise; translators: held-in examples)
    snapshots/         the EMA network after each of `snapshot_epochs` (epoch_NNN/, with a sample grid)
    evaluation.csv     held-out metrics of the EMA network, e.g. test accuracy (classifiers)
    checkpoints/last/  full state: networks, EMA, optimizers, objective state (BEGAN's k_t), step, RNG
    generator/         the final EMA network, named after it (classifier/, translator/: what the family exports)
    summary.json       what was trained on what, for how long, how fast, final held-out metrics
"""

from __future__ import annotations

import csv
import json
import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from torch import nn
from tqdm.auto import tqdm

from core.data import load_dataset
from core.data.modes import make_mode
from core.errors import UserError
from core.files import atomic_path, write_text
from core.hub import save_model
from core.images import make_grid, save_png, to_uint8
from core.models import MODELS
from core.objectives import OBJECTIVES, Objective, options_dict
from core.objectives.base import PREVIEW_COLUMNS
from core.train.batches import mode_stream
from core.train.checkpoint import load_state, save_state
from core.train.config import TrainConfig, equivalent_command
from core.train.ema import EMA, has_batch_norm, recalibrated
from core.train.phases import PlannedPhase, batch_of, batches_per_step, plan_phases


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM: the state was saved and the run can be resumed."""

    def __init__(self, run_dir: Path, step: int):
        super().__init__(f"interrupted at step {step}; state saved in {run_dir} (resume with: python -m core train --resume {run_dir})")
        self.run_dir, self.step = run_dir, step


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    seconds: float
    images_per_s: float


def _allow_precision(precision: str) -> None:
    """Let a single-process run pick its own mixed precision after another run in the same process.

    accelerate keeps one state per process and refuses a second Accelerator with another precision
    (tests, benchmarks and notebooks train several recipes in one process). Alone on its device a run
    may start afresh; under a multi-process launch the state is the launcher's and stays.
    """
    from accelerate.state import AcceleratorState, GradientState, PartialState

    shared = AcceleratorState._shared_state
    if not shared or PartialState().num_processes > 1:
        return
    if shared.get("_mixed_precision", precision) != precision:
        AcceleratorState._reset_state(reset_partial_state=False)
        GradientState._reset_state()


def resolve_precision(requested: str) -> str:
    if requested not in ("auto", "no", "bf16", "fp16"):
        raise UserError(f"mixed_precision must be auto, no, bf16 or fp16, not {requested!r}")
    if requested == "fp16" and not torch.cuda.is_available():
        raise UserError("fp16 mixed precision needs a GPU; use bf16 or no on CPU")
    if requested != "auto":
        return requested
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: str | Path, command: str = "", progress: bool = True):
        self.run_dir, self.progress = Path(run_dir), progress
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        precision = resolve_precision(config.mixed_precision)
        _allow_precision(precision)
        self.accelerator = Accelerator(
            mixed_precision=precision,
            # D is not stepped in the G phase; DDP must tolerate parameters without gradients.
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        set_seed(config.seed, device_specific=True)
        acc = self.accelerator

        self.data = load_dataset(
            config.dataset, config.split, image_size=config.image_size, channels=config.channels or None,
            pad=config.pad, loading=config.data_loading, workers=config.workers, conditional=config.conditional,
        )
        self.family = MODELS.get(config.model)
        self.mode = make_mode(config.data_mode, config.mode_options)
        self.mode.check(self.data, config.conditional)
        mode = "" if config.data_mode == "single" else f"; mode: {self.mode.describe()}"
        acc.print(f"data: {self.data.describe()}{mode}; device: {device_name(acc.device)}")
        self.model_config = self.family.make_config(
            **{
                "image_size": self.data.image_size,
                "channels": self.data.channels,
                "num_classes": self.data.num_classes if config.conditional else 0,
                "class_names": list(self.data.class_names) if config.conditional else [],
                **self.mode.model_settings(self.data),
                **config.model_config,
            }
        )
        objective_class = OBJECTIVES.get(self.family.objective)
        self.phases: list[PlannedPhase] = plan_phases(objective_class.phases, config.phases, config.lr, config.betas)
        def load(name: str):  # another dataset of the run (an unpaired domain), at the run's split, size and channels
            return load_dataset(name, config.split, image_size=self.data.image_size, channels=self.data.channels,
                                loading="memory", workers=config.workers)

        self.stream = mode_stream(
            self.mode, self.data, load, config.batch_size, config.seed, acc.process_index, acc.num_processes,
            config.hflip, config.shift, per_step=batches_per_step(self.phases), schedule=objective_class.batch_schedule(config),
        )
        if config.epochs > 0:  # a budget in passes over the data: the step count follows from the data size
            config = replace(config, steps=self.stream.steps_for(config.epochs))
        self.config = config
        networks = self.family.build(self.model_config)
        self.ema = EMA(networks[self.family.exported], config.ema_decay)
        self.ema.shadow.to(acc.device)
        self.networks, self.optimizers = self._prepare(networks)
        self.objective: Objective = objective_class(self.networks, config)
        self.milestones: dict[int, str] = self.objective.milestones()  # step -> snapshot name
        self.step = 0
        self._seconds_before, self._session_start = 0.0, time.monotonic()
        self._running: dict[str, list] = {}  # key -> [sum, count] of logged values since the last log line
        self._nonfinite: dict[str, torch.Tensor] = {}  # phase -> whether its loss was not finite since the last check
        self._checked_step = 0
        if acc.is_main_process:
            self._write_run_files(command)
        self._resume()
        self.preview_inputs = (
            self.objective.preview_inputs(self._preview_batch(), config.preview_count, config.seed)
            if self.objective.has_preview else {}
        )
        self.evaluation: dict[str, float] = {}

    def _preview_batch(self) -> dict[str, torch.Tensor]:
        """The run's first real batch, joined by the next ones until it holds a grid row of examples (a translator
        trained on batches of 4 still previews 10 photos). Reading batches by step changes nothing in training."""
        batches = [self.stream(0)]
        while sum(len(next(iter(b.values()))) for b in batches) < PREVIEW_COLUMNS and len(batches) < PREVIEW_COLUMNS:
            batches.append(self.stream(len(batches)))
        return {key: torch.cat([batch[key] for batch in batches]) for key in batches[0]}

    def _prepare(self, networks: dict[str, nn.Module]) -> tuple[dict, dict]:
        """One optimizer per phase over the networks that phase trains, all wrapped by accelerate."""
        optimizers = {}
        for phase in self.phases:
            params = [p for name in phase.trains for p in networks[name].parameters()]
            optimizers[phase.name] = phase.make_optimizer(params, phase.lr)
        prepared = self.accelerator.prepare(*networks.values(), *optimizers.values())
        return dict(zip(networks, prepared[: len(networks)])), dict(zip(optimizers, prepared[len(networks) :]))

    # ------------------------------------------------------------------ run folder

    def _write_run_files(self, command: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        record = {
            **self.config.to_dict(),
            "resolved_model_config": asdict(self.model_config),
            "resolved_options": options_dict(self.objective.options),
        }
        write_text(self.run_dir / "config.json", json.dumps(record, indent=2))
        # Started from Python rather than the CLI: record the command that resolves to the same settings,
        # so every exported model can say how its weights were made.
        command = command or ("" if self._has_commands() else equivalent_command(self.config))
        if command:
            with open(self.run_dir / "command.txt", "a") as f:
                f.write(command + "\n")

    def _has_commands(self) -> bool:
        path = self.run_dir / "command.txt"
        return path.is_file() and bool(path.read_text().strip())

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints" / "last"

    def state_dict(self) -> dict[str, Any]:
        acc = self.accelerator
        state = {
            "step": self.step,
            "train_seconds": self.train_seconds(),
            "networks": {name: acc.unwrap_model(net).state_dict() for name, net in self.networks.items()},
            "ema": self.ema.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "objective": self.objective.state_dict(),
            "rng": rng_state(),
        }
        if acc.scaler is not None:
            state["scaler"] = acc.scaler.state_dict()
        return state

    def train_seconds(self) -> float:
        """Wall-clock training time of this run so far, over every (interrupted and resumed) session."""
        return self._seconds_before + time.monotonic() - self._session_start

    def load_state_dict(self, state: dict[str, Any]) -> None:
        acc = self.accelerator
        for name, net in self.networks.items():
            acc.unwrap_model(net).load_state_dict(state["networks"][name], strict=True)
        self.ema.load_state_dict(state["ema"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.objective.load_state_dict(state.get("objective") or {})
        if acc.scaler is not None and "scaler" in state:
            acc.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step = self._checked_step = int(state["step"])
        self._seconds_before = float(state.get("train_seconds", 0.0))

    def save_checkpoint(self) -> None:
        self.check_finite()  # never overwrite a good checkpoint with a diverged state
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_state(self.state_dict(), self.checkpoint_dir)

    def _resume(self) -> None:
        state = load_state(self.checkpoint_dir)
        if state is None:
            return
        self.load_state_dict(state)
        if self.accelerator.num_processes > 1:
            # RNG streams are per process; re-derive them rather than share rank 0's.
            set_seed(self.config.seed + self.step, device_specific=True)
        for log in ("metrics.csv", "evaluation.csv"):
            _truncate_metrics(self.run_dir / log, self.step)
        self.accelerator.print(f"resumed {self.run_dir} at step {self.step}")

    # ------------------------------------------------------------------ loop

    def fit(self) -> TrainResult:
        config, acc = self.config, self.accelerator
        start_step, started = self.step, time.monotonic()
        self._session_start = started
        deadline = started + config.minutes * 60 if config.minutes > 0 else float("inf")
        bar = tqdm(
            total=config.steps, initial=self.step, desc=f"train {config.recipe or config.model}",
            disable=not (self.progress and acc.is_main_process), dynamic_ncols=True,
        )
        try:
            with _stop_requests() as stop:
                while self.step < config.steps and time.monotonic() < deadline:
                    self.train_step()
                    bar.update(1)
                    if self.step % config.log_every == 0:
                        self.check_finite()
                        averaged = self._take_running()
                        bar.set_postfix({k: f"{v:.3f}" for k, v in averaged.items() if k.startswith("loss")})
                        self._log(averaged, time.monotonic() - started)
                    if self.step % config.sample_every == 0:
                        self.save_samples()
                        self.evaluate()
                    for epoch in self._epochs_ended():
                        self.save_snapshot(f"epoch_{epoch:03d}", {"epoch": epoch})
                    if self.step in self.milestones:
                        self.save_snapshot(self.milestones[self.step], {"milestone": self.milestones[self.step]})
                    if self.step % config.checkpoint_every == 0 or stop.requested:
                        self.save_checkpoint()
                    if stop.requested:
                        raise TrainingInterrupted(self.run_dir, self.step)
        except KeyboardInterrupt:
            # A second Ctrl-C (or one outside the main thread) stops mid-step: the
            # state is inconsistent, so the last saved checkpoint stands.
            saved = load_state(self.checkpoint_dir)
            raise TrainingInterrupted(self.run_dir, int(saved["step"]) if saved else 0) from None
        finally:
            bar.close()
        seconds = time.monotonic() - started
        self.save_checkpoint()
        self.save_samples()
        self.evaluate()
        images_per_s = self.images_read(self.step - start_step, start_step) / max(seconds, 1e-9)
        if acc.is_main_process:
            self.export_model(self.run_dir / self.family.exported)
            self._write_summary(images_per_s)
        return TrainResult(self.run_dir, self.step, seconds, images_per_s)

    def images_read(self, steps: int, start: int = 0) -> int:
        """Real training images iterations start .. start + steps - 1 read, over all processes (each repeat of a
        phase reads a batch)."""
        return self.stream.images_read(start + steps) - self.stream.images_read(start)

    def train_step(self) -> dict[str, Any]:
        """One iteration at `self.step`, which it advances: every phase of the objective (each `repeats`
        times, on a fresh real batch each time), then the EMA. Returns this step's logs (device tensors)."""
        acc = self.accelerator
        self.objective.set_step(self.step)
        self._set_learning_rates()
        batches: dict[int, dict[str, torch.Tensor]] = {}
        logs: dict[str, Any] = {}
        for phase in self.phases:
            # Only the networks this phase trains need gradients: saves the backward through the others.
            for name, net in self.networks.items():
                net.requires_grad_(name in phase.trains)
            optimizer = self.optimizers[phase.name]
            trained = [self.networks[name] for name in phase.trains]
            for repeat in range(phase.repeats):
                index = batch_of(phase, repeat)
                if index not in batches:
                    batches[index] = {key: value.to(acc.device) for key, value in self.stream(self.step, index).items()}
                optimizer.zero_grad(set_to_none=True)
                loss, phase_logs = self.objective.loss(phase.name, batches[index])
                self._watch(phase.name, loss)
                acc.backward(loss)
                optimizer.step()
                for hook in phase.hooks:
                    hook(trained)
                logs.update(phase_logs)
        self.ema.update(acc.unwrap_model(self.networks[self.family.exported]), self.step)
        self.step += 1
        for key, value in logs.items():
            entry = self._running.setdefault(key, [0.0, 0])
            entry[0], entry[1] = entry[0] + value, entry[1] + 1
        return logs

    def _watch(self, phase: str, loss: torch.Tensor) -> None:
        """Remember, on the device and without a host sync, whether `phase`'s loss has stopped being finite."""
        bad = ~torch.isfinite(loss.detach())
        seen = self._nonfinite.get(phase)
        self._nonfinite[phase] = bad if seen is None else seen | bad

    def check_finite(self) -> None:
        """Raise a UserError if any phase's loss was not finite since the last check (one host sync)."""
        for phase, bad in self._nonfinite.items():
            if bool(bad):
                raise UserError(
                    f"training diverged: the {phase} loss was not finite between steps {self._checked_step} and "
                    f"{self.step}; resume from the last checkpoint with a lower lr (--set lr.{phase}=...)"
                )
        self._checked_step = self.step

    def _take_running(self) -> dict[str, float]:
        """The mean of each logged value since the last call (the host reads the device here)."""
        averaged = {key: float(total) / count for key, (total, count) in self._running.items()}
        self._running.clear()
        return averaged

    def _epochs_ended(self) -> list[int]:
        """The `snapshot_epochs` completed by the step just taken."""
        before, read, length = self.stream.images_read(self.step - 1), self.stream.images_read(self.step), self.stream.epoch_length
        return [e for e in self.config.snapshot_epochs if before < e * length <= read]

    def _set_learning_rates(self) -> None:
        """The schedule is a function of the step alone, so resuming needs no scheduler state."""
        config = self.config
        factor = 1.0
        done = min(self.step, config.steps) / max(config.steps, 1)
        if config.lr_schedule == "cosine":
            factor = 0.5 * (1 + np.cos(np.pi * done))
        elif config.lr_schedule == "linear":  # CycleGAN's: constant for the first half, then linearly to 0
            factor = min(1.0, 2 * (1 - done))
        for phase in self.phases:
            for group in self.optimizers[phase.name].param_groups:
                group["lr"] = phase.lr * factor

    def averaged_network(self) -> nn.Module:
        """The EMA network as it is sampled and exported: with batch-norm statistics measured for the averaged
        weights (`bn_recalibration` batches of the objective's own inputs at the training batch size, always
        the same seeds; a translator's are the run's first real batches, through its preview)."""
        shadow, batches = self.ema.shadow, self.config.bn_recalibration
        translator = self.family.kind == "translator"  # its inputs are real images: the run's first batches
        if not batches or not has_batch_norm(shadow) or (not translator and self.objective.generator_inputs(1, 0) is None):
            return shadow
        device = self.accelerator.device

        def run(network: nn.Module, i: int) -> None:
            if translator:
                inputs = self.objective.preview_inputs(self.stream(i), self.config.batch_size, self.config.seed)
            else:
                inputs = self.objective.generator_inputs(self.config.batch_size, self.config.seed + 10_000 + i)
            self.objective.preview(network, {k: v.to(device) for k, v in inputs.items()})

        return recalibrated(shadow, run, batches)

    @torch.no_grad()
    def save_samples(self, path: Path | None = None, network: nn.Module | None = None) -> Path | None:
        if not self.accelerator.is_main_process or not self.objective.has_preview:
            return None
        inputs = {k: v.to(self.accelerator.device) for k, v in self.preview_inputs.items()}
        images = to_uint8(self.objective.preview(network or self.averaged_network(), inputs))
        nrow = 10 if len(images) % 10 == 0 else None
        scale = max(1, 256 // images.shape[1] // 2)
        path = path or self.run_dir / "samples" / f"step_{self.step:06d}.png"
        return save_png(make_grid(images, nrow=nrow), path, scale)

    def save_snapshot(self, name: str, record: dict[str, Any]) -> Path | None:
        """The EMA network now, exported to snapshots/NAME/ with its sample grid and snapshot.json (`record` and
        the step): after each of `snapshot_epochs` (epoch_NNN) and at the objective's milestones (ProGAN's stages)."""
        if not self.accelerator.is_main_process:
            return None
        folder = self.run_dir / "snapshots" / name
        network = self.averaged_network()
        self.export_model(folder, network)
        self.save_samples(folder / "samples.png", network)
        write_text(folder / "snapshot.json", json.dumps({**record, "step": self.step}))
        return folder

    def evaluate(self) -> dict[str, float]:
        """The objective's held-out metrics of the EMA network, appended to evaluation.csv."""
        if not self.accelerator.is_main_process or self.evaluation.get("step") == self.step:
            return {}
        metrics = self.objective.evaluate(self.ema.shadow)
        if metrics:
            self.evaluation = {"step": self.step, **metrics}
            self._append_csv(self.run_dir / "evaluation.csv", self.evaluation)
        return metrics

    def export_model(self, folder: Path, network: nn.Module | None = None) -> None:
        """The EMA network (`averaged_network`) in Hub format: config.json (naming the family) + model.safetensors."""
        save_model(network or self.averaged_network(), folder, family=self.family.name)

    def _log(self, values: dict[str, float], elapsed: float) -> None:
        if not self.accelerator.is_main_process:
            return
        row = {"step": self.step, "elapsed_s": round(elapsed, 2), **{k: round(v, 5) for k, v in values.items()}}
        self._append_csv(self.run_dir / "metrics.csv", row)

    @staticmethod
    def _append_csv(path: Path, row: dict[str, Any]) -> None:
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row), extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _write_summary(self, images_per_s: float) -> None:
        summary_path = self.run_dir / "summary.json"
        summary = {
            "recipe": self.config.recipe,
            "preset": self.config.preset,
            "steps": self.step,
            "epochs": round(self.stream.epochs_done(self.step), 3),
            "batch_size": self.config.batch_size * self.accelerator.num_processes,
            "real_batches_per_step": self.stream.per_step,
            "train_seconds": round(self.train_seconds(), 1),
            "images_per_s_last_session": round(images_per_s, 1),
            "device": device_name(self.accelerator.device),
            "mixed_precision": self.accelerator.mixed_precision,
            "data": self.data.describe(),
            "dataset": self.config.dataset,
            "split": self.config.split,
            "num_images": len(self.data),
            **({"domain_images": sizes} if "" not in (sizes := self.stream.domain_sizes) else {}),
            "torch": torch.__version__,
            "final_losses": _last_metrics(self.run_dir / "metrics.csv"),
            "evaluation": self.evaluation,
        }
        write_text(summary_path, json.dumps(summary, indent=2))


# ---------------------------------------------------------------------- helpers


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available() and state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


class _StopFlag:
    requested = False


@contextmanager
def _stop_requests() -> Iterator[_StopFlag]:
    """Ctrl-C or SIGTERM (a killed job, a pre-empted machine) asks the loop to stop after the current step.

    The loop then saves a consistent checkpoint. A second signal interrupts at once.
    """
    flag = _StopFlag()

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals stay with whoever owns them
        yield flag
        return
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint we resume from, so steps never repeat."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)


def _last_metrics(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: float(v) for k, v in rows[-1].items() if k.startswith("loss")} if rows else {}


def train(config: TrainConfig, run_dir: str | Path, command: str = "", progress: bool = True) -> TrainResult:
    """Train (or resume) the run in `run_dir`."""
    return Trainer(config, run_dir, command=command, progress=progress).fit()

