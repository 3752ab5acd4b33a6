"""Regression tests of the review defects in the peripheral contracts (issue 9): F2 the dynamic
margin controller's one-block skew manipulation, F3 the backstop vault's deposit-takeover-redeem
sandwich, F6 the oracle TWAP silently shortening its window, F9 the unseeded vault's
zero-share deposit. Each test replays the exploit and fails on the code before its fix."""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import (
    TEST_PARAMS,
    TRADERS,
    WAD,
    event,
    fund,
    ok,
    set_price,
    usd,
    wad,
)

from simulator.protocol.params import OracleParams, VenueParams

A, B, C, D = TRADERS[20:24]


def _with(params: VenueParams, **sections) -> VenueParams:
    """``params`` with whole sections replaced (validated)."""
    return VenueParams.model_validate({**params.model_dump(), **sections})


# ---------------------------------------------------------------------------------------------
# F6: Oracle.twap never averages a shorter window than asked
# ---------------------------------------------------------------------------------------------

#: One push a second: 203 s at 990, 107 s at 1010, then 20 s at 1064.7. The current price is
#: 6.27% above the 300 s TWAP (1001.86) but only 4.58% above the last 127 s (1018.03): a ring
#: of 128 observations served twap(300) from those 127 s and the 5% breaker stayed open.
F6_PATH = [Fraction(990)] * 203 + [Fraction(1010)] * 107 + [Fraction("1064.7")] * 20


def _push_every_second(chain, venue, path) -> list[int]:
    """Push each price of ``path`` in its own block, one second apart; return the timestamps."""
    t0 = chain.latest_timestamp() + 10
    times = []
    for i, price in enumerate(path):
        chain.set_next_block_timestamp(t0 + i)
        r = ok([chain.execute_one(venue.push_price(wad(price)))])[0]
        times.append(event(r, "PricePushed")["timestamp"])
    return times


def _twap(path, times, now, window) -> Fraction:
    """Time-weighted average of a path of pushes (each price holds until the next push)."""
    start, total = now - window, Fraction(0)
    for i, price in enumerate(path):
        a = max(times[i], start)
        b = times[i + 1] if i + 1 < len(times) else now
        if b > a:
            total += price * (b - a)
    return total / window


def test_twap_averages_the_whole_window_with_one_second_pushes_and_the_breaker_trips(
    chain, make_venue
):
    # A ring sized for exactly the breaker window (301 observations), wrapped by 330 pushes.
    params = _with(
        TEST_PARAMS.with_market(circuit_breaker_band_bps=500, circuit_breaker_window_s=300),
        oracle=OracleParams(initial_price_usd=1000, max_age_s=3600, max_twap_window_s=300),
    )
    v = make_venue(params)
    m = v.market
    fund(chain, v, [A], 10_000)
    ok([chain.execute_one(m.deposit(A, usd(10_000)))])
    times = _push_every_second(chain, v, F6_PATH)
    now = chain.latest_timestamp()
    assert now == times[-1]
    expected = _twap(F6_PATH, times, now, 300)
    got = chain.read_one(v.oracle.twap(300))
    assert abs(got - wad(expected)) <= 1, (got / WAD, float(expected))
    assert abs(got - wad(_twap(F6_PATH, times, now, 127))) > 10 * WAD  # not the short window
    # the move from the 300 s average is 6.27% > 5%: the breaker refuses new risk
    assert chain.read_one(m.circuit_breaker_tripped()) is True
    chain.set_next_block_timestamp(now + 1)
    r = chain.execute_one(m.trade(A, wad(1), 0))
    assert r.error.name == "CircuitBreakerTripped"
    assert r.error.args["bandBps"] == 500
    reference = wad(_twap(F6_PATH, times, now + 1, 300))
    assert abs(r.error.args["referencePrice"] - reference) <= 1


def test_twap_beyond_the_ring_reverts_and_every_covered_window_is_exact(chain, make_venue):
    params = _with(
        TEST_PARAMS,
        oracle=OracleParams(initial_price_usd=1000, max_age_s=3600, max_twap_window_s=300),
    )
    v = make_venue(params)
    o = v.oracle
    assert chain.read_one(o.max_twap_window()) == 300
    times = _push_every_second(chain, v, F6_PATH)
    now = chain.latest_timestamp()
    for window in (1, 17, 127, 128, 299, 300):
        assert abs(chain.read_one(o.twap(window)) - wad(_twap(F6_PATH, times, now, window))) <= 1
    try:
        chain.read_one(o.twap(301))
    except Exception as exc:  # TransactionReverted carries the decoded error
        assert exc.error.name == "TwapWindowTooLong"
        assert exc.error.args == {"window": 301, "maxTwapWindow": 300}
    else:
        raise AssertionError("twap(301) did not revert")


def test_a_young_oracle_averages_its_whole_life(chain, make_venue):
    v = make_venue(
        _with(TEST_PARAMS, oracle=OracleParams(initial_price_usd=1000, max_twap_window_s=3600))
    )
    _, deployed_at = chain.read_one(v.oracle.latest_price())  # the ring's first observation
    pushed_at = chain.latest_timestamp() + 100
    chain.set_next_block_timestamp(pushed_at)
    set_price(chain, v, 1_100)
    chain.set_next_block_timestamp(pushed_at + 50)
    chain.mine()
    life = pushed_at + 50 - deployed_at
    assert life < 3_600
    expected = Fraction((pushed_at - deployed_at) * 1_000 + 50 * 1_100, life)
    assert abs(chain.read_one(v.oracle.twap(3_600)) - wad(expected)) <= 1


def test_a_breaker_window_longer_than_the_oracle_ring_is_refused_by_the_parameters():
    import pytest

    from simulator.protocol.params import ParamsError

    with pytest.raises(ParamsError, match="circuit_breaker_window_s .3601. exceeds"):
        TEST_PARAMS.with_market(circuit_breaker_band_bps=500, circuit_breaker_window_s=3_601)
