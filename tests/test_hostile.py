"""Hostile inputs, table by table: every user mistake is one line that says what is wrong, never a traceback.

Each case is something a hostile or careless user was seen doing (issue: hostile inputs and faults): the
CLI with bad settings, damaged model folders and run folders, bad arguments to the pipelines and the
Spaces, damaged data files. A case asserts the one-line message (naming the problem) and, for the CLI,
that the process exits with an error code and no "internal error" (the catch-all for bugs).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.errors import DataError, UserError
from core.hub import save_model
from core.inference import GeneratorPipeline, resolve_device
from core.models import DCGANConfig, DCGANGenerator

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`python -m core ARGV` in this process: (exit code, stdout, stderr). Any escaping exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse
            code = stop.code
    return int(code or 0), out.getvalue(), err.getvalue()


def assert_one_line_error(argv: list[str], expected: str) -> None:
    code, _, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert code != 0, f"accepted: {argv}"
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "internal error" not in lines[0] and "Traceback" not in err, err
    assert expected.lower() in lines[0].lower(), lines[0]


# ---------------------------------------------------------------- model folders


@pytest.fixture(scope="module")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = DCGANConfig(image_size=28, channels=1, z_dim=8, num_classes=3, width=8, class_names=["Shirt", "Bag", "Boot"])
    return save_model(DCGANGenerator(config), tmp_path_factory.mktemp("hostile") / "good")


def _edit_config(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        config = json.loads((folder / CONFIG).read_text())
        config.update(changes)
        (folder / CONFIG).write_text(json.dumps(config))
    return edit


def _header(folder: Path) -> tuple[dict, bytes]:
    raw = (folder / WEIGHTS).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write_header(folder: Path, header: dict, data: bytes) -> None:
    blob = json.dumps(header).encode()
    (folder / WEIGHTS).write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def _lying_shape(folder: Path) -> None:
    header, data = _header(folder)
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [100_000, 100_000]
    _write_header(folder, header, data)


def _renamed_tensor(folder: Path) -> None:
    header, data = _header(folder)
    name = next(k for k in header if k != "__metadata__")
    header["not." + name] = header.pop(name)
    _write_header(folder, header, data)


def _bad_dtype(folder: Path) -> None:
    header, data = _header(folder)
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = "Q99"
    _write_header(folder, header, data)


def _offsets_past_end(folder: Path) -> None:
    header, data = _header(folder)
    name = next(k for k in header if k != "__metadata__")
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin + 10**9, end + 10**9]
    _write_header(folder, header, data)


def _link_out(folder: Path) -> None:
    (folder / WEIGHTS).unlink()
    (folder / WEIGHTS).symlink_to("/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd")


FOLDER_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "weights random bytes": (lambda d: (d / WEIGHTS).write_bytes(os.urandom(500)), "is corrupt"),
    "weights truncated": (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:300]), "is corrupt"),
    "weights cut mid-data": (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:-100]), "does not fit the file"),
    "weights empty": (lambda d: (d / WEIGHTS).write_bytes(b""), "empty or truncated"),
    "weights 7 bytes": (lambda d: (d / WEIGHTS).write_bytes(b"1234567"), "empty or truncated"),
    "weights missing": (lambda d: (d / WEIGHTS).unlink(), "has no model.safetensors"),
    "weights a folder": (lambda d: ((d / WEIGHTS).unlink(), (d / WEIGHTS).mkdir()), "has no model.safetensors"),
    "header bomb": (lambda d: (d / WEIGHTS).write_bytes(struct.pack("<Q", 2**40) + b"{"), "header claims"),
    "header not json": (lambda d: (d / WEIGHTS).write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{x"), "not JSON"),
    "header a list": (lambda d: (d / WEIGHTS).write_bytes(struct.pack("<Q", 2) + b"[]"), "not a table of tensors"),
    "lying shape": (_lying_shape, "does not fit the file"),
    "unknown dtype": (_bad_dtype, "does not fit the file"),
    "offsets past the end": (_offsets_past_end, "does not fit the file"),
    "renamed tensor": (_renamed_tensor, "missing"),
    "weights a link out of the folder": (_link_out, "outside the model folder"),
    "config []": (lambda d: (d / CONFIG).write_text("[]"), "must hold a JSON object"),
    "config null": (lambda d: (d / CONFIG).write_text("null"), "must hold a JSON object"),
    "config 42": (lambda d: (d / CONFIG).write_text("42"), "must hold a JSON object"),
    "config {x": (lambda d: (d / CONFIG).write_text("{x"), "not valid JSON"),
    "config empty": (lambda d: (d / CONFIG).write_text(""), "not valid JSON"),
    "config binary": (lambda d: (d / CONFIG).write_bytes(b"\xff\xfe\x00"), "not valid JSON"),
    "config huge": (lambda d: (d / CONFIG).write_text(" " * (2 << 20) + "{}"), "too large"),
    "config missing": (lambda d: (d / CONFIG).unlink(), "has no config.json"),
    "family missing": (lambda d: (d / CONFIG).write_text("{}"), "names no known model family"),
    "family unknown": (_edit_config(family="stylegan9"), "names no known model family"),
    "family a list": (_edit_config(family=["dcgan"]), "names no known model family"),
    "family of a classifier": (_edit_config(family="classifier"), "is a classifier, not a generator"),
    "z_dim text": (_edit_config(z_dim="abc"), "z_dim must be a whole number"),
    "z_dim float": (_edit_config(z_dim=8.5), "z_dim must be a whole number"),
    "z_dim negative": (_edit_config(z_dim=-8), "z_dim must be a whole number >= 0"),
    "z_dim true": (_edit_config(z_dim=True), "z_dim must be a whole number"),
    "z_dim 1e9": (_edit_config(z_dim=10**9), "parameters, more than"),
    "z_dim mismatch": (_edit_config(z_dim=16), "does not match its config.json"),
    "width mismatch": (_edit_config(width=16), "does not match its config.json"),
    "classes mismatch": (_edit_config(num_classes=5, class_names=[]), "does not match its config.json"),
    "image_size 100000": (_edit_config(image_size=100000), "image_size must be a whole number from 0 to 1024"),
    "image_size 30": (_edit_config(image_size=30), "image_size must be one of"),
    "channels text": (_edit_config(channels="rgb"), "channels must be a whole number"),
    "class names not strings": (_edit_config(class_names=[1, 2, 3]), "class_names must be a list of strings"),
    "class names a string": (_edit_config(class_names="Shirt"), "class_names must be a list of strings"),
    "unknown setting": (_edit_config(evil="rm -rf /"), "unknown dcgan setting"),
    "max_width null": (_edit_config(max_width=None), "max_width must be a whole number"),
}


@pytest.fixture
def damaged(good_model: Path, tmp_path: Path) -> Callable[[str], Path]:
    def make(case: str) -> Path:
        folder = tmp_path / case.replace(" ", "-")
        shutil.copytree(good_model, folder)
        FOLDER_CASES[case][0](folder)
        return folder
    return make


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_a_damaged_model_folder_is_one_line_from_the_pipeline_and_the_cli(case: str, damaged, tmp_path: Path) -> None:
    folder, expected = damaged(case), FOLDER_CASES[case][1]
    with pytest.raises(UserError, match=None) as caught:
        GeneratorPipeline.from_pretrained(folder, device="cpu")
    assert expected.lower() in str(caught.value).lower() and "\n" not in str(caught.value)
    assert_one_line_error(["generate", "--model", str(folder), "--out", str(tmp_path / "x.png")], expected)
    assert not (tmp_path / "x.png").exists()


def test_the_good_model_loads_and_samples(good_model: Path, tmp_path: Path) -> None:
    """The control: the same folder undamaged is read, sampled and written."""
    code, out, err = run_cli(["generate", "--model", str(good_model), "--n", "4", "--out", str(tmp_path / "ok.png")])
    assert code == 0 and not err and Image.open(tmp_path / "ok.png").size == (62 * 4, 62 * 4)  # 2 x 2 grid, 4x
    assert "wrote" in out


# ---------------------------------------------------------------- generate arguments

GENERATE_CASES: dict[str, tuple[list[str], str]] = {
    "n 0": (["--n", "0"], "--n must be a whole number from 1 to 1024"),
    "n -3": (["--n", "-3"], "--n must be a whole number from 1 to 1024"),
    "n 100000": (["--n", "100000"], "--n must be a whole number from 1 to 1024"),
    "n text": (["--n", "many"], "invalid int value"),
    "seed -1": (["--seed", "-1"], "--seed must be a whole number from 0 to"),
    "seed 2**64": (["--seed", str(2**64)], "--seed must be a whole number from 0 to"),
    "seed 1.5": (["--seed", "1.5"], "invalid int value"),
    "nrow 0": (["--nrow", "0"], "--nrow must be a whole number >= 1"),
    "nrow -2": (["--nrow", "-2"], "--nrow must be a whole number >= 1"),
    "scale 100000": (["--scale", "100000"], "--scale must be a whole number from 0 to 16"),
    "scale -1": (["--scale", "-1"], "--scale must be a whole number from 0 to 16"),
    "device cuda": (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "cuda:99"], "cuda"),
    "device tpu": (["--device", "tpu"], "unknown device 'tpu'"),
    "device empty-ish": (["--device", "cuda:x"], "unknown device"),
    "device mps": (["--device", "mps"], "mps") if not torch.backends.mps.is_available() else (["--device", "tpu"], "tpu"),
    "label unknown": (["--label", "Dress"], "unknown class 'Dress'"),
    "label out of range": (["--label", "7"], "class id 7 is out of range"),
    "label negative": (["--label", "-1"], "class id -1 is out of range"),
    "labels count": (["--n", "3", "--label", "0", "1"], "got 2 labels for 3 images"),
    "out a folder": (["--out", "{tmp}"], "is a folder"),
    "out unknown suffix": (["--out", "{tmp}/x.xyz"], "use one of .png"),
    "out no suffix": (["--out", "{tmp}/samples"], "use one of .png"),
    "out svg": (["--out", "{tmp}/x.svg"], "use one of .png"),
    "model missing": (["--model", "{tmp}/nope"], "not found"),
    "model a file": (["--model", "{tmp}/file.txt"], "not found"),
    "model hub offline": (["--model", "someone/not-here"], "could not load 'someone/not-here'"),
    "model bad hub id": (["--model", "a/b/c"], "not found"),
}


@pytest.mark.parametrize("case", GENERATE_CASES)
def test_bad_generate_arguments_are_one_line(case: str, good_model: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "file.txt").write_text("not a model")
    extra, expected = GENERATE_CASES[case]
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    argv = ["generate", "--model", str(good_model), "--out", str(tmp_path / "s.png")]
    if "--model" in extra:
        argv = ["generate", "--out", str(tmp_path / "s.png")]
    assert_one_line_error(argv + extra, expected)


def test_a_huge_nrow_is_one_row_not_a_gigapixel_png(good_model: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(["generate", "--model", str(good_model), "--n", "5", "--nrow", "100000", "--scale", "1",
                            "--out", str(tmp_path / "row.png")])
    assert code == 0, err
    assert Image.open(tmp_path / "row.png").size == (5 * 30 + 2, 32)


# ---------------------------------------------------------------- training settings

SMOKE = ["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--dry-run"]
SETTING_CASES: dict[str, tuple[list[str], str]] = {
    "checkpoint_every=0": (["--set", "checkpoint_every=0"], "checkpoint_every must be a whole number >= 1"),
    "batch_size=0": (["--set", "batch_size=0"], "batch_size must be a whole number >= 1"),
    "batch_size=-1": (["--set", "batch_size=-1"], "batch_size must be a whole number >= 1"),
    "batch_size=1.5": (["--set", "batch_size=1.5"], "batch_size must be a whole number"),
    "batch_size=true": (["--set", "batch_size=true"], "batch_size must be a whole number"),
    "lr.G=abc": (["--set", "lr.G=abc"], "lr.G must be a number between 0 and 1"),
    "lr.G=0": (["--set", "lr.G=0"], "lr.G must be a number between 0 and 1"),
    "lr.G=5": (["--set", "lr.G=5"], "lr.G must be a number between 0 and 1"),
    "lr.G=NaN": (["--set", "lr.G=NaN"], "lr.G must be a number between 0 and 1"),
    "lr.X=1": (["--set", "lr.X=1e-4"], "lr has rates for ['X']"),
    "lr=3": (["--set", "lr=3"], "lr must be a mapping"),
    "seed=-1": (["--set", "seed=-1"], "seed must be a whole number >= 0"),
    "seed=2**64": (["--set", f"seed={2**64}"], "seed must be below 2**63"),
    "seed=abc": (["--set", "seed=abc"], "seed must be a whole number"),
    "steps=-5": (["--set", "steps=-5"], "steps must be a whole number >= 0"),
    "steps=abc": (["--set", "steps=abc"], "steps must be a whole number >= 0, got 'abc'"),
    "steps=0": (["--set", "steps=0"], "nothing to train"),
    "--steps -5": (["--steps", "-5"], "steps must be a whole number >= 0"),
    "--steps x": (["--steps", "x"], "invalid int value"),
    "--minutes -1": (["--minutes", "-1"], "minutes must be a number >= 0"),
    "--minutes nan": (["--minutes", "nan"], "minutes must be a number >= 0"),
    "epochs=-1": (["--set", "epochs=-1"], "epochs must be a number >= 0"),
    "ema_decay=2": (["--set", "ema_decay=2"], "ema_decay must be below 1"),
    "ema_decay=-0.5": (["--set", "ema_decay=-0.5"], "ema_decay must be a number >= 0"),
    "ema_decay=x": (["--set", "ema_decay=x"], "ema_decay must be a number >= 0"),
    "image_size=0": (["--set", "image_size=0"], "image_size must be a whole number from 1 to 1024"),
    "image_size=100000": (["--set", "image_size=100000"], "image_size must be a whole number from 1 to 1024"),
    "channels=2": (["--set", "channels=2"], "channels must be 0"),
    "pad=-1": (["--set", "pad=-1"], "pad must be a whole number from 0 to 64"),
    "shift=100": (["--set", "shift=100"], "shift must be a whole number from 0 to 16"),
    "hflip=maybe": (["--set", "hflip=maybe"], "hflip must be true or false"),
    "threads=-1": (["--set", "threads=-1"], "threads must be a whole number >= 0"),
    "mixed_precision=fp8": (["--set", "mixed_precision=fp8"], "mixed_precision must be one of"),
    "lr_schedule=step": (["--set", "lr_schedule=step"], "lr_schedule must be one of constant, cosine, linear"),
    "snapshot_epochs=abc": (["--set", "snapshot_epochs=abc"], "snapshot_epochs must be a list"),
    "snapshot_epochs=[0]": (["--set", "snapshot_epochs=[0]"], "snapshot_epochs must be a list"),
    "betas=1": (["--set", "betas=1"], "betas must be two numbers"),
    "log_every=0": (["--set", "log_every=0"], "log_every must be a whole number >= 1"),
    "preview_count=0": (["--set", "preview_count=0"], "preview_count must be a whole number >= 1"),
    "bn_recalibration=-1": (["--set", "bn_recalibration=-1"], "bn_recalibration must be a whole number >= 0"),
    "model=nope": (["--set", "model=nope"], "unknown model 'nope'"),
    "model=5": (["--set", "model=5"], "model must be a name"),
    "dataset=5": (["--set", "dataset=5"], "dataset must be a name"),
    "width=8 (not a trainer key)": (["--set", "width=8"], "unknown training setting(s) ['width']"),
    "nope=1": (["--set", "nope=1"], "unknown training setting(s) ['nope']"),
    "curriculum on a DCGAN": (["--set", "curriculum=[]"], "unknown training setting(s) ['curriculum']"),
    "loss=nope": (["--set", "loss=nope"], "unknown"),
    "penalty_weight=-1": (["--set", "penalty_weight=-1"], "penalty_weight"),
    "phases.X": (["--set", "phases.X.repeats=2"], "phases has settings for ['X']"),
    "phases.D.repeats=0": (["--set", "phases.D.repeats=0"], "repeats must be a whole number from 1"),
    "phases.D.optimizer=sgd9": (["--set", "phases.D.optimizer=sgd9"], "optimizer must be one of"),
    "phases.D.nope": (["--set", "phases.D.nope=1"], "unknown setting(s) ['nope'] for phase D"),
    "clip_weights=-1": (["--set", "phases.D.after_step.clip_weights=-1"], "clip_weights needs a positive bound"),
    "unknown hook": (["--set", "phases.D.after_step.explode=1"], "unknown"),
    "model_config.z_dim=abc": (["--set", "model_config.z_dim=abc"], "z_dim must be a whole number"),
    "model_config.width=-4": (["--set", "model_config.width=-4"], "width must be a whole number >= 0"),
    "model_config.nope": (["--set", "model_config.nope=1"], "unknown dcgan model_config setting(s) ['nope']"),
    "set without =": (["--set", "steps"], "must look like key=value"),
    "set =5": (["--set", "=5"], "must look like key=value"),
    "unknown recipe": (["--recipe", "nope"], "invalid choice"),
    "unknown preset": (["--preset", "huge"], "invalid choice"),
}


@pytest.mark.parametrize("case", SETTING_CASES)
def test_bad_training_settings_are_one_line_before_any_work(case: str) -> None:
    extra, expected = SETTING_CASES[case]
    argv = list(SMOKE)
    if "--recipe" in extra:
        argv = ["train", "--dry-run"]
    if "--preset" in extra:
        argv = ["train", "--recipe", "dcgan-fashion-mnist", "--dry-run"]
    assert_one_line_error(argv + extra, expected)


def test_a_huge_model_is_refused_before_anything_is_allocated(real_data_env: Path, tmp_path: Path) -> None:
    """`z_dim: 1000000000` once asked for 40 GB before anything checked it; it is now counted on the meta device."""
    assert_one_line_error(["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--run-dir",
                           str(tmp_path / "run"), "--no-progress", "--set", "model_config.z_dim=1000000000"],
                          "parameters, more than")


RESUME_CASES: dict[str, tuple[str, str]] = {
    "truncated": ('{"steps": 4', "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "a list": ("[]", "not a training config"),
    "null": ("null", "not a training config"),
    "a string": ('"run"', "not a training config"),
    "binary": ("\udcff", "not valid JSON"),
    "steps of the wrong type": ('{"steps": "x"}', "steps must be a whole number"),
    "model a number": ('{"model": 5}', "model must be a name"),
    "unknown key": ('{"bogus": 1}', "unknown"),
    "lr a list": ('{"lr": [1, 2]}', "lr must be a mapping"),
    "options a list": ('{"options": [1]}', "options must be a mapping"),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resuming_a_damaged_run_is_one_line(case: str, tmp_path: Path) -> None:
    text, expected = RESUME_CASES[case]
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert_one_line_error(["train", "--resume", str(run), "--dry-run"], expected)


def test_resuming_a_folder_that_is_not_a_run_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(["train", "--resume", str(tmp_path / "nothing-here")], "has no config.json")


# ---------------------------------------------------------------- other commands


def test_card_export_and_push_mistakes_are_one_line(good_model: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torn = tmp_path / "torn"
    shutil.copytree(good_model, torn)
    (torn / "training.json").write_text("{oops")
    assert_one_line_error(["card", str(torn)], "training.json is not valid JSON")
    (torn / "training.json").write_text("[]")
    assert_one_line_error(["card", str(torn)], "is not a training record")
    assert_one_line_error(["card", str(good_model)], "has no training.json")
    assert_one_line_error(["export", str(tmp_path), "--name", "x"], "has no finished model")
    assert_one_line_error(["export", str(tmp_path), "--name", "../evil"], "may use letters, digits")
    assert_one_line_error(["push", str(good_model), "--repo-id", "a b"], "must look like 'user-or-org/name'")
    assert_one_line_error(["push", str(good_model), "--repo-id", "me/model"], "HF_HUB_OFFLINE=1")
    assert_one_line_error(["push", str(tmp_path / "missing"), "--repo-id", "me/model"], "missing")


# ---------------------------------------------------------------- pipeline arguments

PIPELINE_CASES: dict[str, tuple[Callable[[GeneratorPipeline], object], str]] = {
    "n 0": (lambda p: p.sample(0), "number of images must be a whole number from 1"),
    "n -1": (lambda p: p.sample(-1), "number of images must be a whole number from 1"),
    "n 1.5": (lambda p: p.sample(1.5), "number of images must be a whole number"),
    "n text": (lambda p: p.sample("4"), "number of images must be a whole number"),
    "n None": (lambda p: p.sample(None), "number of images must be a whole number"),
    "n 10**6": (lambda p: p.sample(10**6), "number of images must be a whole number from 1 to 4096"),
    "seed -1": (lambda p: p.sample(2, seed=-1), "seed must be a whole number from 0"),
    "seed 1.5": (lambda p: p.sample(2, seed=1.5), "seed must be a whole number"),
    "seed nan": (lambda p: p.sample(2, seed=math.nan), "seed must be a whole number"),
    "seed inf": (lambda p: p.sample(2, seed=math.inf), "seed must be a whole number"),
    "seed text": (lambda p: p.sample(2, seed="abc"), "seed must be a whole number"),
    "seed None": (lambda p: p.sample(2, seed=None), "seed must be a whole number"),
    "seed True": (lambda p: p.sample(2, seed=True), "seed must be a whole number"),
    "seed 2**64": (lambda p: p.sample(2, seed=2**64), "seed must be a whole number from 0"),
    "label unknown": (lambda p: p.sample(2, labels="Dress"), "unknown class 'Dress'"),
    "label 99": (lambda p: p.sample(2, labels=99), "class id 99 is out of range"),
    "labels count": (lambda p: p.sample(3, labels=[0, 1]), "got 2 labels for 3 images"),
    "codes on a DCGAN": (lambda p: p.sample(2, codes={"continuous": [0.5]}), "takes no latent codes"),
    "interpolate 1 step": (lambda p: p.interpolate(0, 1, steps=1), "interpolation steps must be a whole number"),
    "interpolate 10**6 steps": (lambda p: p.interpolate(0, 1, steps=10**6), "interpolation steps must be"),
    "interpolate seed -5": (lambda p: p.interpolate(-5, 1), "seed must be a whole number"),
    "traverse on a DCGAN": (lambda p: p.traverse(0, 0, [0.0]), "has no continuous codes"),
    "parts on a DCGAN": (lambda p: p.beyond(1), "draws whole images"),
}


@pytest.mark.parametrize("case", PIPELINE_CASES)
def test_bad_pipeline_arguments_are_user_errors(case: str, good_model: Path) -> None:
    call, expected = PIPELINE_CASES[case]
    pipe = GeneratorPipeline.from_pretrained(good_model, device="cpu")
    with pytest.raises(UserError) as caught:
        call(pipe)
    assert expected.lower() in str(caught.value).lower() and "\n" not in str(caught.value)


def test_an_integral_float_seed_is_the_same_seed(good_model: Path) -> None:
    """UI number boxes send 3.0; it is seed 3, exactly (1.5 is refused above, not rounded)."""
    pipe = GeneratorPipeline.from_pretrained(good_model, device="cpu")
    assert np.array_equal(pipe.sample(2, seed=3.0), pipe.sample(2, seed=3))


@pytest.mark.parametrize("name", ["gpu", "cuda:-1", "cuda:abc", "", "xla:0"])
def test_devices_that_do_not_exist_here_are_user_errors(name: str) -> None:
    if name == "":
        assert resolve_device(name).type in ("cpu", "cuda")
        return
    with pytest.raises(UserError, match="device|CUDA"):
        resolve_device(name)


# ---------------------------------------------------------------- data files


@pytest.fixture
def fashion_copy(data_root: Path, tmp_path: Path) -> Path:
    """A private copy of the Fashion-MNIST prefix, to damage."""
    raw = tmp_path / "fashion-mnist" / "FashionMNIST" / "raw"
    shutil.copytree(data_root / "fashion-mnist" / "FashionMNIST" / "raw", raw)
    return raw


def _idx_random(raw: Path) -> None:
    (raw / "t10k-images-idx3-ubyte").write_bytes(os.urandom(4096))


def _idx_truncated(raw: Path) -> None:
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-784 * 3 - 5])


def _idx_wrong_magic(raw: Path) -> None:
    path = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[:4] = struct.pack(">I", 2051)
    path.write_bytes(bytes(data))


def _idx_short_header(raw: Path) -> None:
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00")


def _idx_count_mismatch(raw: Path) -> None:
    path = raw / "t10k-labels-idx1-ubyte"
    data = path.read_bytes()
    count = struct.unpack(">I", data[4:8])[0] - 1
    path.write_bytes(data[:4] + struct.pack(">I", count) + data[8:-1])


def _idx_bad_labels(raw: Path) -> None:
    path = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[8] = 200
    path.write_bytes(bytes(data))


DATA_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "images of random bytes": (_idx_random, "not a Fashion-MNIST idx file"),
    "images truncated": (_idx_truncated, "corrupt or truncated"),
    "labels with the images' magic": (_idx_wrong_magic, "not a Fashion-MNIST idx file"),
    "labels header cut": (_idx_short_header, "truncated"),
    "labels one short": (_idx_count_mismatch, "disagree"),
    "label 200": (_idx_bad_labels, "not class ids 0..9"),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_damaged_fashion_mnist_files_are_one_data_error(case: str, fashion_copy: Path, tmp_path: Path) -> None:
    from core.data import load_dataset

    damage, expected = DATA_CASES[case]
    damage(fashion_copy)
    with pytest.raises(DataError) as caught:
        load_dataset("fashion-mnist", "test", root=tmp_path, download=False)
    assert expected.lower() in str(caught.value).lower()
    assert len(load_dataset("fashion-mnist", "train", root=tmp_path, download=False)) == 8226  # the other split is fine


def test_a_decompression_bomb_among_photos_is_skipped_and_counted(tmp_path: Path, fgl_cache: Path) -> None:
    """A 20,000 x 20,000 px PNG (a few hundred KB on disk, 1.2 GB decoded) is never decoded: skipped, counted."""
    from core.data import load_dataset

    for split in ("train", "validation", "test"):
        for name in ("dress", "shirt"):
            folder = tmp_path / "clothing-small" / split / name
            folder.mkdir(parents=True)
            Image.new("RGB", (40, 50), (200, 10, 10)).save(folder / "ok.jpg")
    Image.new("1", (20_000, 20_000)).save(tmp_path / "clothing-small" / "train" / "dress" / "bomb.png")
    (tmp_path / "clothing-small" / "train" / "shirt" / "notes.txt").write_text("not a photo")
    with pytest.warns(UserWarning, match="skipped 2 unreadable or non-image files"):
        data = load_dataset("clothing", "train", image_size=16, root=tmp_path, download=False)
    assert len(data) == 2 and data.images.shape == (2, 3, 16, 16)


# ---------------------------------------------------------------- faults


def test_a_stale_last_old_does_not_block_the_next_checkpoint(tmp_path: Path) -> None:
    """A kill between the swap and the clean-up leaves checkpoints/last.old; every later save once failed."""
    from core.train.checkpoint import load_state, save_state

    last = tmp_path / "checkpoints" / "last"
    save_state({"step": 1, "w": torch.ones(2)}, last)
    shutil.copytree(last, last.with_name("last.old"))
    save_state({"step": 2, "w": torch.zeros(2)}, last)
    assert load_state(last)["step"] == 2 and not last.with_name("last.old").exists()
    # and when the kill came between the two renames (no `last`, only `last.old`), that state is resumed
    shutil.rmtree(last)
    save_state({"step": 3, "w": torch.zeros(2)}, last)
    os.replace(last, last.with_name("last.old"))
    assert load_state(last)["step"] == 3
    save_state({"step": 4, "w": torch.zeros(2)}, last)
    assert load_state(last)["step"] == 4


def test_no_internal_error_reaches_a_user_as_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The last line of defence: a bug (not a user mistake) is still one line, which says it is a bug and how
    to see the traceback; FGL_DEBUG=1 re-raises."""
    from core import cli

    def broken(args, argv):
        raise KeyError("boom")

    monkeypatch.setitem(cli.COMMANDS, "list", broken)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error (KeyError" in err[0] and "FGL_DEBUG=1" in err[0]
    monkeypatch.setenv("FGL_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["list"])


# ---------------------------------------------------------------- Space handlers (what the API calls reach)


def _space_cases() -> dict[str, tuple[Callable[[], object], str]]:
    from core import cocogan_demo as coco
    from core import demo as dcgan
    from core.robustness import demo as robust

    gen, patch, clf = "pretrained/dcgan-fashion-mnist", "pretrained/cocogan-fashion-mnist-32", "pretrained/classifier-conv-fashion-mnist"
    image = np.zeros((28, 28), np.uint8)
    return {
        "dcgan n 0": (lambda: dcgan.sample_grid(gen, 0, 0), "number of images must be a whole number from 1"),
        "dcgan n text": (lambda: dcgan.sample_grid(gen, "many", 0), "number of images must be a whole number"),
        "dcgan n 10**6": (lambda: dcgan.sample_grid(gen, 10**6, 0), "number of images must be a whole number from 1"),
        "dcgan seed 1.5": (lambda: dcgan.sample_grid(gen, 4, 1.5), "seed must be a whole number from 0"),
        "dcgan seed NaN": (lambda: dcgan.sample_grid(gen, 4, float("nan")), "seed must be a whole number"),
        "dcgan seed None": (lambda: dcgan.sample_grid(gen, 4, None), "seed must be a whole number"),
        "dcgan seed text": (lambda: dcgan.sample_grid(gen, 4, "x"), "seed must be a whole number"),
        "dcgan class unknown": (lambda: dcgan.sample_grid(gen, 4, 0, "Dragon"), "unknown class 'Dragon'"),
        "dcgan walk all classes": (lambda: dcgan.interpolation_strip(gen, 0, 1, 5, dcgan.ALL_CLASSES), "keeps one class"),
        "dcgan walk 1 step": (lambda: dcgan.interpolation_strip(gen, 0, 1, 1, "Bag"), "steps must be a whole number"),
        "dcgan walk seed B -1": (lambda: dcgan.interpolation_strip(gen, 0, -1, 5, "Bag"), "seed B must be a whole number"),
        "dcgan unknown model": (lambda: dcgan.pick({"a": gen}, "b"), "unknown model 'b'"),
        "dcgan no models": (lambda: dcgan.pick({}, "a"), "No models found"),
        "cocogan seed -1": (lambda: coco.generate_image(patch, -1), "seed must be a whole number"),
        "cocogan seed 2**64": (lambda: coco.generate_image(patch, 2**64), "seed must be a whole number"),
        "cocogan cell row 99": (lambda: coco.redraw_cell(patch, 0, 99, 0, 1), "cell row must be a whole number"),
        "cocogan cell col -1": (lambda: coco.redraw_cell(patch, 0, 0, -1, 1), "cell column must be a whole number"),
        "cocogan cell text": (lambda: coco.redraw_cell(patch, 0, "a", 0, 1), "cell row must be a whole number"),
        "cocogan cell seed 1.5": (lambda: coco.redraw_cell(patch, 0, 0, 0, 1.5), "cell seed must be a whole number"),
        "cocogan extra 100": (lambda: coco.beyond_image(patch, 0, 100), "extra micro patches per border must be"),
        "cocogan extra NaN": (lambda: coco.beyond_image(patch, 0, float("nan")), "extra micro patches per border"),
        "cocogan on a DCGAN": (lambda: coco.generate_image(gen, 0), "draws whole images"),
        "robustness epsilon -1": (lambda: robust.attack_one(clf, image, None, "pgd", -1.0, False), "epsilon"),
        "robustness epsilon NaN": (lambda: robust.attack_one(clf, image, None, "pgd", float("nan"), False), "epsilon"),
        "robustness epsilon text": (lambda: robust.attack_one(clf, image, None, "pgd", "big", False), "epsilon"),
        "robustness attack unknown": (lambda: robust.attack_one(clf, image, None, "laser", 0.1, False), "laser"),
        "robustness class unknown": (lambda: robust.attack_one(clf, image, "Dragon", "pgd", 0.1, False), "Dragon"),
        "robustness image float": (lambda: robust.attack_one(clf, np.zeros((28, 28)), None, "pgd", 0.1, False), "uint8"),
        "robustness image wrong shape": (lambda: robust.attack_one(clf, np.zeros((5, 5), np.uint8), None, "pgd", 0.1, False),
                                         "28"),
        "robustness on a generator": (lambda: robust.load_classifier(gen), "could not load model"),
    }


SPACE_CASES = _space_cases()


@pytest.mark.parametrize("case", SPACE_CASES)
def test_bad_space_inputs_are_one_line_user_errors(case: str) -> None:
    call, expected = SPACE_CASES[case]
    with pytest.raises(UserError) as caught:
        call()
    assert expected.lower() in str(caught.value).lower() and "\n" not in str(caught.value), str(caught.value)
