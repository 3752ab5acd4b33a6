"""Tunable parameters (``--param NAME=LOW..HIGH``) and grid axes (``--grid NAME=v1,v2,...``).

A parameter is a scenario override key (:mod:`simulator.scenario.overrides`: dotted keys,
markets by symbol, e.g. ``markets.BTC.overrides.max_leverage`` or
``controls.insurance_fund_usd``) with a range, in that key's unit. Forms of ``--param``:

- ``NAME=LOW..HIGH``: a number range. It is searched on a log scale when both ends are > 0
  and HIGH/LOW >= 100 (two decades or more), as integers when both ends are written as
  integers and the scenario's current value is not a float (``traders.count=50..200``).
  Either inference is overridden by a suffix: ``:log``, ``:linear``, ``:int``, ``:float``
  (``controls.insurance_fund_usd=1e5..1e7:linear``).
- ``NAME=a|b|c``: a choice among values (parsed as YAML, like ``--set``), e.g.
  ``controls.adl_policy=contracts_queue|pro_rata|socialized``.

Everything is checked against the scenario before anything runs (:func:`check_params`): a key
the scenario does not have, a bound the scenario refuses (``insurance_fund_usd`` below 0), an
empty (LOW = HIGH) or inverted (LOW > HIGH) range, a non-numeric current value for a number
range -- each one line (:class:`~simulator.experiments.ExperimentError`, exit 2).

``--max-change PCT`` (:func:`narrow`) narrows each number range to the scenario's current
value +- PCT percent (intersected with the range given); a parameter with no current value
(``controls.leverage_cap: null``) keeps its range and the report says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml

from simulator.experiments import ExperimentError
from simulator.scenario import Scenario
from simulator.scenario.messages import ScenarioError
from simulator.scenario.overrides import resolved_key_parts

#: HIGH / LOW at or above which a positive range is searched on a log scale.
LOG_RATIO = 100.0
_FLAGS = ("log", "linear", "int", "float")
_INT_TEXT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Param:
    """One tunable parameter: an override key and the values it may take."""

    name: str
    """Override key, as typed (``markets.BTC.overrides.max_leverage``)."""
    low: float | None = None
    """Lowest value (the key's unit); ``None`` for a choice."""
    high: float | None = None
    """Highest value (the key's unit); ``None`` for a choice."""
    log: bool = False
    """Searched on a log scale."""
    integer: bool = False
    """Integer values only."""
    choices: tuple[Any, ...] | None = None
    """The values of a choice parameter (``a|b|c``); ``None`` for a range."""
    current: Any = None
    """The scenario's value of the key (after its preset and controls are resolved); ``None``
    when it has none."""
    narrowed: bool = False
    """Whether ``--max-change`` narrowed the range given."""
    given: tuple[float, float] | None = None
    """The range as given, before ``--max-change`` (``None`` for a choice)."""

    @property
    def is_choice(self) -> bool:
        return self.choices is not None

    def describe(self) -> str:
        """``markets.BTC.overrides.max_leverage in [20, 40] (log, int)`` as the report says it."""
        if self.is_choice:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        flags = [f for f, on in (("log", self.log), ("int", self.integer)) if on]
        text = f"{self.name} in [{_num(self.low)}, {_num(self.high)}]"
        return text + (f" ({', '.join(flags)})" if flags else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``tune.json`` ``params``)."""
        return {
            "name": self.name,
            "kind": "choice" if self.is_choice else ("int" if self.integer else "float"),
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "choices": list(self.choices) if self.is_choice else None,
            "current": self.current,
            "narrowed": self.narrowed,
            "given": list(self.given) if self.given is not None else None,
        }


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(text: str, what: str) -> tuple[float | int, bool]:
    """``text`` as a number, and whether it was written as an integer."""
    text = text.strip()
    if _INT_TEXT.fullmatch(text):
        return int(text), True
    try:
        value = float(text)
    except ValueError:
        raise ExperimentError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ExperimentError(f"{what}: {text!r} is not a finite number")
    return value, False


def parse_param(text: str) -> Param:
    """One ``--param`` as written (not yet checked against a scenario).

    Raises
    ------
    ExperimentError
        No ``=``, an empty name, a range that is not ``LOW..HIGH``, a bound that is not a
        number, an unknown suffix, an empty or inverted range, a log range not above 0.

    Examples
    --------
    >>> parse_param("controls.insurance_fund_usd=1e5..1e7").describe()
    'controls.insurance_fund_usd in [100000, 1e+07] (log)'
    >>> parse_param("traders.count=50..200").describe()
    'traders.count in [50, 200] (int)'
    >>> parse_param("controls.adl_policy=pro_rata|socialized").choices
    ('pro_rata', 'socialized')
    """
    name, sep, spec = str(text).partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name:
        raise ExperimentError(f"--param {text!r} must look like NAME=LOW..HIGH or NAME=a|b|c")
    what = f"--param {name}"
    if ".." not in spec:
        if "|" not in spec:
            raise ExperimentError(
                f"{what}: {spec!r} is neither a range LOW..HIGH nor a choice a|b|c"
            )
        items = [item.strip() for item in spec.split("|")]
        if any(not item for item in items):
            raise ExperimentError(f"{what}: {spec!r} has an empty choice")
        choices = tuple(_yaml_value(item, what) for item in items)
        if len(set(map(repr, choices))) < 2:
            raise ExperimentError(f"{what}: give at least two different choices")
        return Param(name, choices=choices)
    flags: list[str] = []
    body = spec
    while ":" in body and body.rsplit(":", 1)[1].strip() in _FLAGS:
        body, flag = body.rsplit(":", 1)
        flags.append(flag.strip())
    if ":" in body:
        raise ExperimentError(
            f"{what}: unknown suffix {body.rsplit(':', 1)[1]!r} (known: {', '.join(_FLAGS)})"
        )
    low_text, _, high_text = body.partition("..")
    if not low_text.strip() or not high_text.strip():
        raise ExperimentError(f"{what}: {spec!r} must look like LOW..HIGH")
    low, low_int = _number(low_text, what)
    high, high_int = _number(high_text, what)
    if low == high:
        raise ExperimentError(f"{what}: empty range {_num(low)}..{_num(high)} (LOW = HIGH)")
    if low > high:
        raise ExperimentError(
            f"{what}: inverted range {_num(low)}..{_num(high)} (LOW must be below HIGH)"
        )
    integer = ("int" in flags) or (low_int and high_int and "float" not in flags)
    log = "log" in flags or ("linear" not in flags and low > 0 and high / low >= LOG_RATIO)
    if log and low <= 0:
        raise ExperimentError(f"{what}: a log range needs LOW > 0 (got {_num(low)})")
    if integer:
        low, high = math.ceil(low), math.floor(high)
        if low >= high:
            raise ExperimentError(f"{what}: no two integers in {spec!r}")
    else:
        low, high = float(low), float(high)
    return Param(name, low=low, high=high, log=log, integer=bool(integer), given=(low, high),
                 current=None, choices=None, narrowed=False)  # fmt: skip


def _yaml_value(text: str, what: str) -> Any:
    """A value as typed: a number when it reads as one (``1e6`` too, which YAML 1.1 leaves a
    string), else YAML as ``--set`` reads it (``pro_rata``, ``true``, ``null``)."""
    if _INT_TEXT.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and math.isfinite(number):
        return number
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise ExperimentError(f"{what}: cannot read {text!r}") from None


def current_value(scenario: Scenario, name: str) -> Any:
    """The scenario's value of override key ``name``: as its data holds it, or for a market
    parameter it does not override (``markets.BTC.overrides.max_leverage``), the value its
    venue preset gives that market (after the controls); ``None`` when it has none.

    Examples
    --------
    >>> from simulator.scenario import load_scenario
    >>> s = load_scenario("oct-2025")
    >>> current_value(s, "controls.insurance_fund_usd")
    100000.0
    >>> current_value(s, "markets.BTC.overrides.max_leverage")
    40.0
    """
    data = scenario.to_dict()
    parts = resolved_key_parts(data, name)
    node: Any = data
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
            break
    if node is None and len(parts) == 4 and parts[0] == "markets" and parts[2] == "overrides":
        index, field = parts[1], parts[3]
        if isinstance(index, int):
            market = scenario.venue_params().markets[index]
            node = getattr(market.params, str(field), None)
    if isinstance(node, Mapping | list):
        return None
    return node


def _check_value(scenario: Scenario, name: str | Mapping[str, Any], value: Any, what: str) -> None:
    """Refuse a value (or, with a mapping as ``name``, a set of values) the scenario refuses."""
    try:
        scenario.with_overrides(name if isinstance(name, Mapping) else {name: value})
    except ScenarioError as exc:
        text = str(exc).removeprefix(f"scenario {scenario.name}: ")
        raise ExperimentError(f"{what}: {text}") from None


def check_params(scenario: Scenario, params: Sequence[Param]) -> list[Param]:
    """Check each parameter against ``scenario``; return them with their current values.

    Both ends of a range (and every choice) must give a valid scenario: an unknown key is
    refused by the scenario's own validation, which names the key and the ones it knows.

    Raises
    ------
    ExperimentError
        No parameter, a name given twice, a key the scenario does not have, a value it refuses,
        a number range over a key whose value is not a number.
    """
    if not params:
        raise ExperimentError("give at least one --param NAME=LOW..HIGH")
    seen: set[str] = set()
    out = []
    for param in params:
        what = f"--param {param.name}"
        if param.name in seen:
            raise ExperimentError(f"{what}: given twice")
        seen.add(param.name)
        values = param.choices if param.is_choice else (param.low, param.high)
        for value in values:
            _check_value(scenario, param.name, value, what)
        current = current_value(scenario, param.name)
        if not param.is_choice and isinstance(current, bool | str):
            raise ExperimentError(
                f"{what}: the scenario's value is {current!r}, not a number; give choices "
                "a|b|c instead of a range"
            )
        if not param.is_choice and param.integer and isinstance(current, float):
            low, high = float(param.low), float(param.high)
            param = replace(param, integer=False, low=low, high=high, given=(low, high))
        out.append(replace(param, current=current))
    return out


def narrow(params: Sequence[Param], max_change_pct: float) -> list[Param]:
    """Each number range narrowed to its current value +- ``max_change_pct`` percent, within
    the range given (``--max-change``); choices and parameters without a current value stay.

    Raises
    ------
    ExperimentError
        ``max_change_pct`` not above 0, or a current value whose +- band misses the range given
        (the message names both).

    Examples
    --------
    >>> p = Param("x", low=1.0, high=100.0, current=50.0, given=(1.0, 100.0))
    >>> q = narrow([p], 10)[0]
    >>> (q.low, q.high, q.narrowed)
    (45.0, 55.0, True)
    """
    if not (max_change_pct > 0 and math.isfinite(max_change_pct)):
        raise ExperimentError(f"--max-change must be a percentage above 0 (got {max_change_pct})")
    out = []
    for p in params:
        if p.is_choice or p.current is None:
            out.append(p)
            continue
        current = float(p.current)
        band = abs(current) * max_change_pct / 100.0
        low, high = max(p.low, current - band), min(p.high, current + band)
        if p.integer:
            low, high = math.ceil(low), math.floor(high)
        if not low < high:
            raise ExperimentError(
                f"--max-change {max_change_pct:g}: {p.name}'s current value {current:g} +- "
                f"{max_change_pct:g}% leaves nothing of its range [{_num(p.low)}, {_num(p.high)}]"
            )
        log = p.log and low > 0
        out.append(replace(p, low=low, high=high, log=log, narrowed=True))
    return out


def parse_grid(texts: Iterable[str]) -> list[tuple[str, list[Any]]]:
    """``--grid NAME=v1,v2,...`` items as ``(name, values)`` (values parsed as YAML).

    Raises
    ------
    ExperimentError
        No ``=``, an empty name or value, a name given twice, no grid at all.

    Examples
    --------
    >>> parse_grid(["controls.leverage_cap=5,10,20"])
    [('controls.leverage_cap', [5, 10, 20])]
    """
    axes: list[tuple[str, list[Any]]] = []
    for text in texts:
        name, sep, spec = str(text).partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise ExperimentError(f"--grid {text!r} must look like NAME=v1,v2,...")
        items = [item.strip() for item in spec.split(",")]
        if any(not item for item in items):
            raise ExperimentError(f"--grid {name}: {spec!r} has an empty value")
        if name in dict(axes):
            raise ExperimentError(f"--grid {name}: given twice")
        axes.append((name, [_yaml_value(item, f"--grid {name}") for item in items]))
    if not axes:
        raise ExperimentError("give at least one --grid NAME=v1,v2,...")
    return axes


def grid_points(
    scenario: Scenario, axes: Sequence[tuple[str, Sequence[Any]]], zipped: bool = False
) -> list[dict[str, Any]]:
    """The points of a grid: the Cartesian product of the axes (first axis slowest), or with
    ``zipped`` the i-th values of every axis together; each point checked against the scenario.

    Raises
    ------
    ExperimentError
        Zipped axes of different lengths, or a value the scenario refuses (the message names
        the key and the value).

    Examples
    --------
    >>> from simulator.scenario import load_scenario
    >>> s = load_scenario("calm")
    >>> grid_points(s, [("controls.leverage_cap", [5, 10]), ("controls.insurance_fund_usd", [0, 1e6])])
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'controls.leverage_cap': 5, 'controls.insurance_fund_usd': 0},
     {'controls.leverage_cap': 5, 'controls.insurance_fund_usd': 1000000.0},
     {'controls.leverage_cap': 10, 'controls.insurance_fund_usd': 0},
     {'controls.leverage_cap': 10, 'controls.insurance_fund_usd': 1000000.0}]
    """
    import itertools

    for name, values in axes:
        for value in values:
            _check_value(scenario, name, value, f"--grid {name}={value}")
    names = [name for name, _ in axes]
    if zipped:
        lengths = {len(values) for _, values in axes}
        if len(lengths) > 1:
            raise ExperimentError(
                "--zip pairs the i-th values of every --grid: give each the same number of "
                "values (got " + ", ".join(f"{n}: {len(v)}" for n, v in axes) + ")"
            )
        combos = list(zip(*(values for _, values in axes), strict=True))
    else:
        combos = list(itertools.product(*(values for _, values in axes)))
    points = [dict(zip(names, combo, strict=True)) for combo in combos]
    for point in points:
        what = "--grid point " + ", ".join(f"{k}={v}" for k, v in point.items())
        _check_value(scenario, point, None, what)
    return points


__all__ = [
    "Param",
    "LOG_RATIO",
    "parse_param",
    "check_params",
    "current_value",
    "narrow",
    "parse_grid",
    "grid_points",
]
