"""Dataset registry, the in-memory `ImageData` container and `load_dataset`.

Every dataset is loaded whole into memory as uint8 (the largest, full
Fashion-MNIST, is 47 MB), so training samples batches by index without a
DataLoader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from core.errors import DataError, UserError
from core.paths import data_root
from core.registry import Registry

# load(data_root, split, image_size, channels, download) ->
#   images uint8 [N, channels, image_size, image_size], labels int64 [N], class names
Loader = Callable[[Path, str, int, int, bool], tuple[torch.Tensor, torch.Tensor, list[str]]]


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is and how to load it."""

    name: str  # registry name
    title: str  # human-readable name used in descriptions
    splits: tuple[str, ...]
    channels: int  # native channels
    native_size: int  # native side (shorter side for photos)
    default_size: int  # image_size used when the caller gives none
    full_sizes: dict[str, int]  # images per split in the complete public release
    license: str
    source_url: str
    load: Loader


DATASETS: Registry[DatasetSpec] = Registry("dataset", DatasetSpec)


@dataclass
class ImageData:
    """A whole split in memory: images uint8 [N, C, H, W], labels int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    dataset: str
    split: str
    pad: int = 0  # black pixels added on each side after resizing

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> int:
        return self.images.shape[2]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images [B, C, H, W] in [-1, 1] and int64 labels [B] for `index` [B] (on CPU)."""
        index = index.to(self.images.device)
        return self.images[index].float() / 127.5 - 1.0, self.labels[index]

    def describe(self) -> str:
        """One line saying what this is, and whether it is the complete split."""
        spec = DATASETS.get(self.dataset)
        n, full = len(self), spec.full_sizes[self.split]
        head = f"{spec.title}, {self.split} split" + (f" (padded by {self.pad} px to {self.image_size} px)" if self.pad else "")
        if n == full:
            return f"{head}, {n:,} images (complete split)"
        if n < full:
            return f"{head}, {n:,} of {full:,} images (a subset)"
        return f"{head}, {n:,} images (more than the {full:,} of the public release)"


def load_dataset(
    name: str,
    split: str = "train",
    *,
    image_size: int | None = None,
    channels: int | None = None,
    root: str | Path | None = None,
    download: bool = True,
    pad: int = 0,
) -> ImageData:
    """Load one split of a registered dataset into memory.

    `image_size` None means the dataset's default (native 28 for Fashion-MNIST,
    64 for the clothing photos); `channels` None means native; `root` None means
    `core.paths.data_root()`. Missing data is downloaded when `download` is true.
    `pad` adds that many black pixels on each side after resizing (Fashion-MNIST
    28 px padded by 2 is the 32 px grid that patch-based models need).
    """
    spec = DATASETS.get(name)
    if split not in spec.splits:
        raise DataError(f"unknown split {split!r} for {name}; choose from: {', '.join(spec.splits)}")
    size = spec.default_size if image_size is None else image_size
    # bool is an int; reject it explicitly so `image_size=True` is not 1 px.
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UserError(f"image_size must be a positive integer, got {image_size!r}")
    chans = spec.channels if channels is None else channels
    if chans not in (1, 3):
        raise UserError(f"channels must be 1 or 3, got {channels!r}")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise UserError(f"pad must be a non-negative integer, got {pad!r}")
    base = data_root() if root is None else Path(root).expanduser()
    images, labels, class_names = spec.load(base, split, size, chans, download)
    if pad:
        images = torch.nn.functional.pad(images, (pad, pad, pad, pad))  # black borders, like Fashion-MNIST's own
    return ImageData(images, labels, class_names, name, split, pad)
