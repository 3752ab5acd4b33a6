"""The mirror's per-liquidation event rows (simulator.mirror.sim.keepers.liquidation_rows,
session 26: dicts built inline, the WAD values converted a field at a time) equal, key for
key, value for value and in order, those of the form they replace (each row through
``event_row`` and each value through ``to_float``, kept below as the reference), and hand the
same closes to the block's decoding."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine.events import _side, event_row, final_bad_debt_row
from simulator.mirror.sim.calls import Liquidation
from simulator.mirror.sim.keepers import decode_liquidated, liquidation_rows, socialized_row
from simulator.mirror.sim.levels import to_float


def reference_liquidation_rows(ctx, s, done, t, row_of, decoded) -> list[dict]:
    """Session 25's ``liquidation_rows``, verbatim (the reference)."""
    out: list[dict] = []
    account, symbols = ctx.accounts[done.account], ctx.symbols
    closes: list[tuple[int, float, bool]] = []
    for m, closed, fill, penalty, full in zip(done.markets, done.closed, done.fill,
                                              done.penalty, done.full, strict=True):  # fmt: skip
        size = abs(to_float(closed))
        row = int(row_of[done.account, m])
        if row >= 0:
            closes.append((row, size, full))
        out.append(event_row(t, "liquidation" if full else "partial_liquidation",
                             market=symbols[m], account=account,
                             side=_side(1 if closed > 0 else -1), size=size,
                             price=to_float(fill), amount=to_float(penalty)))  # fmt: skip
    if closes:
        decoded.append(partial(decode_liquidated, s, closes, t))
    for m, longs, _deficit, paid, remaining, charged, final in done.deficits:
        if paid:
            out.append(event_row(t, "insurance_payout", market=symbols[m], account=account,
                                 amount=to_float(paid)))  # fmt: skip
        if remaining and charged is not None:
            out.append(socialized_row(ctx, t, m, longs, remaining, charged))
        elif remaining:
            out.append(event_row(t, "bad_debt", market=symbols[m],
                                 side="long" if longs else "short",
                                 amount=to_float(remaining)))  # fmt: skip
        if final is not None:
            out.append(final_bad_debt_row(t, symbols[m], longs, to_float(final[0]),
                                          to_float(final[1])))  # fmt: skip
    return out


def _strict(rows: list[dict]) -> list:
    """Rows as (key, type, repr) triples: keys in order, -0.0 apart from 0.0, ints from floats."""
    return [[(k, type(v).__name__, repr(v)) for k, v in row.items()] for row in rows]


def _draw(rng, exact: bool, n_markets: int, n_accounts: int):
    """A liquidation of random shape: its markets closed (some with no book row), signed
    sizes (some 0), fills, penalties, full or partial, and deficits of every kind."""

    def wad(x: float):
        return int(x * 1e18) if exact else float(np.float64(x * 1e18))

    k = int(rng.integers(0, n_markets + 1))
    markets = rng.choice(n_markets, k, replace=False).tolist()
    sign = rng.choice([-1.0, 0.0, 1.0], k, p=[0.45, 0.1, 0.45])
    deficits = []
    for m in markets:
        if rng.random() < 0.5:
            continue
        paid = wad(rng.lognormal(3, 2)) if rng.random() < 0.6 else wad(0.0)
        remaining = wad(rng.lognormal(3, 2)) if rng.random() < 0.6 else wad(0.0)
        charged = wad(rng.lognormal(3, 2)) if rng.random() < 0.4 else None
        final = (wad(rng.lognormal(2, 1)), wad(rng.lognormal(4, 1))) if rng.random() < 0.3 else None
        deficits.append((m, bool(rng.random() < 0.5), wad(1.0), paid, remaining, charged, final))
    return Liquidation(
        account=int(rng.integers(0, n_accounts)), isolated=bool(k == 1 and rng.random() < 0.5),
        markets=markets,
        closed=[wad(z) for z in sign * rng.lognormal(0.0, 3.0, k)],
        fill=[wad(p) for p in rng.lognormal(5.0, 2.0, k)],
        penalty=[wad(p) for p in rng.lognormal(2.0, 2.0, k)],
        full=(rng.random(k) < 0.5).tolist(), deficits=deficits,
    )  # fmt: skip


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_liquidation_rows_equal_the_per_value_form(seed, exact):
    rng = np.random.default_rng(seed)
    n_markets, n_accounts = 4, 12
    ctx = SimpleNamespace(
        accounts=[f"0x{i:040x}" for i in range(n_accounts)],
        symbols=["BTC", "ETH", "SOL", "DOGE"],
    )
    s = SimpleNamespace(name="state")
    row_of = rng.integers(-1, 50, (n_accounts, n_markets))
    for _ in range(40):
        done = _draw(rng, exact, n_markets, n_accounts)
        t = int(rng.integers(0, 300))
        want_decoded: list = []
        got_decoded: list = []
        want = reference_liquidation_rows(ctx, s, done, t, row_of, want_decoded)
        got = liquidation_rows(ctx, s, done, t, row_of, got_decoded)
        assert _strict(got) == _strict(want)
        assert len(got_decoded) == len(want_decoded)
        for g, w in zip(got_decoded, want_decoded, strict=True):
            assert g.func is w.func and g.args[0] is w.args[0] and g.args[2] == w.args[2]
            assert [(type(r), r, repr(z), f) for r, z, f in g.args[1]] == [
                (type(r), r, repr(z), f) for r, z, f in w.args[1]
            ]


def test_liquidation_rows_of_no_market_are_empty():
    ctx = SimpleNamespace(accounts=["0xa"], symbols=["BTC"])
    decoded: list = []
    done = Liquidation(account=0, isolated=False)
    assert liquidation_rows(ctx, None, done, 3, np.zeros((1, 1), dtype=np.int64), decoded) == []
    assert decoded == []
