"""Shared fixtures. ape's pytest plugin is active (it starts its own anvil on a free port for
tests that use ape's fixtures); perpsim's own chain layer starts the nodes the other tests use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from simulator.paths import PROJECT_ROOT, toolchain_env

toolchain_env()
os.environ["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

PERPSIM = str(Path(sys.executable).with_name("perpsim"))


@pytest.fixture(scope="session")
def perpsim_cmd() -> str:
    """Path of the installed ``perpsim`` console script."""
    return PERPSIM
