"""Phase 1a on the mirror: every market's oracle posts the step's price, as
:func:`simulator.engine.oracle.plan_oracle` plans it: without feedback the exogenous price, with
feedback the lower weighted median of the outside venues (the outside price carried with the
hedger's impact, the ``oracle`` stream's noise) and the spot AMM's price at the end of the
previous block (:func:`simulator.engine.oracle.source_median_usd`); through the scenario's oracle
faults (lag, stale, bad print), rounded to 8 decimals as the engine sends it
(:func:`posted_wad`: every market's WAD from one compiled call, :func:`_price_units`, equal to
``to_wad(round(price, 8))``). A push the oracle refuses (a move beyond its
``maxDeviationBps``) keeps the old price in the venue, while the agents believe the new one, as
on chain. In fast mode every market's push is one compiled call a step (:func:`post`,
:func:`_push_many`: the venue's prices and push times written in place, the agents' belief,
the counts), the breaker's histories after it. In fast mode's common case (no oracle fault,
margin controller or governance call) the whole opening of the block, these pushes included,
is one compiled call (:func:`simulator.mirror.sim.jit_open.open_block`); the functions here are
its Python path.

With feedback the venues' prices and the median of the sources are one compiled call
(:func:`_source_median`: what :func:`simulator.prices.sources.venue_prices` and
:func:`~simulator.prices.sources.lower_weighted_median_columns` give, to the bit); the noise is
numpy's, drawn from the step's generator as on chain (the ``oracle`` stream's
:class:`~simulator.scenario.randomness.StepStream`) and its ``exp`` taken by numpy (whose
SIMD ``exp`` a compiled ``exp`` does not match to the bit)."""

from __future__ import annotations

import math

import numpy as np

from simulator.engine.context import Context
from simulator.engine.oracle import OracleModel
from simulator.engine.state import EngineState
from simulator.jit import kernel as _jit
from simulator.mirror.sim import jit_calls
from simulator.mirror.sim.venue import VenueState
from simulator.units import to_wad


def push_prices(
    ctx: Context, s: EngineState, venue: VenueState, t: int, exo_usd, model: OracleModel | None
) -> int:
    """Post step ``t``'s prices; returns the transactions sent (one per push). ``model``: the
    scenario's oracle sources (:func:`simulator.engine.oracle.oracle_model`, built once by the
    run), ``None`` without feedback."""
    s.outside_price_usd[t] = exo_usd * np.exp(s.permanent_log_impact + s.transient_log_impact)
    if ctx.feedback:
        s.feed_prices_usd[t] = source_median_usd(model, s.outside_price_usd, s.amm_price_usd, t)
    else:
        s.feed_prices_usd[t] = exo_usd
    if ctx.scenario.oracle_faults:
        feed = np.asarray(ctx.faults.feed_markets(t, s.feed_prices_usd[: t + 1]), dtype=np.float64)
    else:  # no lag, no stale step, no bad print: every oracle posts its source price
        feed = s.feed_prices_usd[t]
    return post(s, venue, feed)


def post(s: EngineState, venue: VenueState, feed: np.ndarray) -> int:
    """Every oracle posts its ``feed`` price (USD, per market; NaN: no push) as the engine
    sends it (:func:`posted_wad`), into the venue; the agents' belief ``s.oracle_price_usd``
    takes every posted price, accepted or not. Returns the pushes sent. Fast mode: one compiled
    call (:func:`_push_many`), then the breaker's histories of the accepted pushes."""
    units = _price_units(feed)
    if venue.exact_mode:
        return _push_each(s, venue, feed, units)
    feed = np.ascontiguousarray(feed, dtype=np.float64)
    m = len(feed)
    codes = _push_many(feed, units, venue.max_deviation_bps, venue._market_floats,
                       venue._market_ints, _PUSH_AT, venue.now, s.oracle_price_usd).tolist()  # fmt: skip
    posts, accepted, undecided = codes[m:]
    if accepted:
        venue.version += accepted
        if venue.breaker is not None:
            venue.breaker.pushed_many(codes, _ACCEPTED, venue.now, venue.price)
    if undecided:  # exactly, in Python integers
        for j in range(m):
            if codes[j] == _UNDECIDED:
                venue.push_price(j, posted_wad(float(feed[j]), float(units[j])))
    return posts


def _push_each(s: EngineState, venue: VenueState, feed: np.ndarray, units: np.ndarray) -> int:
    """The pushes one :meth:`~simulator.mirror.sim.venue.VenueState.push_price` call each
    (exact mode: the venue's prices are Python integers)."""
    sent = 0
    for m, (price, unit) in enumerate(zip(feed.tolist(), units.tolist(), strict=True)):
        if price == price:  # not NaN: the oracle posts
            venue.push_price(m, posted_wad(price, unit))
            s.oracle_price_usd[m] = price
            sent += 1
    return sent


#: :func:`_push_many`'s outcome per market: no push (a NaN price: the fault holds the oracle),
#: accepted (the venue's price and time written), refused (beyond ``maxDeviationBps``: nothing
#: written), undecided (left to :meth:`~simulator.mirror.sim.venue.VenueState.push_price`).
_NOT_POSTED, _ACCEPTED, _REFUSED, _UNDECIDED = 0, 1, 2, 3

#: Where :func:`_push_many` writes: the market floats' price row, the market ints' row of the
#: oracle's last accepted push (an argument: a global would be frozen into numba's cache).
_PUSH_AT = np.array([jit_calls.F_PRICE, jit_calls.I_UPDATED_AT], dtype=np.int64)


@_jit
def _push_many(feed, units, max_deviation_bps, market_floats, market_ints, at, now, believed):
    """Fast mode's ``Oracle.pushPrice`` of every market whose ``feed`` price is not NaN, as
    :meth:`~simulator.mirror.sim.venue.VenueState.push_price` makes it with
    :func:`posted_wad`, each posted price written into ``believed`` (the agents' belief,
    accepted or not): per market ``j`` a code ``out[j]`` (``_NOT_POSTED`` ...), then the counts
    of pushes, accepted ones and undecided ones (``out[M:]``). The posted WAD is ``units[j] *
    1e10`` (``units`` of :func:`_price_units`: a whole float below 2**53, so the product is
    ``float(int(units) * 10**10)``, correctly rounded); a NaN unit is ``_UNDECIDED``. With a
    ``maxDeviationBps`` the check ``|wad - previous| * 1e4 > bps * previous`` (``previous``
    the stored price, a whole float) is made in floats when its sides differ by more than 1e-9
    of the larger (their float error is below 1e-11 of it), else left ``_UNDECIDED`` (the
    Python integers decide). An accepted push writes the price (``market_floats[at[0]]``) and
    the push's time ``now`` (``market_ints[at[1]]``)."""
    m = feed.shape[0]
    out = np.zeros(m + 3, dtype=np.int64)
    for j in range(m):
        if feed[j] != feed[j]:
            continue
        believed[j] = feed[j]
        out[m] += 1
        u = units[j]
        if u != u:
            out[j] = 3
            out[m + 2] += 1
            continue
        wad = u * 1e10
        dev = max_deviation_bps[j]
        if dev != 0:
            previous = np.round(market_floats[at[0], j])
            lhs = abs(wad - previous) * 1e4
            rhs = dev * previous
            if abs(lhs - rhs) <= 1e-9 * max(lhs, rhs):
                out[j] = 3
                out[m + 2] += 1
                continue
            if lhs > rhs:
                out[j] = 2
                continue
        market_floats[at[0], j] = wad
        market_ints[at[1], j] = now
        out[j] = 1
        out[m + 1] += 1
    return out


def posted_wad(price_usd: float, units: float) -> int:
    """The WAD the engine posts for ``price_usd``: ``to_wad(round(price_usd, 8))``, from
    ``units`` (:func:`_price_units` of it) when the kernel gave them."""
    if units == units:
        return int(units) * _WAD_PER_UNIT
    return to_wad(round(price_usd, 8))


_WAD_PER_UNIT = 10**10
"""WAD per 1e-8 (the 8 decimals the engine posts)."""


@_jit
def _price_units(prices):
    """Per price (M,), ``out[j]``: ``prices[j]`` rounded to 8 decimals, in units of 1e-8 (a
    whole float), as ``round(price, 8)`` rounds (the exact binary value to the nearest, ties to even), so that
    ``to_wad(round(price, 8)) == out[j] * 10**10``; NaN (the caller rounds in Python) outside
    ``[1e-4, 1e7)`` (and for NaN): there ``round``'s result may print with an exponent or more
    than 15 significant digits, whose shortest ``repr`` ``to_wad`` reads need not be the
    rounded decimal.

    The exact product ``x = price * 1e8`` is ``y + e``: ``y`` its float, ``e`` the error
    (Dekker's two-product, exact without fused multiply-adds). ``y - floor(y)`` is exact and a
    multiple of ``ulp(y) <= 1/2``, and ``|e| <= ulp(y) / 2``: only a fraction of exactly 1/2
    needs ``e`` to decide (above, below, or a tie to even)."""
    out = np.empty(prices.shape[0])
    for j in range(prices.shape[0]):
        p = prices[j]
        if not (p >= 1e-4 and p < 1e7):
            out[j] = np.nan
            continue
        y = p * 1e8
        c = 134217729.0 * p  # Veltkamp's split of p (2**27 + 1); 1e8 needs 19 bits: no split
        high = c - (c - p)
        low = p - high
        e = -((y - high * 1e8) - low * 1e8)
        whole = math.floor(y)
        fraction = y - whole
        if fraction > 0.5 or (fraction == 0.5 and (e > 0 or (e == 0 and whole % 2 == 1))):
            whole += 1.0
        out[j] = whole
    return out


def source_median_usd(
    model: OracleModel, outside_history_usd: np.ndarray, amm_price_usd: np.ndarray, t: int
) -> np.ndarray:
    """:func:`simulator.engine.oracle.source_median_usd` (per market, USD; the same draws from
    the step's generator, the same floats) in one compiled call (:func:`_source_median`) after
    the draws and their ``exp`` (numpy's, as :func:`~simulator.prices.sources.venue_prices`
    takes it). Raises ``ValueError`` for a NaN source, as it does."""
    if model.noisy:
        k, n_markets = len(model.lag_steps), outside_history_usd.shape[1]
        factor = np.exp(model.noise_scale * model.noise.normal(t, (k, n_markets)))
    else:
        factor = _NO_NOISE
    median = np.empty(outside_history_usd.shape[1])
    if not _source_median(outside_history_usd, t, model.lag_steps, factor, amm_price_usd,
                          model.weights, model.total_weight, median):  # fmt: skip
        raise ValueError("a source value is NaN")
    return median


_NO_NOISE = np.empty((0, 0))
""":func:`_source_median`'s ``factor`` when no venue has noise."""


@_jit
def _source_median(history, t, lag_steps, factor, amm, weights, total_weight, out):
    """Per market ``j``, into ``out[j]``: the lower weighted median of the K venues' prices
    and the AMM's ``amm[j]`` (the K + 1 sources of ``weights``, their sum ``total_weight``).

    Venue ``i`` posts ``history[max(t - lag_steps[i], 0), j]`` (the outside price it reads,
    :func:`~simulator.prices.sources.lagged_rows`) times ``factor[i, j]`` (its noise,
    ``exp(noise / 1e4 * z)``; no factor when ``factor`` has no rows), as
    :func:`~simulator.prices.sources.venue_prices` prices them. The median as
    :func:`~simulator.prices.sources.lower_weighted_median_columns` takes it: the sources
    sorted ascending, ties in source order (a stable insertion sort, as numpy's stable
    argsort), their weights summed in that order from the first, the value of the first whose
    ``2 x`` sum reaches ``total_weight`` (the first source when none does, as ``argmax`` of no
    True). False, ``out`` partly written, when a source is NaN."""
    k = lag_steps.shape[0]
    m = history.shape[1]
    noisy = factor.shape[0] > 0
    values = np.empty(k + 1)
    order = np.empty(k + 1, dtype=np.int64)
    for j in range(m):
        for i in range(k):
            row = t - lag_steps[i]
            price = history[row if row > 0 else 0, j]
            values[i] = price * factor[i, j] if noisy else price
        values[k] = amm[j]
        for i in range(k + 1):
            if values[i] != values[i]:
                return False
            # Insert source i after every earlier source of a value <= its own.
            p = i
            while p > 0 and values[order[p - 1]] > values[i]:
                order[p] = order[p - 1]
                p -= 1
            order[p] = i
        first = 0
        cumulative = 0.0
        for i in range(k + 1):
            cumulative = cumulative + weights[order[i]] if i else weights[order[0]]
            if 2.0 * cumulative >= total_weight:
                first = i
                break
        out[j] = values[order[first]]
    return True
