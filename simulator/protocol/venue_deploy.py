"""Deploy a multi-market venue (``contracts/PerpVenue.sol``) from
:class:`~simulator.protocol.venue_params.MultiVenueParams`.

Four round trips whatever the number of markets (each phase is one ``chain.execute``):

1. collateral token, timelock, the venue's three modules, one base token per market;
2. the venue, the insurance fund, one ``Oracle`` and one ``SpotAMM`` per market;
3. wiring: the fund's market, ``venue.initialize`` (fund, backstop account, ADL keeper,
   controller), the fund's seed and the counterparty pool, each AMM's liquidity (the AMMs are
   what arbitrageurs and the hedger trade on, per asset), and one timelock ``schedule`` of
   ``listMarket`` per market;
4. after the timelock delay: a fresh price on every oracle, then every ``listMarket`` executed
   through the timelock, as governance would (market ids 1, 2, ... in the parameters' order).

The single-market ``BackstopVault`` and ``DynamicMarginController`` are not deployed: the
venue's vault and controller come with the engine switch. The venue's backstop is an account
address, and the controller an address holding ``CONTROLLER_ROLE``: both are parameters of
:func:`deploy_multi_venue` (zero = none).

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
from simulator.protocol.venue_contracts import PerpVenue
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
    deploy_results: list[TxResult] = field(default_factory=list, repr=False)

    def addresses(self) -> dict[str, str]:
        """Contract addresses by role (per-market ones as ``oracle.BTC``, ``amm.BTC``...)."""
        out = {
            "collateral": self.collateral.address,
            "venue": self.venue.address,
            "insurance_fund": self.fund.address,
            "timelock": self.timelock.address,
            **{f"module.{n}": a for n, a in self.modules.items()},
        }
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
) -> MultiVenue:
    """Deploy every contract of a multi-market venue, list its markets through the timelock,
    wire the roles, fund the buffers and the AMMs; return typed wrappers (see the module doc)."""
    governor = governor or deployer
    guardian = guardian or deployer
    pusher = pusher or deployer
    adl_keeper = adl_keeper or deployer
    artifacts = load_artifacts()
    markets = params.markets
    n = len(markets)

    # Phase 1: contracts without dependencies.
    deployed = _deploy_batch(
        chain,
        artifacts,
        deployer,
        [
            (CollateralToken, ("Perp USD", "pUSD", deployer), None),
            (
                PerpTimelock,
                (params.governance.timelock_delay_s, [governor], [governor], ZERO_ADDRESS),
                None,
            ),
            *[(ContractWrapper, (), name) for name in MODULES],
            *[(BaseToken, (f"Perp {m.symbol}", f"p{m.symbol}", deployer), None) for m in markets],
        ],
    )
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

    # Phase 3: wiring, buffers, AMM liquidity, and the listings scheduled on the timelock.
    b = params.buffers
    fund_units, pool_units = to_units(b.insurance_fund_usd), to_units(b.pool_seed_usd)
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
        collateral.mint(deployer, deployer, fund_units + pool_units + sum(amm_units)),
    ]
    if fund_units:
        calls.append(collateral.transfer(deployer, fund.address, fund_units))
    if pool_units:
        calls += [
            collateral.approve(deployer, venue.address, pool_units),
            venue.seed_pool(deployer, pool_units),
        ]
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
    delay = params.governance.timelock_delay_s
    salt = PerpTimelock.ZERO_SALT
    calls += [timelock.schedule(governor, venue.address, c.data, delay, salt) for c in listings]
    results = require_ok(chain.execute(calls))

    # Phase 4: after the delay, fresh prices (the wait may outlast max_age_s), then the listings.
    chain.advance_time(delay + 1)
    calls = [
        o.push_price(pusher, to_wad(m.oracle.initial_price_usd))
        for m, o in zip(markets, oracles, strict=True)
    ]
    calls += [timelock.execute(governor, venue.address, c.data, salt) for c in listings]
    phase4 = require_ok(chain.execute(calls))
    results += phase4
    ids: dict[str, int] = {}
    for m, r in zip(markets, phase4[n:], strict=True):
        listed = [e.args for e in r.events if e.name == "MarketListed"]
        if len(listed) != 1:
            raise DeployError(f"listing {m.symbol} emitted no MarketListed event")
        ids[m.symbol] = int(listed[0]["market"])
    by_id = {ids[m.symbol]: i for i, m in enumerate(markets)}
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
        deploy_results=results,
    )
