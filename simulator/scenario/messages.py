"""Error text of scenarios: :class:`ScenarioError`, pydantic validation errors as one line
naming each key and its problem (:func:`format_validation_error`), a venue parameter's error
named by the scenario key that set it, and the number and time formats the messages use."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ValidationError,
)

from simulator.errors import PerpsimError
from simulator.protocol.venue_params import VenueMarketParams


class ScenarioError(PerpsimError):
    """A scenario file, preset name, override or data file referenced by a scenario is bad."""


def _plain(x: float, digits: int = 2) -> str:
    """A number with thousands separators and at most ``digits`` decimals (``10,000``,
    ``47.5``); tiny numbers in ``g`` form."""
    if x != 0 and abs(x) < 10 ** (-digits):
        return f"{x:.3g}"
    text = f"{x:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _utc(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} s"


_BOUND_WORDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_FIELD_WORD = re.compile(r"[a-z][a-z0-9_]+")


def _market_error(exc: ValidationError, sources: Mapping[str, str], preset: str) -> str:
    """One line for the first error of a :class:`VenueMarketParams` validation, naming the
    scenario key that set the offending field (an override, a control, or the preset:
    ``preset`` names it, e.g. ``hyperliquid-like BTC``)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    fields = VenueMarketParams.model_fields
    if loc and loc[0] in fields:
        field = str(loc[0])
        key = sources.get(field, f"venue.preset {preset}: {field}")
        for name, word in _BOUND_WORDS.items():
            if kind == name:
                bound = next(iter(ctx.values()), None)
                message = f"must be {word} {bound:g}"
        got = error.get("input")
        got_text = f" (got {got!r})" if not isinstance(got, dict | list | tuple) else ""
        return f"{key}: {message}{got_text}"
    # A rule over several fields: name the first field it mentions that the scenario set.
    mentioned = [w for w in _FIELD_WORD.findall(message) if w in fields]
    chosen = next((f for f in mentioned if f in sources), None)
    if chosen is None:
        return f"venue.preset {preset}: {message}"
    return f"{sources[chosen]}: {message}"


# -- readable validation errors --------------------------------------------------------------

_UNION_FIELDS = {("traders",), ("price_path",), ("oracle_faults", int)}


def _strip_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic puts in error locations (``traders.random.count``)."""
    out: list[Any] = []
    for part in loc:
        shape = tuple(int if isinstance(p, int) else p for p in out)
        if isinstance(part, str) and shape in _UNION_FIELDS:
            out.append(None)  # placeholder, removed below, keeps shapes of deeper parts apart
            continue
        out.append(part)
    return tuple(p for p in out if p is not None)


def _key_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(annotation: Any) -> Any:
    """Model class, ``{tag: model}`` for a discriminated union, or None, for an annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in (_unwrap(a) for a in members) if isinstance(m, type)]
        if len(members) == 1:
            return _unwrap(members[0])
        tagged = {}
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and typing.get_origin(kind.annotation) is Literal:
                tagged[typing.get_args(kind.annotation)[0]] = m
        return tagged or None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """Follow a raw error location from :class:`Scenario`: (model or union, field info)."""
    from simulator.scenario.models import Scenario  # models import this module

    node: Any = Scenario
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(node, dict):
            node = node.get(part)
            info = None
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return None, None
        info = node.model_fields.get(part)
        if info is None:
            return None, None
        node = _unwrap(info.annotation)
    return node, info


def _bounds(info: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in getattr(info, "metadata", ()) or ():
        for name in ("gt", "ge", "lt", "le"):
            value = getattr(meta, name, None)
            if value is not None:
                found[name] = value
    return found


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe(error: Mapping[str, Any]) -> str:
    raw_loc = tuple(error.get("loc", ()))
    loc = _strip_union_tags(raw_loc)
    key = _key_text(loc)
    kind = error.get("type", "")
    got = error.get("input")
    got_text = f" (got {got!r})" if not isinstance(got, dict | list) else ""
    if kind == "extra_forbidden":
        parent, _ = _walk(raw_loc[:-1])
        allowed = ""
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            allowed = f" (allowed: {', '.join(parent.model_fields)})"
        return f"{key}: unknown key{allowed}"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        node, _ = _walk(raw_loc)
        kinds = ", ".join(node) if isinstance(node, dict) else "?"
        if kind == "union_tag_not_found":
            return f"{key}.kind is required (one of: {kinds})"
        tag = (error.get("ctx") or {}).get("tag")
        return f"{key}.kind must be one of: {kinds} (got {tag!r})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        _, info = _walk(raw_loc)
        bounds = _bounds(info) if info is not None else dict(error.get("ctx") or {})
        if not bounds:
            bounds = dict(error.get("ctx") or {})
        low = ("ge", bounds["ge"]) if "ge" in bounds else ("gt", bounds.get("gt"))
        high = ("le", bounds["le"]) if "le" in bounds else ("lt", bounds.get("lt"))
        if low[1] is not None and high[1] is not None:
            if low[0] == "ge" and high[0] == "le":
                rule = f"must be between {_number(low[1])} and {_number(high[1])}"
            else:
                lo = ">=" if low[0] == "ge" else ">"
                hi = "<=" if high[0] == "le" else "<"
                rule = f"must be {lo} {_number(low[1])} and {hi} {_number(high[1])}"
        elif low[1] is not None:
            rule = f"must be {'>=' if low[0] == 'ge' else '>'} {_number(low[1])}"
        else:
            rule = f"must be {'<=' if high[0] == 'le' else '<'} {_number(high[1])}"
        return f"{key} {rule}{got_text}"
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
            if not key:
                return message
            return f"{key}: {message}"
    return f"{key or '<top>'}: {message}{got_text}"


def format_validation_error(
    exc: ValidationError,
    limit: int = 3,
    lines: Callable[[tuple[Any, ...]], int | None] | None = None,
) -> str:
    """One line naming each failing key and its problem (at most ``limit``, then a count);
    with ``lines``, each problem is prefixed with the YAML line of its key."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        text = _describe(error)
        line = lines(_strip_union_tags(tuple(error.get("loc", ())))) if lines else None
        parts.append(f"line {line}: {text}" if line else text)
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
