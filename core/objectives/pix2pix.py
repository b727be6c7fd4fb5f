"""pix2pix (Isola et al. 2017): a conditional GAN on paired images plus L1 to the ground truth; and L1 alone.

    L_D = 1/2 [loss.discriminator(D(x, y), D(x, G(x)))]
    L_G = loss.generator(D(x, G(x))) + l1_weight * |y - G(x)|_1

with x the source (grayscale, edges, mask of the photo) and y the photo. The
adversarial loss comes from the registry (pix2pix: the cross-entropy GAN loss,
`nonsaturating`); D is a PatchGAN, so its scores are a map and the loss is
averaged over every patch. The `l1` objective is the same generator step with
the adversarial term left out: the baseline that says what the discriminator buys.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.losses import ADVERSARIAL_LOSSES
from core.objectives.base import (
    Batch,
    Logs,
    Objective,
    Phase,
    TranslatorPreview,
    check_weight,
    detached,
    register_objective,
)


@dataclass(frozen=True)
class Pix2PixOptions:
    loss: str = "nonsaturating"  # a name in core.losses.ADVERSARIAL_LOSSES
    l1_weight: float = 100.0  # lambda_L1

    def __post_init__(self) -> None:
        ADVERSARIAL_LOSSES.get(self.loss)
        check_weight(self.l1_weight, "l1_weight")


@register_objective("pix2pix")
class Pix2PixObjective(TranslatorPreview, Objective):
    Options = Pix2PixOptions
    phases = (Phase("D", ("discriminator",)), Phase("G", ("translator",)))

    def __init__(self, networks, config) -> None:
        super().__init__(networks, config)
        self.adversarial = ADVERSARIAL_LOSSES.get(self.options.loss)()

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        source, target = batch["source"], batch["target"]
        translator, discriminator = self.networks["translator"], self.networks["discriminator"]
        if phase == "D":
            with torch.no_grad():
                fake = translator(source)
            real_scores, fake_scores = discriminator(source, target), discriminator(source, fake)
            loss = 0.5 * self.adversarial.discriminator_loss(real_scores, fake_scores)
            return loss, {"loss_d": detached(loss), "d_real": detached(real_scores.mean()), "d_fake": detached(fake_scores.mean())}
        fake = translator(source)
        adversarial = self.adversarial.generator_loss(discriminator(source, fake))
        l1 = F.l1_loss(fake, target)
        loss = adversarial + self.options.l1_weight * l1
        return loss, {"loss_g": detached(adversarial), "l1": detached(l1)}


@register_objective("l1")
class L1Objective(TranslatorPreview, Objective):
    """Regression to the ground truth: |y - G(x)|_1 and nothing else."""

    phases = (Phase("G", ("translator",)),)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        l1 = F.l1_loss(self.networks["translator"](batch["source"]), batch["target"])
        return l1, {"loss_l1": detached(l1)}
