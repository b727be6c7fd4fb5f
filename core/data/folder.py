"""Images from a folder: decoding, scanning, fingerprints and the decoded-split cache, and the `folder:` source.

The built-in clothing photos (core.data.clothing) and the user's own folders share
this module. The clothing set decodes with `CLOTHING_V1`, exactly as it always has
(shipped models' numbers stay reproducible); the user's images decode with
`USER_IMAGES`, which adds what photos from a phone or a shop need and what makes
decoding fast:

- JPEGs are decoded at a reduced scale when they are at least twice the target
  size (PIL's `Image.draft`: libjpeg's scaled IDCT), then resized as usual;
- the EXIF orientation is applied, so portrait phone photos stand upright;
- transparent pixels (PNG cut-outs) become white, not whatever colour hides under them;
- grayscale conversion happens before resizing (a third of the work).

Both resize the shorter side to the target size (antialiased) and centre-crop.

`folder:PATH` (`FolderSource`):
- PATH with a `train/` subfolder is a tree of splits: split S reads PATH/S.
  Otherwise PATH itself is the `train` split (and the only one).
- A split folder with subfolders is a class-per-subfolder tree, as torchvision's
  ImageFolder reads it: the classes are the sorted subfolder names, each holding
  its images at any depth; images lying directly in the split folder are then
  ignored, with a warning. A split folder without subfolders is one class (no
  labels: unconditional training), named after the folder.
- Images are files named .jpg, .jpeg, .png, .webp, .bmp, .gif, .tif(f), .ppm, .pgm or
  .pbm (any case); hidden files and folders are not read. Unreadable or corrupt
  images, and images over `MAX_PHOTO_PIXELS` (decompression bombs), are skipped and
  counted in a warning.
- Native channels: 1 when the first images (up to 8) are all grayscale, else 3.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import ExifTags, Image, UnidentifiedImageError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.errors import DataError
from core.files import atomic_path

MAX_PHOTO_PIXELS = 40_000_000  # a photo larger than this (a 40 MP camera's) is skipped and counted, not decoded
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
CHANNEL_SAMPLE = 8  # images looked at to tell a grayscale set from a colour one

# What PIL raises on a file that is not an image, is truncated, or has a malformed header or EXIF block.
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    Image.DecompressionBombError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)

# EXIF orientation -> the transpose that stands the image upright (as PIL's ImageOps.exif_transpose)
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

ImageFile = Path | bytes  # what a source hands the decoder: a file, or an encoded image's bytes


@dataclass(frozen=True)
class Decoding:
    """How an image file becomes a square uint8 tensor; `tag` names it in cache keys."""

    tag: str
    draft: bool = False  # JPEG: decode at the smallest scale that still covers the target size
    exif_orientation: bool = False
    white_background: bool = False  # composite transparent images over white
    early_grayscale: bool = False  # 1 channel: convert before resizing rather than after


CLOTHING_V1 = Decoding("v1")  # the built-in clothing photos: never change it (cache keys and shipped models rely on it)
USER_IMAGES = Decoding("u1", draft=True, exif_orientation=True, white_background=True, early_grayscale=True)


def _open(file: ImageFile) -> Image.Image:
    return Image.open(io.BytesIO(file) if isinstance(file, bytes) else file)


def decode_image(
    file: ImageFile | None, image_size: int, channels: int, decoding: Decoding = CLOTHING_V1
) -> torch.Tensor | None:
    """One image as uint8 [channels, image_size, image_size], or None if it is not a readable image (or too large)."""
    if file is None:  # a data set row without an image
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(file) as im:  # reads the header only
                if im.width * im.height > MAX_PHOTO_PIXELS:
                    return None  # a decompression bomb (or a poster): never decoded
                gray = channels == 1 and decoding.early_grayscale
                if decoding.draft and im.format == "JPEG":
                    im.draft("L" if gray else "RGB", (image_size, image_size))  # the result still covers the size
                orientation = im.getexif().get(ExifTags.Base.Orientation, 1) if decoding.exif_orientation else 1
                im = _convert(
                    im, "L" if gray else "RGB", decoding.white_background
                )  # full decode: truncation fails here
    except UNREADABLE:
        return None
    if orientation in _UPRIGHT:
        im = im.transpose(_UPRIGHT[orientation])
    im = square(im, image_size)
    if channels == 1 and im.mode != "L":
        im = im.convert("L")
    return TF.pil_to_tensor(im)


def square(im: Image.Image, image_size: int) -> Image.Image:
    """The shorter side resized to `image_size` (antialiased), then the centre `image_size` square: how every
    photo of the suite becomes a training image (and an upload a translator's input)."""
    return TF.center_crop(TF.resize(im, image_size, antialias=True), image_size)


def as_rgb_image(im: Image.Image) -> Image.Image:
    """Any PIL mode as RGB, transparency composited over white (16-bit and float grayscale rescaled)."""
    if im.mode.startswith("I") or im.mode == "F":
        pixels = np.asarray(im, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        im = Image.fromarray(((pixels - low) / max(high - low, 1e-12) * 255).round().astype(np.uint8))
    return _convert(im, "RGB", white_background=True)


def _convert(im: Image.Image, mode: str, white_background: bool) -> Image.Image:
    if white_background and (im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im.convert(mode)


def probe_image(file: ImageFile | None) -> str | None:
    """The image's mode from its header ("RGB", "L" ...), or None when it is unreadable or over MAX_PHOTO_PIXELS."""
    if file is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(file) as im:
                return im.mode if im.width * im.height <= MAX_PHOTO_PIXELS else None
    except UNREADABLE:
        return None


def native_channels(files: Iterable[ImageFile]) -> int:
    """1 when every readable one of the first CHANNEL_SAMPLE images is grayscale, else 3."""
    modes = [mode for mode in (probe_image(f) for f in files) if mode is not None]
    return 1 if modes and all(mode in GRAYSCALE_MODES for mode in modes) else 3


# ---------------------------------------------------------------------- scanning, fingerprints


def scan(folder: Path, images_only: bool = False, recursive: bool = False) -> tuple[list[str], list[tuple[Path, int]]]:
    """Sorted class folder names and (file, label) pairs, like torchvision's ImageFolder.

    Hidden files and folders (.DS_Store and friends) are not data. `images_only` keeps
    files with an image extension; `recursive` reads each class folder at any depth.
    """
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [
        (f, label)
        for label, name in enumerate(classes)
        for f in (_walk(folder / name) if recursive else sorted((folder / name).iterdir()))
        if f.is_file() and not f.name.startswith(".") and (not images_only or is_image_name(f))
    ]
    return classes, files


def _walk(folder: Path) -> list[Path]:
    """Every file under `folder`, hidden folders left out, in sorted path order."""
    found = []
    for top, dirs, names in os.walk(folder):  # links to folders are not followed: they could loop
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(top) / name for name in sorted(names)]
    return sorted(found)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def fingerprint(folder: Path, files: Iterable[Path]) -> str:
    """Hash of relative paths, sizes and mtimes: any added, removed or edited file changes it."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(folder).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def warn_skipped(n: int, where: object, stacklevel: int = 4) -> None:
    if n:
        warnings.warn(f"skipped {n} unreadable or non-image files in {where}", stacklevel=stacklevel)


# ---------------------------------------------------------------------- the decoded-split cache


def read_cache(cache: Path) -> tuple[torch.Tensor, torch.Tensor, list[str], int] | None:
    """(images, labels, class names, skipped count) from a cache file, or None on a miss."""
    found = read_tensors(cache)
    if found is None:
        return None
    tensors, meta = found
    try:
        return tensors["images"], tensors["labels"], json.loads(meta["class_names"]), int(meta["skipped"])
    except (KeyError, TypeError, ValueError):  # a damaged cache file is only a miss; it gets rewritten
        return None


def write_cache(cache: Path, images: torch.Tensor, labels: torch.Tensor, classes: list[str], skipped: int) -> None:
    write_tensors(
        cache, {"images": images, "labels": labels}, {"class_names": json.dumps(classes), "skipped": str(skipped)}
    )


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """Every tensor and the metadata of a safetensors file, or None when it is missing or damaged."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            return {key: f.get_tensor(key) for key in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, TypeError, ValueError):
        return None


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """Write atomically (temp file + rename) so concurrent readers never see half a file; a failure only warns
    (the data is decoded again next time)."""
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
    except OSError as err:
        warnings.warn(f"could not write the dataset cache {path} ({err}); decoding again next time", stacklevel=3)


# ---------------------------------------------------------------------- folder: sources


@dataclass
class FolderSource:
    """`folder:PATH`, one split of it, scanned but not decoded (see the module docstring for the layout rules)."""

    name: str  # the dataset as given: "folder:PATH"
    root: Path  # PATH, resolved
    split: str
    folder: Path  # the split's folder
    class_names: list[str]
    files: list[Path]
    labels: torch.Tensor  # int64 [N]
    decoding: Decoding = USER_IMAGES
    _fingerprint: str | None = field(default=None, repr=False)

    kind = "folder"

    @classmethod
    def open(cls, name: str, split: str) -> FolderSource:
        root = folder_root(name)
        folder = split_folder(name, root, split)
        classes, pairs = scan(folder, images_only=True, recursive=True)
        if classes:
            empty = sorted(set(classes) - {classes[label] for _, label in pairs})
            if empty:
                raise DataError(
                    f"{name}: class folder(s) {', '.join(empty)} in {folder} hold no images "
                    "(.jpg, .png, ...): add some or remove them"
                )
            loose = sum(1 for f in folder.iterdir() if f.is_file() and is_image_name(f) and not f.name.startswith("."))
            if loose:
                warnings.warn(
                    f"{loose} image(s) directly in {folder} are in no class folder and are not read", stacklevel=3
                )
        else:
            pairs = [
                (f, 0)
                for f in sorted(folder.iterdir())
                if f.is_file() and not f.name.startswith(".") and is_image_name(f)
            ]
            classes = [folder.name]
        if not pairs:
            raise DataError(f"{name}: no images in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        files = [f for f, _ in pairs]
        labels = torch.tensor([label for _, label in pairs], dtype=torch.int64)
        return cls(name, root, split, folder, classes, files, labels)

    @property
    def title(self) -> str:
        return f"folder {self.root}"

    def __len__(self) -> int:
        return len(self.files)

    def items(self, indices: Sequence[int]) -> list[ImageFile]:
        return [self.files[i] for i in indices]

    def cache_key(self) -> str | None:
        """What the decoded images depend on: the files (paths relative to the split folder, sizes, mtimes)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.folder, self.files)
        return f"folder-{self._fingerprint}"

    def native_channels(self) -> int:
        return native_channels(self.items(range(min(CHANNEL_SAMPLE, len(self)))))


def split_files(name: str, split: str) -> tuple[Path, list[Path], Decoding] | None:
    """The folder, image files (in the order the loader decodes them) and decoding of one split of the clothing
    photos or of a `folder:` source; None for data that does not come from image files (Fashion-MNIST, hf:)."""
    if name.startswith("folder:"):
        source = FolderSource.open(name, split)
        return source.folder, list(source.files), source.decoding
    if name == "clothing":
        from core.data.clothing import FOLDER
        from core.paths import data_root

        folder = data_root() / FOLDER / split
        if folder.is_dir():
            return folder, [file for file, _ in scan(folder)[1]], CLOTHING_V1
    return None


def decoded_files(files: list[Path], decoded: int, image_size: int, decoding: Decoding) -> list[Path]:
    """The files behind `decoded` images of `files`, in order: all of them, or, when the loader skipped unreadable
    ones, those that decode (found by decoding again: only folders with broken files pay for it)."""
    if decoded == len(files):
        return list(files)
    readable = [f for f in files if decode_image(f, image_size, 3, decoding) is not None]
    if len(readable) != decoded:
        raise DataError(f"the images in {files[0].parent} changed while they were read: run again")
    return readable


def folder_root(name: str) -> Path:
    """PATH of "folder:PATH", resolved; a DataError when it is not an existing folder."""
    path = name.removeprefix("folder:")
    if not path:
        raise DataError("folder: needs a path, e.g. folder:~/jewellery")
    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise DataError(f"{name}: {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{name}: {root} is a file, not a folder of images")
    return root


def split_folder(name: str, root: Path, split: str) -> Path:
    """The folder of `split`: PATH/split when PATH has a train/ subfolder, else PATH itself for split train."""
    if (root / "train").is_dir():
        folder = root / split
        if not folder.is_dir():
            present = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
            raise DataError(f"{name}: no {split!r} split in {root}; its split folders: {', '.join(present)}")
        return folder
    if split != "train":
        raise DataError(
            f"{name}: {root} has no train/ subfolder, so it is the 'train' split alone and has no "
            f"{split!r} split (--set split=train, or give it train/ and {split}/ subfolders)"
        )
    return root
