"""Stateful invariant test (hypothesis) of the lending pool: random supplies, supply
withdrawals, collateral posts, borrows, repayments, price moves, time passing with interest,
and liquidations by anyone. Checked after every step, to the wei:

* the pool's stablecoin balance is its cash, and its WETH balance the sum of the accounts'
  collateral (conservation: nothing enters or leaves but through the entry points);
* every stablecoin unit ever minted is held by an actor, the liquidator or the pool;
* ``totalAssets == cash + totalDebt`` and ``totalDebt <= Σ debtOf <= totalDebt + accounts``
  (each debt rounds up, the total down);
* an account without collateral owes nothing (its debt was written off as bad debt);
* ``totalBadDebt`` never falls; a liquidation succeeds iff the health factor is below 1, and a
  borrow within the capacity and the cash succeeds -- both on the block the call runs in: the
  interest accrued since the read on the block before (seconds, at the node's clock) may take
  an account within a millionth of 1 across, or use a borrow's last units of headroom (then
  checked on that block).

``make test`` runs 40 derandomized sequences of 12 steps.
"""

from __future__ import annotations

from contagion_helpers import (
    ADMIN,
    LIQUIDATOR,
    PoolWorld,
    send,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from perp_helpers import TRADERS, WAD, usd, wad

ACTORS = TRADERS[20:24]
EXAMPLES = 40
ALLOWED_BORROW_ERRORS = {"InsufficientCollateral", "InsufficientCash"}


class PoolMachine(RuleBasedStateMachine):
    world: PoolWorld = None
    examples = 0
    #: Successful liquidations and bad-debt write-offs over all examples.
    liquidations = 0
    write_offs = 0

    def __init__(self):
        super().__init__()
        PoolMachine.examples += 1
        self.chain = self.world.chain
        self.snapshot = self.chain.snapshot()
        self.bad_debt = 0

    def teardown(self):
        self.chain.revert(self.snapshot)

    @property
    def pool(self):
        return self.world.pool

    # -- rules -----------------------------------------------------------------------------

    @initialize(shares=st.lists(st.integers(50, 100), min_size=len(ACTORS), max_size=len(ACTORS)))
    def open_book(self, shares):
        """The first actor supplies 100,000 USD; every actor posts 1 WETH and borrows 50-100%
        of its borrowing power, so that price moves make liquidations and bad debt."""
        self.world.supply(ACTORS[0], usd(100_000))
        for who, share in zip(ACTORS, shares, strict=True):
            self.world.post(who, wad(1))
            self.borrow(who, share)

    @rule(who=st.sampled_from(ACTORS), dollars=st.integers(1, 50_000))
    def supply(self, who, dollars):
        self.world.supply(who, usd(dollars))

    @rule(who=st.sampled_from(ACTORS), share=st.integers(1, 100))
    def withdraw_supply(self, who, share):
        amount = self.pool.read("maxWithdraw", who) * share // 100
        if amount:
            send(self.chain, self.pool.call(who, "withdraw", amount, who, who))

    @rule(who=st.sampled_from(ACTORS), milli=st.integers(1, 5_000))
    def post(self, who, milli):
        self.world.post(who, wad(milli) // 1_000)

    @rule(who=st.sampled_from(ACTORS), share=st.integers(1, 110))
    def borrow(self, who, share):
        _, capacity, _, debt_value = self.pool.read("accountLiquidity", who)
        amount = max(capacity - debt_value, 0) * share // 100 // 10**12
        if amount == 0:
            return
        cash = self.pool.read("cash")
        r = self.chain.execute_one(self.pool.call(who, "borrow", amount))
        assert r.ok or r.error.name in ALLOWED_BORROW_ERRORS, r.error
        if share <= 100 and amount <= cash and not r.ok:
            # Within the capacity read on the last block and the cash: refused only when the
            # interest accrued up to the borrow's own block (a later timestamp) used the rest of
            # the headroom, up to the borrower's rounding (its debt rounds up to a whole unit):
            # what the account's liquidity on that block (the refused borrow changed nothing)
            # must show.
            _, capacity, _, debt_value = self.pool.read("accountLiquidity", who)
            assert r.error.name == "InsufficientCollateral", r.error
            assert (amount + 1) * 10**12 > capacity - debt_value, (r.error, capacity, debt_value)

    @rule(who=st.sampled_from(ACTORS), share=st.integers(1, 120))
    def repay(self, who, share):
        debt = self.world.debt(who)
        if debt == 0:
            return
        amount = max(debt * share // 100, 1)
        send(
            self.chain,
            *self.world.fund_stable(who, amount),
            self.pool.call(who, "repay", who, amount),
        )

    @rule(price=st.integers(300, 3_000))
    def move_price(self, price):
        self.world.push(price)

    @rule(days=st.integers(1, 60), price=st.integers(300, 3_000))
    def time_passes(self, days, price):
        self.chain.advance_time(days * 86_400)
        self.world.push(price)  # a fresh price, else the oracle is stale
        send(self.chain, self.pool.call(ADMIN, "accrueInterest"))

    @rule(who=st.sampled_from(ACTORS), share=st.integers(1, 100))
    def liquidate(self, who, share):
        debt = self.world.debt(who)
        if debt == 0 or self.pool.read("collateralOf", who, self.world.weth.address) == 0:
            return
        hf = self.world.hf(who)
        amount = max(debt * share // 100, 1)
        calls = self.world.fund_stable(LIQUIDATOR, amount)
        calls.append(
            self.pool.call(LIQUIDATOR, "liquidate", who, self.world.weth.address, amount, 0)
        )
        r = self.chain.execute(calls)[-1]
        # Healthy on the last block: refused, unless the interest accrued up to the
        # liquidation's own block (seconds later) took the health factor below 1, which needs
        # it within a millionth of 1 on the last block.
        if hf >= WAD and r.ok:
            assert hf < WAD + WAD // 10**6, hf
        if hf < WAD or r.ok:
            assert r.ok, r.error
            PoolMachine.liquidations += 1
            PoolMachine.write_offs += any(e.name == "BadDebtRecorded" for e in r.events)
        else:
            assert r.error.name == "NotLiquidatable", r.error

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def conservation(self):
        w = self.world
        holders = [*ACTORS, LIQUIDATOR, w.pool.address]
        views = [w.stable.balance_of(h) for h in holders]
        views += [w.stable.total_supply(), w.weth.view("balanceOf", w.pool.address)]
        views += [w.pool.view("collateralOf", a, w.weth.address) for a in ACTORS]
        views += [w.pool.view("debtOf", a) for a in ACTORS]
        views += [w.pool.view(n) for n in ("cash", "totalAssets", "totalDebt", "totalBadDebt")]
        values = self.chain.read(views)
        n = len(holders)
        balances, (supply, pool_weth) = values[:n], values[n : n + 2]
        collateral = values[n + 2 : n + 2 + len(ACTORS)]
        debts = values[n + 2 + len(ACTORS) : n + 2 + 2 * len(ACTORS)]
        cash, total_assets, total_debt, bad_debt = values[-4:]
        assert sum(balances) == supply
        assert balances[-1] == cash
        assert pool_weth == sum(collateral)
        assert total_assets == cash + total_debt
        assert total_debt <= sum(debts) <= total_debt + len(ACTORS)
        for c, d in zip(collateral, debts, strict=True):
            assert c > 0 or d == 0
        assert bad_debt >= self.bad_debt
        self.bad_debt = bad_debt


def test_lending_pool_invariants_hold_under_random_actions(chain, pw):
    send(pw.chain, pw.pool.call(ADMIN, "setInterestRateModel", wad("0.05"), wad("0.5")))
    PoolMachine.world = pw
    PoolMachine.examples = PoolMachine.liquidations = PoolMachine.write_offs = 0
    run_state_machine_as_test(
        PoolMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        ),
    )
    assert PoolMachine.examples >= EXAMPLES
    print(
        f"\npool invariants: {PoolMachine.liquidations} liquidations, {PoolMachine.write_offs} write-offs"
    )
    # the sequences reach the paths the invariants are about
    assert PoolMachine.liquidations > 0 and PoolMachine.write_offs > 0
