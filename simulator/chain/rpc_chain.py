"""``RpcChain``: the :class:`Chain` interface over JSON-RPC to anvil (or any node with anvil's
dev methods: ``evm_snapshot``, ``evm_setAutomine``, ``anvil_autoImpersonateAccount``...).

The batched sender is the hot path. For one block it sends every call as ``eth_sendTransaction``
in a single JSON-RPC batch with automine off (agents are auto-impersonated, so no keys and no
signing), gives each call an explicit nonce and gas limit (so the node does not estimate gas
against stale state), mines one block with ``evm_mine``, and reads every receipt back with one
``eth_getBlockReceipts``. Batches larger than the block gas limit are split into several
blocks. Reverted transactions are traced (``debug_traceTransaction``) to recover their revert
data, which is decoded against every ABI the project knows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from simulator.chain.abi import AbiRegistry
from simulator.chain.base import Chain
from simulator.chain.rpc import RpcClient
from simulator.chain.types import Call, TxResult, View, ViewError
from simulator.errors import RpcError, TransactionReverted


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


def _hex(n: int) -> str:
    return hex(n)


def intrinsic_gas(call: Call) -> int:
    """Gas charged before execution (EIP-2028 calldata, EIP-3860 init code), in gas units."""
    zeros = call.data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(call.data) - zeros)
    if call.to is None:
        gas += 32_000 + 2 * ((len(call.data) + 31) // 32)
    return gas


class RpcChain(Chain):
    """A chain reached over JSON-RPC; owns the anvil node it runs on, if any."""

    def __init__(self, rpc: RpcClient, registry: AbiRegistry | None = None, *, node=None):
        self.rpc = rpc
        self.node = node
        self.registry = registry or AbiRegistry()
        self._chain_id = int(rpc.request("eth_chainId"), 16)
        latest = rpc.request("eth_getBlockByNumber", ["latest", False])
        self.block_gas_limit = int(latest["gasLimit"], 16)
        self._nonces: dict[str, int] = {}
        self._batch_mode = False
        self.stats = SenderStats()

    @property
    def url(self) -> str:
        return self.rpc.url

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def block_number(self) -> int:
        return int(self.rpc.request("eth_blockNumber"), 16)

    # -- modes ---------------------------------------------------------------------------------

    def _enter_batch_mode(self) -> None:
        if not self._batch_mode:
            self.rpc.batch([("evm_setAutomine", [False]), ("anvil_autoImpersonateAccount", [True])])
            self._batch_mode = True

    def set_automine(self, enabled: bool) -> None:
        """Mine one block per transaction (ape's ordinary path) or only on ``execute``."""
        self.rpc.request("evm_setAutomine", [enabled])
        self._batch_mode = not enabled and self._batch_mode

    # -- the batched sender ---------------------------------------------------------------------

    def execute(self, calls: Sequence[Call]) -> list[TxResult]:
        start = time.perf_counter()
        self._enter_batch_mode()
        results: list[TxResult | None] = [None] * len(calls)
        for chunk in self._split_by_gas(calls, results):
            self._execute_block(calls, chunk, results)
        self.stats.transactions += len(calls)
        self.stats.seconds += time.perf_counter() - start
        return results  # type: ignore[return-value]

    def _split_by_gas(self, calls: Sequence[Call], results: list) -> list[list[int]]:
        chunks: list[list[int]] = []
        current: list[int] = []
        used = 0
        for i, call in enumerate(calls):
            if call.gas > self.block_gas_limit:
                results[i] = TxResult(
                    i, call.label, False,
                    error=f"gas limit {call.gas} exceeds the block gas limit {self.block_gas_limit}",
                )  # fmt: skip
                continue
            if used + call.gas > self.block_gas_limit:
                chunks.append(current)
                current, used = [], 0
            current.append(i)
            used += call.gas
        if current:
            chunks.append(current)
        return chunks

    def _execute_block(self, calls: Sequence[Call], chunk: list[int], results: list) -> None:
        rpc = self.rpc
        unknown = sorted({calls[i].sender for i in chunk} - self._nonces.keys())
        head = rpc.batch(
            [("eth_getBlockByNumber", ["latest", False])]
            + [("eth_getTransactionCount", [a, "pending"]) for a in unknown]
            + [("eth_getBalance", [a, "latest"]) for a in unknown]
        )
        base_fee = int(head[0].get("baseFeePerGas") or "0x0", 16)
        counts, balances = head[1 : 1 + len(unknown)], head[1 + len(unknown) :]
        for address, count in zip(unknown, counts, strict=True):
            self._nonces[address] = int(count, 16)
        broke = [
            a for a, b in zip(unknown, balances, strict=True) if int(b, 16) < AGENT_GAS_FLOAT_WEI
        ]
        if broke:
            self.set_balance(broke, AGENT_GAS_FLOAT_WEI)

        # The node handles a JSON-RPC batch concurrently, so arrival order is not call order.
        # A strictly decreasing priority fee makes the block's order the call order.
        requests = []
        for position, i in enumerate(chunk):
            call = calls[i]
            nonce = self._nonces[call.sender]
            self._nonces[call.sender] = nonce + 1
            tx = {
                "from": call.sender,
                "data": "0x" + call.data.hex(),
                "gas": _hex(call.gas),
                "gasPrice": _hex(2 * base_fee + len(chunk) - position),
                "nonce": _hex(nonce),
                "value": _hex(call.value_wei),
            }
            if call.to is not None:
                tx["to"] = call.to
            requests.append(("eth_sendTransaction", [tx]))

        pending: dict[str, int] = {}
        for i, reply in zip(chunk, rpc.batch_raw(requests), strict=True):
            if reply.get("error"):
                # Refused before execution (e.g. insufficient funds): nonce not consumed.
                self._nonces.pop(calls[i].sender, None)
                results[i] = TxResult(i, calls[i].label, False, error=reply["error"].get("message"))
            else:
                pending[reply["result"]] = i
        if not pending:
            return

        rpc.request("evm_mine")
        self.stats.blocks += 1
        # Receipts cost O(block size) each on anvil (O(n^2) per block); a block trace and one
        # log query carry the same facts in O(n).
        traces, logs = rpc.batch(
            [
                ("trace_block", ["latest"]),
                ("eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}]),
            ]
        )
        logs_by_tx: dict[str, list[dict]] = {}
        for log in logs:
            logs_by_tx.setdefault(log["transactionHash"], []).append(log)
        decode_log = self.registry.decode_log
        decode_error = self.registry.decode_error
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
            events = [e for e in map(decode_log, logs_by_tx.get(tx_hash, ())) if e is not None]
            created = result.get("address") if call.to is None else None
            results[i] = TxResult(
                index=i,
                label=call.label,
                ok=ok,
                tx_hash=tx_hash,
                block_number=int(frame["blockNumber"])
                if isinstance(frame["blockNumber"], int)
                else int(frame["blockNumber"], 16),
                position=frame["transactionPosition"],
                gas_used=intrinsic_gas(call) + int(result.get("gasUsed", "0x0"), 16),
                events=events,
                error=None
                if ok
                else decode_error(bytes.fromhex((result.get("output") or "0x")[2:])),
                contract_address=to_checksum_address(created) if created and ok else None,
            )
        if pending:
            # Not mined: a nonce gap left by a refused transaction of the same sender.
            for tx_hash, i in pending.items():
                rpc.request("anvil_dropTransaction", [tx_hash])
                self._nonces.pop(calls[i].sender, None)
                results[i] = TxResult(
                    i, calls[i].label, False, tx_hash=tx_hash,
                    error="not mined: an earlier transaction of the same sender was refused",
                )  # fmt: skip

    # -- reads ---------------------------------------------------------------------------------

    def read(self, views: Sequence[View], *, strict: bool = True) -> list[Any]:
        replies = self.rpc.batch_raw(
            [("eth_call", [{"to": v.to, "data": "0x" + v.data.hex()}, "latest"]) for v in views]
        )
        out: list[Any] = []
        for view, reply in zip(views, replies, strict=True):
            err = reply.get("error")
            if err:
                data = err.get("data")
                if not isinstance(data, str) or not data.startswith("0x"):
                    raise RpcError("eth_call", err.get("code"), err.get("message", ""), data)
                decoded = self.registry.decode_error(bytes.fromhex(data[2:]))
                if strict:
                    raise TransactionReverted(view.label or view.function.name, decoded)
                out.append(ViewError(view.label, decoded))
            else:
                out.append(view.function.decode(bytes.fromhex(reply["result"][2:])))
        return out

    # -- state control -------------------------------------------------------------------------

    def snapshot(self) -> str:
        return self.rpc.request("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc.request("evm_revert", [snapshot_id]):
            raise RpcError("evm_revert", None, f"unknown snapshot {snapshot_id}")
        self._nonces.clear()

    def set_balance(self, accounts: Sequence[str], wei: int) -> None:
        self.rpc.batch([("anvil_setBalance", [a, _hex(wei)]) for a in accounts])

    def get_code(self, address: str) -> bytes:
        return bytes.fromhex(self.rpc.request("eth_getCode", [address, "latest"])[2:])

    def advance_time(self, seconds: int) -> None:
        self.rpc.request("evm_increaseTime", [_hex(seconds)])

    def mine(self, blocks: int = 1) -> None:
        self.rpc.request("anvil_mine", [_hex(blocks)])

    def close(self) -> None:
        self.rpc.close()
