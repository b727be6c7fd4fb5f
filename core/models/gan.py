"""GAN (Goodfellow et al., 2014), and the networks every family of the classic collection builds on.

The collection (GAN, CGAN, ACGAN, infoGAN, WGAN, WGAN-GP, DRAGAN, LSGAN,
BEGAN, EBGAN) compares training *ideas* on the same networks, as the
reference collection (pytorch-generative-model-collections) does; so the
networks live here once, and each family's module adds only what is its own
(a head, the label input, an autoencoder critic) and the training settings
that define it. Three architectures, chosen by `arch`:

* `dcgan`: the suite's convolutional nets (Radford et al., 2016): a linear
  projection to a 7x7 (28 px) or 4x4 map, then stride-2 transposed
  convolutions with batch norm; the critic mirrors it with stride-2
  convolutions, normalised by `critic_norm`.
* `infogan`: the infoGAN paper's (Chen et al., 2016) nets, which the
  reference collection uses for every family: G is FC1024-FC(128 x s/4 x s/4)
  -deconv64-deconv, D is conv64-conv128-FC1024 (then the heads), 28 or 32 px.
* `mlp`: fully connected, as the original GAN: G is `hidden`/4 - `hidden`/2 -
  `hidden` wide with batch norm, D is `hidden` - `hidden`/2 - `hidden`/4 with
  leaky ReLUs.

    generator     z [B, z_dim] (+ labels [B]) -> images [B, C, H, W] in [-1, 1]
    discriminator images [B, C, H, W] (+ labels [B]) -> scores [B] (logits or critic values)

A class-conditional generator takes the one-hot label concatenated to z; a
class-conditional GAN critic adds a projection term <embed(y), features>
(Miyato & Koyama, 2018). CGAN concatenates the label to the critic's input
instead (`core.models.cgan`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, fields

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from core.models.base import LatentGenerator, ModelFamily, register_family

ARCHS = ("dcgan", "infogan", "mlp")
CRITIC_NORMS = ("batch", "layer", "none")
SIZES = {"dcgan": (28, 32, 64, 128), "infogan": (28, 32), "mlp": (28, 32, 64)}
INFOGAN_CHANNELS = (64, 128)  # the infoGAN nets' convolution widths


@dataclass
class GANConfig:
    """Everything needed to rebuild a collection family's networks; saved as config.json."""

    image_size: int = 28
    channels: int = 1
    z_dim: int = 62  # the reference collection's latent size
    num_classes: int = 0  # 0 = unconditional
    class_names: list[str] = field(default_factory=list)
    arch: str = "dcgan"  # one of ARCHS
    width: int = 64  # dcgan: channels of the last hidden layer, doubling per lower resolution up to max_width
    max_width: int = 512
    hidden: int = 1024  # infogan and mlp: width of the critic's fully connected layers
    generator_hidden: int = 0  # infogan and mlp: the generator's; 0 = `hidden`
    critic_norm: str = "batch"  # normalisation inside the critic; the gradient penalties need "layer" or "none"
    minibatch_std: int = 0  # conv critics: groups of this many images see their features' spread (ProGAN); 0 = off

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.image_size not in SIZES[self.arch]:
            raise ValueError(f"the {self.arch} nets draw {SIZES[self.arch]} px images, not {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.critic_norm not in CRITIC_NORMS:
            raise ValueError(f"critic_norm must be one of {CRITIC_NORMS}, got {self.critic_norm!r}")
        if isinstance(self.minibatch_std, bool) or not isinstance(self.minibatch_std, int) or self.minibatch_std in (1,) \
                or not 0 <= self.minibatch_std <= 64:
            raise ValueError(f"minibatch_std must be 0 (off) or a group size from 2 to 64, got {self.minibatch_std!r}")
        if self.minibatch_std and self.arch == "mlp":
            raise ValueError("minibatch_std needs a convolutional critic (arch dcgan or infogan)")
        for name in ("z_dim", "width", "max_width", "hidden", "generator_hidden"):
            value, low = getattr(self, name), 0 if name == "generator_hidden" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 8192:
                raise ValueError(f"{name} must be a whole number from {low} to 8192, got {value!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or not 0 <= self.num_classes <= 1000:
            raise ValueError(f"num_classes must be a whole number from 0 to 1000, got {self.num_classes!r}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")

    @property
    def base_size(self) -> int:
        return dcgan_base_size(self.image_size)

    @property
    def decoder_hidden(self) -> int:
        return self.generator_hidden or self.hidden

    def widths(self) -> list[int]:
        return dcgan_widths(self.image_size, self.width, self.max_width)

    @property
    def code_dim(self) -> int:
        """Size of the latent codes the generator takes besides z and labels (infoGAN's); 0 here."""
        return 0


def dcgan_base_size(image_size: int) -> int:
    """The DCGAN nets' first (generator) and last (critic) map: 7x7 for 28 px, 4x4 otherwise."""
    return 7 if image_size == 28 else 4


def dcgan_widths(image_size: int, width: int, max_width: int) -> list[int]:
    """The DCGAN nets' channels at each resolution, from the base map up to the last hidden layer (`width`),
    doubling per lower resolution up to `max_width`."""
    n = int(math.log2(image_size // dcgan_base_size(image_size)))
    return [min(width * 2 ** (n - 1 - i), max_width) for i in range(n)]


def as_config(config_class: type, config) -> GANConfig:
    """`config` as `config_class`: config.json (a dict, which also names the family) keeps only the class's fields."""
    if isinstance(config, config_class):
        return config
    known = {f.name for f in fields(config_class)}
    return config_class(**{k: v for k, v in dict(config).items() if k in known})


# ---------------------------------------------------------------------- building blocks


def critic_norm(kind: str, channels: int, spatial: bool) -> nn.Module:
    """The critic's normalisation after a layer: batch norm, a per-sample layer norm, or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        # One group = layer norm over (C, H, W) with a per-channel affine: no coupling between samples.
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    return nn.Identity()


def dcgan_generator_layers(in_dim: int, widths: list[int], base: int, channels: int, norm: str = "batch") -> tuple[list, list]:
    """The DCGAN generator as (projection layers, upsampling layers): a linear map to a [widths[0], base, base]
    map with `norm` (batch norm in a generator), then stride-2 transposed convolutions down the widths, tanh at
    the end."""
    project: list[nn.Module] = [
        nn.Linear(in_dim, widths[0] * base * base, bias=False), nn.Unflatten(1, (widths[0], base, base)),
        critic_norm(norm, widths[0], True), nn.ReLU(inplace=True),
    ]
    blocks: list[nn.Module] = []
    for w_in, w_out in itertools.pairwise(widths):
        blocks += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), critic_norm(norm, w_out, True), nn.ReLU(inplace=True)]
    blocks += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
    return project, blocks


def dcgan_critic_layers(channels: int, widths: list[int], norm: str) -> list[nn.Module]:
    """The DCGAN critic trunk, images -> [B, widths[-1], base, base]: stride-2 convolutions up the widths
    (low channels at high resolution), each but the first followed by `norm` (none adds no layer)."""
    layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for w_in, w_out in itertools.pairwise(widths):
        layers.append(nn.Conv2d(w_in, w_out, 4, 2, 1))
        if norm != "none":
            layers.append(critic_norm(norm, w_out, True))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


def image_decoder(config: GANConfig, in_dim: int, norm: str = "batch") -> nn.Sequential:
    """A vector [B, in_dim] -> images [B, C, H, W] in [-1, 1], by `config.arch`, normalised by `norm` (a
    generator's batch norm; an autoencoder critic's decoder follows `critic_norm`)."""
    c, s = config.channels, config.image_size
    if config.arch == "dcgan":
        project, blocks = dcgan_generator_layers(in_dim, config.widths(), config.base_size, c, norm)
        return nn.Sequential(*project, *blocks)
    h = config.decoder_hidden
    if config.arch == "infogan":
        small, large = INFOGAN_CHANNELS
        q = s // 4
        return nn.Sequential(
            nn.Linear(in_dim, h), critic_norm(norm, h, False), nn.ReLU(inplace=True),
            nn.Linear(h, large * q * q), critic_norm(norm, large * q * q, False), nn.ReLU(inplace=True),
            nn.Unflatten(1, (large, q, q)),
            nn.ConvTranspose2d(large, small, 4, 2, 1), critic_norm(norm, small, True), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(small, c, 4, 2, 1), nn.Tanh(),
        )
    return nn.Sequential(
        nn.Linear(in_dim, h // 4), critic_norm(norm, h // 4, False), nn.ReLU(inplace=True),
        nn.Linear(h // 4, h // 2), critic_norm(norm, h // 2, False), nn.ReLU(inplace=True),
        nn.Linear(h // 2, h), critic_norm(norm, h, False), nn.ReLU(inplace=True),
        nn.Linear(h, c * s * s), nn.Tanh(), nn.Unflatten(1, (c, s, s)),
    )


class MinibatchStd(nn.Module):
    """Karras et al. (2018): one more feature map holding how much a group of images' features differ.

    A critic that sees each image alone cannot tell a generator that draws the same garment every time
    from one that draws them all; this map (the features' standard deviation over each group of
    `group` images, averaged to one value per group) lets it, which pushes the generator to cover the
    data's variety. [B, C, H, W] -> [B, C + 1, H, W]; a batch that is not a multiple of `group` uses
    its largest divisor that fits.
    """

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        group = math.gcd(self.group, b)
        spread = x.reshape(group, b // group, c, h, w).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))  # [B / group]
        return torch.cat([x, spread.repeat(group)[:, None, None, None].expand(b, 1, h, w)], dim=1)


def image_encoder(config: GANConfig, extra_channels: int = 0) -> tuple[nn.Sequential, int]:
    """Images [B, C (+ extra), H, W] -> features [B, F], by `config.arch`; returns (network, F).

    `extra_channels`: label maps concatenated to the input (CGAN's critic).
    """
    c, s, norm = config.channels + extra_channels, config.image_size, config.critic_norm
    spread = [MinibatchStd(config.minibatch_std)] if config.minibatch_std else []
    extra = 1 if config.minibatch_std else 0  # the spread map
    if config.arch == "dcgan":
        widths = config.widths()[::-1]
        trunk = [*dcgan_critic_layers(c, widths, norm), *spread, nn.Flatten()]
        return nn.Sequential(*trunk), (widths[-1] + extra) * config.base_size**2
    if config.arch == "infogan":
        small, large = INFOGAN_CHANNELS
        q = s // 4
        return nn.Sequential(
            nn.Conv2d(c, small, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(small, large, 4, 2, 1), critic_norm(norm, large, True), nn.LeakyReLU(0.2, inplace=True),
            *spread, nn.Flatten(),
            nn.Linear((large + extra) * q * q, config.hidden), critic_norm(norm, config.hidden, False),
            nn.LeakyReLU(0.2, inplace=True),
        ), config.hidden
    h = config.hidden
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(c * s * s, h), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(h, h // 2), critic_norm(norm, h // 2, False), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(h // 2, h // 4), critic_norm(norm, h // 4, False), nn.LeakyReLU(0.2, inplace=True),
    ), h // 4


def init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation, N(0, 0.02) weights (batch norm scales N(1, 0.02)), as the reference collection's."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def one_hot(labels: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    return F.one_hot(labels, num_classes).to(dtype)


# ---------------------------------------------------------------------- the networks


class Generator(LatentGenerator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan"]):
    """z [B, z_dim] (+ labels [B]) (+ codes [B, code_dim]) -> images [B, C, H, W] in [-1, 1].

    The decoder's input is z, the one-hot label and the codes, concatenated.
    """

    config_class: type = GANConfig

    def __init__(self, config: GANConfig | dict):
        super().__init__()
        self.config = config = as_config(self.config_class, config)
        self.decoder = image_decoder(config, config.z_dim + config.num_classes + config.code_dim)
        self.apply(init_weights)

    def decoder_input(self, z: Tensor, labels: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        parts = [z]
        if self.config.num_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            parts.append(one_hot(labels, self.config.num_classes, z.dtype))
        if self.config.code_dim:
            if codes is None:
                raise ValueError(f"this generator takes latent codes [B, {self.config.code_dim}]: pass codes")
            parts.append(codes.to(z.dtype))
        return torch.cat(parts, dim=1) if len(parts) > 1 else z

    def forward(self, z: Tensor, labels: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        return self.decoder(self.decoder_input(z, labels, codes))


class Discriminator(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan"]):
    """images [B, C, H, W] (+ labels [B]) -> scores [B]; class-conditional by projection.

    Families change the critic by overriding `extra_channels` (inputs besides the image) and
    `build_heads` (what sits on the trunk's features besides the score) and `forward`.
    """

    config_class: type = GANConfig

    def __init__(self, config: GANConfig | dict):
        super().__init__()
        self.config = config = as_config(self.config_class, config)
        self.features, feature_dim = image_encoder(config, extra_channels=self.extra_channels())
        self.score = nn.Linear(feature_dim, 1)
        self.build_heads(feature_dim)
        self.apply(init_weights)

    def extra_channels(self) -> int:
        return 0

    def build_heads(self, feature_dim: int) -> None:
        config = self.config
        self.class_projection = nn.Embedding(config.num_classes, feature_dim) if config.num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.features(images)  # [B, F]
        score = self.score(h).squeeze(1)
        if self.class_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels")
            score = score + (self.class_projection(labels) * h).sum(dim=1)
        return score


@dataclass
class AutoencoderGANConfig(GANConfig):
    """The collection's config plus the size of an autoencoder critic's code (BEGAN, EBGAN)."""

    bottleneck: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.bottleneck, bool) or not isinstance(self.bottleneck, int) or not 1 <= self.bottleneck <= 8192:
            raise ValueError(f"bottleneck must be a whole number from 1 to 8192, got {self.bottleneck!r}")


class AutoencoderDiscriminator(nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab", tags=["gan"]):
    """An autoencoder as the critic (BEGAN, EBGAN): images -> (reconstructions [B, C, H, W], codes [B, bottleneck]).

    Its energy is how badly it reconstructs an image: low on real images,
    high on generated ones. Encoder and decoder are the `arch`'s critic and
    generator nets, joined by a linear code of `bottleneck` values.
    """

    config_class: type = AutoencoderGANConfig

    def __init__(self, config: AutoencoderGANConfig | dict):
        super().__init__()
        self.config = config = as_config(self.config_class, config)
        self.encoder, feature_dim = image_encoder(config)
        self.to_code = nn.Linear(feature_dim, config.bottleneck)
        self.decoder = image_decoder(config, config.bottleneck, norm=config.critic_norm)
        self.apply(init_weights)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        code = self.to_code(self.encoder(images))
        return self.decoder(code), code


def collection_family(name: str, title: str, paper: str, networks: dict | None = None, objective: str = "image-gan",
                      config_class: type = GANConfig, accepts: frozenset[str] = frozenset({"labels"}),
                      **fields_) -> ModelFamily:
    """A family of the collection: the shared networks unless it brings its own, registered under `name`."""
    return register_family(ModelFamily(
        name=name, title=title, paper=paper, config_class=config_class, objective=objective,
        networks=networks or {"generator": Generator, "discriminator": Discriminator},
        accepts=accepts, **fields_,
    ))


collection_family(
    "gan", "GAN", "Goodfellow et al. (2014)",
    # Unconditional, the non-saturating loss (the minimax loss is `--set loss=minimax`).
    defaults={"conditional": False, "loss": "nonsaturating"},
)
