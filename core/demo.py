"""What the DCGAN Space needs besides UI: sample grids by class and latent walks, as PIL images.

apps/dcgan/app.py wires these functions to components; the tests call them
directly. Every mistake a user can make (a bad seed, an unknown class, a model
that will not load) raises `UserError` with a one-line message.

The helpers every Space shares (which models to show, from `$MODEL_SOURCE`;
`friendly`, `pick`, `load`, seeds, enlargement) live in `core.demos.common`
and are re-exported here, so `core.demo.available_models` and friends keep
working for the Spaces and tests that use them.
"""

from __future__ import annotations

from PIL import Image

from core.demos.common import (  # noqa: F401  (re-exported: the other Spaces and the tests import them from here)
    ALL_CLASSES,
    MAX_SEED,
    MODEL_SOURCE_FILE,
    NO_MODELS,
    available_models,
    broken_note,
    config_matches,
    display_scale,
    enlarge,
    friendly,
    label_spec,
    load,
    parse_seed,
    pick,
    split_loadable,
    whole_number,
)
from core.errors import UserError
from core.hub import read_training
from core.images import make_grid, to_pil
from core.inference import resolve_source

MAX_IMAGES = 64
MAX_STEPS = 16


def class_choices(source: str) -> list[str]:
    """The class names of the model at `source` (empty for an unconditional model)."""
    pipe = load(source)
    return list(pipe.class_names) if pipe.num_classes else []


def sample_grid(
    source: str, n: float, seed: float | None, class_choice: str | None = ALL_CLASSES, scale: int | None = None
) -> Image.Image:
    """A grid of `n` samples for `seed`, one class or all classes; `scale` defaults to `display_scale`.

    With all classes and at least one image per class, each column is one class.
    """
    pipe = load(source)
    n = whole_number(n, "number of images", 1, MAX_IMAGES)
    labels = label_spec(class_choice)
    images = pipe.sample(n, parse_seed(seed), labels)
    nrow = pipe.num_classes if labels is None and 0 < pipe.num_classes <= n else None
    return enlarge(to_pil(make_grid(images, nrow)), scale or display_scale(pipe))


def interpolation_strip(
    source: str,
    seed_a: float | None,
    seed_b: float | None,
    steps: float,
    class_choice: str | None = None,
    scale: int | None = None,
) -> Image.Image:
    """One row of `steps` images walking from seed A's latent to seed B's, for one class (default: the first)."""
    pipe = load(source)
    steps = whole_number(steps, "steps", 2, MAX_STEPS)
    label = label_spec(class_choice)
    if label is None and pipe.num_classes:
        raise UserError(f"a latent walk keeps one class: pick one of {', '.join(pipe.class_names)}")
    images = pipe.interpolate(parse_seed(seed_a, "seed A"), parse_seed(seed_b, "seed B"), steps, label)  # type: ignore[arg-type]
    return enlarge(to_pil(make_grid(images, nrow=steps)), scale or display_scale(pipe))


def describe(source: str) -> str:
    """A one-line Markdown caption: image size, colour, classes and, when known, the training data."""
    pipe = load(source)
    colour = "grayscale" if pipe.channels == 1 else "RGB"
    classes = f"{pipe.num_classes} classes" if pipe.num_classes else "unconditional"
    text = f"**{pipe.name}**: {pipe.image_size}×{pipe.image_size} px {colour}, {classes}, latent size {pipe.z_dim}."
    return text + training_note(source)


def training_note(source: str) -> str:
    """" Trained on <data> for <steps> steps." from the model's training.json, or "" when it has none."""
    try:
        summary = read_training(resolve_source(source))["summary"]
    except UserError:  # none, or damaged: the model still samples, the caption just says less
        return ""
    if not isinstance(summary.get("data"), str) or not summary["data"]:
        return ""
    steps = f" for {summary['steps']:,} steps" if isinstance(summary.get("steps"), int) and summary["steps"] else ""
    return f" Trained on {summary['data']}{steps}."
