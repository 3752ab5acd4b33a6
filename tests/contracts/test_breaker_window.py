"""The circuit breaker's TWAP window must fit the oracle's ring, checked on chain (old market).

``Oracle.twap(window)`` reverts ``TwapWindowTooLong`` past ``maxTwapWindow()`` (review F6), and
the market's breaker reads ``twap(circuitBreakerWindow)`` on every trade while its band is on.
Before this check, the timelock could set a window longer than the ring and every trade then
reverted: a parameter change that bricked the market. ``ParamsLib.validate`` now refuses such a
window with ``CircuitBreakerWindowTooLong(window, maxTwapWindow)`` in the constructor and in
``setParameters``; Python (``VenueParams``) refuses exactly the same parameter sets.
"""

from __future__ import annotations

import pytest
from perp_helpers import TEST_PARAMS, TRADERS, deploy, open_position, set_price
from pydantic import ValidationError

from simulator.errors import DeployError
from simulator.protocol.params import OracleParams, ParamsError, VenueParams

A, B = TRADERS[24:26]
RING_S = 300  # the oracle's maxTwapWindow in these tests, seconds


def _oracle(max_twap_window_s: int = RING_S) -> OracleParams:
    return OracleParams(initial_price_usd=1000, max_age_s=3600, max_twap_window_s=max_twap_window_s)


def _params(band_bps: int, window_s: int) -> VenueParams:
    """The test venue with a breaker (band, window) on an oracle of a 300 s ring (validated)."""
    return VenueParams.model_validate(
        {
            **TEST_PARAMS.model_dump(),
            "oracle": _oracle().model_dump(),
            "market": {
                **TEST_PARAMS.market.model_dump(),
                "circuit_breaker_band_bps": band_bps,
                "circuit_breaker_window_s": window_s,
            },
        }
    )


def _governed_window(chain, v, band_bps: int, window_s: int):
    """The timelock sets the breaker (band, window); the index is pushed again after the delay."""
    m = v.market
    changed = {**m.parameters_now(), "circuitBreakerBandBps": band_bps}
    changed["circuitBreakerWindow"] = window_s
    r = v.govern(chain, m, m.set_parameters(v.timelock.address, changed))
    set_price(chain, v, 1000)  # fresh after the timelock's delay
    return r


def test_the_timelock_cannot_set_a_breaker_window_longer_than_the_oracle_ring(chain, make_venue):
    """Fails before the fix: the change went through and the next trade reverted
    ``TwapWindowTooLong`` (the market refused every trade)."""
    v = make_venue(_params(500, RING_S))
    before = v.market.parameters_now()
    r = _governed_window(chain, v, 500, RING_S + 1)
    # the market still trades (before the fix: TransactionReverted ... TwapWindowTooLong)
    assert open_position(chain, v, A, 10_000, 1).ok
    assert r.error is not None and r.error.name == "CircuitBreakerWindowTooLong", r.error
    assert r.error.args == {"window": RING_S + 1, "maxTwapWindow": RING_S}
    assert v.market.parameters_now() == before


def test_a_breaker_window_equal_to_the_ring_is_accepted_and_trades_go_through(chain, make_venue):
    v = make_venue(_params(500, 60))
    r = _governed_window(chain, v, 500, RING_S)
    assert r.ok, r.error
    assert v.market.parameters_now()["circuitBreakerWindow"] == RING_S
    assert chain.read_one(v.oracle.max_twap_window()) == RING_S
    assert open_position(chain, v, A, 10_000, 1).ok
    assert chain.read_one(v.market.circuit_breaker_tripped()) is False


def test_a_window_past_the_ring_is_refused_even_with_the_band_off(chain, make_venue):
    """The rule holds whatever the band (as Python's): a later change that only switches the
    band on cannot then brick the market with a window set while it was off."""
    v = make_venue(_params(0, RING_S))
    r = _governed_window(chain, v, 0, RING_S + 1)
    assert r.error is not None and r.error.name == "CircuitBreakerWindowTooLong", r.error
    assert r.error.args == {"window": RING_S + 1, "maxTwapWindow": RING_S}


@pytest.mark.parametrize("window_s", [RING_S, RING_S + 1])
def test_the_constructor_checks_the_window_against_the_oracle(chain, venue, window_s):
    """Deploying with a window past the ring reverts; at the ring it deploys. Python's parameter
    set is bypassed (``model_copy`` does not validate) so the chain's own check is what runs."""
    base = _params(500, RING_S)
    unchecked = base.model_copy(
        update={"market": base.market.model_copy(update={"circuit_breaker_window_s": window_s})}
    )
    if window_s <= RING_S:
        v = deploy(chain, unchecked)
        assert v.market.parameters_now()["circuitBreakerWindow"] == window_s
        return
    with pytest.raises(DeployError) as refused:
        deploy(chain, unchecked)
    # anvil's block trace carries no revert data for a failed creation (the chain layer reports
    # EmptyRevert); the window is the only difference from the deploy above that succeeds.
    if chain.backend == "revm":
        assert "CircuitBreakerWindowTooLong(window=301, maxTwapWindow=300)" in str(refused.value)
    else:
        assert "deploying PerpMarket failed" in str(refused.value)


#: (band bps, window s) around the 300 s ring, band on and off.
CASES = [(500, RING_S - 1), (500, RING_S), (500, RING_S + 1), (0, RING_S), (0, RING_S + 1)]


def _python_refuses(band_bps: int, window_s: int) -> bool:
    """Both Python entry points (a parameter set, ``with_market``) refuse, or both accept."""
    try:
        _params(band_bps, window_s)
        refused = False
    except ValidationError:
        refused = True
    try:
        TEST_PARAMS.model_copy(update={"oracle": _oracle()}).with_market(
            circuit_breaker_band_bps=band_bps, circuit_breaker_window_s=window_s
        )
        assert not refused, (band_bps, window_s)
    except ParamsError:
        assert refused, (band_bps, window_s)
    return refused


def test_python_refuses_exactly_what_the_market_refuses(chain, make_venue):
    v = make_venue(_params(500, 60))
    for band_bps, window_s in CASES:
        chain_refused = not _governed_window(chain, v, band_bps, window_s).ok
        assert _python_refuses(band_bps, window_s) == chain_refused, (band_bps, window_s)
        assert chain_refused == (window_s > RING_S), (band_bps, window_s)
