"""Phase 1c: traders act on what they last read of their accounts (vectorized decisions of
:func:`simulator.agents.traders.decide`: close, top up), and the traders' view of their
accounts is written from the market's batched ``healthOf``."""

from __future__ import annotations

import numpy as np

from simulator.agents import traders as trader_agents
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.units import from_wad_array, to_units


def plan_traders(
    ctx: Context, s: EngineState
) -> tuple[trader_agents.TraderDecisions, list[Action]]:
    """This step's decisions (drawn from the agents' stream) and their calls: closes first,
    then top-ups (amounts in collateral units, rounded to the cent's 6 decimals)."""
    v = ctx.venue
    decisions = trader_agents.decide(s.trader, ctx.world.book, s.oracle_price_usd, ctx.rng)
    actions = [
        Action(v.market.close_position(ctx.accounts[i]), "close", int(i)) for i in decisions.close
    ]
    for i, amount in zip(decisions.top_up, decisions.top_up_usd, strict=True):
        actions.append(
            Action(
                v.market.deposit(ctx.accounts[i], to_units(round(float(amount), 6))),
                "top_up",
                int(i),
            )
        )
    return decisions, actions


def health_view(ctx: Context, indices: np.ndarray):
    """The market's batched ``healthOf`` view of the traders at ``indices``."""
    return ctx.venue.market.health_of([ctx.accounts[i] for i in indices])


def store_health(
    s: EngineState, indices: np.ndarray, health
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write a ``healthOf`` result for ``indices`` into the trader arrays; return (equity,
    maintenance, size) in USD / base units."""
    equities, maintenance, sizes, _ = health
    t = s.trader
    eq = from_wad_array(equities)
    mm = from_wad_array(maintenance)
    size = np.abs(from_wad_array(sizes))
    t.equity_usd[indices], t.maintenance_usd[indices], t.size_base[indices] = eq, mm, size
    t.read_price_usd[indices] = s.oracle_price_usd
    return eq, mm, size


def refresh_traders(ctx: Context, s: EngineState) -> None:
    """Read every trader's equity, maintenance margin and size (one batched view)."""
    everyone = np.arange(len(ctx.accounts))
    store_health(s, everyone, ctx.chain.read([health_view(ctx, everyone)])[0])
