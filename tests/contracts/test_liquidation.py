"""Liquidation, partial liquidation and cooldown, rate limit, bankruptcy and the insurance fund,
circuit breaker, stale prices, and the backstop vault."""

from __future__ import annotations

from perp_helpers import (
    KEEPER,
    TRADERS,
    UNIT,
    WAD,
    event,
    fund,
    market_cash_identity,
    ok,
    open_position,
    set_price,
    usd,
    wad,
)

from simulator.protocol.params import BufferParams

A, B = TRADERS[:2]


def test_liquidate_reverts_when_the_account_is_healthy(chain, venue):
    open_position(chain, venue, A, 1_000, 10)
    r = chain.execute_one(venue.market.liquidate(KEEPER, A))
    assert r.error.name == "NotLiquidatable"
    assert r.error.args == {"account": A, "equity": 1_000 * WAD, "maintenanceMargin": 250 * WAD}


def test_liquidate_reverts_for_an_account_without_a_position(chain, venue):
    r = chain.execute_one(venue.market.liquidate(KEEPER, A))
    assert r.error.name == "NoPosition" and r.error.args == {"account": A}


def test_full_liquidation_pays_the_penalty_to_keeper_and_fund_and_leaves_the_rest(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 10)
    set_price(chain, venue, 920)  # equity 200 < MM 230
    fund_before = chain.read_one(venue.insurance_fund.balance())
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated") == {
        "account": A,
        "keeper": KEEPER,
        "sizeClosed": 10 * WAD,
        "fillPrice": 920 * WAD,
        "notional": 9_200 * WAD,
        "penalty": 92 * WAD,
        "keeperReward": 46 * WAD,
        "insuranceShare": 46 * WAD,
        "fundPayout": 0,
        "deficit": 0,
        "outstandingBadDebt": 0,
        "full": True,
    }
    assert r.gas_used < 300_000
    assert chain.read_one(venue.collateral.balance_of(KEEPER)) == usd(46)
    assert chain.read_one(venue.insurance_fund.balance()) == fund_before + usd(46)
    acct = m.account_now(A)
    assert acct["size"] == 0 and acct["margin"] == 108 * WAD
    assert len(set(market_cash_identity(venue))) == 1


def test_a_fill_worse_than_the_bankruptcy_price_is_paid_by_the_insurance_fund(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 10)
    set_price(chain, venue, 850)  # equity −500
    pool_before = m.accounting_now()["pool"]
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    args = event(r, "Liquidated")
    assert (args["penalty"], args["fundPayout"], args["deficit"]) == (0, 500 * WAD, 0)
    assert chain.read_one(venue.insurance_fund.balance()) == usd(100_000 - 500)
    # the pool received the loss the account could pay (1000) plus the fund's 500
    assert m.accounting_now()["pool"] == pool_before + 1_500 * WAD
    assert len(set(market_cash_identity(venue))) == 1


def test_a_deficit_beyond_the_insurance_fund_is_recorded_as_bad_debt(chain, make_venue):
    from perp_helpers import TEST_PARAMS

    v = make_venue(
        TEST_PARAMS.model_copy(
            update={"buffers": BufferParams(insurance_fund_usd=100, pool_seed_usd=10_000)}
        )
    )
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    set_price(chain, v, 850)
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    assert event(r, "BadDebtRecorded") == {
        "longsBankrupt": True,
        "amount": 400 * WAD,
        "outstanding": 400 * WAD,
    }
    args = event(r, "Liquidated")
    assert (args["fundPayout"], args["deficit"], args["outstandingBadDebt"]) == (
        100 * WAD,
        400 * WAD,
        400 * WAD,
    )
    acc = m.accounting_now()
    assert (acc["badDebtLongs"], acc["badDebtShorts"], acc["totalBadDebt"]) == (
        400 * WAD,
        0,
        400 * WAD,
    )


def test_large_positions_are_liquidated_partially_then_wholly_after_the_cooldown(chain, make_venue):
    v = make_venue(
        partial_liquidation_threshold_usd=5_000,
        partial_liquidation_share_bps=2_000,
        liquidation_cooldown_s=30,
    )
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    set_price(chain, v, 920)
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    first = event(r, "Liquidated")
    assert first["sizeClosed"] == 2 * WAD and first["full"] is False
    acct = m.account_now(A)
    assert acct["size"] == 8 * WAD and acct["partialLiquidatedAt"] > 0
    r = chain.execute_one(m.liquidate(KEEPER, A))
    assert r.error.name == "LiquidationCooldownActive"
    assert r.error.args == {"account": A, "until": acct["partialLiquidatedAt"] + 30}
    chain.advance_time(31)
    set_price(chain, v, 920)
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    second = event(r, "Liquidated")
    assert second["sizeClosed"] == 8 * WAD and second["full"] is True


def test_dydx_style_liquidation_takes_ten_percent_at_most_once_per_block(chain, make_venue):
    v = make_venue(
        partial_liquidation_threshold_usd=0, partial_liquidation_share_bps=1_000, liquidation_cooldown_s=0,
        full_liquidation_after_cooldown=False,
    )  # fmt: skip
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    set_price(chain, v, 900)
    first, second = chain.execute([m.liquidate(KEEPER, A), m.liquidate(KEEPER, A)])
    assert event(first, "Liquidated")["sizeClosed"] == 1 * WAD
    assert second.error.name == "AlreadyLiquidatedThisBlock"
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == wad("0.9")


def test_the_per_block_rate_limit_shrinks_then_refuses_liquidations(chain, make_venue):
    v = make_venue(max_liquidation_notional_per_block_usd=5_000)
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    open_position(chain, v, B, 1_000, 10)
    set_price(chain, v, 920)
    first, second = chain.execute([m.liquidate(KEEPER, A), m.liquidate(KEEPER, B)])
    args = event(first, "Liquidated")
    assert args["sizeClosed"] == 5_000 * WAD * WAD // (920 * WAD) and args["full"] is False
    assert second.error.name == "LiquidationRateLimited"
    assert (
        second.error.args["cap"] == 5_000 * WAD
        and second.error.args["liquidatedNotional"] >= 5_000 * WAD - WAD
    )
    assert chain.execute_one(m.liquidate(KEEPER, B)).ok  # next block


def test_circuit_breaker_refuses_new_risk_but_lets_liquidations_and_reductions_run(
    chain, make_venue
):
    v = make_venue(circuit_breaker_band_bps=500, circuit_breaker_window_s=300)
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    fund(chain, v, [B], 10_000)
    ok([chain.execute_one(m.deposit(B, usd(10_000)))])
    chain.advance_time(600)
    set_price(chain, v, 1_000)
    chain.advance_time(600)
    set_price(chain, v, 900)  # 10% below a TWAP of ~1000
    assert chain.read_one(m.circuit_breaker_tripped()) is True
    r = chain.execute_one(m.trade(B, wad(1), 0))
    assert r.error.name == "CircuitBreakerTripped"
    assert r.error.args["indexPrice"] == 900 * WAD and r.error.args["bandBps"] == 500
    assert r.error.args["referencePrice"] > 990 * WAD
    assert chain.execute_one(m.liquidate(KEEPER, A)).ok


def test_circuit_breaker_can_halt_liquidations_too(chain, make_venue):
    v = make_venue(
        circuit_breaker_band_bps=500,
        circuit_breaker_window_s=300,
        liquidations_halt_on_breaker=True,
    )
    m = v.market
    open_position(chain, v, A, 1_000, 10)
    chain.advance_time(600)
    set_price(chain, v, 1_000)
    chain.advance_time(600)
    set_price(chain, v, 900)
    r = chain.execute_one(m.liquidate(KEEPER, A))
    assert r.error.name == "CircuitBreakerTripped"


def test_a_stale_oracle_price_stops_trading_and_liquidation(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 10)
    chain.advance_time(3_601)
    r1, r2 = chain.execute([m.trade(A, wad(1), 0), m.liquidate(KEEPER, A)])
    assert r1.error.name == r2.error.name == "StalePrice"
    assert r1.error.args["maxAge"] == 3_600


# ---------------------------------------------------------------------------------------------
# Backstop vault
# ---------------------------------------------------------------------------------------------


def test_backstop_takeover_reverts_above_two_thirds_of_maintenance_margin(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 10)
    set_price(chain, venue, 920)  # equity 200, MM 230, threshold 153.33
    r = chain.execute_one(m.backstop_takeover(KEEPER, A))
    assert r.error.name == "NotBelowBackstopThreshold"
    assert r.error.args["equity"] == 200 * WAD
    assert r.error.args["threshold"] == 230 * WAD * wad(2 / 3) // WAD


def test_backstop_takeover_moves_position_and_margin_to_the_vault(chain, venue):
    m, vault = venue.market, venue.backstop_vault
    open_position(chain, venue, A, 1_000, 10)
    assets_before = chain.read_one(vault.total_assets())
    set_price(chain, venue, 910)  # equity 100 < 2/3 × 227.5
    r = ok([chain.execute_one(m.backstop_takeover(KEEPER, A))])[0]
    assert event(r, "BackstopTakeover") == {
        "account": A,
        "vault": vault.address,
        "keeper": KEEPER,
        "size": 10 * WAD,
        "price": 910 * WAD,
        "marginTransferred": 100 * WAD,
        "fundPayout": 0,
        "deficit": 0,
    }
    assert m.account_now(A)["size"] == 0 and m.account_now(A)["margin"] == 0
    v_acct = m.account_now(vault.address)
    assert v_acct["size"] == 10 * WAD and v_acct["entryPrice"] == 910 * WAD
    # share price includes the position: +100 margin now, +400 after the price recovers to 950
    assert chain.read_one(vault.total_assets()) == assets_before + usd(100)
    set_price(chain, venue, 950)
    assert chain.read_one(vault.total_assets()) == assets_before + usd(500)
    assert chain.read_one(vault.max_withdraw(venue.deployer)) == chain.read_one(vault.idle_assets())
    assert len(set(market_cash_identity(venue))) == 1


def test_the_vault_absorbs_a_negative_margin_when_it_takes_over_a_bankrupt_position(chain, venue):
    m, vault = venue.market, venue.backstop_vault
    open_position(chain, venue, A, 1_000, 10)
    vault_margin = m.account_now(vault.address)["margin"]
    set_price(chain, venue, 880)  # equity −200
    r = ok([chain.execute_one(m.backstop_takeover(KEEPER, A))])[0]
    assert event(r, "BackstopTakeover")["marginTransferred"] == -200 * WAD
    assert m.account_now(vault.address)["margin"] == vault_margin - 200 * WAD


def test_the_vault_manager_can_unwind_the_taken_position(chain, venue):
    m, vault = venue.market, venue.backstop_vault
    open_position(chain, venue, A, 1_000, 10)
    set_price(chain, venue, 910)
    ok([chain.execute_one(m.backstop_takeover(KEEPER, A))])
    r = chain.execute_one(vault.trade_position(KEEPER, -10 * WAD))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = ok([chain.execute_one(vault.trade_position(venue.manager, -10 * WAD))])[0]
    assert event(r, "PositionTraded") == {"sizeDelta": -10 * WAD, "fillPrice": 910 * WAD}
    assert m.account_now(vault.address)["size"] == 0


def test_keeper_rewards_are_whole_collateral_units(chain, make_venue):
    v = make_venue(liquidation_penalty_bps=33, keeper_share_bps=3_333)
    m = v.market
    open_position(chain, v, A, 1_000, "9.876543")
    set_price(chain, v, "910.123457")
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]
    args = event(r, "Liquidated")
    assert args["keeperReward"] % UNIT == 0 and args["insuranceShare"] % UNIT == 0
    assert args["keeperReward"] == args["penalty"] * 3_333 // 10_000 // UNIT * UNIT
    assert len(set(market_cash_identity(v))) == 1
