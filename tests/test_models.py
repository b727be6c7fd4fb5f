"""DCGAN networks: shapes and configs for every size, save/load round trip, registry."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.errors import UserError
from core.hub import save_model
from core.models import MODELS, DCGANConfig, DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_shapes_for_every_size(size: int, channels: int, num_classes: int) -> None:
    config = DCGANConfig(image_size=size, channels=channels, z_dim=16, num_classes=num_classes, width=8)
    generator, discriminator = DCGANGenerator(config), DCGANDiscriminator(config)
    labels = torch.arange(3) % num_classes if num_classes else None
    images = generator(torch.randn(3, 16), labels)
    assert images.shape == (3, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output range
    assert discriminator(images, labels).shape == (3,)


def test_conditioning_changes_the_output() -> None:
    generator = DCGANGenerator(DCGANConfig(z_dim=8, num_classes=10, width=8)).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    images = generator(z, torch.tensor([0, 7]))
    assert not torch.allclose(images[0], images[1])


def test_conditional_networks_require_labels() -> None:
    config = DCGANConfig(z_dim=8, num_classes=10, width=8)
    with pytest.raises(ValueError, match="pass labels"):
        DCGANGenerator(config)(torch.randn(2, 8))
    with pytest.raises(ValueError, match="pass labels"):
        DCGANDiscriminator(config)(torch.randn(2, 1, 28, 28))


def test_invalid_configs_are_user_errors() -> None:
    family = MODELS.get("dcgan")
    with pytest.raises(UserError, match="image_size must be one of"):
        family.make_config(image_size=48)
    with pytest.raises(UserError, match="unknown dcgan setting"):
        family.make_config(image_size=28, depth=3)
    with pytest.raises(UserError, match="unknown model 'stylegan'; known: acgan, began, cgan, classifier, cocogan, cyclegan, dcgan"):
        MODELS.get("stylegan")


def test_save_load_round_trip_is_exact_and_strict(tmp_path) -> None:
    config = DCGANConfig(image_size=32, channels=3, z_dim=12, num_classes=4, width=8, class_names=list("abcd"))
    generator = DCGANGenerator(config).eval()
    folder = save_model(generator, tmp_path / "g")
    saved = json.loads((folder / "config.json").read_text())
    assert saved["family"] == "dcgan" and saved["class_names"] == list("abcd") and saved["image_size"] == 32

    loaded = DCGANGenerator.from_pretrained(str(folder), strict=True).eval()
    assert loaded.config == config
    z, labels = torch.randn(5, 12), torch.tensor([0, 1, 2, 3, 0])
    torch.testing.assert_close(loaded(z, labels), generator(z, labels), rtol=0, atol=0)

    # strict loading refuses weights that do not match the architecture
    weights = load_file(str(folder / "model.safetensors"))
    weights["unexpected.weight"] = torch.zeros(1)
    save_file(weights, str(folder / "model.safetensors"))
    with pytest.raises(RuntimeError, match="unexpected"):
        DCGANGenerator.from_pretrained(str(folder), strict=True)
