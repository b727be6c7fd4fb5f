"""`python -m core`: the vertical slice train -> export -> generate, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from core.cli import main
from core.paths import PROJECT_ROOT


def test_train_export_generate_end_to_end(real_data_env, tmp_path, capsys) -> None:
    run, models = tmp_path / "run", tmp_path / "pretrained"
    assert main(["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--run-dir", str(run), "--no-progress"]) == 0
    assert "--preset smoke" in (run / "command.txt").read_text()
    assert main(["export", str(run), "--name", "dcgan-cli", "--out-root", str(models)]) == 0
    out = tmp_path / "grid.png"
    assert main(["generate", "--model", str(models / "dcgan-cli"), "--n", "12", "--nrow", "4",
                 "--label", "Bag", "--scale", "1", "--out", str(out)]) == 0
    # 4 x 3 grid of 28 px images with 2 px padding
    assert Image.open(out).size == (4 * 30 + 2, 3 * 30 + 2)
    assert "wrote" in capsys.readouterr().out


def test_resume_and_dry_run(real_data_env, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--steps", "2",
                 "--run-dir", str(run), "--no-progress"]) == 0
    assert main(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0
    assert "done: 3 steps" in capsys.readouterr().out
    assert main(["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--dry-run",
                 "--set", "batch_size=4"]) == 0
    assert '"batch_size": 4' in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train"], "say what to train"),
        (["train", "--resume", "/nonexistent/run"], "cannot resume"),
        (["train", "--recipe", "dcgan-fashion-mnist", "--set", "stepz=1", "--dry-run"], "unknown training setting"),
        (["train", "--recipe", "dcgan-fashion-mnist", "--set", "steps"], "must look like key=value"),
        (["generate", "--model", "/nonexistent/model.dir"], "not found"),
        (["generate", "--model", "x", "--n", "0"], "--n must be a whole number from 1 to 1024"),
        (["export", "/nonexistent/run", "--name", "x"], "no finished model"),
        (["export", "/tmp", "--name", "bad name!"], "may use letters"),
    ],
)
def test_user_mistakes_are_one_line_errors(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_argparse_rejects_unknown_choices(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--recipe", "stylegan9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'stylegan9'" in err and "python -m core train --help" in err and err.count("\n") == 1


def test_push_offline_and_help_in_a_real_process(tiny_generator_dir) -> None:
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    pushed = subprocess.run([sys.executable, "-m", "core", "push", str(tiny_generator_dir), "--repo-id", "me/tiny"],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, check=False)
    assert pushed.returncode == 2 and pushed.stderr.startswith("error: cannot push")
    helped = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, check=False)
    assert helped.returncode == 0 and "examples:" in helped.stdout and "python -m core generate" in helped.stdout
