"""StarGAN (core.models.stargan, core.objectives.stargan): the conditioning, the critic's two heads, the loss terms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from core.errors import UserError
from core.models import MODELS
from core.models.stargan import StarGANConfig, StarGANDiscriminator, StarGANTranslator, tiled_one_hot
from core.objectives import OBJECTIVES, make_options
from core.objectives.stargan import (
    StarGANObjective,
    classification,
    other_classes,
    preview_depth,
    preview_targets,
    reconstruction_loss,
)
from core.train.config import resolve_config


def tiny(**values) -> StarGANConfig:
    settings = {"image_size": 32, "num_classes": 4, "width": 4, "max_width": 16, "blocks": 1, **values}
    return MODELS.get("stargan").make_config(**settings)


class Identity(nn.Module):
    """A translator that returns its input whatever the target."""

    def forward(self, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return images


def test_the_target_class_conditions_the_translation() -> None:
    torch.manual_seed(0)
    translator = StarGANTranslator(tiny()).eval()
    images = torch.rand(1, 3, 32, 32).repeat(4, 1, 1, 1) * 2 - 1  # one image, four times
    out = translator(images, torch.arange(4))
    assert out.shape == images.shape and out.abs().max() <= 1
    for i in range(4):
        for j in range(i + 1, 4):
            assert (out[i] - out[j]).abs().max() > 1e-3, (i, j)
            # and not only near the border, where the zero padding meets the code
            assert (out[i, :, 12:20, 12:20] - out[j, :, 12:20, 12:20]).abs().max() > 1e-4, (i, j)
    assert torch.allclose(translator(images[:1], torch.tensor([2])), out[2:3], atol=1e-5)  # same target, same output


def test_a_reflection_padded_first_layer_would_lose_the_code() -> None:
    """Why the first convolution pads with zeros: the tiled code is constant, and instance norm removes constants."""
    torch.manual_seed(0)
    translator = StarGANTranslator(tiny()).eval()
    translator.generator.net[0].padding_mode = "reflect"
    images = torch.rand(1, 3, 32, 32).repeat(2, 1, 1, 1) * 2 - 1
    out = translator(images, torch.tensor([0, 3]))
    assert (out[0] - out[1]).abs().max() < 1e-4


def test_translate_needs_one_target_per_image() -> None:
    translator = StarGANTranslator(tiny())
    images = torch.zeros(2, 3, 32, 32)
    with pytest.raises(ValueError, match="target class"):
        translator.translate(images)
    with pytest.raises(ValueError, match="one class id per image"):
        translator(images, torch.tensor([1]))


def test_the_one_hot_code_is_tiled_over_the_image() -> None:
    code = tiled_one_hot(torch.tensor([2, 0]), 3, 5, 4, torch.float32)
    assert code.shape == (2, 3, 5, 4)
    assert torch.equal(code[:, :, 3, 1], torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    assert torch.equal(code.sum(1), torch.ones(2, 5, 4))


@pytest.mark.parametrize(("size", "layers", "side"), [(64, 0, 2), (128, 0, 2), (64, 4, 4), (32, 5, 1)])
def test_the_discriminator_has_a_score_map_and_class_logits(size: int, layers: int, side: int) -> None:
    config = tiny(image_size=size, critic_layers=layers, num_classes=5)
    assert config.critic_map_size == side
    scores, logits = StarGANDiscriminator(config)(torch.zeros(3, 3, size, size))
    assert scores.shape == (3, 1, side, side) and logits.shape == (3, 5)


def test_the_discriminator_has_no_normalisation() -> None:
    """The gradient penalty is per image: nothing may mix the images of a batch."""
    torch.manual_seed(0)
    critic = StarGANDiscriminator(tiny())
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) for m in critic.modules())
    batch = torch.randn(4, 3, 32, 32)
    alone = critic(batch[:1])
    together = critic(batch)
    assert torch.allclose(alone[0], together[0][:1], atol=1e-6) and torch.allclose(alone[1], together[1][:1], atol=1e-6)


def test_reconstruction_is_zero_for_the_identity_and_l1_otherwise() -> None:
    images = torch.rand(3, 3, 8, 8) * 2 - 1
    labels = torch.tensor([0, 1, 2])
    assert reconstruction_loss(Identity(), images, images, labels).item() == 0
    assert reconstruction_loss(Identity(), images + 0.25, images, labels).item() == pytest.approx(0.25)


def test_reconstruction_takes_the_translation_back_to_the_original_classes() -> None:
    seen = {}

    class Recorder(Identity):
        def forward(self, images, target):
            seen["target"] = target
            return images

    labels = torch.tensor([3, 1])
    reconstruction_loss(Recorder(), torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), labels)
    assert torch.equal(seen["target"], labels)


def test_the_classification_term_is_the_cross_entropy_and_falls_as_the_true_class_is_favoured() -> None:
    labels = torch.tensor([0, 2])
    flat, _ = classification(torch.zeros(2, 4), labels)
    assert flat.item() == pytest.approx(math.log(4))  # uniform logits: log K
    losses = []
    for margin in (0.0, 1.0, 3.0):
        logits = torch.zeros(2, 4)
        logits[torch.arange(2), labels] = margin
        loss, accuracy = classification(logits, labels)
        losses.append(loss.item())
        # closed form: -log(e^m / (e^m + K - 1))
        assert loss.item() == pytest.approx(-math.log(math.exp(margin) / (math.exp(margin) + 3)), rel=1e-5)
    assert losses[0] > losses[1] > losses[2] and accuracy.item() == 1.0
    wrong = torch.zeros(2, 4)
    wrong[:, 1] = 5
    assert classification(wrong, labels)[1].item() == 0.0


def test_targets_are_drawn_uniformly_among_the_other_classes() -> None:
    torch.manual_seed(0)
    labels = torch.arange(4).repeat(5000)
    target = other_classes(labels, 4)
    assert target.dtype == torch.int64 and not (target == labels).any()
    assert target.min() == 0 and target.max() == 3
    for label in range(4):  # each of the three others about a third of the time
        counts = torch.bincount(target[labels == label], minlength=4).float() / 5000
        others = torch.cat([counts[:label], counts[label + 1:]])
        assert counts[label] == 0 and (others - 1 / 3).abs().max() < 0.03
    torch.manual_seed(0)
    assert torch.equal(other_classes(labels, 4), target)  # from the global RNG, so the checkpoint keeps them


def test_preview_targets_are_spread_over_the_classes() -> None:
    assert preview_targets(10).tolist() == [0, 3, 6]
    assert preview_targets(2).tolist() == [0, 0, 1]  # more rows than classes: repeated, the grid keeps its shape
    assert preview_targets(10, 7).tolist() == [0, 1, 2, 4, 5, 7, 8]


@pytest.mark.parametrize("columns", range(2, 11))
def test_the_preview_grid_has_one_example_per_column(columns: int) -> None:
    """However many images the first batch gives, the trainer's layout (10 per row for a multiple of 10, else a
    square) puts each example in a column of its own: input on top, its translations below."""
    rows = 1 + preview_depth(columns)
    count = columns * rows
    per_row = 10 if count % 10 == 0 else math.ceil(math.sqrt(count))
    assert min(per_row, count) == columns


def test_the_objective_losses_and_its_preview() -> None:
    torch.manual_seed(0)
    config = tiny()
    networks = MODELS.get("stargan").build(config)
    train = resolve_config("stargan-clothing-64", "smoke")
    objective = StarGANObjective(networks, train)
    batch = {"images": torch.rand(4, 3, 32, 32) * 2 - 1, "labels": torch.tensor([0, 1, 2, 3])}
    loss_d, logs_d = objective.loss("D", batch)
    assert loss_d.dim() == 0 and torch.isfinite(loss_d)
    assert {"loss_d", "d_real", "d_fake", "penalty", "d_cls", "d_cls_acc"} <= set(logs_d)
    assert 0 <= logs_d["d_cls_acc"] <= 1
    loss_g, logs_g = objective.loss("G", batch)
    assert {"loss_g", "g_cls", "rec"} <= set(logs_g) and torch.isfinite(loss_g)
    loss_g.backward()
    assert all(p.grad is not None for p in networks["translator"].parameters())
    inputs = objective.preview_inputs(batch, 100, seed=0)
    grid = objective.preview(networks["translator"].eval(), inputs)
    assert grid.shape == (4 * 4, 3, 32, 32)  # input row + three target rows, four columns (a square grid)
    assert torch.equal(grid[:4], batch["images"])


def test_the_options_are_validated() -> None:
    stargan = OBJECTIVES.get("stargan")
    options = make_options(stargan, {})
    assert (options.loss, options.penalty, options.penalty_weight, options.cls_weight, options.rec_weight) == (
        "wasserstein", "gradient", 10.0, 1.0, 10.0)
    for bad in ({"cls_weight": -1}, {"rec_weight": -0.5}, {"penalty_weight": -1}, {"rec_weight": "ten"},
                {"loss": "nope"}, {"penalty": "nope"}, {"l1_weight": 1.0}):
        with pytest.raises(UserError):
            make_options(stargan, bad)


@pytest.mark.parametrize("values", [{"num_classes": 1}, {"blocks": 0}, {"blocks": 13}, {"image_size": 48},
                                    {"critic_layers": 6}, {"in_channels": 1}, {"source": "edges"}])
def test_invalid_configs_are_one_line_errors(values) -> None:
    with pytest.raises(UserError):
        tiny(**values)


def test_the_recipe_is_the_paper_s_training() -> None:
    config = resolve_config("stargan-clothing-64", "quick")
    assert config.data_mode == "domains" and config.conditional and config.phases["D"]["repeats"] == 5
    assert config.steps >= 1
    model = MODELS.get("stargan").make_config(image_size=64, num_classes=10, **config.model_config)
    translator = sum(p.numel() for p in StarGANTranslator(model).parameters())
    assert translator < 3_000_000  # shipped weights of a few MB
