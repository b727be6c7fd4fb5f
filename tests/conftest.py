"""Shared pytest fixtures, one section per area."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# --- data fixtures ---


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real data: `$DATA_ROOT`, default ../shared/data, relative to the project root."""
    return (PROJECT_ROOT / os.environ.get("DATA_ROOT", "../shared/data")).resolve()


@pytest.fixture
def fgl_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty dataset cache, so tests never read or fill the project's cache."""
    cache = tmp_path / "fgl-cache"
    monkeypatch.setenv("FGL_CACHE", str(cache))
    return cache


# --- model and training fixtures ---


@pytest.fixture
def real_data_env(data_root: Path, monkeypatch: pytest.MonkeyPatch, fgl_cache: Path) -> Path:
    """Point DATA_ROOT at the shared real data (absolute, so tests may chdir) with a private cache."""
    monkeypatch.setenv("DATA_ROOT", str(data_root))
    return data_root


@pytest.fixture
def tiny_generator_dir(tmp_path: Path) -> Path:
    """A tiny class-conditional DCGAN exported in Hub format (random weights)."""
    from core.hub import save_model
    from core.models import DCGANConfig, DCGANGenerator

    torch.manual_seed(0)
    config = DCGANConfig(image_size=28, channels=1, z_dim=8, num_classes=3, width=8, class_names=["Shirt", "Bag", "Boot"])
    return save_model(DCGANGenerator(config), tmp_path / "dcgan-tiny")


@pytest.fixture
def make_tiny_dcgan():
    """Export a tiny Fashion-MNIST DCGAN (random weights) with the training.json an export writes.

    `make_tiny_dcgan(folder, train_overrides=None, seed=0)`; the recipe is
    dcgan-fashion-mnist's smoke preset, so benchmarks can rebuild its training.
    """
    import json

    from torchvision.datasets import FashionMNIST

    from core.hub import save_model
    from core.models import DCGANConfig, DCGANGenerator
    from core.train.config import resolve_config

    def export(folder: Path, train_overrides: dict | None = None, seed: int = 0) -> Path:
        overrides = {"steps": 2, "model_config": {"z_dim": 8}, **(train_overrides or {})}
        train = resolve_config("dcgan-fashion-mnist", "smoke", overrides)
        torch.manual_seed(seed)
        config = DCGANConfig(image_size=28, channels=1, z_dim=8, num_classes=10, width=8,
                             critic_norm=train.model_config.get("critic_norm", "none"),  # as the recipe trains it
                             class_names=list(FashionMNIST.classes))
        save_model(DCGANGenerator(config), folder)
        record = {"summary": {"recipe": train.recipe, "preset": train.preset}, "config": train.to_dict()}
        (folder / "training.json").write_text(json.dumps(record))
        return folder

    return export


@pytest.fixture
def broken_generator_dir(tmp_path: Path) -> Path:
    """A generator folder a benchmark cannot use: a config.json, but no weights and no training.json."""
    folder = tmp_path / "dcgan-broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"family": "dcgan", "z_dim": 8}')
    return folder


@pytest.fixture
def tiny_classifier_dir(tmp_path: Path) -> Path:
    """A small conv classifier for 28 px grayscale images, exported in Hub format (random weights)."""
    from core.hub import save_model
    from core.models import Classifier, ClassifierConfig

    torch.manual_seed(0)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    config = ClassifierConfig(arch="cnn", width=4, stages=2, feature_dim=8, class_names=names)
    return save_model(Classifier(config), tmp_path / "classifier-tiny")


@pytest.fixture
def assert_same_state():
    """A check that two trainer states are identical: same step, weights, optimizer moments, objective state and
    RNG (wall-clock time may differ). Resumed runs must pass it against uninterrupted ones."""
    from core.train.checkpoint import flatten

    def check(a: dict, b: dict) -> None:
        a, b = ({k: v for k, v in state.items() if k != "train_seconds"} for state in (a, b))
        skeleton_a, tensors_a = flatten(a)
        skeleton_b, tensors_b = flatten(b)
        assert skeleton_a == skeleton_b
        for key in tensors_a:
            assert torch.equal(tensors_a[key], tensors_b[key]), key

    return check


# --- app fixtures ---


@pytest.fixture
def space_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Space as it runs in tests: no network, no analytics, no files left in /tmp/gradio."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def offline(space_env: None, monkeypatch: pytest.MonkeyPatch, models_root: Path) -> None:
    """`space_env`, showing the tiny models of the test module's own `models_root` fixture."""
    monkeypatch.setenv("MODEL_SOURCE", str(models_root))


@pytest.fixture
def run_in_space(tmp_path: Path):
    """run_in_space(folder, script) -> the JSON the script prints last, run with `python -c` in a built Space folder
    as the Space runs it: offline, no analytics, Gradio's cache in tmp_path, no PYTHONPATH or MODEL_SOURCE from here."""
    import json
    import os
    import subprocess
    import sys

    def run(folder: Path, script: str, timeout: int = 180) -> dict:
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MODEL_SOURCE")}
        env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
        done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def free_port() -> int:
    """A TCP port on localhost that nothing listens on, for serving a Space in a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
