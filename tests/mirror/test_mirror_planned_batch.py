"""A block's planned venue calls batched (:func:`simulator.mirror.sim.planned.execute_many`,
:func:`simulator.mirror.sim.jit_calls.trade_batch`) against the same calls made one by one
(:func:`~simulator.mirror.sim.planned.execute`, the reference), bit for bit: on states drawn as
``test_mirror_jit_calls.py`` draws them (stale prices, a guardian's pause, breakers, caps), drawn
blocks of ``trade`` / ``closePosition`` calls with reverts mid-batch (zero sizes, flat
positions, price bounds, open-interest caps, margin), the keepers' methods among them; each
call's :class:`~simulator.mirror.sim.planned.Result` and the venue's whole state after the
block are the one-by-one calls'. A batch that forgets one call's bookkeeping fails it.

The engine's readers of the arrays (:func:`simulator.engine.events.decode_positions`,
:func:`simulator.engine.flow.record_flow_calls`) are held to the readers of the mined results
(:func:`~simulator.engine.events.decode_block`, :func:`~simulator.engine.flow.record_flow`) on a
short oct-2025 run: the run with the mirror's flow made as before (one call at a time, the
results decoded as the chain engine decodes them) writes the same rows and state."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mirror_jit_calls import _bits, _call, _setup, _state, base, draws  # noqa: F401

from benchmarks.mirror import bench_scenario
from simulator.engine import events
from simulator.engine import flow as engine_flow
from simulator.mirror.sim import MirrorEngine, planned
from simulator.mirror.sim import flow as mirror_flow
from simulator.mirror.sim.venue import VenueState

WAD = 10**18


class _Accounts:
    """The two lookups :func:`planned.execute` makes of the engine's context: an account's
    index by address, a market's index by its venue id (``m + 1``)."""

    def __init__(self, venue: VenueState) -> None:
        self.addresses = [venue.address(a) for a in range(len(venue.collateral))]
        self._index = {address: a for a, address in enumerate(self.addresses)}

    def index(self, address: str) -> int | None:
        return self._index.get(address)

    def market_index(self, market_id: int) -> int:
        return int(market_id) - 1


def _block(n_accounts: int = 40, n_markets: int = 3):
    """A drawn block: ``trade`` (signed sizes, a zero, price bounds that hold or not),
    ``closePosition`` and now and then a keeper's call, by drawn accounts and markets."""
    a, m = st.integers(0, n_accounts - 1), st.integers(1, n_markets)
    size = st.sampled_from([-1, 1]).flatmap(
        lambda s: st.sampled_from([1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]).map(
            lambda x: s * int(x * WAD)
        )
    )
    bound = st.sampled_from([0, 0, 0, 1, 10**40])
    trade = st.tuples(st.just("trade"), a, m, st.one_of(size, size, size, st.just(0)), bound)
    call = st.one_of(
        trade, trade, trade,
        st.tuples(st.just("closePosition"), a, m, st.just(0), bound),
        st.tuples(st.just("closePosition"), a, m, st.just(0), st.just(0)),
        st.tuples(st.just("liquidate"), a, st.just(0), st.just(0), st.just(0)),
    )  # fmt: skip
    return st.lists(call, min_size=4, max_size=25)


@st.composite
def calm_states(draw) -> dict:
    """A state most trades fill in: the base venue's parameters, fresh prices, small moves,
    no pause, no breaker (``test_mirror_jit_calls.draws``' fields)."""
    return {"params": [{}] * 3, "partial": [False] * 3,
            "dt": draw(st.sampled_from([1, 60, 600])),
            "moves": draw(st.lists(st.sampled_from([1.0, 0.98, 1.03]), min_size=3, max_size=3)),
            "ages": [0] * 3, "marks": [], "used": [0.0] * 3, "breaker": False, "paused": None,
            "calls": []}  # fmt: skip


def _planned(ctx: _Accounts, v: VenueState, spec: tuple) -> planned.Planned:
    """A drawn call as the engine's planning builds it; a close mostly of an open position."""
    method, a, m, size, bound = spec
    calls = planned.PlannedCalls()
    if method == "liquidate":
        return calls.liquidate(ctx.addresses[0], ctx.addresses[a])
    if method == "closePosition":
        opened = np.flatnonzero(v.size[:, m - 1])
        if len(opened) and a % 4:
            a = int(opened[a % len(opened)])
        return calls.close_position(ctx.addresses[a], m, bound)
    return calls.trade(ctx.addresses[a], m, size, bound)


def _result_bits(r: planned.Result):
    events_ = [(e.name, e.address, _bits(e.args)) for e in r.events]
    return r.ok, None if r.error is None else str(r.error), events_, _bits(r.liquidation)


def _one_by_one(ctx, venue, calls) -> list[planned.Result]:
    return [planned.execute(ctx, venue, c) for c in calls]


def _check_block(base_venue, draw, block, seen: Counter | None = None) -> tuple[list, list]:
    v, one = _setup(base_venue, draw), _setup(base_venue, draw)
    for call in draw["calls"]:
        _call(v, call)
        _call(one, call)
    ctx = _Accounts(v)
    calls = [_planned(ctx, v, spec) for spec in block]
    want = _one_by_one(ctx, one, calls)
    alone: list[int] = []  # the calls the batch made alone (through execute)
    real = planned.execute

    def execute(ctx_, venue, call):
        alone.append(next(i for i, c in enumerate(calls) if c is call))
        return real(ctx_, venue, call)

    planned.execute = execute
    try:
        done = planned.execute_many(ctx, v, calls)
    finally:
        planned.execute = real
    got = done.results()
    assert [_result_bits(g) for g in got] == [_result_bits(w) for w in want]
    assert _state(v) == _state(one)
    modified = done.modified
    for call, result, fields in zip(calls, want, modified, strict=True):
        if result.ok and call.method in ("trade", "closePosition"):
            a = result.events[-1].args
            expect = (a["account"], a["market"], a["sizeDelta"], a["fill"], a["newSize"],
                      a["entryPrice"], a["realizedPnl"], a["fee"], a["funding"])  # fmt: skip
            assert _bits(fields) == _bits(expect)
        else:
            assert fields is None
    if seen is not None:
        for call, result in zip(calls, want, strict=True):
            seen[call.method, "ok" if result.ok else str(result.error).split("(")[0]] += 1
        seen["batched"] += len(calls) - len(alone)
        # a call made alone between calls the kernel made: the batch stopped and resumed
        seen["resumed"] += any(0 < i < len(calls) - 1 and i + 1 not in alone for i in alone)
    return [(c.method, r.ok, None if r.ok else str(r.error).split("(")[0]) for c, r in
            zip(calls, want, strict=True)], alone  # fmt: skip


def test_a_block_batched_equals_its_calls_one_by_one(base):  # noqa: F811
    """Drawn states and blocks: every call's result (its ``PositionModified`` to the bit, or
    its revert's text) and the venue's whole state after the block (every array, the pool,
    the fund, the ``_open`` order, the funding views) are the one-by-one calls'; under the
    suite's fixed examples the blocks reach reverts of each kind mid-batch, closes of flat
    positions, zero trades and the keepers' calls among the trades."""
    seen: Counter = Counter()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=st.one_of(draws(), calm_states()), block=_block())
    def run(draw, block):
        _check_block(base, draw, block, seen)

    run()
    if not settings.default.derandomize:
        return
    assert seen["batched"] > 500 and seen["resumed"] > 50, seen
    reached = {name for key, count in seen.items() if count and isinstance(key, tuple)
               for name in key[1:]}  # fmt: skip
    want = {"ok", "NoPosition", "ZeroAmount", "PriceLimitExceeded", "InsufficientMargin",
            "StalePrice", "RiskPaused", "OpenInterestCapExceeded", "NotLiquidatable",
            "WrongMarginMode", "InvalidFillPrice", "CircuitBreakerTripped"}  # fmt: skip
    assert want <= reached, (want - reached, seen)


def test_an_empty_block_and_a_one_call_block(base):  # noqa: F811
    """No call: nothing changes; one call (a trade that fills, then one that reverts): as
    made alone."""
    draw = {"params": [{}] * 3, "partial": [False] * 3, "dt": 60, "moves": [1.0] * 3,
            "ages": [0] * 3, "marks": [], "used": [0.0] * 3, "breaker": False, "paused": None,
            "calls": []}  # fmt: skip
    v = _setup(base, draw)
    before = _state(v)
    done = planned.execute_many(_Accounts(v), v, [])
    assert done.results() == [] and done.modified == [] and _state(v) == before
    _check_block(base, draw, [("trade", 3, 1, WAD // 10, 0)])
    _check_block(base, draw, [("trade", 3, 1, 0, 0)])


def test_a_block_with_reverts_mid_batch(base):  # noqa: F811
    """A block whose calls revert between filled ones (a zero size, a close of a flat
    position, a buy above its bound, a keeper's call): the batch makes those alone and
    resumes after each; results and state as one by one."""
    draw = {"params": [{}] * 3, "partial": [False] * 3, "dt": 60, "moves": [1.0] * 3,
            "ages": [0] * 3, "marks": [], "used": [0.0] * 3, "breaker": False, "paused": None,
            "calls": []}  # fmt: skip
    flat = next(a for a in range(0, 40, 4) if base.size[a, 2] == 0)  # _planned keeps a % 4 == 0
    # accounts with cross margin only and a few thousand USD of collateral
    a, b, c, d = [k for k in range(40) if not base.isolated[k].any()
                  and base.collateral[k] > 2000 * WAD][:4]  # fmt: skip
    block = [
        ("trade", a, 1, WAD // 1000, 0),
        ("trade", b, 2, 0, 0),  # ZeroAmount
        ("trade", b, 2, WAD // 10, 0),
        ("closePosition", flat, 3, 0, 0),  # NoPosition
        ("trade", c, 3, 2 * WAD, 0),
        ("trade", d, 3, WAD, 1),  # a buy above 1 wei: PriceLimitExceeded
        ("liquidate", c, 0, 0, 0),
        ("trade", c, 3, -WAD, 0),
    ]
    got, alone = _check_block(base, draw, block)
    assert got == [("trade", True, None), ("trade", False, "ZeroAmount"),
                   ("trade", True, None), ("closePosition", False, "NoPosition"),
                   ("trade", True, None), ("trade", False, "PriceLimitExceeded"),
                   ("liquidate", False, "NotLiquidatable"), ("trade", True, None)]  # fmt: skip
    assert alone == [1, 3, 5, 6]  # the filled ones in the batch, resumed after each stop


def test_a_batch_that_skips_a_calls_bookkeeping_is_caught(base, monkeypatch):  # noqa: F811
    """The comparison above fails on a batch that leaves the pool as it was (a call's
    realized profit and funding not moved through it)."""
    real = VenueState.trade_batch

    def forgetful(self, start, calls, values, outs):
        pool = self.pool
        got = real(self, start, calls, values, outs)
        self.pool = pool
        return got

    monkeypatch.setattr(VenueState, "trade_batch", forgetful)
    draw = {"params": [{}] * 3, "partial": [False] * 3, "dt": 600, "moves": [1.05] * 3,
            "ages": [0] * 3, "marks": [], "used": [0.0] * 3, "breaker": False, "paused": None,
            "calls": []}  # fmt: skip
    v = _setup(base, draw)
    opened = [(int(a), int(m)) for a, m in zip(*np.nonzero(v.size), strict=True)]
    block = [("closePosition", a, m + 1, 0, 0) for a, m in opened[:5]]
    with pytest.raises(AssertionError):
        _check_block(base, draw, block)


# -- the readers of the arrays against the readers of the mined results ----------------------


class _MinedFlow:
    """The mirror's flow phase as before the batch: each call made alone, the results
    decoded by the chain engine's own decoders."""

    def __init__(self, actions, results):
        self.actions, self.results = actions, results

    @property
    def count(self):
        return len(self.actions)

    @property
    def rows(self):
        return [a.who for a in self.actions]

    def decoder(self, ctx, s, t):
        def decode():
            if self.actions:
                events.decode_block(ctx, s, self.results, self.actions, t)

        return decode


def _mined_execute(ctx, venue, actions, run=None):
    return _MinedFlow(actions, [planned.execute(ctx, venue, a.call) for a in actions])


def _mined_record(ctx, s, block, t, run):
    return engine_flow.record_flow(ctx, s, block.results, block.actions, t, run)


SHORT_OCT = ["price_path.shocks[0].step=60", "price_path.shocks[1].step=60"]
"""oct-2025's shocks at step 60 (of 160): the crash and its liquidations in a short run."""


def _run(steps: int, array_calls: bool = True) -> tuple[list, MirrorEngine]:
    engine = MirrorEngine(bench_scenario("oct-2025", SHORT_OCT, None, steps), mode="fast")
    engine.flow.array_calls = array_calls  # False: the flow's calls as Actions (the mined path)
    rows: list = []
    engine.run(on_step=lambda o: rows.append(repr((o.rows, o.events))))  # -0.0, NaN apart
    return rows, engine


def test_the_flow_rows_from_the_arrays_are_the_rows_from_the_mined_results(monkeypatch):
    """A short oct-2025 run (its order flow opens and closes every step, some refused): the
    events and steps rows and the traders' and slots' state equal those of the same run with
    the flow's calls made one at a time and decoded from their results
    (:func:`~simulator.engine.events.decode_block`, :func:`~simulator.engine.flow.record_flow`)."""
    got, engine = _run(160)
    monkeypatch.setattr(mirror_flow, "execute", _mined_execute)
    monkeypatch.setattr(mirror_flow, "record", _mined_record)
    want, reference = _run(160, array_calls=False)
    kinds = Counter(k for step in want for k in ("'open'", "'close'", "'open_reverted'")
                    if k in step)  # fmt: skip
    assert kinds["'open'"] > 0 and kinds["'close'"] > 0, kinds
    assert got == want
    s, r = engine.state, reference.state
    for name in ("size_base", "entry_price_usd"):
        assert getattr(s.trader, name).tobytes() == getattr(r.trader, name).tobytes()
    for name in ("opens", "opened_step", "outcome", "outcome_step", "flow_open_size_base",
                 "flow_open_entry_usd", "realized_pnl_usd"):  # fmt: skip
        assert getattr(s, name).tobytes() == getattr(r, name).tobytes(), name
