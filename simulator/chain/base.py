"""The chain interface the engine talks to.

The engine never calls anvil directly: it asks a :class:`Chain` to execute a batch of calls as
one block, to read many views at once, and to snapshot and revert the world. ``RpcChain``
implements it over JSON-RPC (embedded anvil, any anvil-compatible RPC, or a local fork);
``RevmChain`` runs the same contracts in an in-process EVM (pyrevm), with the same blocks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from simulator.chain.abi import AbiRegistry
from simulator.chain.types import Call, TxResult, View, ViewError


class Chain(ABC):
    """A place where contracts execute. Addresses are checksummed hex strings."""

    registry: AbiRegistry
    backend: str = ""
    """Name of the backend (``"anvil"``, ``"revm"``), as ``--backend`` spells it."""

    @property
    @abstractmethod
    def chain_id(self) -> int: ...

    @abstractmethod
    def block_number(self) -> int: ...

    def execute(
        self, calls: Sequence[Call], *, max_block_calls: int | None = None
    ) -> list[TxResult]:
        """Execute ``calls`` in order, as few blocks as the block gas limit allows.

        Every call gets a result; a revert is reported with its decoded error and does not
        stop the others. Calls submitted earlier and not mined yet go first.

        ``max_block_calls`` also ends a block after that many of ``calls`` (counted from the
        first of them); under a fixed clock the block that continues it has the same
        timestamp, so every call executes at the time it would without the limit, in the same
        order: only block numbers differ. anvil's pending pool costs O(pool size) per
        transaction received, so a block of n calls costs O(n²) to send; the world's setup
        (tens of thousands of calls that do not depend on block numbers) sends in blocks of a
        few thousand. The engine keeps one block per step and never sets it.
        """
        self.submit(calls, max_block_calls=max_block_calls)
        return self.mine()

    @abstractmethod
    def submit(self, calls: Sequence[Call], *, max_block_calls: int | None = None) -> None:
        """Add ``calls`` to the block being assembled, after those already submitted
        (``max_block_calls``: see :meth:`execute`).

        Nothing is final until :meth:`mine`; :meth:`read` with ``pending=True`` sees the
        state with every submitted call applied (keepers use this to react within the block).
        """

    @abstractmethod
    def mine(self) -> list[TxResult]:
        """Mine the submitted calls; return one result per call since the last mine, in order.

        If the calls did not fit under the block gas limit, they span several blocks; with
        nothing submitted, one empty block is mined.
        """

    def mine_and_read(self, views: Sequence[View]) -> tuple[list[TxResult], list[Any]]:
        """:meth:`mine`, then :meth:`read` ``views`` on the new block (a backend may do both in
        one round trip)."""
        results = self.mine()
        return results, self.read(views)

    def mine_then_read(
        self, views: Sequence[View]
    ) -> tuple[list[TxResult], Callable[[], list[Any]]]:
        """:meth:`mine_and_read` whose reads come from calling the returned function, which the
        caller must do before anything else on this chain: a backend may compute the views
        while the caller works on the block's results (here: read at once)."""
        results, reads = self.mine_and_read(views)
        return results, lambda: reads

    @abstractmethod
    def read(
        self, views: Sequence[View], *, strict: bool = True, pending: bool = False
    ) -> list[Any]:
        """Evaluate many views in one round trip, on the latest block (or the pending one).

        With ``strict`` a reverting view raises; otherwise it yields a :class:`ViewError`.
        """

    @abstractmethod
    def snapshot(self) -> str:
        """Take a snapshot of the whole state; return its id."""

    @abstractmethod
    def revert(self, snapshot_id: str) -> None:
        """Restore the state of ``snapshot_id`` (which is then used up)."""

    @abstractmethod
    def set_balance(self, accounts: Sequence[str], wei: int) -> None:
        """Set the native balance of many accounts (dev chains only)."""

    @abstractmethod
    def get_code(self, address: str) -> bytes: ...

    @abstractmethod
    def advance_time(self, seconds: int) -> None:
        """Move the timestamp of the next block forward by ``seconds``."""

    @abstractmethod
    def set_next_block_timestamp(self, timestamp_s: int) -> None:
        """Fix the timestamp (Unix seconds) of the next mined block."""

    @abstractmethod
    def dump_state(self) -> bytes:
        """The whole chain state (accounts, code, storage, block number), for checkpoints."""

    @abstractmethod
    def load_state(self, state: bytes) -> None:
        """Restore a :meth:`dump_state` (on a fresh node: a resumed run continues from it)."""

    @abstractmethod
    def use_fixed_clock(self, start_timestamp_s: int) -> None:
        """Stamp every later block explicitly (``start``, then +1 s unless set), so that runs
        do not depend on the wall clock."""

    @abstractmethod
    def latest_timestamp(self) -> int:
        """Timestamp (Unix seconds) of the latest block."""

    @contextmanager
    def isolate(self) -> Iterator[None]:
        """Run the body, then restore the state from before it (snapshot / revert)."""
        snap = self.snapshot()
        try:
            yield
        finally:
            self.revert(snap)

    def read_one(self, view: View) -> Any:
        return self.read([view])[0]

    def execute_one(self, call: Call) -> TxResult:
        return self.execute([call])[0]


__all__ = ["Chain", "Call", "View", "TxResult", "ViewError"]
