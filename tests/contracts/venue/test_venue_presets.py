"""Venue parameter presets: validation names the field (pure Python); every shipped preset
deploys its whole market table and reads back each market's parameters and tiers (ported from
the single-market suite's test_params.py; PORTING.md maps each test).
"""

from __future__ import annotations

import pytest
from perp_helpers import TEST_PARAMS, UNIT
from pydantic import ValidationError

from simulator.protocol import load_preset, preset_names
from simulator.protocol.contracts import ZERO_ADDRESS
from simulator.protocol.params import ControllerParams, ParamsError, parse_params
from simulator.protocol.venue_deploy import deploy_multi_venue
from simulator.protocol.venue_params import load_venue_preset
from simulator.units import to_wad


def preset_data(name: str) -> dict:
    return load_preset(name).model_dump(mode="json")


def test_the_three_presets_ship():
    assert {"hyperliquid-like", "dydx-like", "gmx-like"} <= set(preset_names())


def test_maintenance_margin_must_be_below_initial_margin():
    data = preset_data("hyperliquid-like")
    data["market"]["maintenance_margin_fraction"] = 0.03  # 1/40 = 0.025
    with pytest.raises(
        ParamsError, match=r"market: .*maintenance_margin_fraction must be below 1/max_leverage"
    ):
        parse_params(data)


def test_an_out_of_range_value_names_its_field():
    data = preset_data("dydx-like")
    data["market"]["max_leverage"] = 0
    with pytest.raises(
        ParamsError, match=r"market\.max_leverage: Input should be greater than or equal to 1"
    ):
        parse_params(data)


def test_an_unknown_key_is_an_error_naming_the_key():
    data = preset_data("gmx-like")
    data["market"]["max_levrage"] = 10
    with pytest.raises(ParamsError, match=r"market\.max_levrage: Extra inputs are not permitted"):
        parse_params(data)


def test_margin_tiers_must_increase():
    data = preset_data("hyperliquid-like")
    data["market"]["margin_tiers"].append(
        {"notional_floor_usd": 1e6, "initial_margin_fraction": 0.1,
         "maintenance_margin_fraction": 0.05}
    )  # fmt: skip
    with pytest.raises(ParamsError, match=r"margin_tiers\[1\]\.notional_floor_usd must increase"):
        parse_params(data)


def test_parameters_are_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        TEST_PARAMS.market.max_leverage = 5  # type: ignore[misc]


def test_controller_parameters_bound_the_skew_sample_age_by_the_averaging_time():
    with pytest.raises(ValidationError, match="max_skew_sample_age_s must be <= skew_averaging_s"):
        ControllerParams(skew_averaging_s=60, max_skew_sample_age_s=61)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ParamsError, match="known: dydx-like"):
        load_preset("ftx-like")


@pytest.mark.parametrize("name", ["hyperliquid-like", "dydx-like", "gmx-like"])
def test_each_preset_deploys_its_whole_table_and_reads_back_every_market(chain, name):
    params = load_venue_preset(name)
    with chain.isolate():
        mv = deploy_multi_venue(
            chain, params, with_backstop_vault=params.buffers.backstop_enabled, deploy_unwired=True
        )
        v = mv.venue
        assert list(mv.ids) == params.symbols
        for symbol, market in mv.ids.items():
            spec = params.market(symbol)
            assert v.parameters_now(market) == spec.params.to_chain(), symbol
            assert v.margin_tiers_now(market) == [tuple(t) for t in spec.params.tiers_to_chain()]
            assert v.market_now(market)["indexPrice"] == to_wad(spec.oracle.initial_price_usd)
        fund_units = chain.read_one(mv.fund.balance())
        assert fund_units * UNIT == to_wad(params.buffers.insurance_fund_usd)
        assert mv.vault is not None and mv.margin_controller is not None
        expected_vault = mv.vault.address if params.buffers.backstop_enabled else ZERO_ADDRESS
        assert v.read("backstopVault") == expected_vault
        assert mv.controller_wired is load_preset(name).controller.enabled
        for address in mv.addresses().values():
            assert len(chain.get_code(address)) > 0
