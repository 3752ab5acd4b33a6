"""From the levels read after a block and its event rows to the step's ``steps.parquet`` rows
(per-market long format: one row per market, then the venue-total row).

A pure function: no chain access, no engine state. Levels are floats of USD and base units,
per market arrays of shape (M,) (:mod:`simulator.engine.levels`); the columns are documented
in :mod:`simulator.results`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from simulator.engine.events import ADL_KINDS, LIQUIDATION_KINDS
from simulator.protocol.venue_contracts import VenueBackstopVault
from simulator.results import venue_total_row

#: Decimals of a backstop vault share: the asset's 6 plus the vault's virtual-share offset.
VAULT_SHARE_DECIMALS = VenueBackstopVault.SHARE_DECIMALS


def step_rows(
    step: int,
    step_seconds: int,
    symbols: Sequence[str],
    exogenous_usd: np.ndarray,
    levels: dict[str, Any],
    events: Iterable[dict[str, Any]],
    transactions: int,
    *,
    previous_bad_debt_usd: np.ndarray,
    previous_fees_usd: np.ndarray,
    outside_usd: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """The step's ``steps.parquet`` rows from the levels read after the block and its event
    rows: one row per market of ``symbols`` (in order), then the venue-total (``"ALL"``) row
    (:func:`~simulator.results.venue_total_row`).

    Flows per market: liquidated notional and accounts (liquidations, partial ones and
    backstop takeovers of that market's positions), ADL haircuts and overshoot, the change of
    the market's bad debt (outstanding and final), the bad debt written off as final in the
    step (its ``bad_debt_final`` rows: no ADL call can clear it), and its fees (the change of
    its ledger's trading fees plus liquidation penalties: an ADL overshoot sent to the
    insurance fund is a haircut and is not in them). Venue-wide levels (insurance fund,
    backstop vault) and the block's transactions go on the venue-total row, whose
    ``accounts_liquidated`` counts an account liquidated in several markets once. ``outside_usd``: each market's outside price of the
    step (USD; the ``price_outside_usd`` column, null when not given).
    """
    events = list(events)
    liquidations = [e for e in events if e["kind"] in LIQUIDATION_KINDS]
    rows = []
    for m, symbol in enumerate(symbols):
        mine = [e for e in liquidations if e.get("market") == symbol]
        adl = [e for e in events if e["kind"] in ADL_KINDS and e.get("market") == symbol]
        overshoot = sum(json.loads(e["detail"])["overshoot_usd"] for e in adl)
        index = float(levels["index_usd"][m])
        rows.append(
            {
                "step": step,
                "timestamp_s": step * step_seconds,
                "market": symbol,
                "price_exogenous_usd": float(exogenous_usd[m]),
                "price_oracle_usd": index,
                "price_outside_usd": None if outside_usd is None else float(outside_usd[m]),
                "price_mark_usd": float(levels["mark_usd"][m]),
                "price_amm_usd": float(levels["amm_price_usd"][m]),
                "oi_long_usd": float(levels["oi_long_base"][m]) * index,
                "oi_short_usd": float(levels["oi_short_base"][m]) * index,
                "liquidated_notional_long_usd": sum(
                    e["notional_usd"] or 0 for e in mine if e["side"] == "long"
                ),
                "liquidated_notional_short_usd": sum(
                    e["notional_usd"] or 0 for e in mine if e["side"] == "short"
                ),
                "accounts_liquidated": len({e["account"] for e in mine}),
                "adl_haircut_usd": sum(e["amount_usd"] or 0 for e in adl),
                "adl_overshoot_usd": overshoot,
                "bad_debt_usd": float(levels["bad_debt_usd"][m] - previous_bad_debt_usd[m]),
                "bad_debt_final_usd": sum(
                    e["amount_usd"]
                    for e in events
                    if e["kind"] == "bad_debt_final" and e.get("market") == symbol
                ),
                "funding_rate": float(levels["funding_rate_per_hour"][m]),
                "fees_usd": float(levels["fees_cum_usd"][m] - previous_fees_usd[m]),
                "mm_vault_size_base": _mm_vault_size(levels, m),
            }
        )
    vault_assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
    venue = {
        "insurance_fund_usd": levels["insurance_fund_usd"],
        "backstop_equity_usd": vault_assets,
        # ERC-4626 shares carry the asset's 6 decimals plus the vault's offset: USD per share.
        "backstop_share_price": (
            vault_assets / (supply / 10**VAULT_SHARE_DECIMALS) if supply else math.nan
        ),
        "transactions": transactions,
        "mm_vault_equity_usd": _mm_vault_equity(levels),
    }
    accounts = len({e["account"] for e in liquidations})
    return rows + [venue_total_row(rows, accounts_liquidated=accounts, venue=venue)]


def _mm_vault_size(levels: dict[str, Any], m: int) -> float | None:
    """The market-making vault's signed size in market ``m`` (base units); None without one."""
    equity = levels.get("mm_vault_equity_usd")
    if equity is None or math.isnan(equity):
        return None
    return float(levels["mm_vault_size_base"][m])


def _mm_vault_equity(levels: dict[str, Any]) -> float | None:
    """The market-making vault's cross equity (USD); None without one."""
    equity = levels.get("mm_vault_equity_usd")
    return None if equity is None or math.isnan(equity) else float(equity)
