"""A local fork of another node, fully offline: anvil B forks anvil A."""

from __future__ import annotations

from simulator.chain import DEFAULT_DEPLOYER, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken

ALICE = "0x00000000000000000000000000000000000A11CE"


def test_fork_sees_source_contracts_and_leaves_the_source_unchanged():
    with open_chain() as a:
        token_a = deploy_contract(a, CollateralToken, "A USD", "aUSD", DEFAULT_DEPLOYER)
        a.execute([token_a.mint(DEFAULT_DEPLOYER, ALICE, 1_000)])
        block_a = a.block_number()
        code_a = a.get_code(token_a.address)

        with open_chain(fork_url=a.url) as b:
            assert b.node is not None and b.node.url != a.url
            assert b.get_code(token_a.address) == code_a
            token_b = CollateralToken(b, token_a.contract_type, token_a.address)
            assert b.read_one(token_b.balance_of(ALICE)) == 1_000

            results = b.execute(
                [
                    token_b.mint(DEFAULT_DEPLOYER, ALICE, 5_000),
                    token_b.transfer(ALICE, DEFAULT_DEPLOYER, 10),
                ]
            )
            assert all(r.ok for r in results)
            assert b.read_one(token_b.balance_of(ALICE)) == 5_990
            assert b.block_number() > block_a

        # The source saw none of the fork's writes.
        assert a.block_number() == block_a
        assert a.read_one(token_a.balance_of(ALICE)) == 1_000


def test_fork_at_a_given_block_sees_the_state_of_that_block():
    with open_chain() as a:
        token_a = deploy_contract(a, CollateralToken, "A USD", "aUSD", DEFAULT_DEPLOYER)
        a.execute([token_a.mint(DEFAULT_DEPLOYER, ALICE, 1)])
        at = a.block_number()
        a.execute([token_a.mint(DEFAULT_DEPLOYER, ALICE, 1)])
        with open_chain(fork_url=a.url, fork_block=at) as b:
            token_b = CollateralToken(b, token_a.contract_type, token_a.address)
            assert b.read_one(token_b.balance_of(ALICE)) == 1
