"""Named control sets for ``perpsim compare``: what each changes in a scenario."""

from __future__ import annotations

from typing import Any

from simulator.scenario.messages import ScenarioError
from simulator.scenario.models import Scenario
from simulator.scenario.paths import FactorPath, GbmPath

#: Control sets by name, with what they change. Amounts are fixed, round numbers, not tuned to
#: the scenario; change them with ``--set`` after the control set is applied. Each applies to
#: every market of the venue (the OI cap per market and side).
CONTROL_SETS: dict[str, str] = {
    "baseline": "the scenario's own controls",
    "leverage_cap": "controls.leverage_cap = 10 (x)",
    "insurance_x10": "controls.insurance_fund_usd x 10 ($10M when it is 0)",
    "backstop_vault": "controls.backstop_vault_usd = $20M",
    "backstop_vault_fast_unwind": (
        "controls.backstop_vault_usd = $20M, controls.backstop_unwind_share_per_step = 1 "
        "(the vault closes what it took over in the next block, not a tenth a step)"
    ),
    "adl_queue": "controls.adl_policy = profit_queue (queue)",
    "adl_contracts_queue": "controls.adl_policy = contracts_queue",
    "adl_pro_rata": "controls.adl_policy = pro_rata",
    "adl_socialized": "controls.adl_policy = socialized",
    "adl_none": "controls.adl_policy = none",
    "circuit_breaker": "controls.circuit_breaker_max_move_bps = 100 (1% per block)",
    "dynamic_margin": "controls.dynamic_margin = true",
    "oi_cap": "controls.oi_cap_usd = $20M per market and side",
    "governance_timelock": (
        "max_leverage -> 10 in the first listed market (every market of a one-market venue), "
        "submitted at the first shock, via the timelock"
    ),
    "governance_guardian": (
        "max_leverage -> 10 in the first listed market (every market of a one-market venue), "
        "submitted at the first shock, via the guardian"
    ),
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
    """The first scheduled shock's step: of a GBM path, or of any market or common shock of a
    factor model; half the run when there is none."""
    path = scenario.price_path
    steps: list[int] = []
    if isinstance(path, GbmPath | FactorPath):
        steps += [shock.step for shock in path.shocks]
    if isinstance(path, FactorPath):
        steps += [s.step for m in scenario.markets if m.path is not None for s in m.path.shocks]
    return min(steps) if steps else scenario.steps // 2


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
    >>> str(control_set(s, "adl_pro_rata").controls.adl_policy)
    'pro_rata'
    """
    fund = scenario.controls.insurance_fund_usd
    # One market: a tighter maximum elsewhere (3x on a long-tail alt) would be loosened by 10x.
    market = scenario.symbols[0] if len(scenario.markets) > 1 else None
    change = {
        "step": _shock_step(scenario),
        "parameter": "max_leverage",
        "value": 10,
        "market": market,
    }
    updates: dict[str, dict[str, Any]] = {
        "baseline": {},
        "leverage_cap": {"controls.leverage_cap": 10.0},
        "insurance_x10": {"controls.insurance_fund_usd": fund * 10 if fund > 0 else 10e6},
        "backstop_vault": {"controls.backstop_vault_usd": 20e6},
        "backstop_vault_fast_unwind": {
            "controls.backstop_vault_usd": 20e6,
            "controls.backstop_unwind_share_per_step": 1.0,
        },
        "adl_queue": {"controls.adl_policy": "profit_queue"},
        "adl_contracts_queue": {"controls.adl_policy": "contracts_queue"},
        "adl_pro_rata": {"controls.adl_policy": "pro_rata"},
        "adl_socialized": {"controls.adl_policy": "socialized"},
        "adl_none": {"controls.adl_policy": "none"},
        "circuit_breaker": {"controls.circuit_breaker_max_move_bps": 100},
        "dynamic_margin": {"controls.dynamic_margin": True},
        # dYdX's lower OI cap of a large-cap market (dydx-like preset): on oct-2025 it binds
        # BTC's longs (42M in the opening book); $50M, used before, bound nothing.
        "oi_cap": {"controls.oi_cap_usd": 20e6},
        "governance_timelock": {"controls.governance_change": {**change, "path": "timelock"}},
        "governance_guardian": {"controls.governance_change": {**change, "path": "guardian"}},
    }
    assert set(updates) == set(CONTROL_SETS)
    if name not in updates:
        raise ScenarioError(f"unknown control set {name!r}; known: {', '.join(CONTROL_SETS)}")
    return scenario.with_overrides(updates[name])
