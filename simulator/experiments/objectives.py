"""Objectives and constraints over path metrics: ``[min:|max:]STAT:METRIC[<=|>=BOUND]``.

A **metric** is a figure of a run's ``summary.json`` (:data:`~simulator.results.schema.
SUMMARY_KEYS`: ``system_loss_usd``, ``bad_debt_usd``, ``adl_overshoot_usd``, ``fees_usd``,
``liquidated_notional_usd``, ...), a market's figure as ``SYMBOL:figure`` (``BTC:bad_debt_usd``,
:data:`~simulator.results.schema.MARKET_SUMMARY_KEYS`), or a derived figure
(:data:`DERIVED_METRICS`: ``oi_start_usd``, the open interest of both sides of every market at
the start, USD: the capital efficiency a parameter set supports). A **statistic** reduces the
metric's values over the K paths of a trial to one number (:data:`STATISTICS`):

- ``mean``, ``median``, ``std``, ``min``, ``max``;
- ``varQ`` (``var95``): the Q-th percentile over paths (value at risk);
- ``evarQ`` (``evar99``): the Q-th percentile too -- the project's "EVaR99" of issues 4 and 11
  (:mod:`simulator.stats`), not the entropic value at risk of the literature;
- ``cvarQ`` (``cvar95``): the mean of the values at or above the Q-th percentile (expected
  shortfall);
- ``pQ``: the Q-th percentile.

Percentiles interpolate linearly (numpy's default), as :func:`simulator.stats.tail_figures`.

An **objective** is minimised unless it says ``max:`` (``max:mean:fees_usd``); without a prefix,
figures a venue wants more of (:data:`MAXIMISED_BY_DEFAULT`: fees, open interest) are
maximised and every other (losses, liquidations) minimised. A **constraint** adds a bound:
``evar99:bad_debt_usd<=1e6`` (feasible when the statistic is at most 1e6) or ``>=``. Optuna's
``constraints_func`` convention is used: a value <= 0 is feasible (:meth:`Constraint.violation`).

Unknown statistic, metric or market symbol, a malformed bound: one line (exit 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.experiments import ExperimentError
from simulator.results.schema import MARKET_SUMMARY_KEYS, SUMMARY_KEYS

MINIMIZE, MAXIMIZE = "minimize", "maximize"


def _oi(prefix: str) -> Callable[[Mapping[str, Any]], float]:
    def figure(block: Mapping[str, Any]) -> float:
        return float(block.get(f"oi_long_{prefix}_usd") or 0.0) + float(
            block.get(f"oi_short_{prefix}_usd") or 0.0
        )

    return figure


#: Derived figures: name -> (what it is, function of one market's summary block). The venue's
#: value is the sum over its markets; ``SYMBOL:name`` is one market's.
DERIVED_METRICS: dict[str, tuple[str, Callable[[Mapping[str, Any]], float]]] = {
    "oi_start_usd": ("open interest of both sides at the start (USD)", _oi("start")),
    "oi_end_usd": ("open interest of both sides at the end (USD)", _oi("end")),
}
#: Venue-level summary figures that are numbers (every key but bookkeeping and ``markets``).
VENUE_METRICS: tuple[str, ...] = tuple(
    k for k in SUMMARY_KEYS if k not in ("markets", "wall_seconds", "transactions")
)
#: Metrics maximised when an objective does not say ``min:`` or ``max:``.
MAXIMISED_BY_DEFAULT = ("fees_usd", "oi_start_usd", "oi_end_usd", "mm_vault_equity_end_usd")
_STAT = re.compile(r"(mean|median|std|min|max)|(var|evar|cvar|p)(\d+(?:\.\d+)?)")
STATISTICS = ("mean", "median", "std", "min", "max", "varQ", "evarQ", "cvarQ", "pQ")


def metric_value(summary: Mapping[str, Any], metric: str) -> float | None:
    """One path's figure: a summary key, ``SYMBOL:key``, or a derived figure (``None`` when
    the summary does not have it).

    Examples
    --------
    >>> s = {"bad_debt_usd": 3.0, "markets": {"BTC": {"oi_long_start_usd": 5.0,
    ...      "oi_short_start_usd": 2.0, "bad_debt_usd": 1.0}}}
    >>> metric_value(s, "bad_debt_usd"), metric_value(s, "oi_start_usd"), metric_value(s, "BTC:bad_debt_usd")
    (3.0, 7.0, 1.0)
    """
    symbol, _, key = metric.rpartition(":")
    markets = summary.get("markets") or {}
    if key in DERIVED_METRICS:
        figure = DERIVED_METRICS[key][1]
        if symbol:
            block = markets.get(symbol)
            return None if block is None else figure(block)
        return float(sum(figure(block) for block in markets.values())) if markets else None
    source = (markets.get(symbol) or {}) if symbol else summary
    value = source.get(key)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class Statistic:
    """A reduction over paths: ``mean``, ``var95``, ``cvar99``, ``p50`` ..."""

    name: str
    """As written (``var95``)."""

    def __call__(self, values: Sequence[float]) -> float:
        """The statistic of ``values`` (NaN for none)."""
        x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
        if not len(x):
            return float("nan")
        match = _STAT.fullmatch(self.name)
        assert match is not None
        plain, kind, q = match.groups()
        if plain == "mean":
            return float(x.mean())
        if plain == "median":
            return float(np.median(x))
        if plain == "std":
            return float(x.std(ddof=1)) if len(x) > 1 else 0.0
        if plain == "min":
            return float(x.min())
        if plain == "max":
            return float(x.max())
        cut = float(np.percentile(x, float(q)))
        if kind == "cvar":
            return float(x[x >= cut].mean())
        return cut


def parse_statistic(text: str, what: str) -> Statistic:
    """``var95`` as a :class:`Statistic`; ExperimentError for an unknown one."""
    match = _STAT.fullmatch(text.strip().lower())
    if match is None or (match.group(3) is not None and not 0 <= float(match.group(3)) <= 100):
        raise ExperimentError(
            f"{what}: unknown statistic {text!r} (known: {', '.join(STATISTICS)}; Q a "
            "percentage, e.g. var95)"
        )
    return Statistic(text.strip().lower())


def check_metric(metric: str, symbols: Sequence[str] | None, what: str) -> str:
    """``metric`` if it names a known figure (of a market of ``symbols``, when given).

    Raises
    ------
    ExperimentError
        An unknown figure or market (the message lists the known ones).
    """
    symbol, _, key = metric.rpartition(":")
    known = MARKET_SUMMARY_KEYS if symbol else VENUE_METRICS
    if key not in known and key not in DERIVED_METRICS:
        where = "a market's figures" if symbol else "summary figures"
        raise ExperimentError(
            f"{what}: unknown metric {key!r} (known {where}: "
            f"{', '.join((*known, *DERIVED_METRICS))})"
        )
    if symbol and symbols is not None and symbol not in symbols:
        raise ExperimentError(
            f"{what}: the scenario has no market {symbol!r} (markets: {', '.join(symbols)})"
        )
    return metric


@dataclass(frozen=True)
class Objective:
    """A statistic of a metric over the paths of a trial, minimised or maximised."""

    text: str
    """As given (``var95:system_loss_usd``)."""
    statistic: Statistic
    metric: str
    direction: str
    """:data:`MINIMIZE` or :data:`MAXIMIZE`."""

    @property
    def label(self) -> str:
        """``var95:system_loss_usd`` (the column name in tables)."""
        return f"{self.statistic.name}:{self.metric}"

    def value(self, summaries: Sequence[Mapping[str, Any]]) -> float:
        """The statistic over the paths' summaries (metric unit; NaN when no path has it)."""
        return self.statistic([metric_value(s, self.metric) for s in summaries])

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "statistic": self.statistic.name, "metric": self.metric,
                "direction": self.direction}  # fmt: skip


@dataclass(frozen=True)
class Constraint:
    """A bound on a statistic of a metric: ``evar99:bad_debt_usd<=1e6``."""

    text: str
    statistic: Statistic
    metric: str
    op: str
    """``<=`` or ``>=``."""
    bound: float
    """In the metric's unit."""

    @property
    def label(self) -> str:
        return f"{self.statistic.name}:{self.metric}{self.op}{self.bound:g}"

    def value(self, summaries: Sequence[Mapping[str, Any]]) -> float:
        return self.statistic([metric_value(s, self.metric) for s in summaries])

    def violation(self, value: float) -> float:
        """Optuna's convention: <= 0 when ``value`` meets the bound, the excess otherwise (a NaN
        value violates it by +inf)."""
        if not math.isfinite(value):
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "statistic": self.statistic.name, "metric": self.metric,
                "op": self.op, "bound": self.bound}  # fmt: skip


def _stat_metric(body: str, what: str, symbols: Sequence[str] | None) -> tuple[Statistic, str]:
    stat_text, sep, metric = body.partition(":")
    if not sep or not metric.strip():
        raise ExperimentError(
            f"{what}: {body!r} must look like STAT:METRIC (e.g. var95:system_loss_usd)"
        )
    statistic = parse_statistic(stat_text, what)
    return statistic, check_metric(metric.strip(), symbols, what)


def parse_objective(text: str, symbols: Sequence[str] | None = None) -> Objective:
    """One ``--objective``: ``[min:|max:]STAT:METRIC``.

    Examples
    --------
    >>> o = parse_objective("var95:system_loss_usd")
    >>> o.label, o.direction
    ('var95:system_loss_usd', 'minimize')
    >>> parse_objective("mean:fees_usd").direction
    'maximize'
    """
    what = f"--objective {text}"
    body = text.strip()
    direction = None
    head, sep, rest = body.partition(":")
    # ``max:BTC:x`` is the statistic max of a market's figure; ``max:mean:x`` a direction.
    if sep and head.lower() in ("min", "max") and _STAT.fullmatch(rest.partition(":")[0].lower()):
        direction = MINIMIZE if head.lower() == "min" else MAXIMIZE
        body = rest
    if any(op in body for op in ("<=", ">=", "<", ">")):
        raise ExperimentError(f"{what}: an objective has no bound; give it as --constraint")
    statistic, metric = _stat_metric(body, what, symbols)
    if direction is None:
        key = metric.rpartition(":")[2]
        direction = MAXIMIZE if key in MAXIMISED_BY_DEFAULT else MINIMIZE
    return Objective(text, statistic, metric, direction)


def parse_constraint(text: str, symbols: Sequence[str] | None = None) -> Constraint:
    """One ``--constraint``: ``STAT:METRIC<=BOUND`` or ``>=``.

    Examples
    --------
    >>> c = parse_constraint("evar99:bad_debt_usd<=1e6")
    >>> c.op, c.bound, c.violation(2e6)
    ('<=', 1000000.0, 1000000.0)
    """
    what = f"--constraint {text}"
    match = re.fullmatch(r"\s*(.+?)\s*(<=|>=)\s*(\S+)\s*", text)
    if match is None:
        raise ExperimentError(f"{what}: must look like STAT:METRIC<=BOUND or STAT:METRIC>=BOUND")
    body, op, bound_text = match.groups()
    statistic, metric = _stat_metric(body, what, symbols)
    try:
        bound = float(bound_text)
    except ValueError:
        raise ExperimentError(f"{what}: bound {bound_text!r} is not a number") from None
    if not math.isfinite(bound):
        raise ExperimentError(f"{what}: bound {bound_text!r} is not a finite number")
    return Constraint(text, statistic, metric, op, bound)


def check_objectives(objectives: Sequence[Objective]) -> None:
    """At least one objective, no objective twice."""
    if not objectives:
        raise ExperimentError(
            "give at least one --objective STAT:METRIC (e.g. var95:system_loss_usd)"
        )
    labels = [o.label for o in objectives]
    twice = [label for label in labels if labels.count(label) > 1]
    if twice:
        raise ExperimentError(f"--objective {twice[0]}: given twice")


__all__ = [
    "MINIMIZE",
    "MAXIMIZE",
    "DERIVED_METRICS",
    "VENUE_METRICS",
    "MAXIMISED_BY_DEFAULT",
    "STATISTICS",
    "Statistic",
    "Objective",
    "Constraint",
    "metric_value",
    "check_metric",
    "parse_statistic",
    "parse_objective",
    "parse_constraint",
    "check_objectives",
]
