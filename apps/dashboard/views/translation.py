"""Translation page: every image-to-image translator against its baselines, a table and FID bars per task."""

from __future__ import annotations

import dashboard_ui as ui
import streamlit as st

from core import report


def show(rows: list[dict]) -> None:
    selected = report.of(rows, "translation")
    ui.header(
        "Translation",
        "Image-to-image translators on the held-out test photos, each next to its baselines: `identity` (the input "
        "unchanged) and, for paired tasks, `unet-l1` (the same U-Net trained with the L1 loss alone).",
        selected,
    )
    table = report.translation_table(selected)
    if table.empty:
        ui.empty("translation", selected)
        ui.errors(selected)
        return
    checks = report.translation_targets(selected)
    if checks:
        met = sum(ok for ok, _ in checks)
        lines = "\n".join(f"- {'met' if ok else '**not met**'}: {text}" for ok, text in checks)
        (st.success if met == len(checks) else st.warning)(f"Targets: {met} of {len(checks)} met.\n\n{lines}")
    for task, group in table.groupby("task", sort=False):
        st.header(f"{task} ({group['mode'].iloc[0]})")
        metrics = [m for m in report.TRANSLATION_METRICS if group[m].notna().any()]
        columns = ["direction", "model", "candidate", *metrics, "n_images", "n_real", "reference_split", "extractor"]
        config = {m: st.column_config.NumberColumn(label, format="%.1f %%" if m == "target_accuracy" else "%.4g")
                  for m, (label, _) in report.TRANSLATION_METRICS.items() if m in metrics}
        shown = group[columns].copy()
        if "target_accuracy" in metrics:
            shown["target_accuracy"] = 100 * shown["target_accuracy"]
        st.dataframe(shown, hide_index=True, column_config=config)
        if group["fid"].notna().any():
            st.plotly_chart(report.translation_figure(group, task, "fid"), key=f"translation-{task}-fid")
    st.markdown("\n\n".join(report.translation_notes(selected)))
    ui.errors(selected)


rows, _ = ui.results()
show(rows)
