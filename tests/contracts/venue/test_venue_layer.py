"""The venue's Python layer against the chain, on both backends: validation parity with
``VenueParams.sol`` (Python refuses exactly what the contract refuses, naming the same field),
the venue's bounds as Python constants, and ``deploy_multi_venue`` of a preset."""

from __future__ import annotations

from typing import Any

import pytest
from venue_helpers import BASE_PARAMS

from simulator.protocol.contracts import ZERO_ADDRESS
from simulator.protocol.venue_contracts import symbol_str
from simulator.protocol.venue_deploy import deploy_multi_venue
from simulator.protocol.venue_params import (
    MAX_MARKETS,
    MAX_POSITIONS_PER_ACCOUNT,
    VenueMarginTierParams,
    VenueMarketParams,
    chain_params_rejection,
    load_venue_preset,
)
from simulator.units import to_units, to_wad

U128 = (2**128 - 1) / 10**18  # the contract's uint128 bound, in natural units (rounded)

#: (field, value) pairs at and just past each rule of VenueParams.validate, in natural units,
#: applied to the 20x test market (MM 2.5%).
CASES: list[tuple[str, Any]] = [
    ("max_leverage", 1),
    ("max_leverage", 0.999999),
    ("max_leverage", 1000),
    ("max_leverage", 1000.000001),
    ("maintenance_margin_fraction", 0.049999999999),
    ("maintenance_margin_fraction", 0.05),  # = 1/max_leverage
    ("maintenance_margin_fraction", 0.000000000000000001),
    ("maintenance_margin_fraction", 0),
    ("oi_imf_upper_cap_usd", 0),
    ("max_long_open_interest", 0.000000000000000001),
    ("max_long_open_interest", 0),
    ("max_long_open_interest", 3.4e20),
    ("max_long_open_interest", 3.403e20),  # above uint128 in WAD
    ("max_short_open_interest", 3.403e20),
    ("skew_scale", 3.4e20),
    ("skew_scale", 3.403e20),
    ("taker_fee_bps", 1000),
    ("taker_fee_bps", 1001),
    ("insurance_fee_share_bps", 10_000),
    ("insurance_fee_share_bps", 10_001),
    ("premium_clamp_8h", 1),
    ("premium_clamp_8h", 1.0000001),
    ("premium_interest_rate_8h", 1.0000001),
    ("max_funding_velocity", 100),
    ("max_funding_velocity", 100.0000001),
    ("max_funding_rate_per_hour", 1.0000001),
    ("liquidation_penalty_bps", 10_001),
    ("keeper_share_bps", 10_000),
    ("keeper_share_bps", 10_001),
    ("partial_liquidation_share_bps", 0),
    ("partial_liquidation_share_bps", 10_001),
    ("liquidation_cooldown_s", 86_400),
    ("liquidation_cooldown_s", 86_401),
    ("max_liquidation_impact_bps", 5_000),
    ("max_liquidation_impact_bps", 5_001),
    ("backstop_fraction", 1),
    ("backstop_fraction", 1.0000001),
    ("max_adl_accounts_per_call", 100),
    ("max_adl_accounts_per_call", 101),
    ("max_adl_accounts_per_call", 0),
    ("circuit_breaker_band_bps", 10_000),
    ("circuit_breaker_band_bps", 10_001),
    ("circuit_breaker_window_s", 0),  # with a band set below
]

#: Multi-field cases (the OI-scaled IMF caps, the breaker window with a band on).
PAIRS: list[dict[str, Any]] = [
    {"oi_imf_lower_cap_usd": 100, "oi_imf_upper_cap_usd": 100},
    {"oi_imf_lower_cap_usd": 100, "oi_imf_upper_cap_usd": 100.000001},
    {"circuit_breaker_band_bps": 500, "circuit_breaker_window_s": 0},
    {"circuit_breaker_band_bps": 500, "circuit_breaker_window_s": 1},
]


def _tier(floor: float, imf: float, mmf: float) -> VenueMarginTierParams:
    return VenueMarginTierParams.model_construct(
        notional_floor_usd=floor, initial_margin_fraction=imf, maintenance_margin_fraction=mmf
    )


#: Tier lists at and past each rule of VenueParams.validateTiers.
TIERS: list[tuple[VenueMarginTierParams, ...]] = [
    (_tier(1e6, 0.05, 0),),  # MMF 0 < IMF: accepted by the contract
    (_tier(1e6, 0.05, 0.05),),  # MMF = IMF
    (_tier(1e6, 1, 0.5),),
    (_tier(1e6, 1.000001, 0.5),),
    (_tier(1e6, 0.1, 0.05), _tier(1e6, 0.2, 0.1)),  # floors not increasing
    (_tier(1e6, 0.1, 0.05), _tier(2e6, 0.09, 0.05)),  # IMF decreasing
    (_tier(1e6, 0.1, 0.05), _tier(2e6, 0.2, 0.04)),  # MMF decreasing
    (_tier(3.4e20, 0.1, 0.05),),
    (_tier(3.403e20, 0.1, 0.05),),  # floor above uint128
    tuple(_tier(1e6 * (i + 1), 0.1, 0.05) for i in range(8)),
    tuple(_tier(1e6 * (i + 1), 0.1, 0.05) for i in range(9)),  # more than MAX_TIERS
]


def _variants() -> list[tuple[str, dict[str, Any]]]:
    out = [(f"{f}={v}", {f: v}) for f, v in CASES]
    out += [(repr(p), p) for p in PAIRS]
    out += [(f"tiers#{i}", {"margin_tiers": t}) for i, t in enumerate(TIERS)]
    return out


def _python_refuses(changes: dict[str, Any]) -> bool:
    data = {**BASE_PARAMS.model_dump(), **changes}
    if "margin_tiers" in changes:
        data["margin_tiers"] = [t.__dict__ for t in changes["margin_tiers"]]
    try:
        VenueMarketParams.model_validate(data)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return True
    return False


def test_python_refuses_exactly_what_the_contract_refuses(mv):
    """Every boundary case goes to the chain (setMarketParameters / setMarginTiers through the
    timelock) and to the Python model: both accept or both refuse; and the Python
    mirror of the rules names the field the contract's revert names."""
    v, timelock = mv.venue, mv.timelock.address
    variants = _variants()
    calls, expected = [], []
    for _, changes in variants:
        unchecked = BASE_PARAMS.model_copy(update=changes)  # no validation: any value converts
        if "margin_tiers" in changes:
            calls.append(v.set_margin_tiers(timelock, 1, unchecked.tiers_to_chain()))
        else:
            calls.append(v.set_market_parameters(timelock, 1, unchecked.to_chain()))
        expected.append(chain_params_rejection(unchecked.to_chain(), unchecked.tiers_to_chain()))
    assert len({c.data for c in calls}) == len(calls)  # one timelock operation each
    results = mv.govern_many(calls)  # scheduled in one block, executed in one block
    refused_some = accepted_some = False
    for (label, changes), r, mirror in zip(variants, results, expected, strict=True):
        chain_refused = not r.ok
        if chain_refused:
            assert r.error.name == "InvalidParameter", (label, r.error)
            name = r.error.args["name"].rstrip(b"\0").decode()
            assert mirror is not None and mirror[0] == name, (label, name, mirror)
        else:
            assert mirror is None, (label, mirror)
        assert _python_refuses(changes) == chain_refused, (label, chain_refused)
        refused_some |= chain_refused
        accepted_some |= not chain_refused
    assert refused_some and accepted_some


def test_python_bounds_equal_the_deployed_venue(mv):
    assert mv.venue.read("maxMarkets") == MAX_MARKETS
    assert mv.venue.read("maxPositionsPerAccount") == MAX_POSITIONS_PER_ACCOUNT


def test_deploy_multi_venue_lists_every_market_in_four_round_trips(chain, mv):
    params = load_venue_preset("hyperliquid-like", ["BTC", "ETH", "SOL", "DOGE", "ALT"])
    executes = 0
    execute = chain.execute

    def counting(*args, **kwargs):
        nonlocal executes
        executes += 1
        return execute(*args, **kwargs)

    chain.execute = counting
    try:
        d = deploy_multi_venue(chain, params)
    finally:
        del chain.execute
    assert executes == 4  # one per phase, whatever the number of markets
    v = d.venue
    assert v.read("marketCount") == 5
    assert d.ids == {"BTC": 1, "ETH": 2, "SOL": 3, "DOGE": 4, "ALT": 5}
    for market in params.markets:
        mid = d.ids[market.symbol]
        assert v.parameters_now(mid) == market.params.to_chain()
        assert v.margin_tiers_now(mid) == market.params.tiers_to_chain()
        state = v.market_now(mid)
        assert symbol_str(state["symbol"]) == market.symbol
        assert state["oracle"] == d.oracles[mid].address
        assert state["indexPrice"] == to_wad(market.initial_price_usd)
        collateral_units, base_wad = chain.read_one(d.amms[mid].reserves())
        assert collateral_units == to_units(market.amm_depth_usd)
        assert base_wad * market.initial_price_usd == pytest.approx(
            market.amm_depth_usd * 10**18, rel=1e-12
        )
    # Roles and buffers: the timelock governs, the keeper may ADL, the fund and pool are seeded.
    assert chain.read_one(v.has_role(v.role("GOVERNOR_ROLE"), d.timelock.address))
    assert not chain.read_one(v.has_role(v.role("GOVERNOR_ROLE"), d.deployer))
    assert chain.read_one(v.has_role(v.role("ADL_KEEPER_ROLE"), d.adl_keeper))
    assert chain.read_one(v.has_role(v.role("GUARDIAN_ROLE"), d.guardian))
    assert v.read("backstopVault") == ZERO_ADDRESS
    assert chain.read_one(d.fund.balance()) == to_units(params.buffers.insurance_fund_usd)
    assert v.accounting_now()["poolSeeded"] == to_units(params.buffers.pool_seed_usd) * 10**12


def test_deploy_without_keeper_or_guardian_grants_neither(chain, mv):
    base = load_venue_preset("gmx-like", ["BTC"])
    params = base.model_copy(
        update={
            "buffers": base.buffers.model_copy(update={"adl_keeper_enabled": False}),
            "governance": base.governance.model_copy(update={"guardian_enabled": False}),
        }
    )
    d = deploy_multi_venue(chain, params)
    v = d.venue
    assert not chain.read_one(v.has_role(v.role("ADL_KEEPER_ROLE"), d.adl_keeper))
    assert not chain.read_one(v.has_role(v.role("GUARDIAN_ROLE"), d.guardian))
