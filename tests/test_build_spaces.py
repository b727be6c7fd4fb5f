"""`python -m apps.build_spaces`: a self-contained Space folder that runs as is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps import build_spaces
from core import demo as lab
from core.hub import save_model
from core.models import Classifier, ClassifierConfig, CocoGANConfig, CocoGANGenerator, DCGANConfig, DCGANGenerator

SPACE = build_spaces.APPS_DIR / "dcgan"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny untrained stand-ins for every model the dcgan Space ships, under their real names."""
    root = tmp_path_factory.mktemp("pretrained")
    shapes = {"dcgan-fashion-mnist": (28, 1), "dcgan-clothing-64": (64, 3)}
    for name in build_spaces.shipped_models(SPACE):
        size, channels = shapes.get(name, (32, 3))
        config = DCGANConfig(
            image_size=size, channels=channels, z_dim=8, num_classes=2, width=8, class_names=["top", "shoe"]
        )
        save_model(DCGANGenerator(config), root / name)
    # main() builds every Space: tiny COCO-GANs and 28 px classifiers for the others' models (a build copies
    # models, never loads them; tests/test_app_collection.py builds the collection Space from real stand-ins)
    for space in build_spaces.find_spaces():
        for name in build_spaces.shipped_models(space):
            if (root / name).exists():
                continue
            if name.startswith("cocogan-"):
                save_model(CocoGANGenerator(CocoGANConfig(z_dim=8, width=8, max_width=16)), root / name)
            else:
                save_model(Classifier(ClassifierConfig(arch="dense", hidden=8)), root / name)
    return root


def front_matter(readme: Path) -> list[str]:
    """The lines between the README's leading '---' lines."""
    text = readme.read_text()
    assert text.startswith("---\n")
    return text[4 : text.index("\n---\n", 3)].splitlines()


def test_space_config_lists_models() -> None:
    assert SPACE in build_spaces.find_spaces()
    assert build_spaces.shipped_models(SPACE) == ["dcgan-fashion-mnist", "dcgan-clothing-64"]


def test_build_layout(models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert build_spaces.main(["--out", str(tmp_path), "--models-root", str(models_root)]) == 0
    out = tmp_path / "dcgan"
    assert f"built {out}" in capsys.readouterr().out
    for file in (
        "app.py",
        "README.md",
        "requirements.txt",
        "core/inference.py",
        "core/demo.py",
        "core/models/dcgan.py",
    ):
        assert (out / file).is_file(), file
    for name in ("dcgan-fashion-mnist", "dcgan-clothing-64"):
        assert (out / "pretrained" / name / "model.safetensors").is_file()
        assert json.loads((out / "pretrained" / name / "config.json").read_text())["family"] == "dcgan"
    meta = front_matter(out / "README.md")
    assert "sdk: gradio" in meta and "app_file: app.py" in meta and "sdk_version: 6.31.0" in meta
    assert "gradio==6.31.0" in (out / "requirements.txt").read_text().splitlines()
    # repo-only files stay behind
    assert (
        not list(out.rglob("__pycache__")) and not (out / "__init__.py").exists() and not (out / "space.toml").exists()
    )
    assert not (out / "model_source.txt").exists()


def test_built_space_runs_on_its_own(models_root: Path, tmp_path: Path, run_in_space) -> None:
    build_spaces.main(["--out", str(tmp_path), "--models-root", str(models_root)])
    out = tmp_path / "dcgan"
    # app.demo(...) runs the generate event through Gradio's pre/postprocessing, as a click would
    script = (
        "import json, core, app\n"
        "from PIL import Image\n"
        "from core.demo import available_models\n"
        "from core.paths import PRETRAINED_DIR\n"
        "path = app.demo('dcgan-fashion-mnist', 'shoe', 0, 4, api_name='generate')\n"
        "print(json.dumps({'core': core.__file__, 'pretrained': str(PRETRAINED_DIR),"
        " 'models': sorted(available_models()), 'size': Image.open(path).size}))\n"
    )
    result = run_in_space(out, script)
    assert Path(result["core"]).resolve() == (out / "core" / "__init__.py").resolve()
    assert Path(result["pretrained"]).resolve() == (out / "pretrained").resolve()
    assert result["models"] == ["dcgan-clothing-64", "dcgan-fashion-mnist"]
    assert result["size"] == [(2 * 30 + 2) * 4, (2 * 30 + 2) * 4]  # 4 images of 28 px, 2 per row, shown 4x


def test_hub_models_ship_no_weights(tmp_path: Path) -> None:
    assert (
        build_spaces.main(
            ["--out", str(tmp_path), "--space", "dcgan", "--hub-models", "you/dcgan-fashion-mnist, you/dcgan-clothing-64"]
        )
        == 0
    )
    out = tmp_path / "dcgan"
    assert not (out / "pretrained").exists()
    meta = front_matter(out / "README.md")
    assert "sdk: gradio" in meta
    assert meta[meta.index("models:") + 1 : meta.index("models:") + 3] == [
        "  - you/dcgan-fashion-mnist",
        "  - you/dcgan-clothing-64",
    ]
    assert "preload_from_hub:" in meta
    assert "MODEL_SOURCE=you/dcgan-fashion-mnist,you/dcgan-clothing-64" in (out / "README.md").read_text()
    found = lab.available_models({}, source_file=out / "model_source.txt")
    assert found == {
        "you/dcgan-fashion-mnist": "you/dcgan-fashion-mnist",
        "you/dcgan-clothing-64": "you/dcgan-clothing-64",
    }


@pytest.mark.parametrize("spec", ["not-a-repo-id", "you/a,bad/id/x", " , "])
def test_bad_hub_models(spec: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert build_spaces.main(["--out", str(tmp_path), "--space", "dcgan", "--hub-models", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --hub-models") and err.count("\n") == 1


def test_hub_models_need_one_space_and_spaces_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert build_spaces.main(["--out", str(tmp_path), "--hub-models", "you/a"]) == 2
    assert "name that Space with --space" in capsys.readouterr().err
    assert build_spaces.main(["--out", str(tmp_path), "--space", "nope"]) == 2
    known = "cocogan, collection, dashboard, dcgan, edit_search, progan, robustness, translate"
    assert f"unknown Space(s) nope; known: {known}" in capsys.readouterr().err


def test_robustness_space_ships_its_classifiers_and_results(models_root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "robustness.jsonl").write_text("{}\n")
    out = build_spaces.build_space(build_spaces.APPS_DIR / "robustness", tmp_path / "out", models_root,
                                   results_root=results)
    shipped = build_spaces.shipped_models(build_spaces.APPS_DIR / "robustness")
    assert len(shipped) == 4 and sorted(p.name for p in (out / "pretrained").iterdir()) == sorted(shipped)
    assert (out / "results" / "robustness.jsonl").read_text() == "{}\n"
    assert (out / "examples").is_dir() and (out / "app.py").is_file()
    assert not (tmp_path / "dcgan").exists()


def test_dashboard_space_ships_results_and_runs_without_torch(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "samples").mkdir(parents=True)
    line = {"benchmark": "quality", "model": "dcgan-fashion-mnist", "dataset": "fashion-mnist", "metric": "fid",
            "value": 12.5, "unit": "", "device": "cpu (2 threads)", "params": {"role": "model", "extractor": "f"},
            "data": "", "error": None, "timestamp": "2026-11-22T07:10:00+00:00"}
    (results / "quality.jsonl").write_text(json.dumps(line) + "\n")
    (results / "throughput.jsonl").write_text("")
    (results / "summary.md").write_text("# Benchmark results\n")
    (results / "samples" / "dcgan-fashion-mnist.png").write_bytes(b"png")
    (results / "robustness.png").write_bytes(b"png")  # not listed in space.toml
    out = build_spaces.build_space(build_spaces.APPS_DIR / "dashboard", tmp_path / "out", tmp_path / "no-models",
                                   results_root=results)
    shipped = sorted(str(p.relative_to(out / "results")) for p in (out / "results").rglob("*") if p.is_file())
    assert shipped == ["quality.jsonl", "samples/dcgan-fashion-mnist.png", "summary.md", "throughput.jsonl"]
    # only the torch-free part of core/, no models
    assert sorted(p.name for p in (out / "core").iterdir()) == ["__init__.py", "errors.py", "paths.py", "report.py", "results.py"]
    assert not (out / "pretrained").exists()
    for file in ("app.py", "dashboard_ui.py", "views/leaderboard.py", "Dockerfile", "requirements.txt"):
        assert (out / file).is_file(), file
    meta = front_matter(out / "README.md")
    assert "sdk: docker" in meta and "app_port: 8501" in meta and "title: Fashion GAN Lab Dashboard" in meta
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert "streamlit==1.67.0" in requirements and not any(r.startswith("torch") for r in requirements)
    assert "EXPOSE 8501" in (out / "Dockerfile").read_text().splitlines()

    # Streamlit runs it from the Space folder (core/ next to app.py), reading the shipped results, without torch
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "RESULTS_SOURCE")}
    script = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=60).run()\n"
        "import core.report\n"
        "print(json.dumps({'exceptions': [e.value for e in at.exception], 'title': at.title[0].value,"
        " 'models': list(at.dataframe[0].value['model']), 'core': core.report.__file__,"
        " 'torch': 'torch' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=out, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exceptions"] == [] and result["title"] == "Leaderboard"
    assert result["models"] == ["dcgan-fashion-mnist"]
    assert Path(result["core"]).resolve() == (out / "core" / "report.py").resolve()
    assert result["torch"] is False


def test_missing_model_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    partial = tmp_path / "pretrained"
    save_model(DCGANGenerator(DCGANConfig(z_dim=8, width=8)), partial / "dcgan-fashion-mnist")
    assert build_spaces.main(["--out", str(tmp_path / "dist"), "--models-root", str(partial), "--space", "dcgan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: Space 'dcgan' ships model 'dcgan-clothing-64'")
    assert str(partial / "dcgan-clothing-64") in err
    assert not (tmp_path / "dist" / "dcgan").exists()


def test_cli_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "apps.build_spaces", "--out", str(tmp_path), "--models-root", str(tmp_path / "none")],
        cwd=build_spaces.PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(build_spaces.PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.startswith("error: Space 'cocogan' ships model 'cocogan-clothing-64'")  # the first Space with models
        and done.stderr.count("\n") == 1
    )
