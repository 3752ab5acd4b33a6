"""Build the world a run starts from: the venue deployed with the scenario's parameters, the
agents funded, the traders' opening positions on chain, and a snapshot of it all.

Every variant of a scenario (another price path, the same path without feedback) starts from
the snapshot this module takes, so variants share the deployed world to the wei.

Units: USD amounts are floats in USD; on chain, collateral is 6-decimal base units and sizes
and prices are WAD (1e18) fixed point; conversions go through ``to_units`` / ``to_wad``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from eth_utils import keccak, to_checksum_address

from simulator.chain.base import Chain
from simulator.chain.types import Call, TxResult
from simulator.errors import PerpsimError
from simulator.population import TraderBook, book_from_explicit, draw_population
from simulator.protocol.deploy import Venue, deploy_venue
from simulator.protocol.params import VenueParams
from simulator.scenario import ExplicitBook, Scenario
from simulator.units import WAD, to_units, to_wad

#: Traders of a random population open at most this share of the market's maximum leverage,
#: so that the fee and the skew impact paid at open do not leave them under initial margin
#: (reverting the open). An explicit book opens exactly as given.
OPEN_LEVERAGE_HEADROOM = 0.95
#: Collateral each trader keeps in its wallet for top-ups, as a multiple of its opening collateral.
TOP_UP_WALLET_MULTIPLE = 2.0
#: The pool's hedger keeps this many times the opening net open interest in base inventory, and
#: the same value in collateral, so that it can follow any later change of the net position.
HEDGER_INVENTORY_MULTIPLE = 3.0
#: Native gas money given to every agent (wei).
AGENT_GAS_WEI = 10**20
#: The setup sends its calls (funding, opening trades, market makers) in blocks of at most this
#: many calls (``Chain.execute``'s ``max_block_calls``): anvil's pending pool costs O(pool size)
#: per transaction received, so 30,000 funding calls in three gas-full blocks took 25 s and in
#: blocks of 1,000 take 4 s (``perpsim bench setup``). Continuation blocks keep the timestamp
#: of the block they continue, so every call executes at the same time as in one block and the
#: chain ends up holding the same balances, positions and events; only block numbers differ.
#: ``None`` sends by the block gas limit alone.
SETUP_BLOCK_CALLS: int | None = 1_000


class WorldError(PerpsimError):
    """The scenario cannot be deployed (bad market override, a venue that rejects it)."""


def agent_addresses(role: str, count: int, salt: int) -> list[str]:
    """Deterministic key-less addresses (anvil impersonates them) for ``count`` agents."""
    return [
        to_checksum_address(keccak(text=f"perpsim/{salt}/{role}/{i}")[-20:]) for i in range(count)
    ]


def venue_params_for(scenario: Scenario) -> VenueParams:
    """The venue parameters of a scenario: :meth:`Scenario.venue_params` (its preset, then its
    market overrides, then its controls). A validated scenario's venue is valid: the checks
    run when the scenario is loaded, before any run folder exists.

    Raises :class:`WorldError` only for a scenario built without validation
    (``model_copy(update=...)``) whose venue does not fit.
    """
    try:
        return scenario.venue_params()
    except ValueError as exc:
        raise WorldError(f"scenario {scenario.name}: {exc}") from None


def exogenous_start_price(scenario: Scenario) -> float:
    """The first price of the scenario's exogenous path (USD), without drawing randomness:
    :meth:`Scenario.start_price_usd`."""
    return scenario.start_price_usd()


@dataclass
class World:
    """A deployed, funded venue with every agent's address and the opening book."""

    scenario: Scenario
    params: VenueParams
    venue: Venue
    traders: list[str]
    book: TraderBook
    """The traders as given (explicit book) or as drawn with the opening leverage capped at
    ``OPEN_LEVERAGE_HEADROOM`` × the market's maximum (random population): the sizes sent to
    the chain."""
    keepers: list[str]
    arbitrageurs: list[str]
    hedger: str
    start_timestamp_s: int
    """Timestamp of step 0 (Unix seconds); step t's block has ``start + t·step_seconds``."""
    opened: np.ndarray
    """Whether each trader's opening trade succeeded (bool); a random population's trader
    whose open the venue refused (OI cap, initial margin) keeps its deposit and no position."""
    open_errors: list[str] = field(default_factory=list)
    """Decoded errors of the opening trades that failed (one per failed trader)."""
    opened_size_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Size of each trader's position on chain after the opens (base units, >= 0; 0 when
    refused), read back from the market."""
    entry_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Entry price on chain after the opens (USD; NaN when refused)."""
    liquidation_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The market's ``liquidationPrice`` after the opens (USD; NaN when refused)."""
    collateral_in_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Collateral each trader deposited at open, as the market credited it (USD, from its
    ``Deposited`` events; opened or not)."""
    wallet_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Collateral left in each trader's wallet for top-ups (USD)."""
    hedger_base: float = 0.0
    """Base inventory of the pool's hedger at step 0 (base units)."""
    arbitrageur_capital_usd: float = 0.0
    setup_transactions: int = 0
    setup_seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each part of :func:`build_world`, in order: ``population`` (drawing
    the book), ``deploy``, ``gas`` (native balances), ``funding`` (mint, approve, deposit per
    trader), ``opens`` (the opening trades), ``market_makers`` and ``reads`` (the accounts
    read back)."""


class _PhaseClock:
    """Wall seconds between successive :meth:`lap` calls, by phase name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = now - self._last
        self._last = now


def _require(results: list[TxResult], what: str) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise WorldError(
            f"{what}: {len(failed)} transactions failed, first {failed[0].label}: {failed[0].error}"
        )


def _cap_open_leverage(book: TraderBook, max_open_leverage: float, price: float) -> TraderBook:
    """The book with every leverage above ``max_open_leverage`` lowered to it (size follows)."""
    over = book.leverage > max_open_leverage
    if not over.any():
        return book
    leverage = np.where(over, max_open_leverage, book.leverage)
    size = np.where(over, book.collateral_usd * leverage / price, book.size_base)
    return replace(book, leverage=leverage, size_base=size)


def build_world(chain: Chain, scenario: Scenario) -> World:
    """Deploy the scenario's venue, fund the agents and open the traders' positions.

    An explicit book opens exactly as given (the scenario checked at load that the venue
    accepts every position; a refused open here is a :class:`WorldError`). A random
    population opens at most ``OPEN_LEVERAGE_HEADROOM`` × the maximum leverage; an open the
    venue refuses (an OI cap) leaves that trader without a position (``World.opened``).
    """
    clock = _PhaseClock()
    params = venue_params_for(scenario)
    streams = scenario.random_streams()
    price = params.oracle.initial_price_usd
    explicit = isinstance(scenario.traders, ExplicitBook)
    if explicit:
        book = book_from_explicit(scenario.traders, price)
    else:
        drawn = draw_population(
            scenario.traders, price, params.market.max_leverage, streams.population
        )
        book = _cap_open_leverage(drawn, params.market.max_leverage * OPEN_LEVERAGE_HEADROOM, price)
    size_base = book.size_base
    clock.lap("population")

    venue = deploy_venue(chain, params)
    clock.lap("deploy")
    salt = scenario.seed
    traders = agent_addresses("trader", book.count, salt)
    keepers = agent_addresses("keeper", scenario.keepers.count, salt)
    arbitrageurs = agent_addresses("arbitrageur", scenario.arbitrageurs.count, salt)
    hedger = agent_addresses("hedger", 1, salt)[0]
    chain.set_balance(traders + keepers + arbitrageurs + [hedger], AGENT_GAS_WEI)
    clock.lap("gas")

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
    funding = chain.execute(calls, max_block_calls=SETUP_BLOCK_CALLS)
    _require(funding, "funding traders")
    clock.lap("funding")
    deposited_usd = np.array(
        [
            sum(e.args["amount"] for e in funding[3 * i + 2].events if e.name == "Deposited") / WAD
            for i in range(book.count)
        ],
        dtype=np.float64,
    )
    results = chain.execute(
        [v.market.trade(a, s) for a, s in zip(traders, size_wad, strict=True)],
        max_block_calls=SETUP_BLOCK_CALLS,
    )
    opened = np.array([r.ok for r in results], dtype=bool)
    open_errors = [f"{traders[i]}: {r.error}" for i, r in enumerate(results) if not r.ok]
    if explicit and not opened.all():
        i = int(np.flatnonzero(~opened)[0])
        raise WorldError(
            f"traders: the venue refused the opening trade of explicit position {i} "
            f"({'long' if side[i] > 0 else 'short'} {size_base[i]:g} base units on "
            f"{book.collateral_usd[i]:g} USD): {results[i].error}"
        )
    setup_tx = len(calls) + len(results)
    clock.lap("opens")

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
    _require(chain.execute(mm_calls, max_block_calls=SETUP_BLOCK_CALLS), "funding market makers")
    setup_tx += len(mm_calls)
    clock.lap("market_makers")

    # What the chain holds after the opens, not what was asked for.
    reads = chain.read(
        [v.market.account_of(a) for a in traders] + [v.market.liquidation_price(a) for a in traders]
    )
    accounts, liq = reads[: len(traders)], reads[len(traders) :]
    opened_size = np.array([abs(a[0]) / WAD for a in accounts], dtype=np.float64)
    entry_usd = np.where(opened, np.array([a[1] / WAD for a in accounts], dtype=np.float64), np.nan)
    liq_usd = np.where(opened, np.array([p / WAD for p in liq], dtype=np.float64), np.nan)
    start = chain.latest_timestamp() + scenario.step_seconds
    clock.lap("reads")
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
        opened_size_base=opened_size,
        entry_price_usd=entry_usd,
        liquidation_price_usd=liq_usd,
        collateral_in_usd=deposited_usd,
        wallet_usd=np.asarray(wallet_usd, dtype=np.float64).copy(),
        hedger_base=hedger_base,
        arbitrageur_capital_usd=arb.capital_usd,
        setup_transactions=setup_tx,
        setup_seconds=clock.laps,
    )
