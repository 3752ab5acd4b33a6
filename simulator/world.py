"""Build the world a run starts from: the multi-market venue deployed with the scenario's
parameters, the agents funded, the traders' opening positions on chain, and a snapshot of it all.

Every variant of a scenario (another price path, the same path without feedback) starts from
the snapshot this module takes, so variants share the deployed world to the wei.

The scenario reaches the world through one function, :func:`world_inputs` (the venue's
parameters, the market symbols, the start prices, the trader book, the exogenous prices and
the oracle fault schedule, per market); :func:`build_world` and the engine use only those
inputs and the scenario's agent and control sections.

The trader book's rows are positions (:class:`~simulator.population.TraderBook`): a cross
account deposits the sum of its rows' collateral into its shared venue balance (isolated rows
included: ``tradeIsolated`` moves each isolated row's margin out of it), then every row is
opened in its market, cross with ``trade`` and isolated with ``tradeIsolated``.

Units: USD amounts are floats in USD; on chain, collateral is 6-decimal base units and sizes
and prices are WAD (1e18) fixed point; conversions go through ``to_units`` / ``to_wad``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_utils import keccak

from simulator.agents import flow as flow_agents
from simulator.chain.base import Chain
from simulator.chain.codec import checksum
from simulator.chain.gcpause import paused_gc
from simulator.chain.types import Call, TxResult
from simulator.errors import PerpsimError
from simulator.population import TraderBook, book_from_explicit, concat_books, draw_population
from simulator.pricepaths import OracleFaultSchedule, scenario_prices
from simulator.protocol.params import VenueParams
from simulator.protocol.venue_deploy import MultiVenue, deploy_multi_venue
from simulator.protocol.venue_params import (
    MAX_POSITIONS_PER_ACCOUNT,
    MultiVenueParams,
    VenueBufferParams,
    VenueGovernanceParams,
    VenueMarket,
    VenueMarketParams,
)
from simulator.scenario import ExplicitBook, Scenario
from simulator.scenario.paths import CsvPath
from simulator.units import WAD, from_wad, to_units, to_wad

#: Traders of a random population open at most this share of their market's maximum leverage,
#: so that the fee and the skew impact paid at open do not leave them under initial margin
#: (reverting the open). An explicit book opens exactly as given.
OPEN_LEVERAGE_HEADROOM = 0.95
#: Collateral each trader keeps in its wallet for top-ups, as a multiple of its opening collateral.
TOP_UP_WALLET_MULTIPLE = 2.0
#: The pool's hedger keeps this many times the opening net open interest of each market in that
#: market's base inventory, and the same value in collateral, so that it can follow any later
#: change of the net position.
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


#: How many (role, count, salt) address lists :func:`agent_addresses` keeps: a world asks for
#: five roles a seed, and a tune's worker may run every path of a study (each a seed) on every
#: trial, so the last 100 seeds' (~20 MB with 2,000 traders a seed).
AGENT_ADDRESS_LISTS_KEPT = 512


def agent_addresses(role: str, count: int, salt: int) -> list[str]:
    """Deterministic key-less addresses (anvil impersonates them) for ``count`` agents: a pure
    function of its arguments, kept for the last :data:`AGENT_ADDRESS_LISTS_KEPT` (a tune
    evaluates every trial on the same seeds, each a salt; 2,000 traders' addresses cost ~70 ms
    of keccak, most of a mirror path's setup)."""
    return list(_agent_addresses(role, count, salt))


@functools.lru_cache(maxsize=AGENT_ADDRESS_LISTS_KEPT)
def _agent_addresses(role: str, count: int, salt: int) -> tuple[str, ...]:
    # Through the chain's cached checksum, with the lower-case spelling the decoded logs use:
    # the setup's events then find every trader's address already checksummed.
    return tuple(
        checksum("0x" + keccak(text=f"perpsim/{salt}/{role}/{i}")[-20:].hex()) for i in range(count)
    )


def venue_params_for(scenario: Scenario) -> MultiVenueParams:
    """The venue a scenario deploys: :meth:`Scenario.venue_params` (its preset's market
    tables, each market's overrides, then the controls). A validated scenario's venue is valid:
    the checks run when the scenario is loaded, before any run folder exists.

    Kept for the last :data:`VENUES_KEPT` scenario contents, seed aside (not for a CSV price
    path, whose file gives the start prices).

    Raises :class:`WorldError` only for a scenario built without validation
    (``model_copy(update=...)``) whose venue does not fit.
    """
    # a CSV price path's start prices are the file's first row: read, not kept here
    key = None if isinstance(scenario.price_path, CsvPath) else scenario.model_dump_json(
        exclude={"seed"})  # fmt: skip
    kept = _VENUES_KEPT.get(key) if key is not None else None
    if kept is not None:
        return kept.params
    try:
        params = scenario.venue_params()
    except ValueError as exc:
        raise WorldError(f"scenario {scenario.name}: {exc}") from None
    if key is None:
        return params
    if len(_VENUES_KEPT) >= VENUES_KEPT:
        del _VENUES_KEPT[next(iter(_VENUES_KEPT))]  # the oldest
    _VENUES_KEPT[key] = _KeptVenue(params)
    return params


VENUES_KEPT = 8
"""How many venues :func:`venue_params_for` keeps, by the scenario's content without its seed
(a tune's trial evaluates one scenario on many seeds: resolving its venue, ~0.3 ms of pydantic
validation, once a trial instead of once a path). The venue is a pure function of that content
(the seed draws nothing of it) and a frozen model, so one object serves every seed."""


@dataclass
class _KeptVenue:
    """A venue :func:`venue_params_for` keeps, with its markets' chain forms once asked for
    (:func:`chain_markets`)."""

    params: MultiVenueParams
    chain: tuple[list[dict[str, Any]], list[list[tuple[int, int, int]]]] | None = None


_VENUES_KEPT: dict[str, _KeptVenue] = {}


def chain_markets(
    params: MultiVenueParams,
) -> tuple[list[dict[str, Any]], list[list[tuple[int, int, int]]]]:
    """Each market's ``marketParameters`` (:meth:`VenueMarketParams.to_chain`, a fresh dict
    per call) and margin tiers (:meth:`~VenueMarketParams.tiers_to_chain`), in market order:
    made once for a venue :func:`venue_params_for` keeps (~0.3 ms of checks and conversions a
    path otherwise), else here."""
    for kept in _VENUES_KEPT.values():
        if kept.params is params:
            if kept.chain is None:
                kept.chain = _chain_markets_of(params)
            return [dict(p) for p in kept.chain[0]], [list(t) for t in kept.chain[1]]
    return _chain_markets_of(params)


def _chain_markets_of(
    params: MultiVenueParams,
) -> tuple[list[dict[str, Any]], list[list[tuple[int, int, int]]]]:
    return ([m.params.to_chain() for m in params.markets],
            [m.params.tiers_to_chain() for m in params.markets])  # fmt: skip


@dataclass(frozen=True)
class WorldInputs:
    """Everything :func:`build_world` and the engine take from a scenario, per market."""

    params: MultiVenueParams
    """The venue: markets in the scenario's order, controls applied."""
    symbols: list[str]
    """Market symbols in market order (``book.market`` indexes them)."""
    start_prices_usd: np.ndarray
    """Price of every market at step 0, shape (M,), USD."""
    book: TraderBook
    """The opening positions (one row per position) as sent to the chain."""
    exogenous_usd: np.ndarray
    """Exogenous price of every market at every step, shape (steps + 1, M), USD."""
    faults: OracleFaultSchedule
    """The oracle faults, arrays of shape (steps + 1, M)
    (:meth:`OracleFaultSchedule.feed_markets` gives each step's posted prices)."""
    explicit: bool
    """The book is explicit (a refused open is an error) rather than a random population."""


def multi_venue_params(params: VenueParams, symbol: str) -> MultiVenueParams:
    """The one-market venue of a single-market parameter set (market ``symbol``)."""
    market = VenueMarket(
        symbol=symbol,
        oracle=params.oracle,
        amm=params.amm,
        params=VenueMarketParams.from_market(params.market),
    )
    return MultiVenueParams(
        name=params.name,
        description=params.description,
        buffers=VenueBufferParams.model_validate(params.buffers.model_dump()),
        governance=VenueGovernanceParams.model_validate(params.governance.model_dump()),
        controller=params.controller,
        markets=(market,),
    )


def world_inputs(scenario: Scenario) -> WorldInputs:
    """The scenario's venue, markets, start prices, book, exogenous prices and oracle faults:
    the one place where a scenario is mapped onto the world.

    Draws the population (``population`` stream) and every market's price path (``price``
    stream) of the scenario's seed; the same scenario gives the same inputs. A random
    population opens at most ``OPEN_LEVERAGE_HEADROOM`` × each market's maximum leverage.
    """
    params = venue_params_for(scenario)
    streams = scenario.random_streams()
    symbols = list(params.symbols)
    prices = np.array([m.initial_price_usd for m in params.markets], dtype=np.float64)
    max_leverage = np.array([m.params.max_leverage for m in params.markets], dtype=np.float64)
    explicit = isinstance(scenario.traders, ExplicitBook)
    if explicit:
        book = book_from_explicit(scenario.traders, prices, symbols)
    else:
        drawn = draw_population(scenario.traders, prices, max_leverage, streams.population, symbols)
        book = cap_open_leverage(drawn, max_leverage * OPEN_LEVERAGE_HEADROOM, prices)
    if scenario.order_flow is not None:  # the flow slots: flat rows after the opening book
        slots = flow_agents.slot_book(
            scenario.order_flow, len(symbols), flow_agents.setup_rng(streams.flow)
        )
        book = concat_books(book, slots)
    exogenous = scenario_prices(scenario, streams.price)
    faults = OracleFaultSchedule.from_faults(scenario.oracle_faults, scenario.steps, symbols)
    return WorldInputs(
        params=params,
        symbols=symbols,
        start_prices_usd=prices,
        book=book,
        exogenous_usd=np.asarray(exogenous, dtype=np.float64).reshape(scenario.steps + 1, -1),
        faults=faults,
        explicit=explicit,
    )


@dataclass
class World:
    """A deployed, funded venue with every agent's address and the opening book.

    Arrays named per row have one entry per row of :attr:`book` (a position); per account,
    one per entry of :attr:`accounts`."""

    scenario: Scenario
    inputs: WorldInputs
    params: MultiVenueParams
    venue: MultiVenue
    accounts: list[str]
    """One address per trader account (``book.account`` indexes them)."""
    book: TraderBook
    """The positions as given (explicit book) or as drawn with the opening leverage capped at
    ``OPEN_LEVERAGE_HEADROOM`` × the market's maximum (random population): the sizes sent."""
    keepers: list[str]
    arbitrageurs: list[str]
    hedger: str
    start_timestamp_s: int
    """Timestamp of step 0 (Unix seconds); step t's block has ``start + t·step_seconds``."""
    opened: np.ndarray
    """Per row: whether the opening trade succeeded (bool); a random population's position
    whose open the venue refused (OI cap, initial margin) is left without a position."""
    open_errors: list[str] = field(default_factory=list)
    """Decoded errors of the opening trades that failed (one per failed row)."""
    opened_size_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: size on chain after the opens (base units, >= 0; 0 when refused), from the
    opening trade's ``PositionModified``."""
    entry_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: entry price on chain after the opens (USD; NaN when refused)."""
    open_fill_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: fill price of the opening trade (USD, ``PositionModified.fill``; NaN when not
    opened): step 0's ``open`` events (:mod:`simulator.engine.opening`)."""
    open_fee_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: trading fee the opening trade paid (USD, ``PositionModified.fee``; 0 when not
    opened)."""
    open_reverts: dict[int, str] = field(default_factory=dict)
    """Row -> the venue's decoded error, for every opening trade the venue reverted."""
    opening_transactions: int = 0
    """Opening trades sent (the opening book's orders, step 0's, whether mined ok or not)."""
    liquidation_price_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: the venue's ``liquidationPrice(account, market)`` after every open (USD; NaN
    when refused or when there is none)."""
    collateral_in_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row: the collateral put in for that position (USD; a cross row's share of its
    account's deposit, an isolated row's margin), opened or not."""
    account_deposit_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per account: the collateral the venue credited at the deposit (USD, ``Deposited``)."""
    wallet_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per account: collateral left in the wallet for top-ups (USD)."""
    hedger_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per market: base inventory of the pool's hedger at step 0 (base units)."""
    arbitrageur_capital_usd: float = 0.0
    """Each arbitrageur's capital per market, in collateral and in base (USD)."""
    mm_vault: str | None = None
    """The market-making vault's venue account (``None``: the scenario has none)."""
    mm_vault_capital_usd: float = 0.0
    """Collateral the venue credited to the market-making vault at setup (USD)."""
    setup_transactions: int = 0
    defi: Any = None
    """The contagion world deployed beside the venue
    (:class:`~simulator.contagion.world_setup.DefiWorld`), ``None`` without ``world:``."""
    setup_seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each part of :func:`build_world`, in order: ``population`` (the
    inputs), ``deploy``, ``gas`` (native balances), ``funding`` (mint, approve, deposit per
    account), ``opens`` (the opening trades), ``market_makers`` (and the market-making
    vault's deposit) and ``reads`` (liquidation
    prices read back)."""

    @property
    def symbols(self) -> list[str]:
        """Market symbols in market order."""
        return self.inputs.symbols

    @property
    def market_ids(self) -> list[int]:
        """The venue's market id of every market, in market order."""
        return [self.venue.ids[s] for s in self.inputs.symbols]

    @property
    def traders(self) -> list[str]:
        """The trader accounts (:attr:`accounts`)."""
        return self.accounts


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


def cap_open_leverage(
    book: TraderBook, max_open_leverage: np.ndarray, prices_usd: np.ndarray
) -> TraderBook:
    """The book with every row's leverage above its market's ``max_open_leverage`` (shape (M,))
    lowered to it (size follows, at the market's price ``prices_usd``, USD)."""
    cap = np.asarray(max_open_leverage, dtype=np.float64)[book.market]
    price = np.asarray(prices_usd, dtype=np.float64)[book.market]
    over = book.leverage > cap
    if not over.any():
        return book
    leverage = np.where(over, cap, book.leverage)
    size = np.where(over, book.collateral_usd * leverage / price, book.size_base)
    return book.with_sizes(leverage=leverage, size_base=size)


def _check_book(book: TraderBook, n_markets: int) -> None:
    if book.count and (book.market.min() < 0 or book.market.max() >= n_markets):
        raise WorldError(f"traders: a position names market {int(book.market.max())}, "
                         f"the venue lists {n_markets}")  # fmt: skip
    per_account = np.bincount(book.account, minlength=book.n_accounts)
    if book.count and per_account.max() > MAX_POSITIONS_PER_ACCOUNT:
        a = int(np.argmax(per_account))
        raise WorldError(
            f"traders: account {a} holds {int(per_account[a])} positions, the venue allows "
            f"{MAX_POSITIONS_PER_ACCOUNT}"
        )
    pairs = book.account * n_markets + book.market
    if len(np.unique(pairs)) != book.count:
        raise WorldError("traders: an account holds two positions in the same market")


def build_world(chain: Chain, scenario: Scenario, inputs: WorldInputs | None = None) -> World:
    """Deploy the scenario's venue, fund the agents and open the traders' positions.

    ``inputs`` defaults to :func:`world_inputs` of the scenario. An explicit book opens exactly
    as given (a refused open is a :class:`WorldError`). A random population opens at most
    ``OPEN_LEVERAGE_HEADROOM`` × each market's maximum leverage; an open the venue refuses (an
    OI cap) leaves that row without a position (``World.opened``).

    Python's cyclic collector is paused meanwhile (:func:`~simulator.chain.gcpause.paused_gc`):
    the setup makes millions of short-lived objects (calls, replies, results) and no cycles, and
    at 10,000 traders the collector's passes over them took about a second.
    """
    with paused_gc():
        return _build_world(chain, scenario, inputs)


def hedger_base_of(
    scenario: Scenario, inputs: WorldInputs, opened: np.ndarray, size_base: np.ndarray
) -> np.ndarray:
    """Per market: the pool's hedger's base inventory at step 0 (base units):
    :data:`HEDGER_INVENTORY_MULTIPLE` times the opening net open interest plus a tenth of the
    gross (``opened``, ``size_base``: the book rows as opened), and room for the order flow's
    positions. The world mints it (and its value in collateral at the start prices)."""
    params, book = inputs.params, inputs.book
    side = book.side.astype(np.int64)
    hedger_base = np.zeros(len(params.markets))
    if scenario.order_flow is not None:  # room for the order flow's positions too
        hedger_base += flow_agents.slot_capacity_base(
            scenario.order_flow,
            book,
            np.array([m.params.max_leverage for m in params.markets]),
            inputs.start_prices_usd,
        )
    for m in range(len(params.markets)):
        rows = (book.market == m) & opened
        net_base = float(np.sum(side[rows] * size_base[rows]))
        hedger_base[m] += abs(net_base) * HEDGER_INVENTORY_MULTIPLE + float(
            np.sum(size_base[rows]) * 0.1
        )
    return hedger_base


def _build_world(chain: Chain, scenario: Scenario, inputs: WorldInputs | None) -> World:
    """:func:`build_world`'s body."""
    clock = _PhaseClock()
    inputs = inputs if inputs is not None else world_inputs(scenario)
    params, book = inputs.params, inputs.book
    n_markets = len(params.markets)
    _check_book(book, n_markets)
    clock.lap("population")

    buffers = params.buffers
    venue = deploy_multi_venue(
        chain,
        params,
        with_backstop_vault=buffers.backstop_enabled and buffers.backstop_vault_usd > 0,
    )
    clock.lap("deploy")
    ids = [venue.ids[s] for s in inputs.symbols]
    salt = scenario.seed
    accounts = agent_addresses("trader", book.n_accounts, salt)
    keepers = agent_addresses("keeper", scenario.keepers.count, salt)
    arbitrageurs = agent_addresses("arbitrageur", scenario.arbitrageurs.count, salt)
    hedger = agent_addresses("hedger", 1, salt)[0]
    chain.set_balance(accounts + keepers + arbitrageurs + [hedger], AGENT_GAS_WEI)
    clock.lap("gas")

    # Every row's collateral in base units; an account deposits the sum of its rows'.
    row_units = np.array([to_units(c) for c in book.collateral_usd], dtype=np.int64)
    deposit_units = np.bincount(book.account, weights=row_units, minlength=book.n_accounts)
    wallet_row = book.collateral_usd * TOP_UP_WALLET_MULTIPLE * (book.top_up_fraction > 0)
    wallet_usd = np.bincount(book.account, weights=wallet_row, minlength=book.n_accounts)
    v, deployer = venue.venue, venue.deployer
    calls: list[Call] = []
    for addr, units, wallet in zip(accounts, deposit_units, wallet_usd, strict=True):
        units = int(units)
        calls.append(venue.collateral.mint(deployer, addr, units + to_units(float(wallet))))
        calls.append(venue.collateral.approve(addr, v.address, 2**256 - 1))
        calls.append(v.deposit(addr, units))
    funding = chain.execute(calls, max_block_calls=SETUP_BLOCK_CALLS)
    _require(funding, "funding traders")
    clock.lap("funding")
    deposited_usd = np.array(
        [
            sum(e.args["amount"] for e in funding[3 * i + 2].events if e.name == "Deposited") / WAD
            for i in range(book.n_accounts)
        ],
        dtype=np.float64,
    )

    side = book.side.astype(np.int64)
    opens: list[Call] = []
    # Order-flow slots start flat: funded, no opening trade (``book.start_flat``).
    open_rows = np.flatnonzero(~book.start_flat)
    for r in open_rows:
        addr, market = accounts[book.account[r]], ids[book.market[r]]
        size_wad = int(side[r]) * to_wad(round(float(book.size_base[r]), 12))
        if book.isolated[r]:
            margin_wad = int(row_units[r]) * 10**12
            opens.append(v.trade_isolated(addr, market, size_wad, margin_wad))
        else:
            opens.append(v.trade(addr, market, size_wad))
    results = chain.execute(opens, max_block_calls=SETUP_BLOCK_CALLS)
    opened = np.zeros(book.count, dtype=bool)
    opened[open_rows] = [r.ok for r in results]
    open_errors = [
        f"{accounts[book.account[i]]} {inputs.symbols[book.market[i]]}: {r.error}"
        for i, r in zip(open_rows, results, strict=True)
        if not r.ok
    ]
    if inputs.explicit and not opened[open_rows].all():
        i = int(np.flatnonzero(~opened & ~book.start_flat)[0])
        raise WorldError(
            f"traders: the venue refused the opening trade of explicit position {i} "
            f"({'long' if side[i] > 0 else 'short'} {book.size_base[i]:g} base units of "
            f"{inputs.symbols[book.market[i]]} on {book.collateral_usd[i]:g} USD): "
            f"{results[int(np.searchsorted(open_rows, i))].error}"
        )
    size_base = np.zeros(book.count)
    entry_usd = np.full(book.count, np.nan)
    fill_usd = np.full(book.count, np.nan)
    fee_usd = np.zeros(book.count)
    open_reverts: dict[int, str] = {}
    for i, r in zip(open_rows, results, strict=True):
        modified = [e.args for e in r.events if e.name == "PositionModified"] if r.ok else []
        if modified:
            size_base[i] = abs(from_wad(modified[-1]["newSize"]))
            entry_usd[i] = from_wad(modified[-1]["entryPrice"])
            fill_usd[i] = from_wad(modified[-1]["fill"])
            fee_usd[i] = sum(from_wad(int(a["fee"])) for a in modified)
        if not r.ok:
            open_reverts[int(i)] = r.error
    setup_tx = len(calls) + len(results)
    clock.lap("opens")

    # Market makers per asset: arbitrageurs hold capital in both tokens of every market's AMM;
    # the hedger holds each market's hedge inventory.
    prices = inputs.start_prices_usd
    hedger_base = hedger_base_of(scenario, inputs, opened, size_base)
    arb = scenario.arbitrageurs
    mm_calls: list[Call] = []
    for m, market in enumerate(ids):
        amm, base = venue.amms[market], venue.bases[market]
        for addr in arbitrageurs:
            mm_calls += [
                venue.collateral.mint(deployer, addr, to_units(arb.capital_usd)),
                base.mint(deployer, addr, to_wad(arb.capital_usd / prices[m])),
                venue.collateral.approve(addr, amm.address, 2**256 - 1),
                base.approve(addr, amm.address, 2**256 - 1),
            ]
        mm_calls += [
            venue.collateral.mint(deployer, hedger, to_units(hedger_base[m] * prices[m])),
            base.mint(deployer, hedger, to_wad(round(float(hedger_base[m]), 12))),
            venue.collateral.approve(hedger, amm.address, 2**256 - 1),
            base.approve(hedger, amm.address, 2**256 - 1),
        ]
    # The market-making vault: an ordinary cross account funded with its capital.
    mm_vault, mm_vault_capital = None, 0.0
    if scenario.mm_vault.enabled:
        mm_vault = agent_addresses("mm_vault", 1, salt)[0]
        chain.set_balance([mm_vault], AGENT_GAS_WEI)
        capital_units = to_units(scenario.mm_vault.capital_usd)
        mm_calls += [
            venue.collateral.mint(deployer, mm_vault, capital_units),
            venue.collateral.approve(mm_vault, v.address, 2**256 - 1),
            v.deposit(mm_vault, capital_units),
        ]
    made = chain.execute(mm_calls, max_block_calls=SETUP_BLOCK_CALLS)
    _require(made, "funding market makers")
    if mm_vault is not None:
        mm_vault_capital = sum(e.args["amount"] for e in made[-1].events if e.name == "Deposited")
        mm_vault_capital /= WAD
    setup_tx += len(mm_calls)
    clock.lap("market_makers")

    # The contagion world (scenario ``world:``) beside the venue.
    defi = None
    if scenario.world is not None:
        from simulator.contagion.world_setup import deploy_defi_world

        defi = deploy_defi_world(chain, scenario, venue, prices, mm_vault=mm_vault)
        setup_tx += defi.setup_transactions
        clock.lap("world")

    # What the venue says of every opened position's liquidation price.
    open_rows = np.flatnonzero(opened)
    liq = chain.read(
        [v.liquidation_price(accounts[book.account[r]], ids[book.market[r]]) for r in open_rows]
    )
    liq_usd = np.full(book.count, np.nan)
    liq_usd[open_rows] = [from_wad(p) if p else np.nan for p in liq]
    start = chain.latest_timestamp() + scenario.step_seconds
    clock.lap("reads")
    return World(
        scenario=scenario,
        inputs=inputs,
        params=params,
        venue=venue,
        accounts=accounts,
        book=book,
        keepers=keepers,
        arbitrageurs=arbitrageurs,
        hedger=hedger,
        start_timestamp_s=start,
        opened=opened,
        open_errors=open_errors,
        opened_size_base=size_base,
        entry_price_usd=entry_usd,
        open_fill_usd=fill_usd,
        open_fee_usd=fee_usd,
        open_reverts=open_reverts,
        opening_transactions=len(results),
        liquidation_price_usd=liq_usd,
        collateral_in_usd=row_units / 1e6,
        account_deposit_usd=deposited_usd,
        wallet_usd=np.asarray(wallet_usd, dtype=np.float64),
        hedger_base=hedger_base,
        arbitrageur_capital_usd=arb.capital_usd,
        mm_vault=mm_vault,
        mm_vault_capital_usd=mm_vault_capital,
        setup_transactions=setup_tx,
        defi=defi,
        setup_seconds=clock.laps,
    )
