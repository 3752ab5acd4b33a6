"""Oracle (staleness, deviation band, TWAP) and the constant-product spot AMM."""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import PUSHER, TRADERS, WAD, event, ok, usd, wad

A = TRADERS[0]


def test_a_stale_price_reverts_with_its_age(chain, venue):
    o = venue.oracle
    price, updated_at = chain.read_one(o.latest_price())
    chain.advance_time(3_601)
    chain.mine()
    try:
        chain.read_one(o.price())
    except Exception as exc:  # TransactionReverted carries the decoded error
        err = exc.error
        assert err.name == "StalePrice"
        assert err.args["updatedAt"] == updated_at and err.args["maxAge"] == 3_600
        assert err.args["nowTimestamp"] > updated_at + 3_600
    else:
        raise AssertionError("stale price did not revert")


def test_a_push_beyond_the_deviation_band_reverts_with_both_prices(chain, venue):
    o = venue.oracle
    ok([venue.govern(chain, o, o.set_parameters(venue.timelock.address, 3_600, 500))])
    r = chain.execute_one(o.push_price(PUSHER, wad(1_051)))
    assert r.error.name == "PriceDeviationTooLarge"
    assert r.error.args == {
        "previousPrice": wad(1_000),
        "proposedPrice": wad(1_051),
        "maxDeviationBps": 500,
    }
    r = ok([chain.execute_one(o.push_price(PUSHER, wad(1_050)))])[0]
    assert event(r, "PricePushed")["price"] == wad(1_050)


def test_twap_is_the_time_weighted_average_of_pushed_prices(chain, venue):
    o = venue.oracle
    chain.advance_time(1_000)
    pushes = [(1_000, 100), (1_200, 300), (900, 200), (1_100, 0)]  # (price, seconds it stays)
    times = []
    for price, hold in pushes:
        r = ok([chain.execute_one(o.push_price(PUSHER, wad(price)))])[0]
        times.append(event(r, "PricePushed")["timestamp"])
        if hold:
            chain.advance_time(hold)
    chain.mine()
    latest = chain.latest_timestamp()
    window = latest - times[1]  # covers 1200, 900 and 1100 (still current)
    got = chain.read_one(o.twap(window))
    segments = [(times[1], times[2], 1_200), (times[2], times[3], 900), (times[3], latest, 1_100)]
    expected = Fraction(sum(p * (b - a) for a, b, p in segments), window)
    assert abs(got - wad(expected)) <= 1
    # a window reaching into the first segment interpolates inside it
    half = latest - (times[0] + times[1]) // 2
    segments.insert(0, ((times[0] + times[1]) // 2, times[1], 1_000))
    expected = Fraction(sum(p * (b - a) for a, b, p in segments), half)
    assert abs(chain.read_one(o.twap(half)) - wad(expected)) <= 1
    assert chain.read_one(o.twap(0)) == wad(1_100)


def test_amm_swap_pays_the_constant_product_output_and_moves_the_price(chain, venue):
    amm, token = venue.amm, venue.collateral
    rc, rb = chain.read_one(amm.reserves())
    spot = chain.read_one(amm.spot_price())
    assert spot == rc * 10**12 * WAD // rb == wad(1_000)
    amount_in = usd(10_000)
    ok(
        chain.execute(
            [token.mint(venue.deployer, A, amount_in), token.approve(A, amm.address, amount_in)]
        )
    )
    r = ok([chain.execute_one(amm.swap(A, False, amount_in, 0))])[0]
    fee_in = amount_in * (10_000 - 30)
    expected_out = fee_in * rb // (rc * 10_000 + fee_in)
    assert event(r, "Swap")["amountOut"] == expected_out
    assert chain.read_one(venue.base.balance_of(A)) == expected_out
    assert chain.read_one(amm.spot_price()) > spot  # buying base pushes its price up


def test_amm_swap_below_the_minimum_output_reverts(chain, venue):
    amm, token = venue.amm, venue.collateral
    ok(
        chain.execute(
            [token.mint(venue.deployer, A, usd(100)), token.approve(A, amm.address, usd(100))]
        )
    )
    quote = chain.read_one(amm.get_amount_out(False, usd(100)))
    r = chain.execute_one(amm.swap(A, False, usd(100), quote + 1))
    assert r.error.name == "InsufficientOutput"
    assert r.error.args == {"amountOut": quote, "minAmountOut": quote + 1}


def test_the_oracle_can_be_fed_from_amm_spot(chain, venue):
    amm, base = venue.amm, venue.base
    ok(
        chain.execute(
            [base.mint(venue.deployer, A, 50 * WAD), base.approve(A, amm.address, 50 * WAD)]
        )
    )
    ok([chain.execute_one(amm.swap(A, True, 50 * WAD, 0))])  # forced selling
    spot = chain.read_one(amm.spot_price())
    assert spot < wad(1_000)
    ok([chain.execute_one(venue.push_price(spot))])
    assert chain.read_one(venue.market.index_price()) == spot
