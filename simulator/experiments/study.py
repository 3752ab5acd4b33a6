"""The Optuna side of ``perpsim tune``: storage, study, sampler, trials left running by a dead
process, and the ranking of the Pareto front.

Optuna's own objects throughout: :class:`optuna.storages.RDBStorage` (SQLite by default),
:func:`optuna.create_study` with ``load_if_exists`` (a study is re-opened by name),
:class:`optuna.samplers.TPESampler` or :class:`~optuna.samplers.NSGAIISampler`, ask-and-tell,
and each trial's constraints set with :meth:`optuna.trial.Trial.set_constraint` (Optuna 5: the
samplers and the Pareto-front plot read them from the trial; a value <= 0 is met).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.experiments import ExperimentError
from simulator.experiments.objectives import MAXIMIZE, Objective

#: Seconds SQLite waits for a lock before giving up (then: one line, exit 2).
SQLITE_TIMEOUT_S = 3
SAMPLERS = ("tpe", "nsga2")
#: Trial user attributes this module writes.
OWNER, ERROR = "perpsim_owner", "error"
#: A finished trial's figures (its record in ``OUT/trials`` without the per-path summaries), kept
#: in the study too, so that a tune sharing its ``--storage`` with others ranks every trial.
RECORD = "perpsim_record"


def _quiet() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def default_storage(out: Path) -> str:
    """``sqlite:///OUT/study.db`` (absolute)."""
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def masked(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    with contextlib.suppress(Exception):
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    return url


def _storage_error(url: str, exc: BaseException) -> ExperimentError:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())[:160]
    lowered = text.lower()
    if "locked" in lowered:
        why = "the database is locked by another process"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        why = "the file is not a readable study database (corrupt?)"
    else:
        why = text or type(exc).__name__
    return ExperimentError(f"--storage {masked(url)}: cannot use the study database: {why}")


def storage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a storage raises for a locked, corrupt or unreachable database."""
    import optuna
    import sqlalchemy.exc

    return (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


def open_storage(url: str, *, own_file: bool = False) -> Any:
    """An :class:`optuna.storages.RDBStorage` on ``url``, checked by reading it once.

    ``own_file``: the SQLite file is the tune's own (``OUT/study.db``, no other process shares
    it): it is opened in write-ahead-log mode with ``synchronous=NORMAL`` (:func:`_write_ahead`),
    so that a commit does not wait for the disk (an Optuna trial makes ~14 of them: a 200-trial
    search spent ~10 s in ``fsync``). A commit then survives the process being killed (the
    resume case), not a power cut. :func:`close_storage` puts the file back in rollback-journal
    mode, one file again. A storage the user names (``--storage``) is opened as it is.

    Raises
    ------
    ExperimentError
        Not a SQLAlchemy URL, the database locked (SQLite waits :data:`SQLITE_TIMEOUT_S`), not
        a database, or unreachable.
    """
    optuna = _quiet()
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        raise ExperimentError(
            f"--storage {url!r}: not a SQLAlchemy URL (e.g. sqlite:///study.db, "
            "postgresql://user@host/db)"
        ) from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
        if parsed.database and parsed.database != ":memory:":
            parent = Path(parsed.database).parent
            if not parent.is_dir():
                raise ExperimentError(f"--storage {url}: folder {parent} does not exist")
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        if own_file and parsed.get_backend_name() == "sqlite":
            _write_ahead(storage)
        storage.get_all_studies()
    except (*storage_errors(), RuntimeError, ValueError) as exc:
        raise _storage_error(url, exc) from None
    return storage


def _write_ahead(storage: Any) -> None:
    """Every connection of ``storage``'s engine from now on: WAL journal, ``synchronous=NORMAL``
    (the connections its constructor opened are closed first)."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("pragma journal_mode=WAL")
        cursor.execute("pragma synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def close_storage(storage: Any, own_file: Path | None = None) -> None:
    """Close ``storage``'s connections; ``own_file`` (the tune's own SQLite file) is then put
    back in rollback-journal mode, which folds the write-ahead log into it and removes the
    ``-wal`` / ``-shm`` files. Quiet when the file is gone or busy (another reader keeps it in
    WAL mode, which SQLite reads as well)."""
    import sqlite3

    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()
    if own_file is None or not Path(own_file).is_file():
        return
    with contextlib.suppress(sqlite3.Error):
        connection = sqlite3.connect(own_file, timeout=SQLITE_TIMEOUT_S)
        try:
            connection.execute("pragma journal_mode=DELETE")
        finally:
            connection.close()


def make_sampler(name: str, seed: int, parallel: bool) -> Any:
    """TPE (multi-objective capable, constant liar when trials run in parallel) or NSGA-II,
    seeded from the scenario's seed; both read the constraints each trial sets
    (:func:`set_constraints`)."""
    optuna = _quiet()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ExperimentError(f"--sampler: unknown sampler {name!r} (known: {', '.join(SAMPLERS)})")


def set_constraints(trial: Any, labels: Sequence[str], violations: Sequence[float]) -> None:
    """Record a trial's constraint violations (<= 0: met) before it is told."""
    for label, value in zip(labels, violations, strict=True):
        trial.set_constraint(label, value)


def open_study(storage: Any, url: str, name: str, objectives: Sequence[Objective],
               sampler: Any) -> Any:  # fmt: skip
    """Create the study or re-open it by name (its directions must be the objectives').

    Raises
    ------
    ExperimentError
        The named study exists with other directions, or the database fails.
    """
    optuna = _quiet()
    directions = [o.direction for o in objectives]
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, directions=directions, sampler=sampler,
            load_if_exists=True,
        )  # fmt: skip
    except storage_errors() as exc:
        raise _storage_error(url, exc) from None
    found = [d.name.lower() for d in study.directions]
    if found != directions:
        raise ExperimentError(
            f"--study-name {name}: that study optimises {found}, not {directions}; choose "
            "another --study-name"
        )
    return study


def owner() -> str:
    """``host:pid`` of this process (written on every trial it asks for)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead(owner_text: str | None) -> bool:
    """Whether the process that asked for a trial is gone (only known on this host)."""
    if not owner_text or ":" not in owner_text:
        return True
    host, _, pid = owner_text.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return int(pid) != os.getpid() and _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    return False


def settle_stale_trials(
    study: Any, saved: Mapping[int, Mapping[str, Any]], labels: Sequence[str]
) -> tuple[int, int]:
    """Trials left RUNNING by a dead process of this host: told with their values when their
    result file was written (``saved``: trial number -> record), failed otherwise.

    Returns
    -------
    tuple of int
        ``(told, failed)``.
    """
    optuna = _quiet()
    told = failed = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not _dead(trial.user_attrs.get(OWNER)):
            continue
        record = saved.get(trial.number)
        live = optuna.trial.Trial(study, trial._trial_id)
        if record and record.get("values_list") is not None:
            set_constraints(live, labels, record.get("violations") or [])
            study.tell(trial.number, record["values_list"])
            told += 1
        else:
            live.set_user_attr(ERROR, "interrupted: its process died before it finished")
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            failed += 1
    return told, failed


def suggest(trial: Any, params: Sequence[Any]) -> dict[str, Any]:
    """The trial's parameter set (Optuna's suggest API over :class:`Param`)."""
    values = {}
    for p in params:
        if p.is_choice:
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.integer:
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            values[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=p.log)
    return values


def feasible(violations: Sequence[float] | None) -> bool:
    return all(v <= 0 for v in (violations or []))


def _signed(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Values turned into 'smaller is better' for every objective."""
    signs = np.array([-1.0 if o.direction == MAXIMIZE else 1.0 for o in objectives])
    return values * signs


def pareto_ranks(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Non-dominated sorting: 0 for the Pareto front, 1 for the front after it, ...

    Examples
    --------
    >>> from simulator.experiments.objectives import parse_objective
    >>> objs = [parse_objective("mean:bad_debt_usd"), parse_objective("mean:fees_usd")]
    >>> pareto_ranks(np.array([[1.0, 5.0], [2.0, 6.0], [2.0, 4.0]]), objs).tolist()
    [0, 0, 1]
    """
    z = _signed(np.asarray(values, dtype=float), objectives)
    n = len(z)
    ranks = np.full(n, -1)
    remaining = set(range(n))
    level = 0
    while remaining:
        idx = sorted(remaining)
        front = []
        for i in idx:
            dominated = any(np.all(z[j] <= z[i]) and np.any(z[j] < z[i]) for j in idx if j != i)
            if not dominated:
                front.append(i)
        for i in front:
            ranks[i] = level
            remaining.discard(i)
        level += 1
    return ranks


def ideal_distance(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Distance of each point to the ideal point of ``values`` with each objective scaled to
    [0, 1] (0 = the best value seen); an objective equal everywhere counts 0."""
    z = _signed(np.asarray(values, dtype=float), objectives)
    low, high = z.min(axis=0), z.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return np.sqrt((((z - low) / span) ** 2).sum(axis=1))


def rank_trials(
    records: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]
) -> list[dict[str, Any]]:
    """The feasible trials ranked: by Pareto front, then by distance to the front's ideal
    point, then by trial number. Each record needs ``number``, ``values_list`` and
    ``violations``; returned as ``{"number", "front", "distance", "rank"}``, best first."""
    good = [r for r in records
            if r.get("values_list") is not None and feasible(r.get("violations"))
            and all(math.isfinite(v) for v in r["values_list"])]  # fmt: skip
    if not good:
        return []
    values = np.array([r["values_list"] for r in good], dtype=float)
    fronts = pareto_ranks(values, objectives)
    distance = np.zeros(len(good))
    for level in set(fronts.tolist()):
        members = np.where(fronts == level)[0]
        distance[members] = ideal_distance(values[members], objectives)
    order = sorted(range(len(good)), key=lambda i: (fronts[i], distance[i], good[i]["number"]))
    return [
        {
            "number": good[i]["number"],
            "front": int(fronts[i]),
            "distance": float(distance[i]),
            "rank": rank,
        }  # fmt: skip
        for rank, i in enumerate(order, start=1)
    ]


__all__ = [
    "SQLITE_TIMEOUT_S",
    "SAMPLERS",
    "default_storage",
    "masked",
    "open_storage",
    "close_storage",
    "storage_errors",
    "make_sampler",
    "set_constraints",
    "open_study",
    "owner",
    "settle_stale_trials",
    "suggest",
    "feasible",
    "pareto_ranks",
    "ideal_distance",
    "RECORD",
    "rank_trials",
]
