"""The obviously-correct reference of every mirror kernel: plain Python integers over one
account, written line by line after the Solidity (``FixedPointMath``, ``MarginMath``,
``PerpMath``, ``VenueMarket``, ``PerpVenue`` views, ``VenueLiquidationModule.liquidate``).
No numpy, no vectorization: each function is the contract function of the same name, its
branches and roundings in the same order. ``tests/mirror`` holds the vectorized kernels to it
(and both to the chain). Units: WAD integers throughout (prices, sizes, USD, fractions),
bps integers, seconds.

A market is a :class:`RefMarket` (its ``marketParameters`` dict in chain names, its tiers
``(floor, imf, mmf)``, margin scale, index price and funding / open-interest state); an account
is its cross collateral and a dict ``{market index: RefPosition}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

WAD = 10**18
UNIT = 10**12
BPS = 10_000
DAY = 86_400


# -- FixedPointMath ----------------------------------------------------------------------------


def mul_div(a: int, b: int, d: int) -> int:
    """OpenZeppelin ``Math.mulDiv`` (a, b ≥ 0), rounded down."""
    assert a >= 0 and b >= 0 and d > 0
    return a * b // d


def mul_div_ceil_u(a: int, b: int, d: int) -> int:
    """``Math.mulDiv(a, b, d, Ceil)`` (a, b ≥ 0)."""
    assert a >= 0 and b >= 0 and d > 0
    q, r = divmod(a * b, d)
    return q + (1 if r else 0)


def mul_div_floor(a: int, b: int, d: int) -> int:
    """``FixedPointMath.mulDivFloor``: signed a, towards negative infinity."""
    if a >= 0:
        return mul_div(a, b, d)
    return -mul_div_ceil_u(-a, b, d)


def mul_div_ceil(a: int, b: int, d: int) -> int:
    """``FixedPointMath.mulDivCeil``: signed a, towards positive infinity."""
    if a >= 0:
        return mul_div_ceil_u(a, b, d)
    return -mul_div(-a, b, d)


def sdiv(a: int, b: int) -> int:
    """Solidity's signed ``a / b``: truncated towards zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else (hi if x > hi else x)


def wad_to_units_down(wad: int) -> int:
    return wad // UNIT


def wad_to_units_up(wad: int) -> int:
    return (wad + UNIT - 1) // UNIT


# -- MarginMath ----------------------------------------------------------------------------------


def _scaled(rate: int, scale: int) -> int:
    return min(mul_div_ceil_u(rate, scale, WAD), WAD)


def requirement(
    notional: int, base_rate: int, tiers: list[tuple[int, int, int]], initial: bool, scale: int
) -> int:
    base = _scaled(base_rate, scale)
    rate = base
    deduction = 0
    for floor, imf, mmf in tiers:
        if notional < floor:
            break
        nxt = max(_scaled(imf if initial else mmf, scale), base)
        if nxt > rate:
            deduction += mul_div(floor, nxt - rate, WAD)
        rate = nxt
    gross = mul_div_ceil_u(notional, rate, WAD)
    return gross - deduction if gross > deduction else 0


def oi_scaled_initial_margin(
    initial_margin: int, notional: int, open_notional: int, lower: int, upper: int
) -> int:
    if upper == 0 or open_notional <= lower or notional <= initial_margin:
        return initial_margin
    if open_notional >= upper:
        return notional
    t = mul_div_ceil_u(open_notional - lower, WAD, upper - lower)
    return initial_margin + mul_div_ceil_u(notional - initial_margin, t, WAD)


def _solve(size: int, abs_size: int, entry: int, collateral: int, rate: int, deduction: int) -> int:
    cd = collateral + deduction
    entry_value = entry * abs_size
    if size > 0:
        if rate >= WAD:
            return 0
        num = entry_value - cd * WAD
        if num <= 0:
            return 0
        return mul_div_ceil_u(num, WAD, abs_size * (WAD - rate))
    num_short = entry_value + cd * WAD
    if num_short <= 0:
        return 0
    return mul_div(num_short, WAD, abs_size * (WAD + rate))


def liquidation_price_of(
    size: int, entry: int, collateral: int, base_rate: int, tiers: list, scale: int
) -> int:
    """``MarginMath.liquidationPrice``."""
    if size == 0:
        return 0
    abs_size = abs(size)
    base = _scaled(base_rate, scale)
    rate, deduction = base, 0
    n = len(tiers)
    for i in range(n + 1):
        p = _solve(size, abs_size, entry, collateral, rate, deduction)
        if p == 0:
            return 0
        if i == n:
            return p
        floor, _, mmf = tiers[i]
        if mul_div_ceil_u(abs_size, p, WAD) < floor:
            return p
        nxt = max(_scaled(mmf, scale), base)
        if nxt > rate:
            deduction += mul_div(floor, nxt - rate, WAD)
        rate = nxt
    return 0


# -- PerpMath ------------------------------------------------------------------------------------


def unrealized_pnl(size: int, entry: int, price: int) -> int:
    if size == 0:
        return 0
    move = price - entry
    return mul_div_floor(move if size > 0 else -move, abs(size), WAD)


def apply_fill(size: int, entry: int, delta: int, fill: int) -> tuple[int, int, int]:
    new_size = size + delta
    if size == 0 or (size > 0) == (delta > 0):
        if size == 0:
            return new_size, fill, 0
        a, b = abs(size), abs(delta)
        weighted = entry * a + fill * b
        new_entry = mul_div_ceil_u(weighted, 1, a + b) if size > 0 else weighted // (a + b)
        return new_size, new_entry, 0
    closing = min(abs(delta), abs(size))
    move = fill - entry
    realized = mul_div_floor(move if size > 0 else -move, closing, WAD)
    if new_size == 0:
        new_entry = 0
    elif (new_size > 0) == (size > 0):
        new_entry = entry
    else:
        new_entry = fill
    return new_size, new_entry, realized


def fill_price(price: int, skew: int, delta: int, skew_scale: int) -> int:
    if skew_scale == 0:
        return price
    x = 2 * skew + delta
    if delta > 0:
        impact = mul_div_ceil(x, price, 2 * skew_scale)
    else:
        impact = mul_div_floor(x, price, 2 * skew_scale)
    fill = price + impact
    return fill if fill > 0 else 0


def next_funding_rate(p: dict[str, Any], skew: int, rate: int, dt: int) -> tuple[int, int]:
    one = WAD
    model = int(p["fundingModel"])
    scale = p["skewScale"]
    proportional = 0 if scale == 0 else clamp(sdiv(skew * one, scale), -one, one)
    if model == 0:
        new = rate + sdiv(proportional * p["maxFundingVelocity"] * dt, one * DAY)
    else:
        interest = p["premiumInterestRate8h"]
        band = p["premiumClamp8h"]
        rate8h = proportional + clamp(interest - proportional, -band, band)
        new = rate8h * 3
    if p["maxFundingRatePerHour"] != 0:
        cap = p["maxFundingRatePerHour"] * 24
        new = clamp(new, -cap, cap)
    average = sdiv(rate + new, 2) if model == 0 else new
    return new, average


def funding_increments(average: int, dt: int, price: int) -> tuple[int, int]:
    x = average * dt
    return mul_div_ceil(x, price, DAY * WAD), mul_div_ceil(-x, price, DAY * WAD)


def funding_owed(size: int, snapshot: int, long_index: int, short_index: int) -> int:
    if size == 0:
        return 0
    index = long_index if size > 0 else short_index
    return mul_div_ceil(index - snapshot, abs(size), WAD)


# -- VenueMarket / PerpVenue ----------------------------------------------------------------------


@dataclass
class RefMarket:
    """One market: parameters (chain names), tiers, margin scale, index price, state."""

    params: dict[str, Any]
    tiers: list[tuple[int, int, int]]
    price: int
    scale: int = WAD
    long_oi: int = 0
    short_oi: int = 0
    long_index: int = 0
    short_index: int = 0
    rate: int = 0

    @property
    def skew(self) -> int:
        return self.long_oi - self.short_oi

    def funding_now(self, dt: int) -> RefMarket:
        """``fundingNow`` / ``accrue`` over `dt` seconds (the market with its indices moved)."""
        if dt == 0:
            return replace(self)
        rate, average = next_funding_rate(self.params, self.skew, self.rate, dt)
        long_inc, short_inc = funding_increments(average, dt, self.price)
        return replace(
            self,
            long_index=self.long_index + long_inc,
            short_index=self.short_index + short_inc,
            rate=rate,
        )

    def maintenance_margin(self, size: int, price: int | None = None) -> int:
        price = self.price if price is None else price
        if size == 0:
            return 0
        notional = mul_div_ceil_u(abs(size), price, WAD)
        return requirement(
            notional, self.params["maintenanceMarginFraction"], self.tiers, False, self.scale
        )

    def initial_margin(self, size: int) -> int:
        if size == 0:
            return 0
        n = mul_div_ceil_u(abs(size), self.price, WAD)
        base = mul_div_ceil_u(WAD, WAD, self.params["maxLeverage"])
        im = requirement(n, base, self.tiers, True, self.scale)
        if self.params["oiImfUpperCap"] == 0:
            return im
        open_size = max(self.long_oi, self.short_oi)
        return oi_scaled_initial_margin(
            im,
            n,
            mul_div_ceil_u(open_size, self.price, WAD),
            self.params["oiImfLowerCap"],
            self.params["oiImfUpperCap"],
        )

    def fill(self, delta: int) -> int:
        return fill_price(self.price, self.skew, delta, self.params["skewScale"])

    def liquidation_fill(self, delta: int) -> int:
        f = self.fill(delta)
        band = self.params["maxLiquidationImpactBps"]
        lo = mul_div_ceil_u(self.price, BPS - min(band, BPS), BPS)
        hi = mul_div(self.price, BPS + band, BPS)
        if f < lo:
            f = lo
        if f > hi:
            f = hi
        if f == 0:
            f = 1
        return f

    def taker_fee(self, delta: int, fill: int) -> int:
        return mul_div_ceil_u(
            mul_div_ceil_u(abs(delta), fill, WAD), self.params["takerFeeBps"], BPS
        )


def fee_split(fee: int, insurance_share_bps: int) -> tuple[int, int]:
    """``_collectFee`` with a fund: (sent to the fund in whole units, to protocol fees)."""
    sent = wad_to_units_down(mul_div(fee, insurance_share_bps, BPS)) * UNIT
    return sent, fee - sent


@dataclass
class RefPosition:
    size: int
    entry: int
    snapshot: int = 0
    margin: int = 0
    isolated: bool = False
    partial_at: int = 0
    liquidated_this_block: bool = False


@dataclass
class RefAccount:
    collateral: int
    positions: dict[int, RefPosition] = field(default_factory=dict)


def position_value(p: RefPosition, m: RefMarket) -> int:
    """``_positionValue``: uPnL − funding owed."""
    return unrealized_pnl(p.size, p.entry, m.price) - funding_owed(
        p.size, p.snapshot, m.long_index, m.short_index
    )


def cross_health(account: RefAccount, markets: dict[int, RefMarket]) -> tuple[int, int, int]:
    """``_crossHealth``: (equity, maintenance, initial) over cross positions."""
    eq = account.collateral
    mm = im = 0
    for i, p in account.positions.items():
        if p.isolated or p.size == 0:
            continue
        m = markets[i]
        eq += position_value(p, m)
        mm += m.maintenance_margin(p.size)
        im += m.initial_margin(p.size)
    return eq, mm, im


def liquidatable(account: RefAccount, markets: dict[int, RefMarket]) -> bool:
    """``healthOf``'s flag: mm != 0 and equity < mm."""
    eq, mm, _ = cross_health(account, markets)
    return mm != 0 and eq < mm


def isolated_health(p: RefPosition, m: RefMarket) -> tuple[int, int]:
    if not p.isolated:
        return 0, 0
    return p.margin + position_value(p, m), m.maintenance_margin(p.size)


def liquidation_price(account: RefAccount, i: int, markets: dict[int, RefMarket]) -> int:
    """``PerpVenue.liquidationPrice(account, market)``."""
    p = account.positions.get(i)
    if p is None or p.size == 0:
        return 0
    m = markets[i]
    mmf = m.params["maintenanceMarginFraction"]
    owed = funding_owed(p.size, p.snapshot, m.long_index, m.short_index)
    if p.isolated:
        return liquidation_price_of(p.size, p.entry, p.margin - owed, mmf, m.tiers, m.scale)
    eq, mm, _ = cross_health(account, markets)
    mm_others = mm - m.maintenance_margin(p.size)
    others = eq - unrealized_pnl(p.size, p.entry, m.price) - mm_others
    return liquidation_price_of(p.size, p.entry, others, mmf, m.tiers, m.scale)


# -- VenueLiquidationModule.liquidate -------------------------------------------------------------


def close_size(m: RefMarket, p: RefPosition, now: int) -> int:
    """``_closeSize`` then ``rateLimited`` (cap unused in this block)."""
    size = abs(p.size)
    params = m.params
    if mul_div_ceil_u(size, m.price, WAD) <= params["partialLiquidationThreshold"]:
        close = size
    else:
        cooldown = params["liquidationCooldown"]
        close = None
        if p.partial_at != 0 and now < p.partial_at + 2 * cooldown:
            if now < p.partial_at + cooldown:
                close = 0
            elif params["fullLiquidationAfterCooldown"]:
                close = size
        if close is None:
            if p.liquidated_this_block:
                close = 0
            else:
                part = mul_div_ceil_u(size, params["partialLiquidationShareBps"], BPS)
                close = part if part < size else size
    cap = params["maxLiquidationNotionalPerBlock"]
    if cap == 0:
        return close
    room = cap
    if mul_div_ceil_u(close, m.price, WAD) > room:
        close = mul_div(room, WAD, m.price)
    return close


@dataclass
class RefLiquidated:
    """One ``Liquidated`` event."""

    market: int
    closed: int
    fill: int
    notional: int
    realized: int
    penalty: int
    keeper_reward: int
    insurance_share: int
    full: bool


@dataclass
class RefLiquidation:
    outcome: str
    events: list[RefLiquidated] = field(default_factory=list)
    equity: int = 0
    maintenance: int = 0
    deficit: int = 0
    fund_paid: int = 0
    deficit_shares: dict[int, tuple[int, int]] = field(default_factory=dict)
    """{market: (deficit share, fund paid share)} (``DeficitAttributed``)."""


def liquidate(
    account: RefAccount, markets: dict[int, RefMarket], fund_balance: int, now: int = 0
) -> RefLiquidation:
    """``liquidate(account)`` alone in its block, `markets` accrued to the call; mutates
    `account` only when the call succeeds (a revert changes nothing)."""
    acct = RefAccount(account.collateral, {i: replace(p) for i, p in account.positions.items()})
    slots = []  # [market, position, mm, rank, loss]
    eq = 0
    mm_total = 0
    for i in sorted(acct.positions):
        p = acct.positions[i]
        if p.isolated or p.size == 0:
            continue
        m = markets[i]
        owed = funding_owed(p.size, p.snapshot, m.long_index, m.short_index)
        acct.collateral -= owed
        p.snapshot = m.long_index if p.size >= 0 else m.short_index
        mm = m.maintenance_margin(p.size)
        slots.append({"id": i, "p": p, "mm": mm, "rank": 0, "loss": 0})
        eq += unrealized_pnl(p.size, p.entry, m.price)
        mm_total += mm
    eq += acct.collateral
    if not slots:
        return RefLiquidation("NoPosition")
    if eq >= mm_total:
        return RefLiquidation("NotLiquidatable")
    order = sorted(range(len(slots)), key=lambda k: (-slots[k]["mm"], slots[k]["id"]))
    result = RefLiquidation("ok")
    liquidated = 0
    for k in order:
        if eq >= mm_total:
            break
        s = slots[k]
        p, m = s["p"], markets[s["id"]]
        closing = close_size(m, p, now)
        if closing == 0:
            continue
        old_pnl = unrealized_pnl(p.size, p.entry, m.price)
        eq_others = eq - old_pnl
        full = closing == abs(p.size)
        delta = -closing if p.size > 0 else closing
        fill = m.liquidation_fill(delta)
        p.size, p.entry, realized = apply_fill(p.size, p.entry, delta, fill)
        acct.collateral += realized
        notional = mul_div(closing, fill, WAD)
        penalty = mul_div_ceil_u(notional, m.params["liquidationPenaltyBps"], BPS)
        rest = unrealized_pnl(p.size, p.entry, m.price)
        left = eq_others + realized + rest
        if left <= 0:
            penalty = 0
        elif penalty > left:
            penalty = left
        acct.collateral -= penalty
        keeper = 0
        if penalty != 0:
            keeper = wad_to_units_down(mul_div(penalty, m.params["keeperShareBps"], BPS)) * UNIT
            insurance = wad_to_units_down(penalty - keeper) * UNIT
        else:
            insurance = 0
        new_mm = m.maintenance_margin(p.size)
        eq = eq - old_pnl + realized + rest - penalty
        mm_total = mm_total - s["mm"] + new_mm
        s["mm"] = new_mm
        if realized < 0:
            s["loss"] += -realized
        liquidated += 1
        s["rank"] = liquidated
        result.events.append(
            RefLiquidated(
                s["id"], closing, fill, notional, realized, penalty, keeper, insurance, full
            )  # fmt: skip
        )
    if liquidated == 0:
        return RefLiquidation("NothingLiquidatableNow")
    deficit = 0
    if all(s["p"].size == 0 for s in slots) and acct.collateral < 0:
        deficit = -acct.collateral
        acct.collateral = 0
        eq += deficit
        paid = min(wad_to_units_up(deficit), fund_balance // UNIT) * UNIT
        result.fund_paid = paid
        total_loss = sum(s["loss"] for s in slots if s["rank"])
        first = next(s for s in slots if s["rank"] == 1)
        assigned = paid_assigned = 0
        for s in slots:
            s["share"], s["paid"] = 0, 0
            if s["rank"] and total_loss:
                s["share"] = mul_div(deficit, s["loss"], total_loss)
                s["paid"] = mul_div(paid, s["loss"], total_loss)
                assigned += s["share"]
                paid_assigned += s["paid"]
        first["share"] += deficit - assigned
        first["paid"] += paid - paid_assigned
        result.deficit_shares = {s["id"]: (s["share"], s["paid"]) for s in slots if s["share"]}
    result.equity, result.maintenance, result.deficit = eq, mm_total, deficit
    account.collateral = acct.collateral
    account.positions = {i: p for i, p in acct.positions.items() if p.size != 0 or p.isolated}
    return result


@dataclass
class RefIsolatedLiquidation:
    outcome: str
    event: RefLiquidated | None = None
    equity: int = 0
    maintenance: int = 0
    deficit: int = 0
    fund_paid: int = 0
    bad_debt: int = 0
    released: int = 0


def liquidate_isolated(
    account: RefAccount, i: int, markets: dict[int, RefMarket], fund_balance: int, now: int = 0
) -> RefIsolatedLiquidation:
    """``liquidateIsolated(account, market)`` alone in its block, `markets` accrued to the
    call (the account is not changed)."""
    p0 = account.positions.get(i)
    if p0 is None or p0.size == 0:
        return RefIsolatedLiquidation("NoPosition")
    if not p0.isolated:
        return RefIsolatedLiquidation("WrongMarginMode")
    p = replace(p0)
    m = markets[i]
    owed = funding_owed(p.size, p.snapshot, m.long_index, m.short_index)
    p.margin -= owed
    p.snapshot = m.long_index if p.size >= 0 else m.short_index
    eq = p.margin + unrealized_pnl(p.size, p.entry, m.price)
    mm = m.maintenance_margin(p.size)
    if eq >= mm:
        return RefIsolatedLiquidation("NotLiquidatable")
    closing = close_size(m, p, now)
    if closing == 0:
        return RefIsolatedLiquidation("NothingLiquidatableNow")
    full = closing == abs(p.size)
    delta = -closing if p.size > 0 else closing
    fill = m.liquidation_fill(delta)
    p.size, p.entry, realized = apply_fill(p.size, p.entry, delta, fill)
    p.margin += realized
    notional = mul_div(closing, fill, WAD)
    penalty = mul_div_ceil_u(notional, m.params["liquidationPenaltyBps"], BPS)
    left = p.margin + unrealized_pnl(p.size, p.entry, m.price)
    if left <= 0:
        penalty = 0
    elif penalty > left:
        penalty = left
    p.margin -= penalty
    keeper = insurance = 0
    if penalty != 0:
        keeper = wad_to_units_down(mul_div(penalty, m.params["keeperShareBps"], BPS)) * UNIT
        insurance = wad_to_units_down(penalty - keeper) * UNIT
    out = RefIsolatedLiquidation("ok")
    out.event = RefLiquidated(i, closing, fill, notional, realized, penalty, keeper, insurance,
                              full)  # fmt: skip
    if p.size == 0:
        if p.margin >= 0:
            out.released = p.margin
        else:
            out.deficit = -p.margin
        p.margin = 0
    out.equity = p.margin + unrealized_pnl(p.size, p.entry, m.price)
    out.maintenance = m.maintenance_margin(p.size)
    if out.deficit:
        out.fund_paid = min(wad_to_units_up(out.deficit), fund_balance // UNIT) * UNIT
        out.bad_debt = 0 if out.fund_paid >= out.deficit else out.deficit - out.fund_paid
    return out
