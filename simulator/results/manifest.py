"""Reading a run folder's ``manifest.json``, the process that writes it (a folder a live process
on this host is still writing is neither resumed nor overwritten), and its stale temporary
files."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.results.errors import ResultsError, RunExistsError
from simulator.results.schema import MANIFEST


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or "status" not in data:
        raise ResultsError(f"{path}: not a perpsim run manifest (no status)")
    return data


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The folder's ``manifest.json`` (``None`` if it has none).

    Raises
    ------
    ResultsError
        The manifest is unreadable or is not a perpsim run manifest.
    """
    return _read_manifest(Path(folder))


def refuse_live_writer(folder: str | Path, manifest: Mapping[str, Any] | None) -> None:
    """Raise :class:`RunExistsError` if a live process on this host is writing the run."""
    _refuse_live_writer(Path(folder), manifest)


def _writer_identity() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _live_writer(manifest: Mapping[str, Any]) -> int | None:
    """PID of another live process on this host that is writing the run, if any."""
    writer = manifest.get("writer") or {}
    pid = writer.get("pid")
    if manifest.get("status") != "running" or not isinstance(pid, int) or pid == os.getpid():
        return None
    if writer.get("host") != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _refuse_live_writer(folder: Path, manifest: Mapping[str, Any] | None) -> None:
    pid = _live_writer(manifest) if manifest is not None else None
    if pid is not None:
        raise RunExistsError(f"run folder {folder} is still being written by process {pid}")


def _is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and ".tmp-" in path.name


def _remove_stale_temp_files(folder: Path) -> None:
    for tmp in folder.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()
