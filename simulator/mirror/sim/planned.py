"""The chain engine's planned venue calls on the mirror: the engine's planning functions
(:func:`simulator.engine.flow.plan_flow`, :func:`simulator.engine.mm_vault.plan_mm_vault`)
build their calls through ``ctx.venue.venue``; on the mirror that is a :class:`PlannedCalls`,
which records each call (:class:`Planned`) instead of encoding a transaction. :func:`execute`
runs a recorded call on the :class:`~simulator.mirror.sim.venue.VenueState` and gives back what
the engine's decoders read of a mined transaction (:class:`Result`: ``ok``, ``error`` as the
chain's decoder prints it, and the decoded ``PositionModified`` event), so that the engine's
own decoders (:func:`simulator.engine.events.decode_block`,
:func:`simulator.engine.flow.record_flow`, :func:`simulator.engine.mm_vault.event_rows`) write
the rows and the state from it. Values are WAD in the mode's type (exact: Python ints)."""

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


E_DELTA, E_FILL, E_SIZE, E_ENTRY, E_REALIZED, E_FEE, E_FUNDING, E_ISOLATED = range(8)
"""Columns of :attr:`Executed.values`: a trade's ``PositionModified`` fields (``sizeDelta``,
``fill``, ``newSize``, ``entryPrice``, ``realizedPnl``, ``fee``, ``funding``; WAD) and its
margin mode (1 isolated)."""
N_VALUES = 8
_FROM_OUTS = [jit_calls.T_DELTA, jit_calls.T_FILL, jit_calls.T_SIZE, jit_calls.T_ENTRY,
              jit_calls.T_REALIZED, jit_calls.T_FEE, jit_calls.T_FUNDING, jit_calls.T_ISOLATED]  # fmt: skip
""":attr:`Executed.values`' columns in a batched trade's ``out`` (:mod:`jit_calls`)."""
_KINDS = {"trade": jit_calls.K_TRADE, "closePosition": jit_calls.K_CLOSE}


@dataclass
class Executed:
    """A block's planned calls run in order (:func:`execute_many`), as arrays: per call
    whether it succeeded (``ok``), its revert's text (``errors``, None where it succeeded) and
    a ``trade`` / ``closePosition``'s ``PositionModified`` fields (``values``, :data:`E_DELTA`
    ...: WAD floats in fast mode, Python ints in exact mode; unset where the call is not a
    succeeded trade); the :class:`Result` of a call of another method (``other``)."""

    calls: Sequence[Planned]
    ok: np.ndarray
    errors: list[str | None]
    values: np.ndarray
    other: dict[int, Result] = field(default_factory=dict)

    def traded(self) -> list[int]:
        """The indices of the calls that are succeeded trades or closes (a
        ``PositionModified`` each)."""
        return [i for i, (done, c) in enumerate(zip(self.ok.tolist(), self.calls, strict=True))
                if done and c.method in _KINDS]  # fmt: skip

    def modified(self) -> list[tuple | None]:
        """Per call: its ``PositionModified``'s (``account``, ``market``, ``sizeDelta``,
        ``fill``, ``newSize``, ``entryPrice``, ``realizedPnl``, ``fee``, ``funding``) as the
        engine's decoders read them (Python scalars), None for a call without one."""
        out: list[tuple | None] = [None] * len(self.calls)
        traded = self.traded()
        if traded:
            rows = self.values[traded, :E_ISOLATED].tolist()
            for i, row in zip(traded, rows, strict=True):
                call = self.calls[i]
                out[i] = (call.sender, call.market_id, *row)
        return out

    def results(self) -> list[Result]:
        """Each call's :class:`Result` as :func:`execute` gives it (for a reader of mined
        transactions)."""
        out = []
        for i, (call, done, error) in enumerate(zip(self.calls, self.ok.tolist(), self.errors,
                                                    strict=True)):  # fmt: skip
            if i in self.other:
                out.append(self.other[i])
            elif not done:
                out.append(Result(False, error=error))
            else:
                delta, fill, size, entry, realized, fee, paid, iso = self.values[i].tolist()
                got = {"fill": fill, "new_size": size, "entry": entry, "realized": realized,
                       "fee": fee, "funding": paid}  # fmt: skip
                out.append(Result(True, None, [position_modified(call, delta, got, bool(iso))]))
        return out


def execute_many(ctx: Context, venue: VenueState, calls: Sequence[Planned]) -> Executed:
    """Run ``calls`` on ``venue`` in order, each as :func:`execute` would run it, the results
    as arrays (:class:`Executed`). Fast mode runs the ``trade`` / ``closePosition`` calls in
    compiled batches (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch`),
    stopping at a call that needs Python (another method, a revert's text, a pause, a
    breaker, a stale price), making it alone through :func:`execute` and resuming after
    it."""
    n = len(calls)
    ok = np.zeros(n, dtype=bool)
    errors: list[str | None] = [None] * n
    done = Executed(calls, ok, errors, np.zeros((n, N_VALUES),
                                                dtype=object if venue.exact_mode else float))  # fmt: skip
    if venue.exact_mode or n == 0:
        for i, call in enumerate(calls):
            _store(done, i, execute(ctx, venue, call))
        return done
    spec = np.zeros((n, 3), dtype=np.int64)
    bounds = np.zeros((n, 2))
    for i, call in enumerate(calls):
        a, kind = ctx.index(call.sender), _KINDS.get(call.method, jit_calls.K_PYTHON)
        if a is None or kind == jit_calls.K_PYTHON:  # execute's error, or another method
            spec[i, jit_calls.C_KIND] = jit_calls.K_PYTHON
            continue
        spec[i] = a, ctx.market_index(call.market_id), kind
        bounds[i] = float(call.size_delta_wad), float(call.acceptable_price_wad)
    outs = np.zeros((n, jit_calls.N_BATCH_OUT))
    i = 0
    while i < n:
        stop = venue.trade_batch(i, spec, bounds, outs)
        if stop > i:
            ok[i:stop] = True
            done.values[i:stop] = outs[i:stop, _FROM_OUTS]
        if stop < n:
            _store(done, stop, execute(ctx, venue, calls[stop]))
        i = stop + 1
    return done


def _store(done: Executed, i: int, result: Result) -> None:
    """Call ``i``'s :class:`Result` of :func:`execute` into ``done``'s arrays."""
    done.ok[i] = result.ok
    done.errors[i] = result.error
    call = done.calls[i]
    if call.method not in _KINDS:
        done.other[i] = result
    elif result.ok:
        a = result.events[-1].args
        done.values[i] = (a["sizeDelta"], a["fill"], a["newSize"], a["entryPrice"],
                          a["realizedPnl"], a["fee"], a["funding"], int(a["isolated"]))  # fmt: skip


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
