"""The per-step passes over the traders' rows and the margin units, compiled (numba): each
pass one tight loop in one dispatch instead of a dozen numpy calls over the book.

What is here, each called by the function that used to do it in numpy (whose signature and
callers are unchanged; the chain engine and the mirror both use them):

- :func:`row_carry` -- every row's side's funding index and its market's margin scale
  (:func:`simulator.engine.traders.row_carry`);
- :func:`estimate` -- every row's equity and maintenance carried to the new prices
  (:func:`simulator.agents.traders.estimate`);
- :func:`decide_rows` -- the traders' closes and the top-up rows whose draw decides
  (:func:`simulator.agents.traders.decide`; the draws stay in numpy), on the book's rules
  made once (:func:`book_rules`);
- :func:`trader_pass` -- the carry, its unit sums and the decisions in one pass
  (:func:`simulator.engine.traders.carried_decisions`), on the rows that can decide
  (:func:`decider_rows`, :func:`decider_kinds`, made once a run), the unit sums as running
  sums when every unit's rows follow one another (:func:`units_contiguous`, once a run);
  :func:`top_ups_within` -- the mirror's top-ups that the wallets pay, in order;
- :func:`unit_sum` and :func:`store_units` -- a per-row array summed per margin unit, and a
  health read of some units written into their rows' views
  (:class:`simulator.engine.margin.MarginUnits`);
- :func:`watch_rows`, :func:`liquidatable_since` (:func:`track_liquidatable` with its count),
  :func:`plan_rows`, :func:`unit_fractions`
  and :func:`deficit_bound_reached` -- the keepers' passes (:mod:`simulator.engine.keepers`,
  :mod:`simulator.agents.keepers`); :func:`keepers_pending`, :func:`keepers_watch` (a step
  that watches no unit: one vectorized count, :func:`_quiet_counts`, and no list) and
  :func:`read_candidates` -- the keepers' segment of a fast mirror step.

Each kernel is its numpy form's arithmetic term by term, in the same order per element, so
that the floats are the same to the bit: numba without ``fastmath`` neither fuses a multiply
and an add nor reorders a sum, and every sum here is in row order from 0.0 as
``np.bincount(weights=)`` adds. Division by zero gives inf / NaN as numpy does
(``error_model="numpy"``); NaN goes through ``minimum`` / ``maximum`` as numpy's. The numpy
forms are kept in the tests (``tests/engine/test_jit_rows.py``, ``tests/agents/...``) and each
kernel is held to its form on drawn inputs there.

Conventions: float64 / int64 arrays in and out (int8 sides and behaviours, bool masks as
given); an argument that may be one value for all rows or one per row is an array read at
``i * step`` (``step`` 0: one value); an optional array is an empty array with a flag False.
One module on purpose: numba's on-disk cache is invalidated by an edit of the file that
defines a compiled function only, so the kernels call no compiled function from elsewhere.
"""

from __future__ import annotations

import numpy as np

from simulator.jit import inline_numpy_kernel as _inline
from simulator.jit import numpy_kernel as _jit


@_jit
def _minimum(a, b):
    """``np.minimum`` of two floats as numpy's loop takes it: ``a`` when ``a <= b`` or ``a`` is
    NaN, else ``b`` (NaN if either is)."""
    return a if (a <= b or a != a) else b


@_jit
def _maximum(a, b):
    """``np.maximum`` of two floats as numpy's loop takes it: ``a`` when ``a >= b`` or ``a`` is
    NaN, else ``b`` (NaN if either is)."""
    return a if (a >= b or a != a) else b


@_jit
def _clip(x, low, high):
    """``np.clip`` of a float as numpy's takes it: ``min(max(x, low), high)``, each keeping a
    NaN first operand, else the strict comparison's pick (``x > low``, ``x < high``)."""
    x = x if (x != x or x > low) else low
    return x if (x != x or x < high) else high


_MAX_FLOAT = np.finfo(np.float64).max


@_jit
def _nan_to_num(x):
    """``np.nan_to_num`` of a float: NaN to 0, ±inf to the largest finite float of its sign."""
    if x != x:
        return 0.0
    if x == np.inf:
        return _MAX_FLOAT
    if x == -np.inf:
        return -_MAX_FLOAT
    return x


# -- the traders' rows ------------------------------------------------------------------------


@_jit
def row_carry(market, side, funding_flat, margin_scale):
    """Every row's side's funding index (``funding_flat``: the (M, 2) index read flat, longs
    then shorts) and its market's margin scale."""
    n = len(market)
    funding = np.empty(n)
    scale = np.empty(n)
    for i in range(n):
        m = market[i]
        funding[i] = funding_flat[2 * m + (1 if side[i] < 0 else 0)]
        scale[i] = margin_scale[m]
    return funding, scale


@_jit
def estimate(
    side, size, equity_usd, maintenance_usd, read_price, price, per_row_price,
    has_funding, funding, read_funding, has_scale, scale, read_scale,
):  # fmt: skip
    """Equity ``equity + side·size·(price − read) − (funding − read funding)·size`` and
    maintenance ``price / read · maintenance · scale / read scale`` per row (the funding and
    scale terms with their flags; ``price`` one per row, or ``price[0]`` for all). The
    engines' case (per-row price, funding and scale) in one loop, the others a loop per term;
    each loop branch-free, so that it is vectorized."""
    n = len(side)
    equity = np.empty(n)
    maintenance = np.empty(n)
    if per_row_price and has_funding and has_scale:  # the engines' case: one loop
        for i in range(n):
            p = price[i]
            e = np.float64(side[i]) * size[i] * (p - read_price[i]) + equity_usd[i]
            equity[i] = e - (funding[i] - read_funding[i]) * size[i]
            m = p / read_price[i] * maintenance_usd[i]
            maintenance[i] = m * (scale[i] / read_scale[i])
        return equity, maintenance
    if per_row_price:
        for i in range(n):
            p = price[i]
            equity[i] = np.float64(side[i]) * size[i] * (p - read_price[i]) + equity_usd[i]
            maintenance[i] = p / read_price[i] * maintenance_usd[i]
    else:
        p = price[0]
        for i in range(n):
            equity[i] = np.float64(side[i]) * size[i] * (p - read_price[i]) + equity_usd[i]
            maintenance[i] = p / read_price[i] * maintenance_usd[i]
    if has_funding:
        for i in range(n):
            equity[i] = equity[i] - (funding[i] - read_funding[i]) * size[i]
    if has_scale:
        for i in range(n):
            maintenance[i] = maintenance[i] * (scale[i] / read_scale[i])
    return equity, maintenance


@_jit
def trader_pass(
    rows, deciders, rules, codes, count, contiguous, side, size, equity_usd, maintenance_usd,
    read_price, has_funding, read_funding, has_scale, read_scale, collateral_in, entry_price,
    wallet_usd, oracle_price, funding, margin_scale, work, flags, equity, maintenance,
):  # fmt: skip
    """The traders' phase in one call over the rows: :func:`row_carry` and :func:`estimate` at
    every row's market's oracle price (written into ``equity`` and ``maintenance``, one place
    per row), every row's notional ``size × price``, their sums per margin unit (each unit's
    rows added in row order from 0.0, as :func:`unit_sum`), then :func:`decide_rows` on the
    rows that can decide, with ``can_close`` the rows of a unit above maintenance (``unit
    equity > unit maintenance``) and ``can_top_up`` the rows not isolated.

    ``rows``: (4, n) int64, every row's market, margin unit, behaviour and what it can decide
    (:func:`decider_kinds`); ``deciders``: the rows that can decide (kind > 0), ascending;
    ``rules``: (2, n), the book's threshold and top-up base (:func:`book_rules`);
    ``contiguous``: whether every unit has rows and they follow one another
    (:func:`units_contiguous`: a run's book's do); ``funding``: (M, 2) the markets' funding
    indices, longs then shorts; ``work`` ((3, n) float64) and ``flags`` (n int8): the run's
    scratch, overwritten.

    The engines' case (funding and scale, units contiguous) runs in three loops: the
    markets' prices, funding indices and scales gathered per row (:func:`_gather_carry`;
    no scale gathered nor divided when every market's scale and every row's read scale is
    1.0, :func:`_scales_unit`: the maintenance × 1.0 is the maintenance, to the bit);
    every per-row term and each open row's decision before its unit's test in one
    branch-free loop (:func:`_carry_gathered`, vectorized: the same IEEE operations per
    element); then the unit sums as running sums (a unit's rows in row order from 0.0: the
    same floats as a scatter; :func:`_unit_sums`, or :func:`_scan_units` with the flagged
    rows). Any other case: the per-row terms in one loop, the sums as a scatter and the
    decisions over ``deciders`` (:func:`_sums_and_decisions`). Returns two arrays and a
    count, so that one call boxes few objects: the floats (unit equity, unit maintenance and
    unit notional, ``count`` each, every row's notional, then the amounts of the top-up rows
    whose draw decides) and the rows (the closes, then those top-up rows; each part
    ascending; None when the engines' path finds no row that decides), and the number of
    closes."""
    n = len(side)
    if has_funding and has_scale and contiguous:
        floats = np.empty(3 * count + 2 * n)
        notional = floats[3 * count : 3 * count + n]
        # every scale / read scale 1.0: the scales neither gathered nor divided
        scaled = not _scales_unit(margin_scale, read_scale)
        _gather_carry(rows[0], side, oracle_price, funding, margin_scale, work, scaled)
        flagged = _carry_gathered(
            side, size, equity_usd, maintenance_usd, read_price, read_funding, read_scale,
            collateral_in, entry_price, wallet_usd, rows[3], rules[0], rules[1], work, flags,
            equity, maintenance, notional, scaled,
        )  # fmt: skip
        if flagged == 0:  # most steps: no row decides, only the sums (no rows boxed)
            _unit_sums(rows[1], count, equity, maintenance, notional, floats)
            return floats[: 3 * count + n], None, 0
        return _scan_units(rows[1], count, equity, maintenance, notional, flags, rules[1],
                           wallet_usd, floats)  # fmt: skip
    floats = np.zeros(3 * count + n + len(deciders))
    notional = floats[3 * count : 3 * count + n]
    market = rows[0]
    for i in range(n):
        m = market[i]
        p = oracle_price[m]
        s = size[i]
        e = np.float64(side[i]) * s * (p - read_price[i]) + equity_usd[i]
        if has_funding:
            e = e - (funding[m, 1 if side[i] < 0 else 0] - read_funding[i]) * s
        equity[i] = e
        mm = p / read_price[i] * maintenance_usd[i]
        if has_scale:
            mm = mm * (margin_scale[m] / read_scale[i])
        maintenance[i] = mm
        notional[i] = s * p
    return _sums_and_decisions(
        rows, deciders, rules, codes, count, side, size, collateral_in, entry_price, wallet_usd,
        oracle_price, equity, maintenance, notional, floats,
    )  # fmt: skip


@_jit
def decider_rows(behaviour, codes, isolated):
    """The rows :func:`trader_pass` decides on: the take-profit, stop-loss and panic rows, and
    the top-up rows not ``isolated`` (ascending)."""
    take_profit, stop_loss, panic, top_up = codes[0], codes[1], codes[2], codes[3]
    n = len(behaviour)
    out = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        b = behaviour[i]
        if b == take_profit or b == stop_loss or b == panic or (b == top_up and not isolated[i]):
            out[k] = i
            k += 1
    return out[:k].copy()


@_jit
def book_rules(behaviour, codes, take_profit_fraction, stop_loss_fraction, panic_drawdown,
               top_up_margin_ratio, top_up_fraction, collateral_usd):  # fmt: skip
    """Each row's rule threshold (its behaviour's: the take-profit or stop-loss fraction, the
    panic drawdown, the top-up margin ratio; 0 for the others) and its top-up before the
    wallet's cap (``top_up_fraction × collateral_usd``, the same float as computed at the
    step; 0 for the others): what :func:`decide_rows` reads of a fixed book, in two arrays."""
    take_profit, stop_loss, panic, top_up = codes[0], codes[1], codes[2], codes[3]
    n = len(behaviour)
    threshold = np.zeros(n)
    top_up_base = np.zeros(n)
    for i in range(n):
        b = behaviour[i]
        if b == take_profit:
            threshold[i] = take_profit_fraction[i]
        elif b == stop_loss:
            threshold[i] = stop_loss_fraction[i]
        elif b == panic:
            threshold[i] = panic_drawdown[i]
        elif b == top_up:
            threshold[i] = top_up_margin_ratio[i]
            top_up_base[i] = top_up_fraction[i] * collateral_usd[i]
    return threshold, top_up_base


@_jit
def decide_rows(
    behaviour, codes, size, has_can_close, can_close, has_can_top_up, can_top_up,
    equity, maintenance, collateral_in, threshold, entry_price, side, price, per_row_price,
    top_up_base, wallet_usd,
):  # fmt: skip
    """The open rows that close (ascending) and the open top-up rows under their margin ratio
    with at least 1 USD to add (ascending; the rows whose draw decides) with that amount.

    ``codes``: the behaviours' codes (take profit, stop loss, panic, top up); ``threshold``
    and ``top_up_base``: the book's rules (:func:`book_rules`). A row closes when it may
    (``can_close``), its behaviour's rule says so (take profit: ``equity − collateral >=
    fraction × collateral``; stop loss: ``−(equity − collateral) >= fraction × collateral``;
    panic: ``side × (entry − price) / max(entry, 1e-300) >= drawdown``; ``price`` one per row,
    or ``price[0]`` for all) and its equity is above maintenance. A top-up row may add
    (``can_top_up``) ``min(top-up base, wallet)``, when its equity is under ``ratio ×
    maintenance``."""
    take_profit, stop_loss, panic, top_up = codes[0], codes[1], codes[2], codes[3]
    n = len(size)
    close = np.empty(n, dtype=np.int64)
    drawn = np.empty(n, dtype=np.int64)
    amount = np.empty(n)
    n_close = 0
    n_drawn = 0
    for i in range(n):
        if not size[i] > 0:
            continue
        b = behaviour[i]
        if b == top_up:
            if has_can_top_up and not can_top_up[i]:
                continue
            add = _minimum(top_up_base[i], wallet_usd[i])
            if equity[i] < threshold[i] * maintenance[i] and add >= 1.0:
                drawn[n_drawn] = i
                amount[n_drawn] = add
                n_drawn += 1
            continue
        if has_can_close and not can_close[i]:
            continue
        if b == take_profit:
            c = collateral_in[i]
            wants = equity[i] - c >= threshold[i] * c
        elif b == stop_loss:
            c = collateral_in[i]
            wants = -(equity[i] - c) >= threshold[i] * c
        elif b == panic:
            entry = entry_price[i]
            move = np.float64(side[i]) * (entry - price[i if per_row_price else 0])
            wants = move / _maximum(entry, 1e-300) >= threshold[i]
        else:
            continue
        if wants and equity[i] > maintenance[i]:
            close[n_close] = i
            n_close += 1
    return close[:n_close].copy(), drawn[:n_drawn].copy(), amount[:n_drawn].copy()


@_jit
def top_ups_within(account, units, wallet_units):
    """The top-ups (``units`` base units by ``account``, in block order) that a wallet pays:
    not 0 and at most what the account's wallet holds after the top-ups before it
    (``wallet_units``, int64, spent in place); the others revert (``ZeroAmount``,
    ``ERC20InsufficientBalance``)."""
    done = np.zeros(len(units), dtype=np.bool_)
    for k in range(len(units)):
        a = account[k]
        u = units[k]
        if u == 0 or u > wallet_units[a]:
            continue
        wallet_units[a] -= u
        done[k] = True
    return done


@_jit
def _scales_unit(margin_scale, read_scale):
    """Whether every market's margin scale and every row's read scale are 1.0 (the margin
    scale's rest: no controller moved it): each row's ``scale / read scale`` is then exactly
    1.0 and ``maintenance × 1.0`` is ``maintenance``, to the bit (NaN and -0.0 included), so
    :func:`trader_pass` neither gathers the scales nor divides them. The rows' test is one
    vectorized reduction."""
    for m in range(margin_scale.shape[0]):
        if margin_scale[m] != 1.0:
            return False
    unit = True
    for i in range(read_scale.shape[0]):
        unit &= read_scale[i] == 1.0
    return unit


@_jit
def _gather_carry(market, side, oracle_price, funding, margin_scale, work, with_scale):
    """Every row's market's oracle price, its side's funding index and, ``with_scale``, its
    market's margin scale, into ``work``'s three rows."""
    price, index, scale = work[0], work[1], work[2]
    if with_scale:
        for i in range(len(side)):
            m = market[i]
            price[i] = oracle_price[m]
            index[i] = funding[m, 1 if side[i] < 0 else 0]
            scale[i] = margin_scale[m]
    else:
        for i in range(len(side)):
            m = market[i]
            price[i] = oracle_price[m]
            index[i] = funding[m, 1 if side[i] < 0 else 0]


@_jit
def _carry_gathered(
    side, size, equity_usd, maintenance_usd, read_price, read_funding, read_scale,
    collateral_in, entry_price, wallet_usd, kind, threshold, top_up_base, work, flags,
    equity, maintenance, notional, with_scale,
):  # fmt: skip
    """The engines' per-row terms on the gathered prices, funding indices and scales
    (``work``; without ``with_scale`` the maintenance is not scaled: every scale and read
    scale 1.0, :func:`_scales_unit`), and every open row's decision before its unit's test
    (``flags``: 1 wants to close and is above maintenance, 2 a top-up row under its ratio
    with at least 1 USD to add, else 0), each a select, so that the loop is vectorized
    (called with a literal ``with_scale``: one loop each); returns how many rows it
    flags."""
    price, funding, scale = work[0], work[1], work[2]
    flagged = 0
    for i in range(len(side)):
        p = price[i]
        s = size[i]
        sd = np.float64(side[i])
        e = sd * s * (p - read_price[i]) + equity_usd[i]
        e = e - (funding[i] - read_funding[i]) * s
        equity[i] = e
        mm = p / read_price[i] * maintenance_usd[i]
        if with_scale:
            mm = mm * (scale[i] / read_scale[i])
        maintenance[i] = mm
        notional[i] = s * p
        k = kind[i]
        t = threshold[i]
        c = collateral_in[i]
        d = e - c
        entry = entry_price[i]
        floor = entry if (entry >= 1e-300 or entry != entry) else 1e-300
        wants = (
            ((k == 1) & (d >= t * c))
            | ((k == 2) & (-d >= t * c))
            | ((k == 3) & (sd * (entry - p) / floor >= t))
        )
        base = top_up_base[i]
        w = wallet_usd[i]
        add = base if (base <= w or base != base) else w
        top_up = (k == 4) & (e < t * mm) & (add >= 1.0)
        flag = np.int8(1) if (wants & (e > mm)) else np.int8(0)
        flag = np.int8(2) if top_up else flag
        flag = flag if s > 0 else np.int8(0)
        flags[i] = flag
        flagged += flag != 0
    return flagged


@_jit
def _scan_units(
    unit, count, equity, maintenance, notional, flags, top_up_base, wallet_usd, floats
):  # fmt: skip
    """:func:`trader_pass`'s outputs when every unit has rows and they follow one another, in
    ``floats`` (see there): each unit's sums as running sums (its rows in row order from
    0.0, each written once), the rows flagged 1 kept as closes when their unit ends above
    maintenance, the rows flagged 2 with their amounts."""
    n = len(unit)
    amount = floats[3 * count + n :]
    close = np.empty(n, dtype=np.int64)
    drawn = np.empty(n, dtype=np.int64)
    n_close = 0
    n_drawn = 0
    first_close = 0  # the current unit's first close
    current = unit[0] if n else 0
    a = 0.0
    b = 0.0
    c = 0.0
    for i in range(n):
        u = unit[i]
        if u != current:
            floats[current] = a
            floats[count + current] = b
            floats[2 * count + current] = c
            if not a > b:
                n_close = first_close
            first_close = n_close
            a = 0.0
            b = 0.0
            c = 0.0
            current = u
        a += equity[i]
        b += maintenance[i]
        c += notional[i]
        f = flags[i]
        if f != 0:
            if f == 1:
                close[n_close] = i
                n_close += 1
            else:
                drawn[n_drawn] = i
                amount[n_drawn] = _minimum(top_up_base[i], wallet_usd[i])
                n_drawn += 1
    if n:
        floats[current] = a
        floats[count + current] = b
        floats[2 * count + current] = c
        if not a > b:
            n_close = first_close
    picked = np.empty(n_close + n_drawn, dtype=np.int64)
    picked[:n_close] = close[:n_close]
    picked[n_close:] = drawn[:n_drawn]
    return floats[: 3 * count + n + n_drawn], picked, n_close


@_jit
def _unit_sums(unit, count, equity, maintenance, notional, floats):
    """The three per-row arrays' sums per unit into ``floats``' first ``3 × count`` places, as
    running sums, when every unit has rows and they follow one another (each unit's rows in
    row order from 0.0, each sum written once)."""
    n = len(unit)
    current = unit[0] if n else 0
    a = 0.0
    b = 0.0
    c = 0.0
    for i in range(n):
        u = unit[i]
        if u != current:
            floats[current] = a
            floats[count + current] = b
            floats[2 * count + current] = c
            a = 0.0
            b = 0.0
            c = 0.0
            current = u
        a += equity[i]
        b += maintenance[i]
        c += notional[i]
    if n:
        floats[current] = a
        floats[count + current] = b
        floats[2 * count + current] = c


@_jit
def _sums_and_decisions(
    rows, deciders, rules, codes, count, side, size, collateral_in, entry_price, wallet_usd,
    oracle_price, equity, maintenance, notional, floats,
):  # fmt: skip
    """:func:`trader_pass`'s outputs in any case, in ``floats`` (zeros; see there): the unit
    sums as a scatter (row order from 0.0), then :func:`decide_rows`'s rules over
    ``deciders``."""
    take_profit, stop_loss, top_up = codes[0], codes[1], codes[3]
    n = len(side)
    unit = rows[1]
    n_deciders = len(deciders)
    unit_equity = floats[:count]
    unit_maintenance = floats[count : 2 * count]
    unit_notional = floats[2 * count : 3 * count]
    amount = floats[3 * count + n :]
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
    return floats[: 3 * count + n + n_drawn], picked, n_close


@_jit
def decider_kinds(behaviour, codes, isolated):
    """What each row can decide, for :func:`trader_pass`: 1 take profit, 2 stop loss, 3
    panic, 4 top up (a row not ``isolated``), 0 nothing."""
    take_profit, stop_loss, panic, top_up = codes[0], codes[1], codes[2], codes[3]
    n = len(behaviour)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        b = behaviour[i]
        if b == take_profit:
            out[i] = 1
        elif b == stop_loss:
            out[i] = 2
        elif b == panic:
            out[i] = 3
        elif b == top_up and not isolated[i]:
            out[i] = 4
    return out


@_jit
def units_contiguous(unit, count):
    """Whether the units ``0 .. count - 1`` each have rows and each unit's rows follow one
    another in row order (each unit one run): :func:`trader_pass` then sums them as running
    sums."""
    n = len(unit)
    seen = np.zeros(count, dtype=np.bool_)
    runs = 0
    for i in range(n):
        u = unit[i]
        if u < 0 or u >= count:
            return False
        if i > 0 and u == unit[i - 1]:
            continue
        if seen[u]:
            return False
        seen[u] = True
        runs += 1
    return runs == count


# -- the margin units -------------------------------------------------------------------------


@_jit
def unit_sum(unit_of_row, per_row, count):
    """``np.bincount(unit_of_row, weights=per_row, minlength=count)``: each unit's rows added
    in row order from 0.0."""
    out = np.zeros(count)
    for i in range(len(unit_of_row)):
        out[unit_of_row[i]] += per_row[i]
    return out


@_inline
def _store_unit(
    u, unit_equity, unit_maintenance, rows_by_unit, unit_start, size, side, entry_price,
    collateral_in, market_of_row, prices, has_fraction, maintenance_fraction, equity_out,
    maintenance_out, read_price_out, has_funding, funding, read_funding_out, has_scale,
    margin_scale, read_scale_out,
):  # fmt: skip
    """Unit ``u``'s health read (``unit_equity``, ``unit_maintenance``: USD) written into its
    rows' views (:func:`store_units`' formulas; ``funding``: (M, 2), longs then shorts); the
    one body of :func:`store_units` and :func:`_store_distinct`."""
    first, last = unit_start[u], unit_start[u + 1]
    pnl_sum = 0.0
    weight_sum = 0.0
    collateral_sum = 0.0
    for j in range(first, last):
        r = rows_by_unit[j]
        m = market_of_row[r]
        price = prices[m]
        s = size[r]
        pnl = np.float64(side[r]) * s * (price - entry_price[r]) if s > 0 else 0.0
        weight = s * price
        if has_fraction:
            weight = weight * maintenance_fraction[m]
        pnl_sum += pnl
        weight_sum += weight
        collateral_sum += collateral_in[r]
    rows_in_unit = np.float64(last - first)
    eq_u, mm_u = unit_equity, unit_maintenance
    for j in range(first, last):
        r = rows_by_unit[j]
        m = market_of_row[r]
        price = prices[m]
        s = size[r]
        pnl = np.float64(side[r]) * s * (price - entry_price[r]) if s > 0 else 0.0
        if collateral_sum > 0:
            share = collateral_in[r] / collateral_sum
        else:
            share = 1.0 / rows_in_unit
        equity_out[r] = share * (eq_u - pnl_sum) + pnl
        if weight_sum > 0:
            weight = s * price
            if has_fraction:
                weight = weight * maintenance_fraction[m]
            maintenance_out[r] = mm_u * weight / weight_sum
        else:
            maintenance_out[r] = share * mm_u
        read_price_out[r] = price
        if has_funding:
            read_funding_out[r] = funding[m, 1 if side[r] < 0 else 0]
        if has_scale:
            read_scale_out[r] = margin_scale[m]


@_jit
def store_units(
    units, equity, maintenance, count, rows_by_unit, unit_start,
    size, side, entry_price, collateral_in, market_of_row, prices,
    has_fraction, maintenance_fraction,
    equity_out, maintenance_out, read_price_out,
    has_funding, funding_flat, read_funding_out, has_scale, margin_scale, read_scale_out,
):  # fmt: skip
    """Write the health read of ``units`` (``equity``, ``maintenance``: USD per place in
    ``units``; a unit given twice takes its last place) into their rows' views, each row its
    share (:class:`simulator.engine.margin.MarginUnits`): ``share × (unit equity − Σ PnL) +
    PnL`` and the unit's maintenance × the row's weight / Σ weights (``share ×`` it when the
    weights sum to 0), ``share`` the row's collateral over the unit's (1 / rows when that is
    0); the read price, and the funding index and margin scale at the read (with their flags).
    ``rows_by_unit`` / ``unit_start``: every unit's rows, ascending (the sums' order). False,
    with nothing written, when a unit is not one of the ``count``."""
    funding = funding_flat.reshape(-1, 2)
    for k in range(len(units)):
        if units[k] < 0 or units[k] >= count:
            return False
    slot = np.full(count, -1, dtype=np.int64)
    for k in range(len(units)):
        slot[units[k]] = k
    for k in range(len(units)):
        u = units[k]
        if slot[u] != k:  # given again later: that place counts
            continue
        _store_unit(
            u, equity[k], maintenance[k], rows_by_unit, unit_start, size, side, entry_price,
            collateral_in, market_of_row, prices, has_fraction, maintenance_fraction, equity_out,
            maintenance_out, read_price_out, has_funding, funding, read_funding_out, has_scale,
            margin_scale, read_scale_out,
        )  # fmt: skip
    return True


# -- the keepers ------------------------------------------------------------------------------


@_jit
def watch_rows(eq, mm, notional, since, everyone, ratio):
    """The units with a position (``notional > 0``): all of them when ``everyone``, else
    those with ``eq < ratio × mm`` or liquidatable already (``since >= 0``); ascending."""
    n = len(notional)
    out = np.empty(n, dtype=np.int64)
    k = 0
    for u in range(n):  # branch-free: every unit written, the count moved by the test
        out[k] = u
        k += (notional[u] > 0) & (everyone | (eq[u] < ratio * mm[u]) | (since[u] >= 0))
    return out[:k].copy()


@_jit
def liquidatable_since(since, eq, mm, notional, step):
    """``where(notional > 0 & eq < mm, where(since >= 0, since, step), -1)`` (``since``'s
    dtype)."""
    out = np.empty_like(since)
    for u in range(len(since)):
        if notional[u] > 0 and eq[u] < mm[u]:
            out[u] = since[u] if since[u] >= 0 else step
        else:
            out[u] = -1
    return out


@_jit
def track_liquidatable(since, eq, mm, notional, step):
    """:func:`liquidatable_since` and how many units it marks (``>= 0``): the keepers have no
    call to plan in a block where none is."""
    out = np.empty_like(since)
    marked = 0
    for u in range(len(since)):  # branch-free (selects)
        s = since[u]
        started = s if s >= 0 else step
        out[u] = started if (notional[u] > 0) & (eq[u] < mm[u]) else -1
        marked += out[u] >= 0
    return out, marked


@_jit
def plan_rows(
    eq, mm, notional, since, step, capacity, delay, reward, reward_step, gas_cost_usd,
    min_profit_usd, has_backstop, fraction, fraction_step,
):  # fmt: skip
    """The keepers' choice (:func:`simulator.agents.keepers.plan_liquidations`): the units
    under maintenance with a position, liquidatable for ``delay`` steps, whose reward (``0``
    or less: no threshold) pays the gas and the minimum profit; largest notional first (ties
    by index), the first ``capacity`` (a Python slice's bound); split into takeovers (``eq <
    fraction × mm``, when ``has_backstop``) and liquidations."""
    n = len(eq)
    candidates = np.empty(n, dtype=np.int64)
    k = 0
    for u in range(n):
        # Liquidatable for long enough first: few units are, and the test reads one array.
        if not (since[u] >= 0 and step - since[u] >= delay):
            continue
        if not (notional[u] > 0 and eq[u] < mm[u]):
            continue
        r = reward[u * reward_step]
        if r <= 0 or notional[u] * r - gas_cost_usd >= min_profit_usd:
            candidates[k] = u
            k += 1
    key = np.empty(k)
    for j in range(k):
        key[j] = -notional[candidates[j]]
    order = np.argsort(key, kind="mergesort")  # stable: ties keep the index order
    take = capacity if capacity >= 0 else max(k + capacity, 0)
    take = min(take, k)
    chosen = np.empty(take, dtype=np.int64)
    for j in range(take):
        chosen[j] = candidates[order[j]]
    if not has_backstop:
        return np.empty(0, dtype=np.int64), chosen
    deep = np.empty(take, dtype=np.bool_)
    n_deep = 0
    for j in range(take):
        u = chosen[j]
        deep[j] = eq[u] < fraction[u * fraction_step] * mm[u]
        n_deep += deep[j]
    backstop = np.empty(n_deep, dtype=np.int64)
    liquidate = np.empty(take - n_deep, dtype=np.int64)
    a = 0
    b = 0
    for j in range(take):
        if deep[j]:
            backstop[a] = chosen[j]
            a += 1
        else:
            liquidate[b] = chosen[j]
            b += 1
    return backstop, liquidate


@_jit
def unit_fractions(
    unit_of_row, market, notional_row, count, has_total, total_in, reward_fraction,
    has_backstop, backstop_fraction, isolated,
):  # fmt: skip
    """Per unit: the notional-weighted mean of its rows' markets' keeper reward fraction and,
    with ``has_backstop``, of their backstop fraction (NaN for an isolated unit); the weights'
    sum is ``total_in`` when ``has_total``, else summed here (every sum in row order)."""
    reward_sum = np.zeros(count)
    backstop_sum = np.zeros(count)
    total = total_in if has_total else np.zeros(count)
    for i in range(len(unit_of_row)):
        u = unit_of_row[i]
        m = market[i]
        if not has_total:
            total[u] += notional_row[i]
        reward_sum[u] += notional_row[i] * reward_fraction[m]
        if has_backstop:
            backstop_sum[u] += notional_row[i] * backstop_fraction[m]
    reward = np.empty(count)
    backstop = np.empty(count if has_backstop else 0)
    for u in range(count):
        safe = total[u] if total[u] > 0 else 1.0
        reward[u] = reward_sum[u] / safe
        if has_backstop:
            backstop[u] = np.nan if isolated[u] else backstop_sum[u] / safe
    return reward, backstop


@_jit
def deficit_bound_reached(
    units, count, rows_by_unit, unit_start, unit_of_row, size, side, market, price, skew_scale,
    band, skew0, eq, mm, confirm_band,
):  # fmt: skip
    """Whether some unit of ``units`` has ``eq <= bound + confirm_band × |mm|``, its bound the
    sum over its open rows (row order) of ``size × price × (adverse + 1e-6)``, ``adverse`` its
    market's largest adverse liquidation fill fraction for its side
    (:func:`simulator.engine.keepers.may_leave_deficit`): ``(3L − 2·skew0) / (2·skew scale)``
    for longs, ``(3S + 2·skew0) / (2·skew scale)`` for shorts (0 where the skew scale is not
    positive; ``skew0`` through ``np.nan_to_num``), clipped to ``[0, band]``; ``L`` / ``S``
    the long / short sizes of the units' open rows (row order). The units' rows are found through ``rows_by_unit`` /
    ``unit_start`` (:class:`simulator.engine.margin.MarginUnits`), then put in row order."""
    n_markets = len(skew_scale)
    chosen = np.zeros(count, dtype=np.bool_)
    n_rows = 0
    for k in range(len(units)):
        u = units[k]
        if not chosen[u]:
            chosen[u] = True
            n_rows += unit_start[u + 1] - unit_start[u]
    rows = np.empty(n_rows, dtype=np.int64)
    j = 0
    for k in range(len(units)):
        u = units[k]
        if chosen[u]:
            chosen[u] = False  # each unit's rows once
            for place in range(unit_start[u], unit_start[u + 1]):
                rows[j] = rows_by_unit[place]
                j += 1
    rows = np.sort(rows)
    longs = np.zeros(n_markets)
    shorts = np.zeros(n_markets)
    for r in rows:
        if size[r] > 0:
            m = market[r]
            longs[m] += size[r] * (1.0 if side[r] > 0 else 0.0)
            shorts[m] += size[r] * (1.0 if side[r] < 0 else 0.0)
    long_adverse = np.empty(n_markets)
    short_adverse = np.empty(n_markets)
    for m in range(n_markets):
        if skew_scale[m] > 0:
            skew = _nan_to_num(skew0[m])
            la = (3 * longs[m] - 2 * skew) / (2 * skew_scale[m])
            sa = (3 * shorts[m] + 2 * skew) / (2 * skew_scale[m])
        else:
            la = 0.0
            sa = 0.0
        long_adverse[m] = _clip(la, 0.0, band[m])
        short_adverse[m] = _clip(sa, 0.0, band[m])
    bound = np.zeros(count)
    for r in rows:
        if size[r] > 0:
            m = market[r]
            adverse = long_adverse[m] if side[r] > 0 else short_adverse[m]
            bound[unit_of_row[r]] += size[r] * price[m] * (adverse + 1e-6)
    for k in range(len(units)):
        u = units[k]
        if eq[u] <= bound[u] + confirm_band * abs(mm[u]):
            return True
    return False


def warm_up(book) -> None:
    """Load (or compile) every kernel for the argument types a run of ``book`` (a
    :class:`~simulator.population.TraderBook`) passes, on empty arrays: a kernel's first call
    with a type loads it from the on-disk cache (a few ms each), which belongs to a run's
    setup, not to its first step. The types are the book's arrays' (their dtype and whether
    they are read-only: each is a type of its own); the traders' state is writable arrays."""

    def of_book(name: str, dtype) -> np.ndarray:
        a = getattr(book, name, None)
        return np.asarray(a)[:0] if a is not None else np.zeros(0, dtype=dtype)

    f = np.zeros(0)
    i = np.zeros(0, dtype=np.int64)
    b = np.zeros(0, dtype=np.bool_)
    side = np.zeros(0, dtype=of_book("side", np.int8).dtype)  # the state's copy: writable
    market = of_book("market", np.int64)
    behaviour = of_book("behaviour", np.int8)
    tp, sl, panic = (of_book(k, np.float64) for k in
                     ("take_profit_fraction", "stop_loss_fraction", "panic_drawdown"))  # fmt: skip
    fraction, collateral, ratio = (of_book(k, np.float64) for k in
                                   ("top_up_fraction", "collateral_usd", "top_up_margin_ratio"))  # fmt: skip
    row_carry(market, side, f, f)
    estimate(side, f, f, f, f, f, True, True, f, f, True, f, f)
    book_rules(behaviour, i, tp, sl, panic, ratio, fraction, collateral)
    decide_rows(behaviour, i, f, True, b, True, b, f, f, f, f, f, side, f, True, f, f)
    rows = np.zeros((4, 0), dtype=np.int64)
    rules = np.zeros((2, 0))
    for flag in (True, False):
        trader_pass(rows, i, rules, i, 0, flag, side, f, f, f, f, flag, f, flag, f, f, f, f, f,
                    np.zeros((0, 2)), f, np.zeros((3, 0)), np.zeros(0, dtype=np.int8), f, f)  # fmt: skip
    decider_rows(behaviour, i, of_book("isolated", np.bool_))
    decider_kinds(behaviour, i, of_book("isolated", np.bool_))
    units_contiguous(i, 0)
    top_ups_within(i, i, i)
    unit_sum(i, f, 0)
    store_units(i, f, f, 0, i, i, f, side, f, f, market, f, True, f, f, f, f, True, f, f, True,
                f, f)  # fmt: skip
    watch_rows(f, f, f, i, False, 1.0)
    liquidatable_since(i, f, f, f, 0)
    track_liquidatable(i, f, f, f, 0)
    plan_rows(f, f, f, i, 0, 0, 0, f, 0, 0.0, 0.0, False, f, 0)
    unit_fractions(i, market, f, 0, True, f, f, False, f, b)
    deficit_bound_reached(i, 0, i, i, i, f, side, market, f, f, f, f, f, f, 0.0)


# -- the keepers' segment of a mirror step, fused (session 29) --------------------------------
# The health of margin units read from the fast venue's packed state and written into their
# rows' views, and the keepers' pending-block pass (watch list, units touched, units confirmed
# and read, the plan), each in one dispatch (:mod:`simulator.mirror.sim.keepers`). The health
# formulas are :mod:`simulator.mirror.sim.jit_calls`' (``cross_health``, ``isolated_health``
# and the helpers they call), copied term by term rather than called: a kernel here calls only
# kernels of this file (numba's on-disk cache). ``tests/mirror/test_keepers_fused.py`` holds
# them to the venue's kernels on drawn states. Where they read the packed arrays is an
# argument (``at``, :data:`simulator.mirror.sim.keepers.HEALTH_AT`), not a global.

_HEALTH_WAD = 1e18


@_jit
def _health_tiered(n, tiers, m, k, base, count):
    """``jit_calls._tiered``: a tiered fraction of notional ``n`` (WAD) less its deduction."""
    rate, deduction = base, 0.0
    for t in range(count):
        if n < tiers[m, k, t, 0]:
            break
        rate, deduction = tiers[m, k, t, 1], tiers[m, k, t, 2]
    gross = n * rate / _HEALTH_WAD
    return gross - deduction if gross > deduction else 0.0


@_jit
def _health_maintenance(params, tiers, m, size, price, at):
    """``jit_calls._maintenance``: a position's maintenance margin (WAD)."""
    if size == 0:
        return 0.0
    return _health_tiered(abs(size) * price / _HEALTH_WAD, tiers, m, at[6], params[m, at[4]],
                          int(params[m, at[5]]))  # fmt: skip


@_jit
def _health_upnl(size, entry, price):
    """``jit_calls._upnl``."""
    if size == 0:
        return 0.0
    move = price - entry
    return (move if size > 0 else -move) * abs(size) / _HEALTH_WAD


@_jit
def _health_owed(size, snapshot, long_index, short_index):
    """``jit_calls._owed``."""
    if size == 0:
        return 0.0
    return ((long_index if size > 0 else short_index) - snapshot) * abs(size) / _HEALTH_WAD


@_jit
def units_health(units, account, isolated, market, params, tiers, price, pf, isolated_flag,
                 collateral, fn, at):  # fmt: skip
    """(equity, maintenance) of margin ``units`` (USD, in ``units`` order) as
    :func:`simulator.mirror.sim.levels.unit_health` reads them from a fast venue: a cross
    account's ``healthOf`` (``jit_calls.cross_health``: its terms summed over the markets in
    order from 0.0, then added to its collateral), an isolated position's ``isolatedHealth``
    (``jit_calls.isolated_health``; 0, 0 where the position is not isolated), each WAD value
    ``/ 1e18``. ``account``, ``isolated``, ``market``: per unit; ``pf``: the venue's packed
    position floats (rows ``at[0..3]``: size, entry, snapshot, margin); ``fn``: the funding at
    now (rows: long index, short index); ``params``, ``tiers``: the venue's packed parameters
    (the maintenance base and tier count at columns ``at[4]``, ``at[5]``; ``at[6]`` the
    maintenance tiers' index)."""
    size, entry, snapshot, margin = pf[at[0]], pf[at[1]], pf[at[2]], pf[at[3]]
    li, si = fn[0], fn[1]
    n = price.shape[0]
    k = units.shape[0]
    eq_out = np.empty(k)
    mm_out = np.empty(k)
    for i in range(k):
        u = units[i]
        a = account[u]
        if isolated[u]:
            m = market[u]
            if isolated_flag[a, m]:
                s = size[a, m]
                pm = price[m]
                eq = (margin[a, m] + _health_upnl(s, entry[a, m], pm)) - _health_owed(
                    s, snapshot[a, m], li[m], si[m])  # fmt: skip
                mm = _health_maintenance(params, tiers, m, s, pm, at)
            else:
                eq, mm = 0.0, 0.0
        else:
            value, maint = 0.0, 0.0
            for j in range(n):
                s = size[a, j]
                v, x = 0.0, 0.0
                if s != 0 and not isolated_flag[a, j]:
                    pj = price[j]
                    v = _health_upnl(s, entry[a, j], pj) - _health_owed(s, snapshot[a, j], li[j],
                                                                        si[j])  # fmt: skip
                    x = _health_maintenance(params, tiers, j, s, pj, at)
                value += v
                maint += x
            eq = collateral[a] + value
            mm = maint
        eq_out[i] = eq / _HEALTH_WAD
        mm_out[i] = mm / _HEALTH_WAD
    return eq_out, mm_out


@_jit
def _store_distinct(units, equity, maintenance, unit_t, trader_t, view_t):
    """:func:`store_units` of distinct ``units`` (the keepers' lists: sorted and distinct),
    on :func:`_read_and_store`'s tuples: every unit's place counts, so no map of the last
    place of each unit (an array of every unit filled each call) is made, and the funding
    index is read from the (M, 2) array where :func:`store_units` reads it flat (the same
    value). The same floats, row by row, as :func:`store_units`; nothing written when a unit
    is not one of the units."""
    count = unit_t[3].shape[0]
    for k in range(units.shape[0]):
        if units[k] < 0 or units[k] >= count:
            return
    rows_by_unit, unit_start, market_of_row = unit_t[1], unit_t[2], unit_t[6]
    maintenance_fraction, flags = unit_t[7], unit_t[8]
    has_fraction, has_funding, has_scale = flags[0], flags[1], flags[2]
    size, side, entry_price, collateral_in = trader_t[0], trader_t[1], trader_t[2], trader_t[3]
    equity_out, maintenance_out, read_price_out = trader_t[4], trader_t[5], trader_t[6]
    read_funding_out, read_scale_out = trader_t[7], trader_t[8]
    prices, funding, margin_scale = view_t[0], view_t[1], view_t[2]
    for k in range(units.shape[0]):
        u = units[k]
        _store_unit(
            u, equity[k], maintenance[k], rows_by_unit, unit_start, size, side, entry_price,
            collateral_in, market_of_row, prices, has_fraction, maintenance_fraction, equity_out,
            maintenance_out, read_price_out, has_funding, funding, read_funding_out, has_scale,
            margin_scale, read_scale_out,
        )  # fmt: skip


@_jit
def _read_and_store(units, unit_t, trader_t, view_t, venue_t, fn, params, tiers):
    """:func:`units_health` of ``units`` (distinct: the keepers' lists) written into their
    rows' views (:func:`_store_distinct`, :func:`store_units`' writes); the reads returned.
    ``unit_t``: the margin units' arrays
    (unit of row, rows by unit, unit start, account, isolated, market, the book's market of
    each row, the markets' maintenance fractions or none, and the flags of :func:`store_units`
    (a maintenance fraction, the funding, the scale) as a bool array); ``trader_t``: the
    traders' state (size, side, entry, collateral put in; the views written: equity,
    maintenance, read price, read funding index, read margin scale); ``view_t``: the oracle
    prices, the engine's funding index (M, 2) and the margin scale; ``venue_t``: the venue's
    price, packed position floats, isolated flags, collateral and ``at``."""
    eq, mm = units_health(units, unit_t[3], unit_t[4], unit_t[5], params, tiers, venue_t[0],
                          venue_t[1], venue_t[2], venue_t[3], fn, venue_t[4])  # fmt: skip
    _store_distinct(units, eq, mm, unit_t, trader_t, view_t)
    return eq, mm


@_jit
def _touched_units(trade_rows, unit_of_row, buffer):
    """The margin units of ``trade_rows``, sorted and distinct, into ``buffer``'s first places
    (a new array when ``buffer`` is too short); returns (the array written, their count)."""
    n = trade_rows.shape[0]
    into = buffer if n <= buffer.shape[0] else np.empty(n, dtype=np.int64)
    for i in range(n):
        into[i] = unit_of_row[trade_rows[i]]
    into[:n].sort()
    k = 0
    for i in range(n):
        if k == 0 or into[i] != into[k - 1]:
            into[k] = into[i]
            k += 1
    return into, k


@_jit
def _unit_reward(u, rows_by_unit, unit_start, market, notional_row, reward_fraction, notional):
    """:func:`unit_fractions`' keeper reward of unit ``u`` alone (``has_total``: its weights'
    sum is ``notional[u]``): its rows' ``notional × fraction`` added in row order from 0.0
    (``rows_by_unit``'s order), over ``notional[u]`` (1.0 where that is not positive)."""
    total = 0.0
    for j in range(unit_start[u], unit_start[u + 1]):
        r = rows_by_unit[j]
        total += notional_row[r] * reward_fraction[market[r]]
    safe = notional[u] if notional[u] > 0 else 1.0
    return total / safe


@_jit
def _pending_lists(eq, mm, notional, notional_row, since, trade_rows, step, everyone, consts,
                   unit_of_row, market, isolated, fractions, out):  # fmt: skip
    """:func:`keepers_pending`'s lists before the read: the watch list, the touched units
    and the confirmed units written into ``out``'s rows 0, 1 and 3; returns (watch count,
    touched count, the confirmed units)."""
    ratio, band = consts[0], consts[1]
    refresh = int(consts[4])
    full = everyone or step % refresh == 0
    count = notional.shape[0]
    watch = out[0]
    n_watch = 0
    for u in range(count):  # watch_rows' loop: branch-free, every place written
        watch[n_watch] = u
        n_watch += (notional[u] > 0) & (full | (eq[u] < ratio * mm[u]) | (since[u] >= 0))
    into, n_touched = _touched_units(trade_rows, unit_of_row, out[1])
    if into.shape[0] != out.shape[1]:  # more calls than units: sorted in an array of its own
        out[1, :n_touched] = into[:n_touched]
    touched = out[1, :n_touched]
    if everyone or n_watch == 0:
        confirm = watch[:n_watch]
    else:
        has_backstop = consts[7] != 0
        backstop = fractions[1]
        if has_backstop:
            backstop = unit_fractions(unit_of_row, market, notional_row, count, False,
                                      notional, fractions[0], True, fractions[1], isolated)[1]  # fmt: skip
        keep = out[3]
        k = 0
        p = 0  # along the touched units, ascending as the watch list
        for i in range(n_watch):
            w = watch[i]
            while p < n_touched and touched[p] < w:
                p += 1
            near = abs(eq[w] - mm[w]) < band * mm[w]
            if has_backstop:
                near = near | (abs(eq[w] - backstop[w] * mm[w]) < band * mm[w])
            if near or (p < n_touched and touched[p] == w):
                keep[k] = w
                k += 1
        confirm = keep[:k]
    return n_watch, n_touched, confirm


@_jit
def _pending_plan(eq, mm, notional, notional_row, since, step, consts, rows_by_unit, unit_start,
                  market, reward_fraction, out):  # fmt: skip
    """:func:`keepers_pending`'s marks and plan after the read (``since`` written in place,
    the targets into ``out``'s row 2); returns the target count."""
    count = notional.shape[0]
    marked = 0
    for u in range(count):  # track_liquidatable's loop, in place (each place reads its own)
        started = since[u] if since[u] >= 0 else step
        since[u] = started if (notional[u] > 0) & (eq[u] < mm[u]) else -1
        marked += since[u] >= 0
    if not marked:
        return 0
    delay = int(consts[6])
    gas, min_profit = consts[2], consts[3]
    candidates = np.empty(marked, dtype=np.int64)  # plan_rows' candidates are marked units
    k = 0
    for u in range(count):  # plan_rows' tests in its order
        if not (since[u] >= 0 and step - since[u] >= delay):
            continue
        if not (notional[u] > 0 and eq[u] < mm[u]):
            continue
        r = _unit_reward(u, rows_by_unit, unit_start, market, notional_row, reward_fraction,
                         notional)  # fmt: skip
        if r <= 0 or notional[u] * r - gas >= min_profit:
            candidates[k] = u
            k += 1
    key = np.empty(k)
    for j in range(k):
        key[j] = -notional[candidates[j]]
    order = np.argsort(key, kind="mergesort")  # stable: ties keep the index order
    capacity = int(consts[5])
    take = capacity if capacity >= 0 else max(k + capacity, 0)
    take = min(take, k)
    for j in range(take):
        out[2, j] = candidates[order[j]]
    return take


@_jit
def keepers_pending(eq, mm, notional, notional_row, since, trade_rows, step, everyone, plan,
                    have_fn, consts, unit_t, fractions, trader_t, view_t, venue_t, fn, params,
                    tiers, out):  # fmt: skip
    """The keepers' pass on the pending block of a fast mirror step, in one dispatch:
    the watch list (:func:`watch_rows`: every open unit when ``everyone`` or a refresh step),
    the units touched by the block's calls so far (the units of ``trade_rows``, sorted and
    distinct), the units confirmed (:func:`simulator.engine.keepers.confirm_list`: the watch
    list's within the confirm band of maintenance or of the backstop threshold, or touched;
    all of it when ``everyone``), read (:func:`units_health`) and written into their rows'
    views and into ``eq`` / ``mm`` in place, then, when ``plan``, the liquidatable marks
    (:func:`track_liquidatable`'s loop, written into ``since`` in place) and the keepers'
    liquidations (:func:`plan_rows`' choice, each candidate's reward :func:`unit_fractions`'
    summed over its own rows only: :func:`_unit_reward`; the keepers' plan of
    :func:`simulator.mirror.sim.keepers.plan`).

    No allocation on a step without a read or a mark: the watch list, the touched units and
    the confirmed units are written into ``out`` (the touched units found in the confirm
    loop by a walk along both ascending lists, not through a mask of every unit).

    ``consts``: watch ratio, confirm band, gas cost (USD), minimum profit (USD), refresh
    period (steps), capacity, reaction delay (steps), whether there is a backstop threshold;
    ``fractions``: per market, the keeper reward and the backstop threshold (empty without);
    the rest as :func:`_read_and_store` takes them. ``out``: four int64 rows of at least one
    place per unit, into which the watch list, the touched units, the targets and the
    confirmed units are written (the first three's counts returned: no array is returned,
    each would cost the caller a Python call).
    Returns (status, watch count, touched count, confirmed count, target count): status 1
    when units are to be read and ``have_fn`` is False (nothing written but ``out``: call
    again with the funding at now, ``fn``), else 0."""
    n_watch, n_touched, confirm = _pending_lists(
        eq, mm, notional, notional_row, since, trade_rows, step, everyone, consts, unit_t[0],
        unit_t[6], unit_t[4], fractions, out,
    )  # fmt: skip
    n_confirm = confirm.shape[0]
    if n_confirm and not have_fn:
        return 1, n_watch, n_touched, n_confirm, 0
    if n_confirm:
        got_eq, got_mm = _read_and_store(confirm, unit_t, trader_t, view_t, venue_t, fn, params,
                                         tiers)  # fmt: skip
        for i in range(n_confirm):
            eq[confirm[i]] = got_eq[i]
            mm[confirm[i]] = got_mm[i]
    if not plan:
        return 0, n_watch, n_touched, n_confirm, 0
    take = _pending_plan(eq, mm, notional, notional_row, since, step, consts, unit_t[1],
                         unit_t[2], unit_t[6], fractions[0], out)  # fmt: skip
    return 0, n_watch, n_touched, n_confirm, take


@_jit
def _quiet_counts(eq, mm, notional, since, step, full, ratio):
    """One branch-free pass over the units (vectorized: no list written): how many units
    :func:`watch_rows` would list (``full``: every open unit), how many
    :func:`track_liquidatable` would mark on these ``eq`` / ``mm``, and how many of its marks
    would differ from ``since``."""
    n_watch = 0
    marked = 0
    changed = 0
    for u in range(notional.shape[0]):
        s = since[u]
        open_ = notional[u] > 0
        n_watch += open_ & (full | (eq[u] < ratio * mm[u]) | (s >= 0))
        started = s if s >= 0 else step
        mark = started if open_ & (eq[u] < mm[u]) else -1
        marked += mark >= 0
        changed += mark != s
    return n_watch, marked, changed


@_jit
def keepers_watch(eq, mm, notional, notional_row, since, trade_rows, step, everyone, plan,
                  consts, lean_t, fractions, out):  # fmt: skip
    """:func:`keepers_pending` with ``have_fn`` False, on the arrays it reads without a read
    only (a dispatch of a third of the arguments: the common step, no unit to read):
    ``lean_t`` the margin units' unit of row, rows by unit, unit start, isolated flags and
    the book's market of each row (:func:`_read_and_store`'s ``unit_t`` 0, 1, 2, 4, 6).
    Status 1 (units to read: call :func:`keepers_pending` with the funding at now) or 0 with
    the pass done, as there.

    Most steps watch no unit (none near maintenance, none marked, no refresh) and mark none:
    one vectorized pass counts the watch list and the marks first (:func:`_quiet_counts`).
    With an empty watch list nothing is confirmed and the marks are of these ``eq`` /
    ``mm``, so the lists' pass is the touched units alone and the marks' loop runs only when
    a mark changes or some unit is marked (the plan then reads them); otherwise the pass of
    :func:`keepers_pending` as it is."""
    ratio = consts[0]
    full = everyone or step % int(consts[4]) == 0
    n_watch, marked, changed = _quiet_counts(eq, mm, notional, since, step, full, ratio)
    if n_watch:
        n_watch, n_touched, confirm = _pending_lists(
            eq, mm, notional, notional_row, since, trade_rows, step, everyone, consts, lean_t[0],
            lean_t[4], lean_t[3], fractions, out,
        )  # fmt: skip
        n_confirm = confirm.shape[0]
        if n_confirm:
            return 1, n_watch, n_touched, n_confirm, 0
    else:  # no watch list, nothing confirmed: the touched units only
        into, n_touched = _touched_units(trade_rows, lean_t[0], out[1])
        if into.shape[0] != out.shape[1]:  # more calls than units
            out[1, :n_touched] = into[:n_touched]
        if not plan or not (marked or changed):
            return 0, 0, n_touched, 0, 0
    if not plan:
        return 0, n_watch, n_touched, 0, 0
    take = _pending_plan(eq, mm, notional, notional_row, since, step, consts, lean_t[1],
                         lean_t[2], lean_t[4], fractions[0], out)  # fmt: skip
    return 0, n_watch, n_touched, 0, take


@_jit
def read_candidates(targets, touched, watch, with_watch, extra, count, unit_t, trader_t,
                    view_t, venue_t, fn, params, tiers):  # fmt: skip
    """The step's end on a fast mirror: the units ``targets``, ``touched``, ``extra`` (the ADL
    winners') and, when ``with_watch``, ``watch`` -- sorted and distinct -- read
    (:func:`units_health`) and written into their rows' views (:func:`_read_and_store`).
    Returns how many were read."""
    n = targets.shape[0] + touched.shape[0] + extra.shape[0]
    if with_watch:
        n += watch.shape[0]
    if 16 * n < count:  # few: gathered, sorted and made distinct (no pass over every unit)
        gathered = np.empty(n, dtype=np.int64)
        k = 0
        for u in targets:
            gathered[k] = u
            k += 1
        for u in touched:
            gathered[k] = u
            k += 1
        for u in extra:
            gathered[k] = u
            k += 1
        if with_watch:
            for u in watch:
                gathered[k] = u
                k += 1
        gathered.sort()
        k = 0
        for i in range(n):
            if k == 0 or gathered[i] != gathered[k - 1]:
                gathered[k] = gathered[i]
                k += 1
        candidates = gathered[:k]
    else:
        chosen = np.zeros(count, dtype=np.bool_)
        for u in targets:
            chosen[u] = True
        for u in touched:
            chosen[u] = True
        for u in extra:
            chosen[u] = True
        if with_watch:
            for u in watch:
                chosen[u] = True
        candidates = np.flatnonzero(chosen)
    if candidates.shape[0]:
        _read_and_store(candidates, unit_t, trader_t, view_t, venue_t, fn, params, tiers)
    return candidates.shape[0]
