"""L-inf attacks and robust-accuracy curves, on tiny models built here (no data files)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torchattacks
from torch import Tensor, nn

from core.errors import UserError
from core.robustness import (
    ATTACKS,
    FGSM,
    PGD,
    Attack,
    CurvePoint,
    RandomNoise,
    accuracy_curve,
    foreground_mask,
)

EPSILONS = [0.0, 0.02, 0.05, 0.1, 0.2]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are too small to gain from intra-op threads, and on a busy 2-core machine the threads'
    spin-waiting made this file 6x slower (33 s against 5 s); the previous setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- tiny models and data


class LinearClassifier(nn.Module):
    """logits = W flatten(x) + b, no normalisation: the gradient of its loss is known in closed form."""

    def __init__(self, weight: Tensor, bias: Tensor):
        super().__init__()
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(weight)
            self.linear.bias.copy_(bias)

    def forward(self, images: Tensor) -> Tensor:
        return self.linear(images.flatten(1))


def tiny_convnet(channels: int = 1, classes: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, classes),
    )


def synthetic_data(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Three classes of 1x8x8 images around fixed prototypes: separable, in [0, 1]."""
    rng = torch.Generator().manual_seed(123)
    prototypes = 0.5 + 0.06 * torch.randn(3, 1, 8, 8, generator=rng)  # close, so small epsilons matter
    rng = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=rng)
    images = (prototypes[labels] + 0.04 * torch.randn(n, 1, 8, 8, generator=rng)).clamp(0, 1)
    return images, labels


@pytest.fixture(scope="module")
def trained_mlp() -> nn.Module:
    """A small MLP trained briefly on `synthetic_data`, so accuracies under attack mean something."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))
    images, labels = synthetic_data(256, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.zero_grad(set_to_none=True)
    return model.eval()


@pytest.fixture(scope="module")
def test_batch() -> tuple[Tensor, Tensor]:
    return synthetic_data(256, seed=1)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    with torch.inference_mode():
        return (model(images).argmax(dim=1) == labels).float().mean().item()


def all_attacks() -> list[Attack]:
    return [FGSM(), FGSM(random_start=True), PGD(steps=5), PGD(steps=5, early_stop=True), RandomNoise()]


# --------------------------------------------------------------------------- closed form on a linear model


def linear_problem() -> tuple[LinearClassifier, Tensor, Tensor, Tensor]:
    """A 2-class linear model, images away from 0 and 1 (so nothing clips), and the true-minus-wrong weights."""
    rng = torch.Generator().manual_seed(0)
    weight = 0.1 * torch.randn(2, 3 * 5 * 5, generator=rng)
    model = LinearClassifier(weight, torch.zeros(2))
    images = 0.4 + 0.2 * torch.rand(8, 3, 5, 5, generator=rng)
    labels = torch.tensor([0, 1] * 4)
    # w_true - w_wrong per image, as an image: [B, C, H, W]
    difference = (weight[labels] - weight[1 - labels]).view(8, 3, 5, 5)
    return model, images, labels, difference


def margins(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    with torch.no_grad():
        logits = model(images)
    return logits.gather(1, labels[:, None]).squeeze(1) - logits.gather(1, (1 - labels)[:, None]).squeeze(1)


def test_fgsm_on_linear_model_matches_closed_form():
    model, images, labels, difference = linear_problem()
    epsilon = 0.05
    adv = FGSM().perturb(model, images, labels, epsilon)
    # The cross-entropy gradient is p_wrong * (w_wrong - w_true): each pixel moves by eps * sign(w_wrong - w_true).
    torch.testing.assert_close(adv, images - epsilon * difference.sign(), atol=1e-6, rtol=0)
    margin_change = margins(model, adv, labels) - margins(model, images, labels)
    torch.testing.assert_close(margin_change, -epsilon * difference.flatten(1).abs().sum(1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_on_linear_model_reaches_the_corner(random_start):
    model, images, labels, difference = linear_problem()
    epsilon = 0.05
    generator = torch.Generator().manual_seed(0)
    adv = PGD(steps=10, random_start=random_start).perturb(model, images, labels, epsilon, generator=generator)
    torch.testing.assert_close(adv, images - epsilon * difference.sign(), atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("attack", all_attacks(), ids=repr)
def test_attack_invariants(attack, channels):
    model = tiny_convnet(channels).eval()
    images = torch.rand(6, channels, 8, 8, generator=torch.Generator().manual_seed(1))
    images[0, :, :2] = 0.0  # some pixels at the box edges, so clipping is exercised
    images[1, :, :2] = 1.0
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    epsilon = 0.1

    adv = attack.perturb(model, images, labels, epsilon, generator=torch.Generator().manual_seed(2))
    assert adv.shape == images.shape and adv.dtype == images.dtype and adv.device == images.device
    assert (adv - images).abs().max() <= epsilon + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    assert (adv != images).any()

    assert torch.equal(attack.perturb(model, images, labels, 0.0), images)

    mask = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(3)) > 0.5  # [B, 1, H, W]
    for given in (mask, mask.float()):
        masked = attack.perturb(model, images, labels, epsilon, mask=given)
        outside = ~mask.expand_as(images)
        assert torch.equal(masked[outside], images[outside])
        assert (masked[~outside] != images[~outside]).any()
        assert (masked - images).abs().max() <= epsilon + 1e-6


@pytest.mark.parametrize("attack", all_attacks(), ids=repr)
@pytest.mark.parametrize("training", [False, True])
def test_attack_leaves_model_alone(attack, training):
    model = tiny_convnet().train(training)
    images, labels = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    attack.perturb(model, images, labels, 0.1)
    assert all(parameter.grad is None for parameter in model.parameters())
    assert all(module.training == training for module in model.modules())


@pytest.mark.parametrize("attack", all_attacks(), ids=repr)
def test_attack_is_reproducible_for_a_seed(attack):
    model = tiny_convnet().eval()
    images, labels = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])

    def run(seed: int) -> Tensor:
        return attack.perturb(model, images, labels, 0.1, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(7), run(7))


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_attack_works_without_grad_mode(context):
    model = tiny_convnet().eval()
    images, labels = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    expected = PGD(steps=3).perturb(model, images, labels, 0.1, generator=torch.Generator().manual_seed(0))
    with context():
        inputs, targets = images.clone(), labels.clone()  # inference tensors under inference_mode
        adv = PGD(steps=3).perturb(model, inputs, targets, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(adv, expected)


def test_early_stop_freezes_fooled_images(trained_mlp, test_batch):
    images, labels = test_batch
    epsilon = 0.2
    plain = PGD(steps=10, random_start=False).perturb(trained_mlp, images, labels, epsilon)
    stopped = PGD(steps=10, random_start=False, early_stop=True).perturb(trained_mlp, images, labels, epsilon)
    assert accuracy(trained_mlp, stopped, labels) <= accuracy(trained_mlp, plain, labels)
    # An image misclassified after the first step is frozen there, i.e. it equals a 1-step PGD of the same size.
    one_step = PGD(steps=1, step_size=2.5 * epsilon / 10, random_start=False).perturb(
        trained_mlp, images, labels, epsilon
    )
    with torch.no_grad():
        fooled_early = trained_mlp(one_step).argmax(dim=1) != labels
    assert fooled_early.any()
    torch.testing.assert_close(stopped[fooled_early], one_step[fooled_early], atol=0, rtol=0)


def test_foreground_mask():
    images = torch.zeros(2, 3, 4, 4)
    images[0, :, 1, 1] = 0.5
    images[1, 0, 2, 2] = 0.2  # channel mean 0.067: background
    mask = foreground_mask(images)
    assert mask.shape == (2, 1, 4, 4) and mask.dtype == torch.bool
    assert mask.sum() == 1 and mask[0, 0, 1, 1]
    assert torch.equal(foreground_mask((images * 255).round().to(torch.uint8)), mask)


# --------------------------------------------------------------------------- strength and reference implementation


def test_attack_strength_ordering(trained_mlp, test_batch):
    images, labels = test_batch
    epsilon = 0.05
    generator = torch.Generator().manual_seed(0)
    clean = accuracy(trained_mlp, images, labels)
    noise = accuracy(trained_mlp, RandomNoise().perturb(trained_mlp, images, labels, epsilon, generator=generator), labels)
    fgsm = accuracy(trained_mlp, FGSM().perturb(trained_mlp, images, labels, epsilon), labels)
    pgd = accuracy(trained_mlp, PGD(steps=20).perturb(trained_mlp, images, labels, epsilon, generator=generator), labels)
    assert clean > 0.95
    assert pgd <= fgsm < noise <= clean
    assert fgsm < clean - 0.2  # the epsilon is large enough for the comparison to mean something


@pytest.mark.parametrize("epsilon", [0.03, 0.1, 0.2])
def test_matches_torchattacks(trained_mlp, test_batch, epsilon):
    images, labels = test_batch
    ours_fgsm = FGSM().perturb(trained_mlp, images, labels, epsilon)
    theirs_fgsm = torchattacks.FGSM(trained_mlp, eps=epsilon)(images, labels)
    torch.testing.assert_close(ours_fgsm, theirs_fgsm, atol=1e-6, rtol=0)
    assert accuracy(trained_mlp, ours_fgsm, labels) == accuracy(trained_mlp, theirs_fgsm, labels)

    steps, step_size = 7, epsilon / 4
    ours_pgd = PGD(steps=steps, step_size=step_size, random_start=False).perturb(trained_mlp, images, labels, epsilon)
    theirs_pgd = torchattacks.PGD(trained_mlp, eps=epsilon, alpha=step_size, steps=steps, random_start=False)(
        images, labels
    )
    torch.testing.assert_close(ours_pgd, theirs_pgd, atol=1e-6, rtol=0)
    assert accuracy(trained_mlp, ours_pgd, labels) == accuracy(trained_mlp, theirs_pgd, labels)


# --------------------------------------------------------------------------- accuracy curves


def naive_curve(model, images, labels, attack, epsilons, mask_threshold=None) -> list[int]:
    """Attack every image at every epsilon, then AND the per-epsilon correctness cumulatively."""
    mask = foreground_mask(images, mask_threshold) if mask_threshold is not None else None
    with torch.no_grad():
        correct = model(images).argmax(dim=1) == labels
    counts = []
    for epsilon in epsilons:
        adv = attack.perturb(model, images, labels, epsilon, mask=mask)
        with torch.no_grad():
            correct &= model(adv).argmax(dim=1) == labels
        counts.append(int(correct.sum()))
    return counts


@pytest.mark.parametrize(
    "attack", [FGSM(), PGD(steps=5, random_start=False), PGD(steps=5, random_start=False, early_stop=True)], ids=repr
)
@pytest.mark.parametrize("mask_threshold", [None, 0.5])
def test_curve_equals_naive_cumulative_evaluation(trained_mlp, test_batch, attack, mask_threshold):
    images, labels = test_batch
    curve = accuracy_curve(trained_mlp, images, labels, attack, EPSILONS, mask_threshold=mask_threshold, batch_size=37)
    assert [point.epsilon for point in curve] == EPSILONS
    assert all(isinstance(point, CurvePoint) and point.n_images == len(labels) for point in curve)
    naive = naive_curve(trained_mlp, images, labels, attack, EPSILONS, mask_threshold)
    assert [point.correct for point in curve] == naive
    assert curve[0].accuracy == accuracy(trained_mlp, images, labels)
    assert all(later.correct <= earlier.correct for earlier, later in itertools.pairwise(curve))
    assert curve[-1].correct < curve[0].correct


def test_curve_is_reproducible_and_restores_mode(trained_mlp, test_batch):
    images, labels = test_batch
    attack = PGD(steps=3, early_stop=True)  # random start: the seed matters
    trained_mlp.train()
    try:
        first = accuracy_curve(trained_mlp, images, labels, attack, EPSILONS, seed=3, batch_size=100)
        assert trained_mlp.training
        second = accuracy_curve(trained_mlp, images, labels, attack, EPSILONS, seed=3, batch_size=100)
    finally:
        trained_mlp.eval()
    assert first == second
    assert all(later.accuracy <= earlier.accuracy for earlier, later in itertools.pairwise(first))


def test_curve_sorts_and_deduplicates_epsilons(trained_mlp, test_batch):
    images, labels = test_batch
    curve = accuracy_curve(trained_mlp, images, labels, FGSM(), [0.1, 0.0, 0.05, 0.1])
    assert [point.epsilon for point in curve] == [0.0, 0.05, 0.1]


def test_curve_respects_the_mask(trained_mlp, test_batch):
    images, labels = test_batch
    # No pixel is brighter than 1, so the mask is empty and no attack can change anything.
    curve = accuracy_curve(trained_mlp, images, labels, PGD(steps=3), EPSILONS, mask_threshold=1.0)
    assert len({point.correct for point in curve}) == 1
    unmasked = accuracy_curve(trained_mlp, images, labels, PGD(steps=3), EPSILONS)
    masked = accuracy_curve(trained_mlp, images, labels, PGD(steps=3), EPSILONS, mask_threshold=0.55)
    assert masked[2].correct > unmasked[2].correct


def test_curve_accepts_uint8_images(trained_mlp, test_batch):
    images, labels = test_batch
    as_bytes = (images * 255).round().to(torch.uint8)
    from_bytes = accuracy_curve(trained_mlp, as_bytes, labels, FGSM(), EPSILONS)
    from_floats = accuracy_curve(trained_mlp, as_bytes.float() / 255, labels, FGSM(), EPSILONS)
    assert from_bytes == from_floats


@pytest.mark.parametrize("attack", [RandomNoise(), PGD(steps=2)], ids=repr)
def test_curve_noise_and_gradient_attacks_run(trained_mlp, test_batch, attack):
    images, labels = test_batch
    curve = accuracy_curve(trained_mlp, images, labels, attack, [0.0, 0.3], progress=True)
    assert curve[1].correct <= curve[0].correct


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("epsilon", [-0.1, 1.5, float("nan"), float("inf")])
def test_bad_epsilon_is_a_user_error(epsilon):
    model = tiny_convnet().eval()
    with pytest.raises(UserError, match="epsilon"):
        PGD().perturb(model, torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), epsilon)
    with pytest.raises(UserError, match="epsilon"):
        accuracy_curve(model, torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), FGSM(), [0.0, epsilon])


def test_registry():
    assert ATTACKS.names() == ["fgsm", "noise", "pgd"]
    assert ATTACKS.get("pgd") is PGD
    with pytest.raises(UserError, match="unknown attack 'cw'"):
        ATTACKS.get("cw")


def test_bad_arguments_are_user_errors():
    model = tiny_convnet().eval()
    with pytest.raises(UserError):
        PGD(steps=0)
    with pytest.raises(UserError):
        FGSM(step_size=-1.0)
    with pytest.raises(UserError, match="float images"):
        FGSM().perturb(model, torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]), 0.1)
    with pytest.raises(UserError, match="mask"):
        FGSM().perturb(model, torch.rand(2, 1, 8, 8), torch.tensor([0, 1]), 0.1, mask=torch.ones(3, 1, 8, 8))
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        accuracy_curve(model, torch.rand(2, 1, 8, 8) * 2, torch.tensor([0, 1]), FGSM(), [0.1])
