"""Tune page: search parameters with ``perpsim tune`` and read what it found.

Choose a scenario, the parameters and their ranges, the objectives, the constraints and the
budget; the tune runs in the background (its progress shows while it runs) and writes a tune
folder. A tune folder (one started here or with the CLI) shows the Pareto front of its trials,
the trials table, the recommended set against the current one with 95% intervals on the
tuning paths and on the held-out paths verified on chain, and opens its verification runs in
the Compare page. What each input means: ``perpsim tune --help`` and the README's section.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from perpsim_ui import charts, jobs, scenarios, state, views
from perpsim_ui import tune as model
from simulator.scenario import Scenario

P = "tune"  # widget key prefix of this page
FROM_SCENARIO_PAGE = views.FROM_SCENARIO_PAGE
ENGINES = ("mirror", "chain")


@st.cache_data(show_spinner=False)
def _preset(name: str) -> Scenario:
    return scenarios.preset_scenario(name)


@st.cache_data(show_spinner=False)
def _keys(fingerprint: str, _scenario: Scenario) -> list[str]:
    return model.tunable_keys(_scenario)


@st.cache_data(show_spinner=False)
def _suggested(fingerprint: str, name: str, _scenario: Scenario) -> str:
    return model.suggested_range(_scenario, name)


def _scenario() -> Scenario:
    """The scenario to tune: the Scenario page's, or a preset at demo size."""
    preferred = (FROM_SCENARIO_PAGE, "preset:oct-2025")
    return views.scenario_choice(f"{P}.source", "tune it", _preset, preferred)


def _default_engine(scenario: Scenario) -> str:
    """The mirror where this build has it and it models ``scenario`` (the search's engine of
    choice), else the chain."""
    problem = model.engine_problem(ENGINES[0], state.backend(), scenario)
    return ENGINES[0] if problem is None else ENGINES[1]


def _form(scenario: Scenario) -> model.TuneForm:
    """The inputs, as widgets; returns what they say (not yet checked)."""
    keys = _keys(scenario.fingerprint(), scenario)
    first = scenario.symbols[0]
    state.init({
        f"{P}.params": ["controls.insurance_fund_usd", f"markets.{first}.overrides.max_leverage"],
        f"{P}.objectives": ["var95:system_loss_usd", "mean:fees_usd"],
        f"{P}.constraints": "evar99:bad_debt_usd<=1e6",
        f"{P}.trials": 20, f"{P}.paths": 4, f"{P}.max_change": None,
        f"{P}.candidates": 3, f"{P}.verify_paths": 4, f"{P}.workers": 2,
    })  # fmt: skip
    if f"{P}.engine" not in st.session_state:
        st.session_state[f"{P}.engine"] = _default_engine(scenario)
    chosen = list(st.session_state[f"{P}.params"])
    left, right = st.columns([3, 1])
    with left:
        views.readable_chips()
        names = st.multiselect(
            "Parameters", [*keys, *(k for k in chosen if k not in keys)], key=f"{P}.params",
            accept_new_options=True,
            help="Scenario override keys (`perpsim tune --param NAME=...`): the controls and each "
            "market's parameters are listed; type any other key the scenario has.",
        )  # fmt: skip
        params = []
        for name in names:
            key = f"{P}.range.{name}"
            state.init({key: _suggested(scenario.fingerprint(), name, scenario)})
            text = st.text_input(
                f"Range of {name}", key=key, placeholder="LOW..HIGH or a|b|c",
                help="LOW..HIGH (a log scale when HIGH/LOW >= 100; suffix :log, :linear, :int or "
                ":float to choose), or choices a|b|c. In the parameter's unit.",
            )  # fmt: skip
            params.append(f"{name}={text.strip()}")
        chosen_objectives = list(st.session_state[f"{P}.objectives"])
        objectives = st.multiselect(
            "Objectives", [*model.OBJECTIVE_CHOICES,
                           *(o for o in chosen_objectives if o not in model.OBJECTIVE_CHOICES)],
            key=f"{P}.objectives", accept_new_options=True,
            help="[min:|max:]STAT:METRIC over the tuning paths: STAT mean, median, std, min, max, "
            "varQ, evarQ, cvarQ or pQ; METRIC a summary figure, SYMBOL:figure, or oi_start_usd. "
            "Fees and open interest are maximised, losses minimised, unless min:/max: says.",
        )  # fmt: skip
        constraints = st.text_area(
            "Constraints (one per line)", key=f"{P}.constraints", height=80,
            help="STAT:METRIC<=BOUND or >=BOUND, e.g. evar99:bad_debt_usd<=1e6 (the metric's "
            "unit). A trial that breaks one is infeasible.",
        )  # fmt: skip
    with right:
        trials = st.number_input("Trials", min_value=1, max_value=5000, step=1, key=f"{P}.trials")
        paths = st.number_input("Tuning paths per trial", min_value=1, max_value=256, step=1,
                                key=f"{P}.paths")  # fmt: skip
        engine = st.radio("Engine", ENGINES, key=f"{P}.engine", horizontal=True,
                          help="Search on the numpy mirror of the contracts or on chain.")  # fmt: skip
        max_change = st.number_input(
            "Max change (%)", min_value=0.0, max_value=1000.0, step=5.0, key=f"{P}.max_change",
            help="Narrow each range to the current value ± this percentage (empty: no limit).",
        )  # fmt: skip
        candidates = st.number_input("Candidates verified on chain", min_value=1, max_value=10,
                                     step=1, key=f"{P}.candidates")  # fmt: skip
        verify_paths = st.number_input("Held-out paths (0: no verification)", min_value=0,
                                       max_value=64, step=1, key=f"{P}.verify_paths")  # fmt: skip
        workers = st.number_input("Parallel evaluations", min_value=1, max_value=8, step=1,
                                  key=f"{P}.workers")  # fmt: skip
        backends = state.BACKENDS if state.revm_available() else state.BACKENDS[:1]
        state.init({f"{P}.verify_backend": backends[-1]})  # revm where this build has it
        verify_backend = st.radio(
            "Verify on", backends, key=f"{P}.verify_backend", horizontal=True,
            help="The chain backend of the held-out verification (`--verify-backend`): the "
            "in-process revm where this build has it (the same contracts, faster), else anvil.",
        )  # fmt: skip
    return model.TuneForm(
        scenario=scenario, params=tuple(params), objectives=tuple(objectives),
        constraints=model.split_lines(constraints), trials=int(trials), paths=int(paths),
        engine=str(engine), backend=state.backend(),
        max_change_pct=None if max_change is None else float(max_change),
        candidates=int(candidates), verify_paths=int(verify_paths), workers=int(workers),
        verify_backend=str(verify_backend),
    )  # fmt: skip


def _follow(job: jobs.Job) -> None:
    """Show a running tune's progress until it ends, with a button that stops it."""
    import time

    if st.session_state.get(f"{P}.stop"):
        job.cancel()
        return
    trials = int(job.command[job.command.index("--trials") + 1])
    box = st.empty()
    with box.container():
        bar = st.progress(job.fraction, text=model.progress_text(job, trials))
        st.button("Stop tune", key=f"{P}.stop",
                  help="Stop it; finished trials are kept and the same tune continues them")  # fmt: skip
    while job.running:
        time.sleep(jobs.POLL_SECONDS)
        bar.progress(job.fraction, text=model.progress_text(job, trials))
    box.empty()


def _folder_choice(root: Path) -> Path | None:
    """The tune folder to show: one under the run folders, or one this app is running."""
    found = [str(p) for p in model.list_tunes(root)]
    running = [key for key, job in jobs.registry().items() if job.kind == "tune" and job.running]
    selected = st.session_state.get(f"{P}.selected")
    # The folder asked for stays chosen while it exists or this app has a job for it (a tune
    # that failed before writing its folder still shows why).
    kept = [selected] if selected and (jobs.find(Path(selected)) or Path(selected).is_dir()) else []
    options = list(dict.fromkeys([*kept, *running, *found]))
    if not options:
        st.info(f"No tune folder under `{root}` yet: start a tune above, or run "
                "`perpsim tune ... --out` into that folder.")  # fmt: skip
        return None

    if st.session_state.get(f"{P}.selected") not in options:
        st.session_state[f"{P}.selected"] = options[0]

    def label(option: str) -> str:
        path = Path(option)
        return str(path.relative_to(root)) if root in path.parents else option

    choice = st.selectbox("Tune folder", options, key=f"{P}.selected", format_func=label,
                          help=f"Tune folders under `{root}` (the sidebar's run folders), newest "
                          "first.")  # fmt: skip
    return Path(choice)


def _choose(label: str, options: list[str], key: str) -> str:
    """A selectbox whose kept value falls back to the first option when it is not offered (another
    tune folder, or the other axis took it)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key)


def _render(data: dict, folder: Path) -> None:
    """Everything about a finished tune."""
    held, counts = data["held_out"], data["trials"]
    engine = data["engine"] + (f" ({data['backend']})" if data.get("backend") else "")
    st.caption(
        f"Folder `{folder}` · scenario **{data['scenario']['name']}** · search on {engine}, "
        f"{data['executor']} · {counts['complete']} of {counts['requested']} trials complete, "
        f"{counts['failed']} failed, {counts['feasible']} feasible, {counts['pareto']} on the "
        f"Pareto front · tuning: {data['tuning']['paths']} path(s) · held-out: "
        f"{held['paths']} path(s) on chain ({held.get('backend') or '-'})"
    )
    recommended = data.get("recommended")
    if recommended:
        trial = f" (trial {recommended['trial']})" if recommended.get("trial") is not None else ""
        st.success(f"Recommended: **{recommended['label']}**{trial}: {data['recommended_reason']}",
                   icon=":material/recommend:")  # fmt: skip
    else:
        st.warning(f"No recommended set: {data['recommended_reason']}", icon=":material/warning:")

    st.subheader("Pareto front")
    labels = [o["label"] for o in data["objectives"]]
    x, y = labels[0], (labels[1] if len(labels) > 1 else None)
    if len(labels) > 2:
        left, right = st.columns(2)
        with left:
            x = _choose("x axis", labels, f"{P}.x")
        with right:
            y = _choose("y axis", [lab for lab in labels if lab != x], f"{P}.y")
    st.plotly_chart(model.pareto_figure(data, x, y), key=f"{P}.chart.pareto", **charts.SHOW)

    st.subheader("Recommended set against the current one")
    others = [s["label"] for s in data.get("candidates", [])]
    if others:
        default = recommended["label"] if recommended else others[0]
        if st.session_state.get(f"{P}.set") not in others:
            st.session_state[f"{P}.set"] = default
        chosen = st.selectbox(
            "Set shown beside the current one", others, key=f"{P}.set",
            format_func=lambda s: s + (" (recommended)" if recommended and s == recommended["label"]
                                       else ""),
        )  # fmt: skip
        st.table(model.set_table(data, ["current", chosen]))
        st.caption(
            "Mean over the paths with its 95% bootstrap interval; tuning: the search's paths on "
            f"the {data['engine']} engine; held-out: fresh paths, disjoint from them "
            f"({held.get('rule', '')}), on chain."
        )
    else:
        st.info("No candidate was verified: no complete trial met every constraint.")
        st.table(model.set_table(data, ["current"]))
    try:
        target = model.compare_state(data, folder)
    except ValueError as exc:
        target, why = None, str(exc)
    else:
        why = "Opens OUT/verify: the current set and each candidate on the held-out paths."
    if st.button("Open the verification runs in Compare", key=f"{P}.open_compare",
                 disabled=target is None, help=why, icon=":material/compare_arrows:"):  # fmt: skip
        st.session_state["compare.out_dir"] = target
        st.session_state["compare.opened_from"] = f"the Tune page ({folder.name})"
        st.switch_page("app_pages/compare.py")

    st.subheader("Trials")
    st.dataframe(model.trials_frame(data), width="stretch")
    with st.expander("Files of this tune"):
        views.download_buttons(folder, P, names=("tune.md", "tune.json", "pareto.csv",
                                                  "trials.csv", "experiment.json"))  # fmt: skip


st.title("Tune parameters")
st.write(
    "Search protocol parameters for the trade-off between objectives over price paths "
    "(Optuna, `perpsim tune`), under constraints; the best candidates are then run on chain on "
    "held-out paths they were not tuned on, beside the current set."
)
scenario = _scenario()
form = _form(scenario)
error = model.check(form)
if error:
    st.error(error, icon=":material/error:")
held = f"{form.verify_paths} held-out path(s)" if form.verify_paths else "no held-out paths"
st.caption(
    f"{form.trials} trial(s) × {form.paths} tuning path(s) on the {form.engine} engine, then "
    f"the current set and {form.candidates} candidate(s) on {held} on chain "
    f"({form.verify_backend}); {scenario.steps} steps each"
    + (
        f"; the chain search on {form.backend} (the sidebar's backend)."
        if form.engine == "chain"
        else "."
    )
)
clicked = st.button("Start tune", key=f"{P}.run", type="primary", disabled=error is not None)
root = state.app_dir()
if clicked and error is None:
    out, job = model.start_tune(form, root)
    st.session_state[f"{P}.selected"] = str(out)
    if job is None:
        st.success("This tune already ran: its results are read from its folder.",
                   icon=":material/cached:")  # fmt: skip

st.divider()
folder = _folder_choice(state.runs_dir())
if folder is None:
    st.stop()
job = jobs.find(folder)
if job is not None and job.running:
    _follow(job)
if job is not None and not job.running and not job.ok:
    st.error(f"The tune stopped: {job.error}", icon=":material/error:")
try:
    data = model.read_tune(folder)
except ValueError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
if data is None:
    st.info(
        f"This tune has not finished: {model.finished_trials(folder)} trial(s) written so far. "
        "Start the same tune again to continue it (its finished trials are kept).",
        icon=":material/hourglass_top:",
    )
    st.stop()
_render(data, folder)
