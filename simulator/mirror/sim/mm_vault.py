"""The market-making vault on the mirror (``mm_vault:``, Hyperliquid's HLP): an ordinary cross
account of the venue (the venue's last account, after the book's), funded with the scenario's
capital in the market makers' block (:func:`fund`), read with the levels after every block
(:func:`with_levels`: its sizes and ``accountHealth``, as :func:`simulator.engine.levels.
parse_mm_vault` gives them), and acting at the end of phase 1 as the chain engine's own phase
plans it (:func:`simulator.engine.mm_vault.plan_mm_vault`: the keepers' liquidation of the
vault under their rules, else its quotes toward ``-participation`` x the crowd's net open
interest, each trade bounded by its quote). The calls run on the venue in block order after
the order flow's (:func:`execute`); a liquidation's rows are the venue's ``Liquidated`` /
``DeficitAttributed`` / ``BadDebtRecorded`` rows in block order
(:func:`simulator.mirror.sim.keepers.liquidation_rows`), its fills and reverts the engine's
rows after the block's others (:func:`record`, :func:`simulator.engine.mm_vault.event_rows`).
The backstop vault's takeover of it runs as any takeover
(:func:`simulator.mirror.sim.backstop.takeover`, through :mod:`~simulator.mirror.sim.planned`). ADL ranks the vault with every market's winners
(:mod:`~simulator.mirror.sim.adl`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.engine import mm_vault as engine_vault
from simulator.engine import mm_vault_jit as vault_jit
from simulator.engine.context import Action, Context
from simulator.engine.flow import FlowRun, spot_inputs_after_flow
from simulator.engine.spot import spot_inputs_after_closes
from simulator.engine.state import EngineState
from simulator.mirror.fixed import WAD
from simulator.mirror.sim import keepers, planned
from simulator.mirror.sim.levels import floats
from simulator.mirror.sim.venue import VenueState
from simulator.scenario import Scenario
from simulator.units import from_wad, to_units
from simulator.world import agent_addresses


def extra_accounts(scenario: Scenario) -> int:
    """Venue accounts the vault adds after the book's (1 with a vault, else 0)."""
    return 1 if scenario.mm_vault.enabled else 0


def fund(scenario: Scenario, venue: VenueState, a: int) -> tuple[str | None, float]:
    """Deposit the vault's capital into venue account ``a`` (as the world's setup does, in the
    market makers' block): (its address, the capital credited in USD); (None, 0) without a
    vault. Its address is the chain's (:func:`simulator.world.agent_addresses`)."""
    if not scenario.mm_vault.enabled:
        return None, 0.0
    address = agent_addresses("mm_vault", 1, scenario.seed)[0]
    credited = venue.deposit(a, to_units(scenario.mm_vault.capital_usd))
    return address, int(credited) / WAD if venue.exact_mode else float(credited) / WAD


def with_levels(ctx: Context, venue: VenueState, levels: dict[str, Any]) -> dict[str, Any]:
    """``levels`` (:func:`simulator.mirror.sim.levels.levels_of`) with the vault's reads: its
    signed size per market (``mm_vault_size_wad``, ``mm_vault_size_base``) and cross equity,
    maintenance and initial margin (USD), converted as the chain engine parses them. A run's
    first read (at setup) loads the vault's compiled step
    (:func:`simulator.engine.mm_vault_jit.warm_up`)."""
    vault = ctx.world.mm_vault
    if vault is None:
        return levels
    if "mm_vault_warmed" not in ctx.memo:  # the run's first read, at setup: kernels loaded
        vault_jit.warm_up(ctx.world.book.market)
        ctx.memo["mm_vault_warmed"] = True
    a = ctx.index(vault)
    size = venue.size[a]
    equity, maintenance, initial = venue.cross_health(np.array([a]))
    if venue.exact_mode:
        wad = np.array([int(x) for x in size], dtype=object)
        usd = [from_wad(int(v[0])) for v in (equity, maintenance, initial)]
    else:  # the same floats: float(x) / WAD of each
        wad = np.array(list(size), dtype=object)
        usd = [float(v[0]) / WAD for v in (equity, maintenance, initial)]
    levels["mm_vault_size_wad"] = wad
    levels["mm_vault_size_base"] = floats(size)
    levels["mm_vault_equity_usd"] = usd[0]
    levels["mm_vault_maintenance_usd"] = usd[1]
    levels["mm_vault_initial_usd"] = usd[2]
    return levels


@dataclass
class VaultBlock:
    """This block's vault calls and what the venue did with them."""

    actions: list[Action] = field(default_factory=list)
    results: list[planned.Result] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    """The liquidation's venue rows, in block order."""
    skew: dict[str, Any] | None = None
    """The open interest the vault planned against (:func:`simulator.engine.mm_vault.
    skew_inputs_of` :func:`~simulator.engine.mm_vault.plan_step`'s), None without a vault: a
    quiet block's spot inputs start from it."""


def execute(
    ctx: Context, s: EngineState, venue: VenueState, t: int, last: dict[str, Any],
    closes: np.ndarray, run: FlowRun | None, row_of: np.ndarray, decoded: list,
) -> VaultBlock:  # fmt: skip
    """Plan the vault's calls of step ``t`` (:func:`simulator.engine.mm_vault.plan_step`:
    ``last`` the last block's levels, ``closes`` the rows traders close in this block, ``run``
    the order flow) and run them on the venue; a liquidation's rows (``row_of`` and
    ``decoded`` as :func:`simulator.mirror.sim.keepers.liquidation_rows` takes them)."""
    actions, out = engine_vault.plan_step(ctx, s, t, last, closes, run)
    skew = None if out is None else engine_vault.skew_inputs_of(last, out)
    block = VaultBlock(actions, skew=skew)
    for action in block.actions:
        result = planned.execute(ctx, venue, action.call)
        block.results.append(result)
        if result.liquidation is not None:
            block.rows += keepers.liquidation_rows(ctx, s, result.liquidation, t, row_of, decoded)
    return block


def record(
    ctx: Context, s: EngineState, block: VaultBlock, t: int, last: dict[str, Any]
) -> list[dict]:
    """The vault's fill and revert rows (:func:`simulator.engine.mm_vault.event_rows`;
    ``last``: the levels before the block)."""
    return engine_vault.event_rows(ctx, s, block.results, block.actions, t, last)  # type: ignore[arg-type]


def quiet_spot_inputs(
    ctx: Context, s: EngineState, last: dict[str, Any], closes: np.ndarray, run: FlowRun | None,
    skew: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The open interest the chain engine's phase 3 estimates for a block it read nothing of:
    the last levels less the traders' closes, with the order flow's and the vault's planned
    trades (:func:`simulator.engine.mm_vault.after_vault_trades` of
    :func:`simulator.engine.flow.spot_inputs_after_flow`). ``skew``: the first two, as the
    vault's phase computed them this step (:attr:`VaultBlock.skew`: nothing between it and
    this read moves the closes' sizes, the last levels or the flow's plan; the rows' sizes
    change when the block is decoded, after the spot phase)."""
    if skew is None:
        skew = spot_inputs_after_flow(spot_inputs_after_closes(ctx, last, s, closes), run)
    return engine_vault.after_vault_trades(s, skew, last)
