from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from simulator.chain import BACKENDS, DEFAULT_DEPLOYER, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken


@pytest.fixture(scope="module", params=BACKENDS)
def chain(request):
    """One chain per test module and backend: embedded anvil (the reference) and revm."""
    with open_chain(backend=request.param) as c:
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
