"""The shared inference API: loading, determinism, labels, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import UserError
from core.inference import GeneratorPipeline, list_models, resolve_source, slerp


def test_sample_is_uint8_and_deterministic_for_a_seed(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")
    images = pipe.sample(6, seed=3)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu").sample(6, seed=3))
    assert not np.array_equal(images, pipe.sample(6, seed=4))


def test_seeding_leaves_the_global_rng_alone(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    pipe.sample(2, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_labels_by_id_name_or_list(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")
    assert pipe.class_names == ["Shirt", "Bag", "Boot"]
    assert pipe.labels("boot", 2).tolist() == [2, 2]
    assert pipe.labels([0, "Bag", "2"], 3).tolist() == [0, 1, 2]
    assert pipe.labels(None, 5).tolist() == [0, 1, 2, 0, 1]
    by_name, by_id = pipe.sample(4, seed=1, labels="Bag"), pipe.sample(4, seed=1, labels=1)
    np.testing.assert_array_equal(by_name, by_id)
    with pytest.raises(UserError, match="unknown class 'Hat'; known: Shirt, Bag, Boot"):
        pipe.sample(1, labels="Hat")
    with pytest.raises(UserError, match="out of range"):
        pipe.sample(1, labels=7)
    with pytest.raises(UserError, match="2 labels for 3 images"):
        pipe.sample(3, labels=[0, 1])
    with pytest.raises(UserError, match="from 1 to"):
        pipe.sample(0)


def test_interpolation_starts_and_ends_at_the_seeds(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")
    strip = pipe.interpolate(1, 2, steps=5, label="Shirt")
    assert strip.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(strip[0], pipe.sample(1, seed=1, labels="Shirt")[0])
    np.testing.assert_array_equal(strip[-1], pipe.sample(1, seed=2, labels="Shirt")[0])


def test_slerp_keeps_the_norm_of_equal_norm_vectors() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(a, b, torch.linspace(0, 1, 7))
    torch.testing.assert_close(path.norm(dim=1), torch.ones(7))
    torch.testing.assert_close(path[3], torch.tensor([2**-0.5, 2**-0.5]))


def test_unknown_sources_fail_with_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="not found"):
        resolve_source(tmp_path / "missing.folder")
    with pytest.raises(UserError, match="could not load 'someone/some-model'"):
        GeneratorPipeline.from_pretrained("someone/some-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no config.json"):
        GeneratorPipeline.from_pretrained(tmp_path / "empty")


def test_list_models_filters_by_family(tiny_generator_dir) -> None:
    root = tiny_generator_dir.parent
    (root / "not-a-model").mkdir()
    assert list_models(root) == ["dcgan-tiny"]
    assert list_models(root, family="dcgan") == ["dcgan-tiny"]
    assert list_models(root, family="cocogan") == []


@pytest.fixture
def infogan_dir(tmp_path):
    """A tiny unsupervised infoGAN (a 4-valued categorical code and 2 continuous codes), random weights."""
    from core.hub import save_model
    from core.models import MODELS

    spec = MODELS.get("infogan")
    torch.manual_seed(0)
    config = spec.make_config(image_size=28, channels=1, z_dim=8, arch="infogan", hidden=32, categorical_codes=4)
    return save_model(spec.build(config)["generator"], tmp_path / "infogan-tiny", family="infogan")


def test_infogan_codes_are_drawn_with_the_seed_or_set_by_hand(infogan_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(infogan_dir, device="cpu")
    assert (pipe.categorical_codes, pipe.continuous_codes, pipe.num_classes) == (4, 2, 0)
    drawn = pipe.codes(None, 5, seed=1)
    assert drawn.shape == (5, 6) and torch.equal(drawn, pipe.codes(None, 5, seed=1))
    assert torch.equal(drawn[:, :4].sum(1), torch.ones(5)) and drawn[:, 4:].abs().max() <= 1  # one-hot, then U[-1, 1]
    fixed = pipe.codes({"continuous": [0.5, -2.0], "categorical": 3}, 5, seed=1)
    assert torch.equal(fixed[:, 4:], torch.tensor([[0.5, -2.0]]).expand(5, 2)) and (fixed[:, 3] == 1).all()
    # fixing the codes changes the images, fixing them to what the seed drew does not
    base = pipe.sample(5, seed=1)
    assert not np.array_equal(base, pipe.sample(5, seed=1, codes={"continuous": [2.0, 2.0]}))
    same = {"categorical": drawn[:, :4].argmax(1).tolist(), "continuous": drawn[:, 4:].tolist()}
    np.testing.assert_array_equal(base, pipe.sample(5, seed=1, codes=same))


def test_a_traversal_moves_one_code_and_nothing_else(infogan_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(infogan_dir, device="cpu")
    walk = pipe.traverse(seed=2, code=1, values=[-1.0, 0.0, 1.0])
    assert walk.shape == (3, 28, 28, 1) and not np.array_equal(walk[0], walk[2])
    base = pipe.codes(None, 1, seed=2)[0]
    for value, image in zip([-1.0, 0.0, 1.0], walk):
        codes = {"categorical": int(base[:4].argmax()), "continuous": [float(base[4]), value]}
        np.testing.assert_array_equal(image, pipe.sample(1, seed=2, codes=codes)[0])


@pytest.mark.parametrize("codes, message", [
    ({"continuous": [0.5]}, "give 2 continuous code value"),
    ({"continuous": [9.0, 0.0]}, "keep them within"),
    ({"continuous": ["a", 0.0]}, "continuous codes are numbers"),
    ({"categorical": 7}, "categorical code values are 0..3"),
    ({"style": 1}, "unknown code kind"),
])
def test_bad_codes_are_one_line_errors(infogan_dir, codes, message) -> None:
    with pytest.raises(UserError, match=message):
        GeneratorPipeline.from_pretrained(infogan_dir, device="cpu").sample(2, seed=0, codes=codes)


def test_what_a_generator_takes_is_what_its_family_declares(tiny_generator_dir) -> None:
    pipe = GeneratorPipeline.from_pretrained(tiny_generator_dir, device="cpu")  # a DCGAN: labels, no codes, no parts
    assert pipe.family.name == "dcgan" and pipe.family.accepts == {"labels"}
    with pytest.raises(UserError, match="takes no latent codes"):
        pipe.sample(2, codes={"continuous": [0.0]})
    with pytest.raises(UserError, match="has no continuous codes"):
        pipe.traverse(seed=0, code=0, values=[0.0])
    with pytest.raises(UserError, match="draws whole images"):
        pipe.part(seed=0, row=0, col=0)
