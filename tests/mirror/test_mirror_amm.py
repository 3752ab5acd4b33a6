"""The spot AMM kernels (simulator/mirror/amm.py) against their line-by-line reference
(simulator/mirror/reference_amm.py) on random pools and swap sequences (hypothesis), the fast
mode within its bound, and against ``SpotAMM`` on chain (revm): each market's pool with a
random fee and liquidity added or removed, then a random sequence of swaps across the markets
(some refused for their minimum output): every outcome, ``Swap`` event (amount out, reserves
after), ``getAmountOut`` and ``spotPrice`` equal to the wei. A broken rule is caught.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from mirror_strategies import amm_pool
from perp_helpers import TRADERS
from venue_helpers import MarketSpec, deploy_multi

from simulator.chain import open_chain
from simulator.mirror import amm, fixed
from simulator.mirror import reference_amm as R

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _grid(pools: list[dict[str, Any]], conv):
    width = max(len(p["swaps"]) for p in pools)
    pad = [p["swaps"] + [(False, 0, 0)] * (width - len(p["swaps"])) for p in pools]
    base_in = np.array([[s[0] for s in row] for row in pad], dtype=bool)
    amount = conv([[s[1] for s in row] for row in pad]).reshape(len(pools), width)
    lo = conv([[s[2] for s in row] for row in pad]).reshape(len(pools), width)
    return base_in, amount, lo


@SETTINGS
@given(pools=st.lists(amm_pool(), min_size=1, max_size=4))
def test_swap_sequences_equal_the_reference_to_the_wei(pools):
    x = fixed.exact
    base_in, amount, lo = _grid(pools, x)
    rc = x([p["reserve_collateral"] for p in pools])
    rb = x([p["reserve_base"] for p in pools])
    fee = x([p["fee_bps"] for p in pools])
    got = amm.swaps(base_in, amount, rc, rb, fee, lo)
    for k, p in enumerate(pools):
        ref = R.RefPool(p["reserve_collateral"], p["reserve_base"], p["fee_bps"])
        for j, (b, a, m) in enumerate(p["swaps"]):
            where = f"pool {k} swap {j}: "
            quote = ref.get_amount_out(b, a)
            mine = amm.amount_out(b, x(a), x(ref.reserve_collateral), x(ref.reserve_base),
                                  x(p["fee_bps"]))  # fmt: skip
            assert mine == (quote or 0), f"{where}amount out: mirror {mine} != reference {quote}"
            outcome, out = ref.swap(b, a, m)
            event(f"swap: {outcome}")
            assert amm.OUTCOMES[int(got.outcome[k, j])] == outcome, f"{where}outcome"
            assert got.amount_out[k, j] == out, f"{where}out: mirror {got.amount_out[k, j]}"
            assert got.reserve_collateral[k, j] == ref.reserve_collateral, f"{where}mirror rc"
            assert got.reserve_base[k, j] == ref.reserve_base, f"{where}mirror rb"
        assert amm.spot_price(got.reserve_collateral[k, -1], got.reserve_base[k, -1]) == (
            ref.spot_price() or 0
        ), f"pool {k}: mirror spot price"


@SETTINGS
@given(pools=st.lists(amm_pool(), min_size=1, max_size=4), data=st.data())
def test_liquidity_changes_equal_the_reference(pools, data):
    x = fixed.exact
    rc = x([p["reserve_collateral"] for p in pools])
    rb = x([p["reserve_base"] for p in pools])
    dc = x([data.draw(st.integers(0, 2 * p["reserve_collateral"] + 5)) for p in pools])
    db = x([data.draw(st.integers(0, 2 * p["reserve_base"] + 5)) for p in pools])
    added = amm.add_liquidity(rc, rb, dc, db)
    removed = amm.remove_liquidity(rc, rb, dc, db)
    for k, p in enumerate(pools):
        ref = R.RefPool(p["reserve_collateral"], p["reserve_base"], p["fee_bps"])
        ref.add_liquidity(int(dc[k]), int(db[k]))
        assert (added[0][k], added[1][k]) == (ref.reserve_collateral, ref.reserve_base)
        ref = R.RefPool(p["reserve_collateral"], p["reserve_base"], p["fee_bps"])
        assert bool(removed[2][k]) == ref.remove_liquidity(int(dc[k]), int(db[k]))
        assert (removed[0][k], removed[1][k]) == (ref.reserve_collateral, ref.reserve_base)


@SETTINGS
@given(pool=amm_pool())
def test_the_integer_swap_equals_the_vectorized_one(pool):
    """:func:`amm.swap_int` (one pool, Python integers: the run's spot side) gives the exact
    kernel's output, reserves and outcome, swap after swap."""
    rc, rb, fee = pool["reserve_collateral"], pool["reserve_base"], pool["fee_bps"]
    for base_in, amount, lo in pool["swaps"]:
        x = fixed.exact
        want = amm.swap(base_in, x(amount), x(rc), x(rb), x(fee), x(lo))
        got = amm.swap_int(base_in, amount, rc, rb, fee, lo)
        assert got == (int(want.amount_out), int(want.reserve_collateral),
                       int(want.reserve_base), int(want.outcome))  # fmt: skip
        assert all(type(v) is int for v in got)
        _, rc, rb, _ = got


def _carried_slack(base_in, rc_before, rb_before):
    """How far each fast swap's output and the reserves after it may sit from the exact ones
    (units of each token), carried through the pool's sequence of swaps.

    A swap drops at most 2 units to the floors it does not take (fee and output). Its output
    ``out = r_out·a / (r_in + a)`` moves by at most 1 unit per unit of error in ``r_out``
    (``d out / d r_out <= 1``) and by at most ``r_out / r_in`` per unit of error in ``r_in``
    (taken at the reserves' worst ends): a pool priced far from one unit per unit amplifies an
    input reserve's error, and the output reserve then carries the amplified error into the
    next swap (e.g. 1 unit of collateral reserve off in a pool holding 1 unit of base, then 2.5M
    base units off in the next swap's output and in every later one)."""
    pools, swaps = base_in.shape
    err_c, err_b = np.zeros(pools), np.zeros(pools)  # the reserves' errors before the swap
    out_slack, rc_slack, rb_slack = (np.empty((pools, swaps)) for _ in range(3))
    for k in range(swaps):
        bi = base_in[:, k]
        r_in, r_out = (
            np.where(bi, rb_before[:, k], rc_before[:, k]),
            np.where(bi, rc_before[:, k], rb_before[:, k]),
        )
        e_in, e_out = np.where(bi, err_b, err_c), np.where(bi, err_c, err_b)
        out = e_out + e_in * (r_out + e_out) / np.maximum(r_in - e_in, 1) + 2
        out_slack[:, k] = out
        # The output reserve carries the output's error; the input one its own floor.
        err_c, err_b = np.where(bi, err_c + out, err_c + 1), np.where(bi, err_b + 1, err_b + out)
        rc_slack[:, k], rb_slack[:, k] = err_c, err_b
    return out_slack, rc_slack, rb_slack


@SETTINGS
@given(pools=st.lists(amm_pool(), min_size=1, max_size=4))
def test_fast_swaps_stay_within_the_bound_of_the_exact_ones(pools):
    """Float64: where the exact sequence succeeds with outputs well above 1 unit, the fast one
    takes the same outcomes, with outputs and reserves within 1e-9 relative plus what the
    floors it does not take can carry (:func:`_carried_slack`)."""
    pools = [p for p in pools if p["reserve_collateral"] and p["reserve_base"]] or pools[:1]
    base_in = _grid(pools, fixed.exact)[0]
    ex = amm.swaps(*_grid(pools, fixed.exact)[:2], fixed.exact([p["reserve_collateral"] for p in pools]),
                   fixed.exact([p["reserve_base"] for p in pools]),
                   fixed.exact([p["fee_bps"] for p in pools]))  # fmt: skip
    fa = amm.swaps(*_grid(pools, fixed.fast)[:2], fixed.fast([p["reserve_collateral"] for p in pools]),
                   fixed.fast([p["reserve_base"] for p in pools]),
                   fixed.fast([p["fee_bps"] for p in pools]))  # fmt: skip
    assert fa.amount_out.dtype == np.float64 and fa.reserve_base.dtype == np.float64
    clear = (ex.outcome == amm.OK) & (np.asarray(ex.amount_out, dtype=object) > 10**6)
    rows = clear.all(axis=-1)
    # The exact reserves before each swap, and each swap's output per unit of input reserve.
    rc_after = np.asarray(ex.reserve_collateral, dtype=object).astype(float)
    rb_after = np.asarray(ex.reserve_base, dtype=object).astype(float)
    rc0 = np.array([[float(p["reserve_collateral"])] for p in pools])
    rb0 = np.array([[float(p["reserve_base"])] for p in pools])
    rc_before = np.concatenate([rc0, rc_after[:, :-1]], axis=1)
    rb_before = np.concatenate([rb0, rb_after[:, :-1]], axis=1)
    out_slack, rc_slack, rb_slack = _carried_slack(base_in, rc_before, rb_before)
    for name, slack in (("amount_out", out_slack), ("reserve_collateral", rc_slack),
                        ("reserve_base", rb_slack)):  # fmt: skip
        e = np.asarray(getattr(ex, name), dtype=object).astype(float)[rows]
        f = np.asarray(getattr(fa, name), dtype=float)[rows]
        assert (np.abs(f - e) <= 1e-9 * np.abs(e) + slack[rows]).all(), (name, f, e)


# -- against the chain ------------------------------------------------------------------------

TRADER = TRADERS[0]
MARKETS = [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100), MarketSpec("SOL", 10)]
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def mv():
    with open_chain(backend="revm") as chain:
        yield deploy_multi(chain, MARKETS)


@st.composite
def chain_case(draw) -> dict[str, Any]:
    """Per market a fee and a liquidity change (add, remove or none, in token units), then up to
    12 swaps over the markets (base in?, amount, a minimum out that sometimes exceeds the
    quote)."""
    markets = []
    for _ in MARKETS:
        change = draw(st.sampled_from(["none", "add", "remove"]))
        markets.append({
            "fee": draw(st.one_of(st.just(30), st.integers(0, 9_999))),
            "change": change,
            "collateral": draw(st.integers(0, 10**12)),  # up to 1M USD
            "base_share": draw(st.integers(0, 100)),  # % of the pool's base reserve
        })  # fmt: skip
    swaps = []
    for _ in range(draw(st.integers(1, 12))):
        base_in = draw(st.booleans())
        amount = draw(st.one_of(st.integers(0, 1_000), st.integers(0, 10**12),
                                st.integers(0, 10**22)))  # fmt: skip
        swaps.append((draw(st.integers(0, len(MARKETS) - 1)), base_in,
                      amount if not base_in else amount * 10**6,
                      draw(st.sampled_from([0, 0, 1, -1]))))  # fmt: skip
    return {"markets": markets, "swaps": swaps}


@EXAMPLES
@given(c=chain_case())
def test_swaps_equal_the_chain_to_the_wei(mv, c):
    chain, ids, x = mv.chain, mv.market_ids, fixed.exact
    with chain.isolate():
        deployer = mv.deployer
        calls = []
        pools = {}
        for i, m in zip(ids, c["markets"], strict=True):
            pool = mv.amms[i]
            rc, rb = chain.read_one(pool.reserves())
            calls.append(pool.call(deployer, "setFee", m["fee"]))
            base_amount = rb * m["base_share"] // 100
            if m["change"] == "add":
                calls += [
                    mv.collateral.mint(deployer, deployer, m["collateral"]),
                    mv.bases[i].mint(deployer, deployer, base_amount),
                    mv.collateral.approve(deployer, pool.address, m["collateral"]),
                    mv.bases[i].approve(deployer, pool.address, base_amount),
                    pool.add_liquidity(deployer, m["collateral"], base_amount),
                ]
                rc, rb, _ = amm.add_liquidity(x(rc), x(rb), x(m["collateral"]), x(base_amount))
            elif m["change"] == "remove":
                calls.append(
                    pool.remove_liquidity(deployer, m["collateral"], base_amount, deployer)
                )
                rc, rb, ok = amm.remove_liquidity(x(rc), x(rb), x(m["collateral"]), x(base_amount))
                m["removal_ok"] = bool(ok)
            pools[i] = [x(int(rc)), x(int(rb)), x(m["fee"])]
        results = chain.execute(calls)
        refused = sum(not r.ok for r in results)
        expected_refused = sum(1 for m in c["markets"] if m.get("removal_ok") is False)
        assert refused == expected_refused, (
            f"mirror refuses {expected_refused} removals, chain {refused}"
        )
        for i in ids:
            rc, rb = chain.read_one(mv.amms[i].reserves())
            assert (pools[i][0], pools[i][1]) == (rc, rb), f"market {i}: mirror reserves"
        mint = [mv.collateral.mint(deployer, TRADER, 10**24)]
        mint += [mv.bases[i].mint(deployer, TRADER, 10**30) for i in ids]
        mint += [mv.collateral.approve(TRADER, mv.amms[i].address, 2**256 - 1) for i in ids]
        mint += [mv.bases[i].approve(TRADER, mv.amms[i].address, 2**256 - 1) for i in ids]
        for r in chain.execute(mint):
            assert r.ok, r.error
        for k, (m, base_in, amount, slack) in enumerate(c["swaps"]):
            i = ids[m]
            rc, rb, fee = pools[i]
            quote = amm.amount_out(base_in, x(amount), rc, rb, fee)
            (on_chain,) = chain.read([mv.amms[i].get_amount_out(base_in, amount)], strict=False)
            empty = rc == 0 or rb == 0
            if empty:  # the view reverts NoLiquidity
                assert on_chain.error.name == "NoLiquidity", f"swap {k}: mirror empty pool"
            else:
                assert quote == on_chain, f"swap {k}: getAmountOut: mirror {quote} != {on_chain}"
            minimum = max(int(quote) + slack, 0)
            s = amm.swap(base_in, x(amount), rc, rb, fee, x(minimum))
            r = chain.execute_one(mv.amms[i].swap(TRADER, base_in, amount, minimum))
            outcome = amm.OUTCOMES[int(s.outcome)]
            event(f"chain swap: {outcome}")
            assert outcome == ("ok" if r.ok else r.error.name), (
                f"swap {k} market {i}: mirror {outcome}, chain {r.error}"
            )
            if r.ok:
                (e,) = [ev.args for ev in r.events if ev.name == "Swap"]
                for what, mine, theirs in (("amount out", s.amount_out, e["amountOut"]),
                                           ("reserve collateral", s.reserve_collateral,
                                            e["reserveCollateral"]),
                                           ("reserve base", s.reserve_base, e["reserveBase"])):  # fmt: skip
                    assert mine == theirs, (
                        f"swap {k} market {i} {what}: mirror {mine} != chain {theirs}"
                    )
                pools[i] = [s.reserve_collateral, s.reserve_base, fee]
            (price,) = chain.read([mv.amms[i].spot_price()], strict=False)
            mine = amm.spot_price(pools[i][0], pools[i][1])
            if pools[i][1] == 0:
                assert price.error.name == "NoLiquidity", f"swap {k}: mirror empty base reserve"
            else:
                assert mine == price, f"swap {k} market {i}: spot price: mirror {mine} != {price}"


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_a_broken_amm_rule_is_caught_by_the_chain(mv, monkeypatch):
    """A fee taken from the output instead of the input (the same bps, rounded down): the
    differential test fails."""

    def fee_on_output(base_in, amount_in, rc, rb, fee_bps, f=amm.amount_out):
        gross = f(base_in, amount_in, rc, rb, 0)
        return gross * (fixed.BPS - fee_bps) // fixed.BPS

    monkeypatch.setattr(amm, "amount_out", fee_on_output)
    inner = test_swaps_equal_the_chain_to_the_wei.hypothesis.inner_test
    rerun = settings(EXAMPLES, phases=[Phase.generate], database=None)(given(c=chain_case())(inner))
    with pytest.raises(AssertionError, match="mirror"):
        rerun(mv)
