"""What every Gradio Space needs besides UI: which models to show, one-line errors, seeds, crisp images.

Every mistake a user can make (a bad seed, an unknown model, a model that will
not load) raises `UserError` with a one-line message; `friendly` turns it into
a `gr.Error` popup in the Space.

Which models a Space shows comes from `$MODEL_SOURCE`:

- unset: the exported models in `core.paths.PRETRAINED_DIR` (for a Space built
  with `--hub-models`, the list written to `model_source.txt` next to core/);
- a folder of exported models: the models in it;
- a comma-separated list of Hub repo ids and/or model folders: exactly those.

Which backend serves them comes from `$BACKEND` (`core.onnx.resolve_backend`): torch when unset, onnx for the
model.onnx beside each model's weights.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from PIL import Image
from safetensors import SafetensorError

from core import validation
from core.errors import UserError
from core.hub import CONFIG_FILE, read_config
from core.inference import GeneratorPipeline, LabelSpec, list_models, load_cached
from core.paths import PRETRAINED_DIR, PROJECT_ROOT
from core.validation import MAX_SEED  # the CLI's and the trainer's seed rule: 0..2**63-1

F = TypeVar("F", bound=Callable)
P = TypeVar("P")
ALL_CLASSES = "all classes"
# Written by `python -m apps.build_spaces --hub-models ...`: Space settings, not
# README front matter, are what set environment variables on the Hub.
MODEL_SOURCE_FILE = PROJECT_ROOT / "model_source.txt"
NO_MODELS = (
    "No models found. Export one into `pretrained/` (`python -m core export ...`) "
    "or set `MODEL_SOURCE` to a folder of models or to comma-separated Hub repo ids."
)


def available_models(
    env: Mapping[str, str] | None = None,
    root: str | Path = PRETRAINED_DIR,
    family: str | None = "dcgan",
    source_file: Path = MODEL_SOURCE_FILE,
) -> dict[str, str]:
    """Display label -> source (model folder or Hub repo id) of the models to show, from `$MODEL_SOURCE`.

    `family=None` lists every exported model without reading its config.json, so
    one broken folder cannot stop a Space from listing the others.
    """
    env = os.environ if env is None else env
    spec = env.get("MODEL_SOURCE", "").strip()
    if not spec and source_file.is_file():
        spec = source_file.read_text().strip()
    if not spec:
        return _models_in(Path(root), family)
    folder = Path(spec).expanduser()
    if "," not in spec and folder.is_dir() and not (folder / CONFIG_FILE).is_file():
        return _models_in(folder, family)
    items = [item.strip() for item in spec.split(",") if item.strip()]
    return {_label(item): item for item in items}


def split_loadable(models: Mapping[str, str], check: Callable[[str], object]) -> tuple[dict[str, str], dict[str, str]]:
    """`models` split into those `check(source)` accepts and {label: one-line reason} for those it refuses
    (a UserError), so a Space starts with the models that load and says which did not."""
    usable, broken = {}, {}
    for label, source in models.items():
        try:
            check(source)
        except UserError as err:
            broken[label] = str(err).strip().splitlines()[0] if str(err).strip() else "could not be loaded"
            continue
        usable[label] = source
    return usable, broken


def broken_note(broken: Mapping[str, str]) -> str:
    """Markdown naming the models a Space could not load, and why ("" when every one loaded)."""
    if not broken:
        return ""
    return "**Not loaded:** " + "; ".join(f"`{label}` ({reason})" for label, reason in broken.items())


def config_matches(source: str, test: Callable[[dict], bool]) -> bool:
    """Whether a model folder's config.json passes `test`; a Hub repo id passes (it is checked when loaded)."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        return True
    try:
        return test(read_config(folder))
    except UserError:
        return False


def _models_in(root: Path, family: str | None) -> dict[str, str]:
    if family is None:
        names = sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file()) if root.is_dir() else []
    else:
        names = list_models(root, family)
    return {name: str(root / name) for name in names}


def _label(item: str) -> str:
    # Local folders by name; Hub ids in full, since the owner is part of what tells models apart
    return Path(item).expanduser().name if Path(item).expanduser().is_dir() else item


def friendly(fn: F) -> F:
    """Wrap a Space's event handler so that a UserError is a one-line gr.Error popup, not a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except UserError as err:
            import gradio as gr  # only Spaces call this; core itself does not need gradio

            raise gr.Error(str(err)) from None

    return wrapper  # type: ignore[return-value]


def pick(models: Mapping[str, str], label: str | None, none_found: str = NO_MODELS) -> str:
    """The source of the model shown as `label`; `none_found` is the message when there are no models."""
    if not models:
        raise UserError(none_found)
    if label not in models:
        raise UserError(f"unknown model {label!r}; choose one of: {', '.join(models)}")
    return models[label]


def load(source: str, backend: str | None = None) -> GeneratorPipeline:
    """The cached pipeline for `source` on `backend` (default `$BACKEND`: torch, or onnx for the model.onnx beside
    the weights); a model that will not load is a one-line UserError."""
    return load_with(functools.partial(load_cached, backend=backend), source)


def load_with(loader: Callable[[str], P], source: str) -> P:
    """`loader(source)` (a cached pipeline loader), any failure a one-line UserError naming the model."""
    # A Space must answer "this model is broken", never crash with a stack trace,
    # whatever the broken file trips over (I/O, JSON, config fields, tensor shapes).
    try:
        return loader(source)
    except UserError as err:
        raise UserError(f"could not load model {source!r}: {err}") from None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise UserError(f"could not load model {source!r}: {err.__class__.__name__}: {reason}") from None


def whole_number(value: float | str | None, what: str, low: int, high: int) -> int:
    """`value` from a UI field (a number, or its text: the API may send either) as an int in [low, high],
    by core.validation's rule once the text is read."""
    # Decimal, not float: seeds go up to 2**63-1, beyond float's exact integers
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise UserError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise UserError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return validation.whole_number(int(number), what, low, high, sent=value)


def parse_seed(seed: float | str | None, what: str = "seed") -> int:
    """A seed from a UI field: a whole number in 0..2**63-1."""
    return whole_number(seed, what, 0, MAX_SEED)


def label_spec(choice: str | None) -> LabelSpec:
    """A class dropdown value as a label for `GeneratorPipeline`; ALL_CLASSES (or nothing) cycles the classes."""
    return None if choice in (None, "", ALL_CLASSES) else choice


def display_scale(pipe: GeneratorPipeline) -> int:
    """Nearest-neighbour enlargement so small images stay crisp in a browser (same rule as the CLI)."""
    return max(1, 128 // pipe.image_size)


def enlarge(image: Image.Image, scale: int) -> Image.Image:
    """`image` `scale` times bigger, nearest neighbour: browsers blur small images they enlarge themselves."""
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST) if scale > 1 else image
