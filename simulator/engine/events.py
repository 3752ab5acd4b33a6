"""From what a block did to ``events.parquet`` rows: decoded contract events become rows
(:func:`rows_from_event`, :func:`close_row`), the block's results become the step's rows and
the position outcomes they imply (:func:`decode_block`), and the swaps move the hedger's and
arbitrageurs' inventories (:func:`update_inventories`).

Units: the contracts' events are WAD (18-decimal) integers and token base units; every row is
in USD and base units (see :mod:`simulator.results`).
"""

from __future__ import annotations

import json
from typing import Any

from simulator.chain.abi import DecodedEvent
from simulator.chain.types import TxResult
from simulator.engine.context import Context
from simulator.engine.state import ADL, BACKSTOPPED, CLOSED, LIQUIDATED, EngineState
from simulator.units import from_units, from_wad

#: Event kinds that count as a liquidation in the step metrics.
LIQUIDATION_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")
#: Event kinds that carry an ADL or socialized-loss summary (haircuts, overshoot).
ADL_KINDS = ("adl", "socialized_loss")
#: Action kinds whose revert is recorded as a ``<kind>_reverted`` event.
_REVERT_RECORDED = ("liquidate", "backstop", "adl", "close", "governance_executed")


#: Event kinds that concern the venue, not one market (``market`` null): LP withdrawals from
#: the backstop vault and the spot AMM.
VENUE_EVENT_KINDS = ("lp_withdrawal",)


def event_row(
    step: int, kind: str, *, market=None, account=None, side=None, size=None, price=None,
    amount=None, detail=""
) -> dict[str, Any]:  # fmt: skip
    """One ``events.parquet`` row; ``notional_usd`` is size × price when both are known.
    ``market`` (the market's symbol) may be left for :func:`with_market` to fill."""
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


def _side(signed: int) -> str | None:
    return "long" if signed > 0 else ("short" if signed < 0 else None)


def rows_from_event(e: DecodedEvent, step: int) -> list[dict[str, Any]]:
    """The rows one decoded market event contributes (none for events not measured)."""
    a = e.args
    if e.name == "Liquidated":
        rows = [event_row(step, "liquidation" if a["full"] else "partial_liquidation", account=a["account"],
                          side=_side(a["sizeClosed"]), size=from_wad(abs(a["sizeClosed"])),
                          price=from_wad(a["fillPrice"]), amount=from_wad(a["penalty"]))]  # fmt: skip
        return rows + _payout(a, step)
    if e.name == "BackstopTakeover":
        rows = [event_row(step, "backstop_takeover", account=a["account"], side=_side(a["size"]),
                          size=from_wad(abs(a["size"])), price=from_wad(a["price"]),
                          amount=from_wad(a["marginTransferred"]))]  # fmt: skip
        return rows + _payout(a, step)
    if e.name == "BadDebtRecorded":
        return [
            event_row(
                step,
                "bad_debt",
                side="long" if a["longsBankrupt"] else "short",
                amount=from_wad(a["amount"]),
            )
        ]
    if e.name == "AdlHaircut":
        return [event_row(step, "adl_fill", account=a["account"], side=_side(a["sizeClosed"]),
                          size=from_wad(abs(a["sizeClosed"])), price=from_wad(a["price"]),
                          amount=from_wad(a["haircut"]))]  # fmt: skip
    if e.name == "AdlExecuted":
        detail = {
            "deficit_usd": from_wad(a["deficit"]),
            "covered_usd": from_wad(a["covered"]),
            "overshoot_usd": from_wad(a["overshoot"]),
            "to_fund_usd": from_wad(a["toFund"]),
        }
        kind = "socialized_loss" if a["accounts"] == 0 else "adl"
        return [event_row(step, kind, amount=from_wad(a["haircuts"]), detail=json.dumps(detail))]
    return []


def with_market(rows: list[dict[str, Any]], symbol: str) -> list[dict[str, Any]]:
    """The step's event rows with ``market`` filled: ``symbol`` (the venue's one market) for
    every row that names none, except :data:`VENUE_EVENT_KINDS` (null)."""
    for row in rows:
        if row.get("market") is None and row["kind"] not in VENUE_EVENT_KINDS:
            row["market"] = symbol
    return rows


def close_row(e: DecodedEvent, step: int, reason: str) -> dict[str, Any]:
    """The row of a trader's own close (a ``PositionModified`` to size 0); ``amount_usd`` is
    the realized PnL net of the fee and funding paid."""
    a = e.args
    pnl = from_wad(a["realizedPnl"] - int(a["fee"]) - a["fundingPaid"])
    return event_row(step, "close", account=a["account"], side=_side(-a["sizeDelta"]),
                     size=from_wad(abs(a["sizeDelta"])), price=from_wad(a["fillPrice"]), amount=pnl,
                     detail=reason)  # fmt: skip


def _payout(a: dict, step: int) -> list[dict[str, Any]]:
    if not a["fundPayout"]:
        return []
    return [
        event_row(step, "insurance_payout", account=a["account"], amount=from_wad(a["fundPayout"]))
    ]


def close_reason(behaviour: int) -> str:
    """``detail`` of a trader's close: the behaviour that closed it."""
    from simulator.population import Behaviour

    return {
        Behaviour.TAKE_PROFIT: "take_profit",
        Behaviour.STOP_LOSS: "stop_loss",
        Behaviour.PANIC: "panic",
    }.get(int(behaviour), "close")


def decode_block(
    ctx: Context, s: EngineState, results: list[TxResult], kinds: list[tuple[str, int]], t: int
) -> list[dict]:
    """Event rows of the mined block (``kinds``: each transaction's action kind and trader),
    and the position outcomes they imply (written into ``s``). A timelock ``execute`` that
    reverted (not ready yet) is tried again next step; a top-up credits what the market
    recorded as deposited."""
    out: list[dict] = []
    for result, (kind, who) in zip(results, kinds, strict=True):
        if not result.ok:
            if (
                kind == "governance_executed"
                and ctx.scenario.controls.governance_change.path == "timelock"
            ):
                s.governance["executed"] = False  # not ready yet: try again next step
            if kind in _REVERT_RECORDED:
                account = ctx.accounts[who] if who >= 0 else None
                out.append(
                    event_row(t, f"{kind}_reverted", account=account, detail=str(result.error))
                )
            continue
        if kind == "top_up" and who >= 0:
            amount = next(
                (from_wad(e.args["amount"]) for e in result.events if e.name == "Deposited"), 0.0
            )
            s.trader.collateral_in_usd[who] += amount
            s.trader.wallet_usd[who] -= amount
            out.append(event_row(t, "top_up", account=ctx.accounts[who], amount=amount))
        if kind == "governance_executed":
            detail = json.dumps({"parameter": ctx.scenario.controls.governance_change.parameter})
            out.append(event_row(t, "governance_executed", detail=detail))
        for e in result.events:
            if e.name == "PositionModified" and kind == "close" and who >= 0:
                out.append(close_row(e, t, close_reason(ctx.world.book.behaviour[who])))
            else:
                out += rows_from_event(e, t)
    for row in out:
        i = ctx.index(row["account"]) if row["account"] else None
        if i is None:
            continue
        if row["kind"] == "close":
            s.outcome[i], s.outcome_step[i] = CLOSED, t
        elif row["kind"] == "liquidation":
            s.outcome[i], s.outcome_step[i] = LIQUIDATED, t
        elif row["kind"] == "backstop_takeover":
            s.outcome[i], s.outcome_step[i] = BACKSTOPPED, t
        elif row["kind"] == "adl_fill" and row["size_base"]:
            s.outcome[i], s.outcome_step[i] = ADL, t
    return out


def update_inventories(s: EngineState, results: list[TxResult], kinds: list) -> None:
    """Move the hedger's and arbitrageurs' (USD, base) inventories by their mined swaps."""
    for result, (kind, who) in zip(results, kinds, strict=True):
        if not result.ok or kind not in ("hedge", "arb"):
            continue
        swap = next((e for e in result.events if e.name == "Swap"), None)
        if swap is None:
            continue
        base_in, amount_in, amount_out = (
            swap.args["baseIn"],
            swap.args["amountIn"],
            swap.args["amountOut"],
        )
        d_usd = from_units(amount_out) if base_in else -from_units(amount_in)
        d_base = -from_wad(amount_in) if base_in else from_wad(amount_out)
        inventory = s.hedger_inventory if kind == "hedge" else s.arb_inventory[who]
        inventory += (d_usd, d_base)
        if kind == "hedge":
            s.hedged_base += d_base
