"""Gas of the venue's multi-market calls (printed; run with ``-s``) and contract sizes.

Gas is the transaction's gas before EIP-3529 refunds, as the chain layer reports it, measured
on anvil (revm keeps slots warm across transactions). Every call stays under 1M gas; every
venue contract under EIP-170's 24,576 bytes.
"""

from __future__ import annotations

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, event, ok
from venue_helpers import ADL, ADL_KEEPER, MarketSpec

from simulator.chain.artifacts import load_artifacts

A, B, W = TRADERS[20:23]
EIP170 = 24_576


@pytest.mark.parametrize(
    "name", ["PerpVenue", "VenueLiquidationModule", "VenueAdlModule", "VenueGovernanceModule"]
)
def test_contract_sizes_under_eip170(name):
    size = len(load_artifacts()[name].runtime_bytecode)
    print(f"size {name:24s} {size:>6,d} bytes")
    assert 0 < size < EIP170


def test_gas_of_multi_market_calls(chain, make_mv):
    if chain.backend != "anvil":
        pytest.skip("gas figures are measured on anvil only (revm's are not per transaction)")
    queue = {"adlPolicy": ADL["profit_queue"], "skewScale": 100_000 * WAD, "takerFeeBps": 5,
             "insuranceFeeShareBps": 2_000, "maxFundingVelocity": WAD // 10}  # fmt: skip
    mv = make_mv(
        [MarketSpec("BTC", 1_000, queue), MarketSpec("ETH", 100, queue),
         MarketSpec("SOL", 10, queue), MarketSpec("ALT", 2, queue)],
        fund_usd=0,
    )  # fmt: skip
    v = mv.venue
    gas: dict[str, int] = {}
    mv.setup(W, 50_000, [(1, -10), (2, -50), (3, -300), (4, -1_000)])
    mv.setup(A, 1_200, [(2, 20), (3, 30), (4, 100)])
    r = ok([chain.execute_one(v.trade(A, 1, 10 * WAD))])[0]
    gas["open (4th market of a cross account)"] = r.gas_used
    chain.advance_time(60)
    mv.push_all({1: 1_000, 2: 100, 3: 10, 4: 2})
    gas["increase"] = ok([chain.execute_one(v.trade(A, 1, WAD))])[0].gas_used
    gas["close"] = ok([chain.execute_one(v.close_position(A, 1))])[0].gas_used
    ok([chain.execute_one(v.trade(A, 1, 10 * WAD))])
    mv.push_all({1: 900, 2: 90, 3: 9, 4: 1.8})  # −10% everywhere: bankrupt
    r = ok([chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "AccountLiquidated")["positionsLiquidated"] == 4
    gas["liquidate (4-position cross account, bankrupt)"] = r.gas_used
    assert v.market_now(1)["ledger"]["badDebtLongs"] > 0
    r = ok([chain.execute_one(v.adl(ADL_KEEPER, 1, True, [W]))])[0]
    gas["adl step (profit queue, 1 winner)"] = r.gas_used
    print()
    for name, used in gas.items():
        print(f"gas  {name:48s} {used:>9,d}")
    assert max(gas.values()) < 1_000_000
