"""Phase 1c: traders act on what they last read of their positions (vectorized decisions of
:func:`simulator.agents.traders.decide`: close, top up), and the traders' view of their
positions is written from the venue's health reads of their margin units
(:mod:`simulator.engine.margin`)."""

from __future__ import annotations

import numpy as np

from simulator.agents import traders as trader_agents
from simulator.engine import jit_rows
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
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
    rows (:func:`simulator.engine.jit_rows.plan_pass`) and the draws
    (:func:`simulator.agents.traders.with_draws`): the same as :func:`estimate_rows`,
    :meth:`~simulator.engine.margin.MarginUnits.unit_sum` of both, and
    :func:`~simulator.agents.traders.decide` with ``can_top_up`` the cross rows and
    ``can_close`` the rows of a unit above maintenance, without the per-row prices, funding
    indices, scales and masks in between."""
    book, units, tr = ctx.world.book, ctx.units, s.trader
    n = len(tr.side)
    for name in ("size_base", "equity_usd", "maintenance_usd", "read_price_usd",
                 "collateral_in_usd", "entry_price_usd", "wallet_usd"):  # fmt: skip
        if len(getattr(tr, name)) != n:
            raise ValueError(
                f"carried_decisions: {name} has {len(getattr(tr, name))} rows, not {n}"
            )
    has_funding = tr.read_funding_index_usd is not None
    has_scale = tr.read_margin_scale is not None
    threshold, top_up_base = trader_agents.book_rules(book)
    equity, maintenance, unit_equity, unit_maintenance, close, drawn, amount = jit_rows.plan_pass(
        np.asarray(book.market, dtype=np.int64), tr.side, _f(tr.size_base), _f(tr.equity_usd),
        _f(tr.maintenance_usd), _f(tr.read_price_usd),
        has_funding, _f(tr.read_funding_index_usd) if has_funding else _NONE,
        has_scale, _f(tr.read_margin_scale) if has_scale else _NONE,
        _f(s.oracle_price_usd), np.ravel(_f(s.funding_index_usd)), _f(s.margin_scale),
        units.unit_of_row, units.count, np.asarray(book.behaviour), trader_agents.CODES,
        np.asarray(book.isolated, dtype=np.bool_), _f(tr.collateral_in_usd), threshold,
        _f(tr.entry_price_usd), top_up_base, _f(tr.wallet_usd),
    )  # fmt: skip
    decisions = trader_agents.with_draws(book, ctx.rng, n, close, drawn, amount)
    return decisions, (equity, maintenance), (unit_equity, unit_maintenance)


_NONE = np.zeros(0)


def _f(a) -> np.ndarray:
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
