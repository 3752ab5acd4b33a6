"""Parameters and grids: parsing, inference, checks against the scenario, --max-change."""

from __future__ import annotations

import pytest
from experiment_helpers import small_scenario

from simulator.experiments import ExperimentError
from simulator.experiments.params import (
    check_params,
    current_value,
    grid_points,
    narrow,
    parse_grid,
    parse_param,
)


@pytest.fixture(scope="module")
def scenario():
    return small_scenario()


def test_a_range_is_log_when_it_spans_two_decades_and_int_when_written_as_integers():
    wide = parse_param("controls.insurance_fund_usd=1e4..1e7")
    assert (wide.low, wide.high, wide.log, wide.integer) == (1e4, 1e7, True, False)
    count = parse_param("traders.count=20..80")
    assert (count.low, count.high, count.log, count.integer) == (20, 80, False, True)
    forced = parse_param("controls.insurance_fund_usd=1e4..1e7:linear:float")
    assert (forced.log, forced.integer) == (False, False)
    assert parse_param("controls.adl_policy=pro_rata|socialized").choices == (
        "pro_rata",
        "socialized",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("controls.leverage_cap=10..10", "empty range 10..10"),
        ("controls.leverage_cap=20..5", "inverted range 20..5"),
        ("controls.leverage_cap=a..5", "'a' is not a number"),
        ("controls.leverage_cap=5..20:cubic", "unknown suffix 'cubic'"),
        ("controls.leverage_cap", "must look like NAME=LOW..HIGH"),
        ("controls.leverage_cap=5", "neither a range LOW..HIGH nor a choice"),
        ("controls.insurance_fund_usd=0..1e6:log", "a log range needs LOW > 0"),
    ],
)
def test_a_malformed_param_is_one_line_naming_what_is_wrong(text, message):
    with pytest.raises(ExperimentError, match=message) as info:
        parse_param(text)
    assert "\n" not in str(info.value)


def test_check_params_refuses_an_unknown_key_and_a_value_the_scenario_refuses(scenario):
    with pytest.raises(ExperimentError, match=r"controls\.no_such_key: unknown key"):
        check_params(scenario, [parse_param("controls.no_such_key=1..2")])
    with pytest.raises(ExperimentError, match=r"no_such_parameter: unknown market parameter"):
        check_params(scenario, [parse_param("markets.BTC.overrides.no_such_parameter=1..2")])
    with pytest.raises(ExperimentError, match=r"insurance_fund_usd must be >= 0"):
        check_params(scenario, [parse_param("controls.insurance_fund_usd=-5..10")])
    with pytest.raises(ExperimentError, match=r"adl_policy: .*Input should be 'none'"):
        check_params(scenario, [parse_param("controls.adl_policy=1..3")])
    with pytest.raises(ExperimentError, match=r"the scenario's value is False, not a number"):
        check_params(scenario, [parse_param("controls.dynamic_margin=0..1")])
    with pytest.raises(ExperimentError, match="given twice"):
        check_params(scenario, [parse_param("steps=10..20"), parse_param("steps=10..30")])


def test_current_values_come_from_the_scenario_or_its_venue_preset(scenario):
    params = check_params(
        scenario,
        [
            parse_param("controls.insurance_fund_usd=0..2000000"),
            parse_param("markets.BTC.overrides.max_leverage=5..40"),
            parse_param("controls.leverage_cap=2..50"),
        ],
    )
    fund, leverage, cap = params
    assert fund.current == scenario.controls.insurance_fund_usd
    assert fund.integer is False  # the scenario's value is a float: a float range
    assert leverage.current == scenario.venue_params().markets[0].params.max_leverage
    assert cap.current is None  # the scenario sets no leverage cap
    assert current_value(scenario, "markets.BTC.overrides.max_leverage") == leverage.current


def test_max_change_narrows_each_range_around_the_current_value(scenario):
    fund, leverage, cap = check_params(
        scenario,
        [
            parse_param("controls.insurance_fund_usd=0..2000000"),
            parse_param("markets.BTC.overrides.max_leverage=5..41"),
            parse_param("controls.leverage_cap=2..50"),
        ],
    )
    narrowed = narrow([fund, leverage, cap], 10)
    f, lev, c = narrowed
    assert (f.low, f.high, f.narrowed) == pytest.approx((90_000.0, 110_000.0, True))
    current = leverage.current
    assert (lev.low, lev.high) == pytest.approx((current * 0.9, min(41, current * 1.1)))
    assert (c.low, c.high, c.narrowed) == (2.0, 50.0, False)  # no current value: kept
    assert f.given == (0.0, 2_000_000.0)
    with pytest.raises(ExperimentError, match="leaves nothing of its range"):
        narrow(check_params(scenario, [parse_param("controls.insurance_fund_usd=5e5..1e6")]), 5)
    with pytest.raises(ExperimentError, match="--max-change must be a percentage above 0"):
        narrow([fund], 0)


def test_a_grid_is_cartesian_unless_zipped(scenario):
    axes = parse_grid(["controls.leverage_cap=5,10", "controls.insurance_fund_usd=0,1e6,2e6"])
    cartesian = grid_points(scenario, axes)
    assert len(cartesian) == 6
    assert cartesian[0] == {"controls.leverage_cap": 5, "controls.insurance_fund_usd": 0}
    assert cartesian[-1] == {"controls.leverage_cap": 10, "controls.insurance_fund_usd": 2e6}
    with pytest.raises(ExperimentError, match="give each the same number of values"):
        grid_points(scenario, axes, zipped=True)
    zipped = grid_points(scenario, parse_grid(["controls.leverage_cap=5,10",
                                               "controls.insurance_fund_usd=0,1e6"]), zipped=True)  # fmt: skip
    assert zipped == [
        {"controls.leverage_cap": 5, "controls.insurance_fund_usd": 0},
        {"controls.leverage_cap": 10, "controls.insurance_fund_usd": 1e6},
    ]
    with pytest.raises(ExperimentError, match=r"controls\.nope: unknown key"):
        grid_points(scenario, parse_grid(["controls.nope=1,2"]))
