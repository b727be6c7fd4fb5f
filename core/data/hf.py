"""`hf:` sources: image data sets read through the Hugging Face `datasets` library.

    hf:OWNER/NAME                 a data set on the Hub (its default config)
    hf:OWNER/NAME:CONFIG          one config of it
    hf:/path/to/folder            a local copy: a folder written by `Dataset.save_to_disk` or
                                  `DatasetDict.save_to_disk`, or a folder of parquet files
                                  (a path starts with /, ./, ../ or ~)
    ...?image=COLUMN&label=COLUMN which columns to read (label=none: no labels, even if there is a column)

The split is the run's `split` (default train). A DatasetDict, on the Hub or on disk,
has the splits it lists; parquet files are split by their names as `datasets` reads
them (train-*.parquet, test/...); a single saved Dataset is the train split (and
its own split name, if it recorded one).

Columns: the image column is the first `datasets.Image` feature, else a column named
image or img (paths or encoded bytes, cast to images); the label column is the first
`ClassLabel` feature (class names from its names), else a column named label or
labels (class names: its sorted distinct values). Without one, the data has one class
(unconditional training).

On the Hub a data set is downloaded once into the Hugging Face cache
(`HF_HOME`, `HF_DATASETS_CACHE`); later runs and offline runs (HF_HUB_OFFLINE=1)
read it from there. Images are decoded like `folder:` images (core.data.folder's
`USER_IMAGES`), straight from the bytes in the Arrow files, which stay memory-mapped.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import torch

from core.data.folder import CHANNEL_SAMPLE, USER_IMAGES, Decoding, ImageFile, native_channels
from core.errors import DataError, UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
IMAGE_NAMES = ("image", "img")
LABEL_NAMES = ("label", "labels")
NO_LABELS = "none"
EMPTY_SPLIT = re.compile(r'Instruction "([^"]+)" corresponds to no data')  # how datasets says a split has no rows


@dataclass(frozen=True)
class HFRef:
    """What `hf:...` names: a Hub id (with an optional config) or a local folder, and the chosen columns."""

    text: str  # the dataset as given
    repo: str = ""  # Hub id
    config: str | None = None
    path: Path | None = None  # a local copy
    image: str | None = None
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> HFRef:
        body = text.removeprefix("hf:")
        body, _, query = body.partition("?")
        options: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key not in ("image", "label"):
                raise UserError(f"{text}: unknown option {key!r} (known: image=COLUMN, label=COLUMN or label=none)")
            options[key] = value
        if not body:
            raise UserError("hf: needs a data set, e.g. hf:owner/name, hf:owner/name:config or hf:/path/to/folder")
        if body.startswith(("/", "./", "../", "~")) or body in (".", ".."):
            return cls(text, path=Path(body).expanduser().resolve(), **options)
        repo, _, config = body.partition(":")
        if not HUB_ID.match(repo):
            raise UserError(
                f"{text}: {repo!r} is not a Hub data set id (owner/name); a local folder starts with / ./ or ~"
            )
        return cls(text, repo=repo, config=config or None, **options)

    @property
    def title(self) -> str:
        if self.path is not None:
            return f"hf {self.path}"
        return f"hf {self.repo}" + (f" ({self.config})" if self.config else "")


def _library():
    try:
        import datasets
    except ImportError:  # pragma: no cover - it is in requirements.txt
        raise UserError("hf: sources need the datasets package: pip install -r requirements.txt") from None
    return datasets


def _cache_dir() -> str | None:
    return os.environ.get("HF_DATASETS_CACHE") or None  # read at each load, so a run (or a test) may point it elsewhere


def open_splits(ref: HFRef) -> Any:
    """The Dataset or DatasetDict `ref` names, without decoding anything; a DataError when it cannot be had."""
    datasets = _library()
    datasets.disable_progress_bars()  # they would scroll between the trainer's own lines
    if ref.path is not None:
        if not ref.path.is_dir():
            raise DataError(
                f"{ref.text}: {ref.path} is not a folder (a save_to_disk folder or a folder of parquet files)"
            )
        if (ref.path / "dataset_dict.json").is_file() or (ref.path / "state.json").is_file():
            try:
                return datasets.load_from_disk(str(ref.path))
            except (OSError, ValueError, KeyError, IndexError) as err:  # IndexError: datasets on an empty saved split
                raise DataError(
                    f"{ref.text}: {ref.path} could not be read as a saved data set "
                    f"({_first_line(err) if not isinstance(err, IndexError) else 'an empty split?'})"
                ) from None
        if not any(ref.path.rglob("*.parquet")):
            raise DataError(
                f"{ref.text}: {ref.path} holds neither a data set written by save_to_disk "
                "(dataset_dict.json or state.json) nor parquet files"
            )
        try:
            return datasets.load_dataset("parquet", data_dir=str(ref.path), cache_dir=_cache_dir())
        except (OSError, ValueError) as err:
            empty = EMPTY_SPLIT.search(str(err))
            if empty:
                raise DataError(f"{ref.text}: the {empty.group(1)!r} split is empty") from None
            raise DataError(
                f"{ref.text}: the parquet files in {ref.path} could not be read ({_first_line(err)})"
            ) from None
    try:
        return datasets.load_dataset(ref.repo, ref.config, cache_dir=_cache_dir())
    except ConnectionError:  # HF_HUB_OFFLINE=1 (OfflineModeIsEnabled) or no network
        offline = "HF_HUB_OFFLINE=1" if datasets.config.HF_HUB_OFFLINE else "no connection"
        raise DataError(
            f"{ref.text}: not in the local Hugging Face cache and the Hub cannot be reached ({offline}): "
            "download it once with a connection, or pass a local copy as hf:/path/to/folder"
        ) from None
    except datasets.exceptions.DatasetNotFoundError as err:
        raise DataError(f"{ref.text}: no such data set on the Hub, or it is private ({_first_line(err)})") from None
    except (FileNotFoundError, ValueError) as err:  # e.g. a config that is missing or unknown
        raise DataError(f"{ref.text}: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def pick_split(ref: HFRef, splits: Any, split: str) -> Any:
    datasets = _library()
    if isinstance(splits, datasets.DatasetDict):
        if split not in splits:
            raise DataError(f"{ref.text}: unknown split {split!r}; known: {', '.join(splits)}")
        return splits[split]
    own = str(splits.split) if splits.split is not None else "train"
    if split not in ("train", own):
        raise DataError(f"{ref.text}: unknown split {split!r}; known: {own} (a single saved Dataset)")
    return splits


@dataclass
class HFSource:
    """One split of an `hf:` data set: its image column undecoded, its labels read."""

    name: str
    ref: HFRef
    split: str
    dataset: Any  # datasets.Dataset holding only the image column, images undecoded ({"bytes", "path"})
    image_column: str
    label_column: str | None
    class_names: list[str]
    labels: torch.Tensor  # int64 [N]
    decoding: Decoding = USER_IMAGES
    _key: str | None = field(default=None, repr=False)

    kind = "hf"

    @classmethod
    def open(cls, name: str, split: str) -> HFSource:
        ref = HFRef.parse(name)
        data = pick_split(ref, open_splits(ref), split)
        if len(data) == 0:
            raise DataError(f"{name}: the {split!r} split is empty")
        image_column = _image_column(ref, data)
        label_column, class_names, labels = _labels(ref, data)
        datasets = _library()
        images = data.select_columns([image_column])
        feature = images.features[image_column]
        if not isinstance(feature, datasets.Image) or feature.decode:
            try:
                images = images.cast_column(image_column, datasets.Image(decode=False))
            except (TypeError, ValueError) as err:
                raise DataError(
                    f"{name}: column {image_column!r} does not hold images (it is {feature}; {_first_line(err)})"
                ) from None
        return cls(name, ref, split, images, image_column, label_column, class_names, labels)

    @property
    def title(self) -> str:
        return self.ref.title

    def __len__(self) -> int:
        return len(self.labels)

    def items(self, indices: Sequence[int]) -> list[ImageFile | None]:
        """Encoded images (bytes, or a file the row points to) of rows `indices`, read in one go."""
        rows = self.dataset[list(indices)][self.image_column]
        return [_image_file(row) for row in rows]

    def cache_key(self) -> str | None:
        """What the decoded images depend on: the Arrow files (names, sizes, mtimes), split and columns; None for
        data held only in memory (nothing stable to name it by)."""
        if self._key is None:
            files = [entry["filename"] for entry in self.dataset.cache_files]
            if not files:
                return None
            h = hashlib.sha256(f"{self.split}\t{self.image_column}\t{self.label_column}\n".encode())
            for name in files:
                st = os.stat(name)
                h.update(f"{name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
            self._key = f"hf-{h.hexdigest()[:16]}"
        return self._key

    def native_channels(self) -> int:
        return native_channels([f for f in self.items(range(min(CHANNEL_SAMPLE, len(self)))) if f is not None])


def _image_file(row: Any) -> ImageFile | None:
    if isinstance(row, dict):
        if row.get("bytes"):
            return bytes(row["bytes"])
        if row.get("path"):
            return Path(row["path"])
    return None


def _image_column(ref: HFRef, data: Any) -> str:
    datasets = _library()
    columns = list(data.column_names)
    if ref.image is not None:
        if ref.image not in columns:
            raise DataError(f"{ref.text}: no column {ref.image!r}; columns: {', '.join(columns)}")
        return ref.image
    for column in columns:
        if isinstance(data.features[column], datasets.Image):
            return column
    for column in IMAGE_NAMES:
        if column in columns:
            return column
    raise DataError(
        f"{ref.text}: no image column (a datasets.Image feature, or a column named image or img); "
        f"columns: {', '.join(columns)} (name one with ?image=COLUMN)"
    )


def _labels(ref: HFRef, data: Any) -> tuple[str | None, list[str], torch.Tensor]:
    """(label column or None, class names, int64 labels [N]); without labels one class named after the data set."""
    datasets = _library()
    columns = list(data.column_names)
    column = ref.label
    if column == NO_LABELS:
        column = None
    elif column is not None:
        if column not in columns:
            raise DataError(f"{ref.text}: no label column {column!r}; columns: {', '.join(columns)}")
    else:
        column = next((c for c in columns if isinstance(data.features[c], datasets.ClassLabel)), None)
        column = column or next((c for c in LABEL_NAMES if c in columns), None)
    if column is None:
        return (
            None,
            [ref.repo.rsplit("/", 1)[-1] if ref.repo else ref.path.name],
            torch.zeros(len(data), dtype=torch.int64),
        )
    feature = data.features[column]
    values = data.select_columns([column]).with_format("arrow")[column].to_pylist()  # no image is touched
    if isinstance(feature, datasets.ClassLabel):
        if any(v is None or v < 0 for v in values):
            raise DataError(f"{ref.text}: some rows have no class in label column {column!r}")
        return column, list(feature.names), torch.tensor(values, dtype=torch.int64)
    if any(v is None or isinstance(v, (list, dict)) for v in values):
        raise DataError(f"{ref.text}: label column {column!r} must hold one class per row, with none missing")
    try:
        distinct = sorted(set(values))
    except TypeError:
        raise DataError(f"{ref.text}: label column {column!r} mixes kinds of values (numbers and text)") from None
    index = {value: i for i, value in enumerate(distinct)}
    return column, [str(v) for v in distinct], torch.tensor([index[v] for v in values], dtype=torch.int64)
