"""The venue a scenario deploys, and the checks against it: the ``market.preset`` with its
overrides and the controls (:func:`resolve_venue`), the governance change a path may make, and
an explicit book replayed against the contract's opening rules (:func:`check_explicit_book`).
Errors are ``ValueError`` naming the scenario key; :func:`~simulator.scenario.loading.parse_scenario`
turns them into a :class:`~simulator.scenario.messages.ScenarioError`."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import (
    ValidationError,
)

from simulator.protocol.params import (
    AdlPolicy,
    MarketParams,
    ParamsError,
    VenueParams,
    load_preset,
    preset_names,
)
from simulator.scenario.csv_inputs import _positions_rows_cached
from simulator.scenario.messages import _market_error, _plain
from simulator.units import WAD, from_wad, to_units, to_wad, units_to_wad

if TYPE_CHECKING:
    from simulator.scenario.models import Controls, ExplicitBook, GovernanceChange, Scenario


@lru_cache(maxsize=16)
def _preset(name: str) -> VenueParams:
    return load_preset(name)


def _resolve_venue(scenario: Scenario) -> VenueParams:
    """See :meth:`Scenario.venue_params` (raises ValueError naming the key)."""
    market = scenario.market
    if market.preset not in preset_names():
        raise ValueError(
            f"market.preset: unknown venue preset {market.preset!r} (known: "
            f"{', '.join(preset_names())})"
        )
    try:
        params = _preset(market.preset)
    except ParamsError as exc:
        raise ValueError(f"market.preset: {exc}") from None
    fields = MarketParams.model_fields
    for key in market.overrides:
        if key not in fields:
            raise ValueError(
                f"market.overrides.{key}: unknown venue parameter (known: "
                f"{', '.join(sorted(fields))})"
            )
    controls = scenario.controls
    changes: dict[str, Any] = dict(market.overrides)
    sources = {key: f"market.overrides.{key}" for key in market.overrides}
    changes["adl_policy"] = AdlPolicy(controls.adl_policy)
    sources["adl_policy"] = "controls.adl_policy"
    if controls.leverage_cap is not None:
        try:
            current = float(changes.get("max_leverage", params.market.max_leverage))
            mmf = float(
                changes.get(
                    "maintenance_margin_fraction", params.market.maintenance_margin_fraction
                )
            )
        except (TypeError, ValueError):
            current = mmf = math.nan  # a non-numeric override: the model names it below
        if math.isfinite(current) and math.isfinite(mmf):
            max_leverage = min(current, controls.leverage_cap)
            changes["max_leverage"] = max_leverage
            if controls.leverage_cap < current:
                sources["max_leverage"] = "controls.leverage_cap"
            # Maintenance margin stays, unless the cap's initial margin would fall to it: then
            # it becomes half the initial margin (the Hyperliquid rule the presets follow).
            if mmf >= 1 / max_leverage:
                changes["maintenance_margin_fraction"] = mmf = 0.5 / max_leverage
                sources["maintenance_margin_fraction"] = "controls.leverage_cap"
            # The cap applies to every tier: a tier's initial margin is at least 1/cap.
            changes["margin_tiers"] = [
                {
                    **tier.model_dump(),
                    "initial_margin_fraction": max(tier.initial_margin_fraction, 1 / max_leverage),
                    "maintenance_margin_fraction": max(tier.maintenance_margin_fraction, mmf),
                }
                for tier in params.market.margin_tiers
            ]
            sources["margin_tiers"] = "controls.leverage_cap"
    if controls.oi_cap_usd is not None:
        cap_base = controls.oi_cap_usd / scenario.start_price_usd()
        changes["max_long_open_interest"] = changes["max_short_open_interest"] = cap_base
        sources["max_long_open_interest"] = sources["max_short_open_interest"] = (
            "controls.oi_cap_usd"
        )
    if controls.circuit_breaker_max_move_bps is not None:
        changes["circuit_breaker_band_bps"] = controls.circuit_breaker_max_move_bps
        sources["circuit_breaker_band_bps"] = "controls.circuit_breaker_max_move_bps"
    try:
        market_params = MarketParams.model_validate({**params.market.model_dump(), **changes})
    except ValidationError as exc:
        raise ValueError(_market_error(exc, sources, market.preset)) from None
    try:
        return VenueParams.model_validate(
            {
                **params.model_dump(),
                "market": market_params.model_dump(),
                "oracle": {
                    **params.oracle.model_dump(),
                    "initial_price_usd": scenario.start_price_usd(),
                },
                "amm": {**params.amm.model_dump(), "liquidity_usd": scenario.amm.liquidity_usd},
                "buffers": {
                    **params.buffers.model_dump(),
                    "insurance_fund_usd": controls.insurance_fund_usd,
                    "backstop_vault_usd": controls.backstop_vault_usd,
                    "backstop_enabled": controls.backstop_vault_usd > 0,
                },
                "controller": {
                    **params.controller.model_dump(),
                    "enabled": controls.dynamic_margin,
                },
            }
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "venue"
        raise ValueError(
            f"market.preset {market.preset}: {where}: "
            f"{str(error.get('msg')).removeprefix('Value error, ')}"
        ) from None


#: Parameters the guardian may change at once (only tightening them), and ``risk_paused``.
GUARDIAN_PARAMETERS = ("max_leverage", "maintenance_margin_fraction", "risk_paused")


def _check_governance_change(change: GovernanceChange | None, venue: VenueParams) -> None:
    """The change names a parameter its path can change and the result is a valid market
    (tiers left out: the contract sets them separately and floors them at the base)."""
    if change is None:
        return
    key = "controls.governance_change"
    market = venue.market
    fields = MarketParams.model_fields
    if change.path == "guardian":
        if change.parameter not in GUARDIAN_PARAMETERS:
            raise ValueError(
                f"{key}.parameter: the guardian can change {', '.join(GUARDIAN_PARAMETERS)}, "
                f"not {change.parameter!r}"
            )
        if change.parameter == "risk_paused":
            return
        before = float(getattr(market, change.parameter))
        try:
            after = float(change.value)
        except (TypeError, ValueError):
            after = before  # not a number: the market model names it below
        if after > before if change.parameter == "max_leverage" else after < before:
            raise ValueError(
                f"{key}.value: the guardian may only tighten; {change.parameter} "
                f"{_plain(after, 6)} is looser than the venue's {_plain(before, 6)} (use "
                "path: timelock)"
            )
    elif change.parameter not in fields or change.parameter == "margin_tiers":
        raise ValueError(
            f"{key}.parameter: unknown market parameter {change.parameter!r} (known: "
            f"{', '.join(sorted(f for f in fields if f != 'margin_tiers'))})"
        )
    try:
        MarketParams.model_validate(
            {**market.model_dump(), "margin_tiers": (), change.parameter: change.value}
        )
    except ValidationError as exc:
        where = f"{key}.value: {change.parameter}={change.value!r}"
        message = _market_error(exc, {change.parameter: where}, "")
        raise ValueError(message.replace("market.preset : ", f"{where}: ")) from None


def _mul_div_up(a: int, b: int, d: int) -> int:
    return -((-a * b) // d)


def _requirement(notional: int, base_rate: int, tiers: list[tuple[int, int, int]]) -> int:
    """``MarginMath.requirement`` (initial fractions, scale 1), WAD integers."""
    rate, deduction = base_rate, 0
    for floor, imf, _ in tiers:
        if notional < floor:
            break
        nxt = min(max(imf, base_rate), WAD)
        if nxt > rate:
            deduction += floor * (nxt - rate) // WAD
        rate = nxt
    gross = _mul_div_up(notional, rate, WAD)
    return gross - deduction if gross > deduction else 0


def _fill_price(price: int, skew: int, delta: int, skew_scale: int) -> int:
    """``PerpMath.fillPrice``: Synthetix skew impact, buyers rounded up, sellers down."""
    if skew_scale == 0:
        return price
    x = 2 * skew + delta
    impact = _mul_div_up(x, price, 2 * skew_scale) if delta > 0 else x * price // (2 * skew_scale)
    fill = price + impact
    return fill if fill > 0 else 0


def check_explicit_book(book: ExplicitBook, venue: VenueParams, controls: Controls) -> None:
    """Refuse an explicit book the venue would refuse, naming the row and the limit.

    The positions are opened at deployment in book order, at the oracle's initial price,
    each on a fresh account funded with its collateral: this replays what the contract does
    for each open (``PerpMarket._trade``: skew-impacted fill, OI caps, taker fee, initial
    margin with tiers and dYdX OI scaling; WAD integer arithmetic with the contract's
    rounding) and raises at the first open the contract would revert.

    Raises
    ------
    ValueError
        ``traders.positions[i]: ...`` (or ``traders.csv FILE:LINE: ...``) with the position's
        leverage and the venue's maximum, the open interest and the cap, or the amount that
        rounds to nothing; :func:`parse_scenario` turns it into a :class:`ScenarioError`.
    """
    if book.csv is not None:
        rows = [
            (f"traders.csv {book.csv}:{line}", p) for line, p in _positions_rows_cached(book.csv)
        ]
    else:
        rows = [(f"traders.positions[{i}]", p) for i, p in enumerate(book.positions or ())]
    m = venue.market
    price_usd = venue.oracle.initial_price_usd
    price = to_wad(price_usd)
    base_imf = _mul_div_up(WAD, WAD, to_wad(m.max_leverage))
    tier_wads = [
        (to_wad(t.notional_floor_usd), to_wad(t.initial_margin_fraction), 0) for t in m.margin_tiers
    ]
    skew_scale = to_wad(m.skew_scale)
    caps = {True: to_wad(m.max_long_open_interest), False: to_wad(m.max_short_open_interest)}
    lower, upper = to_wad(m.oi_imf_lower_cap_usd), to_wad(m.oi_imf_upper_cap_usd)
    cap_source = (
        f"controls.oi_cap_usd = {_plain(controls.oi_cap_usd)} USD at {_plain(price_usd)} USD"
        if controls.oi_cap_usd is not None
        else "market max_long_open_interest / max_short_open_interest"
    )
    oi = {True: 0, False: 0}
    for where, pos in rows:
        long = pos.side == "long"
        size_wad = to_wad(round(pos.size_base, 12))
        units = to_units(pos.collateral_usd)
        what = (
            f"{pos.side} {_plain(pos.size_base, 8)} (base units) at {_plain(price_usd)} USD on "
            f"{_plain(pos.collateral_usd)} USD of collateral"
        )
        if size_wad == 0:
            raise ValueError(f"{where}: {what}: size_base rounds to 0 at 18 decimals")
        if units == 0:
            raise ValueError(f"{where}: {what}: collateral_usd rounds to 0 at 6 decimals")
        delta = size_wad if long else -size_wad
        fill = _fill_price(price, oi[True] - oi[False], delta, skew_scale)
        if fill == 0:
            raise ValueError(
                f"{where}: {what}: its skew impact would take the fill price to 0 "
                f"(skew_scale {_plain(m.skew_scale)})"
            )
        oi[long] += size_wad
        if oi[long] > caps[long]:
            raise ValueError(
                f"{where}: {what} brings {pos.side} open interest to "
                f"{_plain(from_wad(oi[long]), 6)} (base units), above the venue's cap of "
                f"{_plain(from_wad(caps[long]), 6)} ({cap_source})"
            )
        fee = _mul_div_up(_mul_div_up(size_wad, fill, WAD), m.taker_fee_bps, 10_000)
        margin = units_to_wad(units) - fee
        notional = _mul_div_up(size_wad, price, WAD)
        im = _requirement(notional, base_imf, tier_wads)
        if upper and notional > im:
            open_notional = _mul_div_up(max(oi.values()), price, WAD)
            if open_notional >= upper:
                im = notional
            elif open_notional > lower:
                t = _mul_div_up(open_notional - lower, WAD, upper - lower)
                im = im + _mul_div_up(notional - im, t, WAD)
        move = price - fill
        pnl = (move if long else -move) * size_wad // WAD
        equity = margin + pnl
        if equity >= im and margin >= 0:
            continue
        leverage = pos.size_base * price_usd / pos.collateral_usd
        max_leverage = notional / im if im else math.inf
        text = (
            f"{where}: {what} is {_plain(leverage)}x leverage; the venue's maximum at this "
            f"notional is {_plain(max_leverage)}x (initial margin {_plain(from_wad(im))} USD"
        )
        if leverage * (1 - 1e-9) <= max_leverage:
            text += (
                f"; with the taker fee {_plain(from_wad(fee))} USD and the skew impact "
                f"{_plain(from_wad(-pnl))} USD its equity at open, {_plain(from_wad(equity))} USD, is "
                "below it"
            )
        raise ValueError(text + ")")
