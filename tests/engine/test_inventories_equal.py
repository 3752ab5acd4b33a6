"""The swaps' inventory moves (:func:`simulator.engine.events.update_inventories`, in Python
floats, written back once) held bit for bit to the form they replaced
(:func:`old_update_inventories` below, session 25: numpy scalar additions swap by swap) on
drawn blocks: hedges and arbitrageurs' swaps in every market, either direction, reverted
calls, calls of other kinds, results without a ``Swap`` or with other events before it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.engine.context import Action
from simulator.engine.events import update_inventories
from simulator.units import from_units, from_wad


def old_update_inventories(s, results, actions) -> None:
    """``update_inventories`` as it was (session 25): the reference."""
    for result, action in zip(results, actions, strict=True):
        if not result.ok or action.kind not in ("hedge", "arb"):
            continue
        swap = next((e for e in result.events if e.name == "Swap"), None)
        if swap is None:
            continue
        base_in, amount_in, amount_out = (
            swap.args["baseIn"],
            swap.args["amountIn"],
            swap.args["amountOut"],
        )
        d_usd = from_units(amount_out) if base_in else -from_units(amount_in)
        d_base = -from_wad(amount_in) if base_in else from_wad(amount_out)
        m = action.market
        inventory = (
            s.hedger_inventory[m] if action.kind == "hedge" else s.arb_inventory[action.who, m]
        )
        inventory[0] += d_usd
        inventory[1] += d_base
        if action.kind == "hedge":
            s.hedged_base[m] += d_base


def _state(rng: np.random.Generator, arbs: int, m: int) -> SimpleNamespace:
    scale = 10.0 ** rng.integers(-3, 9, (arbs, m, 2))
    return SimpleNamespace(
        hedger_inventory=rng.normal(0, 1e6, (m, 2)),
        hedged_base=rng.normal(0, 1e3, m),
        arb_inventory=rng.normal(0, 1, (arbs, m, 2)) * scale,
    )


def _event(rng: np.random.Generator, name: str) -> SimpleNamespace:
    big = int(rng.integers(1, 2**62)) * int(rng.integers(1, 10**6))  # beyond 2**53 too
    args = {
        "baseIn": bool(rng.integers(2)),
        "amountIn": big,
        "amountOut": int(rng.integers(0, 2**62)),
    }
    return SimpleNamespace(name=name, args=args)


def _block(rng: np.random.Generator, arbs: int, m: int):
    results, actions = [], []
    for _ in range(int(rng.integers(0, 25))):
        kind = str(rng.choice(["hedge", "arb", "arb", "liquidate", "close"]))
        names = list(rng.choice(["Sync", "Transfer", "Swap"], int(rng.integers(0, 4))))
        results.append(SimpleNamespace(ok=bool(rng.random() < 0.85),
                                       events=[_event(rng, n) for n in names]))  # fmt: skip
        who = int(rng.integers(0, arbs)) if kind == "arb" else -1
        actions.append(Action(None, kind, who, int(rng.integers(0, m))))  # type: ignore[arg-type]
    return results, actions


def test_inventories_move_as_the_old_form_on_drawn_blocks():
    rng = np.random.default_rng(2626)
    for _ in range(800):
        arbs, m = int(rng.integers(1, 4)), int(rng.integers(1, 6))
        state = _state(rng, arbs, m)
        old = SimpleNamespace(**{k: v.copy() for k, v in vars(state).items()})
        for _ in range(int(rng.integers(1, 4))):  # a few blocks in a row
            results, actions = _block(rng, arbs, m)
            update_inventories(state, results, actions)  # type: ignore[arg-type]
            old_update_inventories(old, results, actions)
        for key in ("hedger_inventory", "hedged_base", "arb_inventory"):
            assert getattr(state, key).tobytes() == getattr(old, key).tobytes(), key
