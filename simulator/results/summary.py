"""``summary.json``: the headline figures of a run, computed from its tables (see "Summary" in
:mod:`simulator.results`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from simulator.results.atomic import _jsonable
from simulator.results.schema import LIQUIDATION_EVENT_KINDS, NONDETERMINISTIC_SUMMARY_KEYS


def _col_sum(frame: pd.DataFrame, name: str) -> float:
    return float(frame[name].sum()) if name in frame and len(frame) else 0.0


def summarize(
    steps_df: pd.DataFrame,
    events_df: pd.DataFrame,
    positions_df: pd.DataFrame,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The headline figures of a run, computed from its tables (see "Summary" above).

    Parameters
    ----------
    steps_df, events_df, positions_df : pandas.DataFrame
        The run's tables (columns as documented; ``positions_df`` is not used yet but is part
        of the signature so figures can come from it later).
    meta : mapping
        ``traders`` (int), ``steps`` (int) and ``wall_seconds`` (float) are required. A value
        for any other summary key replaces the computed one (for figures the engine knows
        better, e.g. ``backstop_pnl_usd`` when LPs deposited or withdrew during the run).
        ``start_price`` (USD) is the configured price at step 0, which ``steps.parquet`` does
        not hold (its first row is step 1's); it is also the start of
        ``price_amplification``. Without it, the first row's exogenous price stands in.
        ``bad_debt_usd`` (USD), when given, is the bad debt left uncovered at the end as the
        chain's ledger holds it (exact: 0 when ADL covered everything); without it, the sum
        of the step column stands in (a sum of float differences, off by about 1e-11 USD
        where it should be 0).

    Returns
    -------
    dict
        Keys :data:`SUMMARY_KEYS` in that order (plus any extra keys of ``meta`` after them,
        except ``traders``/``steps``/``wall_seconds`` which are in the list). Money in USD;
        ``price_amplification`` and the prices are ``None`` for a run with no steps.

    Examples
    --------
    >>> steps = pd.DataFrame({"step": [1, 2], "price_exogenous_usd": [90.0, 95],
    ...                       "price_oracle_usd": [85.0, 95]})
    >>> s = summarize(steps, pd.DataFrame(), pd.DataFrame(),
    ...               {"traders": 1, "steps": 2, "wall_seconds": 0.1, "start_price": 100.0})
    >>> s["start_price"], s["price_amplification"]
    (100.0, 1.5)
    """
    for key in ("traders", "steps", "wall_seconds"):
        if key not in meta:
            raise ValueError(f"summarize: meta lacks {key!r}")
    steps_df = steps_df.sort_values("step") if "step" in steps_df else steps_df
    long_usd = _col_sum(steps_df, "liquidated_notional_long_usd")
    short_usd = _col_sum(steps_df, "liquidated_notional_short_usd")

    if len(events_df) and "kind" in events_df:
        liq = events_df[events_df["kind"].isin(LIQUIDATION_EVENT_KINDS)]
    else:
        liq = pd.DataFrame()
    if len(liq):
        liquidated_accounts = int(liq["account"].dropna().nunique())
    else:
        liquidated_accounts = int(_col_sum(steps_df, "accounts_liquidated"))

    drawdown = 0.0
    if "insurance_fund_usd" in steps_df and len(steps_df):
        fund = steps_df["insurance_fund_usd"].to_numpy(dtype=float)
        drawdown = float(np.max(np.maximum.accumulate(fund) - fund))

    backstop_pnl = 0.0
    if {"backstop_equity_usd", "backstop_share_price"} <= set(steps_df) and len(steps_df):
        equity0 = float(steps_df["backstop_equity_usd"].iloc[0])
        share0 = float(steps_df["backstop_share_price"].iloc[0])
        share1 = float(steps_df["backstop_share_price"].iloc[-1])
        if equity0 > 0 and share0 > 0:
            backstop_pnl = (share1 / share0 - 1.0) * equity0

    start = exo_min = seen_min = amplification = None
    if meta.get("start_price") is not None:
        start = float(meta["start_price"])
    if len(steps_df) and "price_exogenous_usd" in steps_df:
        if start is None:
            start = float(steps_df["price_exogenous_usd"].iloc[0])
        exo_min = float(steps_df["price_exogenous_usd"].min())
        oracle = steps_df["price_oracle_usd"] if "price_oracle_usd" in steps_df else None
        seen_min = float(oracle.min()) if oracle is not None else exo_min
        exogenous_fall = start - exo_min
        if exogenous_fall > 1e-12 * max(abs(start), 1.0):
            amplification = (start - seen_min) / exogenous_fall

    summary: dict[str, Any] = {
        "traders": int(meta["traders"]),
        "steps": int(meta["steps"]),
        "transactions": int(_col_sum(steps_df, "transactions")),
        "wall_seconds": float(meta["wall_seconds"]),
        "liquidated_notional_usd": long_usd + short_usd,
        "liquidated_notional_long_usd": long_usd,
        "liquidated_notional_short_usd": short_usd,
        "liquidated_accounts": liquidated_accounts,
        "bad_debt_usd": (
            float(meta["bad_debt_usd"])
            if meta.get("bad_debt_usd") is not None
            else _col_sum(steps_df, "bad_debt_usd")
        ),
        "insurance_fund_drawdown_usd": drawdown,
        "backstop_pnl_usd": backstop_pnl,
        "adl_haircut_usd": _col_sum(steps_df, "adl_haircut_usd"),
        "adl_overshoot_usd": _col_sum(steps_df, "adl_overshoot_usd"),
        "start_price": start,
        "exogenous_min_price": exo_min,
        "min_price": seen_min,
        "price_amplification": amplification,
        "fees_usd": _col_sum(steps_df, "fees_usd"),
    }
    for key, value in meta.items():
        summary[key] = _jsonable(value)
    return summary


def deterministic_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without the keys that vary between identical runs (``wall_seconds``)."""
    return {k: v for k, v in summary.items() if k not in NONDETERMINISTIC_SUMMARY_KEYS}
