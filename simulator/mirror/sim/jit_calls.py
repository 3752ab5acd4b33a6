"""Fast mode's venue calls compiled (numba): a trade with its ``_checkAfterTrade``, a cross
liquidation and an isolated liquidation, each the math AND the state writes in one dispatch.

Each kernel is the plain-float code of :mod:`~simulator.mirror.sim.scalar` and of the mixins'
fast paths it replaces (``TradesMixin._trade_fast``, ``LiquidationsMixin._liquidate_fast`` /
``_liquidate_isolated_fast`` before session 25; their copies are the reference of
``tests/mirror/test_mirror_jit_calls.py``), term by term and in the same order, so that the
floats are the same to the bit (numba without ``fastmath`` neither fuses multiply-adds nor
reorders sums). A kernel checks first and writes only when the call succeeds: a revert is an
error code (:data:`ERRORS`) and the values its text needs in ``out``, the state untouched.

What stays in Python, called by the mixins around a kernel in the contract's order of effects:
the checks before a liquidation (``freshPrice`` of its markets, the circuit breaker) and those
before a trade where a guardian's pause or a breaker with a band in the market is wired (else
the trade kernel checks its market's price and margin mode itself), the naming of a stale
cross market in ``_open`` order, the funding of every market at now (cached per block and
state version), the account's
``_open`` order, the pool and the fund's balance (Python scalars; the kernels return the
amounts), a deficit's ``_absorbDeficit`` under each ADL policy, and the errors' text.

State is packed (:data:`PACKED`): the per-market floats one (F, M) array, ints one (I, M), the
positions' floats one (4, A, M) and ints one (2, A, M), the funding at now one (3, M); the
venue's attributes are views of their rows. A kernel takes them whole and gets its views from
:func:`_views` (the one place that indexes them: a leading lane axis, one path per lane, is
added there and to the scalar arguments). Markets' parameters are one (M, :data:`N_PARAMS`)
float array and their margin tiers one (M, 2, T, 3) array (:func:`pack_params`), rebuilt when
the venue's :class:`~simulator.mirror.sim.scalar.Params` change. Values are WAD floats (as
fast mode's). One module on purpose: numba's on-disk cache is invalidated by an edit of the
file of the function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.jit import inline_kernel as _inline
from simulator.jit import kernel as _jit
from simulator.mirror.sim import scalar

_WAD = 1e18
_BPS = 1e4
_UNIT = 1e12

# -- the markets' parameters (columns of the packed array) ------------------------------------
(P_OI_LOWER, P_OI_UPPER, P_SKEW_SCALE, P_TAKER_FEE_BPS, P_PENALTY_BPS, P_KEEPER_SHARE_BPS,
 P_PARTIAL_THRESHOLD, P_PARTIAL_SHARE_BPS, P_COOLDOWN, P_FULL_AFTER_COOLDOWN, P_CAP, P_BAND_BPS,
 P_INSURANCE_SHARE_BPS, P_MM_BASE, P_IM_BASE, P_MM_TIERS, P_IM_TIERS) = range(17)  # fmt: skip
N_PARAMS = 17
MM, IM = 0, 1
"""The tiers array's second index: the maintenance fraction's tiers, the initial's."""

# -- the fast-mode state, packed (:meth:`VenueState._pack`): each name a row of its array ------
MARKET_FLOATS = ("price", "long_oi", "short_oi", "max_long_oi", "max_short_oi", "long_index",
                 "short_index", "rate", "last_mark", "previous_mark", "fees", "penalties",
                 "rate_used")  # fmt: skip
"""(F, M) float64: per market, WAD."""
(F_PRICE, F_LONG_OI, F_SHORT_OI, F_MAX_LONG_OI, F_MAX_SHORT_OI, F_LONG_INDEX, F_SHORT_INDEX,
 F_RATE, F_LAST_MARK, F_PREVIOUS_MARK, F_FEES, F_PENALTIES, F_RATE_USED) = range(13)  # fmt: skip
MARKET_INTS = ("last_funding_time", "last_mark_block", "rate_block", "updated_at", "max_age_s")
"""(I, M) int64: per market, seconds and block numbers."""
I_LAST_FUNDING_TIME, I_LAST_MARK_BLOCK, I_RATE_BLOCK, I_UPDATED_AT, I_MAX_AGE = range(5)
POSITION_FLOATS = ("size", "entry", "snapshot", "margin")
"""(4, A, M) float64: per account and market, WAD."""
P_SIZE, P_ENTRY, P_SNAPSHOT, P_MARGIN = range(4)
POSITION_INTS = ("partial_at", "last_liquidation_block")
"""(2, A, M) int64: per account and market."""
Q_PARTIAL_AT, Q_LAST_LIQUIDATION_BLOCK = range(2)
PACKED = (("_market_floats", MARKET_FLOATS, np.float64), ("_market_ints", MARKET_INTS, np.int64),
          ("_position_floats", POSITION_FLOATS, np.float64),
          ("_position_ints", POSITION_INTS, np.int64))  # fmt: skip
"""The packed arrays' attribute names on the venue, their rows' names and dtype. The funding
at now is one (3, M) array too: long index, short index, rate (``fn``)."""

# -- the calls' outcomes -----------------------------------------------------------------------
OK = 0
INSUFFICIENT_BALANCE = 1
"""``out[0]``: the collateral available."""
INVALID_FILL_PRICE = 2
PRICE_LIMIT_EXCEEDED = 3
"""``out[0]``: the fill."""
OI_CAP_LONG = 4
"""``out[0]``: the open interest after the trade."""
OI_CAP_SHORT = 5
CLOSE_MARGIN = 6
"""A closed isolated position's margin below 0: ``out[0]`` the margin (required 0)."""
INSUFFICIENT_MARGIN = 7
"""``out[0]``, ``out[1]``: the equity and the margin required."""
STALE_CROSS = 8
"""A cross position of the account reads a stale price: the caller names which (``_open``
order) and, if none of them is, calls again without the check."""
NO_POSITION = 9
WRONG_MARGIN_MODE = 10
NOT_LIQUIDATABLE = 11
"""``out[0]``, ``out[1]``: the equity and the maintenance margin."""
NOTHING_LIQUIDATABLE_NOW = 12
STALE_PRICE = 13
"""The traded market's own oracle is stale (``freshPrice``): the caller raises its error."""
ERRORS = {INSUFFICIENT_BALANCE: "InsufficientBalance", INVALID_FILL_PRICE: "InvalidFillPrice",
          PRICE_LIMIT_EXCEEDED: "PriceLimitExceeded", OI_CAP_LONG: "OpenInterestCapExceeded",
          OI_CAP_SHORT: "OpenInterestCapExceeded", CLOSE_MARGIN: "InsufficientMargin",
          INSUFFICIENT_MARGIN: "InsufficientMargin", STALE_CROSS: "StalePrice",
          NO_POSITION: "NoPosition", WRONG_MARGIN_MODE: "WrongMarginMode",
          NOT_LIQUIDATABLE: "NotLiquidatable",
          NOTHING_LIQUIDATABLE_NOW: "NothingLiquidatableNow",
          STALE_PRICE: "StalePrice"}  # fmt: skip

# -- a trade's out values ----------------------------------------------------------------------
T_FILL, T_SIZE, T_ENTRY, T_REALIZED, T_FEE, T_FUNDING, T_FUND_ADD = range(7)
N_OUT = 8

# -- a cross liquidation's per-market rows (``rows``) and scalars (``out``) ---------------------
R_CLOSED, R_FILL, R_PENALTY, R_REALIZED, R_FULL, R_SHARE, R_PAID = range(7)
N_ROWS = 7
X_OWED, X_REALIZED, X_FUND, X_DEFICIT, X_PAID = range(5)
"""``out`` of a liquidation: the funding settled, the profit realized (the pool's terms), the
fund after the insurance shares, the deficit and what the fund pays of it (isolated: also
``out[5]`` the close, ``out[6]`` the fill, ``out[7]`` the penalty)."""


def pack_params(ps: list[scalar.Params], insurance_share_bps) -> tuple[np.ndarray, np.ndarray]:
    """The markets' :class:`~simulator.mirror.sim.scalar.Params` as the kernels read them:
    (M, :data:`N_PARAMS`) floats and (M, 2, T, 3) tiers (floor, rate, deduction after it; the
    maintenance fraction's, then the initial's)."""
    m = len(ps)
    width = max([1] + [len(p.mm_tiers[1]) for p in ps] + [len(p.im_tiers[1]) for p in ps])
    params = np.zeros((m, N_PARAMS), dtype=np.float64)
    tiers = np.zeros((m, 2, width, 3), dtype=np.float64)
    for i, p in enumerate(ps):
        params[i, :P_MM_BASE] = (
            p.oi_lower, p.oi_upper, p.skew_scale, p.taker_fee_bps, p.penalty_bps,
            p.keeper_share_bps, p.partial_threshold, p.partial_share_bps, p.cooldown,
            float(p.full_after_cooldown), p.cap, p.band_bps, float(insurance_share_bps[i]),
        )  # fmt: skip
        for k, (base, steps) in enumerate((p.mm_tiers, p.im_tiers)):
            params[i, P_MM_BASE + k] = base
            params[i, P_MM_TIERS + k] = len(steps)
            for t, step in enumerate(steps):
                tiers[i, k, t] = step
    return params, tiers


# -- the formulas (scalar.py's, one value at a time) -------------------------------------------


@_inline
def _tiered(n, tiers, m, k, base, count):
    rate, deduction = base, 0.0
    for t in range(count):
        if n < tiers[m, k, t, 0]:
            break
        rate, deduction = tiers[m, k, t, 1], tiers[m, k, t, 2]
    gross = n * rate / _WAD
    return gross - deduction if gross > deduction else 0.0


@_inline
def _maintenance(params, tiers, m, size, price):
    if size == 0:
        return 0.0
    return _tiered(abs(size) * price / _WAD, tiers, m, MM, params[m, P_MM_BASE],
                   int(params[m, P_MM_TIERS]))  # fmt: skip


@_inline
def _initial(params, tiers, m, size, price, long_oi, short_oi):
    if size == 0:
        return 0.0
    n = abs(size) * price / _WAD
    im = _tiered(n, tiers, m, IM, params[m, P_IM_BASE], int(params[m, P_IM_TIERS]))
    larger = short_oi if short_oi > long_oi else long_oi  # Python's max(long_oi, short_oi)
    open_n = larger * price / _WAD
    lower, upper = params[m, P_OI_LOWER], params[m, P_OI_UPPER]
    if upper == 0 or open_n <= lower or n <= im:
        return im
    if open_n >= upper:
        return n
    t = (open_n - lower) * _WAD / (upper - lower)
    return im + (n - im) * t / _WAD


@_jit
def _upnl(size, entry, price):
    if size == 0:
        return 0.0
    move = price - entry
    return (move if size > 0 else -move) * abs(size) / _WAD


@_jit
def _owed(size, snapshot, long_index, short_index):
    if size == 0:
        return 0.0
    return ((long_index if size > 0 else short_index) - snapshot) * abs(size) / _WAD


@_jit
def _apply_fill(size, entry, delta, fill):
    new = size + delta
    if size == 0 or (size > 0) == (delta > 0):
        a, b = abs(size), abs(delta)
        return new, (fill if size == 0 else (entry * a + fill * b) / (a + b)), 0.0
    closing = abs(size) if abs(size) < abs(delta) else abs(delta)  # min(|delta|, |size|)
    move = fill - entry
    realized = (move if size > 0 else -move) * closing / _WAD
    if new == 0:
        return new, 0.0, realized
    return new, (entry if (new > 0) == (size > 0) else fill), realized


@_jit
def _fill_price(skew_scale, price, skew, delta):
    if skew_scale == 0:
        return price
    f = price + (2 * skew + delta) * price / (2 * skew_scale)
    return f if f > 0 else 0.0


@_jit
def _liquidation_fill(params, m, price, skew, delta):
    f = _fill_price(params[m, P_SKEW_SCALE], price, skew, delta)
    band = params[m, P_BAND_BPS]
    lo = price * (_BPS - (_BPS if _BPS < band else band)) / _BPS
    hi = price * (_BPS + band) / _BPS
    f = lo if f < lo else f
    f = hi if f > hi else f
    return 1.0 if f == 0 else f


@_jit
def _close_size(params, m, size, price, partial_at, now, this_block, used):
    abs_size = abs(size)
    whole = abs_size * price / _WAD <= params[m, P_PARTIAL_THRESHOLD]
    cooldown = params[m, P_COOLDOWN]
    marked = partial_at != 0 and now < partial_at + 2 * cooldown
    cooling = marked and now < partial_at + cooldown
    goes_whole = marked and not cooling and params[m, P_FULL_AFTER_COOLDOWN] != 0
    part = abs_size * params[m, P_PARTIAL_SHARE_BPS] / _BPS
    part = part if part < abs_size else abs_size
    if whole or goes_whole:
        close = abs_size
    else:
        close = 0.0 if (cooling or this_block) else part
    cap = params[m, P_CAP]
    if cap != 0:
        room = cap - used if used < cap else 0.0
        if close * price / _WAD > room:
            close = room * _WAD / price if price != 0 else 0.0
    return close


@_jit
def _below(have, need):
    """``VenueState._below`` in fast mode: short by more than a unit or 1e-12 of ``need``."""
    slack = 1e-12 * abs(need)
    return have < need - (_UNIT if _UNIT > slack else slack)


@_jit
def _units_up(wad):
    return np.ceil(wad / _UNIT) * _UNIT


@_jit
def _whole_units(wad):
    return np.floor(wad / _UNIT) * _UNIT


# -- the state -------------------------------------------------------------------------------


@_jit
def _views(mf, mi, pf, pi, fn):
    """Every state array a call reads or writes, as views of the packed arrays (the one place
    that indexes them: a lane axis would be added here)."""
    return (mf[F_PRICE], mf[F_LONG_OI], mf[F_SHORT_OI], mf[F_MAX_LONG_OI], mf[F_MAX_SHORT_OI],
            mf[F_LONG_INDEX], mf[F_SHORT_INDEX], mf[F_RATE], mf[F_LAST_MARK],
            mf[F_PREVIOUS_MARK], mf[F_FEES], mf[F_PENALTIES], mf[F_RATE_USED],
            mi[I_LAST_FUNDING_TIME], mi[I_LAST_MARK_BLOCK], mi[I_RATE_BLOCK], mi[I_UPDATED_AT],
            mi[I_MAX_AGE], pf[P_SIZE], pf[P_ENTRY], pf[P_SNAPSHOT], pf[P_MARGIN],
            pi[Q_PARTIAL_AT], pi[Q_LAST_LIQUIDATION_BLOCK], fn[0], fn[1], fn[2])  # fmt: skip


# -- state writes ------------------------------------------------------------------------------


@_inline
def _accrue_one(m, now, block, mf, mi, fn):
    """``VenueState._accrue_one``: market ``m``'s funding stored at now (``fn``), its marks
    tracked; the packed arrays read and written at their indices (no views made)."""
    if mi[I_LAST_FUNDING_TIME, m] != now:
        mf[F_LONG_INDEX, m] = fn[0, m]
        mf[F_SHORT_INDEX, m] = fn[1, m]
        mf[F_RATE, m] = fn[2, m]
        mi[I_LAST_FUNDING_TIME, m] = now
    if mi[I_LAST_MARK_BLOCK, m] != block:
        mf[F_PREVIOUS_MARK, m] = mf[F_LAST_MARK, m]
        mi[I_LAST_MARK_BLOCK, m] = block
    mf[F_LAST_MARK, m] = mf[F_PRICE, m]


@_jit
def _move_oi(m, old, new, long_oi, short_oi):
    """``VenueState._move_oi`` in fast mode (the account's ``_open`` order is the caller's)."""
    long_before, short_before = long_oi[m], short_oi[m]
    if old > 0:
        long_oi[m] = long_oi[m] - old
    else:
        short_oi[m] = short_oi[m] + old
    if new > 0:
        long_oi[m] = long_oi[m] + new
    else:
        short_oi[m] = short_oi[m] - new
    if abs(long_oi[m]) <= 1e-12 * abs(long_before):
        long_oi[m] = 0.0
    if abs(short_oi[m]) <= 1e-12 * abs(short_before):
        short_oi[m] = 0.0


@_jit
def _use_rate(m, closed, block, price, rate_used, rate_block, cap):
    """``rateLimited``'s bookkeeping of ``closed`` in market ``m`` (``cap`` 0: none)."""
    if cap == 0:
        return
    used = rate_used[m] if rate_block[m] == block else 0.0
    rate_used[m] = used + abs(closed) * price[m] / _WAD
    rate_block[m] = block


# -- the calls ---------------------------------------------------------------------------------


@_inline
def _trade(
    a, m, delta, isolated, margin_delta, acceptable, checks, adds_risk, check_stale, now,
    block, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, out,
):  # fmt: skip
    """``_trade`` of ``delta`` by account ``a`` in market ``m``: with ``checks`` first its
    checks before the accounting (``freshPrice`` of ``m``: :data:`STALE_PRICE`; the margin
    mode: :data:`WRONG_MARGIN_MODE`; whether it adds risk), for a venue without a guardian's
    pause or a circuit breaker; else those were the caller's (``TradesMixin._trade_checks``:
    ``adds_risk``). Then the accounting, then ``_checkAfterTrade`` on the
    values after it, then (when neither reverts) market ``m``'s accrual, its open interest and
    fees and the account's row written. Returns :data:`OK` with the fill, new size, entry,
    realized profit, fee, funding settled and the fund's whole-unit share of the fee in
    ``out`` (:data:`T_FILL` ...), or an error code (nothing written). ``check_stale``: check
    the account's other cross positions' prices (:data:`STALE_CROSS`). The state: the packed
    arrays (:data:`PACKED`), the cross collateral, the funding at now ``fn``.

    Inlined into every kernel that calls it (:func:`trade`, the batches, :func:`_flow_trade`):
    the state's views taken here rather than from :func:`_views`, whose tuple of 27 views
    costs their reference counts (~0.4 us a trade); in the inlined body the unused ones
    compile away."""
    size0, entry0 = pf[P_SIZE, a, m], pf[P_ENTRY, a, m]
    if checks:
        if now - mi[I_UPDATED_AT, m] > mi[I_MAX_AGE, m]:
            return STALE_PRICE
        if size0 != 0 and isolated_flag[a, m] != isolated:
            return WRONG_MARGIN_MODE
        new_size = size0 + delta
        adds_risk = abs(new_size) > abs(size0) or (new_size != 0 and (new_size > 0) != (size0 > 0))
    li, si = fn[0, m], fn[1, m]
    paid = _owed(size0, pf[P_SNAPSHOT, a, m], li, si)
    col, mar = collateral[a], pf[P_MARGIN, a, m]
    if isolated:
        mar -= paid
    else:
        col -= paid
    if margin_delta > 0:
        if _below(col, margin_delta):
            out[0] = col
            return INSUFFICIENT_BALANCE
        col, mar = col - margin_delta, mar + margin_delta
    long_before, short_before = mf[F_LONG_OI, m], mf[F_SHORT_OI, m]
    px = mf[F_PRICE, m]
    fill = _fill_price(params[m, P_SKEW_SCALE], px, long_before - short_before, delta)
    if fill == 0:
        return INVALID_FILL_PRICE
    if acceptable != 0 and (fill > acceptable if delta > 0 else fill < acceptable):
        out[0] = fill
        return PRICE_LIMIT_EXCEEDED
    size1, entry1, realized = _apply_fill(size0, entry0, delta, fill)
    if isolated:
        mar += realized
    else:
        col += realized
    lo = long_before - size0 if size0 > 0 else long_before
    so = short_before + size0 if size0 <= 0 else short_before
    lo = lo + size1 if size1 > 0 else lo
    so = so - size1 if size1 <= 0 else so
    if lo > long_before and lo > mf[F_MAX_LONG_OI, m]:
        out[0] = lo
        return OI_CAP_LONG
    if so > short_before and so > mf[F_MAX_SHORT_OI, m]:
        out[0] = so
        return OI_CAP_SHORT
    fee = (abs(delta) * fill / _WAD) * params[m, P_TAKER_FEE_BPS] / _BPS
    if isolated:
        mar -= fee
    else:
        col -= fee
    pat = pi[Q_PARTIAL_AT, a, m]
    if size1 == 0:
        pat = 0
        if isolated:
            if _below(mar, 0.0):
                out[0] = mar
                return CLOSE_MARGIN
            col, mar = col + mar, 0.0
    lo = 0.0 if abs(lo) <= 1e-12 * abs(long_before) else lo
    so = 0.0 if abs(so) <= 1e-12 * abs(short_before) else so
    snap = li if size1 >= 0 else si
    # _checkAfterTrade on the values after the trade, none stored yet
    if isolated and size1 != 0:
        eq = mar + (_upnl(size1, entry1, px) - _owed(size1, snap, li, si))
        need = 0.0
        if adds_risk or margin_delta < 0:
            need = _initial(params, tiers, m, size1, px, lo, so)
        if _below(eq, need):
            out[0], out[1] = eq, need
            return INSUFFICIENT_MARGIN
        if pat != 0 and not eq < _maintenance(params, tiers, m, size1, px):
            pat = 0
    n = mf.shape[1]
    if check_stale:  # fresh_cross: the account's other cross positions (m's price is fresh)
        for j in range(n):
            if j != m and pf[P_SIZE, a, j] != 0 and not isolated_flag[a, j]:
                if now - mi[I_UPDATED_AT, j] > mi[I_MAX_AGE, j]:
                    out[0] = j
                    return STALE_CROSS
    need_initial = (not isolated and adds_risk) or (isolated and margin_delta > 0)
    check = not isolated or margin_delta > 0
    mark = not isolated and size1 != 0 and pat != 0
    if check or mark:
        ceq, cmm, cim = col, 0.0, 0.0
        for j in range(n):
            if j == m:
                sj, ej, nj, ij, loj, soj = size1, entry1, snap, isolated, lo, so
            else:
                sj, ej, nj = pf[P_SIZE, a, j], pf[P_ENTRY, a, j], pf[P_SNAPSHOT, a, j]
                ij, loj, soj = isolated_flag[a, j], mf[F_LONG_OI, j], mf[F_SHORT_OI, j]
            if sj == 0 or ij:
                continue
            pj = mf[F_PRICE, j]
            ceq += _upnl(sj, ej, pj) - _owed(sj, nj, fn[0, j], fn[1, j])
            if mark:
                cmm += _maintenance(params, tiers, j, sj, pj)
            if need_initial:
                cim += _initial(params, tiers, j, sj, pj, loj, soj)
        required = cim if need_initial else 0.0
        if check and _below(ceq, required):
            out[0], out[1] = ceq, required
            return INSUFFICIENT_MARGIN
        if mark and not ceq < cmm:
            pat = 0
    # the trade's effects
    _accrue_one(m, now, block, mf, mi, fn)  # fmt: skip
    pf[P_SIZE, a, m], pf[P_ENTRY, a, m], pf[P_SNAPSHOT, a, m] = size1, entry1, snap
    pf[P_MARGIN, a, m], isolated_flag[a, m] = mar, isolated
    pi[Q_PARTIAL_AT, a, m] = pat
    collateral[a] = col
    mf[F_LONG_OI, m], mf[F_SHORT_OI, m] = lo, so
    fund_add = 0.0
    if fee != 0:
        mf[F_FEES, m] = mf[F_FEES, m] + fee
        fund_add = _whole_units(fee * params[m, P_INSURANCE_SHARE_BPS] / _BPS)
    out[T_FILL], out[T_SIZE], out[T_ENTRY], out[T_REALIZED] = fill, size1, entry1, realized
    out[T_FEE], out[T_FUNDING], out[T_FUND_ADD] = fee, paid, fund_add
    return OK


@_jit
def trade(
    a, m, delta, isolated, margin_delta, acceptable, checks, adds_risk, check_stale, now,
    block, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, out,
):  # fmt: skip
    """:func:`_trade` called from Python (a kernel of its own)."""
    return _trade(a, m, delta, isolated, margin_delta, acceptable, checks, adds_risk, check_stale,
                  now, block, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn,
                  out)  # fmt: skip


@_jit
def liquidate_isolated(
    a, m, now, block, fund, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, out
):  # fmt: skip
    """``liquidateIsolated(account, market)`` after its price and breaker checks: returns
    :data:`OK` with ``out`` (:data:`X_OWED` ...: funding settled, profit realized, the fund
    after the insurance share, the deficit, the fund's cover; then the close, fill and
    penalty) and market ``m``'s and the position's state written, or an error code."""
    (price, long_oi, short_oi, max_long_oi, max_short_oi, long_index, short_index, rate,
     last_mark, previous_mark, fees, penalties, rate_used, last_funding_time, last_mark_block,
     rate_block, updated_at, max_age_s, size, entry, snapshot, margin, partial_at,
     last_liquidation_block, li_now, si_now, rate_now) = _views(mf, mi, pf, pi, fn)  # fmt: skip
    sz, en = size[a, m], entry[a, m]
    if sz == 0:
        return NO_POSITION
    if not isolated_flag[a, m]:
        return WRONG_MARGIN_MODE
    px = price[m]
    li, si = li_now[m], si_now[m]
    owed = _owed(sz, snapshot[a, m], li, si)
    mar = margin[a, m] - owed
    eq = mar + _upnl(sz, en, px)
    mm = _maintenance(params, tiers, m, sz, px)
    out[0], out[1] = eq, mm
    if not eq < mm:
        return NOT_LIQUIDATABLE
    used = rate_used[m] if rate_block[m] == block else 0.0
    close = _close_size(params, m, sz, px, float(partial_at[a, m]), float(now),
                        last_liquidation_block[a, m] == block, used)  # fmt: skip
    if not close > 0:
        return NOTHING_LIQUIDATABLE_NOW
    delta = -close if sz > 0 else close
    fill = _liquidation_fill(params, m, px, long_oi[m] - short_oi[m], delta)
    new, entry1, realized = _apply_fill(sz, en, delta, fill)
    mar += realized
    penalty = (close * fill / _WAD) * params[m, P_PENALTY_BPS] / _BPS
    left = mar + _upnl(new, entry1, px)
    penalty = 0.0 if left <= 0 else (left if penalty > left else penalty)
    mar -= penalty
    insurance = penalty - penalty * params[m, P_KEEPER_SHARE_BPS] / _BPS
    released = mar if new == 0 and mar >= 0 else 0.0
    deficit = -mar if new == 0 and mar < -_UNIT else 0.0
    mar = 0.0 if new == 0 else mar
    up = _units_up(deficit)
    paid = fund if fund < up else up  # min(units_up(deficit), fund)
    full = close == abs(sz)
    _accrue_one(m, now, block, mf, mi, fn)  # fmt: skip
    _move_oi(m, sz, new, long_oi, short_oi)
    _use_rate(m, close, block, price, rate_used, rate_block, params[m, P_CAP])
    penalties[m] = penalties[m] + penalty
    size[a, m], entry[a, m] = new, entry1
    snapshot[a, m] = li if new >= 0 else si
    margin[a, m] = mar
    collateral[a] = collateral[a] + released
    partial_at[a, m] = 0 if full else now
    last_liquidation_block[a, m] = block
    if new == 0:
        isolated_flag[a, m] = False
    out[X_OWED], out[X_REALIZED] = owed, realized
    out[X_FUND] = fund + _whole_units(insurance)
    out[X_DEFICIT], out[X_PAID] = deficit, paid
    out[5], out[6], out[7] = close, fill, penalty
    return OK


@_jit
def liquidate_cross(
    a, now, block, fund, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, order,
    rows, out,
):  # fmt: skip
    """``liquidate(account)`` of account ``a``'s cross positions after their price and breaker
    checks (:func:`simulator.mirror.sim.scalar.liquidate_cross` and its writes): returns
    :data:`OK` with the markets closed in ``order`` (``order[0]`` their count, then the
    markets), their rows in ``rows`` (:data:`R_CLOSED` ...: close, fill, penalty, realized,
    full, deficit share, the fund's share of its cover) and ``out`` (:data:`X_OWED` ...), the
    markets' and the account's state written; or an error code (``out[0]``, ``out[1]``: the
    equity and maintenance before)."""
    (price, long_oi, short_oi, max_long_oi, max_short_oi, long_index, short_index, rate,
     last_mark, previous_mark, fees, penalties, rate_used, last_funding_time, last_mark_block,
     rate_block, updated_at, max_age_s, size, entry, snapshot, margin, partial_at,
     last_liquidation_block, li_now, si_now, rate_now) = _views(mf, mi, pf, pi, fn)  # fmt: skip
    n = price.shape[0]
    js = np.empty(n, dtype=np.int64)
    k = 0
    for j in range(n):
        if size[a, j] != 0 and not isolated_flag[a, j]:
            js[k] = j
            k += 1
    if k == 0:
        return NO_POSITION
    owed_sum = 0.0
    for i in range(k):
        j = js[i]
        owed_sum += _owed(size[a, j], snapshot[a, j], li_now[j], si_now[j])
    col = collateral[a] - owed_sum
    mm = np.zeros(n)
    for i in range(k):
        j = js[i]
        mm[j] = _maintenance(params, tiers, j, size[a, j], price[j])
    upnl_sum = 0.0
    for i in range(k):
        j = js[i]
        upnl_sum += _upnl(size[a, j], entry[a, j], price[j])
    eq = col + upnl_sum
    mmt = 0.0
    for i in range(k):
        mmt += mm[js[i]]
    out[0], out[1] = eq, mmt
    if not eq < mmt:
        return NOT_LIQUIDATABLE
    # the positions by maintenance, largest first (ties: market order); a stable sort
    ranked = js[:k].copy()
    for i in range(1, k):
        j = ranked[i]
        t = i - 1
        while t >= 0 and mm[ranked[t]] < mm[j]:
            ranked[t + 1] = ranked[t]
            t -= 1
        ranked[t + 1] = j
    new_size = np.empty(n)
    new_entry = np.empty(n)
    for j in range(n):
        new_size[j], new_entry[j] = size[a, j], entry[a, j]
    closed_n = 0
    rcol = col
    for i in range(k):
        if not eq < mmt:
            break
        j = ranked[i]
        s, e, px = new_size[j], new_entry[j], price[j]
        used = rate_used[j] if rate_block[j] == block else 0.0
        close = _close_size(params, j, s, px, float(partial_at[a, j]), float(now),
                            last_liquidation_block[a, j] == block, used)  # fmt: skip
        if not close > 0:
            continue
        old_pnl = _upnl(s, e, px)
        delta = -close if s > 0 else close
        fill = _liquidation_fill(params, j, px, long_oi[j] - short_oi[j], delta)
        ns, ne, realized = _apply_fill(s, e, delta, fill)
        penalty = (close * fill / _WAD) * params[j, P_PENALTY_BPS] / _BPS
        rest = _upnl(ns, ne, px)
        left = eq - old_pnl + realized + rest
        penalty = 0.0 if left <= 0 else (left if penalty > left else penalty)
        keeper = penalty * params[j, P_KEEPER_SHARE_BPS] / _BPS
        new_mm = _maintenance(params, tiers, j, ns, px)
        rcol += realized - penalty
        eq = eq - old_pnl + realized + rest - penalty
        mmt = mmt - mm[j] + new_mm
        mm[j] = new_mm
        new_size[j], new_entry[j] = ns, ne
        closed_n += 1
        order[closed_n] = j
        rows[R_CLOSED, j], rows[R_FILL, j], rows[R_PENALTY, j] = close, fill, penalty
        rows[R_REALIZED, j] = realized
        rows[R_FULL, j] = 1.0 if close == abs(s) else 0.0
        rows[R_SHARE, j] = penalty - keeper  # the insurance share until the deficit's below
    order[0] = closed_n
    if closed_n == 0:
        return NOTHING_LIQUIDATABLE_NOW
    fund_after = fund
    for i in range(1, closed_n + 1):
        fund_after = fund_after + _whole_units(rows[R_SHARE, order[i]])
    deficit, paid = 0.0, 0.0
    emptied = True
    for i in range(k):
        if new_size[js[i]] != 0:
            emptied = False
    if emptied and rcol < -_UNIT:
        deficit = -rcol
        rcol = 0.0
        up = _units_up(deficit)
        paid = fund if fund < up else up
        total = 0.0
        for i in range(1, closed_n + 1):
            r = rows[R_REALIZED, order[i]]
            total += -r if r < 0 else 0.0
        sum_d, sum_q = 0.0, 0.0
        for i in range(1, closed_n + 1):
            j = order[i]
            r = rows[R_REALIZED, j]
            loss = -r if r < 0 else 0.0
            d = deficit * loss / total if total != 0 else 0.0
            q = paid * loss / total if total != 0 else 0.0
            rows[R_SHARE, j], rows[R_PAID, j] = d, q
            sum_d += d
            sum_q += q
        first = order[1]
        rows[R_SHARE, first] = rows[R_SHARE, first] + deficit - sum_d
        rows[R_PAID, first] = rows[R_PAID, first] + paid - sum_q
    else:
        for i in range(1, closed_n + 1):
            rows[R_SHARE, order[i]], rows[R_PAID, order[i]] = 0.0, 0.0
    # the call's effects
    realized_sum = 0.0
    for i in range(1, closed_n + 1):
        realized_sum += rows[R_REALIZED, order[i]]
    for i in range(k):
        _accrue_one(js[i], now, block, mf, mi, fn)  # fmt: skip
    for i in range(1, closed_n + 1):
        j = order[i]
        _move_oi(j, size[a, j], new_size[j], long_oi, short_oi)
        _use_rate(j, rows[R_CLOSED, j], block, price, rate_used, rate_block, params[j, P_CAP])
        penalties[j] = penalties[j] + rows[R_PENALTY, j]
        partial_at[a, j] = 0 if rows[R_FULL, j] != 0 else now
        last_liquidation_block[a, j] = block
    for i in range(k):
        j = js[i]
        snapshot[a, j] = li_now[j] if size[a, j] >= 0 else si_now[j]
        size[a, j], entry[a, j] = new_size[j], new_entry[j]
    collateral[a] = rcol
    out[X_OWED], out[X_REALIZED], out[X_FUND] = owed_sum, realized_sum, fund_after
    out[X_DEFICIT], out[X_PAID] = deficit, paid
    return OK


T_SIZE0 = 7
"""A batched trade's ``out[7]``: the position before it (a single trade leaves it unset)."""


@_jit
def close_batch(start, accounts, markets, python_checks, check_stale, now, block, params, tiers,
                mf, mi, pf, pi, isolated_flag, collateral, fn, outs):  # fmt: skip
    """``closePosition(market)`` of each account ``accounts[i]`` in ``markets[i]``, in order
    from call ``start``: each :func:`trade` of the whole position in its margin mode, its
    results in ``outs[i]`` (:data:`T_FILL` ..., :data:`T_SIZE0`). Returns the index of the
    first call not made, the caller's to make (then to resume after it): its position is
    flat (``NoPosition``), its market's checks are Python's (``python_checks[m]``: a pause
    or a breaker with a band wired), or it reverts (nothing written; the caller's single
    call raises its error). The funding at now ``fn`` holds through the batch: a trade
    accrues its market to now with these values and moves no other market's."""
    size = pf[P_SIZE]
    for i in range(start, accounts.shape[0]):
        a, m = accounts[i], markets[i]
        s = size[a, m]
        if s == 0 or python_checks[m]:
            return i
        out = outs[i]
        code = trade(a, m, -s, isolated_flag[a, m], 0.0, 0.0, True, False, check_stale, now,
                     block, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, out)  # fmt: skip
        if code != OK:
            return i
        out[T_SIZE0] = s
    return accounts.shape[0]


# -- a block's planned trades (the order flow's, the market-making vault's) -------------------
C_ACCOUNT, C_MARKET, C_KIND = range(3)
"""Columns of :func:`trade_batch`'s ``calls`` (int64): the account, the market, the kind."""
K_TRADE, K_CLOSE, K_PYTHON = range(3)
"""A call's kind: ``trade(market, sizeDelta, acceptablePrice)``, ``closePosition(market,
acceptablePrice)``, or a call the batch does not make (the caller's, in Python)."""
V_DELTA, V_ACCEPTABLE = range(2)
"""Columns of :func:`trade_batch`'s ``values`` (float64, WAD): a trade's size delta, the
call's price bound (0 = none)."""
T_ISOLATED, T_DELTA = 8, 9
"""A batched trade's ``out[8]``: its margin mode (1.0 isolated), ``out[9]``: its size delta
(a close's: the position before it, negated)."""
N_BATCH_OUT = 10


@_inline
def trade_batch(start, calls, values, python_checks, now, block, params, tiers, mf, mi, pf, pi,
                isolated_flag, collateral, fn, outs):  # fmt: skip
    """The planned venue calls ``calls[i]`` (:data:`C_ACCOUNT`, :data:`C_MARKET`,
    :data:`C_KIND`; ``values[i]``: :data:`V_DELTA`, :data:`V_ACCEPTABLE`) in order from call
    ``start``, each as ``PlannedCalls``' call made alone makes it: a ``trade`` a cross
    :func:`trade` of its delta, a ``closePosition`` a :func:`trade` of the whole position in
    its margin mode, each with its price bound; the results in ``outs[i]`` (:data:`T_FILL`
    ..., :data:`T_SIZE0`, :data:`T_ISOLATED`, :data:`T_DELTA`). Returns the index of the first
    call not made, the caller's to make (then to resume after it): a call of kind
    :data:`K_PYTHON`, a trade of 0 (``ZeroAmount``), a close of a flat position
    (``NoPosition``), a call in a market whose checks are Python's (``python_checks[m]``: a
    pause or a breaker with a band wired), or one that reverts or reads a stale price
    (nothing written; the caller's single call raises its error). The funding at now ``fn``
    holds through the batch (see :func:`close_batch`)."""
    size = pf[P_SIZE]
    for i in range(start, calls.shape[0]):
        a, m, kind = calls[i, C_ACCOUNT], calls[i, C_MARKET], calls[i, C_KIND]
        if kind == K_PYTHON or python_checks[m]:
            return i
        s = size[a, m]
        if kind == K_CLOSE:
            if s == 0:
                return i
            delta, isolated = -s, isolated_flag[a, m]
        else:
            delta, isolated = values[i, V_DELTA], False
            if delta == 0:
                return i
        out = outs[i]
        code = _trade(a, m, delta, isolated, 0.0, values[i, V_ACCEPTABLE], True, False,
                            True, now, block, params, tiers, mf, mi, pf, pi, isolated_flag,
                            collateral, fn, out)  # fmt: skip
        if code != OK:
            return i
        out[T_SIZE0], out[T_ISOLATED], out[T_DELTA] = s, 1.0 if isolated else 0.0, delta
    return calls.shape[0]


@_jit
def trade_batch_moves(start, calls, values, python_checks, now, block, params, tiers, mf, mi,
                      pf, pi, isolated_flag, collateral, fn, outs, moves, acc):  # fmt: skip
    """:func:`trade_batch` from call ``start`` on, then for each call made (``k`` from
    ``start`` to the returned index) what the caller follows as :func:`flow_step` gives it:
    ``moves[k]`` (:data:`M_ACCOUNT`, :data:`M_MARKET`, :data:`M_OPENED`: whether the call
    opened its position, 1, closed it, -1, or neither, 0) and the pool and the fund
    (``acc[0]``, ``acc[1]``, WAD) moved in call order as after
    :meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade` (``pool + funding -
    realized``; ``fund + its share`` of a fee not 0). Returns :func:`trade_batch`'s."""
    stop = trade_batch(start, calls, values, python_checks, now, block, params, tiers, mf, mi,
                       pf, pi, isolated_flag, collateral, fn, outs)  # fmt: skip
    for k in range(start, stop):
        out = outs[k]
        size0, size1 = out[T_SIZE0], out[T_SIZE]
        moves[k, M_ACCOUNT], moves[k, M_MARKET] = calls[k, C_ACCOUNT], calls[k, C_MARKET]
        moves[k, M_OPENED] = 1 if (size0 == 0 and size1 != 0) else (
            -1 if (size0 != 0 and size1 == 0) else 0)  # fmt: skip
        acc[0] = acc[0] + out[T_FUNDING] - out[T_REALIZED]
        if out[T_FEE] != 0:
            acc[1] = acc[1] + out[T_FUND_ADD]
    return stop


@_inline
def _cross_sums(a, params, tiers, price, pf, isolated_flag, li, si, lo, so, with_initial):
    """Account ``a``'s cross terms summed in market order from 0.0 (WAD): uPnL less funding
    owed, maintenance, and the initial margin when ``with_initial`` (else 0.0): the one body of
    :func:`cross_health` and :func:`vault_health_reads`."""
    size, entry, snapshot = pf[P_SIZE], pf[P_ENTRY], pf[P_SNAPSHOT]
    value, maint, init = 0.0, 0.0, 0.0
    for j in range(price.shape[0]):
        s = size[a, j]
        v, x, y = 0.0, 0.0, 0.0
        if s != 0 and not isolated_flag[a, j]:
            pj = price[j]
            v = _upnl(s, entry[a, j], pj) - _owed(s, snapshot[a, j], li[j], si[j])
            x = _maintenance(params, tiers, j, s, pj)
            if with_initial:
                y = _initial(params, tiers, j, s, pj, lo[j], so[j])
        value += v
        maint += x
        init += y
    return value, maint, init


@_jit
def vault_health_reads(a, params, tiers, mf, pf, isolated_flag, collateral, fn, lo, so, reads):
    """The market-making vault's reads after a block in one call: :func:`cross_health` of
    account ``a`` with the initial margin into ``reads[0:3]`` (WAD: equity, maintenance,
    initial; ``fn``: the funding at now, (3, M), its long and short indices read; the prices
    the packed market floats' row ``mf[F_PRICE]``), its sizes (base units) into
    ``reads[3:3 + M]`` (``size / 1e18``), and the three health floats ``/ 1e18`` (USD)
    returned: what :func:`simulator.mirror.sim.mm_vault.with_levels` read with
    ``cross_health`` then ``simulator.engine.mm_vault_jit.vault_reads``, to the bit.

    :func:`cross_health`'s sums for one account (:func:`_cross_sums`, inlined: a call of
    :func:`cross_health` and its views' reference counts cost ~0.5 us), the run's two arrays
    as one ``reads``; ``tests/mirror/test_mirror_vault_reads.py`` holds it to the form with
    :func:`cross_health`."""
    price = mf[F_PRICE]
    n = price.shape[0]
    value, maint, init = _cross_sums(a, params, tiers, price, pf, isolated_flag, fn[0], fn[1], lo,
                                     so, True)  # fmt: skip
    eq = collateral[a] + value
    reads[0], reads[1], reads[2] = eq, maint, init
    for m in range(n):
        reads[3 + m] = pf[P_SIZE, a, m] / 1e18
    return eq / 1e18, maint / 1e18, init / 1e18


# -- the order flow's block (its closes, then its opens, by slot) ------------------------------
S_ACCOUNT, S_MARKET = range(2)
"""Columns of :func:`flow_step`'s ``slot_tab`` (int64, one row per flow slot): the venue's
account index of the slot's account (-1: not the venue's, a call the caller makes), its
market."""
M_ACCOUNT, M_MARKET, M_OPENED = range(3)
"""Columns of :func:`flow_step`'s ``moves`` (int64, per call made): the account, the market,
and whether the call opened its position (1), closed it (-1) or neither (0): what the
account's ``_open`` order follows."""
WAD_SIZE_MAX = 8192.0
""":func:`wad_of_size` is exact below this magnitude (``2**13``): there a float's neighbours are
less than 1e-12 apart, so at most one multiple of 1e-12 rounds to it."""


@_jit
def wad_of_size(size):
    """``float(to_wad(round(size, 12)))`` (:func:`simulator.units.to_wad`: the shortest decimal
    of the rounded float, in WAD, truncated) for ``|size| < 2**13`` (:data:`WAD_SIZE_MAX`);
    NaN elsewhere and for NaN (the caller converts those in Python).

    ``round(size, 12)`` is the float nearest ``k * 1e-12``, ``k`` the integer nearest the
    exact ``size * 1e12`` (ties to even). Below ``2**13`` the float's rounding interval is
    narrower than 1e-12, so ``k * 1e-12`` is the only multiple of 1e-12 in it, and it prints
    in at most 16 significant digits: it is the shortest decimal ``repr`` prints, and
    ``to_wad`` gives ``k * 10**6`` exactly, whose float is ``k * 1e6`` (``k`` a whole float
    below ``2**53``, one correctly rounded product). ``k``: ``y = |size| * 1e12`` is ``y + e``
    exactly (Dekker's two-product, both factors split); ``y - floor(y)`` is exact, and the
    exact product lies on the same side of a half-integer as ``y`` unless ``y`` is one, where
    ``e`` decides (above, below, or a tie to even). Below 1e-13 the rounded value is 0. The
    sign is applied after (``round`` and ``to_wad`` are odd), and 0 is +0.0 as
    ``float(0)``."""
    a = abs(size)
    if not a < WAD_SIZE_MAX:
        return np.nan
    if a < 1e-13:
        return 0.0
    y = a * 1e12
    c = 134217729.0 * a  # Veltkamp's split (2**27 + 1) of a and of 1e12
    a_high = c - (c - a)
    a_low = a - a_high
    c = 134217729.0 * 1e12
    t_high = c - (c - 1e12)
    t_low = 1e12 - t_high
    e = a_low * t_low - (((y - a_high * t_high) - a_low * t_high) - a_high * t_low)
    whole = np.floor(y)
    fraction = y - whole
    if fraction > 0.5 or (fraction == 0.5 and (e > 0.0 or (e == 0.0 and whole % 2.0 == 1.0))):
        whole += 1.0
    wad = whole * 1e6
    return 0.0 - wad if size < 0.0 else wad  # 0.0 - 0.0: +0.0


_POW5 = np.array([5**k for k in range(27)], dtype=np.int64)
"""``5**k`` for k < 27 (all below ``2**63``)."""
_LOW31 = (1 << 31) - 1


@_jit
def wad_of_repr(size):
    """``float(repr(size) + "e18")`` (what :func:`simulator.mirror.sim.flow.wad_delta` gives
    for ``|size| >= 2**13``: ``to_wad(round(size, 12))`` there) for ``2**13 <= |size| <
    1e16`` (where ``repr`` is positional); NaN elsewhere and for NaN (the caller's Python).

    An integral ``size`` prints as itself: its product with 1e18 (both exact), correctly
    rounded. Else ``|size| = M / 2**s`` (``M`` its 53-bit mantissa, ``1 <= s <= 39``), and
    ``repr`` prints the decimal of the fewest fractional digits ``n`` (its integral digits
    fixed) that rounds back to it, the nearest of those (ties to even): ``K / 10**n``, ``K``
    the integer nearest ``M * 5**n / 2**(s - n)``, rounds back iff its distance to ``size``
    is below half a unit in the last place, ``2 * |K * 2**s - M * 10**n| < 10**n`` (never
    equal: ``10**n / 2`` is no multiple of ``2**(s - n)`` there). Then ``K * 10**(18 - n)`` =
    ``K * 5**m * 2**m`` (``m = 18 - n``) is rounded to a float once: ``K * 5**m`` (below
    ``2**99``) in 31-bit limbs, its leading 62 bits with a sticky bit for the rest converted
    (correctly rounded), times a power of two (exact). Integer arithmetic in int64 only."""
    x = abs(size)
    if not (x >= WAD_SIZE_MAX and x < 1e16):
        return np.nan
    sign = -1.0 if size < 0.0 else 1.0
    if x == np.floor(x):
        return sign * (x * 1e18)
    f, e = math.frexp(x)
    mant = np.int64(f * 9007199254740992.0)  # f * 2**53: exact, below 2**53
    s = 53 - e
    mant_high, mant_low = mant >> 31, mant & _LOW31
    k = np.int64(0)
    n = 0
    found = False
    while n <= 18 and not found:
        if x * 10.0**n >= 1e17:
            return np.nan  # never: 17 significant digits always round back
        p5 = _POW5[n]
        t = s - n
        if t <= 0:  # size * 10**n is whole: size itself
            k = (mant * p5) << (-t)
            found = True
            break
        low = mant_low * p5  # M * 5**n = high * 2**31 + (low & _LOW31)
        high = mant_high * p5 + (low >> 31)
        low = low & _LOW31
        if t >= 31:
            q = high >> (t - 31)
            r = ((high & ((np.int64(1) << (t - 31)) - 1)) << 31) | low
        else:
            q = (high << (31 - t)) | (low >> t)
            r = low & ((np.int64(1) << t) - 1)
        half = np.int64(1) << (t - 1)
        if r > half or (r == half and (q & 1) == 1):
            k, dist = q + 1, (np.int64(1) << t) - r
        else:
            k, dist = q, r
        if 2 * dist < p5:
            found = True
            break
        n += 1
    if not found:
        return np.nan
    m = 18 - n
    p5 = _POW5[m]
    k_high, k_low = k >> 31, k & _LOW31
    f_high, f_low = p5 >> 31, p5 & _LOW31
    c = k_low * f_low
    c0, carry = c & _LOW31, c >> 31
    mid = k_high * f_low + k_low * f_high + carry
    c1, top = mid & _LOW31, k_high * f_high + (mid >> 31)
    low = (c1 << 31) | c0  # K * 5**m = top * 2**62 + low
    if top == 0:
        return sign * (float(low) * 2.0**m)
    bits = 0
    while (top >> bits) != 0:
        bits += 1
    v = (top << (62 - bits)) | (low >> bits)
    if (low & ((np.int64(1) << bits) - 1)) != 0:
        v |= 1  # sticky: below the rounding bit
    return sign * (float(v) * 2.0 ** (bits + m))


@_jit
def flow_step(init, start, n_close, close_slots, open_slots, open_side, open_size, slot_tab,
              python_checks, now, block, params, tiers, mf, mi, pf, pi, isolated_flag,
              collateral, fn, slots, deltas, outs, ok, moves, acc):  # fmt: skip
    """The order flow's block from call ``start`` on, as :func:`trade_batch` makes its calls:
    call ``k`` a ``closePosition`` of slot ``close_slots[k]`` for ``k < n_close``, then a
    cross ``trade`` of slot ``open_slots[j]`` (``k = n_close + j``) of ``open_side[j] *
    to_wad(round(open_size[j], 12))`` WAD, each by the slot's account in its market
    (``slot_tab``: :data:`S_ACCOUNT`, :data:`S_MARKET`).

    With ``init``, first the block's tables: ``slots[k]`` each call's slot, ``deltas[k]`` each
    open's delta (:func:`wad_of_size`, else :func:`wad_of_repr` for a size of ``2**13`` base
    units or more), ``ok`` False and ``outs`` 0 for every call; where both conversions give
    NaN (a size of 1e16 or more, an infinity, NaN) the delta is left NaN and -1 returned
    before any call (the caller writes it, :func:`~simulator.mirror.sim.flow.wad_delta`, and
    calls again without ``init``).

    Each call made: its results in ``outs[k]`` (as :func:`trade_batch`'s), ``ok[k]`` True,
    ``moves[k]`` (:data:`M_ACCOUNT` ...), and the pool and the fund (``acc[0]``, ``acc[1]``,
    WAD) moved as after :meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade` (``pool
    + funding - realized``; ``fund + its share`` of a fee not 0). Returns the index of the
    first call not made (the caller's, then to resume after it): a slot whose account is not
    the venue's, a market whose checks are Python's, a trade of 0, a close of a flat
    position, a call that reverts or reads a stale price; the block's length when all were
    made."""
    n = n_close + open_slots.shape[0]
    if init:
        missing = False
        for k in range(n_close):
            slots[k] = close_slots[k]
        for j in range(open_slots.shape[0]):
            k = n_close + j
            slots[k] = open_slots[j]
            size = open_size[j]
            wad = wad_of_size(size)
            if wad != wad:
                wad = wad_of_repr(size)
            if wad == wad:
                deltas[k] = open_side[j] * wad + 0.0  # +0.0: float(0), never -0.0
            else:
                deltas[k] = np.nan
                missing = True
        for k in range(n):
            ok[k] = False
            for c in range(outs.shape[1]):
                outs[k, c] = 0.0
        if missing:
            return -1
    for k in range(start, n):
        slot = slots[k]
        a, m = slot_tab[slot, S_ACCOUNT], slot_tab[slot, S_MARKET]
        if a < 0 or python_checks[m]:
            return k
        s = pf[P_SIZE, a, m]
        if k < n_close:
            if s == 0:
                return k
            delta, isolated = -s, isolated_flag[a, m]
        else:
            delta, isolated = deltas[k], False
            if delta == 0:
                return k
        code = _flow_trade(a, m, delta, isolated, now, block, params, tiers, mf, mi, pf, pi,
                           isolated_flag, collateral, fn, outs, k)  # fmt: skip
        if code != OK:
            return k
        outs[k, T_SIZE0], outs[k, T_ISOLATED], outs[k, T_DELTA] = s, 1.0 if isolated else 0.0, delta
        ok[k] = True
        size1 = outs[k, T_SIZE]
        moves[k, M_ACCOUNT], moves[k, M_MARKET] = a, m
        moves[k, M_OPENED] = 1 if (s == 0 and size1 != 0) else (-1 if (s != 0 and size1 == 0)
                                                                 else 0)  # fmt: skip
        acc[0] = acc[0] + outs[k, T_FUNDING] - outs[k, T_REALIZED]
        if outs[k, T_FEE] != 0:
            acc[1] = acc[1] + outs[k, T_FUND_ADD]
    return n


@_inline
def _flow_trade(a, m, delta, isolated, now, block, params, tiers, mf, mi, pf, pi, isolated_flag,
                collateral, fn, outs, k):  # fmt: skip
    """:func:`_trade` as :func:`flow_step` calls it: no margin delta, no price bound, its
    checks and the stale check of the account's other cross positions made here, its results
    into ``outs[k]``. ``tests/mirror/test_mirror_flow_trade.py`` holds :func:`flow_step` to its
    form on :func:`trade`."""
    return _trade(a, m, delta, isolated, 0.0, 0.0, True, False, True, now, block, params, tiers,
                  mf, mi, pf, pi, isolated_flag, collateral, fn, outs[k])  # fmt: skip


@_jit
def _settled_in_full(deficit, paid):
    """``_absorbDeficit`` of a share ``deficit`` the fund pays ``paid`` of leaves nothing in
    fast mode (a remaining below a collateral unit is float residue: 0)."""
    remaining = deficit - paid if paid < deficit else 0.0
    return remaining < _UNIT


@_jit
def liquidate_batch(start, accounts, markets, isolated_units, python_checks, now, block, fund,
                    params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, outs, orders,
                    rowss, sizes):  # fmt: skip
    """The keepers' liquidations of a block in order from call ``start``: call ``i``
    liquidates account ``accounts[i]``'s cross positions (:func:`liquidate_cross`), or with
    ``isolated_units[i]`` its isolated position in ``markets[i]`` (:func:`liquidate_isolated`),
    its results in ``outs[i]`` (and a cross call's ``orders[i]``, ``rowss[i]``), the account's
    sizes before and after in ``sizes[i]``; the fund carried from call to call as the venue
    carries it (the insurance shares in, a deficit's cover out). Returns the index of the
    first call not made, or one past a call whose deficit leaves the fund's cover short (its
    ``_absorbDeficit`` is Python's and may move the funding indices): a call is not made when
    a price it reads is stale (``freshPrice``), a market it reads has a breaker check in
    Python (``python_checks[m]``: a band and ``liquidationsHaltOnBreaker``), or it reverts
    (nothing written); the caller makes it alone. The funding at now ``fn`` holds through the batch (see
    :func:`close_batch`)."""
    size = pf[P_SIZE]
    updated_at, max_age = mi[I_UPDATED_AT], mi[I_MAX_AGE]
    n = mf.shape[1]
    for i in range(start, accounts.shape[0]):
        a, m = accounts[i], markets[i]
        out, full = outs[i], True
        if isolated_units[i]:
            if size[a, m] != 0 and isolated_flag[a, m]:
                if now - updated_at[m] > max_age[m] or python_checks[m]:
                    return i
            for j in range(n):
                sizes[i, 0, j] = size[a, j]
            code = liquidate_isolated(a, m, now, block, fund, params, tiers, mf, mi, pf, pi,
                                      isolated_flag, collateral, fn, out)  # fmt: skip
            if code != OK:
                return i
            fund = out[X_FUND]
            if out[X_DEFICIT] != 0:
                fund = fund - out[X_PAID]
                full = _settled_in_full(out[X_DEFICIT], out[X_PAID])
        else:
            for j in range(n):
                if size[a, j] != 0 and not isolated_flag[a, j]:
                    if now - updated_at[j] > max_age[j] or python_checks[j]:
                        return i
            for j in range(n):
                sizes[i, 0, j] = size[a, j]
            order, rows = orders[i], rowss[i]
            code = liquidate_cross(a, now, block, fund, params, tiers, mf, mi, pf, pi,
                                   isolated_flag, collateral, fn, order, rows, out)  # fmt: skip
            if code != OK:
                return i
            fund = out[X_FUND]
            if out[X_DEFICIT] != 0:
                fund = fund - out[X_PAID]
                for k in range(1, order[0] + 1):
                    j = order[k]
                    if rows[R_SHARE, j] != 0 and not _settled_in_full(rows[R_SHARE, j],
                                                                      rows[R_PAID, j]):  # fmt: skip
                        full = False
        for j in range(n):
            sizes[i, 1, j] = size[a, j]
        if not full:
            return i + 1
    return accounts.shape[0]


# -- the views over many accounts (``healthOf``, ``isolatedHealth``) ---------------------------

HEALTH_MAX_MARKETS = 8
""":func:`cross_health` sums an account's M terms in order from 0.0, which is numpy's sum of
fewer than 8 terms along the last axis (:func:`simulator.mirror.health.cross_health`); with
more markets numpy sums pairwise, and the venue keeps the numpy path."""


@_jit
def cross_health(accounts, params, tiers, price, pf, isolated_flag, collateral, li, si, lo, so,
                 with_initial, eq, mm, im):  # fmt: skip
    """``healthOf`` of each account in ``accounts``: its cross equity, maintenance and initial
    margin into ``eq``, ``mm``, ``im`` (WAD; :func:`simulator.mirror.health.cross_health` in
    fast mode to the bit, for fewer than :data:`HEALTH_MAX_MARKETS` markets). ``li``, ``si``:
    the funding indices at now; ``lo``, ``so``: the open interest the initial margin reads
    (not computed without ``with_initial``: ``im`` left as it is)."""
    for k in range(accounts.shape[0]):
        a = accounts[k]
        value, maint, init = _cross_sums(a, params, tiers, price, pf, isolated_flag, li, si, lo,
                                         so, with_initial)  # fmt: skip
        eq[k] = collateral[a] + value
        mm[k] = maint
        if with_initial:
            im[k] = init


@_jit
def isolated_health(accounts, markets, params, tiers, price, pf, isolated_flag, li, si, eq, mm):
    """``isolatedHealth`` of each (account, market) pair into ``eq``, ``mm`` (WAD; 0, 0 where
    the position is not isolated): :func:`simulator.mirror.health.isolated_health` in fast
    mode to the bit (equity ``margin + uPnL - funding owed`` in that order)."""
    size, entry, snapshot, margin = pf[P_SIZE], pf[P_ENTRY], pf[P_SNAPSHOT], pf[P_MARGIN]
    for k in range(accounts.shape[0]):
        a, m = accounts[k], markets[k]
        s = size[a, m]
        if isolated_flag[a, m]:
            pm = price[m]
            eq[k] = (margin[a, m] + _upnl(s, entry[a, m], pm)) - _owed(s, snapshot[a, m],
                                                                       li[m], si[m])  # fmt: skip
            mm[k] = _maintenance(params, tiers, m, s, pm)
        else:
            eq[k], mm[k] = 0.0, 0.0


# -- loading ------------------------------------------------------------------------------------

_WARM = [False]


def warm() -> None:
    """Load every kernel of this module (from numba's on-disk cache, else compile it) with the
    argument types the venue passes, once per process: called when a fast venue is built, so
    that a run's setup pays it and not its first step. Each kernel is called on scratch state
    of one account and one market on which it returns at its first check."""
    if _WARM[0]:
        return
    mf, mi = np.zeros((len(MARKET_FLOATS), 1)), np.zeros((len(MARKET_INTS), 1), dtype=np.int64)
    mi[I_MAX_AGE] = -1  # every price stale: a trade returns STALE_PRICE at once
    pf = np.zeros((len(POSITION_FLOATS), 1, 1))
    pi = np.zeros((len(POSITION_INTS), 1, 1), dtype=np.int64)
    iso, col, fn = np.zeros((1, 1), dtype=bool), np.zeros(1), np.zeros((3, 1))
    params, tiers = np.zeros((1, N_PARAMS)), np.zeros((1, 2, 1, 3))
    out, rows, order = np.zeros(N_OUT), np.zeros((N_ROWS, 1)), np.zeros(2, dtype=np.int64)
    none, x = np.zeros(0, dtype=np.int64), np.zeros(1)
    trade(0, 0, 1.0, False, 0.0, 0.0, True, False, False, 1, 1, params, tiers, mf, mi, pf, pi,
          iso, col, fn, out)  # fmt: skip
    close_batch(0, none, none, np.zeros(1, dtype=bool), True, 1, 1, params, tiers, mf, mi, pf,
                pi, iso, col, fn, np.zeros((0, N_OUT)))  # fmt: skip
    trade_batch(0, np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2)), np.zeros(1, dtype=bool),
                1, 1, params, tiers, mf, mi, pf, pi, iso, col, fn, np.zeros((0, N_BATCH_OUT)))  # fmt: skip
    trade_batch_moves(0, np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2)),
                      np.zeros(1, dtype=bool), 1, 1, params, tiers, mf, mi, pf, pi, iso, col, fn,
                      np.zeros((0, N_BATCH_OUT)), np.zeros((0, 3), dtype=np.int64), np.zeros(2))  # fmt: skip
    vault_health_reads(0, params, tiers, mf, pf, iso, col, fn, x, x, np.zeros(4))
    flow_step(True, 0, 0, none, none, none, np.zeros(0), np.zeros((0, 2), dtype=np.int64),
              np.zeros(1, dtype=bool), 1, 1, params, tiers, mf, mi, pf, pi, iso, col, fn, none,
              np.zeros(0), np.zeros((0, N_BATCH_OUT)), np.zeros(0, dtype=bool),
              np.zeros((0, 3), dtype=np.int64), np.zeros(2))  # fmt: skip
    liquidate_isolated(0, 0, 1, 1, 0.0, params, tiers, mf, mi, pf, pi, iso, col, fn, out)
    liquidate_cross(0, 1, 1, 0.0, params, tiers, mf, mi, pf, pi, iso, col, fn, order, rows, out)
    liquidate_batch(0, none, none, np.zeros(0, dtype=bool), np.zeros(1, dtype=bool), 1, 1, 0.0,
                    params, tiers, mf, mi,
                    pf, pi, iso, col, fn, np.zeros((0, N_OUT)), np.zeros((0, 2), dtype=np.int64),
                    np.zeros((0, N_ROWS, 1)), np.zeros((0, 2, 1)))  # fmt: skip
    cross_health(none, params, tiers, mf[F_PRICE], pf, iso, col, x, x, x, x, True, x, x, x)
    isolated_health(none, none, params, tiers, mf[F_PRICE], pf, iso, x, x, x, x)
    _WARM[0] = True


# -- the opening book's trades (:func:`simulator.mirror.sim.opening.mirror_world`) -------------
K_OPEN_ISOLATED = 3
"""An opening call's kind beside :data:`K_TRADE` (:func:`open_batch` only): ``tradeIsolated``
of its delta with ``margins[i]`` moved into the isolated margin first."""


@_jit
def open_batch(start, calls, values, margins, python_checks, now, block, params, tiers, mf, mi,
               pf, pi, isolated_flag, collateral, fn, outs, moves, acc):  # fmt: skip
    """The opening trades ``calls[i]`` of a block in order from call ``start``: a
    :data:`K_TRADE` as :func:`trade_batch` makes it (a cross :func:`trade` of ``values[i,
    V_DELTA]`` with its bound ``values[i, V_ACCEPTABLE]``), a :data:`K_OPEN_ISOLATED` as
    ``TradesMixin._trade_fast`` makes a ``tradeIsolated`` of that delta with margin
    ``margins[i]`` (WAD) and no bound, the kernel checking the market's price and margin mode;
    each call's results in ``outs[i]`` as :func:`trade_batch` writes them, its ``_open`` move
    in ``moves[i]`` and the pool and the fund (``acc[0]``, ``acc[1]``, WAD) moved in call order
    as :func:`trade_batch_moves` moves them. Returns the index of the first call not made, the
    caller's to make alone (then to resume after it): another kind, a delta of 0, a call in a
    market whose checks are Python's (``python_checks[m]``), or one that reverts or reads a
    stale price (nothing written). The funding at now ``fn`` holds through the batch."""
    size = pf[P_SIZE]
    for i in range(start, calls.shape[0]):
        a, m, kind = calls[i, C_ACCOUNT], calls[i, C_MARKET], calls[i, C_KIND]
        delta = values[i, V_DELTA]
        if python_checks[m] or delta == 0:
            return i
        if kind == K_TRADE:
            isolated, margin = False, 0.0
        elif kind == K_OPEN_ISOLATED:
            isolated, margin = True, margins[i]
        else:
            return i
        s = size[a, m]
        out = outs[i]
        code = _trade(a, m, delta, isolated, margin, values[i, V_ACCEPTABLE], True, False, True,
                     now, block, params, tiers, mf, mi, pf, pi, isolated_flag, collateral, fn,
                     out)  # fmt: skip
        if code != OK:
            return i
        size1 = out[T_SIZE]
        out[T_SIZE0], out[T_ISOLATED], out[T_DELTA] = s, 1.0 if isolated else 0.0, delta
        moves[i, M_ACCOUNT], moves[i, M_MARKET] = a, m
        moves[i, M_OPENED] = 1 if (s == 0 and size1 != 0) else (
            -1 if (s != 0 and size1 == 0) else 0)  # fmt: skip
        acc[0] = acc[0] + out[T_FUNDING] - out[T_REALIZED]
        if out[T_FEE] != 0:
            acc[1] = acc[1] + out[T_FUND_ADD]
    return calls.shape[0]
