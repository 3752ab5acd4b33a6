"""Each market's oracle (staleness, deviation band, TWAP, F6's full window) and spot AMM
(constant product), as the venue lists them (ported from the single-market suite's
test_oracle_amm.py and the F6 tests of test_peripheral_fixes.py; PORTING.md maps each test).
"""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import PUSHER, TRADERS, WAD, event, ok, usd, wad
from venue_helpers import BASE_MARKET

from simulator.chain.deploy import deploy_contract
from simulator.protocol.contracts import Oracle

A = TRADERS[27]


def _reverts(chain, view) -> object:
    """The decoded error of a view that must revert."""
    try:
        chain.read_one(view)
    except Exception as exc:  # TransactionReverted carries the decoded error
        return exc.error
    raise AssertionError("the view did not revert")


def test_a_stale_price_reverts_with_its_age(mv):
    o = mv.oracles[2]
    _, updated_at = mv.chain.read_one(o.latest_price())
    mv.chain.advance_time(3_601)
    mv.chain.mine()
    err = _reverts(mv.chain, o.price())
    assert err.name == "StalePrice"
    assert err.args["updatedAt"] == updated_at and err.args["maxAge"] == 3_600
    assert err.args["nowTimestamp"] > updated_at + 3_600


def test_a_push_beyond_the_deviation_band_reverts_with_both_prices(mv):
    o = mv.oracles[1]
    ok([mv.govern(o.set_parameters(mv.timelock.address, 3_600, 500))])
    mv.push(1, 1_000)
    r = mv.chain.execute_one(o.push_price(PUSHER, wad(1_051)))
    assert r.error.name == "PriceDeviationTooLarge"
    assert r.error.args == {
        "previousPrice": wad(1_000), "proposedPrice": wad(1_051), "maxDeviationBps": 500,
    }  # fmt: skip
    r = ok([mv.chain.execute_one(o.push_price(PUSHER, wad(1_050)))])[0]
    assert event(r, "PricePushed")["price"] == wad(1_050)
    # the band is the BTC oracle's only: ETH still jumps 50%
    mv.push(2, 150)


def test_twap_is_the_time_weighted_average_of_pushed_prices(mv):
    o = mv.oracles[1]
    mv.chain.advance_time(1_000)
    pushes = [(1_000, 100), (1_200, 300), (900, 200), (1_100, 0)]  # (price, seconds it stays)
    times = []
    for price, hold in pushes:
        r = ok([mv.chain.execute_one(o.push_price(PUSHER, wad(price)))])[0]
        times.append(event(r, "PricePushed")["timestamp"])
        if hold:
            mv.chain.advance_time(hold)
    mv.chain.mine()
    latest = mv.chain.latest_timestamp()
    window = latest - times[1]  # covers 1200, 900 and 1100 (still current)
    got = mv.chain.read_one(o.twap(window))
    segments = [(times[1], times[2], 1_200), (times[2], times[3], 900), (times[3], latest, 1_100)]
    expected = Fraction(sum(p * (b - a) for a, b, p in segments), window)
    assert abs(got - wad(expected)) <= 1
    # a window reaching into the first segment interpolates inside it
    half = latest - (times[0] + times[1]) // 2
    segments.insert(0, ((times[0] + times[1]) // 2, times[1], 1_000))
    expected = Fraction(sum(p * (b - a) for a, b, p in segments), half)
    assert abs(mv.chain.read_one(o.twap(half)) - wad(expected)) <= 1
    assert mv.chain.read_one(o.twap(0)) == wad(1_100)


def test_amm_swap_pays_the_constant_product_output_and_moves_the_price(mv):
    amm, token, base = mv.amms[1], mv.collateral, mv.bases[1]
    rc, rb = mv.chain.read_one(amm.reserves())
    spot = mv.chain.read_one(amm.spot_price())
    assert spot == rc * 10**12 * WAD // rb == wad(1_000)
    amount_in = usd(10_000)
    ok(mv.chain.execute([token.mint(mv.deployer, A, amount_in), token.approve(A, amm.address, amount_in)]))  # fmt: skip
    r = ok([mv.chain.execute_one(amm.swap(A, False, amount_in, 0))])[0]
    fee_in = amount_in * (10_000 - 30)
    expected_out = fee_in * rb // (rc * 10_000 + fee_in)
    assert event(r, "Swap")["amountOut"] == expected_out
    assert mv.chain.read_one(base.balance_of(A)) == expected_out
    assert mv.chain.read_one(amm.spot_price()) > spot  # buying base pushes its price up
    assert mv.chain.read_one(mv.amms[2].spot_price()) == wad(100)  # each asset its own pool


def test_amm_swap_below_the_minimum_output_reverts(mv):
    amm, token = mv.amms[3], mv.collateral
    ok(mv.chain.execute([token.mint(mv.deployer, A, usd(100)), token.approve(A, amm.address, usd(100))]))  # fmt: skip
    quote = mv.chain.read_one(amm.get_amount_out(False, usd(100)))
    r = mv.chain.execute_one(amm.swap(A, False, usd(100), quote + 1))
    assert r.error.name == "InsufficientOutput"
    assert r.error.args == {"amountOut": quote, "minAmountOut": quote + 1}


def test_each_oracle_can_be_fed_from_its_own_amm_spot(mv):
    amm, base = mv.amms[2], mv.bases[2]
    ok(mv.chain.execute([base.mint(mv.deployer, A, 500 * WAD), base.approve(A, amm.address, 500 * WAD)]))  # fmt: skip
    ok([mv.chain.execute_one(amm.swap(A, True, 500 * WAD, 0))])  # forced selling of ETH
    spot = mv.chain.read_one(amm.spot_price())
    assert spot < wad(100)
    ok([mv.chain.execute_one(mv.push_price(2, spot))])
    assert mv.venue.market_now(2)["indexPrice"] == spot
    assert mv.venue.market_now(1)["indexPrice"] == wad(1_000)


# ---------------------------------------------------------------------------------------------
# F6: Oracle.twap never averages a shorter window than asked
# ---------------------------------------------------------------------------------------------

#: One push a second: 203 s at 990, 107 s at 1010, then 20 s at 1064.7. The current price is
#: 6.27% above the 300 s TWAP (1001.86) but only 4.58% above the last 127 s (1018.03): a ring
#: of 128 observations served twap(300) from those 127 s and the 5% breaker stayed open.
F6_PATH = [Fraction(990)] * 203 + [Fraction(1010)] * 107 + [Fraction("1064.7")] * 20
RING_S = 300


def _ring_oracle(mv) -> Oracle:
    """A new oracle (1000 USD, 300 s ring) administered by the venue's timelock."""
    return deploy_contract(mv.chain, Oracle, mv.timelock.address, PUSHER, 1_000 * WAD, 3_600, 0, RING_S)  # fmt: skip


def _push_every_second(chain, oracle, path) -> list[int]:
    """Push each price of ``path`` in its own block, one second apart; return the timestamps."""
    t0 = chain.latest_timestamp() + 10
    times = []
    for i, price in enumerate(path):
        chain.set_next_block_timestamp(t0 + i)
        r = ok([chain.execute_one(oracle.push_price(PUSHER, wad(price)))])[0]
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


def test_f6_twap_averages_the_whole_window_with_one_second_pushes_and_the_breaker_trips(mv):
    """A market listed on a 300 s-ring oracle with a 5% / 300 s breaker; 330 pushes wrap the
    ring: the TWAP is the whole 300 s one and the breaker refuses new risk in that market."""
    oracle = _ring_oracle(mv)
    params = {**BASE_MARKET, "circuitBreakerBandBps": 500, "circuitBreakerWindow": RING_S}
    r = ok([mv.govern(mv.venue.list_market(mv.timelock.address, "RING", oracle.address, params))])[0]  # fmt: skip
    market = [e.args["market"] for e in r.events if e.name == "MarketListed"][0]
    mv.setup(A, 10_000, [])
    times = _push_every_second(mv.chain, oracle, F6_PATH)
    now = mv.chain.latest_timestamp()
    assert now == times[-1]
    got = mv.chain.read_one(oracle.twap(RING_S))
    assert abs(got - wad(_twap(F6_PATH, times, now, RING_S))) <= 1
    assert abs(got - wad(_twap(F6_PATH, times, now, 127))) > 10 * WAD  # not the short window
    assert mv.venue.market_now(market)["circuitBreakerTripped"] is True
    mv.chain.set_next_block_timestamp(now + 1)
    r = mv.chain.execute_one(mv.venue.trade(A, market, wad(1)))
    assert r.error.name == "CircuitBreakerTripped"
    assert r.error.args["market"] == market and r.error.args["bandBps"] == 500
    reference = wad(_twap(F6_PATH, times, now + 1, RING_S))
    assert abs(r.error.args["referencePrice"] - reference) <= 1


def test_f6_twap_beyond_the_ring_reverts_and_every_covered_window_is_exact(mv):
    oracle = _ring_oracle(mv)
    assert mv.chain.read_one(oracle.max_twap_window()) == RING_S
    times = _push_every_second(mv.chain, oracle, F6_PATH)
    now = mv.chain.latest_timestamp()
    for window in (1, 17, 127, 128, 299, 300):
        got = mv.chain.read_one(oracle.twap(window))
        assert abs(got - wad(_twap(F6_PATH, times, now, window))) <= 1
    err = _reverts(mv.chain, oracle.twap(RING_S + 1))
    assert err.name == "TwapWindowTooLong"
    assert err.args == {"window": RING_S + 1, "maxTwapWindow": RING_S}


def test_f6_a_young_oracle_averages_its_whole_life(mv):
    oracle = deploy_contract(mv.chain, Oracle, mv.timelock.address, PUSHER, 1_000 * WAD, 3_600, 0, 3_600)  # fmt: skip
    _, deployed_at = mv.chain.read_one(oracle.latest_price())  # the ring's first observation
    pushed_at = mv.chain.latest_timestamp() + 100
    mv.chain.set_next_block_timestamp(pushed_at)
    ok([mv.chain.execute_one(oracle.push_price(PUSHER, wad(1_100)))])
    mv.chain.set_next_block_timestamp(pushed_at + 50)
    mv.chain.mine()
    life = pushed_at + 50 - deployed_at
    assert life < 3_600
    expected = Fraction((pushed_at - deployed_at) * 1_000 + 50 * 1_100, life)
    assert abs(mv.chain.read_one(oracle.twap(3_600)) - wad(expected)) <= 1
