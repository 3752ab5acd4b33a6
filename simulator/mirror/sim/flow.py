"""Phase 1d on the mirror: the order flow (``order_flow:``, arriving traders), planned by the
chain engine's own phase (:func:`simulator.engine.flow.plan_flow`: the slots' take-profit,
stop-loss and holding-time closes, the step's Poisson arrivals into idle slots past their
cooldown, drawn from the flow stream as on chain), executed on the venue in block order after
the traders' closes and top-ups (``closePosition`` / ``trade``, :mod:`~simulator.mirror.sim.
planned`: :func:`~simulator.mirror.sim.planned.execute_many`, compiled batches in fast mode),
and decoded by the engine's decoders from what each call did: the slots' sizes and entries
(:func:`simulator.engine.events.decode_positions`, :func:`~simulator.engine.events.
decode_block`'s branch for them, when the block is decoded) and the ``open`` / ``close`` /
``open_reverted`` / ``close_reverted`` rows with the slots' opens and outcomes
(:func:`simulator.engine.flow.record_flow_calls`, :func:`~simulator.engine.flow.record_flow`
from the calls' fields, after the block's other rows, as the chain engine appends them).
``order_flow_unfilled`` rows are the plan's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.engine import events
from simulator.engine import flow as engine_flow
from simulator.engine.context import Action, Context
from simulator.engine.flow import FlowRun
from simulator.engine.state import EngineState
from simulator.mirror.sim import planned
from simulator.mirror.sim.venue import VenueState


@dataclass
class FlowBlock:
    """This block's flow calls and what the venue did with them (:class:`planned.Executed`:
    arrays, no transaction objects)."""

    actions: list[Action] = field(default_factory=list)
    executed: planned.Executed | None = None

    @property
    def rows(self) -> list[int]:
        """The book rows (slots) the calls concern (their margin units are touched)."""
        return [a.who for a in self.actions]

    def decoder(self, ctx: Context, s: EngineState, t: int) -> Callable[[], None]:
        """The decode of the calls' ``PositionModified`` fields into the slots' sizes and
        entries (:func:`simulator.engine.events.decode_positions`, what
        :func:`~simulator.engine.events.decode_block` does with them; it writes no row for a
        flow call), to run when the block is decoded."""

        def decode() -> None:
            if self.actions:
                events.decode_positions(ctx, s, self.executed.modified)

        return decode


def plan(
    ctx: Context, s: EngineState, t: int, last: dict, run: FlowRun | None
) -> tuple[list[Action], list[dict]]:
    """Step ``t``'s flow calls and its ``order_flow_unfilled`` rows (``last``: the last
    block's levels, for the funding rates), by :func:`simulator.engine.flow.plan_flow`."""
    unfilled: list[dict] = []
    return engine_flow.plan_flow(ctx, s, t, last, run, unfilled), unfilled


def execute(ctx: Context, venue: VenueState, actions: list[Action]) -> FlowBlock:
    """The flow calls on the venue, in order (:func:`planned.execute_many`: in fast mode
    compiled batches)."""
    return FlowBlock(actions, planned.execute_many(ctx, venue, [a.call for a in actions]))


def record(ctx: Context, s: EngineState, block: FlowBlock, t: int, run: FlowRun | None):
    """The block's flow rows (``open``, ``close`` and their reverts) and the slots' opens and
    outcomes, by :func:`simulator.engine.flow.record_flow_calls` (:func:`~simulator.engine.
    flow.record_flow` over the calls' arrays; after the block was decoded)."""
    if not block.actions:
        return engine_flow.record_flow_calls(ctx, s, [], [], [], [], t, run)
    done = block.executed
    return engine_flow.record_flow_calls(ctx, s, block.actions, done.ok, done.errors,
                                         done.modified, t, run)  # fmt: skip
