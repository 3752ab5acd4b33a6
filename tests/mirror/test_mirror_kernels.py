"""The mirror's vectorized kernels (simulator/mirror/) against their line-by-line integer
reference (simulator/mirror/reference.py) on random worlds (hypothesis): equal to the wei in
exact mode; within the documented relative bound in fast (float64) mode. Then a deliberately
broken kernel (a rounding flipped, monkeypatched) must be caught.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mirror_strategies import world

from simulator.mirror import fills, fixed, funding, health, liqprice, liquidation, margins
from simulator.mirror import reference as R
from simulator.mirror.markets import MarketArrays, MarketState

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_RTOL = 1e-9
FAST_ATOL_WEI = 16.0
"""Fast mode: |fast − exact| ≤ FAST_RTOL·scale + FAST_ATOL_WEI, scale = the magnitudes of the
quantity's terms (simulator/mirror/fixed.py: ~1e-12 relative expected, plus < 1 wei for each
rounding the fast mode drops)."""


def _mirror(w: dict[str, Any], exact_mode: bool):
    conv = fixed.exact if exact_mode else fixed.fast
    mk = w["markets"]
    markets = MarketArrays.from_chain(
        [m["params"] for m in mk], [m["tiers"] for m in mk], [m["scale"] for m in mk],
        exact_mode=exact_mode,
    )  # fmt: skip
    state = MarketState(
        long_open_interest=conv([m["long_oi"] for m in mk]),
        short_open_interest=conv([m["short_oi"] for m in mk]),
        long_funding_index=conv([m["long_index"] for m in mk]),
        short_funding_index=conv([m["short_index"] for m in mk]),
        funding_rate_per_day=conv([m["rate"] for m in mk]),
    )
    a, n = len(w["accounts"]), len(mk)

    def grid(key: str, default: int = 0) -> np.ndarray:
        rows = [[acc["positions"].get(i, {}).get(key, default) for i in range(n)]
                for acc in w["accounts"]]  # fmt: skip
        return conv([[int(x) for x in r] for r in rows]).reshape(a, n)

    book = health.Book(
        size=grid("size"),
        entry=grid("entry"),
        snapshot=grid("snapshot"),
        margin=grid("margin"),
        isolated=np.array(
            [[bool(acc["positions"].get(i, {}).get("isolated", False)) for i in range(n)]
             for acc in w["accounts"]], dtype=bool).reshape(a, n),
        collateral=conv([acc["collateral"] for acc in w["accounts"]]),
    )  # fmt: skip
    partial_at = grid("partial_at")
    this_block = np.array(
        [[bool(acc["positions"].get(i, {}).get("this_block", False)) for i in range(n)]
         for acc in w["accounts"]], dtype=bool).reshape(a, n)  # fmt: skip
    return markets, state, book, conv([m["price"] for m in mk]), partial_at, this_block


def _reference(w: dict[str, Any]):
    markets = {
        i: R.RefMarket(
            params=m["params"],
            tiers=m["tiers"],
            price=m["price"],
            scale=m["scale"],
            long_oi=m["long_oi"],
            short_oi=m["short_oi"],
            long_index=m["long_index"],
            short_index=m["short_index"],
            rate=m["rate"],
        )  # fmt: skip
        for i, m in enumerate(w["markets"])
    }
    accounts = [
        R.RefAccount(
            acc["collateral"],
            {
                i: R.RefPosition(
                    p["size"],
                    p["entry"],
                    p["snapshot"],
                    p["margin"],
                    p["isolated"],
                    p["partial_at"],
                    p["this_block"],
                )
                for i, p in acc["positions"].items()
            },
        )  # fmt: skip
        for acc in w["accounts"]
    ]
    return markets, accounts


def _first_diff(name: str, got, want) -> str:
    got, want = np.asarray(got, dtype=object), np.asarray(want, dtype=object)
    bad = np.argwhere(got != want)
    i = tuple(bad[0])
    return (
        f"{name}: first divergence at (account, market)={i}: mirror {got[i]} != reference {want[i]}"
    )


def _assert_equal(name: str, got, want) -> None:
    got, want = np.asarray(got, dtype=object), np.asarray(want, dtype=object)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert (got == want).all(), _first_diff(name, got, want)


@SETTINGS
@given(w=world())
def test_exact_kernels_equal_the_reference_to_the_wei(w):
    markets, state, book, price, _, _ = _mirror(w, True)
    ref_markets, accounts = _reference(w)
    n = len(w["markets"])
    # margins, PnL, funding owed per (account, market)
    pnl, owed = health.position_values(book, price, state)
    want_mm = [[ref_markets[i].maintenance_margin(acc.positions[i].size)
                if i in acc.positions else 0 for i in range(n)] for acc in accounts]  # fmt: skip
    want_im = [[ref_markets[i].initial_margin(acc.positions[i].size)
                if i in acc.positions else 0 for i in range(n)] for acc in accounts]  # fmt: skip
    want_pnl = [[R.unrealized_pnl(acc.positions[i].size, acc.positions[i].entry,
                                  ref_markets[i].price)
                 if i in acc.positions else 0 for i in range(n)] for acc in accounts]  # fmt: skip
    want_owed = [[R.funding_owed(acc.positions[i].size, acc.positions[i].snapshot,
                                 ref_markets[i].long_index, ref_markets[i].short_index)
                  if i in acc.positions else 0 for i in range(n)] for acc in accounts]  # fmt: skip
    _assert_equal("maintenance margin", margins.maintenance_margin(book.size, price, markets),
                  want_mm)  # fmt: skip
    _assert_equal("initial margin", margins.initial_margin(book.size, price, markets, state),
                  want_im)  # fmt: skip
    _assert_equal("unrealized pnl", pnl, want_pnl)
    _assert_equal("funding owed", owed, want_owed)
    # cross and isolated health
    h = health.cross_health(book, price, markets, state)
    want = [R.cross_health(acc, ref_markets) for acc in accounts]
    _assert_equal("equity", h.equity, [x[0] for x in want])
    _assert_equal("maintenance", h.maintenance, [x[1] for x in want])
    _assert_equal("initial", h.initial, [x[2] for x in want])
    _assert_equal("liquidatable", h.liquidatable,
                  [R.liquidatable(acc, ref_markets) for acc in accounts])  # fmt: skip
    ieq, imm = health.isolated_health(book, price, markets, state)
    want_iso = [[R.isolated_health(acc.positions[i], ref_markets[i])
                 if i in acc.positions else (0, 0) for i in range(n)] for acc in accounts]  # fmt: skip
    _assert_equal("isolated equity", ieq, [[x[0] for x in r] for r in want_iso])
    _assert_equal("isolated maintenance", imm, [[x[1] for x in r] for r in want_iso])
    # liquidation prices
    _assert_equal(
        "liquidation price",
        liqprice.position_liquidation_prices(book, price, markets, state),
        [[R.liquidation_price(acc, i, ref_markets) for i in range(n)] for acc in accounts],
    )
    # funding accrual over dt
    dt = w["dt"]
    accrued = funding.funding_now(markets, state, price, dt)
    want_f = [ref_markets[i].funding_now(dt) for i in range(n)]
    _assert_equal("long index", accrued.long_funding_index, [m.long_index for m in want_f])
    _assert_equal("short index", accrued.short_funding_index, [m.short_index for m in want_f])
    _assert_equal("funding rate", accrued.funding_rate_per_day, [m.rate for m in want_f])


@SETTINGS
@given(w=world(max_accounts=2), deltas=st.lists(st.integers(-(10**22), 10**22), min_size=4,
                                                 max_size=4))  # fmt: skip
def test_fill_kernels_equal_the_reference_to_the_wei(w, deltas):
    markets, state, book, price, _, _ = _mirror(w, True)
    ref_markets, _ = _reference(w)
    n = len(w["markets"])
    delta = fixed.exact([[d for d in deltas][:n] + [1] * (n - min(n, 4))])[:, :n]
    delta = np.where(delta == 0, 1, delta)
    d = [int(x) for x in delta[0]]
    _assert_equal("fill price",
                  fills.fill_price(price, state.skew, delta, markets.skew_scale),
                  [[ref_markets[i].fill(d[i]) for i in range(n)]])  # fmt: skip
    liq = fills.liquidation_fill(price, state.skew, delta, markets.skew_scale,
                                 markets.max_liquidation_impact_bps)  # fmt: skip
    _assert_equal("liquidation fill", liq, [[ref_markets[i].liquidation_fill(d[i])
                                              for i in range(n)]])  # fmt: skip
    _assert_equal("taker fee", fills.taker_fee(delta, liq, markets.taker_fee_bps),
                  [[ref_markets[i].taker_fee(d[i], int(liq[0, i])) for i in range(n)]])  # fmt: skip
    fee = fills.taker_fee(delta, liq, markets.taker_fee_bps)
    sent, kept = fills.fee_split(fee, markets.insurance_fee_share_bps)
    want_split = [R.fee_split(int(fee[0, i]), int(markets.insurance_fee_share_bps[i]))
                  for i in range(n)]  # fmt: skip
    _assert_equal("fee to the fund", sent, [[x[0] for x in want_split]])
    _assert_equal("fee kept", kept, [[x[1] for x in want_split]])
    size, entry = book.size[:1], book.entry[:1]
    got = fills.apply_fill(size, entry, delta, liq)
    want = [R.apply_fill(int(size[0, i]), int(entry[0, i]), d[i], int(liq[0, i]))
            for i in range(n)]  # fmt: skip
    for k, name in enumerate(("new size", "new entry", "realized")):
        _assert_equal(name, got[k], [[x[k] for x in want]])


def _liquidation_vs_reference(w, result, accounts_ref, ref_markets) -> None:
    n = len(w["markets"])
    for a, acc in enumerate(accounts_ref):
        want = R.liquidate(acc, ref_markets, w["fund"], w["now"])
        where = f"account {a}"
        assert liquidation.OUTCOMES[int(result.outcome[a])] == want.outcome, where
        if want.outcome != "ok":
            continue
        got_events = sorted(
            (int(result.rank[a, i]), i) for i in range(n) if int(result.rank[a, i]) > 0
        )
        assert [i for _, i in got_events] == [e.market for e in want.events], where
        for e in want.events:
            i = e.market
            for name in ("closed", "fill", "notional", "realized", "penalty", "keeper_reward",
                         "insurance_share"):  # fmt: skip
                got = getattr(result, name)[a, i]
                assert got == getattr(e, name), (
                    f"{where} market {i} {name}: {got} != {getattr(e, name)}"
                )
            assert bool(result.full[a, i]) == e.full, (where, i, "full")
        assert result.equity[a] == want.equity, (where, "equity", result.equity[a], want.equity)
        assert result.maintenance[a] == want.maintenance, (where, "maintenance")
        assert result.deficit[a] == want.deficit, (where, "deficit")
        assert result.fund_paid[a] == want.fund_paid, (where, "fund paid")
        shares = {i: (int(result.deficit_share[a, i]), int(result.fund_paid_share[a, i]))
                  for i in range(n) if result.deficit_share[a, i] != 0}  # fmt: skip
        assert shares == want.deficit_shares, (where, "deficit shares")
        assert result.book.collateral[a] == acc.collateral, (where, "collateral after")
        bad = {i: int(result.bad_debt[a, i]) for i in range(n) if result.bad_debt[a, i] != 0}
        assert bad == {i: d - p for i, (d, p) in want.deficit_shares.items() if d > p}, where


@SETTINGS
@given(w=world())
def test_cross_liquidation_kernel_equals_the_reference_to_the_wei(w):
    markets, state, book, price, partial_at, this_block = _mirror(w, True)
    ref_markets, accounts = _reference(w)
    result = liquidation.liquidate_cross(
        book, price, markets, state, fund_balance=w["fund"], now=w["now"],
        partial_at=partial_at, liquidated_this_block=this_block,
    )  # fmt: skip
    _liquidation_vs_reference(w, result, accounts, ref_markets)


@SETTINGS
@given(w=world())
def test_isolated_liquidation_kernel_equals_the_reference_to_the_wei(w):
    markets, state, book, price, partial_at, this_block = _mirror(w, True)
    ref_markets, accounts = _reference(w)
    got = liquidation.liquidate_isolated(
        book, price, markets, state, fund_balance=w["fund"], now=w["now"],
        partial_at=partial_at, liquidated_this_block=this_block,
    )  # fmt: skip
    for a, acc in enumerate(accounts):
        for i in range(len(w["markets"])):
            want = R.liquidate_isolated(acc, i, ref_markets, w["fund"], w["now"])
            where = f"account {a} market {i}"
            assert liquidation.OUTCOMES[int(got.outcome[a, i])] == want.outcome, where
            if want.outcome != "ok":
                continue
            e = want.event
            for name in ("closed", "fill", "notional", "realized", "penalty", "keeper_reward",
                         "insurance_share", "full"):  # fmt: skip
                assert getattr(got, name)[a, i] == getattr(e, name), (where, name)
            for name in ("equity", "maintenance", "deficit", "fund_paid", "bad_debt", "released"):
                mine, ref = getattr(got, name)[a, i], getattr(want, name)
                assert mine == ref, f"{where} {name}: mirror {mine} != reference {ref}"


def _close(name: str, fast_value, exact_value, scale) -> None:
    f = np.asarray(fast_value, dtype=np.float64)
    e = np.asarray(exact_value, dtype=object).astype(np.float64)
    s = np.asarray(scale, dtype=object).astype(np.float64)
    ok = np.abs(f - e) <= FAST_RTOL * s + FAST_ATOL_WEI
    assert ok.all(), f"{name}: fast {f.ravel()} vs exact {e.ravel()}"


@SETTINGS
@given(w=world())
def test_fast_kernels_stay_within_the_documented_bound_of_the_exact_ones(w):
    ex = _mirror(w, True)
    fa = _mirror(w, False)
    results = {}
    for mode, (markets, state, book, price, _, _) in (("exact", ex), ("fast", fa)):
        h = health.cross_health(book, price, markets, state)
        pnl, owed = health.position_values(book, price, state)
        accrued = funding.funding_now(markets, state, price, w["dt"])
        results[mode] = {
            "mm": margins.maintenance_margin(book.size, price, markets),
            "im": margins.initial_margin(book.size, price, markets, state),
            "pnl": pnl,
            "owed": owed,
            "equity": h.equity,
            "maintenance": h.maintenance,
            "long index": accrued.long_funding_index,
            "rate": accrued.funding_rate_per_day,
        }
    e, f = results["exact"], results["fast"]
    for name, value in f.items():  # an object array here would be ~10x slower
        assert np.asarray(value).dtype == np.float64, (name, np.asarray(value).dtype)
    markets, state, book, price, _, _ = ex
    notional = margins.notional(book.size, price)
    terms = abs(book.collateral) + abs(e["pnl"]).sum(-1) + abs(e["owed"]).sum(-1)
    for name in ("mm", "im"):
        _close(name, f[name], e[name], notional)
    _close("pnl", f["pnl"], e["pnl"], notional + abs(book.entry * abs(book.size)) // fixed.WAD)
    _close("owed", f["owed"], e["owed"], abs(e["owed"]) + abs(book.size))
    _close("equity", f["equity"], e["equity"], terms + notional.sum(-1))
    _close("maintenance", f["maintenance"], e["maintenance"], notional.sum(-1))
    _close("long index", f["long index"], e["long index"],
           abs(state.long_funding_index) + price)  # fmt: skip
    _close("rate", f["rate"], e["rate"], abs(state.funding_rate_per_day) + fixed.WAD)


@pytest.mark.parametrize("broken", ["notional rounds down", "fill impact rounds down"])
def test_a_broken_rounding_is_caught(monkeypatch, broken):
    """A kernel with one rounding flipped disagrees with the reference on some world: the
    reference test fails (hypothesis finds it)."""
    if broken == "notional rounds down":
        monkeypatch.setattr(margins, "notional",
                            lambda size, price: fixed.mul_div_down(abs(size), price, fixed.WAD))  # fmt: skip
        test, args = test_exact_kernels_equal_the_reference_to_the_wei, {"w": world()}
    else:
        monkeypatch.setattr(fills, "mul_div_up", fixed.mul_div_down)
        test = test_fill_kernels_equal_the_reference_to_the_wei
        args = {"w": world(max_accounts=2),
                "deltas": st.lists(st.integers(-(10**22), 10**22), min_size=4, max_size=4)}  # fmt: skip
    rerun = settings(SETTINGS, phases=[Phase.generate], database=None)(
        given(**args)(test.hypothesis.inner_test)
    )
    with pytest.raises(AssertionError, match="first divergence"):
        rerun()


@SETTINGS
@given(w=world(max_accounts=1), delta=st.integers(-(10**22), 10**22).filter(bool))
def test_scalar_inputs_stay_exact(w, delta):
    """0-d exact inputs (one trade replayed at a time) give exact Python-int results: numpy
    would turn the Python ints their arithmetic returns into int64 or float64 in ``np.where``."""
    ref_markets, accounts = _reference(w)
    x = fixed.exact
    m = ref_markets[0]
    pos = accounts[0].positions.get(0, R.RefPosition(0, 0))
    fill = fills.fill_price(x(m.price), x(m.skew), x(delta), x(m.params["skewScale"]))
    fee = fills.taker_fee(x(delta), fill, x(m.params["takerFeeBps"]))
    new = fills.apply_fill(x(pos.size), x(pos.entry), x(delta), fill)
    want_new = R.apply_fill(pos.size, pos.entry, delta, m.fill(delta))
    for name, got, want in (("fill", fill, m.fill(delta)),
                            ("fee", fee, m.taker_fee(delta, m.fill(delta))),
                            ("new size", new[0], want_new[0]), ("new entry", new[1], want_new[1]),
                            ("realized", new[2], want_new[2])):  # fmt: skip
        value = np.asarray(got).item() if isinstance(got, np.ndarray) else got
        assert isinstance(value, int) and value == want, (name, value, want)


@pytest.mark.parametrize("seed", range(4))
def test_fast_liquidations_follow_the_exact_ones_on_a_generic_book(seed):
    """The benchmark's book (no state near a tie) after three moves: the fast cross
    liquidations take the same decisions (outcome, markets closed and their order, full or
    partial) as the exact ones, and their amounts stay within the fast mode's bound."""
    from simulator.mirror.bench import random_book

    liquidated = 0
    for move in ([8] * 5, [5] * 5, [6, 14, 7, 13, 5]):
        runs = {}
        for mode in ("exact", "fast"):
            m, s, b, p = random_book(200, 5, seed, exact_mode=mode == "exact")
            if mode == "exact":
                p = p * fixed.exact(move) // 10
            else:
                p = p * fixed.fast(move) / 10
            runs[mode] = liquidation.liquidate_cross(b, p, m, s, fund_balance=10**30)
        e, f = runs["exact"], runs["fast"]
        assert (e.outcome == f.outcome).all() and (e.rank == f.rank).all()
        assert (e.full == f.full).all()
        liquidated += int((e.outcome == liquidation.OK).sum())
        for name in ("closed", "fill", "notional", "realized", "penalty", "deficit", "equity"):
            ev, fv = getattr(e, name), getattr(f, name)
            _close(name, fv, ev, abs(ev) + abs(e.notional).sum(-1, keepdims=ev.ndim == 2))
    assert liquidated > 20  # the moves liquidate many accounts
