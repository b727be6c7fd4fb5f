"""Where things live: data, shipped models, runs, caches."""

from __future__ import annotations

import os
from pathlib import Path

# The folder that holds core/, pretrained/ and hub_cards/ (the repo, or an
# assembled Space folder).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRETRAINED_DIR = PROJECT_ROOT / "pretrained"
HUB_CARDS_DIR = PROJECT_ROOT / "hub_cards"
RESULTS_DIR = PROJECT_ROOT / "results"


def data_root() -> Path:
    """The data folder: `$DATA_ROOT`, or `data/` in the current directory."""
    return Path(os.environ.get("DATA_ROOT", "data")).expanduser()


def cache_dir() -> Path:
    """Cache for decoded datasets: `$FGL_CACHE`, or `.cache/fashion-gan-lab` in the project."""
    default = PROJECT_ROOT / ".cache" / "fashion-gan-lab"
    return Path(os.environ.get("FGL_CACHE", default)).expanduser()
