"""The run folder: manifest, summary, step metrics, event log, positions, checkpoints.

A run folder holds::

    manifest.json      what ran: scenario, seed, versions, hashes, chain id, status
    summary.json       headline figures of the run (see "Summary" below)
    steps.parquet      one row per step and market, plus the step's venue total (market "ALL")
    events.parquet     one row per event (liquidation, backstop takeover, ADL fill, ...)
    positions.parquet  one row per position, with its liquidation price at open and outcome
    checkpoint.npz     engine state and the rows so far, while the run is not complete

Every file is written atomically (a temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder), so a crash leaves either the old file or the new one, never a part.
``manifest.json`` carries ``"status"``: ``"running"`` while the engine works, ``"incomplete"``
after an error (with ``"incomplete_reason"``), ``"complete"`` only after every other file has
been written by :meth:`RunWriter.finish`. A killed run keeps status ``running``; both resume
from the last checkpoint (:meth:`RunWriter.resume`) and end with files identical to an
uninterrupted run's (``summary.json`` differs only in ``wall_seconds``). The manifest records
the writing process; a folder that a live process on this host is still writing is neither
resumed nor overwritten.

Reuse
-----
A run folder is reused (read as finished, or resumed) only if it holds the same run: the same
scenario fingerprint, the same :func:`code_hash` (the package's sources) and the same contract
bytecode hashes. :func:`check_same_run` is that one check; a mismatch raises
:class:`RunMismatchError` naming what differs (the first differing scenario key with both
values, the code hash, the contracts) and the way out. :meth:`RunWriter.resume` also refuses,
before it touches the folder, a manifest without its scenario or whose scenario no longer
matches its recorded fingerprint (edited), a checkpoint that is unreadable or truncated, and a
checkpoint that the manifest records but that is gone. A fresh run that fails before its first
step removes the folder it created (nothing in it is worth resuming), so the corrected command
is not blocked by it.

steps.parquet
-------------
Per-market long format (folder format ``perpsim-run/2``): for every step (one step = one
block) one row per market (``market`` = its symbol, in the scenario's market order) and then
one venue-total row (``market = "ALL"``; :data:`VENUE`). *Level* columns are the state at the
end of the step; *flow* columns are what happened during the step (sum them over steps for
totals).

The rule, once (:func:`venue_total_row` applies it, :func:`check_step_rule` refuses rows that
break it): **per-market** columns (prices, funding rate; :data:`MARKET_ONLY_STEP_COLUMNS`) are
filled on market rows and null on the ``ALL`` row; **venue-wide** columns (insurance fund,
backstop vault, transactions; :data:`VENUE_ONLY_STEP_COLUMNS`) are filled on the ``ALL`` row
and null on market rows; **summed** columns (open interest, liquidated notional, ADL, bad debt,
fees; :data:`SUMMED_STEP_COLUMNS`) are filled on every row, the ``ALL`` row holding the sum
over the step's markets; ``accounts_liquidated`` is filled on every row, the ``ALL`` row
counting distinct accounts (a cross account liquidated in two markets counts once). Read the
rows with :class:`RunReader` (:attr:`~RunReader.venue_steps`,
:meth:`~RunReader.market_steps`, :attr:`~RunReader.markets`) or, for a table in hand,
:func:`venue_steps` / :func:`market_steps` / :func:`step_markets`.

==============================  =======  =====  ===================================================
column                          type     unit   meaning
==============================  =======  =====  ===================================================
step                            int64    step   step index (0 = state after deployment, if written)
timestamp_s                     int64    s      simulated time since the start: step × step_seconds
market                          string   -      the market's symbol (scenario ``market.symbol``),
                                                or ``ALL`` for the venue-total row
price_exogenous_usd             float64  USD    exogenous price of the market's path (level; per
                                                market)
price_oracle_usd                float64  USD    price the oracle holds after the step (level; per
                                                market)
price_outside_usd               float64  USD    outside price the oracle's venues follow: the
                                                exogenous price moved by forced selling's impact
                                                (level; per market)
price_mark_usd                  float64  USD    mark price of the perp market (level; per market)
price_amm_usd                   float64  USD    the market's spot AMM price (level; per market)
oi_long_usd                     float64  USD    long open interest at the oracle price (level;
                                                summed)
oi_short_usd                    float64  USD    short open interest at the oracle price (level;
                                                summed)
liquidated_notional_long_usd    float64  USD    notional of longs liquidated or taken over (flow;
                                                summed)
liquidated_notional_short_usd   float64  USD    notional of shorts liquidated or taken over (flow;
                                                summed)
accounts_liquidated             int64    count  accounts liquidated (partly or fully) or taken
                                                over by the backstop in the step (flow; ``ALL``:
                                                distinct accounts)
insurance_fund_usd              float64  USD    insurance fund balance (level; venue-wide)
backstop_equity_usd             float64  USD    backstop vault equity at the mark price (level;
                                                venue-wide)
backstop_share_price            float64  USD    backstop vault equity per LP share (level;
                                                venue-wide; null while the vault has no shares)
adl_haircut_usd                 float64  USD    profit taken from winners by ADL (flow; summed)
adl_overshoot_usd               float64  USD    ADL haircuts minus the deficit they covered (flow;
                                                summed)
bad_debt_usd                    float64  USD    change of uncovered bad debt: deficits the insurance
                                                fund could not pay, minus what ADL covered (flow;
                                                summed; the sum is what is left uncovered)
bad_debt_final_usd              float64  USD    bad debt written off as final in the step: what no
                                                ADL call can clear (the contracts queue's rest
                                                once the bankrupt contracts are offset, a refused
                                                socialized charge); still in ``bad_debt_usd``
                                                (flow; summed)
funding_rate                    float64  1/h    funding rate in effect, fraction of notional per
                                                hour; positive: longs pay shorts (level; per
                                                market)
fees_usd                        float64  USD    trading and liquidation fees collected (flow;
                                                summed)
transactions                    int64    count  transactions sent in the step's block (flow;
                                                venue-wide)
mm_vault_size_base              float64  base   the market-making vault's signed position (level;
                                                per market; null without the vault)
mm_vault_equity_usd             float64  USD    the market-making vault's cross equity (level;
                                                venue-wide; null without the vault)
==============================  =======  =====  ===================================================

Extra numeric columns are allowed; they are stored as float64 after these, sorted by name.
Pandas reads a nullable int64 column holding nulls (``transactions`` in the whole table) as
float64; :func:`venue_steps` gives it back as int64.

A folder of format ``perpsim-run/1`` (one market, no ``market`` column; written before this
format) is read by :class:`RunReader` as one market named by its manifest scenario's
``market.symbol`` (``BTC`` when it names none) with the ``ALL`` rows made from it; its
``summary.json`` stays as written (no ``markets``). It is never reused or resumed: its code
hash is not today's.

events.parquet
--------------
===============  =======  =====  ===========================================================
column           type     unit   meaning
===============  =======  =====  ===========================================================
step             int64    step   step of the event
kind             string   -      event kind, see below
market           string   -      symbol of the market concerned; null for venue-wide events
                                 (``lp_withdrawal``)
account          string   -      account address (or trader id) concerned; null if none
side             string   -      ``long`` / ``short`` of the position concerned; null if none
size_base        float64  base   size closed, taken over or filled; null if none
price_usd        float64  USD    execution price (fill, takeover or ADL price); null if none
notional_usd     float64  USD    size × price; null if none
amount_usd       float64  USD    the kind's amount (see below); null if none
detail           string   -      free text (JSON or a short note); empty if none
===============  =======  =====  ===========================================================

Kinds (others may be added) and their ``amount_usd``: ``liquidation`` and
``partial_liquidation`` (penalty charged), ``backstop_takeover`` (margin taken over),
``adl_fill`` (haircut: profit taken from the winner), ``bad_debt`` (bad debt recorded),
``bad_debt_final`` (outstanding bad debt written off as final: no ADL call can clear it;
``detail``: the side's final total, ``final_total_usd``),
``insurance_payout`` (paid by the insurance fund), ``socialized_loss`` (loss charged through
funding), ``top_up`` (margin added), ``close`` (realized PnL; ``detail`` says why:
take_profit / stop_loss / panic / end), ``lp_withdrawal`` (amount withdrawn),
``circuit_breaker`` (null), ``governance_submitted`` / ``governance_executed`` (null; ``detail``
names the parameter and value).

positions.parquet
-----------------
One row per position (an account holding positions in several markets has several rows).

==============================  =======  =====  ===================================================
column                          type     unit   meaning
==============================  =======  =====  ===================================================
account                         string   -      account address (or trader id)
market                          string   -      symbol of the position's market
side                            string   -      ``long`` or ``short``
collateral_usd                  float64  USD    collateral posted at open (as the market credited it)
size_base                       float64  base   size at open, as the chain holds it (0 if refused)
entry_price_usd                 float64  USD    entry (fill) price on chain (NaN if refused)
leverage                        float64  x      notional at entry / collateral (NaN if refused)
liquidation_price_at_open_usd   float64  USD    the market's liquidation price at open (NaN if
                                                refused)
opened_step                     int64    step   step the position was opened (an order-flow
                                                slot: its last open; null: never opened)
outcome                         string   -      open / closed / liquidated / backstopped / adl /
                                                refused (the venue reverted the open) / idle
                                                (an order-flow slot that never opened)
outcome_step                    int64    step   step of the outcome; null while open
realized_pnl_usd                float64  USD    realized PnL incl. fees and funding; null while open
opens                           int64    -      positions the row opened (an order-flow slot
                                                re-enters: each of its opens counts)
==============================  =======  =====  ===================================================

Pandas reads a nullable int64 column holding nulls (``outcome_step``) as float64 with NaN.

Summary
-------
``summary.json`` (:func:`summarize`), in this order: ``traders``, ``steps``, ``transactions``
(sum of ``transactions``), ``wall_seconds``, ``liquidated_notional_usd`` (long + short),
``liquidated_notional_long_usd``, ``liquidated_notional_short_usd`` (sums of the step columns),
``liquidated_accounts`` (distinct accounts with a ``liquidation``, ``partial_liquidation`` or
``backstop_takeover`` event; the sum of ``accounts_liquidated`` when there is none),
``bad_debt_usd`` (the bad debt left uncovered at the end: the chain ledger's when the engine
passes it, else the sum), ``bad_debt_final_usd`` (the part of it written off as final, the sum
of the step column: no ADL call could clear it), ``insurance_fund_drawdown_usd`` (largest fall
of the fund from its running peak), ``backstop_pnl_usd`` (``(share price end / share price start − 1) × equity start``: the
PnL of the starting LP capital), ``adl_haircut_usd``, ``adl_overshoot_usd`` (sums),
``backstop_lp_loss_usd`` (``max(0, −backstop_pnl_usd)``), ``mm_vault_capital_usd`` (the
market-making vault's capital in; 0 without one), ``mm_vault_equity_end_usd`` (its last
``mm_vault_equity_usd``; null without one), ``mm_vault_lp_loss_usd`` (``max(0, capital −
final equity)``), ``system_loss_usd`` (the sum of
:data:`SYSTEM_LOSS_TERMS`, :func:`system_loss`), ``start_price``
(the configured price at step 0: GBM ``start_price_usd``, a list's first price, a CSV's first
row; passed by the engine in ``meta``), ``exogenous_min_price`` (min of ``price_exogenous_usd``), ``min_price``
(min of ``price_oracle_usd``, what the protocol acted on), ``price_amplification``, ``fees_usd``
(sum), ``markets``. All money in USD. Every figure before ``markets`` is the venue's, from the
``ALL`` rows; the four price keys are the market's when the venue has one market and ``null``
when it has several (a venue has no one price: read them per market).

``price_amplification = (start_price − min_price) / (start_price − exogenous_min_price)``: the
fall the protocol saw over the exogenous fall; 1 means forced selling added nothing, 1.5 means
the fall was half again as deep. It is ``null`` when the exogenous path never fell below its
start (no fall to amplify).

``markets`` is ``{symbol: {...}}`` in the scenario's market order, each with
(:data:`MARKET_SUMMARY_KEYS`) ``liquidated_notional_usd``, ``liquidated_notional_long_usd``,
``liquidated_notional_short_usd``, ``liquidated_accounts`` (from that market's events),
``bad_debt_usd``, ``bad_debt_final_usd`` (the part written off as final), ``insurance_payout_usd`` (``amount_usd`` of its ``insurance_payout`` events:
what the insurance fund paid for the market's deficits), ``adl_haircut_usd``,
``adl_overshoot_usd``, ``adl_notional_usd`` (``notional_usd`` of its ``adl_fill`` events: the
winners' notional ADL closed), ``system_loss_usd`` (the sum of
:data:`MARKET_SYSTEM_LOSS_TERMS`: the fund and the backstop vault are venue-wide), ``fees_usd``
(sums of its rows), ``oi_long_start_usd``, ``oi_short_start_usd`` (its first row's open interest: after step 0's block),
``oi_long_end_usd``, ``oi_short_end_usd`` (its last row's), and its ``start_price``,
``exogenous_min_price``, ``min_price``, ``price_amplification`` as above.

Modules, one concept each (every public name is re-exported here, so
``from simulator.results import X`` works for all of them): :mod:`~simulator.results.schema`
(file names, column definitions, the long-format rule, rows to Arrow tables),
:mod:`~simulator.results.views` (venue totals and one market's rows of a step table),
:mod:`~simulator.results.atomic`
(atomic files), :mod:`~simulator.results.summary` (``summary.json``),
:mod:`~simulator.results.writer` (:class:`RunWriter`, :class:`Checkpoint`),
:mod:`~simulator.results.reader` (:class:`RunReader`), :mod:`~simulator.results.manifest`
(reading the manifest, live writers), :mod:`~simulator.results.reuse` (:func:`check_same_run`,
:func:`recorded_scenario`), :mod:`~simulator.results.provenance` (:func:`code_hash`,
:func:`git_commit`), :mod:`~simulator.results.errors`.
"""

from __future__ import annotations

from simulator.results.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
)
from simulator.results.errors import (
    CheckpointError,
    ResultsError,
    RunExistsError,
    RunIncompleteError,
    RunMismatchError,
    RunNotFoundError,
)
from simulator.results.manifest import (
    _live_writer as _live_writer,
)
from simulator.results.manifest import (
    read_manifest,
    refuse_live_writer,
)
from simulator.results.provenance import (
    code_hash,
    git_commit,
    package_version,
)
from simulator.results.reader import (
    RunReader,
)
from simulator.results.reuse import (
    check_same_run,
    recorded_scenario,
)
from simulator.results.schema import (
    CHECKPOINT,
    EVENT_COLUMNS,
    EVENTS,
    LIQUIDATION_EVENT_KINDS,
    MANIFEST,
    MARKET_ONLY_STEP_COLUMNS,
    MARKET_SUMMARY_KEYS,
    MARKET_SYSTEM_LOSS_TERMS,
    NONDETERMINISTIC_SUMMARY_KEYS,
    POSITION_COLUMNS,
    POSITION_OUTCOMES,
    POSITIONS,
    STEP_COLUMNS,
    STEPS,
    SUMMARY,
    SUMMARY_KEYS,
    SUMMED_STEP_COLUMNS,
    SYSTEM_LOSS_TERMS,
    VENUE,
    VENUE_ONLY_STEP_COLUMNS,
    Column,
    check_step_rule,
    venue_total_row,
)
from simulator.results.summary import (
    deterministic_summary,
    summarize,
    system_loss,
)
from simulator.results.views import (
    market_steps,
    step_markets,
    upgrade_legacy_tables,
    venue_steps,
)
from simulator.results.writer import (
    Checkpoint,
    RunWriter,
)

# _live_writer is shared with the app (app/perpsim_ui), which shows who writes a run.
__all__ = [
    "ResultsError",
    "RunExistsError",
    "RunNotFoundError",
    "RunIncompleteError",
    "CheckpointError",
    "RunMismatchError",
    "Column",
    "STEP_COLUMNS",
    "EVENT_COLUMNS",
    "POSITION_COLUMNS",
    "SUMMARY_KEYS",
    "MARKET_SUMMARY_KEYS",
    "SYSTEM_LOSS_TERMS",
    "MARKET_SYSTEM_LOSS_TERMS",
    "VENUE",
    "MARKET_ONLY_STEP_COLUMNS",
    "VENUE_ONLY_STEP_COLUMNS",
    "SUMMED_STEP_COLUMNS",
    "venue_total_row",
    "check_step_rule",
    "venue_steps",
    "market_steps",
    "step_markets",
    "upgrade_legacy_tables",
    "NONDETERMINISTIC_SUMMARY_KEYS",
    "system_loss",
    "LIQUIDATION_EVENT_KINDS",
    "POSITION_OUTCOMES",
    "MANIFEST",
    "SUMMARY",
    "STEPS",
    "EVENTS",
    "POSITIONS",
    "CHECKPOINT",
    "Checkpoint",
    "RunWriter",
    "RunReader",
    "summarize",
    "deterministic_summary",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_parquet",
    "code_hash",
    "git_commit",
    "check_same_run",
    "recorded_scenario",
    "read_manifest",
    "refuse_live_writer",
    "package_version",
]
