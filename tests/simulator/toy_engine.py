"""A deterministic stand-in for the engine, to test run folders, checkpoints and resume.

It shows the pattern the real engine follows: all state in arrays plus the generator's
``bit_generator.state`` in the checkpoint meta, rows added every step, a checkpoint every few
steps, ``finish`` at the end. Run as a script it dies by SIGKILL at a given step.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np

from simulator.results import RunWriter, venue_total_row

TRADERS = 8
SCENARIO = {"name": "toy", "seed": 5, "steps": 30}


class Crash(RuntimeError):
    """Raised to simulate an engine failure (an RPC that died, say)."""


def _initial_state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "price": np.array([100.0]),
        "collateral": rng.uniform(10, 100, TRADERS),
        "size": rng.uniform(0.5, 2.0, TRADERS),
        "side": rng.choice([-1, 1], TRADERS).astype(np.int8),
        "liquidated_at": np.full(TRADERS, -1, dtype=np.int64),
        "insurance": np.array([1000.0]),
    }


def run(
    run_dir: Path,
    steps: int = 30,
    checkpoint_every: int = 7,
    die_at: int | None = None,
    kill: bool = False,
    resume: bool = False,
) -> dict:
    """Run the toy engine; ``die_at`` raises :class:`Crash` (or SIGKILLs) after that step."""
    if resume:
        writer = RunWriter.resume(run_dir)
        ck = writer.checkpoint
        rng = np.random.default_rng()
        if ck is None:
            rng = np.random.default_rng(SCENARIO["seed"])
            state, start = _initial_state(rng), 0
        else:
            rng.bit_generator.state = ck.meta["rng"]
            state, start = {k: v.copy() for k, v in ck.state.items()}, ck.step + 1
    else:
        writer = RunWriter(run_dir, scenario=SCENARIO, chain_id=31337,
                           bytecode_hashes={"PerpVenue": "0xabc"})  # fmt: skip
        rng = np.random.default_rng(SCENARIO["seed"])
        state, start = _initial_state(rng), 0
    with writer:
        for step in range(start, steps):
            state["price"] = state["price"] * np.exp(rng.normal(-0.01, 0.03, 1))
            price = float(state["price"][0])
            equity = state["collateral"] + state["side"] * state["size"] * (price - 100.0)
            newly = (equity < 0.05 * state["size"] * price) & (state["liquidated_at"] < 0)
            state["liquidated_at"][newly] = step
            notional = state["size"] * price
            bad = float(np.maximum(-equity[newly], 0).sum())
            state["insurance"] = state["insurance"] - bad
            market = {
                "step": step, "timestamp_s": step * 60, "market": "BTC",
                "price_exogenous_usd": price,
                "price_oracle_usd": price * 0.99, "price_mark_usd": price,
                "price_amm_usd": price, "oi_long_usd": float(notional[state["side"] > 0].sum()),
                "oi_short_usd": float(notional[state["side"] < 0].sum()),
                "liquidated_notional_long_usd": float(notional[newly & (state["side"] > 0)].sum()),
                "liquidated_notional_short_usd": float(notional[newly & (state["side"] < 0)].sum()),
                "accounts_liquidated": int(newly.sum()),
                "adl_haircut_usd": 0.0, "adl_overshoot_usd": 0.0, "bad_debt_usd": bad,
                "bad_debt_final_usd": 0.0,
                "funding_rate": 1e-5, "fees_usd": 0.1,
            }  # fmt: skip
            venue = {"insurance_fund_usd": float(state["insurance"][0]),
                     "backstop_equity_usd": 0.0, "backstop_share_price": 1.0,
                     "transactions": TRADERS + int(newly.sum())}  # fmt: skip
            writer.add_step(
                [
                    market,
                    venue_total_row(
                        [market], accounts_liquidated=market["accounts_liquidated"], venue=venue
                    ),
                ]
            )
            writer.add_events([
                {"step": step, "kind": "liquidation", "market": "BTC", "account": f"0x{i:040x}",
                 "side": int(state["side"][i]), "size_base": float(state["size"][i]),
                 "price_usd": price, "notional_usd": float(notional[i]),
                 "amount_usd": 0.01 * float(notional[i])}
                for i in np.flatnonzero(newly)
            ])  # fmt: skip
            if step == die_at:
                if kill:
                    signal.raise_signal(signal.SIGKILL)
                raise Crash(f"node died at step {step}")
            if (step + 1) % checkpoint_every == 0:
                writer.write_checkpoint(step, state, {"rng": rng.bit_generator.state})
        positions = {
            "account": [f"0x{i:040x}" for i in range(TRADERS)],
            "market": ["BTC"] * TRADERS,
            "side": state["side"],
            "collateral_usd": state["collateral"],
            "size_base": state["size"],
            "entry_price_usd": np.full(TRADERS, 100.0),
            "leverage": state["size"] * 100.0 / state["collateral"],
            "liquidation_price_at_open_usd": np.full(TRADERS, 50.0),
            "opened_step": np.zeros(TRADERS, dtype=int),
            "outcome": ["liquidated" if s >= 0 else "open" for s in state["liquidated_at"]],
            "outcome_step": [int(s) if s >= 0 else None for s in state["liquidated_at"]],
            "realized_pnl_usd": [None] * TRADERS,
        }
        return writer.finish(positions, meta={"traders": TRADERS, "steps": steps,
                                              "wall_seconds": 0.0})  # fmt: skip


if __name__ == "__main__":
    run(Path(sys.argv[1]), die_at=int(sys.argv[2]), kill=True)
