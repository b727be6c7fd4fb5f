"""Quality page: FID, KID, precision and recall per model as bars, by dataset and feature extractor; quality against
sampling cost (GANs and diffusion on one plot); a Progressive GAN's growth."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report


def show() -> None:
    rows, _ = ui.results()
    quality = report.of(rows, "quality")
    ui.header(
        "Quality",
        "How close generated images are to real ones, in the features of a fixed network (the extractor). "
        "Baselines are hatched grey. KID bars carry ± one standard deviation over subsets.",
        quality,
    )
    frame = report.quality_frame(quality)
    if frame.empty:
        ui.empty("quality", quality)
        ui.errors(quality)
        return
    left, middle, right = st.columns([1, 1, 2])
    dataset = left.selectbox("Dataset", list(dict.fromkeys(frame["dataset"])))
    frame = frame[frame["dataset"] == dataset]
    extractor = middle.selectbox("Feature extractor", list(dict.fromkeys(frame["extractor"])))
    frame = frame[frame["extractor"] == extractor]
    labels = dict(zip(frame["metric"], frame["label"], strict=False))
    metrics = right.pills("Metrics", list(labels), selection_mode="multi", default=list(labels), format_func=labels.get)
    if not st.toggle("Show baselines", value=True):
        frame = frame[frame["role"] != "baseline"]
    if not metrics:
        st.info("Pick at least one metric.")
    charts = st.columns(2)
    for index, metric in enumerate(metrics):
        charts[index % 2].plotly_chart(report.quality_figure(frame, metric), key=f"quality-{metric}")
    ui.errors(quality)
    cost = report.cost_frame(rows)
    cost = cost[(cost["dataset"] == dataset) & (cost["extractor"] == extractor)]
    if not cost.empty:
        st.header("Quality against sampling cost")
        st.caption(report.COST_NOTE)
        left, right = st.columns(2)
        left.plotly_chart(report.cost_figure(cost, "kid_mean"), key="cost-kid")
        right.plotly_chart(report.cost_figure(cost, "fid"), key="cost-fid")
        st.dataframe(report.cost_table(cost), hide_index=True)
    growth = report.of(rows, "growth")
    stages = report.growth_frame(growth)
    if not stages.empty:
        st.header("Growth")
        st.caption("Progressive GANs at the end of each stage, each judged at its own resolution (the training images "
                   "brought to it): stages compare with each other, not with the bars above.")
        left, right = st.columns(2)
        left.plotly_chart(report.growth_figure(stages, "fid"), key="growth-fid")
        right.plotly_chart(report.growth_figure(stages, "recall"), key="growth-recall")
        ui.errors(growth)


show()
