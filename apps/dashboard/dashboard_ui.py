"""What the dashboard's pages share: the results they show (read once, cached), headers, empty states, errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st

from core import report

SOURCE_VARIABLE = "RESULTS_SOURCE"
HUB_REFRESH_S = 600  # how long a Hub download is reused before the dataset is checked again


@st.cache_data(ttl=HUB_REFRESH_S, show_spinner="Fetching results…")
def _folder(source: str) -> str:
    return str(report.resolve_source(source))


@st.cache_data(show_spinner=False)
def _latest_rows(folder: str, stamp: tuple) -> tuple[list[dict[str, Any]], list[str]]:
    """The newest rows and the lines skipped as unreadable; `stamp` (the files' sizes and times) is only the
    cache key: new rows are read as soon as they land."""
    problems: list[str] = []
    rows = report.load_rows(folder, problems)
    return report.latest(rows), problems


def favicon():
    """A 32 px hanger-and-dress icon, drawn locally (no request leaves the visitor's browser for it)."""
    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.polygon([(11, 6), (21, 6), (19, 12), (27, 29), (5, 29), (13, 12)], fill=(76, 120, 168, 255))
    draw.line([(16, 1), (16, 6)], fill=(76, 120, 168, 255), width=2)
    return icon


def source() -> str:
    return os.environ.get(SOURCE_VARIABLE, "").strip()


def results() -> tuple[list[dict[str, Any]], Path]:
    """The newest run of each benchmark from RESULTS_SOURCE, and its folder (UserError/ValueError when unreadable)."""
    folder = _folder(source())
    return _latest_rows(folder, report.folder_stamp(folder))[0], Path(folder)


def skipped_lines() -> list[str]:
    """The result lines that could not be read (torn by a kill, edited by hand), each with file and line."""
    folder = _folder(source())
    return [line.replace(folder, "").lstrip("/") for line in _latest_rows(folder, report.folder_stamp(folder))[1]]


def sidebar() -> None:
    where = source()
    label = "the local `results/` folder" if not where else f"`{where}`"
    st.sidebar.caption(f"Results from {label} (`{SOURCE_VARIABLE}`); each page shows the newest run of its benchmark.")
    if st.sidebar.button("Reload results", icon=":material/refresh:"):
        st.cache_data.clear()
        st.rerun()


def header(title: str, intro: str, rows: list[dict[str, Any]]) -> None:
    """Page title, what it shows, and where and on which data its rows were measured."""
    st.title(title)
    st.markdown(intro)
    skipped = skipped_lines()
    if skipped:
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        st.warning(f"{len(skipped)} unreadable result line(s) skipped{more}:\n\n" + "\n".join(f"- {s}" for s in skipped[:3]))
    if rows:
        st.caption(f"Measured: {report.describe_run(rows)}.")
        data = report.data_lines(rows)
        if data:
            st.caption("Data: " + "; ".join(data) + ".")


def empty(benchmark: str, rows: list[dict[str, Any]]) -> None:
    """What to say when a page has nothing to draw: no rows yet, or only failed measurements (`rows`)."""
    if rows:
        st.info(f"Every {benchmark} measurement of the newest run failed; the errors are listed below.")
    else:
        st.info(
            f"No {benchmark} results yet: run `make bench` to measure them, "
            f"or point `{SOURCE_VARIABLE}` at a results folder or Hub dataset that has them."
        )


def errors(rows: list[dict[str, Any]]) -> None:
    """The failed measurements among `rows`, as one warning listing each with its message."""
    lines = report.error_lines(rows)
    if lines:
        st.warning(f"{len(lines)} measurement(s) failed:\n\n" + "\n".join(f"- {line}" for line in lines))
