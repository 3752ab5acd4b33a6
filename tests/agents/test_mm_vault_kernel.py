"""The market-making vault's kernel (:mod:`simulator.agents.mm_vault`): the vectorized rule
agrees with its plain-Python reference, the quote bounds the trade by what the skew fill pays,
the inventory limit and the per-step size hold, an over-limit position is sold down, and the
scenario refuses a bad vault naming the key."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.agents.mm_vault import (
    MIN_TRADE_USD,
    VaultQuoteParams,
    plan_trades,
    plan_trades_reference,
)
from simulator.scenario import ScenarioError, load_scenario


def _params(m=4, **kw):
    base = dict(
        participation=0.5,
        limit_usd=np.full(m, 1e6),
        max_trade_usd=1e5,
        quote_fraction=np.full(m, 2e-4),
        skew_scale_base=np.full(m, 1e5),
        max_leverage=np.full(m, 20.0),
    )
    base.update(kw)
    return VaultQuoteParams(**base)


def _fill(price, skew, delta, scale):
    """The venue's skew fill (PerpMath.fillPrice) in floats."""
    return price * (1 + (2 * skew + delta) / (2 * scale))


def test_the_kernel_agrees_with_the_reference_on_random_markets():
    rng = np.random.default_rng(5)
    for _ in range(200):
        m = 6
        price = rng.uniform(1, 1e5, m)
        crowd = rng.normal(0, 5e6, m) / price
        size = rng.normal(0, 1e6, m) / price
        skew = crowd + size
        params = _params(
            m,
            participation=float(rng.uniform(0, 1)),
            limit_usd=rng.uniform(0, 3e6, m),
            max_trade_usd=float(rng.uniform(1e3, 1e6)),
            quote_fraction=rng.uniform(0, 1e-3, m),
            skew_scale_base=np.where(rng.random(m) < 0.2, 0.0, rng.uniform(1e6, 1e9, m) / price),
            max_leverage=rng.uniform(2, 50, m),
        )
        free = float(rng.uniform(-1e5, 2e6))
        trade, unwind = plan_trades(crowd, size, skew, price, free, params)
        ref_trade, ref_unwind = plan_trades_reference(crowd, size, skew, price, free, params)
        np.testing.assert_allclose(trade, ref_trade, rtol=1e-9, atol=1e-12)
        assert list(unwind) == ref_unwind


def test_a_quoted_fill_pays_the_half_spread_and_stops_where_it_no_longer_would():
    # A long crowd skew of 30 base at scale 1e5 (S·q = 20): the vault would sell all 30 but
    # sells only while its average fill pays q over the oracle.
    price, scale, q = np.array([1_000.0]), 1e5, 2e-4
    params = _params(1, quote_fraction=np.array([q]), skew_scale_base=np.array([scale]),
                     max_trade_usd=1e9, limit_usd=np.array([1e9]), participation=1.0)  # fmt: skip
    skew = np.array([30.0])
    trade, unwind = plan_trades(skew, np.zeros(1), skew, price, 1e12, params)
    d = float(trade[0])
    assert d < 0 and not unwind[0]
    assert d == pytest.approx(-2 * (30 - scale * q), rel=1e-5)  # the bound binds: -20
    assert _fill(1_000.0, 30.0, d, scale) >= 1_000.0 * (1 + q)
    # A little more and the average fill would no longer pay.
    assert _fill(1_000.0, 30.0, d - 0.01, scale) < 1_000.0 * (1 + q)
    # A skew at or under S·q pays nothing: no trade, either side.
    for s in (scale * q, -scale * q, 0.0):
        sk = np.array([s])
        assert plan_trades(sk, np.zeros(1), sk, price, 1e12, params)[0][0] == 0


def test_the_target_the_limit_and_the_step_size_bound_the_trade():
    price = np.array([100.0, 100.0, 100.0])
    crowd = np.array([50_000.0, -50_000.0, 1_000.0])  # base
    params = _params(3, limit_usd=np.array([2e6, 2e6, 2e6]), max_trade_usd=5e5,
                     quote_fraction=np.zeros(3), skew_scale_base=np.full(3, 1e9))  # fmt: skip
    trade, _ = plan_trades(crowd, np.zeros(3), crowd, price, 1e12, params)
    # against the crowd, at most one step's $500k, and half of a small crowd
    assert list(trade) == pytest.approx([-5_000.0, 5_000.0, -500.0])
    # next to the limit: only up to it
    size = np.array([-19_000.0, 19_000.0, 0.0])
    trade, _ = plan_trades(crowd, size, crowd + size, price, 1e12, params)
    assert list(trade[:2]) == pytest.approx([-1_000.0, 1_000.0])


def test_an_over_limit_position_is_sold_down_whatever_the_quote_pays():
    price = np.array([100.0])
    params = _params(1, limit_usd=np.array([1e6]), max_trade_usd=2e5,
                     quote_fraction=np.array([0.5]))  # fmt: skip  # a quote that never pays
    size = np.array([-13_000.0])  # $1.3M short, over its $1M limit
    trade, unwind = plan_trades(
        np.array([50_000.0]), size, np.array([37_000.0]), price, 1e6, params
    )
    assert unwind[0] and trade[0] == pytest.approx(2_000.0)  # buys back one step's $200k


def test_new_risk_is_cut_to_what_the_free_margin_carries_and_dust_is_not_traded():
    price = np.array([100.0, 100.0])
    crowd = np.array([50_000.0, -50_000.0])
    params = _params(2, max_trade_usd=1e6, limit_usd=np.full(2, 1e7),
                     quote_fraction=np.zeros(2), skew_scale_base=np.full(2, 1e9),
                     max_leverage=np.array([10.0, 10.0]))  # fmt: skip
    # $2M of new notional needs $200k of initial margin; $50k of free margin carries a quarter.
    trade, _ = plan_trades(crowd, np.zeros(2), crowd, price, 5e4, params)
    assert list(trade) == pytest.approx([-2_500.0, 2_500.0])
    trade, _ = plan_trades(crowd, np.zeros(2), crowd, price, -1.0, params)
    assert list(trade) == [0.0, 0.0]
    tiny = np.array([(MIN_TRADE_USD / 100.0) * 1.5, 0.0])  # half of it is under $100
    trade, _ = plan_trades(tiny, np.zeros(2), tiny, price, 1e9, params)
    assert list(trade) == [0.0, 0.0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mm_vault.capital_usd": 0, "mm_vault.quoting": True},
         "mm_vault.quoting: a vault with no capital cannot quote"),
        ({"mm_vault.capital_usd": 1e6, "mm_vault.inventory_limit_usd": 5e7},
         "mm_vault.inventory_limit_usd: 50,000,000 USD in BTC is above the vault's capital"),
        ({"mm_vault.capital_usd": 1e6, "mm_vault.inventory_limit_usd": {"ALT": 4e6}},
         "mm_vault.inventory_limit_usd.ALT: 4,000,000 USD in ALT is above"),
        ({"mm_vault.capital_usd": 1e6, "mm_vault.inventory_limit_usd": {"XRP": 1e6}},
         "mm_vault.inventory_limit_usd.XRP: XRP is not a market of this scenario"),
        ({"mm_vault.capital_usd": -1.0}, "mm_vault.capital_usd must be >= 0"),
        ({"mm_vault.participation": float("nan")}, "mm_vault.participation"),
        ({"mm_vault.max_trade_usd": 0}, "mm_vault.max_trade_usd"),
        ({"mm_vault.half_spread_bps": -2}, "mm_vault.half_spread_bps"),
    ],
)  # fmt: skip
def test_a_bad_vault_is_refused_naming_the_key(overrides, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario("oct-2025", overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
