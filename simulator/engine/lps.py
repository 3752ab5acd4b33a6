"""Phase 1d: liquidity providers withdraw under stress (``lps`` of the scenario).

Once per run, when the oracle price has fallen ``withdraw_on_drawdown`` from its running peak,
the spot AMM's LPs remove ``withdraw_fraction`` of its reserves and the backstop vault's LPs
withdraw that share of what they can (``maxWithdraw``)."""

from __future__ import annotations

from simulator.engine.context import Action, Context
from simulator.engine.events import event_row
from simulator.engine.levels import Levels
from simulator.engine.state import EngineState
from simulator.units import from_units, to_units, to_wad


def plan_lp_withdrawals(
    ctx: Context, s: EngineState, t: int, levels: Levels, events: list
) -> list[Action]:
    """The LPs' withdrawals at step ``t`` (reading the current levels when they withdraw), with
    their ``lp_withdrawal`` event rows appended to ``events``."""
    lps = ctx.scenario.lps
    if s.lps_withdrew or lps.withdraw_on_drawdown is None:
        return []
    if s.oracle_price_usd > s.peak_price_usd * (1 - lps.withdraw_on_drawdown):
        return []
    s.lps_withdrew = True
    v, actions = ctx.venue, []
    now = levels.read()
    if lps.applies_to in ("amm", "both"):
        usd = now["amm_reserve_usd"] * lps.withdraw_fraction
        base = now["amm_reserve_base"] * lps.withdraw_fraction
        call = v.amm.remove_liquidity(
            v.deployer, to_units(round(usd, 6)), to_wad(round(base, 12)), v.deployer
        )
        actions.append(Action(call, "lp_withdrawal"))
        events.append(event_row(t, "lp_withdrawal", amount=usd * 2, detail="amm"))
    if lps.applies_to in ("backstop", "both") and ctx.backstop_fraction is not None:
        idle = ctx.chain.read([v.backstop_vault.max_withdraw(v.deployer)])[0]
        amount = int(idle * lps.withdraw_fraction)
        if amount > 0:
            actions.append(Action(v.backstop_vault.withdraw(v.deployer, amount), "lp_withdrawal"))
            events.append(
                event_row(t, "lp_withdrawal", amount=from_units(amount), detail="backstop_vault")
            )
    return actions
