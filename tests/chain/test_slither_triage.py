"""The slither triage keys name findings, not places (toolchain/slither_check.py).

The old key ``check:Contract.function`` let one triage entry hide every later finding of the
same check in the same function. These tests run the gate on synthetic slither results."""

from __future__ import annotations

import importlib.util

import yaml

from simulator.paths import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "slither_check", PROJECT_ROOT / "toolchain" / "slither_check.py"
)
slither_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slither_check)


def _mapping(start: int, lines: list[int], file: str = "contracts/PerpVenue.sol") -> dict:
    return {"filename_relative": file, "start": start, "length": 10, "lines": lines}


def _contract(name: str) -> dict:
    return {"type": "contract", "name": name, "source_mapping": _mapping(0, [1, 500])}


def _function(name: str, contract: str, start: int = 8_000) -> dict:
    return {
        "type": "function",
        "name": name,
        "source_mapping": _mapping(start, [200, 240]),
        "type_specific_fields": {"parent": _contract(contract), "signature": f"{name}()"},
    }


def _equality(expression: str, function: str = "_trade", contract: str = "PerpVenue",
              start: int = 10_000, line: int = 232, impact: str = "Medium") -> dict:  # fmt: skip
    """An ``incorrect-equality`` result as slither's JSON output shapes it."""
    fn = _function(function, contract)
    node = {
        "type": "node",
        "name": expression,
        "source_mapping": _mapping(start, [line]),
        "type_specific_fields": {"parent": fn},
    }
    return {
        "check": "incorrect-equality",
        "impact": impact,
        "confidence": "High",
        "description": f"{contract}.{function}() uses a dangerous strict equality:\n\t- {expression}",
        "elements": [fn, node],
    }


def _uninitialized(variable: str, users: list[tuple[str, str]]) -> dict:
    var = {
        "type": "variable",
        "name": variable,
        "source_mapping": _mapping(3_000, [80], "contracts/venue/VenueStorage.sol"),
        "type_specific_fields": {"parent": _contract("VenueStorage")},
    }
    return {
        "check": "uninitialized-state",
        "impact": "High",
        "confidence": "High",
        "description": f"VenueStorage.{variable} is never initialized.",
        "elements": [var] + [_function(f, c) for f, c in users],
    }


def test_a_new_finding_of_a_triaged_check_in_the_same_function_is_not_hidden():
    triaged_one = _equality("a.size == 0")
    kept = {slither_check.finding_key(triaged_one): "a closed position clears its mark"}
    new_one = _equality("t.fill == 0", start=9_500, line=220)
    triaged, untriaged, stale = slither_check.classify([triaged_one, new_one], kept)
    assert [k for k, _ in triaged] == ["incorrect-equality:PerpVenue._trade:a.size == 0"]
    assert [k for k, _ in untriaged] == ["incorrect-equality:PerpVenue._trade:t.fill == 0"]
    assert untriaged[0][1] is new_one and stale == []


def test_keys_ignore_line_numbers_offsets_and_whitespace():
    before = _equality("fee == 0", start=10_000, line=232)
    after = _equality("fee  ==\n        0", start=12_345, line=301)  # edits above it, reformatted
    assert slither_check.finding_key(before) == slither_check.finding_key(after)
    assert slither_check.finding_key(before) == "incorrect-equality:PerpVenue._trade:fee == 0"


def test_a_second_copy_of_a_triaged_expression_in_the_same_function_is_reported():
    first = _equality("units == 0", start=10_000)
    second = _equality("units == 0", start=10_400)  # the same text further down the function
    kept = {slither_check.finding_key(first): "no zero transfer"}
    keys = slither_check.finding_keys([second, first])
    assert keys == [
        "incorrect-equality:PerpVenue._trade:units == 0#2",
        "incorrect-equality:PerpVenue._trade:units == 0",
    ]
    triaged, untriaged, _ = slither_check.classify([second, first], kept)
    assert [r for _, r in triaged] == [first] and [r for _, r in untriaged] == [second]


def test_the_same_check_elsewhere_and_variable_findings_have_their_own_keys():
    here = _equality("dt == 0", function="_fundingNow", contract="VenueStorage")
    there = _equality("dt == 0", function="_skewAverageAt", contract="VenueMarginController")
    assert slither_check.finding_keys([here, there]) == [
        "incorrect-equality:VenueStorage._fundingNow:dt == 0",
        "incorrect-equality:VenueMarginController._skewAverageAt:dt == 0",
    ]
    used_by_two = _uninitialized("_fund", [("_sendToFund", "VenueStorage")])
    used_by_three = _uninitialized(
        "_fund", [("_sendToFund", "VenueStorage"), ("_absorbDeficit", "VenueLiquidationModule")]
    )
    assert slither_check.finding_keys([used_by_two, used_by_three]) == [
        "uninitialized-state:VenueStorage._fund | VenueStorage._sendToFund",
        "uninitialized-state:VenueLiquidationModule._absorbDeficit | VenueStorage._fund"
        " | VenueStorage._sendToFund",
    ]


def test_low_findings_never_block_and_unmatched_entries_are_stale():
    low = _equality("x == 0", impact="Low")
    triaged, untriaged, stale = slither_check.classify(
        [low], {"incorrect-equality:PerpVenue._trade:gone == 0": "fixed since"}
    )
    assert triaged == [] and untriaged == []
    assert stale == ["incorrect-equality:PerpVenue._trade:gone == 0"]


def test_every_triage_entry_uses_the_finding_level_key():
    entries = yaml.safe_load(slither_check.TRIAGE.read_text())["kept"]
    assert entries and all(e["reason"] for e in entries)
    for entry in entries:
        check, _, body = entry["key"].partition(":")
        if check == "uninitialized-state":
            assert " | " in body, entry["key"]  # the variable and where it is used
        else:  # a statement's finding names the statement, not only its function
            assert ":" in body, entry["key"]
