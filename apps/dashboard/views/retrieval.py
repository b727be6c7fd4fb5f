"""Retrieval page: each embedding's faiss index of the clothing photos, a table of its figures and recall@k bars."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report


def show(rows: list[dict]) -> None:
    selected = report.of(rows, "retrieval")
    ui.header(
        "Retrieval",
        "The clothing test photos searched among the train photos, by the domain extractor "
        "(`classifier-clothing-64`), by it with the garment's colours beside it (`+color`, what `python -m core index` "
        "builds), and by the baselines: raw pixels (`pixels-16`) and the same network untrained. *Edit, then search*: "
        "each test photo recoloured by `fader-clothing-64`, and the share of its ten results in the new colour.",
        selected,
    )
    table = report.retrieval_table(selected)
    if table.empty:
        ui.empty("retrieval", selected)
        ui.errors(selected)
        return
    metrics = [m for m in report.RETRIEVAL_METRICS if table[m].notna().any()]
    extra = [c for c in table.columns if c not in (*report.RETRIEVAL_KEYS, *report.RETRIEVAL_METRICS,
                                                    *report.RETRIEVAL_PROTOCOL) and table[c].notna().any()]
    shown = table[[*report.RETRIEVAL_KEYS, *metrics, *extra, "n_gallery", "n_queries", "device"]].copy()
    config = {}
    for m in [*metrics, *extra]:
        share = report.retrieval_share(m)
        if share:
            shown[m] = 100 * shown[m]
        label = report.RETRIEVAL_METRICS.get(m, (m, True))[0]
        config[m] = st.column_config.NumberColumn(label, format="%.1f %%" if share else "%.4g")
    st.dataframe(shown, hide_index=True, column_config=config)
    for index in report.RETRIEVAL_INDEXES:
        part = table[table["index"] == index]
        if not part.empty and part[[m for m in ("recall_at_1", "recall_at_5", "recall_at_10") if m in part]].notna().any().any():
            st.plotly_chart(report.retrieval_figure(table, index), key=f"retrieval-{index}")
    st.markdown(report.RETRIEVAL_NOTE)
    ui.errors(selected)


rows, _ = ui.results()
show(rows)
