"""Named control sets for ``perpsim compare``: what each changes in a scenario."""

from __future__ import annotations

from typing import Any

from simulator.scenario.messages import ScenarioError
from simulator.scenario.models import GbmPath, Scenario

#: Control sets by name, with what they change. Amounts are fixed, round numbers, not tuned to
#: the scenario; change them with ``--set`` after the control set is applied.
CONTROL_SETS: dict[str, str] = {
    "baseline": "the scenario's own controls",
    "leverage_cap": "controls.leverage_cap = 10 (x)",
    "insurance_x10": "controls.insurance_fund_usd x 10 ($10M when it is 0)",
    "backstop_vault": "controls.backstop_vault_usd = $20M",
    "adl_queue": "controls.adl_policy = queue",
    "adl_pro_rata": "controls.adl_policy = pro_rata",
    "adl_socialized": "controls.adl_policy = socialized",
    "adl_none": "controls.adl_policy = none",
    "circuit_breaker": "controls.circuit_breaker_max_move_bps = 100 (1% per block)",
    "dynamic_margin": "controls.dynamic_margin = true",
    "oi_cap": "controls.oi_cap_usd = $50M per side",
    "governance_timelock": "max_leverage -> 10 submitted at the first shock, via the timelock",
    "governance_guardian": "max_leverage -> 10 submitted at the first shock, via the guardian",
}

#: The control sets ``perpsim compare`` runs when none are named.
DEFAULT_CONTROL_SETS: tuple[str, ...] = (
    "baseline",
    "leverage_cap",
    "insurance_x10",
    "backstop_vault",
    "adl_pro_rata",
    "circuit_breaker",
    "dynamic_margin",
    "oi_cap",
    "governance_timelock",
)


def _shock_step(scenario: Scenario) -> int:
    path = scenario.price_path
    if isinstance(path, GbmPath) and path.shocks:
        return min(shock.step for shock in path.shocks)
    return scenario.steps // 2


def control_set(scenario: Scenario, name: str) -> Scenario:
    """The scenario with the named control set applied (see :data:`CONTROL_SETS`).

    Raises
    ------
    ScenarioError
        Unknown control set (the message lists the known ones).

    Examples
    --------
    >>> from simulator.scenario import load_scenario
    >>> s = load_scenario("oct-2025")
    >>> control_set(s, "adl_pro_rata").controls.adl_policy
    'pro_rata'
    """
    fund = scenario.controls.insurance_fund_usd
    change = {"step": _shock_step(scenario), "parameter": "max_leverage", "value": 10}
    updates: dict[str, dict[str, Any]] = {
        "baseline": {},
        "leverage_cap": {"controls.leverage_cap": 10.0},
        "insurance_x10": {"controls.insurance_fund_usd": fund * 10 if fund > 0 else 10e6},
        "backstop_vault": {"controls.backstop_vault_usd": 20e6},
        "adl_queue": {"controls.adl_policy": "queue"},
        "adl_pro_rata": {"controls.adl_policy": "pro_rata"},
        "adl_socialized": {"controls.adl_policy": "socialized"},
        "adl_none": {"controls.adl_policy": "none"},
        "circuit_breaker": {"controls.circuit_breaker_max_move_bps": 100},
        "dynamic_margin": {"controls.dynamic_margin": True},
        "oi_cap": {"controls.oi_cap_usd": 50e6},
        "governance_timelock": {"controls.governance_change": {**change, "path": "timelock"}},
        "governance_guardian": {"controls.governance_change": {**change, "path": "guardian"}},
    }
    assert set(updates) == set(CONTROL_SETS)
    if name not in updates:
        raise ScenarioError(f"unknown control set {name!r}; known: {', '.join(CONTROL_SETS)}")
    return scenario.with_overrides(updates[name])
