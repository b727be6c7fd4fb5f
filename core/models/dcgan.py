"""DCGAN generator and discriminator, optionally class-conditional.

Sizes 28, 32, 64 and 128 px, 1 or 3 channels. The generator starts from a
7x7 map for 28 px and a 4x4 map otherwise, and doubles the resolution with
strided transposed convolutions (Radford et al., 2016). Conditioning: the
generator concatenates a learned class embedding to z; the discriminator is a
projection discriminator (Miyato & Koyama, 2018), which adds
<embed(y), features> to the unconditional score.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family

SUPPORTED_SIZES = (28, 32, 64, 128)


@dataclass
class DCGANConfig:
    """Everything needed to rebuild the networks; saved as config.json."""

    image_size: int = 28
    channels: int = 1
    z_dim: int = 100
    num_classes: int = 0  # 0 = unconditional
    width: int = 64  # channels of the last hidden layer; doubles per lower resolution
    max_width: int = 512
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"DCGAN image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")

    @property
    def base_size(self) -> int:
        return 7 if self.image_size == 28 else 4

    @property
    def num_upsamplings(self) -> int:
        return int(math.log2(self.image_size // self.base_size))

    def widths(self) -> list[int]:
        """Channels at each resolution, from the base map up to the last hidden layer."""
        n = self.num_upsamplings
        return [min(self.width * 2 ** (n - 1 - i), self.max_width) for i in range(n)]


def _as_config(config: DCGANConfig | dict) -> DCGANConfig:
    if isinstance(config, DCGANConfig):
        return config
    # config.json also records the family name; keep only the dataclass's fields
    return DCGANConfig(**{k: v for k, v in config.items() if k in DCGANConfig.__dataclass_fields__})


class DCGANGenerator(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan", "dcgan"]):
    """z [B, z_dim] (+ labels [B]) -> images [B, C, H, W] in [-1, 1]."""

    family = "dcgan"

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = config = _as_config(config)
        widths = config.widths()
        embed_dim = config.z_dim if config.num_classes else 0
        self.class_embedding = nn.Embedding(config.num_classes, embed_dim) if config.num_classes else None
        self.project = nn.Sequential(
            nn.Linear(config.z_dim + embed_dim, widths[0] * config.base_size**2, bias=False),
            nn.Unflatten(1, (widths[0], config.base_size, config.base_size)),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for w_in, w_out in itertools.pairwise(widths):
            blocks += [
                nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(w_out),
                nn.ReLU(inplace=True),
            ]
        blocks += [nn.ConvTranspose2d(widths[-1], config.channels, 4, stride=2, padding=1), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)
        self.apply(_dcgan_init)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.class_embedding is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            z = torch.cat([z, self.class_embedding(labels)], dim=1)
        return self.blocks(self.project(z))


class DCGANDiscriminator(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan", "dcgan"]):
    """images [B, C, H, W] in [-1, 1] (+ labels [B]) -> scores [B] (logits / critic values)."""

    family = "dcgan"

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = config = _as_config(config)
        widths = config.widths()[::-1]  # low channels at high resolution
        layers: list[nn.Module] = [nn.Conv2d(config.channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in itertools.pairwise(widths):
            # No BatchNorm: it would couple samples in a batch and break the
            # per-sample gradient penalty of WGAN-GP.
            layers += [nn.Conv2d(w_in, w_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        feature_dim = widths[-1] * config.base_size**2
        self.score = nn.Linear(feature_dim, 1)
        self.class_projection = nn.Embedding(config.num_classes, feature_dim) if config.num_classes else None
        self.apply(_dcgan_init)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(images)  # [B, F]
        score = self.score(h).squeeze(1)
        if self.class_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            score = score + (self.class_projection(labels) * h).sum(dim=1)
        return score


def _dcgan_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)


register_family(
    ModelFamily(
        name="dcgan",
        config_class=DCGANConfig,
        networks={"generator": DCGANGenerator, "discriminator": DCGANDiscriminator},
        objective="image-gan",
    )
)
