"""What every model family registers, and the registry it goes into.

A family is its typed config class, its networks (built from that config),
the name of the objective (in `core.objectives`) that trains them, the
training settings that define it (WGAN is the Wasserstein loss with five
RMSprop critic steps and clipping: `defaults`), which network is the product
(the one averaged (EMA) during training, exported, and loaded by
`core.inference`) and what that network accepts besides the latent z
(`accepts`: class labels, latent codes, parts). The trainer, the CLI, export
and inference only ever go through this record, so a new family touches its
own module, its objective (if new) and a recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from core.errors import UserError
from core.registry import Registry


@dataclass(frozen=True)
class ModelFamily:
    name: str
    config_class: type
    networks: Mapping[str, type[nn.Module]]  # network name -> class taking the config
    objective: str  # name in core.objectives.OBJECTIVES
    exported: str = "generator"  # the network that is averaged, exported and served
    kind: str = "generator"  # "generator" or "classifier": which pipeline and card template serve it
    # Training settings that define the family, between TrainConfig's defaults and a recipe.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # What the exported generator takes besides z: "labels" (class ids), "codes" (infoGAN's latent
    # codes), "parts" (COCO-GAN: micro patches by coordinate, beyond-boundary, patch-guided).
    accepts: frozenset[str] = frozenset()
    title: str = ""  # how people name it ("WGAN-GP"), for tables and Spaces
    paper: str = ""  # the paper it follows, "Author et al. (year)"

    def __post_init__(self) -> None:
        if self.exported not in self.networks:
            raise ValueError(f"family {self.name!r} exports {self.exported!r}, which is not one of its networks")
        if self.kind not in ("generator", "classifier"):
            raise ValueError(f"family kind must be 'generator' or 'classifier', got {self.kind!r}")
        unknown = set(self.accepts) - INPUTS
        if unknown:
            raise ValueError(f"family {self.name!r} accepts unknown inputs {sorted(unknown)}; known: {sorted(INPUTS)}")
        object.__setattr__(self, "accepts", frozenset(self.accepts))

    @property
    def exported_class(self) -> type[nn.Module]:
        return self.networks[self.exported]

    def make_config(self, **values: Any):
        """Build the typed config; an unknown or invalid key is a UserError."""
        known = {f.name for f in fields(self.config_class)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown {self.name} setting(s) {unknown}; known: {sorted(known)}")
        try:
            return self.config_class(**values)
        except (TypeError, ValueError) as err:
            raise UserError(f"invalid {self.name} config: {err}") from None

    def build(self, config) -> dict[str, nn.Module]:
        return {name: network_class(config) for name, network_class in self.networks.items()}


INPUTS = frozenset({"labels", "codes", "parts"})


class LatentGenerator:
    """What every generator tells about its inputs, read from its config: the latent size and the classes."""

    config: Any

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

MODELS: Registry[ModelFamily] = Registry("model", ModelFamily)


def register_family(family: ModelFamily) -> ModelFamily:
    return MODELS.register(family.name)(family)
