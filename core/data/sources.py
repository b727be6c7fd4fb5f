"""The user's own images as training data: `folder:PATH` and `hf:REPO` sources, in memory or streamed.

A source (core.data.folder.FolderSource, core.data.hf.HFSource) is one split,
scanned but not decoded: its length, class names, labels and the encoded images
(`items(indices)`). `load_source` turns it into training data:

- in memory (`ImageData`): every image decoded once, in worker processes, into
  uint8 [N, C, S, S], and cached as safetensors under core.paths.cache_dir(), keyed
  by what the pixels depend on (the files' fingerprint, size, channels, decoding),
  so later runs start at once; unreadable images are skipped and counted.
- streamed (`core.data.stream.StreamingData`): decoded batch by batch in worker
  processes, a few batches ahead; the same batches, bit for bit.

`data_loading` "auto" keeps a split in memory when its decoded size, N x C x S x S
bytes (S including padding), is at most `MEMORY_FRACTION` of the memory available
when the run starts (MemAvailable), and streams it otherwise; "memory" and "stream"
force the choice. `workers` 0 means: for decoding into memory every CPU (up to 8),
for streaming half of them (1 to 8), leaving the rest to training.

Streaming first reads every image's header (cached like the images) to leave out
files that are not readable images, as the in-memory path does, so both paths
index the same images.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from tqdm import tqdm

from core.data.base import ImageData
from core.data.folder import probe_image, read_cache, read_tensors, warn_skipped, write_cache, write_tensors
from core.data.stream import Decoder, StreamingData, decode_workers, decoding_loader, stream_workers
from core.errors import DataError, UserError
from core.paths import cache_dir

PREFIXES = ("folder:", "hf:")
LOADING = ("auto", "memory", "stream")
DEFAULT_SIZE = 64  # image_size when the caller gives none
MEMORY_FRACTION = 0.25  # of the available memory a split may take when data_loading is auto
SOURCE_CACHE_VERSION = 1  # bump when decoding or caching of sources changes
CHUNK = 64  # images per task when decoding a whole split


def is_source(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIXES)


def open_source(name: str, split: str):
    """The FolderSource or HFSource that `name` ("folder:PATH", "hf:REPO") names, for `split`."""
    if name.startswith("folder:"):
        from core.data.folder import FolderSource

        return FolderSource.open(name, split)
    from core.data.hf import HFSource

    return HFSource.open(name, split)


def check_name(name: str) -> None:
    """A quick look at a source name before anything is loaded: a folder: path exists, an hf: reference parses
    (and its local copy exists). Built-in names pass (load_dataset names the known ones)."""
    if name.startswith("folder:"):
        from core.data.folder import folder_root

        folder_root(name)
    elif name.startswith("hf:"):
        from core.data.hf import HFRef

        ref = HFRef.parse(name)
        if ref.path is not None and not ref.path.is_dir():
            raise DataError(f"{name}: {ref.path} is not a folder (a save_to_disk folder or a folder of parquet files)")


def available_memory() -> int:
    """Bytes of memory available now (Linux MemAvailable; elsewhere free pages; 8 GiB when neither can be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def memory_budget() -> int:
    """Bytes a decoded split may take in memory when data_loading is auto."""
    return int(available_memory() * MEMORY_FRACTION)


def choose_loading(requested: str, images: int, channels: int, side: int) -> str:
    """ "memory" or "stream": `requested`, or for "auto" by the decoded size against `memory_budget()`."""
    if requested not in LOADING:
        raise UserError(f"data_loading must be one of {', '.join(LOADING)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "memory" if images * channels * side * side <= memory_budget() else "stream"


def load_source(
    name: str,
    split: str = "train",
    *,
    image_size: int | None = None,
    channels: int | None = None,
    pad: int = 0,
    loading: str = "auto",
    workers: int = 0,
    conditional: bool = False,
) -> ImageData | StreamingData:
    """One split of a `folder:` or `hf:` source, in memory or streamed (see the module docstring)."""
    size = DEFAULT_SIZE if image_size is None else image_size
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise UserError(f"workers must be a whole number >= 0 (0 = automatic), got {workers!r}")
    if loading not in LOADING:
        raise UserError(f"data_loading must be one of {', '.join(LOADING)}, got {loading!r}")
    source = open_source(name, split)
    if conditional and len(source.class_names) < 2:
        raise UserError(
            f"{name} has one class (no labels), so there is nothing to condition on: pass "
            "--set conditional=false, or give it one subfolder per class (hf: a label column)"
        )
    chans = channels or source.native_channels()
    side = size + 2 * pad
    if choose_loading(loading, len(source), chans, side) == "stream":
        positions = readable(source)
        return StreamingData(source, positions, size, chans, pad, stream_workers(workers))
    images, labels, skipped = decode_all(source, size, chans, decode_workers(workers))
    warn_skipped(skipped, source.title, stacklevel=4)
    if pad:
        images = torch.nn.functional.pad(images, (pad, pad, pad, pad))  # black borders, as for the built-in sets
    return ImageData(images, labels, list(source.class_names), name, split, pad, title=source.title)


def _cache_file(source, *parts: object):
    key = source.cache_key()
    return None if key is None else cache_dir() / f"{'-'.join(str(p) for p in (key, *parts))}.safetensors"


def decode_all(source, image_size: int, channels: int, workers: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Every image of `source` as uint8 [N, C, S, S] with its labels [N] and the count of skipped (unreadable)
    files; read from the cache when it has them, else decoded in `workers` processes and cached."""
    cache = _cache_file(source, f"{image_size}px", f"{channels}ch", source.decoding.tag, f"v{SOURCE_CACHE_VERSION}")
    cached = read_cache(cache) if cache is not None else None
    if cached is not None:
        images, labels, _, skipped = cached
        return images, labels, skipped
    n = len(source)
    decoder = Decoder(source, None, image_size, channels)
    chunks = [list(range(start, min(start + CHUNK, n))) for start in range(0, n, CHUNK)]
    results = map(decoder.__getitems__, chunks) if workers == 0 else decoding_loader(decoder, chunks, workers)
    images = torch.empty((n, channels, image_size, image_size), dtype=torch.uint8)
    ok = np.zeros(n, dtype=bool)
    with tqdm(total=n, desc=f"decoding {source.title}", unit="img", disable=None, leave=False) as bar:
        for number, (decoded, _, decoded_ok) in enumerate(results):  # to the end: the loader's workers then stop
            start = number * CHUNK
            images[start : start + len(decoded)] = torch.from_numpy(decoded)
            ok[start : start + len(decoded)] = decoded_ok
            bar.update(len(decoded))
    skipped = int(n - ok.sum())
    if skipped == n:
        raise DataError(f"{source.name}: none of the {n:,} images in {source.title} could be read")
    labels = source.labels
    if skipped:
        keep = torch.from_numpy(np.flatnonzero(ok))
        images, labels = images[keep], labels[keep]
    if cache is not None:
        write_cache(cache, images, labels, list(source.class_names), skipped)
    return images, labels, skipped


def readable(source) -> list[int]:
    """Indices of the images whose header reads (and that are not too large), as streaming indexes them; the
    others are counted in a warning. Cached by the source's fingerprint."""
    cache = _cache_file(source, "readable", f"v{SOURCE_CACHE_VERSION}")
    found = read_tensors(cache) if cache is not None else None
    if found is not None and "readable" in found[0]:
        positions = found[0]["readable"].tolist()
    else:
        positions = []
        n = len(source)
        with tqdm(total=n, desc=f"checking {source.title}", unit="img", disable=None, leave=False) as bar:
            for start in range(0, n, CHUNK):
                chunk = range(start, min(start + CHUNK, n))
                positions += [i for i, file in zip(chunk, source.items(chunk)) if probe_image(file) is not None]
                bar.update(len(chunk))
        if cache is not None:
            write_tensors(cache, {"readable": torch.tensor(positions, dtype=torch.int64)}, {})
    if not positions:
        raise DataError(f"{source.name}: none of the {len(source):,} images in {source.title} could be read")
    if len(positions) < len(source):
        warnings.warn(
            f"skipped {len(source) - len(positions)} unreadable or non-image files in {source.title}", stacklevel=4
        )
    return positions
