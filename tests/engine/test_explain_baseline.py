"""The report says why a control set gives the baseline's figures, measured from its runs
(:mod:`simulator.explain`)."""

from __future__ import annotations

from engine_helpers import small_oct

from simulator.compare import run_compare
from simulator.explain import largest_open_interest
from simulator.results import RunReader


def test_an_oi_cap_that_never_binds_is_explained_by_the_largest_open_interest(tmp_path):
    # The small scenario's largest market side holds a few hundred thousand USD: a 20M cap
    # (the oi_cap control set) never binds, so the set gives the baseline's figures. Before,
    # the report said only how many positions opened after step 0, which is not a reason.
    out = tmp_path / "cmp"
    scenario = small_oct(steps=20)
    run_compare(scenario, ["baseline", "oi_cap"], 1, out, workers=1, backend="revm")
    report = (out / "report.md").read_text()
    why = report.split("## Control sets that give the baseline's figures")[1].split("\n## ")[0]
    line = next(x for x in why.splitlines() if x.startswith("- **oi_cap**"))
    assert "the open interest never reached the cap: its largest side was" in line
    assert "against a cap of 20M USD per market and side" in line
    usd, market, step, side = largest_open_interest(RunReader(out / "runs" / "oi_cap" / "path-0"))
    assert 0 < usd < 20e6 and market and side in ("long", "short") and step >= 0
