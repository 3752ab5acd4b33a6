"""Provenance of a run: the package version, the hash of the code that runs
(:func:`code_hash`) and the git commit beside it."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import time
from pathlib import Path

from simulator.paths import PROJECT_ROOT


def package_version() -> str:
    """Installed version of the ``perpsim`` package, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("perpsim")
    except PackageNotFoundError:
        return "unknown"


#: The ``simulator`` package folder, whose sources :func:`code_hash` hashes.
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_SOURCE_SUFFIXES = (".py", ".yaml")


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """Identity of the code that runs: ``sha256:<hex>`` of the package's sources.

    Every ``simulator/**/*.py`` and ``simulator/**/*.yaml`` file (code, venue presets, scenario
    presets), sorted by path relative to the package, each hashed as its relative path, its
    length in bytes and its bytes. Only an edit of those files changes it: a commit that touches
    the README does not, an edited library file does. Contracts are identified separately by
    their bytecode hashes; the git commit is recorded beside it as :func:`git_commit`.

    Examples
    --------
    >>> code_hash().startswith("sha256:") and len(code_hash()) == 7 + 64
    True
    """
    files = sorted(
        (path.relative_to(_PACKAGE_ROOT).as_posix(), path)
        for path in _PACKAGE_ROOT.rglob("*")
        if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file()
    )
    digest = hashlib.sha256()
    for relative, path in files:
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode() + data)
    return f"sha256:{digest.hexdigest()}"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The checkout's ``HEAD`` commit, with ``+dirty`` when ``simulator/`` or ``contracts/``
    have uncommitted changes; ``None`` outside a git checkout. Informational only: reuse checks
    use :func:`code_hash` and the bytecode hashes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--", "simulator",
             "contracts"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}" if head else None


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
