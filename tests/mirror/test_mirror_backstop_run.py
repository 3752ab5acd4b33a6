"""Run-level differential test of the backstop vault on the mirror: random small scenarios
(:func:`mirror_run_helpers.small_scenarios` with a backstop vault of varied size, a varied
backstop fraction per market and the keepers, liquidation rules and ADL policies varied) run
on the chain engine (revm) and on the mirror (exact mode) side by side must agree after every
step -- the takeovers (``backstop_takeover`` rows: market, account, side, size, price, the
collateral transferred split by notional) and the refused ones (``backstop_reverted`` with
the venue's error, ``BackstopWouldBeUnderwater`` with the vault's equity and maintenance), the
liquidations and ADL fills (the vault among the winners), every ledger, the pool, open
interest, the vault's ``totalAssets``, share supply and positions (its unwind after ADL), every
``steps`` row (the vault's share price) -- and at the end the whole venue state to the wei,
the vault's account included.

A mirror with one rule of the vault broken (monkeypatched) fails the same comparison.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from mirror_run_helpers import Divergence, parse, run_side_by_side, small_scenarios

from simulator.mirror import backstop as kernels
from simulator.mirror import health
from simulator.mirror.sim import MirrorEngine, backstop
from simulator.mirror.sim.features import NotMirrored, check_mirrored

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip


@st.composite
def backstop_scenarios(draw) -> dict[str, Any]:
    """A :func:`small_scenarios` scenario with a backstop vault: its LP capital from one that a
    takeover leaves under water to one that takes over everything, each market's backstop
    fraction (a takeover below that share of the maintenance margin), a deep shock and high
    leverage."""
    d = draw(small_scenarios())
    # Shocks deep enough for accounts to fall below the backstop threshold before a keeper.
    d["price_path"]["shocks"][0]["fall_fraction"] = draw(st.sampled_from([-0.2, 0.15, 0.25, 0.35]))
    d["traders"]["leverage"]["max"] = draw(st.sampled_from([20, 40]))
    d["controls"] = {
        **d["controls"],
        "backstop_vault_usd": draw(st.sampled_from([300, 5_000, 50_000, 2_000_000])),
    }
    d["markets"] = [
        {**m, "overrides": {**m["overrides"],
                            "backstop_fraction": draw(st.sampled_from([0.0, 0.3, 0.67, 0.9, 1.0]))}}
        for m in d["markets"]
    ]  # fmt: skip
    return d


@EXAMPLES
@given(d=backstop_scenarios())
def test_the_mirror_runs_the_backstop_vault_as_the_chain_does(d):
    counts = run_side_by_side(parse(d), spot=True)
    for kind in ("backstop_takeover", "backstop_reverted", "liquidation", "adl_fill",
                 "bad_debt"):  # fmt: skip
        event(f"{kind}: {counts.get(kind, 0) > 0}")


#: Two markets at 15-25x, 70% long, a 20% fall at step 4 with keepers that react at once: the
#: vault (50,000 USD, backstop fraction 0.9) takes over accounts, refuses the ones that would
#: leave it under water (liquidated instead), unwinds 10% a step, and the longs' bad debt is
#: deleveraged from the winners' side under the profit queue.
VAULT = {
    "name": "vault", "seed": 3, "steps": 30, "step_seconds": 60,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.5},
                 "overrides": {"backstop_fraction": 0.9}},
                {"symbol": "ETH", "path": {"vol_per_year": 0.5},
                 "overrides": {"backstop_fraction": 0.9}}],
    "controls": {"adl_policy": "profit_queue", "insurance_fund_usd": 1000, "feedback": False,
                 "backstop_vault_usd": 50_000},
    "traders": {"kind": "random", "count": 8, "long_share": 0.7,
                "leverage": {"min": 15, "max": 25},
                "behaviour": {"weights": {"hold": 1, "take_profit": 0, "stop_loss": 0,
                                          "top_up": 0, "panic": 0}}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 4, "fall_fraction": 0.2, "over_steps": 1}]},
    "keepers": {"count": 1, "reaction_delay_steps": 0},
    "arbitrageurs": {"count": 0},
}  # fmt: skip


def test_takeovers_refusals_and_the_unwind_as_on_chain():
    counts = run_side_by_side(parse(VAULT), spot=True)
    assert counts["backstop_takeover"] > 0 and counts["backstop_reverted"] > 0
    assert counts["liquidation"] > 0 and counts["adl_fill"] > 0


def _health_without_maintenance(book, price, markets, state):
    """The vault's cross health with no maintenance margin: no takeover is ever refused."""
    h = health.cross_health(book, price, markets, state)
    return replace(h, maintenance=h.maintenance * 0)


@pytest.mark.parametrize(
    "rule,target,name,replacement",
    [
        ("the vault unwinds a fifth of its positions a step", backstop,
         "VAULT_UNWIND_SHARE_PER_STEP", 0.2),
        ("a takeover that leaves the vault under water goes through", kernels,
         "cross_health", _health_without_maintenance),
        ("the vault's shares are one per unit of assets", backstop, "SHARES_PER_UNIT", 1),
    ],
    ids=["unwind-share", "underwater", "shares"],
)  # fmt: skip
def test_a_broken_vault_rule_is_caught(monkeypatch, rule, target, name, replacement):
    """The differential test above fails on a mirror with one rule of the vault broken: on the
    deterministic scenario, and among the random ones."""
    monkeypatch.setattr(target, name, replacement)
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        run_side_by_side(parse(VAULT), spot=True)

    def check(d):
        run_side_by_side(parse(d), spot=True)

    rerun = settings(EXAMPLES, max_examples=30, phases=[Phase.generate], derandomize=True)(
        given(d=backstop_scenarios())(check)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        rerun()


def test_the_vaults_lp_withdrawals_are_refused_by_name():
    d = {**VAULT, "lps": {"withdraw_on_drawdown": 0.1, "applies_to": "backstop"}}
    with pytest.raises(NotMirrored, match=r"lps.withdraw_on_drawdown from the backstop vault"):
        check_mirrored(parse(d))
    check_mirrored(parse({**VAULT, "lps": {"withdraw_on_drawdown": 0.1, "applies_to": "amm"}}))


#: The vault scenario with half the traders short, a 20% rise at step 3 (the vault takes over
#: shorts) and a 35% fall at step 9: the longs' bad debt is deleveraged from the shorts' side,
#: the vault's short among them.
VAULT_IN_ADL = {**VAULT, "seed": 22, "steps": 24,
                "traders": {**VAULT["traders"], "long_share": 0.5},
                "price_path": {"kind": "factor",
                               "shocks": [{"step": 3, "fall_fraction": -0.2, "over_steps": 1},
                                          {"step": 9, "fall_fraction": 0.35, "over_steps": 1}]}}  # fmt: skip


@pytest.mark.parametrize("policy", ["profit_queue", "pro_rata"])
def test_the_adl_keeper_deleverages_the_vault_as_on_chain(policy):
    d = {**VAULT_IN_ADL, "controls": {**VAULT_IN_ADL["controls"], "adl_policy": policy}}
    counts = run_side_by_side(parse(d), spot=True)
    assert counts["adl_fill"] > 0 and counts["backstop_takeover"] > 0
    mirror = MirrorEngine(parse(d), mode="exact")  # the chain's rows, step by step (above)
    fills = []
    mirror.run(on_step=lambda out: fills.extend(
        e for e in out.events if e["kind"] == "adl_fill"
        and e["account"] == mirror.ctx.vault_address))  # fmt: skip
    assert fills, "the vault was not among the ADL winners"
