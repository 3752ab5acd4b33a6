"""The step loop: one step is one block, built in three phases and mined once.

For step ``t`` (block timestamp ``start + t·step_seconds``):

1. **market phase** -- the oracle posts its price (the AMM's spot price at the end of the
   previous block with feedback on, the exogenous price with it off; oracle faults on top);
   the dynamic margin controller is poked; a scheduled governance change is submitted or
   executed; traders act (vectorized decisions: close, top up); LPs may withdraw.
2. **keeper phase** -- keepers read the *pending* block (one batched ``healthOf``), and send
   backstop takeovers and liquidations within their capacity, delay and profit threshold.
3. **spot phase** -- one more pending read (open interest, AMM reserves, bad debt, ADL ranks):
   an ADL keeper covers outstanding bad debt under the QUEUE / PRO_RATA policy, the backstop
   vault unwinds part of what it took over, the pool's hedger sells or buys on the AMM what the
   traders' net position changed (forced selling moves the spot price here), and arbitrageurs
   pull the AMM toward the next exogenous price with their limited capital.

The block is mined, events decoded, state read back in one batched read, a metrics row
appended, and the protocol's accounting invariants checked (a broken invariant stops the run
with a report). Nothing here is specific to anvil: the engine talks to a :class:`Chain`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from simulator import metrics
from simulator.agents import keepers as keeper_agents
from simulator.agents import liquidity
from simulator.agents import traders as trader_agents
from simulator.chain.base import Chain
from simulator.chain.types import Call, TxResult
from simulator.errors import PerpsimError
from simulator.pricepaths import OracleFaultSchedule, exogenous_prices
from simulator.protocol.params import WAD, to_units, to_wad
from simulator.world import World

USD_UNITS = 10**6
#: Share of the backstop vault's position it closes per block while unwinding (fraction).
VAULT_UNWIND_SHARE_PER_STEP = 0.1
#: The hedger keeps the pool this fraction delta-neutral (1 = fully hedged).
HEDGE_RATIO = 1.0
#: Keepers confirm on chain every account whose estimated equity is under this multiple of its
#: estimated maintenance margin (the estimate misses only funding and fees since the last read).
WATCH_MARGIN_RATIO = 2.0
#: Every this many steps keepers (and traders) read every open position on chain.
FULL_REFRESH_STEPS = 30
#: Accounting invariant tolerance: 1 collateral base unit per 1,000 accounts of rounding (USD).
INVARIANT_TOLERANCE_USD = 1e-6


class InvariantViolation(PerpsimError):
    """The protocol's accounting broke during a run; the message says which and where."""


@dataclass
class StepOutcome:
    row: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class EngineState:
    """Everything the loop carries from step to step (checkpointed for resume)."""

    step: int = 0
    trader: trader_agents.TraderState | None = None
    liquidatable_since: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
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


# Outcome codes of positions.parquet. REFUSED: the venue reverted the opening trade (a random
# population's trader over an OI cap, say); the trader holds its deposit and no position.
OPEN, CLOSED, LIQUIDATED, BACKSTOPPED, ADL, REFUSED = range(6)
OUTCOME_NAMES = ("open", "closed", "liquidated", "backstopped", "adl", "refused")


def _usd(wad: int) -> float:
    return wad / WAD


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
        self._level_views_cache = self._level_views()
        self._adl_winners: set[int] = set()
        change = scenario.controls.governance_change
        if change is not None:  # refuse a bad change before the run starts, not mid-shock
            if change.path == "timelock":
                self._timelock_target_call(change.parameter, change.value)
            else:
                self._guardian_call(change.parameter, change.value)
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
            outcome=np.where(opened, OPEN, REFUSED).astype(np.int8),
            outcome_step=np.where(opened, -1, 0).astype(np.int64),
            feed_prices_usd=[price0],
            oracle_price_usd=price0,
            hedged_base=float(np.sum(w.book.side * size)) * HEDGE_RATIO,
            arb_inventory=np.array(
                [
                    [w.arbitrageur_capital_usd, w.arbitrageur_capital_usd / price0]
                    for _ in w.arbitrageurs
                ]
            ).reshape(-1, 2),
            hedger_inventory=np.array([w.hedger_base * price0, w.hedger_base]),
            peak_price_usd=price0,
        )
        self._refresh_traders(state)
        reads = self._last_levels = self._read_levels()
        state.last_bad_debt_usd = reads["bad_debt_usd"]
        state.amm_price_usd = reads["amm_price_usd"]
        state.last_fees_usd = reads["fees_cum_usd"]
        state.last_fund_usd = reads["insurance_fund_usd"]
        return state

    def _health_view(self, indices: np.ndarray):
        return self.venue.market.health_of([self.all_accounts[i] for i in indices])

    def _store_health(
        self, state: EngineState, indices: np.ndarray, health
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Write a ``healthOf`` result for ``indices`` into the trader arrays; return (equity,
        maintenance, size) in USD / base units."""
        equities, maintenance, sizes, _ = health
        t = state.trader
        eq = np.array(equities, dtype=np.float64) / WAD
        mm = np.array(maintenance, dtype=np.float64) / WAD
        size = np.abs(np.array(sizes, dtype=np.float64)) / WAD
        t.equity_usd[indices], t.maintenance_usd[indices], t.size_base[indices] = eq, mm, size
        t.read_price_usd[indices] = state.oracle_price_usd
        return eq, mm, size

    def _refresh_traders(self, state: EngineState) -> None:
        """Read every trader's equity, maintenance margin and size (one batched view)."""
        everyone = np.arange(len(self.all_accounts))
        self._store_health(state, everyone, self.chain.read([self._health_view(everyone)])[0])

    def _level_views(self) -> list:
        """Market, AMM, fund and vault levels read after every block."""
        v = self.venue
        return [
            v.market.accounting(),
            v.market.open_interest(),
            v.market.index_price(),
            v.market.fill_price(0),
            v.amm.reserves(),
            v.insurance_fund.balance(),
            v.market.funding_rate_per_day(),
            v.backstop_vault.total_assets(),
            v.backstop_vault.total_supply(),
            v.collateral.balance_of(v.market.address),
            v.market.account_of(self.vault_address),
        ]

    def _parse_levels(self, results: list) -> dict[str, Any]:
        """The results of :meth:`_level_views` (then any extra views, under ``"extra"``)."""
        n = len(self._level_views_cache)
        (acc, oi, index, mark, reserves, fund, funding, vault_assets, vault_supply, market_units,
         vault_account) = results[:n]  # fmt: skip
        acc = self.venue.market._as_dict("accounting", acc)
        reserve_usd = reserves[0] / USD_UNITS
        reserve_base = reserves[1] / WAD
        return {
            "accounting": acc,
            "oi_long_base": oi[0] / WAD,
            "oi_short_base": oi[1] / WAD,
            "index_usd": _usd(index),
            "mark_usd": _usd(mark),
            "amm_reserve_usd": reserve_usd,
            "amm_reserve_base": reserve_base,
            "amm_price_usd": reserve_usd / reserve_base if reserve_base else math.nan,
            "insurance_fund_usd": fund / USD_UNITS,
            "funding_rate_per_hour": _usd(funding) / 24.0,
            "vault_assets_usd": vault_assets / USD_UNITS,
            "vault_supply": vault_supply,
            "market_token_units": market_units,
            "vault_size_wad": vault_account[0],
            "bad_debt_usd": (acc["badDebtLongs"] + acc["badDebtShorts"]) / WAD,
            "fees_cum_usd": (acc["protocolFees"] + acc["paidToInsurance"] + acc["keeperRewards"])
            / WAD,
            "extra": results[n:],
        }

    def refresh_levels(self) -> None:
        """Read the levels again (after the chain's state was replaced, e.g. on resume)."""
        self._last_levels = self._read_levels()

    def _read_levels(self, pending: bool = False, extra: list | None = None) -> dict[str, Any]:
        """:meth:`_level_views` (and ``extra``) in one batched read."""
        return self._parse_levels(
            self.chain.read(self._level_views_cache + list(extra or []), pending=pending)
        )

    # -- one step --------------------------------------------------------------------------------

    def step(self) -> StepOutcome:
        s = self.state
        s.step += 1
        t = s.step
        sc = self.scenario
        v = self.venue
        chain = self.chain
        chain.set_next_block_timestamp(self.world.start_timestamp_s + t * sc.step_seconds)
        exo = float(self.exogenous_usd[t])
        events: list[dict[str, Any]] = []
        calls: list[Call] = []
        kinds: list[tuple[str, int]] = []  # (kind, trader index or -1) per call

        # ---- phase 1: oracle, controller, governance, traders, LPs ---------------------------
        # The source the oracle reads this step: the AMM's price at the end of the last block
        # (feedback on) or the exogenous price (off). Faults act on the source's history.
        s.feed_prices_usd.append(s.amm_price_usd if self.feedback else exo)
        feed = self.faults.feed(t, s.feed_prices_usd)
        if feed is not None:
            calls.append(v.push_price(to_wad(round(feed, 8))))
            kinds.append(("oracle", -1))
            s.oracle_price_usd = feed
        if self.world.params.controller.enabled:
            calls.append(
                v.controller.poke(self.world.keepers[0] if self.world.keepers else v.deployer)
            )
            kinds.append(("controller", -1))
        calls += self._governance_calls(t, events, kinds)

        decisions = trader_agents.decide(s.trader, self.world.book, s.oracle_price_usd, self.rng)
        for i in decisions.close:
            calls.append(v.market.close_position(self.all_accounts[i]))
            kinds.append(("close", int(i)))
        for i, amount in zip(decisions.top_up, decisions.top_up_usd, strict=True):
            calls.append(v.market.deposit(self.all_accounts[i], to_units(round(float(amount), 6))))
            kinds.append(("top_up", int(i)))
        s.peak_price_usd = max(s.peak_price_usd, s.oracle_price_usd)
        lp_calls = self._lp_calls(s, events, kinds, t)
        calls += lp_calls

        # ---- phase 2: keepers on the pending block --------------------------------------------
        # Keepers watch every position off chain (equity carried to the new price) and confirm
        # the ones near liquidation, plus everyone every FULL_REFRESH_STEPS, with one batched
        # ``healthOf`` on the pending block. That read is also the traders' view of their
        # accounts for the next step's decisions.
        est_eq, est_mm = trader_agents.estimate(s.trader, s.oracle_price_usd)
        active = s.trader.size_base > 0
        if t % FULL_REFRESH_STEPS == 0 or self.full_health_every_step:
            watch = np.flatnonzero(active)
        else:
            watch = np.flatnonzero(
                active & ((est_eq < WATCH_MARGIN_RATIO * est_mm) | (s.liquidatable_since >= 0))
            )
        spot_views = self._spot_views()
        quiet = not len(watch) and not lp_calls and self._last_levels["bad_debt_usd"] == 0
        if quiet:
            # A quiet block: nobody near liquidation, no bad debt to deleverage. The spot
            # phase's inputs are the last block's levels less the positions traders are closing
            # in this one, so the whole block goes to the node in one submit, with no read.
            spot_calls = self._spot_phase(
                s, t, kinds, self._spot_inputs_after_closes(decisions.close)
            )
            chain.submit(calls + spot_calls)
            calls += spot_calls
            s.liquidatable_since = keeper_agents.update_liquidatable_since(
                s.liquidatable_since, est_eq, est_mm, s.trader.size_base * s.oracle_price_usd, t
            )
        else:
            chain.submit(calls)
            got = chain.read(
                ([self._health_view(watch)] if len(watch) else []) + spot_views, pending=True
            )
            health = got[0] if len(watch) else ((), (), (), ())
            spot_inputs = self._parse_spot(got[-len(spot_views) :])
            eq_w, mm_w, size_w = self._store_health(s, watch, health)
            eq, mm = est_eq.copy(), est_mm.copy()
            notional = s.trader.size_base * s.oracle_price_usd
            eq[watch], mm[watch], notional[watch] = eq_w, mm_w, size_w * s.oracle_price_usd
            s.liquidatable_since = keeper_agents.update_liquidatable_since(
                s.liquidatable_since, eq, mm, notional, t
            )
            ks = sc.keepers
            plan = keeper_agents.plan_liquidations(
                eq, mm, notional, s.liquidatable_since, t,
                capacity=ks.count * ks.max_liquidations_per_block,
                reaction_delay_steps=ks.reaction_delay_steps,
                backstop_fraction=self.backstop_fraction,
                keeper_reward_fraction=self.keeper_reward_fraction,
                gas_cost_usd=ks.gas_cost_usd,
                min_profit_usd=ks.min_profit_usd,
            )  # fmt: skip
            keeper_calls: list[Call] = []
            keepers = self.world.keepers or [v.deployer]
            for n, i in enumerate(np.concatenate([plan.backstop, plan.liquidate])):
                keeper = keepers[n % len(keepers)]
                if n < len(plan.backstop):
                    keeper_calls.append(v.market.backstop_takeover(keeper, self.all_accounts[i]))
                    kinds.append(("backstop", int(i)))
                else:
                    keeper_calls.append(v.market.liquidate(keeper, self.all_accounts[i]))
                    kinds.append(("liquidate", int(i)))
            chain.submit(keeper_calls)
            calls += keeper_calls

            # ---- phase 3: ADL, vault unwind, hedger, arbitrageurs ----------------------------------
            if keeper_calls:  # the keepers changed the book: read the spot inputs again
                spot_inputs = self._parse_spot(chain.read(spot_views, pending=True))
            spot_calls = self._spot_phase(s, t, kinds, spot_inputs)
            chain.submit(spot_calls)
            calls += spot_calls

        # Every account a call of this block may have changed (closes, top-ups, keepers'
        # targets, ADL winners) is read again with the levels, in the mining round trip.
        candidates = np.array(
            sorted({who for kind, who in kinds if who >= 0 and kind != "arb"} | self._adl_winners),
            dtype=np.int64,
        )
        self._adl_winners = set()
        extra = [self._health_view(candidates)] if len(candidates) else []
        results, after = chain.mine_and_read(self._level_views_cache + extra)
        s.transactions += len(results)
        if self.recorded_calls is not None:
            self.recorded_calls.append(list(calls))
            self.recorded_statuses.append([r.ok for r in results])
        events += self._events_from(results, kinds, t)
        levels = self._last_levels = self._parse_levels(after)
        if len(candidates):
            self._store_health(s, candidates, levels["extra"][0])
        self._update_inventories(results, kinds)
        s.amm_price_usd = levels["amm_price_usd"]
        row = self._metrics_row(t, exo, levels, events, len(results))
        self._check_invariants(t, levels)
        return StepOutcome(row=row, events=events)

    # -- phase helpers ---------------------------------------------------------------------------

    def _governance_calls(self, t: int, events: list, kinds: list) -> list[Call]:
        change = self.scenario.controls.governance_change
        if change is None:
            return []
        v, g = self.venue, self.state.governance
        calls: list[Call] = []
        if t == change.step and not g.get("submitted"):
            g["submitted"] = True
            if change.path == "guardian":
                calls.append(self._guardian_call(change.parameter, change.value))
                kinds.append(("governance_executed", -1))
                g["executed"] = True
            else:
                target_call = self._timelock_target_call(change.parameter, change.value)
                delay = self.world.params.governance.timelock_delay_s
                calls.append(
                    v.timelock.schedule(v.governor, v.market.address, target_call.data, delay)
                )
                kinds.append(("governance_submitted", -1))
                g["ready_step"] = t + max(1, math.ceil(delay / self.scenario.step_seconds))
            events.append(
                self._event(
                    t,
                    "governance_submitted",
                    detail=json.dumps(
                        {"parameter": change.parameter, "value": change.value, "path": change.path}
                    ),
                )
            )
        elif g.get("submitted") and not g.get("executed") and t >= g.get("ready_step", 1 << 62):
            g["executed"] = True
            target_call = self._timelock_target_call(change.parameter, change.value)
            calls.append(v.timelock.execute(v.governor, v.market.address, target_call.data))
            kinds.append(("governance_executed", -1))
        return calls

    def _timelock_target_call(self, parameter: str, value: Any) -> Call:
        """``setParameters`` with one market parameter changed, as the timelock will call it.

        Tiers are set separately on chain (``setMarginTiers``; the contract floors every tier
        at the base fractions), so they are left out of this validation."""
        market = self.world.params.market
        if parameter not in type(market).model_fields or parameter == "margin_tiers":
            raise PerpsimError(
                f"controls.governance_change.parameter: unknown market parameter {parameter!r}"
            )
        try:
            updated = type(market).model_validate(
                {**market.model_dump(), "margin_tiers": (), parameter: value}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PerpsimError(
                f"controls.governance_change: {parameter}={value!r}: "
                f"{first['msg'].removeprefix('Value error, ')}"
            ) from None
        return self.venue.market.set_parameters(self.venue.timelock.address, updated.to_chain())

    def _guardian_call(self, parameter: str, value: Any) -> Call:
        v = self.venue
        if parameter == "max_leverage":
            return v.market.guardian_set_max_leverage(v.guardian, to_wad(value))
        if parameter == "maintenance_margin_fraction":
            return v.market.guardian_set_maintenance_margin_fraction(v.guardian, to_wad(value))
        if parameter == "risk_paused":
            return v.market.guardian_pause_risk(v.guardian)
        raise PerpsimError(
            f"controls.governance_change.parameter: the guardian can change max_leverage, "
            f"maintenance_margin_fraction or risk_paused, not {parameter!r}"
        )

    def _lp_calls(self, s: EngineState, events: list, kinds: list, t: int) -> list[Call]:
        lps = self.scenario.lps
        if s.lps_withdrew or lps.withdraw_on_drawdown is None:
            return []
        if s.oracle_price_usd > s.peak_price_usd * (1 - lps.withdraw_on_drawdown):
            return []
        s.lps_withdrew = True
        v, calls = self.venue, []
        levels = self._read_levels()
        if lps.applies_to in ("amm", "both"):
            usd = levels["amm_reserve_usd"] * lps.withdraw_fraction
            base = levels["amm_reserve_base"] * lps.withdraw_fraction
            calls.append(
                v.amm.remove_liquidity(
                    v.deployer, to_units(round(usd, 6)), to_wad(round(base, 12)), v.deployer
                )
            )
            kinds.append(("lp_withdrawal", -1))
            events.append(self._event(t, "lp_withdrawal", amount=usd * 2, detail="amm"))
        if lps.applies_to in ("backstop", "both") and self.backstop_fraction is not None:
            idle = self.chain.read([v.backstop_vault.max_withdraw(v.deployer)])[0]
            amount = int(idle * lps.withdraw_fraction)
            if amount > 0:
                calls.append(v.backstop_vault.withdraw(v.deployer, amount))
                kinds.append(("lp_withdrawal", -1))
                events.append(
                    self._event(
                        t, "lp_withdrawal", amount=amount / USD_UNITS, detail="backstop_vault"
                    )
                )
        return calls

    def _spot_views(self) -> list:
        """What the spot phase reads: ledger, open interest, AMM reserves (and the vault's
        account when there is a backstop)."""
        v = self.venue
        views = [v.market.accounting(), v.market.open_interest(), v.amm.reserves()]
        if self.backstop_fraction is not None:
            views.append(v.market.account_of(self.vault_address))
        return views

    def _parse_spot(self, got: list) -> dict[str, Any]:
        """The results of :meth:`_spot_views` as the spot phase's inputs."""
        return {
            "accounting": self.venue.market._as_dict("accounting", got[0]),
            "oi_long_base": got[1][0] / WAD,
            "oi_short_base": got[1][1] / WAD,
            "amm_reserve_usd": got[2][0] / USD_UNITS,
            "amm_reserve_base": got[2][1] / WAD,
            "vault_size_wad": got[3][0] if self.backstop_fraction is not None else 0,
        }

    def _spot_inputs_after_closes(self, closes: np.ndarray) -> dict[str, Any]:
        """Spot inputs without a read: the last block's levels, minus the closed positions."""
        last, t = self._last_levels, self.state.trader
        closed_long = float(np.sum(t.size_base[closes] * (t.side[closes] > 0)))
        closed_short = float(np.sum(t.size_base[closes] * (t.side[closes] < 0)))
        return {
            "accounting": last["accounting"],
            "oi_long_base": last["oi_long_base"] - closed_long,
            "oi_short_base": last["oi_short_base"] - closed_short,
            "amm_reserve_usd": last["amm_reserve_usd"],
            "amm_reserve_base": last["amm_reserve_base"],
            "vault_size_wad": last["vault_size_wad"],
        }

    def _spot_phase(self, s: EngineState, t: int, kinds: list, levels: dict) -> list[Call]:
        """ADL, the vault's unwind, arbitrageurs and the hedger, from the state of the pending
        block after the keepers' calls (:meth:`_parse_spot`)."""
        v = self.venue
        acc = levels["accounting"]
        vault_size = levels["vault_size_wad"]
        calls: list[Call] = []
        deficit_longs, deficit_shorts = acc["badDebtLongs"], acc["badDebtShorts"]
        if self.adl_policy in ("queue", "pro_rata") and (deficit_longs or deficit_shorts):
            winners_long = deficit_shorts > deficit_longs
            # Candidates: open positions on the winning side (and the backstop vault), ranked
            # and sized in one round trip.
            side = 1 if winners_long else -1
            same_side = (s.trader.size_base > 0) & (s.trader.side == side)
            accounts = [self.all_accounts[i] for i in np.flatnonzero(same_side)]
            accounts.append(self.vault_address)
            (scores, pnls), (_, _, sizes, _) = self.chain.read(
                [v.market.adl_ranking(accounts), v.market.health_of(accounts)], pending=True
            )
            winners = keeper_agents.plan_adl(
                np.array(scores, dtype=np.float64),
                np.array(pnls, dtype=np.float64) / WAD,
                np.array(sizes, dtype=np.float64),
                winners_long,
                accounts,
                self.adl_policy,
                self.max_adl_accounts,
            )
            if winners:
                self._adl_winners = {i for a in winners if (i := self._index(a)) is not None}
                # ADL_ROLE: the protocol's own ADL keeper (the market refuses anyone else).
                calls.append(v.market.adl(v.adl_keeper, winners))
                kinds.append(("adl", -1))
        if self.backstop_fraction is not None:
            if vault_size:
                unwind = -int(vault_size * VAULT_UNWIND_SHARE_PER_STEP) or -vault_size
                calls.append(v.backstop_vault.trade_position(v.manager, unwind))
                kinds.append(("vault_unwind", -1))
        # Arbitrageurs first (toward the next exogenous price, within their capital), then the
        # hedger's forced flow: what the hedger sells after them is what the oracle reads next.
        reserve_usd, reserve_base = levels["amm_reserve_usd"], levels["amm_reserve_base"]
        if t < len(self.exogenous_usd) - 1:
            target = float(self.exogenous_usd[t + 1]) * math.exp(s.permanent_log_impact)
            arb = self.scenario.arbitrageurs
            swaps = liquidity.arbitrage(
                reserve_usd, reserve_base, self.amm_fee, target,
                [tuple(row) for row in s.arb_inventory], arb.capital_usd * arb.max_trade_fraction,
            )  # fmt: skip
            for n, sw in enumerate(swaps):
                if sw is not None:
                    calls.append(self._swap_call(self.world.arbitrageurs[n], sw))
                    kinds.append(("arb", n))
                    reserve_usd, reserve_base = _after_swap(
                        reserve_usd, reserve_base, sw, self.amm_fee
                    )
        net_oi = levels["oi_long_base"] - levels["oi_short_base"]
        price = reserve_usd / reserve_base
        swap = liquidity.hedge(net_oi * HEDGE_RATIO, s.hedged_base, price, *s.hedger_inventory)
        if swap is not None:
            calls.append(self._swap_call(self.world.hedger, swap))
            kinds.append(("hedge", -1))
            # The permanent part of the hedger's price impact moves the arbitrageurs' target
            # from the next block on (see AmmSpec.permanent_impact).
            after_usd, after_base = _after_swap(reserve_usd, reserve_base, swap, self.amm_fee)
            impact = math.log((after_usd / after_base) / price)
            s.permanent_log_impact += self.scenario.amm.permanent_impact * impact
        return calls

    def _swap_call(self, agent: str, swap: liquidity.Swap) -> Call:
        amm = self.venue.amm
        amount = (
            to_wad(round(swap.amount_in, 12))
            if swap.base_in
            else to_units(round(swap.amount_in, 6))
        )
        return amm.swap(agent, swap.base_in, max(amount, 1), 0, agent)

    # -- after mining ------------------------------------------------------------------------------

    def _event(self, t: int, kind: str, **fields: Any) -> dict:
        return metrics.event_row(t, kind, **fields)

    def _events_from(self, results: list[TxResult], kinds: list, t: int) -> list[dict]:
        """Event rows of the mined block, and the position outcomes they imply."""
        s = self.state
        out: list[dict] = []
        for result, (kind, who) in zip(results, kinds, strict=True):
            if not result.ok:
                if (
                    kind == "governance_executed"
                    and self.scenario.controls.governance_change.path == "timelock"
                ):
                    s.governance["executed"] = False  # not ready yet: try again next step
                if kind in ("liquidate", "backstop", "adl", "close", "governance_executed"):
                    account = self.all_accounts[who] if who >= 0 else None
                    out.append(
                        self._event(
                            t, f"{kind}_reverted", account=account, detail=str(result.error)
                        )
                    )
                continue
            if kind == "top_up" and who >= 0:
                amount = next(
                    (e.args["amount"] / WAD for e in result.events if e.name == "Deposited"), 0.0
                )
                s.trader.collateral_in_usd[who] += amount
                s.trader.wallet_usd[who] -= amount
                out.append(self._event(t, "top_up", account=self.all_accounts[who], amount=amount))
            if kind == "governance_executed":
                detail = json.dumps(
                    {"parameter": self.scenario.controls.governance_change.parameter}
                )
                out.append(self._event(t, "governance_executed", detail=detail))
            for e in result.events:
                if e.name == "PositionModified" and kind == "close" and who >= 0:
                    out.append(
                        metrics.close_row(e, t, _close_reason(self.world.book.behaviour[who]))
                    )
                else:
                    out += metrics.rows_from_event(e, t)
        for row in out:
            i = self._index(row["account"]) if row["account"] else None
            if i is None:
                continue
            if row["kind"] == "close":
                s.outcome[i], s.outcome_step[i] = CLOSED, t
            elif row["kind"] == "liquidation":
                s.outcome[i], s.outcome_step[i] = LIQUIDATED, t
            elif row["kind"] == "backstop_takeover":
                s.outcome[i], s.outcome_step[i] = BACKSTOPPED, t
            elif row["kind"] == "adl_fill" and row["size_base"]:
                s.outcome[i], s.outcome_step[i] = ADL, t
        return out

    def _index(self, account: str) -> int | None:
        if not hasattr(self, "_index_of"):
            self._index_of = {a: i for i, a in enumerate(self.all_accounts)}
        return self._index_of.get(account)

    def _update_inventories(self, results: list[TxResult], kinds: list) -> None:
        s = self.state
        for result, (kind, who) in zip(results, kinds, strict=True):
            if not result.ok or kind not in ("hedge", "arb"):
                continue
            swap = next((e for e in result.events if e.name == "Swap"), None)
            if swap is None:
                continue
            base_in, amount_in, amount_out = (
                swap.args["baseIn"],
                swap.args["amountIn"],
                swap.args["amountOut"],
            )
            d_usd = (amount_out / USD_UNITS) if base_in else -(amount_in / USD_UNITS)
            d_base = -(amount_in / WAD) if base_in else amount_out / WAD
            inventory = s.hedger_inventory if kind == "hedge" else s.arb_inventory[who]
            inventory += (d_usd, d_base)
            if kind == "hedge":
                s.hedged_base += d_base

    def _metrics_row(
        self, t: int, exo: float, levels: dict, events: list[dict], transactions: int
    ) -> dict:
        s = self.state
        row = metrics.step_row(
            t, self.scenario.step_seconds, exo, levels, events, transactions,
            previous_bad_debt_usd=s.last_bad_debt_usd, previous_fees_usd=s.last_fees_usd,
        )  # fmt: skip
        s.last_bad_debt_usd, s.last_fees_usd = levels["bad_debt_usd"], levels["fees_cum_usd"]
        return row

    def _check_invariants(self, t: int, levels: dict) -> None:
        """Value conservation of the market's ledger, and recorded bad debt for every account
        left below zero (checked on the chain state at the end of the step)."""
        acc = levels["accounting"]
        ledgers = acc["totalCollateral"] + acc["pool"] + acc["protocolFees"]
        flows = (
            acc["totalDeposits"] - acc["totalWithdrawals"] + acc["poolSeeded"] + acc["paidByInsurance"]
            - acc["paidToInsurance"] - acc["keeperRewards"] - acc["feesWithdrawn"]
        )  # fmt: skip
        held = levels["market_token_units"] * (WAD // USD_UNITS)
        if not ledgers == flows == held:
            raise InvariantViolation(
                f"step {t}: value not conserved (WAD USD): accounts + pool + fees = {ledgers}, "
                f"net flows = {flows}, collateral the market holds = {held}"
            )
        negative = np.flatnonzero(
            (self.state.trader.equity_usd < -INVARIANT_TOLERANCE_USD)
            & (self.state.trader.size_base == 0)
        )
        if len(negative):
            i = int(negative[0])
            raise InvariantViolation(
                f"step {t}: account {self.all_accounts[i]} is flat with negative equity "
                f"{self.state.trader.equity_usd[i]:.6f} USD that no bad debt records"
            )

    # -- the loop ----------------------------------------------------------------------------------

    def run(
        self, *, until_step: int | None = None, on_step: Callable[[StepOutcome], None] | None = None
    ) -> None:
        last = self.scenario.steps if until_step is None else min(until_step, self.scenario.steps)
        while self.state.step < last:
            outcome = self.step()
            if on_step is not None:
                on_step(outcome)

    def positions(self) -> list[dict]:
        """One row per trader's opening position with its outcome (positions.parquet).

        Size, entry and liquidation price are what the market held right after the opens
        (read back from the chain), collateral is what it credited at the deposit, leverage is
        their notional at entry over that collateral. A refused open is outcome ``refused`` at
        step 0 with size 0, NaN entry / leverage / liquidation price, and its realized PnL
        (equity less deposits: 0 unless something moved its idle collateral)."""
        w, s = self.world, self.state
        rows = []
        for i, account in enumerate(self.all_accounts):
            opened = bool(w.opened[i])
            outcome = OUTCOME_NAMES[int(s.outcome[i])]
            collateral = float(w.collateral_in_usd[i])
            size = float(w.opened_size_base[i]) if opened else 0.0
            entry = float(w.entry_price_usd[i]) if opened else math.nan
            rows.append(
                {
                    "account": account,
                    "side": "long" if w.book.side[i] > 0 else "short",
                    "collateral_usd": collateral,
                    "size_base": size,
                    "entry_price_usd": entry,
                    "leverage": size * entry / collateral if opened and collateral else math.nan,
                    "liquidation_price_at_open_usd": float(w.liquidation_price_usd[i])
                    if opened
                    else math.nan,
                    "opened_step": 0,
                    "outcome": outcome,
                    "outcome_step": None if s.outcome_step[i] < 0 else int(s.outcome_step[i]),
                    # Account value change: what the trader holds in the market after the
                    # outcome minus all it put in (fees, funding, penalties included).
                    "realized_pnl_usd": None
                    if outcome == "open"
                    else float(s.trader.equity_usd[i] - s.trader.collateral_in_usd[i]),
                }
            )
        return rows


def _after_swap(
    reserve_usd: float, reserve_base: float, swap: liquidity.Swap, fee: float
) -> tuple[float, float]:
    k = reserve_usd * reserve_base
    if swap.base_in:
        new_base = reserve_base + swap.amount_in * (1 - fee)
        return k / new_base, reserve_base + swap.amount_in
    new_usd = reserve_usd + swap.amount_in * (1 - fee)
    return reserve_usd + swap.amount_in, k / new_usd


def _close_reason(behaviour: int) -> str:
    from simulator.population import Behaviour

    return {
        Behaviour.TAKE_PROFIT: "take_profit",
        Behaviour.STOP_LOSS: "stop_loss",
        Behaviour.PANIC: "panic",
    }.get(int(behaviour), "close")


def wall_clock() -> float:
    return time.perf_counter()
