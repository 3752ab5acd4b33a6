"""Parameters of the multi-market venue (``contracts/PerpVenue.sol``): one market's parameters,
and a venue parameter set (venue-wide buffers and governance, and a list of markets).

Per-market parameters (:class:`VenueMarketParams`) **subclass** the presets' ``market:``
defaults, :class:`~simulator.protocol.params.MarketParams`: every field with the same meaning (leverage,
margins, tiers, OI caps, skew, fees, funding, liquidation, circuit breaker) is inherited as is,
with its unit in its name. The subclass adds the venue's own fields
(``max_liquidation_impact_bps``, ``adl_price_mode``), replaces ``adl_policy`` by the venue's five
policies, narrows ``max_adl_accounts_per_call`` to the venue's bound, and replaces the parent's
consistency check by one that applies ``VenueParams.validate`` / ``validateTiers``
(``contracts/venue/VenueParams.sol``) rule for rule to the integers :meth:`to_chain` sends: Python
refuses exactly what the contract refuses (``tests/simulator/test_venue_params.py`` checks the
boundaries against the chain).

ADL policy names (``IPerpVenueTypes.AdlPolicy``): ``none``, ``contracts_queue`` (BitMEX /
Hyperliquid: only the winners' contracts needed, at the ADL price), ``profit_queue`` (Chitra's
equity-space reading: ranked winners' whole profit), ``pro_rata``, ``socialized``. The
presets' name ``queue`` (presets and scenarios) is the whole-profit queue and is read
as ``profit_queue``.

Presets: ``simulator/presets/<name>.yaml`` have default ``oracle:``, ``amm:`` and ``market:``
sections (:func:`~simulator.protocol.params.load_preset` reads them) and a ``markets:`` table, one entry per
symbol whose fields override the ``market:`` defaults (plus the symbol's oracle price and AMM
depth). :func:`load_venue_preset` builds a :class:`MultiVenueParams` for a list of symbols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulator.protocol.params import (
    AdlPolicy,
    AmmParams,
    BufferParams,
    ControllerParams,
    FundingModel,
    GovernanceParams,
    MarginTierParams,
    MarketParams,
    OracleParams,
    ParamsError,
    VenueParams,
    _breaker_window_problem,
    load_preset,
)
from simulator.units import WAD

#: ``MAX_MARKETS`` of ``contracts/interfaces/IPerpVenueTypes.sol``: markets one venue may list.
MAX_MARKETS = 256
#: ``MAX_POSITIONS_PER_ACCOUNT`` of ``IPerpVenueTypes.sol``: positions (cross and isolated) per
#: account.
MAX_POSITIONS_PER_ACCOUNT = 8
#: ``VenueParams.MAX_TIERS``: margin tiers per market.
MAX_TIERS = 8
#: ``VenueParams.MAX_ADL_ACCOUNTS``: upper bound of ``max_adl_accounts_per_call``.
MAX_ADL_ACCOUNTS = 100
#: The contract's bound on OI caps, skew scale and tier floors (``type(uint128).max``), WAD.
UINT128_MAX = 2**128 - 1

_BPS = 10_000


class VenueAdlPolicy(StrEnum):
    """What covers a market's deficit the insurance fund could not (``IPerpVenueTypes.AdlPolicy``)."""

    NONE = "none"
    CONTRACTS_QUEUE = "contracts_queue"
    PROFIT_QUEUE = "profit_queue"
    PRO_RATA = "pro_rata"
    SOCIALIZED = "socialized"


#: Single-market names read as venue policies: today's ``queue`` is the whole-profit queue.
ADL_POLICY_ALIASES = {"queue": VenueAdlPolicy.PROFIT_QUEUE}


class AdlPriceMode(StrEnum):
    """The price at which ``contracts_queue`` closes winners' contracts
    (``IPerpVenueTypes.AdlPriceMode``)."""

    BANKRUPTCY_PRICE = "bankruptcy_price"
    """BitMEX: the bankrupt positions' bankruptcy price."""
    PREVIOUS_MARK = "previous_mark"
    """Hyperliquid: the index of the previous block in which the market was touched."""


_ADL_POLICY_INDEX = {p: i for i, p in enumerate(VenueAdlPolicy)}
_ADL_PRICE_MODE_INDEX = {m: i for i, m in enumerate(AdlPriceMode)}


class VenueMarginTierParams(MarginTierParams):
    """One margin tier of a venue market: the presets' tier, except that a maintenance
    fraction of 0 is allowed (``validateTiers`` only requires MMF < the tier's IMF)."""

    maintenance_margin_fraction: float = Field(ge=0, lt=1)
    """Maintenance margin fraction in this tier; below its initial fraction."""


class VenueMarketParams(MarketParams):
    """Every parameter of one venue market (``IPerpVenueTypes.MarketParams``).

    Subclasses :class:`MarketParams` (the presets' ``market:`` fields, units and docs are inherited);
    see the module docstring for what changes.
    """

    margin_tiers: tuple[VenueMarginTierParams, ...] = ()
    """Tiers above the base tier, by increasing notional floor (at most 8; empty = untiered)."""
    adl_policy: VenueAdlPolicy
    """``none``, ``contracts_queue``, ``profit_queue`` (alias ``queue``), ``pro_rata`` or
    ``socialized``."""
    adl_price_mode: AdlPriceMode = AdlPriceMode.BANKRUPTCY_PRICE
    """``contracts_queue`` only: ``bankruptcy_price`` (BitMEX) or ``previous_mark``
    (Hyperliquid)."""
    max_adl_accounts_per_call: int = Field(default=50, gt=0, le=MAX_ADL_ACCOUNTS)
    """Upper bound on the accounts one ``adl`` call takes (the venue allows at most 100)."""
    max_liquidation_impact_bps: int = Field(default=500, ge=0, le=5_000)
    """Liquidation fills are clamped to index × (1 ± this), bps (F7); at most 5,000. The default
    500 (5%) is an assumption of perpsim, not a published value."""

    @field_validator("adl_policy", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return ADL_POLICY_ALIASES.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> VenueMarketParams:  # replaces MarketParams._consistent
        problem = chain_params_problem(self.to_chain(), self.tiers_to_chain())
        if problem:
            raise ValueError(problem)
        return self

    def to_chain(self) -> dict[str, int | bool]:
        """The ``IPerpVenueTypes.MarketParams`` struct as {solidity field name: integer}."""
        # The parent's conversion covers every shared field; its ADL index table only knows the
        # presets' four policies, so it converts a copy with a placeholder policy and the
        # venue's index replaces it.
        fields = MarketParams.to_chain(self.model_copy(update={"adl_policy": AdlPolicy.NONE}))
        fields["adlPolicy"] = _ADL_POLICY_INDEX[self.adl_policy]
        fields["adlPriceMode"] = _ADL_PRICE_MODE_INDEX[self.adl_price_mode]
        fields["maxLiquidationImpactBps"] = self.max_liquidation_impact_bps
        return fields

    @classmethod
    def from_chain(
        cls, fields: Mapping[str, int | bool], tiers: Sequence[Sequence[int]] = ()
    ) -> VenueMarketParams:
        """The parameters of a ``MarketParams`` struct {solidity field name: integer} and
        ``MarginTier`` tuples (the inverse of :meth:`to_chain`; WAD values go through
        :class:`~decimal.Decimal` to the nearest float). Raises pydantic's ValidationError."""
        data: dict[str, Any] = {}
        for name, value in fields.items():
            py, kind = _FROM_CHAIN[name]
            if kind == "wad":
                data[py] = float(Decimal(int(value)) / WAD)
            elif kind == "funding":
                data[py] = list(FundingModel)[int(value)]
            elif kind == "adl":
                data[py] = list(VenueAdlPolicy)[int(value)]
            elif kind == "price_mode":
                data[py] = list(AdlPriceMode)[int(value)]
            else:
                data[py] = value
        data["margin_tiers"] = [
            {
                "notional_floor_usd": float(Decimal(f) / WAD),
                "initial_margin_fraction": float(Decimal(i) / WAD),
                "maintenance_margin_fraction": float(Decimal(m) / WAD),
            }
            for f, i, m in tiers
        ]
        return cls.model_validate(data)

    @classmethod
    def from_market(cls, market: MarketParams, **changes: Any) -> VenueMarketParams:
        """The venue market of a preset's ``market:`` parameters, with ``changes`` (field names of
        this class) applied; raises pydantic's ValidationError."""
        return cls.model_validate({**market.model_dump(), **changes})


#: Solidity field name -> (Python field name, conversion) for :meth:`VenueMarketParams.from_chain`.
_FROM_CHAIN = {
    "maxLeverage": ("max_leverage", "wad"),
    "maintenanceMarginFraction": ("maintenance_margin_fraction", "wad"),
    "oiImfLowerCap": ("oi_imf_lower_cap_usd", "wad"),
    "oiImfUpperCap": ("oi_imf_upper_cap_usd", "wad"),
    "maxLongOpenInterest": ("max_long_open_interest", "wad"),
    "maxShortOpenInterest": ("max_short_open_interest", "wad"),
    "skewScale": ("skew_scale", "wad"),
    "takerFeeBps": ("taker_fee_bps", "int"),
    "insuranceFeeShareBps": ("insurance_fee_share_bps", "int"),
    "fundingModel": ("funding_model", "funding"),
    "maxFundingVelocity": ("max_funding_velocity", "wad"),
    "premiumInterestRate8h": ("premium_interest_rate_8h", "wad"),
    "premiumClamp8h": ("premium_clamp_8h", "wad"),
    "maxFundingRatePerHour": ("max_funding_rate_per_hour", "wad"),
    "liquidationPenaltyBps": ("liquidation_penalty_bps", "int"),
    "keeperShareBps": ("keeper_share_bps", "int"),
    "partialLiquidationThreshold": ("partial_liquidation_threshold_usd", "wad"),
    "partialLiquidationShareBps": ("partial_liquidation_share_bps", "int"),
    "liquidationCooldown": ("liquidation_cooldown_s", "int"),
    "fullLiquidationAfterCooldown": ("full_liquidation_after_cooldown", "bool"),
    "maxLiquidationNotionalPerBlock": ("max_liquidation_notional_per_block_usd", "wad"),
    "maxLiquidationImpactBps": ("max_liquidation_impact_bps", "int"),
    "backstopFraction": ("backstop_fraction", "wad"),
    "adlPolicy": ("adl_policy", "adl"),
    "adlPriceMode": ("adl_price_mode", "price_mode"),
    "maxAdlAccountsPerCall": ("max_adl_accounts_per_call", "int"),
    "circuitBreakerBandBps": ("circuit_breaker_band_bps", "int"),
    "circuitBreakerWindow": ("circuit_breaker_window_s", "int"),
    "liquidationsHaltOnBreaker": ("liquidations_halt_on_breaker", "bool"),
}

#: Solidity field name -> Python field name of :class:`VenueMarketParams` (for error messages).
_PY_NAME = {
    "maxLeverage": "max_leverage",
    "maintenanceMarginFraction": "maintenance_margin_fraction",
    "oiImfUpperCap": "oi_imf_upper_cap_usd",
    "maxLongOpenInterest": "max_long_open_interest",
    "maxShortOpenInterest": "max_short_open_interest",
    "skewScale": "skew_scale",
    "takerFeeBps": "taker_fee_bps",
    "insuranceFeeShareBps": "insurance_fee_share_bps",
    "premiumClamp8h": "premium_clamp_8h",
    "premiumInterestRate8h": "premium_interest_rate_8h",
    "maxFundingVelocity": "max_funding_velocity",
    "maxFundingRatePerHour": "max_funding_rate_per_hour",
    "liquidationPenaltyBps": "liquidation_penalty_bps",
    "keeperShareBps": "keeper_share_bps",
    "partialLiquidationShareBps": "partial_liquidation_share_bps",
    "liquidationCooldown": "liquidation_cooldown_s",
    "maxLiquidationImpactBps": "max_liquidation_impact_bps",
    "backstopFraction": "backstop_fraction",
    "maxAdlAccountsPerCall": "max_adl_accounts_per_call",
    "circuitBreakerBandBps": "circuit_breaker_band_bps",
    "circuitBreakerWindow": "circuit_breaker_window_s",
    "tiers.length": "margin_tiers",
    "tiers.notionalFloor": "margin_tiers.notional_floor_usd",
    "tiers.initialMarginFraction": "margin_tiers.initial_margin_fraction",
    "tiers.maintenanceMarginFraction": "margin_tiers.maintenance_margin_fraction",
}


def chain_params_rejection(
    p: Mapping[str, int | bool], tiers: Sequence[tuple[int, int, int]] = ()
) -> tuple[str, int] | None:
    """``(name, value)`` of the first ``InvalidParameter(name, value)`` that
    ``VenueParams.validate`` then ``validateTiers`` would revert with for these chain integers, or
    None: the contract's rules, in the contract's order, on the same integers."""
    checks: list[tuple[str, int, bool]] = [
        ("maxLeverage", p["maxLeverage"], p["maxLeverage"] < WAD or p["maxLeverage"] > 1000 * WAD),
        (
            "maintenanceMarginFraction",
            p["maintenanceMarginFraction"],
            p["maintenanceMarginFraction"] == 0
            or p["maintenanceMarginFraction"] * p["maxLeverage"] >= WAD * WAD,
        ),
        (
            "oiImfUpperCap",
            p["oiImfUpperCap"],
            p["oiImfUpperCap"] != 0 and p["oiImfUpperCap"] <= p["oiImfLowerCap"],
        ),
        (
            "maxLongOpenInterest",
            p["maxLongOpenInterest"],
            not 0 < p["maxLongOpenInterest"] <= UINT128_MAX,
        ),
        (
            "maxShortOpenInterest",
            p["maxShortOpenInterest"],
            not 0 < p["maxShortOpenInterest"] <= UINT128_MAX,
        ),
        ("skewScale", p["skewScale"], p["skewScale"] > UINT128_MAX),
        ("takerFeeBps", p["takerFeeBps"], p["takerFeeBps"] > 1000),
        ("insuranceFeeShareBps", p["insuranceFeeShareBps"], p["insuranceFeeShareBps"] > _BPS),
        ("premiumClamp8h", p["premiumClamp8h"], p["premiumClamp8h"] > WAD),
        ("premiumInterestRate8h", p["premiumInterestRate8h"], p["premiumInterestRate8h"] > WAD),
        ("maxFundingVelocity", p["maxFundingVelocity"], p["maxFundingVelocity"] > 100 * WAD),
        ("maxFundingRatePerHour", p["maxFundingRatePerHour"], p["maxFundingRatePerHour"] > WAD),
        ("liquidationPenaltyBps", p["liquidationPenaltyBps"], p["liquidationPenaltyBps"] > _BPS),
        ("keeperShareBps", p["keeperShareBps"], p["keeperShareBps"] > _BPS),
        (
            "partialLiquidationShareBps",
            p["partialLiquidationShareBps"],
            not 0 < p["partialLiquidationShareBps"] <= _BPS,
        ),
        ("liquidationCooldown", p["liquidationCooldown"], p["liquidationCooldown"] > 86_400),
        (
            "maxLiquidationImpactBps",
            p["maxLiquidationImpactBps"],
            p["maxLiquidationImpactBps"] > 5_000,
        ),
        ("backstopFraction", p["backstopFraction"], p["backstopFraction"] > WAD),
        (
            "maxAdlAccountsPerCall",
            p["maxAdlAccountsPerCall"],
            not 0 < p["maxAdlAccountsPerCall"] <= MAX_ADL_ACCOUNTS,
        ),
        ("circuitBreakerBandBps", p["circuitBreakerBandBps"], p["circuitBreakerBandBps"] > _BPS),
        (
            "circuitBreakerWindow",
            0,
            p["circuitBreakerBandBps"] != 0 and p["circuitBreakerWindow"] == 0,
        ),
    ]
    for name, value, bad in checks:
        if bad:
            return name, int(value)
    if len(tiers) > MAX_TIERS:
        return "tiers.length", len(tiers)
    floor = imf = mmf = 0
    for t_floor, t_imf, t_mmf in tiers:
        if t_floor <= floor or t_floor > UINT128_MAX:
            return "tiers.notionalFloor", t_floor
        if t_imf < imf or t_imf > WAD:
            return "tiers.initialMarginFraction", t_imf
        if t_mmf < mmf or t_mmf >= t_imf:
            return "tiers.maintenanceMarginFraction", t_mmf
        floor, imf, mmf = t_floor, t_imf, t_mmf
    return None


def chain_params_problem(
    p: Mapping[str, int | bool], tiers: Sequence[tuple[int, int, int]] = ()
) -> str | None:
    """The contract's refusal of these chain integers as one sentence naming the Python field,
    or None."""
    rejection = chain_params_rejection(p, tiers)
    if rejection is None:
        return None
    name, value = rejection
    return (
        f"{_PY_NAME.get(name, name)}: refused by the venue's VenueParams.validate "
        f"(InvalidParameter {name} = {value})"
    )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class VenueMarket(_Frozen):
    """One market of a venue: its symbol, oracle, spot AMM and parameters."""

    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    """Market symbol (``BTC``); listed on chain as ``bytes32``."""
    oracle: OracleParams
    """The market's oracle feed; ``initial_price_usd`` is the index at deployment, USD."""
    amm: AmmParams = AmmParams()
    """The market's spot pool (collateral vs the asset's base token); ``liquidity_usd`` is its
    depth, USD of collateral (the base side matches the initial price)."""
    params: VenueMarketParams
    """The market's parameters."""

    @model_validator(mode="after")
    def _breaker_window_fits_the_oracle(self) -> VenueMarket:
        # The chain's rule too: listMarket / setMarketParameters revert
        # CircuitBreakerWindowTooLong(window, maxTwapWindow) when circuitBreakerWindow exceeds the
        # market oracle's maxTwapWindow(), band on or off (VenueParams.validate).
        problem = _breaker_window_problem(self.params, self.oracle)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def initial_price_usd(self) -> float:
        """Oracle price at deployment, USD per base unit."""
        return self.oracle.initial_price_usd

    @property
    def amm_depth_usd(self) -> float:
        """Collateral side of the spot pool, USD."""
        return self.amm.liquidity_usd


class VenueBufferParams(BufferParams):
    """Venue-wide capital and keepers: the preset's buffers (insurance fund, counterparty
    pool, backstop vault capital and margin share, deposit lock), plus whether an ADL keeper is
    wired. The backstop fraction is per market (``backstop_fraction``)."""

    adl_keeper_enabled: bool = True
    """Whether the deployer's ADL keeper gets ``ADL_KEEPER_ROLE`` (only it may call ``adl``); off,
    queue and pro-rata deficits stay recorded as bad debt."""


class VenueGovernanceParams(GovernanceParams):
    """Timelock delay (inherited) and whether a guardian (tighten-only, per market) is wired."""

    guardian_enabled: bool = True
    """Whether the deployer's guardian gets ``GUARDIAN_ROLE``."""


class MultiVenueParams(_Frozen):
    """A whole multi-market venue: buffers, governance and its markets (listed in this order,
    ids 1, 2, ...)."""

    name: str
    """Preset or venue name."""
    description: str = ""
    """What the parameter set mirrors, and how closely."""
    buffers: VenueBufferParams = VenueBufferParams()
    governance: VenueGovernanceParams = VenueGovernanceParams()
    controller: ControllerParams = ControllerParams()
    """The dynamic margin controller (``VenueMarginController``): when ``enabled``, deployed with
    these parameters for every market and holding the venue's CONTROLLER_ROLE."""
    markets: tuple[VenueMarket, ...] = Field(min_length=1)
    """The markets, at most ``MAX_MARKETS``, each symbol once."""

    @model_validator(mode="after")
    def _markets(self) -> MultiVenueParams:
        if len(self.markets) > MAX_MARKETS:
            raise ValueError(
                f"{len(self.markets)} markets listed: the venue lists at most {MAX_MARKETS}"
            )
        seen: set[str] = set()
        for m in self.markets:
            if m.symbol in seen:
                raise ValueError(f"market {m.symbol!r} listed twice")
            seen.add(m.symbol)
        return self

    @property
    def symbols(self) -> list[str]:
        """Symbols in listing order (market id = index + 1)."""
        return [m.symbol for m in self.markets]

    def market(self, symbol: str) -> VenueMarket:
        """The market of ``symbol``; ParamsError when the venue does not list it."""
        for m in self.markets:
            if m.symbol == symbol:
                return m
        raise ParamsError(f"unknown market symbol {symbol!r} (listed: {', '.join(self.symbols)})")


def _first_error(exc: ValidationError, source: str) -> ParamsError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return ParamsError(f"{source}: {where}: {first['msg']}")


def _table(params: VenueParams) -> dict[str, dict[str, Any]]:
    """A preset's ``markets:`` table as {symbol: entry} (entries validated by params.py)."""
    return {entry.symbol: entry.model_dump(exclude_unset=True) for entry in params.markets}


def venue_market_from_preset(
    params: VenueParams, symbol: str, overrides: Mapping[str, Any] | None = None
) -> VenueMarket:
    """One market of a preset: the ``market:`` defaults, the preset's table entry of
    ``symbol``, then ``overrides`` (fields of :class:`VenueMarketParams`, or
    ``initial_price_usd`` / ``amm_liquidity_usd``). ParamsError on an unknown symbol or field."""
    table = _table(params)
    if symbol not in table:
        raise ParamsError(
            f"{params.name}: unknown market symbol {symbol!r} "
            f"(the preset's table lists: {', '.join(table) or 'none'})"
        )
    entry = {**table[symbol], **(overrides or {})}
    entry.pop("symbol", None)
    price = entry.pop("initial_price_usd", params.oracle.initial_price_usd)
    depth = entry.pop("amm_liquidity_usd", params.amm.liquidity_usd)
    data = {
        "symbol": symbol,
        "oracle": {**params.oracle.model_dump(), "initial_price_usd": price},
        "amm": {**params.amm.model_dump(), "liquidity_usd": depth},
        "params": {**params.market.model_dump(), **entry},
    }
    try:
        return VenueMarket.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, f"{params.name}: markets.{symbol}") from None


def load_venue_preset(
    name: str,
    symbols: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> MultiVenueParams:
    """The venue parameter set of a shipped preset for ``symbols`` (listed in that order; None =
    every symbol of the preset's table), with per-symbol ``overrides``.

    Bad input raises :class:`ParamsError` (one line, exit 2): an unknown preset or symbol, a
    symbol listed twice, an override for a symbol not listed, more than ``MAX_MARKETS`` markets,
    an invalid value.
    """
    preset = load_preset(name)
    symbols = list(symbols) if symbols is not None else list(_table(preset))
    if len(symbols) > MAX_MARKETS:
        raise ParamsError(f"{len(symbols)} markets listed: the venue lists at most {MAX_MARKETS}")
    seen: set[str] = set()
    for s in symbols:
        if s in seen:
            raise ParamsError(f"market {s!r} listed twice")
        seen.add(s)
    overrides = overrides or {}
    for s in overrides:
        if s not in seen:
            raise ParamsError(
                f"override for market {s!r}, which is not listed ({', '.join(symbols)})"
            )
    markets = [venue_market_from_preset(preset, s, overrides.get(s)) for s in symbols]
    try:
        return MultiVenueParams(
            name=preset.name,
            description=preset.description,
            buffers=VenueBufferParams.model_validate(preset.buffers.model_dump()),
            governance=VenueGovernanceParams.model_validate(preset.governance.model_dump()),
            controller=preset.controller,
            markets=tuple(markets),
        )
    except ValidationError as exc:
        raise _first_error(exc, name) from None


def preset_symbols(name: str) -> list[str]:
    """Symbols of a shipped preset's ``markets:`` table, in table order."""
    return list(_table(load_preset(name)))
