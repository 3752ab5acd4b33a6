"""The market-making vault's carried health (:func:`simulator.engine.mm_vault.estimated_health`)
on a few markets, summed in Python floats, held to the numpy formulation it replaced bit for bit
on drawn inputs (and the numpy path beyond seven markets)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.engine.mm_vault import estimated_health


def numpy_estimate(s, last) -> tuple[float, float, float]:
    size = last["mm_vault_size_base"]
    before, now = last["index_usd"], s.oracle_price_usd
    notional_before = float(np.sum(np.abs(size) * before))
    notional = float(np.sum(np.abs(size) * now))
    equity = float(last["mm_vault_equity_usd"]) + float(np.sum(size * (now - before)))
    mm = float(last["mm_vault_maintenance_usd"])
    mm = mm * notional / notional_before if notional_before > 0 else 0.0
    return equity, mm, notional


def test_the_vaults_estimate_equals_the_numpy_sums_bit_for_bit():
    rng = np.random.default_rng(12)
    for _ in range(5_000):
        m = int(rng.integers(1, 11))
        size = np.where(
            rng.random(m) < 0.3, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.integers(-3, 6, m)
        )
        before = rng.choice([0.5, 150.0, 3500.0, 1e5], m) * rng.uniform(0.9, 1.1, m)
        now = before * rng.uniform(0.8, 1.2, m)
        last = {
            "mm_vault_size_base": size,
            "index_usd": before,
            "mm_vault_equity_usd": float(rng.normal(1e6, 5e5)),
            "mm_vault_maintenance_usd": float(rng.uniform(0, 1e5)),
        }
        s = SimpleNamespace(oracle_price_usd=now)
        got, expected = estimated_health(s, last), numpy_estimate(s, last)
        assert np.array(got).tobytes() == np.array(expected).tobytes()
