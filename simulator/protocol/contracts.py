"""Typed Python wrappers of the perp venue contracts (one per contract).

Write methods take the sender first and return a :class:`~simulator.chain.types.Call`; read
methods return a :class:`~simulator.chain.types.View` to evaluate in batches with
``chain.read([...])``. Methods ending in ``_now`` read at once and return Python values
(dicts for structs).

Units follow the contracts: prices, sizes and USD amounts are WAD integers (18 decimals);
``deposit`` / ``withdraw`` / ``seed_pool`` / token amounts are collateral base units (6 decimals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.types import Call, View

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _struct_names(
    abi: Sequence[dict], function: str, output: bool = True, index: int = 0
) -> list[str]:
    for item in abi:
        if item.get("type") == "function" and item["name"] == function:
            part = item["outputs" if output else "inputs"][index]
            return [c["name"] for c in part["components"]]
    raise KeyError(function)


class PerpMarket(ContractWrapper):
    """``contracts/PerpMarket.sol`` (keeper and governance calls run in its modules)."""

    CONTRACT_NAME = "PerpMarket"
    GAS = {
        "deposit": 150_000,
        "withdraw": 250_000,
        "setMarginMode": 80_000,
        "allocateMargin": 250_000,
        "trade": 400_000,
        "closePosition": 400_000,
        "seedPool": 120_000,
        "liquidate": 500_000,
        "backstopTakeover": 500_000,
        "adl": 20_000_000,
        "initialize": 150_000,
        "setParameters": 500_000,
        "setMarginTiers": 500_000,
        "setRiskPaused": 80_000,
        "withdrawFees": 120_000,
        "guardianSetMaxLeverage": 400_000,
        "guardianSetMaintenanceMarginFraction": 400_000,
        "guardianSetOpenInterestCaps": 400_000,
        "guardianPauseRisk": 80_000,
        "setMarginScale": 80_000,
    }

    # -- structs -------------------------------------------------------------------------

    def params_tuple(self, params: dict[str, Any]) -> tuple:
        """A ``MarketParams`` tuple in ABI order from {solidity field name: value}."""
        names = _struct_names(self.contract_type.abi, "parameters")
        missing = set(names) - params.keys()
        if missing:
            raise KeyError(f"MarketParams fields missing: {sorted(missing)}")
        return tuple(params[n] for n in names)

    def _as_dict(self, function: str, value: tuple) -> dict[str, Any]:
        return dict(zip(_struct_names(self.contract_type.abi, function), value, strict=True))

    # -- accounts and trading --------------------------------------------------------------

    def deposit(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "deposit", amount_units)

    def withdraw(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "withdraw", amount_units)

    def set_margin_mode(self, sender: str, isolated: bool) -> Call:
        return self.call(sender, "setMarginMode", isolated)

    def allocate_margin(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "allocateMargin", amount_units)

    def trade(self, sender: str, size_delta_wad: int, acceptable_price_wad: int = 0) -> Call:
        return self.call(sender, "trade", size_delta_wad, acceptable_price_wad)

    def close_position(self, sender: str, acceptable_price_wad: int = 0) -> Call:
        return self.call(sender, "closePosition", acceptable_price_wad)

    def seed_pool(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "seedPool", amount_units)

    # -- keepers -----------------------------------------------------------------------------

    def liquidate(self, keeper: str, account: str) -> Call:
        return self.call(keeper, "liquidate", account)

    def backstop_takeover(self, keeper: str, account: str) -> Call:
        return self.call(keeper, "backstopTakeover", account)

    def adl(self, keeper: str, winners: Sequence[str], gas: int | None = None) -> Call:
        """ADL over ``winners`` (QUEUE: ranked by ``adl_ranking`` score, descending;
        PRO_RATA: sorted by address, ascending)."""
        return self.call(keeper, "adl", list(winners), gas=gas or 250_000 + 80_000 * len(winners))

    # -- governance ------------------------------------------------------------------------

    def initialize(
        self, sender: str, fund: str, vault: str, controller: str, adl_keeper: str
    ) -> Call:
        """Wire the buffers and grant ``ADL_ROLE`` to ``adl_keeper`` (the only ``adl`` caller)."""
        return self.call(sender, "initialize", fund, vault, controller, adl_keeper)

    def set_parameters(self, sender: str, params: dict[str, Any]) -> Call:
        return self.call(sender, "setParameters", self.params_tuple(params))

    def set_margin_tiers(self, sender: str, tiers: Sequence[tuple[int, int, int]]) -> Call:
        return self.call(sender, "setMarginTiers", list(tiers))

    def set_risk_paused(self, sender: str, paused: bool) -> Call:
        return self.call(sender, "setRiskPaused", paused)

    def withdraw_fees(self, sender: str, to: str, amount_units: int) -> Call:
        return self.call(sender, "withdrawFees", to, amount_units)

    def guardian_set_max_leverage(self, sender: str, max_leverage_wad: int) -> Call:
        return self.call(sender, "guardianSetMaxLeverage", max_leverage_wad)

    def guardian_set_maintenance_margin_fraction(self, sender: str, fraction_wad: int) -> Call:
        return self.call(sender, "guardianSetMaintenanceMarginFraction", fraction_wad)

    def guardian_set_open_interest_caps(
        self, sender: str, max_long_wad: int, max_short_wad: int
    ) -> Call:
        return self.call(sender, "guardianSetOpenInterestCaps", max_long_wad, max_short_wad)

    def guardian_pause_risk(self, sender: str) -> Call:
        return self.call(sender, "guardianPauseRisk")

    def set_margin_scale(self, sender: str, scale_wad: int) -> Call:
        return self.call(sender, "setMarginScale", scale_wad)

    # -- views -----------------------------------------------------------------------------

    def equity(self, account: str) -> View:
        return self.view("equity", account)

    def maintenance_margin(self, account: str) -> View:
        return self.view("maintenanceMargin", account)

    def initial_margin(self, account: str) -> View:
        return self.view("initialMargin", account)

    def liquidation_price(self, account: str) -> View:
        return self.view("liquidationPrice", account)

    def is_liquidatable(self, account: str) -> View:
        return self.view("isLiquidatable", account)

    def health_of(self, accounts: Sequence[str]) -> View:
        """(equities, maintenance margins, sizes, liquidatable flags), WAD."""
        return self.view("healthOf", list(accounts))

    def adl_ranking(self, accounts: Sequence[str]) -> View:
        """(scores, unrealized PnLs), WAD; score 0 for non-winners."""
        return self.view("adlRanking", list(accounts))

    def account_of(self, account: str) -> View:
        return self.view("accountOf", account)

    def fill_price(self, size_delta_wad: int) -> View:
        return self.view("fillPrice", size_delta_wad)

    def index_price(self) -> View:
        return self.view("indexPrice")

    def funding_rate_per_day(self) -> View:
        return self.view("fundingRatePerDay")

    def funding_indices(self) -> View:
        return self.view("fundingIndices")

    def open_interest(self) -> View:
        return self.view("openInterest")

    def margin_scale(self) -> View:
        return self.view("marginScale")

    def risk_paused(self) -> View:
        return self.view("riskPaused")

    def circuit_breaker_tripped(self) -> View:
        return self.view("circuitBreakerTripped")

    def parameters(self) -> View:
        return self.view("parameters")

    def accounting(self) -> View:
        return self.view("accounting")

    def has_role(self, role: bytes, account: str) -> View:
        return self.view("hasRole", role, account)

    # -- immediate reads returning dicts ---------------------------------------------------

    def parameters_now(self) -> dict[str, Any]:
        return self._as_dict("parameters", self.read("parameters"))

    def accounting_now(self) -> dict[str, Any]:
        return self._as_dict("accounting", self.read("accounting"))

    def account_now(self, account: str) -> dict[str, Any]:
        return self._as_dict("accountOf", self.read("accountOf", account))

    def margin_tiers_now(self) -> list[tuple[int, int, int]]:
        return [tuple(t) for t in self.read("marginTiers")]

    def role(self, name: str) -> bytes:
        """Role id (``GOVERNOR_ROLE``, ``GUARDIAN_ROLE``, ``CONTROLLER_ROLE``, ``DEFAULT_ADMIN_ROLE``)."""
        return self.read(name)


class Oracle(ContractWrapper):
    """``contracts/Oracle.sol``: pushed index price, WAD USD per base unit."""

    CONTRACT_NAME = "Oracle"
    GAS = {"pushPrice": 120_000, "setParameters": 80_000}

    def push_price(self, sender: str, price_wad: int) -> Call:
        return self.call(sender, "pushPrice", price_wad)

    def set_parameters(self, sender: str, max_age_s: int, max_deviation_bps: int) -> Call:
        return self.call(sender, "setParameters", max_age_s, max_deviation_bps)

    def price(self) -> View:
        return self.view("price")

    def latest_price(self) -> View:
        return self.view("latestPrice")

    def twap(self, window_s: int) -> View:
        return self.view("twap", window_s)

    def max_twap_window(self) -> View:
        """Longest window ``twap`` serves, seconds."""
        return self.view("maxTwapWindow")


class BaseToken(ContractWrapper):
    """``contracts/BaseToken.sol``: the 18-decimal spot asset."""

    CONTRACT_NAME = "BaseToken"
    GAS = {"transfer": 80_000, "approve": 60_000, "mint": 80_000}
    DECIMALS = 18

    def mint(self, sender: str, to: str, amount: int) -> Call:
        return self.call(sender, "mint", to, amount)

    def approve(self, sender: str, spender: str, amount: int) -> Call:
        return self.call(sender, "approve", spender, amount)

    def transfer(self, sender: str, to: str, amount: int) -> Call:
        return self.call(sender, "transfer", to, amount)

    def balance_of(self, account: str) -> View:
        return self.view("balanceOf", account)


class SpotAMM(ContractWrapper):
    """``contracts/SpotAMM.sol``: constant-product pool, collateral (6 dec) vs base (18 dec)."""

    CONTRACT_NAME = "SpotAMM"
    GAS = {"swap": 150_000, "addLiquidity": 150_000, "removeLiquidity": 150_000, "setFee": 60_000}

    def swap(
        self,
        sender: str,
        base_in: bool,
        amount_in: int,
        min_amount_out: int = 0,
        to: str | None = None,
    ) -> Call:
        return self.call(sender, "swap", base_in, amount_in, min_amount_out, to or sender)

    def add_liquidity(self, sender: str, collateral_units: int, base_amount: int) -> Call:
        return self.call(sender, "addLiquidity", collateral_units, base_amount)

    def remove_liquidity(
        self, sender: str, collateral_units: int, base_amount: int, to: str
    ) -> Call:
        return self.call(sender, "removeLiquidity", collateral_units, base_amount, to)

    def spot_price(self) -> View:
        return self.view("spotPrice")

    def reserves(self) -> View:
        return self.view("reserves")

    def get_amount_out(self, base_in: bool, amount_in: int) -> View:
        return self.view("getAmountOut", base_in, amount_in)


class InsuranceFund(ContractWrapper):
    """``contracts/InsuranceFund.sol``: balance in collateral base units."""

    CONTRACT_NAME = "InsuranceFund"
    GAS = {"setMarket": 80_000, "cover": 120_000}

    def set_market(self, sender: str, market: str) -> Call:
        return self.call(sender, "setMarket", market)

    def cover(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "cover", amount_units)

    def balance(self) -> View:
        return self.view("balance")


class BackstopVault(ContractWrapper):
    """``contracts/BackstopVault.sol``: ERC-4626 over the collateral (base units)."""

    CONTRACT_NAME = "BackstopVault"
    #: Share decimals: the collateral's 6 plus the vault's virtual-share offset of 6.
    SHARE_DECIMALS = 12
    GAS = {
        "deposit": 300_000,  # 180,376 measured: hyperliquid-like preset with its deposit lock
        "redeem": 250_000,
        "withdraw": 250_000,
        "mint": 300_000,
        "transfer": 150_000,
        "setRedeemCooldown": 80_000,
        "depositMargin": 250_000,
        "withdrawMargin": 300_000,
        "tradePosition": 450_000,
        "hedgeOnAmm": 250_000,
        "approve": 60_000,
    }

    def deposit(self, sender: str, assets_units: int, receiver: str | None = None) -> Call:
        return self.call(sender, "deposit", assets_units, receiver or sender)

    def redeem(
        self, sender: str, shares: int, receiver: str | None = None, owner: str | None = None
    ) -> Call:
        return self.call(sender, "redeem", shares, receiver or sender, owner or sender)

    def withdraw(
        self, sender: str, assets_units: int, receiver: str | None = None, owner: str | None = None
    ) -> Call:
        return self.call(sender, "withdraw", assets_units, receiver or sender, owner or sender)

    def deposit_margin(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "depositMargin", amount_units)

    def withdraw_margin(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "withdrawMargin", amount_units)

    def trade_position(
        self, sender: str, size_delta_wad: int, acceptable_price_wad: int = 0
    ) -> Call:
        return self.call(sender, "tradePosition", size_delta_wad, acceptable_price_wad)

    def hedge_on_amm(
        self, sender: str, base_in: bool, amount_in: int, min_amount_out: int = 0
    ) -> Call:
        return self.call(sender, "hedgeOnAmm", base_in, amount_in, min_amount_out)

    def total_assets(self) -> View:
        return self.view("totalAssets")

    def total_supply(self) -> View:
        return self.view("totalSupply")

    def idle_assets(self) -> View:
        return self.view("idleAssets")

    def balance_of(self, account: str) -> View:
        return self.view("balanceOf", account)

    def convert_to_assets(self, shares: int) -> View:
        return self.view("convertToAssets", shares)

    def preview_deposit(self, assets_units: int) -> View:
        """Shares a deposit of ``assets_units`` would mint now."""
        return self.view("previewDeposit", assets_units)

    def max_withdraw(self, owner: str) -> View:
        return self.view("maxWithdraw", owner)

    def transfer(self, sender: str, to: str, shares: int) -> Call:
        """Transfer vault shares (the receiver takes on their remaining lock)."""
        return self.call(sender, "transfer", to, shares)

    def max_redeem(self, owner: str) -> View:
        return self.view("maxRedeem", owner)

    def unlock_time(self, owner: str) -> View:
        """Unix time from which ``owner`` may withdraw or redeem."""
        return self.view("unlockTime", owner)

    def set_redeem_cooldown(self, sender: str, cooldown_s: int) -> Call:
        return self.call(sender, "setRedeemCooldown", cooldown_s)


class DynamicMarginController(ContractWrapper):
    """``contracts/DynamicMarginController.sol``: permissionless ``poke``."""

    CONTRACT_NAME = "DynamicMarginController"
    GAS = {"poke": 200_000, "setParameters": 150_000}

    def poke(self, sender: str) -> Call:
        return self.call(sender, "poke")

    def set_parameters(self, sender: str, params: tuple) -> Call:
        return self.call(sender, "setParameters", params)

    def volatility(self) -> View:
        return self.view("volatility")

    def target_scale(self) -> View:
        return self.view("targetScale")

    def skew_average(self) -> View:
        """Time-averaged open-interest skew fraction as of the latest poke (WAD)."""
        return self.view("skewAverage")


class PerpTimelock(ContractWrapper):
    """``contracts/governance/PerpTimelock.sol`` (OpenZeppelin TimelockController)."""

    CONTRACT_NAME = "PerpTimelock"
    GAS = {"schedule": 200_000, "execute": 1_000_000, "cancel": 100_000}
    ZERO_SALT = b"\x00" * 32

    def schedule(
        self, sender: str, target: str, data: bytes, delay_s: int, salt: bytes = ZERO_SALT
    ) -> Call:
        return self.call(sender, "schedule", target, 0, data, b"\x00" * 32, salt, delay_s)

    def execute(self, sender: str, target: str, data: bytes, salt: bytes = ZERO_SALT) -> Call:
        return self.call(sender, "execute", target, 0, data, b"\x00" * 32, salt)

    def min_delay(self) -> View:
        return self.view("getMinDelay")


__all__ = [
    "ZERO_ADDRESS",
    "BackstopVault",
    "BaseToken",
    "CollateralToken",
    "DynamicMarginController",
    "InsuranceFund",
    "Oracle",
    "PerpMarket",
    "PerpTimelock",
    "SpotAMM",
]
