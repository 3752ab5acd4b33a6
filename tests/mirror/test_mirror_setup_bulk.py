"""The mirror setup's bulk forms (:mod:`simulator.mirror.sim.opening`) against the one-by-one
forms they replaced, on seeded draws: ``VenueState.deposit_many`` against ``deposit`` per
account (both modes, a fresh book and one with cross partial marks, duplicate accounts),
``gas_blocks`` against the call-by-call loop (calls at and above the block gas limit, zero gas,
empty), the credited USD and the liquidation prices against ``int(d) / WAD`` and
``_from_wad(p) if p else nan`` per value."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.mirror import bench_scenario
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim.opening import (
    _from_wad,
    _liquidation_usd,
    _usd_of_wad,
    gas_blocks,
)
from simulator.mirror.sim.venue import VenueState

WAD = 10**18


def _old_gas_blocks(gas: list[int], limit: int) -> np.ndarray:
    """The call-by-call form ``gas_blocks`` had."""
    out = np.zeros(len(gas), dtype=np.int64)
    block = pending = 0
    for i, g in enumerate(gas):
        if pending + g > limit:
            block, pending = block + 1, 0
        pending += g
        out[i] = block
    return out


@pytest.mark.parametrize("seed", range(4))
def test_gas_blocks_equals_call_by_call(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(150):
        limit = int(rng.integers(1, 2_000))
        n = int(rng.integers(0, 60))
        kinds = rng.integers(0, 5, n)
        gas = np.where(kinds == 0, 0, rng.integers(1, limit + 1, n))
        gas = np.where(kinds == 1, limit, gas)
        gas = np.where(kinds == 2, limit + rng.integers(1, 500, n), gas)
        gas = [int(g) for g in gas]
        expected = _old_gas_blocks(gas, limit)
        np.testing.assert_array_equal(gas_blocks(gas, limit), expected)
        np.testing.assert_array_equal(gas_blocks(np.array(gas, dtype=np.int64), limit), expected)


def test_gas_blocks_world_sizes() -> None:
    """The setup's own patterns: 3,300 accounts' deposits, 15,000 mixed opens."""
    limit = 30_000_000
    deposits = [101_000, 47_000, 98_000] * 3_300
    np.testing.assert_array_equal(gas_blocks(deposits, limit), _old_gas_blocks(deposits, limit))
    rng = np.random.default_rng(7)
    opens = [int(g) for g in rng.choice([410_000, 520_000], 15_000)]
    np.testing.assert_array_equal(gas_blocks(opens, limit), _old_gas_blocks(opens, limit))


def _venue(mode: str) -> VenueState:
    """A venue after a small book's opens (40 accounts, three markets, cross and isolated)."""
    return MirrorEngine(bench_scenario(None, ["traders.count=40"], None, None), mode=mode).venue


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) and a.dtype != object:
        return a.dtype == np.asarray(b).dtype and a.tobytes() == np.asarray(b).tobytes()
    return [type(x) for x in a] == [type(x) for x in b] and list(a) == list(b)


@pytest.mark.parametrize("mode", ["fast", "exact"])
@pytest.mark.parametrize("case", ["fresh", "marked", "duplicates"])
def test_deposit_many_equals_one_by_one(mode: str, case: str) -> None:
    rng = np.random.default_rng(11)
    bulk, each = _venue(mode), _venue(mode)
    n = len(bulk.collateral)
    accounts = rng.permutation(n)[: n - 3]
    if case == "duplicates":
        accounts = np.concatenate([accounts, accounts[:5]])
    units = rng.integers(0, 10**12, len(accounts))
    units[:3] = [0, 1, 2**53 - 1]
    if case == "marked":  # cross partial marks: each deposit reads its account's health
        for v in (bulk, each):
            opened = np.argwhere((v.size != 0) & ~v.isolated)
            for a, m in opened[:10]:
                v.partial_at[a, m] = 5
    got = bulk.deposit_many(accounts, units)
    want = [each.deposit(int(a), int(u)) for a, u in zip(accounts, units, strict=True)]
    if mode == "fast":
        assert got.dtype == np.float64
        assert got.tobytes() == np.array(want, dtype=np.float64).tobytes()
        assert all(type(w) is float for w in want)
    else:
        assert _same(got, want)
    assert _same(bulk.collateral, each.collateral)
    np.testing.assert_array_equal(bulk.partial_at, each.partial_at)


def test_deposit_many_fresh_is_vectorized(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fresh book no call goes one by one; with a mark, all of them do."""
    v = _venue("fast")
    calls: list[int] = []
    monkeypatch.setattr(VenueState, "deposit", lambda self, a, u: calls.append(a) or 0.0)
    v.deposit_many(np.arange(4), np.arange(4))
    assert calls == []
    a, m = np.argwhere((v.size != 0) & ~v.isolated)[0]
    v.partial_at[a, m] = 5
    v.deposit_many(np.array([a, a + 1]), np.array([1, 2]))
    assert calls == [a, a + 1]


@pytest.mark.parametrize("seed", range(3))
def test_usd_conversions_equal_per_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units = np.concatenate([rng.integers(0, 10**13, 3000), [0, 1, 999_999, 10**6]])
    credited = units.astype(np.float64) * 1e12  # fast mode's credited WAD
    want = np.array([int(d) / WAD for d in credited])
    assert _usd_of_wad(credited).tobytes() == want.tobytes()
    exact = np.array([int(u) * 10**12 for u in units], dtype=object)
    assert _usd_of_wad(exact).tobytes() == np.array([int(d) / WAD for d in exact]).tobytes()
    assert _usd_of_wad(np.zeros(0)).shape == (0,)

    prices = rng.lognormal(np.log(60_000.0), 2.0, 3000) * 1e18
    prices[rng.random(3000) < 0.2] = 0.0
    prices[:2] = [np.nan, 1.0]
    want = np.array([_from_wad(p) if p else np.nan for p in prices])
    assert _liquidation_usd(prices).tobytes() == want.tobytes()
    ints = np.array([int(p) if p == p else 0 for p in prices], dtype=object)
    want = np.array([_from_wad(p) if p else np.nan for p in ints])
    assert _liquidation_usd(ints).tobytes() == want.tobytes()
    assert _liquidation_usd(np.zeros(0)).shape == (0,)
