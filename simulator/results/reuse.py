"""Reuse checks: a run folder is reused (read as finished, or resumed) only if it holds the same
run -- the same scenario fingerprint, the same :func:`~simulator.results.provenance.code_hash`
and the same contract bytecode (:func:`check_same_run`); and the scenario a manifest records
must still match its recorded fingerprint (:func:`recorded_scenario`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.errors import PerpsimError
from simulator.results.atomic import _jsonable
from simulator.results.errors import RunMismatchError

#: How :func:`check_same_run` ends its message unless told otherwise.
DEFAULT_WAY_OUT = "use --overwrite to replace it, or another --out"
_ABSENT = object()


def _value_text(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_difference(old: Any, new: Any, key: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted key (``a.b[2].c``) where two scenario dicts differ, with both values.

    ``name`` and ``description`` are skipped at the top level: they are not part of what a
    scenario simulates (nor of its fingerprint)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in [*old, *(k for k in new if k not in old)]:
            if not key and k in ("name", "description"):
                continue
            sub = f"{key}.{k}" if key else str(k)
            if k not in old or k not in new:
                return sub, old.get(k, _ABSENT), new.get(k, _ABSENT)
            found = _first_difference(old[k], new[k], sub)
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_difference(a, b, f"{key}[{i}]")
            if found is not None:
                return found
        return None
    same = old == new and type(old) is type(new)
    return None if same else (key or "(the scenario)", old, new)


def _short(digest: Any) -> str:
    text = str(digest)
    return text if len(text) <= 19 else text[:19] + "..."


def check_same_run(
    manifest: Mapping[str, Any],
    scenario: Any,
    code_hash: str | None,
    bytecode_hashes: Mapping[str, str] | None,
    *,
    prefix: str = "the run folder holds a different run",
    way_out: str = DEFAULT_WAY_OUT,
    engine: str = "chain",
) -> None:
    """Refuse to reuse a run folder that holds another run than the one asked for.

    The one reuse check of run folders: compare's finished runs, ``perpsim run --resume`` and
    compare's resume, and the app's cache all call it. Stable signature.

    Parameters
    ----------
    manifest : mapping
        The folder's ``manifest.json``.
    scenario : Scenario or mapping
        The scenario asked for; its fingerprint must equal ``manifest["scenario_fingerprint"]``.
    code_hash : str or None
        :func:`code_hash` of the code that would run (``None``: not checked).
    bytecode_hashes : mapping or None
        ``{contract: hash}`` of the contracts that would run (``None``: not checked).
    prefix : str
        How the message starts, e.g. ``"runs/x holds a different run"``.
    way_out : str
        How the message ends: what the user can do instead.
    engine : str
        The engine that would run (``chain`` or ``mirror``); it must be the one the manifest
        records in ``extra.engine`` (a folder that records none is a chain run's).

    Raises
    ------
    RunMismatchError
        One line naming every kind of difference: the first differing scenario key with both
        values (``traders.count: 20 -> 30``), the code hashes, the contracts whose bytecode
        differs.

    Examples
    --------
    >>> m = {"scenario": {"seed": 1, "steps": 20}, "code_hash": "sha256:1"}
    >>> m["scenario_fingerprint"] = _scenario_facts(m["scenario"])[1]
    >>> check_same_run(m, {"seed": 1, "steps": 20}, "sha256:1", None)  # same run: no error
    >>> check_same_run(m, {"seed": 1, "steps": 30}, "sha256:1", None)
    Traceback (most recent call last):
    ...
    simulator.results.errors.RunMismatchError: the run folder holds a different run: scenario steps: ...
    """
    differences = []
    recorded_engine = (manifest.get("extra") or {}).get("engine") or "chain"
    if recorded_engine != engine:
        differences.append(f"another engine ({recorded_engine} -> {engine})")
    data, fingerprint, _, _ = _scenario_facts(scenario)
    if manifest.get("scenario_fingerprint") != fingerprint:
        recorded = manifest.get("scenario")
        found = _first_difference(recorded, data) if isinstance(recorded, Mapping) else None
        if not isinstance(recorded, Mapping):
            differences.append("its manifest records no scenario")
        elif found is None:
            differences.append(
                "same scenario settings but another fingerprint (a data file it reads changed, "
                "or the manifest was edited)"
            )
        else:
            key, old, new = found
            differences.append(f"scenario {key}: {_value_text(old)} -> {_value_text(new)}")
    recorded_code = manifest.get("code_hash")
    if code_hash is not None and recorded_code != code_hash:
        differences.append(
            f"the code changed (code hash {_short(recorded_code)} -> {_short(code_hash)})"
        )
    if bytecode_hashes is not None:
        recorded_bytecode = manifest.get("bytecode_hashes") or {}
        changed = sorted(
            k for k in set(recorded_bytecode) | set(bytecode_hashes)
            if recorded_bytecode.get(k) != bytecode_hashes.get(k)
        )  # fmt: skip
        if changed:
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            differences.append(f"contract bytecode changed ({', '.join(changed[:5])}{more})")
    if differences:
        raise RunMismatchError(f"{prefix}: {'; '.join(differences)}; {way_out}")


def recorded_scenario(manifest: Mapping[str, Any], *, where: str | Path = "run folder") -> Any:
    """The scenario a manifest records, checked against the fingerprint it records beside it.

    Returns a :class:`~simulator.scenario.Scenario` for a run of the engine, or the plain mapping
    for a run written with a plain-mapping scenario (as the tests' toy engine does).

    Raises
    ------
    RunMismatchError
        The manifest has no scenario, its scenario does not validate, or it no longer matches
        the recorded fingerprint (edited after the run started, or a data file it reads
        changed or is gone).
    """
    data = manifest.get("scenario")
    way_out = "start the run again with --overwrite"
    if not isinstance(data, Mapping) or not data:
        raise RunMismatchError(f"{where}: its manifest records no scenario; {way_out}")
    recorded = manifest.get("scenario_fingerprint")
    if _scenario_facts(data)[1] == recorded:
        return dict(data)
    from simulator.scenario import parse_scenario

    try:
        scenario = parse_scenario(data, label="the scenario in its manifest")
        fingerprint = scenario.fingerprint()
    except PerpsimError as exc:
        raise RunMismatchError(
            f"{where}: the scenario in its manifest does not match the recorded fingerprint and "
            f"does not validate ({exc}); {way_out}"
        ) from None
    if fingerprint != recorded:
        raise RunMismatchError(
            f"{where}: the scenario in its manifest does not match the recorded fingerprint "
            f"(the manifest was edited, or a data file the scenario reads changed); {way_out}"
        )
    return scenario


def _scenario_facts(scenario: Any) -> tuple[dict[str, Any], str | None, str | None, int | None]:
    """(dict, fingerprint, name, seed) of a Scenario model or a plain mapping."""
    if hasattr(scenario, "fingerprint") and hasattr(scenario, "to_dict"):
        return scenario.to_dict(), scenario.fingerprint(), scenario.name, scenario.seed
    if isinstance(scenario, Mapping):
        data = _jsonable(dict(scenario))
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return data, hashlib.sha256(text.encode()).hexdigest(), data.get("name"), data.get("seed")
    raise TypeError(f"scenario must be a Scenario or a mapping (got {type(scenario).__name__})")
