"""Fixtures of the contract tests: one chain per backend for the whole session (perpsim's chain
layer: anvil, the reference, and revm in process). Every contract test runs on both backends;
the venue's fixtures (a venue per market set, every test inside ``chain.isolate()``) are in
``venue/conftest.py``.
"""

from __future__ import annotations

import pytest

from simulator.chain import BACKENDS, open_chain


@pytest.fixture(scope="session", params=BACKENDS)
def chain(request):
    with open_chain(backend=request.param) as c:
        yield c
