"""Image retrieval: the clothing photos' domain extractor in a faiss index, next to pixel and untrained baselines.

    python -m benchmarks.retrieval [--extractors classifier-clothing-64 pixels:16 untrained] [--kinds KIND ...]
                                   [--identity-queries 500] [--repeats 50] [--seed 0] [--device cpu|cuda]
                                   [--out results/retrieval.jsonl]
    python -m benchmarks run --only retrieval                       # the same through the runner

Gallery: the clothing train split (3,068 photos, 64 px), embedded by each extractor (core.retrieval) and put
in an exact (`IndexFlatIP`) and an HNSW index (M 32, efConstruction 200, efSearch 128), cosine similarity on
L2-normalised embeddings. Queries: the test split (372 photos). Extractors (`params.role`):

- `classifier-clothing-64` (model): the suite's domain extractor, its 256-d penultimate embedding;
- `classifier-clothing-64+color` (model): that embedding with the garment's colour histogram beside it (`color`:
  its masked pixels over the named colours in Lab), equally weighted: what `python -m core index` builds;
- `pixels-16` (baseline): the photo area-averaged to 16 x 16, flattened and centred (pixel correlation);
- `classifier-clothing-64-untrained` (baseline): the same architecture freshly initialised (seeded): how much
  of the figure the architecture gives without training.

Scenario kinds (`KINDS`; rows carry `params.scenario` and `params.index`):

- `class_recall`: recall@1, 5, 10 (share of test queries with at least one photo of their class among the
  first k) and precision@10 (mean share of the top 10 of the query's class), per index;
- `identity`: `identity_queries` gallery photos (seeded choice), each lightly augmented (seeded: a shift of up
  to `shift` px with edge pixels repeated, a horizontal flip half of the time, brightness times 1 +- `brightness`),
  must find itself: identity_at_1 (first), identity_at_10 (in the top 10); params split each into the
  flipped and the unflipped queries (`identity_at_1_flipped`, ...);
- `agreement`: agreement_at_10, the mean overlap of HNSW's and the exact index's top-10 sets of the test queries;
- `build_time`: build_s (the index from embeddings, median of 3 builds) and build_s_with_embedding (plus
  the seconds embedding the gallery took in this run's build), per index;
- `latency`: one uploaded photo end to end (a test photo's JPEG bytes at 256 px: decode, convert, embed,
  search; `latency_ms_p50`, `latency_ms_p95`) and the search alone (one embedding: `search_ms_p50`, `_p95`),
  `repeats` timed calls after `warmup`, per index. The CPU these run on is shared: compare within one run;
- `edit_search`: edit, then search. Every test photo recoloured by a Fader network (`options["editor"]`,
  default pretrained/fader-clothing-64) to another named colour in turn, its class kept, the colour slider at
  `options["strength"]` (default 2, where the Space starts it); edit_target_color_at_10
  (the share of the edit's top 10 with the target colour) next to photo_target_color_at_10 (the same share for
  the unedited photo: how often that colour comes up anyway), edit_class_at_10 (the top 10 of the edit that
  keep the photo's class) and edit_color_accuracy (edits whose own pixels read as the target colour).

Baselines get the kinds that say how good the embedding is (`BASELINE_KINDS`). A failing scenario becomes
error rows; the others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import run_and_report
from core import retrieval
from core.inference import load_network, resolve_device
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label

BENCHMARK = "retrieval"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DATASET = "clothing"
DOMAIN = retrieval.DEFAULT_EXTRACTOR
EDITOR = "fader-clothing-64"  # the edit-then-search rows' editor, in pretrained/
EDIT_STRENGTH = 2.0  # its colour slider where the edit-then-search Space starts it (core.demos.edit_search)
UNTRAINED = "untrained"  # the domain extractor's architecture, freshly initialised: a baseline
EXTRACTORS = (DOMAIN, retrieval.INDEX_EXTRACTOR, "pixels:16", UNTRAINED)
KS = (1, 5, 10)
FRACTION, SECONDS, MS = "fraction", "s", "ms"


@dataclass(frozen=True)
class Scenario:
    """One kind of measurement (a key of KINDS) of one extractor's index."""

    kind: str
    extractor: str = DOMAIN  # a core.retrieval extractor spec, or UNTRAINED
    dataset: str = DATASET
    gallery_split: str = "train"
    query_split: str = "test"
    ks: tuple[int, ...] = KS
    identity_queries: int | None = 500  # None: every gallery photo
    shift: int = 3  # identity: largest shift, px
    brightness: float = 0.1  # identity: brightness factor within 1 +- this
    repeats: int = 50  # latency: timed calls
    warmup: int = 5
    build_repeats: int = 3
    seed: int = 0
    hnsw_m: int = retrieval.HNSW_M
    ef_construction: int = retrieval.HNSW_EF_CONSTRUCTION
    ef_search: int = retrieval.HNSW_EF_SEARCH
    device: str = DEFAULT_DEVICE
    options: dict = field(default_factory=dict, hash=False, compare=False)  # what a later kind needs besides these

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be positive, got {self.ks}")
        if self.identity_queries is not None and self.identity_queries < 1:
            raise ValueError(f"identity_queries must be at least 1 (or None: all), got {self.identity_queries}")
        if self.repeats < 2 or self.warmup < 0 or self.build_repeats < 1:
            raise ValueError(f"need repeats >= 2, warmup >= 0, build_repeats >= 1; got {self}")


# ---------------------------------------------------------------------- what every kind shares


@dataclass
class Context:
    """One extractor's gallery index (exact and HNSW) and the embedded test queries, built once per run."""

    extractor: retrieval.Extractor
    gallery: retrieval.Gallery
    queries: retrieval.Gallery
    index: retrieval.RetrievalIndex
    query_embeddings: torch.Tensor  # [Q, D]

    @property
    def data(self) -> str:
        return f"gallery: {self.gallery.description}; queries: {self.queries.description}"


def make_extractor(spec: str, seed: int, device: str) -> retrieval.Extractor:
    """The extractor a scenario names; UNTRAINED is the domain extractor's architecture, freshly initialised."""
    if spec != UNTRAINED:
        return retrieval.make_extractor(spec, device)
    from benchmarks.quality import untrained_copy

    network = untrained_copy(load_network(DOMAIN, "classifier"), seed)
    return retrieval.ClassifierExtractor(network, "", f"{DOMAIN}-untrained", role="baseline", device=device)


@lru_cache(maxsize=4)
def context(extractor: str, dataset: str, gallery_split: str, query_split: str, seed: int, hnsw_m: int,
            ef_construction: int, ef_search: int, device: str) -> Context:
    chosen = make_extractor(extractor, seed, device)
    gallery = retrieval.load_gallery(dataset, gallery_split, image_size=chosen.image_size)
    queries = retrieval.load_gallery(dataset, query_split, image_size=chosen.image_size)
    index = retrieval.build_index(gallery, chosen, "both", hnsw_m=hnsw_m, ef_construction=ef_construction,
                                  ef_search=ef_search)
    return Context(chosen, gallery, queries, index, chosen.embed(queries.images))


def context_of(scenario: Scenario) -> Context:
    s = scenario
    return context(s.extractor, s.dataset, s.gallery_split, s.query_split, s.seed, s.hnsw_m, s.ef_construction,
                   s.ef_search, s.device)


@dataclass
class Measurement:
    """One figure of a scenario: metric, value, unit, and the index kind it was measured on ("" for none)."""

    metric: str
    value: float
    unit: str
    index: str = ""
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- the kinds


def class_recall(s: Scenario, c: Context) -> list[Measurement]:
    """recall@k and precision@max(k) of the test queries, by class, on each index."""
    k = max(s.ks)
    out = []
    for kind in c.index.kinds:
        found = c.index.search(c.query_embeddings, k=k, kind=kind)
        same = found.labels == c.queries.labels[:, None]  # [Q, k]
        out += [Measurement(f"recall_at_{n}", same[:, :n].any(1).float().mean().item(), FRACTION, kind) for n in s.ks]
        out.append(Measurement(f"precision_at_{k}", same.float().mean().item(), FRACTION, kind))
    return out


def augment(images: torch.Tensor, shift: int, brightness: float, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Light, seeded augmentation of uint8 photos [N, 3, S, S]: a shift of up to `shift` px each way (edge pixels
    repeated), a horizontal flip half of the time, brightness times U(1 - brightness, 1 + brightness).
    Returns the photos and which were flipped (bool [N])."""
    n, _, h, w = images.shape
    x = images.float()
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate") if shift else x
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=rng)
    flips = torch.rand(n, generator=rng) < 0.5
    factors = 1 + (torch.rand(n, generator=rng) * 2 - 1) * brightness
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = offsets[i].tolist()
        crop = padded[i, :, dy : dy + h, dx : dx + w]
        out[i] = (crop.flip(-1) if flips[i] else crop) * factors[i]
    return out.round().clamp(0, 255).to(torch.uint8), flips


def identity(s: Scenario, c: Context) -> list[Measurement]:
    """Augmented gallery photos finding themselves: first, and among the first 10."""
    rng = torch.Generator().manual_seed(s.seed)
    n = len(c.gallery) if s.identity_queries is None else min(s.identity_queries, len(c.gallery))
    chosen = torch.randperm(len(c.gallery), generator=rng)[:n]
    queries, flipped = augment(c.gallery.images[chosen], s.shift, s.brightness, rng)
    embeddings = c.extractor.embed(queries)
    params = {"n_queries": n, "shift": s.shift, "brightness": s.brightness, "flip": 0.5}
    out = []
    for kind in c.index.kinds:
        found = c.index.search(embeddings, k=10, kind=kind)
        hit = found.ids == chosen[:, None]
        for name, hits in (("identity_at_1", hit[:, 0]), ("identity_at_10", hit.any(1))):
            # the share among the flipped and the unflipped queries: how much of a miss the flip explains
            split = {f"{name}_flipped": share(hits[flipped]), f"{name}_not_flipped": share(hits[~flipped])}
            out.append(Measurement(name, share(hits), FRACTION, kind, {**params, **split}))
    return out


def share(hits: torch.Tensor) -> float | None:
    return hits.float().mean().item() if len(hits) else None


def agreement(s: Scenario, c: Context, k: int = 10) -> list[Measurement]:
    """Mean overlap of HNSW's and the exact index's top-k sets of the test queries."""
    exact = c.index.search(c.query_embeddings, k=k, kind="exact").ids.tolist()
    hnsw = c.index.search(c.query_embeddings, k=k, kind="hnsw").ids.tolist()
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, hnsw)])
    return [Measurement(f"agreement_at_{k}", float(overlap), FRACTION, "hnsw", {"versus": "exact"})]


def build_time(s: Scenario, c: Context) -> list[Measurement]:
    """Seconds to build each index from the embeddings (median of `build_repeats`), and with the embedding (the
    time the context's build took to embed the gallery, once)."""
    embeddings, embed_s = c.index.embeddings, float(c.index.meta["build_seconds"]["embed"])
    out = []
    for kind in c.index.kinds:
        times = []
        for _ in range(s.build_repeats):
            start = time.perf_counter()
            retrieval.faiss_index(embeddings, kind, s.hnsw_m, s.ef_construction)
            times.append(time.perf_counter() - start)
        build = float(np.median(times))
        params = {"build_repeats": s.build_repeats, "embed_s": embed_s}
        out += [Measurement("build_s", build, SECONDS, kind, params),
                Measurement("build_s_with_embedding", build + embed_s, SECONDS, kind, params)]
    return out


def latency(s: Scenario, c: Context, k: int = 10) -> list[Measurement]:
    """One uploaded photo end to end (decode + convert + embed + search) and the search alone, p50 and p95."""
    files = [Path(c.queries.folder) / path for path in c.queries.paths if path]
    if not files:
        raise ValueError(f"the {s.query_split} split's photos have no files to upload")
    uploads = [file.read_bytes() for file in files[: s.warmup + s.repeats]]
    out = []
    for kind in c.index.kinds:
        end_to_end = timed(lambda i, kind=kind: c.index.search(uploads[i % len(uploads)], k=k, kind=kind), s)
        alone = timed(lambda i, kind=kind: c.index.search(c.query_embeddings[i % len(c.query_embeddings)][None], k=k,
                                                           kind=kind), s)
        params = {"repeats": s.repeats, "warmup": s.warmup, "k": k, "upload": "JPEG bytes of a test photo (256 px)",
                  "threads": torch.get_num_threads()}
        for name, times in (("latency_ms", end_to_end), ("search_ms", alone)):
            out += [Measurement(f"{name}_p50", float(np.percentile(times, 50)), MS, kind, params),
                    Measurement(f"{name}_p95", float(np.percentile(times, 95)), MS, kind, params)]
    return out


def edit_search(s: Scenario, c: Context, k: int = 10) -> list[Measurement]:
    """Edit, then search: each test photo of colour c (named from its pixels) is recoloured by a Fader network to
    the colour (c + 1 + i mod (M - 1)) mod M, its class kept, and searched; the share of the top k with the target
    colour, against the same share for the unedited photo (how often that colour comes up anyway). Also: the
    share of edits whose own pixels read as the target colour, and the share of the top k of the edit that keep
    the photo's class."""
    from benchmarks.translation import other_classes
    from core.data.attributes import garment_colors
    from core.inference import TranslatorPipeline

    editor = s.options.get("editor", str(PRETRAINED_DIR / EDITOR))
    strength = float(s.options.get("strength", EDIT_STRENGTH))
    pipe = TranslatorPipeline.from_pretrained(editor, device=s.device)
    groups = dict(pipe.attributes)
    if "color" not in groups:
        raise ValueError(f"{editor} does not edit colour (a Fader network with the color attribute does)")
    names = list(groups["color"])
    photos, labels = c.queries.images, c.queries.labels
    own = garment_colors(photos, names)
    target = other_classes(own, len(names))
    x = pipe.input_tensor(photos.permute(0, 2, 3, 1).numpy())
    values = {"color": target}
    if "class" in groups:  # the class kept: the gallery's class ids in the editor's order
        values["class"] = torch.tensor([groups["class"].index(c.queries.class_names[int(label)]) for label in labels])
    code = pipe.attribute_code(x, {"class": values.get("class"), "color": own}, values, {"color": strength})
    edited = torch.from_numpy(pipe.edit_tensor(x, code)).permute(0, 3, 1, 2).contiguous()
    wanted = [names[int(t)] for t in target]
    out = []
    params = {"editor": Path(editor).name, "n_queries": len(photos), "k": k, "colors": len(names),
              "targets": "each other colour in turn", "strength": strength}
    accuracy = (garment_colors(edited, names) == target).float().mean().item()  # the same edits for every index
    for kind in c.index.kinds:
        on_edit = c.index.search(edited, k=k, kind=kind)
        on_photo = c.index.search(photos, k=k, kind=kind)
        at_edit = np.mean([[color == w for color in row] for row, w in zip(on_edit.colors, wanted)])
        at_photo = np.mean([[color == w for color in row] for row, w in zip(on_photo.colors, wanted)])
        same_class = (on_edit.labels == labels[:, None]).float().mean().item()
        out += [Measurement(f"edit_target_color_at_{k}", float(at_edit), FRACTION, kind, params),
                Measurement(f"photo_target_color_at_{k}", float(at_photo), FRACTION, kind, params),
                Measurement(f"edit_class_at_{k}", same_class, FRACTION, kind, params),
                Measurement("edit_color_accuracy", accuracy, FRACTION, kind, params)]
    return out


def timed(call: Callable[[int], object], s: Scenario) -> list[float]:
    """Milliseconds of `repeats` calls of `call(i)`, after `warmup` untimed ones."""
    for i in range(s.warmup):
        call(i)
    times = []
    for i in range(s.repeats):
        start = time.perf_counter()
        call(s.warmup + i)
        times.append((time.perf_counter() - start) * 1000)
    return times


# Scenario kinds: name -> (what it measures, the metrics it writes, for error rows). A new kind is a function
# (scenario, context) -> [Measurement] added here, with what it needs in Scenario (or Scenario.options).
KINDS: dict[str, tuple[Callable[[Scenario, Context], list[Measurement]], tuple[str, ...]]] = {
    "class_recall": (class_recall, (*(f"recall_at_{k}" for k in KS), "precision_at_10")),
    "identity": (identity, ("identity_at_1", "identity_at_10")),
    "agreement": (agreement, ("agreement_at_10",)),
    "build_time": (build_time, ("build_s", "build_s_with_embedding")),
    "latency": (latency, ("latency_ms_p50", "latency_ms_p95", "search_ms_p50", "search_ms_p95")),
    "edit_search": (edit_search, ("edit_target_color_at_10", "photo_target_color_at_10", "edit_class_at_10",
                                  "edit_color_accuracy")),
}
BASELINE_KINDS = ("class_recall", "identity", "agreement")


def scenarios(extractors: tuple[str, ...] = EXTRACTORS, kinds: tuple[str, ...] | None = None, **options) -> list[Scenario]:
    """Every kind for the domain extractor (and any other model), BASELINE_KINDS for the baselines; `kinds`
    restricts both."""
    plan = []
    for extractor in extractors:
        baseline = extractor == UNTRAINED or extractor == "pixels" or extractor.startswith("pixels:")
        chosen = [kind for kind in (BASELINE_KINDS if baseline else KINDS) if kinds is None or kind in kinds]
        plan += [Scenario(kind, extractor, **options) for kind in chosen]
    return plan


# ---------------------------------------------------------------------- rows


def run(scenario: Scenario) -> list[Row]:
    """Rows for one scenario; a failure becomes error rows, never an exception."""
    s = scenario
    device = device_label(s.device)
    params = {"scenario": s.kind, "extractor": s.extractor, "gallery_split": s.gallery_split,
              "query_split": s.query_split, "seed": s.seed}
    name = f"{DOMAIN}-untrained" if s.extractor == UNTRAINED else s.extractor
    data = ""
    try:
        c = context_of(s)
        name, data = c.extractor.name, c.data
        index = c.index.meta["indexes"]["hnsw"]
        params |= {"role": c.extractor.role, "extractor_fingerprint": c.extractor.fingerprint[:16],
                   "dim": c.extractor.dim, "n_gallery": len(c.gallery), "n_queries": len(c.queries),
                   "hnsw_m": index["M"], "ef_construction": index["ef_construction"], "ef_search": index["ef_search"],
                   "faiss": c.index.meta["versions"]["faiss"]}
        measure, _ = KINDS[s.kind]
        measured = measure(s, c)
    except Exception as err:  # noqa: BLE001 - a failure is recorded as rows; the benchmark goes on
        message = f"{type(err).__name__}: {err}"
        return [Row(BENCHMARK, name, s.dataset, metric, None, unit_of(metric), device, params, data, error=message)
                for metric in KINDS[s.kind][1]]
    return [Row(BENCHMARK, name, s.dataset, m.metric, m.value, m.unit, device, {**params, "index": m.index, **m.params},
                data) for m in measured]


def unit_of(metric: str) -> str:
    if metric.startswith(("latency_ms", "search_ms")):
        return MS
    return SECONDS if metric.startswith("build_s") else FRACTION


def format_table(rows: list[Row]) -> str:
    """The retrieval table (core.report.retrieval_table): one line per extractor and index."""
    from core import report

    table = report.retrieval_table([row.to_dict() for row in rows])
    lines = []
    if not table.empty:
        metrics = [m for m in report.RETRIEVAL_METRICS if m in table and table[m].notna().any()]
        header = ["model", "index", *[report.RETRIEVAL_METRICS[m][0] for m in metrics]]
        cells = [header] + [[str(e["model"]), str(e["index"]), *[report.retrieval_value(m, e[m]) for m in metrics]]
                            for e in table.to_dict("records")]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                 for line in cells]
    lines += [f"error: {model} ({metric}): {error}" for model, metric, error in
              dict.fromkeys((r.model, r.params.get("scenario"), r.error) for r in rows if r.error)]
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractors", nargs="+", default=list(EXTRACTORS),
                        help=f"extractor specs, or {UNTRAINED} (default: {' '.join(EXTRACTORS)})")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), help="scenario kinds (default: all)")
    parser.add_argument("--identity-queries", type=int, default=500, help="augmented gallery photos (0: all)")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per latency figure")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{BENCHMARK}.jsonl", help="JSON-lines file to append to")
    args = parser.parse_args(argv)
    resolve_device(args.device)
    try:
        plan = scenarios(tuple(args.extractors), tuple(args.kinds) if args.kinds else None,
                         identity_queries=args.identity_queries or None, repeats=args.repeats, warmup=args.warmup,
                         seed=args.seed, device=args.device)
    except ValueError as err:
        parser.error(str(err))
    return run_and_report(plan, run, args.out, BENCHMARK, format_table)


if __name__ == "__main__":
    sys.exit(main())
