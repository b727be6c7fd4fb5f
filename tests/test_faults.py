"""Faults: a training run killed with SIGKILL at random moments, again and again, ends exactly where an
uninterrupted run ends; files written for others are never seen half-written."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.files import atomic_path, write_text
from core.paths import PROJECT_ROOT

STEPS = 150  # enough that ten kills, each after a little progress, land before the end on a fast machine
KILLS = 10
COMMAND = ["-m", "core", "train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--no-progress",
           "--set", f"steps={STEPS}", "checkpoint_every=1", "sample_every=7", "log_every=3"]


def _train(run_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *COMMAND, "--run-dir", str(run_dir)], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _checkpoint_step(run_dir: Path) -> int:
    """The step of the newest checkpoint on disk, read the way the trainer reads it (0 for none)."""
    from core.train.checkpoint import load_state

    try:
        state = load_state(run_dir / "checkpoints" / "last")
    except Exception:  # noqa: BLE001 - caught mid-swap: count it as no progress yet
        return -1
    return int(state["step"]) if state else 0


def test_a_run_killed_ten_times_ends_with_the_same_weights(real_data_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1"}
    reference = tmp_path / "uninterrupted"
    done = _train(reference, env)
    assert done.wait(timeout=300) == 0, done.stderr.read()

    killed = tmp_path / "killed"
    rng = random.Random(0)
    kills = 0
    while kills < KILLS:
        before = _checkpoint_step(killed)
        process = _train(killed, env)
        # wait until this attempt has saved progress of its own, then kill it a random moment later: some
        # kills land inside a checkpoint write (one is written every step), some between steps
        deadline = time.monotonic() + 120
        while _checkpoint_step(killed) <= max(before, 0) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        if process.poll() is not None:  # finished before we struck: the remaining kills need a fresh start
            assert process.returncode == 0, process.stderr.read()
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    final = _train(killed, env)  # resume to the end
    assert final.wait(timeout=300) == 0, final.stderr.read()
    assert kills == KILLS, f"the run finished after {kills} kills: make it longer"

    ours, theirs = (load_file(str(run / "generator" / "model.safetensors")) for run in (killed, reference))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)  # bit-exact
    assert not (killed / "checkpoints" / "last.old").exists() and not (killed / "checkpoints" / "last.tmp").exists()


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path: Path) -> None:
    target = write_text(tmp_path / "summary.md", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the ne")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]  # no temporary file left behind
