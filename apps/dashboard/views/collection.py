"""Collection page: the ten classic GAN families side by side, their training timelines, and the 10-epoch
comparison with the reference implementation."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report

PER_ROW = 5


def side_by_side(rows: list[dict]) -> None:
    ui.header(
        "The classic collection",
        "GAN, CGAN, ACGAN, infoGAN, WGAN, WGAN-GP, DRAGAN, LSGAN, BEGAN and EBGAN, each trained by the same "
        "trainer on the Fashion-MNIST 8,226-image prefix and shipped as `pretrained/<family>-fashion-mnist`. "
        "Quality and speed of the shipped models (quality and throughput benchmarks), FID of the snapshots each "
        "run kept (timeline benchmark) and the FID each recipe reaches after 10 epochs (collection benchmark).",
        [],
    )
    table = report.collection_table(rows)
    if table.empty:
        ui.empty("collection", [])
        return
    config = {column: st.column_config.NumberColumn(format="%.3f") for column in table.columns[1:]}
    config["train images/s"] = st.column_config.NumberColumn(format="%.0f")
    st.dataframe(table, hide_index=True, column_config=config)
    st.caption(report.COLLECTION_TABLE_NOTE)


def timeline(rows: list[dict]) -> None:
    selected = report.of(rows, "timeline")
    st.header("Training timelines")
    frame = report.timeline_frame(selected)
    if frame.empty:
        ui.empty("timeline", selected)
    else:
        st.caption(f"Measured: {report.describe_run(selected)}.")
        left, right = st.columns(2)
        left.plotly_chart(report.timeline_figure(frame, "fid"), key="timeline-fid")
        right.plotly_chart(report.timeline_figure(frame, "recall"), key="timeline-recall")
    ui.errors(selected)


def reference_comparison(rows: list[dict], folder) -> None:
    selected = report.of(rows, "collection")
    st.header("Against the reference collection, 10 epochs")
    frame = report.collection_frame(selected)
    if frame.empty:
        ui.empty("collection", selected)
        st.caption("It trains every family from scratch, so `make bench` leaves it out: "
                   "`python -m benchmarks run --only collection` (about an hour on 2 CPU cores).")
    else:
        st.caption(f"Measured: {report.describe_run(selected)}.")
        st.markdown(report.COLLECTION_NOTE.format(epochs=", ".join(str(e) for e in frame["epochs"].unique())))
        st.dataframe(frame, hide_index=True, column_config={
            "train_images_per_s": st.column_config.NumberColumn("train images/s", format="%.0f"),
            "fid": st.column_config.NumberColumn("FID", format="%.2f"),
            "kid_mean": st.column_config.NumberColumn("KID", format="%.4f"),
            "reference_fid": st.column_config.NumberColumn("reference FID", format="%.2f"),
            "reference_images_per_s": st.column_config.NumberColumn("reference images/s", format="%.0f"),
            "fid_target": st.column_config.NumberColumn("FID target", format="%.2f"),
            "fid_met": st.column_config.CheckboxColumn("FID target met"),
        })
        grids = report.sample_grids(folder, "collection")
        if grids:
            st.subheader("Samples after 10 epochs")
            columns = st.columns(PER_ROW)
            for index, (name, path) in enumerate(grids.items()):
                columns[index % PER_ROW].image(str(path), caption=name, width="stretch")
    ui.errors(selected)


rows, folder = ui.results()
side_by_side(rows)
timeline(rows)
reference_comparison(rows, folder)
