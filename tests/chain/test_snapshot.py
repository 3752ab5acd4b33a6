"""Snapshots: every scenario variant starts from the same deployed world."""

from __future__ import annotations


def test_isolate_restores_balances_block_number_and_nonces(chain, token, deployer, agents):
    before_block = chain.block_number()
    before = chain.read([token.balance_of(a) for a in agents[:3]])
    for _ in range(2):  # the same variant twice gives the same outcome
        with chain.isolate():
            results = chain.execute(
                [token.mint(deployer, agents[0], 500), token.transfer(agents[0], agents[1], 200)]
            )
            assert all(r.ok for r in results)
            assert chain.read([token.balance_of(a) for a in agents[:2]]) == [
                before[0] + 300,
                before[1] + 200,
            ]
        assert chain.block_number() == before_block
        assert chain.read([token.balance_of(a) for a in agents[:3]]) == before


def test_explicit_snapshot_and_revert(chain, token, deployer, agents):
    snap = chain.snapshot()
    chain.execute([token.mint(deployer, agents[5], 7)])
    assert chain.read_one(token.balance_of(agents[5])) == 7
    chain.revert(snap)
    assert chain.read_one(token.balance_of(agents[5])) == 0
