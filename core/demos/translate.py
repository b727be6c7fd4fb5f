"""What the image-to-image Space needs besides UI: which translators to offer, uploads, one translation, as PIL images.

    photo = prepare_upload("my-shirt.jpg")  # uint8 [s, s, 3], s <= 256: the centre square, as the data were made
    controls("pretrained/stargan-clothing-64")  # the target choices, MUNIT's style controls, the input preview
    result = translate("pretrained/munit-tshirt2longsleeve-64", photo, "longsleeve", seed=0, styles=4)
    result.photo, result.model_input, result.outputs, result.summary  # enlarged PIL images and one line of text

apps/translate/app.py wires these functions to components; the tests call them
directly. The models are translators (`core.inference.TranslatorPipeline`): paired
(pix2pix and its L1-only baseline: edges, mask or grayscale -> photo), unpaired
(CycleGAN, MUNIT: one domain to the other) and domains (StarGAN: any class to any
class). Everything the Space asks of a model follows from its `mode`, `targets`,
`input_transform` and `style_dim`, so a new family of translators needs no change
here. Every mistake a user can make (an unreadable, empty or huge upload, an unknown
target, a bad seed, a model that will not load) raises `UserError` with a one-line
message. Which models the Space offers comes from `$MODEL_SOURCE` exactly as in
`core.demos.common.available_models`, kept to translators.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from core.demo import training_note
from core.demos.common import (
    MODEL_SOURCE_FILE,
    available_models,
    config_matches,
    enlarge,
    load_with,
    parse_seed,
    whole_number,
)
from core.demos.common import pick as pick_model
from core.errors import UserError
from core.files import atomic_path
from core.hub import read_config
from core.images import open_image
from core.inference import TranslatorPipeline, load_translator_cached
from core.models import MODELS
from core.paths import PRETRAINED_DIR, PROJECT_ROOT

KIND = "translator"
# The shipped translators in the order the Space lists them: the three paired tasks, then the unpaired pair, then
# StarGAN. Others follow by name; the L1-only baselines come last (worth a look next to pix2pix, not a first pick).
SHIPPED = (
    "pix2pix-edges2clothing-64",
    "pix2pix-mask2clothing-64",
    "colorize-clothing-64",
    "cyclegan-tshirt2longsleeve-64",
    "munit-tshirt2longsleeve-64",
    "stargan-clothing-64",
)
BASELINE_FAMILIES = ("unet-l1",)  # the same U-Net as pix2pix trained with L1 alone
WORK_SIDE = 256  # an upload is kept as its centre square at most this big: the clothing photos' shorter side
DISPLAY_SIDE = 256  # a 64 px image is shown 4x, nearest neighbour (browsers blur small images they enlarge)
THUMBNAIL_SIDE = 128  # the example gallery's thumbnails
MAX_STYLES = 8  # MUNIT outputs per call in the Space
DEFAULT_STYLES = 4
EVERY_CLASS = "every class"  # StarGAN's target choice that draws the photo as each of its classes at once
INPUT_NAMES = {"edges": "edges", "mask": "silhouette mask", "grayscale": "grayscale"}  # a paired model's input, in words
EXAMPLES_FILE = PROJECT_ROOT / "apps" / "translate" / "examples" / "clothing-test.png"
EXAMPLES_KEY = "fashion-gan-lab-examples"  # PNG text chunk: dataset, classes, test-split indices, source (as cocogan's)
EXAMPLES_PER_CLASS = 3
NO_MODELS = (
    "No image-to-image translators found. Export one into `pretrained/` (`python -m core export ...`) "
    "or set `MODEL_SOURCE` to a folder of models or to comma-separated Hub repo ids."
)


# --------------------------------------------------------------------------- models


def available_translators(
    env: Mapping[str, str] | None = None, root: str | Path = PRETRAINED_DIR, source_file: Path = MODEL_SOURCE_FILE
) -> dict[str, str]:
    """Display label -> source of the translators to offer, from `$MODEL_SOURCE`, shipped ones first, baselines last.

    Local folders are kept to registered translator families by their config.json; Hub
    repo ids are kept as given (they are only checked when loaded).
    """
    models = available_models(env, root, family=None, source_file=source_file)
    kept = {label: source for label, source in models.items() if config_matches(source, _is_translator)}
    return dict(sorted(kept.items(), key=lambda item: _order(*item)))


def _is_translator(config: dict) -> bool:
    family = config.get("family")
    return isinstance(family, str) and family in MODELS and MODELS.get(family).kind == KIND


def _order(label: str, source: str) -> tuple[bool, int, str]:
    name = Path(label).name  # a Hub id sorts by its model name
    family = read_config(Path(source).expanduser()).get("family") if Path(source).expanduser().is_dir() else None
    baseline = family in BASELINE_FAMILIES or any(name.startswith(f"{f}-") for f in BASELINE_FAMILIES)
    rank = SHIPPED.index(name) if name in SHIPPED else len(SHIPPED)
    return baseline, rank, name


def pick(models: Mapping[str, str], label: str | None) -> str:
    """The source of the translator shown as `label` (with this Space's no-models message)."""
    return pick_model(models, label, NO_MODELS)


def load_translator(source: str) -> TranslatorPipeline:
    """The cached pipeline for `source`, which must be a translator; failures are one-line UserErrors."""
    return load_with(load_translator_cached, source)


def describe(source: str) -> str:
    """A one-line Markdown caption: family (and paper), what it translates, size, and its training data when known."""
    pipe = load_translator(source)
    family = pipe.family
    paper = family.paper.replace("(", "").replace(")", "")  # "Isola et al. (2017)" inside the parentheses below
    who = (family.title or family.name) + (f" ({paper})" if paper else "")
    if pipe.mode == "paired":
        task = f"paired: the {INPUT_NAMES.get(pipe.input_transform, pipe.input_transform)} of a photo → the photo"
    elif pipe.mode == "unpaired":
        task = f"unpaired: {pipe.targets[0]} ↔ {pipe.targets[1]}"
    else:
        task = f"{len(pipe.targets)} classes as domains ({', '.join(pipe.targets)})"
    style = f", a style code of {pipe.style_dim} numbers per output" if pipe.style_dim else ""
    size = pipe.image_size
    return f"**{pipe.name}**: {who}; {task}{style}; {size}×{size} px." + training_note(source)


@dataclass
class Controls:
    """What the Space shows for one model: its target choices, MUNIT's style controls, the input preview."""

    targets: list[tuple[str, str]]  # (label, value) for the target dropdown; [] for paired models
    target: str | None  # the default choice
    target_label: str
    styles: bool  # MUNIT: a seed and a number of styles, several outputs at once
    preview: str | None  # the label of the model-input preview (paired models), None when it takes the photo
    outputs: int = 1  # how many results the default choices give (MUNIT: its default styles; StarGAN: every class)


def controls(source: str) -> Controls:
    """The controls the model at `source` needs, from its mode, targets and style code."""
    pipe = load_translator(source)
    styles = pipe.style_dim > 0
    preview = None
    if pipe.mode == "paired":
        preview = f"What the model sees: the {INPUT_NAMES.get(pipe.input_transform, pipe.input_transform)}"
    if pipe.mode == "unpaired":
        first, second = pipe.targets
        choices = [(f"{first} → {second}", second), (f"{second} → {first}", first)]
        return Controls(choices, second, "Direction", styles, preview, DEFAULT_STYLES if styles else 1)
    if pipe.targets:
        choices = [(f"{EVERY_CLASS} (one output each)", EVERY_CLASS)] + [(name, name) for name in pipe.targets]
        return Controls(choices, EVERY_CLASS, "Target class", styles, preview, len(pipe.targets))
    return Controls([], None, "Target", styles, preview, DEFAULT_STYLES if styles else 1)


# --------------------------------------------------------------------------- uploads


def prepare_upload(upload: str | Path | bytes | Image.Image | np.ndarray | None, name: str | None = None) -> np.ndarray:
    """Any image -> uint8 [s, s, 3]: its centre square, s = min(WORK_SIDE, its shorter side).

    `upload` is a file path, the file's bytes, a PIL image or an array. As the translators' data were made
    (core.data.folder): EXIF rotation applied, transparency composited on white, any mode (16-bit, CMYK,
    palette) as RGB, the shorter side resized and the centre square cropped; `TranslatorPipeline.photos`
    then resizes it to the model's size. Empty, unreadable, truncated or absurdly large uploads are a
    one-line UserError (core.images.open_image).
    """
    from core.data.folder import as_rgb_image, square  # the functions TranslatorPipeline.photos uses
    from core.inference import array_image

    if upload is None or (isinstance(upload, str) and not upload.strip()):
        raise UserError("no file was uploaded: pick an example photo or upload one")
    if isinstance(upload, np.ndarray):
        upload = array_image(upload)
    rgb = as_rgb_image(open_image(upload, name))
    return np.asarray(square(rgb, min(WORK_SIDE, *rgb.size)))


# --------------------------------------------------------------------------- one translation


@dataclass
class Translation:
    """One photo through one translator, with everything the Space shows (each image enlarged for the browser)."""

    photo: Image.Image  # the input as the model's data were made: [S, S] RGB, enlarged
    model_input: Image.Image | None  # what a paired model sees (edges, mask, grayscale), enlarged; None otherwise
    outputs: list[tuple[Image.Image, str]]  # the translations, enlarged, with captions
    summary: str


def translate(
    source: str,
    image: np.ndarray | Image.Image | str | Path | bytes | None,
    target: str | None = None,
    seed: float | str | None = 0,
    styles: float | str | None = DEFAULT_STYLES,
) -> Translation:
    """`image` through the translator at `source`: to `target` (a domain, a class, or EVERY_CLASS); MUNIT draws
    `styles` outputs from `seed`. Paired models take no target (an empty one is ignored)."""
    if image is None:
        raise UserError("pick an example photo or upload one first")
    pipe = load_translator(source)
    seed = parse_seed(seed)
    styles = whole_number(styles, "number of styles", 1, MAX_STYLES)
    target = None if target is None or str(target).strip() == "" else str(target).strip()
    photo = pipe.photos(image)  # uint8 [1, S, S, 3]
    scale = max(1, DISPLAY_SIDE // pipe.image_size)
    preview = None
    if pipe.mode == "paired":
        preview = shown(pipe.model_input(photo)[0], scale)
    if target is not None and target.lower() == EVERY_CLASS:
        if pipe.mode != "domains":
            raise UserError(f"{pipe.name} is not a multi-class model: choose one of {', '.join(pipe.targets) or 'no target'}")
        images = pipe.translate(np.repeat(photo, len(pipe.targets), axis=0), list(pipe.targets), seed)
        captions = list(pipe.targets)
    elif pipe.style_dim:
        images = pipe.variations(photo[0], styles, seed, target)
        captions = [f"style {i + 1}" for i in range(styles)]
    else:
        images = pipe.translate(photo, target, seed)
        captions = [_caption(pipe, target)]
    outputs = [(shown(output, scale), caption) for output, caption in zip(images, captions, strict=True)]
    return Translation(shown(photo[0], scale), preview, outputs, _summary(pipe, target, seed, styles))


def _destination(pipe: TranslatorPipeline, target: str | None) -> str:
    """The name of the domain `target` (None: the pipeline's default, the second domain) in the model's spelling."""
    return pipe.targets[pipe.target_index(target) if target is not None else 1]


def _caption(pipe: TranslatorPipeline, target: str | None) -> str:
    return "photo" if pipe.mode == "paired" else _destination(pipe, target)


def _summary(pipe: TranslatorPipeline, target: str | None, seed: int, styles: int) -> str:
    name, size = f"**{pipe.name}**", f"{pipe.image_size}×{pipe.image_size}"
    if pipe.mode == "paired":
        if pipe.input_transform == "grayscale":
            return f"{name} colorized the photo's grayscale, {size} px."
        what = INPUT_NAMES.get(pipe.input_transform, pipe.input_transform)
        return f"{name} drew a photo from the photo's {what}, {size} px."
    if target is not None and target.lower() == EVERY_CLASS:
        return f"{name} drew the photo as each of its {len(pipe.targets)} classes, {size} px."
    destination = _destination(pipe, target)
    if pipe.mode == "unpaired":
        source = next(domain for domain in pipe.targets if domain != destination)
        text = f"{name} translated the photo {source} → {destination}, {size} px"
    else:
        text = f"{name} drew the photo as *{destination}*, {size} px"
    if pipe.style_dim:
        return text + f": {styles} style{'s' if styles > 1 else ''} drawn from seed {seed}."
    return text + "."


def shown(image: np.ndarray, scale: int) -> Image.Image:
    """uint8 [H, W, 1 | 3] as a PIL image `scale` times bigger, nearest neighbour."""
    return enlarge(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image), scale)


# --------------------------------------------------------------------------- the gallery


@dataclass
class Example:
    """One real test photo of the gallery."""

    image: np.ndarray  # uint8 [S, S, 3]
    class_name: str


def make_examples(
    out_path: str | Path = EXAMPLES_FILE, per_class: int = EXAMPLES_PER_CLASS, root: str | Path | None = None
) -> Path:
    """Write the gallery file: the first `per_class` clothing test photos of each class at 64 px, one class per row.

    An RGB PNG sprite [classes * 64, per_class * 64] with a text chunk naming the dataset, the
    classes, the test-split indices and the source, so a built Space needs no data folder. Reads the
    test split from `root` (default `$DATA_ROOT`) exactly as training reads it (shorter side 64, centre square).
    """
    from core.data import DATASETS, load_dataset  # the test split: only when building the file, never in the Space

    if per_class < 1:
        raise UserError(f"per_class must be at least 1, got {per_class}")
    test = load_dataset("clothing", "test", root=root, download=False, image_size=64)
    labels = test.labels.numpy()
    indices = []
    for class_id, class_name in enumerate(test.class_names):
        found = np.flatnonzero(labels == class_id)[:per_class]
        if len(found) < per_class:
            raise UserError(f"the clothing test split has only {len(found)} images of {class_name!r}, need {per_class}")
        indices.append(found.tolist())
    images = test.images.permute(0, 2, 3, 1).numpy()  # [N, 64, 64, 3] uint8
    sprite = np.concatenate([np.concatenate([images[i] for i in row], axis=1) for row in indices], axis=0)
    spec = DATASETS.get("clothing")
    meta = {
        "dataset": "clothing",
        "class_names": list(test.class_names),
        "per_class": per_class,
        "indices": indices,
        "source": (
            f"{spec.title} by Alexey Grigorev ({spec.license} license, {spec.source_url}), test split: "
            f"the first {per_class} photos of each class ({test.describe()})"
        ),
    }
    info = PngImagePlugin.PngInfo()
    info.add_text(EXAMPLES_KEY, json.dumps(meta))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Image.fromarray(sprite, mode="RGB").save(tmp, pnginfo=info, optimize=True)
    return out


def _read_sprite(path: str | Path) -> tuple[np.ndarray, dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"the example photos are missing: {path} (build it with core.demos.translate.make_examples)")
    with Image.open(path) as sprite:
        try:
            meta = json.loads(sprite.text[EXAMPLES_KEY])
        except (KeyError, json.JSONDecodeError):
            raise UserError(f"{path} is not an examples sprite (no {EXAMPLES_KEY} metadata)") from None
        return np.asarray(sprite.convert("RGB")), meta


def example_images(path: str | Path = EXAMPLES_FILE) -> list[Example]:
    """The gallery: one Example per photo, class by class."""
    pixels, meta = _read_sprite(path)
    names, per_class = meta["class_names"], meta["per_class"]
    side = pixels.shape[1] // per_class
    if pixels.shape[:2] != (len(names) * side, per_class * side):
        raise UserError(f"{path} is not an examples sprite of {len(names)}x{per_class} photos")
    return [
        Example(pixels[r * side : (r + 1) * side, c * side : (c + 1) * side].copy(), name)
        for r, name in enumerate(names)
        for c in range(per_class)
    ]


def example_at(examples: list[Example], index: float | str | None) -> Example:
    """Example number `index` (0-based, in gallery order)."""
    if not examples:
        raise UserError("there are no example photos")
    return examples[whole_number(index, "example", 0, len(examples) - 1)]


def gallery_items(examples: list[Example]) -> list[tuple[np.ndarray, str]]:
    """(thumbnail uint8 [T, T, 3], class name) per example, enlarged by nearest neighbour for the gallery."""
    return [(np.asarray(shown(e.image, max(1, THUMBNAIL_SIDE // e.image.shape[0]))), e.class_name) for e in examples]


def examples_source(path: str | Path = EXAMPLES_FILE) -> str:
    """Where the gallery's photos come from, in words (from the file's own metadata)."""
    return _read_sprite(path)[1]["source"]
