"""A mirror path's setup made cheaper (session 29), each piece held to its old form to the bit:

* the opening liquidation prices of a fast-mode book in one compiled pass
  (:func:`simulator.mirror.liqprice._book_kernel`) against the array form (the same function
  with the compiled pass turned off: ``cross_health``, ``unrealized_pnl``, ``funding_owed``,
  ``maintenance_margin`` on arrays, then the tier walk), on seeded draws of books (zero,
  negative-zero and NaN sizes, isolated rows, negative collateral, 1-7 markets, 0-3 tiers with
  padding, margin scales that cap rates at 100%) and on opened oct-2025 books;
* the opening trades' WAD sizes (:func:`simulator.mirror.sim.opening.wad_sizes`) from 4096
  base units up, against ``float(to_wad(round(s, 12)))`` one value at a time (12-decimal
  ties, exact binary ties, whole numbers, values past ``1e16``, both signs);
* the world a tuning path builds (its World's arrays, inputs and book, the venue after the
  opens, the engine's state and its first steps) on several oct-2025 seeds, against the setup
  with every new path turned off (and the venue resolved per path, every book validated by
  its constructor); the venue kept across seeds is the one each scenario resolves.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydantic import BaseModel

from simulator import world as world_module
from simulator.mirror import liqprice
from simulator.mirror.health import Book
from simulator.mirror.markets import _PARAM_FIELDS, MarketArrays, MarketState
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine, opening
from simulator.population import TraderBook, concat_books
from simulator.scenario import load_scenario
from simulator.units import to_wad
from simulator.world import WorldInputs

WAD = 1e18


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype != np.float64:
        return bool(np.array_equal(a, b))
    nan = np.isnan(a) & np.isnan(b)
    return bool(((a.view(np.int64) == b.view(np.int64)) | nan).all())


def _array_form(monkeypatch: pytest.MonkeyPatch, *args) -> np.ndarray:
    """The opening liquidation prices as the setup computed them before the compiled pass."""
    with monkeypatch.context() as m:
        m.setattr(liqprice, "_fits_book_kernel", lambda *a: False)
        return liqprice.position_liquidation_prices(*args)


def _markets(rng: np.random.Generator, n: int, tiers: int) -> MarketArrays:
    params = [
        dict.fromkeys(_PARAM_FIELDS.values(), 0)
        | {
            "maintenanceMarginFraction": int(rng.uniform(0.001, 0.6) * WAD),
            "maxLeverage": int(rng.uniform(2, 50) * WAD),
        }
        for _ in range(n)
    ]
    rows = []
    for _ in range(n):
        k = int(rng.integers(0, tiers + 1))  # fewer tiers than the widest: NO_TIER padding
        floors = np.sort(rng.lognormal(10.0, 3.0, k)) * WAD
        rows.append([(int(f), int(rng.uniform(0, 0.9) * WAD), int(rng.uniform(0, 0.7) * WAD))
                     for f in floors])  # fmt: skip
    scales = [int(s * WAD) for s in rng.choice([1.0, 1.5, 3.0, 40.0], n)]
    return MarketArrays.from_chain(params, rows, scales, exact_mode=False)


def _book(rng: np.random.Generator, accounts: int, n: int) -> Book:
    shape = (accounts, n)
    size = rng.lognormal(0.0, 3.0, shape) * rng.choice([-1.0, 1.0], shape) * WAD
    kind = rng.random(shape)
    size = np.where(kind < 0.2, 0.0, size)
    size = np.where((kind >= 0.2) & (kind < 0.23), -0.0, size)
    size = np.where((kind >= 0.23) & (kind < 0.24), np.nan, size)
    entry = rng.lognormal(np.log(100.0), 2.0, shape) * WAD
    snapshot = rng.normal(0.0, 1.0, shape) * WAD
    isolated = rng.random(shape) < 0.3
    margin = np.where(isolated, rng.lognormal(6.0, 3.0, shape) * WAD, 0.0)
    collateral = rng.normal(0.0, 1.0, accounts) * rng.lognormal(8.0, 4.0, accounts) * WAD
    collateral = np.where(rng.random(accounts) < 0.05, 0.0, collateral)
    return Book(size, entry, snapshot, margin, isolated, collateral)


def _state(rng: np.random.Generator, n: int) -> MarketState:
    return MarketState(
        long_open_interest=rng.lognormal(5.0, 2.0, n) * WAD,
        short_open_interest=rng.lognormal(5.0, 2.0, n) * WAD,
        long_funding_index=rng.normal(0.0, 2.0, n) * WAD,
        short_funding_index=rng.normal(0.0, 2.0, n) * WAD,
        funding_rate_per_day=rng.normal(0.0, 0.01, n) * WAD,
    )


@pytest.mark.parametrize("seed", range(4))
def test_book_kernel_equals_array_form(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    for accounts, n, tiers in ((400, 5, 3), (200, 7, 2), (100, 3, 1), (50, 2, 0), (1, 1, 2),
                               (0, 4, 2)):  # fmt: skip
        markets = _markets(rng, n, tiers)
        book = _book(rng, accounts, n)
        price = rng.lognormal(np.log(100.0), 2.0, n) * WAD
        state = _state(rng, n)
        args = (book, price, markets, state)
        assert liqprice._fits_book_kernel(*args)
        got = liqprice.position_liquidation_prices(*args)
        want = _array_form(monkeypatch, *args)
        assert _same_bits(got, want), (seed, accounts, n, tiers)
        assert accounts < 100 or np.count_nonzero(got) > accounts  # prices were found


def test_book_kernel_left_to_the_array_form_beyond_its_markets() -> None:
    rng = np.random.default_rng(7)
    n = liqprice.BOOK_KERNEL_MAX_MARKETS  # numpy sums 8 terms pairwise: the array form
    args = (_book(rng, 10, n), rng.lognormal(4.0, 1.0, n) * WAD, _markets(rng, n, 2),
            _state(rng, n))  # fmt: skip
    assert not liqprice._fits_book_kernel(*args)


# -- the setup of oct-2025 paths --------------------------------------------------------------

SEEDS = (3, 101, 2024)


@pytest.fixture(scope="module")
def oct_2025():
    return load_scenario("oct-2025", [])


def _opened_grid(engine: MirrorEngine):
    v = engine.venue
    return v.book(np.arange(engine.world.book.n_accounts)), v.price, v.markets, v.funding()


@pytest.mark.parametrize("seed", SEEDS)
def test_opened_oct_2025_prices_equal_array_form(
    seed: int, oct_2025, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MirrorEngine(oct_2025.with_overrides(seed=seed), mode="fast")
    args = _opened_grid(engine)
    assert liqprice._fits_book_kernel(*args)
    got = liqprice.position_liquidation_prices(*args)
    assert np.count_nonzero(got) > 500  # the opened book's positions
    assert _same_bits(got, _array_form(monkeypatch, *args))


# -- the opening trades' WAD sizes above 4096 base units -----------------------------------------


def _old_wad_size(v: float) -> float:
    """An opening trade's size as the batch sends it before any array form (``_open_one``)."""
    return float(to_wad(round(float(v), 12)))


def _large_sizes(rng: np.random.Generator) -> np.ndarray:
    mid = rng.integers(4_096_000_000_000_000, 8_192_000_000_000_000, 20_000)
    ties = (mid + 0.5) / 1e12  # (near) half-way between two 12-decimals
    exact_ties = (2 * rng.integers(2**24, 2**25, 5_000) + 1) / 8192  # in [4096, 8192)
    big = rng.lognormal(np.log(1e5), 4.0, 20_000)  # up to ~1e12, some above 1e16
    whole = rng.integers(8192, 2**53, 5_000).astype(np.float64)
    edges = [4096.0, 8192.0, np.nextafter(8192.0, 0.0), np.nextafter(8192.0, np.inf), 1e16,
             np.nextafter(1e16, 0.0), np.nextafter(1e16, np.inf), 2.0**53, 1e22, 123456.789,
             6_677_632.036694235, 9_999_999_999.999998]  # fmt: skip
    values = np.concatenate([mid / 1e12, ties, np.nextafter(ties, 0.0), exact_ties,
                             np.nextafter(exact_ties, np.inf), big, whole, edges])  # fmt: skip
    return values * rng.choice([-1.0, 1.0], len(values))


@pytest.mark.parametrize("seed", range(2))
def test_wad_sizes_of_large_sizes_equal_per_value(seed: int) -> None:
    x = _large_sizes(np.random.default_rng(seed))
    assert (np.abs(x) >= opening._WAD_SIZES_REPR_MAX).any()
    want = np.array([_old_wad_size(v) for v in x])
    assert opening.wad_sizes(x).tobytes() == want.tobytes()
    for one in (x[:1], x[-1:]):
        assert opening.wad_sizes(one).tobytes() == np.array([_old_wad_size(one[0])]).tobytes()


# -- a tuning path's whole setup, old against new -----------------------------------------------


def _plain(value):
    """``value`` comparable with ``==``: arrays as (dtype, shape, bytes, writeable), books and
    inputs field by field, containers item by item, pydantic models by value, other objects
    (the run's planned-calls namespace) left out."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return ("object", value.shape, [_plain(v) for v in value.ravel().tolist()])
        return (value.dtype.str, value.shape, value.tobytes(), value.flags.writeable)
    if isinstance(value, TraderBook | WorldInputs):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, int | float | str | bool | type(None) | np.generic | BaseModel):
        return value
    return None


def _old_setup(monkeypatch: pytest.MonkeyPatch):
    """Every path this file holds turned back to its old form: the array-form liquidation
    prices, ``to_wad`` per value from 4096 base units, the venue resolved per path, every book
    validated by its constructor."""
    monkeypatch.setattr(liqprice, "_fits_book_kernel", lambda *a: False)
    monkeypatch.setattr(opening, "_WAD_SIZES_MAX", 4096.0)
    monkeypatch.setattr(opening, "_WAD_SIZES_REPR_MAX", 0.0)
    monkeypatch.setattr(world_module, "venue_params_for", lambda sc: sc.venue_params())
    monkeypatch.setattr(TraderBook, "_of_checked", classmethod(lambda cls, c: cls(**c)))


@pytest.mark.parametrize("seed", SEEDS)
def test_tuning_path_setup_equals_old_form(
    seed: int, oct_2025, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = oct_2025.with_overrides(seed=seed)
    new = MirrorEngine(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    with monkeypatch.context() as m:
        _old_setup(m)
        old = MirrorEngine(scenario, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    for f in dataclasses.fields(new.world):
        assert _plain(getattr(new.world, f.name)) == _plain(getattr(old.world, f.name)), f.name
    assert new.world.params == old.world.params
    assert np.isfinite(new.world.liquidation_price_usd[new.world.opened]).mean() > 0.5
    keep = [k for k in vars(new.venue) if k != "_jit_cache"]
    assert {k: _plain(vars(new.venue)[k]) for k in keep} == {
        k: _plain(vars(old.venue)[k]) for k in keep
    }
    assert _plain(vars(new.state)) == _plain(vars(old.state))
    for _ in range(3):  # the first steps
        a, b = new.step(), old.step()
        assert _plain(a.rows) == _plain(b.rows) and _plain(a.events) == _plain(b.events)
    assert new.rng.bit_generator.state == old.rng.bit_generator.state
    assert _plain(vars(new.state)) == _plain(vars(old.state))


def test_venue_kept_by_content_not_seed(oct_2025) -> None:
    """The venue of a scenario kept across seeds is the one it resolves, and a scenario whose
    content differs (beyond its seed) resolves its own."""
    one, two = oct_2025.with_overrides(seed=5), oct_2025.with_overrides(seed=6)
    assert world_module.venue_params_for(one) is world_module.venue_params_for(two)
    assert world_module.venue_params_for(two) == two.venue_params()
    capped = oct_2025.with_overrides(["controls.leverage_cap=3"], seed=5)
    got = world_module.venue_params_for(capped)
    assert got == capped.venue_params() and got != one.venue_params()
    assert max(m.params.max_leverage for m in got.markets) == 3
    # its markets' chain forms, made once, handed out as fresh containers
    for params in (got, two.venue_params()):  # kept, and not kept
        want = ([m.params.to_chain() for m in params.markets],
                [m.params.tiers_to_chain() for m in params.markets])  # fmt: skip
        first = world_module.chain_markets(params)
        assert first == want
        first[0][0]["maxLeverage"] = -1
        first[1][0].clear()
        assert world_module.chain_markets(params) == want


def _old_cap_open_leverage(book: TraderBook, cap: np.ndarray, prices: np.ndarray) -> TraderBook:
    """:func:`simulator.world.cap_open_leverage` as it was: ``dataclasses.replace`` (the book
    validated again)."""
    cap, price = cap[book.market], prices[book.market]
    over = book.leverage > cap
    leverage = np.where(over, cap, book.leverage)
    size = np.where(over, book.collateral_usd * leverage / price, book.size_base)
    return dataclasses.replace(book, leverage=leverage, size_base=size)


@pytest.mark.parametrize("seed", SEEDS)
def test_capped_and_joined_books_equal_validated_ones(seed: int, oct_2025) -> None:
    inputs = world_module.world_inputs(oct_2025.with_overrides(seed=seed))
    opening_rows = ~inputs.book.start_flat
    book = inputs.book.select(opening_rows)
    prices = inputs.start_prices_usd
    cap = np.quantile(book.leverage, 0.5) * np.ones(len(prices))  # half the rows over it
    got = world_module.cap_open_leverage(book, cap, prices)
    want = _old_cap_open_leverage(book, cap, prices)
    assert (book.leverage > cap[book.market]).sum() > book.count // 3
    assert _plain(got) == _plain(want)
    slots = inputs.book.select(~opening_rows)
    joined = concat_books(got, slots)
    columns = {f.name: getattr(joined, f.name) for f in dataclasses.fields(joined)}
    assert _plain(joined) == _plain(TraderBook(**columns))  # the constructor's checks pass
    assert joined.n_accounts == got.n_accounts + slots.n_accounts
