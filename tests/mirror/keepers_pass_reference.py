"""The keepers' pending-block pass and the step-end read of a fast mirror step as they were
at 806a81c (session 29, before hY): :func:`old_keepers_pending` and
:func:`old_read_candidates`, compiled, calling :mod:`simulator.engine.jit_rows`' unchanged
kernels; their health read and store as it was before session 30 (:func:`old_read_and_store`).
``tests/mirror/test_keepers_pass_rewrite.py`` holds the rewritten kernels to them."""

from __future__ import annotations

import numba as nb
import numpy as np

from simulator.engine import jit_rows

# Compiled without the on-disk cache: they call kernels of another module, whose edits would
# not invalidate a cached copy here.
_reference = nb.njit(nogil=True, error_model="numpy")


@_reference
def old_read_and_store(units, unit_t, trader_t, view_t, venue_t, fn, params, tiers):
    """``jit_rows._read_and_store`` as it was before session 30 (hB): the health read, then
    :func:`~simulator.engine.jit_rows.store_units` on the funding index made flat."""
    eq, mm = jit_rows.units_health(units, unit_t[3], unit_t[4], unit_t[5], params, tiers,
                                   venue_t[0], venue_t[1], venue_t[2], venue_t[3], fn,
                                   venue_t[4])  # fmt: skip
    flags = unit_t[8]
    index = view_t[1]
    flat = np.empty(index.shape[0] * 2)
    for m in range(index.shape[0]):
        flat[2 * m] = index[m, 0]
        flat[2 * m + 1] = index[m, 1]
    jit_rows.store_units(units, eq, mm, unit_t[3].shape[0], unit_t[1], unit_t[2], trader_t[0],
                         trader_t[1], trader_t[2], trader_t[3], unit_t[6], view_t[0], flags[0],
                         unit_t[7], trader_t[4], trader_t[5], trader_t[6], flags[1], flat,
                         trader_t[7], flags[2], view_t[2], trader_t[8])  # fmt: skip
    return eq, mm


@_reference
def old_keepers_pending(eq, mm, notional, notional_row, since, trade_rows, step, everyone, plan,
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
    liquidations (:func:`unit_fractions`, :func:`plan_rows`; the keepers' plan of
    :func:`simulator.mirror.sim.keepers.plan`).

    ``consts``: watch ratio, confirm band, gas cost (USD), minimum profit (USD), refresh
    period (steps), capacity, reaction delay (steps), whether there is a backstop threshold;
    ``fractions``: per market, the keeper reward and the backstop threshold (empty without);
    the rest as :func:`_read_and_store` takes them. ``out``: three int64 rows of at least one
    place per unit, into which the watch list, the touched units and the targets are written
    (their counts returned: no array is returned, each would cost the caller a Python call).
    Returns (status, watch count, touched count, confirmed count, target count): status 1
    when units are to be read and ``have_fn`` is False (nothing written but ``out``: call
    again with the funding at now, ``fn``), else 0."""
    ratio, band = consts[0], consts[1]
    refresh = int(consts[4])
    full = everyone or step % refresh == 0
    watch = jit_rows.watch_rows(eq, mm, notional, since, full, ratio)
    n_watch = watch.shape[0]
    out[0, :n_watch] = watch
    unit_of_row = unit_t[0]
    count = notional.shape[0]
    changed = np.zeros(count, dtype=np.bool_)
    first = np.empty(trade_rows.shape[0], dtype=np.int64)  # each touched unit once
    n_touched = 0
    for i in range(trade_rows.shape[0]):
        u = unit_of_row[trade_rows[i]]
        if not changed[u]:
            changed[u] = True
            first[n_touched] = u
            n_touched += 1
    out[1, :n_touched] = np.sort(first[:n_touched])
    if everyone or n_watch == 0:
        confirm = watch
    else:
        has_backstop = consts[7] != 0
        backstop = fractions[1]
        if has_backstop:
            backstop = jit_rows.unit_fractions(unit_of_row, unit_t[6], notional_row, count, False,
                                      notional, fractions[0], True, fractions[1], unit_t[4])[1]  # fmt: skip
        keep = np.empty(n_watch, dtype=np.int64)
        k = 0
        for w in watch:
            near = abs(eq[w] - mm[w]) < band * mm[w]
            if has_backstop:
                near = near | (abs(eq[w] - backstop[w] * mm[w]) < band * mm[w])
            if near or changed[w]:
                keep[k] = w
                k += 1
        confirm = keep[:k]
    n_confirm = confirm.shape[0]
    if n_confirm and not have_fn:
        return 1, n_watch, n_touched, n_confirm, 0
    if n_confirm:
        got_eq, got_mm = old_read_and_store(confirm, unit_t, trader_t, view_t, venue_t, fn, params,
                                         tiers)  # fmt: skip
        for i in range(n_confirm):
            eq[confirm[i]] = got_eq[i]
            mm[confirm[i]] = got_mm[i]
    if not plan:
        return 0, n_watch, n_touched, n_confirm, 0
    marked = 0
    for u in range(count):  # track_liquidatable's loop, in place (each place reads its own)
        started = since[u] if since[u] >= 0 else step
        since[u] = started if (notional[u] > 0) & (eq[u] < mm[u]) else -1
        marked += since[u] >= 0
    n_targets = 0
    if marked:
        reward = jit_rows.unit_fractions(unit_of_row, unit_t[6], notional_row, count, True, notional,
                                fractions[0], False, fractions[1], unit_t[4])[0]  # fmt: skip
        one = np.zeros(1)
        targets = jit_rows.plan_rows(eq, mm, notional, since, step, int(consts[5]), int(consts[6]),
                            reward, 1, consts[2], consts[3], False, one, 0)[1]  # fmt: skip
        n_targets = targets.shape[0]
        out[2, :n_targets] = targets
    return 0, n_watch, n_touched, n_confirm, n_targets


@_reference
def old_read_candidates(targets, touched, watch, with_watch, extra, count, unit_t, trader_t,
                    view_t, venue_t, fn, params, tiers):  # fmt: skip
    """The step's end on a fast mirror: the units ``targets``, ``touched``, ``extra`` (the ADL
    winners') and, when ``with_watch``, ``watch`` -- sorted and distinct -- read
    (:func:`units_health`) and written into their rows' views (:func:`_read_and_store`).
    Returns how many were read."""
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
        old_read_and_store(candidates, unit_t, trader_t, view_t, venue_t, fn, params, tiers)
    return candidates.shape[0]
