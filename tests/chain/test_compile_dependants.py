"""An edited library reaches the bytecode of every contract that imports it.

ape's incremental ``ape compile`` rebuilds only the source files that changed: after an edit of
``MarginMath.sol`` only MarginMath's own artifact changed and the contracts using it kept their
old bytecode, so tests ran old code. ``make setup`` compiles with ``perpsim compile``, which runs
``ape compile --force`` (every contract rebuilt); this test edits a library in a scratch copy of
the project built as ``make setup`` left it and finds the edit in the venue's runtime bytecode.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.chain.artifacts import Artifacts
from simulator.paths import BUILD_MANIFEST, PROJECT_ROOT

#: A constant put into ``MarginMath.requirement`` (inlined into PerpVenue): PUSH4 0x5eed5eed.
MARKER = bytes.fromhex("635eed5eed")
LIBRARY = Path("contracts/libraries/MarginMath.sol")
ORIGINAL_LINE = "uint256 deduction = 0;"
EDITED_LINE = "uint256 deduction = 0x5eed5eed;"


def venue_runtime(project: Path) -> bytes:
    return Artifacts.from_manifest(project / ".build" / "__local__.json")[
        "PerpVenue"
    ].runtime_bytecode


@pytest.fixture()
def built_copy(tmp_path) -> Path:
    """The project's contracts and their build as ``make setup`` left them, in a scratch folder."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(PROJECT_ROOT / "contracts", project / "contracts")
    shutil.copytree(BUILD_MANIFEST.parent, project / ".build")
    shutil.copy(PROJECT_ROOT / "ape-config.yaml", project / "ape-config.yaml")
    (project / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    return project


def test_setup_compiles_with_perpsim_compile():
    """The recipe ``make setup`` runs when a contract source changed is the command tested below."""
    proc = subprocess.run(
        ["make", "-n", "-W", str(LIBRARY), ".setup-stamps/compiled"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    commands = [line for line in lines if "compile" in line and not line.startswith("touch ")]
    assert commands == [".venv/bin/perpsim compile"], proc.stdout


def test_an_edited_library_reaches_the_venue_bytecode(built_copy, perpsim_cmd):
    before = venue_runtime(built_copy)
    assert MARKER not in before
    library = built_copy / LIBRARY
    source = library.read_text()
    assert ORIGINAL_LINE in source
    library.write_text(source.replace(ORIGINAL_LINE, EDITED_LINE, 1))  # in requirement()

    proc = subprocess.run(
        [perpsim_cmd, "compile", "--project", str(built_copy)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr

    after = venue_runtime(built_copy)
    assert MARKER in after, "PerpVenue kept the bytecode of the unedited library"


def test_a_deleted_sources_contract_types_are_not_loaded(tmp_path):
    """ape drops a deleted file from the manifest's ``sources`` but keeps its contract types
    (even through ``ape compile --force``): they must not be deployable, hashed or decoded."""
    manifest = {
        "sources": {"contracts/Kept.sol": {}},
        "contractTypes": {
            "Kept": {"sourceId": "contracts/Kept.sol", "abi": []},
            "Gone": {"sourceId": "contracts/Gone.sol", "abi": []},
        },
    }
    path = tmp_path / "__local__.json"
    path.write_text(json.dumps(manifest))
    assert list(Artifacts.from_manifest(path).contract_types) == ["Kept"]
