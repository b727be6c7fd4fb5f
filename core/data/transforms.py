"""What a paired data mode makes of a photo: its grayscale, its Canny edges, its silhouette mask.

Each transform maps float images [B, 3, H, W] in [-1, 1] to one-channel images
[B, 1, H, W] in [-1, 1], batched in torch, deterministic, with no dependency
beyond torch: training (core.data.modes), the translator pipeline (an uploaded
photo becomes the model's input) and the Spaces (which preview that input) call
the same function, so a model always sees at inference what it saw in training.

    grayscale  ITU-R 601 luma, the photo without its colour (colorization's input)
    edges      Canny (1986): Gaussian blur, Sobel gradients, non-maximum suppression, hysteresis
               between two thresholds relative to the image's strongest gradient; white lines on black
    mask       the fashion image-to-image thesis's silhouette: grayscale, Gaussian blur, a binary
               threshold (Otsu's, per image); the garment white, the background black
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from core.registry import Registry

Transform = Callable[[Tensor], Tensor]  # [B, 3, H, W] in [-1, 1] -> [B, 1, H, W] in [-1, 1]

PAIRED_SOURCES: Registry[Callable] = Registry("paired source", Callable)  # name -> transform

LUMA = (0.299, 0.587, 0.114)


def _gray01(images: Tensor) -> Tensor:
    """[B, C, H, W] in [-1, 1] -> [B, 1, H, W] luma in [0, 1] (one channel passes through)."""
    x = (images.float() + 1) / 2
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


@PAIRED_SOURCES.register("grayscale")
def grayscale(images: Tensor) -> Tensor:
    """The photo without its colour: ITU-R 601 luma."""
    return _gray01(images) * 2 - 1


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """[B, 1, H, W] blurred by a separable Gaussian (edges replicated)."""
    radius = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))


SOBEL = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def canny(gray: Tensor, sigma: float = 1.0, low: float = 0.1, high: float = 0.25) -> Tensor:
    """Canny edges of [B, 1, H, W] grayscale in [0, 1] -> bool [B, 1, H, W].

    `low` and `high` are fractions of each image's strongest gradient after
    non-maximum suppression, so a dim photo and a bright one get comparable edges.
    """
    x = gaussian_blur(gray.float(), sigma)
    sobel = torch.tensor(SOBEL, device=x.device, dtype=x.dtype)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, sobel.view(1, 1, 3, 3))
    gy = F.conv2d(padded, sobel.t().reshape(1, 1, 3, 3))
    magnitude = torch.hypot(gx, gy)
    # the gradient direction quantised to 0, 45, 90, 135 degrees; compare with the two neighbours along it
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    sector = ((angle + 22.5) // 45).long() % 4
    m = F.pad(magnitude, (1, 1, 1, 1))
    h, w = magnitude.shape[-2:]

    def shifted(dy: int, dx: int) -> Tensor:
        return m[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    # sector 0: horizontal gradient -> left/right neighbours; 1: 45 deg; 2: vertical; 3: 135 deg (y grows downwards)
    neighbours = [(shifted(0, -1), shifted(0, 1)), (shifted(1, 1), shifted(-1, -1)),
                  (shifted(-1, 0), shifted(1, 0)), (shifted(1, -1), shifted(-1, 1))]
    keep = torch.zeros_like(magnitude, dtype=torch.bool)
    for index, (a, b) in enumerate(neighbours):
        keep |= (sector == index) & (magnitude >= a) & (magnitude >= b)
    thin = magnitude * keep
    peak = thin.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    strong, weak = thin >= high * peak, thin >= low * peak
    # hysteresis: weak pixels join when connected (8-neighbourhood) to a strong one, grown until nothing changes
    edges = strong
    for _ in range(h * w):
        grown = (F.max_pool2d(edges.float(), 3, stride=1, padding=1) > 0) & weak
        if torch.equal(grown, edges):
            break
        edges = grown
    return edges & (thin > 0)


@PAIRED_SOURCES.register("edges")
def edges(images: Tensor) -> Tensor:
    """Canny edges of the photo, white on black."""
    return canny(_gray01(images)).float() * 2 - 1


def otsu_threshold(gray: Tensor, bins: int = 256) -> Tensor:
    """Otsu's threshold [B, 1, 1, 1] of each image of [B, 1, H, W] in [0, 1]: the level that best splits its
    histogram into two classes (maximum between-class variance)."""
    b = gray.shape[0]
    levels = (gray.reshape(b, -1).clamp(0, 1) * (bins - 1)).round().long()
    histogram = torch.zeros(b, bins, device=gray.device).scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float))
    p = histogram / histogram.sum(1, keepdim=True)
    centres = torch.arange(bins, device=gray.device, dtype=torch.float) / (bins - 1)
    weight = p.cumsum(1)  # share of pixels at or below each level
    mean_below = (p * centres).cumsum(1)
    total = mean_below[:, -1:]
    between = (total * weight - mean_below) ** 2 / (weight * (1 - weight)).clamp_min(1e-12)
    return centres[between.argmax(1)].view(b, 1, 1, 1)


def silhouette(gray: Tensor, sigma: float = 1.0) -> Tensor:
    """The garment's silhouette, bool [B, 1, H, W], from grayscale [B, 1, H, W] in [0, 1]: blurred, split at
    Otsu's threshold, the side that covers less of the image border taken as the garment."""
    blurred = gaussian_blur(gray.float(), sigma)
    above = blurred > otsu_threshold(blurred)
    border = torch.cat([above[..., 0, :], above[..., -1, :], above[..., :, 0], above[..., :, -1]], dim=-1)
    background_is_bright = border.float().mean(dim=-1, keepdim=True).unsqueeze(-1) > 0.5  # [B, 1, 1, 1]
    return torch.where(background_is_bright, ~above, above)


@PAIRED_SOURCES.register("mask")
def mask(images: Tensor) -> Tensor:
    """The silhouette mask of the photo: the garment white, the background black."""
    return silhouette(_gray01(images)).float() * 2 - 1


def source_of(name: str, images: Tensor) -> Tensor:
    """The paired mode's input `name` for photos [B, 3, H, W] in [-1, 1]; an unknown name is a UserError."""
    return PAIRED_SOURCES.get(name)(images)
