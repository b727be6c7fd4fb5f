"""infoGAN (Chen et al., 2016): latent codes the generator must make recoverable from its images.

Besides z, the generator takes codes c: an optional categorical code (one-hot
over `categorical_codes` values) and `continuous_codes` values uniform in
[-1, 1]. A head Q on the critic's trunk predicts c from an image; maximising
a lower bound of the mutual information I(c; G(z, c)) (cross-entropy for the
categorical code, squared error for the continuous ones; see
`core.objectives.infogan`) makes each code control something visible: a
continuous code turns into width, slant or brightness, the categorical one
into a garment type.

Supervised (`conditional: true`, the default, as in the reference
collection): the class label plays the categorical code, so Q also predicts
the class and the generator takes labels; `categorical_codes` then adds a
second, unsupervised one (default none).

    codes [B, categorical_codes + continuous_codes]: one-hot categorical first, then the continuous values
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.models.gan import (
    Discriminator,
    GANConfig,
    Generator,
    collection_family,
)

CONTINUOUS_RANGE = 1.0  # continuous codes are drawn uniformly from [-1, 1] in training


@dataclass
class InfoGANConfig(GANConfig):
    categorical_codes: int = 0  # values of the unsupervised categorical code; 0 = none
    continuous_codes: int = 2  # the reference collection's two

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("categorical_codes", "continuous_codes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
                raise ValueError(f"{name} must be a whole number from 0 to 64, got {value!r}")
        if self.categorical_codes == 1:
            raise ValueError("a categorical code needs at least 2 values (or 0 for none)")
        if not (self.num_classes or self.categorical_codes or self.continuous_codes):
            raise ValueError("infoGAN needs codes: a class label, categorical_codes or continuous_codes")

    @property
    def code_dim(self) -> int:
        return self.categorical_codes + self.continuous_codes


def sample_codes(config: InfoGANConfig, n: int, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> Tensor:
    """Codes [n, code_dim] from their prior: a uniform categorical value (one-hot) and continuous values in [-1, 1]."""
    parts = []
    if config.categorical_codes:
        index = torch.randint(0, config.categorical_codes, (n,), generator=generator, device=device)
        parts.append(F.one_hot(index, config.categorical_codes).float())
    if config.continuous_codes:
        uniform = torch.rand(n, config.continuous_codes, generator=generator, device=device)
        parts.append((uniform * 2 - 1) * CONTINUOUS_RANGE)
    return torch.cat(parts, dim=1) if parts else torch.zeros(n, 0, device=device)


def make_codes(config: InfoGANConfig, categorical: Tensor | None, continuous: Tensor) -> Tensor:
    """Codes [n, code_dim] from categorical values [n] (int64) and continuous values [n, continuous_codes]."""
    parts = []
    if config.categorical_codes:
        parts.append(F.one_hot(categorical, config.categorical_codes).float())
    if config.continuous_codes:
        parts.append(continuous.float())
    return torch.cat(parts, dim=1) if parts else torch.zeros(len(continuous), 0)


class InfoGANGenerator(Generator):
    """z [B, z_dim] (+ labels [B]) + codes [B, code_dim] -> images [B, C, H, W] in [-1, 1]."""

    config_class = InfoGANConfig


class InfoGANDiscriminator(Discriminator):
    """images [B, C, H, W] -> (scores [B], Q's categorical logits [B, K + categorical_codes], Q's continuous [B, c]).

    The categorical logits hold the class (supervised) first, then the unsupervised code's values.
    """

    config_class = InfoGANConfig

    def build_heads(self, feature_dim: int) -> None:
        config = self.config
        self.q = nn.Linear(feature_dim, config.num_classes + config.categorical_codes + config.continuous_codes)
        self.class_projection = None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        h = self.features(images)
        q = self.q(h)
        split = self.config.num_classes + self.config.categorical_codes
        return self.score(h).squeeze(1), q[:, :split], q[:, split:]


collection_family(
    "infogan", "infoGAN", "Chen et al. (2016)",
    networks={"generator": InfoGANGenerator, "discriminator": InfoGANDiscriminator},
    objective="infogan",
    config_class=InfoGANConfig,
    accepts=frozenset({"labels", "codes"}),
    defaults={"conditional": True},
)
