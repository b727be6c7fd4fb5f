"""What the COCO-GAN Space needs besides UI: patch grids, beyond-boundary images, part edits, patch-guided completion.

    generate_image(source, seed=0)                     # PIL RGB, enlarged (nearest), micro-patch grid drawn
    beyond_image(source, seed=0, extra=2)              # 2 micro patches past each border, training region outlined
    redraw_cell(source, seed=0, row=1, col=2, cell_seed=7)  # only micro patch (1, 2) changes, and is outlined
    cell_at(source, x, y)                              # a click on the displayed image -> (row, col)
    examples = examples_for(source)                    # real test images in the model's geometry
    result = complete(source, examples[3].image, row=0, col=1)  # result.real, result.completed, result.summary

apps/cocogan/app.py wires these functions to components; the tests call them
directly. Every mistake a user can make (a bad seed, a cell off the grid, a
model that is not patch-based or will not load) raises `UserError` with a
one-line message. Which models the Space offers comes from `$MODEL_SOURCE`
exactly as in `core.demo.available_models`, kept to COCO-GAN generators.

Images are shown enlarged by a whole factor (nearest neighbour, so a 32 px
image stays crisp and a click maps to exactly one cell); overlays are drawn
on the enlarged RGB image, so they never change the model's own pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from core import demo as common
from core.demo import MODEL_SOURCE_FILE, available_models, parse_seed, whole_number
from core.errors import UserError
from core.files import atomic_path
from core.inference import GeneratorPipeline
from core.models.cocogan import CocoGANConfig, macro_offsets
from core.paths import PRETRAINED_DIR, PROJECT_ROOT

FAMILY = "cocogan"
DISPLAY_SIDE = 256  # a training-size image is shown this big (32 px: 8x, 64 px: 4x)
MAX_DISPLAY_SIDE = 1024  # beyond-boundary images use a smaller whole factor to stay under this
THUMBNAIL_SIDE = 128  # gallery thumbnails (nearest neighbour: browsers blur small images)
MAX_EXTRA = 8  # micro patches beyond each border: GeneratorPipeline.beyond's limit
GRID_COLOUR = (0, 255, 255)  # cyan: visible on black Fashion-MNIST backgrounds, white garments and photos
OUTLINE_COLOUR = (255, 0, 255)  # magenta: the training region, the macro patch, the redrawn cell
EXAMPLES_DIR = PROJECT_ROOT / "apps" / "cocogan" / "examples"
EXAMPLES_KEY = "fashion-gan-lab-examples"  # PNG text chunk: dataset, classes, test-split indices, source
# What the shipped gallery holds: dataset -> (file, load_dataset options, images per class)
EXAMPLE_SETS: dict[str, tuple[str, dict, int]] = {
    "fashion-mnist": ("fashion-mnist-test.png", {"pad": 2}, 3),  # 28 px padded to the 32 px patch grid
    "clothing": ("clothing-test.png", {"image_size": 64}, 2),
}
AUTHORS = {"fashion-mnist": "Zalando Research", "clothing": "Alexey Grigorev"}
NO_MODELS = (
    "No COCO-GAN models found. Export one into `pretrained/` (`python -m core export ...`) "
    "or set `MODEL_SOURCE` to a folder of models or to comma-separated Hub repo ids."
)


# --------------------------------------------------------------------------- models


def available_cocogans(
    env: Mapping[str, str] | None = None, root: str | Path = PRETRAINED_DIR, source_file: Path = MODEL_SOURCE_FILE
) -> dict[str, str]:
    """Display label -> source of the COCO-GAN generators to offer, from `$MODEL_SOURCE`.

    Local folders are kept to COCO-GANs by their config.json; Hub repo ids are
    kept as given (they are only checked when loaded).
    """
    models = available_models(env, root, family=FAMILY, source_file=source_file)
    return {label: source for label, source in models.items()
            if common.config_matches(source, lambda config: config.get("family") == FAMILY)}


def pick(models: Mapping[str, str], label: str | None) -> str:
    """The source of the model shown as `label` (core.demo.pick, with this Space's no-models message)."""
    return common.pick(models, label, NO_MODELS)


def load_patch_model(source: str) -> GeneratorPipeline:
    """The cached pipeline for `source`, which must draw by parts; failures are one-line UserErrors.

    Always the torch backend, whatever `$BACKEND` says: a COCO-GAN's model.onnx draws whole images only, and
    parts, beyond-boundary and patch-guided generation are what this Space shows."""
    pipe = common.load(source, backend="torch")
    if not pipe.is_patch_based:
        raise UserError(f"{pipe.name} draws whole images; this Space needs a patch-based generator (COCO-GAN)")
    return pipe


@dataclass(frozen=True)
class Geometry:
    """A COCO-GAN's patch layout (its config: one side, images are square) and how the Space shows it."""

    config: CocoGANConfig
    scale: int  # nearest-neighbour enlargement of a training-size image on screen

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def micro_size(self) -> int:
        return self.config.micro_size

    @property
    def macro_size(self) -> int:
        return self.config.macro_size

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def grid(self) -> int:
        return self.config.grid

    @property
    def macro_grid(self) -> int:
        return self.config.macro_grid

    @property
    def macro_offsets(self) -> int:
        return macro_offsets(self.config)

    @property
    def cell_px(self) -> int:
        """One micro patch on screen, px."""
        return self.micro_size * self.scale


def geometry(source: str) -> Geometry:
    """The patch layout of the model at `source`."""
    config = load_patch_model(source).generator.config
    return Geometry(config, scale=max(1, DISPLAY_SIDE // config.image_size))


def describe(source: str) -> str:
    """A one-line Markdown caption: size, colour, patch layout, latent size and, when known, the training data."""
    pipe = load_patch_model(source)
    g = geometry(source)
    colour = "grayscale" if g.channels == 1 else "RGB"
    text = (
        f"**{pipe.name}**: {g.image_size}×{g.image_size} px {colour}, drawn as {g.grid}×{g.grid} micro patches of "
        f"{g.micro_size} px; its discriminator judged {g.macro_size} px macro patches "
        f"({g.macro_grid}×{g.macro_grid} micro patches); latent size {pipe.z_dim}."
    )
    return text + common.training_note(source)


# --------------------------------------------------------------------------- drawing


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of [H, W, C] uint8 by a whole factor."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """[H, W, 1] or [H, W, 3] uint8 -> a new [H, W, 3] uint8 array (overlays are coloured)."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image.copy()


def line_width(cell_px: int) -> int:
    """Grid line width for cells of `cell_px` screen pixels: 1 px, 2 px from 64 px cells."""
    return max(1, cell_px // 32)


def grid_lines(side: int, cell_px: int, width: int | None = None) -> np.ndarray:
    """Bool [side]: the rows (or columns) a grid of `cell_px` cells covers; lines sit on the inner cell borders."""
    width = line_width(cell_px) if width is None else width
    covered = np.zeros(side, dtype=bool)
    for border in range(cell_px, side, cell_px):
        covered[max(0, border - width // 2) : border - width // 2 + width] = True
    return covered


def draw_grid(image: np.ndarray, cell_px: int, colour: tuple[int, int, int] = GRID_COLOUR) -> np.ndarray:
    """[H, W, 3] uint8 with the inner borders of its `cell_px` cells drawn in `colour` (a copy)."""
    out = image.copy()
    out[grid_lines(image.shape[0], cell_px), :] = colour
    out[:, grid_lines(image.shape[1], cell_px)] = colour
    return out


def draw_box(
    image: np.ndarray, top: int, left: int, size: int, thickness: int, colour: tuple[int, int, int] = OUTLINE_COLOUR
) -> np.ndarray:
    """[H, W, 3] uint8 with the square [top, top + size) x [left, left + size) outlined inside its edge (a copy)."""
    out = image.copy()
    bottom, right = top + size, left + size
    out[top : top + thickness, left:right] = colour
    out[bottom - thickness : bottom, left:right] = colour
    out[top:bottom, left : left + thickness] = colour
    out[top:bottom, right - thickness : right] = colour
    return out


def render(
    image: np.ndarray,
    micro_size: int,
    scale: int,
    show_grid: bool = True,
    boxes: Sequence[tuple[int, int, int]] = (),
) -> Image.Image:
    """Model pixels [S, S, C] uint8 -> the PIL RGB image the Space shows: enlarged `scale` times, with the
    micro-patch grid (optional) and magenta outlines of `boxes` (top, left, size in model pixels) on top."""
    cell_px = micro_size * scale
    shown = to_rgb(enlarge(image, scale))
    if show_grid:
        shown = draw_grid(shown, cell_px)
    thickness = line_width(cell_px) + 1
    for top, left, size in boxes:
        shown = draw_box(shown, top * scale, left * scale, size * scale, thickness)
    return Image.fromarray(shown)


def beyond_scale(g: Geometry, extra: int) -> int:
    """The enlargement of a beyond-boundary image: the training size's, smaller when that would pass MAX_DISPLAY_SIDE."""
    side = (g.grid + 2 * extra) * g.micro_size
    return max(1, min(g.scale, MAX_DISPLAY_SIDE // side))


# --------------------------------------------------------------------------- generating by parts


def _cell(g: Geometry, row: float | str | None, col: float | str | None, cells: int, what: str) -> tuple[int, int]:
    return whole_number(row, f"{what} row", 0, cells - 1), whole_number(col, f"{what} column", 0, cells - 1)


def _extra(extra: float | str | None) -> int:
    return whole_number(extra, "extra micro patches per border", 0, MAX_EXTRA)


def generate_image(source: str, seed: float | str | None, show_grid: bool = True) -> Image.Image:
    """The image of `seed`, enlarged, with the micro-patch grid it was drawn on (optional)."""
    pipe, g = load_patch_model(source), geometry(source)
    return render(pipe.sample(1, parse_seed(seed))[0], g.micro_size, g.scale, show_grid)


def beyond_image(
    source: str, seed: float | str | None, extra: float | str | None, show_grid: bool = True
) -> Image.Image:
    """`seed`'s image with `extra` micro patches beyond each border; the training-size region is outlined.

    Its centre is exactly `generate_image` for the same seed; the ring around it
    comes from coordinates the model never saw in training.
    """
    pipe, g = load_patch_model(source), geometry(source)
    extra = _extra(extra)
    image = pipe.beyond(1, parse_seed(seed), extra)[0]
    box = (extra * g.micro_size, extra * g.micro_size, g.image_size)
    return render(image, g.micro_size, beyond_scale(g, extra), show_grid, [box])


def redraw_cell(
    source: str,
    seed: float | str | None,
    row: float | str | None,
    col: float | str | None,
    cell_seed: float | str | None,
    show_grid: bool = True,
) -> Image.Image:
    """`seed`'s image with micro patch (row, col) redrawn from `cell_seed`'s latent, outlined; nothing else changes."""
    pipe, g = load_patch_model(source), geometry(source)
    row, col = _cell(g, row, col, g.grid, "cell")
    image = pipe.with_part(parse_seed(seed), row, col, parse_seed(cell_seed, "cell seed"))
    box = (row * g.micro_size, col * g.micro_size, g.micro_size)
    return render(image, g.micro_size, g.scale, show_grid, [box])


def _click(g: Geometry, x: float | None, y: float | None) -> tuple[float, float]:
    """Screen coordinates of a click on a training-size image, checked to fall inside it."""
    side = g.image_size * g.scale
    if x is None or y is None or not (0 <= float(x) < side and 0 <= float(y) < side):
        raise UserError(f"click inside the image (its {side}×{side} px), got {(x, y)}")
    return float(x), float(y)


def cell_at(source: str, x: float | None, y: float | None) -> tuple[int, int]:
    """The micro patch (row, col) under a click at pixel (x, y) of the displayed training-size image."""
    g = geometry(source)
    x, y = _click(g, x, y)
    return int(y // g.cell_px), int(x // g.cell_px)


def macro_at(source: str, x: float | None, y: float | None) -> tuple[int, int]:
    """The top-left cell (row, col) of the macro patch whose centre is nearest a click at (x, y)."""
    g = geometry(source)
    x, y = _click(g, x, y)

    def nearest(position: float) -> int:  # in cells: a patch starting at t has its centre at t + k / 2
        return min(max(math.floor(position / g.cell_px - g.macro_grid / 2 + 0.5), 0), g.macro_offsets - 1)

    return nearest(y), nearest(x)


# --------------------------------------------------------------------------- patch-guided generation


@dataclass
class Completion:
    """One patch-guided generation, with everything the Space shows."""

    real: Image.Image  # the guiding image, enlarged, the macro patch outlined
    completed: Image.Image  # the generated image, enlarged, the region the guide came from outlined
    guide: np.ndarray  # uint8 [M, M, C]: the real macro patch Q read
    redrawn: np.ndarray  # uint8 [M, M, C]: the completion at the same place
    row: int
    col: int
    extra: int

    @property
    def difference(self) -> float:
        """Mean absolute difference of `redrawn` from `guide`, in grey levels (0 = identical, 255 = opposite)."""
        return float(np.abs(self.redrawn.astype(np.int16) - self.guide.astype(np.int16)).mean())

    def summary(self) -> str:
        """A few Markdown words: what Q read, what the generator drew, and how close it came."""
        size = self.guide.shape[0]
        patches = "micro patch" if self.extra == 1 else "micro patches"
        ring = f", plus {self.extra} {patches} beyond each border," if self.extra else ""
        return (
            f"Q read the outlined {size}×{size} px macro patch (top-left cell ({self.row}, {self.col})) and recovered a "
            f"latent; the generator drew the whole image{ring} from it. Inside the outline the result differs from the "
            f"real patch by **{self.difference:.1f}** grey levels on average (0 = identical, 255 = inverted); outside "
            "it, everything is the generator's own guess."
        )


def complete(
    source: str,
    image: np.ndarray,
    row: float | str | None,
    col: float | str | None,
    extra: float | str | None = 0,
    show_grid: bool = True,
) -> Completion:
    """Patch-guided generation from the macro patch of `image` (uint8 [S, S, C], the model's size) at (row, col)."""
    pipe, g = load_patch_model(source), geometry(source)
    row, col = _cell(g, row, col, g.macro_offsets, "macro patch")
    extra = _extra(extra)
    image = np.asarray(image)
    completed = pipe.complete(image, row, col, extra)  # checks the image's shape and dtype
    top, left, m = row * g.micro_size, col * g.micro_size, g.macro_size
    shift = extra * g.micro_size  # where the training-size grid starts inside a beyond-boundary image
    return Completion(
        real=render(image, g.micro_size, g.scale, show_grid, [(top, left, m)]),
        completed=render(completed, g.micro_size, beyond_scale(g, extra), show_grid, [(top + shift, left + shift, m)]),
        guide=image[top : top + m, left : left + m].copy(),
        redrawn=completed[top + shift : top + shift + m, left + shift : left + shift + m].copy(),
        row=row,
        col=col,
        extra=extra,
    )


# --------------------------------------------------------------------------- the gallery


@dataclass
class Example:
    """One real test image for patch-guided generation."""

    image: np.ndarray  # uint8 [S, S, C]
    class_name: str
    dataset: str


def make_examples(
    out_dir: str | Path = EXAMPLES_DIR, datasets: Sequence[str] = tuple(EXAMPLE_SETS), root: str | Path | None = None
) -> list[Path]:
    """Write the gallery files: for each dataset, the first few test images of each class, one class per row.

    A PNG sprite [classes * S, per_class * S] (grayscale or RGB) per dataset, with a
    text chunk naming the dataset, the classes and the test-split indices, so a
    built Space needs no data folder. Reads the test splits from `root` (default
    `$DATA_ROOT`); Fashion-MNIST is padded to 32 px like the COCO-GAN's training data.
    """
    from core.data import DATASETS, load_dataset  # torchvision: only when building the files, never in the Space

    written = []
    for name in datasets:
        if name not in EXAMPLE_SETS:
            raise UserError(f"no example set for {name!r}; known: {', '.join(EXAMPLE_SETS)}")
        file_name, options, per_class = EXAMPLE_SETS[name]
        test = load_dataset(name, "test", root=root, download=False, **options)
        labels = test.labels.numpy()
        indices = []
        for class_id, class_name in enumerate(test.class_names):
            found = np.flatnonzero(labels == class_id)[:per_class]
            if len(found) < per_class:
                raise UserError(
                    f"the {name} test split has only {len(found)} images of {class_name!r}, need {per_class}"
                )
            indices.append(found.tolist())
        images = test.images.permute(0, 2, 3, 1).numpy()  # [N, S, S, C] uint8
        sprite = np.concatenate([np.concatenate([images[i] for i in row], axis=1) for row in indices], axis=0)
        spec = DATASETS.get(name)
        meta = {
            "dataset": name,
            "class_names": list(test.class_names),
            "per_class": per_class,
            "indices": indices,
            "source": (
                f"{spec.title} by {AUTHORS[name]} ({spec.license} license, {spec.source_url}), test split: "
                f"the first {per_class} images of each class ({test.describe()})"
            ),
        }
        info = PngImagePlugin.PngInfo()
        info.add_text(EXAMPLES_KEY, json.dumps(meta))
        out = Path(out_dir) / file_name
        out.parent.mkdir(parents=True, exist_ok=True)
        pixels = sprite[..., 0] if sprite.shape[2] == 1 else sprite
        with atomic_path(out) as tmp:
            Image.fromarray(pixels, mode="L" if sprite.shape[2] == 1 else "RGB").save(tmp, pnginfo=info, optimize=True)
        written.append(out)
    return written


def _sprites(examples_dir: str | Path) -> list[Path]:
    folder = Path(examples_dir)
    paths = [folder / file_name for file_name, _, _ in EXAMPLE_SETS.values() if (folder / file_name).is_file()]
    if not paths:
        raise UserError(
            f"the example images are missing from {folder} (build them with core.cocogan_demo.make_examples)"
        )
    return paths


def example_images(examples_dir: str | Path = EXAMPLES_DIR) -> list[Example]:
    """Every shipped example, dataset by dataset, class by class."""
    examples = []
    for path in _sprites(examples_dir):
        with Image.open(path) as sprite:
            meta = json.loads(sprite.text[EXAMPLES_KEY])
            pixels = np.asarray(sprite)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels  # [rows * S, cols * S, C]
        names, per_class = meta["class_names"], meta["per_class"]
        side = pixels.shape[1] // per_class
        if pixels.shape[:2] != (len(names) * side, per_class * side):
            raise UserError(f"{path} is not an examples sprite of {len(names)}x{per_class} images")
        examples += [
            Example(pixels[r * side : (r + 1) * side, c * side : (c + 1) * side].copy(), name, meta["dataset"])
            for r, name in enumerate(names)
            for c in range(per_class)
        ]
    return examples


def fit(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [size, size, channels]: resized (area/Lanczos) and converted to grey or RGB."""
    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    pil = pil.convert("L" if channels == 1 else "RGB")
    if pil.size != (size, size):
        pil = pil.resize((size, size), Image.LANCZOS)
    array = np.asarray(pil)
    return array[..., None] if array.ndim == 2 else array


def examples_for(source: str, examples_dir: str | Path = EXAMPLES_DIR) -> list[Example]:
    """The examples in the model's size and colour: those of that geometry, else all of them converted to it."""
    g = geometry(source)
    examples = example_images(examples_dir)
    shape = (g.image_size, g.image_size, g.channels)
    matching = [example for example in examples if example.image.shape == shape]
    if matching:
        return matching
    return [Example(fit(e.image, g.image_size, g.channels), e.class_name, e.dataset) for e in examples]


def example_at(source: str, index: float | str | None, examples_dir: str | Path = EXAMPLES_DIR) -> Example:
    """Example number `index` (0-based, in gallery order) of `examples_for(source)`."""
    examples = examples_for(source, examples_dir)
    return examples[whole_number(index, "example", 0, len(examples) - 1)]


def gallery_items(source: str, examples_dir: str | Path = EXAMPLES_DIR) -> list[tuple[np.ndarray, str]]:
    """(thumbnail uint8 [T, T] or [T, T, 3], caption) per example, enlarged for the gallery."""
    items = []
    for example in examples_for(source, examples_dir):
        image = enlarge(example.image, max(1, THUMBNAIL_SIDE // example.image.shape[0]))
        items.append((image[..., 0] if image.shape[2] == 1 else image, example.class_name))
    return items


def examples_source(examples_dir: str | Path = EXAMPLES_DIR) -> str:
    """Where the gallery's images come from, in words (from the files' own metadata)."""
    sources = []
    for path in _sprites(examples_dir):
        with Image.open(path) as sprite:
            sources.append(json.loads(sprite.text[EXAMPLES_KEY])["source"])
    return "; ".join(sources)
