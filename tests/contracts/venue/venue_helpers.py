"""Deploying and driving the multi-market venue (``contracts/PerpVenue.sol``) in tests, and the
Python references (exact fractions) of its cross-margin formulas.

The venue is deployed through perpsim's venue layer (:mod:`simulator.protocol.venue_deploy`,
:mod:`simulator.protocol.venue_params`): collateral token, timelock, the three modules, the
venue, the insurance fund, one ``Oracle`` and one ``SpotAMM`` per market; every market is listed
through the timelock, as governance would. A :class:`MarketSpec` gives a market's parameter
changes in Solidity names and chain integers; they go through
:meth:`VenueMarketParams.from_chain`, and the deploy refuses a spec that does not come back to the
same integers.

Units: prices, sizes and USD amounts on chain are WAD integers; ``usd()`` gives collateral base
units (6 decimals) for deposits. Market ids are the integers the venue assigned (1, 2, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from eth_utils import to_checksum_address
from perp_helpers import GOVERNOR, GUARDIAN, PUSHER, TEST_PARAMS, UNIT, WAD, ok, usd, wad

from simulator.chain.types import TxResult
from simulator.protocol import venue_deploy
from simulator.protocol.params import AmmParams, OracleParams
from simulator.protocol.venue_contracts import PerpVenue  # noqa: F401  (tests' wrapper)
from simulator.protocol.venue_params import (
    AdlPriceMode,
    MultiVenueParams,
    VenueAdlPolicy,
    VenueBufferParams,
    VenueGovernanceParams,
    VenueMarket,
    VenueMarketParams,
)

ADL_KEEPER = to_checksum_address("0x000000000000000000000000000000000000ad1e")
VAULT = to_checksum_address("0x000000000000000000000000000000000000b5a7")
CONTROLLER = to_checksum_address("0x000000000000000000000000000000000000c7e1")

#: ``IPerpVenueTypes.AdlPolicy`` indices.
ADL = {p.value: i for i, p in enumerate(VenueAdlPolicy)}
#: ``IPerpVenueTypes.AdlPriceMode`` indices.
BANKRUPTCY_PRICE, PREVIOUS_MARK = (list(AdlPriceMode).index(m) for m in AdlPriceMode)

#: Every market's defaults: the single-market test venue's (20x, MM 2.5%, no impact, no fee,
#: 1% penalty split 50/50, no partial liquidation), with a 5% liquidation impact bound.
BASE_PARAMS = VenueMarketParams.from_market(TEST_PARAMS.market, max_liquidation_impact_bps=500)
BASE_MARKET: dict[str, Any] = BASE_PARAMS.to_chain()


@dataclass
class MarketSpec:
    """One market to list: symbol, initial index (USD), parameter changes (solidity names)."""

    symbol: str
    price: float | int | str
    changes: dict[str, Any] = field(default_factory=dict)
    tiers: list[tuple[int, int, int]] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        return {**BASE_MARKET, **self.changes}

    def market(self) -> VenueMarket:
        """The spec as a venue market of the Python layer; AssertionError when its parameters
        do not convert back to exactly the spec's integers."""
        wanted = self.params()
        params = VenueMarketParams.from_chain(wanted, self.tiers)
        assert params.to_chain() == wanted, f"{self.symbol}: parameters do not round-trip"
        assert params.tiers_to_chain() == [tuple(t) for t in self.tiers]
        return VenueMarket(
            symbol=self.symbol,
            oracle=OracleParams(initial_price_usd=float(Fraction(str(self.price))), max_age_s=3600),
            amm=AmmParams(fee_bps=30, liquidity_usd=1_000_000),
            params=params,
        )


@dataclass
class MultiVenue(venue_deploy.MultiVenue):
    """A deployed venue (:class:`simulator.protocol.venue_deploy.MultiVenue`) with the tests'
    shortcuts."""

    def push(self, market: int, price: float | int | str | Fraction) -> TxResult:
        p = price if isinstance(price, int) and price > 10**9 else wad(price)
        return ok([self.chain.execute_one(self.push_price(market, p))])[0]

    def push_all(self, prices: dict[int, Any]) -> None:
        ok(
            self.chain.execute(
                self.push_prices(
                    {
                        m: p if isinstance(p, int) and p > 10**9 else wad(p)
                        for m, p in prices.items()
                    }
                )
            )
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
    """Deploy the venue through :func:`deploy_multi_venue`, listing `markets`, with the fund and
    pool seeded."""
    params = MultiVenueParams(
        name="test",
        buffers=VenueBufferParams(insurance_fund_usd=fund_usd, pool_seed_usd=pool_usd),
        governance=VenueGovernanceParams(timelock_delay_s=timelock_delay_s),
        markets=tuple(spec.market() for spec in markets),
    )
    deployed = venue_deploy.deploy_multi_venue(
        chain,
        params,
        governor=GOVERNOR,
        guardian=GUARDIAN,
        pusher=PUSHER,
        adl_keeper=ADL_KEEPER,
        backstop_vault=vault,
        controller=CONTROLLER,
    )
    return MultiVenue(**{f.name: getattr(deployed, f.name) for f in fields(deployed)})


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
