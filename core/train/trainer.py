"""The one trainer: any registered family, any objective, on `accelerate`.

It knows phases and optimizers, never loss internals: each iteration calls
`objective.loss(phase, batch)` for the objective's phases in order and steps
that phase's optimizer. Runs on CPU, one GPU, or several GPUs under
`accelerate launch`; bf16/fp16 mixed precision where the device supports it.

A run folder holds:
    config.json        the resolved TrainConfig (+ the model config)
    command.txt        the exact command that started the run
    metrics.csv        averaged losses every `log_every` steps
    samples/           grids from the EMA generator with fixed noise (generators)
    evaluation.csv     held-out metrics of the EMA network, e.g. test accuracy (classifiers)
    checkpoints/last/  full state: networks, EMA, optimizers, step, RNG
    generator/         the final EMA network, named after it (classifier/ for classifiers)
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from torch import nn
from tqdm.auto import tqdm

from core.data import ImageData, load_dataset
from core.errors import UserError
from core.hub import save_model
from core.images import make_grid, save_png, to_uint8
from core.losses import OBJECTIVES, Objective, Phase
from core.models import MODELS
from core.train.checkpoint import load_state, save_state
from core.train.config import TrainConfig
from core.train.ema import EMA


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


class BatchStream:
    """Deterministic batches by step: a fixed permutation per epoch, a shard per process.

    Because the batch depends only on (seed, step, rank), resuming at step k
    reproduces exactly the batches an uninterrupted run would have seen.
    """

    def __init__(
        self, data: ImageData, batch_size: int, seed: int, rank: int = 0, world: int = 1, hflip: bool = False, shift: int = 0
    ):
        if len(data) < batch_size * world:
            raise UserError(f"batch size {batch_size} x {world} process(es) is larger than the dataset ({len(data)} images)")
        if shift < 0 or shift >= data.image_size // 2:
            raise UserError(f"shift must be between 0 and {data.image_size // 2 - 1} pixels, got {shift}")
        self.data, self.batch_size, self.seed, self.rank, self.world = data, batch_size, seed, rank, world
        self.hflip, self.shift = hflip, shift
        self.batches_per_epoch = len(data) // (batch_size * world)
        self._epoch, self._order = -1, torch.empty(0)

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of iteration `step`: "images" [B, C, H, W] in [-1, 1] and "labels" [B].

        A dict, so that objectives with other inputs (paired images, masks) get them by name.
        """
        epoch, position = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(len(self.data), generator=rng)
        start = (position * self.world + self.rank) * self.batch_size
        images, labels = self.data.batch(self._order[start : start + self.batch_size])
        rng = torch.Generator().manual_seed(hash((self.seed, step, self.rank)) % 2**62)
        if self.hflip:
            flip = torch.rand(images.shape[0], generator=rng) < 0.5
            images[flip] = images[flip].flip(-1)
        if self.shift:
            images = random_shift(images, self.shift, rng)
        return {"images": images, "labels": labels}


def random_shift(images: torch.Tensor, shift: int, rng: torch.Generator) -> torch.Tensor:
    """Each image [B, C, H, W] translated by up to `shift` pixels per axis (edges replicated)."""
    size = images.shape[-1]
    padded = torch.nn.functional.pad(images, (shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * shift + 1, (images.shape[0], 2), generator=rng).tolist()
    return torch.stack([padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(offsets)])


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
        self.config, self.run_dir, self.progress = config, Path(run_dir), progress
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.accelerator = Accelerator(
            mixed_precision=resolve_precision(config.mixed_precision),
            # D is not stepped in the G phase; DDP must tolerate parameters without gradients.
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        set_seed(config.seed, device_specific=True)
        acc = self.accelerator

        self.data = load_dataset(
            config.dataset, config.split, image_size=config.image_size, channels=config.channels or None, pad=config.pad
        )
        acc.print(f"data: {self.data.describe()}; device: {device_name(acc.device)}")
        self.family = MODELS.get(config.model)
        self.model_config = self.family.make_config(
            **{
                "image_size": self.data.image_size,
                "channels": self.data.channels,
                "num_classes": self.data.num_classes if config.conditional else 0,
                "class_names": list(self.data.class_names) if config.conditional else [],
                **config.model_config,
            }
        )
        networks = self.family.build(self.model_config)
        self.ema = EMA(networks[self.family.exported], config.ema_decay)
        self.ema.shadow.to(acc.device)
        objective_class = OBJECTIVES.get(self.family.objective)
        self.networks, self.optimizers = self._prepare(networks, objective_class.phases)
        self.objective: Objective = objective_class(self.networks, config)
        self.stream = BatchStream(
            self.data, config.batch_size, config.seed, acc.process_index, acc.num_processes, config.hflip, config.shift
        )
        self.step = 0
        self._seconds_before, self._session_start = 0.0, time.monotonic()
        if acc.is_main_process:
            self._write_run_files(command)
        self._resume()
        self.preview_inputs = (
            self.objective.preview_inputs(self.stream(0), config.preview_count, config.seed)
            if self.objective.has_preview else {}
        )
        self.evaluation: dict[str, float] = {}

    def _prepare(self, networks: dict[str, nn.Module], phases: tuple[Phase, ...]) -> tuple[dict, dict]:
        """One Adam per phase over the networks that phase trains, all wrapped by accelerate."""
        optimizers = {}
        for phase in phases:
            if phase.name not in self.config.lr:
                raise UserError(f"lr has no entry for phase {phase.name!r} (lr = {self.config.lr})")
            params = [p for name in phase.trains for p in networks[name].parameters()]
            optimizers[phase.name] = torch.optim.Adam(params, lr=self.config.lr[phase.name], betas=self.config.betas)
        prepared = self.accelerator.prepare(*networks.values(), *optimizers.values())
        return dict(zip(networks, prepared[: len(networks)])), dict(zip(optimizers, prepared[len(networks) :]))

    # ------------------------------------------------------------------ run folder

    def _write_run_files(self, command: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        record = {**self.config.to_dict(), "resolved_model_config": self.model_config.__dict__}
        (self.run_dir / "config.json").write_text(json.dumps(record, indent=2))
        if command:
            with open(self.run_dir / "command.txt", "a") as f:
                f.write(command + "\n")

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
        if acc.scaler is not None and "scaler" in state:
            acc.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self._seconds_before = float(state.get("train_seconds", 0.0))

    def save_checkpoint(self) -> None:
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
        running: dict[str, list[float]] = {}
        bar = tqdm(
            total=config.steps, initial=self.step, desc=f"train {config.recipe or config.model}",
            disable=not (self.progress and acc.is_main_process), dynamic_ncols=True,
        )
        try:
            with _stop_requests() as stop:
                while self.step < config.steps and time.monotonic() < deadline:
                    logs = self.train_step()
                    bar.update(1)
                    for key, value in logs.items():
                        running.setdefault(key, []).append(value)
                    if self.step % config.log_every == 0:
                        averaged = {k: sum(v) / len(v) for k, v in running.items()}
                        bar.set_postfix({k: f"{v:.3f}" for k, v in averaged.items() if k.startswith("loss")})
                        self._log(averaged, time.monotonic() - started, self.step - start_step)
                        running.clear()
                    if self.step % config.sample_every == 0:
                        self.save_samples()
                        self.evaluate()
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
        images_per_s = (self.step - start_step) * config.batch_size * acc.num_processes / max(seconds, 1e-9)
        if acc.is_main_process:
            self.export_model(self.run_dir / self.family.exported)
            self._write_summary(images_per_s)
        return TrainResult(self.run_dir, self.step, seconds, images_per_s)

    def train_step(self) -> dict[str, float]:
        """One iteration (every phase of the objective, then the EMA) at `self.step`, which it advances."""
        acc = self.accelerator
        self.objective.set_step(self.step)
        self._set_learning_rates()
        batch = {key: value.to(acc.device) for key, value in self.stream(self.step).items()}
        logs: dict[str, float] = {}
        for phase in self.objective.phases:
            # Only the networks this phase trains need gradients: saves the backward through the others.
            for name, net in self.networks.items():
                net.requires_grad_(name in phase.trains)
            optimizer = self.optimizers[phase.name]
            optimizer.zero_grad(set_to_none=True)
            loss, phase_logs = self.objective.loss(phase.name, batch)
            if not torch.isfinite(loss):
                raise UserError(f"training diverged: the {phase.name} loss is {loss.item()} at step {self.step}; resume from the last checkpoint with a lower lr (--set lr.{phase.name}=...)")
            acc.backward(loss)
            optimizer.step()
            logs.update(phase_logs)
        self.ema.update(acc.unwrap_model(self.networks[self.family.exported]), self.step)
        self.step += 1
        return logs

    def _set_learning_rates(self) -> None:
        """The schedule is a function of the step alone, so resuming needs no scheduler state."""
        config = self.config
        factor = 1.0
        if config.lr_schedule == "cosine":
            factor = 0.5 * (1 + np.cos(np.pi * min(self.step, config.steps) / max(config.steps, 1)))
        for name, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = config.lr[name] * factor

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        if not self.accelerator.is_main_process or not self.objective.has_preview:
            return None
        inputs = {k: v.to(self.accelerator.device) for k, v in self.preview_inputs.items()}
        images = to_uint8(self.objective.preview(self.ema.shadow, inputs))
        nrow = 10 if len(images) % 10 == 0 else None
        scale = max(1, 256 // images.shape[1] // 2)
        return save_png(make_grid(images, nrow=nrow), self.run_dir / "samples" / f"step_{self.step:06d}.png", scale)

    def evaluate(self) -> dict[str, float]:
        """The objective's held-out metrics of the EMA network, appended to evaluation.csv."""
        if not self.accelerator.is_main_process or self.evaluation.get("step") == self.step:
            return {}
        metrics = self.objective.evaluate(self.ema.shadow)
        if metrics:
            self.evaluation = {"step": self.step, **metrics}
            self._append_csv(self.run_dir / "evaluation.csv", self.evaluation)
        return metrics

    def export_model(self, folder: Path) -> None:
        """The EMA network in Hub format: config.json + model.safetensors."""
        save_model(self.ema.shadow, folder)

    def _log(self, values: dict[str, float], elapsed: float, steps_done: int) -> None:
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
            "batch_size": self.config.batch_size * self.accelerator.num_processes,
            "train_seconds": round(self.train_seconds(), 1),
            "images_per_s_last_session": round(images_per_s, 1),
            "device": device_name(self.accelerator.device),
            "mixed_precision": self.accelerator.mixed_precision,
            "data": self.data.describe(),
            "dataset": self.config.dataset,
            "split": self.config.split,
            "num_images": len(self.data),
            "torch": torch.__version__,
            "final_losses": _last_metrics(self.run_dir / "metrics.csv"),
            "evaluation": self.evaluation,
        }
        summary_path.write_text(json.dumps(summary, indent=2))


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
    with open(path, "w", newline="") as f:
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

