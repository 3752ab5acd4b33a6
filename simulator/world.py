"""Build the world a run starts from: the venue deployed with the scenario's parameters, the
agents funded, the traders' opening positions on chain, and a snapshot of it all.

Every variant of a scenario (another price path, the same path without feedback) starts from
the snapshot this module takes, so variants share the deployed world to the wei.

Units: USD amounts are floats in USD; on chain, collateral is 6-decimal base units and sizes
and prices are WAD (1e18) fixed point; conversions go through ``to_units`` / ``to_wad``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from eth_utils import keccak, to_checksum_address
from pydantic import ValidationError

from simulator.chain.base import Chain
from simulator.chain.types import Call, TxResult
from simulator.errors import PerpsimError
from simulator.population import TraderBook, book_from_explicit, draw_population
from simulator.pricepaths import exogenous_prices
from simulator.protocol.deploy import Venue, deploy_venue
from simulator.protocol.params import (
    WAD,
    AdlPolicy,
    ParamsError,
    VenueParams,
    load_preset,
    to_units,
    to_wad,
)
from simulator.scenario import ExplicitBook, Scenario

#: Traders open at most this share of the market's maximum leverage, so that the fee and the
#: skew impact paid at open do not leave them under initial margin (reverting the open).
OPEN_LEVERAGE_HEADROOM = 0.95
#: Collateral each trader keeps in its wallet for top-ups, as a multiple of its opening collateral.
TOP_UP_WALLET_MULTIPLE = 2.0
#: The pool's hedger keeps this many times the opening net open interest in base inventory, and
#: the same value in collateral, so that it can follow any later change of the net position.
HEDGER_INVENTORY_MULTIPLE = 3.0
#: Native gas money given to every agent (wei).
AGENT_GAS_WEI = 10**20


class WorldError(PerpsimError):
    """The scenario cannot be deployed (bad market override, a venue that rejects it)."""


def agent_addresses(role: str, count: int, salt: int) -> list[str]:
    """Deterministic key-less addresses (anvil impersonates them) for ``count`` agents."""
    return [
        to_checksum_address(keccak(text=f"perpsim/{salt}/{role}/{i}")[-20:]) for i in range(count)
    ]


def venue_params_for(scenario: Scenario) -> VenueParams:
    """The venue parameters of a scenario: its preset, then its market overrides, then its
    controls (leverage cap, OI cap, ADL policy, circuit breaker, buffers, dynamic margin).

    Raises :class:`WorldError` naming the override that does not fit the preset.
    """
    params = load_preset(scenario.market.preset)
    market_fields = set(type(params.market).model_fields)
    unknown = sorted(set(scenario.market.overrides) - market_fields)
    if unknown:
        raise WorldError(
            f"market.overrides: unknown market parameter {unknown[0]!r} "
            f"(known: {', '.join(sorted(market_fields))})"
        )
    controls = scenario.controls
    start_price = float(exogenous_start_price(scenario))
    changes: dict = dict(scenario.market.overrides)
    changes["adl_policy"] = AdlPolicy(controls.adl_policy)
    if controls.leverage_cap is not None:
        max_leverage = min(
            float(changes.get("max_leverage", params.market.max_leverage)), controls.leverage_cap
        )
        changes["max_leverage"] = max_leverage
        # Maintenance margin stays, unless the cap's initial margin would fall to it: then it
        # becomes half the initial margin (the Hyperliquid rule the presets follow).
        mmf = float(
            changes.get("maintenance_margin_fraction", params.market.maintenance_margin_fraction)
        )
        if mmf >= 1 / max_leverage:
            changes["maintenance_margin_fraction"] = mmf = 0.5 / max_leverage
        # The cap applies to every tier: a tier's initial margin is at least 1/cap.
        tiers = changes.get("margin_tiers", [t.model_dump() for t in params.market.margin_tiers])
        changes["margin_tiers"] = [
            {
                **tier,
                "initial_margin_fraction": max(tier["initial_margin_fraction"], 1 / max_leverage),
                "maintenance_margin_fraction": max(tier["maintenance_margin_fraction"], mmf),
            }
            for tier in tiers
        ]
    if controls.oi_cap_usd is not None:
        cap_base = controls.oi_cap_usd / start_price
        changes["max_long_open_interest"] = cap_base
        changes["max_short_open_interest"] = cap_base
    if controls.circuit_breaker_max_move_bps is not None:
        changes["circuit_breaker_band_bps"] = controls.circuit_breaker_max_move_bps
    try:
        params = params.with_market(**changes)
        buffers = params.buffers.model_copy(
            update={
                "insurance_fund_usd": controls.insurance_fund_usd,
                "backstop_vault_usd": controls.backstop_vault_usd,
                "backstop_enabled": controls.backstop_vault_usd > 0,
            }
        )
        return VenueParams.model_validate(
            {
                **params.model_dump(),
                "oracle": {**params.oracle.model_dump(), "initial_price_usd": start_price},
                "amm": {**params.amm.model_dump(), "liquidity_usd": scenario.amm.liquidity_usd},
                "buffers": buffers.model_dump(),
                "controller": {
                    **params.controller.model_dump(),
                    "enabled": controls.dynamic_margin,
                },
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "market"
        message = first["msg"].removeprefix("Value error, ")
        raise WorldError(
            f"scenario {scenario.name}: market parameters: {where}: {message}"
        ) from None
    except (ParamsError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WorldError(f"scenario {scenario.name}: market parameters: {message}") from None


def exogenous_start_price(scenario: Scenario) -> float:
    """The first price of the scenario's exogenous path (USD), without drawing randomness."""
    path = scenario.price_path
    if hasattr(path, "start_price_usd"):
        return float(path.start_price_usd)
    if hasattr(path, "prices_usd"):
        return float(path.prices_usd[0])
    # CSV: the first resampled price; reading it draws nothing.
    return float(
        exogenous_prices(path, scenario.steps, scenario.step_seconds, np.random.default_rng(0))[0]
    )


@dataclass
class World:
    """A deployed, funded venue with every agent's address and the opening book."""

    scenario: Scenario
    params: VenueParams
    venue: Venue
    traders: list[str]
    book: TraderBook
    """The traders as drawn (or given), with sizes capped to what they could open."""
    keepers: list[str]
    arbitrageurs: list[str]
    hedger: str
    start_timestamp_s: int
    """Timestamp of step 0 (Unix seconds); step t's block has ``start + t·step_seconds``."""
    opened: np.ndarray
    """Whether each trader's opening trade succeeded (bool)."""
    open_errors: list[str] = field(default_factory=list)
    """Decoded errors of the opening trades that failed (one per failed trader)."""
    entry_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    liquidation_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    collateral_in_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Collateral each trader deposited at open (USD)."""
    wallet_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Collateral left in each trader's wallet for top-ups (USD)."""
    hedger_base: float = 0.0
    """Base inventory of the pool's hedger at step 0 (base units)."""
    arbitrageur_capital_usd: float = 0.0
    setup_transactions: int = 0


def _require(results: list[TxResult], what: str) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise WorldError(
            f"{what}: {len(failed)} transactions failed, first {failed[0].label}: {failed[0].error}"
        )


def build_world(chain: Chain, scenario: Scenario) -> World:
    """Deploy the scenario's venue, fund the agents and open the traders' positions."""
    params = venue_params_for(scenario)
    streams = scenario.random_streams()
    price = params.oracle.initial_price_usd
    max_open_leverage = params.market.max_leverage * OPEN_LEVERAGE_HEADROOM
    if isinstance(scenario.traders, ExplicitBook):
        book = book_from_explicit(scenario.traders, price)
    else:
        book = draw_population(
            scenario.traders, price, params.market.max_leverage, streams.population
        )
    # Cap the opening leverage below the market maximum (fee + impact headroom).
    leverage = np.minimum(book.leverage, max_open_leverage)
    size_base = np.where(
        book.leverage > max_open_leverage, book.collateral_usd * leverage / price, book.size_base
    )

    venue = deploy_venue(chain, params)
    salt = scenario.seed
    traders = agent_addresses("trader", book.count, salt)
    keepers = agent_addresses("keeper", scenario.keepers.count, salt)
    arbitrageurs = agent_addresses("arbitrageur", scenario.arbitrageurs.count, salt)
    hedger = agent_addresses("hedger", 1, salt)[0]
    chain.set_balance(traders + keepers + arbitrageurs + [hedger], AGENT_GAS_WEI)

    collateral_units = [to_units(c) for c in book.collateral_usd]
    wallet_usd = book.collateral_usd * TOP_UP_WALLET_MULTIPLE * (book.top_up_fraction > 0)
    wallet_units = [to_units(w) for w in wallet_usd]
    side = book.side.astype(np.int64)
    size_wad = [int(s) * to_wad(round(float(z), 12)) for s, z in zip(side, size_base, strict=True)]

    v, deployer = venue, venue.deployer
    calls: list[Call] = []
    for addr, units, wallet in zip(traders, collateral_units, wallet_units, strict=True):
        calls.append(v.collateral.mint(deployer, addr, units + wallet))
        calls.append(v.collateral.approve(addr, v.market.address, 2**256 - 1))
        calls.append(v.market.deposit(addr, units))
    _require(chain.execute(calls), "funding traders")
    results = chain.execute([v.market.trade(a, s) for a, s in zip(traders, size_wad, strict=True)])
    opened = np.array([r.ok for r in results])
    open_errors = [f"{traders[i]}: {r.error}" for i, r in enumerate(results) if not r.ok]
    setup_tx = len(calls) + len(results)

    # Market makers: arbitrageurs hold capital in both tokens; the hedger holds the pool's hedge.
    net_base = float(np.sum(side * size_base * opened))
    hedger_base = abs(net_base) * HEDGER_INVENTORY_MULTIPLE + float(np.sum(size_base)) * 0.1
    arb = scenario.arbitrageurs
    mm_calls: list[Call] = []
    for addr in arbitrageurs:
        mm_calls += [
            v.collateral.mint(deployer, addr, to_units(arb.capital_usd)),
            v.base.mint(deployer, addr, to_wad(arb.capital_usd / price)),
            v.collateral.approve(addr, v.amm.address, 2**256 - 1),
            v.base.approve(addr, v.amm.address, 2**256 - 1),
        ]
    mm_calls += [
        v.collateral.mint(deployer, hedger, to_units(hedger_base * price)),
        v.base.mint(deployer, hedger, to_wad(round(hedger_base, 12))),
        v.collateral.approve(hedger, v.amm.address, 2**256 - 1),
        v.base.approve(hedger, v.amm.address, 2**256 - 1),
    ]
    _require(chain.execute(mm_calls), "funding market makers")
    setup_tx += len(mm_calls)

    accounts = chain.read([v.market.account_of(a) for a in traders])
    liq = chain.read([v.market.liquidation_price(a) for a in traders])
    entry_usd = np.array([a[1] / WAD for a in accounts], dtype=np.float64)
    liq_usd = np.array([p / WAD for p in liq], dtype=np.float64)
    start = chain.latest_timestamp() + scenario.step_seconds
    return World(
        scenario=scenario,
        params=params,
        venue=venue,
        traders=traders,
        book=book,
        keepers=keepers,
        arbitrageurs=arbitrageurs,
        hedger=hedger,
        start_timestamp_s=start,
        opened=opened,
        open_errors=open_errors,
        entry_price_usd=entry_usd,
        liquidation_price_usd=liq_usd,
        collateral_in_usd=np.asarray(book.collateral_usd, dtype=np.float64).copy(),
        wallet_usd=np.asarray(wallet_usd, dtype=np.float64).copy(),
        hedger_base=hedger_base,
        arbitrageur_capital_usd=arb.capital_usd,
        setup_transactions=setup_tx,
    )
