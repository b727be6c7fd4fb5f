"""Silhouette clustering: the fashion image-to-image thesis's way to find, among many photos, the ones that look alike.

The thesis clustered its product photos by silhouette, to keep one photo per product of the same kind
(a flat, frontal shot, not a model wearing it) as the pairs of its mask -> clothing translator:

    photos (any folder, or the built-in clothing set)   decoded at 64 px: shorter side resized, centre crop
    -> features                                           one per image, [S * S] in [0, 1]
    -> K-Means (scikit-learn, k and seed the user's)      clusters numbered by size, largest first
    -> report                                             a grid per feature (a row per cluster: its centre as an
                                                          image, then its nearest members), sizes, silhouette score,
                                                          NMI against the class labels; JSON + markdown beside it
    -> select                                             per group (class, or a product id from the file name),
                                                          the N images nearest one cluster's centre, written as a
                                                          class-per-subfolder folder that `folder:` trains on

Features are the paired data mode's transforms (core.data.transforms.PAIRED_SOURCES), so what is
clustered is exactly what a paired translator sees:

    mask       the thesis's pick: grayscale, Gaussian blur, Otsu's binary threshold, the garment white
    grayscale  rejected in the thesis: lighting and texture outweigh the shape
    edges      rejected in the thesis: Canny lines of prints and folds outweigh the outline

Decoding is the slow part, so the images come from the decoded-split caches: the clothing set's own
(core.data.clothing, filled by any training run), and a folder's `folder:` cache (core.data.sources.decode_all,
decoded in worker processes on a miss).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from core.data.transforms import PAIRED_SOURCES, source_of
from core.errors import DataError, UserError
from core.files import write_text

IMAGE_SIZE = 64  # the thesis's masks: 64 x 64 after a centre crop
FEATURE_KINDS = ("mask", "grayscale", "edges")  # the thesis's pick, then the two features it tried and rejected
FEATURE_BATCH = 32  # images per transform call: Canny's hysteresis runs until the slowest image of a batch settles
N_INIT = 4  # K-Means restarts (k-means++ seeds drawn from the user's seed); the lowest inertia wins
SILHOUETTE_SAMPLE = 5000  # the silhouette score is quadratic in N: above this, a seeded sample of this many images
BUILT_IN = ("clothing",)  # built-in sets with image files (Fashion-MNIST is arrays: nothing to select or link)
REPORT_FILES = ("report.json", "report.md")


# ---------------------------------------------------------------------- photos


@dataclass
class Photos:
    """The images to cluster, decoded, and the file each came from."""

    images: torch.Tensor  # uint8 [N, 3, S, S]
    labels: torch.Tensor  # int64 [N]
    class_names: list[str]
    files: list[Path]  # the original file of each image
    root: Path  # files are shown relative to it
    name: str  # "clothing" or "folder:PATH"
    split: str  # a split name, or "all"
    title: str  # one line: what these are

    def __len__(self) -> int:
        return self.images.shape[0]

    def relative(self, index: int) -> str:
        return self.files[index].relative_to(self.root).as_posix()


def load_photos(data: str, split: str = "all", *, image_size: int = IMAGE_SIZE, workers: int = 0) -> Photos:
    """The photos of `data` (a built-in name such as "clothing", or a folder: "PATH" or "folder:PATH") at
    `image_size`, for one split or "all" of them; a folder without a train/ subfolder is its own single split."""
    if data in BUILT_IN:
        return _load_built_in(data, split, image_size)
    from core.data import DATASETS

    if data in DATASETS:
        raise UserError(f"{data} is stored as arrays, not image files, so it has nothing to select or link: "
                        f"cluster {' or '.join(BUILT_IN)} or a folder of images")
    return _load_folder(data if data.startswith("folder:") else f"folder:{data}", split, image_size, workers)


def _load_built_in(name: str, split: str, image_size: int) -> Photos:
    from core.data import DATASETS, load_dataset
    from core.data.clothing import FOLDER
    from core.data.folder import decoded_files, split_files
    from core.paths import data_root

    spec = DATASETS.get(name)
    splits = _splits(split, spec.splits, name)
    root = data_root() / FOLDER
    parts = []
    for part in splits:
        data = load_dataset(name, part, image_size=image_size, channels=3)  # the clothing set's cache
        _, files, decoding = split_files(name, part)  # in the order its loader decoded them
        parts.append((data.images, data.labels, data.class_names, decoded_files(files, len(data), image_size, decoding)))
    images, labels, classes, files = _combine(parts)
    title = f"{spec.title}, {_split_words(split, splits)}: {len(images):,} photos, {len(classes)} classes"
    return Photos(images, labels, classes, files, root, name, split, title)


def _load_folder(name: str, split: str, image_size: int, workers: int) -> Photos:
    from core.data.folder import FolderSource, decoded_files, folder_root, warn_skipped
    from core.data.sources import decode_all
    from core.data.stream import decode_workers

    root = folder_root(name)
    present = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    splits = _splits(split, tuple(present) if (root / "train").is_dir() else ("train",), name)
    parts = []
    for part in splits:
        source = FolderSource.open(name, part)
        images, labels, skipped = decode_all(source, image_size, 3, decode_workers(workers))  # the folder: cache
        warn_skipped(skipped, source.title, stacklevel=5)
        files = decoded_files(source.files, len(images), image_size, source.decoding)
        parts.append((images, labels, source.class_names, files))
    images, labels, classes, files = _combine(parts)
    classes_text = f"{len(classes)} classes" if len(classes) > 1 else "1 class (no labels)"
    title = f"folder {root}, {_split_words(split, splits)}: {len(images):,} images, {classes_text}"
    return Photos(images, labels, classes, files, root, name, split, title)


def _splits(split: str, known: tuple[str, ...], name: str) -> tuple[str, ...]:
    if split == "all":
        return known
    if split not in known:
        raise DataError(f"{name} has no split {split!r}; choose from: all, {', '.join(known)}")
    return (split,)


def _split_words(split: str, splits: Sequence[str]) -> str:
    return f"all splits ({', '.join(splits)})" if split == "all" and len(splits) > 1 else f"{splits[0]} split"


def _combine(parts: list[tuple[torch.Tensor, torch.Tensor, list[str], list[Path]]]):
    """Splits joined into one set; the classes the sorted union of theirs (labels renumbered)."""
    classes = sorted({name for _, _, names, _ in parts for name in names})
    images, labels, files = [], [], []
    for part_images, part_labels, names, part_files in parts:
        renumber = torch.tensor([classes.index(name) for name in names], dtype=torch.int64)
        images.append(part_images)
        labels.append(renumber[part_labels])
        files += part_files
    return torch.cat(images), torch.cat(labels), classes, files


# ---------------------------------------------------------------------- features


def check_kinds(kinds: Sequence[str]) -> list[str]:
    """`kinds` as a list; an empty list, a repeated or an unknown kind is a UserError."""
    kinds = list(kinds)
    known = PAIRED_SOURCES.names()
    unknown = [kind for kind in kinds if kind not in PAIRED_SOURCES]
    if unknown:
        raise UserError(f"unknown feature kind {unknown[0]!r}; known: {', '.join(known)}")
    if not kinds or len(set(kinds)) != len(kinds):
        raise UserError(f"give each feature kind once (known: {', '.join(known)}), got {kinds}")
    return kinds


def features(images: torch.Tensor, kind: str, progress: bool = True) -> np.ndarray:
    """float32 [N, S * S] in [0, 1] (the mask and the edges 0 or 1) from uint8 images [N, 3, S, S]."""
    check_kinds([kind])
    out = np.empty((images.shape[0], images.shape[2] * images.shape[3]), dtype=np.float32)
    batches = range(0, images.shape[0], FEATURE_BATCH)
    with torch.inference_mode():
        for start in tqdm(batches, desc=f"{kind} features", unit="batch", disable=None if progress else True,
                          leave=False):
            batch = images[start : start + FEATURE_BATCH].float() / 127.5 - 1  # [B, 3, S, S] in [-1, 1]
            transformed = source_of(kind, batch)  # [B, 1, S, S] in [-1, 1]
            out[start : start + len(batch)] = ((transformed + 1) / 2).flatten(1).numpy()
    return out


# ---------------------------------------------------------------------- K-Means and its scores


@dataclass
class Clustering:
    """K-Means on one feature kind. Clusters are numbered by size, largest first (ties: K-Means's order)."""

    kind: str
    k: int
    seed: int
    assignments: np.ndarray  # int64 [N]: each image's cluster
    centres: np.ndarray  # float32 [k, S * S] in [0, 1]
    distances: np.ndarray  # float32 [N, k]: each image's Euclidean distance to each centre
    sizes: list[int]
    silhouette: float | None  # in [-1, 1]; None when it is undefined (k = N)
    nmi: float | None  # in [0, 1]; None without class labels (one class)
    seconds: dict[str, float] = field(default_factory=dict)  # features, kmeans, scores

    @property
    def image_size(self) -> int:
        return round(self.centres.shape[1] ** 0.5)

    def members(self, cluster: int) -> np.ndarray:
        """Indices of the cluster's images, nearest its centre first (ties: lower index)."""
        inside = np.flatnonzero(self.assignments == cluster)
        return inside[np.argsort(self.distances[inside, cluster], kind="stable")]


def check_k(k: int, n: int) -> int:
    from core.validation import whole_number

    whole_number(k, "k", 2)
    if k > n:
        raise UserError(f"k {k} is more clusters than the {n:,} images: choose k from 2 to {n}")
    return k


def kmeans(feats: np.ndarray, k: int, seed: int, labels: np.ndarray | None = None, kind: str = "") -> Clustering:
    """K-Means of `feats` [N, D] into `k` clusters, seeded; scored by silhouette and, when `labels` [N] hold
    at least two classes, by NMI against them."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score, silhouette_score

    from core.validation import check_seed

    check_seed(seed)
    n = len(feats)
    check_k(k, n)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than k: refused below, in one line
        model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(feats)
    found = np.bincount(model.labels_, minlength=k)
    if (found == 0).any():
        distinct = len(np.unique(feats, axis=0))
        raise UserError(f"the {n:,} images have only {distinct:,} distinct {kind or 'feature'} features, fewer than "
                        f"k {k}: choose k from 2 to {distinct}")
    order = np.argsort(-found, kind="stable")  # new cluster i is K-Means's cluster order[i]
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    assignments = rank[model.labels_].astype(np.int64)
    centres = model.cluster_centers_[order].astype(np.float32)
    distances = _distances(feats, centres)
    kmeans_seconds = time.perf_counter() - start

    start = time.perf_counter()
    silhouette = None
    if k < n:  # defined for 2 <= clusters <= N - 1
        sample = SILHOUETTE_SAMPLE if n > SILHOUETTE_SAMPLE else None
        silhouette = float(silhouette_score(feats, assignments, sample_size=sample, random_state=seed))
    nmi = None
    if labels is not None and len(np.unique(labels)) > 1:
        nmi = float(normalized_mutual_info_score(labels, assignments))
    return Clustering(kind, k, seed, assignments, centres, distances, found[order].tolist(), silhouette, nmi,
                      {"kmeans": kmeans_seconds, "scores": time.perf_counter() - start})


def _distances(feats: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distances [N, k] between rows, in float64 (the expansion |a|^2 - 2ab + |b|^2 loses ties in float32)."""
    a, b = feats.astype(np.float64), centres.astype(np.float64)
    squared = (a**2).sum(1, keepdims=True) - 2 * a @ b.T + (b**2).sum(1)
    return np.sqrt(np.clip(squared, 0, None)).astype(np.float32)


@contextmanager
def cpu_threads(threads: int = 0) -> Iterator[None]:
    """torch's and scikit-learn's (OpenMP, BLAS) CPU threads set to `threads` for the duration; 0 leaves the
    defaults. One thread is far faster on an oversubscribed machine, where spinning threads wait for each other."""
    if threads <= 0:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def cluster(photos: Photos, kinds: Sequence[str] = FEATURE_KINDS, k: int = 8, seed: int = 0,
            progress: bool = True) -> list[Clustering]:
    """K-Means of `photos` on each feature kind, the same k and seed for all."""
    kinds = check_kinds(kinds)
    check_k(k, len(photos))
    labels = photos.labels.numpy() if len(photos.class_names) > 1 else None
    results = []
    for kind in kinds:
        start = time.perf_counter()
        feats = features(photos.images, kind, progress)
        feature_seconds = time.perf_counter() - start
        result = kmeans(feats, k, seed, labels, kind)
        result.seconds = {"features": feature_seconds, **result.seconds}
        results.append(result)
    return results


# ---------------------------------------------------------------------- report


def centre_image(result: Clustering, cluster: int) -> np.ndarray:
    """The cluster's centre, uint8 [S, S, 3]: the mean feature (for masks, how often each pixel is garment)."""
    s = result.image_size
    gray = (result.centres[cluster].reshape(s, s).clip(0, 1) * 255).round().astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def grid_cells(photos: Photos, result: Clustering, nearest: int) -> np.ndarray:
    """uint8 [k * (1 + nearest), S, S, 3]: per cluster its centre, then its `nearest` members' photos (black
    when it has fewer)."""
    s = photos.images.shape[-1]
    cells = np.zeros((result.k, 1 + nearest, s, s, 3), dtype=np.uint8)
    for c in range(result.k):
        cells[c, 0] = centre_image(result, c)
        chosen = result.members(c)[:nearest]
        cells[c, 1 : 1 + len(chosen)] = photos.images[torch.from_numpy(chosen)].permute(0, 2, 3, 1).numpy()
    return cells.reshape(-1, s, s, 3)


def summary(photos: Photos, result: Clustering, nearest: int) -> dict[str, Any]:
    """The JSON record of one feature kind: scores, sizes, and per cluster its top class and nearest members."""
    clusters = []
    for c in range(result.k):
        members = result.members(c)
        counts = np.bincount(photos.labels.numpy()[members], minlength=len(photos.class_names))
        top = int(counts.argmax())
        clusters.append({
            "cluster": c,
            "size": result.sizes[c],
            "top_class": photos.class_names[top],
            "top_class_share": round(float(counts[top] / len(members)), 4),
            "nearest": [{"file": photos.relative(int(i)), "class": photos.class_names[int(photos.labels[int(i)])],
                         "distance": round(float(result.distances[i, c]), 4)} for i in members[:nearest]],
        })
    return {
        "feature": result.kind,
        "k": result.k,
        "seed": result.seed,
        "silhouette": result.silhouette,
        "nmi": result.nmi,
        "sizes": result.sizes,
        "seconds": {key: round(value, 3) for key, value in result.seconds.items()},
        "clusters": clusters,
    }


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(results: Sequence[Clustering]) -> str:
    """Every feature kind side by side, as a markdown table (readable as text too)."""
    lines = ["| feature | silhouette | NMI | cluster sizes (largest first) | seconds |", "|---|---:|---:|---|---:|"]
    for result in results:
        lines.append(f"| {result.kind} | {_score(result.silhouette)} | {_score(result.nmi)} | "
                     f"{', '.join(map(str, result.sizes))} | {sum(result.seconds.values()):.1f} |")
    return "\n".join(lines)


def markdown(photos: Photos, results: Sequence[Clustering], records: Sequence[dict[str, Any]]) -> str:
    """The side-by-side table of every feature kind, then each kind's clusters."""
    lines = [f"# Silhouette clustering: k {results[0].k}, seed {results[0].seed}", "", photos.title + ".", "",
             table(results), "",
             ("Silhouette in [-1, 1], NMI (against the class labels) in [0, 1]: higher is better; "
              "seconds: features, K-Means and scores, from decoded images.")]
    for record in records:
        lines += ["", f"## {record['feature']}", "",
                  (f"`clusters-{record['feature']}.png`: a row per cluster, top to bottom; its centre, then its "
                   "nearest members."),
                  "", "| cluster | size | top class (share) | nearest member |", "|---:|---:|---|---|"]
        for c in record["clusters"]:
            lines.append(f"| {c['cluster']} | {c['size']} | {c['top_class']} ({c['top_class_share']:.0%}) | "
                         f"{c['nearest'][0]['file']} |")
    return "\n".join(lines) + "\n"


def write_report(photos: Photos, results: Sequence[Clustering], out: Path, nearest: int = 8,
                 settings: dict[str, Any] | None = None) -> dict[str, Path]:
    """clusters-<feature>.png for each feature kind, report.json and report.md, in `out`; their paths by name."""
    from core.images import MAX_OUTPUT_PIXELS, make_grid, save_png

    out = Path(out)
    paths = {}
    for result in results:
        grid = make_grid(grid_cells(photos, result, nearest), nrow=1 + nearest)
        scale = 2 if 4 * grid.shape[0] * grid.shape[1] <= MAX_OUTPUT_PIXELS else 1  # 64 px cells are small
        paths[result.kind] = save_png(grid, out / f"clusters-{result.kind}.png", scale=scale)
    records = [summary(photos, result, nearest) for result in results]
    record = {"data": photos.name, "split": photos.split, "images": len(photos), "title": photos.title,
              "classes": photos.class_names, "settings": settings or {}, "features": records}
    paths["json"] = write_text(out / "report.json", json.dumps(record, indent=2) + "\n")
    paths["markdown"] = write_text(out / "report.md", markdown(photos, results, records))
    return paths


# ---------------------------------------------------------------------- select


def group_pattern(group_by: str) -> re.Pattern:
    try:
        return re.compile(group_by)
    except re.error as err:
        raise UserError(f"--group-by {group_by!r} is not a regular expression ({err})") from None


def group_keys(photos: Photos, group_by: str | None = None) -> list[str | None]:
    """Each image's group: its class, or with `group_by` (a regular expression searched in the file name) its
    first capture group (the whole match when it has none); None for a name it does not match."""
    if group_by is None:
        return [photos.class_names[label] for label in photos.labels.tolist()]
    pattern = group_pattern(group_by)
    keys: list[str | None] = []
    for file in photos.files:
        found = pattern.search(file.name)
        keys.append(None if found is None else (found.group(1) if pattern.groups else found.group(0)))
    matched = sum(key is not None for key in keys)
    if not matched:
        raise UserError(f"--group-by {group_by!r} matches none of the {len(keys):,} file names "
                        f"(e.g. {photos.files[0].name!r})")
    if matched < len(keys):
        warnings.warn(f"--group-by {group_by!r} does not match {len(keys) - matched:,} of the {len(keys):,} file "
                      "names; those images are in no group and are not selected", stacklevel=2)
    return keys


def check_cluster(cluster: int, k: int) -> int:
    from core.validation import whole_number

    return whole_number(cluster, "--select", 0, k - 1)


def select(result: Clustering, cluster: int, groups: Sequence[str | None], per_group: int = 1) -> list[int]:
    """For every group, the `per_group` images nearest the centre of `cluster` (whichever cluster they are in;
    ties: lower index), as sorted indices. Images whose group is None are not chosen."""
    from core.validation import whole_number

    check_cluster(cluster, result.k)
    whole_number(per_group, "--per-group", 1)
    by_group: dict[str, list[int]] = {}
    for index, key in enumerate(groups):
        if key is not None:
            by_group.setdefault(key, []).append(index)
    chosen = []
    for indices in by_group.values():
        members = np.asarray(indices)
        order = np.argsort(result.distances[members, cluster], kind="stable")
        chosen += members[order[:per_group]].tolist()
    return sorted(chosen)


def check_new_folder(out: Path) -> Path:
    """`out`, when it does not exist or is an empty folder (a selection never mixes with an older one)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder: give a new one, or remove it")
    return out


def write_selection(photos: Photos, indices: Sequence[int], out: Path, record: dict[str, Any] | None = None,
                    notes: dict[int, dict[str, Any]] | None = None) -> Path:
    """The chosen images' original files in `out`/<class>/ (hard links where the file system allows, else
    copies), and selection.json beside them (`record`, and per image its `notes`); a folder `folder:out` trains
    on. `out` must be new or empty."""
    out = check_new_folder(Path(out))
    images = []
    for index in indices:
        source = photos.files[index]
        folder = out / photos.class_names[int(photos.labels[index])]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        if target.exists():  # the same name in two splits or subfolders
            target = folder / f"{source.stem}-{index}{source.suffix}"
        try:
            os.link(source, target)
        except OSError:  # another file system, or one without hard links
            shutil.copy2(source, target)
        images.append({"file": target.relative_to(out).as_posix(), "source": photos.relative(index),
                       **(notes or {}).get(index, {})})
    write_text(out / "selection.json", json.dumps({**(record or {}), "source_root": str(photos.root),
                                                   "images": images}, indent=2) + "\n")
    return out
