"""One API to load any exported model and use it: generators sample, classifiers predict, translators translate.

    pipe = GeneratorPipeline.from_pretrained("pretrained/dcgan-fashion-mnist")  # or a Hub repo id
    images = pipe.sample(16, seed=0, labels="Sneaker")  # [16, 28, 28, 1] uint8

    clf = ClassifierPipeline.from_pretrained("pretrained/classifier-conv-fashion-mnist")
    probs = clf.predict_proba(images)  # [16, 10]; features(images) gives embeddings for FID/KID

    tr = TranslatorPipeline.from_pretrained("pretrained/stargan-clothing-64")
    dresses = tr.translate(["photo.jpg"], target="dress")  # [1, 64, 64, 3] uint8; any size or mode in

The CLI, the Spaces and the benchmarks all go through this module. Latents
(and infoGAN's codes) are drawn on the CPU from a local generator seeded with
`seed`, so a seed gives the same images on every device and never touches the
global RNG. What a generator takes besides z is what its family declares
(`ModelFamily.accepts`): class labels, latent codes, or parts (COCO-GAN).
`from_pretrained(..., backend="onnx")` (default `$BACKEND`, else torch) serves the model.onnx beside the
weights through onnxruntime instead, behind the same calls (`core.onnx`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import UserError
from core.hub import CONFIG_FILE, family_of, read_config, read_weights
from core.images import to_uint8
from core.models import MODELS, ModelFamily
from core.onnx import load_onnx, resolve_backend
from core.paths import PRETRAINED_DIR
from core.validation import check_seed, whole_number

LabelSpec = int | str | Sequence[int | str] | None
MAX_CODE = 3.0  # how far past the training range [-1, 1] a continuous code may be pushed
# infoGAN codes: {"categorical": value (int), "continuous": [values in about [-2, 2]]}; a part left out is drawn
CodeSpec = dict | None
MAX_IMAGES = 4096  # images in one call of a pipeline


class GeneratorPipeline:
    """A loaded generator plus seeding, label and code handling and uint8 conversion."""

    def __init__(self, generator: nn.Module, source: str = "", device: str | torch.device | None = None):
        self.device = resolve_device(device)
        self.generator = generator.eval().requires_grad_(False).to(self.device)
        self.source = source
        self.family: ModelFamily = network_family(generator)
        config = generator.config
        self.z_dim: int = generator.z_dim
        self.num_classes: int = config.num_classes if "labels" in self.family.accepts else 0
        self.class_names: list[str] = list(config.class_names) or [str(i) for i in range(self.num_classes)]
        self.image_size: int = generator.output_size
        self.channels: int = config.channels
        takes_codes = "codes" in self.family.accepts
        self.categorical_codes: int = getattr(config, "categorical_codes", 0) if takes_codes else 0
        self.continuous_codes: int = getattr(config, "continuous_codes", 0) if takes_codes else 0
        # a diffusion model: how many sampler steps an image costs, by default (`steps` of sample and generate)
        self.sampling_steps: int = config.sampling_steps if self.takes_steps else 0

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device | None = None,
                        backend: str | None = None) -> GeneratorPipeline:
        """Load from a local folder, or download a Hub repo id (`user/name`); `backend`: see `load_network`
        (default `$BACKEND`, else torch)."""
        backend = resolve_backend(backend)
        return cls(load_network(source, "generator", backend), str(source), backend_device(backend, device))

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else "generator"

    @property
    def code_dim(self) -> int:
        return self.categorical_codes + self.continuous_codes

    @property
    def takes_steps(self) -> bool:
        """Whether images are drawn in sampler steps (a diffusion model), so that `steps` trades speed for quality."""
        return "steps" in self.family.accepts

    def check_steps(self, steps: int | None) -> int | None:
        """`steps` validated for this generator: None (the default) or 1 .. the training schedule's length."""
        if steps is None:
            return None
        if not self.takes_steps:
            raise UserError(f"{self.name} draws an image in one pass: only diffusion models take sampling steps")
        return whole_number(steps, "sampling steps", 1, self.generator.config.train_timesteps)

    def use_steps(self, steps: int | None) -> int | None:
        """Make `steps` the default of every later call (benchmarks fix them once per scenario; None keeps the
        default). Returns what an image now costs in sampler steps: None for a GAN (given steps, the one-line error)."""
        steps = self.check_steps(steps)
        if not self.takes_steps:
            return None
        self.sampling_steps = steps or self.sampling_steps
        return self.sampling_steps

    # ------------------------------------------------------------------ inputs

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """[n, z_dim] standard-normal latents, identical for a seed on every device."""
        rng = torch.Generator().manual_seed(check_seed(seed))
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

    def codes(self, spec: CodeSpec, n: int, seed: int = 0) -> torch.Tensor | None:
        """infoGAN codes [n, code_dim] for `spec`; what it leaves out is drawn from the prior with `seed`.

        `spec`: {"categorical": value or [n values], "continuous": [one value per code] or [n rows]}.
        None for a generator without codes (and then `spec` must be empty).
        """
        if not self.code_dim:
            if spec:
                raise UserError(f"{self.name} takes no latent codes (only infoGAN models do)")
            return None
        from core.models.infogan import make_codes

        spec = dict(spec or {})
        unknown = sorted(set(spec) - {"categorical", "continuous"})
        if unknown:
            raise UserError(f"unknown code kind(s) {unknown}; an infoGAN takes 'categorical' and 'continuous'")
        # Drawn from a stream of their own, so fixing one code never changes the others' draw, nor z.
        prior = self.draw_codes(n, torch.Generator().manual_seed(check_seed(seed) + 1))
        categorical = prior[:, : self.categorical_codes].argmax(1) if self.categorical_codes else None
        continuous = prior[:, self.categorical_codes :]
        if spec.get("categorical") is not None:
            if not self.categorical_codes:
                raise UserError(f"{self.name} has no categorical code (its class label plays that role: pass labels)")
            categorical = self._categorical(spec["categorical"], n)
        if spec.get("continuous") is not None:
            continuous = self._continuous(spec["continuous"], n)
        return make_codes(self.generator.config, categorical, continuous)

    def draw_codes(self, n: int, rng: torch.Generator) -> torch.Tensor | None:
        """Codes [n, code_dim] from their training prior, drawn with `rng` (None without codes)."""
        if not self.code_dim:
            return None
        from core.models.infogan import sample_codes

        return sample_codes(self.generator.config, n, rng)

    def _categorical(self, value, n: int) -> torch.Tensor:
        values = torch.as_tensor(value if isinstance(value, (list, tuple)) else [value] * n)
        if values.shape != (n,) or values.dtype not in (torch.int32, torch.int64):
            raise UserError(f"a categorical code is one whole number (or one per image), got {value!r}")
        if not ((values >= 0) & (values < self.categorical_codes)).all():
            raise UserError(f"categorical code values are 0..{self.categorical_codes - 1}, got {value!r}")
        return values.long()

    def _continuous(self, value, n: int) -> torch.Tensor:
        values = continuous_values(value)
        if values.dim() == 1:
            values = values.expand(n, -1)
        if values.shape != (n, self.continuous_codes):
            raise UserError(f"give {self.continuous_codes} continuous code value(s) (or one row per image), got {value!r}")
        return values

    # ------------------------------------------------------------------ sampling

    def images_tensor(self, z: torch.Tensor, labels: torch.Tensor | None = None, codes: torch.Tensor | None = None,
                      steps: int | None = None) -> torch.Tensor:
        """uint8 images [N, C, H, W] on the pipeline's device for inputs already on it (one forward pass; a diffusion
        model: `steps` sampler steps, default its own)."""
        kwargs = {"codes": codes} if self.code_dim else {}
        if self.takes_steps:
            kwargs["steps"] = self.check_steps(steps) or self.sampling_steps
        elif steps is not None:
            self.check_steps(steps)  # the one-line error
        images = self.generator(z, labels, **kwargs)
        return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, codes: torch.Tensor | None = None,
                 batch_size: int = 256, steps: int | None = None) -> np.ndarray:
        """Images [N, H, W, C] uint8 for latents z [N, z_dim] (and class ids [N], codes [N, code_dim]; a diffusion
        model: `steps` sampler steps)."""
        steps = self.check_steps(steps)
        chunks = []
        for start in range(0, len(z), batch_size):
            part = slice(start, start + batch_size)
            on_device = [None if t is None else t[part].to(self.device) for t in (z, labels, codes)]
            chunks.append(self.images_tensor(*on_device, steps=steps).permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, self.image_size, self.image_size, self.channels), np.uint8)

    def sample(self, n: int, seed: int = 0, labels: LabelSpec = None, codes: CodeSpec = None,
               steps: int | None = None) -> np.ndarray:
        """`n` images [n, H, W, C] uint8 for `seed`; labels: class id(s) or name(s), default cycles classes;
        codes (infoGAN): see `codes`, default drawn from the prior; steps (diffusion): sampler steps, default
        `sampling_steps`."""
        n = whole_number(n, "number of images", 1, MAX_IMAGES)
        return self.generate(self.latents(n, seed), self.labels(labels, n), self.codes(codes, n, seed), steps=steps)

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, label: int | str | None = None,
                    sampling_steps: int | None = None) -> np.ndarray:
        """A latent walk [steps, H, W, C] uint8 from seed_a's latent to seed_b's (spherical interpolation; a
        diffusion model walks its starting noise, each image drawn in `sampling_steps`)."""
        steps = whole_number(steps, "interpolation steps", 2, MAX_IMAGES)
        z = slerp(self.latents(1, seed_a)[0], self.latents(1, seed_b)[0], torch.linspace(0, 1, steps))
        labels = self.labels(label if label is not None else 0, steps) if self.num_classes else None
        return self.generate(z, labels, self.codes(None, 1, seed_a).expand(steps, -1) if self.code_dim else None,
                             steps=sampling_steps)

    def traverse(self, seed: int, code: int, values: Sequence[float], label: int | str | None = None,
                 codes: CodeSpec = None) -> np.ndarray:
        """infoGAN: images [len(values), H, W, C] uint8 of one z (and class) with continuous code `code` set to
        each of `values` in turn, the other codes fixed (from `codes`, else drawn for `seed`)."""
        if not self.continuous_codes:
            raise UserError(f"{self.name} has no continuous codes to traverse")
        if not 0 <= code < self.continuous_codes:
            raise UserError(f"continuous code {code} is out of range 0..{self.continuous_codes - 1}")
        n = len(values)
        if n < 1:
            raise UserError("a traversal needs at least one value")
        walked = self.codes(codes, 1, seed).repeat(n, 1)
        walked[:, self.categorical_codes + code] = continuous_values(list(values))
        z = self.latents(1, seed).expand(n, -1)
        labels = self.labels(label if label is not None else 0, n) if self.num_classes else None
        return self.generate(z, labels, walked)

    # ------------------------------------------------------------------ generation by parts (COCO-GAN)

    @property
    def is_patch_based(self) -> bool:
        """Whether the generator draws images by parts (COCO-GAN): `part`, `beyond`, `complete` work."""
        return "parts" in self.family.accepts

    def _patch_config(self):
        if not self.is_patch_based:
            raise UserError(f"{self.name} draws whole images; parts, beyond-boundary and patch-guided generation "
                            "need a patch-based generator (COCO-GAN)")
        return self.generator.config

    @property
    def grid(self) -> int:
        """Micro patches per side of a training-size image."""
        return self._patch_config().grid

    @torch.inference_mode()
    def beyond(self, n: int, seed: int = 0, extra: int = 1) -> np.ndarray:
        """`n` images [n, S, S, C] uint8 with `extra` micro patches beyond each border: S = (grid + 2 extra) * micro px.

        The centre (the training-size image) is exactly what `sample` draws for the same seed.
        """
        self._patch_config()
        if n < 1:
            raise UserError(f"number of images must be at least 1, got {n}")
        if not 0 <= extra <= 8:
            raise UserError(f"extra micro patches per border must be between 0 and 8, got {extra}")
        return to_uint8(self.generator(self.latents(n, seed).to(self.device), extra=extra))

    @torch.inference_mode()
    def part(self, seed: int, row: int, col: int, extra: int = 0) -> np.ndarray:
        """Micro patch (row, col) alone [m, m, C] uint8 of the image `sample(1, seed)` draws (or of `beyond(..., extra)`)."""
        from core.models.cocogan import micro_coordinates

        config = self._patch_config()
        side = config.grid + 2 * extra
        if not (0 <= row < side and 0 <= col < side):
            raise UserError(f"cell ({row}, {col}) is outside the {side} x {side} grid of micro patches")
        coords = micro_coordinates(config, extra, self.device)[row * side + col][None]
        return to_uint8(self.generator(self.latents(1, seed).to(self.device), coords=coords))[0]

    def with_part(self, seed: int, row: int, col: int, part_seed: int, extra: int = 0) -> np.ndarray:
        """The image of `seed` [S, S, C] uint8 with micro patch (row, col) redrawn from `part_seed`'s latent."""
        image = self.beyond(1, seed, extra)[0]
        m = self._patch_config().micro_size
        image[row * m : (row + 1) * m, col * m : (col + 1) * m] = self.part(part_seed, row, col, extra)
        return image

    @torch.inference_mode()
    def complete(self, image: np.ndarray, row: int, col: int, extra: int = 0) -> np.ndarray:
        """Patch-guided generation: the macro patch of `image` [H, W, C] uint8 (training size) whose top-left
        micro patch is (row, col) -> Q recovers a latent -> a whole image [S, S, C] uint8 drawn from it."""
        from core.models.cocogan import macro_offsets

        config = self._patch_config()
        image = np.asarray(image)
        expected = (config.image_size, config.image_size, config.channels)
        if image.shape != expected or image.dtype != np.uint8:
            raise UserError(f"the guiding image must be uint8 {expected}, got {image.dtype} {image.shape}")
        offsets = macro_offsets(config)
        if not (0 <= row < offsets and 0 <= col < offsets):
            raise UserError(f"a macro patch's top-left cell must be within 0..{offsets - 1}, got ({row}, {col})")
        m, size = config.micro_size, config.macro_size
        patch = torch.from_numpy(image[row * m : row * m + size, col * m : col * m + size].copy())
        patch = patch.permute(2, 0, 1)[None].float().div(127.5).sub(1).to(self.device)  # [1, C, M, M] in [-1, 1]
        z = self.generator.recover_latent(patch)
        return to_uint8(self.generator(z, extra=extra))[0]


def continuous_values(value) -> torch.Tensor:
    """infoGAN continuous code values as a float tensor: finite, within +-MAX_CODE; else a UserError."""
    try:
        values = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise UserError(f"continuous codes are numbers, got {value!r}") from None
    if not torch.isfinite(values).all() or values.dim() > 2:
        raise UserError(f"continuous codes are finite numbers, got {value!r}")
    if values.numel() and values.abs().max() > MAX_CODE:
        raise UserError(f"continuous codes were trained in [-1, 1]; keep them within +-{MAX_CODE:g}, got {value!r}")
    return values


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a, b [D] at fractions t [T] -> [T, D].

    Gaussian latents live near a sphere; a straight line would pass through
    low-norm latents the generator rarely saw.
    """
    omega = torch.arccos((a / a.norm()).dot(b / b.norm()).clamp(-1, 1))
    if omega.abs() < 1e-6:
        return a + t[:, None] * (b - a)
    return (torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b) / torch.sin(omega)


class ClassifierPipeline:
    """A loaded classifier: images in (uint8 or [0, 1] floats, any batch layout), probabilities or features out."""

    def __init__(self, classifier: nn.Module, source: str = "", device: str | torch.device | None = None):
        self.device = resolve_device(device)
        self.classifier = classifier.eval().requires_grad_(False).to(self.device)
        self.source = source
        config = classifier.config
        self.num_classes: int = config.num_classes
        self.class_names: list[str] = list(config.class_names) or [str(i) for i in range(config.num_classes)]
        self.image_size: int = config.image_size
        self.channels: int = config.channels
        self.feature_dim: int = classifier.feature_dim

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device | None = None,
                        backend: str | None = None) -> ClassifierPipeline:
        """Load from a local folder, a name in pretrained/, or a Hub repo id (`user/name`); `backend`: see
        `load_network` (default `$BACKEND`, else torch)."""
        backend = resolve_backend(backend)
        return cls(load_network(source, "classifier", backend), str(source), backend_device(backend, device))

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else "classifier"

    def to_tensor(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Float images [N, C, H, W] in [0, 1] on the CPU.

        Accepts uint8 (NHWC numpy, as `GeneratorPipeline.sample` returns, or NCHW tensors)
        and floats already in [0, 1] (NCHW).
        """
        x = torch.as_tensor(np.asarray(images) if isinstance(images, np.ndarray) else images)
        if x.dim() == 3:  # a single image, HWC or CHW
            x = x.unsqueeze(0)
        if x.dim() != 4:
            raise UserError(f"expected a batch of images [N, H, W, C] or [N, C, H, W], got shape {tuple(x.shape)}")
        if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
            x = x.permute(0, 3, 1, 2)
        if x.dtype == torch.uint8:
            x = x.float() / 255
        elif not x.is_floating_point():
            raise UserError(f"images must be uint8 or floats in [0, 1], got {x.dtype}")
        if tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise UserError(
                f"{self.name} takes {self.channels}x{self.image_size}x{self.image_size} images, got {tuple(x.shape[1:])}"
            )
        return x.float().cpu()

    @torch.inference_mode()
    def _map(self, fn, images: np.ndarray | torch.Tensor, batch_size: int) -> torch.Tensor:
        x = self.to_tensor(images)
        chunks = [fn(x[start : start + batch_size].to(self.device)).float().cpu() for start in range(0, len(x), batch_size)]
        return torch.cat(chunks) if chunks else torch.zeros(0)

    def logits(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Logits [N, num_classes] on the CPU."""
        return self._map(self.classifier, images, batch_size)

    def predict_proba(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
        """Class probabilities [N, num_classes]."""
        return self.logits(images, batch_size).softmax(dim=1).numpy()

    def predict(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
        """Class ids [N]."""
        return self.logits(images, batch_size).argmax(dim=1).numpy()

    def features(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Penultimate-layer embeddings [N, feature_dim] on the CPU (the FID/KID domain features)."""
        return self._map(self.classifier.features, images, batch_size)

    def accuracy(self, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, batch_size: int = 512) -> float:
        labels = torch.as_tensor(np.asarray(labels)).long()
        return float((torch.as_tensor(self.predict(images, batch_size)) == labels).float().mean())


ImageInput = "np.ndarray | Image.Image | str | Path | bytes"  # one image: an array, a PIL image, a file or its bytes


class TranslatorPipeline:
    """A loaded image-to-image translator: photos of any size and mode in, uint8 images out.

    Inputs are converted as the training data were (RGB, transparency over white, the shorter side resized
    and the centre square cropped, `core.data.folder.square`), then, for a paired model, transformed into
    what it was trained to take (its grayscale, edges or mask: `core.data.transforms`). `target` names the
    domain of the output (StarGAN: a class; CycleGAN and MUNIT: one of the two domains); MUNIT draws a style
    per output from `seed`, so one input gives many outputs.
    """

    def __init__(self, translator: nn.Module, source: str = "", device: str | torch.device | None = None):
        self.device = resolve_device(device)
        self.translator = translator.eval().requires_grad_(False).to(self.device)
        self.source = source
        self.family: ModelFamily = network_family(translator)
        config = translator.config
        self.image_size: int = config.image_size
        self.in_channels: int = config.in_channels
        self.channels: int = config.channels
        self.mode: str = config.mode  # paired | unpaired | domains | attributes
        self.input_transform: str = config.source  # paired: grayscale | edges | mask
        self.targets: list[str] = config.targets
        self.style_dim: int = translator.style_dim

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device | None = None,
                        backend: str | None = None) -> TranslatorPipeline:
        """Load from a local folder, a name in pretrained/, or a Hub repo id (`user/name`); `backend`: see
        `load_network` (default `$BACKEND`, else torch)."""
        backend = resolve_backend(backend)
        return cls(load_network(source, "translator", backend), str(source), backend_device(backend, device))

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else "translator"

    # ------------------------------------------------------------------ inputs

    def photos(self, images: ImageInput | Sequence[ImageInput]) -> np.ndarray:
        """The inputs as the data were made: uint8 [N, S, S, 3] at the model's size.

        `images`: one image or a list; each an array ([H, W], [H, W, 1 | 3 | 4] uint8, or an NHWC batch), a PIL
        image, a file path or the file's bytes. Unreadable, empty or huge uploads are a one-line UserError.
        """
        if isinstance(images, np.ndarray) and images.ndim == 4:
            items: list = list(images)
        elif isinstance(images, (list, tuple)):
            items = list(images)
        else:
            items = [images]
        if not items:
            raise UserError("no images to translate")
        if len(items) > MAX_IMAGES:
            raise UserError(f"at most {MAX_IMAGES} images per call, got {len(items)}")
        out = np.empty((len(items), self.image_size, self.image_size, 3), np.uint8)
        for i, item in enumerate(items):
            out[i] = data_photo(item, self.image_size)
        return out

    def input_tensor(self, photos: np.ndarray) -> torch.Tensor:
        """What the network takes for photos uint8 [N, S, S, 3]: floats [N, in_channels, S, S] in [-1, 1]."""
        from core.data.transforms import source_of

        x = torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 127.5 - 1
        if self.input_transform:
            return source_of(self.input_transform, x)
        return x if self.in_channels == 3 else x.mean(1, keepdim=True)

    def model_input(self, images: ImageInput | Sequence[ImageInput]) -> np.ndarray:
        """What the translator sees for `images`, uint8 [N, S, S, in_channels]: the photos, or their edges, mask or
        grayscale for a paired model (the Spaces preview it)."""
        return to_uint8(self.input_tensor(self.photos(images)))

    def target_ids(self, target: int | str | Sequence[int | str] | None, n: int) -> torch.Tensor | None:
        """Domain ids [n] for `target` (a name or an index, or one per image). Paired models take none; CycleGAN
        and MUNIT default to the second domain; StarGAN needs one."""
        if not self.targets:
            if target not in (None, "", []):
                raise UserError(f"{self.name} translates {self.input_transform or 'its input'} to a photo: it takes no target")
            return None
        if target is None or target == "":
            if self.mode in ("domains", "attributes"):
                raise UserError(f"{self.name} translates to any of its classes: choose a target ({', '.join(self.targets)})")
            return torch.ones(n, dtype=torch.long)
        items = [target] * n if isinstance(target, (int, str)) else list(target)
        if len(items) != n:
            raise UserError(f"got {len(items)} targets for {n} images")
        return torch.tensor([self.target_index(item) for item in items], dtype=torch.long)

    def target_index(self, target: int | str) -> int:
        return lookup(self.targets, target, "target", f"{self.name} translates to")

    def styles(self, n: int, seed: int = 0) -> torch.Tensor | None:
        """MUNIT style codes [n, style_dim] from N(0, I), the same for a seed on every device; None otherwise."""
        if not self.style_dim:
            return None
        return torch.randn(n, self.style_dim, generator=torch.Generator().manual_seed(check_seed(seed)))

    # ------------------------------------------------------------------ translating

    @torch.inference_mode()
    def translate_tensor(self, x: torch.Tensor, target: torch.Tensor | None = None,
                         style: torch.Tensor | None = None, batch_size: int = 64) -> np.ndarray:
        """Network inputs x [N, in_channels, S, S] in [-1, 1] (and domain ids, styles) -> uint8 [N, S, S, C]."""
        chunks = []
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            on_device = [None if t is None else t[part].to(self.device) for t in (x, target, style)]
            chunks.append(to_uint8(self.translator.translate(*on_device)))
        return np.concatenate(chunks)

    def translate(self, images: ImageInput | Sequence[ImageInput], target: int | str | Sequence[int | str] | None = None,
                  seed: int = 0) -> np.ndarray:
        """Translated images uint8 [N, S, S, C] for `images` (one or a list, any size and mode; see `photos`)."""
        x = self.input_tensor(self.photos(images))
        return self.translate_tensor(x, self.target_ids(target, len(x)), self.styles(len(x), seed))

    # ------------------------------------------------------------------ attribute editing (Fader networks)

    @property
    def attributes(self) -> list[tuple[str, list[str]]]:
        """The attribute groups a Fader network edits, each with its values' names ([] for other translators)."""
        return list(self.translator.config.groups) if self.mode == "attributes" else []

    def attribute_code(self, x: torch.Tensor, own: Mapping[str, torch.Tensor | None],
                       to: Mapping[str, torch.Tensor | None], strength: Mapping[str, float]) -> torch.Tensor:
        """The decoder's code [N, code_dim] for network inputs x: per group (1 - s) * own + s * to, each one-hot,
        with s its `strength` (1: the target value; 0: the photo's own; between, or a little past 1, to slide).
        The colour's own value is read from the pixels when not given; the class's must be given whenever it is
        kept or slid from."""
        from core.models.fader import attribute_code

        if not self.attributes:
            raise UserError(f"{self.name} is a {self.family.title or self.family.name}, not an attribute editor "
                            "(a Fader network)")
        read = self.translator.own_values(x)
        values = {}
        for name, names in self.attributes:
            s = float(strength.get(name, 1.0))
            target, mine = to.get(name), own.get(name)
            if mine is None:
                mine = read.get(name)
            if (target is None or s != 1.0) and mine is None:
                raise UserError(f"say which {name} the photo is (one of: {', '.join(names)}) to keep or slide it")
            one_hot = torch.nn.functional.one_hot
            start = one_hot(mine.long().cpu(), len(names)).float() if mine is not None else 0
            if target is None:
                values[name] = start
            else:
                values[name] = (1 - s) * start + s * one_hot(target.long().cpu(), len(names)).float()
        return attribute_code(self.translator.config, values)

    @torch.inference_mode()
    def edit_tensor(self, x: torch.Tensor, code: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        """Network inputs x [N, C, S, S] in [-1, 1] decoded with attribute codes [N, code_dim] -> uint8 [N, S, S, C]."""
        chunks = []
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            chunks.append(to_uint8(self.translator(x[part].to(self.device), code[part].to(self.device))))
        return np.concatenate(chunks)

    def value_ids(self, group: str, value: int | str | Sequence[int | str] | None, n: int) -> torch.Tensor | None:
        """Ids [n] of `value` (a name or an index, or one per image) among the values of attribute `group`."""
        if value is None or value == "":
            return None
        names = dict(self.attributes).get(group)
        if names is None:
            raise UserError(f"{self.name} has no attribute {group!r} (it has: {', '.join(n for n, _ in self.attributes)})")
        items = [value] * n if isinstance(value, (int, str)) else list(value)
        if len(items) != n:
            raise UserError(f"got {len(items)} {group} values for {n} images")
        return torch.tensor([lookup(names, item, group, f"{self.name}'s {group} values are") for item in items], dtype=torch.long)

    def edit(self, images: ImageInput | Sequence[ImageInput], *, classes: int | str | Sequence[int | str] | None = None,
             class_to: int | str | None = None, color_to: int | str | None = None, class_strength: float = 1.0,
             color_strength: float = 1.0) -> np.ndarray:
        """Fader networks: the photos with their class and colour slid towards `class_to` and `color_to` by
        the strengths (0: unchanged, 1: the target; up to 2 to push past it). `classes`: the photos' own class
        (needed unless the class is set outright); the own colour is read from the pixels. uint8 [N, S, S, C]."""
        for name, value in (("class_strength", class_strength), ("color_strength", color_strength)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
                raise UserError(f"{name} must be a number from 0 to 2, got {value!r}")
        x = self.input_tensor(self.photos(images))
        n = len(x)
        names = dict(self.attributes) if self.mode == "attributes" else {}
        own = {"class": self.value_ids("class", classes, n)} if "class" in names else {}
        to = {group: self.value_ids(group, value, n) for group, value in (("class", class_to), ("color", color_to))
              if group in names}
        if not self.attributes:
            self.attribute_code(x, {}, {}, {})  # the one-line error
        unused = [g for g, v in (("class", class_to), ("color", color_to)) if v not in (None, "") and g not in names]
        if unused:
            raise UserError(f"{self.name} does not edit {' or '.join(unused)} (it edits: {', '.join(names)})")
        code = self.attribute_code(x, own, to, {"class": class_strength, "color": color_strength})
        return self.edit_tensor(x, code)

    def variations(self, image: ImageInput, n: int = 4, seed: int = 0, target: int | str | None = None) -> np.ndarray:
        """MUNIT: `n` translations [n, S, S, C] of one image, each with its own style drawn from `seed`."""
        if not self.style_dim:
            raise UserError(f"{self.name} gives one output per input; several styles need a MUNIT model")
        n = whole_number(n, "number of styles", 1, MAX_IMAGES)
        x = self.input_tensor(self.photos(image)).expand(n, -1, -1, -1)
        return self.translate_tensor(x, self.target_ids(target, n), self.styles(n, seed))


def lookup(names: Sequence[str], item: int | str, what: str, listing: str = "choose from") -> int:
    """The index of `item` (an index, or a name, case-insensitive) among `names`; else a one-line UserError."""
    if isinstance(item, str) and item.strip().isdigit():
        item = int(item)
    if isinstance(item, int) and not isinstance(item, bool):
        if not 0 <= item < len(names):
            raise UserError(f"{what} {item} is out of range 0..{len(names) - 1}")
        return item
    lowered = [t.lower() for t in names]
    if not isinstance(item, str) or item.strip().lower() not in lowered:
        raise UserError(f"unknown {what} {item!r}; {listing}: {', '.join(names)}")
    return lowered.index(item.strip().lower())


def data_photo(item: ImageInput, image_size: int) -> np.ndarray:
    """One upload (a file path, its bytes, a PIL image, an array) as the training photos were made: RGB with
    transparency over white, the shorter side resized to `image_size` and the centre square kept; uint8
    [S, S, 3]. Unreadable, empty or huge uploads are a one-line UserError (core.images.open_image)."""
    from core.data.folder import as_rgb_image, square
    from core.images import open_image

    picture = open_image(array_image(item) if isinstance(item, np.ndarray) else item)
    return np.asarray(square(as_rgb_image(picture), image_size))


def array_image(array: np.ndarray):
    """A PIL image from an array [H, W] or [H, W, 1 | 3 | 4] (uint8, or floats in [0, 1]); else a UserError."""
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or 0 in a.shape:
        raise UserError(f"an image array must be [H, W] or [H, W, 1, 3 or 4], got shape {a.shape}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            raise UserError(f"an image array must be uint8 or finite floats in [0, 1], got {a.dtype}")
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(a)


PIPELINES = {"generator": "GeneratorPipeline", "classifier": "ClassifierPipeline", "translator": "TranslatorPipeline"}


def load_network(source: str | Path, kind: str, backend: str = "torch") -> nn.Module:
    """The exported network of `source`, which must be a `kind` ("generator", "classifier" or "translator").

    `backend` "onnx": instead of the weights, the folder's model.onnx behind the same calls (`core.onnx`; written
    by `python -m core export-onnx MODEL`), on the CPU. The default stays torch whatever `$BACKEND` says: the
    pipelines' `from_pretrained` read it, callers that need weights (training, attacks, untrained twins) do not.

    The network's `family` attribute names the family it was exported as (networks shared by
    several families of the collection do not know it by their class).
    Nothing in the folder is trusted: config.json parses into the family's typed config (types,
    ranges, the family's size limit, checked on the meta device), and the weights' names and shapes
    are checked against that config before a tensor is read. Any fault is a one-line UserError.
    """
    folder = resolve_source(source)
    config = read_config(folder)
    family = family_of(config, folder)
    if family.kind != kind:
        raise UserError(f"{source} is a {family.kind}, not a {kind}: load it with {PIPELINES[family.kind]}")
    try:
        typed = family.make_config(**{key: value for key, value in config.items() if key != "family"})
    except UserError as err:
        raise UserError(f"{folder / CONFIG_FILE}: {err}") from None
    if resolve_backend(backend) == "onnx":
        return load_onnx(folder, family, typed)
    with torch.device("meta"):
        shapes = {name: tuple(t.shape) for name, t in family.exported_class(typed).state_dict().items()}
    weights = read_weights(folder, shapes)
    network = family.exported_class(typed)
    network.load_state_dict(weights, strict=True)
    network.family = family.name
    return network


def network_family(network: nn.Module) -> ModelFamily:
    """The registered family of an exported (or freshly built) network."""
    name = getattr(network, "family", None)
    if not name:
        raise ValueError(f"{type(network).__name__} does not say its family; load it with load_network")
    return MODELS.get(name)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(name: str | torch.device | None) -> torch.device:
    """`name` ("cpu", "cuda", "cuda:1"; None: cuda if available) as a device that exists on this machine;
    anything else (an unknown name, CUDA without a GPU, a GPU index past the last) is a UserError."""
    if name is None or name == "":
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"unknown device {str(name)!r}: use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("CUDA is not available on this machine; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"there is no {device}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 ...")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise UserError("MPS is not available on this machine; use --device cpu")
    elif device.type != "cpu":
        raise UserError(f"unsupported device {str(name)!r}: use cpu, cuda or cuda:N")
    return device


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


def list_models(root: str | Path = PRETRAINED_DIR, family: str | None = None, kind: str | None = None) -> list[str]:
    """Names of the exported models under `root`, optionally of one family or one kind (generator, classifier)."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = []
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        try:
            name = read_config(folder).get("family")
        except UserError as err:  # one damaged folder must not hide the others
            warnings.warn(f"skipped {folder.name}: {err}", stacklevel=2)
            continue
        if family is not None and name != family:
            continue
        if kind is not None and (name not in MODELS or MODELS.get(name).kind != kind):
            continue
        names.append(folder.name)
    return names


def load_cached(source: str, device: str | None = None, backend: str | None = None) -> GeneratorPipeline:
    """`from_pretrained` with a small cache, for apps that switch between models."""
    return _cached(GeneratorPipeline, source, device, resolve_backend(backend))


def load_translator_cached(source: str, device: str | None = None, backend: str | None = None) -> TranslatorPipeline:
    """`TranslatorPipeline.from_pretrained` with a small cache, for apps that switch between models."""
    return _cached(TranslatorPipeline, source, device, resolve_backend(backend))


def load_classifier_cached(source: str, device: str | None = None, backend: str | None = None) -> ClassifierPipeline:
    """`ClassifierPipeline.from_pretrained` with a small cache, for apps that switch between models."""
    return _cached(ClassifierPipeline, source, device, resolve_backend(backend))


@lru_cache(maxsize=24)
def _cached(pipeline: type, source: str, device: str | None, backend: str):
    # keyed by the backend resolved now, so a changed $BACKEND never serves the other backend's pipeline
    return pipeline.from_pretrained(source, device, backend)


def backend_device(backend: str, device: str | torch.device | None) -> str | torch.device | None:
    """The device a pipeline works on: `device`; unsaid, the CPU for the onnx backend (onnxruntime's CPU execution
    provider: no copies through a GPU), else `default_device()`."""
    return device if device is not None or backend != "onnx" else "cpu"
