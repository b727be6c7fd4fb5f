"""ONNX export and the onnxruntime backend, over the model registry: a family gets these checks by being registered.

- every family built from its tiny contract config exports to model.onnx and matches PyTorch through its pipeline,
  loaded as users load it, at batch 1 and 64: images within one grey level, classifiers the same class and
  probabilities within 1e-4; the graph takes exactly what the family declares;
- a network left in training mode (dropout, batch norm) is exported in eval mode, and the batch axis is dynamic;
- a folder without model.onnx, a stale or damaged one, an unknown backend and an unknown model are one-line errors;
- cards show the export's figures, the Spaces serve BACKEND=onnx (COCO-GAN's and the attacks' stay on torch).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_contracts import tiny_config  # the contract tests' tiny configs (pytest puts tests/ on the path)

import core.onnx
from core import demo as lab
from core.cli import main
from core.errors import UserError
from core.hub import save_model, write_card
from core.inference import ClassifierPipeline, GeneratorPipeline, TranslatorPipeline
from core.models import MODELS
from core.onnx import (
    EXPORT_BATCH,
    MAX_GREY_LEVELS,
    MAX_PROBABILITY_DIFFERENCE,
    ONNX_FILE,
    RECORD_FILE,
    OnnxExport,
    OnnxGenerator,
    OnnxNetwork,
    export_onnx,
    generator_graph,
    resolve_backend,
)
from core.paths import PRETRAINED_DIR

PIPELINES = {"generator": GeneratorPipeline, "classifier": ClassifierPipeline, "translator": TranslatorPipeline}
FAMILIES = MODELS.names()


def saved(family: str, folder: Path, **values) -> Path:
    """The family's tiny contract network (seed 0) exported in Hub format to `folder`."""
    spec = MODELS.get(family)
    torch.manual_seed(0)
    return save_model(spec.build(tiny_config(family, **values))[spec.exported], folder, family=family)


def outputs(kind: str, pipe, batch: int) -> np.ndarray:
    """What the pipeline of `kind` gives for `batch` seeded inputs: images uint8, or class probabilities."""
    rng = np.random.default_rng(batch)
    if kind == "generator":
        return pipe.sample(batch, seed=batch)
    if kind == "classifier":
        return pipe.predict_proba(rng.integers(0, 256, (batch, pipe.image_size, pipe.image_size, pipe.channels), np.uint8))
    photos = rng.integers(0, 256, (batch, 80, 70, 3), dtype=np.uint8)  # any size: the pipeline squares them
    targets = [pipe.targets[i % len(pipe.targets)] for i in range(batch)] if pipe.targets else None
    return pipe.translate(photos, target=targets, seed=batch)


def assert_parity(kind: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if kind == "classifier":
        assert (ours.argmax(1) == theirs.argmax(1)).all()
        assert np.abs(ours - theirs).max() <= MAX_PROBABILITY_DIFFERENCE
    else:
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= MAX_GREY_LEVELS


# ---------------------------------------------------------------------- the contract


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_and_matches_pytorch_at_batch_1_and_64(family: str, tmp_path: Path) -> None:
    spec = MODELS.get(family)
    folder = saved(family, tmp_path / family)
    record = export_onnx(folder)
    assert (folder / ONNX_FILE).stat().st_size == record["bytes"]
    assert json.loads((folder / RECORD_FILE).read_text()) == record and record["opset"] == core.onnx.OPSET
    assert [line["batch"] for line in record["parity"]] == [1, 64]

    # independently of the export's own figures: both backends loaded from the folder, as users load them
    ours, theirs = (PIPELINES[spec.kind].from_pretrained(folder, device="cpu", backend=b) for b in ("torch", "onnx"))
    served = getattr(theirs, spec.kind)
    assert isinstance(served, OnnxNetwork) and not list(served.parameters()) and served.family == family
    for batch in (1, 64):
        assert_parity(spec.kind, outputs(spec.kind, ours, batch), outputs(spec.kind, theirs, batch))

    # the graph takes what the family declares, nothing guessed from the network
    names = [port["name"] for port in record["inputs"]]
    if "steps" in spec.accepts:  # a diffusion model: its denoiser step, the sampler run around it
        assert names == ["noisy", "timesteps", *(["labels"] if ours.num_classes else [])]
        assert theirs.takes_steps and theirs.sampling_steps == ours.sampling_steps
        assert_parity(spec.kind, ours.sample(3, seed=1, steps=7), theirs.sample(3, seed=1, steps=7))
    elif spec.kind == "generator":
        assert names == ["z", *(["labels"] if ours.num_classes else []), *(["codes"] if ours.code_dim else [])]
        assert theirs.image_size == ours.image_size and theirs.is_patch_based == ("parts" in spec.accepts)
    elif spec.kind == "classifier":
        assert names == ["images"] and [o["name"] for o in record["outputs"]] == ["logits", "features"]
        assert theirs.feature_dim == ours.feature_dim
        features = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
        assert torch.allclose(theirs.features(features), ours.features(features), atol=1e-4)
    else:
        extra = {"paired": [], "domains": ["target"], "attributes": ["code"], "unpaired": ["to_b"]}[ours.mode]
        assert names == ["images", *extra, *(["style"] if ours.style_dim else [])]
        assert theirs.style_dim == ours.style_dim and theirs.targets == ours.targets


@pytest.mark.parametrize(("family", "values"), [
    ("classifier", {"arch": "conv", "batch_norm": True, "dropout": 0.5}),  # both traps in one network
    ("dcgan", {}),  # batch norm after every generator layer
    ("pix2pix", {}),  # dropout 0.5 in the U-Net's innermost decoder layers
])
def test_a_network_left_in_training_mode_is_exported_in_eval_mode(family: str, values: dict, tmp_path: Path) -> None:
    spec = MODELS.get(family)
    torch.manual_seed(0)
    network = spec.build(tiny_config(family, **values))[spec.exported]
    network.family = family
    with torch.no_grad():  # running statistics unlike any batch's own, so the two modes cannot agree by chance
        for module in network.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    folder = save_model(network, tmp_path / family, family=family)
    twin = copy.deepcopy(network)  # a training-mode forward moves batch norm's statistics: not on the exported one
    training = PIPELINES[spec.kind](twin, device="cpu")
    twin.train()  # what a pipeline would serve if nothing put the network in eval mode
    in_training = outputs(spec.kind, training, 8)

    network.train()
    export_onnx(folder, network)
    assert not network.training  # left in eval mode, as the pipelines leave it
    evaluated = outputs(spec.kind, PIPELINES[spec.kind].from_pretrained(folder, device="cpu", backend="torch"), 8)
    served = outputs(spec.kind, PIPELINES[spec.kind].from_pretrained(folder, device="cpu", backend="onnx"), 8)
    assert_parity(spec.kind, evaluated, served)
    gap = np.abs(in_training.astype(float) - served.astype(float)).max()
    assert gap > (MAX_PROBABILITY_DIFFERENCE if spec.kind == "classifier" else MAX_GREY_LEVELS)


@pytest.mark.parametrize("family", ["dcgan", "cocogan", "cyclegan"])  # a label input; a reshape of the batch; If
def test_the_batch_axis_is_dynamic(family: str, tmp_path: Path) -> None:
    import onnxruntime

    spec = MODELS.get(family)
    folder = saved(family, tmp_path / family)
    export_onnx(folder)
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    batched = [i for i in session.get_inputs() if i.shape]
    assert batched and all(i.shape[0] == "batch" for i in batched) and session.get_outputs()[0].shape[0] == "batch"
    batch = EXPORT_BATCH + 1  # not the batch it was traced at
    ours, theirs = (PIPELINES[spec.kind].from_pretrained(folder, device="cpu", backend=b) for b in ("torch", "onnx"))
    first, second = outputs(spec.kind, ours, batch), outputs(spec.kind, theirs, batch)
    assert len(second) == batch
    assert_parity(spec.kind, first, second)


# ---------------------------------------------------------------------- what stays on torch, and the errors


def test_cocogan_draws_whole_images_on_onnx_and_its_parts_say_to_use_torch(tmp_path: Path) -> None:
    folder = saved("cocogan", tmp_path / "cocogan")
    export_onnx(folder)
    pipe = GeneratorPipeline.from_pretrained(folder, device="cpu", backend="onnx")
    assert np.abs(pipe.beyond(2, seed=1, extra=0).astype(int) - pipe.sample(2, seed=1).astype(int)).max() == 0
    for call in (lambda: pipe.part(0, 0, 0), lambda: pipe.beyond(1, extra=1),
                 lambda: pipe.complete(np.zeros((32, 32, 1), np.uint8), 0, 0)):
        with pytest.raises(UserError, match="torch backend only") as err:
            call()
        assert "\n" not in str(err.value)
    assert "torch backend only" in json.loads((folder / RECORD_FILE).read_text())["torch_only"]


def test_backend_comes_from_the_environment_and_anything_else_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                           tiny_generator_dir: Path) -> None:
    monkeypatch.delenv("BACKEND", raising=False)
    assert resolve_backend() == "torch" and resolve_backend("onnx") == "onnx"
    monkeypatch.setenv("BACKEND", " ONNX ")
    assert resolve_backend() == "onnx" and resolve_backend("torch") == "torch"
    monkeypatch.setenv("BACKEND", "tensorrt")
    with pytest.raises(UserError, match=r"unknown backend 'tensorrt' \(from \$BACKEND\): use torch or onnx") as err:
        GeneratorPipeline.from_pretrained(tiny_generator_dir)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="unknown backend 'jax'"):
        ClassifierPipeline.from_pretrained(tiny_generator_dir, backend="jax")


def test_a_folder_without_a_usable_model_onnx_says_to_export_it(tiny_generator_dir: Path) -> None:
    with pytest.raises(UserError, match="has no model.onnx .*python -m core export-onnx") as err:
        GeneratorPipeline.from_pretrained(tiny_generator_dir, backend="onnx")
    assert "\n" not in str(err.value)

    export_onnx(tiny_generator_dir)
    other = MODELS.get("dcgan").make_config(image_size=28, channels=1, z_dim=16, num_classes=3, width=8)
    save_model(MODELS.get("dcgan").exported_class(other), tiny_generator_dir)  # new weights, the old graph
    with pytest.raises(UserError, match=r"model.onnx does not match .*config.json \(input z is float32 \[batch, 8\], "
                                        r"the config's float32 \[batch, 16\]\): re-export it"):
        GeneratorPipeline.from_pretrained(tiny_generator_dir, backend="onnx")

    (tiny_generator_dir / ONNX_FILE).write_bytes(b"not a graph")
    with pytest.raises(UserError, match="could not be loaded by onnxruntime") as err:
        GeneratorPipeline.from_pretrained(tiny_generator_dir, backend="onnx")
    assert "\n" not in str(err.value)


def test_a_family_no_graph_fits_is_refused_and_a_family_can_bring_its_own(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    folder = saved("cocogan", tmp_path / "cocogan")
    # as if generation by parts were an input the generator graph did not know (a diffusion model's "steps" is)
    monkeypatch.setattr(core.onnx, "GENERATOR_INPUTS", frozenset({"labels", "codes"}))
    with pytest.raises(UserError, match="cocogan models cannot be exported to ONNX: they take parts, which .*onnx_export"):
        export_onnx(folder)
    assert not (folder / ONNX_FILE).exists()

    built = []

    def graph(network, family):  # the kind's graph, noting each time it is built (at export and on loading)
        built.append(family.name)
        return generator_graph(network, family)

    own = dataclasses.replace(MODELS.get("cocogan"), onnx_export=lambda: OnnxExport(graph, OnnxGenerator))
    monkeypatch.setitem(MODELS._entries, "cocogan", own)  # as if the family declared its own export
    export_onnx(folder)
    assert GeneratorPipeline.from_pretrained(folder, backend="onnx").sample(2).shape == (2, 32, 32, 1)
    assert built == ["cocogan", "cocogan"]


def test_the_cli_exports_prints_parity_and_says_what_is_wrong_in_one_line(
    tiny_generator_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("BACKEND", "onnx")
    out = tmp_path / "grid.png"
    assert main(["generate", "--model", str(tiny_generator_dir), "--n", "2", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no model.onnx" in err and "python -m core export-onnx" in err

    assert main(["export-onnx", str(tiny_generator_dir), "no-such-model"]) == 2  # every name checked first
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model 'no-such-model' not found" in err
    assert not (tiny_generator_dir / ONNX_FILE).exists()
    assert main(["export-onnx"]) == 2 and "or give --all" in capsys.readouterr().err

    assert main(["export-onnx", str(tiny_generator_dir)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("dcgan-tiny: wrote ") and "parity with torch: batch 1: max 0 grey levels; batch 64: " in printed
    assert main(["generate", "--model", str(tiny_generator_dir), "--n", "2", "--out", str(out), "--device", "cpu"]) == 0


# ---------------------------------------------------------------------- cards and Spaces


@pytest.mark.parametrize("name", ["dcgan-fashion-mnist", "classifier-dense-fashion-mnist", "cyclegan-tshirt2longsleeve-64"])
def test_a_card_shows_the_onnx_section_only_once_exported_and_is_otherwise_unchanged(name: str, tmp_path: Path) -> None:
    folder = tmp_path / name
    shutil.copytree(PRETRAINED_DIR / name, folder, ignore=shutil.ignore_patterns(ONNX_FILE, RECORD_FILE))
    before = write_card(folder).read_text()
    assert "## ONNX" not in before
    record = export_onnx(folder)
    after = write_card(folder).read_text()
    section = after[after.index("## ONNX\n") : after.index("## Limitations")]
    assert after.replace(section, "") == before  # the rest of the card as it was
    assert f"`python -m core export-onnx {name}`" in section and f"opset {record['opset']}" in section
    assert f'from_pretrained("{name}", backend="onnx")' in section
    rows = [line for line in section.splitlines() if line.startswith(("| 1 |", "| 64 |"))]
    assert len(rows) == 2
    if name.startswith("classifier"):
        assert rows[1].startswith("| 64 | 100 % | ")
    else:
        assert rows[1].startswith(f"| 64 | {record['parity'][1]['max_grey_level_difference']} | ")
    assert ("`to_b` picks the direction" in section) == name.startswith("cyclegan")


def test_the_dcgan_space_draws_the_same_images_on_onnx(tiny_generator_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = str(tiny_generator_dir)
    export_onnx(tiny_generator_dir)
    monkeypatch.delenv("BACKEND", raising=False)
    grid, walk = lab.sample_grid(source, 9, 5, lab.ALL_CLASSES), lab.interpolation_strip(source, 1, 2, 5, "Bag")
    monkeypatch.setenv("BACKEND", "onnx")
    assert isinstance(lab.load(source).generator, OnnxNetwork)  # the cache is per backend
    for torch_image, onnx_image in ((grid, lab.sample_grid(source, 9, 5, lab.ALL_CLASSES)),
                                    (walk, lab.interpolation_strip(source, 1, 2, 5, "Bag"))):
        ours, theirs = np.asarray(torch_image).astype(int), np.asarray(onnx_image).astype(int)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= MAX_GREY_LEVELS


def test_the_cocogan_and_robustness_spaces_stay_on_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tiny_classifier_dir: Path) -> None:
    from core.cocogan_demo import load_patch_model
    from core.robustness.demo import load_classifier

    monkeypatch.setenv("BACKEND", "onnx")  # and no model.onnx anywhere: they must not need one
    folder = saved("cocogan", tmp_path / "cocogan")
    assert not isinstance(load_patch_model(str(folder)).generator, OnnxNetwork)
    assert not isinstance(load_classifier(str(tiny_classifier_dir)).classifier, OnnxNetwork)


def test_a_built_space_ships_the_graph_and_onnxruntime(tmp_path: Path) -> None:
    from apps import build_spaces

    space = build_spaces.APPS_DIR / "dcgan"
    root = tmp_path / "pretrained"
    for name in build_spaces.shipped_models(space):
        export_onnx(saved("dcgan", root / name))
    out = build_spaces.build_space(space, tmp_path / "spaces", root)
    for name in build_spaces.shipped_models(space):
        assert (out / "pretrained" / name / ONNX_FILE).is_file() and (out / "pretrained" / name / RECORD_FILE).is_file()
    assert "onnxruntime==1.32.0" in (out / "requirements.txt").read_text().splitlines()
    for requirements in sorted(build_spaces.APPS_DIR.glob("*/requirements.txt")):
        # every Space that serves models through core.inference with BACKEND=onnx has onnxruntime; the dashboard
        # serves none, the COCO-GAN and robustness Spaces stay on torch (parts, attacks)
        serves_onnx = requirements.parent.name not in ("dashboard", "cocogan", "robustness")
        assert ("onnxruntime==1.32.0" in requirements.read_text().splitlines()) == serves_onnx, requirements
