"""The market-making vault's compiled step (:mod:`simulator.engine.mm_vault_jit`,
:func:`simulator.engine.mm_vault.plan_step`) held to the Python and numpy code it replaced
(``tests/engine/mm_vault_reference.py``) bit for bit: numpy's pairwise sum, the open interest
after the closes and the flow, and the whole phase's calls, keeper clock and planned sizes on
drawn vault states over oct-2025's venue (quotes, unwinds, liquidations, takeovers, a refused
takeover, quotes while the keepers' reaction delay runs, quoting off, no order flow)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import mm_vault_reference as ref
import numpy as np
import pytest

from simulator.engine import mm_vault as engine_vault
from simulator.engine import mm_vault_jit as jit
from simulator.mirror.sim import MirrorEngine
from simulator.scenario import load_scenario


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 15, 16, 127, 128, 129, 300, 1000, 8192, 8193,
                               20_000])  # fmt: skip
def test_pairwise_sum_equals_numpys_sum_bit_for_bit(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = rng.normal(0, 1, n) * 10.0 ** rng.integers(-8, 9, n)
        if n and rng.random() < 0.2:
            a[rng.integers(n)] = -0.0
        assert np.float64(jit.pairwise_sum(a, 0, n)).tobytes() == np.float64(a.sum()).tobytes()
    if n:
        a[rng.integers(n)] = np.nan
        assert np.isnan(jit.pairwise_sum(a, 0, n))


@pytest.fixture(scope="module")
def venue():
    """oct-2025's mirror context (five markets, the vault quoting) and its book."""
    engine = MirrorEngine(load_scenario("oct-2025"), mode="fast")
    return engine.ctx


def _drawn(ctx, rng: np.random.Generator):
    """A vault state, the last levels, this step's prices, closes and flow: sizes on both
    sides (some zero, some over the limit), prices that move (the shock's falls), equity from
    deep under maintenance to ample, an earlier keeper clock or none."""
    m, rows = ctx.n_markets, len(ctx.world.book.market)
    before = np.array([110_000.0, 4_000.0, 180.0, 0.25, 1.0]) * rng.uniform(0.5, 1.5, m)
    now = before * np.where(rng.random(m) < 0.3, rng.uniform(0.2, 1.3, m), 1.0)
    size = np.where(rng.random(m) < 0.25, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.uniform(4, 7, m))
    size = size / before
    notional = float(np.sum(np.abs(size) * before))
    maintenance = notional * float(rng.choice([0.0, 0.01, 0.05]))
    equity = maintenance * float(rng.choice([-1.0, 0.5, 0.99, 1.5, 10.0])) + float(
        rng.choice([0.0, 1e3, 3e6])
    )
    oi_long = rng.uniform(0, 5e7, m) / before
    oi_short = rng.uniform(0, 5e7, m) / before
    last = {
        "mm_vault_size_base": size,
        "index_usd": before,
        "mm_vault_equity_usd": equity,
        "mm_vault_maintenance_usd": maintenance,
        "mm_vault_initial_usd": maintenance * float(rng.choice([1.0, 2.0, 5.0])),
        "oi_long_base": oi_long,
        "oi_short_base": oi_short,
        "ledgers": object(),
        "amm_reserve_usd": np.ones(m),
        "amm_reserve_base": np.ones(m),
        "vault_size_wad": np.zeros(m, dtype=object),
    }
    trader = SimpleNamespace(
        size_base=np.abs(rng.normal(0, 1, rows)) * 1e5 / before[ctx.world.book.market],
        side=rng.choice(np.array([-1, 1], dtype=np.int8), rows),
    )
    since = int(rng.choice([-1, -1, 3, 40]))
    s = SimpleNamespace(
        trader=trader,
        oracle_price_usd=now,
        mm_vault_liquidatable_since=since,
        mm_vault_takeover_refused=bool(rng.random() < 0.2),
        mm_vault_planned_base=np.zeros(0),
    )
    closes = np.sort(rng.choice(rows, int(rng.integers(0, 40)), replace=False)).astype(np.int64)
    flow = None
    if rng.random() < 0.7:
        flow = SimpleNamespace(
            planned_long_base=rng.uniform(-1e5, 1e6, m) / before,
            planned_short_base=rng.uniform(-1e5, 1e6, m) / before,
        )
    return s, last, closes, flow


def _copy(s):
    return SimpleNamespace(**{k: v.copy() if isinstance(v, np.ndarray) else v
                              for k, v in vars(s).items()})  # fmt: skip


def _contexts(ctx):
    """oct-2025's context, with a backstop vault (per-market takeover thresholds), with the
    vault not quoting, and with keepers that wait 30 steps (the vault quotes meanwhile)."""
    m = ctx.n_markets
    backstop = dataclasses.replace(ctx, backstop_fraction=np.linspace(0.3, 0.7, m))
    spec = ctx.scenario.mm_vault.model_copy(update={"quoting": False})
    silent = dataclasses.replace(ctx, scenario=ctx.scenario.model_copy(update={"mm_vault": spec}))
    keepers = ctx.scenario.keepers.model_copy(update={"reaction_delay_steps": 30})
    slow = dataclasses.replace(ctx, scenario=ctx.scenario.model_copy(update={"keepers": keepers}))
    return [ctx, backstop, silent, slow]


def test_the_compiled_phase_plans_what_the_python_phase_planned(venue):
    rng = np.random.default_rng(2026_12_05)
    kinds: dict[str, int] = {}
    contexts = _contexts(venue)
    waited = 0
    for i in range(2_000):
        ctx = contexts[i % len(contexts)]
        s, last, closes, flow = _drawn(ctx, rng)
        t = int(rng.integers(40, 1_440))
        got_s, ref_s = _copy(s), _copy(s)
        actions, out = engine_vault.plan_step(ctx, got_s, t, last, closes, flow)
        expected = ref.plan_mm_vault(ctx, ref_s, t, last, closes, flow)
        assert actions == expected, i
        assert got_s.mm_vault_liquidatable_since == ref_s.mm_vault_liquidatable_since
        assert got_s.mm_vault_planned_base.tobytes() == ref_s.mm_vault_planned_base.tobytes()
        skew = ref.skew_inputs(ctx, s, last, closes, flow)
        got = engine_vault.skew_inputs_of(last, out)
        assert got.keys() == skew.keys()
        for key in ("oi_long_base", "oi_short_base"):
            assert got[key].tobytes() == skew[key].tobytes(), key
        for a in actions:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        liquidatable = got_s.mm_vault_liquidatable_since >= 0
        waited += liquidatable and any(a.kind == "mm_vault_trade" for a in actions)
    # the draws reach every kind of call
    assert set(kinds) == {"mm_vault_trade", "mm_vault_unwind", "mm_vault_liquidate",
                          "mm_vault_backstop"}, kinds  # fmt: skip
    assert min(kinds.values()) >= 20, kinds
    assert waited >= 20  # liquidatable, the keepers not yet acting: the vault quotes


def test_the_vaults_health_estimate_is_the_kernels(venue):
    rng = np.random.default_rng(3)
    for _ in range(200):
        s, last, _, _ = _drawn(venue, rng)
        got = engine_vault.estimated_health(s, last)
        assert np.array(got).tobytes() == np.array(ref.estimated_health_numpy(s, last)).tobytes()


@pytest.mark.parametrize("m", [0, 1, 5, 9])
def test_a_quiet_blocks_inputs_with_the_vaults_trades_equal_the_numpy_form(m):
    rng = np.random.default_rng(m)
    for _ in range(300):
        size = np.where(
            rng.random(m) < 0.3, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.uniform(-2, 4, m)
        )
        planned = np.where(
            rng.random(m) < 0.4, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.uniform(-2, 4, m)
        )
        if m and rng.random() < 0.1:
            planned[rng.integers(m)] = np.nan
        if m and rng.random() < 0.1:
            planned[:] = -0.0  # no trade: the inputs as they are
        inputs = {"ledgers": object(), "oi_long_base": rng.uniform(0, 1e4, m),
                  "oi_short_base": rng.uniform(0, 1e4, m)}  # fmt: skip
        s = SimpleNamespace(mm_vault_planned_base=planned)
        last = {"mm_vault_size_base": size}
        got = engine_vault.after_vault_trades(s, inputs, last)
        expected = ref.after_vault_trades(s, inputs, last)
        if expected is inputs:
            assert got is inputs
            continue
        assert got.keys() == expected.keys() and got["ledgers"] is inputs["ledgers"]
        for key in ("oi_long_base", "oi_short_base"):
            assert got[key].tobytes() == expected[key].tobytes(), key
