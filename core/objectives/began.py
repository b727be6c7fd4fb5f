"""BEGAN's step (Berthelot et al., 2017): autoencoder energies kept in equilibrium by k_t.

With L(v) = mean |v - D(v)| the critic's L1 reconstruction error:

    L_D = L(x) - k_t L(G(z))
    L_G = L(G(z))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)
    M = L(x) + |gamma L(x) - L(G(z))|          (the convergence measure, logged)

k_t is objective state: it lives in the checkpoint, so a resumed run
continues with the same balance, bit for bit. It is a tensor on the device
and updated there, so the step never waits for the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from core.objectives.base import Batch, LatentPreview, Logs, Objective, Phase, detached, register_objective, unwrap


@dataclass(frozen=True)
class BEGANOptions:
    gamma: float = 0.5  # diversity ratio E[L(G(z))] / E[L(x)] the controller aims for
    lambda_k: float = 0.001  # the controller's gain
    k_initial: float = 0.0

    def __post_init__(self) -> None:
        for name in ("gamma", "lambda_k", "k_initial"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
        if not 0 < self.gamma <= 1 or self.lambda_k < 0 or not 0 <= self.k_initial <= 1:
            raise ValueError(f"need 0 < gamma <= 1, lambda_k >= 0 and 0 <= k_initial <= 1; got {self}")


def reconstruction_error(critic: nn.Module, images: Tensor) -> Tensor:
    """L(v): the autoencoder critic's mean absolute reconstruction error of images [B, C, H, W]."""
    reconstructions, _ = critic(images)
    return (reconstructions - images).abs().mean()


@register_objective("began")
class BEGANObjective(LatentPreview, Objective):
    Options = BEGANOptions
    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",), reads_images=False))

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        device = next(unwrap(networks["generator"]).parameters()).device
        self.k = torch.tensor(float(self.options.k_initial), device=device)
        self._real_error: Tensor | None = None  # L(x) of this iteration's D phase, for the controller

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        critic, generator = self.networks["discriminator"], self.networks["generator"]
        real = batch["images"]
        z = torch.randn(real.shape[0], unwrap(generator).z_dim, device=real.device)
        if phase == "D":
            with torch.no_grad():
                fake = generator(z)
            real_error, fake_error = reconstruction_error(critic, real), reconstruction_error(critic, fake)
            self._real_error = real_error.detach()
            loss = real_error - self.k * fake_error
            return loss, {"loss_d": detached(loss), "energy_real": detached(real_error), "energy_fake_d": detached(fake_error)}
        fake_error = reconstruction_error(critic, generator(z))
        logs: Logs = {"loss_g": detached(fake_error), "k": detached(self.k)}
        if self._real_error is not None:
            balance = self.options.gamma * self._real_error - fake_error.detach()
            logs["convergence"] = detached(self._real_error + balance.abs())
            self.k = (self.k + self.options.lambda_k * balance).clamp(0, 1)
        return fake_error, logs

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k.detach().cpu()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.k = torch.as_tensor(state["k"], dtype=torch.float32).to(self.k.device)
