"""Data modes: how a run's batches are made from its data, a registry like the datasets.

A source (a built-in set, `folder:`, `hf:`) says which images there are; a mode
says what one training example is:

    single    an image and its class: {"images", "labels"} (generators, classifiers)
    paired    a photo and a transform of it (`source`: grayscale, edges, mask; core.data.transforms):
              {"source": [B, 1, H, W], "target": [B, 3, H, W], "labels"}, pix2pix and colorization
    unpaired  two domains shuffled independently: {"A", "B"}, each [B, C, H, W] (CycleGAN, MUNIT); a domain is
              a class of the run's dataset ("shorts") or a dataset of its own ("folder:/photos/pants")
    domains   every class a domain: {"images", "labels"} with at least two classes (StarGAN)
    attributes  an image and its attributes: {"images", "labels", "colors"}, the colour named from the garment's
              own pixels (core.data.attributes), the class its label (Fader networks)

Batches are dicts of named fields. Every mode keeps the stream's promise (a batch depends only on
seed, step, rank and repeat), and random flips and shifts move every image field of an example
together: a paired flip flips the photo and its edges alike. The mode also tells the model config
what it must be built for (`model_settings`): input and output channels, the paired source, the
domains' names. A family names the modes it trains on (`ModelFamily.modes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch

from core.data.base import ImageData
from core.data.transforms import PAIRED_SOURCES, source_of
from core.errors import UserError
from core.registry import Registry
from core.validation import typed_options


@dataclass(frozen=True)
class NoModeOptions:
    """A mode without settings."""


@dataclass(frozen=True)
class PairedOptions:
    source: str = "edges"  # a name in core.data.transforms.PAIRED_SOURCES: grayscale, edges, mask

    def __post_init__(self) -> None:
        PAIRED_SOURCES.get(self.source)  # an unknown name is a UserError listing the known ones


@dataclass(frozen=True)
class UnpairedOptions:
    domains: list = field(default_factory=list)  # two domains: class names of the dataset, or dataset / source names

    def __post_init__(self) -> None:
        if (not isinstance(self.domains, (list, tuple)) or len(self.domains) != 2
                or not all(isinstance(d, str) and d for d in self.domains) or self.domains[0] == self.domains[1]):
            raise ValueError(f"unpaired data needs two different domains (domains=[A, B]), got {self.domains!r}")


class DataMode:
    """How examples are made. Subclasses set `name`, `fields`, `Options` and may override the hooks."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoModeOptions
    fields: ClassVar[tuple[str, ...]] = ("images", "labels")  # the batch's fields
    image_fields: ClassVar[tuple[str, ...]] = ("images",)  # the fields that flips and shifts move together

    def __init__(self, options: Mapping[str, Any] | None = None):
        self.options = make_mode_options(type(self), options or {})

    def check(self, data: ImageData, conditional: bool) -> None:
        """A UserError when `data` cannot be trained on in this mode."""

    def model_settings(self, data: ImageData) -> dict[str, Any]:
        """What the model config must say for this mode (besides image_size, channels and classes)."""
        return {}

    def examples(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One batch's fields from its images [B, C, H, W] in [-1, 1] and labels [B], before augmentation."""
        return {"images": images, "labels": labels}

    def domain_data(self, data: ImageData, load) -> dict[str, ImageData]:
        """The data each independently shuffled stream reads, by field ("" : the one stream of every field).
        `load(name)` loads another dataset or source at the run's split, size and channels."""
        return {"": data}

    def describe(self) -> str:
        settings = ", ".join(f"{f.name}={getattr(self.options, f.name)}" for f in fields(self.options))
        return self.name + (f" ({settings})" if settings else "")


MODES: Registry[type[DataMode]] = Registry("data mode", DataMode)


def register_mode(name: str):
    def add(cls: type[DataMode]) -> type[DataMode]:
        cls.name = name
        return MODES.register(name)(cls)

    return add


def make_mode_options(mode: type[DataMode], values: Mapping[str, Any]):
    """The mode's typed options from `values` (a run's `mode_options`); an unread or invalid one is a UserError."""
    return typed_options(mode.Options, values, f"the {mode.name} data mode", f"{mode.name} mode")


def make_mode(name: str, options: Mapping[str, Any] | None = None) -> DataMode:
    return MODES.get(name)(options)


@register_mode("single")
class SingleMode(DataMode):
    """An image and its class."""


@register_mode("paired")
class PairedMode(DataMode):
    """A photo and a transform of it: the translator learns source -> target."""

    Options = PairedOptions
    fields = ("source", "target", "labels")
    image_fields = ("source", "target")

    def check(self, data: ImageData, conditional: bool) -> None:
        if data.channels != 3:
            raise UserError(f"paired data is made from colour photos; {data.describe()} has {data.channels} channel(s)")

    def model_settings(self, data: ImageData) -> dict[str, Any]:
        return {"in_channels": 1, "channels": data.channels, "source": self.options.source}

    def source(self, images: torch.Tensor) -> torch.Tensor:
        return source_of(self.options.source, images)

    def examples(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"source": self.source(images), "target": images, "labels": labels}


@register_mode("unpaired")
class UnpairedMode(DataMode):
    """Two domains, each read by a stream of its own (seeded apart), so no example pairs with another."""

    Options = UnpairedOptions
    fields = ("A", "B")
    image_fields = ("A", "B")

    def domain_data(self, data: ImageData, load) -> dict[str, ImageData]:
        return {field: self._domain(data, name, load) for field, name in zip(self.fields, self.options.domains)}

    @staticmethod
    def _domain(data: ImageData, name: str, load) -> ImageData:
        lowered = [c.lower() for c in data.class_names]
        if name.lower() in lowered:
            if not isinstance(data, ImageData):
                raise UserError(f"domain {name!r} is a class of streamed data; unpaired classes need data_loading=memory "
                                "(or give each domain as a folder of its own)")
            keep = data.labels == lowered.index(name.lower())
            return ImageData(data.images[keep], torch.zeros(int(keep.sum()), dtype=torch.int64), [name],
                             data.dataset, data.split, data.pad, data.title)
        if ":" in name or name in _dataset_names():
            return load(name)
        raise UserError(f"domain {name!r} is neither a class of the data ({', '.join(data.class_names) or 'none'}) "
                        "nor a dataset or source (folder:PATH, hf:REPO)")

    def model_settings(self, data: ImageData) -> dict[str, Any]:
        return {"in_channels": data.channels, "channels": data.channels, "domains": list(self.options.domains)}


@register_mode("domains")
class DomainsMode(DataMode):
    """Every class a domain: the translator maps an image to any class (StarGAN)."""

    def check(self, data: ImageData, conditional: bool) -> None:
        if data.num_classes < 2 or not conditional:
            raise UserError(f"the domains mode needs labelled data with at least two classes and conditional=true; "
                            f"{data.describe()} has {data.num_classes}")

    def model_settings(self, data: ImageData) -> dict[str, Any]:
        return {"in_channels": data.channels, "channels": data.channels}


@dataclass(frozen=True)
class AttributesOptions:
    attributes: list = field(default_factory=lambda: ["class", "color"])  # some of: class, color

    def __post_init__(self) -> None:
        if (not isinstance(self.attributes, (list, tuple)) or not self.attributes
                or len(set(self.attributes)) != len(self.attributes) or set(self.attributes) - {"class", "color"}):
            raise ValueError(f"attributes must be some of class, color (each once), got {self.attributes!r}")


@register_mode("attributes")
class AttributesMode(DataMode):
    """An image and its attribute values: its class (the label) and its colour, read from its pixels per batch with
    core.data.attributes.garment_colors (flips and shifts do not change a colour, so it is read before them)."""

    Options = AttributesOptions
    fields = ("images", "labels", "colors")

    def check(self, data: ImageData, conditional: bool) -> None:
        if "color" in self.options.attributes and data.channels != 3:
            raise UserError(f"the color attribute is read from colour photos; {data.describe()} has {data.channels} channel(s)")
        if "class" in self.options.attributes and (data.num_classes < 2 or not conditional):
            raise UserError(f"the class attribute needs labelled data with at least two classes and conditional=true; "
                            f"{data.describe()} has {data.num_classes} (or set mode_options.attributes=[color])")

    def model_settings(self, data: ImageData) -> dict[str, Any]:
        from core.data.attributes import COLOR_NAMES

        colors = list(COLOR_NAMES) if "color" in self.options.attributes else []
        return {"in_channels": data.channels, "channels": data.channels, "attributes": list(self.options.attributes),
                "color_names": colors}

    def examples(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        from core.data.attributes import garment_colors

        colors = garment_colors(images) if "color" in self.options.attributes else torch.zeros_like(labels)
        return {"images": images, "labels": labels, "colors": colors.to(labels.device)}


def _dataset_names() -> list[str]:
    from core.data.base import DATASETS

    return DATASETS.names()
