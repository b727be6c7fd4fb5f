"""CycleGAN (Zhu et al. 2017): two adversarial translations kept honest by cycle consistency, on unpaired A and B.

With G = ab (A -> B), F = ba (B -> A), D_A and D_B one PatchGAN per domain:

    L_G = loss.generator(D_B(G(a))) + loss.generator(D_A(F(b)))
          + cycle_weight * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
          + cycle_weight * identity_weight * (|G(b) - b|_1 + |F(a) - a|_1)
    L_D = 1/2 loss.discriminator(D_A(a), D_A(pool_A(F(b)))) + 1/2 loss.discriminator(D_B(b), D_B(pool_B(G(a))))

The adversarial loss comes from the registry (CycleGAN: `least-squares`). The
identity term is weighted relative to the cycle term, as the authors' code
does (`lambda_identity` 0.5 of `lambda_A`). D is trained on a history of
translations, not only the newest (Shrivastava et al. 2017): an `ImagePool` of
`pool_size` per domain, which is part of the objective's checkpointed state.

G runs first, then D on the translations G's phase just made (detached, taken
from before G's update, as the authors' code does), so a step translates each
batch once for both phases. A D phase with nothing left from a G phase (a
repeated D phase) translates its own batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from core.losses import ADVERSARIAL_LOSSES
from core.models.cyclegan import DOMAIN_A, DOMAIN_B
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
)

Translate = Callable[[Tensor], Tensor]  # images [B, C, H, W] -> the other domain's [B, C, H, W], in [-1, 1]
MAX_POOL_SIZE = 1000


class ImagePool:
    """A history of up to `size` generated images (Shrivastava et al. 2017), so D does not forget old mistakes.

    `query(images)` returns a batch of the same shape: while the pool is not full each new image is stored and
    returned; once full, each new image with probability 1/2 takes the place of a random stored one, which is
    returned instead, else the new image itself is returned. Draws come from the global torch RNG (on the CPU,
    whatever the images' device), which the trainer checkpoints; `state_dict` holds the stored images, so a
    resumed run draws the same. `size` 0 passes every batch through.
    """

    def __init__(self, size: int):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"an image pool's size must be a whole number >= 0, got {size!r}")
        self.size = size
        self.images = torch.empty(0)  # [n <= size, C, H, W], detached

    def __len__(self) -> int:
        return self.images.shape[0]

    def query(self, images: Tensor) -> Tensor:
        """images [B, C, H, W] -> [B, C, H, W]: a mix of these and stored ones, detached, on the images' device."""
        images = images.detach()
        if self.size == 0:
            return images
        stored = self.images.to(images) if len(self) else images.new_empty((0, *images.shape[1:]))
        out = []
        for image in images:
            if stored.shape[0] < self.size:
                stored = torch.cat([stored, image[None]])
                out.append(image)
            elif bool(torch.rand(()) < 0.5):
                slot = int(torch.randint(self.size, ()))
                out.append(stored[slot].clone())
                stored[slot] = image
            else:
                out.append(image)
        self.images = stored
        return torch.stack(out)

    def state_dict(self) -> dict[str, Tensor]:
        return {"images": self.images.clone()}  # a copy: later queries write into the pool in place

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        images = state["images"]
        if images.numel() and (images.dim() != 4 or images.shape[0] > self.size):
            raise ValueError(f"an image pool of size {self.size} cannot hold images of shape {tuple(images.shape)}")
        self.images = images.detach().clone() if images.numel() else torch.empty(0)


def cycle_loss(to_b: Translate, to_a: Translate, real_a: Tensor, real_b: Tensor,
               fake_b: Tensor | None = None, fake_a: Tensor | None = None) -> Tensor:
    """|F(G(a)) - a|_1 + |G(F(b)) - b|_1, each the mean over pixels; `fake_b` = G(a), `fake_a` = F(b) when computed."""
    fake_b = to_b(real_a) if fake_b is None else fake_b
    fake_a = to_a(real_b) if fake_a is None else fake_a
    return F.l1_loss(to_a(fake_b), real_a) + F.l1_loss(to_b(fake_a), real_b)


def identity_loss(to_b: Translate, to_a: Translate, real_a: Tensor, real_b: Tensor) -> Tensor:
    """|G(b) - b|_1 + |F(a) - a|_1: a translator given its own output domain should leave it alone (keeps colours)."""
    return F.l1_loss(to_b(real_b), real_b) + F.l1_loss(to_a(real_a), real_a)



@dataclass(frozen=True)
class CycleGANOptions:
    loss: str = "least-squares"  # a name in core.losses.ADVERSARIAL_LOSSES
    cycle_weight: float = 10.0  # lambda_A = lambda_B
    identity_weight: float = 0.5  # times cycle_weight; 0 leaves the identity term (and its translations) out
    pool_size: int = 50  # translations remembered per domain for D; 0: D sees only the newest

    def __post_init__(self) -> None:
        ADVERSARIAL_LOSSES.get(self.loss)
        check_weight(self.cycle_weight, "cycle_weight")
        check_weight(self.identity_weight, "identity_weight")
        if isinstance(self.pool_size, bool) or not isinstance(self.pool_size, int) or not 0 <= self.pool_size <= MAX_POOL_SIZE:
            raise ValueError(f"pool_size must be a whole number from 0 to {MAX_POOL_SIZE}, got {self.pool_size!r}")


@register_objective("cyclegan")
class CycleGANObjective(Objective):
    Options = CycleGANOptions
    phases = (Phase("G", ("translator",)), Phase("D", ("discriminator",)))

    def __init__(self, networks, config) -> None:
        super().__init__(networks, config)
        self.adversarial = ADVERSARIAL_LOSSES.get(self.options.loss)()
        self.pools = {"A": ImagePool(self.options.pool_size), "B": ImagePool(self.options.pool_size)}
        # The G phase's translations (fake A, fake B), detached, for the D phase of the same step.
        self.pending: tuple[Tensor, Tensor] | None = None

    # Through the (possibly wrapped) bundle's forward, one direction per batch.
    def to_b(self, images: Tensor) -> Tensor:
        return self.networks["translator"](images, DOMAIN_B)

    def to_a(self, images: Tensor) -> Tensor:
        return self.networks["translator"](images, DOMAIN_A)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        real_a, real_b = batch["A"], batch["B"]  # [B, C, H, W] in [-1, 1], unrelated to each other
        discriminator = self.networks["discriminator"]
        if phase == "G":
            fake_b, fake_a = self.to_b(real_a), self.to_a(real_b)
            adversarial_b = self.adversarial.generator_loss(discriminator(fake_b, DOMAIN_B))
            adversarial_a = self.adversarial.generator_loss(discriminator(fake_a, DOMAIN_A))
            cycle = cycle_loss(self.to_b, self.to_a, real_a, real_b, fake_b, fake_a)
            identity_weight = self.options.cycle_weight * self.options.identity_weight
            identity = identity_loss(self.to_b, self.to_a, real_a, real_b) if identity_weight else real_a.new_zeros(())
            loss = adversarial_a + adversarial_b + self.options.cycle_weight * cycle + identity_weight * identity
            self.pending = (fake_a.detach(), fake_b.detach())
            return loss, {"loss_g": detached(adversarial_a + adversarial_b), "cycle": detached(cycle),
                          "identity": detached(identity)}
        if self.pending is None:
            with torch.no_grad():
                self.pending = (self.to_a(real_b), self.to_b(real_a))
        fake_a, fake_b = (fake.to(real_a.device) for fake in self.pending)  # (a resumed state is on the CPU)
        self.pending = None
        fake_a, fake_b = self.pools["A"].query(fake_a), self.pools["B"].query(fake_b)
        real_score_a, fake_score_a = discriminator(real_a, DOMAIN_A), discriminator(fake_a, DOMAIN_A)
        real_score_b, fake_score_b = discriminator(real_b, DOMAIN_B), discriminator(fake_b, DOMAIN_B)
        loss_a = 0.5 * self.adversarial.discriminator_loss(real_score_a, fake_score_a)
        loss_b = 0.5 * self.adversarial.discriminator_loss(real_score_b, fake_score_b)
        return loss_a + loss_b, {
            "loss_d": detached(loss_a + loss_b), "loss_d_a": detached(loss_a), "loss_d_b": detached(loss_b),
            "d_real": detached(0.5 * (real_score_a.mean() + real_score_b.mean())),
            "d_fake": detached(0.5 * (fake_score_a.mean() + fake_score_b.mean())),
        }

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {f"pool_{name}": pool.state_dict() for name, pool in self.pools.items()}
        # Empty after every whole step (the trainer checkpoints between steps); kept for a save between phases.
        state["pending"] = [] if self.pending is None else [t.clone() for t in self.pending]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        expected = {f"pool_{name}" for name in self.pools} | {"pending"}
        if set(state) != expected:
            raise ValueError(f"a cyclegan objective's state has {sorted(expected)}, the checkpoint has {sorted(state)}")
        for name, pool in self.pools.items():
            pool.load_state_dict(state[f"pool_{name}"])
        pending = list(state["pending"])
        self.pending = (pending[0].clone(), pending[1].clone()) if pending else None

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """The run's first batch's first images of each domain (at most PREVIEW_COLUMNS), the same all run."""
        n = min(PREVIEW_COLUMNS, n, batch["A"].shape[0], batch["B"].shape[0])
        return {"A": batch["A"][:n].clone(), "B": batch["B"][:n].clone()}

    def preview(self, translator, inputs: dict[str, Tensor]) -> Tensor:
        """Rows: A, A -> B, B, B -> A."""
        a, b = inputs["A"], inputs["B"]
        return preview_rows(a, translator(a, DOMAIN_B), b, translator(b, DOMAIN_A))
