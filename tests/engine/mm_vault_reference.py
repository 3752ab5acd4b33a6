"""The market-making vault's phase as it was before it was compiled (session 27): the tests'
references for :func:`simulator.engine.mm_vault.plan_step`, :mod:`simulator.engine.mm_vault_jit`,
the vault's event rows and the mirror's vault reads (``tests/engine/test_mm_vault_jit.py``,
``tests/agents/test_mm_vault_floats.py``, ``tests/mirror/test_mirror_vault_phase.py``). Each
function is the production code it replaced, verbatim but for names: numpy arrays and Python
floats, one call at a time."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.agents.mm_vault import MIN_TRADE_USD, ROOM_SAFETY, VaultQuoteParams
from simulator.engine.context import Action
from simulator.engine.events import event_row
from simulator.engine.flow import spot_inputs_after_flow
from simulator.engine.mm_vault import (
    BACKSTOP,
    LIQUIDATE,
    TAKEOVER_REFUSED_ERROR,
    TRADE,
    UNWIND,
    _takeover_rows,
    quote_params,
)
from simulator.engine.mm_vault import FILL_DETAIL as _FILL_DETAIL
from simulator.engine.spot import spot_inputs_after_closes
from simulator.mirror.fixed import WAD
from simulator.mirror.sim.levels import floats
from simulator.units import from_wad, to_wad


def plan_trades_arrays(
    crowd: np.ndarray, size: np.ndarray, skew: np.ndarray, price: np.ndarray,
    free_margin_usd: float, p: VaultQuoteParams,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``simulator.agents.mm_vault.plan_trades`` vectorized over markets (float64 arrays of
    shape (M,)): the formulation the compiled kernel must equal to the bit."""
    limit_base = np.asarray(p.limit_usd, dtype=np.float64) / price
    step_base = p.max_trade_usd / price

    # The target, within the inventory limit; at most one step's trade toward it.
    target = np.clip(-p.participation * crowd, -limit_base, limit_base)
    want = np.clip(target - size, -step_base, step_base)
    sign = np.sign(want)

    # The quote: the average fill of the trade must pay q over the oracle.
    scale = np.asarray(p.skew_scale_base, dtype=np.float64)
    q = np.broadcast_to(np.asarray(p.quote_fraction, dtype=np.float64), price.shape)
    room = np.where(
        scale > 0,
        np.maximum(0.0, 2.0 * (-sign * skew - scale * q)) * (1.0 - ROOM_SAFETY),
        np.where(q <= 0, np.inf, 0.0),
    )
    quoted = sign * np.minimum(np.abs(want), room)

    # Over the limit (a price move): sell down toward it, whatever the quote pays.
    over = np.abs(size) > limit_base
    unwind_target = np.sign(size) * limit_base
    unwind = np.clip(unwind_target - size, -step_base, step_base)
    trade = np.where(over, unwind, quoted)

    # Trades that add risk share the free margin (initial margin = notional / max leverage).
    added_usd = np.maximum(0.0, np.abs(size + trade) - np.abs(size)) * price
    need_usd = added_usd / np.asarray(p.max_leverage, dtype=np.float64)
    total_need = float(need_usd.sum())
    if total_need > 0:
        k = min(1.0, max(0.0, free_margin_usd) / total_need)
        adds = added_usd > 0
        # Scale only the part of a trade that adds risk (a flip keeps its closing part).
        closing = np.where(adds, trade - np.sign(trade) * added_usd / price, 0.0)
        trade = np.where(adds, closing + np.sign(trade) * k * added_usd / price, trade)

    small = np.abs(trade) * price < MIN_TRADE_USD
    trade = np.where(small, 0.0, trade)
    return trade, over & ~small


def estimated_health_numpy(s, last: dict[str, Any]) -> tuple[float, float, float]:
    """The vault's carried (equity, maintenance, notional) in numpy sums (USD)."""
    size = last["mm_vault_size_base"]
    before, now = last["index_usd"], s.oracle_price_usd
    notional_before = float(np.sum(np.abs(size) * before))
    notional = float(np.sum(np.abs(size) * now))
    equity = float(last["mm_vault_equity_usd"]) + float(np.sum(size * (now - before)))
    mm = float(last["mm_vault_maintenance_usd"])
    mm = mm * notional / notional_before if notional_before > 0 else 0.0
    return equity, mm, notional


def skew_inputs(ctx, s, last: dict[str, Any], closes: np.ndarray, flow=None) -> dict[str, Any]:
    """The open interest the vault's quotes meet: the last levels less the traders' closes,
    with the order flow's planned opens and closes."""
    return spot_inputs_after_flow(spot_inputs_after_closes(ctx, last, s, closes), flow)


def plan_liquidation(ctx, s, t: int, last: dict[str, Any]) -> list[Action]:
    """The keepers' call on the vault at step ``t``; updates ``s.mm_vault_liquidatable_since``."""
    equity, mm, notional = estimated_health_numpy(s, last)
    eq, mm_, nt = np.array([equity]), np.array([mm]), np.array([notional])
    since = keeper_agents.update_liquidatable_since(
        np.array([s.mm_vault_liquidatable_since], dtype=np.int64), eq, mm_, nt, t
    )
    s.mm_vault_liquidatable_since = int(since[0])
    if since[0] < 0:
        return []
    weights = np.abs(last["mm_vault_size_base"]) * s.oracle_price_usd
    weights = weights / weights.sum()
    backstop = None
    if ctx.backstop_fraction is not None and not s.mm_vault_takeover_refused:
        backstop = float(np.sum(weights * ctx.backstop_fraction))
    ks = ctx.scenario.keepers
    plan = keeper_agents.plan_liquidations(
        eq, mm_, nt, since, t,
        capacity=ks.count * ks.max_liquidations_per_block,
        reaction_delay_steps=ks.reaction_delay_steps,
        backstop_fraction=backstop,
        keeper_reward_fraction=float(np.sum(weights * ctx.keeper_reward_fraction)),
        gas_cost_usd=ks.gas_cost_usd,
        min_profit_usd=ks.min_profit_usd,
    )  # fmt: skip
    v, vault, keeper = ctx.venue.venue, ctx.world.mm_vault, ctx.keeper(0)
    if len(plan.backstop):
        return [Action(v.backstop_takeover(keeper, vault), BACKSTOP)]
    if len(plan.liquidate):
        return [Action(v.liquidate(keeper, vault), LIQUIDATE)]
    return []


def plan_quotes(ctx, s, last: dict[str, Any], closes: np.ndarray, flow=None) -> list[Action]:
    """The vault's trades toward its targets against the skew its trades meet in the block."""
    after = skew_inputs(ctx, s, last, closes, flow)
    skew = np.asarray(after["oi_long_base"] - after["oi_short_base"], dtype=np.float64)
    size = last["mm_vault_size_base"]
    params = quote_params(ctx)
    price = s.oracle_price_usd
    free = float(last["mm_vault_equity_usd"] - last["mm_vault_initial_usd"])
    trade, unwind = plan_trades_arrays(skew - size, size, skew, price, free, params)
    v, vault = ctx.venue.venue, ctx.world.mm_vault
    actions = []
    for m in trade.nonzero()[0]:
        delta = to_wad(round(float(trade[m]), 12))
        if delta == 0:
            continue
        s.mm_vault_planned_base[m] = from_wad(delta)
        q = float(params.quote_fraction[m])
        bound = 0 if unwind[m] else to_wad(float(price[m]) * (1.0 - q if delta > 0 else 1.0 + q))
        call = v.trade(vault, ctx.market_ids[m], delta, bound)
        actions.append(Action(call, UNWIND if unwind[m] else TRADE, -1, int(m)))
    return actions


def plan_mm_vault(ctx, s, t: int, last: dict[str, Any], closes: np.ndarray, flow=None):
    """The vault's calls of step ``t``: its liquidation (or takeover) when keepers act on it,
    else its quotes."""
    vault = ctx.world.mm_vault
    s.mm_vault_planned_base = np.zeros(ctx.n_markets)
    if vault is None:
        return []
    actions = plan_liquidation(ctx, s, t, last)
    if actions or not ctx.scenario.mm_vault.quoting:
        return actions
    return plan_quotes(ctx, s, last, closes, flow)


def after_vault_trades(s, inputs: dict[str, Any], last: dict[str, Any]) -> dict[str, Any]:
    """A quiet block's spot inputs with the vault's planned trades in the open interest."""
    planned = s.mm_vault_planned_base
    if not len(planned) or not planned.any():
        return inputs
    size = last["mm_vault_size_base"]
    new = size + planned
    return {
        **inputs,
        "oi_long_base": inputs["oi_long_base"] + np.maximum(new, 0.0) - np.maximum(size, 0.0),
        "oi_short_base": inputs["oi_short_base"] + np.maximum(-new, 0.0) - np.maximum(-size, 0.0),
    }


def event_rows(ctx, s, results, actions, t: int, last: dict[str, Any]) -> list[dict[str, Any]]:
    """``events.parquet`` rows of the vault's calls in the mined block."""
    out: list[dict[str, Any]] = []
    vault = ctx.world.mm_vault
    for result, action in zip(results, actions, strict=True):
        if action.kind not in (TRADE, UNWIND, LIQUIDATE, BACKSTOP):
            continue
        market = ctx.symbols[action.market] if action.market >= 0 else None
        if not result.ok:
            if action.kind == BACKSTOP and getattr(result.error, "name", None) == (
                TAKEOVER_REFUSED_ERROR
            ):
                s.mm_vault_takeover_refused = True
            out.append(event_row(t, f"{action.kind}_reverted", market=market, account=vault,
                                 detail=str(result.error)))  # fmt: skip
            continue
        for e in result.events:
            a = e.args
            if action.kind in (TRADE, UNWIND) and e.name == "PositionModified":
                out.append(event_row(t, "mm_vault_fill", market=market, account=vault,
                                     side="long" if a["sizeDelta"] > 0 else "short",
                                     size=from_wad(abs(a["sizeDelta"])), price=from_wad(a["fill"]),
                                     amount=from_wad(int(a["fee"])),
                                     detail=_FILL_DETAIL[action.kind]))  # fmt: skip
            elif action.kind == BACKSTOP and e.name == "BackstopTakeover":
                out += _takeover_rows(ctx, s, t, last, from_wad(a["collateralTransferred"]))
    return out


def with_levels(ctx, venue, levels: dict[str, Any]) -> dict[str, Any]:
    """The mirror's ``levels`` with the vault's reads (sizes, equity, maintenance, initial)."""
    vault = ctx.world.mm_vault
    if vault is None:
        return levels
    a = ctx.index(vault)
    size = venue.size[a]
    equity, maintenance, initial = (v[0] for v in venue.cross_health(np.array([a])))
    convert = (lambda x: from_wad(int(x))) if venue.exact_mode else (lambda x: float(x) / WAD)
    levels.update(
        mm_vault_size_wad=np.array([int(x) if venue.exact_mode else x for x in size], dtype=object),
        mm_vault_size_base=floats(size),
        mm_vault_equity_usd=convert(equity),
        mm_vault_maintenance_usd=convert(maintenance),
        mm_vault_initial_usd=convert(initial),
    )
    return levels
