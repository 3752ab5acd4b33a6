"""Phase 1d on the mirror: liquidity providers withdraw from the spot AMMs under stress, as
:func:`simulator.engine.lps.plan_lp_withdrawals` plans it on chain (once per market, when its
oracle price has fallen ``lps.withdraw_on_drawdown`` from its running peak, ``withdraw_fraction``
of the pool's reserves as the last mined block left them), executed on the mirror's pools
(:class:`~simulator.mirror.sim.spot.SpotBook`).

The backstop vault's LPs are not modelled here: the mirror refuses a scenario with the backstop
vault (:mod:`~simulator.mirror.sim.features`), and without one the engine's planner withdraws
from the AMMs only, as on chain."""

from __future__ import annotations

from typing import Any

from simulator.engine import lps as engine_lps
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.mirror.sim.spot import SpotBook


class _LastLevels:
    """What the planner reads with ``Levels.read()`` (the last mined block's levels)."""

    def __init__(self, levels: dict[str, Any]):
        self._levels = levels

    def read(self) -> dict[str, Any]:
        return self._levels


def withdraw(
    ctx: Context, s: EngineState, book: SpotBook, t: int, last_levels: dict[str, Any],
    events: list[dict],
) -> list[Action]:  # fmt: skip
    """The LPs' withdrawals of step ``t``, executed on ``book`` (their ``lp_withdrawal`` rows
    appended to ``events``); returns the calls sent (a withdrawal beyond a reserve reverts and
    is still sent)."""
    actions = engine_lps.plan_lp_withdrawals(ctx, s, t, _LastLevels(last_levels), events)  # type: ignore[arg-type]
    for a in actions:
        book.execute(a.call)  # type: ignore[arg-type]
    return actions


__all__ = ["withdraw"]
