"""Adversarial losses against closed-form values, and the loss registry."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import UserError
from core.losses import ADVERSARIAL_LOSSES, HingeLoss, NonSaturatingLoss, WassersteinGPLoss, gradient_penalty


def test_non_saturating_at_chance_is_2_log_2() -> None:
    zeros = torch.zeros(8)
    loss = NonSaturatingLoss().discriminator_terms(zeros, zeros)
    assert loss.item() == pytest.approx(2 * math.log(2))
    assert NonSaturatingLoss().generator_loss(zeros).item() == pytest.approx(math.log(2))


def test_hinge_is_zero_beyond_the_margin_and_linear_inside() -> None:
    hinge = HingeLoss()
    assert hinge.discriminator_terms(torch.full((4,), 2.0), torch.full((4,), -3.0)).item() == 0
    assert hinge.discriminator_terms(torch.full((4,), 0.5), torch.full((4,), 0.0)).item() == pytest.approx(1.5)
    assert hinge.generator_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (2.0, 1.0), (3.0, 4.0)])
def test_gradient_penalty_of_a_linear_critic(norm: float, expected: float) -> None:
    # critic(x) = <w, x> has gradient w everywhere, so the penalty is (|w| - 1)^2 exactly.
    w = torch.randn(1, 3, 4, 4)
    w = w / w.norm() * norm
    critic = lambda x: (x * w).flatten(1).sum(1)
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(expected, abs=1e-5)


def test_wgan_gp_adds_the_weighted_penalty() -> None:
    w = torch.full((1, 1, 2, 2), 1.0)  # norm 2 -> penalty 1
    critic = lambda x: (x * w).flatten(1).sum(1)
    real, fake = torch.ones(4, 1, 2, 2), torch.zeros(4, 1, 2, 2)
    loss, logs = WassersteinGPLoss(gp_weight=10.0).discriminator_loss(critic, real, fake)
    # E[critic(fake)] - E[critic(real)] = 0 - 4, plus 10 * 1
    assert loss.item() == pytest.approx(-4 + 10)
    assert logs["gp"] == pytest.approx(1.0)


def test_registry_lists_losses_and_refuses_duplicates() -> None:
    assert {"nonsaturating", "hinge", "wgan-gp"} <= set(ADVERSARIAL_LOSSES.names())
    with pytest.raises(ValueError, match="already registered"):
        ADVERSARIAL_LOSSES.register("hinge")(HingeLoss)
    with pytest.raises(TypeError, match="must be"):
        ADVERSARIAL_LOSSES.register("not-a-loss")(int)
    with pytest.raises(UserError, match="known: hinge, nonsaturating, wgan-gp"):
        ADVERSARIAL_LOSSES.get("lsgan")
