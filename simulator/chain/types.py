"""Plain data passed between the engine and a chain backend: calls, views and results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.chain.abi import DecodedError, DecodedEvent, Function

#: Gas limit given to a call when its wrapper does not say otherwise (gas units).
DEFAULT_CALL_GAS = 500_000


@dataclass(frozen=True, slots=True)
class Call:
    """A state-changing transaction, not yet sent.

    ``to=None`` deploys ``data`` as init code. ``gas`` is the gas limit the sender reserves in
    the block; unused gas is not charged but counts against the block gas limit when batching.
    """

    sender: str
    to: str | None
    data: bytes
    gas: int = DEFAULT_CALL_GAS
    value_wei: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class View:
    """A read-only call and the function that decodes its output."""

    to: str
    data: bytes
    function: Function
    label: str = ""


class TxResult:
    """Outcome of one :class:`Call` sent in a batch.

    A backend may hand over the transaction's logs undecoded (``raw_logs`` and the ``decode``
    function of one raw log, which returns ``None`` for a log of an unknown event): they are
    decoded on the first read of :attr:`events`. Most setup calls (a mint, an approve) are
    never asked for their events, and decoding every log of a 10,000-trader setup took about a
    second of Python.
    """

    __slots__ = (
        "index", "label", "ok", "tx_hash", "block_number", "position", "gas_used", "error",
        "contract_address", "_events", "_raw_logs", "_decode",
    )  # fmt: skip

    index: int
    """Position of the call in the batch it was sent in."""
    label: str
    ok: bool
    tx_hash: str | None
    block_number: int | None
    position: int | None
    """Index of the transaction in its block (equals the call order within one block)."""
    gas_used: int
    """Gas of the transaction before refunds: intrinsic gas plus execution gas (gas units).
    Receipts charge this minus EIP-3529 refunds (storage cleared or restored), capped at 1/5;
    anvil's receipts cost O(block size) each, so the batched path reads the block trace."""
    error: DecodedError | str | None
    """Decoded custom error of a revert, or the node's message if it refused the transaction."""
    contract_address: str | None

    def __init__(
        self,
        index: int,
        label: str,
        ok: bool,
        tx_hash: str | None = None,
        block_number: int | None = None,
        position: int | None = None,
        gas_used: int = 0,
        events: list[DecodedEvent] | None = None,
        error: DecodedError | str | None = None,
        contract_address: str | None = None,
        *,
        raw_logs: Sequence[Any] = (),
        decode: Callable[[Any], DecodedEvent | None] | None = None,
    ) -> None:
        self.index, self.label, self.ok = index, label, ok
        self.tx_hash, self.block_number, self.position = tx_hash, block_number, position
        self.gas_used, self.error, self.contract_address = gas_used, error, contract_address
        if events is not None and raw_logs:
            raise ValueError("a TxResult takes its events either decoded or raw, not both")
        self._events = events if events is not None or raw_logs else []
        self._raw_logs, self._decode = (raw_logs, decode) if raw_logs else ((), None)

    @property
    def events(self) -> list[DecodedEvent]:
        """The transaction's logs of known events, decoded, in log order."""
        if self._events is None:
            decode = self._decode
            self._events = [e for e in map(decode, self._raw_logs) if e is not None]
            self._raw_logs, self._decode = (), None
        return self._events

    @events.setter
    def events(self, events: list[DecodedEvent]) -> None:
        self._events, self._raw_logs, self._decode = list(events), (), None

    def _fields(self) -> tuple:
        return (
            self.index, self.label, self.ok, self.tx_hash, self.block_number, self.position,
            self.gas_used, self.events, self.error, self.contract_address,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        names = ("index", "label", "ok", "tx_hash", "block_number", "position", "gas_used",
                 "events", "error", "contract_address")  # fmt: skip
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields(), strict=True))
        return f"TxResult({inner})"

    def __reduce__(self):
        # Pickled with its events decoded (the decoder need not be picklable).
        return (TxResult, self._fields())


@dataclass(frozen=True, slots=True)
class ViewError:
    """A view that reverted, in a batch read with ``strict=False``."""

    label: str
    error: DecodedError


def require_ok(results: list[TxResult]) -> list[TxResult]:
    """Raise :class:`TransactionReverted` for the first failed result."""
    from simulator.errors import TransactionReverted

    for r in results:
        if not r.ok:
            raise TransactionReverted(r.label or f"#{r.index}", r.error)
    return results
