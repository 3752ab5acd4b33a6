"""Gas of the contagion contracts' entry points (before refunds, from the tests' receipts, on
anvil only: revm keeps slots warm across transactions) and their sizes under EIP-170. ``pytest -s`` prints the table the README quotes; each call must stay
under 1M gas. The pool has one ORACLE collateral listed; the synthetic dollar hedges on a
one-market venue (``contagion_helpers``)."""

from __future__ import annotations

import pytest
from contagion_helpers import (
    ADMIN,
    BORROWER,
    LIQUIDATOR,
    MINTER,
    OUTSIDER,
    SUPPLIER,
    SYNTH_MANAGER,
    deploy_synth_world,
    send,
)
from perp_helpers import KEEPER, usd, wad
from venue_helpers import MarketSpec, deploy_multi

from simulator.chain.artifacts import load_artifacts

EIP170 = 24_576
MAX_GAS = 1_000_000


def _anvil_only(chain) -> None:
    if chain.backend != "anvil":
        pytest.skip("gas figures are measured on anvil only (revm's are not per transaction)")


def _report(title: str, gas: dict[str, int]) -> None:
    print(f"\n{title}")
    for name, used in gas.items():
        print(f"  {name:<48} {used:>9,}")
    for name, used in gas.items():
        assert 0 < used < MAX_GAS, (name, used)


def test_contract_sizes_are_under_eip170():
    """Sizes of the runtime code, bytes (EIP-170: 24,576)."""
    art = load_artifacts()
    for name in ("LendingPool", "SyntheticDollar"):
        size = len(art[name].runtime_bytecode)
        print(f"\n{name}: {size:,} bytes")
        assert size < EIP170, (name, size)


def test_lending_pool_gas(pw):
    _anvil_only(pw.chain)
    gas: dict[str, int] = {}
    gas["deposit (supply, first)"] = pw.supply(SUPPLIER, usd(100_000)).gas_used
    gas["depositCollateral (first)"] = pw.post(BORROWER, wad("1.5")).gas_used
    send(pw.chain, pw.pool.call(ADMIN, "setInterestRateModel", wad("0.02"), wad("0.2")))
    r = send(pw.chain, pw.pool.call(BORROWER, "borrow", usd(2_000)))[0]
    gas["borrow (first, 1 collateral)"] = r.gas_used
    pw.chain.advance_time(3_600)
    pw.push(2_000)
    r = send(pw.chain, pw.pool.call(OUTSIDER, "accrueInterest"))[0]
    gas["accrueInterest (one hour)"] = r.gas_used
    send(pw.chain, *pw.fund_stable(BORROWER, usd(1_000)))
    gas["repay (part)"] = send(pw.chain, pw.pool.call(BORROWER, "repay", BORROWER, usd(100)))[
        0
    ].gas_used
    r = send(pw.chain, pw.pool.call(BORROWER, "withdrawCollateral", pw.weth.address, wad("0.01")))[
        0
    ]
    gas["withdrawCollateral (with debt)"] = r.gas_used
    pw.push(1_000)
    send(pw.chain, *pw.fund_stable(LIQUIDATOR, usd(5_000)))
    liquidate = pw.pool.call(LIQUIDATOR, "liquidate", BORROWER, pw.weth.address, usd(5_000), 0)
    gas["liquidate (close factor, collateral left)"] = send(pw.chain, liquidate)[0].gas_used
    r = send(pw.chain, liquidate)[0]
    assert [e for e in r.events if e.name == "BadDebtRecorded"]
    gas["liquidate (last collateral, bad debt)"] = r.gas_used
    r = send(pw.chain, pw.pool.call(SUPPLIER, "withdraw", usd(1_000), SUPPLIER, SUPPLIER))[0]
    gas["withdraw (supply)"] = r.gas_used
    _report("LendingPool gas", gas)


def test_synthetic_dollar_gas(chain):
    _anvil_only(chain)
    with chain.isolate():
        sw = deploy_synth_world(chain, deploy_multi, MarketSpec("ETH", 100), reserve_units=0)
        gas: dict[str, int] = {}
        c = sw.mv.collateral
        send(
            chain,
            c.mint(sw.mv.deployer, SYNTH_MANAGER, usd(1_000)),
            c.approve(SYNTH_MANAGER, sw.synth.address, 2**256 - 1),
        )
        gas["addReserve"] = send(chain, sw.synth.call(SYNTH_MANAGER, "addReserve", usd(300)))[
            0
        ].gas_used
        r = send(chain, sw.synth.call(SYNTH_MANAGER, "moveMargin", usd(300), gas=600_000))[0]
        gas["moveMargin (to the venue)"] = r.gas_used
        gas["mint (opens the short)"] = sw.mint(MINTER, wad(10)).gas_used
        gas["mint (adds to the short)"] = sw.mint(MINTER, wad(5)).gas_used
        gas["redeem (base only, buys back)"] = sw.redeem(MINTER, wad(500)).gas_used
        sw.push(80)
        gas["redeem (base + stablecoin from the venue)"] = sw.redeem(MINTER, wad(1_000)).gas_used
        sw.push(100)
        sw.mint(MINTER, wad(10))
        sw.push(127)  # equity 300 - 270 = 30 < maintenance 31.75
        send(chain, sw.mv.venue.liquidate(KEEPER, sw.synth.address))
        send(
            chain,
            sw.synth.call(SYNTH_MANAGER, "addReserve", usd(300)),
            sw.synth.call(SYNTH_MANAGER, "moveMargin", usd(300), gas=600_000),
        )
        r = send(chain, sw.synth.call(SYNTH_MANAGER, "rebalanceHedge", gas=1_500_000))[0]
        gas["rebalanceHedge (reopens the short)"] = r.gas_used
        _report("SyntheticDollar gas", gas)
