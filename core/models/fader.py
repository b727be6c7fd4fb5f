"""Fader networks (Lample et al. 2017): an autoencoder whose latent is stripped of the attributes, so that the
decoder's attribute inputs become sliders.

The encoder maps an image to a latent map; a latent discriminator tries to read the image's attributes from that
map, and the encoder is trained to make it fail (core.objectives.fader). The decoder gets the latent and the
attribute values, and since the latent no longer carries them, it must take them from its inputs: feeding it other
values edits the image. The values are continuous, so an attribute can be slid from the photo's own value to
another one, in between and a little past it.

Attributes are categorical groups, each given to the decoder as a distribution over its values (one-hot for a
photo): "class" (the dataset's classes) and "color" (the named colour of the garment's own pixels,
core.data.attributes). The paper's binary attributes are the two-value case.

    encoder        log2(image_size / latent_size) 4x4 stride-2 convolutions, width doubling up to max_width, batch
                   norm after all but the first, LeakyReLU(0.2): image [B, C, S, S] -> latent [B, L, s, s]
    decoder        mirrored 4x4 stride-2 transposed convolutions, batch norm, ReLU, tanh at the end; the attribute
                   code is tiled over the map and concatenated to the input of every layer (the paper's)
    discriminator  on the latent: a 4x4 stride-2 convolution, LeakyReLU(0.2), dropout 0.3, a hidden layer of 512,
                   then one logit per attribute value, split into the groups
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from core.models.base import ModelFamily, register_family
from core.models.translator import Translator, TranslatorConfig, as_config, norm_layer, widths

SUPPORTED_SIZES = (32, 64, 128, 256)
ATTRIBUTES = ("class", "color")  # what the attributes data mode provides (core.data.modes)


@dataclass
class FaderConfig(TranslatorConfig):
    attributes: list[str] = field(default_factory=lambda: list(ATTRIBUTES))  # the groups the decoder takes
    color_names: list[str] = field(default_factory=list)  # the values of "color" (core.data.attributes.COLOR_NAMES)
    latent_size: int = 4  # side of the latent map (the paper: 2 at 256 px)
    hidden: int = 512  # the latent discriminator's hidden layer
    dropout: float = 0.3  # before the latent discriminator's hidden layer
    norm: str = "batch"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"fader image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if not self.attributes or len(set(self.attributes)) != len(self.attributes) or set(self.attributes) - set(ATTRIBUTES):
            raise ValueError(f"attributes must be some of {list(ATTRIBUTES)}, each once, got {self.attributes!r}")
        if "class" in self.attributes and self.num_classes < 2:
            raise ValueError(f"the class attribute needs labelled data with num_classes >= 2, got {self.num_classes}")
        if "color" in self.attributes:
            from core.data.attributes import check_names

            check_names(self.color_names)
        if self.source or self.domains:
            raise ValueError("a Fader network edits attributes of its input: source and domains must be empty")
        if self.in_channels != self.channels:
            raise ValueError(f"a Fader network reconstructs its input: in_channels ({self.in_channels}) must equal "
                             f"channels ({self.channels})")
        if not (self.latent_size >= 1 and self.image_size % self.latent_size == 0
                and 2 ** self.depth * self.latent_size == self.image_size and self.depth >= 2):
            raise ValueError(f"latent_size must be image_size / 2**k for some k >= 2 (at {self.image_size} px: "
                             f"{', '.join(str(self.image_size >> k) for k in range(2, int(math.log2(self.image_size)) + 1))}), "
                             f"got {self.latent_size}")
        if self.hidden < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"hidden must be >= 1 and dropout in [0, 1), got {self.hidden} and {self.dropout}")

    @property
    def depth(self) -> int:
        """Stride-2 layers of the encoder (and of the decoder)."""
        return round(math.log2(self.image_size / self.latent_size)) if self.latent_size >= 1 else 0

    @property
    def groups(self) -> list[tuple[str, list[str]]]:
        """The attribute groups in code order, each with its values' names."""
        values = {"class": list(self.class_names) or [str(i) for i in range(self.num_classes)], "color": list(self.color_names)}
        return [(name, values[name]) for name in self.attributes]

    @property
    def code_dim(self) -> int:
        """Length of the attribute code: every group's values."""
        return sum(len(values) for _, values in self.groups)

    @property
    def mode(self) -> str:
        return "attributes"

    @property
    def targets(self) -> list[str]:
        """`translate`'s targets: the values of the first group (the classes, when the class is an attribute)."""
        return list(self.groups[0][1])


def attribute_code(config: FaderConfig, values: dict[str, Tensor]) -> Tensor:
    """The decoder's code [B, code_dim] from each group's value: ids [B] (made one-hot) or distributions [B, n]."""
    parts = []
    for name, names in config.groups:
        value = values[name]
        parts.append(F.one_hot(value.long(), len(names)).float() if value.ndim == 1 else value.float())
    return torch.cat(parts, dim=1)


def split_logits(config: FaderConfig, logits: Tensor) -> dict[str, Tensor]:
    """Logits [B, code_dim] -> each group's logits [B, n]."""
    sizes = [len(names) for _, names in config.groups]
    return dict(zip([name for name, _ in config.groups], logits.split(sizes, dim=1)))


class FaderTranslator(Translator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                      tags=["image-to-image", "fader-networks", "attribute-editing"]):
    """images [B, C, S, S] in [-1, 1] and attribute codes [B, code_dim] -> the images with those attributes."""

    family = "fader"

    def __init__(self, config: FaderConfig):
        super().__init__()
        self.config = config = as_config(FaderConfig, config)
        chans = widths(config.width, config.max_width, config.depth)
        bias = config.norm == "none"
        down: list[nn.Module] = []
        previous = config.channels
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [nn.Conv2d(previous, c, 4, 2, 1, bias=bias or i == 0)]
            if i:
                layers.append(norm_layer(config.norm, c))
            layers.append(nn.LeakyReLU(0.2))
            down.append(nn.Sequential(*layers))
            previous = c
        self.encoder = nn.Sequential(*down)
        self.decoder = nn.ModuleList()
        for i in reversed(range(config.depth)):
            out = chans[i - 1] if i else config.channels
            layers = [nn.ConvTranspose2d(chans[i] + config.code_dim, out, 4, 2, 1, bias=bias or not i)]
            layers += [norm_layer(config.norm, out), nn.ReLU()] if i else [nn.Tanh()]
            self.decoder.append(nn.Sequential(*layers))

    def encode(self, images: Tensor) -> Tensor:
        return self.encoder(images)

    def decode(self, latent: Tensor, code: Tensor) -> Tensor:
        x = latent
        for block in self.decoder:
            tiled = code.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = block(torch.cat([x, tiled], dim=1))
        return x

    def forward(self, images: Tensor, code: Tensor, with_latent: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The decoded images [B, C, S, S] (and the latent, for training: one pass through the wrapped network)."""
        if code.shape != (images.shape[0], self.config.code_dim):
            raise ValueError(f"code must be [{images.shape[0]}, {self.config.code_dim}] (one value per attribute value: "
                             f"{', '.join(f'{n}: {len(v)}' for n, v in self.config.groups)}), got {tuple(code.shape)}")
        latent = self.encode(images)
        decoded = self.decode(latent, code)
        return (decoded, latent) if with_latent else decoded

    def own_values(self, images: Tensor) -> dict[str, Tensor]:
        """The attribute values that can be read from the pixels (the colour); the class cannot, so it is absent."""
        from core.data.attributes import garment_colors

        return {"color": garment_colors(images, self.config.color_names)} if "color" in self.config.attributes else {}

    def translate(self, images: Tensor, target: Tensor | None = None, style: Tensor | None = None) -> Tensor:
        """The images with the first group's value set to `target` [B] (the class), the other groups kept at the
        images' own values (the colour of their pixels)."""
        first = self.config.groups[0][0]
        if target is None:
            raise ValueError(f"a Fader network's translate needs the target {first} of each image (ids [B])")
        if target.shape != images.shape[:1]:
            raise ValueError(f"target must hold one id per image ([{images.shape[0]}]), got {tuple(target.shape)}")
        values = {**self.own_values(images), first: target.to(images.device)}
        return self(images, attribute_code(self.config, values).to(images.device))


class LatentDiscriminator(nn.Module):
    """latent [B, L, s, s] -> attribute logits [B, code_dim] (split by group with `split_logits`)."""

    def __init__(self, config: FaderConfig):
        super().__init__()
        self.config = config = as_config(FaderConfig, config)
        channels = widths(config.width, config.max_width, config.depth)[-1]
        side = max(1, config.latent_size // 2)
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 4, 2, 1) if config.latent_size >= 2 else nn.Conv2d(channels, channels, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(channels * side * side, config.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(config.hidden, config.code_dim),
        )

    def forward(self, latent: Tensor) -> Tensor:
        return self.net(latent)


register_family(
    ModelFamily(
        name="fader",
        config_class=FaderConfig,
        networks={"translator": FaderTranslator, "latent_discriminator": LatentDiscriminator},
        objective="fader",
        exported="translator",
        kind="translator",
        modes=("attributes",),
        title="Fader network",
        paper="Lample et al. (2017)",
    )
)
