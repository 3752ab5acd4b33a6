"""A tuning path's step figures (:class:`simulator.engine.metrics.StepFigures`, kept by
:func:`~simulator.engine.metrics.step_rows` as it builds the rows) against the rows they stand
for: the same rows with or without them, the same columns as
:func:`~simulator.results.summary.summary_columns` reads out of the rows (bit for bit), and the
same summary, on drawn steps and on an oct-2025 run of 700 steps (its crash included); the
figures alone (``rows=False``, a tuning path's, no rows built) the same bits as with the rows.
:func:`~simulator.mirror.run.run_paths`' summary against a full run's rows' summary:
``tests/mirror/test_mirror_evaluation_rows.py``."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from simulator.engine.events import ADL_KINDS, LIQUIDATION_KINDS
from simulator.engine.metrics import FIGURES_MEMO, StepFigures, step_rows
from simulator.mirror.run import EVALUATION_EVENT_KINDS, summary_of, summary_of_figures
from simulator.mirror.sim import MirrorEngine
from simulator.results.summary import SUMMARY_STEP_COLUMNS, summary_columns
from simulator.results.summary_arrays import summarize_columns
from simulator.scenario import load_scenario

SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
KINDS = (*LIQUIDATION_KINDS, *ADL_KINDS, "bad_debt_final", "close", "insurance_payout",
         "adl_fill")  # fmt: skip


def _float(rng: np.random.Generator) -> float:
    """A float of both signs and many magnitudes, or a special (zeros, NaN, infinity)."""
    if rng.random() < 0.1:
        return float(rng.choice([0.0, -0.0, np.nan, np.inf, 1e-300, 3.0]))
    return float(rng.normal() * 10.0 ** rng.integers(-6, 10))


def _event(rng: np.random.Generator, m: int, step: int) -> dict[str, Any]:
    kind = str(rng.choice(KINDS))
    maybe = lambda: None if rng.random() < 0.2 else _float(rng)  # noqa: E731
    detail = json.dumps({"overshoot_usd": _float(rng)}) if kind in ADL_KINDS else ""
    return {
        "step": step,
        "kind": kind,
        "market": None if rng.random() < 0.05 else SYMBOLS[int(rng.integers(0, m))],
        "account": f"0x{int(rng.integers(0, 6)):040x}",
        "side": str(rng.choice(["long", "short"])) if rng.random() < 0.9 else None,
        "notional_usd": maybe(),
        "amount_usd": maybe() if kind != "bad_debt_final" else _float(rng),
        "detail": detail,
    }


def _levels(rng: np.random.Generator, m: int, vault: int) -> dict[str, Any]:
    arrays = ("index_usd", "mark_usd", "amm_price_usd", "oi_long_base", "oi_short_base",
              "funding_rate_per_hour", "bad_debt_usd", "fees_cum_usd", "mm_vault_size_base")  # fmt: skip
    levels: dict[str, Any] = {k: np.array([_float(rng) for _ in range(m)]) for k in arrays}
    supply = int(rng.choice([0, 10**12, int(rng.integers(1, 10**15))]))
    levels.update(
        insurance_fund_usd=_float(rng), vault_assets_usd=_float(rng) if supply else 0.0,
        vault_supply=supply,
    )  # fmt: skip
    if vault:  # no key, NaN (no vault), an equity
        levels["mm_vault_equity_usd"] = np.nan if vault == 1 else _float(rng)
    return levels


def _drawn_run(seed: int) -> tuple[list[dict], list[dict], StepFigures, tuple[str, ...]]:
    """Drawn steps through :func:`step_rows` three times: without figures, with figures
    and rows, with the figures alone (``rows=False``: no rows)."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, len(SYMBOLS) + 1))
    symbols = SYMBOLS[:m]
    steps = int(rng.integers(0, 12))
    vault = int(rng.integers(0, 3))
    figures = StepFigures(steps, symbols)
    alone = StepFigures(steps, symbols, rows=False)
    plain: list[dict] = []
    kept: list[dict] = []
    events_all: list[dict] = []
    for t in range(steps + 1):
        levels = _levels(rng, m, vault)
        events = [_event(rng, m, t) for _ in range(int(rng.integers(0, 8)) * (rng.random() < 0.6))]
        args = (t, 60, symbols, np.array([_float(rng) for _ in range(m)]), levels, events,
                int(rng.integers(0, 500)))  # fmt: skip
        kw = dict(
            previous_bad_debt_usd=np.array([_float(rng) for _ in range(m)]),
            previous_fees_usd=np.array([_float(rng) for _ in range(m)]),
            outside_usd=None if rng.random() < 0.5 else np.array([_float(rng) for _ in range(m)]),
        )
        plain += step_rows(*args, **kw)
        kept += step_rows(*args, **kw, figures=figures)
        assert step_rows(*args, **kw, figures=alone) == []
        events_all += events
    assert json.dumps(kept) == json.dumps(plain)  # the rows do not change (NaN as NaN)
    for name in ("table", "flows", "venue", "filled"):  # the figures alone are the same bits
        a, b = getattr(alone, name), getattr(figures, name)
        assert a.tobytes() == b.tobytes(), name
    return kept, events_all, figures, symbols


def _same_columns(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == list(want)
    for name, values in want.items():
        if values.dtype == object:
            assert got[name].tolist() == values.tolist(), name
            continue
        mine = got[name]
        if values.dtype == np.int64 and name != "step":  # a whole count held as a float
            assert mine.dtype == np.float64 and np.array_equal(mine, values), name
            continue
        assert mine.dtype == values.dtype, name
        assert np.array_equal(mine, values, equal_nan=True), name
        assert np.array_equal(np.signbit(mine), np.signbit(values)), name


def _meta(steps: int, symbols) -> dict[str, Any]:
    return {"traders": 3, "steps": steps, "wall_seconds": 0.5, "start_price": 100.0}


@pytest.mark.parametrize("seed", range(40))
def test_drawn_figures_are_the_rows_columns(seed):
    rows, events, figures, symbols = _drawn_run(seed)
    steps, event_columns = summary_columns(rows, events)
    got = figures.columns(SUMMARY_STEP_COLUMNS)
    _same_columns(got, steps)
    meta = _meta(len(figures.filled) - 1, symbols)
    want = summarize_columns(steps, event_columns, meta)
    assert json.dumps(summarize_columns(got, event_columns, meta)) == json.dumps(want)


def test_a_step_not_built_is_refused():
    figures = StepFigures(3, ("BTC",))
    with pytest.raises(ValueError, match="step 0 was not built"):
        figures.columns(SUMMARY_STEP_COLUMNS)
    figures.filled[:] = True
    with pytest.raises(ValueError, match="no column 'funding_rate'"):
        figures.columns(("funding_rate",))


@pytest.fixture(scope="module")
def oct_run():
    """oct-2025's first 700 steps (the crash at step 600 and its liquidations, the order flow,
    the market-making vault) on the fast mirror as a tuning path runs it, the rows kept too."""
    scenario = load_scenario("oct-2025", ["steps=700"])
    engine = MirrorEngine(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    figures = StepFigures(scenario.steps, engine.symbols)
    engine.ctx.memo[FIGURES_MEMO] = figures
    rows: list[dict] = []
    events: list[dict] = []

    def collect(outcome) -> None:
        rows.extend(outcome.rows)
        events.extend(outcome.events)

    engine.run(on_step=collect)
    figures.add_opening_transactions(engine.world.opening_transactions)
    return engine, figures, rows, events


def test_oct_figures_are_the_rows_columns(oct_run):
    _, figures, rows, events = oct_run
    steps, _ = summary_columns(rows, events)
    _same_columns(figures.columns(SUMMARY_STEP_COLUMNS), steps)
    assert len(rows) == 701 * 6


def test_oct_summary_is_the_rows_summary(oct_run):
    engine, figures, rows, events = oct_run
    want = summary_of(engine, rows, events, 1.25)
    got = summary_of_figures(engine, figures, events, 1.25)
    assert json.dumps(got) == json.dumps(want)
    assert want["liquidated_accounts"] > 0 and want["transactions"] > 0
    assert not math.isnan(want["insurance_fund_drawdown_usd"])
