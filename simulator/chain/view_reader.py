"""Reads of a mined block's views on a worker thread, while the caller works on its results.

:meth:`RpcChain.mine_then_read <simulator.chain.rpc_chain.RpcChain.mine_then_read>` mines a
block, hands the read of the views on it (the engine's levels and health views: about 1.5 ms
of the node's time a step on oct-2025) to this reader's thread, which has its own keep-alive
connection, and returns the block's results at once; the engine decodes the block's events and
updates its state while the node computes the views, and collects the reads before it does
anything else on the chain (the chain joins an unfinished read before any other request).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from simulator.chain.rpc import RpcClient


class ViewReader:
    """One worker thread and its own JSON-RPC connection for deferred reads."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.rpc = RpcClient(url, timeout_s=timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="view-reads")

    def submit(self, read: Callable[[RpcClient], Any]) -> Future:
        """Run ``read(connection)`` on the worker thread."""
        return self._pool.submit(read, self.rpc)

    def close(self) -> None:
        """Stop the worker (after what it is running) and close its connection."""
        self._pool.shutdown(wait=True)
        self.rpc.close()


__all__ = ["ViewReader"]
