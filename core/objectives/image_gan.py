"""The full-image GAN step: G(z, labels) against a critic D(images, labels), any loss, any penalty.

Trains DCGAN and the loss-defined families of the collection (GAN, CGAN,
WGAN, WGAN-GP, DRAGAN, LSGAN): what tells them apart is the adversarial loss,
the penalty and the phase schedule (critic steps, optimizer, clipping), all
settings of the run, not code here.

    L_D = loss.discriminator(D(x, y), D(G(z, y), y)) + penalty_weight * penalty(D(., y), x, G(z, y))
    L_G = loss.generator(D(G(z, y), y))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.losses import ADVERSARIAL_LOSSES, PENALTIES, AdversarialLoss, Critic, Penalty
from core.objectives.base import Batch, LatentPreview, Logs, Objective, Phase, detached, register_objective, unwrap


@dataclass(frozen=True)
class GANOptions:
    """What every GAN objective reads: the adversarial loss and the critic's penalty, by registry name."""

    loss: str = "nonsaturating"  # a name in core.losses.ADVERSARIAL_LOSSES
    penalty: str = "none"  # a name in core.losses.PENALTIES
    penalty_weight: float = 10.0  # lambda: WGAN-GP 10, DRAGAN 0.25 (as the reference collection), R1 gamma / 2

    def __post_init__(self) -> None:
        ADVERSARIAL_LOSSES.get(self.loss)  # an unknown name is a UserError listing the known ones
        PENALTIES.get(self.penalty)
        if not isinstance(self.penalty_weight, (int, float)) or isinstance(self.penalty_weight, bool) or self.penalty_weight < 0:
            raise ValueError(f"penalty_weight must be a number >= 0, got {self.penalty_weight!r}")

    def make_loss(self) -> AdversarialLoss:
        return ADVERSARIAL_LOSSES.get(self.loss)()

    def make_penalty(self) -> Penalty | None:
        return None if self.penalty == "none" or not self.penalty_weight else PENALTIES.get(self.penalty)()


class GANObjective(LatentPreview, Objective):
    """Shared by the GAN objectives: the loss and penalty from the options, latents, sample grids."""

    Options = GANOptions
    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",), reads_images=False))

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        self.adversarial = self.options.make_loss()
        self.penalty = self.options.make_penalty()

    @property
    def generator_module(self) -> nn.Module:
        return unwrap(self.networks["generator"])

    def latents(self, batch: Batch) -> Tensor:
        real = batch["images"]
        return torch.randn(real.shape[0], self.generator_module.z_dim, device=real.device)

    def labels(self, batch: Batch) -> Tensor | None:
        return batch["labels"] if self.generator_module.num_classes else None

    def critic_loss(self, critic: Critic, real: Tensor, fake: Tensor, real_scores: Tensor, fake_scores: Tensor) -> tuple[Tensor, Logs]:
        """The adversarial discriminator loss plus the weighted penalty; `critic` maps images to scores."""
        loss = self.adversarial.discriminator_loss(real_scores, fake_scores)
        logs: Logs = {"d_real": detached(real_scores.mean()), "d_fake": detached(fake_scores.mean())}
        if self.penalty is not None:
            penalty = self.penalty(critic, real, fake)
            loss = loss + self.options.penalty_weight * penalty
            logs["penalty"] = detached(penalty)
        return loss, logs


@register_objective("image-gan")
class ImageGANObjective(GANObjective):
    """Full-image GAN, unconditional or class-conditional (the critic sees the labels too)."""

    def _critic(self, labels: Tensor | None) -> Critic:
        discriminator = self.networks["discriminator"]
        return lambda images: discriminator(images, labels)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        labels = self.labels(batch)
        critic = self._critic(labels)
        if phase == "D":
            real = batch["images"]
            with torch.no_grad():
                fake = self.networks["generator"](self.latents(batch), labels)
            loss, logs = self.critic_loss(critic, real, fake, critic(real), critic(fake))
            return loss, {"loss_d": detached(loss), **logs}
        fake = self.networks["generator"](self.latents(batch), labels)
        loss = self.adversarial.generator_loss(critic(fake))
        return loss, {"loss_g": detached(loss)}
