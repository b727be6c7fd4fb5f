"""One API to load any exported generator and sample from it.

    pipe = GeneratorPipeline.from_pretrained("pretrained/dcgan-fashion-mnist")  # or a Hub repo id
    images = pipe.sample(16, seed=0, labels="Sneaker")  # [16, 28, 28, 1] uint8

The CLI, the Spaces and the benchmarks all go through this module. Latents
are drawn on the CPU from a local generator seeded with `seed`, so a seed
gives the same images on every device and never touches the global RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import UserError
from core.hub import read_config
from core.images import to_uint8
from core.models import MODELS
from core.paths import PRETRAINED_DIR

LabelSpec = int | str | Sequence[int | str] | None


class GeneratorPipeline:
    """A loaded generator plus seeding, label handling and uint8 conversion."""

    def __init__(self, generator: nn.Module, source: str = "", device: str | torch.device | None = None):
        self.device = torch.device(device) if device else default_device()
        self.generator = generator.eval().requires_grad_(False).to(self.device)
        self.source = source
        config = generator.config
        self.z_dim: int = config.z_dim
        self.num_classes: int = config.num_classes
        self.class_names: list[str] = list(config.class_names) or [str(i) for i in range(config.num_classes)]
        self.image_size: int = config.image_size
        self.channels: int = config.channels

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device | None = None) -> GeneratorPipeline:
        """Load from a local folder, or download a Hub repo id (`user/name`)."""
        folder = resolve_source(source)
        config = read_config(folder)
        family = MODELS.get(config.get("family", "<missing>"))
        generator = family.generator_class.from_pretrained(str(folder), strict=True, map_location="cpu")
        return cls(generator, str(source), device)

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else "generator"

    # ------------------------------------------------------------------ inputs

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """[n, z_dim] standard-normal latents, identical for a seed on every device."""
        rng = torch.Generator().manual_seed(int(seed))
        return torch.randn(n, self.z_dim, generator=rng)

    def labels(self, labels: LabelSpec, n: int) -> torch.Tensor | None:
        """Class ids [n] from an id, a class name, or one per image; None cycles through the classes."""
        if not self.num_classes:
            if labels is not None and labels != []:
                raise UserError(f"{self.name} is unconditional: it takes no class labels")
            return None
        if labels is None:
            return torch.arange(n) % self.num_classes
        items = [labels] * n if isinstance(labels, (int, str)) else list(labels)
        if len(items) != n:
            raise UserError(f"got {len(items)} labels for {n} images")
        return torch.tensor([self.class_index(item) for item in items])

    def class_index(self, label: int | str) -> int:
        if isinstance(label, str) and label.strip().lstrip("-").isdigit():
            label = int(label)
        if isinstance(label, int):
            if not 0 <= label < self.num_classes:
                raise UserError(f"class id {label} is out of range 0..{self.num_classes - 1}")
            return label
        lowered = [c.lower() for c in self.class_names]
        if label.lower() not in lowered:
            raise UserError(f"unknown class {label!r}; known: {', '.join(self.class_names)}")
        return lowered.index(label.lower())

    # ------------------------------------------------------------------ sampling

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 256) -> np.ndarray:
        """Images [N, H, W, C] uint8 for latents z [N, z_dim] (and class ids [N])."""
        chunks = []
        for start in range(0, len(z), batch_size):
            z_chunk = z[start : start + batch_size].to(self.device)
            label_chunk = None if labels is None else labels[start : start + batch_size].to(self.device)
            chunks.append(to_uint8(self.generator(z_chunk, label_chunk)))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.image_size, self.image_size, self.channels), np.uint8)

    def sample(self, n: int, seed: int = 0, labels: LabelSpec = None) -> np.ndarray:
        """`n` images [n, H, W, C] uint8 for `seed`; labels: class id(s) or name(s), default cycles classes."""
        if n < 1:
            raise UserError(f"number of images must be at least 1, got {n}")
        return self.generate(self.latents(n, seed), self.labels(labels, n))

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, label: int | str | None = None) -> np.ndarray:
        """A latent walk [steps, H, W, C] uint8 from seed_a's latent to seed_b's (spherical interpolation)."""
        if steps < 2:
            raise UserError("an interpolation needs at least 2 steps")
        z = slerp(self.latents(1, seed_a)[0], self.latents(1, seed_b)[0], torch.linspace(0, 1, steps))
        labels = self.labels(label if label is not None else 0, steps) if self.num_classes else None
        return self.generate(z, labels)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a, b [D] at fractions t [T] -> [T, D].

    Gaussian latents live near a sphere; a straight line would pass through
    low-norm latents the generator rarely saw.
    """
    omega = torch.arccos((a / a.norm()).dot(b / b.norm()).clamp(-1, 1))
    if omega.abs() < 1e-6:
        return a + t[:, None] * (b - a)
    return (torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b) / torch.sin(omega)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_source(source: str | Path) -> Path:
    """A local model folder for `source`: the folder itself, a name in pretrained/, or a Hub download."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if (PRETRAINED_DIR / str(source)).is_dir():
        return PRETRAINED_DIR / str(source)
    if str(source).count("/") != 1 or path.suffix:
        raise UserError(f"model {str(source)!r} not found: give a model folder, a name in {PRETRAINED_DIR}, or a Hub repo id")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=str(source)))
    except Exception as err:  # noqa: BLE001 - any failure here means "could not fetch", said in one line
        raise UserError(
            f"could not load {source!r}: it is not a local folder and the Hub could not provide it "
            f"({err.__class__.__name__}; offline runs need a local folder or a cached download)"
        ) from None


def list_models(root: str | Path = PRETRAINED_DIR, family: str | None = None) -> list[str]:
    """Names of the exported models under `root`, optionally of one family."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = []
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        if family is None or read_config(folder).get("family") == family:
            names.append(folder.name)
    return names


@lru_cache(maxsize=8)
def load_cached(source: str, device: str | None = None) -> GeneratorPipeline:
    """`from_pretrained` with a small cache, for apps that switch between models."""
    return GeneratorPipeline.from_pretrained(source, device)
