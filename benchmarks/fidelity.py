"""FID, KID and precision/recall of generators, computed by torch-fidelity on in-memory images.

    extractor = domain_extractor("features-fashion-mnist")        # registered with torch-fidelity
    reference = reference_features(real_train_uint8, extractor)   # [N, D], cached on disk
    candidate = generator_features(generator, extractor, n=4443, seed=0)
    scores = score(candidate, reference, kid_subsets=100)         # {"fid": ..., "kid_mean": ..., ...}

torch-fidelity does the work: its feature extraction loops (a generator is
wrapped in its `GenerativeModelModuleWrapper` and sampled batch by batch; no
folders of PNGs), its FID, KID and precision/recall functions. What this module
adds:
- **Feature extractors.** The suite's own classifiers ("domain extractors":
  their penultimate embedding) are registered in torch-fidelity's
  feature-extractor registry under their model names; they work offline and are
  the default. torch-fidelity's Inception ("inception-v3-compat", standard FID)
  works when its weights file is present (`FGL_INCEPTION_WEIGHTS`, or the torch
  hub cache where torch-fidelity downloads it).
- **Inputs.** Images go in as uint8 [B, 3, H, W], grayscale replicated to three
  channels, as torch-fidelity expects; an extractor takes what it needs back out.
- **Reference cache.** The features and FID statistics of a real split are
  stored under a hash of the images and the extractor's weights, written
  atomically as safetensors (torch-fidelity's own cache pickles, so it stays off).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
import torch_fidelity
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import (
    create_feature_extractor,
    get_featuresdict_from_dataset,
    get_featuresdict_from_generative_model,
)

from core.errors import UserError
from core.hub import CONFIG_FILE, WEIGHTS_FILE
from core.inference import GeneratorPipeline, load_network, resolve_source
from core.paths import cache_dir

# Result keys, stable across versions (they name the rows' metrics).
FID, KID_MEAN, KID_STD, PRECISION, RECALL = "fid", "kid_mean", "kid_std", "precision", "recall"
METRICS = {FID: "", KID_MEAN: "", KID_STD: "", PRECISION: "", RECALL: ""}  # metric -> unit (all unitless)
LOWER_IS_BETTER = {FID: True, KID_MEAN: True, KID_STD: True, PRECISION: False, RECALL: False}

# The offline default extractor per dataset: the suite's classifier trained on that dataset.
DOMAIN_EXTRACTORS = {"fashion-mnist": "features-fashion-mnist", "clothing": "classifier-clothing-64"}
INCEPTION = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's download, in the torch hub cache
FEATURE_LAYER = "features"


# ---------------------------------------------------------------------- extractors


class DomainExtractor(FeatureExtractorBase):
    """A suite classifier's penultimate embedding, as a torch-fidelity feature extractor.

    uint8 [B, 3, H, W] -> ("features" [B, feature_dim], "logits" [B, num_classes]).
    Images are scaled to [0, 1], averaged back to one channel for a grayscale
    classifier (exact for replicated grayscale), and resized (bilinear,
    antialiased) when their size differs from the classifier's.
    """

    source: ClassVar[str] = ""  # the classifier's folder; set per registered subclass

    def __init__(self, name: str, features_list: list[str], **kwargs) -> None:
        super().__init__(name, features_list)
        self.classifier = load_network(self.source, "classifier").eval().requires_grad_(False)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return (FEATURE_LAYER, "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "logits" if metric == "isc" else FEATURE_LAYER

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images [B, 3, H, W], got {images.dtype} {tuple(images.shape)}")
        config = self.classifier.config
        x = images.float() / 255
        if config.channels == 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != config.image_size or x.shape[-2] != config.image_size:
            x = F.interpolate(x, size=(config.image_size, config.image_size), mode="bilinear", antialias=True)
        features = self.classifier.features(x)
        out = {FEATURE_LAYER: features, "logits": self.classifier.head(features)}
        return tuple(out[name] for name in self.features_list)


class InceptionExtractor(torch_fidelity.FeatureExtractorInceptionV3):
    """torch-fidelity's Inception-v3 (standard FID) from a local weights file, never a download."""

    def __init__(self, name: str, features_list: list[str], **kwargs) -> None:
        path = inception_weights()
        if path is None:
            raise UserError(
                f"Inception weights not found: put torch-fidelity's {INCEPTION_FILE} in "
                f"{Path(torch.hub.get_dir()) / 'checkpoints'} or point FGL_INCEPTION_WEIGHTS at it "
                "(or use a domain extractor, the offline default)"
            )
        # torch-fidelity unpickles the file with weights_only=False; loading it first with
        # weights_only=True refuses anything that is not plain tensors before that happens.
        torch.load(path, map_location="cpu", weights_only=True)
        kwargs.pop("feature_extractor_weights_path", None)
        super().__init__(name, features_list, feature_extractor_weights_path=str(path), **kwargs)


def inception_weights() -> Path | None:
    """The Inception weights file, when present: `$FGL_INCEPTION_WEIGHTS` or the torch hub cache."""
    explicit = os.environ.get("FGL_INCEPTION_WEIGHTS")
    candidates = [Path(explicit).expanduser()] if explicit else []
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE)
    return next((path for path in candidates if path.is_file()), None)


def domain_extractor(source: str | Path, name: str | None = None) -> str:
    """Register the classifier at `source` as a torch-fidelity extractor; returns its registered name.

    The name defaults to the classifier's folder name. Registering a name
    again rebinds it to the new folder (cached statistics are keyed by the
    weights, never by the name); torch-fidelity's own extractors' names are refused.
    """
    folder = resolve_source(source)
    name = name or folder.name
    existing = FEATURE_EXTRACTORS_REGISTRY.get(name)
    if existing is not None and not (isinstance(existing, type) and issubclass(existing, DomainExtractor)):
        raise UserError(f"{name!r} is one of torch-fidelity's own feature extractors; pick another name")
    if existing is not None and existing.source == str(folder):
        return name
    load_network(folder, "classifier")  # fail here, with a clear message, if it is not a classifier
    FEATURE_EXTRACTORS_REGISTRY.pop(name, None)
    torch_fidelity.register_feature_extractor(name, type(f"DomainExtractor_{name}", (DomainExtractor,), {"source": str(folder)}))
    return name


def resolve_extractor(name: str) -> str:
    """A registered extractor name for `name`: "inception-v3-compat", or a classifier (folder, name, Hub id)."""
    if name == INCEPTION:
        if FEATURE_EXTRACTORS_REGISTRY.get(INCEPTION) is not InceptionExtractor:
            # Replace torch-fidelity's entry (which downloads) with the local-file one.
            FEATURE_EXTRACTORS_REGISTRY[INCEPTION] = InceptionExtractor
        if inception_weights() is None:
            InceptionExtractor(INCEPTION, ["2048"])  # raises the explanatory UserError
        return INCEPTION
    return domain_extractor(name)


def extractor_fingerprint(name: str) -> str:
    """sha256 of what determines an extractor's features: its class and its weight files."""
    digest = hashlib.sha256(name.encode())
    cls = FEATURE_EXTRACTORS_REGISTRY[name]
    if issubclass(cls, DomainExtractor):
        files = [Path(cls.source) / CONFIG_FILE, Path(cls.source) / WEIGHTS_FILE]
    elif issubclass(cls, InceptionExtractor):
        files = [inception_weights()]
    else:
        files = []
    for file in files:
        digest.update(file.read_bytes())
    digest.update(torch_fidelity.__version__.encode())
    return digest.hexdigest()


def make_extractor(name: str, device: torch.device) -> FeatureExtractorBase:
    """An instance of the registered extractor `name`, in eval mode on `device`."""
    kwargs = {"cuda": False, "verbose": False, "feature_extractor_compile": False}
    extractor = create_feature_extractor(name, [feature_layer(name)], **kwargs)
    return extractor.to(device)


def feature_layer(name: str) -> str:
    return FEATURE_EXTRACTORS_REGISTRY[name].get_default_feature_layer_for_metric("fid")


# ---------------------------------------------------------------------- inputs


class RealImages(Dataset):
    """A split in memory as torch-fidelity's input: item i is uint8 [3, H, W]."""

    def __init__(self, images: torch.Tensor):  # uint8 [N, C, H, W], C = 1 or 3
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected uint8 images [N, 1 or 3, H, W], got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index].expand(3, -1, -1)


class SampledGenerator(nn.Module):
    """z [B, z_dim] -> uint8 [B, 3, H, W] through a `GeneratorPipeline` (labels, codes, uint8 as apps get them).

    Class-conditional generators get class labels that cycle through the
    classes across the whole run (sample i has class i mod K), so every class
    is equally represented, as in the balanced real splits; infoGAN's codes are
    drawn from their prior with a generator seeded by `seed`. torch-fidelity is
    told the model is unconditional (num_classes=0) for a reason: its own
    conditional path draws labels with `np.int`, which NumPy 1.24 removed, so
    it raises AttributeError for any num_classes > 0.
    """

    def __init__(self, pipe: GeneratorPipeline, seed: int = 0):
        super().__init__()
        self.pipe = pipe
        self.drawn = 0  # samples produced so far: where the label cycle continues
        self.code_rng = torch.Generator().manual_seed(seed + 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        labels = None
        if self.pipe.num_classes:
            labels = torch.arange(self.drawn, self.drawn + len(z), device=z.device) % self.pipe.num_classes
        codes = self.pipe.draw_codes(len(z), self.code_rng)
        self.drawn += len(z)
        pixels = self.pipe.images_tensor(z, labels, None if codes is None else codes.to(z.device))
        return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


def wrap_generator(pipe: GeneratorPipeline, seed: int = 0) -> torch_fidelity.GenerativeModelModuleWrapper:
    """`pipe` as torch-fidelity's generative-model input (standard-normal z, labels cycled, codes drawn)."""
    return torch_fidelity.GenerativeModelModuleWrapper(SampledGenerator(pipe, seed), z_size=pipe.z_dim, z_type="normal",
                                                       num_classes=0)


# ---------------------------------------------------------------------- features


@torch.inference_mode()
def image_features(images: torch.Tensor, extractor: str, device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """Features [N, D] (float32, CPU) of real uint8 images [N, C, H, W]."""
    model = make_extractor(extractor, device)
    features = get_featuresdict_from_dataset(
        RealImages(images), _OnDevice(model, device), batch_size, cuda=False, save_cpu_ram=True, verbose=False
    )
    return features[feature_layer(extractor)].float()


@torch.inference_mode()
def generator_features(
    generator: GeneratorPipeline | nn.Module, extractor: str, n: int, seed: int, device: torch.device, batch_size: int = 256
) -> torch.Tensor:
    """Features [n, D] (float32, CPU) of `n` images of `generator`, latents from torch-fidelity's seeded RNG."""
    if n < 2:
        raise UserError(f"need at least 2 generated images for the metrics, got {n}")
    model = make_extractor(extractor, device)
    pipe = generator if isinstance(generator, GeneratorPipeline) else GeneratorPipeline(generator, device=device)
    wrapped = wrap_generator(pipe, seed)
    features = get_featuresdict_from_generative_model(
        _ZOnDevice(wrapped, device), _OnDevice(model, device), n, batch_size, cuda=False, rng_seed=seed, verbose=False
    )
    return features[feature_layer(extractor)].float()


class _OnDevice(FeatureExtractorBase):
    """Moves each batch to `device` first: torch-fidelity only knows "cuda" as a boolean for cuda:0."""

    def __init__(self, extractor: FeatureExtractorBase, device: torch.device):
        nn.Module.__init__(self)
        self.extractor, self.device = extractor, device
        self.name, self.features_list = extractor.name, extractor.features_list

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.extractor(images.to(self.device))


class _ZOnDevice(torch_fidelity.GenerativeModelBase):
    def __init__(self, wrapped: torch_fidelity.GenerativeModelModuleWrapper, device: torch.device):
        super().__init__()
        self.wrapped, self.device = wrapped, device

    @property
    def z_size(self) -> int:
        return self.wrapped.z_size

    @property
    def z_type(self) -> str:
        return self.wrapped.z_type

    @property
    def num_classes(self) -> int:
        return self.wrapped.num_classes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.wrapped(z.to(self.device))


# ---------------------------------------------------------------------- reference cache


@dataclass(frozen=True)
class Reference:
    """A real split's features [N, D] and FID statistics, and whether they came from the cache."""

    features: torch.Tensor
    mu: np.ndarray
    sigma: np.ndarray
    key: str
    cached: bool

    @property
    def statistics(self) -> dict[str, np.ndarray]:
        return {"mu": self.mu, "sigma": self.sigma}


def images_digest(images: torch.Tensor) -> str:
    digest = hashlib.sha256(str((tuple(images.shape), str(images.dtype))).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def reference_features(
    images: torch.Tensor,
    extractor: str,
    device: torch.device,
    batch_size: int = 256,
    cache: Path | None = None,
) -> Reference:
    """Features and FID statistics of real uint8 images [N, C, H, W], cached under a hash of both inputs.

    `cache` None means `<FGL_CACHE>/fidelity`. The key hashes the pixels and
    the extractor's weights, so new data or a retrained extractor never reuse
    stale statistics; the file is written to a temporary name and renamed.
    """
    folder = Path(cache) if cache is not None else cache_dir() / "fidelity"
    key = hashlib.sha256(f"{images_digest(images)}:{extractor_fingerprint(extractor)}".encode()).hexdigest()[:24]
    path = folder / f"{extractor.replace('/', '--')}-{key}.safetensors"
    if path.is_file():
        stored = load_file(path)
        return Reference(stored["features"], stored["mu"].numpy(), stored["sigma"].numpy(), key, cached=True)
    features = image_features(images, extractor, device, batch_size)
    stats = fid_features_to_statistics(features)
    reference = Reference(features, stats["mu"], stats["sigma"], key, cached=False)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"features": features.contiguous(), "mu": torch.from_numpy(stats["mu"]), "sigma": torch.from_numpy(stats["sigma"])}
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as tmp:
        temporary = Path(tmp.name)
    try:
        save_file(tensors, temporary, metadata={"extractor": extractor, "n_images": str(len(images))})
        os.replace(temporary, path)  # atomic: readers see the old state or the whole file
    finally:
        temporary.unlink(missing_ok=True)
    return reference


# ---------------------------------------------------------------------- scores


def score(
    candidate: torch.Tensor,
    reference: Reference,
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    prc_neighborhood: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """FID, KID (mean, std over subsets), precision and recall of candidate features [N, D] against a reference.

    KID subsets hold min(`kid_subset_size`, both sample counts) samples each.
    Precision: the share of candidates inside the real manifold (k-NN balls,
    k = `prc_neighborhood`); recall: the share of real samples inside the
    candidates' manifold (Kynkäänniemi et al. 2019).
    """
    if candidate.shape[1] != reference.features.shape[1]:
        raise ValueError(f"feature sizes differ: {candidate.shape[1]} vs {reference.features.shape[1]}")
    stats = fid_features_to_statistics(candidate)
    fid = fid_statistics_to_metric(stats, reference.statistics, verbose=False)[KEY_METRIC_FID]
    subset = min(kid_subset_size, len(candidate), len(reference.features))
    kid = kid_features_to_metric(
        candidate, reference.features, kid_subsets=kid_subsets, kid_subset_size=subset, rng_seed=seed, verbose=False
    )
    prc = prc_features_to_metric(
        candidate, reference.features, prc_neighborhood=prc_neighborhood, prc_batch_size=10000, save_cpu_ram=False,
        verbose=False,
    )
    return {
        FID: max(fid, 0.0),  # eigenvalue round-off can give -1e-6 for identical sets
        KID_MEAN: kid[KEY_METRIC_KID_MEAN],
        KID_STD: kid[KEY_METRIC_KID_STD],
        PRECISION: prc[KEY_METRIC_PRECISION],
        RECALL: prc[KEY_METRIC_RECALL],
    }
