"""The spot AMMs' swaps in compiled code, with the contract's exact integers
(``contracts/SpotAMM.sol``, :func:`simulator.mirror.amm.swap_int` in Python ints).

A pool's reserves and the spot agents' token balances reach 1e27 base-token units (about 2**90)
and the swap's product ``amountIn·(10,000 − fee)·R_out`` about 2**240: wider than any machine
integer. Here every such integer is a fixed array of :data:`WIDTH` digits of :data:`SHIFT` bits
(little-endian int64, as CPython's own ints are digits of 30 bits), so a digit product and its
carries fit an int64 with room to spare; the division is Knuth's algorithm D (TAOCP 4.3.1, as
Hacker's Delight's ``divmnu``), floor as the EVM divides. A stored integer must stay below
``2**(SHIFT·WIDTH)`` (2**150, far above any pool of the scenarios); a swap whose result would not
is not executed here (:data:`UNCOVERED`: the caller executes it in Python ints, and every one
after it).

:func:`execute` runs a step's planned swaps (the rows of
:func:`simulator.engine.jit_spot.plan_step`) in block order, as
:meth:`simulator.mirror.sim.spot.SpotBook.swap_rows_python` does call by call: each amount sent
as the integer the chain engine sends (:func:`simulator.engine.spot.swap_amount`,
:func:`scaled_amount`), the swap's outcome and output by the contract's math, a swap beyond
the sender's tokens reverted, the agents' float inventories moved by the fill (``Swap``'s
integers over 1e6 / 1e18, correctly rounded as Python divides ints: :func:`quotient_float`),
the pools' float levels (USD, base units, price) rewritten.

The common operands take int64 fast paths, each held to the digit form it skips
(``tests/mirror/test_jit_amm_fast.py``): the swap on a flat scratch, without views or zeroed
rows (:func:`_swap_at`); an integer over ``10**k`` below ``2**62·5**k`` by short division by
``5**k`` (:func:`_quotient_short`, the long division by ``10**k`` kept above); an amount's
integer on the grid in int64 (:func:`_nearest_scaled`), and a base amount's shortest decimal
below 2**53 by int64 probes (:func:`_shortest_wad_short`, the digit probes kept above).

An amount this module cannot convert to the chain's integer exactly (see
:func:`scaled_amount`) stops :func:`execute` at that row (:data:`NEEDS_AMOUNT`): the caller
converts it in Python and calls again from that row with the integer given.

One module on purpose: numba's on-disk cache is invalidated by an edit of the file of the
function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.jit import kernel as _jit

SHIFT = 30
"""Bits per digit."""
BASE = 1 << SHIFT
MASK = BASE - 1
WIDTH = 5
"""Digits of a stored integer (reserves, balances, amounts): values below 2**150."""
SCRATCH = 12
"""Digits of an intermediate (a product of two stored integers and a 14-bit factor)."""
WORKSPACE_ROWS = 16
"""Rows of the scratch digits a kernel call allocates once (:func:`workspace`): rows 0-13 the
steps' intermediates, :data:`_VN` and :data:`_UN` the division's normalized operands."""
_VN, _UN = 14, 15
BPS = 10_000
USD_DECIMALS, BASE_DECIMALS = 6, 18

_POWERS_OF_TEN = np.array([10.0**k for k in range(23)])
"""1e0 .. 1e22, exact floats."""
_FIVES = np.array([5**k for k in range(19)], dtype=np.int64)
"""5**0 .. 5**18 (below 2**42): the odd part of 10**k."""
_FIVES_BITS = np.array([(5**k).bit_length() - 1 for k in range(19)], dtype=np.int64)
"""``floor(log2(5**k))``: ``a`` of at most ``62 + _FIVES_BITS[k]`` bits is below
``2**62·5**k``, so that ``a // 5**k`` fits 62 bits."""
_TENS = np.array([10**k for k in range(19)], dtype=np.int64)
"""10**0 .. 10**18."""
_HALF = SHIFT // 2
_HALF_MASK = (1 << _HALF) - 1


# -- execute's return codes (a row index is returned with them) ---------------------------------
DONE, NEEDS_AMOUNT, UNCOVERED = range(3)

# -- the levels' rows: what SpotBook.levels returns ---------------------------------------------
L_RESERVE_USD, L_RESERVE_BASE, L_PRICE = range(3)

#: Below these amounts (base units, USD) the chain's integer of a planned amount is the
#: amount's correctly rounded multiple of 1e-12 (1e-6) (:func:`scaled_amount`): floats are
#: closer than 1e-12 (1e-6) apart there (below 2**13, 2**33).
_GRID_BELOW_BASE, _GRID_BELOW_USD = 8192.0, 8589934592.0
#: From these amounts (by decimals: 2**(-10 − decimals)) up, a grid amount is scaled in int64
#: (:func:`_nearest_scaled`: ``frexp``'s exponent ``>= -9 − decimals``).
_INT64_SCALED_FROM = np.array([2.0 ** (-10 - d) for d in range(13)])
#: Base amounts from 2**13 up to this one (2**62) are converted by their shortest decimal.
_SHORTEST_BELOW_BASE = 4.611686018427388e18


# -- digits ---------------------------------------------------------------------------------


@_jit
def _length(a, n):
    """The count of ``a``'s first ``n`` digits up to its highest nonzero one (0 for zero)."""
    while n > 0 and a[n - 1] == 0:
        n -= 1
    return n


@_jit
def _is_zero(a):
    for i in range(a.shape[0]):
        if a[i] != 0:
            return False
    return True


@_jit
def _compare(a, b, n):
    """-1, 0 or 1 as ``a`` (n digits) is below, equal to or above ``b`` (n digits)."""
    for i in range(n - 1, -1, -1):
        if a[i] != b[i]:
            return -1 if a[i] < b[i] else 1
    return 0


@_jit
def _add(a, b, out, n):
    """``out = a + b`` over ``n`` digits (``out`` may be ``a``); returns the carry out (1: the
    sum needs digit ``n``)."""
    carry = 0
    for i in range(n):
        t = a[i] + b[i] + carry
        out[i] = t & MASK
        carry = t >> SHIFT
    return carry


@_jit
def _subtract(a, b, out, n):
    """``out = a − b`` over ``n`` digits for ``a >= b`` (``out`` may be ``a``)."""
    borrow = 0
    for i in range(n):
        t = a[i] - b[i] - borrow
        out[i] = t & MASK
        borrow = 1 if t < 0 else 0


@_jit
def _multiply_small(a, n, k, out):
    """``out[:n+1] = a[:n] · k`` for ``0 <= k < 2**30``."""
    carry = 0
    for i in range(n):
        t = a[i] * k + carry
        out[i] = t & MASK
        carry = t >> SHIFT
    out[n] = carry


@_jit
def _multiply(a, na, b, nb, out):
    """``out = a[:na] · b[:nb]`` (schoolbook; the digits of ``out`` above ``na + nb`` are
    zeroed)."""
    for i in range(out.shape[0]):
        out[i] = 0
    for i in range(na):
        carry = 0
        ai = a[i]
        for j in range(nb):
            t = ai * b[j] + out[i + j] + carry
            out[i + j] = t & MASK
            carry = t >> SHIFT
        out[i + nb] = carry


@_jit
def _bit_length(a, n):
    """The bit length of ``a[:n]``."""
    n = _length(a, n)
    if n == 0:
        return 0
    top = a[n - 1]
    bits = 0
    while top:
        top >>= 1
        bits += 1
    return (n - 1) * SHIFT + bits


@_jit
def _floor_divide(u, m, v, n, q, r, ws):
    """``q[:m-n+1] = u[:m] // v[:n]`` and ``r[:n] = u % v`` (``v[n-1] != 0``, ``m >= n``):
    Knuth's algorithm D on digits of 30 bits (its normalized operands in ``ws``' rows
    :data:`_VN`, :data:`_UN`)."""
    if n == 1:
        d = v[0]
        rem = 0
        for j in range(m - 1, -1, -1):
            t = (rem << SHIFT) + u[j]
            q[j] = t // d
            rem = t - q[j] * d
        r[0] = rem
        return
    # Normalize: shift both so that the divisor's top digit has its highest bit set.
    s = 0
    top = v[n - 1]
    while top < (BASE >> 1):
        top <<= 1
        s += 1
    vn = ws[_VN]
    un = ws[_UN]
    for i in range(n - 1, 0, -1):
        vn[i] = ((v[i] << s) | (v[i - 1] >> (SHIFT - s))) & MASK
    vn[0] = (v[0] << s) & MASK
    un[m] = u[m - 1] >> (SHIFT - s)
    for i in range(m - 1, 0, -1):
        un[i] = ((u[i] << s) | (u[i - 1] >> (SHIFT - s))) & MASK
    un[0] = (u[0] << s) & MASK
    for j in range(m - n, -1, -1):
        num = (un[j + n] << SHIFT) + un[j + n - 1]
        qhat = num // vn[n - 1]
        rhat = num - qhat * vn[n - 1]
        while qhat >= BASE or qhat * vn[n - 2] > (rhat << SHIFT) + un[j + n - 2]:
            qhat -= 1
            rhat += vn[n - 1]
            if rhat >= BASE:
                break
        # Multiply and subtract.
        borrow = 0
        for i in range(n):
            p = qhat * vn[i]
            t = un[i + j] - borrow - (p & MASK)
            un[i + j] = t & MASK
            borrow = (p >> SHIFT) - (t >> SHIFT)
        t = un[j + n] - borrow
        un[j + n] = t
        if t < 0:  # qhat was one too large: add the divisor back
            qhat -= 1
            carry = 0
            for i in range(n):
                t = un[i + j] + vn[i] + carry
                un[i + j] = t & MASK
                carry = t >> SHIFT
            un[j + n] = (un[j + n] + carry) & MASK
        q[j] = qhat
    for i in range(n - 1):
        r[i] = ((un[i] >> s) | (un[i + 1] << (SHIFT - s))) & MASK
    r[n - 1] = un[n - 1] >> s


@_jit
def _shift_left(a, n, bits, out, width):
    """``out[:width] = a[:n] << bits`` (the caller sizes ``width`` to hold it)."""
    whole, part = bits // SHIFT, bits % SHIFT
    for i in range(width):
        out[i] = 0
    for i in range(n):
        lo = (a[i] << part) & MASK
        hi = a[i] >> (SHIFT - part) if part else 0
        if i + whole < width:
            out[i + whole] |= lo
        if hi and i + whole + 1 < width:
            out[i + whole + 1] |= hi


@_jit
def _top_bits(a, n, drop):
    """``a[:n] >> drop`` as an int64 (the caller keeps it below 2**62) and whether a dropped
    bit is set."""
    value = 0
    for i in range(n - 1, -1, -1):
        lo = i * SHIFT
        if lo + SHIFT <= drop:
            break
        if lo >= drop:
            value += a[i] << (lo - drop)
        else:
            value += a[i] >> (drop - lo)
    sticky = False
    for i in range(n):
        lo = i * SHIFT
        if lo >= drop:
            break
        keep = drop - lo
        low = a[i] if keep >= SHIFT else a[i] & ((1 << keep) - 1)
        if low:
            sticky = True
            break
    return value, sticky


@_jit
def _pow10(k, out):
    """``out[:WIDTH] = 10**k`` (``k <= 36``)."""
    for i in range(out.shape[0]):
        out[i] = 0
    out[0] = 1
    while k > 0:
        step = 9 if k >= 9 else k
        factor = 1
        for _ in range(step):
            factor *= 10
        carry = 0
        for i in range(out.shape[0]):
            t = out[i] * factor + carry
            out[i] = t & MASK
            carry = t >> SHIFT
        k -= step


@_jit
def _quotient_float(a, k, ws):
    """:func:`quotient_float` (rows 0-3 of ``ws`` where the quotient by ``5**k`` would not fit
    62 bits)."""
    n = _length(a, a.shape[0])
    if n == 0:
        return 0.0
    if n <= 2 and a[1] < (1 << 23):  # below 2**53: both exact floats, one correct rounding
        return float(a[0] + (a[1] << SHIFT)) / _POWERS_OF_TEN[k]
    if k < _FIVES.shape[0] and _bit_length(a, n) <= 62 + _FIVES_BITS[k]:
        return _quotient_short(a, n, k)
    return _quotient_long(a, n, k, ws)


@_jit
def _quotient_short(a, n, k):
    """:func:`quotient_float` for ``a < 2**62·5**k`` (``k <= 18``, ``a[:n]``): ``a / 10**k``
    is ``(a / 5**k)·2**-k``, and a power of two scales a float exactly, so the float nearest
    ``a / 5**k`` scaled by ``2**-k`` is the one nearest ``a / 10**k``. ``a // 5**k`` (below
    2**62) by short division on halves of digits (a remainder below ``5**18 < 2**42`` times
    2**15 stays below 2**57), extended by fraction bits (up to 20 at a time) to 55 or more
    bits: its top 53, a rounding bit, and a sticky bit from the rest and the remainder."""
    d = _FIVES[k]
    rem = 0
    q = 0
    for i in range(n - 1, -1, -1):
        digit = a[i]
        t = (rem << _HALF) | (digit >> _HALF)
        h = t // d
        rem = t - h * d
        q = (q << _HALF) | h
        t = (rem << _HALF) | (digit & _HALF_MASK)
        h = t // d
        rem = t - h * d
        q = (q << _HALF) | h
    bits = 0
    top = q
    while top:
        top >>= 1
        bits += 1
    extra = 55 - bits if bits < 55 else 0
    left = extra
    while left > 0:  # fraction bits: the remainder's binary expansion over d
        step = 20 if left > 20 else left
        t = rem << step
        h = t // d
        rem = t - h * d
        q = (q << step) | h
        left -= step
    bits += extra
    drop = bits - 54
    top = q >> drop  # 54 bits: 53 and the rounding bit
    sticky = rem != 0 or (q & ((1 << drop) - 1)) != 0
    mantissa = top >> 1
    if (top & 1) and (sticky or (mantissa & 1)):
        mantissa += 1
    return math.ldexp(float(mantissa), drop + 1 - extra - k)


@_jit
def _quotient_long(a, n, k, ws):
    """:func:`quotient_float` by long division of ``a[:n]`` by ``10**k`` (rows 0-3 of
    ``ws``)."""
    den = ws[0]
    _pow10(k, den)
    nd = _length(den, WIDTH)
    # Scale the numerator so that the quotient has 55 or more bits: its top 53, a rounding
    # bit, and a sticky bit from the rest and the remainder.
    shift = 56 + _bit_length(den, nd) - _bit_length(a, n)
    if shift < 0:
        shift = 0
    num = ws[1]
    _shift_left(a, n, shift, num, SCRATCH)
    m = _length(num, SCRATCH)
    if m < nd:
        m = nd
    q, r = ws[2], ws[3]
    q[:] = 0
    r[:] = 0
    _floor_divide(num, m, den, nd, q, r, ws)
    rest = not _is_zero(r)
    nq = m - nd + 1
    bits = _bit_length(q, nq)
    drop = bits - 54
    top, sticky = _top_bits(q, nq, drop)  # 54 bits: 53 and the rounding bit
    mantissa = top >> 1
    if (top & 1) and (sticky or rest or (mantissa & 1)):
        mantissa += 1
    return math.ldexp(float(mantissa), drop + 1 - shift)


@_jit
def quotient_float(a, k):
    """``a / 10**k`` (``a`` digits, nonnegative; ``k <= 22``) as the float nearest it, ties to
    even: what Python's true division of an int by ``10**k`` gives."""
    return _quotient_float(a, k, workspace())


@_jit
def workspace():
    """The scratch digits of one kernel call."""
    return np.zeros((WORKSPACE_ROWS, SCRATCH + 1), dtype=np.int64)


# -- amounts: the chain's integer of a planned float ----------------------------------------


@_jit
def _round_scaled(x, decimals, out, ws):
    """``out[:WIDTH]`` = the integer nearest ``x·10**decimals`` exactly (ties to even), for a
    finite ``x >= 0`` (``decimals <= 18``); False when it does not fit."""
    for i in range(WIDTH):
        out[i] = 0
    if x == 0.0:
        return True
    fraction, exponent = math.frexp(x)
    mantissa = np.int64(fraction * 9007199254740992.0)  # 2**53: x = mantissa · 2**e exactly
    e = exponent - 53
    work = ws[0]
    work[:] = 0
    work[0] = mantissa & MASK
    work[1] = (mantissa >> SHIFT) & MASK
    n = 2
    left = decimals
    tmp = ws[1]
    while left > 0:  # times 10**decimals, at most 10**9 a digit product
        step = 9 if left >= 9 else left
        factor = 1
        for _ in range(step):
            factor *= 10
        _multiply_small(work, n, factor, tmp)
        n += 1
        for i in range(n):
            work[i] = tmp[i]
        left -= step
    n = _length(work, n)
    if e >= 0:
        if _bit_length(work, n) + e > SHIFT * WIDTH:
            return False
        _shift_left(work, n, e, out, WIDTH)
        return True
    drop = -e
    bits = _bit_length(work, n)
    if bits - drop > 61:
        return False
    if drop > bits:  # below a half: rounds to zero
        return True
    value, below = _top_bits(work, n, drop - 1)  # the integer part and the half bit
    integer = value >> 1
    if (value & 1) and (below or (integer & 1)):
        integer += 1
    out[0] = integer & MASK
    out[1] = (integer >> SHIFT) & MASK
    out[2] = integer >> (2 * SHIFT)
    return True


@_jit
def _round_half_even(v):
    """numpy's ``rint`` of a float below 2**52 in magnitude."""
    f = np.floor(v)  # a float (math.floor's is an int64, which overflows)
    d = v - f
    if d > 0.5 or (d == 0.5 and f % 2.0 != 0.0):
        return f + 1.0
    return f


@_jit
def _scaled(mantissa, twos, tens, out, work):
    """``out = mantissa · 2**twos · 10**tens`` (``mantissa < 2**60``, ``twos, tens >= 0``;
    ``work`` a scratch row); returns its digit count."""
    work[:] = 0
    work[0] = mantissa & MASK
    work[1] = (mantissa >> SHIFT) & MASK
    n = 2
    while tens > 0:
        step = 9 if tens >= 9 else tens
        factor = 1
        for _ in range(step):
            factor *= 10
        _multiply_small(work, n, factor, out)
        n += 1
        work[:n] = out[:n]
        tens -= step
    n = _length(work, n)
    _shift_left(work, n, twos, out, SCRATCH)
    return _length(out, SCRATCH)


@_jit
def _rounds_back(y_mantissa, y_exponent, c, k, scratch):
    """Whether the decimal ``c·10**-k`` (``c`` digits) reads back as the float
    ``y_mantissa·2**y_exponent`` (an even mantissa takes the halfway points, as the float's
    parse rounds ties to even; the mantissa is not a power of two)."""
    a, b, h, t, w = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    g = 1 - y_exponent if y_exponent < 1 else 0
    e10 = -k if k < 0 else 0
    # a = c · 2**g · 10**e10; b = y · 2**g · 10**(k + e10); h = half a gap likewise.
    _pow10(e10, t)
    _multiply(c, _length(c, SCRATCH), t, _length(t, SCRATCH), h)
    _shift_left(h, _length(h, SCRATCH), g, a, SCRATCH)
    _scaled(y_mantissa, y_exponent + g, k + e10, b, w)
    _scaled(1, y_exponent - 1 + g, k + e10, h, w)
    if _compare(a, b, SCRATCH) >= 0:
        _subtract(a, b, t, SCRATCH)
    else:
        _subtract(b, a, t, SCRATCH)
    order = _compare(t, h, SCRATCH)
    return order < 0 or (order == 0 and y_mantissa % 2 == 0)


@_jit
def _round_ratio(y_mantissa, y_exponent, k, c, scratch, ws):
    """``c`` = the integer nearest ``y·10**k`` for ``y = y_mantissa·2**y_exponent``, ties to
    even."""
    p, q, r, t, w = scratch[5], scratch[6], scratch[7], scratch[8], scratch[4]
    n_p = _scaled(y_mantissa, y_exponent if y_exponent > 0 else 0, k if k > 0 else 0, p, w)
    n_q = _scaled(1, -y_exponent if y_exponent < 0 else 0, -k if k < 0 else 0, q, w)
    c[:] = 0
    r[:] = 0
    if n_p < n_q:
        r[:] = p
    else:
        _floor_divide(p, n_p, q, n_q, c, r, ws)
    # ties to even: twice the remainder against the divisor
    _shift_left(r, n_q, 1, t, SCRATCH)
    order = _compare(t, q, SCRATCH)
    if order > 0 or (order == 0 and c[0] % 2 == 1):
        t[:] = 0
        t[0] = 1
        _add(c, t, c, SCRATCH)


@_jit
def _nearest_scaled(mantissa, e2, k):
    """``(c, |δ|)``: ``c`` the integer nearest ``mantissa·2**-e2·10**k`` (ties to even) and
    ``δ = c·2**s − P`` its distance scaled by ``2**s``, for ``P = mantissa·5**k`` and ``s = e2
    − k``, in int64: ``mantissa < 2**53``, ``0 <= k <= 13`` (``5**k < 2**31``), ``s <= 62``
    and ``c`` below 2**62. ``P`` (below 2**84) is held as ``p1·2**32 + p0``."""
    five = _FIVES[k]
    low = (mantissa & 0xFFFFFFFF) * five  # below 2**63
    p1 = (mantissa >> 32) * five + (low >> 32)
    p0 = low & 0xFFFFFFFF
    s = e2 - k
    if s <= 0:
        return (p1 << (32 - s)) | (p0 << -s), 0  # exact: an integer
    if s <= 32:
        q = (p1 << (32 - s)) | (p0 >> s)
        r = p0 & ((1 << s) - 1)
    else:
        q = p1 >> (s - 32)
        r = ((p1 & ((1 << (s - 32)) - 1)) << 32) | p0
    half = 1 << (s - 1)
    if r > half or (r == half and q & 1):
        return q + 1, (1 << s) - r
    return q, r


@_jit
def _round_back(mantissa, e2, k):
    """For ``y = mantissa·2**-e2`` (``2**52 <= mantissa < 2**53``, ``0 <= e2 <= 40``, ``y >=
    2**13``) and ``-20 <= k <= 13``: ``c``, the integer nearest ``y·10**k`` (ties to even,
    :func:`_round_ratio`), and whether the decimal ``c·10**-k`` reads back as ``y``
    (:func:`_rounds_back`: within half the gap ``2**-e2`` of ``y``, or at exactly half with
    ``mantissa`` even), in int64.

    ``k >= 0``: ``y·10**k = P / 2**s`` for ``P = mantissa·5**k`` (below 2**84, held as
    ``p1·2**32 + p0``) and ``s = e2 − k``; ``c − y·10**k = δ / 2**s`` for ``δ = c·2**s − P``,
    and half the gap times ``10**k`` is ``5**k / 2**(s + 1)``: ``c`` reads back when ``2|δ|``
    is below ``5**k`` (or equal, ``mantissa`` even). ``k < 0`` (``j = −k``): ``c`` is the
    integer nearest ``mantissa / (2**(e2 + j)·5**j)``; ``c·10**j − y`` is ``(X − mantissa)
    / 2**e2`` for the integer ``X = c·10**j·2**e2``, within half the gap ``2**-e2`` only when
    ``X`` is ``mantissa``."""
    if k >= 0:
        c, off = _nearest_scaled(mantissa, e2, k)
        twice = 2 * off
        five = _FIVES[k]
        return c, twice < five or (twice == five and mantissa % 2 == 0)
    j = -k
    if e2 + j + _FIVES_BITS[j] >= 55:  # the divisor is above 2**54 > 2·mantissa: c is 0
        return 0, False
    divisor = (1 << (e2 + j)) * _FIVES[j]
    q = mantissa // divisor
    r = mantissa - q * divisor
    if 2 * r > divisor or (2 * r == divisor and q & 1):
        q += 1
    return q, q * _TENS[j] << e2 == mantissa


@_jit
def _shortest_wad_short(mantissa, e2, lead, out):
    """:func:`_shortest_wad` for ``y = mantissa·2**-e2`` below 2**53 (``0 <= e2``): the same
    probes, each by :func:`_round_back`; ``out[:WIDTH]`` the shortest decimal times 1e18."""
    hi = 16 - lead
    lo = -lead - 2
    probe = hi - 1
    best = 0
    while hi - lo > 1:
        c, back = _round_back(mantissa, e2, probe)
        if back:
            hi = probe
            best = c
        else:
            lo = probe
        probe = hi - 1 if hi > 14 - lead else (lo + hi) // 2
    if hi == 16 - lead:
        best, _ = _round_back(mantissa, e2, hi)
    for i in range(WIDTH):
        out[i] = 0
    out[0] = best & MASK
    out[1] = (best >> SHIFT) & MASK
    n = 2
    left = 18 - hi
    while left > 0:  # times 10**(18 - hi), at most 10**9 a digit product
        step = 9 if left >= 9 else left
        carry = 0
        for i in range(n):
            t = out[i] * _TENS[step] + carry
            out[i] = t & MASK
            carry = t >> SHIFT
        while carry:
            if n == WIDTH:
                return False
            out[n] = carry & MASK
            carry >>= SHIFT
            n += 1
        left -= step
    return True


@_jit
def _shortest_wad(y, out, ws):
    """``out[:WIDTH]`` = ``to_wad(y)`` for a float ``2**13 <= y < 2**62``: the shortest
    decimal that reads back as ``y`` (``repr``: the nearest of the shortest), times 1e18 (an
    integer: at most 17 significant digits, 13 after the point). False for a power of two
    (whose gap below is half its gap above)."""
    fraction, exponent = math.frexp(y)
    mantissa = np.int64(fraction * 9007199254740992.0)
    e = exponent - 53
    if mantissa == 4503599627370496:  # 2**52
        return False
    lead = 4
    while lead < 22 and y >= _POWERS_OF_TEN[lead]:
        lead += 1
    lead -= 1  # 10**lead <= y < 10**(lead + 1)
    if e <= 0:  # y below 2**53: every probe in int64 (_round_back)
        return _shortest_wad_short(mantissa, -e, lead, out)
    return _shortest_wad_long(mantissa, e, lead, out, ws)


@_jit
def _shortest_wad_long(mantissa, e, lead, out, ws):
    """:func:`_shortest_wad` of ``y = mantissa·2**e`` (``10**lead <= y < 10**(lead + 1)``)
    in digits (any ``e``; rows 0-10 of ``ws``)."""
    scratch = ws[0:9]
    c = ws[9]
    best = ws[10]
    # The fewest digits after the point (k; negative: zeros before it) whose nearest decimal
    # reads back: reading back is monotone in k (the nearest decimal of k + 1 digits is at
    # least as near); 17 significant digits always do (k = 16 − lead), k = −lead − 2 never
    # (0). Most amounts need 16 or 17: try those first, then bisect.
    hi = 16 - lead
    lo = -lead - 2
    probe = hi - 1
    while hi - lo > 1:
        _round_ratio(mantissa, e, probe, c, scratch, ws)
        if _rounds_back(mantissa, e, c, probe, scratch):
            hi = probe
            best[:] = c
        else:
            lo = probe
        probe = hi - 1 if hi > 14 - lead else (lo + hi) // 2
    if hi == 16 - lead:
        _round_ratio(mantissa, e, hi, best, scratch, ws)
    t = scratch[0]
    _pow10(18 - hi, t)
    _multiply(best, _length(best, SCRATCH), t, _length(t, SCRATCH), scratch[1])
    if _length(scratch[1], SCRATCH) > WIDTH:
        return False
    out[:] = scratch[1][:WIDTH]
    return True


@_jit
def scaled_amount(base_in, amount_in, capped, out):
    """:func:`_scaled_amount` with its own scratch (see there)."""
    return _scaled_amount(base_in, amount_in, capped, out, workspace())


@_jit
def _scaled_amount(base_in, amount_in, capped, out, ws):
    """``out[:WIDTH]`` = :func:`simulator.engine.spot.swap_amount` ``(base_in, amount_in,
    capped)``: the planned amount (base units, or USD) as the integer sent, 18 or 6 decimals,
    at least 1. Returns False where this function does not cover the amount (the caller
    converts it in Python): a base amount of 2**13 units or more, a USD amount of 2**33 or
    more, NaN, infinities and negatives.

    Why it is exact where it returns True: ``swap_amount`` sends ``to_wad(y)`` (or
    ``to_units(y)``) of ``y = round(x, 12)`` (6), which scale the shortest decimal that
    rounds to ``y`` (``repr``). Python's ``round`` gives the float nearest ``D·1e-12``, ``D``
    the integer nearest ``x·1e12`` exactly, ties to even (the same correctly rounded
    ``dtoa`` as ``f"{x:.12f}"``); numpy's, for a ``capped`` amount, ``rint(x·1e12) / 1e12``
    in floats, the float nearest ``n·1e-12`` for the integer ``n``. Below 2**13 (2**33) two
    floats are less than 1e-12 (1e-6) apart, so exactly one multiple of 1e-12 rounds to
    ``y``: the shortest decimal of ``y`` is that multiple, ``D·1e-12`` (``n·1e-12``), and the
    integer is ``D·1e6`` (``D``)."""
    if not (amount_in >= 0.0):
        return False
    decimals = 12 if base_in else 6
    if base_in and _GRID_BELOW_BASE <= amount_in < _SHORTEST_BELOW_BASE:
        y = amount_in
        if capped:
            y = _round_half_even(amount_in * 1e12) / 1e12
        if _GRID_BELOW_BASE <= y < _SHORTEST_BELOW_BASE:
            return _shortest_wad(y, out, ws)
        if y >= _SHORTEST_BELOW_BASE:
            return False
    if amount_in >= (_GRID_BELOW_BASE if base_in else _GRID_BELOW_USD):
        return False
    if capped:
        scaled = amount_in * (1e12 if base_in else 1e6)
        n = _round_half_even(scaled)
        if n / (1e12 if base_in else 1e6) >= (_GRID_BELOW_BASE if base_in else _GRID_BELOW_USD):
            return False
        value = np.int64(n)
        for i in range(WIDTH):
            out[i] = 0
        out[0] = value & MASK
        out[1] = (value >> SHIFT) & MASK
        out[2] = value >> (2 * SHIFT)
    elif amount_in >= _INT64_SCALED_FROM[decimals]:
        # x·10**decimals (below 2**53) in int64: x = mantissa·2**-e2 with e2 − decimals <= 62
        fraction, exponent = math.frexp(amount_in)
        mantissa = np.int64(fraction * 9007199254740992.0)
        value, _ = _nearest_scaled(mantissa, 53 - exponent, decimals)
        for i in range(WIDTH):
            out[i] = 0
        out[0] = value & MASK
        out[1] = (value >> SHIFT) & MASK
    elif not _round_scaled(amount_in, decimals, out, ws):
        return False
    if base_in:  # times 10**6: 12 decimals to the token's 18
        tmp = ws[2]
        _multiply_small(out, WIDTH, 1_000_000, tmp)
        for i in range(WIDTH):
            out[i] = tmp[i]
    if _is_zero(out):
        out[0] = 1
    return True


# -- the swaps ------------------------------------------------------------------------------


# The flat scratch of :func:`_swap_at` (:func:`flat_workspace`): offsets of its parts.
_F_AFTER_FEE = 0  # amount·(10,000 − fee): WIDTH + 1 digits
_F_NUM = 8  # amount after fee · R_out: 2·WIDTH + 1 digits
_F_DEN = 20  # R_in·10,000 + amount after fee: WIDTH + 2 digits
_F_VN = 28  # the divisor normalized: WIDTH + 2 digits
_F_UN = 36  # the dividend normalized: 2·WIDTH + 2 digits
_F_Q = 50  # the quotient: 2·WIDTH + 1 digits
FLAT = 64
"""Digits of :func:`flat_workspace`."""


@_jit
def flat_workspace():
    """The flat scratch digits of :func:`_swap_at`."""
    return np.zeros(FLAT, dtype=np.int64)


@_jit
def _swap_at(base_in, amount, reserves, m, fee_bps, out, w):
    """The contract's ``swap`` of ``amount`` (digits) on pool ``m`` of ``reserves`` (M, 2,
    WIDTH: collateral, base; unchanged): ``out`` = the output; returns the outcome
    (:data:`simulator.mirror.amm.OUTCOMES`' codes: 0 ok, 1 ZeroAmount, 2 NoLiquidity, 3
    InsufficientOutput), or -1 where the reserve in would not fit :data:`WIDTH` digits.

    ``amount·(10,000 − fee)·R_out // (R_in·10,000 + amount·(10,000 − fee))`` in the flat
    scratch ``w`` (:data:`FLAT` digits, no views, each digit loop only as long as its
    operands): Knuth's algorithm D without the remainder (a one-digit divisor by short
    division)."""
    for i in range(WIDTH):
        out[i] = 0
    na = _length(amount, WIDTH)
    if na == 0:
        return 1
    side_in = 1 if base_in else 0
    side_out = 1 - side_in
    n_in = WIDTH
    while n_in > 0 and reserves[m, side_in, n_in - 1] == 0:
        n_in -= 1
    n_out = WIDTH
    while n_out > 0 and reserves[m, side_out, n_out - 1] == 0:
        n_out -= 1
    if n_in == 0 or n_out == 0:
        return 2
    # after fee = amount·(10,000 − fee)
    factor = BPS - fee_bps
    carry = 0
    for i in range(na):
        t = amount[i] * factor + carry
        w[_F_AFTER_FEE + i] = t & MASK
        carry = t >> SHIFT
    w[_F_AFTER_FEE + na] = carry
    if carry:
        na += 1
    while na > 0 and w[_F_AFTER_FEE + na - 1] == 0:
        na -= 1
    # num = after fee · R_out
    nn = na + n_out
    for i in range(nn):
        w[_F_NUM + i] = 0
    for i in range(na):
        carry = 0
        ai = w[_F_AFTER_FEE + i]
        for j in range(n_out):
            t = ai * reserves[m, side_out, j] + w[_F_NUM + i + j] + carry
            w[_F_NUM + i + j] = t & MASK
            carry = t >> SHIFT
        w[_F_NUM + i + n_out] = carry
    while nn > 0 and w[_F_NUM + nn - 1] == 0:
        nn -= 1
    # den = R_in·10,000 + after fee
    nd = n_in if n_in > na else na
    carry = 0
    for i in range(nd):
        t = carry
        if i < n_in:
            t += reserves[m, side_in, i] * BPS
        if i < na:
            t += w[_F_AFTER_FEE + i]
        w[_F_DEN + i] = t & MASK
        carry = t >> SHIFT
    while carry:
        w[_F_DEN + nd] = carry & MASK
        carry >>= SHIFT
        nd += 1
    if nn < nd:
        return 3  # the output rounds to zero
    # q = num // den
    nq = nn - nd + 1
    if nd == 1:
        d = w[_F_DEN]
        rem = 0
        for j in range(nn - 1, -1, -1):
            t = (rem << SHIFT) + w[_F_NUM + j]
            qd = t // d
            w[_F_Q + j] = qd
            rem = t - qd * d
    else:
        sh = 0
        top = w[_F_DEN + nd - 1]
        while top < (BASE >> 1):
            top <<= 1
            sh += 1
        for i in range(nd - 1, 0, -1):
            w[_F_VN + i] = ((w[_F_DEN + i] << sh) | (w[_F_DEN + i - 1] >> (SHIFT - sh))) & MASK
        w[_F_VN] = (w[_F_DEN] << sh) & MASK
        w[_F_UN + nn] = w[_F_NUM + nn - 1] >> (SHIFT - sh)
        for i in range(nn - 1, 0, -1):
            w[_F_UN + i] = ((w[_F_NUM + i] << sh) | (w[_F_NUM + i - 1] >> (SHIFT - sh))) & MASK
        w[_F_UN] = (w[_F_NUM] << sh) & MASK
        v1 = w[_F_VN + nd - 1]
        v2 = w[_F_VN + nd - 2]
        for j in range(nn - nd, -1, -1):
            num = (w[_F_UN + j + nd] << SHIFT) + w[_F_UN + j + nd - 1]
            qhat = num // v1
            rhat = num - qhat * v1
            while qhat >= BASE or qhat * v2 > (rhat << SHIFT) + w[_F_UN + j + nd - 2]:
                qhat -= 1
                rhat += v1
                if rhat >= BASE:
                    break
            borrow = 0
            for i in range(nd):
                p = qhat * w[_F_VN + i]
                t = w[_F_UN + i + j] - borrow - (p & MASK)
                w[_F_UN + i + j] = t & MASK
                borrow = (p >> SHIFT) - (t >> SHIFT)
            t = w[_F_UN + j + nd] - borrow
            w[_F_UN + j + nd] = t
            if t < 0:  # qhat was one too large: add the divisor back
                qhat -= 1
                carry = 0
                for i in range(nd):
                    t = w[_F_UN + i + j] + w[_F_VN + i] + carry
                    w[_F_UN + i + j] = t & MASK
                    carry = t >> SHIFT
                w[_F_UN + j + nd] = (w[_F_UN + j + nd] + carry) & MASK
            w[_F_Q + j] = qhat
    # the output is below R_out: at most WIDTH digits
    zero = True
    for i in range(nq if nq < WIDTH else WIDTH):
        out[i] = w[_F_Q + i]
        if out[i] != 0:
            zero = False
    if zero:
        return 3
    carry = 0  # whether R_in + amount leaves the digits
    for i in range(WIDTH):
        carry = (reserves[m, side_in, i] + amount[i] + carry) >> SHIFT
    if carry:
        return -1
    return 0


@_jit
def _set_levels(reserves, levels, m, ws):
    usd = _quotient_float(reserves[m, 0], USD_DECIMALS, ws)
    base = _quotient_float(reserves[m, 1], BASE_DECIMALS, ws)
    levels[L_RESERVE_USD, m] = usd
    levels[L_RESERVE_BASE, m] = base
    levels[L_PRICE, m] = usd / base if base > 0 else math.nan


@_jit
def refresh_levels(reserves, levels):
    """Every pool's float levels from its integer reserves (``levels`` (3, M))."""
    ws = workspace()
    for m in range(reserves.shape[0]):
        _set_levels(reserves, levels, m, ws)


@_jit
def execute(rows, start, given, reserves, fee_bps, collateral, base, hedger, levels,
            hedged, hedger_inventory, arb_inventory):  # fmt: skip
    """Execute the planned swaps ``rows[start:]`` (:data:`simulator.engine.jit_spot.
    SWAP_COLUMNS`) in order.

    ``given`` (WIDTH,) is the amount of row ``start`` where the caller converted it (else
    ``given[0] < 0``); ``reserves`` (M, 2, WIDTH) the pools' collateral and base
    reserves, ``fee_bps`` (M,), ``collateral`` (A, WIDTH) and ``base`` (A, M, WIDTH) the
    agents' tokens (arbitrageur ``n`` at row ``n``, the hedger at row ``hedger``); all updated
    in place by the swaps that go through, as are ``levels`` (3, M) (USD, base units, price)
    and the inventories ``hedged`` (M,), ``hedger_inventory`` (M, 2) and ``arb_inventory``
    (N, M, 2), by the fill's USD and base received (negative: paid).

    Returns ``(code, row)``: :data:`DONE`, or :data:`NEEDS_AMOUNT` / :data:`UNCOVERED` and
    the row at which it stopped (rows before it executed)."""
    ws = workspace()
    touched = np.zeros(reserves.shape[0], dtype=np.bool_)
    code, row = _execute(rows, start, given, reserves, fee_bps, collateral, base, hedger,
                         hedged, hedger_inventory, arb_inventory, touched, ws,
                         flat_workspace())  # fmt: skip
    for m in range(reserves.shape[0]):  # the levels of the pools that moved, once
        if touched[m]:
            _set_levels(reserves, levels, m, ws)
    return code, row


@_jit
def _execute(rows, start, given, reserves, fee_bps, collateral, base, hedger, hedged,
             hedger_inventory, arb_inventory, touched, ws, flat):  # fmt: skip
    """:func:`execute`'s swaps, the markets they moved marked in ``touched``."""
    amount = np.empty(WIDTH, dtype=np.int64)
    out = np.empty(WIDTH, dtype=np.int64)
    grown = np.empty(WIDTH, dtype=np.int64)
    for i in range(start, rows.shape[0]):
        m = int(rows[i, 0])
        who = int(rows[i, 1])
        selling = rows[i, 2] > 0
        if i == start and given[0] >= 0:
            amount[:] = given
        elif not _scaled_amount(selling, rows[i, 3], rows[i, 4] > 0, amount, ws):
            return NEEDS_AMOUNT, i
        agent = hedger if who < 0 else who
        outcome = _swap_at(selling, amount, reserves, m, fee_bps[m], out, flat)
        if outcome < 0:
            return UNCOVERED, i
        held = base[agent, m] if selling else collateral[agent]
        if outcome != 0 or _compare(held, amount, WIDTH) < 0:
            continue  # reverted: nothing changes
        received = collateral[agent] if selling else base[agent, m]
        if _add(received, out, grown, WIDTH):  # the receiver's balance would not fit
            return UNCOVERED, i
        for d in range(WIDTH):
            received[d] = grown[d]
        _subtract(held, amount, held, WIDTH)
        if selling:
            _add(reserves[m, 1], amount, reserves[m, 1], WIDTH)
            _subtract(reserves[m, 0], out, reserves[m, 0], WIDTH)
            d_usd = _quotient_float(out, USD_DECIMALS, ws)
            d_base = -_quotient_float(amount, BASE_DECIMALS, ws)
        else:
            _add(reserves[m, 0], amount, reserves[m, 0], WIDTH)
            _subtract(reserves[m, 1], out, reserves[m, 1], WIDTH)
            d_usd = -_quotient_float(amount, USD_DECIMALS, ws)
            d_base = _quotient_float(out, BASE_DECIMALS, ws)
        touched[m] = True
        if who < 0:
            hedger_inventory[m, 0] += d_usd
            hedger_inventory[m, 1] += d_base
            hedged[m] += d_base
        else:
            arb_inventory[who, m, 0] += d_usd
            arb_inventory[who, m, 1] += d_base
    return DONE, rows.shape[0]


# -- Python ints in and out -----------------------------------------------------------------


def to_digits(value: int, out: np.ndarray | None = None) -> np.ndarray:
    """A nonnegative Python int below 2**150 as :data:`WIDTH` digits (int64)."""
    if value < 0 or value >> (SHIFT * WIDTH):
        raise OverflowError(f"{value} is outside [0, 2**{SHIFT * WIDTH})")
    if out is None:
        out = np.empty(WIDTH, dtype=np.int64)
    for i in range(WIDTH):
        out[i] = (value >> (SHIFT * i)) & MASK
    return out


def from_digits(digits: np.ndarray) -> int:
    """The Python int of ``digits`` (little-endian, :data:`SHIFT` bits each)."""
    value = 0
    for d in reversed(digits.tolist()):
        value = (value << SHIFT) | int(d)
    return value


def fits(value: int) -> bool:
    """Whether ``value`` can be stored as :data:`WIDTH` digits."""
    return 0 <= value and not value >> (SHIFT * WIDTH)


__all__ = [
    "DONE",
    "NEEDS_AMOUNT",
    "SHIFT",
    "UNCOVERED",
    "WIDTH",
    "execute",
    "fits",
    "from_digits",
    "quotient_float",
    "refresh_levels",
    "scaled_amount",
    "to_digits",
]
