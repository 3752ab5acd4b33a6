"""Deploying and driving the contagion world's contracts in tests (``LendingPool``,
``SyntheticDollar``), and the Python references of their formulas, exact in integers.

Units: stablecoin amounts are base units (6 decimals, ``usd()``); prices, values, health
factors and fractions are WAD integers; collateral tokens have 18 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address
from perp_helpers import PUSHER, UNIT, WAD, ok, wad

from simulator.chain.artifacts import load_artifacts
from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract
from simulator.chain.types import Call, TxResult
from simulator.protocol.contracts import BaseToken, Oracle

ADMIN = to_checksum_address("0x000000000000000000000000000000000000ad01")
SYNTH_MANAGER = to_checksum_address("0x000000000000000000000000000000000000a6e8")
SUPPLIER, BORROWER, LIQUIDATOR, OUTSIDER = (
    to_checksum_address(f"0x{0x2000 + i:040x}") for i in range(4)
)
MAX_UINT = 2**256 - 1
BPS = 10_000
YEAR = 365 * 86_400
#: ILendingPool.PriceSource
ORACLE, VAULT_SHARE = 0, 1
#: The pool's collateral in the fixture: CF 75%, LT 80%, bonus 5%.
CF, LT, BONUS_BPS = wad("0.75"), wad("0.8"), 500
CLOSE_FACTOR = wad("0.5")


def deploy(chain, name: str, *args, sender: str = DEFAULT_DEPLOYER) -> ContractWrapper:
    """Deploy contract `name` with a plain wrapper."""
    return deploy_contract(
        chain, ContractWrapper, *args, sender=sender, artifacts=load_artifacts(),
        contract_name=name,
    )  # fmt: skip


def send(chain, *calls: Call) -> list[TxResult]:
    """Send `calls` in one block; AssertionError naming the first revert."""
    return ok(chain.execute(list(calls)))


def revert_of(chain, call: Call):
    """The decoded error of `call`, which must revert."""
    r = chain.execute_one(call)
    assert not r.ok, f"{call.label} did not revert"
    return r.error


@dataclass
class PoolWorld:
    """A lending pool over the stablecoin with one oracle-priced 18-decimal collateral."""

    chain: object
    stable: CollateralToken
    weth: BaseToken
    oracle: Oracle
    pool: ContractWrapper

    def fund_stable(self, who: str, units: int, spender: str | None = None) -> list[Call]:
        spender = spender or self.pool.address
        return [
            self.stable.mint(DEFAULT_DEPLOYER, who, units),
            self.stable.approve(who, spender, MAX_UINT),
        ]

    def supply(self, who: str, units: int) -> TxResult:
        r = send(
            self.chain, *self.fund_stable(who, units), self.pool.call(who, "deposit", units, who)
        )
        return r[-1]

    def post(self, who: str, amount: int, token: ContractWrapper | None = None) -> TxResult:
        token = token or self.weth
        calls = [
            token.call(DEFAULT_DEPLOYER, "mint", who, amount),
            token.call(who, "approve", self.pool.address, MAX_UINT),
            self.pool.call(who, "depositCollateral", token.address, amount),
        ]
        return send(self.chain, *calls)[-1]

    def push(self, price: int | str) -> None:
        p = price if isinstance(price, int) and price > 10**9 else wad(price)
        send(self.chain, self.oracle.push_price(PUSHER, p))

    def debt(self, who: str) -> int:
        return self.pool.read("debtOf", who)

    def hf(self, who: str) -> int:
        return self.pool.read("healthFactor", who)


def deploy_pool_world(chain, *, base_rate: int = 0, slope: int = 0) -> PoolWorld:
    """Stablecoin, WETH (18 decimals) with an oracle at 2,000 USD, and a pool (interest model
    `base_rate`, `slope`: WAD per year; 0 keeps debts constant for exact checks) listing WETH
    as ORACLE collateral with CF 75%, LT 80%, bonus 5%, close factor 50%."""
    art = load_artifacts()
    stable = deploy_contract(
        chain, CollateralToken, "USD Coin", "USDC", DEFAULT_DEPLOYER, artifacts=art
    )
    weth = deploy_contract(
        chain, BaseToken, "Wrapped Ether", "WETH", DEFAULT_DEPLOYER, artifacts=art
    )
    oracle = deploy_contract(
        chain, Oracle, DEFAULT_DEPLOYER, PUSHER, wad(2_000), 3_600, 0, 600, artifacts=art
    )
    pool = deploy(
        chain, "LendingPool", stable.address, "perpsim lending USDC", "plUSDC", ADMIN,
        base_rate, slope, CLOSE_FACTOR,
    )  # fmt: skip
    send(
        chain,
        pool.call(ADMIN, "listCollateral", weth.address, ORACLE, oracle.address, CF, LT, BONUS_BPS),
    )
    return PoolWorld(chain, stable, weth, oracle, pool)


# ---------------------------------------------------------------------------------------------
# Python references (integers, the contracts' rounding)
# ---------------------------------------------------------------------------------------------


def div_up(a: int, b: int) -> int:
    return -((-a) // b)


def oracle_value(amount: int, price: int, decimals: int = 18) -> int:
    """ORACLE collateral value, WAD USD, rounded down."""
    return amount * price // 10**decimals


def health_factor(values_and_lts: list[tuple[int, int]], debt_units: int) -> int:
    """Σ floor(value·LT/WAD) · WAD / (debt·1e12), rounded down; max uint without debt."""
    if debt_units == 0:
        return 2**256 - 1
    liquidation_value = sum(v * lt // WAD for v, lt in values_and_lts)
    return liquidation_value * WAD // (debt_units * UNIT)


def next_index(
    index: int, total_shares: int, cash: int, elapsed_s: int, base: int, slope: int
) -> int:
    """The pool's borrow index after `elapsed_s` seconds (LendingPool._currentIndex)."""
    debt = total_shares * index // WAD
    utilisation = 0 if cash + debt == 0 else debt * WAD // (cash + debt)
    rate = base + slope * utilisation // WAD
    growth = div_up(rate * elapsed_s, YEAR)
    return div_up(index * (WAD + growth), WAD)


# ---------------------------------------------------------------------------------------------
# The synthetic dollar over a one-market venue
# ---------------------------------------------------------------------------------------------

MINTER = to_checksum_address("0x0000000000000000000000000000000000002100")
#: Hedge acceptable-price band of the test synthetic dollar, bps.
SLIPPAGE_BPS = 100


@dataclass
class SynthWorld:
    """A one-market venue (ETH at 100 USD, 20x, MM 2.5%, no fee, 1% liquidation penalty) and a
    synthetic dollar hedging on it, its manager's reserve at the venue."""

    mv: object
    synth: ContractWrapper

    @property
    def chain(self):
        return self.mv.chain

    @property
    def base(self):
        return self.mv.bases[1]

    def push(self, price) -> None:
        self.mv.push(1, price)

    def add_margin(self, units: int) -> None:
        c = self.mv.collateral
        send(
            self.chain,
            c.mint(self.mv.deployer, SYNTH_MANAGER, units),
            c.approve(SYNTH_MANAGER, self.synth.address, MAX_UINT),
            self.synth.call(SYNTH_MANAGER, "addReserve", units),
            self.synth.call(SYNTH_MANAGER, "moveMargin", units),
        )

    def mint(self, who: str, base_amount: int) -> TxResult:
        calls = [
            self.base.mint(self.mv.deployer, who, base_amount),
            self.base.approve(who, self.synth.address, MAX_UINT),
            self.synth.call(who, "mint", base_amount, 0, who, gas=1_500_000),
        ]
        return send(self.chain, *calls)[-1]

    def redeem(self, who: str, amount: int, receiver: str | None = None) -> TxResult:
        call = self.synth.call(who, "redeem", amount, 0, 0, receiver or who, gas=1_500_000)
        return send(self.chain, call)[0]

    def hedge_size(self) -> int:
        return self.mv.venue.read("positionOf", self.synth.address, 1)[1]

    def equity(self) -> int:
        return self.mv.venue.read("accountHealth", self.synth.address)[0]

    def backing(self) -> int:
        return self.synth.read("backing")[0]


def deploy_synth_world(
    chain, deploy_multi, market_spec, *, reserve_units: int, **venue_kwargs
) -> SynthWorld:
    """Deploy the venue (``venue_helpers.deploy_multi`` of `market_spec`, `venue_kwargs`) and a
    synthetic dollar on its market 1 (admin ADMIN, manager SYNTH_MANAGER, band SLIPPAGE_BPS);
    the manager adds `reserve_units` of stablecoin and moves them to the venue as the hedge's
    margin."""
    mv = deploy_multi(chain, [market_spec], **venue_kwargs)
    synth = deploy(
        chain, "SyntheticDollar", "perpsim dollar", "pUSD", mv.bases[1].address,
        mv.collateral.address, mv.venue.address, 1, mv.oracles[1].address, ADMIN, SYNTH_MANAGER,
        SLIPPAGE_BPS,
    )  # fmt: skip
    world = SynthWorld(mv, synth)
    if reserve_units:
        world.add_margin(reserve_units)
    return world


def reserve_and_mint(chain, mv, synth, *, reserve_units: int, minted_base: int) -> None:
    """Through the typed wrapper ``synth`` (:class:`simulator.world_contracts.SyntheticDollar`)
    on market 1 of ``mv``: the manager adds ``reserve_units`` of stablecoin and moves them to the
    venue as the hedge's margin, then MINTER mints against ``minted_base`` of the base token."""
    stable, deployer, base = mv.collateral, mv.deployer, mv.bases[1]
    send(
        chain,
        stable.mint(deployer, SYNTH_MANAGER, reserve_units),
        stable.approve(SYNTH_MANAGER, synth.address, MAX_UINT),
        synth.add_reserve(SYNTH_MANAGER, reserve_units),
        synth.move_margin(SYNTH_MANAGER, reserve_units),
        base.mint(deployer, MINTER, minted_base),
        base.approve(MINTER, synth.address, MAX_UINT),
        synth.mint(MINTER, minted_base),
    )
