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

import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import UserError
from core.registry import Registry
from core.validation import whole_number


@dataclass(frozen=True)
class ModelFamily:
    name: str
    config_class: type
    networks: Mapping[str, type[nn.Module]]  # network name -> class taking the config
    objective: str  # name in core.objectives.OBJECTIVES
    exported: str = "generator"  # the network that is averaged, exported and served
    kind: str = "generator"  # "generator", "classifier" or "translator": which pipeline and card template serve it
    # Training settings that define the family, between TrainConfig's defaults and a recipe.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # What the exported generator takes besides z: "labels" (class ids), "codes" (infoGAN's latent
    # codes), "parts" (COCO-GAN: micro patches by coordinate, beyond-boundary, patch-guided), "steps"
    # (a diffusion model: the number of sampling steps).
    accepts: frozenset[str] = frozenset()
    # The data modes it trains on (core.data.modes): "single" for generators and classifiers; translators
    # "paired", "unpaired" or "domains".
    modes: tuple[str, ...] = ("single",)
    # A bundle's parts: the submodules of the exported network that are networks of their own (CycleGAN's two
    # directions), for cards and loaders; () for a single network.
    components: tuple[str, ...] = ()
    # Writers of other formats an exported folder also holds, each called with the folder once config.json and
    # model.safetensors are in it (DDPM: diffusers' model_index.json layout, so DDPMPipeline loads it too).
    exporters: tuple[Callable[[Path], None], ...] = ()
    # Its own ONNX export (a function giving a core.onnx.OnnxExport: the graph and the runtime that serves it), for a
    # network the kind's graph cannot trace; None: the kind's (core.onnx.KIND_EXPORTS).
    onnx_export: Callable[[], Any] | None = None
    title: str = ""  # how people name it ("WGAN-GP"), for tables and Spaces
    paper: str = ""  # the paper it follows, "Author et al. (year)"
    # The largest network (parameters, all networks together) a config may ask for: checked on the meta
    # device before anything is allocated, so `width: 1000000` is a one-line error, not a 40 GB request.
    max_parameters: int = 200_000_000

    def __post_init__(self) -> None:
        if self.exported not in self.networks:
            raise ValueError(f"family {self.name!r} exports {self.exported!r}, which is not one of its networks")
        if self.kind not in KINDS:
            raise ValueError(f"family kind must be one of {KINDS}, got {self.kind!r}")
        unknown = set(self.accepts) - INPUTS
        if unknown:
            raise ValueError(f"family {self.name!r} accepts unknown inputs {sorted(unknown)}; known: {sorted(INPUTS)}")
        object.__setattr__(self, "accepts", frozenset(self.accepts))

    @property
    def exported_class(self) -> type[nn.Module]:
        return self.networks[self.exported]

    def make_config(self, **values: Any):
        """Build the typed config; an unknown key, a value of the wrong type or out of range, or networks
        larger than `max_parameters` are a UserError (nothing is allocated to find out)."""
        known = {f.name for f in fields(self.config_class)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown {self.name} setting(s) {unknown}; known: {sorted(known)}")
        check_types(self.name, self.config_class, values)
        try:
            config = self.config_class(**values)
            parameters = self.parameter_count(config)
        except (TypeError, ValueError, ZeroDivisionError, IndexError, RuntimeError) as err:
            raise UserError(f"invalid {self.name} config: {err}") from None
        if parameters > self.max_parameters:
            raise UserError(f"this {self.name} config asks for {parameters:,} parameters, more than the "
                            f"{self.max_parameters:,} a {self.name} may have: lower its widths or sizes")
        return config

    def parameter_count(self, config) -> int:
        """Parameters of every network `config` builds, counted on the meta device (no memory used)."""
        with torch.device("meta"):
            networks = self.build(config)
        return sum(p.numel() for net in networks.values() for p in net.parameters())

    def build(self, config) -> dict[str, nn.Module]:
        return {name: network_class(config) for name, network_class in self.networks.items()}


KINDS = ("generator", "classifier", "translator")
MAX_IMAGE_SIZE = 1024  # pixels per side of any model's images


def check_types(family: str, config_class: type, values: Mapping[str, Any]) -> None:
    """Each value of a model config is of its field's declared type; whole numbers (sizes, counts) are
    >= 0, `image_size` at most MAX_IMAGE_SIZE, real numbers finite. A UserError names the first wrong one."""
    hints = typing.get_type_hints(config_class)
    for name, value in values.items():
        expected = hints.get(name)
        if expected is not None and not _is_instance(value, expected):
            raise UserError(f"{family} setting {name} must be {_describe(expected)}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and _origin(expected) is int:
            whole_number(value, f"{family} setting {name}", 0, MAX_IMAGE_SIZE if name == "image_size" else None)


def _origin(hint: Any) -> Any:
    return typing.get_origin(hint) or hint


def _is_instance(value: Any, hint: Any) -> bool:
    origin, args = _origin(hint), typing.get_args(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_is_instance(value, arg) for arg in args)
    if hint is Any or origin is Any:
        return True
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else None
        return item is None or all(_is_instance(v, item) for v in value)
    if origin is type(None):
        return value is None
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def _describe(hint: Any) -> str:
    origin, args = _origin(hint), typing.get_args(hint)
    names = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string", dict: "a mapping"}
    if origin in (list, tuple):
        return f"a list of {_describe(args[0]).removeprefix('a ')}s" if args else "a list"
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return " or ".join(_describe(arg) for arg in args)
    if origin is type(None):
        return "null"
    return names.get(origin, getattr(origin, "__name__", str(origin)))


INPUTS = frozenset({"labels", "codes", "parts", "steps"})


class LatentGenerator:
    """What every generator tells about its inputs, read from its config: the latent size and the classes."""

    config: Any

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def output_size(self) -> int:
        """The side of the images it draws now (a growing ProGAN: the stage it reached)."""
        return self.config.image_size


MODELS: Registry[ModelFamily] = Registry("model", ModelFamily)


def register_family(family: ModelFamily) -> ModelFamily:
    return MODELS.register(family.name)(family)
