"""Batched reads: many views, one round trip; reverting views reported."""

from __future__ import annotations

import pytest

from simulator.chain import View, ViewError
from simulator.chain.abi import Function
from simulator.errors import TransactionReverted


def test_many_views_in_one_round_trip(world, token, deployer, agents):
    world.execute([token.mint(deployer, a, i) for i, a in enumerate(agents)])
    views = [token.balance_of(a) for a in agents] + [token.total_supply()]
    assert world.read(views) == list(range(len(agents))) + [sum(range(len(agents)))]
    assert token.read("decimals") == 6
    assert token.read("symbol") == "tUSD"


def test_a_reverting_view_raises_or_is_reported(world, token):
    missing = Function("doesNotExist", bytes.fromhex("deadbeef"), (), ("uint256",), "view")
    bad = View(token.address, missing.selector, missing, label="missing")
    with pytest.raises(TransactionReverted, match="missing"):
        world.read([token.total_supply(), bad])
    total, error = world.read([token.total_supply(), bad], strict=False)
    assert isinstance(total, int)
    assert isinstance(error, ViewError) and error.error.name == "EmptyRevert"


def test_a_read_larger_than_one_batched_call_is_split_and_stays_in_order(world, token, deployer):
    """Views beyond ``BATCH_READ_BYTES`` of calldata go in several ``ViewBatch`` calls (anvil
    closes the connection on a body of a few MB): 6,000 balance reads, three calls, in order."""
    from simulator.chain.rpc_chain import BATCH_READ_BYTES, _view_chunks

    holders = [f"0x{i + 1:040x}" for i in range(6_000)]
    world.execute([token.mint(deployer, holders[i], i + 1) for i in (0, 2_999, 5_999)])
    views = [token.balance_of(h) for h in holders]
    assert len(_view_chunks(views)) == 3  # each view costs its calldata and two ABI words
    assert sum(len(v.data) + 64 for v in views) > 2 * BATCH_READ_BYTES
    got = world.read(views)
    assert got[0] == 1 and got[2_999] == 3_000 and got[5_999] == 6_000
    assert sum(got) == 1 + 3_000 + 6_000
