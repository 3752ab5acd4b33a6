"""The traders' compiled pass as session 29 rewrote it (simulator.engine.jit_rows.trader_pass:
for the engines' case a gather, one vectorized loop for the carry and each row's decision,
and running unit sums over contiguous units) gives what session 28's pass gives
(tests/engine/trader_pass_reference.py, kept verbatim), bit for bit: on drawn books whose
units follow one another or not, with and without the funding and scale terms, on edge
operands (signed zeros, NaN, infinities, tiny and huge values), and step by step on oct-2025's
tuning path. The mirror's top-ups' wallet check (jit_rows.top_ups_within) is held to the
loop it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from trader_pass_reference import trader_pass_reference

from simulator.agents import traders as trader_agents
from simulator.engine import jit_rows
from simulator.population import Behaviour

CODES = trader_agents.CODES


def _book(rng, n: int, n_markets: int, contiguous: bool):
    """Rows of accounts with a share isolated (``contiguous``: in account order, each
    account's cross rows first, so that every unit's rows follow one another), and the
    units MarginUnits.of_book makes of them."""
    account = rng.integers(0, max(n // 2, 1), n)
    isolated = rng.random(n) < 0.25
    if contiguous:  # by account, an account's isolated rows after its cross rows
        order = np.lexsort((isolated, account))
        account, isolated = account[order], isolated[order]
    cross = np.unique(account[~isolated])
    unit_of_account = np.full(int(account.max()) + 1 if n else 1, -1, dtype=np.int64)
    unit_of_account[cross] = np.arange(len(cross))
    unit = unit_of_account[account] if n else np.zeros(0, dtype=np.int64)
    unit[isolated] = len(cross) + np.arange(int(isolated.sum()))
    count = len(cross) + int(isolated.sum())
    behaviour = rng.integers(0, 5, n).astype(np.int8)
    market = rng.integers(0, n_markets, n).astype(np.int64)
    return market, unit.astype(np.int64), behaviour, isolated, count


def _spray(rng, a, values, share):
    for v in values:
        a[rng.random(len(a)) < share] = v


def _case(seed: int, n: int, contiguous: bool, edge: bool, n_markets: int = 4,
          unit_scale: bool = False):  # fmt: skip
    """The old and the new pass's arguments for one drawn state (``edge``: sprayed with edge
    operands; ``unit_scale``: every margin scale and read scale 1.0, the margin scale at
    rest)."""
    rng = np.random.default_rng(seed)
    market, unit, behaviour, isolated, count = _book(rng, n, n_markets, contiguous)
    threshold, top_up_base = jit_rows.book_rules(
        behaviour, CODES, *(rng.uniform(lo, hi, n) for lo, hi in
                            ((0.0, 0.5), (0.0, 0.5), (-0.05, 0.1), (0.5, 3.0), (0, 1),
                             (100, 10_000)))
    )  # fmt: skip
    rules = np.ascontiguousarray(np.stack([threshold, top_up_base]))
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    size = np.where(rng.random(n) < 0.7, rng.lognormal(0, 1, n), 0.0)
    collateral_in = rng.uniform(100, 10_000, n)
    equity = collateral_in * rng.uniform(-0.5, 2.5, n)
    maintenance = np.where(size > 0, collateral_in * rng.uniform(0.0, 1.2, n), 0.0)
    read_price = rng.lognormal(4, 0.3, n)
    read_funding = rng.standard_normal(n)
    read_scale = rng.uniform(0.8, 1.5, n)
    entry = rng.lognormal(4, 0.3, n)
    wallet = rng.uniform(0, 5_000, n)
    oracle = rng.lognormal(4, 0.3, n_markets)
    funding = rng.standard_normal((n_markets, 2))
    scale = rng.uniform(0.8, 1.5, n_markets)
    if edge and n:
        share = 0.06
        _spray(rng, size, [0.0, -0.0, np.nan, 1e-320, 1e250], share)
        _spray(rng, equity, [0.0, -0.0, np.nan, np.inf, -np.inf, 1e250], share)
        _spray(rng, maintenance, [0.0, -0.0, np.nan, np.inf], share)
        _spray(rng, read_price, [0.0, -0.0, 1e-200, 1e250, np.nan, np.inf, -3.0], share)
        _spray(rng, read_funding, [1e250, -1e250, np.inf, np.nan, -0.0], share)
        _spray(rng, read_scale, [0.0, 1e-200, 1e250, np.nan, np.inf], share)
        _spray(rng, entry, [0.0, -0.0, 1e-320, np.nan, np.inf], share)
        _spray(rng, collateral_in, [0.0, -0.0, np.nan], share)
        _spray(rng, wallet, [0.0, np.nan, 0.5, 1.0], share)
        _spray(rng, rules[0], [np.nan, 0.0, -0.0], share)
        _spray(rng, rules[1], [np.nan, 1.0, 0.99], share)
        oracle[0] = [np.inf, 1e250, -0.0, np.nan, 1e-300, 5.0][seed % 6]
        funding[1, 1] = [1e250, np.inf, np.nan, 0.0][seed % 4]
        scale[min(2, n_markets - 1)] = [1e250, np.inf, np.nan, 0.0, 1.0][seed % 5]
    if unit_scale:
        read_scale[:] = 1.0
        scale[:] = 1.0
    rows3 = np.ascontiguousarray(np.stack([market, unit, behaviour.astype(np.int64)]))
    kinds = jit_rows.decider_kinds(behaviour, CODES, isolated)
    rows4 = np.ascontiguousarray(np.vstack([rows3, kinds]))
    deciders = jit_rows.decider_rows(behaviour, CODES, isolated)
    state = (side, size, equity, maintenance, read_price)
    rest = (collateral_in, entry, wallet, oracle)
    return (
        rows3,
        rows4,
        deciders,
        rules,
        count,
        state,
        read_funding,
        read_scale,
        rest,
        funding,
        scale,
    )


def _both(case, has_funding: bool, has_scale: bool):
    """(old outputs, new outputs, new took the engines' path): each (floats of the unit sums,
    row notionals, amounts, picked rows, closes, per-row equity, per-row maintenance)."""
    rows3, rows4, deciders, rules, count, state, rf, rs, rest, funding, scale = case
    n = len(state[0])
    collateral_in, entry, wallet, oracle = rest
    none = np.zeros(0)
    carry = (has_funding, rf if has_funding else none, has_scale, rs if has_scale else none)
    old_out = [np.empty(n) for _ in range(3)]
    with np.errstate(all="ignore"):
        floats, picked, n_close = trader_pass_reference(
            rows3, deciders, rules, CODES, count, *state, *carry, collateral_in, entry, wallet,
            oracle, funding.reshape(-1), scale, *old_out,
        )  # fmt: skip
    c = count
    old = (floats[: 3 * c], old_out[2], floats[3 * c :], picked, n_close, *old_out[:2])
    contiguous = bool(jit_rows.units_contiguous(rows3[1], count))
    work, flags = np.full((3, n), 7.0), np.full(n, 3, dtype=np.int8)  # stale scratch
    new_out = [np.full(n, 9.0) for _ in range(2)]
    floats, picked, n_close = jit_rows.trader_pass(
        rows4, deciders, rules, CODES, count, contiguous, *state, *carry, collateral_in, entry,
        wallet, oracle, funding, scale, work, flags, *new_out,
    )  # fmt: skip
    new = (floats[: 3 * c], floats[3 * c : 3 * c + n], floats[3 * c + n :], _rows(picked),
           n_close, *new_out)  # fmt: skip
    return old, new, contiguous and has_funding and has_scale


def _rows(picked):
    """The new pass's rows: None (the engines' path, no row decides) is none."""
    return np.zeros(0, dtype=np.int64) if picked is None else picked


def _assert_same(old, new):
    names = ("unit sums", "row notionals", "amounts", "picked", "closes", "equity", "mm")
    for name, o, g in zip(names, old, new, strict=True):
        if name == "closes":
            assert o == g, name
            continue
        o, g = np.asarray(o), np.asarray(g)
        assert o.dtype == g.dtype and o.shape == g.shape, name
        assert np.array_equal(o.view(np.int64) if o.dtype == np.float64 else o,
                              g.view(np.int64) if g.dtype == np.float64 else g), name  # fmt: skip


@pytest.mark.parametrize("n", [0, 1, 2, 9, 400, 3000])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("contiguous", [True, False])
def test_the_pass_is_session_28s_on_drawn_books(seed, n, contiguous):
    """The same floats to the bit (NaN payloads and signs of zeros too), the same rows, on
    every combination of the funding and scale terms; the engines' path taken on contiguous
    units; the drawn books decide something."""
    case = _case(seed, n, contiguous, edge=False)
    for has_funding in (True, False):
        for has_scale in (True, False):
            old, new, fast = _both(case, has_funding, has_scale)
            _assert_same(old, new)
            if contiguous and has_funding and has_scale and n:
                assert fast
    if n >= 400:
        old, new, _ = _both(case, True, True)
        assert new[4] > 0 and len(new[3]) > new[4]  # closes and top-up rows


@pytest.mark.parametrize("n", [1, 7, 2000])
@pytest.mark.parametrize("seed", range(12))
def test_the_pass_is_session_28s_on_edge_operands(seed, n):
    for contiguous in (True, False):
        case = _case(seed, n, contiguous, edge=True)
        for has_funding, has_scale in ((True, True), (False, True), (True, False)):
            old, new, _ = _both(case, has_funding, has_scale)
            _assert_same(old, new)


@pytest.mark.parametrize("n", [1, 9, 2000])
@pytest.mark.parametrize("seed", range(6))
def test_the_pass_at_unit_scales_is_session_28s(seed, n):
    """Every margin scale and read scale 1.0 (the engines' path then neither gathers nor
    divides the scales, :func:`~simulator.engine.jit_rows._scales_unit`): the same floats
    and rows as session 28's pass, on plain and edge operands; and with one read scale or
    one market's scale off 1.0 by an ulp, NaN or -0.0 (the scaled loop again)."""
    for edge in (False, True):
        case = _case(seed, n, True, edge=edge, unit_scale=True)
        old, new, fast = _both(case, True, True)
        assert fast
        _assert_same(old, new)
        read_scale, scale = case[7], case[10]
        off = [np.nextafter(1.0, 2.0), np.nan, -0.0, 0.0][seed % 4]
        if seed % 2:
            read_scale[n // 2] = off
        else:
            scale[seed % len(scale)] = off
        _assert_same(*_both(case, True, True)[:2])


def _contiguous_reference(unit, count) -> bool:
    runs = np.flatnonzero(np.diff(unit) != 0) + 1 if len(unit) else np.zeros(0, dtype=np.int64)
    firsts = unit[np.concatenate([[0], runs])] if len(unit) else unit
    return (
        bool(((unit >= 0) & (unit < count)).all())
        and len(np.unique(firsts)) == len(firsts) == count
    )


@pytest.mark.parametrize("seed", range(40))
def test_units_contiguous_is_each_unit_one_run(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(0, 6))
    unit = np.sort(rng.integers(0, max(count, 1), int(rng.integers(0, 12)))).astype(np.int64)
    if seed % 3 == 0:
        rng.shuffle(unit)
    if seed % 7 == 0 and len(unit):
        unit[0] = count  # out of range
    assert jit_rows.units_contiguous(unit, count) == _contiguous_reference(unit, count)


def test_decider_kinds_are_the_decider_rows():
    rng = np.random.default_rng(5)
    behaviour = rng.integers(0, 5, 500).astype(np.int8)
    isolated = rng.random(500) < 0.3
    kinds = jit_rows.decider_kinds(behaviour, CODES, isolated)
    assert np.array_equal(np.flatnonzero(kinds), jit_rows.decider_rows(behaviour, CODES, isolated))
    expect = {Behaviour.TAKE_PROFIT: 1, Behaviour.STOP_LOSS: 2, Behaviour.PANIC: 3}
    for b, k in expect.items():
        assert (kinds[behaviour == b] == k).all()
    top_up = behaviour == Behaviour.TOP_UP
    assert (kinds[top_up & ~isolated] == 4).all() and (kinds[top_up & isolated] == 0).all()


def _top_ups_reference(account, units, wallet_units):
    """The mirror's top-up loop as session 28 wrote it (its wallet check)."""
    done = []
    for a, u in zip(account.tolist(), units.tolist(), strict=True):
        if u == 0 or u > wallet_units[a]:
            done.append(False)
            continue
        wallet_units[a] -= u
        done.append(True)
    return np.array(done, dtype=np.bool_)


@pytest.mark.parametrize("seed", range(20))
def test_top_ups_within_is_the_wallet_loop(seed):
    """Accounts repeated (a later top-up sees the wallet the earlier ones left), zero
    amounts, wallets short and exact."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    account = rng.integers(0, 6, n).astype(np.int64)
    units = rng.integers(0, 5_000_000, n).astype(np.int64)
    units[rng.random(n) < 0.15] = 0
    wallet = rng.integers(0, 12_000_000, 6).astype(np.int64)
    if n:
        wallet[account[0]] = units[0]  # exactly what it asks
    got_wallet, want_wallet = wallet.copy(), wallet.copy()
    got = jit_rows.top_ups_within(account, units, got_wallet)
    want = _top_ups_reference(account, units, want_wallet)
    assert np.array_equal(got, want) and np.array_equal(got_wallet, want_wallet)


def test_the_pass_is_session_28s_step_by_step_on_oct_2025(monkeypatch):
    """oct-2025 as a tuning path runs it (the mirror, fast mode, the evaluation's event
    kinds): at every step the pass's outputs equal session 28's pass on the same inputs,
    the engines' path is taken, and the run decides closes and top-ups."""
    from simulator.mirror.run import EVALUATION_EVENT_KINDS
    from simulator.mirror.sim import MirrorEngine
    from simulator.scenario import load_scenario

    new_pass = jit_rows.trader_pass
    seen = {"steps": 0, "fast": 0, "closes": 0, "top_ups": 0}

    def checked(rows4, deciders, rules, codes, count, contiguous, side, size, equity,
                maintenance, read_price, has_funding, rf, has_scale, rs, collateral_in, entry,
                wallet, oracle, funding, scale, work, flags, equity_out, maintenance_out):  # fmt: skip
        n = len(side)
        old_out = [np.empty(n) for _ in range(3)]
        floats, picked, n_close = trader_pass_reference(
            np.ascontiguousarray(rows4[:3]), deciders, rules, codes, count, side, size, equity,
            maintenance, read_price, has_funding, rf, has_scale, rs, collateral_in, entry,
            wallet, oracle, np.ravel(funding), scale, *old_out,
        )  # fmt: skip
        c = count
        old = (floats[: 3 * c], old_out[2], floats[3 * c :], picked, n_close, *old_out[:2])
        got = new_pass(
            rows4, deciders, rules, codes, count, contiguous, side, size, equity, maintenance,
            read_price, has_funding, rf, has_scale, rs, collateral_in, entry, wallet, oracle,
            funding, scale, work, flags, equity_out, maintenance_out,
        )  # fmt: skip
        new = (got[0][: 3 * c], got[0][3 * c : 3 * c + n], got[0][3 * c + n :], _rows(got[1]),
               got[2], equity_out, maintenance_out)  # fmt: skip
        _assert_same(old, new)
        if not n:  # the kernels' warm-up (MarginUnits.of_book), not a step
            return got
        seen["steps"] += 1
        seen["fast"] += bool(contiguous and has_funding and has_scale)
        seen["closes"] += got[2]
        seen["top_ups"] += len(_rows(got[1])) - got[2]
        return got

    monkeypatch.setattr(jit_rows, "trader_pass", checked)
    scenario = load_scenario("oct-2025", [])
    engine = MirrorEngine(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    engine.run()
    assert seen["steps"] == seen["fast"] == scenario.steps + 1  # steps 0..steps: the engines' path
    assert seen["closes"] > 0 and seen["top_ups"] > 0
