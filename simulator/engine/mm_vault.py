"""The market-making vault in the step (Hyperliquid's HLP): its quotes, its liquidation, its
event rows.

The vault is an ordinary cross account of the venue (:attr:`World.mm_vault`, funded at setup
with ``mm_vault.capital_usd``). Its ``accountHealth`` is read with the levels in every mining
round trip and its positions are carried from each block's events
(:meth:`simulator.engine.levels.Levels.track`), so it costs no extra round trip. At the end
of phase 1 of step ``t`` (:func:`plan_mm_vault`), from those last mined levels and this step's
oracle prices, in one compiled call (:func:`simulator.engine.mm_vault_jit.vault_step_quotes`:
the step and its trades' WADs, ``to_wad`` exactly, :func:`quote_lists`) and the calls built
from its arrays (the mirror's fast mode takes the lists, :func:`plan_quotes`, and builds no
call):

* **keepers** carry its equity to the new prices (its last read equity plus its positions'
  price change; maintenance scaled by notional) and, when it is under maintenance, liquidate
  it under the keepers' rules (:func:`simulator.agents.keepers.plan_liquidations`: reaction
  delay, capacity, profit threshold), or have the backstop vault take it over when it is
  below the backstop threshold; the call goes from ``ctx.keeper(0)``. The venue decides: a
  liquidation of an account that is healthy on chain reverts (an ``mm_vault_liquidate_reverted``
  row), a refused takeover (``BackstopWouldBeUnderwater``) makes the keepers liquidate it from
  the next step on;
* otherwise the vault **quotes**: :func:`simulator.agents.mm_vault.plan_trades` over every
  market at once, against the skew of the last block less the positions traders close in
  this one, with the order flow's planned opens and closes. A quoted trade carries the quote
  as its price bound (``acceptablePrice``: the venue reverts the trade if other trades of the
  block moved the skew so that the fill no longer pays); an unwind above the inventory limit
  has none.

ADL ranks it with every market's winners (:mod:`simulator.engine.adl`). Its fills, reverts
and takeovers become ``events.parquet`` rows here (:func:`event_rows`); its liquidations and
ADL fills are the venue's ``Liquidated`` / ``AdlHaircut`` rows with its address as
``account``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.agents import mm_vault as vault_agent
from simulator.chain.types import TxResult
from simulator.engine import mm_vault_jit as jit
from simulator.engine.context import Action, Context
from simulator.engine.events import event_row
from simulator.engine.flow import FlowRun
from simulator.engine.state import EngineState
from simulator.units import WAD, from_wad, to_wad

#: The venue's custom error for a takeover that would leave the backstop vault underwater.
TAKEOVER_REFUSED_ERROR = "BackstopWouldBeUnderwater"
#: Action kinds of the vault's calls.
TRADE, UNWIND = "mm_vault_trade", "mm_vault_unwind"
LIQUIDATE, BACKSTOP = "mm_vault_liquidate", "mm_vault_backstop"
#: ``detail`` of a fill, by the action's kind (the same JSON every time: written once).
FILL_DETAIL = {TRADE: json.dumps({"order": "quote"}), UNWIND: json.dumps({"order": "unwind"})}
#: Every kind of the vault's calls (:func:`event_rows` skips the block's others).
_KINDS = frozenset((TRADE, UNWIND, LIQUIDATE, BACKSTOP))


def quote_params(ctx: Context) -> vault_agent.VaultQuoteParams:
    """The kernel's parameters from the scenario's ``mm_vault`` and the deployed markets."""
    spec = ctx.scenario.mm_vault
    markets = [m.params for m in ctx.world.params.markets]
    leverage = np.array([p.max_leverage for p in markets], dtype=np.float64)
    return vault_agent.VaultQuoteParams(
        participation=spec.participation,
        limit_usd=spec.limits_usd(ctx.symbols, leverage),
        max_trade_usd=spec.max_trade_usd,
        quote_fraction=np.full(len(markets), spec.half_spread_bps / 1e4),
        skew_scale_base=np.array([p.skew_scale for p in markets], dtype=np.float64),
        max_leverage=leverage,
    )


@dataclass(frozen=True)
class RunQuotes:
    """What the vault's step reads of the run every step, made once
    (:func:`run_quotes`): the kernel's parameters, the compiled step's packed form and its
    buffers."""

    params: vault_agent.VaultQuoteParams
    consts: np.ndarray
    """The per-market quote parameters as :func:`~simulator.engine.mm_vault_jit.vault_step`
    reads them (rows ``LIMIT``, ``QUOTE``, ``SCALE``, ``LEVERAGE``; float64, (4, M))."""
    scalars: np.ndarray
    """(participation, max trade USD), float64."""
    quote: list[float]
    """``q`` per market (fraction), as Python floats."""
    quoting: bool
    """The scenario's ``mm_vault.quoting``."""
    n_markets: int = 0
    last_usd: np.ndarray = field(default_factory=lambda: np.empty(3))
    """The compiled step's ``last_usd`` (equity, maintenance, initial margin; USD), written
    every step."""
    health: np.ndarray = field(default_factory=lambda: np.empty(3))
    """The compiled step's ``health`` (equity, maintenance, notional; USD), written every
    step (:func:`_liquidation` copies what it keeps)."""
    wads: np.ndarray = field(default_factory=lambda: np.empty((4, 0), dtype=np.int64))
    """The compiled step's quote WADs (:func:`~simulator.engine.mm_vault_jit.quote_wads`;
    int64, (4, M)), written every step it quotes."""
    no_trades: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """``s.mm_vault_planned_base`` of a step that plans no trade: zeros (M,), read only,
    the same array every such step (:func:`quote_lists` makes a fresh one for a trade), so
    that a reader tells a step without trades by identity."""


def run_quotes_of(ctx: Context) -> RunQuotes:
    """:class:`RunQuotes` of ``ctx`` (:func:`quote_params`, packed)."""
    params = quote_params(ctx)
    n = len(ctx.world.params.markets)
    consts = vault_agent.packed_consts(params, n)
    scalars = np.array([params.participation, params.max_trade_usd], dtype=np.float64)
    quote = consts[jit.QUOTE].tolist()
    no_trades = np.zeros(n)
    no_trades.flags.writeable = False
    return RunQuotes(params, consts, scalars, quote, bool(ctx.scenario.mm_vault.quoting), n,
                     wads=np.zeros((4, n), dtype=np.int64), no_trades=no_trades)  # fmt: skip


def run_quotes(ctx: Context) -> RunQuotes:
    """:func:`run_quotes_of` ``ctx``, kept in the context's
    :attr:`~simulator.engine.context.Context.memo` with the scenario it was made from (fixed
    for a run; built every step it costs a pydantic read and the limits' checks)."""
    memo = ctx.memo
    last = memo["mm_vault_quotes"] if "mm_vault_quotes" in memo else None
    if last is None or last[0] is not ctx.scenario:
        last = memo["mm_vault_quotes"] = (ctx.scenario, run_quotes_of(ctx))
    return last[1]


def plan_mm_vault(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], closes: np.ndarray,
    flow: FlowRun | None = None,
) -> list[Action]:  # fmt: skip
    """The vault's calls of step ``t``: its liquidation (or takeover) when keepers act on it,
    else its quotes. ``last``: the last mined levels; ``closes``: the book rows traders close
    in this block; ``flow``: the order flow, whose opens and closes planned earlier in this
    block move the skew before the vault's trades (:func:`plan_step`)."""
    return plan_step(ctx, s, t, last, closes, flow)[0]


def plan_step(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], closes: np.ndarray,
    flow: FlowRun | None = None,
) -> tuple[list[Action], np.ndarray | None]:  # fmt: skip
    """:func:`plan_mm_vault`'s calls, with the open interest the vault's quotes meet (the
    compiled step's ``out``: rows ``OI_LONG`` / ``OI_SHORT`` are the last levels less the
    traders' closes, with the order flow's planned opens and closes, base units; None without
    a vault). One compiled call (:func:`simulator.engine.mm_vault_jit.vault_step`) carries the
    vault's health to this step's prices, runs the keepers' clock on it and plans its trades;
    then:

    * **keepers** liquidate it under the keepers' rules (:func:`_liquidation`: reaction delay,
      capacity, profit threshold), or have the backstop vault take it over;
    * otherwise (no keeper call) the vault **quotes** (:func:`_quote_actions`): one ``trade``
      per market it trades in, against the skew its trades meet in the block: the last levels
      less the traders' closes, with the order flow's planned opens and closes (sent before
      them). Quoted against the last levels alone, a quote reverted whenever the flow's opens
      moved the skew past its price bound, and a quiet block's spot inputs (which count its
      trades as filled) then differed from the pending read's."""
    got = _vault_step(ctx, s, t, last, closes, flow)
    if got is None:
        return [], None
    since, out, run = got
    if since >= 0:
        actions = _liquidation(ctx, s, t, last, run.health, since)
        if actions:
            return actions, out
    if not run.quoting:
        return [], out
    return _quote_actions(ctx, s, out, run), out


def plan_quotes(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], closes: np.ndarray,
    flow: FlowRun | None = None,
) -> tuple[list[Action], Quotes | None, np.ndarray | None]:  # fmt: skip
    """:func:`plan_step` with the quotes as lists, no call built (the mirror's fast path):
    ``(actions, quotes, out)``, the keepers' call on the vault in ``actions`` (``quotes``
    None), else its trades in ``quotes`` (:func:`quote_lists`; None when it does not quote),
    ``out`` as :func:`plan_step` gives it."""
    got = _vault_step(ctx, s, t, last, closes, flow)
    if got is None:
        return [], None, None
    since, out, run = got
    if since >= 0:
        actions = _liquidation(ctx, s, t, last, run.health, since)
        if actions:
            return actions, None, out
    if not run.quoting:
        return [], None, out
    return [], quote_lists(s, out, run), out


def _vault_step(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], closes: np.ndarray,
    flow: FlowRun | None,
) -> tuple[int, np.ndarray, RunQuotes] | None:  # fmt: skip
    """The compiled step (:func:`simulator.engine.mm_vault_jit.vault_step_quotes`): the new
    ``liquidatable_since`` (written to ``s``), ``out`` and the run's :class:`RunQuotes` (its
    ``health`` and ``wads`` written); None without a vault. Zeroes
    ``s.mm_vault_planned_base`` (the run's :attr:`RunQuotes.no_trades`)."""
    if ctx.world.mm_vault is None:
        s.mm_vault_planned_base = np.zeros(ctx.n_markets)
        return None
    run = run_quotes(ctx)
    s.mm_vault_planned_base = run.no_trades
    out = np.empty((4, run.n_markets))
    book, trader = ctx.world.book, s.trader
    has_flow = flow is not None and flow.planned_long_base is not None
    flow_long = flow.planned_long_base if has_flow else _NO_FLOW  # type: ignore[union-attr]
    flow_short = flow.planned_short_base if has_flow else _NO_FLOW  # type: ignore[union-attr]
    last_usd = run.last_usd  # float64: as np.array([...], dtype=np.float64) of them
    last_usd[0] = last["mm_vault_equity_usd"]
    last_usd[1] = last["mm_vault_maintenance_usd"]
    last_usd[2] = last["mm_vault_initial_usd"]
    since = jit.vault_step_quotes(
        t, s.mm_vault_liquidatable_since, last_usd, last["mm_vault_size_base"],
        last["index_usd"], s.oracle_price_usd, last["oi_long_base"], last["oi_short_base"],
        closes, book.market, trader.size_base, trader.side, has_flow, flow_long, flow_short,
        run.quoting, run.scalars, run.consts, out, run.health, run.wads,
    )  # fmt: skip
    s.mm_vault_liquidatable_since = int(since)
    return since, out, run


#: The compiled step's empty flow arrays (no order flow planned).
_NO_FLOW = np.zeros(0)


def skew_inputs_of(last: dict[str, Any], out: np.ndarray) -> dict[str, Any]:
    """The spot inputs of a quiet block as :func:`simulator.engine.flow.spot_inputs_after_flow`
    of :func:`simulator.engine.spot.spot_inputs_after_closes` gives them, from
    :func:`plan_step`'s open interest ``out`` (the same keys and floats)."""
    return {
        "ledgers": last["ledgers"],
        "amm_reserve_usd": last["amm_reserve_usd"],
        "amm_reserve_base": last["amm_reserve_base"],
        "vault_size_wad": last["vault_size_wad"],
        "oi_long_base": out[jit.OI_LONG].copy(),
        "oi_short_base": out[jit.OI_SHORT].copy(),
    }


def estimated_health(s: EngineState, last: dict[str, Any]) -> tuple[float, float, float]:
    """The vault's (equity, maintenance margin, notional) carried from the last mined block to
    this step's oracle prices (USD): equity moves by its positions' price change, maintenance
    with its notional (funding and fees since the last read are left out); the compiled
    step's arithmetic (:func:`simulator.engine.mm_vault_jit.estimated_health`)."""
    health = np.empty(3)
    jit.estimated_health(
        np.ascontiguousarray(last["mm_vault_size_base"], dtype=np.float64),
        np.ascontiguousarray(last["index_usd"], dtype=np.float64),
        np.ascontiguousarray(s.oracle_price_usd, dtype=np.float64),
        float(last["mm_vault_equity_usd"]), float(last["mm_vault_maintenance_usd"]), health,
    )  # fmt: skip
    equity, mm, notional = health.tolist()
    return equity, mm, notional


def _liquidation(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], health: np.ndarray, since: int
) -> list[Action]:
    """The keepers' call on the vault at step ``t`` (none, a takeover or a liquidation), under
    :func:`simulator.agents.keepers.plan_liquidations`'s rules, for the vault under
    maintenance since step ``since`` with the carried ``health`` (equity, maintenance,
    notional; USD)."""
    eq, mm_, nt = health[0:1].copy(), health[1:2].copy(), health[2:3].copy()
    weights = np.abs(last["mm_vault_size_base"]) * s.oracle_price_usd
    weights = weights / weights.sum()
    backstop = None
    if ctx.backstop_fraction is not None and not s.mm_vault_takeover_refused:
        backstop = float(np.sum(weights * ctx.backstop_fraction))
    ks = ctx.scenario.keepers
    plan = keeper_agents.plan_liquidations(
        eq, mm_, nt, np.array([since], dtype=np.int64), t,
        capacity=ks.count * ks.max_liquidations_per_block,
        reaction_delay_steps=ks.reaction_delay_steps,
        backstop_fraction=backstop,
        keeper_reward_fraction=float(np.sum(weights * ctx.keeper_reward_fraction)),
        gas_cost_usd=ks.gas_cost_usd,
        min_profit_usd=ks.min_profit_usd,
    )  # fmt: skip
    v, vault, keeper = ctx.venue.venue, ctx.world.mm_vault, ctx.keeper(0)
    if len(plan.backstop):
        return [Action(v.backstop_takeover(keeper, vault), BACKSTOP)]
    if len(plan.liquidate):
        return [Action(v.liquidate(keeper, vault), LIQUIDATE)]
    return []


class Quotes(NamedTuple):
    """The vault's trades of a step, in the order it sends them (:func:`quote_lists`)."""

    markets: list[int]
    """The market index of each trade."""
    unwinds: list[bool]
    """Whether each is an unwind above the inventory limit (kind :data:`UNWIND`, no bound)."""
    deltas: list[int]
    """Each trade's signed size (WAD)."""
    bounds: list[int]
    """Each trade's price bound (``acceptablePrice``, WAD; 0: none)."""
    values: list[tuple[float, float]]
    """Each trade's (size, bound) as floats (``float`` of the WADs: what the mirror's fast
    mode reads of a call)."""


#: 10**j for the WADs of :func:`quote_lists` (``c × 10**(18 − s)``).
_POW10 = [10**j for j in range(19)]


def quote_lists(
    s: EngineState, out: np.ndarray, run: RunQuotes, wads: np.ndarray | None = None
) -> Quotes:
    """The vault's trades of the compiled step's rows ``TRADE`` / ``UNWIND`` (one per market
    whose trade is not zero in WAD, ``to_wad(round(x, 12))``): a quoted trade's price bound is
    its quote (buys fill at most ``P(1 − q)``, sells at least ``P(1 + q)``: ``to_wad`` of that
    float), an unwind above the inventory limit has none; writes ``s.mm_vault_planned_base``
    (``from_wad`` of each trade). The WADs are the compiled step's
    (:func:`simulator.engine.mm_vault_jit.quote_wads`: a decimal's digits and scale, exactly
    ``to_wad``'s), those it leaves to Python (``IN_PYTHON``) ``to_wad``'s. ``wads``: those
    rows where the step wrote them, if not in :attr:`RunQuotes.wads`
    (:func:`~simulator.engine.mm_vault_jit.vault_block`'s)."""
    planned = None
    digits, scales, bound_digits, bound_scales = (run.wads if wads is None else wads).tolist()
    markets: list[int] = []
    unwinds: list[bool] = []
    deltas: list[int] = []
    bounds: list[int] = []
    values: list[tuple[float, float]] = []
    trade = prices = None
    for m, scale in enumerate(scales):
        if scale == jit.NO_TRADE:
            continue
        if scale == jit.IN_PYTHON:
            if trade is None:
                trade = out[jit.TRADE].tolist()
            delta = to_wad(round(trade[m], 12))
            if delta == 0:
                continue
        else:
            delta = digits[m] * _POW10[18 - scale]
        if planned is None:  # the step's first trade: its own planned sizes
            planned = s.mm_vault_planned_base = np.zeros(run.n_markets)
        planned[m] = delta / WAD  # from_wad(delta)
        unwind = bool(out[jit.UNWIND, m])
        if unwind:
            bound = 0
        elif scale == jit.IN_PYTHON or bound_scales[m] == jit.IN_PYTHON:
            if prices is None:
                prices = s.oracle_price_usd.tolist()
            q = run.quote[m]
            bound = to_wad(prices[m] * (1.0 - q if delta > 0 else 1.0 + q))
        else:
            bound = bound_digits[m] * _POW10[18 - bound_scales[m]]
        # appended (+= of a tuple: no method call a trade)
        markets += (m,)
        unwinds += (unwind,)
        deltas += (delta,)
        bounds += (bound,)
        values += ((float(delta), float(bound)),)
    return Quotes(markets, unwinds, deltas, bounds, values)


def _quote_actions(ctx: Context, s: EngineState, out: np.ndarray, run: RunQuotes) -> list[Action]:
    """The vault's ``trade`` calls of :func:`quote_lists` (kind :data:`UNWIND` for an unwind
    above the inventory limit, else :data:`TRADE`); writes ``s.mm_vault_planned_base``."""
    v, vault, ids = ctx.venue.venue, ctx.world.mm_vault, ctx.market_ids
    quotes = quote_lists(s, out, run)
    return [
        Action(v.trade(vault, ids[m], delta, bound), UNWIND if unwind else TRADE, -1, m)
        for m, unwind, delta, bound in zip(
            quotes.markets, quotes.unwinds, quotes.deltas, quotes.bounds, strict=True
        )
    ]


def after_vault_trades(
    s: EngineState, inputs: dict[str, Any], last: dict[str, Any]
) -> dict[str, Any]:
    """Spot inputs estimated without a read (a quiet block) with the vault's planned trades
    of this block in the open interest, as the pending read would hold them (in a quiet block
    nothing else moves the skew the vault quoted against, so its trades fill)."""
    planned = s.mm_vault_planned_base
    if not np.count_nonzero(planned):  # as ``planned.any()``: NaN counts
        return inputs
    out = np.empty((2, len(planned)))
    jit.after_trades(last["mm_vault_size_base"], planned, inputs["oi_long_base"],
                     inputs["oi_short_base"], out)  # fmt: skip
    return {**inputs, "oi_long_base": out[0], "oi_short_base": out[1]}


def event_rows(
    ctx: Context, s: EngineState, results: list[TxResult], actions: list[Action], t: int,
    last: dict[str, Any],
) -> list[dict[str, Any]]:  # fmt: skip
    """``events.parquet`` rows of the vault's calls in the mined block: ``mm_vault_fill`` (a
    trade: size, fill price, ``amount_usd`` the fee paid, ``detail`` quote or unwind),
    ``backstop_takeover`` (one row per market taken over, the collateral transferred split by
    notional at the oracle), and ``<kind>_reverted`` rows (``mm_vault_trade_reverted``: the
    skew moved within the block and the fill no longer paid the quote); ``last``: the levels
    before the block (its sizes at a takeover)."""
    out: list[dict[str, Any]] = []
    vault, symbols = ctx.world.mm_vault, ctx.symbols
    fills = ctx.keeps("mm_vault_fill")  # an evaluation that reads none builds none
    for result, action in zip(results, actions, strict=True):
        kind = action.kind
        if kind not in _KINDS:
            continue
        market = symbols[action.market] if action.market >= 0 else None
        if not result.ok:
            if kind == BACKSTOP and getattr(result.error, "name", None) == TAKEOVER_REFUSED_ERROR:
                s.mm_vault_takeover_refused = True
            out.append(event_row(t, f"{kind}_reverted", market=market, account=vault,
                                 detail=str(result.error)))  # fmt: skip
            continue
        fill = fills and kind in FILL_DETAIL
        for e in result.events:
            if fill and e.name == "PositionModified":
                a = e.args
                delta = a["sizeDelta"]
                out.append(event_row(t, "mm_vault_fill", market=market, account=vault,
                                     side="long" if delta > 0 else "short",
                                     size=from_wad(abs(delta)), price=from_wad(a["fill"]),
                                     amount=from_wad(int(a["fee"])),
                                     detail=FILL_DETAIL[kind]))  # fmt: skip
            elif kind == BACKSTOP and e.name == "BackstopTakeover":
                out += _takeover_rows(ctx, s, t, last, from_wad(e.args["collateralTransferred"]))
    return out


def _takeover_rows(
    ctx: Context, s: EngineState, t: int, last: dict[str, Any], collateral_usd: float
) -> list[dict[str, Any]]:
    size = last["mm_vault_size_base"]
    notional = np.abs(size) * s.oracle_price_usd
    total = float(notional.sum()) or 1.0
    return [
        event_row(
            t,
            "backstop_takeover",
            market=ctx.symbols[m],
            account=ctx.world.mm_vault,
            side="long" if size[m] > 0 else "short",
            size=float(abs(size[m])),
            price=float(s.oracle_price_usd[m]),
            amount=collateral_usd * float(notional[m]) / total,
        )
        for m in np.flatnonzero(size)
    ]
