"""The protocol's accounting invariants, checked on the chain state at the end of every step;
a broken one stops the run with :class:`InvariantViolation` saying which and where."""

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
