"""Robust accuracy as a function of the attack radius.

    curve = accuracy_curve(model, images, labels, PGD(early_stop=True), [0, 0.05, 0.1, 0.2])
    [(p.epsilon, p.accuracy) for p in curve]
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from core.errors import UserError
from core.robustness.attacks import Attack, check_epsilon, foreground_mask


@dataclass
class CurvePoint:
    """Robust accuracy at one radius: `correct` of `n_images` survive every attack up to `epsilon`."""

    epsilon: float
    accuracy: float
    correct: int
    n_images: int


def accuracy_curve(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    attack: Attack,
    epsilons: Sequence[float],
    *,
    mask_threshold: float | None = None,
    batch_size: int = 512,
    seed: int = 0,
    progress: bool = False,
    device: torch.device | str | None = None,
    clean: Tensor | None = None,
) -> list[CurvePoint]:
    """Robust accuracy of `model` under `attack` at each distinct epsilon, in ascending order.

    `images` are `[N, C, H, W]`, uint8 in [0, 255] or float in [0, 1]; `labels` `[N]`.

    Convention: an image counts as correct at epsilon only if the model classifies it
    correctly on the clean image and on the attacked image at every epsilon' <= epsilon
    of the grid. The L-inf ball of a smaller radius lies inside the larger one, so an
    earlier success is also a valid attack at epsilon. Hence the curve never rises, and
    each radius only attacks the survivors of the previous one (epsilon 0 is the clean
    accuracy). A PGD with `early_stop=True` adds a further speed-up inside each attack.

    `mask_threshold`: when given, only pixels of `foreground_mask(images, mask_threshold)`
    are perturbed. `seed` drives every random draw (random starts, noise) through one
    `torch.Generator`, so a run is reproducible for the same seed and batch size.
    The model is evaluated in eval mode; each module's previous mode is restored at the
    end. Batches go to `device`, by default the device of the model's parameters.
    `clean`: the bool `[N]` of `clean_correct(model, images, labels)`, when several curves
    of one model share it (the benchmark); computed here otherwise.
    """
    grid = sorted({check_epsilon(epsilon) for epsilon in epsilons})
    if not grid:
        raise UserError("accuracy_curve needs at least one epsilon")
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    images, labels = _check_data(images, labels)
    device = torch.device(device) if device is not None else _model_device(model)
    generator = torch.Generator().manual_seed(seed)
    n_images = images.shape[0]

    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        if clean is None:
            clean = clean_correct(model, images, labels, batch_size=batch_size, device=device)
        if clean.shape != labels.shape or clean.dtype != torch.bool:
            raise UserError(f"clean must be a bool tensor of shape {tuple(labels.shape)}")
        survivors = clean.cpu().clone()  # bool [N]
        points = []
        bar = tqdm(grid, desc=f"{type(attack).__name__} robust accuracy", unit="eps", disable=not progress)
        for epsilon in bar:
            if epsilon > 0:
                _attack_survivors(
                    model, images, labels, attack, epsilon, survivors, mask_threshold, batch_size, generator, device
                )
            correct = int(survivors.sum())
            points.append(CurvePoint(epsilon, correct / n_images, correct, n_images))
            bar.set_postfix(eps=f"{epsilon:g}", acc=f"{correct / n_images:.3f}")
        return points
    finally:
        for module, training in modes:
            module.training = training


def _check_data(images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    images = torch.as_tensor(images)
    labels = torch.as_tensor(labels)
    if images.dim() != 4:
        raise UserError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise UserError("accuracy_curve needs at least one image")
    if labels.shape != images.shape[:1]:
        raise UserError(f"labels must be [N] = {tuple(images.shape[:1])}, got shape {tuple(labels.shape)}")
    if images.is_floating_point():
        if bool(images.min() < 0) or bool(images.max() > 1):
            raise UserError("float images must lie in [0, 1] (normalisation belongs inside the model)")
    elif images.dtype != torch.uint8:
        raise UserError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    return images, labels.long()


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _to_pixels(batch: Tensor, device: torch.device) -> Tensor:
    """A batch as float in [0, 1] on `device` (uint8 is converted after the transfer, which is 4x smaller)."""
    batch = batch.to(device, non_blocking=True)
    return batch if batch.is_floating_point() else batch.float().div_(255)


def clean_correct(
    model: nn.Module, images: Tensor, labels: Tensor, *, batch_size: int = 512, device: torch.device | str | None = None
) -> Tensor:
    """Bool `[N]` on the CPU: which images the model classifies correctly without any attack (model in eval mode)."""
    images, labels = _check_data(images, labels)
    device = torch.device(device) if device is not None else _model_device(model)
    correct = torch.zeros(images.shape[0], dtype=torch.bool)
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            batch = slice(start, start + batch_size)
            predictions = model(_to_pixels(images[batch], device)).argmax(dim=1)
            correct[batch] = (predictions == labels[batch].to(device)).cpu()
    return correct


def _attack_survivors(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    attack: Attack,
    epsilon: float,
    survivors: Tensor,
    mask_threshold: float | None,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
) -> None:
    """Attack the images still correct at the previous radius; clear `survivors` where the attack succeeds."""
    alive = survivors.nonzero().squeeze(1)
    # Gradient-free attacks run entirely in inference mode; the others need autograd for their steps.
    grad_context = nullcontext if attack.needs_gradients else torch.inference_mode
    for start in range(0, alive.numel(), batch_size):
        indices = alive[start : start + batch_size]
        pixels = _to_pixels(images[indices], device)  # [B, C, H, W] in [0, 1]
        targets = labels[indices].to(device)
        mask = foreground_mask(pixels, mask_threshold) if mask_threshold is not None else None
        with grad_context():
            adversarial = attack.perturb(model, pixels, targets, epsilon, mask=mask, generator=generator)
        with torch.inference_mode():
            fooled = (model(adversarial).argmax(dim=1) != targets).cpu()
        survivors[indices[fooled]] = False
