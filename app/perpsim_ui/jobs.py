"""Simulations as subprocesses of the ``perpsim`` command line, followed from the pages.

Why a subprocess: a run drives an anvil node for seconds to minutes; in the Streamlit script
thread it would block the session and tie anvil to a thread that ends with the script run.
A :class:`Job` starts ``perpsim run`` or ``perpsim compare`` with ``--progress jsonl`` from a
thread of its own that lives as long as the process, reads the progress lines
(``{"label", "done", "total"}``, and ``"detail"``) and the one-line ``error: ...`` from stderr, and records the
exit code. Jobs live in a process-wide registry keyed by their output folder, so a rerun of the
script (any widget change, another page) re-attaches to a running job instead of starting a
second one, and two browser tabs asking for the same run share it.

Every job runs in its own process group, so :meth:`Job.cancel` stops the CLI and the nodes it
started; on Linux the CLI also gets SIGTERM if the app's process dies (``PR_SET_PDEATHSIG``),
and it then stops its anvil nodes itself.

Results are cached on the run folder: :func:`run_folder` is named after the scenario's
fingerprint and :func:`compare_folder` after the fingerprint, the control sets and the number
of paths, so asking again for a finished run or comparison starts no process at all. A folder
counts only if its manifests also record this checkout's code hash and contract bytecode hashes
(:func:`same_run_problem`); a run of other code is made again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from simulator.paths import PROJECT_ROOT
from simulator.scenario import Scenario

from . import state

#: Seconds between two looks at a job while a page follows it.
POLL_SECONDS = 0.25
#: Seconds a cancelled job gets to stop its nodes before it is killed.
CANCEL_GRACE_SECONDS = 5.0

_LOCK = threading.Lock()


def _libc_prctl():
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:  # not Linux: no parent-death signal
        return None


_PRCTL = _libc_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(command: Sequence[str], cwd: Path) -> subprocess.Popen:
    """Start the CLI: own process group, stderr piped, SIGTERM when the app dies."""
    env = dict(os.environ)
    node_bin = PROJECT_ROOT / "node_modules" / ".bin"
    env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


@dataclass(eq=False)
class Job:
    """One ``perpsim`` command running in the background (see the module docstring)."""

    kind: str
    """``run`` or ``compare``."""
    out_dir: Path
    """The folder the command writes (the registry's key)."""
    command: list[str]
    """argv of the command."""
    label: str
    """What the progress bar says."""
    done: int = 0
    """Progress: steps (run) or finished runs (compare) so far."""
    total: int | None = None
    """Progress: steps (run) or runs (compare) in all, once known."""
    detail: str = ""
    """What the last progress line said it counts (``detail``; a tune's phase), else empty."""
    returncode: int | None = None
    """Exit code, ``None`` while running."""
    error: str | None = None
    """The one-line reason of a failure (the CLI's ``error: ...`` line), else ``None``."""
    started_s: float = field(default_factory=time.monotonic)
    finished_s: float | None = None
    log: deque = field(default_factory=lambda: deque(maxlen=20))
    """Last lines of stderr that were not progress lines."""
    _process: subprocess.Popen | None = None
    _cancelled: bool = False
    _started: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def fraction(self) -> float:
        if not self.total:
            return 0.0
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def elapsed_s(self) -> float:
        end = self.finished_s if self.finished_s is not None else time.monotonic()
        return end - self.started_s

    def progress_text(self) -> str:
        unit = "step" if self.kind == "run" else "run"
        if self.total:
            return f"{self.label}: {unit} {self.done} of {self.total} ({self.elapsed_s:.0f} s)"
        return f"{self.label}: starting ({self.elapsed_s:.0f} s)"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Job:
        self._thread = threading.Thread(target=self._main, name=f"perpsim-{self.kind}", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)
        return self

    def _main(self) -> None:
        # This thread starts the process and lives until it ends: the parent-death signal is
        # tied to the thread that forked, which must not be a short-lived script-run thread.
        try:
            process = _spawn(self.command, PROJECT_ROOT)
        except OSError as exc:
            self.error = f"cannot start {self.command[0]}: {exc.strerror or exc}"
            self.finished_s = time.monotonic()
            self.returncode = 127
            self._started.set()
            return
        self._process = process
        self._started.set()
        assert process.stderr is not None
        for line in process.stderr:
            self._read_line(line.strip())
        code = process.wait()
        if self._cancelled:
            self.error = "stopped before it finished"
        elif code != 0 and self.error is None:
            tail = [ln for ln in self.log if ln]
            self.error = tail[-1] if tail else f"perpsim exited with code {code}"
        self.finished_s = time.monotonic()
        self.returncode = code

    def _read_line(self, line: str) -> None:
        if not line:
            return
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                data = None
            if isinstance(data, dict) and "done" in data:
                self.done = int(data.get("done") or 0)
                total = data.get("total")
                self.total = int(total) if total else self.total
                self.detail = str(data.get("detail") or "")
                return
        if line.startswith("error: "):
            self.error = line.removeprefix("error: ")
        self.log.append(line)

    def cancel(self) -> None:
        """Stop the command and every process it started (SIGTERM, then SIGKILL)."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._cancelled = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=CANCEL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._thread is not None:  # the reader records the exit code and the reason
            self._thread.join(timeout=CANCEL_GRACE_SECONDS)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or ``timeout`` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@st.cache_resource(show_spinner=False)
def registry() -> dict[str, Job]:
    """Every job this app process started, by output folder (shared by all sessions)."""
    return {}


def find(out_dir: Path) -> Job | None:
    """The job writing ``out_dir``, if this app started one."""
    return registry().get(str(out_dir))


def active() -> list[Job]:
    """The jobs still running."""
    return [job for job in list(registry().values()) if job.running]


def submit(kind: str, out_dir: Path, command: list[str], label: str) -> Job:
    """Start a job for ``out_dir``, or return the one already running there."""
    with _LOCK:
        jobs = registry()
        current = jobs.get(str(out_dir))
        if current is not None and current.running:
            return current
        job = Job(kind=kind, out_dir=out_dir, command=command, label=label)
        jobs[str(out_dir)] = job
    return job.start()


def cancel_all() -> None:
    """Stop every running job (tests, shutdown)."""
    for job in active():
        job.cancel()


# ----------------------------------------------------------------------------------------------
# Runs and comparisons
# ----------------------------------------------------------------------------------------------


def run_folder(scenario: Scenario, root: Path) -> Path:
    """The app's folder for a run of ``scenario``: ``<root>/<name>-<fingerprint[:12]>``."""
    return root / f"{scenario.name}-{scenario.fingerprint()[:12]}"


def compare_key(scenario: Scenario, controls: Sequence[str], paths: int) -> str:
    """Fingerprint of a comparison: the scenario's, the control sets in order, the paths."""
    text = json.dumps([scenario.fingerprint(), list(controls), int(paths)])
    return hashlib.sha256(text.encode()).hexdigest()


def compare_folder(scenario: Scenario, controls: Sequence[str], paths: int, root: Path) -> Path:
    """The app's folder for a comparison: ``<root>/compare-<name>-<key[:12]>``."""
    return root / f"compare-{scenario.name}-{compare_key(scenario, controls, paths)[:12]}"


def manifest_of(run_dir: Path) -> dict | None:
    """The run folder's manifest, or ``None`` if there is none (or it is unreadable)."""
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def same_run_problem(manifest: dict, scenario: Scenario | None = None) -> str | None:
    """Why the run folder of ``manifest`` is not a run of ``scenario`` with this code (``None``
    when it is), in the words of :func:`simulator.results.check_same_run`, the one reuse check
    shared with the command line: the scenario fingerprint (the recorded scenario when
    ``scenario`` is ``None``), the code hash and the contracts' bytecode hashes.
    """
    from simulator.results import RunMismatchError, check_same_run, code_hash, recorded_scenario
    from simulator.runner import bytecode_hashes

    try:
        target = scenario if scenario is not None else recorded_scenario(manifest)
        check_same_run(
            manifest, target, code_hash(), bytecode_hashes(),
            prefix="it holds a different run", way_out="it is run again",
        )  # fmt: skip
    except RunMismatchError as exc:
        return str(exc)
    return None


def run_is_complete(run_dir: Path, fingerprint: str | None = None) -> bool:
    """True when ``run_dir`` holds a complete run (of ``fingerprint``, if given)."""
    manifest = manifest_of(run_dir)
    if manifest is None or manifest.get("status") != "complete":
        return False
    return fingerprint is None or manifest.get("scenario_fingerprint") == fingerprint


def reusable_run(run_dir: Path, scenario: Scenario) -> bool:
    """True when ``run_dir`` holds a complete run of ``scenario`` made by this code and these
    contracts (:func:`same_run_problem`), so its results stand for a new run."""
    manifest = manifest_of(run_dir)
    if manifest is None or manifest.get("status") != "complete":
        return False
    return same_run_problem(manifest, scenario) is None


def compare_is_complete(out_dir: Path, controls: Sequence[str], paths: int) -> bool:
    """True when ``out_dir`` holds a finished comparison of these control sets and paths, all
    of whose runs were made by this code and these contracts (:func:`same_run_problem`)."""
    try:
        data = json.loads((out_dir / "compare.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if list(data.get("controls", {})) != list(controls) or data.get("paths") != paths:
        return False
    manifests = [manifest_of(path.parent) for path in out_dir.glob("runs/*/*/manifest.json")]
    return bool(manifests) and all(m is not None and same_run_problem(m) is None for m in manifests)


def resume_command(run_dir: Path) -> list[str]:
    """``perpsim run --resume DIR`` (the run's own manifest says what it runs)."""
    return [*state.perpsim_command(), "run", "--resume", str(run_dir), "--progress", "jsonl"]


def resume_run(run_dir: Path, label: str | None = None) -> Job:
    """Resume the run in ``run_dir`` from its last checkpoint (or follow the job already
    writing it)."""
    return submit("run", run_dir, resume_command(run_dir), label or f"{run_dir.name} (resumed)")


def start_run(scenario: Scenario, root: Path, preset: str | None = None) -> tuple[Path, Job | None]:
    """The run folder of ``scenario`` and the job filling it (``None``: already complete).

    A complete folder is reused only when it is the same run (:func:`reusable_run`: same
    scenario, code and bytecode); a folder left incomplete by the same run (a chain that failed
    mid-run) is resumed from its last checkpoint; anything else is overwritten. ``preset``
    names the preset ``scenario`` is, unchanged: the command is then ``perpsim run PRESET``, as
    on the command line.
    """
    out = run_folder(scenario, root)
    if reusable_run(out, scenario):
        return out, None
    current = find(out)
    if current is not None and current.running:
        return out, current
    manifest = manifest_of(out)
    cli = state.perpsim_command()
    common = ["--progress", "jsonl"]
    if (
        manifest is not None
        and manifest.get("status") != "complete"
        and same_run_problem(manifest, scenario) is None
    ):
        return out, resume_run(out, f"{scenario.name} (resumed)")
    if preset is not None:
        source = preset
    else:
        spec = root / ".scenarios" / f"{scenario.fingerprint()}.yaml"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(scenario.to_yaml(), encoding="utf-8")
        source = str(spec)
    command = [*cli, "run", source, "--out", str(out), "--overwrite", *common]
    command += ["--backend", state.backend()]
    return out, submit("run", out, command, scenario.name)


def busy(folder: Path) -> str | None:
    """Why ``folder`` (a run or a comparison) must not be touched now: a job of this app or
    another live process is writing it (``None`` when nothing is)."""
    from simulator.results import _live_writer

    for path, job in list(registry().items()):
        if job.running and (Path(path) == folder or folder in Path(path).parents):
            return f"this app is still writing it ({job.progress_text()})"
        if job.running and Path(path) in folder.parents:
            return f"the comparison it belongs to is still running ({job.progress_text()})"
    for manifest_path in [folder / "manifest.json", *folder.glob("runs/*/*/manifest.json")]:
        manifest = manifest_of(manifest_path.parent)
        pid = _live_writer(manifest) if manifest is not None else None
        if pid is not None:
            return f"process {pid} is still writing {manifest_path.parent}"
    return None


def delete_folder(folder: Path, root: Path) -> None:
    """Delete a run or comparison folder under ``root`` and everything in it.

    Raises
    ------
    ValueError
        ``folder`` is not strictly under ``root``, is not a run or comparison folder, or is
        being written (:func:`busy`).
    """
    reason = busy(folder)
    folder, root = folder.resolve(), root.resolve()
    if root not in folder.parents:
        raise ValueError(f"{folder} is not under {root}")
    is_run = (folder / "manifest.json").is_file()
    is_compare = (folder / "compare.json").is_file() or (folder / "scenario.yaml").is_file()
    if not (is_run or is_compare):
        raise ValueError(f"{folder} is not a run or comparison folder")
    if reason is not None:
        raise ValueError(f"cannot delete {folder}: {reason}")
    shutil.rmtree(folder)
    with _LOCK:
        registry().pop(str(folder), None)


def start_compare(
    scenario: Scenario, controls: Sequence[str], paths: int, root: Path, workers: int = 2
) -> tuple[Path, Job | None]:
    """The comparison folder and the job filling it (``None``: already complete).

    The CLI reuses the runs of an interrupted comparison whose folders are complete and
    continues the others (``--resume``); a folder holding runs of other code or contracts is
    replaced (``--overwrite``).
    """
    out = compare_folder(scenario, controls, paths, root)
    if compare_is_complete(out, controls, paths):
        return out, None
    current = find(out)
    if current is not None and current.running:
        return out, current
    # The folder is the app's own, named after the comparison: runs of this code are reused
    # and continued (--resume); runs of other code or contracts are made again (--overwrite),
    # as start_run does for a single run.
    stale = any(
        manifest is None or same_run_problem(manifest) is not None
        for manifest in (manifest_of(p.parent) for p in out.glob("runs/*/*/manifest.json"))
    )
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "scenario.yaml"
    spec.write_text(scenario.to_yaml(), encoding="utf-8")
    command = [
        *state.perpsim_command(), "compare", str(spec), "--controls", ",".join(controls),
        "--paths", str(int(paths)), "--out", str(out), "--workers", str(int(workers)),
        "--progress", "jsonl", "--overwrite" if stale else "--resume",
        "--backend", state.backend(),
    ]  # fmt: skip
    return out, submit("compare", out, command, f"compare {scenario.name}")


def follow(job: Job, key: str) -> None:
    """Show the job's progress until it ends, with a button that stops it.

    A rerun of the script (a widget changed, another page opened) ends this loop, not the job:
    the next run finds the job in the registry and follows it again.
    """
    stop_key = f"{key}.stop"
    if st.session_state.get(stop_key):
        job.cancel()
        return
    box = st.empty()
    with box.container():
        bar = st.progress(job.fraction, text=job.progress_text())
        st.button("Stop simulation", key=stop_key, help="Stop it; what finished is kept")
    while job.running:
        time.sleep(POLL_SECONDS)
        bar.progress(job.fraction, text=job.progress_text())
    box.empty()
