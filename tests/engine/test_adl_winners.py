"""Which deficits the ADL keeper ranks: only those someone on the winners' side could cover."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.engine import adl


def _ctx_state(side, size, entry, market, oracle, vault_address=None):
    ctx = SimpleNamespace(
        world=SimpleNamespace(book=SimpleNamespace(market=np.array(market)), mm_vault=None),
        n_markets=len(oracle),
        vault_address=vault_address,
    )
    trader = SimpleNamespace(
        side=np.array(side, dtype=np.int8),
        size_base=np.array(size, dtype=np.float64),
        entry_price_usd=np.array(entry, dtype=np.float64),
    )
    return ctx, SimpleNamespace(trader=trader, oracle_price_usd=np.array(oracle, dtype=float))


def test_possible_winners_are_the_sides_with_an_open_position_in_the_profit():
    # Market 0 at 90: the short from 100 is in the profit, the long from 80 too, the long
    # from 95 is not; market 1 at 10: the only short is flat, the long from 12 is losing.
    ctx, s = _ctx_state(
        side=[-1, 1, 1, -1, 1],
        size=[1.0, 2.0, 1.0, 0.0, 3.0],
        entry=[100.0, 80.0, 95.0, 5.0, 12.0],
        market=[0, 0, 0, 1, 1],
        oracle=[90.0, 10.0],
    )
    levels = {"vault_size_wad": np.zeros(2, dtype=object)}
    assert adl.possible_winners(ctx, s, levels).tolist() == [[True, True], [False, False]]
    # The backstop vault holding a side makes that side possible (its PnL is not known
    # off chain: the venue's ranking decides).
    ctx.vault_address = "0xvault"
    levels = {"vault_size_wad": np.array([0, -(10**18)], dtype=object)}
    assert adl.possible_winners(ctx, s, levels).tolist() == [[True, True], [False, True]]


def test_a_position_at_its_entry_price_still_counts_within_rounding():
    ctx, s = _ctx_state(side=[1], size=[1.0], entry=[100.0], market=[0], oracle=[100.0])
    assert adl.possible_winners(ctx, s, {"vault_size_wad": [0]}).tolist() == [[True, False]]


def test_a_contracts_queue_deficit_is_outstanding_only_while_contracts_are_left():
    # Under contracts_queue the venue offsets the bankrupt contracts; the call that offsets the
    # last of them writes the rest off as final bad debt (no call acts on it). Before, the
    # keeper called it every block for the rest of the run (oct-2025: 1,600 reverted calls in
    # one path).
    ledger = {
        "badDebtLongs": 5,
        "badDebtShorts": 7,
        "adlContractsLongs": 0,
        "adlContractsShorts": 3,
    }
    assert adl.outstanding(ledger, "contracts_queue", longs_bankrupt=True) == 0
    assert adl.outstanding(ledger, "contracts_queue", longs_bankrupt=False) == 7
    # The profit queue and pro rata act on the deficit itself.
    for policy in ("profit_queue", "pro_rata"):
        assert adl.outstanding(ledger, policy, longs_bankrupt=True) == 5
        assert adl.outstanding(ledger, policy, longs_bankrupt=False) == 7
