"""Access control of the venue, per market (ported from the single-market suite's
test_governance.py; PORTING.md maps each test): only the timelock changes a market's parameters
and only after its delay, the guardian only tightens one market, the timelock alone resumes risk
and withdraws fees, modules run only through the venue, wiring happens once, only the venue
draws on the fund, oracles and the vault keep their admin with the timelock.
"""

from __future__ import annotations

from perp_helpers import GOVERNOR, GUARDIAN, KEEPER, MANAGER, PUSHER, TRADERS, WAD, event, ok, usd
from perp_helpers import wad as to_wad
from vault_helpers import deploy_vault_venue
from venue_helpers import MarketSpec

from simulator.chain.types import Call
from simulator.protocol.venue_deploy import MODULES

A = TRADERS[26]
STRANGER = TRADERS[39]


def name32(s: str) -> bytes:
    return s.encode().ljust(32, b"\0")


def test_market_parameters_cannot_be_changed_without_the_timelock(mv):
    v = mv.venue
    params = {**v.parameters_now(2), "takerFeeBps": 1}
    for sender in (mv.deployer, GOVERNOR, GUARDIAN, STRANGER):
        r = mv.chain.execute_one(v.set_market_parameters(sender, 2, params))
        assert r.error.name == "AccessControlUnauthorizedAccount"
        assert r.error.args == {"account": sender, "neededRole": v.role("GOVERNOR_ROLE")}


def test_the_timelock_changes_every_parameter_of_one_market_only_after_its_delay(make_mv):
    mv = make_mv([MarketSpec("BTC", 1_000), MarketSpec("ETH", 100)], timelock_delay_s=3_600)
    v, tl = mv.venue, mv.timelock
    eth_before = v.parameters_now(2)
    # every field away from the defaults: the stored (packed) form gives back the same numbers
    params = {
        **v.parameters_now(1),
        "maxLeverage": 10 * WAD, "maintenanceMarginFraction": to_wad("0.03"),
        "oiImfLowerCap": 10**6 * WAD, "oiImfUpperCap": 5 * 10**6 * WAD,
        "maxLongOpenInterest": 777 * WAD, "maxShortOpenInterest": 555 * WAD,
        "skewScale": 12_345 * WAD, "takerFeeBps": 12, "insuranceFeeShareBps": 4_321,
        "fundingModel": 1, "maxFundingVelocity": 3 * WAD, "premiumInterestRate8h": to_wad("1e-4"),
        "premiumClamp8h": to_wad("5e-4"), "maxFundingRatePerHour": to_wad("0.04"),
        "liquidationPenaltyBps": 150, "keeperShareBps": 3_333,
        "partialLiquidationThreshold": 2**200, "partialLiquidationShareBps": 2_500,
        "liquidationCooldown": 86_400, "fullLiquidationAfterCooldown": False,
        "maxLiquidationNotionalPerBlock": 2**255, "maxLiquidationImpactBps": 5_000,
        "backstopFraction": WAD, "adlPolicy": 1, "adlPriceMode": 1, "maxAdlAccountsPerCall": 100,
        "circuitBreakerBandBps": 10_000, "circuitBreakerWindow": 600,
        "liquidationsHaltOnBreaker": True,
    }  # fmt: skip
    data = v.set_market_parameters(tl.address, 1, params).data
    delay = tl.read("getMinDelay")
    ok([mv.chain.execute_one(tl.schedule(GOVERNOR, v.address, data, delay))])
    early = mv.chain.execute_one(tl.execute(GOVERNOR, v.address, data))
    assert early.error.name == "TimelockUnexpectedOperationState"
    mv.chain.advance_time(delay + 1)
    r = ok([mv.chain.execute_one(tl.execute(GOVERNOR, v.address, data))])[0]
    updated = event(r, "MarketParametersUpdated")
    assert updated["market"] == 1 and updated["by"] == tl.address
    assert updated["params"] == v.params_tuple(params)
    assert v.parameters_now(1) == params
    assert v.parameters_now(2) == eth_before


def test_only_the_proposer_can_schedule_on_the_timelock(mv):
    v, tl = mv.venue, mv.timelock
    data = v.set_risk_paused(tl.address, 1, True).data
    r = mv.chain.execute_one(tl.schedule(STRANGER, v.address, data, 3_600))
    assert r.error.name == "AccessControlUnauthorizedAccount"


def test_invalid_parameters_are_refused_with_the_field_name(mv):
    v = mv.venue
    bad = {**v.parameters_now(3), "maintenanceMarginFraction": to_wad("0.06")}  # above 1/20
    r = mv.govern(v.set_market_parameters(mv.timelock.address, 3, bad))
    assert r.error.name == "InvalidParameter"
    assert r.error.args == {"name": name32("maintenanceMarginFraction"), "value": to_wad("0.06")}


def test_the_guardian_lowers_leverage_at_once_and_cannot_raise_it(mv):
    v = mv.venue
    r = ok([mv.chain.execute_one(v.guardian_set_max_leverage(GUARDIAN, 1, 10 * WAD))])[0]
    assert event(r, "MarketParametersUpdated")["by"] == GUARDIAN
    assert v.parameters_now(1)["maxLeverage"] == 10 * WAD
    r = mv.chain.execute_one(v.guardian_set_max_leverage(GUARDIAN, 1, 11 * WAD))
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maxLeverage"),
        "current": 10 * WAD,
        "proposed": 11 * WAD,
    }


def test_a_lower_max_leverage_caps_every_margin_tier(make_mv):
    tiers = [(100_000 * WAD, to_wad("0.04"), to_wad("0.02"))]
    spec = MarketSpec(
        "BTC", 1_000, {"maxLeverage": 50 * WAD, "maintenanceMarginFraction": to_wad("0.01")}, tiers
    )
    mv = make_mv([spec, MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 50_000, [(1, 200)])  # 200k notional, in the tier
    # 50x base: IM = 200k × 4% − 100k × (4% − 2%) = 6000
    assert v.health_now(A)[2] == 6_000 * WAD
    ok([mv.chain.execute_one(v.guardian_set_max_leverage(GUARDIAN, 1, 10 * WAD))])
    # 10x floors the tier too: IM = 10% of the notional, whatever the tier says
    assert v.health_now(A)[2] == 20_000 * WAD
    ok(
        [
            mv.chain.execute_one(
                v.guardian_set_maintenance_margin_fraction(GUARDIAN, 1, to_wad("0.05"))
            )
        ]
    )
    assert v.health_now(A)[1] == 10_000 * WAD


def test_the_guardian_raises_maintenance_margin_and_cannot_lower_it(mv):
    v = mv.venue
    ok([mv.chain.execute_one(v.guardian_set_maintenance_margin_fraction(GUARDIAN, 2, to_wad("0.03")))])  # fmt: skip
    r = mv.chain.execute_one(v.guardian_set_maintenance_margin_fraction(GUARDIAN, 2, to_wad("0.02")))  # fmt: skip
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maintenanceMarginFraction"), "current": to_wad("0.03"),
        "proposed": to_wad("0.02"),
    }  # fmt: skip
    # tightening still has to leave MM below IM
    r = mv.chain.execute_one(v.guardian_set_maintenance_margin_fraction(GUARDIAN, 2, to_wad("0.05")))  # fmt: skip
    assert r.error.name == "InvalidParameter"


def test_the_guardian_lowers_open_interest_caps_and_cannot_raise_them(mv):
    v = mv.venue
    ok([mv.chain.execute_one(v.guardian_set_open_interest_caps(GUARDIAN, 4, 5 * WAD, 6 * WAD))])
    r = mv.chain.execute_one(v.guardian_set_open_interest_caps(GUARDIAN, 4, 5 * WAD, 7 * WAD))
    assert r.error.name == "GuardianCannotLoosen"
    assert r.error.args == {
        "name": name32("maxShortOpenInterest"), "current": 6 * WAD, "proposed": 7 * WAD,
    }  # fmt: skip


def test_the_guardian_pauses_new_risk_but_only_the_timelock_resumes_it(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 5)])
    r = ok([mv.chain.execute_one(v.guardian_pause_risk(GUARDIAN, 1))])[0]
    assert event(r, "RiskPausedSet") == {"market": 1, "by": GUARDIAN, "paused": True}
    assert mv.chain.execute_one(v.trade(A, 1, to_wad(1))).error.name == "RiskPaused"
    assert mv.chain.execute_one(v.trade(A, 1, -to_wad(1))).ok  # reducing stays open
    r = mv.chain.execute_one(v.set_risk_paused(GUARDIAN, 1, False))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = ok([mv.govern(v.set_risk_paused(mv.timelock.address, 1, False))])[0]
    assert event(r, "RiskPausedSet") == {"market": 1, "by": mv.timelock.address, "paused": False}
    mv.push_all({1: 1_000})
    assert mv.chain.execute_one(v.trade(A, 1, to_wad(1))).ok


def test_strangers_cannot_use_the_guardian_powers(mv):
    v = mv.venue
    for call in (
        v.guardian_set_max_leverage(STRANGER, 1, WAD),
        v.guardian_set_maintenance_margin_fraction(STRANGER, 1, to_wad("0.04")),
        v.guardian_set_open_interest_caps(STRANGER, 1, 1, 1),
        v.guardian_pause_risk(STRANGER, 1),
    ):
        r = mv.chain.execute_one(call)
        assert r.error.name == "AccessControlUnauthorizedAccount"
        assert r.error.args["neededRole"] == v.role("GUARDIAN_ROLE")


def test_margin_tiers_and_fee_withdrawals_go_through_the_timelock(make_mv):
    mv = make_mv([MarketSpec("BTC", 1_000, {"takerFeeBps": 10}), MarketSpec("ETH", 100)])
    v, tl = mv.venue, mv.timelock
    tiers = [(100_000 * WAD, to_wad("0.1"), to_wad("0.05"))]
    r = mv.chain.execute_one(v.set_margin_tiers(GOVERNOR, 1, tiers))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = ok([mv.govern(v.set_margin_tiers(tl.address, 1, tiers))])[0]
    assert list(event(r, "MarginTiersUpdated")["tiers"]) == tiers
    assert v.margin_tiers_now(1) == tiers and v.margin_tiers_now(2) == []
    mv.push_all({1: 1_000, 2: 100})
    mv.setup(A, 10_000, [(1, 10)])  # fee 10 bps of 10k = 10
    assert v.accounting_now()["protocolFees"] == 10 * WAD
    r = mv.chain.execute_one(v.withdraw_fees(GOVERNOR, STRANGER, usd(10)))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = ok([mv.govern(v.withdraw_fees(tl.address, STRANGER, usd(10)), salt=b"\x01" * 32)])[0]
    assert event(r, "FeesWithdrawn") == {"to": STRANGER, "amount": 10 * WAD}
    assert mv.chain.read_one(mv.collateral.balance_of(STRANGER)) == usd(10)


def test_modules_cannot_be_called_directly(mv):
    v = mv.venue
    calls = {
        "VenueLiquidationModule": ("liquidate", (A,)),
        "VenueAdlModule": ("adl", (1, True, [A])),
        "VenueGovernanceModule": ("setRiskPaused", (1, True)),
    }
    assert set(calls) == set(MODULES)
    for module, (fn, args) in calls.items():
        data = v.function(fn).encode(*args)
        r = mv.chain.execute_one(Call(sender=KEEPER, to=mv.modules[module], data=data, gas=300_000))
        assert r.error.name == "OnlyDelegateCall", module


def test_wiring_happens_once(mv):
    r = mv.chain.execute_one(mv.venue.initialize(mv.deployer, KEEPER, KEEPER, KEEPER, KEEPER))
    assert r.error.name == "AlreadyInitialized"
    r = mv.chain.execute_one(mv.fund.set_market(mv.deployer, KEEPER))
    assert r.error.name == "MarketAlreadySet"


def test_only_the_venue_draws_from_the_insurance_fund(mv):
    r = mv.chain.execute_one(mv.fund.cover(mv.deployer, usd(1)))
    assert r.error.name == "OnlyMarket" and r.error.args == {"caller": mv.deployer}


def test_each_oracles_parameters_and_pushes_are_restricted(mv):
    for market, oracle in mv.oracles.items():
        r = mv.chain.execute_one(oracle.set_parameters(mv.deployer, 60, 100))
        assert r.error.name == "AccessControlUnauthorizedAccount"
        r = mv.chain.execute_one(oracle.push_price(STRANGER, 1_000 * WAD))
        assert r.error.name == "AccessControlUnauthorizedAccount"
        assert mv.chain.execute_one(oracle.push_price(PUSHER, oracle.read("lastPrice"))).ok, market
    oracle = mv.oracles[3]
    r = ok([mv.govern(oracle.set_parameters(mv.timelock.address, 60, 100))])[0]
    assert event(r, "OracleParametersUpdated") == {"maxAge": 60, "maxDeviationBps": 100}


def test_vault_admin_is_the_timelock_and_only_the_manager_moves_margin(chain, mv):
    vv = deploy_vault_venue(chain, [MarketSpec("BTC", 1_000)], seed_usd=1_000)
    vault, timelock = vv.vault, vv.mv.timelock
    assert vault.read("hasRole", b"\0" * 32, timelock.address) is True
    assert vault.read("hasRole", b"\0" * 32, vv.mv.deployer) is False
    r = chain.execute_one(vault.call(STRANGER, "depositMargin", usd(1)))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = chain.execute_one(vault.call(STRANGER, "setSpotAmm", 1, vv.mv.amms[1].address))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    ok([chain.execute_one(vault.call(MANAGER, "depositMargin", usd(100)))])
    assert vv.mv.venue.collateral_now(vault.address) == 100 * WAD
