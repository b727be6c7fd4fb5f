"""What the robustness Space needs besides UI: uploads -> Fashion-MNIST-style images, one attack, curves.

    image = load_upload("sneaker.jpg")  # uint8 [28, 28], garment light on black, centred
    result = attack_one("pretrained/classifier-conv-fashion-mnist", image, None, "pgd", 0.1, use_mask=True)
    result.clean_pred, result.adv_pred  # class ids before and after; result.summary() says it in words
    result.perturbation.shape  # (224, 224, 3): adversarial - original, RdBu_r colormap, 8x nearest
    curve_for("classifier-conv-fashion-mnist")  # DataFrame: epsilon, accuracy, attack, mask, series

apps/robustness/app.py wires these functions to components; the tests call them
directly. Every mistake a user can make (an unreadable upload, an unknown
class, a bad epsilon, a model that will not load) raises `UserError` with a
one-line message. Which models the Space offers comes from `$MODEL_SOURCE`
exactly as in `core.demo.available_models`, kept to 28x28 grayscale classifiers.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
from PIL import Image, PngImagePlugin

from core import demo as common
from core import report
from core.demo import MODEL_SOURCE_FILE, available_models, parse_seed
from core.demos.common import load_with
from core.errors import UserError
from core.files import atomic_path
from core.hub import read_config, read_training
from core.images import describe_upload, open_image
from core.inference import ClassifierPipeline, load_classifier_cached, resolve_source
from core.paths import PRETRAINED_DIR, PROJECT_ROOT, RESULTS_DIR
from core.results import read_rows
from core.robustness.attacks import ATTACKS, PGD, Attack, check_epsilon, foreground_mask

SIZE = 28  # Fashion-MNIST side; the Space attacks 28x28 grayscale classifiers only
MAX_PIXELS = 40_000_000  # uploads above this are refused before being decoded
WORK_SIDE = 512  # big uploads are shrunk to this longest side before any analysis
TRIM = 0.1  # trim edges within 10 % of the range from the background (Fashion-MNIST: 5 %; JPEG noise needs more)
FLAT = 0.05  # an upload whose brightest pixel is this close to its background has nothing to classify
DISPLAY_SCALE = 8  # nearest-neighbour enlargement of 28 px images for the browser
MAX_EPSILON = 0.3  # the UI slider's range; the attacks themselves accept up to 1
PGD_STEPS = 10
PERTURBATION_COLORMAP = "RdBu_r"  # blue = darker, white = unchanged, red = brighter
UNKNOWN_CLASS = "unknown"  # true class of an upload: the attack then targets the clean prediction
RESULTS_FILE = RESULTS_DIR / "robustness.jsonl"
EXAMPLES_FILE = PROJECT_ROOT / "apps" / "robustness" / "examples" / "fashion-mnist-test.png"
EXAMPLES_KEY = "fashion-gan-lab-examples"  # PNG text chunk with class names and test-split indices
CURVE_COLUMNS = {"epsilon": "float64", "accuracy": "float64", "attack": "str", "mask": "bool", "series": "str"}
NO_MODELS = (
    "No 28x28 grayscale classifiers found. Export one into `pretrained/` (`python -m core export ...`) "
    "or set `MODEL_SOURCE` to a folder of models or to comma-separated Hub repo ids."
)


# --------------------------------------------------------------------------- models


def available_classifiers(
    env: Mapping[str, str] | None = None, root: str | Path = PRETRAINED_DIR, source_file: Path = MODEL_SOURCE_FILE
) -> dict[str, str]:
    """Display label -> source of the 28x28 grayscale classifiers to offer, from `$MODEL_SOURCE`.

    Local folders are kept to classifiers of that input size by their config.json; Hub
    repo ids are kept as given (they are only checked when loaded).
    """
    models = available_models(env, root, family="classifier", source_file=source_file)
    return {label: source for label, source in models.items() if common.config_matches(source, _fits_space)}


def _fits_space(config: dict) -> bool:
    return config.get("family") == "classifier" and config.get("image_size") == SIZE and config.get("channels") == 1


def pick(models: Mapping[str, str], label: str | None) -> str:
    """The source of the classifier shown as `label` (core.demo.pick, with this Space's no-models message)."""
    return common.pick(models, label, NO_MODELS)


def load_classifier(source: str) -> ClassifierPipeline:
    """The cached pipeline for `source`, which must take 28x28 grayscale images; failures are one-line UserErrors.

    Always the torch backend, whatever `$BACKEND` says: the attacks need the network's gradients."""
    pipe = load_with(functools.partial(load_classifier_cached, backend="torch"), source)
    if (pipe.image_size, pipe.channels) != (SIZE, 1):
        colour = "grayscale" if pipe.channels == 1 else "RGB"
        raise UserError(
            f"{pipe.name} takes {pipe.image_size}x{pipe.image_size} {colour} images; "
            f"this Space attacks {SIZE}x{SIZE} grayscale Fashion-MNIST classifiers"
        )
    return pipe


def class_choices(source: str) -> list[str]:
    """The class names of the classifier at `source`."""
    return list(load_classifier(source).class_names)


def describe(source: str) -> str:
    """A one-line Markdown caption: architecture, classes, training data and clean test accuracy when known."""
    pipe = load_classifier(source)
    config = read_config(resolve_source(source))
    arch = f"{config['arch']} " if config.get("arch") else ""
    text = f"**{pipe.name}**: {arch}classifier of {SIZE}×{SIZE} grayscale images, {pipe.num_classes} classes."
    try:
        summary = read_training(resolve_source(source))["summary"]
    except UserError:  # none, or damaged: the classifier still works, the caption just says less
        summary = None
    if summary:
        if summary.get("data"):
            text += f" Trained on {summary['data']}."
        evaluation = summary.get("evaluation") or {}
        if evaluation.get("test_accuracy") is not None and evaluation.get("test_images"):
            text += (
                f" Clean test accuracy {100 * evaluation['test_accuracy']:.1f} % "
                f"on {evaluation['test_images']:,} test images."
            )
    return text


# --------------------------------------------------------------------------- uploads


def load_upload(upload: str | Path | bytes | Image.Image, name: str | None = None) -> np.ndarray:
    """Any image -> uint8 [28, 28] the way Fashion-MNIST was made: garment light on black, centred.

    `upload` is a file path, the file's bytes, or a PIL image. Steps (after
    Fashion-MNIST's own conversion): EXIF rotation applied; transparency composited
    on white; grayscale (16-bit and float images rescaled, not clipped); inverted
    when the border is brighter than the centre (a product photo on white); the
    border's level becomes black and the brightest pixel white; cropped to the
    object's bounding box (trimming what is within 10 % of the background); longest
    edge resized to 28 and centred on a 28x28 black canvas. Fashion-MNIST objects
    fill the frame (longest edge 28 px), unlike MNIST's 20 px digits.
    """
    image = open_image(upload, name, MAX_PIXELS, WORK_SIDE)
    gray = _grayscale(image)  # float32 [H, W] in [0, 1]
    border, centre = _border_and_centre(gray)
    if np.mean(border) > np.mean(centre):
        gray, border = 1 - gray, 1 - border
    background = float(np.median(border))
    gray = np.clip((gray - background) / max(1 - background, 1e-6), 0, 1)
    if gray.max() <= FLAT:
        raise UserError(f"{describe_upload(upload, name)} looks like one flat colour: there is no garment to classify")
    return _fit_and_centre(gray / gray.max())  # Fashion-MNIST's brightest pixel is 254-255 in 99 % of images


def _grayscale(image: Image.Image) -> np.ndarray:
    """float32 [H, W] in [0, 1], at most WORK_SIDE on the longer side; transparency composited on white."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        # 16/32-bit grayscale: PIL's convert("L") would clip at 255, so rescale ourselves.
        values = np.asarray(image, dtype=np.float32)
        scale = 65535.0 if mode != "F" else (1.0 if values.max(initial=0) <= 1 else float(values.max()))
        return _shrink(np.clip(values / scale, 0, 1))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode != "L":
        image = image.convert("RGB").convert("L")  # via RGB: CMYK, YCbCr, P, 1, ... all go there
    if max(image.size) > WORK_SIDE:
        image = image.copy()
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.BOX)  # area average: no ringing
    return np.asarray(image, dtype=np.float32) / 255


def _shrink(gray: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    if max(height, width) <= WORK_SIDE:
        return gray
    scale = WORK_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(gray, mode="F").resize(size, Image.BOX), dtype=np.float32)


def _border_and_centre(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the outer ring (5 % of the side, at least 1 px) and of the central half."""
    height, width = gray.shape
    ring_h, ring_w = max(1, height // 20), max(1, width // 20)
    edge = np.zeros_like(gray, dtype=bool)
    edge[:ring_h], edge[-ring_h:], edge[:, :ring_w], edge[:, -ring_w:] = True, True, True, True
    top, left = height // 4, width // 4
    centre = gray[top : max(top + 1, height - top), left : max(left + 1, width - left)]
    return gray[edge], centre


def _fit_and_centre(gray: np.ndarray) -> np.ndarray:
    """Crop to the object's bounding box, longest edge to SIZE (as Fashion-MNIST), centre on black."""
    rows, cols = np.nonzero(gray > TRIM)
    crop = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scale = SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # LANCZOS on 'F' images: no 8-bit rounding before the final one
    fitted = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.LANCZOS))
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - size[1]) // 2, (SIZE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = fitted
    return np.clip(np.round(canvas * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- one attack


@dataclass
class AttackResult:
    """One image before and after one attack, with everything the Space shows."""

    original: np.ndarray  # uint8 [28, 28]
    adversarial: np.ndarray  # uint8 [28, 28], |adversarial - original| <= epsilon * 255
    perturbation: np.ndarray  # uint8 [28 * scale, 28 * scale, 3], RdBu_r: -epsilon blue .. +epsilon red
    mask: np.ndarray | None  # bool [28, 28]: the pixels the attack could change (None: all)
    clean_probs: np.ndarray  # [K]
    adv_probs: np.ndarray  # [K]
    class_names: list[str]
    true_label: int | None  # the given class; None for an upload of unknown class
    attacked_label: int  # the class whose loss the attack raised (true label, else the clean prediction)
    attack: str
    epsilon: float

    @property
    def clean_pred(self) -> int:
        return int(np.argmax(self.clean_probs))

    @property
    def adv_pred(self) -> int:
        return int(np.argmax(self.adv_probs))

    @property
    def flipped(self) -> bool:
        return self.adv_pred != self.clean_pred

    def probabilities(self, which: str = "clean") -> pd.DataFrame:
        """DataFrame (class, probability) for a bar chart, in the model's class order."""
        probs = {"clean": self.clean_probs, "adversarial": self.adv_probs}[which]
        return pd.DataFrame({"class": list(self.class_names), "probability": probs.astype(np.float64)})

    def summary(self) -> str:
        """A few Markdown lines: what was attacked and whether the prediction changed."""
        names = self.class_names
        truth = f"true class **{names[self.true_label]}**" if self.true_label is not None else "true class unknown"
        clean, adv = self.clean_pred, self.adv_pred
        verdict = (
            f"prediction flipped: **{names[clean]}** → **{names[adv]}**"
            if self.flipped
            else f"prediction held: **{names[adv]}**"
        )
        changed = int(np.count_nonzero(self.adversarial != self.original))
        pixels = "garment pixels only" if self.mask is not None else "all pixels"
        return (
            f"{self.attack.upper()} at ε = {self.epsilon:g} ({self.epsilon * 255:.1f}/255), {pixels}; {truth}. "
            f"{verdict} ({100 * self.clean_probs[clean]:.0f} % → {100 * self.adv_probs[adv]:.0f} %). "
            f"{changed} of {self.original.size} pixels changed."
        )


def make_attack(name: str) -> Attack:
    """The demo's attack: PGD with 10 steps and random start (no early stop), FGSM, or random noise."""
    attack_class = ATTACKS.get(str(name).strip().lower())
    if attack_class is PGD:
        return PGD(steps=PGD_STEPS, early_stop=False)
    return attack_class()


def as_image(image: np.ndarray | Image.Image) -> np.ndarray:
    """uint8 [28, 28] from [28, 28], [28, 28, 1] or [1, 28, 28] uint8 (a PIL image goes through load_upload)."""
    if isinstance(image, Image.Image):
        return load_upload(image)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise UserError(f"expected a uint8 image, got {array.dtype}")
    array = array.squeeze()
    if array.shape != (SIZE, SIZE):
        raise UserError(f"expected a {SIZE}x{SIZE} grayscale image, got shape {tuple(np.shape(image))}")
    return array


def class_index(label: int | str | None, class_names: list[str]) -> int | None:
    """A class id from an id, a name (any case) or a digit string; None/""/"unknown" mean unknown."""
    if label is None or (isinstance(label, str) and label.strip().lower() in ("", UNKNOWN_CLASS)):
        return None
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label)
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        if not 0 <= label < len(class_names):
            raise UserError(f"class id {label} is out of range 0..{len(class_names) - 1}")
        return int(label)
    lowered = [name.lower() for name in class_names]
    if str(label).strip().lower() not in lowered:
        raise UserError(f"unknown class {label!r}; known: {', '.join(class_names)}")
    return lowered.index(str(label).strip().lower())


def attack_one(
    model_source: str,
    image: np.ndarray | Image.Image,
    label: int | str | None,
    attack_name: str,
    epsilon: float,
    use_mask: bool,
    mask_threshold: float = 0.1,
    seed: float = 0,
) -> AttackResult:
    """Attack one 28x28 image; with no true label (an upload) the attack targets the clean prediction.

    The adversarial image is rounded to uint8 and kept within floor(epsilon * 255) grey
    levels of the original, so what is shown is what was classified and the L-inf
    bound holds in pixel units too. Random draws (PGD's start, noise) come from a
    generator seeded with `seed`.
    """
    pipe = load_classifier(model_source)
    original = as_image(image)
    true_label = class_index(label, pipe.class_names)
    attack = make_attack(attack_name)
    epsilon = check_epsilon(epsilon)
    mask_threshold = _check_threshold(mask_threshold)
    generator = torch.Generator().manual_seed(parse_seed(seed))

    clean = torch.from_numpy(original.astype(np.float32) / 255)[None, None]  # [1, 1, 28, 28] in [0, 1]
    clean_probs = pipe.predict_proba(clean)[0]
    attacked_label = true_label if true_label is not None else int(np.argmax(clean_probs))
    mask = foreground_mask(clean, mask_threshold) if use_mask else None
    with torch.inference_mode():
        adv = attack.perturb(
            pipe.classifier,
            clean.to(pipe.device),
            torch.tensor([attacked_label]),
            epsilon,
            None if mask is None else mask.to(pipe.device),
            generator,
        )
    budget = math.floor(epsilon * 255 + 1e-6)  # whole grey levels within epsilon
    rounded = np.round(adv[0, 0].float().cpu().numpy() * 255)
    adversarial = np.clip(rounded, original.astype(np.int16) - budget, original.astype(np.int16) + budget)
    adversarial = np.clip(adversarial, 0, 255).astype(np.uint8)
    adv_probs = pipe.predict_proba(torch.from_numpy(adversarial.astype(np.float32) / 255)[None, None])[0]
    return AttackResult(
        original=original,
        adversarial=adversarial,
        perturbation=perturbation_image(original, adversarial, epsilon),
        mask=None if mask is None else mask[0, 0].numpy(),
        clean_probs=clean_probs,
        adv_probs=adv_probs,
        class_names=list(pipe.class_names),
        true_label=true_label,
        attacked_label=attacked_label,
        attack=str(attack_name).strip().lower(),
        epsilon=epsilon,
    )


def _check_threshold(threshold: float) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise UserError(f"mask threshold must be a number in [0, 1), got {threshold!r}") from None
    if not 0 <= value < 1:
        raise UserError(f"mask threshold must be in [0, 1), got {threshold!r}")
    return value


def perturbation_image(
    original: np.ndarray, adversarial: np.ndarray, epsilon: float, scale: int = DISPLAY_SCALE
) -> np.ndarray:
    """uint8 RGB [H * scale, W * scale, 3] of adversarial - original, -epsilon..+epsilon over the full colormap."""
    delta = (adversarial.astype(np.float32) - original.astype(np.float32)) / 255  # [H, W]
    amplified = np.clip(delta / epsilon, -1, 1) if epsilon > 0 else np.zeros_like(delta)
    rgba = matplotlib.colormaps[PERTURBATION_COLORMAP]((amplified + 1) / 2)  # [H, W, 4] floats
    rgb = np.round(rgba[..., :3] * 255).astype(np.uint8)
    return enlarge(rgb, scale)


def enlarge(image: np.ndarray, scale: int = DISPLAY_SCALE) -> np.ndarray:
    """Nearest-neighbour enlargement of [H, W] or [H, W, C], so 28 px images stay crisp in a browser."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


# --------------------------------------------------------------------------- benchmark curves


def curve_for(model_name: str, results_path: str | Path = RESULTS_FILE) -> pd.DataFrame:
    """That model's robust accuracy by epsilon from the benchmark's rows (epsilon, accuracy, attack, mask, series).

    As in benchmarks.robustness's plot, the newest row of each (attack, mask, epsilon)
    wins. `frame.attrs["note"]` says where the numbers come from, or why there are none
    (no results file, no rows for this model, an unreadable file).
    """
    path = Path(results_path)
    name = Path(str(model_name)).name
    if not path.is_file():
        return _empty_curve(f"No robustness results here yet ({path.name} is missing; `python -m benchmarks.robustness`).")
    try:
        rows = read_rows(path)  # a torn line is skipped with a warning
    except OSError as err:
        return _empty_curve(f"Could not read the robustness results: {err}")
    mine = [row for row in rows if row.get("benchmark") == "robustness" and Path(str(row.get("model"))).name == name]
    # one run only (report.latest: the newest run that measured this model), never points of two runs
    latest: dict[tuple[str, bool, float], dict] = {}
    for row in report.latest(mine, "robustness"):
        params = row.get("params") or {}
        if row.get("metric") == "accuracy" and isinstance(row.get("value"), (int, float)) and "epsilon" in params:
            latest[(str(params.get("attack")), bool(params.get("mask")), float(params["epsilon"]))] = row
    if not latest:
        return _empty_curve(f"No robustness results for {name} yet (`python -m benchmarks.robustness --models {name}`).")
    records = [
        {
            "epsilon": epsilon,
            "accuracy": float(row["value"]),
            "attack": attack,
            "mask": mask,
            "series": f"{attack}, garment only" if mask else attack,
        }
        for (attack, mask, epsilon), row in sorted(latest.items())
    ]
    frame = pd.DataFrame.from_records(records).astype(CURVE_COLUMNS)
    data = sorted({row["data"] for row in latest.values() if row.get("data")})
    when = max(str(row.get("timestamp", ""))[:16].replace("T", " ") for row in latest.values())
    sizes = sorted({(row.get("params") or {}).get("n_images") for row in latest.values()} - {None})
    images = f", {', '.join(f'{n:,}' for n in sizes)} images" if sizes else ""
    frame.attrs["note"] = (
        f"Robust accuracy of {name}" + (f" on {'; '.join(data)}" if data else "")
        + ": an image counts at ε only if every attack up to ε fails on it (benchmarks.robustness). "
        + f"One run: {when} UTC{images}."
    )
    return frame


def _empty_curve(note: str) -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in CURVE_COLUMNS.items()})
    frame.attrs["note"] = note
    return frame


# --------------------------------------------------------------------------- the gallery


def make_examples(out_path: str | Path = EXAMPLES_FILE, per_class: int = 5, root: str | Path | None = None) -> Path:
    """Write the gallery file: the first `per_class` test images of each class, one class per row.

    A grayscale PNG sprite [classes * 28, per_class * 28] with a text chunk naming the
    classes and the test-split indices, so a built Space needs no dataset. Reads the
    Fashion-MNIST test split from `root` (default `$DATA_ROOT`).
    """
    from core.data import load_dataset  # torchvision: only when building the file, never in the Space

    if per_class < 1:
        raise UserError(f"per_class must be at least 1, got {per_class}")
    test = load_dataset("fashion-mnist", "test", root=root, download=False)
    labels = test.labels.numpy()
    indices = []
    for class_id, class_name in enumerate(test.class_names):
        found = np.flatnonzero(labels == class_id)[:per_class]
        if len(found) < per_class:
            raise UserError(f"the test split has only {len(found)} images of {class_name!r}, need {per_class}")
        indices.append(found.tolist())
    sprite = np.concatenate(
        [np.concatenate([test.images[i, 0].numpy() for i in row], axis=1) for row in indices], axis=0
    )  # [classes * 28, per_class * 28]
    meta = {
        "class_names": list(test.class_names),
        "per_class": per_class,
        "indices": indices,
        "source": f"Fashion-MNIST test split (first {per_class} images of each class; {test.describe()})",
    }
    info = PngImagePlugin.PngInfo()
    info.add_text(EXAMPLES_KEY, json.dumps(meta))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Image.fromarray(sprite, mode="L").save(tmp, pnginfo=info, optimize=True)
    return out


def example_images(path: str | Path = EXAMPLES_FILE) -> list[tuple[np.ndarray, str]]:
    """The gallery: (uint8 [28, 28] image, class name) per example, class by class."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"the example images are missing: {path} (build it with core.robustness.demo.make_examples)")
    with Image.open(path) as sprite:
        meta = json.loads(sprite.text[EXAMPLES_KEY])
        pixels = np.asarray(sprite.convert("L"))
    names, per_class = meta["class_names"], meta["per_class"]
    if pixels.shape != (len(names) * SIZE, per_class * SIZE):
        raise UserError(f"{path} is not an examples sprite of {len(names)}x{per_class} images")
    return [
        (pixels[row * SIZE : (row + 1) * SIZE, col * SIZE : (col + 1) * SIZE].copy(), name)
        for row, name in enumerate(names)
        for col in range(per_class)
    ]


def examples_source(path: str | Path = EXAMPLES_FILE) -> str:
    """Where the gallery's images come from, in words (from the file's own metadata)."""
    with Image.open(path) as sprite:
        return json.loads(sprite.text[EXAMPLES_KEY])["source"]
