"""Trader populations: random draws, explicit books, liquidation prices, fast vs reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.population import (
    Behaviour,
    PopulationError,
    TraderBook,
    _liquidation_price_python,
    _population_draws,
    _population_from_draws,
    _population_from_draws_python,
    book_from_explicit,
    draw_population,
    liquidation_price_usd,
)
from simulator.scenario import (
    BEHAVIOURS,
    ExplicitBook,
    RandomPopulation,
    ScenarioError,
    load_scenario,
    random_streams,
)


def population(**kw) -> RandomPopulation:
    return RandomPopulation(kind="random", **{"count": 1000, **kw})


SPEC = population(
    long_share=0.7,
    leverage={"min": 1.5, "max": 50, "tail_alpha_long": 0.8, "tail_alpha_short": 1.5},
    whales={"share": 0.05, "alpha": 1.2, "min_collateral_usd": 1e5, "max_collateral_usd": 1e7},
)


def test_population_has_one_row_per_trader_and_consistent_sizes():
    book = draw_population(SPEC, 4000.0, 50.0, np.random.default_rng(0))
    assert len(book) == book.count == 1000
    assert set(np.unique(book.side)) == {-1, 1}
    assert book.side.dtype == np.int8 and book.behaviour.dtype == np.int8
    np.testing.assert_allclose(book.size_base * 4000.0, book.collateral_usd * book.leverage)
    assert np.all(book.collateral_usd > 0) and np.all(book.size_base > 0)


def test_same_seed_gives_identical_books():
    a = draw_population(SPEC, 4000.0, 50.0, random_streams(5).population)
    b = draw_population(SPEC, 4000.0, 50.0, random_streams(5).population)
    c = draw_population(SPEC, 4000.0, 50.0, random_streams(6).population)
    assert a.equals(b)
    assert not a.equals(c)


def test_leverage_is_capped_by_the_market_maximum():
    book = draw_population(SPEC, 4000.0, 20.0, np.random.default_rng(1))
    assert book.leverage.max() == 20.0
    assert np.all(book.leverage >= 1.5)


def test_leverage_has_a_heavy_tail_most_low_some_at_the_max():
    book = draw_population(population(count=20_000, leverage={"min": 1, "max": 50,
                           "tail_alpha_long": 1.0}), 100.0, 50.0, np.random.default_rng(2))  # fmt: skip
    assert np.median(book.leverage) == pytest.approx(2.0, rel=0.05)  # P(L > x) = 1/x
    assert np.mean(book.leverage >= 50) == pytest.approx(0.02, abs=0.005)


def test_longs_are_more_levered_when_their_tail_is_heavier():
    book = draw_population(SPEC, 100.0, 50.0, np.random.default_rng(3))
    assert book.leverage[book.side > 0].mean() > 1.5 * book.leverage[book.side < 0].mean()


def test_long_share_and_collateral_median_match_the_spec():
    spec = population(count=20_000, long_share=0.8, collateral_usd={"median_usd": 2500,
                      "sigma": 1.0})  # fmt: skip
    book = draw_population(spec, 100.0, 50.0, np.random.default_rng(4))
    assert np.mean(book.side > 0) == pytest.approx(0.8, abs=0.01)
    assert np.median(book.collateral_usd) == pytest.approx(2500, rel=0.05)


def test_whales_follow_a_clipped_pareto_tail():
    book = draw_population(SPEC, 100.0, 50.0, np.random.default_rng(5))
    whales = book.collateral_usd >= 1e5
    assert 0.03 < whales.mean() < 0.08
    assert book.collateral_usd.max() <= 1e7


def test_behaviour_mix_matches_the_weights_and_rules_off_never_trigger():
    spec = population(count=20_000, behaviour={"weights": {"hold": 1, "take_profit": 1,
                      "stop_loss": 1, "top_up": 1, "panic": 0}})  # fmt: skip
    book = draw_population(spec, 100.0, 50.0, np.random.default_rng(6))
    counts = np.bincount(book.behaviour, minlength=5) / len(book)
    np.testing.assert_allclose(counts, [0.25, 0.25, 0.25, 0.25, 0.0], atol=0.015)
    tp = book.behaviour == Behaviour.TAKE_PROFIT
    assert np.all(np.isinf(book.take_profit_fraction[~tp]))
    assert np.all(np.isfinite(book.take_profit_fraction[tp]))
    top_up = book.behaviour == Behaviour.TOP_UP
    assert np.all(book.top_up_probability[~top_up] == 0)
    assert np.all(book.top_up_probability[top_up] > 0)
    assert np.all(np.isinf(book.panic_drawdown))  # nobody panics with weight 0


def test_jitter_spreads_thresholds_around_the_configured_value():
    spec = population(count=5000, behaviour={"weights": {"hold": 0, "take_profit": 1,
                      "stop_loss": 0, "top_up": 0, "panic": 0}, "take_profit_fraction": 0.4,
                      "jitter": 0.25})  # fmt: skip
    tp = draw_population(spec, 100.0, 50.0, np.random.default_rng(7)).take_profit_fraction
    assert tp.min() >= 0.3 and tp.max() <= 0.5
    assert tp.mean() == pytest.approx(0.4, rel=0.02)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"markets_per_account": {1: 0.5, 2: 0.3, 3: 0.2}, "isolated_share": 0.3,
         "market_weights": {"BTC": 3, "ETH": 2, "SOL": 1, "ALT": 0}},
    ],
)  # fmt: skip
def test_vectorized_population_agrees_with_the_python_reference(extra):
    spec = SPEC.model_copy(update=extra) if extra else SPEC
    spec = RandomPopulation.model_validate(spec.model_dump())
    symbols = ["BTC", "ETH", "SOL", "ALT"] if extra else ["BTC"]
    prices = np.array([1e5, 4e3, 200.0, 1.0])[: len(symbols)]
    limits = np.array([40.0, 25.0, 20.0, 3.0])[: len(symbols)]
    weights = spec.market_weight_array(symbols)
    draws = _population_draws(500, len(symbols), spec, np.random.default_rng(8))
    fast = _population_from_draws(spec, prices, limits, weights, draws).to_frame()
    slow = pd.DataFrame(
        _population_from_draws_python(
            spec, prices.tolist(), limits.tolist(), weights.tolist(), draws
        )
    )
    slow["side"] = np.where(slow["side"] > 0, "long", "short")
    slow["behaviour"] = [BEHAVIOURS[c] for c in slow["behaviour"]]
    assert len(fast) == len(slow) >= 500
    pd.testing.assert_frame_equal(fast[slow.columns], slow, rtol=1e-12, check_dtype=False)


# -- several markets per account ---------------------------------------------------------------

SYMBOLS = ["BTC", "ETH", "SOL", "DOGE", "ALT"]
PRICES = np.array([120_000.0, 4_300.0, 220.0, 0.25, 1.0])
LIMITS = np.array([40.0, 25.0, 20.0, 10.0, 3.0])


def multi(**kw) -> RandomPopulation:
    base = {
        "count": 20_000,
        "markets_per_account": {1: 0.5, 2: 0.3, 4: 0.2},
        "market_weights": {"BTC": 4, "ETH": 3, "SOL": 2, "DOGE": 1},
        "isolated_share": 0.25,
        "leverage": {"min": 1.5, "max": 50, "tail_alpha_long": 0.8},
    }
    return population(**{**base, **kw})


def test_accounts_hold_distinct_markets_in_the_drawn_numbers():
    book = draw_population(multi(), PRICES, LIMITS, np.random.default_rng(11), symbols=SYMBOLS)
    assert book.n_accounts == 20_000
    per_account = np.bincount(book.account)
    shares = np.bincount(per_account, minlength=5)[1:] / book.n_accounts
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.0, 0.2], atol=0.015)
    # rows are ordered by account, then market, and an account never holds a market twice
    order = book.account * 10 + book.market
    assert np.all(np.diff(order) > 0)
    assert not np.any(book.market == SYMBOLS.index("ALT"))  # weight 0


def test_market_weights_set_each_markets_share_of_one_market_accounts():
    book = draw_population(multi(markets_per_account={1: 1.0}), PRICES, LIMITS,
                           np.random.default_rng(12), symbols=SYMBOLS)  # fmt: skip
    share = np.bincount(book.market, minlength=5) / len(book)
    np.testing.assert_allclose(share, [0.4, 0.3, 0.2, 0.1, 0.0], atol=0.012)


def test_equal_weights_by_default_and_one_symbol_list_needed_for_weights():
    spec = multi(market_weights=None, markets_per_account={1: 1.0})
    book = draw_population(spec, PRICES, LIMITS, np.random.default_rng(13))
    np.testing.assert_allclose(np.bincount(book.market) / len(book), [0.2] * 5, atol=0.012)
    with pytest.raises(PopulationError, match="needs the markets' symbols"):
        draw_population(multi(), PRICES, LIMITS, np.random.default_rng(0))


def test_isolated_share_is_per_account_and_every_row_of_an_account_agrees():
    book = draw_population(multi(), PRICES, LIMITS, np.random.default_rng(14), symbols=SYMBOLS)
    first = np.unique(book.account, return_index=True)[1]
    assert book.isolated[first].mean() == pytest.approx(0.25, abs=0.012)
    assert np.all(book.isolated == book.isolated[first][book.account])


def test_leverage_is_capped_at_each_markets_maximum():
    book = draw_population(multi(), PRICES, LIMITS, np.random.default_rng(15), symbols=SYMBOLS)
    for m, limit in enumerate(LIMITS[:4]):
        rows = book.market == m
        assert book.leverage[rows].max() == limit  # the heavy tail reaches every cap
        np.testing.assert_allclose(
            book.size_base[rows] * PRICES[m], book.collateral_usd[rows] * book.leverage[rows]
        )


def test_account_collateral_is_drawn_as_before_and_split_over_its_positions():
    spec = multi(collateral_usd={"median_usd": 2500, "sigma": 1.0})
    book = draw_population(spec, PRICES, LIMITS, np.random.default_rng(16), symbols=SYMBOLS)
    per_account = np.bincount(book.account, weights=book.collateral_usd)
    assert np.median(per_account) == pytest.approx(2500, rel=0.05)
    many = np.bincount(book.account)[book.account] > 1
    assert np.all(book.collateral_usd > 0)
    # the split is random: a two-position account's larger share is uniform on [1/2, 1)
    two = np.flatnonzero(np.bincount(book.account) == 2)
    rows = np.isin(book.account, two)
    share = book.collateral_usd[rows] / per_account[book.account[rows]]
    assert share.max() > 0.95 and share.min() < 0.05 and many.any()


def test_more_markets_per_account_than_weighted_markets_is_refused():
    spec = multi(markets_per_account={5: 1.0})  # ALT has weight 0: only 4 markets to pick
    with pytest.raises(PopulationError, match="reaches 5 markets, but only 4"):
        draw_population(spec, PRICES, LIMITS, np.random.default_rng(0), symbols=SYMBOLS)


def test_markets_per_account_is_bounded_by_the_venue():
    with pytest.raises(Exception, match="outside 1..8"):
        population(markets_per_account={9: 1.0})


def test_one_market_one_position_book_is_one_row_per_account():
    book = draw_population(SPEC, 4000.0, 50.0, np.random.default_rng(17))
    assert book.account.tolist() == list(range(1000))
    assert not book.market.any() and not book.isolated.any()


def test_book_is_read_only():
    book = draw_population(population(count=3), 100.0, 10.0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        book.collateral_usd[0] = 1.0
    with pytest.raises(AttributeError):
        book.side = np.array([1, 1, 1])


def test_book_rejects_ragged_arrays_and_bad_sides():
    columns = {name: np.ones(3) for name in TraderBook.__dataclass_fields__}
    columns["side"] = np.array([1, -1, 1])
    columns.update(account=np.arange(3), market=np.zeros(3), isolated=np.zeros(3, dtype=bool))
    TraderBook(**columns)
    with pytest.raises(ValueError, match="rows"):
        TraderBook(**{**columns, "leverage": np.ones(2)})
    with pytest.raises(ValueError, match="side"):
        TraderBook(**{**columns, "side": np.array([1, 0, 1])})
    with pytest.raises(ValueError, match="n_accounts"):
        TraderBook(**{**columns, "account": np.array([0, 2, 3])})
    with pytest.raises(ValueError, match="same \\(account, market\\)"):
        TraderBook(**{**columns, "account": np.array([0, 0, 1])})
    two_markets = TraderBook(**{**columns, "account": np.array([0, 0, 1]), "market": [0, 1, 0]})
    assert two_markets.n_accounts == 2 and two_markets.count == 3
    assert two_markets.select(np.array([False, True, True])).account.tolist() == [0, 1]


def test_select_returns_a_sub_book():
    book = draw_population(SPEC, 100.0, 50.0, np.random.default_rng(9))
    longs = book.select(book.side > 0)
    assert len(longs) == int((book.side > 0).sum()) and np.all(longs.side == 1)


@pytest.mark.parametrize(("price", "max_leverage"), [(0.0, 10.0), (-1.0, 10.0), (1.0, 0.0),
                                                     (float("nan"), 10.0)])  # fmt: skip
def test_bad_price_or_leverage_is_an_error(price, max_leverage):
    with pytest.raises(PopulationError):
        draw_population(SPEC, price, max_leverage, np.random.default_rng(0))


def test_oct_2025_population_is_long_heavy_with_each_markets_leverage_limit():
    scenario = load_scenario("oct-2025")
    streams = scenario.random_streams()
    prices = scenario.start_prices_usd()
    limits = np.array([m.params.max_leverage for m in scenario.venue_params().markets])
    book = draw_population(scenario.traders, prices, limits, streams.population, scenario.symbols)
    assert book.n_accounts == 2000 and len(book) > 3000
    notional = book.notional_usd(prices[book.market])
    assert notional[book.side > 0].sum() > 2 * notional[book.side < 0].sum()
    # Each market's draws are capped at the lesser of its own limit and the population's
    # maximum (15x since session 21's calibration: under 40x BTC and 20x SOL, over 3x ALT),
    # and some draws reach the cap.
    cap = scenario.traders.leverage.max
    for m, limit in enumerate(limits):
        assert book.leverage[book.market == m].max() == min(limit, cap)
    cross_multi = (~book.isolated) & (np.bincount(book.account)[book.account] > 1)
    assert cross_multi.sum() > 1000  # a share of cross accounts holds several assets


# -- explicit books ----------------------------------------------------------------------------


def test_explicit_book_keeps_positions_and_derives_leverage():
    spec = ExplicitBook(kind="explicit", positions=[
        {"side": "long", "collateral_usd": 100, "size_base": 2, "behaviour": "panic"},
        {"side": "short", "collateral_usd": 400, "size_base": 1},
    ], behaviour_params={"panic_drawdown": 0.2})  # fmt: skip
    book = book_from_explicit(spec, 500.0)
    assert book.side.tolist() == [1, -1]
    assert book.leverage.tolist() == [10.0, 1.25]
    assert book.behaviour.tolist() == [Behaviour.PANIC, Behaviour.HOLD]
    assert book.panic_drawdown[0] == 0.2 and math.isinf(book.panic_drawdown[1])


def test_explicit_book_from_csv(write):
    path = write("book.csv", "side,collateral_usd,size_base,behaviour\nshort,10,1,top_up\n")
    book = book_from_explicit(ExplicitBook(kind="explicit", csv=path), 20.0)
    assert book.side.tolist() == [-1] and book.top_up_probability[0] > 0


def test_explicit_book_with_missing_csv_is_a_one_line_error(tmp_path):
    with pytest.raises(ScenarioError, match="CSV file not found"):
        book_from_explicit(ExplicitBook(kind="explicit", csv=tmp_path / "none.csv"), 1.0)


def test_explicit_position_above_max_leverage_is_named():
    spec = ExplicitBook(kind="explicit", positions=[
        {"side": "long", "collateral_usd": 100, "size_base": 1},
        {"side": "long", "collateral_usd": 10, "size_base": 1},
    ])  # fmt: skip
    with pytest.raises(PopulationError, match=r"position 2 .* leverage 50x .* maximum 20x"):
        book_from_explicit(spec, 500.0, max_leverage=20)


# -- liquidation price -------------------------------------------------------------------------


def test_liquidation_price_solves_equity_equals_maintenance_margin():
    side = np.array([1, -1, 1, -1])
    collateral = np.array([100.0, 100.0, 50.0, 20.0])
    size = np.array([1.0, 1.0, 2.0, 0.5])
    entry = np.array([1000.0, 1000.0, 500.0, 400.0])
    mmf = 0.01
    p = liquidation_price_usd(side, collateral, size, entry, mmf)
    equity = collateral + side * size * (p - entry)
    np.testing.assert_allclose(equity, mmf * size * p, rtol=1e-12)


def test_unlevered_long_is_never_liquidated():
    assert float(liquidation_price_usd(1, 2000.0, 1.0, 1000.0, 0.01)) == 0.0


def test_liquidation_price_agrees_with_the_bisection_reference():
    rng = np.random.default_rng(10)
    n = 300
    side = rng.choice([-1, 1], n)
    entry = rng.uniform(1, 5000, n)
    leverage = rng.uniform(1.1, 50, n)
    size = rng.uniform(0.01, 10, n)
    collateral = entry * size / leverage
    mmf = rng.uniform(0.001, 0.015, n)
    fast = liquidation_price_usd(side, collateral, size, entry, mmf)
    slow = [
        _liquidation_price_python(*args)
        for args in zip(side, collateral, size, entry, mmf, strict=True)
    ]
    np.testing.assert_allclose(fast, slow, rtol=1e-9)


def test_oct_2025_static_liquidations_on_the_exogenous_path_are_mostly_long():
    """Calibration check without the engine: positions whose liquidation price (each market's
    maintenance margin, each position on its own collateral) the exogenous path crosses,
    ignoring cross margin, behaviours, fees and feedback."""
    from simulator.pricepaths import scenario_prices

    scenario = load_scenario("oct-2025")
    streams = scenario.random_streams()
    prices = scenario_prices(scenario, streams.price)
    venue = scenario.venue_params()
    limits = np.array([m.params.max_leverage for m in venue.markets])
    mmf = np.array([m.params.maintenance_margin_fraction for m in venue.markets])
    book = draw_population(scenario.traders, prices[0], limits, streams.population,
                           scenario.symbols)  # fmt: skip
    start = prices[0, book.market]
    liq = liquidation_price_usd(book.side, book.collateral_usd, book.size_base, start,
                                mmf[book.market])  # fmt: skip
    low, high = prices.min(axis=0)[book.market], prices.max(axis=0)[book.market]
    hit = np.where(book.side > 0, liq >= low, liq <= high)
    notional = book.notional_usd(start)
    long_share = notional[hit & (book.side > 0)].sum() / notional[hit].sum()
    assert long_share >= 0.85
    assert 0.1 * len(book) <= hit.sum() <= 0.6 * len(book)  # a cascade, not everyone
    # every market takes part, the alts (-70%, -85%) most of all
    rate = np.bincount(book.market, weights=hit) / np.bincount(book.market)
    assert np.all(rate > 0) and rate[3:].min() > rate[:3].max()
