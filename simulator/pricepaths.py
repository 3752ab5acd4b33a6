"""Exogenous price paths and what the oracle is fed.

A price path has ``steps + 1`` points: index 0 is the price at the start, index ``k`` the price
at the end of step ``k`` (one step = one block = ``step_seconds`` seconds). Every function here
is vectorized over steps; a small pure-Python reference version sits beside each kernel and the
tests check that they agree.

Oracle faults are applied to the price the oracle would be fed (the exogenous price, or the AMM
price when the feedback loop is on): :func:`apply_oracle_faults` for a whole known path,
:class:`OracleFaultSchedule` step by step for the engine, where the AMM price of step ``t`` is
known only at step ``t``. Order of application at each step: lag, then bad print, then stale
(a stale oracle posts nothing, so a bad print inside a stale window is never posted). Step 0 is
the price posted at deployment and always counts as an update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import PerpsimError
from simulator.scenario import (
    BadPrintFault,
    CsvPath,
    FactorPath,
    GbmPath,
    LagFault,
    ListPath,
    Shock,
    StaleFault,
    _plain,
    _price_csv_cached,
    csv_coverage_problem,
    path_seeds,
    random_streams,
)

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = [
    "SECONDS_PER_YEAR",
    "SECONDS_PER_DAY",
    "PricePathError",
    "exogenous_prices",
    "sample_paths",
    "scenario_prices",
    "sample_scenario_paths",
    "shock_log_multipliers",
    "resample_forward_fill",
    "resample_csv",
    "csv_path_notes",
    "OracleFaultSchedule",
    "apply_oracle_faults",
]

#: Seconds in the year that annualized drift and volatility refer to (365 days).
SECONDS_PER_YEAR = 365 * 86_400
#: Seconds in a day (jump intensities are per day).
SECONDS_PER_DAY = 86_400


class PricePathError(PerpsimError):
    """A price path or oracle fault cannot be built from the given inputs."""


def _check_grid(steps: int, step_seconds: float) -> None:
    if int(steps) < 1:
        raise PricePathError(f"steps must be >= 1 (got {steps})")
    if not step_seconds > 0:
        raise PricePathError(f"step_seconds must be > 0 (got {step_seconds})")


# ----------------------------------------------------------------------------------------------
# Exogenous paths
# ----------------------------------------------------------------------------------------------


def shock_log_multipliers(shocks: Sequence[Shock], steps: int) -> np.ndarray:
    """Log of the price multiplier that scheduled shocks apply at each step boundary.

    A shock starting at step ``s`` falls (rises, for a negative fall) log-linearly to ``1 - fall_fraction`` at
    ``s + over_steps``, then recovers log-linearly over ``recovery_steps`` to
    ``1 - fall_fraction·(1 - recovery_fraction)`` and stays there. Shocks multiply.

    Parameters
    ----------
    shocks : sequence of Shock
    steps : int
        Number of steps; the result has ``steps + 1`` entries.

    Returns
    -------
    numpy.ndarray
        Log multipliers, float64, shape ``(steps + 1,)``; 0 where no shock acts.

    Examples
    --------
    >>> m = shock_log_multipliers([Shock(step=1, fall_fraction=0.5, over_steps=2)], 4)
    >>> np.round(np.exp(m), 4).tolist()
    [1.0, 1.0, 0.7071, 0.5, 0.5]
    """
    k = np.arange(int(steps) + 1, dtype=float)
    total = np.zeros_like(k)
    for shock in shocks:
        bottom = math.log1p(-shock.fall_fraction)
        settled = math.log1p(-shock.fall_fraction * (1.0 - shock.recovery_fraction))
        fall_progress = np.clip((k - shock.step) / shock.over_steps, 0.0, 1.0)
        curve = bottom * fall_progress
        if shock.recovery_steps > 0:
            start = shock.step + shock.over_steps
            rec_progress = np.clip((k - start) / shock.recovery_steps, 0.0, 1.0)
            curve = curve + (settled - bottom) * rec_progress
        total += curve
    return total


def _shock_log_multipliers_python(shocks: Sequence[Shock], steps: int) -> list[float]:
    """Reference version of :func:`shock_log_multipliers`, one step at a time."""
    out = []
    for k in range(steps + 1):
        total = 0.0
        for s in shocks:
            bottom = math.log(1 - s.fall_fraction)
            settled = math.log(1 - s.fall_fraction * (1 - s.recovery_fraction))
            end_fall = s.step + s.over_steps
            if k <= s.step:
                value = 0.0
            elif k < end_fall:
                value = bottom * (k - s.step) / s.over_steps
            elif s.recovery_steps == 0 or k == end_fall:
                value = bottom
            elif k < end_fall + s.recovery_steps:
                value = bottom + (settled - bottom) * (k - end_fall) / s.recovery_steps
            else:
                value = settled
            total += value
        out.append(total)
    return out


def _gbm_draws(
    spec: GbmPath, steps: int, step_seconds: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random inputs of a GBM path, always drawn in the same order: normals, counts, jumps."""
    diffusion_z = rng.standard_normal(steps)
    jump_rate = spec.jump_intensity_per_day * step_seconds / SECONDS_PER_DAY
    jump_counts = rng.poisson(jump_rate, steps)
    jump_z = rng.standard_normal(steps)
    return diffusion_z, jump_counts, jump_z


def _gbm_from_draws(
    spec: GbmPath,
    step_seconds: float,
    diffusion_z: np.ndarray,
    jump_counts: np.ndarray,
    jump_z: np.ndarray,
) -> np.ndarray:
    dt = step_seconds / SECONDS_PER_YEAR
    vol = spec.vol_per_year
    increments = (
        (spec.drift_per_year - 0.5 * vol * vol) * dt
        + vol * math.sqrt(dt) * diffusion_z
        + jump_counts * spec.jump_mean
        + np.sqrt(jump_counts) * spec.jump_std * jump_z
    )
    log_return = np.empty(len(increments) + 1)
    log_return[0] = 0.0
    np.cumsum(increments, out=log_return[1:])
    log_return += shock_log_multipliers(spec.shocks, len(increments))
    with np.errstate(over="ignore"):
        return spec.start_price_usd * np.exp(log_return)


def _gbm_from_draws_python(spec, step_seconds, diffusion_z, jump_counts, jump_z) -> list[float]:
    """Reference version of the GBM kernel: one multiplicative step at a time."""
    dt = step_seconds / SECONDS_PER_YEAR
    sig = spec.vol_per_year
    shocks = _shock_log_multipliers_python(spec.shocks, len(diffusion_z))
    log_s = 0.0
    prices = [spec.start_price_usd * math.exp(shocks[0])]
    for k, (z, n, j) in enumerate(zip(diffusion_z, jump_counts, jump_z, strict=True), start=1):
        log_s += (spec.drift_per_year - sig**2 / 2) * dt + sig * math.sqrt(dt) * float(z)
        log_s += int(n) * spec.jump_mean + math.sqrt(int(n)) * spec.jump_std * float(j)
        prices.append(spec.start_price_usd * math.exp(log_s + shocks[k]))
    return prices


def resample_forward_fill(
    timestamps_s: np.ndarray, prices_usd: np.ndarray, steps: int, step_seconds: float
) -> np.ndarray:
    """Prices on the step grid ``t0 + k·step_seconds`` (``t0`` = first timestamp), forward-filled.

    The price at grid time ``t`` is the last observation at or before ``t``; past the last
    observation the last price holds.

    Examples
    --------
    >>> resample_forward_fill(np.array([0.0, 90.0]), np.array([1.0, 2.0]), 3, 60).tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    timestamps_s = np.asarray(timestamps_s, dtype=float)
    grid = timestamps_s[0] + np.arange(int(steps) + 1) * float(step_seconds)
    index = np.searchsorted(timestamps_s, grid, side="right") - 1
    return np.asarray(prices_usd, dtype=float)[index]


def _resample_forward_fill_python(timestamps_s, prices_usd, steps, step_seconds) -> list[float]:
    """Reference version of :func:`resample_forward_fill`."""
    out = []
    j = 0
    for k in range(steps + 1):
        t = timestamps_s[0] + k * step_seconds
        while j + 1 < len(timestamps_s) and timestamps_s[j + 1] <= t:
            j += 1
        out.append(float(prices_usd[j]))
    return out


#: How :func:`resample_csv` turns the rows within one step into the step's price.
AGGREGATES = ("last", "min", "max", "mean")


def resample_csv(
    timestamps_s: np.ndarray,
    prices_usd: np.ndarray,
    steps: int,
    step_seconds: float,
    aggregate: str = "last",
) -> np.ndarray:
    """Prices on the step grid ``t0 + k·step_seconds`` from irregular rows.

    Step 0's price is the first row's (at ``t0``). The price at the end of step ``k >= 1``
    aggregates the rows in ``(t0 + (k-1)·step_seconds, t0 + k·step_seconds]``: ``last`` the
    last of them, ``min`` / ``max`` the lowest / highest, ``mean`` their plain average. A step
    without rows keeps the previous price (coarser data is forward-filled; past the last row
    the last price holds). ``last`` equals :func:`resample_forward_fill`.

    Parameters
    ----------
    timestamps_s : numpy.ndarray
        Strictly increasing timestamps (seconds).
    prices_usd : numpy.ndarray
        Prices (USD), same length.
    steps : int
        Number of steps; the result has ``steps + 1`` entries.
    step_seconds : float
        Seconds per step.
    aggregate : str
        One of :data:`AGGREGATES`.

    Examples
    --------
    >>> t = np.arange(7.0) * 10            # rows every 10 s, steps of 30 s
    >>> p = np.array([10.0, 9, 5, 8, 12, 11, 7])
    >>> resample_csv(t, p, 2, 30, "last").tolist(), resample_csv(t, p, 2, 30, "min").tolist()
    ([10.0, 8.0, 7.0], [10.0, 5.0, 7.0])
    """
    if aggregate not in AGGREGATES:
        raise PricePathError(
            f"aggregate must be one of {', '.join(AGGREGATES)} (got {aggregate!r})"
        )
    times = np.asarray(timestamps_s, dtype=float)
    prices = np.asarray(prices_usd, dtype=float)
    steps = int(steps)
    grid = times[0] + np.arange(steps + 1) * float(step_seconds)
    bins = np.searchsorted(grid, times, side="left")  # row at grid[k] belongs to step k
    inside = bins <= steps
    bins, prices = bins[inside], prices[inside]
    present, starts = np.unique(bins, return_index=True)
    ends = np.append(starts[1:], len(bins))
    if aggregate == "last":
        values = prices[ends - 1]
    elif aggregate == "min":
        values = np.minimum.reduceat(prices, starts)
    elif aggregate == "max":
        values = np.maximum.reduceat(prices, starts)
    else:
        values = np.add.reduceat(prices, starts) / (ends - starts)
    out = np.full(steps + 1, np.nan)
    out[present] = values
    filled = np.maximum.accumulate(np.where(np.isnan(out), 0, np.arange(steps + 1)))
    return out[filled]


def _resample_csv_python(timestamps_s, prices_usd, steps, step_seconds, aggregate) -> list[float]:
    """Reference version of :func:`resample_csv`, one step at a time."""
    t0 = timestamps_s[0]
    out = [float(prices_usd[0])]
    for k in range(1, steps + 1):
        lo, hi = t0 + (k - 1) * step_seconds, t0 + k * step_seconds
        rows = [float(p) for t, p in zip(timestamps_s, prices_usd, strict=True) if lo < t <= hi]
        if not rows:
            out.append(out[-1])
        elif aggregate == "last":
            out.append(rows[-1])
        elif aggregate == "min":
            out.append(min(rows))
        elif aggregate == "max":
            out.append(max(rows))
        else:
            out.append(sum(rows) / len(rows))
    return out


def csv_path_notes(
    spec: CsvPath,
    timestamps_s: np.ndarray,
    prices_usd: np.ndarray,
    steps: int,
    step_seconds: float,
) -> list[str]:
    """How a CSV price file maps onto the run, one sentence each (for the run manifest).

    Says when rows are finer than the step (how many rows per step, by which rule, and the
    range of the rows the oracle does not see), coarser (forward-filled), held past the end
    (``hold_last``), or left unused after the run's end. Empty when one row falls on each
    step.
    """
    times = np.asarray(timestamps_s, dtype=float)
    prices = np.asarray(prices_usd, dtype=float)
    steps, dt = int(steps), float(step_seconds)
    t0, end = times[0], times[0] + steps * dt
    used = times <= end
    n_used = int(used.sum())
    path = resample_csv(times, prices, steps, dt, spec.aggregate)
    notes: list[str] = []
    spacing = float(np.median(np.diff(times[used]))) if n_used > 1 else math.inf
    if spacing < dt:
        raw = prices[used]
        text = (
            f"price_path: {n_used:,} rows at {_plain(spacing)} s aggregated to {steps:,} steps "
            f"of {_plain(dt)} s by {spec.aggregate}"
        )
        raw_lo, raw_hi, lo, hi = raw.min(), raw.max(), path.min(), path.max()
        if raw_lo < lo or raw_hi > hi:
            text += (
                f"; the rows range from {_plain(raw_lo)} to {_plain(raw_hi)} USD, the steps "
                f"from {_plain(lo)} to {_plain(hi)} USD: prices within steps beyond that are "
                "not seen by the oracle"
            )
        notes.append(text)
    elif n_used > 1 and spacing > dt:
        notes.append(
            f"price_path: {n_used:,} rows at {_plain(spacing)} s forward-filled onto "
            f"{steps:,} steps of {_plain(dt)} s (each price holds until the next row)"
        )
    if times[-1] < end:
        last_step = int(np.floor((times[-1] - t0) / dt))
        notes.append(
            f"price_path: {spec.path} ends at {_plain(times[-1] - t0)} s (step {last_step:,}); "
            f"its last price, {_plain(prices[-1])} USD, is held for the remaining "
            f"{steps - last_step:,} steps (hold_last: true)"
        )
    elif n_used < len(times):
        notes.append(
            f"price_path: {len(times) - n_used:,} rows after the run's end "
            f"({_plain(end - t0)} s after the first row) are not used"
        )
    return notes


def exogenous_prices(
    path_spec: GbmPath | CsvPath | ListPath,
    steps: int,
    step_seconds: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The exogenous price at each step boundary.

    Parameters
    ----------
    path_spec : GbmPath, CsvPath or ListPath
        The scenario's ``price_path``.
    steps : int
        Number of steps (>= 1).
    step_seconds : float
        Seconds per step.
    rng : numpy.random.Generator
        Source of randomness (only GBM paths draw from it); pass the scenario's
        ``random_streams(seed).price``.

    Returns
    -------
    numpy.ndarray
        Prices in USD, float64, shape ``(steps + 1,)``, all positive.

    Raises
    ------
    PricePathError
        Bad grid, a list shorter than ``steps + 1``, a CSV file shorter than the run (without
        ``hold_last``), or a non-finite GBM result.
    ScenarioError
        The CSV file of a ``CsvPath`` is missing or malformed.

    Examples
    --------
    >>> exogenous_prices(ListPath(kind="list", prices_usd=[3, 2, 1]), 2, 60, None).tolist()
    [3.0, 2.0, 1.0]
    """
    _check_grid(steps, step_seconds)
    steps = int(steps)
    if isinstance(path_spec, GbmPath):
        if rng is None:
            raise PricePathError("a GBM price path needs a numpy Generator (rng)")
        draws = _gbm_draws(path_spec, steps, step_seconds, rng)
        prices = _gbm_from_draws(path_spec, step_seconds, *draws)
        if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
            raise PricePathError(
                "price_path: the GBM path overflowed or reached zero; lower vol_per_year, "
                "drift_per_year or the jump sizes"
            )
        return prices
    if isinstance(path_spec, CsvPath):
        times, prices = _price_csv_cached(path_spec.path)
        if not path_spec.hold_last:
            problem = csv_coverage_problem(path_spec.path, times, steps, step_seconds)
            if problem:
                raise PricePathError(f"price_path.path: {problem}")
        return resample_csv(times, prices, steps, step_seconds, path_spec.aggregate)
    if isinstance(path_spec, ListPath):
        if len(path_spec.prices_usd) < steps + 1:
            raise PricePathError(
                f"price_path.prices_usd has {len(path_spec.prices_usd)} prices but "
                f"steps={steps} needs at least {steps + 1}"
            )
        return np.asarray(path_spec.prices_usd[: steps + 1], dtype=float)
    raise PricePathError(f"unknown price path type {type(path_spec).__name__}")


def sample_paths(
    path_spec: GbmPath | CsvPath | ListPath,
    n_paths: int,
    steps: int,
    step_seconds: float,
    seed: int,
) -> np.ndarray:
    """``n_paths`` independent price paths from one seed, for ``perpsim compare --paths N``.

    Row ``i`` equals ``exogenous_prices(path_spec, steps, step_seconds,
    random_streams(path_seeds(seed, n_paths)[i]).price)``: the exogenous path of a run with
    seed ``path_seeds(seed, n_paths)[i]``, so any path can be rerun alone. CSV and list paths
    have no randomness: every row is the same.

    Returns
    -------
    numpy.ndarray
        Prices in USD, float64, shape ``(n_paths, steps + 1)``.

    Examples
    --------
    >>> spec = GbmPath(kind="gbm", start_price_usd=100.0)
    >>> sample_paths(spec, 4, 10, 60, seed=1).shape
    (4, 11)
    """
    if int(n_paths) < 1:
        raise PricePathError(f"n_paths must be >= 1 (got {n_paths})")
    _check_grid(steps, step_seconds)
    if not isinstance(path_spec, GbmPath):
        row = exogenous_prices(path_spec, steps, step_seconds, None)
        return np.tile(row, (int(n_paths), 1))
    out = np.empty((int(n_paths), int(steps) + 1))
    for i, child_seed in enumerate(path_seeds(seed, int(n_paths))):
        out[i] = exogenous_prices(path_spec, steps, step_seconds, random_streams(child_seed).price)
    return out


def scenario_prices(scenario: Scenario, rng: np.random.Generator | None) -> np.ndarray:
    """Every market's exogenous price at each step boundary, for one run.

    A ``kind: factor`` path draws the factor model of :meth:`Scenario.factor_model` (one
    asset per market, :func:`simulator.prices.factor.factor_model_prices`); a CSV path reads
    its ``timestamp,price`` file (one market) or one column per market
    (:func:`simulator.prices.factor.multi_asset_csv_prices`); a GBM or list path gives the one
    market's prices (:func:`exogenous_prices`, so a one-market scenario's path is today's).

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    rng : numpy.random.Generator
        Source of randomness (GBM and factor paths draw from it); pass
        ``scenario.random_streams().price``.

    Returns
    -------
    numpy.ndarray
        Prices in USD, float64, shape ``(steps + 1, M)`` (columns in market order), all
        positive.

    Raises
    ------
    PricePathError
        A path that overflowed or reached zero, a missing ``rng``.
    """
    from simulator.prices.factor import factor_model_prices, multi_asset_csv_prices

    steps, dt = scenario.steps, scenario.step_seconds
    path = scenario.price_path
    if isinstance(path, FactorPath):
        if rng is None:
            raise PricePathError("a factor-model price path needs a numpy Generator (rng)")
        spec = scenario.factor_model()
        return factor_model_prices(spec, steps, dt, rng)[0].T.copy()
    if isinstance(path, CsvPath) and not scenario.csv_is_single_asset():
        return multi_asset_csv_prices(path, scenario.symbols, steps, dt).T.copy()
    return exogenous_prices(path, steps, dt, rng)[:, None]


def sample_scenario_paths(scenario: Scenario, n_paths: int) -> np.ndarray:
    """``n_paths`` independent runs' exogenous prices, for ``perpsim compare --paths N``.

    Path ``i`` equals ``scenario_prices(scenario, random_streams(path_seeds(scenario.seed,
    n_paths)[i]).price)``: the prices of a run with seed ``path_seeds(seed, n_paths)[i]``, so
    any path can be rerun alone (as :func:`sample_paths`). CSV and list paths have no
    randomness: every path is the same.

    Returns
    -------
    numpy.ndarray
        Prices in USD, float64, shape ``(n_paths, steps + 1, M)``.
    """
    if int(n_paths) < 1:
        raise PricePathError(f"n_paths must be >= 1 (got {n_paths})")
    seeds = path_seeds(scenario.seed, int(n_paths))
    return np.stack([scenario_prices(scenario, random_streams(s).price) for s in seeds])


# ----------------------------------------------------------------------------------------------
# Oracle faults
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleFaultSchedule:
    """Per-step description of the oracle faults of a run: arrays of shape ``(steps + 1,)``
    for one feed, or ``(steps + 1, M)`` with one column per market (built with ``symbols``)."""

    lag_steps: np.ndarray
    """Lag of the price posted at each step (steps; 0 = no lag), int64."""
    updates: np.ndarray
    """Whether the oracle posts a price at each step (False inside stale windows), bool."""
    bad_print_usd: np.ndarray
    """Price posted instead of the true one at each step (USD), NaN where there is none."""

    @classmethod
    def from_faults(
        cls,
        faults: Sequence[LagFault | StaleFault | BadPrintFault],
        steps: int,
        symbols: Sequence[str] | None = None,
    ) -> OracleFaultSchedule:
        """Build the schedule of ``faults`` over ``steps`` steps (later lag faults win overlaps).

        With ``symbols`` (the scenario's markets, in order) the arrays have one column per
        market and each fault acts on its ``market`` (``None``: every market); without, they
        are one-dimensional and every fault acts on the one feed.

        Raises
        ------
        PricePathError
            A fault of unknown kind, a fault naming a market not in ``symbols``, or ``steps``
            < 1.
        """
        _check_grid(steps, 1)
        n = int(steps) + 1
        shape: tuple[int, ...] = (n,) if symbols is None else (n, len(symbols))
        lag = np.zeros(shape, dtype=np.int64)
        updates = np.ones(shape, dtype=bool)
        bad = np.full(shape, np.nan)
        for fault in faults:
            columns: slice | int = slice(None)
            market = getattr(fault, "market", None)
            if symbols is not None and market is not None:
                if market not in symbols:
                    raise PricePathError(
                        f"oracle fault for market {market}, which is not listed "
                        f"({', '.join(symbols)})"
                    )
                columns = list(symbols).index(market)

            def where(rows, columns=columns):
                return rows if symbols is None else (rows, columns)

            if isinstance(fault, LagFault):
                end = n if fault.end_step is None else min(fault.end_step, n)
                lag[where(slice(fault.start_step, end))] = fault.steps
            elif isinstance(fault, StaleFault):
                updates[where(slice(fault.start_step, fault.end_step))] = False
            elif isinstance(fault, BadPrintFault):
                if fault.step < n:
                    bad[where(fault.step)] = fault.price_usd
            else:
                raise PricePathError(f"unknown oracle fault {type(fault).__name__}")
        updates[0] = True  # the deployment price
        for array in (lag, updates, bad):
            array.setflags(write=False)
        return cls(lag_steps=lag, updates=updates, bad_print_usd=bad)

    @property
    def steps(self) -> int:
        """Number of steps the schedule covers."""
        return len(self.updates) - 1

    def feed(self, step: int, source_prices_usd: Sequence[float] | np.ndarray) -> float | None:
        """The price the oracle posts at ``step``, or ``None`` when it posts nothing (a
        one-feed schedule; see :meth:`feed_markets` for one with a column per market).

        Parameters
        ----------
        step : int
            Current step (0 .. steps).
        source_prices_usd : sequence of float
            Prices the oracle would have been fed at steps ``0 .. step`` (at least
            ``step + 1`` of them): the exogenous price, or the AMM price with feedback on.
        """
        if self.updates.ndim != 1:
            raise PricePathError("feed() reads a one-feed schedule; use feed_markets()")
        if not self.updates[step]:
            return None
        bad = self.bad_print_usd[step]
        if not math.isnan(bad):
            return float(bad)
        return float(source_prices_usd[max(step - int(self.lag_steps[step]), 0)])

    def feed_markets(self, step: int, source_prices_usd: np.ndarray) -> np.ndarray:
        """The price each market's oracle posts at ``step`` (USD, shape ``(M,)``), NaN where it
        posts nothing.

        Parameters
        ----------
        step : int
            Current step (0 .. steps).
        source_prices_usd : numpy.ndarray
            Prices the oracles would have been fed at steps ``0 .. step``, shape
            ``(>= step + 1, M)``.
        """
        source = np.asarray(source_prices_usd, dtype=float)
        lag = np.atleast_1d(self.lag_steps[step])
        columns = np.arange(source.shape[1])
        posted = source[np.maximum(step - lag, 0), columns]
        bad = np.atleast_1d(self.bad_print_usd[step])
        posted = np.where(np.isnan(bad), posted, bad)
        return np.where(np.atleast_1d(self.updates[step]), posted, np.nan)


def apply_oracle_faults(
    prices: np.ndarray, faults: Sequence[LagFault | StaleFault | BadPrintFault]
) -> tuple[np.ndarray, np.ndarray]:
    """What the oracle holds and whether it updated, at each step, for a known source path.

    Parameters
    ----------
    prices : numpy.ndarray
        Source prices (USD), shape ``(steps + 1,)``.
    faults : sequence of LagFault, StaleFault, BadPrintFault
        The scenario's ``oracle_faults``.

    Returns
    -------
    oracle_prices : numpy.ndarray
        Price held by the oracle after each step (USD): the posted price, or the last posted
        price when nothing was posted.
    oracle_updates_mask : numpy.ndarray
        True where a price was posted at that step (bool).

    Examples
    --------
    >>> from simulator.scenario import StaleFault
    >>> o, m = apply_oracle_faults(np.array([1.0, 2, 3, 4]),
    ...                            [StaleFault(kind="stale", start_step=1, end_step=3)])
    >>> o.tolist(), m.tolist()
    ([1.0, 1.0, 1.0, 4.0], [True, False, False, True])
    """
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1 or len(prices) < 2:
        raise PricePathError("prices must be a 1-d array of at least 2 prices")
    schedule = OracleFaultSchedule.from_faults(faults, len(prices) - 1)
    k = np.arange(len(prices))
    fed = prices[np.maximum(k - schedule.lag_steps, 0)]
    fed = np.where(np.isnan(schedule.bad_print_usd), fed, schedule.bad_print_usd)
    last_update = np.maximum.accumulate(np.where(schedule.updates, k, 0))
    return fed[last_update], schedule.updates.copy()


def _apply_oracle_faults_python(prices, faults) -> tuple[list[float], list[bool]]:
    """Reference version of :func:`apply_oracle_faults`, one step at a time from the faults."""
    n = len(prices)
    held, out, mask = None, [], []
    for t in range(n):
        lag = 0
        for f in faults:
            if isinstance(f, LagFault) and f.start_step <= t < (f.end_step or n):
                lag = f.steps
        value = float(prices[max(t - lag, 0)])
        for f in faults:
            if isinstance(f, BadPrintFault) and f.step == t:
                value = f.price_usd
        stale = any(isinstance(f, StaleFault) and f.start_step <= t < f.end_step for f in faults)
        posted = t == 0 or not stale
        if posted:
            held = value
        out.append(held)
        mask.append(posted)
    return out, mask
