"""Adversarial losses and critic penalties, each behind one small registry.

* An `AdversarialLoss` turns critic scores (raw, unbounded: logits or critic
  values) on real and generated images into the discriminator's and the
  generator's loss. It never sees the networks, so labels, coordinates,
  auxiliary heads and reconstruction energies stay with the objective.
* A `Penalty` regularises the critic as a function of images; it is added to
  the discriminator loss with the objective's `penalty_weight`.

Every GAN objective in `core.objectives` takes its loss and its penalty from
these registries by name, so `--set loss=hinge penalty=r1` works for any of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from core.registry import Registry

Critic = Callable[[Tensor], Tensor]  # images [B, C, H, W] -> scores [B]


# --------------------------------------------------------------------------- adversarial losses


class AdversarialLoss:
    """Maps critic scores [B] on real and generated images to the two players' losses (scalars)."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError


ADVERSARIAL_LOSSES: Registry[type[AdversarialLoss]] = Registry("loss", AdversarialLoss)


def discriminator_cross_entropy(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))) with D = sigmoid(score), in the numerically stable softplus form."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


@ADVERSARIAL_LOSSES.register("minimax")
class MinimaxLoss(AdversarialLoss):
    """Goodfellow et al. (2014) as the game is written: G minimises log(1 - D(G(z))), which saturates early on."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return discriminator_cross_entropy(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -F.softplus(fake_scores).mean()  # log(1 - sigmoid(s)) = -softplus(s)


@ADVERSARIAL_LOSSES.register("nonsaturating")
class NonSaturatingLoss(MinimaxLoss):
    """Goodfellow et al. (2014), the variant everyone trains: G maximises log D(G(z))."""

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return F.softplus(-fake_scores).mean()


@ADVERSARIAL_LOSSES.register("hinge")
class HingeLoss(AdversarialLoss):
    """Lim & Ye (2017); Miyato et al. (2018)."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


@ADVERSARIAL_LOSSES.register("wasserstein")
class WassersteinLoss(AdversarialLoss):
    """Arjovsky et al. (2017): the critic estimates W(real, fake); it needs a Lipschitz constraint
    (weight clipping, WGAN; or the gradient penalty, WGAN-GP) to mean anything."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


@ADVERSARIAL_LOSSES.register("least-squares")
class LeastSquaresLoss(AdversarialLoss):
    """Mao et al. (2017) with the 0-1 coding (a = 0 fake, b = 1 real, c = 1 the generator's target)."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores**2).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((fake_scores - 1) ** 2).mean()


# --------------------------------------------------------------------------- penalties


class Penalty:
    """A regulariser of the critic, unweighted: `penalty(critic, real, fake)` -> scalar."""

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError


PENALTIES: Registry[type[Penalty]] = Registry("penalty", Penalty)


def gradient_norms(critic: Critic, points: Tensor) -> Tensor:
    """||d critic / d x||_2 at each point [B, ...] -> [B], differentiable (for penalties)."""
    points = points.detach().requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    return grads.flatten(1).norm(2, dim=1)


def _uniform_like_batch(images: Tensor) -> Tensor:
    """One U[0, 1) factor per image, broadcastable over [B, C, H, W]."""
    return torch.rand(images.shape[0], *([1] * (images.dim() - 1)), device=images.device, dtype=images.dtype)


@PENALTIES.register("none")
class NoPenalty(Penalty):
    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return real.new_zeros(())


@PENALTIES.register("gradient")
class GradientPenalty(Penalty):
    """Gulrajani et al. (2017): E[(||grad critic(x_hat)||_2 - 1)^2] on random interpolates of real and fake."""

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        alpha = _uniform_like_batch(real)
        mixed = alpha * real.detach() + (1 - alpha) * fake.detach()
        return ((gradient_norms(critic, mixed) - 1) ** 2).mean()


@PENALTIES.register("dragan")
class DraganPenalty(Penalty):
    """Kodali et al. (2017): the same unit-gradient penalty, but only around the real data, on
    interpolates between x and a perturbed x + C * std(x) * u (u uniform in [0, 1), C = 0.5)."""

    perturbation = 0.5

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        real = real.detach()
        perturbed = real + self.perturbation * real.std() * torch.rand_like(real)
        alpha = _uniform_like_batch(real)
        mixed = alpha * real + (1 - alpha) * perturbed
        return ((gradient_norms(critic, mixed) - 1) ** 2).mean()


@PENALTIES.register("r1")
class R1Penalty(Penalty):
    """Mescheder et al. (2018): E[||grad critic(x)||^2] on real images (weight = gamma / 2)."""

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return (gradient_norms(critic, real) ** 2).mean()


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """The WGAN-GP penalty (kept as a function: COCO-GAN's patch critic and tests call it directly)."""
    return GradientPenalty()(critic, real, fake)
