"""Regression tests of the review defects in the peripheral contracts (issue 9): F2 the dynamic
margin controller's one-block skew manipulation, F3 the backstop vault's deposit-takeover-redeem
sandwich, F6 the oracle TWAP silently shortening its window, F9 the unseeded vault's
zero-share deposit. Each test replays the exploit and fails on the code before its fix."""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import (
    KEEPER,
    TEST_PARAMS,
    TRADERS,
    WAD,
    event,
    fund,
    ok,
    open_position,
    set_price,
    usd,
    wad,
)

from simulator.protocol.params import BufferParams, ControllerParams, OracleParams, VenueParams

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


# ---------------------------------------------------------------------------------------------
# F9: an unseeded vault never turns a deposit into zero shares
# ---------------------------------------------------------------------------------------------


def test_a_donation_to_an_unseeded_vault_cannot_zero_a_victims_deposit(chain, make_venue):
    v = make_venue(_with(TEST_PARAMS, buffers=BufferParams(backstop_vault_usd=0)))
    vault, token = v.backstop_vault, v.collateral
    assert chain.read_one(vault.total_supply()) == 0
    fund(chain, v, [A, B], 10_000)
    ok(
        chain.execute(
            [token.approve(x, vault.address, 2**256 - 1) for x in (A, B)]
            + [
                vault.deposit(A, 1),  # the attacker mints first, with one base unit
                token.transfer(A, vault.address, usd(1_000)),  # and donates 1,000 USD
            ]
        )
    )
    r = ok([chain.execute_one(vault.deposit(B, usd(500)))])[0]  # the victim's 500 USD
    victim_shares = chain.read_one(vault.balance_of(B))
    assert victim_shares > 0
    victim_value = chain.read_one(vault.convert_to_assets(victim_shares))
    assert victim_value >= usd("499.999"), victim_value / 1e6  # loses under 0.001 USD
    attacker_value = chain.read_one(vault.convert_to_assets(chain.read_one(vault.balance_of(A))))
    assert attacker_value < usd(501)  # the attacker paid 1,000 USD + 1 unit for it
    assert event(r, "Deposit")["shares"] == victim_shares
    # a deposit that would still mint nothing reverts instead of being kept
    r = chain.execute_one(vault.deposit(B, 1))
    assert r.error.name == "ZeroSharesMinted" and r.error.args == {"assets": 1}
    assert chain.read_one(vault.balance_of(B)) == victim_shares


def test_vault_shares_have_twelve_decimals_and_start_at_one_usd(chain, venue):
    vault = venue.backstop_vault
    assert chain.read_one(vault.view("decimals")) == 12
    supply = chain.read_one(vault.total_supply())
    assets = chain.read_one(vault.total_assets())
    assert supply == assets * 10**6  # seeded once at 1 USD per share


# ---------------------------------------------------------------------------------------------
# F3: deposit, takeover, redeem in one block captures nothing
# ---------------------------------------------------------------------------------------------

COOLDOWN = 900


def _locked_venue(make_venue):
    buffers = TEST_PARAMS.buffers.model_copy(update={"backstop_redeem_cooldown_s": COOLDOWN})
    return make_venue(_with(TEST_PARAMS, buffers=buffers))


def test_a_deposit_takeover_redeem_sandwich_captures_nothing(chain, make_venue):
    v = _locked_venue(make_venue)
    m, vault, token = v.market, v.backstop_vault, v.collateral
    open_position(chain, v, A, 20_000, 300)  # 300 long at 1000: notional 300,000 USD
    set_price(chain, v, 949)  # equity 4,700 < 2/3 × MM 7,117.5: a 4,700 USD takeover gain
    fund(chain, v, [B], 1_000_000)
    before = chain.read_one(token.balance_of(B))
    shares = chain.read_one(vault.preview_deposit(usd(1_000_000)))
    results = chain.execute(
        [
            token.approve(B, vault.address, usd(1_000_000)),
            vault.deposit(B, usd(1_000_000)),
            m.backstop_takeover(B, A),
            vault.redeem(B, shares),
        ]
    )
    assert [r.ok for r in results[:3]] == [True, True, True]
    assert event(results[2], "BackstopTakeover")["marginTransferred"] == 4_700 * WAD
    captured = chain.read_one(token.balance_of(B)) - before
    assert captured <= 0, f"the sandwich took {captured / 1e6} USD"
    redeem = results[3]
    unlock = chain.read_one(vault.unlock_time(B))
    assert redeem.error.name == "RedeemLocked"
    assert redeem.error.args == {"owner": B, "unlockTime": unlock}
    assert unlock == chain.latest_timestamp() + COOLDOWN
    assert chain.read_one(vault.max_redeem(B)) == 0
    assert chain.read_one(vault.max_withdraw(B)) == 0
    r = chain.execute_one(vault.withdraw(B, usd(1)))
    assert r.error.name == "RedeemLocked"
    # after the cooldown the depositor is an ordinary LP: it redeems what its shares are worth
    chain.set_next_block_timestamp(unlock)
    r = ok([chain.execute_one(vault.redeem(B, shares))])[0]
    assert event(r, "Withdraw")["shares"] == shares


def test_vault_shares_carry_their_lock_through_transfers_weighted_by_shares(chain, make_venue):
    v = _locked_venue(make_venue)
    vault, token = v.backstop_vault, v.collateral
    fund(chain, v, [A, B, C, D], 100_000)
    ok(chain.execute([token.approve(x, vault.address, 2**256 - 1) for x in (A, B, C, D)]))
    t = chain.latest_timestamp() + 10
    chain.set_next_block_timestamp(t)
    ok([chain.execute_one(vault.deposit(A, usd(90_000)))])
    assert chain.read_one(vault.unlock_time(A)) == t + COOLDOWN
    # A's locked shares moved to a fresh address keep A's unlock time: no bypass by transfer
    a_shares = chain.read_one(vault.balance_of(A))
    chain.set_next_block_timestamp(t + 100)
    ok([chain.execute_one(vault.transfer(A, B, a_shares // 2))])
    assert chain.read_one(vault.unlock_time(B)) == t + COOLDOWN
    assert chain.execute_one(vault.redeem(B, 1)).error.name == "RedeemLocked"
    # C holds unlocked shares; D's dust deposit in C's name moves C's lock by a share-weighted
    # mean (rounded up), not by the whole cooldown: griefing C costs D the dust.
    chain.set_next_block_timestamp(t + 200)
    ok([chain.execute_one(vault.deposit(C, usd(10_000)))])
    chain.set_next_block_timestamp(t + 200 + COOLDOWN)
    ok([chain.execute_one(vault.redeem(C, 1))])  # unlocked
    held = chain.read_one(vault.balance_of(C))
    dust = chain.read_one(vault.preview_deposit(usd(1)))
    now = t + 200 + COOLDOWN + 1
    chain.set_next_block_timestamp(now)
    ok([chain.execute_one(vault.call(D, "deposit", usd(1), C))])
    expected_wait = -(-COOLDOWN * dust // (held + dust))  # ceil
    assert chain.read_one(vault.unlock_time(C)) == now + expected_wait
    assert expected_wait == 1  # 1 USD against ~10,000 USD of held shares
    # a lock is never shortened: unlocked shares sent to a locked holder leave it as it was
    locked_until = chain.read_one(vault.unlock_time(B))
    chain.set_next_block_timestamp(now + 10)
    ok([chain.execute_one(vault.transfer(C, B, held // 2))])
    assert chain.read_one(vault.unlock_time(B)) == locked_until


def test_only_the_timelock_sets_the_redeem_cooldown_and_within_its_bound(chain, make_venue):
    v = _locked_venue(make_venue)
    vault, tl = v.backstop_vault, v.timelock
    assert chain.read_one(vault.view("redeemCooldown")) == COOLDOWN
    r = chain.execute_one(vault.set_redeem_cooldown(KEEPER, 0))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = v.govern(chain, vault, vault.set_redeem_cooldown(tl.address, 3_600))
    assert event(r, "RedeemCooldownUpdated") == {"cooldown": 3_600}
    r = v.govern(
        chain, vault, vault.set_redeem_cooldown(tl.address, 31 * 86_400), salt=b"\x01" * 32
    )
    assert not r.ok
    assert chain.read_one(vault.view("redeemCooldown")) == 3_600


# ---------------------------------------------------------------------------------------------
# F2: the margin controller's skew input cannot be moved within one block
# ---------------------------------------------------------------------------------------------

SKEW_SENSITIVITY = Fraction(1, 2)
AVERAGING_S, SAMPLE_AGE_S = 3_600, 60


def _controller_venue(make_venue):
    controller = ControllerParams(
        enabled=True,
        min_scale=1,
        max_scale=2,
        target_volatility=10,  # volatility plays no part here: only the skew moves the scale
        volatility_sensitivity=0,
        skew_sensitivity=float(SKEW_SENSITIVITY),
        ewma_weight=0.5,
        min_interval_s=60,
        skew_averaging_s=AVERAGING_S,
        max_skew_sample_age_s=SAMPLE_AGE_S,
    )
    return make_venue(_with(TEST_PARAMS, controller=controller))


def _skew(longs: int, shorts: int) -> int:
    """|long − short| / (long + short), WAD, rounded up (the contract's divWadUp)."""
    return -(-abs(longs - shorts) * WAD // (longs + shorts))


def _next_average(average: int, previous_sample: int, skew_now: int, dt: int) -> int:
    """The contract's skew average after a poke dt seconds after the previous sample."""
    if dt == 0:
        return average
    held, weight = min(previous_sample, skew_now), min(dt, SAMPLE_AGE_S)
    if held > average:
        return average + (held - average) * weight // AVERAGING_S
    return average - (average - held) * weight // AVERAGING_S


def _scale(average: int) -> int:
    return min(2 * WAD, WAD + -(-wad(SKEW_SENSITIVITY) * average // WAD))  # mulWadUp, clamped


def test_a_one_block_skew_manipulation_cannot_liquidate_a_healthy_account(chain, make_venue):
    v = _controller_venue(make_venue)
    m, c = v.market, v.controller
    victim, balancer, attacker = A, B, C
    open_position(chain, v, victim, 500, 10)  # 10 long at 1000 with 500 USD
    open_position(chain, v, balancer, 1_000, -10)  # a balanced book: skew 0
    fund(chain, v, [attacker], 100_000)
    ok([chain.execute_one(m.deposit(attacker, usd(100_000)))])
    t = chain.latest_timestamp() + 60
    chain.set_next_block_timestamp(t)
    ok([chain.execute_one(c.poke(KEEPER))])  # an honest sample of the balanced book
    chain.set_next_block_timestamp(t + 60)
    set_price(chain, v, 980)  # victim: equity 300 > maintenance 245
    assert chain.read_one(m.maintenance_margin(victim)) == 245 * WAD
    assert chain.read_one(m.equity(victim)) == 300 * WAD

    # one block: open 900 long (skew 0.978), poke, liquidate the victim, close
    chain.set_next_block_timestamp(t + 120)
    opened, poked, liquidated, closed = chain.execute(
        [
            m.trade(attacker, wad(900), 0),
            c.poke(attacker),
            m.liquidate(attacker, victim),
            m.trade(attacker, wad(-900), 0),
        ]
    )
    assert opened.ok and poked.ok and closed.ok
    assert liquidated.error is not None, "a healthy account was liquidated"
    assert liquidated.error.name == "NotLiquidatable"
    assert liquidated.error.args["maintenanceMargin"] == 245 * WAD
    skew_now = _skew(910, 10)
    assert event(poked, "Poked")["skewFraction"] == skew_now
    assert event(poked, "Poked")["skewAverage"] == 0  # min(0 before, 0.978 now) = 0
    assert chain.read_one(m.margin_scale()) == WAD

    # Doing it again a block later (the manipulated sample at both ends) moves the average by
    # at most maxSkewSampleAge / skewAveragingTime of the gap: the victim stays safe.
    chain.set_next_block_timestamp(t + 180)
    again = chain.execute(
        [m.trade(attacker, wad(900), 0), c.poke(attacker), m.liquidate(attacker, victim)]
    )
    average = _next_average(0, skew_now, skew_now, 60)
    assert average == skew_now * SAMPLE_AGE_S // AVERAGING_S
    assert event(again[1], "Poked")["skewAverage"] == average
    assert chain.read_one(m.margin_scale()) == _scale(average) < wad("1.01")
    assert again[2].error.name == "NotLiquidatable"


def test_a_sustained_skew_still_raises_margins_at_the_documented_rate(chain, make_venue):
    v = _controller_venue(make_venue)
    m, c = v.market, v.controller
    victim, whale = A, C
    open_position(chain, v, victim, 500, 10)
    open_position(chain, v, B, 1_000, -10)
    t = chain.latest_timestamp() + 60
    chain.set_next_block_timestamp(t)
    ok([chain.execute_one(c.poke(KEEPER))])
    sample, average = 0, 0
    chain.set_next_block_timestamp(t + 60)
    set_price(chain, v, 980)
    fund(chain, v, [whale], 100_000)
    chain.set_next_block_timestamp(t + 120)
    ok(chain.execute([m.deposit(whale, usd(100_000)), m.trade(whale, wad(900), 0)]))
    skew_now = _skew(910, 10)
    # the whale holds its long: a keeper pokes once a minute, as the engine does
    poke_time = t + 120
    for _ in range(45):
        poke_time += 60
        chain.set_next_block_timestamp(poke_time)
        r = ok([chain.execute_one(c.poke(KEEPER))])[0]
        average = _next_average(average, sample, skew_now, 60)
        sample = skew_now
        assert event(r, "Poked")["skewAverage"] == average
        assert chain.read_one(m.margin_scale()) == _scale(average)
    # after 45 minutes the average holds 1 − (59/60)^44 ≈ 52% of the skew: scale ≈ 1.26
    assert wad("1.25") < chain.read_one(m.margin_scale()) < wad("1.27")
    assert chain.read_one(m.maintenance_margin(victim)) > 300 * WAD
    assert ok([chain.execute_one(m.liquidate(KEEPER, victim))])


def test_controller_parameters_bound_the_skew_sample_age_by_the_averaging_time():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_skew_sample_age_s must be <= skew_averaging_s"):
        ControllerParams(skew_averaging_s=60, max_skew_sample_age_s=61)
