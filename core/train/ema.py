"""Exponential moving average of the generator's weights, and batch-norm statistics measured for it."""

from __future__ import annotations

import copy
from collections.abc import Callable

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


def has_batch_norm(network: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())


@torch.no_grad()
def recalibrated(network: nn.Module, run: Callable[[nn.Module, int], object], batches: int) -> nn.Module:
    """A copy of `network` whose batch-norm statistics are measured anew: `run(copy, i)` for i < `batches`
    forward passes in train mode, averaged with equal weights (momentum None), then eval mode.

    The averaged (EMA) weights are not the weights whose batches the running statistics were taken
    from: an EMA generator normalised with the live generator's statistics draws worse images than it
    could (BigGAN's "standing statistics" fix the same mismatch). The network itself is left alone.
    """
    copied = copy.deepcopy(network)
    norms = [m for m in copied.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    copied.train()
    for i in range(batches):
        run(copied, i)
    for norm in norms:
        norm.momentum = 0.1  # PyTorch's default, for anyone who trains the copy further
    return copied.eval().requires_grad_(False)
