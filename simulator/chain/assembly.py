"""Block assembly and the fixed clock, shared by every :class:`Chain` backend.

Both backends (``RpcChain`` over anvil, ``RevmChain`` in process) build blocks the same way,
so that the same calls give the same blocks on either:

* calls go into the block in submission order, also across several ``submit`` before a mine;
* a call whose gas limit exceeds the block gas limit is reported failed, not sent;
* when the gas limits of the accepted calls would exceed the block gas limit, the block is
  mined and the rest goes into the next one (gas *limits*, never gas used: the split does not
  depend on a backend's gas accounting);
* with :meth:`use_fixed_clock`, every block gets an explicit timestamp: the previous block's
  plus one second unless :meth:`set_next_block_timestamp` or :meth:`advance_time` says
  otherwise.

A backend implements ``_send(indices)`` (put accepted calls into the block being built) and
``_mine_block()`` (mine what was sent), and the clock's two node-side operations.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.chain.base import Chain
from simulator.chain.types import Call, TxResult


class BlockAssembly(Chain):
    """The backend-independent half of a :class:`Chain`: which call goes into which block,
    and which timestamp each block gets."""

    block_gas_limit: int
    """Block gas limit (gas units); batches are split by the calls' gas limits."""

    def _reset_assembly(self) -> None:
        # The block being assembled: calls submitted since the last mine and their results
        # (None until mined), and the sum of the gas limits of those sent but not yet mined.
        self._block_calls: list[Call] = []
        self._block_results: list[TxResult | None] = []
        self._pending_gas = 0

    def _reset_clock(self) -> None:
        # Deterministic clock (see use_fixed_clock): timestamp of the last block, and of the
        # next one when set explicitly; both None while the node's own clock is used.
        self._clock_s: int | None = None
        self._next_timestamp_s: int | None = None

    # -- hooks of a backend ----------------------------------------------------------------------

    def _send(self, indices: list[int]) -> None:
        """Put the calls at ``indices`` (of this block's list) into the block, in order."""
        raise NotImplementedError

    def _mine_block(self):
        """Mine the calls sent so far into one block and fill in their results."""
        raise NotImplementedError

    def _mine_continued(self) -> None:
        """Mine a block that the batch being assembled continues after; by default
        :meth:`_mine_block` (a backend may fill in that block's results later, before
        :meth:`~simulator.chain.base.Chain.mine` returns them)."""
        self._mine_block()

    def _advance_node_clock(self, seconds: int) -> None:
        """Move the node's own (wall) clock forward, when no fixed clock is in use."""
        raise NotImplementedError

    # -- assembly --------------------------------------------------------------------------------

    def _assemble(self, calls: Sequence[Call], max_block_calls: int | None = None) -> None:
        """Add ``calls`` to the block being built, mining full blocks on the way.

        With ``max_block_calls``, a block also ends after that many of these calls; the block
        that continues it gets the same timestamp under a fixed clock (see ``Chain.execute``).
        """
        accepted: list[int] = []
        in_block = 0
        for call in calls:
            i = len(self._block_calls)
            self._block_calls.append(call)
            self._block_results.append(None)
            if call.gas > self.block_gas_limit:
                self._block_results[i] = TxResult(
                    i, call.label, False,
                    error=f"gas limit {call.gas} exceeds the block gas limit {self.block_gas_limit}",
                )  # fmt: skip
                continue
            if self._pending_gas + call.gas > self.block_gas_limit:
                self._send(accepted)
                accepted, in_block = [], 0
                self._mine_continued()  # the block is full: the rest goes into the next one
            elif max_block_calls is not None and in_block >= max_block_calls:
                # Continue the block in another one with the same timestamp; the gas split
                # still counts the whole block, so blocks end at the same calls as without it.
                self._send(accepted)
                gas = self._pending_gas  # after _send: a call the node refused holds none
                accepted, in_block = [], 0
                self._mine_continued()
                self._pending_gas = gas
                if self._clock_s is not None:
                    self.set_next_block_timestamp(self._clock_s)
            accepted.append(i)
            in_block += 1
            self._pending_gas += call.gas
        self._send(accepted)

    # -- clock -----------------------------------------------------------------------------------

    def use_fixed_clock(self, start_timestamp_s: int) -> None:
        """Give every block from now on an explicit timestamp: ``start``, then the previous
        block's plus one second unless :meth:`set_next_block_timestamp` says otherwise.

        anvil otherwise stamps blocks with the wall clock, which makes runs irreproducible.
        A start before the latest block's timestamp starts right after it instead.
        """
        self._clock_s = max(int(start_timestamp_s) - 1, self.latest_timestamp())
        self._next_timestamp_s = None

    def _upcoming_timestamp(self) -> int | None:
        """In fixed-clock mode, the timestamp (Unix seconds) the next block will get."""
        if self._clock_s is None:
            return None
        if self._next_timestamp_s is not None:
            return self._next_timestamp_s
        return self._clock_s + 1

    def advance_time(self, seconds: int) -> None:
        """Move the timestamp of the next block forward by ``seconds``.

        With a fixed clock the next block's stamp itself moves (the block that would have been
        stamped ``t`` is stamped ``t + seconds``); otherwise the node's clock does.
        """
        upcoming = self._upcoming_timestamp()
        if upcoming is None:
            self._advance_node_clock(int(seconds))
        else:
            self.set_next_block_timestamp(upcoming + int(seconds))
