"""Reading run folders and comparison folders, cached on what identifies their content.

A complete run is read with :class:`simulator.results.RunReader`. An incomplete run (a chain
that failed mid-run, a stopped run) has no tables yet: the rows up to its last checkpoint are
in ``checkpoint.npz`` (written by :class:`simulator.results.RunWriter`), and are read from there
so the app can show what finished. A comparison is read from ``compare.json``; one that did not
finish is assembled from the run folders that did.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from simulator.results import (
    CHECKPOINT,
    MANIFEST,
    SUMMARY,
    RunReader,
    _live_writer,
    step_markets,
    upgrade_legacy_tables,
    venue_steps,
)
from simulator.results.reader import LEGACY_SYMBOL
from simulator.stats import DEFAULT_METRICS, compare_table, market_compare_table, run_markets

COMPARE_JSON = "compare.json"


@dataclass
class RunData:
    """What the app shows of one run folder."""

    run_dir: str
    manifest: dict[str, Any]
    summary: dict[str, Any] | None
    """``summary.json``; ``None`` while the run is not complete."""
    steps: pd.DataFrame
    events: pd.DataFrame
    positions: pd.DataFrame | None
    """``None`` while the run is not complete."""

    @property
    def status(self) -> str:
        """:func:`folder_status` of the manifest (``stopped``: it says running, nobody is)."""
        return folder_status(self.manifest)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def venue_steps(self) -> pd.DataFrame:
        """The venue totals, one row per step (:func:`simulator.results.venue_steps`)."""
        return venue_steps(self.steps) if len(self.steps) else self.steps

    @property
    def markets(self) -> tuple[str, ...]:
        """The run's market symbols, in the scenario's order (none before its first step)."""
        return step_markets(self.steps) if len(self.steps) else ()

    @property
    def last_step(self) -> int | None:
        return int(self.steps["step"].max()) if len(self.steps) else None


#: Status of a run folder whose manifest says ``running`` but whose writer process is gone (a
#: killed run, a closed terminal): it can be resumed, nothing is writing it.
STOPPED = "stopped"


def folder_status(manifest: dict[str, Any]) -> str:
    """The status of a run folder: the manifest's ``complete`` / ``incomplete`` / ``running``,
    except that ``running`` with no live writer process on this host is :data:`STOPPED`."""
    status = str(manifest.get("status", "unknown"))
    if status == "running" and _live_writer(manifest) is None:
        return STOPPED
    return status


def run_name(manifest: dict[str, Any], control: str | None = None, path: str | None = None) -> str:
    """A readable name of a run: scenario, control set and path (inside a comparison), seed,
    steps and traders (``oct-2025 · baseline · path 0 · seed 20251010``)."""
    scenario = manifest.get("scenario") or {}
    traders = scenario.get("traders") or {}
    bits = [str(manifest.get("scenario_name") or scenario.get("name") or "?")]
    if control is not None:
        bits.append(control)
    if path is not None:
        index = path.removeprefix("path-")
        bits.append(
            f"path {index.removesuffix('-no-feedback')} without feedback"
            if index.endswith("-no-feedback")
            else f"path {index}"
        )
    bits.append(f"seed {manifest.get('seed')}")
    if control is None:
        if isinstance(scenario.get("steps"), int):
            bits.append(f"{scenario['steps']:,d} steps")
        if isinstance(traders, dict) and isinstance(traders.get("count"), int):
            bits.append(f"{traders['count']:,d} traders")
    return " · ".join(bits)


def read_manifest(run_dir: str | Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(run_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _checkpoint_tables(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Step and event rows saved with the last checkpoint (empty frames if there is none)."""
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return pd.DataFrame(), pd.DataFrame()
    try:
        with np.load(path, allow_pickle=False) as archive:
            tables = [
                pa.ipc.open_stream(pa.py_buffer(archive[name].tobytes())).read_all().to_pandas()
                for name in ("_steps", "_events")
            ]
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return pd.DataFrame(), pd.DataFrame()
    steps, events = tables
    if len(steps) and "market" not in steps:  # a perpsim-run/1 checkpoint: one market
        manifest = read_manifest(run_dir) or {}
        symbol = ((manifest.get("scenario") or {}).get("market") or {}).get("symbol")
        steps, events, _ = upgrade_legacy_tables(
            steps, events, pd.DataFrame(), symbol or LEGACY_SYMBOL
        )
    return steps, events


@st.cache_data(show_spinner=False, max_entries=64)
def _load_run(run_dir: str, fingerprint: str | None, version: str) -> RunData:
    """Cached read of a run folder; ``fingerprint`` and ``version`` (status and last write)
    are the cache key, so a run that finishes or is rerun is read again."""
    folder = Path(run_dir)
    manifest = read_manifest(folder) or {}
    if manifest.get("status") == "complete":
        reader = RunReader(folder)
        return RunData(
            run_dir, manifest, reader.summary, reader.steps, reader.events, reader.positions
        )
    steps, events = _checkpoint_tables(folder)
    return RunData(run_dir, manifest, None, steps, events, None)


def load_run(run_dir: str | Path) -> RunData | None:
    """The run in ``run_dir`` (complete or not), or ``None`` if it is not a run folder."""
    manifest = read_manifest(run_dir)
    if manifest is None:
        return None
    version = f"{manifest.get('status')}|{manifest.get('updated_utc')}"
    return _load_run(str(run_dir), manifest.get("scenario_fingerprint"), version)


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------


@dataclass
class CompareData:
    """What the app shows of one comparison folder."""

    out_dir: str
    scenario: dict[str, Any]
    controls: dict[str, str]
    """Control set name -> what it changes (in column order)."""
    paths: int
    results: dict[str, list[dict[str, Any]]]
    """Control set -> the summary of each finished path."""
    table: pd.DataFrame | None
    """:func:`simulator.stats.compare_table` of ``results``: the venue's figures (``None`` when
    nothing finished)."""
    market_table: pd.DataFrame | None = None
    """:func:`simulator.stats.market_compare_table` of ``results``: each market's figures."""
    steps: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Control set -> step rows of its path 0 (charts)."""
    no_feedback: dict[str, pd.DataFrame] = field(default_factory=dict)
    """The first control set's path 0 without feedback, when it finished."""
    complete: bool = True
    missing: list[str] = field(default_factory=list)
    """Runs that did not finish (``control/path-i``)."""

    @property
    def markets(self) -> tuple[str, ...]:
        """The markets of the compared runs (:func:`simulator.stats.run_markets`)."""
        return run_markets(self.results)


def _steps_if_complete(run_dir: Path) -> pd.DataFrame | None:
    manifest = read_manifest(run_dir)
    if manifest is None or manifest.get("status") != "complete":
        return None
    return RunReader(run_dir).steps


def _compare_version(out_dir: Path) -> str:
    parts = []
    for path in [out_dir / COMPARE_JSON, *sorted(out_dir.glob("runs/*/*/" + MANIFEST))]:
        try:
            parts.append(f"{path}:{path.stat().st_mtime_ns}")
        except OSError:
            continue
    return "|".join(parts)


@st.cache_data(show_spinner=False, max_entries=32)
def _load_compare(out_dir: str, controls: tuple[str, ...], paths: int, version: str) -> CompareData:
    folder = Path(out_dir)
    runs = folder / "runs"
    try:
        data = json.loads((folder / COMPARE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    missing: list[str] = []
    if data is not None:
        described = dict(data.get("controls", {}))
        results = {c: list(v) for c, v in data.get("runs", {}).items()}
        scenario = data.get("scenario", {})
        paths = int(data.get("paths", paths))
    else:
        from simulator.scenario import CONTROL_SETS

        described = {c: CONTROL_SETS.get(c, "") for c in controls}
        results = {}
        for control in controls:
            done = []
            for i in range(paths):
                run_dir = runs / control / f"path-{i}"
                manifest = read_manifest(run_dir)
                if manifest is not None and manifest.get("status") == "complete":
                    done.append(json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")))
                else:
                    missing.append(f"{control}/path-{i}")
            if done:
                results[control] = done
        scenario = {}
        spec = folder / "scenario.yaml"
        if spec.is_file():
            import yaml

            scenario = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    seed = int(scenario.get("seed") or 0)  # the comparison's: the same intervals as compare.md
    table = compare_table(results, DEFAULT_METRICS, seed=seed) if results else None
    market_table = market_compare_table(results, seed=seed) if results else None
    steps = {}
    for control in described:
        frame = _steps_if_complete(runs / control / "path-0")
        if frame is not None:
            steps[control] = frame
    no_feedback = {}
    if described:
        first = next(iter(described))
        frame = _steps_if_complete(runs / first / "path-0-no-feedback")
        if frame is not None:
            no_feedback[first] = frame
    return CompareData(
        out_dir, scenario, described, paths, results, table, market_table, steps, no_feedback,
        complete=data is not None, missing=missing,
    )  # fmt: skip


def load_compare(
    out_dir: str | Path, controls: tuple[str, ...] = (), paths: int = 1
) -> CompareData | None:
    """The comparison in ``out_dir``: from ``compare.json`` when it finished, else from the
    run folders of ``controls`` × ``paths`` that did (``None`` when there is nothing)."""
    folder = Path(out_dir)
    if not (folder / COMPARE_JSON).is_file() and not (folder / "runs").is_dir():
        return None
    if not (folder / COMPARE_JSON).is_file() and not controls:
        controls = tuple(sorted(p.name for p in (folder / "runs").iterdir() if p.is_dir()))
        paths = max(
            (len(list((folder / "runs" / c).glob("path-*[0-9]"))) for c in controls), default=1
        )
    return _load_compare(str(folder), tuple(controls), int(paths), _compare_version(folder))


# ----------------------------------------------------------------------------------------------
# Browsing
# ----------------------------------------------------------------------------------------------


def _run_row(folder: Path, root: Path, manifest: dict[str, Any], **name: str) -> dict[str, Any]:
    scenario = manifest.get("scenario") or {}
    traders = scenario.get("traders") or {}
    return {
        "path": str(folder.relative_to(root)),
        "kind": "run",
        "name": run_name(manifest, **name),
        "scenario": manifest.get("scenario_name") or scenario.get("name"),
        "status": folder_status(manifest),
        "steps": scenario.get("steps"),
        "traders": traders.get("count") if isinstance(traders, dict) else None,
        "seed": manifest.get("seed"),
        "created": manifest.get("created_utc"),
        "fingerprint": (manifest.get("scenario_fingerprint") or "")[:12],
    }


def _is_comparison(folder: Path, dirs: list[str], files: list[str]) -> bool:
    return COMPARE_JSON in files or ("runs" in dirs and (folder / "scenario.yaml").is_file())


def list_folders(root: str | Path) -> pd.DataFrame:
    """Every run folder and comparison folder under ``root`` (hidden folders skipped); the runs
    of a comparison are not listed here but under it (:func:`comparison_runs`).

    Columns: ``path`` (relative to ``root``), ``kind`` (``run`` / ``compare``), ``name`` (what
    it is, readable), ``scenario``, ``status`` (:func:`folder_status`; a comparison is
    ``complete`` once its ``compare.json`` is written), ``steps``, ``traders``, ``seed``,
    ``created`` (UTC), ``fingerprint``.
    """
    root = Path(root)
    rows: list[dict[str, Any]] = []
    if not root.is_dir():
        return pd.DataFrame(columns=_LIST_COLUMNS)
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = Path(current)
        rel = str(folder.relative_to(root)) if folder != root else "."
        if MANIFEST in files:
            rows.append(_run_row(folder, root, read_manifest(folder) or {}))
            dirs[:] = []  # a run folder holds no other runs
        elif _is_comparison(folder, dirs, files):
            try:
                data = json.loads((folder / COMPARE_JSON).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            scenario = data.get("scenario") or {}
            if not scenario and (folder / "scenario.yaml").is_file():
                import yaml

                try:
                    scenario = yaml.safe_load((folder / "scenario.yaml").read_text("utf-8")) or {}
                except (OSError, yaml.YAMLError):
                    scenario = {}
            traders = scenario.get("traders") or {}
            members = comparison_runs(folder, root)
            controls = list(data.get("controls") or dict.fromkeys(members["control"]))
            paths = data.get("paths") or (
                int(members["path_index"].max()) + 1 if len(members) else 0
            )
            created = None
            with_time = folder / (COMPARE_JSON if data else "scenario.yaml")
            try:
                created = pd.Timestamp(with_time.stat().st_mtime, unit="s").strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
            except OSError:
                pass
            rows.append(
                {
                    "path": rel,
                    "kind": "compare",
                    "name": f"{scenario.get('name', '?')} · comparison of {len(controls)} "
                    f"control set(s) × {int(paths)} path(s) · {len(members)} run folder(s)",
                    "scenario": scenario.get("name"),
                    "status": "complete" if data else "incomplete",
                    "steps": scenario.get("steps"),
                    "traders": traders.get("count") if isinstance(traders, dict) else None,
                    "seed": scenario.get("seed"),
                    "created": created,
                    "fingerprint": "",
                }
            )
            dirs[:] = []  # its runs are listed under it
    frame = pd.DataFrame(rows, columns=_LIST_COLUMNS)
    return frame.sort_values("created", ascending=False, na_position="last", kind="stable")


_LIST_COLUMNS = [
    "path", "kind", "name", "scenario", "status", "steps", "traders", "seed", "created",
    "fingerprint",
]  # fmt: skip

_MEMBER_COLUMNS = [*_LIST_COLUMNS, "control", "path_index"]


def comparison_runs(folder: str | Path, root: str | Path | None = None) -> pd.DataFrame:
    """The run folders of a comparison (``runs/<control>/path-<i>`` and the first control set's
    ``path-0-no-feedback``), in control-set and path order.

    Columns as :func:`list_folders` (``path`` relative to ``root``, default ``folder``), plus
    ``control`` and ``path_index``.
    """
    folder = Path(folder)
    root = Path(root) if root is not None else folder
    rows = []
    for manifest_path in sorted((folder / "runs").glob(f"*/path-*/{MANIFEST}")):
        run_dir = manifest_path.parent
        control, path = run_dir.parent.name, run_dir.name
        index = path.removeprefix("path-").removesuffix("-no-feedback")
        if not index.isdigit():
            continue
        row = _run_row(run_dir, root, read_manifest(run_dir) or {}, control=control, path=path)
        rows.append({**row, "control": control, "path_index": int(index)})
    frame = pd.DataFrame(rows, columns=_MEMBER_COLUMNS)
    return frame.sort_values(["control", "path_index", "path"], kind="stable").reset_index(
        drop=True
    )


def folder_files(folder: str | Path) -> list[Path]:
    """The files directly in a folder that a user may download (hidden files left out)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


@st.cache_data(show_spinner=False, max_entries=8)
def zip_folder(folder: str, version: str) -> bytes:
    """The folder (recursively, hidden files left out) as a zip archive; ``version`` is the
    cache key that changes when the folder does."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                archive.write(path, str(Path(root.name) / rel))
    return buffer.getvalue()


def folder_version(folder: str | Path) -> str:
    """A cheap key that changes when files in the folder change (sizes and times)."""
    parts = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return str(hash("|".join(parts)))
