"""Phase 3b: the backstop vault's unwind, arbitrageurs and the pool's hedger on the spot AMM.

The inputs are the pending block's ledger, open interest, AMM reserves and the vault's
position after the keepers' calls (:func:`spot_views` / :func:`parse_spot`), or, in a quiet
block, the last block's levels less the positions traders are closing
(:func:`spot_inputs_after_closes`). Arbitrageurs go first (toward the next exogenous price,
within their capital), then the hedger's forced flow: what the hedger sells after them is what
the oracle reads next."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.agents import liquidity
from simulator.chain.types import Call
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.units import from_units, from_wad, to_units, to_wad

#: Share of the backstop vault's position it closes per block while unwinding (fraction).
VAULT_UNWIND_SHARE_PER_STEP = 0.1
#: The hedger keeps the pool this fraction delta-neutral (1 = fully hedged).
HEDGE_RATIO = 1.0


def spot_views(ctx: Context) -> list:
    """What the spot phase reads: ledger, open interest, AMM reserves (and the vault's
    account when there is a backstop)."""
    v = ctx.venue
    views = [v.market.accounting(), v.market.open_interest(), v.amm.reserves()]
    if ctx.backstop_fraction is not None:
        views.append(v.market.account_of(ctx.vault_address))
    return views


def parse_spot(ctx: Context, got: list) -> dict[str, Any]:
    """The results of :func:`spot_views` as the spot phase's inputs."""
    return {
        "accounting": ctx.venue.market._as_dict("accounting", got[0]),
        "oi_long_base": from_wad(got[1][0]),
        "oi_short_base": from_wad(got[1][1]),
        "amm_reserve_usd": from_units(got[2][0]),
        "amm_reserve_base": from_wad(got[2][1]),
        "vault_size_wad": got[3][0] if ctx.backstop_fraction is not None else 0,
    }


def spot_inputs_after_closes(
    last: dict[str, Any], s: EngineState, closes: np.ndarray
) -> dict[str, Any]:
    """Spot inputs without a read: the last block's levels ``last``, minus the closed
    positions."""
    t = s.trader
    closed_long = float(np.sum(t.size_base[closes] * (t.side[closes] > 0)))
    closed_short = float(np.sum(t.size_base[closes] * (t.side[closes] < 0)))
    return {
        "accounting": last["accounting"],
        "oi_long_base": last["oi_long_base"] - closed_long,
        "oi_short_base": last["oi_short_base"] - closed_short,
        "amm_reserve_usd": last["amm_reserve_usd"],
        "amm_reserve_base": last["amm_reserve_base"],
        "vault_size_wad": last["vault_size_wad"],
    }


def plan_vault_unwind(ctx: Context, levels: dict[str, Any]) -> list[Action]:
    """The backstop vault closes :data:`VAULT_UNWIND_SHARE_PER_STEP` of what it took over
    (all of it once that share rounds to zero)."""
    vault_size = levels["vault_size_wad"]
    if ctx.backstop_fraction is None or not vault_size:
        return []
    v = ctx.venue
    unwind = -int(vault_size * VAULT_UNWIND_SHARE_PER_STEP) or -vault_size
    return [Action(v.backstop_vault.trade_position(v.manager, unwind), "vault_unwind")]


def plan_spot(ctx: Context, s: EngineState, t: int, levels: dict[str, Any]) -> list[Action]:
    """Arbitrage toward the next exogenous price, then the hedger's swap; moves the
    arbitrageurs' target by the permanent part of the hedger's impact (``s``)."""
    actions: list[Action] = []
    reserve_usd, reserve_base = levels["amm_reserve_usd"], levels["amm_reserve_base"]
    if t < len(ctx.exogenous_usd) - 1:
        target = float(ctx.exogenous_usd[t + 1]) * math.exp(s.permanent_log_impact)
        arb = ctx.scenario.arbitrageurs
        swaps = liquidity.arbitrage(
            reserve_usd, reserve_base, ctx.amm_fee, target,
            [tuple(row) for row in s.arb_inventory], arb.capital_usd * arb.max_trade_fraction,
        )  # fmt: skip
        for n, sw in enumerate(swaps):
            if sw is not None:
                actions.append(Action(swap_call(ctx, ctx.world.arbitrageurs[n], sw), "arb", n))
                reserve_usd, reserve_base = after_swap(reserve_usd, reserve_base, sw, ctx.amm_fee)
    net_oi = levels["oi_long_base"] - levels["oi_short_base"]
    price = reserve_usd / reserve_base
    swap = liquidity.hedge(net_oi * HEDGE_RATIO, s.hedged_base, price, *s.hedger_inventory)
    if swap is not None:
        actions.append(Action(swap_call(ctx, ctx.world.hedger, swap), "hedge"))
        # The permanent part of the hedger's price impact moves the arbitrageurs' target
        # from the next block on (see AmmSpec.permanent_impact).
        after_usd, after_base = after_swap(reserve_usd, reserve_base, swap, ctx.amm_fee)
        impact = math.log((after_usd / after_base) / price)
        s.permanent_log_impact += ctx.scenario.amm.permanent_impact * impact
    return actions


def swap_call(ctx: Context, agent: str, swap: liquidity.Swap) -> Call:
    """``agent``'s AMM swap (amount in WAD base units or collateral units, at least 1)."""
    amount = (
        to_wad(round(swap.amount_in, 12)) if swap.base_in else to_units(round(swap.amount_in, 6))
    )
    return ctx.venue.amm.swap(agent, swap.base_in, max(amount, 1), 0, agent)


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
