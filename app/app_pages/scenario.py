"""Scenario page: pick a preset or upload a YAML, edit the main parameters, run it on the local
chain, and read the figures and charts of the run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from perpsim_ui import jobs, results, scenarios, state, views
from simulator.scenario import Scenario, ScenarioError, available_presets

P = "scenario"  # widget key prefix of this page
SOURCES = ("Preset", "Upload YAML")


@st.cache_data(show_spinner=False)
def _preset(name: str, demo: bool = True) -> Scenario:
    return scenarios.preset_scenario(name, demo=demo)


def _base() -> tuple[Scenario, str]:
    """The scenario the form starts from and an identity for it; stops the page when there
    is none yet (no upload) or it is invalid."""
    presets = available_presets()
    state.init(
        {
            f"{P}.source": SOURCES[0],
            f"{P}.preset": "oct-2025" if "oct-2025" in presets else presets[0],
        }
    )
    source = st.radio("Start from", SOURCES, key=f"{P}.source", horizontal=True)
    if source == SOURCES[0]:
        name = st.selectbox(
            "Preset", presets, key=f"{P}.preset",
            help="Scenario presets shipped in simulator/scenarios/.",
        )  # fmt: skip
        base = _preset(name)
        full = _preset(name, demo=False)
        st.caption(
            f"{full.description} Demo size: {base.steps} steps"
            + (f", {base.traders.count} traders" if hasattr(base.traders, "count") else "")
            + f" (the preset itself: {full.steps} steps"
            + (f", {full.traders.count} traders" if hasattr(full.traders, "count") else "")
            + "; shocks keep their place in the shorter run). Set Steps and Traders back for "
            "the full run (about a minute)."
        )
        return base, f"preset:{name}"
    upload = st.file_uploader(
        "Scenario YAML", type=["yaml", "yml"], key=f"{P}.upload",
        help="A scenario file as `perpsim run FILE` reads it (see simulator/scenarios/).",
    )  # fmt: skip
    if upload is not None:
        st.session_state[f"{P}.upload_data"] = (upload.name, upload.getvalue())
    stored = st.session_state.get(f"{P}.upload_data")
    if stored is None:
        st.info("Upload a scenario YAML file to start from it.")
        st.stop()
    try:
        base = scenarios.uploaded_scenario(*stored)
    except ScenarioError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    st.caption(f"From **{stored[0]}**: {base.description or base.name}")
    return base, scenarios.upload_id(*stored)


def _reset_form(base: Scenario, base_id: str) -> None:
    """Load the base's values into the form when the base changes (a new preset or upload)."""
    if st.session_state.get(f"{P}.base_id") == base_id:
        return
    for name, value in scenarios.field_values(base).items():
        if name in scenarios.OPTIONAL_CONTROLS:
            st.session_state[f"{P}.{name}_on"] = value is not None
            st.session_state[f"{P}.{name}"] = (
                value if value is not None else scenarios.OPTIONAL_DEFAULTS[name]
            )
        else:
            st.session_state[f"{P}.{name}"] = value
    st.session_state[f"{P}.base_id"] = base_id


def _widget(field: scenarios.FormField) -> None:
    key = f"{P}.{field.name}"
    if field.kind == "int":
        st.number_input(field.label, min_value=0, step=int(field.step or 1), key=key,
                        help=field.help)  # fmt: skip
    elif field.kind == "float":
        st.number_input(field.label, step=float(field.step or 0.1), format=field.fmt, key=key,
                        help=field.help)  # fmt: skip
    elif field.kind == "bool":
        st.toggle(field.label, key=key, help=field.help)
    elif field.kind == "choice":
        st.selectbox(field.label, field.options, key=key, help=field.help)
    elif field.kind == "optional":
        on = st.toggle(field.label, key=f"{key}_on", help=field.help)
        if field.name == "circuit_breaker":
            st.number_input(f"{field.label}: value", min_value=0, step=int(field.step or 1),
                            key=key, disabled=not on, label_visibility="collapsed")  # fmt: skip
        else:
            st.number_input(f"{field.label}: value", step=float(field.step or 1.0),
                            format=field.fmt, key=key, disabled=not on,
                            label_visibility="collapsed")  # fmt: skip


def _form(base: Scenario) -> dict:
    """Render the parameter widgets; return {field: value} and the message slots."""
    names = scenarios.applicable(base)
    groups: dict[str, list[scenarios.FormField]] = {}
    for field in scenarios.FIELDS:
        if field.name in names:
            groups.setdefault(field.group, []).append(field)
    slots = {}
    columns = st.columns(3)
    layout = (("Run", "Traders", "Shock"), ("Market", "Buffers"), ("Controls",))
    for column, group_names in zip(columns, layout, strict=True):
        with column:
            for group in group_names:
                if group not in groups:
                    continue
                with st.container(border=True):
                    st.markdown(f"**{group}**")
                    for field in groups[group]:
                        _widget(field)
                        slots[field.name] = st.empty()
    values = {}
    for name in names:
        value = st.session_state.get(f"{P}.{name}")
        if name in scenarios.OPTIONAL_CONTROLS and not st.session_state.get(f"{P}.{name}_on"):
            value = None
        values[name] = value
    return {"values": values, "slots": slots}


def _show_run(out: Path, current: Scenario | None) -> None:
    job = jobs.find(out)
    if job is not None and job.running:
        jobs.follow(job, P)
    if job is not None and not job.running and not job.ok:
        st.error(f"The run stopped: {job.error}", icon=":material/error:")
    data = results.load_run(out)
    if data is None:
        return
    fingerprint = data.manifest.get("scenario_fingerprint")
    if current is not None and fingerprint != current.fingerprint():
        st.info("These results are for other inputs than the form's: press Run to update.")
    views.render_run(data, P)
    with st.expander("Files of this run"):
        views.download_buttons(out, P)


st.title("Scenario")
st.write(
    "Pick a preset or upload a scenario, change the main risk parameters, and run it on a local "
    "chain: real perpetual, liquidation, insurance, backstop and ADL contracts on anvil."
)
base, base_id = _base()
_reset_form(base, base_id)
form = _form(base)
checked = scenarios.check(base, form["values"])
general = st.empty()
if checked.error:
    slot = form["slots"].get(checked.field_name) if checked.field_name else None
    (slot or general).error(checked.error, icon=":material/error:")
    st.session_state.pop(f"{P}.current", None)
else:
    st.session_state[f"{P}.current"] = checked.scenario

left, right = st.columns([1, 3])
clicked = left.button(
    "Run on the local chain", key=f"{P}.run", type="primary", disabled=checked.scenario is None,
    help="Runs `perpsim run` in a subprocess; the same inputs again reuse the finished run.",
)  # fmt: skip
if checked.scenario is not None:
    with right.expander("Scenario YAML"):
        st.code(checked.scenario.to_yaml(), language="yaml")
        st.download_button(
            "Download scenario YAML", checked.scenario.to_yaml(),
            file_name=f"{checked.scenario.name}.yaml", mime="application/yaml",
            key=f"{P}.download.yaml", on_click="ignore",
        )  # fmt: skip

root = state.app_dir()
if clicked and checked.scenario is not None:
    out, job = jobs.start_run(checked.scenario, root)
    st.session_state[f"{P}.run_dir"] = str(out)
    if job is None:
        st.success(
            "This scenario already ran: its results are read from the run folder, "
            "no new simulation.",
            icon=":material/cached:",
        )
elif checked.scenario is not None:
    ready = jobs.run_folder(checked.scenario, root)
    if jobs.run_is_complete(ready, checked.scenario.fingerprint()):
        st.session_state[f"{P}.run_dir"] = str(ready)

shown = st.session_state.get(f"{P}.run_dir")
if shown:
    st.divider()
    _show_run(Path(shown), checked.scenario)
