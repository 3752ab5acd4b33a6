"""The mirror's step loop: the chain engine's step (:mod:`simulator.engine.loop`), one block
per step, on a :class:`~simulator.mirror.sim.venue.VenueState` instead of a chain.

Each step runs the engine's phases with the engine's own agent code and state
(:class:`~simulator.engine.state.EngineState`, :mod:`simulator.agents`), so that the agents
decide on the same inputs as on chain: the oracles post the step's prices
(:mod:`~simulator.mirror.sim.oracle`) and the margin controller pokes every market
(:mod:`~simulator.mirror.sim.controls`, whose circuit breaker the venue's trades and
liquidations check); the traders' carried estimate and decisions
(:func:`simulator.agents.traders.decide`, drawing from the agents' stream as on chain); the
order flow's and the market-making vault's calls, planned by the engine's phases and run after
the traders' (:mod:`~simulator.mirror.sim.flow`, :mod:`~simulator.mirror.sim.mm_vault`); the
keepers' watch list, the units they confirm on the pending block (read here from the venue's
state after the oracle pushes), their plan (:mod:`~simulator.mirror.sim.keepers`) and the
liquidations, executed call by call in block order; the LP withdrawals
(:mod:`~simulator.mirror.sim.lps`) and the spot phase, arbitrageurs then the hedger on the spot
AMMs (:mod:`~simulator.mirror.sim.spot`); then the block's levels, the watch list
and the touched units read again, the event rows and the ``steps`` rows
(:func:`simulator.engine.metrics.step_rows`). The health the agents read is the venue's, to
the wei in exact mode, converted to floats exactly as the chain engine converts its reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simulator.engine import keepers as engine_keepers
from simulator.engine import lps as engine_lps
from simulator.engine import metrics
from simulator.engine.context import Context
from simulator.engine.flow import flow_run, init_state
from simulator.engine.margin import MarginUnits
from simulator.engine.opening import opening_fees_by_market, with_opening
from simulator.engine.oracle import oracle_model
from simulator.engine.positions import position_rows
from simulator.engine.state import EngineState, StepOutcome, advance_funding_index, opening_state
from simulator.mirror.sim import (
    adl,
    backstop,
    block_levels,
    flow,
    governance,
    jit_open,
    keepers,
    lps,
    mm_vault,
    oracle,
    spot,
    traders,
)
from simulator.mirror.sim.controls import controls_of
from simulator.mirror.sim.features import check_mirrored
from simulator.mirror.sim.levels import levels_of, unit_health
from simulator.mirror.sim.opening import mirror_world
from simulator.scenario import Scenario
from simulator.units import to_units_array
from simulator.world import TOP_UP_WALLET_MULTIPLE, world_inputs

MODES = ("exact", "fast")


class MirrorEngine:
    """Runs a scenario on the mirror, step by step (``mode``: ``exact`` or ``fast``, see
    :mod:`simulator.mirror.fixed`). Raises :class:`~simulator.mirror.sim.features.NotMirrored`
    for a scenario feature it does not model, before anything runs. ``event_kinds``: the
    ``events`` rows to keep, by kind (None: all; :attr:`~simulator.engine.context.Context.
    event_kinds`)."""

    def __init__(
        self, scenario: Scenario, *, mode: str = "exact", event_kinds: frozenset[str] | None = None
    ):
        if mode not in MODES:
            raise ValueError(f"mirror mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.scenario = scenario
        inputs = world_inputs(scenario)
        check_mirrored(scenario)
        self.mw = mirror_world(scenario, exact_mode=mode == "exact", inputs=inputs)
        self.world = world = self.mw.world
        self.venue = self.mw.venue
        self.controls = controls_of(
            scenario, self.venue, oracles_created_at_s=self.mw.oracles_created_at_s,
            listed_at_s=self.mw.listed_at_s, controller_at_s=self.mw.controller_at_s,
            params=inputs.params,
        )  # fmt: skip
        """The circuit breaker and the margin controller (:mod:`~simulator.mirror.sim.controls`)."""
        self.symbols = list(world.symbols)
        exo = np.asarray(inputs.exogenous_usd, dtype=np.float64)
        self.exogenous_usd = exo.reshape(-1, 1) if exo.ndim == 1 else exo
        markets = [m.params for m in world.params.markets]
        self.rng = scenario.random_streams().agents
        self.ctx = Context(
            chain=None,  # type: ignore[arg-type]
            world=world,
            scenario=scenario,
            venue=world.venue,
            # the market-making vault's address after the book's accounts: the venue's last
            accounts=list(world.accounts) + ([world.mm_vault] if world.mm_vault else []),
            units=MarginUnits.of_book(world.book, [m.maintenance_margin_fraction for m in markets]),
            rng=self.rng,
            exogenous_usd=self.exogenous_usd,
            faults=inputs.faults,
            feedback=scenario.controls.feedback,
            full_health_every_step=False,
            keeper_reward_fraction=np.array(
                [p.liquidation_penalty_bps * p.keeper_share_bps / 1e8 for p in markets]
            ),
            backstop_fraction=None,
            adl_policy=[p.adl_policy.value for p in markets],
            max_adl_accounts=np.array([p.max_adl_accounts_per_call for p in markets]),
            amm_fee=np.array([m.amm.fee_bps / 1e4 for m in world.params.markets]),
            vault_address=None,
            event_kinds=event_kinds,
        )
        book = world.book
        self.row_of = np.full((len(self.ctx.accounts), len(self.symbols)), -1, dtype=np.int64)
        """The book row of every (venue account, market), -1 for none."""
        self.row_of[book.account, book.market] = np.arange(book.count)
        backstop.wire(self)  # the backstop vault's fractions, address and row (with one)
        self.wallet_units = to_units_array(world.wallet_usd)
        """Each account's collateral tokens outside the venue (base units), for top-ups."""
        spot.attach(self.ctx)
        self.spot = spot.spot_book(world)
        """The spot AMMs and the spot agents' tokens (:mod:`~simulator.mirror.sim.spot`)."""
        governance.check(self.ctx)  # refuse a bad change before the run starts
        self.oracle_model = oracle_model(scenario) if self.ctx.feedback else None
        """The oracle's sources (:func:`simulator.engine.oracle.oracle_model`), with feedback."""
        self.flow = flow_run(self.ctx)
        """The order flow (None without ``order_flow``), :mod:`~simulator.mirror.sim.flow`."""
        self.lps_withdraw = scenario.lps.withdraw_on_drawdown is not None
        """Whether the LPs withdraw on a drawdown (``lps.withdraw_on_drawdown``): without it no
        LP ever withdraws (:func:`simulator.engine.lps.plan_lp_withdrawals`), from the AMMs or
        the backstop vault, and the step skips their phase."""
        self.with_adl = adl.active(self.ctx)
        """Whether any market's policy has the ADL keeper call ``adl`` (fixed for the run:
        :attr:`~simulator.engine.context.Context.adl_policy`)."""
        self.level_tab = None if mode == "exact" else block_levels.level_tab(self.ctx)
        """Fast mode: the levels written in place (:mod:`~simulator.mirror.sim.block_levels`)."""
        self.step_seconds = scenario.step_seconds
        """Seconds a step (the scenario's, fixed for the run: read a step without the
        scenario's attribute)."""
        self.start_s = world.start_timestamp_s
        """The chain's time at step 0 (s); step ``t``'s block is at ``start_s + t ×
        step_seconds``."""
        self.state = self._initial_state()

    # -- state ---------------------------------------------------------------------------------

    def _initial_state(self) -> EngineState:
        w, ctx = self.world, self.ctx
        price0 = self.exogenous_usd[0].copy()
        s = opening_state(
            w, ctx.units.count, price0, self.scenario.steps,
            wallet_multiple=TOP_UP_WALLET_MULTIPLE, **spot.opening_inventories(w, price0),
        )  # fmt: skip
        init_state(ctx, s)
        reads = self._last_levels = self._levels()
        s.margin_scale = reads["margin_scale"].copy()
        s.mm_vault_size_base = reads["mm_vault_size_base"].copy()
        s.last_socialized_usd = reads["socialized_cum_usd"].copy()
        everyone = np.arange(ctx.units.count)
        self._store(s, everyone, *unit_health(ctx, self.venue, everyone))
        s.last_bad_debt_usd = reads["bad_debt_usd"].copy()
        s.amm_price_usd = reads["amm_price_usd"].copy()
        s.last_fees_usd = reads["fees_cum_usd"] - opening_fees_by_market(ctx)
        s.last_fund_usd = reads["insurance_fund_usd"]
        s.step = -1
        return s

    def _levels(self, s: EngineState | None = None) -> dict[str, Any]:
        """The levels the chain engine reads after a block: the venue's and the pools'
        (:func:`~simulator.mirror.sim.levels.levels_of`, the spot book's; fast mode in place,
        :meth:`~simulator.mirror.sim.block_levels.LevelTab.read`, with ``s``'s copies of them),
        with the market-making vault's reads (:func:`~simulator.mirror.sim.mm_vault.
        with_levels`)."""
        tab, venue = self.level_tab, self.venue
        levels = (
            levels_of(venue, self.spot.levels()) if tab is None else tab.read(venue, self.spot, s)
        )
        return mm_vault.with_levels(self.ctx, venue, levels)

    def _store(self, s: EngineState, units, equity, maintenance, keep=None) -> None:
        """The traders' view of ``units`` read as (equity, maintenance) USD
        (:func:`simulator.engine.traders.store_health` without the chain)."""
        kept = slice(None) if keep is None else np.asarray(keep, dtype=bool)
        self.ctx.units.store(
            s.trader, np.asarray(units)[kept], equity[kept], maintenance[kept],
            s.oracle_price_usd, self.world.book.market, s.funding_index_usd, s.margin_scale,
        )  # fmt: skip

    # -- one step -------------------------------------------------------------------------------

    def step(self) -> StepOutcome:
        """Run step ``state.step + 1``'s block; return its rows."""
        rows, events = self._advance()
        return StepOutcome(rows=rows, events=events)

    def _advance(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Run step ``state.step + 1``'s block: (its ``steps`` rows, its ``events`` rows), the
        :class:`~simulator.engine.state.StepOutcome`'s (:meth:`step`; :meth:`run` builds none
        for a tuning path)."""
        s, ctx, venue = self.state, self.ctx, self.venue
        s.step += 1
        t = s.step
        step_seconds = self.step_seconds
        venue.begin_block(self.start_s + t * step_seconds)
        exo = self.exogenous_usd[t]
        step_events: list[dict[str, Any]] = []

        # ---- phase 1: oracles, traders ----------------------------------------------------------
        # Fast mode's common case (no fault, controller or governance call this step): the
        # pushes, the funding index's step and the socialized check in one compiled call.
        opened = jit_open.open_block(ctx, s, venue, t, exo, self.oracle_model, self._last_levels,
                                     step_seconds, self.controls)  # fmt: skip
        if opened is not None:
            transactions, socialized = opened
            executed: list = []
        else:
            transactions = oracle.push_prices(ctx, s, venue, t, exo, self.oracle_model)
            transactions += self.controls.poke(venue)  # the controller's pokeMany, same block
            last = self._last_levels
            advance_funding_index(s, last["funding_rate_per_day"], step_seconds, s.oracle_price_usd)
            socialized = bool((last["socialized_cum_usd"] > s.last_socialized_usd).any())
            s.last_socialized_usd = last["socialized_cum_usd"].copy()
            planned, executed, sent = governance.plan(ctx, s, venue, t)
            step_events += planned
            transactions += sent
        # The decisions, every row's notional (size × oracle price: the keepers' phase reads
        # the same, no size changes before the block is decoded) and its and the carried
        # estimate's sums per unit, in one compiled pass.
        decisions, (notional_row, notional), (unit_eq, unit_mm) = traders.plan(ctx, s)
        flow_calls, unfilled = flow.plan(ctx, s, t, self._last_levels, self.flow, venue)
        step_events += unfilled
        planned_rows = len(step_events)  # the LP withdrawals' rows go here (planned, not decoded)
        step_events += executed
        trade_events, trade_rows, sent, decode_trades = (
            traders.NO_TRADES  # most steps: no row decides, the block has no traders' call
            if decisions is traders.NO_DECISIONS
            else traders.execute(ctx, s, venue, decisions, self.wallet_units, t)
        )
        step_events += trade_events
        transactions += sent
        # The order flow's calls, then the market-making vault's, in block order.
        flow_block = flow.execute(ctx, venue, flow_calls, self.flow)
        trade_rows = [*trade_rows, *flow_block.rows]
        decoded: list = [decode_trades, flow_block.decoder(ctx, s, t)]
        flow_block.decoded = decoded  # no decoder after the flow's: it decodes in flow.record
        s.peak_price_usd = np.maximum(s.peak_price_usd, s.oracle_price_usd)
        lp_actions: list = []
        # The LPs' phase acts only when a market's LPs have not withdrawn and its price has
        # fallen to the drawdown's keep fraction of its peak: the planner's own test
        # (:func:`simulator.engine.lps.lps_may_withdraw`), one compiled call, first.
        if self.lps_withdraw and engine_lps.lps_may_withdraw(ctx, s):
            lp_rows: list[dict[str, Any]] = []  # decoded after the flow's planned rows
            withdrew = s.lps_withdrew.copy()
            lp_actions += lps.withdraw(ctx, s, self.spot, t, self._last_levels, lp_rows)
            lp_actions += backstop.lp_withdraw(  # the backstop vault's LPs, after the AMMs'
                ctx, s, venue, t, bool((s.lps_withdrew & ~withdrew).any()),
                self.start_s + (t - 1) * step_seconds, lp_rows,
            )  # fmt: skip
            step_events[planned_rows:planned_rows] = lp_rows
            transactions += len(lp_actions)
        vault_block = mm_vault.execute(
            ctx, s, venue, t, self._last_levels, decisions.close, self.flow, self.row_of, decoded
        )
        step_events += vault_block.rows
        transactions += flow_block.count + vault_block.count

        # ---- phase 2: keepers on the pending block ----------------------------------------------
        # The plan's unit sums are this step's own arrays (fresh from its compiled pass, read
        # nowhere else): the keepers' estimate, written in place where confirmed.
        eq, mm = unit_eq, unit_mm
        everyone = socialized or t % engine_keepers.FULL_REFRESH_STEPS == 0
        # The watch list, the units the block's calls touched, those confirmed (read, stored
        # in the traders' view and in eq / mm) and the keepers' plan (takeovers first with a
        # backstop vault): one compiled call on a fast venue (:func:`keepers.pending`).
        watch, touched, confirmed, targets, takeovers = keepers.pending(
            ctx, s, venue, t, eq, mm, notional_row, notional, trade_rows, everyone
        )

        # ---- the keepers' calls, then the ADL keeper's, in block order ------------------------
        # The ADL keeper acts on the ledgers after the keepers' calls when they may leave a
        # deficit (:func:`simulator.engine.keepers.may_leave_deficit`), else on the ledgers
        # before them; it ranks winners on the block after every call before its own (phase
        # 1's and the keepers'), as the chain engine does. The traders' view changes only when the block is decoded (after it all, in block order), as on chain.
        # The spot phase's inputs likewise: the pending read after phase 1 when the block had
        # one (units to confirm, or an LP withdrawal), else the last levels less the closes;
        # the state after the keepers' calls when they may leave a deficit.
        with_adl = self.with_adl
        # Before them: the pending read after phase 1 when the block had one (units to
        # confirm, or an LP withdrawal), else the last block's (a liquidation of the
        # market-making vault in phase 1 is then seen next block); the spot phase's inputs
        # likewise, without a read the last levels less the closes with the flow's and the
        # vault's trades; the state after the keepers' calls when they may leave a deficit.
        read_pending = confirmed > 0 or bool(lp_actions)
        ledgers = (
            (venue.ledgers() if read_pending else self._last_levels["ledgers"])
            if with_adl
            else None
        )
        spot_in = (
            spot.spot_inputs(ctx, venue, self.spot)
            if read_pending
            else mm_vault.quiet_spot_inputs(
                ctx, s, self._last_levels, decisions.close, self.flow, vault_block
            )
        )
        acted = targets.shape[0]
        after_keepers = acted > 0 and adl.leave_deficit(
            ctx, s, targets, eq, mm, spot_in["oi_long_base"], spot_in["oi_short_base"]
        )
        if acted:
            for u in targets[:takeovers]:
                step_events += backstop.execute(ctx, s, venue, int(u), t, decoded)
            step_events += keepers.execute_many(
                ctx, s, venue, targets[takeovers:], t, self.row_of, decoded
            )  # the liquidations in block order, batched
        transactions += acted
        if after_keepers:
            spot_in = spot.spot_inputs(ctx, venue, self.spot)
        winner_rows: set[int] = set()
        tab = self.level_tab
        # Fast mode: the last block's ledgers while every field is 0 are the run's zero
        # ledgers (:attr:`~simulator.mirror.sim.block_levels.LevelTab.zero_ledgers`), without
        # a deficit: no ADL call (:func:`adl.plan_and_execute` of them plans none).
        if with_adl and (after_keepers or tab is None or ledgers is not tab.zero_ledgers):
            # The chain engine reads the ranking on the pending block after phase 1 and the
            # keepers' calls: the venue's state now.
            adl_events, winner_rows, sent = adl.plan_and_execute(
                ctx, s, venue, venue.ledgers() if after_keepers else ledgers, t, self.row_of,
                decoded, vault_size_wad=spot_in["vault_size_wad"],
            )  # fmt: skip
            step_events += adl_events
            transactions += sent
        with_backstop = venue.backstop is not None
        if with_backstop:  # its unwind, after ADL, on its positions as the spot phase read them
            transactions += backstop.unwind(ctx, venue, spot_in["vault_size_wad"])
        # ---- phase 3b: arbitrageurs, then the hedger, on the spot AMMs -------------------------
        transactions += spot.run_phase(ctx, s, self.spot, t, spot_in)
        for decode in decoded:
            decode()
        if with_backstop:  # a takeover's rows (only a backstop vault takes over), decoded
            step_events = backstop.expand(step_events)
        step_events += flow.record(ctx, s, flow_block, t, self.flow)
        step_events += mm_vault.record(ctx, s, vault_block, t, self._last_levels)

        # ---- mined: levels, the touched and watched units read again, rows --------------------
        # Fast mode: the levels and the state's copies written in place, one compiled call
        # before the traders' view is read, one after (:mod:`~simulator.mirror.sim.block_levels`).
        levels = self._last_levels = self._levels(s)
        s.transactions += transactions
        if tab is None:
            s.margin_scale = levels["margin_scale"].copy()
            s.mm_vault_size_base = levels["mm_vault_size_base"].copy()
        # The candidates, sorted and distinct as the chain engine's, read and stored: one
        # compiled call on a fast venue (:func:`keepers.read_candidates`), after the block's
        # margin scale is the state's.
        keepers.read_candidates(ctx, s, venue, targets, touched, watch, winner_rows, everyone)
        if tab is not None:  # the PnL taken, the state's last levels, the rows or figures
            rows = tab.mined(ctx, s, t, step_seconds, self.symbols, exo, transactions,
                             step_events)  # fmt: skip
        else:
            ended = np.flatnonzero(s.outcome_step == t)  # then those whose PnL is not yet taken
            ended = ended[np.isnan(s.realized_pnl_usd[ended])]
            s.realized_pnl_usd[ended] = (
                s.trader.equity_usd[ended] - s.trader.collateral_in_usd[ended]
            )
            s.amm_price_usd = levels["amm_price_usd"].copy()
            rows = metrics.step_rows(
                t, step_seconds, self.symbols, exo, levels, step_events,
                transactions, previous_bad_debt_usd=s.last_bad_debt_usd,
                previous_fees_usd=s.last_fees_usd, outside_usd=s.outside_price_usd[t],
                figures=ctx.memo.get(metrics.FIGURES_MEMO),
            )  # fmt: skip
            s.last_bad_debt_usd = levels["bad_debt_usd"].copy()
            s.last_fees_usd = levels["fees_cum_usd"].copy()
            s.last_fund_usd = levels["insurance_fund_usd"]
        kinds = ctx.event_kinds
        if kinds is not None and step_events:  # the rarer kinds' rows were built: dropped here
            step_events = [e for e in step_events if e["kind"] in kinds]
        return rows, step_events

    # -- the loop ----------------------------------------------------------------------------------

    def run(
        self,
        *,
        on_step: Callable[[StepOutcome], None] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        """Every step, calling ``on_step`` with each outcome (step 0's with the opening book's
        orders, :func:`~simulator.engine.opening.with_opening`). Without ``on_step``, with
        ``events`` (a list): each step's event rows (step 0's with the opening book's) added
        to it, and no outcome built (a tuning path's, :func:`~simulator.mirror.run.
        evaluate_path`: its step rows are figures, ``ctx.memo``'s
        :class:`~simulator.engine.metrics.StepFigures`)."""
        steps = self.scenario.steps
        if on_step is None:  # the rows to a list, or to nothing: no outcome built
            advance = self._advance
            while self.state.step < steps:
                rows, step_events = advance()
                if events is None:
                    continue
                if self.state.step == 0:
                    step_events = with_opening(self.ctx, StepOutcome(rows, step_events)).events
                if step_events:
                    events += step_events
            return
        while self.state.step < steps:
            outcome = self.step()
            if self.state.step == 0:
                outcome = with_opening(self.ctx, outcome)
            if on_step is not None:
                on_step(outcome)

    def positions(self) -> list[dict]:
        """``positions.parquet`` rows (:func:`simulator.engine.positions.position_rows`)."""
        return position_rows(self.ctx, self.state)

    def summary_meta(self, wall_seconds: float) -> dict[str, Any]:
        """The chain runner's summary meta (:func:`simulator.runner._summary_meta`)."""
        book = self.world.book
        s = self.state
        return {
            "traders": len(np.unique(book.account[~book.start_flat])),
            "flow_accounts": len(np.unique(book.account[book.start_flat])),
            "steps": self.scenario.steps,
            "wall_seconds": round(wall_seconds, 3),
            "start_price": float(self.exogenous_usd[0, 0]),
            "bad_debt_usd": float(np.sum(s.last_bad_debt_usd)),
            "mm_vault_capital_usd": self.world.mm_vault_capital_usd,
            "markets": {
                symbol: {
                    "start_price": float(self.exogenous_usd[0, m]),
                    "bad_debt_usd": float(s.last_bad_debt_usd[m]),
                }
                for m, symbol in enumerate(self.symbols)
            },
        }


__all__ = ["MODES", "MirrorEngine"]
