"""A mined block's transaction results, from its trace and logs: at once, or on a worker thread.

``RpcChain`` learns what its transactions did from the block's parity trace (status, gas before
refunds, revert data, created address; receipts cost O(block size) each on anvil) and one log
query. For a 1,000-transaction block that is about 1.5 MB of JSON, and the Python that turns it
into results (JSON decoding, one :class:`TxResult` per call) is about a third of the Python of
a large batch. A batch of several blocks (the world's setup sends tens of thousands of calls in
blocks of 1,000) need not wait for it: :class:`BackgroundResults` fetches and decodes each
block on one worker thread, over its own connection, while the calling thread sends and mines
the next block (the GIL is free while that thread waits on the node). The results are the same
objects, filled in before :meth:`RpcChain.mine` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from simulator.chain.abi import AbiRegistry
from simulator.chain.codec import checksum
from simulator.chain.rpc import RpcClient
from simulator.chain.types import Call, TxResult
from simulator.errors import ChainError


def intrinsic_gas(call: Call) -> int:
    """Gas charged before execution (EIP-2028 calldata, EIP-3860 init code), in gas units."""
    zeros = call.data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(call.data) - zeros)
    if call.to is None:
        gas += 32_000 + 2 * ((len(call.data) + 31) // 32)
    return gas


def fill_results(
    traces: list[dict],
    logs: list[dict],
    pending: dict[str, int],
    calls: Sequence[Call],
    results: list[TxResult | None],
    registry: AbiRegistry,
) -> None:
    """Set ``results[i]`` for every transaction of the block (top-level frames of ``traces``)
    whose hash ``pending`` maps to ``i``, removing it from ``pending``; ``logs`` are the block's
    logs (``eth_getLogs``), decoded on first use of each result's ``events``."""
    logs_by_tx: dict[str, list[dict]] = {}
    for log in logs:
        logs_by_tx.setdefault(log["transactionHash"], []).append(log)
    decode_log = registry.decode_log
    decode_error = registry.decode_error
    for frame in traces:
        if frame["traceAddress"]:
            continue  # internal call; only top-level frames are transactions
        tx_hash = frame["transactionHash"]
        i = pending.pop(tx_hash, None)
        if i is None:
            continue
        call = calls[i]
        result = frame.get("result") or {}
        ok = "error" not in frame
        created = result.get("address") if call.to is None else None
        block = frame["blockNumber"]
        results[i] = TxResult(
            index=i,
            label=call.label,
            ok=ok,
            tx_hash=tx_hash,
            block_number=block if isinstance(block, int) else int(block, 16),
            position=frame["transactionPosition"],
            gas_used=intrinsic_gas(call) + int(result.get("gasUsed", "0x0"), 16),
            error=None if ok else decode_error(bytes.fromhex((result.get("output") or "0x")[2:])),
            contract_address=checksum(created.lower()) if created and ok else None,
            raw_logs=logs_by_tx.get(tx_hash, ()),
            decode=decode_log,
        )


class BackgroundResults:
    """Fetches and decodes mined blocks' results on one worker thread, in mining order.

    The worker has its own keep-alive connection to the node (a JSON-RPC client is not shared
    between threads). :meth:`settle` waits for every block handed over and raises the first
    failure; the owner settles before it hands results out, reverts, loads state or closes.
    """

    def __init__(self, url: str, timeout_s: float, registry: AbiRegistry) -> None:
        self._rpc = RpcClient(url, timeout_s=timeout_s)
        self._registry = registry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-results")
        self._jobs: list[Future] = []

    def submit(
        self,
        number: int,
        pending: dict[str, int],
        calls: Sequence[Call],
        results: list[TxResult | None],
    ) -> None:
        """Fill in the results of block ``number``'s transactions ``pending`` (hash -> index in
        ``calls`` and ``results``), every one of them mined in that block."""
        self._jobs.append(self._pool.submit(self._fill, number, pending, calls, results))

    def _fill(self, number: int, pending: dict[str, int], calls, results) -> None:
        tag = hex(number)
        replies = self._rpc.batch_raw(
            [("trace_block", [tag]), ("eth_getLogs", [{"fromBlock": tag, "toBlock": tag}])]
        )
        traces = self._rpc._unwrap("trace_block", replies[0])
        logs = self._rpc._unwrap("eth_getLogs", replies[1])
        indices = list(pending.values())
        fill_results(traces, logs, pending, calls, results, self._registry)
        if pending:
            raise ChainError(
                f"block {number}: {len(pending)} of its transactions are missing from its trace"
            )
        # Decode the events here too, off the calling thread's path (which reads them once
        # the batch is mined: the setup reads every deposit's and every open's).
        for i in indices:
            results[i].events  # noqa: B018

    def submit_latest(
        self, pending: dict[str, int], calls: Sequence[Call], results: list[TxResult | None]
    ) -> Future:
        """Fill in the results of the latest block's transactions among ``pending`` (hash ->
        index), decoding their events, and leave in ``pending`` the ones the block does not
        hold (the caller drops them once the returned job is done). For the block the caller
        has just mined and reads views on while this runs: the node computes the views while
        this thread decodes the trace and logs (the caller mines nothing until it is done)."""
        job = self._pool.submit(self._fill_latest, pending, calls, results)
        self._jobs.append(job)
        return job

    def _fill_latest(self, pending: dict[str, int], calls, results) -> None:
        replies = self._rpc.batch_raw(
            [
                ("trace_block", ["latest"]),
                ("eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}]),
            ]
        )
        traces = self._rpc._unwrap("trace_block", replies[0])
        logs = self._rpc._unwrap("eth_getLogs", replies[1])
        sent = dict(pending)
        fill_results(traces, logs, pending, calls, results, self._registry)
        for tx_hash, i in sent.items():
            if tx_hash not in pending:
                results[i].events  # noqa: B018  (decoded here, off the calling thread)

    def settle(self, *, discard: bool = False) -> None:
        """Wait for every block handed over; raise the first failure (``discard``: wait, and
        ignore failures, for results nobody will read)."""
        jobs, self._jobs = self._jobs, []
        errors = [exc for job in jobs if (exc := job.exception()) is not None]
        if errors and not discard:
            raise errors[0]

    def close(self) -> None:
        """Settle (ignoring failures), stop the worker and close its connection."""
        self.settle(discard=True)
        self._pool.shutdown(wait=True)
        self._rpc.close()


__all__ = ["BackgroundResults", "fill_results", "intrinsic_gas"]
