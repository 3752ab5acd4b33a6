"""The backstop vault (``VenueLiquidationModule.backstopTakeover``,
``contracts/vault/VenueBackstopVault.sol`` and its ``LockedShareVault`` share logic), vectorized
over accounts (and markets).

Public functions (signatures stable):

* :func:`backstop_threshold` ``(book, price, markets)``: ``Σ MM·backstopFraction`` over the
  account's cross positions (each product rounded down), WAD USD; a takeover needs cross
  equity strictly below it.
* :func:`takeover` ``(book, price, markets, state, vault)`` → :class:`Takeover`: each
  account of `book` taken over alone by the vault whose book is `vault` (one row): every cross
  position closed at the index in the account (value neutral: its PnL realized, funding
  settled) and reopened at the index in the vault (the vault's funding in that market settled
  first, its position averaged, reduced or flipped by :func:`~simulator.mirror.fills.apply_fill`),
  the account's whole collateral (= its equity) moved to the vault; refused when the vault's
  account would end below maintenance. Isolated positions stay with the account.
* :func:`unwind` ``(size, entry, snapshot, price, markets, state, share_bps)`` →
  :class:`Unwind`: the manager's closing trades (``tradePosition``) of `share_bps` of each
  vault position (rounded down, at least nothing), at the skew fill with the taker fee, its
  funding settled: the ``PositionModified`` fields and the collateral change.
* :func:`total_assets` ``(idle_units, equity, held, index_price)``: the vault's
  ``totalAssets`` in collateral units: idle + max(0, equity) + Σ spot base held × index, each
  part rounded down to whole units.
* :func:`convert_to_shares` / :func:`convert_to_assets` ``(amount, total_supply,
  total_assets, round_up=False)``: ERC-4626 with OpenZeppelin's virtual offset (10**6 shares
  and 1 unit of assets); :func:`share_price` ``(total_supply, total_assets)``: WAD USD per
  whole share (10**12 share units), what a lending market would read.

Units: WAD USD, WAD base units, WAD prices in the venue; collateral base units (1e-6 USD) and
base token units (1e-18) in the vault; shares have 12 decimals. ``state`` holds the funding
accrued to the call (:func:`simulator.mirror.funding.funding_now`). The takeover's order of
checks: no cross position (``NoPosition``), equity ≥ threshold
(``NotBelowBackstopThreshold``), the vault isolated in a market taken (``WrongMarginMode``),
the vault below maintenance after (``BackstopWouldBeUnderwater``). Not modelled here, as in
:mod:`~simulator.mirror.liquidation`: the breaker's liquidation halt
(``liquidationsHaltOnBreaker``, see :func:`simulator.mirror.controls.breaker_tripped`) and a
stale oracle, which make the chain revert first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.mirror.fills import apply_fill, fill_price, taker_fee, unrealized_pnl
from simulator.mirror.fixed import (
    BPS,
    UNIT,
    WAD,
    Array,
    floor_div,
    mul_div_down,
    mul_div_up,
    wad_to_units_down,
    where,
)
from simulator.mirror.funding import funding_owed
from simulator.mirror.health import Book, cross_health
from simulator.mirror.margins import maintenance_margin
from simulator.mirror.markets import MarketArrays, MarketState

OK, NO_POSITION, NOT_BELOW_THRESHOLD, WRONG_MARGIN_MODE, UNDERWATER = range(5)
OUTCOMES = {
    OK: "ok",
    NO_POSITION: "NoPosition",
    NOT_BELOW_THRESHOLD: "NotBelowBackstopThreshold",
    WRONG_MARGIN_MODE: "WrongMarginMode",
    UNDERWATER: "BackstopWouldBeUnderwater",
}
DECIMALS_OFFSET = 6
"""``LockedShareVault.DECIMALS_OFFSET``: 10**6 virtual shares per unit of assets."""
SHARE = 10**12
"""Share units in one whole share (6 asset decimals + the offset)."""


def _b(x: Any) -> Array:
    return np.asarray(x, dtype=bool)


def _cross(book: Book) -> Array:
    return ~book.isolated.astype(bool) & _b(book.size != 0)


def backstop_threshold(book: Book, price: Any, markets: MarketArrays) -> Any:
    """``Σ mulWadDown(MM, backstopFraction)`` over each account's cross positions (A,)."""
    mm = maintenance_margin(book.size, price, markets)
    part = mul_div_down(mm, markets.backstop_fraction, WAD)
    return where(_cross(book), part, 0).sum(axis=-1)


def _side_oi(size: Any) -> tuple[Any, Any]:
    return where(size > 0, size, 0), where(size < 0, -size, 0)


@dataclass(frozen=True)
class Takeover:
    """Result of a takeover of each of A accounts alone. Per account (A,): ``outcome``
    (:data:`OUTCOMES`), ``threshold``, ``positions`` (cross positions moved), ``transferred``
    (the account's equity: ``BackstopTakeover.collateralTransferred``), the vault's
    ``vault_equity`` / ``vault_maintenance`` after and ``vault_collateral`` after. Per (A, M):
    the vault's ``vault_size`` / ``vault_entry`` / ``vault_snapshot`` after, ``vault_realized``
    (PnL its own position realized) and ``vault_funding`` (funding it settled), and each
    market's ``long_open_interest`` / ``short_open_interest`` after. Where the outcome is not
    OK the vault's fields are its state before."""

    outcome: Array
    threshold: Array
    positions: Array
    transferred: Array
    vault_equity: Array
    vault_maintenance: Array
    vault_collateral: Array
    vault_size: Array
    vault_entry: Array
    vault_snapshot: Array
    vault_realized: Array
    vault_funding: Array
    long_open_interest: Array
    short_open_interest: Array
    equity_after: Array | None = None
    """(A,) the vault's cross equity and maintenance had the takeover gone through, whatever
    the outcome (``BackstopWouldBeUnderwater``'s arguments)."""
    maintenance_after: Array | None = None


def takeover(book: Book, price: Any, markets: MarketArrays, state: MarketState,
             vault: Book) -> Takeover:  # fmt: skip
    """``backstopTakeover(account)`` for every account of `book` (A, M) alone, at `price`
    (M,), by the vault whose venue book is `vault` (arrays (1, M) / (1,)); see the module
    docstring."""
    cross = _cross(book)
    owed = funding_owed(book.size, book.snapshot, state.long_funding_index,
                        state.short_funding_index)  # fmt: skip
    pnl = unrealized_pnl(book.size, book.entry, price)
    equity = book.collateral + where(cross, pnl - owed, 0).sum(axis=-1)
    threshold = backstop_threshold(book, price, markets)
    count = cross.sum(axis=-1)
    vs = np.broadcast_to(vault.size, book.size.shape)
    ve = np.broadcast_to(vault.entry, book.size.shape)
    vsnap = np.broadcast_to(vault.snapshot, book.size.shape)
    viso = np.broadcast_to(vault.isolated.astype(bool), book.size.shape)
    v_open = _b(vs != 0)
    wrong = (cross & v_open & viso).any(axis=-1)
    v_owed = where(cross & v_open, funding_owed(vs, vsnap, state.long_funding_index,
                                                state.short_funding_index), 0)  # fmt: skip
    delta = where(cross, book.size, 0)
    new_size, new_entry, realized = apply_fill(vs, ve, delta, price + 0 * vs)
    index = where(new_size >= 0, state.long_funding_index, state.short_funding_index)
    size_after = where(cross, new_size, vs)
    entry_after = where(cross, new_entry, ve)
    snapshot_after = where(cross, index + 0 * vs, vsnap)
    realized = where(cross, realized, 0)
    collateral_after = vault.collateral + (realized - v_owed).sum(axis=-1) + equity
    after = Book(size=size_after, entry=entry_after, snapshot=snapshot_after,
                 margin=np.broadcast_to(vault.margin, book.size.shape), isolated=viso,
                 collateral=collateral_after)  # fmt: skip
    h = cross_health(after, price, markets, state)
    outcome = np.where(
        count == 0,
        NO_POSITION,
        np.where(
            _b(equity >= threshold),
            NOT_BELOW_THRESHOLD,
            np.where(wrong, WRONG_MARGIN_MODE, np.where(_b(h.equity < h.maintenance),
                                                        UNDERWATER, OK)),
        ),
    )  # fmt: skip
    ok = outcome == OK
    okw = ok[:, None]
    acc_long, acc_short = _side_oi(where(cross, book.size, 0))
    old_long, old_short = _side_oi(where(cross, vs, 0))
    new_long, new_short = _side_oi(where(cross, new_size, 0))
    long_oi = state.long_open_interest - acc_long - old_long + new_long
    short_oi = state.short_open_interest - acc_short - old_short + new_short
    vault_h = cross_health(vault, price, markets, state)
    return Takeover(
        outcome=outcome,
        threshold=threshold,
        positions=np.where(count > 0, count, 0),
        transferred=where(ok, equity, 0),
        vault_equity=where(ok, h.equity, vault_h.equity[0]),
        vault_maintenance=where(ok, h.maintenance, vault_h.maintenance[0]),
        vault_collateral=where(ok, collateral_after, vault.collateral[0]),
        vault_size=where(okw, size_after, vs),
        vault_entry=where(okw, entry_after, ve),
        vault_snapshot=where(okw, snapshot_after, vsnap),
        vault_realized=where(okw, realized, 0),
        vault_funding=where(okw, v_owed, 0),
        long_open_interest=where(okw, long_oi, state.long_open_interest + 0 * vs),
        short_open_interest=where(okw, short_oi, state.short_open_interest + 0 * vs),
        equity_after=h.equity,
        maintenance_after=h.maintenance,
    )


@dataclass(frozen=True)
class Unwind:
    """The manager's closing trade of each position: ``delta`` (signed, 0 = none), ``fill``,
    ``fee`` (taker fee, to the account's collateral), ``funding`` settled, ``realized``,
    ``new_size`` / ``new_entry`` (``PositionModified``'s fields) and ``collateral_change``
    (realized − fee − funding), WAD."""

    delta: Array
    fill: Array
    fee: Array
    funding: Array
    realized: Array
    new_size: Array
    new_entry: Array
    collateral_change: Array


def unwind(size: Any, entry: Any, snapshot: Any, price: Any, markets: MarketArrays,
           state: MarketState, share_bps: Any) -> Unwind:  # fmt: skip
    """``tradePosition(market, −⌊|size|·share/1e4⌋·side)`` on every cross position of the vault
    (each its market's only trade at `state`, which holds the funding accrued to the trade)."""
    close = floor_div(abs(size) * share_bps, BPS)
    delta = where(size > 0, -close, close)
    traded = _b(delta != 0)
    fill = fill_price(price, state.skew, delta, markets.skew_scale)
    owed = funding_owed(size, snapshot, state.long_funding_index, state.short_funding_index)
    new_size, new_entry, realized = apply_fill(size, entry, delta, fill)
    fee = taker_fee(delta, fill, markets.taker_fee_bps)
    return Unwind(
        delta=delta,
        fill=where(traded, fill, 0),
        fee=where(traded, fee, 0),
        funding=where(traded, owed, 0),
        realized=where(traded, realized, 0),
        new_size=where(traded, new_size, size),
        new_entry=where(traded, new_entry, entry),
        collateral_change=where(traded, realized - fee - owed, 0),
    )


# -- the vault's shares ---------------------------------------------------------------------------


def total_assets(idle_units: Any, equity: Any, held: Any, index_price: Any) -> Any:
    """``totalAssets`` (collateral units): `idle_units` + max(0, `equity` WAD) in whole units
    + Σ over the last axis of `held` base units × `index_price`, each term down to units."""
    spot = wad_to_units_down(mul_div_down(held, index_price, WAD)) // UNIT
    venue = where(equity > 0, wad_to_units_down(equity) // UNIT, 0)
    return idle_units + venue + spot.sum(axis=-1)


def _mul_div(x: Any, n: Any, d: Any, round_up: bool) -> Any:
    return mul_div_up(x, n, d) if round_up else mul_div_down(x, n, d)


def convert_to_shares(assets: Any, total_supply: Any, total_assets_: Any,
                      round_up: bool = False) -> Any:  # fmt: skip
    """``assets·(supply + 10**6)/(totalAssets + 1)``: ``previewDeposit`` (down),
    ``previewWithdraw`` (``round_up``)."""
    return _mul_div(assets, total_supply + 10**DECIMALS_OFFSET, total_assets_ + 1, round_up)


def convert_to_assets(shares: Any, total_supply: Any, total_assets_: Any,
                      round_up: bool = False) -> Any:  # fmt: skip
    """``shares·(totalAssets + 1)/(supply + 10**6)``: ``previewRedeem`` /
    ``convertToAssets`` (down), ``previewMint`` (``round_up``)."""
    return _mul_div(shares, total_assets_ + 1, total_supply + 10**DECIMALS_OFFSET, round_up)


def share_price(total_supply: Any, total_assets_: Any) -> Any:
    """WAD USD per whole share: ``convertToAssets(1e12)`` in units, times 1e12."""
    return convert_to_assets(SHARE, total_supply, total_assets_) * UNIT
