"""Phase 2: keepers on the pending block -- backstop takeovers and liquidations.

Keepers watch every position off chain (equity carried to the new oracle price by
:func:`simulator.agents.traders.estimate`) and confirm on chain the ones near liquidation, plus
everyone every :data:`FULL_REFRESH_STEPS`, with one batched ``healthOf`` on the pending block
(:func:`watch_list`). That read is also the traders' view of their accounts for the next step's
decisions. :func:`plan_keepers` then sends backstop takeovers and liquidations within the
keepers' capacity, reaction delay and profit threshold
(:func:`simulator.agents.keepers.plan_liquidations`), round robin over the keepers."""

from __future__ import annotations

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState

#: Keepers confirm on chain every account whose estimated equity is under this multiple of its
#: estimated maintenance margin (the estimate misses only funding and fees since the last read).
WATCH_MARGIN_RATIO = 2.0
#: Every this many steps keepers (and traders) read every open position on chain.
FULL_REFRESH_STEPS = 30


def watch_list(
    ctx: Context, s: EngineState, t: int, est_eq: np.ndarray, est_mm: np.ndarray
) -> np.ndarray:
    """Indices of the open positions to confirm on chain at step ``t`` (estimated equity and
    maintenance margin in USD)."""
    active = s.trader.size_base > 0
    if t % FULL_REFRESH_STEPS == 0 or ctx.full_health_every_step:
        return np.flatnonzero(active)
    return np.flatnonzero(
        active & ((est_eq < WATCH_MARGIN_RATIO * est_mm) | (s.liquidatable_since >= 0))
    )


def track_liquidatable(
    s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray, notional: np.ndarray
) -> None:
    """Record since when each account is liquidatable (equity ``eq`` below maintenance ``mm``,
    USD; notional in USD), for the keepers' reaction delay."""
    s.liquidatable_since = keeper_agents.update_liquidatable_since(
        s.liquidatable_since, eq, mm, notional, t
    )


def plan_keepers(
    ctx: Context, s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray, notional: np.ndarray
) -> list[Action]:
    """Backstop takeovers, then liquidations, of the accounts whose equity ``eq`` is below
    maintenance ``mm`` (USD; confirmed on chain or estimated) and notional (USD); updates
    ``s.liquidatable_since`` first. An account whose takeover the venue refused before
    (``s.takeover_refused``) is liquidated instead."""
    track_liquidatable(s, t, eq, mm, notional)
    ks = ctx.scenario.keepers
    plan = keeper_agents.plan_liquidations(
        eq, mm, notional, s.liquidatable_since, t,
        capacity=ks.count * ks.max_liquidations_per_block,
        reaction_delay_steps=ks.reaction_delay_steps,
        backstop_fraction=ctx.backstop_fraction,
        keeper_reward_fraction=ctx.keeper_reward_fraction,
        gas_cost_usd=ks.gas_cost_usd,
        min_profit_usd=ks.min_profit_usd,
    )  # fmt: skip
    # The venue refused these accounts' takeover (the vault would end below its own
    # maintenance margin): keepers fall back to liquidating them.
    refused = s.takeover_refused[plan.backstop]
    backstop = plan.backstop[~refused]
    liquidate = np.concatenate([plan.backstop[refused], plan.liquidate])
    market = ctx.venue.market
    actions: list[Action] = []
    for n, i in enumerate(np.concatenate([backstop, liquidate])):
        keeper = ctx.keeper(n)
        if n < len(backstop):
            call = market.backstop_takeover(keeper, ctx.accounts[i])
            actions.append(Action(call, "backstop", int(i)))
        else:
            actions.append(Action(market.liquidate(keeper, ctx.accounts[i]), "liquidate", int(i)))
    return actions


#: The venue's custom error for a takeover that would leave the vault below maintenance.
TAKEOVER_REFUSED_ERROR = "BackstopWouldBeLiquidatable"


def record_refused_takeovers(s: EngineState, results: list, kinds: list[tuple[str, int]]) -> None:
    """Mark the traders whose backstop takeover reverted ``BackstopWouldBeLiquidatable`` in
    the mined block (``results`` and their ``kinds``), so keepers liquidate them from the next
    step on instead of trying the takeover again every step."""
    for result, (kind, who) in zip(results, kinds, strict=True):
        if kind == "backstop" and who >= 0 and not result.ok:
            if getattr(result.error, "name", None) == TAKEOVER_REFUSED_ERROR:
                s.takeover_refused[who] = True
