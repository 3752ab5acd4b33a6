"""Deploy a whole multi-market venue (``contracts/PerpVenue.sol``) from
:class:`~simulator.protocol.venue_params.MultiVenueParams`: the one deploy of perpsim, used by
the engine (:func:`simulator.world.build_world`), ``perpsim deploy``, ``ape run deploy`` and the
tests.

Four round trips whatever the number of markets (each phase is one ``chain.execute``; phase 2b
adds one when a backstop vault or margin controller is deployed, and one more hands the
controller to the timelock):

1. collateral token, timelock, the venue's three modules, one base token per market;
2. the venue, the insurance fund, one ``Oracle`` and one ``SpotAMM`` per market;
2b. the venue's ``VenueBackstopVault`` and ``VenueMarginController`` (they need its address);
3. wiring: the fund's market, ``venue.initialize`` (fund, backstop account, ADL keeper,
   controller), the fund's seed and the counterparty pool, the vault's LP deposit
   (``backstop_vault_usd``, of which ``backstop_margin_share`` is moved into its venue account
   by the manager), each AMM's liquidity (the AMMs are what arbitrageurs and the hedger trade
   on, per asset), and the timelock ``schedule`` of one ``listMarket`` per market and of the
   vault's ``setSpotAmm`` per market (each market's AMM, for the vault to hedge on);
4. after the timelock delay: a fresh price on every oracle, then every ``listMarket`` executed
   through the timelock, as governance would (market ids 1, 2, ... in the parameters' order),
   then the vault's ``setSpotAmm`` calls;
5. (with a controller) its parameters for every market (``controller.enabled``), then its admin
   role handed from the deployer to the timelock.

The venue's backstop is an account address, and the controller an address holding
``CONTROLLER_ROLE``: both may be given (``backstop_vault`` / ``controller``, zero = none), or
deployed here: ``with_backstop_vault`` deploys the ``VenueBackstopVault`` and wires it as the
backstop, ``controller.enabled`` deploys the ``VenueMarginController`` and grants it the role.
``deploy_unwired`` (``perpsim deploy``, ``ape run deploy``) deploys whichever of the two the
parameters leave unwired too, so that every address exists to inspect: an unwired vault is
unfunded and has no AMMs, an unwired controller controls no market; neither holds a role at the
venue.

Roles: the timelock (delay from the parameters) holds the venue's admin and governor roles and
the oracles' admin role; ``governor`` proposes and executes timelock operations; ``guardian``
(when ``governance.guardian_enabled``) may only tighten a market; ``pusher`` pushes oracle prices;
``adl_keeper`` (when ``buffers.adl_keeper_enabled``) holds ``ADL_KEEPER_ROLE``. All default to the
deployer, who keeps the tokens and AMMs (simulation infrastructure: it mints and seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.chain.artifacts import Artifacts, load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, DEPLOY_GAS, DeployError
from simulator.chain.types import Call, TxResult, require_ok
from simulator.protocol.contracts import (
    ZERO_ADDRESS,
    BaseToken,
    InsuranceFund,
    Oracle,
    PerpTimelock,
    SpotAMM,
)
from simulator.protocol.venue_contracts import (
    PerpVenue,
    VenueBackstopVault,
    VenueMarginController,
)
from simulator.protocol.venue_params import MultiVenueParams
from simulator.units import WAD, to_units, to_wad

MODULES = ("VenueLiquidationModule", "VenueAdlModule", "VenueGovernanceModule")


@dataclass
class MultiVenue:
    """Typed wrappers of one deployed multi-market venue, its markets, and who holds which role.

    ``ids`` maps a symbol to its market id; ``oracles``, ``amms`` and ``bases`` are keyed by
    market id.
    """

    chain: Chain
    params: MultiVenueParams
    venue: PerpVenue
    collateral: CollateralToken
    fund: InsuranceFund
    timelock: PerpTimelock
    modules: dict[str, str]
    ids: dict[str, int]
    oracles: dict[int, Oracle]
    amms: dict[int, SpotAMM]
    bases: dict[int, BaseToken]
    deployer: str
    governor: str
    guardian: str
    pusher: str
    adl_keeper: str
    backstop_vault: str
    controller: str
    manager: str = ""
    """Holds the backstop vault's MANAGER_ROLE (its margin and position trades)."""
    vault: VenueBackstopVault | None = None
    """The backstop vault deployed with the venue (wired or not, see :attr:`vault_wired`), or
    None."""
    margin_controller: VenueMarginController | None = None
    """The margin controller deployed with the venue (wired or not, see
    :attr:`controller_wired`), or None."""
    deploy_results: list[TxResult] = field(default_factory=list, repr=False)

    @property
    def vault_wired(self) -> bool:
        """Whether the deployed vault is the venue's backstop (takes accounts over)."""
        return self.vault is not None and self.backstop_vault == self.vault.address

    @property
    def controller_wired(self) -> bool:
        """Whether the deployed controller holds ``CONTROLLER_ROLE`` and controls every market."""
        return (
            self.margin_controller is not None and self.controller == self.margin_controller.address
        )

    @property
    def market_ids(self) -> list[int]:
        """Market ids in the parameters' (listing) order."""
        return [self.ids[m.symbol] for m in self.params.markets]

    def addresses(self) -> dict[str, str]:
        """Contract addresses by role (per-market ones as ``oracle.BTC``, ``amm.BTC``...)."""
        out = {
            "collateral": self.collateral.address,
            "venue": self.venue.address,
            "insurance_fund": self.fund.address,
            "timelock": self.timelock.address,
            **{f"module.{n}": a for n, a in self.modules.items()},
        }
        if self.vault is not None:
            out["backstop_vault"] = self.vault.address
        if self.margin_controller is not None:
            out["controller"] = self.margin_controller.address
        for symbol, market in self.ids.items():
            out[f"oracle.{symbol}"] = self.oracles[market].address
            out[f"amm.{symbol}"] = self.amms[market].address
            out[f"base.{symbol}"] = self.bases[market].address
        return out

    # -- helpers for the engine and tests ----------------------------------------------------

    def fund_calls(self, accounts: Sequence[str], amount_units: int) -> list[Call]:
        """Mint collateral (base units) to each account and approve the venue for it."""
        calls = [self.collateral.mint(self.deployer, a, amount_units) for a in accounts]
        calls += [self.collateral.approve(a, self.venue.address, 2**256 - 1) for a in accounts]
        return calls

    def push_price(self, market: int, price_wad: int) -> Call:
        """Push an index price (WAD) to ``market``'s oracle as the pusher."""
        return self.oracles[market].push_price(self.pusher, price_wad)

    def push_prices(self, prices_wad: dict[int, int]) -> list[Call]:
        """One push per market {market id: price WAD}, to send in one batch."""
        return [self.push_price(m, p) for m, p in prices_wad.items()]

    def govern(self, call: Call, *, salt: bytes | None = None) -> TxResult:
        """Schedule ``call`` (built with the timelock as sender) on the timelock, wait the delay,
        execute it; returns the execution's result."""
        return self.govern_many([call], salt=salt)[0]

    def govern_many(self, calls: Sequence[Call], *, salt: bytes | None = None) -> list[TxResult]:
        """Schedule every call in one block, wait the delay once, execute them in one block."""
        salt = salt or PerpTimelock.ZERO_SALT
        delay = self.chain.read_one(self.timelock.min_delay())
        require_ok(
            self.chain.execute(
                [self.timelock.schedule(self.governor, c.to, c.data, delay, salt) for c in calls]
            )
        )
        self.chain.advance_time(delay + 1)
        return self.chain.execute(
            [self.timelock.execute(self.governor, c.to, c.data, salt) for c in calls]
        )


def _deploy_batch(
    chain: Chain,
    artifacts: Artifacts,
    sender: str,
    items: Sequence[tuple[type[ContractWrapper], tuple[Any, ...], str | None]],
) -> list[ContractWrapper]:
    """Deploy several contracts in one ``chain.execute``: (wrapper, constructor args, artifact
    name or None for the wrapper's) each; DeployError naming the first that failed."""
    types = [artifacts[name or cls.CONTRACT_NAME] for cls, _, name in items]
    calls = [
        Call(
            sender=sender,
            to=None,
            data=t.bytecode + t.constructor().encode(*args),
            gas=DEPLOY_GAS,
            label=f"deploy {t.name}",
        )
        for t, (_, args, _) in zip(types, items, strict=True)
    ]
    results = chain.execute(calls)
    out = []
    for t, (cls, _, _), r in zip(types, items, results, strict=True):
        if not r.ok or not r.contract_address:
            raise DeployError(f"deploying {t.name} failed: {r.error}")
        out.append(cls(chain, t, r.contract_address))
    return out


def deploy_multi_venue(
    chain: Chain,
    params: MultiVenueParams,
    deployer: str = DEFAULT_DEPLOYER,
    *,
    governor: str | None = None,
    guardian: str | None = None,
    pusher: str | None = None,
    adl_keeper: str | None = None,
    backstop_vault: str = ZERO_ADDRESS,
    controller: str = ZERO_ADDRESS,
    manager: str | None = None,
    with_backstop_vault: bool = False,
    deploy_unwired: bool = False,
    collateral: CollateralToken | None = None,
) -> MultiVenue:
    """Deploy every contract of a multi-market venue, list its markets through the timelock,
    wire the roles, fund the buffers and the AMMs; return typed wrappers (see the module doc).

    ``with_backstop_vault`` deploys the venue's ``VenueBackstopVault`` (manager ``manager``,
    default the deployer) as its backstop and ``params.controller.enabled`` its
    ``VenueMarginController``; each excludes passing that address (``backstop_vault`` /
    ``controller``). ``deploy_unwired`` also deploys the one(s) left unwired, without a role.
    ``collateral``: an existing stablecoin (the deployer must be its minter) the venue uses
    instead of a new one (a second venue on the same chain, :mod:`simulator.contagion.world_setup`).
    Raises :class:`~simulator.chain.deploy.DeployError` when a contract fails to deploy or a
    listing does not get the id it was scheduled for; ValueError for contradicting arguments.
    """
    if with_backstop_vault and backstop_vault != ZERO_ADDRESS:
        raise ValueError("with_backstop_vault deploys the vault: pass no backstop_vault address")
    if params.controller.enabled and controller != ZERO_ADDRESS:
        raise ValueError("controller.enabled deploys the controller: pass no controller address")
    deploy_vault = with_backstop_vault or (deploy_unwired and backstop_vault == ZERO_ADDRESS)
    deploy_controller = params.controller.enabled or (deploy_unwired and controller == ZERO_ADDRESS)
    governor = governor or deployer
    manager = manager or deployer
    guardian = guardian or deployer
    pusher = pusher or deployer
    adl_keeper = adl_keeper or deployer
    artifacts = load_artifacts()
    markets = params.markets
    n = len(markets)
    #: A fresh venue lists its markets as 1, 2, ... (checked against the events in phase 4).
    planned_ids = {m.symbol: i + 1 for i, m in enumerate(markets)}

    # Phase 1: contracts without dependencies.
    shared = collateral
    deployed = _deploy_batch(
        chain,
        artifacts,
        deployer,
        [
            *([(CollateralToken, ("Perp USD", "pUSD", deployer), None)] if shared is None else []),
            (
                PerpTimelock,
                (params.governance.timelock_delay_s, [governor], [governor], ZERO_ADDRESS),
                None,
            ),
            *[(ContractWrapper, (), name) for name in MODULES],
            *[(BaseToken, (f"Perp {m.symbol}", f"p{m.symbol}", deployer), None) for m in markets],
        ],
    )
    if shared is not None:
        deployed = [shared, *deployed]
    collateral, timelock = deployed[0], deployed[1]
    modules = {name: w.address for name, w in zip(MODULES, deployed[2:5], strict=True)}
    bases = deployed[5:]

    # Phase 2: the venue, the fund, one oracle and one AMM per market.
    deployed = _deploy_batch(
        chain,
        artifacts,
        deployer,
        [
            (
                PerpVenue,
                (
                    collateral.address,
                    timelock.address,
                    guardian if params.governance.guardian_enabled else ZERO_ADDRESS,
                    *modules.values(),
                ),
                None,
            ),
            (InsuranceFund, (collateral.address,), None),
            *[
                (
                    Oracle,
                    (
                        timelock.address,
                        pusher,
                        to_wad(m.oracle.initial_price_usd),
                        m.oracle.max_age_s,
                        m.oracle.max_deviation_bps,
                        m.oracle.max_twap_window_s,
                    ),
                    None,
                )
                for m in markets
            ],
            *[
                (SpotAMM, (collateral.address, b.address, m.amm.fee_bps, deployer), None)
                for m, b in zip(markets, bases, strict=True)
            ],
        ],
    )
    venue, fund = deployed[0], deployed[1]
    oracles, amms = deployed[2 : 2 + n], deployed[2 + n :]
    assert isinstance(venue, PerpVenue)

    # Phase 2b: the venue's backstop vault and margin controller (they need its address).
    b = params.buffers
    vault: VenueBackstopVault | None = None
    margin_controller: VenueMarginController | None = None
    extras: list[tuple[type[ContractWrapper], tuple[Any, ...], str | None]] = []
    if deploy_vault:
        extras.append(
            (
                VenueBackstopVault,
                (
                    collateral.address,
                    venue.address,
                    timelock.address,
                    manager,
                    b.backstop_redeem_cooldown_s,
                ),
                None,
            )
        )
    if deploy_controller:
        # Admin: the deployer until the markets are listed and controlled (phase 5), then the
        # timelock.
        extras.append((VenueMarginController, (venue.address, deployer), None))
    if extras:
        deployed = _deploy_batch(chain, artifacts, deployer, extras)
        if deploy_vault:
            vault = deployed.pop(0)  # type: ignore[assignment]
            if with_backstop_vault:
                backstop_vault = vault.address
        if deploy_controller:
            margin_controller = deployed.pop(0)  # type: ignore[assignment]
            if params.controller.enabled:
                controller = margin_controller.address
    vault_wired = vault is not None and with_backstop_vault

    # Phase 3: wiring, buffers, AMM liquidity, and the listings scheduled on the timelock.
    fund_units, pool_units = to_units(b.insurance_fund_usd), to_units(b.pool_seed_usd)
    vault_units = to_units(b.backstop_vault_usd) if vault_wired else 0
    margin_units = int(Decimal(vault_units) * Decimal(str(b.backstop_margin_share)))
    amm_units = [to_units(m.amm.liquidity_usd) for m in markets]
    amm_base = [
        int(Decimal(str(m.amm.liquidity_usd)) / Decimal(str(m.oracle.initial_price_usd)) * WAD)
        for m in markets
    ]
    calls: list[Call] = [
        fund.set_market(deployer, venue.address),
        venue.initialize(
            deployer,
            fund.address,
            backstop_vault,
            adl_keeper if b.adl_keeper_enabled else ZERO_ADDRESS,
            controller,
        ),
        collateral.mint(deployer, deployer, fund_units + pool_units + vault_units + sum(amm_units)),
    ]
    if fund_units:
        calls.append(collateral.transfer(deployer, fund.address, fund_units))
    if pool_units:
        calls += [
            collateral.approve(deployer, venue.address, pool_units),
            venue.seed_pool(deployer, pool_units),
        ]
    if vault is not None and vault_units:
        calls += [
            collateral.approve(deployer, vault.address, vault_units),
            vault.deposit(deployer, vault_units),
        ]
        if margin_units:
            calls.append(vault.deposit_margin(manager, margin_units))
    for base, amm, units, base_wad in zip(bases, amms, amm_units, amm_base, strict=True):
        if units and base_wad:
            calls += [
                base.mint(deployer, deployer, base_wad),
                collateral.approve(deployer, amm.address, units),
                base.approve(deployer, amm.address, base_wad),
                amm.add_liquidity(deployer, units, base_wad),
            ]
    listings = [
        venue.list_market(
            timelock.address,
            m.symbol,
            oracle.address,
            m.params.to_chain(),
            m.params.tiers_to_chain(),
        )
        for m, oracle in zip(markets, oracles, strict=True)
    ]
    # The wired vault hedges on each market's AMM: one admin (timelock) call per market.
    spot_amms = (
        [
            vault.call(timelock.address, "setSpotAmm", planned_ids[m.symbol], amm.address)
            for m, amm in zip(markets, amms, strict=True)
        ]
        if vault is not None and vault_wired
        else []
    )
    governed = [(venue.address, c) for c in listings]
    governed += [(vault.address, c) for c in spot_amms]  # type: ignore[union-attr]
    delay = params.governance.timelock_delay_s
    salt = PerpTimelock.ZERO_SALT
    calls += [timelock.schedule(governor, to, c.data, delay, salt) for to, c in governed]
    results = require_ok(chain.execute(calls))

    # Phase 4: after the delay, fresh prices (the wait may outlast max_age_s), then the listings.
    chain.advance_time(delay + 1)
    calls = [
        o.push_price(pusher, to_wad(m.oracle.initial_price_usd))
        for m, o in zip(markets, oracles, strict=True)
    ]
    calls += [timelock.execute(governor, to, c.data, salt) for to, c in governed]
    phase4 = require_ok(chain.execute(calls))
    results += phase4
    ids: dict[str, int] = {}
    for m, r in zip(markets, phase4[n : 2 * n], strict=True):
        listed = [e.args for e in r.events if e.name == "MarketListed"]
        if len(listed) != 1:
            raise DeployError(f"listing {m.symbol} emitted no MarketListed event")
        ids[m.symbol] = int(listed[0]["market"])
    if ids != planned_ids:
        raise DeployError(f"markets listed as {ids}, not as scheduled ({planned_ids})")
    by_id = {ids[m.symbol]: i for i, m in enumerate(markets)}
    if margin_controller is not None:
        # A wired controller watches every market; then the timelock becomes its only admin.
        admin = margin_controller.read("DEFAULT_ADMIN_ROLE")
        wired = controller == margin_controller.address
        results += require_ok(
            chain.execute(
                [
                    margin_controller.set_parameters(
                        deployer, ids[m.symbol], params.controller.to_chain()
                    )
                    for m in markets
                    if wired
                ]
                + [
                    margin_controller.call(deployer, "grantRole", admin, timelock.address),
                    margin_controller.call(deployer, "renounceRole", admin, deployer),
                ]
            )
        )
    return MultiVenue(
        chain=chain,
        params=params,
        venue=venue,
        collateral=collateral,  # type: ignore[arg-type]
        fund=fund,  # type: ignore[arg-type]
        timelock=timelock,  # type: ignore[arg-type]
        modules=modules,
        ids=ids,
        oracles={mid: oracles[i] for mid, i in by_id.items()},  # type: ignore[misc]
        amms={mid: amms[i] for mid, i in by_id.items()},  # type: ignore[misc]
        bases={mid: bases[i] for mid, i in by_id.items()},  # type: ignore[misc]
        deployer=deployer,
        governor=governor,
        guardian=guardian,
        pusher=pusher,
        adl_keeper=adl_keeper,
        backstop_vault=backstop_vault,
        controller=controller,
        manager=manager,
        vault=vault,
        margin_controller=margin_controller,
        deploy_results=results,
    )
