"""Image retrieval: a gallery of real photos embedded by the suite's domain extractor, searched with faiss.

    gallery = load_gallery("clothing", "train")                     # photos, labels, colours, paths
    index = build_index(gallery, extractor="classifier-clothing-64", kind="both", out="indexes/clothing-train")
    index = RetrievalIndex.load("indexes/clothing-train")           # a stale or mismatched index is refused
    found = index.search(["photo.jpg"], k=10)                       # uploads, uint8 [B, C, H, W] or embeddings [B, D]
    for match in found.matches(0): print(match.rank, match.class_name, match.color, match.distance, match.path)

Extractors (`make_extractor`): a classifier of the suite, whose penultimate `feature_dim` embedding is the
FID/KID domain feature (default `classifier-clothing-64`, shipped, works offline); `pixels:16`, the photo
area-averaged to 16 x 16 and centred (a baseline); `open_clip:MODEL/TAG` or `open_clip:MODEL:/path/to/weights`
only when the `open_clip` package and that weights file are already on this machine (never downloaded).
Embeddings are L2-normalised, so inner product is cosine similarity; a result's `distance` is 1 - cosine.

Indexes: `exact` (faiss `IndexFlatIP`) and `hnsw` (`IndexHNSWFlat`, inner product). An index folder holds:

- `index.json`: the extractor (spec, fingerprint: a hash of its weights), the gallery (dataset, split,
  folder, description, a hash of its pixels and labels, a fingerprint of its files, class names, a path per
  photo), the colour names, each file's sha256, the build times and the command that rebuilds it;
- `embeddings.safetensors`: embeddings float32 [N, D], labels int64 [N], colours int64 [N];
- `gallery.safetensors`: thumbnails uint8 [N, 3, s, s] (s <= 64), for result grids;
- `exact.faiss`, `hnsw.faiss`: `faiss.serialize_index` bytes (never pickle).

`RetrievalIndex.load` refuses, in one line that says how to rebuild: a missing or foreign folder, a file that
does not match index.json (a build cut short, a file copied from another index), an extractor whose weights
changed since the build, and a gallery whose files changed (checked from their paths, sizes and times when the
gallery folder is on this machine, or against a `gallery=` given). Every file is written atomically and
index.json last, so an interrupted build leaves either the old index or one that is refused as mismatched.

Uploads of any size and mode are converted as the data were (`core.images.open_image`, RGB with transparency
over white, the shorter side resized and the centre square cropped: `core.data.folder.square`), at the
gallery's size; the extractor then sees them exactly as it saw the gallery.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from core.errors import UserError
from core.files import atomic_path, write_text

FORMAT = "fashion-gan-lab/retrieval-index"
VERSION = 1
KINDS = ("exact", "hnsw")
DEFAULT_EXTRACTOR = "classifier-clothing-64"  # the clothing photos' domain extractor (benchmarks.fidelity)
# What `python -m core index` and the edit-then-search Space embed with: the domain extractor with the garment's
# colours beside it, equally weighted. Class recall is about the same as the domain extractor's alone; after a colour
# edit the results follow the new colour (benchmarks.retrieval, edit_search).
INDEX_EXTRACTOR = f"{DEFAULT_EXTRACTOR}+color"
DEFAULT_INDEX = Path("indexes") / "clothing-train"
META_FILE, EMBEDDINGS_FILE, GALLERY_FILE = "index.json", "embeddings.safetensors", "gallery.safetensors"
INDEX_FILES = {"exact": "exact.faiss", "hnsw": "hnsw.faiss"}
THUMBNAIL_SIDE = 64  # gallery photos larger than this are stored smaller, for result grids only
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 128
MAX_QUERIES = 4096  # queries in one search call
PIXEL_SIDE = 16  # the pixel baseline's default side


# ---------------------------------------------------------------------- extractors


class Extractor(ABC):
    """Photos -> L2-normalised embeddings. `spec` rebuilds it (`make_extractor`); `fingerprint` changes whenever
    its embeddings could (its weights), so an index built with other weights is refused."""

    spec: str  # what make_extractor takes ("" for one that cannot be rebuilt by name)
    name: str  # how tables name it
    dim: int
    image_size: int | None  # the side it embeds at; None: any (the gallery's)
    role: str = "model"  # "baseline" for the comparison embeddings

    @property
    @abstractmethod
    def fingerprint(self) -> str: ...

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Raw embeddings [B, D] of photos [B, 3, S, S] in [0, 1] (S = image_size when it is set)."""

    @torch.inference_mode()
    def embed(self, images: torch.Tensor, batch_size: int = 256, progress: bool = False, desc: str = "embedding") -> torch.Tensor:
        """L2-normalised embeddings float32 [N, D] (CPU) of photos uint8 [N, 3, H, W]."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 photos [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")
        chunks = []
        with tqdm(total=len(images), desc=desc, unit="img", disable=not progress or None, leave=False) as bar:
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size].float() / 255
                side = self.image_size
                if side is not None and tuple(x.shape[-2:]) != (side, side):
                    x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
                chunks.append(normalise(self.features(x).float().cpu()))
                bar.update(len(x))
        return torch.cat(chunks) if chunks else torch.zeros(0, self.dim)


def normalise(embeddings: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    return F.normalize(embeddings.float(), dim=1, eps=1e-12)


def state_fingerprint(network: nn.Module, tag: str) -> str:
    """sha256 of a network's class, config and every tensor of its state (weights and batch-norm statistics)."""
    digest = hashlib.sha256(f"{tag}\0{type(network).__name__}\0".encode())
    config = getattr(network, "config", None)
    if config is not None:
        digest.update(repr(config).encode())
    for key, tensor in sorted(network.state_dict().items()):
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ClassifierExtractor(Extractor):
    """A suite classifier's penultimate embedding (the FID/KID domain feature): `features(x)` [B, feature_dim]."""

    def __init__(self, classifier: nn.Module, spec: str = "", name: str | None = None, role: str = "model",
                 device: str | torch.device | None = None):
        from core.inference import resolve_device

        self.device = resolve_device(device)
        self.classifier = classifier.eval().requires_grad_(False).to(self.device)
        self.spec, self.role = spec, role
        self.name = name or (Path(spec).name if spec else "classifier")
        self.dim = classifier.feature_dim
        self.image_size = classifier.config.image_size
        self.channels = classifier.config.channels
        self._fingerprint: str | None = None

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device | None = None) -> ClassifierExtractor:
        """A classifier folder, a name in pretrained/ or a Hub id (as `ClassifierPipeline.from_pretrained`)."""
        from core.inference import load_network

        return cls(load_network(source, "classifier"), str(source), device=device)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = state_fingerprint(self.classifier, "classifier")
        return self._fingerprint

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        return self.classifier.features(x.mean(1, keepdim=True) if self.channels == 1 else x)


class PixelExtractor(Extractor):
    """The baseline: each photo area-averaged to side x side, flattened and centred (cosine = pixel correlation)."""

    role = "baseline"

    def __init__(self, side: int = PIXEL_SIDE):
        if isinstance(side, bool) or not isinstance(side, int) or not 2 <= side <= 64:
            raise UserError(f"the pixel baseline's side must be a whole number in 2..64, got {side!r}")
        self.side = side
        self.spec = f"pixels:{side}"
        self.name = f"pixels-{side}"
        self.dim = 3 * side * side
        self.image_size = None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"pixels\0{self.side}\0area-centred-v1".encode()).hexdigest()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        flat = F.adaptive_avg_pool2d(x, self.side).flatten(1)
        return flat - flat.mean(1, keepdim=True)


class OpenCLIPExtractor(Extractor):
    """open_clip's image tower, from a weights file already on this machine (never downloaded)."""

    def __init__(self, model_name: str, weights: Path, spec: str, device: str | torch.device | None = None):
        import open_clip

        from core.inference import resolve_device

        self.device = resolve_device(device)
        model = open_clip.create_model(model_name, pretrained=str(weights), device=self.device)
        self.model = model.eval().requires_grad_(False)
        self.weights, self.spec, self.name = weights, spec, f"open_clip-{model_name}"
        size = getattr(model.visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        config = getattr(model.visual, "preprocess_cfg", None) or {}
        mean = config.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = config.get("std", open_clip.OPENAI_DATASET_STD)
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)
        with torch.inference_mode():
            probe = torch.zeros(1, 3, self.image_size, self.image_size, device=self.device)
            self.dim = int(self.model.encode_image(probe).shape[1])
        self._fingerprint: str | None = None

    @classmethod
    def from_spec(cls, spec: str, device: str | torch.device | None = None) -> OpenCLIPExtractor:
        """`open_clip:MODEL/TAG` (weights in the local Hugging Face or open_clip cache) or `open_clip:MODEL:FILE`."""
        import importlib.util

        rest = spec.removeprefix("open_clip:")
        if importlib.util.find_spec("open_clip") is None:
            raise UserError(f"extractor {spec!r} needs the open_clip package, which is not installed "
                            f"(pip install open_clip_torch, plus its weights file); the default {DEFAULT_EXTRACTOR} works offline")
        if ":" in rest:
            model_name, file = rest.split(":", 1)
            weights = Path(file).expanduser()
            if not weights.is_file():
                raise UserError(f"open_clip weights file {weights} not found (they are never downloaded)")
        elif "/" in rest:
            model_name, tag = rest.split("/", 1)
            weights = cached_open_clip_weights(model_name, tag)
            if weights is None:
                raise UserError(f"open_clip weights for {model_name}/{tag} are not on this machine (looked in the Hugging "
                                "Face and open_clip caches) and are never downloaded: give a file, "
                                f"open_clip:{model_name}:/path/to/weights")
        else:
            raise UserError(f"say which open_clip weights: open_clip:MODEL/TAG or open_clip:MODEL:/path/to/weights, got {spec!r}")
        return cls(model_name, weights, spec, device)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(f"open_clip\0{self.name}\0".encode())
            with open(self.weights, "rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image((x.to(self.device) - self.mean) / self.std)


class ColorExtractor(Extractor):
    """The garment's colours: a soft histogram of its pixels (core.data.attributes' mask) over the named colours in
    Lab, each pixel shared among the palette by exp(-d^2 / 2 sigma^2). Alone a baseline; added to a classifier's
    embedding ("classifier-clothing-64+color") it makes colour count in the search."""

    role = "baseline"
    SIGMA = 12.0  # Lab units: a pixel midway between two named colours counts half to each

    def __init__(self) -> None:
        from core.data.attributes import COLOR_NAMES

        self.spec, self.name, self.dim, self.image_size = "color", "color", len(COLOR_NAMES), None

    @property
    def fingerprint(self) -> str:
        from core.data.attributes import NAMED_COLORS, pixels_key

        key = pixels_key(torch.zeros(1, dtype=torch.uint8))  # the attribute steps' version and palette
        return hashlib.sha256(f"color\0{NAMED_COLORS}\0{self.SIGMA}\0{key}".encode()).hexdigest()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        from core.data.attributes import garment_mask, palette_lab, rgb_to_lab, unit_images

        scaled = x * 2 - 1
        unit = unit_images(scaled)  # at most the attributes' working size, as the colours were named
        weight = garment_mask(scaled).flatten(1).float()  # [B, P]
        lab = rgb_to_lab(unit.permute(0, 2, 3, 1)).flatten(1, 2)  # [B, P, 3]
        distance = torch.cdist(lab, palette_lab(lab.device).expand(len(lab), -1, -1))  # [B, P, K]
        share = torch.softmax(-(distance**2) / (2 * self.SIGMA**2), dim=-1)
        return (share * weight[..., None]).sum(1) / weight.sum(1, keepdim=True).clamp_min(1)


class CombinedExtractor(Extractor):
    """Several extractors' embeddings side by side, each L2-normalised and scaled by the square root of its weight,
    so the cosine of two combined embeddings is the weighted mean of the parts' cosines."""

    def __init__(self, parts: Sequence[tuple[Extractor, float]]):
        if len(parts) < 2:
            raise UserError("a combined extractor needs at least two parts (A+B)")
        self.parts = list(parts)
        self.spec = "+".join(e.spec + (f"@{w:g}" if w != 1 else "") for e, w in self.parts)
        self.name = "+".join(e.name + (f"@{w:g}" if w != 1 else "") for e, w in self.parts)
        self.dim = sum(e.dim for e, _ in self.parts)
        sizes = {e.image_size for e, _ in self.parts} - {None}
        if len(sizes) > 1:
            raise UserError(f"the parts of {self.spec} embed at different sizes ({sorted(sizes)}); combine ones that agree")
        self.image_size = next(iter(sizes), None)
        self.role = "model" if any(e.role == "model" for e, _ in self.parts) else "baseline"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256("\0".join(f"{e.fingerprint}@{w!r}" for e, w in self.parts).encode()).hexdigest()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        total = sum(w for _, w in self.parts)
        return torch.cat([normalise(e.features(x).float().cpu()) * (w / total) ** 0.5 for e, w in self.parts], dim=1)


def cached_open_clip_weights(model_name: str, tag: str) -> Path | None:
    """The weights file open_clip would download for MODEL/TAG, when it is already in a local cache."""
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    config = open_clip.get_pretrained_cfg(model_name, tag) or {}
    hub = [part for part in str(config.get("hf_hub") or "").split("/") if part]  # "owner/repo/" or "owner/repo/file"
    if len(hub) >= 2:
        names = ["/".join(hub[2:])] if len(hub) > 2 else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            found = try_to_load_from_cache("/".join(hub[:2]), name)
            if isinstance(found, str):
                return Path(found)
    url = str(config.get("url") or "")
    local = Path("~/.cache/clip").expanduser() / Path(url).name if url else None
    return local if local is not None and local.is_file() else None


def make_extractor(spec: str | Extractor = DEFAULT_EXTRACTOR, device: str | torch.device | None = None) -> Extractor:
    """An extractor from its spec: a classifier (folder, name in pretrained/, Hub id), `pixels[:SIDE]`, `color`,
    `open_clip:MODEL/TAG` / `open_clip:MODEL:FILE` (only when present locally), or parts joined by "+", each with an
    optional "@WEIGHT" (`classifier-clothing-64+color@0.5`)."""
    if isinstance(spec, Extractor):
        return spec
    spec = str(spec).strip()
    if not spec:
        raise UserError("say which extractor embeds the photos, e.g. classifier-clothing-64")
    if "+" in spec:
        parts = []
        for part in spec.split("+"):
            name, _, weight = part.strip().rpartition("@") if "@" in part else (part.strip(), "", "1")
            try:
                value = float(weight)
            except ValueError:
                value = -1.0
            if not name or not 0 < value < float("inf"):
                raise UserError(f"each part of {spec!r} is EXTRACTOR or EXTRACTOR@WEIGHT with a weight > 0, got {part!r}")
            parts.append((make_extractor(name, device), value))
        return CombinedExtractor(parts)
    if spec == "color":
        return ColorExtractor()
    if spec == "pixels" or spec.startswith("pixels:"):
        side = spec.partition(":")[2] or str(PIXEL_SIDE)
        if not side.isdigit():
            raise UserError(f"the pixel baseline is pixels:SIDE (a whole number), got {spec!r}")
        return PixelExtractor(int(side))
    if spec.startswith("open_clip:"):
        return OpenCLIPExtractor.from_spec(spec, device)
    return ClassifierExtractor.from_pretrained(spec, device)


# ---------------------------------------------------------------------- galleries


@dataclass
class Gallery:
    """The photos an index finds: uint8 [N, 3, S, S], labels int64 [N], colour ids int64 [N], a path per photo."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    colors: torch.Tensor
    color_names: list[str]
    paths: list[str]  # relative to `folder`; "" where unknown
    dataset: str = ""  # "clothing", "folder:PATH", ...
    split: str = ""
    folder: str = ""  # the split's folder, "" when the photos do not come from one
    description: str = ""
    files_key: str = ""  # fingerprint of the files (paths, sizes, mtimes); "" when unknown

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"gallery photos must be uint8 [N, 3, S, S], got {self.images.dtype} {tuple(self.images.shape)}")
        if not n:
            raise UserError("the gallery has no photos")
        if len(self.labels) != n or len(self.colors) != n or len(self.paths) != n:
            raise ValueError(f"{n} photos need as many labels, colours and paths, got "
                             f"{len(self.labels)}, {len(self.colors)}, {len(self.paths)}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def digest(self) -> str:
        """sha256 of what the index stores about the gallery: pixels, labels, class names, colours, paths."""
        digest = hashlib.sha256(repr((tuple(self.images.shape), self.class_names, self.color_names)).encode())
        for tensor in (self.images, self.labels, self.colors):
            digest.update(tensor.contiguous().numpy().tobytes())
        digest.update("\n".join(self.paths).encode())
        return digest.hexdigest()

    @classmethod
    def from_data(cls, data, paths: Sequence[str] | None = None, folder: str | Path = "", files_key: str = "") -> Gallery:
        """A gallery from an in-memory `ImageData` (3 channels); its colours from `core.data.attributes`."""
        from core.data.attributes import COLOR_NAMES, photo_colors

        images = getattr(data, "images", None)
        if images is None:
            raise UserError(f"a gallery is built in memory; {data.describe()} is streamed")
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1).contiguous()
            data = type(data)(images, data.labels, data.class_names, data.dataset, data.split, data.pad, data.title)
        return cls(images, data.labels.long(), list(data.class_names), photo_colors(data).long(), list(COLOR_NAMES),
                   list(paths) if paths is not None else [""] * len(images), data.dataset, data.split,
                   str(folder), data.describe(), files_key)


def gallery_files(dataset: str, split: str) -> tuple[Path, list[Path]] | None:
    """The split's folder and image files, in the order the loader reads them (core.data.folder.split_files)."""
    from core.data.folder import split_files

    found = split_files(dataset, split)
    return None if found is None else found[:2]


def files_fingerprint(folder: Path, files: Sequence[Path]) -> str:
    from core.data.folder import fingerprint

    return fingerprint(folder, files)


def load_gallery(dataset: str = "clothing", split: str = "train", image_size: int | None = None) -> Gallery:
    """One split of a built-in dataset or a `folder:` source as a gallery, decoded as training decodes it."""
    from core.data import load_dataset
    from core.data.folder import decoded_files, split_files

    data = load_dataset(dataset, split, image_size=image_size, channels=3, loading="memory")
    found = split_files(dataset, split)
    if found is None:
        return Gallery.from_data(data)
    folder, files, decoding = found
    files = decoded_files(files, len(data), data.image_size, decoding)  # without the unreadable ones it skipped
    paths = [file.relative_to(folder).as_posix() for file in files]
    return Gallery.from_data(data, paths, folder, files_fingerprint(folder, files))


# ---------------------------------------------------------------------- queries


def query_photos(queries: Any, image_size: int) -> torch.Tensor:
    """Queries as photos uint8 [B, 3, S, S], converted as the data were (see the module docstring).

    `queries`: uint8 images [B, C, H, W] (C = 1, 3 or 4; torch or numpy), float ones in [0, 1], or one upload
    or a list of them: a file path, its bytes, a PIL image, an array [H, W] or [H, W, 1 | 3 | 4].
    """
    from core.inference import data_photo

    if isinstance(queries, (torch.Tensor, np.ndarray)) and queries.ndim == 4:
        batch = torch.as_tensor(np.asarray(queries)) if isinstance(queries, np.ndarray) else queries.detach().cpu()
        if batch.shape[1] not in (1, 3, 4) and batch.shape[-1] in (1, 3, 4):
            batch = batch.permute(0, 3, 1, 2)  # NHWC, as the pipelines return images
        if batch.is_floating_point():
            batch = (batch.float().clamp(0, 1) * 255).round().to(torch.uint8)
        if batch.dtype != torch.uint8 or batch.shape[1] not in (1, 3, 4):
            raise UserError(f"query images must be uint8 [B, 1 | 3 | 4, H, W] (or floats in [0, 1]), got "
                            f"{batch.dtype} {tuple(batch.shape)}")
        if batch.shape[1] == 3 and tuple(batch.shape[-2:]) == (image_size, image_size):
            return batch.contiguous()
        items: list = list(batch.permute(0, 2, 3, 1).numpy())
    elif isinstance(queries, (list, tuple)):
        items = list(queries)
    else:
        items = [queries]
    if not items:
        raise UserError("no query images")
    if len(items) > MAX_QUERIES:
        raise UserError(f"at most {MAX_QUERIES} queries per search, got {len(items)}")
    out = torch.empty((len(items), 3, image_size, image_size), dtype=torch.uint8)
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().numpy()
        out[i] = torch.from_numpy(data_photo(item, image_size).copy()).permute(2, 0, 1)
    return out


def is_embedding_batch(queries: Any) -> bool:
    """Whether `queries` are embeddings [B, D] (a 2-D float tensor or array) rather than images (a grayscale
    float image goes in a list, `[image]`)."""
    if isinstance(queries, torch.Tensor):
        return queries.dim() == 2 and queries.is_floating_point()
    return isinstance(queries, np.ndarray) and queries.ndim == 2 and np.issubdtype(queries.dtype, np.floating)


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Match:
    """One result: its rank (1 = nearest), gallery id, distance (1 - cosine similarity) and what it is."""

    rank: int
    id: int
    distance: float
    label: int
    class_name: str
    color: str
    path: str  # the photo's file ("" when unknown)


@dataclass
class SearchResults:
    """The k nearest gallery photos of each query: ids int64 [B, k] (-1: none found), distances float32 [B, k]."""

    ids: torch.Tensor
    distances: torch.Tensor
    labels: torch.Tensor  # int64 [B, k]
    class_names: list[list[str]]
    colors: list[list[str]]
    paths: list[list[str]]
    kind: str  # "exact" or "hnsw"

    def __len__(self) -> int:
        return len(self.ids)

    def matches(self, query: int = 0) -> list[Match]:
        """The results of one query, nearest first."""
        return [Match(rank + 1, int(i), float(d), int(label), name, color, path)
                for rank, (i, d, label, name, color, path) in enumerate(zip(
                    self.ids[query], self.distances[query], self.labels[query], self.class_names[query],
                    self.colors[query], self.paths[query]))]


# ---------------------------------------------------------------------- the index


@dataclass
class RetrievalIndex:
    """A gallery's embeddings, its faiss indexes (exact, hnsw or both) and what they were built from."""

    meta: dict[str, Any]
    embeddings: torch.Tensor  # float32 [N, D], L2-normalised
    labels: torch.Tensor  # int64 [N]
    colors: torch.Tensor  # int64 [N]
    thumbnails: torch.Tensor  # uint8 [N, 3, s, s]
    indexes: dict[str, Any]  # kind -> faiss index
    extractor: Extractor | None = None
    folder: Path | None = None
    _paths: list[str] | None = field(default=None, repr=False)

    # -- what it holds

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def kinds(self) -> list[str]:
        return [kind for kind in KINDS if kind in self.indexes]

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["gallery"]["class_names"])

    @property
    def color_names(self) -> list[str]:
        return list(self.meta["color_names"])

    @property
    def paths(self) -> list[str]:
        """Each photo's file (the gallery folder joined to its path), "" where unknown."""
        if self._paths is None:  # joined once: a search looks up k of them
            folder = self.meta["gallery"]["folder"]
            self._paths = [str(Path(folder) / path) if path and folder else path for path in self.meta["gallery"]["paths"]]
        return self._paths

    @property
    def image_size(self) -> int:
        return int(self.meta["gallery"]["image_size"])

    @property
    def rebuild(self) -> str:
        return self.meta.get("rebuild") or "python -m core index"

    def describe(self) -> str:
        """One line: what it indexes, with which extractor and index kinds."""
        g, e = self.meta["gallery"], self.meta["extractor"]
        return f"{g['description'] or g['dataset']} by {e['name']} ({e['dim']}-d), {' + '.join(self.kinds)}"

    # -- searching

    def embed(self, queries: Any, batch_size: int = 256) -> torch.Tensor:
        """L2-normalised embeddings [B, D] of queries: embeddings themselves, or images (see `query_photos`)."""
        dim = int(self.meta["extractor"]["dim"])
        if is_embedding_batch(queries):
            x = torch.as_tensor(np.asarray(queries) if isinstance(queries, np.ndarray) else queries).float().cpu()
            if x.shape[1] != dim:
                raise UserError(f"query embeddings are {x.shape[1]}-d; this index holds {dim}-d embeddings of "
                                f"{self.meta['extractor']['name']}")
            if not torch.isfinite(x).all():
                raise UserError("query embeddings must be finite numbers")
            return normalise(x)
        if self.extractor is None:
            raise UserError("this index was loaded without its extractor: search it with embeddings, or load it with one")
        return self.extractor.embed(query_photos(queries, self.image_size), batch_size)

    def search(self, queries: Any, k: int = 10, kind: str | None = None, ef_search: int | None = None) -> SearchResults:
        """The `k` nearest gallery photos of each query (images of any size and mode, or embeddings [B, D]).

        `kind`: "exact" or "hnsw" (default: exact when the index has it); `ef_search`: HNSW's search breadth
        (default the one stored, at least k).
        """
        from core.validation import whole_number

        k = min(whole_number(k, "k", 1), len(self))
        kind = kind or self.kinds[0]
        if kind not in self.indexes:
            raise UserError(f"this index has no {kind!r} index (it has {', '.join(self.kinds)}); rebuild it with "
                            f"--kind both: {self.rebuild}")
        x = np.ascontiguousarray(self.embed(queries).numpy(), dtype=np.float32)
        if not len(x):
            raise UserError("no queries")
        if len(x) > MAX_QUERIES:
            raise UserError(f"at most {MAX_QUERIES} queries per search, got {len(x)}")
        similarity, ids = self._search(x, k, kind, ef_search)
        return self.results(ids, similarity, kind)

    def _search(self, x: np.ndarray, k: int, kind: str, ef_search: int | None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        index = self.indexes[kind]
        if kind == "hnsw":
            breadth = max(int(ef_search or self.meta["indexes"]["hnsw"]["ef_search"]), k)
            return index.search(x, k, params=faiss.SearchParametersHNSW(efSearch=breadth))
        return index.search(x, k)

    def results(self, ids: np.ndarray, similarity: np.ndarray, kind: str) -> SearchResults:
        """SearchResults for faiss's answer: ids [B, k] (-1 where none) and inner products [B, k]."""
        ids_t = torch.from_numpy(np.asarray(ids, dtype=np.int64))
        found = ids_t >= 0
        distances = torch.where(found, 1 - torch.from_numpy(np.asarray(similarity, dtype=np.float32)), torch.inf)
        safe = ids_t.clamp_min(0)
        labels = torch.where(found, self.labels[safe], -1)
        classes, names, paths = self.meta["gallery"]["class_names"], self.meta["color_names"], self.paths
        colors = self.colors[safe]

        def lookup(table: list[str], keys: torch.Tensor) -> list[list[str]]:
            return [[table[key] if key >= 0 else "" for key in line] for line in torch.where(found, keys, -1).tolist()]

        return SearchResults(ids_t, distances, labels, lookup(classes, labels), lookup(names, colors),
                             lookup(paths, ids_t), kind)

    def grid(self, query_photos_uint8: torch.Tensor, found: SearchResults) -> np.ndarray:
        """One row per query: the query photo, then its results' thumbnails; uint8 [H, W, 3] (`core.images`)."""
        from core.images import make_grid

        side = self.thumbnails.shape[-1]
        queries = query_photos_uint8
        if tuple(queries.shape[-2:]) != (side, side):
            queries = F.interpolate(queries.float(), size=(side, side), mode="bilinear", antialias=True,
                                    align_corners=False).round().clamp(0, 255).to(torch.uint8)
        blank = torch.zeros(3, side, side, dtype=torch.uint8)
        tiles = []
        for b in range(len(found)):
            tiles.append(queries[b])
            tiles += [self.thumbnails[i] if i >= 0 else blank for i in found.ids[b].tolist()]
        return make_grid(torch.stack(tiles).permute(0, 2, 3, 1).numpy(), nrow=found.ids.shape[1] + 1)

    # -- saving and loading

    def save(self, folder: str | Path) -> Path:
        """Write the index folder (see the module docstring); index.json last."""
        import faiss

        folder = Path(folder)
        check_out_folder(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        with atomic_path(folder / EMBEDDINGS_FILE) as tmp:
            save_file({"embeddings": self.embeddings.contiguous(), "labels": self.labels.contiguous(),
                       "colors": self.colors.contiguous()}, str(tmp))
        with atomic_path(folder / GALLERY_FILE) as tmp:
            save_file({"thumbnails": self.thumbnails.contiguous()}, str(tmp))
        for kind in self.kinds:
            with atomic_path(folder / INDEX_FILES[kind]) as tmp:
                tmp.write_bytes(faiss.serialize_index(self.indexes[kind]).tobytes())
        for kind in KINDS:  # a kind left out of this build must not be taken for part of it
            if kind not in self.indexes:
                (folder / INDEX_FILES[kind]).unlink(missing_ok=True)
        for name in (EMBEDDINGS_FILE, GALLERY_FILE, *(INDEX_FILES[kind] for kind in self.kinds)):
            files[name] = file_sha256(folder / name)
        self.meta["files"] = files
        write_text(folder / META_FILE, json.dumps(self.meta, indent=1) + "\n")
        self.folder = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path, extractor: str | Extractor | None = None, gallery: Gallery | None = None,
             device: str | torch.device | None = None, check_files: bool = True) -> RetrievalIndex:
        """An index folder, checked (see the module docstring). `extractor`: None rebuilds the one it was built
        with from its spec; an Extractor (or spec) is used instead when its fingerprint is the same. `gallery`:
        also check that the index was built on exactly these photos. `check_files`: compare the gallery's
        files on disk (when its folder is here) with the ones it was built from."""
        import faiss

        folder = Path(folder)
        meta = read_meta(folder)
        rebuild = meta.get("rebuild") or "python -m core index"
        name = folder.as_posix()

        def refuse(why: str) -> UserError:
            return UserError(f"retrieval index {name} {why}: rebuild it with `{rebuild}`")

        for file, digest in meta["files"].items():
            path = folder / file
            if not path.is_file():
                raise refuse(f"is incomplete ({file} is missing)")
            if file_sha256(path) != digest:
                raise refuse(f"is mismatched: {file} is not the file index.json was written with")
        try:
            stored = load_file(folder / EMBEDDINGS_FILE)
            thumbnails = load_file(folder / GALLERY_FILE)["thumbnails"]
            indexes = {kind: faiss.deserialize_index(np.fromfile(folder / INDEX_FILES[kind], dtype=np.uint8))
                       for kind in KINDS if INDEX_FILES[kind] in meta["files"]}
            embeddings, labels, colors = stored["embeddings"], stored["labels"], stored["colors"]
        except (KeyError, OSError, RuntimeError, ValueError) as err:
            raise refuse(f"cannot be read ({type(err).__name__})") from None
        g, e = meta["gallery"], meta["extractor"]
        n, dim = int(g["n"]), int(e["dim"])
        shapes_ok = (tuple(embeddings.shape) == (n, dim) and len(labels) == n and len(colors) == n
                     and len(thumbnails) == n and len(g["paths"]) == n
                     and all(index.ntotal == n and index.d == dim for index in indexes.values()))
        if not shapes_ok or not indexes:
            raise refuse(f"is mismatched: its files do not hold the {n:,} {dim}-d embeddings index.json describes")
        built_with = e["fingerprint"]
        if extractor is None and not e.get("spec"):
            raise refuse(f"was built with {e['name']}, which cannot be rebuilt by name; load it with that extractor")
        chosen = make_extractor(extractor if extractor is not None else e["spec"], device)
        if chosen.fingerprint != built_with:
            if chosen.name != e["name"]:
                raise refuse(f"is mismatched: it holds embeddings of {e['name']}, not of {chosen.name}")
            raise refuse(f"is stale: {e['name']}'s weights changed since it was built (fingerprint "
                         f"{chosen.fingerprint[:12]}, built with {built_with[:12]})")
        if chosen.dim != dim:
            raise refuse(f"is mismatched: {chosen.name} gives {chosen.dim}-d embeddings, the index holds {dim}-d")
        if gallery is not None and gallery.digest() != g["digest"]:
            raise refuse(f"is stale: it was built on other photos than {gallery.description or 'this gallery'}")
        if check_files and g.get("files_key") and g.get("folder") and Path(g["folder"]).is_dir():
            try:
                found = gallery_files(g["dataset"], g["split"]) if g["dataset"] else None
            except UserError as err:
                raise refuse(f"is stale: its gallery can no longer be read ({err})") from None
            same_folder = found is not None and Path(found[0]).resolve() == Path(g["folder"]).resolve()
            if same_folder and files_fingerprint(*found) != g["files_key"]:
                raise refuse(f"is stale: the photos in {g['folder']} changed since it was built (added, removed or "
                             "edited files)")
        return cls(meta, embeddings.float(), labels.long(), colors.long(), thumbnails, indexes, chosen, folder)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def read_meta(folder: Path) -> dict[str, Any]:
    """index.json of an index folder, with the fields `load` relies on; else a one-line UserError."""
    build = "build one with `python -m core index --data clothing --split train --out " + shlex.quote(folder.as_posix()) + "`"
    if not folder.is_dir():
        raise UserError(f"no retrieval index at {folder.as_posix()}: {build}")
    path = folder / META_FILE
    if not path.is_file():
        raise UserError(f"{folder.as_posix()} is not a retrieval index (it has no {META_FILE}): {build}")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        raise UserError(f"{path.as_posix()} is not valid JSON: rebuild the index ({build})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"{path.as_posix()} is not a retrieval index's metadata: {build}")
    rebuild = meta.get("rebuild") or build
    if meta.get("version") != VERSION:
        raise UserError(f"retrieval index {folder.as_posix()} has format version {meta.get('version')!r}, this code reads "
                        f"version {VERSION}: rebuild it with `{rebuild}`")
    try:
        g, e = meta["gallery"], meta["extractor"]
        ok = (isinstance(meta["files"], dict) and isinstance(meta["color_names"], list)
              and all(key in g for key in ("n", "class_names", "paths", "folder", "digest", "image_size", "dataset", "split"))
              and all(key in e for key in ("name", "spec", "fingerprint", "dim")) and "hnsw" in meta["indexes"])
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise UserError(f"{path.as_posix()} lacks fields a retrieval index needs: rebuild it with `{rebuild}`")
    return meta


def check_out_folder(folder: Path) -> None:
    """An index may be written to a new folder, an empty one, or an index folder (rebuilt); nothing else."""
    if folder.is_file():
        raise UserError(f"{folder.as_posix()} is a file: give a folder for the index, e.g. indexes/clothing-train")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / META_FILE).is_file():
        raise UserError(f"{folder.as_posix()} is a folder with other files in it: give a new folder (or an index folder "
                        "to rebuild) for the index")


def rebuild_command(gallery: Gallery, extractor: Extractor, kinds: Sequence[str], out: Path | None) -> str:
    """The `python -m core index` line that builds this index again."""
    kind = "both" if set(kinds) == set(KINDS) else kinds[0]
    argv = ["python", "-m", "core", "index", "--data", gallery.dataset or "clothing", "--split", gallery.split or "train"]
    if extractor.spec and extractor.spec != INDEX_EXTRACTOR:
        argv += ["--extractor", extractor.spec]
    argv += ["--kind", kind]
    if out is not None:
        argv += ["--out", out.as_posix()]
    return shlex.join(argv)


def kinds_of(kind: str) -> list[str]:
    if kind == "both":
        return list(KINDS)
    if kind not in KINDS:
        raise UserError(f"index kind must be exact, hnsw or both, got {kind!r}")
    return [kind]


def faiss_index(embeddings: torch.Tensor, kind: str, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
                progress: bool = False, chunk: int = 1024):
    """A faiss index over L2-normalised embeddings [N, D]: exact (IndexFlatIP) or HNSW (inner product)."""
    import faiss

    x = np.ascontiguousarray(embeddings.numpy(), dtype=np.float32)
    if kind == "exact":
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        return index
    index = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    with tqdm(total=len(x), desc="hnsw", unit="vec", disable=not progress or None, leave=False) as bar:
        for start in range(0, len(x), chunk):
            index.add(x[start : start + chunk])
            bar.update(min(chunk, len(x) - start))
    return index


def build_index(gallery: Gallery | str, extractor: str | Extractor = INDEX_EXTRACTOR, kind: str = "both",
                out: str | Path | None = None, *, split: str = "train", hnsw_m: int = HNSW_M,
                ef_construction: int = HNSW_EF_CONSTRUCTION, ef_search: int = HNSW_EF_SEARCH,
                device: str | torch.device | None = None, batch_size: int = 256, progress: bool = False) -> RetrievalIndex:
    """Embed `gallery` (a Gallery, or a dataset name / `folder:PATH` whose `split` is loaded) with `extractor`
    and index it (`kind`: exact, hnsw or both); written to `out` when given. Build times are in
    `meta["build_seconds"]` (embed, exact, hnsw)."""
    from core.validation import whole_number

    kinds = kinds_of(kind)
    hnsw_m = whole_number(hnsw_m, "HNSW M", 2, 256)
    ef_construction = whole_number(ef_construction, "HNSW efConstruction", 1, 4096)
    ef_search = whole_number(ef_search, "HNSW efSearch", 1, 4096)
    out = Path(out) if out is not None else None
    if out is not None:
        check_out_folder(out)
    chosen = make_extractor(extractor, device)
    if isinstance(gallery, str):
        gallery = load_gallery(gallery, split, image_size=chosen.image_size)
    start = time.perf_counter()
    embeddings = chosen.embed(gallery.images, batch_size, progress, desc=f"embedding {len(gallery):,} photos")
    seconds = {"embed": time.perf_counter() - start}
    indexes = {}
    for name in kinds:
        start = time.perf_counter()
        indexes[name] = faiss_index(embeddings, name, hnsw_m, ef_construction, progress)
        seconds[name] = time.perf_counter() - start
    thumbnails = gallery.images
    if gallery.image_size > THUMBNAIL_SIDE:
        thumbnails = F.interpolate(thumbnails.float(), size=(THUMBNAIL_SIDE, THUMBNAIL_SIDE), mode="bilinear",
                                   antialias=True, align_corners=False).round().clamp(0, 255).to(torch.uint8)
    meta = index_meta(gallery, chosen, kinds, hnsw_m, ef_construction, ef_search, seconds, out)
    index = RetrievalIndex(meta, embeddings, gallery.labels.long(), gallery.colors.long(), thumbnails.contiguous(),
                           indexes, chosen)
    if out is not None:
        index.save(out)
    return index


def index_meta(gallery: Gallery, extractor: Extractor, kinds: Sequence[str], hnsw_m: int, ef_construction: int,
               ef_search: int, seconds: dict[str, float], out: Path | None) -> dict[str, Any]:
    import faiss

    from core.results import utc_timestamp

    return {
        "format": FORMAT,
        "version": VERSION,
        "extractor": {"spec": extractor.spec, "name": extractor.name, "fingerprint": extractor.fingerprint,
                      "dim": extractor.dim, "image_size": extractor.image_size, "role": extractor.role},
        "gallery": {"dataset": gallery.dataset, "split": gallery.split, "folder": gallery.folder,
                    "description": gallery.description, "n": len(gallery), "image_size": gallery.image_size,
                    "digest": gallery.digest(), "files_key": gallery.files_key, "class_names": gallery.class_names,
                    "paths": gallery.paths},
        "color_names": gallery.color_names,
        "metric": "inner product of L2-normalised embeddings (cosine); distance = 1 - cosine",
        "indexes": {"exact": {"faiss": "IndexFlatIP"} if "exact" in kinds else None,
                    "hnsw": {"faiss": "IndexHNSWFlat", "M": hnsw_m, "ef_construction": ef_construction,
                             "ef_search": ef_search} if "hnsw" in kinds else None},
        "build_seconds": seconds,
        "rebuild": rebuild_command(gallery, extractor, kinds, out),
        "created": utc_timestamp(),
        "versions": {"faiss": faiss.__version__, "torch": torch.__version__},
        "files": {},
    }


# ---------------------------------------------------------------------- text


def photo_color_names(photos: torch.Tensor) -> list[str]:
    """The named colour of each photo uint8 [B, 3, H, W] (`core.data.attributes`)."""
    from core.data.attributes import COLOR_NAMES, garment_colors

    return [COLOR_NAMES[i] for i in garment_colors(photos).tolist()]


def results_table(matches: Sequence[Match], folder: str = "") -> str:
    """rank, class, colour, distance, path (relative to the gallery `folder` when under it), one result a line."""
    def shown(path: str) -> str:
        if folder and path.startswith(folder.rstrip("/") + "/"):
            return path[len(folder.rstrip("/")) + 1 :]
        return path or "-"

    cells = [["rank", "class", "colour", "distance", "path"]]
    cells += [[str(m.rank), m.class_name or "-", m.color or "-", f"{m.distance:.4f}", shown(m.path)] for m in matches]
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    return "\n".join("  ".join([line[0].rjust(widths[0]), *(c.ljust(w) for c, w in zip(line[1:3], widths[1:3])),
                                 line[3].rjust(widths[3]), line[4]]) for line in cells)
