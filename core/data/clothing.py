"""Clothing photos: clothing-dataset-small by Alexey Grigorev (CC0), one ImageFolder per split.

Decoding a few thousand JPEGs takes a while on a small machine, so each decoded
split is cached as a safetensors file keyed by size, channels and a fingerprint
of the files it came from. Decoding, scanning and the cache live in
core.data.folder, shared with `folder:` sources; the photos decode with its
`CLOTHING_V1`, unchanged since the first release.
"""

from __future__ import annotations

import tempfile
import urllib.request
import zipfile
from pathlib import Path

import torch
from tqdm import tqdm

from core.data.base import DATASETS, DatasetSpec
from core.data.folder import (  # noqa: F401  (MAX_PHOTO_PIXELS: where it was always imported from)
    CLOTHING_V1,
    MAX_PHOTO_PIXELS,
    decode_image,
    fingerprint,
    read_cache,
    scan,
    warn_skipped,
    write_cache,
)
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


def _decode(path: Path, image_size: int, channels: int) -> torch.Tensor | None:
    """One photo as uint8 [channels, image_size, image_size], or None if it is not a readable image."""
    return decode_image(path, image_size, channels, CLOTHING_V1)


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
    classes, files = scan(folder)
    if not files:
        raise DataError(f"no images found in {folder}")

    key = f"clothing-{split}-{image_size}px-{channels}ch-v{CACHE_VERSION}-{fingerprint(folder, [f for f, _ in files])}"
    cache = cache_dir() / f"{key}.safetensors"
    cached = read_cache(cache)
    if cached is not None:
        images, label_t, classes, skipped = cached
        warn_skipped(skipped, folder)  # repeat the warning: the skipped files are still there
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
    warn_skipped(skipped, folder)
    images, label_t = torch.stack(decoded), torch.tensor(labels, dtype=torch.int64)

    write_cache(cache, images, label_t, classes, skipped)
    return images, label_t, classes


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
