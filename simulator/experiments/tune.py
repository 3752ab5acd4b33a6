"""``perpsim tune``: an Optuna search for parameter sets that trade off objectives over price
paths, under constraints, then the best candidates verified on chain on held-out paths.

Method
------
1. **Search.** Each trial is a parameter set (:mod:`~simulator.experiments.params`) evaluated on
   the same K tuning paths (seeds ``path_seeds(seed, K)``) on the tuning engine (``mirror``,
   or ``chain`` on revm); its objective values are statistics over those paths
   (:mod:`~simulator.experiments.objectives`). Optuna's TPE sampler (multi-objective, with
   ``constraints_func``; ``--sampler nsga2`` for NSGA-II) proposes the trials, ``--workers``
   of them at a time (constant liar for the ones in flight). ``--max-change PCT`` narrows
   each range to the scenario's current value +- PCT%.
2. **Storage and resume.** The study lives in an Optuna RDB storage: ``OUT/study.db`` (SQLite)
   by default, or any SQLAlchemy URL (``--storage``). Its name is ``<scenario>-<spec hash>``
   (``--study-name`` to choose), so the same command re-opens it: finished trials are kept;
   trials left running by a process that died are marked failed (or, when their result file
   was written, told); only the missing trials run. A locked or unreadable database is one
   line (exit 2). Each finished trial is written to ``OUT/trials/trial-NNNNN.json`` before it
   is told to the study.
3. **Pareto front and candidates.** Among the complete trials that meet every constraint, the
   Pareto front (non-dominated under the objectives' directions) is ranked by distance to its
   ideal point (each objective scaled to [0, 1] over the front); the top ``--candidates``
   (default 3) are verified. Fewer on the front: the next fronts fill in.
4. **Verification on held-out paths.** The current set (the scenario as given) and each
   candidate run on chain (revm by default) on H fresh paths (``--verify-paths``, default 8):
   seeds ``path_seeds(seed, K + H)[K:]``, children K..K+H-1 of the scenario's
   ``SeedSequence``, disjoint from the tuning paths (children 0..K-1). The run folders are
   kept under ``OUT/verify/runs/<label>/path-<i>/`` (the layout of a comparison's runs, so
   the app's Compare view opens ``OUT/verify``). The recommended set is the best-ranked
   candidate that meets every constraint on the held-out paths too.

Outputs in ``OUT/``
-------------------
``experiment.json`` (the spec), ``study.db``, ``trials/`` (one file per finished trial, plus
``current.json``: the current set on the tuning paths), ``verify/`` (``scenario.yaml`` and
``runs/``), ``pareto.csv``, ``trials.csv``, ``tune.md`` (the report), ``tune.json``, ``plots/``
(Optuna's Pareto front, optimization history per objective, parallel coordinates and
parameter importances where they apply, and the tuning-vs-held-out chart; each as HTML and
PNG).

``tune.json`` schema (version 1)
--------------------------------
Everything the app's Tune page reads. Numbers are in their metric's unit (USD for ``*_usd``);
a value that does not exist is ``null``. Paths are relative to ``OUT``.

- ``schema_version``: 1.
- ``kind``: ``"tune"``.
- ``scenario``: ``{"name", "seed", "fingerprint", "data"}`` (``data``: the scenario as
  plain data, as ``perpsim show`` prints it).
- ``engine``: ``"mirror"`` or ``"chain"`` (the tuning engine); ``backend``: the tuning chain
  backend (``"revm"``/``"anvil"``) or ``null`` on the mirror; ``executor``: what ran the
  evaluations (text).
- ``study``: ``{"name", "storage", "sampler", "directions"}`` (``storage``: the SQLAlchemy
  URL, password masked; ``directions``: ``"minimize"``/``"maximize"`` per objective).
- ``params``: list, one per parameter: ``{"name", "kind"`` (``"float"``, ``"int"``,
  ``"choice"``), ``"low", "high", "log", "choices", "current"`` (the scenario's value or
  ``null``), ``"narrowed"`` (by ``--max-change``), ``"given"`` (``[low, high]`` as given)``}``.
- ``max_change_pct``: the ``--max-change`` percentage or ``null``.
- ``objectives``: list of ``{"label", "statistic", "metric", "direction"}``; ``label`` is
  ``STAT:METRIC`` (``"var95:system_loss_usd"``), the key of every ``values`` mapping below.
- ``constraints``: list of ``{"label", "statistic", "metric", "op", "bound"}`` (``op``
  ``"<="``/``">="``; ``label`` like ``"evar99:bad_debt_usd<=1e+06"``), the key of every
  ``constraints`` mapping below.
- ``tuning``: ``{"paths": K, "seeds": [...]}``.
- ``held_out``: ``{"paths": H, "seeds": [...], "engine": "chain", "backend", "rule":
  "path_seeds(seed, K+H)[K:]", "disjoint": true}``; ``paths`` 0 when verification was
  skipped.
- ``trials``: ``{"requested": N, "complete", "failed", "feasible", "pareto"}`` (counts).
- ``trials_table``: list, one per trial of the study: ``{"number", "state"`` (Optuna's:
  ``"COMPLETE"``, ``"FAIL"``, ``"RUNNING"``...)``, "params": {name: value}, "values": {label:
  value} | null, "constraints": {label: value} | null, "feasible": bool | null, "pareto":
  bool, "rank": int | null`` (rank among the feasible trials, 1 = best), ``"error": str |
  null, "file": "trials/trial-NNNNN.json" | null}``.
- ``pareto``: the trial numbers of the feasible Pareto front, best-ranked first.
- ``current`` and each item of ``candidates``: ``{"label"`` (``"current"``,
  ``"candidate-1"``...)``, "rank"`` (``null`` for current)``, "trial"`` (number or ``null``)``,
  "params": {name: value}`` (current: the scenario's values)``, "tuning": {"objectives":
  {label: value}, "constraints": {label: value}, "feasible": bool, "metrics": {metric:
  {"mean", "ci_low", "ci_high", "n"}}}, "held_out": {...the same four keys...} | null,
  "runs": ["verify/runs/<label>/path-0", ...]}``. ``metrics`` covers the headline metrics
  (:data:`~simulator.experiments.report.HEADLINE_METRICS`) and every objective's and
  constraint's metric; ``ci_low``/``ci_high`` are the 95% BCa bootstrap interval of the mean
  over the paths (``n`` of them).
- ``recommended``: ``{"label", "trial", "reason"}`` or ``null`` (no candidate met the
  constraints on the held-out paths; ``reason`` then says so in ``recommended_reason``).
- ``recommended_reason``: one sentence, always present.
- ``plots``: ``{name: {"html", "png", "png_error"}}``, file names under ``plots/``.
- ``files``: ``{"report": "tune.md", "pareto_csv", "trials_csv", "experiment", "trials_dir",
  "verify_dir", "study_db"`` (``null`` with another storage)``}``.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
