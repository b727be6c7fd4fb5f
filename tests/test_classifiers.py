"""Classifiers: architectures, the inference pipeline, and training + export through the one trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import UserError
from core.hub import export_run, read_config, save_model
from core.inference import ClassifierPipeline, GeneratorPipeline, list_models
from core.models import MODELS, Classifier, ClassifierConfig
from core.train import Trainer, resolve_config, train


@pytest.mark.parametrize(
    ("config", "feature_dim"),
    [
        (ClassifierConfig(arch="dense"), 128),  # the reference MLP: 784 -> 128 -> 10
        (ClassifierConfig(arch="conv"), 128 * 4 * 4),  # 28 -> conv5 24 -> pool 12 -> conv5 8 -> pool 4
        (ClassifierConfig(arch="conv", conv_padding=2, batch_norm=True), 128 * 7 * 7),  # same-size convs: 28 -> 14 -> 7
        (ClassifierConfig(arch="cnn", width=8, stages=3, feature_dim=32), 32),
        (ClassifierConfig(arch="cnn", image_size=64, channels=3, width=4, stages=4, feature_dim=16), 16),
    ],
)
def test_architectures_map_unit_range_images_to_logits_and_features(config, feature_dim) -> None:
    model = Classifier(config).eval()
    images = torch.rand(5, config.channels, config.image_size, config.image_size)
    assert model(images).shape == (5, config.num_classes)
    assert model.features(images).shape == (5, feature_dim) and model.feature_dim == feature_dim


def test_reference_architectures_have_the_textbook_layer_sizes() -> None:
    dense = Classifier(ClassifierConfig(arch="dense"))
    assert [tuple(m.weight.shape) for m in dense.modules() if isinstance(m, torch.nn.Linear)] == [(128, 784), (10, 128)]
    conv = Classifier(ClassifierConfig(arch="conv"))
    assert [tuple(m.weight.shape) for m in conv.modules() if isinstance(m, torch.nn.Conv2d)] == [(64, 1, 5, 5), (128, 64, 5, 5)]


def test_normalisation_is_inside_the_model() -> None:
    """Two models differing only in (mean, std) and first-layer weights rescaled to match give the same logits."""
    torch.manual_seed(0)
    plain = Classifier(ClassifierConfig(arch="dense", mean=[0.0], std=[1.0])).eval()
    shifted = Classifier(ClassifierConfig(arch="dense", mean=[0.25], std=[0.5])).eval()
    shifted.load_state_dict(plain.state_dict())
    first = shifted.body[1]
    with torch.no_grad():  # w' x' + b' with x' = (x - 0.25) / 0.5 equals w x + b
        first.bias.add_(first.weight.sum(1) * 0.25)
        first.weight.mul_(0.5)
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(shifted(x), plain(x), atol=1e-5, rtol=1e-5)
    assert "mean" not in plain.state_dict()  # rebuilt from config.json, not stored as weights


def test_invalid_configs_are_user_errors() -> None:
    family = MODELS.get("classifier")
    with pytest.raises(UserError, match="arch must be one of"):
        family.make_config(arch="resnet")
    with pytest.raises(UserError, match="mean and std"):
        family.make_config(channels=3, mean=[0.1, 0.2], std=[1.0])
    with pytest.raises(UserError, match="conv_padding must be 0"):
        family.make_config(conv_padding=1)
    with pytest.raises(UserError, match="unknown classifier setting"):
        family.make_config(depth=3)


def test_save_load_round_trip_gives_identical_predictions(tiny_classifier_dir) -> None:
    assert read_config(tiny_classifier_dir)["family"] == "classifier"
    pipe = ClassifierPipeline.from_pretrained(tiny_classifier_dir, device="cpu")
    original = Classifier(ClassifierConfig(**{k: v for k, v in read_config(tiny_classifier_dir).items() if k != "family"}))
    torch.manual_seed(0)
    reference = Classifier(original.config).eval()  # same seed as the fixture: same weights
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(pipe.logits(x), reference(x), rtol=0, atol=0)
    assert pipe.class_names[7] == "Sneaker" and pipe.feature_dim == 8


def test_pipeline_accepts_uint8_nhwc_and_float_nchw_alike(tiny_classifier_dir) -> None:
    pipe = ClassifierPipeline.from_pretrained(tiny_classifier_dir, device="cpu")
    uint8 = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    floats = torch.from_numpy(uint8).permute(0, 3, 1, 2).float() / 255
    np.testing.assert_allclose(pipe.predict_proba(uint8), pipe.predict_proba(floats), atol=1e-6)
    assert pipe.predict_proba(uint8).sum(1) == pytest.approx(np.ones(6))
    assert pipe.features(uint8).shape == (6, 8)
    assert pipe.accuracy(uint8, pipe.predict(uint8)) == 1.0
    with pytest.raises(UserError, match="takes 1x28x28 images"):
        pipe.predict(np.zeros((2, 32, 32, 1), np.uint8))
    with pytest.raises(UserError, match="uint8 or floats"):
        pipe.predict(torch.zeros(2, 1, 28, 28, dtype=torch.int32))


def test_generators_and_classifiers_refuse_the_wrong_pipeline(tiny_classifier_dir, tiny_generator_dir) -> None:
    with pytest.raises(UserError, match="is a classifier.*ClassifierPipeline"):
        GeneratorPipeline.from_pretrained(tiny_classifier_dir)
    with pytest.raises(UserError, match="is a generator.*GeneratorPipeline"):
        ClassifierPipeline.from_pretrained(tiny_generator_dir)


def test_list_models_by_kind(tiny_classifier_dir, tiny_generator_dir) -> None:
    root = tiny_classifier_dir.parent
    assert list_models(root, kind="classifier") == ["classifier-tiny"]
    assert list_models(root, kind="generator") == ["dcgan-tiny"]


def test_smoke_training_evaluates_exports_and_documents_test_accuracy(real_data_env, tmp_path) -> None:
    run = tmp_path / "run"
    config = resolve_config("classifier-conv-fashion-mnist", "smoke", {"steps": 30, "batch_size": 32, "sample_every": 15})
    result = train(config, run, command="python -m core train --recipe classifier-conv-fashion-mnist --preset smoke", progress=False)
    assert result.step == 30
    for path in ("classifier/config.json", "classifier/model.safetensors", "evaluation.csv", "metrics.csv"):
        assert (run / path).is_file(), path
    assert not (run / "samples").exists()  # classifiers have no sample grids
    evaluation = json.loads((run / "summary.json").read_text())["evaluation"]
    assert evaluation["test_images"] == 4443 and evaluation["step"] == 30
    # 30 small steps already beat chance (10 %) by far on real data: the loop really learns.
    assert evaluation["test_accuracy"] > 0.4

    out = export_run(run, "classifier-conv-smoke", tmp_path / "pretrained")
    card = (out / "README.md").read_text()
    assert f"Test accuracy: {100 * evaluation['test_accuracy']:.2f} %" in card
    assert "pipeline_tag: image-classification" in card and "first 4,443 of the official 10,000" in card
    clf = ClassifierPipeline.from_pretrained(out, device="cpu")
    from core.data import load_dataset

    test = load_dataset("fashion-mnist", "test")
    assert clf.accuracy(test.images, test.labels) == pytest.approx(evaluation["test_accuracy"])


def test_adversarial_training_trains_on_attacked_images(real_data_env, tmp_path, monkeypatch) -> None:
    from core.robustness import PGD

    seen: list[float] = []
    original = PGD.perturb

    def spy(self, model, images, labels, epsilon, mask=None, generator=None):
        adv = original(self, model, images, labels, epsilon, mask, generator)
        seen.append((adv - images).abs().max().item())
        return adv

    monkeypatch.setattr(PGD, "perturb", spy)
    config = resolve_config("classifier-conv-adv-fashion-mnist", "smoke")
    trainer = Trainer(config, tmp_path / "run", progress=False)
    logs = trainer.train_step()
    assert logs["epsilon"] == pytest.approx(0.1) and len(seen) == 1
    assert 0 < seen[0] <= 0.1 + 1e-6


def test_epsilon_warmup_and_bad_adversarial_options(real_data_env, tmp_path) -> None:
    config = resolve_config("classifier-conv-adv-fashion-mnist", "smoke", {"adversarial_training": {"warmup_steps": 10}})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    assert trainer.train_step()["epsilon"] == pytest.approx(0.01)  # step 0 of a 10-step ramp
    bad = resolve_config("classifier-conv-adv-fashion-mnist", "smoke", {"adversarial_training": {"strength": 3}})
    with pytest.raises(UserError, match="invalid adversarial_training options for pgd"):
        Trainer(bad, tmp_path / "bad", progress=False)


def test_cosine_schedule_is_a_function_of_the_step(real_data_env, tmp_path) -> None:
    config = resolve_config("classifier-dense-fashion-mnist", "smoke", {"steps": 4})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    lrs = []
    for _ in range(4):
        trainer.train_step()
        lrs.append(trainer.optimizers["C"].param_groups[0]["lr"])
    expected = [config.lr["C"] * 0.5 * (1 + np.cos(np.pi * s / 4)) for s in range(4)]
    assert lrs == pytest.approx(expected)


def test_save_model_records_the_family(tmp_path) -> None:
    folder = save_model(Classifier(ClassifierConfig(arch="dense")), tmp_path / "m")
    assert json.loads((folder / "config.json").read_text())["arch"] == "dense"
    assert not (folder / "README.md").exists()
