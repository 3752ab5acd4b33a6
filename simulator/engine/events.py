"""From what a block did to ``events.parquet`` rows: decoded venue events become rows
(:func:`rows_from_event`), the block's results become the step's rows, the position sizes and
outcomes they imply (:func:`decode_block`), and the swaps move the hedger's and arbitrageurs'
inventories (:func:`update_inventories`).

The traders' position sizes are tracked from the venue's own events (``PositionModified``'s new
size, ``Liquidated`` and ``AdlHaircut``'s sizes closed, ``BackstopTakeover`` of every cross
position), so no position needs reading back after a block.

Units: the contracts' events are WAD (18-decimal) integers and token base units; every row is
in USD and base units (see :mod:`simulator.results`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from simulator.chain.abi import DecodedEvent
from simulator.chain.types import TxResult
from simulator.engine.context import Action, Context
from simulator.engine.state import ADL, BACKSTOPPED, CLOSED, LIQUIDATED, EngineState
from simulator.population import Behaviour
from simulator.protocol.venue_params import VenueAdlPolicy
from simulator.units import USD_UNITS, WAD, from_wad

#: Event kinds that count as a liquidation in the step metrics.
LIQUIDATION_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")
#: Event kinds that carry an ADL or socialized-loss summary (haircuts, overshoot).
ADL_KINDS = ("adl", "socialized_loss")
#: Action kinds whose revert is recorded as a ``<kind>_reverted`` event.
_REVERT_RECORDED = ("liquidate", "backstop", "adl", "close", "governance_executed")
#: Event kinds that concern the venue, not one market (``market`` null): LP withdrawals from
#: the backstop vault (the AMMs' carry their market).
VENUE_EVENT_KINDS = ("lp_withdrawal",)
#: ``AdlExecuted.policy`` index of the socialized loss.
_SOCIALIZED = list(VenueAdlPolicy).index(VenueAdlPolicy.SOCIALIZED)
#: Sizes below this are flat (base units): float residue of subtracting WAD sizes.
_FLAT_BASE = 1e-15


def event_row(
    step: int, kind: str, *, market=None, account=None, side=None, size=None, price=None,
    amount=None, detail=""
) -> dict[str, Any]:  # fmt: skip
    """One ``events.parquet`` row; ``notional_usd`` is size × price when both are known."""
    return {
        "step": step,
        "kind": kind,
        "market": market,
        "account": account,
        "side": side,
        "size_base": size,
        "price_usd": price,
        "notional_usd": None if size is None or price is None else size * price,
        "amount_usd": amount,
        "detail": detail,
    }


def event_rows(
    step: int, kind: str, *, market=None, account=None, side=None, size=None, price=None,
    amount=None, detail=""
) -> list[dict[str, Any]]:  # fmt: skip
    """Many :func:`event_row` rows of one step and kind at once, equal to them field by field:
    each keyword is one value for every row or a column (a list, tuple or 1-d array, one value
    per row; an array is read as Python scalars). ``notional_usd`` is size × price per row (the
    same float product), None where either is None. The rows are as many as the columns'
    length (all alike); without a column, one.

    >>> rows = event_rows(2, "open", market=["BTC", "ETH"], size=[1.0, 2.0], price=3.0)
    >>> [(r["market"], r["notional_usd"]) for r in rows]
    [('BTC', 3.0), ('ETH', 6.0)]
    """
    floats = (np.float64, np.float64)
    products = (size * price).tolist() if _dtypes(size, price) == floats else None
    values = (market, account, side, size, price, amount, detail)
    columns = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
    lengths = {len(c) for c in columns if isinstance(c, list | tuple)}
    if len(lengths) > 1:
        raise ValueError(f"event_rows: columns of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    market, account, side, size, price, amount, detail = (
        c if isinstance(c, list | tuple) else [c] * n for c in columns
    )
    # float64 products of two float columns are Python's float products, value for value.
    notional = products if products is not None else [
        None if s is None or p is None else s * p for s, p in zip(size, price, strict=True)
    ]  # fmt: skip
    return [
        {"step": step, "kind": kind, "market": mk, "account": ac, "side": sd, "size_base": sz,
         "price_usd": px, "notional_usd": nt, "amount_usd": am, "detail": de}
        for mk, ac, sd, sz, px, nt, am, de
        in zip(market, account, side, size, price, notional, amount, detail, strict=True)
    ]  # fmt: skip


def _dtypes(*values) -> tuple:
    """The dtypes of ``values`` (None for one that is not an array)."""
    return tuple(v.dtype if isinstance(v, np.ndarray) else None for v in values)


def with_market(rows: list[dict[str, Any]], symbol: str) -> list[dict[str, Any]]:
    """The rows with ``market`` filled: ``symbol`` for every row that names none, except
    :data:`VENUE_EVENT_KINDS` (null). For a one-market venue's rows built without a market."""
    for row in rows:
        if row.get("market") is None and row["kind"] not in VENUE_EVENT_KINDS:
            row["market"] = symbol
    return rows


def _side(signed: int) -> str | None:
    return "long" if signed > 0 else ("short" if signed < 0 else None)


def rows_from_event(ctx: Context, e: DecodedEvent, step: int) -> list[dict[str, Any]]:
    """The rows one decoded venue event contributes (none for events not measured)."""
    a = e.args
    symbol = ctx.symbols[ctx.market_index(a["market"])] if "market" in a else None
    if e.name == "Liquidated":
        kind = "liquidation" if a["full"] else "partial_liquidation"
        return [event_row(step, kind, market=symbol, account=a["account"],
                          side=_side(a["sizeClosed"]), size=from_wad(abs(a["sizeClosed"])),
                          price=from_wad(a["fill"]), amount=from_wad(a["penalty"]))]  # fmt: skip
    if e.name == "DeficitAttributed":
        if not a["paidByInsurance"]:
            return []
        return [event_row(step, "insurance_payout", market=symbol, account=a["account"],
                          amount=from_wad(a["paidByInsurance"]))]  # fmt: skip
    if e.name == "BadDebtRecorded":
        side = "long" if a["longsBankrupt"] else "short"
        return [event_row(step, "bad_debt", market=symbol, side=side, amount=from_wad(a["amount"]))]
    if e.name == "BadDebtFinalized":
        return [final_bad_debt_row(step, symbol, a["longsBankrupt"], from_wad(a["amount"]),
                                   from_wad(a["total"]))]  # fmt: skip
    if e.name == "AdlHaircut":
        return [event_row(step, "adl_fill", market=symbol, account=a["account"],
                          side=_side(a["sizeClosed"]), size=from_wad(abs(a["sizeClosed"])),
                          price=from_wad(a["price"]), amount=from_wad(a["haircut"]))]  # fmt: skip
    if e.name == "AdlExecuted":
        detail = {
            "deficit_usd": from_wad(a["deficit"]),
            "minimum_haircut_usd": from_wad(a["minimumHaircut"]),
            "covered_usd": from_wad(a["covered"]),
            "overshoot_usd": from_wad(a["overshoot"]),
            "to_fund_usd": from_wad(a["toInsurance"]),
            "contracts_closed_base": from_wad(a["contractsClosed"]),
            "notional_closed_usd": from_wad(a["notionalClosed"]),
            "accounts": int(a["accounts"]),
            "policy": list(VenueAdlPolicy)[int(a["policy"])].value,
        }
        kind = "socialized_loss" if int(a["policy"]) == _SOCIALIZED else "adl"
        return [event_row(step, kind, market=symbol, side="long" if a["longsBankrupt"] else "short",
                          amount=from_wad(a["haircuts"]), detail=json.dumps(detail))]  # fmt: skip
    return []


def final_bad_debt_row(
    step: int, symbol: str, longs_bankrupt: bool, amount_usd: float, total_usd: float
) -> dict[str, Any]:
    """The ``bad_debt_final`` row of a ``BadDebtFinalized``: a market side's outstanding bad
    debt (``amount_usd``) written off as final, no ADL call being able to clear it; ``detail``
    holds the side's final bad debt after (``final_total_usd``)."""
    return event_row(step, "bad_debt_final", market=symbol,
                     side="long" if longs_bankrupt else "short", amount=amount_usd,
                     detail=json.dumps({"final_total_usd": total_usd}))  # fmt: skip


def close_row(ctx: Context, e: DecodedEvent, step: int, reason: str) -> dict[str, Any]:
    """The row of a trader's own close (a ``PositionModified`` to size 0); ``amount_usd`` is
    the realized PnL net of the fee and funding paid."""
    a = e.args
    return close_row_of(ctx, step, reason, a["account"], a["market"], a["sizeDelta"], a["fill"],
                        a["realizedPnl"], a["fee"], a["funding"])  # fmt: skip


def close_row_of(
    ctx: Context, step: int, reason: str, account: str, market_id: int, size_delta: Any,
    fill: Any, realized_pnl: Any, fee: Any, funding: Any,
) -> dict[str, Any]:  # fmt: skip
    """:func:`close_row` from the ``PositionModified``'s fields (WAD: the chain's integers, or
    the fast mirror's floats)."""
    size, price = abs(size_delta) / WAD, fill / WAD  # from_wad inlined: the same division
    return {  # event_row's row (same keys, same order), built inline
        "step": step, "kind": "close", "market": ctx.symbols[ctx.market_index(market_id)],
        "account": account, "side": _side(-size_delta), "size_base": size, "price_usd": price,
        "notional_usd": size * price, "amount_usd": (realized_pnl - int(fee) - funding) / WAD,
        "detail": reason,
    }  # fmt: skip


#: ``detail`` of a trader's close by the behaviour that closed it (others: ``close``).
_CLOSE_REASONS = {
    int(Behaviour.TAKE_PROFIT): "take_profit",
    int(Behaviour.STOP_LOSS): "stop_loss",
    int(Behaviour.PANIC): "panic",
}


def close_reason(behaviour: int) -> str:
    """``detail`` of a trader's close: the behaviour that closed it."""
    return _CLOSE_REASONS.get(int(behaviour), "close")


def _set_outcome(s: EngineState, row: int, code: int, t: int) -> None:
    """The row's latest outcome (a position partly deleveraged, then closed, is closed); its
    realized PnL is taken again after this block's read."""
    s.outcome[row], s.outcome_step[row] = code, t
    s.realized_pnl_usd[row] = np.nan


def _takeover_rows(ctx: Context, s: EngineState, e: DecodedEvent, t: int) -> list[dict]:
    """One ``backstop_takeover`` row per cross position taken over (the account's collateral
    transferred split by notional), and those positions flat."""
    a = e.args
    i = ctx.index(a["account"])
    if i is None:
        return []
    book, tr = ctx.world.book, s.trader
    rows = _cross_rows(ctx, s, i)
    prices = s.oracle_price_usd[book.market[rows]] if rows else []
    notional = [tr.size_base[r] * p for r, p in zip(rows, prices, strict=True)]
    total = sum(notional) or 1.0
    out = []
    for r, p, n in zip(rows, prices, notional, strict=True):
        out.append(event_row(t, "backstop_takeover", market=ctx.symbols[book.market[r]],
                             account=a["account"], side=_side(int(tr.side[r])),
                             size=float(tr.size_base[r]), price=float(p),
                             amount=from_wad(a["collateralTransferred"]) * n / total))  # fmt: skip
        tr.size_base[r] = 0.0
        _set_outcome(s, r, BACKSTOPPED, t)
    return out


def _cross_rows(ctx: Context, s: EngineState, account: int) -> list[int]:
    rows = ctx.rows_of_account(account)
    book = ctx.world.book
    return [int(r) for r in rows if not book.isolated[r] and s.trader.size_base[r] > 0]


def decode_block(
    ctx: Context, s: EngineState, results: list[TxResult], actions: list[Action], t: int
) -> list[dict]:
    """Event rows of the mined block (``actions``: each transaction's action), with the
    position sizes and outcomes they imply written into ``s``. A timelock ``execute`` that
    reverted (not ready yet) is tried again next step; a top-up credits what the venue
    recorded as deposited."""
    out: list[dict] = []
    book, tr = ctx.world.book, s.trader
    for result, action in zip(results, actions, strict=True):
        kind, who = action.kind, action.who
        if not result.ok:
            if (
                kind == "governance_executed"
                and ctx.scenario.controls.governance_change.path == "timelock"
            ):
                s.governance["executed"] = False  # not ready yet: try again next step
            if kind in _REVERT_RECORDED:
                account = (
                    ctx.accounts[book.account[who]]
                    if who >= 0
                    else ctx.accounts[ctx.units.account[action.unit]]
                    if action.unit >= 0
                    else None
                )
                market = ctx.symbols[action.market] if action.market >= 0 else None
                out.append(
                    event_row(
                        t,
                        f"{kind}_reverted",
                        market=market,
                        account=account,
                        detail=str(result.error),
                    )  # fmt: skip
                )
            continue
        if kind == "oracle":  # a price push emits only the oracle's PricePushed: not decoded
            continue
        if kind == "top_up" and who >= 0:
            amount = next(
                (from_wad(e.args["amount"]) for e in result.events if e.name == "Deposited"), 0.0
            )
            tr.collateral_in_usd[who] += amount
            tr.wallet_usd[who] -= amount
            out.append(event_row(t, "top_up", market=ctx.symbols[book.market[who]],
                                 account=ctx.accounts[book.account[who]], amount=amount))  # fmt: skip
        if kind == "governance_executed":
            detail = json.dumps({"parameter": ctx.scenario.controls.governance_change.parameter})
            market = ctx.symbols[action.market] if action.market >= 0 else None
            out.append(event_row(t, "governance_executed", market=market, detail=detail))
        for e in result.events:
            a = e.args
            if e.name == "BackstopTakeover":
                out += _takeover_rows(ctx, s, e, t)
                continue
            row = ctx.row(a["account"], a["market"]) if "account" in a and "market" in a else None
            if e.name == "PositionModified":
                if row is not None:
                    tr.size_base[row] = abs(from_wad(a["newSize"]))
                    tr.entry_price_usd[row] = from_wad(a["entryPrice"])
                    if kind == "close" and a["newSize"] == 0:
                        out.append(close_row(ctx, e, t, close_reason(book.behaviour[row])))
                        _set_outcome(s, row, CLOSED, t)
                continue
            if row is not None and e.name in ("Liquidated", "AdlHaircut"):
                closed = abs(from_wad(a["sizeClosed"]))
                left = tr.size_base[row] - closed
                full = e.name == "Liquidated" and a["full"]
                tr.size_base[row] = 0.0 if full or left < _FLAT_BASE else left
                if full:
                    _set_outcome(s, row, LIQUIDATED, t)
                elif e.name == "AdlHaircut" and closed:
                    _set_outcome(s, row, ADL, t)
            out += rows_from_event(ctx, e, t)
    return out


def decode_positions(ctx: Context, s: EngineState, modified: list[tuple | None]) -> None:
    """:func:`decode_block`'s ``PositionModified`` branch for calls that are not a trader's own
    ``close`` (the order flow's), from the events' fields: per call its (``account``,
    ``market``, ``sizeDelta``, ``fill``, ``newSize``, ``entryPrice``, ...) or None (reverted,
    no event); the book row of (account, market), if any, takes the new size and entry, in
    call order."""
    tr = s.trader
    size_base, entry_usd, row_of = tr.size_base, tr.entry_price_usd, ctx.row
    for fields in modified:
        if fields is not None:
            row = row_of(fields[0], fields[1])
            if row is not None:  # from_wad inlined: the same division
                size_base[row] = abs(fields[4] / WAD)
                entry_usd[row] = fields[5] / WAD


def update_inventories(s: EngineState, results: list[TxResult], actions: list[Action]) -> None:
    """Move the hedger's and arbitrageurs' (USD, base) inventories by their mined swaps.

    Each swap adds to its inventory in block order, in Python floats (the same IEEE additions
    as numpy's, without a numpy scalar per addition): the inventories are read as lists at the
    first swap and written back after the last."""
    hedger = hedged = arbs = None
    for result, action in zip(results, actions, strict=True):
        if not result.ok:
            continue
        kind = action.kind
        if kind != "hedge" and kind != "arb":
            continue
        for swap in result.events:
            if swap.name == "Swap":
                break
        else:
            continue
        a = swap.args
        amount_in, amount_out = a["amountIn"], a["amountOut"]
        # from_units / from_wad of the event's integers, inlined.
        if a["baseIn"]:
            d_usd, d_base = amount_out / USD_UNITS, -(amount_in / WAD)
        else:
            d_usd, d_base = -(amount_in / USD_UNITS), amount_out / WAD
        m = action.market
        if kind == "hedge":
            if hedger is None:
                hedger, hedged = s.hedger_inventory.tolist(), s.hedged_base.tolist()
            inventory = hedger[m]
            hedged[m] += d_base
        else:
            if arbs is None:
                arbs = s.arb_inventory.tolist()
            inventory = arbs[action.who][m]
        inventory[0] += d_usd
        inventory[1] += d_base
    if hedger is not None:
        s.hedger_inventory[...] = hedger
        s.hedged_base[...] = hedged
    if arbs is not None:
        s.arb_inventory[...] = arbs
