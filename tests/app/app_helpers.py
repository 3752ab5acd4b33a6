"""Helpers of the app tests (imported by the test files and conftest.py)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from simulator.paths import PROJECT_ROOT

APP_DIR = PROJECT_ROOT / "app"
APP = APP_DIR / "streamlit_app.py"
if str(APP_DIR) not in sys.path:  # the app's helpers, as the AppTest script imports them
    sys.path.insert(0, str(APP_DIR))
#: Where ``toy_venue`` lives (multi-market run folders written without a chain).
SIMULATOR_TESTS = PROJECT_ROOT / "tests" / "simulator"
if str(SIMULATOR_TESTS) not in sys.path:
    sys.path.append(str(SIMULATOR_TESTS))

#: Seconds one AppTest run may take: a demo-size run or a small comparison, on a busy machine.
RUN_TIMEOUT_S = 180


def new_app() -> AppTest:
    """An AppTest of the router (not run yet)."""
    return AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)


class SpawnCounter:
    """Stands in for ``perpsim_ui.jobs._spawn``: records each command, then starts it."""

    def __init__(self, real):
        self.real = real
        self.commands: list[list[str]] = []

    def __call__(self, command, cwd):
        self.commands.append(list(command))
        return self.real(command, cwd)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def errors(at: AppTest) -> list[str]:
    """Texts of the error messages shown."""
    return [e.value for e in at.error]


def charts(at: AppTest) -> list:
    """The plotly charts shown."""
    return list(at.get("plotly_chart"))


def dataframe_with(at: AppTest, *columns: str):
    """The first dataframe shown that has these columns (dataframes carry no key in AppTest)."""
    for element in at.dataframe:
        frame = element.value
        if all(c in frame.columns for c in columns):
            return frame
    raise AssertionError(f"no dataframe with columns {columns} is shown")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), read from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def _values(data):
    """A trace's x or y as a list: plotly sends arrays as ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def chart_traces(at: AppTest, key: str) -> dict[str, dict]:
    """The traces of the plotly chart shown with widget key ``key``: ``{name: {"x": [...],
    "y": [...]}}``, and the figure's title under ``"title"``."""
    [chart] = [c for c in at.get("plotly_chart") if c.key == key]
    spec = json.loads(chart.proto.spec)
    traces = {t.get("name"): {"x": _values(t.get("x", [])), "y": _values(t.get("y", []))}
              for t in spec["data"]}  # fmt: skip
    traces["title"] = spec["layout"].get("title", {}).get("text")
    return traces
