"""pix2pix (Isola et al. 2017): a U-Net translator judged by a conditional 70x70 PatchGAN, and its L1-only twin.

The discriminator sees the input and an output side by side (their channels
concatenated), so it judges whether the output fits *this* input. Trained on a
paired data mode: colorization is pix2pix on the grayscale source (it predicts
RGB directly, not Lab chroma), and the edges and mask sources make
edges2clothing and mask2clothing.

`unet-l1` is the same U-Net trained with the L1 loss alone: the baseline every
translator table shows, what the discriminator adds over plain regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family
from core.models.translator import PatchDiscriminator, Translator, TranslatorConfig, UNet, as_config

SUPPORTED_SIZES = (64, 128, 256)


@dataclass
class Pix2PixConfig(TranslatorConfig):
    dropout: float = 0.5  # in the U-Net's three innermost decoder layers, in training only

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"pix2pix image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class UNetTranslator(Translator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                     tags=["image-to-image", "pix2pix"]):
    """source [B, in_channels, H, W] -> image [B, channels, H, W], both in [-1, 1]."""

    family = "pix2pix"

    def __init__(self, config: Pix2PixConfig):
        super().__init__()
        self.config = config = as_config(Pix2PixConfig, config)
        self.unet = UNet(config.in_channels, config.channels, config.image_size, config.width, config.max_width,
                         config.norm, config.dropout)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        return self.unet(source)


class ConditionalPatchDiscriminator(nn.Module):
    """(source, image) -> scores [B, 1, h, w]: is `image` a real photo of this source, patch by patch?"""

    def __init__(self, config: Pix2PixConfig):
        super().__init__()
        self.config = config = as_config(Pix2PixConfig, config)
        self.patch = PatchDiscriminator(config.in_channels + config.channels, config.width, config.max_width, config.norm)

    def forward(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.patch(torch.cat([source, image], dim=1))


register_family(
    ModelFamily(
        name="pix2pix",
        config_class=Pix2PixConfig,
        networks={"translator": UNetTranslator, "discriminator": ConditionalPatchDiscriminator},
        objective="pix2pix",
        exported="translator",
        kind="translator",
        modes=("paired",),
        title="pix2pix",
        paper="Isola et al. (2017)",
    )
)

register_family(
    ModelFamily(
        name="unet-l1",
        config_class=Pix2PixConfig,
        networks={"translator": UNetTranslator},
        objective="l1",
        exported="translator",
        kind="translator",
        modes=("paired",),
        title="U-Net (L1 only)",
        paper="Isola et al. (2017), without the discriminator",
    )
)
