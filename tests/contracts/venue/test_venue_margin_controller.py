"""The venue's per-market margin controller (``VenueMarginController``): a sustained skew or a
volatile oracle raises one market's margin scale at the documented rate and leaves the other
markets alone; the one-block skew manipulation of review F2 cannot liquidate a healthy account;
only the admin (the timelock) sets a market's parameters."""

from __future__ import annotations

import math

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, event, events, ok, wad
from vault_helpers import deploy_controller, deploy_venue, govern_on
from venue_helpers import VAULT, MarketSpec

A, B, C = TRADERS[33:36]
AVERAGING_S, SAMPLE_AGE_S = 3_600, 60
SKEW_SENSITIVITY = wad("0.5")
TARGET_VOL, VOL_SENSITIVITY, EWMA = wad("0.8"), WAD, wad("0.5")
MARKETS = [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100), MarketSpec("SOL", 10)]


def _params(vol_sensitivity: int = VOL_SENSITIVITY) -> tuple:
    """ControllerParams: scale in [1, 2], target vol 80%, EWMA weight 0.5, 60 s interval."""
    return (WAD, 2 * WAD, TARGET_VOL, vol_sensitivity, SKEW_SENSITIVITY, EWMA, 60, AVERAGING_S, SAMPLE_AGE_S)  # fmt: skip


@pytest.fixture
def controlled(chain):
    """Three markets, a controller of markets 1 and 2 (market 3 not controlled). BTC's scale
    moves with skew only (volatility sensitivity 0, as in the single-market F2 test: its price
    steps below move it), ETH's with both."""
    with chain.isolate():
        mv = deploy_venue(chain, MARKETS, vault=VAULT)
        c = deploy_controller(mv)
        tl = mv.timelock.address
        for i, (m, params) in enumerate([(1, _params(0)), (2, _params())]):
            salt = bytes([i]) * 32
            ok([govern_on(mv, c.address, c.call(tl, "setParameters", m, params), salt)])
        yield mv, c


def _skew(longs: int, shorts: int) -> int:
    """|long − short| / (long + short), WAD, rounded up (divWadUp)."""
    return -(-abs(longs - shorts) * WAD // (longs + shorts))


def _next_average(average: int, previous_sample: int, skew_now: int, dt: int) -> int:
    if dt == 0:
        return average
    held, weight = min(previous_sample, skew_now), min(dt, SAMPLE_AGE_S)
    if held > average:
        return average + (held - average) * weight // AVERAGING_S
    return average - (average - held) * weight // AVERAGING_S


def _skew_scale(average: int) -> int:
    return min(2 * WAD, WAD + -(-SKEW_SENSITIVITY * average // WAD))  # mulWadUp, clamped


def _scales(mv) -> dict[int, int]:
    return {m: mv.venue.market_now(m)["marginScale"] for m in (1, 2, 3)}


def _poke_many(mv, c, markets: list[int]):
    return ok([mv.chain.execute_one(c.call(KEEPER, "pokeMany", markets, gas=3_000_000))])[0]


def test_a_sustained_skew_raises_only_its_markets_scale_at_the_documented_rate(controlled):
    mv, c = controlled
    mv.setup(A, 500, [(1, 10)])  # victim: 10 BTC long at 1000
    mv.setup(B, 1_000, [(1, -10), (2, 10), (2, -10)])  # balanced BTC; ETH opened and closed
    t = mv.chain.latest_timestamp() + 60
    mv.chain.set_next_block_timestamp(t)
    _poke_many(mv, c, [1, 2])  # an honest sample of both books
    mv.chain.set_next_block_timestamp(t + 60)
    mv.push_all({1: 980, 2: 100})  # victim: equity 300 > MM 245
    mv.setup(C, 100_000, [(1, 900)])  # a whale holds 900 BTC long
    skew_now, sample, average = _skew(910, 10), 0, 0
    poke_time = t + 60
    for _ in range(45):  # a keeper pokes both markets once a minute, in one call
        poke_time += 60
        # The push one second before the poke, and the poke exactly a minute after the last:
        # a block left to anvil's clock would take wall time and make dt 59 or 61 s.
        mv.chain.set_next_block_timestamp(poke_time - 1)
        mv.push_all({1: 980, 2: 100})  # fresh, unchanged prices: no volatility
        mv.chain.set_next_block_timestamp(poke_time)
        r = _poke_many(mv, c, [1, 2])
        average = _next_average(average, sample, skew_now, 60)
        sample = skew_now
        poked = {e["market"]: e for e in events(r, "Poked")}
        assert poked[1]["skewFraction"] == skew_now and poked[1]["skewAverage"] == average
        assert poked[2]["skewAverage"] == 0 and poked[2]["scale"] == WAD
        assert _scales(mv) == {1: _skew_scale(average), 2: WAD, 3: WAD}
    # after 45 minutes the average holds 1 − (59/60)^44 ≈ 52% of the skew: scale ≈ 1.26
    assert wad("1.25") < _scales(mv)[1] < wad("1.27")
    eq, mm, _ = mv.venue.health_now(A)
    assert eq == 300 * WAD and mm > 300 * WAD
    assert ok([mv.chain.execute_one(mv.venue.liquidate(KEEPER, A))])


def _variance_step(var: int, last: int, price: int, dt: int) -> int:
    """MarginControlMath.observe's variance rate update (WAD per second), exact."""
    r = -(-abs(price - last) * WAD // last)  # divWadUp
    r2 = -(-r * r // WAD)  # mulWadUp
    return (var * (WAD - EWMA) * dt + r2 * EWMA) // (WAD * dt)


def _vol_scale(var: int) -> int:
    vol = math.isqrt(var * 365 * 86_400 * WAD)
    if vol <= TARGET_VOL:
        return WAD
    excess = -(-(vol - TARGET_VOL) * WAD // TARGET_VOL)
    return min(2 * WAD, WAD + -(-VOL_SENSITIVITY * excess // WAD))


def test_a_volatile_oracle_raises_only_its_markets_scale(controlled):
    mv, c = controlled
    t = mv.chain.latest_timestamp() + 60
    mv.chain.set_next_block_timestamp(t)
    _poke_many(mv, c, [1, 2])
    var, last = 0, 100 * WAD
    # ETH swings ±2% a minute (about 200% a year annualized); BTC stays at 1000
    for i, eth in enumerate([102, 100, 102, 99, 101]):
        mv.chain.set_next_block_timestamp(t + 60 * (i + 1) - 1)
        mv.push_all({1: 1_000, 2: eth})
        mv.chain.set_next_block_timestamp(t + 60 * (i + 1))
        r = _poke_many(mv, c, [1, 2])
        var, last = _variance_step(var, last, eth * WAD, 60), eth * WAD
        poked = {e["market"]: e for e in events(r, "Poked")}
        assert poked[1]["volatility"] == 0 and poked[1]["scale"] == WAD  # BTC did not move
        assert poked[2]["volatility"] == math.isqrt(var * 365 * 86_400 * WAD)
        assert poked[2]["scale"] == _vol_scale(var)
    assert c.read("volatility", 2) > TARGET_VOL
    scales = _scales(mv)
    assert scales[2] > wad("1.5") and scales[1] == WAD and scales[3] == WAD
    assert c.read("targetScale", 2) == scales[2]


def test_a_one_block_skew_manipulation_cannot_liquidate_a_healthy_account(controlled):
    mv, c = controlled
    v = mv.venue
    mv.setup(A, 500, [(1, 10)])
    mv.setup(B, 1_000, [(1, -10)])  # a balanced book: skew 0
    mv.setup(C, 100_000, [])
    t = mv.chain.latest_timestamp() + 60
    mv.chain.set_next_block_timestamp(t)
    ok([mv.chain.execute_one(c.call(KEEPER, "poke", 1))])
    mv.chain.set_next_block_timestamp(t + 60)
    mv.push(1, 980)  # victim: equity 300 > maintenance 245
    assert v.health_now(A)[:2] == (300 * WAD, 245 * WAD)

    # one block: open 900 long (skew 0.978), poke, liquidate the victim, close
    mv.chain.set_next_block_timestamp(t + 120)
    opened, poked, liquidated, closed = mv.chain.execute(
        [
            v.trade(C, 1, wad(900)),
            c.call(C, "poke", 1),
            v.liquidate(C, A),
            v.trade(C, 1, wad(-900)),
        ]
    )
    assert opened.ok and poked.ok and closed.ok
    assert liquidated.error is not None, "a healthy account was liquidated"
    assert liquidated.error.name == "NotLiquidatable"
    assert liquidated.error.args["maintenanceMargin"] == 245 * WAD
    skew_now = _skew(910, 10)
    assert event(poked, "Poked")["skewFraction"] == skew_now
    assert event(poked, "Poked")["skewAverage"] == 0  # min(0 before, 0.978 now)
    assert _scales(mv)[1] == WAD

    # again a block later (the manipulated sample at both ends): the average moves by at most
    # maxSkewSampleAge / skewAveragingTime of the gap and the victim stays safe
    mv.chain.set_next_block_timestamp(t + 180)
    mv.push(1, 980)
    again = mv.chain.execute([v.trade(C, 1, wad(900)), c.call(C, "poke", 1), v.liquidate(C, A)])
    average = _next_average(0, skew_now, skew_now, 60)
    assert average == skew_now * SAMPLE_AGE_S // AVERAGING_S
    assert event(again[1], "Poked")["skewAverage"] == average
    assert _scales(mv)[1] == _skew_scale(average) < wad("1.01")
    assert again[2].error.name == "NotLiquidatable"


def test_only_the_admin_sets_a_listed_markets_parameters_and_only_valid_ones(controlled):
    mv, c = controlled
    tl = mv.timelock.address
    assert [int(m) for m in c.read("controlledMarkets")] == [1, 2]
    r = mv.chain.execute_one(c.call(KEEPER, "poke", 3))
    assert r.error.name == "MarketNotControlled" and r.error.args == {"market": 3}
    r = mv.chain.execute_one(c.call(KEEPER, "setParameters", 3, _params()))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    assert not govern_on(mv, c.address, c.call(tl, "setParameters", 4, _params()), b"\x07" * 32).ok
    bad = list(_params())
    bad[8] = AVERAGING_S + 1  # maxSkewSampleAge > skewAveragingTime
    assert not govern_on(mv, c.address, c.call(tl, "setParameters", 3, tuple(bad)), b"\x08" * 32).ok
    ok([govern_on(mv, c.address, c.call(tl, "setParameters", 3, _params()), b"\x09" * 32)])
    assert [int(m) for m in c.read("controlledMarkets")] == [1, 2, 3]
    assert tuple(c.read("parameters", 3)) == _params()
    # the controller's role at the venue is per market: it sets 3's scale, nobody else does
    r = mv.chain.execute_one(mv.venue.call(KEEPER, "setMarginScale", 3, 2 * WAD))
    assert r.error.name == "AccessControlUnauthorizedAccount"
