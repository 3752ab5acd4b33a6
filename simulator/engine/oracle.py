"""Phase 1a: every market's oracle posts this step's price, and the dynamic margin controller
pokes every market (one ``pokeMany``).

With feedback on, each oracle posts the lower weighted median
(:func:`~simulator.prices.sources.lower_weighted_median`) of its sources
(``scenario.oracle_sources``): the outside venues, each posting the market's outside price of
``lag_steps`` steps ago times its own lognormal noise (one draw per venue and market per step,
from the ``oracle`` random stream), and the local spot AMM's price at the end of the previous
block. The outside price is the exogenous price times ``exp`` of the impact of forced selling in
effect (:mod:`simulator.prices.impact`, carried by :mod:`~simulator.engine.spot`). With feedback
off the oracle posts the exogenous price itself. The scenario's oracle faults (lag, stale, bad
print; per market) act on the history of what the oracle would post
(:meth:`~simulator.pricepaths.OracleFaultSchedule.feed_markets`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.prices.sources import checked_weights, lower_weighted_median_columns, venue_prices
from simulator.scenario import Scenario
from simulator.scenario.randomness import StepStream
from simulator.units import to_wad


@dataclass(frozen=True)
class OracleModel:
    """A scenario's oracle sources and outside market, as arrays (built once per scenario)."""

    lag_steps: np.ndarray
    """Per venue (K): lag (steps)."""
    noise_bps: np.ndarray
    """Per venue (K): noise (bps, standard deviation of the log deviation)."""
    weights: np.ndarray
    """The venues' weights, then the AMM's (K + 1), checked
    (:func:`~simulator.prices.sources.checked_weights`)."""
    total_weight: float
    """``weights.sum()``: the median is the first sorted source to reach half of it."""
    stream: np.random.SeedSequence
    """The ``oracle`` random stream (child 3 of the seed)."""
    impact_y: float
    persistent_share: float
    half_life_steps: float
    sigma_daily: np.ndarray
    """Per market (M): daily volatility (fraction)."""
    volume_daily_usd: np.ndarray
    """Per market (M): daily volume, scaled (USD)."""
    # -- derived once from the fields above (not arguments: ``dataclasses.replace`` renews them)
    noise: StepStream = field(init=False, repr=False, compare=False)
    """The ``oracle`` stream's per-step generators (:class:`~simulator.scenario.randomness.
    StepStream` of :attr:`stream`: step ``t`` draws as
    :func:`~simulator.scenario.randomness.oracle_step_generator` of ``t``)."""
    noisy: bool = field(init=False, repr=False, compare=False)
    """Whether any venue has noise (``noise_bps > 0``): without, a step draws nothing."""
    noise_scale: np.ndarray = field(init=False, repr=False, compare=False)
    """(K, 1): ``noise_bps / 1e4`` as :func:`~simulator.prices.sources.venue_prices` scales the
    draws (the standard deviation of each venue's log deviation, a fraction)."""

    def __post_init__(self) -> None:
        noise_bps = np.asarray(self.noise_bps, dtype=np.float64)
        object.__setattr__(self, "noise", StepStream(self.stream))
        object.__setattr__(self, "noisy", bool((noise_bps > 0).any()))
        object.__setattr__(self, "noise_scale", noise_bps[:, None] / 1e4)


@functools.lru_cache(maxsize=16)
def oracle_model(scenario: Scenario) -> OracleModel:
    """The :class:`OracleModel` of ``scenario``."""
    sources, outside = scenario.oracle_sources, scenario.outside_market
    weights = checked_weights(sources.weights())
    return OracleModel(
        lag_steps=np.array([v.lag_steps for v in sources.venues], dtype=np.int64),
        noise_bps=np.array([v.noise_bps for v in sources.venues], dtype=np.float64),
        weights=weights,
        total_weight=float(weights.sum()),
        stream=scenario.random_streams().oracle,
        impact_y=outside.impact_y,
        persistent_share=outside.persistent_share,
        half_life_steps=outside.half_life_steps,
        sigma_daily=scenario.outside_sigma_daily(),
        volume_daily_usd=scenario.outside_volume_daily_usd(),
    )


def run_oracle_model(ctx: Context | Scenario) -> OracleModel:
    """:func:`oracle_model` of the run's scenario, kept in the run's context
    (:attr:`~simulator.engine.context.Context.memo`: the lru cache's key is the scenario's
    hash, a fingerprint read through pydantic on every call, two calls a step). Given a
    scenario, :func:`oracle_model` of it."""
    if isinstance(ctx, Scenario):
        return oracle_model(ctx)
    memo = ctx.memo
    last = memo.get("oracle_model")
    if last is None or last[0] is not ctx.scenario:
        last = memo["oracle_model"] = (ctx.scenario, oracle_model(ctx.scenario))
    return last[1]


def source_median_usd(
    model: OracleModel, outside_history_usd: np.ndarray, amm_price_usd: np.ndarray, t: int
) -> np.ndarray:
    """Per market (M): the weighted median of the venues' prices at step ``t`` (from the
    outside prices of steps ``0 .. t``) and the AMM's ``amm_price_usd`` (USD), by
    :func:`~simulator.prices.sources.lower_weighted_median_columns` on the model's checked
    weights (a NaN source, an empty pool's price say, raises as
    :func:`~simulator.prices.sources.lower_weighted_median` does)."""
    k, n_markets = len(model.lag_steps), outside_history_usd.shape[1]
    draws = model.noise.normal(t, (k, n_markets)) if model.noisy else None
    values = np.empty((k + 1, n_markets))
    values[:k] = venue_prices(outside_history_usd, t, model.lag_steps, model.noise_bps, draws)
    values[k] = amm_price_usd
    if np.isnan(values).any():
        raise ValueError("a source value is NaN")
    return lower_weighted_median_columns(values, model.weights, model.total_weight)


def plan_oracle(ctx: Context, s: EngineState, t: int, exo_usd: np.ndarray) -> list[Action]:
    """The price pushes of step ``t`` (none for a market whose fault holds its oracle) and the
    controller's poke; records the outside prices, the source prices and the prices the
    oracles will hold in ``s``."""
    actions: list[Action] = []
    v = ctx.venue
    s.outside_price_usd[t] = exo_usd * np.exp(s.permanent_log_impact + s.transient_log_impact)
    if ctx.feedback:
        model = run_oracle_model(ctx)
        source = source_median_usd(model, s.outside_price_usd, s.amm_price_usd, t)
    else:
        source = exo_usd
    s.feed_prices_usd[t] = source
    feed = ctx.faults.feed_markets(t, s.feed_prices_usd[: t + 1])
    for m, market in enumerate(ctx.market_ids):
        if not np.isnan(feed[m]):
            price = float(feed[m])
            actions.append(Action(v.push_price(market, to_wad(round(price, 8))), "oracle", -1, m))
            s.oracle_price_usd[m] = price
    if v.margin_controller is not None:
        actions.append(
            Action(v.margin_controller.poke_many(ctx.keeper(0), ctx.market_ids), "controller")
        )
    return actions
