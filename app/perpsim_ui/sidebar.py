"""The sidebar every page shares: where run folders live, and what is running."""

from __future__ import annotations

import streamlit as st

from . import jobs, state


def render() -> None:
    state.init({state.RUNS_DIR_KEY: str(state.default_runs_dir())})
    with st.sidebar:
        st.text_input(
            "Run folders",
            key=state.RUNS_DIR_KEY,
            help="Folder holding run folders: the CLI writes runs/ by default; the app writes "
            f"its own runs under <this folder>/app. Default: ${state.RUNS_DIR_ENV} or runs/ "
            "in the repository.",
        )
        revm = state.revm_available()
        st.radio(
            "Chain backend",
            state.BACKENDS if revm else state.BACKENDS[:1],
            key=state.BACKEND_KEY,
            horizontal=True,
            help="Where new runs execute the contracts: anvil (a local node over JSON-RPC, the "
            "reference) or revm (the same bytecode in process, several times faster, identical "
            "results; gas figures differ). A finished run of the same scenario and code is "
            "reused whichever backend made it; its manifest names the backend. A resumed run "
            "continues on its own backend."
            + ("" if revm else " revm needs the pyrevm package (make setup installs it)."),
        )
        running = jobs.active()
        if running:
            # No live numbers here: the sidebar is drawn once per script run.
            names = ", ".join(f"{job.label} ({job.kind})" for job in running)
            st.caption(f":material/hourglass_top: Running: {names}")
        st.caption(
            "perpsim runs real perpetual-futures contracts on a local anvil chain. "
            "Runs started here are `perpsim` subprocesses; their folders are the CLI's."
        )
