"""The agents' vectorized kernels against their references and their defining properties."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.agents import keepers, liquidity, traders
from simulator.engine.events import event_row, with_market
from simulator.engine.metrics import step_rows
from simulator.population import Behaviour


class Book:
    def __init__(self, n, rng):
        self.behaviour = rng.integers(0, 5, n).astype(np.int8)
        self.collateral_usd = rng.uniform(100, 10_000, n)
        self.take_profit_fraction = np.where(
            self.behaviour == Behaviour.TAKE_PROFIT, rng.uniform(0.1, 1, n), np.inf
        )
        self.stop_loss_fraction = np.where(
            self.behaviour == Behaviour.STOP_LOSS, rng.uniform(0.1, 1, n), np.inf
        )
        self.panic_drawdown = np.where(
            self.behaviour == Behaviour.PANIC, rng.uniform(0.01, 0.2, n), np.inf
        )
        top = self.behaviour == Behaviour.TOP_UP
        self.top_up_probability = np.where(top, rng.uniform(0, 1, n), 0.0)
        self.top_up_fraction = np.where(top, 0.5, 0.0)
        self.top_up_margin_ratio = np.where(top, 1.5, 0.0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), move=st.floats(-0.3, 0.3))
def test_trader_decisions_match_the_row_by_row_reference(seed, move):
    rng = np.random.default_rng(seed)
    n = 300
    book = Book(n, rng)
    side = rng.choice([-1, 1], n).astype(np.int8)
    size = np.where(rng.random(n) < 0.8, rng.uniform(0.01, 2, n), 0.0)
    entry = rng.uniform(90_000, 110_000, n)
    read_price = rng.uniform(90_000, 110_000, n)
    state = traders.TraderState(
        side=side, size_base=size, equity_usd=rng.uniform(-500, 20_000, n),
        maintenance_usd=size * read_price * 0.01, collateral_in_usd=book.collateral_usd.copy(),
        entry_price_usd=entry, wallet_usd=rng.uniform(0, 5_000, n), read_price_usd=read_price,
    )  # fmt: skip
    price = 100_000 * (1 + move)
    decisions = traders.decide(state, book, price, np.random.default_rng(seed))
    draws = np.random.default_rng(seed).random(n)
    closes, top_ups = traders.decide_reference(state, book, price, draws)
    assert list(decisions.close) == closes
    assert list(decisions.top_up) == [i for i, _ in top_ups]
    np.testing.assert_allclose(decisions.top_up_usd, [a for _, a in top_ups])


def test_keepers_take_the_largest_eligible_first_within_capacity_and_delay():
    equity = np.array([10.0, 5.0, 50.0, 1.0, -3.0])
    maintenance = np.array([20.0, 20.0, 20.0, 20.0, 20.0])
    notional = np.array([1_000.0, 3_000.0, 9_000.0, 2_000.0, 5_000.0])
    since = np.array([3, 3, -1, 4, 3])  # index 3 became liquidatable this step (4)
    plan = keepers.plan_liquidations(
        equity, maintenance, notional, since, 4, capacity=2, reaction_delay_steps=1,
        backstop_fraction=2 / 3, keeper_reward_fraction=0.0, gas_cost_usd=0.0, min_profit_usd=0.0,
    )  # fmt: skip
    # Eligible: 0, 1, 4 (index 2 is healthy, index 3 not seen long enough); largest notional
    # first: 4 (5,000), then 1 (3,000); both below 2/3 of MM: the backstop takes them.
    assert list(plan.backstop) == [4, 1] and list(plan.liquidate) == []
    unprofitable = keepers.plan_liquidations(
        equity, maintenance, notional, since, 4, capacity=10, reaction_delay_steps=0,
        backstop_fraction=None, keeper_reward_fraction=0.001, gas_cost_usd=2.0, min_profit_usd=1.0,
    )  # fmt: skip
    # Reward 0.1% of notional minus $2 gas must reach $1: notional >= 3,000.
    assert sorted(unprofitable.liquidate) == [1, 4]


@settings(max_examples=100, deadline=None)
@example(reserve_usd=100_000.0, price=186.75, ratio=1.0, fee=0.0)  # a float gap, not a trade
@given(
    reserve_usd=st.floats(1e5, 1e9),
    price=st.floats(1, 1e6),
    ratio=st.floats(0.5, 2.0),
    fee=st.floats(0, 0.01),
)
def test_a_swap_to_target_lands_on_the_target_price(reserve_usd, price, ratio, fee):
    reserve_base = reserve_usd / price
    target = price * ratio
    swap = liquidity.swap_to_target(reserve_usd, reserve_base, fee, target)
    if abs(ratio - 1) <= fee:
        assert swap is None
        return
    if swap is None:  # a gap of float rounding only, just outside the band: nothing to trade
        assert abs(ratio - 1) - fee < 1e-9
        return
    k = reserve_usd * reserve_base
    if swap.base_in:
        new_base = reserve_base + swap.amount_in * (1 - fee)
        new_price = (k / new_base) / new_base
    else:
        new_usd = reserve_usd + swap.amount_in * (1 - fee)
        new_price = new_usd / (k / new_usd)
    assert abs(new_price / target - 1) < 1e-9


def test_arbitrageurs_stay_within_capital_and_inventory():
    swaps = liquidity.arbitrage(
        1e8, 1e3, 0.003, 80_000.0, [(1e6, 5.0), (1e6, 0.0)], max_trade_usd=200_000
    )
    # Price 100k above the 80k target: sell base; the second arbitrageur holds none.
    assert swaps[0].base_in and swaps[0].amount_in == 2.0  # $200k at $100k
    assert swaps[1] is None


def test_hedger_sells_what_the_net_long_lost():
    swap = liquidity.hedge(
        net_open_interest_base=8.0,
        hedged_base=10.0,
        price_usd=100.0,
        inventory_usd=1e6,
        inventory_base=5.0,
    )
    assert swap.base_in and swap.amount_in == 2.0


def test_step_row_counts_liquidations_and_keeps_adl_overshoot_out_of_fees():
    events = [
        event_row(3, "liquidation", account="a", side="long", size=1.0, price=100.0, amount=1.0),
        event_row(3, "partial_liquidation", account="a", side="long", size=0.5, price=100.0, amount=0.5),
        event_row(3, "backstop_takeover", account="b", side="short", size=2.0, price=100.0, amount=3.0),
        event_row(3, "adl", amount=40.0, detail=json.dumps({"deficit_usd": 30.0, "covered_usd": 30.0, "overshoot_usd": 10.0, "to_fund_usd": 8.0})),
    ]  # fmt: skip
    levels = {
        "index_usd": 100.0, "mark_usd": 101.0, "amm_price_usd": 99.0, "oi_long_base": 3.0,
        "oi_short_base": 1.0, "insurance_fund_usd": 5.0, "vault_assets_usd": 0.0, "vault_supply": 0,
        "bad_debt_usd": 7.0, "funding_rate_per_hour": 0.0, "fees_cum_usd": 125.0,
    }  # fmt: skip
    events = with_market(events, "BTC")
    row, total = step_rows(
        3, 60, "BTC", 100.0, levels, events, 9, previous_bad_debt_usd=2.0, previous_fees_usd=100.0
    )
    assert (row["market"], total["market"]) == ("BTC", "ALL")
    assert total["transactions"] == 9 and "transactions" not in row
    assert total["insurance_fund_usd"] == 5.0 and total["price_oracle_usd"] is None
    assert total["accounts_liquidated"] == 2 and total["fees_usd"] == 17.0
    assert (
        row["liquidated_notional_long_usd"] == 150.0
        and row["liquidated_notional_short_usd"] == 200.0
    )
    assert row["accounts_liquidated"] == 2
    assert row["adl_haircut_usd"] == 40.0 and row["adl_overshoot_usd"] == 10.0
    # 25 into the fee terms, 8 of it the ADL overshoot sent to the fund (the pool had 8 of 10)
    assert row["fees_usd"] == 17.0
    assert row["bad_debt_usd"] == 5.0
