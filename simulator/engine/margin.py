"""Margin units: what the venue checks health on, and how the traders' per-position view is
derived from it.

The venue measures health per *margin unit*: a cross account (its shared collateral plus every
cross position's PnL, against the sum of their maintenance margins: ``healthOf``) or an
isolated position (its own margin: ``isolatedHealth``). Keepers watch units; traders decide per
position (book row). A row's view of its unit is its share of it:

- equity: ``share × (unit equity − Σ the unit's rows' PnL) + the row's PnL``, with ``share``
  the row's collateral put in over its unit's, and PnL ``side × size × (index − entry)``;
- maintenance: the unit's maintenance × the row's weight / the unit's weight, the weight being
  the row's notional × its market's base maintenance fraction (so that a cross account's
  positions in markets of different margins carry their own share when prices move apart).

Summed over a unit's rows the views give back the unit's equity and maintenance, so carrying
each row to a new price (:func:`simulator.agents.traders.estimate`) and summing (:meth:`unit_sum`)
is the unit's estimate too. A one-position cross account's row view is its account's.

Units: USD and base units (floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.engine import jit_rows
from simulator.jit import kernel as _jit
from simulator.units import from_wad_array


@dataclass(frozen=True)
class MarginUnits:
    """The margin units of a book: cross accounts first (by account), then isolated rows."""

    unit_of_row: np.ndarray
    """Unit of every book row (int64)."""
    account: np.ndarray
    """Account index of every unit (int64)."""
    isolated: np.ndarray
    """Whether the unit is an isolated position (bool)."""
    market: np.ndarray
    """Market index of an isolated unit, -1 for a cross account (int64)."""
    maintenance_fraction: np.ndarray | None = None
    """Per market: the base maintenance margin fraction that weighs a row's share of its
    unit's maintenance (None: every market alike)."""
    rows_by_unit: np.ndarray | None = None
    """The book's rows grouped by unit, each unit's rows ascending (int64; with
    :attr:`unit_start`, to find a few units' rows without a pass over the book; None: by the
    pass)."""
    unit_start: np.ndarray | None = None
    """Each unit's first place in :attr:`rows_by_unit`, then the row count (count + 1)."""
    _checked: list = field(default_factory=list, compare=False, repr=False)
    """The traders' state arrays :meth:`store` last checked, and what it read of them (the
    run's: these units are the run's)."""

    @classmethod
    def of_book(cls, book, maintenance_fraction: np.ndarray | None = None) -> MarginUnits:
        """The units of a :class:`~simulator.population.TraderBook` (``maintenance_fraction``:
        per market, see :attr:`maintenance_fraction`)."""
        # The per-step kernels loaded now, at the run's setup (not in its first step).
        jit_rows.warm_up(book)
        _notional_sums(_I0, _I0, np.zeros(0), np.zeros(1), 0)
        cross_accounts = np.unique(book.account[~book.isolated])
        iso_rows = np.flatnonzero(book.isolated)
        unit_of_account = np.full(book.n_accounts, -1, dtype=np.int64)
        unit_of_account[cross_accounts] = np.arange(len(cross_accounts))
        unit_of_row = unit_of_account[book.account].copy()
        unit_of_row[iso_rows] = len(cross_accounts) + np.arange(len(iso_rows))
        return cls(
            unit_of_row=unit_of_row,
            account=np.concatenate([cross_accounts, book.account[iso_rows]]).astype(np.int64),
            isolated=np.concatenate(
                [np.zeros(len(cross_accounts), dtype=bool), np.ones(len(iso_rows), dtype=bool)]
            ),
            market=np.concatenate([np.full(len(cross_accounts), -1), book.market[iso_rows]]).astype(
                np.int64
            ),
            maintenance_fraction=(
                None
                if maintenance_fraction is None
                else np.asarray(maintenance_fraction, dtype=np.float64)
            ),
            rows_by_unit=np.argsort(unit_of_row, kind="stable"),
            unit_start=np.concatenate(
                [[0], np.cumsum(np.bincount(unit_of_row, minlength=len(unit_of_account)))]
            ).astype(np.int64),
        )

    @property
    def count(self) -> int:
        return len(self.account)

    def unit_sum(self, per_row: np.ndarray) -> np.ndarray:
        """Sum of a per-row array over each unit's rows (row order from 0.0, as
        ``np.bincount(unit_of_row, weights=per_row, minlength=count)`` adds; compiled:
        :func:`simulator.engine.jit_rows.unit_sum`)."""
        per_row = np.asarray(per_row, dtype=np.float64)
        if per_row.shape != self.unit_of_row.shape:
            raise ValueError(f"unit_sum: {per_row.shape} values for {self.unit_of_row.shape} rows")
        return jit_rows.unit_sum(self.unit_of_row, per_row, self.count)

    def notional_sums(
        self, size_base: np.ndarray, price_usd: np.ndarray, market: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every row's notional (USD: its size in base units × its market's price,
        ``size_base * price_usd[market]``) and each unit's sum of them (:meth:`unit_sum`), in one
        compiled pass (:func:`_notional_sums`: the same products, added in row order)."""
        size_base = np.asarray(size_base, dtype=np.float64)
        if size_base.shape != self.unit_of_row.shape or len(market) != len(size_base):
            raise ValueError(
                f"notional_sums: {size_base.shape} sizes, {len(market)} markets for "
                f"{self.unit_of_row.shape} rows"
            )
        return _notional_sums(
            self.unit_of_row, np.asarray(market, dtype=np.int64), size_base,
            np.asarray(price_usd, dtype=np.float64), self.count,
        )  # fmt: skip

    def rows_of(self, units: np.ndarray) -> np.ndarray:
        """Rows of the given units, in row order."""
        mask = np.zeros(self.count, dtype=bool)
        mask[units] = True
        return np.flatnonzero(mask[self.unit_of_row])

    def units_of(self, rows: np.ndarray) -> np.ndarray:
        """Distinct units of the given rows, sorted."""
        return np.unique(self.unit_of_row[np.asarray(rows, dtype=np.int64)])

    # -- reading health ----------------------------------------------------------------------

    def health_views(self, ctx, units: np.ndarray) -> list:
        """Views of the health of ``units``: one ``healthOf`` over the cross accounts among
        them, then one ``isolatedHealth`` per isolated position (in ``units`` order)."""
        units = np.asarray(units, dtype=np.int64)
        v = ctx.venue.venue
        accounts, market_ids = ctx.accounts, ctx.market_ids
        cross = units[~self.isolated[units]]
        views = [v.health_of([accounts[a] for a in self.account[cross].tolist()])]
        iso = units[self.isolated[units]]
        for a, m in zip(self.account[iso].tolist(), self.market[iso].tolist(), strict=True):
            views.append(v.isolated_health(accounts[a], market_ids[m]))
        return views

    def parse_health(self, units: np.ndarray, got: list) -> tuple[np.ndarray, np.ndarray]:
        """The results of :meth:`health_views` as (equity, maintenance) per unit of ``units``
        (USD, in ``units`` order)."""
        units = np.asarray(units, dtype=np.int64)
        iso = self.isolated[units]
        equity = np.zeros(len(units))
        maintenance = np.zeros(len(units))
        equities, margins, _ = got[0]
        equity[~iso] = from_wad_array(equities)
        maintenance[~iso] = from_wad_array(margins)
        if iso.any():
            pairs = got[1 : 1 + int(iso.sum())]
            equity[iso] = from_wad_array([e for e, _ in pairs])
            maintenance[iso] = from_wad_array([m for _, m in pairs])
        return equity, maintenance

    def grouping(self) -> tuple[np.ndarray, np.ndarray]:
        """:attr:`rows_by_unit` and :attr:`unit_start` (made from :attr:`unit_of_row` when
        this instance was built without them)."""
        if self.rows_by_unit is not None and self.unit_start is not None:
            return self.rows_by_unit, self.unit_start
        counts = np.bincount(self.unit_of_row, minlength=self.count)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return np.argsort(self.unit_of_row, kind="stable").astype(np.int64), start

    def _read_arrays(self, state, market_of_row) -> tuple:
        """The rows' arrays :meth:`store` reads (sizes, entries and collateral put in of the
        traders' ``state``, float64 of its rows; the rows' markets, int64), checked when one
        is not the object last checked (kept in :attr:`_checked`: the run's state arrays are
        the same objects step after step)."""
        last = self._checked
        if (
            last
            and last[0] is state.size_base
            and last[1] is state.entry_price_usd
            and last[2] is state.collateral_in_usd
            and last[3] is market_of_row
        ):
            return last[4]
        n = len(state.side)
        arrays = (
            _floats(state.size_base, n), _floats(state.entry_price_usd, n),
            _floats(state.collateral_in_usd, n), _ints(market_of_row),
        )  # fmt: skip
        if len(arrays[3]) != n:
            raise ValueError(f"store: {len(arrays[3])} markets for {n} rows")
        originals = [state.size_base, state.entry_price_usd, state.collateral_in_usd,
                     market_of_row]  # fmt: skip
        # kept only when they are the arrays themselves (a converted copy would go stale)
        same = all(a is b for a, b in zip(arrays, originals, strict=True))
        self._checked[:] = [*originals, arrays] if same else []
        return arrays

    def store(
        self,
        state,
        units: np.ndarray,
        equity: np.ndarray,
        maintenance: np.ndarray,
        prices_usd: np.ndarray,
        market_of_row: np.ndarray,
        funding_index_usd: np.ndarray | None = None,
        margin_scale: np.ndarray | None = None,
    ) -> None:
        """Write the units' (equity, maintenance) read at the markets' ``prices_usd`` into the
        trader rows' views (``state``: :class:`~simulator.agents.traders.TraderState`), with
        the markets' funding indices ((M, 2): longs, shorts; USD per base unit) and margin
        scales (M) at the read, when given, for
        :func:`~simulator.agents.traders.estimate`."""
        units = _ints(units)
        k = units.shape[0]
        if not k:
            return
        rows_by_unit, unit_start = self.rows_by_unit, self.unit_start
        if rows_by_unit is None or unit_start is None:
            rows_by_unit, unit_start = self.grouping()
        fraction = self.maintenance_fraction
        has_funding = funding_index_usd is not None and state.read_funding_index_usd is not None
        has_scale = margin_scale is not None and state.read_margin_scale is not None
        size, entry, collateral, market = self._read_arrays(state, market_of_row)
        stored = jit_rows.store_units(
            units, _floats(equity, k), _floats(maintenance, k), len(self.account),
            rows_by_unit, unit_start, size, state.side, entry, collateral, market,
            _floats(prices_usd),
            fraction is not None, _NONE if fraction is None else fraction,
            state.equity_usd, state.maintenance_usd, state.read_price_usd,
            has_funding, _floats(funding_index_usd).reshape(-1) if has_funding else _NONE,
            state.read_funding_index_usd if has_funding else _NONE,
            has_scale, _floats(margin_scale) if has_scale else _NONE,
            state.read_margin_scale if has_scale else _NONE,
        )  # fmt: skip
        if not stored:
            raise IndexError(f"store: a unit out of 0..{self.count - 1} in {units.tolist()}")


_NONE = np.zeros(0)
"""An optional array left out (the kernels' flag says so)."""
_I0 = np.zeros(0, dtype=np.int64)
"""No rows (the warm-up's call of :func:`_notional_sums`)."""


_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _floats(a, n: int | None = None) -> np.ndarray:
    """``a`` as float64 values (``n`` of them when given, else an error): ``a`` itself, with
    no call, when it is that already."""
    if a.__class__ is not np.ndarray or a.dtype != _F64:
        a = np.asarray(a, dtype=np.float64)
    if n is not None and a.shape != (n,):
        raise ValueError(f"{a.shape} values where {n} were expected")
    return a


def _ints(a) -> np.ndarray:
    """``a`` as int64 (itself, with no call, when it is that already)."""
    if a.__class__ is not np.ndarray or a.dtype != _I64:
        a = np.asarray(a, dtype=np.int64)
    return a


@_jit
def _notional_sums(unit_of_row, market, size, price, count):
    """(per row ``size[i] * price[market[i]]``, per unit the sum of its rows' in row order from
    0.0): ``size * price[market]`` and ``np.bincount(unit_of_row, weights=, minlength=count)``
    of it, float for float."""
    n = len(unit_of_row)
    row = np.empty(n)
    out = np.zeros(count)
    for i in range(n):
        v = size[i] * price[market[i]]
        row[i] = v
        out[unit_of_row[i]] += v
    return row, out
