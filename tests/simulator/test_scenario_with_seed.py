""":meth:`Scenario.with_seed` (a tune path's copy of its scenario, session 30) against the form
it replaces, ``with_overrides(seed=...)`` (a round trip through a dict and a full validation):
the same scenario (``==``, its dict, its fingerprint, its random streams) on every preset and
on a scenario with overrides, for drawn seeds; a bad seed refused as the long form refuses it."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.scenario import ScenarioError, load_scenario
from simulator.scenario.loading import available_presets


def _seeds() -> list[int]:
    rng = np.random.default_rng(30)
    return [0, 1, 2**63 - 1, *rng.integers(0, 2**53, 4).tolist()]


def _same(a, b) -> None:
    assert a == b
    assert a.to_dict() == b.to_dict()
    assert a.fingerprint() == b.fingerprint()
    assert (
        a.random_streams().agents.random(3).tolist() == b.random_streams().agents.random(3).tolist()
    )


@pytest.mark.parametrize("name", available_presets())
def test_with_seed_equals_with_overrides(name: str) -> None:
    base = load_scenario(name)
    base.fingerprint()  # a cached fingerprint must not carry over to the copy
    for seed in _seeds():
        _same(base.with_seed(seed), base.with_overrides(seed=seed))
        _same(base.with_seed(np.int64(seed)), base.with_overrides(seed=seed))
    assert base.with_seed(5).fingerprint() != base.fingerprint() or base.seed == 5


def test_with_seed_after_overrides() -> None:
    base = load_scenario("oct-2025").with_overrides(
        {"controls.insurance_fund_usd": 7e5, "markets.BTC.overrides.max_leverage": 20.0}
    )
    for seed in _seeds():
        _same(base.with_seed(seed), base.with_overrides(seed=seed))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_with_seed_refuses_what_validation_refuses(bad) -> None:
    base = load_scenario("calm")
    if bad in (-1, None):
        with pytest.raises(ScenarioError):
            base.with_overrides(seed=bad)
    with pytest.raises(ScenarioError, match="seed"):
        base.with_seed(bad)
