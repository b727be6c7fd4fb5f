"""Contract tests over the registries: a family, objective or pipeline gets these checks by being registered.

- every family builds from a tiny config, and an exported network round-trips save/load exactly;
- every family has a recipe, and its objective trains 2 steps and resumes to the bit-identical state;
- every generator pipeline is seed-deterministic, and what it takes (labels, codes) is what its family declares;
- every translator pipeline is deterministic for a seed, uint8 in and out, and takes the targets its mode implies.

tests/test_onnx.py adds, over the same registry and tiny configs: every family exports to ONNX and matches PyTorch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.hub import save_model
from core.inference import GeneratorPipeline, TranslatorPipeline, load_network
from core.models import MODELS
from core.objectives import OBJECTIVES
from core.train import Trainer, resolve_config, train
from core.train.checkpoint import load_state
from core.train.config import RECIPES

FAMILIES = MODELS.names()
GENERATORS = [name for name in FAMILIES if MODELS.get(name).kind == "generator"]
TRANSLATORS = [name for name in FAMILIES if MODELS.get(name).kind == "translator"]


def recipe_of(family: str) -> str:
    """The first recipe that trains `family` (every family has one)."""
    return next(name for name, recipe in sorted(RECIPES.items()) if recipe["model"] == family)


# Per-family extras that keep the smoke runs small where the smoke preset alone does not.
TINY = {
    "dcgan": {"width": 8}, "cocogan": {"width": 8, "max_width": 16}, "classifier": {},
    "progan": {"width": 8, "max_width": 16},
    "ddpm": {"width": 8, "max_width": 16, "sampling_steps": 4},  # each sampler step is a U-Net pass
}
UNCONDITIONAL_32PX = ("cocogan", "progan")  # patch-based or growing: 32 px (28 padded), no classes


# A translator's data mode fills in what it was trained on (core.data.modes.DataMode.model_settings).
TRANSLATOR_MODES = {
    "paired": {"in_channels": 1, "source": "edges"},
    "unpaired": {"domains": ["t-shirt", "longsleeve"]},
    "domains": {"num_classes": 3, "class_names": ["dress", "hat", "pants"]},
    "attributes": {"num_classes": 3, "class_names": ["dress", "hat", "pants"], "color_names": ["black", "white", "red"]},
}


def tiny_config(family: str, **values):
    """The family's typed config at a tiny size, for 28 px grayscale (32 px for COCO-GAN and ProGAN; translators:
    64 px colour, with what their first data mode says)."""
    spec = MODELS.get(family)
    odd = family in UNCONDITIONAL_32PX
    base = {"image_size": 32 if odd else 28, "channels": 1, "num_classes": 0 if odd else 3}
    if spec.kind == "translator":
        base = {"image_size": 64, "channels": 3, "in_channels": 3, "num_classes": 0, "max_width": 16,
                **TRANSLATOR_MODES[spec.modes[0]]}
    fields = {f.name for f in dataclasses.fields(spec.config_class)}
    defaults = {"width": 8, "hidden": 32, "feature_dim": 8, "stages": 2, "bottleneck": 8, "z_dim": 8, **TINY.get(family, {})}
    return spec.make_config(**{k: v for k, v in {**base, **defaults, **values}.items() if k in fields})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_builds_and_round_trips_exactly(family: str, tmp_path) -> None:
    spec = MODELS.get(family)
    torch.manual_seed(0)
    networks = spec.build(tiny_config(family))
    assert set(networks) == set(spec.networks) and spec.exported in networks
    exported = networks[spec.exported].eval()
    folder = save_model(exported, tmp_path / family, family=family)
    loaded = load_network(folder, spec.kind).eval()
    assert loaded.family == family and type(loaded) is type(exported)
    state, again = exported.state_dict(), loaded.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_a_recipe_whose_settings_its_objective_reads(family: str) -> None:
    config = resolve_config(recipe_of(family), "smoke")
    assert config.model == family
    objective = OBJECTIVES.get(MODELS.get(family).objective)
    assert set(config.options) <= {f.name for f in dataclasses.fields(objective.Options)}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_objective_trains_and_resumes_bit_exactly(family: str, real_data_env, tmp_path, assert_same_state) -> None:
    settings = {"steps": 4, "checkpoint_every": 2, "sample_every": 4, "log_every": 1, "model_config": TINY.get(family, {})}
    if MODELS.get(family).kind == "classifier":
        settings["split"] = "test"  # the classifier's held-out evaluation is its slowest part; any split will do
    config = resolve_config(recipe_of(family), "smoke", settings)
    straight = tmp_path / "straight"
    train(config, straight, progress=False)

    halted = tmp_path / "halted"
    first = Trainer(config, halted, progress=False)
    first.train_step(), first.train_step()  # the same run, stopped after step 2 (schedules depend on `steps`)
    first.save_checkpoint()
    del first
    resumed = Trainer(config, halted, progress=False)
    assert resumed.step == 2
    resumed.fit()
    assert_same_state(load_state(straight / "checkpoints" / "last"), load_state(halted / "checkpoints" / "last"))


@pytest.mark.parametrize("family", GENERATORS)
def test_every_generator_pipeline_is_seed_deterministic(family: str, tmp_path) -> None:
    torch.manual_seed(0)
    spec = MODELS.get(family)
    network = spec.build(tiny_config(family))[spec.exported]
    pipe = GeneratorPipeline.from_pretrained(save_model(network, tmp_path / family, family=family), device="cpu")
    first, again, other = pipe.sample(6, seed=3), pipe.sample(6, seed=3), pipe.sample(6, seed=4)
    assert first.dtype == np.uint8 and first.shape == (6, pipe.image_size, pipe.image_size, 1)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    # what the pipeline takes is what the family declares, never guessed from the network
    assert (pipe.num_classes > 0) == ("labels" in spec.accepts and network.config.num_classes > 0)
    assert (pipe.code_dim > 0) == ("codes" in spec.accepts)
    assert pipe.is_patch_based == ("parts" in spec.accepts)


@pytest.mark.parametrize("family", TRANSLATORS)
def test_every_translator_pipeline_is_seed_deterministic(family: str, tmp_path) -> None:
    torch.manual_seed(0)
    spec = MODELS.get(family)
    network = spec.build(tiny_config(family))[spec.exported]
    pipe = TranslatorPipeline.from_pretrained(save_model(network, tmp_path / family, family=family), device="cpu")
    photos = np.random.default_rng(0).integers(0, 256, (3, 80, 70, 3), dtype=np.uint8)
    target = pipe.targets[-1] if pipe.targets else None
    first, again = pipe.translate(photos, target=target, seed=3), pipe.translate(photos, target=target, seed=3)
    assert first.dtype == np.uint8 and first.shape == (3, 64, 64, pipe.channels) and np.array_equal(first, again)
    other = pipe.translate(photos, target=target, seed=4)
    assert np.array_equal(first, other) == (pipe.style_dim == 0)  # only a style code makes the seed matter
    assert pipe.mode == spec.modes[0] and bool(pipe.targets) == (pipe.mode != "paired")
