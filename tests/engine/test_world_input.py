"""Bad input of the scenario's ``world:`` section: one ``error: ...`` line naming the key, exit
code 2, and no run folder."""

from __future__ import annotations

import copy

import pytest
import yaml
from world_helpers import SMALL_WORLD, assert_run_refused

from simulator.scenario import ScenarioError, load_scenario


def _world(**changes):
    """SMALL_WORLD with dotted ``changes`` (``a.b=value``; value ``DELETE`` removes the key)."""
    w = copy.deepcopy(SMALL_WORLD)
    for key, value in changes.items():
        *path, last = key.split("__")
        node = w
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value == "DELETE":
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return w


BAD = [
    # a cross-holding naming a protocol that does not exist
    (
        _world(cross_holdings__0={"holder": "lending_pool", "issuer": "moon_vault"}),
        {"controls.backstop_vault_usd": 500_000},
        ["world.cross_holdings[0].issuer", "'moon_vault' is not a protocol"],
    ),
    # a protocol that is not deployed: no backstop vault in the scenario
    (
        _world(),
        {"controls.backstop_vault_usd": 0},
        [
            "world.cross_holdings[0].issuer",
            "'backstop_vault' is not deployed",
            "controls.backstop_vault_usd",
        ],
    ),  # fmt: skip
    # a negative supply
    (
        _world(lending_pool__supply_usd=-5),
        {"controls.backstop_vault_usd": 500_000},
        ["world.lending_pool.supply_usd must be > 0 (got -5)"],
    ),
    # the synthetic dollar hedging in a market the venue does not list
    (
        _world(synthetic_dollar__market="XRP"),
        {"controls.backstop_vault_usd": 500_000},
        ["world.synthetic_dollar.market", "'XRP' is not a market"],
    ),
    # a protocol collateral listed without its cross-holding
    (
        _world(cross_holdings=[{"holder": "lending_pool", "issuer": "backstop_vault"}]),
        {"controls.backstop_vault_usd": 500_000},
        ["world.lending_pool.collateral.synthetic_dollar", "declare it in world.cross_holdings"],
    ),
    # a borrower collateral that is not listed
    (
        _world(lending_pool__borrowers__collateral_weights={"ETH": 1}),
        {"controls.backstop_vault_usd": 500_000},
        ["collateral_weights.ETH", "not a listed collateral"],
    ),
    # a world that deploys nothing
    (
        {"cross_holdings": []},
        {"controls.backstop_vault_usd": 500_000},
        ["world: deploys nothing"],
    ),
    # a liquidation threshold under the collateral factor
    (
        _world(
            lending_pool__collateral__BTC={
                "collateral_factor_bps": 8000,
                "liquidation_threshold_bps": 7000,
            }
        ),
        {"controls.backstop_vault_usd": 500_000},
        ["liquidation_threshold_bps (7000) must be >= collateral_factor_bps (8000)"],
    ),  # fmt: skip
]


def _scenario_file(tmp_path, world, controls):
    data = yaml.safe_load(load_scenario("oct-2025").to_yaml())
    data["markets"] = [{"symbol": "BTC"}]
    data["traders"]["market_weights"] = None
    data["traders"]["markets_per_account"] = {1: 1.0}
    data["price_path"]["shocks"] = [{"step": 5, "fall_fraction": 0.1, "over_steps": 5}]
    data["price_path"]["factor"] = {"vol_per_year": 0.3}
    data.pop("outside_market", None)
    data.pop("order_flow", None)
    data.pop("mm_vault", None)
    for key, value in controls.items():
        data["controls"][key.split(".")[1]] = value
    data["world"] = world
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(("world", "controls", "needles"), BAD)
def test_bad_world_is_one_line_exit_2_and_no_folder(tmp_path, world, controls, needles):
    path = _scenario_file(tmp_path, world, controls)
    out = tmp_path / "run"
    assert_run_refused(path, out, needles)


def test_the_good_world_file_loads(tmp_path):
    """The file the bad cases start from is valid: each case fails on its own change."""
    path = _scenario_file(tmp_path, _world(), {"controls.backstop_vault_usd": 500_000})
    s = load_scenario(path)
    assert s.world.lending_pool.supply_usd == 3_000_000
    with pytest.raises(ScenarioError):
        load_scenario(_scenario_file(tmp_path, _world(), {"controls.backstop_vault_usd": 0}))
