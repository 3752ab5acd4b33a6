"""Phase 1c: traders act on what they last read of their positions (vectorized decisions of
:func:`simulator.agents.traders.decide`: close, top up), and the traders' view of their
positions is written from the venue's health reads of their margin units
(:mod:`simulator.engine.margin`)."""

from __future__ import annotations

import ctypes

import numpy as np

from simulator.agents import traders as trader_agents
from simulator.engine import jit_rows
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.scenario.randomness import _state_words
from simulator.units import to_units


def row_prices(ctx: Context, s: EngineState) -> np.ndarray:
    """Every row's market's oracle price this step (USD)."""
    return s.oracle_price_usd[ctx.world.book.market]


def row_carry(ctx: Context, s: EngineState) -> tuple[np.ndarray, np.ndarray]:
    """Every row's side's funding index (USD per base unit) and its market's margin scale
    now, for :func:`simulator.agents.traders.estimate`."""
    # (M, 2) read flat at 2·market + (short), in one compiled pass with the scale's gather.
    return jit_rows.row_carry(
        ctx.world.book.market, s.trader.side,
        np.ravel(np.asarray(s.funding_index_usd, dtype=np.float64)),
        np.asarray(s.margin_scale, dtype=np.float64),
    )  # fmt: skip


def estimate_rows(ctx: Context, s: EngineState) -> tuple[np.ndarray, np.ndarray]:
    """Every row's equity and maintenance margin carried to this step's oracle prices, funding
    index and margin scale (USD)."""
    return trader_agents.estimate(s.trader, row_prices(ctx, s), *row_carry(ctx, s))


def carried_decisions(
    ctx: Context, s: EngineState
) -> tuple[
    trader_agents.TraderDecisions, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """This step's decisions (drawn from the agents' stream), every row's carried estimate
    (equity, maintenance; USD) and its sums per margin unit, in one compiled pass over the
    rows (:func:`simulator.engine.jit_rows.trader_pass`) and the draws
    (:func:`simulator.agents.traders.with_draws`): the same as :func:`estimate_rows`,
    :meth:`~simulator.engine.margin.MarginUnits.unit_sum` of both, and
    :func:`~simulator.agents.traders.decide` with ``can_top_up`` the cross rows and
    ``can_close`` the rows of a unit above maintenance, without the per-row prices, funding
    indices, scales and masks in between."""
    n = len(s.trader.side)
    carried = (np.empty(n), np.empty(n))
    decisions, floats, c = _pass(ctx, s, _book_rules(ctx), *carried)
    return decisions, carried, (floats[:c], floats[c : 2 * c])


def decisions_and_sums(
    ctx: Context, s: EngineState
) -> tuple[
    trader_agents.TraderDecisions, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """:func:`carried_decisions` without the per-row estimate (written into the run's
    buffers, :class:`_Rules` in :attr:`~simulator.engine.context.Context.memo`, and read by
    no one after), with the notionals: this step's decisions, every row's notional and its
    sums per margin unit (USD, :meth:`~simulator.engine.margin.MarginUnits.notional_sums` of
    the traders' sizes at the oracle prices, float for float) and the carried estimate's sums
    per margin unit (USD), all fresh arrays (views of the pass's one array of floats): what
    the mirror's step reads. The sizes and prices are the ones the keepers' phase reads too:
    the block's calls change the traders' view only when it is decoded. A step where no row
    decides returns :data:`simulator.agents.traders.NO_DECISIONS` (the same object every
    time)."""
    r = ctx.memo.get(_RULES)
    if r is None or r.book is not ctx.world.book:
        r = _book_rules(ctx)
    decisions, floats, c = _pass(ctx, s, r, r.equity, r.maintenance)
    n = r.rows.shape[1]
    return (
        decisions,
        (floats[3 * c : 3 * c + n], floats[2 * c : 3 * c]),
        (floats[:c], floats[c : 2 * c]),
    )


_NONE = np.zeros(0)
_NO_ROWS = np.zeros(0, dtype=np.int64)


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


_RULES = "engine.traders.rules"


class _Rules:
    """What the traders' pass reads of a run's fixed book, packed once
    (:func:`_book_rules`): every row's market, unit, behaviour and what it can decide ((4, n)
    int64), the rows that can decide, the rules ((2, n): threshold, top-up base), the top-up
    probabilities, whether every unit's rows follow one another; the pass's scratch (the
    gathered carry, the flags, the per-row estimate of :func:`decisions_and_sums`); and the
    traders' state arrays last checked (by identity: checked again when one is replaced)."""

    __slots__ = ("book", "rows", "deciders", "rules", "probability", "count", "contiguous",
                 "head", "work", "flags", "equity", "maintenance", "checked")  # fmt: skip

    def __init__(self, book, units):
        threshold, top_up_base = trader_agents.book_rules(book)
        behaviour = np.asarray(book.behaviour)
        isolated = np.asarray(book.isolated, dtype=np.bool_)
        unit_of_row = np.ascontiguousarray(units.unit_of_row, dtype=np.int64)
        self.book = book
        self.rows = np.ascontiguousarray(np.stack([
            np.asarray(book.market, dtype=np.int64), unit_of_row, behaviour.astype(np.int64),
            jit_rows.decider_kinds(behaviour, trader_agents.CODES, isolated),
        ]))  # fmt: skip
        self.deciders = jit_rows.decider_rows(behaviour, trader_agents.CODES, isolated)
        self.rules = np.ascontiguousarray(np.stack([threshold, top_up_base]))
        self.probability = np.asarray(book.top_up_probability)
        self.count = units.count
        self.contiguous = bool(jit_rows.units_contiguous(unit_of_row, units.count))
        self.head = (self.rows, self.deciders, self.rules, trader_agents.CODES, self.count,
                     self.contiguous)  # fmt: skip
        n = len(behaviour)
        self.work = np.empty((3, n))
        self.flags = np.empty(n, dtype=np.int8)
        self.equity, self.maintenance = np.empty(n), np.empty(n)
        self.checked: tuple = ()


def _book_rules(ctx: Context) -> _Rules:
    """The run's :class:`_Rules`, made once and kept in ``ctx.memo`` when the book cannot
    change (its arrays read-only, as a run's :class:`~simulator.population.TraderBook`'s);
    made again on every call for a book that can (a test's)."""
    memo = getattr(ctx, "memo", None)
    book = ctx.world.book
    rules = memo.get(_RULES) if memo is not None else None
    if rules is not None and rules.book is book:
        return rules
    rules = _Rules(book, ctx.units)
    arrays = [np.asarray(getattr(book, k)) for k in (*trader_agents._RULE_ARRAYS, "market",
                                                     "isolated", "top_up_probability")]  # fmt: skip
    if memo is not None and not any(a.flags.writeable for a in arrays):
        memo[_RULES] = rules
    return rules


_STATE_ARRAYS = ("size_base", "equity_usd", "maintenance_usd", "read_price_usd",
                 "collateral_in_usd", "entry_price_usd", "wallet_usd")  # fmt: skip


def _check_state(tr, n: int) -> tuple:
    """The traders' state arrays :func:`_pass` reads, each of ``n`` float64 rows (a
    ``ValueError`` naming the first that is not)."""
    arrays = []
    for name in _STATE_ARRAYS:
        a = getattr(tr, name)
        if len(a) != n:
            raise ValueError(f"carried_decisions: {name} has {len(a)} rows, not {n}")
        arrays.append(_f(a))
    return tuple(arrays)


def _checked(r: _Rules, tr) -> tuple:
    """The traders' state arrays the pass reads, checked and converted
    (:func:`_check_state`): size, equity, maintenance, read price, collateral put in, entry,
    wallet, side, read funding index, read margin scale (float64 but the side; the last two
    None when the state has none); kept as :attr:`_Rules.checked` when they are the state's
    own objects (:func:`_pass` then takes them without a call while they stay)."""
    n = len(tr.side)
    arrays = _check_state(tr, n)
    if n != r.rows.shape[1]:
        raise ValueError(f"carried_decisions: {n} rows, the book has {r.rows.shape[1]}")
    rf, rs = tr.read_funding_index_usd, tr.read_margin_scale
    carry = tuple(None if a is None else _floats(a) for a in (rf, rs))
    same = all(a is getattr(tr, k) for a, k in zip(arrays, _STATE_ARRAYS, strict=True))
    r.checked = (*arrays, tr.side, *carry)
    if not (same and carry[0] is rf and carry[1] is rs):
        r.checked = ()  # converted: checked again at every step
    return (*arrays, tr.side, *carry)


def _pass(ctx: Context, s: EngineState, r: _Rules, equity_out: np.ndarray,
          maintenance_out: np.ndarray):  # fmt: skip
    """The compiled pass (per-row estimate into ``equity_out`` / ``maintenance_out``) and the
    draws: (decisions, the pass's floats, unit count). The floats: unit equity, unit
    maintenance, unit notional, every row's notional, then the deciding top-ups' amounts."""
    tr = s.trader
    checked = r.checked  # the state's arrays as last checked: the same objects need no call
    if not (
        checked
        and checked[0] is tr.size_base
        and checked[1] is tr.equity_usd
        and checked[2] is tr.maintenance_usd
        and checked[3] is tr.read_price_usd
        and checked[4] is tr.collateral_in_usd
        and checked[5] is tr.entry_price_usd
        and checked[6] is tr.wallet_usd
        and checked[7] is tr.side
        and checked[8] is tr.read_funding_index_usd
        and checked[9] is tr.read_margin_scale
    ):
        checked = _checked(r, tr)
    size, equity, maintenance, read_price, collateral_in, entry, wallet, side, rf, rs = checked
    has_funding = rf is not None
    has_scale = rs is not None
    oracle, funding, scale = s.oracle_price_usd, s.funding_index_usd, s.margin_scale
    if not (
        oracle.__class__ is np.ndarray and oracle.dtype == _F64
        and scale.__class__ is np.ndarray and scale.dtype == _F64
        and funding.__class__ is np.ndarray and funding.dtype == _F64 and funding.ndim == 2
    ):  # fmt: skip
        oracle, scale = _floats(oracle), _floats(scale)
        funding = _floats(funding).reshape(-1, 2)
    floats, picked, n_close = jit_rows.trader_pass(
        *r.head, side, size, equity, maintenance, read_price, has_funding,
        rf if has_funding else _NONE, has_scale, rs if has_scale else _NONE, collateral_in,
        entry, wallet, oracle, funding, scale, r.work, r.flags, equity_out, maintenance_out,
    )  # fmt: skip
    c = r.count
    n = r.rows.shape[1]
    bits = ctx.rng.bit_generator
    if picked is None or not picked.shape[0]:
        if bits.__class__ is np.random.PCG64 and not _buffered(ctx, bits):
            # most steps: no row decides; draws_at then jumps the stream over all n draws
            bits.advance(n)
            return trader_agents.NO_DECISIONS, floats, c
        picked = _NO_ROWS
    close, drawn, amount = picked[:n_close], picked[n_close:], floats[3 * c + n :]
    keep = trader_agents.draws_at(ctx.rng, n, drawn) < r.probability[drawn]
    decisions = trader_agents.TraderDecisions(close=close, top_up=drawn[keep],
                                              top_up_usd=amount[keep])  # fmt: skip
    return decisions, floats, c


_F64 = np.dtype(np.float64)

_BUFFERED = "engine.traders.buffered"


def _buffered(ctx: Context, bits: np.random.PCG64) -> int:
    """Whether ``bits`` holds a buffered 32-bit draw (its state's ``has_uint32``: then
    ``advance`` would drop it, and the step draws instead). Read through the run's view of
    the flag in the bit generator's memory (:func:`_flag_view`, kept in ``ctx.memo`` with
    the generator it is of), not through numpy's state getter (a dict built on every call,
    ~2 us); the getter where there is no view."""
    memo = getattr(ctx, "memo", None)
    held = memo.get(_BUFFERED) if memo is not None else None
    if held is None or held[0] is not bits:
        held = (bits, _flag_view(bits))
        if memo is not None:
            memo[_BUFFERED] = held
    view = held[1]
    return bits.state["has_uint32"] if view is None else view.value


def _flag_view(bits: np.random.PCG64) -> ctypes.c_uint32 | None:
    """A view of ``bits``' ``has_uint32`` flag in memory (numpy's ``pcg64_state`` struct: a
    pointer to the generator's words, then the flag), where a probe of a scratch PCG64 finds
    numpy's layout (:func:`simulator.scenario.randomness._state_words`) and the view reads
    what numpy's getter reads; else None."""
    if _state_words(np.random.PCG64(0))[1] is None:
        return None
    try:
        address = bits.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p)
        view = ctypes.c_uint32.from_address(address)
    except Exception:  # no ctypes interface
        return None
    return view if view.value == bits.state["has_uint32"] else None


def _floats(a) -> np.ndarray:
    """``a`` as float64: itself when it is a float64 array (no call), else converted."""
    if a.__class__ is np.ndarray and a.dtype == _F64:
        return a
    return np.asarray(a, dtype=np.float64)


def plan_traders(
    ctx: Context, s: EngineState
) -> tuple[trader_agents.TraderDecisions, list[Action], tuple[np.ndarray, np.ndarray]]:
    """This step's decisions (drawn from the agents' stream), their calls, and every row's
    carried estimate (equity, maintenance; USD, :func:`estimate_rows`, before this step's
    calls: the keepers reuse it). The calls: closes first
    (``closePosition(market)``), then top-ups (a cross row's account deposits;
    :func:`deposit_units`). Isolated rows do not top up: the
    venue adds margin to an isolated position only with a trade. A position of a margin unit
    estimated under maintenance is left to the keepers (the venue would refuse its close)."""
    v, book = ctx.venue.venue, ctx.world.book
    # One compiled pass for the estimate and its unit sums, one for the decisions: a position
    # closes only while its margin account as a whole is above maintenance.
    decisions, carried, _ = carried_decisions(ctx, s)
    actions = []
    for r in decisions.close:
        m = int(book.market[r])
        account = ctx.accounts[book.account[r]]
        actions.append(Action(v.close_position(account, ctx.market_ids[m]), "close", int(r), m))
    for r, amount in zip(decisions.top_up, decisions.top_up_usd, strict=True):
        account = ctx.accounts[book.account[r]]
        call = v.deposit(account, deposit_units(amount))
        actions.append(Action(call, "top_up", int(r), int(book.market[r])))
    return decisions, actions, carried


def deposit_units(amount_usd: float) -> int:
    """A top-up's deposit in collateral base units (6 decimals), rounded down, so that it never
    asks for more than the wallet holds (the wallet was minted rounded down too). Rounded to
    the nearest unit instead, a top-up of a whole remaining wallet asked for one unit more than
    the balance and reverted ``ERC20InsufficientBalance``, every step it was tried again (16-26
    reverted top-ups per oct-2025 run in session 20).

    >>> deposit_units(1742.4333259)
    1742433325
    """
    return to_units(float(amount_usd))


def health_views(ctx: Context, units: np.ndarray) -> list:
    """The venue's health views of ``units`` (:meth:`MarginUnits.health_views`)."""
    return ctx.units.health_views(ctx, units)


def store_health(
    ctx: Context, s: EngineState, units: np.ndarray, got: list, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Write the health read of ``units`` into the rows' views (only the units where ``keep``
    is True, when given); return every read unit's (equity, maintenance) in USD."""
    equity, maintenance = ctx.units.parse_health(units, got)
    kept = slice(None) if keep is None else np.asarray(keep, dtype=bool)
    ctx.units.store(
        s.trader,
        units[kept],
        equity[kept],
        maintenance[kept],
        s.oracle_price_usd,
        ctx.world.book.market,
        s.funding_index_usd,
        s.margin_scale,
    )
    return equity, maintenance


def refresh_traders(ctx: Context, s: EngineState) -> None:
    """Read every unit's equity and maintenance margin (one batched read)."""
    everyone = np.arange(ctx.units.count)
    store_health(ctx, s, everyone, ctx.chain.read(health_views(ctx, everyone)))
