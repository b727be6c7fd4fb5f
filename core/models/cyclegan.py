"""CycleGAN (Zhu et al. 2017): two ResNet translators between unpaired domains A and B, each judged by a PatchGAN.

The exported network is the bundle of both directions: `ab` (A -> B) and `ba`
(B -> A), ResnetGenerators with `blocks` residual blocks (the paper: 6 at
128 px, 9 at 256 px). Domain ids follow the data mode's order, `domains=[A, B]`:
0 is A, 1 is B, and a translator asked for no target translates to B. The
discriminator holds one 70x70 PatchGAN per domain (`a` judges A images, `b`
judges B images); neither is conditioned on the input, the data being unpaired.

Any image size divisible by 4 (the two stride-2 downsamplings) from 24 px up
(the smallest that leaves the PatchGAN a score map) works; the recipes train 64 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family
from core.models.translator import (
    PatchDiscriminator,
    ResnetGenerator,
    Translator,
    TranslatorConfig,
    as_config,
    patch_output_size,
)

DOMAIN_A, DOMAIN_B = 0, 1  # domain ids, in the order of `domains`
MAX_BLOCKS = 12


@dataclass
class CycleGANConfig(TranslatorConfig):
    # residual blocks of each ResnetGenerator. `width` is each network's first layer; the generators reach 4 x width
    # at their bottleneck (ResnetGenerator has no cap), the discriminators double it up to `max_width`.
    blocks: int = 9

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or not 1 <= self.blocks <= MAX_BLOCKS:
            raise ValueError(f"blocks must be a whole number from 1 to {MAX_BLOCKS}, got {self.blocks!r}")
        if self.image_size % 4 or patch_output_size(self.image_size) < 1:
            raise ValueError(f"CycleGAN image_size must be divisible by 4 and at least 24, got {self.image_size}")


class CycleGANTranslator(Translator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                         tags=["image-to-image", "cyclegan", "unpaired"]):
    """Both directions between domains A and B: images [B, C, H, W] in [-1, 1] -> the other domain's, same shape."""

    family = "cyclegan"

    def __init__(self, config: CycleGANConfig):
        super().__init__()
        self.config = config = as_config(CycleGANConfig, config)
        self.ab = ResnetGenerator(config.in_channels, config.channels, config.width, config.blocks, config.norm)
        self.ba = ResnetGenerator(config.channels, config.in_channels, config.width, config.blocks, config.norm)

    def forward(self, images: torch.Tensor, to: int = DOMAIN_B) -> torch.Tensor:
        """The whole batch to domain `to` (1: B, through `ab`; 0: A, through `ba`).

        A plain int rather than ids per image, so training never reads a tensor on the host to pick a direction
        (and goes through this forward, as a DDP or autocast wrapper needs)."""
        if to == DOMAIN_B:
            return self.ab(images)
        if to == DOMAIN_A:
            return self.ba(images)
        raise ValueError(f"a CycleGAN translates to domain 0 (A) or 1 (B), got {to!r}")

    def translate(self, images: torch.Tensor, target: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, H, W], target domain ids [N] (1: to B, 0: to A; None: all to B) -> [N, C, H, W].

        Each direction runs on its own images only; with instance norm (or batch norm in eval) that gives what
        translating each image alone would."""
        if target is None:
            return self(images)
        target = torch.as_tensor(target, device=images.device).long().reshape(-1)
        if target.shape[0] != images.shape[0]:
            raise ValueError(f"got {target.shape[0]} target ids for {images.shape[0]} images")
        to_b, to_a = target == DOMAIN_B, target == DOMAIN_A
        if not bool((to_a | to_b).all()):
            raise ValueError(f"a CycleGAN's target ids are 0 (A) or 1 (B), got {sorted(set(target.tolist()))}")
        if bool(to_b.all()):
            return self.ab(images)
        if bool(to_a.all()):
            return self.ba(images)
        out = images.new_empty((images.shape[0], self.config.channels, *images.shape[2:]))
        out[to_b] = self.ab(images[to_b])
        out[to_a] = self.ba(images[to_a])
        return out


class CycleGANDiscriminator(nn.Module):
    """One PatchGAN per domain: (images of domain `domain`) [B, C, H, W] -> scores [B, 1, h, w], real or translated."""

    def __init__(self, config: CycleGANConfig):
        super().__init__()
        self.config = config = as_config(CycleGANConfig, config)
        self.a = PatchDiscriminator(config.in_channels, config.width, config.max_width, config.norm)
        self.b = PatchDiscriminator(config.channels, config.width, config.max_width, config.norm)

    def forward(self, images: torch.Tensor, domain: int) -> torch.Tensor:
        if domain == DOMAIN_B:
            return self.b(images)
        if domain == DOMAIN_A:
            return self.a(images)
        raise ValueError(f"a CycleGAN judges domain 0 (A) or 1 (B), got {domain!r}")


register_family(
    ModelFamily(
        name="cyclegan",
        config_class=CycleGANConfig,
        networks={"translator": CycleGANTranslator, "discriminator": CycleGANDiscriminator},
        objective="cyclegan",
        exported="translator",
        kind="translator",
        modes=("unpaired",),
        components=("ab", "ba"),
        title="CycleGAN",
        paper="Zhu et al. (2017)",
    )
)
