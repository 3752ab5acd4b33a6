"""Shared fixtures. ape's pytest plugin is active (it starts its own anvil on a free port for
tests that use ape's fixtures); perpsim's own chain layer starts the nodes the other tests use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from simulator.paths import PROJECT_ROOT, toolchain_env

toolchain_env()
os.environ["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

PERPSIM = str(Path(sys.executable).with_name("perpsim"))

# Property tests: ``make test`` (and CI) draws the same examples every run (derandomized, no
# example database), so a run's verdict depends on the code, not on the draw; ``make soak``
# sets PERPSIM_HYPOTHESIS=random to explore new examples each run (a failure prints the blob
# that replays it). A test's own ``@settings(...)`` keeps what it sets and inherits the rest.
settings.register_profile("fixed", derandomize=True, database=None, print_blob=True)
settings.register_profile("random", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("PERPSIM_HYPOTHESIS", "fixed"))


@pytest.fixture(scope="session")
def perpsim_cmd() -> str:
    """Path of the installed ``perpsim`` console script."""
    return PERPSIM
