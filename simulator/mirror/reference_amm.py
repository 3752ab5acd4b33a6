"""The obviously-correct reference of :mod:`simulator.mirror.amm`: one ``SpotAMM`` pool in
plain Python integers, line by line after ``contracts/SpotAMM.sol`` (``swap``,
``getAmountOut``, ``spotPrice``, ``addLiquidity``, ``removeLiquidity``). Reserves and amounts
in token base units (collateral: 6 decimals, base: 18); prices WAD USD per base unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.mirror.reference import BPS, UNIT, WAD


@dataclass
class RefPool:
    reserve_collateral: int
    reserve_base: int
    fee_bps: int

    def get_amount_out(self, base_in: bool, amount_in: int) -> int | None:
        """The output after the fee, rounded down; None when a reserve is empty (NoLiquidity)."""
        if base_in:
            r_in, r_out = self.reserve_base, self.reserve_collateral
        else:
            r_in, r_out = self.reserve_collateral, self.reserve_base
        if r_in == 0 or r_out == 0:
            return None
        in_after_fee = amount_in * (BPS - self.fee_bps)
        return in_after_fee * r_out // (r_in * BPS + in_after_fee)

    def swap(self, base_in: bool, amount_in: int, min_amount_out: int = 0) -> tuple[str, int]:
        """(outcome, amount out); the pool changes only when the outcome is "ok"."""
        if amount_in == 0:
            return "ZeroAmount", 0
        out = self.get_amount_out(base_in, amount_in)
        if out is None:
            return "NoLiquidity", 0
        if out < min_amount_out or out == 0:
            return "InsufficientOutput", 0
        if base_in:
            self.reserve_base += amount_in
            self.reserve_collateral -= out
        else:
            self.reserve_collateral += amount_in
            self.reserve_base -= out
        return "ok", out

    def spot_price(self) -> int | None:
        if self.reserve_base == 0:
            return None
        return self.reserve_collateral * UNIT * WAD // self.reserve_base

    def add_liquidity(self, collateral: int, base: int) -> None:
        self.reserve_collateral += collateral
        self.reserve_base += base

    def remove_liquidity(self, collateral: int, base: int) -> bool:
        """False (a checked underflow: the call reverts, nothing changes) when a reserve is
        smaller than the amount."""
        if collateral > self.reserve_collateral or base > self.reserve_base:
            return False
        self.reserve_collateral -= collateral
        self.reserve_base -= base
        return True
