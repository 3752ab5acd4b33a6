"""The venue a scenario deploys, and the checks against it: the ``venue.preset``'s entry of
each market's symbol with its overrides and the controls (:func:`_resolve_venue`), the
governance change a path may make, and an explicit book replayed against the contract's opening
rules (:func:`check_explicit_book`). Errors are ``ValueError`` naming the scenario key;
:func:`~simulator.scenario.loading.parse_scenario` turns them into a
:class:`~simulator.scenario.messages.ScenarioError`."""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import (
    ValidationError,
)

from simulator.protocol.params import (
    MarketParams,
    ParamsError,
    VenueParams,
    load_preset,
    preset_names,
)
from simulator.protocol.venue_params import (
    MAX_POSITIONS_PER_ACCOUNT,
    MultiVenueParams,
    VenueBufferParams,
    VenueGovernanceParams,
    VenueMarket,
    VenueMarketParams,
    preset_symbols,
    venue_market_from_preset,
)
from simulator.scenario.csv_inputs import _positions_rows_cached
from simulator.scenario.messages import _market_error, _plain
from simulator.units import WAD, from_wad, to_units, to_wad, units_to_wad

if TYPE_CHECKING:
    from simulator.scenario.models import (
        Controls,
        ExplicitBook,
        ExplicitPosition,
        GovernanceChange,
        Scenario,
    )


@lru_cache(maxsize=16)
def _preset(name: str) -> VenueParams:
    return load_preset(name)


def _known_preset(name: str) -> VenueParams:
    """The venue preset ``name``; ValueError naming ``venue.preset`` otherwise."""
    if name not in preset_names():
        raise ValueError(
            f"venue.preset: unknown venue preset {name!r} (known: {', '.join(preset_names())})"
        )
    try:
        return _preset(name)
    except ParamsError as exc:
        raise ValueError(f"venue.preset: {exc}") from None


@lru_cache(maxsize=64)
def _preset_market(preset: str, symbol: str) -> VenueMarket:
    """The market of ``symbol`` as the preset's table gives it (no overrides)."""
    return venue_market_from_preset(_preset(preset), symbol)


@lru_cache(maxsize=16)
def _preset_table(preset: str) -> tuple[str, ...]:
    return tuple(preset_symbols(preset))


def _check_symbols(scenario: Scenario) -> None:
    """Every market's symbol is an entry of the venue preset's ``markets:`` table."""
    name = scenario.venue.preset
    _known_preset(name)
    table = _preset_table(name)
    for i, market in enumerate(scenario.markets):
        if market.symbol not in table:
            raise ValueError(
                f"markets[{i}].symbol: unknown market symbol {market.symbol!r}: venue preset "
                f"{name} has no table entry for it (its markets: {', '.join(table)})"
            )


def _preset_start_price(preset: str, symbol: str) -> float:
    """The preset's initial oracle price of ``symbol`` (USD)."""
    return _preset_market(preset, symbol).initial_price_usd


def _timelock_delay(scenario: Scenario) -> dict[str, int]:
    """``venue.timelock_delay_s`` over the preset's governance delay, when given."""
    delay = scenario.venue.timelock_delay_s
    return {} if delay is None else {"timelock_delay_s": delay}


def _resolve_venue(scenario: Scenario) -> MultiVenueParams:
    """See :meth:`Scenario.venue_params` (raises ValueError naming the key)."""
    preset = _known_preset(scenario.venue.preset)
    _check_symbols(scenario)
    starts = scenario.start_prices_usd()
    markets = tuple(
        _resolve_market(scenario, i, float(starts[i])) for i in range(len(scenario.markets))
    )
    controls = scenario.controls
    try:
        return MultiVenueParams(
            name=preset.name,
            description=preset.description,
            buffers=VenueBufferParams.model_validate(
                {
                    **preset.buffers.model_dump(),
                    "insurance_fund_usd": controls.insurance_fund_usd,
                    "backstop_vault_usd": controls.backstop_vault_usd,
                    "backstop_enabled": controls.backstop_vault_usd > 0,
                }
            ),
            governance=VenueGovernanceParams.model_validate(
                {**preset.governance.model_dump(), **_timelock_delay(scenario)}
            ),
            controller={**preset.controller.model_dump(), "enabled": controls.dynamic_margin},
            markets=markets,
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "venue"
        raise ValueError(
            f"venue.preset {preset.name}: {where}: "
            f"{str(error.get('msg')).removeprefix('Value error, ')}"
        ) from None


def _single_market_reason(data: dict[str, Any], sources: dict[str, str], label: str) -> str | None:
    """The single-market model's reason for refusing ``data``, when it refuses it too: its
    rules read as sentences (``maintenance_margin_fraction must be below 1/max_leverage =
    0.05``) where the venue model names the contract's ``InvalidParameter``."""
    venue_only = set(VenueMarketParams.model_fields) - set(MarketParams.model_fields)
    plain = {k: v for k, v in data.items() if k not in venue_only}
    plain["adl_policy"] = "none"
    try:
        MarketParams.model_validate(plain)
    except ValidationError as exc:
        return _market_error(exc, sources, label)
    return None


def _resolve_market(scenario: Scenario, index: int, start_price_usd: float) -> VenueMarket:
    """Market ``index`` of the scenario: the preset's table entry, its overrides, the controls."""
    spec = scenario.markets[index]
    key = f"markets[{index}]"
    name = scenario.venue.preset
    base = _preset_market(name, spec.symbol)
    fields = VenueMarketParams.model_fields
    for field in spec.overrides:
        if field not in fields:
            raise ValueError(
                f"{key}.overrides.{field}: unknown market parameter (known: "
                f"{', '.join(sorted(fields))})"
            )
    controls = scenario.controls
    changes: dict[str, Any] = dict(spec.overrides)
    sources = {field: f"{key}.overrides.{field}" for field in spec.overrides}
    for field in ("adl_policy", "adl_price_mode"):
        if field not in changes:
            changes[field] = getattr(controls, field)
            sources[field] = f"controls.{field}"
    if controls.leverage_cap is not None:
        try:
            current = float(changes.get("max_leverage", base.params.max_leverage))
            mmf = float(
                changes.get("maintenance_margin_fraction", base.params.maintenance_margin_fraction)
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
            tiers = changes.get("margin_tiers", [t.model_dump() for t in base.params.margin_tiers])
            try:
                changes["margin_tiers"] = [
                    {
                        **tier,
                        "initial_margin_fraction": max(
                            float(tier["initial_margin_fraction"]), 1 / max_leverage
                        ),
                        "maintenance_margin_fraction": max(
                            float(tier["maintenance_margin_fraction"]), mmf
                        ),
                    }
                    for tier in tiers
                ]
                sources["margin_tiers"] = "controls.leverage_cap"
            except (TypeError, KeyError, ValueError):
                pass  # malformed tiers in the overrides: the model names them below
    if controls.oi_cap_usd is not None:
        cap_base = controls.oi_cap_usd / start_price_usd
        changes["max_long_open_interest"] = changes["max_short_open_interest"] = cap_base
        sources["max_long_open_interest"] = sources["max_short_open_interest"] = (
            "controls.oi_cap_usd"
        )
    if controls.circuit_breaker_max_move_bps is not None:
        changes["circuit_breaker_band_bps"] = controls.circuit_breaker_max_move_bps
        sources["circuit_breaker_band_bps"] = "controls.circuit_breaker_max_move_bps"
    label = f"{name} {spec.symbol}"
    data = {**base.params.model_dump(), **changes}
    try:
        params = VenueMarketParams.model_validate(data)
    except ValidationError as exc:
        raise ValueError(
            _single_market_reason(data, sources, label) or _market_error(exc, sources, label)
        ) from None
    amm = scenario.market_amm(index)
    try:
        return VenueMarket.model_validate(
            {
                "symbol": spec.symbol,
                "oracle": {**base.oracle.model_dump(), "initial_price_usd": start_price_usd},
                "amm": {**base.amm.model_dump(), "liquidity_usd": amm.liquidity_usd},
                "params": params.model_dump(),
            }
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ValueError(
            f"{key} ({spec.symbol}): {str(error.get('msg')).removeprefix('Value error, ')}"
        ) from None


#: Parameters the guardian may change at once (only tightening them), and ``risk_paused``.
GUARDIAN_PARAMETERS = ("max_leverage", "maintenance_margin_fraction", "risk_paused")


def _check_governance_change(change: GovernanceChange | None, venue: MultiVenueParams) -> None:
    """The change names a parameter its path can change and the result is a valid market, for
    its market (or every market when it names none); tiers left out: the contract sets them
    separately and floors them at the base."""
    if change is None:
        return
    key = "controls.governance_change"
    fields = VenueMarketParams.model_fields
    if change.path == "guardian":
        if change.parameter not in GUARDIAN_PARAMETERS:
            raise ValueError(
                f"{key}.parameter: the guardian can change {', '.join(GUARDIAN_PARAMETERS)}, "
                f"not {change.parameter!r}"
            )
    elif change.parameter not in fields or change.parameter == "margin_tiers":
        raise ValueError(
            f"{key}.parameter: unknown market parameter {change.parameter!r} (known: "
            f"{', '.join(sorted(f for f in fields if f != 'margin_tiers'))})"
        )
    if change.parameter == "risk_paused":
        return
    markets = [m for m in venue.markets if change.market in (None, m.symbol)]
    for venue_market in markets:
        market = venue_market.params
        if change.path == "guardian":
            before = float(getattr(market, change.parameter))
            try:
                after = float(change.value)
            except (TypeError, ValueError):
                after = before  # not a number: the market model names it below
            if after > before if change.parameter == "max_leverage" else after < before:
                raise ValueError(
                    f"{key}.value: the guardian may only tighten; {change.parameter} "
                    f"{_plain(after, 6)} is looser than {venue_market.symbol}'s "
                    f"{_plain(before, 6)} (use path: timelock)"
                )
        try:
            VenueMarketParams.model_validate(
                {**market.model_dump(), "margin_tiers": (), change.parameter: change.value}
            )
        except ValidationError as exc:
            where = f"{key}.value: {change.parameter}={change.value!r}"
            message = _market_error(exc, {change.parameter: where}, "")
            message = message.replace("venue.preset : ", f"{where}: ")
            raise ValueError(f"{message} (market {venue_market.symbol})") from None


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


def _initial_margin(
    notional: int, base_imf: int, tiers: list, lower: int, upper: int, oi: int
) -> int:
    """``VenueMarket.initialMargin`` of a notional (WAD): tiers, then dYdX OI scaling on the
    market's open notional ``oi`` (max of the sides at the price)."""
    im = _requirement(notional, base_imf, tiers)
    if not upper:
        return im
    if oi >= upper:
        return notional if notional > im else im
    if oi > lower:
        t = _mul_div_up(oi - lower, WAD, upper - lower)
        return im + _mul_div_up(notional - im, t, WAD) if notional > im else im
    return im


class _BookMarket:
    """One market's state while an explicit book is replayed (WAD integers)."""

    def __init__(self, market: VenueMarket, controls: Controls):
        m = market.params
        self.symbol = market.symbol
        self.price_usd = market.initial_price_usd
        self.price = to_wad(self.price_usd)
        self.params = m
        self.base_imf = _mul_div_up(WAD, WAD, to_wad(m.max_leverage))
        self.tiers = [
            (to_wad(t.notional_floor_usd), to_wad(t.initial_margin_fraction), 0)
            for t in m.margin_tiers
        ]
        self.skew_scale = to_wad(m.skew_scale)
        self.caps = {
            True: to_wad(m.max_long_open_interest),
            False: to_wad(m.max_short_open_interest),
        }
        self.lower, self.upper = to_wad(m.oi_imf_lower_cap_usd), to_wad(m.oi_imf_upper_cap_usd)
        self.cap_source = (
            f"controls.oi_cap_usd = {_plain(controls.oi_cap_usd)} USD at "
            f"{_plain(self.price_usd)} USD"
            if controls.oi_cap_usd is not None
            else f"{self.symbol} max_long_open_interest / max_short_open_interest"
        )
        self.oi = {True: 0, False: 0}

    def initial_margin(self, size_wad: int) -> int:
        notional = _mul_div_up(size_wad, self.price, WAD)
        open_notional = _mul_div_up(max(self.oi.values()), self.price, WAD)
        return _initial_margin(
            notional, self.base_imf, self.tiers, self.lower, self.upper, open_notional
        )

    def pnl(self, size_wad: int, long: bool, entry: int) -> int:
        """``PerpMath.unrealizedPnl`` at the market's price (floored)."""
        move = self.price - entry
        return (move if long else -move) * size_wad // WAD


def _book_rows(book: ExplicitBook) -> list[tuple[str, ExplicitPosition]]:
    if book.csv is not None:
        return [
            (f"traders.csv {book.csv}:{line}", p) for line, p in _positions_rows_cached(book.csv)
        ]
    return [(f"traders.positions[{i}]", p) for i, p in enumerate(book.positions or ())]


def book_accounts(book: ExplicitBook, symbols: list[str]) -> tuple[list[int], list[int]]:
    """Account number (0.., in order of first appearance) and market index of each position
    of an explicit book, checked: a listed market (named when the scenario lists several), at
    most one position per market and ``MAX_POSITIONS_PER_ACCOUNT`` per account.

    Raises
    ------
    ValueError
        Naming the row (``traders.positions[3].market: ...``).
    """
    accounts: list[int] = []
    markets: list[int] = []
    labels: dict[str, int] = {}
    held: dict[int, dict[int, str]] = defaultdict(dict)
    for where, pos in _book_rows(book):
        if pos.market is None:
            if len(symbols) > 1:
                raise ValueError(
                    f"{where}.market: required when the scenario lists several markets "
                    f"({', '.join(symbols)})"
                )
            market = 0
        elif pos.market not in symbols:
            raise ValueError(
                f"{where}.market: {pos.market} is not a market of this scenario (markets: "
                f"{', '.join(symbols)})"
            )
        else:
            market = symbols.index(pos.market)
        if pos.account is None:
            account = len(labels)
            labels[f"\0{where}"] = account
            label = f"of {where}"
        else:
            label = str(pos.account)
            account = labels.setdefault(label, len(labels))
        if market in held[account]:
            raise ValueError(
                f"{where}: account {label} already holds a position in {symbols[market]} "
                f"({held[account][market]}); one position per market and account"
            )
        held[account][market] = where
        if len(held[account]) > MAX_POSITIONS_PER_ACCOUNT:
            raise ValueError(
                f"{where}: account {label} holds {len(held[account])} positions, over the "
                f"venue's bound of {MAX_POSITIONS_PER_ACCOUNT} per account "
                "(MAX_POSITIONS_PER_ACCOUNT)"
            )
        accounts.append(account)
        markets.append(market)
    return accounts, markets


def check_explicit_book(book: ExplicitBook, venue: MultiVenueParams, controls: Controls) -> None:
    """Refuse an explicit book the venue would refuse, naming the row and the limit.

    The book is opened at deployment at each market's initial oracle price: every account
    deposits the collateral of all its positions (each position's ``collateral_usd`` in whole
    6-decimal units), then the positions open in book order, a cross one with ``trade``, an
    isolated one with ``tradeIsolated`` moving its collateral into its own margin. This
    replays what ``PerpVenue._trade`` checks for each open, in WAD integers with the
    contract's rounding: the skew-impacted fill, each side's OI cap, the taker fee (from the
    cross balance or the isolated margin), and ``_checkAfterTrade``: an isolated position's
    margin + PnL must cover its initial margin (tiers, dYdX OI scaling); the account's cross
    equity (balance + Σ PnL of its cross positions) must cover the initial margin of ALL its
    cross positions (after a cross open, or after margin moved into an isolated position).
    Funding accrued between the blocks of the opening is ignored (none is due at open).

    Raises
    ------
    ValueError
        ``traders.positions[i]: ...`` (or ``traders.csv FILE:LINE: ...``) with the position's
        leverage and the venue's maximum, the account's cross equity and requirement, the open
        interest and the cap, a market not listed, an account over the position bound, or the
        amount that rounds to nothing; :func:`parse_scenario` turns it into a
        :class:`ScenarioError`.
    """
    rows = _book_rows(book)
    symbols = venue.symbols
    accounts, market_of = book_accounts(book, symbols)
    state = [_BookMarket(m, controls) for m in venue.markets]
    deposit: dict[int, int] = defaultdict(int)
    for (_, pos), account in zip(rows, accounts, strict=True):
        deposit[account] += units_to_wad(to_units(pos.collateral_usd))
    balance: dict[int, int] = {}
    cross: dict[int, list[tuple[int, bool, int, int, str]]] = defaultdict(list)
    for (where, pos), account, index in zip(rows, accounts, market_of, strict=True):
        mk = state[index]
        long = pos.side == "long"
        size_wad = to_wad(round(pos.size_base, 12))
        units = to_units(pos.collateral_usd)
        what = (
            f"{pos.side} {_plain(pos.size_base, 8)} {mk.symbol} (base units) at "
            f"{_plain(mk.price_usd)} USD on {_plain(pos.collateral_usd)} USD of collateral"
        )
        if size_wad == 0:
            raise ValueError(f"{where}: {what}: size_base rounds to 0 at 18 decimals")
        if units == 0:
            raise ValueError(f"{where}: {what}: collateral_usd rounds to 0 at 6 decimals")
        balance.setdefault(account, deposit[account])
        margin = units_to_wad(units)
        if pos.isolated:
            balance[account] -= margin  # _moveIsolatedMargin before the fill
        delta = size_wad if long else -size_wad
        fill = _fill_price(mk.price, mk.oi[True] - mk.oi[False], delta, mk.skew_scale)
        if fill == 0:
            raise ValueError(
                f"{where}: {what}: its skew impact would take the fill price to 0 "
                f"(skew_scale {_plain(mk.params.skew_scale)})"
            )
        mk.oi[long] += size_wad
        if mk.oi[long] > mk.caps[long]:
            raise ValueError(
                f"{where}: {what} brings {mk.symbol} {pos.side} open interest to "
                f"{_plain(from_wad(mk.oi[long]), 6)} (base units), above the venue's cap of "
                f"{_plain(from_wad(mk.caps[long]), 6)} ({mk.cap_source})"
            )
        fee = _mul_div_up(_mul_div_up(size_wad, fill, WAD), mk.params.taker_fee_bps, 10_000)
        pnl = mk.pnl(size_wad, long, fill)
        if pos.isolated:
            im = mk.initial_margin(size_wad)
            equity = margin - fee + pnl
            if equity < im:
                raise ValueError(_leverage_text(where, what, pos, mk, im, fee, pnl, equity))
        else:
            balance[account] -= fee
            cross[account].append((index, long, size_wad, fill, where))
        positions = cross[account]
        if not positions:
            continue
        equity = balance[account] + sum(
            state[i].pnl(size, lg, entry) for i, lg, size, entry, _ in positions
        )
        required = sum(state[i].initial_margin(size) for i, _, size, _, _ in positions)
        if equity >= required:
            continue
        if len(positions) == 1 and not pos.isolated and deposit[account] == margin:
            raise ValueError(_leverage_text(where, what, pos, mk, required, fee, pnl, equity))
        held = ", ".join(
            f"{state[i].symbol} {'long' if lg else 'short'} {_plain(from_wad(size), 8)}"
            for i, lg, size, _, _ in positions
        )
        raise ValueError(
            f"{where}: {what}: the account's cross positions ({held}) need "
            f"{_plain(from_wad(required))} USD of initial margin, but its cross equity is "
            f"{_plain(from_wad(equity))} USD (deposit {_plain(from_wad(deposit[account]))} USD, "
            "less isolated margins, fees and skew impact)"
        )


def _leverage_text(where, what, pos, mk: _BookMarket, im, fee, pnl, equity) -> str:
    notional = _mul_div_up(to_wad(round(pos.size_base, 12)), mk.price, WAD)
    leverage = pos.size_base * mk.price_usd / pos.collateral_usd
    max_leverage = notional / im if im else math.inf
    text = (
        f"{where}: {what} is {_plain(leverage)}x leverage; {mk.symbol}'s maximum at this "
        f"notional is {_plain(max_leverage)}x (initial margin {_plain(from_wad(im))} USD"
    )
    if leverage * (1 - 1e-9) <= max_leverage:
        text += (
            f"; with the taker fee {_plain(from_wad(fee))} USD and the skew impact "
            f"{_plain(from_wad(-pnl))} USD its equity at open, {_plain(from_wad(equity))} USD, is "
            "below it"
        )
    return text + ")"
