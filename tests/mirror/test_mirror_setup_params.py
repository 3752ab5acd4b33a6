"""The mirror's setup builds the scenario's venue parameters once (``world_inputs``) and hands
them to the backstop vault's wiring and the controls (:func:`simulator.mirror.sim.backstop.
wired`, :func:`~simulator.mirror.sim.backstop.vault_of`, :func:`~simulator.mirror.sim.controls.
controls_of`), which build them themselves only when not given: the same vault and controls
either way."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.mirror import bench_scenario
from simulator.mirror.sim import MirrorEngine, backstop
from simulator.scenario.models import Scenario

OVERRIDES = ["traders.count=60", "controls.backstop_vault_usd=20000000"]


def test_a_mirror_setup_builds_the_venue_parameters_once(monkeypatch) -> None:
    scenario = bench_scenario(None, OVERRIDES, None, None)
    calls: list[int] = []
    build = Scenario.venue_params

    def counted(self):
        calls.append(1)
        return build(self)

    monkeypatch.setattr(Scenario, "venue_params", counted)
    engine = MirrorEngine(scenario, mode="fast")
    assert len(calls) == 1
    assert engine.venue.backstop is not None  # the vault wired, from the given parameters
    assert engine.controls.breaker is engine.venue.breaker


@pytest.mark.parametrize("vault_usd", [0, 20_000_000])
def test_given_parameters_wire_the_same_vault(vault_usd: int) -> None:
    overrides = [OVERRIDES[0], f"controls.backstop_vault_usd={vault_usd}"]
    scenario = bench_scenario(None, overrides, None, None)
    params = scenario.venue_params()
    assert backstop.wired(scenario, params) == backstop.wired(scenario) == (vault_usd > 0)
    given, built = (MirrorEngine(scenario, mode="fast").venue for _ in range(2))
    a = backstop.vault_of(scenario, given, len(given.collateral) - 1, 7, params)
    b = backstop.vault_of(scenario, built, len(built.collateral) - 1, 7)
    assert (a is None) == (b is None) == (vault_usd == 0)
    if a is not None:
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert given.collateral.tobytes() == built.collateral.tobytes()
