"""What every generator family registers, and the registry it goes into.

A family is its config class plus its networks plus the name of the objective
(in `core.losses`) that trains them. The trainer, the CLI, export and
inference only ever go through this record, so a new family touches its own
module, its objective (if new) and a preset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from core.errors import UserError
from core.registry import Registry


@dataclass(frozen=True)
class GANFamily:
    name: str
    config_class: type
    generator_class: type[nn.Module]
    discriminator_class: type[nn.Module]
    objective: str  # name in core.losses.OBJECTIVES

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
        return {"generator": self.generator_class(config), "discriminator": self.discriminator_class(config)}


MODELS: Registry[GANFamily] = Registry("model", GANFamily)


def register_family(family: GANFamily) -> GANFamily:
    return MODELS.register(family.name)(family)
