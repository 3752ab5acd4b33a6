"""Run slither over contracts/ through the solcjs adapter and enforce the triage file.

slither's CLI asks solc for ``--combined-json``, which solcjs lacks, so this drives slither from
Python through crytic-compile's ``SolcStandardJson`` platform with the adapter as ``solc`` and
``@openzeppelin/`` remapped to node_modules. Findings in node_modules are not ours and are
filtered out.

Every High or Medium finding must appear in ``toolchain/slither-triage.yaml`` with the reason it
is kept; otherwise this exits 1. A key names one finding, not a place where findings may occur:
``<check>:`` then every source element of the finding, without line numbers, sorted and joined
by `` | `` (see :func:`finding_key`), e.g.
``incorrect-equality:PerpVenue._trade:a.size == 0``. Another finding of the same check in the
same function has another key and is reported, while edits elsewhere leave the key alone.
Usage: ``python toolchain/slither_check.py [--json]``.
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


def _normalise(text: str) -> str:
    """Source text with whitespace runs collapsed, so reformatting does not change a key."""
    return " ".join(text.split())


def _element_name(element: dict) -> str:
    """``Contract.member`` (or ``Contract``) of one slither source element; for a node (a
    statement or expression), ``Contract.function:<its source text>``."""
    kind, name = element.get("type"), _normalise(element.get("name", ""))
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if kind == "contract":
        return name
    if kind == "node":
        contract = parent.get("type_specific_fields", {}).get("parent", {}).get("name", "?")
        return f"{contract}.{parent.get('name', '?')}:{name}"
    owner = parent.get("name")
    return f"{owner}.{name}" if owner else f"{kind} {name}"


def _base_key(result: dict) -> str:
    elements = result.get("elements", [])
    node_parents = {
        (
            e.get("type_specific_fields", {}).get("parent", {}).get("name"),
            e.get("type_specific_fields", {})
            .get("parent", {})
            .get("type_specific_fields", {})
            .get("parent", {})
            .get("name"),
        )
        for e in elements
        if e.get("type") == "node"
    }
    names = set()
    for e in elements:
        owner = e.get("type_specific_fields", {}).get("parent", {}).get("name")
        if e.get("type") == "function" and (e.get("name"), owner) in node_parents:
            continue  # a node already names its function
        names.add(_element_name(e))
    return f"{result['check']}:{' | '.join(sorted(names)) or '?'}"


def _position(result: dict) -> tuple[str, int]:
    """Where a finding's first node (else first element) starts: orders identical keys."""
    elements = result.get("elements", [])
    first = next((e for e in elements if e.get("type") == "node"), elements[0] if elements else {})
    mapping = first.get("source_mapping", {})
    return mapping.get("filename_relative", ""), mapping.get("start", 0)


def finding_keys(results: list[dict]) -> list[str]:
    """One key per result, in order: :func:`finding_key`'s, with ``#2``, ``#3``... appended to
    the second and later findings whose keys would be equal (by source position), so that a
    new copy of an already-triaged expression in the same function is reported too."""
    base = [_base_key(r) for r in results]
    keys = list(base)
    for key in set(base):
        same = sorted(
            (i for i, b in enumerate(base) if b == key), key=lambda i: _position(results[i])
        )
        for n, i in enumerate(same[1:], start=2):
            keys[i] = f"{key}#{n}"
    return keys


def finding_key(result: dict) -> str:
    """The key of one finding: ``<check>:`` and its source elements, sorted and joined by
    `` | ``. An element is ``Contract.member`` (function, variable, event...), ``Contract``, or
    for a node ``Contract.function:<source text, whitespace collapsed>`` (its function is then
    not listed again). No line numbers or offsets: edits elsewhere do not change it."""
    return _base_key(result)


def classify(results: list[dict], kept: dict[str, str]) -> tuple[list, list, list[str]]:
    """Split the blocking (High/Medium) findings into triaged and untriaged ``(key, result)``
    pairs, and list the triage keys that match no finding (stale)."""
    keys = finding_keys(results)
    triaged, untriaged = [], []
    for key, r in zip(keys, results, strict=True):
        if r["impact"] in BLOCKING:
            (triaged if key in kept else untriaged).append((key, r))
    stale = sorted(k for k in kept if k not in set(keys))
    return triaged, untriaged, stale


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
    triaged, untriaged, stale = classify(results, kept)

    if "--json" in argv:
        print(json.dumps({"by_impact": by_impact, "untriaged": [k for k, _ in untriaged],
                          "triaged": sorted(k for k, _ in triaged), "stale": stale}, indent=2))  # fmt: skip
    else:
        print(
            "slither findings by impact: "
            + ", ".join(f"{k} {v}" for k, v in sorted(by_impact.items()))
        )
        for key, r in triaged:
            print(f"  kept   {r['impact']:<6} {key}: {kept[key]}")
        for key, r in untriaged:
            first = r["description"].strip().splitlines()[0]
            print(f"  OPEN   {r['impact']:<6} {key}: {first}")
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
