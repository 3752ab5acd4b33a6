"""Fixtures of the contagion-world contract tests (``contracts/contagion/``): a lending pool with
one oracle-priced collateral, deployed inside each test's ``chain.isolate()``. The venue helpers of ``tests/contracts/venue/`` deploy the perp venue the
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


@pytest.fixture
def pw(chain) -> PoolWorld:
    """The pool world, deployed inside the test's isolation: nothing of it outlives the test,
    so the session chain (and its deployer's nonce) is the same for the other test folders."""
    with chain.isolate():
        yield deploy_pool_world(chain)
