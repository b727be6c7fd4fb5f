"""Progressive GAN (Karras et al., ICLR 2018): generator and critic that grow from 4x4 to the full size.

Both networks hold every stage's blocks from the start, so the optimizers are
built once and never rebuilt mid-run. Stage s works at 4 * 2**s px; each
stage has its own toRGB (G) and fromRGB (D) 1x1 convolution. While stage s
fades in, its output is blended with the previous stage's, upsampled:

    G:  image = lerp(upsample(toRGB[s-1](h[s-1])), toRGB[s](block[s](h[s-1])), alpha)
    D:  h     = lerp(fromRGB[s-1](downsample(x)), block[s](fromRGB[s](x)), alpha)

so at alpha 0 a stage computes exactly what the previous one did (upsampled)
and at alpha 1 only its own path. Where a network stands, (stage, alpha), is
a pair of buffers: it travels with the weights into checkpoints, the EMA copy
and the exported model, and `config.current_size` / `config.fade` record it
in config.json. An exported model samples at the resolution it reached.

From the paper: pixel norm after every generator convolution, minibatch
standard deviation as one extra channel before the critic's last block,
equalised learning rate (weights drawn from N(0, 1) and scaled at run time by
He's constant), leaky ReLU 0.2, nearest-neighbour upsampling and average
pooling, a linear output. The training step (WGAN-GP with the drift term, the
growth schedule in images shown) is `core.objectives.progan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from core.models.base import LatentGenerator, ModelFamily, register_family

START_SIZE = 4  # the first stage's resolution
SLOPE = 0.2  # leaky ReLU


@dataclass
class ProGANConfig:
    """Everything needed to rebuild the networks; saved as config.json."""

    image_size: int = 32  # the final resolution: a power of two from 4 (Fashion-MNIST: 28 padded to 32)
    channels: int = 1
    z_dim: int = 128
    width: int = 64  # channels at the final resolution; doubled per halving of the resolution, up to max_width
    max_width: int = 256
    group_size: int = 4  # minibatch standard deviation over groups of this many samples
    current_size: int = 0  # the resolution the networks have reached (0 or image_size: fully grown)
    fade: float = 1.0  # how far the current stage has faded in: 0 = the previous stage's output, 1 = its own
    num_classes: int = 0  # ProGAN here is unconditional; the field exists for the shared pipeline
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.image_size < START_SIZE or self.image_size & (self.image_size - 1):
            raise ValueError(f"ProGAN image_size must be a power of two >= {START_SIZE}, got {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.current_size and self.current_size not in self.sizes:
            raise ValueError(f"current_size must be 0 or one of the stages {self.sizes}, got {self.current_size}")
        self.current_size = self.current_size or self.image_size  # 0 is "fully grown", said once
        if not 0 <= self.fade <= 1:
            raise ValueError(f"fade must be between 0 and 1, got {self.fade}")
        if self.group_size < 1 or self.width < 1 or self.max_width < 1:
            raise ValueError("group_size, width and max_width must be positive")
        if self.num_classes:
            raise ValueError("ProGAN is unconditional here: train it with conditional: false")

    @property
    def sizes(self) -> tuple[int, ...]:
        """Every stage's resolution, 4 up to image_size."""
        return tuple(START_SIZE * 2**s for s in range(self.stages))

    @property
    def stages(self) -> int:
        return int(math.log2(self.image_size // START_SIZE)) + 1

    def width_at(self, size: int) -> int:
        return min(self.max_width, self.width * (self.image_size // size))


def _as_config(config: ProGANConfig | dict) -> ProGANConfig:
    if isinstance(config, ProGANConfig):
        return config
    return ProGANConfig(**{k: v for k, v in config.items() if k in ProGANConfig.__dataclass_fields__})


# ---------------------------------------------------------------------- layers


class EqualizedConv2d(nn.Module):
    """A convolution whose weights are N(0, 1) parameters scaled at run time by gain / sqrt(fan_in).

    Adam's update is then the same size for every layer relative to its weights (the paper's
    equalised learning rate), whatever its fan-in.
    """

    def __init__(self, cin: int, cout: int, kernel: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """A linear layer with the equalised learning rate of `EqualizedConv2d`."""

    def __init__(self, cin: int, cout: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Each pixel's feature vector scaled to unit root mean square (over channels, dim 1)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: Tensor, group_size: int = 4, eps: float = 1e-8) -> Tensor:
    """x [B, C, H, W] with one more channel: the standard deviation of each feature over a group of samples,
    averaged to one number per group and broadcast to its samples' pixels. It tells the critic how varied
    a batch is, so a generator that collapses onto few images is easy to tell from the data."""
    batch, _, height, width = x.shape
    group = math.gcd(min(group_size, batch), batch)  # groups of equal size that tile the batch
    y = x.reshape(group, batch // group, *x.shape[1:]).float()
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(eps).sqrt()  # [B / group, C, H, W]
    y = y.mean(dim=(1, 2, 3)).to(x.dtype).repeat(group)  # sample i of the batch is in group i mod (B / group)
    return torch.cat([x, y.view(batch, 1, 1, 1).expand(batch, 1, height, width)], dim=1)


def _conv(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [EqualizedConv2d(cin, cout, 3), nn.LeakyReLU(SLOPE)]
    return [*layers, PixelNorm()] if norm else layers


class PixelNorm(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x)


# ---------------------------------------------------------------------- where a network stands


class Growing:
    """The (stage, alpha) of a growing network, kept in buffers and mirrored on the host.

    The host copy lets `forward` pick its layers without reading the device. It is refreshed
    whenever a buffer was written by anything but `set_progress` (a loaded state dict, the EMA
    copying the live network's buffers), which the tensors' version counters tell without a sync.
    """

    stage: Tensor
    alpha: Tensor

    def _init_progress(self, config: ProGANConfig) -> None:
        self.register_buffer("stage", torch.tensor(config.sizes.index(config.current_size), dtype=torch.int64))
        self.register_buffer("alpha", torch.tensor(float(config.fade), dtype=torch.float32))
        self._host: tuple[int, int, int, float] | None = None

    def set_progress(self, stage: int, alpha: float) -> None:
        """Move to `stage` (0 = 4x4), faded in by `alpha` in [0, 1] (rounded to float32, as stored)."""
        if not 0 <= stage < self._config.stages:
            raise ValueError(f"stage must be between 0 and {self._config.stages - 1}, got {stage}")
        alpha = float(torch.tensor(min(max(alpha, 0.0), 1.0), dtype=torch.float32))
        self.stage.fill_(stage)
        self.alpha.fill_(alpha)
        self._host = (self.stage._version, self.alpha._version, stage, alpha)

    def progress(self) -> tuple[int, float]:
        """(stage, alpha) now."""
        host = self._host
        if host is None or host[0] != self.stage._version or host[1] != self.alpha._version:
            host = (self.stage._version, self.alpha._version, int(self.stage), float(self.alpha))
            self._host = host
        return host[2], host[3]

    @property
    def config(self) -> ProGANConfig:
        """The network's config, with where it stands now (what config.json records on export)."""
        stage, alpha = self.progress()
        return replace(self._config, current_size=self._config.sizes[stage], fade=alpha)


# ---------------------------------------------------------------------- networks


class ProGANGenerator(Growing, LatentGenerator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                      tags=["gan", "progressive-gan"]):
    """z [B, z_dim] -> images [B, C, s, s] at the stage's size s (about [-1, 1]; the output is linear)."""

    family = "progan"

    def __init__(self, config: ProGANConfig):
        super().__init__()
        self._config = config = _as_config(config)
        sizes = config.sizes
        first = config.width_at(START_SIZE)
        # The latent becomes a 4x4 map through a dense layer (the paper's 4x4 "convolution" of a 1x1 input).
        self.dense = EqualizedLinear(config.z_dim, first * START_SIZE**2, gain=math.sqrt(2) / 4)
        self.first = nn.Sequential(*_conv(first, first, norm=True))
        self.blocks = nn.ModuleList(
            nn.Sequential(*_conv(config.width_at(sizes[s - 1]), config.width_at(size), True),
                          *_conv(config.width_at(size), config.width_at(size), True))
            for s, size in enumerate(sizes) if s
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(config.width_at(size), config.channels, 1, gain=1) for size in sizes)
        self._init_progress(config)

    @property
    def output_size(self) -> int:
        return self._config.sizes[self.progress()[0]]

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is not None:
            raise ValueError("ProGAN is unconditional: it takes no labels")
        stage, alpha = self.progress()
        h = F.leaky_relu(self.dense(pixel_norm(z)), SLOPE).view(z.shape[0], -1, START_SIZE, START_SIZE)
        h = self.first(pixel_norm(h))
        previous = h
        for block in self.blocks[:stage]:
            previous, h = h, block(F.interpolate(h, scale_factor=2, mode="nearest"))
        image = self.to_rgb[stage](h)
        if stage and alpha < 1:
            lower = F.interpolate(self.to_rgb[stage - 1](previous), scale_factor=2, mode="nearest")
            image = torch.lerp(lower, image, alpha)
        return image


class ProGANDiscriminator(Growing, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                          tags=["gan", "progressive-gan"]):
    """images [B, C, s, s] at the current stage's size (+ labels, unused) -> scores [B] (critic values)."""

    family = "progan"

    def __init__(self, config: ProGANConfig):
        super().__init__()
        self._config = config = _as_config(config)
        sizes = config.sizes
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(config.channels, config.width_at(size), 1), nn.LeakyReLU(SLOPE))
            for size in sizes
        )
        # blocks[s - 1] takes stage s's resolution down to stage s - 1's
        self.blocks = nn.ModuleList(
            nn.Sequential(*_conv(config.width_at(size), config.width_at(size), False),
                          *_conv(config.width_at(size), config.width_at(sizes[s - 1]), False), nn.AvgPool2d(2))
            for s, size in enumerate(sizes) if s
        )
        last = config.width_at(START_SIZE)
        self.final = nn.Sequential(
            *_conv(last + 1, last, False), nn.Flatten(),
            EqualizedLinear(last * START_SIZE**2, last), nn.LeakyReLU(SLOPE), EqualizedLinear(last, 1, gain=1),
        )
        self._init_progress(config)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        stage, alpha = self.progress()
        size = self._config.sizes[stage]
        if images.shape[-1] != size or images.shape[-2] != size:
            raise ValueError(f"the critic is at stage {size}x{size}, got images of {tuple(images.shape[-2:])}")
        h = self.from_rgb[stage](images)
        if stage:
            h = self.blocks[stage - 1](h)
            if alpha < 1:
                h = torch.lerp(self.from_rgb[stage - 1](F.avg_pool2d(images, 2)), h, alpha)
        for block in reversed(self.blocks[: max(stage - 1, 0)]):
            h = block(h)
        return self.final(minibatch_stddev(h, self._config.group_size)).squeeze(1)


register_family(
    ModelFamily(
        name="progan",
        config_class=ProGANConfig,
        networks={"generator": ProGANGenerator, "discriminator": ProGANDiscriminator},
        objective="progan",
        title="Progressive GAN",
        paper="Karras et al. (2018)",
        # The paper's optimizer: Adam (0, 0.99) at 1e-3 for both networks.
        defaults={"lr": {"G": 1e-3, "D": 1e-3}, "betas": (0.0, 0.99), "conditional": False,
                  "mixed_precision": "no", "bn_recalibration": 0},
    )
)
