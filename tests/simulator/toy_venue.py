"""Multi-market run folders without a chain: a deterministic stand-in for the venue's engine.

:func:`write_run` writes a complete run folder of format ``perpsim-run/2`` through
:class:`simulator.results.RunWriter`, with a market row per market per step and the venue's
``ALL`` row (:func:`simulator.results.venue_total_row`), liquidation, insurance payout and ADL
events per market, and positions of cross accounts holding several markets. The figures are
made up but consistent (the writer checks the long-format rule), so the comparison, the report
and the app can be tested on several markets before the engine runs them.
:func:`write_comparison` writes a comparison folder of such runs through
:func:`simulator.compare.write_outputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulator.results import RunWriter, venue_total_row

#: Markets of the toy venue: symbol -> (start price USD, fall of the shock as a fraction).
MARKETS = {"BTC": (100_000.0, 0.12), "ETH": (4_000.0, 0.16), "SOL": (200.0, 0.31),
           "DOGE": (0.25, 0.5), "ALT": (2.0, 0.8)}  # fmt: skip
ACCOUNTS = 6


def write_run(
    run_dir: Path,
    markets: Sequence[str] = tuple(MARKETS),
    *,
    steps: int = 12,
    seed: int = 1,
    severity: float = 1.0,
    feedback: bool = True,
    name: str = "toy-venue",
) -> dict:
    """Write a complete multi-market run folder; return its summary.

    ``severity`` scales every loss (liquidations, bad debt, payouts, ADL), so two control sets
    of a comparison differ; ``feedback`` False keeps the oracle on the exogenous path.
    """
    rng = np.random.default_rng(seed)
    scenario = {"name": name, "seed": seed, "steps": steps,
                "markets": [{"symbol": m} for m in markets],
                "controls": {"feedback": feedback}}  # fmt: skip
    writer = RunWriter(run_dir, scenario=scenario, chain_id=31337,
                       bytecode_hashes={"PerpVenue": "0xabc"})  # fmt: skip
    shock = steps // 3
    events, fund = [], 1_000_000.0
    with writer:
        for step in range(1, steps + 1):
            rows = []
            for i, symbol in enumerate(markets):
                start, fall = MARKETS[symbol]
                progress = min(max(step - shock, 0) / 3, 1.0)
                exogenous = start * (1 - fall * progress) * (1 + 0.002 * rng.standard_normal())
                oracle = exogenous * (1 - (0.1 * severity * progress if feedback else 0.0))
                hit = step > shock and step <= shock + 3
                liquidated = severity * 1_000.0 * (i + 1) * step if hit else 0.0
                bad_debt = severity * 10.0 * (i + 1) if hit and i >= 2 else 0.0
                haircut = bad_debt / 2
                rows.append({
                    "step": step, "timestamp_s": 60 * step, "market": symbol,
                    "price_exogenous_usd": exogenous, "price_oracle_usd": oracle,
                    "price_mark_usd": oracle, "price_amm_usd": oracle,
                    "oi_long_usd": 1e6 * (i + 1), "oi_short_usd": 8e5 * (i + 1),
                    "liquidated_notional_long_usd": liquidated,
                    "liquidated_notional_short_usd": liquidated / 10,
                    "accounts_liquidated": 1 if hit else 0,
                    "adl_haircut_usd": haircut, "adl_overshoot_usd": haircut / 10,
                    "bad_debt_usd": bad_debt - haircut, "bad_debt_final_usd": 0.0,
                    "funding_rate": 1e-5 * (i + 1),
                    "fees_usd": 1.0 + i,
                })  # fmt: skip
                if hit:
                    account = f"0x{(step + i) % ACCOUNTS:040x}"
                    events.append({"step": step, "kind": "liquidation", "market": symbol,
                                   "account": account, "side": "long", "size_base": 1.0,
                                   "price_usd": oracle, "notional_usd": liquidated,
                                   "amount_usd": liquidated / 100})  # fmt: skip
                    if bad_debt:
                        fund -= 2 * bad_debt
                        events.append({"step": step, "kind": "insurance_payout", "market": symbol,
                                       "account": account, "amount_usd": 2 * bad_debt})  # fmt: skip
                        events.append({"step": step, "kind": "adl_fill", "market": symbol,
                                       "account": f"0x{(step + i + 1) % ACCOUNTS:040x}",
                                       "side": "short", "size_base": 0.5, "price_usd": oracle,
                                       "notional_usd": 0.5 * oracle, "amount_usd": haircut})  # fmt: skip
            distinct = len({e["account"] for e in events if e["step"] == step
                            and e["kind"] == "liquidation"})  # fmt: skip
            venue = {"insurance_fund_usd": fund, "backstop_equity_usd": 5e5,
                     "backstop_share_price": 1.0, "transactions": 10}  # fmt: skip
            writer.add_step([*rows, venue_total_row(rows, accounts_liquidated=distinct,
                                                    venue=venue)])  # fmt: skip
        writer.add_events(events)
        positions = {c: [] for c in ("account", "market", "side", "collateral_usd", "size_base",
                                     "entry_price_usd", "leverage",
                                     "liquidation_price_at_open_usd", "opened_step", "outcome",
                                     "outcome_step", "realized_pnl_usd")}  # fmt: skip
        for a in range(ACCOUNTS):
            for i, symbol in enumerate(markets):
                if (a + i) % 2:  # every account holds about half the markets (cross)
                    continue
                start = MARKETS[symbol][0]
                liquidated = any(e["account"] == f"0x{a:040x}" and e["market"] == symbol
                                 and e["kind"] == "liquidation" for e in events)  # fmt: skip
                for key, value in (("account", f"0x{a:040x}"), ("market", symbol),
                                   ("side", "long" if a % 3 else "short"),
                                   ("collateral_usd", 1_000.0), ("size_base", 10_000.0 / start),
                                   ("entry_price_usd", start), ("leverage", 10.0),
                                   ("liquidation_price_at_open_usd", 0.92 * start),
                                   ("opened_step", 0),
                                   ("outcome", "liquidated" if liquidated else "open"),
                                   ("outcome_step", shock + 1 if liquidated else None),
                                   ("realized_pnl_usd", -1_000.0 if liquidated else None)):  # fmt: skip
                    positions[key].append(value)
        meta = {"traders": ACCOUNTS, "steps": steps, "wall_seconds": 0.0,
                "markets": {m: {"start_price": MARKETS[m][0]} for m in markets}}  # fmt: skip
        return writer.finish(positions, meta=meta)


def write_comparison(
    out: Path,
    controls: Sequence[str] = ("baseline", "leverage_cap"),
    paths: int = 2,
    markets: Sequence[str] = tuple(MARKETS),
    scenario=None,
) -> dict:
    """A comparison folder of toy-venue runs (control set ``i`` at severity ``1 / (i + 1)``,
    path ``p`` with seed ``p + 1``) and its outputs (:func:`simulator.compare.write_outputs`);
    returns what that returns. ``scenario`` (default the ``oct-2025`` preset) only names what
    ran in the outputs' provenance."""
    from simulator.compare import write_outputs
    from simulator.scenario import load_scenario

    scenario = scenario or load_scenario("oct-2025")
    results, plan = {}, []
    for i, control in enumerate(controls):
        results[control] = []
        for p in range(paths):
            run_dir = out / "runs" / control / f"path-{p}"
            results[control].append(write_run(run_dir, markets, seed=p + 1, severity=1 / (i + 1)))
            plan.append({"control": control, "path": p, "feedback": True,
                         "run_dir": f"runs/{control}/path-{p}", "scenario_fingerprint": ""})  # fmt: skip
    write_run(out / "runs" / controls[0] / "path-0-no-feedback", markets, seed=1, feedback=False)
    plan.append({"control": controls[0], "path": 0, "feedback": False,
                 "run_dir": f"runs/{controls[0]}/path-0-no-feedback",
                 "scenario_fingerprint": ""})  # fmt: skip
    return write_outputs(out, scenario, controls, results, plan, "sha256:toy", {"PerpVenue": "0x1"})
