"""Fast mode's block end in place (:mod:`simulator.mirror.sim.block_levels`) and the spot phase on
its run buffers (:func:`simulator.mirror.sim.spot.run_phase`) held bit for bit to the forms they
replaced, kept here: :func:`old_read` (``levels_of`` of the venue and the spot book, the state's
copies), :func:`old_mined` (the realized PnL by numpy masks, ``step_rows`` on the last levels,
the state's last levels copied) and :func:`old_run_phase` (``plan_swaps`` then the book's swaps).

Step by step on drawn runs (each call checked on copies of the very state it runs on, in a run
folder's mode and on a tuning path's, :class:`~simulator.engine.metrics.StepFigures` of
``rows=False``), and on drawn states: venue arrays of drawn values (both signs of zero, tiny and
huge magnitudes, NaN, infinities), drawn outcomes, PnL and figures' inputs, zero, one and many
traders and markets."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from mirror_run_helpers import feedback_scenarios, parse, small_scenarios

from simulator.engine import metrics
from simulator.engine import spot as engine_spot
from simulator.engine.metrics import FIGURES_MEMO, StepFigures
from simulator.mirror import jit_amm
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine, block_levels, mm_vault
from simulator.mirror.sim import spot as mirror_spot
from simulator.mirror.sim.block_levels import LevelTab, end_block
from simulator.mirror.sim.levels import levels_of

# -- the old forms --------------------------------------------------------------------------


def old_read(venue, book, s) -> dict[str, Any]:
    """The block's levels and the state's copies of them as the loop read them (session 28):
    a fresh dict, the copies made ``.copy()``."""
    levels = levels_of(venue, book.levels())
    if s is not None:
        s.margin_scale = levels["margin_scale"].copy()
        s.amm_price_usd = levels["amm_price_usd"].copy()
    return levels


def old_mined(ctx, s, t, step_seconds, symbols, exo, transactions, events, levels) -> list:
    """The loop's block end after the traders' view (session 28)."""
    s.mm_vault_size_base = levels["mm_vault_size_base"].copy()
    ended = np.flatnonzero(s.outcome_step == t)
    ended = ended[np.isnan(s.realized_pnl_usd[ended])]
    s.realized_pnl_usd[ended] = s.trader.equity_usd[ended] - s.trader.collateral_in_usd[ended]
    rows = metrics.step_rows(
        t, step_seconds, symbols, exo, levels, events, transactions,
        previous_bad_debt_usd=s.last_bad_debt_usd, previous_fees_usd=s.last_fees_usd,
        outside_usd=s.outside_price_usd[t], figures=ctx.memo.get(FIGURES_MEMO),
    )  # fmt: skip
    s.last_bad_debt_usd = levels["bad_debt_usd"].copy()
    s.last_fees_usd = levels["fees_cum_usd"].copy()
    s.last_fund_usd = levels["insurance_fund_usd"]
    return rows


def old_run_phase(ctx, s, book, t, inputs) -> int:
    """The spot phase (session 28): ``plan_swaps``' rows, then the book's swaps."""
    rows = engine_spot.plan_swaps(ctx, s, t, inputs)
    if len(rows):
        book.swap_rows(rows, ctx.world.arbitrageurs, ctx.world.hedger, s)
    return len(rows)


# -- bit for bit ----------------------------------------------------------------------------


def _same(got: Any, want: Any) -> bool:
    """Equal to the bit: arrays of one dtype and shape with the same bytes (object arrays
    element by element), floats with the same bits (NaN equal to NaN), containers item by
    item, anything else ``==`` of the same type."""
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray) or got.dtype != want.dtype or got.shape != want.shape:
            return False
        if want.dtype == object:
            return all(_same(g, w) for g, w in zip(got.tolist(), want.tolist(), strict=True))
        return got.tobytes() == want.tobytes()
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return math.copysign(1.0, got) == math.copysign(1.0, want) and (
            got == want or (math.isnan(got) and math.isnan(want))
        )
    if isinstance(want, dict):
        return list(got) == list(want) and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    return got == want


_STATE = ("margin_scale", "amm_price_usd", "mm_vault_size_base", "last_bad_debt_usd",
          "last_fees_usd", "last_fund_usd", "realized_pnl_usd", "outcome_step", "hedged_base",
          "hedger_inventory", "arb_inventory", "permanent_log_impact", "transient_log_impact",
          "metaorder_sale_usd")  # fmt: skip


def _state_copy(s):
    """A copy of ``s`` whose arrays the checks compare are its own."""
    c = copy.copy(s)
    for name in _STATE:
        setattr(c, name, copy.copy(getattr(s, name)))
    c.trader = copy.copy(s.trader)
    return c


def _check_state(got, want, names=_STATE) -> None:
    for name in names:
        assert _same(getattr(got, name), getattr(want, name)), name


def _figures_copy(figures: StepFigures | None) -> StepFigures | None:
    return None if figures is None else copy.deepcopy(figures)


def _check_figures(got: StepFigures | None, want: StepFigures | None) -> None:
    if want is None:
        assert got is None
        return
    for name in ("table", "flows", "venue", "filled"):
        assert _same(getattr(got, name), getattr(want, name)), name


class _Checked:
    """Wraps the loop's levels read (:meth:`LevelTab.read` with the market-making vault's),
    :meth:`LevelTab.mined` and ``spot.run_phase`` so that each
    call is also made in its old form on copies of its inputs, and the two compared."""

    def __init__(self, monkeypatch):
        self.calls = {"read": 0, "mined": 0, "spot": 0, "swaps": 0, "events": 0}
        real_read, real_mined = MirrorEngine._levels, LevelTab.mined
        real_phase = mirror_spot.run_phase
        checked = self

        def read(engine, s=None):  # with the market-making vault's reads
            want_s = None if s is None else _state_copy(s)
            want = old_read(engine.venue, engine.spot, want_s)
            want = mm_vault.with_levels(engine.ctx, engine.venue, want)
            got = real_read(engine, s)
            assert _same(got, want)
            if s is not None:
                _check_state(s, want_s, ("margin_scale", "amm_price_usd"))
            checked.calls["read"] += 1
            return got

        def mined(tab, ctx, s, t, step_seconds, symbols, exo, transactions, events):
            want_s = _state_copy(s)
            want_s.realized_pnl_usd = s.realized_pnl_usd.copy()
            levels = copy.deepcopy(tab.levels)
            figures = ctx.memo.get(FIGURES_MEMO)
            want_ctx = copy.copy(ctx)
            want_ctx.memo = {**ctx.memo, FIGURES_MEMO: _figures_copy(figures)}
            want = old_mined(want_ctx, want_s, t, step_seconds, symbols, exo, transactions,
                             events, levels)  # fmt: skip
            got = real_mined(tab, ctx, s, t, step_seconds, symbols, exo, transactions, events)
            assert _same(got, want)
            _check_state(s, want_s)
            _check_figures(figures, want_ctx.memo[FIGURES_MEMO])
            checked.calls["mined"] += 1
            checked.calls["events"] += any(e["kind"] in metrics.STEP_EVENT_KINDS for e in events)
            return got

        def run_phase(ctx, s, book, t, inputs):
            want_s, want_book = _state_copy(s), copy.deepcopy(book)
            want_inputs = copy.deepcopy(inputs)
            want = old_run_phase(ctx, want_s, want_book, t, want_inputs)
            got = real_phase(ctx, s, book, t, inputs)
            assert got == want
            _check_state(s, want_s)
            assert _same(book.ints(), want_book.ints())
            assert _same(book.levels(), want_book.levels())
            checked.calls["spot"] += 1
            checked.calls["swaps"] += got
            return got

        monkeypatch.setattr(MirrorEngine, "_levels", read)
        monkeypatch.setattr(LevelTab, "mined", mined)
        monkeypatch.setattr(mirror_spot, "run_phase", run_phase)


def _run_checked(d: dict[str, Any], monkeypatch, *, tuning: bool) -> dict[str, int]:
    with monkeypatch.context() as patch:
        checked = _Checked(patch)
        kinds = EVALUATION_EVENT_KINDS if tuning else None
        engine = MirrorEngine(parse(d), mode="fast", event_kinds=kinds)
        if tuning:
            engine.ctx.memo[FIGURES_MEMO] = StepFigures(engine.scenario.steps, engine.symbols,
                                                        rows=False)  # fmt: skip
        engine.run()
    steps = engine.scenario.steps + 1
    assert checked.calls["mined"] == steps and checked.calls["spot"] == steps
    assert checked.calls["read"] == steps + 1  # the opening read, then one a block
    return checked.calls


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(d=feedback_scenarios())
def test_block_end_and_spot_phase_equal_their_old_forms_on_every_step(d, monkeypatch):
    d["arbitrageurs"]["count"] = max(d["arbitrageurs"]["count"], 1)
    for tuning in (False, True):
        calls = _run_checked(d, monkeypatch, tuning=tuning)
        assert calls["swaps"] > 0


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(d=small_scenarios())
def test_block_end_equals_its_old_form_on_small_runs(d, monkeypatch):
    _run_checked(d, monkeypatch, tuning=True)


def test_oct_tuning_path_equals_its_old_forms(monkeypatch):
    """A stretch of oct-2025 through the shock, as a tuning path: liquidation rows, the
    market-making vault, every market's pools."""
    from simulator.scenario import load_scenario

    scenario = load_scenario("oct-2025", ["steps=640"])
    with monkeypatch.context() as patch:
        checked = _Checked(patch)
        engine = MirrorEngine(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
        engine.ctx.memo[FIGURES_MEMO] = StepFigures(scenario.steps, engine.symbols, rows=False)
        engine.run()
    assert checked.calls["events"] > 0 and checked.calls["swaps"] > 0
    assert engine.world.mm_vault is not None


# -- drawn states ---------------------------------------------------------------------------


def _drawn(rng: np.random.Generator, shape, finite: bool = False) -> np.ndarray:
    """Floats of ``shape``: magnitudes from 1e-5 to 1e40 of both signs, whole numbers, and
    specials (zeros of both signs, the smallest subnormal, huge, and unless ``finite`` NaN and
    infinities)."""
    x = rng.normal(0, 1, shape) * 10.0 ** rng.integers(-5, 40, shape)
    specials = np.array(
        [0.0, -0.0, 5e-324, 1e308, 1e18, 3.0] + ([] if finite else [np.nan, np.inf, -np.inf])
    )
    pick = rng.random(shape) < 0.2
    x[pick] = rng.choice(specials, int(pick.sum()))
    return x


@pytest.fixture(scope="module")
def drawn_engine():
    d = {
        "name": "block-levels-drawn",
        "seed": 5,
        "steps": 2,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.5}}
                    for s in ("BTC", "ETH", "SOL", "XRP", "DOGE")],
        "traders": {"kind": "random", "count": 20},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.4}},
    }  # fmt: skip
    return MirrorEngine(parse(d), mode="fast")


def test_read_equals_levels_of_on_drawn_venues(drawn_engine):
    engine = drawn_engine
    venue, book = engine.venue, engine.spot
    tab = LevelTab(venue.n_markets)
    rng = np.random.default_rng(29)
    m = venue.n_markets
    zero = 0
    for _ in range(300):
        for name in ("price", "long_oi", "short_oi", "fees", "penalties", "socialized", "rate",
                     "long_index", "short_index"):  # fmt: skip
            getattr(venue, name)[:] = _drawn(rng, (m,))
        for name in ("bad_debt_longs", "bad_debt_shorts"):
            getattr(venue, name)[:] = _drawn(rng, (m,), finite=True)
        venue.final_bad_debt[:] = _drawn(rng, (m, 2), finite=True)
        venue.adl_contracts[:] = _drawn(rng, (m, 2), finite=True)
        if rng.random() < 0.3:  # every ledger 0
            for arr in (venue.bad_debt_longs, venue.bad_debt_shorts, venue.final_bad_debt,
                        venue.adl_contracts):  # fmt: skip
                arr[...] = rng.choice([0.0, -0.0], arr.shape)
        venue.markets.margin_scale[:] = _drawn(rng, (m,))
        book.level_floats[:] = _drawn(rng, (3, m))
        venue.version += 1
        s, want_s = _state_copy(engine.state), _state_copy(engine.state)
        with np.errstate(all="ignore"):
            want = old_read(venue, book, want_s)
            got = tab.read(venue, book, s)
        assert _same(got, want)
        _check_state(s, want_s, ("margin_scale", "amm_price_usd"))
        zero += got["ledgers"] is tab.zero_ledgers
    assert zero > 30


@pytest.mark.parametrize("seed", range(40))
def test_end_block_equals_the_old_lines_on_drawn_states(seed):
    """:func:`end_block` against the numpy PnL lines, ``step_rows``' figures and the copies,
    on drawn arrays: traders 0, 1 or many, markets 1 to 6, NaN PnL or taken, outcomes of this
    step or others (dense, or sparse: blocks of 64 rows without one), a vault or none, any
    step."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 7))
    # traders: none, one, fewer than a block of 64, or blocks of 64 and a tail
    n = int(rng.choice([0, 1, int(rng.integers(2, 64)), int(rng.integers(64, 400))]))
    steps = int(rng.integers(1, 6))
    t = int(rng.integers(0, steps + 1))
    symbols = [f"M{j}" for j in range(m)]
    table = _drawn(rng, (len(block_levels.LEVEL_ROWS), m))
    levels = {name: table[k] for k, name in enumerate(block_levels.LEVEL_ROWS)}
    vault = rng.random() < 0.5
    vault_size = _drawn(rng, (m,)) if vault else np.zeros(m)
    equity_usd = float(_drawn(rng, 1)[0]) if vault else np.nan
    supply = int(rng.integers(1, 10**15)) if rng.random() < 0.3 else 0
    levels.update(insurance_fund_usd=float(_drawn(rng, 1)[0]), vault_supply=supply,
                  vault_assets_usd=float(_drawn(rng, 1)[0]) if supply else 0.0,
                  mm_vault_size_base=vault_size, mm_vault_equity_usd=equity_usd)  # fmt: skip
    outcome_step = rng.integers(-1, steps + 1, n)
    if rng.random() < 0.5:  # sparse: most blocks of 64 without an outcome of step t
        outcome_step[(outcome_step == t) & (rng.random(n) < 0.97)] = steps + 1
    realized = np.where(rng.random(n) < 0.5, np.nan, _drawn(rng, (n,)))
    equity, collateral_in = _drawn(rng, (n,)), _drawn(rng, (n,))
    exo, outside = _drawn(rng, (steps + 1, m)), _drawn(rng, (steps + 1, m))
    last = _drawn(rng, (len(block_levels.STATE_ROWS), m))
    transactions = int(rng.integers(0, 10**6))
    # the old lines
    want_realized = realized.copy()
    ended = np.flatnonzero(outcome_step == t)
    ended = ended[np.isnan(want_realized[ended])]
    want_realized[ended] = equity[ended] - collateral_in[ended]
    want_figures = StepFigures(steps, symbols, rows=False)
    with np.errstate(all="ignore"):
        metrics.step_rows(
            t, 60, symbols, exo[t], levels, [], transactions,
            previous_bad_debt_usd=last[block_levels.S_BAD_DEBT],
            previous_fees_usd=last[block_levels.S_FEES], outside_usd=outside[t],
            figures=want_figures,
        )  # fmt: skip
    # the kernel
    rows = np.full((block_levels.N_ROWS, m), np.nan)  # the table, the state, the previous
    rows[: block_levels.S0], rows[block_levels.S0 : block_levels.P0] = table, last
    state, previous = rows[block_levels.S0 : block_levels.P0], rows[block_levels.P0 :]
    got_figures = StepFigures(steps, symbols, rows=False)
    share = (levels["vault_assets_usd"] / (supply / 10**metrics.VAULT_SHARE_DECIMALS)
             if supply else np.nan)  # fmt: skip
    with np.errstate(all="ignore"):
        end_block(t, rows, vault_size, outcome_step, realized, equity, collateral_in, True,
                  exo[t], outside, levels["insurance_fund_usd"], levels["vault_assets_usd"],
                  share, transactions, equity_usd, got_figures.table, got_figures.venue,
                  got_figures.filled)  # fmt: skip
    assert _same(rows[: block_levels.S0], table)  # the table only read
    assert _same(realized, want_realized)
    _check_figures(got_figures, want_figures)
    assert _same(previous[0], last[block_levels.S_BAD_DEBT])
    assert _same(previous[1], last[block_levels.S_FEES])
    assert _same(state[block_levels.S_BAD_DEBT], levels["bad_debt_usd"].copy())
    assert _same(state[block_levels.S_FEES], levels["fees_cum_usd"].copy())
    assert _same(state[block_levels.S_VAULT_SIZE], vault_size.copy())
    # without figures: nothing of them written
    figures_off = StepFigures(steps, symbols, rows=False)
    rows[block_levels.S0 : block_levels.P0] = last
    end_block(t, rows, vault_size, outcome_step, realized.copy(), equity, collateral_in, False,
              exo[t], outside, 0.0, 0.0, np.nan, 0, np.nan, figures_off.table, figures_off.venue,
              figures_off.filled)  # fmt: skip
    assert not figures_off.filled.any() and np.isnan(figures_off.table).all()


@pytest.mark.parametrize("seed", range(6))
def test_spot_phase_equals_its_old_form_on_drawn_states(seed):
    """``run_phase`` against :func:`old_run_phase` on copies of a run's state with drawn open
    interest, hedged base and inventories: hedges of every size (down to dust, up to amounts
    the kernel hands to Python to convert, or beyond the digits: the book in Python ints from
    there), capped by the inventory or not; arbitrageurs none to three."""
    rng = np.random.default_rng(seed)
    d = {
        "name": "spot-drawn",
        "seed": seed,
        "steps": 6,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.8}}
                    for s in ("BTC", "ETH", "SOL")[: 1 + seed % 3]],
        "traders": {"kind": "random", "count": 12},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.6}},
        "arbitrageurs": {"count": seed % 4, "capital_usd": 50_000, "max_trade_fraction": 0.25},
        "amm": {"liquidity_usd": 200_000},
        "outside_market": {"impact_y": 1.0, "volume_scale": 1e-3, "half_life_steps": 2.0},
    }  # fmt: skip
    engine = MirrorEngine(parse(d), mode="fast")
    for _ in range(3):
        engine.step()
    # the state as the step left it (the phase writes the run's impact rows in place: each
    # trial starts from copies of these values)
    ctx, s, book = engine.ctx, _state_copy(engine.state), engine.spot
    m = engine.venue.n_markets
    inputs = mirror_spot.spot_inputs(ctx, engine.venue, book)
    swaps = python = converted = 0
    for trial in range(40):
        scale = 10.0 ** rng.uniform(-6, 30 if trial % 4 == 0 else 8, m)
        mine_s, mine_book = _state_copy(s), copy.deepcopy(book)
        mine_book._arbitrageurs = ctx.world.arbitrageurs  # as the run's book holds them
        mine_s.hedged_base = s.hedged_base + rng.normal(0, 1, m) * scale
        mine_s.hedger_inventory = s.hedger_inventory * 10.0 ** rng.uniform(-3, 25, (m, 2))
        if trial % 8 == 0:  # a sale beyond the digits (1e47 wei): on in Python ints
            mine_s.hedged_base[0] = 1e30
            mine_s.hedger_inventory[0, 1] = 1e29
        if trial % 8 == 4 and mine_book.level_floats is not None:
            # sales the kernel hands to Python to convert (2**62 base units and more), from
            # a hedger that holds them: the swaps go through, then the later rows' compiled
            hedger = mine_book.holders.index(ctx.world.hedger)
            for j in range(m):
                jit_amm.to_digits(10**40, mine_book.base[hedger, j])
            mine_s.hedged_base[:] = 6e18 * rng.uniform(1, 2, m)
            mine_s.hedger_inventory[:, 1] = 5e18 * rng.uniform(1, 2, m)
            converted += 1
        mine_s.arb_inventory = s.arb_inventory.copy()
        drawn = {**inputs, "oi_long_base": inputs["oi_long_base"] * rng.uniform(0, 3, m),
                 "oi_short_base": inputs["oi_short_base"] * rng.uniform(0, 3, m)}  # fmt: skip
        want_s, want_book = _state_copy(mine_s), copy.deepcopy(mine_book)
        want_s.hedged_base = mine_s.hedged_base.copy()
        want_s.hedger_inventory = mine_s.hedger_inventory.copy()
        want_s.arb_inventory = mine_s.arb_inventory.copy()
        want = old_run_phase(ctx, want_s, want_book, s.step + 1, copy.deepcopy(drawn))
        got = mirror_spot.run_phase(ctx, mine_s, mine_book, s.step + 1, drawn)
        assert got == want
        _check_state(mine_s, want_s)
        assert _same(mine_book.ints(), want_book.ints())
        assert _same(mine_book.levels(), want_book.levels())
        swaps += got
        python += mine_book.python_swaps
    assert swaps > 0 and python > 0  # some swaps went through Python ints
    assert converted > 0


def test_block_end_with_the_book_in_python_ints(monkeypatch):
    """The levels read with the spot book in Python ints (its levels from the ints, not the
    compiled floats), every step checked against the old forms."""
    d = {
        "name": "book-ints",
        "seed": 9,
        "steps": 8,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.8}}
                    for s in ("BTC", "ETH")],
        "traders": {"kind": "random", "count": 12},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.6}},
        "arbitrageurs": {"count": 2, "capital_usd": 50_000, "max_trade_fraction": 0.25},
        "amm": {"liquidity_usd": 200_000},
    }  # fmt: skip
    with monkeypatch.context() as patch:
        checked = _Checked(patch)
        engine = MirrorEngine(parse(d), mode="fast")
        engine.spot._hold(engine.spot.ints())
        assert engine.spot.level_floats is None
        engine.run()
    assert checked.calls["mined"] == 9 and checked.calls["swaps"] > 0
    assert engine.spot.python_swaps > 0
