"""The solcjs adapter speaks native solc's CLI: version banner and standard JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.chain.artifacts import compile_project
from simulator.errors import CompileError
from simulator.paths import PROJECT_ROOT, SOLCX_DIR

ADAPTER = SOLCX_DIR / "solc-v0.8.28"

OZ_TOKEN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract Probe is ERC20 { constructor() ERC20("Probe", "P") {} }
"""


def test_version_is_in_native_form():
    out = subprocess.run([ADAPTER, "--version"], capture_output=True, text=True, check=True)
    assert "Version: 0.8.28+commit." in out.stdout
    assert out.stdout.count("\n") == 2


def test_standard_json_inlines_urls_resolves_openzeppelin_and_prints_only_json(tmp_path):
    source = tmp_path / "Probe.sol"
    source.write_text(OZ_TOKEN)
    request = {
        "language": "Solidity",
        "sources": {"Probe.sol": {"urls": [str(source)]}},
        "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }
    proc = subprocess.run(
        [ADAPTER, "--standard-json", "--allow-paths", str(tmp_path)],
        input=json.dumps(request), capture_output=True, text=True, check=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    output = json.loads(proc.stdout)  # nothing but JSON on stdout
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert errors == []
    probe = output["contracts"]["Probe.sol"]["Probe"]
    assert len(probe["evm"]["bytecode"]["object"]) > 1000
    assert any(item.get("name") == "transfer" for item in probe["abi"])
    assert "@openzeppelin/contracts/token/ERC20/ERC20.sol" in output["sources"]


@pytest.fixture()
def broken_project(tmp_path) -> Path:
    shutil.copy(PROJECT_ROOT / "ape-config.yaml", tmp_path / "ape-config.yaml")
    (tmp_path / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Broken.sol").write_text(
        "pragma solidity 0.8.28;\ncontract Broken {\n    function f() public { uint x = ; }\n}\n"
    )
    return tmp_path


def test_syntax_error_surfaces_file_line_and_message(broken_project):
    with pytest.raises(CompileError) as info:
        compile_project(broken_project)
    message = str(info.value)
    assert "contracts/Broken.sol:3:" in message
    assert "ParserError" in message
    assert "\n" not in message


def test_compile_cli_exits_2_with_one_line(broken_project, perpsim_cmd):
    proc = subprocess.run(
        [perpsim_cmd, "compile", "--project", str(broken_project)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Broken.sol:3:" in lines[0]


def test_large_output_reaches_a_pipe_whole(tmp_path):
    """Outputs far above a pipe's 64 KiB buffer arrive complete (partial writes are retried)."""
    funcs = "\n".join(
        f"    function f{i}(uint256 a) external pure returns (uint256) {{ return a + {i}; }}"
        for i in range(300)
    )
    source = tmp_path / "Big.sol"
    source.write_text(f"pragma solidity 0.8.28;\ncontract Big {{\n{funcs}\n}}\n")
    request = {
        "language": "Solidity",
        "sources": {"Big.sol": {"urls": [str(source)]}},
        "settings": {
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            }
        },
    }
    proc = subprocess.run(
        [ADAPTER, "--standard-json"],
        input=json.dumps(request),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    assert len(proc.stdout) > 100_000
    assert len(json.loads(proc.stdout)["contracts"]["Big.sol"]["Big"]["abi"]) == 300
