"""Inputs mean what they say: the venue and an explicit book are checked when a scenario is
loaded (before any run folder exists), positions.parquet records what the chain holds, a CSV
path covers the run or says how it is held and aggregated, and start_price is the configured
start."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from engine_helpers import small_oct

from simulator.chain.connect import open_chain
from simulator.engine import Engine
from simulator.protocol.params import WAD, to_units, to_wad
from simulator.protocol.venue_deploy import deploy_multi_venue
from simulator.results import RunReader, market_steps
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config, run_scenario
from simulator.scenario import (
    Controls,
    ExplicitBook,
    Scenario,
    ScenarioError,
    check_explicit_book,
    load_scenario,
    parse_scenario,
)
from simulator.world import WorldError, agent_addresses, build_world

START = 100_000.0


def book_scenario(positions: list[dict], steps: int = 4, **extra) -> dict:
    """An explicit book on the hyperliquid-like venue (40x, tiers above 150M USD), a flat
    price, nobody acting: what opens is what stays."""
    return {
        "name": "book",
        "seed": 1,
        "steps": steps,
        "controls": {"feedback": False},
        "traders": {"kind": "explicit", "positions": positions},
        "price_path": {"kind": "list", "prices_usd": [START] * (steps + 1)},
        "keepers": {"count": 1},
        "arbitrageurs": {"count": 1},
        **extra,
    }


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


def assert_refused(proc: subprocess.CompletedProcess, out: Path, *needles: str) -> str:
    """One ``error:`` line naming every needle, exit 2, and no run folder."""
    assert proc.returncode == 2, proc.stderr
    assert not out.exists(), f"{out} was created"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- explicit books refused at load ----------------------------------------------------------


def test_explicit_book_over_max_leverage_is_refused_at_load_with_the_row_and_limit(
    perpsim_cmd, tmp_path
):
    # Before: written to positions.parquet as a 10,000x open position while the chain held a
    # 38x one (the world shrank it silently to 0.95 x max leverage).
    scenario = write_yaml(
        tmp_path / "book.yaml",
        book_scenario(
            [
                {"side": "short", "collateral_usd": 10_000, "size_base": 1.0},
                {"side": "long", "collateral_usd": 1_000, "size_base": 100.0},
            ]
        ),
    )
    out = tmp_path / "run"
    proc = run_cli(perpsim_cmd, "run", str(scenario), "--out", str(out), "--progress", "none")
    assert_refused(proc, out, "traders.positions[1]", "10,000x leverage", "maximum", "40x")


def test_explicit_book_csv_row_is_named_by_its_line(tmp_path):
    (tmp_path / "book.csv").write_text(
        "side,collateral_usd,size_base\nlong,5000,1\nshort,5000,1\nlong,100,1\n"
    )
    data = book_scenario([])
    data["traders"] = {"kind": "explicit", "csv": "book.csv"}
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(write_yaml(tmp_path / "s.yaml", data))
    assert f"traders.csv {tmp_path / 'book.csv'}:4" in str(excinfo.value)
    assert "1,000x leverage" in str(excinfo.value)


def test_huge_collateral_over_the_oi_cap_is_refused_at_load(perpsim_cmd, tmp_path):
    # Before: the open reverted (OpenInterestCapExceeded), and positions.parquet said
    # "closed" at step 0 with realized PnL +1e12 (the deposit counted as profit), exit 0.
    scenario = write_yaml(
        tmp_path / "whale.yaml",
        book_scenario([{"side": "long", "collateral_usd": 1e12, "size_base": 200_000}]),
    )
    out = tmp_path / "run"
    proc = run_cli(perpsim_cmd, "run", str(scenario), "--out", str(out), "--progress", "none")
    assert_refused(proc, out, "traders.positions[0]", "open interest", "200,000", "100,000")


def test_oi_cap_control_is_the_limit_named(tmp_path):
    data = book_scenario(
        [
            {"side": "long", "collateral_usd": 1e6, "size_base": 300},
            {"side": "long", "collateral_usd": 1e6, "size_base": 300},
        ]
    )
    data["controls"]["oi_cap_usd"] = 50e6  # 500 base units at 100k
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(data)
    text = str(excinfo.value)
    assert "traders.positions[1]" in text and "600" in text and "controls.oi_cap_usd" in text


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("markets.BTC.overrides.maintenace_margin_fraction=0.02",
         "markets[0].overrides.maintenace_margin"),
        ("markets.BTC.overrides.maintenance_margin_fraction=1.5",
         "markets[0].overrides.maintenance_margin"),
        ("markets.BTC.overrides.maintenance_margin_fraction=0.05", "1/max_leverage"),
        ("markets.BTC.overrides.max_leverage=0.5", "markets[0].overrides.max_leverage"),
        ("markets.ETH.overrides.max_leverage=0.5", "markets[1].overrides.max_leverage"),
        ("venue.preset=binance-like", "venue.preset"),
        ("controls.leverage_cap=0.5", "controls.leverage_cap"),
        ("controls.governance_change={step: 2, parameter: max_leverag, value: 10}",
         "controls.governance_change.parameter"),
        ("controls.governance_change={step: 2, parameter: max_leverage, value: 100, "
         "path: guardian}", "only tighten"),
    ],
)  # fmt: skip
def test_venue_typos_and_out_of_range_values_are_refused_before_any_folder(
    perpsim_cmd, tmp_path, override, needle
):
    # Before: found while the world was built, after the run folder existed.
    out = tmp_path / "run"
    proc = run_cli(
        perpsim_cmd, "run", "oct-2025", "--set", "traders.count=20", "--steps", "5",
        "--set", "price_path.shocks=[]", "--set", override, "--out", str(out),
        "--progress", "none",
    )  # fmt: skip
    assert_refused(proc, out, needle)


def test_venue_errors_come_out_of_load_scenario_naming_the_key():
    with pytest.raises(
        ScenarioError, match=r"markets\[2\]\.overrides\.maintenance_margin_fraction: "
    ):
        load_scenario("oct-2025", ["markets.SOL.overrides.maintenance_margin_fraction=0.05"])
    venue = load_scenario("oct-2025", ["controls.leverage_cap=10"]).venue_params()
    btc = venue.markets[0].params
    # BTC's 40x comes down to 10x; its 1.25% maintenance margin stays (below 1/10 / 2).
    assert btc.max_leverage == 10 and btc.maintenance_margin_fraction == 0.0125
    assert all(t.initial_margin_fraction >= 0.1 for t in btc.margin_tiers)


# -- the load check agrees with the contract ---------------------------------------------------


def _open_on_chain(chain, venue, positions, salt: int) -> list[bool]:
    """Fund fresh accounts and open ``positions`` in order as the world does (one account per
    position, cross, in the venue's one market); which opened."""
    traders = agent_addresses("probe", len(positions), salt)
    chain.set_balance(traders, 10**20)
    v, market = venue.venue, venue.market_ids[0]
    calls = []
    for addr, p in zip(traders, positions, strict=True):
        units = to_units(p["collateral_usd"])
        calls += [
            venue.collateral.mint(venue.deployer, addr, units),
            venue.collateral.approve(addr, v.address, 2**256 - 1),
            v.deposit(addr, units),
        ]
    assert all(r.ok for r in chain.execute(calls))
    sign = {"long": 1, "short": -1}
    trades = [
        v.trade(a, market, sign[p["side"]] * to_wad(round(p["size_base"], 12)))
        for a, p in zip(traders, positions, strict=True)
    ]
    return [r.ok for r in chain.execute(trades)]


@pytest.mark.parametrize("preset", ["hyperliquid-like", "dydx-like"])
def test_the_load_check_accepts_exactly_what_the_contract_opens(preset):
    """Books at the edge of initial margin (fee and skew impact included), across a margin
    tier (hyperliquid-like, 20x above 150M USD) and the OI-scaled IMF (dydx-like, rising
    between 20M and 50M USD of open notional): the load check refuses a book exactly when the
    contract reverts one of its opens, and names that row."""
    if preset == "hyperliquid-like":
        # 1 BTC long: initial margin 2,500 + taker fee 50.00005 + skew impact 0.1 USD.
        edge = [
            [{"side": "long", "collateral_usd": c, "size_base": 1.0}]
            for c in (2_549.0, 2_550.100049, 2_550.10005, 2_551.0)
        ] + [
            # 160M USD short: tier 2 (20x above 150M), fee and a large skew impact.
            [{"side": "short", "collateral_usd": c, "size_base": 1600.0}]
            for c in (4_500_000.0, 4_585_871.999999, 4_585_872.0, 4_600_000.0)
        ]
    else:
        # A 250 BTC long (25M at 100k: open notional inside the IMF ramp), then a 10 BTC one
        # whose initial margin the ramp raises from 50k to 240k USD.
        edge = [
            [{"side": "long", "collateral_usd": c, "size_base": 250.0}]
            for c in (5_252_098.958333, 5_252_098.958334)
        ] + [
            [
                {"side": "long", "collateral_usd": 6_000_000.0, "size_base": 250.0},
                {"side": "long", "collateral_usd": c, "size_base": 10.0},
            ]
            for c in (60_000.0, 243_051.274999, 243_051.275, 250_000.0)
        ]
    base = parse_scenario(
        {**book_scenario([{"side": "long", "collateral_usd": 10_000, "size_base": 1.0}]),
         "market": {"preset": preset}}
    )  # fmt: skip
    params = base.venue_params()
    expected = []
    for book in edge:
        try:
            check_explicit_book(ExplicitBook(kind="explicit", positions=book), params, Controls())
            expected.append(None)
        except ValueError as exc:
            expected.append(str(exc).split(":")[0])
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        venue = deploy_multi_venue(chain, params)
        clean = chain.snapshot()
        got = []
        for n, book in enumerate(edge):
            opened = _open_on_chain(chain, venue, book, n)
            got.append(None if all(opened) else f"traders.positions[{opened.index(False)}]")
            chain.revert(clean)
            clean = chain.snapshot()
    assert got == expected
    assert None in got and any(g is not None for g in got)  # the edge is inside the sweep


# -- positions.parquet is what the chain did --------------------------------------------------


def test_positions_record_what_the_chain_holds_for_an_accepted_book():
    """An explicit book near the limit (39x: the old world opened it at 38x and wrote 39x):
    size, entry, collateral, leverage and liquidation price equal the chain's."""
    positions = [
        {"side": "long", "collateral_usd": 10_000.0, "size_base": 3.9},  # 39x
        {"side": "short", "collateral_usd": 7_500.0, "size_base": 1.25},
        {"side": "long", "collateral_usd": 123_456.78, "size_base": 20.0},
    ]
    scenario = parse_scenario(book_scenario(positions, steps=3))
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world = build_world(chain, scenario)
        v, market = world.venue.venue, world.market_ids[0]
        held = chain.read([v.position_of(a, market) for a in world.accounts])
        cross = chain.read([v.collateral_of(a) for a in world.accounts])
        liq = chain.read([v.liquidation_price(a, market) for a in world.accounts])
        engine = Engine(chain, world)
        engine.run()
        rows = engine.positions()
    fee_bps = world.params.markets[0].params.taker_fee_bps
    for row, given, position, collateral, liq_wad in zip(
        rows, positions, held, cross, liq, strict=True
    ):
        size, entry = abs(position[1]) / WAD, position[2] / WAD
        assert size == pytest.approx(given["size_base"], rel=1e-12)
        assert row["outcome"] == "open"
        assert row["size_base"] == size
        assert row["entry_price_usd"] == entry
        # The venue credited the deposit, then took the taker fee on the fill.
        assert row["collateral_usd"] == pytest.approx(
            collateral / WAD + size * entry * fee_bps / 1e4
        )
        assert row["collateral_usd"] == pytest.approx(given["collateral_usd"], abs=1e-6)
        assert row["leverage"] == pytest.approx(size * entry / row["collateral_usd"])
        assert row["liquidation_price_at_open_usd"] == liq_wad / WAD


def test_a_random_trader_the_venue_refuses_is_recorded_as_refused(tmp_path):
    """Random traders over the OI cap: the chain has no position for them; the record says
    ``refused`` with size 0 and no profit (before: ``closed`` with the deposit as +PnL)."""
    scenario = small_oct(
        steps=3,
        **{"traders.count": 40, "price_path.shocks": [], "controls.oi_cap_usd": 300_000,
           "traders.whales.share": 0,
           # the opening book alone: no order flow or market-making vault adds open interest
           "order_flow": None, "mm_vault.capital_usd": 0, "mm_vault.quoting": False},
    )  # fmt: skip
    start = float(scenario.start_prices_usd()[0])
    result = run_scenario(scenario, tmp_path / "run")
    positions = RunReader(tmp_path / "run").positions
    refused = positions[positions["outcome"] == "refused"]
    opened = positions[positions["outcome"] != "refused"]
    assert len(refused) > 0 and len(opened) > 0
    assert (refused["size_base"] == 0).all() and refused["entry_price_usd"].isna().all()
    assert (refused["outcome_step"] == 0).all()
    assert np.allclose(refused["realized_pnl_usd"], 0.0, atol=1e-9)
    assert (refused["collateral_usd"] > 0).all()
    # What stayed open is within the cap the chain enforced.
    steps = market_steps(result.steps)
    for side in ("long", "short"):
        held = opened.loc[opened["side"] == side, "size_base"].sum() * start
        assert held <= 300_000 * (1 + 1e-9)
        assert steps[f"oi_{side}_usd"].iloc[0] == pytest.approx(
            opened.loc[opened["side"] == side, "size_base"].sum()
            * steps["price_oracle_usd"].iloc[0]
        )


def test_an_unvalidated_explicit_book_the_venue_refuses_stops_the_world():
    """The world refuses to run an explicit book whose open reverts (never silently shrunk or
    dropped); a validated scenario cannot get here."""
    valid = parse_scenario(book_scenario([{"side": "long", "collateral_usd": 5e3, "size_base": 1}]))
    bad_book = ExplicitBook(
        kind="explicit", positions=[{"side": "long", "collateral_usd": 1_000, "size_base": 1.0}]
    )
    bad = valid.model_copy(update={"traders": bad_book})  # no validation
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        with pytest.raises(WorldError, match=r"explicit position 0 .*InsufficientMargin"):
            build_world(chain, bad)


# -- CSV price paths ---------------------------------------------------------------------------


def csv_scenario(tmp_path: Path, rows: list[tuple[float, float]], steps: int, **path) -> Path:
    csv = tmp_path / "prices.csv"
    csv.write_text("timestamp,price\n" + "".join(f"{int(t)},{p!r}\n" for t, p in rows))
    data = book_scenario([{"side": "long", "collateral_usd": 10_000, "size_base": 1.0}], steps)
    data["price_path"] = {"kind": "csv", "path": "prices.csv", **path}
    return write_yaml(tmp_path / "csv.yaml", data)


def test_a_csv_shorter_than_the_run_is_an_error_naming_the_spans(perpsim_cmd, tmp_path):
    # Before: the last price was held silently (a run then reported a price amplification of
    # -0.50 against a fall that the file did not contain).
    rows = [(1_760_054_400 + 60 * k, START - 100 * k) for k in range(11)]  # 600 s of data
    scenario = csv_scenario(tmp_path, rows, steps=20)
    out = tmp_path / "run"
    proc = run_cli(perpsim_cmd, "run", str(scenario), "--out", str(out), "--progress", "none")
    assert_refused(
        proc, out, "prices.csv", "covers 600 s", "11 rows", "needs 1,200 s", "20 steps × 60 s",
        "hold_last",
    )  # fmt: skip


def test_hold_last_runs_and_the_manifest_says_so(tmp_path):
    rows = [(1_760_054_400 + 60 * k, START - 100 * k) for k in range(11)]
    scenario = load_scenario(csv_scenario(tmp_path, rows, steps=20, hold_last=True))
    run_scenario(scenario, tmp_path / "run")
    run = RunReader(tmp_path / "run")
    notes = run.manifest["extra"]["input_notes"]
    assert any("hold_last" in n and "step 10" in n and "10 steps" in n for n in notes), notes
    exo = market_steps(run.steps).set_index("step")["price_exogenous_usd"]
    assert exo.loc[10] == START - 1_000 and (exo.loc[10:] == START - 1_000).all()


@pytest.mark.parametrize("aggregate", ["last", "min"])
def test_one_second_data_is_aggregated_by_the_stated_rule(tmp_path, aggregate):
    """1-second rows under 60-second steps with a 20% spike down inside step 3: ``last``
    steps over it (and the manifest says what the oracle does not see), ``min`` shows it."""
    t0 = 1_760_054_400
    rows = [(t0 + s, START) for s in range(0, 6 * 60 + 1)]
    rows[150] = (t0 + 150, 80_000.0)  # inside step 3: (120 s, 180 s]
    spec = {} if aggregate == "last" else {"aggregate": "min"}
    scenario = load_scenario(csv_scenario(tmp_path, rows, steps=6, **spec))
    run_scenario(scenario, tmp_path / "run")
    run = RunReader(tmp_path / "run")
    exo = market_steps(run.steps).set_index("step")["price_exogenous_usd"]
    notes = run.manifest["extra"]["input_notes"]
    assert any(
        f"361 rows at 1 s aggregated to 6 steps of 60 s by {aggregate}" in n for n in notes
    ), notes
    if aggregate == "last":
        assert (exo == START).all()
        assert any("80,000" in n and "not seen by the oracle" in n for n in notes), notes
    else:
        assert exo.loc[3] == 80_000.0 and (exo.drop(3) == START).all()
        assert run.summary["exogenous_min_price"] == 80_000.0


def test_coarser_csv_data_is_forward_filled_with_a_note(tmp_path):
    t0 = 1_760_054_400
    rows = [(t0 + 300 * k, START - 1_000 * k) for k in range(3)]  # every 5 min, 10 min long
    scenario = load_scenario(csv_scenario(tmp_path, rows, steps=10))
    assert scenario.input_notes() == [
        "price_path: 3 rows at 300 s forward-filled onto 10 steps of 60 s (each price holds "
        "until the next row)"
    ]


# -- start_price is the configured start --------------------------------------------------------


@pytest.mark.parametrize("kind", ["gbm", "csv", "list"])
def test_start_price_is_the_configured_start(tmp_path, kind):
    # Before: step 1's price (100,001.62 for a GBM starting at 100,000; 90,000 for a CSV or
    # list starting at 100,000).
    data = book_scenario([{"side": "long", "collateral_usd": 10_000, "size_base": 1.0}], 5)
    if kind == "gbm":
        data["price_path"] = {"kind": "gbm", "start_price_usd": START, "vol_per_year": 0.8}
    elif kind == "list":
        data["price_path"] = {"kind": "list", "prices_usd": [START, 90e3, 91e3, 92e3, 93e3, 94e3]}
    else:
        (tmp_path / "p.csv").write_text(
            "timestamp,price\n"
            + "".join(f"{60 * k},{START if k == 0 else 90e3}\n" for k in range(6))
        )
        data["price_path"] = {"kind": "csv", "path": str(tmp_path / "p.csv")}
    scenario = parse_scenario(data)
    result = run_scenario(scenario, tmp_path / "run")
    assert result.summary["start_price"] == START
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["start_price"] == START
    # Step 0 is a block of its own: its row holds the start; step 1's is the path's next price.
    exogenous = market_steps(result.steps).set_index("step")["price_exogenous_usd"]
    assert float(exogenous.loc[0]) == START
    assert float(exogenous.loc[1]) != START
    if kind != "gbm":
        low = float(market_steps(result.steps)["price_exogenous_usd"].min())
        seen = float(market_steps(result.steps)["price_oracle_usd"].min())
        assert result.summary["price_amplification"] == pytest.approx(
            (START - seen) / (START - low)
        )
    assert scenario.start_prices_usd().tolist() == [START]


def test_scenario_venue_is_the_worlds_venue():
    scenario = load_scenario("oct-2025", ["controls.oi_cap_usd=50000000"])
    venue = scenario.venue_params()
    starts = scenario.start_prices_usd()
    assert venue.symbols == scenario.symbols
    for market, start in zip(venue.markets, starts, strict=True):
        # $50M per side in each market, in its base units at its start price.
        assert market.params.max_long_open_interest == pytest.approx(50e6 / start)
        assert market.params.max_short_open_interest == pytest.approx(50e6 / start)
        assert market.initial_price_usd == start
    assert isinstance(scenario, Scenario)
