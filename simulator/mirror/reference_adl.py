"""The obviously-correct reference of :mod:`simulator.mirror.adl`: plain Python integers, one
market and one call at a time, written line by line after ``VenueAdlModule`` (``adl``,
``_winner``, ``_queueOne``, ``_contractsHaircut``, ``_proRata``), ``VenueMarket.adlScore`` and
``VenueLiquidationModule`` (``_absorbDeficit``, ``_adlPrice``, ``_average``, ``_socialize``).
No numpy. Units: WAD integers (prices, sizes, USD), seconds.

A winner is a :class:`RefWinner` (its position in the market, its account value: cross equity
or the isolated position's equity, and the funding its position owes now); a market's ADL
ledger a :class:`RefLedger`. Policies and price modes are the contract's enum indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulator.mirror.reference import (
    UNIT,
    WAD,
    apply_fill,
    mul_div,
    mul_div_ceil_u,
    unrealized_pnl,
)

NONE, CONTRACTS_QUEUE, PROFIT_QUEUE, PRO_RATA, SOCIALIZED = range(5)
BANKRUPTCY_PRICE, PREVIOUS_MARK = range(2)


def div_wad_down(a: int, b: int) -> int:
    return mul_div(a, WAD, b)


def mul_wad_down(a: int, b: int) -> int:
    return mul_div(a, b, WAD)


def adl_score(size: int, entry: int, price: int, value: int) -> int:
    """``VenueMarket.adlScore``."""
    ratio = div_wad_down(price, entry) if size > 0 else div_wad_down(entry, price)
    return div_wad_down(mul_wad_down(ratio, mul_wad_down(abs(size), price)), value)


def ranking_score(size: int, entry: int, price: int, value: int) -> int:
    """``adlRanking``'s score: 0 unless pnl > 0 and value > 0."""
    pnl = unrealized_pnl(size, entry, price)
    return adl_score(size, entry, price, value) if pnl > 0 and value > 0 else 0


@dataclass
class RefLedger:
    """The ADL fields of one market's ``MarketLedger`` (WAD)."""

    bad_debt_longs: int = 0
    bad_debt_shorts: int = 0
    adl_contracts_longs: int = 0
    adl_contracts_shorts: int = 0
    adl_price_longs: int = 0
    adl_price_shorts: int = 0
    final_bad_debt_longs: int = 0
    final_bad_debt_shorts: int = 0


def finalize(led: RefLedger, longs_bankrupt: bool) -> int:
    """``VenueStorage._finalizeBadDebt``: the side's outstanding bad debt written off as
    final; returns the amount (0: nothing, no event)."""
    if longs_bankrupt:
        amount, led.bad_debt_longs = led.bad_debt_longs, 0
        led.final_bad_debt_longs += amount
    else:
        amount, led.bad_debt_shorts = led.bad_debt_shorts, 0
        led.final_bad_debt_shorts += amount
    return amount


@dataclass
class RefAbsorbed:
    """One ``_absorbDeficit``: the ledger after, ``DeficitAttributed``'s remaining and
    adlPrice, a ``LossSocialized`` (per contract and charged) when it happened, and the bad
    debt written off as final (``BadDebtFinalized``'s amount, 0 for none)."""

    ledger: RefLedger
    remaining: int
    adl_price: int
    socialized: bool = False
    per_contract: int = 0
    charged: int = 0
    finalized: int = 0


def adl_price(mode: int, longs_bankrupt: bool, deficit: int, contracts: int, fill: int,
              previous_mark: int) -> int:  # fmt: skip
    """``_adlPrice`` in a block where the market was touched (its mark tracked)."""
    if mode == PREVIOUS_MARK:
        return previous_mark
    if contracts == 0:
        return fill
    gap = mul_div_ceil_u(deficit, WAD, contracts)
    if longs_bankrupt:
        return fill + gap
    return fill - gap if fill > gap else 1


def absorb_deficit(
    ledger: RefLedger,
    policy: int,
    mode: int,
    longs_bankrupt: bool,
    deficit: int,
    paid: int,
    contracts: int,
    fill: int,
    previous_mark: int,
    open_interest: int,
    mark: int,
) -> RefAbsorbed:
    """``_absorbDeficit`` of one market and side: `open_interest` is long + short after the
    liquidation's fills, `mark` the market's last mark (the index of this block)."""
    led = replace(ledger)
    remaining = 0 if paid >= deficit else deficit - paid
    price = adl_price(mode, longs_bankrupt, deficit, contracts, fill, previous_mark)
    out = RefAbsorbed(led, remaining, price)
    if remaining == 0:
        return out
    if policy == SOCIALIZED and open_interest != 0:
        per_unit = mul_div_ceil_u(remaining, WAD, open_interest)
        if per_unit <= mark:
            out.socialized = True
            out.per_contract = per_unit
            out.charged = mul_div_ceil_u(open_interest, per_unit, WAD)
            return out
    if policy == CONTRACTS_QUEUE and contracts != 0:
        q = mul_div_ceil_u(contracts, remaining, deficit)
        if longs_bankrupt:
            q0, p0 = led.adl_contracts_longs, led.adl_price_longs
            led.adl_price_longs = (q0 * p0 + q * price) // (q0 + q)
            led.adl_contracts_longs = q0 + q
        else:
            q0, p0 = led.adl_contracts_shorts, led.adl_price_shorts
            led.adl_price_shorts = (q0 * p0 + q * price) // (q0 + q)
            led.adl_contracts_shorts = q0 + q
    if longs_bankrupt:
        led.bad_debt_longs += remaining
        queued = led.adl_contracts_longs
    else:
        led.bad_debt_shorts += remaining
        queued = led.adl_contracts_shorts
    # No adl call could clear it: a refused charge, or no bankrupt contracts left to offset.
    if policy == SOCIALIZED or (policy == CONTRACTS_QUEUE and queued == 0):
        out.finalized = finalize(led, longs_bankrupt)
    return out


@dataclass
class RefWinner:
    size: int
    entry: int
    value: int
    """Account value: cross equity, or the isolated position's margin + uPnL − funding."""
    owed: int = 0
    """Funding the position owes now (settled by the call)."""


@dataclass
class RefHaircut:
    """One ``AdlHaircut`` and what the winner's account side is credited (realized − cut, or
    profit − cut for PRO_RATA; funding settles separately)."""

    size_closed: int
    profit: int
    haircut: int
    new_size: int
    new_entry: int
    credit: int


@dataclass
class RefAdl:
    outcome: str
    haircuts: list[RefHaircut] = field(default_factory=list)
    deficit: int = 0
    minimum_haircut: int = 0
    total_profit: int = 0
    total_haircuts: int = 0
    covered: int = 0
    overshoot: int = 0
    to_fund: int = 0
    contracts: int = 0
    notional: int = 0
    accounts: int = 0
    finalized: int = 0
    ledger: RefLedger | None = None
    pool: int = 0


def adl(
    ledger: RefLedger,
    policy: int,
    longs_bankrupt: bool,
    winners: list[RefWinner],
    price: int,
    pool: int,
    max_accounts: int = 100,
) -> RefAdl:
    """``adl(market, longsBankrupt, winners)`` at index `price` with the venue's pool at
    `pool` (WAD; the fund is assumed present). Reverts are the outcome's error name."""
    if policy not in (CONTRACTS_QUEUE, PROFIT_QUEUE, PRO_RATA):
        return RefAdl("AdlPolicyNotCallable")
    n = len(winners)
    if n == 0 or n > max_accounts:
        return RefAdl("AdlBatchSize")
    winners_long = not longs_bankrupt
    deficit = ledger.bad_debt_longs if longs_bankrupt else ledger.bad_debt_shorts
    contracts_left = adl_px = 0
    if policy == CONTRACTS_QUEUE:
        contracts_left = (
            ledger.adl_contracts_longs if longs_bankrupt else ledger.adl_contracts_shorts
        )
        adl_px = ledger.adl_price_longs if longs_bankrupt else ledger.adl_price_shorts
        if contracts_left == 0:
            deficit = 0
    if deficit == 0:
        return RefAdl("NoDeficit")
    run = RefAdl("ok", deficit=deficit)

    def winner(w: RefWinner) -> int | None:
        pnl = unrealized_pnl(w.size, w.entry, price)
        if w.size == 0 or (w.size > 0) != winners_long or pnl <= 0:
            return None
        if w.value <= 0:
            return None
        pool_delta[0] += w.owed  # funding settled against the pool
        return min(pnl, w.value)

    pool_delta = [0]
    if policy == PRO_RATA:
        profits = []
        for w in winners:
            p = winner(w)
            if p is None:
                return RefAdl("AdlIneligible")
            profits.append(p)
            run.total_profit += p
        covered = min(deficit, run.total_profit)
        cuts = [mul_div(covered, p, run.total_profit) for p in profits]
        s = sum(cuts)
        i = 0
        while s < covered and i < n:
            if cuts[i] < profits[i]:
                cuts[i] += 1
                s += 1
            i += 1
        for w, p, c in zip(winners, profits, cuts, strict=True):
            run.haircuts.append(RefHaircut(0, p, c, w.size, price, p - c))
            pool_delta[0] -= p - c
        run.accounts = n
        haircuts = s
    else:
        previous = 2**256 - 1
        haircuts = 0
        for w in winners:
            p = winner(w)
            if p is None:
                return RefAdl("AdlIneligible")
            score = adl_score(w.size, w.entry, price, w.value)
            if score > previous:
                return RefAdl("AdlRankingOutOfOrder")
            previous = score
            run.total_profit += p
            if (contracts_left == 0) if policy == CONTRACTS_QUEUE else (haircuts >= deficit):
                continue
            size = abs(w.size)
            if policy == CONTRACTS_QUEUE:
                q = min(size, contracts_left)
                if winners_long:
                    gap = price - adl_px if price > adl_px else 0
                else:
                    gap = adl_px - price if adl_px > price else 0
                cut = min(mul_wad_down(q, gap), mul_div(p, q, size))
            else:
                q, cut = size, p
            delta = -q if w.size > 0 else q
            new_size, new_entry, realized = apply_fill(w.size, w.entry, delta, price)
            run.haircuts.append(RefHaircut(-delta, p, cut, new_size, new_entry, realized - cut))
            pool_delta[0] -= realized - cut
            if policy == CONTRACTS_QUEUE:
                contracts_left -= q
            haircuts += cut
            run.contracts += q
            run.notional += mul_wad_down(q, price)
            run.accounts += 1
    run.minimum_haircut = min(deficit, run.total_profit)
    run.total_haircuts = haircuts
    run.covered = min(haircuts, deficit)
    run.overshoot = haircuts - run.covered
    pool += pool_delta[0]
    if run.overshoot != 0 and pool > 0:
        run.to_fund = min(run.overshoot, pool) // UNIT * UNIT
        pool -= run.to_fund
    run.pool = pool
    led = replace(ledger)
    offset = False
    if longs_bankrupt:
        led.bad_debt_longs -= run.covered
        if policy == CONTRACTS_QUEUE:
            led.adl_contracts_longs -= run.contracts
            offset = led.adl_contracts_longs == 0
    else:
        led.bad_debt_shorts -= run.covered
        if policy == CONTRACTS_QUEUE:
            led.adl_contracts_shorts -= run.contracts
            offset = led.adl_contracts_shorts == 0
    if offset:  # the bankrupt contracts all offset: what is left is final
        run.finalized = finalize(led, longs_bankrupt)
    run.ledger = led
    return run
