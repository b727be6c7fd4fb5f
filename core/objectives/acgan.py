"""ACGAN's step (Odena et al., 2017): the GAN game plus an auxiliary classification task for both players.

    L_D = loss.discriminator(s(x), s(G(z, y))) + penalty + w * (CE(c(x), y) + CE(c(G(z, y)), y))
    L_G = loss.generator(s(G(z, y))) + w * CE(c(G(z, y)), y)

where s and c are the critic's score and class heads; w is `class_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.objectives.base import Batch, Logs, detached, register_objective
from core.objectives.image_gan import GANObjective, GANOptions


@dataclass(frozen=True)
class ACGANOptions(GANOptions):
    class_weight: float = 1.0  # w: the auxiliary classifier's cross-entropy

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.class_weight, bool) or not isinstance(self.class_weight, (int, float)) or self.class_weight < 0:
            raise ValueError(f"class_weight must be a number >= 0, got {self.class_weight!r}")


@register_objective("acgan")
class ACGANObjective(GANObjective):
    Options = ACGANOptions

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        discriminator, labels = self.networks["discriminator"], batch["labels"]
        weight = self.options.class_weight
        if phase == "D":
            real = batch["images"]
            with torch.no_grad():
                fake = self.networks["generator"](self.latents(batch), labels)
            real_scores, real_logits = discriminator(real)
            fake_scores, fake_logits = discriminator(fake)
            adversarial, logs = self.critic_loss(lambda x: discriminator(x)[0], real, fake, real_scores, fake_scores)
            classification = F.cross_entropy(real_logits, labels) + F.cross_entropy(fake_logits, labels)
            loss = adversarial + weight * classification
            accuracy = (real_logits.argmax(1) == labels).float().mean()
            return loss, {"loss_d": detached(loss), **logs, "class_d": detached(classification),
                          "real_accuracy": detached(accuracy)}
        fake = self.networks["generator"](self.latents(batch), labels)
        fake_scores, fake_logits = discriminator(fake)
        classification = F.cross_entropy(fake_logits, labels)
        loss = self.adversarial.generator_loss(fake_scores) + weight * classification
        return loss, {"loss_g": detached(loss), "class_g": detached(classification)}
