"""Robustness page: each classifier's accuracy as the attack budget epsilon grows."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report

ATTACKS = {"pgd": "PGD (10 steps)", "fgsm": "FGSM (one step)", "noise": "random ±ε noise (baseline)"}


def show() -> None:
    rows, _ = ui.results()
    robustness = report.of(rows, "robustness")
    ui.header(
        "Robustness",
        "Accuracy of each classifier on its test split under L-inf attacks of budget ε (pixels in [0, 1]; "
        "0.1 = 25.5 of 255 grey levels). An image counts as correct at ε only if every attack up to ε failed. "
        "Garment pixels only: the attack leaves the background alone.",
        robustness,
    )
    frame = report.robustness_frame(robustness)
    if frame.empty:
        ui.empty("robustness", robustness)
        ui.errors(robustness)
        return
    all_models = list(dict.fromkeys(frame["model"]))
    models = st.multiselect("Classifiers", all_models, default=all_models)
    left, right = st.columns([3, 2])
    attacks = list(dict.fromkeys(frame["attack"]))
    chosen = left.pills(
        "Attacks",
        attacks,
        selection_mode="multi",
        format_func=lambda attack: ATTACKS.get(attack, attack),
        default=["pgd"] if "pgd" in attacks else attacks,
    )
    pixel_sets = list(dict.fromkeys(frame["pixels"]))
    pixels = right.pills("Pixels attacked", pixel_sets, selection_mode="multi", default=pixel_sets)
    frame = frame[frame["model"].isin(models) & frame["attack"].isin(chosen) & frame["pixels"].isin(pixels)]
    if frame.empty:
        st.info("Nothing matches these filters: pick at least one classifier, attack and pixel set.")
    else:
        st.plotly_chart(report.robustness_figure(frame), key="robustness-curves")
        table = report.robustness_table(frame)
        config = {column: st.column_config.NumberColumn(format="%.1f %%") for column in table.columns[3:]}
        st.dataframe(table, hide_index=True, column_config=config)
    seconds = report.curve_seconds(robustness)
    if seconds:
        st.caption(f"All curves of this run took {seconds / 60:.1f} minutes to measure.")
    ui.errors(robustness)


show()
