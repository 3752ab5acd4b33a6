"""perpsim app: the router. Pages live in ``app_pages/``; adding a page is one file there and one
``st.Page`` line below. Start it with ``make app`` (or ``streamlit run app/streamlit_app.py``).

The folder is not called ``pages/``: beside the main script that name switches on Streamlit's
older file-based multipage mode, under which AppTest reruns a page without this router.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The pages import the app's helpers (``perpsim_ui``) from this folder; `streamlit run` puts it
# on sys.path, AppTest and other runners may not.
APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

import streamlit as st  # noqa: E402

from perpsim_ui import sidebar, state  # noqa: E402

st.set_page_config(page_title="perpsim", page_icon="📉", layout="wide")

PAGES = [
    st.Page(APP_DIR / "app_pages" / "scenario.py", title="Scenario", icon=":material/tune:", default=True),
    st.Page(APP_DIR / "app_pages" / "compare.py", title="Compare controls", icon=":material/compare_arrows:"),
    st.Page(APP_DIR / "app_pages" / "runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page(APP_DIR / "app_pages" / "contagion.py", title="Contagion", icon=":material/hub:"),
    st.Page(APP_DIR / "app_pages" / "tune.py", title="Tune", icon=":material/model_training:"),
]  # fmt: skip

state.keep_widget_values()
page = st.navigation(PAGES)
sidebar.render()
page.run()
