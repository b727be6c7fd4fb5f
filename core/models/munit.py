"""MUNIT (Huang et al. 2018): unpaired, multimodal translation by splitting an image into a content and a style code.

Each domain has three networks. Its content encoder maps an image to a spatial
code shared by both domains; its style encoder maps an image to a small vector
that only says how the image looks in that domain; its decoder rebuilds an image
of its domain from any content code and a style of its own. Translating A -> B
is decode_B(content_A(x), s) with s a B style: drawn from the prior N(0, I) for
a random look, taken from a B image to copy its look, zeros for the prior's mean.

    content encoder  c7s1-w, `downsamplings` stride-2 4x4 layers (doubling up to max_width), `blocks` residual
                     blocks; instance norm (the config's `norm`); -> [B, C, H / 2^d, W / 2^d]
    style encoder    c7s1-w, d + 2 stride-2 4x4 layers (doubling for the first d), no norm (it would wash out
                     the style), global average pool, 1x1 conv -> [B, style_dim]
    decoder          `blocks` residual blocks with adaptive instance norm, whose per-channel means and stds an
                     MLP (style_dim -> mlp_dim -> mlp_dim) computes from the style code; then d x (nearest x2
                     upsampling, 5x5 conv, layer norm, ReLU), c7s1-channels, tanh

The upsampling uses layer norm, as MUNIT: instance norm there would remove the
per-channel statistics AdaIN just set. `nn.GroupNorm(1, C)` is exactly MUNIT's
layer norm (each image normalised over C, H, W; a per-channel scale and bias).

One deviation from the authors' code: the AdaIN std is 1 + (the MLP's output)
rather than the output itself (as StarGAN v2), so a fresh decoder starts as
plain instance norm instead of scaling its residual branches towards zero.

The discriminator holds one critic per domain (`a`, `b`), each a stack of
`scales` unnormalised PatchGANs on the image and its 2x, 4x ... average-pooled
copies (MUNIT's multi-scale critic, fewer scales at 64 px).

Domain ids follow the data mode's order, `domains=[A, B]`: 0 is A, 1 is B; a
translator asked for no target translates to B. Any image size divisible by
2^downsamplings works whose smallest critic scale still leaves a score map (64 px:
two scales, 6x6 and 2x2).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import ModelFamily, register_family
from core.models.translator import (
    PatchDiscriminator,
    ResidualBlock,
    Translator,
    TranslatorConfig,
    as_config,
    norm_layer,
    patch_output_size,
    widths,
)

DOMAIN_A, DOMAIN_B = 0, 1  # domain ids, in the order of `domains`
COMPONENTS = ("content_a", "style_a", "decoder_a", "content_b", "style_b", "decoder_b")
ADAIN_EPS = 1e-5


def _whole(value, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@dataclass
class MUNITConfig(TranslatorConfig):
    style_dim: int = 8  # the style code's size; the prior is N(0, I)
    blocks: int = 4  # residual blocks in each content encoder and each decoder
    downsamplings: int = 2  # stride-2 layers of the content encoder (the style encoder has two more)
    mlp_dim: int = 256  # hidden width of the MLP that turns a style code into the decoder's AdaIN parameters
    scales: int = 2  # image scales each domain's critic judges (MUNIT: 3 at 256 px)

    def __post_init__(self) -> None:
        super().__post_init__()
        _whole(self.style_dim, "style_dim", 1, 512)
        _whole(self.blocks, "blocks", 1, 16)
        _whole(self.downsamplings, "downsamplings", 1, 5)
        _whole(self.mlp_dim, "mlp_dim", 1, 4096)
        _whole(self.scales, "scales", 1, 4)
        if self.image_size % 2**self.downsamplings or self.image_size < 2 ** (self.downsamplings + 2):
            raise ValueError(f"MUNIT image_size must be divisible by 2^downsamplings = {2**self.downsamplings} and "
                             f"at least {2 ** (self.downsamplings + 2)}, got {self.image_size}")
        if patch_output_size(self.image_size // 2 ** (self.scales - 1)) < 1:
            raise ValueError(f"{self.scales} critic scales need image_size >= {24 * 2 ** (self.scales - 1)}, "
                             f"got {self.image_size}")

    @property
    def encoder_widths(self) -> list[int]:
        """Channels of the first layer and after each downsampling: [w, 2w, 4w] for two."""
        return widths(self.width, self.max_width, self.downsamplings + 1)

    @property
    def content_channels(self) -> int:
        return self.encoder_widths[-1]


def adaptive_instance_norm(features: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Features [B, C, H, W] normalised per image and channel, then given mean [B, C] and std [B, C] (AdaIN)."""
    normalised = F.instance_norm(features, eps=ADAIN_EPS)
    return normalised * std[:, :, None, None] + mean[:, :, None, None]


class AdaptiveResidualBlock(nn.Module):
    """A residual block whose two normalisations take their statistics from outside: [B, C, H, W] -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))

    def forward(self, x: torch.Tensor, first: tuple[torch.Tensor, torch.Tensor],
                second: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h = F.relu(adaptive_instance_norm(self.conv1(x), *first))
        return x + adaptive_instance_norm(self.conv2(h), *second)


class ContentEncoder(nn.Module):
    """image [B, C, H, W] -> content code [B, content_channels, H / 2^d, W / 2^d]."""

    def __init__(self, config: MUNITConfig, in_channels: int):
        super().__init__()
        chans, norm = config.encoder_widths, config.norm
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, chans[0], 7), norm_layer(norm, chans[0]),
                                   nn.ReLU()]
        for previous, c in pairwise(chans):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(previous, c, 4, 2), norm_layer(norm, c), nn.ReLU()]
        layers += [ResidualBlock(chans[-1], norm) for _ in range(config.blocks)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class StyleEncoder(nn.Module):
    """image [B, C, H, W] -> style code [B, style_dim]. No normalisation: the statistics it would remove are the style."""

    def __init__(self, config: MUNITConfig, in_channels: int):
        super().__init__()
        chans = config.encoder_widths
        chans = chans + [chans[-1]] * 2  # two more downsamplings at the same width: a wider view before pooling
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, chans[0], 7), nn.ReLU()]
        for previous, c in pairwise(chans):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(previous, c, 4, 2), nn.ReLU()]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(chans[-1], config.style_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).flatten(1)


class Decoder(nn.Module):
    """(content [B, content_channels, h, w], style [B, style_dim]) -> image [B, channels, h * 2^d, w * 2^d] in [-1, 1]."""

    def __init__(self, config: MUNITConfig, out_channels: int):
        super().__init__()
        chans = config.encoder_widths
        self.channels = channels = chans[-1]
        self.blocks = nn.ModuleList(AdaptiveResidualBlock(channels) for _ in range(config.blocks))
        self.adain_layers = 2 * config.blocks
        # one (mean, std offset) pair per channel of every AdaIN layer
        self.mlp = nn.Sequential(
            nn.Linear(config.style_dim, config.mlp_dim), nn.ReLU(),
            nn.Linear(config.mlp_dim, config.mlp_dim), nn.ReLU(),
            nn.Linear(config.mlp_dim, 2 * channels * self.adain_layers),
        )
        layers: list[nn.Module] = []
        for c, smaller in pairwise(reversed(chans)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(2), nn.Conv2d(c, smaller, 5),
                       nn.GroupNorm(1, smaller), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(chans[0], out_channels, 7), nn.Tanh()]
        self.upsampling = nn.Sequential(*layers)

    def adain_parameters(self, style: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """style [B, style_dim] -> (mean [B, C], std [B, C]) of each AdaIN layer, in the order they run."""
        params = self.mlp(style).view(style.shape[0], self.adain_layers, 2, self.channels)
        return [(params[:, i, 0], 1 + params[:, i, 1]) for i in range(self.adain_layers)]

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.adain_parameters(style)
        x = content
        for i, block in enumerate(self.blocks):
            x = block(x, params[2 * i], params[2 * i + 1])
        return self.upsampling(x)


class MUNITTranslator(Translator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                      tags=["image-to-image", "munit", "unpaired", "multimodal"]):
    """Both domains' content encoders, style encoders and decoders.

    `translate` is the interface (images -> the other domain, in a given style). `forward` is the training pass
    over a batch of each domain at once, so a DDP or autocast wrapper sees one call that uses every parameter.
    """

    family = "munit"

    def __init__(self, config: MUNITConfig):
        super().__init__()
        self.config = config = as_config(MUNITConfig, config)
        self.content_a, self.style_a = ContentEncoder(config, config.in_channels), StyleEncoder(config, config.in_channels)
        self.decoder_a = Decoder(config, config.in_channels)
        self.content_b, self.style_b = ContentEncoder(config, config.channels), StyleEncoder(config, config.channels)
        self.decoder_b = Decoder(config, config.channels)

    @property
    def style_dim(self) -> int:
        return self.config.style_dim

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor, styles_a: torch.Tensor, styles_b: torch.Tensor,
                cycle: bool = False, translations_only: bool = False) -> dict[str, torch.Tensor]:
        """The training pass: real images of each domain [B, C, H, W] and style codes [B, style_dim] to translate with
        (styles_a for B -> A, styles_b for A -> B) -> every code and image the losses compare, by name:

            ab, ba                    decoder_b(content_a, styles_b), decoder_a(content_b, styles_a)
            content_a, style_code_a   the codes of images_a (and _b)
            recon_a                   decoder_a(content_a, style_code_a): images_a rebuilt in their own style
            content_ab, style_code_ab the codes of ab re-encoded in B (content_ba, style_code_ba in A)
            aba, bab                  with `cycle`: decoder_a(content_ab, style_code_a), back in the own style

        `translations_only`: ab and ba alone (what the critics' phase needs).
        """
        content_a, content_b = self.content_a(images_a), self.content_b(images_b)
        ab, ba = self.decoder_b(content_a, styles_b), self.decoder_a(content_b, styles_a)
        if translations_only:
            return {"ab": ab, "ba": ba}
        style_code_a, style_code_b = self.style_a(images_a), self.style_b(images_b)
        out = {
            "content_a": content_a, "content_b": content_b, "style_code_a": style_code_a, "style_code_b": style_code_b,
            "recon_a": self.decoder_a(content_a, style_code_a), "recon_b": self.decoder_b(content_b, style_code_b),
            "ab": ab, "ba": ba,
            "content_ab": self.content_b(ab), "content_ba": self.content_a(ba),
            "style_code_ab": self.style_b(ab), "style_code_ba": self.style_a(ba),
        }
        if cycle:
            out["aba"] = self.decoder_a(out["content_ab"], style_code_a)
            out["bab"] = self.decoder_b(out["content_ba"], style_code_b)
        return out

    def to_domain(self, images: torch.Tensor, to: int, style: torch.Tensor) -> torch.Tensor:
        """The whole batch [B, C, H, W] to domain `to` (1: from A to B; 0: from B to A) in styles [B, style_dim]."""
        if to == DOMAIN_B:
            return self.decoder_b(self.content_a(images), style)
        if to == DOMAIN_A:
            return self.decoder_a(self.content_b(images), style)
        raise ValueError(f"a MUNIT translates to domain 0 (A) or 1 (B), got {to!r}")

    def translate(self, images: torch.Tensor, target: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, H, W], target domain ids [N] (1: A -> B, 0: B -> A; None: all to B), style codes
        [N, style_dim] (None: zeros, the prior's mean) -> [N, C, H, W] in [-1, 1].

        Each direction runs on its own images only; with instance norm that gives what translating each image
        alone would."""
        n = images.shape[0]
        if style is None:
            style = images.new_zeros((n, self.style_dim))
        style = torch.as_tensor(style, device=images.device, dtype=images.dtype)
        if tuple(style.shape) != (n, self.style_dim):
            raise ValueError(f"style must be [{n}, {self.style_dim}] for {n} images, got {list(style.shape)}")
        if target is None:
            return self.to_domain(images, DOMAIN_B, style)
        target = torch.as_tensor(target, device=images.device).long().reshape(-1)
        if target.shape[0] != n:
            raise ValueError(f"got {target.shape[0]} target ids for {n} images")
        to_b, to_a = target == DOMAIN_B, target == DOMAIN_A
        if not bool((to_a | to_b).all()):
            raise ValueError(f"a MUNIT's target ids are 0 (A) or 1 (B), got {sorted(set(target.tolist()))}")
        if bool(to_b.all()):
            return self.to_domain(images, DOMAIN_B, style)
        if bool(to_a.all()):
            return self.to_domain(images, DOMAIN_A, style)
        out = images.new_empty((n, self.config.channels, *images.shape[2:]))
        out[to_b] = self.to_domain(images[to_b], DOMAIN_B, style[to_b])
        out[to_a] = self.to_domain(images[to_a], DOMAIN_A, style[to_a])
        return out


class MultiScaleCritic(nn.Module):
    """images [B, C, H, W] -> one PatchGAN score map per scale: [B, 1, h, w] on the image, then on 2x, 4x ... pooled."""

    def __init__(self, config: MUNITConfig, in_channels: int):
        super().__init__()
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, config.width, config.max_width, norm="none") for _ in range(config.scales)
        )
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        scores = []
        for i, critic in enumerate(self.scales):
            if i:
                images = self.pool(images)
            scores.append(critic(images))
        return scores


class MUNITDiscriminator(nn.Module):
    """One multi-scale critic per domain: (images of A, images of B) -> (A's score maps, B's score maps).

    Both in one call (a DDP wrapper sees one forward per phase); real and translated images of a domain may share
    a batch, the critics having no normalisation across images."""

    def __init__(self, config: MUNITConfig):
        super().__init__()
        self.config = config = as_config(MUNITConfig, config)
        self.a = MultiScaleCritic(config, config.in_channels)
        self.b = MultiScaleCritic(config, config.channels)

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return self.a(images_a), self.b(images_b)


register_family(
    ModelFamily(
        name="munit",
        config_class=MUNITConfig,
        networks={"translator": MUNITTranslator, "discriminator": MUNITDiscriminator},
        objective="munit",
        exported="translator",
        kind="translator",
        modes=("unpaired",),
        components=COMPONENTS,
        title="MUNIT",
        paper="Huang et al. (2018)",
    )
)
