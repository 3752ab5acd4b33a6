"""The contagion world's users in the run's blocks (issue 13): the lending pool's keeper, the
synthetic dollar's manager, holders and arbitrageur, and the simulator's push of its price.

The world (:mod:`simulator.contagion.world_setup`) is read in the block's mining round trip,
with the venue's levels (:meth:`DefiDriver.views`, parsed by :meth:`DefiDriver.parse`), and
its users act in the next block's market phase on that read (:meth:`DefiDriver.plan`), so a
step keeps its number of round trips: they react one block after what they react to, as the
venue's keepers estimate from the last block. In the block, after the venue's oracles:

1. **oracle**: the synthetic dollar's ``Oracle`` (the pool's price of it) is pushed its AMM
   price (USD per token) of the last block;
2. **pool keeper**: every borrower with a health factor below 1 (WAD, the pool's own view) is
   liquidated, lowest first, at most ``keeper.max_liquidations_per_block``, repaying its whole
   debt (the pool caps it at the close factor and seizes collateral worth it plus the bonus;
   a borrower left with debt and no collateral is written off as bad debt by the pool), while
   the keeper's stablecoin lasts;
3. **manager**: ``rebalanceHedge`` when the short differs from the spot base by more than
   ``rebalance_tolerance`` (after an ADL or a liquidation of the hedge, or redemptions);
4. **holders** (redeemers): while the backing ratio is below ``backing_trigger`` or the AMM
   price below ``price_trigger``, ``run_fraction_per_step`` of their holding runs:
   ``sell_share`` of it sold on the AMM, the rest redeemed at min(1, backing ratio);
5. **second venue** (``world.second_venue``): its oracles pushed the prices the block pushes
   to the first venue's (the same outside market; a market whose fault holds the first
   venue's oracle is held at the second too), and its book kept by the world's keeper: an
   account below ``backstop_fraction`` × its maintenance margin is taken over by the second
   venue's backstop vault (when it has one and the market's fraction is > 0; a takeover the
   venue refused is not tried again for that account), one below its maintenance margin is
   liquidated;
6. **arbitrageur**: when the AMM price is below the redemption value min(1, backing ratio) by
   more than ``arbitrage_min_edge_bps`` plus the fee, it buys on the AMM (toward that value,
   at most ``arbitrage_max_trade_usd``) and redeems what it bought; above 1 USD (and the
   backing at par, so minting is open), it mints with its base token and sells. Swap outputs
   are computed exactly with the AMM's integer formula on the reserves the block leaves.

The synthetic dollar's hedge is read, and liquidated by the world's keeper when below its
maintenance margin, at the venue it is at (``synthetic_dollar.venue``: the run's venue or the
second).

Units: USD floats; on chain stablecoin base units (6 decimals) and WAD. The per-step figures go
on the venue-total (``ALL``) row of ``steps.parquet`` (:data:`STEP_COLUMNS`, null on market
rows); :meth:`DefiDriver.summary` is ``summary.json``'s ``world`` block.
"""

from __future__ import annotations

import math
from typing import Any

from simulator.chain.types import TxResult
from simulator.contagion.world_setup import DefiWorld
from simulator.engine.context import Action, Context
from simulator.engine.events import event_row
from simulator.units import WAD

UNIT = 10**6
MAX_UINT = 2**256 - 1
#: One backstop-vault share (12 decimals: the asset's 6 plus the vault's offset of 6) and one
#: pool supply share (the same offset).
SHARE = 10**12
#: Columns the world adds to ``steps.parquet`` (on the ``ALL`` row; null on market rows).
STEP_COLUMNS = (
    "pool_total_debt_usd",
    "pool_bad_debt_usd",
    "pool_liquidations",
    "pool_supply_share_price",
    "synth_backing_ratio",
    "synth_amm_price",
    "synth_supply_usd",
    "vault_share_price",
)
#: Action kinds of the world's calls (the venue's event decoder skips them).
KINDS = (
    "world_oracle",
    "pool_liquidate",
    "synth_rebalance",
    "synth_sell",
    "synth_redeem",
    "synth_arb_buy",
    "synth_arb_redeem",
    "synth_arb_mint",
    "synth_arb_sell",
    "pool_keeper_sell",
    "synth_arb_base_sale",
    "second_oracle",
    "second_liquidate",
    "second_backstop",
    "second_hedge_liquidation",
)
#: Kind of the world keeper's venue liquidation of the synthetic dollar's hedge: a venue call,
#: decoded with the block's venue events (its ``liquidation`` rows name the hedge's account).
HEDGE_LIQUIDATION = "hedge_liquidation"
#: Keys of the driver's checkpointed state (floats and ints, JSON).
_STATE_KEYS = (
    "liquidations",
    "liquidated_debt_usd",
    "min_backing_ratio",
    "min_amm_price",
    "min_vault_share_price",
    "min_pool_share_price",
    "redeemed_tokens",
    "sold_tokens",
    "arb_bought_tokens",
    "start_vault_share_price",
    "start_pool_share_price",
    "start_backing_ratio",
    "start_supply_usd",
    "start_total_debt_usd",
    "hedge_liquidations",
    "keeper_sold_tokens",
    "peak_index_usd",
    "reverted_calls",
)
#: Keys of the second venue's part of the checkpointed state (only with a second venue).
_SECOND_KEYS = (
    "second_liquidations",
    "second_liquidated_deficit_usd",
    "second_takeovers",
    "second_refused",
)
#: The venue's custom error of a takeover that would leave the vault below maintenance.
_TAKEOVER_REFUSED = "BackstopWouldBeUnderwater"
#: Sales on the synthetic dollar's AMM and the counter of the tokens each sold.
_SALES = {"synth_sell": "sold_tokens", "pool_keeper_sell": "keeper_sold_tokens"}


def venue_only(
    results: list[TxResult], actions: list[Action]
) -> tuple[list[TxResult], list[Action]]:
    """The block's results and actions without the world's calls (:data:`KINDS`): the venue's
    event decoder reads the rest (the pool's ``Liquidated`` is not the venue's)."""
    keep = [i for i, a in enumerate(actions) if a.kind not in KINDS]
    if len(keep) == len(actions):
        return results, actions
    return [results[i] for i in keep], [actions[i] for i in keep]


def amount_out(reserve_in: int, reserve_out: int, amount_in: int, fee_bps: int) -> int:
    """``SpotAMM.getAmountOut``, exactly (integers)."""
    in_after_fee = amount_in * (10_000 - fee_bps)
    return in_after_fee * reserve_out // (reserve_in * 10_000 + in_after_fee)


class DefiDriver:
    """Plans the world's calls each block and keeps its figures (see the module docstring)."""

    def __init__(self, ctx: Context, world: DefiWorld):
        self.ctx = ctx
        self.w = world
        self.last: dict[str, Any] = {}
        """The world as read after the last block (:meth:`parse`)."""
        self.state: dict[str, float] = {
            k: (0 if k in ("liquidations",) else math.nan) for k in _STATE_KEYS
        }
        for k in (
            "liquidated_debt_usd", "redeemed_tokens", "sold_tokens", "arb_bought_tokens",
            "hedge_liquidations", "keeper_sold_tokens", "peak_index_usd", "reverted_calls",
        ):  # fmt: skip
            self.state[k] = 0.0
        if world.second is not None:
            self.state |= {k: 0.0 for k in _SECOND_KEYS[:3]}
            self.state["second_refused"] = []
        self._views = self._build_views()

    # -- reading ----------------------------------------------------------------------------

    def _build_views(self) -> list[tuple[str, Any]]:
        w, v = self.w, self.ctx.venue
        views: list[tuple[str, Any]] = []
        if v.vault is not None and v.vault_wired:
            views.append(("vault_assets_per_share", v.vault.view("convertToAssets", SHARE)))
        if w.pool is not None:
            p = w.pool
            views += [
                ("pool_assets", p.view("totalAssets")),
                ("pool_supply", p.view("totalSupply")),
                ("pool_debt", p.view("totalDebt")),
                ("pool_bad_debt", p.total_bad_debt()),
                ("keeper_cash", v.collateral.view("balanceOf", w.keeper)),
            ]
            views += [(f"hf{i}", p.health_factor(b)) for i, b in enumerate(w.borrowers)]
            views += [(f"debt{i}", p.debt_of(b)) for i, b in enumerate(w.borrowers)]
        if w.synth is not None:
            s, base = w.synth, v.bases[w.synth_market_id]
            views += [
                ("synth_backing", s.backing()),
                ("synth_ratio", s.backing_ratio()),
                ("synth_supply", s.view("totalSupply")),
                ("synth_spot_base", s.view("spotBase")),
                ("amm_reserves", w.synth_amm.reserves()),
                ("holder_tokens", s.view("balanceOf", w.holder)),
                ("arb_tokens", s.view("balanceOf", w.arbitrageur)),
                ("arb_stable", v.collateral.view("balanceOf", w.arbitrageur)),
                ("arb_base", base.view("balanceOf", w.arbitrageur)),
                ("index_price", v.oracles[w.synth_market_id].view("lastPrice")),
                ("hedge_health", self._hedge_venue.venue.account_health(s.address)),
            ]
            if w.pool is not None:
                views.append(("keeper_tokens", s.view("balanceOf", w.keeper)))
        if w.second is not None:
            views += [
                (f"second_health{i}", w.second.venue.account_health(who))
                for i, who in enumerate(w.second_traders)
            ]
        return views

    @property
    def _hedge_venue(self):
        """The venue of the synthetic dollar's hedge (the run's venue unless the world says)."""
        return self.w.hedge_venue if self.w.hedge_venue is not None else self.ctx.venue

    @property
    def views(self) -> list:
        """The world's views, read after every block with the venue's levels."""
        return [view for _, view in self._views]

    def parse(self, got: list) -> dict[str, Any]:
        """Store the results of :attr:`views` as the last read and update the run's minima."""
        r = dict(zip((k for k, _ in self._views), got, strict=True))
        self.last = r
        st = self.state
        first = math.isnan(st["start_backing_ratio"]) and math.isnan(st["start_total_debt_usd"])
        figures = self.figures()
        if "index_price" in r:
            st["peak_index_usd"] = max(st["peak_index_usd"], r["index_price"] / WAD)
        if first:
            st["start_vault_share_price"] = _nan(figures["vault_share_price"])
            st["start_pool_share_price"] = _nan(figures["pool_supply_share_price"])
            st["start_backing_ratio"] = _nan(figures["synth_backing_ratio"])
            st["start_supply_usd"] = _nan(figures["synth_supply_usd"])
            st["start_total_debt_usd"] = _nan(figures["pool_total_debt_usd"])
        for key, col in (
            ("min_backing_ratio", "synth_backing_ratio"),
            ("min_amm_price", "synth_amm_price"),
            ("min_vault_share_price", "vault_share_price"),
            ("min_pool_share_price", "pool_supply_share_price"),
        ):
            value = figures[col]
            if value is not None and not math.isnan(value):
                st[key] = value if math.isnan(st[key]) else min(st[key], value)
        return r

    def figures(self) -> dict[str, float | None]:
        """The world's levels of the last read (USD, x), the :data:`STEP_COLUMNS` but the
        block's liquidations (None where the protocol is not deployed)."""
        r, out = self.last, dict.fromkeys(STEP_COLUMNS)
        if "vault_assets_per_share" in r:
            out["vault_share_price"] = r["vault_assets_per_share"] / UNIT
        if "pool_assets" in r:
            out["pool_total_debt_usd"] = r["pool_debt"] / UNIT
            out["pool_bad_debt_usd"] = r["pool_bad_debt"] / UNIT
            supply = r["pool_supply"]
            out["pool_supply_share_price"] = (
                (r["pool_assets"] / UNIT) / (supply / SHARE) if supply else math.nan
            )
        if "synth_ratio" in r:
            out["synth_backing_ratio"] = r["synth_ratio"] / WAD
            out["synth_supply_usd"] = r["synth_supply"] / WAD
            stable, tokens = r["amm_reserves"]
            out["synth_amm_price"] = (stable / UNIT) / (tokens / WAD) if tokens else math.nan
        return out

    # -- planning ---------------------------------------------------------------------------

    def plan(self, t: int, block: list[Action] | tuple = ()) -> list[Action]:
        """The world's calls of step ``t``'s block, from the last read (module docstring);
        ``block``: the calls planned before them (the first venue's oracle pushes, which the
        second venue's oracles repeat)."""
        r = self.last
        second = self._plan_second_oracles(block)
        if not r:
            return second
        actions = self._plan_pool(r)
        if self.w.synth is not None:
            actions = self._plan_synth(r) + actions
        return second + actions + self._plan_second_keeper(r)

    def _plan_second_oracles(self, block: list[Action] | tuple) -> list[Action]:
        """The second venue's price pushes: the price of each of the block's ``oracle``
        pushes (``pushPrice(uint256)``: the last 32 bytes of its calldata) to the second
        venue's oracle of the same symbol."""
        second = self.w.second
        if second is None:
            return []
        symbols = self.ctx.world.symbols
        out = []
        for a in block:
            if a.kind != "oracle" or a.market < 0 or symbols[a.market] not in second.ids:
                continue
            price_wad = int.from_bytes(a.call.data[-32:], "big")
            call = second.push_price(second.ids[symbols[a.market]], price_wad)
            out.append(Action(call, "second_oracle", -1, a.market))
        return out

    def _plan_second_keeper(self, r: dict[str, Any]) -> list[Action]:
        """Takeovers and liquidations of the second venue's book (module docstring)."""
        w = self.w
        second = w.second
        if second is None or not w.second_traders:
            return []
        fractions = {
            second.ids[m.symbol]: m.params.backstop_fraction for m in second.params.markets
        }
        refused = set(self.state["second_refused"])
        actions = []
        for i, who in enumerate(w.second_traders):
            equity, maintenance, _ = r[f"second_health{i}"]
            if maintenance == 0:
                continue  # no position left
            fraction = fractions[w.second_trader_market[i]]
            if (
                second.vault_wired
                and fraction > 0
                and i not in refused
                and equity * 10**18 < int(fraction * 10**18) * maintenance
            ):
                call = second.venue.backstop_takeover(w.keeper, who)
                actions.append(Action(call, "second_backstop", i))
            elif equity < maintenance:
                actions.append(Action(second.venue.liquidate(w.keeper, who), "second_liquidate", i))
        return actions

    def _plan_pool(self, r: dict[str, Any]) -> list[Action]:
        w = self.w
        if w.pool is None or not w.borrowers:
            return []
        n = len(w.borrowers)
        hf = [r[f"hf{i}"] for i in range(n)]
        debt = [r[f"debt{i}"] for i in range(n)]
        order = sorted((h, i) for i, h in enumerate(hf) if h < WAD and debt[i] > 0)
        cash = r["keeper_cash"]
        close = w.spec.lending_pool.close_factor
        actions = []
        tokens = w.borrower_tokens
        for _, i in order[: w.spec.lending_pool.keeper.max_liquidations_per_block]:
            need = math.ceil(debt[i] * close) + 1
            if need > cash:
                break
            cash -= need
            call = w.pool.liquidate(w.keeper, w.borrowers[i], tokens[i], debt[i])
            actions.append(Action(call, "pool_liquidate"))
        return actions

    def _plan_synth(self, r: dict[str, Any]) -> list[Action]:
        w, sd = self.w, self.w.spec.synthetic_dollar
        synth, amm, fee = w.synth, w.synth_amm, sd.amm_fee_bps
        stable, tokens = r["amm_reserves"]
        actions = []
        if tokens:
            price_wad = stable * 10**12 * WAD // tokens
            actions.append(
                Action(w.synth_oracle.push_price(w.pusher, max(price_wad, 1)), "world_oracle")
            )
        equity, maintenance, _ = r["hedge_health"]
        if r["synth_backing"][4] != 0 and equity < maintenance:
            # the hedge is liquidatable at its venue: the world's keeper liquidates it
            call = self._hedge_venue.venue.liquidate(w.keeper, synth.address)
            kind = (
                HEDGE_LIQUIDATION if w.hedge_venue is not w.second else "second_hedge_liquidation"
            )
            actions.append(Action(call, kind))
        sold = r.get("keeper_tokens", 0)
        if sold:
            sold = min(sold, int(w.spec.lending_pool.keeper.max_sale_usd_per_block * WAD))
        if sold and w.spec.lending_pool.keeper.sell_seized and tokens:
            out = amount_out(tokens, stable, sold, fee)
            if out > 0:
                actions.append(Action(amm.swap(w.keeper, True, sold, 0), "pool_keeper_sell"))
                tokens, stable = tokens + sold, stable - out
        hedge_size = r["synth_backing"][4]
        spot = r["synth_spot_base"]
        if spot and abs(-spot - hedge_size) > sd.rebalance_tolerance * spot:
            actions.append(Action(synth.rebalance_hedge(w.manager), "synth_rebalance"))
        ratio = r["synth_ratio"] / WAD
        price = (stable / UNIT) / (tokens / WAD) if tokens else math.nan
        red = sd.redeemers
        index = r["index_price"] / WAD
        crash = red.market_drawdown_trigger is not None and index < self.state["peak_index_usd"] * (
            1 - red.market_drawdown_trigger
        )
        weak = ratio < red.backing_trigger or price < red.price_trigger or crash
        if weak and r["holder_tokens"]:
            run = int(r["holder_tokens"] * red.run_fraction_per_step)
            sell = int(run * red.sell_share)
            if sell > 0 and tokens:
                out = amount_out(tokens, stable, sell, fee)
                if out > 0:
                    actions.append(Action(amm.swap(w.holder, True, sell, 0), "synth_sell"))
                    tokens, stable = tokens + sell, stable - out
            if run - sell > 0:
                actions.append(Action(synth.redeem(w.holder, run - sell), "synth_redeem"))
        if sd.arbitrageur_capital_usd > 0 and tokens and stable:
            extra = r["arb_base"] - w.arbitrageur_base
            if extra * r["index_price"] >= WAD * WAD:  # redemptions paid (>= 1 USD): sold
                spot_amm = self.ctx.venue.amms[w.synth_market_id]
                call = spot_amm.swap(w.arbitrageur, True, extra, 0)
                actions.append(Action(call, "synth_arb_base_sale"))
            actions += self._plan_arb(r, stable, tokens, min(1.0, ratio))
        return actions

    def _plan_arb(self, r: dict[str, Any], stable: int, tokens: int, value: float) -> list[Action]:
        """Buy below the redemption value ``value`` (USD per token) and redeem; mint and sell
        above par. ``stable``, ``tokens``: the AMM's reserves after the holders' sale."""
        w, sd = self.w, self.w.spec.synthetic_dollar
        fee = sd.amm_fee_bps
        edge = (sd.arbitrage_min_edge_bps + fee) / 1e4
        price = (stable / UNIT) / (tokens / WAD)
        cap_units = int(sd.arbitrage_max_trade_usd * UNIT)
        if price < value * (1 - edge):
            # stablecoin in that brings the price to value·(1 − edge): x·y = k, price = x/y
            target = value * (1 - edge)
            k = (stable / UNIT) * (tokens / WAD)
            x_new = math.sqrt(k * target)
            spend = min(int((x_new - stable / UNIT) * UNIT), cap_units, r["arb_stable"])
            if spend <= 0:
                return []
            got = amount_out(stable, tokens, spend, fee)
            if got <= 0:
                return []
            return [
                Action(w.synth_amm.swap(w.arbitrageur, False, spend, 0), "synth_arb_buy"),
                Action(w.synth.redeem(w.arbitrageur, got), "synth_arb_redeem"),
            ]
        if price > 1 + edge and r["synth_ratio"] >= WAD:
            target = 1 + edge
            k = (stable / UNIT) * (tokens / WAD)
            y_new = math.sqrt(k / target)
            sell_tokens = (y_new - tokens / WAD) * WAD
            index = r["index_price"]
            base_in = min(
                int(sell_tokens * WAD // index), r["arb_base"], cap_units * 10**12 * WAD // index
            )
            minted = base_in * index // WAD
            if base_in <= 0 or minted <= 0:
                return []
            return [
                Action(w.synth.mint(w.arbitrageur, base_in), "synth_arb_mint"),
                Action(w.synth_amm.swap(w.arbitrageur, True, minted, 0), "synth_arb_sell"),
            ]
        return []

    # -- after the block ----------------------------------------------------------------------

    def record(
        self, results: list[TxResult], actions: list[Action], t: int
    ) -> tuple[int, list[dict]]:
        """Count the block's pool liquidations (``Liquidated`` of the pool) and the world's
        sales and redemptions; return the count and an event row ``<kind>_reverted`` (the
        decoded error in ``detail``) per world call that reverted."""
        n = 0
        rows: list[dict] = []
        pool = self.w.pool.address.lower() if self.w.pool is not None else None
        st = self.state
        for result, action in zip(results, actions, strict=True):
            if action.kind == "second_backstop" and not result.ok:
                if _TAKEOVER_REFUSED in str(result.error):
                    st["second_refused"] = sorted({*st["second_refused"], action.who})
            if action.kind in KINDS and not result.ok:
                st["reverted_calls"] += 1
                rows.append(event_row(t, f"{action.kind}_reverted", detail=str(result.error)))
                continue
            if action.kind in (HEDGE_LIQUIDATION, "second_hedge_liquidation") and result.ok:
                st["hedge_liquidations"] += 1
            if action.kind == "second_backstop":
                st["second_takeovers"] += 1
            if action.kind == "second_liquidate":
                for e in result.events:
                    if e.name == "AccountLiquidated":
                        st["second_liquidations"] += 1
                        st["second_liquidated_deficit_usd"] += e.args["deficit"] / WAD
            swap = next((e for e in result.events if e.name == "Swap"), None)
            if action.kind in _SALES and swap is not None:
                st[_SALES[action.kind]] += swap.args["amountIn"] / WAD
            if action.kind == "synth_arb_buy" and swap is not None:
                st["arb_bought_tokens"] += swap.args["amountOut"] / WAD
            if action.kind == "synth_redeem":
                st["redeemed_tokens"] += sum(
                    e.args["amount"] / WAD for e in result.events if e.name == "Redeemed"
                )
            if action.kind != "pool_liquidate" or not result.ok:
                continue
            for e in result.events:
                if e.name == "Liquidated" and e.address.lower() == pool:
                    n += 1
                    self.state["liquidated_debt_usd"] += e.args["repaid"] / UNIT
        self.state["liquidations"] += n
        return n, rows

    def add_columns(self, rows: list[dict[str, Any]], liquidations: int) -> None:
        """Put the world's :data:`STEP_COLUMNS` on the step's ``ALL`` row (the last), null on
        its market rows."""
        figures = self.figures()
        figures["pool_liquidations"] = liquidations if self.w.pool is not None else None
        for row in rows[:-1]:
            row.update(dict.fromkeys(STEP_COLUMNS))
        rows[-1].update(figures)

    # -- summary and checkpoint -------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """``summary.json``'s ``world`` block: what the pool and the synthetic dollar took on
        chain in the run (USD, x; None for a protocol not deployed)."""
        st, f = self.state, self.figures()
        w = self.w
        out: dict[str, Any] = {
            "borrowers": len(w.borrowers),
            "pool_bad_debt_usd": f["pool_bad_debt_usd"],
            "pool_liquidations": int(st["liquidations"]) if w.pool is not None else None,
            "pool_liquidated_debt_usd": st["liquidated_debt_usd"] if w.pool is not None else None,
            "pool_total_debt_start_usd": _none(st["start_total_debt_usd"]),
            "pool_total_debt_end_usd": f["pool_total_debt_usd"],
            "pool_supply_share_price_start": _none(st["start_pool_share_price"]),
            "pool_supply_share_price_min": _none(st["min_pool_share_price"]),
            "pool_supply_share_price_end": _none(f["pool_supply_share_price"]),
            "synth_backing_ratio_start": _none(st["start_backing_ratio"]),
            "synth_backing_ratio_min": _none(st["min_backing_ratio"]),
            "synth_backing_ratio_end": _none(f["synth_backing_ratio"]),
            "synth_amm_price_min": _none(st["min_amm_price"]),
            "synth_amm_price_end": _none(f["synth_amm_price"]),
            "synth_supply_start_usd": _none(st["start_supply_usd"]),
            "synth_supply_end_usd": f["synth_supply_usd"],
            "synth_redeemed_tokens": st["redeemed_tokens"] if w.synth is not None else None,
            "synth_sold_on_amm_tokens": st["sold_tokens"] if w.synth is not None else None,
            "synth_arbitrage_bought_tokens": (
                st["arb_bought_tokens"] if w.synth is not None else None
            ),
            "synth_seized_sold_tokens": st["keeper_sold_tokens"] if w.synth is not None else None,
            "synth_hedge_liquidations": (
                int(st["hedge_liquidations"]) if w.synth is not None else None
            ),
            "vault_share_price_start": _none(st["start_vault_share_price"]),
            "vault_share_price_min": _none(st["min_vault_share_price"]),
            "vault_share_price_end": _none(f["vault_share_price"]),
        }
        out["reverted_calls"] = int(st["reverted_calls"])
        if w.second is not None:
            out |= {
                "second_venue_traders": len(w.second_traders),
                "second_venue_liquidations": int(st["second_liquidations"]),
                "second_venue_liquidation_deficit_usd": st["second_liquidated_deficit_usd"],
                "second_venue_takeovers": int(st["second_takeovers"]),
                "synth_hedge_venue": (
                    None
                    if w.synth is None
                    else ("second_venue" if w.hedge_venue is w.second else "venue")
                ),
            }
        start, low = st["start_vault_share_price"], st["min_vault_share_price"]
        out["vault_share_price_drop"] = None if math.isnan(start) else (start - low) / start
        return out

    def checkpoint(self) -> dict[str, Any]:
        """The driver's Python state (JSON) for the engine checkpoint; the last read is read
        again from the restored chain (:meth:`restore`)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in self.state.items()
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Restore :meth:`checkpoint`'s state and read the world from the (restored) chain."""
        self.state = {k: (math.nan if saved[k] is None else saved[k]) for k in _STATE_KEYS}
        if self.w.second is not None:
            self.state |= {k: saved[k] for k in _SECOND_KEYS}
        keep = dict(self.state)
        self.parse(self.ctx.chain.read(self.views))
        self.state = keep  # the read was already counted in the minima before the checkpoint


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _none(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
