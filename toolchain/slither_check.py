"""Run slither over contracts/ through the solcjs adapter and enforce the triage file.

slither's CLI asks solc for ``--combined-json``, which solcjs lacks, so this drives slither from
Python through crytic-compile's ``SolcStandardJson`` platform with the adapter as ``solc`` and
``@openzeppelin/`` remapped to node_modules. Findings in node_modules are not ours and are
filtered out.

Every High or Medium finding must appear in ``toolchain/slither-triage.yaml`` with the reason it
is kept; otherwise this exits 1. Keys are ``<check>:<Contract>.<function or variable>``, stable
across unrelated edits. Usage: ``python toolchain/slither_check.py [--json]``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / ".solcx" / "solc-v0.8.28"
TRIAGE = ROOT / "toolchain" / "slither-triage.yaml"
BLOCKING = ("High", "Medium")


def finding_key(result: dict) -> str:
    """``check:Contract.member`` from the first source element of a slither result."""
    parts = []
    for element in result.get("elements", []):
        parent = element.get("type_specific_fields", {}).get("parent", {})
        if element.get("type") in ("function", "variable", "event") and parent.get("name"):
            parts = [parent["name"], element["name"]]
            break
        if element.get("type") == "contract":
            parts = [element["name"]]
            break
        if element.get("type") == "node":
            fn = element.get("type_specific_fields", {}).get("parent", {})
            contract = fn.get("type_specific_fields", {}).get("parent", {}).get("name")
            if contract and fn.get("name"):
                parts = [contract, fn["name"]]
                break
    return f"{result['check']}:{'.'.join(parts) or '?'}"


def run_slither() -> list[dict]:
    from crytic_compile import CryticCompile
    from crytic_compile.platform.solc_standard_json import SolcStandardJson
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "contracts").rglob("*.sol"))
    standard = SolcStandardJson()
    standard.add_source_files(sources)
    compiled = CryticCompile(
        standard,
        solc=str(ADAPTER),
        solc_remaps="@openzeppelin/=node_modules/@openzeppelin/",
        solc_working_dir=str(ROOT),
    )
    slither = Slither(compiled, filter_paths=["node_modules"])
    for obj in vars(all_detectors).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, AbstractDetector)
            and obj is not AbstractDetector
        ):
            slither.register_detector(obj)
    results: list[dict] = []
    for detector_results in slither.run_detectors():
        results.extend(r for r in detector_results if not _in_node_modules(r))
    return results


def _in_node_modules(result: dict) -> bool:
    paths = [
        e.get("source_mapping", {}).get("filename_relative", "") for e in result.get("elements", [])
    ]
    return bool(paths) and all("node_modules" in p for p in paths)


def main(argv: list[str]) -> int:
    triage = yaml.safe_load(TRIAGE.read_text()) if TRIAGE.exists() else {}
    kept = {entry["key"]: entry["reason"] for entry in (triage or {}).get("kept", [])}
    results = run_slither()
    by_impact = Counter(r["impact"] for r in results)
    untriaged, triaged = [], []
    for r in results:
        if r["impact"] not in BLOCKING:
            continue
        (triaged if finding_key(r) in kept else untriaged).append(r)
    seen = {finding_key(r) for r in results}
    stale = sorted(k for k in kept if k not in seen)

    if "--json" in argv:
        print(json.dumps({"by_impact": by_impact, "untriaged": [finding_key(r) for r in untriaged],
                          "triaged": sorted({finding_key(r) for r in triaged}), "stale": stale}, indent=2))  # fmt: skip
    else:
        print(
            "slither findings by impact: "
            + ", ".join(f"{k} {v}" for k, v in sorted(by_impact.items()))
        )
        for r in triaged:
            print(f"  kept   {r['impact']:<6} {finding_key(r)}: {kept[finding_key(r)]}")
        for r in untriaged:
            first = r["description"].strip().splitlines()[0]
            print(f"  OPEN   {r['impact']:<6} {finding_key(r)}: {first}")
        for k in stale:
            print(f"  stale triage entry (no such finding any more): {k}")
    if untriaged:
        print(
            f"slither: {len(untriaged)} high/medium finding(s) not triaged in {TRIAGE.relative_to(ROOT)}"
        )
        return 1
    print("slither: clean (every high/medium finding fixed or triaged)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
