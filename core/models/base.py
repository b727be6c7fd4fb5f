"""What every model family registers, and the registry it goes into.

A family is its typed config class, its networks (built from that config),
the name of the objective (in `core.losses`) that trains them, and which
network is the product: the one averaged (EMA) during training, exported,
and loaded by `core.inference`. The trainer, the CLI, export and inference
only ever go through this record, so a new family touches its own module,
its objective (if new) and a recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from core.errors import UserError
from core.registry import Registry


@dataclass(frozen=True)
class ModelFamily:
    name: str
    config_class: type
    networks: Mapping[str, type[nn.Module]]  # network name -> class taking the config
    objective: str  # name in core.losses.OBJECTIVES
    exported: str = "generator"  # the network that is averaged, exported and served
    kind: str = "generator"  # "generator" or "classifier": which pipeline and card template serve it

    def __post_init__(self) -> None:
        if self.exported not in self.networks:
            raise ValueError(f"family {self.name!r} exports {self.exported!r}, which is not one of its networks")
        if self.kind not in ("generator", "classifier"):
            raise ValueError(f"family kind must be 'generator' or 'classifier', got {self.kind!r}")

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


MODELS: Registry[ModelFamily] = Registry("model", ModelFamily)


def register_family(family: ModelFamily) -> ModelFamily:
    return MODELS.register(family.name)(family)
