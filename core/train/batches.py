"""Real batches by step: which images iteration `step` reads depends only on (seed, step, rank, repeat).

The images form one endless sequence, epoch after epoch, each epoch a fresh
permutation of the data (seeded by the run's seed and the epoch) cut to a
whole number of `batch_size x world` batches. Real batch k of the run takes
the next `size` positions of that sequence on each process. The batch size
may change along the run (`BatchSchedule`: ProGAN's batch per stage); with
one size, no batch straddles two epochs.

Resuming at step k therefore reads exactly the batches an uninterrupted run
would have read, and random flips and shifts are seeded by the same key.

The data may be in memory (ImageData) or streamed (core.data.stream.StreamingData,
decoded in worker processes): either way `indices` alone says which images a batch
holds. Each read also hands the data `upcoming`, the index lists of the batches
that follow in reading order, so streamed data can decode them ahead; in-memory
data ignores it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from core.data import ImageData
from core.data.stream import StreamingData
from core.errors import UserError


@dataclass(frozen=True)
class BatchSchedule:
    """Batch size by step: `sizes[i]` from step `starts[i]` on (starts[0] == 0, increasing)."""

    starts: tuple[int, ...] = (0,)
    sizes: tuple[int, ...] = (64,)

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0] != 0 or len(self.starts) != len(self.sizes):
            raise ValueError(f"a batch schedule starts at step 0 with one size per start, got {self}")
        if any(b <= a for a, b in zip(self.starts, self.starts[1:])) or min(self.sizes) < 1:
            raise ValueError(f"a batch schedule needs increasing starts and sizes >= 1, got {self}")

    @classmethod
    def constant(cls, size: int) -> BatchSchedule:
        return cls((0,), (size,))

    def size_at(self, step: int) -> int:
        return self.sizes[bisect.bisect_right(self.starts, step) - 1]

    def images_before(self, step: int) -> int:
        """Images one process reads per repeat in steps 0 .. step - 1."""
        total = 0
        for i, (start, size) in enumerate(zip(self.starts, self.sizes)):
            end = self.starts[i + 1] if i + 1 < len(self.starts) else math.inf
            if step <= start:
                break
            total += (min(step, end) - start) * size
        return int(total)

    def step_reaching(self, images: float) -> int:
        """The first step after which `images_before(step) >= images` (per process and repeat)."""
        for i, (start, size) in enumerate(zip(self.starts, self.sizes)):
            before = self.images_before(start)
            end = self.starts[i + 1] if i + 1 < len(self.starts) else None
            if end is None or self.images_before(end) >= images:
                return start + max(0, math.ceil((images - before) / size - 1e-9))
        raise AssertionError("unreachable")


class BatchStream:
    """Deterministic batches by step: a fixed permutation per epoch, a shard per process.

    An iteration reads `per_step` real batches (a phase with 5 repeats takes a
    fresh one each time), each of the schedule's size at that step.
    """

    def __init__(
        self, data: ImageData | StreamingData, batch_size: int, seed: int, rank: int = 0, world: int = 1,
        hflip: bool = False, shift: int = 0, per_step: int = 1, schedule: BatchSchedule | None = None,
        examples: Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]] | None = None,
        image_fields: tuple[str, ...] = ("images",),
    ):
        self.schedule = schedule or BatchSchedule.constant(batch_size)
        largest = max(self.schedule.sizes + (batch_size,))
        if len(data) < largest * world:
            raise UserError(f"batch size {largest} x {world} process(es) is larger than the dataset ({len(data)} images)")
        if shift < 0 or shift >= data.image_size // 2:
            raise UserError(f"shift must be between 0 and {data.image_size // 2 - 1} pixels, got {shift}")
        self.data, self.batch_size, self.seed, self.rank, self.world = data, batch_size, seed, rank, world
        self.hflip, self.shift, self.per_step = hflip, shift, per_step
        # the data mode's fields from (images, labels), and which of them flips and shifts move together
        self.examples = examples or (lambda images, labels: {"images": images, "labels": labels})
        self.image_fields = image_fields
        self.batches_per_epoch = len(data) // (batch_size * world)  # of `batch_size`
        self.epoch_length = self.batches_per_epoch * batch_size * world  # positions used per epoch
        self._orders: dict[int, torch.Tensor] = {}

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of the data that epoch `epoch` reads (its first `epoch_length` entries)."""
        if epoch not in self._orders:
            if len(self._orders) > 2:
                self._orders.pop(min(self._orders))
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._orders[epoch] = torch.randperm(len(self.data), generator=rng)
        return self._orders[epoch]

    def indices(self, step: int, repeat: int = 0) -> torch.Tensor:
        """Data indices [size] of iteration `step`'s batch `repeat` on this process."""
        if not 0 <= repeat < self.per_step:
            raise ValueError(f"repeat {repeat} is outside the {self.per_step} batches of a step")
        size = self.schedule.size_at(step)
        before = self.schedule.images_before(step) * self.per_step + repeat * size  # per process
        start = before * self.world + self.rank * size
        positions = torch.arange(start, start + size)
        epochs, offsets = positions // self.epoch_length, positions % self.epoch_length
        return torch.cat([self.order(int(e))[offsets[epochs == e]] for e in torch.unique(epochs)])

    def __call__(self, step: int, repeat: int = 0) -> dict[str, torch.Tensor]:
        """The batch of iteration `step`, repeat `repeat`: the data mode's fields (core.data.modes), by default
        "images" [B, C, H, W] in [-1, 1] and "labels" [B]. Flips and shifts move every image field of an
        example alike (a paired photo and its edges)."""
        images, labels = self.data.batch(self.indices(step, repeat), upcoming=lambda: self.upcoming(step, repeat))
        batch = self.examples(images, labels)
        key = (self.seed, step, self.rank) if repeat == 0 else (self.seed, step, self.rank, repeat)
        rng = torch.Generator().manual_seed(hash(key) % 2**62)
        if self.hflip:
            flip = torch.rand(images.shape[0], generator=rng) < 0.5
            for name in self.image_fields:
                batch[name][flip] = batch[name][flip].flip(-1)
        if self.shift:
            offsets = shift_offsets(images.shape[0], self.shift, rng)
            for name in self.image_fields:
                batch[name] = shifted(batch[name], self.shift, offsets)
        return batch

    def upcoming(self, step: int, repeat: int = 0) -> Iterator[torch.Tensor]:
        """Data indices of the batches read after iteration `step`'s batch `repeat`, in the order the trainer reads
        them (the step's next repeats, then every batch of the following steps), without end."""
        while True:
            repeat += 1
            if repeat == self.per_step:
                step, repeat = step + 1, 0
            yield self.indices(step, repeat)

    @property
    def domain_sizes(self) -> dict[str, int]:
        """Images in the data each stream reads, by batch field ("" for the one stream of every field)."""
        return {"": len(self.data)}

    def images_read(self, step: int) -> int:
        """Real images read by every process in iterations 0 .. step - 1."""
        return self.schedule.images_before(step) * self.per_step * self.world

    def epochs_done(self, step: int) -> float:
        """Passes over the data after `step` iterations."""
        return self.images_read(step) / self.epoch_length

    def steps_for(self, epochs: float) -> int:
        """Iterations that read `epochs` passes over the data (rounded up)."""
        return self.schedule.step_reaching(epochs * self.epoch_length / (self.per_step * self.world))


def shift_offsets(n: int, shift: int, rng: torch.Generator) -> list[list[int]]:
    """(dy, dx) per image, each in 0 .. 2 * shift (the top-left corner in the padded image)."""
    return torch.randint(0, 2 * shift + 1, (n, 2), generator=rng).tolist()


def shifted(images: torch.Tensor, shift: int, offsets: list[list[int]]) -> torch.Tensor:
    """Each image [B, C, H, W] translated by its (dy, dx) - shift pixels (edges replicated)."""
    size = images.shape[-1]
    padded = torch.nn.functional.pad(images, (shift,) * 4, mode="replicate")
    return torch.stack([padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(offsets)])


def random_shift(images: torch.Tensor, shift: int, rng: torch.Generator) -> torch.Tensor:
    """Each image [B, C, H, W] translated by up to `shift` pixels per axis (edges replicated)."""
    return shifted(images, shift, shift_offsets(images.shape[0], shift, rng))


class DomainStreams:
    """Unpaired data: one BatchStream per domain, each shuffled with a seed of its own, merged into one batch
    {field: images}. The first domain sets the epoch (an example is one image of each domain)."""

    def __init__(self, streams: dict[str, BatchStream]):
        self.streams = streams
        self.primary = next(iter(streams.values()))

    def __call__(self, step: int, repeat: int = 0) -> dict[str, torch.Tensor]:
        return {name: stream(step, repeat)["images"] for name, stream in self.streams.items()}

    @property
    def domain_sizes(self) -> dict[str, int]:
        return {name: len(stream.data) for name, stream in self.streams.items()}

    def __getattr__(self, name: str):  # epochs, images read, schedule: the first domain's
        return getattr(self.primary, name)


def mode_stream(mode, data, load, batch_size: int, seed: int, rank: int = 0, world: int = 1, hflip: bool = False,
                shift: int = 0, per_step: int = 1, schedule: BatchSchedule | None = None) -> BatchStream | DomainStreams:
    """The batches of `data` in data mode `mode` (core.data.modes): one stream, or one per domain."""
    parts = mode.domain_data(data, load)
    common = {"batch_size": batch_size, "rank": rank, "world": world, "hflip": hflip, "shift": shift, "per_step": per_step,
                  "schedule": schedule}
    if list(parts) == [""]:
        return BatchStream(data, seed=seed, examples=mode.examples, image_fields=mode.image_fields, **common)
    streams = {}
    for i, (name, part) in enumerate(parts.items()):
        try:
            streams[name] = BatchStream(part, seed=seed + i, **common)
        except UserError as err:
            raise UserError(f"domain {name} ({len(part)} images): {err}") from None
    return DomainStreams(streams)
