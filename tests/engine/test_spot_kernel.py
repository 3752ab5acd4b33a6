"""The spot phase's kernels (:mod:`simulator.engine.jit_spot`) against the Python code they
replace, to the bit, on seeded draws.

:func:`~simulator.engine.jit_spot.plan_step` is held to the plan's former body (kept here: the
arbitrageurs' split of the swap toward the target, the hedger's swap within its inventory, the
constant-product reserves after each arbitrage, the metaorder's carry per market) on drawn
pools, targets inside and outside the fee band, inventories that cap the trades (and one equal
to the trade), open interest with NaN, sales of both zeros, zero volumes and the last step:
every swap's market, agent, side and amount's bits, whether the hedger's inventory capped it
(the former code's amount was then a numpy scalar), and the impacts' bits.
:func:`~simulator.engine.jit_spot.oi_after_closes` is held to ``np.bincount`` and
:func:`~simulator.engine.jit_spot.apply_fills` to the former in-order list additions, with
empty, one-element and NaN inputs. :func:`simulator.engine.spot.swap_amount` is held to the
former ``amm_swap``'s rounding of a Python float and of a numpy scalar.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.engine import jit_spot
from simulator.engine.spot import swap_amount
from simulator.units import to_units, to_wad

DUST = 1e-9


# -- the reference: the plan before session 27 (Python floats, numpy scalars for the hedger) ----


def _swap_to_target_ref(reserve_usd, reserve_base, fee, target):
    if reserve_usd <= 0 or reserve_base <= 0 or target <= 0:
        return None
    price = reserve_usd / reserve_base
    if abs(price / target - 1.0) <= fee + 1e-12:
        return None
    k = reserve_usd * reserve_base
    if price > target:
        swap = (True, (math.sqrt(k / target) - reserve_base) / (1.0 - fee))
    else:
        swap = (False, (math.sqrt(k * target) - reserve_usd) / (1.0 - fee))
    return swap if swap[1] > 0 else None


def _arbitrage_ref(reserve_usd, reserve_base, fee, target, inventories, max_trade_usd):
    wanted = _swap_to_target_ref(reserve_usd, reserve_base, fee, target)
    if wanted is None or not inventories:
        return [None] * len(inventories)
    price = reserve_usd / reserve_base
    share = wanted[1] / len(inventories)
    swaps = []
    for usd, base in inventories:
        if wanted[0]:
            amount = min(share, base, max_trade_usd / price)
        else:
            amount = min(share, usd, max_trade_usd)
        swaps.append((wanted[0], amount) if amount > 0 else None)
    return swaps


def _hedge_ref(net, hedged, price, inventory_usd, inventory_base):
    delta = net - hedged
    scale = max(abs(net), abs(hedged))
    if abs(delta) <= DUST * scale:
        return None
    if delta < 0:
        amount = min(-delta, inventory_base)
        return (True, amount) if amount > 0 else None
    if delta > 0:
        amount = min(delta * price, inventory_usd)
        return (False, amount) if amount > 0 else None
    return None


def _after_swap_ref(reserve_usd, reserve_base, swap, fee):
    k = reserve_usd * reserve_base
    if swap[0]:
        new_base = reserve_base + swap[1] * (1 - fee)
        return k / new_base, reserve_base + swap[1]
    new_usd = reserve_usd + swap[1] * (1 - fee)
    return reserve_usd + swap[1], k / new_usd


def _impact_ref(q, y, sigma, v):
    neg_sign = -1.0 if q > 0 else 1.0 if q < 0 else -0.0 if q == 0 else q
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = abs(q) / v if v != 0 else float(np.divide(abs(q), np.float64(v)))
    return neg_sign * y * sigma * math.sqrt(ratio)


def _plan_ref(x):
    """The former plan_spot's floats on the drawn inputs ``x``: the swaps (market, who,
    base_in, amount, capped) and the impacts (3, M)."""
    n_markets = len(x["fee"])
    max_trade, decay, d2, y, share, rest, ratio, _ = x["scalars"].tolist()
    reserves_usd, reserves_base = x["reserve_usd"].tolist(), x["reserve_base"].tolist()
    net_oi = (x["oi_long"] - x["oi_short"]).tolist()
    hedged = x["hedged"].tolist()
    n_arbs = x["arb"].shape[0]
    arbitrage = n_arbs > 0 and x["t"] < len(x["exo"]) - 1
    inventories = x["arb"].transpose(1, 0, 2).tolist()
    swaps, sales = [], [0.0] * n_markets
    for m in range(n_markets):
        fee, reserve_usd, reserve_base = float(x["fee"][m]), reserves_usd[m], reserves_base[m]
        if arbitrage:
            target = float(x["exo"][x["t"] + 1, m]) * math.exp(
                float(x["permanent"][m]) + float(x["transient"][m]) * decay
            )
            for n, sw in enumerate(
                _arbitrage_ref(reserve_usd, reserve_base, fee, target, inventories[m], max_trade)
            ):
                if sw is not None:
                    swaps.append((m, n, sw[0], sw[1], False))
                    reserve_usd, reserve_base = _after_swap_ref(reserve_usd, reserve_base, sw, fee)
        price = reserve_usd / reserve_base
        inventory = x["hedger"][m]  # numpy scalars, as the former code read them
        sw = _hedge_ref(net_oi[m] * ratio, hedged[m], price, inventory[0], inventory[1])
        if sw is not None:
            swaps.append((m, -1, sw[0], float(sw[1]), isinstance(sw[1], np.generic)))
            sales[m] = sw[1] * price if sw[0] else -sw[1]
    impacts = np.empty((3, n_markets))
    for m in range(n_markets):
        sigma, volume = float(x["sigma"][m]), float(x["volume"][m])
        kept = float(x["metaorder"][m]) * d2
        total = kept + float(sales[m])
        before, after = _impact_ref(kept, y, sigma, volume), _impact_ref(total, y, sigma, volume)
        impacts[0, m] = float(x["permanent"][m]) + share * (after - before)
        impacts[1, m] = rest * after
        impacts[2, m] = total
    return swaps, impacts


# -- the draws ----------------------------------------------------------------------------------


def _draw(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    m = int(rng.choice([0, 1, 2, 5]))
    n = int(rng.choice([0, 1, 3]))
    steps = int(rng.integers(1, 4))
    price = 10.0 ** rng.uniform(-1, 5, m)
    reserve_usd = 10.0 ** rng.uniform(4, 9, m)
    reserve_base = reserve_usd / price * rng.uniform(0.9, 1.1, m)
    fee = rng.choice([0.0, 0.0005, 0.003, 0.01], m)
    # The next outside price: inside the fee band, just outside, or far.
    move = rng.choice([1e-5, 1e-3, 0.02, 0.3], (steps + 1, m)) * rng.choice([-1, 1], (steps + 1, m))
    exo = price * (1 + move)
    oi_long = 10.0 ** rng.uniform(-2, 6, m)
    oi_short = 10.0 ** rng.uniform(-2, 6, m)
    hedged = (oi_long - oi_short) * rng.choice([1.0, 1 + 1e-12, 0.5, 1.5, -1.0], m)
    hedger = np.stack([10.0 ** rng.uniform(0, 9, m), 10.0 ** rng.uniform(-3, 6, m)], axis=1)
    arb = np.stack([10.0 ** rng.uniform(0, 8, (n, m)), 10.0 ** rng.uniform(-3, 5, (n, m))], axis=2)
    if m and rng.random() < 0.3:  # the hedger holds exactly the base it sells
        j = rng.integers(m)
        hedged[j] = oi_long[j] - oi_short[j] + abs(hedger[j, 1])
        hedger[j, 1] = hedged[j] - (oi_long[j] - oi_short[j])
    if m and rng.random() < 0.15:
        oi_long[rng.integers(m)] = np.nan
    if m and rng.random() < 0.2:  # a pool emptied of one side's arbitrageur capital
        arb[:, rng.integers(m), rng.integers(2)] = 0.0
    metaorder = rng.choice([-1.0, 1.0], m) * 10.0 ** rng.uniform(-3, 8, m)
    metaorder[rng.random(m) < 0.2] = 0.0
    metaorder[rng.random(m) < 0.1] = -0.0
    volume = 10.0 ** rng.uniform(3, 10, m)
    if m and rng.random() < 0.1:
        volume[rng.integers(m)] = 0.0
    half_life = float(rng.choice([2.0, 30.0, np.inf]))
    decay = float(0.5 ** (1.0 / half_life))
    share = float(rng.choice([0.0, 0.3, 1.0]))
    scalars = np.array([
        float(10.0 ** rng.uniform(3, 7)), decay, decay**2, float(rng.choice([0.0, 0.5, 1.0])),
        share, 1.0 - share, 1.0, DUST,
    ])  # fmt: skip
    return {
        "reserve_usd": reserve_usd, "reserve_base": reserve_base, "oi_long": oi_long,
        "oi_short": oi_short, "hedged": hedged, "hedger": hedger, "arb": arb, "exo": exo,
        "t": int(rng.integers(0, steps + 1)), "permanent": rng.normal(0, 0.05, m),
        "transient": rng.normal(0, 0.05, m), "metaorder": metaorder, "fee": fee,
        "sigma": rng.uniform(0.005, 0.2, m), "volume": volume, "scalars": scalars,
    }  # fmt: skip


def _plan(x):
    m, n = len(x["fee"]), x["arb"].shape[0]
    params = np.ascontiguousarray(np.stack([x["fee"], x["sigma"], x["volume"]], axis=1))
    out = np.full((m * (n + 1), len(jit_spot.SWAP_COLUMNS)), np.nan)
    impacts = np.full((3, m), np.nan)
    count = jit_spot.plan_step(
        x["reserve_usd"], x["reserve_base"], x["oi_long"], x["oi_short"], x["hedged"],
        x["hedger"], x["arb"], x["exo"], x["t"], x["permanent"], x["transient"], x["metaorder"],
        params, x["scalars"], impacts, out,
    )  # fmt: skip
    swaps = [(int(r[0]), int(r[1]), bool(r[2]), r[3], bool(r[4])) for r in out[:count].tolist()]
    return swaps, impacts


def _bits(a) -> list:
    a = np.asarray(a, dtype=np.float64)
    return [("nan" if math.isnan(v) else v.hex()) for v in a.ravel().tolist()]


@pytest.mark.parametrize("seed", range(300))
def test_plan_step_equals_the_former_plan(seed):
    x = _draw(seed)
    got_swaps, got_impacts = _plan(x)
    want_swaps, want_impacts = _plan_ref(x)
    assert [s[:3] + (s[4],) for s in got_swaps] == [s[:3] + (s[4],) for s in want_swaps]
    assert _bits([s[3] for s in got_swaps]) == _bits([s[3] for s in want_swaps])
    assert _bits(got_impacts) == _bits(want_impacts)


def test_the_draws_reach_every_branch():
    """The draws above trade both ways, cap the hedger (once at exactly its inventory) and
    leave markets without a trade."""
    kinds = set()
    for seed in range(300):
        x = _draw(seed)
        swaps, _ = _plan_ref(x)
        for m, who, base_in, amount, capped in swaps:
            kinds.add(("arb" if who >= 0 else "hedge", base_in, capped))
            if who < 0 and base_in and not capped and amount == x["hedger"][m, 1]:
                kinds.add("exact")  # min's first of equals: the wanted amount, not capped
    assert {("arb", True, False), ("arb", False, False), ("hedge", True, False),
            ("hedge", False, False), ("hedge", True, True), ("hedge", False, True),
            "exact"} <= kinds  # fmt: skip


def test_plan_step_raises_where_python_raised():
    x = _draw(3)
    while len(x["fee"]) == 0:
        x = _draw(int(x["t"]) + 100)
    x["reserve_base"][0] = 0.0  # an empty pool: the hedger's price divides by zero
    with pytest.raises(ZeroDivisionError):
        _plan_ref(x)
    with pytest.raises(ZeroDivisionError):
        _plan(x)


# -- the estimate after the closes, the inventories, the amounts --------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_oi_after_closes_equals_bincount(seed):
    rng = np.random.default_rng(seed)
    m, rows = int(rng.choice([1, 2, 5])), int(rng.choice([0, 1, 7, 200]))
    market = rng.integers(0, m, rows)
    size = 10.0 ** rng.uniform(-4, 4, rows)
    if rows and seed % 7 == 0:
        size[rng.integers(rows)] = np.nan
    side = rng.choice(np.array([-1, 0, 1], dtype=np.int8), rows)
    closes = rng.permutation(rows)[: int(rng.integers(0, rows + 1))] if rows else np.arange(0)
    long_before, short_before = 10.0 ** rng.uniform(0, 6, m), 10.0 ** rng.uniform(0, 6, m)
    out = np.full((2, m), np.nan)
    jit_spot.oi_after_closes(market, size, side, closes, long_before, short_before, out)
    mk, sz, sd = market[closes], size[closes], side[closes]
    want_long = long_before - np.bincount(mk, weights=sz * (sd > 0), minlength=m)
    want_short = short_before - np.bincount(mk, weights=sz * (sd < 0), minlength=m)
    assert _bits(out[0]) == _bits(want_long) and _bits(out[1]) == _bits(want_short)


@pytest.mark.parametrize("seed", range(30))
def test_apply_fills_equals_the_list_additions(seed):
    rng = np.random.default_rng(seed)
    m, n, f = int(rng.choice([1, 3])), int(rng.choice([0, 1, 3])), int(rng.choice([0, 1, 9]))
    hedged, hedger = rng.normal(0, 100, m), rng.uniform(0, 1e6, (m, 2))
    arb = rng.uniform(0, 1e6, (n, m, 2))
    who = rng.integers(-1, n, f)
    fills = np.stack(
        [rng.integers(0, m, f), who, rng.normal(0, 1e5, f), rng.normal(0, 10, f)], axis=1
    ).reshape(f, 4)
    if f and seed % 5 == 0:
        fills[0, 2] = np.nan
    want_hedged, want_hedger, want_arb = hedged.tolist(), hedger.tolist(), arb.tolist()
    for mk, w, d_usd, d_base in fills.tolist():
        mk, w = int(mk), int(w)
        inventory = want_hedger[mk] if w < 0 else want_arb[w][mk]
        if w < 0:
            want_hedged[mk] += d_base
        inventory[0] += d_usd
        inventory[1] += d_base
    jit_spot.apply_fills(fills, hedged, hedger, arb)
    assert _bits(hedged) == _bits(want_hedged) and _bits(hedger) == _bits(want_hedger)
    assert _bits(arb) == _bits(np.array(want_arb).reshape(arb.shape))


def _amounts(rng: np.random.Generator) -> list[float]:
    """Amounts over 14 decades, on the fast path's bounds, on halves of the last decimal
    (ties of the rounding), and dyadic ones (exact in binary: ties that are ties)."""
    drawn = (10.0 ** rng.uniform(-14, 10, 3000)).tolist()
    edges = [1e3, 1e9, 999.9999999999995, 999.9999999999999, 999999999.9999995, 0.0, 5e-13,
             1.5e-12, 2.5e-12, 5e-7, 2.5e-6, 1e-20, 123.0]  # fmt: skip
    ties = ((rng.integers(0, 10**9, 500) + 0.5) / 10.0 ** rng.choice([6, 12], 500)).tolist()
    dyadic = (rng.integers(1, 2**20, 500) / 2.0 ** rng.integers(1, 40, 500)).tolist()
    near = [np.nextafter(x, d) for x in (1e3, 1e9) for d in (0.0, np.inf)]
    return drawn + edges + ties + dyadic + [float(x) for x in near]


@pytest.mark.parametrize("seed", range(10))
def test_swap_amount_rounds_as_amm_swap_did(seed):
    """The integer sent is the former ``amm_swap``'s: ``to_wad(round(a, 12))`` or
    ``to_units(round(a, 6))`` of the float, of a numpy scalar when the hedger's inventory
    capped it, at least 1."""
    for amount in _amounts(np.random.default_rng(seed)):
        for base_in in (True, False):
            for capped in (False, True):
                a = np.float64(amount) if capped else amount
                want = to_wad(round(a, 12)) if base_in else to_units(round(a, 6))
                assert swap_amount(base_in, amount, capped) == max(want, 1), (amount, base_in)


@pytest.mark.parametrize("seed", range(30))
def test_lp_fallen_equals_flatnonzero(seed):
    """Phase 1d's markets whose LPs withdraw: the former numpy expression's, in order."""
    rng = np.random.default_rng(seed)
    m = int(rng.choice([0, 1, 5, 40]))
    peak = 10.0 ** rng.uniform(-1, 5, m)
    oracle = peak * rng.choice([0.5, 0.9, 0.95, 1.0], m)
    if m and seed % 3 == 0:
        oracle[rng.integers(m)] = np.nan
        peak[rng.integers(m)] = np.nan
    withdrew = rng.random(m) < 0.3
    drawdown = float(rng.choice([0.05, 0.1, 0.5]))
    out = np.full(m, -1, dtype=np.int64)
    count = jit_spot.lp_fallen(oracle, peak, withdrew, 1 - drawdown, out)
    want = np.flatnonzero(~withdrew & (oracle <= peak * (1 - drawdown)))
    assert out[:count].tolist() == want.tolist()
