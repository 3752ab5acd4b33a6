"""The engine's own invariant: none of its calls runs out of gas (a silent hole otherwise)."""

from __future__ import annotations

import pytest

from simulator.chain.abi import DecodedError
from simulator.chain.types import Call, TxResult
from simulator.engine.invariants import InvariantViolation, check_gas

ADL = Call("0x" + "11" * 20, "0x" + "22" * 20, b"", gas=5_000_000, label="PerpVenue.adl")


def _result(ok: bool, gas_used: int, error=None) -> TxResult:
    return TxResult(0, ADL.label, ok, gas_used=gas_used, error=error)


def test_an_empty_revert_at_the_gas_limit_stops_the_run():
    """A module reached by delegatecall runs out of gas as an empty revert at ~98.4%."""
    with pytest.raises(InvariantViolation, match=r"step 613: PerpVenue.adl ran out of gas \(4,922,790 of its 5,000,000\)"):  # fmt: skip
        check_gas(613, [_result(False, 4_922_790, DecodedError("EmptyRevert"))], [ADL])


def test_other_failures_and_heavy_successes_are_the_model_s_business():
    check_gas(1, [_result(True, 4_990_000)], [ADL])  # used nearly all, but it succeeded
    check_gas(1, [_result(False, 4_990_000, DecodedError("AdlRankingOutOfOrder"))], [ADL])
    check_gas(1, [_result(False, 100_000, DecodedError("EmptyRevert"))], [ADL])  # far from it
