"""Every figure a run or a comparison reports has a label and a unit in the app
(``perpsim_ui.views.SUMMARY_LABELS``): a summary key, a market's key, a comparison's tail row.
A key added to the schema without a label fails here (the app would show the raw key and
format its value as plain text)."""

from __future__ import annotations

import pytest

from perpsim_ui import views
from simulator.results import MARKET_SUMMARY_KEYS, SUMMARY_KEYS
from simulator.stats import TAIL_ROWS

#: Units ``views.format_value`` formats.
UNITS = {"USD", "count", "step", "x", "s"}

FIGURES = sorted(
    {k for k in SUMMARY_KEYS if k != "markets"}  # ``markets`` holds the per-market figures
    | set(MARKET_SUMMARY_KEYS)
    | {name for name, _, _ in TAIL_ROWS}
    | {"n_paths"}
)


@pytest.mark.parametrize("key", FIGURES)
def test_every_reported_figure_has_a_label_and_a_unit(key):
    assert key in views.SUMMARY_LABELS, f"{key} has no label in perpsim_ui.views.SUMMARY_LABELS"
    label, unit = views.SUMMARY_LABELS[key]
    assert label and label != key and unit in UNITS


def test_the_labels_are_distinct():
    labels = [label for label, _ in views.SUMMARY_LABELS.values()]
    assert len(labels) == len(set(labels))


def test_the_vault_figures_are_formatted_as_money():
    assert views.format_value("mm_vault_capital_usd", 4_000_000.0) == "$4,000,000"
    assert views.format_value("flow_accounts", 1300) == "1,300"
