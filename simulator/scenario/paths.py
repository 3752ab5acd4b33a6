"""Price-path sections of a scenario: the single-asset paths (GBM, CSV, list), the factor
model of several assets (its common factor, each market's own path parameters, common shocks,
idiosyncratic correlations) and the oracle faults. The generators live in
:mod:`simulator.pricepaths` and :mod:`simulator.prices.factor`; these are the validated inputs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from simulator.scenario.base import _Model, _resolve_path
from simulator.scenario.messages import format_validation_error

#: Largest |beta| accepted (a beta of 10 already moves an asset ten times the factor).
MAX_ABS_BETA = 10.0
#: Tolerance of the positive semi-definiteness check of the idiosyncratic correlation matrix
#: (smallest eigenvalue), for matrices written with rounded decimals.
PSD_TOLERANCE = 1e-10

Symbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
FallFraction = Annotated[float, Field(gt=-10, lt=1)]


class Shock(_Model):
    """A scheduled fall (or rise) and partial recovery, multiplied onto the path (log-linear)."""

    step: int = Field(ge=0)
    """Step at which the fall starts (steps)."""
    fall_fraction: float = Field(gt=-10, lt=1)
    """Depth of the fall as a fraction of the price (0.2 = -20%); negative for a rise
    (-0.4 = +40%, a squeeze)."""
    over_steps: int = Field(default=1, ge=1)
    """Number of steps the fall takes."""
    recovery_fraction: float = Field(default=0.0, ge=0, le=1)
    """Share of the fall recovered afterwards (0.5 recovers half of the lost price)."""
    recovery_steps: int = Field(default=0, ge=0)
    """Number of steps the recovery takes (>= 1 when ``recovery_fraction`` > 0)."""

    @model_validator(mode="after")
    def _recovery_has_steps(self) -> Shock:
        if self.fall_fraction == 0:
            raise ValueError("fall_fraction must not be 0")
        if self.recovery_fraction > 0 and self.recovery_steps < 1:
            raise ValueError("recovery_steps must be >= 1 when recovery_fraction > 0")
        return self


class GbmPath(_Model):
    """Geometric Brownian motion with Poisson log-normal jumps (Merton), plus scheduled shocks.

    Per step of ``dt`` years: ``log S`` moves by ``(drift - vol²/2)·dt + vol·√dt·Z`` plus the sum
    of ``N ~ Poisson(jump_intensity_per_day · dt_days)`` jumps, each ``Normal(jump_mean,
    jump_std)`` in log terms. Jumps are not drift-compensated: they add to the drift.
    """

    kind: Literal["gbm"]
    """Selects a GBM path."""
    start_price_usd: float = Field(gt=0)
    """Price at step 0 (USD)."""
    drift_per_year: float = Field(default=0.0, ge=-100, le=100)
    """Annualized drift of the diffusion (per year, continuously compounded)."""
    vol_per_year: float = Field(default=0.6, ge=0, le=100)
    """Annualized volatility (per √year)."""
    jump_intensity_per_day: float = Field(default=0.0, ge=0)
    """Expected number of jumps per day."""
    jump_mean: float = Field(default=0.0, ge=-5, le=5)
    """Mean of the log jump size (-0.05 is about a 5% fall)."""
    jump_std: float = Field(default=0.0, ge=0, le=5)
    """Standard deviation of the log jump size."""
    shocks: list[Shock] = Field(default_factory=list)
    """Scheduled shocks applied on top of the random path."""


class CsvPath(_Model):
    """Replay of a price series from a CSV file (header ``timestamp,price``).

    Timestamps are UNIX seconds or ISO 8601. The step grid starts at the first timestamp
    ``t0``: step 0's price is the first row's, and the price at the end of step ``k`` is made
    from the rows in ``(t0 + (k-1)·step_seconds, t0 + k·step_seconds]`` by ``aggregate``. A
    step without a row keeps the previous price (data coarser than the step is
    forward-filled). The file must cover the run (its last timestamp at or after
    ``t0 + steps·step_seconds``) unless ``hold_last`` is true. How the rows were mapped onto
    the steps is written to the run manifest (``extra.input_notes``).
    """

    kind: Literal["csv"]
    """Selects a CSV replay."""
    path: Path
    """CSV file; a relative path is relative to the scenario file's folder."""
    aggregate: Literal["last", "min", "max", "mean"] = "last"
    """How the rows within one step become the step's price (when the data is finer than the
    step): ``last`` (default) the last row, what an oracle pushing once per block posts;
    ``min`` the lowest row, so every dip within a step reaches the oracle and the keepers (the
    conservative view for a long-heavy book); ``max`` the highest row (the same for shorts);
    ``mean`` the plain average of the rows (like a TWAP oracle)."""
    hold_last: bool = False
    """Allow a file shorter than the run: past its last row the last price holds (the manifest
    notes from which step). False (default): a file shorter than the run is an error."""

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, info)


class ListPath(_Model):
    """An explicit list of prices, one per step boundary (at least ``steps + 1``)."""

    kind: Literal["list"]
    """Selects an explicit list."""
    prices_usd: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(min_length=2)
    """Prices at steps 0, 1, ... (USD); extra prices beyond ``steps + 1`` are ignored."""


PricePath = Annotated[GbmPath | CsvPath | ListPath, Field(discriminator="kind")]


class LagFault(_Model):
    """The oracle posts the price of ``steps`` steps ago (during a window)."""

    kind: Literal["lag"]
    """Selects a lag."""
    market: str | None = None
    """Symbol of the market whose oracle has the fault; ``None``: every market's."""
    steps: int = Field(ge=1)
    """Lag (steps)."""
    start_step: int = Field(default=0, ge=0)
    """First step affected."""
    end_step: int | None = Field(default=None, ge=0)
    """First step no longer affected; ``None`` lags to the end of the run."""

    @model_validator(mode="after")
    def _window(self) -> LagFault:
        if self.end_step is not None and self.end_step <= self.start_step:
            raise ValueError("end_step must be greater than start_step")
        return self


class StaleFault(_Model):
    """The oracle stops updating: no price is posted in steps ``start_step <= t < end_step``."""

    kind: Literal["stale"]
    """Selects a stale window."""
    market: str | None = None
    """Symbol of the market whose oracle has the fault; ``None``: every market's."""
    start_step: int = Field(ge=0)
    """First step without an update."""
    end_step: int = Field(ge=1)
    """First step that updates again."""

    @model_validator(mode="after")
    def _window(self) -> StaleFault:
        if self.end_step <= self.start_step:
            raise ValueError("end_step must be greater than start_step")
        return self


class BadPrintFault(_Model):
    """The oracle posts one wrong price at one step."""

    kind: Literal["bad_print"]
    """Selects a bad print."""
    market: str | None = None
    """Symbol of the market whose oracle has the fault; ``None``: every market's."""
    step: int = Field(ge=0)
    """Step of the bad print."""
    price_usd: float = Field(gt=0, allow_inf_nan=False)
    """Price posted instead of the true one (USD)."""


class FactorSpec(_Model):
    """The common factor: zero-drift diffusion plus Merton jumps."""

    vol_per_year: float = Field(default=0.5, ge=0, le=100)
    """Annualized volatility of the factor's log return (per √year, a fraction)."""
    jump_intensity_per_day: float = Field(default=0.0, ge=0)
    """Expected number of factor jumps per day (each hits asset i scaled by its beta)."""
    jump_mean: float = Field(default=0.0, ge=-5, le=5)
    """Mean of the factor's log jump size (-0.05 is about a 5% fall at beta 1)."""
    jump_std: float = Field(default=0.0, ge=0, le=5)
    """Standard deviation of the factor's log jump size."""


class MarketPath(_Model):
    """One market's path parameters in a factor model (``markets[i].path``): its start, beta,
    whole volatility, drift, jumps and its own shocks."""

    start_price_usd: float | None = Field(default=None, gt=0)
    """Price at step 0 (USD); ``None``: the venue preset's price of the symbol (its table's
    ``initial_price_usd``)."""
    beta: float = 0.0
    """Loading on the factor's log return (|beta| <= 10 and |beta|·factor vol <= vol)."""
    vol_per_year: float = Field(default=0.6, ge=0, le=100)
    """Annualized volatility of the diffusion (per √year): common plus idiosyncratic."""
    drift_per_year: float = Field(default=0.0, ge=-100, le=100)
    """Annualized drift of the diffusion (per year, continuously compounded)."""
    jump_intensity_per_day: float = Field(default=0.0, ge=0)
    """Expected number of the asset's own jumps per day."""
    jump_mean: float = Field(default=0.0, ge=-5, le=5)
    """Mean of the asset's log jump size."""
    jump_std: float = Field(default=0.0, ge=0, le=5)
    """Standard deviation of the asset's log jump size."""
    shocks: list[Shock] = Field(default_factory=list)
    """The asset's own scheduled shocks (multiplied onto the path)."""


class AssetPathSpec(MarketPath):
    """One asset's path parameters with its symbol and a start price (an entry of
    :attr:`FactorModelPaths.assets`)."""

    symbol: Symbol
    """The asset's symbol (``BTC``); a CSV replay's column has this name."""
    start_price_usd: float = Field(gt=0)
    """Price at step 0 (USD)."""

    @classmethod
    def from_gbm(cls, gbm: GbmPath, symbol: str) -> AssetPathSpec:
        """The asset a single-asset GBM path describes (beta 0: the same path)."""
        fields = gbm.model_dump(exclude={"kind"})
        return cls.model_validate({**fields, "symbol": symbol})


class CommonShock(_Model):
    """A scheduled shock written once for several assets: the same timing, and one fall for
    every asset or a fall per asset (``{BTC: 0.12, ETH: 0.16}``; the others are untouched)."""

    step: int = Field(ge=0)
    """Step at which the fall starts (steps)."""
    fall_fraction: FallFraction | dict[str, FallFraction]
    """Depth of the fall (0.2 = -20%; negative for a rise): one number for every asset, or
    a mapping from symbol to depth."""
    over_steps: int = Field(default=1, ge=1)
    """Number of steps the fall takes."""
    recovery_fraction: float = Field(default=0.0, ge=0, le=1)
    """Share of the fall recovered afterwards."""
    recovery_steps: int = Field(default=0, ge=0)
    """Number of steps the recovery takes (>= 1 when ``recovery_fraction`` > 0)."""

    def for_asset(self, symbol: str) -> Shock | None:
        """The :class:`Shock` this common shock applies to ``symbol`` (None: not named)."""
        if isinstance(self.fall_fraction, dict):
            if symbol not in self.fall_fraction:
                return None
            fall = self.fall_fraction[symbol]
        else:
            fall = self.fall_fraction
        return Shock(
            step=self.step,
            fall_fraction=fall,
            over_steps=self.over_steps,
            recovery_fraction=self.recovery_fraction,
            recovery_steps=self.recovery_steps,
        )


class IdiosyncraticCorrelation(_Model):
    """Correlation of two assets' own noises (beyond what the factor gives them)."""

    assets: tuple[Symbol, Symbol]
    """The two symbols."""
    correlation: float = Field(ge=-1, le=1)
    """Correlation of their idiosyncratic normals (-1 .. 1)."""


class FactorPath(_Model):
    """A scenario's ``price_path`` of ``kind: factor``: what the markets share (the common
    factor, common shocks, correlations of their own noises); each market's own parameters are
    its ``markets[i].path``. See :mod:`simulator.prices.factor` for the model."""

    kind: Literal["factor"] = "factor"
    """Selects the factor model."""
    factor: FactorSpec = Field(default_factory=FactorSpec)
    """The common factor."""
    idiosyncratic_correlations: list[IdiosyncraticCorrelation] = Field(default_factory=list)
    """Correlations between assets' own noises (default: independent)."""
    shocks: list[CommonShock] = Field(default_factory=list)
    """Shocks written once for several assets."""


class FactorModelPaths(FactorPath):
    """Exogenous paths of several assets from one common factor (see
    :mod:`simulator.prices.factor`): a :class:`FactorPath` with its assets."""

    assets: list[AssetPathSpec] = Field(min_length=1)
    """The assets, in the order of the result's asset axis; each symbol once."""

    @property
    def symbols(self) -> list[str]:
        """The assets' symbols, in order."""
        return [asset.symbol for asset in self.assets]

    @model_validator(mode="after")
    def _consistent(self) -> FactorModelPaths:
        symbols = self.symbols
        seen: set[str] = set()
        for symbol in symbols:
            if symbol in seen:
                raise ValueError(f"asset {symbol} is listed twice")
            seen.add(symbol)
        sigma_f = self.factor.vol_per_year
        for asset in self.assets:
            if abs(asset.beta) > MAX_ABS_BETA:
                raise ValueError(
                    f"asset {asset.symbol}: beta {asset.beta:g} is out of range "
                    f"(|beta| <= {MAX_ABS_BETA:g})"
                )
            if abs(asset.beta) * sigma_f > asset.vol_per_year * (1 + 1e-12):
                raise ValueError(
                    f"asset {asset.symbol}: beta {asset.beta:g} is out of range: |beta| × factor "
                    f"vol_per_year {sigma_f:g} = {abs(asset.beta) * sigma_f:g} exceeds the "
                    f"asset's vol_per_year {asset.vol_per_year:g} (|beta| <= "
                    f"{asset.vol_per_year / sigma_f if sigma_f else math.inf:.4g})"
                )
        pairs: set[frozenset[str]] = set()
        for entry in self.idiosyncratic_correlations:
            a, b = entry.assets
            for symbol in (a, b):
                if symbol not in seen:
                    raise ValueError(f"idiosyncratic_correlations: unknown asset {symbol}")
            if a == b:
                raise ValueError(f"idiosyncratic_correlations: pair {a}, {b} names one asset")
            if frozenset((a, b)) in pairs:
                raise ValueError(f"idiosyncratic_correlations: pair {a}, {b} is listed twice")
            pairs.add(frozenset((a, b)))
        if pairs:
            smallest = float(np.linalg.eigvalsh(self.correlation_matrix()).min())
            if smallest < -PSD_TOLERANCE:
                raise ValueError(
                    "idiosyncratic_correlations are out of range together: the correlation "
                    f"matrix is not positive semi-definite (smallest eigenvalue {smallest:.3g})"
                )
        for k, shock in enumerate(self.shocks):
            if isinstance(shock.fall_fraction, dict):
                unknown = [s for s in shock.fall_fraction if s not in seen]
                if unknown:
                    raise ValueError(
                        f"shocks[{k}]: unknown asset {', '.join(unknown)} (assets: "
                        f"{', '.join(symbols)})"
                    )
                if not shock.fall_fraction:
                    raise ValueError(f"shocks[{k}]: fall_fraction names no asset")
            for symbol in symbols:
                try:
                    shock.for_asset(symbol)
                except ValidationError as exc:
                    raise ValueError(
                        f"shocks[{k}] for {symbol}: {format_validation_error(exc)}"
                    ) from None
        return self

    def correlation_matrix(self) -> np.ndarray:
        """Correlation matrix of the idiosyncratic normals (identity where none is given)."""
        index = {symbol: i for i, symbol in enumerate(self.symbols)}
        matrix = np.eye(len(self.assets))
        for entry in self.idiosyncratic_correlations:
            i, j = index[entry.assets[0]], index[entry.assets[1]]
            matrix[i, j] = matrix[j, i] = entry.correlation
        return matrix

    def shocks_of(self, symbol: str) -> list[Shock]:
        """Every shock acting on ``symbol``: its own, then the common ones naming it."""
        asset = self.assets[self.symbols.index(symbol)]
        common = [shock.for_asset(symbol) for shock in self.shocks]
        return [*asset.shocks, *(s for s in common if s is not None)]

    def idiosyncratic_vol_per_year(self) -> np.ndarray:
        """``σ_ε,i = √(σ_i² − β_i²σ_f²)`` per asset (exactly ``σ_i`` where β·σ_f = 0)."""
        sigma_f = self.factor.vol_per_year
        out = np.empty(len(self.assets))
        for i, asset in enumerate(self.assets):
            common = asset.beta * sigma_f
            out[i] = (
                asset.vol_per_year
                if common == 0
                else math.sqrt(max(asset.vol_per_year**2 - common**2, 0.0))
            )
        return out


PricePath = Annotated[GbmPath | CsvPath | ListPath | FactorPath, Field(discriminator="kind")]
OracleFault = Annotated[LagFault | StaleFault | BadPrintFault, Field(discriminator="kind")]
