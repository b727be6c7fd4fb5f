"""Clothing photos: clothing-dataset-small by Alexey Grigorev (CC0), one ImageFolder per split.

Decoding a few thousand JPEGs takes a while on a small machine, so each decoded
split is cached as a safetensors file keyed by size, channels and a fingerprint
of the files it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image, UnidentifiedImageError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from core.data.base import DATASETS, DatasetSpec
from core.errors import DataError
from core.paths import cache_dir

CLOTHING_URL = "https://github.com/alexeygrigorev/clothing-dataset-small/archive/refs/heads/master.zip"
FOLDER = "clothing-small"
SPLITS = ("train", "validation", "test")
CACHE_VERSION = 1  # bump when decoding changes, so old cache files are not reused


def download_clothing(root: str | Path, url: str = CLOTHING_URL) -> Path:
    """Download and unpack the archive into `<root>/clothing-small/`; returns that folder.

    Everything happens in a temporary folder under `root`, and the finished
    folder is renamed into place, so an interrupted download leaves nothing
    that looks like data.
    """
    target = Path(root).expanduser() / FOLDER
    if all((target / s).is_dir() for s in SPLITS):
        return target
    if target.exists():
        raise DataError(f"{target} exists but is incomplete; remove it and download again.")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".clothing-download-") as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc="clothing-small", disable=None) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(Path(tmp) / "x")
        except (OSError, zipfile.BadZipFile) as err:  # URLError is an OSError
            raise DataError(f"could not download the clothing photos from {url} ({err}).") from err
        # The archive wraps everything in one top folder (clothing-dataset-small-master/).
        tops = [p.parent for p in (Path(tmp) / "x").glob("*/train") if p.is_dir()]
        if len(tops) != 1 or not all((tops[0] / s).is_dir() for s in SPLITS):
            raise DataError(f"the archive from {url} does not contain train/validation/test folders.")
        staged = Path(tmp) / FOLDER
        staged.mkdir()
        for name in (*SPLITS, "LICENSE"):
            if (tops[0] / name).exists():
                (tops[0] / name).rename(staged / name)
        staged.rename(target)
    return target


MAX_PHOTO_PIXELS = 40_000_000  # a photo larger than this (a 40 MP camera's) is skipped and counted, not decoded


def _decode(path: Path, image_size: int, channels: int) -> torch.Tensor | None:
    """One photo as uint8 [channels, image_size, image_size], or None if it is not a readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # reads the header only
                if im.width * im.height > MAX_PHOTO_PIXELS:
                    return None  # a decompression bomb (or a poster): never decoded
                im = im.convert("RGB")  # forces the full decode, so truncated files fail here
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError, SyntaxError):
        return None
    im = TF.center_crop(TF.resize(im, image_size, antialias=True), image_size)
    if channels == 1:
        im = im.convert("L")
    return TF.pil_to_tensor(im)


def _scan(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Sorted class folder names and (file, label) pairs, like torchvision's ImageFolder."""
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [
        (f, label)
        for label, name in enumerate(classes)
        for f in sorted((folder / name).iterdir())
        if f.is_file() and not f.name.startswith(".")  # .DS_Store and friends are not data
    ]
    return classes, files


def _fingerprint(folder: Path, files: list[tuple[Path, int]]) -> str:
    """Hash of relative paths, sizes and mtimes: any added, removed or edited file changes it."""
    h = hashlib.sha256()
    for f, _ in files:
        st = f.stat()
        h.update(f"{f.relative_to(folder).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _warn_skipped(n: int, folder: Path) -> None:
    if n:
        warnings.warn(f"skipped {n} unreadable or non-image files in {folder}", stacklevel=4)


def _load(root: Path, split: str, image_size: int, channels: int, download: bool):
    """Images uint8 [N, channels, image_size, image_size], labels int64 [N], class names."""
    base = root / FOLDER
    if not base.is_dir():
        if not download:
            raise DataError(
                f"clothing photos not found in {base}: put the train/validation/test folders of "
                f"clothing-dataset-small there ({CLOTHING_URL}) or allow downloading."
            )
        download_clothing(root, CLOTHING_URL)  # module global read here so tests can point it elsewhere
    folder = base / split
    if not folder.is_dir():
        raise DataError(f"split folder {folder} is missing: put the {split!r} class folders there.")
    classes, files = _scan(folder)
    if not files:
        raise DataError(f"no images found in {folder}")

    key = f"clothing-{split}-{image_size}px-{channels}ch-v{CACHE_VERSION}-{_fingerprint(folder, files)}"
    cache = cache_dir() / f"{key}.safetensors"
    cached = _read_cache(cache)
    if cached is not None:
        images, label_t, classes, skipped = cached
        _warn_skipped(skipped, folder)  # repeat the warning: the skipped files are still there
        return images, label_t, classes

    decoded, labels, skipped = [], [], 0
    for path, label in tqdm(files, desc=f"decoding clothing/{split}", unit="img", disable=None, leave=False):
        image = _decode(path, image_size, channels)
        if image is None:
            skipped += 1
        else:
            decoded.append(image)
            labels.append(label)
    if not decoded:
        raise DataError(f"no images found in {folder} ({skipped} unreadable files)")
    _warn_skipped(skipped, folder)
    images, label_t = torch.stack(decoded), torch.tensor(labels, dtype=torch.int64)

    _write_cache(cache, images, label_t, classes, skipped)
    return images, label_t, classes


def _read_cache(cache: Path) -> tuple[torch.Tensor, torch.Tensor, list[str], int] | None:
    """(images, labels, class names, skipped count) from a cache file, or None on a miss."""
    if not cache.is_file():
        return None
    try:
        with safe_open(str(cache), framework="pt") as f:
            meta = f.metadata()
            return f.get_tensor("images"), f.get_tensor("labels"), json.loads(meta["class_names"]), int(meta["skipped"])
    except (SafetensorError, OSError, KeyError, TypeError, ValueError):  # a damaged cache file is only a miss; it gets rewritten
        return None


def _write_cache(cache: Path, images: torch.Tensor, labels: torch.Tensor, classes: list[str], skipped: int) -> None:
    """Write atomically (temp file + rename) so concurrent readers never see half a file."""
    meta = {"class_names": json.dumps(classes), "skipped": str(skipped)}
    tmp = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
        os.close(fd)
        save_file({"images": images, "labels": labels}, tmp, metadata=meta)
        os.replace(tmp, cache)
    except OSError as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        warnings.warn(f"could not write the dataset cache {cache} ({err}); decoding again next time")


DATASETS.register("clothing")(
    DatasetSpec(
        name="clothing",
        title="Clothing photos (clothing-dataset-small)",
        splits=SPLITS,
        channels=3,
        native_size=256,
        default_size=64,
        full_sizes={"train": 3068, "validation": 341, "test": 372},
        license="CC0-1.0",
        source_url="https://github.com/alexeygrigorev/clothing-dataset-small",
        load=_load,
    )
)
