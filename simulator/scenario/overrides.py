"""``--set`` overrides: ``key=value`` items parsed (values as YAML), applied to a scenario's
plain data by dotted key and list index, and written into its description."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from simulator.scenario.messages import ScenarioError, _key_text
from simulator.scenario.yaml_text import _UniqueKeyLoader

_KEY_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def override_key_parts(key: str) -> list[str | int]:
    """Split an override key into mapping keys (str) and list indices (int).

    ``price_path.shocks[0].step`` and ``price_path.shocks.0.step`` both give
    ``["price_path", "shocks", 0, "step"]`` (the bracket form is how error messages print keys).

    Raises
    ------
    ScenarioError
        An empty part (``a..b``) or a segment that is neither ``name`` nor ``name[i]...``.

    Examples
    --------
    >>> override_key_parts("oracle_faults[1].steps")
    ['oracle_faults', 1, 'steps']
    """
    parts: list[str | int] = []
    for segment in key.split("."):
        if not segment:
            raise ScenarioError(f"override key {key!r} has an empty part")
        match = _KEY_SEGMENT.fullmatch(segment)
        if match is None:
            raise ScenarioError(
                f"override key {key!r}: cannot read {segment!r} (write name, name[0] or name.0)"
            )
        name, indices = match.groups()
        parts.append(int(name) if name.isdigit() else name)
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", indices)]
    return parts


def resolved_key_parts(data: Mapping[str, Any], key: str) -> list[str | int]:
    """:func:`override_key_parts` with each symbol that names an item of a list of mappings
    (``markets.ETH``) replaced by that item's index in ``data``, where ``data`` has it (as
    :func:`apply_overrides` resolves it); parts past a missing node are left as written."""
    parts = override_key_parts(key)
    node: Any = data
    for i, part in enumerate(parts):
        if isinstance(node, list) and isinstance(part, str):
            symbols = [item.get("symbol") if isinstance(item, dict) else None for item in node]
            if part not in symbols:
                break
            parts[i] = part = symbols.index(part)
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
    return parts


def _parts_text(parts: Iterable[str | int]) -> str:
    """``["price_path", "shocks", 0]`` -> ``price_path.shocks[0]`` (as error messages print keys)."""
    return _key_text(tuple(parts)) or "<top>"


def format_override_value(value: Any) -> str:
    """An override value as it would be typed after ``=`` (YAML): ``pro_rata``, ``30``, ``true``,
    ``null``, ``[{"step":100}]`` (JSON is YAML for lists and mappings).

    Examples
    --------
    >>> format_override_value([{"step": 100, "fall_fraction": 0.2}])
    '[{"step":100,"fall_fraction":0.2}]'
    """
    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value
        except yaml.YAMLError:
            same = False
        return value if same and value.strip() == value and value else json.dumps(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def parse_override_items(overrides: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``--set`` strings (``"key=value"``, value parsed as YAML) or a mapping, as
    ``(key, value)`` pairs in order.

    Raises
    ------
    ScenarioError
        An override has no ``=``, an empty key, or an unparsable value.
    """
    if isinstance(overrides, Mapping):
        return [(str(k), v) for k, v in overrides.items()]
    items = []
    for text in overrides:
        key, sep, raw = str(text).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"override {text!r} must look like key=value")
        try:
            value = yaml.load(raw.strip(), Loader=_UniqueKeyLoader) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ScenarioError(f"override {key}: cannot parse value {raw!r}: {exc}") from None
        items.append((key, value))
    return items


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str] | Mapping[str, Any]
) -> dict[str, Any]:
    """Apply dotted-key overrides to a nested scenario mapping (a deep copy is returned).

    Parameters
    ----------
    data : mapping
        Scenario as plain data (as read from YAML).
    overrides : iterable of str or mapping
        ``"a.b.c=value"`` strings, whose value is parsed as a YAML scalar (``200`` is an int,
        ``true`` a bool, ``null`` None, ``pro_rata`` a string), or a mapping of dotted keys to
        values. Lists are indexed with brackets, as error messages print keys
        (``price_path.shocks[0].step=500``, ``price_path.prices_usd[3]=90000``), or with a
        dotted integer (``price_path.shocks.0.step=500``); a list of mappings with a ``symbol``
        key (``markets``) also by symbol (``markets.ETH.overrides.max_leverage=10``). Missing
        intermediate mappings are created; validation later rejects unknown keys.

    Raises
    ------
    ScenarioError
        An override has no ``=``, an empty key, an unparsable value, an index out of range
        (the message names the key and the list's length), a symbol no item of the list has
        (the message lists them), or walks into a value that is not a mapping or a list.

    Examples
    --------
    >>> data = {"price_path": {"shocks": [{"step": 600}]}}
    >>> apply_overrides(data, ["price_path.shocks[0].step=100"])["price_path"]["shocks"][0]
    {'step': 100}
    >>> data = {"markets": [{"symbol": "BTC"}, {"symbol": "ETH"}]}
    >>> apply_overrides(data, ["markets.ETH.overrides.max_leverage=10"])["markets"][1]
    {'symbol': 'ETH', 'overrides': {'max_leverage': 10}}
    """
    return _apply_items(data, parse_override_items(overrides))


def _symbol_index(key: str, where: str, node: list[Any], symbol: str) -> int:
    """Index of the item of ``node`` (a list of mappings with a ``symbol`` key, such as
    ``markets``) whose symbol is ``symbol``; ScenarioError otherwise."""
    symbols = [item.get("symbol") if isinstance(item, dict) else None for item in node]
    if not node or any(s is None for s in symbols):
        raise ScenarioError(f"override {key}: {where} is a list; index it, e.g. {where}[0]")
    if symbol not in symbols:
        raise ScenarioError(
            f"override {key}: {where} has no item with symbol {symbol} (symbols: "
            f"{', '.join(map(str, symbols))})"
        )
    return symbols.index(symbol)


def _number_key(key: str, where: str, node: dict[Any, Any], number: int) -> int | str:
    """The key of ``node`` a number names in a mapping keyed by numbers (such as
    ``traders.markets_per_account``: ``{1: 0.6, 2: 0.4}``, or its keys as text after a JSON
    round trip); ScenarioError for a mapping keyed by names."""
    if str(number) in node:
        return str(number)
    if number in node or any(isinstance(k, int) for k in node):
        return number
    if node and all(isinstance(k, str) and k.isdigit() for k in node):
        return str(number)
    raise ScenarioError(f"override {key}: {where} is a mapping, not a list")


def _apply_items(data: Mapping[str, Any], items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """:func:`apply_overrides` of parsed ``(key, value)`` pairs, in order."""
    result = json.loads(json.dumps(data, default=str))  # deep copy of plain data
    for key, value in items:
        parts = override_key_parts(key)
        if parts[0] == "market" and "markets" in result:
            rest = _parts_text(parts[1:]) if len(parts) > 1 else "overrides.<name>"
            raise ScenarioError(
                f"override {key}: this scenario lists its markets under markets (market: is the "
                f"one-market shorthand); write markets.<SYMBOL>.{rest} or markets[0].{rest}"
            )
        node: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = _parts_text(parts[:i])
            if isinstance(node, list):
                if not isinstance(part, int):
                    part = _symbol_index(key, where, node, part)
                    parts[i] = part
                if part >= len(node):
                    valid = f" (indices 0 to {len(node) - 1})" if node else ""
                    raise ScenarioError(
                        f"override {key}: {part} is not an index of {where}, which has "
                        f"{len(node)} item{'s' if len(node) != 1 else ''}{valid}"
                    )
            elif isinstance(node, dict):
                if isinstance(part, int):
                    part = _number_key(key, where, node, part)
                    parts[i] = part
                if not last and node.get(part) is None:
                    if isinstance(parts[i + 1], int):
                        raise ScenarioError(
                            f"override {key}: {parts[i + 1]} is not an index of "
                            f"{_parts_text(parts[: i + 1])}, which has 0 items"
                        )
                    node[part] = {}
            else:
                raise ScenarioError(f"override {key}: {where} is a value, not a mapping")
            if last:
                node[part] = value
            else:
                node = node[part]
    return result


#: Start of the sentence :func:`load_scenario` appends to a scenario's ``description`` when
#: overrides were given: the preset's prose describes the preset, not the overridden values.
OVERRIDES_NOTE = "Overrides (--set): "


def describe_overrides(description: str, items: Iterable[tuple[str, Any]]) -> str:
    """``description`` followed by the sentence naming the overrides (``key=value; ...``).

    The prose of a preset describes the preset (for oct-2025: "a 15% exogenous fall within 45
    minutes at step 600"); when an override changes what it describes, the description would
    lie, so every override is appended as typed (values normalized). A description that already
    has the sentence (a scenario saved by ``perpsim show`` and overridden again) gets the new
    items added to it.

    Examples
    --------
    >>> describe_overrides("A fall at step 600.", [("price_path.shocks[0].step", 100)])
    'A fall at step 600. Overrides (--set): price_path.shocks[0].step=100.'
    """
    text = "; ".join(f"{k}={format_override_value(v)}" for k, v in items)
    description = description.strip()
    if OVERRIDES_NOTE in description:  # a file saved with overrides, overridden again
        return f"{description.rstrip('.')}; {text}."
    note = f"{OVERRIDES_NOTE}{text}."
    return f"{description} {note}" if description else note


def overrides_in_description(description: str) -> list[str]:
    """The ``key=value`` items of the overrides sentence of a description (see
    :func:`describe_overrides`), or ``[]``.

    Examples
    --------
    >>> overrides_in_description("A fall. Overrides (--set): traders.count=30; steps=60.")
    ['traders.count=30', 'steps=60']
    """
    _, found, tail = description.partition(OVERRIDES_NOTE)
    if not found:
        return []
    return [item.strip() for item in tail.strip().removesuffix(".").split("; ") if item.strip()]
