"""The folder of a sweep or a tune: what it is (``experiment.json``), one file per finished trial
or grid point, written as each finishes, and the outputs.

``experiment.json`` records the experiment's **spec**: what determines its results (the
scenario's fingerprint and data, the parameters or grid, the objectives and constraints, the
paths' seeds, the engine and backend, the code hash). Running the same command again on the
same folder continues it: finished trials (points) are kept and only the missing ones run.
A folder holding another experiment, a run folder, or other files is refused with one line
naming what differs; nothing is created or changed before every check has passed, and a
folder this call created is removed again if it fails before its first result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.experiments import ExperimentError
from simulator.results import atomic_write_json

EXPERIMENT = "experiment.json"
#: The spec keys whose change the message names first.
_ORDER = ("kind", "scenario_fingerprint", "params", "grid", "objectives", "constraints",
          "paths", "seeds", "engine", "backend", "code_hash")  # fmt: skip


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A short stable digest of a spec (the default Optuna study name ends with it)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class ExperimentFolder:
    """An experiment's output folder.

    Parameters
    ----------
    out : Path
        The folder.
    kind : str
        ``sweep`` or ``tune``.
    spec : mapping
        What determines the results (see the module docstring).
    outputs : sequence of str
        Names of the files and folders the experiment writes at the top of the folder (the
        only names besides ``experiment.json`` and its items folder it accepts there).
    items : str
        The folder of per-item files (``trials`` or ``points``).
    """

    def __init__(
        self, out: Path, kind: str, spec: Mapping[str, Any], outputs: Sequence[str], items: str
    ):
        self.out = Path(out)
        self.kind = kind
        self.spec = dict(spec)
        self.outputs = tuple(outputs)
        self.items = items
        self._created: Path | None = None

    @property
    def items_dir(self) -> Path:
        return self.out / self.items

    def check(self) -> bool:
        """Check the folder can hold this experiment; True when it already holds it (to be
        continued). Changes nothing.

        Raises
        ------
        ExperimentError
            ``out`` is a file, a run folder, holds other files, or holds another experiment
            (the message names the first difference).
        """
        out = self.out
        if out.exists() and not out.is_dir():
            raise ExperimentError(f"--out {out} exists and is not a folder")
        if not out.is_dir() or not any(out.iterdir()):
            return False
        if (out / "manifest.json").is_file():
            raise ExperimentError(f"--out {out} is a run folder; choose another --out")
        saved_path = out / EXPERIMENT
        if not saved_path.is_file():
            raise ExperimentError(
                f"--out {out} is not empty and holds no {self.kind} ({EXPERIMENT} is missing); "
                "choose another --out"
            )
        try:
            saved = json.loads(saved_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ExperimentError(f"--out {out}: cannot read {EXPERIMENT} ({exc})") from None
        old = saved.get("spec") if isinstance(saved, Mapping) else None
        if not isinstance(old, Mapping):
            raise ExperimentError(
                f"--out {out}: {EXPERIMENT} records no spec; choose another --out"
            )
        if old.get("kind") != self.kind:
            raise ExperimentError(
                f"--out {out} holds a {old.get('kind')}, not a {self.kind}; choose another --out"
            )
        differing = [k for k in (*_ORDER, *sorted(set(old) | set(self.spec)))
                     if old.get(k) != self.spec.get(k)]  # fmt: skip
        if differing:
            key = differing[0]
            raise ExperimentError(
                f"--out {out} holds another {self.kind} (its {key} differs: "
                f"{_short(old.get(key))} there, {_short(self.spec.get(key))} now); run the same "
                "command to continue it, or choose another --out"
            )
        known = {EXPERIMENT, self.items, *self.outputs}
        foreign = sorted(p.name for p in out.iterdir() if p.name not in known and p.name[0] != ".")
        if foreign:
            raise ExperimentError(
                f"--out {out} holds {foreign[0]}, which no {self.kind} writes; move it or "
                "choose another --out"
            )
        return True

    def create(self, extra: Mapping[str, Any] | None = None) -> None:
        """Make the folder (and its items folder) and write ``experiment.json`` if missing."""
        missing = [p for p in (self.out, *self.out.parents) if not p.exists()]
        self._created = missing[-1] if missing else None
        self.items_dir.mkdir(parents=True, exist_ok=True)
        if not (self.out / EXPERIMENT).is_file():
            atomic_write_json(self.out / EXPERIMENT, {"spec": self.spec, **(extra or {})})

    def abandon(self, made: Sequence[Path] = ()) -> None:
        """Remove what :meth:`create` made, and the files ``made`` (made since, such as a new
        study database), if no item was written: a failure before the first result leaves
        nothing behind."""
        if self._created is None or any(self.items_dir.glob("*.json")):
            return
        for path in (self.out / EXPERIMENT, *made):
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in (self.items_dir, *self.items_dir.parents):
            if folder == self._created.parent:
                break
            with contextlib.suppress(OSError):
                folder.rmdir()

    def item_path(self, name: str) -> Path:
        return self.items_dir / f"{name}.json"

    def write_item(self, name: str, record: Mapping[str, Any]) -> None:
        """Write one finished trial (point) atomically."""
        atomic_write_json(self.item_path(name), dict(record))

    def read_item(self, name: str) -> dict[str, Any] | None:
        """A finished trial (point) as written, or ``None`` (missing or unreadable)."""
        path = self.item_path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["EXPERIMENT", "ExperimentFolder", "spec_hash"]
