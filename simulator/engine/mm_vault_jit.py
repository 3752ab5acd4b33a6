"""The market-making vault's step, compiled (numba): its carried health, the keepers' clock on
it, the open interest its quotes meet and its trades, in one dispatch a step
(:func:`vault_step`, called by :func:`simulator.engine.mm_vault.plan_mm_vault` on the chain
engine and the mirror alike).

What is here, each the arithmetic of the numpy or Python-float code it replaced, term by term
in the same order per element, so that the floats are the same to the bit:

- :func:`oi_after` -- the last levels' open interest less the traders' closes, with the order
  flow's planned opens and closes (:func:`simulator.engine.spot.spot_inputs_after_closes`'s
  ``np.bincount`` sums, in row order from 0.0, then :func:`simulator.engine.flow.
  spot_inputs_after_flow`'s additions);
- :func:`estimated_health` -- the vault's equity, maintenance and notional carried to this
  step's prices (:func:`simulator.engine.mm_vault.estimated_health`'s sums, as ``np.sum``
  adds: :func:`pairwise_sum`);
- :func:`plan_trades` -- the quote rule of :func:`simulator.agents.mm_vault.plan_trades`, its
  vectorized numpy form element by element (``np.clip`` / ``np.sign`` / ``np.maximum`` /
  ``np.minimum`` as numpy's loops take NaN and signed zeros; the free margin's total need
  summed pairwise, as ``ndarray.sum``);
- :func:`vault_step` -- the three in one call, with the keepers' ``liquidatable_since`` of the
  vault (:func:`simulator.agents.keepers.update_liquidatable_since` of one account);
- :func:`after_trades` -- a quiet block's open interest with the vault's planned trades
  (:func:`simulator.engine.mm_vault.after_vault_trades`);
- :func:`quote_wads` -- the WAD integers of the vault's trades, ``to_wad(round(x, 12))`` of
  the size and ``to_wad(price × (1 ∓ q))`` of the quote's bound, as a decimal's digits and
  scale (:func:`round12`, :func:`shortest_decimal`: Python's ``round`` and ``repr`` of a
  float, exactly; a value they do not decide is left to Python), and :func:`vault_step_quotes`,
  :func:`vault_step` and them in one dispatch;
- :func:`vault_block` -- the mirror's fast mode's step (:func:`simulator.mirror.sim.mm_vault.
  execute`): :func:`vault_step_quotes`, then the trades as :func:`simulator.engine.mm_vault.
  quote_lists` makes them in the form the venue's compiled batch takes (its call rows, the
  floats of the WADs by :func:`scaled_float`, Python's ``float`` of the integer; the sizes
  ``from_wad`` of them) and a quiet block's open interest with them (:func:`after_trades`),
  in one dispatch; :func:`vault_reads` -- the vault's levels after a block, converted.

The forms they replaced are the references of ``tests/engine/test_mm_vault_jit.py``,
``tests/agents/test_mm_vault_floats.py``, ``tests/engine/test_mm_vault_wads.py`` (Python's
``to_wad``, ``round`` and ``repr``) and ``tests/mirror/test_mirror_vault_block.py``, which
hold each kernel to its form on drawn inputs.
One module on purpose: numba's on-disk cache is invalidated only by an edit of the file that
defines a compiled function, so these kernels call no compiled function from elsewhere.

Conventions: float64 / int64 arrays (the traders' sides int8); the quote parameters per market
as the rows of one (4, M) array (:data:`LIMIT`, :data:`QUOTE`, :data:`SCALE`, :data:`LEVERAGE`)
and the two run scalars as one array (participation, max trade USD); results written into the
caller's (4, M) ``out`` (rows :data:`OI_LONG`, :data:`OI_SHORT`, :data:`TRADE`,
:data:`UNWIND`, the last 1.0 / 0.0) and (3,) ``health`` arrays.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from simulator.jit import inline_numpy_kernel as _inline
from simulator.jit import numpy_kernel as _jit

#: Rows of the per-market quote parameters (:func:`plan_trades`' ``consts``).
LIMIT, QUOTE, SCALE, LEVERAGE = 0, 1, 2, 3
#: Rows of :func:`vault_step`'s ``out``.
OI_LONG, OI_SHORT, TRADE, UNWIND = 0, 1, 2, 3
#: A trade below this notional is not worth a transaction (USD; the one definition,
#: :data:`simulator.agents.mm_vault.MIN_TRADE_USD` names it).
MIN_TRADE_USD = 100.0
#: Share of the quote's room left unused, so that float rounding never puts the venue's fill
#: just beyond the vault's price bound (fraction; :data:`simulator.agents.mm_vault.ROOM_SAFETY`
#: names it).
ROOM_SAFETY = 1e-6
#: numpy's pairwise summation block (``PW_BLOCKSIZE``).
_PW_BLOCK = 128
#: numpy's default ufunc buffer size (elements): a reduction adds its buffers' sums in order.
_BUFSIZE = 8192
#: Rows of :func:`quote_wads`' ``wads`` (int64, (4, M)): the trade's WAD as digits ``c`` and
#: decimals ``s`` (``to_wad = c × 10**(18 − s)``), the quote's bound likewise.
W_DELTA_DIGITS, W_DELTA_SCALE, W_BOUND_DIGITS, W_BOUND_SCALE = 0, 1, 2, 3
#: A scale row's value for no trade (a size of 0, or 0 once rounded to 12 decimals).
NO_TRADE = -2
#: A scale row's value for a WAD the kernel leaves to Python (``to_wad`` of the float).
IN_PYTHON = -1
_TWO52 = 4503599627370496.0
_TWO53 = 9007199254740992.0
_TWO62 = 4611686018427387904.0


@_inline
def _minimum(a, b):
    """``np.minimum`` of two floats (NaN from either side propagates)."""
    return a if (a <= b or a != a) else b


@_inline
def _maximum(a, b):
    """``np.maximum`` of two floats (NaN from either side propagates)."""
    return a if (a >= b or a != a) else b


@_inline
def _clip(x, low, high):
    """``np.clip`` of a float: ``min(max(x, low), high)`` with NaN propagating, as numpy's
    clip loop computes it."""
    x = x if (x != x or x > low) else low
    return x if (x != x or x < high) else high


@_inline
def _sign(x):
    """``np.sign`` of a float (0.0 for either zero, NaN for NaN)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    if x == 0:
        return 0.0
    return x


@_inline
def _block_sum(a, start, n):
    """numpy's pairwise sum of ``n <= 128`` floats from ``a[start]``: in order from 0.0 below
    eight, else in eight interleaved partial sums, combined pairwise, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        j = start + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@_inline
def pairwise_sum(a, start, n):
    """``a[start:start + n].sum()`` as numpy adds a contiguous float64 array: its reduction
    loop adds the pairwise sums (:func:`_tree_sum`) of buffers of 8,192 elements (numpy's
    default ``bufsize``) in order from 0.0."""
    if n <= _BUFSIZE:
        return _tree_sum(a, start, n)
    res = 0.0
    for s in range(start, start + n, _BUFSIZE):
        res += _tree_sum(a, s, min(_BUFSIZE, start + n - s))
    return res


@_jit
def _tree_sum(a, start, n):
    """numpy's pairwise sum of ``n`` floats from ``a[start]``: blocks of at most 128
    (:func:`_block_sum`), a longer run split in two at a multiple of eight below its half and
    the halves' sums added. The split's tree is walked with an explicit stack, not by
    recursion (numba's cache loads a caller of a recursive kernel into a crash)."""
    if n <= _PW_BLOCK:
        return _block_sum(a, start, n)
    depth = 3 * 64  # three entries a level, at most 63 levels of halving an int64 length
    starts = np.empty(depth, dtype=np.int64)
    sizes = np.empty(depth, dtype=np.int64)
    joins = np.empty(depth, dtype=np.bool_)
    values = np.empty(depth)
    starts[0], sizes[0], joins[0] = start, n, False
    sp, vp = 1, 0
    while sp > 0:
        sp -= 1
        s, k, join = starts[sp], sizes[sp], joins[sp]
        if join:  # both halves summed: left below right on the value stack
            values[vp - 2] = values[vp - 2] + values[vp - 1]
            vp -= 1
        elif k <= _PW_BLOCK:
            values[vp] = _block_sum(a, s, k)
            vp += 1
        else:
            half = k // 2
            half -= half % 8
            starts[sp], sizes[sp], joins[sp] = s, k, True
            starts[sp + 1], sizes[sp + 1], joins[sp + 1] = s + half, k - half, False
            starts[sp + 2], sizes[sp + 2], joins[sp + 2] = s, half, False
            sp += 3
    return values[0]


@_jit
def oi_after(oi_long, oi_short, closes, market, size, side, has_flow, flow_long, flow_short, out):
    """Rows :data:`OI_LONG` / :data:`OI_SHORT` of ``out``: ``oi_long - closed_long (+
    flow_long when has_flow)``, likewise short, where ``closed_*`` sums ``size × (side > 0)``
    (``< 0``) of the rows ``closes`` per market, in row order from 0.0."""
    n = len(oi_long)
    _oi_after_into(oi_long, oi_short, closes, market, size, side, has_flow, flow_long,
                   flow_short, out, np.empty(n), np.empty(n))  # fmt: skip


@_inline
def _oi_after_into(oi_long, oi_short, closes, market, size, side, has_flow, flow_long,
                   flow_short, out, closed_long, closed_short):  # fmt: skip
    """:func:`oi_after` with the sums in the caller's scratch ``closed_long`` /
    ``closed_short`` ((M,) each, zeroed here: no allocation)."""
    n = len(oi_long)
    for m in range(n):
        closed_long[m] = 0.0
        closed_short[m] = 0.0
    for r in closes:
        m = market[r]
        closed_long[m] += size[r] * (1.0 if side[r] > 0 else 0.0)
        closed_short[m] += size[r] * (1.0 if side[r] < 0 else 0.0)
    for m in range(n):
        long_, short = oi_long[m] - closed_long[m], oi_short[m] - closed_short[m]
        if has_flow:
            long_, short = long_ + flow_long[m], short + flow_short[m]
        out[OI_LONG, m] = long_
        out[OI_SHORT, m] = short


@_jit
def estimated_health(size, before, now, equity_usd, maintenance_usd, health):
    """``health`` = (equity, maintenance, notional) of the vault carried from the prices
    ``before`` to ``now`` (USD): equity plus ``sum(size × (now − before))``, maintenance
    scaled by notional (0 when the notional before was not positive)."""
    _estimated_health_into(size, before, now, equity_usd, maintenance_usd, health,
                           np.empty(3 * len(size)))  # fmt: skip


@_inline
def _estimated_health_into(size, before, now, equity_usd, maintenance_usd, health, work):
    """:func:`estimated_health` with its terms in the caller's scratch ``work`` ((3M,))."""
    n = len(size)
    for m in range(n):
        work[m] = abs(size[m]) * before[m]
        work[n + m] = abs(size[m]) * now[m]
        work[2 * n + m] = size[m] * (now[m] - before[m])
    notional_before = pairwise_sum(work, 0, n)
    notional = pairwise_sum(work, n, n)
    health[0] = equity_usd + pairwise_sum(work, 2 * n, n)
    health[1] = maintenance_usd * notional / notional_before if notional_before > 0 else 0.0
    health[2] = notional


@_jit
def plan_trades(crowd, size, skew, price, free_margin_usd, participation, max_trade_usd,
                consts, trade, unwind):  # fmt: skip
    """:func:`simulator.agents.mm_vault.plan_trades` into ``trade`` (signed base units) and
    ``unwind`` (1.0 for a sale of an over-limit position, else 0.0), per market."""
    n = len(price)
    _plan_trades_into(crowd, size, skew, price, free_margin_usd, participation, max_trade_usd,
                      consts, trade, unwind, np.empty(n), np.empty(n), np.empty(n))  # fmt: skip


@_inline
def _plan_trades_into(crowd, size, skew, price, free_margin_usd, participation, max_trade_usd,
                      consts, trade, unwind, added, need, over):  # fmt: skip
    """:func:`plan_trades` with its terms in the caller's scratch (``added``, ``need``,
    ``over``: (M,) floats each, every element written before it is read; ``over`` 1.0 where
    the position is above the limit, else 0.0)."""
    n = len(price)
    for m in range(n):
        pr, sz = price[m], size[m]
        limit_base = consts[LIMIT, m] / pr
        step_base = max_trade_usd / pr
        target = _clip(-participation * crowd[m], -limit_base, limit_base)
        want = _clip(target - sz, -step_base, step_base)
        sign = _sign(want)
        scale, q = consts[SCALE, m], consts[QUOTE, m]
        if scale > 0:
            room = _maximum(0.0, 2.0 * (-sign * skew[m] - scale * q)) * (1.0 - ROOM_SAFETY)
        else:
            room = np.inf if q <= 0 else 0.0
        over[m] = 1.0 if abs(sz) > limit_base else 0.0
        if over[m] != 0.0:
            t = _clip(_sign(sz) * limit_base - sz, -step_base, step_base)
        else:
            t = sign * _minimum(abs(want), room)
        trade[m] = t
        added[m] = _maximum(0.0, abs(sz + t) - abs(sz)) * pr
        need[m] = added[m] / consts[LEVERAGE, m]
    total_need = pairwise_sum(need, 0, n)
    if total_need > 0:
        free = free_margin_usd if free_margin_usd > 0.0 else 0.0  # Python's max(0.0, free)
        k = free / total_need
        k = k if k < 1.0 else 1.0  # Python's min(1.0, k)
        for m in range(n):
            if added[m] > 0:
                t, pr = trade[m], price[m]
                closing = t - _sign(t) * added[m] / pr
                trade[m] = closing + _sign(t) * k * added[m] / pr
    for m in range(n):
        small = abs(trade[m]) * price[m] < MIN_TRADE_USD
        if small:
            trade[m] = 0.0
        unwind[m] = 1.0 if (over[m] != 0.0 and not small) else 0.0


@_jit
def vault_step(step, since, last_usd, size, before, price, oi_long, oi_short, closes, market,
               close_size, side, has_flow, flow_long, flow_short, quoting, run_scalars, consts,
               out, health):  # fmt: skip
    """The vault's phase of step ``step``: the open interest its quotes meet (``out`` rows
    :data:`OI_LONG`, :data:`OI_SHORT`, :func:`oi_after`), its carried health (``health``,
    :func:`estimated_health` of ``last_usd`` = (equity, maintenance, initial margin) USD) and
    the keepers' clock on it; when ``quoting``, its trades (rows :data:`TRADE`,
    :data:`UNWIND`, :func:`plan_trades` against ``skew = long − short``, the crowd ``skew −
    size``, the free margin ``equity − initial``; the caller sends them unless the keepers
    act on the vault), else those rows 0. Returns the new ``liquidatable_since`` (-1: not
    under maintenance)."""
    return _vault_step_into(step, since, last_usd[0], last_usd[1], last_usd[2], size, before,
                            price, oi_long, oi_short, closes, market, close_size, side,
                            has_flow, flow_long, flow_short, quoting, run_scalars[0],
                            run_scalars[1], consts, out, health,
                            np.empty(N_SCRATCH * len(price)))  # fmt: skip


#: :func:`_vault_step_into`'s scratch: this many floats per market.
N_SCRATCH = 11


@_inline
def _vault_step_into(step, since, equity_usd, maintenance_usd, initial_usd, size, before, price,
                     oi_long, oi_short, closes, market, close_size, side, has_flow, flow_long,
                     flow_short, quoting, participation, max_trade_usd, consts, out, health,
                     tmp):  # fmt: skip
    """:func:`vault_step` with ``last_usd`` and ``run_scalars`` as floats and its terms in the
    caller's scratch ``tmp`` (:data:`N_SCRATCH` × M floats: no allocation): the closes' sums
    (two rows), the health's terms (three), the plan's (three), the skew and the crowd."""
    n = len(price)
    oi_after_long, oi_after_short = tmp[0:n], tmp[n : 2 * n]
    _oi_after_into(oi_long, oi_short, closes, market, close_size, side, has_flow, flow_long,
                   flow_short, out, oi_after_long, oi_after_short)  # fmt: skip
    _estimated_health_into(size, before, price, equity_usd, maintenance_usd, health,
                           tmp[2 * n : 5 * n])  # fmt: skip
    if health[2] > 0 and health[0] < health[1]:
        since = since if since >= 0 else step
    else:
        since = -1
    if not quoting:
        for m in range(n):
            out[TRADE, m] = 0.0
            out[UNWIND, m] = 0.0
        return since
    skew = tmp[8 * n : 9 * n]
    crowd = tmp[9 * n : 10 * n]
    for m in range(n):
        skew[m] = out[OI_LONG, m] - out[OI_SHORT, m]
        crowd[m] = skew[m] - size[m]
    _plan_trades_into(crowd, size, skew, price, equity_usd - initial_usd, participation,
                      max_trade_usd, consts, out[TRADE], out[UNWIND], tmp[5 * n : 6 * n],
                      tmp[6 * n : 7 * n], tmp[7 * n : 8 * n])  # fmt: skip
    return since


@_inline
def after_trades(size, planned, oi_long, oi_short, out):
    """Rows 0 / 1 of ``out``: the open interest ``oi_long`` / ``oi_short`` with the vault's
    position moved from ``size`` to ``size + planned`` (base units): ``long + max(new, 0) −
    max(size, 0)``, ``short + max(−new, 0) − max(−size, 0)``."""
    for m in range(len(size)):
        new = size[m] + planned[m]
        out[0, m] = oi_long[m] + _maximum(new, 0.0) - _maximum(size[m], 0.0)
        out[1, m] = oi_short[m] + _maximum(-new, 0.0) - _maximum(-size[m], 0.0)


@_inline
def _split(a):
    """Veltkamp's split of ``a`` into two halves of 26 bits (``a = high + low`` exactly)."""
    c = 134217729.0 * a  # 2**27 + 1
    high = c - (c - a)
    return high, a - high


@_inline
def _two_product(a, b):
    """``a × b = p + e`` exactly (Dekker's product; no fused multiply-add in numba without
    fastmath): ``p`` the float product, ``e`` its rounding error."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@_inline
def _nearest_integer(p, e):
    """The integer nearest the exact ``p + e`` (``|e| <= ulp(p) / 2``, ``|p| < 2**62``), ties
    to even, and whether it was a tie. Below ``2**52`` the fraction of ``p`` is a multiple of
    ``ulp(p) <= 1/2``, so only a fraction of exactly 1/2 needs ``e``; above, ``p`` is whole and
    ``e`` is rounded (its whole part and fraction are exact)."""
    if abs(p) < _TWO52:
        f = math.floor(p)
        r = p - f
        c = np.int64(f)
        if r > 0.5 or (r == 0.5 and e > 0):
            return c + 1, False
        if r == 0.5 and e == 0:
            return c + (c & 1), True
        return c, False
    g = math.floor(e)
    h = e - g
    c = np.int64(p) + np.int64(g)
    if h > 0.5:
        return c + 1, False
    if h == 0.5:
        return c + (c & 1), True
    return c, False


@_inline
def _compare_abs(a, b, bound):
    """The sign of ``|a + b| − bound`` (-1, 0, 1), exactly (``bound > 0``)."""
    s = a + b
    t = s - a
    err = (a - (s - t)) + (b - t)  # Knuth's two-sum: a + b = s + err
    if s < 0:
        s, err = -s, -err
    elif s == 0:
        err = abs(err)
    if s > 2.0 * bound:  # err (at most half an ulp of s) cannot bring it down to bound
        return 1
    if s < 0.5 * bound:  # nor up to it (s = 0: the sum is exact, err = 0)
        return -1
    u = (s - bound) + err  # s - bound exact (Sterbenz); a rounded sum keeps its sign
    return 1 if u > 0 else (-1 if u < 0 else 0)


@_inline
def shortest_decimal(y):
    """``(c, s)``: the decimal ``c × 10**-s`` Python's ``repr(y)`` prints (the shortest that
    reads back as ``y``, the nearest to ``y`` of that length), ``s`` in 0..18 decimals, so
    that ``to_wad(y) == c × 10**(18 − s)``; ``s`` = :data:`IN_PYTHON` where not decided here:
    NaN, infinities, 0, ``|y| >= 2**53``, a power of two (its interval is not symmetric), more
    than 18 decimals (``to_wad`` truncates), or two candidates that read back equally near
    ``y``.

    A whole ``y`` below ``2**53`` is its own shortest decimal (another of fewer digits is at
    least 1 away, more than half its ulp). Else, for ``s`` = 1, 2, ...: ``c`` is the exact
    ``|y| × 10**s`` (:func:`_two_product`; ``10**s`` is a float exactly) rounded to the
    nearest integer, and it reads back as ``y`` when ``|c − |y| × 10**s|`` is below half an ulp
    of ``y`` times ``10**s`` (an exact float), or equal with ``y``'s significand even (the
    reader rounds ties to even); the first ``s`` whose ``c`` reads back is the shortest (no
    decimal of fewer decimals does, and ``c`` is the nearest of its length)."""
    a = abs(y)
    if not (a > 0.0 and a < _TWO53):
        return np.int64(0), IN_PYTHON
    fraction, exponent = math.frexp(a)
    if fraction == 0.5:
        return np.int64(0), IN_PYTHON
    sign = np.int64(-1) if y < 0 else np.int64(1)
    if a == math.floor(a):
        return sign * np.int64(a), 0
    even = (fraction * _TWO53) % 2.0 == 0.0
    scale = 1.0
    for s in range(1, 19):
        scale *= 10.0  # 10**s, exact
        p, e = _two_product(a, scale)
        if p >= _TWO62:
            break
        c, tie = _nearest_integer(p, e)
        half_ulp = math.ldexp(scale, exponent - 54)  # ulp(a) / 2 × 10**s: 2**(exponent - 53) / 2
        gap = float(c) - p if p < _TWO52 else float(c - np.int64(p))  # exact
        side = _compare_abs(gap, -e, half_ulp)
        if side < 0 or (side == 0 and even):
            if tie:  # both neighbours read back: which one repr prints is not decided here
                break
            return sign * c, s
    return np.int64(0), IN_PYTHON


@_inline
def round12(x):
    """Python's ``round(x, 12)`` of a float: the exact ``x`` rounded to 12 decimals (ties to
    even), read back to the nearest float. From ``|x| >= 8192`` on a float's ulp is above
    1e-12 and ``round`` gives ``x`` back; below, the exact ``x × 1e12`` rounded to an integer
    ``k < 2**53`` is a float and ``k / 1e12`` one correctly rounded division. NaN and the
    infinities are given back as they are."""
    a = abs(x)
    if not (a < 8192.0):
        return x
    p, e = _two_product(x, 1e12)
    k, _ = _nearest_integer(p, e)
    if k == 0:  # round keeps the sign of a zero
        return math.copysign(0.0, x)
    return float(k) / 1e12


@_jit
def quote_wads(trade, price, quote, wads):
    """:func:`_quote_wads_into` without the rounded sizes kept."""
    _quote_wads_into(trade, price, quote, wads, np.empty(trade.shape[0]))


@_inline
def _quote_wads_into(trade, price, quote, wads, rounded):
    """Per market ``m`` (``trade`` the compiled step's row :data:`TRADE`, signed base units):
    the WAD of the trade the caller sends, ``to_wad(round(trade[m], 12))``, and of its quote's
    bound, ``to_wad(price[m] × (1 − quote[m]))`` for a buy, ``× (1 + quote[m])`` for a sell, as
    :func:`shortest_decimal` digits and scales in ``wads``' rows :data:`W_DELTA_DIGITS` ...
    (a scale :data:`NO_TRADE` where the size is 0 or rounds to 0, :data:`IN_PYTHON` where
    the caller converts in Python). ``rounded[m]``: ``round12(trade[m])`` where the trade is
    not 0 (else left as it is), for the caller to read instead of rounding again."""
    for m in range(trade.shape[0]):
        x = trade[m]
        wads[W_BOUND_DIGITS, m], wads[W_BOUND_SCALE, m] = 0, IN_PYTHON
        if x == 0:
            wads[W_DELTA_DIGITS, m], wads[W_DELTA_SCALE, m] = 0, NO_TRADE
            continue
        y = round12(x)
        rounded[m] = y
        if y == 0:
            wads[W_DELTA_DIGITS, m], wads[W_DELTA_SCALE, m] = 0, NO_TRADE
            continue
        c, s = shortest_decimal(y)
        wads[W_DELTA_DIGITS, m], wads[W_DELTA_SCALE, m] = c, s
        if s == IN_PYTHON:
            continue
        q = quote[m]
        bound = price[m] * (1.0 - q if c > 0 else 1.0 + q)
        c, s = shortest_decimal(bound)
        wads[W_BOUND_DIGITS, m], wads[W_BOUND_SCALE, m] = c, s


@_jit
def vault_step_quotes(step, since, last_usd, size, before, price, oi_long, oi_short, closes,
                      market, close_size, side, has_flow, flow_long, flow_short, quoting,
                      run_scalars, consts, out, health, wads):  # fmt: skip
    """:func:`vault_step`, then (``quoting``) :func:`quote_wads` of its trades into ``wads``,
    in one dispatch; returns the new ``liquidatable_since``."""
    n = len(price)
    since = _vault_step_into(step, since, last_usd[0], last_usd[1], last_usd[2], size, before,
                             price, oi_long, oi_short, closes, market, close_size, side,
                             has_flow, flow_long, flow_short, quoting, run_scalars[0],
                             run_scalars[1], consts, out, health,
                             np.empty(N_SCRATCH * n))  # fmt: skip
    if quoting:
        _quote_wads_into(out[TRADE], price, consts[QUOTE], wads, np.empty(n))
    return since


#: Rows of :func:`vault_block`'s ``work`` (float64, (7, M)): the compiled step's ``out``
#: (rows :data:`OI_LONG` ... :data:`UNWIND`), then a quiet block's open interest with the
#: vault's trades (:data:`Q_LONG`, :data:`Q_SHORT`) and the trades' sizes (:data:`PLANNED`).
Q_LONG, Q_SHORT, PLANNED = 4, 5, 6
#: Rows of :func:`vault_block`'s ``ints`` (int64, (6, M)): :func:`quote_wads`' rows
#: (:data:`W_DELTA_DIGITS` ...), then per trade in block order its market
#: (:data:`K_MARKET`) and whether it is an unwind (:data:`K_UNWIND`, 1 / 0).
K_MARKET, K_UNWIND = 4, 5
#: :func:`vault_block`'s count when a trade's WADs are left to Python: the caller builds the
#: trades from ``work`` and ``wads`` (:func:`simulator.engine.mm_vault.quote_lists`).
LISTS_IN_PYTHON = -1
#: 10.0**j, j = 0..18: floats exactly (5**18 < 2**53).
_POW10F = np.array([1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                    1e14, 1e15, 1e16, 1e17, 1e18])  # fmt: skip
#: A WAD's digits below this are floats exactly (2**53).
_EXACT_DIGITS = 9007199254740992


#: 5**j, j = 0..18 (below 2**42).
_POW5 = np.array([5**j for j in range(19)], dtype=np.int64)


@_jit
def scaled_float(c, k):
    """:func:`_scaled_float_into` with its own scratch."""
    return _scaled_float_into(c, k, np.zeros(8, dtype=np.int64))


@_inline
def _scaled_float_into(c, k, limbs):
    """``float(c × 10**k)`` of an integer ``c`` (int64) and ``0 <= k <= 18``: Python's
    ``float`` of the exact integer, correctly rounded (ties to even). Below ``2**53`` ``c`` is
    a float exactly, as is ``10**k``: one IEEE product. Else the exact ``|c| × 5**k`` in
    16-bit limbs (at most 105 bits), its top 53 bits rounded to nearest even by the next bit
    and the rest, times ``2**k``. ``limbs``: (8,) int64 scratch (zeroed here)."""
    if -_EXACT_DIGITS < c < _EXACT_DIGITS:
        return float(c) * _POW10F[k]
    negative = c < 0
    a = -c if negative else c  # |c| < 2**63 (the digits of a WAD: c > -2**63)
    f = _POW5[k]
    for i in range(8):
        limbs[i] = 0
    for i in range(4):  # schoolbook in base 2**16: column sums below 2**35
        ai = (a >> (16 * i)) & 0xFFFF
        for j in range(3):
            limbs[i + j] += ai * ((f >> (16 * j)) & 0xFFFF)
    for i in range(7):  # carries
        limbs[i + 1] += limbs[i] >> 16
        limbs[i] &= 0xFFFF
    top = 7
    while limbs[top] == 0:
        top -= 1
    length = 16 * top
    v = limbs[top]
    while v > 0:
        length += 1
        v >>= 1
    m = np.int64(0)  # the top 53 bits (length > 53: a >= 2**53)
    for b in range(length - 1, length - 54, -1):
        m = 2 * m + ((limbs[b >> 4] >> (b & 15)) & 1)
    low = length - 54  # the round bit's position
    round_bit = (limbs[low >> 4] >> (low & 15)) & 1
    sticky = False
    for b in range(low):
        if (limbs[b >> 4] >> (b & 15)) & 1:
            sticky = True
            break
    if round_bit == 1 and (sticky or (m & 1) == 1):
        m += 1
    x = math.ldexp(float(m), low + 1 + k)
    return -x if negative else x


#: :func:`vault_block`'s float buffer (1-D, :func:`block_buffers`): the run's scalars
#: (participation, max trade USD) at :data:`_F_SCALARS`, the carried health (equity,
#: maintenance, notional; USD) at :data:`_F_HEALTH`, then for M markets the quote parameters
#: ((4, M), rows :data:`LIMIT` ...), ``work`` ((7, M), rows :data:`OI_LONG` ...
#: :data:`PLANNED`), ``values`` ((M, 2)) and the step's scratch (:data:`N_SCRATCH` × M).
_F_SCALARS, _F_HEALTH, _F_CONSTS = 0, 2, 5
#: Its int buffer (1-D): ``ints`` ((6, M), rows :data:`W_DELTA_DIGITS` ... :data:`K_UNWIND`),
#: the batch rows' ``template`` and ``calls`` ((M, 3) each), then 8 limbs of scratch.
_N_LIMBS = 8


class BlockViews(NamedTuple):
    """The arrays of :func:`vault_block`'s two buffers, as views (:func:`block_views`)."""

    health: np.ndarray
    """(3,) the carried health (equity, maintenance, notional; USD)."""
    consts: np.ndarray
    """(4, M) the quote parameters."""
    work: np.ndarray
    """(7, M) the step's ``out`` rows, a quiet block's open interest, the planned sizes."""
    values: np.ndarray
    """(M, 2) the trades' values (size and bound, floats of the WADs)."""
    ints: np.ndarray
    """(6, M) the WADs' digits and scales, the trades' markets and unwinds."""
    template: np.ndarray
    """(M, 3) the vault's call row per market."""
    calls: np.ndarray
    """(M, 3) the trades' call rows (the first ``n``)."""


def block_buffers(consts: np.ndarray, scalars: np.ndarray, template: np.ndarray):
    """:func:`vault_block`'s (float, int) buffers for a run of ``M = consts.shape[1]`` markets,
    with the run's quote parameters ``consts`` ((4, M)), scalars (participation, max trade
    USD) and the vault's call row per market ``template`` ((M, 3) int64) written in."""
    m = consts.shape[1]
    floats = np.zeros(_F_CONSTS + (13 + N_SCRATCH) * m)
    floats[_F_SCALARS : _F_SCALARS + 2] = scalars
    floats[_F_CONSTS : _F_CONSTS + 4 * m] = consts.ravel()
    ints = np.zeros(12 * m + _N_LIMBS, dtype=np.int64)
    ints[6 * m : 9 * m] = template.ravel()
    return floats, ints


def block_views(floats: np.ndarray, ints: np.ndarray, m: int) -> BlockViews:
    """The arrays of :func:`block_buffers`' buffers (``m`` markets), views of them."""
    w0 = _F_CONSTS + 4 * m
    v0 = w0 + 7 * m
    return BlockViews(
        floats[_F_HEALTH : _F_HEALTH + 3], floats[_F_CONSTS:w0].reshape(4, m),
        floats[w0:v0].reshape(7, m), floats[v0 : v0 + 2 * m].reshape(m, 2),
        ints[: 6 * m].reshape(6, m), ints[6 * m : 9 * m].reshape(m, 3),
        ints[9 * m : 12 * m].reshape(m, 3),
    )  # fmt: skip


@_jit
def vault_block(step, since, equity_usd, maintenance_usd, initial_usd, size, before, price,
                oi_long, oi_short, closes, market, close_size, side, has_flow, flow_long,
                flow_short, quoting, floats, ints):  # fmt: skip
    """The vault's step with its trades in the form the venue's compiled batch takes them (the
    mirror's fast mode), in one dispatch: :func:`vault_step_quotes` (``last_usd`` the floats
    ``equity_usd``, ``maintenance_usd``, ``initial_usd``; its ``out`` rows 0-3 of ``work``,
    its ``wads`` rows 0-3 of ``ints``), then per market with a trade, in market order, what
    :func:`simulator.engine.mm_vault.quote_lists` makes of it: trade ``k``'s batch row
    (``calls[k]``, a copy of ``template[m]``) and values (``values[k]``: ``float`` of its
    size's WAD and of its bound's, 0.0 for an unwind), its market and whether it is an
    unwind (``ints`` rows :data:`K_MARKET`, :data:`K_UNWIND`), its size as ``from_wad`` of
    the WAD (``work`` row :data:`PLANNED`, 0.0 elsewhere); then a quiet block's open interest
    (rows :data:`Q_LONG`, :data:`Q_SHORT`): :func:`after_trades` of the planned sizes when
    there is a trade, else rows :data:`OI_LONG` / :data:`OI_SHORT` as they are. Returns
    ``(since, n)``: the new ``liquidatable_since`` and the number of trades, or
    :data:`LISTS_IN_PYTHON` when a WAD is Python's to make (a scale :data:`IN_PYTHON`: the
    caller builds the trades from ``work`` and ``ints``). The floats of the WADs are
    :func:`scaled_float`'s (Python's ``float`` of the integer).

    The run's arrays (the quote parameters and scalars, ``health``, ``work``, ``values``,
    ``ints``, ``template``, ``calls``) and the step's scratch are two buffers, ``floats`` and
    ``ints`` (:func:`block_buffers`, :func:`block_views`): two arguments instead of nine (a
    dispatch costs ~0.1 us an array), no allocation; the helpers are inlined (no call's
    reference counts)."""
    m_count = price.shape[0]
    w0 = _F_CONSTS + 4 * m_count
    v0 = w0 + 7 * m_count
    t0 = v0 + 2 * m_count
    health = floats[_F_HEALTH : _F_HEALTH + 3]
    consts = floats[_F_CONSTS:w0].reshape((4, m_count))
    work = floats[w0:v0].reshape((7, m_count))
    values = floats[v0:t0].reshape((m_count, 2))
    tmp = floats[t0 : t0 + N_SCRATCH * m_count]
    rounded = tmp[10 * m_count : 11 * m_count]
    wint = ints[: 6 * m_count].reshape((6, m_count))
    template = ints[6 * m_count : 9 * m_count].reshape((m_count, 3))
    calls = ints[9 * m_count : 12 * m_count].reshape((m_count, 3))
    limbs = ints[12 * m_count : 12 * m_count + _N_LIMBS]
    out, wads = work[:4], wint[:4]
    since = _vault_step_into(step, since, equity_usd, maintenance_usd, initial_usd, size,
                             before, price, oi_long, oi_short, closes, market, close_size,
                             side, has_flow, flow_long, flow_short, quoting,
                             floats[_F_SCALARS], floats[_F_SCALARS + 1], consts, out, health,
                             tmp)  # fmt: skip
    if quoting:
        _quote_wads_into(out[TRADE], price, consts[QUOTE], wads, rounded)
    planned = work[PLANNED]
    for m in range(m_count):
        planned[m] = 0.0
    n = 0
    if quoting:
        for m in range(m_count):
            scale = wads[W_DELTA_SCALE, m]
            if scale == NO_TRADE:
                continue
            if scale == IN_PYTHON:
                return since, LISTS_IN_PYTHON
            unwind = out[UNWIND, m] != 0.0  # bool(out[UNWIND, m])
            bound = 0.0
            if not unwind:
                bound_scale = wads[W_BOUND_SCALE, m]
                if bound_scale == IN_PYTHON:
                    return since, LISTS_IN_PYTHON
                bound = _scaled_float_into(wads[W_BOUND_DIGITS, m], 18 - bound_scale, limbs)
            # from_wad of the WAD, c / 10**s correctly rounded: the float whose shortest
            # decimal c × 10**-s is (quote_wads' round12 of the trade, kept in rounded)
            planned[m] = rounded[m]
            for j in range(calls.shape[1]):
                calls[n, j] = template[m, j]
            values[n, 0] = _scaled_float_into(wads[W_DELTA_DIGITS, m], 18 - scale, limbs)
            values[n, 1] = bound
            wint[K_MARKET, n] = m
            wint[K_UNWIND, n] = 1 if unwind else 0
            n += 1
    if n > 0:
        after_trades(size, planned, out[OI_LONG], out[OI_SHORT], work[Q_LONG : Q_SHORT + 1])
    else:
        for m in range(m_count):
            work[Q_LONG, m] = out[OI_LONG, m]
            work[Q_SHORT, m] = out[OI_SHORT, m]
    return since, n


@_jit
def vault_reads(size, health, size_base):
    """The vault's reads after a block as the chain engine parses them (the mirror's fast
    mode): ``size_base`` = its sizes ``size`` (WAD floats) ``/ 1e18``, and the Python floats
    (equity, maintenance, initial margin) USD of ``health`` ((3, 1) WAD floats, the compiled
    ``cross_health``'s), each ``/ 1e18`` (``float(x) / WAD``: 10**18 is a float exactly)."""
    for m in range(size.shape[0]):
        size_base[m] = size[m] / 1e18
    return health[0, 0] / 1e18, health[1, 0] / 1e18, health[2, 0] / 1e18


def warm_up(market: np.ndarray) -> None:
    """Load (or compile) the kernels a run calls, for the argument types it passes, on a
    one-market venue with no closes: a kernel's first call with a type loads it from the
    on-disk cache (a few ms), which belongs to a run's setup, not to its first step.
    ``market``: the book's market index per row (its dtype and whether it is read-only are a
    type of their own); every other array a run passes is a writable float64, int64 or int8
    array."""
    one, none = np.zeros(1), np.zeros(0)
    vault_step_quotes(0, -1, np.zeros(3), one, one, one, one, one, np.zeros(0, dtype=np.int64),
                      market[:0], none, np.zeros(0, dtype=np.int8), False, none, none, True,
                      np.zeros(2), np.ones((4, 1)), np.empty((4, 1)), np.empty(3),
                      np.zeros((4, 1), dtype=np.int64))  # fmt: skip
    after_trades(one, one, one, one, np.empty((2, 1)))
    floats, ints = block_buffers(np.ones((4, 1)), np.zeros(2), np.zeros((1, 3), dtype=np.int64))
    vault_block(0, -1, 0.0, 0.0, 0.0, one, one, one, one, one, np.zeros(0, dtype=np.int64),
                market[:0], none, np.zeros(0, dtype=np.int8), False, none, none, True, floats,
                ints)  # fmt: skip
    vault_reads(one, np.zeros((3, 1)), np.empty(1))
