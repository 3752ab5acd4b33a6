"""From what a block did to rows of the run tables: decoded contract events become
``events.parquet`` rows, and the levels read after the block become a ``steps.parquet`` row.

Pure functions: no chain access, no engine state. Units: the contracts' events are WAD
(18-decimal) integers; every row is in USD and base units (see simulator/results.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from simulator.chain.abi import DecodedEvent
from simulator.protocol.contracts import BackstopVault

VAULT_SHARE_DECIMALS = BackstopVault.SHARE_DECIMALS

WAD = 10**18
#: Event kinds that count as a liquidation in the step metrics.
LIQUIDATION_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")
#: Event kinds that carry an ADL or socialized-loss summary (haircuts, overshoot).
ADL_KINDS = ("adl", "socialized_loss")


def event_row(
    step: int, kind: str, *, account=None, side=None, size=None, price=None, amount=None, detail=""
) -> dict[str, Any]:
    """One ``events.parquet`` row; ``notional_usd`` is size × price when both are known."""
    return {
        "step": step,
        "kind": kind,
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
                          side=_side(a["sizeClosed"]), size=abs(a["sizeClosed"]) / WAD,
                          price=a["fillPrice"] / WAD, amount=a["penalty"] / WAD)]  # fmt: skip
        return rows + _payout(a, step)
    if e.name == "BackstopTakeover":
        rows = [event_row(step, "backstop_takeover", account=a["account"], side=_side(a["size"]),
                          size=abs(a["size"]) / WAD, price=a["price"] / WAD,
                          amount=a["marginTransferred"] / WAD)]  # fmt: skip
        return rows + _payout(a, step)
    if e.name == "BadDebtRecorded":
        return [
            event_row(
                step,
                "bad_debt",
                side="long" if a["longsBankrupt"] else "short",
                amount=a["amount"] / WAD,
            )
        ]
    if e.name == "AdlHaircut":
        return [event_row(step, "adl_fill", account=a["account"], side=_side(a["sizeClosed"]),
                          size=abs(a["sizeClosed"]) / WAD, price=a["price"] / WAD, amount=a["haircut"] / WAD)]  # fmt: skip
    if e.name == "AdlExecuted":
        detail = {
            "deficit_usd": a["deficit"] / WAD,
            "covered_usd": a["covered"] / WAD,
            "overshoot_usd": a["overshoot"] / WAD,
            "to_fund_usd": a["toFund"] / WAD,
        }
        kind = "socialized_loss" if a["accounts"] == 0 else "adl"
        return [event_row(step, kind, amount=a["haircuts"] / WAD, detail=json.dumps(detail))]
    return []


def close_row(e: DecodedEvent, step: int, reason: str) -> dict[str, Any]:
    """The row of a trader's own close (a ``PositionModified`` to size 0); ``amount_usd`` is
    the realized PnL net of the fee and funding paid."""
    a = e.args
    pnl = (a["realizedPnl"] - int(a["fee"]) - a["fundingPaid"]) / WAD
    return event_row(step, "close", account=a["account"], side=_side(-a["sizeDelta"]),
                     size=abs(a["sizeDelta"]) / WAD, price=a["fillPrice"] / WAD, amount=pnl, detail=reason)  # fmt: skip


def _payout(a: dict, step: int) -> list[dict[str, Any]]:
    if not a["fundPayout"]:
        return []
    return [event_row(step, "insurance_payout", account=a["account"], amount=a["fundPayout"] / WAD)]


def step_row(
    step: int,
    step_seconds: int,
    exogenous_usd: float,
    levels: dict[str, Any],
    events: Iterable[dict[str, Any]],
    transactions: int,
    *,
    previous_bad_debt_usd: float,
    previous_fees_usd: float,
) -> dict[str, Any]:
    """One ``steps.parquet`` row from the levels read after the block and its event rows.

    Flows: liquidated notional and accounts (liquidations, partial ones and backstop takeovers),
    ADL haircuts and overshoot, the change of uncovered bad debt, fees (the ledger's fee terms
    minus the part of the ADL overshoot that QUEUE sends to the insurance fund: a haircut, not a
    fee; at most the pool's cash, so it can be less than the overshoot).
    """
    events = list(events)
    liquidations = [e for e in events if e["kind"] in LIQUIDATION_KINDS]
    adl = [e for e in events if e["kind"] in ADL_KINDS]
    details = [json.loads(e["detail"]) for e in adl]
    overshoot = sum(d["overshoot_usd"] for d in details)
    to_fund = sum(d["to_fund_usd"] for d in details)
    vault_assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
    return {
        "step": step,
        "timestamp_s": step * step_seconds,
        "price_exogenous_usd": exogenous_usd,
        "price_oracle_usd": levels["index_usd"],
        "price_mark_usd": levels["mark_usd"],
        "price_amm_usd": levels["amm_price_usd"],
        "oi_long_usd": levels["oi_long_base"] * levels["index_usd"],
        "oi_short_usd": levels["oi_short_base"] * levels["index_usd"],
        "liquidated_notional_long_usd": sum(
            e["notional_usd"] or 0 for e in liquidations if e["side"] == "long"
        ),
        "liquidated_notional_short_usd": sum(
            e["notional_usd"] or 0 for e in liquidations if e["side"] == "short"
        ),
        "accounts_liquidated": len({e["account"] for e in liquidations}),
        "insurance_fund_usd": levels["insurance_fund_usd"],
        "backstop_equity_usd": vault_assets,
        # ERC-4626 shares carry the asset's 6 decimals plus the vault's offset: USD per share.
        "backstop_share_price": (
            vault_assets / (supply / 10**VAULT_SHARE_DECIMALS) if supply else math.nan
        ),
        "adl_haircut_usd": sum(e["amount_usd"] or 0 for e in adl),
        "adl_overshoot_usd": overshoot,
        "bad_debt_usd": levels["bad_debt_usd"] - previous_bad_debt_usd,
        "funding_rate": levels["funding_rate_per_hour"],
        "fees_usd": levels["fees_cum_usd"] - previous_fees_usd - to_fund,
        "transactions": transactions,
    }
