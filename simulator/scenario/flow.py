"""The scenario's ``order_flow:`` section: traders who arrive, trade and leave through the run.

Five kinds of flow traders (:data:`FLOW_KINDS`), each a pool of *slots* per market: accounts
funded at setup with their collateral and no position. An arrival takes an idle slot of its
market and kind, opens a position (side, leverage and holding time of its kind) and closes it
at take-profit, stop-loss or the end of its holding time; after a cooldown the slot may enter
again. Arrivals per step in market ``m`` of kind ``k`` are Poisson with intensity (orders per
step)::

    lambda[k, m] = rate_per_hour[k] * step_hours
                   * (1 + volatility_sensitivity * max(sigma_short[m] / sigma_long[m] - 1, 0)
                        + momentum_sensitivity * |r[m]|)
                   * active[k, m]

``r[m]`` is the market's return over the last ``lookback_minutes`` (a fraction),
``sigma_short`` / ``sigma_long`` the standard deviations of its one-step log returns over
``lookback_minutes`` and ``reference_minutes``; ``active`` is each kind's trigger (momentum:
``|r| >= min_return``; dip buyers and short sellers: a fall from the lookback's peak of at
least ``min_fall``; funding arbitrage: ``|funding rate| >= min_funding_rate_per_hour``;
re-entry: always). The kernel is :mod:`simulator.agents.flow`.

Defaults are moderate: with the five kinds' defaults a calm market gets about one order per
step and a falling one several (the issue asks for several times the ~12 transactions per block
of a venue where nobody takes new risk).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from simulator.scenario.base import _Model

#: The kinds of flow traders, in kernel order (``TraderBook.flow_kind`` indexes them).
FLOW_KINDS = ("momentum", "dip_buyers", "short_sellers", "reentry", "funding_arbitrage")


class FlowCollateral(_Model):
    """Lognormal collateral of a flow slot's account."""

    median_usd: float = Field(default=2_000.0, gt=0)
    """Median collateral (USD)."""
    sigma: float = Field(default=1.0, ge=0, le=5)
    """Standard deviation of the log of collateral (dimensionless)."""


class FlowKind(_Model):
    """One kind of flow trader (per market): how many slots, how often they arrive, what they
    open and how long they hold."""

    slots_per_market: int = Field(default=40, ge=0, le=100_000)
    """Flow accounts of this kind in each market (each holds at most one position at a time);
    an arrival finding no idle slot is counted as unfilled (event ``order_flow_unfilled``)."""
    rate_per_hour: float = Field(default=30.0, ge=0)
    """Base arrival rate per market while the kind's trigger holds (orders per hour)."""
    collateral_usd: FlowCollateral = Field(default_factory=FlowCollateral)
    """Collateral each slot's account deposits at setup (lognormal, USD). Every open stakes the
    account's equity then, at most this collateral (a winner keeps its profit aside rather than
    compounding it into ever larger orders)."""
    leverage_min_share: float = Field(default=0.1, gt=0)
    """Lowest leverage drawn, as a share of the market's maximum leverage (uniform draw
    between the two shares; the maximum differs per market: 40x BTC ... 3x ALT)."""
    leverage_max_share: float = Field(default=0.4, gt=0)
    """Highest leverage drawn, as a share of the market's maximum leverage (above 1 would be
    over the market's maximum)."""
    hold_minutes: float = Field(default=60.0, gt=0)
    """Mean holding time (minutes; exponential per open): the position closes when it ends."""
    take_profit_fraction: float | None = Field(default=0.3, gt=0)
    """Close when the profit reaches this share of the stake the open used (``null``: never)."""
    stop_loss_fraction: float | None = Field(default=0.3, gt=0, le=1)
    """Close when the loss reaches this share of the stake the open used (``null``: never)."""
    cooldown_minutes: float = Field(default=30.0, ge=0)
    """After a close, liquidation or takeover, the slot waits this long before it may enter
    again (minutes)."""

    @model_validator(mode="after")
    def _min_below_max(self) -> FlowKind:
        if self.leverage_max_share > 1:
            raise ValueError(
                f"leverage_max_share ({self.leverage_max_share}) is over the market's maximum "
                "leverage (a share of it, at most 1)"
            )
        if self.leverage_min_share > self.leverage_max_share:
            raise ValueError(
                f"leverage_min_share ({self.leverage_min_share}) must not exceed "
                f"leverage_max_share ({self.leverage_max_share})"
            )
        return self


class MomentumFlow(FlowKind):
    """Momentum followers: trade in the direction of the lookback's return."""

    min_return: float = Field(default=0.003, ge=0)
    """Smallest |return| over the lookback that draws them in (fraction)."""


class DipBuyerFlow(FlowKind):
    """Dip buyers: go long after a fall from the lookback's peak."""

    min_fall: float = Field(default=0.04, gt=0, lt=1)
    """Fall from the lookback's peak (fraction) from which they buy."""


class ShortSellerFlow(FlowKind):
    """Short sellers into a fall: go short once the price is off its lookback's peak."""

    min_fall: float = Field(default=0.02, gt=0, lt=1)
    """Fall from the lookback's peak (fraction) from which they sell."""


class ReentryFlow(FlowKind):
    """Take-profit and re-entry traders: always arriving at the base rate, on the side they
    held last (first entry: long with probability ``long_share``)."""

    long_share: float = Field(default=0.6, ge=0, le=1)
    """Probability that a first entry is long."""


class FundingArbFlow(FlowKind):
    """Funding arbitrage: take the side that receives funding while the rate is large."""

    min_funding_rate_per_hour: float = Field(default=0.0001, gt=0)
    """Smallest |funding rate| (fraction of notional per hour) that draws them in."""


class OrderFlow(_Model):
    """Order flow through the run (see the module docstring for the intensity formula)."""

    lookback_minutes: float = Field(default=30.0, gt=0)
    """Window of the return, the peak and the short volatility (minutes; at least one step)."""
    reference_minutes: float = Field(default=240.0, gt=0)
    """Window of the reference volatility (minutes; at least ``lookback_minutes``)."""
    volatility_sensitivity: float = Field(default=1.0, ge=0)
    """``a_vol``: extra intensity per unit of short volatility above the reference
    (dimensionless)."""
    momentum_sensitivity: float = Field(default=20.0, ge=0)
    """``a_mom``: extra intensity per unit |return| over the lookback (a 5% move: +1 at 20)."""
    min_equity_usd: float = Field(default=10.0, gt=0)
    """A slot whose account equity fell below this no longer enters (USD)."""
    momentum: MomentumFlow = Field(default_factory=MomentumFlow)
    dip_buyers: DipBuyerFlow = Field(
        default_factory=lambda: DipBuyerFlow(rate_per_hour=60.0, hold_minutes=120.0)
    )
    short_sellers: ShortSellerFlow = Field(
        default_factory=lambda: ShortSellerFlow(rate_per_hour=60.0)
    )
    reentry: ReentryFlow = Field(
        default_factory=lambda: ReentryFlow(
            rate_per_hour=20.0, hold_minutes=240.0, stop_loss_fraction=None, cooldown_minutes=60.0
        )
    )
    funding_arbitrage: FundingArbFlow = Field(
        default_factory=lambda: FundingArbFlow(
            rate_per_hour=10.0,
            leverage_min_share=0.05,
            leverage_max_share=0.15,
            hold_minutes=480.0,
            take_profit_fraction=None,
            stop_loss_fraction=0.2,
        )
    )

    @model_validator(mode="after")
    def _windows(self) -> OrderFlow:
        if self.reference_minutes < self.lookback_minutes:
            raise ValueError(
                f"reference_minutes ({self.reference_minutes}) must be at least "
                f"lookback_minutes ({self.lookback_minutes})"
            )
        return self

    def kinds(self) -> list[FlowKind]:
        """The kinds' specs in :data:`FLOW_KINDS` order."""
        return [getattr(self, name) for name in FLOW_KINDS]

    def slot_count(self, n_markets: int) -> int:
        """Flow slots over the venue (every kind's ``slots_per_market`` × markets)."""
        return sum(k.slots_per_market for k in self.kinds()) * n_markets
