"""Liquidation (``VenueLiquidationModule.liquidate`` and ``liquidateIsolated``), vectorized
over accounts (and, for isolated positions, over markets). A cross liquidation: the
close size (whole, or the partial share above the threshold, the cooldown marks, the per-block
cap), the bounded liquidation fill, the penalty (capped at the equity left) and its split
between keeper and insurance fund, and the deficit of an account left flat with negative
collateral, attributed to the markets closed in proportion to their realized losses and covered
once by the insurance fund.

Each account is liquidated **alone, in its own block, from the given state**: the per-block
cap starts unused and each market's skew is the state's (within one call every market is
closed at most once, so one account's call never sees its own earlier fills in a market). A
batch of liquidations in one block, where accounts share the cap and move each other's skew,
is for the run engine to sequence. The circuit breaker (``liquidationsHaltOnBreaker``) is not
modelled. The venue is assumed to have an insurance fund.

Order (as the contract): largest maintenance requirement first, ties by lower market id; stop
as soon as equity ≥ maintenance. Units WAD USD / WAD base units / WAD prices; the keeper
reward and the fund's share are whole collateral units (UNIT WAD each).

Rounding (exact mode): the partial share ``|size|·bps`` up; the capped size
``room/price`` down; the liquidation notional ``closed·fill`` down; the penalty
``notional·bps`` up; the keeper share ``penalty·bps`` down, then both shares down to whole
units (the dust goes to protocol fees); the fund's cover of a deficit asks for whole units
rounded up; the deficit shares ``deficit·loss/Σloss`` down, the remainder to the first market
closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.mirror.fills import apply_fill, liquidation_fill, unrealized_pnl
from simulator.mirror.fixed import (
    BPS,
    WAD,
    Array,
    floor_div,
    minimum,
    mul_div_down,
    mul_div_up,
    safe,
    wad_to_units_down,
    wad_to_units_up,
    where,
    zeros_like,
)
from simulator.mirror.funding import funding_owed
from simulator.mirror.health import Book
from simulator.mirror.margins import maintenance_margin, notional
from simulator.mirror.markets import MarketArrays, MarketState

#: Outcome codes of one account's call.
OK, NO_POSITION, NOT_LIQUIDATABLE, NOTHING_NOW, WRONG_MARGIN_MODE = 0, 1, 2, 3, 4
OUTCOMES = {
    OK: "ok",
    NO_POSITION: "NoPosition",
    NOT_LIQUIDATABLE: "NotLiquidatable",
    NOTHING_NOW: "NothingLiquidatableNow",
    WRONG_MARGIN_MODE: "WrongMarginMode",
}


@dataclass(frozen=True)
class CrossLiquidation:
    """Result of liquidating each of A accounts alone. Per (A, M) (the ``Liquidated`` event's
    fields where ``rank`` > 0): ``closed`` size, ``fill``, ``notional``, ``realized``,
    ``penalty``, ``keeper_reward``, ``insurance_share``, ``full``, ``rank`` (1 = first closed,
    0 = not closed), ``deficit_share`` / ``fund_paid_share`` / ``bad_debt`` (the part the fund
    did not cover: ``DeficitAttributed``'s deficit, paidByInsurance, remaining). Per (A,):
    ``outcome`` (:data:`OUTCOMES`; the chain reverts unless OK), ``liquidated`` count,
    ``equity`` / ``maintenance`` after, ``deficit`` (``AccountLiquidated``), ``fund_paid``.
    ``book`` is the accounts' book after the call (funding settled, sizes reduced)."""

    closed: Array
    fill: Array
    notional: Array
    realized: Array
    penalty: Array
    keeper_reward: Array
    insurance_share: Array
    full: Array
    rank: Array
    deficit_share: Array
    fund_paid_share: Array
    bad_debt: Array
    outcome: Array
    liquidated: Array
    equity: Array
    maintenance: Array
    deficit: Array
    fund_paid: Array
    book: Book


def close_size(
    size: Any,
    price: Any,
    markets: MarketArrays,
    partial_at: Any,
    now: Any,
    liquidated_this_block: Any,
    rate_limit_used: Any = 0,
) -> Any:
    """``_closeSize`` then ``rateLimited``: the size (WAD, ≥ 0) a liquidation closes now; 0
    when the position must be skipped. `partial_at` is the position's partial-liquidation
    mark (seconds, 0 = none), `now` the block time, `rate_limit_used` the notional (WAD USD)
    of the market's per-block cap already used in this block (default 0: unused)."""
    abs_size = abs(size)
    whole = notional(size, price) <= markets.partial_liquidation_threshold
    cooldown = markets.liquidation_cooldown
    marked = (partial_at != 0) & (now < partial_at + 2 * cooldown)
    cooling = marked & (now < partial_at + cooldown)
    goes_whole = marked & ~cooling & (markets.full_liquidation_after_cooldown != 0)
    part = mul_div_up(abs_size, markets.partial_liquidation_share_bps, BPS)
    part = where(part < abs_size, part, abs_size)
    size_now = where(
        whole | goes_whole,
        abs_size,
        where(cooling | np.asarray(liquidated_this_block, dtype=bool), 0, part),
    )
    cap = markets.max_liquidation_notional_per_block
    room = where(rate_limit_used < cap, cap - rate_limit_used, 0)
    over = (cap != 0) & (mul_div_up(size_now, price, WAD) > room)
    return where(over, floor_div(room * WAD, safe(price, price != 0)), size_now)


def penalty_split(penalty: Any, keeper_share_bps: Any) -> tuple[Any, Any, Any]:
    """(keeper reward, insurance share, protocol fee dust) of a penalty (``_payPenalty``):
    the keeper's ``penalty·bps`` rounded down to whole units, the rest to the fund in whole
    units, the dust to protocol fees."""
    keeper = wad_to_units_down(mul_div_down(penalty, keeper_share_bps, BPS))
    insurance = wad_to_units_down(penalty - keeper)
    return keeper, insurance, penalty - keeper - insurance


def _take(x: Array, j: Array) -> Array:
    return np.take_along_axis(x, j[:, None], axis=1)[:, 0]


def _put(x: Array, j: Array, value: Array, mask: Array) -> Array:
    out = x.copy()
    rows = np.arange(x.shape[0])
    out[rows, j] = where(mask, value, x[rows, j])
    return out


def liquidate_cross(
    book: Book,
    price: Any,
    markets: MarketArrays,
    state: MarketState,
    *,
    fund_balance: Any,
    now: Any = 0,
    partial_at: Any = 0,
    liquidated_this_block: Any = False,
    rate_limit_used: Any = 0,
) -> CrossLiquidation:
    """``liquidate(account)`` for each account of `book` (A, M) alone, at `price` (M,) with
    `state`'s funding accrued to the call (:func:`simulator.mirror.funding.funding_now`) and
    an insurance fund holding `fund_balance` (WAD, whole units). `rate_limit_used` (M,): each
    market's per-block cap already used in the call's block (WAD USD; default 0)."""
    size, entry = book.size, book.entry
    a, m = size.shape
    zero = zeros_like(size)
    partial_at = zero + partial_at
    used = zero + rate_limit_used
    in_use = bool(np.any(np.asarray(used != 0, dtype=bool)))
    this_block = np.broadcast_to(np.asarray(liquidated_this_block, dtype=bool), size.shape)
    cross = ~book.isolated.astype(bool) & np.asarray(size != 0, dtype=bool)
    owed = funding_owed(size, book.snapshot, state.long_funding_index, state.short_funding_index)
    collateral = book.collateral - where(cross, owed, 0).sum(axis=-1)
    snapshot = where(
        cross,
        where(size >= 0, state.long_funding_index, state.short_funding_index),
        book.snapshot,
    )
    mm = where(cross, maintenance_margin(size, price, markets), 0)
    eq = collateral + where(cross, unrealized_pnl(size, entry, price), 0).sum(axis=-1)
    mmt = mm.sum(axis=-1)
    has = cross.any(axis=-1)
    eligible = has & np.asarray(eq < mmt, dtype=bool)
    order = np.argsort(where(cross, -mm, 1), axis=-1, kind="stable")
    prices = zero + price
    skews = zero + state.skew
    out = {k: zero.copy() for k in ("closed", "fill", "notional", "realized", "penalty",
                                    "keeper_reward", "insurance_share")}  # fmt: skip
    full = np.zeros(size.shape, dtype=bool)
    rank = np.zeros(size.shape, dtype=np.int64)
    count = np.zeros(a, dtype=np.int64)
    running = eligible.copy()
    for k in range(m):
        j = order[:, k]
        mk = markets.take(j)
        s_size, s_entry, p = _take(size, j), _take(entry, j), _take(prices, j)
        running = running & np.asarray(eq < mmt, dtype=bool)
        active = running & _take(cross, j)
        limit = {"rate_limit_used": _take(used, j)} if in_use else {}
        close = close_size(s_size, p, mk, _take(partial_at, j), now, _take(this_block, j), **limit)
        did = active & np.asarray(close > 0, dtype=bool)
        old_pnl = unrealized_pnl(s_size, s_entry, p)
        delta = where(s_size > 0, -close, close)
        fill = liquidation_fill(p, _take(skews, j), delta, mk.skew_scale,
                                mk.max_liquidation_impact_bps)  # fmt: skip
        new_size, new_entry, realized = apply_fill(s_size, s_entry, delta, fill)
        liq_notional = mul_div_down(close, fill, WAD)
        penalty = mul_div_up(liq_notional, mk.liquidation_penalty_bps, BPS)
        rest = unrealized_pnl(new_size, new_entry, p)
        left = eq - old_pnl + realized + rest
        penalty = where(left <= 0, 0, where(penalty > left, left, penalty))
        keeper, insurance, _ = penalty_split(penalty, mk.keeper_share_bps)
        new_mm = maintenance_margin(new_size, p, mk)
        collateral = collateral + where(did, realized - penalty, 0)
        eq = where(did, eq - old_pnl + realized + rest - penalty, eq)
        mmt = where(did, mmt - _take(mm, j) + new_mm, mmt)
        mm = _put(mm, j, new_mm, did)
        size = _put(size, j, new_size, did)
        entry = _put(entry, j, new_entry, did)
        count = count + did
        rank[np.arange(a), j] = np.where(did, count, rank[np.arange(a), j])
        full[np.arange(a), j] = np.where(did, np.asarray(close == abs(s_size), dtype=bool),
                                         full[np.arange(a), j])  # fmt: skip
        for name, value in (("closed", close), ("fill", fill), ("notional", liq_notional),
                            ("realized", realized), ("penalty", penalty),
                            ("keeper_reward", keeper), ("insurance_share", insurance)):  # fmt: skip
            out[name] = _put(out[name], j, value, did)
    outcome = np.where(
        ~has,
        NO_POSITION,
        np.where(~eligible, NOT_LIQUIDATABLE, np.where(count == 0, NOTHING_NOW, OK)),
    )
    done = outcome == OK
    flat = ~(cross & np.asarray(size != 0, dtype=bool)).any(axis=-1)
    bankrupt = done & flat & np.asarray(collateral < 0, dtype=bool)
    deficit = where(bankrupt, -collateral, 0)
    collateral = where(bankrupt, 0, collateral)
    eq = eq + deficit
    paid = where(bankrupt, minimum(wad_to_units_up(deficit), fund_balance), 0)
    loss = where(rank > 0, where(out["realized"] < 0, -out["realized"], 0), 0)
    total_loss = loss.sum(axis=-1)
    denominator = safe(total_loss, total_loss != 0)[:, None]
    shares = where(total_loss[:, None] != 0, mul_div_down(deficit[:, None], loss, denominator), 0)
    paid_shares = where(total_loss[:, None] != 0, mul_div_down(paid[:, None], loss, denominator), 0)
    first = rank == 1
    shares = shares + where(first, (deficit - shares.sum(axis=-1))[:, None], 0)
    paid_shares = paid_shares + where(first, (paid - paid_shares.sum(axis=-1))[:, None], 0)
    keep = done[:, None]
    after = Book(
        size=where(keep, size, book.size),
        entry=where(keep, entry, book.entry),
        snapshot=where(keep, snapshot, book.snapshot),
        margin=book.margin,
        isolated=book.isolated,
        collateral=where(done, collateral, book.collateral),
    )
    return CrossLiquidation(
        **{k: where(keep, v, 0) for k, v in out.items()},
        full=full & keep,
        rank=np.where(keep, rank, 0),
        deficit_share=where(bankrupt[:, None], shares, 0),
        fund_paid_share=where(bankrupt[:, None], paid_shares, 0),
        bad_debt=where(
            bankrupt[:, None] & np.asarray(shares > paid_shares, dtype=bool),
            shares - paid_shares,
            0,
        ),
        outcome=outcome,
        liquidated=np.where(done, count, 0),
        equity=eq,
        maintenance=mmt,
        deficit=deficit,
        fund_paid=paid,
        book=after,
    )


@dataclass(frozen=True)
class IsolatedLiquidation:
    """Result of ``liquidateIsolated(account, market)`` for every (account, market) alone,
    arrays (A, M): ``outcome`` (:data:`OUTCOMES`), the ``Liquidated`` event's ``closed``,
    ``fill``, ``notional``, ``realized``, ``penalty``, ``keeper_reward``,
    ``insurance_share``, ``full``; ``AccountLiquidated``'s ``equity`` / ``maintenance`` after
    and ``deficit``; ``fund_paid`` (the fund's cover of the deficit), ``bad_debt`` (the rest:
    ``DeficitAttributed.remaining``), ``released`` (the margin a closed position returns to the
    cross collateral) and ``margin`` after (0 when closed)."""

    outcome: Array
    closed: Array
    fill: Array
    notional: Array
    realized: Array
    penalty: Array
    keeper_reward: Array
    insurance_share: Array
    full: Array
    equity: Array
    maintenance: Array
    deficit: Array
    fund_paid: Array
    bad_debt: Array
    released: Array
    margin: Array


def liquidate_isolated(
    book: Book,
    price: Any,
    markets: MarketArrays,
    state: MarketState,
    *,
    fund_balance: Any,
    now: Any = 0,
    partial_at: Any = 0,
    liquidated_this_block: Any = False,
    rate_limit_used: Any = 0,
) -> IsolatedLiquidation:
    """``liquidateIsolated(account, market)`` for every position of `book` alone (its own
    block, the cap unused), at `price` with `state`'s funding accrued to the call, an insurance
    fund of `fund_balance` (WAD, whole units). The position's funding is settled into its
    margin; equity = margin + uPnL; the penalty is capped at the margin + PnL left; a closed
    position returns a non-negative margin to the cross collateral, a negative one is the
    deficit (fund first, the rest bad debt of the market)."""
    size, entry = book.size, book.entry
    zero = zeros_like(size)
    partial_at = zero + partial_at
    this_block = np.broadcast_to(np.asarray(liquidated_this_block, dtype=bool), size.shape)
    iso = book.isolated.astype(bool)
    has = np.asarray(size != 0, dtype=bool)
    prices = zero + price
    owed = funding_owed(size, book.snapshot, state.long_funding_index, state.short_funding_index)
    margin = book.margin - owed
    eq = margin + unrealized_pnl(size, entry, prices)
    mm = maintenance_margin(size, prices, markets)
    eligible = has & iso & np.asarray(eq < mm, dtype=bool)
    used = zero + rate_limit_used
    limit = {"rate_limit_used": used} if np.any(np.asarray(used != 0, dtype=bool)) else {}
    close = close_size(size, prices, markets, partial_at, now, this_block, **limit)
    did = eligible & np.asarray(close > 0, dtype=bool)
    delta = where(size > 0, -close, close)
    skew = zero + state.skew
    fill = liquidation_fill(prices, skew, delta, markets.skew_scale,
                            markets.max_liquidation_impact_bps)  # fmt: skip
    new_size, new_entry, realized = apply_fill(size, entry, delta, fill)
    margin = margin + realized
    liq_notional = mul_div_down(close, fill, WAD)
    penalty = mul_div_up(liq_notional, markets.liquidation_penalty_bps, BPS)
    left = margin + unrealized_pnl(new_size, new_entry, prices)
    penalty = where(left <= 0, 0, where(penalty > left, left, penalty))
    margin = margin - penalty
    keeper, insurance, _ = penalty_split(penalty, markets.keeper_share_bps)
    flat = np.asarray(new_size == 0, dtype=bool)
    released = where(flat & np.asarray(margin >= 0, dtype=bool), margin, 0)
    deficit = where(flat & np.asarray(margin < 0, dtype=bool), -margin, 0)
    margin = where(flat, 0, margin)
    paid = minimum(wad_to_units_up(deficit), fund_balance)
    outcome = np.where(
        ~has,
        NO_POSITION,
        np.where(
            ~iso,
            WRONG_MARGIN_MODE,
            np.where(~eligible, NOT_LIQUIDATABLE, np.where(~did, NOTHING_NOW, OK)),
        ),
    )

    def done(x: Any) -> Any:
        return where(did, x, 0)

    return IsolatedLiquidation(
        outcome=outcome,
        closed=done(close),
        fill=done(fill),
        notional=done(liq_notional),
        realized=done(realized),
        penalty=done(penalty),
        keeper_reward=done(keeper),
        insurance_share=done(insurance),
        full=did & np.asarray(close == abs(size), dtype=bool),
        equity=done(margin + unrealized_pnl(new_size, new_entry, prices)),
        maintenance=done(maintenance_margin(new_size, prices, markets)),
        deficit=done(deficit),
        fund_paid=done(paid),
        bad_debt=done(where(paid >= deficit, 0, deficit - paid)),
        released=done(released),
        margin=where(did, margin, book.margin),
    )
