"""The order flow's plan compiled (numba): one call a step, :func:`plan_step` (the two passes
below around the step's random draws, drawn inside from the flow stream's step generator as
numpy's PCG64 draws them, in the same order and count: see "numpy's PCG64" below), over the
run's tables (:class:`simulator.engine.flow.KernelTables`; their layout below) and the engine's
book-wide state, read and written in place at the slots' rows.

- :func:`plan_before`: one pass over the slots (each one's equity carried to the step's
  oracle price; the closes of open flow positions at take-profit, stop-loss or the end of
  their holding time, their sizes by side; the flat slots that may enter), then the markets'
  signals (return, drawdown, volatility excess over the run's table of log returns) and the
  arrivals' intensity and side per (kind, market) (:func:`_intensity`).
- :func:`plan_after`: the eligible slots the Poisson arrivals take (first in key order per
  (kind, market)), their leverage, side and size, the planned change of open interest, and
  the opening slots' side, equity at open and exit step.

:func:`plan_before` and :func:`plan_after` are also called on their own, numpy drawing between
them, where :func:`plan_step` draws nothing (a rare case: :data:`STATUS_NO_STATE`). They
write their outputs into the run's tables and return only counts (an array returned
from a kernel costs a Python call and an allocation a step). They are the decisions of
:mod:`simulator.agents.flow`'s numpy functions (``exits``, ``market_signals``, ``intensity``,
``pick_slots``), as the step before session 28 composed them (``step_orders`` on its kernels,
kept in ``tests/engine/flow_reference.py``; ``tests/engine/test_flow_plan.py`` and
``test_flow_plan_parts.py`` hold the plan to it), term by term and in the same order, so the
floats are the same to the bit: no ``fastmath`` (no fused multiply-adds, no reordered sums);
a column sum is a plain loop down the rows, as numpy's ``add.reduce`` over axis 0 of a
row-major array adds row after row; ``error_model="numpy"``, so that a division by zero gives
inf or NaN as numpy's does rather than raising. The feed prices' logarithms are numpy's (the
caller takes them into the tables): numba's ``log`` is the C library's, whose last bit may
differ from numpy's SIMD one; the holding times' ``log1p`` is the C library's only where that
cannot change the exit step (:data:`HOLD_MARGIN`; else numpy's, :func:`recheck_exit_steps`).
``tests/engine/test_flow_plan_step.py`` holds :func:`plan_step` to the plan of session 28
(numpy's draws between the two passes) and ``tests/agents/test_flow_draws.py`` the draws to
numpy's; ``tests/engine/test_flow_plan_compute.py`` holds the kernels to their form before
session 29 made them cheaper (``tests/engine/flow_jit_reference.py``: nothing allocated a step,
the picks over the eligible slots only, both volatility windows in one two-pass walk four
markets at a time, PCG64 skips by a constant jump table; session 30: contiguous slots' rows
read without a gather, indexed as unsigned (no negative-index wraparound), a flat slot's
equity only when it may enter, the groups' eligible counts and the picks' reset in the slot
pass, the buckets and keys in one walk, a step's few opens ordered from the buckets).

Self-contained on purpose: numba's on-disk cache is invalidated by an edit of the file of the
function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

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


# -- numpy's PCG64 and its draws ------------------------------------------------------------------
#
# The step's draws are numpy's, drawn here: a PCG64 state as four uint64 words ([state low,
# state high, increment low, increment high]: the layout of the bit generator's memory that
# simulator.scenario.randomness.StepStream writes a step's state into, so that drawing advances
# the Generator numpy sees) advanced as numpy's pcg64 does (state = state × multiplier +
# increment in 128-bit arithmetic, then the XSL-RR output of the new state), its doubles
# numpy's ``next_double`` (the top 53 bits × 2**-53), its Poisson counts numpy's
# ``random_poisson`` (the multiplication method below 10, PTRS from 10, numpy's ``loggam``),
# with the C library's exp, log and sqrt that numpy's C code calls. numba's own Generator
# support draws the same numbers, but unboxing a Generator argument costs ~10 us and ~27 Python
# calls a kernel call; a state array costs what any array does.

_S11 = np.uint64(11)
_S58 = np.uint64(58)
_S63 = np.uint64(63)
_S64 = np.uint64(64)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_PCG_MULT_LOW = np.uint64(4865540595714422341)  # PCG64's 128-bit multiplier, low word
_PCG_MULT_HIGH = np.uint64(2549297995355413924)  # and high word
_TWO_POW_M53 = 1.0 / 9007199254740992.0
#: Steps up to which :func:`_skip` steps rather than squares.
_SKIP_BY_STEPS = 4
#: numpy's largest Poisson mean (``_generator.pyx``: ``POISSON_LAM_MAX``).
POISSON_LAM_MAX = float(np.iinfo(np.int64).max - np.sqrt(np.iinfo(np.int64).max) * 10)


@intrinsic
def _mul_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one 128-bit multiply)."""
    if a != types.uint64 or b != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@_jit
def _advance(low, high, inc_low, inc_high):
    """PCG64's step of the 128-bit state ``(low, high)``: ``state × multiplier + increment``
    (mod 2**128). Returns the new ``(low, high)``."""
    product_low = low * _PCG_MULT_LOW
    product_high = _mul_high(low, _PCG_MULT_LOW) + low * _PCG_MULT_HIGH + high * _PCG_MULT_LOW
    new_low = product_low + inc_low
    carry = _ONE if new_low < product_low else _ZERO
    return new_low, product_high + inc_high + carry


@_jit
def _output(low, high):
    """PCG64's XSL-RR output of the state ``(low, high)``: ``high ^ low`` rotated right by the
    state's top six bits."""
    x = high ^ low
    rot = high >> _S58
    return (x >> rot) | (x << ((_S64 - rot) & _S63))


@_jit
def next_uint64(words):
    """numpy's ``pcg64_next64``: the state ``words`` advanced one step (in place), the XSL-RR
    output of the new state."""
    low, high = _advance(words[0], words[1], words[2], words[3])
    words[0] = low
    words[1] = high
    return _output(low, high)


@_jit
def _mul128(a_low, a_high, b_low, b_high):
    """``a × b`` mod 2**128 of (low, high) uint64 word pairs."""
    return a_low * b_low, _mul_high(a_low, b_low) + a_low * b_high + a_high * b_low


@_jit
def _add128(a_low, a_high, b_low, b_high):
    """``a + b`` mod 2**128 of (low, high) uint64 word pairs."""
    low = a_low + b_low
    return low, a_high + b_high + (_ONE if low < a_low else _ZERO)


def _jump_table() -> np.ndarray:
    """PCG64's jumps as ``(levels, 64, 4)`` uint64: row ``[l, d]`` the multiplier ``A`` and
    the increment's factor ``S`` (each as (low, high) words) of ``d × 64**l`` steps: ``n``
    steps take the state ``s`` (mod 2**128) to ``A × s + S × increment``, with ``A =
    multiplier**n`` and ``S = 1 + multiplier + ... + multiplier**(n - 1)``. A constant of the
    generator (not of a run): numba compiles it into the kernels."""
    mask = (1 << 128) - 1
    mult = (int(_PCG_MULT_HIGH) << 64) | int(_PCG_MULT_LOW)
    table = np.zeros((_JUMP_LEVELS, _JUMP_DIGITS, 4), dtype=np.uint64)
    base_a, base_s = mult, 1  # one step
    for level in range(_JUMP_LEVELS):
        a, s = 1, 0  # zero steps
        for d in range(_JUMP_DIGITS):
            table[level, d] = (a & _WORD, a >> 64, s & _WORD, s >> 64)
            a, s = (base_a * a) & mask, (base_a * s + base_s) & mask
        base_a, base_s = a, s  # 64 × base steps
    return table


_WORD = (1 << 64) - 1
#: :data:`_JUMPS`' digits (base 64) and levels (enough for any int64 count of steps).
_JUMP_DIGITS, _JUMP_LEVELS = 64, 11
_JUMPS = _jump_table()


@_jit
def _skip(low, high, inc_low, inc_high, n):
    """PCG64's state ``(low, high)`` ``n`` >= 0 steps on (numpy's ``PCG64.advance``): step by
    step for a few, else a jump per base-64 digit of ``n`` (:data:`_JUMPS`; the jumps, powers
    of one affine map, commute)."""
    if n < _SKIP_BY_STEPS:
        for _ in range(n):
            low, high = _advance(low, high, inc_low, inc_high)
        return low, high
    level = 0
    while n > 0:
        d = n & 63
        if d:
            jump = _JUMPS[level, d]
            p_low, p_high = _mul128(jump[0], jump[1], low, high)
            q_low, q_high = _mul128(jump[2], jump[3], inc_low, inc_high)
            low, high = _add128(p_low, p_high, q_low, q_high)
        n >>= 6
        level += 1
    return low, high


@_jit
def uniform_at(words, pos, target):
    """The ``target``-th double (0-based) of a run of draws whose first ``pos`` (<= ``target``)
    the state ``words`` is past: the state skipped to just before it (:func:`_skip`), then
    :func:`next_double`'s draw; ``words`` is left past it (at ``target + 1``). What numpy's
    ``random(out=)`` puts at ``target``, without drawing the doubles between."""
    low, high = _skip(words[0], words[1], words[2], words[3], target - pos)
    low, high = _advance(low, high, words[2], words[3])
    words[0] = low
    words[1] = high
    return np.float64(_output(low, high) >> _S11) * _TWO_POW_M53


@_jit
def skip_draws(words, n):
    """``words`` advanced ``n`` >= 0 draws, in place (:func:`_skip`)."""
    low, high = _skip(words[0], words[1], words[2], words[3], n)
    words[0] = low
    words[1] = high


@_jit
def next_double(words):
    """numpy's ``next_double`` of PCG64 (``Generator.random``'s draw): the top 53 bits of
    :func:`next_uint64` × 2**-53."""
    return np.float64(next_uint64(words) >> _S11) * _TWO_POW_M53


@_jit
def _loggam(x):
    """numpy's ``random_loggam`` (log-gamma by Stirling's series, shifted up to 7)."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = np.int64(7.0 - x) if x < 7.0 else np.int64(0)
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = -1.39243221690590e00
    gl0 = gl0 * x2 + 1.796443723688307e-01
    gl0 = gl0 * x2 - 2.955065359477124e-02
    gl0 = gl0 * x2 + 6.410256410256410e-03
    gl0 = gl0 * x2 - 1.917526917526918e-03
    gl0 = gl0 * x2 + 8.417508417508418e-04
    gl0 = gl0 * x2 - 5.952380952380952e-04
    gl0 = gl0 * x2 + 7.936507936507937e-04
    gl0 = gl0 * x2 - 2.777777777777778e-03
    gl0 = gl0 * x2 + 8.333333333333333e-02
    gl = gl0 / x0 + 0.5 * 1.8378770664093453e00 + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@_jit
def poisson(words, lam):
    """numpy's ``random_poisson`` of mean ``lam`` (0 <= lam <= :data:`POISSON_LAM_MAX`; the
    caller checks): 0 without a draw for 0, the multiplication method below 10, PTRS
    (Hörmann's transformed rejection) from 10."""
    if lam >= 10.0:
        slam = math.sqrt(lam)
        loglam = math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2.0)
        while True:
            u = next_double(words) - 0.5
            v = next_double(words)
            us = 0.5 - abs(u)
            k = np.int64(math.floor((2.0 * a / us + b) * u + lam + 0.43))
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            log_v = math.log(v) if v > 0.0 else -math.inf  # C's log(0.0)
            if (log_v + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
                -lam + k * loglam - _loggam(k + 1.0)
            ):
                return k
    if lam == 0.0:
        return np.int64(0)
    enlam = math.exp(-lam)
    x = np.int64(0)
    prod = 1.0
    while True:
        prod *= next_double(words)
        if prod > enlam:
            x += 1
        else:
            return x


# -- the run's tables --------------------------------------------------------------------------
#
# The run's constants and the step's work travel packed (one table per dtype and length, built
# once a run by simulator.engine.flow.kernel_tables); the book-wide state arrays are the
# engine's own, read and written in place at the slots' rows.

#: Rows of the per-slot int64 table (R columns): the run's constants (book row, kind, market,
#: (kind, market) group, cooldown in steps, place in the units' rows, unit), then the step's
#: work (the slots that may enter, the closing slots, the opening slots, each eligible slot's
#: last side, the opens whose exit step :func:`recheck_exit_steps` settles, the eligible slots of
#: the groups with arrivals bucketed by group).
(SLOT_ROW, SLOT_KIND, SLOT_MARKET, SLOT_GROUP, SLOT_COOLDOWN, SLOT_IN_UNIT_ROWS, SLOT_UNIT,
 STEP_ELIGIBLE, STEP_CLOSE, STEP_OPEN, STEP_LAST_SIDE, STEP_RECHECK,
 STEP_MEMBERS) = range(13)  # fmt: skip
SLOT_FIELDS = 13
#: Rows of the units' int64 table: every book row of the slots' units, its unit, its market.
UNIT_ROW, UNIT_SLOT, UNIT_MARKET = range(3)
UNIT_FIELDS = 3
#: Rows of the per-slot int8 table the step writes: the closes' reasons (into
#: ``EXIT_REASONS``), the opens' sides (+1 / -1), the eligible slots the arrivals take (1; set
#: at the eligible slots only, each step).
CODE_CLOSE_REASON, CODE_OPEN_SIDE, CODE_PICKED = range(3)
CODE_FIELDS = 3
#: Rows of the per-kind float table (K columns).
(KIND_TAKE_PROFIT, KIND_STOP_LOSS, KIND_RATE_PER_HOUR, KIND_LEVERAGE_MIN_SHARE,
 KIND_LEVERAGE_MAX_SHARE, KIND_HOLD_STEPS) = range(6)  # fmt: skip
KIND_FIELDS = 6
#: The float parameters' places (the last: :func:`plan_step`'s margin around a whole holding
#: time, :data:`HOLD_MARGIN`).
(P_STEP_HOURS, P_VOLATILITY_SENSITIVITY, P_MOMENTUM_SENSITIVITY, P_MIN_RETURN, P_DIP_MIN_FALL,
 P_SHORT_MIN_FALL, P_MIN_FUNDING_RATE, P_MIN_EQUITY, P_REENTRY_LONG_SHARE,
 P_HOLD_MARGIN) = range(10)  # fmt: skip
PARAM_FIELDS = 10
#: The int table's places: the run's (lookback and reference windows in steps, every slot its
#: unit's only row 0 / 1, the idle outcome code, the number of markets), then the steps' (the
#: rows of the log tables filled, and the step's counts: slots that may enter, closes,
#: (kind, market) groups with arrivals expected, opens whose exit step is rechecked).
(I_LOOKBACK, I_REFERENCE, I_OWN_UNITS, I_IDLE, I_N_MARKETS, I_LOGGED, I_N_ELIGIBLE, I_N_CLOSE,
 I_N_ACTIVE, I_N_RECHECK) = range(10)  # fmt: skip
INT_FIELDS = 10
#: Rows of the per-slot float table (R columns): the step's four uniforms per slot (drawn into
#: it: ordering key, leverage, holding time, side), numpy's ``log1p(-u)`` of the holding-time
#: uniform, the ticket (USD, fixed), the carried equity of the slots that may enter (USD), the
#: opens' sizes (base units).
(WORK_KEY, WORK_LEVERAGE, WORK_HOLD, WORK_SIDE, WORK_LOG_KEEP, WORK_TICKET, WORK_EQUITY,
 WORK_OPEN_SIZE) = range(8)  # fmt: skip
WORK_FIELDS = 8
#: Rows of the per-market float table (M columns): the venue's maximum leverage (fixed), the
#: step's closes' long and short sizes, the planned change of long and short open interest;
#: the step's work: the log returns' means and sums of squared deviations over the reference
#: and the lookback windows (:func:`_window_stds`).
(MARKET_MAX_LEVERAGE, MARKET_LONG_CLOSE, MARKET_SHORT_CLOSE, MARKET_LONG, MARKET_SHORT,
 MARKET_MEAN_LONG, MARKET_MEAN_SHORT, MARKET_VAR_LONG, MARKET_VAR_SHORT) = range(9)  # fmt: skip
MARKET_FIELDS = 9
#: Rows of the per-(kind, market) int64 table (K × M columns, kind-major): each group's side
#: (+1 / -1; 0: the slot's own), the groups with arrivals expected (their index, the first
#: ``I_N_ACTIVE``), their Poisson draws (the caller's), the arrivals and the unfilled ones;
#: the step's work: each group's eligible slots, the first place of its bucket in
#: ``slots[STEP_MEMBERS]`` and the bucket's fill.
KM_SIDE, KM_ACTIVE, KM_DRAWN, KM_COUNT, KM_UNFILLED, KM_AVAILABLE, KM_START, KM_FILL = range(8)
KM_FIELDS = 8
#: Rows of the log tables (2, T, M): numpy's log of each step's feed prices (the caller's, row
#: by row), and the one-step log returns (row ``i``: log ``i`` less log ``i - 1``).
LOG_PRICE, LOG_RETURN = range(2)


@_jit
def unit_health(units, price, read_price, side, size_base, equity_usd, maintenance_usd):
    """Per margin unit of the slots (numbered by ``units[UNIT_SLOT]``): its rows' carried
    equity summed above their maintenance summed (in row order)."""
    unit_rows = units[UNIT_ROW]
    unit_slot = units[UNIT_SLOT]
    unit_market = units[UNIT_MARKET]
    n = len(unit_rows)
    n_units = 0
    for i in range(n):
        if unit_slot[i] + 1 > n_units:
            n_units = unit_slot[i] + 1
    eq_sum = np.zeros(n_units)
    mm_sum = np.zeros(n_units)
    for i in range(n):
        r = unit_rows[i]
        p = price[unit_market[i]]
        read = read_price[r]
        eq_sum[unit_slot[i]] += equity_usd[r] + np.float64(side[r]) * size_base[r] * (p - read)
        mm_sum[unit_slot[i]] += maintenance_usd[r] * (p / read)
    healthy = np.empty(n_units, dtype=np.bool_)
    for u in range(n_units):
        healthy[u] = eq_sum[u] > mm_sum[u]
    return healthy


@_jit
def _window_stds(markets, log_return, first_long, first_short, last):
    """Per market: the standard deviations of ``log_return[first_long:last]`` and
    ``log_return[first_short:last]`` (``first_long <= first_short``) as numpy's ``std``
    computes each (a column summed down the rows in order, divided by the count, squared
    deviations summed in order, divided, square root), into ``markets``' rows
    ``MARKET_VAR_LONG`` and ``MARKET_VAR_SHORT`` (their means into the ``MEAN`` rows). Four
    markets at a time, each its own sums in its own registers (the four chains of additions
    overlap: a sum in order is bound by the latency of its additions), both windows in the
    same two passes down the rows; a last block of fewer markets reads its last market's
    column in the place of the missing ones and drops their sums."""
    cols = log_return.shape[1]
    n_long = last - first_long
    n_short = last - first_short
    for c0 in range(0, cols, 4):
        c1 = min(c0 + 1, cols - 1)
        c2 = min(c0 + 2, cols - 1)
        c3 = min(c0 + 3, cols - 1)
        l0 = l1 = l2 = l3 = 0.0
        for i in range(first_long, first_short):
            l0 += log_return[i, c0]
            l1 += log_return[i, c1]
            l2 += log_return[i, c2]
            l3 += log_return[i, c3]
        s0 = s1 = s2 = s3 = 0.0
        for i in range(first_short, last):
            v0, v1, v2, v3 = (
                log_return[i, c0],
                log_return[i, c1],
                log_return[i, c2],
                log_return[i, c3],
            )
            l0 += v0
            l1 += v1
            l2 += v2
            l3 += v3
            s0 += v0
            s1 += v1
            s2 += v2
            s3 += v3
        ml0, ml1, ml2, ml3 = l0 / n_long, l1 / n_long, l2 / n_long, l3 / n_long
        ms0, ms1, ms2, ms3 = s0 / n_short, s1 / n_short, s2 / n_short, s3 / n_short
        l0 = l1 = l2 = l3 = 0.0
        for i in range(first_long, first_short):
            d0 = log_return[i, c0] - ml0
            d1 = log_return[i, c1] - ml1
            d2 = log_return[i, c2] - ml2
            d3 = log_return[i, c3] - ml3
            l0 += d0 * d0
            l1 += d1 * d1
            l2 += d2 * d2
            l3 += d3 * d3
        s0 = s1 = s2 = s3 = 0.0
        for i in range(first_short, last):
            v0, v1, v2, v3 = (
                log_return[i, c0],
                log_return[i, c1],
                log_return[i, c2],
                log_return[i, c3],
            )
            d0 = v0 - ml0
            d1 = v1 - ml1
            d2 = v2 - ml2
            d3 = v3 - ml3
            l0 += d0 * d0
            l1 += d1 * d1
            l2 += d2 * d2
            l3 += d3 * d3
            d0 = v0 - ms0
            d1 = v1 - ms1
            d2 = v2 - ms2
            d3 = v3 - ms3
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
        _put4(markets[MARKET_MEAN_LONG], c0, cols, ml0, ml1, ml2, ml3)
        _put4(markets[MARKET_MEAN_SHORT], c0, cols, ms0, ms1, ms2, ms3)
        _put4(markets[MARKET_VAR_LONG], c0, cols, math.sqrt(l0 / n_long), math.sqrt(l1 / n_long),
              math.sqrt(l2 / n_long), math.sqrt(l3 / n_long))  # fmt: skip
        _put4(markets[MARKET_VAR_SHORT], c0, cols, math.sqrt(s0 / n_short),
              math.sqrt(s1 / n_short), math.sqrt(s2 / n_short),
              math.sqrt(s3 / n_short))  # fmt: skip


@_jit
def _put4(row, c0, cols, x0, x1, x2, x3):
    """``row[c0:c0 + 4] = (x0, x1, x2, x3)``, cut at ``cols``."""
    row[c0] = x0
    if c0 + 1 < cols:
        row[c0 + 1] = x1
    if c0 + 2 < cols:
        row[c0 + 2] = x2
    if c0 + 3 < cols:
        row[c0 + 3] = x3


@_jit
def _intensity(km, lam, kinds, params, iparams, logs, feed, funding_rate, t, markets):
    """The markets' signals (return and drawdown over the lookback of ``feed``'s rows to
    ``t``, the volatility excess of the log returns over the lookback and the reference
    window) and the arrivals' intensity and side per (kind, market): the groups with arrivals
    expected into ``km[KM_ACTIVE]`` (kind-major) and their intensity into ``lam``, each group's
    side into ``km[KM_SIDE]``. Fills the log returns of the rows logged since the last call.
    Nothing allocated: the windows' sums in ``markets``' work rows, ``lam`` every group's
    intensity, then only those not zero, in place."""
    lookback = iparams[I_LOOKBACK]
    n_markets = feed.shape[1]
    # -- log returns of the new rows ---------------------------------------------------------
    log_price = logs[LOG_PRICE]
    log_return = logs[LOG_RETURN]
    first_new = iparams[I_LOGGED]
    if first_new < 1:
        first_new = 1
    for i in range(first_new, t + 1):
        for m in range(n_markets):
            log_return[i, m] = log_price[i, m] - log_price[i - 1, m]
    if t + 1 > iparams[I_LOGGED]:
        iparams[I_LOGGED] = t + 1
    # -- the windows ----------------------------------------------------------------------
    n_hist = t + 1
    w = min(lookback, n_hist - 1)
    start = t - iparams[I_REFERENCE]
    if start < 0:
        start = 0
    n_ret = t - start  # returns of the window: rows start + 1 .. t
    first_short = n_ret - lookback if lookback < n_ret else 0
    with_vol = n_ret - first_short >= 2
    step_hours = params[P_STEP_HOURS]
    rate_per_hour = kinds[KIND_RATE_PER_HOUR]
    side = km[KM_SIDE]
    if with_vol:
        _window_stds(markets, log_return, start + 1, start + 1 + first_short, t + 1)
    for m in range(n_markets):
        # -- the market's signals -----------------------------------------------------------
        now = feed[t, m]
        r = 0.0
        if w > 0:
            r = _finite_or_zero(now / feed[t - w, m] - 1.0)
        peak = feed[t - w, m]
        for i in range(n_hist - w, n_hist):
            v = feed[i, m]
            if peak != peak or v != v:
                peak = math.nan
            elif v > peak:
                peak = v
        dd = _max0(_finite_or_zero(1.0 - now / peak))
        vol_excess = 0.0
        if with_vol:
            sigma_short, sigma_long = markets[MARKET_VAR_SHORT, m], markets[MARKET_VAR_LONG, m]
            excess = sigma_short / sigma_long - 1.0 if sigma_long > 0 else 0.0
            vol_excess = _max0(_finite_or_zero(excess))
        # -- intensity ----------------------------------------------------------------------
        rate = funding_rate[m]
        if rate != rate:  # np.nan_to_num
            rate = 0.0
        elif rate == math.inf:
            rate = _FLOAT_MAX
        elif rate == -math.inf:
            rate = -_FLOAT_MAX
        abs_ret = abs(r)
        boost = (1.0 + params[P_VOLATILITY_SENSITIVITY] * vol_excess
                 + params[P_MOMENTUM_SENSITIVITY] * abs_ret)  # fmt: skip
        active = (
            abs_ret >= params[P_MIN_RETURN] and r != 0,
            dd >= params[P_DIP_MIN_FALL],
            dd >= params[P_SHORT_MIN_FALL],
            True,
            abs(rate) >= params[P_MIN_FUNDING_RATE],
        )
        for k in range(_N_KINDS):
            lam[k * n_markets + m] = (rate_per_hour[k] * step_hours * boost
                                      * (1.0 if active[k] else 0.0))  # fmt: skip
        side[_MOMENTUM * n_markets + m] = 1 if r > 0 else (-1 if r < 0 else 0)
        side[_DIP_BUYERS * n_markets + m] = 1
        side[_SHORT_SELLERS * n_markets + m] = -1
        side[_REENTRY * n_markets + m] = 0
        side[_FUNDING_ARBITRAGE * n_markets + m] = -1 if rate > 0 else (1 if rate < 0 else 0)
    # The groups whose intensity is not zero, in numpy's order of the (K, M) draws: Poisson
    # with intensity 0 gives 0 without drawing (kept in place: a group's place is at or after
    # its place among those kept).
    active_groups = km[KM_ACTIVE]
    n_active = 0
    for g in range(_N_KINDS * n_markets):
        if lam[g] != 0.0:
            active_groups[n_active] = g
            lam[n_active] = lam[g]
            n_active += 1
    iparams[I_N_ACTIVE] = n_active


@_jit
def plan_before(
    slots, units, codes, kinds, params, iparams, work, km, lam, markets, logs, feed,
    funding_rate, price, read_price, side, size_base, equity_usd, maintenance_usd, outcome,
    outcome_step, exit_step, open_equity, opens, t,
):  # fmt: skip
    """The step before its draws, in one pass over the slots: each slot's equity carried to
    this step's oracle ``price``; an open one whose unit is above maintenance closes at
    take-profit, stop-loss (shares of ``min(equity at open, ticket)``) or the end of its
    holding time (its slot into ``slots[STEP_CLOSE]``, its reason into
    ``codes[CODE_CLOSE_REASON]``, its size by side into ``markets``); a flat one that may enter
    (idle, or its cooldown over) with at least the minimum equity is eligible (into
    ``slots[STEP_ELIGIBLE]``, its equity into ``work[WORK_EQUITY]``, its last side into
    ``slots[STEP_LAST_SIDE]``). Then the markets' signals and the intensity
    (:func:`_intensity`; ``logs[LOG_PRICE]`` must hold numpy's log of ``feed``'s rows to
    ``t``). The counts go to ``iparams`` (``I_N_CLOSE``, ``I_N_ELIGIBLE``, ``I_N_ACTIVE``), each
    group's eligible slots to ``km[KM_AVAILABLE]``; the eligible slots' picks are reset
    (``codes[CODE_PICKED]``), for :func:`plan_after`."""
    rows = slots[SLOT_ROW]
    kind = slots[SLOT_KIND]
    market = slots[SLOT_MARKET]
    cooldown = slots[SLOT_COOLDOWN]
    slot_unit = slots[SLOT_UNIT]
    eligible = slots[STEP_ELIGIBLE]
    close_slots = slots[STEP_CLOSE]
    last_side = slots[STEP_LAST_SIDE]
    group = slots[SLOT_GROUP]
    close_reason = codes[CODE_CLOSE_REASON]
    picked = codes[CODE_PICKED]
    available = km[KM_AVAILABLE]
    ticket = work[WORK_TICKET]
    carried = work[WORK_EQUITY]
    take_profit = kinds[KIND_TAKE_PROFIT]
    stop_loss = kinds[KIND_STOP_LOSS]
    long_close = markets[MARKET_LONG_CLOSE]
    short_close = markets[MARKET_SHORT_CLOSE]
    own_units = iparams[I_OWN_UNITS] != 0
    idle = iparams[I_IDLE]
    min_equity = params[P_MIN_EQUITY]
    if own_units:
        unit_ok = np.zeros(0, dtype=np.bool_)
    else:
        unit_ok = unit_health(units, price, read_price, side, size_base, equity_usd,
                              maintenance_usd)  # fmt: skip
    for m in range(markets.shape[1]):
        long_close[m] = 0.0
        short_close[m] = 0.0
    for g in range(available.shape[0]):
        available[g] = 0
    n_close = 0
    n_eligible = 0
    # The slots' rows are ascending; when they are also contiguous (the slots follow the
    # opening book), a slot's row is the first one's plus its place: no gather.
    r0 = rows[0] if len(rows) else 0
    off = 0
    for j in range(len(rows)):
        off |= rows[j] - (r0 + j)
    contiguous = off == 0
    for j in range(len(rows)):
        k = kind[j]
        if k < 0:
            continue
        r = np.uint64(r0 + j if contiguous else rows[j])  # a book row (>= 0): no wraparound
        p = price[np.uint64(market[j])]
        read = read_price[r]
        size = size_base[r]
        if size > 0:
            equity = equity_usd[r] + np.float64(side[r]) * size * (p - read)
            if own_units:
                healthy = equity > maintenance_usd[r] * (p / read)
            else:
                healthy = unit_ok[slot_unit[j]]
            if not healthy:
                continue
            at_open = open_equity[r]
            stake = _nan_min(at_open, ticket[j])
            profit = equity - at_open
            tp = profit >= take_profit[np.uint64(k)] * stake
            sl = -profit >= stop_loss[np.uint64(k)] * stake
            if tp or sl or t >= exit_step[r]:
                close_slots[n_close] = j
                close_reason[n_close] = 0 if tp else (1 if sl else 2)
                n_close += 1
                m = market[j]
                long_close[m] += size * (1.0 if side[r] == 1 else 0.0)
                short_close[m] += size * (1.0 if side[r] == -1 else 0.0)
        elif size == 0:
            step = outcome_step[r]
            if outcome[r] == idle or (step >= 0 and t >= step + cooldown[j]):  # may enter
                equity = equity_usd[r] + np.float64(side[r]) * size * (p - read)
                if equity >= min_equity:
                    eligible[n_eligible] = j
                    carried[j] = equity
                    last_side[j] = side[r] if opens[r] > 0 else 0
                    picked[j] = 0
                    available[group[j]] += 1
                    n_eligible += 1
    iparams[I_N_CLOSE] = n_close
    iparams[I_N_ELIGIBLE] = n_eligible
    _intensity(km, lam, kinds, params, iparams, logs, feed, funding_rate, t, markets)


#: :func:`plan_step`'s margin around a whole holding time (relative): a holding time
#: ``-log1p(-u) × mean`` within it of a whole number of steps is left to
#: :func:`recheck_exit_steps`. numpy's ``log1p`` of an array is its SIMD one (SVML on AVX-512)
#: and differs from the C library's in the last bits for some inputs (a few ulps, ~1e-15
#: relative); the holding time's ceiling can differ only within that of a whole number, far
#: inside this margin.
HOLD_MARGIN = 1e-9


@_jit
def _exit_step(log_keep, hold_steps, t):
    """The exit step of an open at step ``t``: ``t + max(ceil(-log_keep × hold_steps), 1)``
    (``log_keep``: ``log1p(-u)`` of its holding-time uniform)."""
    hold = np.ceil(-log_keep * hold_steps)
    if hold < 1.0:  # np.maximum(hold, 1.0) (a NaN stays NaN)
        hold = 1.0
    return t + np.int64(hold)


@_jit
def _exit_step_of_uniform(u, hold_steps, t, margin, exit_step, r):
    """:func:`_exit_step` into ``exit_step[r]`` from the holding-time uniform ``u``, the log by
    the C library's ``log1p``, when the holding time is finite and farther than ``margin``
    (relative, at least absolute) from a whole number: there numpy's ``log1p`` gives the same
    ceiling. Returns False (nothing written) otherwise."""
    log_keep = math.log1p(-u)
    v = -log_keep * hold_steps
    if not math.isfinite(v) or abs(v - np.rint(v)) <= margin * max(abs(v), 1.0):
        return False
    exit_step[r] = _exit_step(log_keep, hold_steps, t)
    return True


@_jit
def recheck_exit_steps(slots, kinds, iparams, work, t, exit_step):
    """The exit steps :func:`plan_step` left (``slots[STEP_RECHECK]``, ``iparams[I_N_RECHECK]``
    of them, indices into the opens) from numpy's ``log1p(-u)`` the caller took into
    ``work[WORK_LOG_KEEP]``, as :func:`plan_after` computes them."""
    hold_steps = kinds[KIND_HOLD_STEPS]
    for i in range(iparams[I_N_RECHECK]):
        j = slots[STEP_OPEN, slots[STEP_RECHECK, i]]
        exit_step[slots[SLOT_ROW, j]] = _exit_step(work[WORK_LOG_KEEP, j],
                                                   hold_steps[slots[SLOT_KIND, j]], t)  # fmt: skip


@_jit
def round12(x):
    """``ndarray.round(12)`` of a float: numpy multiplies by ``1e12``, rounds half to even
    (``rint``) and divides by ``1e12``."""
    return np.rint(x * 1e12) / 1e12


#: Opens up to which :func:`plan_after` orders them by insertion from the groups' buckets
#: rather than by a walk of every eligible slot.
_SORT_MAX = 32
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
        picked[best] = 1


@_jit
def plan_after(slots, codes, kinds, params, iparams, work, km, markets, feed, t, side,
               open_equity, exit_step):  # fmt: skip
    """The step after its draws (``km[KM_DRAWN]``: the Poisson arrivals of the groups with
    arrivals expected; ``work``'s uniform rows and ``WORK_LOG_KEEP``): each (kind, market)
    takes its first eligible slots in key order (ties to the earlier slot), their leverage
    ``max_leverage × U(min_share, max_share)``, side (the group's, else the slot's last, else
    long with the re-entry share) and size ``min(equity, ticket) × leverage / price``
    (``feed``'s row ``t``) into ``slots[STEP_OPEN]``, ``codes[CODE_OPEN_SIDE]`` and
    ``work[WORK_OPEN_SIZE]``; the planned change of open interest per market and side (the
    opens as sent, :func:`round12`, less the closes) into ``markets``; the arrivals and the
    unfilled ones per group into ``km``; the opening slots' side, equity at open and exit step
    (``t + max(ceil(-log1p(-u) × mean hold), 1)``) written into ``side``, ``open_equity`` and
    ``exit_step`` (book-wide). Returns ``(n_open, any_unfilled)``."""
    n_open, any_unfilled, _ = _plan_opens(slots, codes, kinds, params, iparams, work, km,
                                          markets, feed, t, side, open_equity, exit_step,
                                          np.zeros(0, dtype=np.uint64))  # fmt: skip
    return n_open, any_unfilled


@_jit
def _plan_opens(slots, codes, kinds, params, iparams, work, km, markets, feed, t, side,
                open_equity, exit_step, words):  # fmt: skip
    """:func:`plan_after`'s work. With a PCG64 state ``words`` (4 words; empty: the uniforms
    are in ``work`` and their holding-time logs in ``work[WORK_LOG_KEEP]``), the step's
    ``4 × R`` uniforms are the next ``4 × R`` doubles of ``words`` (``random(out=)`` of
    ``work``'s rows ``WORK_KEY`` .. ``WORK_SIDE``), of which only those read are computed
    (:func:`uniform_at`: the keys of the groups that choose among their eligible slots, the
    opens' leverage, holding time and side), in order, into ``work``, ``words`` left past all
    of them; and the opens' holding-time logs are taken here (:func:`_exit_step_of_uniform`),
    an open whose exit step the C library's ``log1p`` may not settle as numpy's does left to
    :func:`recheck_exit_steps` (its index into ``slots[STEP_RECHECK]``). Returns ``(n_open,
    any_unfilled, n_recheck)``."""
    draws = words.shape[0] > 0
    rows = slots[SLOT_ROW]
    kind = slots[SLOT_KIND]
    market = slots[SLOT_MARKET]
    group = slots[SLOT_GROUP]
    eligible = slots[STEP_ELIGIBLE]
    open_slots = slots[STEP_OPEN]
    last_side = slots[STEP_LAST_SIDE]
    members = slots[STEP_MEMBERS]
    open_side = codes[CODE_OPEN_SIDE]
    picked = codes[CODE_PICKED]
    keys = work[WORK_KEY]
    open_size = work[WORK_OPEN_SIZE]
    counts = km[KM_COUNT]
    unfilled = km[KM_UNFILLED]
    side_km = km[KM_SIDE]
    available = km[KM_AVAILABLE]
    start = km[KM_START]
    fill = km[KM_FILL]
    n_eligible = iparams[I_N_ELIGIBLE]
    n_markets = markets.shape[1]
    n_groups = len(counts)
    for g in range(n_groups):  # (each group's eligible slots: plan_before's)
        counts[g] = 0
    for i in range(iparams[I_N_ACTIVE]):
        counts[km[KM_ACTIVE, i]] = km[KM_DRAWN, i]
    any_unfilled = False
    for g in range(n_groups):
        short = counts[g] - available[g]
        unfilled[g] = short if short > 0 else 0
        any_unfilled = any_unfilled or short > 0
    # The eligible slots of the groups with arrivals, bucketed by group in row order (the
    # eligible slots are in row order): group g's are members[start[g]:fill[g]].
    first = 0
    for g in range(n_groups):
        start[g] = first
        fill[g] = first
        if counts[g] > 0:
            first += available[g]
    n_slots = len(rows)
    pos = 0  # the doubles of words drawn (draws)
    # One walk of the eligible slots (in slot order): each group's bucket, and with draws the
    # keys of the groups choosing among their slots.
    for e in range(n_eligible):
        j = eligible[e]
        g = group[j]
        if counts[g] > 0:
            members[fill[g]] = j
            fill[g] += 1
            if draws and counts[g] < available[g]:
                keys[j] = uniform_at(words, pos, WORK_KEY * n_slots + j)
                pos = WORK_KEY * n_slots + j + 1
    n_open = 0
    for g in range(n_groups):
        wanted = counts[g]
        first, n = start[g], fill[g] - start[g]
        if wanted <= 0:
            continue
        if n <= wanted:
            for i in range(first, first + n):
                picked[members[i]] = 1
            n_open += n
            continue
        n_open += wanted
        if wanted <= _SELECT_MAX:
            _take_smallest(keys, members, first, n, wanted, picked)
            continue
        group_keys = np.empty(n)
        for i in range(n):
            group_keys[i] = keys[members[first + i]]
        order = np.argsort(group_keys, kind="mergesort")  # stable: ties in row order
        for i in range(wanted):
            picked[members[first + order[i]]] = 1
    if n_open <= _SORT_MAX:  # the opens in slot order: the picked of the groups' buckets
        i = 0
        for g in range(n_groups):
            if counts[g] <= 0:
                continue
            for b in range(start[g], fill[g]):
                j = members[b]
                if picked[j]:
                    at = i  # insertion in slot order
                    while at > 0 and open_slots[at - 1] > j:
                        open_slots[at] = open_slots[at - 1]
                        at -= 1
                    open_slots[at] = j
                    i += 1
    else:
        i = 0
        for e in range(n_eligible):  # the opens in slot order (all eligible)
            j = eligible[e]
            if picked[j]:
                open_slots[i] = j
                i += 1
    if draws:  # the opens' leverage, holding-time and side uniforms, then past the step's
        for d in (WORK_LEVERAGE, WORK_HOLD, WORK_SIDE):
            for i in range(n_open):
                j = open_slots[i]
                work[d, j] = uniform_at(words, pos, d * n_slots + j)
                pos = d * n_slots + j + 1
        skip_draws(words, _DRAWS_PER_SLOT * n_slots - pos)
    lo_share = kinds[KIND_LEVERAGE_MIN_SHARE]
    hi_share = kinds[KIND_LEVERAGE_MAX_SHARE]
    hold_steps = kinds[KIND_HOLD_STEPS]
    max_leverage = markets[MARKET_MAX_LEVERAGE]
    reentry_long_share = params[P_REENTRY_LONG_SHARE]
    margin = params[P_HOLD_MARGIN]
    recheck = slots[STEP_RECHECK]
    n_recheck = 0
    long_open = markets[MARKET_LONG]
    short_open = markets[MARKET_SHORT]
    for m in range(n_markets):
        long_open[m] = 0.0
        short_open[m] = 0.0
    for i in range(n_open):
        j = open_slots[i]
        r = rows[j]
        k = kind[j]
        m = market[j]
        lo, hi = lo_share[k], hi_share[k]
        lev = max_leverage[m] * (lo + (hi - lo) * work[WORK_LEVERAGE, j])
        own = (last_side[j] if last_side[j] != 0
               else (1 if work[WORK_SIDE, j] < reentry_long_share else -1))  # fmt: skip
        g_side = side_km[k * n_markets + m]
        open_side[i] = g_side if g_side != 0 else own
        stake = _nan_min(work[WORK_EQUITY, j], work[WORK_TICKET, j])
        open_size[i] = stake * lev / feed[t, m]
        sent = round12(open_size[i])
        long_open[m] += sent * (1.0 if open_side[i] == 1 else 0.0)
        short_open[m] += sent * (1.0 if open_side[i] == -1 else 0.0)
        side[r] = open_side[i]
        open_equity[r] = work[WORK_EQUITY, j]
        if not draws:
            exit_step[r] = _exit_step(work[WORK_LOG_KEEP, j], hold_steps[k], t)
        elif not _exit_step_of_uniform(work[WORK_HOLD, j], hold_steps[k], t, margin, exit_step,
                                       r):  # fmt: skip
            recheck[n_recheck] = i
            n_recheck += 1
    for m in range(n_markets):  # the opens as sent less the closes
        long_open[m] = long_open[m] - markets[MARKET_LONG_CLOSE, m]
        short_open[m] = short_open[m] - markets[MARKET_SHORT_CLOSE, m]
    iparams[I_N_RECHECK] = n_recheck
    return n_open, any_unfilled, n_recheck


#: :func:`plan_step`'s status bits and codes: rows of unfilled arrivals to write, exit steps to
#: recheck (:func:`recheck_exit_steps`); negative: nothing drawn (the caller draws with numpy
#: and calls :func:`plan_after`), as the states table does not reach the step
#: (``STATUS_NO_STATE``) or a Poisson mean numpy refuses (``STATUS_BAD_MEAN``: NaN, negative or
#: above :data:`POISSON_LAM_MAX`; numpy raises).
STATUS_UNFILLED, STATUS_RECHECK = 1, 2
STATUS_NO_STATE, STATUS_BAD_MEAN = -1, -2
#: Uniform draws per slot per step (ordering key, leverage, holding time, side: the rows
#: ``WORK_KEY`` .. ``WORK_SIDE``; simulator.agents.flow.DRAWS_PER_SLOT).
_DRAWS_PER_SLOT = 4


@_jit
def plan_step(
    states, words, flags, slots, units, codes, kinds, params, iparams, work, km, lam, markets,
    logs, feed, funding_rate, price, read_price, side, size_base, equity_usd, maintenance_usd,
    outcome, outcome_step, exit_step, open_equity, opens, t,
):  # fmt: skip
    """The step's plan in one call: :func:`plan_before`, the draws, :func:`plan_after`.

    The draws are numpy's from step ``t``'s generator: its PCG64 state (row ``t`` of
    ``states``, (n, 4) uint64) written into ``words`` (the generator's state in memory, as
    :meth:`simulator.scenario.randomness.StepStream.generator` writes it; its buffered 32-bit
    draw, ``flags``, cleared), then a Poisson count per (kind, market) group with arrivals
    expected (into ``km[KM_DRAWN]``) and four uniforms per slot (``work``'s rows ``WORK_KEY`` ..
    ``WORK_SIDE``, row after row: ``Generator.random(out=)``'s order; only those read are
    computed, the others left as they were, :func:`_plan_opens`), advancing ``words`` as
    numpy's draws advance the generator. The opens' exit steps take the holding-time logs here
    (``log1p``; ``work[WORK_LOG_KEEP]`` is not written), but for those within
    ``params[P_HOLD_MARGIN]`` of a whole number of steps, left to the caller
    (:func:`recheck_exit_steps`).

    Returns ``(status, n_close, n_open)``: ``status`` :data:`STATUS_UNFILLED` |
    :data:`STATUS_RECHECK` bits, or negative (:data:`STATUS_NO_STATE`,
    :data:`STATUS_BAD_MEAN`) when it drew nothing: :func:`plan_before` ran, the caller draws
    and calls :func:`plan_after`."""
    plan_before(slots, units, codes, kinds, params, iparams, work, km, lam, markets, logs, feed,
                funding_rate, price, read_price, side, size_base, equity_usd, maintenance_usd,
                outcome, outcome_step, exit_step, open_equity, opens, t)  # fmt: skip
    n_close = iparams[I_N_CLOSE]
    if t >= states.shape[0]:
        return STATUS_NO_STATE, n_close, 0
    n_active = iparams[I_N_ACTIVE]
    for i in range(n_active):
        if not (lam[i] >= 0.0 and lam[i] <= POISSON_LAM_MAX):
            return STATUS_BAD_MEAN, n_close, 0
    for w in range(4):
        words[w] = states[t, w]
    flags[0] = 0
    flags[1] = 0
    drawn = km[KM_DRAWN]
    for i in range(n_active):
        drawn[i] = poisson(words, lam[i])
    n_open, any_unfilled, n_recheck = _plan_opens(slots, codes, kinds, params, iparams, work,
                                                  km, markets, feed, t, side, open_equity,
                                                  exit_step, words)  # fmt: skip
    status = STATUS_UNFILLED if any_unfilled else 0
    if n_recheck:
        status |= STATUS_RECHECK
    return status, n_close, n_open
