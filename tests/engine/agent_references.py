"""The agents' numpy formulas that compiled passes replaced, kept as the tests' references
(``tests/engine/test_jit_rows.py``, ``test_step_kernels_equal.py``,
``test_carried_decisions.py``)."""

from __future__ import annotations

import numpy as np

from simulator.agents.traders import TraderState


def estimate_reference(
    state: TraderState,
    price_usd,
    funding_index_usd: np.ndarray | None = None,
    margin_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``simulator.agents.traders.estimate`` written as its formulas read, one new array per
    operation: ``estimate`` must give the same floats."""
    side = state.side.astype(np.float64)
    equity = state.equity_usd + side * state.size_base * (price_usd - state.read_price_usd)
    if funding_index_usd is not None and state.read_funding_index_usd is not None:
        equity = equity - state.size_base * (funding_index_usd - state.read_funding_index_usd)
    maintenance = state.maintenance_usd * (price_usd / state.read_price_usd)
    if margin_scale is not None and state.read_margin_scale is not None:
        maintenance = maintenance * (margin_scale / state.read_margin_scale)
    return equity, maintenance


def update_liquidatable_since_reference(
    liquidatable_since: np.ndarray,
    equity_usd: np.ndarray,
    maintenance_usd: np.ndarray,
    notional_usd: np.ndarray,
    step: int,
) -> np.ndarray:
    """``simulator.agents.keepers.update_liquidatable_since`` as its numpy formula, on every
    account: the compiled pass must give the same steps."""
    under = (notional_usd > 0) & (equity_usd < maintenance_usd)
    return np.where(under, np.where(liquidatable_since >= 0, liquidatable_since, step), -1)
