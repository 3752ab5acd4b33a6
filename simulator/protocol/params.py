"""Preset parameters: frozen, validated pydantic models with a unit per field.

A preset (:class:`VenueParams`) has default ``oracle:``, ``amm:`` and ``market:`` sections, the
venue's buffers, controller and governance, and a ``markets:`` table of per-symbol overrides;
:mod:`simulator.protocol.venue_params` builds the multi-market venue's parameters from it
(:class:`~simulator.protocol.venue_params.VenueMarketParams` subclasses :class:`MarketParams`).
Humans write parameters in natural units (USD, fractions, bps, seconds, base units of the
asset); :meth:`MarketParams.to_chain` converts them to the contracts' integers (WAD = 1e18
fixed point; collateral amounts in 6-decimal base units). Presets live in
``simulator/presets/<name>.yaml`` with the source of each number in a comment; load them with
:func:`load_preset`.

Validation errors name the field, e.g. ``market.maintenance_margin_fraction: must be below
1/max_leverage = 0.02``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.errors import PerpsimError
from simulator.units import USD_UNITS, WAD, to_units, to_wad  # noqa: F401  (public names)

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"


class ParamsError(PerpsimError):
    """A parameter file or preset is invalid; the message names the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class FundingModel(StrEnum):
    """How funding accrues (see ``IPerpVenueTypes.FundingModel``)."""

    VELOCITY = "velocity"
    PREMIUM = "premium"


class AdlPolicy(StrEnum):
    """What covers a deficit the insurance fund could not: the presets' names (the venue's
    policies are :class:`~simulator.protocol.venue_params.VenueAdlPolicy`; ``queue`` is read as
    ``profit_queue``)."""

    NONE = "none"
    QUEUE = "queue"
    PRO_RATA = "pro_rata"
    SOCIALIZED = "socialized"


_FUNDING_MODEL_INDEX = {FundingModel.VELOCITY: 0, FundingModel.PREMIUM: 1}
_ADL_POLICY_INDEX = {
    AdlPolicy.NONE: 0,
    AdlPolicy.QUEUE: 1,
    AdlPolicy.PRO_RATA: 2,
    AdlPolicy.SOCIALIZED: 3,
}


class OracleParams(_Frozen):
    """The pushed index price."""

    initial_price_usd: float = Field(gt=0)
    """Index price at deployment, USD per base unit."""
    max_age_s: int = Field(default=3600, gt=0)
    """A price older than this many seconds is stale: state changes revert ``StalePrice``."""
    max_deviation_bps: int = Field(default=0, ge=0, le=10_000)
    """A push moving the price more than this (bps) from the previous one reverts; 0 = off."""
    max_twap_window_s: int = Field(default=3600, gt=0)
    """Longest TWAP window the oracle serves, seconds (its ring holds this many + 1
    observations); the market's ``circuit_breaker_window_s`` must not exceed it."""


class AmmParams(_Frozen):
    """The constant-product spot pool (collateral vs base)."""

    fee_bps: int = Field(default=30, ge=0, lt=10_000)
    """Swap fee, bps of the input."""
    liquidity_usd: float = Field(default=10_000_000, ge=0)
    """Collateral side of the initial liquidity, USD; the base side matches the initial price."""


class MarginTierParams(_Frozen):
    """One margin tier above the base tier (Hyperliquid's deduction form)."""

    notional_floor_usd: float = Field(gt=0)
    """Position notional where this tier starts, USD."""
    initial_margin_fraction: float = Field(gt=0, le=1)
    """Initial margin fraction in this tier (1/max leverage of the tier)."""
    maintenance_margin_fraction: float = Field(gt=0, lt=1)
    """Maintenance margin fraction in this tier; below its initial fraction."""

    @model_validator(mode="after")
    def _mm_below_im(self) -> MarginTierParams:
        if self.maintenance_margin_fraction >= self.initial_margin_fraction:
            raise ValueError(
                "maintenance_margin_fraction must be below initial_margin_fraction "
                f"({self.maintenance_margin_fraction} >= {self.initial_margin_fraction})"
            )
        return self


class MarketParams(_Frozen):
    """A preset's ``market:`` defaults: every parameter one venue market shares with them (the
    base of :class:`~simulator.protocol.venue_params.VenueMarketParams`, which adds the venue's
    own fields and applies the contract's checks)."""

    # -- margin ---------------------------------------------------------------------------
    max_leverage: float = Field(ge=1, le=1000)
    """Maximum leverage (x); the base initial margin fraction is 1/max_leverage."""
    maintenance_margin_fraction: float = Field(gt=0, lt=1)
    """Maintenance margin, fraction of notional; must be below 1/max_leverage."""
    margin_tiers: tuple[MarginTierParams, ...] = ()
    """Tiers above the base tier, by increasing notional floor (empty = untiered). The base
    fractions (1/max_leverage, maintenance_margin_fraction) floor every tier, so lowering
    max_leverage caps all tiers."""
    oi_imf_lower_cap_usd: float = Field(default=0, ge=0)
    """dYdX OI-scaled IMF: open notional (USD) where the IMF starts rising; 0 with upper 0 = off."""
    oi_imf_upper_cap_usd: float = Field(default=0, ge=0)
    """Open notional (USD) where the IMF reaches 100%; 0 = off."""
    # -- open interest ---------------------------------------------------------------------
    max_long_open_interest: float = Field(gt=0)
    """Cap on the sum of long sizes, base units of the asset."""
    max_short_open_interest: float = Field(gt=0)
    """Cap on the sum of short sizes, base units of the asset."""
    # -- pricing and fees ------------------------------------------------------------------
    skew_scale: float = Field(ge=0)
    """Synthetix skew scale, base units: a fill pays P·(2·skew + size)/(2·skew_scale) of
    impact; 0 = no impact."""
    taker_fee_bps: int = Field(ge=0, le=1000)
    """Trading fee, bps of filled notional."""
    insurance_fee_share_bps: int = Field(default=0, ge=0, le=10_000)
    """Share of trading fees sent to the insurance fund, bps."""
    # -- funding ---------------------------------------------------------------------------
    funding_model: FundingModel
    """``velocity`` (Synthetix v3) or ``premium`` (Hyperliquid)."""
    max_funding_velocity: float = Field(default=0, ge=0, le=100)
    """Velocity model: maximum funding velocity, rate per day per day (fraction)."""
    premium_interest_rate_8h: float = Field(default=0.0001, ge=0, le=1)
    """Premium model: interest component per 8 hours (fraction; 0.0001 = 0.01%)."""
    premium_clamp_8h: float = Field(default=0.0005, ge=0, le=1)
    """Premium model: clamp on interest − premium per 8 hours (fraction)."""
    max_funding_rate_per_hour: float = Field(default=0, ge=0, le=1)
    """Cap on |funding rate| per hour (fraction), both models; 0 = uncapped."""
    # -- liquidation -----------------------------------------------------------------------
    liquidation_penalty_bps: int = Field(ge=0, le=10_000)
    """Penalty, bps of liquidated notional, taken from the account's margin."""
    keeper_share_bps: int = Field(default=5000, ge=0, le=10_000)
    """Keeper's share of the penalty, bps; the rest goes to the insurance fund."""
    partial_liquidation_threshold_usd: float = Field(ge=0)
    """Positions above this notional (USD) are liquidated partially."""
    partial_liquidation_share_bps: int = Field(default=2000, gt=0, le=10_000)
    """Share of the position closed by a partial liquidation, bps (2000 = 20%)."""
    liquidation_cooldown_s: int = Field(default=30, ge=0, le=86_400)
    """Seconds after a partial liquidation before the account can be liquidated again."""
    full_liquidation_after_cooldown: bool = True
    """True (Hyperliquid): after the cooldown the whole position goes; false (dYdX): partial
    again, at most once per account per block."""
    max_liquidation_notional_per_block_usd: float = Field(default=0, ge=0)
    """Cap on liquidated notional per block, USD; 0 = no limit."""
    backstop_fraction: float = Field(default=2 / 3, ge=0, le=1)
    """The backstop vault may take over when equity < backstop_fraction × maintenance margin."""
    adl_policy: AdlPolicy
    """``none``, ``queue`` (Hyperliquid), ``pro_rata`` (Chitra) or ``socialized`` (Drift)."""
    max_adl_accounts_per_call: int = Field(default=50, gt=0, le=500)
    """Upper bound on the accounts one ``adl`` call takes."""
    # -- circuit breaker -------------------------------------------------------------------
    circuit_breaker_band_bps: int = Field(default=0, ge=0, le=10_000)
    """New risk is refused while |index − TWAP| > band × TWAP, bps; 0 = off."""
    circuit_breaker_window_s: int = Field(default=300, ge=0)
    """TWAP window of the circuit breaker's reference price, seconds."""
    liquidations_halt_on_breaker: bool = False
    """When true, liquidations also stop while the breaker is tripped."""

    @model_validator(mode="after")
    def _consistent(self) -> MarketParams:
        base_imf = 1 / self.max_leverage
        if self.maintenance_margin_fraction >= base_imf:
            raise ValueError(
                f"maintenance_margin_fraction must be below 1/max_leverage = {base_imf:g} "
                f"(got {self.maintenance_margin_fraction:g})"
            )
        if self.oi_imf_upper_cap_usd and self.oi_imf_upper_cap_usd <= self.oi_imf_lower_cap_usd:
            raise ValueError("oi_imf_upper_cap_usd must be above oi_imf_lower_cap_usd (or 0 = off)")
        if self.circuit_breaker_band_bps and self.circuit_breaker_window_s == 0:
            raise ValueError(
                "circuit_breaker_window_s must be > 0 when circuit_breaker_band_bps is set"
            )
        if len(self.margin_tiers) > 8:
            raise ValueError(f"margin_tiers: at most 8 tiers (got {len(self.margin_tiers)})")
        # Tiers may start below the base fractions: the base floors every tier on chain.
        floor, imf, mmf = 0.0, 0.0, 0.0
        for i, tier in enumerate(self.margin_tiers):
            if tier.notional_floor_usd <= floor:
                raise ValueError(
                    f"margin_tiers[{i}].notional_floor_usd must increase (got {tier.notional_floor_usd:g})"
                )
            if tier.initial_margin_fraction < imf:
                raise ValueError(
                    f"margin_tiers[{i}].initial_margin_fraction must not decrease (got {tier.initial_margin_fraction:g} < {imf:g})"
                )
            if tier.maintenance_margin_fraction < mmf:
                raise ValueError(
                    f"margin_tiers[{i}].maintenance_margin_fraction must not decrease (got {tier.maintenance_margin_fraction:g} < {mmf:g})"
                )
            floor, imf, mmf = (
                tier.notional_floor_usd,
                tier.initial_margin_fraction,
                tier.maintenance_margin_fraction,
            )
        return self

    @property
    def initial_margin_fraction(self) -> float:
        """Base initial margin fraction, 1/max_leverage."""
        return 1 / self.max_leverage

    def to_chain(self) -> dict[str, int | bool]:
        """The shared fields of ``IPerpVenueTypes.MarketParams`` as {solidity field name:
        integer}, WAD / bps / seconds (:meth:`VenueMarketParams.to_chain` adds the venue's)."""
        return {
            "maxLeverage": to_wad(self.max_leverage),
            "maintenanceMarginFraction": to_wad(self.maintenance_margin_fraction),
            "oiImfLowerCap": to_wad(self.oi_imf_lower_cap_usd),
            "oiImfUpperCap": to_wad(self.oi_imf_upper_cap_usd),
            "maxLongOpenInterest": to_wad(self.max_long_open_interest),
            "maxShortOpenInterest": to_wad(self.max_short_open_interest),
            "skewScale": to_wad(self.skew_scale),
            "takerFeeBps": self.taker_fee_bps,
            "insuranceFeeShareBps": self.insurance_fee_share_bps,
            "fundingModel": _FUNDING_MODEL_INDEX[self.funding_model],
            "maxFundingVelocity": to_wad(self.max_funding_velocity),
            "premiumInterestRate8h": to_wad(self.premium_interest_rate_8h),
            "premiumClamp8h": to_wad(self.premium_clamp_8h),
            "maxFundingRatePerHour": to_wad(self.max_funding_rate_per_hour),
            "liquidationPenaltyBps": self.liquidation_penalty_bps,
            "keeperShareBps": self.keeper_share_bps,
            "partialLiquidationThreshold": to_wad(self.partial_liquidation_threshold_usd),
            "partialLiquidationShareBps": self.partial_liquidation_share_bps,
            "liquidationCooldown": self.liquidation_cooldown_s,
            "fullLiquidationAfterCooldown": self.full_liquidation_after_cooldown,
            "maxLiquidationNotionalPerBlock": to_wad(self.max_liquidation_notional_per_block_usd),
            "backstopFraction": to_wad(self.backstop_fraction),
            "adlPolicy": _ADL_POLICY_INDEX[self.adl_policy],
            "maxAdlAccountsPerCall": self.max_adl_accounts_per_call,
            "circuitBreakerBandBps": self.circuit_breaker_band_bps,
            "circuitBreakerWindow": self.circuit_breaker_window_s,
            "liquidationsHaltOnBreaker": self.liquidations_halt_on_breaker,
        }

    def tiers_to_chain(self) -> list[tuple[int, int, int]]:
        """The margin tiers as ``MarginTier`` tuples (WAD)."""
        return [
            (
                to_wad(t.notional_floor_usd),
                to_wad(t.initial_margin_fraction),
                to_wad(t.maintenance_margin_fraction),
            )
            for t in self.margin_tiers
        ]


class BufferParams(_Frozen):
    """Capital behind the venue at deployment."""

    insurance_fund_usd: float = Field(default=0, ge=0)
    """Initial insurance fund, USD."""
    pool_seed_usd: float = Field(default=0, ge=0)
    """Counterparty pool (LP capital that takes the other side of the skew), USD."""
    backstop_enabled: bool = True
    """Whether the backstop vault is wired to the venue (takeovers possible)."""
    backstop_vault_usd: float = Field(default=0, ge=0)
    """Initial LP deposit into the backstop vault, USD."""
    backstop_margin_share: float = Field(default=1.0, ge=0, le=1)
    """Share of the vault's initial deposit moved into its venue margin account."""
    backstop_redeem_cooldown_s: int = Field(default=0, ge=0, le=30 * 86_400)
    """Seconds new vault shares stay locked before withdraw/redeem (``ILockedShareVault``'s
    deposit lock against deposit-takeover-redeem sandwiches); 0 = no lock. The shipped presets
    set GMX GLP's 15-minute cooldown after minting (900 s)."""


class ControllerParams(_Frozen):
    """The dynamic margin controller, for every market (``IVenueMarginController.ControllerParams``)."""

    enabled: bool = False
    """Whether the controller holds the venue's CONTROLLER_ROLE (is wired)."""
    min_scale: float = Field(default=1.0, ge=0.1, le=10)
    """Lowest margin scale the controller may set."""
    max_scale: float = Field(default=3.0, ge=0.1, le=10)
    """Highest margin scale the controller may set."""
    target_volatility: float = Field(default=0.8, gt=0)
    """Annualized volatility above which margins rise (fraction; 0.8 = 80%)."""
    volatility_sensitivity: float = Field(default=1.0, ge=0)
    """Scale added per unit of relative excess volatility."""
    skew_sensitivity: float = Field(default=0.5, ge=0)
    """Scale added at a fully one-sided book."""
    ewma_weight: float = Field(default=0.2, gt=0, le=1)
    """EWMA weight of the newest volatility observation."""
    min_interval_s: int = Field(default=60, ge=0)
    """Minimum seconds between two volatility observations."""
    skew_averaging_s: int = Field(default=3600, gt=0)
    """Time constant of the skew average, seconds: a sustained skew reaches ~63% of its effect
    after this long (``IVenueMarginController``)."""
    max_skew_sample_age_s: int = Field(default=60, gt=0)
    """Most seconds one skew sample counts for, seconds: a one-block manipulation moves the
    skew average by at most this / ``skew_averaging_s`` of the gap."""

    @model_validator(mode="after")
    def _bounds(self) -> ControllerParams:
        if self.max_scale < self.min_scale:
            raise ValueError(
                f"max_scale must be >= min_scale ({self.max_scale:g} < {self.min_scale:g})"
            )
        if self.max_skew_sample_age_s > self.skew_averaging_s:
            raise ValueError(
                f"max_skew_sample_age_s must be <= skew_averaging_s "
                f"({self.max_skew_sample_age_s} > {self.skew_averaging_s})"
            )
        return self

    def to_chain(self) -> tuple[int, ...]:
        return (
            to_wad(self.min_scale),
            to_wad(self.max_scale),
            to_wad(self.target_volatility),
            to_wad(self.volatility_sensitivity),
            to_wad(self.skew_sensitivity),
            to_wad(self.ewma_weight),
            self.min_interval_s,
            self.skew_averaging_s,
            self.max_skew_sample_age_s,
        )


class GovernanceParams(_Frozen):
    """Governance path of parameter changes."""

    timelock_delay_s: int = Field(default=86_400, ge=0)
    """Minimum delay between scheduling and executing a change, seconds."""


class MarketTableEntry(BaseModel):
    """One row of a preset's per-market table (``markets:``): a symbol, its oracle price and spot
    depth, and overrides of the ``market:`` defaults (fields of
    :class:`~simulator.protocol.venue_params.VenueMarketParams`, checked by
    :class:`VenueParams`). The multi-market venue reads it
    (:func:`~simulator.protocol.venue_params.load_venue_preset`)."""

    model_config = ConfigDict(frozen=True, extra="allow", use_attribute_docstrings=True)

    symbol: str
    """Market symbol (``BTC``)."""
    initial_price_usd: float = Field(gt=0)
    """Oracle price at deployment, USD per base unit."""
    amm_liquidity_usd: float | None = Field(default=None, ge=0)
    """Collateral side of the market's spot pool, USD (None = ``amm.liquidity_usd``)."""


class VenueParams(_Frozen):
    """A whole venue: oracle, spot AMM, market, buffers, controller, governance."""

    name: str
    """Preset or venue name."""
    description: str = ""
    """What the parameter set mirrors, and how closely."""
    oracle: OracleParams
    amm: AmmParams = AmmParams()
    market: MarketParams
    buffers: BufferParams = BufferParams()
    controller: ControllerParams = ControllerParams()
    governance: GovernanceParams = GovernanceParams()
    markets: tuple[MarketTableEntry, ...] = ()
    """Per-market table of the multi-market venue (overrides of ``market:``); empty = none."""

    @model_validator(mode="after")
    def _breaker_window_fits_the_oracle(self) -> VenueParams:
        problem = _breaker_window_problem(self.market, self.oracle)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _market_table_valid(self) -> VenueParams:
        # Each row must make a valid venue market (imported here: venue_params imports this).
        from simulator.protocol.venue_params import venue_market_from_preset

        symbols = [entry.symbol for entry in self.markets]
        for symbol in symbols:
            if symbols.count(symbol) > 1:
                raise ValueError(f"markets: market {symbol!r} listed twice")
            try:
                venue_market_from_preset(self, symbol)
            except ParamsError as exc:
                raise ValueError(str(exc)) from None
        return self

    def with_market(self, **changes: Any) -> VenueParams:
        """A copy with some market fields changed (validated)."""
        market = MarketParams.model_validate({**self.market.model_dump(), **changes})
        problem = _breaker_window_problem(market, self.oracle)
        if problem:
            raise ParamsError(problem)
        return self.model_copy(update={"market": market})

    @classmethod
    def from_yaml(cls, path: str | Path) -> VenueParams:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ParamsError(f"{path}: cannot read parameters: {exc}") from None
        return parse_params(data, source=str(path))


def _breaker_window_problem(market: MarketParams, oracle: OracleParams) -> str | None:
    """Why the circuit breaker's TWAP window does not fit the oracle's ring, or None (``twap``
    reverts beyond it, and the market would refuse every trade while the breaker is on)."""
    if market.circuit_breaker_window_s > oracle.max_twap_window_s:
        return (
            f"market.circuit_breaker_window_s ({market.circuit_breaker_window_s}) exceeds "
            f"oracle.max_twap_window_s ({oracle.max_twap_window_s})"
        )
    return None


def parse_params(data: Any, source: str = "parameters") -> VenueParams:
    """Validate a mapping into :class:`VenueParams`; errors name the field."""
    try:
        return VenueParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ParamsError(f"{source}: {where}: {first['msg']}") from None


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str) -> VenueParams:
    """Load a shipped preset by name (``hyperliquid-like``, ``dydx-like``, ``gmx-like``)."""
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        raise ParamsError(f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    return VenueParams.from_yaml(path)
