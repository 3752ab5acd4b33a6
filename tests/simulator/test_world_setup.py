"""The world's setup sent in blocks of at most ``SETUP_BLOCK_CALLS`` calls ends with the same
chain state as the setup sent in blocks bounded by the block gas limit alone (how it was sent
before the bound): same balances, accounts, venue totals, events and clock."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import simulator.world as world_module
from simulator.chain import BACKENDS, open_chain
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import load_scenario
from simulator.scenario.flow import FLOW_KINDS

#: Small enough that the setup of 100 traders spans several blocks by gas alone (deployments
#: need 15M), so the bound splits blocks that the gas split also ends.
BLOCK_GAS_LIMIT = 16_000_000


def _build_and_read(backend: str, block_calls: int | None) -> dict:
    # The preset's order flow with 4 slots per kind and market (100 flat accounts, funded in
    # the same blocks): the test's one positions_of_many read over every account stays in gas.
    slots = [f"order_flow.{k}.slots_per_market=4" for k in FLOW_KINDS]
    scenario = load_scenario("oct-2025", ["traders.count=100", *slots])
    config = replace(run_node_config(), block_gas_limit=BLOCK_GAS_LIMIT)
    saved = world_module.SETUP_BLOCK_CALLS
    world_module.SETUP_BLOCK_CALLS = block_calls
    try:
        with open_chain(anvil=config, backend=backend) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            sent = []
            execute = chain.execute

            def recording(calls, **kwargs):
                results = execute(calls, **kwargs)
                sent.extend(results)
                return results

            chain.execute = recording
            first_block = chain.block_number()
            world = world_module.build_world(chain, scenario)
            mv, v = world.venue, world.venue.venue
            ids, book = world.market_ids, world.book
            agents = world.accounts + world.arbitrageurs + [world.hedger]
            state = {
                "blocks": chain.block_number() - first_block,
                "latest_timestamp": chain.latest_timestamp(),
                "start_timestamp": world.start_timestamp_s,
                "collateral": chain.read([mv.collateral.balance_of(a) for a in agents]),
                "base": chain.read([mv.bases[m].balance_of(a) for m in ids for a in agents]),
                "accounts": chain.read(v.positions_of_many(world.accounts)),
                "cross": chain.read([v.collateral_of(a) for a in world.accounts]),
                "liquidation_prices": chain.read(
                    [
                        v.liquidation_price(world.accounts[a], ids[m])
                        for a, m in zip(book.account, book.market, strict=True)
                    ],
                    strict=False,
                ),
                "accounting": v.accounting_now(),
                "markets": [v.market_now(m) for m in ids],
                "events": [(r.label, r.ok, [(e.name, e.args) for e in r.events]) for r in sent],
                "world": {
                    name: getattr(world, name)
                    for name in (
                        "opened",
                        "opened_size_base",
                        "entry_price_usd",
                        "liquidation_price_usd",
                        "collateral_in_usd",
                        "wallet_usd",
                    )
                },
            }
    finally:
        world_module.SETUP_BLOCK_CALLS = saved
    return state


@pytest.mark.parametrize("backend", BACKENDS)
def test_setup_in_bounded_blocks_ends_with_the_state_of_gas_bounded_blocks(backend):
    before = _build_and_read(backend, None)
    after = _build_and_read(backend, 7)

    assert after["blocks"] > before["blocks"]  # the bound did split blocks
    for key in before:
        if key in ("blocks", "world"):
            continue
        assert after[key] == before[key], key
    for name, array in before["world"].items():
        np.testing.assert_array_equal(after["world"][name], array, err_msg=name)
    assert sum(ok for _, ok, _ in before["events"]) > 100  # the setup really ran
