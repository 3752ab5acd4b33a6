"""A small real tune for the Tune page's tests: ``perpsim tune`` on the experiment tests' small
scenario (oct-2025's BTC market, 40 accounts, 20 steps), searched and verified on chain (revm).

The tune runs once per test process (:func:`small_tune`) into a folder of its own; tests copy
it into their run-folder root (:func:`copy_tune`).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from simulator.paths import PROJECT_ROOT

if str(PROJECT_ROOT / "tests" / "experiments") not in sys.path:
    sys.path.append(str(PROJECT_ROOT / "tests" / "experiments"))

from experiment_helpers import small_scenario, small_scenario_file  # noqa: E402

PERPSIM = str(Path(sys.executable).with_name("perpsim"))
PARAMS = ("controls.insurance_fund_usd=0..2000000", "markets.BTC.overrides.max_leverage=5..40")
OBJECTIVES = ("var95:system_loss_usd", "mean:fees_usd")
CONSTRAINT = "evar99:bad_debt_usd<=1e5"
TRIALS, PATHS, CANDIDATES, VERIFY_PATHS = 5, 2, 2, 2
#: Seconds the small tune may take on a busy 2-core machine (about 20 s when idle).
TUNE_TIMEOUT_S = 300


@functools.cache
def small_tune() -> Path:
    """The folder of a finished small tune (made on the first call of the process)."""
    work = Path(tempfile.mkdtemp(prefix="perpsim-tune-page-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    out = work / "tune-small"
    command = [PERPSIM, "tune", str(small_scenario_file(work))]
    command += [f"--param={p}" for p in PARAMS] + [f"--objective={o}" for o in OBJECTIVES]
    command += [f"--constraint={CONSTRAINT}", "--trials", str(TRIALS), "--paths", str(PATHS),
                "--engine", "chain", "--backend", "revm", "--candidates", str(CANDIDATES),
                "--verify-paths", str(VERIFY_PATHS), "--verify-backend", "revm",
                "--workers", "2", "--out", str(out), "--progress", "none"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=TUNE_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return out


def copy_tune(root: Path, name: str = "tune-small") -> Path:
    """A copy of :func:`small_tune` at ``root/name``."""
    target = Path(root) / name
    shutil.copytree(small_tune(), target)
    return target


__all__ = ["small_scenario", "small_tune", "copy_tune", "PARAMS", "OBJECTIVES", "CONSTRAINT"]
