"""Compiled contract artifacts, read from ape's build manifest.

``make setup`` runs ``ape compile`` (solcjs behind the adapter), which writes
``.build/__local__.json``. This module reads ABIs and bytecode from that file without importing
ape, and recompiles through ape when a source is newer than the build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from simulator.chain.abi import AbiRegistry, Function
from simulator.errors import CompileError
from simulator.paths import PROJECT_ROOT, SOLCX_DIR


@dataclass(frozen=True)
class ContractType:
    """ABI and bytecode of one compiled contract."""

    name: str
    abi: tuple[dict, ...]
    bytecode: bytes
    runtime_bytecode: bytes

    def constructor(self) -> Function:
        for item in self.abi:
            if item.get("type") == "constructor":
                fn = Function.from_abi({**item, "name": "constructor", "outputs": []})
                return replace(fn, selector=b"")  # init code takes bare arguments
        return Function("constructor", b"", (), (), "nonpayable")


class Artifacts:
    """All contract types of one build, plus an :class:`AbiRegistry` over their ABIs."""

    def __init__(self, contract_types: dict[str, ContractType]):
        self.contract_types = contract_types
        self.registry = AbiRegistry()
        for ct in contract_types.values():
            self.registry.add_abi(list(ct.abi))

    def __getitem__(self, name: str) -> ContractType:
        try:
            return self.contract_types[name]
        except KeyError:
            known = ", ".join(sorted(self.contract_types)) or "none"
            raise CompileError(f"no compiled contract named {name!r} (compiled: {known})") from None

    @classmethod
    def from_manifest(cls, path: Path) -> Artifacts:
        """The contract types of an ape build manifest, without those of deleted sources: ape
        drops a deleted file from the manifest's ``sources`` but keeps its contract types,
        even through ``ape compile --force``."""
        if not path.exists():
            raise CompileError(f"contracts are not compiled ({path} is missing); run `make setup`")
        data = json.loads(path.read_text())
        sources = data.get("sources")
        types = {}
        for name, ct in data.get("contractTypes", {}).items():
            source = ct.get("sourceId")
            if sources is not None and source is not None and source not in sources:
                continue
            deploy = (ct.get("deploymentBytecode") or {}).get("bytecode") or "0x"
            runtime = (ct.get("runtimeBytecode") or {}).get("bytecode") or "0x"
            types[name] = ContractType(
                name=name,
                abi=tuple(ct.get("abi", [])),
                bytecode=bytes.fromhex(deploy[2:]),
                runtime_bytecode=bytes.fromhex(runtime[2:]),
            )
        return cls(types)


def _sources(root: Path) -> list[Path]:
    return sorted((root / "contracts").rglob("*.sol"))


def build_is_stale(root: Path = PROJECT_ROOT) -> bool:
    manifest = root / ".build" / "__local__.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _sources(root))


_ERROR_LINE = re.compile(r"\((\w*CompileError)\)\s*(.*)")
_LOCATION = re.compile(r"-->\s*(\S+:\d+:\d+)")


def compile_project(root: Path = PROJECT_ROOT) -> None:
    """Run ``ape compile --force`` in ``root``; on failure raise a one-line :class:`CompileError`.

    Every contract is rebuilt (``--force``): ape's incremental compile rebuilds only the files
    that changed, so a contract importing an edited library would keep its old bytecode.

    The message names the first error's file, line and column and the compiler's message,
    e.g. ``contracts/B.sol:3:34: ParserError: Expected primary expression.``
    """
    env = dict(os.environ, SOLCX_BINARY_PATH=str(SOLCX_DIR))
    ape = Path(sys.executable).with_name("ape")
    proc = subprocess.run(
        [str(ape), "compile", "--force"], cwd=root, env=env, capture_output=True, text=True
    )
    output = proc.stdout + proc.stderr
    if proc.returncode == 0 and "ERROR" not in output:
        return
    raise CompileError(summarise_compiler_output(output))


def summarise_compiler_output(output: str) -> str:
    """One line from ape/solc's multi-line error report: ``file:line:col: Kind: message``."""
    message, location = None, None
    for line in output.splitlines():
        if message is None and (m := _ERROR_LINE.search(line)):
            message = m.group(2).strip()
        elif message is None and line.startswith("ERROR:"):
            message = line[len("ERROR:") :].strip()
        if location is None and (m := _LOCATION.search(line)):
            location = m.group(1)
    message = message or "compilation failed (no compiler message)"
    return f"compile failed: {location}: {message}" if location else f"compile failed: {message}"


@cache
def load_artifacts(root: Path = PROJECT_ROOT) -> Artifacts:
    """Artifacts of the project, compiling first if a source changed since the last build."""
    if build_is_stale(root):
        compile_project(root)
    return Artifacts.from_manifest(root / ".build" / "__local__.json")
