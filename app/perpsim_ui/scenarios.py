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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.protocol.params import load_preset
from simulator.scenario import (
    CONTROL_SETS,
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
#: Steps of a preset at demo size.
DEMO_STEPS = 40

ADL_POLICIES = ("queue", "pro_rata", "socialized", "none")


# ----------------------------------------------------------------------------------------------
# Base scenarios
# ----------------------------------------------------------------------------------------------


def demo_scenario(scenario: Scenario) -> Scenario:
    """The scenario scaled down for a run of a few seconds.

    At most :data:`DEMO_TRADERS` traders (random populations) and :data:`DEMO_STEPS` steps;
    scheduled shocks, oracle faults and a governance change keep their place in the run (their
    steps are scaled by the same ratio), so the shock still happens, earlier.
    """
    steps = min(scenario.steps, DEMO_STEPS)
    ratio = steps / scenario.steps
    data = scenario.to_dict()
    data["steps"] = steps
    if isinstance(scenario.traders, RandomPopulation):
        data["traders"]["count"] = min(scenario.traders.count, DEMO_TRADERS)

    def at(step: int) -> int:
        return min(steps - 1, int(step * ratio))

    def span(n: int) -> int:
        return max(1, round(n * ratio))

    if data["price_path"]["kind"] == "gbm":
        for shock in data["price_path"]["shocks"]:
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
    return parse_scenario(data, label=f"scenario {scenario.name} (demo size)")


def preset_scenario(name: str, demo: bool = True) -> Scenario:
    """A preset, at demo size unless ``demo`` is false."""
    scenario = load_scenario(name)
    return demo_scenario(scenario) if demo else scenario


def uploaded_scenario(name: str, data: bytes) -> Scenario:
    """Validate an uploaded YAML file.

    Raises
    ------
    ScenarioError
        Not UTF-8, malformed YAML, not a mapping, or a scenario that does not validate (the
        message names the key).
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
    scenario = parse_scenario(mapping, label=label)
    scenario.check_data_files()
    return scenario


def upload_id(name: str, data: bytes) -> str:
    """Identity of an uploaded file's content."""
    return f"upload:{name}:{hashlib.sha256(data).hexdigest()[:16]}"


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
        "Number of traders, one position each (`traders.count`).",
        (r"traders\.count",),
        step=10,
        group="Traders",
    ),  # fmt: skip
    FormField(
        "long_share",
        "Long share",
        "float",
        "Probability that a trader is long, 0 to 1 (`traders.long_share`).",
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
        "Maximum leverage of the market; the "
        "initial margin is 1/max leverage (`market.overrides.max_leverage`).",
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
        "margin as a fraction of notional; must be below the initial margin 1/max leverage "
        "(`market.overrides.maintenance_margin_fraction`).",
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
        "position closed by one partial liquidation, basis points: 2000 = 20% "
        "(`market.overrides.partial_liquidation_share_bps`).",
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
    ),  # fmt: skip
    FormField(
        "adl_policy",
        "ADL policy",
        "choice",
        "Auto-deleveraging policy (`controls.adl_policy`).",
        (_key("adl_policy"),),
        options=ADL_POLICIES,
        group="Buffers",
    ),  # fmt: skip
    FormField(
        "leverage_cap",
        "Leverage cap (x)",
        "optional",
        "Maximum leverage at open, below the market's (`controls.leverage_cap`).",
        (_key("leverage_cap"), r"margin_tiers"),
        step=1.0,
        fmt="%.1f",
        group="Controls",
    ),  # fmt: skip
    FormField(
        "oi_cap",
        "Open-interest cap per side (USD)",
        "optional",
        "Cap on open interest per side, USD notional (`controls.oi_cap_usd`).",
        (_key("oi_cap_usd"),),
        step=1_000_000.0,
        fmt="%.0f",
        group="Controls",
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
    "long_share", "shock_size", "shock_step", "insurance_fund", "backstop_vault", "oi_cap",
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
#: Defaults a switched-on optional control starts from when the base has it off.
OPTIONAL_DEFAULTS = {"leverage_cap": 10.0, "oi_cap": 50_000_000.0, "circuit_breaker": 100}


def applicable(base: Scenario) -> set[str]:
    """Names of the fields that apply to ``base`` (traders need a random population, the shock
    fields a GBM path with a scheduled shock)."""
    names = {f.name for f in FIELDS}
    if not isinstance(base.traders, RandomPopulation):
        names -= {"traders", "long_share"}
    if not (isinstance(base.price_path, GbmPath) and base.price_path.shocks):
        names -= {"shock_step", "shock_size"}
    return names


def field_values(base: Scenario) -> dict[str, Any]:
    """The value of every applicable field in ``base`` (venue parameters as deployed from its
    preset and overrides; an optional control that is off is ``None``)."""
    names = applicable(base)
    market = load_preset(base.market.preset).market.model_dump()
    market.update(base.market.overrides)
    c = base.controls
    values: dict[str, Any] = {
        "steps": base.steps,
        "seed": base.seed,
        "max_leverage": float(market["max_leverage"]),
        "maintenance_margin": float(market["maintenance_margin_fraction"]),
        "partial_share_bps": int(market["partial_liquidation_share_bps"]),
        "insurance_fund": float(c.insurance_fund_usd),
        "backstop_vault": float(c.backstop_vault_usd),
        "adl_policy": c.adl_policy,
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
        values["shock_size"] = float(shock.fall_fraction)
    return values


def overrides(base: Scenario, values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted-key overrides turning ``base`` into the edited scenario: only changed fields."""
    before = field_values(base)
    keys = {
        "steps": "steps",
        "seed": "seed",
        "traders": "traders.count",
        "long_share": "traders.long_share",
        "shock_step": "price_path.shocks.0.step",
        "shock_size": "price_path.shocks.0.fall_fraction",
        "insurance_fund": "controls.insurance_fund_usd",
        "backstop_vault": "controls.backstop_vault_usd",
        "adl_policy": "controls.adl_policy",
        "dynamic_margin": "controls.dynamic_margin",
        "feedback": "controls.feedback",
        **{name: f"market.overrides.{param}" for name, param in MARKET_FIELDS.items()},
        **OPTIONAL_CONTROLS,
    }
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in before and value != before[name]:
            out[keys[name]] = value
    return out


def describe_error(exc: Exception) -> str:
    """One line for a scenario or venue error, naming the field as a scenario key.

    A venue parameter the form sets lives at ``market.overrides.<field>`` in a scenario; the
    venue model's validation error (the context of a :class:`~simulator.world.WorldError`)
    names only ``<field>``, so the message is rebuilt as ``market.overrides.<field>: <reason>``.
    """
    message = str(exc)
    context = exc.__context__
    if isinstance(exc, WorldError) and isinstance(context, ValidationError):
        first = context.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        head = message.split(": market parameters:")[0]
        where = f"market.overrides.{loc}" if loc else "market.overrides"
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
    """Apply the edited values to ``base`` and validate the result, venue parameters included."""
    changes = overrides(base, values)
    try:
        scenario = base.with_overrides(changes)
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
