"""Exogenous prices of several assets: a one-factor model, per-asset shocks, multi-column CSV.

Factor model
------------
Per step of ``dt = step_seconds / SECONDS_PER_YEAR`` years, the common factor's log return is

    f = σ_f·√dt·Z_f + Σ_{k ≤ N_f} J_f,k      N_f ~ Poisson(λ_f·dt_days), J_f ~ Normal(m_f, s_f)

and asset ``i``'s log return is

    r_i = (μ_i − σ_i²/2)·dt + σ_ε,i·√dt·E_i + Σ_{k ≤ N_i} J_i,k + β_i·f,
    σ_ε,i = √(σ_i² − β_i²·σ_f²)

so ``σ_i`` (``vol_per_year``) is the asset's whole diffusion volatility, of which ``β_i·σ_f``
is common; ``|β_i|·σ_f ≤ σ_i`` is required. ``E`` are standard normals, independent across
assets unless idiosyncratic correlations are given (then ``E = L·Z`` with ``L·Lᵀ`` the
correlation matrix, which must be positive semi-definite). Jumps are Merton's: a Poisson
number per step of log-normal jumps (sizes ``Normal(jump_mean, jump_std)`` in log terms, not
drift-compensated), the asset's own and the factor's (scaled by β). The diffusion part of the
correlation of two assets' log returns is ``(β_i·β_j·σ_f² + ρ_ij·σ_ε,i·σ_ε,j) / (σ_i·σ_j)``
(:func:`theoretical_log_return_correlation`).

Scheduled shocks (:class:`~simulator.scenario.Shock`, log-linear fall and recovery) multiply
each asset's path: its own (``assets[i].shocks``) and the common ones (``shocks``), which name
one fall for every asset or a fall per asset.

Random stream layout
--------------------
One :class:`numpy.random.Generator` gives, in this order: the assets' diffusion normals
``Z`` (shape ``(n_paths, n_assets, steps)``), their jump counts, their jump-size normals (same
shape), then the factor's diffusion normals, jump counts and jump-size normals (shape
``(n_paths, steps)``). With one asset and one path the first three draws are exactly those of
:func:`simulator.pricepaths.exogenous_prices` for a GBM path, so a one-asset model with
``beta = 0`` (or a factor of zero volatility and no jumps) gives today's path bit for bit.

CSV replay
----------
A header ``timestamp,<SYMBOL>,<SYMBOL>,...`` and one price per asset per row (USD); each
column goes onto the step grid by :func:`simulator.pricepaths.resample_csv` with the spec's
``aggregate``, the coverage rule and ``hold_last`` of the single-asset CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from simulator.pricepaths import (
    SECONDS_PER_DAY,
    SECONDS_PER_YEAR,
    PricePathError,
    csv_path_notes,
    resample_csv,
    shock_log_multipliers,
)
from simulator.scenario import (
    CsvPath,
    csv_coverage_problem,
    path_seeds,
    random_streams,
)
from simulator.scenario.csv_inputs import (
    _file_key,
    csv_rows,
    positive_float_cell,
    timestamp_cell_seconds,
)
from simulator.scenario.messages import format_validation_error

# The models are part of the scenario schema (simulator.scenario.paths); re-exported here.
from simulator.scenario.paths import (  # noqa: F401
    MAX_ABS_BETA,
    PSD_TOLERANCE,
    AssetPathSpec,
    CommonShock,
    FactorModelPaths,
    FactorPath,
    FactorSpec,
    IdiosyncraticCorrelation,
    MarketPath,
)


def parse_factor_model(data: Mapping[str, Any]) -> FactorModelPaths:
    """Validate plain data (a YAML mapping) into a :class:`FactorModelPaths`.

    Raises
    ------
    PricePathError
        One line naming each bad key: a beta or correlation out of range, an asset listed
        twice, a shock for an unknown asset, a negative volatility, ...

    Examples
    --------
    >>> spec = parse_factor_model({"assets": [{"symbol": "BTC", "start_price_usd": 1e5}]})
    >>> spec.symbols
    ['BTC']
    """
    try:
        return FactorModelPaths.model_validate(dict(data))
    except ValidationError as exc:
        raise PricePathError(f"price_paths: {format_validation_error(exc)}") from None


def theoretical_log_return_correlation(spec: FactorModelPaths) -> np.ndarray:
    """Correlation matrix of the assets' per-step log returns from the diffusion alone
    (no jumps, no shocks): ``(β_iβ_jσ_f² + ρ_ij·σ_ε,i·σ_ε,j) / (σ_i·σ_j)``, 1 on the diagonal.

    Assets of zero volatility have no defined correlation: NaN in their rows and columns.
    """
    beta = np.array([a.beta for a in spec.assets])
    sigma = np.array([a.vol_per_year for a in spec.assets])
    idio = spec.idiosyncratic_vol_per_year()
    cov = np.outer(beta, beta) * spec.factor.vol_per_year**2
    cov += spec.correlation_matrix() * np.outer(idio, idio)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sigma, sigma)
    np.fill_diagonal(corr, np.where(sigma > 0, 1.0, np.nan))
    return corr


# ----------------------------------------------------------------------------------------------
# Generator
# ----------------------------------------------------------------------------------------------


def _poisson_rate_per_step(intensity_per_day: np.ndarray | float, step_seconds: float):
    return np.asarray(intensity_per_day, dtype=float) * step_seconds / SECONDS_PER_DAY


def factor_model_prices(
    spec: FactorModelPaths,
    steps: int,
    step_seconds: float,
    rng: np.random.Generator,
    n_paths: int = 1,
) -> np.ndarray:
    """Every asset's exogenous price at each step boundary, for ``n_paths`` paths.

    Parameters
    ----------
    spec : FactorModelPaths
        The factor, the assets and the shocks.
    steps : int
        Number of steps (>= 1); each path has ``steps + 1`` prices.
    step_seconds : float
        Seconds per step.
    rng : numpy.random.Generator
        The one source of randomness (see the module's stream layout); pass the scenario's
        ``random_streams(seed).price``.
    n_paths : int
        Number of paths drawn from ``rng`` (vectorized).

    Returns
    -------
    numpy.ndarray
        Prices in USD, float64, shape ``(n_paths, n_assets, steps + 1)``, all positive.

    Raises
    ------
    PricePathError
        A bad grid or ``n_paths``, or a path that overflowed or reached zero.

    Examples
    --------
    >>> spec = parse_factor_model({"factor": {"vol_per_year": 0.5}, "assets": [
    ...     {"symbol": "BTC", "start_price_usd": 100.0, "beta": 1.0, "vol_per_year": 0.6},
    ...     {"symbol": "ETH", "start_price_usd": 10.0, "beta": 1.2, "vol_per_year": 0.8}]})
    >>> factor_model_prices(spec, 4, 60, np.random.default_rng(1), n_paths=3).shape
    (3, 2, 5)
    """
    if int(steps) < 1:
        raise PricePathError(f"steps must be >= 1 (got {steps})")
    if not step_seconds > 0:
        raise PricePathError(f"step_seconds must be > 0 (got {step_seconds})")
    if int(n_paths) < 1:
        raise PricePathError(f"n_paths must be >= 1 (got {n_paths})")
    if rng is None:
        raise PricePathError("a factor-model price path needs a numpy Generator (rng)")
    steps, n_paths, n_assets = int(steps), int(n_paths), len(spec.assets)
    assets = spec.assets
    shape = (n_paths, n_assets, steps)

    # Draws, in the documented order.
    z = rng.standard_normal(shape)
    rates = _poisson_rate_per_step([a.jump_intensity_per_day for a in assets], step_seconds)
    counts = rng.poisson(rates[None, :, None], shape)
    jump_z = rng.standard_normal(shape)
    factor_z = rng.standard_normal((n_paths, steps))
    factor_rate = _poisson_rate_per_step(spec.factor.jump_intensity_per_day, step_seconds)
    factor_counts = rng.poisson(factor_rate, (n_paths, steps))
    factor_jump_z = rng.standard_normal((n_paths, steps))

    if spec.idiosyncratic_correlations:
        values, vectors = np.linalg.eigh(spec.correlation_matrix())
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
        z = np.einsum("ij,pjt->pit", root, z)

    dt = step_seconds / SECONDS_PER_YEAR
    column = (slice(None), None)  # per-asset parameters broadcast over paths and steps
    vol = np.array([a.vol_per_year for a in assets])
    drift = np.array([a.drift_per_year for a in assets])
    jump_mean = np.array([a.jump_mean for a in assets])
    jump_std = np.array([a.jump_std for a in assets])
    idio_scale = spec.idiosyncratic_vol_per_year() * math.sqrt(dt)
    # The same operations, in the same order, as the single-asset GBM kernel.
    increments = (
        ((drift - 0.5 * vol * vol) * dt)[column]
        + idio_scale[column] * z
        + counts * jump_mean[column]
        + np.sqrt(counts) * jump_std[column] * jump_z
    )
    f = spec.factor
    factor_return = (
        f.vol_per_year * math.sqrt(dt) * factor_z
        + factor_counts * f.jump_mean
        + np.sqrt(factor_counts) * f.jump_std * factor_jump_z
    )
    beta = np.array([a.beta for a in assets])
    if np.any(beta != 0):
        increments = increments + beta[column] * factor_return[:, None, :]

    log_return = np.empty((n_paths, n_assets, steps + 1))
    log_return[..., 0] = 0.0
    np.cumsum(increments, axis=-1, out=log_return[..., 1:])
    for i, asset in enumerate(assets):
        log_return[:, i, :] += shock_log_multipliers(spec.shocks_of(asset.symbol), steps)
    start = np.array([a.start_price_usd for a in assets])
    with np.errstate(over="ignore"):
        prices = start[column] * np.exp(log_return)
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        symbol = assets[int(np.argwhere(bad)[0][1])].symbol
        raise PricePathError(
            f"price_paths: the path of {symbol} overflowed or reached zero; lower its "
            "vol_per_year, drift_per_year, beta or the jump sizes"
        )
    return prices


def _factor_model_prices_python(spec, steps, step_seconds, draws) -> list[list[float]]:
    """Reference version of :func:`factor_model_prices` for one path: one asset and one step
    at a time from the same draws ``(z, counts, jump_z, factor_z, factor_counts,
    factor_jump_z)``, each of one path (``z`` etc. shaped ``(n_assets, steps)``)."""
    z, counts, jump_z, factor_z, factor_counts, factor_jump_z = draws
    dt = step_seconds / SECONDS_PER_YEAR
    matrix = spec.correlation_matrix().tolist()
    n = len(spec.assets)
    if spec.idiosyncratic_correlations:
        values, vectors = np.linalg.eigh(np.array(matrix))
        root = (vectors * np.sqrt(np.clip(values, 0.0, None))).tolist()
        z = [[sum(root[i][j] * z[j][t] for j in range(n)) for t in range(steps)] for i in range(n)]
    f = spec.factor
    idio = spec.idiosyncratic_vol_per_year().tolist()
    out = []
    for i, a in enumerate(spec.assets):
        shocks = [0.0] * (steps + 1)
        for shock in spec.shocks_of(a.symbol):
            for k, value in enumerate(shock_log_multipliers([shock], steps)):
                shocks[k] += float(value)
        log_s, path = 0.0, [a.start_price_usd * math.exp(shocks[0])]
        for t in range(steps):
            factor = f.vol_per_year * math.sqrt(dt) * float(factor_z[t])
            factor += int(factor_counts[t]) * f.jump_mean
            factor += math.sqrt(int(factor_counts[t])) * f.jump_std * float(factor_jump_z[t])
            log_s += (a.drift_per_year - a.vol_per_year**2 / 2) * dt
            log_s += idio[i] * math.sqrt(dt) * float(z[i][t])
            log_s += int(counts[i][t]) * a.jump_mean
            log_s += math.sqrt(int(counts[i][t])) * a.jump_std * float(jump_z[i][t])
            log_s += a.beta * factor
            path.append(a.start_price_usd * math.exp(log_s + shocks[t + 1]))
        out.append(path)
    return out


def sample_factor_model_paths(
    spec: FactorModelPaths, n_paths: int, steps: int, step_seconds: float, seed: int
) -> np.ndarray:
    """``n_paths`` independent multi-asset paths, for ``perpsim compare --paths N``.

    Path ``i`` equals ``factor_model_prices(spec, steps, step_seconds,
    random_streams(path_seeds(seed, n_paths)[i]).price)[0]``: the exogenous paths of a run
    with seed ``path_seeds(seed, n_paths)[i]``, so any path can be rerun alone (as
    :func:`simulator.pricepaths.sample_paths`).

    Returns
    -------
    numpy.ndarray
        Prices in USD, shape ``(n_paths, n_assets, steps + 1)``.
    """
    if int(n_paths) < 1:
        raise PricePathError(f"n_paths must be >= 1 (got {n_paths})")
    rows = [
        factor_model_prices(spec, steps, step_seconds, random_streams(child).price)[0]
        for child in path_seeds(seed, int(n_paths))
    ]
    return np.stack(rows)


# ----------------------------------------------------------------------------------------------
# CSV replay, one column per asset
# ----------------------------------------------------------------------------------------------


class MultiAssetCsvPath(CsvPath):
    """Replay of several assets' prices from one CSV file: header ``timestamp`` then one
    column per symbol (matched case-insensitively; further columns are left unused and noted).
    Every row gives every asset a positive price. ``aggregate`` and ``hold_last`` mean what
    they mean for a single-asset CSV, for every column."""


def read_multi_asset_csv(
    path: str | Path, symbols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read the columns of ``symbols`` from a ``timestamp,<SYMBOL>,...`` CSV file.

    Returns
    -------
    timestamps_s : numpy.ndarray
        Strictly increasing timestamps (seconds since the UNIX epoch), float64.
    prices_usd : numpy.ndarray
        Prices (USD), shape ``(n_rows, len(symbols))``, in the order of ``symbols``.
    unused_columns : list of str
        Columns of the file that no symbol asked for.

    Raises
    ------
    PricePathError
        A missing file, a header without ``timestamp`` or without an asset's column, a column
        named twice, or a bad cell (naming its line and column).
    """
    path = Path(path)
    rows_in = csv_rows(path, PricePathError)
    _, header = next(rows_in)
    keys = [h.upper() for h in header]
    twice = sorted({h for h in keys if keys.count(h) > 1})
    if twice:
        raise PricePathError(f"{path}:1: column {', '.join(twice)} appears twice")
    if "TIMESTAMP" not in keys:
        raise PricePathError(f"{path}:1: no timestamp column (header: {','.join(header)})")
    missing = [s for s in symbols if s.upper() not in keys]
    if missing:
        raise PricePathError(
            f"{path}:1: no column for asset {', '.join(missing)} (header: {','.join(header)})"
        )
    t_col = keys.index("TIMESTAMP")
    cols = [keys.index(s.upper()) for s in symbols]
    used = {t_col, *cols}
    times: list[float] = []
    rows: list[list[float]] = []
    for line, row in rows_in:
        t = timestamp_cell_seconds(path, line, row[t_col])
        if times and t <= times[-1]:
            raise PricePathError(f"{path}:{line}: timestamps must be strictly increasing")
        times.append(t)
        rows.append([positive_float_cell(path, line, header[c], row[c]) for c in cols])
    if not times:
        raise PricePathError(f"{path}: no price rows after the header")
    unused = [h for c, h in enumerate(header) if c not in used]
    prices = np.asarray(rows, dtype=float).reshape(len(times), len(symbols))
    return np.asarray(times, dtype=float), prices, unused


@lru_cache(maxsize=32)
def _multi_csv_by_key(
    key: tuple[str, int, int], symbols: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    times, prices, unused = read_multi_asset_csv(key[0], symbols)
    times.setflags(write=False)
    prices.setflags(write=False)
    return times, prices, unused


def read_multi_asset_csv_cached(
    path: str | Path, symbols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`read_multi_asset_csv`, read once per file version (path, mtime, size) and
    symbols; the arrays are read-only."""
    key = _file_key(Path(path))
    if key is None:
        return read_multi_asset_csv(path, symbols)
    times, prices, unused = _multi_csv_by_key(key, tuple(symbols))
    return times, prices, list(unused)


def multi_asset_csv_prices(
    spec: MultiAssetCsvPath, symbols: Sequence[str], steps: int, step_seconds: float
) -> np.ndarray:
    """Every asset's price on the step grid from a multi-column CSV file.

    Each column goes through :func:`simulator.pricepaths.resample_csv` (``spec.aggregate``);
    a file shorter than the run is an error unless ``spec.hold_last``
    (:func:`simulator.scenario.csv_coverage_problem`).

    Returns
    -------
    numpy.ndarray
        Prices in USD, shape ``(len(symbols), steps + 1)``.

    Raises
    ------
    PricePathError
        An asset listed twice, a CSV missing an asset's column, a bad cell, a file shorter
        than the run (without ``hold_last``).
    """
    _check_symbols(symbols)
    if int(steps) < 1 or not step_seconds > 0:
        raise PricePathError(f"bad grid: steps={steps}, step_seconds={step_seconds}")
    times, prices, _ = read_multi_asset_csv_cached(spec.path, symbols)
    if not spec.hold_last:
        problem = csv_coverage_problem(spec.path, times, steps, step_seconds)
        if problem:
            raise PricePathError(f"price_paths.path: {problem.replace('price_path.', '')}")
    return np.stack(
        [
            resample_csv(times, prices[:, i], steps, step_seconds, spec.aggregate)
            for i in range(len(symbols))
        ]
    )


def multi_asset_csv_notes(
    spec: MultiAssetCsvPath, symbols: Sequence[str], steps: int, step_seconds: float
) -> list[str]:
    """How the file maps onto the run, per asset (``csv_path_notes`` of each column, naming
    the asset), and the file's columns that are not used."""
    times, prices, unused = read_multi_asset_csv_cached(spec.path, symbols)
    notes = []
    for i, symbol in enumerate(symbols):
        for note in csv_path_notes(spec, times, prices[:, i], steps, step_seconds):
            notes.append(note.replace("price_path:", f"price_paths {symbol}:", 1))
    if unused:
        notes.append(f"price_paths: columns {', '.join(unused)} of {spec.path} are not used")
    return notes


def _check_symbols(symbols: Sequence[str]) -> None:
    seen: set[str] = set()
    for symbol in symbols:
        if symbol.upper() in seen:
            raise PricePathError(f"asset {symbol} is listed twice")
        seen.add(symbol.upper())
    if not seen:
        raise PricePathError("no assets given")
