"""A denoising diffusion baseline (Ho et al., 2020): diffusers' UNet2DModel, trained on noise prediction.

The suite judges it under the GANs' protocol, so it is a generator like them:
`GeneratorPipeline.sample(n, seed, steps=25)` draws images, and its latent z
is the starting noise itself (z_dim = channels x size x size), so a seed gives
the same images on every device and a latent walk is a walk in noise. Sampling
runs a fast sampler over the training schedule, any number of steps up to the
`train_timesteps` of training: DDIM (Song et al., 2021) or DPM-Solver++ (Lu et
al., 2022). `eta` sets how stochastic it is: 0 is the deterministic ODE, 1
(the default) adds fresh noise at every step as DDPM's ancestral sampler does.
At this budget the stochastic sampler is far better (the ODE turns the
denoiser's errors into speckle; see the model card). Its noise is drawn from
a generator seeded by each image's own starting noise, so an image still
depends on z alone: not on the device, nor on the other images of its batch.

The network keeps diffusers' own layout: the UNet's layers are this module's
children, so its state dict is UNet2DModel's, key for key, and the exported
folder also loads with diffusers (`DDPMPipeline.from_pretrained(folder)`):
`write_diffusers_files` adds model_index.json, unet/config.json (its weights
file a link to the folder's model.safetensors, stored once) and the training
noise schedule in scheduler/.

Optional class conditioning uses the UNet's class embedding (added to the
timestep embedding); diffusers' unconditional DDPMPipeline cannot pass labels,
so a class-conditional model samples through `GeneratorPipeline` only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.models.base import LatentGenerator, ModelFamily, register_family

BETA_SCHEDULES = ("linear", "squaredcos_cap_v2")  # diffusers' names: Ho et al.'s, and Nichol & Dhariwal's cosine
SAMPLERS = ("ddim", "dpm-solver")


@dataclass
class DDPMConfig:
    """Everything needed to rebuild the denoiser and its noise schedule; saved as config.json."""

    image_size: int = 32
    channels: int = 1
    num_classes: int = 0  # 0 = unconditional
    class_names: list[str] = field(default_factory=list)
    width: int = 32  # channels at full resolution; doubles per lower level up to max_width
    max_width: int = 64
    levels: int = 3  # resolutions of the U-Net (image_size must halve evenly levels - 1 times)
    layers_per_block: int = 1  # residual blocks per level on the way down (one more on the way up)
    attention: bool = True  # self-attention at the lowest resolution (and in the middle block)
    norm_groups: int = 8  # GroupNorm groups; must divide width
    train_timesteps: int = 1000  # T of the training schedule
    beta_schedule: str = "squaredcos_cap_v2"
    sampler: str = "ddim"
    eta: float = 1.0  # 0: the deterministic ODE; 1: fresh noise at every step, as DDPM's ancestral sampler
    sampling_steps: int = 50  # the default number of sampling steps

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError("class_names must have num_classes entries")
        if not 1 <= self.levels <= 6:
            raise ValueError(f"levels must be between 1 and 6, got {self.levels}")
        if self.image_size < 8 or self.image_size % 2 ** (self.levels - 1):
            raise ValueError(f"image_size {self.image_size} does not halve evenly {self.levels - 1} times "
                             f"(levels {self.levels}): use a multiple of {2 ** (self.levels - 1)}, at least 8")
        if self.width < 1 or self.max_width < self.width:
            raise ValueError(f"width must be at least 1 and max_width at least width, got {self.width}, {self.max_width}")
        if self.norm_groups < 1 or any(w % self.norm_groups for w in self.widths()):
            raise ValueError(f"norm_groups {self.norm_groups} must divide every level's channels {self.widths()}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {self.beta_schedule!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 0 <= self.eta <= 1:
            raise ValueError(f"eta must be between 0 (deterministic) and 1 (ancestral), got {self.eta}")
        if not 2 <= self.train_timesteps <= 10_000:
            raise ValueError(f"train_timesteps must be between 2 and 10000, got {self.train_timesteps}")
        if not 1 <= self.sampling_steps <= self.train_timesteps:
            raise ValueError(f"sampling_steps must be between 1 and train_timesteps ({self.train_timesteps}), "
                             f"got {self.sampling_steps}")

    @property
    def z_dim(self) -> int:
        """The latent is the starting noise itself: one value per pixel and channel."""
        return self.channels * self.image_size**2

    def widths(self) -> list[int]:
        """Channels per level, from full resolution down."""
        return [min(self.width * 2**i, self.max_width) for i in range(self.levels)]

    def unet_config(self) -> dict:
        """UNet2DModel's arguments (what unet/config.json holds)."""
        down = ["DownBlock2D"] * self.levels
        if self.attention:
            down[-1] = "AttnDownBlock2D"
        return {
            "sample_size": self.image_size,
            "in_channels": self.channels,
            "out_channels": self.channels,
            "block_out_channels": self.widths(),
            "layers_per_block": self.layers_per_block,
            "down_block_types": down,
            "up_block_types": [name.replace("Down", "Up") for name in reversed(down)],
            "add_attention": self.attention,
            "norm_num_groups": self.norm_groups,
            "attention_head_dim": None,  # one head over all channels
            "num_class_embeds": self.num_classes or None,
        }

    def scheduler_config(self) -> dict:
        """The training noise schedule (DDPMScheduler's arguments; the samplers read the same)."""
        return {"num_train_timesteps": self.train_timesteps, "beta_schedule": self.beta_schedule,
                "prediction_type": "epsilon", "clip_sample": True}


def _as_config(config: DDPMConfig | dict) -> DDPMConfig:
    if isinstance(config, DDPMConfig):
        return config
    return DDPMConfig(**{k: v for k, v in config.items() if k in DDPMConfig.__dataclass_fields__})


class DDPMGenerator(LatentGenerator, nn.Module, PyTorchModelHubMixin, library_name="fashion-gan-lab",
                    tags=["diffusion", "ddpm"]):
    """Two calls: `(z [B, z_dim], labels, steps=)` samples images [B, C, H, W] in [-1, 1] from starting noise z;
    `(noisy [B, C, H, W], labels, timesteps=t [B])` is one denoiser evaluation: the predicted noise."""

    family = "ddpm"

    def __init__(self, config: DDPMConfig):
        super().__init__()
        from diffusers import UNet2DModel

        self.config = config = _as_config(config)
        unet = UNet2DModel(**config.unet_config())
        # The UNet's layers are this module's own (the same objects), so the state dict is diffusers' key for key;
        # the UNet itself is kept unregistered, to run them. UNet2DModel has no tensors outside its children.
        object.__setattr__(self, "_unet", unet)
        for name, child in unet.named_children():
            self.add_module(name, child)

    @property
    def unet(self) -> nn.Module:
        return self._unet

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, steps: int | None = None,
                timesteps: torch.Tensor | None = None) -> torch.Tensor:
        if timesteps is not None:
            return self.denoise(x, timesteps, labels)
        return self.sample(x, labels, steps)

    def denoise(self, noisy: torch.Tensor, timesteps: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted noise [B, C, H, W] of images noised to `timesteps` [B] (ints in [0, train_timesteps))."""
        if self.config.num_classes and labels is None:
            raise ValueError("this diffusion model is class-conditional: pass labels")
        return self._unet(noisy, timesteps, class_labels=labels if self.config.num_classes else None).sample

    def noise_schedule(self):
        """The training schedule (diffusers' DDPMScheduler): `add_noise` makes the denoiser's inputs."""
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.config.scheduler_config())

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None, steps: int | None = None) -> torch.Tensor:
        """Images [B, C, H, W] in [-1, 1] denoised from z ([B, z_dim] or [B, C, H, W] standard normal) in `steps`
        sampler steps (default: config.sampling_steps). The same z gives the same images (see `trajectory_noise`)."""
        return denoising_loop(self.denoise, self.config, z, labels, steps)


def sampler(config: DDPMConfig, steps: int):
    """The fast sampler of `config.sampler` over the training schedule, set to `steps` steps."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    steps = int(steps)
    if not 1 <= steps <= config.train_timesteps:
        raise ValueError(f"sampling steps must be between 1 and {config.train_timesteps}, got {steps}")
    if config.sampler == "ddim":
        scheduler = DDIMScheduler(**config.scheduler_config(), timestep_spacing="trailing")
    else:
        scheduler = DPMSolverMultistepScheduler(
            num_train_timesteps=config.train_timesteps, beta_schedule=config.beta_schedule, solver_order=2,
            algorithm_type="sde-dpmsolver++" if config.eta else "dpmsolver++", timestep_spacing="trailing",
            final_sigmas_type="zero", thresholding=True, sample_max_value=1.0)
    scheduler.set_timesteps(steps)
    return scheduler


def trajectory_noise(z: torch.Tensor):
    """A function giving, call after call, the fresh noise [B, ...] of a stochastic sampler's next step: drawn on
    the CPU from one generator per image, seeded by that image's starting noise (so it depends on z_i alone)."""
    rows = z.detach().float().cpu().reshape(len(z), -1)
    seeds = [int.from_bytes(hashlib.blake2b(row.numpy().tobytes(), digest_size=8).digest(), "little") >> 1 for row in rows]
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def draw(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device)

    return draw


def denoising_loop(denoise, config: DDPMConfig, z: torch.Tensor, labels: torch.Tensor | None = None,
                   steps: int | None = None) -> torch.Tensor:
    """The sampler run from starting noise z with `denoise(noisy, timesteps, labels) -> noise` (the U-Net in torch,
    or its ONNX graph): images [B, C, H, W] in [-1, 1]."""
    c, s = config.channels, config.image_size
    x = z.reshape(len(z), c, s, s)
    scheduler = sampler(config, steps or config.sampling_steps)
    noise = trajectory_noise(z) if config.eta else None
    for t in scheduler.timesteps:
        t_batch = torch.full((len(x),), int(t), device=x.device, dtype=torch.long)
        predicted = denoise(x, t_batch, labels)
        fresh = noise((c, s, s), x.device) if noise is not None else None
        if config.sampler == "ddim":
            x = scheduler.step(predicted, t, x, eta=config.eta, variance_noise=fresh).prev_sample
        else:
            x = scheduler.step(predicted, t, x, variance_noise=fresh).prev_sample
    return x.clamp(-1, 1)


# ---------------------------------------------------------------------- ONNX: the denoiser step, sampled around it


class DenoiserGraph(nn.Module):
    """What model.onnx computes for a diffusion model: one denoiser evaluation (the sampler loop stays in Python,
    so one file serves every number of steps)."""

    def __init__(self, network: DDPMGenerator):
        super().__init__()
        self.network = network

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.network.denoise(noisy, timesteps, labels[0] if labels else None)


def denoiser_graph(network: DDPMGenerator, family: ModelFamily):
    from core.onnx import Graph, Port

    config = network.config
    inputs = [Port("noisy", (config.channels, config.image_size, config.image_size)), Port("timesteps", (), "int64")]
    if config.num_classes:
        inputs.append(Port("labels", (), "int64"))
    return Graph(tuple(inputs), ("noise",), DenoiserGraph(network))


@functools.cache
def onnx_export():
    """The diffusion model's ONNX export: the denoiser graph, and a runtime that runs the sampler around it."""
    from core.onnx import OnnxExport, OnnxNetwork

    class OnnxDDPMGenerator(LatentGenerator, OnnxNetwork):
        """A diffusion model served by onnxruntime: the same sampler as `DDPMGenerator.sample`, each denoiser
        evaluation a run of model.onnx."""

        def denoise(self, noisy: torch.Tensor, timesteps: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            feeds = {"noisy": noisy, "timesteps": timesteps}
            if "labels" in self.ports:
                if labels is None:
                    raise ValueError("this diffusion model is class-conditional: pass labels")
                feeds["labels"] = labels
            return self.run(**feeds)[0]

        def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, steps: int | None = None,
                    timesteps: torch.Tensor | None = None) -> torch.Tensor:
            if timesteps is not None:
                return self.denoise(x, timesteps, labels)
            return denoising_loop(self.denoise, self.config, x, labels, steps)

    return OnnxExport(denoiser_graph, OnnxDDPMGenerator)


def write_diffusers_files(folder: str | Path) -> None:
    """Make an exported ddpm folder (config.json + model.safetensors) load with diffusers too: model_index.json
    (a DDPMPipeline), unet/config.json with unet/diffusion_pytorch_model.safetensors linking to the folder's
    weights (stored once), and scheduler/scheduler_config.json (the training schedule, DDPMScheduler)."""
    import diffusers
    from diffusers import DDPMScheduler, UNet2DModel

    from core.hub import WEIGHTS_FILE, read_config

    folder = Path(folder)
    config = _as_config(read_config(folder))
    UNet2DModel(**config.unet_config()).save_config(folder / "unet")
    link = folder / "unet" / "diffusion_pytorch_model.safetensors"
    link.unlink(missing_ok=True)
    os.symlink(Path("..") / WEIGHTS_FILE, link)
    DDPMScheduler(**config.scheduler_config()).save_config(folder / "scheduler")
    index = {"_class_name": "DDPMPipeline", "_diffusers_version": diffusers.__version__,
             "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", "UNet2DModel"]}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


register_family(
    ModelFamily(
        name="ddpm",
        config_class=DDPMConfig,
        networks={"generator": DDPMGenerator},
        objective="diffusion",
        accepts=frozenset({"labels", "steps"}),
        exporters=(write_diffusers_files,),
        onnx_export=onnx_export,
        title="DDPM",
        paper="Ho et al. (2020)",
        # the EMA of every diffusion recipe (their samples are drawn from the average, as in the paper)
        defaults={"ema_decay": 0.999, "betas": (0.9, 0.999), "bn_recalibration": 0},
    )
)
