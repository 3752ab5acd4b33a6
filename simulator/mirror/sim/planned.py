"""The chain engine's planned venue calls on the mirror: the engine's planning functions
(:func:`simulator.engine.flow.plan_flow`, :func:`simulator.engine.mm_vault.plan_mm_vault`)
build their calls through ``ctx.venue.venue``; on the mirror that is a :class:`PlannedCalls`,
which records each call (:class:`Planned`) instead of encoding a transaction. :func:`execute`
runs a recorded call on the :class:`~simulator.mirror.sim.venue.VenueState` and gives back what
the engine's decoders read of a mined transaction (:class:`Result`: ``ok``, ``error`` as the
chain's decoder prints it, and the decoded ``PositionModified`` event), so that the engine's
own decoders (:func:`simulator.engine.events.decode_block`,
:func:`simulator.engine.flow.record_flow`, :func:`simulator.engine.mm_vault.event_rows`) write
the rows and the state from it. :func:`execute_many` runs a block's calls in order, in fast
mode the trades and closes in compiled batches (:func:`simulator.mirror.sim.jit_calls.
trade_batch`), and gives back what the decoders read as lists (:class:`Executed`, read by
:func:`simulator.engine.events.decode_positions` and
:func:`simulator.engine.flow.record_flow_calls`, no :class:`Result` built). Values are WAD in
the mode's type (exact: Python ints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from simulator.chain.abi import DecodedEvent
from simulator.engine.context import Context
from simulator.mirror.sim import backstop, jit_calls
from simulator.mirror.sim.calls import Liquidation, Reverted, error_text
from simulator.mirror.sim.venue import VenueState


class Planned(NamedTuple):
    """One recorded call of the venue (``PerpVenue``), arguments as the engine passed them."""

    method: str
    """``trade``, ``closePosition``, ``liquidate`` or ``backstopTakeover``."""
    sender: str
    market_id: int = 0
    """The venue's market id (``trade``, ``closePosition``)."""
    size_delta_wad: int = 0
    acceptable_price_wad: int = 0
    """The price bound (0 = none)."""
    account: str = ""
    """The account a keeper's call targets (``liquidate``, ``backstopTakeover``)."""


class PlannedCalls:
    """The venue wrapper's call builders the engine's flow and market-making vault use
    (:class:`simulator.protocol.venue_contracts.PerpVenueContract`'s signatures), recording."""

    address = "mirror:venue"

    def trade(
        self, sender: str, market: int, size_delta_wad: int, acceptable_price_wad: int = 0
    ) -> Planned:
        return Planned("trade", sender, int(market), int(size_delta_wad), int(acceptable_price_wad))

    def close_position(self, sender: str, market: int, acceptable_price_wad: int = 0) -> Planned:
        return Planned("closePosition", sender, int(market), 0, int(acceptable_price_wad))

    def liquidate(self, keeper: str, account: str) -> Planned:
        return Planned("liquidate", keeper, account=account)

    def backstop_takeover(self, keeper: str, account: str) -> Planned:
        return Planned("backstopTakeover", keeper, account=account)


class ErrorText(str):
    """A revert's text as the chain's decoder prints it, with its error's ``name`` (what the
    engine's decoders check, as on :class:`simulator.chain.abi.DecodedError`)."""

    @property
    def name(self) -> str:
        return self.split("(")[0]


class Result(NamedTuple):
    """A mined call as the engine's decoders read it (:class:`simulator.chain.types.TxResult`'s
    ``ok``, ``error``, ``events``), with the liquidation's record when it was one (a tuple:
    built for every planned call, ~15 a step)."""

    ok: bool
    error: str | None = None
    events: Sequence[DecodedEvent] = ()
    liquidation: Liquidation | None = None


def execute(ctx: Context, venue: VenueState, call: Planned) -> Result:
    """Run ``call`` on ``venue`` (a revert changes nothing and is a failed :class:`Result`);
    accounts are the venue's by ``ctx.index`` of their address."""
    method = call.method
    try:
        if method == "trade" or method == "closePosition":  # the flow's and the vault's calls
            a, m = _index(ctx, call.sender), ctx.market_index(call.market_id)
            exact = venue.exact_mode
            if method == "closePosition":
                delta = venue.size[a, m]
                if delta == 0:
                    raise Reverted(
                        error_text("NoPosition", account=call.sender, market=call.market_id)
                    )
                delta = -delta
                isolated = bool(venue.isolated[a, m])
            else:
                delta = call.size_delta_wad if exact else float(call.size_delta_wad)
                if delta == 0:
                    raise Reverted(error_text("ZeroAmount"))
                isolated = False
            bound = call.acceptable_price_wad if exact else float(call.acceptable_price_wad)
            got = venue.trade(a, m, delta, isolated=isolated, acceptable=bound)
            return Result(True, None, [position_modified(call, delta, got, isolated)])
        if method == "liquidate":
            return Result(True, liquidation=venue.liquidate(_index(ctx, call.account)))
        if method == "backstopTakeover":  # the backstop vault's takeover of the account
            if venue.backstop is None:
                raise Reverted(error_text("BackstopNotConfigured"))
            got = backstop.takeover(venue, _index(ctx, call.account))
            wad = int(got) if venue.exact_mode else round(float(got))
            args = {"account": call.account, "collateralTransferred": wad}
            return Result(True, events=[DecodedEvent("BackstopTakeover", PlannedCalls.address,
                                                     args)])  # fmt: skip
        raise ValueError(f"the mirror has no venue method {method}")
    except Reverted as exc:
        return Result(False, error=ErrorText(exc))


_KINDS = {"trade": jit_calls.K_TRADE, "closePosition": jit_calls.K_CLOSE}


@dataclass
class Executed:
    """A block's planned calls run in order (:func:`execute_many`): per call whether it
    succeeded (``ok``), its revert's text (``errors``: None where it succeeded), a succeeded
    ``trade`` / ``closePosition``'s ``PositionModified`` fields as the engine's decoders read
    them (``modified``: ``account``, ``market``, ``sizeDelta``, ``fill``, ``newSize``,
    ``entryPrice``, ``realizedPnl``, ``fee``, ``funding``, WAD in the mode's type; None for
    another call) and margin mode (``isolated``), and the :class:`Result` of a call of
    another method (``other``). Fast mode: ``values`` holds the trades' fields as the
    compiled batch wrote them (:func:`jit_calls.trade_batch`'s ``outs``, :data:`jit_calls.
    T_FILL` ...; a call made alone's written there too)."""

    calls: Sequence[Planned]
    ok: list[bool]
    errors: list[str | None]
    modified: list[tuple | None]
    isolated: list[bool]
    other: dict[int, Result] = field(default_factory=dict)
    values: np.ndarray | None = None

    def results(self) -> list[Result]:
        """Each call's :class:`Result` as :func:`execute` gives it (for a reader of mined
        transactions)."""
        out = []
        for i, (call, done, error, fields, isolated) in enumerate(
            zip(self.calls, self.ok, self.errors, self.modified, self.isolated, strict=True)
        ):  # fmt: skip
            if i in self.other:
                out.append(self.other[i])
            elif not done:
                out.append(Result(False, error=error))
            else:
                _, _, delta, fill, size, entry, realized, fee, paid = fields
                got = {"fill": fill, "new_size": size, "entry": entry, "realized": realized,
                       "fee": fee, "funding": paid}  # fmt: skip
                out.append(Result(True, None, [position_modified(call, delta, got, isolated)]))
        return out


def execute_many(ctx: Context, venue: VenueState, calls: Sequence[Planned]) -> Executed:
    """Run ``calls`` on ``venue`` in order, each as :func:`execute` would run it, the results
    as :class:`Executed`. Fast mode runs the ``trade`` / ``closePosition`` calls in compiled
    batches (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch`), stopping at
    a call that needs Python (another method, a revert's text, a pause, a breaker, a stale
    price), making it alone through :func:`execute` and resuming after it."""
    n = len(calls)
    done = Executed(calls, [False] * n, [None] * n, [None] * n, [False] * n)
    if venue.exact_mode or n == 0:
        for i, call in enumerate(calls):
            _store(done, i, execute(ctx, venue, call))
        return done
    index, market_index, python = ctx.index, ctx.market_index, jit_calls.K_PYTHON
    spec, bounds = [], []
    for call in calls:
        a, kind = index(call.sender), _KINDS.get(call.method, python)
        if a is None or kind == python:  # execute's error, or another method
            spec.append((0, 0, python))
            bounds.append((0.0, 0.0))
        else:
            spec.append((a, market_index(call.market_id), kind))
            bounds.append((float(call.size_delta_wad), float(call.acceptable_price_wad)))
    spec_array, bounds_array = np.array(spec, dtype=np.int64), np.array(bounds)
    outs = done.values = np.zeros((n, jit_calls.N_BATCH_OUT))
    ok, modified, isolated = done.ok, done.modified, done.isolated
    delta, iso = jit_calls.T_DELTA, jit_calls.T_ISOLATED
    fields = slice(jit_calls.T_FILL, jit_calls.T_FUNDING + 1)  # in PositionModified's order
    i = 0
    while i < n:
        stop, made = venue.trade_batch(i, spec_array, bounds_array, outs)
        for k, out in enumerate(made, start=i):
            call = calls[k]
            ok[k] = True
            # fill, newSize, entryPrice, realizedPnl, fee, funding: the kernel's out[0:6]
            modified[k] = (call.sender, call.market_id, out[delta], *out[fields])
            isolated[k] = out[iso] != 0
        if stop < n:
            _store(done, stop, execute(ctx, venue, calls[stop]))
        i = stop + 1
    return done


def _store(done: Executed, i: int, result: Result) -> None:
    """Call ``i``'s :class:`Result` of :func:`execute` into ``done`` (and, fast mode, a
    trade's fields into its ``values`` row)."""
    done.ok[i] = result.ok
    done.errors[i] = result.error
    call = done.calls[i]
    if call.method not in _KINDS:
        done.other[i] = result
    elif result.ok:
        a = result.events[-1].args
        fields = (a["account"], a["market"], a["sizeDelta"], a["fill"], a["newSize"],
                  a["entryPrice"], a["realizedPnl"], a["fee"], a["funding"])  # fmt: skip
        done.modified[i] = fields
        done.isolated[i] = bool(a["isolated"])
        if done.values is not None:
            write_values(done.values[i], a)


def execute_into(
    ctx: Context,
    venue: VenueState,
    call: Planned,
    k: int,
    outs: np.ndarray,
    ok: np.ndarray,
    errors: dict[int, str],
) -> None:
    """Make call ``k`` of a batch alone (:func:`execute`: the call a compiled batch stopped
    at), writing what the batch would: ``ok[k]``, and its ``PositionModified`` fields into
    ``outs[k]`` (:func:`write_values`) or its revert's text into ``errors[k]``."""
    result = execute(ctx, venue, call)
    ok[k] = result.ok
    if result.ok:
        write_values(outs[k], result.events[-1].args)
    else:
        errors[k] = result.error


def write_values(row: np.ndarray, args: dict) -> None:
    """A ``PositionModified``'s fields (``args``) into a trade's row of the batch's ``outs``
    (:data:`jit_calls.T_DELTA`, :data:`~jit_calls.T_FILL` ..., :data:`~jit_calls.T_ISOLATED`),
    as :func:`jit_calls.trade_batch` writes a call it makes."""
    row[jit_calls.T_DELTA] = args["sizeDelta"]
    row[jit_calls.T_FILL] = args["fill"]
    row[jit_calls.T_SIZE] = args["newSize"]
    row[jit_calls.T_ENTRY] = args["entryPrice"]
    row[jit_calls.T_REALIZED] = args["realizedPnl"]
    row[jit_calls.T_FEE] = args["fee"]
    row[jit_calls.T_FUNDING] = args["funding"]
    row[jit_calls.T_ISOLATED] = float(bool(args["isolated"]))


def position_modified(call: Planned, delta: Any, got: dict[str, Any], isolated: bool):
    """The ``PositionModified`` event of a trade (the chain's argument names)."""
    args = {
        "account": call.sender,
        "market": call.market_id,
        "sizeDelta": delta,
        "fill": got["fill"],
        "newSize": got["new_size"],
        "entryPrice": got["entry"],
        "realizedPnl": got["realized"],
        "fee": got["fee"],
        "funding": got["funding"],
        "isolated": isolated,
    }
    return DecodedEvent("PositionModified", PlannedCalls.address, args)


def _index(ctx: Context, address: str) -> int:
    i = ctx.index(address)
    if i is None:
        raise ValueError(f"the mirror has no account {address}")
    return i
