"""The chain layer: node lifecycle, JSON-RPC, batched sender and reads, snapshots, wrappers.

Public entry points:

* :func:`open_chain` -- embedded anvil, an existing RPC, a local fork, or in-process revm;
* :class:`Chain` -- the interface the engine uses (``execute``, ``read``, ``isolate``...);
* :func:`deploy_contract` -- deploy one contract and get its typed wrapper (a whole venue:
  :func:`simulator.protocol.venue_deploy.deploy_multi_venue`).
"""

from simulator.chain.base import Chain
from simulator.chain.connect import BACKENDS, check_backend, open_chain, probe_node
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract
from simulator.chain.node import AnvilConfig, AnvilNode
from simulator.chain.types import Call, TxResult, View, ViewError

__all__ = [
    "BACKENDS",
    "AnvilConfig",
    "AnvilNode",
    "Call",
    "Chain",
    "DEFAULT_DEPLOYER",
    "TxResult",
    "View",
    "ViewError",
    "check_backend",
    "deploy_contract",
    "open_chain",
    "probe_node",
]
