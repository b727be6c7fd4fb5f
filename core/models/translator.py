"""What every image-to-image translator shares: its config fields, the `Translator` interface, and the
networks the families are built from (U-Net, ResNet generator, PatchGAN).

A translator maps images [B, in_channels, H, W] in [-1, 1] to images
[B, channels, H, W] in [-1, 1], optionally to a `target` domain (StarGAN's
class, CycleGAN's direction) and with a `style` code (MUNIT). What it was trained
on is in its config, filled in from the data mode (core.data.modes): `source`
for paired models (the transform of a photo they take: grayscale, edges, mask),
`domains` for unpaired ones, `class_names` for StarGAN.

Networks (Isola et al. 2017; Zhu et al. 2017):
    UNet               encoder-decoder with a skip connection between mirrored layers, down to 1x1
    ResnetGenerator    c7s1-w, two stride-2 downsamplings, n residual blocks, two upsamplings, c7s1-C
    PatchDiscriminator 4x4 convolutions, three stride 2 and two stride 1: each output sees a 70x70 patch
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

NORMS = ("instance", "batch", "none")


@dataclass
class TranslatorConfig:
    """The fields every translator config has; a family's config adds its own."""

    image_size: int = 64
    in_channels: int = 3
    channels: int = 3
    num_classes: int = 0  # domains: the classes (StarGAN)
    class_names: list[str] = field(default_factory=list)
    source: str = ""  # paired: the transform of a photo the model takes (core.data.transforms)
    domains: list[str] = field(default_factory=list)  # unpaired: the two domains' names [A, B]
    width: int = 64  # channels of the first layer; doubles per downsampling up to max_width
    max_width: int = 512
    norm: str = "instance"  # instance | batch | none

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.in_channels not in (1, 3) or self.channels not in (1, 3):
            raise ValueError(f"in_channels and channels must be 1 or 3, got {self.in_channels} and {self.channels}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")
        if self.domains and len(self.domains) != 2:
            raise ValueError(f"an unpaired translator has two domains, got {self.domains!r}")
        if self.width < 1 or self.max_width < self.width:
            raise ValueError(f"width must be >= 1 and max_width >= width, got {self.width} and {self.max_width}")

    @property
    def mode(self) -> str:
        """The data mode it was trained on: paired, unpaired or domains."""
        return "paired" if self.source else "unpaired" if self.domains else "domains"

    @property
    def targets(self) -> list[str]:
        """The domains it can translate to, by name ([] for paired models: they have one output)."""
        return list(self.domains or self.class_names)


def as_config(config_class: type, config) -> TranslatorConfig:
    if isinstance(config, config_class):
        return config
    # config.json also records the family name; keep only the dataclass's fields
    return config_class(**{k: v for k, v in config.items() if k in config_class.__dataclass_fields__})


class Translator:
    """The interface the pipeline, the benchmarks and the Spaces use: `translate`, `style_dim`."""

    config: TranslatorConfig

    @property
    def style_dim(self) -> int:
        """Size of the style code it samples per output (MUNIT); 0 for deterministic translators."""
        return 0

    def translate(self, images: torch.Tensor, target: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
        """images [B, in_channels, H, W] (+ target domain ids [B], style codes [B, style_dim]) -> [B, channels, H, W]."""
        return self(images)


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def widths(width: int, max_width: int, n: int) -> list[int]:
    return [min(width * 2**i, max_width) for i in range(n)]


class UNet(nn.Module):
    """The pix2pix generator: log2(size) stride-2 downsamplings to 1x1, mirrored upsamplings, each decoder layer
    given the encoder layer of its resolution (the skip connections carry the input's detail to the output).

    Dropout 0.5 in the three innermost decoder layers in training, as pix2pix (off in eval: the exported
    translator is deterministic)."""

    def __init__(self, in_channels: int, out_channels: int, image_size: int, width: int = 64, max_width: int = 512,
                 norm: str = "instance", dropout: float = 0.5):
        super().__init__()
        depth = int(math.log2(image_size))
        if 2**depth != image_size or depth < 3:
            raise ValueError(f"a U-Net needs a power-of-two image size of at least 8, got {image_size}")
        chans = widths(width, max_width, depth)
        self.down = nn.ModuleList()
        previous = in_channels
        for i, c in enumerate(chans):
            innermost = i == depth - 1
            layers = [nn.Conv2d(previous, c, 4, 2, 1, bias=norm != "batch")]
            if 0 < i and not innermost:
                layers.append(norm_layer(norm, c))
            self.down.append(nn.Sequential(*layers))
            previous = c
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            out = chans[i - 1] if i else out_channels
            inner = chans[i] * (1 if i == depth - 1 else 2)  # the innermost has no skip to concatenate
            layers: list[nn.Module] = [nn.ReLU(), nn.ConvTranspose2d(inner, out, 4, 2, 1, bias=norm != "batch" or not i)]
            if i:
                layers.append(norm_layer(norm, out))
                if depth - 1 - i < 3 and i < depth - 1 and dropout:
                    layers.append(nn.Dropout(dropout))
            else:
                layers.append(nn.Tanh())
            self.up.append(nn.Sequential(*layers))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.act(x))
            skips.append(x)
        x = skips.pop()
        for i, block in enumerate(self.up):
            x = block(x if i == 0 else torch.cat([x, skips.pop()], dim=1))
        return x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al. 2016): c7s1-w, d2w, d4w, `blocks` residual blocks, u2w, uw, c7s1-out, tanh.

    Its reflection padding followed by instance norm removes anything constant over the image, so a condition
    tiled as input channels (StarGAN's target) would be erased: condition it some other way."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9, norm: str = "instance",
                 downsamplings: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), norm_layer(norm, width), nn.ReLU()]
        c = width
        for _ in range(downsamplings):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(blocks)]
        for _ in range(downsamplings):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm_layer(norm, c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


PATCH_LAYERS = 3  # stride-2 layers of the 70x70 PatchGAN


def patch_receptive_field(layers: int = PATCH_LAYERS) -> int:
    """Pixels per side that one output of a PatchDiscriminator with `layers` stride-2 layers sees (3: 70)."""
    field_, jump = 1, 1
    kernels = [(4, 2)] * layers + [(4, 1), (4, 1)]
    for kernel, stride in kernels:
        field_ += (kernel - 1) * jump
        jump *= stride
    return field_


def patch_output_size(image_size: int, layers: int = PATCH_LAYERS) -> int:
    """Side of the score map a PatchDiscriminator gives for `image_size` inputs (64 px: 6; 256 px: 30)."""
    size = image_size
    for _ in range(layers):
        size = (size + 2 - 4) // 2 + 1
    for _ in range(2):
        size = size + 2 - 4 + 1
    return size


class PatchDiscriminator(nn.Module):
    """PatchGAN: scores [B, 1, h, w], one per 70x70 patch (three stride-2 4x4 layers, two stride-1)."""

    def __init__(self, in_channels: int, width: int = 64, max_width: int = 512, norm: str = "instance",
                 layers: int = PATCH_LAYERS):
        super().__init__()
        chans = widths(width, max_width, layers + 1)
        modules: list[nn.Module] = [nn.Conv2d(in_channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, layers + 1):  # layers - 1 more stride-2 layers, then one of stride 1
            stride = 2 if i < layers else 1
            modules += [nn.Conv2d(chans[i - 1], chans[i], 4, stride, 1), norm_layer(norm, chans[i]), nn.LeakyReLU(0.2)]
        modules.append(nn.Conv2d(chans[layers], 1, 4, 1, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
