"""Deploy the scenario's contagion world at setup (issue 13; the ``world:`` section,
:mod:`simulator.scenario.world`), after the venue and its agents (:func:`simulator.world.build_world`).

In order, every step deterministic (addresses from :func:`simulator.world.agent_addresses`,
contracts from the deployer's nonce, draws from child 6 of the seed), so a resumed run rebuilds
the same world before it loads the saved chain state over it:

0. the second venue (``world.second_venue``, :func:`deploy_second_venue`), when given: a
   :func:`~simulator.protocol.venue_deploy.deploy_multi_venue` of its preset on the run's
   stablecoin (one token for both venues), its insurance fund, backstop vault and
   counterparty pool funded, then its small book of traders opened (one block each for the
   deposits and the opens);
1. the synthetic dollar (:func:`simulator.world_contracts.deploy_synthetic_dollar`) on its
   market's base token, hedging on the market of the venue ``synthetic_dollar.venue`` names
   (the run's or the second) with that venue's index oracle; an
   ``Oracle`` of its own price (pushed each block from its AMM) for the pool; a ``SpotAMM``
   of it against the stablecoin;
2. the lending pool (:func:`simulator.world_contracts.deploy_lending_pool`) and its collateral
   listings (``VAULT_SHARE`` for the backstop vaults, the first venue's or the second's,
   ``ORACLE`` for the synthetic dollar and base tokens);
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
from simulator.protocol.params import load_preset
from simulator.protocol.venue_deploy import MultiVenue, deploy_multi_venue
from simulator.protocol.venue_params import (
    MultiVenueParams,
    VenueBufferParams,
    VenueGovernanceParams,
    venue_market_from_preset,
)
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
#: The second venue's timelock delay at setup (s): its markets are listed through its
#: timelock, which advances the chain's clock by the delay; its governance is not exercised in
#: the run, so one second keeps the first venue's open book from sitting a day (funding) before
#: step 0.
SECOND_VENUE_TIMELOCK_DELAY_S = 1


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
    second: MultiVenue | None = None
    """The second venue (``world.second_venue``), or None."""
    second_traders: list[str] = field(default_factory=list)
    """The second venue's traders (cross accounts, one position each)."""
    second_trader_market: list[int] = field(default_factory=list)
    """Per second-venue trader: its market's id at the second venue."""
    second_trader_size: list[int] = field(default_factory=list)
    """Per second-venue trader: the size it opened (WAD base, signed)."""
    hedge_venue: MultiVenue | None = None
    """The venue of the synthetic dollar's hedge (``venue`` or :attr:`second`; None without a
    synthetic dollar)."""

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


def second_venue_params(scenario: Scenario) -> MultiVenueParams:
    """The second venue's parameters: ``world.second_venue.preset``'s table entry of each of
    its markets at the run's start price (the oracle's initial price) and the preset's AMM
    depth, ``backstop_fraction`` over every market's when given; the preset's buffers with the
    spec's insurance fund and backstop vault; its timelock delay
    :data:`SECOND_VENUE_TIMELOCK_DELAY_S`; no margin controller."""
    spec = scenario.world.second_venue
    preset = load_preset(spec.preset)
    starts = scenario.start_prices_usd()
    symbols = [m.symbol for m in scenario.markets]
    markets = []
    for symbol in spec.markets:
        overrides: dict = {"initial_price_usd": float(starts[symbols.index(symbol)])}
        if spec.backstop_fraction is not None:
            overrides["backstop_fraction"] = spec.backstop_fraction
        markets.append(venue_market_from_preset(preset, symbol, overrides))
    buffers = {
        **preset.buffers.model_dump(),
        "insurance_fund_usd": spec.insurance_fund_usd,
        "backstop_vault_usd": spec.backstop_vault_usd,
        "backstop_enabled": spec.backstop_vault_usd > 0,
    }
    if spec.backstop_margin_share is not None:
        buffers["backstop_margin_share"] = spec.backstop_margin_share
    return MultiVenueParams(
        name=preset.name,
        description=preset.description,
        buffers=VenueBufferParams.model_validate(buffers),
        governance=VenueGovernanceParams.model_validate(
            {
                **preset.governance.model_dump(),
                "timelock_delay_s": SECOND_VENUE_TIMELOCK_DELAY_S,
            }
        ),
        controller={**preset.controller.model_dump(), "enabled": False},
        markets=tuple(markets),
    )


def deploy_second_venue(
    chain: Chain, scenario: Scenario, venue: MultiVenue
) -> tuple[MultiVenue, list[str], list[int], list[int], int]:
    """Deploy ``world.second_venue`` on ``venue``'s stablecoin and open its book (module
    docstring, step 0). Returns the venue, its traders, each one's market id and opened size
    (WAD base, signed), and the number of setup transactions."""
    spec = scenario.world.second_venue
    params = second_venue_params(scenario)
    second = deploy_multi_venue(
        chain,
        params,
        venue.deployer,
        with_backstop_vault=params.buffers.backstop_enabled,
        collateral=venue.collateral,
    )
    n_tx = len(second.deploy_results)
    book = spec.traders
    traders = agent_addresses_for("world_second_trader", book.count, scenario.seed)
    if not traders:
        return second, [], [], [], n_tx
    chain.set_balance(traders, AGENT_GAS_WEI)
    longs = round(book.count * book.long_share)
    units = to_units(book.collateral_usd)
    market_ids, sizes, opens = [], [], []
    for i, who in enumerate(traders):
        m = params.markets[i % len(params.markets)]
        size = to_wad(round(book.collateral_usd * book.leverage / m.oracle.initial_price_usd, 12))
        size = size if i < longs else -size
        market_ids.append(second.ids[m.symbol])
        sizes.append(size)
        opens.append(second.venue.trade(who, second.ids[m.symbol], size, 0))
    deposits = second.fund_calls(traders, units)
    deposits += [second.venue.deposit(who, units) for who in traders]
    results = chain.execute(deposits, max_block_calls=1_000)
    _require(results, "funding the second venue's traders")
    opened = chain.execute(opens, max_block_calls=1_000)
    _require(opened, "opening the second venue's book")
    return second, traders, market_ids, sizes, n_tx + len(results) + len(opened)


def agent_addresses_for(role: str, count: int, salt: int) -> list[str]:
    """:func:`simulator.world.agent_addresses` (imported late: world.py calls this module)."""
    from simulator.world import agent_addresses

    return agent_addresses(role, count, salt)


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

    # 0. the second venue and its book
    venue2 = None
    second_traders: list[str] = []
    second_markets: list[int] = []
    second_sizes: list[int] = []
    n_second = 0
    if spec.second_venue is not None:
        venue2, second_traders, second_markets, second_sizes, n_second = deploy_second_venue(
            chain, scenario, venue
        )

    # 1. the synthetic dollar, its oracle and its AMM
    synth = synth_oracle = amm = None
    arb_base = 0
    sm, sid = -1, 0
    sd = spec.synthetic_dollar
    hedge_venue = None
    if sd is not None:
        sm = symbols.index(sd.market)
        sid = venue.ids[sd.market]
        base = venue.bases[sid]
        hedge_venue = venue2 if sd.venue == "second_venue" else venue
        hid = hedge_venue.ids[sd.market]
        synth = deploy_synthetic_dollar(
            chain, base_token=base.address, stablecoin=stable.address,
            venue=hedge_venue.venue.address, market=hid,
            oracle=hedge_venue.oracles[hid].address, admin=deployer, manager=manager,
            max_slippage_bps=sd.max_slippage_bps, sender=deployer,
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
            elif name == "second_backstop_vault":
                wrappers[name], source, feed = venue2.vault, PriceSource.VAULT_SHARE, venue2.vault
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
            if kind in ("backstop_vault", "second_backstop_vault"):
                vault = venue.vault if kind == "backstop_vault" else venue2.vault
                units = to_units(float(usd))
                acquire += [
                    stable.mint(deployer, who, units),
                    stable.approve(who, vault.address, MAX_UINT),
                    vault.deposit(who, units, who),
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
    n_tx = len(results) + len(tokens) + n_second

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
        second_venue=venue2.venue.address if venue2 is not None else None,
        second_insurance_fund=venue2.fund.address if venue2 is not None else None,
        second_backstop_vault=(
            venue2.vault.address if venue2 is not None and venue2.vault_wired else None
        ),
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
        second=venue2,
        second_traders=second_traders,
        second_trader_market=second_markets,
        second_trader_size=second_sizes,
        hedge_venue=hedge_venue,
    )
