"""Decoding a source's images in worker processes: all at once (into memory) or batch by batch (streaming).

`StreamingData` is the streamed counterpart of `ImageData`: the same `batch(index)`
interface, the same tensors, but the images are decoded when a batch is read, in
DataLoader worker processes, a few batches ahead. Which images a batch holds is
still decided by the caller alone (BatchStream.indices: seed, step, rank, repeat):
the workers only decode the index lists they are handed, so a streamed run reads
bit-identical batches to an in-memory one.

Read-ahead: `batch(index, upcoming)` takes an optional callable that gives the
index lists of the batches that will be read next, in order (BatchStream passes
its own continuation). While the reads follow that plan, the workers stay
`PREFETCH_PER_WORKER` batches per worker ahead; a read off the plan (resuming at
another step, a preview batch) restarts the read-ahead from there, discarding what
was decoded for the old plan. Correctness never depends on the plan: a prefetched
batch is used only for exactly the index list it was decoded for.

An image that passed the header check but fails to decode when its batch is read
(a truncated file) is replaced by the next readable image after it, with a warning;
the in-memory path skips such files instead. Workers are daemon processes, shut down
by `close()`, when the data object is garbage-collected, or at exit.
"""

from __future__ import annotations

import itertools
import os
import signal
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Self

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from core.data.folder import decode_image
from core.errors import DataError, UserError

PREFETCH_PER_WORKER = 4  # batches each worker keeps decoded ahead
Upcoming = Callable[[], Iterator[torch.Tensor]]  # index lists [B] of the batches read after this one, in order


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def stream_workers(requested: int = 0) -> int:
    """Worker processes for streaming: `requested`, or (0) half the CPUs, 1 to 8, so training keeps the rest."""
    return requested if requested > 0 else max(1, min(8, cpu_count() // 2))


def decode_workers(requested: int = 0) -> int:
    """Worker processes for decoding a whole split into memory: `requested`, or (0) every CPU up to 8 (none on one)."""
    if requested > 0:
        return requested
    cpus = cpu_count()
    return min(8, cpus) if cpus > 1 else 0


class Decoder(Dataset):
    """Decodes the images at `positions` (indices into `source`; all of them when None) as uint8 arrays.

    `__getitems__(batch)` returns (images uint8 [B, C, S + 2 pad, S + 2 pad], source indices that failed,
    which rows decoded). With `substitute`, a failed image is replaced by the next one that decodes (streaming:
    a batch keeps its size); without, its row stays zero and is marked (decoding into memory: it is skipped).
    """

    def __init__(
        self,
        source: Any,
        positions: Sequence[int] | None,
        image_size: int,
        channels: int,
        pad: int = 0,
        substitute: bool = False,
    ):
        self.source, self.positions = source, positions
        self.image_size, self.channels, self.pad, self.substitute = image_size, channels, pad, substitute

    def __len__(self) -> int:
        return len(self.positions) if self.positions is not None else len(self.source)

    def _index(self, position: int) -> int:
        return self.positions[position] if self.positions is not None else position

    def _decode(self, file: Any) -> torch.Tensor | None:
        return decode_image(file, self.image_size, self.channels, self.source.decoding)

    def __getitems__(self, batch: Sequence[int]) -> tuple[np.ndarray, list[int], np.ndarray]:
        side = self.image_size + 2 * self.pad
        out = np.zeros((len(batch), self.channels, side, side), dtype=np.uint8)  # the padding is black
        ok = np.ones(len(batch), dtype=bool)
        failed: list[int] = []
        inner = slice(self.pad, self.pad + self.image_size)
        files = self.source.items([self._index(p) for p in batch])
        for row, (position, file) in enumerate(zip(batch, files)):
            image = self._decode(file)
            if image is None:
                failed.append(self._index(position))
                image = self._replacement(position) if self.substitute else None
            if image is None:
                ok[row] = False
            else:
                out[row, :, inner, inner] = image.numpy()
        return out, failed, ok

    def _replacement(self, position: int) -> torch.Tensor:
        """The next image after `position` (cyclically) that decodes."""
        n = len(self)
        for step in range(1, n):
            image = self._decode(self.source.items([self._index((position + step) % n)])[0])
            if image is not None:
                return image
        raise DataError(f"none of the {n:,} images of {self.source.title} could be decoded")


def _ignore_stop_signals(worker_id: int) -> None:
    """A worker's init: Ctrl-C (sent to the whole process group) and SIGTERM are the main process's to handle.

    The trainer answers them by finishing its step, which may read more batches; a worker that died of the signal
    would fail that read. Workers still stop with the main process (torch's watchdog) and when closed.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _as_is(decoded):
    """The collate function: the decoder returns whole batches already (module level, so workers can pickle it)."""
    return decoded


def decoding_loader(
    decoder: Decoder, batches: Iterable[list[int]], workers: int, persistent: bool = False
) -> DataLoader:
    """A DataLoader whose workers decode `batches` (lists of positions) in order; `workers` >= 1."""
    # A private generator: DataLoader draws its workers' base seed from it, never from the global RNG, which a
    # training run's other draws (initial weights, latents) must find as an in-memory run leaves it.
    return DataLoader(
        decoder,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=PREFETCH_PER_WORKER,
        persistent_workers=persistent,
        generator=torch.Generator().manual_seed(0),
        worker_init_fn=_ignore_stop_signals,
    )


def _key(index: torch.Tensor) -> bytes:
    return index.to(torch.int64).numpy().tobytes()


class _Plan:
    """The batch sampler of the streaming DataLoader: the index lists of the owner's current plan, each one
    recorded in `pending` as the loader takes it, so the owner knows which batch the loader returns next.

    It holds its owner weakly: the owner's plan leads back to the owner (through the BatchStream that reads it),
    and the workers' finalizer must not keep the owner alive.
    """

    def __init__(self, owner: StreamingData) -> None:
        self.owner = weakref.ref(owner)
        self.pending: deque[bytes] = deque()

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            owner = self.owner()
            index = next(owner._plan, None) if owner is not None else None
            del owner  # no strong reference between two batches
            if index is None:
                return
            self.pending.append(_key(index))
            yield index.tolist()


class _Workers:
    """The DataLoader, its plan and its iterator: what the finalizer shuts down."""

    def __init__(self, owner: StreamingData, workers: int):
        self.plan = _Plan(owner)
        self.loader = decoding_loader(owner.decoder, self.plan, workers, persistent=True)
        self.iterator: Iterator | None = None

    def restart(self) -> None:
        self.plan.pending.clear()
        self.iterator = iter(self.loader)  # persistent workers: drops what was decoded for the old plan

    def close(self) -> None:
        iterator, self.iterator = self.iterator, None
        self.loader._iterator = None
        shutdown = getattr(iterator, "_shutdown_workers", None)  # what the iterator's __del__ would do, now
        if shutdown is not None:
            shutdown()


class StreamingData:
    """A split too large for memory (or streamed on request), decoded batch by batch in worker processes.

    `batch(index)` returns exactly what `ImageData.batch` would for the same data: float images [B, C, H, W] in
    [-1, 1] and int64 labels [B]. `workers` 0 decodes in this process, without read-ahead.
    """

    def __init__(
        self, source: Any, positions: Sequence[int], image_size: int, channels: int, pad: int = 0, workers: int = 1
    ):
        self.source, self.dataset, self.split, self.title = source, source.name, source.split, source.title
        self.positions = list(positions)
        self.labels = source.labels[torch.as_tensor(self.positions, dtype=torch.int64)]
        self.class_names = list(source.class_names)
        self.pad, self.workers = pad, workers
        self._size, self._channels = image_size, channels
        self.decoder = Decoder(source, self.positions, image_size, channels, pad, substitute=True)
        self._plan: Iterator[torch.Tensor] = iter(())  # the index lists the workers decode, in order
        self._workers: _Workers | None = None
        self._finalizer: weakref.finalize | None = None
        self._failed: set[int] = set()

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def image_size(self) -> int:
        return self._size + 2 * self.pad

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def images(self) -> torch.Tensor:
        raise UserError(
            f"{self.dataset} is streamed (decoded batch by batch), so its images are not all in memory: "
            "read batches with .batch(index), or load it with data_loading=memory"
        )

    def batch(self, index: torch.Tensor, upcoming: Upcoming | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images [B, C, H, W] in [-1, 1] and int64 labels [B] for `index` [B]; `upcoming` gives the index
        lists that will be read after this one, for the workers to decode ahead."""
        index = index.cpu()
        if self.workers == 0:
            decoded, failed, _ = self.decoder.__getitems__(index.tolist())
        else:
            decoded, failed, _ = self._read(index, upcoming)
        self._note_failures(failed)
        return torch.from_numpy(decoded).float() / 127.5 - 1.0, self.labels[index]

    def _read(self, index: torch.Tensor, upcoming: Upcoming | None):
        workers = self._start()
        if not workers.plan.pending or workers.plan.pending[0] != _key(index):  # off the plan: start a new one here
            self._plan = itertools.chain([index], upcoming() if upcoming is not None else ())
            workers.restart()
        try:
            decoded = next(workers.iterator)
        except UserError as err:  # raised in a worker: torch adds the worker's traceback; keep the one line
            raise type(err)(str(err).strip().splitlines()[-1].split(": ", 1)[-1]) from None
        except RuntimeError as err:
            if "DataLoader worker" not in str(err):
                raise
            raise DataError(
                f"a worker decoding {self.title} stopped ({str(err).splitlines()[0]}): try fewer workers "
                "(--set workers=1) or data_loading=memory"
            ) from None
        workers.plan.pending.popleft()
        return decoded

    def _start(self) -> _Workers:
        if self._workers is None:
            self._workers = _Workers(self, self.workers)
            self._finalizer = weakref.finalize(self, self._workers.close)
        return self._workers

    def _note_failures(self, failed: list[int]) -> None:
        new = set(failed) - self._failed
        if new:
            self._failed |= new
            warnings.warn(
                f"{len(self._failed)} image(s) of {self.title} could not be decoded; each is replaced by the "
                "next readable one (data_loading=memory skips them instead)",
                stacklevel=4,
            )

    def close(self) -> None:
        """Stop the worker processes (reading again starts new ones)."""
        if self._finalizer is not None:
            self._finalizer()
        self._workers = self._finalizer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        how = f"streamed by {self.workers} worker process(es)" if self.workers else "streamed, decoded in this process"
        return (
            f"{describe_source(self.title, self.split, len(self), self.num_classes, self.pad, self.image_size)}, {how}"
        )


def describe_source(title: str, split: str, n: int, classes: int, pad: int, image_size: int) -> str:
    """ "folder /data/jewellery, train split, 1,204 images, 3 classes" (a `folder:` or `hf:` split)."""
    head = f"{title}, {split} split" + (f" (padded by {pad} px to {image_size} px)" if pad else "")
    return f"{head}, {n:,} images, " + (f"{classes} classes" if classes > 1 else "1 class (no labels)")
