"""The order flow's step compiled (numba): kernels around the step's random draws, which stay
in numpy (the flow stream's generator, in the same order and count).

- :func:`before_draws`: the closes of open flow positions (take-profit, stop-loss, holding
  time), the markets' signals (return, drawdown, volatility excess) and the arrivals'
  intensity and side per (kind, market) (:func:`market_intensity`).
- :func:`after_draws`: the idle slots the Poisson arrivals take (first in key order per
  (kind, market)), their leverage, side and size.

These two are :func:`simulator.agents.flow.step_orders` on per-slot arrays. The engine's phase
(:func:`simulator.engine.flow.plan_flow`) runs the same decisions on the book-wide state in
place, over the run's packed constants: :func:`plan_before` (one pass over the slots: carried
equity, closes, the slots that may enter; then :func:`market_intensity`), :func:`plan_after`
(the picks among the eligible slots, the opens, the planned change of open interest, the
opening slots' side and equity at open) and :func:`write_exit_steps`; the per-slot kernels
:func:`slot_inputs` and :func:`planned_change` are that phase's form before session 27
(``tests/engine/test_flow_plan.py`` holds the phase to it).

Each is the numpy formulation of :mod:`simulator.agents.flow` (``exits``,
``market_signals``, ``intensity``, ``pick_slots`` and the rest of ``step_orders``; kept as the
reference of ``tests/agents/test_flow_jit.py``) term by term and in the same order, so the
floats are the same to the bit: no ``fastmath`` (no fused multiply-adds, no reordered sums);
a column sum is a plain loop down the rows, as numpy's ``add.reduce`` over axis 0 of a
row-major array adds row after row; ``error_model="numpy"``, so that a division by zero gives
inf or NaN as numpy's does rather than raising. The logarithms are numpy's (the caller passes
them): numba's ``log`` is the C library's, whose last bit may differ from numpy's SIMD one.

Self-contained on purpose: numba's on-disk cache is invalidated by an edit of the file of the
function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.jit import numpy_kernel as _jit

# The kinds, in FLOW_KINDS order (simulator.scenario.flow).
_MOMENTUM, _DIP_BUYERS, _SHORT_SELLERS, _REENTRY, _FUNDING_ARBITRAGE = range(5)
_N_KINDS = 5
_FLOAT_MAX = 1.7976931348623157e308  # np.finfo(np.float64).max, what np.nan_to_num gives inf


@_jit
def _finite_or_zero(x):
    return x if math.isfinite(x) else 0.0


@_jit
def _max0(x):
    # np.maximum(x, 0.0) of a finite x (a zero's sign is not read downstream)
    return x if x >= 0.0 else 0.0


@_jit
def _nan_min(a, b):
    # np.minimum: NaN when either is
    if a != a or b != b:
        return math.nan
    return a if a <= b else b


@_jit
def _std_log_returns(log_window, first, last):
    """``logret[first:last].std(axis=0)`` of the one-step log returns ``logret[i] =
    log_window[i + 1] - log_window[i]`` as ``simulator.agents.flow._std_rows`` computes it
    (sum down the rows, divide by the count, squared deviations summed, divided, square
    root), each return formed where it is read rather than stored."""
    n = last - first
    cols = log_window.shape[1]
    out = np.empty(cols)
    for c in range(cols):
        total = 0.0
        for i in range(first, last):
            total += log_window[i + 1, c] - log_window[i, c]
        mean = total / n
        var = 0.0
        for i in range(first, last):
            d = (log_window[i + 1, c] - log_window[i, c]) - mean
            var += d * d
        out[c] = math.sqrt(var / n)
    return out


@_jit
def market_intensity(
    history, log_window, funding_rate, lookback, step_hours, volatility_sensitivity,
    momentum_sensitivity, rate_per_hour, min_return, dip_min_fall, short_min_fall,
    min_funding_rate,
):  # fmt: skip
    """The markets' signals (return, drawdown, volatility excess) and the arrivals'
    intensity and side per (kind, market): ``(lam, side)`` (the second half of
    :func:`before_draws`)."""
    # -- market signals -------------------------------------------------------------------------
    n_hist, n_markets = history.shape
    w = min(lookback, n_hist - 1)
    ret = np.zeros(n_markets)
    drawdown = np.empty(n_markets)
    for m in range(n_markets):
        now = history[n_hist - 1, m]
        if w > 0:
            ret[m] = _finite_or_zero(now / history[n_hist - 1 - w, m] - 1.0)
        peak = history[n_hist - 1 - w, m]
        for i in range(n_hist - w, n_hist):
            v = history[i, m]
            if peak != peak or v != v:
                peak = math.nan
            elif v > peak:
                peak = v
        drawdown[m] = _max0(_finite_or_zero(1.0 - now / peak))
    n_log = log_window.shape[0]
    n_ret = n_log - 1 if n_log > 0 else 0
    first_short = n_ret - lookback if lookback < n_ret else 0
    vol_excess = np.zeros(n_markets)
    if n_ret - first_short >= 2:
        sigma_short = _std_log_returns(log_window, first_short, n_ret)
        sigma_long = _std_log_returns(log_window, 0, n_ret)
        for m in range(n_markets):
            excess = sigma_short[m] / sigma_long[m] - 1.0 if sigma_long[m] > 0 else 0.0
            vol_excess[m] = _max0(_finite_or_zero(excess))
    # -- intensity ----------------------------------------------------------------------------
    lam = np.empty((_N_KINDS, n_markets))
    side = np.empty((_N_KINDS, n_markets), dtype=np.int8)
    for m in range(n_markets):
        rate = funding_rate[m]
        if rate != rate:  # np.nan_to_num
            rate = 0.0
        elif rate == math.inf:
            rate = _FLOAT_MAX
        elif rate == -math.inf:
            rate = -_FLOAT_MAX
        r = ret[m]
        dd = drawdown[m]
        abs_ret = abs(r)
        boost = 1.0 + volatility_sensitivity * vol_excess[m] + momentum_sensitivity * abs_ret
        active = (
            abs_ret >= min_return and r != 0,
            dd >= dip_min_fall,
            dd >= short_min_fall,
            True,
            abs(rate) >= min_funding_rate,
        )
        for k in range(_N_KINDS):
            lam[k, m] = rate_per_hour[k] * step_hours * boost * (1.0 if active[k] else 0.0)
        side[_MOMENTUM, m] = 1 if r > 0 else (-1 if r < 0 else 0)
        side[_DIP_BUYERS, m] = 1
        side[_SHORT_SELLERS, m] = -1
        side[_REENTRY, m] = 0
        side[_FUNDING_ARBITRAGE, m] = -1 if rate > 0 else (1 if rate < 0 else 0)
    return lam, side


@_jit
def before_draws(
    history,
    log_window,
    funding_rate,
    lookback,
    kind,
    size_base,
    equity,
    open_equity,
    exit_step,
    t,
    can_close,
    ticket,
    has_ticket,
    take_profit_fraction,
    stop_loss_fraction,
    step_hours,
    volatility_sensitivity,
    momentum_sensitivity,
    rate_per_hour,
    min_return,
    dip_min_fall,
    short_min_fall,
    min_funding_rate,
):
    """The closes (rows, reason) and the intensity and side per (kind, market).

    ``history`` (T, M): prices to this step; ``log_window``: ``np.log`` of its last
    ``reference + 1`` rows; ``funding_rate`` (M,): per hour; ``ticket`` read when
    ``has_ticket``. Returns ``(close_rows, close_reason, lam, side)``."""
    # -- exits: the open flow positions whose unit may close -----------------------------------
    n_rows = len(kind)
    close_rows = np.empty(n_rows, dtype=np.int64)
    close_reason = np.empty(n_rows, dtype=np.int8)
    n_close = 0
    for r in range(n_rows):
        if not (kind[r] >= 0 and size_base[r] > 0 and can_close[r]):
            continue
        k = kind[r]
        stake = _nan_min(open_equity[r], ticket[r]) if has_ticket else open_equity[r]
        profit = equity[r] - open_equity[r]
        tp = profit >= take_profit_fraction[k] * stake
        sl = -profit >= stop_loss_fraction[k] * stake
        if tp or sl or t >= exit_step[r]:
            close_rows[n_close] = r
            close_reason[n_close] = 0 if tp else (1 if sl else 2)
            n_close += 1
    lam, side = market_intensity(
        history, log_window, funding_rate, lookback, step_hours, volatility_sensitivity,
        momentum_sensitivity, rate_per_hour, min_return, dip_min_fall, short_min_fall,
        min_funding_rate,
    )  # fmt: skip
    return close_rows[:n_close].copy(), close_reason[:n_close].copy(), lam, side


@_jit
def after_draws(
    counts,
    keys,
    lever_draws,
    side_draws,
    kind,
    market,
    group,
    size_base,
    ready,
    equity,
    min_equity,
    ticket,
    has_ticket,
    last_side,
    side_km,
    price,
    max_leverage,
    leverage_min_share,
    leverage_max_share,
    reentry_long_share,
):
    """The slots the arrivals take and their opens.

    ``counts`` (K, M): the Poisson arrivals; ``keys``, ``lever_draws``, ``side_draws`` (R,):
    the ordering key, leverage and side uniforms of every slot; ``group`` (R,): each slot's
    ``kind × M + market``; ``price`` (M,): this step's. Returns ``(rows, unfilled, leverage,
    side, size)``: the rows ascending, ``unfilled`` (K, M)."""
    n_kinds, n_markets = counts.shape
    n_groups = n_kinds * n_markets
    n_rows = len(kind)
    eligible = np.zeros(n_rows, dtype=np.bool_)
    available = np.zeros(n_groups, dtype=np.int64)
    for r in range(n_rows):
        if kind[r] >= 0 and size_base[r] == 0 and ready[r] and equity[r] >= min_equity:
            eligible[r] = True
            available[group[r]] += 1
    unfilled = np.empty((n_kinds, n_markets), dtype=np.int64)
    for k in range(n_kinds):
        for m in range(n_markets):
            short = counts[k, m] - available[k * n_markets + m]
            unfilled[k, m] = short if short > 0 else 0
    # The eligible slots of the groups with arrivals, bucketed by group in row order.
    start = np.zeros(n_groups + 1, dtype=np.int64)
    for g in range(n_groups):
        wanted = counts[g // n_markets, g % n_markets]
        start[g + 1] = start[g] + (available[g] if wanted > 0 else 0)
    fill = start[:-1].copy()
    members = np.empty(start[n_groups], dtype=np.int64)
    for r in range(n_rows):
        if eligible[r]:
            g = group[r]
            if counts[g // n_markets, g % n_markets] > 0:
                members[fill[g]] = r
                fill[g] += 1
    picked = np.zeros(n_rows, dtype=np.bool_)
    for g in range(n_groups):
        wanted = counts[g // n_markets, g % n_markets]
        first, n = start[g], start[g + 1] - start[g]
        if n <= wanted:
            for i in range(first, first + n):
                picked[members[i]] = True
            continue
        group_keys = np.empty(n)
        for i in range(n):
            group_keys[i] = keys[members[first + i]]
        order = np.argsort(group_keys, kind="mergesort")  # stable: ties in row order
        for i in range(wanted):
            picked[members[first + order[i]]] = True
    rows = np.flatnonzero(picked)
    n_open = len(rows)
    leverage = np.empty(n_open)
    side = np.empty(n_open, dtype=np.int8)
    size = np.empty(n_open)
    for i in range(n_open):
        r = rows[i]
        k = kind[r]
        m = market[r]
        lo, hi = leverage_min_share[k], leverage_max_share[k]
        lev = max_leverage[m] * (lo + (hi - lo) * lever_draws[r])
        own = (
            last_side[r] if last_side[r] != 0 else (1 if side_draws[r] < reentry_long_share else -1)
        )
        side[i] = side_km[k, m] if side_km[k, m] != 0 else own
        stake = _nan_min(equity[r], ticket[r]) if has_ticket else equity[r]
        leverage[i] = lev
        size[i] = stake * lev / price[m]
    return rows, unfilled, leverage, side, size


@_jit
def exit_steps(log_keep, rows, kind, hold_steps, t):
    """Step at which each open's holding time ends: ``t + max(ceil(-log1p(-u) × mean), 1)``
    (``log_keep``: numpy's ``log1p(-u)`` of the opens' holding-time uniforms; ``rows``: the
    opens' slots)."""
    out = np.empty(len(log_keep), dtype=np.int64)
    for i in range(len(log_keep)):
        hold = np.ceil(-log_keep[i] * hold_steps[kind[rows[i]]])
        if hold < 1.0:  # np.maximum(hold, 1.0) (a NaN stays NaN)
            hold = 1.0
        out[i] = t + np.int64(hold)
    return out


# -- the engine's glue around the step (simulator.engine.flow.plan_flow) ----------------------


@_jit
def slot_inputs(
    slot_rows, unit_rows, own_units, unit_slot, slot_in_unit_rows, slot_unit, market_of_row,
    price, read_price, side, size_base, equity_usd, maintenance_usd, outcome, outcome_step,
    cooldown, opens, idle, t,
):  # fmt: skip
    """Per slot: its equity carried to this step's price, whether its margin unit is above
    maintenance, whether it may enter (idle, or its cooldown over) and the side it held last
    (0: never opened): ``plan_flow``'s numpy lines, float for float.

    ``slot_rows``: the slots' book rows; with ``own_units`` each is its margin unit's only
    row, else ``unit_rows`` holds every row of their units, ``unit_slot`` the unit of each
    (numbered 0..), ``slot_in_unit_rows`` / ``slot_unit`` each slot's place there and unit.
    The per-row arrays are the book's whole (``market_of_row``, the trader state's, the
    outcomes); ``price`` (M,) this step's oracle; ``cooldown`` per slot (steps)."""
    rows = slot_rows if own_units else unit_rows
    n = len(rows)
    equity = np.empty(n)
    maintenance = np.empty(n)
    for i in range(n):
        r = rows[i]
        p = price[market_of_row[r]]
        read = read_price[r]
        equity[i] = equity_usd[r] + np.float64(side[r]) * size_base[r] * (p - read)
        maintenance[i] = maintenance_usd[r] * (p / read)
    n_slots = len(slot_rows)
    if own_units:
        slot_equity = equity
        healthy = np.empty(n_slots, dtype=np.bool_)
        for j in range(n_slots):
            healthy[j] = equity[j] > maintenance[j]
    else:
        n_units = 0
        for i in range(n):
            if unit_slot[i] + 1 > n_units:
                n_units = unit_slot[i] + 1
        eq_sum = np.zeros(n_units)
        mm_sum = np.zeros(n_units)
        for i in range(n):  # np.bincount: in row order
            eq_sum[unit_slot[i]] += equity[i]
            mm_sum[unit_slot[i]] += maintenance[i]
        slot_equity = np.empty(n_slots)
        healthy = np.empty(n_slots, dtype=np.bool_)
        for j in range(n_slots):
            slot_equity[j] = equity[slot_in_unit_rows[j]]
            healthy[j] = eq_sum[slot_unit[j]] > mm_sum[slot_unit[j]]
    ready = np.empty(n_slots, dtype=np.bool_)
    last_side = np.empty(n_slots, dtype=np.int8)
    for j in range(n_slots):
        r = slot_rows[j]
        step = outcome_step[r]
        ready[j] = outcome[r] == idle or (step >= 0 and t >= step + cooldown[j])
        last_side[j] = side[r] if opens[r] > 0 else 0
    return slot_equity, healthy, ready, last_side


@_jit
def planned_change(
    close_rows, open_rows, open_side, open_size, market, size_now, side_now, n_markets
):  # fmt: skip
    """Per market: the change of long and of short open interest the step's flow plans (opens
    ``open_size`` at ``open_side``, less the closed sizes), as ``np.bincount`` of the
    products by side sums them (in row order, zeros included)."""
    long_open = np.zeros(n_markets)
    short_open = np.zeros(n_markets)
    for i in range(len(open_rows)):
        m = market[open_rows[i]]
        long_open[m] += open_size[i] * (1.0 if open_side[i] == 1 else 0.0)
        short_open[m] += open_size[i] * (1.0 if open_side[i] == -1 else 0.0)
    long_close = np.zeros(n_markets)
    short_close = np.zeros(n_markets)
    for i in range(len(close_rows)):
        r = close_rows[i]
        m = market[r]
        long_close[m] += size_now[r] * (1.0 if side_now[r] == 1 else 0.0)
        short_close[m] += size_now[r] * (1.0 if side_now[r] == -1 else 0.0)
    return long_open - long_close, short_open - short_close


# -- the phase's step in two calls around the draws (simulator.engine.flow.plan_flow) ---------
#
# The run's constants travel packed (one table per dtype and length, built once a run by
# simulator.engine.flow.kernel_tables); the book-wide state arrays are the engine's own, read
# and written in place at the slots' rows. Both kernels call the kernels above, unchanged, so
# the floats are theirs; tests/engine/test_flow_plan.py holds the phase to its form before.

#: Rows of the per-slot int64 table (R columns): book row, kind, market, (kind, market)
#: group, cooldown (steps), place in the units' rows, unit.
(SLOT_ROW, SLOT_KIND, SLOT_MARKET, SLOT_GROUP, SLOT_COOLDOWN, SLOT_IN_UNIT_ROWS,
 SLOT_UNIT) = range(7)  # fmt: skip
SLOT_FIELDS = 7
#: Rows of the units' int64 table: every book row of the slots' units, and its unit.
UNIT_ROW, UNIT_SLOT = range(2)
#: Rows of the per-kind float table (K columns).
(KIND_TAKE_PROFIT, KIND_STOP_LOSS, KIND_RATE_PER_HOUR, KIND_LEVERAGE_MIN_SHARE,
 KIND_LEVERAGE_MAX_SHARE, KIND_HOLD_STEPS) = range(6)  # fmt: skip
KIND_FIELDS = 6
#: The float parameters' places.
(P_STEP_HOURS, P_VOLATILITY_SENSITIVITY, P_MOMENTUM_SENSITIVITY, P_MIN_RETURN, P_DIP_MIN_FALL,
 P_SHORT_MIN_FALL, P_MIN_FUNDING_RATE, P_MIN_EQUITY, P_REENTRY_LONG_SHARE) = range(9)  # fmt: skip
PARAM_FIELDS = 9
#: The int parameters' places: lookback (steps), every slot its unit's only row (0 / 1), the
#: idle outcome code, the number of markets.
I_LOOKBACK, I_OWN_UNITS, I_IDLE, I_N_MARKETS = range(4)
INT_FIELDS = 4
#: Rows of the per-slot float work table :func:`plan_before` writes for :func:`plan_after`:
#: the carried equity (USD) of the slots that may enter (the others' entries are stale).
WORK_EQUITY = 0
WORK_FIELDS = 1


@_jit
def unit_health(unit_rows, unit_slot, market_of_row, price, read_price, side, size_base,
                equity_usd, maintenance_usd):  # fmt: skip
    """Per margin unit of the slots (numbered by ``unit_slot``): its rows' carried equity
    summed above their maintenance summed, as :func:`slot_inputs` sums them (in row order)."""
    n = len(unit_rows)
    n_units = 0
    for i in range(n):
        if unit_slot[i] + 1 > n_units:
            n_units = unit_slot[i] + 1
    eq_sum = np.zeros(n_units)
    mm_sum = np.zeros(n_units)
    for i in range(n):
        r = unit_rows[i]
        p = price[market_of_row[r]]
        read = read_price[r]
        eq_sum[unit_slot[i]] += equity_usd[r] + np.float64(side[r]) * size_base[r] * (p - read)
        mm_sum[unit_slot[i]] += maintenance_usd[r] * (p / read)
    healthy = np.empty(n_units, dtype=np.bool_)
    for u in range(n_units):
        healthy[u] = eq_sum[u] > mm_sum[u]
    return healthy


@_jit
def plan_before(
    slots, units, kinds, params, iparams, ticket, market_of_row, price, read_price, side,
    size_base, equity_usd, maintenance_usd, outcome, outcome_step, exit_step, open_equity,
    history, log_window, funding_rate, t, work, eligible,
):  # fmt: skip
    """The step before its draws, in one pass over the slots: each slot's equity carried to
    this step's price; an open one whose unit is above maintenance closes at take-profit,
    stop-loss or the end of its holding time (:func:`before_draws`' exits); a flat one that
    may enter (idle, or its cooldown over) with at least the minimum equity is eligible (its
    index into ``eligible``, its equity into ``work``). Then the markets' signals and the
    intensity (:func:`market_intensity`). The float operations of :func:`slot_inputs` and
    :func:`before_draws`, row for row (a flat slot's maintenance and health are not read
    there, so not computed here). Returns ``(close_rows, close_reason, lam, side_km,
    n_eligible)``."""
    rows = slots[SLOT_ROW]
    kind = slots[SLOT_KIND]
    market = slots[SLOT_MARKET]
    cooldown = slots[SLOT_COOLDOWN]
    slot_unit = slots[SLOT_UNIT]
    take_profit = kinds[KIND_TAKE_PROFIT]
    stop_loss = kinds[KIND_STOP_LOSS]
    own_units = iparams[I_OWN_UNITS] != 0
    idle = iparams[I_IDLE]
    min_equity = params[P_MIN_EQUITY]
    if own_units:
        unit_ok = np.zeros(0, dtype=np.bool_)
    else:
        unit_ok = unit_health(
            units[UNIT_ROW], units[UNIT_SLOT], market_of_row, price, read_price, side,
            size_base, equity_usd, maintenance_usd,
        )  # fmt: skip
    n = len(rows)
    close_rows = np.empty(n, dtype=np.int64)
    close_reason = np.empty(n, dtype=np.int8)
    n_close = 0
    n_eligible = 0
    for j in range(n):
        k = kind[j]
        if k < 0:
            continue
        r = rows[j]
        p = price[market[j]]
        read = read_price[r]
        size = size_base[r]
        equity = equity_usd[r] + np.float64(side[r]) * size * (p - read)
        if size > 0:
            if own_units:
                healthy = equity > maintenance_usd[r] * (p / read)
            else:
                healthy = unit_ok[slot_unit[j]]
            if not healthy:
                continue
            at_open = open_equity[r]
            stake = _nan_min(at_open, ticket[j])
            profit = equity - at_open
            tp = profit >= take_profit[k] * stake
            sl = -profit >= stop_loss[k] * stake
            if tp or sl or t >= exit_step[r]:
                close_rows[n_close] = j
                close_reason[n_close] = 0 if tp else (1 if sl else 2)
                n_close += 1
        elif size == 0:
            step = outcome_step[r]
            ready = outcome[r] == idle or (step >= 0 and t >= step + cooldown[j])
            if ready and equity >= min_equity:
                eligible[n_eligible] = j
                work[WORK_EQUITY, j] = equity
                n_eligible += 1
    lam, side_km = market_intensity(
        history, log_window, funding_rate, iparams[I_LOOKBACK], params[P_STEP_HOURS],
        params[P_VOLATILITY_SENSITIVITY], params[P_MOMENTUM_SENSITIVITY],
        kinds[KIND_RATE_PER_HOUR], params[P_MIN_RETURN], params[P_DIP_MIN_FALL],
        params[P_SHORT_MIN_FALL], params[P_MIN_FUNDING_RATE],
    )  # fmt: skip
    return close_rows[:n_close].copy(), close_reason[:n_close].copy(), lam, side_km, n_eligible


@_jit
def round12(x):
    """``ndarray.round(12)`` of a float: numpy multiplies by ``1e12``, rounds half to even
    (``rint``) and divides by ``1e12``."""
    return np.rint(x * 1e12) / 1e12


#: Arrivals of a group up to which :func:`plan_after` picks its slots by repeated scans for
#: the smallest key rather than by sorting the group's keys (a step's groups take one or two).
_SELECT_MAX = 4


@_jit
def _key_before(a, b):
    """``a`` sorts before ``b`` as numpy's sort orders floats (NaN last)."""
    return a < b or (b != b and a == a)


@_jit
def _take_smallest(keys, members, first, n, wanted, picked):
    """Mark in ``picked`` the ``wanted`` slots of ``members[first:first + n]`` (row order)
    with the smallest keys, ties to the earlier: the first ``wanted`` of a stable argsort."""
    for _ in range(wanted):
        best = -1
        for i in range(first, first + n):
            j = members[i]
            if picked[j]:
                continue
            if best < 0 or _key_before(keys[j], keys[best]):
                best = j
        picked[best] = True


@_jit
def plan_after(
    counts, draws, eligible, n_eligible, close_rows, side_km, slots, kinds, params, ticket,
    work, price, max_leverage, side, size_base, opens, open_equity,
):  # fmt: skip
    """The step after its draws (``counts``: the Poisson arrivals per (kind, market),
    ``draws`` (4, R): the slots' uniforms): each (kind, market) takes its first eligible
    slots in key order (:func:`after_draws`' picking, over the eligible slots alone), their
    leverage, side and size; the planned change of open interest per market and side (the
    opens as sent, :func:`round12`, less the closes: :func:`planned_change`'s sums); the
    opening slots' side and equity at open written into ``side`` and ``open_equity``
    (book-wide). Returns ``(open_rows, unfilled, open_side, open_size, long_change,
    short_change, any_unfilled)``."""
    rows = slots[SLOT_ROW]
    kind = slots[SLOT_KIND]
    market = slots[SLOT_MARKET]
    group = slots[SLOT_GROUP]
    keys = draws[0]
    n_kinds, n_markets = counts.shape
    n_groups = n_kinds * n_markets
    available = np.zeros(n_groups, dtype=np.int64)
    for e in range(n_eligible):
        available[group[eligible[e]]] += 1
    unfilled = np.empty((n_kinds, n_markets), dtype=np.int64)
    any_unfilled = False
    for k in range(n_kinds):
        for m in range(n_markets):
            short = counts[k, m] - available[k * n_markets + m]
            unfilled[k, m] = short if short > 0 else 0
            any_unfilled = any_unfilled or short > 0
    # The eligible slots of the groups with arrivals, bucketed by group in row order.
    start = np.zeros(n_groups + 1, dtype=np.int64)
    for g in range(n_groups):
        wanted = counts[g // n_markets, g % n_markets]
        start[g + 1] = start[g] + (available[g] if wanted > 0 else 0)
    fill = start[:-1].copy()
    members = np.empty(start[n_groups], dtype=np.int64)
    for e in range(n_eligible):
        j = eligible[e]
        g = group[j]
        if counts[g // n_markets, g % n_markets] > 0:
            members[fill[g]] = j
            fill[g] += 1
    picked = np.zeros(len(rows), dtype=np.bool_)
    for g in range(n_groups):
        wanted = counts[g // n_markets, g % n_markets]
        first, n = start[g], start[g + 1] - start[g]
        if n <= wanted:
            for i in range(first, first + n):
                picked[members[i]] = True
            continue
        if wanted <= _SELECT_MAX:
            _take_smallest(keys, members, first, n, wanted, picked)
            continue
        group_keys = np.empty(n)
        for i in range(n):
            group_keys[i] = keys[members[first + i]]
        order = np.argsort(group_keys, kind="mergesort")  # stable: ties in row order
        for i in range(wanted):
            picked[members[first + order[i]]] = True
    open_rows = np.flatnonzero(picked)
    n_open = len(open_rows)
    open_side = np.empty(n_open, dtype=np.int8)
    open_size = np.empty(n_open)
    lo_share = kinds[KIND_LEVERAGE_MIN_SHARE]
    hi_share = kinds[KIND_LEVERAGE_MAX_SHARE]
    reentry_long_share = params[P_REENTRY_LONG_SHARE]
    long_change = np.zeros(n_markets)
    short_change = np.zeros(n_markets)
    for i in range(n_open):
        j = open_rows[i]
        r = rows[j]
        k = kind[j]
        m = market[j]
        lo, hi = lo_share[k], hi_share[k]
        lev = max_leverage[m] * (lo + (hi - lo) * draws[1, j])
        last_side = side[r] if opens[r] > 0 else 0
        own = last_side if last_side != 0 else (1 if draws[3, j] < reentry_long_share else -1)
        open_side[i] = side_km[k, m] if side_km[k, m] != 0 else own
        stake = _nan_min(work[WORK_EQUITY, j], ticket[j])
        open_size[i] = stake * lev / price[m]
        sent = round12(open_size[i])
        long_change[m] += sent * (1.0 if open_side[i] == 1 else 0.0)
        short_change[m] += sent * (1.0 if open_side[i] == -1 else 0.0)
    long_close = np.zeros(n_markets)
    short_close = np.zeros(n_markets)
    for i in range(len(close_rows)):
        j = close_rows[i]
        r = rows[j]
        m = market[j]
        long_close[m] += size_base[r] * (1.0 if side[r] == 1 else 0.0)
        short_close[m] += size_base[r] * (1.0 if side[r] == -1 else 0.0)
    for i in range(n_open):
        r = rows[open_rows[i]]
        side[r] = open_side[i]
        open_equity[r] = work[WORK_EQUITY, open_rows[i]]
    return (open_rows, unfilled, open_side, open_size, long_change - long_close,
            short_change - short_close, any_unfilled)  # fmt: skip


@_jit
def write_exit_steps(log_keep, open_rows, slots, kinds, t, exit_step):
    """The opens' holding-time ends (:func:`exit_steps`) written into ``exit_step``
    (book-wide) at the opening slots' rows."""
    rows = slots[SLOT_ROW]
    ends = exit_steps(log_keep, open_rows, slots[SLOT_KIND], kinds[KIND_HOLD_STEPS], t)
    for i in range(len(open_rows)):
        exit_step[rows[open_rows[i]]] = ends[i]
