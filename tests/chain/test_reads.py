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
