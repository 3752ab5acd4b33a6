"""``perpsim facts``: how close a run, or a comparison's runs, come to the October 10-11, 2025
cascade (``/work/shared/REFERENCES.md``, section "October 10-11, 2025").

Each fact is one :class:`Fact` entry of :data:`FACTS`: its name, the October value and its
source, the unit, the tolerance (a closed interval in that unit) and a function of one run
folder (:class:`RunData`) that measures it, or says why it cannot (:class:`NotMeasured`).
Adding a fact is adding one entry.

Over paths (:func:`facts_table`): every path's value of a fact is measured; the simulated value
is their mean with the 95% BCa bootstrap interval of the mean (:func:`simulator.stats.
mean_interval`, seeded from the scenario's seed), and ``n`` the number of paths measured. A
single run folder has ``n = 1``: no interval. The fact **holds** when the mean lies within the
tolerance; a fact no path measures holds neither way (``None``) and says why.

Which runs: a run folder is one path. A comparison folder (``compare.json``) is read at its
``baseline`` control set (the scenario's own controls: the facts are about the scenario as
calibrated, not about a control that changes it), or at its first control set when it has no
baseline; ``control=`` names another. The runs without feedback are never read.

Outputs (:func:`write_facts`): ``facts.md`` (the table) and ``facts.json`` (the table as
records and the run folders read) in the folder given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from simulator.errors import PerpsimError
from simulator.results import MANIFEST, RunReader, atomic_write_json, atomic_write_text
from simulator.results.errors import ResultsError
from simulator.stats import markdown_table, metric_stats

__all__ = [
    "FACTS",
    "FACT_COLUMNS",
    "Fact",
    "FactsError",
    "NotMeasured",
    "RunData",
    "fact_runs",
    "mm_vault_accounts",
    "facts_table",
    "render_facts",
    "facts_markdown",
    "write_facts",
    "run_facts",
]

#: Where the October figures come from (all from ``REFERENCES.md``'s October section).
_HL = "Hyperliquid, Oct 10 2025 (REFERENCES.md: October 10-11, 2025)"
_MARKET = "market-wide, Oct 10-11 2025 (REFERENCES.md: October 10-11, 2025)"


class FactsError(PerpsimError):
    """The folder is not a run or comparison folder, or its runs cannot be read."""


@dataclass(frozen=True)
class NotMeasured:
    """What a run cannot measure of a fact, and why (shown in place of a number)."""

    reason: str
    """Why the run cannot measure the fact (one short clause)."""


class RunData:
    """One complete run folder, read lazily: its summary, steps, events, positions, scenario.

    Parameters
    ----------
    run_dir : str or Path
        A complete run folder.
    """

    def __init__(self, run_dir: str | Path):
        self.reader = RunReader(run_dir)

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json``."""
        return self.reader.summary

    @property
    def steps(self) -> pd.DataFrame:
        """``steps.parquet`` (per-market long format)."""
        return self.reader.steps

    @property
    def venue_steps(self) -> pd.DataFrame:
        """The venue-total rows, one per step."""
        return self.reader.venue_steps

    @property
    def events(self) -> pd.DataFrame:
        """``events.parquet``."""
        return self.reader.events

    @property
    def positions(self) -> pd.DataFrame:
        """``positions.parquet``."""
        return self.reader.positions

    @property
    def markets(self) -> tuple[str, ...]:
        """The run's market symbols."""
        return self.reader.markets

    @cached_property
    def shock_step(self) -> int | None:
        """The first scheduled shock's step (any common or market shock of the scenario in the
        manifest), or ``None`` when the scenario schedules none."""
        scenario = self.reader.scenario
        shocks = list((scenario.get("price_path") or {}).get("shocks") or [])
        for market in scenario.get("markets") or []:
            shocks += list(((market or {}).get("path") or {}).get("shocks") or [])
        steps = [int(s["step"]) for s in shocks if isinstance(s, Mapping) and "step" in s]
        return min(steps) if steps else None


@dataclass(frozen=True)
class Fact:
    """One October fact and how a run measures it."""

    key: str
    """Identifier (``facts.json``)."""
    name: str
    """What the fact is, as the table shows it."""
    october: float
    """The October value (in :attr:`unit`)."""
    october_text: str
    """The October value as published (``91% of liquidated notional``)."""
    source: str
    """Where the October value comes from."""
    unit: str
    """Unit of the value, the measure and the tolerance (``fraction``, ``x``)."""
    low: float
    """Lower end of the tolerance (in :attr:`unit`, inclusive)."""
    high: float
    """Upper end of the tolerance (in :attr:`unit`, inclusive)."""
    tolerance_text: str
    """Why this tolerance (shown beside it)."""
    measure: Callable[[RunData], float | NotMeasured]
    """The fact's value in one run (in :attr:`unit`), or why it cannot be measured."""
    how: str
    """How the run measures it (the table's ``measured as`` column)."""

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies within the tolerance."""
        return self.low <= value <= self.high


# -- measures ------------------------------------------------------------------------------------


def _long_share(run: RunData) -> float | NotMeasured:
    s = run.summary
    long_ = float(s.get("liquidated_notional_long_usd") or 0.0)
    total = long_ + float(s.get("liquidated_notional_short_usd") or 0.0)
    if total <= 0:
        return NotMeasured("nothing was liquidated")
    return long_ / total


def max_drawdown(prices: np.ndarray, start: float | None = None) -> float:
    """Largest fall from a running peak, as a fraction of the peak (0 when prices only rise).

    Examples
    --------
    >>> max_drawdown(np.array([100.0, 120.0, 90.0, 110.0, 60.0]))
    0.5
    >>> round(max_drawdown(np.array([90.0, 95.0]), start=100.0), 12)  # 1 - 90/100 in floats
    0.1
    """
    x = np.asarray(prices, dtype=float)
    x = x[np.isfinite(x)]
    if start is not None and math.isfinite(start):
        x = np.concatenate([[start], x])
    if not len(x):
        return float("nan")
    peak = np.maximum.accumulate(x)
    return float(np.max(1.0 - x / peak))


def _price_fall(symbols: Sequence[str]) -> Callable[[RunData], float | NotMeasured]:
    def measure(run: RunData) -> float | NotMeasured:
        present = [s for s in symbols if s in run.markets]
        if not present:
            return NotMeasured(f"the run has no {' or '.join(symbols)} market")
        falls = []
        for symbol in present:
            rows = run.steps[run.steps["market"] == symbol].sort_values("step")
            start = ((run.summary.get("markets") or {}).get(symbol) or {}).get("start_price")
            falls.append(max_drawdown(rows["price_oracle_usd"].to_numpy(), start))
        return float(np.mean(falls))

    return measure


def _before_shock(run: RunData) -> tuple[pd.DataFrame, int] | NotMeasured:
    if run.shock_step is None:
        return NotMeasured("the scenario schedules no shock")
    return run.venue_steps.sort_values("step"), run.shock_step


def _oi_fall(run: RunData) -> float | NotMeasured:
    found = _before_shock(run)
    if isinstance(found, NotMeasured):
        return found
    venue, shock = found
    oi = venue["oi_long_usd"] + venue["oi_short_usd"]
    before = oi[venue["step"] < shock]
    if not len(before) or before.iloc[-1] <= 0:
        return NotMeasured("no open interest before the shock")
    return 1.0 - float(oi.iloc[-1]) / float(before.iloc[-1])


def _deficit_share(run: RunData) -> float | NotMeasured:
    s = run.summary
    liquidated = float(s.get("liquidated_notional_usd") or 0.0)
    if liquidated <= 0:
        return NotMeasured("nothing was liquidated")
    deficit = 0.0
    for m in (s.get("markets") or {}).values():
        deficit += float(m.get("insurance_payout_usd") or 0.0)
        deficit += float(m.get("adl_haircut_usd") or 0.0) - float(m.get("adl_overshoot_usd") or 0.0)
        deficit += float(m.get("bad_debt_usd") or 0.0)
    return deficit / liquidated


def _adl_rows(run: RunData) -> pd.DataFrame:
    e = run.events
    return e[e["kind"].isin(("adl", "socialized_loss"))]


def _fund_at_first_adl(run: RunData) -> float | NotMeasured:
    adl = _adl_rows(run)
    if not len(adl):
        return NotMeasured("no ADL ran")
    first = int(adl["step"].min())
    venue = run.venue_steps.sort_values("step")
    fund = venue["insurance_fund_usd"].astype(float)
    start = float(fund.iloc[0]) if len(fund) else float("nan")
    scenario_fund = (run.reader.scenario.get("controls") or {}).get("insurance_fund_usd")
    start = float(scenario_fund) if scenario_fund is not None else start
    before = fund[venue["step"] < first]
    level = float(before.iloc[-1]) if len(before) else start
    e = run.events
    paid = e[(e["kind"] == "insurance_payout") & (e["step"] == first)]["amount_usd"].sum()
    left = max(0.0, level - float(paid))
    if start <= 0:
        return 0.0
    return left / start


#: The ``detail`` of the opening book's ``open`` events at step 0
#: (:data:`simulator.engine.opening.BOOK_DETAIL`; facts reads run folders, not the engine).
BOOK_OPEN_DETAIL = "book"


def _leverage(notional_usd: float, cash_usd: float) -> float | None:
    """``notional / cash`` (x); ``inf`` for a position on zero or negative cash (beyond any
    leverage: it sorts above every other; the October reconstruction writes 0 there, which
    would pull the median down); ``None`` without a position or a finite input."""
    if not (math.isfinite(notional_usd) and math.isfinite(cash_usd)) or notional_usd <= 0:
        return None
    return notional_usd / cash_usd if cash_usd > 0 else math.inf


#: Events that take part of a position away outside the account's own trades: the position an
#: ADL fill finds is the one opened less these (their ``size_base``) since.
_REDUCING_KINDS = ("partial_liquidation", "adl_fill")
#: Events after which an order-flow slot's cash is unknown (they take an unknown part of it).
_CASH_LOST_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")


def _before(events: pd.DataFrame, step: int, index: Any) -> pd.DataFrame:
    """The rows of ``events`` before the row ``index`` of step ``step`` (earlier steps, and the
    earlier rows of the same step: a block's events are written in the order they ran)."""
    return events[(events["step"] < step) | ((events["step"] == step) & (events.index < index))]


def _reduced_since(own: pd.DataFrame, market: str, since: int) -> float:
    """Base units of ``market`` taken from the account's position by partial liquidations and
    ADL fills among ``own`` (its earlier events) at or after step ``since``."""
    cut = own[own["kind"].isin(_REDUCING_KINDS) & (own["market"] == market)]
    return float(cut.loc[cut["step"] >= since, "size_base"].fillna(0.0).sum())


def _book_fill(run: RunData, fill: pd.Series, own: pd.DataFrame) -> tuple[float, float] | None:
    """An opening-book trader's (position size before the ADL fill (base units), cash-only
    account value then (USD)) from ``positions.parquet`` and its earlier events ``own``: the
    market's row open at that step, less what partial liquidations and ADL fills took since;
    its deposits (every row's ``collateral_usd``) plus its top-ups plus the realized PnL of its
    positions closed before (fees and funding left out). ``None`` without that row."""
    step, market = int(fill["step"]), fill["market"]
    rows = run.positions[run.positions["account"] == fill["account"]]
    rows = rows[rows["outcome"] != "refused"]
    held = rows[(rows["market"] == market) & (rows["opened_step"] <= step)]
    held = held[held["outcome_step"].isna() | (held["outcome_step"] >= step)]
    if not len(held):
        return None
    row = held.iloc[-1]
    size = float(row["size_base"]) - _reduced_since(own, market, int(row["opened_step"]))
    closed = rows[rows["outcome_step"] < step]
    cash = float(rows["collateral_usd"].sum()) + float(closed["realized_pnl_usd"].fillna(0.0).sum())
    cash += float(own.loc[own["kind"] == "top_up", "amount_usd"].fillna(0.0).sum())
    return size, cash


def _flow_fill(run: RunData, fill: pd.Series, own: pd.DataFrame) -> tuple[float, float] | None:
    """An order-flow slot's (position size before the ADL fill, cash-only value then) from its
    earlier events ``own``: its last ``open`` in the fill's market with no ``close`` since,
    less what ADL fills took since; its deposit (``collateral_usd`` of its ``positions.parquet``
    row) plus the realized PnL of its ``close`` events, less its ``open`` fees. ``None`` when a
    liquidation or takeover took an unknown part of its cash, or it holds nothing there."""
    rows = run.positions[run.positions["account"] == fill["account"]]
    if not len(rows) or own["kind"].isin(_CASH_LOST_KINDS).any():
        return None
    market = fill["market"]
    opens = own[(own["kind"] == "open") & (own["market"] == market)]
    if not len(opens):
        return None
    last = opens.iloc[-1]
    closes = own[own["kind"] == "close"]
    if ((closes["market"] == market) & (closes["step"] >= last["step"])).any():
        return None
    size = float(last["size_base"]) - _reduced_since(own, market, int(last["step"]))
    cash = float(rows["collateral_usd"].iloc[0]) + float(closes["amount_usd"].fillna(0.0).sum())
    cash -= float(own.loc[own["kind"] == "open", "amount_usd"].fillna(0.0).sum())
    return size, cash


def _vault_fill(run: RunData, fill: pd.Series, own: pd.DataFrame) -> tuple[float, float] | None:
    """The market-making vault's (position size before the ADL fill, cash-only value then),
    replayed from its earlier events ``own``: its ``mm_vault_fill`` trades (``side`` long buys,
    short sells) and ADL fills, each market's position carried at its average entry price;
    cash = ``mm_vault_capital_usd`` (summary) plus the PnL its reducing trades realized, less its
    fees (``mm_vault_fill`` ``amount_usd``) and ADL haircuts (``adl_fill`` ``amount_usd``).
    ``None`` when a liquidation or takeover of the vault came before (its cash is then
    unknown)."""
    capital = run.summary.get("mm_vault_capital_usd")
    if capital is None or own["kind"].isin(_CASH_LOST_KINDS).any():
        return None
    cash = float(capital)
    size: dict[str, float] = {}
    entry: dict[str, float] = {}
    for row in own[own["kind"].isin(("mm_vault_fill", "adl_fill"))].itertuples():
        market, price, q = row.market, float(row.price_usd), float(row.size_base)
        pos, avg = size.get(market, 0.0), entry.get(market, 0.0)
        if row.kind == "adl_fill":  # closes q of the position, whichever its side
            delta = -math.copysign(q, pos) if pos else 0.0
        else:
            delta = q if row.side == "long" else -q
        if pos and delta and (pos > 0) != (delta > 0):  # reduces (or flips) the position
            closed = min(abs(delta), abs(pos))
            cash += closed * (price - avg) * (1.0 if pos > 0 else -1.0)
        new = pos + delta
        if new and (not pos or (pos > 0) != (new > 0)):
            entry[market] = price  # opened or flipped: the rest enters at this price
        elif new and (pos > 0) == (delta > 0):
            entry[market] = (abs(pos) * avg + abs(delta) * price) / abs(new)
        size[market] = new
        cash -= float(row.amount_usd) if math.isfinite(row.amount_usd) else 0.0
    return abs(size.get(fill["market"], 0.0)), cash


def mm_vault_accounts(run: RunData) -> set[str]:
    """The market-making vault's account (the ``account`` of its ``mm_vault_fill`` events; a
    vault that never filled holds nothing to deleverage)."""
    e = run.events
    return set(e.loc[e["kind"] == "mm_vault_fill", "account"].dropna())


def _adl_leverage(run: RunData) -> np.ndarray | NotMeasured:
    """The leverage (x) of every ADL fill, as the October figure measures it
    (``REFERENCES.md``: the reconstruction of Hyperliquid's 34,983 ADL events of October 10,
    one value per ADL *event*, not per account): the ADL'd position's notional (its size in the
    fill's market just before the fill, times the fill price) over the account's cash-only
    value at that moment (deposits plus realized PnL, its unrealized PnL left out). An
    opening-book trader is read from ``positions.parquet`` (:func:`_book_fill`), an order-flow
    slot (an account with ``open`` events of the flow) from its events (:func:`_flow_fill`),
    the market-making vault by replaying its fills (:func:`_vault_fill`). A position on zero or
    negative cash counts as infinitely levered; an ADL fill none of these measures is not left
    out: the fact is then not measured."""
    e = run.events
    fills = e[(e["kind"] == "adl_fill") & e["account"].notna()]
    if not len(fills):
        return NotMeasured("no ADL fill")
    vaults = mm_vault_accounts(run)
    # Order-flow slots: accounts with ``open`` events of the flow (the opening book's opens at
    # step 0 are events too, detail ``book``: those accounts are measured from positions).
    flow = set(e.loc[(e["kind"] == "open") & (e["detail"] != BOOK_OPEN_DETAIL), "account"])
    mine = e[e["account"].isin(set(fills["account"]))]
    by_account = {a: rows for a, rows in mine.groupby("account")}
    out, unknown = [], 0
    for index, fill in fills.iterrows():
        own = _before(by_account[fill["account"]], int(fill["step"]), index)
        if fill["account"] in vaults:
            got = _vault_fill(run, fill, own)
        elif fill["account"] in flow:
            got = _flow_fill(run, fill, own)
        else:
            got = _book_fill(run, fill, own)
        lev = None
        if got is not None:
            size = max(got[0], float(fill["size_base"]))  # at least what the fill closed
            lev = _leverage(size * float(fill["price_usd"]), got[1])
        if lev is None:
            unknown += 1
        else:
            out.append(lev)
    if unknown:
        return NotMeasured(
            f"{unknown} of {len(fills)} ADL fills have no position the run folder records "
            "before them"
        )
    return np.asarray(out)


def _adl_leverage_quantile(q: float) -> Callable[[RunData], float | NotMeasured]:
    def measure(run: RunData) -> float | NotMeasured:
        lev = _adl_leverage(run)
        if isinstance(lev, NotMeasured):
            return lev
        value = float(np.percentile(lev, q))
        return math.inf if math.isnan(value) else value  # between two infinite leverages

    return measure


def _calm_share(run: RunData) -> float | NotMeasured:
    found = _before_shock(run)
    if isinstance(found, NotMeasured):
        return found
    venue, shock = found
    liquidated = venue["liquidated_notional_long_usd"] + venue["liquidated_notional_short_usd"]
    total = float(liquidated.sum())
    if total <= 0:
        return NotMeasured("nothing was liquidated")
    return float(liquidated[venue["step"] < shock].sum()) / total


_ALTS = ("DOGE", "ALT")

#: The October facts, in table order. Tolerances are stated beside each; they are the facts'
#: own spread (two published figures, a range) or, for a single figure, a stated factor.
FACTS: tuple[Fact, ...] = (
    Fact("long_share", "share of liquidated notional that is long", 0.91,
         "91% longs (about 9% shorts)", _HL, "fraction", 0.80, 0.97,
         "mostly long, some shorts", _long_share,
         "summary liquidated_notional_long_usd / liquidated_notional_usd"),
    Fact("fall_btc", "BTC price fall", 0.12, "about -12% within 45 min", _MARKET, "fraction",
         0.08, 0.16, "+-4 points", _price_fall(("BTC",)),
         "largest fall of the oracle price from its running peak"),
    Fact("fall_eth", "ETH price fall", 0.16, "about -16% within 45 min", _MARKET, "fraction",
         0.11, 0.21, "+-5 points", _price_fall(("ETH",)),
         "largest fall of the oracle price from its running peak"),
    Fact("fall_sol", "SOL price fall", 0.31, "about -31% within 45 min", _MARKET, "fraction",
         0.23, 0.39, "+-8 points", _price_fall(("SOL",)),
         "largest fall of the oracle price from its running peak"),
    Fact("fall_alts", "small caps' price fall (DOGE, ALT)", 0.80, "-70% to -90% briefly",
         _MARKET, "fraction", 0.70, 0.90, "the published range", _price_fall(_ALTS),
         "mean over DOGE and ALT of the oracle's largest fall from its running peak"),
    Fact("oi_fall", "open interest fall", 0.43, "-43% market-wide, -57% on Hyperliquid",
         _MARKET, "fraction", 0.35, 0.65, "both published figures, +-8 points",
         _oi_fall, "1 - venue OI at the last step / venue OI at the step before the shock"),
    Fact("deficit_share", "deficit after liquidations / liquidated notional", 0.0025,
         "302 accounts, -$23.2M on $9.3B liquidated (0.25%)", _HL, "fraction", 0.0025 / 4,
         0.0025 * 4, "within a factor of 4", _deficit_share,
         "(insurance payouts + ADL haircuts net of overshoot + bad debt left) / liquidated "
         "notional"),
    Fact("fund_at_first_adl", "insurance fund left when ADL first runs", 0.0,
         "ADL only once the buffers are spent", _HL, "fraction of the starting fund", 0.0,
         0.01, "at most 1% of the starting fund", _fund_at_first_adl,
         "fund at the end of the step before the first ADL, less that step's insurance "
         "payouts, / the starting fund"),
    Fact("adl_leverage_median", "median leverage of ADL'd accounts", 0.2, "0.2x", _HL, "x",
         0.0, 1.0, "low-leverage accounts", _adl_leverage_quantile(50.0),
         "per ADL fill, as the October reconstruction: the ADL'd position's notional at the fill "
         "price / the account's cash-only value (deposits, top-ups, realized PnL; unrealized PnL "
         "left out): an opening-book trader's from positions.parquet, an order-flow slot's from "
         "its open and close events, the market-making vault's replayed from its fills"),
    Fact("adl_leverage_p95", "95th percentile leverage of ADL'd accounts", 5.1, "5.1x", _HL,
         "x", 2.5, 10.0, "within a factor of 2", _adl_leverage_quantile(95.0),
         "as the median, 95th percentile over ADL fills"),
    Fact("calm_before_shock", "liquidated notional before the shock / total", 0.0,
         "the cascade is set off by the announcement", _MARKET, "fraction", 0.0, 0.10,
         "at most 10%", _calm_share,
         "venue liquidated notional at steps before the first shock / the run's"),
)  # fmt: skip

#: Columns of the facts table (:func:`facts_table`).
FACT_COLUMNS = (
    "fact", "october", "source", "unit", "mean", "ci_low", "ci_high", "n", "tolerance",
    "holds", "measured_as", "not_measured",
)  # fmt: skip


# -- which runs ----------------------------------------------------------------------------------


def fact_runs(folder: str | Path, control: str | None = None) -> tuple[list[Path], dict[str, Any]]:
    """The run folders a facts table reads, and what they are.

    Parameters
    ----------
    folder : str or Path
        A run folder (``manifest.json``) or a comparison folder (``compare.json``).
    control : str, optional
        A comparison's control set to read (default ``baseline``, else its first).

    Returns
    -------
    (list of Path, dict)
        The run folders (one per path) and ``{"kind": "run" | "compare", "control": ...,
        "seed": ...}``.

    Raises
    ------
    FactsError
        Neither a run nor a comparison folder, an unknown control set, a run that is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FactsError(f"{folder} is not a folder")
    if (folder / MANIFEST).is_file():
        if control is not None:
            raise FactsError(f"--control {control}: {folder} is a run folder, not a comparison")
        try:
            scenario = RunReader(folder, require_complete=False).scenario
        except ResultsError as exc:
            raise FactsError(str(exc)) from None
        return [folder], {"kind": "run", "control": None, "seed": int(scenario.get("seed") or 0)}
    saved_path = folder / "compare.json"
    if not saved_path.is_file():
        raise FactsError(
            f"{folder} is not a run folder (no {MANIFEST}) nor a comparison folder (no "
            "compare.json)"
        )
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        controls = list(saved["controls"])
        paths = int(saved["paths"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FactsError(f"{saved_path}: unreadable comparison: {exc}") from None
    if control is None:
        control = "baseline" if "baseline" in controls else controls[0]
    elif control not in controls:
        raise FactsError(
            f"--control: {control!r} is not in {folder} (it has {', '.join(controls)})"
        )
    runs = [folder / "runs" / control / f"path-{i}" for i in range(paths)]
    seed = int((saved.get("scenario") or {}).get("seed") or 0)
    return runs, {"kind": "compare", "control": control, "seed": seed}


# -- the table -----------------------------------------------------------------------------------


def facts_table(
    runs: Sequence[RunData], seed: int = 0, facts: Sequence[Fact] = FACTS
) -> pd.DataFrame:
    """Every fact over the runs (one per path): columns :data:`FACT_COLUMNS`.

    ``mean``, ``ci_low``, ``ci_high`` are in the fact's unit (the interval NaN for n < 2);
    ``holds`` is True / False, or None when no path measures the fact (``not_measured`` says
    why, with how many paths could not).
    """
    rows = []
    for fact in facts:
        values: list[float] = []
        reasons: dict[str, int] = {}
        for run in runs:
            value = fact.measure(run)
            if isinstance(value, NotMeasured):
                reasons[value.reason] = reasons.get(value.reason, 0) + 1
            elif math.isfinite(value):
                values.append(float(value))
            else:
                reasons["no finite value"] = reasons.get("no finite value", 0) + 1
        stats = metric_stats(values, seed=seed)
        why = "; ".join(f"{r} ({k} of {len(runs)} paths)" for r, k in reasons.items())
        rows.append(
            {
                "fact": fact.name,
                "october": fact.october_text,
                "source": fact.source,
                "unit": fact.unit,
                "mean": stats.mean,
                "ci_low": stats.ci_low,
                "ci_high": stats.ci_high,
                "n": stats.n,
                "tolerance": f"{_num(fact.low, fact.unit)} to {_num(fact.high, fact.unit)} "
                f"({fact.tolerance_text})",
                "holds": fact.holds(stats.mean) if stats.n else None,
                "measured_as": fact.how,
                "not_measured": why,
            }
        )
    table = pd.DataFrame(rows, columns=list(FACT_COLUMNS), index=[f.key for f in facts])
    table["holds"] = pd.Series([r["holds"] for r in rows], index=table.index, dtype=object)
    return table


def _num(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit.startswith("fraction"):
        return f"{value:.3g}" if value == 0 else f"{100 * value:.3g}%"
    return f"{value:.3g}{unit if unit == 'x' else ' ' + unit}"


def _simulated(row: Mapping[str, Any]) -> str:
    if not row["n"]:
        return f"not measured: {row['not_measured']}"
    text = _num(row["mean"], row["unit"])
    if row["n"] < 2:
        text += " (n=1: no interval)"
    else:
        text += f" [{_num(row['ci_low'], row['unit'])}, {_num(row['ci_high'], row['unit'])}]"
    return text


def _holds_text(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "October": list(table["october"]),
            "simulated mean [95% interval]": [_simulated(r) for _, r in table.iterrows()],
            "n": [str(int(n)) for n in table["n"]],
            "tolerance": list(table["tolerance"]),
            "holds": [_holds_text(v) for v in table["holds"]],
        },
        index=pd.Index(table["fact"], name="fact"),
    )


def render_facts(table: pd.DataFrame, title: str | None = None) -> Table:
    """A rich table of :func:`facts_table` output."""
    cells = _cells(table)
    out = Table(
        title=title,
        caption="simulated: mean over paths [95% bootstrap interval of the mean]; holds: the "
        "mean within the tolerance; sources and how each is measured in facts.md",
    )
    out.add_column("fact", style="bold")
    for column in cells.columns:
        out.add_column(column, justify="right" if column in ("n", "holds") else "left")
    for fact, row in cells.iterrows():
        out.add_row(str(fact), *(str(v) for v in row))
    return out


def facts_markdown(table: pd.DataFrame, what: Mapping[str, Any]) -> str:
    """``facts.md``: the table, then each fact's source and how the run measures it."""
    read = (
        f"the comparison's `{what['control']}` runs ({len(what['runs'])} paths)"
        if what["kind"] == "compare"
        else "one run (n=1: no interval)"
    )
    lines = [
        "# October 10-11, 2025: the facts and this run\n",
        f"Read: {read}. Simulated: the mean over paths [95% BCa bootstrap interval of the mean, "
        f"seed {what['seed']}]; holds: the mean within the tolerance.\n",
        markdown_table(_cells(table)),
        "\n## Sources and measures\n",
    ]
    for _, row in table.iterrows():
        lines.append(
            f"- **{row['fact']}**: October {row['october']} ({row['source']}); measured as "
            f"{row['measured_as']}"
            + (
                f"; not measured on some paths: {row['not_measured']}"
                if row["not_measured"]
                else ""
            )
        )
    return "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_facts(folder: str | Path, table: pd.DataFrame, what: Mapping[str, Any]) -> None:
    """Write ``facts.md`` and ``facts.json`` into ``folder``."""
    folder = Path(folder)
    atomic_write_text(folder / "facts.md", facts_markdown(table, what))
    records = [
        {"key": key, **{c: _json_value(v) for c, v in row.items()}} for key, row in table.iterrows()
    ]
    atomic_write_json(
        folder / "facts.json",
        {
            "read": {
                "kind": what["kind"],
                "control": what["control"],
                "seed": what["seed"],
                "runs": [str(Path(r).relative_to(folder)) or "." for r in what["runs"]],
            },
            "facts": records,
        },
    )


def run_facts(folder: str | Path, control: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Measure every fact on a run or comparison folder and write ``facts.md`` and
    ``facts.json`` there; return the table and what was read.

    Raises
    ------
    FactsError
        Not a run or comparison folder, or one of its runs is missing or incomplete.
    """
    folder = Path(folder)
    paths, what = fact_runs(folder, control)
    try:
        runs = [RunData(p) for p in paths]
    except ResultsError as exc:
        raise FactsError(str(exc)) from None
    table = facts_table(runs, seed=what["seed"])
    what = {**what, "runs": paths}
    write_facts(folder, table, what)
    return table, what
