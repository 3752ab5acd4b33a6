"""From the levels read after a block and its event rows to the step's ``steps.parquet`` rows
(per-market long format: the market's row and the venue-total row).

A pure function: no chain access, no engine state. Levels are floats of USD and base units
(:mod:`simulator.engine.levels`); the columns are documented in :mod:`simulator.results`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from simulator.engine.events import ADL_KINDS, LIQUIDATION_KINDS
from simulator.protocol.contracts import BackstopVault
from simulator.results import venue_total_row

#: Decimals of a backstop vault share: the asset's 6 plus the vault's virtual-share offset.
VAULT_SHARE_DECIMALS = BackstopVault.SHARE_DECIMALS


def step_rows(
    step: int,
    step_seconds: int,
    symbol: str,
    exogenous_usd: float,
    levels: dict[str, Any],
    events: Iterable[dict[str, Any]],
    transactions: int,
    *,
    previous_bad_debt_usd: float,
    previous_fees_usd: float,
) -> list[dict[str, Any]]:
    """The step's ``steps.parquet`` rows from the levels read after the block and its event
    rows: the market ``symbol``'s row, then the venue-total (``"ALL"``) row
    (:func:`~simulator.results.venue_total_row`).

    Flows: liquidated notional and accounts (liquidations, partial ones and backstop takeovers),
    ADL haircuts and overshoot, the change of uncovered bad debt, fees (the ledger's fee terms
    minus the part of the ADL overshoot that QUEUE sends to the insurance fund: a haircut, not a
    fee; at most the pool's cash, so it can be less than the overshoot). A market row counts
    the events of its market; venue-wide levels (insurance fund, backstop vault) and the
    block's transactions go on the venue-total row.
    """
    events = list(events)
    liquidations = [e for e in events if e["kind"] in LIQUIDATION_KINDS]
    mine = [e for e in liquidations if e.get("market") == symbol]
    adl = [e for e in events if e["kind"] in ADL_KINDS and e.get("market") == symbol]
    details = [json.loads(e["detail"]) for e in adl]
    overshoot = sum(d["overshoot_usd"] for d in details)
    to_fund = sum(d["to_fund_usd"] for d in details)
    vault_assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
    market = {
        "step": step,
        "timestamp_s": step * step_seconds,
        "market": symbol,
        "price_exogenous_usd": exogenous_usd,
        "price_oracle_usd": levels["index_usd"],
        "price_mark_usd": levels["mark_usd"],
        "price_amm_usd": levels["amm_price_usd"],
        "oi_long_usd": levels["oi_long_base"] * levels["index_usd"],
        "oi_short_usd": levels["oi_short_base"] * levels["index_usd"],
        "liquidated_notional_long_usd": sum(
            e["notional_usd"] or 0 for e in mine if e["side"] == "long"
        ),
        "liquidated_notional_short_usd": sum(
            e["notional_usd"] or 0 for e in mine if e["side"] == "short"
        ),
        "accounts_liquidated": len({e["account"] for e in mine}),
        "adl_haircut_usd": sum(e["amount_usd"] or 0 for e in adl),
        "adl_overshoot_usd": overshoot,
        "bad_debt_usd": levels["bad_debt_usd"] - previous_bad_debt_usd,
        "funding_rate": levels["funding_rate_per_hour"],
        "fees_usd": levels["fees_cum_usd"] - previous_fees_usd - to_fund,
    }
    venue = {
        "insurance_fund_usd": levels["insurance_fund_usd"],
        "backstop_equity_usd": vault_assets,
        # ERC-4626 shares carry the asset's 6 decimals plus the vault's offset: USD per share.
        "backstop_share_price": (
            vault_assets / (supply / 10**VAULT_SHARE_DECIMALS) if supply else math.nan
        ),
        "transactions": transactions,
    }
    accounts = len({e["account"] for e in liquidations})
    return [market, venue_total_row([market], accounts_liquidated=accounts, venue=venue)]
