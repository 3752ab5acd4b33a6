"""The market-making vault's step on the mirror's fast mode in one compiled call
(:func:`simulator.engine.mm_vault_jit.vault_block`, run by :func:`simulator.mirror.sim.
mm_vault.execute`) held to the form it replaced, kept here: the compiled step of
:func:`simulator.engine.mm_vault.plan_quotes`, its trades as :func:`~simulator.engine.
mm_vault.quote_lists` makes them (Python's ints, ``float`` of each WAD, ``from_wad`` of the
sizes), the batch's rows as ``_VaultTab.calls[markets]`` and a quiet block's open interest as
the mirror's ``quiet_spot_inputs`` computed it (the skew when no trade, else ``after_trades``):
bit for bit on drawn vault states (trades with digits past 2**53, powers of two left to
Python, unwinds, liquidations, quoting off), and step by step over oct-2025. With them the
kernel's float of a WAD (:func:`~simulator.engine.mm_vault_jit.scaled_float`) against
Python's ``float`` of the integer, ties included, and the vault's compiled reads
(:func:`~simulator.engine.mm_vault_jit.vault_reads`) against ``floats`` and ``float(x) /
WAD``."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine import mm_vault as engine_vault
from simulator.engine import mm_vault_jit as jit
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import mm_vault as mirror_vault
from simulator.mirror.sim.levels import floats
from simulator.scenario import load_scenario
from simulator.units import WAD

# -- the old form ------------------------------------------------------------------------------


def _old_form(ctx, s, t, last, closes, flow):
    """Today's (session 28's) vault step on the mirror's fast mode up to the venue: the
    compiled step and the lists (``plan_quotes``), the batch's calls and values as
    ``_execute_quotes`` made them, a quiet block's open interest as ``quiet_spot_inputs``
    made it. Writes ``s`` as it did."""
    run = engine_vault.run_quotes(ctx)
    actions, quotes, out = engine_vault.plan_quotes(ctx, s, t, last, closes, flow)
    got = {"actions": actions, "quotes": quotes, "out": out.copy()}
    skew = engine_vault.skew_inputs_of(last, out)
    planned = s.mm_vault_planned_base
    if planned is run.no_trades:
        got["quiet"] = np.array([skew["oi_long_base"], skew["oi_short_base"]])
    else:
        quiet = np.empty((2, planned.shape[0]))
        jit.after_trades(last["mm_vault_size_base"], planned, skew["oi_long_base"],
                         skew["oi_short_base"], quiet)  # fmt: skip
        got["quiet"] = quiet
    if quotes is not None and quotes.markets:
        got["values"] = np.array(quotes.values)
        got["calls"] = _template(ctx)[quotes.markets]
    return got


def _template(ctx) -> np.ndarray:
    a = ctx.index(ctx.world.mm_vault)
    n = ctx.n_markets
    calls = np.empty((n, 3), dtype=np.int64)
    calls[:, 0], calls[:, 1], calls[:, 2] = a, np.arange(n), 0  # account, market, K_TRADE
    return calls


# -- drawn states --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror():
    """oct-2025's fast mirror (five markets, the vault quoting)."""
    return MirrorEngine(load_scenario("oct-2025"), mode="fast")


def _drawn(ctx, rng: np.random.Generator):
    """A vault state, the last levels, this step's prices, closes and flow: sizes on both sides
    (some zero, some over the limit), prices that move, some exactly 1.0, 0.5 or 2.0 (a trade
    the step size bounds is then a power of two, left to Python), equity from deep under
    maintenance to ample, an earlier keeper clock or none."""
    m, rows = ctx.n_markets, len(ctx.world.book.market)
    before = np.array([110_000.0, 4_000.0, 180.0, 0.25, 1.0]) * rng.uniform(0.5, 1.5, m)
    now = before * np.where(rng.random(m) < 0.3, rng.uniform(0.2, 1.3, m), 1.0)
    if rng.random() < 0.2:
        now[-1] = float(rng.choice([0.5, 1.0, 2.0]))
    size = np.where(rng.random(m) < 0.25, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.uniform(4, 7, m))
    size = size / before
    notional = float(np.sum(np.abs(size) * before))
    maintenance = notional * float(rng.choice([0.0, 0.01, 0.05]))
    equity = maintenance * float(rng.choice([-1.0, 0.5, 0.99, 1.5, 10.0])) + float(
        rng.choice([0.0, 1e3, 3e6, 1e8])
    )
    last = {
        "mm_vault_size_base": size,
        "index_usd": before,
        "mm_vault_equity_usd": equity,
        "mm_vault_maintenance_usd": maintenance,
        "mm_vault_initial_usd": maintenance * float(rng.choice([1.0, 2.0, 5.0])),
        "oi_long_base": rng.uniform(0, 5e7, m) / before,
        "oi_short_base": rng.uniform(0, 5e7, m) / before,
        "ledgers": object(),
        "amm_reserve_usd": np.ones(m),
        "amm_reserve_base": np.ones(m),
        "vault_size_wad": np.zeros(m, dtype=object),
    }
    trader = SimpleNamespace(
        size_base=np.abs(rng.normal(0, 1, rows)) * 1e5 / before[ctx.world.book.market],
        side=rng.choice(np.array([-1, 1], dtype=np.int8), rows),
    )
    s = SimpleNamespace(
        trader=trader, oracle_price_usd=now,
        mm_vault_liquidatable_since=int(rng.choice([-1, -1, 3, 40])),
        mm_vault_takeover_refused=bool(rng.random() < 0.2), mm_vault_planned_base=np.zeros(0),
    )  # fmt: skip
    closes = np.sort(rng.choice(rows, int(rng.integers(0, 40)), replace=False)).astype(np.int64)
    flow = None
    if rng.random() < 0.7:
        flow = SimpleNamespace(
            planned_long_base=rng.uniform(-1e5, 1e6, m) / before,
            planned_short_base=rng.uniform(-1e5, 1e6, m) / before,
        )
    return s, last, closes, flow


def _contexts(ctx):
    """oct-2025's context; with the vault not quoting; with trades of at most 2**16 USD (a
    power of two: at a price of 1.0, 0.5 or 2.0 the step's bound is one); with slow keepers."""
    spec = ctx.scenario.mm_vault
    silent = ctx.scenario.model_copy(
        update={"mm_vault": spec.model_copy(update={"quoting": False})}
    )
    pow2 = ctx.scenario.model_copy(
        update={"mm_vault": spec.model_copy(update={"max_trade_usd": 65536.0})}
    )
    keepers = ctx.scenario.keepers.model_copy(update={"reaction_delay_steps": 30})
    slow = ctx.scenario.model_copy(update={"keepers": keepers})
    return [ctx] + [
        dataclasses.replace(ctx, scenario=sc, memo={}) for sc in (silent, pow2, pow2, slow)
    ]


def _fast_form(ctx, s, t, last, closes, flow):
    """:func:`execute`'s compiled call, into fresh buffers as its tab holds them (every
    array but the run's parameters and the template filled with NaN or -99 first: nothing
    read before it is written)."""
    run = engine_vault.run_quotes(ctx)
    n_markets = ctx.n_markets
    has_flow = flow is not None
    floats, ints = jit.block_buffers(run.consts, run.scalars, _template(ctx))
    views = jit.block_views(floats, ints, n_markets)
    for a in (views.health, views.work, views.values, floats[-jit.N_SCRATCH * n_markets :]):
        a[...] = np.nan
    for a in (views.ints, views.calls, ints[12 * n_markets :]):
        a[...] = -99
    none = np.zeros(0)
    since, n = jit.vault_block(
        t, s.mm_vault_liquidatable_since, last["mm_vault_equity_usd"],
        last["mm_vault_maintenance_usd"], last["mm_vault_initial_usd"],
        last["mm_vault_size_base"], last["index_usd"], s.oracle_price_usd,
        last["oi_long_base"], last["oi_short_base"], closes, ctx.world.book.market,
        s.trader.size_base, s.trader.side, has_flow,
        flow.planned_long_base if has_flow else none,
        flow.planned_short_base if has_flow else none, run.quoting, floats, ints,
    )  # fmt: skip
    return since, n, views.work, views.ints, views.calls, views.values


def test_the_vaults_block_equals_its_old_form_on_drawn_states(mirror):
    rng = np.random.default_rng(2026_12_05_29)
    contexts = _contexts(mirror.ctx)
    seen = {"fast": 0, "trades": 0, "big_digits": 0, "unwinds": 0, "in_python": 0, "none": 0,
            "keepers": 0}  # fmt: skip
    for i in range(1_500):
        ctx = contexts[i % len(contexts)]
        s, last, closes, flow = _drawn(ctx, rng)
        t = int(rng.integers(40, 1_440))
        old_s, new_s = SimpleNamespace(**vars(s)), s
        expected = _old_form(ctx, old_s, t, last, closes, flow)
        since, n, work, ints, batch, values = _fast_form(ctx, new_s, t, last, closes, flow)
        assert since == old_s.mm_vault_liquidatable_since, i
        assert work[:4].tobytes() == expected["out"].tobytes(), i
        quotes = expected["quotes"]
        if expected["actions"]:  # the keepers' call: made in Python, from the same step
            seen["keepers"] += 1
            continue
        if n == jit.LISTS_IN_PYTHON:  # only where a WAD is Python's
            seen["in_python"] += 1
            assert jit.IN_PYTHON in ints[1].tolist() or jit.IN_PYTHON in ints[3].tolist(), i
            run = engine_vault.run_quotes(ctx)
            assert engine_vault.quote_lists(new_s, work[:4], run, ints[:4]) == quotes, i
            continue
        seen["fast"] += 1
        if quotes is None or not quotes.markets:
            seen["none"] += 1
            assert n == 0, i
            assert not work[jit.PLANNED].any(), i
        else:
            seen["trades"] += n
            assert n == len(quotes.markets), i
            assert ints[jit.K_MARKET, :n].tolist() == quotes.markets, i
            assert [u != 0 for u in ints[jit.K_UNWIND, :n].tolist()] == quotes.unwinds, i
            assert values[:n].tobytes() == expected["values"].tobytes(), i
            assert batch[:n].tobytes() == expected["calls"].tobytes(), i
            assert work[jit.PLANNED].tobytes() == old_s.mm_vault_planned_base.tobytes(), i
            block = mirror_vault.FastBlock(SimpleNamespace(ints=ints, values=values), n)
            assert block.quotes == quotes, i  # the lists read back, Python's ints
            seen["unwinds"] += sum(quotes.unwinds)
            seen["big_digits"] += sum(abs(d) >= 2**53 for d in ints[2, :n].tolist())
        assert work[jit.Q_LONG : jit.Q_SHORT + 1].tobytes() == expected["quiet"].tobytes(), i
    assert seen["fast"] > 1_000 and seen["trades"] > 2_000, seen
    assert seen["big_digits"] > 500 and seen["unwinds"] > 50, seen
    assert seen["in_python"] >= 5 and seen["none"] >= 100 and seen["keepers"] >= 20, seen


def test_the_vaults_block_equals_its_old_form_step_by_step_over_oct_2025(monkeypatch):
    """Each step's compiled call against the old form on the same state, before the venue
    runs the trades; the run itself is the reference run's (the run folders are compared by
    ``tests/mirror/test_mirror_vault_arrays.py``)."""
    fast = mirror_vault.execute
    seen = {"steps": 0, "trades": 0, "fast": 0}

    def checked(ctx, s, venue, t, last, closes, run, row_of, decoded):
        since, planned = s.mm_vault_liquidatable_since, s.mm_vault_planned_base
        expected = _old_form(ctx, s, t, last, closes, run)
        old_since, old_planned = s.mm_vault_liquidatable_since, s.mm_vault_planned_base
        s.mm_vault_liquidatable_since, s.mm_vault_planned_base = since, planned
        block = fast(ctx, s, venue, t, last, closes, run, row_of, decoded)
        tab = ctx.memo["mm_vault_tab"]
        assert s.mm_vault_liquidatable_since == old_since, t
        assert s.mm_vault_planned_base.tobytes() == old_planned.tobytes(), t
        assert tab.work[:4].tobytes() == expected["out"].tobytes(), t
        assert tab.work[jit.Q_LONG : jit.Q_SHORT + 1].tobytes() == expected["quiet"].tobytes()
        if isinstance(block, mirror_vault.FastBlock):
            seen["fast"] += 1
            n = block.count
            assert block.quotes == (expected["quotes"] or engine_vault.Quotes([], [], [], [], []))
            if n:
                assert tab.values[:n].tobytes() == expected["values"].tobytes(), t
                assert tab.batch[:n].tobytes() == expected["calls"].tobytes(), t
            seen["trades"] += n
        seen["steps"] += 1
        return block

    monkeypatch.setattr(mirror_vault, "execute", checked)
    scenario = load_scenario("oct-2025")
    MirrorEngine(scenario, mode="fast").run()
    assert seen["steps"] == scenario.steps + 1
    assert seen["fast"] > scenario.steps * 0.9 and seen["trades"] > 2_000, seen


def _ties(rng: np.random.Generator) -> list[int]:
    """Digits whose product by 5**k ends halfway between two floats, or next to it."""
    out = []
    for j in range(10):
        for base in (2**53 + 1, 2**53 + 3, 2**54 + 1, 2**54 + 3, 2**54 - 1, 2**55 + 3):
            c = base << j
            if c < 2**63:
                out += [c, c + 1, c - 1, -c]
    out += rng.integers(2**53, 2**63 - 1, 2_000).tolist()
    return out


def test_the_kernels_float_of_a_wad_is_pythons_float_of_the_integer():
    rng = np.random.default_rng(29)
    digits = rng.integers(-(2**62), 2**62, 20_000) >> rng.integers(0, 62, 20_000)
    cases = [(int(c), int(k)) for c, k in zip(digits, rng.integers(0, 19, 20_000), strict=True)]
    cases += [(c, k) for c in _ties(rng) for k in (0, 1, 5, 17, 18)]
    cases += [(1, 0), (-1, 18), (2**53 - 1, 18), (-(2**53), 0), (2**63 - 1, 18), (0, 3)]
    for c, k in cases:
        got, expected = jit.scaled_float(c, k), float(c * 10**k)
        assert np.float64(got).tobytes() == np.float64(expected).tobytes(), (c, k)


@pytest.mark.parametrize("m", [0, 1, 5])
def test_the_vaults_compiled_reads_are_the_old_conversions(m):
    rng = np.random.default_rng(m)
    for _ in range(200):
        size = rng.normal(0, 1, m) * 10.0 ** rng.uniform(10, 26, m)
        if m:
            size[rng.random(m) < 0.3] = 0.0
        health = (rng.normal(0, 1, 3) * 10.0 ** rng.uniform(10, 30, 3)).reshape(3, 1)
        size_base = np.full(m, np.nan)
        usd = jit.vault_reads(size, health, size_base)
        assert size_base.tobytes() == floats(size).tobytes()
        expected = tuple(float(health[k][0]) / WAD for k in range(3))
        assert type(usd) is tuple and all(type(x) is float for x in usd)
        assert np.array(usd).tobytes() == np.array(expected).tobytes()
