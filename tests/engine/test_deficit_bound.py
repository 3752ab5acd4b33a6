"""When the keepers' calls may leave a deficit (:func:`keepers.may_leave_deficit`): the one case
in which the spot phase reads the pending block after them, so that ADL covers the deficit in
the same block.

The bound is worked out by hand below for one long in a one-market venue: fill of a long's
liquidation ``price × (1 + (2·skew − d) / (2·scale))``, clamped to the liquidation band."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.chain import open_chain
from simulator.engine import Engine, keepers
from simulator.engine import loop as engine_loop
from simulator.engine.context import Action
from simulator.engine.margin import MarginUnits
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import load_scenario
from simulator.world import build_world


def _case(skew_scale=1_000.0, band_bps=500, governance=None, side=1, size=10.0):
    book = SimpleNamespace(
        account=np.array([0]), isolated=np.array([False]), market=np.array([0]), n_accounts=1
    )
    params = SimpleNamespace(skew_scale=skew_scale, max_liquidation_impact_bps=band_bps)
    ctx = SimpleNamespace(
        units=MarginUnits.of_book(book),
        world=SimpleNamespace(
            book=book, params=SimpleNamespace(markets=[SimpleNamespace(params=params)])
        ),
        scenario=SimpleNamespace(controls=SimpleNamespace(governance_change=governance)),
        n_markets=1,
    )
    s = SimpleNamespace(
        trader=SimpleNamespace(size_base=np.array([size]), side=np.array([side])),
        oracle_price_usd=np.array([100.0]),
    )
    return ctx, s, [Action(call=None, kind="liquidate", unit=0)]


def _may(eq, skew0, mm=10.0, **kw):
    ctx, s, actions = _case(**kw)
    return keepers.may_leave_deficit(
        ctx, s, actions, np.array([eq]), np.array([mm]), np.array([max(skew0, 0.0)]),
        np.array([max(-skew0, 0.0)]),
    )  # fmt: skip


def test_a_long_in_a_long_skewed_market_fills_above_the_price_and_leaves_no_deficit():
    # 10 base units at 100 USD = 1,000 USD notional, equity 5 USD. Skew +20 base: while the
    # keepers close this long the skew stays >= 10, the fill is at least the price: no deficit.
    assert not _may(5.0, skew0=20.0)


def test_a_flat_market_s_fill_can_take_the_last_equity():
    # Skew 0: the worst fill is (3·10 − 0) / (2·1,000) = 1.5% under the price, 15 USD on
    # 1,000 USD: equity 5 USD may go. With equity 20 USD it cannot (20 > 15 + 0.5% of 10).
    assert _may(5.0, skew0=0.0)
    assert not _may(20.0, skew0=0.0)


def test_the_liquidation_band_caps_the_adverse_fill():
    # A thin market (scale 10: 150% by the formula) clamps at the 1% band: 10 USD bound.
    assert _may(9.0, skew0=0.0, skew_scale=10.0, band_bps=100)
    assert not _may(11.0, skew0=0.0, skew_scale=10.0, band_bps=100)


def test_a_unit_under_water_always_may_and_a_short_mirrors_a_long():
    assert _may(-1.0, skew0=50.0)
    # A short in a short-skewed market (skew −20) fills under the price when bought back.
    ctx, s, actions = _case(side=-1)
    eq, mm = np.array([5.0]), np.array([10.0])
    assert not keepers.may_leave_deficit(ctx, s, actions, eq, mm, np.array([0.0]), np.array([20.0]))
    assert keepers.may_leave_deficit(ctx, s, actions, eq, mm, np.array([20.0]), np.array([0.0]))


def test_no_keeper_call_or_a_governed_fill_parameter():
    ctx, s, _ = _case()
    assert not keepers.may_leave_deficit(
        ctx, s, [], np.array([-5.0]), np.array([10.0]), np.zeros(1), np.zeros(1)
    )
    change = SimpleNamespace(parameter="skew_scale")
    assert _may(1e9, skew0=100.0, governance=change)


def test_every_deficit_of_a_run_comes_in_a_block_the_bound_flagged():
    """End to end on oct-2025 (its 1,440 steps, on revm): every step whose liquidations left a
    deficit (paid by the fund or bad debt) is one where the bound said they may."""
    scenario = load_scenario("oct-2025")
    flagged: dict[int, bool] = {}
    original = keepers.may_leave_deficit

    def recording(ctx, s, actions, *args):
        answer = original(ctx, s, actions, *args)
        flagged[s.step] = flagged.get(s.step, False) or answer
        return answer

    events = []
    engine_loop.keepers.may_leave_deficit = recording
    try:
        with open_chain(anvil=run_node_config(), backend="revm") as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            engine = Engine(chain, build_world(chain, scenario))
            engine.run(on_step=lambda o: events.extend(o.events))
    finally:
        engine_loop.keepers.may_leave_deficit = original
    # A deficit is attributed to a market as an insurance payout, bad debt, or both.
    deficit_steps = {e["step"] for e in events if e["kind"] in ("bad_debt", "insurance_payout")}
    assert deficit_steps, "the scenario must leave some bad debt for this test to mean anything"
    assert deficit_steps <= {t for t, f in flagged.items() if f}
    assert sum(flagged.values()) < len([t for t in flagged]), "the bound flags every block"
