"""Which margin units the keepers confirm on the pending block before they act.

Keepers act on the carried estimate (:func:`simulator.engine.traders.estimate_rows`); a
pending read is needed only where the estimate cannot decide (:func:`keepers.confirm_list`).
That the decisions are then the chain's is checked end to end by
``test_keepers_watch_list_gives_the_same_run_as_reading_every_position``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.engine import keepers
from simulator.engine.margin import MarginUnits


def _ctx(n_units, backstop_fraction=None, full=False):
    book = SimpleNamespace(
        account=np.arange(n_units),
        isolated=np.zeros(n_units, dtype=bool),
        market=np.zeros(n_units, dtype=np.int64),
        n_accounts=n_units,
    )
    return SimpleNamespace(
        units=MarginUnits.of_book(book),
        world=SimpleNamespace(book=book),
        keeper_reward_fraction=np.array([0.0]),
        backstop_fraction=None if backstop_fraction is None else np.array([backstop_fraction]),
        full_health_every_step=full,
    )


def test_only_units_near_a_boundary_or_changed_in_the_block_are_confirmed():
    band = keepers.CONFIRM_BAND
    # Equity over maintenance (100 USD each): clearly under, just under, just over, clearly
    # over but on the watch list, and one far from any boundary that a close touched.
    ratio = np.array([0.9, 1 - band / 2, 1 + band / 2, 1.04, 1.02])
    mm = np.full(5, 100.0)
    eq = ratio * mm
    notional_row = np.full(5, 1_000.0)
    watch = np.arange(5)
    ctx = _ctx(5)
    got = keepers.confirm_list(ctx, watch, eq, mm, notional_row, touched=np.array([4]))
    assert got.tolist() == [1, 2, 4]
    # A unit off the watch list is never confirmed, touched or not.
    got = keepers.confirm_list(ctx, watch[:3], eq, mm, notional_row, touched=np.array([4]))
    assert got.tolist() == [1, 2]


def test_the_backstop_threshold_is_a_boundary_too():
    # With a backstop vault at 0.5 x maintenance, a unit at 0.5 x is where a takeover and a
    # liquidation part; at 0.8 x the estimate decides.
    ctx = _ctx(2, backstop_fraction=0.5)
    eq, mm = np.array([50.1, 80.0]), np.array([100.0, 100.0])
    got = keepers.confirm_list(ctx, np.arange(2), eq, mm, np.full(2, 1e3), np.array([], int))
    assert got.tolist() == [0]


def test_a_full_refresh_and_the_full_read_check_confirm_every_open_unit():
    eq, mm = np.array([200.0, 200.0, 90.0]), np.full(3, 100.0)
    notional_row = np.array([1e3, 0.0, 1e3])  # the second unit is flat
    ctx = _ctx(3)
    everyone = np.array([0, 2])
    got = keepers.confirm_list(ctx, everyone, eq, mm, notional_row, np.array([], int), True)
    assert got.tolist() == [0, 2]
    ctx = _ctx(3, full=True)
    got = keepers.confirm_list(ctx, np.array([2]), eq, mm, notional_row, np.array([], int))
    assert got.tolist() == [0, 2]
