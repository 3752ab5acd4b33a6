"""Traders' decisions for one step, vectorized over all traders.

Inputs are the traders' positions (one row per position: the venue's multi-market book) as read
from the chain at the end of the previous step and the index price the oracle posts this step
(one price for all rows, or each row's market's price); outputs are which positions close and
which top up by how much. A row's equity and maintenance margin are its share of its margin
account's (:mod:`simulator.engine.units`). Behaviour codes are
:class:`simulator.population.Behaviour`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine import jit_rows
from simulator.population import Behaviour


@dataclass
class TraderState:
    """Mutable per-position arrays (USD and base units), one row per position of the book."""

    side: np.ndarray
    """+1 long, -1 short, of the opening position (int8)."""
    size_base: np.ndarray
    """Current absolute size from the chain (base units); 0 = flat."""
    equity_usd: np.ndarray
    """Equity at the index at the end of the previous step (USD)."""
    maintenance_usd: np.ndarray
    """Maintenance margin at the end of the previous step (USD)."""
    collateral_in_usd: np.ndarray
    """Collateral put in so far (opening deposit plus top-ups, USD)."""
    entry_price_usd: np.ndarray
    """Entry price of the position (USD)."""
    wallet_usd: np.ndarray
    """Collateral left in the account's wallet for this position's top-ups (USD)."""
    read_price_usd: np.ndarray
    """Index price at which ``equity_usd`` and ``maintenance_usd`` were last read (USD)."""
    read_funding_index_usd: np.ndarray | None = None
    """Funding index of the row's side at that read (USD owed per base unit, the engine's
    running estimate: :attr:`simulator.engine.state.EngineState.funding_index_usd`); None: the
    estimate leaves funding out."""
    read_margin_scale: np.ndarray | None = None
    """The row's market's margin scale at that read (1 = no dynamic margin); None: the
    estimate leaves the scale out."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class TraderDecisions:
    close: np.ndarray
    """Rows (positions) closed whole this step."""
    top_up: np.ndarray
    """Rows whose account deposits more collateral for them this step."""
    top_up_usd: np.ndarray
    """Amount each of them deposits (USD), aligned with ``top_up``."""


def _nothing_decided() -> TraderDecisions:
    rows, usd = np.zeros(0, dtype=np.int64), np.zeros(0)
    rows.flags.writeable = usd.flags.writeable = False
    return TraderDecisions(close=rows, top_up=rows, top_up_usd=usd)


NO_DECISIONS = _nothing_decided()
"""The decisions of a step where no row closes or tops up (read-only empty arrays): the one
object the engines' traders' pass returns then
(:func:`simulator.engine.traders.decisions_and_sums`), so that a step can tell it by
identity."""


def estimate(
    state: TraderState,
    price_usd,
    funding_index_usd: np.ndarray | None = None,
    margin_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Equity and maintenance margin carried from their last read to ``price_usd`` (USD; a
    float, or one price per row):
    ``equity + side·size·(price − read price) − size·(funding index − index at read)`` and
    ``maintenance · price / read price · scale / scale at read``.

    ``funding_index_usd`` is each row's side's funding index now (USD per base unit; omit it to
    leave funding out) and ``margin_scale`` each row's market's margin scale now (omit it to
    leave the scale out). What the carry still misses: fees (a unit that trades is read again
    after its block), a tier crossed since the read (maintenance is carried linearly in the
    notional) and the difference between the engine's funding index and the venue's (the venue
    accrues an untouched market's funding at the price of the accrual)."""
    # One compiled pass (:func:`simulator.engine.jit_rows.estimate`): the formulas' float
    # operations, each on one operand pair as written (a sum or product in either order is the
    # same float), row by row.
    n = len(state.side)
    price, per_row = _per_row(price_usd, n)
    has_funding = funding_index_usd is not None and state.read_funding_index_usd is not None
    has_scale = margin_scale is not None and state.read_margin_scale is not None
    return jit_rows.estimate(
        state.side, _rows(state.size_base, n), _rows(state.equity_usd, n),
        _rows(state.maintenance_usd, n), _rows(state.read_price_usd, n), price, per_row,
        has_funding, _rows(funding_index_usd, n) if has_funding else _NONE,
        _rows(state.read_funding_index_usd, n) if has_funding else _NONE,
        has_scale, _rows(margin_scale, n) if has_scale else _NONE,
        _rows(state.read_margin_scale, n) if has_scale else _NONE,
    )  # fmt: skip


_NONE = np.zeros(0)
"""An optional array left out (the kernels' flag says so)."""


def _rows(a, n: int) -> np.ndarray:
    """``a`` as ``n`` rows of float64 (itself when it is that; else converted, or broadcast as
    numpy's operators would: an error when it cannot be)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (n,):
        a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
    return a


def _per_row(value, n: int) -> tuple[np.ndarray, bool]:
    """A value that is one float for all ``n`` rows or one per row, as the kernels take it: an
    array and whether it is per row."""
    a = np.asarray(value, dtype=np.float64)
    return (a.reshape(1), False) if a.ndim == 0 else (_rows(a, n), True)


def decide(
    state: TraderState,
    book,
    price_usd,
    rng: np.random.Generator,
    can_top_up: np.ndarray | None = None,
    can_close: np.ndarray | None = None,
    funding_index_usd: np.ndarray | None = None,
    margin_scale: np.ndarray | None = None,
    carried: tuple[np.ndarray, np.ndarray] | None = None,
) -> TraderDecisions:
    """Decide this step's actions from the new index price (vectorized).

    Equity and maintenance margin are carried to the new price with :func:`estimate` (with
    ``funding_index_usd`` and ``margin_scale`` per row, when given), unless ``carried`` gives
    them already (the same estimate, computed once per step by the engine). Take-profit and stop-loss compare profit to collateral put in; panic
    compares the adverse move since entry to ``panic_drawdown``; top-up traders below
    ``top_up_margin_ratio × maintenance`` deposit ``top_up_fraction × opening collateral``
    with probability ``top_up_probability`` (one uniform draw per row per step, the stream
    always moved past all of them so that it does not depend on the state; only the draws
    that decide are read, :func:`draws_at`). ``price_usd`` is a float or one
    price per row; ``can_top_up`` (bool per row, default all) marks the rows whose account can
    add margin to them (the venue's isolated positions take margin only with a trade);
    ``can_close`` (bool per row, default all) the rows whose margin account is above its
    maintenance margin as a whole (a cross account's row may look healthy on its own while the
    account is not: its close would revert).
    """
    if carried is None:
        carried = estimate(state, price_usd, funding_index_usd, margin_scale)
    return _decide(state, book, price_usd, rng, can_close, can_top_up, carried)


#: The behaviours' codes as :func:`simulator.engine.jit_rows.decide_rows` takes them.
CODES = np.array(
    [Behaviour.TAKE_PROFIT, Behaviour.STOP_LOSS, Behaviour.PANIC, Behaviour.TOP_UP],
    dtype=np.int64,
)


def _mask(a, n: int) -> np.ndarray:
    """A bool per row (``a`` itself when it is one)."""
    a = np.asarray(a, dtype=np.bool_)
    if a.shape != (n,):
        a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
    return a


def _decide(state, book, price_usd, rng, may_close, may_top_up, carried) -> TraderDecisions:
    """:func:`decide`'s rules on every open row in one compiled pass
    (:func:`simulator.engine.jit_rows.decide_rows`: the closes, and the top-up rows whose draw
    decides with their amounts), then the draws (:func:`with_draws`). ``may_close`` /
    ``may_top_up``: bool per row, or None for all. The behaviours' rows are disjoint: a
    top-up row never closes."""
    equity, maintenance = carried
    n = len(state.side)
    price, per_row = _per_row(price_usd, n)
    threshold, top_up_base = book_rules(book)
    close, drawn, amount = jit_rows.decide_rows(
        np.asarray(book.behaviour), CODES, _rows(state.size_base, n),
        may_close is not None, _mask(may_close, n) if may_close is not None else _NO_MASK,
        may_top_up is not None, _mask(may_top_up, n) if may_top_up is not None else _NO_MASK,
        _rows(equity, n), _rows(maintenance, n), _rows(state.collateral_in_usd, n), threshold,
        _rows(state.entry_price_usd, n), state.side, price, per_row, top_up_base,
        _rows(state.wallet_usd, n),
    )  # fmt: skip
    return with_draws(book, rng, n, close, drawn, amount)


def with_draws(book, rng, n: int, close, drawn, amount) -> TraderDecisions:
    """The decisions of a compiled pass (``close``: the rows that close; ``drawn``: the
    top-up rows whose draw decides, ascending, with their ``amount``) after this step's draws:
    one per row of the book's ``n``, only the deciding ones read (:func:`draws_at`); a row
    tops up when its draw is under its ``top_up_probability``."""
    keep = draws_at(rng, n, drawn) < book.top_up_probability[drawn]
    return TraderDecisions(close=close, top_up=drawn[keep], top_up_usd=amount[keep])


#: The book's arrays :func:`book_rules` reads.
_RULE_ARRAYS = ("behaviour", "take_profit_fraction", "stop_loss_fraction", "panic_drawdown",
                "top_up_margin_ratio", "top_up_fraction", "collateral_usd")  # fmt: skip


def book_rules(book) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rule threshold and top-up before the wallet's cap
    (:func:`simulator.engine.jit_rows.book_rules`), made on every call: a run keeps its own
    book's in its context (:func:`simulator.engine.traders.carried_decisions`, in
    :attr:`~simulator.engine.context.Context.memo`), not here (a module-level cache of the last
    book kept a finished run's book alive)."""
    arrays = [np.asarray(getattr(book, k)) for k in _RULE_ARRAYS]
    n = len(arrays[0])
    behaviour, tp, sl, panic, ratio, fraction, collateral = (
        arrays[0], *(_rows(a, n) for a in arrays[1:])
    )  # fmt: skip
    return jit_rows.book_rules(behaviour, CODES, tp, sl, panic, ratio, fraction, collateral)


_NO_MASK = np.zeros(0, dtype=np.bool_)


#: A jump of the stream (:meth:`numpy.random.PCG64.advance`) costs about what drawing this many
#: uniforms does: :func:`draws_at` jumps over the unused draws when it needs fewer than one
#: draw in this many.
JUMP_COST_DRAWS = 512


def draws_at(rng: np.random.Generator, n: int, rows: np.ndarray) -> np.ndarray:
    """The uniform draws at ``rows`` (ascending) of ``rng.random(n)``, with ``rng`` left where
    ``rng.random(n)`` leaves it. A PCG64 stream with no 32-bit half-draw held (``has_uint32``)
    jumps over the draws not needed when they are few (``advance``: one 64-bit output per
    uniform, as ``random`` draws them); any other stream draws all ``n``.

    >>> a, b = np.random.default_rng(3), np.random.default_rng(3)
    >>> bool((draws_at(a, 1000, np.array([7, 500])) == b.random(1000)[[7, 500]]).all())
    True
    >>> a.bit_generator.state == b.bit_generator.state
    True
    """
    bits = rng.bit_generator
    if (
        len(rows) * JUMP_COST_DRAWS > n
        or type(bits) is not np.random.PCG64
        or bits.state["has_uint32"]
    ):
        return rng.random(n)[rows]
    out = np.empty(len(rows))
    at = 0
    for i, row in enumerate(rows.tolist()):
        bits.advance(row - at)
        out[i] = rng.random()
        at = row + 1
    bits.advance(n - at)
    return out


def decide_reference(
    state, book, price, draws, can_top_up=None, can_close=None, funding_index=None, scale=None
) -> tuple[list[int], list[tuple[int, float]]]:
    """Row-by-row version of :func:`decide` for tests (``draws`` = the uniform draws)."""
    closes, top_ups = [], []
    for i in range(len(state.side)):
        if state.size_base[i] <= 0:
            continue
        price_usd = float(np.broadcast_to(price, state.side.shape)[i])
        s = float(state.side[i])
        read = state.read_price_usd[i]
        equity = state.equity_usd[i] + s * state.size_base[i] * (price_usd - read)
        maintenance = state.maintenance_usd[i] * price_usd / read
        if funding_index is not None:
            equity -= state.size_base[i] * (funding_index[i] - state.read_funding_index_usd[i])
        if scale is not None:
            maintenance *= scale[i] / state.read_margin_scale[i]
        profit = equity - state.collateral_in_usd[i]
        b = int(book.behaviour[i])
        adverse = s * (state.entry_price_usd[i] - price_usd) / state.entry_price_usd[i]
        wants_close = (
            (
                b == Behaviour.TAKE_PROFIT
                and profit >= book.take_profit_fraction[i] * state.collateral_in_usd[i]
            )
            or (
                b == Behaviour.STOP_LOSS
                and -profit >= book.stop_loss_fraction[i] * state.collateral_in_usd[i]
            )
            or (b == Behaviour.PANIC and adverse >= book.panic_drawdown[i])
        )
        if wants_close and equity > maintenance and (can_close is None or can_close[i]):
            closes.append(i)
            continue
        amount = min(book.top_up_fraction[i] * book.collateral_usd[i], state.wallet_usd[i])
        if (
            (can_top_up is None or can_top_up[i])
            and b == Behaviour.TOP_UP
            and equity < book.top_up_margin_ratio[i] * maintenance
            and draws[i] < book.top_up_probability[i]
            and amount >= 1.0
        ):
            top_ups.append((i, amount))
    return closes, top_ups
