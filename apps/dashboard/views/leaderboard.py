"""Leaderboard page: generators ranked by FID on each dataset, with the protocol of every number."""

from __future__ import annotations

import dashboard_ui as ui
import pandas as pd
import streamlit as st

from core import report

NUMBER_FORMATS = {"FID": "{:.2f}", "KID": "{:.4f}", "KID std": "{:.4f}", "precision": "{:.3f}", "recall": "{:.3f}"}
COUNTS = ("n_real", "n_generated")  # image counts, shown with thousands separators
HELP = {
    "role": "baseline: real held-out images (real-<split>-split) or the same network untrained (-untrained), for scale",
    "extractor": "the network whose features FID, KID, precision and recall compare; numbers from different "
    "extractors are not comparable",
    "FID": "Fréchet distance between real and generated features (lower is better)",
    "KID": "kernel inception distance, mean over subsets (lower is better)",
    "precision": "share of generated images that look like real ones (higher is better)",
    "recall": "share of real images the generator covers (higher is better)",
    "n_real": "real reference images",
    "n_generated": "generated images",
    "split": "the real split the generated images are compared with",
}


def styled(frame: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Numbers rounded, baselines greyed and italic so they read as references, not contenders."""

    def baseline_rows(row: pd.Series) -> list[str]:
        style = "color: #8a8a8a; font-style: italic" if row["role"] == "baseline" else ""
        return [style] * len(row)

    # every number gets a format: a column without one (a seam ratio, say) would show six decimals
    numbers = frame.select_dtypes("number").columns
    formats = {column: NUMBER_FORMATS.get(column, "{:,}" if column in COUNTS else "{:.3g}") for column in numbers}
    return frame.style.apply(baseline_rows, axis=1).format(formats, na_rep="–")


def with_dashes(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns with gaps (the seam ratio exists for COCO-GANs only, conditional accuracy for conditional
    models) as formatted text with "–" in the gaps: Streamlit writes "None" in an empty number cell whatever
    the format says. Complete columns stay numbers, so they sort as numbers."""
    frame = frame.copy()
    for column in frame.columns[frame.isna().any()]:
        fmt = NUMBER_FORMATS.get(column, "{:,}" if column in COUNTS else "{:.3g}")
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        frame[column] = frame[column].map(lambda v, f=fmt, n=numeric: "–" if pd.isna(v) else (f.format(v) if n else v))
    return frame


def show() -> None:
    rows, _ = ui.results()
    quality = report.of(rows, "quality")
    ui.header(
        "Leaderboard",
        "Generators ranked by FID against real images of each dataset, with KID, precision and recall. "
        "Baselines (grey) bracket the scale: real held-out images score what a perfect generator would, the untrained "
        "network what no training does. Click a column header to sort.",
        quality,
    )
    board = report.leaderboard_frame(quality)
    if board.empty:
        ui.empty("quality", quality)
    for dataset, table in board.groupby("dataset", sort=False):
        st.subheader(str(dataset))
        table, protocol = report.split_protocol(table.drop(columns="dataset").dropna(axis="columns", how="all"))
        if protocol:
            st.caption(f"Every row: {protocol}.")
        config = {column: st.column_config.Column(help=text) for column, text in HELP.items() if column in table}
        st.dataframe(styled(with_dashes(table)), hide_index=True, column_config=config)
    ui.errors(quality)


show()
