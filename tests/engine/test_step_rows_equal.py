"""The step rows (:func:`simulator.engine.metrics.step_rows`, one pass grouping the events by
a dict of kinds, a market without liquidation, ADL or final bad debt rows filled without
summing) held to the form they replaced (:func:`old_step_rows` below, session 25) on drawn
levels and events: the same rows, keys in the same order, values of the same types and bits."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from simulator.engine.events import ADL_KINDS, LIQUIDATION_KINDS
from simulator.engine.metrics import VAULT_SHARE_DECIMALS, step_rows
from simulator.results import venue_total_row


def old_step_rows(
    step: int,
    step_seconds: int,
    symbols: Sequence[str],
    exogenous_usd: np.ndarray,
    levels: dict[str, Any],
    events: Iterable[dict[str, Any]],
    transactions: int,
    *,
    previous_bad_debt_usd: np.ndarray,
    previous_fees_usd: np.ndarray,
    outside_usd: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """The step's ``steps.parquet`` rows from the levels read after the block and its event
    rows: one row per market of ``symbols`` (in order), then the venue-total (``"ALL"``) row
    (:func:`~simulator.results.venue_total_row`).

    Flows per market: liquidated notional and accounts (liquidations, partial ones and
    backstop takeovers of that market's positions), ADL haircuts and overshoot, the change of
    the market's bad debt (outstanding and final), the bad debt written off as final in the
    step (its ``bad_debt_final`` rows: no ADL call can clear it), and its fees (the change of
    its ledger's trading fees plus liquidation penalties: an ADL overshoot sent to the
    insurance fund is a haircut and is not in them). Venue-wide levels (insurance fund,
    backstop vault) and the block's transactions go on the venue-total row, whose
    ``accounts_liquidated`` counts an account liquidated in several markets once.
    ``outside_usd``: each market's outside price of the step (USD; the ``price_outside_usd``
    column, null when not given).
    """
    # One pass over the events: each market's liquidations and ADL summaries, in event order
    # (the sums below add them in that order).
    liquidations: list[dict[str, Any]] = []
    liquidations_of: dict[Any, list[dict[str, Any]]] = {}
    adl_of: dict[Any, list[dict[str, Any]]] = {}
    final_of: dict[Any, list[dict[str, Any]]] = {}
    for e in events:
        kind = e["kind"]
        if kind in LIQUIDATION_KINDS:
            liquidations.append(e)
            liquidations_of.setdefault(e.get("market"), []).append(e)
        if kind in ADL_KINDS:
            adl_of.setdefault(e.get("market"), []).append(e)
        if kind == "bad_debt_final":
            final_of.setdefault(e.get("market"), []).append(e)

    def floats(key: str) -> list[float]:
        return np.asarray(levels[key], dtype=np.float64).tolist()

    index_usd, mark_usd, amm_usd = floats("index_usd"), floats("mark_usd"), floats("amm_price_usd")
    oi_long, oi_short = floats("oi_long_base"), floats("oi_short_base")
    funding = floats("funding_rate_per_hour")
    exogenous = np.asarray(exogenous_usd, dtype=np.float64).tolist()
    outside = None if outside_usd is None else np.asarray(outside_usd, dtype=np.float64).tolist()
    bad_debt = (np.asarray(levels["bad_debt_usd"]) - previous_bad_debt_usd).astype(float).tolist()
    fees = (np.asarray(levels["fees_cum_usd"]) - previous_fees_usd).astype(float).tolist()
    rows = []
    for m, symbol in enumerate(symbols):
        mine = liquidations_of.get(symbol, [])
        adl = adl_of.get(symbol, [])
        overshoot = sum(json.loads(e["detail"])["overshoot_usd"] for e in adl)
        index = index_usd[m]
        rows.append(
            {
                "step": step,
                "timestamp_s": step * step_seconds,
                "market": symbol,
                "price_exogenous_usd": exogenous[m],
                "price_oracle_usd": index,
                "price_outside_usd": None if outside is None else outside[m],
                "price_mark_usd": mark_usd[m],
                "price_amm_usd": amm_usd[m],
                "oi_long_usd": oi_long[m] * index,
                "oi_short_usd": oi_short[m] * index,
                "liquidated_notional_long_usd": sum(
                    e["notional_usd"] or 0 for e in mine if e["side"] == "long"
                ),
                "liquidated_notional_short_usd": sum(
                    e["notional_usd"] or 0 for e in mine if e["side"] == "short"
                ),
                "accounts_liquidated": len({e["account"] for e in mine}),
                "adl_haircut_usd": sum(e["amount_usd"] or 0 for e in adl),
                "adl_overshoot_usd": overshoot,
                "bad_debt_usd": bad_debt[m],
                "bad_debt_final_usd": sum(e["amount_usd"] for e in final_of.get(symbol, [])),
                "funding_rate": funding[m],
                "fees_usd": fees[m],
                "mm_vault_size_base": _mm_vault_size(levels, m),
            }
        )
    vault_assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
    venue = {
        "insurance_fund_usd": levels["insurance_fund_usd"],
        "backstop_equity_usd": vault_assets,
        # ERC-4626 shares carry the asset's 6 decimals plus the vault's offset: USD per share.
        "backstop_share_price": (
            vault_assets / (supply / 10**VAULT_SHARE_DECIMALS) if supply else math.nan
        ),
        "transactions": transactions,
        "mm_vault_equity_usd": _mm_vault_equity(levels),
    }
    accounts = len({e["account"] for e in liquidations})
    return rows + [venue_total_row(rows, accounts_liquidated=accounts, venue=venue)]


def _mm_vault_size(levels: dict[str, Any], m: int) -> float | None:
    """The market-making vault's signed size in market ``m`` (base units); None without one."""
    equity = levels.get("mm_vault_equity_usd")
    if equity is None or math.isnan(equity):
        return None
    return float(levels["mm_vault_size_base"][m])


def _mm_vault_equity(levels: dict[str, Any]) -> float | None:
    """The market-making vault's cross equity (USD); None without one."""
    equity = levels.get("mm_vault_equity_usd")
    return None if equity is None or math.isnan(equity) else float(equity)


def _mm_vault_size(levels: dict[str, Any], m: int) -> float | None:
    equity = levels.get("mm_vault_equity_usd")
    if equity is None or math.isnan(equity):
        return None
    return float(levels["mm_vault_size_base"][m])


def _mm_vault_equity(levels: dict[str, Any]) -> float | None:
    equity = levels.get("mm_vault_equity_usd")
    return None if equity is None or math.isnan(equity) else float(equity)


SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
KINDS = (*LIQUIDATION_KINDS, *ADL_KINDS, "bad_debt_final", "close", "open", "top_up",
         "insurance_payout", "adl_fill", "mm_vault_fill")  # fmt: skip


def _float(rng: np.random.Generator) -> float:
    """A float of both signs and many magnitudes, or a special (zeros, NaN, infinity)."""
    if rng.random() < 0.15:
        return float(rng.choice([0.0, -0.0, np.nan, np.inf, 1e-300, 3.0]))
    return float(rng.normal() * 10.0 ** rng.integers(-8, 12))


def _event(rng: np.random.Generator, m: int) -> dict[str, Any]:
    kind = str(rng.choice(KINDS))
    maybe = lambda: None if rng.random() < 0.2 else _float(rng)  # noqa: E731
    detail = json.dumps({"overshoot_usd": _float(rng)}) if kind in ADL_KINDS else ""
    return {
        "step": 1,
        "kind": kind,
        "market": None if rng.random() < 0.05 else SYMBOLS[int(rng.integers(0, m))],
        "account": f"0x{int(rng.integers(0, 6)):040x}",
        "side": str(rng.choice(["long", "short"])) if rng.random() < 0.9 else None,
        "size_base": maybe(),
        "price_usd": maybe(),
        "notional_usd": maybe(),
        "amount_usd": maybe() if kind != "bad_debt_final" else _float(rng),
        "detail": detail,
    }


def _levels(rng: np.random.Generator, m: int) -> dict[str, Any]:
    arrays = ("index_usd", "mark_usd", "amm_price_usd", "oi_long_base", "oi_short_base",
              "funding_rate_per_hour", "bad_debt_usd", "fees_cum_usd", "mm_vault_size_base")  # fmt: skip
    levels: dict[str, Any] = {k: np.array([_float(rng) for _ in range(m)]) for k in arrays}
    supply = int(rng.choice([0, 10**12, int(rng.integers(1, 10**15))]))
    levels.update(
        insurance_fund_usd=_float(rng),
        vault_assets_usd=_float(rng) if supply else 0.0,
        vault_supply=supply,
    )
    vault = rng.integers(0, 3)  # no key, NaN (no vault), an equity
    if vault:
        levels["mm_vault_equity_usd"] = np.nan if vault == 1 else _float(rng)
    return levels


def _same(got: Any, want: Any) -> bool:
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return math.copysign(1.0, got) == math.copysign(1.0, want) and (
            got == want or (math.isnan(got) and math.isnan(want))
        )
    return got == want


def test_step_rows_equal_the_old_form_on_drawn_steps():
    rng = np.random.default_rng(2612)
    for n in range(1_500):
        m = int(rng.integers(1, len(SYMBOLS) + 1))
        symbols = list(SYMBOLS[:m])
        levels = _levels(rng, m)
        events = [_event(rng, m) for _ in range(int(rng.integers(0, 3 if n % 3 else 40)))]
        args = (int(rng.integers(0, 2000)), 60, symbols, np.array([_float(rng) for _ in symbols]),
                levels, events, int(rng.integers(0, 50)))  # fmt: skip
        kwargs = {
            "previous_bad_debt_usd": np.array([_float(rng) for _ in symbols]),
            "previous_fees_usd": np.array([_float(rng) for _ in symbols]),
            "outside_usd": None if rng.random() < 0.3 else np.array([_float(rng) for _ in symbols]),
        }
        with np.errstate(all="ignore"):
            want = old_step_rows(*args, **kwargs)
            got = step_rows(*args, **kwargs)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert list(g) == list(w)
            for key in w:
                assert _same(g[key], w[key]), (n, key, g[key], w[key])
