"""The denoising diffusion step (Ho et al., 2020): predict the noise that the training schedule added.

    t ~ U{0, ..., T - 1},  eps ~ N(0, I),  x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
    L = || eps - eps_theta(x_t, t, y) ||^2   (the mean over pixels: "L_simple")

One phase that trains the denoiser (the generator: the network that is averaged
and exported). The schedule is the model's own (`DDPMGenerator.noise_schedule`,
diffusers' DDPMScheduler), so training and sampling cannot disagree on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.objectives.base import Batch, LatentPreview, Logs, Objective, Phase, detached, register_objective, unwrap


@register_objective("diffusion")
class DiffusionObjective(LatentPreview, Objective):
    """Noise-prediction MSE on the model's schedule; sample grids are drawn with its default sampler steps."""

    phases = (Phase("G", ("generator",)),)

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        model = unwrap(networks["generator"])
        self.schedule = model.noise_schedule()
        self.conditional = bool(model.config.num_classes)

    def noised(self, images: Tensor, noise: Tensor, timesteps: Tensor) -> Tensor:
        """x_t for clean images x_0 [B, C, H, W] in [-1, 1], noise eps and timesteps t [B]."""
        return self.schedule.add_noise(images, noise, timesteps)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        images = batch["images"]
        noise = torch.randn_like(images)
        timesteps = torch.randint(0, self.schedule.config.num_train_timesteps, (len(images),), device=images.device)
        labels = batch["labels"] if self.conditional else None
        predicted = self.networks["generator"](self.noised(images, noise, timesteps), labels, timesteps=timesteps)
        loss = F.mse_loss(predicted.float(), noise)
        return loss, {"loss_mse": detached(loss)}
