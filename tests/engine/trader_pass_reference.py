"""The traders' compiled pass as session 28 left it (``simulator.engine.jit_rows.trader_pass``
at 7c5a400: the per-row terms in one scalar loop, the unit sums as a scatter, the decisions
over the deciding rows), kept verbatim as the reference the rewritten pass is held to
(tests/engine/test_trader_pass_kernel.py). Compiled here without the on-disk cache."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(error_model="numpy")
def _minimum(a, b):
    return a if (a <= b or a != a) else b


@numba.njit(error_model="numpy")
def _maximum(a, b):
    return a if (a >= b or a != a) else b


@numba.njit(error_model="numpy")
def trader_pass_reference(
    rows, deciders, rules, codes, count, side, size, equity_usd, maintenance_usd, read_price,
    has_funding, read_funding, has_scale, read_scale, collateral_in, entry_price, wallet_usd,
    oracle_price, funding_flat, margin_scale, equity, maintenance, notional,
):  # fmt: skip
    """Session 28's pass: the traders' phase in one call over the rows: :func:`row_carry` and :func:`estimate` at
    every row's market's oracle price (written into ``equity`` and ``maintenance``, one place
    per row), every row's notional ``size × price`` (into ``notional``), their sums per margin
    unit (each unit's rows added in row order from 0.0, as :func:`unit_sum`), then
    :func:`decide_rows` on the rows that can decide, with ``can_close`` the rows of a unit
    above maintenance (``unit equity > unit maintenance``) and ``can_top_up`` the rows not
    isolated. The per-row terms in one branch-free loop (vectorized: the same IEEE operations
    per element), the sums in another.

    ``rows``: (3, n) int64, every row's market, margin unit and behaviour; ``deciders``: the
    rows whose behaviour can act (take profit, stop loss, panic, and the top-up rows not
    isolated), ascending; ``rules``: (2, n), the book's threshold and top-up base
    (:func:`book_rules`). Returns two arrays and a count, so that one call boxes few objects:
    the floats (unit equity, unit maintenance and unit notional, ``count`` each, then the
    amounts of the top-up rows whose draw decides) and the rows (the closes, then those
    top-up rows; each part ascending), and the number of closes."""
    take_profit, stop_loss, top_up = codes[0], codes[1], codes[3]
    n = len(side)
    market, unit = rows[0], rows[1]
    if has_funding and has_scale:  # the engines' case
        for i in range(n):
            m = market[i]
            p = oracle_price[m]
            s = size[i]
            f = funding_flat[2 * m + (1 if side[i] < 0 else 0)]
            e = np.float64(side[i]) * s * (p - read_price[i]) + equity_usd[i]
            equity[i] = e - (f - read_funding[i]) * s
            mm = p / read_price[i] * maintenance_usd[i]
            maintenance[i] = mm * (margin_scale[m] / read_scale[i])
            notional[i] = s * p
    else:
        for i in range(n):
            m = market[i]
            p = oracle_price[m]
            s = size[i]
            e = np.float64(side[i]) * s * (p - read_price[i]) + equity_usd[i]
            if has_funding:
                e = e - (funding_flat[2 * m + (1 if side[i] < 0 else 0)] - read_funding[i]) * s
            equity[i] = e
            mm = p / read_price[i] * maintenance_usd[i]
            if has_scale:
                mm = mm * (margin_scale[m] / read_scale[i])
            maintenance[i] = mm
            notional[i] = s * p
    n_deciders = len(deciders)
    floats = np.zeros(3 * count + n_deciders)
    unit_equity = floats[:count]
    unit_maintenance = floats[count : 2 * count]
    unit_notional = floats[2 * count : 3 * count]
    amount = floats[3 * count :]
    for i in range(n):
        u = unit[i]
        unit_equity[u] += equity[i]
        unit_maintenance[u] += maintenance[i]
        unit_notional[u] += notional[i]
    close = np.empty(n_deciders, dtype=np.int64)
    drawn = np.empty(n_deciders, dtype=np.int64)
    n_close = 0
    n_drawn = 0
    for k in range(n_deciders):
        i = deciders[k]
        if not size[i] > 0:
            continue
        e = equity[i]
        mm = maintenance[i]
        b = rows[2, i]
        if b == top_up:
            add = _minimum(rules[1, i], wallet_usd[i])
            if e < rules[0, i] * mm and add >= 1.0:
                drawn[n_drawn] = i
                amount[n_drawn] = add
                n_drawn += 1
            continue
        if b == take_profit:
            c = collateral_in[i]
            wants = e - c >= rules[0, i] * c
        elif b == stop_loss:
            c = collateral_in[i]
            wants = -(e - c) >= rules[0, i] * c
        else:  # panic
            entry = entry_price[i]
            move = np.float64(side[i]) * (entry - oracle_price[rows[0, i]])
            wants = move / _maximum(entry, 1e-300) >= rules[0, i]
        if wants and e > mm:
            u = rows[1, i]
            if unit_equity[u] > unit_maintenance[u]:
                close[n_close] = i
                n_close += 1
    picked = np.empty(n_close + n_drawn, dtype=np.int64)
    picked[:n_close] = close[:n_close]
    picked[n_close:] = drawn[:n_drawn]
    return floats[: 3 * count + n_drawn], picked, n_close
