"""Phase 3a: auto-deleveraging of every market's outstanding bad debt, under that market's
policy (``contracts_queue``, ``profit_queue`` or ``pro_rata``; ``socialized`` runs inside the
liquidation, ``none`` keeps the bad debt).

For every market and bankrupt side with a deficit in the pending block's ledgers, the winners'
open positions in that market (and the backstop vault's) are ranked in ONE read on the pending
block (one ``adlRanking(market, accounts)`` view per market and side, all in the same round
trip), and the venue's ADL keeper (``ADL_KEEPER_ROLE``) sends one ``adl(market,
longsBankrupt, winners)`` per market and side over the winners that
:func:`simulator.agents.keepers.plan_adl` picks (queues: ranked by score; pro rata: by
address).

A winner's score is its notional over its (cross) account value, so one ADL call changes the
scores of the accounts it haircuts in every market they hold: a market whose ranked accounts
include one that an earlier call of the block haircuts waits for the next step (its ranking
read on chain would no longer hold when its call runs, and the venue checks the order)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.engine.context import Action, Context
from simulator.engine.levels import mm_vault_views, parse_mm_vault
from simulator.engine.state import EngineState
from simulator.units import from_wad_array

#: Policies for which the ADL keeper calls ``adl``.
CALLED_POLICIES = ("contracts_queue", "profit_queue", "pro_rata")


#: A row counts as a possible ADL winner when its profit at the oracle price is above minus
#: this fraction of its notional (the venue's PnL is rounded in WAD; the test only has to
#: keep every row the venue could rank with a positive PnL).
WINNER_PNL_TOLERANCE = 1e-9


def possible_winners(ctx: Context, s: EngineState, levels: dict[str, Any]) -> np.ndarray:
    """Per market and winners' side ((M, 2): longs, shorts), whether anyone could be
    auto-deleveraged now: a trader row of that side in the profit at this step's oracle price
    (the venue picks only winners with a positive PnL), or the backstop vault holding that
    side, or the market-making vault holding it. The sign of a position's PnL does not depend
    on its size, so this is exact but for rounding (:data:`WINNER_PNL_TOLERANCE`)."""
    t, market = s.trader, ctx.world.book.market
    price = s.oracle_price_usd[market]
    in_profit = (t.size_base > 0) & (
        t.side * (price - t.entry_price_usd) > -WINNER_PNL_TOLERANCE * price
    )
    slot = 2 * market + (t.side < 0)
    counts = np.bincount(slot[in_profit], minlength=2 * ctx.n_markets).reshape(-1, 2)
    possible = counts > 0
    if ctx.vault_address is not None:
        vault = np.array([int(x) for x in levels["vault_size_wad"]])
        possible[:, 0] |= vault > 0
        possible[:, 1] |= vault < 0
    if ctx.world.mm_vault is not None:
        # The market-making vault: its size after the last block or after this block's
        # planned trades (its entry price is not tracked off chain: the ranking decides).
        last, planned = s.mm_vault_size_base, s.mm_vault_planned_base
        for size in (last, last + planned) if len(planned) else (last,):
            possible[:, 0] |= size > 0
            possible[:, 1] |= size < 0
    return possible


def outstanding(ledger: dict[str, int], policy: str, longs_bankrupt: bool) -> int:
    """The deficit (WAD) an ``adl`` call can act on in a market's ledger: the bankrupt side's
    outstanding bad debt, and under ``contracts_queue`` only while bankrupt contracts are left
    to offset (the venue closes winners' contracts, not profit: the call that offsets the last
    of them writes what the closes did not cover off as final bad debt, ``finalBadDebtLongs``
    / ``Shorts``, which no call acts on; a deficit with no contracts left is ``NoDeficit``)."""
    side = "Longs" if longs_bankrupt else "Shorts"
    deficit = ledger["badDebt" + side]
    if policy == "contracts_queue" and not ledger["adlContracts" + side]:
        return 0
    return deficit


def called_deficits(policies: list[str], ledgers: list[dict[str, int]]) -> list[tuple[int, bool]]:
    """(market, longs bankrupt) of every deficit an ``adl`` call can act on (:func:`outstanding`)
    in ``ledgers`` (one per market, chain names) under the markets' ``policies``, longs first
    in each market. A market without bad debt has none on either side (checked first: most
    blocks have none)."""
    return [
        (m, longs_bankrupt)
        for m, ledger in enumerate(ledgers)
        if (ledger["badDebtLongs"] or ledger["badDebtShorts"]) and policies[m] in CALLED_POLICIES
        for longs_bankrupt in (True, False)
        if outstanding(ledger, policies[m], longs_bankrupt)
    ]


def has_work(ctx: Context, s: EngineState, levels: dict[str, Any]) -> bool:
    """Whether :func:`plan_adl` would read rankings for ``levels``: some market under a called
    policy has a deficit that a possible winner could cover (:func:`possible_winners`)."""
    return bool(_jobs(ctx, s, levels))


def _jobs(
    ctx: Context, s: EngineState, levels: dict[str, Any]
) -> list[tuple[int, bool, np.ndarray, list[str]]]:
    """(market, longs bankrupt, winner-side rows, candidate addresses) of every deficit that
    ADL could act on."""
    v, book = ctx.venue, ctx.world.book
    if not v.params.buffers.adl_keeper_enabled:
        return []
    deficits = called_deficits(ctx.adl_policy, levels["ledgers"])
    if not deficits:
        return []
    possible = possible_winners(ctx, s, levels)
    jobs: list[tuple[int, bool, np.ndarray, list[str]]] = []
    for m, longs_bankrupt in deficits:
        side = -1 if longs_bankrupt else 1  # the winners' side
        if not possible[m, 0 if side > 0 else 1]:
            continue  # nobody on the winners' side is in the profit: nothing to rank
        rows = np.flatnonzero(
            (book.market == m) & (s.trader.size_base > 0) & (s.trader.side == side)
        )
        accounts = [ctx.accounts[a] for a in book.account[rows]]
        if ctx.vault_address is not None:
            accounts.append(ctx.vault_address)
        if ctx.world.mm_vault is not None:  # the market-making vault, after the backstop's
            accounts.append(ctx.world.mm_vault)
        if ctx.world.defi is not None and ctx.world.defi.synth_market == m:  # its hedge
            accounts.append(ctx.world.defi.synth.address)
        if accounts:
            jobs.append((m, longs_bankrupt, rows, accounts))
    return jobs


def plan_adl(ctx: Context, s: EngineState, levels: dict[str, Any]) -> tuple[list[Action], set[int]]:
    """The ADL calls for the deficits in ``levels["ledgers"]`` and the rows of their winners
    (read again after the block). A deficit with no possible winner
    (:func:`possible_winners`) is not ranked: it waits, outstanding, for one."""
    v = ctx.venue
    jobs = _jobs(ctx, s, levels)
    if not jobs:
        return [], set()
    got = ctx.chain.read(
        [v.venue.adl_ranking(ctx.market_ids[m], accounts) for m, _, _, accounts in jobs]
        + mm_vault_views(ctx),
        pending=True,
    )
    mm_size = parse_mm_vault(ctx, got[len(jobs) :])["mm_vault_size_base"]
    got = got[: len(jobs)]
    actions: list[Action] = []
    winners_rows: set[int] = set()
    touched: set[str] = set()
    for (m, longs_bankrupt, rows, accounts), (scores, pnls) in zip(jobs, got, strict=True):
        if touched.intersection(accounts):
            # An earlier ADL call of this block haircuts an account ranked here: its account
            # value, hence its score in this market, changes before this call runs. This
            # market's deficit waits for the next step's ranking (the same round trips).
            continue
        sizes = np.concatenate([s.trader.size_base[rows] * s.trader.side[rows], [0.0, 0.0]])[
            : len(accounts)
        ]
        if ctx.vault_address is not None:
            sizes[len(rows)] = float(levels["vault_size_wad"][m]) / 1e18
        if ctx.world.mm_vault is not None:
            sizes[-1] = mm_size[m]
        winners = keeper_agents.plan_adl(
            np.array(scores, dtype=np.float64),
            from_wad_array(pnls),
            sizes,
            not longs_bankrupt,
            accounts,
            ctx.adl_policy[m],
            int(ctx.max_adl_accounts[m]),
        )
        if not winners:
            continue
        market = ctx.market_ids[m]
        for a in winners:
            r = ctx.row(a, market)
            if r is not None:
                winners_rows.add(r)
        touched.update(winners)
        call = v.venue.adl(v.adl_keeper, market, longs_bankrupt, winners)
        actions.append(Action(call, "adl", -1, m))
    return actions, winners_rows
