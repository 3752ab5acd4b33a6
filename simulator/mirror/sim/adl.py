"""Phase 3a on the mirror: the ADL keeper covers every market's outstanding bad debt under its
policy (``profit_queue`` and ``pro_rata``), as :func:`simulator.engine.adl.plan_adl` plans it on
chain: for every market and bankrupt side with a deficit (:func:`simulator.engine.adl._jobs`,
on the ledgers of the engine's choice, :func:`ledgers_for`), the winners' side ranked by
``adlRanking`` on the block after the keepers' calls (:meth:`~simulator.mirror.sim.venue.
VenueState.adl_ranking`), the winners picked by :func:`simulator.agents.keepers.plan_adl`,
one ``adl(market, longsBankrupt, winners)`` per market (a market whose ranked accounts an
earlier call of the block haircut waits for the next step), executed on the venue
(:meth:`~simulator.mirror.sim.venue.VenueState.adl`, the math of :mod:`simulator.mirror.adl`),
and the rows and traders' view the chain engine decodes from ``AdlHaircut`` and
``AdlExecuted``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.engine import adl as engine_adl
from simulator.engine import jit_rows
from simulator.engine import keepers as engine_keepers
from simulator.engine.context import Action, Context
from simulator.engine.events import _FLAT_BASE, _set_outcome, _side, event_row, final_bad_debt_row
from simulator.engine.state import ADL, EngineState
from simulator.mirror.sim.levels import to_float
from simulator.mirror.sim.venue import Reverted, VenueState
from simulator.protocol.venue_params import VenueAdlPolicy
from simulator.units import from_wad_array


def active(ctx: Context) -> bool:
    """Whether any market's policy has the ADL keeper call ``adl``."""
    return any(p in engine_adl.CALLED_POLICIES for p in ctx.adl_policy)


#: ``ctx.memo`` key of :func:`leave_deficit`'s fixed inputs (:func:`_deficit_inputs`).
DEFICIT_MEMO = "mirror.adl.deficit_inputs"


def _deficit_inputs(ctx: Context) -> tuple | None:
    """What :func:`simulator.engine.keepers.may_leave_deficit` reads that is fixed for the run:
    the markets' skew scales and liquidation impact bands (fractions), the units' grouping and
    the book's markets (int64); None when a governance change of a fill parameter makes the
    answer True for the whole run. Kept in ``ctx.memo`` (:data:`DEFICIT_MEMO`)."""
    change = ctx.scenario.controls.governance_change
    value = None
    if change is None or change.parameter not in engine_keepers._FILL_PARAMETERS:
        params = [m.params for m in ctx.world.params.markets]
        value = (
            np.array([float(p.skew_scale) for p in params]),
            np.array([p.max_liquidation_impact_bps / 1e4 for p in params]),
            *ctx.units.grouping(),
            np.asarray(ctx.world.book.market, dtype=np.int64),
        )
    ctx.memo[DEFICIT_MEMO] = value
    return value


def leave_deficit(
    ctx: Context, s: EngineState, targets: np.ndarray, eq, mm, oi_long, oi_short
) -> bool:
    """:func:`simulator.engine.keepers.may_leave_deficit` of the keepers' calls on ``targets``
    (margin units, an int64 array): whether the ADL keeper acts on the ledgers after them
    (True) or before. Its compiled pass (:func:`simulator.engine.jit_rows.
    deficit_bound_reached`) called directly, on the run's fixed inputs (:func:`_deficit_inputs`)."""
    if (targets.__class__ is not np.ndarray or targets.dtype != _I64 or targets.ndim != 1
            or (targets.shape[0] and targets.min() < 0)):  # fmt: skip
        # Positional fields (call, kind, who, market, unit): the same tuples, built faster.
        actions = [Action(None, "liquidate", -1, -1, u) for u in list(targets)]  # type: ignore[arg-type]
        return engine_keepers.may_leave_deficit(ctx, s, actions, eq, mm, oi_long, oi_short)
    if not targets.shape[0]:
        return False
    memo = ctx.memo
    fixed = memo[DEFICIT_MEMO] if DEFICIT_MEMO in memo else _deficit_inputs(ctx)
    if fixed is None:
        return True
    scale, band, rows_by_unit, unit_start, market = fixed
    count = unit_start.shape[0] - 1
    if targets.max() >= count:
        raise IndexError(f"leave_deficit: a unit out of 0..{count - 1} in {targets.tolist()}")
    tr = s.trader
    return bool(
        jit_rows.deficit_bound_reached(
            targets, count, rows_by_unit, unit_start, ctx.units.unit_of_row,
            np.asarray(tr.size_base, dtype=np.float64), tr.side, market,
            np.asarray(s.oracle_price_usd, dtype=np.float64), scale, band,
            np.asarray(oi_long - oi_short, dtype=np.float64), _f64(eq), _f64(mm),
            engine_keepers.CONFIRM_BAND,
        )
    )  # fmt: skip


_I64 = np.dtype(np.int64)


def _f64(a) -> np.ndarray:
    """``a`` as float64 (itself when it is that)."""
    return a if a.__class__ is np.ndarray and a.dtype == np.float64 else np.asarray(a, np.float64)


def plan_and_execute(
    ctx: Context, s: EngineState, venue: VenueState, ledgers: list[dict[str, int]], t: int,
    row_of: np.ndarray, decoded: list, vault_size_wad: list[int] | None = None,
) -> tuple[list[dict], set[int], int]:  # fmt: skip
    """The ADL calls for the deficits in ``ledgers`` (chain names, WAD), executed: (event
    rows, the book rows of the winners, calls sent); the winners' rows' updates go to
    ``decoded``. Each market's winners are ranked on ``venue`` as it is before that call (the
    chain engine reads the ranking on the pending block after every call before the ADL
    keeper's). ``vault_size_wad``: the backstop vault's positions as the chain engine read them
    (with a vault: ranked after the traders)."""
    for ledger in ledgers:  # a plain loop: most blocks have no bad debt in any market
        if ledger["badDebtLongs"] or ledger["badDebtShorts"]:
            break
    else:  # no market has a deficit (:func:`simulator.engine.adl.called_deficits`): no call
        return [], set(), 0
    jobs = engine_adl._jobs(ctx, s, {"ledgers": ledgers, "vault_size_wad": vault_size_wad})
    rows_out: list[dict] = []
    winner_rows: set[int] = set()
    touched: set[str] = set()
    sent = 0
    for m, longs_bankrupt, rows, addresses in jobs:
        if touched.intersection(addresses):
            continue  # an earlier call of this block haircut a ranked account: next step
        # The venue's accounts of the ranked addresses: the rows', the backstop vault's (its size
        # as the spot phase read it) and, last, the market-making vault's (its size as the
        # chain engine reads it with the ranking).
        accounts = np.array([ctx.index(a) for a in addresses], dtype=np.int64)
        scores, pnls = venue.adl_ranking(m, accounts)
        sizes = s.trader.size_base[rows] * s.trader.side[rows]
        if venue.backstop is not None:
            sizes = np.append(sizes, float(vault_size_wad[m]) / 1e18)
        if len(addresses) > len(sizes):
            sizes = np.append(sizes, to_float(venue.size[accounts[-1], m]))
        winners = keeper_agents.plan_adl(
            np.array([float(x) for x in scores], dtype=np.float64),
            from_wad_array([int(x) if isinstance(x, int) else x for x in pnls])
            if venue.exact_mode
            else np.asarray(pnls, dtype=np.float64) / 1e18,
            sizes,
            not longs_bankrupt,
            addresses,
            ctx.adl_policy[m],
            int(ctx.max_adl_accounts[m]),
        )
        if not winners:
            continue
        index = {a: int(i) for a, i in zip(addresses, accounts, strict=True)}
        for a in winners:
            r = int(row_of[index[a], m])
            if r >= 0:
                winner_rows.add(r)
        touched.update(winners)
        sent += 1
        try:
            done = venue.adl(m, longs_bankrupt, [index[a] for a in winners])
        except Reverted as exc:
            rows_out.append(event_row(t, "adl_reverted", market=ctx.symbols[m], detail=str(exc)))
            continue
        rows_out += _rows(ctx, s, m, longs_bankrupt, done, t, row_of, decoded)
    return rows_out, winner_rows, sent


def _haircut_update(s: EngineState, row: int, size: float, t: int):
    """An ``AdlHaircut`` decoded: the row's size, and its outcome when contracts closed."""

    def update() -> None:
        left = s.trader.size_base[row] - size
        s.trader.size_base[row] = 0.0 if left < _FLAT_BASE else left
        if size:
            _set_outcome(s, row, ADL, t)

    return update


def _rows(ctx, s, m: int, longs_bankrupt: bool, done: dict[str, Any], t: int, row_of,
          decoded: list) -> list:  # fmt: skip
    """``AdlHaircut`` rows (the winners' sizes and outcomes to ``decoded``), then
    ``AdlExecuted``'s, then a ``BadDebtFinalized``'s."""
    out = []
    symbol = ctx.symbols[m]
    for a, closed, price, haircut in done["haircuts"]:
        row = int(row_of[a, m])
        size = abs(to_float(closed))
        if row >= 0:
            decoded.append(_haircut_update(s, row, size, t))
        out.append(event_row(t, "adl_fill", market=symbol, account=ctx.accounts[a],
                             side=_side(1 if closed > 0 else (-1 if closed < 0 else 0)),
                             size=size, price=to_float(price),
                             amount=to_float(haircut)))  # fmt: skip
    e = done["executed"]
    detail = {
        "deficit_usd": to_float(e["deficit"]),
        "minimum_haircut_usd": to_float(e["minimum_haircut"]),
        "covered_usd": to_float(e["covered"]),
        "overshoot_usd": to_float(e["overshoot"]),
        "to_fund_usd": to_float(e["to_fund"]),
        "contracts_closed_base": to_float(e["contracts"]),
        "notional_closed_usd": to_float(e["notional"]),
        "accounts": int(e["accounts"]),
        "policy": list(VenueAdlPolicy)[int(e["policy"])].value,
    }
    out.append(event_row(t, "adl", market=symbol, side="long" if longs_bankrupt else "short",
                         amount=to_float(e["haircuts"]), detail=json.dumps(detail)))  # fmt: skip
    if done["final"] is not None:
        amount, total = done["final"]
        out.append(final_bad_debt_row(t, symbol, longs_bankrupt, to_float(amount), to_float(total)))
    return out
