"""``RpcChain``: the :class:`Chain` interface over JSON-RPC to anvil (or any node with anvil's
dev methods: ``evm_snapshot``, ``evm_setAutomine``, ``anvil_autoImpersonateAccount``...).

The batched sender is the hot path. With automine off and agents auto-impersonated (no keys, no
signing), one block costs three round trips once every sender's nonce is known:

1. every call as ``eth_sendTransaction`` in one JSON-RPC batch, each with an explicit nonce and
   gas limit (the node does not estimate gas against stale state) and a gas price over the base
   fee read with the previous block; the next block's timestamp rides in the same batch;
2. ``evm_mine``;
3. the block's trace (``trace_block``: statuses, gas, revert data, decoded against every ABI
   the project knows), its logs, its header (the next base fee) and any views to read on it.

Batches larger than the block gas limit (or than a caller's ``max_block_calls``) are split into
several blocks; the trace and logs of each block the batch continues after are fetched and
decoded on a worker thread while the batch goes on (:mod:`simulator.chain.block_results`),
and :meth:`RpcChain.mine` waits for them. A read of several views is one ``eth_call`` of
``ViewBatch.readAll`` (its code placed by a state override): anvil executes the pending block
again for every ``eth_call`` on ``pending``, once for a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import Any

from simulator.chain.abi import AbiRegistry, Function
from simulator.chain.assembly import BlockAssembly
from simulator.chain.block_results import BackgroundResults, fill_results, intrinsic_gas
from simulator.chain.codec import decode_replies, encode_reads
from simulator.chain.dumps import require_dump_of
from simulator.chain.gcpause import paused_gc
from simulator.chain.rpc import RpcClient
from simulator.chain.types import Call, TxResult, View, ViewError
from simulator.chain.view_reader import ViewReader
from simulator.errors import ChainError, RpcError, TransactionReverted

__all__ = ["RpcChain", "NodeModes", "SenderStats", "intrinsic_gas"]


@dataclass
class SenderStats:
    """Counters of the batched sender (for benchmarks and run summaries)."""

    transactions: int = 0
    blocks: int = 0
    seconds: float = 0.0

    @property
    def tx_per_s(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


#: Native balance (wei) given to a sender that has less, so it can pay its (tiny) gas.
AGENT_GAS_FLOAT_WEI = 10**18
#: Priority fee (wei per gas) of a block's first transaction; each next one pays 1 wei less.
PRIORITY_FEE_START_WEI = 10_000_000


#: An address no key and no test fixture uses: the probe of auto-impersonation sends from it.
_IMPERSONATION_PROBE = "0x00000000000000000000000000000000005e1f00"


@dataclass(frozen=True)
class NodeModes:
    """The modes of a node that the batched sender changes, to put back on a node we do not own.

    A run turns automine off (which also stops interval mining) and auto-impersonation on.
    ``None`` marks a mode the node did not report; it is restored to anvil's default then.
    """

    automine: bool | None
    """Whether the node mined one block per transaction (``anvil_getAutomine``)."""
    interval_s: int | None
    """Seconds between blocks of interval mining, or None when off (``anvil_getIntervalMining``)."""
    auto_impersonate: bool | None
    """Whether the node accepted transactions from any address without its key."""

    @classmethod
    def read(cls, rpc: RpcClient) -> NodeModes:
        """Read the modes (a mode the node cannot report is ``None``)."""

        def ask(method: str) -> Any:
            try:
                return rpc.request(method)
            except RpcError:
                return None

        automine = ask("anvil_getAutomine")
        interval = ask("anvil_getIntervalMining")
        return cls(
            automine=bool(automine) if automine is not None else None,
            interval_s=int(interval) if interval else None,
            auto_impersonate=_auto_impersonating(rpc),
        )

    def restore(self, rpc: RpcClient) -> None:
        """Put the modes back (anvil's defaults for those the node did not report: automine
        on, no interval mining, no auto-impersonation)."""
        rpc.request("anvil_autoImpersonateAccount", [bool(self.auto_impersonate)])
        rpc.request("evm_setAutomine", [True if self.automine is None else self.automine])
        if self.interval_s:
            rpc.request("evm_setIntervalMining", [self.interval_s])


def _auto_impersonating(rpc: RpcClient) -> bool | None:
    """Whether the node signs for any sender: a transaction from a key-less address with more
    gas than any block holds is refused either way, for "no signer" only when it does not."""
    tx = {"from": _IMPERSONATION_PROBE, "to": _IMPERSONATION_PROBE, "gas": hex(2**62)}
    try:
        tx_hash = rpc.request("eth_sendTransaction", [tx])
    except RpcError as exc:
        return "signer" not in exc.rpc_message.lower()
    rpc.request("anvil_dropTransaction", [tx_hash])  # accepted after all: it never mines
    return True


def _hex(n: int) -> str:
    return hex(n)


def _eth_call(view: View, tag: str) -> tuple[str, list]:
    return ("eth_call", [{"to": view.to, "data": "0x" + view.data.hex()}, tag])


#: Where the batched read places ``ViewBatch``'s runtime code, for the call only (a state
#: override: nothing is deployed). The zero address, because that is the caller of a plain
#: ``eth_call`` without ``from``: every view still sees ``msg.sender == address(0)``, as it does
#: when read alone (and on the revm backend).
VIEW_BATCH_ADDRESS = "0x0000000000000000000000000000000000000000"


@cache
def _view_batch() -> tuple[Function, str]:
    """``ViewBatch.readAll`` and the contract's runtime code (hex), from the compiled build."""
    from simulator.chain.artifacts import load_artifacts

    ct = load_artifacts()["ViewBatch"]
    fn = next(Function.from_abi(i) for i in ct.abi if i.get("name") == "readAll")
    return fn, "0x" + ct.runtime_bytecode.hex()


#: From this many views on, a read is ``ViewBatch`` calls instead of one ``eth_call`` each.
BATCH_READS_FROM = 2
#: Calldata bytes of the views in one ``ViewBatch`` call: anvil closes the connection on a
#: request body of a few MB (a 10,000-trader world's setup reads tens of thousands of views).
BATCH_READ_BYTES = 256_000


def _view_chunks(views: Sequence[View]) -> list[Sequence[View]]:
    """``views`` in consecutive chunks of at most :data:`BATCH_READ_BYTES` of calldata (a
    larger single view is a chunk of its own)."""
    chunks, start, size = [], 0, 0
    for i, view in enumerate(views):
        cost = len(view.data) + 64  # its calldata and two ABI words (address, offset)
        if size and size + cost > BATCH_READ_BYTES:
            chunks.append(views[start:i])
            start, size = i, 0
        size += cost
    chunks.append(views[start:])
    return chunks


def _read_requests(views: Sequence[View], tag: str) -> list[tuple[str, list]]:
    """The JSON-RPC requests of a read of ``views`` on the block ``tag``: one ``ViewBatch``
    call per chunk of views (:func:`_view_chunks`), or a plain ``eth_call`` for one view."""
    if len(views) >= BATCH_READS_FROM:
        return [_batched_eth_call(chunk, tag) for chunk in _view_chunks(views)]
    return [_eth_call(v, tag) for v in views]


def _batched_eth_call(views: Sequence[View], tag: str) -> tuple[str, list]:
    """One ``eth_call`` that runs every view through ``ViewBatch.readAll`` (its code placed by
    the call's state override; gas: the node's cap for calls, the block gas limit)."""
    fn, code = _view_batch()
    data = fn.selector + encode_reads([(v.to, v.data) for v in views])
    call = {"to": VIEW_BATCH_ADDRESS, "data": "0x" + data.hex()}
    return ("eth_call", [call, tag, {VIEW_BATCH_ADDRESS: {"code": code}}])


class RpcChain(BlockAssembly):
    """A chain reached over JSON-RPC; owns the anvil node it runs on, if any."""

    backend = "anvil"

    def __init__(self, rpc: RpcClient, registry: AbiRegistry | None = None, *, node=None):
        self.rpc = rpc
        self.node = node
        self.registry = registry or AbiRegistry()
        self._chain_id = int(rpc.request("eth_chainId"), 16)
        latest = rpc.request("eth_getBlockByNumber", ["latest", False])
        self.block_gas_limit = int(latest["gasLimit"], 16)
        self._nonces: dict[str, int] = {}
        self._batch_mode = False
        # The block being assembled (see BlockAssembly), and the hashes of the calls sent to
        # the pool but not yet mined.
        self._reset_assembly()
        self._pending: dict[str, int] = {}
        self._base_fee = 0
        # Base fee (wei per gas) of the latest block, read with every block this chain mines;
        # None when something else may have mined since (then the next send reads the header).
        self._latest_base_fee: int | None = None
        self._priority = PRIORITY_FEE_START_WEI
        self._reset_clock()
        # Snapshot ids not yet used, oldest first: anvil forgets a snapshot once reverted to
        # (and every later one), and a revert to a forgotten id leaves the node unusable.
        self._snapshots: list[str] = []
        # Requests that only need to reach the node before the block's next send, pending read
        # or mining (independent of each other, so they can share a JSON-RPC batch).
        self._deferred: list[tuple[str, list]] = []
        self.stats = SenderStats()
        # Results of mined blocks still being fetched on a worker thread (created when needed).
        self._background: BackgroundResults | None = None
        # The read of a mined block's views running on the reader's thread (mine_then_read),
        # joined before any other request.
        self._reader: ViewReader | None = None
        self._read_in_flight: Future | None = None
        self.overlap_block_reads = True
        """Mine-and-read fetches the block's trace and logs on the worker thread while this
        thread reads the views (False: one batch on this thread, as before)."""

    @property
    def url(self) -> str:
        return self.rpc.url

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def block_number(self) -> int:
        self._join_read()
        return int(self.rpc.request("eth_blockNumber"), 16)

    # -- modes ---------------------------------------------------------------------------------

    def _enter_batch_mode(self) -> None:
        if not self._batch_mode:
            self.rpc.batch([("evm_setAutomine", [False]), ("anvil_autoImpersonateAccount", [True])])
            self._batch_mode = True

    def set_automine(self, enabled: bool) -> None:
        """Mine one block per transaction (ape's ordinary path) or only on ``execute``."""
        self._join_read()
        self.rpc.request("evm_setAutomine", [enabled])
        self._latest_base_fee = None  # ape-style transactions mine blocks of their own
        self._batch_mode = not enabled and self._batch_mode

    # -- the batched sender ---------------------------------------------------------------------

    def submit(self, calls: Sequence[Call], *, max_block_calls: int | None = None) -> None:
        self._join_read()
        start = time.perf_counter()
        self._enter_batch_mode()
        with paused_gc():
            self._assemble(calls, max_block_calls)
        self.stats.seconds += time.perf_counter() - start

    def mine(self) -> list[TxResult]:
        return self.mine_and_read(())[0]

    def mine_then_read(
        self, views: Sequence[View]
    ) -> tuple[list[TxResult], Callable[[], list[Any]]]:
        """Mine; read ``views`` on the new block on the reader's thread and connection
        (:mod:`~simulator.chain.view_reader`) while the worker fetches the block's trace and
        logs; return the results as soon as they are decoded, and the function that waits for
        the reads (call it before anything else on this chain; any other request of this
        chain waits for them first)."""
        if not (views and self._pending and self.overlap_block_reads):
            return super().mine_then_read(views)
        self._join_read()
        start = time.perf_counter()
        rpc, calls, results, pending = (
            self.rpc,
            self._block_calls,
            self._block_results,
            self._pending,
        )
        self._pending, self._pending_gas = {}, 0
        views = list(views)
        with paused_gc():
            self._stamp_next_block()
            rpc.request("evm_mine")
            self.stats.blocks += 1
            if self._reader is None:
                self._reader = ViewReader(rpc.url, rpc.timeout_s)
            in_flight = self._read_in_flight = self._reader.submit(
                lambda client: self._read_latest(client, views)
            )
            worker = self._results_worker()
            worker.submit_latest(pending, calls, results)
            try:
                worker.settle()  # not _settle: that would wait for the reads too
            except BaseException:
                self._join_read(discard=True)
                raise
            self._drop_unmined(pending)
        results, self._block_calls, self._block_results = self._block_results, [], []
        self.stats.transactions += len(results)
        self.stats.seconds += time.perf_counter() - start

        def collect() -> list[Any]:
            if self._read_in_flight is in_flight:
                self._read_in_flight = None
            base_fee, reads = in_flight.result()
            self._latest_base_fee = base_fee
            return reads

        return results, collect

    def _read_latest(self, client: RpcClient, views: list[View]) -> tuple[int, list[Any]]:
        """The latest block's base fee and ``views`` on it, over ``client`` (the reader's)."""
        replies = client.batch_raw(
            [("eth_getBlockByNumber", ["latest", False])] + _read_requests(views, "latest")
        )
        header = client._unwrap("eth_getBlockByNumber", replies[0])
        return int(header.get("baseFeePerGas") or "0x0", 16), self._decode_reads(
            views, replies[1:], True
        )

    def _join_read(self, *, discard: bool = False) -> None:
        """Wait for a read of :meth:`mine_then_read` nobody collected yet (its base fee is
        the next block's; ``discard``: ignore its failure)."""
        in_flight, self._read_in_flight = self._read_in_flight, None
        if in_flight is None:
            return
        try:
            self._latest_base_fee = in_flight.result()[0]
        except BaseException:
            self._latest_base_fee = None
            if not discard:
                raise

    def mine_and_read(self, views: Sequence[View]) -> tuple[list[TxResult], list[Any]]:
        """Mine, then read ``views`` on the new block in the same round trip as the block's
        trace and logs."""
        self._join_read()
        start = time.perf_counter()
        reads = None
        if self._pending:
            with paused_gc():
                reads = self._mine_block(views)
        elif not self._block_results:
            self._stamp_next_block()
            self.rpc.request("evm_mine")  # nothing submitted: an empty block, time moves on
            self._latest_base_fee = None
            self.stats.blocks += 1
        self._settle()
        results, self._block_calls, self._block_results = self._block_results, [], []
        self.stats.transactions += len(results)
        self.stats.seconds += time.perf_counter() - start
        if reads is None:
            reads = self.read(views) if views else []
        return results, reads  # type: ignore[return-value]

    def _send(self, indices: list[int]) -> None:
        """Send calls (by index in this block's list) to the pool, in order, without mining."""
        if not indices:
            return
        rpc, calls = self.rpc, self._block_calls
        unknown = sorted({calls[i].sender for i in indices} - self._nonces.keys())
        first_in_block = not self._pending
        need_header = first_in_block and self._latest_base_fee is None
        deferred, self._deferred = self._deferred, []
        if unknown or need_header:
            head = rpc.batch(
                deferred
                + ([("eth_getBlockByNumber", ["latest", False])] if need_header else [])
                + [("eth_getTransactionCount", [a, "pending"]) for a in unknown]
                + [("eth_getBalance", [a, "latest"]) for a in unknown]
            )[len(deferred) :]
            deferred = []
            if need_header:
                self._latest_base_fee = int(head[0].get("baseFeePerGas") or "0x0", 16)
                head = head[1:]
            counts, balances = head[: len(unknown)], head[len(unknown) :]
            for address, count in zip(unknown, counts, strict=True):
                self._nonces[address] = int(count, 16)
            broke = [
                a
                for a, b in zip(unknown, balances, strict=True)
                if int(b, 16) < AGENT_GAS_FLOAT_WEI
            ]
            if broke:
                self.set_balance(broke, AGENT_GAS_FLOAT_WEI)
        if first_in_block:
            self._base_fee = self._latest_base_fee or 0
            self._priority = PRIORITY_FEE_START_WEI

        # The node handles a JSON-RPC batch concurrently, so arrival order is not call order.
        # A strictly decreasing priority fee over the block makes the block's order the
        # submission order, also across several submits before one mine.
        requests = []
        for i in indices:
            call = calls[i]
            nonce = self._nonces[call.sender]
            self._nonces[call.sender] = nonce + 1
            self._priority -= 1
            tx = {
                "from": call.sender,
                "data": "0x" + call.data.hex(),
                "gas": _hex(call.gas),
                "gasPrice": _hex(2 * self._base_fee + self._priority),
                "nonce": _hex(nonce),
                "value": _hex(call.value_wei),
            }
            if call.to is not None:
                tx["to"] = call.to
            requests.append(("eth_sendTransaction", [tx]))
        # Deferred requests (the next block's timestamp) ride in the same round trip: the
        # sends do not depend on them, and they only need to reach the node before the mining.
        replies = rpc.batch_raw(deferred + requests)
        for (method, _), reply in zip(deferred, replies, strict=False):
            rpc._unwrap(method, reply)
        for i, reply in zip(indices, replies[len(deferred) :], strict=True):
            if reply.get("error"):
                # Refused before execution (e.g. insufficient funds): nonce not consumed.
                self._nonces.pop(calls[i].sender, None)
                self._pending_gas -= calls[i].gas
                self._block_results[i] = TxResult(
                    i, calls[i].label, False, error=reply["error"].get("message")
                )
            else:
                self._pending[reply["result"]] = i

    def _mine_block(self, views: Sequence[View] = ()) -> list[Any] | None:
        """Mine the pending calls into one block and fill in their results; read ``views`` on
        it in the same round trip as its trace. Returns the reads (``None``: nothing pending)."""
        rpc, calls, results, pending = (
            self.rpc,
            self._block_calls,
            self._block_results,
            self._pending,
        )
        self._pending, self._pending_gas = {}, 0
        if not pending:
            return None
        self._stamp_next_block()
        rpc.request("evm_mine")
        self.stats.blocks += 1
        # Receipts cost O(block size) each on anvil (O(n^2) per block); a block trace and one
        # log query carry the same facts in O(n).
        if views and self.overlap_block_reads:
            # The trace and logs on the worker thread's connection, the views on this one: the
            # worker decodes the block's results and events while the node computes the views.
            self._results_worker().submit_latest(pending, calls, results)
            try:
                replies = rpc.batch_raw(
                    [("eth_getBlockByNumber", ["latest", False])] + _read_requests(views, "latest")
                )
            finally:
                self._settle()
            header = rpc._unwrap("eth_getBlockByNumber", replies[0])
            self._latest_base_fee = int(header.get("baseFeePerGas") or "0x0", 16)
            reads = self._decode_reads(views, replies[1:], True)
            self._drop_unmined(pending)
            return reads
        replies = rpc.batch_raw(
            [
                ("trace_block", ["latest"]),
                ("eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}]),
                ("eth_getBlockByNumber", ["latest", False]),
            ]
            + _read_requests(views, "latest")
        )
        traces = rpc._unwrap("trace_block", replies[0])
        logs = rpc._unwrap("eth_getLogs", replies[1])
        header = rpc._unwrap("eth_getBlockByNumber", replies[2])
        self._latest_base_fee = int(header.get("baseFeePerGas") or "0x0", 16)
        reads = self._decode_reads(views, replies[3:], True)
        fill_results(traces, logs, pending, calls, results, self.registry)
        self._drop_unmined(pending)
        return reads

    def _mine_continued(self) -> None:
        """Mine a block that a batch continues after (full, or at ``max_block_calls``): its
        header now (the next block's base fee, which transactions it holds), its results on
        the worker thread (:class:`BackgroundResults`) while the batch goes on; :meth:`mine`
        waits for them."""
        rpc, calls, results, pending = (
            self.rpc,
            self._block_calls,
            self._block_results,
            self._pending,
        )
        self._pending, self._pending_gas = {}, 0
        if not pending:
            return
        self._stamp_next_block()
        rpc.request("evm_mine")
        self.stats.blocks += 1
        header = rpc.request("eth_getBlockByNumber", ["latest", False])
        self._latest_base_fee = int(header.get("baseFeePerGas") or "0x0", 16)
        in_block = set(header["transactions"])
        mined = {h: i for h, i in pending.items() if h in in_block}
        self._drop_unmined({h: i for h, i in pending.items() if h not in in_block})
        if mined:
            self._results_worker().submit(int(header["number"], 16), mined, calls, results)

    def _results_worker(self) -> BackgroundResults:
        """The worker thread that fetches and decodes mined blocks' results (started once)."""
        if self._background is None:
            self._background = BackgroundResults(self.rpc.url, self.rpc.timeout_s, self.registry)
        return self._background

    def _settle(self, *, discard: bool = False) -> None:
        """Wait for the results of blocks handed to the worker (see :meth:`_mine_continued`)."""
        if self._read_in_flight is not None:
            self._join_read(discard=discard)
        if self._background is not None:
            self._background.settle(discard=discard)

    def _drop_unmined(self, pending: dict[str, int]) -> None:
        """Results of sent transactions that the block just mined does not hold (a nonce gap
        left by a refused transaction of the same sender): dropped from the node's pool."""
        calls, results = self._block_calls, self._block_results
        for tx_hash, i in pending.items():
            self.rpc.request("anvil_dropTransaction", [tx_hash])
            self._nonces.pop(calls[i].sender, None)
            results[i] = TxResult(
                i, calls[i].label, False, tx_hash=tx_hash,
                error="not mined: an earlier transaction of the same sender was refused",
            )  # fmt: skip

    # -- reads ---------------------------------------------------------------------------------

    def read(
        self, views: Sequence[View], *, strict: bool = True, pending: bool = False
    ) -> list[Any]:
        self._join_read()
        if pending:
            self._flush_deferred()
        tag = "pending" if pending else "latest"
        requests = _read_requests(views, tag)
        with paused_gc():
            return self._decode_reads(views, self.rpc.batch_raw(requests), strict)

    def _decode_reads(self, views: Sequence[View], replies: list[dict], strict: bool) -> list[Any]:
        """The results of :func:`_read_requests`'s replies, in ``views`` order."""
        if len(views) >= BATCH_READS_FROM:
            outcomes: list[tuple[bool, bytes]] = []
            for reply in replies:
                if reply.get("error"):
                    err = reply["error"]
                    raise RpcError(
                        "eth_call", err.get("code"), err.get("message", ""), err.get("data")
                    )
                outcomes += decode_replies(bytes.fromhex(reply["result"][2:]))
            return [
                self._decode_read(view, ok, data, strict)
                for view, (ok, data) in zip(views, outcomes, strict=True)
            ]
        out: list[Any] = []
        for view, reply in zip(views, replies, strict=True):
            err = reply.get("error")
            if err:
                data = err.get("data")
                if not isinstance(data, str) or not data.startswith("0x"):
                    raise RpcError("eth_call", err.get("code"), err.get("message", ""), data)
                out.append(self._decode_read(view, False, bytes.fromhex(data[2:]), strict))
            else:
                out.append(
                    self._decode_read(view, True, bytes.fromhex(reply["result"][2:]), strict)
                )
        return out

    def _decode_read(self, view: View, ok: bool, data: bytes, strict: bool) -> Any:
        """One view's return value, or its revert: raised (``strict``) or a :class:`ViewError`."""
        if ok:
            return view.function.decode(data)
        decoded = self.registry.decode_error(data)
        if strict:
            raise TransactionReverted(view.label or view.function.name, decoded)
        return ViewError(view.label, decoded)

    # -- state control -------------------------------------------------------------------------

    def snapshot(self) -> str:
        self._join_read()
        snapshot_id = self.rpc.request("evm_snapshot")
        self._snapshots.append(snapshot_id)
        return snapshot_id

    def revert(self, snapshot_id: str) -> None:
        if snapshot_id not in self._snapshots:
            raise ChainError(
                f"cannot revert to snapshot {snapshot_id}: it was already used by a revert (to "
                "it or to an earlier snapshot) or was not taken on this chain; take a new one"
            )
        del self._snapshots[self._snapshots.index(snapshot_id) :]
        self._settle(discard=True)  # results of the blocks reverted away: nobody reads them
        if self._pending:
            self.rpc.request("anvil_dropAllTransactions")
        self._block_calls, self._block_results, self._pending, self._pending_gas = [], [], {}, 0
        self._deferred = []
        self._latest_base_fee = None
        if not self.rpc.request("evm_revert", [snapshot_id]):
            raise RpcError("evm_revert", None, f"unknown snapshot {snapshot_id}")
        self._nonces.clear()
        if self._clock_s is not None:
            self._clock_s, self._next_timestamp_s = self.latest_timestamp(), None

    def set_balance(self, accounts: Sequence[str], wei: int) -> None:
        self._join_read()
        self.rpc.batch([("anvil_setBalance", [a, _hex(wei)]) for a in accounts])

    def get_code(self, address: str) -> bytes:
        self._join_read()
        return bytes.fromhex(self.rpc.request("eth_getCode", [address, "latest"])[2:])

    def _advance_node_clock(self, seconds: int) -> None:
        self.rpc.request("evm_increaseTime", [_hex(seconds)])

    def set_next_block_timestamp(self, timestamp_s: int) -> None:
        self._join_read()
        # Sent with the block's first batch of sends (one round trip less per block), and in
        # any case before a read of the pending block or the mining.
        self._deferred = [r for r in self._deferred if r[0] != "evm_setNextBlockTimestamp"]
        self._deferred.append(("evm_setNextBlockTimestamp", [_hex(timestamp_s)]))
        self._next_timestamp_s = int(timestamp_s)

    def _flush_deferred(self) -> None:
        if self._deferred:
            requests, self._deferred = self._deferred, []
            self.rpc.batch(requests)

    def dump_state(self) -> bytes:
        self._join_read()
        return bytes.fromhex(self.rpc.request("anvil_dumpState")[2:])

    def load_state(self, state: bytes) -> None:
        self._join_read()
        require_dump_of("anvil", state)
        self._settle(discard=True)
        self._latest_base_fee = None
        if not self.rpc.request("anvil_loadState", ["0x" + state.hex()]):
            raise RpcError("anvil_loadState", None, "the node refused the saved state")
        self._nonces.clear()
        if self._clock_s is not None:
            self._clock_s, self._next_timestamp_s = self.latest_timestamp(), None

    def _stamp_next_block(self) -> None:
        """In fixed-clock mode, make sure the block about to be mined has its timestamp."""
        self._flush_deferred()
        if self._clock_s is None:
            self._next_timestamp_s = None
            return
        if self._next_timestamp_s is None:
            self.rpc.request("evm_setNextBlockTimestamp", [_hex(self._clock_s + 1)])
            self._next_timestamp_s = self._clock_s + 1
        self._clock_s, self._next_timestamp_s = self._next_timestamp_s, None

    def latest_timestamp(self) -> int:
        self._join_read()
        return int(self.rpc.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def mine_empty(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (time passes, nothing executes)."""
        self._join_read()
        self._latest_base_fee = None
        self.rpc.request("anvil_mine", [_hex(blocks)])

    def drop_pending(self) -> None:
        """Drop the transactions this chain sent that are not mined (a run that stopped
        mid-block leaves none behind in a node's pool)."""
        self._join_read()
        pending, self._pending, self._pending_gas = self._pending, {}, 0
        if pending:
            self.rpc.batch([("anvil_dropTransaction", [tx_hash]) for tx_hash in pending])

    def close(self) -> None:
        self._join_read(discard=True)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._background is not None:
            self._background.close()
            self._background = None
        self.rpc.close()
