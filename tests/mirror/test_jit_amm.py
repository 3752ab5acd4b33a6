"""The spot swaps' compiled integers (:mod:`simulator.mirror.jit_amm`) held to their Python
forms on drawn inputs: the contract's swap to :func:`simulator.mirror.amm.swap_int` (Python
ints), the floats of an int over 1e6 / 1e18 to Python's true division, the amounts sent to
:func:`simulator.engine.spot.swap_amount`, and a step's swaps on a :class:`SpotBook` to the
same rows on its :class:`IntBook` (the code before the kernel), inventories to the bit."""

from __future__ import annotations

import copy
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine import jit_spot
from simulator.engine.spot import swap_amount
from simulator.mirror import amm, jit_amm
from simulator.mirror.sim.spot import IntBook, SpotBook, SpotCall

TOP = 2 ** (jit_amm.SHIFT * jit_amm.WIDTH)


def _draw_int(rng: random.Random, bits: int) -> int:
    """An int of a random bit length up to ``bits``, or an extreme."""
    r = rng.random()
    if r < 0.05:
        return rng.choice([0, 1, 2, 2**bits - 1, 10**18, 10**27])
    return rng.randrange(0, 2 ** rng.randrange(1, bits + 1))


def _digits(value: int) -> np.ndarray:
    return jit_amm.to_digits(value)


def _swap(base_in, amount, reserves, fee, out, _ws=None):
    """:func:`jit_amm._swap_at` on one pool's ``reserves`` (2, WIDTH)."""
    return jit_amm._swap_at(base_in, amount, reserves[None], 0, fee, out, jit_amm.flat_workspace())


@pytest.mark.parametrize("seed", range(3))
def test_a_swap_gives_the_contracts_integers(seed):
    rng = random.Random(seed)
    out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    for _ in range(4000):
        bits = rng.choice([64, 100, 128, 140])
        rc, rb, amount = _draw_int(rng, bits), _draw_int(rng, bits), _draw_int(rng, bits)
        fee = rng.choice([0, 1, 30, 9999, rng.randrange(0, 10_000)])
        base_in = rng.random() < 0.5
        want_out, want_rc, want_rb, want_outcome = amm.swap_int(base_in, amount, rc, rb, fee)
        reserves = np.stack([_digits(rc), _digits(rb)])
        outcome = _swap(base_in, _digits(amount), reserves, fee, out)
        assert outcome == want_outcome, (base_in, amount, rc, rb, fee)
        assert jit_amm.from_digits(out) == want_out, (base_in, amount, rc, rb, fee)


def test_a_swap_whose_reserve_would_leave_the_digits_is_not_executed():
    out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    reserves = np.stack([_digits(10**12), _digits(TOP - 1)])
    ws = jit_amm.workspace()
    assert _swap(True, _digits(2**120), reserves, 30, out, ws) == -1
    assert _swap(True, _digits(1), reserves, 30, out, ws) == amm.INSUFFICIENT_OUTPUT
    assert _swap(False, _digits(10**6), reserves, 30, out, ws) == amm.OK


@pytest.mark.parametrize("decimals", [6, 18])
def test_an_int_over_a_power_of_ten_is_pythons_true_division(decimals):
    rng = random.Random(decimals)
    scale = 10**decimals
    values = [0, 1, TOP - 1, scale, scale // 2, 3 * scale // 2, 2**53 + 1, 2**150 - 2**96]
    for _ in range(6000):
        values.append(_draw_int(rng, 149))
        # a quotient halfway between two floats, and its neighbours
        m = rng.randrange(2**52, 2**53)
        half = (2 * m + 1) * 2 ** rng.randrange(0, 40) * scale
        if half < TOP:
            values += [half, half - 1, half + 1]
    for v in values:
        assert jit_amm.quotient_float(_digits(v), decimals) == v / scale, v


def _amounts(rng: random.Random) -> list[float]:
    edges = [0.0, 5e-13, 1.5e-12, 2.5e-12, 5e-7, 2.5e-6, 1e-4, 0.1, 999.9999999999999, 1e3,
             8191.999999999999, 8192.0, 8192.000000000002, 9007.199254740993, 1e16, 2.0**40,
             2.0**33 - 1e-6, 2.0**33, math.nan, math.inf, -1.0]  # fmt: skip
    draws = [10 ** rng.uniform(-14, 18) for _ in range(6000)]
    draws += [round(x, rng.randrange(0, 13)) for x in draws[:2000]]
    return edges + draws


def test_an_amount_is_the_integer_the_chain_engine_sends():
    """Every covered amount equals ``swap_amount``'s; what is not covered is only a USD
    amount of 2**33 or more, a base amount of 2**62 or more or a power of two from 2**13 up,
    NaN, infinities and negatives."""
    rng = random.Random(7)
    out = np.empty(jit_amm.WIDTH, dtype=np.int64)
    covered = 0
    for x in _amounts(rng):
        for base_in in (False, True):
            for capped in (False, True):
                if jit_amm.scaled_amount(base_in, x, capped, out):
                    covered += 1
                    assert jit_amm.from_digits(out) == swap_amount(base_in, x, capped), (
                        base_in, x, capped,
                    )  # fmt: skip
                    continue
                power_of_two = x > 0 and math.isfinite(x) and math.frexp(x)[0] == 0.5
                assert (
                    not (x >= 0)
                    or x == math.inf
                    or (not base_in and x >= 2.0**33)
                    or (base_in and x >= 2.0**62)
                    or (base_in and x >= 8191.99 and power_of_two)
                    or (base_in and capped and x >= 8191.99)  # rounded to a power of two
                ), (base_in, x, capped)
    assert covered > 25_000  # of 32,084


# -- a step's swaps on the book --------------------------------------------------------------


def _books(rng: np.random.Generator, n_markets: int, n_arbs: int, bits: int):
    arbs = [f"arb{i}" for i in range(n_arbs)]
    holders = [*arbs, "hedger"]

    def big(size):
        return [int(v) * 2 ** int(rng.integers(0, bits - 62)) for v in rng.integers(1, 2**62, size)]

    ints = IntBook(
        reserve_collateral=big(n_markets),
        reserve_base=big(n_markets),
        fee_bps=rng.integers(0, 100, n_markets).tolist(),
        collateral=dict(zip(holders, big(len(holders)), strict=True)),
        base={(h, m): v for (h, m), v in zip(
            [(h, m) for h in holders for m in range(n_markets)],
            big(len(holders) * n_markets), strict=True)},
    )  # fmt: skip
    if n_markets > 1:
        ints.reserve_base[-1] = 0  # an empty pool: every swap on it reverts
    return SpotBook(copy.deepcopy(ints), holders), ints, arbs


def _rows(rng: np.random.Generator, n: int, n_markets: int, n_arbs: int) -> np.ndarray:
    rows = np.empty((n, len(jit_spot.SWAP_COLUMNS)))
    rows[:, 0] = rng.integers(0, n_markets, n)
    rows[:, 1] = rng.integers(-1, n_arbs, n)
    rows[:, 2] = rng.integers(0, 2, n)
    rows[:, 3] = 10.0 ** rng.uniform(-13, 10, n)
    rows[:, 4] = (rows[:, 1] < 0) & (rng.random(n) < 0.3)
    return rows


def _state(rng: np.random.Generator, n_markets: int, n_arbs: int) -> SimpleNamespace:
    return SimpleNamespace(
        hedged_base=rng.normal(0, 1e4, n_markets),
        hedger_inventory=rng.normal(0, 1e6, (n_markets, 2)),
        arb_inventory=rng.normal(0, 1e6, (n_arbs, n_markets, 2)),
    )


def _same(got: IntBook, want: IntBook) -> None:
    """The same reserves, fees and token balances (a holder's zero balance and no entry
    alike)."""
    assert (got.reserve_collateral, got.reserve_base) == (
        want.reserve_collateral,
        want.reserve_base,
    )
    assert list(got.fee_bps) == list(want.fee_bps)
    for name in ("collateral", "base"):
        held = {k: v for k, v in getattr(got, name).items() if v}
        assert held == {k: v for k, v in getattr(want, name).items() if v}


def _held_to_the_int_book(book, ints, arbs, rows, state):
    want = copy.deepcopy(state)
    fills = ints.swap_rows_python(rows, arbs, "hedger")
    if fills:
        jit_spot.apply_fills(
            np.array(fills, dtype=np.float64), want.hedged_base, want.hedger_inventory,
            want.arb_inventory,
        )  # fmt: skip
    book.swap_rows(rows, arbs, "hedger", state)
    _same(book.ints(), ints)
    for name in ("hedged_base", "hedger_inventory", "arb_inventory"):
        np.testing.assert_array_equal(getattr(state, name), getattr(want, name), strict=True)
    for key, value in ints.levels().items():
        np.testing.assert_array_equal(book.levels()[key], value, strict=True)


@pytest.mark.parametrize("seed", range(4))
def test_a_steps_swaps_move_the_book_and_inventories_as_the_python_ints_do(seed):
    rng = np.random.default_rng(seed)
    n_markets, n_arbs = 4, 3
    book, ints, arbs = _books(rng, n_markets, n_arbs, bits=100)
    state = _state(rng, n_markets, n_arbs)
    for _ in range(30):
        _held_to_the_int_book(book, ints, arbs, _rows(rng, 12, n_markets, n_arbs), state)
    assert book.python_swaps == 0


def test_an_amount_the_kernel_does_not_convert_is_given_from_python():
    rng = np.random.default_rng(11)
    book, ints, arbs = _books(rng, 2, 2, bits=120)
    rows = _rows(rng, 6, 2, 2)
    rows[2, 2], rows[2, 3] = 0, 2.0**40  # a USD amount beyond the kernel's conversion
    rows[4, 2], rows[4, 3], rows[4, 4] = 1, 16384.0, 0  # a power of two in base units
    _held_to_the_int_book(book, ints, arbs, rows, _state(rng, 2, 2))
    assert book.python_swaps == 0


def test_an_amount_beyond_the_digits_runs_in_python_ints():
    rng = np.random.default_rng(12)
    book, ints, arbs = _books(rng, 2, 2, bits=100)
    rows = _rows(rng, 5, 2, 2)
    rows[3, 2], rows[3, 3], rows[3, 4] = 0, 1e40, 0  # 1e46 collateral units: beyond 2**150
    _held_to_the_int_book(book, ints, arbs, rows, _state(rng, 2, 2))
    assert book.python_swaps == 2


def test_a_book_beyond_the_digits_runs_in_python_ints_from_that_swap_on():
    rng = np.random.default_rng(5)
    _, ints, arbs = _books(rng, 2, 1, bits=100)
    # a purchase's collateral in would not fit (the base reserve as large: its output is not 0)
    ints.reserve_collateral[0] = ints.reserve_base[0] = TOP - 1
    book = SpotBook(copy.deepcopy(ints), [*arbs, "hedger"])
    rows = np.array([[1, 0, 0, 1e3, 0], [0, 0, 0, 1e3, 0], [1, -1, 1, 1.0, 0]])
    _held_to_the_int_book(book, ints, arbs, rows, _state(rng, 2, 1))
    assert book.python_swaps == 2  # the second swap and the one after it
    assert ints.reserve_collateral[0] >= TOP  # went through, in Python ints


def test_an_lp_withdrawal_moves_the_digits_as_the_python_ints():
    rng = np.random.default_rng(3)
    book, ints, _ = _books(rng, 2, 1, bits=100)
    call = SpotCall("remove_liquidity", 0, "deployer", ints.reserve_collateral[0] // 3,
                    base_amount=ints.reserve_base[0] // 4)  # fmt: skip
    assert book.execute(call).ok == ints.execute(call).ok
    _same(book.ints(), ints)
    too_much = call._replace(amount=ints.reserve_collateral[0] + 1)
    assert book.execute(too_much).ok is ints.execute(too_much).ok is False
    np.testing.assert_array_equal(book.levels()["amm_price_usd"], ints.levels()["amm_price_usd"])
