"""Phase 3b: the backstop vault's unwind, arbitrageurs and the pool's hedger on every market's
spot AMM (one AMM per asset; all markets in the same block).

The inputs are the state before the block's liquidations: the pending block's market states,
AMM reserves and the vault's positions when the block read them (:func:`spot_views` /
:func:`parse_spot`), else the last block's levels less the positions traders are closing
(:func:`spot_inputs_after_closes`) with the block's flow and market-making orders. What the
keepers' calls change, this phase sees from the next block on.
Arbitrageurs go first (toward the market's outside price of the next step, within their
capital), then the hedger's forced flow: its net sale moves the outside market by the
square-root impact law (:mod:`simulator.prices.impact`, the metaorder of its recent net sales),
which the oracle's venues post from the next step on, and its swap moves the local AMM, one of
the oracle's sources."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.agents import liquidity
from simulator.chain.types import Call
from simulator.engine.context import Action, Context
from simulator.engine.levels import market_views, parse_markets, parse_vault, vault_views
from simulator.engine.oracle import run_oracle_model
from simulator.engine.state import EngineState
from simulator.prices.impact import carry_metaorder, decay_per_step
from simulator.scenario.models import Controls
from simulator.units import to_units, to_wad

#: The default share of the backstop vault's position it closes per block while unwinding
#: (fraction): ``controls.backstop_unwind_share_per_step``'s, which :func:`plan_vault_unwind`
#: uses.
VAULT_UNWIND_SHARE_PER_STEP = Controls.model_fields["backstop_unwind_share_per_step"].default
#: The hedger keeps the pool this fraction delta-neutral (1 = fully hedged).
HEDGE_RATIO = 1.0


def spot_views(ctx: Context) -> list:
    """What the spot phase reads: every market's state and AMM reserves, the vault's
    positions."""
    return market_views(ctx) + vault_views(ctx)


def parse_spot(ctx: Context, got: list) -> dict[str, Any]:
    """The results of :func:`spot_views` as the spot phase's inputs."""
    n = 2 * ctx.n_markets
    out = parse_markets(ctx, got[:n])
    out["vault_size_wad"] = parse_vault(ctx, got[n:])
    return out


def spot_inputs_after_closes(
    ctx: Context, last: dict[str, Any], s: EngineState, closes: np.ndarray
) -> dict[str, Any]:
    """Spot inputs without a read: the last block's levels ``last``, minus the closed
    positions (rows ``closes``) of every market."""
    t = s.trader
    market, size, side = ctx.world.book.market[closes], t.size_base[closes], t.side[closes]
    closed_long = np.bincount(market, weights=size * (side > 0), minlength=ctx.n_markets)
    closed_short = np.bincount(market, weights=size * (side < 0), minlength=ctx.n_markets)
    return {
        **{
            k: last[k] for k in ("ledgers", "amm_reserve_usd", "amm_reserve_base", "vault_size_wad")
        },
        "oi_long_base": last["oi_long_base"] - closed_long,
        "oi_short_base": last["oi_short_base"] - closed_short,
    }


def plan_vault_unwind(ctx: Context, levels: dict[str, Any]) -> list[Action]:
    """In every market, the backstop vault's manager closes
    ``controls.backstop_unwind_share_per_step`` of the position it still holds (``levels``'
    ``vault_size_wad``, WAD base units; all of it once that share rounds to zero wei): one
    ``tradePosition`` per market, so what it took over decays geometrically, 0.9 a step at the
    default 0.1, and at 1 it is all closed in one trade."""
    v = ctx.venue
    if v.vault is None:
        return []
    share = ctx.scenario.controls.backstop_unwind_share_per_step
    actions = []
    for m, size in enumerate(levels["vault_size_wad"]):
        size = int(size)
        if size:
            unwind = vault_unwind_delta(size, share)
            call = v.vault.trade_position(v.manager, ctx.market_ids[m], unwind)
            actions.append(Action(call, "vault_unwind", -1, m))
    return actions


def vault_unwind_delta(size_wad: int, share: float) -> int:
    """The trade (WAD base units, signed) that closes ``share`` (fraction, in (0, 1]) of the
    vault's position ``size_wad`` (WAD base units, signed, not 0): ``−int(size × share)``, or
    the whole position at ``share`` = 1 and when the product rounds to zero or, in floating
    point, to the whole position or more (a float product of a 20-digit size is off by some
    wei either way: the position is closed exactly, never left as dust nor flipped).

    >>> vault_unwind_delta(10**20, 0.1), vault_unwind_delta(-9, 0.1)
    (-10000000000000000000, 9)
    >>> vault_unwind_delta(10728978767972000000, 1.0)  # the float product is 256 wei short
    -10728978767972000000
    """
    close = int(size_wad * share)
    if share >= 1 or close == 0 or abs(close) >= abs(size_wad):
        close = size_wad
    return -close


def plan_spot(ctx: Context, s: EngineState, t: int, levels: dict[str, Any]) -> list[Action]:
    """Per market: arbitrage toward the next step's outside price (before this step's hedge),
    then the hedger's swap; carries the outside market's log impact in ``s`` to the next step
    with the hedger's net sale added to the metaorder the square-root law prices
    (:func:`~simulator.prices.impact.carry_metaorder`)."""
    actions: list[Action] = []
    arb = ctx.scenario.arbitrageurs
    model = run_oracle_model(ctx.scenario)
    decay = decay_per_step(model.half_life_steps)
    n_markets = ctx.n_markets
    net_sale_usd = [0.0] * n_markets
    # Python floats throughout (the same IEEE operations as on numpy scalars, for less).
    fees = np.asarray(ctx.amm_fee, dtype=np.float64).tolist()
    reserves_usd = np.asarray(levels["amm_reserve_usd"], dtype=np.float64).tolist()
    reserves_base = np.asarray(levels["amm_reserve_base"], dtype=np.float64).tolist()
    net_oi = (levels["oi_long_base"] - levels["oi_short_base"]).tolist()
    hedged = s.hedged_base.tolist()
    hedger_inventory = s.hedger_inventory
    arbitrageurs, hedger = ctx.world.arbitrageurs, ctx.world.hedger
    amms = ctx.venue.amms
    market_ids = ctx.market_ids
    # The arbitrageurs' target: the next step's outside price (none on the last step, nor
    # without arbitrageurs: their split of the swap toward it is then empty).
    arbitrage = bool(arbitrageurs) and t < len(ctx.exogenous_usd) - 1
    if arbitrage:
        max_trade_usd = arb.capital_usd * arb.max_trade_fraction
        next_usd = ctx.exogenous_usd[t + 1].tolist()
        permanent = s.permanent_log_impact.tolist()
        transient = s.transient_log_impact.tolist()
        # Each arbitrageur's (USD, base) inventory per market, as Python floats (M, N, 2).
        inventories = s.arb_inventory.transpose(1, 0, 2).tolist()
    for m in range(n_markets):
        amm = amms[market_ids[m]]
        fee = fees[m]
        reserve_usd = reserves_usd[m]
        reserve_base = reserves_base[m]
        if arbitrage:
            target = next_usd[m] * math.exp(permanent[m] + transient[m] * decay)
            swaps = liquidity.arbitrage(
                reserve_usd, reserve_base, fee, target, inventories[m], max_trade_usd
            )
            for n, sw in enumerate(swaps):
                if sw is not None:
                    actions.append(Action(amm_swap(amm, arbitrageurs[n], sw), "arb", n, m))
                    reserve_usd, reserve_base = after_swap(reserve_usd, reserve_base, sw, fee)
        price = reserve_usd / reserve_base
        # The inventory as numpy scalars: a swap capped by it rounds as numpy rounds
        # (:func:`amm_swap`), as it always has.
        swap = liquidity.hedge(
            net_oi[m] * HEDGE_RATIO, hedged[m], price,
            hedger_inventory[m, 0], hedger_inventory[m, 1],
        )  # fmt: skip
        if swap is not None:
            actions.append(Action(amm_swap(amm, hedger, swap), "hedge", -1, m))
            # Its net sale (USD at the pool's price; a purchase is negative) moves the outside
            # market from the next step on.
            net_sale_usd[m] = swap.amount_in * price if swap.base_in else -swap.amount_in
    s.permanent_log_impact, s.transient_log_impact, s.metaorder_sale_usd = carry_metaorder(
        s.permanent_log_impact, s.metaorder_sale_usd, net_sale_usd, model.impact_y,
        model.sigma_daily, model.volume_daily_usd, model.persistent_share, model.half_life_steps,
    )  # fmt: skip
    return actions


def amm_swap(amm: Any, agent: str, swap: liquidity.Swap) -> Call:
    """``agent``'s swap on ``amm`` (a market's AMM contract):
    ``amount_in`` rounded to 12 decimals (base) or 6 (USD) as its own type rounds (a numpy
    scalar, a capped hedge's, as numpy does), in WAD base units or collateral units, at
    least 1."""
    amount = (
        to_wad(round(swap.amount_in, 12)) if swap.base_in else to_units(round(swap.amount_in, 6))
    )
    return amm.swap(agent, swap.base_in, max(amount, 1), 0, agent)


def after_swap(
    reserve_usd: float, reserve_base: float, swap: liquidity.Swap, fee: float
) -> tuple[float, float]:
    """Constant-product reserves (USD, base) after ``swap`` with the AMM's ``fee`` (fraction)."""
    k = reserve_usd * reserve_base
    if swap.base_in:
        new_base = reserve_base + swap.amount_in * (1 - fee)
        return k / new_base, reserve_base + swap.amount_in
    new_usd = reserve_usd + swap.amount_in * (1 - fee)
    return reserve_usd + swap.amount_in, k / new_usd
