"""DCGAN generator and discriminator, optionally class-conditional.

Sizes 28, 32, 64 and 128 px, 1 or 3 channels. The generator starts from a
7x7 map for 28 px and a 4x4 map otherwise, and doubles the resolution with
strided transposed convolutions (Radford et al., 2016); the layers are the
collection's `dcgan` nets (`core.models.gan`). Conditioning: the generator
concatenates a learned class embedding to z; the discriminator is a
projection discriminator (Miyato & Koyama, 2018), which adds
<embed(y), features> to the unconditional score. `critic_norm: batch` puts
batch norm in the discriminator, as the DCGAN paper does (the default, none,
is what the first shipped models were trained with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import LatentGenerator, ModelFamily, register_family
from core.models.gan import (
    CRITIC_NORMS,
    dcgan_base_size,
    dcgan_critic_layers,
    dcgan_generator_layers,
    dcgan_widths,
    init_weights,
)

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
    critic_norm: str = "none"  # batch | layer | none: normalisation in the discriminator (none: as first shipped)

    def __post_init__(self) -> None:
        if self.critic_norm not in CRITIC_NORMS:
            raise ValueError(f"critic_norm must be one of {CRITIC_NORMS}, got {self.critic_norm!r}")
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"DCGAN image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")

    @property
    def base_size(self) -> int:
        return dcgan_base_size(self.image_size)

    @property
    def num_upsamplings(self) -> int:
        return int(math.log2(self.image_size // self.base_size))

    def widths(self) -> list[int]:
        """Channels at each resolution, from the base map up to the last hidden layer."""
        return dcgan_widths(self.image_size, self.width, self.max_width)


def _as_config(config: DCGANConfig | dict) -> DCGANConfig:
    if isinstance(config, DCGANConfig):
        return config
    # config.json also records the family name; keep only the dataclass's fields
    return DCGANConfig(**{k: v for k, v in config.items() if k in DCGANConfig.__dataclass_fields__})


class DCGANGenerator(LatentGenerator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan", "dcgan"]):
    """z [B, z_dim] (+ labels [B]) -> images [B, C, H, W] in [-1, 1]."""

    family = "dcgan"

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = config = _as_config(config)
        widths = config.widths()
        embed_dim = config.z_dim if config.num_classes else 0
        self.class_embedding = nn.Embedding(config.num_classes, embed_dim) if config.num_classes else None
        project, blocks = dcgan_generator_layers(config.z_dim + embed_dim, widths, config.base_size, config.channels)
        self.project, self.blocks = nn.Sequential(*project), nn.Sequential(*blocks)
        self.apply(init_weights)

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
        # No norm by default: batch norm couples the samples of a batch, which breaks the per-sample
        # gradient penalty of WGAN-GP (critic_norm: layer is the per-sample choice).
        self.features = nn.Sequential(*dcgan_critic_layers(config.channels, widths, config.critic_norm), nn.Flatten())
        feature_dim = widths[-1] * config.base_size**2
        self.score = nn.Linear(feature_dim, 1)
        self.class_projection = nn.Embedding(config.num_classes, feature_dim) if config.num_classes else None
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(images)  # [B, F]
        score = self.score(h).squeeze(1)
        if self.class_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            score = score + (self.class_projection(labels) * h).sum(dim=1)
        return score


register_family(
    ModelFamily(
        name="dcgan",
        config_class=DCGANConfig,
        networks={"generator": DCGANGenerator, "discriminator": DCGANDiscriminator},
        objective="image-gan",
        accepts=frozenset({"labels"}),
        title="DCGAN",
        paper="Radford et al. (2016)",
    )
)
