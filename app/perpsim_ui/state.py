"""Session state and settings shared by every page.

Widget keys are namespaced by page (``scenario.*``, ``compare.*``, ``runs.*``, ``sidebar.*``).
Non-widget keys are initialised only when missing (:func:`init`). Streamlit forgets the value
of a widget that is not rendered in a run, so leaving a page would reset its form; the router
calls :func:`keep_widget_values` first, which re-assigns the value widgets' keys so they
survive a visit to another page.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from simulator.paths import PROJECT_ROOT

#: Environment variable naming the folder that holds run folders.
RUNS_DIR_ENV = "PERPSIM_RUNS_DIR"
#: Session key of the sidebar's run-folder setting.
RUNS_DIR_KEY = "sidebar.runs_dir"
#: Session key of the sidebar's chain backend (``anvil`` or ``revm``).
BACKEND_KEY = "sidebar.backend"
#: Chain backends the app offers, as ``perpsim --backend`` spells them.
BACKENDS = ("anvil", "revm")
#: Prefixes of value widgets whose state must outlive a visit to another page. Buttons, file
#: uploaders and download buttons cannot be assigned and are not listed here.
PERSISTENT_PREFIXES = ("scenario.", "compare.", "runs.", "sidebar.", "tune.")
#: Widget keys that must not be re-assigned (buttons and uploaders refuse it).
_UNASSIGNABLE_SUFFIXES = (
    ".run", ".stop", ".upload", ".refresh", ".zip", ".resume", ".delete", ".delete_confirm",
    ".delete_cancel", ".open_compare",
)  # fmt: skip


def default_runs_dir() -> Path:
    """``$PERPSIM_RUNS_DIR`` if set, else ``runs/`` in the repository (where the CLI writes)."""
    env = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else PROJECT_ROOT / "runs"


def init(defaults: Mapping[str, Any]) -> None:
    """Set each session key to its default only when it is missing."""
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def keep_widget_values() -> None:
    """Re-assign the value widgets' keys so their values survive rendering another page."""
    for key in list(st.session_state.keys()):
        if (
            isinstance(key, str)
            and key.startswith(PERSISTENT_PREFIXES)
            and ".download." not in key
            and not key.endswith(_UNASSIGNABLE_SUFFIXES)
            and not key.startswith("$$")
        ):
            try:
                st.session_state[key] = st.session_state[key]
            except st.errors.StreamlitAPIException:  # a button-like widget: nothing to keep
                pass


def runs_dir() -> Path:
    """The folder of run folders chosen in the sidebar."""
    init({RUNS_DIR_KEY: str(default_runs_dir())})
    text = str(st.session_state[RUNS_DIR_KEY]).strip()
    return Path(text).expanduser() if text else default_runs_dir()


def backend() -> str:
    """The chain backend chosen in the sidebar for new runs (``anvil`` unless changed)."""
    init({BACKEND_KEY: BACKENDS[0]})
    chosen = st.session_state[BACKEND_KEY]
    return chosen if chosen in BACKENDS else BACKENDS[0]


def revm_available() -> bool:
    """Whether the in-process EVM (the ``pyrevm`` package) can be imported here."""
    import importlib.util

    return importlib.util.find_spec("pyrevm") is not None


def app_dir() -> Path:
    """Where the app writes its own runs and comparisons: ``<runs dir>/app``."""
    return runs_dir() / "app"


def perpsim_command() -> list[str]:
    """The ``perpsim`` console script of this environment (the venv's), as an argv prefix."""
    beside = Path(sys.executable).with_name("perpsim")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("perpsim")
    if found:
        return [found]
    return [sys.executable, "-m", "simulator.cli"]
