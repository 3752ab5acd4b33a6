"""Typed Python wrappers over deployed contracts.

A wrapper turns method calls into :class:`Call` (transactions) and :class:`View` (reads) with
calldata encoded from the contract's ABI; the engine sends them through a :class:`Chain` in
batches. Nothing outside this module builds calldata.

Write methods take the sender first: ``token.transfer(agent, to, amount_base_units)``.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from simulator.chain.abi import Function
from simulator.chain.artifacts import ContractType
from simulator.chain.base import Chain
from simulator.chain.types import DEFAULT_CALL_GAS, Call, View


class ContractWrapper:
    """Base wrapper: ABI functions by name, calls and views; subclasses add typed methods.

    ``GAS`` maps function names to the gas limit reserved for them in a block.
    """

    CONTRACT_NAME: str = ""
    GAS: dict[str, int] = {}

    def __init__(self, chain: Chain, contract_type: ContractType, address: str):
        self.chain = chain
        self.contract_type = contract_type
        self.address = to_checksum_address(address)
        self._functions: dict[str, Function] = {}
        for item in contract_type.abi:
            if item.get("type") == "function":
                # Overloads are not used in perpsim contracts; the first definition wins.
                self._functions.setdefault(item["name"], Function.from_abi(item))

    def function(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError:
            raise AttributeError(f"{self.contract_type.name} has no function {name!r}") from None

    def call(
        self, sender: str, name: str, *args: Any, gas: int | None = None, value_wei: int = 0
    ) -> Call:
        """A transaction calling ``name(*args)`` from ``sender``."""
        return Call(
            sender=sender,
            to=self.address,
            data=self.function(name).encode(*args),
            gas=gas or self.GAS.get(name, DEFAULT_CALL_GAS),
            value_wei=value_wei,
            label=f"{self.contract_type.name}.{name}",
        )

    def view(self, name: str, *args: Any) -> View:
        """A read of ``name(*args)``; evaluate many with ``chain.read([...])``."""
        fn = self.function(name)
        return View(self.address, fn.encode(*args), fn, f"{self.contract_type.name}.{name}")

    def read(self, name: str, *args: Any) -> Any:
        """Evaluate one view now (one round trip)."""
        return self.chain.read_one(self.view(name, *args))

    def __repr__(self) -> str:
        return f"<{self.contract_type.name} at {self.address}>"


class CollateralToken(ContractWrapper):
    """The 6-decimal stable collateral (``contracts/CollateralToken.sol``). Amounts are base
    units: 1 USD = 1_000_000."""

    CONTRACT_NAME = "CollateralToken"
    GAS = {"transfer": 80_000, "approve": 60_000, "mint": 80_000, "transferFrom": 90_000}
    DECIMALS = 6

    def transfer(self, sender: str, to: str, amount_base_units: int) -> Call:
        return self.call(sender, "transfer", to, amount_base_units)

    def approve(self, sender: str, spender: str, amount_base_units: int) -> Call:
        return self.call(sender, "approve", spender, amount_base_units)

    def mint(self, sender: str, to: str, amount_base_units: int) -> Call:
        return self.call(sender, "mint", to, amount_base_units)

    def balance_of(self, account: str) -> View:
        return self.view("balanceOf", account)

    def total_supply(self) -> View:
        return self.view("totalSupply")
