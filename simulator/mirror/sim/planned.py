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
from typing import Any, NamedTuple

from simulator.chain.abi import DecodedEvent
from simulator.engine.context import Context
from simulator.mirror.sim import backstop
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
