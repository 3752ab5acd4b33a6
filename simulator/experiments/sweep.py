"""``perpsim sweep``: a grid of parameter values, each point on the same K price paths.

Semantics: the grid is the **Cartesian product** of the ``--grid NAME=v1,v2,...`` axes (first
axis slowest); with ``--zip`` the i-th values of every axis form point i instead (every axis
then has the same number of values). The report says which. Point ``p`` on path ``i`` is the
scenario with the point's overrides and seed ``path_seeds(seed, K)[i]``, so every point sees
the same paths.

Outputs in ``OUT/`` (:data:`SWEEP_OUTPUTS`):

- ``points/point-NNNN.json``: each point as it finishes (its overrides, seeds, one summary per
  path); a killed sweep run again with the same command keeps them and runs the rest;
- ``sweep.csv``: one row per point and metric: the point's parameter values, ``metric``,
  ``mean``, ``ci_low``, ``ci_high`` (95% bootstrap interval of the mean), ``n`` (paths),
  ``p95`` (VaR95 over paths) and ``p99`` ("EVaR99", the project's percentile definition);
- ``sweep.md``: the table (rows: points; cells ``mean [low, high]``) with the semantics and the
  number of paths;
- ``sweep.json``: everything above as data (``axes``, ``semantics``, ``paths``, ``seeds``,
  ``points``: each with ``params``, ``stats`` ``{metric: {mean, ci_low, ci_high, n, p95,
  p99}}``);
- ``plots/heatmap-<metric>.html`` / ``.png``: the mean of each headline metric over the grid
  (first axis across; the other axes' combinations down, or one row for one axis or a zip).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.experiments import ExperimentError
from simulator.experiments.evaluate import check_engine, evaluate, split
from simulator.experiments.executors import open_executor, run_all
from simulator.experiments.objectives import metric_value
from simulator.experiments.params import grid_points, parse_grid
from simulator.experiments.report import (
    HEADLINE_METRICS,
    cell,
    figure_lines,
    heatmap,
    interval,
    markdown,
    write_figures,
)
from simulator.experiments.store import ExperimentFolder
from simulator.results import atomic_write_json, atomic_write_text, code_hash
from simulator.scenario import Scenario, path_seeds
from simulator.stats import DEFAULT_METRICS

SWEEP_OUTPUTS = ("sweep.csv", "sweep.md", "sweep.json", "plots")
#: Metrics of the sweep table: the headline ones, then the rest of compare's.
SWEEP_METRICS: tuple[str, ...] = tuple(dict.fromkeys((*HEADLINE_METRICS, *DEFAULT_METRICS)))


def _point_name(index: int) -> str:
    return f"point-{index:04d}"


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def run_sweep(
    scenario: Scenario,
    grid: Sequence[str],
    paths: int,
    out: str | Path,
    *,
    zipped: bool = False,
    engine: str = "mirror",
    backend: str = "revm",
    workers: int = 2,
    dask: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Run a sweep into ``out`` (continuing the one there) and write its outputs.

    Parameters
    ----------
    scenario : Scenario
        The base scenario; every point overrides its keys.
    grid : sequence of str
        ``NAME=v1,v2,...`` axes (:func:`~simulator.experiments.params.parse_grid`).
    paths : int
        Price paths per point (K).
    zipped : bool
        Pair the axes' values instead of their Cartesian product.
    engine, backend : str
        ``mirror`` or ``chain`` (on ``revm`` or ``anvil``).
    workers, dask : int, str
        The executor (:func:`~simulator.experiments.executors.open_executor`).
    progress : callable, optional
        ``progress(done, total, label)`` after each finished path.
    plots : bool
        Draw the heatmaps (``--no-plots``: the tables only).

    Returns
    -------
    dict
        ``sweep.json``'s content plus ``out``.

    Raises
    ------
    ExperimentError
        A bad grid, engine, paths or folder (before anything is written), or a point whose
        run fails (the points finished are kept; the same command continues).
    """
    out = Path(out)
    axes = parse_grid(grid)
    if paths < 1:
        raise ExperimentError(f"--paths must be >= 1 (got {paths})")
    points = grid_points(scenario, axes, zipped)
    check_engine(engine, backend, [scenario] + [scenario.with_overrides(p) for p in points])
    seeds = path_seeds(scenario.seed, paths)
    spec = {
        "kind": "sweep",
        "scenario_fingerprint": scenario.fingerprint(),
        "grid": [[name, list(values)] for name, values in axes],
        "semantics": "zip" if zipped else "cartesian",
        "paths": paths,
        "seeds": seeds,
        "engine": engine,
        "backend": backend if engine == "chain" else None,
        "code_hash": code_hash(),
    }
    folder = ExperimentFolder(out, "sweep", spec, SWEEP_OUTPUTS, "points")
    folder.check()
    executor = open_executor(workers, dask)
    folder.create({"scenario": scenario.to_dict()})
    try:
        records = _run_points(folder, scenario, points, seeds, engine, backend, executor, progress)
    except BaseException:
        folder.abandon()
        raise
    finally:
        executor.close()
    return write_outputs(out, scenario, axes, zipped, records, seeds, engine, backend,
                         executor.description, plots)  # fmt: skip


def _run_points(
    folder: ExperimentFolder,
    scenario: Scenario,
    points: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    engine: str,
    backend: str,
    executor: Any,
    progress: Callable[[int, int, str], None] | None,
) -> list[dict[str, Any]]:
    """Every point's record: read when finished before, run otherwise (streamed to disk)."""
    records: dict[int, dict[str, Any]] = {}
    tasks = []
    data = scenario.to_dict()
    for index, point in enumerate(points):
        saved = folder.read_item(_point_name(index))
        if saved and saved.get("params") == dict(point) and saved.get("seeds") == list(seeds):
            records[index] = saved
            continue
        tasks += split(point, seeds, engine, data, backend, key=(index,), chunks=executor.workers)
    total = len(points) * len(seeds)
    done = len(records) * len(seeds)
    if progress:
        progress(done, total, "")
    parts: dict[int, dict[int, list[dict[str, Any]]]] = {}
    failure: list[str] = []

    def on_result(result: dict[str, Any]) -> bool:
        nonlocal done
        index, first = result["key"]
        if "error" in result:
            failure.append(f"grid point {_label(points[index])}: {result['error']}")
            return True
        parts.setdefault(index, {})[first] = result["summaries"]
        done += len(result["seeds"])
        got = parts[index]
        if sum(len(v) for v in got.values()) == len(seeds):
            summaries = [s for i in sorted(got) for s in got[i]]
            record = {"index": index, "params": dict(points[index]), "seeds": list(seeds),
                      "engine": engine, "summaries": summaries}  # fmt: skip
            folder.write_item(_point_name(index), record)
            records[index] = record
        if progress:
            progress(done, total, _label(points[index]))
        return False

    run_all(executor, evaluate, tasks, on_result)
    if failure:
        raise ExperimentError(
            f"{failure[0]} (finished points are kept; run the same command to continue)"
        )
    return [records[i] for i in range(len(points))]


def _stats(summaries: Sequence[Mapping[str, Any]], metric: str, seed: int) -> dict[str, Any]:
    from simulator.experiments.objectives import Statistic

    values = [metric_value(s, metric) for s in summaries]
    return {
        **interval(summaries, metric, seed),
        "p95": Statistic("p95")(values),
        "p99": Statistic("p99")(values),
    }


def write_outputs(
    out: Path,
    scenario: Scenario,
    axes: Sequence[tuple[str, Sequence[Any]]],
    zipped: bool,
    records: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    engine: str,
    backend: str,
    executor: str,
    plots: bool = True,
) -> dict[str, Any]:
    """Write ``sweep.csv``, ``sweep.md``, ``sweep.json`` and (``plots``) the heatmaps."""
    names = [name for name, _ in axes]
    paths = len(seeds)
    metrics = [m for m in SWEEP_METRICS
               if any(metric_value(s, m) is not None for r in records for s in r["summaries"])]  # fmt: skip
    points = []
    rows = []
    for record in records:
        stats = {m: _stats(record["summaries"], m, scenario.seed) for m in metrics}
        points.append({"index": record["index"], "params": record["params"], "stats": stats,
                       "file": f"points/{_point_name(record['index'])}.json"})  # fmt: skip
        for m in metrics:
            rows.append({"point": record["index"], **record["params"], "metric": m, **stats[m]})
    frame = pd.DataFrame(rows)
    tmp = out / ".sweep.csv.tmp"
    frame.to_csv(tmp, index=False)
    tmp.replace(out / "sweep.csv")
    semantics = (
        f"zip: point i takes the i-th value of every axis ({len(records)} points)"
        if zipped
        else f"Cartesian product of the axes ({' x '.join(str(len(v)) for _, v in axes)} = "
        f"{len(records)} points)"
    )
    engine_text = f"chain ({backend})" if engine == "chain" else "mirror"
    shown = [m for m in HEADLINE_METRICS if m in metrics]
    written = (
        write_figures(_heatmaps(axes, zipped, points, shown, paths), out / "plots") if plots else {}
    )
    header = ["point", *names, *(f"{m} mean [95% CI]" for m in shown), "p95 system_loss_usd"]
    table_rows = [
        [
            p["index"],
            *(p["params"][n] for n in names),
            *(cell(p["stats"][m]) for m in shown),
            cell({"mean": p["stats"].get("system_loss_usd", {}).get("p95")}),
        ]  # fmt: skip
        for p in points
    ]
    text = [
        f"# perpsim sweep: {scenario.name}",
        "",
        f"Grid: {semantics}. Axes: "
        + "; ".join(f"`{n}` = {', '.join(map(str, v))}" for n, v in axes)
        + ".",
        "",
        f"Each point ran on the same {paths} price path(s) (seeds `path_seeds({scenario.seed}, "
        f"{paths})`: {', '.join(map(str, seeds))}) on the {engine_text} engine; {executor}.",
        "",
        f"Cells: mean over the {paths} path(s) [95% bootstrap interval of the mean]; money in "
        "USD; `p95`: the 95th percentile over paths (VaR95). Every metric of every point, with "
        "`p99` too: `sweep.csv`.",
        "",
        markdown(header, table_rows),
        "## Heatmaps",
        "",
        *(figure_lines(written, "plots") if plots else ["Not drawn (--no-plots)."]),
    ]
    atomic_write_text(out / "sweep.md", "\n".join(text))
    result = {
        "scenario": scenario.name,
        "semantics": "zip" if zipped else "cartesian",
        "axes": [{"name": n, "values": list(v)} for n, v in axes],
        "paths": paths,
        "seeds": list(seeds),
        "engine": engine,
        "backend": backend if engine == "chain" else None,
        "executor": executor,
        "metrics": metrics,
        "points": points,
        "plots": written,
    }
    atomic_write_json(out / "sweep.json", result)
    return {**result, "out": out}


def _heatmaps(
    axes: Sequence[tuple[str, Sequence[Any]]],
    zipped: bool,
    points: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    paths: int,
) -> dict[str, Any]:
    """One heatmap per metric of the points' means."""
    names = [n for n, _ in axes]
    if zipped or len(axes) == 1:
        x_name = names[0] if len(axes) == 1 else "point"
        xs = [str(p["params"][names[0]]) if len(axes) == 1 else _label(p["params"])
              for p in points]  # fmt: skip
        cells = {(x, "all"): p for x, p in zip(xs, points, strict=True)}
        ys, y_name = ["all"], None
    else:
        x_name = names[0]
        xs = [str(v) for v in axes[0][1]]
        ys = list(dict.fromkeys(_label({n: p["params"][n] for n in names[1:]}) for p in points))
        cells = {
            (str(p["params"][names[0]]), _label({n: p["params"][n] for n in names[1:]})): p
            for p in points
        }
        y_name = ", ".join(names[1:])
    figures = {}
    for m in metrics:
        z, text = [], []
        for y in ys:
            row_z, row_t = [], []
            for x in xs:
                stats = (cells.get((x, y)) or {}).get("stats", {}).get(m, {})
                mean = stats.get("mean")
                row_z.append(mean)
                row_t.append(cell(stats))
            z.append(row_z)
            text.append(row_t)
        title = f"{m}: mean over {paths} path(s) [95% CI]"
        figures[f"heatmap-{m}"] = heatmap(title, x_name, xs, y_name, ys, z, text, m)
    return figures


__all__ = ["SWEEP_OUTPUTS", "SWEEP_METRICS", "run_sweep", "write_outputs"]
