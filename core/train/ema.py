"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `shadow`, an averaged copy of a network; buffers (BatchNorm statistics) are copied."""

    def __init__(self, network: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = copy.deepcopy(network).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, network: nn.Module, step: int) -> None:
        # Warm-up: early on, the average would be dominated by the random init.
        decay = min(self.decay, (1 + step) / (10 + step))
        for avg, current in zip(self.shadow.parameters(), network.parameters()):
            avg.lerp_(current.detach().to(avg.dtype), 1 - decay)
        for avg, current in zip(self.shadow.buffers(), network.buffers()):
            avg.copy_(current)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state, strict=True)
