"""Phase 1b: the scenario's mid-run governance change (``controls.governance_change``), on its
market (``governance_change.market``) or on every market (``None``).

Through the timelock: one ``schedule`` of ``setMarketParameters(market, ...)`` per market at
the change's step (one block), one ``execute`` each once the delay has passed (retried the
next step if the timelock refuses it as not ready). Through the guardian: one call per market
at the change's step. The change is validated when the engine is built (:func:`check_change`),
so a bad one stops the run before it starts, not mid-shock."""

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


def changed_markets(ctx: Context) -> list[int]:
    """Indices of the markets the change applies to."""
    change = ctx.scenario.controls.governance_change
    symbol = getattr(change, "market", None)
    if symbol is None:
        return list(range(ctx.n_markets))
    if symbol not in ctx.symbols:
        raise PerpsimError(
            f"controls.governance_change.market: unknown market {symbol!r} "
            f"(listed: {', '.join(ctx.symbols)})"
        )
    return [ctx.symbols.index(symbol)]


def check_change(ctx: Context) -> None:
    """Refuse a governance change the venue would not take (:class:`PerpsimError`)."""
    change = ctx.scenario.controls.governance_change
    if change is not None:
        for m in changed_markets(ctx):
            if change.path == "timelock":
                timelock_target_call(ctx, m, change.parameter, change.value)
            else:
                guardian_call(ctx, m, change.parameter, change.value)


def plan_governance(ctx: Context, s: EngineState, t: int, events: list) -> list[Action]:
    """The governance calls of step ``t``; a ``governance_submitted`` event row is appended
    to ``events`` at the change's step (per market)."""
    change = ctx.scenario.controls.governance_change
    if change is None:
        return []
    v, g = ctx.venue, s.governance
    markets = changed_markets(ctx)
    actions: list[Action] = []
    if t == change.step and not g.get("submitted"):
        g["submitted"] = True
        for m in markets:
            if change.path == "guardian":
                call = guardian_call(ctx, m, change.parameter, change.value)
                actions.append(Action(call, "governance_executed", -1, m))
            else:
                target = timelock_target_call(ctx, m, change.parameter, change.value)
                delay = v.params.governance.timelock_delay_s
                call = v.timelock.schedule(v.governor, v.venue.address, target.data, delay)
                actions.append(Action(call, "governance_submitted", -1, m))
            detail = {"parameter": change.parameter, "value": change.value, "path": change.path}
            events.append(
                event_row(
                    t, "governance_submitted", market=ctx.symbols[m], detail=json.dumps(detail)
                )
            )
        if change.path == "guardian":
            g["executed"] = True
        else:
            delay = v.params.governance.timelock_delay_s
            g["ready_step"] = t + max(1, math.ceil(delay / ctx.scenario.step_seconds))
    elif g.get("submitted") and not g.get("executed") and t >= g.get("ready_step", 1 << 62):
        g["executed"] = True
        for m in markets:
            target = timelock_target_call(ctx, m, change.parameter, change.value)
            call = v.timelock.execute(v.governor, v.venue.address, target.data)
            actions.append(Action(call, "governance_executed", -1, m))
    return actions


def timelock_target_call(ctx: Context, m: int, parameter: str, value: Any) -> Call:
    """``setMarketParameters`` of market ``m`` with one parameter changed, as the timelock will
    call it.

    Tiers are set separately on chain (``setMarginTiers``), so they are left out."""
    market = ctx.venue.params.markets[m].params
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
    v = ctx.venue
    return v.venue.set_market_parameters(v.timelock.address, ctx.market_ids[m], updated.to_chain())


def guardian_call(ctx: Context, m: int, parameter: str, value: Any) -> Call:
    """The guardian's call that changes ``parameter`` of market ``m`` (it may only tighten)."""
    v, market = ctx.venue, ctx.market_ids[m]
    if parameter == "max_leverage":
        return v.venue.guardian_set_max_leverage(v.guardian, market, to_wad(value))
    if parameter == "maintenance_margin_fraction":
        return v.venue.guardian_set_maintenance_margin_fraction(v.guardian, market, to_wad(value))
    if parameter == "risk_paused":
        return v.venue.guardian_pause_risk(v.guardian, market)
    raise PerpsimError(
        f"controls.governance_change.parameter: the guardian can change max_leverage, "
        f"maintenance_margin_fraction or risk_paused, not {parameter!r}"
    )
