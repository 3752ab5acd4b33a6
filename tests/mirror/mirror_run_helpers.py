"""Helpers of the run-level differential test (``test_mirror_run.py``): random small scenarios
the mirror models (hypothesis), and the chain engine and the mirror engine (exact mode) run
side by side, compared after every step.

A comparison stops at the first step that differs and names it: the step, the market and the
account, and the quantity (an event row's field, a ledger entry in WAD, the fund's balance).
After the last step the venue's whole state is compared to the wei: every account's cross
collateral and positions (size, entry, isolated margin), every market's open interest, funding
indices and rate, and the insurance fund's balance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from simulator.chain import open_chain
from simulator.engine import Engine
from simulator.engine.invariants import InvariantViolation
from simulator.mirror import controls as kernels
from simulator.mirror.sim import MirrorEngine
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import Scenario, parse_scenario
from simulator.world import build_world

#: The event fields compared (every other is derived from them).
EVENT_FIELDS = ("kind", "market", "account", "side", "size_base", "price_usd", "amount_usd",
                "detail")  # fmt: skip
#: The event kinds the mirror produces (the chain's swaps and LP rows are not the venue's).
VENUE_KINDS = (
    "open",
    "open_reverted",
    "liquidation",
    "partial_liquidation",
    "insurance_payout",
    "bad_debt",
    "bad_debt_final",
    "liquidate_reverted",
    "close",
    "close_reverted",
    "top_up",
    "socialized_loss",
    "adl",
    "adl_fill",
    "adl_reverted",
    "governance_submitted",
    "governance_executed",
    "governance_executed_reverted",
    "backstop_takeover",
    "backstop_reverted",
    # the order flow's and the market-making vault's
    "order_flow_unfilled",
    "mm_vault_fill",
    "mm_vault_trade_reverted",
    "mm_vault_unwind_reverted",
    "mm_vault_liquidate_reverted",
)
#: Ledger entries compared per market after every step (WAD), by the mirror's names.
LEDGER = {"fees": "fees", "liquidationPenalties": "penalties", "totalDeficit": "total_deficit",
          "paidByInsurance": "paid_by_insurance", "badDebtLongs": "bad_debt_longs",
          "badDebtShorts": "bad_debt_shorts", "socializedLoss": "socialized"}  # fmt: skip

#: The contracts queue's ledger entries: (the mirror's (M, 2) array, column).
ADL_LEDGER = {"adlContractsLongs": ("adl_contracts", 0), "adlContractsShorts": ("adl_contracts", 1),
              "adlPriceLongs": ("adl_price", 0), "adlPriceShorts": ("adl_price", 1),
              "finalBadDebtLongs": ("final_bad_debt", 0),
              "finalBadDebtShorts": ("final_bad_debt", 1)}  # fmt: skip

SYMBOLS = ["BTC", "ETH", "SOL", "DOGE"]


@st.composite
def small_scenarios(draw) -> dict[str, Any]:
    """A scenario dict of 2-3 markets, a few accounts (cross and isolated, one to three
    markets each) at high leverage, tens of steps and a shock, with the liquidation rules
    varied: partial liquidation (threshold, share, cooldown), a per-block cap, penalties, the
    keepers' delay, capacity and profit threshold, ADL policy ``none`` with a small fund
    (bad debt) or a queue with a large one."""
    n_markets = draw(st.integers(2, 3))
    symbols = SYMBOLS[:n_markets]
    markets = []
    for symbol in symbols:
        overrides: dict[str, Any] = {}
        if draw(st.booleans()):
            overrides["partial_liquidation_threshold_usd"] = draw(
                st.sampled_from([0, 2_000, 20_000])
            )
            overrides["partial_liquidation_share_bps"] = draw(st.integers(1_000, 6_000))
            overrides["liquidation_cooldown_s"] = draw(st.sampled_from([0, 30, 90, 600]))
            overrides["full_liquidation_after_cooldown"] = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            overrides["max_liquidation_notional_per_block_usd"] = draw(
                st.sampled_from([5_000, 20_000, 100_000]))  # fmt: skip
        if draw(st.booleans()):
            overrides["liquidation_penalty_bps"] = draw(st.integers(0, 300))
        if draw(st.booleans()):
            overrides["keeper_share_bps"] = draw(st.integers(1, 10_000))
        if draw(st.booleans()):
            overrides["insurance_fee_share_bps"] = draw(st.integers(0, 10_000))
        markets.append({"symbol": symbol, "overrides": overrides,
                        "path": {"vol_per_year": draw(st.sampled_from([0.5, 1.0, 2.0])),
                                 "beta": draw(st.sampled_from([0.0, 1.0]))}})  # fmt: skip
    steps = draw(st.integers(12, 40))
    shock_step = draw(st.integers(2, steps - 2))
    fall = draw(st.sampled_from([-0.15, -0.06, 0.06, 0.1, 0.2, 0.35]))
    bad_debt = draw(st.booleans())
    step_seconds = draw(st.sampled_from([12, 60, 600, 3_600]))
    faults = []
    if draw(st.integers(0, 3)) == 0:  # an oracle fault of one market or of all
        market = draw(st.sampled_from([None, *symbols]))
        start = draw(st.integers(0, steps - 1))
        kind = draw(st.sampled_from(["stale", "stale", "lag", "bad_print"]))
        if kind == "stale":  # hour-long steps: a window of two outlasts the oracle's maxAge
            step_seconds = 3_600
            faults.append({"kind": "stale", "market": market, "start_step": start,
                           "end_step": draw(st.integers(start + 1, steps + 1))})  # fmt: skip
        elif kind == "lag":
            faults.append({"kind": "lag", "market": market, "start_step": start,
                           "steps": draw(st.integers(1, 5))})  # fmt: skip
        else:
            faults.append({"kind": "bad_print", "market": market, "step": start,
                           "price_usd": draw(st.sampled_from([1.0, 50.0, 500_000.0]))})  # fmt: skip
    governance = None
    if draw(st.integers(0, 3)) == 0:  # a parameter change through the timelock, mid-run
        parameter, value = draw(st.sampled_from([
            ("taker_fee_bps", 0), ("taker_fee_bps", 20), ("liquidation_penalty_bps", 150),
            ("partial_liquidation_threshold_usd", 0), ("insurance_fee_share_bps", 10_000),
            ("max_liquidation_notional_per_block_usd", 10_000),
        ]))  # fmt: skip
        path = draw(st.sampled_from(["timelock", "guardian"]))
        if path == "guardian":  # tighten, or pause risk
            parameter, value = draw(st.sampled_from([
                ("max_leverage", 5), ("maintenance_margin_fraction", 0.02), ("risk_paused", True),
            ]))  # fmt: skip
        # the guardian only tightens and the venue wants MMF < 1 / max leverage: 0.02 is both
        # for BTC alone (40x, MMF 0.0125)
        only_btc = parameter == "maintenance_margin_fraction"
        governance = {"market": "BTC" if only_btc else draw(st.sampled_from([None, *symbols])),
                      "step": draw(st.integers(0, steps - 1)), "parameter": parameter,
                      "value": value, "path": path}  # fmt: skip
    return {
        "name": "mirror-diff",
        "seed": draw(st.integers(0, 10_000)),
        "steps": steps,
        "step_seconds": step_seconds,
        "venue": {"preset": "hyperliquid-like",
                  "timelock_delay_s": draw(st.sampled_from([60, 600, 3_600]))},
        "markets": markets,
        "controls": {
            "adl_price_mode": draw(st.sampled_from(["bankruptcy_price", "previous_mark"])),
            "adl_policy": draw(st.sampled_from(["none", "socialized", "profit_queue", "pro_rata",
                                                "contracts_queue"]))
            if bad_debt
            else "profit_queue",
            "insurance_fund_usd": draw(st.sampled_from([0, 200, 2_000])) if bad_debt else 10**7,
            "feedback": False,
            "governance_change": governance,
        },
        "traders": {
            "kind": "random",
            "count": draw(st.integers(2, 8)),
            "long_share": draw(st.sampled_from([0.2, 0.5, 0.8])),
            "collateral_usd": {"median_usd": draw(st.sampled_from([500, 3_000, 30_000])),
                               "sigma": 1.0},
            "leverage": {"min": 3, "max": draw(st.sampled_from([10, 20, 40]))},
            "behaviour": {
                "weights": draw(st.sampled_from([
                    {"hold": 1, "take_profit": 0, "stop_loss": 0, "top_up": 0, "panic": 0},
                    {"hold": 1, "take_profit": 1, "stop_loss": 1, "top_up": 1, "panic": 1},
                    {"hold": 0, "take_profit": 0, "stop_loss": 0, "top_up": 1, "panic": 0},
                ])),
                "take_profit_fraction": draw(st.sampled_from([0.05, 0.3])),
                "stop_loss_fraction": draw(st.sampled_from([0.05, 0.3])),
                "top_up_probability": draw(st.sampled_from([0.3, 1.0])),
                "panic_drawdown": draw(st.sampled_from([0.01, 0.05])),
            },
            "markets_per_account": {1: 0.4, 2: 0.4, 3: 0.2} if n_markets == 3 else {1: 0.5, 2: 0.5},
            "isolated_share": draw(st.sampled_from([0.0, 0.3, 0.7])),
        },
        "price_path": {"kind": "factor",
                       "shocks": [{"step": shock_step, "fall_fraction": fall,
                                   "over_steps": draw(st.integers(1, 3))}]},
        "keepers": {"count": draw(st.integers(1, 2)),
                    "max_liquidations_per_block": draw(st.integers(1, 4)),
                    "reaction_delay_steps": draw(st.integers(0, 2)),
                    "min_profit_usd": draw(st.sampled_from([0.0, 1.0, 20.0]))},
        "arbitrageurs": {"count": 0},
        "oracle_faults": faults,
    }  # fmt: skip


@st.composite
def controls_scenarios(draw) -> dict[str, Any]:
    """A :func:`small_scenarios` scenario with the venue's risk controls varied: the circuit
    breaker's band (none, or 0.3% .. 10% of the TWAP), each market's TWAP window and whether
    its liquidations halt while it is tripped, and the dynamic margin controller on or off."""
    d = draw(small_scenarios())
    band = draw(st.sampled_from([30, 100, 300, 1_000, None]))
    controls = {**d["controls"], "dynamic_margin": draw(st.sampled_from([True, False]))}
    if band is not None:
        controls["circuit_breaker_max_move_bps"] = band
    d["controls"] = controls
    d["markets"] = [
        {**m, "overrides": {**m["overrides"],
                            "circuit_breaker_window_s": draw(st.sampled_from([12, 60, 300,
                                                                             3_600])),
                            "liquidations_halt_on_breaker": draw(st.sampled_from([True, True,
                                                                                   False]))}}
        for m in d["markets"]
    ]  # fmt: skip
    return d


class Divergence(AssertionError):
    """The mirror and the chain differ; the message names where first."""


def _differ(where: str, what: str, mirror: Any, chain: Any) -> Divergence:
    return Divergence(f"mirror and chain diverge at {where}: {what}: mirror {mirror!r} != "
                      f"chain {chain!r}")  # fmt: skip


def _venue_events(events: list[dict]) -> list[dict]:
    return [{k: e[k] for k in EVENT_FIELDS} for e in events if e["kind"] in VENUE_KINDS]


def compare_events(t: int, mine: list[dict], theirs: list[dict]) -> None:
    """The step's venue event rows, field by field, in order."""
    a, b = _venue_events(mine), _venue_events(theirs)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        for k in EVENT_FIELDS:
            same = x[k] == y[k] or (isinstance(x[k], float) and isinstance(y[k], float)
                                    and np.isnan(x[k]) and np.isnan(y[k]))  # fmt: skip
            if not same:
                where = f"step {t}, market {y['market']}, account {y['account']} (event {i})"
                raise _differ(where, f"{y['kind']} {k}", x[k], y[k])
    if len(a) != len(b):
        extra = (a if len(a) > len(b) else b)[min(len(a), len(b))]
        where = f"step {t}, market {extra['market']}, account {extra['account']}"
        raise _differ(where, "venue events", [e["kind"] for e in a], [e["kind"] for e in b])


def compare_levels(t: int, engine: Engine, mirror: MirrorEngine) -> None:
    """Every market's ledger entries (WAD, to the wei), open interest and funding rate (as
    read) and the insurance fund after step ``t``."""
    levels, venue = engine._last_levels, mirror.venue
    for m, symbol in enumerate(mirror.symbols):
        for name, attr in LEDGER.items():
            ours, theirs = int(getattr(venue, attr)[m]), int(levels["ledgers"][m][name])
            if ours != theirs:
                raise _differ(f"step {t}, market {symbol}", f"ledger {name} (WAD)", ours, theirs)
        for name, (attr, side) in ADL_LEDGER.items():
            ours, theirs = int(getattr(venue, attr)[m, side]), int(levels["ledgers"][m][name])
            if ours != theirs:
                raise _differ(f"step {t}, market {symbol}", f"ledger {name} (WAD)", ours, theirs)
    if int(venue.pool) != int(levels["accounting"]["pool"]):
        raise _differ(f"step {t}", "the counterparty pool (WAD)", int(venue.pool),
                      int(levels["accounting"]["pool"]))  # fmt: skip
    got = mirror._last_levels
    keys = ("oi_long_base", "oi_short_base", "funding_rate_per_day", "insurance_fund_usd",
            "margin_scale")  # fmt: skip
    for key in keys:
        ours, theirs = np.atleast_1d(got[key]), np.atleast_1d(levels[key])
        if not np.array_equal(ours, theirs):
            m = int(np.flatnonzero(ours != theirs)[0])
            raise _differ(f"step {t}, market {mirror.symbols[m]}", key, ours[m], theirs[m])
    compare_vault_levels(t, got, levels, mirror.symbols)


def compare_vault_levels(t: int, got: dict, levels: dict, symbols: list[str]) -> None:
    """The backstop vault's ``totalAssets`` (USD), share supply and positions (WAD) as read
    after step ``t`` (0 on both sides without a vault)."""
    for key in ("vault_assets_usd", "vault_supply"):
        if got[key] != levels[key]:
            raise _differ(f"step {t}", f"the backstop vault's {key}", got[key], levels[key])
    for m, symbol in enumerate(symbols):
        ours, theirs = int(got["vault_size_wad"][m]), int(levels["vault_size_wad"][m])
        if ours != theirs:
            raise _differ(f"step {t}, market {symbol}", "the backstop vault's size (WAD)", ours,
                          theirs)  # fmt: skip


def compare_final_state(engine: Engine, mirror: MirrorEngine) -> None:
    """Every account's collateral and positions, every market's state, the fund, and the
    margin controller's skew average and volatility (with one): to the wei."""
    v, venue, chain = engine.venue.venue, mirror.venue, engine.chain
    ids = engine.ctx.market_ids
    # the venue's accounts in the mirror's order: the book's, then the vaults' (market-making,
    # backstop) when the scenario has them
    for a, who in enumerate(mirror.ctx.accounts):
        col = v.collateral_now(who)
        if int(venue.collateral[a]) != col:
            raise _differ(f"the end, account {who}", "collateral (WAD)", int(venue.collateral[a]),
                          col)  # fmt: skip
        held = {p["market"]: p for p in v.positions_now(who)}
        for m, market in enumerate(ids):
            p = held.get(market, {"size": 0, "entryPrice": 0, "margin": 0})
            for what, ours, theirs in (("size", venue.size[a, m], p["size"]),
                                       ("entry", venue.entry[a, m], p["entryPrice"]),
                                       ("isolated margin", venue.margin[a, m], p["margin"])):  # fmt: skip
                if int(ours) != int(theirs):
                    raise _differ(f"the end, market {mirror.symbols[m]}, account {who}",
                                  f"{what} (WAD)", int(ours), int(theirs))  # fmt: skip
    f = venue.funding()
    for m, market in enumerate(ids):
        view = v.market_now(market)
        for what, ours, theirs in (("long OI", venue.long_oi[m], view["longOpenInterest"]),
                                   ("short OI", venue.short_oi[m], view["shortOpenInterest"]),
                                   ("long funding index", f.long_funding_index[m],
                                    view["longFundingIndex"]),
                                   ("short funding index", f.short_funding_index[m],
                                    view["shortFundingIndex"]),
                                   ("funding rate", f.funding_rate_per_day[m],
                                    view["fundingRatePerDay"])):  # fmt: skip
            if int(ours) != int(theirs):
                raise _differ(f"the end, market {mirror.symbols[m]}", f"{what} (WAD)",
                              int(ours), int(theirs))  # fmt: skip
    fund = chain.read_one(engine.venue.fund.balance()) * 10**12
    if int(venue.fund) != fund:
        raise _differ("the end", "insurance fund (WAD)", int(venue.fund), fund)
    controller = engine.venue.margin_controller
    if controller is not None:  # its state: the skew average and the volatility, to the wei
        state = mirror.controls.controller.state
        vol = kernels.volatility(state.variance_rate)
        for m, market in enumerate(ids):
            for what, ours, view in (("skew average", state.skew_average[m], "skewAverage"),
                                     ("volatility", vol[m], "volatility")):  # fmt: skip
                theirs = chain.read_one(controller.view(view, market))
                if int(ours) != int(theirs):
                    raise _differ(f"the end, market {mirror.symbols[m]}",
                                  f"the controller's {what} (WAD)", int(ours), int(theirs))  # fmt: skip


def run_side_by_side(
    scenario: Scenario, chain=None, *, spot: bool = False, steps_rows: bool = False
) -> dict[str, int]:
    """Run ``scenario`` on the chain (revm) and on the mirror (exact), compare after every
    step and at the end (raises :class:`Divergence`); the run's counts of event kinds. With
    ``spot``, also the spot side after every step (:func:`compare_spot`: every ``steps`` row,
    the LP withdrawals, the pools' reserves, the spot agents' inventories and the impact); with
    ``steps_rows``, every step's ``steps`` rows (:func:`compare_steps`)."""
    mirror = MirrorEngine(scenario, mode="exact")
    with open_chain(backend="revm", anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        engine = Engine(chain, build_world(chain, scenario))
        counts: dict[str, int] = {}
        for t in range(scenario.steps + 1):
            try:
                theirs = engine.step()
            except InvariantViolation:
                # The chain engine stops a run whose accounting check fails (its own traders'
                # view of a flat unit below zero): the mirror's venue state must still be the
                # chain's after that block; the run ends there.
                mine = mirror.step()
                compare_levels(t, engine, mirror)
                if spot:
                    compare_spot(t, engine, mirror, mine, None)
                compare_final_state(engine, mirror)
                counts["chain_invariant_violation"] = 1
                return counts
            mine = mirror.step()
            if t == 0:
                from simulator.engine.opening import with_opening

                theirs = with_opening(engine.ctx, theirs)
                mine = with_opening(mirror.ctx, mine)
            compare_events(t, mine.events, theirs.events)
            compare_levels(t, engine, mirror)
            if spot:
                compare_spot(t, engine, mirror, mine, theirs)
            if steps_rows:
                compare_steps(t, mine.rows, theirs.rows)
            for e in theirs.events:
                counts[e["kind"]] = counts.get(e["kind"], 0) + 1
                if "StalePrice" in (e.get("detail") or ""):
                    counts["stale_revert"] = counts.get("stale_revert", 0) + 1
                if "CircuitBreakerTripped" in (e.get("detail") or ""):
                    counts["breaker_revert"] = counts.get("breaker_revert", 0) + 1
                if "PriceLimitExceeded" in (e.get("detail") or ""):  # a quote's bound
                    counts["price_limit_revert"] = counts.get("price_limit_revert", 0) + 1
                if e["account"] is not None and e["account"] == engine.world.mm_vault:
                    key = f"mm_vault:{e['kind']}"  # the market-making vault's own rows
                    counts[key] = counts.get(key, 0) + 1
            if (engine._last_levels["margin_scale"] != 1.0).any():
                counts["margin_scale_changed"] = counts.get("margin_scale_changed", 0) + 1
        compare_final_state(engine, mirror)
        compare_mm_vault(engine, mirror)
        positions = (engine.positions(), mirror.positions())
    for theirs, ours in zip(*positions, strict=True):
        for k in ("outcome", "outcome_step", "realized_pnl_usd", "size_base", "entry_price_usd",
                  "liquidation_price_at_open_usd", "opens"):  # fmt: skip
            x, y = ours[k], theirs[k]
            if not (x == y or (x is not None and y is not None and np.isnan(x) and np.isnan(y))):
                raise _differ(f"the positions, market {theirs['market']}, account "
                              f"{theirs['account']}", k, x, y)  # fmt: skip
    return counts


def parse(d: dict[str, Any]) -> Scenario:
    return parse_scenario(d)


#: The spot agents' and the outside market's state compared after every step (EngineState).
SPOT_STATE = ("arb_inventory", "hedger_inventory", "hedged_base", "permanent_log_impact",
              "transient_log_impact", "metaorder_sale_usd", "oracle_price_usd", "amm_price_usd",
              "lps_withdrew")  # fmt: skip


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        return True
    return x == y


def compare_spot(t: int, engine: Engine, mirror: MirrorEngine, mine, theirs) -> None:
    """After step ``t``: every pool's reserves (to the unit), the spot agents' inventories,
    the hedged base, the outside market's carried impact, the LPs' state, and (``theirs``:
    the chain's step outcome, None after a stopped block) every field of every ``steps`` row
    (``price_amm_usd``, ``price_outside_usd``, ``transactions``...) and the ``lp_withdrawal``
    event rows."""
    ids = engine.ctx.market_ids
    reserves = engine.chain.read([engine.venue.amms[mid].reserves() for mid in ids])
    book = mirror.spot
    for m, symbol in enumerate(mirror.symbols):
        ours = (book.reserve_collateral[m], book.reserve_base[m])
        if ours != tuple(int(x) for x in reserves[m]):
            raise _differ(f"step {t}, market {symbol}", "AMM reserves (units, base units)",
                          ours, tuple(reserves[m]))  # fmt: skip
    for key in SPOT_STATE:
        a, b = np.asarray(getattr(mirror.state, key)), np.asarray(getattr(engine.state, key))
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            raise _differ(f"step {t}", f"state {key}", a.tolist(), b.tolist())
    if theirs is None:
        return
    if len(mine.rows) != len(theirs.rows):
        raise _differ(f"step {t}", "steps rows", len(mine.rows), len(theirs.rows))
    for x, y in zip(mine.rows, theirs.rows, strict=True):
        for k in y:
            if not _same(x.get(k), y[k]):
                raise _differ(f"step {t}, market {y['market']}", f"steps row {k}", x.get(k), y[k])
    a = [e for e in mine.events if e["kind"] == "lp_withdrawal"]
    b = [e for e in theirs.events if e["kind"] == "lp_withdrawal"]
    if [{k: e[k] for k in EVENT_FIELDS} for e in a] != [{k: e[k] for k in EVENT_FIELDS} for e in b]:
        raise _differ(f"step {t}", "lp_withdrawal rows", a, b)


@st.composite
def feedback_scenarios(draw) -> dict[str, Any]:
    """:func:`small_scenarios` with the spot side varied: oracle feedback on or off (the
    outside venues with noise and lags, the AMM's weight), every pool's depth (shallow pools
    the hedger moves, per market or for all), arbitrageurs (none to three, their capital and
    trade limit), the outside market's impact (a scaled-down volume: the hedger's sales move
    it), and LP withdrawals from the AMMs on a drawdown."""
    d = draw(small_scenarios())
    d["name"] = "mirror-feedback-diff"
    d["controls"]["feedback"] = draw(st.booleans())
    d["amm"] = {"liquidity_usd": draw(st.sampled_from([20_000, 200_000, 5_000_000]))}
    for market in d["markets"]:
        if draw(st.booleans()):
            market["amm"] = {"liquidity_usd": draw(st.sampled_from([10_000, 100_000, 1_000_000]))}
    d["arbitrageurs"] = {"count": draw(st.integers(0, 3)),
                         "capital_usd": draw(st.sampled_from([1_000, 50_000, 1_000_000])),
                         "max_trade_fraction": draw(st.sampled_from([0.05, 0.25, 1.0]))}  # fmt: skip
    if draw(st.booleans()):
        d["oracle_sources"] = {
            "venues": [{"name": "a", "weight": draw(st.sampled_from([1, 3])),
                        "lag_steps": draw(st.integers(0, 2)),
                        "noise_bps": draw(st.sampled_from([0.0, 5.0, 50.0]))},
                       {"name": "b", "weight": 1, "noise_bps": 10.0}],
            "amm_weight": draw(st.sampled_from([0.0, 1.0, 5.0])),
        }  # fmt: skip
    d["outside_market"] = {"impact_y": draw(st.sampled_from([0.0, 1.0, 3.0])),
                           "volume_scale": draw(st.sampled_from([1e-6, 1e-3, 1.0])),
                           "half_life_steps": draw(st.sampled_from([2.0, 30.0]))}  # fmt: skip
    if draw(st.booleans()):
        d["lps"] = {"withdraw_on_drawdown": draw(st.sampled_from([0.02, 0.05, 0.1])),
                    "withdraw_fraction": draw(st.sampled_from([0.3, 0.9, 1.0])),
                    "applies_to": draw(st.sampled_from(["amm", "both"]))}  # fmt: skip
    return d


# -- the order flow and the market-making vault (test_mirror_flow.py) ---------------------------

#: ``steps`` columns not compared: none (the spot AMM's price, the outside price and the
#: transactions, the hedger's swaps included, are the chain's since the mirror runs the spot
#: side, :mod:`simulator.mirror.sim.spot`).
STEPS_NOT_MIRRORED: tuple[str, ...] = ()


def compare_steps(t: int, mine: list[dict], theirs: list[dict]) -> None:
    """The step's ``steps`` rows, column by column (but :data:`STEPS_NOT_MIRRORED`)."""
    if len(mine) != len(theirs):
        raise _differ(f"step {t}", "steps rows", len(mine), len(theirs))
    for x, y in zip(mine, theirs, strict=True):
        for k in y:
            if k in STEPS_NOT_MIRRORED:
                continue
            a, b = x.get(k), y[k]
            nan = isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b)
            if not (a == b or nan):
                raise _differ(f"step {t}, market {y.get('market')}", f"steps {k}", a, b)


def compare_mm_vault(engine: Engine, mirror: MirrorEngine) -> None:
    """The market-making vault's collateral and positions at the end, to the wei (nothing
    without a vault)."""
    vault = engine.world.mm_vault
    if vault is None:
        return
    v, venue = engine.venue.venue, mirror.venue
    a = mirror.ctx.index(vault)
    if a is None or mirror.world.mm_vault != vault:
        raise _differ("the end", "the market-making vault's address", mirror.world.mm_vault, vault)
    if int(venue.collateral[a]) != v.collateral_now(vault):
        raise _differ("the end, the market-making vault", "collateral (WAD)",
                      int(venue.collateral[a]), v.collateral_now(vault))  # fmt: skip
    held = {p["market"]: p for p in v.positions_now(vault)}
    for m, market in enumerate(engine.ctx.market_ids):
        p = held.get(market, {"size": 0, "entryPrice": 0})
        for what, ours, theirs in (("size", venue.size[a, m], p["size"]),
                                   ("entry", venue.entry[a, m], p["entryPrice"])):  # fmt: skip
            if int(ours) != int(theirs):
                raise _differ(f"the end, market {mirror.symbols[m]}, the market-making vault",
                              f"{what} (WAD)", int(ours), int(theirs))  # fmt: skip


@st.composite
def flow_scenarios(draw) -> dict[str, Any]:
    """:func:`small_scenarios` with an order flow of a few slots per kind and market at high
    arrival rates (opens, closes at take-profit, stop-loss and the holding time, cooldowns,
    refused opens in tens of steps), and a market-making vault: none, a quoting one (half
    spread 0 or a few bps, a quote bound the flow's opens can move the skew past), a small
    one at high leverage that the shock liquidates (ADL may then rank it), or a funded one
    that never quotes."""
    d = draw(small_scenarios())
    step_min = d["step_seconds"] / 60
    per_step = 60 / step_min  # an hourly rate of one order per step

    def kind(slots: int, rate_steps: float, **more: Any) -> dict[str, Any]:
        return {"slots_per_market": slots, "rate_per_hour": rate_steps * per_step,
                "hold_minutes": draw(st.sampled_from([1, 2, 4])) * step_min,
                "cooldown_minutes": draw(st.sampled_from([0, 1, 3])) * step_min,
                "collateral_usd": {"median_usd": draw(st.sampled_from([300, 3_000, 30_000])),
                                   "sigma": 1.0},
                "leverage_max_share": draw(st.sampled_from([0.3, 0.9])), **more}  # fmt: skip

    d["order_flow"] = {
        "lookback_minutes": 5 * step_min,
        "reference_minutes": 30 * step_min,
        "momentum": kind(draw(st.integers(0, 2)), 1.0, min_return=0.001),
        "dip_buyers": kind(draw(st.integers(0, 2)), 1.0, min_fall=0.01),
        "short_sellers": kind(draw(st.integers(0, 2)), 1.0, min_fall=0.01,
                              stop_loss_fraction=draw(st.sampled_from([None, 0.05]))),
        "reentry": kind(draw(st.integers(1, 3)), draw(st.sampled_from([1.0, 3.0])),
                        take_profit_fraction=draw(st.sampled_from([0.02, 0.3]))),
        "funding_arbitrage": kind(draw(st.integers(0, 1)), 1.0,
                                  min_funding_rate_per_hour=0.00001),
    }  # fmt: skip
    vault = draw(st.sampled_from(["none", "quoting", "leveraged", "idle"]))
    if vault == "quoting":
        d["mm_vault"] = {"capital_usd": draw(st.sampled_from([20_000, 200_000])), "quoting": True,
                         "participation": draw(st.sampled_from([0.5, 1.0])),
                         "max_trade_usd": draw(st.sampled_from([5_000, 50_000])),
                         "half_spread_bps": draw(st.sampled_from([0, 0, 1]))}  # fmt: skip
    elif vault == "leveraged":
        capital = draw(st.sampled_from([1_000, 3_000]))
        d["mm_vault"] = {"capital_usd": capital, "quoting": True, "participation": 1.0,
                         "inventory_limit_usd": capital * 8, "max_trade_usd": capital * 4,
                         "half_spread_bps": 0}  # fmt: skip
    elif vault == "idle":  # funded, never quotes: read, ranked by ADL (flat: ineligible)
        d["mm_vault"] = {"capital_usd": 5_000, "quoting": False}
    return d
