"""L-infinity evasion attacks on image classifiers.

A classifier here is any `nn.Module` mapping images `[B, C, H, W]` in [0, 1]
to logits `[B, K]` (normalisation lives inside the model), so every attack
works in pixel space:

    adv = ATTACKS.get("pgd")(steps=10).perturb(model, images, labels, epsilon=0.1)
    # |adv - images| <= 0.1 everywhere, adv in [0, 1]

An optional `mask` (bool or 0/1 float, broadcastable to the images, e.g.
`foreground_mask(images)` `[B, 1, H, W]`) limits the attack to some pixels;
outside it `adv == images` exactly. Random draws (random starts, noise) come
from `generator` when one is given, drawn on the generator's device (CPU for
`torch.Generator()`) and then moved, so a seed gives the same attack on CPU
and CUDA.

Attacks never touch the model: gradients are taken with `torch.autograd.grad`
with respect to the inputs only (parameters' `.grad` stay as they were), and
the train/eval mode is the caller's choice (adversarial training attacks in
train mode, evaluation in eval mode). They also work when called under
`torch.no_grad()` or `torch.inference_mode()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.errors import UserError
from core.registry import Registry

Rows = slice | Tensor  # which images of the batch an iterate holds: all of them, or indices [R]


def check_epsilon(epsilon: float) -> float:
    """`epsilon` as a float in [0, 1], or a `UserError` saying why not."""
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise UserError(f"epsilon must be a number in [0, 1], got {epsilon!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise UserError(f"epsilon must be in [0, 1] (an L-inf radius in pixel units), got {epsilon!r}")
    return value


def foreground_mask(images: Tensor, threshold: float = 0.1) -> Tensor:
    """Bool `[B, 1, H, W]`: pixels brighter than `threshold` (mean over channels).

    On Fashion-MNIST (garment on a black background) these are the garment's own
    pixels, so a masked attack perturbs the garment and leaves the background alone.
    Accepts float images in [0, 1] or uint8 images in [0, 255].
    """
    if images.dim() != 4:
        raise UserError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
    brightness = images.float().mean(dim=1, keepdim=True)  # [B, 1, H, W]
    if not images.is_floating_point():
        brightness = brightness / 255
    return brightness > threshold


class Attack:
    """An L-inf attack: `perturb` returns adversarial images within `epsilon` of the inputs."""

    needs_gradients: ClassVar[bool] = True

    def perturb(
        self,
        model: nn.Module,
        images: Tensor,
        labels: Tensor,
        epsilon: float,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Adversarial images: same shape, dtype and device as `images` `[B, C, H, W]` in [0, 1].

        `labels` `[B]` are the true classes (the attack raises their loss). Guarantees
        `|adv - images| <= epsilon`, `adv` in [0, 1], and `adv == images` bitwise where
        `mask` is 0/False and everywhere when `epsilon == 0`.
        """
        epsilon = check_epsilon(epsilon)
        if not images.is_floating_point():
            raise UserError(f"attacks take float images in [0, 1], got {images.dtype}")
        if epsilon == 0:
            return images.clone()
        labels = torch.as_tensor(labels).to(device=images.device, dtype=torch.long)
        if labels.shape != images.shape[:1]:
            raise UserError(f"labels must be [B] = {tuple(images.shape[:1])}, got shape {tuple(labels.shape)}")
        mask = _full_mask(mask, images)
        if not self.needs_gradients:
            adv = self._perturb(model, images, labels, epsilon, mask, generator)
        else:
            # inference_mode(False) + clone: inference tensors cannot enter autograd.
            with torch.inference_mode(False), torch.enable_grad():
                inputs = images.clone() if images.is_inference() else images
                targets = labels.clone() if labels.is_inference() else labels
                adv = self._perturb(model, inputs.detach(), targets, epsilon, mask, generator)
        adv = adv.detach()
        if mask is not None:
            adv = torch.where(mask, adv, images)
        return adv

    def _perturb(
        self,
        model: nn.Module,
        images: Tensor,
        labels: Tensor,
        epsilon: float,
        mask: Tensor | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        """The attack proper; `mask` is None or bool with the images' shape, `epsilon` in (0, 1]."""
        raise NotImplementedError


ATTACKS: Registry[type[Attack]] = Registry("attack", Attack)


@ATTACKS.register("fgsm")
@dataclass(frozen=True)
class FGSM(Attack):
    """Fast gradient sign method (Goodfellow et al. 2015): one step of `epsilon * sign(grad)`.

    With `random_start=True` it is the "fast" FGSM of Wong et al. (2020), for fast
    adversarial training: a uniform start in the epsilon ball, one signed step of
    `step_size` (default `1.25 * epsilon`), then projection back to the ball and [0, 1].
    """

    random_start: bool = False
    step_size: float | None = None

    def __post_init__(self) -> None:
        _check_step_size(self.step_size)

    def _perturb(self, model, images, labels, epsilon, mask, generator):
        if not self.random_start and self.step_size is None:
            # The classic form, kept literally so it matches reference implementations bitwise.
            grad = _loss_gradient(model, images, labels)
            return (images + _masked(epsilon * grad.sign(), mask)).clamp(0, 1)
        step_size = self.step_size if self.step_size is not None else 1.25 * epsilon
        start = _random_start(images, epsilon, mask, generator) if self.random_start else images
        grad = _loss_gradient(model, start, labels)
        return _signed_step(start, grad, images, step_size, epsilon, mask)


@ATTACKS.register("pgd")
@dataclass(frozen=True)
class PGD(Attack):
    """Projected gradient descent on the loss, L-inf (Madry et al. 2018).

    Each of `steps` iterations: a signed gradient step of `step_size` (default
    `2.5 * epsilon / steps`), projection of the perturbation onto [-epsilon, epsilon],
    clipping to [0, 1] (the same update, in the same order, as torchattacks' PGD).
    With `early_stop=True` an image is frozen at the first iterate the model
    misclassifies and drops out of later forward/backward passes, which makes
    evaluating weak models much cheaper.
    """

    steps: int = 10
    step_size: float | None = None
    random_start: bool = True
    early_stop: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise UserError(f"PGD needs steps >= 1, got {self.steps!r}")
        _check_step_size(self.step_size)

    def _perturb(self, model, images, labels, epsilon, mask, generator):
        step_size = self.step_size if self.step_size is not None else 2.5 * epsilon / self.steps
        adv = _random_start(images, epsilon, mask, generator) if self.random_start else images.clone()
        rows: Rows = slice(None)  # the images still being attacked
        for _ in range(self.steps):
            current = adv[rows].detach().requires_grad_(True)
            targets = labels[rows]
            logits = model(current)
            keep = None
            if self.early_stop:
                correct = logits.argmax(dim=1) == targets
                if not bool(correct.all()):
                    keep = correct.nonzero().squeeze(1)
                    rows = _select(rows, keep, images.shape[0], images.device)
                    if keep.numel() == 0:
                        break
                    logits, targets = logits[keep], targets[keep]
            loss = F.cross_entropy(logits, targets, reduction="sum")
            (grad,) = torch.autograd.grad(loss, current)
            current = current.detach()
            if keep is not None:
                current, grad = current[keep], grad[keep]
            row_mask = None if mask is None else mask[rows]
            adv[rows] = _signed_step(current, grad, images[rows], step_size, epsilon, row_mask)
        return adv


@ATTACKS.register("noise")
@dataclass(frozen=True)
class RandomNoise(Attack):
    """Baseline of the same norm: every pixel moves by +epsilon or -epsilon at random, then [0, 1] clipping."""

    needs_gradients: ClassVar[bool] = False

    def _perturb(self, model, images, labels, epsilon, mask, generator):
        draw_device = generator.device if generator is not None else images.device
        signs = torch.randint(0, 2, images.shape, generator=generator, device=draw_device, dtype=torch.int8)
        noise = (signs.to(device=images.device, dtype=images.dtype) * 2 - 1) * epsilon
        return (images + _masked(noise, mask)).clamp(0, 1)


# --------------------------------------------------------------------------- helpers


def _check_step_size(step_size: float | None) -> None:
    if step_size is not None and not (math.isfinite(step_size) and step_size > 0):
        raise UserError(f"step_size must be a positive number, got {step_size!r}")


def _full_mask(mask: Tensor | None, images: Tensor) -> Tensor | None:
    """The mask as bool with exactly the images' shape (so it can be indexed by row), or None."""
    if mask is None:
        return None
    mask = torch.as_tensor(mask, device=images.device)
    try:
        return torch.broadcast_to(mask != 0, images.shape)
    except RuntimeError:
        raise UserError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to images of shape {tuple(images.shape)}"
        ) from None


def _masked(perturbation: Tensor, mask: Tensor | None) -> Tensor:
    return perturbation if mask is None else perturbation * mask


def _loss_gradient(model: nn.Module, inputs: Tensor, labels: Tensor) -> Tensor:
    """d(summed cross-entropy)/d(inputs); parameters' .grad untouched. Summed, so per-image gradients
    do not shrink with the batch size (only their sign is used anyway)."""
    inputs = inputs.detach().requires_grad_(True)
    loss = F.cross_entropy(model(inputs), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, inputs)
    return grad


def _random_start(images: Tensor, epsilon: float, mask: Tensor | None, generator: torch.Generator | None) -> Tensor:
    """Uniform point of the epsilon ball around `images`, clipped to [0, 1]."""
    draw_device = generator.device if generator is not None else images.device
    noise = torch.empty(images.shape, device=draw_device).uniform_(-epsilon, epsilon, generator=generator)
    noise = noise.to(device=images.device, dtype=images.dtype)
    return (images + _masked(noise, mask)).clamp(0, 1)


def _signed_step(
    current: Tensor, grad: Tensor, images: Tensor, step_size: float, epsilon: float, mask: Tensor | None
) -> Tensor:
    """One ascent step of `step_size * sign(grad)`, then projection onto the epsilon ball and [0, 1]."""
    stepped = current + _masked(step_size * grad.sign(), mask)
    delta = torch.clamp(stepped - images, min=-epsilon, max=epsilon)
    return torch.clamp(images + delta, min=0, max=1)


def _select(rows: Rows, keep: Tensor, batch: int, device: torch.device) -> Tensor:
    """Batch indices of the kept entries of `rows`."""
    indices = torch.arange(batch, device=device) if isinstance(rows, slice) else rows
    return indices[keep]
