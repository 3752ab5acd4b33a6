"""Fixtures of the contract tests: one chain per backend for the whole session (perpsim's chain
layer: anvil, the reference, and revm in process), one venue deployed per parameter set, and
every test run inside ``chain.isolate()``. Every contract test runs on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from perp_helpers import TEST_PARAMS, deploy

from simulator.chain import BACKENDS, open_chain
from simulator.protocol import VenueParams
from simulator.protocol.deploy import Venue


@pytest.fixture(scope="session", params=BACKENDS)
def chain(request):
    with open_chain(backend=request.param) as c:
        yield c


@pytest.fixture(scope="session")
def deployed(chain):
    """Deploy (once per session) the venue of a parameter set, outside any isolation."""
    cache: dict[str, Venue] = {}

    def get(params: VenueParams) -> Venue:
        key = params.model_dump_json()
        if key not in cache:
            cache[key] = deploy(chain, params)
        return cache[key]

    return get


@pytest.fixture
def venue(chain, deployed) -> Iterator[Venue]:
    """The default test venue, with every change reverted after the test."""
    v = deployed(TEST_PARAMS)
    with chain.isolate():
        yield v


@pytest.fixture
def make_venue(chain, venue):
    """Deploy a variant of the test venue inside the current test's isolation."""

    def make(params: VenueParams | None = None, **market_changes) -> Venue:
        params = params or TEST_PARAMS
        if market_changes:
            params = params.with_market(**market_changes)
        return deploy(chain, params)

    return make
