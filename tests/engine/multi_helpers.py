"""Hand-made multi-market worlds for engine tests: the hyperliquid-like venue's BTC, ETH and SOL
markets, a book of positions given row by row, and per-market exogenous paths.

Until the scenario lists markets (``Scenario.markets``), a multi-market world is built from
:class:`~simulator.world.WorldInputs` made here and a one-market scenario that supplies the
agent sections (keepers, arbitrageurs, seed, steps)."""

from __future__ import annotations

import numpy as np
from test_single_position import one_long_scenario

from simulator.population import Behaviour, TraderBook
from simulator.pricepaths import OracleFaultSchedule
from simulator.protocol.venue_params import load_venue_preset
from simulator.scenario import parse_scenario
from simulator.world import WorldInputs

SYMBOLS = ["BTC", "ETH", "SOL"]


def hand_book(rows: list[dict]) -> TraderBook:
    """A book of holders: each row ``{account, market, side, collateral_usd, size_base,
    isolated}`` (market an index into :data:`SYMBOLS`)."""
    n = len(rows)
    inf = np.full(n, np.inf)
    collateral = np.array([r["collateral_usd"] for r in rows], dtype=np.float64)
    size = np.array([r["size_base"] for r in rows], dtype=np.float64)
    return TraderBook(
        side=np.array([1 if r["side"] == "long" else -1 for r in rows]),
        collateral_usd=collateral,
        size_base=size,
        leverage=np.ones(n),
        behaviour=np.full(n, int(Behaviour.HOLD)),
        take_profit_fraction=inf,
        stop_loss_fraction=inf,
        top_up_probability=np.zeros(n),
        top_up_fraction=np.zeros(n),
        top_up_margin_ratio=np.zeros(n),
        panic_drawdown=inf,
        account=np.array([r["account"] for r in rows]),
        market=np.array([r["market"] for r in rows]),
        isolated=np.array([r.get("isolated", False) for r in rows]),
    )


def three_market_inputs(
    rows: list[dict],
    moves: dict[str, list[float]] | None = None,
    steps: int = 6,
    adl_policy: str | None = None,
    buffers: dict | None = None,
    symbols: list[str] | None = None,
    controller: bool = False,
):
    """(scenario, inputs) of a venue of ``symbols`` (default BTC, ETH, SOL) holding ``rows``.

    ``moves`` gives a market's price at steps 0..steps as multiples of its start price
    (others stay flat); ``buffers`` overrides the venue's buffers (no backstop vault by
    default); ``controller`` deploys the margin controller. The scenario (feedback off, one keeper acting at once, no LP
    withdrawals) supplies only the agent sections."""
    symbols = symbols or SYMBOLS
    overrides = {s: {"adl_policy": adl_policy} for s in symbols} if adl_policy else None
    params = load_venue_preset("hyperliquid-like", symbols, overrides)
    params = params.model_copy(
        update={
            "buffers": params.buffers.model_copy(
                update={"backstop_enabled": False, "backstop_vault_usd": 0.0, **(buffers or {})}
            ),
            "controller": params.controller.model_copy(update={"enabled": controller}),
        }
    )
    start = np.array([m.initial_price_usd for m in params.markets])
    path = np.ones((steps + 1, len(symbols)))
    for symbol, multiples in (moves or {}).items():
        path[:, symbols.index(symbol)] = multiples
    exogenous = start * path
    scenario = parse_scenario(one_long_scenario([100_000.0] * (steps + 1)))
    faults = OracleFaultSchedule.from_faults([], steps, list(symbols))
    inputs = WorldInputs(
        params=params,
        symbols=list(symbols),
        start_prices_usd=start,
        book=hand_book(rows),
        exogenous_usd=exogenous,
        faults=faults,
        explicit=True,
    )
    return scenario, inputs
