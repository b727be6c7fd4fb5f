"""CGAN (Mirza & Osindero, 2014): the class label is an input of both networks.

The generator takes the one-hot label concatenated to z (as every conditional
family of the collection does); the critic takes it concatenated to the image
as K constant label maps, so D judges (image, label) pairs. Trained by the
plain GAN step (`image-gan`) with the non-saturating loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from core.models.gan import (
    Discriminator,
    Generator,
    collection_family,
    one_hot,
)


class CGANDiscriminator(Discriminator):
    """images [B, C, H, W] and labels [B] -> scores [B], the label as K extra input channels."""

    def extra_channels(self) -> int:
        return self.config.num_classes

    def build_heads(self, feature_dim: int) -> None:
        self.class_projection = None  # the label is an input here

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.config.num_classes:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            maps = one_hot(labels, self.config.num_classes, images.dtype)[:, :, None, None]
            images = torch.cat([images, maps.expand(-1, -1, *images.shape[-2:])], dim=1)
        return self.score(self.features(images)).squeeze(1)


collection_family(
    "cgan", "CGAN", "Mirza & Osindero (2014)",
    networks={"generator": Generator, "discriminator": CGANDiscriminator},
    defaults={"conditional": True},
)
