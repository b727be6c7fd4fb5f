"""Samples page: a grid of generated images per generator, as the quality benchmark saved them."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st
from PIL import Image

from core import report

PER_ROW = 2


def show() -> None:
    rows, folder = ui.results()
    quality = report.of(rows, "quality")
    ui.header("Samples", "Images drawn from each generator (`results/samples/<model>.png`).", [])
    grids = report.sample_grids(folder)
    if not grids:
        st.info("No sample grids yet: run `make bench` to draw them (they land in `results/samples/`).")
        return
    datasets = {row["model"]: row["dataset"] for row in quality}
    columns, unreadable, shown = st.columns(PER_ROW), [], 0
    for model, path in grids.items():
        try:
            with Image.open(path) as image:
                image.load()  # a truncated or foreign file fails here, not inside Streamlit
                grid = image.copy()
        except (OSError, ValueError, Image.DecompressionBombError):
            unreadable.append(path.name)
            continue
        caption = f"{model} ({datasets[model]})" if model in datasets else model
        columns[shown % PER_ROW].image(grid, caption=caption, width="stretch")
        shown += 1
    if unreadable:
        st.warning(f"{len(unreadable)} sample grid(s) could not be read and are left out: {', '.join(unreadable)}.")


show()
