"""Adversarial losses and penalties against closed-form values, and their registries."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import UserError
from core.losses import (
    ADVERSARIAL_LOSSES,
    PENALTIES,
    DraganPenalty,
    GradientPenalty,
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    R1Penalty,
    WassersteinLoss,
)


def test_cross_entropy_losses_at_chance() -> None:
    zeros = torch.zeros(8)  # D(x) = sigmoid(0) = 1/2 everywhere
    for loss in (MinimaxLoss(), NonSaturatingLoss()):
        assert loss.discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert NonSaturatingLoss().generator_loss(zeros).item() == pytest.approx(math.log(2))  # -log D
    assert MinimaxLoss().generator_loss(zeros).item() == pytest.approx(-math.log(2))  # log(1 - D)


@pytest.mark.parametrize("score", [-3.0, -0.5, 0.0, 1.5, 4.0])
def test_minimax_and_nonsaturating_match_their_formulas(score: float) -> None:
    s = torch.full((4,), score)
    d = torch.sigmoid(s)
    torch.testing.assert_close(MinimaxLoss().discriminator_loss(s, -s),
                               (-torch.log(d) - torch.log(1 - torch.sigmoid(-s))).mean())
    torch.testing.assert_close(MinimaxLoss().generator_loss(s), torch.log(1 - d).mean())
    torch.testing.assert_close(NonSaturatingLoss().generator_loss(s), -torch.log(d).mean())


def test_minimax_saturates_where_the_nonsaturating_loss_does_not() -> None:
    """The reason for the non-saturating loss: when D confidently rejects fakes, log(1 - D) has almost no gradient."""
    rejected = torch.full((4,), -8.0, requires_grad=True)  # D(G(z)) = sigmoid(-8), about 3e-4
    (minimax,) = torch.autograd.grad(MinimaxLoss().generator_loss(rejected), rejected)
    (nonsaturating,) = torch.autograd.grad(NonSaturatingLoss().generator_loss(rejected), rejected)
    assert minimax.abs().max() < 1e-3 and nonsaturating.abs().min() > 0.2


def test_hinge_is_zero_beyond_the_margin_and_linear_inside() -> None:
    hinge = HingeLoss()
    assert hinge.discriminator_loss(torch.full((4,), 2.0), torch.full((4,), -3.0)).item() == 0
    assert hinge.discriminator_loss(torch.full((4,), 0.5), torch.full((4,), 0.0)).item() == pytest.approx(1.5)
    assert hinge.generator_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_wasserstein_is_the_difference_of_means() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0, 4.0])
    assert WassersteinLoss().discriminator_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert WassersteinLoss().generator_loss(fake).item() == pytest.approx(-1.0)


def test_least_squares_on_known_scores() -> None:
    lsgan = LeastSquaresLoss()
    assert lsgan.discriminator_loss(torch.ones(3), torch.zeros(3)).item() == 0  # the targets: 1 real, 0 fake
    # 0.5 * mean((r - 1)^2) + 0.5 * mean(f^2) with r = [0, 2], f = [1, 3]: 0.5 * 1 + 0.5 * 5
    assert lsgan.discriminator_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])).item() == pytest.approx(3.0)
    assert lsgan.generator_loss(torch.tensor([0.0, 3.0])).item() == pytest.approx(0.5 * (1 + 4) / 2)


def linear_critic(norm: float, shape=(1, 3, 4, 4)):
    """critic(x) = <w, x> with ||w|| = norm: its gradient is w everywhere."""
    w = torch.randn(*shape)
    w = w / w.norm() * norm
    return lambda x: (x * w).flatten(1).sum(1)


@pytest.mark.parametrize("penalty", [GradientPenalty(), DraganPenalty()])
@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (2.0, 1.0), (3.0, 4.0)])
def test_unit_gradient_penalties_of_a_linear_critic(penalty, norm: float, expected: float) -> None:
    # (||w|| - 1)^2 exactly, wherever the points are: a unit-norm linear critic is penalised 0.
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    assert penalty(linear_critic(norm), real, fake).item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("norm", [0.5, 1.0, 3.0])
def test_r1_of_a_linear_critic_is_its_squared_norm(norm: float) -> None:
    assert R1Penalty()(linear_critic(norm), torch.randn(5, 3, 4, 4), None).item() == pytest.approx(norm**2, rel=1e-5)


def test_dragan_penalises_only_around_the_real_images() -> None:
    """A critic that is flat near the real data and steep far away: WGAN-GP's interpolates see the steep
    part, DRAGAN's perturbed real points do not."""
    real = torch.zeros(16, 1, 2, 2)
    fake = torch.full((16, 1, 2, 2), 10.0)
    critic = lambda x: (torch.relu(x.flatten(1) - 2) ** 2).sum(1)  # zero gradient within 2 of the origin
    assert DraganPenalty()(critic, real + 0.1 * torch.rand_like(real), fake).item() == pytest.approx(1.0)  # |grad| = 0
    assert GradientPenalty()(critic, real, fake).item() > 1.0


def test_penalties_are_differentiable_for_the_critic() -> None:
    w = torch.ones(1, 1, 2, 2, requires_grad=True)  # norm 2
    critic = lambda x: (x * w).flatten(1).sum(1)
    penalty = GradientPenalty()(critic, torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2))
    (grad,) = torch.autograd.grad(penalty, w)  # d(||w|| - 1)^2 / dw = 2 (||w|| - 1) w / ||w||
    torch.testing.assert_close(grad, torch.full_like(w, 2 * (2 - 1) * 1 / 2))


def test_registries_list_losses_and_penalties_and_refuse_duplicates() -> None:
    assert ADVERSARIAL_LOSSES.names() == ["hinge", "least-squares", "minimax", "nonsaturating", "wasserstein"]
    assert PENALTIES.names() == ["dragan", "gradient", "none", "r1"]
    with pytest.raises(ValueError, match="already registered"):
        ADVERSARIAL_LOSSES.register("hinge")(HingeLoss)
    with pytest.raises(TypeError, match="must be"):
        ADVERSARIAL_LOSSES.register("not-a-loss")(int)
    with pytest.raises(UserError, match="known: hinge, least-squares"):
        ADVERSARIAL_LOSSES.get("wgan-gp")
