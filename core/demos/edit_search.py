"""What the edit-then-search Space needs besides UI: the editors, the search index, one edit and its two searches.

    index = open_index()                                         # the shipped index, or one built on first start
    result = edit_and_search("pretrained/fader-clothing-64", photo, index, own_class="t-shirt", color_to="red")
    result.photo, result.edited, result.original, result.found, result.summary

A shopper picks a garment, edits it (a Fader network's sliders: another colour, another class, or any part of
the way there; or a StarGAN's target class) and sees the real products most similar to the photo and to the edit
(`core.retrieval`: the clothing train photos embedded by classifier-clothing-64 with their colours beside it,
an exact faiss index). The
index is `indexes/clothing-train` under the project (a built Space ships it when it was built before the Space:
`python -m core index`); when it is not there the Space builds it on first start from `$DATA_ROOT` and says so.

apps/edit_search/app.py wires these functions to components; the tests call them directly. Every mistake a user
can make (an unreadable upload, an unknown class or colour, a strength out of range, a missing index or model)
raises `UserError` with a one-line message.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from core import retrieval
from core.demo import training_note
from core.demos.common import MODEL_SOURCE_FILE, available_models, config_matches, load_with
from core.demos.common import pick as pick_model
from core.demos.translate import shown
from core.errors import UserError
from core.inference import TranslatorPipeline, load_translator_cached
from core.models import MODELS
from core.paths import PRETRAINED_DIR, PROJECT_ROOT

EDITING_MODES = ("attributes", "domains")  # Fader networks (sliders), StarGAN (a target class)
SHIPPED = ("fader-clothing-64", "stargan-clothing-64")  # listed first, in this order
INDEX_FOLDER = PROJECT_ROOT / retrieval.DEFAULT_INDEX
K = 10  # results per search
KEEP = "keep"  # a class or colour choice that leaves it as it is
DISPLAY_SIDE = 256  # the photo and the edit, enlarged (nearest neighbour)
RESULT_SIDE = 128  # each result thumbnail on the sheet
SHEET_COLUMNS = 5  # results per row of the sheet
# The results are one image (a sheet of thumbnails, each with its rank) and a table, not ten gallery images: each
# image is a file the browser fetches, and ten of them took the search from 150 to 620 ms (gradio_client, one client)
# The sliders start at their end: a Fader network's edits land far more often pushed past the target
# (fader-clothing-64: 21 % of the colour edits read as the target colour at 1, 53 % at 2; class edits 14 % and 28 %;
# benchmarks/translation.py)
DEFAULT_STRENGTH = 2.0
NO_EDITORS = (
    "No editing models found: export a Fader network or a StarGAN into `pretrained/` "
    "(`make train MODELS=fader-clothing-64`) or set `MODEL_SOURCE`."
)


# --------------------------------------------------------------------------- the editors


def available_editors(env: Mapping[str, str] | None = None, root: str | Path = PRETRAINED_DIR,
                      source_file: Path = MODEL_SOURCE_FILE) -> dict[str, str]:
    """Label -> source of the models that edit a garment (Fader networks, StarGAN), the shipped ones first."""
    models = available_models(env, root, family=None, source_file=source_file)
    kept = {label: source for label, source in models.items() if config_matches(source, _edits)}
    order = {name: i for i, name in enumerate(SHIPPED)}
    return dict(sorted(kept.items(), key=lambda item: (order.get(Path(item[0]).name, len(order)), item[0])))


def _edits(config: dict) -> bool:
    family = config.get("family")
    return isinstance(family, str) and family in MODELS and MODELS.get(family).kind == "translator" and \
        MODELS.get(family).modes[0] in EDITING_MODES


def pick(models: Mapping[str, str], label: str | None) -> str:
    return pick_model(models, label, NO_EDITORS)


def load_editor(source: str) -> TranslatorPipeline:
    """The cached pipeline of an editing model; anything else, or a broken folder, is a one-line UserError."""
    pipe = load_with(load_translator_cached, source)
    if pipe.mode not in EDITING_MODES:
        raise UserError(f"{pipe.name} is a {pipe.mode} translator: this Space edits with a Fader network or a StarGAN")
    return pipe


@dataclass
class Controls:
    """What the Space shows for one editor: the class choices, and the colour choices of a Fader network."""

    classes: list[str]  # the classes it can draw (and that a photo can be said to be)
    colors: list[str]  # [] when it does not edit colour (StarGAN)
    sliders: bool  # Fader networks: strengths; StarGAN: a class, all the way


def controls(source: str) -> Controls:
    pipe = load_editor(source)
    groups = dict(pipe.attributes)
    return Controls(list(pipe.targets if pipe.mode == "domains" else groups.get("class", [])),
                    list(groups.get("color", [])), pipe.mode == "attributes")


def describe(source: str) -> str:
    """A one-line Markdown caption: the model, what it edits, and its training data."""
    pipe = load_editor(source)
    family = pipe.family
    who = (family.title or family.name) + (f" ({family.paper})" if family.paper else "")
    if pipe.mode == "attributes":
        what = " and ".join(f"{name} ({len(values)} values)" for name, values in pipe.attributes)
        task = f"edits {what} with sliders"
    else:
        task = f"redraws a garment as any of {len(pipe.targets)} classes"
    return f"**{pipe.name}**: {who}; {task}; {pipe.image_size}×{pipe.image_size} px." + training_note(source)


# --------------------------------------------------------------------------- the index


@lru_cache(maxsize=2)
def open_index(folder: str | Path = INDEX_FOLDER) -> retrieval.RetrievalIndex:
    """The index at `folder`; when there is none, built there from the clothing train photos ($DATA_ROOT) with
    the shipped extractor. `index_note(index)` says which it was."""
    folder = Path(folder)
    if (folder / retrieval.META_FILE).is_file():
        index = retrieval.RetrievalIndex.load(folder)
        index.meta["space_note"] = "shipped"
        return index
    start = time.perf_counter()
    try:
        gallery = retrieval.load_gallery("clothing", "train")
        index = retrieval.build_index(gallery, retrieval.INDEX_EXTRACTOR, "exact", out=folder)
    except UserError as err:
        raise UserError(f"no search index in {folder}, and none could be built here ({err}); "
                        "build one with `python -m core index`") from None
    index.meta["space_note"] = f"built on first start in {time.perf_counter() - start:.0f} s"
    return index


def index_note(index: retrieval.RetrievalIndex) -> str:
    """One line: what the Space searches, and whether the index was shipped or built on first start."""
    how = index.meta.get("space_note", "loaded")
    return f"Searching {len(index):,} real products: {index.describe()} ({how})."


def guess_class(index: retrieval.RetrievalIndex, photo: np.ndarray, k: int = K) -> str:
    """The most common class among the `k` products most similar to `photo` (nearer ones first on ties): what an
    uploaded photo probably is, to prefill the Space's "this photo is" choice."""
    found = index.search(photo, k=k).matches(0)
    counts = Counter(m.class_name for m in found)
    return max(counts, key=lambda name: (counts[name], -min(m.rank for m in found if m.class_name == name)))


@dataclass
class Found:
    """The `k` nearest products of one image, as the Space shows them, and how long the search took."""

    sheet: Image.Image  # the results' thumbnails, nearest first, SHEET_COLUMNS a row, each with its rank
    table: str  # Markdown: rank, class, colour, distance
    classes: list[str]
    colors: list[str]
    milliseconds: float


def search(index: retrieval.RetrievalIndex, image: np.ndarray, k: int = K) -> Found:
    """The `k` products most similar to `image` (uint8 [S, S, 3]): their sheet of thumbnails and their table."""
    start = time.perf_counter()
    matches = index.search(image, k=k).matches(0)
    ms = (time.perf_counter() - start) * 1000
    thumbs = index.thumbnails[[m.id for m in matches]].permute(0, 2, 3, 1).numpy()
    lines = ["| # | class | colour | distance |", "| --- | --- | --- | --- |"]
    lines += [f"| {m.rank} | {m.class_name} | {m.color} | {m.distance:.2f} |" for m in matches]
    return Found(result_sheet(thumbs), "\n".join(lines), [m.class_name for m in matches], [m.color for m in matches], ms)


def result_sheet(thumbs: np.ndarray) -> Image.Image:
    """Thumbnails uint8 [k, s, s, 3] as one image, SHEET_COLUMNS a row, each enlarged to RESULT_SIDE with its rank
    in its top-left corner."""
    from PIL import ImageDraw

    from core.images import make_grid

    scale = max(1, RESULT_SIDE // thumbs.shape[1])
    big = np.stack([np.asarray(shown(t, scale)) for t in thumbs])
    sheet = Image.fromarray(make_grid(big, nrow=min(SHEET_COLUMNS, len(big)), padding=4))
    draw = ImageDraw.Draw(sheet)
    side = big.shape[1]
    for i in range(len(big)):
        left, top = 4 + (i % SHEET_COLUMNS) * (side + 4), 4 + (i // SHEET_COLUMNS) * (side + 4)
        draw.rectangle((left, top, left + 18, top + 14), fill=(0, 0, 0))
        draw.text((left + 3, top + 2), str(i + 1), fill=(255, 255, 255))
    return sheet


# --------------------------------------------------------------------------- one edit and its searches


@dataclass
class Result:
    photo: Image.Image  # the input as the editor sees it, enlarged
    edited: Image.Image  # the edit, enlarged
    original: Found  # the products most similar to the photo
    found: Found  # ... and to the edit
    summary: str


def choice(value: str | None) -> str | None:
    """A dropdown value: None for nothing chosen or KEEP."""
    return None if value is None or str(value).strip() in ("", KEEP) else str(value).strip()


def edit(source: str, photo: np.ndarray, own_class: str | None = None, class_to: str | None = None,
         class_strength: float = 1.0, color_to: str | None = None, color_strength: float = 1.0) -> tuple[np.ndarray, str]:
    """The photo edited by the model at `source`: uint8 [S, S, 3] and what was done, in words."""
    pipe = load_editor(source)
    own_class, class_to, color_to = choice(own_class), choice(class_to), choice(color_to)
    if pipe.mode == "domains":
        if class_to is None:
            raise UserError(f"{pipe.name} redraws a garment as another class: choose the class to make it")
        return pipe.translate(photo, target=class_to)[0], f"redrawn as *{class_to}* by {pipe.name}"
    strengths = [_strength(class_strength, "class strength"), _strength(color_strength, "colour strength")]
    groups = dict(pipe.attributes)
    if color_to is not None and "color" not in groups:
        raise UserError(f"{pipe.name} does not edit colour")
    edited = pipe.edit(photo, classes=own_class, class_to=class_to, color_to=color_to,
                       class_strength=strengths[0] if class_to else 1.0, color_strength=strengths[1] if color_to else 1.0)
    steps = [f"{name} → *{value}*" + (f" (strength {strength:g})" if strength != 1 else "")
             for name, value, strength in (("class", class_to, strengths[0]), ("colour", color_to, strengths[1])) if value]
    return edited[0], (", ".join(steps) or "reconstructed at its own class and colour") + f" by {pipe.name}"


def _strength(value: float | str | None, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a number from 0 to 2, got {value!r}") from None
    if not 0 <= number <= 2:
        raise UserError(f"{what} must be a number from 0 to 2, got {value!r}")
    return number


def edit_and_search(source: str, image: np.ndarray | Image.Image | str | Path | bytes | None,
                    index: retrieval.RetrievalIndex, own_class: str | None = None, class_to: str | None = None,
                    class_strength: float = DEFAULT_STRENGTH, color_to: str | None = None,
                    color_strength: float = DEFAULT_STRENGTH, k: int = K) -> Result:
    """`image` edited by the model at `source`, then both the photo and the edit searched in `index`."""
    if image is None:
        raise UserError("pick an example photo or upload one first")
    pipe = load_editor(source)
    photo = pipe.photos(image)[0]  # any upload, converted as the training photos were
    edited, what = edit(source, photo, own_class, class_to, class_strength, color_to, color_strength)
    original, found = search(index, photo, k), search(index, edited, k)
    scale = max(1, DISPLAY_SIDE // pipe.image_size)
    wanted = choice(color_to)
    share = f" {sum(c == wanted for c in found.colors)} of the {k} are {wanted}." if wanted else ""
    summary = (f"Edited: {what}. Searched {len(index):,} products in {original.milliseconds:.0f} ms and "
               f"{found.milliseconds:.0f} ms.{share}")
    return Result(shown(photo, scale), shown(edited, scale), original, found, summary)
