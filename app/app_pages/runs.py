"""Runs page: browse the run folders and comparisons under the sidebar's folder (the CLI's
too), open one, download its files."""

from __future__ import annotations

import streamlit as st

from perpsim_ui import jobs, results, state, views

P = "runs"  # widget key prefix of this page

st.title("Runs")
root = state.runs_dir()
st.write(
    f"Run folders and comparisons under `{root}`: those of `perpsim run` / `perpsim compare` "
    "and those started from this app (under `app/`)."
)
st.button("Refresh", key=f"{P}.refresh", icon=":material/refresh:")
folders = results.list_folders(root)
if not len(folders):
    st.info(
        f"No run folders under {root} yet: run a scenario on the Scenario page, or "
        "`perpsim run oct-2025` in a terminal, or choose another folder in the sidebar."
    )
    st.stop()

st.dataframe(folders, key=f"{P}.table", hide_index=True, height=min(400, 38 + 35 * len(folders)))
paths = folders["path"].tolist()
info = folders.set_index("path")
wanted = st.query_params.get("path")
state.init({f"{P}.selected": wanted if wanted in paths else paths[0]})
if st.session_state[f"{P}.selected"] not in paths:
    st.session_state[f"{P}.selected"] = paths[0]
selected = st.selectbox(
    "Open", paths, key=f"{P}.selected",
    format_func=lambda p: f"{p} · {info.loc[p, 'kind']} · {info.loc[p, 'scenario']} · "
    f"{info.loc[p, 'status']}",
)  # fmt: skip
folder = root / selected
row = info.loc[selected]

st.divider()
job = jobs.find(folder)
if job is not None and job.running:
    st.info(f"This app is still writing this folder: {job.progress_text()}")
if row["kind"] == "run":
    data = results.load_run(folder)
    if data is None:
        st.error(f"{folder} is not a run folder any more (no manifest.json)")
        st.stop()
    views.render_run(data, P)
else:
    data = results.load_compare(folder)
    if data is None:
        st.error(f"{folder} holds no comparison any more")
        st.stop()
    views.render_compare(data, P)

st.subheader("Files")
views.download_buttons(folder, P)
st.download_button(
    f"All of {folder.name} (zip)",
    data=results.zip_folder(str(folder), results.folder_version(folder)),
    file_name=f"{folder.name}.zip", mime="application/zip", key=f"{P}.zip",
    on_click="ignore", icon=":material/folder_zip:",
)  # fmt: skip
