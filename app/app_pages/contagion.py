"""Contagion page: which protocols a run's losses reach, modelled and measured on chain.

Lists the run folders under the sidebar's folder that hold a contagion world's graph files
(``contagion/graph_start.json``, :mod:`simulator.contagion.graph_io`); for the one picked it
shows the exposure graph (nodes sized by start equity, coloured by DebtRank's modelled loss as a
fraction of it; hover for every figure), the model-vs-chain table of ``perpsim contagion``
(:func:`simulator.contagion.report.table_rows`) and a slider that scales the initial shock: the
models are recomputed on the graph already read, the chain's columns stay as the run left them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from perpsim_ui import results, state
from simulator.contagion.graph_io import CONTAGION_DIR, GRAPH_START
from simulator.contagion.plots import graph_figure
from simulator.contagion.report import (
    CHAIN_COLUMNS,
    MODEL_COLUMNS,
    RunContagion,
    caption,
    read_run_contagion,
    report_from_graphs,
    table_rows,
)
from simulator.errors import PerpsimError

P = "contagion"  # widget key prefix of this page
#: The slider's range of shock scales (1 is the run's own losses).
SCALE_MAX = 5.0
SCALE_STEP = 0.05


def world_runs(root: Path) -> list[str]:
    """Run folders under `root` with a contagion graph file, as paths relative to it, sorted."""
    if not root.is_dir():
        return []
    found = {p.parent.parent for p in root.rglob(f"{CONTAGION_DIR}/{GRAPH_START}")}
    return sorted(str(folder.relative_to(root)) for folder in found)


@st.cache_data(show_spinner=False)
def _read(run_dir: str, version: str) -> RunContagion:
    """The run's summary and graphs (cached per folder version: a changed file is read again)."""
    return read_run_contagion(run_dir)


st.title("Contagion")
root = state.runs_dir()
st.write(
    f"Runs under `{root}` whose scenario deploys the contagion world (`world:`): the venue's "
    "losses in the run are the initial shock of the network models on the graph read from "
    "chain at step 0, beside what the other protocols' contracts lost on chain in the same run "
    "(`perpsim contagion RUN_DIR` writes the same table)."
)
runs = world_runs(root)
if not runs:
    st.info(
        f"No run under `{root}` has a contagion world (no `contagion/graph_start.json`). Run a "
        "scenario with a `world:` section (`perpsim run` or `perpsim contagion SCENARIO`).",
        icon=":material/info:",
    )
    st.stop()

chosen = st.selectbox("Run folder", runs, key=f"{P}.selected")
folder = root / chosen
scale = st.slider(
    "Initial shock scale",
    min_value=0.0,
    max_value=SCALE_MAX,
    value=1.0,
    step=SCALE_STEP,
    key=f"{P}.scale",
    help="Multiplies every node's initial distress h0 = loss / start equity (capped at 1; the "
    "notes say where the cap binds). 1 is the run's own losses.",
)
try:
    run = _read(str(folder), results.folder_version(folder))
    report = report_from_graphs(run, shock_scale=scale)
except PerpsimError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

t = report.totals
left, middle, right = st.columns(3)
left.metric("Chain systemic loss (USD)", f"{t['chain_systemic_loss_usd']:,.2f}")
middle.metric("DebtRank systemic loss (USD)", f"{t['debtrank_loss_usd']:,.2f}")
right.metric("Initial shock (USD)", f"{t['shock_usd']:,.2f}")
st.plotly_chart(graph_figure(report), key=f"{P}.graph", width="stretch")
st.caption(caption(report))
table = pd.DataFrame(table_rows(report))
st.dataframe(table, hide_index=True, width="stretch")
st.caption(
    f"Models: {', '.join(MODEL_COLUMNS)}; chain: {', '.join(CHAIN_COLUMNS)}. Money in USD; "
    "`(default)`: the model has the node default."
)
for note in report.notes:
    st.warning(note, icon=":material/info:")
