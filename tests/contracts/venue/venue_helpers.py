"""Deploying and driving the multi-market venue (``contracts/PerpVenue.sol``) in tests, and the
Python references (exact fractions) of its cross-margin formulas.

The venue is deployed through perpsim's chain layer: collateral token, timelock, the three
modules, the venue, the insurance fund, one ``Oracle`` per market; every market is listed
through the timelock (schedule, wait the delay, execute), as governance would.

Units: prices, sizes and USD amounts on chain are WAD integers; ``usd()`` gives collateral base
units (6 decimals) for deposits. Market ids are the integers the venue assigned (1, 2, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from eth_utils import to_checksum_address
from perp_helpers import GOVERNOR, GUARDIAN, PUSHER, TEST_PARAMS, UNIT, WAD, ok, usd, wad

from simulator.chain.artifacts import load_artifacts
from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract
from simulator.chain.types import Call, TxResult
from simulator.protocol.contracts import ZERO_ADDRESS, InsuranceFund, Oracle, PerpTimelock

ADL_KEEPER = to_checksum_address("0x000000000000000000000000000000000000ad1e")
VAULT = to_checksum_address("0x000000000000000000000000000000000000b5a7")
CONTROLLER = to_checksum_address("0x000000000000000000000000000000000000c7e1")

#: Each market oracle's TWAP ring covers this window (s): the breaker windows of the tests fit.
ORACLE_MAX_TWAP_WINDOW_S = 3600

#: ``IPerpVenueTypes.AdlPolicy`` indices.
ADL = {"none": 0, "contracts_queue": 1, "profit_queue": 2, "pro_rata": 3, "socialized": 4}
#: ``IPerpVenueTypes.AdlPriceMode`` indices.
BANKRUPTCY_PRICE, PREVIOUS_MARK = 0, 1

#: Every market's defaults: the single-market test venue's (20x, MM 2.5%, no impact, no fee,
#: 1% penalty split 50/50, no partial liquidation), with a 5% liquidation impact bound.
BASE_MARKET: dict[str, Any] = {
    **TEST_PARAMS.market.to_chain(),
    "adlPolicy": ADL["none"],
    "adlPriceMode": BANKRUPTCY_PRICE,
    "maxLiquidationImpactBps": 500,
}


@dataclass
class MarketSpec:
    """One market to list: symbol, initial index (USD), parameter changes (solidity names)."""

    symbol: str
    price: float | int | str
    changes: dict[str, Any] = field(default_factory=dict)
    tiers: list[tuple[int, int, int]] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        return {**BASE_MARKET, **self.changes}


class PerpVenue(ContractWrapper):
    """``contracts/PerpVenue.sol``: write methods return calls, ``*_now`` read at once."""

    CONTRACT_NAME = "PerpVenue"
    GAS = {
        "deposit": 150_000,
        "withdraw": 600_000,
        "trade": 900_000,
        "tradeIsolated": 900_000,
        "closePosition": 900_000,
        "liquidate": 3_000_000,
        "liquidateIsolated": 1_000_000,
        "backstopTakeover": 3_000_000,
        "adl": 5_000_000,
        "listMarket": 1_500_000,
        "setMarketParameters": 1_000_000,
    }

    def names(self, function: str, output: bool = True) -> list[str]:
        for item in self.contract_type.abi:
            if item.get("type") == "function" and item["name"] == function:
                part = item["outputs" if output else "inputs"][0]
                return [c["name"] for c in part["components"]]
        raise KeyError(function)

    def params_tuple(self, params: dict[str, Any]) -> tuple:
        names = self.names("marketParameters")
        missing = set(names) - params.keys()
        assert not missing, f"MarketParams fields missing: {sorted(missing)}"
        return tuple(params[n] for n in names)

    def as_dict(self, function: str, value: tuple) -> dict[str, Any]:
        return dict(zip(self.names(function), value, strict=True))

    # -- calls -----------------------------------------------------------------------------

    def deposit(self, who: str, units: int) -> Call:
        return self.call(who, "deposit", units)

    def withdraw(self, who: str, units: int) -> Call:
        return self.call(who, "withdraw", units)

    def trade(self, who: str, market: int, size_wad: int, limit_wad: int = 0) -> Call:
        return self.call(who, "trade", market, size_wad, limit_wad)

    def trade_isolated(
        self, who: str, market: int, size_wad: int, margin_wad: int, limit_wad: int = 0
    ) -> Call:
        return self.call(who, "tradeIsolated", market, size_wad, limit_wad, margin_wad)

    def close(self, who: str, market: int, limit_wad: int = 0) -> Call:
        return self.call(who, "closePosition", market, limit_wad)

    def liquidate(self, keeper: str, who: str) -> Call:
        return self.call(keeper, "liquidate", who)

    def liquidate_isolated(self, keeper: str, who: str, market: int) -> Call:
        return self.call(keeper, "liquidateIsolated", who, market)

    def backstop_takeover(self, keeper: str, who: str) -> Call:
        return self.call(keeper, "backstopTakeover", who)

    def adl(self, keeper: str, market: int, longs_bankrupt: bool, winners: list[str]) -> Call:
        return self.call(keeper, "adl", market, longs_bankrupt, list(winners))

    # -- reads -----------------------------------------------------------------------------

    def health_now(self, who: str) -> tuple[int, int, int]:
        return tuple(self.read("accountHealth", who))

    def position_now(self, who: str, market: int) -> dict[str, Any]:
        return self.as_dict("positionOf", self.read("positionOf", who, market))

    def market_now(self, market: int) -> dict[str, Any]:
        v = self.as_dict("marketState", self.read("marketState", market))
        ledger_names = [
            c["name"]
            for item in self.contract_type.abi
            if item.get("type") == "function" and item["name"] == "marketState"
            for comp in item["outputs"][0]["components"]
            if comp["name"] == "ledger"
            for c in comp["components"]
        ]
        v["ledger"] = dict(zip(ledger_names, v["ledger"], strict=True))
        return v

    def accounting_now(self) -> dict[str, int]:
        return self.as_dict("accounting", self.read("accounting"))

    def collateral_now(self, who: str) -> int:
        return self.read("collateralOf", who)


@dataclass
class MultiVenue:
    """A deployed venue with its markets, oracles and roles."""

    chain: Any
    venue: PerpVenue
    collateral: CollateralToken
    fund: InsuranceFund
    timelock: PerpTimelock
    oracles: dict[int, Oracle]
    ids: dict[str, int]
    modules: dict[str, str]
    deployer: str = DEFAULT_DEPLOYER

    def fund_calls(self, accounts: list[str], units: int) -> list[Call]:
        calls = [self.collateral.mint(self.deployer, a, units) for a in accounts]
        calls += [self.collateral.approve(a, self.venue.address, 2**256 - 1) for a in accounts]
        return calls

    def push(self, market: int, price: float | int | str | Fraction) -> TxResult:
        p = price if isinstance(price, int) and price > 10**9 else wad(price)
        return ok([self.chain.execute_one(self.oracles[market].push_price(PUSHER, p))])[0]

    def push_all(self, prices: dict[int, Any]) -> None:
        calls = [
            self.oracles[m].push_price(PUSHER, p if isinstance(p, int) and p > 10**9 else wad(p))
            for m, p in prices.items()
        ]
        ok(self.chain.execute(calls))

    def govern(self, call: Call) -> TxResult:
        """Schedule ``call`` (built with the timelock as sender) on the timelock, wait, execute."""
        delay = self.timelock.read("getMinDelay")
        ok(
            [
                self.chain.execute_one(
                    self.timelock.schedule(GOVERNOR, self.venue.address, call.data, delay)
                )
            ]
        )
        self.chain.advance_time(delay + 1)
        return self.chain.execute_one(
            self.timelock.execute(GOVERNOR, self.venue.address, call.data)
        )

    def setup(
        self, who: str, deposit_usd: float, trades: list[tuple[int, float | str]]
    ) -> list[TxResult]:
        """Fund and deposit, then open cross positions [(market, size)] in one block."""
        calls = self.fund_calls([who], usd(deposit_usd)) + [
            self.venue.deposit(who, usd(deposit_usd))
        ]
        calls += [self.venue.trade(who, m, wad(s)) for m, s in trades]
        return ok(self.chain.execute(calls))

    def cash_identity(self) -> tuple[int, int, int]:
        """(ledger sum, flows, token balance × 1e12): all three equal, to the wei."""
        a = self.venue.accounting_now()
        balance = self.chain.read_one(self.collateral.balance_of(self.venue.address))
        ledgers = a["totalCollateral"] + a["pool"] + a["protocolFees"]
        flows = (
            a["totalDeposits"] - a["totalWithdrawals"] + a["poolSeeded"] + a["paidByInsurance"]
            - a["paidToInsurance"] - a["keeperRewards"] - a["feesWithdrawn"]
        )  # fmt: skip
        return ledgers, flows, balance * UNIT

    def balances_sum(self, accounts: list[str]) -> int:
        """Σ cross collateral + isolated margins of `accounts` (equals totalCollateral when they
        are every account that ever held collateral)."""
        total = 0
        for a in accounts:
            total += self.venue.collateral_now(a)
            for p in self.venue.read("positionsOf", a):
                total += p[3]
        return total


def deploy_multi(
    chain,
    markets: list[MarketSpec],
    *,
    fund_usd: float = 100_000,
    pool_usd: float = 1_000_000,
    vault: str = VAULT,
    timelock_delay_s: int = 1,
) -> MultiVenue:
    """Deploy the venue, list `markets` through the timelock, fund the insurance fund and pool."""
    artifacts = load_artifacts()
    d = DEFAULT_DEPLOYER

    def deploy(wrapper, *args, name=None):
        return deploy_contract(
            chain, wrapper, *args, sender=d, artifacts=artifacts, contract_name=name
        )

    collateral = deploy(CollateralToken, "Perp USD", "pUSD", d)
    timelock = deploy(PerpTimelock, timelock_delay_s, [GOVERNOR], [GOVERNOR], ZERO_ADDRESS)
    modules = {
        n: deploy(ContractWrapper, name=n).address
        for n in ("VenueLiquidationModule", "VenueAdlModule", "VenueGovernanceModule")
    }
    venue = deploy(
        PerpVenue, collateral.address, timelock.address, GUARDIAN, modules["VenueLiquidationModule"],
        modules["VenueAdlModule"], modules["VenueGovernanceModule"],
    )  # fmt: skip
    fund = deploy(InsuranceFund, collateral.address)
    fund_units, pool_units = usd(fund_usd), usd(pool_usd)
    calls = [
        fund.set_market(d, venue.address),
        venue.call(d, "initialize", fund.address, vault, ADL_KEEPER, CONTROLLER),
        collateral.mint(d, d, fund_units + pool_units),
        collateral.approve(d, venue.address, 2**256 - 1),
    ]
    if fund_units:
        calls.append(collateral.transfer(d, fund.address, fund_units))
    if pool_units:
        calls.append(venue.call(d, "seedPool", pool_units))
    ok(chain.execute(calls))
    mv = MultiVenue(chain, venue, collateral, fund, timelock, {}, {}, modules)
    for spec in markets:
        oracle = deploy(Oracle, timelock.address, PUSHER, wad(spec.price), 3600, 0, ORACLE_MAX_TWAP_WINDOW_S)
        symbol = spec.symbol.encode().ljust(32, b"\0")
        call = venue.call(
            timelock.address, "listMarket", symbol, oracle.address,
            venue.params_tuple(spec.params()), spec.tiers,
        )  # fmt: skip
        result = ok([mv.govern(call)])[0]
        listed = [e.args for e in result.events if e.name == "MarketListed"]
        market_id = listed[0]["market"]
        mv.oracles[market_id] = oracle
        mv.ids[spec.symbol] = market_id
    # Fresh prices after the timelock waits.
    mv.push_all({m: mv.venue.market_now(m)["indexPrice"] for m in mv.oracles})
    return mv


# ---------------------------------------------------------------------------------------------
# Python references (exact fractions)
# ---------------------------------------------------------------------------------------------


def F(x) -> Fraction:
    return Fraction(x)


def upnl(size: int, entry: int, price: int) -> int:
    """PerpMath.unrealizedPnl: side·(price − entry)·|size|/WAD rounded down (WAD USD)."""
    move = price - entry if size > 0 else entry - price
    return (move * abs(size)) // WAD


def mm_of(size: int, price: int, mmf: int) -> int:
    """Untiered maintenance margin: ceil(ceil(|size|·price/WAD)·mmf/WAD) (WAD USD)."""
    notional = -((-abs(size) * price) // WAD)
    return -((-notional * mmf) // WAD)


def cross_liquidation_price(
    size: int, entry: int, price: int, equity: int, mmf: int, mm_others: int
) -> Fraction:
    """dYdX v4 cross: p' = (e − s·p − MMR_others)/(|s|·MMF − s), exact (sizes, prices WAD)."""
    s, p, e = F(size) / WAD, F(price) / WAD, F(equity) / WAD
    return (e - s * p - F(mm_others) / WAD) / (abs(s) * F(mmf) / WAD - s)
