"""Image classifiers: the robustness lab's subjects and the metrics' feature extractors.

Three architectures behind one typed config:

* `dense`: the reference multilayer perceptron, flatten -> 128 -> classes.
* `conv`: the reference convolutional net, 5x5 conv with 64 filters -> 5x5
  conv with 128 filters -> flatten -> classes (each conv followed by ReLU and
  2x2 max-pooling, which keeps it cheap enough to attack on a CPU).
* `cnn`: a small VGG-style net with batch norm whose penultimate layer is a
  `feature_dim`-wide embedding; it is the domain feature extractor of FID/KID.

Every classifier takes images in [0, 1] and normalises them itself, so an
attack can only ever be computed in pixel space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family

ARCHITECTURES = ("dense", "conv", "cnn")


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild a classifier; saved as config.json."""

    arch: str = "conv"  # one of ARCHITECTURES
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    class_names: list[str] = field(default_factory=list)
    hidden: int = 128  # dense: width of the hidden layer
    width: int = 32  # cnn: channels of the first stage, doubling per stage
    stages: int = 3  # cnn: conv stages, each halving the resolution
    feature_dim: int = 128  # cnn: size of the penultimate embedding
    dropout: float = 0.0  # before the last layer
    conv_padding: int = 0  # conv: 0 = valid 5x5 convs as in the reference, 2 = same-size
    batch_norm: bool = False  # conv: batch norm after each conv
    # per-channel normalisation applied inside the model to [0, 1] inputs
    mean: list[float] = field(default_factory=lambda: [0.5])
    std: list[float] = field(default_factory=lambda: [0.5])

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")
        if len(self.mean) == 1 and self.channels > 1:
            self.mean = self.mean * self.channels
        if len(self.std) == 1 and self.channels > 1:
            self.std = self.std * self.channels
        if len(self.mean) != self.channels or len(self.std) != self.channels or min(self.std) <= 0:
            raise ValueError(f"mean and std need {self.channels} entries (std > 0), got {self.mean}, {self.std}")
        if self.conv_padding not in (0, 2):
            raise ValueError(f"conv_padding must be 0 (valid) or 2 (same), got {self.conv_padding}")
        if self.arch == "conv" and self.image_size < 16:
            raise ValueError("the conv architecture needs images of at least 16 px")
        if self.arch == "cnn" and self.image_size < 2**self.stages:
            raise ValueError(f"{self.stages} stages need images of at least {2**self.stages} px")


def _as_config(config: ClassifierConfig | dict) -> ClassifierConfig:
    if isinstance(config, ClassifierConfig):
        return config
    # config.json also records the family name; keep only the dataclass's fields
    return ClassifierConfig(**{k: v for k, v in config.items() if k in ClassifierConfig.__dataclass_fields__})


class Classifier(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["image-classification", "fashion"]):
    """images [B, C, H, W] in [0, 1] -> logits [B, num_classes]; `features` gives the embedding."""

    family = "classifier"

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config = _as_config(config)
        # Buffers, not weights: rebuilt from config.json, so they are not in model.safetensors.
        self.register_buffer("mean", torch.tensor(config.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, -1, 1, 1), persistent=False)
        self.body, self.feature_dim = _BODIES[config.arch](config)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(self.feature_dim, config.num_classes))

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The penultimate embedding [B, feature_dim] of images [B, C, H, W] in [0, 1]."""
        return self.body((images - self.mean) / self.std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def _dense(config: ClassifierConfig) -> tuple[nn.Module, int]:
    pixels = config.channels * config.image_size**2
    return nn.Sequential(nn.Flatten(), nn.Linear(pixels, config.hidden), nn.ReLU(inplace=True)), config.hidden


def _conv(config: ClassifierConfig) -> tuple[nn.Module, int]:
    shrink = 4 - 2 * config.conv_padding  # pixels a 5x5 conv removes
    side = ((config.image_size - shrink) // 2 - shrink) // 2  # two 5x5 convs, each followed by a 2x2 pool
    layers: list[nn.Module] = []
    for c_in, c_out in ((config.channels, 64), (64, 128)):
        layers.append(nn.Conv2d(c_in, c_out, 5, padding=config.conv_padding, bias=not config.batch_norm))
        if config.batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten()), 128 * side * side


def _cnn(config: ClassifierConfig) -> tuple[nn.Module, int]:
    layers: list[nn.Module] = []
    channels = config.channels
    for stage in range(config.stages):
        width = config.width * 2**stage
        for _ in range(2):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2))
    layers += [
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(channels, config.feature_dim, bias=False), nn.BatchNorm1d(config.feature_dim), nn.ReLU(inplace=True),
    ]
    return nn.Sequential(*layers), config.feature_dim


_BODIES = {"dense": _dense, "conv": _conv, "cnn": _cnn}


register_family(
    ModelFamily(
        name="classifier",
        config_class=ClassifierConfig,
        networks={"classifier": Classifier},
        objective="classification",
        exported="classifier",
        kind="classifier",
    )
)
