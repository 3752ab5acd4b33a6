"""Run-level differential test of the backstop vault on the mirror: random small scenarios
(:func:`mirror_run_helpers.small_scenarios`, half with the circuit breaker and the margin
controller, with a backstop vault of varied size and margin share, a varied backstop fraction
per market, its LPs withdrawing or not, and the keepers, liquidation rules and ADL policies
varied) run
on the chain engine (revm) and on the mirror (exact mode) side by side must agree after every
step -- the takeovers (``backstop_takeover`` rows: market, account, side, size, price, the
collateral transferred split by notional) and the refused ones (``backstop_reverted`` with
the venue's error, ``BackstopWouldBeUnderwater`` with the vault's equity and maintenance), the
liquidations and ADL fills (the vault among the winners), every ledger, the pool, open
interest, the vault's ``totalAssets``, share supply and positions (its unwind after ADL), every
``steps`` row (the vault's share price), the vault's LPs' withdrawal (``maxWithdraw`` with the
shares' lock) -- and at the end the whole venue state to the wei, the vault's account included.

With the order flow and the market-making vault (:func:`mirror_run_helpers.flow_scenarios`)
the backstop vault takes the market-making vault over as on chain. Every takeover outcome is
compared call by call with the chain's, and the fast mode held to the exact mode.

A mirror with one rule of the vault broken (monkeypatched) fails the same comparison.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from mirror_run_helpers import (
    VENUE_KINDS,
    Divergence,
    compare_final_state,
    controls_scenarios,
    flow_scenarios,
    parse,
    run_side_by_side,
    small_scenarios,
)

from simulator.chain import open_chain
from simulator.engine import Engine
from simulator.mirror import backstop as kernels
from simulator.mirror import health
from simulator.mirror.sim import MirrorEngine, backstop
from simulator.mirror.sim.venue import Reverted
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.world import build_world

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip


@st.composite
def backstop_scenarios(draw) -> dict[str, Any]:
    """A :func:`small_scenarios` scenario (half of them with the risk controls of
    :func:`controls_scenarios`) with a backstop vault: its LP capital from one that a
    takeover leaves under water to one that takes over everything, each market's backstop
    fraction (a takeover below that share of the maintenance margin), a deep shock and high
    leverage."""
    d = draw(st.one_of(small_scenarios(), controls_scenarios()))
    # Shocks deep enough for accounts to fall below the backstop threshold before a keeper.
    d["price_path"]["shocks"][0]["fall_fraction"] = draw(st.sampled_from([-0.2, 0.15, 0.25, 0.35]))
    d["traders"]["leverage"]["max"] = draw(st.sampled_from([20, 40]))
    # The vault's margin share: all of its capital at the venue (hyperliquid-like) or none
    # (gmx-like: idle, what its LPs may withdraw), and its LPs withdrawing on a drawdown.
    d["venue"] = {**d["venue"], "preset": draw(st.sampled_from(["hyperliquid-like", "gmx-like"]))}
    change = d["controls"].get("governance_change")
    if d["venue"]["preset"] == "gmx-like" and change and change["path"] == "guardian":
        # the small scenarios' guardian values are tighter than hyperliquid-like's, not gmx-like's
        d["controls"] = {**d["controls"], "governance_change": None}
    if draw(st.booleans()):
        d["lps"] = {"withdraw_on_drawdown": draw(st.sampled_from([0.03, 0.1])),
                    "withdraw_fraction": draw(st.sampled_from([0.3, 1.0])),
                    "applies_to": draw(st.sampled_from(["backstop", "both"]))}  # fmt: skip
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
                 "bad_debt", "lp_withdrawal"):  # fmt: skip
        event(f"{kind}: {counts.get(kind, 0) > 0}")
    event(f"the breaker refused a keeper: {counts.get('breaker_revert', 0) > 0}")


@settings(EXAMPLES, max_examples=30)
@given(d=backstop_scenarios(), share=st.sampled_from([0.02, 0.35, 1.0]))
def test_the_mirror_unwinds_the_vault_at_any_pace_as_the_chain_does(d, share):
    """The same comparison with the manager's unwind pace drawn
    (``controls.backstop_unwind_share_per_step``; a separate test, so that the examples of
    the one above, and of the broken rules' reruns, stay what they were)."""
    d["controls"] = {**d["controls"], "backstop_unwind_share_per_step": share}
    counts = run_side_by_side(parse(d), spot=True)
    event(f"backstop_takeover: {counts.get('backstop_takeover', 0) > 0}")


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


#: The vault scenario on gmx-like (the vault's capital all idle: takeovers refused, its LPs may
#: withdraw it all) with its LPs withdrawing half of what they can once a price is 10% off its
#: peak; a 15-minute lock on their shares after the deposit: with a one-minute timelock delay
#: the fall comes while they are locked (nothing withdrawn), with an hour's after it.
LP_EXIT = {**VAULT, "venue": {"preset": "gmx-like", "timelock_delay_s": 3_600},
           "lps": {"withdraw_on_drawdown": 0.1, "withdraw_fraction": 0.5,
                   "applies_to": "backstop"}}  # fmt: skip
LP_LOCKED = {**LP_EXIT, "venue": {"preset": "gmx-like", "timelock_delay_s": 60}}


def test_the_vaults_lps_withdraw_as_on_chain():
    counts = run_side_by_side(parse(LP_EXIT), spot=True)
    assert counts["lp_withdrawal"] == 1 and counts["backstop_reverted"] > 0
    assert "lp_withdrawal" not in run_side_by_side(parse(LP_LOCKED), spot=True)


def _unlocked(vault, now_s, total_assets_units):
    """``maxWithdraw`` without the shares' lock."""
    assets = int(kernels.convert_to_assets(vault.supply, vault.supply, total_assets_units))
    return min(assets, vault.idle_units)


def _health_without_maintenance(book, price, markets, state):
    """The vault's cross health with no maintenance margin: no takeover is ever refused."""
    h = health.cross_health(book, price, markets, state)
    return replace(h, maintenance=h.maintenance * 0)


@pytest.mark.parametrize(
    "rule,target,name,replacement,scenario",
    [
        ("the vault unwinds a fifth of its positions a step", backstop,
         "vault_unwind_delta", lambda size, share: -int(size * 0.2) or -size, VAULT),
        ("a takeover that leaves the vault under water goes through", kernels,
         "cross_health", _health_without_maintenance, VAULT),
        ("the vault's shares are one per unit of assets", backstop, "SHARES_PER_UNIT", 1, VAULT),
        ("the LPs' shares never lock", backstop, "max_withdraw", _unlocked, LP_LOCKED),
    ],
    ids=["unwind-share", "underwater", "shares", "no-lock"],
)  # fmt: skip
def test_a_broken_vault_rule_is_caught(monkeypatch, rule, target, name, replacement, scenario):
    """The differential test above fails on a mirror with one rule of the vault broken: on a
    deterministic scenario, and among the random ones."""
    monkeypatch.setattr(target, name, replacement)
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        run_side_by_side(parse(scenario), spot=True)

    def check(d):
        run_side_by_side(parse(d), spot=True)

    rerun = settings(EXAMPLES, max_examples=30, phases=[Phase.generate], derandomize=True)(
        given(d=backstop_scenarios())(check)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        rerun()


def _with_unwind_share(d: dict[str, Any], share: float) -> dict[str, Any]:
    return {**d, "controls": {**d["controls"], "backstop_unwind_share_per_step": share}}


def _vault_sizes_and_takeovers(engine: MirrorEngine) -> tuple[list[list[int]], list[set]]:
    """After every step: the vault's size per market (WAD integers, as the levels read them)
    and the markets (indices) of the step's takeovers."""
    sizes, taken = [], []

    def record(outcome) -> None:
        sizes.append([int(x) for x in engine._last_levels["vault_size_wad"]])
        taken.append({engine.symbols.index(e["market"]) for e in outcome.events
                      if e["kind"] == "backstop_takeover"})  # fmt: skip

    engine.run(on_step=record)
    return sizes, taken


@pytest.mark.parametrize("share", [1.0, 0.35])
def test_the_vault_unwinds_at_the_scenarios_pace_on_chain_and_on_the_mirror(share):
    """``controls.backstop_unwind_share_per_step``: the chain engine and the mirror send the
    same unwind (the run is the chain's to the wei). In every market the vault held at a
    step's start and took nothing over in, it is left with ``size − int(size × share)``; at 1
    it holds nothing at the end of any step (VAULT's keepers may leave a deficit, so the
    unwind reads the block after the takeovers and closes them in their own block), no dust."""
    d = _with_unwind_share(VAULT, share)
    counts = run_side_by_side(parse(d), spot=True)
    assert counts["backstop_takeover"] > 0
    sizes, taken = _vault_sizes_and_takeovers(MirrorEngine(parse(d), mode="exact"))
    assert any(taken)
    if share == 1.0:
        assert all(size == 0 for step in sizes for size in step)
    else:
        checked = 0
        for t in range(1, len(sizes)):
            for m, (before, after) in enumerate(zip(sizes[t - 1], sizes[t], strict=True)):
                if before and m not in taken[t]:
                    assert after == before - int(before * share), (t, m, before, after)
                    checked += 1
        assert checked > 0
    fast_sizes, fast_taken = _vault_sizes_and_takeovers(MirrorEngine(parse(d), mode="fast"))
    assert fast_taken == taken
    np.testing.assert_allclose(np.array(fast_sizes, dtype=float), np.array(sizes, dtype=float),
                               rtol=1e-9, atol=1e3)  # fmt: skip


def _vault_pnl_and_takeovers(d: dict[str, Any]) -> tuple[float, list[tuple]]:
    """The vault's P&L over the run (``totalAssets`` at the end less the LP capital, USD) and
    its takeovers (step, market, account), on the mirror (fast)."""
    engine = MirrorEngine(parse(d), mode="fast")
    taken: list[tuple] = []
    engine.run(on_step=lambda o: taken.extend((e["step"], e["market"], e["account"])
                                              for e in o.events if e["kind"] == "backstop_takeover"))  # fmt: skip
    return engine._last_levels["vault_assets_usd"] - d["controls"]["backstop_vault_usd"], taken


@pytest.mark.parametrize("after", [0.05, -0.05], ids=["keeps-falling", "rebounds"])
def test_what_the_vault_holds_after_its_takeovers_is_market_risk_that_a_fast_unwind_sheds(after):
    """A 4% fall at step 4 puts accounts under the backstop threshold (the vault, 2M USD,
    takes them over with their margin); then prices fall, or rise, another 5% over ten steps.
    The pace does not change what is taken over; the vault's P&L does: while it keeps falling
    the slower unwind loses more (at 0.1 the vault loses, at 1 it keeps about its cushion),
    while it rebounds the slower unwind gains more -- the vault's loss on oct-2025 is the
    fall of what it still holds (README: what the backstop vault's figure means)."""
    base = {**VAULT, "controls": {**VAULT["controls"], "backstop_vault_usd": 2_000_000},
            "price_path": {"kind": "factor",
                           "shocks": [{"step": 4, "fall_fraction": 0.04, "over_steps": 1},
                                      {"step": 5, "fall_fraction": after, "over_steps": 10}]}}  # fmt: skip
    runs = [_vault_pnl_and_takeovers(_with_unwind_share(base, s)) for s in (0.1, 0.35, 1.0)]
    pnl = [p for p, _ in runs]
    taken = runs[0][1]
    assert len(taken) >= 3 and all(t == taken for _, t in runs)
    if after > 0:
        assert pnl[0] < pnl[1] < 0 < pnl[2], pnl
    else:
        assert pnl[0] > pnl[1] > pnl[2] > 0, pnl


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


def _vault_run(engine: MirrorEngine) -> tuple[list, list, list]:
    """Every venue event's (step, kind, market, account, error name), its size and amount,
    and the vault's (assets USD, supply, sizes in base units) after every step."""
    keys, amounts, vault = [], [], []

    def record(outcome) -> None:
        for e in outcome.events:
            if e["kind"] in VENUE_KINDS or e["kind"] == "lp_withdrawal":
                error = (e["detail"] or "").split("(")[0] if "reverted" in e["kind"] else ""
                keys.append((e["step"], e["kind"], e["market"], e["account"], error))
                amounts.append([e["size_base"] or 0.0, e["amount_usd"] or 0.0])
        got = engine._last_levels
        vault.append([got["vault_assets_usd"], got["vault_supply"],
                      *(int(x) / 1e18 for x in got["vault_size_wad"])])  # fmt: skip

    engine.run(on_step=record)
    return keys, amounts, vault


@pytest.mark.parametrize("d", [VAULT, VAULT_IN_ADL, LP_EXIT], ids=["vault", "adl", "lp-exit"])
def test_fast_mode_takes_the_exact_modes_decisions_with_the_vault(d):
    """The fast mode (floats) takes over, refuses, deleverages and withdraws as the exact mode
    does, with the vault's assets, supply and positions to 1e-9."""
    exact_keys, exact_amounts, exact_vault = _vault_run(MirrorEngine(parse(d), mode="exact"))
    fast_keys, fast_amounts, fast_vault = _vault_run(MirrorEngine(parse(d), mode="fast"))
    assert fast_keys == exact_keys
    assert any(k[1] == "backstop_takeover" or k[1] == "lp_withdrawal" for k in exact_keys)
    np.testing.assert_allclose(fast_amounts, exact_amounts, rtol=1e-9, atol=1e-5)
    np.testing.assert_allclose(fast_vault, exact_vault, rtol=1e-9, atol=1e-9)


def _takeovers_on_both(engine: Engine, mirror: MirrorEngine) -> list[tuple[str, str]]:
    """In the next block (one second after the last): ``backstopTakeover`` of every account in
    turn, on chain and on the mirror; each outcome on both (the revert's text, or the
    collateral transferred)."""
    venue, v = mirror.venue, engine.venue.venue
    keeper = engine.world.keepers[0]
    venue.begin_block(venue.now + 1)
    mine = []
    for a in range(len(engine.ctx.accounts)):
        try:
            mine.append(f"transferred={int(backstop.takeover(venue, a))}")
        except Reverted as exc:
            mine.append(str(exc))
    results = engine.chain.execute([v.backstop_takeover(keeper, who)
                                    for who in engine.ctx.accounts])  # fmt: skip
    theirs = []
    for r in results:
        if not r.ok:
            theirs.append(str(r.error))
            continue
        e = next(e for e in r.events if e.name == "BackstopTakeover")
        theirs.append(f"transferred={e.args['collateralTransferred']}")
    return list(zip(mine, theirs, strict=True))


def test_every_takeover_outcome_is_the_chains_call_by_call():
    """After the shock of the vault scenario (keepers late), every account's takeover called on
    both engines in one block: the same takeovers (the collateral transferred to the wei) and the same refusals
    with the venue's text (``NotBelowBackstopThreshold`` with the account's equity and
    threshold, ``NoPosition``, ``BackstopWouldBeUnderwater``), then the same state."""
    # keepers slow enough that nobody is taken over before the calls
    scenario = parse({**VAULT, "keepers": {"count": 1, "reaction_delay_steps": 8}})
    mirror = MirrorEngine(scenario, mode="exact")
    with open_chain(backend="revm", anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        engine = Engine(chain, build_world(chain, scenario))
        for _ in range(6):
            engine.step(), mirror.step()
        seen = _takeovers_on_both(engine, mirror)
        for mine, theirs in seen:
            assert mine == theirs
        compare_final_state(engine, mirror)
    outcomes = {theirs.split("(")[0].split("=")[0] for _, theirs in seen}
    assert {"transferred", "NotBelowBackstopThreshold"} <= outcomes, outcomes


#: A market-making vault of 1,000 USD quoting at 8x its capital against a small flow, a 6% fall
#: at step 2 and backstop fractions of 1 (found by hypothesis): the keepers have the backstop
#: vault take the market-making vault over.
MM_TAKEOVER = {'name': 'mm-takeover',
 'seed': 0,
 'steps': 12,
 'step_seconds': 12,
 'venue': {'preset': 'hyperliquid-like', 'timelock_delay_s': 60},
 'markets': [{'symbol': 'BTC',
              'overrides': {'max_liquidation_notional_per_block_usd': 5000,
                            'backstop_fraction': 1.0},
              'path': {'vol_per_year': 0.5, 'beta': 0.0}},
             {'symbol': 'ETH',
              'overrides': {'max_liquidation_notional_per_block_usd': 5000,
                            'backstop_fraction': 1.0},
              'path': {'vol_per_year': 0.5, 'beta': 0.0}}],
 'controls': {'adl_price_mode': 'bankruptcy_price',
              'adl_policy': 'none',
              'insurance_fund_usd': 0,
              'feedback': False,
              'governance_change': None,
              'backstop_vault_usd': 50000},
 'traders': {'kind': 'random',
             'count': 2,
             'long_share': 0.2,
             'collateral_usd': {'median_usd': 500, 'sigma': 1.0},
             'leverage': {'min': 3, 'max': 10},
             'behaviour': {'weights': {'hold': 1,
                                       'take_profit': 0,
                                       'stop_loss': 0,
                                       'top_up': 0,
                                       'panic': 0},
                           'take_profit_fraction': 0.05,
                           'stop_loss_fraction': 0.05,
                           'top_up_probability': 0.3,
                           'panic_drawdown': 0.01},
             'markets_per_account': {1: 0.5, 2: 0.5},
             'isolated_share': 0.0},
 'price_path': {'kind': 'factor',
                'shocks': [{'step': 2, 'fall_fraction': 0.06, 'over_steps': 1}]},
 'keepers': {'count': 1,
             'max_liquidations_per_block': 1,
             'reaction_delay_steps': 0,
             'min_profit_usd': 0.0},
 'arbitrageurs': {'count': 0},
 'oracle_faults': [],
 'order_flow': {'lookback_minutes': 1.0,
                'reference_minutes': 6.0,
                'momentum': {'slots_per_market': 0,
                             'rate_per_hour': 300.0,
                             'hold_minutes': 0.2,
                             'cooldown_minutes': 0.0,
                             'collateral_usd': {'median_usd': 300, 'sigma': 1.0},
                             'leverage_max_share': 0.3,
                             'min_return': 0.001},
                'dip_buyers': {'slots_per_market': 0,
                               'rate_per_hour': 300.0,
                               'hold_minutes': 0.2,
                               'cooldown_minutes': 0.0,
                               'collateral_usd': {'median_usd': 300, 'sigma': 1.0},
                               'leverage_max_share': 0.3,
                               'min_fall': 0.01},
                'short_sellers': {'slots_per_market': 0,
                                  'rate_per_hour': 300.0,
                                  'hold_minutes': 0.2,
                                  'cooldown_minutes': 0.0,
                                  'collateral_usd': {'median_usd': 300, 'sigma': 1.0},
                                  'leverage_max_share': 0.3,
                                  'min_fall': 0.01,
                                  'stop_loss_fraction': None},
                'reentry': {'slots_per_market': 1,
                            'rate_per_hour': 300.0,
                            'hold_minutes': 0.2,
                            'cooldown_minutes': 0.0,
                            'collateral_usd': {'median_usd': 300, 'sigma': 1.0},
                            'leverage_max_share': 0.3,
                            'take_profit_fraction': 0.02},
                'funding_arbitrage': {'slots_per_market': 0,
                                      'rate_per_hour': 300.0,
                                      'hold_minutes': 0.2,
                                      'cooldown_minutes': 0.0,
                                      'collateral_usd': {'median_usd': 300, 'sigma': 1.0},
                                      'leverage_max_share': 0.3,
                                      'min_funding_rate_per_hour': 1e-05}},
 'mm_vault': {'capital_usd': 1000,
              'quoting': True,
              'participation': 1.0,
              'inventory_limit_usd': 8000,
              'max_trade_usd': 4000,
              'half_spread_bps': 0}}  # fmt: skip


def test_the_backstop_vault_takes_over_the_market_making_vault_as_on_chain():
    counts = run_side_by_side(parse(MM_TAKEOVER), spot=True, steps_rows=True)
    assert counts["mm_vault:backstop_takeover"] > 0


@settings(EXAMPLES, max_examples=40)
@given(d=flow_scenarios(), size=st.sampled_from([3_000, 50_000, 2_000_000]),
       fraction=st.sampled_from([0.67, 0.9, 1.0]))  # fmt: skip
def test_the_backstop_vault_beside_the_flow_and_the_market_making_vault(d, size, fraction):
    """:func:`flow_scenarios` (arriving traders, the market-making vault quoting, leveraged or
    idle) with a backstop vault: as on chain, the market-making vault's takeovers among them."""
    d["controls"] = {**d["controls"], "backstop_vault_usd": size}
    for m in d["markets"]:
        m["overrides"] = {**m["overrides"], "backstop_fraction": fraction}
    counts = run_side_by_side(parse(d), spot=True, steps_rows=True)
    event(f"the market-making vault taken over: {counts.get('mm_vault:backstop_takeover', 0) > 0}")
    event(f"backstop_takeover: {counts.get('backstop_takeover', 0) > 0}")
