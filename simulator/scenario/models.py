"""The scenario schema: frozen pydantic models, one per section of a scenario file.

A scenario names the venue preset and its overrides, the risk controls that are on, the trader
population, the exogenous price path with oracle faults on top, the other agents (keepers,
arbitrageurs, LPs), the spot AMM depth, the number of steps and the seed. Unknown keys and
out-of-range values are errors that name the key; the checks that need the venue or data files
run in :class:`Scenario`'s validators (:mod:`~simulator.scenario.venue`,
:mod:`~simulator.scenario.csv_inputs`), so a :class:`Scenario` that exists is valid.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.protocol.params import (
    VenueParams,
)
from simulator.scenario.csv_inputs import (
    _price_csv_cached,
    csv_coverage_problem,
    read_positions_csv,
    read_price_csv,
)
from simulator.scenario.messages import ScenarioError
from simulator.scenario.overrides import apply_overrides
from simulator.scenario.randomness import RandomStreams, random_streams
from simulator.scenario.venue import _check_governance_change, _resolve_venue, check_explicit_book

#: Trader behaviours, in the order of their integer codes (see ``population.Behaviour``).
BEHAVIOURS: tuple[str, ...] = ("hold", "take_profit", "stop_loss", "top_up", "panic")

BehaviourName = Literal["hold", "take_profit", "stop_loss", "top_up", "panic"]
Side = Literal["long", "short"]


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


#: Market symbol of a scenario whose ``market`` section names none: the venue presets are
#: BTC-like markets.
DEFAULT_SYMBOL = "BTC"


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
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9._-]{0,15}$")] | None = None
    """The market's symbol in the run folder (the ``market`` column of its tables, the keys of
    ``summary.json``'s ``markets``): 1-16 capitals, digits, ``.``, ``_`` or ``-``, not ``ALL``
    (the venue-total rows). ``None``: :data:`DEFAULT_SYMBOL`, the asset of the three venue
    presets (each one BTC-like market)."""

    @field_validator("symbol")
    @classmethod
    def _not_all(cls, value: str | None) -> str | None:
        if value == "ALL":
            raise ValueError("'ALL' names the venue-total rows of steps.parquet, not a market")
        return value

    @property
    def market_symbol(self) -> str:
        """:attr:`symbol`, or :data:`DEFAULT_SYMBOL` when the scenario names none."""
        return self.symbol or DEFAULT_SYMBOL


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
        >>> from simulator.scenario import load_scenario
        >>> s = load_scenario("calm").with_overrides(["controls.adl_policy=pro_rata"], seed=3)
        >>> (s.controls.adl_policy, s.seed)
        ('pro_rata', 3)
        """
        from simulator.scenario.loading import parse_scenario  # loading imports this module

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
