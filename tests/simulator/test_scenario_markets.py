"""Multi-market scenarios: venue + markets, the one-market shorthand, per-market overrides and
--set keys, factor and multi-column CSV paths, the population's market keys, explicit books of
several positions per account replayed against the venue's cross-margin rule, and each bad
input as one line naming it (also through ``perpsim run FILE``: exit 2, no folder)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from simulator.errors import PerpsimError
from simulator.protocol.venue_params import MultiVenueParams
from simulator.scenario import (
    ExplicitBook,
    ScenarioError,
    book_accounts,
    control_set,
    load_scenario,
    parse_scenario,
)

#: Two markets on a factor model: BTC at 100 USD, ETH at 10 USD (easy margin arithmetic).
TWO: dict = {
    "name": "two",
    "seed": 5,
    "steps": 30,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [
        {"symbol": "BTC", "path": {"start_price_usd": 100.0, "beta": 1.0, "vol_per_year": 0.6}},
        {"symbol": "ETH", "path": {"start_price_usd": 10.0, "beta": 1.2, "vol_per_year": 0.8}},
    ],
    "traders": {"kind": "random", "count": 40},
    "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.5}},
}


@pytest.fixture
def two() -> dict:
    return copy.deepcopy(TWO)


def error_of(data) -> str:
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(data)
    message = str(excinfo.value)
    assert "\n" not in message and isinstance(excinfo.value, PerpsimError)
    return message


# -- schema ------------------------------------------------------------------------------------


def test_markets_give_symbols_start_prices_and_one_venue_market_each(two):
    scenario = parse_scenario(two)
    assert scenario.symbols == ["BTC", "ETH"]
    assert scenario.start_prices_usd().tolist() == [100.0, 10.0]
    venue = scenario.venue_params()
    assert isinstance(venue, MultiVenueParams)
    assert venue.symbols == ["BTC", "ETH"]
    assert [m.initial_price_usd for m in venue.markets] == [100.0, 10.0]
    # each market's parameters are the preset's table entry: BTC 40x, ETH 25x
    assert [m.params.max_leverage for m in venue.markets] == [40, 25]


def test_a_start_price_left_out_is_the_presets_price_of_the_symbol(two):
    del two["markets"][1]["path"]
    scenario = parse_scenario(two)
    assert scenario.start_prices_usd().tolist() == [100.0, 4300.0]  # hyperliquid-like ETH table
    assert scenario.factor_model().assets[1].beta == 0.0


def test_each_market_amm_falls_back_to_the_scenario_amm_key_by_key(two):
    two["amm"] = {"liquidity_usd": 7e6}
    two["markets"][1]["amm"] = {"liquidity_usd": 2e6}
    scenario = parse_scenario(two)
    assert scenario.market_amm("BTC").model_dump() == {"liquidity_usd": 7e6}
    assert scenario.market_amm(1).model_dump() == {"liquidity_usd": 2e6}
    assert [m.amm_depth_usd for m in scenario.venue_params().markets] == [7e6, 2e6]


def test_per_market_overrides_and_venue_wide_controls(two):
    two["markets"][1]["overrides"] = {"max_leverage": 10, "maintenance_margin_fraction": 0.05}
    two["controls"] = {"leverage_cap": 20, "oi_cap_usd": 1000, "adl_policy": "contracts_queue",
                       "adl_price_mode": "previous_mark", "circuit_breaker_max_move_bps": 300}  # fmt: skip
    btc, eth = parse_scenario(two).venue_params().markets
    assert (btc.params.max_leverage, eth.params.max_leverage) == (20, 10)  # cap, own override
    # the OI cap is per market, in its base units at its start price
    assert (btc.params.max_long_open_interest, eth.params.max_short_open_interest) == (10, 100)
    for market in (btc, eth):
        assert market.params.adl_policy == "contracts_queue"
        assert market.params.adl_price_mode == "previous_mark"
        assert market.params.circuit_breaker_band_bps == 300
    two["markets"][1]["overrides"]["adl_policy"] = "pro_rata"  # a market's own policy wins
    assert parse_scenario(two).venue_params().markets[1].params.adl_policy == "pro_rata"


def test_the_old_queue_policy_name_is_the_profit_queue(two):
    two["controls"] = {"adl_policy": "queue"}
    scenario = parse_scenario(two)
    assert scenario.controls.adl_policy == "profit_queue"
    assert {m.params.adl_policy for m in scenario.venue_params().markets} == {"profit_queue"}


def test_the_one_market_shorthand_becomes_venue_and_markets(minimal):
    minimal["market"] = {"preset": "dydx-like", "symbol": "ETH", "overrides": {"max_leverage": 5}}
    scenario = parse_scenario(minimal)
    assert scenario.venue.preset == "dydx-like"
    assert [(m.symbol, m.overrides) for m in scenario.markets] == [("ETH", {"max_leverage": 5})]
    assert "market" not in scenario.to_dict()
    minimal["market"] = {}
    assert parse_scenario(minimal).symbols == ["BTC"]  # the documented default


def test_market_and_markets_together_are_refused(minimal):
    minimal["market"] = {"preset": "dydx-like"}
    minimal["markets"] = [{"symbol": "BTC"}]
    assert "market: is the one-market shorthand of venue: + markets:" in error_of(minimal)


def test_fingerprint_covers_every_market(two):
    base = parse_scenario(two).fingerprint()
    changed = copy.deepcopy(two)
    changed["markets"][1]["overrides"] = {"taker_fee_bps": 6}
    assert parse_scenario(changed).fingerprint() != base
    changed = copy.deepcopy(two)
    changed["markets"][1]["path"]["beta"] = 1.1
    assert parse_scenario(changed).fingerprint() != base
    changed = copy.deepcopy(two)
    changed["markets"][1]["amm"] = {"liquidity_usd": 1e6}
    assert parse_scenario(changed).fingerprint() != base


# -- --set keys by symbol ------------------------------------------------------------------------


def test_set_keys_name_a_market_by_symbol(write, two):
    path = write("two.yaml", yaml.safe_dump(two))
    scenario = load_scenario(path, ["markets.ETH.overrides.max_leverage=12",
                                    "markets.BTC.amm.liquidity_usd=3e6"])  # fmt: skip
    venue = scenario.venue_params()
    assert venue.markets[1].params.max_leverage == 12
    assert venue.markets[0].amm_depth_usd == 3e6
    assert "markets.ETH.overrides.max_leverage=12" in scenario.description


def test_set_keys_reach_the_markets_of_a_shorthand_file(write, minimal):
    minimal["market"] = {"overrides": {"max_leverage": 30}}
    path = write("short.yaml", yaml.safe_dump(minimal))
    scenario = load_scenario(path, ["markets.BTC.overrides.taker_fee_bps=7"])
    assert scenario.markets[0].overrides == {"max_leverage": 30, "taker_fee_bps": 7}


def test_set_key_with_an_unknown_symbol_is_one_line(write, two):
    path = write("two.yaml", yaml.safe_dump(two))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path, ["markets.SOL.overrides.max_leverage=5"])
    assert str(excinfo.value) == (
        "override markets.SOL.overrides.max_leverage: markets has no item with symbol SOL "
        "(symbols: BTC, ETH)"
    )


# -- bad input, one line naming it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["markets"].append({"symbol": "AVAX"}),
         "markets[2].symbol: unknown market symbol 'AVAX': venue preset hyperliquid-like has no "
         "table entry for it (its markets: BTC, ETH, SOL, DOGE, ALT, XRP)"),
        (lambda d: d["markets"].append({"symbol": "BTC"}),
         "markets[2].symbol: market BTC is listed twice (also markets[0])"),
        (lambda d: d["markets"][1].update(overrides={"max_leverge": 3}),
         "markets[1].overrides.max_leverge: unknown market parameter"),
        (lambda d: d["markets"][1].update(overrides={"max_leverage": 0.5}),
         "markets[1].overrides.max_leverage: must be >= 1"),
        (lambda d: d["markets"][1]["path"].update(beta=3.0),
         "price_path (factor model): markets[1].path.beta: asset ETH: beta 3 is out of range: "
         "|beta| × factor vol_per_year 0.5 = 1.5 exceeds the asset's vol_per_year 0.8"),
        (lambda d: d["markets"][1]["path"].update(beta=11.0, vol_per_year=50),
         "beta 11 is out of range (|beta| <= 10)"),
        (lambda d: d["price_path"].update(idiosyncratic_correlations=[
            {"assets": ["BTC", "ETH"], "correlation": 1.5}]),
         "price_path.idiosyncratic_correlations[0].correlation must be between -1 and 1"),
        (lambda d: d["price_path"].update(idiosyncratic_correlations=[
            {"assets": ["BTC", "SOL"], "correlation": 0.5}]),
         "idiosyncratic_correlations: unknown asset SOL"),
        (lambda d: d["price_path"].update(shocks=[{"step": 3, "fall_fraction": {"SOL": 0.2}}]),
         "shocks[0]: unknown asset SOL (assets: BTC, ETH)"),
        (lambda d: d["markets"][0]["path"].update(shocks=[{"step": 30, "fall_fraction": 0.1}]),
         "markets[0].path.shocks[0].step (30) must be below steps (30)"),
        (lambda d: d.update(oracle_faults=[{"kind": "stale", "start_step": 2, "end_step": 4,
                                            "market": "SOL"}]),
         "oracle_faults[0].market: SOL is not a market of this scenario (markets: BTC, ETH)"),
        (lambda d: d["controls"].update(governance_change={"step": 3, "parameter": "max_leverage",
                                                           "value": 5, "market": "SOL"}),
         "controls.governance_change.market: SOL is not a market of this scenario"),
        (lambda d: d["traders"].update(market_weights={"BTC": 1, "SOL": 1}),
         "traders.market_weights.SOL: SOL is not a market of this scenario (markets: BTC, ETH)"),
        (lambda d: d["traders"].update(markets_per_account={3: 1.0}),
         "traders.markets_per_account: accounts holding 3 markets need 3 markets with a positive "
         "weight; the scenario has 2 (BTC, ETH)"),
        (lambda d: d["traders"].update(markets_per_account={9: 1.0}),
         "9 markets per account is outside 1..8"),
        (lambda d: d.update(price_path={"kind": "gbm", "start_price_usd": 100}),
         "price_path: kind gbm gives one market's prices, but the scenario lists 2 markets "
         "(BTC, ETH); use kind: factor"),
        (lambda d: d["markets"].append({"symbol": "ALL"}),
         "'ALL' names the venue-total rows"),
    ],
)  # fmt: skip
def test_bad_multi_market_input_is_one_line_naming_it(two, change, needle):
    two.setdefault("controls", {})
    change(two)
    assert needle in error_of(two)


def test_path_parameters_belong_to_a_factor_model(minimal):
    minimal["markets"] = [{"symbol": "BTC", "path": {"beta": 1.0}}]
    assert "markets[0].path: path parameters belong to price_path kind: factor" in error_of(minimal)


def test_guardian_change_of_every_market_must_tighten_each(two):
    two["controls"] = {"governance_change": {"step": 2, "parameter": "max_leverage", "value": 30,
                                             "path": "guardian"}}  # fmt: skip
    message = error_of(two)  # tighter than BTC's 40x, looser than ETH's 25x
    assert "the guardian may only tighten; max_leverage 30 is looser than ETH's 25" in message
    two["controls"]["governance_change"]["market"] = "BTC"
    assert parse_scenario(two).controls.governance_change.market == "BTC"


# -- multi-column CSV --------------------------------------------------------------------------


def csv_text(columns: str, rows: int, step: int = 60) -> str:
    cells = len(columns.split(",")) - 1
    return f"{columns}\n" + "".join(
        f"{step * k}," + ",".join(str(100 + k + 10 * c) for c in range(cells)) + "\n"
        for k in range(rows)
    )


def test_multi_column_csv_gives_every_markets_start_and_notes(two, write):
    path = write("p.csv", csv_text("timestamp,eth,BTC,volume", 31))
    two["price_path"] = {"kind": "csv", "path": str(path)}
    for market in two["markets"]:
        del market["path"]
    scenario = parse_scenario(two)
    assert scenario.start_prices_usd().tolist() == [110.0, 100.0]  # BTC, ETH by column name
    assert any("columns volume" in note for note in scenario.input_notes())
    data = copy.deepcopy(two)
    data["steps"] = 31
    assert "covers 1,800 s" in error_of(data)


def test_csv_replay_missing_an_assets_column_is_one_line(two, write):
    path = write("p.csv", csv_text("timestamp,BTC", 31))
    two["price_path"] = {"kind": "csv", "path": str(path)}
    for market in two["markets"]:
        del market["path"]
    assert f"price_path.path: {path}:1: no column for asset ETH (header: timestamp,BTC)" in (
        error_of(two)
    )


def test_a_one_market_csv_may_name_its_column_by_symbol(minimal, write):
    path = write("p.csv", csv_text("timestamp,BTC", 21))
    minimal["price_path"] = {"kind": "csv", "path": str(path)}
    assert parse_scenario(minimal).start_prices_usd().tolist() == [100.0]


# -- control sets --------------------------------------------------------------------------------


def test_control_sets_on_a_multi_market_scenario():
    base = load_scenario("oct-2025")
    change = control_set(base, "governance_guardian").controls.governance_change
    assert (change.market, change.step, change.value) == ("BTC", 600, 10)
    one = control_set(load_scenario("calm"), "governance_timelock").controls.governance_change
    assert one.market is None and one.step == 720  # no shock: half the run
    capped = control_set(base, "leverage_cap").venue_params()
    assert [m.params.max_leverage for m in capped.markets] == [10, 10, 10, 10, 3]
    assert control_set(base, "adl_contracts_queue").controls.adl_policy == "contracts_queue"


# -- explicit books: accounts, markets, cross margin ---------------------------------------------


def book(*positions) -> dict:
    return {"kind": "explicit", "positions": list(positions)}


def pos(side, collateral, size, market, account=None, isolated=False) -> dict:
    return {"side": side, "collateral_usd": collateral, "size_base": size, "market": market,
            "account": account, "isolated": isolated}  # fmt: skip


# BTC at 100 (40x: IM 2.5 per unit, fee 0.05), ETH at 10 (25x: IM 4 per 10 units, fee 0.05):
# a cross account long 1 BTC and short 10 ETH needs 6.5 of initial margin + 0.10 of fees + the
# skew impact (about 0.00014) = 6.60014 USD of deposit, however it is split between the rows.


@pytest.mark.parametrize("split", [(3.0, 3.61), (0.5, 6.11), (6.1, 0.51)])
def test_a_cross_account_needs_the_initial_margin_of_all_its_positions(two, split):
    two["traders"] = book(pos("long", split[0], 1, "BTC", "a"),
                          pos("short", split[1], 10, "ETH", "a"))  # fmt: skip
    scenario = parse_scenario(two)
    assert isinstance(scenario.traders, ExplicitBook)


def test_a_cross_account_just_short_of_it_is_refused_naming_its_positions(two):
    two["traders"] = book(pos("long", 3.0, 1, "BTC", "a"), pos("short", 3.6, 10, "ETH", "a"))
    message = error_of(two)
    assert message.startswith("scenario: traders.positions[1]: short 10 ETH (base units) at 10 USD")
    assert "the account's cross positions (BTC long 1, ETH short 10) need 6.5 USD of initial " in (
        message
    )
    assert "its cross equity is 6.5 USD (deposit 6.6 USD" in message


def test_isolated_positions_carry_their_own_margin(two):
    # the same rows isolated: ETH's 3.61 does not cover its own 4 USD
    two["traders"] = book(pos("long", 3.0, 1, "BTC", "a", True),
                          pos("short", 3.61, 10, "ETH", "a", True))  # fmt: skip
    message = error_of(two)
    assert message.startswith("scenario: traders.positions[1]: short 10 ETH")
    assert "is 27.7x leverage" in message
    assert "ETH's maximum at this notional is 25x (initial margin 4 USD" in message
    # an isolated position is unaffected by its account's cross positions: a cross BTC long
    # that the isolated ETH's margin could not help, refused on its own
    two["traders"] = book(pos("short", 4.1, 10, "ETH", "a", True), pos("long", 2.5, 1, "BTC", "a"))
    assert "traders.positions[1]: long 1 BTC" in error_of(two)
    two["traders"] = book(pos("short", 4.1, 10, "ETH", "a", True), pos("long", 2.6, 1, "BTC", "a"))
    assert parse_scenario(two).traders.positions[0].isolated


def test_positions_without_an_account_each_have_their_own(two):
    # each row alone: 2.6 covers BTC (2.5 + fee), 3.6 does not cover ETH's 4
    two["traders"] = book(pos("long", 2.6, 1, "BTC"), pos("short", 4.1, 10, "ETH"))
    parse_scenario(two)
    two["traders"] = book(pos("long", 2.6, 1, "BTC"), pos("short", 3.6, 10, "ETH"))
    assert "traders.positions[1]: short 10 ETH" in error_of(two)


@pytest.mark.parametrize(
    ("positions", "needle"),
    [
        ([pos("long", 10, 1, "SOL")],
         "traders.positions[0].market: SOL is not a market of this scenario (markets: BTC, ETH)"),
        ([pos("long", 10, 1, None)],
         "traders.positions[0].market: required when the scenario lists several markets"),
        ([pos("long", 10, 1, "BTC", 7), pos("long", 10, 1, "BTC", "7")],
         "traders.positions[1]: account 7 already holds a position in BTC (traders.positions[0])"),
    ],
)  # fmt: skip
def test_bad_explicit_positions_are_named(two, positions, needle):
    two["traders"] = book(*positions)
    assert needle in error_of(two)


def test_an_account_over_the_venues_position_bound_is_refused():
    symbols = [f"M{i}" for i in range(9)]
    spec = ExplicitBook.model_validate(book(*(pos("long", 10, 1, s, "x") for s in symbols)))
    with pytest.raises(ValueError, match=r"traders.positions\[8\]: account x holds 9 positions, "
                       r"over the venue's bound of 8 per account"):  # fmt: skip
        book_accounts(spec, symbols)
    accounts, markets = book_accounts(ExplicitBook.model_validate(book(
        *(pos("long", 10, 1, s, "x") for s in symbols[:8]), pos("long", 1, 1, "M0"))), symbols)  # fmt: skip
    assert accounts == [0] * 8 + [1] and markets == [*range(8), 0]


def test_explicit_book_csv_has_account_market_and_isolated_columns(two, write):
    path = write("book.csv", "side,collateral_usd,size_base,account,market,isolated\n"
                 "long,3,1,a,btc,\nshort,3.61,10,a,ETH,false\nlong,5,1,b,BTC,true\n")  # fmt: skip
    two["traders"] = {"kind": "explicit", "csv": str(path)}
    from simulator.population import book_from_explicit

    scenario = parse_scenario(two)
    traders = book_from_explicit(scenario.traders, scenario.start_prices_usd(), scenario.symbols)
    assert traders.account.tolist() == [0, 0, 1]
    assert traders.market.tolist() == [0, 1, 0]
    assert traders.isolated.tolist() == [False, False, True]
    assert traders.leverage.tolist() == pytest.approx([100 / 3, 100 / 3.61, 20])
    path.write_text("side,collateral_usd,size_base,isolated\nlong,3,1,maybe\n")
    with pytest.raises(ScenarioError, match=r"book.csv:2: isolated must be true or false"):
        parse_scenario(two)


# -- the command line: exit 2, one line, no folder ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["markets"].append({"symbol": "AVAX"}), "unknown market symbol 'AVAX'"),
        (lambda d: d["markets"].append({"symbol": "ETH"}), "market ETH is listed twice"),
        (lambda d: d["markets"][0]["path"].update(beta=2.0), "beta 2 is out of range"),
        (lambda d: d.update(traders=book(pos("long", 10, 1, "SOL"))),
         "SOL is not a market of this scenario"),
    ],
)  # fmt: skip
def test_perpsim_run_refuses_bad_multi_market_input_without_a_folder(
    tmp_path, monkeypatch, two, change, needle
):
    from simulator.cli import main

    change(two)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(two))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = CliRunner(mix_stderr=False).invoke(
        main, ["run", "bad.yaml", "--out", "runs/x"], prog_name="perpsim"
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: scenario bad.yaml: ") and needle in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_oct_2025_population_reads_the_markets_of_the_scenario():
    from simulator.population import draw_population

    scenario = load_scenario("oct-2025", ["traders.count=300"])
    limits = [m.params.max_leverage for m in scenario.venue_params().markets]
    a = draw_population(scenario.traders, scenario.start_prices_usd(), limits,
                        scenario.random_streams().population, scenario.symbols)  # fmt: skip
    b = draw_population(scenario.traders, scenario.start_prices_usd(), limits,
                        scenario.random_streams().population, scenario.symbols)  # fmt: skip
    assert a.equals(b) and a.n_accounts == 300
    assert np.all(a.leverage <= np.asarray(limits)[a.market])


def test_the_readmes_multi_market_example_is_a_valid_scenario():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### The scenario schema", 1)[1]
    text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(yaml.safe_load(text))
    assert scenario.symbols == ["BTC", "ETH"]
    assert scenario.start_prices_usd().tolist() == [120_000.0, 4_000.0]
    assert [m.params.max_leverage for m in scenario.venue_params().markets] == [40, 20]


def test_set_keys_reach_the_numbered_keys_of_markets_per_account():
    scenario = load_scenario("oct-2025", ["traders.markets_per_account.2=0.3"])
    assert scenario.traders.markets_per_account[2] == 0.3
    again = scenario.with_overrides(["traders.markets_per_account[5]=0"])  # after a JSON dump
    assert again.traders.markets_per_account == {1: 0.55, 2: 0.3, 3: 0.15, 4: 0.06, 5: 0.0}
    with pytest.raises(ScenarioError, match="controls is a mapping, not a list"):
        load_scenario("oct-2025", ["controls[0]=1"])


def test_an_error_in_a_symbol_keyed_override_does_not_point_at_the_file(write, two):
    path = write("two.yaml", yaml.safe_dump(two, sort_keys=False))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path, ["markets.ETH.path.beta=abc"])
    assert str(excinfo.value).startswith(f"scenario {path}: markets[1].path.beta: Input should be")
    two["markets"][1]["path"]["beta"] = "abc"  # the same key from the file names its line
    bad = write("bad.yaml", yaml.safe_dump(two, sort_keys=False))
    line = bad.read_text().splitlines().index("    beta: abc") + 1
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(bad)
    assert f": line {line}: markets[1].path.beta: Input should be" in str(excinfo.value)
