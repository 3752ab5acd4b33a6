from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from simulator.chain import DEFAULT_DEPLOYER, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken


@pytest.fixture(scope="module")
def chain():
    """One embedded anvil per test module."""
    with open_chain() as c:
        yield c


@pytest.fixture(scope="module")
def deployer() -> str:
    return DEFAULT_DEPLOYER


@pytest.fixture(scope="module")
def agents() -> list[str]:
    return [to_checksum_address(keccak(text=f"test-agent-{i}")[-20:]) for i in range(20)]


@pytest.fixture(scope="module")
def token(chain, deployer) -> CollateralToken:
    return deploy_contract(chain, CollateralToken, "Test USD", "tUSD", deployer, sender=deployer)


@pytest.fixture()
def world(chain):
    """Each test that asks for it starts from, and leaves, the same state."""
    with chain.isolate():
        yield chain
