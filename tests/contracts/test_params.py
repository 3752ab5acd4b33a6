"""Venue parameters: validation names the field; presets load, deploy, and read back."""

from __future__ import annotations

import pytest
from perp_helpers import TEST_PARAMS, WAD
from pydantic import ValidationError

from simulator.protocol import deploy_venue, load_preset, preset_names
from simulator.protocol.params import ParamsError, parse_params


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
        {
            "notional_floor_usd": 1e6,
            "initial_margin_fraction": 0.1,
            "maintenance_margin_fraction": 0.05,
        }
    )
    with pytest.raises(ParamsError, match=r"margin_tiers\[1\]\.notional_floor_usd must increase"):
        parse_params(data)


def test_parameters_are_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        TEST_PARAMS.market.max_leverage = 5  # type: ignore[misc]


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ParamsError, match="known: dydx-like"):
        load_preset("ftx-like")


@pytest.mark.parametrize("name", ["hyperliquid-like", "dydx-like", "gmx-like"])
def test_each_preset_deploys_and_reads_back_its_parameters(chain, venue, name):
    params = load_preset(name)
    v = deploy_venue(chain, params)
    assert v.market.parameters_now() == params.market.to_chain()
    assert v.market.margin_tiers_now() == params.market.tiers_to_chain()
    assert chain.read_one(v.market.index_price()) == int(params.oracle.initial_price_usd) * WAD
    assert chain.read_one(v.insurance_fund.balance()) == int(
        params.buffers.insurance_fund_usd * 10**6
    )
    expected_vault = (
        v.backstop_vault.address if params.buffers.backstop_enabled else "0x" + "0" * 40
    )
    assert v.market.read("backstopVault") == expected_vault
    assert set(v.addresses()) >= {
        "market",
        "oracle",
        "amm",
        "insurance_fund",
        "backstop_vault",
        "timelock",
    }
    for address in v.addresses().values():
        assert len(chain.get_code(address)) > 0
