"""Training settings: one documented default, recipes and presets as small diffs over it.

A config is resolved in this order, later wins:
    TrainConfig defaults <- recipe <- preset <- recipe's own preset tweaks <- command-line overrides
Unknown keys are an error at every stage.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import UserError


@dataclass
class TrainConfig:
    """Every training setting, with its default."""

    recipe: str = ""  # the recipe this config was resolved from (for the record)
    preset: str = ""
    # what to train
    model: str = "dcgan"  # a family in core.models.MODELS
    model_config: dict = field(default_factory=dict)  # the family's config; size, channels, classes come from the data
    dataset: str = "fashion-mnist"  # a name in core.data.DATASETS
    split: str = "train"
    image_size: int = 28
    channels: int = 0  # 0 = the dataset's own
    pad: int = 0  # black pixels added on each side after resizing (Fashion-MNIST 28 + 2 * 2 = 32)
    conditional: bool = True  # condition on the dataset's class labels
    hflip: bool = False  # random horizontal flips of real images
    shift: int = 0  # random translations of real images by up to this many pixels
    loss: str = "nonsaturating"  # a name in core.losses.ADVERSARIAL_LOSSES
    loss_options: dict = field(default_factory=dict)  # e.g. {"gp_weight": 10.0} for wgan-gp
    # classifiers: attack the batch before the loss, e.g. {"attack": "pgd", "epsilon": 0.1, "steps": 7}
    adversarial_training: dict = field(default_factory=dict)
    eval_split: str = "test"  # held-out split the objective evaluates on (classifiers: accuracy)
    # staged training, for objectives that have one (COCO-GAN's cloudy-to-lucid): a list of
    # {"name": ..., "until": fraction of `steps`, ...that stage's settings}, in order
    curriculum: list = field(default_factory=list)
    # optimisation
    batch_size: int = 64  # per device
    lr: dict = field(default_factory=lambda: {"G": 2e-4, "D": 2e-4})  # per objective phase
    betas: tuple = (0.5, 0.999)
    lr_schedule: str = "constant"  # constant | cosine (decays to 0 at `steps`)
    ema_decay: float = 0.999
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16 ("auto": bf16 on GPUs that support it)
    seed: int = 0
    threads: int = 0  # CPU threads for torch; 0 = torch's default (1 is far faster on an oversubscribed VM)
    # budget: stop at `steps` or after `minutes`, whichever comes first
    steps: int = 2000
    minutes: float = 0.0  # 0 = no time limit
    # bookkeeping
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 500
    preview_count: int = 100  # images in each sample grid

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.lr_schedule not in ("constant", "cosine"):
            raise UserError(f"lr_schedule must be constant or cosine, not {self.lr_schedule!r}")

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
        "loss": "wgan-gp",  # for the record: the objective has its own Wasserstein critic loss
        "loss_options": {"gp_weight": 10.0, "spatial_weight": 10.0, "latent_weight": 1.0, "feature_matching_weight": 1.0},
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


RECIPES: dict[str, dict[str, Any]] = {
    "dcgan-fashion-mnist": {
        "model": "dcgan",
        "dataset": "fashion-mnist",
        "image_size": 28,
        "model_config": {"z_dim": 64, "width": 64},
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
    # TTUR learning rates, and the cloudy-to-lucid curriculum (see core.losses.CocoGANObjective).
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
    """The TrainConfig for `recipe` under `preset`, with `overrides` applied last."""
    if recipe not in RECIPES:
        raise UserError(f"unknown recipe {recipe!r}; known: {', '.join(sorted(RECIPES))}")
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    recipe_diff = copy.deepcopy(RECIPES[recipe])
    preset_tweaks = recipe_diff.pop("presets", {}).get(preset, {})
    values: dict[str, Any] = TrainConfig().to_dict()
    for diff in (recipe_diff, PRESETS[preset], preset_tweaks, overrides or {}):
        values = merge(values, diff)
    values.update(recipe=recipe, preset=preset)
    return TrainConfig(**values)


def merge(values: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """`values` updated with `diff`; dict-valued settings merge key by key; unknown keys are refused."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(diff) - known)
    if unknown:
        raise UserError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
    merged = copy.deepcopy(values)
    for key, value in diff.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


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


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig saved as JSON (a run's config.json)."""
    return TrainConfig(**merge(TrainConfig().to_dict(), values))


def load_training_config(folder: str | Path) -> TrainConfig:
    """The TrainConfig the model was trained with, from its training.json."""
    path = Path(folder) / "training.json"
    if not path.is_file():
        raise UserError(f"{folder} has no training.json: its training setup cannot be rebuilt")
    record = json.loads(path.read_text())
    saved = record.get("config")
    if saved:
        # A run's config.json also records the model config the trainer resolved: a result, not a setting.
        return config_from_dict({k: v for k, v in saved.items() if k != "resolved_model_config"})
    summary = record.get("summary", {})
    if not summary.get("recipe"):
        raise UserError(f"{path} has neither a config nor a recipe name in its summary")
    return resolve_config(summary["recipe"], summary.get("preset") or "quick")
