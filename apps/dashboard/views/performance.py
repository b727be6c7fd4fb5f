"""Memory & throughput page: how memory and speed grow with resolution, and how fast each generator trains and samples."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report


def memory(rows: list[dict]) -> None:
    selected = report.of(rows, "memory")
    ui.header(
        "Memory & throughput",
        "Peak memory and speed by image resolution (memory benchmark), then training and generation speed "
        "of each generator (throughput benchmark).",
        [],
    )
    st.header("Memory by resolution")
    frame = report.memory_frame(selected)
    if frame.empty:
        ui.empty("memory", selected)
    else:
        st.caption(f"Measured: {report.describe_run(selected)}.")
        left, right = st.columns(2)
        for column, metric in zip((left, right), ("peak_memory_mb", "images_per_s"), strict=True):
            if (frame["metric"] == metric).any():
                column.plotly_chart(report.memory_figure(frame, metric), key=f"memory-{metric}")
        table = report.memory_table(frame)
        config = {column: st.column_config.NumberColumn(format="%.1f") for column in table.columns[4:]}
        st.dataframe(table, hide_index=True, column_config=config)
    ui.errors(selected)


def throughput(rows: list[dict]) -> None:
    selected = report.of(rows, "throughput")
    st.header("Throughput")
    frame = report.throughput_frame(selected)
    if frame.empty:
        ui.empty("throughput", selected)
    else:
        st.caption(f"Measured: {report.describe_run(selected)}. Data: " + "; ".join(report.data_lines(selected)) + ".")
        left, right = st.columns(2)
        for column, unit in zip((left, right), ("images/s", "ms"), strict=True):
            if (frame["unit"] == unit).any():
                column.plotly_chart(report.throughput_figure(frame, unit), key=f"throughput-{unit}")
        table = report.throughput_table(frame).drop(columns="dataset")  # the model name says it
        # Latencies of a millisecond or two need decimals; thousands of images/s do not.
        config = {
            column: st.column_config.NumberColumn(format="%.2f" if "(ms)" in column else "%.1f")
            for column in table.columns[3:]  # after model, device and backend
        }
        st.dataframe(table, hide_index=True, column_config=config)
    ui.errors(selected)


rows, _ = ui.results()
memory(rows)
throughput(rows)
