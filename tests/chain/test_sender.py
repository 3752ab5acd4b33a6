"""The batched sender: one block per batch, in order, every call reported."""

from __future__ import annotations

import pytest

from simulator.chain import (
    BACKENDS,
    DEFAULT_DEPLOYER,
    AnvilConfig,
    Call,
    deploy_contract,
    open_chain,
)
from simulator.chain.abi import DecodedError
from simulator.chain.contracts import CollateralToken


def test_a_revert_in_the_middle_is_decoded_and_hides_nothing(world, token, deployer, agents):
    a, b, c = agents[:3]
    results = world.execute(
        [
            token.mint(deployer, a, 100),
            token.transfer(a, b, 1_000),  # more than a holds: reverts
            token.transfer(a, c, 40),
        ]
    )
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, DecodedError)
    assert error.name == "ERC20InsufficientBalance"
    assert error.args == {"sender": a, "balance": 100, "needed": 1_000}
    assert results[2].events[0].name == "Transfer"
    assert results[2].events[0].args == {"from": a, "to": c, "value": 40}
    assert world.read([token.balance_of(x) for x in (a, b, c)]) == [60, 0, 40]


def test_one_batch_is_one_block_in_call_order(world, token, deployer, agents):
    calls = [token.mint(deployer, agents[i % 5], i + 1) for i in range(200)]
    results = world.execute(calls)
    assert all(r.ok for r in results)
    assert len({r.block_number for r in results}) == 1
    assert [r.position for r in results] == list(range(200))
    # Gas: intrinsic + execution, before refunds; a mint costs tens of thousands of gas. Only
    # anvil's figures are per transaction (revm keeps slots warm across calls: README).
    assert all(21_000 < r.gas_used < 100_000 for r in results)
    if world.backend == "anvil":
        assert all(30_000 < r.gas_used for r in results)


def test_same_sender_many_calls_keep_their_order(world, token, deployer, agents):
    a, b = agents[:2]
    calls = [token.mint(deployer, a, 10)] + [token.transfer(a, b, 1) for _ in range(10)]
    results = world.execute(calls)
    assert all(r.ok for r in results)
    assert world.read_one(token.balance_of(b)) == 10


def test_batches_split_by_block_gas_limit():
    with open_chain(anvil=AnvilConfig(block_gas_limit=30_000_000)) as chain:
        token = deploy_contract(chain, CollateralToken, "T", "T", DEFAULT_DEPLOYER)
        calls = [token.mint(DEFAULT_DEPLOYER, DEFAULT_DEPLOYER, 1) for _ in range(900)]
        results = chain.execute(calls)  # 900 x 80k gas reserved = 72M: three blocks
        assert all(r.ok for r in results)
        blocks = sorted({r.block_number for r in results})
        assert len(blocks) == 3
        assert [r.block_number for r in results] == sorted(r.block_number for r in results)


def test_a_refused_transaction_is_reported_and_the_rest_still_run(world, token, deployer, agents):
    poor = agents[9]
    results = world.execute(
        [
            Call(
                sender=poor, to=agents[0], data=b"", gas=21_000, value_wei=10**30, label="too rich"
            ),
            token.mint(deployer, agents[1], 5),
        ]
    )
    assert results[0].ok is False and "fund" in str(results[0].error).lower()
    assert results[1].ok
    assert world.read_one(token.balance_of(agents[1])) == 5


def test_a_call_above_the_block_gas_limit_is_reported(world, token, deployer, agents):
    results = world.execute(
        [token.call(deployer, "mint", agents[0], 1, gas=world.block_gas_limit + 1)]
    )
    assert not results[0].ok and "exceeds the block gas limit" in results[0].error


def test_pending_reads_see_submitted_calls_and_later_submits_follow(world, token, deployer, agents):
    """Keepers' pattern: submit, read the pending state, submit more, mine once."""
    a, b = agents[:2]
    world.submit([token.mint(deployer, a, 100)])
    assert world.read([token.balance_of(a)]) == [0]
    assert world.read([token.balance_of(a)], pending=True) == [100]
    world.submit([token.transfer(a, b, 30), token.transfer(a, b, 500)])
    results = world.mine()
    assert [r.ok for r in results] == [True, True, False]
    assert [r.index for r in results] == [0, 1, 2]
    assert len({r.block_number for r in results}) == 1
    assert [r.position for r in results] == [0, 1, 2]
    assert world.read([token.balance_of(a), token.balance_of(b)]) == [70, 30]


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_block_calls_continues_a_block_at_its_timestamp_and_keeps_the_gas_split(backend):
    with open_chain(anvil=AnvilConfig(block_gas_limit=20_000_000), backend=backend) as chain:
        token = deploy_contract(chain, CollateralToken, "T", "T", DEFAULT_DEPLOYER)
        start_s = chain.latest_timestamp() + 100
        # 80k gas reserved per mint: 250 per block by gas, so 700 mints are 250, 250, 200.
        calls = [token.mint(DEFAULT_DEPLOYER, DEFAULT_DEPLOYER, i + 1) for i in range(700)]
        snapshot = chain.snapshot()
        start_block = chain.block_number()
        chain.use_fixed_clock(start_s)
        plain = chain.execute(calls)
        plain_end_s, plain_blocks = chain.latest_timestamp(), chain.block_number() - start_block
        chain.revert(snapshot)
        chain.use_fixed_clock(start_s)

        capped = chain.execute(calls, max_block_calls=100)

        assert plain_blocks == 3
        assert all(r.ok for r in capped)
        per_block = [
            sum(1 for r in capped if r.block_number == b)
            for b in sorted({r.block_number for r in capped})
        ]
        assert per_block == [100, 100, 50, 100, 100, 50, 100, 100]
        # The continuation blocks share their block's second: time ends where it did.
        assert chain.latest_timestamp() == plain_end_s
        assert [r.label for r in capped] == [r.label for r in plain]
        assert chain.read_one(token.total_supply()) == sum(range(1, 701))
