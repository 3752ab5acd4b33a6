"""The mirror's traders' phase rows (simulator.mirror.sim.traders.execute, session 26: a
close's row built inline) equal, key for key, value for value and in order, those of the
form it replaces (each row through ``event_row``, kept below as the reference), on a venue
stand-in that replays drawn close and deposit results; the decoding they leave writes the
same."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine import traders as engine_traders
from simulator.engine.events import _side, close_reason, event_row
from simulator.mirror.sim.calls import Reverted
from simulator.mirror.sim.levels import to_float
from simulator.mirror.sim.traders import decode_trades, execute
from simulator.population import Behaviour


def reference_execute(ctx, s, venue, decisions, wallet_units, t):
    """Session 25's ``execute``, verbatim (the reference)."""
    book = ctx.world.book
    symbols, accounts = ctx.symbols, ctx.accounts
    rows: list[dict] = []
    closes, top_ups = decisions.close, decisions.top_up
    modified: list[tuple[int, object, object]] = []
    credited: list[tuple[int, float]] = []
    close_accounts, close_markets = book.account[closes].tolist(), book.market[closes].tolist()
    done = venue.close_many(close_accounts, close_markets)
    for r, a, m, behaviour, got in zip(
        closes.tolist(), close_accounts, close_markets, book.behaviour[closes].tolist(), done,
        strict=True,
    ):  # fmt: skip
        if got is None or isinstance(got, Reverted):
            detail = (
                str(got)
                if got is not None
                else f"NoPosition(account={accounts[a]}, market={m + 1})"
            )
            rows.append(event_row(t, "close_reverted", market=symbols[m], account=accounts[a],
                                  detail=detail))  # fmt: skip
            continue
        size, (fill, new_size, entry, realized, fee, paid) = got
        modified.append((r, new_size, entry))
        if new_size == 0:
            pnl = to_float(realized - fee - paid)
            rows.append(event_row(t, "close", market=symbols[m], account=accounts[a],
                                  side=_side(1 if size > 0 else -1),
                                  size=to_float(abs(size)), price=to_float(fill),
                                  amount=pnl, detail=close_reason(behaviour)))  # fmt: skip
    for r, a, m, amount in zip(
        top_ups.tolist(), book.account[top_ups].tolist(), book.market[top_ups].tolist(),
        decisions.top_up_usd.tolist(), strict=True,
    ):  # fmt: skip
        units = engine_traders.deposit_units(amount)
        if units == 0 or units > wallet_units[a]:
            continue
        wallet_units[a] -= units
        usd = to_float(venue.deposit(a, units))
        credited.append((r, usd))
        rows.append(event_row(t, "top_up", market=symbols[m], account=accounts[a], amount=usd))

    def decode() -> None:
        decode_trades(s, modified, credited, t)

    return rows, closes.tolist() + top_ups.tolist(), len(closes) + len(top_ups), decode


class _Replay:
    """A venue stand-in: ``close_many`` gives the drawn results, ``deposit`` (and
    ``deposit_many``, one by one) credits ``units × 10**12`` WAD (an int in exact mode, a float
    in fast mode)."""

    def __init__(self, closes: list, exact: bool):
        self.closes, self.exact = closes, exact

    def close_many(self, accounts, markets):
        assert len(accounts) == len(markets) == len(self.closes)
        return list(self.closes)

    def deposit(self, a, units):
        return units * 10**12 if self.exact else float(units) * 1e12

    def deposit_many(self, accounts, units):
        """:meth:`deposit` of each, in order (the venue's batched form's values)."""
        got = [self.deposit(int(a), int(u)) for a, u in zip(accounts, units, strict=True)]
        return np.array(got, dtype=object if self.exact else np.float64)


def _strict(rows: list[dict]) -> list:
    return [[(k, type(v).__name__, repr(v)) for k, v in row.items()] for row in rows]


def _state(rng, n: int):
    trader = SimpleNamespace(
        size_base=rng.lognormal(0.0, 2.0, n), entry_price_usd=rng.lognormal(4.0, 1.0, n),
        collateral_in_usd=rng.lognormal(6.0, 1.0, n), wallet_usd=rng.lognormal(7.0, 1.0, n),
    )  # fmt: skip
    return SimpleNamespace(
        trader=trader, outcome=np.zeros(n, dtype=np.int8), outcome_step=np.full(n, -1),
        realized_pnl_usd=rng.standard_normal(n),
    )  # fmt: skip


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_trader_rows_equal_the_event_row_form(seed, exact):
    rng = np.random.default_rng(seed)
    n, n_accounts, n_markets = 80, 15, 3
    behaviours = [int(b) for b in Behaviour]
    book = SimpleNamespace(
        account=rng.integers(0, n_accounts, n), market=rng.integers(0, n_markets, n),
        behaviour=rng.choice(behaviours, n),
    )  # fmt: skip
    ctx = SimpleNamespace(
        world=SimpleNamespace(book=book), symbols=["BTC", "ETH", "SOL"],
        accounts=[f"0x{i:040x}" for i in range(n_accounts)],
        keeps=lambda kind: True,  # a run folder's: every row (Context.keeps)
    )  # fmt: skip

    def wad(x: float):
        return int(x * 1e18) if exact else float(np.float64(x * 1e18))

    k = int(rng.integers(0, 30))
    closes = rng.choice(n, k, replace=False).astype(np.int64)
    results: list = []
    for _ in range(k):
        u = rng.random()
        if u < 0.1:
            results.append(None)
        elif u < 0.2:
            results.append(Reverted("MarketPaused(market=2)"))
        else:
            size = wad(rng.choice([-1.0, 1.0, 0.0], p=[0.45, 0.45, 0.1]) * rng.lognormal(0, 3))
            new_size = wad(0.0) if rng.random() < 0.7 else wad(rng.lognormal(0, 1))
            fields = [wad(x) for x in rng.lognormal(3.0, 2.0, 5) * rng.choice([-1, 1], 5)]
            results.append((size, (fields[0], new_size, *fields[1:])))
    rest = np.setdiff1d(np.arange(n), closes)
    top_ups = rng.choice(rest, int(rng.integers(0, 20)), replace=False).astype(np.int64)
    top_up_usd = np.where(rng.random(len(top_ups)) < 0.1, 1e-9, rng.lognormal(4, 2, len(top_ups)))
    decisions = SimpleNamespace(close=closes, top_up=top_ups, top_up_usd=top_up_usd)
    wallet = rng.integers(0, 10**9, n_accounts)
    t = int(rng.integers(0, 300))

    s_want, s_got = _state(rng, n), None
    s_got = copy.deepcopy(s_want)
    w_want, w_got = wallet.copy(), wallet.copy()
    want = reference_execute(ctx, s_want, _Replay(results, exact), decisions, w_want, t)
    got = execute(ctx, s_got, _Replay(results, exact), decisions, w_got, t)
    assert _strict(got[0]) == _strict(want[0])
    assert got[1:3] == want[1:3]
    assert np.array_equal(w_got, w_want)
    want[3]()
    got[3]()
    for name in ("size_base", "entry_price_usd", "collateral_in_usd", "wallet_usd"):
        assert np.array_equal(getattr(s_got.trader, name), getattr(s_want.trader, name)), name
    assert np.array_equal(s_got.outcome, s_want.outcome)
    assert np.array_equal(s_got.outcome_step, s_want.outcome_step)
    assert np.array_equal(s_got.realized_pnl_usd, s_want.realized_pnl_usd, equal_nan=True)
