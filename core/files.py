"""Writing files so that a reader (or a kill) never sees half of one.

Every file the suite writes for others to read (sample grids, plots, summaries, cards, run records)
goes through `atomic_path`: the content lands in a temporary file beside the target and is renamed
over it, which is atomic on POSIX and Windows. A crash leaves the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write to; on a clean exit it replaces `path` (same suffix, so writers that pick a
    format by extension still do). On an exception the temporary file goes and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a hidden name beside the target, ending in the target's suffix (PIL and matplotlib pick formats by it)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """`Path.write_text`, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
