"""StarGAN (Choi et al. 2018): one translator to every class, a critic that also classifies, and the cycle back.

With x a real image of class c, c' a target class and D = (D_src, D_cls):

    L_D = loss.discriminator(D_src(x), D_src(G(x, c'))) + penalty_weight * penalty(D_src, x, G(x, c'))
          + cls_weight * CE(D_cls(x), c)
    L_G = loss.generator(D_src(G(x, c'))) + cls_weight * CE(D_cls(G(x, c')), c')
          + rec_weight * |x - G(G(x, c'), c)|_1

The paper's setting is the default: the Wasserstein loss with the gradient penalty (weight 10), classification
weight 1, reconstruction weight 10, and five critic steps per translator step (the recipe's `phases`). D's score
is a map, so the adversarial terms average over its patches and the penalty is on the gradient of the map's sum.

Each image's target class is drawn uniformly among the *other* classes (the reference code shuffles the batch's
labels, so a target may be the image's own class; here every translation is a real one), from the global torch
RNG of the image's device, which the checkpoint keeps: a resumed run draws the same targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.objectives.base import (
    PREVIEW_COLUMNS,
    Batch,
    Logs,
    Objective,
    Phase,
    check_weight,
    detached,
    preview_rows,
    register_objective,
    unwrap,
)
from core.objectives.image_gan import GANOptions

PREVIEW_TARGETS = 3  # rows of translations in a sample grid, one fixed target class each



@dataclass(frozen=True)
class StarGANOptions(GANOptions):
    loss: str = "wasserstein"  # a name in core.losses.ADVERSARIAL_LOSSES
    penalty: str = "gradient"  # a name in core.losses.PENALTIES, on the score map
    penalty_weight: float = 10.0  # lambda_gp
    cls_weight: float = 1.0  # lambda_cls: the domain classification terms of both players
    rec_weight: float = 10.0  # lambda_rec: the cycle back to the original class

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weight(self.cls_weight, "cls_weight")
        check_weight(self.rec_weight, "rec_weight")


def other_classes(labels: Tensor, num_classes: int) -> Tensor:
    """For class ids [B], a class id [B] drawn uniformly among the num_classes - 1 others, per image
    (from the global RNG of the labels' device)."""
    offsets = torch.randint(1, num_classes, labels.shape, device=labels.device)
    return (labels + offsets) % num_classes


def reconstruction_loss(translator: nn.Module, translated: Tensor, original: Tensor, labels: Tensor) -> Tensor:
    """|x - G(G(x, c'), c)|_1: `translated` = G(x, c') taken back to the original classes `labels` [B]."""
    return F.l1_loss(translator(translated, labels), original)


def classification(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy of class logits [B, K] against class ids [B], and the accuracy (detached)."""
    return F.cross_entropy(logits.float(), labels), (logits.argmax(1) == labels).float().mean().detach()


def preview_targets(num_classes: int, rows: int = PREVIEW_TARGETS) -> Tensor:
    """The fixed target classes of the sample grid's rows: `rows` classes spread over the ids (repeated when there
    are more rows than classes, so the grid keeps its shape)."""
    return torch.arange(rows) * num_classes // rows


def preview_depth(columns: int) -> int:
    """Target rows of a grid `columns` images wide. The trainer lays a grid out 10 to a row when its size is a
    multiple of 10, else as a square, so a batch of 2 to 9 gets columns - 1 target rows (a square; a batch of
    one shows its input and translation side by side)."""
    return PREVIEW_TARGETS if columns == PREVIEW_COLUMNS else max(1, columns - 1)


@register_objective("stargan")
class StarGANObjective(Objective):
    Options = StarGANOptions
    # G translates the batch's real images, so it reads them (its one repeat sees the iteration's first batch)
    phases = (Phase("D", ("discriminator",)), Phase("G", ("translator",)))

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        self.adversarial = self.options.make_loss()
        self.penalty = self.options.make_penalty()
        self.num_classes = unwrap(networks["translator"]).config.num_classes

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        real, labels = batch["images"], batch["labels"]  # [B, C, H, W] in [-1, 1], [B]
        translator, discriminator = self.networks["translator"], self.networks["discriminator"]
        target = other_classes(labels, self.num_classes)
        if phase == "D":
            with torch.no_grad():
                fake = translator(real, target)
            real_scores, real_logits = discriminator(real)
            fake_scores, _ = discriminator(fake)
            adversarial = self.adversarial.discriminator_loss(real_scores, fake_scores)
            cls, accuracy = classification(real_logits, labels)
            loss = adversarial + self.options.cls_weight * cls
            logs: Logs = {"d_real": detached(real_scores.mean()), "d_fake": detached(fake_scores.mean()),
                          "d_cls": detached(cls), "d_cls_acc": accuracy}
            if self.penalty is not None:
                penalty = self.penalty(lambda images: discriminator(images)[0], real, fake)
                loss = loss + self.options.penalty_weight * penalty
                logs["penalty"] = detached(penalty)
            return loss, {"loss_d": detached(loss), **logs}
        fake = translator(real, target)
        fake_scores, fake_logits = discriminator(fake)
        adversarial = self.adversarial.generator_loss(fake_scores)
        cls, accuracy = classification(fake_logits, target)
        rec = reconstruction_loss(translator, fake, real, labels)
        loss = adversarial + self.options.cls_weight * cls + self.options.rec_weight * rec
        return loss, {"loss_g": detached(adversarial), "g_cls": detached(cls), "g_cls_acc": accuracy,
                      "rec": detached(rec)}

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """The run's first batch's first n <= 10 images and the fixed target classes of the rows."""
        n = min(PREVIEW_COLUMNS, n, batch["images"].shape[0])
        return {"images": batch["images"][:n].clone(), "targets": preview_targets(self.num_classes, preview_depth(n))}

    def preview(self, translator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Rows: the inputs, then each translated to one target class ([(1 + targets) * n, C, H, W])."""
        images = inputs["images"]
        rows = [translator(images, target.expand(images.shape[0])) for target in inputs["targets"]]
        return preview_rows(images, *rows)
