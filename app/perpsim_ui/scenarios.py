"""Scenarios in the app: demo-size presets, the editable fields, and validation whose one-line
messages name the field.

The Scenario page edits a few main parameters of a base scenario (a preset or an uploaded
YAML file). A field's value is written into the scenario as an override only when it differs
from the base, so an untouched form is exactly the base scenario (same fingerprint). Market
parameters (max leverage, maintenance margin, partial-liquidation share) are venue parameters:
they go to ``market.overrides`` and are checked with the venue model
(:func:`simulator.world.venue_params_for`), which catches combinations such as a maintenance
margin above the initial margin.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.protocol.params import load_preset
from simulator.protocol.venue_params import VenueAdlPolicy, venue_market_from_preset
from simulator.scenario import (
    CONTROL_SETS,
    FactorPath,
    GbmPath,
    RandomPopulation,
    Scenario,
    ScenarioError,
    control_set,
    load_scenario,
    parse_scenario,
)
from simulator.world import WorldError, venue_params_for

#: Traders of a preset at demo size.
DEMO_TRADERS = 50
#: Steps of a preset at demo size: oct-2025's 1,440 become 240, so one demo step stands for six
#: of the preset's and its 45-step fall still takes 8 steps (its 360-step recovery 60).
DEMO_STEPS = 240

ADL_POLICIES = tuple(p.value for p in VenueAdlPolicy)

#: Where the price path and an explicit book name their CSV file: (section, key, kind).
CSV_KEYS = (("price_path", "path", "csv"), ("traders", "csv", "explicit"))


# ----------------------------------------------------------------------------------------------
# Base scenarios
# ----------------------------------------------------------------------------------------------


def resized(scenario: Scenario, steps: int) -> Scenario:
    """``scenario`` run for ``steps`` steps; a shorter run is a time-scaled miniature.

    With ``steps`` equal to the scenario's own, the scenario itself (same fingerprint). Fewer
    steps scale its schedule by ``ratio = steps / scenario.steps``: every scheduled shock starts
    at ``round(step * ratio)`` and falls and recovers over ``round(n * ratio)`` steps (at least
    one), oracle faults and a governance change move the same way, so the shape of the preset
    (a quiet stretch, a fall, a slower partial recovery) is kept in a shorter run. A step is
    still one block of ``step_seconds``: the fall is steeper per block. More steps than the
    scenario's keep its schedule where it is (the run is longer after it).

    Raises
    ------
    ScenarioError
        The result does not validate (e.g. ``steps`` below 1).

    Examples
    --------
    >>> from simulator.scenario import load_scenario
    >>> shock = resized(load_scenario("oct-2025"), 240).price_path.shocks[0]
    >>> (shock.step, shock.over_steps, shock.recovery_steps)
    (100, 8, 60)
    """
    if steps == scenario.steps:
        return scenario
    label = f"scenario {scenario.name} ({steps} steps)"
    if steps < 1 or steps > scenario.steps:
        return scenario.with_overrides({"steps": steps})
    ratio = steps / scenario.steps
    data = scenario.to_dict()
    data["steps"] = steps

    def at(step: int) -> int:
        return min(steps - 1, round(step * ratio))

    def span(n: int) -> int:
        return max(1, round(n * ratio))

    shocks = list(data["price_path"].get("shocks") or [])  # gbm and factor paths
    for market in data["markets"]:
        shocks += (market.get("path") or {}).get("shocks") or []
    for shock in shocks:
        shock["step"] = at(shock["step"])
        shock["over_steps"] = span(shock["over_steps"])
        if shock["recovery_fraction"] > 0:
            shock["recovery_steps"] = span(shock["recovery_steps"])
    for fault in data["oracle_faults"]:
        if fault["kind"] == "bad_print":
            fault["step"] = at(fault["step"])
            continue
        fault["start_step"] = at(fault["start_step"])
        if fault.get("end_step") is not None:
            fault["end_step"] = max(fault["start_step"] + 1, round(fault["end_step"] * ratio))
        if fault["kind"] == "lag":
            fault["steps"] = span(fault["steps"])
    change = data["controls"].get("governance_change")
    if change is not None:
        change["step"] = at(change["step"])
    return parse_scenario(data, label=label)


def demo_scenario(scenario: Scenario) -> Scenario:
    """The scenario scaled down for a run of a few seconds: at most :data:`DEMO_TRADERS`
    traders (random populations) and a miniature of :data:`DEMO_STEPS` steps
    (:func:`resized`)."""
    if isinstance(scenario.traders, RandomPopulation) and scenario.traders.count > DEMO_TRADERS:
        scenario = scenario.with_overrides({"traders.count": DEMO_TRADERS})
    return resized(scenario, min(scenario.steps, DEMO_STEPS))


def has_path_shock(scenario: Scenario) -> bool:
    """Whether ``price_path`` has a scheduled shock (a GBM path's, or a factor model's common
    shock): the form's shock fields edit ``price_path.shocks[0]``."""
    path = scenario.price_path
    return isinstance(path, GbmPath | FactorPath) and bool(path.shocks)


def scheduled_shock_step(base: Scenario, steps: int) -> int | None:
    """Where :func:`resized` puts ``base``'s first shock in a run of ``steps`` steps (``None``
    when it has none or ``steps`` is not a valid length)."""
    if not has_path_shock(base):
        return None
    try:
        sized = resized(base, int(steps))
    except (ScenarioError, TypeError, ValueError):
        return None
    return sized.price_path.shocks[0].step


def preset_scenario(name: str, demo: bool = True) -> Scenario:
    """A preset, at demo size unless ``demo`` is false."""
    scenario = load_scenario(name)
    return demo_scenario(scenario) if demo else scenario


def _split_upload(files: Sequence[tuple[str, bytes]]) -> tuple[tuple[str, bytes], dict[str, bytes]]:
    yamls = [f for f in files if f[0].lower().endswith((".yaml", ".yml"))]
    if len(yamls) != 1:
        found = ", ".join(name for name, _ in yamls) or "none"
        raise ScenarioError(f"upload exactly one scenario YAML file (got {found})")
    return yamls[0], {name: data for name, data in files if name.lower().endswith(".csv")}


def uploaded_scenario(
    name: str,
    data: bytes,
    csv_files: Mapping[str, bytes] | None = None,
    store: Path | None = None,
) -> Scenario:
    """Validate an uploaded YAML file and the CSV files uploaded with it.

    A CSV the scenario names (``price_path.path`` of ``kind: csv``, an explicit book's
    ``traders.csv``) is matched by its file name among ``csv_files``, whatever folder the YAML
    names it in; the file is kept under ``store/<sha256[:16]>/<name>`` (content-addressed, so a
    run subprocess can read it later) and the scenario points there.

    Raises
    ------
    ScenarioError
        Not UTF-8, malformed YAML, not a mapping, a named CSV that was not uploaded, or a
        scenario (or CSV) that does not validate (the message names the key or line).
    """
    label = f"uploaded file {name}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{label}: not a UTF-8 text file") from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ScenarioError(f"{label}: malformed YAML{where}: {problem}") from None
    if not isinstance(mapping, dict):
        raise ScenarioError(
            f"{label}: a scenario is a mapping of keys (name, steps, traders, price_path, ...); "
            f"got {type(mapping).__name__}"
        )
    csv_files = dict(csv_files or {})
    for section, key, kind in CSV_KEYS:
        part = mapping.get(section)
        if not isinstance(part, dict) or part.get("kind") != kind or part.get(key) is None:
            continue
        named = str(part[key])
        file_name = Path(named).name
        if file_name not in csv_files:
            uploaded = ", ".join(sorted(csv_files)) or "none"
            raise ScenarioError(
                f"{label}: {section}.{key} names {named}: upload {file_name} together with the "
                f"YAML file (CSV files uploaded: {uploaded})"
            )
        content = csv_files[file_name]
        if store is None:
            raise ScenarioError(f"{label}: {section}.{key}: no folder to keep uploaded files in")
        kept = store / hashlib.sha256(content).hexdigest()[:16] / file_name
        if not kept.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(content)
        part[key] = str(kept)
    scenario = parse_scenario(mapping, label=label)
    scenario.check_data_files()
    return scenario


def uploaded_files_scenario(files: Sequence[tuple[str, bytes]], store: Path) -> Scenario:
    """:func:`uploaded_scenario` of an upload of several files: one YAML and its CSV files.

    Raises
    ------
    ScenarioError
        Not exactly one YAML file, or :func:`uploaded_scenario`'s reasons.
    """
    (name, data), csv_files = _split_upload(files)
    return uploaded_scenario(name, data, csv_files, store)


def upload_id(files: Sequence[tuple[str, bytes]]) -> str:
    """Identity of an upload: the names and content of its files."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    names = ",".join(sorted(name for name, _ in files))
    return f"upload:{names}:{digest.hexdigest()[:16]}"


# ----------------------------------------------------------------------------------------------
# Editable fields
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One editable parameter of the Scenario page."""

    name: str
    """Widget key suffix (``scenario.<name>``)."""
    label: str
    """Widget label."""
    kind: str
    """``int``, ``float``, ``bool``, ``choice`` or ``optional`` (a float that can be off)."""
    help: str
    """Tooltip: what the field is, its unit, and the scenario key it sets."""
    patterns: tuple[str, ...] = ()
    """Regular expressions matching validation messages about this field."""
    step: float | int | None = None
    """Increment of a number input."""
    fmt: str | None = None
    """printf format of a number input."""
    options: tuple[str, ...] = ()
    """Choices of a ``choice`` field."""
    group: str = ""
    """Section of the form."""
    separators: bool = False
    """A text input showing thousands separators (``1,000,000``), read by
    :func:`parse_number`, instead of a number input (whose printf formats have none)."""


_GROUPED = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_SCIENTIFIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+")


def parse_number(text: Any, *, integer: bool = False) -> float | int:
    """A number typed with or without thousands separators.

    Accepts ``1,000,000``, ``1000000``, ``1_000_000``, ``1 000 000``, ``2.5`` and ``1e6``;
    commas must group digits by three.

    Raises
    ------
    ValueError
        Anything else, or a fraction where ``integer`` asks for a whole number (the message
        shows what was typed).

    Examples
    --------
    >>> parse_number("1,000,000", integer=True)
    1000000
    >>> parse_number("2.5e6")
    2500000.0
    """
    raw = str(text).strip()
    compact = raw.replace("_", "").replace(" ", "")
    if not (_GROUPED.fullmatch(compact) or _SCIENTIFIC.fullmatch(compact)):
        raise ValueError(f"not a number: {raw!r} (write it as 1,000,000 or 1000000)")
    value = float(compact.replace(",", ""))
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {raw!r}")
    if integer:
        if not value.is_integer():
            raise ValueError(f"must be a whole number (got {raw!r})")
        return int(value)
    return value


def format_number(value: float | int) -> str:
    """A number with thousands separators, as the separator fields show it (``1,000,000``;
    ``1,234.5``)."""
    if float(value).is_integer():
        return f"{int(value):,d}"
    return f"{value:,}"


def _key(text: str) -> str:
    """A pattern matching a key name as a whole word of a message (not inside another name)."""
    return rf"(?<![A-Za-z_]){re.escape(text)}(?![A-Za-z_])"


#: The form, in display order. Patterns are tried in :data:`MESSAGE_ORDER` order.
FIELDS: tuple[FormField, ...] = (
    FormField(
        "steps",
        "Steps (blocks)",
        "int",
        "Number of steps; one step is one block (`steps`).",
        (_key("steps"),),
        step=1,
        group="Run",
        separators=True,
    ),  # fmt: skip
    FormField(
        "seed",
        "Seed",
        "int",
        "Seed of every random draw (`seed`).",
        (_key("seed"),),
        step=1,
        group="Run",
    ),  # fmt: skip
    FormField(
        "traders",
        "Traders",
        "int",
        "Number of trader accounts, each holding one or more positions (`traders.count`).",
        (r"traders\.count",),
        step=10,
        group="Traders",
        separators=True,
    ),  # fmt: skip
    FormField(
        "long_share",
        "Long share",
        "float",
        "Probability that a position is long, 0 to 1 (`traders.long_share`).",
        (_key("long_share"),),
        step=0.05,
        fmt="%.2f",
        group="Traders",
    ),  # fmt: skip
    FormField(
        "shock_step",
        "Shock step",
        "int",
        "Step at which the first scheduled fall starts (`price_path.shocks[0].step`).",
        (r"shocks\[0\]\.step\b", r"shocks\[0\]: "),
        step=1,
        group="Shock",
    ),  # fmt: skip
    FormField(
        "shock_size",
        "Shock size (fall fraction)",
        "float",
        "Depth of the first scheduled "
        "fall as a fraction of the price: 0.2 = -20%, negative for a rise "
        "(`price_path.shocks[0].fall_fraction`).",
        (r"fall_fraction",),
        step=0.01,
        fmt="%.3f",
        group="Shock",
    ),  # fmt: skip
    FormField(
        "max_leverage",
        "Max leverage (x)",
        "float",
        "Maximum leverage of the first market; the "
        "initial margin is 1/max leverage (`markets[0].overrides.max_leverage`).",
        (_key("max_leverage"),),
        step=1.0,
        fmt="%.1f",
        group="Market",
    ),  # fmt: skip
    FormField(
        "maintenance_margin",
        "Maintenance margin (fraction)",
        "float",
        "Maintenance "
        "margin of the first market as a fraction of notional; must be below the initial "
        "margin 1/max leverage (`markets[0].overrides.maintenance_margin_fraction`).",
        (_key("maintenance_margin_fraction"),),
        step=0.001,
        fmt="%.4f",
        group="Market",
    ),  # fmt: skip
    FormField(
        "partial_share_bps",
        "Partial-liquidation share (bps)",
        "int",
        "Share of a large "
        "position of the first market closed by one partial liquidation, basis points: 2000 "
        "= 20% (`markets[0].overrides.partial_liquidation_share_bps`).",
        (_key("partial_liquidation_share_bps"),),
        step=100,
        group="Market",
    ),  # fmt: skip
    FormField(
        "insurance_fund",
        "Insurance fund (USD)",
        "float",
        "Insurance fund at the start (`controls.insurance_fund_usd`).",
        (_key("insurance_fund_usd"),),
        step=100_000.0,
        fmt="%.0f",
        group="Buffers",
        separators=True,
    ),  # fmt: skip
    FormField(
        "backstop_vault",
        "Backstop vault (USD, 0 = off)",
        "float",
        "LP capital in the backstop vault at the start (`controls.backstop_vault_usd`).",
        (_key("backstop_vault_usd"),),
        step=1_000_000.0,
        fmt="%.0f",
        group="Buffers",
        separators=True,
    ),  # fmt: skip
    FormField(
        "backstop_unwind",
        "Backstop unwind per step (share)",
        "float",
        "Share of what the backstop vault took over that its manager closes each step, in "
        "(0, 1] (`controls.backstop_unwind_share_per_step`; 1 = all at once).",
        (_key("backstop_unwind_share_per_step"),),
        step=0.05,
        fmt="%.2f",
        group="Buffers",
    ),  # fmt: skip
    FormField(
        "adl_policy",
        "ADL policy",
        "choice",
        "Auto-deleveraging policy of every market (`controls.adl_policy`).",
        (_key("adl_policy"),),
        options=ADL_POLICIES,
        group="Buffers",
    ),  # fmt: skip
    FormField(
        "leverage_cap",
        "Leverage cap (x)",
        "optional",
        "Maximum leverage at open in every market, below each market's (`controls.leverage_cap`).",
        (_key("leverage_cap"), r"margin_tiers"),
        step=1.0,
        fmt="%.1f",
        group="Controls",
    ),  # fmt: skip
    FormField(
        "oi_cap",
        "Open-interest cap per side (USD)",
        "optional",
        "Cap on open interest per side of every market, USD notional (`controls.oi_cap_usd`).",
        (_key("oi_cap_usd"),),
        step=1_000_000.0,
        fmt="%.0f",
        group="Controls",
        separators=True,
    ),  # fmt: skip
    FormField(
        "circuit_breaker",
        "Circuit breaker (bps per block)",
        "optional",
        "Largest oracle "
        "move accepted per block, basis points (`controls.circuit_breaker_max_move_bps`).",
        (_key("circuit_breaker_max_move_bps"),),
        step=10,
        fmt="%d",
        group="Controls",
    ),  # fmt: skip
    FormField(
        "dynamic_margin",
        "Dynamic margin",
        "bool",
        "Margins follow realized volatility and OI skew (`controls.dynamic_margin`).",
        (_key("dynamic_margin"),),
        group="Controls",
    ),  # fmt: skip
    FormField(
        "feedback",
        "Feedback (forced selling moves the oracle)",
        "bool",
        "Off feeds the oracle the exogenous price (`controls.feedback`).",
        (_key("feedback"),),
        group="Controls",
    ),  # fmt: skip
)
FIELD_BY_NAME: dict[str, FormField] = {f.name: f for f in FIELDS}
#: Which field a message goes to when it names several: the most specific first.
MESSAGE_ORDER: tuple[str, ...] = (
    "maintenance_margin", "partial_share_bps", "leverage_cap", "max_leverage", "traders",
    "long_share", "shock_size", "shock_step", "insurance_fund", "backstop_vault", "backstop_unwind", "oi_cap",
    "circuit_breaker", "adl_policy", "dynamic_margin", "feedback", "seed", "steps",
)  # fmt: skip
#: Market parameters behind fields: field name -> venue parameter.
MARKET_FIELDS = {
    "max_leverage": "max_leverage",
    "maintenance_margin": "maintenance_margin_fraction",
    "partial_share_bps": "partial_liquidation_share_bps",
}
#: Optional controls: field name -> scenario key; the value is ``None`` when off.
OPTIONAL_CONTROLS = {
    "leverage_cap": "controls.leverage_cap",
    "oi_cap": "controls.oi_cap_usd",
    "circuit_breaker": "controls.circuit_breaker_max_move_bps",
}
#: The scenario key (dotted) each field sets.
SCENARIO_KEYS: dict[str, str] = {
    "steps": "steps",
    "seed": "seed",
    "traders": "traders.count",
    "long_share": "traders.long_share",
    "shock_step": "price_path.shocks.0.step",
    "shock_size": "price_path.shocks.0.fall_fraction",
    "insurance_fund": "controls.insurance_fund_usd",
    "backstop_vault": "controls.backstop_vault_usd",
    "backstop_unwind": "controls.backstop_unwind_share_per_step",
    "adl_policy": "controls.adl_policy",
    "dynamic_margin": "controls.dynamic_margin",
    "feedback": "controls.feedback",
    **{name: f"markets.0.overrides.{param}" for name, param in MARKET_FIELDS.items()},
    **OPTIONAL_CONTROLS,
}
#: Defaults a switched-on optional control starts from when the base has it off.
OPTIONAL_DEFAULTS = {"leverage_cap": 10.0, "oi_cap": 50_000_000.0, "circuit_breaker": 100}


def applicable(base: Scenario) -> set[str]:
    """Names of the fields that apply to ``base`` (traders need a random population, the shock
    fields a scheduled shock of the path: a GBM path's, or a factor model's common shock; the
    shock size one depth for every market)."""
    names = {f.name for f in FIELDS}
    if not isinstance(base.traders, RandomPopulation):
        names -= {"traders", "long_share"}
    if not has_path_shock(base):
        names -= {"shock_step", "shock_size"}
    elif not isinstance(base.price_path.shocks[0].fall_fraction, float | int):
        names -= {"shock_size"}  # a depth per market
    return names


def field_values(base: Scenario) -> dict[str, Any]:
    """The value of every applicable field in ``base`` (the first market's parameters as
    deployed from its preset table entry and overrides; an optional control that is off is
    ``None``)."""
    names = applicable(base)
    first = base.markets[0]
    market = venue_market_from_preset(load_preset(base.venue.preset), first.symbol).params
    market = market.model_dump()
    market.update(first.overrides)
    c = base.controls
    values: dict[str, Any] = {
        "steps": base.steps,
        "seed": base.seed,
        "max_leverage": float(market["max_leverage"]),
        "maintenance_margin": float(market["maintenance_margin_fraction"]),
        "partial_share_bps": int(market["partial_liquidation_share_bps"]),
        "insurance_fund": float(c.insurance_fund_usd),
        "backstop_vault": float(c.backstop_vault_usd),
        "backstop_unwind": float(c.backstop_unwind_share_per_step),
        "adl_policy": str(c.adl_policy),
        "leverage_cap": c.leverage_cap,
        "oi_cap": c.oi_cap_usd,
        "circuit_breaker": c.circuit_breaker_max_move_bps,
        "dynamic_margin": c.dynamic_margin,
        "feedback": c.feedback,
    }
    if "traders" in names:
        values["traders"] = base.traders.count
        values["long_share"] = float(base.traders.long_share)
    if "shock_step" in names:
        shock = base.price_path.shocks[0]
        values["shock_step"] = shock.step
    if "shock_size" in names:
        values["shock_size"] = float(base.price_path.shocks[0].fall_fraction)
    return values


def overrides(base: Scenario, values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted-key overrides turning ``base`` into the edited scenario: only changed fields."""
    before = field_values(base)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in before and value != before[name]:
            out[SCENARIO_KEYS[name]] = value
    return out


def describe_error(exc: Exception) -> str:
    """One line for a scenario or venue error, naming the field as a scenario key.

    A venue parameter the form sets lives at ``markets[0].overrides.<field>`` in a scenario;
    the venue model's validation error (the context of a :class:`~simulator.world.WorldError`)
    names only ``<field>``, so the message is rebuilt as ``markets[0].overrides.<field>:
    <reason>``.
    """
    message = str(exc)
    context = exc.__context__
    if isinstance(exc, WorldError) and isinstance(context, ValidationError):
        first = context.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        head = message.split(": market parameters:")[0]
        where = f"markets[0].overrides.{loc}" if loc else "markets[0].overrides"
        return f"{head}: {where}: {reason}"
    return message


def field_of_message(message: str, names: Sequence[str] | None = None) -> str | None:
    """The form field a validation message is about (``None`` when it names none)."""
    allowed = set(names) if names is not None else None
    for name in MESSAGE_ORDER:
        if allowed is not None and name not in allowed:
            continue
        if any(re.search(p, message) for p in FIELD_BY_NAME[name].patterns):
            return name
    return None


@dataclass
class Checked:
    """A validated scenario, or the one-line message that says why it is not valid."""

    scenario: Scenario | None
    error: str | None = None
    field_name: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def check(base: Scenario, values: Mapping[str, Any]) -> Checked:
    """Apply the edited values to ``base`` and validate the result, venue parameters included.

    ``base`` is run for the form's Steps first (:func:`resized`: fewer steps scale its shocks
    into a miniature), then every other field that differs from that is an override; the form
    at the base's own values is the base itself (same fingerprint).
    """
    changes: dict[str, Any] = {}
    try:
        sized = resized(base, int(values.get("steps", base.steps)))
        changes = overrides(sized, values)
        scenario = sized.with_overrides(changes) if changes else sized
        venue_params_for(scenario)
    except (ScenarioError, WorldError) as exc:
        message = describe_error(exc)
        return Checked(None, message, field_of_message(message, list(values)), changes)
    return Checked(scenario, None, None, changes)


def check_control_sets(scenario: Scenario, names: Sequence[str]) -> str | None:
    """Why one of the named control sets cannot run on ``scenario`` (``None`` when all can)."""
    if not names:
        return "controls: choose at least one control set"
    for name in names:
        if name not in CONTROL_SETS:
            return f"controls: unknown control set {name!r}"
        try:
            venue_params_for(control_set(scenario, name))
        except (ScenarioError, WorldError) as exc:
            return f"control set {name}: {describe_error(exc)}"
    return None
