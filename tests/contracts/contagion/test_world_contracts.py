"""The contagion contracts through their Python layer (:mod:`simulator.world_contracts`): a
depeg of the synthetic dollar on its own ``SpotAMM`` pool, pushed into the oracle the lending
pool values it by, makes a borrower against it liquidatable: one step of contagion on chain."""

from __future__ import annotations

from contagion_helpers import (
    ADMIN,
    LIQUIDATOR,
    MAX_UINT,
    MINTER,
    SUPPLIER,
    SYNTH_MANAGER,
    reserve_and_mint,
    send,
)
from perp_helpers import PUSHER, WAD, event, usd, wad
from venue_helpers import MarketSpec, deploy_multi

from simulator.chain.artifacts import load_artifacts
from simulator.chain.deploy import deploy_contract
from simulator.protocol.contracts import Oracle, SpotAMM
from simulator.world_contracts import (
    PriceSource,
    deploy_lending_pool,
    deploy_synthetic_dollar,
)


def test_a_depeg_on_the_synthetic_dollars_pool_reaches_a_lender_through_its_oracle(chain):
    with chain.isolate():
        mv = deploy_multi(chain, [MarketSpec("ETH", 100)])
        stable, deployer = mv.collateral, mv.deployer
        synth = deploy_synthetic_dollar(
            chain, base_token=mv.bases[1].address, stablecoin=stable.address,
            venue=mv.venue.address, market=1, oracle=mv.oracles[1].address, admin=ADMIN,
            manager=SYNTH_MANAGER, max_slippage_bps=100,
        )  # fmt: skip
        reserve_and_mint(chain, mv, synth, reserve_units=usd(100), minted_base=wad(10))
        assert chain.read_one(synth.backing_ratio()) == wad("1.1")

        # its secondary market: an ordinary SpotAMM of the stablecoin against the token
        art = load_artifacts()
        amm = deploy_contract(
            chain, SpotAMM, stable.address, synth.address, 30, deployer, artifacts=art
        )
        oracle = deploy_contract(chain, Oracle, deployer, PUSHER, WAD, 3_600, 0, 600, artifacts=art)
        send(
            chain,
            synth.call(MINTER, "transfer", deployer, wad(500)),
            stable.mint(deployer, deployer, usd(500)),
            stable.approve(deployer, amm.address, MAX_UINT),
            synth.call(deployer, "approve", amm.address, MAX_UINT),
            amm.call(deployer, "addLiquidity", usd(500), wad(500)),
        )
        assert amm.read("spotPrice") == WAD

        pool = deploy_lending_pool(
            chain, stable.address, ADMIN, base_rate_per_year_wad=0, slope_per_year_wad=0,
            close_factor_wad=wad("0.5"),
        )  # fmt: skip
        send(
            chain,
            pool.list_collateral(
                ADMIN,
                synth.address,
                PriceSource.ORACLE,
                oracle.address,
                wad("0.9"),
                wad("0.92"),
                300,
            ),  # fmt: skip
            stable.mint(deployer, SUPPLIER, usd(10_000)),
            stable.approve(SUPPLIER, pool.address, MAX_UINT),
            pool.supply(SUPPLIER, usd(10_000)),
            synth.call(MINTER, "approve", pool.address, MAX_UINT),
            pool.deposit_collateral(MINTER, synth.address, wad(400)),
            pool.borrow(MINTER, usd(350)),
        )
        assert chain.read_one(pool.health_factor(MINTER)) == wad(368) * WAD // wad(350)

        # holders dump 100 tokens on the pool: its price falls and the oracle follows it
        send(
            chain,
            synth.call(MINTER, "approve", amm.address, MAX_UINT),
            amm.call(MINTER, "swap", True, wad(100), 0, MINTER),
        )
        depegged = amm.read("spotPrice")
        assert depegged < wad("0.75")
        send(chain, oracle.push_price(PUSHER, depegged))
        hf = chain.read_one(pool.health_factor(MINTER))
        assert hf == (wad(400) * depegged // WAD) * wad("0.92") // WAD * WAD // wad(350) < WAD
        # the token is still fully backed on chain: the loss is the lender's exposure to its price
        assert chain.read_one(synth.backing_ratio()) == wad("1.1")

        send(
            chain,
            stable.mint(deployer, LIQUIDATOR, usd(200)),
            stable.approve(LIQUIDATOR, pool.address, MAX_UINT),
        )
        r = send(chain, pool.liquidate(LIQUIDATOR, MINTER, synth.address, usd(175)))[0]
        assert event(r, "Liquidated")["healthFactorBefore"] == hf
