"""Fashion-MNIST (Zalando Research, MIT), read and downloaded through torchvision."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.datasets import FashionMNIST

from core.data.base import DATASETS, DatasetSpec
from core.errors import DataError

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # idx3 unsigned bytes (images), idx1 unsigned bytes (labels)


def _check_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> int:
    """The item count of an idx file, once its header and size are what Fashion-MNIST's are; else a DataError."""
    size = path.stat().st_size
    header = 4 * (2 + len(item_shape))
    with path.open("rb") as f:
        head = f.read(header)
    if len(head) < header:
        raise DataError(f"{path} is truncated ({size} bytes): replace it with the original file")
    found, count, *dims = struct.unpack(f">{2 + len(item_shape)}I", head)
    if found != magic or tuple(dims) != item_shape:
        raise DataError(f"{path} is not a Fashion-MNIST idx file (magic {found}, item shape {tuple(dims)}): "
                        "replace it with the original file")
    if size != header + count * math.prod(item_shape):
        raise DataError(f"{path} is corrupt or truncated: its header says {count:,} items, its size "
                        f"{size:,} bytes does not match")
    return count


def _load(root: Path, split: str, image_size: int, channels: int, download: bool):
    """Images uint8 [N, channels, image_size, image_size], labels int64 [N], class names."""
    folder = root / "fashion-mnist"
    raw = folder / "FashionMNIST" / "raw"
    # Check ourselves so the error names the folder instead of torchvision's generic message.
    if not all((raw / f).is_file() for f in RAW_FILES):
        if not download:
            raise DataError(
                f"Fashion-MNIST not found in {raw}: put the four *-ubyte files there, "
                "set DATA_ROOT, or allow downloading."
            )
        try:
            FashionMNIST(root=str(folder), train=True, download=True)
        except (RuntimeError, OSError) as err:  # torchvision raises RuntimeError once all mirrors fail
            raise DataError(
                f"Fashion-MNIST not found in {raw} and it could not be downloaded (no network?): "
                "put the four *-ubyte files there or set DATA_ROOT."
            ) from err
    prefix = "train" if split == "train" else "t10k"
    n_images = _check_idx(raw / f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC, (28, 28))
    n_labels = _check_idx(raw / f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC, ())
    if n_images != n_labels:
        raise DataError(f"Fashion-MNIST {split} files disagree: {n_images:,} images but {n_labels:,} labels in {raw}")
    ds = FashionMNIST(root=str(folder), train=split == "train", download=False)
    if int(ds.targets.min()) < 0 or int(ds.targets.max()) > 9:
        raise DataError(f"Fashion-MNIST {split} labels in {raw} are not class ids 0..9: the file is corrupt")
    images = ds.data.unsqueeze(1)  # [N, 1, 28, 28] uint8
    if image_size == 32:
        # The usual DCGAN size: pad with the black background rather than stretch the strokes.
        images = F.pad(images, (2, 2, 2, 2), value=0)
    elif image_size != 28:
        images = TF.resize(images, [image_size, image_size], antialias=True)
    if channels == 3:
        images = images.repeat(1, 3, 1, 1)
    return images.contiguous(), ds.targets.to(torch.int64), list(ds.classes)


DATASETS.register("fashion-mnist")(
    DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        splits=("train", "test"),
        channels=1,
        native_size=28,
        default_size=28,
        full_sizes={"train": 60000, "test": 10000},
        license="MIT",
        source_url="https://github.com/zalandoresearch/fashion-mnist",
        load=_load,
    )
)
