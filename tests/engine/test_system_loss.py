"""``system_loss_usd`` on real runs: the venue's is the sum of its terms, each market's the sum of
its own (issue 11, item 8)."""

from __future__ import annotations

import pytest
from engine_helpers import small_oct

from simulator.results import MARKET_SYSTEM_LOSS_TERMS, SYSTEM_LOSS_TERMS, RunReader
from simulator.runner import run_scenario
from simulator.scenario import control_set


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    """Two small five-market runs of the October fall with a $5,000 insurance fund: the
    baseline (the fund pays, then ADL takes haircuts) and with the backstop vault (its LPs take
    over accounts at a loss)."""
    out = tmp_path_factory.mktemp("loss")
    scenario = small_oct(all_markets=True, **{"controls.insurance_fund_usd": 5_000})
    runs = {}
    for name in ("baseline", "backstop_vault"):
        run_scenario(control_set(scenario, name), out / name)
        runs[name] = RunReader(out / name).summary  # as summary.json holds it
    return runs


def test_the_venues_system_loss_is_the_sum_of_its_terms(summaries):
    for name, summary in summaries.items():
        terms = [summary[t] for t in SYSTEM_LOSS_TERMS]
        assert all(t >= 0 for t in terms), (name, terms)
        assert summary["system_loss_usd"] == pytest.approx(sum(terms), rel=1e-12, abs=1e-9)
        assert summary["backstop_lp_loss_usd"] == max(0.0, -summary["backstop_pnl_usd"])
    # the runs exercise the sum: the fund paid and ADL took haircuts; the vault's LPs lost
    baseline, vault = summaries["baseline"], summaries["backstop_vault"]
    assert baseline["insurance_fund_drawdown_usd"] > 0 and baseline["adl_haircut_usd"] > 0
    assert vault["backstop_pnl_usd"] < 0 and vault["backstop_lp_loss_usd"] > 0


def test_each_markets_system_loss_is_its_adl_haircuts_and_bad_debt(summaries):
    for summary in summaries.values():
        markets = summary["markets"]
        assert len(markets) == 5
        for figures in markets.values():
            assert figures["system_loss_usd"] == pytest.approx(
                sum(figures[t] for t in MARKET_SYSTEM_LOSS_TERMS), rel=1e-12, abs=1e-9
            )
        # the venue's haircuts and bad debt are the markets'; the fund and vault come on top
        venue_part = summary["adl_haircut_usd"] + summary["bad_debt_usd"]
        assert sum(f["system_loss_usd"] for f in markets.values()) == pytest.approx(
            venue_part, rel=1e-9, abs=1e-6
        )
