"""ACGAN (Odena et al., 2017): a class-conditional generator against a critic with an auxiliary classifier.

The critic does not see the label; it has two heads on one trunk, the
real/fake score and class logits. Both players also minimise the
classification loss (`core.objectives.acgan`), so G learns to draw images the
critic recognises as the requested class.
"""

from __future__ import annotations

from torch import Tensor, nn

from core.models.gan import (
    Discriminator,
    Generator,
    collection_family,
)


class ACGANDiscriminator(Discriminator):
    """images [B, C, H, W] -> (scores [B], class logits [B, K])."""

    def build_heads(self, feature_dim: int) -> None:
        if not self.config.num_classes:
            raise ValueError("ACGAN is class-conditional: train it with conditional: true")
        self.classify = nn.Linear(feature_dim, self.config.num_classes)
        self.class_projection = None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.features(images)
        return self.score(h).squeeze(1), self.classify(h)


collection_family(
    "acgan", "ACGAN", "Odena et al. (2017)",
    networks={"generator": Generator, "discriminator": ACGANDiscriminator},
    objective="acgan",
    defaults={"conditional": True},
)
