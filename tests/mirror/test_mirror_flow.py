"""Run-level differential test of the mirror's order flow and market-making vault: random small
scenarios (:func:`mirror_run_helpers.flow_scenarios`: a few flow slots per kind and market at
high arrival rates, and a vault that is absent, quotes, or is small and leveraged enough for
the shock to liquidate it) run on the chain engine (revm) and on the mirror (exact) side by
side must agree after every step: the venue events (the flow's ``open`` / ``close`` /
``open_reverted`` / ``close_reverted`` / ``order_flow_unfilled``, the vault's fills, refused
quotes and liquidations, in block order), every ``steps`` row, the ledgers to the wei, and at
the end the whole venue state (the vault's account too) and every position with its ``opens``.

A mirror with one rule of the flow or the vault broken (monkeypatched) fails the same
comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from mirror_run_helpers import VENUE_KINDS, Divergence, flow_scenarios, parse, run_side_by_side

from simulator.mirror.sim import MirrorEngine, features, mm_vault, planned
from simulator.mirror.sim.venue import VenueState

EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip
FLOW_KINDS = ("open", "close", "open_reverted", "close_reverted", "order_flow_unfilled",
              "mm_vault_fill", "mm_vault_trade_reverted", "mm_vault_unwind_reverted",
              "liquidation", "adl_fill")  # fmt: skip


#: Found by the test below: the vault liquidated with a deficit in a block the keepers read
#: nothing of; the chain engine's ADL keeper sees the deficit only in the next block's levels.
VAULT_DEFICIT_IN_A_QUIET_BLOCK = {
    "name": "mirror-diff",
    "seed": 0,
    "steps": 12,
    "step_seconds": 12,
    "venue": {"preset": "hyperliquid-like", "timelock_delay_s": 60},
    "markets": [
        {
            "symbol": "BTC",
            "overrides": {"max_liquidation_notional_per_block_usd": 5000},
            "path": {"vol_per_year": 0.5, "beta": 0.0},
        },
        {
            "symbol": "ETH",
            "overrides": {"max_liquidation_notional_per_block_usd": 5000},
            "path": {"vol_per_year": 0.5, "beta": 0.0},
        },
        {
            "symbol": "SOL",
            "overrides": {"max_liquidation_notional_per_block_usd": 5000},
            "path": {"vol_per_year": 0.5, "beta": 0.0},
        },
    ],
    "controls": {
        "adl_price_mode": "bankruptcy_price",
        "adl_policy": "profit_queue",
        "insurance_fund_usd": 0,
        "feedback": False,
        "governance_change": None,
    },
    "traders": {
        "kind": "random",
        "count": 2,
        "long_share": 0.2,
        "collateral_usd": {"median_usd": 500, "sigma": 1.0},
        "leverage": {"min": 3, "max": 10},
        "behaviour": {
            "weights": {"hold": 1, "take_profit": 0, "stop_loss": 0, "top_up": 0, "panic": 0},
            "take_profit_fraction": 0.05,
            "stop_loss_fraction": 0.05,
            "top_up_probability": 0.3,
            "panic_drawdown": 0.01,
        },
        "markets_per_account": {1: 0.4, 2: 0.4, 3: 0.2},
        "isolated_share": 0.0,
    },
    "price_path": {
        "kind": "factor",
        "shocks": [{"step": 2, "fall_fraction": 0.1, "over_steps": 1}],
    },
    "keepers": {
        "count": 1,
        "max_liquidations_per_block": 1,
        "reaction_delay_steps": 0,
        "min_profit_usd": 0.0,
    },
    "arbitrageurs": {"count": 0},
    "oracle_faults": [],
    "order_flow": {
        "lookback_minutes": 1.0,
        "reference_minutes": 6.0,
        "momentum": {
            "slots_per_market": 0,
            "rate_per_hour": 300.0,
            "hold_minutes": 0.2,
            "cooldown_minutes": 0.0,
            "collateral_usd": {"median_usd": 300, "sigma": 1.0},
            "leverage_max_share": 0.3,
            "min_return": 0.001,
        },
        "dip_buyers": {
            "slots_per_market": 0,
            "rate_per_hour": 300.0,
            "hold_minutes": 0.2,
            "cooldown_minutes": 0.0,
            "collateral_usd": {"median_usd": 300, "sigma": 1.0},
            "leverage_max_share": 0.3,
            "min_fall": 0.01,
        },
        "short_sellers": {
            "slots_per_market": 0,
            "rate_per_hour": 300.0,
            "hold_minutes": 0.2,
            "cooldown_minutes": 0.0,
            "collateral_usd": {"median_usd": 300, "sigma": 1.0},
            "leverage_max_share": 0.3,
            "min_fall": 0.01,
            "stop_loss_fraction": None,
        },
        "reentry": {
            "slots_per_market": 1,
            "rate_per_hour": 300.0,
            "hold_minutes": 0.2,
            "cooldown_minutes": 0.0,
            "collateral_usd": {"median_usd": 300, "sigma": 1.0},
            "leverage_max_share": 0.3,
            "take_profit_fraction": 0.02,
        },
        "funding_arbitrage": {
            "slots_per_market": 0,
            "rate_per_hour": 300.0,
            "hold_minutes": 0.2,
            "cooldown_minutes": 0.0,
            "collateral_usd": {"median_usd": 300, "sigma": 1.0},
            "leverage_max_share": 0.3,
            "min_funding_rate_per_hour": 1e-05,
        },
    },
    "mm_vault": {
        "capital_usd": 1000,
        "quoting": True,
        "participation": 1.0,
        "inventory_limit_usd": 8000,
        "max_trade_usd": 4000,
        "half_spread_bps": 0,
    },
}


@EXAMPLES
@example(d=VAULT_DEFICIT_IN_A_QUIET_BLOCK)
@given(d=flow_scenarios())
def test_the_mirror_runs_the_order_flow_and_the_vault_as_the_chain_does(d):
    counts = run_side_by_side(parse(d), steps_rows=True)
    assert counts.get("open", 0) > 0  # the flow traded
    for kind in (*FLOW_KINDS, "mm_vault:liquidation", "mm_vault:adl_fill"):
        event(f"{kind}: {counts.get(kind, 0) > 0}")
    if "mm_vault" in d:
        event(f"vault {d['mm_vault']['capital_usd']}: fills {counts.get('mm_vault_fill', 0) > 0}")


#: A small vault at 8x its capital per market that offsets the whole crowd of shorts (so it
#: is long), then a 35% fall: its quotes revert on the flow's moves, the keepers liquidate it
#: (its ``Liquidated`` rows carry its address), the fund pays its deficit.
LEVERAGED_VAULT = {
    "name": "vault-liquidated", "seed": 11, "steps": 24, "step_seconds": 60,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.5}},
                {"symbol": "ETH", "path": {"vol_per_year": 0.5}}],
    "controls": {"adl_policy": "profit_queue", "insurance_fund_usd": 200, "feedback": False},
    "traders": {"kind": "random", "count": 6, "long_share": 0.0,
                "collateral_usd": {"median_usd": 3000, "sigma": 0.5},
                "leverage": {"min": 3, "max": 10}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 12, "fall_fraction": 0.35, "over_steps": 2}]},
    "keepers": {"count": 1},
    "arbitrageurs": {"count": 0},
    "order_flow": {"reentry": {"slots_per_market": 2, "rate_per_hour": 60, "hold_minutes": 3,
                               "cooldown_minutes": 1, "long_share": 0.0}},
    "mm_vault": {"capital_usd": 2000, "quoting": True, "participation": 1.0,
                 "inventory_limit_usd": 16000, "max_trade_usd": 8000, "half_spread_bps": 0},
}  # fmt: skip


def test_the_keepers_liquidate_the_vault_as_on_chain():
    counts = run_side_by_side(parse(LEVERAGED_VAULT), steps_rows=True)
    assert counts["mm_vault_fill"] > 0 and counts["open"] > 0
    assert counts["mm_vault_trade_reverted"] > 0
    assert counts["mm_vault:liquidation"] > 0 and counts["mm_vault:insurance_payout"] > 0


def test_adl_ranks_the_vault_as_on_chain():
    """The same crowd and vault, prices up 35%: the shorts' deficits are covered by ADL, whose
    winners include the vault."""
    d = {**LEVERAGED_VAULT, "price_path": {"kind": "factor", "shocks": [
        {"step": 12, "fall_fraction": -0.35, "over_steps": 2}]}}  # fmt: skip
    counts = run_side_by_side(parse(d), steps_rows=True)
    assert counts["adl"] > 0 and counts["mm_vault:adl_fill"] > 0


def _decisions(engine: MirrorEngine) -> tuple[list, list]:
    """(every venue event's step, kind, market, account and detail; its amounts) of a run."""
    keys, amounts = [], []
    for _ in range(engine.scenario.steps + 1):
        for e in engine.step().events:
            if e["kind"] in VENUE_KINDS:
                keys.append((e["step"], e["kind"], e["market"], e["account"]))
                amounts.append(
                    [e["size_base"] or 0.0, e["price_usd"] or 0.0, e["amount_usd"] or 0.0]
                )
    return keys, amounts


@settings(EXAMPLES, max_examples=15)
@given(d=flow_scenarios())
def test_fast_mode_takes_the_exact_modes_flow_and_vault_decisions(d):
    scenario = parse(d)
    exact_keys, exact_amounts = _decisions(MirrorEngine(scenario, mode="exact"))
    fast_keys, fast_amounts = _decisions(MirrorEngine(scenario, mode="fast"))
    assert fast_keys == exact_keys
    np.testing.assert_allclose(fast_amounts, exact_amounts, rtol=1e-9, atol=1e-5)


#: The leveraged vault's crowd of both sides with flow opens at (nearly) the market's maximum
#: leverage: many are refused, so the skew the vault quoted against (the planned opens in) is
#: not the block's, and some quotes revert on their price bound.
QUOTE_BOUND = {
    **LEVERAGED_VAULT,
    "order_flow": {"reentry": {"slots_per_market": 3, "rate_per_hour": 180, "hold_minutes": 3,
                               "cooldown_minutes": 1, "long_share": 0.5,
                               "leverage_min_share": 0.99, "leverage_max_share": 1.0}},
}  # fmt: skip


def test_a_quote_reverts_on_its_price_bound_as_on_chain():
    counts = run_side_by_side(parse(QUOTE_BOUND), steps_rows=True)
    assert counts["price_limit_revert"] > 0 and counts["open_reverted"] > 0


def test_the_mirror_no_longer_refuses_the_flow_or_the_vault():
    scenario = parse(LEVERAGED_VAULT)
    assert features.unmirrored_features(scenario) == []


def _no_price_bound(delta, fill, acceptable):
    """The vault's quote bound ignored: its trades fill whatever the skew did in the block."""


def _flow_closes_reverse(ctx, venue, call):
    """A slot's close sends half its position (the rest stays open)."""
    if call.method == "closePosition":
        a, m = ctx.index(call.sender), ctx.market_index(call.market_id)
        size = venue.size[a, m]
        if size != 0:
            call = call._replace(method="trade", size_delta_wad=int(-size // 2))
    return _execute(ctx, venue, call)


_execute = planned.execute


def _vault_without_capital(scenario, venue, a):
    """The vault's address, but its capital never deposited."""
    address, _ = _fund(scenario, venue, a)
    if address is not None:
        venue.collateral[a] = venue.collateral[a] * 0
    return address, 0.0


_fund = mm_vault.fund


@pytest.mark.parametrize(
    "rule,target,name,replacement,scenario",
    [
        # Refused flow opens leave the skew past a quote's bound in a few blocks of this run
        # (asserted above); rarer among the random scenarios.
        ("the vault's quotes carry no price bound", VenueState, "_check_price_limit",
         staticmethod(_no_price_bound), QUOTE_BOUND),
        ("a flow close closes half the position", planned, "execute", _flow_closes_reverse, None),
        ("the vault gets no capital", mm_vault, "fund", _vault_without_capital, None),
    ],
    ids=["no-price-bound", "half-closes", "no-vault-capital"],
)  # fmt: skip
def test_a_broken_flow_or_vault_rule_is_caught(
    monkeypatch, rule, target, name, replacement, scenario
):
    """The differential test above (on ``scenario``, or on its random scenarios) fails on a
    mirror with one rule broken."""
    monkeypatch.setattr(target, name, replacement)

    def check(d):
        run_side_by_side(parse(d), steps_rows=True)

    rerun = settings(EXAMPLES, max_examples=50, phases=[Phase.generate], derandomize=True)(
        given(d=flow_scenarios())(check)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        check(scenario) if scenario is not None else rerun()
