"""StarGAN (Choi et al. 2018): one translator for every domain, told the target domain by a one-hot code.

Every class of the data is a domain (the `domains` data mode). The translator
sees the image with the target's one-hot code tiled over it as extra channels
and returns the image as that class; the critic judges each patch real or fake
and also says which class a real image is, so the translator learns to make
its outputs read as the target. Training (core.objectives.stargan) adds the
cycle back to the original class, which keeps what the target does not change.

    translator     [image ; one-hot(target) tiled] -> c7s1-w, d2w, d4w (4x4, stride 2), `blocks` residual blocks,
                   u2w, uw (4x4 transposed), c7s1-C, tanh -> image in [-1, 1]; instance norm after every hidden layer
    discriminator  `critic_layers` stride-2 4x4 convolutions with LeakyReLU(0.01) and no normalisation (the gradient
                   penalty is per image), then two heads on the last map: a 3x3 convolution for the real/fake score
                   map [B, 1, h, w], and a convolution as large as the map for the class logits [B, num_classes]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family
from core.models.translator import ResidualBlock, Translator, TranslatorConfig, as_config, norm_layer, widths

SUPPORTED_SIZES = (16, 32, 64, 128, 256)  # powers of two: the critic halves the map down to 2x2 (or `critic_layers`)
MAX_BLOCKS = 12


@dataclass
class StarGANConfig(TranslatorConfig):
    blocks: int = 6  # residual blocks of the translator, at a quarter of the image size (the paper: 6)
    # stride-2 layers of the critic; 0: down to a 2x2 map (log2(image_size) - 1: 5 at 64 px, the paper's 6 at 128 px)
    critic_layers: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"stargan image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if self.num_classes < 2:
            raise ValueError(f"a StarGAN translates between classes: it needs num_classes >= 2, got {self.num_classes}")
        if self.source or self.domains:
            raise ValueError("a StarGAN's domains are the classes (class_names): source and domains must be empty")
        if self.in_channels != self.channels:
            raise ValueError(f"a StarGAN maps images to images of the same kind: in_channels ({self.in_channels}) "
                             f"must equal channels ({self.channels})")
        if not 1 <= self.blocks <= MAX_BLOCKS:
            raise ValueError(f"blocks must be from 1 to {MAX_BLOCKS}, got {self.blocks}")
        most = int(math.log2(self.image_size))
        if not 0 <= self.critic_layers <= most:
            raise ValueError(f"critic_layers must be from 1 to {most} at {self.image_size} px (0: automatic), "
                             f"got {self.critic_layers}")

    @property
    def critic_depth(self) -> int:
        """Stride-2 layers of the critic (`critic_layers`, or down to a 2x2 map)."""
        return self.critic_layers or int(math.log2(self.image_size)) - 1

    @property
    def critic_map_size(self) -> int:
        """Side of the critic's last map, and of its score map."""
        return self.image_size // 2**self.critic_depth


def tiled_one_hot(target: torch.Tensor, num_classes: int, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """Class ids [B] -> their one-hot codes tiled over the image, [B, num_classes, height, width]."""
    code = F.one_hot(target, num_classes).to(dtype)
    return code[:, :, None, None].expand(-1, -1, height, width)


class DomainGenerator(nn.Module):
    """[image ; tiled one-hot code] [B, C + K, H, W] -> image [B, C, H, W]: the paper's ResNet generator.

    Its first convolution pads with zeros, not by reflection (as core.models.translator.ResnetGenerator): the
    tiled code is the same at every pixel, so under reflection padding its part of that convolution's output is
    a constant per channel, which the instance norm after it subtracts exactly, and the translator would never
    learn which class to make. With zeros around the image the code's part varies near the border, so it
    survives the norm (a test checks that different targets give different outputs).
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, blocks: int, norm: str, downsamplings: int = 2):
        super().__init__()
        bias = norm == "none"  # a norm after a layer has its own shift
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 7, 1, 3, bias=bias), norm_layer(norm, width), nn.ReLU()]
        c = width
        for _ in range(downsamplings):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(blocks)]
        for _ in range(downsamplings):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=bias), norm_layer(norm, c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.Conv2d(c, out_channels, 7, 1, 3), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class StarGANTranslator(Translator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                        tags=["image-to-image", "stargan", "multi-domain"]):
    """images [B, C, H, W] in [-1, 1] and target class ids [B] -> the images as those classes [B, C, H, W]."""

    family = "stargan"

    def __init__(self, config: StarGANConfig):
        super().__init__()
        self.config = config = as_config(StarGANConfig, config)
        self.generator = DomainGenerator(config.channels + config.num_classes, config.channels, config.width,
                                         config.blocks, config.norm)

    def translate(self, images: torch.Tensor, target: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
        if target is None:
            raise ValueError(f"a StarGAN needs the target class of each image (target: class ids [B], "
                             f"from 0 to {self.config.num_classes - 1})")
        if target.shape != images.shape[:1]:
            raise ValueError(f"target must hold one class id per image ([{images.shape[0]}]), got {tuple(target.shape)}")
        code = tiled_one_hot(target.long(), self.config.num_classes, images.shape[2], images.shape[3], images.dtype)
        return self.generator(torch.cat([images, code], dim=1))

    def forward(self, images: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.translate(images, target)


class StarGANDiscriminator(nn.Module):
    """images [B, C, H, W] -> (real/fake scores [B, 1, h, w], class logits [B, num_classes])."""

    def __init__(self, config: StarGANConfig):
        super().__init__()
        self.config = config = as_config(StarGANConfig, config)
        chans = widths(config.width, config.max_width, config.critic_depth)
        layers: list[nn.Module] = []
        previous = config.channels
        for c in chans:
            layers += [nn.Conv2d(previous, c, 4, 2, 1), nn.LeakyReLU(0.01)]
            previous = c
        self.body = nn.Sequential(*layers)
        self.score = nn.Conv2d(previous, 1, 3, 1, 1, bias=False)
        self.classes = nn.Conv2d(previous, config.num_classes, config.critic_map_size, bias=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return self.score(features), self.classes(features).flatten(1)


register_family(
    ModelFamily(
        name="stargan",
        config_class=StarGANConfig,
        networks={"translator": StarGANTranslator, "discriminator": StarGANDiscriminator},
        objective="stargan",
        exported="translator",
        kind="translator",
        modes=("domains",),
        title="StarGAN",
        paper="Choi et al. (2018)",
    )
)
