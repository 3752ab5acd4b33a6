"""Every bad input of the ``perpsim`` command line is one ``error: ...`` line, exit code 2, and
leaves nothing behind: click's own errors (ranges, missing arguments, unknown options and
commands, bad choices), list indices in ``--set``, ``--controls ""``, a scenario path that is a
folder, ``--keep-node`` with ``--rpc``. And a reader that closes its pipe early does not kill a
run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.results import RunReader

#: (argv, substrings the error line must hold). In the working folder: a file ``afile`` and a
#: folder ``adir``.
BAD_INPUTS = [
    (["run", "oct-2025", "--steps", "0"], ["--steps: 0 is not in the range x>=1"]),
    (["run", "oct-2025", "--seed", "-1"], ["--seed: -1 is not in the range x>=0"]),
    (["run", "oct-2025", "--checkpoint-every", "0"], ["--checkpoint-every: 0 is not in the range"]),
    (["run", "oct-2025", "--out", "afile"], ["--out:", "afile", "is a file"]),
    (["run", "oct-2025", "--steps"], ["--steps", "requires an argument"]),
    (["run", "oct-2025", "--steps", "many"], ["--steps: 'many' is not a valid integer"]),
    (["run", "oct-2025", "--no-such-option"], ["no such option: --no-such-option"]),
    (["run", "oct-2025", "--progress", "loud"], ["--progress: 'loud' is not one of"]),
    (["run", "oct-2025", "extra"], ["unexpected extra argument", "extra"]),
    (["compare"], ["missing argument 'SCENARIO'", "perpsim compare --help"]),
    (["compare", "oct-2025", "--paths", "0"], ["--paths: 0 is not in the range x>=1"]),
    (["compare", "oct-2025", "--workers", "0"], ["--workers: 0 is not in the range x>=1"]),
    (["compare", "oct-2025", "--out", "afile"], ["--out:", "is a file"]),
    (["compare", "oct-2025", "--progress", "x"], ["--progress: 'x' is not one of"]),
    (["compare", "oct-2025", "--controls", ""], ["--controls: '' names no control set"]),
    (["compare", "oct-2025", "--controls", ","], ["--controls: ',' names no control set"]),
    (["compare", "oct-2025", "--controls", "nope"], ["unknown control set 'nope'"]),
    (["deploy", "--port", "0"], ["--port: 0 is not in the range 1<=x<=65535"]),
    (["deploy", "--fork-block", "x"], ["--fork-block: 'x' is not a valid integer"]),
    (["deploy", "--keep-node", "--rpc", "http://127.0.0.1:9"], ["--keep-node", "--rpc"]),
    (["compile", "--project", "afile"], ["--project:", "is a file"]),
    (["bench", "chain", "--transactions", "0"], ["--transactions: 0 is not in the range"]),
    (["bench", "nope"], ["no such command 'nope'", "perpsim bench --help"]),
    (["no-such-command"], ["no such command 'no-such-command'"]),
    (["show"], ["missing argument 'SCENARIO'"]),
    (["show", "oct-2025", "--steps", "0"], ["--steps: 0 is not in the range x>=1"]),
    (["show", "oct-2025", "--control-set", "nope"], ["--control-set", "unknown control set"]),
    # --set with list indices: out of range names the key and the list's length
    (
        ["run", "oct-2025", "--set", "price_path.shocks[3].step=100"],
        ["price_path.shocks[3].step", "3 is not an index of price_path.shocks", "has 2 items"],
    ),
    (
        ["show", "calm", "--set", "oracle_faults[0].steps=2"],
        ["oracle_faults[0].steps", "oracle_faults, which has 0 items"],
    ),
    (
        ["run", "oct-2025", "--set", "price_path.shocks[0]step=1"],
        ["price_path.shocks[0]step", "cannot read"],
    ),
    (
        ["show", "oct-2025", "--set", "markets.BTC.path[0]=1"],
        ["markets[0].path is a mapping"],
    ),
    (
        ["show", "oct-2025", "--set", "market.overrides.max_leverage=1"],
        ["write markets.<SYMBOL>.overrides.max_leverage"],
    ),
    # a scenario path that is a folder
    (["run", "adir"], ["scenario path adir is a folder, not a YAML file"]),
    (["run", "adir/"], ["scenario path adir is a folder, not a YAML file"]),
    (["compare", "adir"], ["scenario path adir is a folder, not a YAML file"]),
    (["show", "adir"], ["scenario path adir is a folder, not a YAML file"]),
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def workdir(tmp_path, monkeypatch) -> Path:
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("argv", "needles"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_error_line_with_exit_2_and_creates_nothing(workdir, argv, needles):
    before = _tree(workdir)
    result = CliRunner(mix_stderr=False).invoke(main, argv, prog_name="perpsim")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""
    assert _tree(workdir) == before


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["run", "--help"], ["bench", "-h"]])
def test_help_and_version_still_exit_0(argv):
    result = CliRunner(mix_stderr=False).invoke(main, argv, prog_name="perpsim")
    assert result.exit_code == 0, result.stderr
    assert result.stdout and not result.stderr


def test_error_line_of_the_installed_command(perpsim_cmd, tmp_path):
    """The console script goes through the same group (not only CliRunner)."""
    proc = subprocess.run(
        [perpsim_cmd, "run", "oct-2025", "--steps", "0"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == "error: --steps: 0 is not in the range x>=1 (see 'perpsim run --help')\n"
    assert list(tmp_path.iterdir()) == []


TINY = ["--set", "traders.count=5", "--steps", "12", "--set", "price_path.shocks=[]"]

# A reader that takes one line of the pipe and goes away, as `| head -1` does.
READ_ONE_LINE = "import sys; sys.stdin.readline()"


def test_closed_stdout_and_stderr_do_not_kill_the_run(perpsim_cmd, tmp_path):
    """`perpsim run --progress jsonl --json 2>&1 | head -1`: both streams lose their reader
    after the first progress line; the run still completes its folder and exits 0 quietly."""
    out = tmp_path / "run"
    head = subprocess.Popen([sys.executable, "-c", READ_ONE_LINE], stdin=subprocess.PIPE)
    proc = subprocess.Popen(
        [perpsim_cmd, "run", "oct-2025", *TINY, "--out", str(out), "--progress", "jsonl",
         "--json", "--checkpoint-every", "4"],
        stdout=head.stdin, stderr=head.stdin, cwd=tmp_path,
    )  # fmt: skip
    head.stdin.close()  # only the two writers hold the pipe now
    assert head.wait(timeout=300) == 0
    assert proc.wait(timeout=300) == 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert RunReader(out).summary["steps"] == 12


def test_closed_stdout_alone_drops_the_summary_quietly(perpsim_cmd, tmp_path):
    """`perpsim run --json | head -c0`: the summary goes nowhere, without a traceback."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [perpsim_cmd, "run", "oct-2025", *TINY, "--out", str(out), "--progress", "none",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before anything is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, stderr
    assert stderr == ""
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
