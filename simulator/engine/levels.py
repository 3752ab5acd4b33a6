"""The venue's levels: its ledger, every market's state (index, open interest, funding, its
ledger of deficits and fees), mark, spot AMM reserves, the insurance fund, the backstop
vault and the market-making vault, read in one batched call after every block (and before
the first one), parsed into floats of USD and base units, per market as arrays of shape
(M,)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.engine.context import Context
from simulator.units import from_units, from_wad

#: Label prefix of the oracle contracts' transactions (``Oracle.pushPrice``): they emit only
#: the oracle's own events, never a venue's.
_ORACLE_CALLS = "Oracle."


def market_views(ctx: Context) -> list:
    """Per market: ``marketState`` and the AMM's reserves (the spot phase's inputs)."""
    v = ctx.venue
    views = []
    for market in ctx.market_ids:
        views += [v.venue.market_state(market), v.amms[market].reserves()]
    return views


def parse_markets(ctx: Context, got: list) -> dict[str, Any]:
    """The results of :func:`market_views` as per-market arrays (USD, base units) and the
    markets' ledgers (dicts of WAD integers by Solidity name)."""
    venue = ctx.venue.venue
    ledgers, values = [], []
    for m in range(ctx.n_markets):
        s = venue.market_view_dict(got[2 * m])
        reserves = got[2 * m + 1]
        g = s["ledger"]
        ledgers.append(g)
        per_day = from_wad(s["fundingRatePerDay"])
        values.append(
            (
                from_wad(s["indexPrice"]),
                from_wad(s["longOpenInterest"]),
                from_wad(s["shortOpenInterest"]),
                per_day / 24,
                per_day,
                from_wad(s["marginScale"]),
                from_units(reserves[0]),
                from_wad(reserves[1]),
                # Bad debt left: outstanding (awaiting ADL) and written off as final.
                from_wad(
                    g["badDebtLongs"]
                    + g["badDebtShorts"]
                    + g["finalBadDebtLongs"]
                    + g["finalBadDebtShorts"]
                ),
                from_wad(g["fees"] + g["liquidationPenalties"]),
                from_wad(g["socializedLoss"]),
            )
        )
    # One array of every value, a row per quantity (each row a contiguous (M,) array).
    (
        index,
        oi_long,
        oi_short,
        funding_per_hour,
        funding_per_day,
        margin_scale,
        reserve_usd,
        reserve_base,
        bad_debt,
        fees_cum,
        socialized_cum,
    ) = np.array(values, dtype=np.float64).reshape(-1, 11).T.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        amm_price = np.where(reserve_base > 0, reserve_usd / reserve_base, np.nan)
    return {
        "ledgers": ledgers,
        "index_usd": index,
        "oi_long_base": oi_long,
        "oi_short_base": oi_short,
        "funding_rate_per_hour": funding_per_hour,
        "funding_rate_per_day": funding_per_day,
        "margin_scale": margin_scale,
        "amm_reserve_usd": reserve_usd,
        "amm_reserve_base": reserve_base,
        "amm_price_usd": amm_price,
        "bad_debt_usd": bad_debt,
        "fees_cum_usd": fees_cum,
        "socialized_cum_usd": socialized_cum,
    }


def vault_views(ctx: Context) -> list:
    """The backstop vault's positions at the venue (none without a vault)."""
    if ctx.vault_address is None:
        return []
    return [ctx.venue.venue.positions_of(ctx.vault_address)]


def parse_vault(ctx: Context, got: list) -> np.ndarray:
    """The vault's signed size per market (WAD integers, shape (M,), object dtype)."""
    sizes = np.zeros(ctx.n_markets, dtype=object)
    if ctx.vault_address is None:
        return sizes
    for p in got[0]:
        sizes[ctx.market_index(p[0])] = int(p[1])
    return sizes


def mm_vault_views(ctx: Context) -> list:
    """The market-making vault's positions and its ``accountHealth`` (none without a vault)."""
    vault = ctx.world.mm_vault
    if vault is None:
        return []
    return [ctx.venue.venue.positions_of(vault), ctx.venue.venue.account_health(vault)]


def parse_mm_vault(ctx: Context, got: list, sizes_wad: np.ndarray | None = None) -> dict[str, Any]:
    """The results of :func:`mm_vault_views`: the vault's signed size per market
    (``mm_vault_size_wad``, WAD integers, object dtype; ``mm_vault_size_base``, base units),
    its cross equity, maintenance and initial margin (USD; NaN without a vault). With
    ``sizes_wad`` (the sizes carried from events, :meth:`Levels.track`), ``got`` is the
    ``accountHealth`` alone."""
    sizes = np.zeros(ctx.n_markets, dtype=object)
    health = (np.nan, np.nan, np.nan)
    if got and sizes_wad is not None:
        sizes = sizes_wad.copy()
        health = tuple(from_wad(int(x)) for x in got[0])
    elif got:
        for p in got[0]:
            sizes[ctx.market_index(p[0])] = int(p[1])
        health = tuple(from_wad(int(x)) for x in got[1])
    return {
        "mm_vault_size_wad": sizes,
        "mm_vault_size_base": np.array([from_wad(int(x)) for x in sizes], dtype=np.float64),
        "mm_vault_equity_usd": health[0],
        "mm_vault_maintenance_usd": health[1],
        "mm_vault_initial_usd": health[2],
    }


def mm_vault_size_changes(ctx: Context, sizes: np.ndarray, results: list) -> np.ndarray:
    """The market-making vault's signed size per market (WAD integers, object dtype) after a
    mined block, from ``sizes`` before it and the block's venue events (``results``: its
    :class:`~simulator.chain.types.TxResult` s, in block order): a ``PositionModified`` of the
    vault sets its ``newSize``; a ``Liquidated`` or an ``AdlHaircut`` of the vault takes its
    ``sizeClosed`` off (the venue emits both as the closed size in the position's sign); a
    ``BackstopTakeover`` of the vault moves every position to the backstop vault. Nothing else
    changes a position's size, so the sizes equal ``positionsOf`` (checked after every block
    against the view in ``tests/engine/test_mm_vault.py``), at no read."""
    vault = ctx.world.mm_vault
    sizes = sizes.copy()
    for result in results:
        if result.label.startswith(_ORACLE_CALLS):
            continue  # the oracles' calls move no position (their logs are left undecoded)
        for e in result.events:
            a = e.args
            if e.name == "PositionModified" and a["account"] == vault:
                sizes[ctx.market_index(a["market"])] = int(a["newSize"])
            elif e.name in ("Liquidated", "AdlHaircut") and a["account"] == vault:
                m = ctx.market_index(a["market"])
                sizes[m] = int(sizes[m]) - int(a["sizeClosed"])
            elif e.name == "BackstopTakeover" and a["account"] == vault:
                sizes[:] = 0
    return sizes


class Levels:
    """The level views of a venue (built once) and their parsing.

    A levels dict holds the venue's ``accounting`` (WAD integers by name), the per-market
    arrays of :func:`parse_markets` plus ``mark_usd`` (``fillPrice(market, 0)``), the insurance
    fund, the backstop vault's assets (USD), supply (share units) and per-market size
    (``vault_size_wad``), the collateral the venue holds (token units), the market-making
    vault's sizes and health (:func:`parse_mm_vault`), and ``extra``: the results of any views
    read with them.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx
        v = ctx.venue
        self.views = (
            [v.venue.accounting()]
            + market_views(ctx)
            + [v.venue.fill_price(m, 0) for m in ctx.market_ids]
            + [v.fund.balance(), v.collateral.balance_of(v.venue.address)]
            + ([v.vault.total_assets(), v.vault.total_supply()] if v.vault is not None else [])
            + vault_views(ctx)
            + mm_vault_views(ctx)[1:]
        )
        self.n_mm_vault_views = len(mm_vault_views(ctx)[1:])
        # The vault's positions are read once (:meth:`read`) and then carried from each
        # block's events (:meth:`track`): ``positionsOf`` was the dearest view of the levels.
        self.mm_vault_size_wad = np.zeros(ctx.n_markets, dtype=object)

    def parse(self, results: list) -> dict[str, Any]:
        """The results of :attr:`views` (then any extra views, under ``"extra"``)."""
        ctx, n, m = self.ctx, len(self.views), self.ctx.n_markets
        out = parse_markets(ctx, results[1 : 1 + 2 * m])
        i = 1 + 2 * m
        out["accounting"] = ctx.venue.venue.as_dict("accounting", results[0])
        out["mark_usd"] = np.array([from_wad(x) for x in results[i : i + m]])
        i += m
        out["insurance_fund_usd"] = from_units(results[i])
        out["venue_token_units"] = results[i + 1]
        i += 2
        if ctx.venue.vault is not None:
            out["vault_assets_usd"] = from_units(results[i])
            out["vault_supply"] = results[i + 1]
            i += 2
        else:
            out["vault_assets_usd"], out["vault_supply"] = 0.0, 0
        k = n - self.n_mm_vault_views
        out["vault_size_wad"] = parse_vault(ctx, results[i:k])
        out.update(parse_mm_vault(ctx, results[k:n], self.mm_vault_size_wad))
        out["extra"] = results[n:]
        return out

    def track(self, results: list) -> None:
        """Carry the market-making vault's sizes through a mined block's events
        (:func:`mm_vault_size_changes`); call before :meth:`parse` of that block's levels."""
        if self.n_mm_vault_views:
            self.mm_vault_size_wad = mm_vault_size_changes(
                self.ctx, self.mm_vault_size_wad, results
            )

    def read(self, pending: bool = False, extra: list | None = None) -> dict[str, Any]:
        """:attr:`views` (and ``extra``) in one batched read, with the market-making vault's
        positions (read, not carried: this is how the carried sizes start)."""
        positions = mm_vault_views(self.ctx)[:1]
        got = self.ctx.chain.read(positions + self.views + list(extra or []), pending=pending)
        if positions:
            self.mm_vault_size_wad = parse_mm_vault(self.ctx, got[:1] + [(0, 0, 0)])[
                "mm_vault_size_wad"
            ]
        return self.parse(got[len(positions) :])
