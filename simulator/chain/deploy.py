"""Deploying one contract through any :class:`Chain` (a whole venue:
``simulator.protocol.venue_deploy``)."""

from __future__ import annotations

from typing import Any

from simulator.chain.artifacts import Artifacts, load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import ContractWrapper
from simulator.chain.types import Call
from simulator.errors import DeployError

#: Gas reserved for one contract creation (gas units).
DEPLOY_GAS = 15_000_000
#: anvil's first dev account (default mnemonic); the deployer in simulations.
DEFAULT_DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def deploy_contract(
    chain: Chain,
    wrapper_cls: type[ContractWrapper],
    *constructor_args: Any,
    sender: str = DEFAULT_DEPLOYER,
    artifacts: Artifacts | None = None,
    contract_name: str | None = None,
) -> ContractWrapper:
    """Deploy one contract and return its typed wrapper."""
    artifacts = artifacts or load_artifacts()
    ctype = artifacts[contract_name or wrapper_cls.CONTRACT_NAME]
    init_code = ctype.bytecode + ctype.constructor().encode(*constructor_args)
    result = chain.execute_one(
        Call(sender=sender, to=None, data=init_code, gas=DEPLOY_GAS, label=f"deploy {ctype.name}")
    )
    if not result.ok or not result.contract_address:
        raise DeployError(f"deploying {ctype.name} failed: {result.error}")
    return wrapper_cls(chain, ctype, result.contract_address)
