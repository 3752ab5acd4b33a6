"""Gas per operation (printed; run with ``-s`` to see the table). A liquidation stays under 300k.

Gas is the transaction's gas before EIP-3529 refunds (intrinsic + execution), as the chain
layer reports it; receipts charge at most this.
"""

from __future__ import annotations

import pytest
from perp_helpers import (
    KEEPER,
    TEST_PARAMS,
    TRADERS,
    event,
    fund,
    ok,
    open_position,
    set_price,
    usd,
    wad,
)

from simulator.protocol.params import BufferParams

A, B, C, D, E = TRADERS[:5]


@pytest.fixture(autouse=True)
def _anvil_only(chain):
    """Gas figures are anvil's: revm keeps slots warm across transactions (see the README)."""
    if chain.backend != "anvil":
        pytest.skip("gas figures are measured on anvil only (revm's are not per transaction)")


def test_gas_per_operation(chain, make_venue):
    params = TEST_PARAMS.with_market(
        skew_scale=100_000, taker_fee_bps=5, insurance_fee_share_bps=2_000, max_funding_velocity=0.1,
        partial_liquidation_threshold_usd=40_000, adl_policy="queue", circuit_breaker_band_bps=1_000,
    )  # fmt: skip
    params = params.model_copy(update={"buffers": BufferParams(insurance_fund_usd=100, pool_seed_usd=100_000,
                                                               backstop_vault_usd=100_000, backstop_margin_share=0.5)})  # fmt: skip
    v = make_venue(params)
    m = v.market
    gas: dict[str, int] = {}
    fund(chain, v, [A, B, C, D], 100_000)
    gas["deposit"] = ok([chain.execute_one(m.deposit(A, usd(1_000)))])[0].gas_used
    gas["open"] = ok([chain.execute_one(m.trade(A, wad(10), 0))])[0].gas_used
    chain.advance_time(60)
    set_price(chain, v, 1_000)
    gas["increase"] = ok([chain.execute_one(m.trade(A, wad(1), 0))])[0].gas_used
    gas["close"] = ok([chain.execute_one(m.close_position(A))])[0].gas_used
    gas["withdraw"] = ok([chain.execute_one(m.withdraw(A, usd(100)))])[0].gas_used

    open_position(chain, v, B, 1_000, 10)
    open_position(chain, v, C, 20_000, -60)
    open_position(chain, v, D, 1_000, 10)
    set_price(chain, v, 920)
    r = ok([chain.execute_one(m.liquidate(KEEPER, B))])[0]
    gas["liquidate (full)"] = r.gas_used
    set_price(chain, v, 905)
    gas["backstop takeover"] = ok([chain.execute_one(m.backstop_takeover(KEEPER, D))])[0].gas_used

    open_position(chain, v, E, 6_000, 60)  # ~49k notional at 820: partial above 40k
    set_price(chain, v, 820)
    r = ok([chain.execute_one(m.liquidate(KEEPER, E))])[0]
    assert event(r, "Liquidated")["full"] is False
    gas["liquidate (partial)"] = r.gas_used
    chain.advance_time(31)
    set_price(chain, v, 780)
    r = ok([chain.execute_one(m.liquidate(KEEPER, E))])[0]
    gas["liquidate (bankrupt, fund + bad debt)"] = r.gas_used
    assert m.accounting_now()["badDebtLongs"] > 0
    r = ok([chain.execute_one(m.adl(KEEPER, [C]))])[0]
    gas["adl step (queue, 1 winner)"] = r.gas_used

    print()
    for name, used in gas.items():
        print(f"gas  {name:40s} {used:>9,d}")
    assert max(v for k, v in gas.items() if k.startswith("liquidate")) < 300_000
