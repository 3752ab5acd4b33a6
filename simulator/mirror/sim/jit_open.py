"""The opening of a fast-mode block in one compiled call (:func:`open_block`): what
:meth:`~simulator.mirror.sim.loop.MirrorEngine.step` does from ``venue.begin_block`` through
``governance.plan`` in the common case, written in place into the engine's state and the venue.

That segment (:func:`simulator.mirror.sim.oracle.push_prices`, the controller's poke,
:func:`simulator.engine.state.advance_funding_index`, the socialized-loss check and
:func:`simulator.mirror.sim.governance.plan`) is a few vector operations a step spread over ~20
Python calls. :func:`open_block` makes them one kernel call (:func:`_open_block`) when it can:

* fast mode, no oracle faults, no margin controller, and no governance call this step
  (:func:`simulator.mirror.sim.governance.quiet`): otherwise it returns None and the step runs
  the Python path (today's calls, unchanged);
* the kernel decides every push before it writes any (a push on its oracle's
  ``maxDeviationBps`` edge, a price outside the compiled rounding's range, a NaN source, or a
  breaker history full): then it writes nothing the Python path would not write the same, and
  returns a code for the Python path.

The kernel's steps, each the same IEEE operations per element as the numpy code it replaces:
the outside price ``exo × exp(impact)`` (the ``exp`` numpy's, taken by the caller: numpy's
SIMD ``exp`` is not a compiled one's to the bit), with feedback the lower weighted median of
the sources (:func:`simulator.mirror.sim.oracle._source_median`, the venues' noise factors of
the run's table, :func:`noise_factors`), the posted WAD (:func:`simulator.mirror.sim.oracle.
_price_units`) and the pushes (:func:`simulator.mirror.sim.oracle._push_many`: the venue's
prices and push times, the agents' belief), the breaker's histories of the accepted pushes
(:class:`simulator.mirror.sim.controls.Breaker`'s arrays), the funding index's step (``rate ×
(step / 1 day) × price``, added to the longs', taken from the shorts') and the socialized
check (``any(cum > last)``, then ``last = cum`` in place).

The oracle's noise: each step's draws come from the step's own generator (the ``oracle``
stream's :class:`~simulator.scenario.randomness.StepStream`), independent of the others, so
the run's table of every step's factors ``exp(noise / 1e4 × z)`` is drawn once, at the first
step, by one compiled call (:func:`_draw_normals`: each step's PCG64 state written into one
generator, numba's ``standard_normal`` then, numpy's draws to the bit) and one numpy ``exp``
(the same per element as a step's own). Kept in ``ctx.memo`` (:data:`MEMO`).

Self-contained (numba's cache is invalidated only by an edit of the file that defines a
kernel): the kernels call only kernels of this module; the venue's row numbers are arguments.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.jit import kernel as _jit
from simulator.mirror.sim import governance, jit_calls

MEMO = "jit_open"
"""``ctx.memo``'s key of the run's :class:`OpenTables`."""

#: :func:`_open_block`'s outcome: done, or the Python path (nothing written but
#: the outside and feed rows of the step, which the Python path writes the same).
DONE, PYTHON, HISTORY_FULL = 0, 1, 2


class OpenTables:
    """What :func:`open_block` reads every step besides the state, built once a run: whether
    the run may take the compiled path at all (``eligible``), the noise factors of every step
    (``factor``, (T + 1, K, M); (0, 0, 0) without noise), the model's lags, weights and total,
    the step's share of a day and the venue's row numbers (``at``), packed for the kernel into
    ``consts`` (floats) and ``ints`` (:func:`_open_block`)."""

    def __init__(self, ctx, venue, model, step_seconds: int, steps: int, controls):
        change = ctx.scenario.controls.governance_change
        self.eligible = (not venue.exact_mode and not ctx.scenario.oracle_faults
                         and controls.controller is None)  # fmt: skip
        self.governed = change is not None
        self.feedback = bool(ctx.feedback)
        self.step_fraction = step_seconds / 86_400
        self.at = np.array([jit_calls.F_PRICE, jit_calls.I_UPDATED_AT], dtype=np.int64)
        m = venue.n_markets
        if self.feedback:
            self.lag_steps = np.ascontiguousarray(model.lag_steps, dtype=np.int64)
            self.weights = np.ascontiguousarray(model.weights, dtype=np.float64)
            self.total_weight = float(model.total_weight)
            noisy = model.noisy and self.eligible  # no table for a run on the Python path
            self.factor = noise_factors(model, steps, m) if noisy else _NO_NOISE
        else:
            self.lag_steps = np.zeros(0, dtype=np.int64)
            self.weights = np.zeros(1)
            self.total_weight = 1.0
            self.factor = _NO_NOISE
        self.steps = steps
        self.noisy = self.factor.shape[0] > 0
        k = len(self.lag_steps)
        # the constants, then the kernel's scratch (written every call, read only within it):
        # the K + 1 sources' prices and the M posted WADs; the sources' order and the M
        # pushes' codes
        head = [float(self.feedback), self.total_weight, self.step_fraction]
        self.consts = np.concatenate([head, self.weights, np.zeros(k + 1 + m)])
        scratch = np.zeros(k + 1 + m, dtype=np.int64)
        self.ints = np.concatenate([self.at, [k], self.lag_steps, scratch]).astype(np.int64)


_NO_NOISE = np.empty((0, 0, 0))


def noise_factors(model, steps: int, n_markets: int) -> np.ndarray:
    """(steps + 1, K, M): step ``t``'s noise factors ``exp(noise_scale × z_t)``, ``z_t`` the
    step's ``standard_normal((K, M))`` (:meth:`~simulator.scenario.randomness.StepStream.
    normal`), as :func:`simulator.mirror.sim.oracle.source_median_usd` takes them a step at a
    time (the same draws, the same products, numpy's ``exp`` per element)."""
    k = len(model.lag_steps)
    draws = np.empty((steps + 1, k, n_markets))
    states = _step_states(model.noise, steps)
    gen = np.random.Generator(np.random.PCG64(0))
    words = _state_words_of(gen)
    if states is None or words is None:  # numpy's own construction, a step at a time
        for t in range(steps + 1):
            draws[t] = model.noise.normal(t, (k, n_markets))
    else:
        _draw_normals(gen, words, states, draws.reshape(steps + 1, k * n_markets))
    return np.exp(model.noise_scale * draws)


def _step_states(stream, steps: int) -> np.ndarray | None:
    """(steps + 1, 4) uint64: the PCG64 state words of steps ``0 .. steps`` of ``stream`` (its
    tables, extended as :meth:`~simulator.scenario.randomness.StepStream.generator` extends
    them), or None when they do not cover them."""
    while stream._n <= steps:
        if not stream._extend(stream._n):
            return None
    return np.ascontiguousarray(stream._states[: steps + 1], dtype=np.uint64)


def _state_words_of(gen: np.random.Generator) -> np.ndarray | None:
    """The four uint64 state words of ``gen``'s PCG64 in memory
    (:func:`simulator.scenario.randomness._state_words`), None when its probe fails."""
    from simulator.scenario.randomness import _state_words

    words, _ = _state_words(gen.bit_generator)
    return words


@_jit
def _draw_normals(gen, words, states, out):
    """Row ``t`` of ``out``: ``gen.standard_normal(out.shape[1])`` after ``gen``'s PCG64 state
    is set to ``states[t]`` (written into its state ``words``): step ``t``'s draws."""
    n = out.shape[1]
    for t in range(out.shape[0]):
        for i in range(4):
            words[i] = states[t, i]
        for i in range(n):
            out[t, i] = gen.standard_normal()


def tables(ctx, venue, model, step_seconds: int, steps: int, controls) -> OpenTables:
    """The run's :class:`OpenTables` (made at the first ask, kept in ``ctx.memo``)."""
    got = ctx.memo.get(MEMO)
    if got is None:
        got = ctx.memo[MEMO] = OpenTables(ctx, venue, model, step_seconds, steps, controls)
    return got


@_jit
def _open_block(t, now, exo, impact, outside, feed_history, amm, factor, max_deviation_bps,
                market_floats, market_ints, believed, history_times, history_prices,
                history_count, rate_per_day, funding_index, socialized_cum, last_socialized,
                consts, ints):  # fmt: skip
    """The block's opening (see the module): (the outcome, :data:`DONE`, else :data:`PYTHON`
    or :data:`HISTORY_FULL` with nothing written but rows ``t`` of ``outside`` and
    ``feed_history``; the pushes sent; those accepted; whether a market's socialized loss
    grew). The run's constants packed (:class:`OpenTables`): ``consts`` (feedback, the
    weights' total, the step's share of a day, the K + 1 sources' weights), ``ints`` (the
    venue's rows of the price and of the push time, K, the K venues' lags), each followed by
    the call's scratch (no allocation a call): ``consts`` the K + 1 sources' prices and the M
    posted WADs, ``ints`` the sources' order and the M pushes' codes."""
    m = exo.shape[0]
    feedback = consts[0] != 0.0
    total_weight = consts[1]
    step_fraction = consts[2]
    at = ints[:2]
    k = ints[2]
    lag_steps = ints[3 : 3 + k]
    weights = consts[3 : 4 + k]
    values = consts[4 + k : 5 + 2 * k]
    wads = consts[5 + 2 * k : 5 + 2 * k + m]
    order = ints[3 + k : 4 + 2 * k]
    codes = ints[4 + 2 * k : 4 + 2 * k + m]  # 0 no push, 1 accepted, 2 refused
    for j in range(m):
        outside[t, j] = exo[j] * impact[j]
    if feedback:
        noisy = factor.shape[0] > 0
        for j in range(m):
            for i in range(k):
                row = t - lag_steps[i]
                price = outside[row if row > 0 else 0, j]
                values[i] = price * factor[t, i, j] if noisy else price
            values[k] = amm[j]
            for i in range(k + 1):
                if values[i] != values[i]:  # a NaN source: the Python path raises
                    return PYTHON, 0, 0, False
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
            feed_history[t, j] = values[order[first]]
    else:
        for j in range(m):
            feed_history[t, j] = exo[j]
    # The pushes: every market decided before any is written.
    for j in range(m):
        codes[j] = 0
        p = feed_history[t, j]
        if p != p:
            continue
        u = _units(p)
        if u != u:
            return PYTHON, 0, 0, False
        wad = u * 1e10
        dev = max_deviation_bps[j]
        if dev != 0:
            previous = np.round(market_floats[at[0], j])
            lhs = abs(wad - previous) * 1e4
            rhs = dev * previous
            if abs(lhs - rhs) <= 1e-9 * max(lhs, rhs):
                return PYTHON, 0, 0, False
            if lhs > rhs:
                codes[j] = 2
                continue
        wads[j] = wad
        codes[j] = 1
    with_history = history_count.shape[0] > 0
    if with_history:
        cap = history_times.shape[1]
        for j in range(m):
            c = history_count[j]
            if codes[j] == 1 and history_times[j, c - 1] != now and c >= cap:
                return HISTORY_FULL, 0, 0, False
    sent = 0
    accepted = 0
    for j in range(m):
        if codes[j] == 0:
            continue
        believed[j] = feed_history[t, j]
        sent += 1
        if codes[j] != 1:
            continue
        market_floats[at[0], j] = wads[j]
        market_ints[at[1], j] = now
        accepted += 1
        if with_history:
            c = history_count[j]
            if history_times[j, c - 1] == now:
                history_prices[j, c - 1] = wads[j]
            else:
                history_times[j, c] = now
                history_prices[j, c] = wads[j]
                history_count[j] = c + 1
    # The engine's funding index: one step at the last block's rates and the oracle's price.
    for j in range(m):
        increment = rate_per_day[j] * step_fraction * believed[j]
        funding_index[j, 0] += increment
        funding_index[j, 1] -= increment
    socialized = False
    for j in range(m):
        if socialized_cum[j] > last_socialized[j]:
            socialized = True
        last_socialized[j] = socialized_cum[j]
    return DONE, sent, accepted, socialized


@_jit
def _units(p):
    """``p`` rounded to 8 decimals in units of 1e-8 (a whole float), NaN outside ``[1e-4,
    1e7)``: :func:`simulator.mirror.sim.oracle._price_units` of one price."""
    if not (p >= 1e-4 and p < 1e7):
        return np.nan
    y = p * 1e8
    c = 134217729.0 * p
    high = c - (c - p)
    low = p - high
    e = -((y - high * 1e8) - low * 1e8)
    whole = math.floor(y)
    fraction = y - whole
    if fraction > 0.5 or (fraction == 0.5 and (e > 0 or (e == 0 and whole % 2 == 1))):
        whole += 1.0
    return whole


@_jit
def twap(times, prices, count, now, window):
    """``Oracle.twap(window)`` at ``now`` of one market's history (its first ``count`` (time s,
    price WAD) entries): :func:`simulator.mirror.sim.controls.twap_of` in fast mode, the same
    floats (each segment's price times its whole seconds, summed from the newest)."""
    price = prices[count - 1]
    if window == 0:
        return price
    start = max(now - window, times[0])
    if start >= now:
        return price
    cumulative = 0.0
    end = now
    for i in range(count - 1, -1, -1):
        ti = times[i]
        lo = max(ti, start)
        if end > lo:
            cumulative = cumulative + prices[i] * float(end - lo)
        end = ti
        if ti <= start:
            break
    return cumulative / float(now - start)


def open_block(ctx, s, venue, t: int, exo_usd, model, last: dict, step_seconds: int,
               controls) -> tuple[int, bool] | None:  # fmt: skip
    """Step ``t``'s opening after ``venue.begin_block`` in one compiled call: (transactions
    sent, whether a market's socialized loss grew), or None when the step takes the Python
    path (see the module; nothing written then that the Python path would not write the
    same). ``model``: the run's oracle sources (None without feedback); ``last``: the last
    block's levels; ``controls``: the run's :class:`~simulator.mirror.sim.controls.Controls`
    (with a margin controller every step takes the Python path)."""
    memo = ctx.memo
    tab = memo[MEMO] if MEMO in memo else tables(ctx, venue, model, step_seconds,
                                                 ctx.scenario.steps, controls)  # fmt: skip
    if not tab.eligible or t > tab.steps:
        return None
    if tab.governed and not governance.quiet(ctx, s, t):
        return None
    breaker = venue.breaker
    if breaker is None:
        times, prices, count = _NO_TIMES, _NO_PRICES, _NO_COUNT
    else:
        times, prices, count = breaker.times, breaker.prices, breaker.count
    while True:
        code, sent, accepted, socialized = _open_block(t, venue.now, exo_usd,
                    np.exp(s.permanent_log_impact + s.transient_log_impact),
                    s.outside_price_usd, s.feed_prices_usd, s.amm_price_usd, tab.factor,
                    venue.max_deviation_bps, venue._market_floats, venue._market_ints,
                    s.oracle_price_usd, times, prices, count, last["funding_rate_per_day"],
                    s.funding_index_usd, last["socialized_cum_usd"], s.last_socialized_usd,
                    tab.consts, tab.ints)  # fmt: skip
        if code == DONE:
            break
        if code == HISTORY_FULL:
            breaker.grow()
            times, prices, count = breaker.times, breaker.prices, breaker.count
            continue
        return None
    if accepted:
        venue.version += accepted
        if breaker is not None and breaker._cache:
            breaker._cache.clear()
    return sent, socialized


_NO_TIMES = np.zeros((0, 1), dtype=np.int64)
_NO_PRICES = np.zeros((0, 1))
_NO_COUNT = np.zeros(0, dtype=np.int64)


__all__ = ["DONE", "HISTORY_FULL", "MEMO", "PYTHON", "OpenTables", "noise_factors", "open_block",
           "tables", "twap"]  # fmt: skip
