"""Deploy a whole perp venue from :class:`~simulator.protocol.params.VenueParams`.

Order: collateral and base tokens, timelock, oracle, spot AMM, market modules, market,
insurance fund, backstop vault, margin controller; then ``market.initialize`` wires the fund,
the vault (if the preset enables the backstop) and the controller (if enabled), and one block
funds the buffers (insurance fund, counterparty pool, vault, AMM liquidity).

Roles after deployment: the timelock (delay from the parameters) holds the admin and governor
roles of the market, the admin role of the oracle, vault and controller; ``governor`` proposes
and executes timelock operations; ``guardian`` may only tighten the market; ``pusher`` pushes
oracle prices; ``manager`` manages the vault; ``adl_keeper`` holds the market's ``ADL_ROLE``
(the only account that may call ``adl``: the protocol runs ADL itself). All default to the
deployer. The deployer keeps
ownership of the two tokens and the AMM (simulation infrastructure: it mints and seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from simulator.chain.artifacts import load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract
from simulator.chain.types import Call, TxResult, require_ok
from simulator.protocol.contracts import (
    ZERO_ADDRESS,
    BackstopVault,
    BaseToken,
    DynamicMarginController,
    InsuranceFund,
    Oracle,
    PerpMarket,
    PerpTimelock,
    SpotAMM,
)
from simulator.protocol.params import VenueParams
from simulator.units import WAD, to_units, to_wad


@dataclass
class Venue:
    """Typed wrappers of one deployed venue, and who holds which role."""

    params: VenueParams
    collateral: CollateralToken
    base: BaseToken
    oracle: Oracle
    amm: SpotAMM
    market: PerpMarket
    insurance_fund: InsuranceFund
    backstop_vault: BackstopVault
    controller: DynamicMarginController
    timelock: PerpTimelock
    liquidation_module: str
    governance_module: str
    deployer: str
    governor: str
    guardian: str
    pusher: str
    manager: str
    adl_keeper: str
    deploy_results: list[TxResult] = field(default_factory=list, repr=False)

    def addresses(self) -> dict[str, str]:
        """Contract addresses by role in the venue."""
        return {
            "collateral": self.collateral.address,
            "base": self.base.address,
            "oracle": self.oracle.address,
            "amm": self.amm.address,
            "market": self.market.address,
            "liquidation_module": self.liquidation_module,
            "governance_module": self.governance_module,
            "insurance_fund": self.insurance_fund.address,
            "backstop_vault": self.backstop_vault.address,
            "controller": self.controller.address,
            "timelock": self.timelock.address,
        }

    # -- helpers for the engine and tests ---------------------------------------------------

    def fund_calls(
        self, accounts: list[str], amount_units: int, *, approve_market: bool = True
    ) -> list[Call]:
        """Mint collateral to each account and (optionally) approve the market for it."""
        calls = [self.collateral.mint(self.deployer, a, amount_units) for a in accounts]
        if approve_market:
            calls += [self.collateral.approve(a, self.market.address, 2**256 - 1) for a in accounts]
        return calls

    def push_price(self, price_wad: int) -> Call:
        """Push an index price (WAD) as the venue's pusher."""
        return self.oracle.push_price(self.pusher, price_wad)

    def govern(
        self, chain: Chain, target: ContractWrapper, call: Call, *, salt: bytes | None = None
    ) -> TxResult:
        """Schedule ``call`` (built with the timelock as sender) on the timelock, wait the delay,
        execute it; returns the execution's result."""
        salt = salt or PerpTimelock.ZERO_SALT
        delay = self.timelock.read("getMinDelay")
        require_ok(
            [
                chain.execute_one(
                    self.timelock.schedule(self.governor, target.address, call.data, delay, salt)
                )
            ]
        )
        chain.advance_time(delay + 1)
        return chain.execute_one(
            self.timelock.execute(self.governor, target.address, call.data, salt)
        )


def deploy_venue(
    chain: Chain,
    params: VenueParams,
    deployer: str = DEFAULT_DEPLOYER,
    *,
    governor: str | None = None,
    guardian: str | None = None,
    pusher: str | None = None,
    manager: str | None = None,
    adl_keeper: str | None = None,
) -> Venue:
    """Deploy every contract of a venue, wire them, fund the buffers; return typed wrappers."""
    governor = governor or deployer
    guardian = guardian or deployer
    pusher = pusher or deployer
    manager = manager or deployer
    adl_keeper = adl_keeper or deployer
    artifacts = load_artifacts()

    def deploy(wrapper, *args, name: str | None = None):
        return deploy_contract(
            chain, wrapper, *args, sender=deployer, artifacts=artifacts, contract_name=name
        )

    collateral = deploy(CollateralToken, "Perp USD", "pUSD", deployer)
    base = deploy(BaseToken, "Perp Base", "pBASE", deployer)
    timelock = deploy(
        PerpTimelock, params.governance.timelock_delay_s, [governor], [governor], ZERO_ADDRESS
    )
    price_wad = to_wad(params.oracle.initial_price_usd)
    oracle = deploy(
        Oracle,
        timelock.address,
        pusher,
        price_wad,
        params.oracle.max_age_s,
        params.oracle.max_deviation_bps,
        params.oracle.max_twap_window_s,
    )
    amm = deploy(SpotAMM, collateral.address, base.address, params.amm.fee_bps, deployer)
    liquidation_module = deploy(ContractWrapper, name="LiquidationModule")
    governance_module = deploy(ContractWrapper, name="GovernanceModule")

    market_type = artifacts["PerpMarket"]
    probe = PerpMarket(chain, market_type, ZERO_ADDRESS)
    market = deploy(
        PerpMarket,
        collateral.address,
        oracle.address,
        probe.params_tuple(params.market.to_chain()),
        params.market.tiers_to_chain(),
        timelock.address,
        guardian,
        liquidation_module.address,
        governance_module.address,
    )
    fund = deploy(InsuranceFund, collateral.address)
    vault = deploy(
        BackstopVault,
        collateral.address,
        market.address,
        amm.address,
        timelock.address,
        manager,
        params.buffers.backstop_redeem_cooldown_s,
    )
    controller = deploy(
        DynamicMarginController,
        market.address,
        oracle.address,
        timelock.address,
        params.controller.to_chain(),
    )

    b = params.buffers
    fund_units = to_units(b.insurance_fund_usd)
    pool_units = to_units(b.pool_seed_usd)
    vault_units = to_units(b.backstop_vault_usd)
    margin_units = int(Decimal(vault_units) * Decimal(str(b.backstop_margin_share)))
    amm_units = to_units(params.amm.liquidity_usd)
    amm_base = int(
        Decimal(str(params.amm.liquidity_usd)) / Decimal(str(params.oracle.initial_price_usd)) * WAD
    )

    calls: list[Call] = [
        fund.set_market(deployer, market.address),
        market.initialize(
            deployer,
            fund.address,
            vault.address if b.backstop_enabled else ZERO_ADDRESS,
            controller.address if params.controller.enabled else ZERO_ADDRESS,
            adl_keeper,
        ),
        collateral.mint(deployer, deployer, fund_units + pool_units + vault_units + amm_units),
    ]
    if fund_units:
        calls.append(collateral.transfer(deployer, fund.address, fund_units))
    if pool_units:
        calls += [
            collateral.approve(deployer, market.address, pool_units),
            market.seed_pool(deployer, pool_units),
        ]
    if vault_units:
        calls += [
            collateral.approve(deployer, vault.address, vault_units),
            vault.deposit(deployer, vault_units),
        ]
        if margin_units:
            calls.append(vault.deposit_margin(manager, margin_units))
    if amm_units and amm_base:
        calls += [
            base.mint(deployer, deployer, amm_base),
            collateral.approve(deployer, amm.address, amm_units),
            base.approve(deployer, amm.address, amm_base),
            amm.add_liquidity(deployer, amm_units, amm_base),
        ]
    results = require_ok(chain.execute(calls))
    return Venue(
        params=params,
        collateral=collateral,  # type: ignore[arg-type]
        base=base,  # type: ignore[arg-type]
        oracle=oracle,  # type: ignore[arg-type]
        amm=amm,  # type: ignore[arg-type]
        market=market,  # type: ignore[arg-type]
        insurance_fund=fund,  # type: ignore[arg-type]
        backstop_vault=vault,  # type: ignore[arg-type]
        controller=controller,  # type: ignore[arg-type]
        timelock=timelock,  # type: ignore[arg-type]
        liquidation_module=liquidation_module.address,
        governance_module=governance_module.address,
        deployer=deployer,
        governor=governor,
        guardian=guardian,
        pusher=pusher,
        manager=manager,
        adl_keeper=adl_keeper,
        deploy_results=results,
    )
