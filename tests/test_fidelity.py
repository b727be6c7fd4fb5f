"""The metric pipeline (benchmarks.fidelity) on tiny data with a tiny extractor."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from torch import nn
from torch_fidelity.utils import get_featuresdict_from_generative_model

from benchmarks import fidelity
from core.data import load_dataset
from core.errors import UserError
from core.hub import save_model
from core.inference import ClassifierPipeline, GeneratorPipeline, load_network
from core.models import Classifier, ClassifierConfig

CPU = torch.device("cpu")


@pytest.fixture
def extractor(tiny_classifier_dir: Path, tmp_path: Path) -> str:
    """The tiny classifier registered under a name unique to this test (the registry is process-wide)."""
    return fidelity.domain_extractor(tiny_classifier_dir, name=f"tiny-{tmp_path.name}")


@pytest.fixture(scope="module")
def real_images(data_root: Path) -> torch.Tensor:
    """600 real Fashion-MNIST test images, uint8 [600, 1, 28, 28]."""
    return load_dataset("fashion-mnist", "test", root=data_root).images[:600]


def fid(candidate: torch.Tensor, reference: fidelity.Reference) -> float:
    return fidelity.score(candidate, reference, kid_subsets=10, kid_subset_size=100)[fidelity.FID]


def test_identical_inputs_give_fid_zero_and_shifted_inputs_a_larger_one(extractor, real_images, tmp_path) -> None:
    images, other_real = real_images[:300], real_images[300:]
    reference = fidelity.reference_features(images, extractor, CPU, cache=tmp_path)
    scores = fidelity.score(fidelity.image_features(images, extractor, CPU), reference, kid_subsets=10, kid_subset_size=100)
    sampling_noise = fid(fidelity.image_features(other_real, extractor, CPU), reference)  # other real images
    assert scores["fid"] < 1e-4 * sampling_noise
    assert scores["precision"] == 1 and scores["recall"] == 1  # every sample sits in its own k-NN ball
    brighter = (images.int() + 60).clamp(0, 255).to(torch.uint8)
    much_brighter = (images.int() + 140).clamp(0, 255).to(torch.uint8)
    shifted = fid(fidelity.image_features(brighter, extractor, CPU), reference)
    assert shifted > 3 * sampling_noise
    assert fid(fidelity.image_features(much_brighter, extractor, CPU), reference) > 2 * shifted


def test_batch_size_does_not_change_the_result(extractor, real_images, tiny_generator_dir, tmp_path) -> None:
    small = fidelity.image_features(real_images, extractor, CPU, batch_size=7)
    large = fidelity.image_features(real_images, extractor, CPU, batch_size=256)
    torch.testing.assert_close(small, large, rtol=1e-4, atol=1e-5)
    generator = load_network(tiny_generator_dir, "generator")
    a = fidelity.generator_features(generator, extractor, 50, seed=3, device=CPU, batch_size=7)
    b = fidelity.generator_features(generator, extractor, 50, seed=3, device=CPU, batch_size=64)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    reference = fidelity.reference_features(real_images[:300], extractor, CPU, cache=tmp_path)
    assert fid(a, reference) == pytest.approx(fid(b, reference), rel=1e-5)
    other_seed = fidelity.generator_features(generator, extractor, 50, seed=4, device=CPU)
    assert not torch.allclose(a, other_seed)


def test_reference_statistics_are_cached_atomically_and_keyed_by_data_and_extractor(
    extractor, real_images, tiny_classifier_dir, tmp_path
) -> None:
    cache = tmp_path / "cache"
    first = fidelity.reference_features(real_images, extractor, CPU, cache=cache)
    assert not first.cached and len(list(cache.iterdir())) == 1
    assert not list(cache.glob("*.tmp"))  # the temporary file was renamed, not left behind
    again = fidelity.reference_features(real_images, extractor, CPU, batch_size=32, cache=cache)
    assert again.cached and again.key == first.key
    torch.testing.assert_close(again.features, first.features)
    np.testing.assert_array_equal(again.sigma, first.sigma)
    assert fid(again.features, first) == pytest.approx(0, abs=1e-3)

    # Other images, or the same classifier with other weights, must not reuse the entry.
    fewer = fidelity.reference_features(real_images[:200], extractor, CPU, cache=cache)
    assert not fewer.cached and fewer.key != first.key
    torch.manual_seed(1)
    retrained = save_model(Classifier(ClassifierConfig(arch="cnn", width=4, stages=2, feature_dim=8)), tmp_path / "retrained")
    other = fidelity.domain_extractor(retrained, name=f"retrained-{tmp_path.name}")
    assert not fidelity.reference_features(real_images, other, CPU, cache=cache).cached
    assert len(list(cache.glob("*.safetensors"))) == 3


def test_domain_extractor_gives_the_classifier_embedding_of_replicated_grayscale(
    extractor, real_images, tiny_classifier_dir
) -> None:
    ours = fidelity.image_features(real_images[:20], extractor, CPU)
    direct = ClassifierPipeline.from_pretrained(tiny_classifier_dir, device="cpu").features(real_images[:20])
    torch.testing.assert_close(ours, direct.float(), rtol=1e-4, atol=1e-5)
    # An RGB image of another size is resized to the classifier's 28 px.
    big = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    assert fidelity.image_features(big, extractor, CPU).shape == (4, 8)


def test_extractor_registration(extractor, tiny_classifier_dir, tiny_generator_dir, tmp_path) -> None:
    registry = torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY
    assert registry[extractor].source == str(tiny_classifier_dir)
    assert fidelity.domain_extractor(tiny_classifier_dir, name=extractor) == extractor  # same folder: a no-op
    elsewhere = save_model(Classifier(ClassifierConfig(arch="dense")), tmp_path / "elsewhere")
    assert fidelity.domain_extractor(elsewhere, name=extractor) == extractor
    assert registry[extractor].source == str(elsewhere)  # the name now means the other classifier
    assert fidelity.domain_extractor(elsewhere) == "elsewhere"  # default name: the folder's
    with pytest.raises(UserError, match="torch-fidelity's own"):
        fidelity.domain_extractor(elsewhere, name="vgg16")
    with pytest.raises(UserError, match="not a classifier"):
        fidelity.domain_extractor(tiny_generator_dir, name=f"gen-{tmp_path.name}")


def test_inception_without_weights_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FGL_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match="Inception weights not found"):
        fidelity.resolve_extractor(fidelity.INCEPTION)


def test_inception_with_a_local_weights_file_extracts_2048_features(monkeypatch, tmp_path, real_images) -> None:
    # Freshly initialised weights in torch-fidelity's file format stand in for the real (undownloadable) ones.
    weights = tmp_path / fidelity.INCEPTION_FILE
    torch.manual_seed(0)
    torch.save(_inception_architecture().state_dict(), weights)
    monkeypatch.setenv("FGL_INCEPTION_WEIGHTS", str(weights))
    name = fidelity.resolve_extractor(fidelity.INCEPTION)
    features = fidelity.image_features(real_images[:3], name, CPU)
    assert features.shape == (3, 2048) and torch.isfinite(features).all()


def _inception_architecture() -> nn.Module:
    """torch-fidelity's Inception module with PyTorch's default initialisation (nothing downloaded)."""
    cls = torch_fidelity.FeatureExtractorInceptionV3
    original = cls.load_state_dict
    try:
        cls.load_state_dict = lambda self, state: None
        import torch_fidelity.feature_extractor_inceptionv3 as module

        real_loader = module.load_state_dict_from_url
        module.load_state_dict_from_url = lambda *a, **k: {}
        try:
            return cls("inception-v3-compat", ["2048"])
        finally:
            module.load_state_dict_from_url = real_loader
    finally:
        cls.load_state_dict = original


def test_conditional_generators_get_every_class_equally_across_batches(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")  # 3 classes
    seen: list[int] = []
    pipe.generator.register_forward_pre_hook(lambda module, args: seen.extend(args[1].tolist()))
    sampled = fidelity.SampledGenerator(pipe)
    for size in (4, 1, 5):  # batches of uneven sizes continue the cycle
        images = sampled(torch.zeros(size, 8))
        assert images.dtype == torch.uint8 and images.shape == (size, 3, 28, 28)  # grayscale replicated
        assert torch.equal(images[:, 0], images[:, 2])
    assert seen == [i % 3 for i in range(10)]


def test_torch_fidelity_own_conditional_path_still_fails_so_the_workaround_is_needed(tiny_generator_dir, extractor) -> None:
    # If this starts passing, torch-fidelity fixed its `np.int` labels and SampledGenerator's
    # label cycling could hand conditioning back to it.
    generator = load_network(tiny_generator_dir, "generator")
    wrapped = torch_fidelity.GenerativeModelModuleWrapper(generator, 8, "normal", num_classes=3)
    with pytest.raises(AttributeError, match="int"):
        get_featuresdict_from_generative_model(
            wrapped, fidelity.make_extractor(extractor, CPU), 4, 4, cuda=False, rng_seed=0, verbose=False
        )


class NotATensor:
    pass


def test_an_inception_file_holding_more_than_tensors_is_refused_before_unpickling(monkeypatch, tmp_path) -> None:
    weights = tmp_path / "weights.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1), "payload": NotATensor()}, weights)
    monkeypatch.setenv("FGL_INCEPTION_WEIGHTS", str(weights))
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        fidelity.make_extractor(fidelity.resolve_extractor(fidelity.INCEPTION), CPU)
