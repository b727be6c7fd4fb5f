"""What the classic-collection Space needs besides UI: every family side by side, infoGAN's codes, and
each family's training timeline with its FIDs.

    collection = load_collection()                     # once, at start: one model per family, and what failed
    scores = read_scores()                             # FIDs from $RESULTS_SOURCE, or one line saying why none
    side_by_side(collection, seed=0, n=20, class_choice="Sneaker", codes=[0.5, -1.0], scores=scores)
                                                       # [(grid, caption)], one per family, COLLECTION order
    code_traversal(collection, seed=0, steps=9)        # infoGAN: one row per continuous code, swept over [-2, 2]
    grids, note = timeline(collection, "wgan-gp", scores)  # [(snapshot grid, "epoch 10 · FID 12.34")], Markdown

apps/collection/app.py wires these to components; the tests call them
directly. Every mistake a user can make (a bad seed, an unknown class, a code
out of range) raises `UserError` with a one-line message.

Models come from `$MODEL_SOURCE` exactly as in `core.demos.common.available_models`;
of them the Space keeps one per family of the classic collection
(`core.models.COLLECTION`), preferring `<family>-fashion-mnist`, and loads them
all once at start. A model that will not load becomes one line of the status,
and the next candidate of its family (if any) is tried: one broken folder never
stops the Space from showing the others.

Same seed, same z: `GeneratorPipeline.sample` draws z from the seed alone, so
every model of the same latent size gets the same z, and a class or a code
changes only the models that take one.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core import report
from core.demos.common import (
    ALL_CLASSES,
    available_models,
    display_scale,
    enlarge,
    label_spec,
    load,
    parse_seed,
    whole_number,
)
from core.errors import UserError
from core.hub import TIMELINE_DIR, read_config
from core.images import make_grid, to_pil
from core.inference import CodeSpec, GeneratorPipeline, resolve_source
from core.models import COLLECTION, MODELS

MAX_IMAGES = 40  # per family: ten grids are drawn at once
MAX_STEPS = 15
CODE_LIMIT = 2.0  # continuous codes: the sliders span [-2, 2], twice the range [-1, 1] they were trained on
DRAWN = "from the seed"  # the categorical code picker's "draw it with the seed, like the other codes"
RESULTS_VARIABLE = "RESULTS_SOURCE"
SNAPSHOT_GRID = re.compile(r"epoch_(\d+)\.png")  # <model>/timeline/epoch_NNN.png, written by core.hub.export_run
NO_MODELS = (
    "No models of the classic collection found. Train and export them (`make train MODELS=\"gan-fashion-mnist "
    "cgan-fashion-mnist ...\"`: each recipe exports to `pretrained/<recipe>`), or set `MODEL_SOURCE` to a folder "
    "of them or to comma-separated Hub repo ids."
)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Member:
    """One family's model, loaded."""

    family: str  # a name in COLLECTION
    label: str  # as MODEL_SOURCE names it: a folder name or a Hub repo id
    folder: Path  # its local files: config.json, weights, timeline/
    pipe: GeneratorPipeline

    @property
    def title(self) -> str:
        return MODELS.get(self.family).title or self.family

    @property
    def model(self) -> str:
        """The name its benchmark rows use: the folder name, or the Hub repo name without its owner."""
        return self.label.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Collection:
    """The Space's models: at most one per family, in COLLECTION order, and why any candidate did not load."""

    members: tuple[Member, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (family, one-line reason) per model that did not load

    def require(self) -> tuple[Member, ...]:
        if not self.members:
            raise UserError(NO_MODELS)
        return self.members

    def member(self, family: str | None) -> Member:
        """The loaded model of `family`; a family without one is a UserError."""
        found = {m.family: m for m in self.require()}
        if family in found:
            return found[family]
        if family in COLLECTION:
            raise UserError(f"no {family} model is loaded (the status line says why)")
        raise UserError(f"unknown family {family!r}; choose one of: {', '.join(found)}")

    @property
    def missing(self) -> list[str]:
        """Families without a model, not even one that failed to load."""
        known = {m.family for m in self.members} | {family for family, _ in self.failures}
        return [family for family in COLLECTION if family not in known]

    @property
    def class_names(self) -> list[str]:
        """The classes of the class-conditional models (the first one's: the collection shares one dataset)."""
        return next((list(m.pipe.class_names) for m in self.members if m.pipe.num_classes), [])

    @property
    def infogan(self) -> Member | None:
        return next((m for m in self.members if m.pipe.code_dim), None)

    @property
    def continuous_codes(self) -> int:
        return self.infogan.pipe.continuous_codes if self.infogan else 0

    @property
    def categorical_codes(self) -> int:
        return self.infogan.pipe.categorical_codes if self.infogan else 0


def family_of(label: str, source: str) -> str | None:
    """The collection family of a model, None for a model of another kind.

    A local folder says it in config.json; a Hub repo id, or a folder whose
    config.json cannot be read (a broken model the status should name), by its
    name `<family>-...`, the longest family first (wgan-gp-x is WGAN-GP, not WGAN).
    """
    folder = Path(source).expanduser()
    if folder.is_dir():
        try:
            config = read_config(folder)
        except UserError:
            config = None
        if isinstance(config, dict) and "family" in config:
            return config["family"] if config["family"] in COLLECTION else None
    name = label.rsplit("/", 1)[-1]
    return next((f for f in sorted(COLLECTION, key=len, reverse=True) if name == f or name.startswith(f + "-")), None)


def candidates(models: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """family -> its (label, source) pairs among `models`, preferred first (`<family>-fashion-mnist`), in COLLECTION
    order; models of other families are left out."""
    found: dict[str, list[tuple[str, str]]] = {family: [] for family in COLLECTION}
    for label, source in models.items():
        family = family_of(label, source)
        if family:
            # Stable sort below: the preferred name first, the others in MODEL_SOURCE's order
            found[family].append((label, source))
    return {
        family: sorted(items, key=lambda item, family=family: item[0].rsplit("/", 1)[-1] != f"{family}-fashion-mnist")
        for family, items in found.items() if items
    }


def load_collection(models: Mapping[str, str] | None = None) -> Collection:
    """Load one model per family from `models` (label -> source; default: `$MODEL_SOURCE`'s models).

    A candidate that will not load is a line in `failures`, and the family's
    next candidate is tried.
    """
    models = available_models(family=None) if models is None else models
    members, failures = [], []
    for family, options in candidates(models).items():
        for label, source in options:
            try:
                members.append(_member(family, label, source))
                break
            except UserError as err:
                failures.append((family, str(err)))
    return Collection(tuple(members), tuple(failures))


def _member(family: str, label: str, source: str) -> Member:
    pipe = load(source)
    if pipe.family.name != family:
        raise UserError(f"{label} is a {pipe.family.name} model, not {family}")
    return Member(family, label, resolve_source(source), pipe)


def status(collection: Collection) -> str:
    """Markdown: which families are shown (and whether they share z), which models did not load and why."""
    if not collection.members and not collection.failures:
        return NO_MODELS
    members = collection.members
    lines = [f"Showing {len(members)} of {len(COLLECTION)} families: {', '.join(m.title for m in members) or 'none'}."]
    by_size: dict[int, list[str]] = {}
    for member in members:
        by_size.setdefault(member.pipe.z_dim, []).append(member.title)
    if len(by_size) == 1:
        lines[0] += f" Same seed, same z for all of them (latent size {next(iter(by_size))})."
    elif by_size:
        groups = "; ".join(f"{size}: {', '.join(titles)}" for size, titles in by_size.items())
        lines[0] += f" Same seed, same z for models of one latent size ({groups})."
    lines += [f"- did not load: {reason}" for _, reason in collection.failures]
    if collection.missing:
        lines.append(f"- no model for: {', '.join(collection.missing)}")
    if not members:
        lines.append(NO_MODELS)
    return "\n".join(lines)


def class_choices(collection: Collection) -> list[str]:
    """The class picker's choices: all classes, then each class; empty without a class-conditional model."""
    names = collection.class_names
    return [ALL_CLASSES, *names] if names else []


def categorical_choices(collection: Collection) -> list[str]:
    """The categorical code picker's choices (drawn, then each value); empty when the class label plays that role."""
    return [DRAWN, *map(str, range(collection.categorical_codes))] if collection.categorical_codes else []


def family_choices(collection: Collection) -> list[tuple[str, str]]:
    """(title, family) of every loaded model, for the timeline's picker."""
    return [(m.title, m.family) for m in collection.members]


def describe_codes(collection: Collection) -> str:
    """Markdown: what infoGAN's code controls do here, or that no infoGAN model is loaded."""
    member = collection.infogan
    if member is None:
        return "No infoGAN model is loaded: there are no codes to set."
    pipe = member.pipe
    text = (f"**{member.title}** (`{member.label}`): {pipe.continuous_codes} continuous code(s), trained on [-1, 1]; "
            f"the sliders go to ±{CODE_LIMIT:g} to show what happens beyond.")
    if pipe.categorical_codes:
        return text + f" A categorical code with {pipe.categorical_codes} values."
    return text + " Its class label plays the categorical code: pick it with the class picker."


# --------------------------------------------------------------------------- images


def infogan_codes(collection: Collection, controls: Sequence[Any] = ()) -> CodeSpec:
    """infoGAN's codes from its controls: a value per continuous code in [-2, 2], then (when it has one) the
    categorical code's value or DRAWN. No controls (or fewer) leave the rest drawn from the seed."""
    controls = list(controls)
    k, values = collection.continuous_codes, collection.categorical_codes
    if len(controls) > k + (1 if values else 0):
        what = f"{k} continuous code(s)" + (" and a categorical code" if values else "")
        raise UserError(f"got {len(controls)} code values, but the infoGAN here takes {what}")
    spec: dict[str, Any] = {}
    if controls[:k]:
        if len(controls) < k:
            raise UserError(f"give all {k} continuous code values, got {len(controls)}")
        spec["continuous"] = [_code(value, i + 1) for i, value in enumerate(controls[:k])]
    if len(controls) > k and controls[k] not in (None, "", DRAWN):
        spec["categorical"] = whole_number(controls[k], "the categorical code", 0, values - 1)
    return spec or None


def _code(value: Any, number: int) -> float:
    try:
        code = float(value)
    except (TypeError, ValueError):
        code = math.nan
    if not math.isfinite(code) or abs(code) > CODE_LIMIT:
        limits = f"from {-CODE_LIMIT:g} to {CODE_LIMIT:g}"
        raise UserError(f"continuous code {number} must be a number {limits}, got {value!r}")
    return code


def _grid(images: np.ndarray, pipe: GeneratorPipeline, nrow: int | None) -> Image.Image:
    """[N, H, W, C] uint8 -> one PIL grid, enlarged (nearest) to stay crisp in a browser."""
    return enlarge(to_pil(make_grid(images, nrow)), display_scale(pipe))


def side_by_side(
    collection: Collection,
    seed: float | str | None,
    n: float | str,
    class_choice: str | None = ALL_CLASSES,
    codes: Sequence[Any] = (),
    scores: Scores | None = None,
) -> list[tuple[Image.Image, str]]:
    """Every family's grid of `n` images for `seed`, with its caption (title, model, final FID when known).

    The class applies to the class-conditional families only, the codes (see
    `infogan_codes`) to infoGAN only. With all classes and at least one image
    per class, each column is one class, in every grid, so that they line up.
    """
    members = collection.require()
    seed, n = parse_seed(seed), whole_number(n, "number of images", 1, MAX_IMAGES)
    labels, spec = label_spec(class_choice), infogan_codes(collection, codes)
    if labels is not None and not collection.class_names:
        raise UserError("no model here is class-conditional: choose all classes")
    classes = len(collection.class_names)
    nrow = classes if labels is None and 0 < classes <= n else None
    out = []
    for member in members:
        pipe = member.pipe
        images = pipe.sample(n, seed, labels if pipe.num_classes else None, spec if pipe.code_dim else None)
        out.append((_grid(images, pipe, nrow), caption(member, scores)))
    return out


def caption(member: Member, scores: Scores | None = None) -> str:
    """"WGAN-GP · wgan-gp-fashion-mnist · FID 3.21": the final FID when the quality benchmark measured it."""
    fid = scores.final.get(member.model) if scores else None
    return f"{member.title} · {member.label}" + ("" if fid is None else f" · FID {fid:.2f}")


def code_traversal(
    collection: Collection,
    seed: float | str | None,
    steps: float | str,
    class_choice: str | None = ALL_CLASSES,
    codes: Sequence[Any] = (),
) -> Image.Image:
    """infoGAN: one row per continuous code, swept over `steps` values from -2 to 2, with z, the class (all
    classes: the first) and the other codes fixed (at `codes`, else drawn for `seed`): what each code controls."""
    member = collection.infogan
    if member is None:
        raise UserError("no infoGAN model is loaded: there are no codes to traverse")
    seed, steps = parse_seed(seed), whole_number(steps, "steps", 2, MAX_STEPS)
    spec = infogan_codes(collection, codes)
    values = np.linspace(-CODE_LIMIT, CODE_LIMIT, steps).tolist()
    label = label_spec(class_choice)
    rows = [member.pipe.traverse(seed, code, values, label, spec) for code in range(member.pipe.continuous_codes)]
    return _grid(np.concatenate(rows), member.pipe, nrow=steps)


# --------------------------------------------------------------------------- timelines and FIDs


@dataclass(frozen=True)
class Scores:
    """The FIDs the Space shows, from the newest timeline and quality runs of the results."""

    timeline: Mapping[str, Mapping[int, float]] = field(default_factory=dict)  # model -> snapshot epoch -> FID
    final: Mapping[str, float] = field(default_factory=dict)  # model -> FID of the trained model (quality)
    problem: str = ""  # one line when the results could not be read


def read_scores(source: str | Path | None = None) -> Scores:
    """FIDs from `source` (default `$RESULTS_SOURCE`: unset = results/, a folder, or a Hub dataset id).

    Never raises: an unreadable source is a Scores without FIDs whose `problem`
    says why in one line, so the Space still shows its models.
    """
    source = os.environ.get(RESULTS_VARIABLE) if source is None else str(source)
    problems: list[str] = []
    try:
        rows = report.load_rows(report.resolve_source(source), problems)
    except (UserError, ValueError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        return Scores(problem=f"Cannot read results: {reason}")
    timeline: dict[str, dict[int, float]] = {}
    for row in _newest_fids(report.latest(rows, "timeline")):
        epoch = (row.get("params") or {}).get("epoch")
        if isinstance(epoch, int):
            timeline.setdefault(row["model"], {}).setdefault(epoch, row["value"])
    final: dict[str, float] = {}
    for row in _newest_fids(report.latest(rows, "quality")):
        if (row.get("params") or {}).get("candidate") == "trained":
            final.setdefault(row["model"], row["value"])
    skipped = f"Skipped {len(problems)} unreadable result line(s), e.g. {Path(problems[0]).name}" if problems else ""
    return Scores(timeline, final, skipped)


def _newest_fids(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measured FID rows, newest first (a CPU and a GPU run may both have one: the newer one is shown)."""
    fids = [row for row in rows if row["metric"] == "fid" and row.get("value") is not None and row.get("error") is None]
    return sorted(fids, key=lambda row: str(row.get("timestamp", "")), reverse=True)


def snapshot_grids(folder: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the sample grids a model ships in timeline/epoch_NNN.png, in epoch order."""
    found = [(SNAPSHOT_GRID.fullmatch(p.name), p) for p in (folder / TIMELINE_DIR).glob("epoch_*.png")]
    return sorted((int(match[1]), path) for match, path in found if match)


def timeline(collection: Collection, family: str | None, scores: Scores) -> tuple[list[tuple[Image.Image, str]], str]:
    """One family's training timeline: the sample grid saved at each snapshot epoch, captioned with that
    snapshot's FID, and a Markdown note with the final FID and whatever is missing (grids, FIDs, results)."""
    member = collection.member(family)
    fids = scores.timeline.get(member.model, {})
    grids, unreadable = [], []
    for epoch, path in snapshot_grids(member.folder):
        try:
            with Image.open(path) as image:
                grid = image.copy()  # read now: the file is closed when the Gallery encodes it
        except (OSError, ValueError):  # a truncated or foreign file: say so, show the other epochs
            unreadable.append(path.name)
            continue
        grids.append((grid, f"epoch {epoch} · " + (f"FID {fids[epoch]:.2f}" if epoch in fids else "no FID yet")))
    final = scores.final.get(member.model)
    notes = [f"**{member.title}** (`{member.label}`): " + (
        f"final FID {final:.2f} (quality benchmark)." if final is not None else "no final FID in the results yet.")]
    if not grids and not unreadable:
        notes.append(f"No training timeline ships with this model (`{TIMELINE_DIR}/epoch_NNN.png`: exported from a "
                     "run that kept snapshots).")
    if unreadable:
        notes.append(f"Could not read {', '.join(unreadable)}.")
    if scores.problem:
        notes.append(scores.problem)
    elif grids and not fids:
        notes.append("No timeline FIDs for it in the results yet (`python -m benchmarks run --only timeline`).")
    return grids, " ".join(notes)
