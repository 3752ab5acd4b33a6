"""Objectives and constraints: parsing, directions, statistics over paths, unknown metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.experiments import ExperimentError
from simulator.experiments.objectives import (
    MAXIMIZE,
    MINIMIZE,
    metric_value,
    parse_constraint,
    parse_objective,
)


def _runs(values, metric="system_loss_usd"):
    return [{metric: v, "markets": {"BTC": {metric: v / 2}}} for v in values]


def test_statistics_reduce_a_metric_over_paths():
    runs = _runs([float(v) for v in range(101)])
    assert parse_objective("mean:system_loss_usd").value(runs) == pytest.approx(50.0)
    assert parse_objective("var95:system_loss_usd").value(runs) == pytest.approx(95.0)
    assert parse_objective("evar99:system_loss_usd").value(runs) == pytest.approx(99.0)
    assert parse_objective("cvar95:system_loss_usd").value(runs) == pytest.approx(
        np.mean([95, 96, 97, 98, 99, 100])
    )
    assert parse_objective("max:BTC:system_loss_usd").value(runs) == pytest.approx(50.0)
    assert math.isnan(parse_objective("mean:bad_debt_usd").value(runs))  # no path has it


def test_directions_are_given_or_follow_what_the_metric_is():
    assert parse_objective("var95:system_loss_usd").direction == MINIMIZE
    assert parse_objective("mean:fees_usd").direction == MAXIMIZE
    assert parse_objective("mean:oi_start_usd").direction == MAXIMIZE
    assert parse_objective("min:mean:fees_usd").direction == MINIMIZE
    assert parse_objective("max:p50:bad_debt_usd").direction == MAXIMIZE


def test_open_interest_at_start_is_summed_over_markets_and_sides():
    summary = {"markets": {"BTC": {"oi_long_start_usd": 3.0, "oi_short_start_usd": 1.0},
                           "ETH": {"oi_long_start_usd": 2.0, "oi_short_start_usd": 0.5}}}  # fmt: skip
    assert metric_value(summary, "oi_start_usd") == 6.5
    assert metric_value(summary, "ETH:oi_start_usd") == 2.5


def test_a_constraint_is_met_at_or_below_its_bound():
    c = parse_constraint("evar99:bad_debt_usd<=1e6")
    assert (c.op, c.bound) == ("<=", 1e6)
    assert c.violation(1e6) == 0.0 and c.violation(5e5) < 0 and c.violation(2e6) == 1e6
    assert c.violation(float("nan")) == math.inf
    floor = parse_constraint("mean:fees_usd >= 100")
    assert floor.violation(150.0) == -50.0


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_objective, "var95:no_such_metric", "unknown metric 'no_such_metric'"),
        (parse_objective, "mode:system_loss_usd", "unknown statistic 'mode'"),
        (parse_objective, "system_loss_usd", "must look like STAT:METRIC"),
        (parse_objective, "mean:SOL:bad_debt_usd", "the scenario has no market 'SOL'"),
        (parse_objective, "mean:bad_debt_usd<=5", "an objective has no bound"),
        (parse_constraint, "evar99:no_such_metric<=1e6", "unknown metric 'no_such_metric'"),
        (parse_constraint, "evar99:bad_debt_usd<=lots", "bound 'lots' is not a number"),
        (parse_constraint, "evar99:bad_debt_usd", "must look like STAT:METRIC<=BOUND"),
    ],
)
def test_an_unknown_objective_or_constraint_is_one_line(parse, text, message):
    with pytest.raises(ExperimentError, match=message) as info:
        parse(text, ["BTC"])
    assert "\n" not in str(info.value)
