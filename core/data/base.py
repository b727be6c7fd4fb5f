"""Dataset registry, the in-memory `ImageData` container and `load_dataset`.

Every built-in dataset is loaded whole into memory as uint8 (the largest, full
Fashion-MNIST, is 47 MB), so training samples batches by index without a
DataLoader. The user's own images, `folder:PATH` and `hf:REPO` (core.data.sources),
are loaded into memory the same way when they fit, and streamed from worker
processes when they do not (core.data.stream.StreamingData, same batches).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from core.errors import DataError, UserError
from core.paths import data_root
from core.registry import Registry

if TYPE_CHECKING:
    from core.data.stream import StreamingData

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
    dataset: str  # a name in DATASETS, or a source ("folder:PATH", "hf:REPO")
    split: str
    pad: int = 0  # black pixels added on each side after resizing
    title: str = ""  # a source's own description ("folder /data/jewellery"); built-in sets have their spec's

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

    def batch(self, index: torch.Tensor, upcoming: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images [B, C, H, W] in [-1, 1] and int64 labels [B] for `index` [B] (on CPU).

        `upcoming` (the batches read next) is for streamed data, which decodes ahead; here everything is decoded.
        """
        index = index.to(self.images.device)
        return self.images[index].float() / 127.5 - 1.0, self.labels[index]

    def describe(self) -> str:
        """One line saying what this is, and whether it is the complete split."""
        if self.title:  # a folder: or hf: source: no public release to compare with
            from core.data.stream import describe_source

            return describe_source(self.title, self.split, len(self), self.num_classes, self.pad, self.image_size)
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
    loading: str = "auto",
    workers: int = 0,
    conditional: bool = False,
) -> ImageData | StreamingData:
    """Load one split of a registered dataset into memory, or of a `folder:` / `hf:` source.

    `image_size` None means the dataset's default (native 28 for Fashion-MNIST,
    64 for the clothing photos and for sources); `channels` None means native; `root` None means
    `core.paths.data_root()`. Missing data is downloaded when `download` is true.
    `pad` adds that many black pixels on each side after resizing (Fashion-MNIST
    28 px padded by 2 is the 32 px grid that patch-based models need).

    Sources (core.data.sources): `loading` auto | memory | stream and `workers` (0 = automatic) choose how
    they are decoded; a streamed split is a `StreamingData`, with the same `batch` but no `.images`.
    `conditional` (the caller conditions on the labels) makes data with a single class a UserError.
    Built-in sets always load into memory.
    """
    from core.data.sources import LOADING, is_source, load_source

    # bool is an int; reject it explicitly so `image_size=True` is not 1 px.
    if isinstance(image_size, bool) or not (image_size is None or isinstance(image_size, int) and image_size >= 1):
        raise UserError(f"image_size must be a positive integer, got {image_size!r}")
    if channels not in (None, 1, 3):
        raise UserError(f"channels must be 1 or 3, got {channels!r}")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise UserError(f"pad must be a non-negative integer, got {pad!r}")
    if is_source(name):
        return load_source(name, split, image_size=image_size, channels=channels, pad=pad, loading=loading,
                           workers=workers, conditional=conditional)
    if loading not in LOADING:
        raise UserError(f"data_loading must be one of {', '.join(LOADING)}, got {loading!r}")
    if loading == "stream":
        raise UserError(f"data_loading=stream is for folder: and hf: sources; {name} always loads into memory")
    spec = DATASETS.get(name)
    if split not in spec.splits:
        raise DataError(f"unknown split {split!r} for {name}; choose from: {', '.join(spec.splits)}")
    size = spec.default_size if image_size is None else image_size
    chans = spec.channels if channels is None else channels
    base = data_root() if root is None else Path(root).expanduser()
    images, labels, class_names = spec.load(base, split, size, chans, download)
    if pad:
        images = torch.nn.functional.pad(images, (pad, pad, pad, pad))  # black borders, like Fashion-MNIST's own
    return ImageData(images, labels, class_names, name, split, pad)
