"""Fixtures of the app tests: an AppTest of the router with its own run-folder root.

The app's helpers (``app/perpsim_ui``) are imported from the same module objects the AppTest
script uses, so a test can look at (or patch) the job registry the pages use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_helpers import SpawnCounter, new_app
from perpsim_ui import jobs


@pytest.fixture
def runs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sidebar's run-folder root for this test (``$PERPSIM_RUNS_DIR``)."""
    root = tmp_path / "runs"
    monkeypatch.setenv("PERPSIM_RUNS_DIR", str(root))
    return root


@pytest.fixture
def app(runs_root: Path) -> Iterator[AppTest]:
    """A fresh AppTest of the router, run once (Scenario page); stops any job it left."""
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    try:
        yield at
    finally:
        jobs.cancel_all()


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> SpawnCounter:
    """The commands the app starts during the test."""
    counter = SpawnCounter(jobs._spawn)
    monkeypatch.setattr(jobs, "_spawn", counter)
    return counter
