"""What the engine carries from step to step (:class:`EngineState`, checkpointed for resume),
what one step hands back (:class:`StepOutcome`), and the position outcome codes of
``positions.parquet``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.agents import traders as trader_agents

# Outcome codes of positions.parquet. REFUSED: the venue reverted the opening trade (a random
# population's trader over an OI cap, say); the trader holds its deposit and no position.
OPEN, CLOSED, LIQUIDATED, BACKSTOPPED, ADL, REFUSED = range(6)
OUTCOME_NAMES = ("open", "closed", "liquidated", "backstopped", "adl", "refused")


@dataclass
class StepOutcome:
    """One mined step: its ``steps.parquet`` rows (each market's, then the venue total's) and
    its ``events.parquet`` rows."""

    rows: list[dict[str, Any]]
    events: list[dict[str, Any]]


@dataclass
class EngineState:
    """Everything the loop carries from step to step (checkpointed for resume)."""

    step: int = 0
    trader: trader_agents.TraderState | None = None
    liquidatable_since: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    takeover_refused: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Per trader: the venue refused its backstop takeover (``BackstopWouldBeLiquidatable``:
    the vault would end below its own maintenance margin); keepers liquidate it instead."""
    outcome: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    outcome_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    feed_prices_usd: list[float] = field(default_factory=list)
    oracle_price_usd: float = 0.0
    amm_price_usd: float = 0.0
    """Spot AMM price at the end of the last block (USD)."""
    permanent_log_impact: float = 0.0
    """Cumulative permanent log price impact of the hedger's trades (see AmmSpec)."""
    hedged_base: float = 0.0
    arb_inventory: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    hedger_inventory: np.ndarray = field(default_factory=lambda: np.zeros(2))
    peak_price_usd: float = 0.0
    lps_withdrew: bool = False
    governance: dict[str, Any] = field(default_factory=dict)
    last_bad_debt_usd: float = 0.0
    last_fees_usd: float = 0.0
    last_fund_usd: float = 0.0
    transactions: int = 0
