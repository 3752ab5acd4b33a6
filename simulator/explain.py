"""Why a control set gives the baseline's figures (issue 11, item 6): measured from its runs,
never a sentence written per control.

A control set "gives the baseline's figures" when each of :data:`HEADLINE_METRICS` is equal,
path by path, to the baseline's. :func:`same_as_baseline` then says what its runs show:

- a governance change (``controls.governance_change``) that never took effect within the run
  (no ``governance_executed`` event; the submission step, the delay in steps and the last step
  from the scenario), or the step it took effect and, when the same, the notional its runs and
  the baseline's liquidated from then on;
- a circuit-breaker band (``circuit_breaker_max_move_bps``) wider than the oracle's largest
  one-step move in the runs (``steps.parquet``);
- an open-interest cap (``oi_cap_usd``, per market and side) against the largest open interest
  of any market's side in the runs (``steps.parquet``: ``oi_long_usd`` / ``oi_short_usd``);
- how many positions opened after step 0 (``positions.parquet``): a control that acts on new
  risk (leverage caps, OI caps, margins, a parameter change) has nothing to act on without
  them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.results import RunReader
from simulator.scenario import Scenario, parse_scenario

__all__ = [
    "HEADLINE_METRICS",
    "same_figures",
    "same_as_baseline",
    "largest_step_move_bps",
    "largest_open_interest",
]

#: The headline figures compared with the baseline's (summary keys).
HEADLINE_METRICS = (
    "liquidated_notional_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "insurance_fund_drawdown_usd",
    "adl_haircut_usd",
    "system_loss_usd",
)


def same_figures(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    """Whether two run sets have equal :data:`HEADLINE_METRICS` on every path.

    >>> same_figures([{"bad_debt_usd": 1.0}], [{"bad_debt_usd": 1.0}])
    True
    >>> same_figures([{"bad_debt_usd": 1.0}], [{"bad_debt_usd": 2.0}])
    False
    """
    if len(a) != len(b):
        return False
    return all(x.get(m) == y.get(m) for x, y in zip(a, b, strict=True) for m in HEADLINE_METRICS)


def largest_step_move_bps(reader: RunReader) -> float:
    """The largest move of any market's oracle price from one step to the next (bps)."""
    steps = reader.steps
    largest = 0.0
    for symbol in reader.markets:
        price = steps[steps["market"] == symbol].sort_values("step")["price_oracle_usd"]
        price = price.to_numpy(dtype=float)
        if len(price) > 1:
            moves = np.abs(np.diff(price) / price[:-1])
            moves = moves[np.isfinite(moves)]
            if len(moves):
                largest = max(largest, float(moves.max()) * 1e4)
    return largest


def largest_open_interest(reader: RunReader) -> tuple[float, str, int, str]:
    """The largest open interest of any market's side over the run: (USD at the index price,
    market, step, ``"long"`` or ``"short"``); (0, "", 0, "") for a run without market rows."""
    steps = reader.steps
    markets = steps[steps["market"] != "ALL"]
    best = (0.0, "", 0, "")
    for side in ("long", "short"):
        column = markets[f"oi_{side}_usd"].to_numpy(dtype=float)
        if len(column) and np.isfinite(column).any():
            i = int(np.nanargmax(column))
            if column[i] > best[0]:
                row = markets.iloc[i]
                best = (float(column[i]), str(row["market"]), int(row["step"]), side)
    return best


def _oi_cap(cap_usd: float, readers: Sequence[RunReader]) -> str:
    usd, market, step, side = max(largest_open_interest(r) for r in readers)
    if usd < cap_usd:
        return (
            f"the open interest never reached the cap: its largest side was {_usd(usd)} USD "
            f"({market} {side}s, step {step:,}) against a cap of {_usd(cap_usd)} USD per market "
            "and side"
        )
    return (
        f"the open interest reached the cap of {_usd(cap_usd)} USD ({market} {side}s, "
        f"{_usd(usd)} USD at step {step:,}) without changing the headline figures"
    )


def _liquidated_from(reader: RunReader, step: int) -> float:
    venue = reader.venue_steps
    after = venue[venue["step"] >= step]
    return float(
        (after["liquidated_notional_long_usd"] + after["liquidated_notional_short_usd"]).sum()
    )


def _governance(scenario: Scenario, readers: Sequence[RunReader], base: Sequence[RunReader]) -> str:
    executed = []
    for reader in readers:
        events = reader.events
        done = events[events["kind"] == "governance_executed"]
        executed.append(int(done["step"].min()) if len(done) else None)
    steps_run = int(scenario.steps)
    change = readers[0].scenario.get("controls", {}).get("governance_change") or {}
    step = change.get("step")
    if all(e is None for e in executed):
        delay = 0
        if change.get("path") == "timelock":
            run_scenario = parse_scenario(readers[0].scenario, label=str(readers[0].run_dir))
            delay = run_scenario.venue_params().governance.timelock_delay_s
        text = f"the governance change submitted at step {step} never took effect within the run"
        if delay:
            due = int(step) + max(1, math.ceil(int(delay) / scenario.step_seconds))
            text += (
                f" (timelock delay {int(delay):,} s: in force at step {due:,}, the run's last "
                f"step is {steps_run:,})"
            )
        else:
            text += f" (the run's last step is {steps_run:,})"
        return text
    known = sorted({e for e in executed if e is not None})
    text = f"the governance change took effect at step {known[0]}" + (
        "" if len(known) == 1 else f"-{known[-1]}"
    )
    liquidated = sum(_liquidated_from(r, known[0]) for r in readers) / len(readers)
    baseline = sum(_liquidated_from(r, known[0]) for r in base) / len(base)
    if liquidated == baseline:
        text += (
            f", and from then on its runs liquidated what the baseline's did ({_usd(baseline)} "
            "USD a path)"
        )
    return text


def _usd(value: float) -> str:
    from simulator.stats import _fmt

    return _fmt(value)


def _new_risk(readers: Sequence[RunReader]) -> str:
    opened = 0
    for reader in readers:
        positions = reader.positions
        live = positions[positions["outcome"] != "refused"]
        opened += int((live["opened_step"] > 0).sum())
    if opened == 0:
        return (
            "no position opened after step 0 on any path (positions.parquet): a control that "
            "acts on new positions had none to act on"
        )
    return f"{opened} positions opened after step 0 over {len(readers)} paths"


def same_as_baseline(
    scenario: Scenario,
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    run_dirs: Mapping[str, Sequence[str | Path]],
    differences: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """``{control set: why}`` for every set other than ``baseline`` whose headline figures
    equal the baseline's on every path (:func:`same_figures`).

    Parameters
    ----------
    scenario : Scenario
        The scenario compared (its steps and step length).
    results : mapping
        Each set's run summaries (path 0 first); needs ``baseline``.
    run_dirs : mapping
        Each set's run folders, in the same order.
    differences : mapping
        What each set changes (:func:`simulator.report.scenario_differences`).
    """
    base = results.get("baseline")
    if base is None:
        return {}
    out: dict[str, str] = {}
    base_readers = [RunReader(d) for d in run_dirs["baseline"]]
    for control, runs in results.items():
        if control == "baseline" or not same_figures(runs, base):
            continue
        readers = [RunReader(d) for d in run_dirs[control]]
        changed = differences.get(control) or {}
        parts = []
        if any(k.startswith("controls.governance_change") for k in changed):
            parts.append(_governance(scenario, readers, base_readers))
        band = changed.get("controls.circuit_breaker_max_move_bps")
        if band is not None:
            move = max(largest_step_move_bps(r) for r in readers)
            parts.append(
                f"the oracle's largest one-step move was {move:,.0f} bps against a band of "
                f"{int(band):,} bps"
            )
        cap = changed.get("controls.oi_cap_usd")
        if cap is not None:
            parts.append(_oi_cap(float(cap), readers))
        parts.append(_new_risk(readers))
        out[control] = "; ".join(parts)
    return out
