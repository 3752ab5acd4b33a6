"""The ADL kernels (simulator/mirror/adl.py) against their line-by-line reference
(simulator/mirror/reference_adl.py) on random markets (hypothesis), and against the venue on
chain (revm): a bankrupt account liquidated with no insurance fund, the deficit's waterfall
under each policy (``DeficitAttributed``'s ADL price, the queued contracts, ``LossSocialized``),
the ranking view, then an ``adl`` call with the mirror's ranked winners: every
``AdlHaircut``, ``AdlExecuted``, the ledger and the winners' positions and collateral after,
to the wei. A deliberately broken rule is caught by the chain test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from mirror_strategies import WAD, adl_market, deficit_case, price
from perp_helpers import KEEPER, TRADERS, usd
from venue_helpers import ADL_KEEPER, BASE_MARKET, MarketSpec, deploy_multi

from simulator.chain import open_chain
from simulator.mirror import adl as A
from simulator.mirror import fixed
from simulator.mirror import reference_adl as R

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEDGER = ("bad_debt_longs", "bad_debt_shorts", "adl_contracts_longs", "adl_contracts_shorts",
          "adl_price_longs", "adl_price_shorts", "final_bad_debt_longs",
          "final_bad_debt_shorts")  # fmt: skip
#: The kernels' ledger names and the chain's ``MarketLedger`` names.
CHAIN_LEDGER = {f: "".join([f.split("_")[0]] + [w.title() for w in f.split("_")[1:]])
                for f in LEDGER}  # fmt: skip


def _order(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The market's winners as passed: ranked by the reference's score when ``ranked``."""
    ws = m["winners"]
    if not m["ranked"]:
        return ws
    score = [R.ranking_score(w["size"], w["entry"], m["price"], w["value"]) for w in ws]
    return [ws[i] for i in sorted(range(len(ws)), key=lambda i: -score[i])]


def _arrays(markets: list[dict[str, Any]], exact_mode: bool = True):
    conv = fixed.exact if exact_mode else fixed.fast
    orders = [_order(m) for m in markets]
    width = max(len(o) for o in orders)

    def grid(key: str) -> np.ndarray:
        rows = [[w[key] for w in o] + [0] * (width - len(o)) for o in orders]
        return conv(rows).reshape(len(markets), width)

    ledger = A.AdlLedger(**{k: conv([m["ledger"][k] for m in markets]) for k in LEDGER})
    return (
        ledger,
        np.array([m["policy"] for m in markets]),
        np.array([m["longs_bankrupt"] for m in markets]),
        grid("size"),
        grid("entry"),
        grid("value"),
        grid("owed"),
        conv([m["price"] for m in markets]),
        conv([m["pool"] for m in markets]),
        np.array([m["max_accounts"] for m in markets]),
        orders,
    )


def _same(name: str, got, want, where: str) -> None:
    got = got.item() if isinstance(got, np.ndarray) else got
    assert got == want, f"{where}{name}: mirror {got} != reference {want}"


@SETTINGS
@given(markets=st.lists(adl_market(), min_size=1, max_size=4))
def test_adl_kernel_equals_the_reference_to_the_wei(markets):
    ledger, policy, lb, size, entry, value, owed, p, pool, most, orders = _arrays(markets)
    got = A.adl(ledger, policy, lb, size, entry, value, owed, p, pool, most)
    for k, (m, order) in enumerate(zip(markets, orders, strict=True)):
        ref = R.adl(R.RefLedger(**m["ledger"]), m["policy"], m["longs_bankrupt"],
                    [R.RefWinner(**w) for w in order], m["price"], m["pool"],
                    m["max_accounts"])  # fmt: skip
        where = f"market {k}: "
        event(f"adl outcome: {ref.outcome}")
        outcome = A.OUTCOMES[int(got.outcome[k])]
        assert outcome == ref.outcome, f"{where}outcome: mirror {outcome}, reference {ref.outcome}"
        if ref.outcome != "ok":
            continue
        for name, want in (("deficit", ref.deficit), ("minimum haircut", ref.minimum_haircut),
                           ("haircuts", ref.total_haircuts), ("covered", ref.covered),
                           ("overshoot", ref.overshoot), ("to fund", ref.to_fund),
                           ("contracts", ref.contracts), ("notional", ref.notional),
                           ("accounts", ref.accounts), ("pool", ref.pool),
                           ("finalized", ref.finalized)):  # fmt: skip
            attr = {"minimum haircut": "minimum_haircut", "to fund": "to_fund"}.get(name, name)
            _same(name, getattr(got, attr)[k], want, where)
        for f in LEDGER:
            _same(f, getattr(got.ledger, f)[k], getattr(ref.ledger, f), where)
        touched = [j for j in range(len(order)) if got.touched[k, j]]
        assert len(touched) == len(ref.haircuts), f"{where}winners touched {touched}"
        for j, h in zip(touched, ref.haircuts, strict=True):
            at = f"{where}winner {j}: "
            for name, mine, want in (("size closed", got.size_closed[k, j], h.size_closed),
                                     ("profit", got.profit[k, j], h.profit),
                                     ("haircut", got.haircut[k, j], h.haircut),
                                     ("new size", got.new_size[k, j], h.new_size),
                                     ("new entry", got.new_entry[k, j], h.new_entry),
                                     ("credit", got.credit[k, j], h.credit)):  # fmt: skip
                _same(name, mine, want, at)
        if ref.total_haircuts:
            event(f"overshoot: {ref.overshoot > 0}")
        event(f"contracts offset, rest final: {ref.finalized > 0}")


@SETTINGS
@given(cases=st.lists(deficit_case(), min_size=1, max_size=4))
def test_deficit_waterfall_equals_the_reference_to_the_wei(cases):
    x = fixed.exact
    ledger = A.AdlLedger(**{k: x([c["ledger"][k] for c in cases]) for k in LEDGER})

    def col(key: str):
        return x([int(c[key]) for c in cases])

    got = A.absorb_deficit(
        ledger, np.array([c["policy"] for c in cases]), np.array([c["mode"] for c in cases]),
        np.array([c["longs_bankrupt"] for c in cases]), col("deficit"), col("paid"),
        col("contracts"), col("fill"), col("previous_mark"), col("open_interest"), col("mark"),
    )  # fmt: skip
    for k, c in enumerate(cases):
        ref = R.absorb_deficit(R.RefLedger(**c["ledger"]), c["policy"], c["mode"],
                               c["longs_bankrupt"], c["deficit"], c["paid"], c["contracts"],
                               c["fill"], c["previous_mark"], c["open_interest"], c["mark"])  # fmt: skip
        where = f"deficit {k}: "
        event(f"socialized: {ref.socialized}")
        _same("remaining", got.remaining[k], ref.remaining, where)
        _same("adl price", got.adl_price[k], ref.adl_price, where)
        _same("socialized", bool(got.socialized[k]), ref.socialized, where)
        _same("per contract", got.per_contract[k], ref.per_contract, where)
        _same("charged", got.charged[k], ref.charged, where)
        _same("finalized", got.finalized[k], ref.finalized, where)
        event(f"written off as final: {ref.finalized > 0}")
        for f in LEDGER:
            _same(f, getattr(got.ledger, f)[k], getattr(ref.ledger, f), where)


@SETTINGS
@given(markets=st.lists(adl_market(), min_size=1, max_size=4))
def test_fast_adl_follows_the_exact_one(markets):
    """Float64 mode: the same outcomes and winners touched where no sum lands within the fast
    mode's error of a boundary, and amounts within 1e-9 relative of the exact ones or 1e-12
    relative of the winners' positions' notional, whichever is larger.

    The second bound is float64's own: a size above 2**53 wei is held to a few wei, so the
    contracts a queue closes from it (and their notional) can be off by that many contracts at
    the price, however small the amount closed (e.g. 2 contracts of a 1.8e16-wei position at
    55.6 USD: 111 wei of notional on 1.7e8)."""
    arrays = _arrays(markets, True)
    ex = A.adl(*arrays[:-1])
    fa = A.adl(*_arrays(markets, False)[:-1])
    assert np.asarray(fa.haircuts).dtype == np.float64
    _, _, _, size, _, _, _, p, *_ = arrays
    book = (abs(size).sum(-1) * p // WAD).astype(float)  # the winners' notional (WAD USD)
    for name in ("haircuts", "covered", "notional", "minimum_haircut"):
        e = np.asarray(getattr(ex, name), dtype=object).astype(float)
        f = np.asarray(getattr(fa, name), dtype=float)
        same = (ex.outcome == fa.outcome) & (ex.touched == fa.touched).all(-1)
        scale = np.asarray(ex.deficit, dtype=object).astype(float) + abs(e) + 1
        bound = np.maximum(1e-9 * scale, 1e-12 * book) + 64
        assert (np.abs(f - e)[same] <= bound[same]).all(), (name, f, e)


@SETTINGS
@given(
    sizes=st.lists(st.integers(-(10**22), 10**22).filter(bool), min_size=1, max_size=8),
    p=price(),
    data=st.data(),
)
def test_ranking_scores_equal_the_reference(sizes, p, data):
    entries = [data.draw(st.integers(1, 2 * p)) for _ in sizes]
    values = [data.draw(st.integers(-(10**22), 10**24)) for _ in sizes]
    x = fixed.exact
    got = A.ranking_score(x(sizes), x(entries), x(p), x(values))
    want = [R.ranking_score(s, e, p, v) for s, e, v in zip(sizes, entries, values, strict=True)]
    assert list(got) == want
    order = A.ranked(got)
    assert [want[i] for i in order] == sorted(want, reverse=True)


# -- against the chain ------------------------------------------------------------------------

BANKRUPT = TRADERS[0]
WINNERS = TRADERS[1:7]
OTHER_MARKET = 2
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def mv():
    with open_chain(backend="revm") as chain:
        yield deploy_multi(chain, [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100)],
                           fund_usd=0)  # fmt: skip


@st.composite
def chain_case(draw) -> dict[str, Any]:
    """A bankrupt account (long or short, up to 10x) and 1..6 winners on the other side (some
    isolated, some also in the other market), a crash past the bankrupt's equity, an ADL
    policy and price mode, and whether the keeper passes the mirror's ranking."""
    lb = draw(st.booleans())
    s = 1 if lb else -1
    p0 = draw(st.integers(200, 5_000)) * WAD
    deposit = draw(st.integers(500, 5_000))
    lev = draw(st.integers(5, 10))
    bankrupt_size = s * deposit * lev * WAD * WAD // p0
    winners = []
    for _ in range(draw(st.integers(1, len(WINNERS)))):
        coll = draw(st.integers(200, 8_000))
        winners.append({
            "deposit": coll,
            "size": -s * coll * draw(st.integers(1, 8)) * WAD * WAD // p0 // 2 or -s,
            "isolated": draw(st.integers(0, 3)) == 0,
            "other": draw(st.integers(-3, 3)),  # ETH size (0 = none)
        })  # fmt: skip
    crash = draw(st.integers(int(10_000 / lev) + 50, int(10_000 / lev) + 1_500))  # bps past 0
    p1 = p0 * (10_000 - s * crash) // 10_000
    return {
        "lb": lb,
        "p0": p0,
        "p1": p1,
        "eth1": draw(st.integers(70, 130)) * WAD,
        "deposit": deposit,
        "bankrupt_size": bankrupt_size,
        "winners": winners,
        "policy": draw(st.integers(0, 4)),
        "mode": draw(st.integers(0, 1)),
        "ranked": draw(st.integers(0, 5)) > 0,
        "dt": draw(st.sampled_from([0, 1, 600, 5_000])),
        "fund": draw(st.one_of(st.just(0), st.integers(0, 3_000))),  # USD in the fund
    }


def _setup(mv, c) -> None:
    v, chain, ids = mv.venue, mv.chain, mv.market_ids
    params = {**BASE_MARKET, "maxLeverage": 20 * WAD, "adlPolicy": c["policy"],
              "adlPriceMode": c["mode"], "maxAdlAccountsPerCall": 10}  # fmt: skip
    for r in mv.govern_many([v.set_market_parameters(mv.timelock.address, ids[0], params)]):
        assert r.ok, r.error
    pre = mv.push_prices({ids[0]: c["p0"], ids[1]: 100 * WAD})
    pre += mv.fund_calls([BANKRUPT, *WINNERS], usd(1_000_000))
    if c["fund"]:  # the fund pays part of the deficit, the rest goes down the waterfall
        pre.append(mv.collateral.mint(mv.deployer, mv.fund.address, usd(c["fund"])))
    for r in chain.execute(pre):
        assert r.ok, r.error
    block = [v.deposit(BANKRUPT, usd(c["deposit"])),
             v.trade(BANKRUPT, ids[0], c["bankrupt_size"])]  # fmt: skip
    for who, w in zip(WINNERS, c["winners"], strict=False):
        block.append(v.deposit(who, usd(w["deposit"])))
        if w["isolated"]:
            margin = w["deposit"] * WAD // 2
            block.append(v.trade_isolated(who, ids[0], w["size"], margin))
        else:
            block.append(v.trade(who, ids[0], w["size"]))
        if w["other"]:
            block.append(v.trade(who, ids[1], w["other"] * WAD))
    for r in chain.execute(block):
        assert r.ok, r.error


def _eq(what: str, got, want, where: str = "") -> None:
    got = got.item() if isinstance(got, np.ndarray) else got
    assert got == want, f"{where}{what}: mirror {got} != chain {want}"


@EXAMPLES
@given(c=chain_case())
def test_the_waterfall_ranking_and_adl_equal_the_chain_to_the_wei(mv, c):
    chain, v, ids = mv.chain, mv.venue, mv.market_ids
    x = fixed.exact
    with chain.isolate():
        _setup(mv, c)
        chain.advance_time(c["dt"])
        for r in chain.execute(mv.push_prices({ids[0]: c["p1"], ids[1]: c["eth1"]})):
            assert r.ok
        before = v.market_now(ids[0])
        liq = chain.execute_one(v.liquidate(KEEPER, BANKRUPT))
        assert liq.ok, liq.error
        attributed = [e.args for e in liq.events if e.name == "DeficitAttributed"]
        if not attributed:
            event("no deficit")
            return
        (d,) = attributed
        (closed,) = [e.args for e in liq.events if e.name == "Liquidated"]
        view = v.market_now(ids[0])
        ledger0 = A.AdlLedger.from_chain([before["ledger"]])
        absorbed = A.absorb_deficit(
            ledger0, np.array([c["policy"]]), np.array([c["mode"]]), np.array([c["lb"]]),
            x([d["deficit"]]), x([d["paidByInsurance"]]), x([abs(closed["sizeClosed"])]),
            x([closed["fill"]]), x([view["previousMark"]]),
            x([view["longOpenInterest"] + view["shortOpenInterest"]]), x([view["indexPrice"]]),
        )  # fmt: skip
        where = "waterfall: "
        event(f"fund paid part of the deficit: {0 < d['paidByInsurance'] < d['deficit']}")
        _eq("remaining", absorbed.remaining[0], d["remaining"], where)
        _eq("adl price", absorbed.adl_price[0], d["adlPrice"], where)
        _eq("contracts", abs(closed["sizeClosed"]), d["contracts"], where)
        socialized = [e.args for e in liq.events if e.name == "LossSocialized"]
        _eq("socialized", bool(absorbed.socialized[0]), bool(socialized), where)
        event(f"policy {c['policy']}: socialized {bool(socialized)}")
        if socialized:
            _eq("per contract", absorbed.per_contract[0], socialized[0]["perContract"], where)
            _eq("charged", absorbed.charged[0], socialized[0]["charged"], where)
        for f, name in CHAIN_LEDGER.items():
            _eq(f, getattr(absorbed.ledger, f)[0], view["ledger"][name], where)
        finals = [e.args["amount"] for e in liq.events if e.name == "BadDebtFinalized"]
        _eq("finalized", absorbed.finalized[0], finals[0] if finals else 0, where)
        _check_adl(mv, c, view)


def _check_adl(mv, c, view) -> None:
    chain, v, ids = mv.chain, mv.venue, mv.market_ids
    x = fixed.exact
    who_list = list(WINNERS[: len(c["winners"])])
    lb = c["lb"]
    # each winner's value and owed at the ADL block: what the ranking view reads (the ADL call
    # runs in the next block, one second later: funding accrues over that second)
    positions = {w: v.position_now(w, ids[0]) for w in who_list}
    scores, pnls = chain.read_one(v.adl_ranking(ids[0], who_list))
    p1 = view["indexPrice"]
    size = x([positions[w]["size"] for w in who_list])
    entry = x([positions[w]["entryPrice"] for w in who_list])
    _eq("ranking pnl", list(A.unrealized_pnl(size, entry, x(p1))), list(pnls), "ranking: ")
    order = list(range(len(who_list)))
    passed = sorted(who_list, key=lambda a: int(a, 16)) if c["policy"] == A.PRO_RATA else who_list
    # the ADL call runs in a block of the liquidation's second: the views read now (latest
    # block) see the funding and prices it sees
    values = [v.read("isolatedHealth", w, ids[0])[0] if positions[w]["isolated"]
              else v.health_now(w)[0] for w in who_list]  # fmt: skip
    owed_now = [positions[w]["pendingFunding"] for w in who_list]
    score = A.ranking_score(size, entry, x(p1), x(values))
    _eq("ranking scores", list(score), list(scores), "ranking: ")
    if c["policy"] != A.PRO_RATA:
        order = list(A.ranked(score)) if c["ranked"] else order
        passed = [who_list[i] for i in order]
    idx = [who_list.index(w) for w in passed]
    ledger = A.AdlLedger.from_chain([view["ledger"]])
    pool = v.accounting_now()["pool"]
    got = A.adl(ledger, np.array([c["policy"]]), np.array([lb]),
                size[idx][None, :], entry[idx][None, :], x([values[i] for i in idx])[None, :],
                x([owed_now[i] for i in idx])[None, :], x([p1]), x([pool]), 10)  # fmt: skip
    before_coll = {w: v.collateral_now(w) for w in who_list}
    chain.set_next_block_timestamp(chain.latest_timestamp())
    r = chain.execute_one(v.adl(ADL_KEEPER, ids[0], lb, passed))
    where = f"adl (policy {c['policy']}): "
    outcome = A.OUTCOMES[int(got.outcome[0])]
    event(f"adl: {outcome if r.ok else r.error.name}")
    assert outcome == ("ok" if r.ok else r.error.name), f"{where}mirror {outcome}, chain {r.error}"
    if not r.ok:
        return
    (e,) = [x_.args for x_ in r.events if x_.name == "AdlExecuted"]
    event(f"adl winners touched: {int(got.accounts[0])} of {len(passed)}")
    event(f"adl overshoot sent to the fund: {e['toInsurance'] > 0}")
    for name, mine, theirs in (("deficit", got.deficit, e["deficit"]),
                               ("minimum haircut", got.minimum_haircut, e["minimumHaircut"]),
                               ("haircuts", got.haircuts, e["haircuts"]),
                               ("covered", got.covered, e["covered"]),
                               ("overshoot", got.overshoot, e["overshoot"]),
                               ("to insurance", got.to_fund, e["toInsurance"]),
                               ("contracts", got.contracts, e["contractsClosed"]),
                               ("notional", got.notional, e["notionalClosed"]),
                               ("accounts", got.accounts, e["accounts"])):  # fmt: skip
        _eq(name, mine[0], theirs, where)
    cuts = [x_.args for x_ in r.events if x_.name == "AdlHaircut"]
    touched = [j for j in range(len(passed)) if got.touched[0, j]]
    assert [passed[j] for j in touched] == [h["account"] for h in cuts], f"{where}winners"
    for j, h in zip(touched, cuts, strict=True):
        at = f"{where}winner {j}: "
        _eq("size closed", got.size_closed[0, j], h["sizeClosed"], at)
        _eq("profit", got.profit[0, j], h["profit"], at)
        _eq("haircut", got.haircut[0, j], h["haircut"], at)
        w = passed[j]
        pos = v.position_now(w, ids[0])
        _eq("size after", got.new_size[0, j], pos["size"], at)
        if pos["size"] != 0:
            _eq("entry after", got.new_entry[0, j], pos["entryPrice"], at)
        isolated = positions[w]["isolated"]
        coll = v.collateral_now(w)
        if not isolated:
            _eq("collateral after", before_coll[w] - owed_now[idx[j]] + got.credit[0, j], coll, at)
        elif pos["size"] == 0:
            margin = positions[w]["margin"] - owed_now[idx[j]] + got.credit[0, j]
            _eq("collateral after", before_coll[w] + margin, coll, at)
        else:
            margin = positions[w]["margin"] - owed_now[idx[j]] + got.credit[0, j]
            _eq("margin after", margin, pos["margin"], at)
    after = v.market_now(ids[0])["ledger"]
    for f, name in CHAIN_LEDGER.items():
        _eq(f"{f} after", getattr(got.ledger, f)[0], after[name], where)
    finals = [x_.args for x_ in r.events if x_.name == "BadDebtFinalized"]
    _eq("finalized", got.finalized[0], finals[0]["amount"] if finals else 0, where)
    event(f"adl wrote the rest off as final: {bool(finals)}")
    _eq("pool after", got.pool[0], v.accounting_now()["pool"], where)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_a_broken_adl_rule_is_caught_by_the_chain(mv, monkeypatch):
    """The bankruptcy gap, the socialized charge per contract and the queued contracts
    rounded down instead of up: the differential test fails."""
    monkeypatch.setattr(A, "ceil_div", fixed.floor_div)
    inner = test_the_waterfall_ranking_and_adl_equal_the_chain_to_the_wei.hypothesis.inner_test
    rerun = settings(EXAMPLES, phases=[Phase.generate], database=None)(given(c=chain_case())(inner))
    with pytest.raises(AssertionError, match="mirror"):
        rerun(mv)


def test_a_broken_queue_is_caught_by_the_reference(monkeypatch):
    """Queues whose running totals count the winner itself (a winner is skipped one step
    early): the reference test fails."""
    monkeypatch.setattr(A, "_exclusive_cumsum", lambda x: np.cumsum(x, axis=-1))
    inner = test_adl_kernel_equals_the_reference_to_the_wei.hypothesis.inner_test
    rerun = settings(SETTINGS, phases=[Phase.generate], database=None)(
        given(markets=st.lists(adl_market(), min_size=1, max_size=4))(inner)
    )
    with pytest.raises(AssertionError, match="mirror"):
        rerun()
