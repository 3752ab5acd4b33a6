"""Scenario models, presets, loading, overrides and every bad-input path (one-line errors)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from simulator.errors import PerpsimError
from simulator.scenario import (
    CsvPath,
    ExplicitBook,
    GbmPath,
    RandomPopulation,
    Scenario,
    ScenarioError,
    apply_overrides,
    available_presets,
    load_scenario,
    parse_scenario,
    path_seeds,
    random_streams,
    read_positions_csv,
    read_price_csv,
)


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert isinstance(excinfo.value, PerpsimError)
    return message


# -- presets ---------------------------------------------------------------------------------


def test_presets_ship_oct_2025_calm_and_short_squeeze():
    assert {"oct-2025", "calm", "short-squeeze"} <= set(available_presets())


@pytest.mark.parametrize("name", ["oct-2025", "calm", "short-squeeze"])
def test_every_preset_loads_and_round_trips_through_yaml(name, tmp_path):
    scenario = load_scenario(name)
    assert scenario.name == name
    copy = tmp_path / "copy.yaml"
    copy.write_text(scenario.to_yaml())
    again = load_scenario(copy)
    assert again == scenario
    assert again.fingerprint() == scenario.fingerprint()


def test_oct_2025_is_a_five_market_october_with_2000_accounts_and_1440_one_minute_steps():
    scenario = load_scenario("oct-2025")
    traders = scenario.traders
    assert isinstance(traders, RandomPopulation)
    assert traders.count == 2000 and scenario.steps == 1440 and scenario.step_seconds == 60
    assert scenario.symbols == ["BTC", "ETH", "SOL", "DOGE", "ALT"]
    assert traders.long_share >= 0.7
    # a share of cross accounts holds several assets
    assert traders.isolated_share < 0.5
    assert sum(w for k, w in traders.markets_per_account.items() if k > 1) > 0.2
    # leverage limits per asset are the venue preset's table: BTC 40x, ETH 25x, SOL 20x, alts 3-10x
    venue = scenario.venue_params()
    assert [m.params.max_leverage for m in venue.markets] == [40, 25, 20, 10, 3]
    assert all(not m.overrides for m in scenario.markets)
    # the October moves within 45 minutes at step ~600: BTC -12%, ETH -16%, SOL -31%, alts -70..-90%
    fm = scenario.factor_model()
    depth = {}
    for symbol in scenario.symbols:
        (shock,) = fm.shocks_of(symbol)
        assert 500 <= shock.step <= 700
        assert shock.over_steps * scenario.step_seconds <= 45 * 60
        assert 0 < shock.recovery_fraction < 1
        depth[symbol] = shock.fall_fraction
    assert (depth["BTC"], depth["ETH"], depth["SOL"]) == (0.12, 0.16, 0.31)
    assert 0.7 <= depth["DOGE"] <= 0.9 and 0.7 <= depth["ALT"] <= 0.9


def test_short_squeeze_crowds_shorts_and_rises():
    scenario = load_scenario("short-squeeze")
    assert scenario.traders.long_share < 0.5
    assert scenario.price_path.shocks[0].fall_fraction < 0


# -- fields, defaults, immutability ----------------------------------------------------------


def test_minimal_scenario_fills_defaults(minimal):
    scenario = parse_scenario(minimal)
    assert scenario.step_seconds == 60
    assert scenario.venue.preset == "hyperliquid-like"
    assert scenario.symbols == ["BTC"]  # the default one-market venue
    assert scenario.controls.feedback is True
    assert scenario.controls.adl_policy == "profit_queue"  # the old `queue`
    assert scenario.oracle_faults == []


def test_scenario_is_frozen(minimal):
    scenario = parse_scenario(minimal)
    with pytest.raises(Exception, match="frozen"):
        scenario.steps = 5
    with pytest.raises(Exception, match="frozen"):
        scenario.controls.feedback = False


def test_every_field_has_a_docstring():
    from pydantic import BaseModel

    import simulator.scenario.models as module
    import simulator.scenario.paths as paths

    models = [
        m
        for mod in (module, paths)
        for m in vars(mod).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == mod.__name__
    ]
    assert len(models) > 25
    for model in models:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no docstring"


def test_market_overrides_keep_their_types(minimal):
    given = {
        "max_leverage": 30,
        "maintenance_margin_fraction": 0.01,
        "full_liquidation_after_cooldown": False,
        "funding_model": "velocity",
    }
    minimal["markets"] = [{"symbol": "BTC", "overrides": dict(given)}]
    overrides = parse_scenario(minimal).markets[0].overrides
    assert overrides == given
    assert type(overrides["max_leverage"]) is int
    assert type(overrides["full_liquidation_after_cooldown"]) is bool


def test_governance_change_validates(minimal):
    minimal["controls"] = {
        "governance_change": {"step": 5, "parameter": "max_leverage", "value": 10}
    }
    change = parse_scenario(minimal).controls.governance_change
    assert change.path == "timelock" and change.value == 10


# -- fingerprint -----------------------------------------------------------------------------


def test_fingerprint_is_stable_and_ignores_name_and_description(minimal):
    a = parse_scenario(minimal)
    b = parse_scenario({**minimal, "name": "other", "description": "text"})
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    assert a.fingerprint() != parse_scenario({**minimal, "seed": 4}).fingerprint()
    assert hash(a) == hash(b)


def test_fingerprint_hashes_csv_contents_not_paths(minimal, write):
    p1 = write("a/prices.csv", "timestamp,price\n0,100\n60,101\n")
    p2 = write("b/prices.csv", "timestamp,price\n0,100\n60,101\n")
    p3 = write("c/prices.csv", "timestamp,price\n0,100\n60,102\n")
    fp = [
        parse_scenario(
            {**minimal, "price_path": {"kind": "csv", "path": str(p), "hold_last": True}}
        ).fingerprint()
        for p in (p1, p2, p3)
    ]
    assert fp[0] == fp[1] != fp[2]


# -- overrides -------------------------------------------------------------------------------


def test_overrides_parse_yaml_scalars_and_dotted_keys():
    scenario = load_scenario(
        "oct-2025",
        ["controls.adl_policy=pro_rata", "traders.count=200", "steps=100",
         "controls.leverage_cap=null", "controls.feedback=false",
         "price_path.shocks.0.step=50", "price_path.shocks[1].step=60",
         "markets.DOGE.path.shocks=[{step: 70, fall_fraction: 0.2}]",
         "markets[0].overrides.max_leverage=30"],
    )  # fmt: skip
    assert scenario.controls.adl_policy == "pro_rata"
    assert scenario.traders.count == 200
    assert scenario.steps == 100
    assert scenario.controls.feedback is False
    assert [shock.step for shock in scenario.price_path.shocks] == [50, 60]
    assert scenario.markets[3].path.shocks[0].step == 70
    assert scenario.venue_params().markets[0].params.max_leverage == 30


def test_overrides_create_missing_intermediate_mappings(minimal):
    data = apply_overrides(minimal, ["controls.governance_change.step=3"])
    assert data["controls"]["governance_change"] == {"step": 3}
    assert "controls" not in minimal  # the input is not modified


def test_with_overrides_returns_a_validated_variant(minimal):
    base = parse_scenario(minimal)
    variant = base.with_overrides({"controls.insurance_fund_usd": 5e6}, seed=9)
    assert variant.controls.insurance_fund_usd == 5e6 and variant.seed == 9
    assert base.controls.insurance_fund_usd != 5e6
    with pytest.raises(ScenarioError, match="traders.count"):
        base.with_overrides(["traders.count=0"])


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("nonsense", "must look like key=value"),
        ("=3", "must look like key=value"),
        ("a..b=1", "empty part"),
        ("steps.x=1", "steps is a value"),
        ("price_path.shocks.5.step=1", "not an index"),
        ("controls.adl_policy=[unclosed", "cannot parse value"),
    ],
)
def test_malformed_overrides_are_one_line_errors(override, needle):
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("oct-2025", [override])
    assert needle in one_line_error(excinfo)


# -- bad input: validation errors name the key -----------------------------------------------


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("traders.long_share=1.5", "traders.long_share must be between 0 and 1 (got 1.5)"),
        (
            "controls.adl_policy=fifo",
            "controls.adl_policy: Input should be 'none', 'contracts_queue'",
        ),
        ("controls.adl_polcy=queue", "controls.adl_polcy: unknown key (allowed: adl_policy"),
        ("colour=red", "colour: unknown key"),
        ("steps=0", "steps must be between 1 and"),
        ("seed=-1", "seed must be >= 0"),
        ("controls.insurance_fund_usd=-5", "controls.insurance_fund_usd must be >= 0"),
        ("controls.leverage_cap=0", "controls.leverage_cap must be > 0"),
        ("traders.kind=crowd", "traders.kind must be one of: random, explicit"),
        ("traders.leverage.min=80", "traders.leverage: min (80.0) must not exceed max"),
        ("price_path.shocks.0.fall_fraction.BTC=1.2", "price_path.shocks[0].fall_fraction"),
        (
            "markets.DOGE.path.shocks=[{step: 5, fall_fraction: 1.2}]",
            "markets[3].path.shocks[0].fall_fraction must be",
        ),
        ("price_path.shocks.0.step=5000", "price_path.shocks[0].step (5000) must be below"),
        ("traders.behaviour.weights.yolo=1", "traders.behaviour.weights.yolo: unknown key"),
        ("amm.liquidity_usd=abc", "amm.liquidity_usd: Input should be a valid number"),
        (
            "controls.insurance_fund_usd=.inf",
            "controls.insurance_fund_usd: Input should be a finite",
        ),
        (
            "price_path.factor.vol_per_year=.nan",
            "price_path.factor.vol_per_year: Input should be a finite",
        ),
        ("keepers.count=-2", "keepers.count must be between 0 and"),
        ("lps.withdraw_on_drawdown=1", "lps.withdraw_on_drawdown must be > 0 and < 1"),
        (
            "controls.governance_change={step: 99999, parameter: x, value: 1}",
            "controls.governance_change.step (99999) must be below steps",
        ),
    ],
)
def test_bad_values_name_the_key(override, needle):
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("oct-2025", [override])
    message = one_line_error(excinfo)
    assert message.startswith("scenario oct-2025: ")
    assert needle in message


def test_missing_required_keys_are_named(minimal):
    del minimal["price_path"]
    with pytest.raises(ScenarioError, match="price_path: required key is missing"):
        parse_scenario(minimal)
    minimal["price_path"] = {"start_price_usd": 1}
    with pytest.raises(ScenarioError, match=r"price_path.kind is required \(one of: gbm"):
        parse_scenario(minimal)


def test_many_errors_are_summarized_on_one_line(minimal):
    minimal.update(steps=0, seed=-1, step_seconds=0)
    minimal["traders"]["count"] = 0
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(minimal)
    assert "and 1 more" in one_line_error(excinfo)


def test_list_path_shorter_than_steps_names_the_key(minimal):
    minimal["price_path"] = {"kind": "list", "prices_usd": [1.0, 2.0, 3.0]}
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(minimal)
    message = one_line_error(excinfo)
    assert "price_path.prices_usd has 3 prices but steps=20 needs at least 21" in message


def test_list_path_prices_must_be_positive(minimal):
    minimal["price_path"] = {"kind": "list", "prices_usd": [1.0] * 20 + [-1.0]}
    with pytest.raises(ScenarioError, match=r"price_path.prices_usd\[20\] must be > 0"):
        parse_scenario(minimal)


def test_explicit_book_needs_exactly_one_source(minimal, write):
    minimal["traders"] = {"kind": "explicit"}
    with pytest.raises(ScenarioError, match="traders: give exactly one of positions or csv"):
        parse_scenario(minimal)
    minimal["traders"] = {
        "kind": "explicit",
        "positions": [{"side": "long", "collateral_usd": 1, "size_base": 1}],
        "csv": "x.csv",
    }
    with pytest.raises(ScenarioError, match="exactly one"):
        parse_scenario(minimal)


def test_explicit_position_errors_name_the_row(minimal):
    minimal["traders"] = {
        "kind": "explicit",
        "positions": [
            {"side": "long", "collateral_usd": 100, "size_base": 1},
            {"side": "sideways", "collateral_usd": 100, "size_base": 1},
        ],
    }
    with pytest.raises(ScenarioError, match=r"traders.positions\[1\].side: Input should be"):
        parse_scenario(minimal)


def test_oracle_fault_errors_name_the_fault(minimal):
    minimal["oracle_faults"] = [
        {"kind": "lag", "steps": 2},
        {"kind": "stale", "start_step": 5, "end_step": 5},
    ]
    with pytest.raises(ScenarioError, match=r"oracle_faults\[1\]: end_step must be greater"):
        parse_scenario(minimal)
    minimal["oracle_faults"] = [{"kind": "glitch"}]
    with pytest.raises(ScenarioError, match=r"oracle_faults\[0\].kind must be one of: lag"):
        parse_scenario(minimal)


# -- bad input: files ------------------------------------------------------------------------


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("oct-2024")
    message = one_line_error(excinfo)
    assert "unknown scenario preset 'oct-2024'" in message
    assert "calm, oct-2025, oct-2025-world, oct-2025-world2, short-squeeze" in message


def test_missing_scenario_file_names_the_path(tmp_path):
    with pytest.raises(ScenarioError, match="scenario file not found: .*nope.yaml"):
        load_scenario(tmp_path / "nope.yaml")


def test_malformed_yaml_names_the_file_and_line(write):
    path = write("bad.yaml", "name: x\nsteps: 10\ntraders: [unclosed\nseed: 1\n")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = one_line_error(excinfo)
    assert str(path) in message and "malformed YAML at line" in message


def test_malformed_yaml_reports_the_right_line(write):
    path = write("bad.yaml", "name: x\nsteps: 10\ntraders:\n  kind: random\n   count: 3\n")
    with pytest.raises(ScenarioError, match="line 5"):
        load_scenario(path)


def test_duplicate_yaml_keys_are_errors(write):
    path = write("dup.yaml", "name: x\nsteps: 10\nsteps: 20\n")
    with pytest.raises(ScenarioError, match="line 3, column 1: duplicate key 'steps'"):
        load_scenario(path)


def test_top_level_must_be_a_mapping(write):
    with pytest.raises(ScenarioError, match="top level must be a mapping"):
        load_scenario(write("list.yaml", "- 1\n- 2\n"))


def test_unknown_key_in_a_file_is_named(write, minimal):
    minimal["keepers"] = {"count": 2, "speed": 3}
    path = write("s.yaml", yaml.safe_dump(minimal))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    assert f"scenario {path}: line 3: keepers.speed: unknown key" in one_line_error(excinfo)


def test_csv_paths_are_relative_to_the_scenario_file(write, minimal):
    write("data/prices.csv", "timestamp,price\n0,100\n60,101\n")
    minimal["price_path"] = {"kind": "csv", "path": "data/prices.csv", "hold_last": True}
    path = write("s.yaml", yaml.safe_dump(minimal))
    scenario = load_scenario(path)
    assert isinstance(scenario.price_path, CsvPath)
    assert scenario.price_path.path == path.parent / "data" / "prices.csv"


def test_missing_price_csv_names_the_path(write, minimal):
    minimal["price_path"] = {"kind": "csv", "path": "missing.csv"}
    path = write("s.yaml", yaml.safe_dump(minimal))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    assert f"CSV file not found: {path.parent / 'missing.csv'}" in one_line_error(excinfo)


def test_missing_positions_csv_names_the_path(write, minimal):
    minimal["traders"] = {"kind": "explicit", "csv": "book.csv"}
    path = write("s.yaml", yaml.safe_dump(minimal))
    with pytest.raises(ScenarioError, match="CSV file not found: .*book.csv"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("timestamp,price\n0,100\n60,abc\n", ":3: price must be a number (got 'abc')"),
        ("timestamp,price\n0,100\n60,-1\n", ":3: price must be a positive number"),
        ("timestamp,price\n0,100\n\n120,1,2\n", ":4: expected 2 fields, got 3"),
        ("timestamp,price\n0,100\n0,101\n", ":3: timestamps must be strictly increasing"),
        ("timestamp,price\nyesterday,100\n", ":2: timestamp must be UNIX seconds or ISO 8601"),
        ("time,price\n0,100\n", ":1: header must be timestamp,price (got time,price)"),
        ("timestamp,price\n", "no price rows"),
        ("", "empty CSV file"),
    ],
)
def test_malformed_price_csv_names_the_file_and_line(write, text, needle):
    path = write("prices.csv", text)
    with pytest.raises(ScenarioError) as excinfo:
        read_price_csv(path)
    message = one_line_error(excinfo)
    assert str(path) in message and needle in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("side,collateral_usd,size_base\nlong,100,1\nup,100,1\n", ":3: side must be long or"),
        ("side,collateral_usd,size_base\nlong,0,1\n", ":2: collateral_usd must be a positive"),
        ("side,collateral_usd,size_base\nlong,100,nan\n", ":2: size_base must be a positive"),
        ("side,collateral_usd,size_base,behaviour\nlong,1,1,yolo\n", ":2: behaviour must be"),
        ("side,collateral_usd\nlong,100\n", ":1: header must be side,collateral_usd,size_base"),
    ],
)
def test_malformed_positions_csv_names_the_file_and_line(write, text, needle):
    path = write("book.csv", text)
    with pytest.raises(ScenarioError) as excinfo:
        read_positions_csv(path)
    message = one_line_error(excinfo)
    assert str(path) in message and needle in message


def test_malformed_csv_fails_at_load_time(write, minimal):
    write("book.csv", "side,collateral_usd,size_base\nlong,100,1\nshort,x,1\n")
    minimal["traders"] = {"kind": "explicit", "csv": "book.csv"}
    path = write("s.yaml", yaml.safe_dump(minimal))
    with pytest.raises(ScenarioError, match=r"book.csv:3: collateral_usd must be a number"):
        load_scenario(path)


def test_positions_csv_reads_rows_with_optional_behaviour(write):
    path = write(
        "book.csv",
        "Side,collateral_usd,size_base,behaviour\nlong,100,2,panic\nSHORT,50,1.5,\n",
    )
    positions = read_positions_csv(path)
    assert [(p.side, p.collateral_usd, p.size_base, p.behaviour) for p in positions] == [
        ("long", 100.0, 2.0, "panic"),
        ("short", 50.0, 1.5, None),
    ]


def test_price_csv_accepts_iso_timestamps(write):
    path = write(
        "p.csv", "timestamp,price\n2025-10-10T21:00:00Z,100\n2025-10-10T21:01:00+00:00,99\n"
    )
    times, prices = read_price_csv(path)
    assert times[1] - times[0] == 60 and prices.tolist() == [100.0, 99.0]


def test_explicit_book_from_csv_loads(write, minimal):
    write("book.csv", "side,collateral_usd,size_base\nlong,100,1\n")
    minimal["traders"] = {"kind": "explicit", "csv": "book.csv"}
    scenario = load_scenario(write("s.yaml", yaml.safe_dump(minimal)))
    assert isinstance(scenario.traders, ExplicitBook)
    assert len(scenario.traders.load_positions()) == 1


# -- randomness ------------------------------------------------------------------------------


def test_random_streams_are_deterministic_and_independent():
    a, b = random_streams(11), random_streams(11)
    assert np.array_equal(a.price.random(5), b.price.random(5))
    c = random_streams(11)
    assert not np.array_equal(c.price.random(5), c.population.random(5))
    assert not np.array_equal(
        random_streams(12).price.random(5), random_streams(11).price.random(5)
    )


def test_path_seeds_are_deterministic_distinct_and_json_safe():
    seeds = path_seeds(5, 50)
    assert seeds == path_seeds(5, 50)
    assert len(set(seeds)) == 50
    assert all(0 <= s < 2**53 for s in seeds)
    assert path_seeds(5, 3) == seeds[:3]
    with pytest.raises(ScenarioError):
        path_seeds(5, 0)


def test_gbm_defaults_are_valid():
    """A GBM path and a scenario given only their required keys get the documented defaults,
    and the default GBM draws a usable path: positive prices from the start price."""
    from simulator.pricepaths import exogenous_prices

    gbm = GbmPath(kind="gbm", start_price_usd=100.0)
    assert (gbm.drift_per_year, gbm.vol_per_year) == (0.0, 0.6)
    assert (gbm.jump_intensity_per_day, gbm.jump_mean, gbm.jump_std, gbm.shocks) == (0, 0, 0, [])
    sc = Scenario.model_validate(
        {"name": "x", "steps": 1440, "traders": {"kind": "random", "count": 1},
         "price_path": {"kind": "gbm", "start_price_usd": 100.0}}
    )  # fmt: skip
    assert (sc.seed, sc.step_seconds) == (0, 60)
    assert (sc.venue.preset, sc.symbols, sc.markets[0].overrides) == (
        "hyperliquid-like",
        ["BTC"],
        {},
    )
    assert sc.controls.adl_policy == "profit_queue" and sc.controls.feedback is True
    assert sc.controls.insurance_fund_usd == 1_000_000 and sc.controls.backstop_vault_usd == 0
    prices = exogenous_prices(sc.price_path, sc.steps, sc.step_seconds, sc.random_streams().price)
    assert prices.shape == (1441,) and prices[0] == 100.0 and (prices > 0).all()
    # 60% a year over one day: the day's log return has a standard deviation of 0.6·√(1/365)
    # ≈ 3.1%; a path that did not move, or moved by orders of magnitude more, has wrong defaults
    assert 0 < abs(np.log(prices[-1] / prices[0])) < 10 * 0.6 * (1 / 365) ** 0.5


@pytest.mark.parametrize("name", ["oct-2025", "calm", "short-squeeze"])
def test_preset_market_overrides_are_valid_venue_parameters(name):
    scenario = load_scenario(name)
    venue = scenario.venue_params()
    assert venue.symbols == scenario.symbols
    if isinstance(scenario.traders, RandomPopulation):
        # traders may ask for more than a market allows (the draw caps them per market), but
        # never more than the venue's most permissive market
        assert scenario.traders.leverage.max <= max(m.params.max_leverage for m in venue.markets)


def test_every_control_set_gives_a_valid_variant():
    from simulator.scenario import CONTROL_SETS, DEFAULT_CONTROL_SETS, control_set

    base = load_scenario("oct-2025")
    assert set(DEFAULT_CONTROL_SETS) <= set(CONTROL_SETS)
    variants = {name: control_set(base, name) for name in CONTROL_SETS}
    assert variants["baseline"] == base
    assert variants["leverage_cap"].controls.leverage_cap == 10
    assert (
        variants["insurance_x10"].controls.insurance_fund_usd
        == 10 * base.controls.insurance_fund_usd
    )
    change = variants["governance_timelock"].controls.governance_change
    assert (change.step, change.path) == (base.price_path.shocks[0].step, "timelock")
    assert len({v.fingerprint() for v in variants.values()}) == len(CONTROL_SETS) - 1  # adl_queue
    with pytest.raises(ScenarioError, match="unknown control set 'x'; known: baseline"):
        control_set(base, "x")


def test_validation_errors_from_a_file_name_the_line_of_the_key(write):
    path = write(
        "s.yaml",
        "name: x\nsteps: 10\ntraders:\n  kind: random\n  count: 5\n  long_share: 2\n"
        "price_path:\n  kind: gbm\n  start_price_usd: 1\n  shocks:\n    - step: 1\n"
        "      fall_fraction: 3\n",
    )
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = one_line_error(excinfo)
    assert "line 6: traders.long_share must be between 0 and 1" in message
    assert "line 12: price_path.shocks[0].fall_fraction must be" in message


def test_errors_in_overridden_keys_do_not_point_at_the_file():
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario("oct-2025", ["traders.long_share=3"])
    assert "scenario oct-2025: traders.long_share must be" in one_line_error(excinfo)


# -- venue parameters and explicit books, checked at load -------------------------------------


@pytest.mark.parametrize(
    ("market", "controls", "needle"),
    [
        ({"preset": "nope"}, {}, "venue.preset: unknown venue preset 'nope'"),
        ({"overrides": {"max_leverge": 10}}, {}, "markets[0].overrides.max_leverge: unknown market"),
        ({"overrides": {"taker_fee_bps": 5000}}, {}, "markets[0].overrides.taker_fee_bps: must be <= 1000"),
        ({"overrides": {"maintenance_margin_fraction": 0.2}}, {},
         "markets[0].overrides.maintenance_margin_fraction: maintenance_margin_fraction must be below"),
        ({}, {"leverage_cap": 0.5}, "controls.leverage_cap: must be >= 1"),
        ({}, {"governance_change": {"step": 1, "parameter": "margin_tiers", "value": 1}},
         "controls.governance_change.parameter: unknown market parameter 'margin_tiers'"),
        ({}, {"governance_change": {"step": 1, "parameter": "skew_scale", "value": -1}},
         "controls.governance_change.value: skew_scale=-1: must be >= 0"),
        ({}, {"governance_change": {"step": 1, "parameter": "max_leverage", "value": 60,
                                    "path": "guardian"}}, "may only tighten"),
    ],
)  # fmt: skip
def test_venue_problems_are_scenario_errors_naming_the_key(minimal, market, controls, needle):
    minimal["market"] = market  # the one-market shorthand: venue.preset + markets[0]
    minimal["controls"] = controls
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(minimal)
    assert needle in one_line_error(excinfo)


def test_venue_params_apply_the_controls(minimal):
    minimal["controls"] = {"leverage_cap": 10, "oi_cap_usd": 5_000, "circuit_breaker_max_move_bps": 50,
                           "adl_policy": "pro_rata", "insurance_fund_usd": 7, "dynamic_margin": True}  # fmt: skip
    venue = parse_scenario(minimal).venue_params()
    (btc,) = venue.markets
    market = btc.params
    assert market.max_leverage == 10
    assert all(t.initial_margin_fraction >= 0.1 for t in market.margin_tiers)
    assert market.max_long_open_interest == market.max_short_open_interest == 50.0
    assert market.circuit_breaker_band_bps == 50
    assert market.adl_policy == "pro_rata"
    assert venue.buffers.insurance_fund_usd == 7
    assert btc.oracle.initial_price_usd == 100.0


def test_explicit_book_leverage_is_checked_with_fee_and_impact(minimal):
    # hyperliquid-like at 100: 1 unit needs 2.5 (40x) + 0.05 fee + 0.0001 skew impact.
    minimal["traders"] = {"kind": "explicit", "positions": [
        {"side": "short", "collateral_usd": 10, "size_base": 1},
        {"side": "long", "collateral_usd": 2.5, "size_base": 1}]}  # fmt: skip
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(minimal)
    text = one_line_error(excinfo)
    assert text.startswith("scenario: traders.positions[1]: long 1 BTC (base units) at 100 USD")
    assert "is 40x leverage; BTC's maximum at this notional is 40x" in text
    assert "taker fee 0.05 USD" in text
    minimal["traders"]["positions"][1]["collateral_usd"] = 2.6
    assert parse_scenario(minimal).traders.positions[1].collateral_usd == 2.6


def test_explicit_book_amounts_that_round_to_nothing_are_refused(minimal):
    minimal["traders"] = {"kind": "explicit", "positions": [
        {"side": "long", "collateral_usd": 1e-7, "size_base": 1e-9}]}  # fmt: skip
    with pytest.raises(ScenarioError, match="collateral_usd rounds to 0 at 6 decimals"):
        parse_scenario(minimal)


def test_csv_path_fields_are_validated(minimal, write):
    path = write("p.csv", "timestamp,price\n" + "".join(f"{60 * k},100\n" for k in range(21)))
    minimal["price_path"] = {"kind": "csv", "path": str(path), "aggregate": "median"}
    with pytest.raises(ScenarioError, match="price_path.aggregate"):
        parse_scenario(minimal)
    minimal["price_path"]["aggregate"] = "max"
    scenario = parse_scenario(minimal)
    assert scenario.price_path.aggregate == "max" and scenario.start_prices_usd().tolist() == [
        100.0
    ]
    minimal["steps"] = 21
    with pytest.raises(ScenarioError, match=r"price_path.path: .*covers 1,200 s.*needs 1,260 s"):
        parse_scenario(minimal)
