"""Checks shared by every entry point (CLI, pipelines, Spaces, trainer), so one rule has one message."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from core.errors import UserError

MAX_SEED = 2**63 - 1  # torch's generators take a signed 64-bit seed


def check_seed(value: Any, name: str = "seed") -> int:
    """`value` as a seed: a whole number in 0..MAX_SEED (an integral float such as 3.0 from a UI number box
    counts; 1.5, NaN, text or None do not). The same rule for training, the CLI and the Spaces."""
    return whole_number(value, name, 0, MAX_SEED)


def whole_number(value: Any, name: str, low: int | None = None, high: int | None = None, sent: Any = None) -> int:
    """`value` as an int within [low, high]; an integral float counts; anything else is a UserError naming `name`
    (and showing `sent`, when given: what the user typed, if `value` was read from it)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name} must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low} to {high}" if low is not None and high is not None else (
            f">= {low}" if low is not None else f"<= {high}")
        raise UserError(f"{name} must be a whole number {bounds}, got {value if sent is None else repr(sent)}")
    return value


def typed_options(options_class: type, values: Any, reader: str, label: str):
    """`options_class(**values)`: the typed settings of an objective or a data mode. A setting it has no field
    for ("the cyclegan objective does not read ...", `reader` naming it) or an invalid value ("invalid `label`
    setting: ...") is a UserError."""
    if not isinstance(values, Mapping):
        raise UserError(f"{label} settings must be a mapping of names to values, got {values!r}")
    known = [f.name for f in fields(options_class)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(f"{reader} does not read the setting(s) {unknown} (its settings: {', '.join(known) or 'none'})")
    try:
        return options_class(**values)
    except (TypeError, ValueError) as err:
        raise UserError(f"invalid {label} setting: {err}") from None
