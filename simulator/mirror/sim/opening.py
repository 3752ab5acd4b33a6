"""The world a mirror run starts from: the venue listed with the scenario's markets, every
trader account funded and the opening book traded, as :func:`simulator.world.build_world`
does on chain, on a :class:`~simulator.mirror.sim.venue.VenueState`.

The scenario's inputs are the chain engine's (:func:`simulator.world.world_inputs`: the same
venue parameters, book and exogenous prices for the same scenario and seed); the accounts,
keepers and the hedger get the same addresses (:func:`simulator.world.agent_addresses`). The
chain's setup stamps its blocks one second apart from a fixed clock: the markets are listed
(oracles at their initial prices) two seconds before the opening trades, the deposits one
second before, and step 0's block comes ``step_seconds`` after the block that funds the market
makers, one second after the opens (:data:`LISTED_BEFORE_OPENS_S`, :data:`START_AFTER_OPENS_S`).
A margin controller's deployment and its parameters add a block before the listing and one
after it; a backstop vault is deployed in the block before the listing too (one block for
both), and is one more venue account (:mod:`~simulator.mirror.sim.backstop`). A phase whose
calls exceed the block gas limit goes on in further blocks, one second
apart, as the chain assembles them (:func:`gas_blocks`; a large book's deposits and opens):
each opening trade executes at its block's time. Funding accrues over those seconds exactly as
on chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from simulator.chain.contracts import CollateralToken
from simulator.mirror import liqprice
from simulator.mirror.sim import backstop, jit_calls, mm_vault
from simulator.mirror.sim.planned import PlannedCalls
from simulator.mirror.sim.venue import Reverted, VenueState
from simulator.protocol.contracts import BaseToken
from simulator.protocol.venue_contracts import PerpVenue
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import Scenario
from simulator.units import WAD, from_wad, to_units, to_units_array, to_wad
from simulator.world import (
    TOP_UP_WALLET_MULTIPLE,
    World,
    WorldInputs,
    _check_book,
    agent_addresses,
    chain_markets,
    hedger_base_of,
    world_inputs,
)

#: Seconds from the markets' listing (and the oracles' first prices) to the opening trades.
LISTED_BEFORE_OPENS_S = 2
#: Seconds from the opening trades to the block before step 0 (the market makers' funding).
START_AFTER_OPENS_S = 1


def gas_blocks(gas: Sequence[int] | np.ndarray, limit: int) -> np.ndarray:
    """The block (0, 1, ...) of each call of one ``Chain.execute`` of calls with these gas
    limits: a block ends before the call that would take its gas beyond ``limit``
    (:meth:`simulator.chain.assembly.AssemblingChain._assemble`; the world's
    ``max_block_calls`` split keeps the timestamp and counts the whole block's gas, so it moves
    no call in time).

    One pass per block: from a call that starts with ``pending`` gas, the calls that fit are
    those whose running gas sum stays within ``limit`` (a search in the cumulative sum); the
    first that does not opens the next block with its own gas pending (even a call above the
    limit, which then takes a block of its own, as the call-by-call rule has it)."""
    g = np.asarray(gas, dtype=np.int64).reshape(-1)
    out = np.zeros(len(g), dtype=np.int64)
    if not len(g):
        return out
    if int(g.min()) < 0:  # not a running sum that only grows: call by call
        return _gas_blocks_each(g, limit)
    total = np.cumsum(g)
    i = block = pending = 0
    while i < len(g):
        base = int(total[i - 1]) if i else 0
        j = max(int(np.searchsorted(total, limit - pending + base, side="right")), i)
        out[i:j] = block
        if j == len(g):
            break
        block, pending = block + 1, int(g[j])
        out[j] = block
        i = j + 1
    return out


def _gas_blocks_each(gas: np.ndarray, limit: int) -> np.ndarray:
    """:func:`gas_blocks` call by call."""
    out = np.zeros(len(gas), dtype=np.int64)
    block = pending = 0
    for i, g in enumerate(gas.tolist()):
        if pending + g > limit:
            block, pending = block + 1, 0
        pending += g
        out[i] = block
    return out


def _market_maker_gas(scenario: Scenario, n_markets: int) -> list[int]:
    """The gas of the world's market-maker funding calls (:func:`simulator.world.build_world`):
    per market each arbitrageur's and the hedger's two mints and two approvals; the
    market-making vault's mint, approval and deposit."""
    per_agent = [CollateralToken.GAS["mint"], BaseToken.GAS["mint"],
                 CollateralToken.GAS["approve"], BaseToken.GAS["approve"]]  # fmt: skip
    gas = per_agent * ((scenario.arbitrageurs.count + 1) * n_markets)
    if scenario.mm_vault.enabled:
        gas += [CollateralToken.GAS["mint"], CollateralToken.GAS["approve"],
                PerpVenue.GAS["deposit"]]  # fmt: skip
    return gas


@dataclass
class MirrorWorld:
    """A mirror run's world: the :class:`~simulator.world.World` record the engine's helpers
    read (addresses, book, what the opens did; ``venue`` names the market ids only), and the
    venue's state after the opens."""

    world: World
    venue: VenueState
    opens_at_s: int
    listed_at_s: int = 0
    """When the markets were listed and their oracles pushed their first prices (s)."""

    @property
    def oracles_created_at_s(self) -> int:
        """The oracles' creation (the deploy's second block, one second after the first at
        genesis), the start of their TWAPs (s)."""
        return GENESIS_TIMESTAMP_S + 1

    @property
    def controller_at_s(self) -> int:
        """When a margin controller's parameters were set, its state started (s)."""
        return self.listed_at_s + 1


def mirror_world(
    scenario: Scenario, *, exact_mode: bool, inputs: WorldInputs | None = None
) -> MirrorWorld:
    """List the venue, fund the accounts and open the book (see the module docstring)."""
    inputs = inputs if inputs is not None else world_inputs(scenario)
    params, book = inputs.params, inputs.book
    _check_book(book, len(params.markets))
    salt = scenario.seed
    accounts = agent_addresses("trader", book.n_accounts, salt)
    delay = params.governance.timelock_delay_s
    # A margin controller adds two deploy blocks: its deployment (before the listings) and
    # its parameters (after them, before the deposits).
    controller = 1 if params.controller.enabled else 0
    # A backstop vault is deployed in that same block before the listings (block 2b).
    vault = 1 if backstop.wired(scenario, params) else 0
    listed_at = GENESIS_TIMESTAMP_S + delay + 4 + max(controller, vault)
    limit = run_node_config().block_gas_limit
    deposit_gas = np.tile([CollateralToken.GAS["mint"], CollateralToken.GAS["approve"],
                           PerpVenue.GAS["deposit"]], book.n_accounts)  # fmt: skip
    deposit_blocks = int(gas_blocks(deposit_gas, limit)[-1]) + 1 if len(deposit_gas) else 1
    opens_at = listed_at + LISTED_BEFORE_OPENS_S + controller + deposit_blocks - 1
    ids = {m.symbol: i + 1 for i, m in enumerate(params.markets)}
    venue = VenueState.listed(
        *chain_markets(params),
        [to_wad(m.oracle.initial_price_usd) for m in params.markets],
        [m.oracle.max_deviation_bps for m in params.markets],
        [m.oracle.max_age_s for m in params.markets],
        book.n_accounts + mm_vault.extra_accounts(scenario) + vault,
        to_units(params.buffers.insurance_fund_usd) * 10**12,
        to_units(params.buffers.pool_seed_usd) * 10**12,
        listed_at=listed_at,
        exact_mode=exact_mode,
    )
    venue.addresses = accounts
    # The vault's account and margin; the LP's deposit in the deploy's wiring block (the
    # fourth: after the contracts', the venue's and the vault's own).
    index = book.n_accounts + mm_vault.extra_accounts(scenario)  # the venue's last account
    backstop.vault_of(scenario, venue, index, GENESIS_TIMESTAMP_S + 3, params)
    venue.block = 4
    # Deposits: each account the sum of its rows' collateral.
    venue.begin_block(opens_at - 1)
    row_units = to_units_array(book.collateral_usd)
    deposit_units = np.bincount(book.account, weights=row_units, minlength=book.n_accounts)
    wallet_row = book.collateral_usd * TOP_UP_WALLET_MULTIPLE * (book.top_up_fraction > 0)
    wallet_usd = np.bincount(book.account, weights=wallet_row, minlength=book.n_accounts)
    # int(u) of each float sum (an exact integer below 2**53) as int64, one call per account.
    deposited = venue.deposit_many(np.arange(book.n_accounts), deposit_units.astype(np.int64))
    deposited_usd = _usd_of_wad(deposited)
    # The opening trades, in book order, in their gas blocks.
    n = book.count
    open_rows = np.flatnonzero(~book.start_flat)
    trade_gas = np.where(
        book.isolated[open_rows], PerpVenue.GAS["tradeIsolated"], PerpVenue.GAS["trade"]
    )
    open_block = gas_blocks(trade_gas, limit)
    open_blocks = int(open_block[-1]) + 1 if len(open_rows) else 1
    open_trades = _open_exact if exact_mode else _open_fast
    done, opened_rows, reverts = open_trades(
        venue, book, open_rows, open_block, opens_at, row_units
    )
    errors = [f"{accounts[book.account[r]]} {inputs.symbols[book.market[r]]}: {text}"
              for r, text in reverts.items()]  # fmt: skip
    opened = np.zeros(n, dtype=bool)
    opened[opened_rows] = True
    size_base, fee_usd = np.zeros(n), np.zeros(n)
    entry_usd, fill_usd = np.full(n, np.nan), np.full(n, np.nan)
    size_base[opened_rows] = np.abs(done[:, jit_calls.T_SIZE])
    entry_usd[opened_rows] = done[:, jit_calls.T_ENTRY]
    fill_usd[opened_rows] = done[:, jit_calls.T_FILL]
    fee_usd[opened_rows] = done[:, jit_calls.T_FEE]
    side = book.side
    if inputs.explicit and not opened[open_rows].all():
        from simulator.world import WorldError

        i = int(np.flatnonzero(~opened & ~book.start_flat)[0])
        raise WorldError(
            f"traders: the venue refused the opening trade of explicit position {i} "
            f"({'long' if side[i] > 0 else 'short'} {book.size_base[i]:g} base units of "
            f"{inputs.symbols[book.market[i]]} on {book.collateral_usd[i]:g} USD): {reverts[i]}"
        )
    if not len(open_rows):
        venue.begin_block(opens_at)
    # The market makers' blocks (the market-making vault funded in the last), then the
    # liquidation prices read after the last.
    mm_blocks = int(gas_blocks(_market_maker_gas(scenario, len(params.markets)), limit)[-1]) + 1
    funded_at = opens_at + open_blocks - 1 + START_AFTER_OPENS_S + mm_blocks - 1
    venue.begin_block(funded_at)
    vault, vault_capital_usd = mm_vault.fund(scenario, venue, book.n_accounts)
    if vault is not None:
        venue.addresses = [*accounts, vault]
    liq_usd = np.full(n, np.nan)
    rows = np.flatnonzero(opened)
    if len(rows):
        grid = liqprice.position_liquidation_prices(
            venue.book(np.arange(book.n_accounts)), venue.price, venue.markets, venue.funding()
        )
        liq_usd[rows] = _liquidation_usd(grid[book.account[rows], book.market[rows]])
    start = funded_at + scenario.step_seconds
    world = World(
        scenario=scenario,
        inputs=inputs,
        params=params,
        # ``venue`` records the calls the engine's flow and vault phases plan (no chain).
        venue=SimpleNamespace(
            ids=ids,
            vault=None,
            margin_controller=None,
            venue=PlannedCalls(),
            params=params,
            deployer=None,
        ),  # type: ignore[arg-type]
        accounts=accounts,
        book=book,
        keepers=agent_addresses("keeper", scenario.keepers.count, salt),
        arbitrageurs=agent_addresses("arbitrageur", scenario.arbitrageurs.count, salt),
        hedger=agent_addresses("hedger", 1, salt)[0],
        start_timestamp_s=start,
        opened=opened,
        open_errors=errors,
        opened_size_base=size_base,
        entry_price_usd=entry_usd,
        open_fill_usd=fill_usd,
        open_fee_usd=fee_usd,
        open_reverts=reverts,
        opening_transactions=len(open_rows),
        liquidation_price_usd=liq_usd,
        collateral_in_usd=row_units / 1e6,
        account_deposit_usd=deposited_usd,
        wallet_usd=np.asarray(wallet_usd, dtype=np.float64),
        hedger_base=hedger_base_of(scenario, inputs, opened, size_base),
        arbitrageur_capital_usd=scenario.arbitrageurs.capital_usd,
        mm_vault=vault,
        mm_vault_capital_usd=vault_capital_usd,
    )
    return MirrorWorld(world=world, venue=venue, opens_at_s=opens_at, listed_at_s=listed_at)


_OPEN_COLUMNS = (jit_calls.T_FILL, jit_calls.T_SIZE, jit_calls.T_ENTRY, jit_calls.T_FEE)
"""The ``PositionModified`` fields an opening trade records (its fill, new size, entry, fee)."""


def _open_exact(
    venue: VenueState, book, rows: np.ndarray, blocks: np.ndarray, opens_at: int,
    row_units: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:  # fmt: skip
    """The opening trades of book ``rows`` one by one (``blocks[k]``: row ``k``'s block from
    ``opens_at``), in exact mode: (for each opened row, its :data:`_OPEN_COLUMNS` fields in USD
    and base units at their ``jit_calls`` column; the opened rows; the error of each refused
    row)."""
    done = np.zeros((len(rows), jit_calls.N_BATCH_OUT))
    ok = np.zeros(len(rows), dtype=bool)
    reverts: dict[int, str] = {}
    block = -1
    for k, r in enumerate(rows.tolist()):
        if blocks[k] != block:
            block = int(blocks[k])
            venue.begin_block(opens_at + block)
        try:
            delta = int(book.side[r]) * to_wad(round(float(book.size_base[r]), 12))
            got = _open_one(venue, book, r, row_units, delta)
        except Reverted as exc:
            reverts[r] = str(exc)
            continue
        ok[k] = True
        for column, key in zip(_OPEN_COLUMNS, ("fill", "new_size", "entry", "fee"), strict=True):
            done[k, column] = _from_wad(got[key])
    return done[ok], rows[ok], reverts


def _open_one(venue: VenueState, book, r: int, row_units: np.ndarray, delta) -> dict:
    """Book row ``r``'s opening trade alone (``trade``, or ``tradeIsolated`` with the row's
    collateral as margin) of ``delta`` (WAD base units, signed; fast mode's float or exact
    mode's int): the venue's ``PositionModified`` fields, or :class:`Reverted`."""
    a, m = int(book.account[r]), int(book.market[r])
    if not book.isolated[r]:
        return venue.trade(a, m, delta, isolated=False)
    margin = int(row_units[r]) * 10**12
    return venue.trade(a, m, delta, isolated=True,
                       margin_delta=margin if venue.exact_mode else float(margin))  # fmt: skip


def _open_fast(
    venue: VenueState, book, rows: np.ndarray, blocks: np.ndarray, opens_at: int,
    row_units: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:  # fmt: skip
    """:func:`_open_exact` in fast mode: each block's opens in compiled batches
    (:func:`_open_batch`: a cross open a ``trade`` of ``side * float(to_wad(round(size,
    12)))``, an isolated one a ``tradeIsolated`` of it with the row's collateral as margin, no
    price bound), a call the batch stops at (a revert, a stale cross price) made alone by
    :meth:`VenueState.trade` as the one-by-one loop makes it."""
    k = len(rows)
    isolated = book.isolated[rows]
    calls = np.empty((k, 3), dtype=np.int64)
    calls[:, jit_calls.C_ACCOUNT] = book.account[rows]
    calls[:, jit_calls.C_MARKET] = book.market[rows]
    calls[:, jit_calls.C_KIND] = np.where(isolated, jit_calls.K_OPEN_ISOLATED,
                                          jit_calls.K_TRADE)  # fmt: skip
    sizes = wad_sizes(book.size_base[rows])
    values = np.zeros((k, 2))
    values[:, jit_calls.V_DELTA] = book.side[rows] * sizes + 0.0  # -0.0 as float(0): 0.0
    margins = isolated_margins(row_units[rows], isolated)
    outs = np.zeros((k, jit_calls.N_BATCH_OUT))
    moves = np.zeros((k, 3), dtype=np.int64)
    acc = np.zeros(2)
    ok = np.zeros(k, dtype=bool)
    reverts: dict[int, str] = {}
    starts = np.flatnonzero(np.diff(blocks, prepend=-1)).tolist()
    for lo, hi in zip(starts, [*starts[1:], k], strict=True):
        venue.begin_block(opens_at + int(blocks[lo]))
        c, v, g, o, mv = calls[lo:hi], values[lo:hi], margins[lo:hi], outs[lo:hi], moves[lo:hi]
        i = 0
        while i < hi - lo:
            stop = _open_batch(venue, i, c, v, g, o, mv, acc)
            ok[lo + i : lo + stop] = True
            if stop < hi - lo:
                r = int(rows[lo + stop])
                try:
                    got = _open_one(venue, book, r, row_units, float(v[stop, jit_calls.V_DELTA]))
                except Reverted as exc:
                    reverts[r] = str(exc)
                else:
                    ok[lo + stop] = True
                    for column, key in zip(_OPEN_COLUMNS, ("fill", "new_size", "entry", "fee"),
                                           strict=True):  # fmt: skip
                        o[stop, column] = got[key]
            i = stop + 1
    return outs[ok] / WAD, rows[ok], reverts


def isolated_margins(units: np.ndarray, isolated: np.ndarray) -> np.ndarray:
    """Each isolated open's margin as fast mode sends it, ``float(int(u) * 10**12)`` (WAD) of
    its collateral ``u`` (base units), 0.0 for a cross open. Below ``2**53`` units ``float(u)``
    is exact and ``1e12`` too, so their product is that integer's correctly rounded float;
    above it, one value at a time."""
    u = np.asarray(units, dtype=np.int64)
    iso = np.asarray(isolated, dtype=bool)
    if not len(u) or int(np.abs(u).max()) < 2**53:
        return np.where(iso, u.astype(np.float64) * 1e12, 0.0)
    return np.array([float(int(x) * 10**12) if f else 0.0
                     for x, f in zip(u.tolist(), iso.tolist(), strict=True)])  # fmt: skip


def _open_batch(
    venue: VenueState, start: int, calls: np.ndarray, values: np.ndarray, margins: np.ndarray,
    outs: np.ndarray, moves: np.ndarray, acc: np.ndarray,
) -> int:  # fmt: skip
    """One compiled call of a block's opens from call ``start`` (:func:`jit_calls.open_batch`);
    the venue's pool, fund, version and each account's ``_open`` order then follow the calls
    made, in order, as after :meth:`VenueState.trade` of each. Returns the index of the first
    call not made (``len(calls)``: all made)."""
    params, tiers, _, _, _, armed = venue.jit_buffers()
    fn = venue.funding_now()[1]
    pool, fund = venue.pool, venue.fund
    acc[0], acc[1] = pool, fund
    stop = jit_calls.open_batch(
        start, calls, values, margins, venue._python_checks(armed), int(venue.now),
        int(venue.block), params, tiers, venue._market_floats, venue._market_ints,
        venue._position_floats, venue._position_ints, venue.isolated, venue.collateral, fn,
        outs, moves, acc,
    )  # fmt: skip
    if stop <= start:
        return stop
    pool1, fund1 = float(acc[0]), float(acc[1])
    venue.pool = pool1 if type(pool) is float else type(pool)(pool1)
    venue.fund = fund1 if type(fund) is float else type(fund)(fund1)
    made = moves[start:stop]
    if venue.open_order is None:
        venue.open_order = [[] for _ in range(len(venue.collateral))]
    order_of = venue.open_order
    if (made[:, jit_calls.M_OPENED] >= 0).all():  # opens only: appended in call order
        opened = made[made[:, jit_calls.M_OPENED] > 0]
        for a, m in zip(opened[:, jit_calls.M_ACCOUNT].tolist(),
                        opened[:, jit_calls.M_MARKET].tolist(), strict=True):  # fmt: skip
            order_of[a].append(m)
    else:
        for a, m, moved in made.tolist():
            if moved:
                venue._track_open(a, m, 0.0 if moved > 0 else 1.0, 1.0 if moved > 0 else 0.0)
    venue.version += stop - start
    venue.kept += stop - start  # the funding at now kept
    return stop


#: Below this size (base units, ``2**13``) :func:`wad_sizes` computes ``to_wad(round(size,
#: 12))`` with array arithmetic; at or above it one value at a time.
_WAD_SIZES_MAX = 8192.0
#: From :data:`_WAD_SIZES_MAX` to this size ``round(size, 12)`` is ``size`` and ``repr`` writes
#: it without an exponent (:func:`wad_sizes`); from here (and for NaN or infinities)
#: :func:`~simulator.units.to_wad` itself.
_WAD_SIZES_REPR_MAX = 1e16
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter of a float64 into two 26-bit halves


def _split(x: np.ndarray | float):
    c = _SPLIT * x
    hi = c - (c - x)
    return hi, x - hi


def wad_sizes(size_base: np.ndarray) -> np.ndarray:
    """``float(to_wad(round(s, 12)))`` of every ``s`` of ``size_base`` (an order's size as the
    engine sends it, WAD base units, as fast mode's float), without a decimal string per value.

    For ``|s| < 2**13`` (:data:`_WAD_SIZES_MAX`): ``round(s, 12)`` is the float nearest
    ``n / 10**12``, ``n`` the integer nearest the exact ``s * 10**12`` (ties to even, as
    CPython's correctly rounded ``round``); as floats below ``2**13`` lie closer together than
    ``10**-12`` (``2**-40``), no other 12-decimal rounds to that float, so its shortest
    ``repr`` is ``n / 10**12`` (at most 16 digits) and ``to_wad`` gives ``n * 10**6``, whose
    float is the correctly rounded ``float(n) * 1e6`` (``n < 2**53``). ``n``: the exact product
    ``p + e`` of ``s`` and ``1e12`` (Dekker's two-product, no FMA in numpy), ``q = rint(p)``;
    ``p - q`` is exact, and ``p + e`` rounds to ``q`` unless ``p`` lies exactly half-way and
    ``e`` pushes it further out (``|e|`` is at most half an ulp of ``p``, and ``p - q`` a
    multiple of that ulp). From ``2**52`` (``|s|`` above ~4503.6) ``p`` is whole: ``|e| <=
    0.5``, and ``|e| = 0.5`` is a tie that the product's rounding already sent to the even
    ``p``, where ``round`` sends it too, so ``q = p`` is ``n``.

    For ``2**13 <= |s| < 1e16`` (:data:`_WAD_SIZES_REPR_MAX`): ``s`` lies within ``0.5e-12``
    of ``n / 10**12`` while its neighbours are at least ``2**-40`` (~0.91e-12, below a power
    of two) further, so ``round(s, 12)`` is ``s``; its ``repr`` has no exponent and at most 13
    decimals, so ``to_wad`` gives that decimal times ``10**18`` exactly, and the float of that
    integer is the correctly rounded parse of ``repr(s) + "e18"`` (one ``float`` of a string
    per value, not a ``Decimal``). Larger values, NaN and infinities:
    :func:`~simulator.units.to_wad` one at a time (its errors)."""
    s = np.asarray(size_base, dtype=np.float64)
    magnitude = np.abs(s)
    with np.errstate(invalid="ignore"):
        plain = magnitude < _WAD_SIZES_MAX
    a = np.where(plain, magnitude, 0.0)
    p = a * 1e12
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(1e12)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    q = np.rint(p)
    t = p - q
    out = (q + np.where((np.abs(t) == 0.5) & (e * t > 0), 2.0 * t, 0.0)) * 1e6
    out = np.where(np.signbit(s), -out, out) + 0.0  # -0.0 as to_wad's 0: 0.0
    rest = np.flatnonzero(~plain)
    if len(rest):
        values = s[rest]
        with np.errstate(invalid="ignore"):
            printed = np.abs(values) < _WAD_SIZES_REPR_MAX
        out[rest[printed]] = [float(f"{v!r}e18") for v in values[printed].tolist()]
        for i in rest[~printed].tolist():
            out[i] = float(to_wad(round(float(s[i]), 12)))
    return out


def _from_wad(x) -> float:
    """A WAD value as the chain's decoder gives it (``from_wad`` of the event's integer)."""
    return from_wad(int(x)) if isinstance(x, int) else float(x) / WAD


def _usd_of_wad(wad: np.ndarray) -> np.ndarray:
    """``int(d) / WAD`` of every credited amount ``d`` (USD floats). A fast-mode float's
    ``int`` is its exact value and both ``int / int`` and ``d / 1e18`` (1e18 is exact) round
    that same quotient correctly: one array division. Exact mode: one by one."""
    if wad.dtype == object:
        return np.array([int(d) / WAD for d in wad], dtype=np.float64)
    return np.asarray(wad, dtype=np.float64) / WAD


def _liquidation_usd(prices: np.ndarray) -> np.ndarray:
    """``_from_wad(p) if p else nan`` of liquidation prices (WAD): a fast-mode float's
    ``float(p) / WAD`` is one array division; exact mode's Python ints one by one."""
    if prices.dtype == object:
        return np.array([_from_wad(p) if p else np.nan for p in prices], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(prices != 0, prices / WAD, np.nan)
