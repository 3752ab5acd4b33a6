"""The market-making vault on the mirror (``mm_vault:``, Hyperliquid's HLP): an ordinary cross
account of the venue (the venue's last account, after the book's), funded with the scenario's
capital in the market makers' block (:func:`fund`), read with the levels after every block
(:func:`with_levels`: its sizes and ``accountHealth``, as :func:`simulator.engine.levels.
parse_mm_vault` gives them), and acting at the end of phase 1 as the chain engine's own phase
plans it (:func:`simulator.engine.mm_vault.plan_mm_vault`: the keepers' liquidation of the
vault under their rules, else its quotes toward ``-participation`` x the crowd's net open
interest, each trade bounded by its quote). The calls run on the venue in block order after
the order flow's (:func:`execute`); a liquidation's rows are the venue's ``Liquidated`` /
``DeficitAttributed`` / ``BadDebtRecorded`` rows in block order
(:func:`simulator.mirror.sim.keepers.liquidation_rows`), its fills and reverts the engine's
rows after the block's others (:func:`record`, :func:`simulator.engine.mm_vault.event_rows`).
In fast mode its step is one compiled call (:func:`simulator.engine.mm_vault_jit.
vault_block`: the plan, its trades in the venue's batch form, a quiet block's open interest)
and one batch of the venue's (:func:`execute`, a :class:`FastBlock` over the run's arrays,
no list or call object; the rare cases -- the keepers' call on the vault, a WAD left to
Python, a call the batch stops at, made alone through :func:`~simulator.mirror.sim.planned.
execute` -- from the compiled step's lists, :class:`QuoteBlock`, :func:`_quote_rows`), and
its health read goes straight to the compiled ``cross_health`` and is converted in place
(:func:`with_levels`); the run's values and arrays live in ``ctx.memo`` (:class:`_VaultTab`). The backstop vault's takeover of it runs as any takeover
(:func:`simulator.mirror.sim.backstop.takeover`, through :mod:`~simulator.mirror.sim.planned`). ADL ranks the vault with every market's winners
(:mod:`~simulator.mirror.sim.adl`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.engine import mm_vault as engine_vault
from simulator.engine import mm_vault_jit as vault_jit
from simulator.engine.context import Action, Context
from simulator.engine.flow import FlowRun, spot_inputs_after_flow
from simulator.engine.spot import spot_inputs_after_closes
from simulator.engine.state import EngineState
from simulator.mirror.fixed import WAD
from simulator.mirror.sim import jit_calls, keepers, planned
from simulator.mirror.sim.levels import floats
from simulator.mirror.sim.venue import VenueState
from simulator.scenario import Scenario
from simulator.units import from_wad, to_units
from simulator.world import agent_addresses


def extra_accounts(scenario: Scenario) -> int:
    """Venue accounts the vault adds after the book's (1 with a vault, else 0)."""
    return 1 if scenario.mm_vault.enabled else 0


def fund(scenario: Scenario, venue: VenueState, a: int) -> tuple[str | None, float]:
    """Deposit the vault's capital into venue account ``a`` (as the world's setup does, in the
    market makers' block): (its address, the capital credited in USD); (None, 0) without a
    vault. Its address is the chain's (:func:`simulator.world.agent_addresses`)."""
    if not scenario.mm_vault.enabled:
        return None, 0.0
    address = agent_addresses("mm_vault", 1, scenario.seed)[0]
    credited = venue.deposit(a, to_units(scenario.mm_vault.capital_usd))
    return address, int(credited) / WAD if venue.exact_mode else float(credited) / WAD


def with_levels(ctx: Context, venue: VenueState, levels: dict[str, Any]) -> dict[str, Any]:
    """``levels`` (:func:`simulator.mirror.sim.levels.levels_of`) with the vault's reads: its
    signed size per market (``mm_vault_size_wad``, ``mm_vault_size_base``) and cross equity,
    maintenance and initial margin (USD), converted as the chain engine parses them. A run's
    first read (at setup) loads the vault's compiled step
    (:func:`simulator.engine.mm_vault_jit.warm_up`). The compiled read (fast mode) writes
    the sizes into the run's arrays in place (:attr:`_VaultTab.size_base`,
    :attr:`~_VaultTab.size_wad`: a read is the step's last levels, read by nothing after the
    next one; the loop keeps a copy) and converts them and the health in one call
    (:func:`simulator.engine.mm_vault_jit.vault_reads`)."""
    vault = ctx.world.mm_vault
    if vault is None:
        return levels
    memo = ctx.memo
    tab = memo["mm_vault_tab"] if "mm_vault_tab" in memo else None
    if tab is None:  # the run's first read, at setup: kernels loaded
        vault_jit.warm_up(ctx.world.book.market)
        tab = ctx.memo["mm_vault_tab"] = _VaultTab.of(ctx, venue)
    size = venue.size[tab.account]
    if tab.compiled:  # venue.cross_health's compiled path, its buffers the run's
        # the funding at now and the packed parameters: the venue's caches read as
        # funding_now() and jit_buffers() check them (a call only when one is stale)
        cached = venue._funding_cache
        if cached is None or cached[0] != venue.version - venue.kept or cached[1] != venue.now:
            venue.funding()
            cached = venue._funding_cache
        f, fn = cached[2], cached[5]
        buffers = venue._jit_cache
        if buffers is None or buffers[0] is not venue.scalar_params:
            venue.jit_buffers()
            buffers = venue._jit_cache
        # the health into the run's array and the sizes converted into the run's arrays in
        # place (each read is the step's last: read by nothing after the next read), one call
        size_base, wad = tab.size_base, tab.size_wad
        usd = jit_calls.vault_health_reads(
            tab.account, buffers[1], buffers[2], venue._market_floats, venue._position_floats,
            venue.isolated, venue.collateral, fn, f.long_open_interest, f.short_open_interest,
            tab.reads,
        )  # fmt: skip
        wad[:] = list(size)  # the float64 scalars, as np.array(list(size), dtype=object)
        levels["mm_vault_size_wad"] = wad
        levels["mm_vault_size_base"] = size_base
        levels["mm_vault_equity_usd"] = usd[0]
        levels["mm_vault_maintenance_usd"] = usd[1]
        levels["mm_vault_initial_usd"] = usd[2]
        return levels
    equity, maintenance, initial = venue.cross_health(tab.rows)
    if venue.exact_mode:
        wad = np.array([int(x) for x in size], dtype=object)
        usd = [from_wad(int(v[0])) for v in (equity, maintenance, initial)]
    else:  # the same floats: float(x) / WAD of each (more markets than the compiled read's)
        wad = np.array(list(size), dtype=object)
        usd = (float(equity[0]) / WAD, float(maintenance[0]) / WAD, float(initial[0]) / WAD)
    levels["mm_vault_size_wad"] = wad
    levels["mm_vault_size_base"] = floats(size)
    levels["mm_vault_equity_usd"] = usd[0]
    levels["mm_vault_maintenance_usd"] = usd[1]
    levels["mm_vault_initial_usd"] = usd[2]
    return levels


@dataclass(frozen=True)
class _VaultTab:
    """What the vault's phase reads of the run every step on the mirror, made once (kept in
    ``ctx.memo``, :func:`with_levels`)."""

    address: str
    account: int
    """The vault's venue account index."""
    rows: np.ndarray
    """``[account]`` (int64): its ``cross_health`` read."""
    calls: np.ndarray
    """(M, 3) int64: its ``trade`` in each market as a row of the compiled batch's ``calls``
    (:func:`simulator.mirror.sim.jit_calls.trade_batch`)."""
    market_ids: list[int]
    symbols: list[str]
    fills: bool
    """Whether the run keeps ``mm_vault_fill`` rows (``ctx.keeps``)."""
    compiled: bool
    """Whether :meth:`~simulator.mirror.sim.venue.VenueState.cross_health` of the vault takes
    its compiled path (fast mode, fewer than ``jit_calls.HEALTH_MAX_MARKETS`` markets):
    :func:`with_levels` then calls it itself, into :attr:`reads`."""
    reads: np.ndarray
    """(3 + M,) float64: the compiled read's (:func:`~simulator.mirror.sim.jit_calls.
    vault_health_reads`) equity, maintenance and initial margin (WAD), then :attr:`size_base`
    (a view), written by each read."""
    size_base: np.ndarray
    """(M,) float64: the vault's sizes (base units) of the last compiled read
    (``mm_vault_size_base``, written in place; a view of :attr:`reads`)."""
    size_wad: np.ndarray
    """(M,) object: its WAD floats of the last compiled read (``mm_vault_size_wad``)."""
    run: engine_vault.RunQuotes | None
    """The vault step's run values (:func:`simulator.engine.mm_vault.run_quotes`; fast mode,
    else None)."""
    floats: np.ndarray
    """:func:`~simulator.engine.mm_vault_jit.vault_block`'s float buffer
    (:func:`~simulator.engine.mm_vault_jit.block_buffers`: the run's quote parameters, the
    carried health, :attr:`work`, :attr:`values` and the step's scratch; the arrays below are
    views of it and of :attr:`int_buffer`)."""
    int_buffer: np.ndarray
    """Its int buffer (:attr:`ints`, :attr:`calls`, :attr:`batch`)."""
    step_health: np.ndarray
    """(3,) float64: the vault's carried health of the step (equity, maintenance, notional;
    USD), written by each :func:`~simulator.engine.mm_vault_jit.vault_block`."""
    work: np.ndarray
    """(7, M) float64: :func:`~simulator.engine.mm_vault_jit.vault_block`'s ``work`` (the
    compiled step's ``out``, a quiet block's open interest, the planned sizes)."""
    ints: np.ndarray
    """(6, M) int64: its ``ints`` (the trades' WAD digits and scales, their markets and
    unwinds)."""
    batch: np.ndarray
    """(M, 3) int64: the trades' rows of the compiled batch's ``calls`` (the first ``n``)."""
    values: np.ndarray
    """(M, 2) float64: their ``values`` (size and bound, floats of the WADs)."""
    outs: np.ndarray
    """(M, ``N_BATCH_OUT``) float64: the batch's ``outs`` of them."""
    block: FastBlock
    """The run's :class:`FastBlock` (one object, its count written every step)."""
    planned: np.ndarray
    """``work[PLANNED]`` (the planned sizes; one view, the step's ``mm_vault_planned_base``
    when it trades)."""
    batches: tuple
    """Per trade count ``n`` (0 ... M): the venue's batch with moves' arguments for the first
    ``n`` trades (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch_moves`:
    :attr:`batch`, :attr:`values` and :attr:`outs` cut to ``n`` rows, then its scratch, a
    ``moves`` row per trade and the pool and fund pair), views made once."""

    @classmethod
    def of(cls, ctx: Context, venue: VenueState) -> _VaultTab:
        a = ctx.index(ctx.world.mm_vault)
        if a is None:
            raise ValueError(f"the mirror has no account {ctx.world.mm_vault}")
        n = ctx.n_markets
        calls = np.empty((n, 3), dtype=np.int64)
        calls[:, jit_calls.C_ACCOUNT] = a
        calls[:, jit_calls.C_MARKET] = np.arange(n)
        calls[:, jit_calls.C_KIND] = jit_calls.K_TRADE
        compiled = not venue.exact_mode and venue.n_markets < jit_calls.HEALTH_MAX_MARKETS
        run = None if venue.exact_mode else engine_vault.run_quotes(ctx)
        if run is None:
            floats, ints = vault_jit.block_buffers(np.zeros((4, n)), np.zeros(2), calls)
        else:
            floats, ints = vault_jit.block_buffers(run.consts, run.scalars, calls)
        views = vault_jit.block_views(floats, ints, n)
        outs = np.zeros((n, jit_calls.N_BATCH_OUT))
        moves, acc = np.zeros((n, 3), dtype=np.int64), np.zeros(2)
        batches = tuple((views.calls[:k], views.values[:k], outs[:k], moves, acc)
                        for k in range(n + 1))  # fmt: skip
        block = FastBlock()
        reads = np.zeros(3 + n)
        tab = cls(ctx.world.mm_vault, a, np.array([a], dtype=np.int64), views.template,
                  list(ctx.market_ids), list(ctx.symbols), ctx.keeps("mm_vault_fill"),
                  compiled, reads, reads[3:], np.zeros(n, dtype=object), run,
                  floats, ints, views.health, views.work, views.ints, views.calls,
                  views.values, outs, block, views.work[vault_jit.PLANNED], batches)  # fmt: skip
        block.tab = tab
        return tab


@dataclass
class VaultBlock:
    """This block's vault calls and what the venue did with them."""

    actions: list[Action] = field(default_factory=list)
    results: list[planned.Result] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    """The liquidation's venue rows, in block order."""
    skew: dict[str, Any] | None = None
    """The open interest the vault planned against (:func:`simulator.engine.mm_vault.
    skew_inputs_of` :func:`~simulator.engine.mm_vault.plan_step`'s), None without a vault: a
    quiet block's spot inputs start from it."""

    @property
    def count(self) -> int:
        """The number of venue calls."""
        return len(self.actions)


#: Fast mode runs the vault's quotes from arrays (:func:`_execute_quotes`, :func:`_quote_rows`);
#: False takes the calls' path (:func:`planned.execute` of each, the engine's
#: :func:`~simulator.engine.mm_vault.event_rows`), which ``tests/mirror/
#: test_mirror_vault_arrays.py`` holds the arrays' path to.
ARRAY_QUOTES = True


def execute(
    ctx: Context, s: EngineState, venue: VenueState, t: int, last: dict[str, Any],
    closes: np.ndarray, run: FlowRun | None, row_of: np.ndarray, decoded: list,
) -> FastBlock | QuoteBlock | VaultBlock:  # fmt: skip
    """Plan the vault's calls of step ``t`` (:func:`simulator.engine.mm_vault.plan_step`:
    ``last`` the last block's levels, ``closes`` the rows traders close in this block, ``run``
    the order flow) and run them on the venue; a liquidation's rows (``row_of`` and
    ``decoded`` as :func:`simulator.mirror.sim.keepers.liquidation_rows` takes them).

    Fast mode with a vault (its run's arrays in ``ctx.memo``, :class:`_VaultTab`): the plan
    of :func:`simulator.engine.mm_vault.plan_quotes`, its trades' batch form and a quiet
    block's open interest in one compiled call (:func:`simulator.engine.mm_vault_jit.
    vault_block`), the trades made by the venue's compiled batch (:meth:`~simulator.mirror.
    sim.venue_trades.TradesMixin.trade_batch`): the run's :class:`FastBlock`. Its rare cases
    take the Python forms from the kernel's arrays: the keepers' call on the vault
    (:func:`simulator.engine.mm_vault._liquidation`, when it is under maintenance), a WAD
    left to Python (:func:`~simulator.engine.mm_vault.quote_lists`, then
    :func:`_execute_quotes`) and a call the batch stops at (:func:`_execute_quotes` from it
    on). Else :func:`_execute_python`."""
    memo = ctx.memo
    if not ARRAY_QUOTES or venue.exact_mode or "mm_vault_tab" not in memo:
        return _execute_python(ctx, s, venue, t, last, closes, run, row_of, decoded)
    tab: _VaultTab = memo["mm_vault_tab"]
    quotes = tab.run
    book, trader = ctx.world.book, s.trader
    has_flow = run is not None and run.planned_long_base is not None
    flow_long = run.planned_long_base if has_flow else _NO_FLOW  # type: ignore[union-attr]
    flow_short = run.planned_short_base if has_flow else _NO_FLOW  # type: ignore[union-attr]
    work = tab.work
    since, n = vault_jit.vault_block(
        t, s.mm_vault_liquidatable_since, last["mm_vault_equity_usd"],
        last["mm_vault_maintenance_usd"], last["mm_vault_initial_usd"],
        last["mm_vault_size_base"], last["index_usd"], s.oracle_price_usd,
        last["oi_long_base"], last["oi_short_base"], closes, book.market, trader.size_base,
        trader.side, has_flow, flow_long, flow_short, quotes.quoting,  # type: ignore[union-attr]
        tab.floats, tab.int_buffer,
    )  # fmt: skip
    s.mm_vault_liquidatable_since = since
    s.mm_vault_planned_base = quotes.no_trades  # type: ignore[union-attr]
    if since >= 0:  # under maintenance: the keepers' rules first
        actions = engine_vault._liquidation(ctx, s, t, last, tab.step_health, since)
        if actions:
            return _execute_calls(ctx, s, venue, t, actions, _skew_of(last, work),
                                  row_of, decoded)  # fmt: skip
    if n == vault_jit.LISTS_IN_PYTHON:
        lists = engine_vault.quote_lists(s, work[:4], quotes, tab.ints[:4])  # type: ignore[arg-type]
        return _execute_quotes(ctx, venue, lists, _skew_of(last, work))
    block = tab.block
    block.count = n
    if n == 0:
        return block
    s.mm_vault_planned_base = tab.planned
    calls, values, outs, moves, acc = tab.batches[n]
    stop = venue.trade_batch_moves(0, calls, values, outs, moves, acc)
    if stop < n:  # a call for Python: the lists' path from it on, the batch's made kept
        lists = engine_vault.quote_lists(s, work[:4], quotes, tab.ints[:4])  # type: ignore[arg-type]
        return _execute_quotes(ctx, venue, lists, _skew_of(last, work), outs[:stop])
    return block


def _execute_python(
    ctx: Context, s: EngineState, venue: VenueState, t: int, last: dict[str, Any],
    closes: np.ndarray, run: FlowRun | None, row_of: np.ndarray, decoded: list,
) -> QuoteBlock | VaultBlock:  # fmt: skip
    """:func:`execute` without the vault's arrays: exact mode, fast mode without a vault
    (nothing planned) or with :data:`ARRAY_QUOTES` off (the calls' path)."""
    if ARRAY_QUOTES and not venue.exact_mode:
        actions, quotes, out = engine_vault.plan_quotes(ctx, s, t, last, closes, run)
        skew = None if out is None else _skew_of(last, out)
        if quotes is not None:
            return _execute_quotes(ctx, venue, quotes, skew)
    else:
        actions, out = engine_vault.plan_step(ctx, s, t, last, closes, run)
        skew = None if out is None else engine_vault.skew_inputs_of(last, out)
    return _execute_calls(ctx, s, venue, t, actions, skew, row_of, decoded)


def _execute_calls(
    ctx: Context, s: EngineState, venue: VenueState, t: int, actions: list[Action],
    skew: dict[str, Any] | None, row_of: np.ndarray, decoded: list,
) -> VaultBlock:  # fmt: skip
    """The vault's ``actions`` made one by one (:func:`planned.execute`), a liquidation's
    rows in block order (:func:`simulator.mirror.sim.keepers.liquidation_rows`)."""
    block = VaultBlock(actions, skew=skew)
    for action in block.actions:
        result = planned.execute(ctx, venue, action.call)
        block.results.append(result)
        if result.liquidation is not None:
            block.rows += keepers.liquidation_rows(ctx, s, result.liquidation, t, row_of, decoded)
    return block


#: The compiled step's empty flow arrays (no order flow planned).
_NO_FLOW = np.zeros(0)


@dataclass(eq=False)
class FastBlock:
    """This block's vault trades when the venue's compiled batch made them all (fast mode's
    common case, :func:`execute`): read from the run's arrays (:class:`_VaultTab`, whose
    one object this is, its :attr:`count` written every step); no venue rows."""

    tab: _VaultTab = None  # type: ignore[assignment]
    count: int = 0
    """The number of venue calls (the trades, all made)."""
    rows: tuple = ()
    """No venue rows (a trade has none of its own before :func:`record`)."""

    @property
    def quotes(self) -> engine_vault.Quotes:
        """The trades as :func:`simulator.engine.mm_vault.quote_lists` gives them (from the
        kernel's arrays; for a reader of the lists)."""
        tab, n = self.tab, self.count
        markets = tab.ints[vault_jit.K_MARKET, :n].tolist()
        unwinds = [u != 0 for u in tab.ints[vault_jit.K_UNWIND, :n].tolist()]
        digits, scales, bound_digits, bound_scales = tab.ints[:4].tolist()
        pow10 = engine_vault._POW10
        deltas = [digits[m] * pow10[18 - scales[m]] for m in markets]
        bounds = [0 if u else bound_digits[m] * pow10[18 - bound_scales[m]]
                  for m, u in zip(markets, unwinds, strict=True)]  # fmt: skip
        values = [(a, b) for a, b in tab.values[:n].tolist()]
        return engine_vault.Quotes(markets, unwinds, deltas, bounds, values)

    def calls(self, ctx: Context) -> tuple[list[planned.Result], list[Action]]:
        """:meth:`QuoteBlock.calls` of these trades."""
        n = self.count
        block = QuoteBlock(self.quotes, n, [True] * n, {}, self.tab.outs[:n].copy())
        return block.calls(ctx)


def _skew_of(last: dict[str, Any], out: np.ndarray) -> dict[str, Any]:
    """:func:`simulator.engine.mm_vault.skew_inputs_of`, the open interest as views of ``out``
    (made this step, read by nothing after)."""
    return {
        "ledgers": last["ledgers"],
        "amm_reserve_usd": last["amm_reserve_usd"],
        "amm_reserve_base": last["amm_reserve_base"],
        "vault_size_wad": last["vault_size_wad"],
        "oi_long_base": out[vault_jit.OI_LONG],
        "oi_short_base": out[vault_jit.OI_SHORT],
    }


@dataclass
class QuoteBlock:
    """This block's vault trades as arrays (fast mode, :func:`_execute_quotes`): per call its
    market, whether it is an unwind, whether it succeeded (``ok``), the reverts' texts by call
    (``errors``) and the batch's ``outs`` (``values``: :data:`jit_calls.T_DELTA`,
    :data:`~jit_calls.T_FILL` ...; a call made alone written there too)."""

    quotes: engine_vault.Quotes
    count: int
    """The number of venue calls."""
    ok: list[bool]
    errors: dict[int, str]
    values: np.ndarray
    skew: dict[str, Any] | None = None
    rows: list[dict] = field(default_factory=list)
    """No venue rows (a trade has none of its own before :func:`record`)."""

    def calls(self, ctx: Context) -> tuple[list[planned.Result], list[Action]]:
        """Each call's :class:`planned.Result` (as :func:`planned.execute` gives it) and its
        :class:`~simulator.engine.context.Action` (for a reader of the calls' path)."""
        tab: _VaultTab = ctx.memo["mm_vault_tab"]
        results, actions = [], []
        values = self.values.tolist()
        quotes = self.quotes
        for k, (m, unwind, delta, bound) in enumerate(
            zip(quotes.markets, quotes.unwinds, quotes.deltas, quotes.bounds, strict=True)
        ):  # fmt: skip
            call = planned.Planned("trade", tab.address, tab.market_ids[m], delta, bound)
            actions.append(Action(call, engine_vault.UNWIND if unwind else engine_vault.TRADE,
                                  -1, m))  # fmt: skip
            if not self.ok[k]:
                results.append(planned.Result(False, error=self.errors[k]))
                continue
            row = values[k]
            got = {"fill": row[jit_calls.T_FILL], "new_size": row[jit_calls.T_SIZE],
                   "entry": row[jit_calls.T_ENTRY], "realized": row[jit_calls.T_REALIZED],
                   "fee": row[jit_calls.T_FEE], "funding": row[jit_calls.T_FUNDING]}  # fmt: skip
            event = planned.position_modified(call, row[jit_calls.T_DELTA], got,
                                              row[jit_calls.T_ISOLATED] != 0)  # fmt: skip
            results.append(planned.Result(True, None, [event]))
        return results, actions


def _execute_quotes(
    ctx: Context, venue: VenueState, quotes: engine_vault.Quotes, skew: dict[str, Any] | None,
    made: np.ndarray | None = None,
) -> QuoteBlock:  # fmt: skip
    """The vault's ``trade`` calls of ``quotes`` on the venue in order, as
    :func:`planned.execute` runs each in fast mode: compiled batches
    (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch`), a call the batch
    stops at (a revert, a check in Python) made alone by :func:`planned.execute` (its
    :class:`planned.Planned` built only then). ``made``: the ``outs`` of the first calls, a
    batch already made (:func:`execute`), its stop the first call made here."""
    n = len(quotes.markets)
    ok = [False] * n
    errors: dict[int, str] = {}
    outs = np.zeros((n, jit_calls.N_BATCH_OUT))
    if n == 0:
        return QuoteBlock(quotes, n, ok, errors, outs, skew)
    tab: _VaultTab = ctx.memo["mm_vault_tab"]
    calls = tab.calls[quotes.markets]
    values = np.array(quotes.values)  # float(size_delta_wad), float(acceptable_price_wad)
    i = 0
    stop = None
    if made is not None:
        stop = made.shape[0]
        outs[:stop] = made
    while i < n:
        if stop is None:
            stop, _ = venue.trade_batch(i, calls, values, outs)
        for k in range(i, stop):
            ok[k] = True
        if stop < n:
            m = quotes.markets[stop]
            call = planned.Planned("trade", tab.address, tab.market_ids[m], quotes.deltas[stop],
                                   quotes.bounds[stop])  # fmt: skip
            planned.execute_into(ctx, venue, call, stop, outs, ok, errors)
        i, stop = stop + 1, None
    return QuoteBlock(quotes, n, ok, errors, outs, skew)


def record(
    ctx: Context, s: EngineState, block: VaultBlock | QuoteBlock, t: int, last: dict[str, Any]
) -> list[dict]:
    """The vault's fill and revert rows (:func:`simulator.engine.mm_vault.event_rows`;
    ``last``: the levels before the block), of a :class:`QuoteBlock` from its arrays
    (:func:`_quote_rows`)."""
    if type(block) is FastBlock:  # every call made: the fills' rows alone, when kept
        tab = block.tab
        n = block.count
        if n == 0 or not tab.fills:
            return []
        return _quote_rows(ctx, t, n, [True] * n, {}, tab.ints[vault_jit.K_MARKET, :n].tolist(),
                           [u != 0 for u in tab.ints[vault_jit.K_UNWIND, :n].tolist()],
                           tab.outs[:n])  # fmt: skip
    if type(block) is QuoteBlock:
        return _quote_rows(ctx, t, block.count, block.ok, block.errors, block.quotes.markets,
                           block.quotes.unwinds, block.values)  # fmt: skip
    return engine_vault.event_rows(ctx, s, block.results, block.actions, t, last)  # type: ignore[arg-type]


_T_DELTA, _T_FILL, _T_FEE = jit_calls.T_DELTA, jit_calls.T_FILL, jit_calls.T_FEE
_QUOTE_DETAIL = engine_vault.FILL_DETAIL[engine_vault.TRADE]
_UNWIND_DETAIL = engine_vault.FILL_DETAIL[engine_vault.UNWIND]
_REVERTED = {False: f"{engine_vault.TRADE}_reverted", True: f"{engine_vault.UNWIND}_reverted"}


def _quote_rows(
    ctx: Context, t: int, n: int, ok: list[bool], errors: dict[int, str], markets: list[int],
    unwinds: list[bool], outs: np.ndarray,
) -> list[dict]:  # fmt: skip
    """:func:`simulator.engine.mm_vault.event_rows` of the vault's ``n`` trades in
    ``markets`` (``unwinds``, whether made: ``ok``, the reverts' texts: ``errors``, the
    batch's ``outs``; a :class:`QuoteBlock`'s or a :class:`FastBlock`'s): the same dicts,
    :func:`simulator.engine.events.event_row`'s keys and floats, per call in order a
    ``<kind>_reverted`` row, or an ``mm_vault_fill`` row (when the run keeps them) from the
    batch's ``sizeDelta``, ``fill`` and ``fee``."""
    if n == 0:
        return []
    tab: _VaultTab = ctx.memo["mm_vault_tab"]
    vault, symbols, fills = tab.address, tab.symbols, tab.fills
    values = outs.tolist() if fills else None
    rows = []
    for k in range(n):
        if not ok[k]:
            rows += ({"step": t, "kind": _REVERTED[unwinds[k]], "market": symbols[markets[k]],
                      "account": vault, "side": None, "size_base": None, "price_usd": None,
                      "notional_usd": None, "amount_usd": None,
                      "detail": str(errors[k])},)  # fmt: skip
        elif fills:
            row = values[k]  # type: ignore[index]
            delta = row[_T_DELTA]
            size = (delta if delta > 0 else -delta) / WAD  # from_wad(abs(delta))
            price = row[_T_FILL] / WAD
            rows += ({"step": t, "kind": "mm_vault_fill", "market": symbols[markets[k]],
                      "account": vault, "side": "long" if delta > 0 else "short",
                      "size_base": size, "price_usd": price, "notional_usd": size * price,
                      "amount_usd": int(row[_T_FEE]) / WAD,
                      "detail": _UNWIND_DETAIL if unwinds[k] else _QUOTE_DETAIL},)  # fmt: skip
    return rows


def quiet_spot_inputs(
    ctx: Context, s: EngineState, last: dict[str, Any], closes: np.ndarray, run: FlowRun | None,
    block: VaultBlock | QuoteBlock | FastBlock | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The open interest the chain engine's phase 3 estimates for a block it read nothing of:
    the last levels less the traders' closes, with the order flow's and the vault's planned
    trades (:func:`simulator.engine.mm_vault.after_vault_trades` of
    :func:`simulator.engine.flow.spot_inputs_after_flow`). ``block``: the vault's block of
    this step, whose skew holds the first two as the vault's phase computed them
    (:attr:`VaultBlock.skew`: nothing between it and this read moves the closes' sizes, the
    last levels or the flow's plan; the rows' sizes change when the block is decoded, after
    the spot phase); a :class:`FastBlock`'s compiled step computed it all (rows
    ``Q_LONG`` / ``Q_SHORT`` of :attr:`_VaultTab.work`)."""
    if type(block) is FastBlock:
        work = block.tab.work
        return {
            "ledgers": last["ledgers"],
            "amm_reserve_usd": last["amm_reserve_usd"],
            "amm_reserve_base": last["amm_reserve_base"],
            "vault_size_wad": last["vault_size_wad"],
            "oi_long_base": work[vault_jit.Q_LONG],
            "oi_short_base": work[vault_jit.Q_SHORT],
        }
    skew = None if block is None else block.skew
    if skew is None:
        skew = spot_inputs_after_flow(spot_inputs_after_closes(ctx, last, s, closes), run)
    memo = ctx.memo
    if "mm_vault_quotes" not in memo:  # no vault step planned in this run
        return engine_vault.after_vault_trades(s, skew, last)
    planned = s.mm_vault_planned_base
    if planned is memo["mm_vault_quotes"][1].no_trades:  # a step without trades: the run's zeros
        return skew
    # else planned by quote_lists, one trade at least (a WAD of 1 is 1e-18, not 0): what
    # after_vault_trades computes past its count
    out = np.empty((2, planned.shape[0]))
    vault_jit.after_trades(last["mm_vault_size_base"], planned, skew["oi_long_base"],
                           skew["oi_short_base"], out)  # fmt: skip
    return {**skew, "oi_long_base": out[0], "oi_short_base": out[1]}
