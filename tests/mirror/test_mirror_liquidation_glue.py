"""The liquidation steps' glue in fast mode (session 29): a batch's calls without a deficit
written and turned into their legs in one pass (``VenueState.liquidate_many(legs=True)``,
``_legs_done``), their ``Liquidated`` rows built in :func:`simulator.mirror.sim.keepers.
execute_many` without a :class:`Liquidation` or a :func:`liquidation_rows` call, and one
:func:`decode_liquidated` of the step's closes. Held to today's form (kept here verbatim:
``_reference_execute_many``, ``_reference_decode_liquidated``):

- on drawn venues and keeper calls, the legs equal each call's :class:`Liquidation` bit for bit
  and the venue's whole state (pool, fund, ``_open`` order, funding) is the same;
- step by step on oct-2025 and on a backstop/ADL-heavy variant (a backstop vault, pro-rata or
  socialized ADL), two fast engines side by side, one with today's ``execute_many``: every
  step's events and the venue's and the traders' state equal.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mirror_jit_batch import _result_bits
from test_mirror_jit_calls import _bits, _call, _setup, _state, base, draws  # noqa: F401

from benchmarks.mirror import bench_scenario
from simulator.engine.events import _FLAT_BASE, _set_outcome, event_row
from simulator.engine.state import LIQUIDATED
from simulator.mirror.sim import MirrorEngine, keepers
from simulator.mirror.sim.venue import Reverted

# -- today's form (session 28), verbatim ----------------------------------------------------


def _reference_decode_liquidated(s, closes, t) -> None:
    size_base = s.trader.size_base
    for row, size, full in closes:
        left = size_base[row] - size
        size_base[row] = 0.0 if full or left < _FLAT_BASE else left
        if full:
            _set_outcome(s, row, LIQUIDATED, t)


def _reference_liquidation_rows(ctx, s, done, t, row_of, decoded, symbols):
    """Session 28's ``liquidation_rows`` with its own closes decoded per call (the reference
    decode); the rows' form is held to session 25's by test_mirror_liquidation_rows.py."""
    held: list = []
    out = keepers.liquidation_rows(ctx, s, done, t, row_of, held, symbols)
    for step in held:  # the call's own decode, today's per-row form
        decoded.append(partial(_reference_decode_liquidated, *step.args))
    return out


def _reference_execute_many(ctx, s, venue, targets, t, row_of, decoded):
    if not len(targets):  # most steps
        return []
    units = ctx.units
    us = np.asarray(targets, dtype=np.int64)
    accounts, markets = units.account[us].tolist(), units.market[us].tolist()
    isolated = units.isolated[us].tolist()
    out: list[dict] = []
    symbols = ctx.symbols
    for a, m, iso, done in zip(accounts, markets, isolated,
                               venue.liquidate_many(accounts, markets, isolated), strict=True):  # fmt: skip
        if done.__class__ is Reverted or isinstance(done, Reverted):
            out.append(event_row(t, "liquidate_reverted", market=symbols[m] if iso else None,
                                 account=ctx.accounts[a], detail=str(done)))  # fmt: skip
        else:
            out += _reference_liquidation_rows(ctx, s, done, t, row_of, decoded, symbols)
    return out


# -- the venue: legs against Liquidation objects ---------------------------------------------


def _legs_of(done) -> tuple:
    """A :class:`Liquidation` without deficits as ``_legs_done`` gives it."""
    assert not done.deficits
    return (done.account, tuple(zip(done.markets, done.closed, done.fill, done.penalty,
                                    done.full, strict=True)))  # fmt: skip


def test_legs_equal_the_liquidation_objects(base):  # noqa: F811
    """``liquidate_many(legs=True)`` of drawn keeper calls (cross and isolated, the same unit
    twice, stale prices, reverts, deficits covered or not) gives each call's legs (or, with a
    deficit, its :class:`Liquidation`; a revert as today) equal to today's results bit for
    bit, and leaves the venue's whole state as today's path; the draws reach each case."""
    seen: Counter = Counter()

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    @given(draw=draws(), units=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 2),
                                                  st.booleans()), min_size=2, max_size=25),
           fund=st.sampled_from([None, None, 0.0, 3e18]))  # fmt: skip
    def run(draw, units, fund):
        v, today = _setup(base, draw), _setup(base, draw)
        if fund is not None:
            v.fund = today.fund = fund
        for call in draw["calls"]:
            _call(v, call)
            _call(today, call)
        iso_pairs = [(int(a), int(m)) for a, m in zip(*np.nonzero(v.isolated), strict=True)]
        picks = []
        for a, m, iso in units:
            if iso and iso_pairs and (a + m) % 3:
                a, m = iso_pairs[(a * 3 + m) % len(iso_pairs)]
            picks.append((a, m, iso))
        cols = [list(c) for c in zip(*picks, strict=True)]
        want = today.liquidate_many(*cols)
        got = v.liquidate_many(*cols, legs=True)
        for g, w in zip(got, want, strict=True):
            if g.__class__ is tuple:
                assert _bits(g) == _bits(_legs_of(w))
                seen["legs"] += 1
            else:
                assert _result_bits(g) == _result_bits(w)
                seen["reverted" if isinstance(g, Exception) else "object"] += 1
        assert _state(v) == _state(today)
        assert v.version == today.version and v.kept == today.kept

    run()
    assert seen["legs"] > 0 and seen["reverted"] > 0 and seen["object"] > 0, seen


# -- whole runs, step by step ---------------------------------------------------------------

_VENUE_ARRAYS = ("size", "entry", "snapshot", "margin", "collateral", "isolated", "partial_at",
                 "last_liquidation_block", "long_oi", "short_oi", "long_index", "short_index",
                 "rate_used", "rate_block", "penalties", "total_deficit", "paid_by_insurance",
                 "bad_debt_longs", "bad_debt_shorts", "socialized")  # fmt: skip
_TRADER_ARRAYS = ("size_base", "side", "entry_price_usd", "collateral_in_usd", "equity_usd",
                  "maintenance_usd")  # fmt: skip


def _snapshot(e: MirrorEngine) -> dict:
    v, s = e.venue, e.state
    out = {k: np.asarray(getattr(v, k)).tobytes() for k in _VENUE_ARRAYS if hasattr(v, k)}
    out.update({k: np.asarray(getattr(s.trader, k)).tobytes() for k in _TRADER_ARRAYS})
    for k in ("outcome", "outcome_step", "realized_pnl_usd"):
        out[k] = np.asarray(getattr(s, k)).tobytes()
    out["pool"], out["fund"] = _bits(v.pool), _bits(v.fund)
    out["open_order"] = [list(o) for o in v.open_order or []]
    out["version"] = (v.version, v.kept)
    return out


def _side_by_side(sets: list[str], steps: int | None,
                  reference=_reference_execute_many) -> Counter:  # fmt: skip
    """Two fast engines of oct-2025 with ``sets``, stepped in lockstep, the second with
    ``reference`` as the keepers' ``execute_many``: every step's events and state equal.
    Returns the kinds of the events seen on liquidation steps."""
    sc = bench_scenario("oct-2025", sets, None, steps)
    new, old = MirrorEngine(sc, mode="fast"), MirrorEngine(sc, mode="fast")
    mine = keepers.execute_many
    kinds: Counter = Counter()
    while new.state.step < sc.steps:
        got = new.step()
        keepers.execute_many = reference
        try:
            want = old.step()
        finally:
            keepers.execute_many = mine
        assert got.events == want.events, f"step {new.state.step}"
        assert _snapshot(new) == _snapshot(old), f"step {new.state.step}"
        if any(r["kind"] in ("liquidation", "partial_liquidation") for r in got.events):
            kinds.update(r["kind"] for r in got.events)
    return kinds


def test_oct_2025_step_by_step_equals_todays_form():
    """oct-2025 in fast mode: every step's events and state equal today's form's."""
    kinds = _side_by_side([], None)
    assert kinds["liquidation"] > 500 and kinds["partial_liquidation"] > 10, kinds
    assert kinds["insurance_payout"] > 0, kinds


_HEAVY = {
    "pro_rata": (["controls.adl_policy=pro_rata", "controls.insurance_fund_usd=0",
                  "controls.backstop_vault_usd=20000", "traders.leverage.max=40"],
                 ("adl_fill", "bad_debt", "backstop_takeover", "backstop_reverted")),
    "socialized": (["controls.adl_policy=socialized", "controls.insurance_fund_usd=0"],
                   ("socialized_loss",)),
}  # fmt: skip


@pytest.mark.parametrize("policy", sorted(_HEAVY))
def test_backstop_and_adl_heavy_variant_equals_todays_form(policy):
    """oct-2025 (700 steps) with an empty insurance fund: pro-rata ADL with a small backstop
    vault at 40x leverage (takeovers, refused takeovers, bad debt the ADL keeper clears), or
    the socialized policy (deficits charged to the open interest between a batch's calls):
    every step's events and state equal today's form's; the variant reaches those cases."""
    sets, reached = _HEAVY[policy]
    kinds = _side_by_side(sets, 700)
    assert kinds["liquidation"] > 100, kinds
    assert all(kinds[k] > 0 for k in reached), kinds


def test_a_broken_glue_fails_the_comparison():
    """The comparison can fail: a reference that drops each step's last liquidation row."""

    def broken(ctx, s, venue, targets, t, row_of, decoded):
        rows = _reference_execute_many(ctx, s, venue, targets, t, row_of, decoded)
        return rows[:-1] if len(rows) > 1 else rows

    with pytest.raises(AssertionError, match="step"):
        _side_by_side([], 640, reference=broken)
