"""Stateful invariant test (hypothesis) of the multi-market venue: random deposits, withdrawals,
cross and isolated trades in three markets, price moves per market and common shocks,
liquidations (cross and isolated), backstop takeovers and ADL, one venue per ADL policy.

Checked after every step, to the wei:

* cash: ``totalCollateral + pool + protocolFees == net flows == venue token balance × 1e12``;
* the accounts' cross collateral and isolated margins sum to ``totalCollateral``;
* each market's open interest equals the sum of its positions per side;
* a liquidation goes through only for an account below maintenance and is refused above it;
* a withdrawal never leaves an account with cross positions under its initial margin;
* accounts not named by a liquidation or takeover do not move;
* every ADL event has ``overshoot = haircuts − covered`` and covers at most the deficit.

``make test`` runs 200 derandomized sequences (the same every run); PERPSIM_SOAK=1 explores at
random, PERPSIM_SOAK_EXAMPLES sequences.
"""

from __future__ import annotations

import os
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from perp_helpers import KEEPER, TRADERS, WAD, events, ok, usd
from venue_helpers import ADL, ADL_KEEPER, VAULT, MarketSpec, deploy_multi

SOAK = os.environ.get("PERPSIM_SOAK") == "1"
EXAMPLES = int(os.environ.get("PERPSIM_SOAK_EXAMPLES", "10000")) if SOAK else 200

ACTORS = TRADERS[30:36]
ACCOUNTS = ACTORS + [VAULT]
MARKETS = [1, 2, 3]
POLICIES = ["none", "contracts_queue", "profit_queue", "pro_rata", "socialized"]
#: Equity may move by funding between the read and the block acting on it (fraction of notional).
SLACK = Fraction(1, 10**4)
PARAMS = {
    "skewScale": 2_000 * WAD, "takerFeeBps": 5, "insuranceFeeShareBps": 2_000,
    "maxFundingVelocity": WAD // 2, "maxFundingRatePerHour": WAD // 100,
    "partialLiquidationThreshold": 20_000 * WAD, "liquidationCooldown": 30,
    "maxLongOpenInterest": 400 * WAD, "maxShortOpenInterest": 300 * WAD,
    "keeperShareBps": 4_000, "maxLiquidationImpactBps": 300,
}  # fmt: skip
ALLOWED_TRADE_ERRORS = {"InsufficientMargin", "OpenInterestCapExceeded", "InvalidFillPrice",
                        "InsufficientBalance", "TooManyPositions", "WrongMarginMode"}  # fmt: skip


def _specs(policy: str) -> list[MarketSpec]:
    p = {**PARAMS, "adlPolicy": ADL[policy]}
    return [MarketSpec("BTC", 1_000, p), MarketSpec("ETH", 100, p), MarketSpec("SOL", 10, p)]


class VenueMachine(RuleBasedStateMachine):
    chain = None
    venues: dict = {}
    examples = 0

    def __init__(self):
        super().__init__()
        VenueMachine.examples += 1
        self.snapshot = self.chain.snapshot()
        self.mv = None

    def teardown(self):
        self.chain.revert(self.snapshot)

    # -- reads -----------------------------------------------------------------------------

    def prices(self) -> dict[int, int]:
        return {m: self.mv.venue.market_now(m)["indexPrice"] for m in MARKETS}

    def state(self) -> dict:
        """Everything the invariants read, in one batched round trip."""
        v, mv = self.mv.venue, self.mv
        who = ACCOUNTS + [KEEPER]
        views = [v.view("accounting"), mv.collateral.balance_of(v.address)]
        views += [v.view("collateralOf", a) for a in who] + [v.view("positionsOf", a) for a in who]
        views += [v.view("marketState", m) for m in MARKETS]
        out = self.chain.read(views)
        n = len(who)
        return {
            "accounting": v.as_dict("accounting", out[0]),
            "balance": out[1],
            "collateral": dict(zip(who, out[2 : 2 + n], strict=True)),
            "positions": dict(zip(who, out[2 + n : 2 + 2 * n], strict=True)),
            "markets": dict(
                zip(MARKETS, [v.as_dict("marketState", x) for x in out[2 + 2 * n :]], strict=True)
            ),
        }

    def balances(self) -> dict[str, tuple]:
        st_ = self.state()
        return {
            a: (st_["collateral"][a], tuple(tuple(p[:5]) for p in st_["positions"][a]))
            for a in ACCOUNTS
        }

    def health(self, who):
        eq, mm, _ = self.mv.venue.health_now(who)
        notional = 0
        for p in self.mv.venue.read("positionsOf", who):
            if not p[4]:
                notional += abs(p[1]) * self.mv.venue.market_now(p[0])["indexPrice"] // WAD
        return eq, mm, notional

    def untouched(self, before, exclude):
        after = self.balances()
        for a in ACCOUNTS:
            if a not in exclude and not before[a][1]:
                assert after[a] == before[a], f"{a} moved: {before[a]} -> {after[a]}"

    # -- setup -------------------------------------------------------------------------------

    @initialize(
        policy=st.sampled_from(POLICIES),
        deposits=st.lists(st.integers(500, 20_000), min_size=len(ACTORS), max_size=len(ACTORS)),
        book=st.lists(
            st.tuples(st.sampled_from(MARKETS), st.integers(-12, 12)), min_size=3, max_size=12
        ),
    )
    def open_book(self, policy, deposits, book):
        self.policy = policy
        self.mv = self.venues[policy]
        v = self.mv.venue
        calls = self.mv.fund_calls(ACCOUNTS, usd(10_000_000))
        calls += [v.deposit(a, usd(d)) for a, d in zip(ACTORS, deposits, strict=True)]
        calls.append(v.deposit(VAULT, usd(50_000)))
        prices = {1: 1_000, 2: 100, 3: 10}
        for i, (m, lev) in enumerate(book):
            who = ACTORS[i % len(ACTORS)]
            if lev:
                calls.append(
                    v.trade(who, m, lev * deposits[i % len(ACTORS)] * WAD // (3 * prices[m]))
                )
        for r in self.chain.execute(calls):
            assert r.ok or r.error.name in ALLOWED_TRADE_ERRORS, r.error

    # -- actions ---------------------------------------------------------------------------

    @rule(who=st.sampled_from(ACTORS), amount=st.integers(1, 20_000))
    def deposit(self, who, amount):
        ok([self.chain.execute_one(self.mv.venue.deposit(who, usd(amount)))])

    @rule(who=st.sampled_from(ACTORS), amount=st.integers(1, 20_000))
    def withdraw(self, who, amount):
        r = self.chain.execute_one(self.mv.venue.withdraw(who, usd(amount)))
        if r.ok:
            eq, _, im = self.mv.venue.health_now(who)
            assert im == 0 or eq >= im, f"withdrawal left equity {eq} under initial margin {im}"
        else:
            assert r.error.name in {"InsufficientBalance", "InsufficientMargin"}, r.error

    @rule(
        who=st.sampled_from(ACTORS),
        market=st.sampled_from(MARKETS),
        lev=st.integers(-25, 25).filter(bool),
    )
    def trade(self, who, market, lev):
        v = self.mv.venue
        price = v.market_now(market)["indexPrice"]
        base = max(v.collateral_now(who), 100 * WAD)
        r = self.chain.execute_one(v.trade(who, market, lev * base * WAD // (3 * price)))
        if not r.ok:
            assert r.error.name in ALLOWED_TRADE_ERRORS | {"ZeroAmount"}, r.error

    @rule(
        who=st.sampled_from(ACTORS),
        market=st.sampled_from(MARKETS),
        lev=st.integers(-15, 15).filter(bool),
        margin=st.integers(0, 3_000),
    )
    def trade_isolated(self, who, market, lev, margin):
        v = self.mv.venue
        price = v.market_now(market)["indexPrice"]
        size = lev * max(margin, 50) * WAD * WAD // price
        r = self.chain.execute_one(v.trade_isolated(who, market, size, margin * WAD))
        if not r.ok:
            assert r.error.name in ALLOWED_TRADE_ERRORS | {"ZeroAmount"}, r.error

    @rule(who=st.sampled_from(ACTORS), market=st.sampled_from(MARKETS))
    def close(self, who, market):
        r = self.chain.execute_one(self.mv.venue.close_position(who, market))
        if not r.ok:
            assert r.error.name in {"NoPosition", "InsufficientMargin"}, r.error

    @rule(
        market=st.sampled_from(MARKETS), bps=st.integers(-2_000, 2_000), seconds=st.integers(1, 90)
    )
    def move_price(self, market, bps, seconds):
        self.chain.advance_time(seconds)
        self._push({market: bps})

    @rule(
        bps=st.sampled_from([-3_500, -2_000, -1_000, 1_000, 2_000, 3_500]),
        beta=st.sampled_from([1, 2]),
    )
    def shock(self, bps, beta):
        """A common shock: every market moves, SOL by `beta` times as much."""
        self._push({1: bps, 2: bps, 3: max(bps * beta, -8_000)})

    def _push(self, moves):
        prices = self.prices()
        self.mv.push_all(
            {m: max(prices[m] * (10_000 + b) // 10_000, WAD // 10) for m, b in moves.items()}
        )

    @rule(who=st.sampled_from(ACCOUNTS))
    def liquidate(self, who):
        eq, mm, notional = self.health(who)
        before = self.balances()
        r = self.chain.execute_one(self.mv.venue.liquidate(KEEPER, who))
        slack = int(SLACK * notional)
        if r.ok:
            assert eq - mm <= slack, f"healthy account liquidated: equity {eq} >= MM {mm}"
            self._check_adl_events(r)
        else:
            assert r.error.name in {"NotLiquidatable", "NoPosition", "NothingLiquidatableNow"}, (
                r.error
            )
            if r.error.name == "NotLiquidatable":
                assert eq - mm >= -slack, f"account under maintenance refused: {eq} < {mm}"
        self.untouched(before, exclude={who})

    @rule(who=st.sampled_from(ACTORS), market=st.sampled_from(MARKETS))
    def liquidate_isolated(self, who, market):
        v = self.mv.venue
        eq, mm = v.read("isolatedHealth", who, market)
        before = self.balances()
        r = self.chain.execute_one(v.liquidate_isolated(KEEPER, who, market))
        price = v.market_now(market)["indexPrice"]
        slack = int(SLACK * abs(v.position_now(who, market)["size"]) * price // WAD) + mm // 100
        if r.ok:
            assert eq - mm <= slack
            self._check_adl_events(r)
        else:
            assert r.error.name in {
                "NotLiquidatable",
                "NoPosition",
                "WrongMarginMode",
                "NothingLiquidatableNow",
            }
        self.untouched(before, exclude={who})

    @rule(who=st.sampled_from(ACTORS))
    def backstop(self, who):
        before = self.balances()
        r = self.chain.execute_one(self.mv.venue.backstop_takeover(KEEPER, who))
        if r.ok:
            veq, vmm, _ = self.mv.venue.health_now(VAULT)
            assert veq >= vmm, "the takeover left the vault under maintenance"
        else:
            assert r.error.name in {
                "NotBelowBackstopThreshold", "NoPosition", "BackstopWouldBeUnderwater", "TooManyPositions",
                "WrongMarginMode",
            }, r.error  # fmt: skip
        self.untouched(before, exclude={who, VAULT})

    @rule(market=st.sampled_from(MARKETS), longs_bankrupt=st.booleans())
    def adl(self, market, longs_bankrupt):
        v = self.mv.venue
        winners = []
        for a in ACCOUNTS:
            p = v.position_now(a, market)
            if p["size"] != 0 and (p["size"] < 0) == longs_bankrupt and p["unrealizedPnl"] > 0:
                winners.append(a)
        if not winners:
            return
        if self.policy == "pro_rata":
            winners.sort(key=lambda a: int(a, 16))
        else:
            scores, _ = v.read("adlRanking", market, winners)
            winners = [w for _, w in sorted(zip(scores, winners, strict=True), key=lambda t: -t[0])]
        r = self.chain.execute_one(v.adl(ADL_KEEPER, market, longs_bankrupt, winners))
        if r.ok:
            self._check_adl_events(r)
        else:
            assert r.error.name in {"AdlPolicyNotCallable", "NoDeficit", "AdlIneligible"}, r.error

    def _check_adl_events(self, r):
        for e in events(r, "AdlExecuted"):
            assert e["overshoot"] == e["haircuts"] - e["covered"]
            assert e["covered"] <= e["deficit"]
            if e["policy"] == ADL["pro_rata"]:
                assert e["haircuts"] == e["covered"] == e["minimumHaircut"]

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def conservation_and_open_interest(self):
        if self.mv is None:
            return
        st_ = self.state()
        a = st_["accounting"]
        ledgers = a["totalCollateral"] + a["pool"] + a["protocolFees"]
        flows = (
            a["totalDeposits"] - a["totalWithdrawals"] + a["poolSeeded"] + a["paidByInsurance"]
            - a["paidToInsurance"] - a["keeperRewards"] - a["feesWithdrawn"]
        )  # fmt: skip
        assert ledgers == flows == st_["balance"] * 10**12, (ledgers, flows, st_["balance"])
        held = sum(st_["collateral"].values()) + sum(
            p[3] for ps in st_["positions"].values() for p in ps
        )
        assert held == a["totalCollateral"]
        longs = dict.fromkeys(MARKETS, 0)
        shorts = dict.fromkeys(MARKETS, 0)
        for ps in st_["positions"].values():
            for p in ps:
                (longs if p[1] > 0 else shorts)[p[0]] += abs(p[1])
        for m in MARKETS:
            s_ = st_["markets"][m]
            assert (s_["longOpenInterest"], s_["shortOpenInterest"]) == (longs[m], shorts[m])


@pytest.fixture(scope="module")
def policy_venues(chain):
    return {p: deploy_multi(chain, _specs(p), fund_usd=2_000, pool_usd=100_000) for p in POLICIES}


def invariant_settings() -> settings:
    """``make test``: 200 derandomized sequences, no example database (the same every run);
    PERPSIM_SOAK=1: random, PERPSIM_SOAK_EXAMPLES sequences."""
    return settings(
        max_examples=EXAMPLES,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not SOAK,
        database=None,
        print_blob=SOAK,
    )


@pytest.mark.skipif(SOAK, reason="PERPSIM_SOAK explores at random on purpose")
def test_make_test_draws_the_same_sequences_every_run():
    """Two runs under the settings of ``make test`` draw the same examples (no seed from the
    clock, no replay of an example database)."""
    assert invariant_settings().database is None

    def draws() -> list:
        seen = []

        @settings(invariant_settings(), max_examples=30)
        @given(st.lists(st.integers(-(10**6), 10**6), max_size=5))
        def record(xs):
            seen.append(xs)

        record()
        return seen

    first = draws()
    assert len(first) >= 10 and first == draws()


def test_venue_invariants_hold_under_random_multi_market_actions(chain, policy_venues):
    VenueMachine.chain = chain
    VenueMachine.venues = policy_venues
    VenueMachine.examples = 0
    started = time.perf_counter()
    run_state_machine_as_test(VenueMachine, settings=invariant_settings())
    print(
        f"\nvenue invariants: {VenueMachine.examples} examples in {time.perf_counter() - started:.0f} s"
    )
    assert VenueMachine.examples >= EXAMPLES
