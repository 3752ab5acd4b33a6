"""Runs page: browse the run folders and comparisons under the sidebar's folder (the CLI's
too), open one, resume or delete a run, download its files.

A comparison's runs are listed under it, not beside it. A run whose manifest says ``running``
but whose writer process is gone is shown as ``stopped`` (see
:func:`perpsim_ui.results.folder_status`) and can be resumed like an incomplete one.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from perpsim_ui import jobs, results, state, views

P = "runs"  # widget key prefix of this page
#: Statuses of a run folder that ``perpsim run --resume DIR`` can finish.
RESUMABLE = ("incomplete", results.STOPPED)


def _actions(folder: Path, status: str, key: str) -> None:
    """Resume (an unfinished run) and delete (with a confirmation) buttons for ``folder``."""
    confirm_key = f"{key}.delete_asked"
    left, right, _ = st.columns([1, 1, 4])
    if status in RESUMABLE:
        if left.button(
            "Resume", key=f"{key}.resume", icon=":material/play_arrow:",
            help=f"`perpsim run --resume {folder}`: go on from its last checkpoint.",
        ):  # fmt: skip
            jobs.resume_run(folder)
            st.rerun()  # follow the job from the top
    if right.button("Delete…", key=f"{key}.delete", icon=":material/delete:"):
        st.session_state[confirm_key] = str(folder)
    if st.session_state.get(confirm_key) == str(folder):
        st.warning(
            f"Delete `{folder}` and every file in it? This cannot be undone.",
            icon=":material/warning:",
        )
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button("Delete it", key=f"{key}.delete_confirm", type="primary"):
            st.session_state.pop(confirm_key, None)
            try:
                jobs.delete_folder(folder, root)
            except ValueError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state.pop(f"{P}.selected", None)
            st.session_state.pop(f"{P}.member", None)
            st.rerun()
        if no.button("Cancel", key=f"{key}.delete_cancel"):
            st.session_state.pop(confirm_key, None)
            st.rerun()


def _show_run(folder: Path, key: str) -> None:
    job = jobs.find(folder)
    if job is not None and job.running:
        jobs.follow(job, key)
        job = jobs.find(folder)
    if job is not None and not job.running and not job.ok:
        st.error(f"The run stopped: {job.error}", icon=":material/error:")
    data = results.load_run(folder)
    if data is None:
        st.error(f"{folder} is not a run folder any more (no manifest.json)")
        st.stop()
    _actions(folder, data.status, key)
    views.render_run(data, key)


st.title("Runs")
root = state.runs_dir()
st.write(
    f"Run folders and comparisons under `{root}`: those of `perpsim run` / `perpsim compare` "
    "and those started from this app (under `app/`). A comparison's runs are under it."
)
st.button("Refresh", key=f"{P}.refresh", icon=":material/refresh:")
folders = results.list_folders(root)
if not len(folders):
    st.info(
        f"No run folders under {root} yet: run a scenario on the Scenario page, or "
        "`perpsim run oct-2025` in a terminal, or choose another folder in the sidebar."
    )
    st.stop()

st.dataframe(
    folders, key=f"{P}.table", hide_index=True, height=min(400, 38 + 35 * len(folders)),
    column_order=["name", "status", "kind", "path", "created", "fingerprint"],
)  # fmt: skip
paths = folders["path"].tolist()
info = folders.set_index("path")
wanted = st.query_params.get("path")
state.init({f"{P}.selected": wanted if wanted in paths else paths[0]})
if st.session_state[f"{P}.selected"] not in paths:
    st.session_state[f"{P}.selected"] = paths[0]
selected = st.selectbox(
    "Open", paths, key=f"{P}.selected",
    format_func=lambda p: f"{info.loc[p, 'name']} · {info.loc[p, 'status']} · {p}",
)  # fmt: skip
folder = root / selected
row = info.loc[selected]

st.divider()
job = jobs.find(folder)
if row["kind"] == "run":
    _show_run(folder, P)
else:
    if job is not None and job.running:
        st.info(f"This app is still writing this folder: {job.progress_text()}")
    data = results.load_compare(folder)
    if data is None:
        st.error(f"{folder} holds no comparison any more")
        st.stop()
    views.render_compare(data, P)
    _actions(folder, "comparison", P)
    members = results.comparison_runs(folder, root)
    if len(members):
        st.subheader(f"Runs of this comparison ({len(members)})")
        st.dataframe(
            members, key=f"{P}.members", hide_index=True,
            column_order=["name", "status", "control", "path", "created"],
        )  # fmt: skip
        member_paths = members["path"].tolist()
        by_path = members.set_index("path")
        if st.session_state.get(f"{P}.member") not in member_paths:
            st.session_state[f"{P}.member"] = member_paths[0]
        member = st.selectbox(
            "Open a run of this comparison", member_paths, key=f"{P}.member",
            format_func=lambda p: f"{by_path.loc[p, 'name']} · {by_path.loc[p, 'status']}",
        )  # fmt: skip
        with st.container(border=True):
            _show_run(root / member, f"{P}.run")

st.subheader("Files")
views.download_buttons(folder, P)
st.download_button(
    f"All of {folder.name} (zip)",
    data=results.zip_folder(str(folder), results.folder_version(folder)),
    file_name=f"{folder.name}.zip", mime="application/zip", key=f"{P}.zip",
    on_click="ignore", icon=":material/folder_zip:",
)  # fmt: skip
