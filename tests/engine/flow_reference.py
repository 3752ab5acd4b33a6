"""The order flow's step before session 28, kept as the tests' reference (moved out of
``simulator/agents/flow.py`` and ``simulator/agents/flow_jit.py``, which no production code ran
any more): :func:`step_orders` (``simulator.agents.flow.step_orders`` on its compiled kernels
:func:`before_draws`, :func:`after_draws`, :func:`exit_steps`, :func:`market_intensity`), the
engine's per-call glue of session 26 (:func:`slot_inputs` behind :func:`slot_inputs_of`,
``simulator.engine.flow._slot_inputs``; :func:`planned_change`) and :class:`FlowOrders`.
Verbatim but for the imports: ``tests/agents/test_flow_jit.py`` holds :func:`step_orders` to its
numpy formulation, ``tests/engine/test_flow_plan.py`` the engine's plan to these.

Self-contained (numba's cache): every kernel here calls only kernels defined here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.agents.flow import DRAWS_PER_SLOT, FlowParams, slot_groups
from simulator.engine.state import IDLE
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


@dataclass(frozen=True)
class FlowOrders:
    """One step's flow orders: the opens (aligned arrays) and the closes."""

    open_rows: np.ndarray
    """Slots that open (int64, ascending)."""
    side: np.ndarray
    """+1 long / -1 short (int8)."""
    leverage: np.ndarray
    """Leverage of the open: notional over the account's equity (times)."""
    size_base: np.ndarray
    """Size of the open (base units, > 0)."""
    exit_step: np.ndarray
    """Step at which the holding time ends (int64)."""
    close_rows: np.ndarray
    """Open flow positions that close this step (int64, ascending)."""
    close_reason: np.ndarray
    """Index into :data:`EXIT_REASONS` per close (int8)."""
    arrivals: np.ndarray
    """Poisson arrivals per (kind, market), (K, M)."""
    unfilled: np.ndarray
    """Arrivals that found no eligible slot, (K, M)."""
    intensity: np.ndarray
    """Expected arrivals per (kind, market), (K, M)."""


def step_orders(
    params: FlowParams,
    rng: np.random.Generator,
    t: int,
    history_usd: np.ndarray,
    funding_rate_per_hour: np.ndarray,
    kind: np.ndarray,
    market: np.ndarray,
    size_base: np.ndarray,
    equity_usd: np.ndarray,
    ready: np.ndarray,
    last_side: np.ndarray,
    open_equity_usd: np.ndarray,
    exit_step: np.ndarray,
    can_close: np.ndarray,
    max_leverage: np.ndarray,
    ticket_usd: np.ndarray | None = None,
    group_of_slot: np.ndarray | None = None,
) -> FlowOrders:
    """Step ``t``'s flow: the closes of open flow positions (:func:`exits`), then the arrivals
    (Poisson with :func:`intensity`) taking idle slots (:func:`pick_slots`) with leverage
    ``max_leverage[m] × U(min_share, max_share)``, size ``min(equity, ticket) × leverage /
    price`` (``ticket_usd``, per row, default no cap: the slot's collateral at setup, so that a
    winner does not compound its gains into ever larger orders), holding
    time exponential with the kind's mean (at least one step) and side by the kind (re-entry:
    the side it held last, a first entry long with ``long_share``).

    Per row (R,): ``kind`` (-1: not a flow slot), ``market``, ``size_base`` (0: flat),
    ``equity_usd`` (carried to this step's price), ``ready`` (the slot's cooldown is over),
    ``last_side`` (0: never opened), ``open_equity_usd``, ``exit_step``, ``can_close``.
    ``history_usd`` (T, M): prices up to this step; ``max_leverage`` (M,); ``group_of_slot``
    (R,): :func:`slot_groups` of the rows, when the caller keeps it."""
    # Compiled (:mod:`simulator.agents.flow_jit`): the numpy formulation of exits,
    # market_signals, intensity and pick_slots, float for float; the draws and the logarithms
    # stay numpy's. tests/agents/test_flow_jit.py holds it to that formulation.
    has_ticket = ticket_usd is not None
    ticket = ticket_usd if has_ticket else equity_usd  # not read without a ticket
    p = np.asarray(history_usd, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    window = p[max(0, len(p) - 1 - params.reference_steps) :]
    if window.min() > 0.0:  # np.log warns on a zero, negative or NaN price
        log_window = np.log(window)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_window = np.log(window)
    close_rows, reason, lam, side_km = before_draws(
        p, log_window, np.asarray(funding_rate_per_hour, dtype=np.float64),
        params.lookback_steps, kind, size_base, equity_usd, open_equity_usd, exit_step, t,
        can_close, ticket, has_ticket, params.take_profit_fraction, params.stop_loss_fraction,
        params.step_hours, params.volatility_sensitivity, params.momentum_sensitivity,
        params.rate_per_hour, params.min_return, params.dip_min_fall, params.short_min_fall,
        params.min_funding_rate_per_hour,
    )  # fmt: skip
    counts = rng.poisson(lam)
    draws = rng.random((DRAWS_PER_SLOT, len(kind)))
    if group_of_slot is None:
        group_of_slot = slot_groups(kind, market, lam.shape[1])
    rows, unfilled, leverage, side, size = after_draws(
        counts, draws[0], draws[1], draws[3], kind, market, group_of_slot, size_base, ready,
        equity_usd, params.min_equity_usd, ticket, has_ticket, last_side, side_km, p[-1],
        np.asarray(max_leverage, dtype=np.float64), params.leverage_min_share,
        params.leverage_max_share, params.reentry_long_share,
    )  # fmt: skip
    exit_at = exit_steps(np.log1p(-draws[2, rows]), rows, kind, params.hold_steps, t)
    return FlowOrders(
        open_rows=rows,
        side=side,
        leverage=leverage,
        size_base=size,
        exit_step=exit_at,
        close_rows=close_rows,
        close_reason=reason,
        arrivals=counts,
        unfilled=unfilled,
        intensity=lam,
    )


def slot_inputs_of(s, market_of_row: np.ndarray, run, t: int):
    """``simulator.engine.flow._slot_inputs`` (session 26): per slot at step ``t`` its equity
    carried to this step's oracle price, whether its margin unit is above maintenance, whether
    it may enter and the side it held last, by :func:`slot_inputs`."""
    tr = s.trader
    return slot_inputs(
        run.rows, run.unit_rows, run.own_units, run.unit_slot, run.slot_in_unit_rows,
        run.slot_unit, market_of_row, s.oracle_price_usd, tr.read_price_usd, tr.side,
        tr.size_base, tr.equity_usd, tr.maintenance_usd, s.outcome, s.outcome_step,
        run.cooldown_steps, s.opens, IDLE, t,
    )  # fmt: skip
