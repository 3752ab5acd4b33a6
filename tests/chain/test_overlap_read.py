"""Mine-and-read with the block's trace and logs on the worker thread (the views on the calling
thread) gives what the one-batch path gives: statuses, errors, gas, positions, events, reads."""

from __future__ import annotations

import pytest

from simulator.chain import Call, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken


def _block(token: CollateralToken, deployer: str, agents: list[str]) -> list[Call]:
    a, b, c, poor = agents[0], agents[1], agents[2], agents[9]
    calls = [token.mint(deployer, agents[i % 6], 10 + i) for i in range(40)]
    calls += [
        token.transfer(a, b, 10**9),  # more than a holds: reverts
        Call(sender=poor, to=a, data=b"", gas=21_000, value_wei=10**30, label="too rich"),
        token.transfer(b, c, 3),
        token.approve(c, a, 7),
    ]
    return calls


def _facts(results, reads):
    return [
        (
            r.index,
            r.label,
            r.ok,
            r.position,
            r.gas_used,
            str(r.error),
            [(e.name, e.address, e.args, e.log_index) for e in r.events],
        )
        for r in results
    ], reads


@pytest.fixture(scope="module")
def anvil():
    with open_chain(backend="anvil") as chain:
        yield chain


def test_overlapped_mine_and_read_equals_one_batch(anvil, deployer, agents):
    token = deploy_contract(anvil, CollateralToken, "Test USD", "tUSD", deployer, sender=deployer)
    views = [token.balance_of(x) for x in agents[:6]] + [token.total_supply()]
    seen = []
    for overlap in (False, True, False, True):
        anvil.overlap_block_reads = overlap
        with anvil.isolate():
            anvil.submit(_block(token, deployer, agents))
            seen.append(_facts(*anvil.mine_and_read(views)))
        if overlap:  # the worker thread fetched the block's results
            assert anvil._background is not None
    assert seen[0] == seen[1] == seen[2] == seen[3]
    results, reads = seen[1]
    assert [ok for _, _, ok, *_ in results].count(False) == 2  # the revert and the refused send
    assert any(events for *_, events in results)
    assert reads[-1] == sum(10 + i for i in range(40))
    anvil.overlap_block_reads = True


def test_mine_then_read_gives_the_same_and_joins_before_other_requests(anvil, deployer, agents):
    token = deploy_contract(anvil, CollateralToken, "Test USD", "tUSD", deployer, sender=deployer)
    views = [token.balance_of(x) for x in agents[:6]] + [token.total_supply()]
    with anvil.isolate():
        anvil.submit(_block(token, deployer, agents))
        expected = _facts(*anvil.mine_and_read(views))
    with anvil.isolate():
        anvil.submit(_block(token, deployer, agents))
        results, collect = anvil.mine_then_read(views)
        assert anvil._read_in_flight is not None  # the views are read on the reader's thread
        assert _facts(results, collect()) == expected
    with anvil.isolate():
        anvil.submit(_block(token, deployer, agents))
        results, collect = anvil.mine_then_read(views)
        # Another request first: it waits for the reads, which still see the mined block.
        anvil.submit([token.mint(deployer, agents[0], 1)])
        anvil.mine()
        assert anvil._read_in_flight is None
        assert _facts(results, collect()) == expected
        assert anvil.read(views[:1]) == [expected[1][0] + 1]
