"""A tuning evaluation on the mirror builds only the event rows its summary and the step rows
read (:data:`simulator.mirror.run.EVALUATION_EVENT_KINDS`, the engine's
:attr:`~simulator.engine.context.Context.event_kinds`): its step rows, its kept event rows and
the engine's end state are those of the full run, its events those of the full run filtered
by kind, in the same order, and its summary the full run's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.mirror.run import EVALUATION_EVENT_KINDS, run_paths, simulate_mirror, summary_of
from simulator.scenario import load_scenario


@pytest.fixture(scope="module")
def oct_runs():
    """oct-2025 (order flow, the market-making vault, top-ups, the crash's liquidations and
    insurance payouts) on the fast mirror: the full run and the evaluation's."""
    scenario = load_scenario("oct-2025", [])
    full = simulate_mirror(scenario, mode="fast")
    kept = simulate_mirror(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    return scenario, full, kept


def test_the_kept_rows_are_the_full_runs_filtered(oct_runs):
    _, (_, full_rows, full_events, _), (_, rows, events, _) = oct_runs
    assert rows == full_rows
    want = [e for e in full_events if e["kind"] in EVALUATION_EVENT_KINDS]
    assert events == want
    # The run drops most rows (open, close, fills, top-ups, ...), and keeps the liquidations.
    assert len(events) < len(full_events) / 10
    kinds = {e["kind"] for e in events}
    assert {"liquidation", "insurance_payout"} <= kinds
    dropped = {e["kind"] for e in full_events} - kinds
    assert {"open", "close", "mm_vault_fill", "top_up", "order_flow_unfilled"} <= dropped


def test_the_engine_ends_in_the_same_state(oct_runs):
    _, (full, *_), (kept, *_) = oct_runs
    a, b = full.state, kept.state
    for name in ("size_base", "entry_price_usd", "collateral_in_usd", "wallet_usd"):
        assert np.array_equal(getattr(a.trader, name), getattr(b.trader, name), equal_nan=True)
    for name in ("outcome", "outcome_step", "realized_pnl_usd", "opens", "flow_open_size_base"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
    assert pd.DataFrame(full.positions()).equals(pd.DataFrame(kept.positions()))


def test_the_summary_is_the_full_runs(oct_runs):
    scenario, (full, rows, events, _), _ = oct_runs
    want = {k: v for k, v in summary_of(full, rows, events, 1.0).items() if k != "wall_seconds"}
    (got,) = run_paths(scenario, [scenario.seed], mode="fast")
    assert {k: v for k, v in got.items() if k != "wall_seconds"} == want


def test_a_run_without_event_kinds_keeps_every_row(oct_runs):
    """The default (a run folder's): nothing is dropped (the full run has every kind)."""
    _, (_, _, full_events, _), _ = oct_runs
    assert {"open", "close", "mm_vault_fill", "top_up"} <= {e["kind"] for e in full_events}
