"""The step loop: one step is one block, built in three phases and mined once.

For step ``t`` (block timestamp ``start + t·step_seconds``) each phase plans
:class:`~simulator.engine.context.Action` s from the state and what was read, and the loop
submits them in order:

Every phase covers every market of the venue in the same block and the same round trips: the
number of round trips of a step does not depend on the number of markets.

1. **market phase** -- every market's oracle posts its price and the dynamic margin controller
   pokes them all (:mod:`~simulator.engine.oracle`); a scheduled governance change is
   submitted or executed (:mod:`~simulator.engine.governance`); traders act
   (:mod:`~simulator.engine.traders`: close a position, top up); LPs may withdraw
   (:mod:`~simulator.engine.lps`).
2. **keeper phase** -- keepers act on their estimate of every margin unit, carried from its
   last read, and read the *pending* block first (one batched ``healthOf`` over the cross
   accounts and one ``isolatedHealth`` per isolated position, with the spot phase's inputs)
   only for the units the estimate cannot decide; they send backstop takeovers and
   liquidations (:mod:`~simulator.engine.keepers`).
3. **spot phase** -- on the state before this block's liquidations (the pending read when the
   block had one, else the last block's levels with this block's own orders): the ADL keeper
   covers every market's outstanding bad debt under its policy (:mod:`~simulator.engine.adl`;
   one ranking read for all markets), the backstop vault unwinds part of what it took over,
   arbitrageurs pull every AMM toward its next exogenous price and the pool's hedger sells or
   buys what the traders' net position changed (:mod:`~simulator.engine.spot`). What the
   keepers' calls change (open interest, deficits, the vault's positions) they see in the
   mined state, from the next block on, as the off-chain agents they model would.

The keepers' calls and the spot phase go to the node in one submit; a block with no unit to
confirm goes in one submit with no pending read at all (an LP withdrawal of AMM liquidity is
the one other reason to read the pending block: it moves the reserves the arbitrageurs
trade against). The block is mined and the levels, the keepers' watch list and every margin
unit a call may have changed are read on it (:meth:`Chain.mine_then_read`: on anvil the node
computes those views while the engine decodes the block's events,
:mod:`~simulator.engine.events`), a metrics row appended (:mod:`~simulator.engine.metrics`),
and the protocol's accounting invariants checked (:mod:`~simulator.engine.invariants`: a broken
invariant stops the run with a report). Nothing here is specific to anvil: the engine talks to
a :class:`Chain`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.chain.base import Chain
from simulator.chain.types import Call
from simulator.engine import adl, events, governance, keepers, lps, metrics, oracle, spot, traders
from simulator.engine import defi as defi_phase
from simulator.engine import flow as order_flow
from simulator.engine import mm_vault as mm_vault_phase
from simulator.engine.context import Action, Context
from simulator.engine.invariants import check_gas, check_invariants
from simulator.engine.levels import Levels
from simulator.engine.margin import MarginUnits
from simulator.engine.opening import opening_fees_by_market, with_opening
from simulator.engine.positions import position_rows
from simulator.engine.state import (
    EngineState,
    StepOutcome,
    advance_funding_index,
    opening_state,
)
from simulator.world import TOP_UP_WALLET_MULTIPLE, World, WorldError


class Engine:
    """Runs a :class:`World` through its scenario's steps on a :class:`Chain`.

    ``exogenous_usd``: the exogenous price of every market at every step, shape
    (steps + 1, M) (a one-market path may be 1-d); default the world's inputs."""

    def __init__(
        self,
        chain: Chain,
        world: World,
        *,
        feedback: bool | None = None,
        exogenous_usd: np.ndarray | None = None,
        record_calls: bool = False,
        full_health_every_step: bool = False,
    ):
        self.chain = chain
        self.full_health_every_step = full_health_every_step
        """Confirm every open position on chain each step (no off-chain watch list)."""
        self.recorded_calls: list[list[Call]] | None = [] if record_calls else None
        self.recorded_statuses: list[list[bool]] = []
        """With ``record_calls``: every step's calls in block order (for the benchmark's
        replay of the same blocks without the engine)."""
        self.world = world
        self.scenario = scenario = world.scenario
        self.symbols = list(world.symbols)
        """The venue's market symbols (the ``market`` of their rows in the run folder)."""
        self.venue = world.venue
        self.feedback = scenario.controls.feedback if feedback is None else feedback
        self.rng = scenario.random_streams().agents
        exo = world.inputs.exogenous_usd if exogenous_usd is None else exogenous_usd
        exo = np.asarray(exo, dtype=np.float64)
        self.exogenous_usd = exo.reshape(-1, 1) if exo.ndim == 1 else exo
        if self.exogenous_usd.shape != (scenario.steps + 1, len(self.symbols)):
            raise WorldError(
                f"exogenous prices have shape {self.exogenous_usd.shape}, the run needs "
                f"({scenario.steps + 1}, {len(self.symbols)}): steps + 1 by markets"
            )
        markets = [m.params for m in world.params.markets]
        vault = world.venue.vault
        self.ctx = Context(
            chain=chain,
            world=world,
            scenario=scenario,
            venue=self.venue,
            accounts=list(world.accounts),
            units=MarginUnits.of_book(world.book, [m.maintenance_margin_fraction for m in markets]),
            rng=self.rng,
            exogenous_usd=self.exogenous_usd,
            faults=world.inputs.faults,
            feedback=self.feedback,
            full_health_every_step=full_health_every_step,
            keeper_reward_fraction=np.array(
                [p.liquidation_penalty_bps * p.keeper_share_bps / 1e8 for p in markets]
            ),
            backstop_fraction=(
                np.array([p.backstop_fraction for p in markets]) if vault is not None else None
            ),
            adl_policy=[p.adl_policy.value for p in markets],
            max_adl_accounts=np.array([p.max_adl_accounts_per_call for p in markets]),
            amm_fee=np.array([m.amm.fee_bps / 1e4 for m in world.params.markets]),
            vault_address=vault.address if vault is not None else None,
        )
        self.levels = Levels(self.ctx)
        self._spot_views = spot.spot_views(self.ctx)
        """What the spot phase reads of a pending block (built once: the same views every step)."""
        self._adl_winners: set[int] = set()
        governance.check_change(self.ctx)  # refuse a bad change before the run starts
        self.flow = order_flow.flow_run(self.ctx)
        """The order flow (None without ``order_flow``), :mod:`simulator.engine.flow`."""
        self.state = self._initial_state()
        self.defi = defi_phase.DefiDriver(self.ctx, world.defi) if world.defi is not None else None
        """The contagion world's users (None without ``world:``), :mod:`simulator.engine.defi`."""
        if self.defi is not None:
            self.defi.parse(chain.read(self.defi.views))

    # -- state ---------------------------------------------------------------------------------

    def _initial_state(self) -> EngineState:
        w, ctx = self.world, self.ctx
        book, n_markets = w.book, len(self.symbols)
        price0 = self.exogenous_usd[0].copy()
        signed = book.side * np.where(w.opened, w.opened_size_base, 0.0)
        capital = w.arbitrageur_capital_usd
        state = opening_state(
            w, ctx.units.count, price0, self.scenario.steps,
            wallet_multiple=TOP_UP_WALLET_MULTIPLE,
            hedged_base=np.bincount(book.market, weights=signed, minlength=n_markets)
            * spot.HEDGE_RATIO,
            arb_inventory=np.array(
                [[[capital, capital / p] for p in price0] for _ in w.arbitrageurs], dtype=np.float64
            ).reshape(len(w.arbitrageurs), n_markets, 2),
            hedger_inventory=np.stack([w.hedger_base * price0, w.hedger_base], axis=1),
        )  # fmt: skip
        order_flow.init_state(ctx, state)
        reads = self._last_levels = self.levels.read()
        state.margin_scale = reads["margin_scale"].copy()
        state.last_socialized_usd = reads["socialized_cum_usd"].copy()
        if "mm_vault_size_base" in reads:
            state.mm_vault_size_base = reads["mm_vault_size_base"].copy()
        traders.refresh_traders(ctx, state)
        state.last_bad_debt_usd = reads["bad_debt_usd"].copy()
        state.amm_price_usd = reads["amm_price_usd"].copy()
        # Step 0's fees include the opening trades' (:mod:`~simulator.engine.opening`).
        state.last_fees_usd = reads["fees_cum_usd"] - opening_fees_by_market(ctx)
        state.last_fund_usd = reads["insurance_fund_usd"]
        state.step = -1  # no block mined yet: the first is step 0's
        return state

    def refresh_levels(self) -> None:
        """Read the levels again (after the chain's state was replaced, e.g. on resume)."""
        self._last_levels = self.levels.read()

    # -- one step --------------------------------------------------------------------------------

    def step(self) -> StepOutcome:
        """Build, submit and mine step ``state.step + 1``'s block; return its rows."""
        s, ctx, chain = self.state, self.ctx, self.chain
        units, book = ctx.units, self.world.book
        s.step += 1
        t = s.step
        chain.set_next_block_timestamp(
            self.world.start_timestamp_s + t * self.scenario.step_seconds
        )
        exo = self.exogenous_usd[t]
        step_events: list[dict] = []
        block: list[Action] = []

        # ---- phase 1: oracles, controller, governance, traders, LPs ---------------------------
        block += oracle.plan_oracle(ctx, s, t, exo)
        if self.defi is not None:  # the world's users, on the last block's read
            block += self.defi.plan(t, block)
        last = self._last_levels
        advance_funding_index(
            s, last["funding_rate_per_day"], self.scenario.step_seconds, s.oracle_price_usd
        )
        # A loss charged through the funding indices in the last block (socialized) is not in
        # the engine's funding index: keepers then read every unit again.
        socialized = bool((last["socialized_cum_usd"] > s.last_socialized_usd).any())
        s.last_socialized_usd = last["socialized_cum_usd"].copy()
        block += governance.plan_governance(ctx, s, t, step_events)
        decisions, trader_actions, (est_eq, est_mm) = traders.plan_traders(ctx, s)
        block += trader_actions
        block += order_flow.plan_flow(ctx, s, t, self._last_levels, self.flow, step_events)
        s.peak_price_usd = np.maximum(s.peak_price_usd, s.oracle_price_usd)
        lp_actions = lps.plan_lp_withdrawals(ctx, s, t, self.levels, step_events)
        block += lp_actions
        block += mm_vault_phase.plan_mm_vault(
            ctx, s, t, self._last_levels, decisions.close, self.flow
        )

        # ---- phase 2: keepers on the pending block --------------------------------------------
        # Keepers act on every unit's estimate carried to this step (the traders' own, computed
        # once in plan_traders; the flow's opens since change no size) and read on chain only
        # the units the estimate cannot decide (:func:`keepers.confirm_list`), among them the
        # ones a call of this block already changes (a top-up's deposit can revert).
        prices = s.oracle_price_usd[book.market]
        eq, mm = units.unit_sum(est_eq), units.unit_sum(est_mm)
        notional_row = s.trader.size_base * prices
        notional = units.unit_sum(notional_row)
        everyone = socialized or t % keepers.FULL_REFRESH_STEPS == 0
        watch = keepers.watch_list(ctx, s, t, eq, mm, notional, everyone=everyone)
        touched = self._units_touched(block)
        confirm = keepers.confirm_list(ctx, watch, eq, mm, notional_row, touched, everyone=everyone)
        # What the watch list alone confirms decides whether phase 3 uses the pending read,
        # also under ``full_health_every_step``: that check reads everyone for the keepers
        # only, so that the two runs differ in nothing but the keepers' inputs.
        own = (
            keepers.confirm_list(
                ctx, watch, eq, mm, notional_row, touched, everyone=everyone, full=False
            )
            if ctx.full_health_every_step
            else confirm
        )
        spot_inputs = None
        submitted = bool(len(confirm))
        if submitted:
            chain.submit([a.call for a in block])
            health = traders.health_views(ctx, confirm)
            got = chain.read(health + self._spot_views, pending=True)
            if len(own):
                spot_inputs = spot.parse_spot(ctx, got[len(health) :])
            eq[confirm], mm[confirm] = traders.store_health(
                ctx, s, confirm, got[: len(health)], keep=np.isin(confirm, watch)
            )
        if lp_actions and spot_inputs is None:
            # An LP withdrawal of AMM liquidity in this block moves reserves the estimate
            # below does not know: the arbitrageurs read them.
            if not submitted:
                chain.submit([a.call for a in block])
                submitted = True
            spot_inputs = spot.parse_spot(ctx, chain.read(self._spot_views, pending=True))
        keeper_actions = keepers.plan_keepers(ctx, s, t, eq, mm, notional_row)

        # ---- phase 3: ADL, vault unwind, arbitrageurs, hedger --------------------------------
        # Their inputs are the state before the keepers' calls: the pending read when the
        # block had one, else the last block's levels with this block's own orders (the
        # traders' closes, the flow, the market-making vault's trades). What the keepers' calls
        # change in open interest and the backstop vault's positions, the hedger and the vault
        # see in the mined state, from the next block on, as the off-chain agents they model
        # would. A deficit is the exception: when a liquidation may leave one
        # (:func:`keepers.may_leave_deficit`), the pending block is read after the keepers'
        # calls, so that ADL covers it in the same block, as the venues run it.
        if spot_inputs is None:
            spot_inputs = mm_vault_phase.after_vault_trades(
                s,
                order_flow.spot_inputs_after_flow(
                    spot.spot_inputs_after_closes(ctx, self._last_levels, s, decisions.close),
                    self.flow,
                ),
                self._last_levels,
            )
        if keepers.may_leave_deficit(
            ctx,
            s,
            keeper_actions,
            eq,
            mm,
            spot_inputs["oi_long_base"],
            spot_inputs["oi_short_base"],
        ):
            chain.submit(
                [a.call for a in (keeper_actions if submitted else block + keeper_actions)]
            )
            submitted = True
            block += keeper_actions
            keeper_actions = []
            spot_inputs = spot.parse_spot(ctx, chain.read(self._spot_views, pending=True))
        elif (keeper_actions or not submitted) and adl.has_work(ctx, s, spot_inputs):
            # The ADL keeper ranks its winners on the pending block (one read in
            # :func:`adl.plan_adl`): every call before its own goes to the node first -- the
            # block's oracle pushes, closes and top-ups when nothing was sent yet, and the
            # keepers' calls --, so that the ranking it sends is the one the venue checks its
            # `adl` call against (read before them, a price push or a top-up could reorder it
            # and the call revert ``AdlRankingOutOfOrder``).
            chain.submit(
                [a.call for a in (keeper_actions if submitted else block + keeper_actions)]
            )
            submitted = True
            block += keeper_actions
            keeper_actions = []
        pending = keeper_actions + self._spot_phase(spot_inputs, t)
        chain.submit([a.call for a in (pending if submitted else block + pending)])
        block += pending

        # Every margin unit a call of this block may have changed (closes, top-ups, keepers'
        # targets, ADL winners) is read again with the levels, in the mining round trip.
        rows = {a.who for a in block if a.who >= 0 and a.kind != "arb"} | self._adl_winners
        touched = {a.unit for a in block if a.unit >= 0}
        touched |= set(units.unit_of_row[np.fromiter(rows, dtype=np.int64, count=len(rows))])
        if not everyone:  # the watch list read after every block: the next estimate's base
            touched |= set(watch.tolist())
        candidates = np.array(sorted(touched), dtype=np.int64)
        self._adl_winners = set()
        extra = traders.health_views(ctx, candidates) if len(candidates) else []
        world_views = self.defi.views if self.defi is not None else []
        # The node computes the views while this block's events are decoded below
        # (:meth:`Chain.mine_then_read`); nothing in between talks to the chain.
        results, collect = chain.mine_then_read(self.levels.views + extra + world_views)
        after = None
        if world_views:
            after = collect()
            self.defi.parse(after[len(after) - len(world_views) :])
            after = after[: len(after) - len(world_views)]
        s.transactions += len(results)
        if self.recorded_calls is not None:
            self.recorded_calls.append([a.call for a in block])
            self.recorded_statuses.append([r.ok for r in results])
        check_gas(t, results, [a.call for a in block])
        step_events += events.decode_block(ctx, s, *defi_phase.venue_only(results, block), t)
        step_events += order_flow.record_flow(ctx, s, results, block, t, self.flow)
        step_events += mm_vault_phase.event_rows(ctx, s, results, block, t, self._last_levels)
        keepers.record_refused_takeovers(s, results, block)
        self.levels.track(results)
        if after is None:
            after = collect()
        levels = self._last_levels = self.levels.parse(after)
        s.margin_scale = levels["margin_scale"].copy()
        if "mm_vault_size_base" in levels:
            s.mm_vault_size_base = levels["mm_vault_size_base"].copy()
        if len(candidates):
            traders.store_health(ctx, s, candidates, levels["extra"])
        ended = np.flatnonzero((s.outcome_step == t) & np.isnan(s.realized_pnl_usd))
        s.realized_pnl_usd[ended] = s.trader.equity_usd[ended] - s.trader.collateral_in_usd[ended]
        events.update_inventories(s, results, block)
        s.amm_price_usd = levels["amm_price_usd"].copy()
        out_rows = metrics.step_rows(
            t, self.scenario.step_seconds, self.symbols, exo, levels, step_events, len(results),
            previous_bad_debt_usd=s.last_bad_debt_usd, previous_fees_usd=s.last_fees_usd,
            outside_usd=s.outside_price_usd[t],
        )  # fmt: skip
        if self.defi is not None:
            liquidations, world_rows = self.defi.record(results, block, t)
            self.defi.add_columns(out_rows, liquidations)
            step_events += world_rows
        s.last_bad_debt_usd = levels["bad_debt_usd"].copy()
        s.last_fees_usd = levels["fees_cum_usd"].copy()
        s.last_fund_usd = levels["insurance_fund_usd"]
        check_invariants(ctx, s, t, levels)
        return StepOutcome(rows=out_rows, events=step_events)

    def _units_touched(self, block: list[Action]) -> np.ndarray:
        """Margin units a call already in ``block`` changes in a way the carried estimate
        does not see (a close, a trade, a top-up: its deposit may revert, e.g. on an empty
        wallet; a keeper's target)."""
        units = self.ctx.units
        rows = [a.who for a in block if a.who >= 0 and a.kind != "arb"]
        touched = {a.unit for a in block if a.unit >= 0}
        touched.update(units.unit_of_row[np.asarray(rows, dtype=np.int64)].tolist())
        return np.fromiter(touched, dtype=np.int64, count=len(touched))

    def _spot_phase(self, levels: dict, t: int) -> list[Action]:
        """Phase 3 from the spot inputs ``levels``: ADL, the vault's unwind, arbitrageurs and
        the hedger, in that order; remembers the ADL winners to read after the block."""
        adl_actions, self._adl_winners = adl.plan_adl(self.ctx, self.state, levels)
        return (
            adl_actions
            + spot.plan_vault_unwind(self.ctx, levels)
            + spot.plan_spot(self.ctx, self.state, t, levels)
        )

    # -- the loop ----------------------------------------------------------------------------------

    def run(
        self, *, until_step: int | None = None, on_step: Callable[[StepOutcome], None] | None = None
    ) -> None:
        """Step from step 0 until ``until_step`` (default: the scenario's last step), calling
        ``on_step`` with every step's outcome. Step 0's carries the opening book's orders
        (:func:`~simulator.engine.opening.with_opening`)."""
        last = self.scenario.steps if until_step is None else min(until_step, self.scenario.steps)
        while self.state.step < last:
            outcome = self.step()
            if self.state.step == 0:
                outcome = with_opening(self.ctx, outcome)
            if on_step is not None:
                on_step(outcome)

    def positions(self) -> list[dict]:
        """One row per position of the book with its outcome (positions.parquet; see
        :func:`~simulator.engine.positions.position_rows`)."""
        return position_rows(self.ctx, self.state)
