"""A small contagion world with a second perp venue (``world.second_venue``) for the tests."""

from __future__ import annotations

import copy

from world_helpers import SMALL_WORLD, small_world

#: :data:`SMALL_WORLD` with a dYdX-like second venue on BTC (a $100k fund, a $300k backstop
#: vault taking accounts over below half their maintenance margin, 20 accounts at 10x), the
#: synthetic dollar hedged there and the pool lending against its vault's shares.
SECOND_WORLD = copy.deepcopy(SMALL_WORLD)
SECOND_WORLD["second_venue"] = {
    "preset": "dydx-like",
    "markets": ["BTC"],
    "insurance_fund_usd": 100_000,
    "backstop_vault_usd": 300_000,
    "backstop_margin_share": 0.5,
    "backstop_fraction": 0.5,
    "traders": {"count": 20, "collateral_usd": 10_000, "leverage": 10, "long_share": 0.8},
}
SECOND_WORLD["synthetic_dollar"]["venue"] = "second_venue"
SECOND_WORLD["lending_pool"]["collateral"]["second_backstop_vault"] = {
    "collateral_factor_bps": 9000,
    "liquidation_threshold_bps": 9500,
    "liquidation_bonus_bps": 500,
}
SECOND_WORLD["lending_pool"]["borrowers"]["collateral_weights"]["second_backstop_vault"] = 2
SECOND_WORLD["cross_holdings"] = [
    {"holder": "lending_pool", "issuer": "backstop_vault"},
    {"holder": "lending_pool", "issuer": "synthetic_dollar"},
    {"holder": "lending_pool", "issuer": "second_backstop_vault"},
    {"holder": "synthetic_dollar", "issuer": "second_venue"},
]


def second_world(world: dict | None = None, **overrides):
    """:func:`small_world` with :data:`SECOND_WORLD` (or ``world``), on the first venue's 40x
    book (oct-2025's until its session-21 calibration capped it at 15x): with the 15x book the
    first venue's cascade is milder and the second venue's 10x accounts went from above their
    maintenance to below the takeover threshold between two of the keeper's reads, so its
    liquidation path was never taken; these tests pin down both paths."""
    overrides = {"traders.leverage.max": 40, **overrides}
    return small_world(copy.deepcopy(world if world is not None else SECOND_WORLD), **overrides)
