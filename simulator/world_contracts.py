"""Typed Python wrappers and deploy helpers of the contagion world's contracts
(``contracts/contagion/``, issue 13): ``LendingPool`` and ``SyntheticDollar``.

The ``world`` preset and the engine's drive of borrowers, lenders, redeemers and arbitrageurs
(a later session) are meant to go through these wrappers only, as the venue's agents go through
:mod:`simulator.protocol.venue_contracts`. Write methods take the sender first and return a
:class:`~simulator.chain.types.Call`; reads return a :class:`~simulator.chain.types.View`.

Units follow the contracts: stablecoin amounts are base units (6 decimals); collateral and base
token amounts, prices, values, health factors and fractions are WAD integers; fees and bonuses
are bps. ``GAS`` reserves about twice the gas measured on anvil
(``tests/contracts/contagion/test_contagion_gas.py``; the pool's loops are bounded by its 8
collaterals, the synthetic dollar's venue calls by the venue's 8 positions per account).
"""

from __future__ import annotations

from enum import IntEnum

from simulator.chain.artifacts import Artifacts, load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract
from simulator.chain.types import Call, View


class PriceSource(IntEnum):
    """``ILendingPool.PriceSource``: how a collateral asset is valued."""

    ORACLE = 0
    """An ``IOracle`` price, WAD USD per whole token."""
    VAULT_SHARE = 1
    """An ERC-4626 vault share over the pool's stablecoin, at the vault's ``convertToAssets``."""


class LendingPool(ContractWrapper):
    """``contracts/contagion/LendingPool.sol``: ERC-4626 supply of the stablecoin, borrowing
    against oracle-priced or vault-share collateral, liquidation with a bonus, bad debt."""

    CONTRACT_NAME = "LendingPool"
    GAS = {
        "deposit": 300_000,
        "withdraw": 250_000,
        "redeem": 250_000,
        "depositCollateral": 200_000,
        "withdrawCollateral": 600_000,
        "borrow": 600_000,
        "repay": 200_000,
        "liquidate": 700_000,
        "accrueInterest": 120_000,
        "listCollateral": 250_000,
        "setCollateralParameters": 120_000,
        "setInterestRateModel": 150_000,
        "setCloseFactor": 80_000,
    }

    def supply(self, sender: str, amount_units: int, receiver: str | None = None) -> Call:
        """ERC-4626 ``deposit``: `amount_units` of stablecoin for supply shares."""
        return self.call(sender, "deposit", amount_units, receiver or sender)

    def withdraw_supply(self, sender: str, amount_units: int, receiver: str | None = None) -> Call:
        """ERC-4626 ``withdraw`` of `amount_units` (capped by the pool's cash)."""
        return self.call(sender, "withdraw", amount_units, receiver or sender, sender)

    def deposit_collateral(self, sender: str, token: str, amount: int) -> Call:
        return self.call(sender, "depositCollateral", token, amount)

    def withdraw_collateral(self, sender: str, token: str, amount: int) -> Call:
        return self.call(sender, "withdrawCollateral", token, amount)

    def borrow(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "borrow", amount_units)

    def repay(self, sender: str, account: str, amount_units: int) -> Call:
        return self.call(sender, "repay", account, amount_units)

    def liquidate(
        self, sender: str, account: str, token: str, repay_units: int, min_seized: int = 0
    ) -> Call:
        return self.call(sender, "liquidate", account, token, repay_units, min_seized)

    def accrue_interest(self, sender: str) -> Call:
        return self.call(sender, "accrueInterest")

    def list_collateral(
        self,
        sender: str,
        token: str,
        source: PriceSource,
        feed: str,
        collateral_factor_wad: int,
        liquidation_threshold_wad: int,
        liquidation_bonus_bps: int,
    ) -> Call:
        """List `token` (admin); `feed` is its ``Oracle`` for ORACLE, ignored for VAULT_SHARE."""
        return self.call(
            sender, "listCollateral", token, int(source), feed, collateral_factor_wad,
            liquidation_threshold_wad, liquidation_bonus_bps,
        )  # fmt: skip

    def set_collateral_parameters(
        self,
        sender: str,
        token: str,
        collateral_factor_wad: int,
        liquidation_threshold_wad: int,
        liquidation_bonus_bps: int,
    ) -> Call:
        return self.call(
            sender, "setCollateralParameters", token, collateral_factor_wad,
            liquidation_threshold_wad, liquidation_bonus_bps,
        )  # fmt: skip

    # -- views -----------------------------------------------------------------------------

    def health_factor(self, account: str) -> View:
        """WAD; 2**256 − 1 for an account without debt."""
        return self.view("healthFactor", account)

    def account_liquidity(self, account: str) -> View:
        """(collateral value, borrowing power, liquidation value, debt), WAD USD."""
        return self.view("accountLiquidity", account)

    def debt_of(self, account: str) -> View:
        return self.view("debtOf", account)

    def collateral_of(self, account: str, token: str) -> View:
        return self.view("collateralOf", account, token)

    def total_bad_debt(self) -> View:
        return self.view("totalBadDebt")

    def total_assets(self) -> View:
        return self.view("totalAssets")

    def convert_to_assets(self, shares: int) -> View:
        return self.view("convertToAssets", shares)


class SyntheticDollar(ContractWrapper):
    """``contracts/contagion/SyntheticDollar.sol``: spot base hedged by a short at the venue,
    redemptions at min(1, backing ratio)."""

    CONTRACT_NAME = "SyntheticDollar"
    GAS = {
        "mint": 800_000,
        "redeem": 900_000,
        "rebalanceHedge": 800_000,
        "addReserve": 200_000,
        "moveMargin": 600_000,
        "setMaxSlippageBps": 80_000,
        "approve": 60_000,
        "transfer": 80_000,
    }

    def mint(
        self, sender: str, base_in: int, min_minted: int = 0, receiver: str | None = None
    ) -> Call:
        return self.call(sender, "mint", base_in, min_minted, receiver or sender)

    def redeem(
        self,
        sender: str,
        amount: int,
        min_base_out: int = 0,
        min_stable_out_units: int = 0,
        receiver: str | None = None,
    ) -> Call:
        return self.call(
            sender, "redeem", amount, min_base_out, min_stable_out_units, receiver or sender
        )

    def add_reserve(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "addReserve", amount_units)

    def move_margin(self, sender: str, amount_units: int) -> Call:
        """+ moves idle stablecoin to the venue, − brings it back (manager)."""
        return self.call(sender, "moveMargin", amount_units)

    def rebalance_hedge(self, sender: str) -> Call:
        return self.call(sender, "rebalanceHedge")

    def backing_ratio(self) -> View:
        """WAD (1e18 with no supply), at the oracle's last price."""
        return self.view("backingRatio")

    def backing(self) -> View:
        """(total, spot value, idle stablecoin value: WAD USD; hedge equity: WAD USD, signed;
        hedge size: WAD base units, − = short)."""
        return self.view("backing")


def deploy_lending_pool(
    chain: Chain,
    stablecoin: str,
    admin: str,
    *,
    base_rate_per_year_wad: int,
    slope_per_year_wad: int,
    close_factor_wad: int,
    name: str = "perpsim lending",
    symbol: str = "pLEND",
    sender: str = DEFAULT_DEPLOYER,
    artifacts: Artifacts | None = None,
) -> LendingPool:
    """Deploy a pool lending `stablecoin` (its collateral listed afterwards by `admin`)."""
    return deploy_contract(
        chain, LendingPool, stablecoin, name, symbol, admin, base_rate_per_year_wad,
        slope_per_year_wad, close_factor_wad, sender=sender,
        artifacts=artifacts or load_artifacts(),
    )  # fmt: skip


def deploy_synthetic_dollar(
    chain: Chain,
    *,
    base_token: str,
    stablecoin: str,
    venue: str,
    market: int,
    oracle: str,
    admin: str,
    manager: str,
    max_slippage_bps: int,
    name: str = "perpsim dollar",
    symbol: str = "pUSD",
    sender: str = DEFAULT_DEPLOYER,
    artifacts: Artifacts | None = None,
) -> SyntheticDollar:
    """Deploy a synthetic dollar hedging `base_token` on `venue`'s `market` (whose index
    ``Oracle`` is `oracle`); `stablecoin` must be the venue's collateral."""
    return deploy_contract(
        chain, SyntheticDollar, name, symbol, base_token, stablecoin, venue, market, oracle,
        admin, manager, max_slippage_bps, sender=sender, artifacts=artifacts or load_artifacts(),
    )  # fmt: skip
