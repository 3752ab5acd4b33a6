"""Three ways to reach a chain, one context manager.

* embedded (default): start anvil on a free port, stop it when done;
* ``rpc_url``: use an existing node (it must speak anvil's dev methods for the hot loop);
* ``fork_url`` (+ ``fork_block``): start anvil as a local fork of any node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from simulator.chain.artifacts import load_artifacts
from simulator.chain.node import AnvilConfig, AnvilNode
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import RpcChain
from simulator.errors import ChainError, RpcError, RpcUnreachable


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
) -> Iterator[RpcChain]:
    """Yield a connected :class:`RpcChain`; stop any node it started on exit."""
    if rpc_url and fork_url:
        raise ChainError("give either --rpc or --fork-url, not both")
    if fork_block is not None and not fork_url:
        raise ChainError("--fork-block needs --fork-url")
    if fork_block is not None and fork_block < 0:
        raise ChainError(f"--fork-block must be >= 0, got {fork_block}")
    registry = load_artifacts().registry
    if rpc_url:
        probe_node(rpc_url)
        client = RpcClient(rpc_url)
        chain = RpcChain(client, registry)
        try:
            yield chain
        finally:
            chain.close()
        return
    config = anvil or AnvilConfig()
    if fork_url:
        probe_node(fork_url, "fork")
        config = replace(config, fork_url=fork_url, fork_block=fork_block)
    elif config.split_state:
        # An empty source node and a fork of it (see AnvilConfig.split_state).
        with AnvilNode(replace(config, split_state=False)) as source:
            with AnvilNode(
                replace(config, split_state=False, fork_url=source.url, genesis_timestamp_s=None)
            ) as node:
                yield RpcChain(node.rpc, registry, node=node)
        return
    with AnvilNode(config) as node:
        yield RpcChain(node.rpc, registry, node=node)
