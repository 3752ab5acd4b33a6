"""What a call on the mirror's venue gives back: :class:`Reverted` (the contract's revert, with
its decoded text, :func:`error_text`) and a liquidation's :class:`Liquidation` record (what
the event rows are made of)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def where_sum(values: Any, mask: Any) -> Any:
    """The sum of ``values`` where ``mask`` (the mode's zero when none)."""
    total = values[0] * 0
    for v, keep in zip(values, mask, strict=True):
        if keep:
            total = total + v
    return total


class Reverted(Exception):
    """A call the contract reverts: ``str`` is the decoded error, e.g.
    ``NotLiquidatable(account=0x.., equity=.., maintenanceMargin=..)``."""


def error_text(name: str, **args: Any) -> str:
    """A custom error as :class:`simulator.chain.abi.DecodedError` prints it."""
    return f"{name}({', '.join(f'{k}={v}' for k, v in args.items())})"


@dataclass
class Liquidation:
    """What one liquidation call did, for the event rows (WAD values in the mode's type;
    per market closed, in the order the venue closed them)."""

    account: int
    isolated: bool
    markets: list[int] = field(default_factory=list)
    closed: list[Any] = field(default_factory=list)
    """Size closed, signed as ``Liquidated.sizeClosed`` (+ closing a long)."""
    fill: list[Any] = field(default_factory=list)
    penalty: list[Any] = field(default_factory=list)
    full: list[bool] = field(default_factory=list)
    deficits: list[tuple[int, bool, Any, Any, Any, Any, Any]] = field(default_factory=list)
    """``DeficitAttributed`` per market: (market, longs bankrupt, deficit, paid by the fund,
    remaining, charged, final): ``charged`` is what a socialized loss charged the open interest
    (``AdlExecuted.haircuts``; None: the remaining is bad debt); ``final`` the
    ``BadDebtFinalized`` (amount, total) that wrote the side's bad debt off (None: none)."""
