"""Typed Python wrappers of the contracts the venue shares with its markets' infrastructure:
``Oracle``, ``BaseToken``, ``SpotAMM``, ``InsuranceFund``, ``PerpTimelock`` (and the
``CollateralToken`` of :mod:`simulator.chain.contracts`). The venue's own contracts are in
:mod:`simulator.protocol.venue_contracts`.

Write methods take the sender first and return a :class:`~simulator.chain.types.Call`; read
methods return a :class:`~simulator.chain.types.View` to evaluate in batches with
``chain.read([...])``.

Units follow the contracts: prices and sizes are WAD integers (18 decimals); token amounts are
collateral base units (6 decimals) or base-token WAD.
"""

from __future__ import annotations

from simulator.chain.contracts import CollateralToken, ContractWrapper
from simulator.chain.types import Call, View

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


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
    "BaseToken",
    "CollateralToken",
    "InsuranceFund",
    "Oracle",
    "PerpTimelock",
    "SpotAMM",
]
