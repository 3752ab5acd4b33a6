"""Scenario page: pick a preset or upload a YAML, edit the main parameters, run it on the local
chain, and read the figures and charts of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from perpsim_ui import jobs, results, scenarios, state, views
from simulator.scenario import Scenario, ScenarioError, available_presets

P = "scenario"  # widget key prefix of this page
SOURCES = ("Preset", "Upload YAML")


@st.cache_data(show_spinner=False)
def _preset(name: str, demo: bool = True) -> Scenario:
    return scenarios.preset_scenario(name, demo=demo)


@dataclass
class Base:
    """What the form edits: the scenario, the values the form starts from, an identity."""

    scenario: Scenario
    """The preset or the uploaded scenario, full size: the form at its values runs it."""
    start: Scenario
    """The scenario whose values fill the form (the preset at demo size, or ``scenario``)."""
    ident: str
    """Changes when another base (or the full-preset switch) is chosen."""
    preset: str | None = None
    """The preset's name; ``None`` for an upload."""
    full: bool = False
    """The full-preset switch is on: the form is locked at the preset's own values."""


def _shape(scenario: Scenario) -> str:
    """The first shock in words (``a 15% fall at step 600 over 45 steps, ...``; a factor
    model's common shock names each market's move)."""
    if not scenarios.has_path_shock(scenario):
        return "no scheduled shock"
    shock = scenario.price_path.shocks[0]
    falls = shock.fall_fraction
    if isinstance(falls, dict):
        move = "a move of " + ", ".join(f"{s} {-f:+.0%}" for s, f in falls.items())
    else:
        move = f"a {abs(falls):.0%} {'fall' if falls > 0 else 'rise'}"
    text = f"{move} at step {shock.step} over {shock.over_steps} steps"
    if shock.recovery_fraction > 0:
        text += f", {shock.recovery_fraction:.0%} back over {shock.recovery_steps} steps"
    return text


def _base() -> Base:
    """The scenario the form edits; stops the page when there is none yet (no upload) or the
    upload is invalid."""
    presets = available_presets()
    state.init(
        {
            f"{P}.source": SOURCES[0],
            f"{P}.preset": "oct-2025" if "oct-2025" in presets else presets[0],
            f"{P}.full": False,
        }
    )
    source = st.radio("Start from", SOURCES, key=f"{P}.source", horizontal=True)
    if source == SOURCES[0]:
        left, right = st.columns([2, 3])
        name = left.selectbox(
            "Preset", presets, key=f"{P}.preset",
            help="Scenario presets shipped in simulator/scenarios/.",
        )  # fmt: skip
        full = _preset(name, demo=False)
        demo = _preset(name)
        on = right.toggle(
            f"Full preset (as `perpsim run {name}`)", key=f"{P}.full",
            help=f"Run the preset exactly as the command line does: {full.steps:,d} steps"
            + (f", {full.traders.count:,d} traders" if hasattr(full.traders, "count") else "")
            + ". The form shows its values and is locked.",
        )  # fmt: skip
        if on:
            st.caption(
                f"{full.description} The full preset: {full.steps:,d} steps; {_shape(full)}."
            )
            return Base(full, full, f"preset:{name}:full", name, True)
        traders = (
            f", {demo.traders.count:,d} traders (the preset: {full.traders.count:,d})"
            if hasattr(full.traders, "count")
            else ""
        )
        st.caption(
            f"{full.description} Demo size: {demo.steps:,d} steps{traders}. Fewer steps than "
            f"the preset's {full.steps:,d} make a miniature of it: {_shape(full)} becomes "
            f"{_shape(demo)}. Steps and Traders at the preset's values run the preset itself; "
            "or switch on Full preset."
        )
        return Base(full, demo, f"preset:{name}:demo", name)
    upload = st.file_uploader(
        "Scenario YAML and the CSV files it names", type=["yaml", "yml", "csv"],
        key=f"{P}.upload", accept_multiple_files=True,
        help="A scenario file as `perpsim run FILE` reads it (see simulator/scenarios/); with "
        "the CSV files its price path (`kind: csv`) or explicit book (`traders.csv`) names.",
    )  # fmt: skip
    if upload:
        st.session_state[f"{P}.upload_data"] = [(f.name, f.getvalue()) for f in upload]
    stored = st.session_state.get(f"{P}.upload_data")
    if not stored:
        st.info("Upload a scenario YAML file (with the CSV files it names) to start from it.")
        st.stop()
    try:
        base = scenarios.uploaded_files_scenario(stored, state.app_dir() / ".uploads")
    except ScenarioError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    names = ", ".join(f"**{name}**" for name, _ in stored)
    st.caption(f"From {names}: {base.description or base.name}")
    return Base(base, base, scenarios.upload_id(stored))


def _text(field: scenarios.FormField, value) -> str | object:
    return scenarios.format_number(value) if field.separators else value


def _reset_form(base: Base) -> None:
    """Load the start values into the form when the base changes (a new preset or upload, the
    full-preset switch)."""
    if st.session_state.get(f"{P}.base_id") == base.ident:
        return
    for name, value in scenarios.field_values(base.start).items():
        field = scenarios.FIELD_BY_NAME[name]
        if name in scenarios.OPTIONAL_CONTROLS:
            st.session_state[f"{P}.{name}_on"] = value is not None
            shown = value if value is not None else scenarios.OPTIONAL_DEFAULTS[name]
            st.session_state[f"{P}.{name}"] = _text(field, shown)
        else:
            st.session_state[f"{P}.{name}"] = _text(field, value)
    st.session_state[f"{P}.steps_seen"] = base.start.steps
    st.session_state[f"{P}.base_id"] = base.ident


def _tidy_inputs(base: Base) -> None:
    """Before the widgets are drawn: show a number typed without separators with them, and
    move the shock step with Steps (where :func:`scenarios.resized` puts it) unless it was
    moved by hand."""
    for field in scenarios.FIELDS:
        key = f"{P}.{field.name}"
        if field.separators and key in st.session_state:
            try:
                number = scenarios.parse_number(st.session_state[key], integer=field.kind == "int")
            except ValueError:
                continue
            st.session_state[key] = scenarios.format_number(number)
    try:
        steps = scenarios.parse_number(st.session_state.get(f"{P}.steps"), integer=True)
    except ValueError:
        return
    seen = st.session_state.get(f"{P}.steps_seen")
    if seen == steps:
        return
    before = scenarios.scheduled_shock_step(base.scenario, seen) if seen else None
    after = scenarios.scheduled_shock_step(base.scenario, steps)
    key = f"{P}.shock_step"
    if before is not None and after is not None and st.session_state.get(key) == before:
        st.session_state[key] = after
    st.session_state[f"{P}.steps_seen"] = steps


def _widget(field: scenarios.FormField, locked: bool) -> None:
    key = f"{P}.{field.name}"
    if field.separators and field.kind != "optional":
        st.text_input(field.label, key=key, help=field.help, disabled=locked)
    elif field.kind == "int":
        st.number_input(field.label, min_value=0, step=int(field.step or 1), key=key,
                        help=field.help, disabled=locked)  # fmt: skip
    elif field.kind == "float":
        st.number_input(field.label, step=float(field.step or 0.1), format=field.fmt, key=key,
                        help=field.help, disabled=locked)  # fmt: skip
    elif field.kind == "bool":
        st.toggle(field.label, key=key, help=field.help, disabled=locked)
    elif field.kind == "choice":
        st.selectbox(field.label, field.options, key=key, help=field.help, disabled=locked)
    elif field.kind == "optional":
        on = st.toggle(field.label, key=f"{key}_on", help=field.help, disabled=locked)
        off = locked or not on
        if field.separators:
            st.text_input(f"{field.label}: value", key=key, disabled=off,
                          label_visibility="collapsed")  # fmt: skip
        elif field.name == "circuit_breaker":
            st.number_input(f"{field.label}: value", min_value=0, step=int(field.step or 1),
                            key=key, disabled=off, label_visibility="collapsed")  # fmt: skip
        else:
            st.number_input(f"{field.label}: value", step=float(field.step or 1.0),
                            format=field.fmt, key=key, disabled=off,
                            label_visibility="collapsed")  # fmt: skip


def _form(base: Base) -> dict:
    """Render the parameter widgets; return {field: value}, the message slots and the fields
    whose text is not a number."""
    names = scenarios.applicable(base.scenario)
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
                        _widget(field, base.full)
                        slots[field.name] = st.empty()
    values = {}
    typos = {}
    for name in names:
        field = scenarios.FIELD_BY_NAME[name]
        value = st.session_state.get(f"{P}.{name}")
        if name in scenarios.OPTIONAL_CONTROLS and not st.session_state.get(f"{P}.{name}_on"):
            value = None
        elif field.separators:
            try:
                value = scenarios.parse_number(value, integer=field.kind == "int")
            except ValueError as exc:
                typos[name] = f"{scenarios.SCENARIO_KEYS[name]}: {exc}"
        values[name] = value
    return {"values": values, "slots": slots, "typos": typos}


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
base = _base()
_reset_form(base)
_tidy_inputs(base)
form = _form(base)
general = st.empty()
if form["typos"]:
    name, message = next(iter(form["typos"].items()))
    checked = scenarios.Checked(None, message, name)
else:
    checked = scenarios.check(base.scenario, form["values"])
if checked.error:
    slot = form["slots"].get(checked.field_name) if checked.field_name else None
    (slot or general).error(checked.error, icon=":material/error:")
    st.session_state.pop(f"{P}.current", None)
else:
    st.session_state[f"{P}.current"] = checked.scenario

if checked.scenario is not None and scenarios.has_path_shock(checked.scenario):
    st.caption(f"This run: {checked.scenario.steps:,d} steps; {_shape(checked.scenario)}.")
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
    same = base.preset is not None and checked.scenario.fingerprint() == base.scenario.fingerprint()
    preset = base.preset if same else None
    out, job = jobs.start_run(checked.scenario, root, preset=preset)
    st.session_state[f"{P}.run_dir"] = str(out)
    if job is None:
        st.success(
            "This scenario already ran: its results are read from the run folder, "
            "no new simulation.",
            icon=":material/cached:",
        )
elif checked.scenario is not None:
    ready = jobs.run_folder(checked.scenario, root)
    if jobs.reusable_run(ready, checked.scenario):
        st.session_state[f"{P}.run_dir"] = str(ready)

shown = st.session_state.get(f"{P}.run_dir")
if shown:
    st.divider()
    _show_run(Path(shown), checked.scenario)
