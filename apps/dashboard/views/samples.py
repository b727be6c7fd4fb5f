"""Samples page: a grid of generated images per generator, as the quality benchmark saved them."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

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
    columns = st.columns(PER_ROW)
    for index, (model, path) in enumerate(grids.items()):
        caption = f"{model} ({datasets[model]})" if model in datasets else model
        columns[index % PER_ROW].image(str(path), caption=caption, width="stretch")


show()
