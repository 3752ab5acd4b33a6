"""Phase 3a: auto-deleveraging of outstanding bad debt (``queue`` and ``pro_rata`` policies).

When the pending block's ledger holds bad debt, the winners' side is the one opposite the
larger deficit; its open positions (and the backstop vault's) are ranked and sized in one read
on the pending block, and an ADL keeper sends one ``adl`` call over the winners that
:func:`simulator.agents.keepers.plan_adl` picks."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.units import from_wad_array


def plan_adl(ctx: Context, s: EngineState, levels: dict[str, Any]) -> tuple[list[Action], set[int]]:
    """The ADL call for the bad debt in ``levels["accounting"]`` (none when there is none or
    the policy is not ``queue`` / ``pro_rata``) and the trader indices of its winners (read
    again after the block)."""
    acc = levels["accounting"]
    deficit_longs, deficit_shorts = acc["badDebtLongs"], acc["badDebtShorts"]
    if ctx.adl_policy not in ("queue", "pro_rata") or not (deficit_longs or deficit_shorts):
        return [], set()
    v = ctx.venue
    winners_long = deficit_shorts > deficit_longs
    # Candidates: open positions on the winning side (and the backstop vault), ranked and
    # sized in one round trip.
    side = 1 if winners_long else -1
    same_side = (s.trader.size_base > 0) & (s.trader.side == side)
    accounts = [ctx.accounts[i] for i in np.flatnonzero(same_side)]
    accounts.append(ctx.vault_address)
    (scores, pnls), (_, _, sizes, _) = ctx.chain.read(
        [v.market.adl_ranking(accounts), v.market.health_of(accounts)], pending=True
    )
    winners = keeper_agents.plan_adl(
        np.array(scores, dtype=np.float64),
        from_wad_array(pnls),
        np.array(sizes, dtype=np.float64),
        winners_long,
        accounts,
        ctx.adl_policy,
        ctx.max_adl_accounts,
    )
    if not winners:
        return [], set()
    indices = {i for a in winners if (i := ctx.index(a)) is not None}
    # ADL_ROLE: the protocol's own ADL keeper (the market refuses anyone else).
    return [Action(v.market.adl(v.adl_keeper, winners), "adl")], indices
