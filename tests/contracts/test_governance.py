"""Access control: only the timelock changes parameters, the guardian only tightens, the
controller only moves the margin scale, modules only run through the market."""

from __future__ import annotations

from perp_helpers import (
    GOVERNOR,
    GUARDIAN,
    KEEPER,
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

from simulator.chain.types import Call
from simulator.protocol.params import ControllerParams

A = TRADERS[0]
STRANGER = TRADERS[39]


def name32(s: str) -> bytes:
    return s.encode().ljust(32, b"\0")


def test_parameters_cannot_be_changed_without_the_timelock(chain, venue):
    m = venue.market
    params = m.parameters_now()
    for sender in (venue.deployer, GOVERNOR, GUARDIAN, STRANGER):
        r = chain.execute_one(m.set_parameters(sender, {**params, "takerFeeBps": 1}))
        assert r.error.name == "AccessControlUnauthorizedAccount"
        assert r.error.args == {"account": sender, "neededRole": m.role("GOVERNOR_ROLE")}


def test_the_timelock_changes_parameters_only_after_its_delay(chain, venue):
    m, tl = venue.market, venue.timelock
    params = {**m.parameters_now(), "takerFeeBps": 12, "maxLeverage": 10 * WAD}
    data = m.set_parameters(tl.address, params).data
    ok([chain.execute_one(tl.schedule(GOVERNOR, m.address, data, 3_600))])
    early = chain.execute_one(tl.execute(GOVERNOR, m.address, data))
    assert early.error.name == "TimelockUnexpectedOperationState"
    chain.advance_time(3_601)
    set_price(chain, venue, 1_000)
    r = ok([chain.execute_one(tl.execute(GOVERNOR, m.address, data))])[0]
    updated = event(r, "ParametersUpdated")
    assert updated["by"] == tl.address
    assert m.parameters_now() == params
    assert updated["params"] == m.params_tuple(params)


def test_only_the_proposer_can_schedule_on_the_timelock(chain, venue):
    m, tl = venue.market, venue.timelock
    data = m.set_risk_paused(tl.address, True).data
    r = chain.execute_one(tl.schedule(STRANGER, m.address, data, 3_600))
    assert r.error.name == "AccessControlUnauthorizedAccount"


def test_invalid_parameters_are_refused_with_the_field_name(chain, venue):
    m = venue.market
    bad = {**m.parameters_now(), "maintenanceMarginFraction": wad("0.06")}  # above 1/20
    r = venue.govern(chain, m, m.set_parameters(venue.timelock.address, bad))
    assert r.error.name == "InvalidParameter"
    assert r.error.args == {"name": name32("maintenanceMarginFraction"), "value": wad("0.06")}


def test_the_guardian_lowers_leverage_at_once_and_cannot_raise_it(chain, venue):
    m = venue.market
    r = ok([chain.execute_one(m.guardian_set_max_leverage(GUARDIAN, 10 * WAD))])[0]
    assert event(r, "ParametersUpdated")["by"] == GUARDIAN
    assert m.parameters_now()["maxLeverage"] == 10 * WAD
    r = chain.execute_one(m.guardian_set_max_leverage(GUARDIAN, 11 * WAD))
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maxLeverage"),
        "current": 10 * WAD,
        "proposed": 11 * WAD,
    }


def test_a_lower_max_leverage_caps_every_margin_tier(chain, make_venue):
    from perp_helpers import TEST_PARAMS

    from simulator.protocol.params import MarginTierParams

    tier = MarginTierParams(
        notional_floor_usd=100_000, initial_margin_fraction=0.04, maintenance_margin_fraction=0.02
    )
    v = make_venue(
        TEST_PARAMS.with_market(
            max_leverage=50, maintenance_margin_fraction=0.01, margin_tiers=(tier,)
        )
    )
    m = v.market
    open_position(chain, v, A, 50_000, 200)  # 200k notional, in the tier
    # 50x base: IM = 200k × 4% − 100k × (4% − 2%) = 6000
    assert chain.read_one(m.initial_margin(A)) == 6_000 * WAD
    ok([chain.execute_one(m.guardian_set_max_leverage(GUARDIAN, 10 * WAD))])
    # 10x floors the tier too: IM = 10% of the notional, whatever the tier says
    assert chain.read_one(m.initial_margin(A)) == 20_000 * WAD
    ok([chain.execute_one(m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad("0.05")))])
    assert chain.read_one(m.maintenance_margin(A)) == 10_000 * WAD


def test_the_guardian_raises_maintenance_margin_and_cannot_lower_it(chain, venue):
    m = venue.market
    ok([chain.execute_one(m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad("0.03")))])
    r = chain.execute_one(m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad("0.02")))
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maintenanceMarginFraction"),
        "current": wad("0.03"),
        "proposed": wad("0.02"),
    }
    # tightening still has to leave MM below IM
    r = chain.execute_one(m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad("0.05")))
    assert r.error.name == "InvalidParameter"


def test_the_guardian_lowers_open_interest_caps_and_cannot_raise_them(chain, venue):
    m = venue.market
    ok([chain.execute_one(m.guardian_set_open_interest_caps(GUARDIAN, 5 * WAD, 6 * WAD))])
    r = chain.execute_one(m.guardian_set_open_interest_caps(GUARDIAN, 5 * WAD, 7 * WAD))
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maxShortOpenInterest"),
        "current": 6 * WAD,
        "proposed": 7 * WAD,
    }


def test_the_guardian_pauses_new_risk_but_only_the_timelock_resumes_it(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 5)
    r = ok([chain.execute_one(m.guardian_pause_risk(GUARDIAN))])[0]
    assert event(r, "RiskPausedSet") == {"by": GUARDIAN, "paused": True}
    assert chain.execute_one(m.trade(A, wad(1), 0)).error.name == "RiskPaused"
    assert chain.execute_one(m.trade(A, -wad(1), 0)).ok  # reducing stays open
    r = chain.execute_one(m.set_risk_paused(GUARDIAN, False))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = venue.govern(chain, m, m.set_risk_paused(venue.timelock.address, False))
    assert event(r, "RiskPausedSet") == {"by": venue.timelock.address, "paused": False}
    set_price(chain, venue, 1_000)
    assert chain.execute_one(m.trade(A, wad(1), 0)).ok


def test_strangers_cannot_use_the_guardian_powers(chain, venue):
    m = venue.market
    for call in (
        m.guardian_set_max_leverage(STRANGER, WAD),
        m.guardian_set_maintenance_margin_fraction(STRANGER, wad("0.04")),
        m.guardian_set_open_interest_caps(STRANGER, 1, 1),
        m.guardian_pause_risk(STRANGER),
    ):
        r = chain.execute_one(call)
        assert r.error.name == "AccessControlUnauthorizedAccount"
        assert r.error.args["neededRole"] == m.role("GUARDIAN_ROLE")


def test_margin_tiers_and_fee_withdrawals_go_through_the_timelock(chain, make_venue):
    v = make_venue(taker_fee_bps=10)
    m, tl = v.market, v.timelock
    tiers = [(100_000 * WAD, wad("0.1"), wad("0.05"))]
    assert (
        chain.execute_one(m.set_margin_tiers(GOVERNOR, tiers)).error.name
        == "AccessControlUnauthorizedAccount"
    )
    r = v.govern(chain, m, m.set_margin_tiers(tl.address, tiers))
    assert list(event(r, "MarginTiersUpdated")["tiers"]) == tiers
    assert m.margin_tiers_now() == tiers
    set_price(chain, v, 1_000)
    open_position(chain, v, A, 10_000, 10)  # fee 10 bps of 10k = 10
    assert m.accounting_now()["protocolFees"] == 10 * WAD
    assert (
        chain.execute_one(m.withdraw_fees(GOVERNOR, STRANGER, usd(10))).error.name
        == "AccessControlUnauthorizedAccount"
    )
    r = v.govern(chain, m, m.withdraw_fees(tl.address, STRANGER, usd(10)), salt=b"\x01" * 32)
    assert event(r, "FeesWithdrawn") == {"to": STRANGER, "amount": 10 * WAD}
    assert chain.read_one(v.collateral.balance_of(STRANGER)) == usd(10)


def test_only_the_controller_sets_the_margin_scale(chain, venue):
    m = venue.market
    r = chain.execute_one(m.set_margin_scale(GUARDIAN, 2 * WAD))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    assert r.error.args["neededRole"] == m.role("CONTROLLER_ROLE")


def test_the_dynamic_controller_raises_margins_with_volatility_within_its_bounds(chain, make_venue):
    from perp_helpers import TEST_PARAMS

    params = TEST_PARAMS.model_copy(
        update={
            "controller": ControllerParams(
                enabled=True,
                min_scale=1,
                max_scale=2,
                target_volatility=0.5,
                volatility_sensitivity=1,
                skew_sensitivity=0.5,
                ewma_weight=0.5,
                min_interval_s=60,
            )
        }  # fmt: skip
    )
    v = make_venue(params)
    m, c = v.market, v.controller
    open_position(chain, v, A, 10_000, 10)  # one-sided book: skew fraction 1
    r = ok([chain.execute_one(c.poke(STRANGER))])[0]
    # the skew enters time-averaged, never in the block that created it (review F2;
    # test_peripheral_fixes.py checks the averaging rule)
    assert event(r, "Poked")["skewFraction"] == WAD and event(r, "Poked")["scale"] == WAD
    mm_before = chain.read_one(m.maintenance_margin(A))
    for price in (
        1_000,
        1_050,
        980,
        1_060,
        990,
    ):  # ~5-7% moves a minute apart: very high volatility
        chain.advance_time(60)
        set_price(chain, v, price)
        ok([chain.execute_one(c.poke(STRANGER))])
    assert chain.read_one(c.volatility()) > 5 * WAD
    assert chain.read_one(m.margin_scale()) == 2 * WAD  # capped at max_scale
    assert chain.read_one(m.maintenance_margin(A)) > mm_before
    new = ControllerParams(enabled=True, max_scale=1.2).to_chain()
    assert (
        chain.execute_one(c.set_parameters(GOVERNOR, new)).error.name
        == "AccessControlUnauthorizedAccount"
    )


def test_modules_cannot_be_called_directly(chain, venue):
    m = venue.market
    for module, fn, args in (
        (venue.liquidation_module, "liquidate", (A,)),
        (venue.governance_module, "setRiskPaused", (True,)),
    ):
        r = chain.execute_one(
            Call(sender=KEEPER, to=module, data=m.function(fn).encode(*args), gas=200_000)
        )
        assert r.error.name == "OnlyDelegateCall"


def test_wiring_happens_once(chain, venue):
    m = venue.market
    r = chain.execute_one(m.initialize(venue.deployer, KEEPER, KEEPER, KEEPER, KEEPER))
    assert r.error.name == "AlreadyInitialized"
    r = chain.execute_one(venue.insurance_fund.set_market(venue.deployer, KEEPER))
    assert r.error.name == "MarketAlreadySet"


def test_only_the_market_draws_from_the_insurance_fund(chain, venue):
    r = chain.execute_one(venue.insurance_fund.cover(venue.deployer, usd(1)))
    assert r.error.name == "OnlyMarket" and r.error.args == {"caller": venue.deployer}


def test_oracle_parameters_and_pushes_are_restricted(chain, venue):
    o = venue.oracle
    r = chain.execute_one(o.set_parameters(venue.deployer, 60, 100))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = chain.execute_one(o.push_price(STRANGER, 1_000 * WAD))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = venue.govern(chain, o, o.set_parameters(venue.timelock.address, 60, 100))
    assert event(r, "OracleParametersUpdated") == {"maxAge": 60, "maxDeviationBps": 100}


def test_vault_admin_is_the_timelock_and_only_the_manager_moves_margin(chain, venue):
    vault = venue.backstop_vault
    assert chain.read_one(vault.view("hasRole", b"\0" * 32, venue.timelock.address)) is True
    assert chain.read_one(vault.view("hasRole", b"\0" * 32, venue.deployer)) is False
    r = chain.execute_one(vault.deposit_margin(STRANGER, usd(1)))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    fund(chain, venue, [A], 1_000)
    ok(
        chain.execute(
            [venue.collateral.approve(A, vault.address, usd(1_000)), vault.deposit(A, usd(1_000))]
        )
    )
    assert chain.read_one(vault.balance_of(A)) > 0
