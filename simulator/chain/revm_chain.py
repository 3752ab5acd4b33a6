"""``RevmChain``: the :class:`Chain` interface on an in-process EVM (pyrevm 0.3.7, revm 8).

The same compiled contracts run in this process instead of behind anvil's HTTP: no round
trips, no JSON. Blocks are assembled by the same code as ``RpcChain``
(:class:`~simulator.chain.assembly.BlockAssembly`: call order, splitting by gas limits, the
fixed clock), and anvil stays the reference: ``tests/chain/test_backends.py`` runs the same
calls and scenarios on both and compares every result.

How the anvil behaviours are reproduced on pyrevm:

* **blocks**: a call is executed when the pending state is first needed (a pending read or the
  mine), with the block environment (number, timestamp) of the block being built; the block is
  bracketed by a journal checkpoint, so a read of the *latest* block or a clock change while
  calls are pending rewinds to it (the calls are executed again, identically, when next
  needed);
* **senders** need no keys (pyrevm's message calls take any caller) and pay no gas (gas price
  0); **nonces** are counted per sender here, as anvil counts transactions, because message
  calls do not bump them; before a deployment the deployer's account nonce is set to that count,
  so contract addresses are anvil's;
* **set_balance** moves ether from a faucet account by an ordinary value transfer, so that it
  is journaled and undone by :meth:`revert` (pyrevm's own ``set_balance`` is not);
* **snapshots** are journal checkpoints; reverting to one forgets it and every later one, as on
  anvil, and a revert to a forgotten id is refused;
* **dump_state** is a replay log (pyrevm cannot list storage): every transaction, balance change
  and block stamp since the chain started, exact, tagged with
  :data:`~simulator.chain.dumps.REVM_REPLAY_MAGIC`; :meth:`load_state` replays it on a fresh EVM.

What differs from anvil, by design or because pyrevm cannot do otherwise:

* **gas figures are not per transaction**: pyrevm keeps one transaction open across calls, so
  slots touched by an earlier call stay warm and refunds are not applied; ``TxResult.gas_used``
  is revm's figure for the call (intrinsic + execution, before refunds) and is typically
  0.4-0.95 of anvil's. Nothing in the engine depends on gas used (blocks are split by gas
  limits), and gas-figure tests run on anvil only;
* transaction hashes are ``None`` (there are no signed transactions);
* memory grows by a few hundred bytes per call (revm's journal is never finalized), and the GIL
  is held while the EVM runs: parallel runs need processes.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from simulator.chain.abi import AbiRegistry, DecodedEvent, to_checksum_address
from simulator.chain.assembly import BlockAssembly
from simulator.chain.dumps import REVM_REPLAY_MAGIC, require_dump_of
from simulator.chain.rpc_chain import SenderStats, intrinsic_gas
from simulator.chain.types import Call, TxResult, View, ViewError
from simulator.errors import ChainError, RpcError, TransactionReverted

#: EVM version the contracts are compiled for (solc 0.8.28's default); pyrevm's own default
#: differs between its stub and its Rust code, so it is always passed.
REVM_SPEC = "CANCUN"
#: Version byte of the replay-log dump format (after :data:`REVM_REPLAY_MAGIC`).
REPLAY_FORMAT_VERSION = 1
#: Account whose ether :meth:`RevmChain.set_balance` moves (a journaled value transfer).
FAUCET_ADDRESS = to_checksum_address("0x" + keccak(text="perpsim revm faucet")[-20:].hex())
#: Ether (wei) the faucet starts with: more than any simulation hands out.
FAUCET_WEI = 2**200
#: Caller of views (``eth_call`` without ``from`` uses the zero address too).
VIEW_CALLER = "0x0000000000000000000000000000000000000000"

_OUTPUT = re.compile(r"output: 0x([0-9a-fA-F]*)")


def require_pyrevm():
    """The ``pyrevm`` module, imported only when the revm backend is chosen (an optional
    dependency); a one-line :class:`ChainError` if it is not installed."""
    try:
        import pyrevm
    except ImportError:
        raise ChainError(
            "the revm backend needs the package pyrevm (pip install 'perpsim[revm]', "
            "pinned pyrevm==0.3.7); or use --backend anvil"
        ) from None
    return pyrevm


@dataclass
class _Snapshot:
    """What a snapshot restores besides the EVM journal."""

    id: str
    checkpoint: Any
    nonces: dict[str, int]
    log_len: int
    number: int
    timestamp: int


@dataclass(frozen=True)
class RevmConfig:
    """How to build the in-process EVM (the counterpart of ``AnvilConfig``)."""

    chain_id: int = 31337
    """EIP-155 chain id (``block.chainid``)."""
    block_gas_limit: int = 1_000_000_000
    """Block gas limit in gas; batches are split by it, as on anvil."""
    genesis_timestamp_s: int | None = None
    """Timestamp of block 0 (Unix seconds); ``None`` = the wall clock."""
    code_size_limit: int | None = None
    """Contract code size limit in bytes; ``None`` keeps EIP-170's 24,576 bytes."""
    fork_url: str | None = None
    """Read the initial state from this RPC endpoint (pyrevm's fork database)."""
    fork_block: int | None = None
    """Block to fork at; ``None`` = the source's latest block."""


class RevmChain(BlockAssembly):
    """A chain executed in this process by revm; see the module docstring."""

    backend = "revm"

    def __init__(self, config: RevmConfig | None = None, registry: AbiRegistry | None = None):
        self.config = config or RevmConfig()
        self.registry = registry or AbiRegistry()
        self.node = None
        self.block_gas_limit = self.config.block_gas_limit
        self.stats = SenderStats()
        self._reset_assembly()
        self._reset_clock()
        self._start()

    # -- construction --------------------------------------------------------------------------

    def _start(self) -> None:
        """A fresh EVM at the configured genesis (or fork point); forgets everything else."""
        pyrevm = require_pyrevm()
        cfg = self.config
        number, timestamp = 0, cfg.genesis_timestamp_s
        if cfg.fork_url:
            number, timestamp = self._fork_point()
        if timestamp is None:
            timestamp = int(time.time())
        env = pyrevm.Env(
            cfg=pyrevm.CfgEnv(chain_id=cfg.chain_id, limit_contract_code_size=cfg.code_size_limit),
            block=pyrevm.BlockEnv(
                number=number, timestamp=timestamp, gas_limit=cfg.block_gas_limit
            ),
        )
        try:
            self._evm = pyrevm.EVM(
                env=env,
                fork_url=cfg.fork_url,
                fork_block=None if cfg.fork_url is None else str(number),
                gas_limit=cfg.block_gas_limit,
                spec_id=REVM_SPEC,
            )
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise ChainError(f"revm could not start: {exc}") from None
        self._pyrevm = pyrevm
        self._number, self._timestamp = number, timestamp
        self._genesis = (number, timestamp)
        self._nonces: dict[str, int] = {}
        self._log: list[list] = []  # the replay log (see dump_state)
        self._snapshots: list[_Snapshot] = []
        self._snapshot_ids = 0
        # The node's own clock starts at the genesis (or fork) time, as anvil's does.
        self._time_offset_s = timestamp - int(time.time())
        self._evm.set_balance(FAUCET_ADDRESS, FAUCET_WEI)
        self._close_block()

    def _fork_point(self) -> tuple[int, int]:
        """Number and timestamp of the block the fork starts from."""
        from simulator.chain.rpc import RpcClient

        client = RpcClient(self.config.fork_url, timeout_s=30.0)
        try:
            tag = "latest" if self.config.fork_block is None else hex(self.config.fork_block)
            block = client.request("eth_getBlockByNumber", [tag, False])
        finally:
            client.close()
        if block is None:
            raise ChainError(f"the fork source has no block {self.config.fork_block}")
        return int(block["number"], 16), int(block["timestamp"], 16)

    @property
    def url(self) -> str:
        """Where the chain runs (for messages): there is no RPC endpoint."""
        return "revm (in process)"

    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    def block_number(self) -> int:
        return self._number

    def latest_timestamp(self) -> int:
        return self._timestamp

    def close(self) -> None:
        """Nothing to stop: the EVM is freed with the object."""

    # -- the open block ------------------------------------------------------------------------

    def _close_block(self) -> None:
        """Forget the block being built (after it was mined or dropped)."""
        self._sent: list[int] = []  # indices (in this block's call list) sent, not yet mined
        self._executed = 0  # how many of ``_sent`` are applied to the EVM
        self._block_checkpoint = None
        self._block_nonces: dict[str, int] = {}
        self._block_log_len = 0
        self._block_timestamp: int | None = None
        self._block_log_index = 0

    def _pending_timestamp(self) -> int:
        """Timestamp of the block being built (decided once, when first needed)."""
        if self._block_timestamp is None:
            upcoming = self._upcoming_timestamp()
            if upcoming is None:  # the node's own clock: wall clock plus advances
                now = int(time.time())
                if self._next_timestamp_s is not None:
                    upcoming = self._next_timestamp_s
                    self._time_offset_s = upcoming - now
                else:
                    # anvil's rule: never before the latest block, but the same second is fine
                    upcoming = max(now + self._time_offset_s, self._timestamp)
            self._block_timestamp = upcoming
        return self._block_timestamp

    def _open_block(self) -> None:
        if self._block_checkpoint is not None:
            return
        self._block_checkpoint = self._evm.snapshot()
        self._block_nonces = dict(self._nonces)
        self._block_log_len = len(self._log)
        timestamp = self._pending_timestamp()
        self._log.append(["block", self._number + 1, timestamp])
        self._set_block_env(self._number + 1, timestamp)

    def _set_block_env(self, number: int, timestamp: int) -> None:
        self._evm.set_block_env(
            self._pyrevm.BlockEnv(
                number=number, timestamp=timestamp, gas_limit=self.config.block_gas_limit
            )
        )

    def _rewind(self) -> None:
        """Undo the executed calls of the open block (they run again when next needed), and
        let the next block's timestamp be decided again."""
        self._block_timestamp = None
        if self._block_checkpoint is None:
            return
        self._evm.revert(self._block_checkpoint)
        self._nonces = self._block_nonces
        del self._log[self._block_log_len :]
        for i in self._sent:
            self._block_results[i] = None
        self._executed = 0
        self._block_checkpoint = None
        self._block_log_index = 0

    def _execute_pending(self) -> None:
        """Apply every sent call of the open block not yet applied."""
        if self._executed == len(self._sent):
            return
        self._open_block()
        for position in range(self._executed, len(self._sent)):
            i = self._sent[position]
            self._block_results[i] = self._transact(i, self._block_calls[i], position)
        self._executed = len(self._sent)

    # -- transactions --------------------------------------------------------------------------

    def _transact(self, index: int, call: Call, position: int) -> TxResult:
        """Execute one call on the EVM; log it for replay; its result as anvil would give it."""
        evm = self._evm
        sender = call.sender
        nonce = self._nonces.get(sender)
        if nonce is None:
            nonce = evm.basic(sender).nonce
        entry = ["tx", sender, call.to, call.data.hex(), call.gas, call.value_wei]
        created = None
        try:
            if call.to is None:
                self._set_account_nonce(sender, nonce)
                entry.append(nonce)
                created = evm.deploy(sender, call.data, value=call.value_wei, gas=call.gas)
            else:
                evm.message_call(sender, call.to, call.data, value=call.value_wei, gas=call.gas)
            error = None
        except RuntimeError as exc:
            error = str(exc)
        result = evm.result
        if result is None:
            # Refused before execution (e.g. too little gas for the calldata, or ether it does
            # not have): not in the block, and the nonce is not used, as on anvil.
            return TxResult(index, call.label, False, error=error)
        self._nonces[sender] = nonce + 1
        self._log.append(entry)
        ok = error is None and result.is_success
        raw_logs: list[tuple[Any, int]] = []
        if ok:
            # Decoded on first use (TxResult.events); the log index is the block's now.
            first = self._block_log_index
            raw_logs = [(log, first + k) for k, log in enumerate(result.logs)]
            self._block_log_index += len(raw_logs)
        decoded_error = None
        if not ok:
            match = _OUTPUT.search(error or "")
            decoded_error = self.registry.decode_error(
                bytes.fromhex(match.group(1) if match else "")
            )
        return TxResult(
            index=index,
            label=call.label,
            ok=ok,
            tx_hash=None,
            block_number=self._number + 1,
            position=position,
            gas_used=max(result.gas_used + result.gas_refunded, intrinsic_gas(call)),
            error=decoded_error,
            contract_address=to_checksum_address(created) if ok and created else None,
            raw_logs=raw_logs,
            decode=self._decode_log,
        )

    def _decode_log(self, raw: tuple[Any, int]) -> DecodedEvent | None:
        """One pyrevm log (with its index in the block) as a decoded event, ``None`` if
        unknown."""
        log, log_index = raw
        topics, data = log.data
        return self.registry.decode_log_raw(log.address, topics, data, log_index)

    def _set_account_nonce(self, address: str, nonce: int) -> None:
        info = self._evm.basic(address)
        if info.nonce != nonce:
            self._evm.insert_account_info(address, self._account_info(info, nonce=nonce))

    def _account_info(self, info, *, nonce: int | None = None, balance: int | None = None):
        """A copy of pyrevm ``AccountInfo`` ``info`` with a new nonce or balance."""
        code = info.code
        return self._pyrevm.AccountInfo(
            balance=info.balance if balance is None else balance,
            nonce=info.nonce if nonce is None else nonce,
            code_hash=info.code_hash,
            code=code if code and any(code) else None,
        )

    # -- BlockAssembly hooks --------------------------------------------------------------------

    def submit(self, calls: Sequence[Call], *, max_block_calls: int | None = None) -> None:
        start = time.perf_counter()
        self._assemble(calls, max_block_calls)
        self.stats.seconds += time.perf_counter() - start

    def _send(self, indices: list[int]) -> None:
        self._sent += indices  # executed lazily: at a pending read or the mine

    def _mine_block(self) -> None:
        """Mine the sent calls (possibly none: an empty block) into one block."""
        self._execute_pending()
        self._open_block()  # an empty block still gets its number and timestamp
        if self._block_checkpoint is not None:
            # Keep the block's changes: the checkpoint is folded into the one below it.
            self._evm.commit()
        self._number += 1
        self._timestamp = self._pending_timestamp()
        if self._clock_s is not None:
            self._clock_s = self._timestamp
        self._next_timestamp_s = None
        self._pending_gas = 0
        self._close_block()
        self.stats.blocks += 1

    def mine(self) -> list[TxResult]:
        start = time.perf_counter()
        self._mine_block()
        results, self._block_calls, self._block_results = self._block_results, [], []
        self.stats.transactions += len(results)
        self.stats.seconds += time.perf_counter() - start
        return results  # type: ignore[return-value]

    def mine_empty(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (time passes, nothing executes)."""
        for _ in range(blocks):
            self.mine()

    # -- reads ---------------------------------------------------------------------------------

    def read(
        self, views: Sequence[View], *, strict: bool = True, pending: bool = False
    ) -> list[Any]:
        if pending:
            self._execute_pending()
            self._set_block_env(self._number + 1, self._pending_timestamp())
        else:
            self._rewind()
            self._set_block_env(self._number, self._timestamp)
        evm = self._evm
        # Views leave no trace: not in the state, the journal or the replay log.
        checkpoint = evm.snapshot()
        out: list[Any] = []
        try:
            for view in views:
                try:
                    output = evm.message_call(
                        VIEW_CALLER, view.to, view.data, gas=self.block_gas_limit, is_static=True
                    )
                except RuntimeError as exc:
                    match = _OUTPUT.search(str(exc))
                    if match is None:
                        raise RpcError("eth_call", None, str(exc)) from None
                    decoded = self.registry.decode_error(bytes.fromhex(match.group(1)))
                    if strict:
                        raise TransactionReverted(
                            view.label or view.function.name, decoded
                        ) from None
                    out.append(ViewError(view.label, decoded))
                    continue
                out.append(view.function.decode(output))
        finally:
            evm.revert(checkpoint)
        return out

    # -- state control -------------------------------------------------------------------------

    def snapshot(self) -> str:
        self._rewind()  # a snapshot holds the latest block, not the one being built
        self._snapshot_ids += 1
        snapshot_id = hex(self._snapshot_ids)
        self._snapshots.append(
            _Snapshot(
                snapshot_id,
                self._evm.snapshot(),
                dict(self._nonces),
                len(self._log),
                self._number,
                self._timestamp,
            )  # fmt: skip
        )
        return snapshot_id

    def revert(self, snapshot_id: str) -> None:
        position = next((k for k, s in enumerate(self._snapshots) if s.id == snapshot_id), None)
        if position is None:
            raise ChainError(
                f"cannot revert to snapshot {snapshot_id}: it was already used by a revert (to "
                "it or to an earlier snapshot) or was not taken on this chain; take a new one"
            )
        self._rewind()
        self._block_calls, self._block_results, self._pending_gas = [], [], 0
        self._close_block()
        snap = self._snapshots[position]
        for _ in self._snapshots[position + 1 :]:
            self._evm.commit()  # later checkpoints are undone with this one: drop their depth
        del self._snapshots[position:]
        self._evm.revert(snap.checkpoint)
        self._nonces = snap.nonces
        del self._log[snap.log_len :]
        self._number, self._timestamp = snap.number, snap.timestamp
        # The clock goes back too (as anvil resets its clock to the restored block's time).
        self._time_offset_s = self._timestamp - int(time.time())
        self._next_timestamp_s = None
        if self._clock_s is not None:
            self._clock_s = self._timestamp

    def set_balance(self, accounts: Sequence[str], wei: int) -> None:
        self._rewind()
        for account in accounts:
            self._set_balance(to_checksum_address(account), int(wei))
            self._log.append(["balance", account, int(wei)])

    def _set_balance(self, account: str, wei: int) -> None:
        evm = self._evm
        have = evm.get_balance(account)
        if evm.get_code(account):
            # revm refuses a contract as the sender of a transfer (EIP-3607): set it directly
            # (not undone by a revert, unlike the transfers below).
            evm.insert_account_info(account, self._account_info(evm.basic(account), balance=wei))
        elif have < wei:
            evm.message_call(FAUCET_ADDRESS, account, b"", value=wei - have, gas=100_000)
        elif have > wei:
            evm.message_call(account, FAUCET_ADDRESS, b"", value=have - wei, gas=100_000)

    def get_code(self, address: str) -> bytes:
        self._rewind()
        return bytes(self._evm.get_code(address) or b"")

    def use_fixed_clock(self, start_timestamp_s: int) -> None:
        self._rewind()  # calls already applied saw the node's clock
        super().use_fixed_clock(start_timestamp_s)

    def set_next_block_timestamp(self, timestamp_s: int) -> None:
        self._rewind()  # calls already applied saw the old timestamp
        self._next_timestamp_s = int(timestamp_s)

    def _advance_node_clock(self, seconds: int) -> None:
        self._rewind()
        self._time_offset_s += seconds

    def dump_state(self) -> bytes:
        """The replay log: every transaction, balance change and block stamp so far (exact)."""
        self._rewind()
        body = {
            "chain_id": self.config.chain_id,
            "genesis": list(self._genesis),
            "fork_url": self.config.fork_url,
            "entries": self._log,
            "latest": [self._number, self._timestamp],
        }
        payload = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)
        return REVM_REPLAY_MAGIC + bytes([REPLAY_FORMAT_VERSION]) + payload

    def load_state(self, state: bytes) -> None:
        """Replace the whole state by a :meth:`dump_state`'s (replayed on a fresh EVM)."""
        require_dump_of("revm", state)
        version = state[len(REVM_REPLAY_MAGIC)]
        if version != REPLAY_FORMAT_VERSION:
            raise ChainError(
                f"the saved revm state has replay format {version}; this perpsim reads "
                f"format {REPLAY_FORMAT_VERSION}"
            )
        body = json.loads(zlib.decompress(state[len(REVM_REPLAY_MAGIC) + 1 :]))
        if body["chain_id"] != self.config.chain_id or body["fork_url"] != self.config.fork_url:
            raise ChainError("the saved revm state belongs to another chain (id or fork differs)")
        self._replay(body)

    def _replay(self, body: dict) -> None:
        self._block_calls, self._block_results, self._pending_gas = [], [], 0
        self._start()
        evm = self._evm
        self._number, self._timestamp = body["genesis"]
        for entry in body["entries"]:
            kind = entry[0]
            if kind == "block":
                if entry[1] != self._number + 1:
                    raise ChainError("the saved revm state is not a consecutive replay log")
                self._set_block_env(entry[1], entry[2])
                self._number, self._timestamp = entry[1], entry[2]
            elif kind == "balance":
                self._set_balance(to_checksum_address(entry[1]), entry[2])
            else:
                _, sender, to, data, gas, value = entry[:6]
                try:
                    if to is None:
                        self._set_account_nonce(sender, entry[6])
                        evm.deploy(sender, bytes.fromhex(data), value=value, gas=gas)
                    else:
                        evm.message_call(sender, to, bytes.fromhex(data), value=value, gas=gas)
                except RuntimeError:
                    pass  # a revert then is a revert now: same state either way
                self._nonces[sender] = self._nonces.get(sender, evm.basic(sender).nonce) + 1
            self._log.append(entry)
        if [self._number, self._timestamp] != body["latest"]:
            raise ChainError("the saved revm state is truncated (its last block is missing)")
        if self._clock_s is not None:
            self._clock_s, self._next_timestamp_s = self._timestamp, None
