"""Deploy the scenario's contagion world at setup (issue 13; the ``world:`` section,
:mod:`simulator.scenario.world`), after the venue and its agents (:func:`simulator.world.build_world`).

In order, every step deterministic (addresses from :func:`simulator.world.agent_addresses`,
contracts from the deployer's nonce, draws from child 6 of the seed), so a resumed run rebuilds
the same world before it loads the saved chain state over it:

1. the synthetic dollar (:func:`simulator.world_contracts.deploy_synthetic_dollar`) on its
   market's base token, hedging on the venue's market with the venue's index oracle; an
   ``Oracle`` of its own price (pushed each block from its AMM) for the pool; a ``SpotAMM``
   of it against the stablecoin;
2. the lending pool (:func:`simulator.world_contracts.deploy_lending_pool`) and its collateral
   listings (``VAULT_SHARE`` for the backstop vault, ``ORACLE`` for the synthetic dollar and
   base tokens);
3. one block: the manager's reserve moved to the venue as the hedge's margin, the holders'
   mint of ``supply_usd`` (the contract shorts the same base at the venue: an ordinary cross
   account), the lender's supply, the keeper's and arbitrageur's capital, and every borrower's
   collateral acquired on chain (a deposit into the backstop vault, a mint of the synthetic
   dollar, or the base token);
4. one block: the AMM seeded by the holders, each borrower's collateral posted and its loan
   taken down to its drawn target health factor (valued with the pool's own
   ``collateralValue``).

Units: USD floats in the spec; on chain stablecoin base units (6 decimals) and WAD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.chain.base import Chain
from simulator.chain.contracts import ContractWrapper
from simulator.chain.deploy import deploy_contract
from simulator.chain.types import Call, TxResult
from simulator.contagion.graph import ContagionDeployment
from simulator.errors import PerpsimError
from simulator.protocol.contracts import Oracle, SpotAMM
from simulator.protocol.venue_deploy import MultiVenue
from simulator.scenario import Scenario
from simulator.scenario.world import WorldSpec
from simulator.units import WAD, to_units, to_wad
from simulator.world_contracts import (
    LendingPool,
    PriceSource,
    SyntheticDollar,
    deploy_lending_pool,
    deploy_synthetic_dollar,
)

MAX_UINT = 2**256 - 1
#: Child of ``SeedSequence(seed)`` the world's draws come from (children 0..5 are taken).
WORLD_STREAM = 6
#: Gas (wei) every world agent is given.
AGENT_GAS_WEI = 10**20
#: The synthetic dollar's oracle: largest age of a price the pool accepts (s; the engine
#: pushes every block) and its TWAP window (s, unused by the pool).
SYNTH_ORACLE_MAX_AGE_S = 86_400
SYNTH_ORACLE_TWAP_WINDOW_S = 600
#: A borrower borrows at most this share of its borrowing power (the collateral factor), so a
#: rounding of the pool's valuation cannot refuse the loan.
BORROW_POWER_USE = 0.999


class WorldSetupError(PerpsimError):
    """The contagion world could not be deployed (a setup transaction reverted)."""


def world_stream(seed: int) -> np.random.Generator:
    """The world's generator: child :data:`WORLD_STREAM` of ``SeedSequence(seed)``."""
    child = np.random.SeedSequence(int(seed)).spawn(WORLD_STREAM + 1)[WORLD_STREAM]
    return np.random.default_rng(child)


@dataclass
class DefiWorld:
    """The deployed contagion world: wrappers, agents and the borrowers' draws."""

    spec: WorldSpec
    deployment: ContagionDeployment
    """Addresses for :func:`simulator.contagion.graph.holdings_graph`."""
    pool: LendingPool | None
    synth: SyntheticDollar | None
    synth_oracle: Oracle | None
    synth_amm: SpotAMM | None
    synth_market: int
    """Index of the synthetic dollar's market in the scenario's symbols (-1: none)."""
    synth_market_id: int
    """Its venue market id (0: none)."""
    collateral_tokens: dict[str, str]
    """Pool collateral name -> token address."""
    manager: str
    holder: str
    """The synthetic dollar's holders (one account: minted ``supply_usd``, seeded its AMM)."""
    lender: str
    keeper: str
    arbitrageur: str
    arbitrageur_base: int
    """Base token (WAD) the arbitrageur holds for minting; what it holds above it, redemptions
    paid, and it sells."""
    pusher: str
    borrowers: list[str]
    borrower_collateral: list[str]
    """Per borrower: the name of the collateral it posted."""
    borrower_collateral_usd: np.ndarray
    """Per borrower: collateral value the pool gave it at setup (USD)."""
    borrower_debt_usd: np.ndarray
    """Per borrower: stablecoin borrowed at setup (USD)."""
    target_health_factor: np.ndarray
    """Per borrower: the drawn target health factor (x)."""
    setup_transactions: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def borrower_tokens(self) -> list[str]:
        return [self.collateral_tokens[c] for c in self.borrower_collateral]


def _require(results: list[TxResult], what: str) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise WorldSetupError(
            f"world setup, {what}: {len(failed)} transactions failed, first {failed[0].label}: "
            f"{failed[0].error}"
        )


def draw_borrowers(
    spec: WorldSpec, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each borrower's collateral name, collateral (USD) and target health factor (x)."""
    b = spec.lending_pool.borrowers
    names = list(b.collateral_weights)
    w = np.array([b.collateral_weights[n] for n in names], dtype=np.float64)
    kind = rng.choice(len(names), size=b.count, p=w / w.sum())
    amount = b.collateral_usd.median_usd * np.exp(
        b.collateral_usd.sigma * rng.standard_normal(b.count)
    )
    hf = 1.0 + b.health_factor_excess_min * (1.0 + rng.pareto(b.tail_alpha, size=b.count))
    return [names[k] for k in kind], amount, hf


def deploy_defi_world(
    chain: Chain,
    scenario: Scenario,
    venue: MultiVenue,
    start_prices_usd: np.ndarray,
    *,
    mm_vault: str | None = None,
) -> DefiWorld:
    """Deploy and fund ``scenario.world`` beside ``venue`` (see the module docstring);
    ``start_prices_usd``: each market's step-0 price (USD, the world's inputs); ``mm_vault``:
    the market-making vault's account (a node of the graph), if any."""
    from simulator.world import agent_addresses  # world.py calls this module

    spec: WorldSpec = scenario.world
    salt = scenario.seed
    deployer = venue.deployer
    stable = venue.collateral
    symbols = [m.symbol for m in scenario.markets]
    start_prices = np.asarray(start_prices_usd, dtype=np.float64)
    (manager, holder, lender, keeper, arb, pusher) = (
        agent_addresses(f"world_{role}", 1, salt)[0]
        for role in ("manager", "holder", "lender", "keeper", "arbitrageur", "pusher")
    )
    chain.set_balance([manager, holder, lender, keeper, arb, pusher], AGENT_GAS_WEI)
    calls: list[Call] = []
    acquire: list[Call] = []
    tokens: dict[str, str] = {}
    wrappers: dict[str, ContractWrapper] = {}

    # 1. the synthetic dollar, its oracle and its AMM
    synth = synth_oracle = amm = None
    arb_base = 0
    sm, sid = -1, 0
    sd = spec.synthetic_dollar
    if sd is not None:
        sm = symbols.index(sd.market)
        sid = venue.ids[sd.market]
        base = venue.bases[sid]
        synth = deploy_synthetic_dollar(
            chain, base_token=base.address, stablecoin=stable.address,
            venue=venue.venue.address, market=sid, oracle=venue.oracles[sid].address,
            admin=deployer, manager=manager, max_slippage_bps=sd.max_slippage_bps,
            sender=deployer,
        )  # fmt: skip
        synth_oracle = deploy_contract(
            chain, Oracle, deployer, pusher, WAD, SYNTH_ORACLE_MAX_AGE_S, 0,
            SYNTH_ORACLE_TWAP_WINDOW_S, sender=deployer,
        )  # fmt: skip
        amm = deploy_contract(
            chain, SpotAMM, stable.address, synth.address, sd.amm_fee_bps, holder, sender=deployer
        )
        tokens["synthetic_dollar"] = synth.address
        wrappers["synthetic_dollar"] = synth
        price = float(start_prices[sm])
        reserve = to_units(sd.reserve_usd)
        if reserve:
            calls += [
                stable.mint(deployer, manager, reserve),
                stable.approve(manager, synth.address, MAX_UINT),
                synth.add_reserve(manager, reserve),
                synth.move_margin(manager, reserve),
            ]
        holder_base = to_wad(round(sd.supply_usd / price, 12))
        calls += [
            base.mint(deployer, holder, holder_base),
            base.approve(holder, synth.address, MAX_UINT),
            synth.mint(holder, holder_base),
        ]
        if sd.arbitrageur_capital_usd > 0:
            arb_base = to_wad(round(sd.arbitrageur_capital_usd / price, 12))
            calls += [
                stable.mint(deployer, arb, to_units(sd.arbitrageur_capital_usd)),
                base.mint(deployer, arb, arb_base),
                base.approve(arb, synth.address, MAX_UINT),
                stable.approve(arb, amm.address, MAX_UINT),
                synth.call(arb, "approve", amm.address, MAX_UINT),
                base.approve(arb, venue.amms[sid].address, MAX_UINT),
            ]
        calls += [
            stable.mint(deployer, holder, to_units(sd.amm_liquidity_usd)),
            stable.approve(holder, amm.address, MAX_UINT),
            synth.call(holder, "approve", amm.address, MAX_UINT),
        ]

    # 2. the lending pool and its collateral
    pool = None
    lp = spec.lending_pool
    borrowers: list[str] = []
    kinds: list[str] = []
    amount_usd = np.zeros(0)
    target_hf = np.zeros(0)
    if lp is not None:
        pool = deploy_lending_pool(
            chain, stable.address, deployer,
            base_rate_per_year_wad=to_wad(lp.base_rate_per_year),
            slope_per_year_wad=to_wad(lp.slope_per_year),
            close_factor_wad=to_wad(lp.close_factor), sender=deployer,
        )  # fmt: skip
        listings = []
        for name, terms in lp.collateral.items():
            if name == "backstop_vault":
                wrappers[name], source, feed = venue.vault, PriceSource.VAULT_SHARE, venue.vault
            elif name == "synthetic_dollar":
                wrappers[name], source, feed = synth, PriceSource.ORACLE, synth_oracle
            else:
                mid = venue.ids[name]
                wrappers[name], source, feed = (
                    venue.bases[mid],
                    PriceSource.ORACLE,
                    venue.oracles[mid],
                )
            token = tokens[name] = wrappers[name].address
            listings.append(
                pool.list_collateral(
                    deployer,
                    token,
                    source,
                    feed.address,
                    terms.collateral_factor_bps * 10**14,
                    terms.liquidation_threshold_bps * 10**14,
                    terms.liquidation_bonus_bps,
                )  # fmt: skip
            )
        _require(chain.execute(listings), "listing the pool's collateral")
        supply = to_units(lp.supply_usd)
        calls += [
            stable.mint(deployer, lender, supply),
            stable.approve(lender, pool.address, MAX_UINT),
            pool.supply(lender, supply),
            stable.mint(deployer, keeper, to_units(lp.keeper.capital_usd)),
            stable.approve(keeper, pool.address, MAX_UINT),
        ]
        if synth is not None:  # it sells the synthetic dollar it seizes on its AMM
            calls.append(synth.call(keeper, "approve", amm.address, MAX_UINT))
        kinds, amount_usd, target_hf = draw_borrowers(spec, world_stream(scenario.seed))
        borrowers = agent_addresses("world_borrower", len(kinds), salt)
        if borrowers:
            chain.set_balance(borrowers, AGENT_GAS_WEI)
        for who, kind, usd in zip(borrowers, kinds, amount_usd, strict=True):
            if kind == "backstop_vault":
                units = to_units(float(usd))
                acquire += [
                    stable.mint(deployer, who, units),
                    stable.approve(who, venue.vault.address, MAX_UINT),
                    venue.vault.deposit(who, units, who),
                ]
            elif kind == "synthetic_dollar":
                base = venue.bases[sid]
                amount = to_wad(round(float(usd) / float(start_prices[sm]), 12))
                acquire += [
                    base.mint(deployer, who, amount),
                    base.approve(who, synth.address, MAX_UINT),
                    synth.mint(who, amount),
                ]
            else:
                m = symbols.index(kind)
                base = venue.bases[venue.ids[kind]]
                acquire.append(
                    base.mint(deployer, who, to_wad(round(float(usd) / float(start_prices[m]), 12)))
                )
    results = chain.execute(calls + acquire, max_block_calls=1_000)
    _require(results, "funding the world's agents")
    n_tx = len(results) + len(tokens)

    # 3. the AMM seeded; borrowers post their collateral and borrow
    second: list[Call] = []
    if sd is not None:
        second.append(
            amm.add_liquidity(holder, to_units(sd.amm_liquidity_usd), to_wad(sd.amm_liquidity_usd))
        )
    debt_usd = np.zeros(len(borrowers))
    value_usd = np.zeros(len(borrowers))
    if borrowers:
        token_of = [tokens[k] for k in kinds]
        erc20 = {tokens[k]: wrappers[k] for k in kinds}
        held = chain.read(
            [erc20[t].view("balanceOf", who) for who, t in zip(borrowers, token_of, strict=True)]
        )
        values = chain.read(
            [pool.view("collateralValue", t, int(h)) for t, h in zip(token_of, held, strict=True)]
        )
        for i, (who, t, h, v) in enumerate(zip(borrowers, token_of, held, values, strict=True)):
            terms = lp.collateral[kinds[i]]
            value = v / WAD
            power = value * terms.collateral_factor_bps / 1e4 * BORROW_POWER_USE
            wanted = value * terms.liquidation_threshold_bps / 1e4 / float(target_hf[i])
            debt = min(power, wanted)
            value_usd[i] = value
            debt_units = to_units(debt)
            debt_usd[i] = debt_units / 1e6
            second += [
                erc20[t].call(who, "approve", pool.address, MAX_UINT, gas=80_000),
                pool.deposit_collateral(who, t, int(h)),
            ]
            if debt_units > 0:
                second.append(pool.borrow(who, debt_units))
    if second:
        results = chain.execute(second, max_block_calls=1_000)
        _require(results, "seeding the AMM and placing the borrowers")
        n_tx += len(results)

    deployment = ContagionDeployment(
        venue=venue.venue.address,
        stablecoin=stable.address,
        insurance_fund=venue.fund.address,
        backstop_vault=venue.vault.address if venue.vault_wired else None,
        mm_vault_account=mm_vault,
        lending_pool=pool.address if pool is not None else None,
        synthetic_dollar=synth.address if synth is not None else None,
    )
    return DefiWorld(
        spec=spec,
        deployment=deployment,
        pool=pool,
        synth=synth,
        synth_oracle=synth_oracle,
        synth_amm=amm,
        synth_market=sm,
        synth_market_id=sid,
        collateral_tokens=tokens,
        manager=manager,
        holder=holder,
        lender=lender,
        keeper=keeper,
        arbitrageur=arb,
        arbitrageur_base=arb_base,
        pusher=pusher,
        borrowers=borrowers,
        borrower_collateral=kinds,
        borrower_collateral_usd=value_usd,
        borrower_debt_usd=debt_usd,
        target_health_factor=np.asarray(target_hf, dtype=np.float64),
        setup_transactions=n_tx,
    )
