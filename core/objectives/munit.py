"""MUNIT (Huang et al. 2018): translations in random styles, kept faithful by reconstructing images and codes.

With E^c, E^s and G each domain's content encoder, style encoder and decoder,
c_a = E^c_a(a), s_a = E^s_a(a), and s'_a, s'_b styles drawn from the prior N(0, I):

    ab = G_b(c_a, s'_b)      ba = G_a(c_b, s'_a)
    L_G = loss.generator(D_b(ab)) + loss.generator(D_a(ba))
          + image_weight   * (|G_a(c_a, s_a) - a|_1 + |G_b(c_b, s_b) - b|_1)       within-domain reconstruction
          + style_weight   * (|E^s_b(ab) - s'_b|_1 + |E^s_a(ba) - s'_a|_1)         the style it was given, read back
          + content_weight * (|E^c_b(ab) - c_a|_1 + |E^c_a(ba) - c_b|_1)           the content kept across domains
          + cycle_weight   * (|G_a(E^c_b(ab), s_a) - a|_1 + |G_b(E^c_a(ba), s_b) - b|_1)   (off by default, as MUNIT)
    L_D = loss.discriminator(D_a(a), D_a(ba)) + loss.discriminator(D_b(b), D_b(ab))

Each D is multi-scale: its loss is the sum over scales, each averaged over its
score map. Terms add up over the two domains, as the authors' code does. The
adversarial loss comes from the registry (MUNIT: `least-squares`). Styles are
drawn from the global torch RNG, which the trainer checkpoints, so resuming
draws the same. The D phase translates its batch afresh under no_grad (in new
random styles).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.losses import ADVERSARIAL_LOSSES, AdversarialLoss
from core.models.munit import DOMAIN_A, DOMAIN_B
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

PREVIEW_STYLES = 3  # random styles per direction in the sample grid



@dataclass(frozen=True)
class MUNITOptions:
    loss: str = "least-squares"  # a name in core.losses.ADVERSARIAL_LOSSES
    image_weight: float = 10.0  # lambda_x: within-domain image reconstruction
    style_weight: float = 1.0  # lambda_s: the random style read back from the translation
    content_weight: float = 1.0  # lambda_c: the content code read back from the translation
    cycle_weight: float = 0.0  # explicit cycle through the other domain (MUNIT: 0; 10 for some datasets)

    def __post_init__(self) -> None:
        ADVERSARIAL_LOSSES.get(self.loss)
        for name in ("image_weight", "style_weight", "content_weight", "cycle_weight"):
            check_weight(getattr(self, name), name)


def reconstruction_terms(real_a: Tensor, real_b: Tensor, styles_a: Tensor, styles_b: Tensor,
                         out: dict[str, Tensor]) -> dict[str, Tensor]:
    """The unweighted L1 terms of L_G (each a mean over its elements, summed over the two domains) from the
    translator's training pass `out` (MUNITTranslator.forward) on real images and the random styles it was given:
    "image" (within-domain), "style", "content" and, when `out` has the cycle, "cycle"."""
    terms = {
        "image": F.l1_loss(out["recon_a"], real_a) + F.l1_loss(out["recon_b"], real_b),
        "style": F.l1_loss(out["style_code_ba"], styles_a) + F.l1_loss(out["style_code_ab"], styles_b),
        "content": F.l1_loss(out["content_ab"], out["content_a"]) + F.l1_loss(out["content_ba"], out["content_b"]),
    }
    if "aba" in out:
        terms["cycle"] = F.l1_loss(out["aba"], real_a) + F.l1_loss(out["bab"], real_b)
    return terms


def generator_adversarial(adversarial: AdversarialLoss, scores: list[Tensor]) -> Tensor:
    """G's loss against one multi-scale critic: the sum over its scales."""
    return sum(adversarial.generator_loss(s) for s in scores)


def discriminator_adversarial(adversarial: AdversarialLoss, scores: list[Tensor], real: int) -> Tensor:
    """D's loss of one multi-scale critic on a batch whose first `real` images are real, the rest translated."""
    return sum(adversarial.discriminator_loss(s[:real], s[real:]) for s in scores)


@register_objective("munit")
class MUNITObjective(Objective):
    Options = MUNITOptions
    phases = (Phase("D", ("discriminator",)), Phase("G", ("translator",)))

    def __init__(self, networks, config) -> None:
        super().__init__(networks, config)
        self.adversarial = ADVERSARIAL_LOSSES.get(self.options.loss)()

    @property
    def style_dim(self) -> int:
        return unwrap(self.networks["translator"]).style_dim

    def random_styles(self, like: Tensor) -> Tensor:
        """Styles [B, style_dim] from the prior N(0, I), one per image of `like`, from the global (checkpointed) RNG."""
        return torch.randn(like.shape[0], self.style_dim, device=like.device)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        real_a, real_b = batch["A"], batch["B"]  # [B, C, H, W] in [-1, 1], unrelated to each other
        translator, discriminator = self.networks["translator"], self.networks["discriminator"]
        styles_a, styles_b = self.random_styles(real_a), self.random_styles(real_b)
        if phase == "D":
            with torch.no_grad():  # through the wrapped forward, so it runs in the run's precision
                fakes = translator(real_a, real_b, styles_a, styles_b, translations_only=True)
            fake_a, fake_b = fakes["ba"], fakes["ab"]
            # real and translated images of a domain in one batch: one critic call per phase
            scores_a, scores_b = discriminator(torch.cat([real_a, fake_a]), torch.cat([real_b, fake_b]))
            loss_a = discriminator_adversarial(self.adversarial, scores_a, real_a.shape[0])
            loss_b = discriminator_adversarial(self.adversarial, scores_b, real_b.shape[0])
            return loss_a + loss_b, {
                "loss_d": detached(loss_a + loss_b), "loss_d_a": detached(loss_a), "loss_d_b": detached(loss_b),
                "d_real": detached(0.5 * (scores_a[0][: real_a.shape[0]].mean() + scores_b[0][: real_b.shape[0]].mean())),
                "d_fake": detached(0.5 * (scores_a[0][real_a.shape[0]:].mean() + scores_b[0][real_b.shape[0]:].mean())),
            }
        options = self.options
        out = translator(real_a, real_b, styles_a, styles_b, cycle=options.cycle_weight > 0)
        scores_a, scores_b = discriminator(out["ba"], out["ab"])
        adversarial = generator_adversarial(self.adversarial, scores_a) + generator_adversarial(self.adversarial, scores_b)
        terms = reconstruction_terms(real_a, real_b, styles_a, styles_b, out)
        loss = (adversarial + options.image_weight * terms["image"] + options.style_weight * terms["style"]
                + options.content_weight * terms["content"])
        if "cycle" in terms:
            loss = loss + options.cycle_weight * terms["cycle"]
        return loss, {"loss_g": detached(adversarial), **{f"recon_{k}": detached(v) for k, v in terms.items()}}

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """The run's first batch's first images of each domain (at most PREVIEW_COLUMNS) and PREVIEW_STYLES styles
        from the run's seed: the same all run."""
        n = min(PREVIEW_COLUMNS, n, batch["A"].shape[0], batch["B"].shape[0])
        styles = torch.randn(PREVIEW_STYLES, self.style_dim, generator=torch.Generator().manual_seed(seed))
        return {"A": batch["A"][:n].clone(), "B": batch["B"][:n].clone(), "styles": styles}

    def preview(self, translator, inputs: dict[str, Tensor]) -> Tensor:
        """Rows: A, A -> B in each preview style, B, B -> A in each. Rows shorter than PREVIEW_COLUMNS (a batch
        smaller than that) are filled out with black, so the trainer's 10-wide grid keeps one kind per row."""
        translator = unwrap(translator)
        a, b, styles = inputs["A"], inputs["B"], inputs["styles"]
        rows = [a]
        rows += [translator.to_domain(a, DOMAIN_B, style.expand(a.shape[0], -1)) for style in styles]
        rows.append(b)
        rows += [translator.to_domain(b, DOMAIN_A, style.expand(b.shape[0], -1)) for style in styles]
        return preview_rows(*(_filled(row, PREVIEW_COLUMNS) for row in rows))


def _filled(row: Tensor, columns: int) -> Tensor:
    """row [n, C, H, W] in [-1, 1] padded with black images to [max(n, columns), C, H, W]."""
    missing = columns - row.shape[0]
    return torch.cat([row, row.new_full((missing, *row.shape[1:]), -1.0)]) if missing > 0 else row
