"""MUNIT (core.models.munit, core.objectives.munit): styles make translations diverse, AdaIN sets the statistics the
style asks for, content codes never see a style, and the losses are what the paper writes."""

from __future__ import annotations

import inspect

import pytest
import torch

from core.errors import UserError
from core.models import MODELS
from core.models import munit as munit_models
from core.models.munit import DOMAIN_A, DOMAIN_B, ContentEncoder, MUNITConfig, MUNITTranslator, adaptive_instance_norm
from core.objectives import OBJECTIVES, make_options
from core.objectives.base import PREVIEW_COLUMNS
from core.objectives.munit import PREVIEW_STYLES, MUNITObjective, reconstruction_terms
from core.train import resolve_config

TINY = {"image_size": 32, "channels": 3, "in_channels": 3, "domains": ["t-shirt", "longsleeve"], "width": 4,
        "max_width": 8, "blocks": 1, "mlp_dim": 16, "style_dim": 4, "scales": 1}


def tiny_translator(seed: int = 0, **values) -> MUNITTranslator:
    torch.manual_seed(seed)
    return MODELS.get("munit").build(MODELS.get("munit").make_config(**{**TINY, **values}))["translator"].eval()


@torch.no_grad()
def test_different_styles_give_different_translations_and_the_same_style_the_same() -> None:
    translator = tiny_translator()
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    images, styles = image.expand(3, -1, -1, -1), torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    for target in (DOMAIN_B, DOMAIN_A):
        out = translator.translate(images, torch.full((3,), target), styles)
        assert out.shape == (3, 3, 32, 32) and out.abs().max() <= 1
        for i in range(3):
            for j in range(i + 1, 3):
                assert (out[i] - out[j]).abs().max() > 1e-4, "two styles gave one translation"
        again = translator.translate(images, torch.full((3,), target), styles[[0, 0, 0]])
        assert torch.equal(again[0], again[1]) and torch.equal(again[1], again[2])
        torch.testing.assert_close(again[0], out[0])


@torch.no_grad()
def test_translate_follows_the_target_ids_and_defaults_to_b_in_the_prior_mean() -> None:
    translator = tiny_translator()
    images, styles = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 4)
    to_b = translator.decoder_b(translator.content_a(images), styles)
    to_a = translator.decoder_a(translator.content_b(images), styles)
    torch.testing.assert_close(translator.translate(images, torch.ones(4, dtype=torch.long), styles), to_b)
    torch.testing.assert_close(translator.translate(images, torch.zeros(4, dtype=torch.long), styles), to_a)
    mixed = translator.translate(images, torch.tensor([1, 0, 0, 1]), styles)
    torch.testing.assert_close(mixed[[0, 3]], to_b[[0, 3]])
    torch.testing.assert_close(mixed[[1, 2]], to_a[[1, 2]])
    prior_mean = translator.decoder_b(translator.content_a(images), torch.zeros(4, 4))
    torch.testing.assert_close(translator.translate(images), prior_mean)
    with pytest.raises(ValueError, match="target ids"):
        translator.translate(images, torch.tensor([0, 1, 2, 1]), styles)
    with pytest.raises(ValueError, match="style must be"):
        translator.translate(images, None, torch.randn(4, 5))


def test_adaptive_instance_norm_gives_the_asked_mean_and_std() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 8, 8, generator=generator) * 5 + 3  # its own statistics, far from the asked ones
    mean, std = torch.tensor([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]]), torch.tensor([[1.0, 0.1, 2.5], [4.0, 0.5, 1.5]])
    out = adaptive_instance_norm(features, mean, std)
    torch.testing.assert_close(out.mean(dim=(2, 3)), mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), std, atol=1e-4, rtol=1e-4)
    # closed form: (x - mean_x) / sqrt(var_x + eps) * std + mean
    x = features[0, 1]
    expected = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + munit_models.ADAIN_EPS) * std[0, 1] + mean[0, 1]
    torch.testing.assert_close(out[0, 1], expected)


@torch.no_grad()
def test_every_adain_layer_of_the_decoder_takes_the_statistics_its_mlp_computes(monkeypatch) -> None:
    decoder = tiny_translator(blocks=2).decoder_b
    seen = []

    def recording(features, mean, std):
        out = adaptive_instance_norm(features, mean, std)
        seen.append(out)
        return out

    monkeypatch.setattr(munit_models, "adaptive_instance_norm", recording)
    style = torch.randn(3, 4)
    decoder(torch.randn(3, 8, 8, 8), style)
    asked = decoder.adain_parameters(style)
    assert len(seen) == len(asked) == 4  # two per residual block
    for out, (mean, std) in zip(seen, asked):
        torch.testing.assert_close(out.mean(dim=(2, 3)), mean, atol=1e-4, rtol=0)
        torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), std.abs(), atol=1e-3, rtol=1e-3)
    # the style changes what is asked: the MLP is not ignoring it
    other = decoder.adain_parameters(torch.randn(3, 4))
    assert not torch.allclose(other[0][0], asked[0][0])


@torch.no_grad()
def test_the_content_code_does_not_depend_on_the_style_it_is_decoded_with() -> None:
    assert list(inspect.signature(ContentEncoder.forward).parameters) == ["self", "images"]
    translator = tiny_translator()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    content = translator.content_a(images)
    outputs = []
    for seed in (1, 2):
        styles = torch.randn(2, 4, generator=torch.Generator().manual_seed(seed))
        outputs.append(translator.decoder_b(content, styles))
        assert torch.equal(translator.content_a(images), content)  # decoding left no state behind
        passed = translator(images, images, styles, styles)  # the training pass, in these styles
        assert torch.equal(passed["content_a"], content)
    assert not torch.allclose(outputs[0], outputs[1])  # the styles did differ


def test_the_reconstruction_terms_are_zero_for_an_exact_autoencoder_and_l1_in_closed_form() -> None:
    real_a, real_b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    styles_a, styles_b = torch.randn(2, 4), torch.randn(2, 4)
    content_a, content_b = torch.randn(2, 5, 2, 2), torch.randn(2, 5, 2, 2)
    exact = {"recon_a": real_a, "recon_b": real_b, "style_code_ba": styles_a, "style_code_ab": styles_b,
             "content_a": content_a, "content_b": content_b, "content_ab": content_a, "content_ba": content_b,
             "aba": real_a, "bab": real_b}
    for value in reconstruction_terms(real_a, real_b, styles_a, styles_b, exact).values():
        assert value.item() == 0
    off = {**exact, "recon_a": real_a + 0.5, "recon_b": real_b - 0.25, "style_code_ab": styles_b + 2.0,
           "content_ba": content_b - 1.0}
    del off["aba"], off["bab"]
    terms = reconstruction_terms(real_a, real_b, styles_a, styles_b, off)
    assert set(terms) == {"image", "style", "content"}  # no cycle asked for, none computed
    assert terms["image"].item() == pytest.approx(0.75)
    assert terms["style"].item() == pytest.approx(2.0)
    assert terms["content"].item() == pytest.approx(1.0)


@pytest.mark.parametrize("values, message", [
    ({"image_weight": -1.0}, "image_weight"), ({"style_weight": float("inf")}, "style_weight"),
    ({"content_weight": "1"}, "content_weight"), ({"cycle_weight": True}, "cycle_weight"),
    ({"loss": "least-square"}, "loss"), ({"pool_size": 50}, "does not read"),
])
def test_invalid_options_are_a_user_error(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        make_options(OBJECTIVES.get("munit"), values)
    assert make_options(OBJECTIVES.get("munit"), {}).image_weight == 10.0


@pytest.mark.parametrize("values", [{"style_dim": 0}, {"blocks": 0}, {"downsamplings": 6}, {"mlp_dim": 0},
                                    {"image_size": 30}, {"scales": 3, "image_size": 64}, {"width": 8, "max_width": 4}])
def test_invalid_configs_are_a_user_error(values: dict) -> None:
    with pytest.raises(UserError):
        MODELS.get("munit").make_config(**{**TINY, **values})


def test_the_config_round_trips_through_its_dict() -> None:
    config = MODELS.get("munit").make_config(**TINY)
    translator = MUNITTranslator({**vars(config), "family": "munit"})
    assert translator.config == config and isinstance(translator.config, MUNITConfig) and translator.style_dim == 4


def test_the_objective_trains_both_phases_and_previews_one_kind_per_row() -> None:
    config = resolve_config("munit-tshirt2longsleeve-64", "smoke", {"cycle_weight": 10.0})
    family = MODELS.get("munit")
    torch.manual_seed(0)
    networks = family.build(family.make_config(**{**TINY, "image_size": 64, "scales": 2}))
    objective = MUNITObjective(networks, config)
    batch = {"A": torch.rand(3, 3, 64, 64) * 2 - 1, "B": torch.rand(3, 3, 64, 64) * 2 - 1}
    for phase, trained, frozen in (("D", "discriminator", "translator"), ("G", "translator", "discriminator")):
        networks[frozen].requires_grad_(False)
        networks[trained].requires_grad_(True)
        loss, logs = objective.loss(phase, batch)
        assert loss.ndim == 0 and torch.isfinite(loss)
        loss.backward()
        assert all(p.grad is not None for p in networks[trained].parameters())
    assert {"loss_g", "recon_image", "recon_style", "recon_content", "recon_cycle"} <= set(logs)

    inputs = objective.preview_inputs(batch, 100, seed=7)
    assert inputs["A"].shape[0] == 3 and inputs["styles"].shape == (PREVIEW_STYLES, 4)
    assert torch.equal(inputs["styles"], objective.preview_inputs(batch, 100, seed=7)["styles"])
    with torch.no_grad():
        grid = objective.preview(networks["translator"].eval(), inputs)
    assert grid.shape == (2 * (1 + PREVIEW_STYLES) * PREVIEW_COLUMNS, 3, 64, 64)
    torch.testing.assert_close(grid[:3], batch["A"])
    assert (grid[3:PREVIEW_COLUMNS] == -1).all()  # a short row is filled out with black
    torch.testing.assert_close(grid[(1 + PREVIEW_STYLES) * PREVIEW_COLUMNS:][:3], batch["B"])
