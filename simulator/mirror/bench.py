"""Throughput of the mirror's kernels (fast and exact mode) on a random book, for the README's
figures: ``python -m simulator.mirror.bench [ACCOUNTS] [MARKETS]``.

The book: every account holds a cross position in every market (sizes of ±100..10,000 USD at
prices of 1..10,000 USD, entries within ±20%, collateral 10..50% of its notional), markets with
two margin tiers, OI-scaled IM and velocity funding. Figures are account evaluations per second
(one account over all its markets), best of `repeats`, on one core.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from simulator.mirror import fixed, funding, health, liqprice, liquidation
from simulator.mirror.markets import MarketArrays, MarketState

WAD = fixed.WAD


def random_book(
    accounts: int, markets: int, seed: int = 0, *, exact_mode: bool = False
) -> tuple[MarketArrays, MarketState, health.Book, np.ndarray]:
    """(markets, state, book, prices) of the benchmark, from `seed` (numpy's default_rng)."""
    rng = np.random.default_rng(seed)
    conv = fixed.exact if exact_mode else fixed.fast
    price = (10 ** rng.uniform(0, 4, markets) * 1e6).astype(np.int64).astype(object) * 10**12
    usd = rng.uniform(100, 10_000, (accounts, markets)) * rng.choice([-1, 1], (accounts, markets))
    # size (WAD base units) = USD / price in USD
    size = [[int(u / (int(p) / 1e18) * 1e18) for u, p in zip(row, price, strict=True)]
            for row in usd]  # fmt: skip
    size = np.array(size, dtype=object)
    entry = price * (rng.uniform(0.8, 1.2, (accounts, markets)) * 1e6).astype(np.int64) // 10**6
    notional = (abs(size) * price // WAD).sum(axis=1)
    collateral = notional * (rng.uniform(0.1, 0.5, accounts) * 100).astype(np.int64) // 100
    params = {
        "maxLeverage": 20 * WAD, "maintenanceMarginFraction": WAD // 40,
        "oiImfLowerCap": 10**6 * WAD, "oiImfUpperCap": 10**8 * WAD, "skewScale": 10**9 * WAD,
        "takerFeeBps": 5, "insuranceFeeShareBps": 2000, "fundingModel": 0,
        "maxFundingVelocity": WAD, "premiumInterestRate8h": 0, "premiumClamp8h": 0,
        "maxFundingRatePerHour": WAD // 100, "liquidationPenaltyBps": 100,
        "keeperShareBps": 5000, "partialLiquidationThreshold": 10**5 * WAD,
        "partialLiquidationShareBps": 2000, "liquidationCooldown": 30,
        "fullLiquidationAfterCooldown": True, "maxLiquidationNotionalPerBlock": 0,
        "maxLiquidationImpactBps": 500, "backstopFraction": WAD // 2,
    }  # fmt: skip
    tiers = [(10**5 * WAD, WAD // 10, WAD // 20), (10**6 * WAD, WAD // 4, WAD // 8)]
    m = MarketArrays.from_chain([params] * markets, [tiers] * markets, exact_mode=exact_mode)
    long_oi = conv([int(x) for x in where_pos(size).sum(axis=0)])
    short_oi = conv([int(x) for x in where_pos(-size).sum(axis=0)])
    state = MarketState(long_oi, short_oi, conv([0] * markets), conv([0] * markets),
                        conv([WAD // 100] * markets))  # fmt: skip
    book = health.Book(
        size=conv(size.tolist()),
        entry=conv(entry.tolist()),
        snapshot=conv(np.zeros((accounts, markets), dtype=object).tolist()),
        margin=conv(np.zeros((accounts, markets), dtype=object).tolist()),
        isolated=np.zeros((accounts, markets), dtype=bool),
        collateral=conv(collateral.tolist()),
    )
    return m, state, book, conv(price.tolist())


def where_pos(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, 0)


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput(accounts: int, markets: int, repeats: int = 3) -> dict[str, float]:
    """Account evaluations per second of each kernel, fast mode (and exact mode on 1/100 of
    the accounts)."""
    out: dict[str, float] = {}
    for mode, n in (("fast", accounts), ("exact", max(1, accounts // 100))):
        m, state, book, price = random_book(n, markets, exact_mode=mode == "exact")
        dt = fixed.fast(3600.0) if mode == "fast" else 3600
        crashed = price * 0.8 if mode == "fast" else price * 8 // 10
        kernels = {
            "funding accrual + cross health": lambda m=m, s=state, b=book, p=price, d=dt: (
                health.cross_health(b, p, m, funding.funding_now(m, s, p, d))
            ),
            "liquidation prices": lambda m=m, s=state, b=book, p=price: (
                liqprice.position_liquidation_prices(b, p, m, s)
            ),
            "cross liquidation (-20%)": lambda m=m, s=state, b=book, p=crashed: (
                liquidation.liquidate_cross(b, p, m, s, fund_balance=10**30)
            ),
        }
        for name, fn in kernels.items():
            out[f"{mode} ({n} accounts): {name}"] = n / _best(fn, repeats)
    return out


if __name__ == "__main__":
    a = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for name, rate in throughput(a, k).items():
        print(f"{name:55s} {rate:>12,.0f} accounts/s ({k} markets each)")
