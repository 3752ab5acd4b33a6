"""Regression tests of the review defects fixed in the current market (issue 9: F1, F4, F5, F7,
F8, F10). Each reproduces the exploit of the review and fails on the contracts before the fix.
"""

from __future__ import annotations

from perp_helpers import (
    KEEPER,
    TEST_PARAMS,
    TRADERS,
    UNIT,
    WAD,
    deploy,
    event,
    events,
    fund,
    market_cash_identity,
    ok,
    open_position,
    set_price,
    usd,
    wad,
)

from simulator.protocol.params import BufferParams, load_preset

A, B, C, D = TRADERS[:4]
OUTSIDER = TRADERS[39]


# ---------------------------------------------------------------------------------------------
# F1: the partial-liquidation mark is cleared when the account recovers
# ---------------------------------------------------------------------------------------------


def _partial_venue(make_venue):
    return make_venue(
        partial_liquidation_threshold_usd=5_000,
        partial_liquidation_share_bps=2_000,
        liquidation_cooldown_s=30,
    )


def _marked_account(chain, v):
    """A: 10 @ 1000 on 1,000, partially liquidated at 920 (2 closed, margin 821.6 left)."""
    open_position(chain, v, A, 1_000, 10)
    set_price(chain, v, 920)
    r = ok([chain.execute_one(v.market.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 2 * WAD
    assert v.market.account_now(A)["margin"] == wad("821.6")


def test_a_partial_liquidation_mark_lapses_once_the_account_has_recovered(chain, make_venue):
    """The review's case: A, partially liquidated hours earlier and healthy since, was closed
    whole (8.0, penalty 72.4) where an identical unmarked account B lost 1.6 and 14.48."""
    v = _partial_venue(make_venue)
    m = v.market
    open_position(chain, v, B, "821.6", 8)  # A's position and margin after, never liquidated
    _marked_account(chain, v)
    set_price(chain, v, 1_000)  # A recovers
    assert chain.read_one(m.is_liquidatable(A)) is False
    chain.advance_time(3 * 3600)
    set_price(chain, v, 905)
    ra, rb = ok(chain.execute([m.liquidate(KEEPER, A), m.liquidate(KEEPER, B)]))
    for r in (ra, rb):
        args = event(r, "Liquidated")
        assert (args["sizeClosed"], args["penalty"], args["full"]) == (
            wad("1.6"),
            wad("14.48"),
            False,
        )


def test_a_top_up_that_restores_health_clears_the_mark_at_once(chain, make_venue):
    v = _partial_venue(make_venue)
    m = v.market
    _marked_account(chain, v)
    chain.advance_time(31)  # cooldown over: a liquidation now would take the whole position
    set_price(chain, v, 920)
    fund(chain, v, [A], 1_000)
    ok([chain.execute_one(m.deposit(A, usd(100)))])  # equity 281.6 >= MM 184: healthy again
    assert m.account_now(A)["partialLiquidatedAt"] == 0
    set_price(chain, v, 905)  # equity 161.6 < MM 181: liquidatable again, a fresh episode
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == wad("1.6")


def test_the_mark_stays_while_the_account_is_still_unhealthy(chain, make_venue):
    v = _partial_venue(make_venue)
    m = v.market
    _marked_account(chain, v)
    marked_at = m.account_now(A)["partialLiquidatedAt"]
    fund(chain, v, [A], 10)
    ok([chain.execute_one(m.deposit(A, usd(1)))])  # equity 182.6 < MM 184: still unhealthy
    assert m.account_now(A)["partialLiquidatedAt"] == marked_at
    chain.advance_time(31)
    set_price(chain, v, 920)
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 8 * WAD  # Hyperliquid: whole after cooldown


# ---------------------------------------------------------------------------------------------
# F4: an outside caller cannot choose which winner pays for a deficit
# ---------------------------------------------------------------------------------------------


def test_an_outside_caller_cannot_pick_the_adl_victim(chain, make_venue):
    """QUEUE with a 0.10 deficit: before, any caller passed [winner] and that winner lost its
    whole profit. Now only ADL_ROLE (the protocol's keeper) may call ``adl``."""
    params = TEST_PARAMS.model_copy(
        update={
            "buffers": BufferParams(
                insurance_fund_usd=0, pool_seed_usd=100_000, backstop_enabled=False
            )
        }
    ).with_market(adl_policy="queue")
    v = make_venue(params)
    m = v.market
    loser, big, small = A, B, C
    open_position(chain, v, loser, 50, 1)  # bankrupt by 0.10 at 949.9
    open_position(chain, v, big, 5_000, -20)
    open_position(chain, v, small, 2_000, -5)
    set_price(chain, v, "949.9")
    ok([chain.execute_one(m.liquidate(KEEPER, loser))])
    assert m.accounting_now()["badDebtLongs"] == wad("0.1")
    r = chain.execute_one(m.adl(OUTSIDER, [small]))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    assert r.error.args["account"] == OUTSIDER
    assert m.account_now(small)["size"] == -5 * WAD
    # the keeper still has the on-chain ranking check
    r = chain.execute_one(m.adl(KEEPER, [small, big]))
    assert r.error.name == "AdlRankingOutOfOrder"
    r = ok([chain.execute_one(m.adl(KEEPER, [big, small]))])[0]
    assert [h["account"] for h in events(r, "AdlHaircut")] == [big]
    assert chain.read_one(m.has_role(m.role("ADL_ROLE"), KEEPER)) is True


# ---------------------------------------------------------------------------------------------
# F5: the socialized charge with dust open interest
# ---------------------------------------------------------------------------------------------


def test_a_socialized_loss_on_dust_open_interest_charges_at_most_the_price_per_contract(
    chain, make_venue
):
    """Before: loss 250 over 1 wei of open interest wrapped the int128 cast and *paid* the dust
    holder about 90 USD. Now the charge per contract is capped at the index price and the rest
    stays recorded as bad debt of the bankrupt side."""
    params = TEST_PARAMS.model_copy(
        update={
            "buffers": BufferParams(
                insurance_fund_usd=0, pool_seed_usd=100_000, backstop_enabled=False
            )
        }
    ).with_market(adl_policy="socialized")
    v = make_venue(params)
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    fund(chain, v, [D], 1)
    ok(chain.execute([m.deposit(D, usd(1)), m.trade(D, -1, 0)]))  # short 1 wei of base
    set_price(chain, v, 875)  # A's equity −250
    r = chain.execute_one(m.liquidate(KEEPER, A))
    assert r.ok, r.error
    price = 875 * WAD
    charged = -(-1 * price // WAD)  # 1 wei of open interest × 875 per contract, rounded up
    assert event(r, "AdlExecuted") == {
        "policy": 3,
        "longsBankrupt": True,
        "deficit": 250 * WAD,
        "haircuts": charged,
        "covered": charged,
        "overshoot": 0,
        "toFund": 0,
        "accounts": 0,
    }
    assert event(r, "BadDebtRecorded")["amount"] == 250 * WAD - charged
    acc = m.accounting_now()
    assert acc["badDebtLongs"] == 250 * WAD - charged and acc["socializedLoss"] == charged
    assert m.account_now(D)["pendingFunding"] == charged  # charged, not paid
    r = chain.execute_one(m.withdraw(D, usd(2)))
    assert r.error.name == "InsufficientBalance"
    assert len(set(market_cash_identity(v))) == 1


# ---------------------------------------------------------------------------------------------
# F7: sell, liquidate, buy back in one block
# ---------------------------------------------------------------------------------------------


def _sandwich(chain, make_venue):
    """gmx-like preset (skew scale 50,000, fee 7 bps, MM 0.5 %, no insurance fund). Victim V:
    long 100 on 120,000 at 100,000, liquidatable at 99,450. Attacker: sell 800, liquidate V,
    buy 800 back, all in one block; returns (attacker's net USD, the liquidation event)."""
    params = load_preset("gmx-like")
    v = make_venue(params)
    m = v.market
    victim, attacker = A, B
    open_position(chain, v, victim, 120_000, 100)
    set_price(chain, v, 99_450)
    assert chain.read_one(m.is_liquidatable(victim)) is True
    capital = usd(2_000_000)
    fund(chain, v, [attacker], 2_000_000)
    ok([chain.execute_one(m.deposit(attacker, capital))])
    sell, liq, buy = chain.execute(
        [
            m.trade(attacker, -800 * WAD, 0),
            m.liquidate(attacker, victim),
            m.trade(attacker, 800 * WAD, 0),
        ]
    )
    ok([sell, liq, buy])
    margin = m.account_now(attacker)["margin"]
    ok([chain.execute_one(m.withdraw(attacker, margin // UNIT))])
    wallet = chain.read_one(v.collateral.balance_of(attacker))
    assert len(set(market_cash_identity(v))) == 1
    return (wallet - capital) / 1e6, event(liq, "Liquidated")


def test_the_liquidation_sandwich_no_longer_profits(chain, make_venue):
    """Before: the attacker netted 48,515.69 USD after fees (the review: 48,469) and the
    liquidation left a deficit of 101,182 (the review: 125,123), filling at 1.5 % below the
    index. Now the fill is bounded to the index less one MMF and the liquidation's skew
    shift is not in this block's fill prices: the round trip only pays its fees."""
    net_usd, liq = _sandwich(chain, make_venue)
    index = 99_450 * WAD
    assert liq["fillPrice"] == index - index * 5 // 1000  # the bound: index·(1 − 0.5 %)
    assert liq["deficit"] < 2_000 * WAD
    assert net_usd < 0


def test_liquidations_in_one_block_are_priced_without_each_others_skew_shift(chain, make_venue):
    v = make_venue(skew_scale=1_000)
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    open_position(chain, v, B, 1_000, 10)
    fund(chain, v, [C], 100_000)
    ok(chain.execute([m.deposit(C, usd(100_000)), m.trade(C, -20 * WAD, 0)]))  # skew 0
    set_price(chain, v, 920)
    ra, rb = ok(chain.execute([m.liquidate(KEEPER, A), m.liquidate(KEEPER, B)]))
    fa, fb = event(ra, "Liquidated")["fillPrice"], event(rb, "Liquidated")["fillPrice"]
    # both sell 10 from skew 0: fill = 920·(1 − 10/2000), rounded down
    assert fa == fb == 920 * WAD - 920 * WAD * 10 // 2_000
    assert chain.read_one(m.fill_price(WAD)) == 920 * WAD + 920 * WAD // 2_000  # same block
    set_price(chain, v, 920)  # from the next block, fills see the real skew (−20)
    assert chain.read_one(m.fill_price(WAD)) == 920 * WAD + -(-920 * WAD * (2 * -20 + 1) // 2_000)


# ---------------------------------------------------------------------------------------------
# F8: a takeover must not leave the backstop vault liquidatable
# ---------------------------------------------------------------------------------------------


def test_a_takeover_that_would_leave_the_vault_below_maintenance_is_refused(chain, venue):
    """Before: the vault (margin 50,000) took over a 2,000 long at 940 with equity −20,000 and
    the same caller liquidated the vault in the same block."""
    m, vault = venue.market, venue.backstop_vault
    open_position(chain, venue, A, 100_000, 2_000)
    set_price(chain, venue, 940)
    vault_margin = m.account_now(vault.address)["margin"]
    assert vault_margin == 50_000 * WAD
    takeover, liquidation = chain.execute(
        [m.backstop_takeover(KEEPER, A), m.liquidate(KEEPER, vault.address)]
    )
    assert takeover.error.name == "BackstopWouldBeLiquidatable"
    assert takeover.error.args == {
        "vault": vault.address,
        "equityAfter": 30_000 * WAD,
        "maintenanceMargin": 47_000 * WAD,
    }
    assert liquidation.error.name == "NoPosition"
    assert m.account_now(A)["size"] == 2_000 * WAD  # left to the liquidation path
    assert chain.execute_one(m.liquidate(KEEPER, A)).ok


# ---------------------------------------------------------------------------------------------
# F10: a parameter change does not re-price funding already accrued
# ---------------------------------------------------------------------------------------------


def test_a_parameter_change_accrues_funding_under_the_old_parameters_first(chain, make_venue):
    """Velocity funding, skew 10 of scale 100: A owes what accrued over the timelock delay.
    Before, raising the velocity tenfold re-priced that whole interval (542.55 → 5,425.47 in
    the review); now only the seconds after the change see the new velocity."""
    v = make_venue(skew_scale=100, max_funding_velocity=1)
    m = v.market
    open_position(chain, v, A, 10_000, 10)
    new = v.params.market.model_copy(update={"max_funding_velocity": 10}).to_chain()
    call = m.set_parameters(v.timelock.address, new)
    delay = v.timelock.read("getMinDelay")
    salt = b"\x01" * 32
    ok([chain.execute_one(v.timelock.schedule(v.governor, m.address, call.data, delay, salt))])
    chain.advance_time(delay + 1)
    set_price(chain, v, 1_000)
    before = m.account_now(A)["pendingFunding"]
    assert before > WAD // 2
    ok([chain.execute_one(v.timelock.execute(v.governor, m.address, call.data, salt))])
    after = m.account_now(A)["pendingFunding"]
    assert before <= after < before * 101 // 100
    assert m.parameters_now()["maxFundingVelocity"] == 10 * WAD


def test_deploy_grants_the_adl_role_only_to_the_adl_keeper(chain, deployed):
    v = deploy(chain, TEST_PARAMS)
    role = v.market.role("ADL_ROLE")
    assert chain.read_one(v.market.has_role(role, KEEPER)) is True
    assert chain.read_one(v.market.has_role(role, v.deployer)) is False
