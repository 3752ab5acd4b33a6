"""Phase 1b: the scenario's mid-run governance change (``controls.governance_change``).

Through the timelock: ``schedule`` at the change's step, ``execute`` once the delay has passed
(retried the next step if the timelock refuses it as not ready). Through the guardian: one
call at the change's step. The change is validated when the engine is built
(:func:`check_change`), so a bad one stops the run before it starts, not mid-shock."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationError

from simulator.chain.types import Call
from simulator.engine.context import Action, Context
from simulator.engine.events import event_row
from simulator.engine.state import EngineState
from simulator.errors import PerpsimError
from simulator.units import to_wad


def check_change(ctx: Context) -> None:
    """Refuse a governance change the venue would not take (:class:`PerpsimError`)."""
    change = ctx.scenario.controls.governance_change
    if change is not None:
        if change.path == "timelock":
            timelock_target_call(ctx, change.parameter, change.value)
        else:
            guardian_call(ctx, change.parameter, change.value)


def plan_governance(ctx: Context, s: EngineState, t: int, events: list) -> list[Action]:
    """The governance calls of step ``t``; a ``governance_submitted`` event row is appended
    to ``events`` at the change's step."""
    change = ctx.scenario.controls.governance_change
    if change is None:
        return []
    v, g = ctx.venue, s.governance
    actions: list[Action] = []
    if t == change.step and not g.get("submitted"):
        g["submitted"] = True
        if change.path == "guardian":
            actions.append(
                Action(guardian_call(ctx, change.parameter, change.value), "governance_executed")
            )
            g["executed"] = True
        else:
            target_call = timelock_target_call(ctx, change.parameter, change.value)
            delay = ctx.world.params.governance.timelock_delay_s
            actions.append(
                Action(
                    v.timelock.schedule(v.governor, v.market.address, target_call.data, delay),
                    "governance_submitted",
                )
            )
            g["ready_step"] = t + max(1, math.ceil(delay / ctx.scenario.step_seconds))
        events.append(
            event_row(
                t,
                "governance_submitted",
                detail=json.dumps(
                    {"parameter": change.parameter, "value": change.value, "path": change.path}
                ),
            )
        )
    elif g.get("submitted") and not g.get("executed") and t >= g.get("ready_step", 1 << 62):
        g["executed"] = True
        target_call = timelock_target_call(ctx, change.parameter, change.value)
        actions.append(
            Action(
                v.timelock.execute(v.governor, v.market.address, target_call.data),
                "governance_executed",
            )
        )
    return actions


def timelock_target_call(ctx: Context, parameter: str, value: Any) -> Call:
    """``setParameters`` with one market parameter changed, as the timelock will call it.

    Tiers are set separately on chain (``setMarginTiers``; the contract floors every tier
    at the base fractions), so they are left out of this validation."""
    market = ctx.world.params.market
    if parameter not in type(market).model_fields or parameter == "margin_tiers":
        raise PerpsimError(
            f"controls.governance_change.parameter: unknown market parameter {parameter!r}"
        )
    try:
        updated = type(market).model_validate(
            {**market.model_dump(), "margin_tiers": (), parameter: value}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PerpsimError(
            f"controls.governance_change: {parameter}={value!r}: "
            f"{first['msg'].removeprefix('Value error, ')}"
        ) from None
    return ctx.venue.market.set_parameters(ctx.venue.timelock.address, updated.to_chain())


def guardian_call(ctx: Context, parameter: str, value: Any) -> Call:
    """The guardian's call that changes ``parameter`` (it may only tighten)."""
    v = ctx.venue
    if parameter == "max_leverage":
        return v.market.guardian_set_max_leverage(v.guardian, to_wad(value))
    if parameter == "maintenance_margin_fraction":
        return v.market.guardian_set_maintenance_margin_fraction(v.guardian, to_wad(value))
    if parameter == "risk_paused":
        return v.market.guardian_pause_risk(v.guardian)
    raise PerpsimError(
        f"controls.governance_change.parameter: the guardian can change max_leverage, "
        f"maintenance_margin_fraction or risk_paused, not {parameter!r}"
    )
