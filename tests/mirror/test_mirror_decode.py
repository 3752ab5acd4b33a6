"""The mirror's decoding of a block's closes, top-ups and liquidations
(simulator.mirror.sim.traders.decode_trades, simulator.mirror.sim.keepers.decode_liquidated:
lists of plain values applied in block order) writes, bit for bit, what the per-call closures
they replace wrote (session 24's ``_position_update``, ``_top_up_update``, ``_size_update``)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine.events import _FLAT_BASE, _set_outcome
from simulator.engine.state import CLOSED, LIQUIDATED
from simulator.mirror.sim.keepers import decode_liquidated
from simulator.mirror.sim.levels import to_float
from simulator.mirror.sim.traders import decode_trades


def _state(rng, n: int):
    trader = SimpleNamespace(
        size_base=rng.lognormal(0.0, 2.0, n), entry_price_usd=rng.lognormal(4.0, 1.0, n),
        collateral_in_usd=rng.lognormal(6.0, 1.0, n), wallet_usd=rng.lognormal(7.0, 1.0, n),
    )  # fmt: skip
    trader.size_base[rng.random(n) < 0.1] = 0.0
    return SimpleNamespace(
        trader=trader, outcome=np.zeros(n, dtype=np.int8), outcome_step=np.full(n, -1),
        realized_pnl_usd=rng.standard_normal(n),
    )  # fmt: skip


def _assert_same(a, b) -> None:
    for name in ("size_base", "entry_price_usd", "collateral_in_usd", "wallet_usd"):
        assert np.array_equal(getattr(a.trader, name), getattr(b.trader, name)), name
    assert np.array_equal(a.outcome, b.outcome)
    assert np.array_equal(a.outcome_step, b.outcome_step)
    assert np.array_equal(a.realized_pnl_usd, b.realized_pnl_usd, equal_nan=True)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_decode_trades_equals_the_per_call_closures(seed, exact):
    rng = np.random.default_rng(seed)
    n, t = 60, int(rng.integers(0, 240))
    s = _state(rng, n)
    closes = rng.choice(n, 20, replace=False)
    tops = rng.choice(np.setdiff1d(np.arange(n), closes), 15, replace=False)
    wad = 10**18

    def as_wad(x: float):
        return int(x * wad) if exact else x * wad

    sizes = np.where(rng.random(len(closes)) < 0.6, 0.0, rng.lognormal(0.0, 1.0, len(closes)))
    modified = [(int(r), as_wad(z), as_wad(e)) for r, z, e in
                zip(closes, sizes, rng.lognormal(4.0, 1.0, len(closes)), strict=True)]  # fmt: skip
    credited = [
        (int(r), float(c)) for r, c in zip(tops, rng.lognormal(3, 1, len(tops)), strict=True)
    ]
    want = copy.deepcopy(s)
    for r, new_size, entry in modified:  # _position_update's body, call by call
        want.trader.size_base[r] = abs(to_float(new_size))
        want.trader.entry_price_usd[r] = to_float(entry)
        if new_size == 0:
            _set_outcome(want, r, CLOSED, t)
    for r, usd in credited:  # _top_up_update's
        want.trader.collateral_in_usd[r] += usd
        want.trader.wallet_usd[r] -= usd
    decode_trades(s, modified, credited, t)
    _assert_same(s, want)


@pytest.mark.parametrize("seed", range(6))
def test_decode_liquidated_equals_the_per_market_closures(seed):
    rng = np.random.default_rng(seed)
    n, t = 40, int(rng.integers(0, 240))
    s = _state(rng, n)
    rows = rng.integers(0, n, 25)  # a row may be partly liquidated twice in a block
    size = s.trader.size_base[rows] * rng.choice([0.3, 0.5, 1.0, 1.0 + 1e-16], len(rows))
    closes = [(int(r), float(z), bool(f)) for r, z, f in
              zip(rows, size, rng.random(len(rows)) < 0.4, strict=True)]  # fmt: skip
    want = copy.deepcopy(s)
    for row, closed, full in closes:  # _size_update's body, market by market
        left = want.trader.size_base[row] - closed
        want.trader.size_base[row] = 0.0 if full or left < _FLAT_BASE else left
        if full:
            _set_outcome(want, row, LIQUIDATED, t)
    decode_liquidated(s, closes, t)
    _assert_same(s, want)
