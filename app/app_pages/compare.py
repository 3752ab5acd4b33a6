"""Compare controls page: run control sets on the same price paths, side by side.

The form can be prefilled from the address: ``/compare?controls=baseline,insurance_x10&paths=1
&scenario=oct-2025``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from perpsim_ui import jobs, results, scenarios, state, views
from simulator.scenario import (
    CONTROL_SETS,
    DEFAULT_CONTROL_SETS,
    Scenario,
    available_presets,
)

P = "compare"  # widget key prefix of this page
FROM_SCENARIO_PAGE = views.FROM_SCENARIO_PAGE
#: Control sets preselected when the address names none: three cheap, contrasting ones.
DEFAULT_SELECTION = ("baseline", "insurance_x10", "adl_pro_rata")
#: Most price paths the form accepts.
MAX_PATHS = 50


@st.cache_data(show_spinner=False)
def _preset(name: str) -> Scenario:
    return scenarios.preset_scenario(name)


def _query_defaults() -> dict:
    """Initial form values, from the address when it names them."""
    presets = available_presets()
    query = st.query_params
    controls = [c for c in query.get("controls", "").split(",") if c in CONTROL_SETS]
    try:
        paths = min(MAX_PATHS, max(1, int(query.get("paths", 2))))
    except ValueError:
        paths = 2
    wanted = query.get("scenario", "")
    if wanted in presets:
        source = f"preset:{wanted}"
    elif "scenario.current" in st.session_state:
        source = FROM_SCENARIO_PAGE
    else:
        source = "preset:oct-2025" if "oct-2025" in presets else f"preset:{presets[0]}"
    return {
        f"{P}.source": source,
        f"{P}.controls": controls or [c for c in DEFAULT_SELECTION if c in CONTROL_SETS],
        f"{P}.paths": paths,
        f"{P}.workers": 2,
    }


def _scenario() -> Scenario:
    """The scenario to compare on: the Scenario page's, or a preset at demo size."""
    return views.scenario_choice(f"{P}.source", "compare on it", _preset)


st.title("Compare controls")
st.write(
    "Run several risk-control sets on the same price paths (path *i* of every set has the same "
    "seed) and compare liquidations, bad debt, buffers and ADL side by side, with the mean and "
    "95% interval over paths."
)
state.init(_query_defaults())
scenario = _scenario()
left, right = st.columns([3, 1])
with left:
    views.readable_chips()
    selected = st.multiselect(
        "Control sets", list(CONTROL_SETS), key=f"{P}.controls",
        help="Named control sets (`perpsim compare --list-controls`), what each changes:\n\n"
        + "\n".join(f"- **{c}**: {what}" for c, what in CONTROL_SETS.items())
        + "\n\nStandard list: " + ", ".join(DEFAULT_CONTROL_SETS),
    )  # fmt: skip
    controls_slot = st.empty()
    if selected:
        st.markdown("\n".join(f"- **{c}**: {CONTROL_SETS[c]}" for c in selected))
with right:
    paths = st.number_input("Price paths per control set", min_value=1, max_value=MAX_PATHS, step=1,
                            key=f"{P}.paths")  # fmt: skip
    workers = st.number_input("Parallel runs", min_value=1, max_value=4, step=1,
                              key=f"{P}.workers", help="Each run has its own anvil.")  # fmt: skip
error = scenarios.check_control_sets(scenario, selected)
if error:
    controls_slot.error(error, icon=":material/error:")
runs = len(selected) * int(paths) + (1 if selected else 0)
st.caption(
    f"{runs} runs: {len(selected)} control set(s) × {int(paths)} path(s), plus path 0 of the "
    f"first set without feedback; {scenario.steps} steps each."
)
clicked = st.button("Run comparison", key=f"{P}.run", type="primary", disabled=error is not None)

root = state.app_dir()
controls = tuple(selected)
# Another page (the Tune page's verification runs) may have opened a folder here: it stays
# shown until Run is pressed.
opened_from = st.session_state.get(f"{P}.opened_from")
if clicked and error is None:
    st.session_state.pop(f"{P}.opened_from", None)
    opened_from = None
    out, job = jobs.start_compare(scenario, controls, int(paths), root, workers=int(workers))
    st.session_state[f"{P}.out_dir"] = (str(out), controls, int(paths))
    if job is None:
        st.success(
            "This comparison already ran: its results are read from its folder, no new simulation.",
            icon=":material/cached:",
        )
elif error is None and not opened_from:
    ready = jobs.compare_folder(scenario, controls, int(paths), root)
    if jobs.compare_is_complete(ready, controls, int(paths)):
        st.session_state[f"{P}.out_dir"] = (str(ready), controls, int(paths))

shown = st.session_state.get(f"{P}.out_dir")
if shown:
    out_text, shown_controls, shown_paths = shown
    out = Path(out_text)
    st.divider()
    job = jobs.find(out)
    if job is not None and job.running:
        jobs.follow(job, P)
    if job is not None and not job.running and not job.ok:
        st.error(f"The comparison stopped: {job.error}", icon=":material/error:")
    data = results.load_compare(out, shown_controls, shown_paths)
    if data is not None:
        if opened_from:
            st.info(f"Opened from {opened_from}; press Run to compare the form's control sets.")
            if not data.missing:  # a tune's verification runs: all finished, no compare.json
                data = dataclasses.replace(data, complete=True)
        elif error is not None or out != jobs.compare_folder(scenario, controls, int(paths), root):
            st.info("These results are for other inputs than the form's: press Run to update.")
        views.render_compare(data, P)
        with st.expander("Files of this comparison"):
            views.download_buttons(out, P)
