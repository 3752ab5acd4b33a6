"""Shared numbers and small helpers of the contract tests: the test roles' addresses, the
preset-style parameters ``TEST_PARAMS`` the venue suite builds its markets from, and unit / result
helpers."""

from __future__ import annotations

from fractions import Fraction

from eth_utils import to_checksum_address

from simulator.chain.types import TxResult, require_ok
from simulator.protocol.params import (
    AmmParams,
    BufferParams,
    GovernanceParams,
    MarketParams,
    OracleParams,
    VenueParams,
)

WAD = 10**18
UNIT = 10**12  # WAD per collateral base unit

GOVERNOR = to_checksum_address("0x00000000000000000000000000000000000060f0")
GUARDIAN = to_checksum_address("0x0000000000000000000000000000000000006a4d")
PUSHER = to_checksum_address("0x0000000000000000000000000000000000000b0b")
MANAGER = to_checksum_address("0x000000000000000000000000000000000000a6e7")
KEEPER = to_checksum_address("0x000000000000000000000000000000000000cee9")
TRADERS = [to_checksum_address(f"0x{0x1000 + i:040x}") for i in range(40)]

#: A small venue with round numbers: price 1000, 20x, MM 2.5%, no impact, no fee, 1% penalty.
TEST_PARAMS = VenueParams(
    name="test",
    oracle=OracleParams(initial_price_usd=1000, max_age_s=3600, max_deviation_bps=0),
    amm=AmmParams(fee_bps=30, liquidity_usd=1_000_000),
    market=MarketParams(
        max_leverage=20,
        maintenance_margin_fraction=0.025,
        max_long_open_interest=10_000,
        max_short_open_interest=10_000,
        skew_scale=0,
        taker_fee_bps=0,
        insurance_fee_share_bps=0,
        funding_model="velocity",
        max_funding_velocity=0,
        liquidation_penalty_bps=100,
        keeper_share_bps=5000,
        partial_liquidation_threshold_usd=1e12,
        liquidation_cooldown_s=30,
        backstop_fraction=2 / 3,
        adl_policy="none",
        max_adl_accounts_per_call=50,
    ),
    buffers=BufferParams(
        insurance_fund_usd=100_000,
        pool_seed_usd=1_000_000,
        backstop_vault_usd=100_000,
        backstop_margin_share=0.5,
    ),
    governance=GovernanceParams(timelock_delay_s=3600),
)


def usd(x: float | int) -> int:
    """USD as collateral base units."""
    return int(Fraction(str(x)) * 10**6)


def wad(x: float | int | str | Fraction) -> int:
    return int(Fraction(str(x)) * WAD) if not isinstance(x, Fraction) else int(x * WAD)


def ok(results: list[TxResult]) -> list[TxResult]:
    return require_ok(results)


def event(result: TxResult, name: str) -> dict:
    """Args of the single event `name` in a result."""
    found = [e for e in result.events if e.name == name]
    assert len(found) == 1, f"expected one {name} in {[e.name for e in result.events]}"
    return found[0].args


def events(result: TxResult, name: str) -> list[dict]:
    return [e.args for e in result.events if e.name == name]
