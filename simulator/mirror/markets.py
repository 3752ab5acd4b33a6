"""The mirror's per-market inputs: parameters with margin tiers (:class:`MarketArrays`) and the
funding / open-interest state (:class:`MarketState`), one entry per market along the last axis.

Fields carry the names and units of ``IPerpVenueTypes.MarketParams`` / ``MarketView`` in
snake case: WAD fractions and prices, bps as integers, seconds. Tiers are padded to a common
count ``T`` with floors no notional reaches (:data:`NO_TIER`), which the tier loops read as the
end of the market's tiers, exactly as the contract's ``break`` / ``return`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from simulator.mirror.fixed import Array, exact, fast

NO_TIER = 2**255
"""Floor (WAD USD) of a padding tier: above every notional the venue can hold."""

#: MarketParams fields the kernels read: (dataclass field, chain name).
_PARAM_FIELDS = {
    "max_leverage": "maxLeverage",
    "maintenance_margin_fraction": "maintenanceMarginFraction",
    "oi_imf_lower_cap": "oiImfLowerCap",
    "oi_imf_upper_cap": "oiImfUpperCap",
    "skew_scale": "skewScale",
    "taker_fee_bps": "takerFeeBps",
    "insurance_fee_share_bps": "insuranceFeeShareBps",
    "funding_model": "fundingModel",
    "max_funding_velocity": "maxFundingVelocity",
    "premium_interest_rate_8h": "premiumInterestRate8h",
    "premium_clamp_8h": "premiumClamp8h",
    "max_funding_rate_per_hour": "maxFundingRatePerHour",
    "liquidation_penalty_bps": "liquidationPenaltyBps",
    "keeper_share_bps": "keeperShareBps",
    "partial_liquidation_threshold": "partialLiquidationThreshold",
    "partial_liquidation_share_bps": "partialLiquidationShareBps",
    "liquidation_cooldown": "liquidationCooldown",
    "full_liquidation_after_cooldown": "fullLiquidationAfterCooldown",
    "max_liquidation_notional_per_block": "maxLiquidationNotionalPerBlock",
    "max_liquidation_impact_bps": "maxLiquidationImpactBps",
    "backstop_fraction": "backstopFraction",
}


@dataclass(frozen=True)
class MarketArrays:
    """Parameters of M markets, each field an array of shape (M,); tiers (M, T).

    ``funding_model``: 0 velocity, 1 premium. ``margin_scale``: the dynamic margin scale (WAD,
    1e18 = none). ``full_liquidation_after_cooldown``: 0 / 1.
    """

    max_leverage: Array
    maintenance_margin_fraction: Array
    oi_imf_lower_cap: Array
    oi_imf_upper_cap: Array
    skew_scale: Array
    taker_fee_bps: Array
    insurance_fee_share_bps: Array
    funding_model: Array
    max_funding_velocity: Array
    premium_interest_rate_8h: Array
    premium_clamp_8h: Array
    max_funding_rate_per_hour: Array
    liquidation_penalty_bps: Array
    keeper_share_bps: Array
    partial_liquidation_threshold: Array
    partial_liquidation_share_bps: Array
    liquidation_cooldown: Array
    full_liquidation_after_cooldown: Array
    max_liquidation_notional_per_block: Array
    max_liquidation_impact_bps: Array
    backstop_fraction: Array
    margin_scale: Array
    tier_floor: Array
    """(M, T) notional floors, WAD USD; padding :data:`NO_TIER`."""
    tier_imf: Array
    """(M, T) initial margin fractions, WAD."""
    tier_mmf: Array
    """(M, T) maintenance margin fractions, WAD."""

    @property
    def count(self) -> int:
        return len(self.max_leverage)

    @classmethod
    def from_chain(
        cls,
        params: Sequence[Mapping[str, Any]],
        tiers: Sequence[Sequence[tuple[int, int, int]]],
        margin_scales: Sequence[int] | None = None,
        *,
        exact_mode: bool = True,
    ) -> MarketArrays:
        """From ``marketParameters`` dicts (chain names and integers), ``marginTiers`` tuples
        (floor, IMF, MMF) and each market's ``marginScale`` (default 1e18), in exact
        (``exact_mode``) or fast mode."""
        conv = exact if exact_mode else fast
        m = len(params)
        scales = list(margin_scales) if margin_scales is not None else [10**18] * m
        width = max((len(t) for t in tiers), default=0)
        padded = [list(t) + [(NO_TIER, 0, 0)] * (width - len(t)) for t in tiers]
        columns = {f: conv([int(p[name]) for p in params]) for f, name in _PARAM_FIELDS.items()}
        floor = [[int(t[0]) for t in row] for row in padded]
        tier_floor = exact(floor) if exact_mode else np.array(floor, dtype=np.float64)
        if not exact_mode:
            tier_floor[tier_floor >= float(NO_TIER)] = np.inf
        return cls(
            **columns,
            margin_scale=conv([int(s) for s in scales]),
            tier_floor=tier_floor.reshape(m, width),
            tier_imf=conv([[int(t[1]) for t in row] for row in padded]).reshape(m, width),
            tier_mmf=conv([[int(t[2]) for t in row] for row in padded]).reshape(m, width),
        )

    def take(self, index: Array) -> MarketArrays:
        """The parameters gathered at `index` (any shape of market positions 0..M−1): every
        field becomes ``field[index]`` (tiers ``[index, :]``)."""
        return MarketArrays(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(frozen=True)
class MarketState:
    """Funding and open-interest state of M markets, arrays of shape (M,) (WAD; funding
    indices in WAD USD per base unit, + = longs owe; rate per day WAD; time in seconds)."""

    long_open_interest: Array
    short_open_interest: Array
    long_funding_index: Array
    short_funding_index: Array
    funding_rate_per_day: Array

    @property
    def skew(self) -> Array:
        """Long − short open interest (WAD base units)."""
        return self.long_open_interest - self.short_open_interest

    @classmethod
    def from_chain(cls, views: Sequence[Mapping[str, Any]], *, exact_mode: bool = True):
        """From ``marketState`` dicts (``PerpVenue.market_view_dict``)."""
        conv = exact if exact_mode else fast
        return cls(
            long_open_interest=conv([int(v["longOpenInterest"]) for v in views]),
            short_open_interest=conv([int(v["shortOpenInterest"]) for v in views]),
            long_funding_index=conv([int(v["longFundingIndex"]) for v in views]),
            short_funding_index=conv([int(v["shortFundingIndex"]) for v in views]),
            funding_rate_per_day=conv([int(v["fundingRatePerDay"]) for v in views]),
        )
