"""Phase 1d: liquidity providers withdraw under stress (``lps`` of the scenario).

Once per market, when that market's oracle price has fallen ``withdraw_on_drawdown`` from its
running peak, its spot AMM's LPs remove ``withdraw_fraction`` of its reserves; the first time
any market does, the backstop vault's LPs withdraw that share of what they can
(``maxWithdraw``)."""

from __future__ import annotations

import numpy as np

from simulator.engine import jit_spot
from simulator.engine.context import Action, Context
from simulator.engine.events import event_row
from simulator.engine.levels import Levels
from simulator.engine.state import EngineState
from simulator.units import from_units, to_units, to_wad


def lps_may_withdraw(ctx: Context, s: EngineState) -> bool:
    """Whether :func:`plan_lp_withdrawals` at this state plans anything (a market's price
    has fallen ``lps.withdraw_on_drawdown`` from its peak, its LPs not yet withdrawn): its
    own test, so that a step may skip the phase (and the backstop vault's LPs, which
    withdraw only with a market's) when it is False. The run's scratch in ``ctx.memo``."""
    drawdown = ctx.scenario.lps.withdraw_on_drawdown
    if drawdown is None:
        return False
    out = ctx.memo.get(_FALLEN_MEMO)
    if out is None or out.shape[0] != s.lps_withdrew.shape[0]:
        out = ctx.memo[_FALLEN_MEMO] = np.empty(len(s.lps_withdrew), dtype=np.int64)
    count = jit_spot.lp_fallen(
        s.oracle_price_usd, s.peak_price_usd, s.lps_withdrew, 1 - drawdown, out
    )  # the planner's test, as it makes it
    return count > 0


_FALLEN_MEMO = "lps_fallen"
"""``ctx.memo``'s key of :func:`lps_may_withdraw`'s scratch."""


def plan_lp_withdrawals(
    ctx: Context, s: EngineState, t: int, levels: Levels, events: list
) -> list[Action]:
    """The LPs' withdrawals at step ``t`` (reading the current levels when they withdraw), with
    their ``lp_withdrawal`` event rows appended to ``events``; the markets whose price has
    fallen are found by one kernel (:func:`~simulator.engine.jit_spot.lp_fallen`)."""
    lps = ctx.scenario.lps
    if lps.withdraw_on_drawdown is None:
        return []
    fallen = np.empty(len(s.lps_withdrew), dtype=np.int64)
    count = jit_spot.lp_fallen(
        s.oracle_price_usd, s.peak_price_usd, s.lps_withdrew, 1 - lps.withdraw_on_drawdown, fallen
    )
    if not count:
        return []
    v, actions = ctx.venue, []
    now = levels.read()
    for m in fallen[:count]:
        s.lps_withdrew[m] = True
        if lps.applies_to not in ("amm", "both"):
            continue
        usd = float(now["amm_reserve_usd"][m]) * lps.withdraw_fraction
        base = float(now["amm_reserve_base"][m]) * lps.withdraw_fraction
        call = v.amms[ctx.market_ids[m]].remove_liquidity(
            v.deployer, to_units(round(usd, 6)), to_wad(round(base, 12)), v.deployer
        )
        actions.append(Action(call, "lp_withdrawal", -1, int(m)))
        events.append(
            event_row(t, "lp_withdrawal", market=ctx.symbols[m], amount=usd * 2, detail="amm")
        )
    vault_lps = lps.applies_to in ("backstop", "both") and v.vault is not None
    if vault_lps and not s.vault_lps_withdrew:
        s.vault_lps_withdrew = True
        idle = ctx.chain.read([v.vault.max_withdraw(v.deployer)])[0]
        amount = int(idle * lps.withdraw_fraction)
        if amount > 0:
            actions.append(Action(v.vault.withdraw(v.deployer, amount), "lp_withdrawal"))
            events.append(
                event_row(t, "lp_withdrawal", amount=from_units(amount), detail="backstop_vault")
            )
    return actions
