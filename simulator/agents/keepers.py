"""Keepers: who gets liquidated, taken over by the backstop, or deleveraged, this block.

Keepers see the pending block (the oracle update and the traders' actions already applied)
through one batched ``healthOf`` view. They are limited, as real keepers are:

* capacity: ``count × max_liquidations_per_block`` calls per block;
* reaction delay: an account must have been liquidatable for ``reaction_delay_steps`` steps
  (0 = the same block the price crossed);
* profit threshold: a keeper skips an account whose keeper reward (penalty × keeper share ×
  notional) minus gas is under ``min_profit_usd``. When the venue pays keepers nothing (the
  Hyperliquid preset: the protocol liquidates), keepers act as the protocol's liquidator and the
  threshold does not apply.

Largest notional first: the most profitable liquidation, and the largest risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine import jit_rows


@dataclass(frozen=True)
class KeeperPlan:
    backstop: np.ndarray
    """Indices of accounts the backstop vault takes over."""
    liquidate: np.ndarray
    """Indices of accounts liquidated (partly or fully) by keepers."""


def plan_liquidations(
    equity_usd: np.ndarray,
    maintenance_usd: np.ndarray,
    notional_usd: np.ndarray,
    liquidatable_since: np.ndarray,
    step: int,
    *,
    capacity: int,
    reaction_delay_steps: int,
    backstop_fraction: float | None,
    keeper_reward_fraction: float,
    gas_cost_usd: float,
    min_profit_usd: float,
) -> KeeperPlan:
    """Choose this block's keeper calls (vectorized).

    Parameters
    ----------
    equity_usd, maintenance_usd, notional_usd : numpy.ndarray
        Per account, from the pending block's ``healthOf`` (USD).
    liquidatable_since : numpy.ndarray
        Step at which each account was first seen liquidatable (-1: healthy), int64.
    backstop_fraction : float, numpy.ndarray or None
        Takeover threshold as a fraction of maintenance margin (one for all, or per account;
        NaN: that account cannot be taken over); ``None`` = no backstop vault.
    keeper_reward_fraction : float or numpy.ndarray
        Keeper reward per unit of liquidated notional (penalty × keeper share), one for all or
        per account; where it is 0 the profit threshold does not apply.
    """
    # One compiled pass (:func:`simulator.engine.jit_rows.plan_rows`); the numpy form it
    # replaced is the reference of tests/agents/test_keepers_jit.py.
    equity_usd = np.asarray(equity_usd, dtype=np.float64)
    n = len(equity_usd)
    reward, reward_step = _one_or_per_account(keeper_reward_fraction, n)
    has_backstop = backstop_fraction is not None
    fraction, fraction_step = _one_or_per_account(backstop_fraction if has_backstop else 0.0, n)
    backstop, liquidate = jit_rows.plan_rows(
        equity_usd, _accounts(maintenance_usd, n), _accounts(notional_usd, n),
        _since(liquidatable_since, n), int(step), int(capacity), int(reaction_delay_steps),
        reward, reward_step, float(gas_cost_usd), float(min_profit_usd),
        has_backstop, fraction, fraction_step,
    )  # fmt: skip
    return KeeperPlan(backstop=backstop, liquidate=liquidate)


def _accounts(a, n: int) -> np.ndarray:
    """``a`` as ``n`` float64 values, one per account (broadcast as numpy would, or an
    error)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (n,):
        a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
    return a


def _since(a, n: int) -> np.ndarray:
    """``liquidatable_since`` as ``n`` integers (its dtype; broadcast as numpy would)."""
    a = np.asarray(a)
    if a.shape != (n,):
        a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
    return a


def _one_or_per_account(value, n: int) -> tuple[np.ndarray, int]:
    """One float for all ``n`` accounts or one per account, as the kernels read it: an array
    and the step between accounts' places in it (0: one for all)."""
    a = np.asarray(value, dtype=np.float64)
    return (a.reshape(1), 0) if a.ndim == 0 else (_accounts(a, n), 1)


def update_liquidatable_since(
    liquidatable_since: np.ndarray,
    equity_usd: np.ndarray,
    maintenance_usd: np.ndarray,
    notional_usd: np.ndarray,
    step: int,
) -> np.ndarray:
    """First step each account has been continuously under maintenance margin (-1: not):
    ``where(under, where(since >= 0, since, step), -1)`` with ``under = (notional > 0) &
    (equity < maintenance)``, in one compiled pass
    (:func:`simulator.engine.jit_rows.liquidatable_since`; the numpy formula is the reference
    of ``tests/engine/agent_references.py``).

    >>> update_liquidatable_since(np.array([-1, 3, 3]), np.array([1.0, 1.0, 9.0]),
    ...                           np.full(3, 5.0), np.ones(3), 7).tolist()
    [7, 3, -1]
    """
    since = np.asarray(liquidatable_since)
    n = len(since)
    return jit_rows.liquidatable_since(
        since, _accounts(equity_usd, n), _accounts(maintenance_usd, n),
        _accounts(notional_usd, n), int(step),
    )  # fmt: skip


def plan_adl(
    scores: np.ndarray,
    pnl_usd: np.ndarray,
    sizes: np.ndarray,
    winners_long: bool,
    addresses: list[str],
    policy: str,
    max_accounts: int,
) -> list[str]:
    """Winners to pass to ``adl`` in the order the contract verifies.

    Queues (``contracts_queue``, ``profit_queue``, and the single market's ``queue``): by
    non-increasing rank score (the contract checks the order), at most ``max_accounts``.
    PRO_RATA: the ``max_accounts`` largest profits, passed in strictly increasing address order
    (the contract checks it).
    """
    side_ok = sizes > 0 if winners_long else sizes < 0
    winners = np.flatnonzero(side_ok & (pnl_usd > 0) & (scores > 0))
    if len(winners) == 0:
        return []
    if policy in ("queue", "contracts_queue", "profit_queue"):
        order = np.lexsort((winners, -scores[winners]))
        return [addresses[i] for i in winners[order][:max_accounts]]
    biggest = winners[np.lexsort((winners, -pnl_usd[winners]))][:max_accounts]
    return sorted((addresses[i] for i in biggest), key=lambda a: int(a, 16))
