"""Three ways to reach a chain, one context manager.

* embedded (default): start anvil on a free port, stop it when done;
* ``rpc_url``: use an existing node (it must speak anvil's dev methods for the hot loop); the
  modes the hot loop changes (automine, interval mining, auto-impersonation) are restored;
* ``fork_url`` (+ ``fork_block``): start anvil as a local fork of any node.

``backend="revm"`` runs the same contracts in process instead (:class:`RevmChain`): embedded
or a fork of ``fork_url``; an ``rpc_url`` is refused (there is no node to connect to).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from simulator.chain.artifacts import load_artifacts
from simulator.chain.base import Chain
from simulator.chain.node import AnvilConfig, AnvilNode
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import NodeModes, RpcChain
from simulator.errors import ChainError, RpcError, RpcUnreachable

#: Chain backends: anvil over JSON-RPC (the default and the reference), revm in process.
BACKENDS = ("anvil", "revm")


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`; otherwise a one-line :class:`ChainError`."""
    if backend not in BACKENDS:
        raise ChainError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def probe_node(url: str, what: str = "RPC") -> int:
    """Check that ``url`` answers JSON-RPC; return its chain id or raise a one-line error."""
    client = RpcClient(url, timeout_s=10.0)
    try:
        return int(client.request("eth_chainId"), 16)
    except RpcUnreachable as exc:
        raise RpcUnreachable(f"{what} URL {url} is not usable: {exc}") from None
    except RpcError as exc:
        raise RpcUnreachable(f"{what} URL {url} is not an Ethereum node: {exc}") from None
    finally:
        client.close()


@contextmanager
def open_chain(
    rpc_url: str | None = None,
    fork_url: str | None = None,
    fork_block: int | None = None,
    anvil: AnvilConfig | None = None,
    keep_node: bool = False,
    backend: str = "anvil",
) -> Iterator[Chain]:
    """Yield a connected chain (:class:`RpcChain`, or :class:`RevmChain` with
    ``backend="revm"``); stop any node it started on exit.

    A node given by ``rpc_url`` is not ours: its automine, interval mining and
    auto-impersonation are read first and restored on exit (normal, error or Ctrl-C), and
    transactions left unmined are dropped. Blocks mined and state written stay, and so does
    the clock: block timestamps only move forward.

    ``keep_node``: the embedded anvil is not stopped when the block ends without error; it
    runs on, in its own session, as the caller's (``chain.node.pid``); a failure stops it.

    ``anvil`` configures the embedded node; with revm its chain id, block gas limit, genesis
    timestamp and code size limit configure the in-process EVM the same way.
    """
    check_backend(backend)
    if keep_node and backend != "anvil":
        raise ChainError("--keep-node keeps an embedded anvil; with --backend revm there is none")
    if rpc_url and fork_url:
        raise ChainError("give either --rpc or --fork-url, not both")
    if fork_block is not None and not fork_url:
        raise ChainError("--fork-block needs --fork-url")
    if fork_block is not None and fork_block < 0:
        raise ChainError(f"--fork-block must be >= 0, got {fork_block}")
    if rpc_url and keep_node:
        raise ChainError("--keep-node keeps the embedded anvil; a node given with --rpc is yours")
    registry = load_artifacts().registry
    if backend == "revm":
        if rpc_url:
            raise ChainError(
                "--rpc cannot be used with --backend revm (the EVM runs in this process); "
                "use --fork-url to start from a node's state, or --backend anvil"
            )
        yield _open_revm(registry, anvil or AnvilConfig(), fork_url, fork_block)
        return
    if rpc_url:
        probe_node(rpc_url)
        client = RpcClient(rpc_url)
        modes = NodeModes.read(client)
        chain = RpcChain(client, registry)
        try:
            yield chain
        except BaseException:
            _leave_as_found(chain, modes, quiet=True)
            raise
        else:
            _leave_as_found(chain, modes, quiet=False)
        return
    config = anvil or AnvilConfig()
    if fork_url:
        probe_node(fork_url, "fork")
        config = replace(config, fork_url=fork_url, fork_block=fork_block)
    elif config.split_state:
        if keep_node:
            raise ChainError("keep_node needs a single node (split_state=False)")
        # An empty source node and a fork of it (see AnvilConfig.split_state).
        with AnvilNode(replace(config, split_state=False)) as source:
            with AnvilNode(
                replace(config, split_state=False, fork_url=source.url, genesis_timestamp_s=None)
            ) as node:
                yield RpcChain(node.rpc, registry, node=node)
        return
    with AnvilNode(config, die_with_parent=not keep_node) as node:
        yield RpcChain(node.rpc, registry, node=node)
        if keep_node:
            node.detach()  # only on success: a failed command stops its node


def _leave_as_found(chain: RpcChain, modes: NodeModes, *, quiet: bool) -> None:
    """Drop the run's unmined transactions and restore the node's modes, then disconnect.

    ``quiet``: another error is on its way out (it may be that the node died), so a failure
    here is not reported over it."""
    try:
        chain.drop_pending()
        modes.restore(chain.rpc)
    except ChainError as exc:
        if not quiet:
            raise ChainError(
                f"could not restore the modes of the node at {chain.url} ({exc}); it may "
                f"still have automine off and auto-impersonation on"
            ) from None
    finally:
        chain.close()


def _open_revm(registry, config: AnvilConfig, fork_url: str | None, fork_block: int | None):
    from simulator.chain.revm_chain import RevmChain, RevmConfig

    chain_id = config.chain_id
    if fork_url:
        chain_id = probe_node(fork_url, "fork")
    return RevmChain(
        RevmConfig(
            chain_id=chain_id,
            block_gas_limit=config.block_gas_limit,
            genesis_timestamp_s=config.genesis_timestamp_s,
            code_size_limit=config.code_size_limit,
            fork_url=fork_url,
            fork_block=fork_block,
        ),
        registry,
    )
