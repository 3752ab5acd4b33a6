"""A takeover the venue refuses (the vault would end below its own maintenance margin, review
F8: the venue reverts ``BackstopWouldBeUnderwater``) is not tried again every step: keepers
liquidate the account instead."""

from __future__ import annotations

from test_single_position import one_long_scenario

from simulator.results import RunReader
from simulator.runner import run_scenario
from simulator.scenario import parse_scenario


def test_a_refused_takeover_falls_back_to_a_liquidation(tmp_path):
    # A 20x long at 100k (liquidation price near 95,960) jumps to 95,500 in one step: equity
    # about 500 USD against a maintenance margin of 955, under the backstop's 2/3 x MM, so the
    # keeper asks the vault first. The vault holds 100 USD: after the takeover its account
    # would hold about 600 USD against the same 955 of maintenance, and the venue refuses.
    prices = [100_000.0, 100_000.0] + [95_500.0] * 6
    raw = one_long_scenario(prices)
    raw["controls"]["backstop_vault_usd"] = 100
    result = run_scenario(parse_scenario(raw), tmp_path / "run")
    run = RunReader(tmp_path / "run")
    events = run.events

    refused = events[events["kind"] == "backstop_reverted"]
    assert len(refused) == 1, refused[["step", "detail"]]
    assert refused["detail"].iloc[0].startswith("BackstopWouldBeUnderwater(")
    liquidated = events[events["kind"].isin(["liquidation", "partial_liquidation"])]
    assert len(liquidated) >= 1
    assert liquidated["step"].min() == refused["step"].iloc[0] + 1
    assert run.positions.iloc[0]["outcome"] == "liquidated"
    assert result is not None
