"""Benchmarks: each measures something, prints a table and appends `core.results.Row`s to results/."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm.auto import tqdm

from core.results import Row, append_rows


def run_scenarios(
    scenarios: Iterable,
    run: Callable[[object], list[Row]],
    out: Path,
    desc: str,
    unit: str = "scenario",
    tag: Callable[[Row], Row] = lambda row: row,
) -> list[Row]:
    """Run each scenario, appending its rows (passed through `tag`) to `out` as soon as it finishes,
    so an interrupted run keeps what it measured; returns every row."""
    rows: list[Row] = []
    for scenario in tqdm(list(scenarios), desc=desc, unit=unit):
        scenario_rows = [tag(row) for row in run(scenario)]
        append_rows(scenario_rows, out)
        rows += scenario_rows
    return rows


def run_and_report(scenarios: Iterable, run: Callable[[object], list[Row]], out: Path, desc: str,
                   format_table: Callable[[list[Row]], str]) -> int:
    """A benchmark module's command line, after parsing: run the scenarios (`run_scenarios`), print the table and
    where the rows went; the exit code, 1 when any row is an error."""
    rows = run_scenarios(scenarios, run, out, desc)
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {out}")
    return 1 if any(row.error for row in rows) else 0
