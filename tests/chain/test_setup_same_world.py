"""The setup's fast paths build the same world as the plain ones, on both backends.

``RpcChain`` fetches and decodes the results of the blocks a batch continues after on a worker
thread (``BackgroundResults``), and both backends decode logs only when a result's events are
read. Neither may change what the world is: the same scenario built with the results fetched
in line (the sender before) and with the worker ends with the same accounts, native, collateral
and base balances, allowances, venue collateral, positions, liquidation prices and setup
events, read back from the chain; and revm's world is anvil's (but for native balances: anvil
charges gas, revm does not).
"""

from __future__ import annotations

import numpy as np
import pytest

import simulator.world as world_module
from simulator.chain import open_chain
from simulator.chain.assembly import BlockAssembly
from simulator.chain.block_results import BackgroundResults
from simulator.chain.rpc_chain import RpcChain
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import load_scenario

#: Calls per setup block: small, so that 150 traders' setup continues over many blocks.
BLOCK_CALLS = 40
MAX_UINT = 2**256 - 1


def _native_balances(chain, accounts: list[str]) -> list[int]:
    if chain.backend == "revm":
        return [chain._evm.get_balance(a) for a in accounts]
    return [
        int(b, 16) for b in chain.rpc.batch([("eth_getBalance", [a, "latest"]) for a in accounts])
    ]


def _build_and_read(backend: str) -> dict:
    scenario = load_scenario("oct-2025", ["traders.count=150"])
    with open_chain(anvil=run_node_config(), backend=backend) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        sent = []
        execute = chain.execute

        def recording(calls, **kwargs):
            results = execute(calls, **kwargs)
            sent.extend(results)
            return results

        chain.execute = recording
        world = world_module.build_world(chain, scenario)
        mv, v = world.venue, world.venue.venue
        ids, book = world.market_ids, world.book
        agents = world.accounts + world.arbitrageurs + [world.hedger]
        amm_spenders = [mv.amms[m].address for m in ids]
        return {
            "native": _native_balances(chain, agents),
            "collateral": chain.read([mv.collateral.balance_of(a) for a in agents]),
            "base": chain.read([mv.bases[m].balance_of(a) for m in ids for a in agents]),
            "venue_allowances": chain.read(
                [mv.collateral.view("allowance", a, v.address) for a in world.accounts]
            ),
            "amm_allowances": chain.read(
                [
                    token.view("allowance", a, spender)
                    for token in (mv.collateral, *(mv.bases[m] for m in ids))
                    for spender in amm_spenders
                    for a in [*world.arbitrageurs, world.hedger]
                ]
            ),
            "cross": chain.read([v.collateral_of(a) for a in world.accounts]),
            "positions": chain.read(v.positions_of_many(world.accounts)),
            "liquidation_prices": chain.read(
                [
                    v.liquidation_price(world.accounts[a], ids[m])
                    for a, m in zip(book.account, book.market, strict=True)
                ]
            ),
            "accounting": v.accounting_now(),
            "latest_timestamp": chain.latest_timestamp(),
            "events": [
                (
                    r.label,
                    r.ok,
                    r.position,
                    str(r.error),
                    [(e.name, e.address, e.args) for e in r.events],
                )
                for r in sent
            ],
            "world": {
                name: getattr(world, name)
                for name in (
                    "opened",
                    "opened_size_base",
                    "entry_price_usd",
                    "liquidation_price_usd",
                    "account_deposit_usd",
                    "wallet_usd",
                    "hedger_base",
                )
            },
        }


def _assert_same(a: dict, b: dict, *, skip: tuple[str, ...] = ()) -> None:
    for key in a:
        if key in ("world", *skip):
            continue
        assert a[key] == b[key], key
    for name, array in a["world"].items():
        np.testing.assert_array_equal(b["world"][name], array, err_msg=name)


@pytest.fixture(scope="module")
def worlds() -> dict[str, dict]:
    saved = world_module.SETUP_BLOCK_CALLS
    world_module.SETUP_BLOCK_CALLS = BLOCK_CALLS
    handed = [0]
    submit = BackgroundResults.submit

    def counting(self, *args, **kwargs):
        handed[0] += 1
        return submit(self, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(BackgroundResults, "submit", counting)
        out = {"anvil": _build_and_read("anvil"), "revm": _build_and_read("revm")}
        out["handed"] = handed[0]
        # The sender before: every block's results fetched and decoded in line.
        mp.setattr(RpcChain, "_mine_continued", BlockAssembly._mine_continued)
        out["inline"] = _build_and_read("anvil")
        out["handed_inline"] = handed[0] - out["handed"]
    finally:
        mp.undo()
        world_module.SETUP_BLOCK_CALLS = saved
    return out


def test_results_from_the_worker_build_the_world_of_results_in_line(worlds):
    assert worlds["handed"] > 10 and worlds["handed_inline"] == 0  # both paths really ran
    _assert_same(worlds["inline"], worlds["anvil"])
    assert sum(ok for _, ok, *_ in worlds["anvil"]["events"]) > 500  # the setup really ran
    assert any(worlds["anvil"]["positions"]) and worlds["anvil"]["world"]["opened"].any()


def test_revm_builds_anvils_world(worlds):
    """Everything but native balances (anvil charges gas, revm does not)."""
    _assert_same(worlds["anvil"], worlds["revm"], skip=("native",))
    assert all(b > 0 for b in worlds["revm"]["native"])
    assert all(x == MAX_UINT for x in worlds["revm"]["venue_allowances"])
