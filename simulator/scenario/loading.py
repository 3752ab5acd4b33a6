"""Loading a scenario: a preset name or a YAML file, ``--set`` overrides, validation into a
:class:`~simulator.scenario.models.Scenario` with every problem as one
:class:`~simulator.scenario.messages.ScenarioError` line (naming the YAML line when it can)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from simulator.scenario.messages import ScenarioError, format_validation_error
from simulator.scenario.models import DEFAULT_SYMBOL, Scenario
from simulator.scenario.overrides import (
    _apply_items,
    describe_overrides,
    override_key_parts,
    parse_override_items,
    resolved_key_parts,
)
from simulator.scenario.yaml_text import _UniqueKeyLoader, _yaml_error_text, _YamlLines

#: Folder holding the preset scenario files (``<name>.yaml``).
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def available_presets() -> list[str]:
    """Names of the preset scenarios shipped in ``simulator/scenarios/``, sorted."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def load_scenario(
    name_or_path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()
) -> Scenario:
    """Load a preset or a YAML file, apply overrides and validate.

    Parameters
    ----------
    name_or_path : str or Path
        A preset name (a file ``simulator/scenarios/<name>.yaml``, see
        :func:`available_presets`) or the path of a YAML file.
    overrides : iterable of str or mapping
        ``--set`` style ``"dotted.key=value"`` overrides (see :func:`apply_overrides`).

    Returns
    -------
    Scenario
        The validated scenario; every CSV it references has been read and checked.

    Raises
    ------
    ScenarioError
        Unknown preset (the message lists the available ones), missing file, malformed YAML
        (names the file and line), unknown key or out-of-range value (names the key), missing
        or malformed CSV (names the file and line).

    Examples
    --------
    >>> load_scenario("oct-2025", ["traders.count=200"]).traders.count
    200
    """
    text = str(name_or_path)
    preset_file = SCENARIOS_DIR / f"{text}.yaml"
    if isinstance(name_or_path, Path) or _looks_like_path(text):
        path = Path(text).expanduser()
        if path.is_dir():
            raise ScenarioError(f"scenario path {path} is a folder, not a YAML file")
        if not path.is_file():
            raise ScenarioError(f"scenario file not found: {path}")
        label = f"scenario {path}"
    elif preset_file.is_file():
        path, label = preset_file, f"scenario {text}"
    elif Path(text).is_file():
        path, label = Path(text), f"scenario {text}"
    elif Path(text).is_dir():
        raise ScenarioError(f"scenario path {text} is a folder, not a YAML file")
    else:
        raise ScenarioError(
            f"unknown scenario preset {text!r}; available: {', '.join(available_presets())} "
            "(or give the path of a YAML file)"
        )
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from None
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario file {path}: {_yaml_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(
            f"scenario file {path}: the top level must be a mapping of keys (got "
            f"{type(data).__name__})"
        )
    items = parse_override_items(overrides)
    if any(str(override_key_parts(k)[0]) in ("markets", "venue") for k, _ in items):
        data = _markets_listed(data, label)
    skip = [tuple(map(str, resolved_key_parts(data, k))) for k, _ in items]
    data = _apply_items(data, items)
    if items:
        data["description"] = describe_overrides(str(data.get("description") or ""), items)
    lines = _YamlLines(raw, skip=skip)
    scenario = parse_scenario(data, base_dir=path.resolve().parent, label=label, lines=lines)
    scenario.check_data_files()
    return scenario


def _markets_listed(data: dict[str, Any], label: str) -> dict[str, Any]:
    """``data`` with its markets written out (``venue`` + ``markets``: the one-market
    shorthand ``market:`` converted, or the default one BTC market), so that ``--set
    markets.<SYMBOL>...`` finds them."""
    try:
        data = Scenario._one_market_shorthand(data)
    except ValueError as exc:
        raise ScenarioError(f"{label}: {exc}") from None
    if "markets" not in data:
        data = {**data, "markets": [{"symbol": DEFAULT_SYMBOL}]}
    return data


def parse_scenario(
    data: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    label: str = "scenario",
    lines: Callable[[tuple[Any, ...]], int | None] | None = None,
) -> Scenario:
    """Validate plain data as a :class:`Scenario`, turning errors into one :class:`ScenarioError`.

    Parameters
    ----------
    data : mapping
        The scenario as plain data.
    base_dir : str or Path, optional
        Folder that relative CSV paths are relative to (default: the working directory).
    label : str
        How the message names the scenario (``"scenario oct-2025"``).
    lines : callable, optional
        Maps an error location (keys and indices) to the line of the YAML file it came from.

    Raises
    ------
    ScenarioError
        One line: ``<label>: [line N: ]<key>: <problem>`` (up to three problems, then a count).
    """
    context = {"base_dir": str(base_dir) if base_dir is not None else None}
    try:
        return Scenario.model_validate(dict(data), context=context)
    except ValidationError as exc:
        raise ScenarioError(f"{label}: {format_validation_error(exc, lines=lines)}") from None
