"""Hypothesis strategies of the mirror's tests: market parameters within the ranges
``VenueParams.validate`` / ``validateTiers`` / ``setMarginScale`` accept (chain names and
integers, over the venue tests' ``BASE_MARKET``), margin tiers, market states and books.

Sizes are kept such that a random book is mostly openable on chain (notional per position
≤ ~10k USD at prices 1..10,000 USD), and the parameters cover every branch of the kernels:
tiers or none, OI-scaled IM on or off, skew impact on or off, both funding models with and
without a cap, partial liquidation above a threshold or whole, a per-block cap or none.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

_CONTRACT_TESTS = Path(__file__).resolve().parent.parent / "contracts"
for _folder in ("", "venue"):
    _path = str(_CONTRACT_TESTS / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from venue_helpers import BASE_MARKET  # noqa: E402

WAD = 10**18


def fraction(lo: float, hi: float) -> st.SearchStrategy[int]:
    """A WAD fraction in [lo, hi] with 6 significant decimals (chain integers)."""
    return st.integers(int(lo * 10**6), int(hi * 10**6)).map(lambda x: x * 10**12)


@st.composite
def tiers(draw, max_leverage: int) -> list[tuple[int, int, int]]:
    """0..3 tiers above the base: increasing floors (USD WAD), non-decreasing IMF and MMF,
    MMF < IMF in each."""
    n = draw(st.integers(0, 3))
    floors = sorted(
        draw(st.lists(st.integers(1_000, 300_000), min_size=n, max_size=n, unique=True))
    )
    imfs = sorted(draw(st.lists(fraction(0.01, 0.6), min_size=n, max_size=n)))
    out: list[tuple[int, int, int]] = []
    mmf_prev = 0
    for floor, imf in zip(floors, imfs, strict=True):
        share = draw(st.integers(20, 95))
        mmf = max(mmf_prev, imf * share // 100)
        if mmf >= imf:
            mmf = imf - 1
        mmf = max(mmf, mmf_prev)
        out.append((floor * WAD, imf, mmf))
        mmf_prev = mmf
    return out


@st.composite
def market_params(draw) -> tuple[dict[str, Any], list[tuple[int, int, int]]]:
    """One market's full ``MarketParams`` (chain integers) and tiers."""
    lev_halves = draw(st.integers(2, 100))  # 1x .. 50x
    max_leverage = lev_halves * WAD // 2
    # mmf < 1/maxLeverage: a share of it
    mmf = max(1, draw(st.integers(5, 90)) * WAD * 2 // (100 * lev_halves))
    oi_on = draw(st.booleans())
    lower = draw(st.integers(0, 500_000)) * WAD
    upper = lower + draw(st.integers(1, 2_000_000)) * WAD
    skew_on = draw(st.booleans())
    capped = draw(st.booleans())
    changes = {
        "maxLeverage": max_leverage,
        "maintenanceMarginFraction": mmf,
        "oiImfLowerCap": lower if oi_on else 0,
        "oiImfUpperCap": upper if oi_on else 0,
        "skewScale": draw(st.integers(10_000, 10**8)) * WAD if skew_on else 0,
        "takerFeeBps": draw(st.one_of(st.integers(0, 60), st.integers(0, 1000))),
        "insuranceFeeShareBps": draw(st.integers(0, 10_000)),
        "fundingModel": draw(st.integers(0, 1)),
        "maxFundingVelocity": draw(st.one_of(fraction(0, 0.1), fraction(0, 20))),
        "premiumInterestRate8h": draw(fraction(0, 0.01)),
        "premiumClamp8h": draw(fraction(0, 0.01)),
        "maxFundingRatePerHour": draw(fraction(0.0001, 0.05)) if capped else 0,
        "liquidationPenaltyBps": draw(st.integers(0, 1000)),
        "keeperShareBps": draw(st.integers(0, 10_000)),
        "partialLiquidationThreshold": draw(st.sampled_from([0, 10**30]))
        if draw(st.booleans())
        else draw(st.integers(0, 20_000)) * WAD,
        "partialLiquidationShareBps": draw(st.integers(1, 10_000)),
        "liquidationCooldown": draw(st.integers(0, 3_600)),
        "fullLiquidationAfterCooldown": draw(st.booleans()),
        "maxLiquidationNotionalPerBlock": draw(st.integers(1, 20_000)) * WAD
        if draw(st.integers(0, 3)) == 0
        else 0,
        "maxLiquidationImpactBps": draw(st.integers(0, 5_000)),
        "backstopFraction": draw(fraction(0, 1)),
        "maxLongOpenInterest": 10**12 * WAD,
        "maxShortOpenInterest": 10**12 * WAD,
    }
    return {**BASE_MARKET, **changes}, draw(tiers(max_leverage))


def margin_scale() -> st.SearchStrategy[int]:
    """``setMarginScale``'s range [0.1, 10] (WAD), 1 often."""
    return st.one_of(st.just(WAD), fraction(0.5, 2), fraction(0.1, 10))


def price() -> st.SearchStrategy[int]:
    """An index price, 1..10,000 USD (WAD, 6 significant decimals)."""
    return st.integers(10**6, 10**10).map(lambda x: x * 10**12)


# -- random worlds of the kernel tests (not chain-consistent: any state the types allow) ------


@st.composite
def world(draw, max_markets: int = 4, max_accounts: int = 6) -> dict[str, Any]:
    """Markets (parameters, tiers, scale, price, funding / OI state) and accounts (collateral,
    positions {market: (size, entry, snapshot, margin, isolated, partial_at, this_block)}), and
    a block time ``now``; plain integers."""
    m = draw(st.integers(1, max_markets))
    markets = []
    for _ in range(m):
        params, tier_list = draw(market_params())
        p = draw(price())
        markets.append(
            {
                "params": params,
                "tiers": tier_list,
                "scale": draw(margin_scale()),
                "price": p,
                "long_oi": draw(st.integers(0, 10**22)),
                "short_oi": draw(st.integers(0, 10**22)),
                "long_index": draw(st.integers(-(10**21), 10**21)),
                "short_index": draw(st.integers(-(10**21), 10**21)),
                "rate": draw(st.integers(-(10**17), 10**17)),
            }
        )
    now = draw(st.integers(10**6, 2 * 10**6))
    accounts = []
    for _ in range(draw(st.integers(1, max_accounts))):
        positions = {}
        for i in sorted(draw(st.sets(st.integers(0, m - 1)))):
            mk = markets[i]
            size = draw(st.integers(1, 10**22)) * draw(st.sampled_from([1, -1]))
            entry = mk["price"] * draw(st.integers(50, 150)) // 100 + draw(st.integers(0, 10**6))
            index = mk["long_index"] if size > 0 else mk["short_index"]
            notional = abs(size) * mk["price"] // WAD
            positions[i] = {
                "size": size,
                "entry": max(entry, 1),
                "snapshot": index - draw(st.integers(-(10**19), 10**19)),
                "margin": draw(
                    st.one_of(
                        st.integers(-(10**20), 10**23),
                        st.integers(-5, 30).map(lambda k, n=notional: n * k // 100),
                    )
                ),
                "isolated": draw(st.booleans()),
                "partial_at": draw(st.sampled_from([0, 0, now - 10, now - 1_000, now - 5_000])),
                "this_block": draw(st.booleans()) and draw(st.booleans()),
            }
        total = sum(abs(p["size"]) * markets[i]["price"] for i, p in positions.items()) // WAD
        collateral = draw(
            st.one_of(
                st.integers(-(10**21), 10**24),
                st.integers(-5, 30).map(lambda k, n=total: n * k // 100),
            )
        )
        accounts.append({"collateral": collateral, "positions": positions})
    return {
        "markets": markets,
        "accounts": accounts,
        "now": now,
        "fund": draw(st.integers(0, 10**11)) * 10**12,
        "dt": draw(st.integers(0, 3 * 86_400)),
    }


# -- ADL (simulator/mirror/adl.py): one market's ledger, bankrupt side and winners ------------


@st.composite
def adl_market(draw, max_winners: int = 6) -> dict[str, Any]:
    """One market's ADL call: policy (contract index 0..4), bankrupt side, ledger, index price,
    pool cash and winners (size, entry, value, owed), mostly eligible and ranked; plain ints."""
    p = draw(price())
    longs_bankrupt = draw(st.booleans())
    side = -1 if longs_bankrupt else 1  # the winners' sign
    clean = draw(st.integers(0, 3)) > 0  # every winner eligible (the keeper's usual batch)
    winners = []
    for _ in range(draw(st.integers(1, max_winners))):
        wrong = not clean and draw(st.integers(0, 3)) == 0
        size = draw(st.integers(1, 10**22)) * (-side if wrong else side)
        # in profit (or, in an unclean batch, possibly not): entry on the losing side
        move = draw(st.integers(1 if clean else -20, 300)) * side
        entry = max(1, p * (1_000 - move) // 1_000 + draw(st.integers(-(10**6), 10**6)))
        pnl_scale = abs(size) * p // WAD
        value = draw(
            st.one_of(
                st.integers(1, 10**24),
                st.integers(1 if clean else -2, 60).map(lambda k, n=pnl_scale: n * k // 100 or 1),
            )
        )
        winners.append(
            {
                "size": size,
                "entry": entry,
                "value": value,
                "owed": draw(st.integers(-(10**20), 10**20)),
            }
        )
    bad = draw(st.one_of(st.just(0), st.integers(1, 10**24), st.integers(1, 10**6)))
    queued = draw(st.one_of(st.just(0), st.integers(1, 3 * 10**22)))
    adl_px = max(1, p * draw(st.integers(700, 1_300)) // 1_000)
    ledger = {
        "bad_debt_longs": bad if longs_bankrupt else draw(st.integers(0, 10**22)),
        "bad_debt_shorts": draw(st.integers(0, 10**22)) if longs_bankrupt else bad,
        "adl_contracts_longs": queued if longs_bankrupt else 0,
        "adl_contracts_shorts": 0 if longs_bankrupt else queued,
        "adl_price_longs": adl_px if longs_bankrupt else 0,
        "adl_price_shorts": 0 if longs_bankrupt else adl_px,
        "final_bad_debt_longs": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
        "final_bad_debt_shorts": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
    }
    return {
        "policy": draw(st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4])),
        "longs_bankrupt": longs_bankrupt,
        "price": p,
        "pool": draw(st.one_of(st.integers(-(10**22), 10**26), st.integers(0, 10**13))),
        "ledger": ledger,
        "winners": winners,
        "ranked": draw(st.integers(0, 4)) > 0,
        "max_accounts": draw(st.one_of(st.just(100), st.just(100), st.integers(1, 8))),
    }


@st.composite
def deficit_case(draw) -> dict[str, Any]:
    """One ``_absorbDeficit``: policy, price mode, side, deficit, the fund's payment, the
    bankrupt contracts and fill, previous mark, open interest and mark; a prior ledger."""
    deficit = draw(st.integers(1, 10**24))
    p = draw(price())
    return {
        "policy": draw(st.integers(0, 4)),
        "mode": draw(st.integers(0, 1)),
        "longs_bankrupt": draw(st.booleans()),
        "deficit": deficit,
        "paid": draw(st.one_of(st.just(0), st.integers(0, deficit), st.integers(0, 2 * deficit))),
        "contracts": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
        "fill": max(1, p * draw(st.integers(500, 1_500)) // 1_000),
        "previous_mark": p,
        "open_interest": draw(st.one_of(st.just(0), st.integers(1, 10**6), st.integers(1, 10**23))),
        "mark": p,
        "ledger": {
            "bad_debt_longs": draw(st.integers(0, 10**22)),
            "bad_debt_shorts": draw(st.integers(0, 10**22)),
            "adl_contracts_longs": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
            "adl_contracts_shorts": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
            "adl_price_longs": draw(price()),
            "adl_price_shorts": draw(price()),
            "final_bad_debt_longs": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
            "final_bad_debt_shorts": draw(st.one_of(st.just(0), st.integers(1, 10**22))),
        },
    }


# -- spot AMM (simulator/mirror/amm.py) --------------------------------------------------------


@st.composite
def amm_pool(draw, max_swaps: int = 8) -> dict[str, Any]:
    """One pool (reserves in token units, fee bps; now and then an empty side) and a sequence
    of swaps (base in?, amount in token units, minimum out), amounts from dust to several
    times the reserve."""
    rc = draw(st.integers(1, 10**15)) if draw(st.integers(0, 9)) else 0  # collateral units
    rb = draw(st.integers(1, 10**27)) if draw(st.integers(0, 9)) else 0  # base units (18 dec)
    out = []
    for _ in range(draw(st.integers(1, max_swaps))):
        base_in = draw(st.booleans())
        reserve = rb if base_in else rc
        amount = draw(
            st.one_of(
                st.integers(1, 10),
                st.integers(1, max(reserve, 10) * 3),
                st.integers(0, 10**27),
            )
        )
        out.append((base_in, amount, draw(st.one_of(st.just(0), st.integers(0, 10**15)))))
    return {
        "reserve_collateral": rc,
        "reserve_base": rb,
        "fee_bps": draw(st.one_of(st.integers(0, 100), st.integers(0, 9_999))),
        "swaps": out,
    }


# -- risk controls (simulator/mirror/controls.py) ------------------------------------------------


@st.composite
def controller_params(draw) -> dict[str, int]:
    """``ControllerParams`` within ``MarginControlMath.validate`` (chain names, integers)."""
    lo = draw(fraction(0.1, 3))
    averaging = draw(st.integers(1, 7_200))
    return {
        "minScale": lo,
        "maxScale": draw(st.integers(lo // 10**12, 10 * 10**6)) * 10**12,
        "targetVolatility": draw(fraction(0.000001, 3)),
        "volatilitySensitivity": draw(fraction(0, 5)),
        "skewSensitivity": draw(fraction(0, 5)),
        "ewmaWeight": draw(fraction(0.000001, 1)),
        "minInterval": draw(st.integers(0, 300)),
        "skewAveragingTime": averaging,
        "maxSkewSampleAge": draw(st.integers(1, averaging)),
    }


CONTROLLER_FIELDS = (
    "minScale", "maxScale", "targetVolatility", "volatilitySensitivity", "skewSensitivity",
    "ewmaWeight", "minInterval", "skewAveragingTime", "maxSkewSampleAge",
)  # fmt: skip
"""``IVenueMarginController.ControllerParams`` field order."""


@st.composite
def price_history(draw, steps: int) -> list[tuple[int, int]]:
    """`steps` pushes after an initial price: (seconds since the previous push, price WAD),
    gaps 0..400 s (several pushes in a second now and then), moves up to ±20%."""
    p = draw(price())
    out = [(0, p)]
    for _ in range(steps):
        p = max(1, p * draw(st.integers(8_000, 12_000)) // 10_000)
        out.append((draw(st.one_of(st.integers(0, 400), st.just(0))), p))
    return out
