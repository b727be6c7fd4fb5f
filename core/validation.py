"""Checks shared by every entry point (CLI, pipelines, Spaces, trainer), so one rule has one message."""

from __future__ import annotations

import math
from typing import Any

from core.errors import UserError

MAX_SEED = 2**63 - 1  # torch's generators take a signed 64-bit seed


def check_seed(value: Any, name: str = "seed") -> int:
    """`value` as a seed: a whole number in 0..MAX_SEED (an integral float such as 3.0 from a UI number box
    counts; 1.5, NaN, text or None do not). The same rule for training, the CLI and the Spaces."""
    return whole_number(value, name, 0, MAX_SEED)


def whole_number(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int within [low, high]; an integral float counts; anything else is a UserError naming `name`."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name} must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f">= {low}" if low is not None else f"<= {high}")
        raise UserError(f"{name} must be a whole number {bounds}, got {value}")
    return value


def real_number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    """`value` as a finite float within [low, high]; else a UserError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else (
            f">= {low:g}" if low is not None else f"<= {high:g}")
        raise UserError(f"{name} must be {bounds}, got {value:g}")
    return float(value)
