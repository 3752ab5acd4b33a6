"""The ``>>>`` examples in the simulator modules' docstrings run and are right.

Each listed module must hold at least one example: a module whose examples were removed would
otherwise pass with nothing checked. ``simulator.report`` is not listed: it writes charts and
Markdown files and has no examples (tests/simulator/test_report.py tests it).
``test_every_module_with_examples_is_listed`` keeps the list complete.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

MODULES = [
    "simulator.scenario.models",
    "simulator.scenario.loading",
    "simulator.scenario.overrides",
    "simulator.scenario.randomness",
    "simulator.scenario.control_sets",
    "simulator.pricepaths",
    "simulator.prices.factor",
    "simulator.population",
    "simulator.results.summary",
    "simulator.results.reuse",
    "simulator.results.writer",
    "simulator.results.provenance",
    "simulator.stats",
    "simulator.report",
    "simulator.units",
    "simulator.jit",
    "simulator.contagion",
    "simulator.contagion.network",
    "simulator.contagion.debtrank",
    "simulator.contagion.clearing",
    "simulator.contagion.cascade",
    "simulator.contagion.graph_io",
    "simulator.contagion.report",
    "simulator.results.schema",
    "simulator.results.views",
    "simulator.prices.impact",
    "simulator.prices.sources",
    "simulator.agents.mm_vault",
    "simulator.engine.spot",
    "simulator.engine.traders",
    "simulator.engine.events",
    "simulator.agents.keepers",
    "simulator.agents.traders",
    "simulator.latency",
    "simulator.explain",
    "simulator.facts",
    "simulator.experiments.params",
    "simulator.experiments.study",
    "simulator.experiments.objectives",
    "benchmarks.contagion",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples to run"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_every_module_with_examples_is_listed():
    """A module whose docstrings hold ``>>>`` examples is in :data:`MODULES` (an example
    nobody runs can be wrong for sessions: ``facts.max_drawdown``'s was)."""
    root = Path(__file__).resolve().parents[2]
    found = set()
    for package in ("simulator", "benchmarks"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text()
            if re.search(r"^\s*>>> (?!.*doctest: \+SKIP)", text, re.M):
                name = ".".join(path.relative_to(root).with_suffix("").parts)
                found.add(name.removesuffix(".__init__"))
    assert sorted(found - set(MODULES)) == []
