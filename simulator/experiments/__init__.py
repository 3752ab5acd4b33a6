"""Experiments over many runs: ``perpsim sweep`` (a grid of parameter values) and ``perpsim
tune`` (an Optuna multi-objective search, verified on chain on held-out paths).

One module per concept:

- :mod:`~simulator.experiments.params`: tunable parameters (``NAME=LOW..HIGH``) and grid axes
  (``NAME=v1,v2,...``), checked against the scenario;
- :mod:`~simulator.experiments.objectives`: objectives and constraints over path metrics
  (``var95:system_loss_usd``, ``evar99:bad_debt_usd<=1e6``);
- :mod:`~simulator.experiments.evaluate`: one parameter set on K paths on an engine (the
  chain, on revm by default, or the numpy mirror) -> per-path summaries;
- :mod:`~simulator.experiments.executors`: where evaluations run: a local process pool or Dask
  distributed (a scheduler address or a LocalCluster), the same interface;
- :mod:`~simulator.experiments.store`: the experiment folder: its spec, per-trial files written
  as each trial finishes;
- :mod:`~simulator.experiments.sweep`, :mod:`~simulator.experiments.tune`: the two commands;
- :mod:`~simulator.experiments.report`: tables and plots (plotly, HTML + PNG).
"""

from __future__ import annotations

from simulator.errors import PerpsimError


class ExperimentError(PerpsimError):
    """A sweep or tune cannot run as asked (bad parameter, objective, folder, scheduler)."""


__all__ = ["ExperimentError"]
