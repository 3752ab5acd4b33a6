"""The ADL keeper's calls on the mirror (``adlRanking`` and ``adl``, the math of
:mod:`simulator.mirror.adl`): a mixin of :class:`~simulator.mirror.sim.venue.VenueState`."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.mirror import adl as mirror_adl
from simulator.mirror import fills, funding
from simulator.mirror.fixed import UNIT
from simulator.mirror.markets import MarketState
from simulator.mirror.sim.calls import Reverted, error_text


class AdlMixin:
    """``adlRanking`` and ``adl`` on the venue's state."""

    # -- auto-deleveraging ------------------------------------------------------------------------

    def ledgers(self) -> list[dict[str, Any]]:
        """Every market's ledger fields the ADL keeper reads (chain names, WAD integers)."""
        longs, shorts = self.bad_debt_longs.tolist(), self.bad_debt_shorts.tolist()
        contracts, final = self.adl_contracts.tolist(), self.final_bad_debt.tolist()
        return [
            {"badDebtLongs": int(longs[m]), "badDebtShorts": int(shorts[m]),
             "adlContractsLongs": int(contracts[m][0]),
             "adlContractsShorts": int(contracts[m][1]),
             "finalBadDebtLongs": int(final[m][0]), "finalBadDebtShorts": int(final[m][1])}
            for m in range(self.n_markets)
        ]  # fmt: skip

    def _adl_ledger(self, m: int) -> mirror_adl.AdlLedger:
        """Market ``m``'s ADL ledger fields as the kernels take them (arrays of one)."""
        x = self.conv
        return mirror_adl.AdlLedger(
            x([self.bad_debt_longs[m]]), x([self.bad_debt_shorts[m]]),
            x([self.adl_contracts[m, 0]]), x([self.adl_contracts[m, 1]]),
            x([self.adl_price[m, 0]]), x([self.adl_price[m, 1]]),
            x([self.final_bad_debt[m, 0]]), x([self.final_bad_debt[m, 1]]),
        )  # fmt: skip

    def _set_adl_ledger(self, m: int, ledger: mirror_adl.AdlLedger) -> None:
        """Market ``m``'s ADL ledger fields from ``ledger``; in fast mode a bad debt below a
        collateral unit, or queued contracts within 1e-12 of their value before, are the float
        residue of a deficit covered or contracts offset exactly (0 in exact mode): 0."""
        debt = [ledger.bad_debt_longs[0], ledger.bad_debt_shorts[0]]
        contracts = [ledger.adl_contracts_longs[0], ledger.adl_contracts_shorts[0]]
        if not self.exact_mode:
            debt = [0.0 if abs(x) < UNIT else x for x in debt]
            contracts = [0.0 if abs(x) <= 1e-12 * abs(old) else x
                         for x, old in zip(contracts, self.adl_contracts[m], strict=True)]  # fmt: skip
        self.bad_debt_longs[m], self.bad_debt_shorts[m] = debt
        self.adl_contracts[m, 0], self.adl_contracts[m, 1] = contracts
        self.adl_price[m, 0] = ledger.adl_price_longs[0]
        self.adl_price[m, 1] = ledger.adl_price_shorts[0]
        self.final_bad_debt[m, 0] = ledger.final_bad_debt_longs[0]
        self.final_bad_debt[m, 1] = ledger.final_bad_debt_shorts[0]

    def _finalize_if_final(self, m: int, longs_bankrupt: bool) -> tuple[Any, Any] | None:
        """The end of ``_absorbDeficit`` after a bad debt was recorded: under SOCIALIZED (the
        charge was refused) or CONTRACTS_QUEUE with none of the side's contracts queued, the
        side's outstanding bad debt is written off as final (``_finalizeBadDebt``): its
        ``BadDebtFinalized`` (amount, total), or None."""
        policy = int(self.adl_policy[m])
        side = 0 if longs_bankrupt else 1
        if not (policy == mirror_adl.SOCIALIZED
                or (policy == mirror_adl.CONTRACTS_QUEUE and self.adl_contracts[m, side] == 0)):  # fmt: skip
            return None
        bad = self.bad_debt_longs if longs_bankrupt else self.bad_debt_shorts
        amount = bad[m]
        if amount == 0:
            return None
        bad[m] = amount * 0
        self.final_bad_debt[m, side] = self.final_bad_debt[m, side] + amount
        return amount, self.final_bad_debt[m, side]

    def _values(self, accounts: np.ndarray, m: int, f: MarketState) -> Any:
        """Each account's value as the ADL call reads it: cross equity, or the isolated
        position's margin + uPnL − funding owed (WAD)."""
        eq, _, _ = self.cross_health(accounts, f, initial=False)
        ieq, _ = self.isolated_health(accounts, np.full(len(accounts), m), f)
        return np.where(self.isolated[accounts, m], ieq, eq)

    def adl_ranking(self, m: int, accounts: np.ndarray) -> tuple[Any, Any]:
        """``adlRanking(market, accounts)``: (scores, uPnL) at the last price and funding now."""
        accounts = np.asarray(accounts, dtype=np.int64)
        f = self.funding()
        size, entry = self.size[accounts, m], self.entry[accounts, m]
        price = self.price[m]
        pnl = fills.unrealized_pnl(size, entry, price)
        scores = mirror_adl.ranking_score(size, entry, price, self._values(accounts, m, f))
        return scores, pnl

    def adl(self, m: int, longs_bankrupt: bool, accounts: list[int]) -> dict[str, Any]:
        """``adl(market, longsBankrupt, winners)``: the winners' haircuts (``AdlHaircut``:
        account, size closed, price, haircut), ``AdlExecuted``'s fields and the
        ``BadDebtFinalized`` (amount, total) of a contracts queue whose last contracts the call
        offset (None: none); raises :class:`Reverted` as the contract does."""
        policy = int(self.adl_policy[m])
        bad = self.bad_debt_longs[m] if longs_bankrupt else self.bad_debt_shorts[m]
        n, most = len(accounts), int(self.max_adl_accounts[m])
        if policy not in (mirror_adl.PROFIT_QUEUE, mirror_adl.PRO_RATA, mirror_adl.CONTRACTS_QUEUE):
            raise Reverted(error_text("AdlPolicyNotCallable", market=m + 1, policy=policy))
        if n == 0 or n > most:
            raise Reverted(error_text("AdlBatchSize", given=n, maximum=most))
        queued = self.adl_contracts[m, 0 if longs_bankrupt else 1]
        if bad == 0 or (policy == mirror_adl.CONTRACTS_QUEUE and queued == 0):
            raise Reverted(error_text("NoDeficit", market=m + 1, longsBankrupt=longs_bankrupt))
        self.fresh(m)
        f = self.funding()
        a = np.asarray(accounts, dtype=np.int64)
        size, entry = self.size[a, m], self.entry[a, m]
        pnl = fills.unrealized_pnl(size, entry, self.price[m])
        for i, w in enumerate(a):  # _winner: eligibility, then the cross value at fresh prices
            if size[i] == 0 or (size[i] > 0) == longs_bankrupt or not pnl[i] > 0:
                break
            if not self.isolated[w, m]:
                self.fresh_cross(int(w))
        owed = funding.funding_owed(size, self.snapshot[a, m], f.long_funding_index[m],
                                    f.short_funding_index[m])  # fmt: skip
        value = self._values(a, m, f)
        ledger = self._adl_ledger(m)
        self._refuse_flat_winner(ledger, policy, longs_bankrupt, a, m, size, entry, value, owed)
        run = mirror_adl.adl(ledger, np.array([policy]), np.array([longs_bankrupt]),
                             size[None, :], entry[None, :], value[None, :], owed[None, :],
                             self.conv([self.price[m]]), self.conv([self.pool]),
                             max_accounts=np.array([most]))  # fmt: skip
        outcome = int(run.outcome[0])
        if outcome != mirror_adl.OK:
            raise Reverted(self._adl_error(outcome, a, m, size, entry, value))
        if self.exact_mode:
            self.accrue(np.arange(self.n_markets) == m, f)
        else:
            self._accrue_one(m, f)
        li, si = f.long_funding_index[m], f.short_funding_index[m]
        haircuts = []
        for i, w in enumerate(a):
            old = size[i]
            if self.isolated[w, m]:
                self.margin[w, m] = self.margin[w, m] - owed[i]
            else:
                self.collateral[w] = self.collateral[w] - owed[i]
            self.snapshot[w, m] = li if old >= 0 else si
            if not run.touched[0, i]:
                continue
            new = run.new_size[0, i]
            self._move_oi(m, old, new, int(w))
            self.size[w, m], self.entry[w, m] = new, run.new_entry[0, i]
            if self.isolated[w, m]:
                self.margin[w, m] = self.margin[w, m] + run.credit[0, i]
            else:
                self.collateral[w] = self.collateral[w] + run.credit[0, i]
            if new == 0:
                self.partial_at[w, m] = 0
                if self.isolated[w, m]:
                    self.collateral[w] = self.collateral[w] + self.margin[w, m]
                    self.margin[w, m] = self.margin[w, m] * 0
                    self.isolated[w, m] = False
            haircuts.append((int(w), run.size_closed[0, i], self.price[m], run.haircut[0, i]))
        side = 0 if longs_bankrupt else 1
        final_before = self.final_bad_debt[m, side]
        self._set_adl_ledger(m, run.ledger)
        finalized = run.finalized[0]
        if not self.exact_mode and abs(finalized) < UNIT:
            # Float residue of a deficit covered exactly (0 in exact mode): nothing is final.
            finalized = 0.0
            self.final_bad_debt[m, side] = final_before
        self.pool = run.pool[0]
        self.fund = self.fund + self._whole_units(run.to_fund[0])
        executed = {k: getattr(run, k)[0] for k in ("deficit", "minimum_haircut", "haircuts",
                                                    "covered", "overshoot", "to_fund",
                                                    "contracts", "notional", "accounts")}  # fmt: skip
        executed["policy"] = policy
        final = None
        if finalized != 0:  # ``BadDebtFinalized``: the contracts are all offset
            final = (finalized, self.final_bad_debt[m, side])
        return {"haircuts": haircuts, "executed": executed, "final": final}

    def _refuse_flat_winner(self, ledger, policy, longs_bankrupt, a, m, size, entry, value, owed):
        """A winner passed with no position (the market-making vault after a liquidation, say)
        is ``AdlIneligible`` in the contract's loop, unless a winner before it fails first (the
        kernel treats a size of 0 as an empty slot of the batch, so the prefix before it is
        run through the kernel for that)."""
        flat = np.flatnonzero(np.array([x == 0 for x in size], dtype=bool))
        if not len(flat):
            return
        j = int(flat[0])
        if j > 0:
            run = mirror_adl.adl(ledger, np.array([policy]), np.array([longs_bankrupt]),
                                 size[None, :j], entry[None, :j], value[None, :j],
                                 owed[None, :j], self.conv([self.price[m]]),
                                 self.conv([self.pool]))  # fmt: skip
            outcome = int(run.outcome[0])
            if outcome in (mirror_adl.INELIGIBLE, mirror_adl.OUT_OF_ORDER):
                raise Reverted(self._adl_error(outcome, a[:j], m, size[:j], entry[:j], value[:j]))
        raise Reverted(error_text("AdlIneligible", account=self.address(int(a[j])), size=size[j],
                                  unrealizedPnl=size[j] * 0))  # fmt: skip

    def _adl_error(self, outcome: int, a, m: int, size, entry, value) -> str:
        """The text of an ``adl`` call's revert (the kernel's outcome, with the contract's
        arguments: the first winner out of order or ineligible)."""
        name = mirror_adl.OUTCOMES[outcome]
        price = self.price[m]
        pnl = fills.unrealized_pnl(size, entry, price)
        if outcome == mirror_adl.INELIGIBLE:
            winners_long = bool(size[0] > 0) if len(size) else True
            for i in range(len(a)):
                if (size[i] > 0) != winners_long or not pnl[i] > 0 or not value[i] > 0:
                    return error_text(name, account=self.address(int(a[i])), size=size[i],
                                      unrealizedPnl=pnl[i])  # fmt: skip
        if outcome == mirror_adl.OUT_OF_ORDER:
            scores = mirror_adl.adl_score(size, entry, price, value)
            previous = 2**256 - 1
            for i, score in enumerate(scores):
                if score > previous:
                    return error_text(name, index=i, previousScore=previous, score=score)
                previous = score
        return f"{name}()"
