"""The agents' vectorized kernels against their references and their defining properties."""

from __future__ import annotations

import json

import liquidity_reference as liquidity
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.agents import keepers, traders
from simulator.engine import jit_spot
from simulator.engine.events import event_row
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
        read_funding_index_usd=rng.uniform(-50, 50, n), read_margin_scale=rng.uniform(1, 2, n),
    )  # fmt: skip
    # One price per row (rows in several markets) and the masks of rows that may top up and
    # whose margin account may close; funding accrued and margin scale changed since the read.
    price = 100_000 * (1 + move) * rng.choice([1.0, 1.01], n)
    funding_index = state.read_funding_index_usd + rng.uniform(-200, 200, n)
    scale = rng.uniform(1, 2, n)
    can_top_up, can_close = rng.random(n) < 0.8, rng.random(n) < 0.8
    decisions = traders.decide(
        state, book, price, np.random.default_rng(seed), can_top_up=can_top_up,
        can_close=can_close, funding_index_usd=funding_index, margin_scale=scale,
    )  # fmt: skip
    draws = np.random.default_rng(seed).random(n)
    closes, top_ups = traders.decide_reference(
        state, book, price, draws, can_top_up, can_close, funding_index, scale
    )
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
    # the compiled rule (the spot phase's plan) gives the same swap, to the bit
    base_in, amount = jit_spot._to_target(reserve_usd, reserve_base, fee, target)
    assert (None if amount != amount else (base_in, amount)) == (
        None if swap is None else (swap.base_in, swap.amount_in)
    )
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


def test_step_rows_count_each_markets_events_on_its_own_row():
    """Two markets: each event counts on its market's row only; the venue row sums them and
    counts an account liquidated in both markets once; fees are the change of each market's
    ledger fees and penalties (an ADL overshoot sent to the fund is not in them)."""
    adl = {"deficit_usd": 30.0, "covered_usd": 30.0, "overshoot_usd": 10.0, "to_fund_usd": 8.0}
    events = [
        event_row(3, "liquidation", market="BTC", account="a", side="long", size=1.0, price=100.0, amount=1.0),
        event_row(3, "partial_liquidation", market="ETH", account="a", side="long", size=0.5, price=10.0, amount=0.5),
        event_row(3, "backstop_takeover", market="BTC", account="b", side="short", size=2.0, price=100.0, amount=3.0),
        event_row(3, "adl", market="ETH", amount=40.0, detail=json.dumps(adl)),
    ]  # fmt: skip
    levels = {
        "index_usd": np.array([100.0, 10.0]), "mark_usd": np.array([101.0, 10.1]),
        "amm_price_usd": np.array([99.0, 9.9]), "oi_long_base": np.array([3.0, 5.0]),
        "oi_short_base": np.array([1.0, 0.0]), "insurance_fund_usd": 5.0,
        "vault_assets_usd": 0.0, "vault_supply": 0, "bad_debt_usd": np.array([7.0, 0.0]),
        "funding_rate_per_hour": np.zeros(2), "fees_cum_usd": np.array([125.0, 20.0]),
    }  # fmt: skip
    btc, eth, total = step_rows(
        3, 60, ["BTC", "ETH"], np.array([100.0, 10.0]), levels, events, 9,
        previous_bad_debt_usd=np.array([2.0, 0.0]), previous_fees_usd=np.array([100.0, 19.0]),
    )  # fmt: skip
    assert (btc["market"], eth["market"], total["market"]) == ("BTC", "ETH", "ALL")
    assert total["transactions"] == 9 and "transactions" not in btc
    assert total["insurance_fund_usd"] == 5.0 and total["price_oracle_usd"] is None
    assert btc["liquidated_notional_long_usd"] == 100.0
    assert btc["liquidated_notional_short_usd"] == 200.0
    assert eth["liquidated_notional_long_usd"] == 5.0 and eth["liquidated_notional_short_usd"] == 0
    assert (btc["accounts_liquidated"], eth["accounts_liquidated"]) == (2, 1)
    assert total["accounts_liquidated"] == 2  # account a in both markets counts once
    assert btc["adl_haircut_usd"] == 0 and eth["adl_haircut_usd"] == 40.0
    assert eth["adl_overshoot_usd"] == 10.0
    assert (btc["fees_usd"], eth["fees_usd"], total["fees_usd"]) == (25.0, 1.0, 26.0)
    assert (btc["bad_debt_usd"], eth["bad_debt_usd"]) == (5.0, 0.0)
    assert (btc["oi_long_usd"], eth["oi_long_usd"], total["oi_long_usd"]) == (300.0, 50.0, 350.0)


def test_the_hedger_does_not_trade_float_dust_of_the_open_interest():
    # The same net long summed in two orders differs in its last bits: no swap for that...
    assert liquidity.hedge(101037.8143476175, 101037.81434761753, 2.0, 1e6, 1e6) is None
    # ... but a real change of the book is hedged, either way.
    assert liquidity.hedge(101037.82, 101037.81, 2.0, 1e6, 1e6) is not None
    assert liquidity.hedge(101037.80, 101037.81, 2.0, 1e6, 1e6) is not None
