"""CycleGAN: the bundle's directions, the cycle and identity terms, the image pool and its resume, a smoke run.

Build-and-round-trip and the bit-exact resume come with registering (tests/test_contracts.py).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import UserError
from core.models import MODELS
from core.models.cyclegan import CycleGANConfig, CycleGANDiscriminator, CycleGANTranslator
from core.objectives import OBJECTIVES, make_options
from core.objectives.cyclegan import CycleGANObjective, ImagePool, cycle_loss, identity_loss
from core.train import resolve_config, train
from core.train.checkpoint import load_state
from core.train.config import TrainConfig

RECIPE = "cyclegan-tshirt2longsleeve-64"


def tiny(**values) -> CycleGANConfig:
    settings = {"image_size": 24, "domains": ["t-shirt", "longsleeve"], "width": 2, "max_width": 4, "blocks": 1,
                **values}
    return MODELS.get("cyclegan").make_config(**settings)


def images(n: int, size: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def constant_images(values) -> torch.Tensor:
    """One tiny image per value, every pixel that value (so an image is known by its value)."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 3, 2, 2).clone()


def ids(batch: torch.Tensor) -> list[float]:
    return batch[:, 0, 0, 0].tolist()


# --------------------------------------------------------------------------- networks


def test_translate_picks_the_direction_by_target_id() -> None:
    torch.manual_seed(0)
    translator = CycleGANTranslator(tiny()).eval()
    x = images(4)
    with torch.no_grad():
        to_b, to_a = translator.ab(x), translator.ba(x)
        assert not torch.allclose(to_b, to_a)
        assert torch.equal(translator(x), to_b) and torch.equal(translator(x, 0), to_a)
        assert torch.equal(translator.translate(x), to_b)
        assert torch.equal(translator.translate(x, torch.ones(4, dtype=torch.long)), to_b)
        assert torch.equal(translator.translate(x, torch.zeros(4, dtype=torch.long)), to_a)
        mixed = translator.translate(x, torch.tensor([1, 0, 0, 1]))
    # each image alone through its own direction (instance norm: the batch does not matter)
    torch.testing.assert_close(mixed, torch.stack([to_b[0], to_a[1], to_a[2], to_b[3]]), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="0 \\(A\\) or 1 \\(B\\)"):
        translator.translate(x, torch.tensor([1, 2, 0, 1]))
    with pytest.raises(ValueError, match="target ids for"):
        translator.translate(x, torch.tensor([1, 0]))


@pytest.mark.parametrize("size", [24, 64, 128])
def test_shapes_at_any_size_divisible_by_four(size: int) -> None:
    config = tiny(image_size=size)
    translator, discriminator = CycleGANTranslator(config), CycleGANDiscriminator(config)
    x = images(2, size)
    with torch.no_grad():
        assert translator(x).shape == translator(x, 0).shape == x.shape
        assert translator(x).abs().max() <= 1
        scores = discriminator(x, 1)
    side = {24: 1, 64: 6, 128: 14}[size]  # one score per 70x70 patch
    assert scores.shape == (2, 1, side, side) == discriminator(x, 0).shape


def test_the_bundle_holds_two_generators_of_the_configured_depth() -> None:
    family = MODELS.get("cyclegan")
    assert family.kind == "translator" and family.exported == "translator" and family.modes == ("unpaired",)
    translator = CycleGANTranslator(tiny(blocks=3))
    assert {name for name, _ in translator.named_children()} == set(family.components)
    blocks = [m for m in translator.ab.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 3
    assert sum(p.numel() for p in translator.ab.parameters()) == sum(p.numel() for p in translator.ba.parameters())


@pytest.mark.parametrize("values", [{"blocks": 0}, {"blocks": 13}, {"image_size": 30}, {"image_size": 20},
                                    {"norm": "layer"}])
def test_bad_configs_are_one_line_errors(values) -> None:
    with pytest.raises(UserError):
        tiny(**values)


# --------------------------------------------------------------------------- losses


def test_cycle_and_identity_losses_are_zero_for_identity_generators() -> None:
    a, b = images(3, seed=1), images(3, seed=2)
    same = nn.Identity()
    assert cycle_loss(same, same, a, b).item() == 0.0
    assert identity_loss(same, same, a, b).item() == 0.0
    # and what L1 says for generators that halve: the cycle gives x / 4 (|x / 4 - x| = 3/4 |x|), identity x / 2
    halve = lambda x: 0.5 * x
    size = a.abs().mean() + b.abs().mean()
    torch.testing.assert_close(cycle_loss(halve, halve, a, b), 0.75 * size)
    torch.testing.assert_close(identity_loss(halve, halve, a, b), 0.5 * size)


def objective_with(translator: nn.Module, discriminator: nn.Module, **options) -> CycleGANObjective:
    config = TrainConfig(model="cyclegan", options=options)
    return OBJECTIVES.get("cyclegan")({"translator": translator, "discriminator": discriminator}, config)


def test_the_objective_cycles_through_the_bundle_and_is_exactly_zero_for_identities() -> None:
    config = tiny()
    translator = CycleGANTranslator(config)
    translator.ab, translator.ba = nn.Identity(), nn.Identity()
    objective = objective_with(translator, CycleGANDiscriminator(config))
    batch = {"A": images(2, seed=3), "B": images(2, seed=4)}
    _, logs = objective.loss("G", batch)
    assert logs["cycle"].item() == 0.0 and logs["identity"].item() == 0.0
    assert cycle_loss(objective.to_b, objective.to_a, batch["A"], batch["B"]).item() == 0.0


def test_generator_phase_hands_its_translations_to_the_discriminator_phase() -> None:
    torch.manual_seed(0)
    config = tiny()
    translator, discriminator = CycleGANTranslator(config), CycleGANDiscriminator(config)
    objective = objective_with(translator, discriminator, pool_size=0)
    batch = {"A": images(2, seed=3), "B": images(2, seed=4)}
    loss_g, logs = objective.loss("G", batch)
    assert loss_g.requires_grad and {"loss_g", "cycle", "identity"} <= set(logs)
    fake_a, fake_b = objective.pending
    torch.testing.assert_close(fake_b, translator.ab(batch["A"]).detach())
    torch.testing.assert_close(fake_a, translator.ba(batch["B"]).detach())
    loss_d, logs = objective.loss("D", batch)
    assert objective.pending is None and {"loss_d", "loss_d_a", "loss_d_b"} <= set(logs)
    # with nothing pending (a repeated D phase) it translates the batch itself: the same loss here
    again, _ = objective.loss("D", batch)
    torch.testing.assert_close(again, loss_d)
    # without the identity term its translations are never computed
    no_identity = objective_with(translator, discriminator, identity_weight=0.0)
    assert no_identity.loss("G", batch)[1]["identity"].item() == 0.0


@pytest.mark.parametrize("options", [{"loss": "nope"}, {"cycle_weight": -1}, {"identity_weight": float("inf")},
                                     {"pool_size": -1}, {"pool_size": 2.5}, {"lambda_a": 10}])
def test_bad_options_are_one_line_errors(options) -> None:
    with pytest.raises(UserError):
        make_options(CycleGANObjective, options)


# --------------------------------------------------------------------------- image pool


def test_pool_returns_its_input_until_full() -> None:
    pool = ImagePool(6)
    first, second = constant_images([1, 2, 3]), constant_images([4, 5, 6])
    assert torch.equal(pool.query(first), first) and len(pool) == 3
    assert torch.equal(pool.query(second), second) and len(pool) == 6
    assert sorted(ids(pool.images)) == [1, 2, 3, 4, 5, 6]


def test_pool_of_size_zero_passes_through() -> None:
    pool = ImagePool(0)
    batch = constant_images([1, 2, 3])
    for _ in range(3):
        assert torch.equal(pool.query(batch), batch)
    assert len(pool) == 0 and pool.state_dict()["images"].numel() == 0


def test_a_full_pool_mixes_stored_and_new_images_and_loses_none() -> None:
    torch.manual_seed(0)
    pool = ImagePool(8)
    pool.query(constant_images(range(8)))
    new_seen = stored_seen = 0
    for start in range(8, 200, 16):
        stored_before = Counter(ids(pool.images))
        batch = constant_images(range(start, start + 16))
        out = pool.query(batch)
        assert out.shape == batch.shape and len(pool) == 8
        # every image either comes back or stays in the pool: nothing is lost or made up
        assert stored_before + Counter(ids(batch)) == Counter(ids(pool.images)) + Counter(ids(out))
        is_new = out[:, 0, 0, 0] == batch[:, 0, 0, 0]
        new_seen, stored_seen = new_seen + int(is_new.sum()), stored_seen + int((~is_new).sum())
    assert 0.35 < new_seen / (new_seen + stored_seen) < 0.65  # each new image kept with probability 1/2


def test_pool_is_deterministic_under_a_seed() -> None:
    def run(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        pool = ImagePool(4)
        return [pool.query(images(3, 4, seed=i)) for i in range(6)]

    first, again, other = run(1), run(1), run(2)
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert not all(torch.equal(x, y) for x, y in zip(first, other))


def test_pool_resumes_to_identical_future_queries() -> None:
    torch.manual_seed(0)
    pool = ImagePool(5)
    for i in range(3):
        pool.query(images(3, 4, seed=i))
    state, rng = pool.state_dict(), torch.get_rng_state()
    future = [pool.query(images(3, 4, seed=10 + i)) for i in range(4)]

    resumed = ImagePool(5)
    resumed.load_state_dict(state)  # the state is a copy: the queries above did not write into it
    torch.set_rng_state(rng)
    assert all(torch.equal(x, resumed.query(images(3, 4, seed=10 + i))) for i, x in enumerate(future))
    assert torch.equal(resumed.images, pool.images)
    with pytest.raises(ValueError, match="cannot hold"):
        ImagePool(2).load_state_dict(state)


def test_objective_state_round_trips_its_pools() -> None:
    torch.manual_seed(0)
    config = tiny()
    objective = objective_with(CycleGANTranslator(config), CycleGANDiscriminator(config), pool_size=3)
    assert objective.state_dict()["pool_A"]["images"].numel() == 0  # empty before the first step
    batch = {"A": images(2, seed=3), "B": images(2, seed=4)}
    for _ in range(2):
        objective.loss("G", batch), objective.loss("D", batch)
    state = objective.state_dict()
    assert state["pool_A"]["images"].shape == (3, 3, 24, 24) and state["pending"] == []
    other = objective_with(CycleGANTranslator(config), CycleGANDiscriminator(config), pool_size=3)
    other.load_state_dict(state)
    assert all(torch.equal(other.pools[k].images, objective.pools[k].images) for k in "AB")
    with pytest.raises(ValueError, match="state has"):
        other.load_state_dict({})


# --------------------------------------------------------------------------- training


def test_the_recipe_smoke_preset_trains_and_exports_a_translator(real_data_env, tmp_path) -> None:
    from core.inference import TranslatorPipeline

    config = resolve_config(RECIPE, "smoke", {"steps": 2, "sample_every": 2, "checkpoint_every": 2})
    assert config.options == {} or set(config.options) <= {"loss", "cycle_weight", "identity_weight", "pool_size"}
    result = train(config, tmp_path / "run", progress=False)
    assert result.step == 2
    state = load_state(tmp_path / "run" / "checkpoints" / "last")
    assert state["objective"]["pool_B"]["images"].shape[0] == 2 * config.batch_size  # not full yet: all kept
    assert (tmp_path / "run" / "samples" / "step_000002.png").is_file()
    pipe = TranslatorPipeline.from_pretrained(tmp_path / "run" / "translator", device="cpu")
    assert pipe.targets == ["t-shirt", "longsleeve"]
    photo = np.full((64, 64, 3), 200, np.uint8)
    to_b, to_a = pipe.translate(photo), pipe.translate(photo, target="t-shirt")
    assert to_b.shape == to_a.shape == (1, 64, 64, 3) and not np.array_equal(to_b, to_a)
