"""Typed Python wrapper of the multi-market venue, ``contracts/PerpVenue.sol``.

In the style of :mod:`simulator.protocol.contracts`: write methods take the sender first and
return a :class:`~simulator.chain.types.Call`; view methods return a
:class:`~simulator.chain.types.View` to evaluate in batches with ``chain.read([...])``
(``health_of`` and ``positions_of_many`` batch over accounts); methods ending in ``_now`` read
at once and return Python values (dicts keyed by the Solidity field names for structs).

Units follow ``IPerpVenueTypes``: prices, sizes and USD amounts are WAD integers (18 decimals);
``deposit`` / ``withdraw`` / ``seed_pool`` / ``withdraw_fees`` take collateral base units
(6 decimals). Markets are the integer ids the venue assigned (1, 2, ... in listing order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.chain.contracts import ContractWrapper
from simulator.chain.types import Call, View


def _components(abi: Sequence[dict], function: str, output: bool = True) -> list[dict]:
    for item in abi:
        if item.get("type") == "function" and item["name"] == function:
            return item["outputs" if output else "inputs"][0]["components"]
    raise KeyError(function)


#: Gas limit of an ``adl`` call: this much plus :data:`ADL_GAS_PER_WINNER` per winner.
ADL_GAS_BASE = 400_000
#: Gas limit of an ``adl`` call per winner it haircuts: the costliest call, 100 cross winners
#: of 8 positions each, used 20.4M gas (204k each; ``test_venue_gas.py``). The engine stops a
#: run whose call runs out of gas (:func:`simulator.engine.invariants.check_gas`).
ADL_GAS_PER_WINNER = 300_000


class PerpVenue(ContractWrapper):
    """``contracts/PerpVenue.sol`` (liquidation, ADL and governance run in its modules)."""

    CONTRACT_NAME = "PerpVenue"
    #: Gas reserved per call in a block; ``liquidate`` / ``backstopTakeover`` loop over at most
    #: MAX_POSITIONS_PER_ACCOUNT positions, ``adl`` over at most MAX_ADL_ACCOUNTS winners.
    GAS = {
        "initialize": 200_000,
        "deposit": 600_000,  # a top-up may read cross health to clear F1 marks (as withdraw)
        "withdraw": 600_000,
        "seedPool": 150_000,
        "trade": 900_000,
        "tradeIsolated": 900_000,
        "closePosition": 900_000,
        "liquidate": 3_000_000,
        "liquidateIsolated": 1_000_000,
        "backstopTakeover": 3_000_000,
        "listMarket": 1_500_000,
        "setMarketParameters": 1_000_000,
        "setMarginTiers": 1_000_000,
        "setRiskPaused": 100_000,
        "withdrawFees": 150_000,
        "guardianSetMaxLeverage": 1_000_000,
        "guardianSetMaintenanceMarginFraction": 1_000_000,
        "guardianSetOpenInterestCaps": 1_000_000,
        "guardianPauseRisk": 100_000,
        "setMarginScale": 200_000,
    }

    # -- structs -----------------------------------------------------------------------------

    def names(self, function: str, output: bool = True) -> list[str]:
        """Field names of the struct a function returns (or takes first), in ABI order."""
        cache = self.__dict__.setdefault("_names", {})
        if (function, output) not in cache:
            components = _components(self.contract_type.abi, function, output)
            cache[(function, output)] = [c["name"] for c in components]
        return cache[(function, output)]

    def params_names(self) -> list[str]:
        """Field names of ``IPerpVenueTypes.MarketParams``, in ABI order."""
        return self.names("marketParameters")

    def params_tuple(self, params: Mapping[str, Any]) -> tuple:
        """A ``MarketParams`` tuple in ABI order from {solidity field name: value}; KeyError
        naming any field missing (a field the contract does not have is an error too)."""
        names = self.params_names()
        missing, extra = set(names) - params.keys(), params.keys() - set(names)
        if missing or extra:
            raise KeyError(
                f"MarketParams fields missing: {sorted(missing)}, unknown: {sorted(extra)}"
            )
        return tuple(params[n] for n in names)

    def as_dict(self, function: str, value: Sequence[Any]) -> dict[str, Any]:
        """A returned struct as {solidity field name: value}."""
        return dict(zip(self.names(function), value, strict=True))

    def market_view_dict(self, value: Sequence[Any]) -> dict[str, Any]:
        """A ``MarketView`` as a dict, its ``ledger`` (``MarketLedger``) a dict too."""
        v = self.as_dict("marketState", value)
        cache = self.__dict__.setdefault("_names", {})
        if "ledger" not in cache:
            ledger = next(
                c
                for c in _components(self.contract_type.abi, "marketState")
                if c["name"] == "ledger"
            )
            cache["ledger"] = [c["name"] for c in ledger["components"]]
        v["ledger"] = dict(zip(cache["ledger"], v["ledger"], strict=True))
        return v

    def position_dicts(self, value: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """``positionsOf``' ``PositionView[]`` as a list of dicts."""
        names = self.names("positionOf")
        return [dict(zip(names, p, strict=True)) for p in value]

    # -- accounts and trading ----------------------------------------------------------------

    def initialize(
        self, sender: str, fund: str, backstop_vault: str, adl_keeper: str, controller: str
    ) -> Call:
        """Wire the fund, the backstop vault's account, the ADL keeper and the controller (each
        may be the zero address); once, by the deployer."""
        return self.call(sender, "initialize", fund, backstop_vault, adl_keeper, controller)

    def deposit(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "deposit", amount_units)

    def withdraw(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "withdraw", amount_units)

    def seed_pool(self, sender: str, amount_units: int) -> Call:
        return self.call(sender, "seedPool", amount_units)

    def trade(
        self, sender: str, market: int, size_delta_wad: int, acceptable_price_wad: int = 0
    ) -> Call:
        """Trade a cross position; ``acceptable_price_wad`` 0 = no bound."""
        return self.call(sender, "trade", market, size_delta_wad, acceptable_price_wad)

    def trade_isolated(
        self,
        sender: str,
        market: int,
        size_delta_wad: int,
        margin_delta_wad: int,
        acceptable_price_wad: int = 0,
    ) -> Call:
        """Trade an isolated position, moving ``margin_delta_wad`` (WAD USD) from / to the
        account's cross collateral."""
        return self.call(
            sender, "tradeIsolated", market, size_delta_wad, acceptable_price_wad, margin_delta_wad
        )

    def close_position(self, sender: str, market: int, acceptable_price_wad: int = 0) -> Call:
        return self.call(sender, "closePosition", market, acceptable_price_wad)

    # -- keepers -----------------------------------------------------------------------------

    def liquidate(self, keeper: str, account: str) -> Call:
        """Liquidate a cross account, market by market (largest maintenance first)."""
        return self.call(keeper, "liquidate", account)

    def liquidate_isolated(self, keeper: str, account: str, market: int) -> Call:
        return self.call(keeper, "liquidateIsolated", account, market)

    def backstop_takeover(self, keeper: str, account: str) -> Call:
        return self.call(keeper, "backstopTakeover", account)

    def adl(
        self,
        keeper: str,
        market: int,
        longs_bankrupt: bool,
        winners: Sequence[str],
        gas: int | None = None,
    ) -> Call:
        """ADL of ``market``'s deficit of one side (queues: ``winners`` ranked by
        ``adl_ranking`` score, non-increasing; PRO_RATA: addresses strictly increasing).

        Gas: :data:`ADL_GAS_BASE` plus :data:`ADL_GAS_PER_WINNER` per winner unless given (a
        winner settles funding and reads its whole cross account: about 106k gas each for the
        49-winner calls of the five-market oct-2025, 204k each with 8 positions)."""
        gas = gas or ADL_GAS_BASE + ADL_GAS_PER_WINNER * len(winners)
        return self.call(keeper, "adl", market, longs_bankrupt, list(winners), gas=gas)

    # -- governance (sender: the timelock, the guardian or the controller) -------------------

    def list_market(
        self,
        sender: str,
        symbol: str,
        oracle: str,
        params: Mapping[str, Any],
        tiers: Sequence[tuple[int, int, int]] = (),
    ) -> Call:
        """List a market (GOVERNOR_ROLE); ``symbol`` is sent as ``bytes32``."""
        return self.call(
            sender,
            "listMarket",
            symbol_bytes(symbol),
            oracle,
            self.params_tuple(params),
            list(tiers),
        )

    def set_market_parameters(self, sender: str, market: int, params: Mapping[str, Any]) -> Call:
        return self.call(sender, "setMarketParameters", market, self.params_tuple(params))

    def set_margin_tiers(
        self, sender: str, market: int, tiers: Sequence[tuple[int, int, int]]
    ) -> Call:
        return self.call(sender, "setMarginTiers", market, list(tiers))

    def set_risk_paused(self, sender: str, market: int, paused: bool) -> Call:
        return self.call(sender, "setRiskPaused", market, paused)

    def withdraw_fees(self, sender: str, to: str, amount_units: int) -> Call:
        return self.call(sender, "withdrawFees", to, amount_units)

    def guardian_set_max_leverage(self, sender: str, market: int, max_leverage_wad: int) -> Call:
        return self.call(sender, "guardianSetMaxLeverage", market, max_leverage_wad)

    def guardian_set_maintenance_margin_fraction(
        self, sender: str, market: int, fraction_wad: int
    ) -> Call:
        return self.call(sender, "guardianSetMaintenanceMarginFraction", market, fraction_wad)

    def guardian_set_open_interest_caps(
        self, sender: str, market: int, max_long_wad: int, max_short_wad: int
    ) -> Call:
        return self.call(sender, "guardianSetOpenInterestCaps", market, max_long_wad, max_short_wad)

    def guardian_pause_risk(self, sender: str, market: int) -> Call:
        return self.call(sender, "guardianPauseRisk", market)

    def set_margin_scale(self, sender: str, market: int, scale_wad: int) -> Call:
        return self.call(sender, "setMarginScale", market, scale_wad)

    # -- views -------------------------------------------------------------------------------

    def max_markets(self) -> View:
        return self.view("maxMarkets")

    def max_positions_per_account(self) -> View:
        return self.view("maxPositionsPerAccount")

    def market_count(self) -> View:
        return self.view("marketCount")

    def market_parameters(self, market: int) -> View:
        return self.view("marketParameters", market)

    def margin_tiers(self, market: int) -> View:
        return self.view("marginTiers", market)

    def market_state(self, market: int) -> View:
        """``MarketView`` tuple (see :meth:`market_view_dict`)."""
        return self.view("marketState", market)

    def collateral_of(self, account: str) -> View:
        """Cross collateral, WAD USD (signed)."""
        return self.view("collateralOf", account)

    def position_of(self, account: str, market: int) -> View:
        return self.view("positionOf", account, market)

    def positions_of(self, account: str) -> View:
        """Every open position of the account (``PositionView[]``)."""
        return self.view("positionsOf", account)

    def positions_of_many(self, accounts: Sequence[str]) -> list[View]:
        """One ``positionsOf`` view per account, to read in one ``chain.read`` batch."""
        return [self.positions_of(a) for a in accounts]

    def account_health(self, account: str) -> View:
        """(cross equity, maintenance margin, initial margin), WAD USD."""
        return self.view("accountHealth", account)

    def health_of(self, accounts: Sequence[str]) -> View:
        """(equities, maintenance margins, liquidatable flags) of many accounts, one call."""
        return self.view("healthOf", list(accounts))

    def isolated_health(self, account: str, market: int) -> View:
        """(equity, maintenance margin) of an isolated position, WAD USD."""
        return self.view("isolatedHealth", account, market)

    def liquidation_price(self, account: str, market: int) -> View:
        """Index of ``market`` at which the account becomes liquidatable (WAD; 0 = none)."""
        return self.view("liquidationPrice", account, market)

    def adl_ranking(self, market: int, accounts: Sequence[str]) -> View:
        """(scores, unrealized PnLs) of ``accounts`` in ``market``, WAD; score 0 = not a winner."""
        return self.view("adlRanking", market, list(accounts))

    def fill_price(self, market: int, size_delta_wad: int) -> View:
        return self.view("fillPrice", market, size_delta_wad)

    def accounting(self) -> View:
        return self.view("accounting")

    def has_role(self, role: bytes, account: str) -> View:
        return self.view("hasRole", role, account)

    # -- immediate reads -----------------------------------------------------------------------

    def role(self, name: str) -> bytes:
        """Role id (``GOVERNOR_ROLE``, ``GUARDIAN_ROLE``, ``ADL_KEEPER_ROLE``, ...)."""
        return self.read(name)

    def health_now(self, account: str) -> tuple[int, int, int]:
        """(cross equity, maintenance margin, initial margin), WAD USD."""
        return tuple(self.read("accountHealth", account))

    def position_now(self, account: str, market: int) -> dict[str, Any]:
        return self.as_dict("positionOf", self.read("positionOf", account, market))

    def positions_now(self, account: str) -> list[dict[str, Any]]:
        return self.position_dicts(self.read("positionsOf", account))

    def market_now(self, market: int) -> dict[str, Any]:
        return self.market_view_dict(self.read("marketState", market))

    def parameters_now(self, market: int) -> dict[str, Any]:
        return self.as_dict("marketParameters", self.read("marketParameters", market))

    def margin_tiers_now(self, market: int) -> list[tuple[int, int, int]]:
        return [tuple(t) for t in self.read("marginTiers", market)]

    def accounting_now(self) -> dict[str, int]:
        return self.as_dict("accounting", self.read("accounting"))

    def collateral_now(self, account: str) -> int:
        return self.read("collateralOf", account)


def symbol_bytes(symbol: str) -> bytes:
    """A market symbol as the ``bytes32`` the venue stores (UTF-8, zero-padded)."""
    raw = symbol.encode()
    if len(raw) > 32:
        raise ValueError(f"market symbol {symbol!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def symbol_str(raw: bytes) -> str:
    """The ``bytes32`` symbol of a ``MarketView`` as text."""
    return raw.rstrip(b"\0").decode()


class VenueBackstopVault(ContractWrapper):
    """``contracts/vault/VenueBackstopVault.sol``: the venue's ERC-4626 backstop vault (LP shares
    over idle collateral, its cross account at the venue and spot inventory). Token amounts in
    collateral base units; sizes and prices WAD."""

    CONTRACT_NAME = "VenueBackstopVault"
    #: Decimals of a share: the asset's 6 plus OpenZeppelin's virtual-share offset of 6.
    SHARE_DECIMALS = 12
    GAS = {
        "deposit": 300_000,
        "redeem": 400_000,
        "withdraw": 400_000,
        "depositMargin": 250_000,
        "withdrawMargin": 600_000,
        "tradePosition": 1_000_000,
        "hedgeOnAmm": 400_000,
        "setSpotAmm": 200_000,
    }

    def deposit(self, sender: str, assets_units: int, receiver: str | None = None) -> Call:
        return self.call(sender, "deposit", assets_units, receiver or sender)

    def withdraw(self, sender: str, assets_units: int, receiver: str | None = None) -> Call:
        """Withdraw ``assets_units`` to ``receiver`` (default the sender), burning the sender's
        shares."""
        return self.call(sender, "withdraw", assets_units, receiver or sender, sender)

    def deposit_margin(self, sender: str, amount_units: int) -> Call:
        """Move idle collateral into the vault's cross collateral at the venue (MANAGER_ROLE)."""
        return self.call(sender, "depositMargin", amount_units)

    def trade_position(
        self, sender: str, market: int, size_delta_wad: int, acceptable_price_wad: int = 0
    ) -> Call:
        """Trade the vault's cross position in ``market`` (MANAGER_ROLE)."""
        return self.call(sender, "tradePosition", market, size_delta_wad, acceptable_price_wad)

    def total_assets(self) -> View:
        return self.view("totalAssets")

    def total_supply(self) -> View:
        return self.view("totalSupply")

    def max_withdraw(self, owner: str) -> View:
        return self.view("maxWithdraw", owner)


class VenueMarginController(ContractWrapper):
    """``contracts/venue/VenueMarginController.sol``: per-market dynamic margin scale
    (``IVenueMarginController``), holding the venue's CONTROLLER_ROLE."""

    CONTRACT_NAME = "VenueMarginController"
    #: ``pokeMany`` reads one market's state and oracle and sets its scale per market.
    GAS = {"poke": 400_000, "pokeMany": 400_000, "setParameters": 600_000}

    def poke_many(self, sender: str, markets: Sequence[int]) -> Call:
        """Poke every market of ``markets`` in one call (gas: :attr:`GAS` per market)."""
        return self.call(
            sender, "pokeMany", list(markets), gas=self.GAS["pokeMany"] * max(len(markets), 1)
        )

    def set_parameters(self, sender: str, market: int, params: tuple) -> Call:
        """Control ``market`` with ``params`` (``ControllerParams.to_chain()``; admin only)."""
        return self.call(sender, "setParameters", market, params)

    def target_scale(self, market: int) -> View:
        return self.view("targetScale", market)


__all__ = [
    "PerpVenue",
    "VenueBackstopVault",
    "VenueMarginController",
    "symbol_bytes",
    "symbol_str",
]
