"""Fixtures of the contagion-world contract tests (``contracts/contagion/``): a lending pool with
one oracle-priced collateral, deployed once per backend and session, every test inside
``chain.isolate()``. The venue helpers of ``tests/contracts/venue/`` deploy the perp venue the
synthetic dollar hedges on and the backstop vault whose shares the pool accepts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# venue_helpers / vault_helpers live beside the venue tests; pytest puts only this folder and
# its parents' conftest folders on sys.path when these tests run alone.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "venue"))

from contagion_helpers import PoolWorld, deploy_pool_world  # noqa: E402


@pytest.fixture(scope="session")
def deployed_pool_world(chain) -> PoolWorld:
    """The pool world of one backend, deployed outside any isolation."""
    return deploy_pool_world(chain)


@pytest.fixture
def pw(chain, deployed_pool_world) -> PoolWorld:
    """The pool world, every change reverted after the test."""
    with chain.isolate():
        yield deployed_pool_world
