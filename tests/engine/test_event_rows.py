"""Event rows built a column at a time (simulator.engine.events.event_rows, the opening book's
rows of simulator.engine.opening.opening_events) equal, field by field and in key order, the
rows :func:`event_row` builds one at a time (the formulation they replace)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine.events import event_row, event_rows
from simulator.engine.opening import BOOK_DETAIL, opening_events


def _same(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)  # key order: the events table's column order
        for k in w:
            if isinstance(w[k], float) and np.isnan(w[k]):
                assert isinstance(g[k], float) and np.isnan(g[k]), k
            else:
                assert g[k] == w[k] and type(g[k]) is type(w[k]), k


@pytest.mark.parametrize("seed", range(6))
def test_event_rows_equal_event_row_row_by_row(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    size = rng.lognormal(0.0, 3.0, n) * 10.0 ** rng.integers(-12, 12, n)
    price = rng.lognormal(0.0, 3.0, n) * 10.0 ** rng.integers(-12, 12, n)
    if n > 2:
        price[1] = np.nan  # a refused open's fill
    amount = rng.standard_normal(n)
    market = [f"M{i}" for i in rng.integers(0, 3, n)]
    account = [f"0x{i:040x}" for i in rng.integers(0, 10**6, n)]
    side = ["long" if s else "short" for s in rng.integers(0, 2, n)]
    # Arrays, lists with None, and scalars, as callers pass them.
    sizes_with_none = [None if i % 3 == 0 else float(x) for i, x in enumerate(size)]
    cases = [
        (dict(market=market, account=account, side=side, size=size, price=price, amount=amount),
         [dict(market=market[i], account=account[i], side=side[i], size=float(size[i]),
               price=float(price[i]), amount=float(amount[i])) for i in range(n)]),
        (dict(market=np.array(market, dtype=object), size=sizes_with_none, price=2.5, detail="x"),
         [dict(market=market[i], size=sizes_with_none[i], price=2.5, detail="x")
          for i in range(n)]),
        (dict(account=account, price=price.tolist(), size=3.0),
         [dict(account=account[i], price=float(price[i]), size=3.0) for i in range(n)]),
        (dict(account=account, side=side, detail=[str(i) for i in range(n)]),
         [dict(account=account[i], side=side[i], detail=str(i)) for i in range(n)]),
    ]  # fmt: skip
    for columns, one_by_one in cases:
        got = event_rows(seed, "open", **columns)
        _same(got, [event_row(seed, "open", **row) for row in one_by_one])


def test_event_rows_without_a_column_is_one_row():
    _same(
        event_rows(4, "adl", market="BTC", amount=1.5),
        [event_row(4, "adl", market="BTC", amount=1.5)],
    )


def test_event_rows_refuses_columns_of_different_lengths():
    with pytest.raises(ValueError, match="different lengths"):
        event_rows(0, "open", market=["A", "B"], account=["a"])


def opening_events_reference(ctx) -> list[dict]:
    """The opening book's rows made one :func:`event_row` at a time (session 24's
    ``opening_events``)."""
    w, book = ctx.world, ctx.world.book
    rows = []
    for r in np.flatnonzero(~book.start_flat).tolist():
        market, account = ctx.symbols[book.market[r]], ctx.accounts[book.account[r]]
        side = "long" if book.side[r] > 0 else "short"
        if w.opened[r]:
            rows.append(event_row(0, "open", market=market, account=account, side=side,
                                  size=w.opened_size_base[r].item(), price=w.open_fill_usd[r].item(),
                                  amount=w.open_fee_usd[r].item(), detail=BOOK_DETAIL))  # fmt: skip
        else:
            rows.append(event_row(0, "open_reverted", market=market, account=account, side=side,
                                  detail=f"{BOOK_DETAIL}: {w.open_reverts.get(r, '')}"))  # fmt: skip
    return rows


@pytest.mark.parametrize(("seed", "refused_share"), [(0, 0.0), (1, 0.2), (2, 1.0), (3, 0.5)])
def test_opening_events_equal_the_row_by_row_formulation(seed, refused_share):
    rng = np.random.default_rng(seed)
    n, n_accounts = 300, 120
    opened = rng.random(n) >= refused_share
    book = SimpleNamespace(
        start_flat=rng.random(n) < 0.1,  # order-flow slots: no row
        market=rng.integers(0, 3, n), account=rng.integers(0, n_accounts, n),
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
    )  # fmt: skip
    world = SimpleNamespace(
        book=book, opened=opened,
        opened_size_base=np.where(opened, rng.lognormal(0.0, 2.0, n), 0.0),
        open_fill_usd=np.where(opened, rng.lognormal(5.0, 2.0, n), np.nan),
        open_fee_usd=np.where(opened, rng.random(n), 0.0),
        open_reverts={int(r): f"OpenInterestCap(market={r % 3 + 1})"
                      for r in np.flatnonzero(~opened) if r % 4},
    )  # fmt: skip
    ctx = SimpleNamespace(
        world=world, symbols=["BTC", "ETH", "SOL"],
        accounts=[f"0x{i:040x}" for i in range(n_accounts)],
    )  # fmt: skip
    _same(opening_events(ctx), opening_events_reference(ctx))
