"""The protocol's accounting invariants, checked on the chain state at the end of every step,
and the engine's own: none of its calls runs out of gas (a gas limit is the engine's choice, not
part of the model: a keeper's call that fails for it would be a silent hole in the results). A
broken one stops the run with :class:`InvariantViolation` saying which and where."""

from __future__ import annotations

import numpy as np

from simulator.engine.context import Context
from simulator.engine.state import EngineState
from simulator.errors import PerpsimError
from simulator.units import units_to_wad

#: Accounting invariant tolerance: 1 collateral base unit per 1,000 accounts of rounding (USD).
INVARIANT_TOLERANCE_USD = 1e-6


class InvariantViolation(PerpsimError):
    """The protocol's accounting broke during a run; the message says which and where."""


def check_invariants(ctx: Context, s: EngineState, t: int, levels: dict) -> None:
    """The venue's accounting identity (``IPerpVenueTypes.Accounting``, to the wei: accounts +
    pool + fees = net flows = the collateral the venue holds), and recorded bad debt for every
    margin unit left flat below zero."""
    acc = levels["accounting"]
    ledgers = acc["totalCollateral"] + acc["pool"] + acc["protocolFees"]
    flows = (
        acc["totalDeposits"] - acc["totalWithdrawals"] + acc["poolSeeded"] + acc["paidByInsurance"]
        - acc["paidToInsurance"] - acc["keeperRewards"] - acc["feesWithdrawn"]
    )  # fmt: skip
    held = units_to_wad(levels["venue_token_units"])
    if not ledgers == flows == held:
        raise InvariantViolation(
            f"step {t}: value not conserved (WAD USD): accounts + pool + fees = {ledgers}, "
            f"net flows = {flows}, collateral the venue holds = {held}"
        )
    units = ctx.units
    equity = units.unit_sum(s.trader.equity_usd)
    flat = units.unit_sum(s.trader.size_base) == 0
    negative = np.flatnonzero((equity < -INVARIANT_TOLERANCE_USD) & flat)
    if len(negative):
        u = int(negative[0])
        raise InvariantViolation(
            f"step {t}: account {ctx.accounts[units.account[u]]} is flat with negative equity "
            f"{equity[u]:.6f} USD that no bad debt records"
        )


#: A reverted call that used at least this share of its gas limit with no revert data ran out
#: of gas (a module reached by delegatecall gets 63/64 of what is left: its out-of-gas shows as
#: an empty revert at about 98.4% of the limit).
OUT_OF_GAS_SHARE = 0.95


def check_gas(t: int, results: list, calls: list) -> None:
    """Stop the run if a call of step ``t``'s block ran out of gas (``results`` and ``calls``
    in block order)."""
    for result, call in zip(results, calls, strict=True):
        if result.ok or result.gas_used < OUT_OF_GAS_SHARE * call.gas:
            continue
        if getattr(result.error, "name", None) in ("EmptyRevert", None):
            raise InvariantViolation(
                f"step {t}: {call.label} ran out of gas ({result.gas_used:,} of its "
                f"{call.gas:,}): the engine's gas limit for it is too low"
            )
