"""Progressive GAN's step (Karras et al., 2018): WGAN-GP with the drift term, on a growing resolution.

The schedule counts images shown: the first stage (4x4) trains `stable_images`,
every later one fades in over `fade_images` (alpha from 0 to 1) and then
trains `stable_images` at full strength; the last stage trains until the run
ends. Each stage may have its own batch size (`batch_sizes`, by resolution),
so the step at which a stage starts follows from the images and batch sizes
(`growth_schedule`), and the trainer reads batches of that size
(`batch_schedule`). Where the networks stand is a function of the step
alone, so resuming in the middle of a fade continues bit for bit.

Real images are shown at the stage's resolution (average pooling of the
data) and, while a stage fades in, blended between resolutions the same way
the generator's output is: lerp(upsample(downsample(x)), x, alpha).

    L_D = loss.discriminator(D(x), D(G(z))) + lambda GP + drift * E[D(x)^2]
    L_G = loss.generator(D(G(z)))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from core.models.progan import START_SIZE
from core.objectives.base import Batch, Logs, register_objective, unwrap
from core.objectives.image_gan import GANObjective, GANOptions, detached


@dataclass(frozen=True)
class ProGANOptions(GANOptions):
    loss: str = "wasserstein"
    penalty: str = "gradient"
    penalty_weight: float = 10.0
    drift: float = 0.001  # epsilon_drift: keeps the critic's output near zero
    fade_images: int = 600_000  # real images shown while a stage fades in (the paper's 800k)
    stable_images: int = 600_000  # real images shown at each stage once faded in
    batch_sizes: dict = field(default_factory=dict)  # resolution -> batch size; others use the run's batch_size

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("fade_images", "stable_images"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of images >= 1, got {value!r}")
        if isinstance(self.drift, bool) or not isinstance(self.drift, (int, float)) or not self.drift >= 0:
            raise ValueError(f"drift must be a number >= 0, got {self.drift!r}")
        if not isinstance(self.batch_sizes, dict):
            raise TypeError(f"batch_sizes must map resolutions to batch sizes, got {self.batch_sizes!r}")
        for size, batch in self.batch_sizes.items():
            if not str(size).isdigit() or isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                raise ValueError(f"batch_sizes must map resolutions (4, 8, ...) to whole batch sizes, got {size!r}: {batch!r}")

    def batch_size_at(self, size: int, default: int) -> int:
        return int({int(k): v for k, v in self.batch_sizes.items()}.get(size, default))


@dataclass(frozen=True)
class GrowthPhase:
    """A run of steps at one stage: fading it in, or training it at full strength."""

    stage: int
    size: int
    fading: bool
    first_step: int
    steps: int | None  # None: the last stage's stable phase, until the run ends
    batch_size: int


def growth_schedule(final_size: int, options: ProGANOptions, batch_size: int) -> list[GrowthPhase]:
    """The phases of growing from 4x4 to `final_size`, in steps, from images shown and batch sizes."""
    phases, step, size, stage = [], 0, START_SIZE, 0
    while size <= final_size:
        batch = options.batch_size_at(size, batch_size)
        for fading in (True, False) if stage else (False,):
            last = size == final_size and not fading
            images = options.fade_images if fading else options.stable_images
            steps = None if last else math.ceil(images / batch)
            phases.append(GrowthPhase(stage, size, fading, step, steps, batch))
            step += steps or 0
        size, stage = size * 2, stage + 1
    return phases


def progress_at(phases: list[GrowthPhase], step: int) -> tuple[int, float]:
    """(stage, alpha) at iteration `step`: alpha rises from 0 at a fade's first step towards 1."""
    phase = next(p for p in reversed(phases) if p.first_step <= step)
    if not phase.fading:
        return phase.stage, 1.0
    return phase.stage, (step - phase.first_step) / phase.steps


def final_size(config) -> int:
    """The full training resolution of a run: the data's size after padding."""
    return config.image_size + 2 * config.pad


@register_objective("progan")
class ProGANObjective(GANObjective):
    Options = ProGANOptions

    def __init__(self, networks, config) -> None:
        super().__init__(networks, config)
        self.schedule = growth_schedule(final_size(config), self.options, config.batch_size)
        self.stage, self.alpha = 0, 1.0

    @classmethod
    def batch_schedule(cls, config):
        from core.objectives.base import make_options
        from core.train.batches import BatchSchedule

        phases = growth_schedule(final_size(config), make_options(cls, config.options), config.batch_size)
        starts, sizes = [], []
        for phase in phases:
            if not sizes or sizes[-1] != phase.batch_size:
                starts.append(phase.first_step)
                sizes.append(phase.batch_size)
        return BatchSchedule(tuple(starts), tuple(sizes))

    def milestones(self) -> dict[int, str]:
        """The end of every stage (the step after its stable phase), and the end of the run for the last one once
        it has begun fading in."""
        ends = {p.first_step + p.steps: f"stage_{p.size:04d}px" for p in self.schedule if not p.fading and p.steps}
        last = self.schedule[-1]
        begun = min(p.first_step for p in self.schedule if p.size == last.size)
        if self.config.steps > begun:
            ends[self.config.steps] = f"stage_{last.size:04d}px"
        return {step: name for step, name in ends.items() if step <= self.config.steps}

    def set_step(self, step: int) -> None:
        stage, alpha = progress_at(self.schedule, step)
        for name in ("generator", "discriminator"):
            unwrap(self.networks[name]).set_progress(stage, alpha)
        self.stage, self.alpha = unwrap(self.networks["generator"]).progress()  # alpha as stored (float32)

    def real_images(self, images: Tensor) -> Tensor:
        """The data at the current stage's resolution, blended with the previous one's while fading in."""
        size = START_SIZE * 2**self.stage
        if images.shape[-1] != size:
            images = F.avg_pool2d(images, images.shape[-1] // size)
        if self.stage and self.alpha < 1:
            lower = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
            images = torch.lerp(lower, images, self.alpha)
        return images

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        discriminator, generator = self.networks["discriminator"], self.networks["generator"]
        critic = lambda images: discriminator(images)
        z = self.latents(batch)
        if phase == "D":
            real = self.real_images(batch["images"])
            with torch.no_grad():
                fake = generator(z)
            real_scores = critic(real)
            loss, logs = self.critic_loss(critic, real, fake, real_scores, critic(fake))
            if self.options.drift:
                loss = loss + self.options.drift * real_scores.pow(2).mean()
            return loss, {"loss_d": detached(loss), **logs}
        loss = self.adversarial.generator_loss(critic(generator(z)))
        return loss, {"loss_g": detached(loss), "stage": float(self.stage), "alpha": self.alpha}
