"""The step loop: one step is one block, built in three phases and mined once.

For step ``t`` (block timestamp ``start + t·step_seconds``) each phase plans
:class:`~simulator.engine.context.Action` s from the state and what was read, and the loop
submits them in order:

1. **market phase** -- the oracle posts its price and the dynamic margin controller is poked
   (:mod:`~simulator.engine.oracle`); a scheduled governance change is submitted or executed
   (:mod:`~simulator.engine.governance`); traders act (:mod:`~simulator.engine.traders`:
   close, top up); LPs may withdraw (:mod:`~simulator.engine.lps`).
2. **keeper phase** -- keepers read the *pending* block (one batched ``healthOf``, with the
   spot phase's inputs) and send backstop takeovers and liquidations
   (:mod:`~simulator.engine.keepers`).
3. **spot phase** -- after the keepers' calls, one more pending read (ledger, open interest,
   AMM reserves, vault position): an ADL keeper covers outstanding bad debt under the QUEUE /
   PRO_RATA policy (:mod:`~simulator.engine.adl`), the backstop vault unwinds part of what it
   took over, arbitrageurs pull the AMM toward the next exogenous price and the pool's hedger
   sells or buys what the traders' net position changed (:mod:`~simulator.engine.spot`).

A quiet block (nobody near liquidation, no LP withdrawal, no bad debt) goes to the node in one
submit with no pending read. The block is mined and the levels and every account a call may
have changed are read in the same round trip; events are decoded
(:mod:`~simulator.engine.events`), a metrics row appended (:mod:`~simulator.engine.metrics`),
and the protocol's accounting invariants checked (:mod:`~simulator.engine.invariants`: a broken
invariant stops the run with a report). Nothing here is specific to anvil: the engine talks to
a :class:`Chain`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simulator.agents import traders as trader_agents
from simulator.chain.base import Chain
from simulator.chain.types import Call
from simulator.engine import adl, events, governance, keepers, lps, metrics, oracle, spot, traders
from simulator.engine.context import Action, Context
from simulator.engine.invariants import check_invariants
from simulator.engine.levels import Levels
from simulator.engine.positions import position_rows
from simulator.engine.state import OPEN, REFUSED, EngineState, StepOutcome
from simulator.pricepaths import OracleFaultSchedule, exogenous_prices
from simulator.world import World


class Engine:
    """Runs a :class:`World` through its scenario's steps on a :class:`Chain`."""

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
        self.symbol = scenario.market.market_symbol
        """The venue's market symbol (the ``market`` of its rows in the run folder)."""
        self.venue = world.venue
        self.feedback = scenario.controls.feedback if feedback is None else feedback
        streams = scenario.random_streams()
        self.rng = streams.agents
        self.exogenous_usd = (
            exogenous_usd
            if exogenous_usd is not None
            else exogenous_prices(
                scenario.price_path, scenario.steps, scenario.step_seconds, streams.price
            )
        )
        self.faults = OracleFaultSchedule.from_faults(scenario.oracle_faults, scenario.steps)
        p = world.params.market
        self.keeper_reward_fraction = p.liquidation_penalty_bps * p.keeper_share_bps / 1e8
        self.backstop_fraction = (
            p.backstop_fraction if world.params.buffers.backstop_enabled else None
        )
        self.adl_policy = p.adl_policy.value
        self.max_adl_accounts = p.max_adl_accounts_per_call
        self.amm_fee = world.params.amm.fee_bps / 1e4
        self.all_accounts = list(world.traders)
        self.vault_address = self.venue.backstop_vault.address
        # The attributes above stay for their readers (the runner's checkpoint, the benchmark,
        # tests); the phases read the same values from the context.
        self.ctx = Context(
            chain=chain,
            world=world,
            scenario=scenario,
            venue=self.venue,
            accounts=self.all_accounts,
            rng=self.rng,
            exogenous_usd=self.exogenous_usd,
            faults=self.faults,
            feedback=self.feedback,
            full_health_every_step=full_health_every_step,
            keeper_reward_fraction=self.keeper_reward_fraction,
            backstop_fraction=self.backstop_fraction,
            adl_policy=self.adl_policy,
            max_adl_accounts=self.max_adl_accounts,
            amm_fee=self.amm_fee,
            vault_address=self.vault_address,
        )
        self.levels = Levels(self.ctx)
        self._adl_winners: set[int] = set()
        governance.check_change(self.ctx)  # refuse a bad change before the run starts
        self.state = self._initial_state()

    # -- state ---------------------------------------------------------------------------------

    def _initial_state(self) -> EngineState:
        w = self.world
        n = len(w.traders)
        opened = w.opened
        # What the chain holds after the opens (a refused open: no position, the deposit kept).
        size = np.where(opened, w.opened_size_base, 0.0)
        price0 = float(self.exogenous_usd[0])
        trader = trader_agents.TraderState(
            side=np.asarray(w.book.side, dtype=np.int8).copy(),
            size_base=size.astype(np.float64),
            equity_usd=np.zeros(n),
            maintenance_usd=np.zeros(n),
            collateral_in_usd=np.asarray(w.collateral_in_usd, dtype=np.float64).copy(),
            entry_price_usd=np.where(opened, w.entry_price_usd, 0.0),
            wallet_usd=w.wallet_usd.copy(),
            read_price_usd=np.full(n, price0),
        )
        state = EngineState(
            trader=trader,
            liquidatable_since=np.full(n, -1, dtype=np.int64),
            takeover_refused=np.zeros(n, dtype=bool),
            outcome=np.where(opened, OPEN, REFUSED).astype(np.int8),
            outcome_step=np.where(opened, -1, 0).astype(np.int64),
            feed_prices_usd=[price0],
            oracle_price_usd=price0,
            hedged_base=float(np.sum(w.book.side * size)) * spot.HEDGE_RATIO,
            arb_inventory=np.array(
                [
                    [w.arbitrageur_capital_usd, w.arbitrageur_capital_usd / price0]
                    for _ in w.arbitrageurs
                ]
            ).reshape(-1, 2),
            hedger_inventory=np.array([w.hedger_base * price0, w.hedger_base]),
            peak_price_usd=price0,
        )
        traders.refresh_traders(self.ctx, state)
        reads = self._last_levels = self.levels.read()
        state.last_bad_debt_usd = reads["bad_debt_usd"]
        state.amm_price_usd = reads["amm_price_usd"]
        state.last_fees_usd = reads["fees_cum_usd"]
        state.last_fund_usd = reads["insurance_fund_usd"]
        return state

    def _level_views(self) -> list:
        """Market, AMM, fund and vault levels read after every block (:class:`Levels`)."""
        return list(self.levels.views)

    def refresh_levels(self) -> None:
        """Read the levels again (after the chain's state was replaced, e.g. on resume)."""
        self._last_levels = self.levels.read()

    # -- one step --------------------------------------------------------------------------------

    def step(self) -> StepOutcome:
        """Build, submit and mine step ``state.step + 1``'s block; return its rows."""
        s, ctx, chain = self.state, self.ctx, self.chain
        s.step += 1
        t = s.step
        chain.set_next_block_timestamp(
            self.world.start_timestamp_s + t * self.scenario.step_seconds
        )
        exo = float(self.exogenous_usd[t])
        step_events: list[dict[str, Any]] = []
        block: list[Action] = []

        # ---- phase 1: oracle, controller, governance, traders, LPs ---------------------------
        block += oracle.plan_oracle(ctx, s, t, exo)
        block += governance.plan_governance(ctx, s, t, step_events)
        decisions, trader_actions = traders.plan_traders(ctx, s)
        block += trader_actions
        s.peak_price_usd = max(s.peak_price_usd, s.oracle_price_usd)
        lp_actions = lps.plan_lp_withdrawals(ctx, s, t, self.levels, step_events)
        block += lp_actions

        # ---- phase 2: keepers on the pending block --------------------------------------------
        est_eq, est_mm = trader_agents.estimate(s.trader, s.oracle_price_usd)
        watch = keepers.watch_list(ctx, s, t, est_eq, est_mm)
        spot_views = spot.spot_views(ctx)
        quiet = not len(watch) and not lp_actions and self._last_levels["bad_debt_usd"] == 0
        if quiet:
            # A quiet block: nobody near liquidation, no bad debt to deleverage. The spot
            # phase's inputs are the last block's levels less the positions traders are closing
            # in this one, so the whole block goes to the node in one submit, with no read.
            spot_actions = self._spot_phase(
                spot.spot_inputs_after_closes(self._last_levels, s, decisions.close), t
            )
            block += spot_actions
            chain.submit([a.call for a in block])
            keepers.track_liquidatable(
                s, t, est_eq, est_mm, s.trader.size_base * s.oracle_price_usd
            )
        else:
            chain.submit([a.call for a in block])
            health_views = [traders.health_view(ctx, watch)] if len(watch) else []
            got = chain.read(health_views + spot_views, pending=True)
            health = got[0] if len(watch) else ((), (), (), ())
            spot_inputs = spot.parse_spot(ctx, got[-len(spot_views) :])
            eq_w, mm_w, size_w = traders.store_health(s, watch, health)
            eq, mm = est_eq.copy(), est_mm.copy()
            notional = s.trader.size_base * s.oracle_price_usd
            eq[watch], mm[watch], notional[watch] = eq_w, mm_w, size_w * s.oracle_price_usd
            keeper_actions = keepers.plan_keepers(ctx, s, t, eq, mm, notional)
            chain.submit([a.call for a in keeper_actions])
            block += keeper_actions

            # ---- phase 3: ADL, vault unwind, arbitrageurs, hedger ----------------------------
            if keeper_actions:  # the keepers changed the book: read the spot inputs again
                spot_inputs = spot.parse_spot(ctx, chain.read(spot_views, pending=True))
            spot_actions = self._spot_phase(spot_inputs, t)
            chain.submit([a.call for a in spot_actions])
            block += spot_actions

        # Every account a call of this block may have changed (closes, top-ups, keepers'
        # targets, ADL winners) is read again with the levels, in the mining round trip.
        kinds = [(a.kind, a.who) for a in block]
        candidates = np.array(
            sorted({who for kind, who in kinds if who >= 0 and kind != "arb"} | self._adl_winners),
            dtype=np.int64,
        )
        self._adl_winners = set()
        extra = [traders.health_view(ctx, candidates)] if len(candidates) else []
        results, after = chain.mine_and_read(self.levels.views + extra)
        s.transactions += len(results)
        if self.recorded_calls is not None:
            self.recorded_calls.append([a.call for a in block])
            self.recorded_statuses.append([r.ok for r in results])
        step_events += events.decode_block(ctx, s, results, kinds, t)
        keepers.record_refused_takeovers(s, results, kinds)
        levels = self._last_levels = self.levels.parse(after)
        if len(candidates):
            traders.store_health(s, candidates, levels["extra"][0])
        events.update_inventories(s, results, kinds)
        s.amm_price_usd = levels["amm_price_usd"]
        events.with_market(step_events, self.symbol)
        rows = metrics.step_rows(
            t, self.scenario.step_seconds, self.symbol, exo, levels, step_events, len(results),
            previous_bad_debt_usd=s.last_bad_debt_usd, previous_fees_usd=s.last_fees_usd,
        )  # fmt: skip
        s.last_bad_debt_usd, s.last_fees_usd = levels["bad_debt_usd"], levels["fees_cum_usd"]
        check_invariants(ctx, s, t, levels)
        return StepOutcome(rows=rows, events=step_events)

    def _spot_phase(self, levels: dict[str, Any], t: int) -> list[Action]:
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
        """Step until ``until_step`` (default: the scenario's last step), calling ``on_step``
        with every step's outcome."""
        last = self.scenario.steps if until_step is None else min(until_step, self.scenario.steps)
        while self.state.step < last:
            outcome = self.step()
            if on_step is not None:
                on_step(outcome)

    def positions(self) -> list[dict]:
        """One row per trader's opening position with its outcome (positions.parquet; see
        :func:`~simulator.engine.positions.position_rows`)."""
        return position_rows(self.ctx, self.state)
