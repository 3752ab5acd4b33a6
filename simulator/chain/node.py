"""Lifecycle of a local anvil node: start on a free port, wait until it answers, stop it.

The node is a child process. It is stopped when the :class:`AnvilNode` context exits (normally,
on exception, or on Ctrl-C), at interpreter exit, and, on Linux, by the kernel when the Python
process dies without cleaning up (``PR_SET_PDEATHSIG``), so no anvil outlives its owner.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from simulator.chain.rpc import RpcClient
from simulator.errors import NodeStartError, RpcUnreachable
from simulator.paths import NODE_BIN_DIR

#: Environment variable that overrides where the anvil binary is looked up.
ANVIL_ENV = "PERPSIM_ANVIL"

_live_nodes: weakref.WeakSet[AnvilNode] = weakref.WeakSet()


@dataclass(frozen=True)
class AnvilConfig:
    """How to start anvil. Defaults suit the simulator's batched hot loop."""

    port: int | None = None
    """TCP port on 127.0.0.1; ``None`` picks a free one."""
    chain_id: int = 31337
    """EIP-155 chain id the node reports."""
    accounts: int = 10
    """Number of funded dev accounts (anvil's default mnemonic)."""
    balance_eth: int = 1_000_000
    """Ether per dev account."""
    block_gas_limit: int = 1_000_000_000
    """Block gas limit in gas; the batched sender splits batches by it."""
    code_size_limit: int | None = None
    """Contract code size limit in bytes; ``None`` keeps EIP-170's 24,576 bytes."""
    base_fee_wei: int = 0
    """Base fee per gas of the first block; 0 lets impersonated agents send without ether."""
    fork_url: str | None = None
    """Fork the state of this RPC endpoint (a real local fork, offline if the source is local)."""
    fork_block: int | None = None
    """Block number to fork at; ``None`` forks at the source's latest block."""
    split_state: bool = False
    """Run as a local fork of a second, empty anvil. anvil computes no state root for a forked
    database, which makes mining a block with a large state about twice as fast (measured: the
    oct-2025 run in 24 s instead of 38 s, identical results). Two processes instead of one."""
    history_states: int | None = None
    """Keep only this many past block states in memory (``--prune-history``); ``None`` keeps
    all. anvil's memory otherwise grows with every block (1.6 GB over oct-2025's 1,440 blocks);
    the simulator only reads the latest and pending states and traces the latest block."""
    genesis_timestamp_s: int | None = None
    """Timestamp of the genesis block (Unix seconds); ``None`` = the wall clock."""
    extra_args: tuple[str, ...] = field(default_factory=tuple)
    """Further command-line arguments passed to anvil unchanged."""
    start_timeout_s: float = 30.0
    """Seconds to wait for the node to answer before giving up."""

    def command(self, binary: str, port: int) -> list[str]:
        cmd = [
            binary,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--gas-limit", str(self.block_gas_limit),
            "--base-fee", str(self.base_fee_wei),
            "--order", "fees",
            # A resumed run loads its saved state in one anvil_loadState body, beyond the
            # default 2 MB limit once the world holds a few thousand accounts.
            "--no-request-size-limit",
        ]  # fmt: skip
        if self.history_states is not None:
            cmd += ["--prune-history", str(self.history_states)]
        if self.genesis_timestamp_s is not None:
            cmd += ["--timestamp", str(self.genesis_timestamp_s)]
        if self.code_size_limit is not None:
            cmd += ["--code-size-limit", str(self.code_size_limit)]
        if self.fork_url:
            # No on-disk RPC cache: it is keyed by chain id and block number only, so two local
            # chains with the same id (every dev chain is 31337) would read each other's state.
            cmd += ["--fork-url", self.fork_url, "--no-storage-caching"]
            if self.fork_block is not None:
                cmd += ["--fork-block-number", str(self.fork_block)]
        cmd += list(self.extra_args)
        return cmd


def find_anvil() -> str:
    """Path of the anvil binary: ``$PERPSIM_ANVIL``, the project's npm package, then PATH.

    The npm package's ``node_modules/.bin/anvil`` is a Node wrapper that runs the real binary
    as its own child; the binary is started directly instead, so that stopping (or the death
    signal of) the process we started stops anvil itself, with no wrapper in between whose
    SIGKILL would orphan it.
    """
    override = os.environ.get(ANVIL_ENV)
    if override is not None:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return override
        raise NodeStartError(f"anvil not found at {ANVIL_ENV}={override}; run `make setup`")
    for binary in sorted(NODE_BIN_DIR.parent.glob("@foundry-rs/anvil-*/bin/anvil")):
        if os.access(binary, os.X_OK):
            return str(binary)
    local = NODE_BIN_DIR / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found:
        return found
    raise NodeStartError(
        "anvil not found (looked in node_modules/@foundry-rs and on PATH); run `make setup`"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM the child when the parent dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


class AnvilNode:
    """A running anvil child process; use as a context manager.

    >>> with AnvilNode() as node:          # doctest: +SKIP
    ...     node.rpc.request("eth_chainId")
    '0x7a69'
    """

    def __init__(self, config: AnvilConfig | None = None, *, die_with_parent: bool = True):
        self.config = config or AnvilConfig()
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.rpc: RpcClient | None = None
        self._log = None
        self.home: str | None = None
        """The node's own ``HOME`` (a temporary folder, removed by :meth:`stop`): anvil keeps
        past block states beyond its in-memory window in ``$HOME/.foundry/anvil/tmp`` and does
        not remove them when it stops, so a node sharing the user's home would leave them
        behind (measured: about 1.2 GB per test session's node, 77 GB over a day of runs).
        ``None`` for a node that may outlive us (:meth:`detach`): it keeps the user's home."""

    @property
    def url(self) -> str:
        if self.port is None:
            raise NodeStartError("anvil is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> AnvilNode:
        binary = find_anvil()
        if self.config.port is not None:
            if port_in_use(self.config.port):
                raise NodeStartError(f"port {self.config.port} is already in use on 127.0.0.1")
            ports = [self.config.port]
        else:
            ports = [free_port() for _ in range(3)]  # retried if another process races us
        last_error = ""
        for port in ports:
            try:
                self._spawn(binary, port)
                self._wait_ready()
                _live_nodes.add(self)
                return self
            except NodeStartError as exc:
                last_error = str(exc)
                self.stop()
                if "in use" not in last_error or self.config.port is not None:
                    raise
        raise NodeStartError(last_error)

    def _spawn(self, binary: str, port: int) -> None:
        self._log = tempfile.TemporaryFile(prefix="anvil-", suffix=".log")
        self.port = port
        env = None
        if self.die_with_parent:
            self.home = tempfile.mkdtemp(prefix="perpsim-anvil-home-")
            env = {**os.environ, "HOME": self.home}
        self.process = subprocess.Popen(
            self.config.command(binary, port),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
            # A node that may outlive us does not share our session (a later Ctrl-C in the
            # terminal is not its business).
            start_new_session=not self.die_with_parent,
        )
        self.rpc = RpcClient(self.url, timeout_s=300.0)

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines()]
        lines = [ln for ln in lines if ln]
        return lines[-1] if lines else ""

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        probe = RpcClient(self.url, timeout_s=2.0)
        try:
            while True:
                if self.process.poll() is not None:
                    tail = self._log_tail()
                    if "in use" in tail.lower():
                        raise NodeStartError(f"port {self.port} is already in use on 127.0.0.1")
                    if self.config.fork_url:
                        raise NodeStartError(
                            f"anvil could not fork {self.config.fork_url}: {tail or 'it exited'}"
                        )
                    raise NodeStartError(
                        f"anvil exited with code {self.process.returncode}: {tail or 'no output'}"
                    )
                try:
                    probe.request("eth_chainId")
                    return
                except RpcUnreachable:
                    pass
                if time.monotonic() > deadline:
                    raise NodeStartError(
                        f"anvil did not answer on port {self.port} within "
                        f"{self.config.start_timeout_s:g} s"
                    )
                time.sleep(0.05)
        finally:
            probe.close()

    def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        proc, self.process = self.process, None
        if self.rpc is not None:
            self.rpc.close()
            self.rpc = None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        home, self.home = self.home, None
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
        _live_nodes.discard(self)

    def detach(self) -> int:
        """Let the node run on after we are gone (it becomes the caller's); return its PID.

        It is no longer stopped on exit, by :meth:`stop` or by the context manager. Start it
        with ``die_with_parent=False``, or the kernel stops it when this process exits.
        """
        if self.process is None or self.process.poll() is not None:
            raise NodeStartError("anvil is not running")
        pid = self.process.pid
        self.process = None
        if self.rpc is not None:
            self.rpc.close()
            self.rpc = None
        if self._log is not None:
            self._log.close()  # the node keeps its own handle on the (unlinked) log file
            self._log = None
        self.home = None  # the node goes on using its home: it is the caller's now
        _live_nodes.discard(self)
        return pid

    def __enter__(self) -> AnvilNode:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):  # last resort; the context manager is the normal path
        try:
            self.stop()
        except Exception:
            pass


@atexit.register
def _stop_all_nodes() -> None:
    for node in list(_live_nodes):
        node.stop()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _install_sigterm_handler() -> None:
    """Turn SIGTERM into SystemExit in the main thread so context managers stop their nodes."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        try:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        except ValueError:  # not the main thread (e.g. inside Streamlit's script runner)
            pass


_install_sigterm_handler()
