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
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from simulator.errors import PerpsimError
from simulator.protocol.venue_params import (
    ADL_POLICY_ALIASES,
    MAX_MARKETS,
    MAX_POSITIONS_PER_ACCOUNT,
    AdlPriceMode,
    MultiVenueParams,
    VenueAdlPolicy,
)
from simulator.scenario.base import _Model, _resolve_path
from simulator.scenario.csv_inputs import (
    _csv_header_cached,
    _price_csv_cached,
    csv_coverage_problem,
    read_positions_csv,
    read_price_csv,
)
from simulator.scenario.flow import OrderFlow
from simulator.scenario.messages import ScenarioError, format_validation_error
from simulator.scenario.overrides import apply_overrides
from simulator.scenario.paths import (
    BadPrintFault,
    CsvPath,
    FactorModelPaths,
    FactorPath,
    GbmPath,
    ListPath,
    MarketPath,
    OracleFault,
    PricePath,
)
from simulator.scenario.randomness import RandomStreams, random_streams
from simulator.scenario.venue import (
    _check_governance_change,
    _check_symbols,
    _preset_start_price,
    _preset_table,
    _resolve_venue,
    check_explicit_book,
)
from simulator.scenario.world import WorldSpec

#: Trader behaviours, in the order of their integer codes (see ``population.Behaviour``).
BEHAVIOURS: tuple[str, ...] = ("hold", "take_profit", "stop_loss", "top_up", "panic")

BehaviourName = Literal["hold", "take_profit", "stop_loss", "top_up", "panic"]
Side = Literal["long", "short"]


# ----------------------------------------------------------------------------------------------
# Market and controls
# ----------------------------------------------------------------------------------------------


#: Market symbol of the one-market shorthand ``market:`` when it names none (the single-market
#: scenarios before multi-market venues traded the presets' BTC-like market).
DEFAULT_SYMBOL = "BTC"

MarketSymbol = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9._-]{0,15}$")]


class VenueSpec(_Model):
    """The venue: which parameter preset it deploys (its venue-wide buffers and governance and
    its per-market tables)."""

    preset: str = "hyperliquid-like"
    """Name of the venue parameter preset: a file ``simulator/presets/<name>.yaml``
    (``hyperliquid-like``, ``dydx-like``, ``gmx-like``); its ``markets:`` table lists the
    symbols a scenario may trade."""
    timelock_delay_s: int | None = Field(default=None, ge=0)
    """Minimum delay of the governance timelock (seconds) between scheduling a change and
    executing it; ``None``: the preset's ``governance.timelock_delay_s``. ``perpsim compare
    --latency`` sets it per delay."""


class MarketAmm(_Model):
    """A market's spot AMM, over the scenario-level ``amm`` (a key left out takes its value)."""

    liquidity_usd: float | None = Field(default=None, gt=0)
    """Collateral side of this asset's pool at the start (USD); ``None``: ``amm.liquidity_usd``."""
    permanent_impact: Any = Field(default=None, exclude=True)
    """Removed (refused with a message naming its replacement, :data:`PERMANENT_IMPACT_GONE`):
    forced selling now moves the outside price by the square-root law (``outside_market``)."""

    _permanent_impact_gone = field_validator("permanent_impact")(
        classmethod(lambda cls, value: _refuse_permanent_impact(value))
    )


class MarketSpec(_Model):
    """One market of the venue: its symbol, parameter overrides, spot AMM and path."""

    symbol: MarketSymbol
    """The market's symbol (``BTC``): an entry of the venue preset's ``markets:`` table; the
    ``market`` column of the run folder's tables. 1-16 capitals, digits, ``.``, ``_`` or ``-``,
    not ``ALL`` (the venue-total rows); each symbol once."""
    overrides: dict[str, float | int | bool | str | list[Any]] = Field(default_factory=dict)
    """Market parameters to replace in the preset's entry of this symbol, by name (the fields
    of :class:`simulator.protocol.venue_params.VenueMarketParams`, in their units: fractions,
    bps, USD, base units of this asset). An unknown name or an out-of-range value is an error
    naming ``markets[i].overrides.<name>``; ``--set markets.<SYMBOL>.overrides.<name>=...``."""
    amm: MarketAmm = Field(default_factory=MarketAmm)
    """This asset's spot AMM (depth); keys left out take the scenario-level ``amm``'s."""
    path: MarketPath | None = None
    """This asset's path parameters when ``price_path`` is ``kind: factor`` (start price,
    beta, volatility, jumps, own shocks); ``None`` there: every default (beta 0, the preset's
    start price). Not allowed with the other path kinds (they give the prices themselves)."""

    @field_validator("symbol")
    @classmethod
    def _not_all(cls, value: str) -> str:
        if value == "ALL":
            raise ValueError("'ALL' names the venue-total rows of steps.parquet, not a market")
        return value


class GovernanceChange(_Model):
    """A parameter change submitted mid-run, taking effect through a governance path."""

    market: str | None = None
    """Symbol of the market whose parameter changes; ``None``: every market's."""

    step: int = Field(ge=0)
    """Step at which the change is submitted (steps)."""
    parameter: str = Field(min_length=1)
    """Market parameter to change, by name (as in ``markets[i].overrides``)."""
    value: float | int | bool | str
    """New value of the parameter (unit of that parameter)."""
    path: Literal["timelock", "guardian"] = "timelock"
    """``timelock``: queued in the TimelockController and executed after its delay;
    ``guardian``: executed at once by a guardian / automatic controller."""


class Controls(_Model):
    """Risk controls that are switched on for this run."""

    adl_policy: VenueAdlPolicy = VenueAdlPolicy.PROFIT_QUEUE
    """Auto-deleveraging policy of every market: ``contracts_queue`` (only the ranked winners'
    contracts needed, at the ADL price: BitMEX / Hyperliquid), ``profit_queue`` (ranked
    winners' whole profit, Chitra's equity-space reading; ``queue`` is accepted as its old
    name), ``pro_rata`` (over winners' profits), ``socialized`` (loss charged to all through
    funding), ``none``. A market's ``overrides.adl_policy`` replaces it for that market."""
    adl_price_mode: AdlPriceMode = AdlPriceMode.BANKRUPTCY_PRICE
    """Price at which ``contracts_queue`` closes winners' contracts: ``bankruptcy_price``
    (BitMEX) or ``previous_mark`` (Hyperliquid)."""

    @field_validator("adl_policy", mode="before")
    @classmethod
    def _old_policy_name(cls, value: Any) -> Any:
        return ADL_POLICY_ALIASES.get(value, value) if isinstance(value, str) else value

    leverage_cap: float | None = Field(default=None, gt=0)
    """Maximum leverage allowed at open in every market (times); ``None`` keeps each market's
    maximum."""
    oi_cap_usd: float | None = Field(default=None, gt=0)
    """Cap on open interest per side of every market (USD notional at the market's start
    price); ``None`` for each market's own caps."""
    insurance_fund_usd: float = Field(default=1_000_000.0, ge=0)
    """Insurance fund balance at the start (USD)."""
    backstop_vault_usd: float = Field(default=0.0, ge=0)
    """LP capital in the backstop vault at the start (USD); 0 means no backstop vault."""
    backstop_unwind_share_per_step: float = Field(default=0.1, gt=0, le=1)
    """Share of each position the backstop vault still holds that its manager closes every
    step (fraction, in (0, 1]; a plain venue trade, from the block after the takeover on, or
    from the takeover's own block when the keepers' calls may leave a deficit and the unwind
    reads the block after them). 0.1 (the default) closes a tenth of what is left a step: a
    half-life of about 6.6 steps, a position held about 10 steps on average; 1 closes all of
    it at the first unwind. The vault holds what it took over unhedged until it is closed,
    so on a path that keeps falling after the takeovers a slower unwind loses more (README:
    "What the backstop vault's figure means")."""
    circuit_breaker_max_move_bps: int | None = Field(default=None, gt=0, le=10_000)
    """Circuit-breaker band of every market (basis points from the oracle's TWAP); ``None``
    keeps each market's own."""
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
    """Trader accounts drawn at random: how many markets each holds and which, collateral,
    leverage, side, whales, behaviours, and cross or isolated margin.

    Each account draws its number of positions ``k`` from :attr:`markets_per_account`, then
    ``k`` distinct markets with probabilities proportional to :attr:`market_weights` (weighted
    sampling without replacement), its collateral (lognormal, or Pareto for whales), its
    behaviour, and whether it is isolated. Its collateral is split over its positions by a
    uniform random share (flat Dirichlet); each position draws its side and its leverage (the
    Pareto tail, capped at the market's maximum leverage). A cross account deposits the whole
    collateral into its shared balance; an isolated account's positions each carry their share
    as their own margin. See :func:`simulator.population.draw_population`.
    """

    kind: Literal["random"]
    """Selects a random population."""
    count: int = Field(ge=1, le=1_000_000)
    """Number of trader accounts (each holds one or more positions)."""
    long_share: float = Field(default=0.5, ge=0, le=1)
    """Probability that a position is long."""
    collateral_usd: CollateralSpec = Field(default_factory=CollateralSpec)
    """Lognormal collateral of non-whale accounts (USD, the whole account)."""
    leverage: LeverageSpec = Field(default_factory=LeverageSpec)
    """Leverage of each position at open (times)."""
    whales: WhaleSpec = Field(default_factory=WhaleSpec)
    """Pareto tail of big accounts."""
    behaviour: BehaviourMix = Field(default_factory=BehaviourMix)
    """Behaviour mix and parameters (one behaviour per account, applied to its positions)."""
    markets_per_account: dict[int, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {1: 1.0}
    )
    """Distribution of the number of markets an account holds: ``{k: weight}`` for ``k`` in
    1..8 (the venue's ``MAX_POSITIONS_PER_ACCOUNT``), weights normalized to sum 1; ``k`` with a
    positive weight must not exceed the markets the scenario lists. Default: one market each."""
    market_weights: dict[str, Annotated[float, Field(ge=0)]] | None = None
    """Relative weight of each market symbol when an account picks its markets (a symbol left
    out has weight 0); ``None``: equal weights. Every symbol must be one the scenario lists."""
    isolated_share: float = Field(default=0.0, ge=0, le=1)
    """Share of accounts whose positions are isolated (each carries its own margin); the
    others are cross accounts (one shared collateral balance)."""

    @field_validator("markets_per_account")
    @classmethod
    def _counts(cls, value: dict[int, float]) -> dict[int, float]:
        for k in value:
            if not 1 <= k <= MAX_POSITIONS_PER_ACCOUNT:
                raise ValueError(
                    f"{k} markets per account is outside 1..{MAX_POSITIONS_PER_ACCOUNT} (the "
                    "venue's MAX_POSITIONS_PER_ACCOUNT)"
                )
        if not sum(value.values()) > 0:
            raise ValueError("the weights must not all be 0")
        return value

    @field_validator("market_weights")
    @classmethod
    def _some_weight(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and not sum(value.values()) > 0:
            raise ValueError("the weights must not all be 0")
        return value

    def count_probabilities(self) -> np.ndarray:
        """``P(k markets)`` for ``k = 1..max k`` (index ``k - 1``), normalized."""
        top = max(k for k, w in self.markets_per_account.items() if w > 0)
        weights = np.array([self.markets_per_account.get(k, 0.0) for k in range(1, top + 1)])
        return weights / weights.sum()

    def market_weight_array(self, symbols: Iterable[str]) -> np.ndarray:
        """The market weights in the order of ``symbols`` (equal when none are given; not
        normalized)."""
        symbols = list(symbols)
        if self.market_weights is None:
            return np.ones(len(symbols))
        return np.array([float(self.market_weights.get(s, 0.0)) for s in symbols])


class ExplicitPosition(_Model):
    """One position of an explicit book: ``size_base`` of ``market`` opened at its start price
    by ``account`` (which deposits the collateral of its positions first)."""

    side: Side
    """``long`` or ``short``."""
    collateral_usd: float = Field(gt=0)
    """Collateral of the position (USD): its share of a cross account's deposit, or an
    isolated position's own margin."""
    size_base: float = Field(gt=0)
    """Position size (base units of the market's asset)."""
    behaviour: BehaviourName | None = None
    """Behaviour of the position's trader; ``None`` means ``hold``."""
    account: str | int | None = None
    """Label of the account holding the position (several positions may name one account, at
    most one per market and 8 in all); labels compare as text (``1`` and ``"1"`` are one
    account). ``None``: an account of its own."""
    market: str | None = None
    """Symbol of the position's market, one the scenario lists; ``None`` only when the
    scenario lists one market."""
    isolated: bool = False
    """An isolated position carrying its own margin (``collateral_usd``); False: margined by
    its account's shared cross collateral."""

    @field_validator("collateral_usd", "size_base")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ExplicitBook(_Model):
    """A given list of positions, inline or from a CSV file (exactly one of the two).

    Each account deposits the collateral of all its positions, then the positions open exactly
    as given, in book order, at their market's start price (a cross position from the shared
    balance, an isolated one moving its collateral into its own margin). The scenario refuses
    at load a book the venue would refuse (a cross account whose deposit does not cover the
    initial margin of all its positions, an isolated position over its market's maximum
    leverage, fee and skew impact included; over an OI cap; more positions than the venue's
    bound; a market the scenario does not list; an amount that rounds to nothing on chain),
    naming the row and the limit: see :func:`check_explicit_book`.
    """

    kind: Literal["explicit"]
    """Selects an explicit book."""
    positions: list[ExplicitPosition] | None = None
    """The positions, in the order they are opened."""
    csv: Path | None = None
    """CSV file with header ``side,collateral_usd,size_base`` and optional columns
    ``behaviour``, ``account``, ``market``, ``isolated`` (``true`` / ``false``; an empty cell is
    the default); a relative path is relative to the scenario file's folder."""
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
    permanent_impact: Any = Field(default=None, exclude=True)
    """Removed (refused with a message naming its replacement, :data:`PERMANENT_IMPACT_GONE`):
    forced selling now moves the outside price the arbitrageurs trade against by the
    square-root law of ``outside_market``, not by a share of the AMM's own impact."""

    _permanent_impact_gone = field_validator("permanent_impact")(
        classmethod(lambda cls, value: _refuse_permanent_impact(value))
    )


class LpSpec(_Model):
    """Liquidity providers who withdraw under stress (AMM LPs and backstop-vault LPs)."""

    withdraw_on_drawdown: float | None = Field(default=None, gt=0, lt=1)
    """Fall of the oracle price from its running peak, as a fraction, at which LPs withdraw;
    ``None``: they never withdraw."""
    withdraw_fraction: float = Field(default=0.5, gt=0, le=1)
    """Share of their liquidity LPs withdraw when triggered (once per run)."""
    applies_to: Literal["amm", "backstop", "both"] = "both"
    """Which LPs withdraw: the spot AMM's, the backstop vault's, or both."""


class MMVaultSpec(_Model):
    """A market-making vault, the residual counterparty of the crowd's net skew in every market
    (Hyperliquid's HLP is the model): an ordinary cross account of the venue, funded with
    ``capital_usd`` at setup, that each step trades toward ``-participation`` × the crowd's
    net open interest of each market, within a per-market inventory limit and a per-step
    trade size, and only when the venue's skew fill pays it ``half_spread_bps`` over the
    oracle (:mod:`simulator.agents.mm_vault`). Keepers liquidate it, the
    backstop vault takes it over, and ADL ranks it like any account.

    Default: no vault (``capital_usd`` 0, ``quoting`` off), the venue before issue 11."""

    capital_usd: float = Field(default=0.0, ge=0)
    """Collateral deposited into the vault's venue account at setup (USD); 0 = no vault."""
    quoting: bool = False
    """The vault trades (quotes); needs ``capital_usd`` > 0. Off with capital: a funded
    account that never trades (its equity is still reported)."""
    inventory_limit_usd: (
        Annotated[float, Field(ge=0)] | dict[MarketSymbol, Annotated[float, Field(ge=0)]] | None
    ) = None
    """Largest notional the vault holds in one market (USD at the step's oracle price): one
    number for every market, or one per market symbol (a market left out: ``capital_usd``).
    ``None``: ``capital_usd`` in every market (1x per market: HLP runs at low leverage, the
    median ADL'd account on October 10 was at 0.2x). Each limit must be at most
    ``capital_usd`` × that market's maximum leverage (the venue's, after the controls): a
    larger position could never meet its initial margin. Above its limit (a price move), the
    vault sells down toward it whatever the quote pays, within ``max_trade_usd``."""
    participation: float = Field(default=0.5, ge=0, le=1)
    """Share of the crowd's net open interest (every account's but the vault's own) the vault
    offsets: its target position is ``-participation × crowd net OI`` (fraction). Default 0.5:
    assumption, HLP is one market maker among several on Hyperliquid's book."""
    max_trade_usd: float = Field(default=1_000_000.0, gt=0)
    """Largest notional the vault trades per market per step (USD). Default: assumption, about
    the depth a market maker quotes within a few bps on a major perp."""
    half_spread_bps: float = Field(default=2.0, ge=0, le=10_000)
    """The vault trades only where the venue's fill pays it at least this much over the
    oracle price (sells at ≥ oracle × (1 + half_spread/1e4), buys at ≤ oracle × (1 −
    half_spread/1e4)), basis points; the venue's skew impact is what pays it, and the vault
    pays the taker fee like every account. Default 2 bps: assumption, a market maker's
    half-spread on a major perp."""

    @property
    def enabled(self) -> bool:
        """The vault exists (``capital_usd`` > 0)."""
        return self.capital_usd > 0

    def limits_usd(self, symbols: list[str], max_leverage: np.ndarray) -> np.ndarray:
        """Inventory limit per market (USD, shape (M,), in ``symbols``' order).

        Raises
        ------
        ValueError
            A limit names a symbol the scenario does not list, or exceeds ``capital_usd`` ×
            that market's maximum leverage ``max_leverage`` (times, shape (M,)); the message
            names the key.
        """
        limit = self.inventory_limit_usd
        if limit is None:
            out = np.full(len(symbols), self.capital_usd)
        elif isinstance(limit, dict):
            unknown = sorted(set(limit) - set(symbols))
            if unknown:
                raise ValueError(
                    f"mm_vault.inventory_limit_usd.{unknown[0]}: {unknown[0]} is not a market "
                    f"of this scenario (markets: {', '.join(symbols)})"
                )
            out = np.array([float(limit.get(s, self.capital_usd)) for s in symbols])
        else:
            out = np.full(len(symbols), float(limit))
        most = self.capital_usd * np.asarray(max_leverage, dtype=np.float64)
        over = np.flatnonzero(out > most)
        if self.enabled and len(over):
            m = int(over[0])
            key = "mm_vault.inventory_limit_usd" + (
                f".{symbols[m]}" if isinstance(limit, dict) else ""
            )
            raise ValueError(
                f"{key}: {out[m]:,.0f} USD in {symbols[m]} is above the vault's capital "
                f"({self.capital_usd:,.0f} USD) × the market's maximum leverage "
                f"({float(max_leverage[m]):g}x) = {most[m]:,.0f} USD"
            )
        return out


# ----------------------------------------------------------------------------------------------
# The oracle's sources and the outside market
# ----------------------------------------------------------------------------------------------


#: Why ``amm.permanent_impact`` is refused, naming the keys that replace it.
def _refuse_permanent_impact(value: Any) -> Any:
    """The validator of the removed ``permanent_impact`` keys: refuse any value."""
    if value is not None:
        raise ValueError(PERMANENT_IMPACT_GONE)
    return value


PERMANENT_IMPACT_GONE = (
    "permanent_impact was removed: a share of the AMM's own impact has no honest mapping onto "
    "the outside market's square-root impact law that replaced it; set outside_market.impact_y, "
    "outside_market.persistent_share, outside_market.half_life_steps and "
    'outside_market.markets.<SYMBOL>.sigma_daily / volume_daily_usd instead (README, "Oracle '
    'and outside market")'
)


class OracleVenue(_Model):
    """One outside spot venue the oracle reads: it posts the outside price of ``lag_steps``
    steps ago times its own lognormal noise."""

    name: str = Field(min_length=1, max_length=32)
    """The venue's name (a label, e.g. ``binance``)."""
    weight: float = Field(ge=0)
    """Its weight in the oracle's weighted median (dimensionless; only ratios matter)."""
    lag_steps: int = Field(default=0, ge=0)
    """Steps by which its price trails the outside price (steps; 0: the same step)."""
    noise_bps: float = Field(default=0.0, ge=0, le=10_000)
    """Standard deviation of the log deviation of its price from the outside price (bps), one
    draw per step and market."""


#: The default outside venues (Hyperliquid's oracle sources and weights, shared/REFERENCES.md
#: "Oracle and mark"; its own spot is the local AMM, ``OracleSources.amm_weight``). Lags 0:
#: with one-minute steps every major venue follows within the step (its oracle publishes every
#: 3 s). Noise: assumption, a few bps of cross-venue dispersion of mids, wider on the smaller
#: venues.
DEFAULT_ORACLE_VENUES: tuple[tuple[str, float, int, float], ...] = (
    ("binance", 3, 0, 2.0),
    ("okx", 2, 0, 3.0),
    ("bybit", 2, 0, 3.0),
    ("kraken", 1, 0, 5.0),
    ("kucoin", 1, 0, 5.0),
    ("gate", 1, 0, 8.0),
    ("mexc", 1, 0, 8.0),
)


class OracleSources(_Model):
    """What each market's oracle posts with ``controls.feedback`` on: the lower weighted median
    (:func:`simulator.prices.sources.lower_weighted_median`) of the outside venues' prices and
    the local spot AMM's last price. With feedback off the oracle posts the exogenous price
    itself (no venues, no noise, no AMM). Every market reads the same venues."""

    venues: list[OracleVenue] = Field(
        default_factory=lambda: [
            OracleVenue(name=n, weight=w, lag_steps=lag, noise_bps=noise)
            for n, w, lag, noise in DEFAULT_ORACLE_VENUES
        ],
        max_length=64,
    )
    """The outside venues (default: Binance 3, OKX 2, Bybit 2, Kraken, Kucoin, Gate, MEXC 1;
    lag 0; noise 2-8 bps)."""
    amm_weight: float = Field(default=1.0, ge=0)
    """Weight of the local spot AMM's price (its last block's) in the median (Hyperliquid's own
    spot: 1)."""

    @model_validator(mode="after")
    def _some_weight(self) -> OracleSources:
        names = [v.name for v in self.venues]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"venues: {twice[0]} is listed twice")
        if not self.amm_weight + sum(v.weight for v in self.venues) > 0:
            raise ValueError("the weights of the venues and amm_weight must not all be 0")
        return self

    def weights(self) -> np.ndarray:
        """The venues' weights, then the AMM's, shape (K + 1,)."""
        return np.array([v.weight for v in self.venues] + [self.amm_weight], dtype=np.float64)


#: Daily volatility of an asset whose path gives none (csv, list): assumption, about a crypto
#: major's (3% a day, 57% a year).
DEFAULT_SIGMA_DAILY = 0.03
#: Daily traded volume of an asset the scenario does not give one (USD): assumption, a
#: mid-cap's outside spot volume.
DEFAULT_VOLUME_DAILY_USD = 1e9
#: Days of a year for annual-to-daily volatility (crypto trades every day).
DAYS_PER_YEAR = 365.0


class OutsideAsset(_Model):
    """One asset's outside market, for the impact law."""

    sigma_daily: float | None = Field(default=None, gt=0, le=5)
    """Daily volatility (fraction); ``None``: the asset's path volatility (``vol_per_year /
    sqrt(365)`` of a factor or gbm path), else :data:`DEFAULT_SIGMA_DAILY`."""
    volume_daily_usd: float | None = Field(default=None, gt=0)
    """Daily traded volume of the asset on the outside venues (USD, before
    ``outside_market.volume_scale``); ``None``: :data:`DEFAULT_VOLUME_DAILY_USD`."""


class OutsideMarket(_Model):
    """The outside market every oracle venue follows: the exogenous path times ``exp(L)``, where
    forced selling moves ``L`` by the square-root law (:mod:`simulator.prices.impact`) applied
    to the pool's hedger's recent net sale ``S`` (USD) as one metaorder: ``-sign(S)·impact_y·
    sigma_daily·sqrt(|S| / (volume_daily_usd·volume_scale))``; ``persistent_share`` of each
    step's marginal impact stays, the rest decays with ``half_life_steps``. Arbitrageurs pull
    each spot AMM toward the outside price of the next step."""

    impact_y: float = Field(default=1.0, ge=0, le=10)
    """The law's prefactor Y (dimensionless; of order 1 across markets; 0: no impact)."""
    persistent_share: float = Field(default=0.5, ge=0, le=1)
    """Share of each step's impact that stays for the rest of the run (fraction; assumption:
    "much of it persists")."""
    half_life_steps: float = Field(default=30.0, gt=0)
    """Half-life of the rest (steps; assumption: half an hour of one-minute steps)."""
    volume_scale: float = Field(default=1.0, gt=0, le=1)
    """Multiplies every ``volume_daily_usd``: the scenario's book as a share of the real
    market's (a book scaled down from the market should meet a volume scaled alike)."""
    markets: dict[str, OutsideAsset] = Field(default_factory=dict)
    """Per symbol: daily volatility and volume; a listed market left out takes the defaults.
    A symbol must be a market of the scenario or of the venue preset's table (entries of
    markets the scenario does not list are not used)."""


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
    venue: VenueSpec = Field(default_factory=VenueSpec)
    """The venue: its parameter preset."""
    markets: list[MarketSpec] = Field(
        default_factory=lambda: [MarketSpec(symbol=DEFAULT_SYMBOL)], min_length=1
    )
    """The venue's markets, listed in this order (market ids 1, 2, ...; the order of every
    per-market array): symbol, overrides, AMM depth, path parameters. A one-market scenario
    is a one-item list; default: one BTC market."""
    controls: Controls = Field(default_factory=Controls)
    """Risk controls (of every market; a market's ``overrides`` set its own)."""
    traders: Traders
    """Trader population: ``kind: random`` or ``kind: explicit``."""
    price_path: PricePath
    """Exogenous prices: ``kind: factor`` (every market; each market's ``path``), ``csv`` (a
    ``timestamp,price`` file for one market, or one column per market symbol), or ``gbm`` /
    ``list`` (one market)."""
    oracle_faults: list[OracleFault] = Field(default_factory=list)
    """Faults of the oracles on top of the price they are fed (each names its ``market``, or
    none for every market)."""
    keepers: KeeperSpec = Field(default_factory=KeeperSpec)
    """Liquidation keepers."""
    arbitrageurs: ArbitrageurSpec = Field(default_factory=ArbitrageurSpec)
    """AMM arbitrageurs."""
    amm: AmmSpec = Field(default_factory=AmmSpec)
    """Spot AMM depth of every market (a market's ``amm`` replaces it)."""
    lps: LpSpec = Field(default_factory=LpSpec)
    """Liquidity providers' withdrawals under stress."""
    oracle_sources: OracleSources = Field(default_factory=OracleSources)
    """What each oracle posts with feedback on: a weighted median of outside venues and the
    local AMM."""
    outside_market: OutsideMarket = Field(default_factory=OutsideMarket)
    """The outside price the venues follow and the impact law of forced selling on it."""
    order_flow: OrderFlow | None = None
    """Traders who arrive, trade and leave through the run (:mod:`simulator.scenario.flow`);
    ``null``: nobody takes new risk after the opening book."""
    mm_vault: MMVaultSpec = Field(default_factory=MMVaultSpec)
    """The market-making vault (default: none)."""
    world: WorldSpec | None = None
    """The contagion world beside the venue (:mod:`simulator.scenario.world`): a lending pool,
    a synthetic dollar, their cross-holdings; ``None`` (default): none, and the scenario's
    JSON and fingerprint leave the key out."""

    _fingerprint: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _one_market_shorthand(cls, data: Any) -> Any:
        """``market: {preset, overrides, symbol}`` (the one-market form of earlier scenario
        files) becomes ``venue: {preset}`` + ``markets: [{symbol, overrides}]`` (symbol
        default :data:`DEFAULT_SYMBOL`)."""
        if not isinstance(data, dict) or "market" not in data:
            return data
        if "venue" in data or "markets" in data:
            raise ValueError(
                "market: is the one-market shorthand of venue: + markets:; give one or the "
                "other (per-market parameters: markets[i].overrides, --set "
                "markets.<SYMBOL>.overrides.<name>=...)"
            )
        data = dict(data)
        market = data.pop("market")
        if market is None:
            market = {}
        if not isinstance(market, dict):
            raise ValueError("market: must be a mapping (preset, overrides, symbol)")
        unknown = sorted(set(market) - {"preset", "overrides", "symbol"})
        if unknown:
            raise ValueError(
                f"market.{unknown[0]}: unknown key (allowed: preset, overrides, symbol)"
            )
        if "preset" in market:
            data["venue"] = {"preset": market["preset"]}
        entry: dict[str, Any] = {"symbol": market.get("symbol") or DEFAULT_SYMBOL}
        if market.get("overrides") is not None:
            entry["overrides"] = market["overrides"]
        data["markets"] = [entry]
        return data

    @model_validator(mode="after")
    def _markets_are_distinct(self) -> Scenario:
        seen: dict[str, int] = {}
        for i, market in enumerate(self.markets):
            if market.symbol in seen:
                raise ValueError(
                    f"markets[{i}].symbol: market {market.symbol} is listed twice (also "
                    f"markets[{seen[market.symbol]}])"
                )
            seen[market.symbol] = i
        if len(self.markets) > MAX_MARKETS:
            raise ValueError(
                f"markets: {len(self.markets)} markets listed; the venue lists at most "
                f"{MAX_MARKETS}"
            )
        return self

    @model_validator(mode="after")
    def _fits_in_run(self) -> Scenario:
        steps = self.steps
        path = self.price_path
        symbols = self.symbols
        if isinstance(path, ListPath) and len(path.prices_usd) < steps + 1:
            raise ValueError(
                f"price_path.prices_usd has {len(path.prices_usd)} prices but steps={steps} "
                f"needs at least {steps + 1}"
            )
        shocks: list[tuple[str, Any]] = []
        if isinstance(path, GbmPath):
            shocks += [(f"price_path.shocks[{i}]", s) for i, s in enumerate(path.shocks)]
        if isinstance(path, FactorPath):
            shocks += [(f"price_path.shocks[{i}]", s) for i, s in enumerate(path.shocks)]
            for m, market in enumerate(self.markets):
                own = market.path.shocks if market.path is not None else []
                shocks += [(f"markets[{m}].path.shocks[{i}]", s) for i, s in enumerate(own)]
        for where, shock in shocks:
            if shock.step >= steps:
                raise ValueError(f"{where}.step ({shock.step}) must be below steps ({steps})")
        for i, fault in enumerate(self.oracle_faults):
            first = fault.step if isinstance(fault, BadPrintFault) else fault.start_step
            if first > steps:
                raise ValueError(
                    f"oracle_faults[{i}] starts at step {first}, after the last step ({steps})"
                )
            if fault.market is not None and fault.market not in symbols:
                raise ValueError(
                    f"oracle_faults[{i}].market: {fault.market} is not a market of this "
                    f"scenario (markets: {', '.join(symbols)})"
                )
        change = self.controls.governance_change
        if change is not None and change.step >= steps:
            raise ValueError(
                f"controls.governance_change.step ({change.step}) must be below steps ({steps})"
            )
        if change is not None and change.market is not None and change.market not in symbols:
            raise ValueError(
                f"controls.governance_change.market: {change.market} is not a market of this "
                f"scenario (markets: {', '.join(symbols)})"
            )
        return self

    @model_validator(mode="after")
    def _paths_fit_the_markets(self) -> Scenario:
        """A gbm or list path gives one market's prices; ``markets[i].path`` belongs to a
        factor model."""
        path = self.price_path
        if isinstance(path, GbmPath | ListPath) and len(self.markets) > 1:
            raise ValueError(
                f"price_path: kind {path.kind} gives one market's prices, but the scenario "
                f"lists {len(self.markets)} markets ({', '.join(self.symbols)}); use kind: "
                "factor (with markets[i].path) or kind: csv with one column per market"
            )
        if not isinstance(path, FactorPath):
            for i, market in enumerate(self.markets):
                if market.path is not None:
                    raise ValueError(
                        f"markets[{i}].path: path parameters belong to price_path kind: "
                        f"factor (this scenario's price_path is kind: {path.kind})"
                    )
        return self

    @model_validator(mode="after")
    def _outside_markets_are_known(self) -> Scenario:
        """``outside_market.markets`` names markets of the scenario or of the venue preset's
        table (a preset scenario narrowed to fewer markets keeps its table; the entries of
        markets it does not list are not used)."""
        try:
            table = set(_preset_table(self.venue.preset))
        except (ValueError, PerpsimError):  # an unknown preset: refused by the venue check
            table = set()
        for symbol in self.outside_market.markets:
            if symbol not in set(self.symbols) | table:
                raise ValueError(
                    f"outside_market.markets.{symbol}: {symbol} is not a market of this "
                    f"scenario ({', '.join(self.symbols)}) nor of venue preset "
                    f"{self.venue.preset}"
                )
        return self

    @model_validator(mode="after")
    def _population_fits_the_markets(self) -> Scenario:
        symbols = self.symbols
        traders = self.traders
        if isinstance(traders, RandomPopulation):
            weights = traders.market_weights or {}
            for symbol in weights:
                if symbol not in symbols:
                    raise ValueError(
                        f"traders.market_weights.{symbol}: {symbol} is not a market of this "
                        f"scenario (markets: {', '.join(symbols)})"
                    )
            weight = traders.market_weight_array(symbols)
            positive = [s for s, w in zip(symbols, weight, strict=True) if w > 0]
            tradable = len(positive)
            if tradable == 0:
                raise ValueError(
                    f"traders.market_weights: no listed market ({', '.join(symbols)}) has a "
                    "positive weight"
                )
            top = len(traders.count_probabilities())
            if top > tradable:
                raise ValueError(
                    f"traders.markets_per_account: accounts holding {top} markets need "
                    f"{top} markets with a positive weight; the scenario has {tradable} "
                    f"({', '.join(positive)})"
                )
        return self

    @model_validator(mode="after")
    def _inputs_mean_what_they_say(self) -> Scenario:
        """The checks that need the venue or the data files: every symbol is in the venue
        preset's tables, a CSV path covers the run and has a column per market, a factor model
        is in range (betas, correlations), the venue parameters (preset, overrides, controls,
        governance change) are valid, and the venue accepts every position of an explicit
        book."""
        _check_symbols(self)
        path = self.price_path
        if isinstance(path, CsvPath):
            if self.csv_is_single_asset():
                if not path.hold_last:
                    times, _ = _price_csv_cached(path.path)
                    problem = csv_coverage_problem(path.path, times, self.steps, self.step_seconds)
                    if problem:
                        raise ValueError(f"price_path.path: {problem}")
            else:
                from simulator.prices.factor import (  # prices imports this module
                    read_multi_asset_csv_cached,
                )

                try:
                    times, _, _ = read_multi_asset_csv_cached(path.path, tuple(self.symbols))
                except PerpsimError as exc:
                    raise ValueError(f"price_path.path: {exc}") from None
                if not path.hold_last:
                    problem = csv_coverage_problem(path.path, times, self.steps, self.step_seconds)
                    if problem:
                        raise ValueError(f"price_path.path: {problem}")
        if isinstance(path, FactorPath):
            self.factor_model()
        venue = self.venue_params()
        _check_governance_change(self.controls.governance_change, venue)
        if isinstance(self.traders, ExplicitBook):
            check_explicit_book(self.traders, venue, self.controls)
        return self

    @model_validator(mode="after")
    def _mm_vault_fits_the_venue(self) -> Scenario:
        """Each inventory limit of the market-making vault is at most its capital × the
        market's maximum leverage (the venue's, after overrides and controls); a vault that
        quotes has capital."""
        if self.mm_vault.quoting and not self.mm_vault.enabled:
            raise ValueError(
                "mm_vault.quoting: a vault with no capital cannot quote (set "
                "mm_vault.capital_usd > 0, or quoting: false)"
            )
        if self.mm_vault.enabled:
            venue = self.venue_params()
            leverage = np.array([m.params.max_leverage for m in venue.markets])
            self.mm_vault.limits_usd(self.symbols, leverage)
        return self

    @model_validator(mode="after")
    def _world_fits_the_scenario(self) -> Scenario:
        """The world's names exist and its protocols are deployed (:meth:`WorldSpec.check`)."""
        if self.world is not None:
            buffers = self.venue_params().buffers
            self.world.check(
                self.symbols,
                backstop_vault=buffers.backstop_enabled and buffers.backstop_vault_usd > 0,
                mm_vault=self.mm_vault.enabled,
            )
        return self

    @model_serializer(mode="wrap")
    def _leave_out_no_world(self, handler):
        """A scenario without a world serializes as before the section existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("world", 0) is None:
            del data["world"]
        return data

    # -- resolved inputs ------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """The markets' symbols, in market order (a property)."""
        return [market.symbol for market in self.markets]

    def csv_is_single_asset(self) -> bool:
        """Whether a ``kind: csv`` path is a single-asset ``timestamp,price`` file: the
        scenario lists one market and the file has a ``price`` column. Otherwise the file has
        one column per market symbol."""
        path = self.price_path
        if not isinstance(path, CsvPath) or len(self.markets) != 1:
            return False
        return "price" in [h.lower() for h in _csv_header_cached(path.path)]

    def start_prices_usd(self) -> np.ndarray:
        """Each market's configured price at step 0 (USD), shape ``(M,)`` in market order: a
        factor model's ``markets[i].path.start_price_usd`` (or the venue preset's price of the
        symbol), a GBM path's ``start_price_usd``, a list's first price, a CSV file's first row.
        Nothing random is drawn."""
        path = self.price_path
        if isinstance(path, GbmPath):
            return np.array([float(path.start_price_usd)])
        if isinstance(path, ListPath):
            return np.array([float(path.prices_usd[0])])
        if isinstance(path, FactorPath):
            return np.array([asset.start_price_usd for asset in self.factor_model().assets])
        if self.csv_is_single_asset():
            return np.array([float(_price_csv_cached(path.path)[1][0])])
        from simulator.prices.factor import read_multi_asset_csv_cached

        _, prices, _ = read_multi_asset_csv_cached(path.path, tuple(self.symbols))
        return np.array(prices[0], dtype=float)

    def market_amm(self, market: int | str) -> AmmSpec:
        """The spot AMM of a market (by index or symbol): its ``amm`` keys over the
        scenario-level ``amm``."""
        index = self.symbols.index(market) if isinstance(market, str) else int(market)
        own = self.markets[index].amm.model_dump(exclude_none=True)
        return AmmSpec.model_validate({**self.amm.model_dump(), **own})

    def outside_sigma_daily(self) -> np.ndarray:
        """Each market's daily volatility for the impact law (fraction), shape ``(M,)``:
        ``outside_market.markets.<SYMBOL>.sigma_daily``, else the path's ``vol_per_year /
        sqrt(365)`` (factor: the asset's; gbm: the path's), else :data:`DEFAULT_SIGMA_DAILY`."""
        path = self.price_path
        factor = self.factor_model()
        out = []
        for m, symbol in enumerate(self.symbols):
            own = self.outside_market.markets.get(symbol)
            if own is not None and own.sigma_daily is not None:
                out.append(own.sigma_daily)
            elif factor is not None:
                out.append(factor.assets[m].vol_per_year / math.sqrt(DAYS_PER_YEAR))
            elif isinstance(path, GbmPath):
                out.append(path.vol_per_year / math.sqrt(DAYS_PER_YEAR))
            else:
                out.append(DEFAULT_SIGMA_DAILY)
        return np.array(out, dtype=np.float64)

    def outside_volume_daily_usd(self) -> np.ndarray:
        """Each market's daily volume for the impact law (USD), shape ``(M,)``:
        ``outside_market.markets.<SYMBOL>.volume_daily_usd`` (else
        :data:`DEFAULT_VOLUME_DAILY_USD`) times ``outside_market.volume_scale``."""
        markets = self.outside_market.markets
        raw = [
            markets[s].volume_daily_usd
            if s in markets and markets[s].volume_daily_usd is not None
            else DEFAULT_VOLUME_DAILY_USD
            for s in self.symbols
        ]
        return np.array(raw, dtype=np.float64) * self.outside_market.volume_scale

    def factor_model(self) -> FactorModelPaths | None:
        """The factor model of a ``kind: factor`` path, with one asset per market (in market
        order; a start price left out is the venue preset's price of the symbol); ``None``
        for the other path kinds.

        Raises
        ------
        ValueError
            A beta or a correlation out of range, a common shock naming a symbol the scenario
            does not list (naming the key); :func:`parse_scenario` turns it into a
            :class:`ScenarioError`.
        """
        path = self.price_path
        if not isinstance(path, FactorPath):
            return None
        assets = []
        for market in self.markets:
            own = market.path.model_dump(exclude_none=True) if market.path is not None else {}
            if "start_price_usd" not in own:
                own["start_price_usd"] = _preset_start_price(self.venue.preset, market.symbol)
            assets.append({**own, "symbol": market.symbol})
        try:
            return FactorModelPaths.model_validate({**path.model_dump(), "assets": assets})
        except ValidationError as exc:
            text = format_validation_error(exc).replace("assets[", "markets[")
            for i, symbol in enumerate(self.symbols):  # name the key of a beta out of range
                text = text.replace(
                    f"asset {symbol}: beta", f"markets[{i}].path.beta: asset {symbol}: beta"
                )
            raise ValueError(f"price_path (factor model): {text}") from None

    def venue_params(self) -> MultiVenueParams:
        """The venue the engine deploys: ``venue.preset``'s entry of each market's symbol, then
        its ``overrides``, then the controls (ADL policy and price mode, leverage cap, OI cap,
        circuit breaker, insurance fund, backstop vault), markets in the scenario's order, each
        oracle's initial price at :meth:`start_prices_usd` and each AMM's depth from
        :meth:`market_amm`. ``controls.dynamic_margin`` is not a venue parameter: the world
        deploys the margin controller when it is on.

        A leverage cap lowers each market's ``max_leverage`` and floors every tier's initial
        margin at 1/cap; when 1/cap would fall to the maintenance margin, the maintenance
        margin becomes half the initial margin (the Hyperliquid rule the presets follow).
        ``oi_cap_usd`` is converted to each market's base units at its start price.

        Raises
        ------
        ValueError
            A bad preset, symbol, override or control, naming the key
            (``markets[1].overrides.<name>: ...``); :func:`parse_scenario` turns it into a
            :class:`ScenarioError`. A scenario that validated never raises here.
        """
        return _resolve_venue(self)

    def input_notes(self) -> list[str]:
        """How the scenario's inputs were mapped onto the run, one sentence each (for the run
        manifest's ``extra.input_notes``): a CSV path's resolution against the step, its
        aggregation rule and what it hides, rows held past the end (``hold_last``) or unused
        after it, per market for a multi-column file, and its columns left unused. Empty when
        there is nothing to say."""
        path = self.price_path
        if not isinstance(path, CsvPath):
            return []
        from simulator.pricepaths import csv_path_notes  # pricepaths imports this module

        if self.csv_is_single_asset():
            times, prices = _price_csv_cached(path.path)
            return csv_path_notes(path, times, prices, self.steps, self.step_seconds)
        from simulator.prices.factor import multi_asset_csv_notes

        return multi_asset_csv_notes(path, self.symbols, self.steps, self.step_seconds)

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
        >>> (str(s.controls.adl_policy), s.seed)
        ('pro_rata', 3)
        """
        from simulator.scenario.loading import parse_scenario  # loading imports this module

        data = self.to_dict()
        data.update(updates)
        data = apply_overrides(data, overrides)
        return parse_scenario(data, label=f"scenario {self.name}")

    def with_seed(self, seed: int) -> Scenario:
        """``with_overrides(seed=seed)`` without the round trip through a dict: a copy with
        the seed replaced (no validator reads the seed but its own ``ge=0``, checked here),
        its fingerprint computed afresh. What a tune's path does for each of its seeds.

        Raises
        ------
        ScenarioError
            ``seed`` is not a non-negative integer.
        """
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ScenarioError(f"scenario {self.name}: seed must be an integer >= 0, not {seed!r}")
        copy = self.model_copy(update={"seed": int(seed)})
        copy._fingerprint = None
        return copy

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
            if self.csv_is_single_asset():
                read_price_csv(self.price_path.path)
            else:
                from simulator.prices.factor import read_multi_asset_csv

                try:
                    read_multi_asset_csv(self.price_path.path, self.symbols)
                except PerpsimError as exc:
                    raise ScenarioError(str(exc)) from None


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from None
