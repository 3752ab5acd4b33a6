"""Differential tests of the mirror's kernels against the venue on chain (issue 12 item 2 for
the contract math), on the in-process revm backend: one venue of three markets per module,
each hypothesis example inside ``chain.isolate()``.

An example sets random valid parameters, tiers and margin scales on every market (through the
timelock and the controller, as governance would), opens random cross and isolated positions
of a few accounts in one block at t0 (some traded twice: increases, reductions, flips), moves
time by dt and every index price at t1, then liquidates each account alone at t2. The mirror,
fed only the state read at t0 (parameters, open interest, funding indices and rate, positions,
collateral) and the prices, must give to the wei:

* every trade's fill, fee, new size, entry and realized PnL (``PositionModified``);
* the funding indices and rate at t1 (``marketState``), every position's uPnL, funding owed
  and maintenance margin (``positionOf``), cross equity / maintenance / initial margin
  (``accountHealth``), the liquidatable flags (``healthOf``), isolated health, every
  liquidation price, a probe fill price per market (``fillPrice``);
* each liquidation's outcome (the revert's name or success), its ``Liquidated`` events (size
  closed, fill, notional, realized PnL, penalty, keeper reward, insurance share, full), its
  ``AccountLiquidated`` (count, equity and maintenance after, deficit) and
  ``DeficitAttributed`` (deficit share and the fund's payment per market).

A disagreement names the first diverging account, market and quantity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from mirror_strategies import WAD, margin_scale, market_params
from perp_helpers import KEEPER, TRADERS, usd
from venue_helpers import CONTROLLER, MarketSpec, deploy_multi

from simulator.chain import open_chain
from simulator.mirror import fills, fixed, funding, health, liqprice, liquidation, margins
from simulator.mirror.markets import MarketArrays, MarketState

MARKETS = [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100), MarketSpec("SOL", 10)]
ACCOUNTS = TRADERS[:4]
TOUCHER = TRADERS[30]
"""Trades a dust size in every market first in the t0 block, so that every market's funding
is accrued (stored) at t0 and the mirror starts from stored state."""
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def mv():
    with open_chain(backend="revm") as chain:
        yield deploy_multi(chain, MARKETS)


@st.composite
def case(draw) -> dict[str, Any]:
    markets = []
    whole = draw(st.booleans())  # every market liquidates whole, uncapped: deficits happen
    for _ in MARKETS:
        params, tiers = draw(market_params())
        if whole:
            params = {**params, "partialLiquidationThreshold": 10**30,
                      "maxLiquidationNotionalPerBlock": 0}  # fmt: skip
        p0 = draw(st.integers(10**6, 10**10)) * 10**12  # 1 .. 10,000 USD
        if params["skewScale"]:  # 1M .. 1B USD of skew at p0, as venues set it
            params = {**params, "skewScale": draw(st.integers(10**6, 10**9)) * WAD * WAD // p0}
        # a move of about one margin (1/leverage) either way, within 0.2x..3x: accounts
        # between bankrupt and healthy, where a liquidation pays its penalty; or any move up
        # to ±30%, or a crash (bps of p0)
        margin_bps = draw(st.integers(30, 130)) * 100 * WAD // params["maxLeverage"]
        lev_move = min(max(10_000 + draw(st.sampled_from([1, -1])) * margin_bps, 2_000), 30_000)
        move = draw(st.one_of(st.just(lev_move), st.integers(7_000, 13_000),
                              st.integers(2_000, 25_000)))  # fmt: skip
        markets.append({"params": params, "tiers": tiers, "scale": draw(margin_scale()),
                        "p0": p0, "p1": p0 * move // 10_000})  # fmt: skip
    trades = []
    deposits = [draw(st.integers(100, 20_000)) for _ in ACCOUNTS]
    for a in range(len(ACCOUNTS)):
        chosen = draw(st.sets(st.integers(0, len(MARKETS) - 1), min_size=1))
        for m in sorted(chosen):
            isolated = draw(st.integers(0, 4)) < 2
            leverage = markets[m]["params"]["maxLeverage"]
            # notional = deposit × leverage × (5%..90%) / positions: up to the margin limits
            usd_wad = (deposits[a] * leverage * draw(st.integers(5, 90)) // 100) // len(chosen)
            size = usd_wad * WAD // markets[m]["p0"] * draw(st.sampled_from([1, -1])) or 1
            margin = usd_wad * WAD // leverage * draw(st.integers(100, 200)) // 100
            trades.append((a, m, size, isolated, margin if isolated else 0))
            if draw(st.integers(0, 3)) == 0:  # a second trade: increase, reduce or flip
                again = size * draw(st.integers(-250, 150)) // 100 or 1
                trades.append((a, m, again, isolated, 0))
    order = draw(st.permutations(range(len(trades))))
    return {
        "markets": markets,
        "deposits": deposits,
        "trades": [trades[i] for i in order],
        "dt": draw(st.one_of(st.sampled_from([0, 1, 3_599]), st.integers(0, 3_600),
                             st.integers(0, 2 * 86_400))),
        # half the examples move one position's market just past its liquidation price
        # (0.01%..3% beyond, read at t0): liquidations of solvent accounts, with penalties
        "target": (*trades[draw(st.integers(0, len(trades) - 1))][:2], draw(st.integers(1, 300)))
        if draw(st.booleans())
        else None,
        "probe": [draw(st.integers(-(10**22), 10**22)) or 1 for _ in MARKETS],
    }  # fmt: skip


def _setup(mv, c: dict[str, Any]) -> list:
    """Parameters, scales and prices, then the t0 block of deposits and trades; its results."""
    v, tl, chain = mv.venue, mv.timelock.address, mv.chain
    ids = mv.market_ids
    calls = []
    for i, m in zip(ids, c["markets"], strict=True):
        calls += [
            v.set_market_parameters(tl, i, m["params"]),
            v.set_margin_tiers(tl, i, m["tiers"]),
        ]
    for r in mv.govern_many(calls):
        assert r.ok, r.error
    pre = [
        v.set_margin_scale(CONTROLLER, i, m["scale"])
        for i, m in zip(ids, c["markets"], strict=True)
    ]
    pre += mv.push_prices({i: m["p0"] for i, m in zip(ids, c["markets"], strict=True)})
    pre += mv.fund_calls(ACCOUNTS + [TOUCHER], usd(1_000_000))
    for r in chain.execute(pre):
        assert r.ok, r.error
    block = [v.deposit(TOUCHER, usd(1_000_000))]
    block += [v.trade(TOUCHER, i, 10**15) for i in ids]
    block += [v.deposit(a, usd(d)) for a, d in zip(ACCOUNTS, c["deposits"], strict=True)]
    for a, m, size, isolated, margin in c["trades"]:
        who = ACCOUNTS[a]
        if isolated:
            block.append(v.trade_isolated(who, ids[m], size, margin))
        else:
            block.append(v.trade(who, ids[m], size))
    return chain.execute(block)


def _arrays(mv, c, views, exact_mode=True):
    conv = fixed.exact if exact_mode else fixed.fast
    ids = mv.market_ids
    markets = MarketArrays.from_chain(
        [mv.venue.parameters_now(i) for i in ids],
        [mv.venue.margin_tiers_now(i) for i in ids],
        [v["marginScale"] for v in views],
        exact_mode=exact_mode,
    )
    state = MarketState.from_chain(views, exact_mode=exact_mode)
    return markets, state, conv


def _book(mv, state: MarketState, conv) -> health.Book:
    ids = mv.market_ids
    rows = {k: [[0] * len(ids) for _ in ACCOUNTS] for k in ("size", "entry", "margin")}
    isolated = np.zeros((len(ACCOUNTS), len(ids)), dtype=bool)
    for a, who in enumerate(ACCOUNTS):
        for p in mv.venue.positions_now(who):
            j = ids.index(p["market"])
            rows["size"][a][j], rows["entry"][a][j] = p["size"], p["entryPrice"]
            rows["margin"][a][j] = p["margin"]
            isolated[a, j] = p["isolated"]
            assert p["pendingFunding"] == 0  # the snapshot is the index at t0
    size = conv(rows["size"])
    snapshot = np.where(size >= 0, state.long_funding_index, state.short_funding_index)
    return health.Book(
        size=size,
        entry=conv(rows["entry"]),
        snapshot=np.where(size == 0, 0, snapshot),
        margin=conv(rows["margin"]),
        isolated=isolated,
        collateral=conv([mv.venue.collateral_now(a) for a in ACCOUNTS]),
    )


def _prices1(mv, c, book) -> dict[int, int]:
    """The t1 prices {market id: WAD}: each market's drawn move; with a target, the other
    markets stay at p0 and the target market goes just past the target position's liquidation
    price (when it has one)."""
    ids = mv.market_ids
    prices = {i: m["p1"] for i, m in zip(ids, c["markets"], strict=True)}
    if c["target"] is not None:
        prices = {i: m["p0"] for i, m in zip(ids, c["markets"], strict=True)}
        a, j, beyond_bps = c["target"]
        liq = mv.venue.read("liquidationPrice", ACCOUNTS[a], ids[j])
        side = 1 if book.size[a, j] > 0 else -1
        if liq > 0:
            prices[ids[j]] = max(1, liq * (10_000 - side * beyond_bps) // 10_000)
    return prices


def _eq(what: str, got, want, where: str = "") -> None:
    got = np.asarray(got, dtype=object)
    want = np.asarray(want, dtype=object)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if not (got == want).all():
        i = tuple(np.argwhere(got != want)[0])
        labels = ("account", "market")[: len(i)]
        at = ", ".join(f"{n} {k}" for n, k in zip(labels, i, strict=True))
        raise AssertionError(
            f"{where}{what}: first divergence at {at}: mirror {got[i]} != chain {want[i]}"
        )


def _check_trades(mv, c, results) -> tuple[int, int]:
    """Replay the t0 block's successful trades through the fill kernels; (Σ fees sent to the
    fund, Σ fees kept as protocol fees) by :func:`fills.fee_split`."""
    ids = mv.market_ids
    p0 = [m["p0"] for m in c["markets"]]
    params = [mv.venue.parameters_now(i) for i in ids]
    long_oi, short_oi = [0] * len(ids), [0] * len(ids)
    pos: dict[tuple[str, int], tuple[int, int]] = {}
    x = fixed.exact
    to_fund = kept = 0
    for r in results:
        if not r.ok:
            continue
        for e in r.events:
            if e.name != "PositionModified":
                continue
            g = e.args
            j = ids.index(g["market"])
            size, entry = pos.get((g["account"], j), (0, 0))
            delta = g["sizeDelta"]
            skew = long_oi[j] - short_oi[j]
            fill = fills.fill_price(x(p0[j]), x(skew), x(delta), x(params[j]["skewScale"]))
            fee = fills.taker_fee(x(delta), fill, x(params[j]["takerFeeBps"]))
            new = fills.apply_fill(x(size), x(entry), x(delta), fill)
            where = f"trade of account {g['account']} market {j}: "
            for what, got, want in (("fill", fill, g["fill"]), ("fee", fee, g["fee"]),
                                    ("new size", new[0], g["newSize"]),
                                    ("entry", new[1], g["entryPrice"]),
                                    ("realized", new[2], g["realizedPnl"]),
                                    ("funding", 0, g["funding"])):  # fmt: skip
                _eq(what, got, want, where)
            for s, sign in ((size, -1), (int(new[0]), 1)):
                if s > 0:
                    long_oi[j] += sign * s
                elif s < 0:
                    short_oi[j] += sign * -s
            pos[(g["account"], j)] = (int(new[0]), int(new[1]))
            sent, rest = fills.fee_split(fee, x(params[j]["insuranceFeeShareBps"]))
            to_fund, kept = to_fund + int(sent), kept + int(rest)
    return to_fund, kept


@EXAMPLES
@given(c=case())
def test_views_and_fills_equal_the_mirror_to_the_wei(mv, c):
    chain, v = mv.chain, mv.venue
    ids = mv.market_ids
    with chain.isolate():
        before = v.accounting_now()
        results = _setup(mv, c)
        assert all(r.ok for r in results[: 1 + len(ids)]), "the toucher's trades"
        to_fund, kept = _check_trades(mv, c, results)
        after = v.accounting_now()
        _eq("fees sent to the fund", to_fund, after["paidToInsurance"] - before["paidToInsurance"])
        _eq("fees kept", kept, after["protocolFees"] - before["protocolFees"])
        t0 = chain.latest_timestamp()
        views0 = [v.market_now(i) for i in ids]
        markets, state0, conv = _arrays(mv, c, views0)
        book = _book(mv, state0, conv)
        chain.advance_time(c["dt"])
        prices = _prices1(mv, c, book)
        for r in chain.execute(mv.push_prices(prices)):
            assert r.ok
        dt = chain.latest_timestamp() - t0
        price = conv([prices[i] for i in ids])
        state = funding.funding_now(markets, state0, price, conv([dt] * len(ids)))
        views1 = [v.market_now(i) for i in ids]
        _eq("long funding index", state.long_funding_index, [w["longFundingIndex"] for w in views1])
        _eq("short funding index", state.short_funding_index,
            [w["shortFundingIndex"] for w in views1])  # fmt: skip
        _eq("funding rate", state.funding_rate_per_day, [w["fundingRatePerDay"] for w in views1])
        # per position
        reads = chain.read(
            [v.position_of(a, i) for a in ACCOUNTS for i in ids]
            + [v.liquidation_price(a, i) for a in ACCOUNTS for i in ids]
            + [v.isolated_health(a, i) for a in ACCOUNTS for i in ids]
            + [v.account_health(a) for a in ACCOUNTS]
            + [v.health_of(ACCOUNTS)]
            + [v.fill_price(i, d) for i, d in zip(ids, c["probe"], strict=True)]
        )
        n, a_n = len(ids), len(ACCOUNTS)
        k = a_n * n
        positions = [v.as_dict("positionOf", r) for r in reads[:k]]

        def grid(values):
            return [values[a * n : (a + 1) * n] for a in range(a_n)]

        pnl, owed = health.position_values(book, price, state)
        _eq("unrealized pnl", pnl, grid([p["unrealizedPnl"] for p in positions]))
        _eq("funding owed", owed, grid([p["pendingFunding"] for p in positions]))
        _eq("maintenance margin", margins.maintenance_margin(book.size, price, markets),
            grid([p["maintenanceMargin"] for p in positions]))  # fmt: skip
        _eq("liquidation price",
            liqprice.position_liquidation_prices(book, price, markets, state),
            grid(reads[k : 2 * k]))  # fmt: skip
        ieq, imm = health.isolated_health(book, price, markets, state)
        _eq("isolated equity", ieq, grid([r[0] for r in reads[2 * k : 3 * k]]))
        _eq("isolated maintenance", imm, grid([r[1] for r in reads[2 * k : 3 * k]]))
        h = health.cross_health(book, price, markets, state)
        acct = reads[3 * k : 3 * k + a_n]
        _eq("cross equity", h.equity, [r[0] for r in acct])
        _eq("cross maintenance", h.maintenance, [r[1] for r in acct])
        _eq("cross initial margin", h.initial, [r[2] for r in acct])
        eqs, mms, flags = reads[3 * k + a_n]
        _eq("healthOf equity", h.equity, list(eqs))
        _eq("healthOf maintenance", h.maintenance, list(mms))
        _eq("liquidatable", h.liquidatable, list(flags))
        accepted = sum(r.ok for r in results) - 1 - n - len(ACCOUNTS)
        event(f"trades accepted: {accepted / len(c['trades']):.0%}")
        for r in results:
            if not r.ok:
                event(f"refused: {r.error.name}")
        event(f"liquidatable accounts: {int(np.asarray(h.liquidatable).sum())}")
        event(f"isolated positions: {int(book.isolated.sum())}")
        probe = fills.fill_price(price, state.skew, conv(c["probe"]), markets.skew_scale)
        _eq("probe fill price", probe, reads[3 * k + a_n + 1 :])


def _check_cross(r, got: liquidation.CrossLiquidation, a: int, ids: list[int], where: str):
    """One ``liquidate(account)`` result against the mirror's row `a`: outcome, every
    ``Liquidated`` (in order), ``AccountLiquidated``, ``DeficitAttributed`` and bad debt."""
    n = len(ids)
    outcome = liquidation.OUTCOMES[int(got.outcome[a])]
    assert outcome == ("ok" if r.ok else r.error.name), f"{where}mirror {outcome}, chain {r.error}"
    if not r.ok:
        return
    events = [e.args for e in r.events if e.name == "Liquidated"]
    order = sorted((int(got.rank[a, j]), j) for j in range(n) if got.rank[a, j] > 0)
    assert [ids[j] for _, j in order] == [e["market"] for e in events], (
        f"{where}markets closed: mirror {[ids[j] for _, j in order]}, chain "
        f"{[e['market'] for e in events]}"
    )
    for (_, j), e in zip(order, events, strict=True):
        at = f"{where}market {ids[j]}: "
        for what, mine, theirs in (
            ("size closed", got.closed[a, j], abs(e["sizeClosed"])),
            ("fill", got.fill[a, j], e["fill"]),
            ("notional", got.notional[a, j], e["notional"]),
            ("realized", got.realized[a, j], e["realizedPnl"]),
            ("penalty", got.penalty[a, j], e["penalty"]),
            ("keeper reward", got.keeper_reward[a, j], e["keeperReward"]),
            ("insurance share", got.insurance_share[a, j], e["insuranceShare"]),
            ("full", bool(got.full[a, j]), e["full"]),
        ):
            _eq(what, mine, theirs, at)
    (done,) = [e.args for e in r.events if e.name == "AccountLiquidated"]
    _eq("positions liquidated", got.liquidated[a], done["positionsLiquidated"], where)
    _eq("equity after", got.equity[a], done["equityAfter"], where)
    _eq("maintenance after", got.maintenance[a], done["maintenanceMarginAfter"], where)
    _eq("deficit", got.deficit[a], done["deficit"], where)
    attributed = {e.args["market"]: (e.args["deficit"], e.args["paidByInsurance"],
                                     e.args["remaining"])
                  for e in r.events if e.name == "DeficitAttributed"}  # fmt: skip
    mine = {ids[j]: (int(got.deficit_share[a, j]), int(got.fund_paid_share[a, j]),
                     int(got.bad_debt[a, j]))
            for j in range(n) if got.deficit_share[a, j] != 0}  # fmt: skip
    assert mine == attributed, (
        f"{where}deficit (share, fund paid, bad debt): mirror {mine}, chain {attributed}"
    )


def _moved_book(mv, c):
    """The case's accounts and positions set up (:func:`_setup`), read into the mirror's book,
    then time advanced and the prices moved on chain: ``(t0, markets, state0, conv, book, fund,
    price)`` (``fund``: the insurance fund's balance, WAD; ``price``: the moved prices)."""
    chain, v, ids = mv.chain, mv.venue, mv.market_ids
    _setup(mv, c)
    t0 = chain.latest_timestamp()
    views0 = [v.market_now(i) for i in ids]
    markets, state0, conv = _arrays(mv, c, views0)
    book = _book(mv, state0, conv)
    chain.advance_time(c["dt"])
    prices = _prices1(mv, c, book)
    for r in chain.execute(mv.push_prices(prices)):
        assert r.ok
    fund = chain.read_one(mv.fund.balance()) * fixed.UNIT
    return t0, markets, state0, conv, book, fund, conv([prices[i] for i in ids])


@EXAMPLES
@given(c=case())
def test_liquidations_equal_the_mirror_to_the_wei(mv, c):
    chain, v = mv.chain, mv.venue
    ids = mv.market_ids
    n = len(ids)
    with chain.isolate():
        t0, markets, state0, conv, book, fund, price = _moved_book(mv, c)
        event(f"accounts with positions: {int(np.asarray(book.size != 0).any(-1).sum())}")
        for a, who in enumerate(ACCOUNTS):
            with chain.isolate():
                r = chain.execute_one(v.liquidate(KEEPER, who))
                dt = chain.latest_timestamp() - t0
            state = funding.funding_now(markets, state0, price, conv([dt] * n))
            got = liquidation.liquidate_cross(book, price, markets, state, fund_balance=fund,
                                              now=t0 + dt)  # fmt: skip
            where = f"liquidation of account {a}: "
            outcome = liquidation.OUTCOMES[int(got.outcome[a])]
            event(f"liquidation: {outcome}")
            if outcome == "ok":
                event(f"deficit: {got.deficit[a] > 0}")
                event(f"penalty paid: {bool((got.penalty[a] > 0).any())}")
                event(
                    f"partial: {bool((got.rank[a] > 0).any() and not got.full[a][got.rank[a] > 0].all())}"
                )
            _check_cross(r, got, a, ids, where)


@EXAMPLES
@given(c=case())
def test_isolated_liquidations_equal_the_mirror_to_the_wei(mv, c):
    chain, v = mv.chain, mv.venue
    ids = mv.market_ids
    n = len(ids)
    with chain.isolate():
        t0, markets, state0, conv, book, fund, price = _moved_book(mv, c)
        for a, who in enumerate(ACCOUNTS):
            for j in range(n):
                with chain.isolate():
                    r = chain.execute_one(v.liquidate_isolated(KEEPER, who, ids[j]))
                    dt = chain.latest_timestamp() - t0
                    collateral_after = v.collateral_now(who)
                state = funding.funding_now(markets, state0, price, conv([dt] * n))
                got = liquidation.liquidate_isolated(book, price, markets, state,
                                                     fund_balance=fund, now=t0 + dt)  # fmt: skip
                where = f"isolated liquidation of account {a} market {ids[j]}: "
                outcome = liquidation.OUTCOMES[int(got.outcome[a, j])]
                event(f"isolated liquidation: {outcome}")
                assert outcome == ("ok" if r.ok else r.error.name), (
                    f"{where}mirror {outcome}, chain {r.error}"
                )
                if not r.ok:
                    continue
                event(f"isolated deficit: {got.deficit[a, j] > 0}")
                (e,) = [x.args for x in r.events if x.name == "Liquidated"]
                (done,) = [x.args for x in r.events if x.name == "AccountLiquidated"]
                for what, mine, theirs in (
                    ("size closed", got.closed[a, j], abs(e["sizeClosed"])),
                    ("fill", got.fill[a, j], e["fill"]),
                    ("notional", got.notional[a, j], e["notional"]),
                    ("realized", got.realized[a, j], e["realizedPnl"]),
                    ("penalty", got.penalty[a, j], e["penalty"]),
                    ("keeper reward", got.keeper_reward[a, j], e["keeperReward"]),
                    ("insurance share", got.insurance_share[a, j], e["insuranceShare"]),
                    ("full", bool(got.full[a, j]), e["full"]),
                    ("equity after", got.equity[a, j], done["equityAfter"]),
                    ("maintenance after", got.maintenance[a, j], done["maintenanceMarginAfter"]),
                    ("deficit", got.deficit[a, j], done["deficit"]),
                    ("collateral after", book.collateral[a] + got.released[a, j],
                     collateral_after),
                ):  # fmt: skip
                    _eq(what, mine, theirs, where)
                attributed = [x.args for x in r.events if x.name == "DeficitAttributed"]
                if got.deficit[a, j] == 0:
                    assert attributed == [], where
                    continue
                (d,) = attributed
                _eq("fund paid", got.fund_paid[a, j], d["paidByInsurance"], where)
                _eq("bad debt", got.bad_debt[a, j], d["remaining"], where)


@st.composite
def partial_case(draw) -> dict[str, Any]:
    """A case whose markets always liquidate partially (threshold 0, no per-block cap), and a
    wait (seconds) before a second liquidation: within, at and past the cooldowns."""
    c = draw(case())
    for m in c["markets"]:
        m["params"] = {**m["params"], "partialLiquidationThreshold": 0,
                       "maxLiquidationNotionalPerBlock": 0}  # fmt: skip
    cooldown = c["markets"][0]["params"]["liquidationCooldown"]
    c["wait"] = draw(st.one_of(
        st.sampled_from([1, max(1, cooldown - 1), cooldown + 1, 2 * cooldown - 1, 2 * cooldown + 1]),
        st.integers(1, 3 * 3_600),
    ))  # fmt: skip
    return c


@EXAMPLES
@given(c=partial_case())
def test_a_second_liquidation_follows_the_partial_marks_as_the_mirror_does(mv, c):
    """After a partial liquidation (the mirror's book after it, the marks at t2), a second
    ``liquidate`` some seconds later: skipped within the cooldown, whole or partial after it,
    unmarked after two cooldowns, equal to the wei."""
    chain, v = mv.chain, mv.venue
    ids = mv.market_ids
    n = len(ids)
    with chain.isolate():
        _setup(mv, c)
        t0 = chain.latest_timestamp()
        markets, state0, conv = _arrays(mv, c, [v.market_now(i) for i in ids])
        book = _book(mv, state0, conv)
        chain.advance_time(c["dt"])
        prices = _prices1(mv, c, book)
        for r in chain.execute(mv.push_prices(prices)):
            assert r.ok
        fund = chain.read_one(mv.fund.balance()) * fixed.UNIT
        price = conv([prices[i] for i in ids])
        for a, who in enumerate(ACCOUNTS):
            with chain.isolate():
                first = chain.execute_one(v.liquidate(KEEPER, who))
                t2 = chain.latest_timestamp()
                state = funding.funding_now(markets, state0, price, conv([t2 - t0] * n))
                got = liquidation.liquidate_cross(book, price, markets, state, fund_balance=fund,
                                                  now=t2)  # fmt: skip
                _check_cross(first, got, a, ids, f"first liquidation of account {a}: ")
                marked = np.asarray((got.rank > 0) & ~got.full, dtype=bool)
                if not first.ok or not marked[a].any():
                    continue
                # the account's markets were accrued and stored at t2 by the first call
                state2 = MarketState.from_chain([v.market_now(i) for i in ids])
                fund2 = chain.read_one(mv.fund.balance()) * fixed.UNIT
                chain.advance_time(c["wait"])
                for r in chain.execute(mv.push_prices(prices)):
                    assert r.ok
                second = chain.execute_one(v.liquidate(KEEPER, who))
                t3 = chain.latest_timestamp()
                event(f"second liquidation: {'ok' if second.ok else second.error.name}")
                again = liquidation.liquidate_cross(
                    got.book, price, markets,
                    funding.funding_now(markets, state2, price, conv([t3 - t2] * n)),
                    fund_balance=fund2, now=t3, partial_at=np.where(marked, t2, 0).astype(object),
                )  # fmt: skip
                _check_cross(second, again, a, ids,
                             f"second liquidation of account {a}, {t3 - t2} s later: ")  # fmt: skip


@pytest.mark.parametrize(
    "rule,module,name,replacement",
    [
        ("funding steps round down instead of towards zero", funding, "div_trunc",
         fixed.floor_div),
        ("notionals round down", margins, "notional",
         lambda size, price: fixed.mul_div_down(abs(size), price, fixed.WAD)),
        ("liquidation penalties and partial shares round down", liquidation, "mul_div_up",
         fixed.mul_div_down),
        ("partial-liquidation marks are ignored", liquidation, "close_size",
         lambda size, price, markets, partial_at, now, this_block, f=liquidation.close_size:
         f(size, price, markets, 0, now, this_block)),
    ],
    ids=["funding-rounding", "notional-rounding", "liquidation-rounding", "cooldown-ignored"],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_a_broken_mirror_rule_is_caught_by_the_chain(mv, monkeypatch, rule, module, name,
                                                     replacement):  # fmt: skip
    """A mirror with one rule broken (monkeypatched) fails the differential tests above."""
    monkeypatch.setattr(module, name, replacement)
    for test, strategy in ((test_views_and_fills_equal_the_mirror_to_the_wei, case()),
                           (test_liquidations_equal_the_mirror_to_the_wei, case()),
                           (test_isolated_liquidations_equal_the_mirror_to_the_wei, case()),
                           (test_a_second_liquidation_follows_the_partial_marks_as_the_mirror_does,
                            partial_case())):  # fmt: skip
        inner = test.hypothesis.inner_test
        rerun = settings(EXAMPLES, phases=[Phase.generate], database=None)(given(c=strategy)(inner))
        try:
            rerun(mv)
        except AssertionError as exc:
            assert "mirror" in str(exc), exc
            return
        except FlakyFailure as group:
            # Hypothesis found the divergence, then did not see it again on its replay (the
            # chain's clock moves between examples, so a 1-wei rounding case may not recur):
            # still a divergence found, if the group holds the differential test's assertion.
            caught = [e for e in group.exceptions if isinstance(e, AssertionError)]
            assert any("mirror" in str(e) for e in caught), group
            return
    pytest.fail(f"a mirror whose {rule} passed the differential tests")
