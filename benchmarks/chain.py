"""``perpsim bench chain``: the batched sender against ape's per-transaction path.

One anvil, one deployed collateral token, 1,000 funded agent addresses, one workload of
ERC-20 transfers between agents (seeded). The world is snapshotted once; each path starts from
that snapshot:

(a) ape's ordinary path: ape connects to the same node (ape-foundry with
    ``APE_FOUNDRY_HOST``), automine on, ``token.transfer(..., sender=impersonated_account)``
    one transaction at a time, over the first ``ape_sample`` transfers of the workload (at about
    30 tx/s the whole workload would take minutes; the rate is steady, see the per-half rates);
(b) the batched sender: ``Chain.execute`` over the whole workload, ``block_size`` calls per
    block (encoding, sending, mining, reading results and decoding events all timed).

Both paths must end with every transaction successful, or the benchmark fails.

On ``backend="revm"`` (the EVM in this process) there is no node for ape to reach: only the
batched path runs. :func:`run_backends` measures several backends one after the other in one
process and reports the ratio of their batched rates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
from eth_utils import keccak, to_checksum_address

from simulator.chain import DEFAULT_DEPLOYER, Chain, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken
from simulator.errors import PerpsimError

#: Collateral minted to every agent before the workload (base units, 1 USD = 1e6).
AGENT_FUNDING_BASE_UNITS = 1_000_000 * 10**6


def agent_addresses(count: int, namespace: str = "perpsim-agent") -> list[str]:
    """Deterministic, key-less agent addresses (anvil impersonates them)."""
    return [to_checksum_address(keccak(text=f"{namespace}-{i}")[-20:]) for i in range(count)]


def transfer_workload(
    agents: list[str], transactions: int, seed: int
) -> list[tuple[str, str, int]]:
    """``(sender, recipient, amount_base_units)`` rows: senders cycle through all agents."""
    rng = np.random.default_rng(seed)
    recipients = rng.integers(0, len(agents), size=transactions)
    amounts = rng.integers(1, 1_000 * 10**6, size=transactions)
    return [
        (agents[i % len(agents)], agents[int(r)], int(a))
        for i, (r, a) in enumerate(zip(recipients, amounts, strict=True))
    ]


def _time(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - start


def _batched(chain: Chain, token: CollateralToken, workload, block_size: int) -> int:
    done = 0
    for start in range(0, len(workload), block_size):
        calls = [token.transfer(s, r, a) for s, r, a in workload[start : start + block_size]]
        results = chain.execute(calls)
        failed = [r for r in results if not r.ok]
        if failed:
            raise PerpsimError(
                f"batched path: {len(failed)} transfers failed, first: {failed[0].error}"
            )
        done += len(results)
    return done


def _ape_path(url: str, token_address: str, workload) -> tuple[int, float]:
    """Send ``workload`` through ape one transaction at a time; time only the sending."""
    os.environ["APE_FOUNDRY_HOST"] = url
    from ape import accounts, networks, project  # slow import: only for this path
    from ape.logging import logger

    logger.set_level("ERROR")  # one INFO line per confirmed transaction otherwise
    with networks.ethereum.local.use_provider("foundry"):
        token = project.CollateralToken.at(token_address)
        signers = {s: accounts[s] for s in {row[0] for row in workload}}
        start = time.perf_counter()
        for sender, recipient, amount in workload:
            receipt = token.transfer(recipient, amount, sender=signers[sender])
            if receipt.failed:
                raise PerpsimError(f"ape path: transfer from {sender} failed")
        return len(workload), time.perf_counter() - start


def run(
    *,
    agents: int = 1_000,
    transactions: int = 10_000,
    block_size: int = 2_000,
    ape_sample: int = 300,
    seed: int = 7,
    rpc_url: str | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    backend: str = "anvil",
) -> dict:
    """Run both paths on one node (the batched one only on revm); return the figures (rates
    in transactions per second)."""
    if agents < 1 or transactions < 1 or block_size < 1 or ape_sample < 0:
        raise PerpsimError("agents, transactions and block size must be >= 1, ape sample >= 0")
    addrs = agent_addresses(agents)
    workload = transfer_workload(addrs, transactions, seed)
    with open_chain(rpc_url=rpc_url, backend=backend) as chain:
        progress("deploying the collateral token and funding agents")
        token = deploy_contract(chain, CollateralToken, "Perp USD", "pUSD", DEFAULT_DEPLOYER)
        mints = [token.mint(DEFAULT_DEPLOYER, a, AGENT_FUNDING_BASE_UNITS) for a in addrs]
        if not all(r.ok for r in chain.execute(mints)):
            raise PerpsimError("funding the agents failed")
        chain.set_balance(addrs, 10**20)
        world = chain.snapshot()

        ape_n = ape_s = 0
        if backend == "anvil":
            progress(f"ape per-transaction path: {min(ape_sample, transactions)} transfers")
            chain.set_automine(True)
            ape_sample = min(ape_sample, transactions)
            ape_n, ape_s = _ape_path(chain.url, token.address, workload[:ape_sample])
        chain.revert(world)

        progress(f"batched path: {transactions} transfers in blocks of {block_size}")
        blocks_before = chain.stats.blocks
        batch_n, batch_s = _time(lambda: _batched(chain, token, workload, block_size))
        blocks = chain.stats.blocks - blocks_before
        # Every transfer really landed: sum of balances is unchanged and the last block is full.
        total = sum(chain.read([token.balance_of(a) for a in addrs]))
        if total != AGENT_FUNDING_BASE_UNITS * agents:
            raise PerpsimError("batched path: collateral not conserved across agents")

    ape_rate = ape_n / ape_s if ape_s else 0.0
    batch_rate = batch_n / batch_s
    return {
        "benchmark": "chain",
        "backend": backend,
        "workload": "ERC-20 collateral transfers between agent addresses",
        "agents": agents,
        "seed": seed,
        "batched": {
            "transactions": batch_n,
            "blocks": blocks,
            "block_size": block_size,
            "seconds": round(batch_s, 3),
            "tx_per_s": round(batch_rate, 1),
        },
        "ape_per_transaction": {
            "transactions": ape_n,
            "seconds": round(ape_s, 3),
            "tx_per_s": round(ape_rate, 1),
        }
        if ape_n
        else None,
        "speedup": round(batch_rate / ape_rate, 1) if ape_rate else None,
    }


def run_backends(backends: list[str], **options) -> dict:
    """:func:`run` on each backend in turn (same workload, same process); the figures of each
    and the revm batched rate over anvil's."""
    figures = {b: run(backend=b, **options) for b in backends}
    rates = {b: f["batched"]["tx_per_s"] for b, f in figures.items()}
    return {
        "benchmark": "chain",
        "backends": figures,
        "speedup_revm_over_anvil": round(rates["revm"] / rates["anvil"], 2)
        if {"anvil", "revm"} <= rates.keys() and rates["anvil"]
        else None,
    }
