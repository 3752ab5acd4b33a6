"""The spot kernel's int64 fast paths (:mod:`simulator.mirror.jit_amm`, session 30) held to
their general digit forms, which the module keeps for the operands the fast paths do not take,
and to Python's own arithmetic (the reference), on drawn operands including values near 2**53,
2**64, 2**128, the fast paths' bounds and 2**150:

* a reserve or an amount over ``10**k`` as a float: :func:`~simulator.mirror.jit_amm.
  _quotient_short` (short division by ``5**k``) against ``_quotient_long`` (long division by
  ``10**k``) and Python's true division;
* a base amount's shortest decimal times 1e18: ``_shortest_wad_short`` (int64 probes) against
  ``_shortest_wad_long`` (digits) and ``int(Decimal(repr(y)) * 10**18)``;
* the contract's swap (``_swap_at``, on a flat scratch) against the form before session 30
  (``_old_swap``, on rows of digits, kept here) and :func:`simulator.mirror.amm.swap_int`
  (Python ints).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.jit import kernel
from simulator.mirror import amm, jit_amm

TOP_BITS = jit_amm.SHIFT * jit_amm.WIDTH


def _near_powers(bits: list[int]) -> st.SearchStrategy[int]:
    """Ints within 2**20 of ``2**b`` for each ``b`` of ``bits`` (nonnegative, below 2**150)."""
    return st.builds(
        lambda b, d: min(max(2**b + d, 0), 2**TOP_BITS - 1),
        st.sampled_from(bits),
        st.integers(-(2**20), 2**20),
    )


_INTS = st.one_of(
    st.integers(0, 2**TOP_BITS - 1),
    st.integers(0, 2**64),
    st.integers(2**53, 2**110),
    _near_powers([0, 53, 64, 75, 76, 103, 104, 128, 149]),
)


@settings(max_examples=4000, deadline=None)
@given(value=_INTS, k=st.sampled_from([6, 18, 0, 1, 9, 12, 17]))
@example(value=2**53, k=18)
@example(value=2**103 - 1, k=18)
@example(value=2**75 - 1, k=6)
@example(value=(2 * 2**52 + 1) * 2**30 * 10**18, k=18)  # halfway between two floats
def test_an_int_over_a_power_of_ten_by_short_division_is_the_long_divisions(value, k):
    digits = jit_amm.to_digits(value)
    ws = jit_amm.workspace()
    want = value / 10**k
    assert jit_amm._quotient_float(digits, k, ws) == want
    n = int(np.flatnonzero(digits).max()) + 1 if value else 0
    if value >= 2**53 and value.bit_length() <= 62 + int(jit_amm._FIVES_BITS[k]):
        assert jit_amm._quotient_short(digits, n, k) == want
    if value:
        assert jit_amm._quotient_long(digits, n, k, ws) == want


def _decimal_wad(y: float) -> int:
    return int(Decimal(repr(y)) * 10**18)


_BASE_AMOUNTS = st.one_of(
    st.floats(2.0**13, 2.0**53, exclude_max=True),
    st.builds(lambda x, n: round(x, n), st.floats(2.0**13, 2.0**53), st.integers(-8, 13)),
    st.builds(float, st.integers(2**13, 2**53 - 1)),
    st.builds(
        lambda b, steps, up: _nudge(2.0**b, steps, up),
        st.integers(14, 53),
        st.integers(1, 3),
        st.booleans(),
    ),  # fmt: skip
)


def _nudge(x: float, steps: int, up: bool) -> float:
    for _ in range(steps):
        x = math.nextafter(x, math.inf if up else 0.0)
    return x


@settings(max_examples=4000, deadline=None)
@given(y=_BASE_AMOUNTS)
@example(y=8192.000000000002)
@example(y=9007199254740991.0)
@example(y=4503599627370497.0)
@example(y=123456789012345.6)
@example(y=10000.0)
def test_a_shortest_decimal_by_int64_probes_is_the_digits_one(y):
    if not (2.0**13 <= y < 2.0**53):
        return
    out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    covered = jit_amm._shortest_wad(y, out, jit_amm.workspace())
    if math.frexp(y)[0] == 0.5:  # a power of two: not covered, by either form
        assert not covered
        return
    assert covered
    assert jit_amm.from_digits(out) == _decimal_wad(y)
    fraction, exponent = math.frexp(y)
    mantissa, e = int(fraction * 2.0**53), exponent - 53
    lead = len(str(int(y))) - 1
    short = np.empty(jit_amm.WIDTH, dtype=np.int64)
    long = np.empty(jit_amm.WIDTH, dtype=np.int64)
    assert jit_amm._shortest_wad_short(mantissa, -e, lead, short)
    assert jit_amm._shortest_wad_long(mantissa, e, lead, long, jit_amm.workspace())
    assert short.tolist() == long.tolist() == out.tolist()


# The swap before session 30 (jit_amm._swap), verbatim but for the module's names.
@kernel
def _old_swap(base_in, amount, reserves, fee_bps, out, ws):
    """The contract's swap of ``amount`` on ``reserves`` (2, WIDTH): ``out`` and the outcome
    (-1: the reserve in would leave the digits)."""
    for i in range(jit_amm.WIDTH):
        out[i] = 0
    if jit_amm._is_zero(amount):
        return 1
    if jit_amm._is_zero(reserves[0]) or jit_amm._is_zero(reserves[1]):
        return 2
    r_in = reserves[1] if base_in else reserves[0]
    r_out = reserves[0] if base_in else reserves[1]
    after_fee = ws[0]
    after_fee[:] = 0
    jit_amm._multiply_small(amount, jit_amm.WIDTH, jit_amm.BPS - fee_bps, after_fee)
    na = jit_amm._length(after_fee, jit_amm.WIDTH + 1)
    no = jit_amm._length(r_out, jit_amm.WIDTH)
    num = ws[1]
    jit_amm._multiply(after_fee, na, r_out, no, num)
    den = ws[2]
    den[:] = 0
    jit_amm._multiply_small(r_in, jit_amm.WIDTH, jit_amm.BPS, den)
    carry = jit_amm._add(den, after_fee, den, jit_amm.WIDTH + 1)
    den[jit_amm.WIDTH + 1] = carry
    nd = jit_amm._length(den, jit_amm.WIDTH + 2)
    nn = jit_amm._length(num, na + no)
    if nn < nd:
        return 3  # the output rounds to zero
    q, r = ws[3], ws[4]
    q[:] = 0
    r[:] = 0
    jit_amm._floor_divide(num, nn, den, nd, q, r, ws)
    for i in range(jit_amm.WIDTH):
        out[i] = q[i]
    if jit_amm._is_zero(out):
        return 3
    if jit_amm._add(r_in, amount, ws[5], jit_amm.WIDTH):
        return -1
    return 0


_RESERVES = st.one_of(
    st.integers(0, 2**140), st.integers(0, 2**100), _near_powers([0, 30, 53, 64, 90, 128, 139])
)


@settings(max_examples=4000, deadline=None)
@given(
    base_in=st.booleans(),
    amount=_RESERVES,
    rc=_RESERVES,
    rb=_RESERVES,
    fee=st.one_of(st.sampled_from([0, 1, 30, 9999]), st.integers(0, 9999)),
)
@example(base_in=True, amount=2**100, rc=2**100, rb=2**100, fee=30)
@example(base_in=False, amount=1, rc=10**15, rb=10**27, fee=30)
def test_a_swap_is_the_contracts_integers(base_in, amount, rc, rb, fee):
    want_out, _, _, want_outcome = amm.swap_int(base_in, amount, rc, rb, fee)
    reserves = np.stack([jit_amm.to_digits(rc), jit_amm.to_digits(rb)])
    out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    digits = jit_amm.to_digits(amount)
    pools = np.stack([np.zeros_like(reserves), reserves])  # pool 1 of two
    outcome = jit_amm._swap_at(base_in, digits, pools, 1, fee, out, jit_amm.flat_workspace())
    old_out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    assert outcome == _old_swap(base_in, digits, reserves, fee, old_out, jit_amm.workspace())
    assert out.tolist() == old_out.tolist()
    if outcome == -1:  # the reserve in would leave the digits
        assert (rb if base_in else rc) + amount >= 2**TOP_BITS
        return
    assert outcome == want_outcome
    assert jit_amm.from_digits(out) == want_out


_GRID_AMOUNTS = st.one_of(
    st.floats(2.0**-22, 2.0**33, exclude_max=True),
    st.builds(lambda x, n: round(x, n), st.floats(2.0**-22, 2.0**33), st.integers(0, 12)),
    st.builds(lambda x, n: x * 2.0**n, st.integers(1, 2**20), st.integers(-30, 10)),
)


@settings(max_examples=4000, deadline=None)
@given(x=_GRID_AMOUNTS, decimals=st.sampled_from([6, 12]))
@example(x=2.0**-22, decimals=12)
@example(x=2.0**-16, decimals=6)
@example(x=0.5e-12, decimals=12)  # a tie: rounds to even
@example(x=8191.999999999999, decimals=12)
def test_an_amount_times_a_power_of_ten_in_int64_is_the_digits_one(x, decimals):
    """``_nearest_scaled`` (the grid amounts' int64 path of ``_scaled_amount``) against
    ``_round_scaled`` (digits) and Python's exact ``round(Fraction(x) * 10**decimals)``."""
    if not (2.0 ** (-10 - decimals) <= x < 2.0**53 / 10**decimals):
        return
    fraction, exponent = math.frexp(x)
    value, _ = jit_amm._nearest_scaled(int(fraction * 2.0**53), 53 - exponent, decimals)
    digits = np.empty(jit_amm.WIDTH, dtype=np.int64)
    assert jit_amm._round_scaled(x, decimals, digits, jit_amm.workspace())
    assert value == jit_amm.from_digits(digits) == round(Fraction(x) * 10**decimals)
