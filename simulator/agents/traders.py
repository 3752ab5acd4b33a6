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
    # The formulas' float operations, each on one operand pair as written (a sum or product
    # in either order is the same float), into three buffers instead of a new array each.
    equity = state.side.astype(np.float64)
    equity *= state.size_base
    work = np.subtract(price_usd, state.read_price_usd)
    equity *= work
    equity += state.equity_usd
    if funding_index_usd is not None and state.read_funding_index_usd is not None:
        np.subtract(funding_index_usd, state.read_funding_index_usd, out=work)
        work *= state.size_base
        equity -= work
    maintenance = np.divide(price_usd, state.read_price_usd)
    maintenance *= state.maintenance_usd
    if margin_scale is not None and state.read_margin_scale is not None:
        np.divide(margin_scale, state.read_margin_scale, out=work)
        maintenance *= work
    return equity, maintenance


def estimate_reference(
    state: TraderState,
    price_usd,
    funding_index_usd: np.ndarray | None = None,
    margin_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`estimate` written as its formulas read, one new array per operation (for tests:
    :func:`estimate` must give the same floats)."""
    side = state.side.astype(np.float64)
    equity = state.equity_usd + side * state.size_base * (price_usd - state.read_price_usd)
    if funding_index_usd is not None and state.read_funding_index_usd is not None:
        equity = equity - state.size_base * (funding_index_usd - state.read_funding_index_usd)
    maintenance = state.maintenance_usd * (price_usd / state.read_price_usd)
    if margin_scale is not None and state.read_margin_scale is not None:
        maintenance = maintenance * (margin_scale / state.read_margin_scale)
    return equity, maintenance


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
    open_ = state.size_base > 0
    open_top = open_ & can_top_up if can_top_up is not None else open_
    open_close = open_ & can_close if can_close is not None else open_
    with np.errstate(invalid="ignore"):  # inf thresholds × 0 collateral of flat traders
        if carried is None:
            carried = estimate(state, price_usd, funding_index_usd, margin_scale)
        return _decide(state, book, price_usd, rng, open_close, open_top, carried)


_last_rows: tuple[object, np.ndarray, dict[int, np.ndarray]] | None = None


def behaviour_rows(book) -> dict[int, np.ndarray]:
    """The book's rows of each :class:`~simulator.population.Behaviour` that acts (int64,
    ascending), remembered for the last book by identity (a book is fixed for a run)."""
    global _last_rows
    last = _last_rows
    if last is None or last[0] is not book or last[1] is not book.behaviour:
        behaviour = np.asarray(book.behaviour)
        rows = {
            int(b): np.flatnonzero(behaviour == b)
            for b in (Behaviour.TAKE_PROFIT, Behaviour.STOP_LOSS, Behaviour.PANIC, Behaviour.TOP_UP)
        }
        last = _last_rows = (book, book.behaviour, rows)
    return last[2]


def _decide(state, book, price_usd, rng, open_, open_top, carried) -> TraderDecisions:
    """:func:`decide`'s rules judged on each behaviour's rows alone (the same float operations
    row by row as on the whole book; the draws are one per row of the book all the same). The
    behaviours' rows are disjoint: a top-up row never closes, and the rows that want to close
    are the three closing behaviours' together."""
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
    # An entry price near 0 (a market that fell to almost nothing before the position opened)
    # makes the quotient overflow to ±inf, which compares with the drawdown as it should: no
    # overflow warning for it (every finite quotient is unchanged).
    with np.errstate(over="ignore"):
        adverse_move = side * (entry - price_at(r)) / np.maximum(entry, 1e-300)
    panic = r[adverse_move >= book.panic_drawdown[r]]
    closing = np.sort(np.concatenate([take_profit, stop_loss, panic]))
    # A trader already under maintenance margin is left to the keepers (its close would revert).
    close = closing[equity[closing] > maintenance[closing]]

    r = rows[Behaviour.TOP_UP]
    r = r[open_top[r]]
    amount = np.minimum(book.top_up_fraction[r] * book.collateral_usd[r], state.wallet_usd[r])
    wants = (equity[r] < book.top_up_margin_ratio[r] * maintenance[r]) & (amount >= 1.0)
    drawn = np.flatnonzero(wants)  # the rows whose draw decides: the others' is not looked at
    wants[drawn] = draws_at(rng, len(state.side), r[drawn]) < book.top_up_probability[r[drawn]]
    return TraderDecisions(close=close, top_up=r[wants], top_up_usd=amount[wants])


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
