"""Auto-deleveraging and the per-market loss waterfall after a bankruptcy
(``VenueAdlModule.adl``, ``VenueMarket.adlScore`` / ``PerpVenue.adlRanking``,
``VenueLiquidationModule._absorbDeficit`` / ``_adlPrice`` / ``_socialize``), vectorized over
markets (and paths): market-level arrays have any shape ``S``, a market's winners lie along a
last axis ``W`` (shape ``S + (W,)``).

Public functions (signatures stable):

* :func:`adl_score` ``(size, entry, price, value)``: Hyperliquid's rank
  ``(mark/entry)·(notional/value)`` (shorts ``entry/mark``); :func:`ranking_score` the
  ``adlRanking`` view's (0 unless uPnL > 0 and value > 0); :func:`ranked` the order in which
  the ADL keeper passes winners (score non-increasing, stable).
* :func:`adl_price` ``(price_mode, longs_bankrupt, deficit, contracts, fill, previous_mark)``:
  the ``DeficitAttributed`` ADL price (``fill ± ⌈deficit/contracts⌉``, or the previous mark).
* :func:`absorb_deficit` ``(ledger, policy, price_mode, longs_bankrupt, deficit, paid,
  contracts, fill, previous_mark, open_interest, mark)`` → :class:`Absorbed`: the waterfall of
  one market's deficit share after the fund paid `paid`: SOCIALIZED charges
  ``⌈remaining/OI⌉`` per contract to both funding indices (refused when OI is 0 or the charge
  exceeds the mark: the remaining is recorded, then written off as final bad debt),
  CONTRACTS_QUEUE queues ``⌈contracts·remaining/deficit⌉`` contracts at the averaged ADL
  price (with none of the side queued, the bad debt is final at once), every other case
  records bad debt of the side.
* :func:`adl` ``(ledger, policy, longs_bankrupt, size, entry, value, owed, price, pool)`` →
  :class:`AdlRun`: one ``adl(market, longsBankrupt, winners)`` call per market, the winners
  in the order passed (queues: ranked; PRO_RATA: by address). PROFIT_QUEUE closes whole
  positions at the index and takes the whole profit until the haircuts cover the deficit;
  CONTRACTS_QUEUE closes only the queued contracts, each winner losing the gap between the
  index and the ADL price on them (at most its profit on them); PRO_RATA haircuts every
  profit by ``covered·profit/Σprofit`` (down, the remainder one wei each to the first winners
  below their profit), positions stay open re-entered at the index. A winner's profit is its
  uPnL capped at its account value. The overshoot (haircuts − covered) goes to the insurance
  fund in whole units, at most the pool's cash. A CONTRACTS_QUEUE call that offsets the
  side's last queued contracts writes the side's bad debt left off as final
  (``BadDebtFinalized``).

Inputs: ``ledger`` an :class:`AdlLedger`; ``policy`` :data:`NONE` ..
:data:`SOCIALIZED` and ``price_mode`` :data:`BANKRUPTCY_PRICE` / :data:`PREVIOUS_MARK` (the
contract's enum indices, int arrays); ``longs_bankrupt`` bool arrays; winners' ``size``
(signed, 0 = padding, padding only after the last winner), ``entry``, ``value`` (cross equity or
the isolated position's margin + uPnL − funding, as ``adlRanking`` reads it) and ``owed``
(funding the position owes now, which the call settles against the pool). Units WAD USD / WAD
base units / WAD prices. ``outcome`` codes (:data:`OUTCOMES`): the chain reverts unless OK.

Rounding (exact mode): the score's three WAD divisions/products down; the bankruptcy gap
up; queued contracts up, the averaged ADL price down; the per-contract charge up, charged
up; a contracts-queue haircut ``q·gap`` and ``profit·q/size`` down; notional ``q·price``
down; pro-rata shares down; the overshoot sent down to whole units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.mirror.fills import apply_fill, unrealized_pnl
from simulator.mirror.fixed import (
    WAD,
    Array,
    ceil_div,
    check,
    floor_div,
    minimum,
    mul_div_down,
    mul_div_up,
    safe,
    wad_to_units_down,
    where,
    zeros_like,
)

NONE, CONTRACTS_QUEUE, PROFIT_QUEUE, PRO_RATA, SOCIALIZED = range(5)
"""``IPerpVenueTypes.AdlPolicy`` indices."""
BANKRUPTCY_PRICE, PREVIOUS_MARK = range(2)
"""``IPerpVenueTypes.AdlPriceMode`` indices."""

OK, POLICY_NOT_CALLABLE, NO_DEFICIT, INELIGIBLE, OUT_OF_ORDER, BATCH_SIZE = range(6)
OUTCOMES = {
    OK: "ok",
    POLICY_NOT_CALLABLE: "AdlPolicyNotCallable",
    NO_DEFICIT: "NoDeficit",
    INELIGIBLE: "AdlIneligible",
    OUT_OF_ORDER: "AdlRankingOutOfOrder",
    BATCH_SIZE: "AdlBatchSize",
}


def _b(x: Any) -> Array:
    return np.asarray(x, dtype=bool)


# -- ranking ------------------------------------------------------------------------------------


def adl_score(size: Any, entry: Any, price: Any, value: Any) -> Any:
    """``VenueMarket.adlScore``: ``((price/entry or entry/price)·(|size|·price))/value``, each
    step a WAD product or quotient rounded down (entry, price, value > 0 where it counts; a
    zero denominator gives 0)."""
    long = size > 0
    num = where(long, price, entry)
    den = where(long, entry, price)
    ratio = floor_div(num * WAD, safe(den, den != 0))
    notional = mul_div_down(abs(size), price, WAD)
    return where(value > 0, floor_div(mul_div_down(ratio, notional, WAD) * WAD,
                                      safe(value, value > 0)), 0)  # fmt: skip


def ranking_score(size: Any, entry: Any, price: Any, value: Any) -> Any:
    """``adlRanking``'s score: :func:`adl_score` where uPnL > 0 and value > 0, else 0."""
    pnl = unrealized_pnl(size, entry, price)
    return where(_b(pnl > 0) & _b(value > 0), adl_score(size, entry, price, value), 0)


def ranked(score: Any) -> Array:
    """Indices along the last axis ordering winners by score, highest first (ties keep their
    order): the order the ADL keeper passes them to a queue."""
    s = np.asarray(score)
    key = -s.astype(np.float64) if s.dtype != object else -s
    return np.argsort(key, axis=-1, kind="stable")


# -- the waterfall of a deficit -------------------------------------------------------------------


@dataclass(frozen=True)
class AdlLedger:
    """The ADL fields of M markets' ``MarketLedger`` (arrays of shape S, WAD): the bad debt
    outstanding (awaiting ``adl``) and written off as final, per bankrupt side."""

    bad_debt_longs: Array
    bad_debt_shorts: Array
    adl_contracts_longs: Array
    adl_contracts_shorts: Array
    adl_price_longs: Array
    adl_price_shorts: Array
    final_bad_debt_longs: Array
    final_bad_debt_shorts: Array

    @classmethod
    def from_chain(cls, ledgers: list[dict[str, Any]], *, exact_mode: bool = True) -> AdlLedger:
        """From ``marketState(id).ledger`` dicts (chain names)."""
        from simulator.mirror.fixed import exact, fast

        conv = exact if exact_mode else fast
        names = {"bad_debt_longs": "badDebtLongs", "bad_debt_shorts": "badDebtShorts",
                 "adl_contracts_longs": "adlContractsLongs",
                 "adl_contracts_shorts": "adlContractsShorts",
                 "adl_price_longs": "adlPriceLongs", "adl_price_shorts": "adlPriceShorts",
                 "final_bad_debt_longs": "finalBadDebtLongs",
                 "final_bad_debt_shorts": "finalBadDebtShorts"}  # fmt: skip
        return cls(**{k: conv([int(d[v]) for d in ledgers]) for k, v in names.items()})

    def side(self, longs_bankrupt: Any) -> tuple[Any, Any, Any]:
        """(bad debt, queued contracts, ADL price) of the bankrupt side."""
        lb = _b(longs_bankrupt)
        return (
            where(lb, self.bad_debt_longs, self.bad_debt_shorts),
            where(lb, self.adl_contracts_longs, self.adl_contracts_shorts),
            where(lb, self.adl_price_longs, self.adl_price_shorts),
        )

    def final(self, longs_bankrupt: Any) -> Any:
        """The bankrupt side's final bad debt."""
        return where(_b(longs_bankrupt), self.final_bad_debt_longs, self.final_bad_debt_shorts)

    def with_side(self, longs_bankrupt: Any, bad_debt: Any, contracts: Any, price: Any,
                  final: Any = None):  # fmt: skip
        """The ledger with the bankrupt side's fields replaced (its final bad debt too, when
        ``final`` is given)."""
        lb = _b(longs_bankrupt)
        final = self.final(lb) if final is None else final
        return AdlLedger(
            bad_debt_longs=where(lb, bad_debt, self.bad_debt_longs),
            bad_debt_shorts=where(lb, self.bad_debt_shorts, bad_debt),
            adl_contracts_longs=where(lb, contracts, self.adl_contracts_longs),
            adl_contracts_shorts=where(lb, self.adl_contracts_shorts, contracts),
            adl_price_longs=where(lb, price, self.adl_price_longs),
            adl_price_shorts=where(lb, self.adl_price_shorts, price),
            final_bad_debt_longs=where(lb, final, self.final_bad_debt_longs),
            final_bad_debt_shorts=where(lb, self.final_bad_debt_shorts, final),
        )


def adl_price(price_mode: Any, longs_bankrupt: Any, deficit: Any, contracts: Any, fill: Any,
              previous_mark: Any) -> Any:  # fmt: skip
    """``_adlPrice`` in the liquidation's block: PREVIOUS_MARK the market's previous mark;
    BANKRUPTCY_PRICE ``fill + ⌈deficit/contracts⌉`` for longs, ``fill − gap`` (at least 1)
    for shorts, `fill` when no contracts were closed."""
    gap = ceil_div(deficit * WAD, safe(contracts, contracts != 0))
    short = where(fill > gap, fill - gap, 1)
    bankruptcy = where(contracts == 0, fill, where(_b(longs_bankrupt), fill + gap, short))
    return where(np.asarray(price_mode) == PREVIOUS_MARK, previous_mark, bankruptcy)


@dataclass(frozen=True)
class Absorbed:
    """One ``_absorbDeficit`` per market: the ``ledger`` after; ``DeficitAttributed``'s
    ``remaining`` (deficit − paid) and ``adl_price``; ``socialized`` (a ``LossSocialized``
    happened) with ``per_contract`` (added to both funding indices) and ``charged``
    (``AdlExecuted.haircuts``; overshoot ``charged − remaining``); ``queued`` contracts;
    ``finalized``: the side's outstanding bad debt written off as final (``BadDebtFinalized``'s
    amount, 0 for none; its total is the ledger's final bad debt of the side)."""

    ledger: AdlLedger
    remaining: Array
    adl_price: Array
    socialized: Array
    per_contract: Array
    charged: Array
    queued: Array
    finalized: Array


def absorb_deficit(
    ledger: AdlLedger,
    policy: Any,
    price_mode: Any,
    longs_bankrupt: Any,
    deficit: Any,
    paid: Any,
    contracts: Any,
    fill: Any,
    previous_mark: Any,
    open_interest: Any,
    mark: Any,
) -> Absorbed:
    """The loss waterfall of one deficit share per market (see the module docstring):
    `paid` the fund's part, `contracts` / `fill` the bankrupt position's closed size and fill,
    `open_interest` long + short after the liquidation's fills, `mark` the market's last mark
    (the index of the liquidation's block)."""
    policy = np.asarray(policy)
    remaining = where(paid >= deficit, 0, deficit - paid)
    price = adl_price(price_mode, longs_bankrupt, deficit, contracts, fill, previous_mark)
    some = _b(remaining != 0)
    per_unit = ceil_div(remaining * WAD, safe(open_interest, open_interest != 0))
    socialized = some & (policy == SOCIALIZED) & _b(open_interest != 0) & _b(per_unit <= mark)
    charged = mul_div_up(open_interest, per_unit, WAD)
    queue = some & (policy == CONTRACTS_QUEUE) & _b(contracts != 0)
    q = where(queue, ceil_div(contracts * remaining, safe(deficit, deficit != 0)), 0)
    bad, q0, p0 = ledger.side(longs_bankrupt)
    total = q0 + q
    averaged = floor_div(q0 * p0 + q * price, safe(total, total != 0))
    keeps = some & ~socialized
    outstanding = where(keeps, bad + remaining, bad)
    queued_after = where(queue, total, q0)
    # What no ``adl`` call could clear is final at once: a refused socialized charge, or the
    # contracts queue with none of the side's contracts left to offset.
    final_now = keeps & (
        (policy == SOCIALIZED) | ((policy == CONTRACTS_QUEUE) & _b(queued_after == 0))
    )
    finalized = where(final_now, outstanding, 0)
    after = ledger.with_side(
        longs_bankrupt,
        where(final_now, 0, outstanding),
        queued_after,
        where(queue, averaged, p0),
        ledger.final(longs_bankrupt) + finalized,
    )
    return Absorbed(
        ledger=after,
        remaining=remaining,
        adl_price=price,
        socialized=socialized,
        per_contract=where(socialized, per_unit, 0),
        charged=where(socialized, charged, 0),
        queued=q,
        finalized=finalized,
    )


# -- the ADL call ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdlRun:
    """One ``adl`` call per market. Per winner (S + (W,)): ``AdlHaircut``'s ``size_closed``
    (signed as the position; 0 for PRO_RATA and untouched winners), ``profit`` (uPnL capped
    at the account value), ``haircut``; ``touched``; the position after (``new_size``,
    ``new_entry``) and ``credit`` to the account's side (realized − haircut, or profit −
    haircut for PRO_RATA; an isolated position closed to 0 then returns its margin to the
    cross collateral; the funding owed is settled apart, as on chain). Per market (S):
    ``outcome`` (:data:`OUTCOMES`) and ``AdlExecuted``'s ``deficit``, ``minimum_haircut``,
    ``haircuts``, ``covered``, ``overshoot``, ``to_fund``, ``contracts``, ``notional``,
    ``accounts``; ``finalized``: the bad debt left written off as final when a
    CONTRACTS_QUEUE call offset the side's last queued contracts (``BadDebtFinalized``'s
    amount, 0 for none); the ``ledger`` after and the ``pool`` after (WAD)."""

    size_closed: Array
    profit: Array
    haircut: Array
    touched: Array
    new_size: Array
    new_entry: Array
    credit: Array
    outcome: Array
    deficit: Array
    minimum_haircut: Array
    haircuts: Array
    covered: Array
    overshoot: Array
    to_fund: Array
    contracts: Array
    notional: Array
    accounts: Array
    finalized: Array
    ledger: AdlLedger
    pool: Array


def _exclusive_cumsum(x: Array) -> Array:
    c = np.cumsum(x, axis=-1)
    return c - x


def adl(
    ledger: AdlLedger,
    policy: Any,
    longs_bankrupt: Any,
    size: Any,
    entry: Any,
    value: Any,
    owed: Any,
    price: Any,
    pool: Any,
    max_accounts: Any = None,
) -> AdlRun:
    """``adl(market, longsBankrupt, winners)`` per market at index `price` (S), the winners
    (S + (W,)) in the order passed, the venue's `pool` cash before the call (WAD; the fund is
    assumed present); `max_accounts` the market's ``maxAdlAccountsPerCall`` (None: no bound).
    An empty batch or one above the bound is ``AdlBatchSize``. See the module docstring."""
    policy = np.asarray(policy)
    lb = _b(longs_bankrupt)
    zero_w = zeros_like(size)
    pol = policy[..., None]
    p = price[..., None] if isinstance(price, np.ndarray) and np.ndim(price) else price
    present = _b(size != 0)
    winners_long = ~lb[..., None]
    pnl = unrealized_pnl(size, entry, p)
    eligible = present & (_b(size > 0) == winners_long) & _b(pnl > 0) & _b(value > 0)
    profit = where(eligible, minimum(pnl, value), 0)
    total_profit = profit.sum(axis=-1)
    score = where(eligible, adl_score(size, entry, p, value), 0)
    bad, queued, px = ledger.side(lb)
    deficit = where((policy == CONTRACTS_QUEUE) & _b(queued == 0), 0, bad)
    callable_ = (policy == CONTRACTS_QUEUE) | (policy == PROFIT_QUEUE) | (policy == PRO_RATA)
    any_ineligible = (present & ~eligible).any(axis=-1)
    prev = np.concatenate([score[..., :1], score[..., :-1]], axis=-1)
    queue_mode = (policy == CONTRACTS_QUEUE) | (policy == PROFIT_QUEUE)
    out_of_order = (queue_mode[..., None] & present & _b(score > prev)).any(axis=-1)
    width = size.shape[-1]
    first_ineligible = np.where(any_ineligible, np.argmax(present & ~eligible, axis=-1), width)
    misordered = queue_mode[..., None] & present & _b(score > prev)
    first_misordered = np.where(out_of_order, np.argmax(misordered, axis=-1), width)
    count = present.sum(axis=-1)
    bad_batch = count == 0
    if max_accounts is not None:
        bad_batch = bad_batch | (count > np.asarray(max_accounts))
    outcome = np.where(
        ~callable_,
        POLICY_NOT_CALLABLE,
        np.where(
            bad_batch,
            BATCH_SIZE,
            np.where(
                _b(deficit == 0),
                NO_DEFICIT,
                np.where(
                    any_ineligible & (first_ineligible <= first_misordered),
                    INELIGIBLE,
                    np.where(out_of_order, OUT_OF_ORDER, OK),
                ),
            ),
        ),
    )
    abs_size = abs(size)
    # PROFIT_QUEUE: whole positions until the haircuts reach the deficit
    before = _exclusive_cumsum(profit)
    pq_touch = eligible & _b(before < deficit[..., None])
    # CONTRACTS_QUEUE: the queued contracts in order
    left = queued[..., None] - _exclusive_cumsum(abs_size)
    left = where(left > 0, left, 0)
    cq_touch = eligible & _b(left > 0)
    q_cq = minimum(abs_size, left)
    gap = where(winners_long, where(p > px[..., None], p - px[..., None], 0),
                where(px[..., None] > p, px[..., None] - p, 0))  # fmt: skip
    cut_cq = minimum(
        mul_div_down(q_cq, gap, WAD),
        floor_div(profit * q_cq, safe(abs_size, abs_size != 0)),
    )
    is_cq = pol == CONTRACTS_QUEUE
    touched = where(is_cq, cq_touch, pq_touch).astype(bool) & (pol != PRO_RATA)
    q = where(touched, where(is_cq, q_cq, abs_size), 0)
    cut_q = where(touched, where(is_cq, cut_cq, profit), 0)
    delta = where(size > 0, -q, q)
    new_size, new_entry, realized = apply_fill(size, entry, delta, p + zero_w)
    # PRO_RATA: shares of the covered deficit, the remainder one wei each in order
    covered_pr = minimum(deficit, total_profit)
    shares = where(eligible, floor_div(covered_pr[..., None] * profit,
                                       safe(total_profit, total_profit != 0)[..., None]), 0)  # fmt: skip
    rest = covered_pr - shares.sum(axis=-1)
    below = eligible & _b(shares < profit)
    rank_below = np.cumsum(below, axis=-1)
    extra = below & _b(rank_below <= np.asarray(rest)[..., None])
    cut_pr = shares + where(extra, 1 if check(size) else 1.0, 0)
    pro = pol == PRO_RATA
    haircut = where(pro, where(eligible, cut_pr, 0), cut_q)
    haircuts = haircut.sum(axis=-1)
    credit = where(pro, profit - haircut, where(touched, realized - cut_q, 0))
    covered = minimum(haircuts, deficit)
    overshoot = haircuts - covered
    pool_after = pool + where(eligible, owed, 0).sum(axis=-1) - credit.sum(axis=-1)
    send = minimum(overshoot, where(pool_after > 0, pool_after, 0))
    to_fund = where(_b(overshoot != 0) & _b(pool_after > 0), wad_to_units_down(send), 0)
    contracts = q.sum(axis=-1)
    notional = mul_div_down(q, p, WAD).sum(axis=-1)
    accounts = where(pro, present, touched).sum(axis=-1)
    ok = outcome == OK
    okw = ok[..., None]
    # The side's last queued contracts offset: the bad debt left is final (no call clears it).
    offset = ok & (policy == CONTRACTS_QUEUE) & _b(queued - contracts == 0)
    finalized = where(offset, bad - covered, 0)
    after = ledger.with_side(
        lb,
        where(ok, where(offset, 0, bad - covered), bad),
        where(ok & (policy == CONTRACTS_QUEUE), queued - contracts, queued),
        px,
        ledger.final(lb) + finalized,
    )

    def m(x: Any) -> Any:
        return where(ok, x, 0)

    def w(x: Any) -> Any:
        return where(okw, x, 0)

    return AdlRun(
        size_closed=w(where(size > 0, q, -q)),
        profit=w(profit),
        haircut=w(haircut),
        touched=okw & where(pro, present, touched).astype(bool),
        new_size=where(okw & ~pro, new_size, size),
        new_entry=where(
            okw & where(pro, present, touched).astype(bool),
            where(pro, p + zero_w, new_entry),
            entry,
        ),
        credit=w(credit),
        outcome=outcome,
        deficit=m(deficit),
        minimum_haircut=m(minimum(deficit, total_profit)),
        haircuts=m(haircuts),
        covered=m(covered),
        overshoot=m(overshoot),
        to_fund=m(to_fund),
        contracts=m(contracts),
        notional=m(notional),
        accounts=np.where(ok, accounts, 0),
        finalized=finalized,
        ledger=after,
        pool=where(ok, pool_after - to_fund, pool),
    )
