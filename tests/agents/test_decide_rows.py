"""The traders' decisions (simulator.agents.traders._decide: one compiled pass over the book,
simulator.engine.jit_rows.decide_rows, then the deciding draws) equal, bit for bit, the numpy
forms they replaced on drawn books -- session 25's rules judged on each behaviour's rows and
session 24's book-wide mask -- and leave the agents' stream where those left it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simulator.agents import traders
from simulator.population import Behaviour


def behaviour_rows(book) -> dict[int, np.ndarray]:
    """The book's rows of each behaviour that acts (int64, ascending)."""
    behaviour = np.asarray(book.behaviour)
    acting = (Behaviour.TAKE_PROFIT, Behaviour.STOP_LOSS, Behaviour.PANIC, Behaviour.TOP_UP)
    return {int(b): np.flatnonzero(behaviour == b) for b in acting}


def decide_rows_reference(state, book, price_usd, rng, open_, open_top, carried):
    """Session 25's ``_decide`` (numpy): each behaviour's open rows judged apart, the closes
    gathered and sorted, the top-up rows' draws at the rows that decide."""
    equity, maintenance = carried
    collateral_in = state.collateral_in_usd
    rows = behaviour_rows(book)
    per_row_price = np.ndim(price_usd) > 0

    def price_at(r: np.ndarray):
        return price_usd[r] if per_row_price else price_usd

    r = rows[Behaviour.TAKE_PROFIT]
    r = r[open_[r]]
    collateral = collateral_in[r]
    take_profit = r[equity[r] - collateral >= book.take_profit_fraction[r] * collateral]
    r = rows[Behaviour.STOP_LOSS]
    r = r[open_[r]]
    collateral = collateral_in[r]
    stop_loss = r[-(equity[r] - collateral) >= book.stop_loss_fraction[r] * collateral]
    r = rows[Behaviour.PANIC]
    r = r[open_[r]]
    entry = state.entry_price_usd[r]
    side = state.side[r].astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        adverse_move = side * (entry - price_at(r)) / np.maximum(entry, 1e-300)
    panic = r[adverse_move >= book.panic_drawdown[r]]
    closing = np.sort(np.concatenate([take_profit, stop_loss, panic]))
    close = closing[equity[closing] > maintenance[closing]]
    r = rows[Behaviour.TOP_UP]
    r = r[open_top[r]]
    amount = np.minimum(book.top_up_fraction[r] * book.collateral_usd[r], state.wallet_usd[r])
    with np.errstate(invalid="ignore"):
        wants = (equity[r] < book.top_up_margin_ratio[r] * maintenance[r]) & (amount >= 1.0)
    drawn = np.flatnonzero(wants)
    wants[drawn] = (
        traders.draws_at(rng, len(state.side), r[drawn]) < book.top_up_probability[r[drawn]]
    )
    return close, r[wants], amount[wants]


def decide_mask_reference(state, book, price_usd, rng, open_, open_top, carried):
    """Session 24's ``_decide``: a book-wide ``close`` mask set behaviour by behaviour."""
    equity, maintenance = carried
    collateral_in = state.collateral_in_usd
    rows = behaviour_rows(book)
    per_row = np.ndim(price_usd) > 0
    close = np.zeros(len(state.side), dtype=bool)
    r = rows[Behaviour.TAKE_PROFIT]
    r = r[open_[r]]
    profit = equity[r] - collateral_in[r]
    close[r] = profit >= book.take_profit_fraction[r] * collateral_in[r]
    r = rows[Behaviour.STOP_LOSS]
    r = r[open_[r]]
    profit = equity[r] - collateral_in[r]
    close[r] = -profit >= book.stop_loss_fraction[r] * collateral_in[r]
    r = rows[Behaviour.PANIC]
    r = r[open_[r]]
    entry = state.entry_price_usd[r]
    side = state.side[r].astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        adverse = (
            side * (entry - (price_usd[r] if per_row else price_usd)) / np.maximum(entry, 1e-300)
        )
    close[r] = adverse >= book.panic_drawdown[r]
    closing = np.flatnonzero(close)
    close[closing] = equity[closing] > maintenance[closing]
    draws = rng.random(len(state.side))
    r = rows[Behaviour.TOP_UP]
    r = r[open_top[r] & ~close[r]]
    amount = np.minimum(book.top_up_fraction[r] * book.collateral_usd[r], state.wallet_usd[r])
    with np.errstate(invalid="ignore"):
        wants = (
            (equity[r] < book.top_up_margin_ratio[r] * maintenance[r])
            & (draws[r] < book.top_up_probability[r])
            & (amount >= 1.0)
        )
    return np.flatnonzero(close), r[wants], amount[wants]


def _drawn_book(seed: int, n: int | None = None):
    """A drawn book, trader state, carried estimate, price and masks (NaN in the estimate,
    the wallets and the entries for some seeds; entries near 0)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 2000)) if n is None else n
    behaviour = rng.integers(0, 5, n).astype(np.int8)
    book = SimpleNamespace(
        behaviour=behaviour, collateral_usd=rng.uniform(100, 10_000, n),
        take_profit_fraction=rng.uniform(0.0, 1.0, n), stop_loss_fraction=rng.uniform(0.0, 1.0, n),
        panic_drawdown=rng.uniform(-0.05, 0.2, n), top_up_probability=rng.uniform(0, 1, n),
        top_up_fraction=rng.uniform(0, 1, n), top_up_margin_ratio=rng.uniform(0.5, 3.0, n),
    )  # fmt: skip
    size = np.where(rng.random(n) < 0.8, rng.lognormal(0, 1, n), 0.0)
    state = SimpleNamespace(
        side=rng.choice([-1, 1], n).astype(np.int8), size_base=size,
        collateral_in_usd=book.collateral_usd * rng.uniform(0.5, 2.0, n),
        entry_price_usd=np.where(rng.random(n) < 0.05, 1e-320, rng.lognormal(4, 1, n)),
        wallet_usd=rng.uniform(0, 5_000, n),
    )  # fmt: skip
    equity = state.collateral_in_usd * rng.uniform(-1.0, 3.0, n)
    if seed % 3 == 0:  # few top-up rows under their ratio: the unused draws are jumped over
        book.top_up_margin_ratio = np.where(rng.random(n) < 0.002, 3.0, 0.0)
    maintenance = state.collateral_in_usd * rng.uniform(0.0, 1.5, n)
    if seed % 4 == 1:  # NaN where the code admits it: an estimate from a 0 / 0, a NaN entry
        for a in (equity, maintenance, state.wallet_usd, state.entry_price_usd):
            a[rng.random(n) < 0.05] = np.nan
    price = rng.lognormal(4, 1, n) if seed % 2 else float(rng.lognormal(4, 1))
    open_ = (size > 0) & (rng.random(n) < 0.9)
    open_top = (size > 0) & (rng.random(n) < 0.8)
    return state, book, price, open_, open_top, (equity, maintenance)


def _same(got, want) -> None:
    assert got.close.dtype == want[0].dtype and np.array_equal(got.close, want[0])
    assert got.top_up.dtype == want[1].dtype and np.array_equal(got.top_up, want[1])
    assert np.array_equal(got.top_up_usd, want[2])


@pytest.mark.parametrize("seed", range(16))
def test_decide_compiled_equals_the_per_behaviour_numpy_form(seed):
    state, book, price, open_, open_top, carried = _drawn_book(seed)
    a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    got = traders._decide(state, book, price, a, open_, open_top, carried)
    _same(got, decide_rows_reference(state, book, price, b, open_, open_top, carried))
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_decide_compiled_on_tiny_books_and_without_masks(seed, n):
    """Empty and one-row books; ``decide`` with no masks is every open row may act."""
    state, book, price, _, _, carried = _drawn_book(seed, n)
    if n == 0:
        price = price if np.ndim(price) == 0 else np.zeros(0)
    open_ = state.size_base > 0
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    got = traders.decide(state, book, price, a, carried=carried)
    _same(got, decide_rows_reference(state, book, price, b, open_, open_, carried))
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("seed", range(12))
def test_decide_on_behaviour_rows_equals_the_book_wide_mask(seed):
    state, book, price, open_, open_top, carried = _drawn_book(seed)
    a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    got = traders._decide(state, book, price, a, open_, open_top, carried)
    _same(got, decide_mask_reference(state, book, price, b, open_, open_top, carried))
    assert a.bit_generator.state == b.bit_generator.state


def _stream(kind: str, seed: int) -> np.random.Generator:
    if kind == "mt19937":
        return np.random.Generator(np.random.MT19937(seed))
    rng = np.random.default_rng(seed)
    if kind == "half_draw_held":  # an odd count of 32-bit draws leaves half a 64-bit output
        rng.integers(0, 2**31, size=3, dtype=np.uint32)
    return rng


def _same_state(a, b) -> bool:
    """Bit generator states alike (MT19937's holds an array)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else a == b


@pytest.mark.parametrize("kind", ["pcg64", "half_draw_held", "mt19937"])
@pytest.mark.parametrize("seed", range(6))
def test_draws_at_are_the_full_draws_and_leave_the_stream_alike(kind, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50_000))
    for k in (0, 1, 2, 5, max(1, n // 512), n // 100, n):
        rows = np.sort(rng.choice(n, min(k, n), replace=False)) if n else np.zeros(0, dtype=int)
        a, b = _stream(kind, seed), _stream(kind, seed)
        got = traders.draws_at(a, n, rows)
        assert np.array_equal(got, b.random(n)[rows])
        assert _same_state(a.bit_generator.state, b.bit_generator.state)
        # And the streams go on alike, 32-bit draws included.
        assert np.array_equal(a.integers(0, 2**31, 5, dtype=np.uint32),
                              b.integers(0, 2**31, 5, dtype=np.uint32))  # fmt: skip
