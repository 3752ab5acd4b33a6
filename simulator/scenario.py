"""Scenarios: what one simulation run is made of, validated.

A scenario names the venue preset and its overrides, the risk controls that are on, the trader
population, the exogenous price path with oracle faults on top, the other agents (keepers,
arbitrageurs, LPs), the spot AMM depth, the number of steps and the seed. Scenarios are YAML
files (presets ship in ``simulator/scenarios/``) validated by the frozen pydantic models below:
unknown keys and out-of-range values are errors that name the key.

Conventions
-----------
- One step is one block; ``step_seconds`` of simulated time pass per step. Price paths have
  ``steps + 1`` points: index 0 is the start, index ``k`` the price at the end of step ``k``.
- ``side`` is ``"long"`` or ``"short"`` in files and +1 / -1 in arrays.
- Money is in USD (the collateral stable coin), sizes in base units of the traded asset.
- Fractions are plain numbers in [0, 1] (0.2 is 20%), never percent.

Loading
-------
``load_scenario("oct-2025")`` loads a preset, ``load_scenario("my.yaml")`` a file; both take
``--set``-style overrides (``"controls.adl_policy=pro_rata"``, ``"traders.count=200"``) whose
values are parsed as YAML scalars. Every problem becomes a one-line :class:`ScenarioError`,
including what needs the venue or the data files: the venue preset, its overrides and the
controls must make a valid venue (:meth:`Scenario.venue_params`), an explicit book must be one
the venue accepts (:func:`check_explicit_book`), and a CSV price path must cover the run
(unless ``hold_last``). A :class:`Scenario` that exists is valid, so nothing is found out
after a run folder exists.

Randomness
----------
One integer ``seed`` drives a run. :func:`random_streams` splits it (``numpy.random.SeedSequence``)
into independent generators for the price path, the population and the agents, so that changing
the trader count does not change the price path. :func:`path_seeds` derives the integer seeds of
the N price paths of ``perpsim compare``; path ``i`` of a comparison is reproduced exactly by a
run with ``seed = path_seeds(seed, N)[i]``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.errors import PerpsimError
from simulator.protocol.params import (
    WAD,
    AdlPolicy,
    MarketParams,
    ParamsError,
    VenueParams,
    load_preset,
    preset_names,
    to_units,
    to_wad,
)

__all__ = [
    "SCENARIOS_DIR",
    "ScenarioError",
    "Scenario",
    "MarketSpec",
    "Controls",
    "GovernanceChange",
    "RandomPopulation",
    "ExplicitBook",
    "ExplicitPosition",
    "CollateralSpec",
    "LeverageSpec",
    "WhaleSpec",
    "BehaviourWeights",
    "BehaviourParams",
    "BehaviourMix",
    "GbmPath",
    "CsvPath",
    "ListPath",
    "Shock",
    "LagFault",
    "StaleFault",
    "BadPrintFault",
    "KeeperSpec",
    "ArbitrageurSpec",
    "AmmSpec",
    "LpSpec",
    "BEHAVIOURS",
    "available_presets",
    "load_scenario",
    "parse_scenario",
    "apply_overrides",
    "override_key_parts",
    "parse_override_items",
    "format_override_value",
    "describe_overrides",
    "OVERRIDES_NOTE",
    "overrides_in_description",
    "read_price_csv",
    "read_positions_csv",
    "check_explicit_book",
    "csv_coverage_problem",
    "GUARDIAN_PARAMETERS",
    "RandomStreams",
    "random_streams",
    "path_seeds",
    "CONTROL_SETS",
    "DEFAULT_CONTROL_SETS",
    "control_set",
]

#: Folder holding the preset scenario files (``<name>.yaml``).
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"

#: Trader behaviours, in the order of their integer codes (see ``population.Behaviour``).
BEHAVIOURS: tuple[str, ...] = ("hold", "take_profit", "stop_loss", "top_up", "panic")

BehaviourName = Literal["hold", "take_profit", "stop_loss", "top_up", "panic"]
Side = Literal["long", "short"]


class ScenarioError(PerpsimError):
    """A scenario file, preset name, override or data file referenced by a scenario is bad."""


class _Model(BaseModel):
    """Base of every scenario model: frozen, unknown keys and non-finite numbers rejected,
    field docstrings kept as descriptions."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative data-file path against the scenario file's folder (if known)."""
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and base is not None:
        value = Path(base) / value
    return value.resolve() if value.is_absolute() else value


# ----------------------------------------------------------------------------------------------
# Market and controls
# ----------------------------------------------------------------------------------------------


class MarketSpec(_Model):
    """The perp venue: a parameter preset plus overrides of single parameters."""

    preset: str = "hyperliquid-like"
    """Name of the venue parameter preset the engine deploys: a file
    ``simulator/presets/<name>.yaml`` (``hyperliquid-like``, ``dydx-like``, ``gmx-like``)."""
    overrides: dict[str, float | int | bool | str] = Field(default_factory=dict)
    """Market parameters to replace in the preset, by name (the fields of
    :class:`simulator.protocol.params.MarketParams`, in its units: fractions, bps, USD, base
    units). Checked when the scenario is loaded, together with the controls that change
    market parameters: an unknown name or an out-of-range value is an error naming
    ``market.overrides.<name>``."""


class GovernanceChange(_Model):
    """A parameter change submitted mid-run, taking effect through a governance path."""

    step: int = Field(ge=0)
    """Step at which the change is submitted (steps)."""
    parameter: str = Field(min_length=1)
    """Venue parameter to change, by name (as in ``market.overrides``)."""
    value: float | int | bool | str
    """New value of the parameter (unit of that parameter)."""
    path: Literal["timelock", "guardian"] = "timelock"
    """``timelock``: queued in the TimelockController and executed after its delay;
    ``guardian``: executed at once by a guardian / automatic controller."""


class Controls(_Model):
    """Risk controls that are switched on for this run."""

    adl_policy: Literal["queue", "pro_rata", "socialized", "none"] = "queue"
    """Auto-deleveraging policy: ``queue`` (greedy ranked queue, Hyperliquid), ``pro_rata`` (over
    winners' profits), ``socialized`` (loss charged to all through funding), ``none``."""
    leverage_cap: float | None = Field(default=None, gt=0)
    """Maximum leverage allowed at open (times); ``None`` keeps the market preset's maximum."""
    oi_cap_usd: float | None = Field(default=None, gt=0)
    """Cap on open interest per side (USD notional); ``None`` for no cap."""
    insurance_fund_usd: float = Field(default=1_000_000.0, ge=0)
    """Insurance fund balance at the start (USD)."""
    backstop_vault_usd: float = Field(default=0.0, ge=0)
    """LP capital in the backstop vault at the start (USD); 0 means no backstop vault."""
    circuit_breaker_max_move_bps: int | None = Field(default=None, gt=0, le=10_000)
    """Largest oracle price move accepted per block (basis points); ``None`` for no breaker."""
    dynamic_margin: bool = False
    """Margins follow realized volatility and open-interest skew (on-chain controller)."""
    governance_change: GovernanceChange | None = None
    """A parameter change submitted during the run, or ``None``."""
    feedback: bool = True
    """Forced selling and hedging move the spot AMM that the oracle reads. ``False`` feeds the
    oracle the exogenous price, to measure the feedback loop's effect."""


# ----------------------------------------------------------------------------------------------
# Traders
# ----------------------------------------------------------------------------------------------


class CollateralSpec(_Model):
    """Lognormal distribution of a trader's collateral."""

    median_usd: float = Field(default=2_000.0, gt=0)
    """Median collateral per trader (USD)."""
    sigma: float = Field(default=1.0, ge=0, le=5)
    """Standard deviation of the log of collateral (dimensionless)."""


class LeverageSpec(_Model):
    """Leverage at open: a Pareto tail ``min·U^(-1/alpha)`` clipped at ``max``.

    Most traders use low leverage; ``P(leverage > x) = (min/x)^alpha`` so a smaller ``alpha``
    means a heavier tail, and the clip puts the tail's mass at the maximum.
    """

    min: float = Field(default=1.0, gt=0)
    """Lowest leverage drawn (times)."""
    max: float = Field(default=20.0, gt=0)
    """Highest leverage drawn (times); the market's (or the leverage cap's) maximum also caps it."""
    tail_alpha_long: float = Field(default=1.2, gt=0)
    """Pareto tail exponent of longs' leverage (dimensionless; smaller = more high leverage)."""
    tail_alpha_short: float | None = Field(default=None, gt=0)
    """Pareto tail exponent of shorts' leverage; ``None`` uses ``tail_alpha_long``."""

    @model_validator(mode="after")
    def _min_below_max(self) -> LeverageSpec:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class WhaleSpec(_Model):
    """A share of traders whose collateral (hence size) follows a Pareto tail."""

    share: float = Field(default=0.0, ge=0, le=1)
    """Fraction of traders who are whales."""
    alpha: float = Field(default=1.5, gt=0)
    """Pareto exponent of whale collateral (dimensionless; smaller = bigger whales)."""
    min_collateral_usd: float = Field(default=100_000.0, gt=0)
    """Smallest whale collateral (USD), the Pareto scale."""
    max_collateral_usd: float = Field(default=50_000_000.0, gt=0)
    """Largest whale collateral (USD); draws above it are clipped."""

    @model_validator(mode="after")
    def _min_below_max(self) -> WhaleSpec:
        if self.min_collateral_usd > self.max_collateral_usd:
            raise ValueError(
                f"min_collateral_usd ({self.min_collateral_usd}) must not exceed "
                f"max_collateral_usd ({self.max_collateral_usd})"
            )
        return self


class BehaviourWeights(_Model):
    """Relative weights of the behaviours in a random population (normalized to sum 1)."""

    hold: float = Field(default=0.4, ge=0)
    """Keep the position until liquidated or the run ends."""
    take_profit: float = Field(default=0.15, ge=0)
    """Close when the profit reaches ``take_profit_fraction`` of collateral."""
    stop_loss: float = Field(default=0.15, ge=0)
    """Close when the loss reaches ``stop_loss_fraction`` of collateral."""
    top_up: float = Field(default=0.2, ge=0)
    """Add margin when near liquidation, with probability ``top_up_probability`` per step."""
    panic: float = Field(default=0.1, ge=0)
    """Close when the price has moved ``panic_drawdown`` against the position since entry."""

    @model_validator(mode="after")
    def _some_weight(self) -> BehaviourWeights:
        if sum(self.as_array()) <= 0:
            raise ValueError("at least one behaviour weight must be positive")
        return self

    def as_array(self) -> np.ndarray:
        """Weights normalized to sum 1, in the order of :data:`BEHAVIOURS`."""
        raw = np.array([getattr(self, name) for name in BEHAVIOURS], dtype=float)
        total = raw.sum()
        return raw / total if total > 0 else raw


class BehaviourParams(_Model):
    """Parameters of the behaviours (each applies only to traders with that behaviour)."""

    take_profit_fraction: float = Field(default=0.5, gt=0)
    """Profit, as a fraction of collateral, at which take-profit traders close."""
    stop_loss_fraction: float = Field(default=0.5, gt=0, le=1)
    """Loss, as a fraction of collateral, at which stop-loss traders close."""
    top_up_probability: float = Field(default=0.3, ge=0, le=1)
    """Probability per step that a top-up trader near liquidation adds margin."""
    top_up_fraction: float = Field(default=0.5, gt=0)
    """Margin added by one top-up, as a fraction of the trader's initial collateral."""
    top_up_margin_ratio: float = Field(default=1.5, gt=1)
    """A top-up trader is "near liquidation" when equity < this × maintenance margin."""
    panic_drawdown: float = Field(default=0.1, gt=0, lt=1)
    """Adverse price move since entry, as a fraction of the entry price, at which panic
    traders close (a fall for longs, a rise for shorts)."""


class BehaviourMix(BehaviourParams):
    """Behaviour weights plus their parameters, with per-trader jitter."""

    weights: BehaviourWeights = Field(default_factory=BehaviourWeights)
    """Relative weights of the behaviours."""
    jitter: float = Field(default=0.25, ge=0, lt=1)
    """Each trader's fractions and probability are the configured value times a uniform factor
    in ``[1 - jitter, 1 + jitter]`` (dimensionless), so thresholds are not all hit at once."""


class RandomPopulation(_Model):
    """Traders drawn at random: collateral, leverage, side, whales and behaviours."""

    kind: Literal["random"]
    """Selects a random population."""
    count: int = Field(ge=1, le=1_000_000)
    """Number of traders (one position each)."""
    long_share: float = Field(default=0.5, ge=0, le=1)
    """Probability that a trader is long."""
    collateral_usd: CollateralSpec = Field(default_factory=CollateralSpec)
    """Lognormal collateral of non-whales (USD)."""
    leverage: LeverageSpec = Field(default_factory=LeverageSpec)
    """Leverage at open (times)."""
    whales: WhaleSpec = Field(default_factory=WhaleSpec)
    """Pareto tail of big accounts."""
    behaviour: BehaviourMix = Field(default_factory=BehaviourMix)
    """Behaviour mix and parameters."""


class ExplicitPosition(_Model):
    """One position of an explicit book: a fresh account that deposits ``collateral_usd`` and
    opens ``size_base`` at the start price."""

    side: Side
    """``long`` or ``short``."""
    collateral_usd: float = Field(gt=0)
    """Collateral posted (USD)."""
    size_base: float = Field(gt=0)
    """Position size (base units of the traded asset)."""
    behaviour: BehaviourName | None = None
    """Behaviour of the trader; ``None`` means ``hold``."""

    @field_validator("collateral_usd", "size_base")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ExplicitBook(_Model):
    """A given list of positions, inline or from a CSV file (exactly one of the two).

    The positions open exactly as given, one trader each, in order, at the start price. The
    scenario refuses at load a book the venue would refuse (over the maximum leverage at the
    position's notional, fee and skew impact included; over an OI cap; an amount that rounds
    to nothing on chain), naming the row and the limit: see :func:`check_explicit_book`.
    """

    kind: Literal["explicit"]
    """Selects an explicit book."""
    positions: list[ExplicitPosition] | None = None
    """The positions, one trader each."""
    csv: Path | None = None
    """CSV file with header ``side,collateral_usd,size_base[,behaviour]``; a relative path is
    relative to the scenario file's folder."""
    behaviour_params: BehaviourParams = Field(default_factory=BehaviourParams)
    """Parameters of the behaviours named in the book (no jitter)."""

    @field_validator("csv")
    @classmethod
    def _resolve_csv(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_path(value, info)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ExplicitBook:
        if (self.positions is None) == (self.csv is None):
            raise ValueError("give exactly one of positions or csv")
        if self.positions is not None and not self.positions:
            raise ValueError("positions must not be empty")
        return self

    def load_positions(self) -> list[ExplicitPosition]:
        """The positions, read from the CSV file if the book names one.

        Raises
        ------
        ScenarioError
            The CSV file is missing or a row is malformed (the message names the line).
        """
        if self.positions is not None:
            return list(self.positions)
        assert self.csv is not None
        return read_positions_csv(self.csv)


Traders = Annotated[RandomPopulation | ExplicitBook, Field(discriminator="kind")]


# ----------------------------------------------------------------------------------------------
# Price paths and oracle faults
# ----------------------------------------------------------------------------------------------


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
    step: int = Field(ge=0)
    """Step of the bad print."""
    price_usd: float = Field(gt=0, allow_inf_nan=False)
    """Price posted instead of the true one (USD)."""


OracleFault = Annotated[LagFault | StaleFault | BadPrintFault, Field(discriminator="kind")]


# ----------------------------------------------------------------------------------------------
# Other agents and the AMM
# ----------------------------------------------------------------------------------------------


class KeeperSpec(_Model):
    """Liquidation keepers: their number, capacity, reaction delay and profit threshold."""

    count: int = Field(default=3, ge=0, le=10_000)
    """Number of keepers (0: nobody liquidates)."""
    max_liquidations_per_block: int = Field(default=20, ge=1)
    """Liquidations one keeper sends per block."""
    reaction_delay_steps: int = Field(default=1, ge=0)
    """Steps between an account becoming liquidatable and keepers acting on it."""
    min_profit_usd: float = Field(default=1.0, ge=0)
    """Smallest keeper reward after gas worth acting on (USD)."""
    gas_cost_usd: float = Field(default=0.5, ge=0)
    """Gas cost of one liquidation transaction (USD)."""


class ArbitrageurSpec(_Model):
    """Arbitrageurs pulling the AMM price toward the exogenous price with limited capital."""

    count: int = Field(default=2, ge=0, le=10_000)
    """Number of arbitrageurs."""
    capital_usd: float = Field(default=1_000_000.0, ge=0)
    """Capital of each arbitrageur (USD)."""
    max_trade_fraction: float = Field(default=0.25, gt=0, le=1)
    """Largest trade per step, as a fraction of the arbitrageur's capital."""


class AmmSpec(_Model):
    """The constant-product spot AMM that hedgers trade on and the oracle reads (feedback)."""

    liquidity_usd: float = Field(default=100_000_000.0, gt=0)
    """Collateral side of the pool at the start (USD); the base side holds the same value."""
    permanent_impact: float = Field(default=0.0, ge=0, le=1)
    """Share of the hedger's forced-selling price impact that is permanent: arbitrageurs pull
    the spot price toward the exogenous price moved by this share of the impact so far (0:
    arbitrage undoes all of it; 1: none of it). Markets are integrated: forced selling on one
    venue also moves the outside price the arbitrageurs trade against."""


class LpSpec(_Model):
    """Liquidity providers who withdraw under stress (AMM LPs and backstop-vault LPs)."""

    withdraw_on_drawdown: float | None = Field(default=None, gt=0, lt=1)
    """Fall of the oracle price from its running peak, as a fraction, at which LPs withdraw;
    ``None``: they never withdraw."""
    withdraw_fraction: float = Field(default=0.5, gt=0, le=1)
    """Share of their liquidity LPs withdraw when triggered (once per run)."""
    applies_to: Literal["amm", "backstop", "both"] = "both"
    """Which LPs withdraw: the spot AMM's, the backstop vault's, or both."""


# ----------------------------------------------------------------------------------------------
# Scenario
# ----------------------------------------------------------------------------------------------


class Scenario(_Model):
    """One simulation run: venue, controls, traders, price path, agents, steps and seed.

    Build one with :func:`load_scenario` (preset or YAML file) or :func:`parse_scenario` (a
    mapping). Variants: :meth:`with_overrides`; ``model_copy(update=...)`` does not validate.
    """

    name: str = Field(min_length=1)
    """Short name, used in run folder names and reports."""
    description: str = ""
    """What the scenario represents and where its numbers come from."""
    seed: int = Field(default=0, ge=0)
    """Seed of every random draw in the run (see :func:`random_streams`)."""
    steps: int = Field(ge=1, le=10_000_000)
    """Number of steps; one step is one block."""
    step_seconds: int = Field(default=60, ge=1, le=86_400)
    """Simulated seconds per step (seconds)."""
    market: MarketSpec = Field(default_factory=MarketSpec)
    """Venue parameter preset and overrides."""
    controls: Controls = Field(default_factory=Controls)
    """Risk controls."""
    traders: Traders
    """Trader population: ``kind: random`` or ``kind: explicit``."""
    price_path: PricePath
    """Exogenous price path: ``kind: gbm``, ``csv`` or ``list``."""
    oracle_faults: list[OracleFault] = Field(default_factory=list)
    """Faults of the oracle on top of the price it is fed."""
    keepers: KeeperSpec = Field(default_factory=KeeperSpec)
    """Liquidation keepers."""
    arbitrageurs: ArbitrageurSpec = Field(default_factory=ArbitrageurSpec)
    """AMM arbitrageurs."""
    amm: AmmSpec = Field(default_factory=AmmSpec)
    """Spot AMM depth."""
    lps: LpSpec = Field(default_factory=LpSpec)
    """Liquidity providers' withdrawals under stress."""

    _fingerprint: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fits_in_run(self) -> Scenario:
        steps = self.steps
        path = self.price_path
        if isinstance(path, ListPath) and len(path.prices_usd) < steps + 1:
            raise ValueError(
                f"price_path.prices_usd has {len(path.prices_usd)} prices but steps={steps} "
                f"needs at least {steps + 1}"
            )
        if isinstance(path, GbmPath):
            for i, shock in enumerate(path.shocks):
                if shock.step >= steps:
                    raise ValueError(
                        f"price_path.shocks[{i}].step ({shock.step}) must be below steps ({steps})"
                    )
        for i, fault in enumerate(self.oracle_faults):
            first = fault.step if isinstance(fault, BadPrintFault) else fault.start_step
            if first > steps:
                raise ValueError(
                    f"oracle_faults[{i}] starts at step {first}, after the last step ({steps})"
                )
        change = self.controls.governance_change
        if change is not None and change.step >= steps:
            raise ValueError(
                f"controls.governance_change.step ({change.step}) must be below steps ({steps})"
            )
        return self

    @model_validator(mode="after")
    def _inputs_mean_what_they_say(self) -> Scenario:
        """The checks that need the venue or the data files: a CSV path covers the run, the
        venue parameters (preset, overrides, controls, governance change) are valid, and the
        venue accepts every position of an explicit book."""
        path = self.price_path
        if isinstance(path, CsvPath) and not path.hold_last:
            times, _ = _price_csv_cached(path.path)
            problem = csv_coverage_problem(path.path, times, self.steps, self.step_seconds)
            if problem:
                raise ValueError(f"price_path.path: {problem}")
        venue = self.venue_params()
        _check_governance_change(self.controls.governance_change, venue)
        if isinstance(self.traders, ExplicitBook):
            check_explicit_book(self.traders, venue, self.controls)
        return self

    # -- resolved inputs ------------------------------------------------------------------

    def start_price_usd(self) -> float:
        """The configured price at step 0 (USD): a GBM path's ``start_price_usd``, a list's
        first price, a CSV file's first row. Nothing random is drawn."""
        path = self.price_path
        if isinstance(path, GbmPath):
            return float(path.start_price_usd)
        if isinstance(path, ListPath):
            return float(path.prices_usd[0])
        return float(_price_csv_cached(path.path)[1][0])

    def venue_params(self) -> VenueParams:
        """The venue the engine deploys: the ``market.preset``, then ``market.overrides``, then
        the controls (ADL policy, leverage cap, OI cap, circuit breaker, insurance fund,
        backstop vault, dynamic margin), with the oracle's initial price at
        :meth:`start_price_usd` and the AMM's depth from ``amm``.

        A leverage cap lowers ``max_leverage`` and floors every tier's initial margin at
        1/cap; when 1/cap would fall to the maintenance margin, the maintenance margin becomes
        half the initial margin (the Hyperliquid rule the presets follow). ``oi_cap_usd`` is
        converted to base units at the start price.

        Raises
        ------
        ValueError
            A bad preset, override or control, naming the key (``market.overrides.<name>:
            ...``); :func:`parse_scenario` turns it into a :class:`ScenarioError`. A scenario
            that validated never raises here.
        """
        return _resolve_venue(self)

    def input_notes(self) -> list[str]:
        """How the scenario's inputs were mapped onto the run, one sentence each (for the run
        manifest's ``extra.input_notes``): a CSV path's resolution against the step, its
        aggregation rule and what it hides, rows held past the end (``hold_last``) or unused
        after it. Empty when there is nothing to say."""
        if not isinstance(self.price_path, CsvPath):
            return []
        from simulator.pricepaths import csv_path_notes  # pricepaths imports this module

        times, prices = _price_csv_cached(self.price_path.path)
        return csv_path_notes(self.price_path, times, prices, self.steps, self.step_seconds)

    # -- identity ---------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Stable SHA-256 (hex) of what the scenario simulates.

        The canonical JSON of the model (sorted keys, no whitespace) without ``name`` and
        ``description``, with each referenced CSV file replaced by the SHA-256 of its bytes, so
        the fingerprint does not depend on where the file lies. Same fingerprint, same results.
        """
        if self._fingerprint is None:
            payload = self.model_dump(mode="json", exclude={"name", "description"})
            if isinstance(self.traders, ExplicitBook) and self.traders.csv is not None:
                payload["traders"]["csv"] = {"sha256": _file_sha256(self.traders.csv)}
            if isinstance(self.price_path, CsvPath):
                payload["price_path"]["path"] = {"sha256": _file_sha256(self.price_path.path)}
            text = json.dumps(
                {"perpsim_scenario": 1, **payload},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=True,
                allow_nan=False,
            )
            self._fingerprint = hashlib.sha256(text.encode()).hexdigest()
        return self._fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field (paths as strings), e.g. for a run manifest."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The scenario as a YAML document that :func:`load_scenario` reads back."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    # -- variants ---------------------------------------------------------------------------

    def with_overrides(
        self, overrides: Iterable[str] | Mapping[str, Any] = (), **updates: Any
    ) -> Scenario:
        """A validated copy with dotted-key overrides applied.

        Parameters
        ----------
        overrides : iterable of str or mapping
            ``"key=value"`` strings (values parsed as YAML scalars) or a mapping
            ``{"controls.adl_policy": "pro_rata"}`` of dotted keys to values.
        **updates
            Top-level fields to replace, e.g. ``seed=7``.

        Raises
        ------
        ScenarioError
            An override is malformed or the result does not validate.

        Examples
        --------
        >>> s = load_scenario("calm").with_overrides(["controls.adl_policy=pro_rata"], seed=3)
        >>> (s.controls.adl_policy, s.seed)
        ('pro_rata', 3)
        """
        data = self.to_dict()
        data.update(updates)
        data = apply_overrides(data, overrides)
        return parse_scenario(data, label=f"scenario {self.name}")

    def random_streams(self) -> RandomStreams:
        """The independent generators of this scenario's seed (see :func:`random_streams`)."""
        return random_streams(self.seed)

    def check_data_files(self) -> None:
        """Read every CSV the scenario references, so a bad file fails before a run starts.

        Raises
        ------
        ScenarioError
            A file is missing or malformed (the message names the file and line).
        """
        if isinstance(self.traders, ExplicitBook) and self.traders.csv is not None:
            read_positions_csv(self.traders.csv)
        if isinstance(self.price_path, CsvPath):
            read_price_csv(self.price_path.path)


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from None


# ----------------------------------------------------------------------------------------------
# Randomness
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomStreams:
    """Independent generators derived from one seed, one per consumer."""

    price: np.random.Generator
    """Draws of the exogenous price path."""
    population: np.random.Generator
    """Draws of the trader population."""
    agents: np.random.Generator
    """Draws of agents' decisions during the run (top-up coin flips, orderings, ...)."""


def random_streams(seed: int) -> RandomStreams:
    """Split ``seed`` into independent generators (``SeedSequence(seed).spawn(3)``).

    Examples
    --------
    >>> a, b = random_streams(7), random_streams(7)
    >>> bool(a.price.random() == b.price.random())
    True
    """
    price, population, agents = np.random.SeedSequence(int(seed)).spawn(3)
    return RandomStreams(
        price=np.random.default_rng(price),
        population=np.random.default_rng(population),
        agents=np.random.default_rng(agents),
    )


def path_seeds(seed: int, n_paths: int) -> list[int]:
    """Integer seeds of ``n_paths`` independent runs derived from ``seed``.

    Path ``i`` uses the ``i``-th child of ``SeedSequence(seed)``; its 53-bit integer seed can be
    given to ``perpsim run --seed`` to reproduce that path alone.

    Examples
    --------
    >>> path_seeds(1, 3) == path_seeds(1, 3) and len(set(path_seeds(1, 3))) == 3
    True
    """
    if n_paths < 1:
        raise ScenarioError(f"number of paths must be >= 1 (got {n_paths})")
    children = np.random.SeedSequence(int(seed)).spawn(int(n_paths))
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(11)) for c in children]


# ----------------------------------------------------------------------------------------------
# CSV files
# ----------------------------------------------------------------------------------------------


def _open_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    """Open a CSV file and check its header; yield ``(line_number, row_dict)``."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"CSV file not found: {path}") from None
    except OSError as exc:
        raise ScenarioError(f"cannot read CSV file {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ScenarioError(f"{path}: empty CSV file (expected a header row)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}:1: malformed CSV: {exc}") from None
        header = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required + optional]
        if missing or unknown:
            expected = ",".join(required) + "".join(f"[,{c}]" for c in optional)
            raise ScenarioError(
                f"{path}:1: header must be {expected} (got {','.join(header) or 'nothing'})"
            )
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ScenarioError(
                        f"{path}:{line}: expected {len(header)} fields, got {len(row)}"
                    )
                yield line, {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None


def _positive_float(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{path}:{line}: {column} must be a number (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"{path}:{line}: {column} must be a positive number (got {text!r})")
    return value


def _timestamp_seconds(path: Path, line: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise ScenarioError(
                f"{path}:{line}: timestamp must be UNIX seconds or ISO 8601 (got {text!r})"
            ) from None
        return stamp.timestamp()
    if not math.isfinite(value):
        raise ScenarioError(f"{path}:{line}: timestamp must be finite (got {text!r})")
    return value


def read_price_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``timestamp,price`` CSV file.

    Parameters
    ----------
    path : str or Path
        CSV file with header ``timestamp,price``; timestamps are UNIX seconds or ISO 8601 (naive
        times are local time: prefer an explicit offset or ``Z``), strictly increasing.

    Returns
    -------
    timestamps_s : numpy.ndarray
        Timestamps (seconds since the UNIX epoch), float64.
    prices_usd : numpy.ndarray
        Prices (USD), float64, all positive.

    Raises
    ------
    ScenarioError
        The file is missing, empty, has a wrong header, or a row is malformed (names the line).
    """
    path = Path(path)
    times: list[float] = []
    prices: list[float] = []
    for line, row in _open_csv(path, ("timestamp", "price")):
        t = _timestamp_seconds(path, line, row["timestamp"])
        if times and t <= times[-1]:
            raise ScenarioError(f"{path}:{line}: timestamps must be strictly increasing")
        times.append(t)
        prices.append(_positive_float(path, line, "price", row["price"]))
    if not times:
        raise ScenarioError(f"{path}: no price rows after the header")
    return np.asarray(times, dtype=float), np.asarray(prices, dtype=float)


def read_positions_csv(path: str | Path) -> list[ExplicitPosition]:
    """Read an explicit book from a ``side,collateral_usd,size_base[,behaviour]`` CSV file.

    Raises
    ------
    ScenarioError
        The file is missing, empty, has a wrong header, or a row is malformed (names the line).
    """
    return [position for _, position in _read_positions_rows(Path(path))]


def _read_positions_rows(path: Path) -> list[tuple[int, ExplicitPosition]]:
    """The positions of a book CSV with the file line of each (1-based)."""
    rows: list[tuple[int, ExplicitPosition]] = []
    for line, row in _open_csv(path, ("side", "collateral_usd", "size_base"), ("behaviour",)):
        side = row["side"].lower()
        if side not in ("long", "short"):
            raise ScenarioError(f"{path}:{line}: side must be long or short (got {row['side']!r})")
        behaviour = (row.get("behaviour") or "").lower() or None
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise ScenarioError(
                f"{path}:{line}: behaviour must be one of {', '.join(BEHAVIOURS)} "
                f"(got {row['behaviour']!r})"
            )
        position = ExplicitPosition(
            side=side,
            collateral_usd=_positive_float(path, line, "collateral_usd", row["collateral_usd"]),
            size_base=_positive_float(path, line, "size_base", row["size_base"]),
            behaviour=behaviour,
        )
        rows.append((line, position))
    if not rows:
        raise ScenarioError(f"{path}: no positions after the header")
    return rows


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=32)
def _price_csv_by_key(key: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    times, prices = read_price_csv(key[0])
    times.setflags(write=False)
    prices.setflags(write=False)
    return times, prices


def _price_csv_cached(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_price_csv`, read once per file version (path, mtime, size); read-only."""
    key = _file_key(path)
    return read_price_csv(path) if key is None else _price_csv_by_key(key)


@lru_cache(maxsize=32)
def _positions_csv_by_key(key: tuple[str, int, int]) -> tuple[tuple[int, ExplicitPosition], ...]:
    return tuple(_read_positions_rows(Path(key[0])))


def _positions_rows_cached(path: Path) -> tuple[tuple[int, ExplicitPosition], ...]:
    key = _file_key(path)
    return tuple(_read_positions_rows(path)) if key is None else _positions_csv_by_key(key)


def _plain(x: float, digits: int = 2) -> str:
    """A number with thousands separators and at most ``digits`` decimals (``10,000``,
    ``47.5``); tiny numbers in ``g`` form."""
    if x != 0 and abs(x) < 10 ** (-digits):
        return f"{x:.3g}"
    text = f"{x:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _utc(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} s"


def csv_coverage_problem(
    path: Path, timestamps_s: np.ndarray, steps: int, step_seconds: float
) -> str | None:
    """Why a CSV price file does not cover a run of ``steps`` × ``step_seconds``, or None.

    The run needs prices up to ``t0 + steps·step_seconds`` (``t0`` = the first timestamp);
    the file covers up to its last timestamp.
    """
    t0, t_last = float(timestamps_s[0]), float(timestamps_s[-1])
    need = int(steps) * float(step_seconds)
    have = t_last - t0
    if have >= need:
        return None
    return (
        f"{path} covers {_plain(have)} s ({len(timestamps_s):,} rows from {_utc(t0)} to "
        f"{_utc(t_last)}) but the run needs {_plain(need)} s ({int(steps):,} steps × "
        f"{_plain(step_seconds)} s); add rows, lower steps, or set price_path.hold_last: true "
        "to hold the last price"
    )


# ----------------------------------------------------------------------------------------------
# Venue parameters, and the explicit book against the venue
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _preset(name: str) -> VenueParams:
    return load_preset(name)


_BOUND_WORDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_FIELD_WORD = re.compile(r"[a-z][a-z0-9_]+")


def _market_error(exc: ValidationError, sources: Mapping[str, str], preset: str) -> str:
    """One line for the first error of a :class:`MarketParams` validation, naming the
    scenario key that set the offending field (an override, a control, or the preset)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    fields = MarketParams.model_fields
    if loc and loc[0] in fields:
        field = str(loc[0])
        key = sources.get(field, f"market.preset {preset}: {field}")
        for name, word in _BOUND_WORDS.items():
            if kind == name:
                bound = next(iter(ctx.values()), None)
                message = f"must be {word} {bound:g}"
        got = error.get("input")
        got_text = f" (got {got!r})" if not isinstance(got, dict | list | tuple) else ""
        return f"{key}: {message}{got_text}"
    # A rule over several fields: name the first field it mentions that the scenario set.
    mentioned = [w for w in _FIELD_WORD.findall(message) if w in fields]
    chosen = next((f for f in mentioned if f in sources), None)
    if chosen is None:
        return f"market.preset {preset}: {message}"
    return f"{sources[chosen]}: {message}"


def _resolve_venue(scenario: Scenario) -> VenueParams:
    """See :meth:`Scenario.venue_params` (raises ValueError naming the key)."""
    market = scenario.market
    if market.preset not in preset_names():
        raise ValueError(
            f"market.preset: unknown venue preset {market.preset!r} (known: "
            f"{', '.join(preset_names())})"
        )
    try:
        params = _preset(market.preset)
    except ParamsError as exc:
        raise ValueError(f"market.preset: {exc}") from None
    fields = MarketParams.model_fields
    for key in market.overrides:
        if key not in fields:
            raise ValueError(
                f"market.overrides.{key}: unknown venue parameter (known: "
                f"{', '.join(sorted(fields))})"
            )
    controls = scenario.controls
    changes: dict[str, Any] = dict(market.overrides)
    sources = {key: f"market.overrides.{key}" for key in market.overrides}
    changes["adl_policy"] = AdlPolicy(controls.adl_policy)
    sources["adl_policy"] = "controls.adl_policy"
    if controls.leverage_cap is not None:
        try:
            current = float(changes.get("max_leverage", params.market.max_leverage))
            mmf = float(
                changes.get(
                    "maintenance_margin_fraction", params.market.maintenance_margin_fraction
                )
            )
        except (TypeError, ValueError):
            current = mmf = math.nan  # a non-numeric override: the model names it below
        if math.isfinite(current) and math.isfinite(mmf):
            max_leverage = min(current, controls.leverage_cap)
            changes["max_leverage"] = max_leverage
            if controls.leverage_cap < current:
                sources["max_leverage"] = "controls.leverage_cap"
            # Maintenance margin stays, unless the cap's initial margin would fall to it: then
            # it becomes half the initial margin (the Hyperliquid rule the presets follow).
            if mmf >= 1 / max_leverage:
                changes["maintenance_margin_fraction"] = mmf = 0.5 / max_leverage
                sources["maintenance_margin_fraction"] = "controls.leverage_cap"
            # The cap applies to every tier: a tier's initial margin is at least 1/cap.
            changes["margin_tiers"] = [
                {
                    **tier.model_dump(),
                    "initial_margin_fraction": max(tier.initial_margin_fraction, 1 / max_leverage),
                    "maintenance_margin_fraction": max(tier.maintenance_margin_fraction, mmf),
                }
                for tier in params.market.margin_tiers
            ]
            sources["margin_tiers"] = "controls.leverage_cap"
    if controls.oi_cap_usd is not None:
        cap_base = controls.oi_cap_usd / scenario.start_price_usd()
        changes["max_long_open_interest"] = changes["max_short_open_interest"] = cap_base
        sources["max_long_open_interest"] = sources["max_short_open_interest"] = (
            "controls.oi_cap_usd"
        )
    if controls.circuit_breaker_max_move_bps is not None:
        changes["circuit_breaker_band_bps"] = controls.circuit_breaker_max_move_bps
        sources["circuit_breaker_band_bps"] = "controls.circuit_breaker_max_move_bps"
    try:
        market_params = MarketParams.model_validate({**params.market.model_dump(), **changes})
    except ValidationError as exc:
        raise ValueError(_market_error(exc, sources, market.preset)) from None
    try:
        return VenueParams.model_validate(
            {
                **params.model_dump(),
                "market": market_params.model_dump(),
                "oracle": {
                    **params.oracle.model_dump(),
                    "initial_price_usd": scenario.start_price_usd(),
                },
                "amm": {**params.amm.model_dump(), "liquidity_usd": scenario.amm.liquidity_usd},
                "buffers": {
                    **params.buffers.model_dump(),
                    "insurance_fund_usd": controls.insurance_fund_usd,
                    "backstop_vault_usd": controls.backstop_vault_usd,
                    "backstop_enabled": controls.backstop_vault_usd > 0,
                },
                "controller": {
                    **params.controller.model_dump(),
                    "enabled": controls.dynamic_margin,
                },
            }
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "venue"
        raise ValueError(
            f"market.preset {market.preset}: {where}: "
            f"{str(error.get('msg')).removeprefix('Value error, ')}"
        ) from None


#: Parameters the guardian may change at once (only tightening them), and ``risk_paused``.
GUARDIAN_PARAMETERS = ("max_leverage", "maintenance_margin_fraction", "risk_paused")


def _check_governance_change(change: GovernanceChange | None, venue: VenueParams) -> None:
    """The change names a parameter its path can change and the result is a valid market
    (tiers left out: the contract sets them separately and floors them at the base)."""
    if change is None:
        return
    key = "controls.governance_change"
    market = venue.market
    fields = MarketParams.model_fields
    if change.path == "guardian":
        if change.parameter not in GUARDIAN_PARAMETERS:
            raise ValueError(
                f"{key}.parameter: the guardian can change {', '.join(GUARDIAN_PARAMETERS)}, "
                f"not {change.parameter!r}"
            )
        if change.parameter == "risk_paused":
            return
        before = float(getattr(market, change.parameter))
        try:
            after = float(change.value)
        except (TypeError, ValueError):
            after = before  # not a number: the market model names it below
        if after > before if change.parameter == "max_leverage" else after < before:
            raise ValueError(
                f"{key}.value: the guardian may only tighten; {change.parameter} "
                f"{_plain(after, 6)} is looser than the venue's {_plain(before, 6)} (use "
                "path: timelock)"
            )
    elif change.parameter not in fields or change.parameter == "margin_tiers":
        raise ValueError(
            f"{key}.parameter: unknown market parameter {change.parameter!r} (known: "
            f"{', '.join(sorted(f for f in fields if f != 'margin_tiers'))})"
        )
    try:
        MarketParams.model_validate(
            {**market.model_dump(), "margin_tiers": (), change.parameter: change.value}
        )
    except ValidationError as exc:
        where = f"{key}.value: {change.parameter}={change.value!r}"
        message = _market_error(exc, {change.parameter: where}, "")
        raise ValueError(message.replace("market.preset : ", f"{where}: ")) from None


def _mul_div_up(a: int, b: int, d: int) -> int:
    return -((-a * b) // d)


def _requirement(notional: int, base_rate: int, tiers: list[tuple[int, int, int]]) -> int:
    """``MarginMath.requirement`` (initial fractions, scale 1), WAD integers."""
    rate, deduction = base_rate, 0
    for floor, imf, _ in tiers:
        if notional < floor:
            break
        nxt = min(max(imf, base_rate), WAD)
        if nxt > rate:
            deduction += floor * (nxt - rate) // WAD
        rate = nxt
    gross = _mul_div_up(notional, rate, WAD)
    return gross - deduction if gross > deduction else 0


def _fill_price(price: int, skew: int, delta: int, skew_scale: int) -> int:
    """``PerpMath.fillPrice``: Synthetix skew impact, buyers rounded up, sellers down."""
    if skew_scale == 0:
        return price
    x = 2 * skew + delta
    impact = _mul_div_up(x, price, 2 * skew_scale) if delta > 0 else x * price // (2 * skew_scale)
    fill = price + impact
    return fill if fill > 0 else 0


def check_explicit_book(book: ExplicitBook, venue: VenueParams, controls: Controls) -> None:
    """Refuse an explicit book the venue would refuse, naming the row and the limit.

    The positions are opened at deployment in book order, at the oracle's initial price,
    each on a fresh account funded with its collateral: this replays what the contract does
    for each open (``PerpMarket._trade``: skew-impacted fill, OI caps, taker fee, initial
    margin with tiers and dYdX OI scaling; WAD integer arithmetic with the contract's
    rounding) and raises at the first open the contract would revert.

    Raises
    ------
    ValueError
        ``traders.positions[i]: ...`` (or ``traders.csv FILE:LINE: ...``) with the position's
        leverage and the venue's maximum, the open interest and the cap, or the amount that
        rounds to nothing; :func:`parse_scenario` turns it into a :class:`ScenarioError`.
    """
    if book.csv is not None:
        rows = [
            (f"traders.csv {book.csv}:{line}", p) for line, p in _positions_rows_cached(book.csv)
        ]
    else:
        rows = [(f"traders.positions[{i}]", p) for i, p in enumerate(book.positions or ())]
    m = venue.market
    price_usd = venue.oracle.initial_price_usd
    price = to_wad(price_usd)
    base_imf = _mul_div_up(WAD, WAD, to_wad(m.max_leverage))
    tier_wads = [
        (to_wad(t.notional_floor_usd), to_wad(t.initial_margin_fraction), 0) for t in m.margin_tiers
    ]
    skew_scale = to_wad(m.skew_scale)
    caps = {True: to_wad(m.max_long_open_interest), False: to_wad(m.max_short_open_interest)}
    lower, upper = to_wad(m.oi_imf_lower_cap_usd), to_wad(m.oi_imf_upper_cap_usd)
    cap_source = (
        f"controls.oi_cap_usd = {_plain(controls.oi_cap_usd)} USD at {_plain(price_usd)} USD"
        if controls.oi_cap_usd is not None
        else "market max_long_open_interest / max_short_open_interest"
    )
    oi = {True: 0, False: 0}
    for where, pos in rows:
        long = pos.side == "long"
        size_wad = to_wad(round(pos.size_base, 12))
        units = to_units(pos.collateral_usd)
        what = (
            f"{pos.side} {_plain(pos.size_base, 8)} (base units) at {_plain(price_usd)} USD on "
            f"{_plain(pos.collateral_usd)} USD of collateral"
        )
        if size_wad == 0:
            raise ValueError(f"{where}: {what}: size_base rounds to 0 at 18 decimals")
        if units == 0:
            raise ValueError(f"{where}: {what}: collateral_usd rounds to 0 at 6 decimals")
        delta = size_wad if long else -size_wad
        fill = _fill_price(price, oi[True] - oi[False], delta, skew_scale)
        if fill == 0:
            raise ValueError(
                f"{where}: {what}: its skew impact would take the fill price to 0 "
                f"(skew_scale {_plain(m.skew_scale)})"
            )
        oi[long] += size_wad
        if oi[long] > caps[long]:
            raise ValueError(
                f"{where}: {what} brings {pos.side} open interest to "
                f"{_plain(oi[long] / WAD, 6)} (base units), above the venue's cap of "
                f"{_plain(caps[long] / WAD, 6)} ({cap_source})"
            )
        fee = _mul_div_up(_mul_div_up(size_wad, fill, WAD), m.taker_fee_bps, 10_000)
        margin = units * (WAD // 10**6) - fee
        notional = _mul_div_up(size_wad, price, WAD)
        im = _requirement(notional, base_imf, tier_wads)
        if upper and notional > im:
            open_notional = _mul_div_up(max(oi.values()), price, WAD)
            if open_notional >= upper:
                im = notional
            elif open_notional > lower:
                t = _mul_div_up(open_notional - lower, WAD, upper - lower)
                im = im + _mul_div_up(notional - im, t, WAD)
        move = price - fill
        pnl = (move if long else -move) * size_wad // WAD
        equity = margin + pnl
        if equity >= im and margin >= 0:
            continue
        leverage = pos.size_base * price_usd / pos.collateral_usd
        max_leverage = notional / im if im else math.inf
        text = (
            f"{where}: {what} is {_plain(leverage)}x leverage; the venue's maximum at this "
            f"notional is {_plain(max_leverage)}x (initial margin {_plain(im / WAD)} USD"
        )
        if leverage * (1 - 1e-9) <= max_leverage:
            text += (
                f"; with the taker fee {_plain(fee / WAD)} USD and the skew impact "
                f"{_plain(-pnl / WAD)} USD its equity at open, {_plain(equity / WAD)} USD, is "
                "below it"
            )
        raise ValueError(text + ")")


# ----------------------------------------------------------------------------------------------
# Loading: YAML, overrides, validation errors as one line
# ----------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
    return f"malformed YAML at {where}: {problem}"


def available_presets() -> list[str]:
    """Names of the preset scenarios shipped in ``simulator/scenarios/``, sorted."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


_KEY_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def override_key_parts(key: str) -> list[str | int]:
    """Split an override key into mapping keys (str) and list indices (int).

    ``price_path.shocks[0].step`` and ``price_path.shocks.0.step`` both give
    ``["price_path", "shocks", 0, "step"]`` (the bracket form is how error messages print keys).

    Raises
    ------
    ScenarioError
        An empty part (``a..b``) or a segment that is neither ``name`` nor ``name[i]...``.

    Examples
    --------
    >>> override_key_parts("oracle_faults[1].steps")
    ['oracle_faults', 1, 'steps']
    """
    parts: list[str | int] = []
    for segment in key.split("."):
        if not segment:
            raise ScenarioError(f"override key {key!r} has an empty part")
        match = _KEY_SEGMENT.fullmatch(segment)
        if match is None:
            raise ScenarioError(
                f"override key {key!r}: cannot read {segment!r} (write name, name[0] or name.0)"
            )
        name, indices = match.groups()
        parts.append(int(name) if name.isdigit() else name)
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", indices)]
    return parts


def _parts_text(parts: Iterable[str | int]) -> str:
    """``["price_path", "shocks", 0]`` -> ``price_path.shocks[0]`` (as error messages print keys)."""
    return _key_text(tuple(parts)) or "<top>"


def format_override_value(value: Any) -> str:
    """An override value as it would be typed after ``=`` (YAML): ``pro_rata``, ``30``, ``true``,
    ``null``, ``[{"step":100}]`` (JSON is YAML for lists and mappings).

    Examples
    --------
    >>> format_override_value([{"step": 100, "fall_fraction": 0.2}])
    '[{"step":100,"fall_fraction":0.2}]'
    """
    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value
        except yaml.YAMLError:
            same = False
        return value if same and value.strip() == value and value else json.dumps(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def parse_override_items(overrides: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``--set`` strings (``"key=value"``, value parsed as YAML) or a mapping, as
    ``(key, value)`` pairs in order.

    Raises
    ------
    ScenarioError
        An override has no ``=``, an empty key, or an unparsable value.
    """
    if isinstance(overrides, Mapping):
        return [(str(k), v) for k, v in overrides.items()]
    items = []
    for text in overrides:
        key, sep, raw = str(text).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"override {text!r} must look like key=value")
        try:
            value = yaml.load(raw.strip(), Loader=_UniqueKeyLoader) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ScenarioError(f"override {key}: cannot parse value {raw!r}: {exc}") from None
        items.append((key, value))
    return items


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str] | Mapping[str, Any]
) -> dict[str, Any]:
    """Apply dotted-key overrides to a nested scenario mapping (a deep copy is returned).

    Parameters
    ----------
    data : mapping
        Scenario as plain data (as read from YAML).
    overrides : iterable of str or mapping
        ``"a.b.c=value"`` strings, whose value is parsed as a YAML scalar (``200`` is an int,
        ``true`` a bool, ``null`` None, ``pro_rata`` a string), or a mapping of dotted keys to
        values. Lists are indexed with brackets, as error messages print keys
        (``price_path.shocks[0].step=500``, ``price_path.prices_usd[3]=90000``), or with a
        dotted integer (``price_path.shocks.0.step=500``). Missing intermediate mappings are
        created; validation later rejects unknown keys.

    Raises
    ------
    ScenarioError
        An override has no ``=``, an empty key, an unparsable value, an index out of range
        (the message names the key and the list's length), or walks into a value that is not a
        mapping or a list.

    Examples
    --------
    >>> data = {"price_path": {"shocks": [{"step": 600}]}}
    >>> apply_overrides(data, ["price_path.shocks[0].step=100"])["price_path"]["shocks"][0]
    {'step': 100}
    """
    return _apply_items(data, parse_override_items(overrides))


def _apply_items(data: Mapping[str, Any], items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """:func:`apply_overrides` of parsed ``(key, value)`` pairs, in order."""
    result = json.loads(json.dumps(data, default=str))  # deep copy of plain data
    for key, value in items:
        parts = override_key_parts(key)
        node: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = _parts_text(parts[:i])
            if isinstance(node, list):
                if not isinstance(part, int):
                    raise ScenarioError(
                        f"override {key}: {where} is a list; index it, e.g. {where}[0]"
                    )
                if part >= len(node):
                    valid = f" (indices 0 to {len(node) - 1})" if node else ""
                    raise ScenarioError(
                        f"override {key}: {part} is not an index of {where}, which has "
                        f"{len(node)} item{'s' if len(node) != 1 else ''}{valid}"
                    )
            elif isinstance(node, dict):
                if isinstance(part, int):
                    raise ScenarioError(f"override {key}: {where} is a mapping, not a list")
                if not last and node.get(part) is None:
                    if isinstance(parts[i + 1], int):
                        raise ScenarioError(
                            f"override {key}: {parts[i + 1]} is not an index of "
                            f"{_parts_text(parts[: i + 1])}, which has 0 items"
                        )
                    node[part] = {}
            else:
                raise ScenarioError(f"override {key}: {where} is a value, not a mapping")
            if last:
                node[part] = value
            else:
                node = node[part]
    return result


def load_scenario(
    name_or_path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()
) -> Scenario:
    """Load a preset or a YAML file, apply overrides and validate.

    Parameters
    ----------
    name_or_path : str or Path
        A preset name (a file ``simulator/scenarios/<name>.yaml``, see
        :func:`available_presets`) or the path of a YAML file.
    overrides : iterable of str or mapping
        ``--set`` style ``"dotted.key=value"`` overrides (see :func:`apply_overrides`).

    Returns
    -------
    Scenario
        The validated scenario; every CSV it references has been read and checked.

    Raises
    ------
    ScenarioError
        Unknown preset (the message lists the available ones), missing file, malformed YAML
        (names the file and line), unknown key or out-of-range value (names the key), missing
        or malformed CSV (names the file and line).

    Examples
    --------
    >>> load_scenario("oct-2025", ["traders.count=200"]).traders.count
    200
    """
    text = str(name_or_path)
    preset_file = SCENARIOS_DIR / f"{text}.yaml"
    if isinstance(name_or_path, Path) or _looks_like_path(text):
        path = Path(text).expanduser()
        if path.is_dir():
            raise ScenarioError(f"scenario path {path} is a folder, not a YAML file")
        if not path.is_file():
            raise ScenarioError(f"scenario file not found: {path}")
        label = f"scenario {path}"
    elif preset_file.is_file():
        path, label = preset_file, f"scenario {text}"
    elif Path(text).is_file():
        path, label = Path(text), f"scenario {text}"
    elif Path(text).is_dir():
        raise ScenarioError(f"scenario path {text} is a folder, not a YAML file")
    else:
        raise ScenarioError(
            f"unknown scenario preset {text!r}; available: {', '.join(available_presets())} "
            "(or give the path of a YAML file)"
        )
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from None
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario file {path}: {_yaml_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(
            f"scenario file {path}: the top level must be a mapping of keys (got "
            f"{type(data).__name__})"
        )
    items = parse_override_items(overrides)
    data = _apply_items(data, items)
    if items:
        data["description"] = describe_overrides(str(data.get("description") or ""), items)
    lines = _YamlLines(raw, skip=[tuple(map(str, override_key_parts(k))) for k, _ in items])
    scenario = parse_scenario(data, base_dir=path.resolve().parent, label=label, lines=lines)
    scenario.check_data_files()
    return scenario


#: Start of the sentence :func:`load_scenario` appends to a scenario's ``description`` when
#: overrides were given: the preset's prose describes the preset, not the overridden values.
OVERRIDES_NOTE = "Overrides (--set): "


def describe_overrides(description: str, items: Iterable[tuple[str, Any]]) -> str:
    """``description`` followed by the sentence naming the overrides (``key=value; ...``).

    The prose of a preset describes the preset (for oct-2025: "a 15% exogenous fall within 45
    minutes at step 600"); when an override changes what it describes, the description would
    lie, so every override is appended as typed (values normalized). A description that already
    has the sentence (a scenario saved by ``perpsim show`` and overridden again) gets the new
    items added to it.

    Examples
    --------
    >>> describe_overrides("A fall at step 600.", [("price_path.shocks[0].step", 100)])
    'A fall at step 600. Overrides (--set): price_path.shocks[0].step=100.'
    """
    text = "; ".join(f"{k}={format_override_value(v)}" for k, v in items)
    description = description.strip()
    if OVERRIDES_NOTE in description:  # a file saved with overrides, overridden again
        return f"{description.rstrip('.')}; {text}."
    note = f"{OVERRIDES_NOTE}{text}."
    return f"{description} {note}" if description else note


def overrides_in_description(description: str) -> list[str]:
    """The ``key=value`` items of the overrides sentence of a description (see
    :func:`describe_overrides`), or ``[]``.

    Examples
    --------
    >>> overrides_in_description("A fall. Overrides (--set): traders.count=30; steps=60.")
    ['traders.count=30', 'steps=60']
    """
    _, found, tail = description.partition(OVERRIDES_NOTE)
    if not found:
        return []
    return [item.strip() for item in tail.strip().removesuffix(".").split("; ") if item.strip()]


class _YamlLines:
    """Line numbers of keys in a YAML document, for error messages (1-based)."""

    def __init__(self, text: str, skip: Iterable[tuple[str, ...]] = ()):
        try:
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self._root = None
        self._skip = [tuple(k) for k in skip]

    def __call__(self, loc: tuple[Any, ...]) -> int | None:
        """Line of the deepest node along ``loc`` (keys and list indices), or None."""
        path = tuple(str(p) for p in loc)
        if any(path[: len(k)] == k or k[: len(path)] == path for k in self._skip):
            return None  # the value came from an override, not from the file
        node, line = self._root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        node, line = value, key.start_mark.line + 1
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def parse_scenario(
    data: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    label: str = "scenario",
    lines: Callable[[tuple[Any, ...]], int | None] | None = None,
) -> Scenario:
    """Validate plain data as a :class:`Scenario`, turning errors into one :class:`ScenarioError`.

    Parameters
    ----------
    data : mapping
        The scenario as plain data.
    base_dir : str or Path, optional
        Folder that relative CSV paths are relative to (default: the working directory).
    label : str
        How the message names the scenario (``"scenario oct-2025"``).
    lines : callable, optional
        Maps an error location (keys and indices) to the line of the YAML file it came from.

    Raises
    ------
    ScenarioError
        One line: ``<label>: [line N: ]<key>: <problem>`` (up to three problems, then a count).
    """
    context = {"base_dir": str(base_dir) if base_dir is not None else None}
    try:
        return Scenario.model_validate(dict(data), context=context)
    except ValidationError as exc:
        raise ScenarioError(f"{label}: {format_validation_error(exc, lines=lines)}") from None


# -- readable validation errors --------------------------------------------------------------

_UNION_FIELDS = {("traders",), ("price_path",), ("oracle_faults", int)}


def _strip_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic puts in error locations (``traders.random.count``)."""
    out: list[Any] = []
    for part in loc:
        shape = tuple(int if isinstance(p, int) else p for p in out)
        if isinstance(part, str) and shape in _UNION_FIELDS:
            out.append(None)  # placeholder, removed below, keeps shapes of deeper parts apart
            continue
        out.append(part)
    return tuple(p for p in out if p is not None)


def _key_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(annotation: Any) -> Any:
    """Model class, ``{tag: model}`` for a discriminated union, or None, for an annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in (_unwrap(a) for a in members) if isinstance(m, type)]
        if len(members) == 1:
            return _unwrap(members[0])
        tagged = {}
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and typing.get_origin(kind.annotation) is Literal:
                tagged[typing.get_args(kind.annotation)[0]] = m
        return tagged or None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """Follow a raw error location from :class:`Scenario`: (model or union, field info)."""
    node: Any = Scenario
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(node, dict):
            node = node.get(part)
            info = None
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return None, None
        info = node.model_fields.get(part)
        if info is None:
            return None, None
        node = _unwrap(info.annotation)
    return node, info


def _bounds(info: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in getattr(info, "metadata", ()) or ():
        for name in ("gt", "ge", "lt", "le"):
            value = getattr(meta, name, None)
            if value is not None:
                found[name] = value
    return found


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe(error: Mapping[str, Any]) -> str:
    raw_loc = tuple(error.get("loc", ()))
    loc = _strip_union_tags(raw_loc)
    key = _key_text(loc)
    kind = error.get("type", "")
    got = error.get("input")
    got_text = f" (got {got!r})" if not isinstance(got, dict | list) else ""
    if kind == "extra_forbidden":
        parent, _ = _walk(raw_loc[:-1])
        allowed = ""
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            allowed = f" (allowed: {', '.join(parent.model_fields)})"
        return f"{key}: unknown key{allowed}"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        node, _ = _walk(raw_loc)
        kinds = ", ".join(node) if isinstance(node, dict) else "?"
        if kind == "union_tag_not_found":
            return f"{key}.kind is required (one of: {kinds})"
        tag = (error.get("ctx") or {}).get("tag")
        return f"{key}.kind must be one of: {kinds} (got {tag!r})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        _, info = _walk(raw_loc)
        bounds = _bounds(info) if info is not None else dict(error.get("ctx") or {})
        if not bounds:
            bounds = dict(error.get("ctx") or {})
        low = ("ge", bounds["ge"]) if "ge" in bounds else ("gt", bounds.get("gt"))
        high = ("le", bounds["le"]) if "le" in bounds else ("lt", bounds.get("lt"))
        if low[1] is not None and high[1] is not None:
            if low[0] == "ge" and high[0] == "le":
                rule = f"must be between {_number(low[1])} and {_number(high[1])}"
            else:
                lo = ">=" if low[0] == "ge" else ">"
                hi = "<=" if high[0] == "le" else "<"
                rule = f"must be {lo} {_number(low[1])} and {hi} {_number(high[1])}"
        elif low[1] is not None:
            rule = f"must be {'>=' if low[0] == 'ge' else '>'} {_number(low[1])}"
        else:
            rule = f"must be {'<=' if high[0] == 'le' else '<'} {_number(high[1])}"
        return f"{key} {rule}{got_text}"
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
            if not key:
                return message
            return f"{key}: {message}"
    return f"{key or '<top>'}: {message}{got_text}"


def format_validation_error(
    exc: ValidationError,
    limit: int = 3,
    lines: Callable[[tuple[Any, ...]], int | None] | None = None,
) -> str:
    """One line naming each failing key and its problem (at most ``limit``, then a count);
    with ``lines``, each problem is prefixed with the YAML line of its key."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        text = _describe(error)
        line = lines(_strip_union_tags(tuple(error.get("loc", ())))) if lines else None
        parts.append(f"line {line}: {text}" if line else text)
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# ----------------------------------------------------------------------------------------------
# Named control sets for ``perpsim compare``
# ----------------------------------------------------------------------------------------------

#: Control sets by name, with what they change. Amounts are fixed, round numbers, not tuned to
#: the scenario; change them with ``--set`` after the control set is applied.
CONTROL_SETS: dict[str, str] = {
    "baseline": "the scenario's own controls",
    "leverage_cap": "controls.leverage_cap = 10 (x)",
    "insurance_x10": "controls.insurance_fund_usd x 10 ($10M when it is 0)",
    "backstop_vault": "controls.backstop_vault_usd = $20M",
    "adl_queue": "controls.adl_policy = queue",
    "adl_pro_rata": "controls.adl_policy = pro_rata",
    "adl_socialized": "controls.adl_policy = socialized",
    "adl_none": "controls.adl_policy = none",
    "circuit_breaker": "controls.circuit_breaker_max_move_bps = 100 (1% per block)",
    "dynamic_margin": "controls.dynamic_margin = true",
    "oi_cap": "controls.oi_cap_usd = $50M per side",
    "governance_timelock": "max_leverage -> 10 submitted at the first shock, via the timelock",
    "governance_guardian": "max_leverage -> 10 submitted at the first shock, via the guardian",
}

#: The control sets ``perpsim compare`` runs when none are named.
DEFAULT_CONTROL_SETS: tuple[str, ...] = (
    "baseline",
    "leverage_cap",
    "insurance_x10",
    "backstop_vault",
    "adl_pro_rata",
    "circuit_breaker",
    "dynamic_margin",
    "oi_cap",
    "governance_timelock",
)


def _shock_step(scenario: Scenario) -> int:
    path = scenario.price_path
    if isinstance(path, GbmPath) and path.shocks:
        return min(shock.step for shock in path.shocks)
    return scenario.steps // 2


def control_set(scenario: Scenario, name: str) -> Scenario:
    """The scenario with the named control set applied (see :data:`CONTROL_SETS`).

    Raises
    ------
    ScenarioError
        Unknown control set (the message lists the known ones).

    Examples
    --------
    >>> s = load_scenario("oct-2025")
    >>> control_set(s, "adl_pro_rata").controls.adl_policy
    'pro_rata'
    """
    fund = scenario.controls.insurance_fund_usd
    change = {"step": _shock_step(scenario), "parameter": "max_leverage", "value": 10}
    updates: dict[str, dict[str, Any]] = {
        "baseline": {},
        "leverage_cap": {"controls.leverage_cap": 10.0},
        "insurance_x10": {"controls.insurance_fund_usd": fund * 10 if fund > 0 else 10e6},
        "backstop_vault": {"controls.backstop_vault_usd": 20e6},
        "adl_queue": {"controls.adl_policy": "queue"},
        "adl_pro_rata": {"controls.adl_policy": "pro_rata"},
        "adl_socialized": {"controls.adl_policy": "socialized"},
        "adl_none": {"controls.adl_policy": "none"},
        "circuit_breaker": {"controls.circuit_breaker_max_move_bps": 100},
        "dynamic_margin": {"controls.dynamic_margin": True},
        "oi_cap": {"controls.oi_cap_usd": 50e6},
        "governance_timelock": {"controls.governance_change": {**change, "path": "timelock"}},
        "governance_guardian": {"controls.governance_change": {**change, "path": "guardian"}},
    }
    assert set(updates) == set(CONTROL_SETS)
    if name not in updates:
        raise ScenarioError(f"unknown control set {name!r}; known: {', '.join(CONTROL_SETS)}")
    return scenario.with_overrides(updates[name])
