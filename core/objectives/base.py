"""What every objective is, the registry they go into, and how their options are validated.

An `Objective` is one family's training step. It names its phases (which
networks each phase's loss updates), returns the loss of a phase for a batch,
and may remember state across steps (BEGAN's k_t) that goes into the
checkpoint. How often a phase runs per iteration, with which optimizer and
which hook after its step, comes from the run's config (`core.train.phases`),
never from here. The trainer calls only `phases`, `batch_schedule`, `milestones`,
`set_step`, `loss`, `state_dict` / `load_state_dict`, `preview_inputs`, `preview`
and `evaluate`.

Each objective declares its settings as an `Options` dataclass. A run's
`options` must be exactly a subset of its fields: a setting the objective does
not read (`curriculum` for a plain GAN) is a one-line error, not ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from core.registry import Registry
from core.validation import typed_options

if TYPE_CHECKING:
    from core.train.config import TrainConfig

Batch = dict[str, Tensor]  # "images": [B, C, H, W] in [-1, 1], "labels": [B] int64
Logs = dict[str, Tensor | float]  # scalars; tensors stay on the device until the trainer logs them


@dataclass(frozen=True)
class Phase:
    """One optimisation step of a training iteration: its loss updates `trains` only.

    `reads_images`: whether its loss looks at the batch's real images. A generator phase does not (it
    reads at most the labels), so repeating it takes no fresh data: it counts no real batches, and
    each of its repeats sees the iteration's first batch.
    """

    name: str
    trains: tuple[str, ...]
    reads_images: bool = True


@dataclass(frozen=True)
class NoOptions:
    """An objective without settings of its own."""


class Objective:
    """A family's training step. Subclasses set `phases` (and `Options`) and implement `loss`.

    Built from the networks (wrapped for the device) and the run's TrainConfig;
    `self.options` is the typed, validated view of `config.options`.
    """

    name: ClassVar[str] = ""  # set by register_objective
    Options: ClassVar[type] = NoOptions
    phases: ClassVar[tuple[Phase, ...]] = ()
    has_preview: ClassVar[bool] = True  # whether `preview` draws sample grids

    def __init__(self, networks: dict[str, nn.Module], config: TrainConfig):
        self.networks = networks
        self.config = config
        self.options = make_options(type(self), config.options)

    def set_step(self, step: int) -> None:
        """Called before each iteration; curricula and growing schedules hook in here."""

    @classmethod
    def batch_schedule(cls, config: TrainConfig):
        """The batch size by step (a `core.train.batches.BatchSchedule`), or None for the run's `batch_size`
        throughout. ProGAN trains each resolution with a batch size of its own."""
        return

    def milestones(self) -> dict[int, str]:
        """Steps after which the trainer keeps a snapshot of the exported network, by snapshot name
        (ProGAN: the end of every stage, for its growth curve and strip)."""
        return {}

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What the objective remembers across steps (tensors and plain values); saved in the checkpoint."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"objective {self.name!r} keeps no state, but the checkpoint has {sorted(state)}")

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """Fixed inputs for the sample grids (same for the whole run)."""
        raise NotImplementedError

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Images [N, C, H, W] in [-1, 1] for the sample grid."""
        raise NotImplementedError

    def evaluate(self, network: nn.Module) -> dict[str, float]:
        """Held-out metrics of the exported network (e.g. test accuracy); {} when there are none."""
        return {}

    def generator_inputs(self, n: int, seed: int) -> dict[str, Tensor] | None:
        """`n` inputs of the exported network drawn as in training (for `preview`), seeded; None when the
        network's inputs cannot be drawn (a classifier's are real images)."""
        return None


class LatentPreview:
    """Sample grids of a generator of z (and class labels): fixed latents from the run's seed, one class per row."""

    networks: dict[str, nn.Module]

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        generator = unwrap(self.networks["generator"])
        inputs = {"z": torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))}
        if generator.num_classes:
            inputs["labels"] = torch.arange(n) * generator.num_classes // n
        return inputs

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        return generator(inputs["z"], inputs.get("labels"))

    def generator_inputs(self, n: int, seed: int) -> dict[str, Tensor]:
        generator = unwrap(self.networks["generator"])
        inputs = {"z": torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))}
        if generator.num_classes:
            inputs["labels"] = torch.arange(n) % generator.num_classes
        return inputs


PREVIEW_COLUMNS = 10  # examples per row of a translator's sample grid


def as_rgb(images: Tensor, channels: int = 3) -> Tensor:
    """[B, 1 or 3, H, W] as `channels` channels (a grayscale source repeated), for grids that mix both."""
    return images.expand(-1, channels, -1, -1) if images.shape[1] == 1 and channels == 3 else images


def preview_rows(*rows: Tensor) -> Tensor:
    """Rows of a sample grid (each [n, C, H, W], grayscale shown as RGB) stacked in order: input, output, truth ..."""
    channels = max(row.shape[1] for row in rows)
    return torch.cat([as_rgb(row, channels) for row in rows])


class TranslatorPreview:
    """Sample grids of a paired translator: fixed inputs from the run's first batch; rows of input, output, truth."""

    networks: dict[str, nn.Module]

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        n = min(PREVIEW_COLUMNS, n, batch["source"].shape[0])
        return {"source": batch["source"][:n].clone(), "target": batch["target"][:n].clone()}

    def preview(self, translator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        return preview_rows(inputs["source"], translator(inputs["source"]), inputs["target"])


OBJECTIVES: Registry[type[Objective]] = Registry("objective", Objective)


def register_objective(name: str):
    """Class decorator: register an Objective under `name` (and record the name on it)."""

    def add(cls: type[Objective]) -> type[Objective]:
        cls.name = name
        return OBJECTIVES.register(name)(cls)

    return add


def make_options(objective: type[Objective], values: Mapping[str, Any]):
    """The objective's typed options from `values`; an unread or invalid setting is a UserError."""
    return typed_options(objective.Options, values, f"the {objective.name} objective", objective.name)


def check_weight(value: Any, name: str) -> None:
    """A loss weight of an options dataclass: a finite number >= 0, else a ValueError (a UserError once
    `make_options` reports it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def options_dict(options: Any) -> dict[str, Any]:
    """Options as plain JSON-able values (for run records and cards)."""
    return asdict(options)


def unwrap(module: nn.Module) -> nn.Module:
    """The model behind DistributedDataParallel / compile wrappers."""
    while hasattr(module, "module"):
        module = module.module
    return getattr(module, "_orig_mod", module)


def detached(value: Tensor) -> Tensor:
    """A log value: detached, float32, still on its device (no host sync until the trainer logs)."""
    return value.detach().float()
