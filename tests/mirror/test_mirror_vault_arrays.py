"""The market-making vault's quotes on the mirror's fast mode from arrays
(:func:`simulator.mirror.sim.mm_vault.execute`: the step and the trades' batch form in
one compiled call, a :class:`~simulator.mirror.sim.mm_vault.FastBlock`; the lists' path of
:func:`~simulator.mirror.sim.mm_vault._execute_quotes` from a call the batch stops at;
:func:`~simulator.mirror.sim.mm_vault._quote_rows` from the outs) held to the calls' path they
replaced (each trade a :class:`~simulator.mirror.sim.planned.Planned` call run by
:func:`~simulator.mirror.sim.planned.execute`, its rows :func:`simulator.engine.mm_vault.
event_rows` of the results; ``ARRAY_QUOTES = False``) over oct-2025, where the vault quotes,
fills, has quotes reverted by the block's other trades and unwinds: the same step rows, events
and positions, with every row kind and in the evaluation's rows alike."""

from __future__ import annotations

import pytest

from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import mm_vault as mirror_vault
from simulator.scenario import load_scenario


def _run(monkeypatch, arrays: bool, event_kinds, seen: dict[str, int]):
    monkeypatch.setattr(mirror_vault, "ARRAY_QUOTES", arrays)
    record = mirror_vault.record

    def counted(ctx, s, block, t, last):
        if isinstance(block, mirror_vault.QuoteBlock | mirror_vault.FastBlock):  # arrays
            seen["calls"] += block.count
            seen["alone"] += len(getattr(block, "errors", ()))
            seen["unwinds"] += sum(block.quotes.unwinds)
            seen["fast"] += isinstance(block, mirror_vault.FastBlock)
        return record(ctx, s, block, t, last)

    monkeypatch.setattr(mirror_vault, "record", counted)
    engine = MirrorEngine(load_scenario("oct-2025"), mode="fast", event_kinds=event_kinds)
    steps, events = [], []

    def keep(outcome):
        steps.append(outcome.rows)
        events.append(outcome.events)

    engine.run(on_step=keep)
    return repr(steps), repr(events), repr(engine.positions())


@pytest.mark.parametrize("event_kinds", [None, EVALUATION_EVENT_KINDS], ids=["all", "evaluation"])
def test_the_vaults_quotes_from_arrays_equal_the_calls_path(monkeypatch, event_kinds):
    seen = {"calls": 0, "alone": 0, "unwinds": 0, "fast": 0}
    got = _run(monkeypatch, True, event_kinds, seen)
    assert seen["calls"] > 2_000 and seen["alone"] >= 10, seen  # batches, and reverts made alone
    assert seen["unwinds"] > 0, seen
    assert seen["fast"] > 1_000, seen  # most steps in one compiled call (FastBlock)
    reference = {"calls": 0, "alone": 0, "unwinds": 0, "fast": 0}
    expected = _run(monkeypatch, False, event_kinds, reference)
    assert reference["calls"] == 0  # the calls' path, no arrays
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert got[2] == expected[2]
    if event_kinds is None:
        assert "'mm_vault_fill'" in got[1] and "'mm_vault_trade_reverted'" in got[1]
