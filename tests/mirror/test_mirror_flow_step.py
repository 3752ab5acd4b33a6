"""The fast mirror's order flow in two compiled calls a step (session 29) held to session 28's
form, kept below: the block through :func:`simulator.mirror.sim.jit_calls.flow_step` with
every open's WAD delta converted in the kernel (:func:`~simulator.mirror.sim.jit_calls.
wad_of_repr` for sizes of ``2**13`` base units and more), and the slots' decode and state in
one call (:func:`simulator.mirror.sim.flow._record_block`, the decode left to
:func:`~simulator.mirror.sim.flow.record` when no decoder follows the flow's).

- ``wad_of_repr`` is :func:`~simulator.mirror.sim.flow.wad_delta` (``float(repr(size) +
  "e18")``, i.e. ``float(to_wad(round(size, 12)))``) bit for bit on seeded draws over
  ``[2**13, 1e16)`` (log-uniform, uniform, integers, exact halves and quarters where the
  shortest decimal ties, neighbours), NaN elsewhere;
- ``_record_block`` against session 28's decode (``_decode_slots``) then
  :func:`simulator.engine.flow.record_flow_slots` on drawn blocks, both kinds of run;
- two engines on oct-2025 stepped side by side, one with session 28's segment (its
  ``execute_arrays`` -- session 27's block, the test of which holds session 28's to it --
  its decoder at its place, its record), compared after every step (rows, events, the
  traders' and slots' state, the venue), as a tuning path runs (evaluation kinds) and with
  every row, and on drawn blocks (drained accounts, a guardian's pause, sizes drawn up to
  1e17 base units: the deltas the kernel leaves to Python)."""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from simulator.engine import flow as engine_flow
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine, jit_calls, keepers, mm_vault
from simulator.mirror.sim import flow as mirror_flow
from simulator.mirror.sim.flow import _decode_slots, _record_block, _record_consts, wad_delta
from simulator.scenario import load_scenario
from simulator.units import to_wad

sys.path.insert(0, str(Path(__file__).parent))
from test_mirror_flow_batch import old_execute_arrays  # noqa: E402  session 27's block

STATE = ("opens", "opened_step", "outcome", "outcome_step", "realized_pnl_usd",
         "flow_open_size_base", "flow_open_entry_usd", "flow_open_equity_usd",
         "flow_exit_step")  # fmt: skip
TRADER = ("size_base", "entry_price_usd", "equity_usd", "maintenance_usd")
VENUE = ("size", "entry", "snapshot", "margin", "collateral", "long_oi", "short_oi", "fees")


# -- the WAD deltas ---------------------------------------------------------------------------


def _drawn_big(rng) -> list[float]:
    xs = list(10 ** rng.uniform(math.log10(8192), 16, 40000))
    xs += list(rng.uniform(8192.0, 1e5, 20000)) + list(rng.uniform(1e14, 1e16, 5000))
    xs += list(rng.integers(8192, 10**16, 5000).astype(np.float64))
    # x.25 / x.5 / x.75 up to 2**52: the shortest decimal at one digit ties (ties to even)
    base = rng.integers(2**13, 2**52, 4000).astype(np.float64)
    xs += [float(b) + f for b in base for f in (0.25, 0.5, 0.75)]
    xs += [float(np.nextafter(x, np.inf)) for x in xs[:20000:4]]
    xs += [float(np.nextafter(x, 0.0)) for x in xs[1:20000:4]]
    xs += [8192.0, float(np.nextafter(8192.0, np.inf)), 2.0**52 + 0.5, 2.0**52 - 0.5, 2.0**53,
           2.0**53 + 2, 9999999999999998.0, 12345.678, 8192.000000000002, 1e15 + 0.5]  # fmt: skip
    return [float(x) for x in xs]


def test_wad_of_repr_is_wad_delta_from_the_bound_to_1e16():
    rng = np.random.default_rng(29)
    bad = []
    for x in _drawn_big(rng):
        for size in (x, -x):
            got = jit_calls.wad_of_repr(size)
            want = wad_delta(1, size) if abs(size) < 1e16 else math.nan
            if math.isnan(want):
                if not math.isnan(got):
                    bad.append((size, got, want))
            elif not (got == want and math.copysign(1.0, got) == math.copysign(1.0, want)):
                bad.append((size, got, want))
    assert not bad, bad[:5]
    for x in _drawn_big(rng)[::97]:  # the Python form itself
        if x < 1e16:
            assert jit_calls.wad_of_repr(x) == float(to_wad(round(x, 12))), x


def test_wad_of_repr_is_nan_outside_its_range():
    for size in (8191.999999999999, 1.0, 0.0, -5e-13, 1e16, -1e16, 1e17, 1e300, math.inf,
                 -math.inf, math.nan):  # fmt: skip
        assert math.isnan(jit_calls.wad_of_repr(size)), size


# -- the record's compiled call ---------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("oct-2025", [])


@pytest.fixture(scope="module")
def engine(scenario):
    e = MirrorEngine(scenario, mode="fast")
    for _ in range(3):
        e.step()
    return e


def _draw_block(rng, run, twice: bool):
    n_slots = len(run.rows)
    n_close, n_open = int(rng.integers(0, 6)), int(rng.integers(0, 8))
    slots = rng.choice(n_slots, size=n_close + n_open, replace=False).astype(np.int64)
    if twice and n_close and n_open:  # a slot closes, then opens again
        slots[n_close] = slots[0]
    n = len(slots)
    ok = rng.random(n) < rng.choice([0.8, 1.0])
    values = np.zeros((n, jit_calls.N_BATCH_OUT))
    values[:, jit_calls.T_DELTA] = rng.choice([-1.0, 1.0], n) * rng.uniform(1e15, 1e21, n)
    values[:, jit_calls.T_FILL] = rng.uniform(1e18, 1e23, n)
    values[:, jit_calls.T_SIZE] = np.where(rng.random(n) < 0.6, 0.0,
                                           rng.uniform(-1e21, 1e21, n))  # fmt: skip
    values[:, jit_calls.T_ENTRY] = rng.uniform(1e18, 1e23, n)
    for col in (jit_calls.T_REALIZED, jit_calls.T_FEE, jit_calls.T_FUNDING):
        values[:, col] = rng.uniform(-1e20, 1e20, n)
    errors = {k: f"InsufficientMargin(equity={k}, required=1)" for k in np.flatnonzero(~ok)}
    reasons = ("take_profit", "stop_loss", "hold_expired")
    run.close_reasons = {int(run.rows[i]): reasons[int(rng.integers(0, 3))]
                         for i in slots[:n_close]}  # fmt: skip
    return slots, n_close, ok, errors, values


def _old_record(ctx, s, t, run, slots, n_close, ok, errors, values, decode):
    """Session 28's: the decode at its place (``_decode_slots``), then ``record_flow_slots``."""
    tab = mirror_flow.slot_calls(ctx, run)
    if decode:
        tr = s.trader
        _decode_slots(slots, ok, values, jit_calls.T_SIZE, jit_calls.T_ENTRY, tab.decode_row,
                      tr.size_base, tr.entry_price_usd)  # fmt: skip
    fields = values[:, mirror_flow._FIELDS]
    rows = engine_flow.record_flow_slots(ctx, s, t, run, slots, n_close, ok, errors, fields)
    kinds = ctx.event_kinds
    return [r for r in rows if kinds is None or r["kind"] in kinds]


def _same_state(x, y, what):
    for name in STATE:
        assert np.array_equal(getattr(x, name), getattr(y, name), equal_nan=True), (what, name)
    for name in ("size_base", "entry_price_usd"):
        a, b = getattr(x.trader, name), getattr(y.trader, name)
        assert a.tobytes() == b.tobytes(), (what, name)


@pytest.mark.parametrize("kinds", [None, EVALUATION_EVENT_KINDS], ids=["all", "evaluation"])
@pytest.mark.parametrize("seed", range(6))
def test_record_block_equals_the_decode_then_record_flow_slots(engine, seed, kinds):
    rng = np.random.default_rng(seed)
    ctx, run = engine.ctx, engine.flow
    tab = mirror_flow.slot_calls(ctx, run)
    ctx.event_kinds = kinds
    consts = _record_consts(ctx)
    written = kept = 0
    try:
        for t in range(8):
            slots, n_close, ok, errors, values = _draw_block(rng, run, twice=seed % 2 == 0)
            for decode in (False, True):
                got, want = copy.deepcopy(engine.state), copy.deepcopy(engine.state)
                rows = _old_record(ctx, want, t, run, slots, n_close, ok, errors, values, decode)
                tr = got.trader
                has_rows = _record_block(decode, slots, ok, values, n_close, t, tab.decode_row,
                                         run.rows, consts, tr.size_base, tr.entry_price_usd,
                                         got.opens, got.opened_step, got.outcome,
                                         got.outcome_step, got.realized_pnl_usd,
                                         got.flow_open_size_base, got.flow_open_entry_usd)  # fmt: skip
                assert has_rows == bool(rows), (t, decode)
                if has_rows:  # nothing written: the caller's Python path
                    _same_state(got, engine.state, f"step {t}: untouched")
                    kept += 1
                else:
                    _same_state(got, want, f"step {t}")
                    written += 1
    finally:
        ctx.event_kinds = None
    # every row kept: most blocks have one; a tuning path's keeps none of these kinds
    assert kept > 0 if kinds is None else (written > 0 and kept == 0)


# -- the segment, stepped side by side with session 28's --------------------------------------


@dataclass
class _OldBlock:
    """Session 28's ``ArrayBlock`` as the step read it: ``rows``, ``count``, a ``decoder`` to
    run at its place, ``record`` through ``record_flow_slots``."""

    block: object
    decoded: list | None = None

    @property
    def count(self) -> int:
        return len(self.block.slots)

    @property
    def rows(self) -> list[int]:
        return self.block.run.rows[self.block.slots].tolist()

    def decoder(self, ctx, s, t):
        b = self.block
        if not len(b.slots):
            return lambda: None
        decode_row, tr = mirror_flow.slot_calls(ctx, b.run).decode_row, s.trader

        def decode() -> None:
            _decode_slots(b.slots, b.ok, b.values, jit_calls.T_SIZE, jit_calls.T_ENTRY,
                          decode_row, tr.size_base, tr.entry_price_usd)  # fmt: skip

        return decode


def _lockstep(scenario, kinds, steps, perturb=None, sizes=None, later=False):
    """The new segment's engine and session 28's, stepped and compared; counts of the blocks
    (calls, decodes left to the record, decodes at their place, deltas left to Python).
    ``later``: every third step a decoder after the flow's (after the market-making vault's
    calls) takes 1e-9 base units from the first two flow rows of the block, as a partial
    liquidation's decode does (:func:`simulator.mirror.sim.keepers.decode_liquidated`: it
    reads the size the flow's decode wrote)."""
    a = MirrorEngine(scenario, mode="fast", event_kinds=kinds)
    b = MirrorEngine(scenario, mode="fast", event_kinds=kinds)
    real = {"execute": mirror_flow.execute, "record": mirror_flow.record,
            "plan": engine_flow.plan_arrays, "wad_delta": mirror_flow.wad_delta,
            "vault": mm_vault.execute}  # fmt: skip
    seen = {"calls": 0, "deferred": 0, "in_place": 0, "python_deltas": 0, "rows": 0}
    flow_rows: dict[int, list[int]] = {}

    def execute(ctx, venue, calls, run=None):
        if venue is b.venue:
            block = _OldBlock(old_execute_arrays(ctx, venue, calls, run))
        else:
            block = real["execute"](ctx, venue, calls, run)
        flow_rows[id(venue)] = block.rows
        return block

    def vault(ctx, s, venue, t, last, closes, run, row_of, decoded):
        got = real["vault"](ctx, s, venue, t, last, closes, run, row_of, decoded)
        rows = flow_rows[id(venue)]
        if later and t % 3 == 0 and rows:
            decoded.append(partial(keepers.decode_liquidated, s,
                                   [(r, 1e-9, False) for r in rows[:2]], t))  # fmt: skip
        return got

    def record(ctx, s, block, t, run):
        if s is b.state:
            old = block.block
            return _old_record(ctx, s, t, run, old.slots, old.opens_from, old.ok, old.errors,
                               old.values, False)  # fmt: skip
        if block.count:
            deferred = block.decoded is not None and block.decoded[-1] == block.decode
            seen["deferred" if deferred else "in_place"] += 1
            assert block.pending == deferred
        got = real["record"](ctx, s, block, t, run)
        assert not block.pending
        seen["rows"] += len(got)
        return got

    def plan(ctx, s, t, last, run, unfilled):
        got = real["plan"](ctx, s, t, last, run, unfilled)
        if sizes is None or not len(got.open_size):
            return got
        return got._replace(open_size=sizes(t, len(got.open_size)))

    def python_delta(side, size):
        seen["python_deltas"] += 1
        return real["wad_delta"](side, size)

    mirror_flow.execute, mirror_flow.record = execute, record
    engine_flow.plan_arrays, mirror_flow.wad_delta = plan, python_delta
    mm_vault.execute = vault
    try:
        for _ in range(steps):
            t = a.state.step + 1
            if perturb is not None:
                perturb(a, b, t)
            got, want = a.step(), b.step()
            assert repr(got.rows) == repr(want.rows), f"step {t}: rows"
            assert repr(got.events) == repr(want.events), f"step {t}: events"
            _same_state(a.state, b.state, f"step {t}")
            for name in TRADER:
                x, y = getattr(a.state.trader, name), getattr(b.state.trader, name)
                assert x.tobytes() == y.tobytes(), f"step {t}: trader.{name}"
            for name in VENUE:
                x, y = getattr(a.venue, name), getattr(b.venue, name)
                assert x.tobytes() == y.tobytes(), f"step {t}: venue.{name}"
            va, vb = a.venue, b.venue
            assert type(va.pool) is type(vb.pool) and va.pool == vb.pool, f"step {t}: pool"
            assert type(va.fund) is type(vb.fund) and va.fund == vb.fund, f"step {t}: fund"
            assert va.open_order == vb.open_order, f"step {t}: _open order"
            assert va.version == vb.version and va.kept == vb.kept, f"step {t}: version"
            assert a.state.transactions == b.state.transactions
            seen["calls"] += a.flow.slot_calls.block.count
    finally:
        mirror_flow.execute, mirror_flow.record = real["execute"], real["record"]
        engine_flow.plan_arrays, mirror_flow.wad_delta = real["plan"], real["wad_delta"]
        mm_vault.execute = real["vault"]
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.flow.stream.bit_generator.state == b.flow.stream.bit_generator.state
    return seen


@pytest.mark.parametrize("kinds", [EVALUATION_EVENT_KINDS, None], ids=["evaluation", "all"])
def test_oct_2025_equals_session_28s_segment(scenario, kinds):
    seen = _lockstep(scenario, kinds, scenario.steps + 1)
    assert seen["calls"] > 10000 and seen["deferred"] > 1000
    assert seen["in_place"] > 10  # steps with a decoder after the flow's (liquidations)
    assert (seen["rows"] > 1000) == (kinds is None)


def test_drawn_blocks_equal_session_28s_segment(scenario):
    """Drained flow accounts (their calls revert), a guardian's pause (calls made alone), and
    the opens' sizes drawn log-uniform over 1e-3 .. 1e17 base units (from 1e16 the kernel
    leaves the delta to Python), as a tuning path runs."""
    draw = np.random.default_rng(20261205)
    drawn: dict[int, np.ndarray] = {}

    def sizes(t: int, n: int) -> np.ndarray:  # the same for both engines
        if t not in drawn:
            out = 10 ** draw.uniform(-3, 17, n)
            out[draw.random(n) < 0.05] = 8192.0
            drawn[t] = out
        return drawn[t]

    def perturb(a: MirrorEngine, b: MirrorEngine, t: int) -> None:
        if t < 5:
            return
        accounts = np.array([a.ctx.index(x) for x in a.flow.accounts])
        pick = draw.choice(len(accounts), size=min(len(accounts), 40), replace=False)
        drain, pause = draw.random() < 0.3, draw.random()
        market = int(draw.integers(0, a.ctx.n_markets))
        for engine in (a, b):
            if drain:
                engine.venue.collateral[accounts[pick]] = 0.0
            if pause < 0.2:
                engine.venue.risk_paused = np.zeros(engine.ctx.n_markets, dtype=bool)
            elif pause < 0.3:
                engine.venue.risk_paused = np.arange(engine.ctx.n_markets) == market
            else:
                engine.venue.risk_paused = None

    seen = _lockstep(scenario, EVALUATION_EVENT_KINDS, 200, perturb=perturb, sizes=sizes)
    assert seen["calls"] > 500 and seen["python_deltas"] > 10 and seen["deferred"] > 50


def test_a_decoder_after_the_flows_reads_its_decode(scenario):
    """Every third step a decoder follows the flow's and reads the sizes it wrote (as a
    liquidation of a slot the flow just opened does): the flow's decode then runs at its
    place, not in the record, and the rows and state equal session 28's."""
    seen = _lockstep(scenario, EVALUATION_EVENT_KINDS, 300, later=True)
    assert seen["in_place"] > 90 and seen["deferred"] > 150


def test_slot_calls_index_the_slots_as_the_context_does(scenario):
    """The run's slot table (built from the book when every address, market id and (account,
    market) row is distinct) equals the one from :class:`~simulator.engine.context.Context`'s
    lookups, slot by slot (the form before session 29)."""
    e = MirrorEngine(scenario, mode="fast")
    ctx, run = e.ctx, e.flow
    tab = mirror_flow.slot_calls(ctx, run)
    ids = [int(ctx.market_ids[m]) for m in run.market_list]
    index = [ctx.index(a) for a in run.accounts]
    rows = [ctx.row(a, mid) for a, mid in zip(run.accounts, ids, strict=True)]
    assert tab.account.tolist() == [-1 if a is None else a for a in index]
    assert tab.market.tolist() == [ctx.market_index(mid) for mid in ids]
    assert tab.decode_row.tolist() == [-1 if r is None else r for r in rows]
    assert tab.market_id == ids
    assert tab.tab.tolist() == [[a, m] for a, m in zip(index, tab.market.tolist(), strict=True)]
