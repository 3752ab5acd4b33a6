"""What the engine carries from step to step (:class:`EngineState`, checkpointed for resume),
what one step hands back (:class:`StepOutcome`), and the position outcome codes of
``positions.parquet``.

Shapes: R book rows (positions), U margin units (:mod:`simulator.engine.margin`), M markets,
K arbitrageurs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.agents import traders as trader_agents

# Outcome codes of positions.parquet. REFUSED: the venue reverted the opening trade (a random
# population's position over an OI cap, say); the account keeps that collateral, no position.
# IDLE: an order-flow slot that has not opened yet (simulator.engine.flow).
OPEN, CLOSED, LIQUIDATED, BACKSTOPPED, ADL, REFUSED, IDLE = range(7)
OUTCOME_NAMES = ("open", "closed", "liquidated", "backstopped", "adl", "refused", "idle")


@dataclass
class StepOutcome:
    """One mined step: its ``steps.parquet`` rows (each market's, then the venue total's) and
    its ``events.parquet`` rows."""

    rows: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _empty(dtype=np.float64, *shape: int) -> Any:
    return field(default_factory=lambda: np.zeros(shape or (0,), dtype=dtype))


@dataclass
class EngineState:
    """Everything the loop carries from step to step (checkpointed for resume)."""

    step: int = 0
    trader: trader_agents.TraderState | None = None
    """Per row (R): the traders' view of their positions."""
    liquidatable_since: np.ndarray = _empty(np.int64)
    """Per unit (U): first step seen under maintenance (-1: not)."""
    takeover_refused: np.ndarray = _empty(bool)
    """Per unit (U): the venue refused its backstop takeover (``BackstopWouldBeUnderwater``:
    the vault would end below its own maintenance margin); keepers liquidate it instead."""
    outcome: np.ndarray = _empty(np.int8)
    """Per row (R): outcome code."""
    outcome_step: np.ndarray = _empty(np.int64)
    """Per row (R): step of the outcome (-1: still open)."""
    realized_pnl_usd: np.ndarray = _empty()
    """Per row (R): the row's equity view less its collateral put in, frozen at its outcome
    (USD; NaN while open)."""
    feed_prices_usd: np.ndarray = _empty()
    """Per step (steps + 1, M): what each market's oracle was fed, USD; NaN for the steps not
    run yet (preallocated: the oracle faults read this history every step)."""
    oracle_price_usd: np.ndarray = _empty()
    """Per market (M): the price each oracle holds after this step's push (USD)."""
    amm_price_usd: np.ndarray = _empty()
    """Per market (M): spot AMM price at the end of the last block (USD)."""
    permanent_log_impact: np.ndarray = _empty()
    """Per market (M): the persistent part of the outside market's log impact of the hedger's
    trades, in effect at the next step (:mod:`simulator.prices.impact`)."""
    transient_log_impact: np.ndarray = _empty()
    """Per market (M): the decaying part of that log impact, in effect at the next step."""
    metaorder_sale_usd: np.ndarray = _empty()
    """Per market (M): the hedger's recent net sale the impact law prices as one metaorder
    (USD, decayed; carried by :func:`simulator.engine.jit_spot.plan_step`)."""
    outside_price_usd: np.ndarray = _empty()
    """Per step (steps + 1, M): the outside price the oracle venues follow (USD): the exogenous
    price times exp(the log impact in effect); NaN for the steps not run yet."""
    hedged_base: np.ndarray = _empty()
    """Per market (M): base the hedger holds for the pool's hedge."""
    arb_inventory: np.ndarray = _empty(np.float64, 0, 0, 2)
    """(K, M, 2): each arbitrageur's (collateral USD, base units) per market."""
    hedger_inventory: np.ndarray = _empty(np.float64, 0, 2)
    """(M, 2): the hedger's (collateral USD, base units) per market."""
    funding_index_usd: np.ndarray = _empty(np.float64, 0, 2)
    """(M, 2): the engine's running estimate of each market's funding index for longs and
    shorts (USD owed per base unit since the start): every step adds the funding rate of the
    last block's levels times the step at the oracle price (:func:`advance_funding_index`).
    Only differences matter (what a position owes between two reads)."""
    margin_scale: np.ndarray = _empty()
    """Per market (M): the margin scale of the last block's levels (1 = no dynamic margin)."""
    last_socialized_usd: np.ndarray = _empty()
    """Per market (M): cumulative loss charged through the funding indices after the last
    block (USD); when it grows, keepers read every unit again (the engine's funding index does
    not model that charge)."""
    peak_price_usd: np.ndarray = _empty()
    """Per market (M): running peak of the oracle price (USD)."""
    lps_withdrew: np.ndarray = _empty(bool)
    """Per market (M): that market's AMM LPs withdrew."""
    vault_lps_withdrew: bool = False
    governance: dict[str, Any] = field(default_factory=dict)
    last_bad_debt_usd: np.ndarray = _empty()
    """Per market (M): outstanding bad debt after the last block (USD)."""
    last_fees_usd: np.ndarray = _empty()
    """Per market (M): cumulative fees and penalties after the last block (USD)."""
    last_fund_usd: float = 0.0
    transactions: int = 0
    opens: np.ndarray = _empty(np.int64)
    """Per row (R): positions the row opened (the opening trade counts; an order-flow slot
    counts each of its opens)."""
    opened_step: np.ndarray = _empty(np.int64)
    """Per row (R): step of the row's last open (0: the opening book; -1: never opened)."""
    flow_open_size_base: np.ndarray = _empty()
    """Per row (R): size of an order-flow slot's last open (base units; 0: never opened)."""
    flow_open_entry_usd: np.ndarray = _empty()
    """Per row (R): entry price of an order-flow slot's last open (USD; NaN: never opened)."""
    flow_open_equity_usd: np.ndarray = _empty()
    """Per row (R): an order-flow slot's equity when it last opened (USD; its take-profit and
    stop-loss are shares of it)."""
    flow_exit_step: np.ndarray = _empty(np.int64)
    """Per row (R): step at which an order-flow position's holding time ends (-1: none)."""
    mm_vault_liquidatable_since: int = -1
    """The market-making vault: first step seen under maintenance (-1: not)."""
    mm_vault_planned_base: np.ndarray = _empty()
    """Per market (M): the market-making vault's trades planned in this step's block (base
    units; within a step only, not checkpointed)."""
    mm_vault_size_base: np.ndarray = _empty()
    """Per market (M): the market-making vault's signed size after the last block (base
    units; :func:`simulator.engine.adl.possible_winners`)."""
    mm_vault_takeover_refused: bool = False
    """The venue refused the backstop's takeover of the market-making vault: keepers
    liquidate it instead."""

    #: Array fields (checkpointed as arrays; the rest is JSON metadata).
    ARRAYS = (
        "liquidatable_since", "takeover_refused", "outcome", "outcome_step", "realized_pnl_usd",
        "oracle_price_usd", "amm_price_usd", "permanent_log_impact", "hedged_base",
        "arb_inventory", "hedger_inventory", "peak_price_usd", "lps_withdrew",
        "last_bad_debt_usd", "last_fees_usd", "funding_index_usd", "margin_scale",
        "last_socialized_usd",
        "transient_log_impact", "outside_price_usd",
        "opens", "opened_step", "flow_open_size_base", "flow_open_entry_usd",
        "flow_open_equity_usd", "flow_exit_step", "mm_vault_size_base",
    )  # fmt: skip
    #: The impact law's metaorder (:mod:`simulator.prices.impact`).
    ARRAYS += ("metaorder_sale_usd",)
    #: Scalar fields (checkpointed in the JSON metadata).
    SCALARS = ("step", "vault_lps_withdrew", "governance", "last_fund_usd", "transactions")
    #: The market-making vault's keeper state (:mod:`simulator.engine.mm_vault`).
    SCALARS += ("mm_vault_liquidatable_since", "mm_vault_takeover_refused")


def advance_funding_index(
    s: EngineState, funding_rate_per_day: np.ndarray, step_seconds: int, price_usd: np.ndarray
) -> None:
    """Accrue one step of funding into ``s.funding_index_usd``: longs owe
    ``rate · step / 1 day · price`` per base unit and shorts the opposite (rate per day as a
    fraction, + = longs pay; price USD per market), as the venue's funding increments."""
    increment = funding_rate_per_day * (step_seconds / 86_400) * price_usd
    s.funding_index_usd[:, 0] += increment
    s.funding_index_usd[:, 1] -= increment


def opening_state(
    world: Any,
    n_units: int,
    price0_usd: np.ndarray,
    steps: int,
    *,
    wallet_multiple: float,
    hedged_base: np.ndarray,
    arb_inventory: np.ndarray,
    hedger_inventory: np.ndarray,
) -> EngineState:
    """The state after the world's opening book, before the first block (``world``: a
    :class:`~simulator.world.World`, or the mirror's), for the chain engine and the mirror
    alike: each row's position as opened (a refused open: no position), outcome codes, the
    price histories' row 0 at ``price0_usd`` (M,), the carried impacts at 0; what the spot
    agents hold (``hedged_base`` (M,), ``arb_inventory`` (K, M, 2), ``hedger_inventory`` (M, 2))
    is the caller's. Each row's part of its account's top-up wallet is its collateral ×
    ``wallet_multiple`` for a top-up row (the world minted their sum)."""
    book, opened = world.book, world.opened
    n, n_markets = book.count, len(price0_usd)
    size = np.where(opened, world.opened_size_base, 0.0)
    trader = trader_agents.TraderState(
        side=np.asarray(book.side, dtype=np.int8).copy(),
        size_base=size.astype(np.float64),
        equity_usd=np.zeros(n),
        maintenance_usd=np.zeros(n),
        collateral_in_usd=np.asarray(world.collateral_in_usd, dtype=np.float64).copy(),
        entry_price_usd=np.where(opened, world.entry_price_usd, 0.0),
        wallet_usd=book.collateral_usd * wallet_multiple * (book.top_up_fraction > 0),
        read_price_usd=price0_usd[book.market].copy(),
        read_funding_index_usd=np.zeros(n),
        read_margin_scale=np.ones(n),
    )
    history = np.vstack([price0_usd, np.full((steps, n_markets), np.nan)])
    return EngineState(
        trader=trader,
        liquidatable_since=np.full(n_units, -1, dtype=np.int64),
        takeover_refused=np.zeros(n_units, dtype=bool),
        outcome=np.where(opened, OPEN, REFUSED).astype(np.int8),
        outcome_step=np.where(opened, -1, 0).astype(np.int64),
        realized_pnl_usd=np.full(n, np.nan),
        feed_prices_usd=history,
        oracle_price_usd=price0_usd.copy(),
        amm_price_usd=price0_usd.copy(),
        permanent_log_impact=np.zeros(n_markets),
        transient_log_impact=np.zeros(n_markets),
        metaorder_sale_usd=np.zeros(n_markets),
        outside_price_usd=history.copy(),
        hedged_base=hedged_base,
        arb_inventory=arb_inventory,
        hedger_inventory=hedger_inventory,
        peak_price_usd=price0_usd.copy(),
        lps_withdrew=np.zeros(n_markets, dtype=bool),
        funding_index_usd=np.zeros((n_markets, 2)),
    )
