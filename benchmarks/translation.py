"""Image-to-image translation: every translator on the held-out clothing photos, next to its baselines.

    python -m benchmarks.translation [--models NAME ...] [--limit N] [--styles 8] [--diversity-images 64]
                                     [--reference-split train|validation|test] [--seed 0] [--device cpu|cuda]
                                     [--out results/translation.jsonl]
    python -m benchmarks run --only translation                  # the same through the runner

Inputs: the clothing test split (372 photos, 64 px), through `TranslatorPipeline`
exactly as the Spaces use it (`input_tensor`: a paired model's edges, mask or
grayscale of the photo; `translate_tensor`). Features for FID and KID: the
domain extractor `classifier-clothing-64` (benchmarks.fidelity, as the quality
benchmark); the reference is the target domain's real photos:

- **paired** (pix2pix, unet-l1: edges2clothing, mask2clothing, colorize-clothing):
  reference = every photo of the test split, i.e. the ground truths of these very
  inputs. Against each input's own photo: L1 and PSNR (pixels in [0, 1]), SSIM
  (Gaussian window 11, sigma 1.5, channel-averaged), LPIPS only when the `lpips`
  package and its AlexNet weights are already on this machine (never downloaded).
  Colorization also gets the colourfulness (Hasler & Süsstrunk 2003) of the real
  photos and of the outputs, and their gap (real minus output).
- **unpaired** (CycleGAN, MUNIT: tshirt2longsleeve): both directions; the test
  photos of the source domain are translated and compared with the *train*
  split's photos of the target domain (the test split holds 52 t-shirts and 72
  longsleeves, too few for a 256-d FID). Target-class accuracy by
  classifier-clothing-64, cycle-reconstruction L1 (to the target and back; MUNIT
  draws a fresh style both ways), and for MUNIT the diversity: the mean pairwise
  L1 between the outputs of `--styles` styles of one input.
- **domains** (StarGAN: clothing-domains): photo i of class c goes to the class
  (c + 1 + i mod (K - 1)) mod K, cycling through the K - 1 other classes; the
  reference is train photos of each target class in the outputs' class mix.
  Target-class accuracy and cycle L1 as above.
- **attributes** (Fader networks: clothing-attributes): the class edits as for
  StarGAN (and with the slider at 2, pushed past the target); colour edits, photo i of colour c (named from its own pixels,
  core.data.attributes) to the colour (c + 1 + i mod (M - 1)) mod M with its
  class kept, judged by the colour its output's pixels read as, at slider
  strength 1 (the target value) and 2 (pushed past it, as the paper's sliders
  go); and the reconstruction at the photo's own class and colour (L1, PSNR, SSIM).

Baselines in every table (`params.candidate`): "identity" (the input unchanged:
a paired model's input shown as an RGB image, an unpaired or domain model's
photo itself; one per task, named `identity-<task>`) and, for paired tasks,
"unet-l1" (the L1-only U-Net of the same task: any given among the models, else
the one in pretrained/). Unpaired and domain tasks have no ground truth to
train an L1 U-Net on, so identity is their only baseline. The trained models
are "trained". Targets (core.report.translation_targets): each trained model's
FID below both baselines', StarGAN's target-class accuracy >= 70 %.

Rows (benchmark "translation", results/translation.jsonl) carry in params the
task, mode, direction, target, candidate, role, translator, family,
n_images, n_real, extractor, reference_split, input_split, seed. A model that
is not there is skipped with a message; one that fails becomes error rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import fidelity, quality, run_and_report
from core.data import ImageData
from core.errors import UserError
from core.hub import read_config
from core.images import to_uint8
from core.inference import ClassifierPipeline, TranslatorPipeline, list_models, resolve_device, resolve_source
from core.models import MODELS
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label

BENCHMARK = "translation"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DATASET = "clothing"
INPUT_SPLIT = "test"  # the held-out photos every translator is given
# The reference split per mode: paired models' outputs against the ground truths of their inputs; unpaired and
# domain models' against a split with enough photos of each target class.
REFERENCE_SPLITS = {"paired": "test", "unpaired": "train", "domains": "train", "attributes": "train"}
CANDIDATES = ("trained", "unet-l1", "identity")
BASELINE_FAMILY = "unet-l1"
PAIRED_TASKS = {"edges": "edges2clothing", "mask": "mask2clothing", "grayscale": "colorize-clothing"}
STYLES = 8  # outputs per input for the diversity of a MUNIT
CLASS_DIRECTION, COLOR_DIRECTION, RECONSTRUCTION = "photo->other class", "photo->other colour", "reconstruction"
# A Fader network's colour edits at the target value (1) and with the slider pushed past it to its end (2: the code
# -1 at the own colour, 2 at the target), as the paper's sliders go beyond the values seen in training.
COLOR_STRENGTHS = (1.0, 2.0)


def color_direction(strength: float) -> str:
    return COLOR_DIRECTION if strength == 1 else f"{COLOR_DIRECTION} (strength {strength:g})"


def class_direction(strength: float) -> str:
    return CLASS_DIRECTION if strength == 1 else f"{CLASS_DIRECTION} (strength {strength:g})"

# metric -> unit
FID, KID_MEAN, KID_STD = fidelity.FID, fidelity.KID_MEAN, fidelity.KID_STD
L1, PSNR, SSIM, LPIPS = "l1", "psnr", "ssim", "lpips"
COLOURFULNESS_REAL, COLOURFULNESS_OUTPUT, COLOURFULNESS_GAP = "colourfulness_real", "colourfulness_output", "colourfulness_gap"
TARGET_ACCURACY, CYCLE_L1, DIVERSITY = "target_accuracy", "cycle_l1", "diversity_l1"
UNITS = {PSNR: "dB", TARGET_ACCURACY: "fraction"}
LPIPS_MEASURED, LPIPS_ABSENT = "measured", "weights not present"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet, LPIPS's backbone, in the torch hub cache


# ---------------------------------------------------------------------- image metrics


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image [N] of images [N, C, H, W] in [0, 1]."""
    return (a.double() - b.double()).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, floor: float = 1e-10) -> torch.Tensor:
    """Peak signal-to-noise ratio per image [N], in dB, of images in [0, 1] (peak 1); identical images: 100 dB."""
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1).clamp_min(floor)
    return 10 * torch.log10(1 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian [size]; the 2-D window is its outer product (applied separably)."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image [N] (Wang et al. 2004) of images [N, C, H, W] in [0, 1].

    Local statistics under a Gaussian window (`size`, `sigma`), only where the
    window fits inside the image; K1 = 0.01, K2 = 0.03 with the range L = 1; the
    SSIM map averaged over positions, then over channels.
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"SSIM needs two batches [N, C, H, W] of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(a.shape[-2:]) < size:
        raise ValueError(f"images of {tuple(a.shape[-2:])} px are smaller than the {size} px SSIM window")
    a, b = a.double(), b.double()  # float32 loses ~1e-4 to the cancellation in E[x^2] - E[x]^2
    channels = a.shape[1]
    g = gaussian_window(size, sigma).to(a.device)
    rows, cols = g.view(1, 1, size, 1).expand(channels, 1, size, 1), g.view(1, 1, 1, size).expand(channels, 1, 1, size)

    def local(x: torch.Tensor) -> torch.Tensor:  # the 2-D Gaussian as two 1-D passes, per channel
        return F.conv2d(F.conv2d(x, rows, groups=channels), cols, groups=channels)

    mu_a, mu_b = local(a), local(b)
    var_a = local(a * a) - mu_a**2
    var_b = local(b * b) - mu_b**2
    cov = local(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    similarity = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return similarity.mean(dim=(2, 3)).mean(1)


def colourfulness(images: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk's (2003) colourfulness M per image [N] of RGB images [N, 3, H, W] in 0..255.

    rg = R - G, yb = (R + G) / 2 - B; M = sqrt(std_rg² + std_yb²) + 0.3 sqrt(mean_rg² + mean_yb²),
    over each image's pixels (population standard deviations). A gray image scores 0.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"colourfulness needs RGB images [N, 3, H, W], got {tuple(images.shape)}")
    x = images.double()
    rg = (x[:, 0] - x[:, 1]).flatten(1)
    yb = (0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]).flatten(1)
    spread = torch.sqrt(rg.var(1, correction=0) + yb.var(1, correction=0))
    centre = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return spread + 0.3 * centre


def pairwise_l1(outputs: torch.Tensor) -> torch.Tensor:
    """outputs [M, K, C, H, W] in [0, 1] (K outputs for each of M inputs) -> [M]: the mean L1 over the K(K-1)/2
    pairs of each input's outputs (0 when they are all the same)."""
    m, k = outputs.shape[:2]
    if k < 2:
        raise ValueError(f"diversity needs at least 2 outputs per input, got {k}")
    first, second = torch.triu_indices(k, k, offset=1)
    out = torch.empty(m, dtype=torch.float64)
    for i in range(m):  # one input at a time: K(K-1)/2 image pairs, never all at once
        x = outputs[i].double()
        out[i] = (x[first] - x[second]).abs().flatten(1).mean(1).mean()
    return out


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [0, 1]."""
    return images.double() / 255


def as_batch(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] (the pipeline's output) -> uint8 [N, 3, H, W] (one channel replicated)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x.contiguous()


def as_photos(images: torch.Tensor) -> np.ndarray:
    """uint8 [N, 3, H, W] -> uint8 [N, H, W, 3], what `TranslatorPipeline.input_tensor` takes."""
    return images.permute(0, 2, 3, 1).contiguous().numpy()


# ---------------------------------------------------------------------- LPIPS (only when present locally)


def lpips_weights() -> tuple[Path, Path] | None:
    """The `lpips` package's linear layers and torchvision's AlexNet file, when both are on this machine."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.origin:
        return None
    linear = Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"
    backbone = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE
    return (linear, backbone) if linear.is_file() and backbone.is_file() else None


def lpips_status() -> str:
    return LPIPS_MEASURED if lpips_weights() is not None else LPIPS_ABSENT


@lru_cache(maxsize=2)
def _lpips_network(device: str):
    import lpips  # present: lpips_weights() found it; the AlexNet file is read from the torch hub cache

    return lpips.LPIPS(net="alex", verbose=False).eval().requires_grad_(False).to(device)


@torch.inference_mode()
def lpips_distance(a: torch.Tensor, b: torch.Tensor, device: torch.device, batch_size: int = 64) -> torch.Tensor:
    """LPIPS (AlexNet) per image [N] of uint8 RGB images [N, 3, H, W]."""
    network = _lpips_network(str(device))
    out = []
    for start in range(0, len(a), batch_size):
        x = a[start : start + batch_size].to(device).float() / 127.5 - 1
        y = b[start : start + batch_size].to(device).float() / 127.5 - 1
        out.append(network(x, y).flatten().double().cpu())
    return torch.cat(out)


# ---------------------------------------------------------------------- tasks and scenarios


def slug(name: str) -> str:
    """'t-shirt' -> 'tshirt': a domain name inside a task name."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


@dataclass(frozen=True)
class Task:
    """What a translator does, from its config: the task name in the rows, the mode, its source or domains."""

    name: str  # edges2clothing, mask2clothing, colorize-clothing, tshirt2longsleeve, clothing-domains, ...
    mode: str  # paired | unpaired | domains | attributes
    source: str = ""  # paired: grayscale | edges | mask
    targets: tuple[str, ...] = ()  # unpaired: (A, B); domains and attributes: the classes
    image_size: int = 64
    colors: tuple[str, ...] = ()  # attributes: the named colours it edits (none when the colour is not an attribute)

    def directions(self) -> list[tuple[str, str, str]]:
        """(direction, source domain, target domain) of each measurement: paired models have one, from their
        input to a photo; unpaired ones both (A -> B, B -> A); StarGAN one, to the other classes in turn; a Fader
        network that, its colour edits (to the other colours in turn) and its reconstruction at the own values."""
        if self.mode == "paired":
            return [(f"{self.source}->photo", self.source, "photo")]
        if self.mode == "unpaired":
            a, b = self.targets
            return [(f"{a}->{b}", a, b), (f"{b}->{a}", b, a)]
        classes = [(CLASS_DIRECTION, "every class", "each other class in turn")]
        if self.mode == "domains":
            return classes
        classes += [(class_direction(s), "every class", "each other class in turn") for s in COLOR_STRENGTHS if s != 1]
        colors = [(color_direction(s), "every colour", "each other colour in turn") for s in COLOR_STRENGTHS] \
            if self.colors else []
        return [*classes, *colors, (RECONSTRUCTION, "photo", "photo")]

    def class_directions(self) -> list[tuple[str, str, str]]:
        """The directions that change the class (or unpaired domain) at the target value: `measure_domains`'. A
        Fader network's others (colour edits, class edits past the target, reconstruction) are measure_attributes'."""
        fader_only = {RECONSTRUCTION, *(f(s) for s in COLOR_STRENGTHS for f in (color_direction, class_direction))}
        return [d for d in self.directions() if d[0] not in fader_only - {CLASS_DIRECTION}]


def task_of(model: str | Path, dataset: str = DATASET) -> tuple[Task, str]:
    """The task of the translator at `model` and its family, from its config.json (no weights read)."""
    config = read_config(resolve_source(model))
    family = MODELS.get(config.get("family", "<missing>"))
    if family.kind != "translator":
        raise UserError(f"{model} is a {family.kind}, not a translator")
    typed = family.make_config(**{key: value for key, value in config.items() if key != "family"})
    mode, targets = typed.mode, tuple(typed.targets)
    if mode == "paired":
        name = PAIRED_TASKS.get(typed.source, f"{typed.source}2{dataset}")
        if dataset != DATASET:
            name = name.replace(DATASET, dataset)
    elif mode == "unpaired":
        name = f"{slug(targets[0])}2{slug(targets[1])}"
    else:
        name = f"{dataset}-{mode}"
    colors = tuple(typed.color_names) if mode == "attributes" and "color" in typed.attributes else ()
    return Task(name, mode, typed.source, targets, typed.image_size, colors), family.name


@dataclass(frozen=True)
class Scenario:
    """One candidate of one task: a translator ("trained" or the "unet-l1" baseline) or the "identity" baseline."""

    task: Task | None  # None: the model's config could not be read (run() records why as error rows)
    candidate: str = "trained"
    model: str = ""  # a translator folder, a name in pretrained/ or a Hub id; "" for identity
    dataset: str = DATASET
    reference_split: str | None = None  # None: REFERENCE_SPLITS[mode]
    limit: int | None = None  # the first `limit` held-out photos (None: every one)
    reference_limit: int | None = None  # at most this many reference photos (None: all the split has)
    styles: int = STYLES
    diversity_images: int | None = 64  # inputs of the diversity measurement (None: every one)
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    device: str = DEFAULT_DEVICE
    batch_size: int = 64
    extractor: str | None = None  # None: the dataset's domain extractor (classifier-clothing-64)
    classifier: str | None = None  # None: the dataset's label classifier (classifier-clothing-64)

    def __post_init__(self) -> None:
        if self.candidate not in CANDIDATES:
            raise ValueError(f"candidate must be one of {CANDIDATES}, got {self.candidate!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if (self.candidate == "identity") != (not self.model):
            raise ValueError("the identity baseline takes no model; every other candidate takes one")
        if self.task is None and self.candidate == "identity":
            raise ValueError("the identity baseline needs its task")
        for name in ("limit", "reference_limit", "diversity_images"):
            value = getattr(self, name)
            if value is not None and value < 5:
                raise ValueError(f"{name} must be at least 5 (or None: all), got {value}")
        if self.styles < 2:
            raise ValueError(f"styles must be at least 2, got {self.styles}")

    @property
    def name(self) -> str:
        """The rows' model: the translator's folder name, or identity-<task>."""
        return f"identity-{self.task.name}" if self.candidate == "identity" else Path(str(self.model)).name


def scenarios(models: list[str], pool: str | Path | None = PRETRAINED_DIR, baselines: bool = True,
              **options) -> list[Scenario]:
    """Per task of `models`: each trained translator, the unet-l1 baselines (those among `models`, else
    `pool`'s of the same task) and the identity baseline. Models that are not there are skipped, saying so;
    a model whose config cannot be read gets a scenario of its own that records the error."""
    dataset = options.get("dataset", DATASET)
    tasks: dict[Task, list[tuple[str, str]]] = {}
    broken: list[str] = []
    seen: set[Path] = set()
    for model in models:
        try:
            folder = resolve_source(model)
        except UserError as err:
            print(f"{BENCHMARK}: skipped {model}: {err}")
            continue
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        try:
            task, family = task_of(model, dataset)
        except Exception:  # noqa: BLE001 - its own scenario records the error as rows
            broken.append(model)
            continue
        tasks.setdefault(task, []).append(("unet-l1" if family == BASELINE_FAMILY else "trained", str(model)))
    if baselines and pool is not None:
        for name in list_models(pool, family=BASELINE_FAMILY):
            folder = Path(pool) / name
            if folder.resolve() in seen:
                continue
            try:
                task, _ = task_of(folder, dataset)
            except Exception:  # noqa: BLE001, S112 - a broken baseline in the pool is not this run's business
                continue
            members = tasks.get(task)
            if members is not None and not any(c == "unet-l1" for c, _ in members):
                members.append(("unet-l1", str(folder)))
                seen.add(folder.resolve())
    plan = []
    order = {name: i for i, name in enumerate(CANDIDATES)}
    for task, members in tasks.items():
        plan += [Scenario(task, candidate, model, **options) for candidate, model in sorted(members, key=lambda m: order[m[0]])]
        if baselines:
            plan.append(Scenario(task, "identity", **options))
    plan += [Scenario(None, "trained", model, **options) for model in broken]
    return plan


# ---------------------------------------------------------------------- measuring


def translated(pipe: TranslatorPipeline, photos: torch.Tensor, target: int | torch.Tensor | None, seed: int,
               batch_size: int = 64) -> torch.Tensor:
    """uint8 photos [N, 3, H, W] through the pipeline (to `target`: a domain id, or one per photo) -> uint8
    [N, 3, H, W]; MUNIT draws the styles from `seed`."""
    x = pipe.input_tensor(as_photos(photos))
    if isinstance(target, int):
        target = torch.full((len(x),), target, dtype=torch.long)
    return as_batch(pipe.translate_tensor(x, target, pipe.styles(len(x), seed), batch_size))


def diversity(pipe: TranslatorPipeline, photos: torch.Tensor, target: int | torch.Tensor | None = None,
              styles: int = STYLES, seed: int = 0, batch_size: int = 64) -> float:
    """Mean over inputs of the mean pairwise L1 (pixels in [0, 1]) between `styles` translations of each input
    (to `target`: a domain id, or one per input), each with its own style from `seed`: 0 for a deterministic
    translator."""
    x = pipe.input_tensor(as_photos(photos)).repeat_interleave(styles, dim=0)
    if isinstance(target, int):
        target = torch.full((len(photos),), target, dtype=torch.long)
    ids = None if target is None else target.repeat_interleave(styles)
    out = as_batch(pipe.translate_tensor(x, ids, pipe.styles(len(x), seed), batch_size))
    return float(pairwise_l1(to_unit(out).reshape(len(photos), styles, *out.shape[1:])).mean())


def other_classes(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Target class ids [N] for images of classes `labels` [N]: image i of class c goes to
    (c + 1 + i mod (K - 1)) mod K, so each class's images cycle through every other class."""
    i = torch.arange(len(labels))
    return (labels + 1 + i % (num_classes - 1)) % num_classes


def class_mix(images: torch.Tensor, labels: torch.Tensor, wanted: list[int], limit: int | None = None) -> torch.Tensor:
    """Reference images [M, ...] of classes in the proportions of `wanted` (a class id per output): from each
    class its first k_c images, k_c = s * (outputs of class c), with s as large as every class (and `limit`)
    allows. A single class gives all its images (at most `limit`)."""
    counts = Counter(int(c) for c in wanted)
    available = {c: int((labels == c).sum()) for c in counts}
    missing = [c for c, n in available.items() if n == 0]
    if missing:
        raise UserError(f"the reference split has no images of class id(s) {missing}")
    scale = min(available[c] / counts[c] for c in counts)
    if limit is not None:
        scale = min(scale, limit / len(wanted))
    parts = [images[labels == c][: max(1, int(scale * counts[c]))] for c in sorted(counts)]
    return torch.cat(parts)


@dataclass
class Measurement:
    """The metrics of one direction, and what they were measured on."""

    direction: str
    target: str
    values: dict[str, float] = field(default_factory=dict)
    n_images: int = 0
    n_real: int = 0
    reference: str = ""
    data: str = ""


def fidelity_scores(outputs: torch.Tensor, reference: torch.Tensor, extractor: str, scenario: Scenario,
                    device: torch.device) -> dict[str, float]:
    """FID, KID mean and std of outputs uint8 [N, 3, H, W] against reference photos, in `extractor`'s features."""
    real = fidelity.reference_features(reference, extractor, device, scenario.batch_size)
    candidate = fidelity.image_features(outputs, extractor, device, scenario.batch_size)
    size = min(scenario.kid_subset_size, len(outputs), len(reference))
    scores = fidelity.score(candidate, real, kid_subsets=scenario.kid_subsets, kid_subset_size=size, seed=scenario.seed)
    return {FID: scores[FID], KID_MEAN: scores[KID_MEAN], KID_STD: scores[KID_STD]}


def measure_paired(scenario: Scenario, pipe: TranslatorPipeline | None, held: ImageData, photos: torch.Tensor,
                   reference: ImageData, extractor: str, device: torch.device) -> list[Measurement]:
    task = scenario.task
    if pipe is None:  # identity: what the network would be given, shown as an RGB image
        from core.data.transforms import source_of

        outputs = as_batch(to_uint8(source_of(task.source, photos.float() / 127.5 - 1)))
    else:
        outputs = translated(pipe, photos, None, scenario.seed, scenario.batch_size)
    real = reference.images[: scenario.reference_limit]
    direction, _, target = task.directions()[0]
    m = Measurement(direction, target, n_images=len(photos), n_real=len(real), reference=f"every photo of the {reference.split} split")
    m.values = fidelity_scores(outputs, real, extractor, scenario, device)
    truth = to_unit(photos)
    m.values[L1] = float(l1(to_unit(outputs), truth).mean())
    m.values[PSNR] = float(psnr(to_unit(outputs), truth).mean())
    m.values[SSIM] = float(ssim(to_unit(outputs), truth).mean())
    if lpips_weights() is not None:
        m.values[LPIPS] = float(lpips_distance(outputs, photos, device, scenario.batch_size).mean())
    if task.source == "grayscale":
        real_m, out_m = float(colourfulness(photos).mean()), float(colourfulness(outputs).mean())
        m.values |= {COLOURFULNESS_REAL: real_m, COLOURFULNESS_OUTPUT: out_m, COLOURFULNESS_GAP: real_m - out_m}
    m.data = (f"inputs: {held.describe()}{subset(photos, held)}; reference: {len(real):,} photos of the "
              f"{reference.split} split; ground truth: each input's own photo")
    return [m]


def subset(photos: torch.Tensor, held: ImageData) -> str:
    return f", the first {len(photos):,}" if len(photos) < len(held) else ""


def class_index(names: list[str], name: str, what: str) -> int:
    lowered = [n.lower() for n in names]
    if name.lower() not in lowered:
        raise UserError(f"{what} has no class {name!r} (it has: {', '.join(names)})")
    return lowered.index(name.lower())


def measure_domains(scenario: Scenario, pipe: TranslatorPipeline | None, held: ImageData, photos: torch.Tensor,
                    labels: torch.Tensor, reference: ImageData, extractor: str, judge: ClassifierPipeline,
                    device: torch.device) -> list[Measurement]:
    """Unpaired (both directions) and domain (StarGAN) translators: FID and KID against the target domain's
    photos, target-class accuracy, cycle L1, and MUNIT's diversity."""
    task = scenario.task
    # the model's domain ids -> the dataset's and the judge's class ids
    data_ids = torch.tensor([class_index(held.class_names, t, f"the {held.dataset} data") for t in task.targets])
    judge_ids = torch.tensor([class_index(judge.class_names, t, judge.name) for t in task.targets])
    ref_ids = torch.tensor([class_index(reference.class_names, t, f"the {reference.split} split") for t in task.targets])
    out = []
    for index, (direction, source_name, target_name) in enumerate(task.class_directions()):
        if task.mode == "unpaired":
            source, target = index, 1 - index  # A -> B first (domain 0 to 1), then B -> A
            keep = labels == data_ids[source]
            inputs = photos[keep]
            source_ids = torch.full((len(inputs),), source, dtype=torch.long)
            target_ids = torch.full((len(inputs),), target, dtype=torch.long)
            what = f"the {len(inputs):,} {source_name} photos"
        else:
            lookup = {int(c): i for i, c in enumerate(data_ids)}
            keep = torch.tensor([int(c) in lookup for c in labels], dtype=torch.bool)
            inputs = photos[keep]
            source_ids = torch.tensor([lookup[int(c)] for c in labels[keep]], dtype=torch.long)
            target_ids = other_classes(source_ids, len(task.targets))
            what = f"the {len(inputs):,} photos of the model's {len(task.targets)} classes"
        if len(inputs) < 2:
            raise UserError(f"{direction}: {len(inputs)} held-out photo(s) of the source domain, too few to measure")
        real = class_mix(reference.images, reference.labels, ref_ids[target_ids].tolist(), scenario.reference_limit)
        m = Measurement(direction, target_name, n_images=len(inputs), n_real=len(real),
                        reference=(f"the {reference.split} split's {target_name} photos" if task.mode == "unpaired"
                                   else f"{reference.split} photos of each target class, in the outputs' class mix"))
        if pipe is None:
            outputs = inputs
        else:
            outputs = translated(pipe, inputs, target_ids, scenario.seed, scenario.batch_size)
        m.values = fidelity_scores(outputs, real, extractor, scenario, device)
        predicted = torch.as_tensor(judge.predict(outputs))
        m.values[TARGET_ACCURACY] = float((predicted == judge_ids[target_ids]).float().mean())
        if pipe is not None:
            back = translated(pipe, outputs, source_ids, scenario.seed + 1, scenario.batch_size)
            m.values[CYCLE_L1] = float(l1(to_unit(back), to_unit(inputs)).mean())
            if pipe.style_dim:
                few = slice(0, scenario.diversity_images)
                m.values[DIVERSITY] = diversity(pipe, inputs[few], target_ids[few], scenario.styles, scenario.seed,
                                                scenario.batch_size)
        m.data = (f"inputs: {held.describe()}{subset(photos, held)}: {what}; reference: {len(real):,} photos of the "
                  f"{reference.split} split ({m.reference}); target classes judged by {judge.name}")
        out.append(m)
    return out


def measure_attributes(scenario: Scenario, pipe: TranslatorPipeline | None, held: ImageData, photos: torch.Tensor,
                       labels: torch.Tensor, reference: ImageData, extractor: str, judge: ClassifierPipeline,
                       device: torch.device) -> list[Measurement]:
    """A Fader network's class edits with the slider pushed past the target (those at the target value are
    measure_domains'), colour edits and reconstruction. Colour edits: photo i of colour c (read from its pixels,
    core.data.attributes) goes to the colour (c + 1 + i mod (M - 1)) mod M, its class kept; the target accuracy is
    the share of outputs whose own pixels read as the target colour, FID and KID against train photos in the
    outputs' class mix, the cycle L1 after editing back to the own colour. Reconstruction: each photo at its own
    class and colour against itself (L1, PSNR, SSIM). The identity baseline has colour edits only (an unchanged
    photo is never the target colour: 0 %)."""
    from core.data.attributes import garment_colors

    task = scenario.task
    data_ids = torch.tensor([class_index(held.class_names, t, f"the {held.dataset} data") for t in task.targets])
    ref_ids = torch.tensor([class_index(reference.class_names, t, f"the {reference.split} split") for t in task.targets])
    lookup = {int(c): i for i, c in enumerate(data_ids)}
    keep = torch.tensor([int(c) in lookup for c in labels], dtype=torch.bool)
    inputs = photos[keep]
    classes = torch.tensor([lookup[int(c)] for c in labels[keep]], dtype=torch.long)
    own = garment_colors(inputs, list(task.colors)) if task.colors else None
    what = f"the {len(inputs):,} photos of the model's {len(task.targets)} classes"
    out = []
    x = None if pipe is None else pipe.input_tensor(as_photos(inputs))

    def edited(colors: torch.Tensor, images: torch.Tensor | None = None, strength: float = 1.0) -> torch.Tensor:
        source = x if images is None else pipe.input_tensor(as_photos(images))
        mine = own if images is None else None  # an edit's own colour is read from its pixels
        code = pipe.attribute_code(source, {"class": classes, "color": mine}, {"class": classes, "color": colors},
                                   {"color": strength})
        return as_batch(pipe.edit_tensor(source, code, scenario.batch_size))

    for strength in COLOR_STRENGTHS if task.colors else ():
        if pipe is None and strength != 1:
            continue  # the unchanged photo has no strength
        target = other_classes(own, len(task.colors))
        real = class_mix(reference.images, reference.labels, ref_ids[classes].tolist(), scenario.reference_limit)
        m = Measurement(color_direction(strength), "each other colour in turn", n_images=len(inputs), n_real=len(real),
                        reference=f"{reference.split} photos of the inputs' classes, in their class mix")
        outputs = inputs if pipe is None else edited(target, strength=strength)
        m.values = fidelity_scores(outputs, real, extractor, scenario, device)
        m.values[TARGET_ACCURACY] = float((garment_colors(outputs, list(task.colors)) == target).float().mean())
        if pipe is not None:
            back = edited(own, outputs)
            m.values[CYCLE_L1] = float(l1(to_unit(back), to_unit(inputs)).mean())
        m.data = (f"inputs: {held.describe()}{subset(photos, held)}: {what}; reference: {len(real):,} photos of the "
                  f"{reference.split} split ({m.reference}); colours read from the pixels (core.data.attributes); "
                  f"slider strength {strength:g}")
        out.append(m)
    judge_ids = torch.tensor([class_index(judge.class_names, t, judge.name) for t in task.targets])
    for strength in [s for s in COLOR_STRENGTHS if s != 1] if pipe is not None else ():
        target = other_classes(classes, len(task.targets))
        real = class_mix(reference.images, reference.labels, ref_ids[target].tolist(), scenario.reference_limit)
        m = Measurement(class_direction(strength), "each other class in turn", n_images=len(inputs), n_real=len(real),
                        reference=f"{reference.split} photos of each target class, in the outputs' class mix")
        code = pipe.attribute_code(x, {"class": classes, "color": own}, {"class": target}, {"class": strength})
        outputs = as_batch(pipe.edit_tensor(x, code, scenario.batch_size))
        m.values = fidelity_scores(outputs, real, extractor, scenario, device)
        m.values[TARGET_ACCURACY] = float((torch.as_tensor(judge.predict(outputs)) == judge_ids[target]).float().mean())
        returned = pipe.input_tensor(as_photos(outputs))  # edited back to the own class, its colour as it now reads
        back = pipe.edit_tensor(returned, pipe.attribute_code(returned, {}, {"class": classes}, {}), scenario.batch_size)
        m.values[CYCLE_L1] = float(l1(to_unit(as_batch(back)), to_unit(inputs)).mean())
        m.data = (f"inputs: {held.describe()}{subset(photos, held)}: {what}; reference: {len(real):,} photos of the "
                  f"{reference.split} split ({m.reference}); target classes judged by {judge.name}; slider strength "
                  f"{strength:g}")
        out.append(m)
    if pipe is not None:
        outputs = edited(own)
        m = Measurement(RECONSTRUCTION, "photo", n_images=len(inputs), n_real=len(inputs), reference="each input itself")
        truth, got = to_unit(inputs), to_unit(outputs)
        m.values = {L1: float(l1(got, truth).mean()), PSNR: float(psnr(got, truth).mean()),
                    SSIM: float(ssim(got, truth).mean())}
        m.data = f"inputs: {held.describe()}{subset(photos, held)}: {what}, each at its own class and colour"
        out.append(m)
    return out


def expected_metrics(task: Task | None, candidate: str) -> list[str]:
    """The metrics a scenario writes (its error rows name these)."""
    if task is None:
        return [FID, KID_MEAN, KID_STD]
    if task.mode == "paired":
        extra = [COLOURFULNESS_REAL, COLOURFULNESS_OUTPUT, COLOURFULNESS_GAP] if task.source == "grayscale" else []
        return [FID, KID_MEAN, KID_STD, L1, PSNR, SSIM, *extra]
    return [FID, KID_MEAN, KID_STD, TARGET_ACCURACY, *([CYCLE_L1] if candidate != "identity" else [])]


def run(scenario: Scenario) -> list[Row]:
    """The rows of one scenario: each direction's metrics; a failure gives error rows, the benchmark goes on."""
    label = device_label(scenario.device)
    task = scenario.task
    params = {
        "task": task.name if task else "unknown",
        "mode": task.mode if task else "unknown",
        "candidate": scenario.candidate,
        "role": "model" if scenario.candidate == "trained" else "baseline",
        "translator": Path(str(scenario.model)).name if scenario.model else "",
        "family": "",
        "input_split": INPUT_SPLIT,
        "seed": scenario.seed,
        "kid_subsets": scenario.kid_subsets,
    }
    if task is not None and task.mode == "paired":
        params["lpips"] = lpips_status()
    name, data = scenario.name, ""
    try:
        device = resolve_device(scenario.device)
        if task is None:
            task_of(scenario.model, scenario.dataset)  # raises the reason its config could not be read
            raise UserError(f"{scenario.model}: its task could not be planned")
        pipe = None
        if scenario.candidate != "identity":
            pipe = TranslatorPipeline.from_pretrained(scenario.model, device=device)
            params["family"] = pipe.family.name
            if (pipe.mode, pipe.input_transform, tuple(pipe.targets), pipe.image_size) != (
                    task.mode, task.source, task.targets, task.image_size):
                raise UserError(f"{scenario.model} loads as a {pipe.mode} translator of {pipe.targets or pipe.input_transform}"
                                f" at {pipe.image_size} px, not the planned {task.name}")
        held = quality.load_split(scenario.dataset, INPUT_SPLIT, task.image_size, 3)
        photos, labels = held.images[: scenario.limit], held.labels[: scenario.limit]
        reference_split = scenario.reference_split or REFERENCE_SPLITS[task.mode]
        reference = quality.load_split(scenario.dataset, reference_split, task.image_size, 3)
        extractor = fidelity.resolve_extractor(scenario.extractor or fidelity.DOMAIN_EXTRACTORS[scenario.dataset])
        params |= {"extractor": extractor, "reference_split": reference_split, "image_size": task.image_size}
        if task.mode == "paired":
            measurements = measure_paired(scenario, pipe, held, photos, reference, extractor, device)
        else:
            judge = ClassifierPipeline.from_pretrained(
                scenario.classifier or quality.LABEL_CLASSIFIERS[scenario.dataset], device=device)
            params["label_classifier"] = judge.name
            if pipe is not None and pipe.style_dim:
                params |= {"styles": scenario.styles}
            measurements = measure_domains(scenario, pipe, held, photos, labels, reference, extractor, judge, device)
            if task.mode == "attributes":
                measurements += measure_attributes(scenario, pipe, held, photos, labels, reference, extractor, judge,
                                                   device)
    except Exception as err:  # noqa: BLE001 - any failure is recorded as rows; the benchmark goes on
        message = f"{type(err).__name__}: {err}"
        directions = task.directions() if task is not None else [("", "", "")]
        if task is not None and scenario.candidate == "identity":
            # the unchanged photo: no reconstruction, and one colour direction (strength means nothing to it)
            stronger = [f(s) for s in COLOR_STRENGTHS if s != 1 for f in (color_direction, class_direction)]
            directions = [d for d in directions if d[0] != RECONSTRUCTION and d[0] not in stronger]
        return [Row(BENCHMARK, name, scenario.dataset, metric, None, UNITS.get(metric, ""), label,
                    {**params, "direction": direction, "target": target}, data, error=message)
                for direction, _, target in directions for metric in expected_metrics(task, scenario.candidate)]
    rows = []
    for m in measurements:
        row_params = {**params, "direction": m.direction, "target": m.target, "n_images": m.n_images,
                      "n_real": m.n_real, "reference": m.reference,
                      "kid_subset_size": min(scenario.kid_subset_size, m.n_images, m.n_real)}
        rows += [Row(BENCHMARK, name, scenario.dataset, metric, value, UNITS.get(metric, ""), label, row_params, m.data)
                 for metric, value in m.values.items()]
    return rows


# ---------------------------------------------------------------------- table


def format_table(rows: list[Row]) -> str:
    """The translation table (core.report.translation_table) per task, its notes and the targets check."""
    from core import report

    dicts = [row.to_dict() for row in rows]
    table = report.translation_table(dicts)
    lines: list[str] = []
    for task, group in table.groupby("task", sort=False):
        metrics = [m for m in report.TRANSLATION_METRICS if m in group and group[m].notna().any()]
        header = ["direction", "model", "candidate", "n", *[report.TRANSLATION_METRICS[m][0] for m in metrics]]
        cells = [header]
        for entry in group.to_dict("records"):
            cells.append([str(entry["direction"]), str(entry["model"]), str(entry["candidate"]),
                          "-" if pd_missing(entry["n_images"]) else f"{int(entry['n_images']):,}",
                          *["-" if pd_missing(entry[m]) else report.translation_value(m, entry[m]) for m in metrics]])
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines += ["", f"{task} ({group['mode'].iloc[0]})"]
        lines += ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in cells]
    lines += ["", *report.translation_notes(dicts)]
    lines += [("target met: " if met else "TARGET NOT MET: ") + text for met, text in report.translation_targets(dicts)]
    lines += [f"error: {model}: {error}" for model, error in dict.fromkeys((r.model, r.error) for r in rows if r.error)]
    return "\n".join(lines).strip("\n")


def pd_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "nan")


# ---------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.translation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="translator folders, names in pretrained/ or Hub ids "
                        "(default: every translator there); ones not found are skipped")
    parser.add_argument("--limit", type=int, help="only the first N held-out photos (default: all 372)")
    parser.add_argument("--reference-split", choices=("train", "validation", "test"),
                        help="reference photos' split (default: test for paired models, train for the others)")
    parser.add_argument("--reference-limit", type=int, help="at most N reference photos (default: all the split has)")
    parser.add_argument("--baselines-from", type=Path, default=PRETRAINED_DIR,
                        help="where to find the unet-l1 baseline of a paired task not among --models (default: pretrained/)")
    parser.add_argument("--styles", type=int, default=STYLES, help="styles per input for a MUNIT's diversity")
    parser.add_argument("--diversity-images", type=int, default=64, help="inputs of the diversity measurement")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baselines", action="store_true", help="skip the identity and unet-l1 baselines")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "translation.jsonl", help="JSON-lines file to append to")
    args = parser.parse_args(argv)
    models = args.models or [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, kind="translator")]
    try:
        plan = scenarios(models, pool=args.baselines_from, baselines=not args.no_baselines, limit=args.limit,
                         reference_split=args.reference_split, reference_limit=args.reference_limit,
                         styles=args.styles, diversity_images=args.diversity_images, kid_subsets=args.kid_subsets,
                         seed=args.seed, device=args.device)
    except ValueError as err:
        parser.error(str(err))
    if not plan:
        print(f"error: no translators to measure (none of {', '.join(models) or 'pretrained/'} is there)", file=sys.stderr)
        return 2
    return run_and_report(plan, run, args.out, BENCHMARK, format_table)


if __name__ == "__main__":
    sys.exit(main())
