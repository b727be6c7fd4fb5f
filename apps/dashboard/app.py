"""Fashion GAN Lab dashboard: the newest figures of every benchmark, as tables and charts.

Layout and navigation only: results are read and shaped by core.report, the
pages share dashboard_ui.py, and each page is a file in views/. Run
`make dashboard` (= `streamlit run apps/dashboard/app.py`) from the repo, or
`streamlit run app.py` in a Space folder built by `python -m apps.build_spaces`.
RESULTS_SOURCE chooses the results: unset = results/, a folder, or a Hub dataset id.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# core/ sits next to app.py in a built Space and two folders up in the repo; the pages import dashboard_ui from HERE.
for folder in (HERE if (HERE / "core").is_dir() else HERE.parents[1], HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import dashboard_ui as ui
import streamlit as st

from core.errors import UserError

# The favicon is drawn here: a ":material/..." icon is fetched from Google's font servers by every visitor.
st.set_page_config(page_title="Fashion GAN Lab Dashboard", page_icon=ui.favicon(), layout="wide")
PAGES = [
    st.Page("views/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
    st.Page("views/quality.py", title="Quality", icon=":material/bar_chart:"),
    st.Page("views/collection.py", title="Collection", icon=":material/view_module:"),
    st.Page("views/translation.py", title="Translation", icon=":material/swap_horiz:"),
    st.Page("views/retrieval.py", title="Retrieval", icon=":material/image_search:"),
    st.Page("views/robustness.py", title="Robustness", icon=":material/shield:"),
    st.Page("views/performance.py", title="Memory & throughput", icon=":material/speed:"),
    st.Page("views/samples.py", title="Samples", icon=":material/photo_library:"),
]

try:
    ui.results()  # read once here, so a bad source is one message instead of a broken page
except (UserError, ValueError) as err:
    st.error(f"Cannot show results: {err}")
    st.stop()
page = st.navigation(PAGES)
ui.sidebar()
page.run()
