"""COCO-GAN: generation by parts, conditioned on coordinates (Lin et al., ICCV 2019).

The generator never draws a whole image. Given a latent z and the coordinate
c of a *micro patch* on the image's grid, it draws that patch; the merging
function Φ tiles micro patches of the same z into a *macro patch* during
training and into the full image at inference. The discriminator only ever
sees macro patches, with their coordinate; its auxiliary head regresses that
coordinate (the spatial-consistency loss), and the latent head Q (here in the
exported network, so patch-guided generation works after export) recovers z
from a macro patch.

Geometry (one side; images are square): the full image is n x n micro patches
of `micro_size` px (n = image_size / micro_size); a macro patch is k x k of
them (k = macro_size / micro_size) at any micro-grid offset, so neighbouring
macro patches overlap. Micro coordinates are evenly spaced in [-1, 1]
(spacing s = 2 / (n - 1)); a macro patch's coordinate is the mean of its
micro patches'. Coordinates beyond [-1, 1], continuing the same spacing, give
beyond-boundary images larger than the training size.

    G  (z [B, z_dim], c [B, 2]) -> micro patch [B, C, m, m] in [-1, 1]
    D  (macro patch [B, C, M, M], c' [B, 2]) -> score [B], coordinate [B, 2]
    Q  (macro patch) -> z [B, z_dim]

Coordinates are (x, y) = (column, row), each in [-1, 1] on the training grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from core.models.base import LatentGenerator, ModelFamily, register_family

COORD_DIM = 2
BASE_SIZE = 4  # the generator's first feature map; the discriminator ends at this size too


@dataclass
class CocoGANConfig:
    """Everything needed to rebuild the networks; saved as config.json."""

    image_size: int = 32  # the full (training) image
    macro_size: int = 16  # what the discriminator sees
    micro_size: int = 8  # what the generator draws
    channels: int = 1
    z_dim: int = 128
    width: int = 64  # channels of the generator's last block; doubled per lower resolution, up to max_width
    max_width: int = 256
    depth: int = 1  # generator residual blocks per resolution; the first of each upsamples
    pixel_coordinates: bool = False  # also feed each pixel's image coordinate to G's convolutions (see PixelCoordinates)
    latent_field: int = 0  # side of G's coarse latent feature field over the whole image; 0 = none (see LatentField)
    num_classes: int = 0  # COCO-GAN here is unconditional; the field exists for the shared pipeline
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        sizes = (self.image_size, self.macro_size, self.micro_size)
        if not (self.micro_size <= self.macro_size <= self.image_size):
            raise ValueError(f"need micro_size <= macro_size <= image_size, got {sizes}")
        if self.image_size % self.micro_size or self.macro_size % self.micro_size:
            raise ValueError(f"image_size and macro_size must be multiples of micro_size, got {sizes}")
        if self.micro_size < BASE_SIZE or self.micro_size & (self.micro_size - 1):
            raise ValueError(f"micro_size must be a power of two >= {BASE_SIZE}, got {self.micro_size}")
        if self.macro_size & (self.macro_size - 1) or self.macro_size < BASE_SIZE:
            raise ValueError(f"macro_size must be a power of two >= {BASE_SIZE}, got {self.macro_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.depth < 1:
            raise ValueError(f"depth must be at least 1, got {self.depth}")
        if self.latent_field < 0:
            raise ValueError(f"latent_field must be 0 (none) or a positive size, got {self.latent_field}")
        if self.num_classes:
            raise ValueError("COCO-GAN is unconditional here: train it with conditional: false")

    @property
    def grid(self) -> int:
        """Micro patches per side of the full image (n)."""
        return self.image_size // self.micro_size

    @property
    def macro_grid(self) -> int:
        """Micro patches per side of a macro patch (k)."""
        return self.macro_size // self.micro_size

    @property
    def spacing(self) -> float:
        """Distance between neighbouring micro coordinates (s); 0 when the grid is one patch."""
        return 2.0 / (self.grid - 1) if self.grid > 1 else 0.0

    @property
    def patch_extent(self) -> float:
        """How far one micro patch spans per axis in coordinate units: the spacing (all of [-1, 1] for one patch)."""
        return self.spacing if self.grid > 1 else 2.0

    def widths(self, size_from: int, size_to: int) -> list[int]:
        """Channels at each resolution from `size_from` up to `size_to` (doubling), widest first."""
        steps = int(math.log2(size_to // size_from))
        return [min(self.width * 2 ** (steps - i), self.max_width) for i in range(steps + 1)]


def _as_config(config: CocoGANConfig | dict) -> CocoGANConfig:
    if isinstance(config, CocoGANConfig):
        return config
    return CocoGANConfig(**{k: v for k, v in config.items() if k in CocoGANConfig.__dataclass_fields__})


# ---------------------------------------------------------------------- coordinates and merging (Φ)


def micro_coordinates(config: CocoGANConfig, extra: int = 0, device: torch.device | str | None = None) -> Tensor:
    """Coordinates [(n + 2e)^2, 2] of every micro patch, row-major, `extra` (e) positions beyond each border."""
    n = config.grid + 2 * extra
    axis = (torch.arange(n, dtype=torch.float32, device=device) - extra) * config.spacing - (1.0 if config.grid > 1 else 0.0)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([cols.flatten(), rows.flatten()], dim=1)


def macro_offsets(config: CocoGANConfig) -> int:
    """Valid macro-patch positions per side: its top-left micro patch may sit at 0 .. n - k."""
    return config.grid - config.macro_grid + 1


def macro_coordinates(config: CocoGANConfig, row: Tensor, col: Tensor) -> tuple[Tensor, Tensor]:
    """For macro patches whose top-left micro patch is at (row, col) [B]: their micro coordinates
    [B, k*k, 2] (row-major inside the patch) and their own coordinate [B, 2] (the micro patches' mean)."""
    k = config.macro_grid
    offsets = torch.arange(k, device=row.device)
    rows = row[:, None, None] + offsets[None, :, None]  # [B, k, 1]
    cols = col[:, None, None] + offsets[None, None, :]  # [B, 1, k]
    origin = 1.0 if config.grid > 1 else 0.0
    xs = (cols * config.spacing - origin).expand(-1, k, k).float()
    ys = (rows * config.spacing - origin).expand(-1, k, k).float()
    micro = torch.stack([xs, ys], dim=-1).reshape(len(row), k * k, COORD_DIM)
    return micro, micro.mean(dim=1)


def merge(patches: Tensor, rows: int, cols: int) -> Tensor:
    """Φ: micro patches [B * rows * cols, C, m, m] (row-major per image) -> images [B, C, rows*m, cols*m].

    Pure reshapes: exact, differentiable, on the patches' device.
    """
    n, c, h, w = patches.shape
    b = n // (rows * cols)
    grid = patches.reshape(b, rows, cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(b, c, rows * h, cols * w)


def split(images: Tensor, size: int) -> Tensor:
    """The inverse of Φ: images [B, C, H, W] -> patches [B * (H/size) * (W/size), C, size, size], row-major."""
    b, c, h, w = images.shape
    rows, cols = h // size, w // size
    grid = images.reshape(b, c, rows, size, cols, size).permute(0, 2, 4, 1, 3, 5)
    return grid.reshape(b * rows * cols, c, size, size)


# ---------------------------------------------------------------------- networks


def pixel_positions(coords: Tensor, size: int, extent: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Image coordinates (x, y), each [B, size, size], of the pixel centres of micro patches at `coords` [B, 2]
    drawn at `size` px, a patch spanning `extent` per axis around its coordinate."""
    offsets = ((torch.arange(size, device=coords.device, dtype=dtype) + 0.5) / size - 0.5) * extent
    xs = coords[:, 0, None, None].to(dtype) + offsets[None, None, :]  # columns vary along the width
    ys = coords[:, 1, None, None].to(dtype) + offsets[None, :, None]
    return xs.expand(-1, size, size), ys.expand(-1, size, size)


class PixelCoordinates(nn.Module):
    """Two extra input channels for a convolution: where each pixel lies in the whole image.

    A micro patch at coordinate c spans [c - s/2, c + s/2] on each axis (s: the
    micro-patch spacing), so a pixel's coordinate continues without a jump into
    the neighbouring patch. A generator that sees these maps can draw one
    smooth function of position across patch borders instead of learning each
    border's continuity from the discriminator alone (the conditional
    normalisation only tells it the patch's centre). Beyond-boundary
    coordinates continue the same way.
    """

    channels = COORD_DIM

    def __init__(self, config: CocoGANConfig):
        super().__init__()
        self.extent = config.patch_extent

    def forward(self, h: Tensor, coords: Tensor) -> Tensor:
        """Features [B, F, r, r] and micro coordinates [B, 2] -> features [B, F + 2, r, r]."""
        xs, ys = pixel_positions(coords, h.shape[-1], self.extent, h.dtype)
        return torch.cat([h, torch.stack([xs, ys], dim=1)], dim=1)


class LatentField(nn.Module):
    """A coarse feature field over the whole image, made from z alone and read at one micro patch's pixels.

    z -> [F, g, g] features covering the training image; a micro patch at
    coordinate c starts from this field sampled (bilinearly) at its own 4x4
    pixel positions. Neighbouring patches read the same field on either side
    of their shared border, so their coarse layout joins up from the first
    training step; G still draws one micro patch from (z, c) alone, so the
    memory saving of generation by parts stays. Beyond the training grid the
    field's border values continue.
    """

    def __init__(self, config: CocoGANConfig, channels: int):
        super().__init__()
        self.size, self.channels = config.latent_field, channels
        self.extent = config.patch_extent
        self.half_width = config.grid * self.extent / 2  # the image spans [-half_width, half_width]
        self.project = nn.Linear(config.z_dim, channels * config.latent_field**2)

    def forward(self, z: Tensor, coords: Tensor) -> Tensor:
        """Latents [B, z_dim] at micro coordinates [B, 2] -> features [B, F, 4, 4]."""
        field = self.project(z).view(z.shape[0], self.channels, self.size, self.size)
        xs, ys = pixel_positions(coords, BASE_SIZE, self.extent, field.dtype)
        grid = torch.stack([xs, ys], dim=-1) / self.half_width  # grid_sample's [-1, 1] spans the whole image
        return F.grid_sample(field, grid, mode="bilinear", padding_mode="border", align_corners=False)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine; per-sample scale and shift from the condition (z, c)."""

    def __init__(self, channels: int, condition_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.affine = nn.Linear(condition_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)  # starts as plain BatchNorm: scale 1 + 0, shift 0

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        scale, shift = self.affine(condition).chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class ResBlock(nn.Module):
    """Generator residual block: CBN -> ReLU -> [nearest x2] -> conv3 -> CBN -> ReLU -> conv3, plus the shortcut.

    The 3x3 convolutions replicate the border instead of padding with zeros, so
    a micro patch's edge pixels carry no systematic zero-padding bias: that
    bias would repeat at every micro-patch border and show as a grid of seams.
    """

    def __init__(self, w_in: int, w_out: int, condition_dim: int, upsample: bool = True, pixel_coordinates: PixelCoordinates | None = None):
        super().__init__()
        self.upsample = upsample
        self.pixel_coordinates = pixel_coordinates
        self.norm1 = ConditionalBatchNorm(w_in, condition_dim)
        extra = PixelCoordinates.channels if pixel_coordinates is not None else 0
        self.conv1 = nn.Conv2d(w_in + extra, w_out, 3, padding=1, padding_mode="replicate")
        self.norm2 = ConditionalBatchNorm(w_out, condition_dim)
        self.conv2 = nn.Conv2d(w_out, w_out, 3, padding=1, padding_mode="replicate")
        self.skip = nn.Conv2d(w_in, w_out, 1) if w_in != w_out or upsample else nn.Identity()

    def _resize(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x: Tensor, condition: Tensor, coords: Tensor) -> Tensor:
        h = self._resize(F.relu(self.norm1(x, condition)))
        if self.pixel_coordinates is not None:
            h = self.pixel_coordinates(h, coords)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), condition)))
        return h + self.skip(self._resize(x))


class DownBlock(nn.Module):
    """Residual block: ReLU -> conv3 -> ReLU -> conv3 -> avg-pool, plus conv1 -> avg-pool (no normalisation: WGAN-GP)."""

    def __init__(self, w_in: int, w_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(w_in, w_out, 3, padding=1)
        self.conv2 = nn.Conv2d(w_out, w_out, 3, padding=1)
        self.skip = nn.Conv2d(w_in, w_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(F.relu(x)))), 2)
        return h + F.avg_pool2d(self.skip(x), 2)


class Encoder(nn.Module):
    """Convolutional trunk: macro patches [B, C, M, M] -> features [B, F], halving down to 4x4, then summed."""

    def __init__(self, config: CocoGANConfig):
        super().__init__()
        widths = list(reversed(config.widths(BASE_SIZE, config.macro_size)))  # narrow at M px, widest at 4x4
        self.stem = nn.Conv2d(config.channels, widths[0], 3, padding=1)
        self.blocks = nn.Sequential(*(DownBlock(w_in, w_out) for w_in, w_out in itertools.pairwise(widths)))
        self.out_dim = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.blocks(self.stem(x))).sum(dim=(2, 3))


class CocoGANGenerator(LatentGenerator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan", "coco-gan"]):
    """Micro-patch generator G(z, c), Φ, and the latent head Q; forward(z) draws full images.

    forward(z [B, z_dim], labels=None, extra=0) -> images [B, C, S, S] in [-1, 1],
    S = (n + 2 * extra) * micro_size: `extra` micro patches beyond each border
    (beyond-boundary generation). forward(z, coords=c) -> micro patches G(z, c).
    """

    family = "cocogan"

    def __init__(self, config: CocoGANConfig):
        super().__init__()
        self.config = config = _as_config(config)
        condition_dim = config.z_dim + COORD_DIM
        widths = config.widths(BASE_SIZE, config.micro_size)
        self.pixel_coordinates = PixelCoordinates(config) if config.pixel_coordinates else None
        extra = PixelCoordinates.channels if self.pixel_coordinates is not None else 0
        self.project = nn.Linear(condition_dim, widths[0] * BASE_SIZE**2)
        self.latent_field = LatentField(config, widths[0]) if config.latent_field else None
        self.blocks = nn.ModuleList(
            ResBlock(w_in if i == 0 else w_out, w_out, condition_dim, upsample=i == 0, pixel_coordinates=self.pixel_coordinates)
            for w_in, w_out in itertools.pairwise(widths)
            for i in range(config.depth)
        )
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.out_conv = nn.Conv2d(widths[-1] + extra, config.channels, 3, padding=1, padding_mode="replicate")
        self.latent_encoder = Encoder(config)  # Q: macro patch -> features
        self.latent_head = nn.Linear(self.latent_encoder.out_dim, config.z_dim)

    def micro_patch(self, z: Tensor, coords: Tensor) -> Tensor:
        """G: latents [B, z_dim] at micro coordinates [B, 2] -> micro patches [B, C, m, m]."""
        condition = torch.cat([z, coords.to(z.dtype)], dim=1)
        # unflatten, not view(len(z), ...): an ONNX trace keeps the batch size dynamic and the channels known
        h = self.project(condition).unflatten(1, (-1, BASE_SIZE, BASE_SIZE))
        if self.latent_field is not None:
            h = h + self.latent_field(z, coords)
        for block in self.blocks:
            h = block(h, condition, coords)
        h = F.relu(self.out_norm(h))
        if self.pixel_coordinates is not None:
            h = self.pixel_coordinates(h, coords)
        return torch.tanh(self.out_conv(h))

    def patches(self, z: Tensor, coords: Tensor) -> Tensor:
        """Every latent at every coordinate: z [B, z_dim], coords [P, 2] -> patches [B * P, C, m, m], row-major per latent."""
        b, p = z.shape[0], coords.shape[0]  # shapes, not len(): an ONNX trace keeps them dynamic
        return self.micro_patch(z.repeat_interleave(p, dim=0), coords.to(z.device).repeat(b, 1))

    def forward(self, z: Tensor, labels: Tensor | None = None, extra: int = 0, coords: Tensor | None = None) -> Tensor:
        """Full images for latents z; with `coords` [B, 2], one micro patch per latent instead (training)."""
        if labels is not None:
            raise ValueError("COCO-GAN is unconditional: it takes no labels")
        if coords is not None:
            return self.micro_patch(z, coords)
        side = self.config.grid + 2 * extra
        return merge(self.patches(z, micro_coordinates(self.config, extra, z.device)), side, side)

    def recover_latent(self, macro_patch: Tensor) -> Tensor:
        """Q: macro patches [B, C, M, M] in [-1, 1] -> latents [B, z_dim]."""
        return self.latent_head(self.latent_encoder(macro_patch))


class CocoGANDiscriminator(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan", "coco-gan"]):
    """D(x, c'): macro patches [B, C, M, M] and their coordinates [B, 2] -> (score [B], coordinate [B, 2]).

    The score is a projection critic on the macro coordinate (Miyato & Koyama,
    2018, with a continuous condition): linear(h) + <embed(c'), h>. The
    auxiliary head regresses c' from the patch alone.
    """

    family = "cocogan"

    def __init__(self, config: CocoGANConfig):
        super().__init__()
        self.config = config = _as_config(config)
        self.encoder = Encoder(config)
        self.score = nn.Linear(self.encoder.out_dim, 1)
        self.embed = nn.Linear(COORD_DIM, self.encoder.out_dim, bias=False)
        self.coordinate_head = nn.Linear(self.encoder.out_dim, COORD_DIM)

    def features(self, macro_patch: Tensor) -> Tensor:
        return self.encoder(macro_patch)

    def forward(self, macro_patch: Tensor, coords: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(macro_patch)
        score = self.score(h).squeeze(1) + (self.embed(coords.to(h.dtype)) * h).sum(dim=1)
        return score, self.coordinate_head(h)


register_family(ModelFamily(
    "cocogan", CocoGANConfig, {"generator": CocoGANGenerator, "discriminator": CocoGANDiscriminator}, "cocogan",
    accepts=frozenset({"parts"}), title="COCO-GAN", paper="Lin et al. (2019)",
    defaults={"conditional": False},
))
