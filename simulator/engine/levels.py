"""The venue's levels: market ledger, open interest, prices, AMM reserves, insurance fund and
backstop vault, read in one batched call after every block (and before the first one), parsed
into floats of USD and base units."""

from __future__ import annotations

import math
from typing import Any

from simulator.engine.context import Context
from simulator.units import from_units, from_wad


class Levels:
    """The level views of a venue (built once) and their parsing.

    A levels dict holds ``accounting`` (the market's ledger, WAD integers by name), open
    interest (``oi_long_base``, ``oi_short_base``), prices (``index_usd``, ``mark_usd``,
    ``amm_price_usd``), AMM reserves, the insurance fund, the funding rate (per hour), the
    backstop vault's assets / supply / position size (WAD), the collateral the market holds
    (token units), bad debt and cumulated fees (USD), and ``extra``: the results of any views
    read with them.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx
        v = ctx.venue
        self.views = [
            v.market.accounting(),
            v.market.open_interest(),
            v.market.index_price(),
            v.market.fill_price(0),
            v.amm.reserves(),
            v.insurance_fund.balance(),
            v.market.funding_rate_per_day(),
            v.backstop_vault.total_assets(),
            v.backstop_vault.total_supply(),
            v.collateral.balance_of(v.market.address),
            v.market.account_of(ctx.vault_address),
        ]

    def parse(self, results: list) -> dict[str, Any]:
        """The results of :attr:`views` (then any extra views, under ``"extra"``)."""
        n = len(self.views)
        (acc, oi, index, mark, reserves, fund, funding, vault_assets, vault_supply, market_units,
         vault_account) = results[:n]  # fmt: skip
        acc = self.ctx.venue.market._as_dict("accounting", acc)
        reserve_usd = from_units(reserves[0])
        reserve_base = from_wad(reserves[1])
        return {
            "accounting": acc,
            "oi_long_base": from_wad(oi[0]),
            "oi_short_base": from_wad(oi[1]),
            "index_usd": from_wad(index),
            "mark_usd": from_wad(mark),
            "amm_reserve_usd": reserve_usd,
            "amm_reserve_base": reserve_base,
            "amm_price_usd": reserve_usd / reserve_base if reserve_base else math.nan,
            "insurance_fund_usd": from_units(fund),
            "funding_rate_per_hour": from_wad(funding) / 24.0,
            "vault_assets_usd": from_units(vault_assets),
            "vault_supply": vault_supply,
            "market_token_units": market_units,
            "vault_size_wad": vault_account[0],
            "bad_debt_usd": from_wad(acc["badDebtLongs"] + acc["badDebtShorts"]),
            "fees_cum_usd": from_wad(
                acc["protocolFees"] + acc["paidToInsurance"] + acc["keeperRewards"]
            ),
            "extra": results[n:],
        }

    def read(self, pending: bool = False, extra: list | None = None) -> dict[str, Any]:
        """:attr:`views` (and ``extra``) in one batched read."""
        return self.parse(self.ctx.chain.read(self.views + list(extra or []), pending=pending))
