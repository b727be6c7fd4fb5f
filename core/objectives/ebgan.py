"""EBGAN's step (Zhao et al., 2017): an autoencoder energy with a margin, and the pull-away term.

With E(v) = mean ||v - D(v)||^2 the critic's squared reconstruction error and
S the critic's codes of a generated batch:

    L_D = E(x) + max(0, m - E(G(z)))
    L_G = E(G(z)) + w_pt * PT(S),   PT(S) = mean over pairs i != j of cos(S_i, S_j)^2

The pull-away term pushes a batch's codes towards orthogonality, so the
generator cannot collapse onto a few images the critic reconstructs well.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.objectives.base import Batch, LatentPreview, Logs, Objective, Phase, detached, register_objective, unwrap


@dataclass(frozen=True)
class EBGANOptions:
    margin: float = 1.0  # m, in units of the mean squared error of [-1, 1] pixels
    pullaway_weight: float = 0.1  # w_pt

    def __post_init__(self) -> None:
        for name in ("margin", "pullaway_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def pullaway(codes: Tensor) -> Tensor:
    """PT(S) for codes [B, D]: the mean squared cosine similarity over the B(B - 1) ordered pairs i != j."""
    n = codes.shape[0]
    if n < 2:
        return codes.new_zeros(())
    unit = F.normalize(codes.flatten(1), dim=1)
    cosines = unit @ unit.T
    return ((cosines**2).sum() - n) / (n * (n - 1))


def energy(reconstructions: Tensor, images: Tensor) -> Tensor:
    return ((reconstructions - images) ** 2).mean()


@register_objective("ebgan")
class EBGANObjective(LatentPreview, Objective):
    Options = EBGANOptions
    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",), reads_images=False))

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        critic, generator = self.networks["discriminator"], self.networks["generator"]
        real = batch["images"]
        z = torch.randn(real.shape[0], unwrap(generator).z_dim, device=real.device)
        if phase == "D":
            with torch.no_grad():
                fake = generator(z)
            real_energy = energy(critic(real)[0], real)
            fake_energy = energy(critic(fake)[0], fake)
            loss = real_energy + F.relu(self.options.margin - fake_energy)
            return loss, {"loss_d": detached(loss), "energy_real": detached(real_energy), "energy_fake_d": detached(fake_energy)}
        fake = generator(z)
        reconstructions, codes = critic(fake)
        fake_energy, spread = energy(reconstructions, fake), pullaway(codes)
        loss = fake_energy + self.options.pullaway_weight * spread
        return loss, {"loss_g": detached(loss), "pullaway": detached(spread)}
