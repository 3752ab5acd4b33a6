"""Step 0 is an ordinary step (issue 11, item 1): the opening book is the run's first orders.

Each test pins one way step 0 used to differ from a later step: no ``steps.parquet`` rows for
it (the first row was step 1's), no ``open`` events for the opening book's trades, their fees
and transactions missing from the step columns and the summary, and no block of step 0 (the
oracles' first post, the first arrivals of the order flow and the vault's first quote came at
step 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import small_oct

from simulator.results import RunReader
from simulator.runner import run_scenario

STEPS = 12


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """BTC alone, the opening book only: no order flow, no market-making vault."""
    out = tmp_path_factory.mktemp("step0") / "run"
    # The book up to BTC's 40x (oct-2025's was until session 21): its most levered positions
    # are liquidated within the 12 steps, so that fees are paid after step 0.
    scenario = small_oct(
        steps=STEPS,
        order_flow=None,
        **{"mm_vault.capital_usd": 0, "mm_vault.quoting": False, "traders.leverage.max": 40},
    )
    run_scenario(scenario, out)
    return RunReader(out)


def test_step_zero_has_its_rows_like_any_step(plain):
    steps = plain.steps
    assert sorted(steps.step.unique()) == list(range(STEPS + 1))
    zero = steps[steps.step == 0].set_index("market")
    assert list(zero.index) == ["BTC", "ALL"]
    btc = zero.loc["BTC"]
    assert btc.timestamp_s == 0
    assert btc.price_exogenous_usd == plain.summary["start_price"]
    assert btc.price_outside_usd == btc.price_exogenous_usd  # no forced selling yet
    # The oracle's first post is step 0's, from its sources (noisy venues, the AMM).
    assert btc.price_oracle_usd == pytest.approx(btc.price_exogenous_usd, rel=2e-3)
    assert zero.loc["ALL"].insurance_fund_usd > 0


def test_the_opening_book_is_step_zeros_open_events(plain):
    events, positions = plain.events, plain.positions
    opens = events[events.kind == "open"]
    assert len(opens) == (positions.outcome != "refused").sum() > 100
    assert (opens.step == 0).all() and (opens.detail == "book").all()
    assert (positions.opens == 1).all() and (positions.opened_step == 0).all()
    # Each open is its position's row: account, side, the size and fill the venue recorded.
    merged = opens.merge(positions, on=["account", "market"], suffixes=("", "_position"))
    assert len(merged) == len(opens)
    assert (merged.side == merged.side_position).all()
    np.testing.assert_allclose(merged.size_base, merged.size_base_position, rtol=1e-12)
    np.testing.assert_allclose(merged.price_usd, merged.entry_price_usd, rtol=1e-9)
    assert (opens.amount_usd > 0).all()  # the fee each open paid


def test_step_zeros_flows_hold_the_opening_trades(plain):
    steps, events, positions = plain.steps, plain.events, plain.positions
    zero = steps[steps.step == 0].set_index("market")
    opens = events[events.kind == "open"]
    # Nothing but the opening book traded on the venue by the end of step 0's block.
    assert zero.loc["BTC"].fees_usd == pytest.approx(opens.amount_usd.sum(), rel=1e-9)
    assert zero.loc["ALL"].transactions >= len(opens)
    # Open interest at step 0 is the book's, at step 0's oracle price.
    price = zero.loc["BTC"].price_oracle_usd
    live = positions[positions.outcome != "refused"]
    for side in ("long", "short"):
        book = live[live.side == side].size_base.sum() * price
        assert zero.loc["BTC"][f"oi_{side}_usd"] == pytest.approx(book, rel=1e-9)
    venue = steps[steps.market == "ALL"]
    assert plain.summary["transactions"] == venue.transactions.sum()
    assert plain.summary["fees_usd"] == pytest.approx(venue.fees_usd.sum(), rel=1e-12)
    assert plain.summary["fees_usd"] > opens.amount_usd.sum()


def test_step_zero_is_a_block_of_the_agents_with_the_order_flow(tmp_path):
    """With the order flow, step 0's block holds its first arrivals' orders too."""
    scenario = small_oct(steps=STEPS, **{"order_flow.reentry.rate_per_hour": 600})
    run_scenario(scenario, tmp_path / "run")
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    zero = events[events.step == 0]
    assert (zero[zero.kind == "open"].detail == "book").sum() > 100
    assert "reentry" in set(zero[zero.kind == "open"].detail)  # the flow's step-0 arrivals
    steps = pd.read_parquet(tmp_path / "run" / "steps.parquet")
    venue = steps[(steps.step == 0) & (steps.market == "ALL")].iloc[0]
    book_orders = zero.detail.str.startswith("book").sum()
    # Step 0's block: the oracle's post, the flow's opens, the arbitrageurs' swaps.
    assert venue.transactions > book_orders + (zero.detail == "reentry").sum()
    # The book's orders come first, as they were sent.
    first_other = np.flatnonzero(zero.detail.to_numpy() != "book")[0]
    assert (zero.detail.iloc[:first_other] == "book").all()
