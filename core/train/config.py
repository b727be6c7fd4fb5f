"""Training settings: one documented default, recipes and presets as small diffs over it.

A config is resolved in this order, later wins:
    TrainConfig defaults <- recipe <- preset <- recipe's own preset tweaks <- command-line overrides
Unknown keys are an error at every stage.
"""

from __future__ import annotations

import copy
import json
import math
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.models.base import MAX_IMAGE_SIZE, check_types

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
DATA_LOADING = ("auto", "memory", "stream")
LR_SCHEDULES = ("constant", "cosine", "linear")  # core.data.sources.LOADING (not imported: it would load torchvision)


@dataclass
class TrainConfig:
    """Every training setting, with its default."""

    recipe: str = ""  # the recipe this config was resolved from (for the record)
    preset: str = ""
    # what to train
    model: str = "dcgan"  # a family in core.models.MODELS
    model_config: dict = field(default_factory=dict)  # the family's config; size, channels, classes come from the data
    dataset: str = "fashion-mnist"  # a name in core.data.DATASETS, "folder:PATH" or "hf:REPO" (core.data.sources)
    split: str = "train"
    image_size: int = 28
    channels: int = 0  # 0 = the dataset's own
    pad: int = 0  # black pixels added on each side after resizing (Fashion-MNIST 28 + 2 * 2 = 32)
    conditional: bool = True  # condition on the dataset's class labels
    hflip: bool = False  # random horizontal flips of real images
    shift: int = 0  # random translations of real images by up to this many pixels
    # folder: and hf: data: "auto" keeps it in memory when decoded it fits in a quarter of the available memory,
    # else streams it from worker processes (the same batches either way); "memory" or "stream" force the choice
    data_loading: str = "auto"
    workers: int = 0  # decoding processes for folder: and hf: data; 0 = automatic (core.data.stream)
    # how examples are made from the data (core.data.modes): single (an image and its class), paired (a photo and
    # its grayscale, edges or mask: mode_options.source), unpaired (two domains: mode_options.domains), domains
    data_mode: str = "single"
    mode_options: dict = field(default_factory=dict)
    # the objective's own settings (its Options dataclass in core.objectives): loss, penalty, curriculum,
    # adversarial_training ... A recipe or `--set` may give them at the top level (`--set loss=hinge`);
    # they are kept here, and one the objective does not read is an error.
    options: dict = field(default_factory=dict)
    # optimisation
    batch_size: int = 64  # per device
    lr: dict = field(default_factory=lambda: {"G": 2e-4, "D": 2e-4})  # per objective phase
    betas: tuple = (0.5, 0.999)  # Adam's, for every phase that does not set its own
    # per phase: {"repeats": 5, "optimizer": "rmsprop", "betas": [0.5, 0.9], "after_step": {"clip_weights": 0.01}}
    # (core.train.phases); a phase left out runs once per iteration with Adam
    phases: dict = field(default_factory=dict)
    lr_schedule: str = "constant"  # constant | cosine (decays to 0 at `steps`) | linear (constant, then to 0 over the last half)
    ema_decay: float = 0.999
    # batches (of batch_size) that measure the batch-norm statistics of the averaged generator before it is
    # sampled or exported (core.train.ema.recalibrated); 0 keeps the live generator's running statistics
    bn_recalibration: int = 16
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16 ("auto": bf16 on GPUs that support it)
    seed: int = 0
    threads: int = 0  # CPU threads for torch; 0 = torch's default (1 is far faster on an oversubscribed VM)
    # budget: stop at `steps` or after `minutes`, whichever comes first
    steps: int = 2000  # iterations (each runs every phase; a phase with repeats reads that many real batches)
    epochs: float = 0.0  # > 0: train for this many passes over the data instead (sets `steps` from the data size)
    minutes: float = 0.0  # 0 = no time limit
    # bookkeeping
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 500
    preview_count: int = 100  # images in each sample grid
    snapshot_epochs: list = field(default_factory=list)  # keep the averaged network after these epochs (snapshots/)

    def __post_init__(self) -> None:
        if not isinstance(self.betas, (list, tuple)) or len(self.betas) != 2:
            raise UserError(f"betas must be two numbers, got {self.betas!r}")
        self.betas = tuple(self.betas)
        if self.mixed_precision not in MIXED_PRECISION:
            raise UserError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, got {self.mixed_precision!r}")
        for name, low, high in (("image_size", 1, MAX_IMAGE_SIZE), ("pad", 0, 64), ("shift", 0, 16)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UserError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if self.channels not in (0, 1, 3) or isinstance(self.channels, bool):
            raise UserError(f"channels must be 0 (the dataset's own), 1 or 3, got {self.channels!r}")
        if self.data_loading not in DATA_LOADING:
            raise UserError(f"data_loading must be one of {', '.join(DATA_LOADING)}, got {self.data_loading!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 0 <= self.workers <= 64:
            raise UserError(f"workers must be a whole number from 0 (automatic) to 64, got {self.workers!r}")
        for name in ("recipe", "preset", "model", "dataset", "split", "data_mode"):
            if not isinstance(getattr(self, name), str):
                raise UserError(f"{name} must be a name, got {getattr(self, name)!r}")
        for name in ("conditional", "hflip"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {self.lr_schedule!r}")
        for name, low in (("batch_size", 1), ("steps", 0), ("log_every", 1), ("sample_every", 1),
                          ("checkpoint_every", 1), ("preview_count", 1), ("seed", 0), ("threads", 0),
                          ("bn_recalibration", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name} must be a whole number >= {low}, got {value!r}")
        if self.seed >= 2**63:
            raise UserError(f"seed must be below 2**63, got {self.seed}")
        for name in ("epochs", "minutes", "ema_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise UserError(f"{name} must be a number >= 0, got {value!r}")
        if self.steps == 0 and self.epochs == 0:
            raise UserError("nothing to train: steps and epochs are both 0 (give --steps N or --set epochs=N)")
        if not self.ema_decay < 1:
            raise UserError(f"ema_decay must be below 1, got {self.ema_decay}")
        for name in ("lr", "model_config", "phases", "options", "mode_options"):
            if not isinstance(getattr(self, name), dict):
                raise UserError(f"{name} must be a mapping, got {getattr(self, name)!r}")
        if not isinstance(self.snapshot_epochs, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in self.snapshot_epochs
        ):
            raise UserError(f"snapshot_epochs must be a list of whole epochs >= 1, got {self.snapshot_epochs!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


PRESETS: dict[str, dict[str, Any]] = {
    # seconds: the test suite's end-to-end run
    "smoke": {
        "steps": 4,
        "batch_size": 8,
        "log_every": 1,
        "sample_every": 2,
        "checkpoint_every": 2,
        "preview_count": 20,
        "model_config": {"width": 8},
    },
    # minutes on 2 CPU cores
    "quick": {"steps": 3000, "log_every": 25, "sample_every": 500, "checkpoint_every": 250},
    # a GPU
    "full": {"steps": 30000, "batch_size": 128, "sample_every": 2000, "checkpoint_every": 1000, "log_every": 100},
}

_FASHION_MNIST_STATS = {"mean": [0.2860], "std": [0.3530]}  # of the full Fashion-MNIST train set


def _classifier(model_config: dict[str, Any], quick_steps: int, presets: dict | None = None, **settings: Any) -> dict[str, Any]:
    """A classifier recipe: Adam with a cosine schedule, test accuracy every 200 steps (quick)."""
    return {
        "model": "classifier",
        "dataset": "fashion-mnist",
        "image_size": 28,
        "batch_size": 128,
        "lr": {"C": 1e-3},
        "betas": (0.9, 0.999),
        "lr_schedule": "cosine",
        "ema_decay": 0.99,
        "model_config": model_config,
        **settings,
        # sample_every is when a classifier is evaluated on its whole held-out split
        "presets": _with_tweaks({
            "smoke": {"sample_every": 4},
            "quick": {"steps": quick_steps, "sample_every": 200, "checkpoint_every": 200},
            "full": {"steps": 4 * quick_steps, "sample_every": 1000},
        }, presets),
    }


def _with_tweaks(presets: dict[str, dict], tweaks: dict[str, dict] | None) -> dict[str, dict]:
    """A recipe helper's per-preset settings with the recipe's own `tweaks` (same preset names) merged over them."""
    unknown = sorted(set(tweaks or {}) - set(presets))
    if unknown:
        raise ValueError(f"tweaks for unknown preset(s) {unknown}")
    return {name: {**settings, **(tweaks or {}).get(name, {})} for name, settings in presets.items()}


# Cloudy to lucid: the real macro patches D sees are first 4x4-pixel averages (coarse structure), then
# 2x2 averages with feature matching to refine detail, then full resolution. G's patches are never blurred.
COCOGAN_CURRICULUM = [
    {"name": "cloudy", "until": 0.15, "blur": 4},
    {"name": "refine", "until": 0.4, "blur": 2, "feature_matching": 1.0},
    {"name": "lucid", "until": 1.0, "blur": 1},
]


def _cocogan(model_config: dict[str, Any], quick_steps: int, presets: dict | None = None, **settings: Any) -> dict[str, Any]:
    """A COCO-GAN recipe: unconditional, WGAN-GP with TTUR (G 1e-4, D 4e-4, betas 0 / 0.9), the curriculum."""
    return {
        "model": "cocogan",
        "conditional": False,
        # the objective's defaults: Wasserstein loss, gradient penalty 10, spatial 10, latent 1, feature matching 1
        "lr": {"G": 1e-4, "D": 4e-4},
        "betas": (0.0, 0.9),
        "mixed_precision": "no",  # float32 on a GPU too: the gradient penalty differentiates gradients
        "curriculum": COCOGAN_CURRICULUM,
        "model_config": model_config,
        **settings,
        "presets": _with_tweaks({
            "smoke": {},
            "quick": {"steps": quick_steps, "sample_every": 500, "checkpoint_every": 250},
            "full": {"steps": 10 * quick_steps},
        }, presets),
    }


def _progan(model_config: dict[str, Any], images: dict[str, tuple[int, int]], presets: dict | None = None,
            **settings: Any) -> dict[str, Any]:
    """A Progressive GAN recipe: the growth schedule in images shown per preset (`images[preset]` = (fade,
    stable) per stage), and steps that run the whole schedule plus one more stable phase at the final size."""
    tweaks = {name: {"fade_images": fade, "stable_images": stable} for name, (fade, stable) in images.items()}
    recipe = {
        "model": "progan",
        "model_config": model_config,
        **settings,
        "presets": _with_tweaks({"smoke": {}, "quick": {"checkpoint_every": 250, "sample_every": 500},
                                 "full": {"checkpoint_every": 1000, "sample_every": 2000}},
                                {name: {**tweaks.get(name, {}), **(presets or {}).get(name, {})} for name in PRESETS}),
    }
    for name, values in recipe["presets"].items():
        values.setdefault("steps", _progan_steps(recipe, name))
    return recipe


def _progan_steps(recipe: dict[str, Any], preset: str) -> int:
    """Steps of the growth schedule of `recipe` under `preset`, with the final stage trained as long as the others."""
    from core.objectives.progan import ProGANOptions, growth_schedule

    def setting(name: str) -> Any:
        for source in (recipe["presets"][preset], PRESETS[preset], recipe):
            if name in source:
                return source[name]
        return getattr(TrainConfig, name, None)

    batch_sizes = {**recipe.get("batch_sizes", {}), **recipe["presets"][preset].get("batch_sizes", {})}  # merged, as resolved
    options = ProGANOptions(fade_images=setting("fade_images"), stable_images=setting("stable_images"), batch_sizes=batch_sizes)
    phases = growth_schedule(setting("image_size") + 2 * setting("pad"), options, setting("batch_size"))
    return phases[-1].first_step + math.ceil(options.stable_images / phases[-1].batch_size)


# The classic collection's protocol (pytorch-generative-model-collections): Fashion-MNIST at 28 px, batch 64,
# a budget in epochs (passes of the critic over the data). The quick preset is the reference's budget on
# this CPU, 10 epochs (what the collection benchmark compares and what the models in pretrained/ were
# trained with); full, for a GPU, trains 50. Snapshots of the EMA generator along the way make the timeline.
COLLECTION_EPOCHS = 10
COLLECTION_SNAPSHOTS = [1, 5, 10]
COLLECTION_FULL_EPOCHS = 50
COLLECTION_FULL_SNAPSHOTS = [1, 10, 25, 50]
# The infoGAN paper's nets (the reference collection's), with the generator's fully connected layer 256 wide
# instead of 1,024: a 1.8 M-parameter generator (7 MB) in place of 6.6 M; the critic keeps its 1,024. At 10
# epochs on this data the wide critic layer and the generator's fully connected layer are what the suite's
# DCGAN nets lacked (conditional, batch-norm statistics re-measured for the EMA: FID 3.1 against 10.0 for the
# DCGAN nets with batch norm in the critic and 16.1 without it).
COLLECTION_NETWORKS: dict[str, Any] = {"arch": "infogan", "generator_hidden": 256}
# How the collection trains, on top of each family's own algorithm (measured on GAN at 10 epochs, FID with
# the EMA generator's batch-norm statistics re-measured): Adam at 4e-4 rather than the reference's 2e-4 (4.5
# against 9.0), two generator steps per real batch, which read no more data (3.0 against 4.5), and bf16
# autocast, 1.8x faster on this CPU with no loss (8.0 against 9.0 at 2e-4). A family with learning rates of
# its own (WGAN's RMSprop, WGAN-GP's 2e-4) keeps them.
COLLECTION_TRAINING: dict[str, Any] = {
    "lr": {"G": 4e-4, "D": 4e-4},
    "phases": {"G": {"repeats": 2}},
    "mixed_precision": "bf16",
}


def family_defaults(model: Any) -> dict[str, Any]:
    """The training settings that define a model family ({} for an unknown name: the config check says why)."""
    from core.models import MODELS

    return copy.deepcopy(dict(MODELS.get(model).defaults)) if isinstance(model, str) and model in MODELS else {}


def _collection(family: str, model_config: dict[str, Any] | None = None, presets: dict | None = None,
                **settings: Any) -> dict[str, Any]:
    """A recipe of the classic collection: `family` on the Fashion-MNIST protocol."""
    own = family_defaults(family)
    # its own learning rates (and optimizer), its own critic and generator steps, stay
    training = {key: value for key, value in COLLECTION_TRAINING.items() if key not in own}
    return {
        "model": family,
        "dataset": "fashion-mnist",
        "image_size": 28,
        "batch_size": 64,
        "epochs": COLLECTION_EPOCHS,
        "snapshot_epochs": COLLECTION_SNAPSHOTS,
        "model_config": {**COLLECTION_NETWORKS, **(model_config or {})},
        **training,
        **settings,
        "presets": _with_tweaks({
            "smoke": {"epochs": 0, "snapshot_epochs": [], "model_config": {"width": 8, "hidden": 32}},
            "quick": {"log_every": 50, "sample_every": 1000, "checkpoint_every": 500},
            # a GPU: five times the epochs, same batch (the protocol's), snapshots kept along the way
            "full": {"batch_size": 64, "epochs": COLLECTION_FULL_EPOCHS, "snapshot_epochs": COLLECTION_FULL_SNAPSHOTS,
                     "log_every": 100, "sample_every": 2000, "checkpoint_every": 2000},
        }, presets),
    }


def _translator(model: str, mode: str, mode_options: dict[str, Any], model_config: dict[str, Any], quick_steps: int,
                presets: dict | None = None, **settings: Any) -> dict[str, Any]:
    """An image-to-image recipe on the clothing photos at 64 px: a data mode, flips of whole examples, Adam
    (0.5, 0.999) at 2e-4 (every family of the thesis), unconditional unless the mode is domains."""
    return {
        "model": model,
        "dataset": "clothing",
        "image_size": 64,
        "conditional": mode == "domains",
        "hflip": True,
        "data_mode": mode,
        "mode_options": mode_options,
        "batch_size": 16,
        "ema_decay": 0.999,
        "model_config": model_config,
        **settings,
        "presets": _with_tweaks({
            "smoke": {"split": "validation", "batch_size": 4, "model_config": {"width": 8, "max_width": 16}},
            "quick": {"steps": quick_steps, "sample_every": 500, "checkpoint_every": 250},
            "full": {"steps": 10 * quick_steps, "batch_size": 16},
        }, presets),
    }


# The paired translators of the thesis and their L1-only twins (the baseline of every translator table): the
# source each one takes, and the name of the recipe and model.
PAIRED_TASKS = {"edges2clothing": "edges", "mask2clothing": "mask", "colorize-clothing": "grayscale"}
PAIRED_NETWORKS: dict[str, Any] = {"width": 32, "max_width": 128}


def _paired_name(model: str, task: str) -> str:
    return f"{task}-64" if model == "pix2pix" and task.startswith("colorize") else f"{model}-{task}-64"


RECIPES: dict[str, dict[str, Any]] = {
    # Batch norm in the critic (the DCGAN paper's; without it FID 16.1 against 10.0 at 1,280 steps), and the
    # EMA generator's batch-norm statistics re-measured before it is sampled (bn_recalibration).
    "dcgan-fashion-mnist": {
        "model": "dcgan",
        "dataset": "fashion-mnist",
        "image_size": 28,
        "model_config": {"z_dim": 64, "width": 64, "critic_norm": "batch"},
        "presets": {"quick": {"steps": 5000}},
    },
    "dcgan-clothing-64": {
        "model": "dcgan",
        "dataset": "clothing",
        "image_size": 64,
        "hflip": True,
        "model_config": {"z_dim": 128, "width": 32},
        "loss": "hinge",
        "lr": {"G": 2e-4, "D": 2e-4},
        # per-preset tweaks: 64 px RGB is slower per step than 28 px grayscale
        "presets": {"smoke": {"split": "validation"}, "quick": {"steps": 6000, "checkpoint_every": 200}},
    },
    # COCO-GAN: micro patches by coordinate, judged as macro patches (full / macro / micro px), WGAN-GP,
    # TTUR learning rates, and the cloudy-to-lucid curriculum (see core.objectives.cocogan).
    # G also sees every pixel's image coordinate and starts each patch from a 4x4 latent field over the
    # whole image (core.models.cocogan): patches join up better (seam ratio 1.39 against 1.63 without).
    # The shipped model ran 4,000 steps, then was resumed to 7,000 (its card has both commands).
    "cocogan-fashion-mnist-32": _cocogan(
        {"macro_size": 16, "micro_size": 8, "z_dim": 64, "width": 32, "max_width": 128, "depth": 2,
         "pixel_coordinates": True, "latent_field": 4},
        dataset="fashion-mnist", image_size=28, pad=2, quick_steps=7000,
    ),
    # The same position-aware generator for photos, where the centre coordinate alone left the patches unjoined.
    "cocogan-clothing-64": _cocogan(
        {"macro_size": 32, "micro_size": 16, "z_dim": 128, "width": 32, "max_width": 128, "depth": 2,
         "pixel_coordinates": True, "latent_field": 4},
        dataset="clothing", image_size=64, hflip=True, quick_steps=3000,
        # full: what pretrained/cocogan-clothing-64 was trained with, 17 minutes on an H200
        presets={"smoke": {"split": "validation"}, "quick": {"batch_size": 32}, "full": {"steps": 17500}},
    ),
    # Progressive GAN (core.models.progan): 4x4 up to the data's size, WGAN-GP with drift, the paper's Adam
    # (0, 0.99) at 1e-3, in images shown per stage (fade, stable). Fashion-MNIST is padded to 32 px. quick:
    # narrow nets (16 channels at the full size, 128 at most) and 16k images per phase, what 2 CPU cores
    # train in under an hour, with a shorter EMA to match; full (a GPU): the paper's 600k per phase
    # (it used 800k) and four times the channels.
    "progan-fashion-mnist-32": _progan(
        {"z_dim": 128, "width": 16, "max_width": 128},
        {"smoke": (8, 8), "quick": (16_000, 16_000), "full": (600_000, 600_000)},
        dataset="fashion-mnist", image_size=28, pad=2, ema_decay=0.995,
        presets={"smoke": {"model_config": {"width": 8, "max_width": 16}},
                 "full": {"ema_decay": 0.999, "model_config": {"width": 64, "max_width": 256}}},
    ),
    # quick: half the images per phase of the Fashion-MNIST recipe (its 64 px stage costs 2 CPU cores most of an hour)
    "progan-clothing-64": _progan(
        {"z_dim": 128, "width": 16, "max_width": 128},
        {"smoke": (8, 8), "quick": (8_000, 8_000), "full": (600_000, 600_000)},
        dataset="clothing", image_size=64, hflip=True, ema_decay=0.995,
        presets={"smoke": {"split": "validation", "model_config": {"width": 8, "max_width": 16}},
                 "full": {"ema_decay": 0.999, "model_config": {"width": 32, "max_width": 256}}},
    ),
    # 256 px, the watch-art study's size: seven stages, a smaller batch from 64 px on (for a GPU, `--preset full`;
    # train it on your own photos with --dataset folder:PATH). quick: a short CPU try of the whole growth.
    "progan-clothing-256": _progan(
        {"z_dim": 256, "width": 16, "max_width": 256},
        {"smoke": (8, 8), "quick": (2_000, 2_000), "full": (600_000, 600_000)},
        dataset="clothing", image_size=256, hflip=True, batch_sizes={"64": 32, "128": 16, "256": 16},
        presets={"smoke": {"split": "validation", "model_config": {"width": 4, "max_width": 16}},
                 "full": {"model_config": {"width": 32, "max_width": 512}, "batch_sizes": {"128": 32, "256": 16}}},
    ),
    # The diffusion baseline (core.models.ddpm): a small diffusers U-Net on noise prediction, Fashion-MNIST padded
    # to 32 px, unconditional (so diffusers' DDPMPipeline samples it too), the cosine schedule of 1,000 steps,
    # Adam (0.9, 0.999) at 2e-4 and an EMA of 0.999; sampled with DDIM. quick: what 2 CPU cores train in about
    # 40 minutes; full (a GPU): four times the channels, 40k steps of 128.
    "ddpm-fashion-mnist-32": {
        "model": "ddpm",
        "dataset": "fashion-mnist",
        "image_size": 28,
        "pad": 2,
        "conditional": False,
        "model_config": {"width": 16, "max_width": 64, "levels": 3, "attention": True, "sampling_steps": 50},
        "lr": {"G": 2e-4},
        "snapshot_epochs": [2, 5, 10, 20],
        "presets": {
            "smoke": {"snapshot_epochs": [], "model_config": {"width": 8, "max_width": 16, "sampling_steps": 4}},
            "quick": {"steps": 4000, "sample_every": 1000, "checkpoint_every": 250},
            "full": {"steps": 40_000, "batch_size": 128, "snapshot_epochs": [5, 10, 20, 50, 100, 200],
                     "sample_every": 5000, "checkpoint_every": 2000,
                     "model_config": {"width": 64, "max_width": 256}},
        },
    },
    # The same on the clothing photos at 64 px (four levels, 64 -> 8 px), with flips: a recipe for a GPU (`--preset
    # full`); quick is a short CPU try (no model of it ships: 2 CPU cores are far too few for it).
    "ddpm-clothing-64": {
        "model": "ddpm",
        "dataset": "clothing",
        "image_size": 64,
        "hflip": True,
        "conditional": False,
        "model_config": {"width": 32, "max_width": 128, "levels": 4, "attention": True, "sampling_steps": 50},
        "lr": {"G": 2e-4},
        "presets": {
            "smoke": {"split": "validation", "model_config": {"width": 8, "max_width": 16, "sampling_steps": 4}},
            "quick": {"steps": 2000, "batch_size": 32, "sample_every": 500, "checkpoint_every": 250},
            "full": {"steps": 60_000, "batch_size": 64, "snapshot_epochs": [50, 200, 500, 1000],
                     "sample_every": 5000, "checkpoint_every": 2000,
                     "model_config": {"width": 64, "max_width": 256}},
        },
    },
    # Classifiers: the robustness lab's subjects and the metrics' feature extractors.
    # quick: 1,000 steps of 128 are about 15 epochs of the 8,226-image Fashion-MNIST prefix.
    "classifier-dense-fashion-mnist": _classifier({"arch": "dense", **_FASHION_MNIST_STATS}, quick_steps=1300),
    # The reference conv net overfits the 8,226-image prefix below 90 % test accuracy as is (valid
    # convolutions: 88.7 %); same-size convolutions, batch norm, dropout 0.5, flips and 1-pixel shifts
    # reach 90 %.
    "classifier-conv-fashion-mnist": _classifier(
        {"arch": "conv", "conv_padding": 2, "batch_norm": True, "dropout": 0.5, **_FASHION_MNIST_STATS},
        quick_steps=2400,
        hflip=True,
        shift=1,
    ),
    "classifier-conv-adv-fashion-mnist": _classifier(
        {"arch": "conv", **_FASHION_MNIST_STATS},
        quick_steps=1200,
        hflip=True,
        # The reference conv net (valid convolutions: a third of the cost of the standard model's, which
        # made PGD-AT affordable on 2 CPU cores), trained with PGD-AT at the benchmark's middle epsilon:
        # 3 steps of 0.04, epsilon ramping up over the first 200 steps.
        adversarial_training={"attack": "pgd", "epsilon": 0.1, "steps": 3, "step_size": 0.04, "warmup_steps": 200},
        presets={"smoke": {"adversarial_training": {"steps": 2, "warmup_steps": 0}}},
    ),
    # The classic collection (core.models.gan and one module per family): each family's own training
    # algorithm comes from its ModelFamily.defaults; the recipe is the shared protocol.
    **{f"{family}-fashion-mnist": _collection(family) for family in (
        "gan", "cgan", "acgan", "infogan", "wgan", "wgan-gp", "dragan", "lsgan", "began", "ebgan")},
    # Image-to-image on the clothing photos (core.models.pix2pix): pix2pix on edges, masks and grayscale
    # (colorization), each with its L1-only U-Net twin.
    **{_paired_name(model, task): _translator(model, "paired", {"source": source}, PAIRED_NETWORKS, quick_steps=2000)
       for model in ("pix2pix", "unet-l1") for task, source in PAIRED_TASKS.items()},
    # Unpaired, between the two largest classes (795 t-shirts and 455 long-sleeve tops in the train split; the
    # translation is a sleeve's length, the rest of the garment kept): CycleGAN (least squares, cycle 10,
    # identity 0.5, a pool of 50 fakes, the learning rate decaying linearly over the second half) and MUNIT.
    "cyclegan-tshirt2longsleeve-64": _translator(
        "cyclegan", "unpaired", {"domains": ["t-shirt", "longsleeve"]}, {"width": 32, "blocks": 6}, quick_steps=2000,
        batch_size=4, lr_schedule="linear", betas=(0.5, 0.999),
        # quick: half the width (0.99 M parameters for both directions, 4 MB): 0.6 CPU-seconds a step at 64 px on one
        # thread, about 20 minutes for the 2,000 steps (width 32, 3.9 M: 1.4 s a step, 48 minutes)
        presets={"quick": {"model_config": {"width": 16}}},
    ),
    "munit-tshirt2longsleeve-64": _translator(
        "munit", "unpaired", {"domains": ["t-shirt", "longsleeve"]}, {"width": 32}, quick_steps=2000,
        batch_size=4, lr={"G": 1e-4, "D": 1e-4}, betas=(0.5, 0.999),
        # quick: a 1.7 M-parameter bundle (3 blocks, MLP 128; MUNIT: 4, 256) in bf16 autocast (1.3x on this CPU),
        # about 0.55 s of one core per step, so 2000 steps in about 19 minutes
        presets={"smoke": {"model_config": {"blocks": 1, "mlp_dim": 16}},
                 "quick": {"model_config": {"width": 16, "blocks": 3, "mlp_dim": 128}, "mixed_precision": "bf16"}},
    ),
    # StarGAN: the ten classes as domains, WGAN-GP with five critic steps per generator step (Choi et al. 2018).
    # quick: half the width and a batch of 4 (as CycleGAN's), about 0.55 CPU-seconds a step on one thread (5 critic
    # steps + 1 translator step), so 2,000 steps are ~20 minutes of 2 CPU cores; full (a GPU): width 32, batch 16.
    "stargan-clothing-64": _translator(
        "stargan", "domains", {}, {"width": 32, "blocks": 6}, quick_steps=2000,
        lr={"G": 1e-4, "D": 1e-4}, betas=(0.5, 0.999), phases={"D": {"repeats": 5}},
        presets={"quick": {"batch_size": 4, "model_config": {"width": 16}}},
    ),
    # Fader networks (Lample et al. 2017): the class and the garment's named colour as attributes, an autoencoder
    # down to a 2x2 latent (128 channels: 512 numbers for 12,288 pixel values) whose attributes a latent
    # discriminator must not read; Adam 2e-4, (0.5, 0.999), the paper's. lambda ramps to 0.05 over the first 1,000
    # steps (the paper: to 1e-4 over 500k steps). Tried on 2 CPU cores: at 3,000 steps a 4x4 latent with lambda
    # 1e-2 reconstructed sharper (SSIM 0.55 against 0.50) but its colour edits landed less often (14 % against
    # 17.5 %); at 6,000 steps max_width 256 (3.7 M parameters, 15 MB) had a better FID (37 against 49) and
    # reconstruction (L1 0.077 against 0.085) than this 1.0 M-parameter one, whose edits land a little more often.
    "fader-clothing-64": _translator(
        "fader", "attributes", {}, {"width": 32, "max_width": 128, "latent_size": 2}, quick_steps=6000,
        conditional=True, betas=(0.5, 0.999), options={"latent_weight": 0.05, "latent_ramp": 1000},
        presets={"smoke": {"options": {"latent_ramp": 2}}},
    ),
    "features-fashion-mnist": _classifier(
        {"arch": "cnn", "width": 32, "stages": 3, "feature_dim": 128, "dropout": 0.2, **_FASHION_MNIST_STATS},
        quick_steps=1000,
        hflip=True,
        shift=2,
    ),
    "classifier-clothing-64": _classifier(
        {
            "arch": "cnn", "width": 16, "stages": 4, "feature_dim": 256, "dropout": 0.3,
            # per-channel statistics of the clothing train split at 64 px
            "mean": [0.538, 0.465, 0.454], "std": [0.248, 0.240, 0.228],
        },
        quick_steps=1200,  # 25 epochs of the 3,068 training photos
        dataset="clothing",
        image_size=64,
        hflip=True,
        batch_size=64,
        presets={"smoke": {"split": "validation"}},
    ),
}


def resolve_config(recipe: str, preset: str = "quick", overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig for `recipe` under `preset`, with `overrides` applied last.

    Between the TrainConfig defaults and the recipe come the defaults of the
    recipe's model family (`ModelFamily.defaults`: WGAN's critic steps, RMSprop
    and clipping; BEGAN's objective options), so a recipe only says what differs.
    """
    if recipe not in RECIPES:
        raise UserError(f"unknown recipe {recipe!r}; known: {', '.join(sorted(RECIPES))}")
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    recipe_diff = copy.deepcopy(RECIPES[recipe])
    preset_tweaks = recipe_diff.pop("presets", {}).get(preset, {})
    model = (overrides or {}).get("model") or recipe_diff.get("model") or TrainConfig.model
    values = base_values(model)
    for diff in (family_defaults(model), recipe_diff, PRESETS[preset], preset_tweaks, overrides or {}):
        values = merge(values, diff)
    values.update(recipe=recipe, preset=preset)
    return checked(TrainConfig(**values))


TRAIN_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def base_values(model: Any) -> dict[str, Any]:
    """TrainConfig's defaults for `model`, with `lr` holding exactly its objective's phases (DEFAULT_LR each),
    so a learning rate for any other phase (`lr.X=1`) is a mistake `checked` can name."""
    from core.models import MODELS
    from core.objectives import OBJECTIVES
    from core.train.phases import DEFAULT_LR

    values = TrainConfig().to_dict()
    if isinstance(model, str) and model in MODELS:
        values["lr"] = {phase.name: DEFAULT_LR for phase in OBJECTIVES.get(MODELS.get(model).objective).phases}
    return values


def merge(values: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """`values` updated with `diff`; dict-valued settings merge key by key, at every depth.

    A key that is not a TrainConfig field is an objective option and goes into
    `options` (checked against the objective by `checked`).
    """
    if not isinstance(diff, dict):
        raise UserError(f"settings must be a mapping of names to values, got {type(diff).__name__}")
    merged = copy.deepcopy(values)
    for key, value in diff.items():
        if key in TRAIN_FIELDS:
            target, name = merged, key
        else:
            target, name = merged.setdefault("options", {}), key
        target[name] = _deep_merge(target.get(name), value)
    return merged


def _deep_merge(base: Any, diff: Any) -> Any:
    """`diff` over `base`, key by key at every depth (`phases.G.repeats` keeps `phases.G.optimizer`)."""
    if not (isinstance(base, dict) and isinstance(diff, dict)):
        return copy.deepcopy(diff)
    merged = copy.deepcopy(base)
    for key, value in diff.items():
        merged[key] = _deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def checked(config: TrainConfig) -> TrainConfig:
    """`config`, once its model family exists and its objective reads every option; else a one-line UserError."""
    from core.models import MODELS
    from core.objectives import OBJECTIVES, make_options

    if not isinstance(config.model, str) or config.model not in MODELS:
        raise UserError(f"unknown model {config.model!r}; known: {', '.join(MODELS.names())}")
    objective = OBJECTIVES.get(MODELS.get(config.model).objective)
    if not isinstance(config.options, dict):
        raise UserError(f"options must be a mapping of setting names to values, got {config.options!r}")
    unknown = sorted(set(config.options) - {f.name for f in fields(objective.Options)})
    if unknown:
        readable = ", ".join(f.name for f in fields(objective.Options)) or "none"
        raise UserError(
            f"unknown training setting(s) {unknown}: not trainer settings, and the {objective.name} objective "
            f"of model {config.model!r} does not read them (its settings: {readable}; `python -m core list` shows the rest)"
        )
    make_options(objective, config.options)  # values of the right kind
    from core.train.phases import plan_phases

    plan_phases(objective.phases, config.phases, config.lr, config.betas)  # phases, learning rates, hooks
    family = MODELS.get(config.model)
    known = {f.name for f in fields(family.config_class)}
    stray = sorted(set(config.model_config) - known)
    if stray:
        raise UserError(f"unknown {family.name} model_config setting(s) {stray}; known: {', '.join(sorted(known))}")
    check_types(family.name, family.config_class, config.model_config)  # sizes are checked once the data is known
    from core.data.modes import make_mode

    if config.data_mode not in family.modes:
        raise UserError(f"{family.name} trains on {' or '.join(family.modes)} data, not {config.data_mode!r} "
                        f"(--set data_mode={family.modes[0]})")
    make_mode(config.data_mode, config.mode_options)  # its settings
    return config


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["steps=100", "lr.G=1e-4", "hflip=true"]` -> a nested diff; values parsed as JSON when they can be."""
    diff: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserError(f"override {pair!r} must look like key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = diff
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return diff


def equivalent_command(config: TrainConfig) -> str:
    """The `python -m core train` command that resolves to `config` (for runs started from Python).

    The recipe and preset, plus `--set` for every setting that differs from what they resolve to.
    """
    if config.recipe not in RECIPES or config.preset not in PRESETS:
        return ""
    base = resolve_config(config.recipe, config.preset).to_dict()
    pairs: list[str] = []

    def differences(prefix: str, ours: Any, theirs: Any) -> None:
        if isinstance(ours, dict) and isinstance(theirs, dict) and ours:
            for key in ours:
                differences(f"{prefix}.{key}" if prefix else key, ours[key], theirs.get(key, _MISSING))
        elif _normalised(ours) != _normalised(theirs):
            pairs.append(f"{prefix}={_as_override(ours)}")

    for key, value in config.to_dict().items():
        if key in ("recipe", "preset") or (key == "steps" and config.epochs > 0):  # epochs set the steps
            continue
        # options live at the top level on the command line (`--set loss=hinge`)
        differences("" if key == "options" else key, value, base[key])
    command = f"python -m core train --recipe {config.recipe} --preset {config.preset}"
    return command + (" --set " + " ".join(shlex.quote(pair) for pair in pairs) if pairs else "")


_MISSING = object()


def _as_override(value: Any) -> str:
    """A value as `parse_overrides` reads it back: plain text for a string that is not JSON, else JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            return value
    return json.dumps(_normalised(value), separators=(",", ":"))


def _normalised(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig saved as JSON (a run's config.json), also one written before `options` existed."""
    if not isinstance(values, dict):
        raise UserError(f"a saved training config must be a JSON object, got {type(values).__name__}")
    values = {k: v for k, v in values.items() if k not in RECORD_ONLY}
    if "options" not in values:
        values = upgrade_legacy(values)
    base = base_values(values.get("model", TrainConfig.model))
    if isinstance(values.get("lr"), dict):  # runs saved before lr held only the objective's phases
        values["lr"] = {key: rate for key, rate in values["lr"].items() if key in base["lr"]}
    unknown = sorted(set(values) - TRAIN_FIELDS)
    if unknown:
        raise UserError(f"unknown setting(s) {unknown} in the saved config")
    try:
        return checked(TrainConfig(**merge(base, values)))
    except TypeError as err:
        raise UserError(f"the saved config is not a training config ({err})") from None


RECORD_ONLY = frozenset({"resolved_model_config", "resolved_options"})  # results the trainer writes next to the settings
LEGACY_KEYS = ("loss", "loss_options", "adversarial_training", "eval_split", "curriculum")


def upgrade_legacy(values: dict[str, Any]) -> dict[str, Any]:
    """A config saved before objectives had typed options (every setting at the top level, each
    objective's alongside the others') in today's form: only the settings its objective reads,
    and only where they differ from that objective's defaults, move into `options`.

    `loss: "wgan-gp"` with `loss_options: {"gp_weight": w}` was the Wasserstein loss with the
    gradient penalty weighted w; COCO-GAN's other loss_options were its own weights.
    """
    values = dict(values)
    legacy = {key: values.pop(key) for key in LEGACY_KEYS if key in values}
    options: dict[str, Any] = {}
    loss_options = dict(legacy.get("loss_options") or {})
    if legacy.get("loss") == "wgan-gp":
        options.update(loss="wasserstein", penalty="gradient", penalty_weight=loss_options.pop("gp_weight", 10.0))
    elif legacy.get("loss") not in (None, "nonsaturating"):
        options["loss"] = legacy["loss"]
    options.update(loss_options)
    if legacy.get("curriculum"):
        options["curriculum"] = legacy["curriculum"]
    if legacy.get("adversarial_training"):
        options["adversarial_training"] = legacy["adversarial_training"]
    if legacy.get("eval_split") not in (None, "test"):
        options["eval_split"] = legacy["eval_split"]
    # What the objective never read was ignored then; it is dropped now rather than refused.
    from core.models import MODELS
    from core.objectives import OBJECTIVES

    model = values.get("model", TrainConfig.model)
    if isinstance(model, str) and model in MODELS:
        readable = {f.name for f in fields(OBJECTIVES.get(MODELS.get(model).objective).Options)}
        options = {key: value for key, value in options.items() if key in readable}
    return {**values, "options": options}


def load_training_config(folder: str | Path) -> TrainConfig:
    """The TrainConfig the model was trained with, from its training.json."""
    path = Path(folder) / "training.json"
    if not path.is_file():
        raise UserError(f"{folder} has no training.json: its training setup cannot be rebuilt")
    record = json.loads(path.read_text())
    saved = record.get("config")
    if saved:
        return config_from_dict(saved)
    summary = record.get("summary", {})
    if not summary.get("recipe"):
        raise UserError(f"{path} has neither a config nor a recipe name in its summary")
    return resolve_config(summary["recipe"], summary.get("preset") or "quick")
