"""The world and the engine on a venue of several markets: positions land in their markets, a
cross account's deposit is shared, a fall in one asset liquidates a cross account's position in
another (the loss eats the shared collateral), ADL runs in the market of the bankrupt position,
and a step of three markets takes as many round trips as a step of one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from multi_helpers import SYMBOLS, three_market_inputs

from simulator.chain import open_chain
from simulator.engine import Engine
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.units import WAD
from simulator.world import build_world

BTC, ETH, SOL = range(3)


def _run(chain, scenario, inputs, **engine_kwargs):
    world = build_world(chain, scenario, inputs)
    engine = Engine(chain, world, **engine_kwargs)
    rows, events = [], []
    engine.run(on_step=lambda o: (rows.extend(o.rows), events.extend(o.events)))
    return world, engine, pd.DataFrame(rows), pd.DataFrame(events)


def test_three_market_world_opens_each_position_in_its_market_on_one_shared_deposit():
    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 6_000, "size_base": 0.5},
        {"account": 0, "market": ETH, "side": "short", "collateral_usd": 2_500, "size_base": 5.0},
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000, "size_base": 40.0,
         "isolated": True},
        {"account": 1, "market": SOL, "side": "short", "collateral_usd": 1_000, "size_base": 20.0},
        {"account": 2, "market": ETH, "side": "long", "collateral_usd": 1_000, "size_base": 2.0,
         "isolated": True},
    ]  # fmt: skip
    scenario, inputs = three_market_inputs(rows)
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world = build_world(chain, scenario, inputs)
        v, ids = world.venue.venue, world.market_ids
        held = {
            (a, m): v.position_now(world.accounts[a], ids[m]) for a in range(3) for m in range(3)
        }
        health = [v.health_now(a) for a in world.accounts]
        isolated = v.isolated_health(world.accounts[0], ids[SOL])
        iso_equity, iso_mm = chain.read_one(isolated)
        cross = v.collateral_now(world.accounts[0])
        liq = chain.read(
            [v.liquidation_price(world.accounts[r["account"]], ids[r["market"]]) for r in rows]
        )

    assert world.symbols == SYMBOLS and len(world.accounts) == 3
    assert world.opened.all()
    expected = {(r["account"], r["market"]): r for r in rows}
    for (a, m), position in held.items():
        row = expected.get((a, m))
        if row is None:
            assert position["size"] == 0, (a, m)
            continue
        sign = 1 if row["side"] == "long" else -1
        assert position["size"] == sign * round(row["size_base"] * WAD), (a, m)
        assert position["isolated"] == row.get("isolated", False)
    # One deposit per account: the sum of its rows' collateral (isolated margin included).
    np.testing.assert_allclose(world.account_deposit_usd, [9_500, 1_000, 1_000])
    # Account 0's cross maintenance margin is its BTC and ETH positions' (not the isolated SOL).
    mm_btc, mm_eth = held[(0, BTC)]["maintenanceMargin"], held[(0, ETH)]["maintenanceMargin"]
    assert health[0][1] == mm_btc + mm_eth
    assert iso_mm == held[(0, SOL)]["maintenanceMargin"]
    # The isolated position took its 1,000 USD of margin out of the shared deposit; the cross
    # collateral holds the rest less the three trades' fees.
    assert held[(0, SOL)]["margin"] <= 1_000 * WAD and held[(0, SOL)]["margin"] > 990 * WAD
    assert 8_400 * WAD < cross <= 8_500 * WAD
    # The world's per-row arrays are the chain's.
    for r, row in enumerate(rows):
        assert world.opened_size_base[r] == pytest.approx(row["size_base"], rel=1e-15)
        assert world.liquidation_price_usd[r] == liq[r] / WAD
    assert iso_equity > 0


def test_a_fall_in_sol_liquidates_the_btc_position_of_a_cross_account_that_holds_both():
    """Account 0 holds BTC and SOL on one cross balance; account 1 holds the same BTC position
    alone. SOL falls 12% a step; BTC does not move. When SOL's loss has eaten enough of the
    shared collateral, the venue liquidates account 0 largest maintenance first: its BTC
    position, although BTC's price never moved; account 1 is untouched."""
    sol_size = 10_000 / 220
    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.5},
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
         "size_base": sol_size},
        {"account": 1, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.5},
    ]  # fmt: skip
    fall = [0.88**k for k in range(7)] + [0.88**6] * 2
    scenario, inputs = three_market_inputs(rows, moves={"SOL": fall}, steps=8)
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world, engine, steps, events = _run(chain, scenario, inputs)
        v, ids = world.venue.venue, world.market_ids
        btc0 = v.position_now(world.accounts[0], ids[BTC])
        sol0 = v.position_now(world.accounts[0], ids[SOL])
        btc1 = v.position_now(world.accounts[1], ids[BTC])
        positions = pd.DataFrame(engine.positions())

    liquidated = events[events["kind"].isin(["liquidation", "partial_liquidation"])]
    assert set(liquidated["account"]) == {world.accounts[0]}
    assert list(liquidated["market"]) == ["BTC"]
    assert btc0["size"] == 0 and sol0["size"] > 0 and btc1["size"] == 5 * 10**17
    # The liquidation came once SOL had fallen enough (step 6), not before; BTC never moved.
    assert int(liquidated["step"].iloc[0]) == 6
    btc_rows = steps[steps["market"] == "BTC"]
    assert btc_rows["price_oracle_usd"].nunique() == 1
    assert steps[(steps["market"] == "BTC") & (steps["step"] == 6)][
        "liquidated_notional_long_usd"
    ].iloc[0] == pytest.approx(60_000, rel=0.01)
    assert list(positions["outcome"]) == ["liquidated", "open", "open"]
    assert list(positions["market"]) == ["BTC", "SOL", "BTC"]
    # The engine's tracked sizes are the chain's.
    assert engine.state.trader.size_base[1] == pytest.approx(sol0["size"] / WAD, rel=1e-12)
    assert engine.state.trader.size_base[0] == 0


@pytest.mark.parametrize("policy", ["profit_queue", "contracts_queue", "pro_rata", "socialized"])
def test_adl_runs_in_the_market_of_the_bankrupt_position(policy):
    """An 18x SOL long goes bankrupt when SOL gaps 12%; with no insurance fund the deficit is
    SOL's, and ADL takes it from the SOL short, not from the winners of other markets."""
    rows = [
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
         "size_base": 18_000 / 220},
        {"account": 1, "market": SOL, "side": "short", "collateral_usd": 5_000,
         "size_base": 10_000 / 220},
        {"account": 2, "market": ETH, "side": "short", "collateral_usd": 5_000, "size_base": 2.0},
        {"account": 2, "market": BTC, "side": "short", "collateral_usd": 5_000, "size_base": 0.1},
    ]  # fmt: skip
    scenario, inputs = three_market_inputs(
        rows,
        moves={"SOL": [1.0, 0.88, 0.88, 0.88], "ETH": [1.0, 0.95, 0.95, 0.95]},
        steps=3,
        adl_policy=policy,
    )
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world, engine, steps, events = _run(chain, scenario, inputs)
        positions = pd.DataFrame(engine.positions())

    bad_debt = events[events["kind"] == "bad_debt"]
    if policy == "socialized":  # charged at once through SOL's funding indices, no ADL call
        loss = events[events["kind"] == "socialized_loss"]
        assert len(loss) >= 1 and set(loss["market"]) == {"SOL"}
        assert not (events["kind"].isin(["adl", "adl_fill"])).any()
        assert steps[steps["market"].isin(["BTC", "ETH"])]["adl_haircut_usd"].sum() == 0
        return
    adl = events[events["kind"] == "adl"]
    fills = events[events["kind"] == "adl_fill"]
    assert len(bad_debt) >= 1 and set(bad_debt["market"]) == {"SOL"}
    assert len(adl) >= 1 and set(adl["market"]) == {"SOL"}
    assert {json.loads(d)["policy"] for d in adl["detail"]} == {policy}
    assert set(fills["market"]) == {"SOL"} and set(fills["account"]) == {world.accounts[1]}
    assert fills["amount_usd"].sum() > 0
    # The ETH short was in profit (ETH fell 5%) but is not in SOL's queue.
    assert (positions[positions["account"] == world.accounts[2]]["outcome"] == "open").all()
    sol_rows = steps[steps["market"] == "SOL"]
    assert sol_rows["adl_haircut_usd"].sum() == pytest.approx(fills["amount_usd"].sum())
    assert steps[steps["market"].isin(["BTC", "ETH"])]["adl_haircut_usd"].sum() == 0
    # What ADL covered is no longer outstanding.
    assert engine.state.last_bad_debt_usd[SOL] < bad_debt["amount_usd"].sum()


def _round_trips_per_step(symbols: list[str]) -> list[int]:
    """Each step's JSON-RPC round trips on a venue of ``symbols`` where every market holds the
    same book (a 10x long and a short in profit) and falls 20% at step 2: a bankruptcy, its
    liquidation and ADL in every market in the same block."""
    rows = []
    for m, _ in enumerate(symbols):
        rows += [
            {"account": 2 * m, "market": m, "side": "long", "collateral_usd": 2_000,
             "size_base": 1.0},
            {"account": 2 * m + 1, "market": m, "side": "short", "collateral_usd": 5_000,
             "size_base": 0.5},
        ]  # fmt: skip
    # Sizes in each market's own units: 1 and 0.5 base at that market's price.
    scenario, inputs = three_market_inputs(
        rows, moves={s: [1.0, 1.0, 0.8, 0.8, 0.8] for s in symbols}, steps=4, symbols=symbols
    )
    prices = inputs.start_prices_usd[inputs.book.market]
    book = inputs.book
    scaled = type(book)(
        **{**{f: getattr(book, f) for f in book.__dataclass_fields__},
           "size_base": book.collateral_usd / prices * np.where(book.side > 0, 10.0, 1.0)}
    )  # fmt: skip
    inputs = type(inputs)(**{**inputs.__dict__, "book": scaled})
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world = build_world(chain, scenario, inputs)
        engine = Engine(chain, world)
        posts = [0]
        send = chain.rpc._post

        def counting(*args, **kwargs):
            posts[0] += 1
            return send(*args, **kwargs)

        chain.rpc._post = counting
        per_step, kinds = [], []
        for _ in range(scenario.steps + 1):  # step 0's block, then steps 1..steps
            posts[0] = 0
            outcome = engine.step()
            per_step.append(posts[0])
            kinds.append(sorted({e["kind"] for e in outcome.events}))
    assert any("adl" in k for k in kinds), kinds  # the crash step did liquidate and deleverage
    return per_step


def test_a_three_market_step_takes_as_many_round_trips_as_a_one_market_step():
    one = _round_trips_per_step(["BTC"])
    three = _round_trips_per_step(["BTC", "ETH", "SOL"])
    assert one == three
    assert max(one) > min(one)  # the crash step did more than a quiet one


def test_the_backstop_vault_takes_over_a_whole_cross_account_and_unwinds_it_market_by_market():
    """SOL gaps 60%: the cross account holding BTC and SOL falls below the backstop threshold;
    the vault takes over both positions (one takeover row per market) and closes a tenth of
    each per step."""
    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.5},
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
         "size_base": 10_000 / 220},
        {"account": 1, "market": ETH, "side": "long", "collateral_usd": 5_000, "size_base": 2.0},
    ]  # fmt: skip
    scenario, inputs = three_market_inputs(
        rows,
        moves={"SOL": [1.0, 1.0, 0.4, 0.4, 0.4, 0.4, 0.4]},
        buffers={"backstop_enabled": True, "backstop_vault_usd": 1_000_000.0},
    )
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world, engine, steps, events = _run(chain, scenario, inputs)
        vault = world.venue.vault
        held = {p["market"]: p["size"] for p in world.venue.venue.positions_now(vault.address)}
        positions = pd.DataFrame(engine.positions())

    takeovers = events[events["kind"] == "backstop_takeover"]
    assert list(takeovers["step"]) == [2, 2]
    assert sorted(takeovers["market"]) == ["BTC", "SOL"]
    assert set(takeovers["account"]) == {world.accounts[0]}
    assert list(positions["outcome"]) == ["backstopped", "backstopped", "open"]
    # The vault unwinds from the takeover's own block (its spot phase reads the pending block
    # after the keepers): steps 2 to 6, 0.9^5 of each position is left.
    btc, sol = world.market_ids[BTC], world.market_ids[SOL]
    assert held[btc] == pytest.approx(0.5 * 0.9**5 * WAD, rel=1e-9)
    assert held[sol] == pytest.approx(10_000 / 220 * 0.9**5 * WAD, rel=1e-9)
    assert (engine.state.trader.size_base[:2] == 0).all()


def test_the_margin_controller_pokes_every_market_in_one_call_and_scales_the_volatile_one():
    """With the controller on, one ``pokeMany`` per step covers the three markets; SOL,
    falling 5% a minute, gets a higher margin scale than flat ETH."""
    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.1},
        {"account": 1, "market": BTC, "side": "short", "collateral_usd": 5_000, "size_base": 0.1},
        {"account": 2, "market": SOL, "side": "long", "collateral_usd": 5_000, "size_base": 20.0},
        {"account": 3, "market": SOL, "side": "short", "collateral_usd": 5_000, "size_base": 20.0},
        {"account": 4, "market": ETH, "side": "long", "collateral_usd": 5_000, "size_base": 1.0},
        {"account": 5, "market": ETH, "side": "short", "collateral_usd": 5_000, "size_base": 1.0},
    ]  # fmt: skip
    scenario, inputs = three_market_inputs(
        rows, moves={"SOL": [0.95**k for k in range(9)]}, steps=8, controller=True
    )
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world = build_world(chain, scenario, inputs)
        engine = Engine(chain, world, record_calls=True)
        engine.run()
        v, controller = world.venue.venue, world.venue.margin_controller
        scales = [v.market_now(m)["marginScale"] for m in world.market_ids]
        controlled = controller.read("controlledMarkets")

    assert list(controlled) == world.market_ids
    pokes = [[c for c in block if c.to == controller.address] for block in engine.recorded_calls]
    assert all(len(p) == 1 for p in pokes)  # one call per step for every market
    assert scales[SOL] > scales[ETH] >= WAD


def test_the_run_fingerprint_covers_every_contract_the_world_deploys():
    """``bytecode_hashes`` (the manifest's, which decides whether a run folder may be reused
    or resumed) names every contract type the venue world deploys."""
    from simulator.protocol.venue_deploy import MODULES
    from simulator.runner import bytecode_hashes

    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.1}
    ]
    scenario, inputs = three_market_inputs(
        rows, buffers={"backstop_enabled": True, "backstop_vault_usd": 1_000.0}, controller=True
    )
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        mv = build_world(chain, scenario, inputs).venue
    wrappers = [mv.venue, mv.collateral, mv.fund, mv.timelock, mv.vault, mv.margin_controller]
    wrappers += [*mv.oracles.values(), *mv.amms.values(), *mv.bases.values()]
    deployed = {w.contract_type.name for w in wrappers} | set(MODULES)
    assert {"PerpVenue", "VenueBackstopVault", "VenueMarginController"} <= deployed
    assert deployed <= set(bytecode_hashes())


def test_a_three_market_run_resumed_from_a_checkpoint_ends_as_the_uninterrupted_run():
    """The engine's per-market state (oracle and AMM prices, hedges, inventories, ledgers) and
    per-unit state survive a checkpoint: stop after step 7, rebuild the world on a fresh node,
    restore, finish: the same rows, events and positions as a run straight through."""
    from simulator.runner import _engine_checkpoint, _restore_engine

    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 5_000, "size_base": 0.5},
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
         "size_base": 10_000 / 220},
        {"account": 1, "market": ETH, "side": "short", "collateral_usd": 3_000, "size_base": 3.0},
        {"account": 2, "market": SOL, "side": "short", "collateral_usd": 2_000, "size_base": 30.0,
         "isolated": True},
    ]  # fmt: skip
    fall = [0.88**k for k in range(7)] + [0.88**6 * 1.02**k for k in range(1, 5)]
    scenario, inputs = three_market_inputs(rows, moves={"SOL": fall}, steps=10)

    def run(stop_after=None, checkpoint=None):
        with open_chain(anvil=run_node_config()) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            engine = Engine(chain, build_world(chain, scenario, inputs))
            if checkpoint is not None:
                _restore_engine(engine, chain, *checkpoint)
            out = []
            engine.run(until_step=stop_after, on_step=lambda o: out.append((o.rows, o.events)))
            saved = _engine_checkpoint(engine, chain) if stop_after else None
            return out, saved, engine.positions()

    straight, _, positions = run()
    first, saved, _ = run(stop_after=7)
    rest, _, resumed_positions = run(checkpoint=saved)
    assert first + rest == straight
    assert resumed_positions == positions
    # The checkpoint comes after the liquidation (step 6) moved the hedge and the book.
    assert any(e["kind"] == "liquidation" for _, events in first for e in events)


def test_per_market_oracle_faults_feed_each_market_as_the_one_market_schedule_does():
    """The scenario's faults, each naming its market, fed through the (steps + 1, M) schedule
    the engine uses (``feed_markets``) are, market by market, the one-market
    OracleFaultSchedule.feed (the reference) of that market's own faults."""
    from simulator.pricepaths import OracleFaultSchedule
    from simulator.scenario import BadPrintFault, LagFault, StaleFault

    steps = 12
    symbols = ["BTC", "ETH", "SOL"]
    per_market = [
        [LagFault(kind="lag", steps=2, start_step=3, end_step=8)],
        [StaleFault(kind="stale", start_step=2, end_step=5)],
        [BadPrintFault(kind="bad_print", step=4, price_usd=1.0), LagFault(kind="lag", steps=1)],
    ]
    schedules = [OracleFaultSchedule.from_faults(f, steps) for f in per_market]
    named = [
        f.model_copy(update={"market": symbol})
        for symbol, faults in zip(symbols, per_market, strict=True)
        for f in faults
    ]
    faults = OracleFaultSchedule.from_faults(named, steps, symbols)
    source = np.random.default_rng(3).uniform(50, 150, (steps + 1, 3))
    for t in range(steps + 1):
        got = faults.feed_markets(t, source[: t + 1])
        for m, schedule in enumerate(schedules):
            want = schedule.feed(t, source[: t + 1, m])
            assert (np.isnan(got[m]) and want is None) or got[m] == want, (t, m)


def test_a_stale_oracle_in_one_market_holds_that_market_only():
    """SOL's oracle posts nothing in steps 2-4 while SOL's exogenous price falls; BTC's and
    ETH's oracles keep posting."""
    from dataclasses import replace

    from simulator.pricepaths import OracleFaultSchedule

    rows = [
        {"account": 0, "market": ETH, "side": "long", "collateral_usd": 5_000, "size_base": 1.0}
    ]
    moves = {
        "SOL": [1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94],
        "ETH": [1.0 + k / 100 for k in range(7)],
    }
    scenario, inputs = three_market_inputs(rows, moves=moves)
    updates = np.ones((7, 3), dtype=bool)
    updates[2:5, SOL] = False
    faults = replace(inputs.faults, updates=updates)
    inputs = replace(inputs, faults=faults)
    assert isinstance(inputs.faults, OracleFaultSchedule)
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        _, _, steps, _ = _run(chain, scenario, inputs)
    oracle = steps[steps["market"] != "ALL"].pivot(
        index="step", columns="market", values="price_oracle_usd"
    )
    exogenous = steps[steps["market"] != "ALL"].pivot(
        index="step", columns="market", values="price_exogenous_usd"
    )
    held = oracle.loc[2:4, "SOL"]
    assert (held == oracle.loc[1, "SOL"]).all()
    assert oracle.loc[5, "SOL"] == pytest.approx(exogenous.loc[5, "SOL"], rel=1e-12)
    np.testing.assert_allclose(oracle["ETH"], exogenous["ETH"], rtol=1e-12)
    np.testing.assert_allclose(oracle["BTC"], exogenous["BTC"], rtol=1e-12)


def test_an_isolated_position_is_liquidated_alone_and_its_accounts_cross_position_stays():
    """Account 0 holds a cross BTC long and an isolated 15x SOL long. SOL falls 12% a step:
    keepers liquidate the isolated position (``liquidateIsolated``) and never the account's
    cross BTC position, whose collateral the SOL loss cannot reach."""
    rows = [
        {"account": 0, "market": BTC, "side": "long", "collateral_usd": 600, "size_base": 0.1},
        {"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
         "size_base": 15_000 / 220, "isolated": True},
    ]  # fmt: skip
    scenario, inputs = three_market_inputs(
        rows, moves={"SOL": [1.0, 0.97, 0.94, 0.91, 0.88, 0.85, 0.82]}
    )
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world, engine, steps, events = _run(chain, scenario, inputs)
        btc = world.venue.venue.position_now(world.accounts[0], world.market_ids[BTC])
        positions = pd.DataFrame(engine.positions())

    liquidated = events[events["kind"].isin(["liquidation", "partial_liquidation"])]
    assert set(liquidated["market"]) == {"SOL"} and len(liquidated) >= 1
    assert btc["size"] == 10**17
    assert list(positions["outcome"]) == ["open", "liquidated"]
