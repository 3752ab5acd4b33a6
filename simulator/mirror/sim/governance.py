"""Phase 1b on the mirror: the scenario's mid-run parameter change
(``controls.governance_change``), as
:func:`simulator.engine.governance.plan_governance` plans it: at the change's step one
``schedule`` per market (a ``governance_submitted`` row), and once the delay has passed
(``ceil(delay / step)`` steps later, at least one) one ``execute`` each: the venue's
``setMarketParameters`` (funding accrued under the old parameters first, then the new ones in
force) and a ``governance_executed`` row. Through the guardian: its call per market in the
change's block (tighten only: ``max_leverage``, ``maintenance_margin_fraction``, or
``risk_paused``, which refuses risk-adding trades). The change is validated when the engine is built
(:func:`check`), as the chain engine does."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationError

from simulator.engine.context import Context
from simulator.engine.events import event_row
from simulator.engine.governance import changed_markets
from simulator.engine.state import EngineState
from simulator.errors import PerpsimError
from simulator.mirror.sim.venue import Reverted, VenueState


def updated_params(ctx: Context, m: int) -> dict[str, Any]:
    """Market ``m``'s ``MarketParams`` (chain names) with the change applied; raises
    :class:`PerpsimError` for a change the venue would not take (as
    :func:`simulator.engine.governance.timelock_target_call`)."""
    change = ctx.scenario.controls.governance_change
    market = ctx.world.params.markets[m].params
    if change.parameter not in type(market).model_fields or change.parameter == "margin_tiers":
        raise PerpsimError(
            f"controls.governance_change.parameter: unknown market parameter {change.parameter!r}"
        )
    try:
        updated = type(market).model_validate(
            {**market.model_dump(), "margin_tiers": (), change.parameter: change.value}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PerpsimError(
            f"controls.governance_change: {change.parameter}={change.value!r}: "
            f"{first['msg'].removeprefix('Value error, ')}"
        ) from None
    return updated.to_chain()


def _guardian(ctx: Context, venue: VenueState, m: int, t: int) -> dict:
    """The guardian's call on market ``m``: its ``governance_executed`` row, or
    ``governance_executed_reverted`` with the venue's error."""
    change = ctx.scenario.controls.governance_change
    try:
        venue.guardian(m, change.parameter, change.value)
    except Reverted as exc:
        return event_row(t, "governance_executed_reverted", market=ctx.symbols[m],
                         detail=str(exc))  # fmt: skip
    return event_row(t, "governance_executed", market=ctx.symbols[m],
                     detail=json.dumps({"parameter": change.parameter}))  # fmt: skip


def check(ctx: Context) -> None:
    """Refuse a change the venue would not take, before the run starts (the guardian changes
    only ``max_leverage``, ``maintenance_margin_fraction`` and ``risk_paused``)."""
    change = ctx.scenario.controls.governance_change
    if change is None:
        return
    if change.path == "guardian":
        if change.parameter not in GUARDIAN_PARAMETERS:
            raise PerpsimError(
                f"controls.governance_change.parameter: the guardian can change max_leverage, "
                f"maintenance_margin_fraction or risk_paused, not {change.parameter!r}"
            )
        return
    for m in changed_markets(ctx):
        updated_params(ctx, m)


#: What the guardian's calls change.
GUARDIAN_PARAMETERS = ("max_leverage", "maintenance_margin_fraction", "risk_paused")


def plan(ctx: Context, s: EngineState, venue: VenueState, t: int) -> tuple[list, list, int]:
    """Step ``t``'s governance: (rows planned before the block, rows of its calls in block
    order, transactions sent)."""
    change = ctx.scenario.controls.governance_change
    if change is None:
        return [], [], 0
    g = s.governance
    markets = changed_markets(ctx)
    planned: list[dict] = []
    executed: list[dict] = []
    sent = 0
    if t == change.step and not g.get("submitted"):
        g["submitted"] = True
        for m in markets:
            detail = {"parameter": change.parameter, "value": change.value, "path": change.path}
            planned.append(event_row(t, "governance_submitted", market=ctx.symbols[m],
                                     detail=json.dumps(detail)))  # fmt: skip
            sent += 1
            if change.path == "guardian":  # the guardian's call runs in this block
                executed.append(_guardian(ctx, venue, m, t))
        if change.path == "guardian":
            g["executed"] = True
        else:
            delay = ctx.world.params.governance.timelock_delay_s
            g["ready_step"] = t + max(1, math.ceil(delay / ctx.scenario.step_seconds))
    elif g.get("submitted") and not g.get("executed") and t >= g.get("ready_step", 1 << 62):
        g["executed"] = True
        for m in markets:
            venue.set_parameters(m, updated_params(ctx, m))
            detail = json.dumps({"parameter": change.parameter})
            executed.append(event_row(t, "governance_executed", market=ctx.symbols[m],
                                      detail=detail))  # fmt: skip
            sent += 1
    return planned, executed, sent


def quiet(ctx: Context, s: EngineState, t: int) -> bool:
    """Whether step ``t``'s governance does nothing: :func:`plan` would send no call, build no
    row and change no state (neither the change's step before its submission, nor a due
    execution)."""
    change = ctx.scenario.controls.governance_change
    if change is None:
        return True
    g = s.governance
    if t == change.step and not g.get("submitted"):
        return False
    return not (g.get("submitted") and not g.get("executed") and t >= g.get("ready_step", 1 << 62))
