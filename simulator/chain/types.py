"""Plain data passed between the engine and a chain backend: calls, views and results."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(slots=True)
class TxResult:
    """Outcome of one :class:`Call` sent in a batch."""

    index: int
    """Position of the call in the batch it was sent in."""
    label: str
    ok: bool
    tx_hash: str | None = None
    block_number: int | None = None
    position: int | None = None
    """Index of the transaction in its block (equals the call order within one block)."""
    gas_used: int = 0
    """Gas of the transaction before refunds: intrinsic gas plus execution gas (gas units).
    Receipts charge this minus EIP-3529 refunds (storage cleared or restored), capped at 1/5;
    anvil's receipts cost O(block size) each, so the batched path reads the block trace."""
    events: list[DecodedEvent] = field(default_factory=list)
    error: DecodedError | str | None = None
    """Decoded custom error of a revert, or the node's message if it refused the transaction."""
    contract_address: str | None = None


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
