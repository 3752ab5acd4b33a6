"""Writing a run folder (:class:`RunWriter`): manifest first, rows as they come, checkpoints
(:class:`Checkpoint`), then the result files and status ``complete``; resume from the last
checkpoint."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.results.atomic import (
    _ipc_bytes,
    _jsonable,
    _read_ipc,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
)
from simulator.results.errors import CheckpointError, ResultsError, RunExistsError, RunNotFoundError
from simulator.results.manifest import (
    _is_temp_file,
    _read_manifest,
    _refuse_live_writer,
    _remove_stale_temp_files,
    _writer_identity,
)
from simulator.results.provenance import _utc_now, code_hash, git_commit, package_version
from simulator.results.reuse import _scenario_facts, check_same_run, recorded_scenario
from simulator.results.schema import (
    _FORMAT,
    _RUN_FILES,
    CHECKPOINT,
    EVENT_COLUMNS,
    EVENTS,
    MANIFEST,
    POSITION_COLUMNS,
    POSITIONS,
    STEP_COLUMNS,
    STEPS,
    SUMMARY,
    VENUE,
    _concat,
    _to_table,
)
from simulator.results.summary import summarize


@dataclass(frozen=True)
class Checkpoint:
    """Engine state saved at the end of a step."""

    step: int
    """Last step whose rows are included."""
    state: dict[str, np.ndarray]
    """Engine arrays (numeric or bool, no objects)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON-able engine data (chain snapshot ids, counters, elapsed wall seconds, ...)."""


class RunWriter:
    """Writes one run folder: manifest first, rows as they come, checkpoints, then results.

    Parameters
    ----------
    run_dir : str or Path
        Folder of the run (created if missing).
    scenario : Scenario or mapping
        The scenario that runs (stored in the manifest with its fingerprint).
    seed : int, optional
        Seed of the run (default: the scenario's).
    chain_id : int, optional
        EIP-155 chain id of the node.
    bytecode_hashes : mapping, optional
        ``{contract name: hex hash of its deployed bytecode}``.
    extra : mapping, optional
        More JSON-able manifest entries (node URL, fork block, ...).
    overwrite : bool
        Replace the run files of a folder that already holds a run.

    Raises
    ------
    RunExistsError
        The folder holds a complete run, or an incomplete one (resume it instead), or other
        files, and ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile
    >>> from simulator.results import RunReader
    >>> folder = Path(tempfile.mkdtemp()) / "run"
    >>> from simulator.results import venue_total_row
    >>> row = {c.name: 0 for c in STEP_COLUMNS if not c.nullable} | {"market": "BTC"}
    >>> with RunWriter(folder, scenario={"name": "demo"}, seed=1) as w:
    ...     w.add_step([row, venue_total_row([row], accounts_liquidated=0, venue={})])
    ...     _ = w.finish([], meta={"traders": 0, "steps": 1, "wall_seconds": 0.0})
    >>> RunReader(folder).status
    'complete'
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        scenario: Any,
        seed: int | None = None,
        chain_id: int | None = None,
        bytecode_hashes: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ):
        self.run_dir = Path(run_dir)
        self._created, self._was_empty = self._prepare_folder(overwrite)
        scenario_dict, fingerprint, name, scenario_seed = _scenario_facts(scenario)
        now = _utc_now()
        self._manifest: dict[str, Any] = {
            "format": _FORMAT,
            "status": "running",
            "created_utc": now,
            "updated_utc": now,
            "scenario_name": name,
            "scenario_fingerprint": fingerprint,
            "seed": seed if seed is not None else scenario_seed,
            "package_version": package_version(),
            "code_hash": code_hash(),
            "git_commit": git_commit(),
            "bytecode_hashes": dict(bytecode_hashes or {}),
            "chain_id": chain_id,
            "checkpoint_step": None,
            "resumed_from_steps": [],
            "incomplete_reason": None,
            "writer": _writer_identity(),
            "extra": dict(extra or {}),
            "scenario": scenario_dict,
        }
        self._steps: list[pa.Table] = []
        self._events: list[pa.Table] = []
        self._finished = False
        self._resumed = False
        self._wrote_rows = False
        self._checkpoint: Checkpoint | None = None
        self._scenario: Any = scenario
        try:
            self._write_manifest()
        except BaseException:
            self._discard()
            raise

    # -- construction ---------------------------------------------------------------------

    @staticmethod
    def check_folder(run_dir: str | Path, *, overwrite: bool = False) -> None:
        """Check, without creating or changing anything, that a new run may be written into
        ``run_dir`` (call it before starting a node, so a refusal costs nothing).

        Raises
        ------
        RunExistsError
            ``run_dir`` is a file; holds a complete or unfinished run (without ``overwrite``),
            a run another live process is writing, or other files (with or without
            ``overwrite``: only run folders are replaced).
        ResultsError
            The manifest there is unreadable.
        """
        folder = Path(run_dir)
        if folder.exists() and not folder.is_dir():
            raise RunExistsError(f"{folder} exists and is not a folder")
        if not folder.is_dir():
            return
        manifest = _read_manifest(folder)
        _refuse_live_writer(folder, manifest)
        if manifest is None:
            others = [p for p in folder.iterdir() if not _is_temp_file(p)]
            if others:
                raise RunExistsError(
                    f"{folder} is not empty and is not a run folder (no {MANIFEST}); "
                    "--overwrite replaces only run folders: choose another --out"
                )
            return
        if overwrite:
            return
        if manifest["status"] == "complete":
            raise RunExistsError(
                f"run folder {folder} already holds a complete run; choose another "
                "output folder or overwrite it (--overwrite)"
            )
        step = manifest.get("checkpoint_step")
        at = f" (last checkpoint at step {step})" if step is not None else ""
        raise RunExistsError(
            f"run folder {folder} holds an unfinished run{at}; resume it with "
            f"--resume {folder} or overwrite it (--overwrite)"
        )

    def _prepare_folder(self, overwrite: bool) -> tuple[list[Path], bool]:
        """Check the folder, create it; return (the folders created, deepest first; whether
        the folder held nothing before)."""
        folder = self.run_dir
        self.check_folder(folder, overwrite=overwrite)
        created = []
        for parent in (folder, *folder.parents):
            if parent.exists():
                break
            created.append(parent)
        was_empty = not folder.is_dir() or not any(not _is_temp_file(p) for p in folder.iterdir())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create run folder {folder}: {exc.strerror}") from None
        _remove_stale_temp_files(folder)
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        return created, was_empty

    def _discard(self) -> bool:
        """Remove what this writer created, if the folder held nothing before and no step was
        written yet (a run that failed while its world was built): the corrected command then
        finds no half-made folder in its way. Return whether it did; a resumed run, a run with
        rows, or a folder that held a run before are never removed."""
        if self._resumed or self._wrote_rows or self._finished or not self._was_empty:
            return False
        for name in _RUN_FILES:
            with contextlib.suppress(OSError):
                (self.run_dir / name).unlink()
        _remove_stale_temp_files(self.run_dir)
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (another run's folder appeared in it): keep it and its parents
        return True

    @property
    def kept_on_failure(self) -> bool:
        """Whether a failure now would leave the folder (``incomplete``, resumable) rather than
        remove it (:meth:`_discard`)."""
        return self._resumed or self._wrote_rows or not self._was_empty

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        chain_id: int | None = None,
        bytecode_hashes: Mapping[str, str] | None = None,
        scenario: Any = None,
    ) -> RunWriter:
        """Reopen an unfinished run folder at its last checkpoint.

        Everything is checked before the folder is touched; a refusal leaves it as it was
        (``incomplete`` stays ``incomplete``). The rows saved with the checkpoint are restored;
        rows written after it are dropped (the engine recomputes them). :attr:`checkpoint` is
        the checkpoint to restart from, or ``None`` when the run died before its first one
        (restart from step 0). :attr:`scenario` is the scenario the manifest records.

        Parameters
        ----------
        run_dir : str or Path
            The run folder.
        chain_id : int, optional
            Chain id of the node the run continues on (recorded; also :meth:`record_chain`).
        bytecode_hashes : mapping, optional
            Hashes of the contracts that would run; must equal the manifest's.
        scenario : Scenario or mapping, optional
            The scenario the caller means to continue (e.g. a comparison's planned run); must
            be the recorded one.

        Raises
        ------
        RunNotFoundError
            No run folder there.
        RunExistsError
            The run is complete (nothing to resume), or a live process is still writing it.
        RunMismatchError
            The manifest has no scenario or its scenario was edited (fingerprint mismatch);
            ``scenario`` is another one; the code (:func:`code_hash`) or the bytecode changed
            since the run started.
        CheckpointError
            The checkpoint is unreadable or truncated, or the manifest records a checkpoint that
            is gone.
        """
        folder = Path(run_dir)
        manifest = _read_manifest(folder) if folder.is_dir() else None
        if manifest is None:
            raise RunNotFoundError(f"cannot resume {folder}: not a run folder (no {MANIFEST})")
        if manifest["status"] == "complete":
            raise RunExistsError(f"cannot resume {folder}: the run is already complete")
        _refuse_live_writer(folder, manifest)
        where = f"cannot resume {folder}"
        recorded = recorded_scenario(manifest, where=where)
        check_same_run(
            manifest, recorded if scenario is None else scenario, code_hash(), bytecode_hashes,
            prefix=f"{where}: it holds a different run" if scenario is not None else where,
            way_out="start it again with --overwrite (or write to another --out)",
        )  # fmt: skip
        self = cls.__new__(cls)
        self.run_dir = folder
        self._manifest = manifest
        self._steps, self._events = [], []
        self._finished = False
        self._resumed, self._wrote_rows = True, False
        self._created, self._was_empty = [], False
        self._scenario = recorded
        try:
            self._checkpoint = self.load_checkpoint()
        except CheckpointError as exc:
            raise CheckpointError(f"{where}: {exc}; start it again with --overwrite") from None
        expected = manifest.get("checkpoint_step")
        if expected is not None and self._checkpoint is None:
            raise CheckpointError(
                f"{where}: its manifest records a checkpoint at step {expected} but "
                f"{CHECKPOINT} is gone; start it again with --overwrite"
            )
        if expected is not None and self._checkpoint.step < int(expected):
            raise CheckpointError(
                f"{where}: {CHECKPOINT} is at step {self._checkpoint.step} but the manifest "
                f"records a later one (step {expected}); start it again with --overwrite"
            )
        # Every check passed: only now is the folder changed.
        _remove_stale_temp_files(folder)
        manifest["resumed_from_steps"] = [
            *manifest.get("resumed_from_steps", []),
            self._checkpoint.step if self._checkpoint is not None else None,
        ]
        if chain_id is not None:
            manifest["chain_id"] = chain_id
        manifest["status"] = "running"
        manifest["incomplete_reason"] = None
        manifest["writer"] = _writer_identity()
        self._write_manifest()
        return self

    def record_chain(self, chain_id: int) -> None:
        """Record the chain id of the node the run continues on."""
        self._manifest["chain_id"] = int(chain_id)
        self._write_manifest()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and not self._finished:
            if self._discard():
                return
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
            elif isinstance(exc, SystemExit):
                reason = f"the process was stopped (exit status {exc.code})"
            else:
                reason = str(exc)
            with contextlib.suppress(ResultsError):
                self.mark_incomplete(reason or type(exc).__name__)

    # -- properties -----------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the manifest as last written."""
        return json.loads(json.dumps(_jsonable(self._manifest)))

    @property
    def scenario(self) -> Any:
        """The scenario of the run (for a resumed run: the one its manifest records, checked
        against its fingerprint; a Scenario, or a mapping for plain-mapping runs)."""
        return self._scenario

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Checkpoint the run resumed from (``None`` for a fresh run or no checkpoint)."""
        return self._checkpoint

    @property
    def steps_written(self) -> int:
        """Number of steps held so far (their venue-total rows)."""
        return sum(t.column("market").to_pylist().count(VENUE) for t in self._steps)

    # -- rows -----------------------------------------------------------------------------

    def add_step(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append one step's rows: each market's and the venue total's (all of
        :data:`STEP_COLUMNS`, nulls as the long-format rule says; extra numeric columns
        allowed; see :func:`venue_total_row`).

        Raises
        ------
        ValueError
            The rows are of several steps, or break the rule (:func:`check_step_rule`).
        """
        rows = list(rows)
        if len({row.get("step") for row in rows}) > 1:
            raise ValueError("steps: add_step takes the rows of one step")
        self._add(self._steps, rows, STEP_COLUMNS, "steps")

    def add_steps(self, rows: Any) -> None:
        """Append the rows of several whole steps (list of mappings, DataFrame, or mapping of
        columns); each step's rows come in one call."""
        self._add(self._steps, rows, STEP_COLUMNS, "steps")

    def add_events(self, rows: Any) -> None:
        """Append event rows (list of mappings, DataFrame, or mapping of columns)."""
        self._add(self._events, rows, EVENT_COLUMNS, "events")

    def _add(self, buffer: list[pa.Table], rows: Any, columns, name: str) -> None:
        if self._finished:
            raise ResultsError(f"run {self.run_dir} is already finished")
        table = _to_table(rows, columns, name)
        if table.num_rows:
            buffer.append(table)
            self._wrote_rows = True

    def steps_table(self) -> pa.Table:
        """Step rows so far, as one Arrow table."""
        return _concat(self._steps, STEP_COLUMNS)

    def events_table(self) -> pa.Table:
        """Event rows so far, as one Arrow table."""
        return _concat(self._events, EVENT_COLUMNS)

    # -- checkpoints ----------------------------------------------------------------------

    def write_checkpoint(
        self, step: int, state: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
    ) -> None:
        """Save the engine state at the end of ``step`` with all rows so far, atomically.

        Parameters
        ----------
        step : int
            Last step whose rows have been added.
        state : mapping of str to numpy.ndarray
            Engine arrays (numeric or bool; object arrays are refused).
        meta : mapping, optional
            JSON-able engine data needed to resume.
        """
        steps, events = self.steps_table(), self.events_table()
        if steps.num_rows and max(steps.column("step").to_pylist()) > step:
            raise ValueError(f"checkpoint at step {step} but rows up to a later step were added")
        payload: dict[str, np.ndarray] = {}
        for key, array in state.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise ValueError(f"checkpoint state {key!r} is an object array")
            payload[f"state/{key}"] = array
        header = {"format": _FORMAT, "step": int(step), "meta": _jsonable(dict(meta or {}))}
        payload["_header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        payload["_steps"] = np.frombuffer(_ipc_bytes(steps), dtype=np.uint8)
        payload["_events"] = np.frombuffer(_ipc_bytes(events), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        self._wrote_rows = True
        atomic_write_bytes(self.run_dir / CHECKPOINT, buffer.getvalue())
        self._manifest["checkpoint_step"] = int(step)
        self._write_manifest()

    def load_checkpoint(self) -> Checkpoint | None:
        """Read the last checkpoint and restore the rows saved with it (``None`` if none).

        Raises
        ------
        CheckpointError
            The checkpoint file is unreadable.
        """
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(archive["_header"].tobytes().decode())
                steps = _read_ipc(archive["_steps"].tobytes())
                events = _read_ipc(archive["_events"].tobytes())
                state = {
                    key.removeprefix("state/"): archive[key]
                    for key in archive.files
                    if key.startswith("state/")
                }
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                pa.ArrowException) as exc:  # fmt: skip
            raise CheckpointError(f"{path}: unreadable checkpoint: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT or "step" not in header:
            raise CheckpointError(f"{path}: unreadable checkpoint: not a {_FORMAT} checkpoint")
        self._steps = [steps] if steps.num_rows else []
        self._events = [events] if events.num_rows else []
        return Checkpoint(step=int(header["step"]), state=state, meta=header.get("meta", {}))

    # -- ending ---------------------------------------------------------------------------

    def mark_incomplete(self, reason: str) -> None:
        """Record that the run stopped early (one-line ``reason``); it stays resumable."""
        self._manifest["status"] = "incomplete"
        self._manifest["incomplete_reason"] = " ".join(str(reason).split())
        self._write_manifest()

    def finish(
        self,
        positions: Any,
        summary: Mapping[str, Any] | None = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the tables and the summary, then mark the run complete.

        Parameters
        ----------
        positions : list of mappings, DataFrame or mapping of columns
            Every position (:data:`POSITION_COLUMNS`).
        summary : mapping, optional
            The summary to write; computed with :func:`summarize` from the tables and ``meta``
            when omitted.
        meta : mapping, optional
            Passed to :func:`summarize` (needs ``traders``, ``steps``, ``wall_seconds``).

        Returns
        -------
        dict
            The summary written.
        """
        steps, events = self.steps_table(), self.events_table()
        positions_table = _to_table(positions, POSITION_COLUMNS, "positions")
        if summary is None:
            if meta is None:
                raise ValueError("finish needs a summary or the meta to compute it")
            summary = summarize(
                steps.to_pandas(), events.to_pandas(), positions_table.to_pandas(), meta
            )
        atomic_write_parquet(self.run_dir / STEPS, steps)
        atomic_write_parquet(self.run_dir / EVENTS, events)
        atomic_write_parquet(self.run_dir / POSITIONS, positions_table)
        atomic_write_json(self.run_dir / SUMMARY, summary)
        self._manifest["status"] = "complete"
        self._manifest["incomplete_reason"] = None
        self._manifest["finished_utc"] = _utc_now()
        self._write_manifest()
        self._finished = True
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / CHECKPOINT).unlink()
        return dict(summary)

    def _write_manifest(self) -> None:
        self._manifest["updated_utc"] = _utc_now()
        atomic_write_json(self.run_dir / MANIFEST, self._manifest)
