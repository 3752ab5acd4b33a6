"""Small scenarios with the contagion world (scenario ``world:``) for the engine tests."""

from __future__ import annotations

import copy

from engine_helpers import small_oct

#: A small world: a $3M pool with 20 borrowers against the backstop vault's shares, the
#: synthetic dollar and BTC; a $1M synthetic dollar hedged on BTC with a $100k reserve.
SMALL_WORLD = {
    "lending_pool": {
        "supply_usd": 3_000_000,
        "collateral": {
            "backstop_vault": {
                "collateral_factor_bps": 9000,
                "liquidation_threshold_bps": 9500,
                "liquidation_bonus_bps": 500,
            },
            "synthetic_dollar": {
                "collateral_factor_bps": 9000,
                "liquidation_threshold_bps": 9300,
                "liquidation_bonus_bps": 300,
            },
            "BTC": {
                "collateral_factor_bps": 7500,
                "liquidation_threshold_bps": 8000,
                "liquidation_bonus_bps": 500,
            },
        },
        "borrowers": {
            "count": 20,
            "collateral_weights": {"backstop_vault": 2, "synthetic_dollar": 1, "BTC": 1},
            "collateral_usd": {"median_usd": 20_000, "sigma": 0.8},
        },
    },
    "synthetic_dollar": {
        "market": "BTC",
        "supply_usd": 1_000_000,
        "reserve_usd": 100_000,
        "amm_liquidity_usd": 300_000,
        "arbitrageur_capital_usd": 100_000,
        "arbitrage_max_trade_usd": 20_000,
        "redeemers": {"market_drawdown_trigger": 0.08},
    },
    "cross_holdings": [
        {"holder": "lending_pool", "issuer": "backstop_vault"},
        {"holder": "lending_pool", "issuer": "synthetic_dollar"},
        {"holder": "synthetic_dollar", "issuer": "venue"},
    ],
}


def small_world(world: dict | None = None, **overrides):
    """:func:`small_oct` (150 accounts, 60 steps, BTC falls 18% from step 10) with a $500k
    backstop vault and :data:`SMALL_WORLD` (or ``world``)."""
    base = {
        "controls.backstop_vault_usd": 500_000,
        "world": copy.deepcopy(world if world is not None else SMALL_WORLD),
    }
    base.update(overrides)
    return small_oct(**base)


def assert_run_refused(path, out, needles) -> None:
    """``perpsim run PATH --out OUT --backend revm`` is refused: exit 2, one ``error:`` line on
    stderr holding every needle, and no folder at ``out``."""
    from click.testing import CliRunner

    from simulator.cli import main

    result = CliRunner(mix_stderr=False).invoke(
        main, ["run", str(path), "--out", str(out), "--backend", "revm"], prog_name="perpsim"
    )
    assert result.exit_code == 2, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()
