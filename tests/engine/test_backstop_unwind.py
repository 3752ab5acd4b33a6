"""The backstop vault's unwind pace (``controls.backstop_unwind_share_per_step``): the share of
each position the vault's manager closes every step (:func:`simulator.engine.spot.
plan_vault_unwind`), exact at 1 (no float dust, no flip), validated (a bad value is one
``error:`` line and exit 2, nothing written). The run-level check that the chain and the
mirror unwind alike at any pace is ``tests/mirror/test_mirror_backstop_run.py``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from test_single_position import one_long_scenario

from simulator.cli import main
from simulator.engine.spot import VAULT_UNWIND_SHARE_PER_STEP, plan_vault_unwind, vault_unwind_delta
from simulator.errors import PerpsimError
from simulator.scenario import parse_scenario


def _sizes(n: int, seed: int) -> list[int]:
    """``n`` signed WAD sizes from dust to 10**26 wei (10**8 base units), both signs."""
    rng = np.random.default_rng(seed)
    digits = rng.integers(1, 27, size=n)
    return [
        int(rng.integers(1, 10)) * 10 ** int(d - 1) + int(rng.integers(0, 10**6))
        if k % 2
        else -(int(rng.integers(1, 10)) * 10 ** int(d - 1) + int(rng.integers(0, 10**6)))
        for k, d in enumerate(digits)
    ]


def test_the_default_pace_is_the_old_tenth_a_step_to_the_wei():
    # The default keeps every run as it was: a tenth of what is left, truncated toward zero.
    assert VAULT_UNWIND_SHARE_PER_STEP == 0.1
    for size in _sizes(500, seed=1):
        expected = -int(size * 0.1) or -size
        assert vault_unwind_delta(size, 0.1) == expected, size


@pytest.mark.parametrize("share", [0.02, 0.1, 0.35, 0.5, 0.999, 1.0])
def test_an_unwind_closes_its_share_and_never_more_than_the_position(share):
    for size in _sizes(500, seed=2):
        delta = vault_unwind_delta(size, share)
        assert delta != 0 and (delta > 0) == (size < 0), (size, delta)  # it only reduces
        assert abs(delta) <= abs(size), (size, delta)  # never flips the position
        if share < 1 and abs(int(size * share)) in range(1, abs(size)):
            assert delta == -int(size * share)
        else:
            assert delta == -size  # all of it, or a share that rounds to nothing or to all


def test_a_whole_unwind_closes_a_twenty_digit_position_exactly():
    # A float product of a 20-digit integer is off by some wei: ``-int(size * 1.0)`` would
    # leave dust (a product rounded down: SOL's 10.728978767972 on oct-2025) or open a tiny
    # opposite position (rounded up); the unwind closes the position exactly.
    sizes = [10_728_978_767_972_000_000, -86_086_816_171_183_553_717, 10**25 + 1]
    assert abs(int(sizes[0] * 1.0)) < abs(sizes[0])
    assert abs(int(sizes[1] * 1.0)) > abs(sizes[1])
    assert [vault_unwind_delta(size, 1.0) for size in sizes] == [-size for size in sizes]


def _plan(share: float | None, sizes: list[int], *, with_vault: bool = True) -> list[tuple]:
    """The ``tradePosition`` calls :func:`plan_vault_unwind` plans for a vault holding
    ``sizes`` (WAD, one per market) under a scenario with that unwind share."""
    raw = one_long_scenario([100_000.0, 100_000.0])
    raw["controls"]["backstop_vault_usd"] = 1_000_000
    if share is not None:
        raw["controls"]["backstop_unwind_share_per_step"] = share
    calls: list[tuple] = []
    vault = SimpleNamespace(trade_position=lambda *args: calls.append(args) or args)
    ctx = SimpleNamespace(
        scenario=parse_scenario(raw),
        venue=SimpleNamespace(vault=vault if with_vault else None, manager="manager"),
        market_ids=[11, 12, 13],
    )
    actions = plan_vault_unwind(ctx, {"vault_size_wad": sizes})
    assert [a.call for a in actions] == calls
    assert all(a.kind == "vault_unwind" for a in actions)
    return [(a.market, *a.call) for a in actions]


def test_the_manager_closes_the_scenarios_share_of_every_position_it_holds():
    sizes = [10**20, 0, -3 * 10**18]
    assert _plan(None, sizes) == [(0, "manager", 11, -(10**19)), (2, "manager", 13, 3 * 10**17)]
    assert _plan(0.25, sizes) == [
        (0, "manager", 11, -(25 * 10**18)),
        (2, "manager", 13, 75 * 10**16),
    ]
    assert _plan(1.0, sizes) == [(0, "manager", 11, -(10**20)), (2, "manager", 13, 3 * 10**18)]
    assert _plan(0.25, sizes, with_vault=False) == []


@pytest.mark.parametrize("value", [0, -0.1, 1.5, "fast"])
def test_a_bad_unwind_share_is_refused_naming_the_key(value):
    raw = one_long_scenario([100_000.0, 100_000.0])
    raw["controls"]["backstop_unwind_share_per_step"] = value
    with pytest.raises(PerpsimError, match="controls.backstop_unwind_share_per_step"):
        parse_scenario(raw)


def test_the_cli_refuses_a_bad_unwind_share_in_one_line_with_exit_2(tmp_path):
    out = tmp_path / "run"
    args = ["run", "oct-2025", "--engine", "mirror", "--out", str(out),
            "--set", "controls.backstop_unwind_share_per_step=0"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "controls.backstop_unwind_share_per_step must be > 0 and <= 1 (got 0)" in lines[0]
    assert not out.exists()
