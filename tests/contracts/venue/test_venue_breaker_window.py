"""A venue market's circuit-breaker window must fit its oracle's TWAP ring, checked on chain.

``Oracle.twap(window)`` reverts ``TwapWindowTooLong`` past ``maxTwapWindow()`` (review F6); a
market's breaker reads ``twap(circuitBreakerWindow)`` of its own oracle on every trade while its
band is on. Before this check the timelock could list a market, or change one's parameters, with
a window longer than that oracle's ring, and every trade in the market then reverted.
``VenueParams.validate`` now refuses it with ``CircuitBreakerWindowTooLong(window,
maxTwapWindow)`` in ``listMarket`` and ``setMarketParameters``; Python's ``VenueMarket`` (which
knows the market's oracle) refuses exactly the same parameter sets.
"""

from __future__ import annotations

from perp_helpers import TRADERS, WAD, ok
from pydantic import ValidationError
from venue_helpers import BASE_MARKET

from simulator.chain.deploy import deploy_contract
from simulator.protocol.contracts import Oracle
from simulator.protocol.params import OracleParams
from simulator.protocol.venue_params import VenueMarket, VenueMarketParams

A = TRADERS[26]
RING_S = 300  # maxTwapWindow of the oracle listed here, seconds
DEFAULT_RING_S = OracleParams.model_fields["max_twap_window_s"].default  # the four markets'


def _breaker(band_bps: int, window_s: int) -> dict[str, int | bool]:
    return {**BASE_MARKET, "circuitBreakerBandBps": band_bps, "circuitBreakerWindow": window_s}


def _fresh_prices(mv) -> None:
    """Push every listed market's last price again (the timelock's delay outlasts max_age_s)."""
    mv.push_all({m: mv.chain.read_one(o.latest_price())[0] for m, o in mv.oracles.items()})


def _trade_goes_through(mv, market: int) -> None:
    _fresh_prices(mv)
    mv.setup(A, 10_000, [(market, 1)])  # ok() raises on a revert (TwapWindowTooLong before)


def test_the_timelock_cannot_set_a_window_longer_than_the_market_oracle_ring(mv):
    """Fails before the fix: the change went through and the next trade in the market reverted
    ``TwapWindowTooLong``."""
    ring = mv.chain.read_one(mv.oracles[1].max_twap_window())
    assert ring == DEFAULT_RING_S
    before = mv.venue.parameters_now(1)
    r = mv.govern(mv.venue.set_market_parameters(mv.timelock.address, 1, _breaker(500, ring + 1)))
    _trade_goes_through(mv, 1)  # before the fix: TransactionReverted ... TwapWindowTooLong
    assert r.error is not None and r.error.name == "CircuitBreakerWindowTooLong", r.error
    assert r.error.args == {"window": ring + 1, "maxTwapWindow": ring}
    assert mv.venue.parameters_now(1) == before


def test_a_window_equal_to_the_ring_is_accepted_and_the_market_trades(mv):
    ring = mv.chain.read_one(mv.oracles[2].max_twap_window())
    r = mv.govern(mv.venue.set_market_parameters(mv.timelock.address, 2, _breaker(500, ring)))
    assert r.ok, r.error
    assert mv.venue.parameters_now(2)["circuitBreakerWindow"] == ring
    _trade_goes_through(mv, 2)


def _oracle(mv) -> Oracle:
    """A new oracle (1000 USD, 300 s ring) administered by the venue's timelock."""
    return deploy_contract(
        mv.chain, Oracle, mv.timelock.address, mv.pusher, 1_000 * WAD, 3_600, 0, RING_S
    )


#: (band bps, window s) around the listed oracle's 300 s ring, band on and off.
CASES = [(500, RING_S - 1), (500, RING_S), (500, RING_S + 1), (0, RING_S), (0, RING_S + 1)]


def _python_refuses(band_bps: int, window_s: int) -> bool:
    params = VenueMarketParams.from_chain(_breaker(band_bps, window_s))
    try:
        VenueMarket(
            symbol="NEW",
            oracle=OracleParams(initial_price_usd=1000, max_twap_window_s=RING_S),
            params=params,
        )
    except ValidationError:
        return True
    return False


def test_list_market_refuses_exactly_what_python_refuses(mv):
    """Each case lists its own market on a 300 s-ring oracle through the timelock: the chain
    refuses a window past the ring (band on or off) with both numbers, Python refuses the same
    cases, and a market listed at the boundary trades."""
    oracle = _oracle(mv)
    calls = [
        mv.venue.list_market(mv.timelock.address, f"NEW{i}", oracle.address, _breaker(band, window))
        for i, (band, window) in enumerate(CASES)
    ]
    results = mv.govern_many(calls)
    listed = {}
    for (band, window), r in zip(CASES, results, strict=True):
        refused = not r.ok
        assert refused == (window > RING_S), (band, window, r.error)
        assert _python_refuses(band, window) == refused, (band, window)
        if refused:
            assert r.error.name == "CircuitBreakerWindowTooLong", r.error
            assert r.error.args == {"window": window, "maxTwapWindow": RING_S}
        else:
            market = [e.args["market"] for e in r.events if e.name == "MarketListed"]
            listed[(band, window)] = market[0]
    _fresh_prices(mv)
    ok([mv.chain.execute_one(oracle.push_price(mv.pusher, 1_000 * WAD))])
    mv.setup(A, 10_000, [(listed[(500, RING_S)], 1)])  # the boundary market trades
