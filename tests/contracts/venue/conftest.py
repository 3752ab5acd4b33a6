"""Fixtures of the venue tests: the parametrized ``chain`` of tests/contracts/conftest.py (every
test runs on anvil and on revm), one venue deployed per market set and session, and every test
run inside ``chain.isolate()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from venue_helpers import MarketSpec, MultiVenue, deploy_multi

#: Four markets with round prices: the default venue of the tests.
FOUR_MARKETS = [
    MarketSpec("BTC", 1_000),
    MarketSpec("ETH", 100),
    MarketSpec("SOL", 10),
    MarketSpec("ALT", 2),
]


@pytest.fixture(scope="session")
def deployed_venues(chain):
    """Deploy (once per session and backend) the venue of a market set, outside any isolation."""
    cache: dict[str, MultiVenue] = {}

    def get(markets: list[MarketSpec], **kwargs) -> MultiVenue:
        key = repr((markets, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = deploy_multi(chain, markets, **kwargs)
        return cache[key]

    return get


@pytest.fixture
def mv(chain, deployed_venues) -> Iterator[MultiVenue]:
    """The four-market test venue, every change reverted after the test."""
    v = deployed_venues(FOUR_MARKETS)
    with chain.isolate():
        yield v


@pytest.fixture
def make_mv(chain, mv):
    """Deploy a venue of other markets inside the current test's isolation."""

    def make(markets: list[MarketSpec], **kwargs) -> MultiVenue:
        return deploy_multi(chain, markets, **kwargs)

    return make
