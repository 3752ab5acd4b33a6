"""Fast mode's levels after a block, written in place: the chain engine's levels dict
(:func:`simulator.mirror.sim.levels.levels_of`'s) as views of one float table made once a run
(:class:`LevelTab`), rewritten by one compiled call a block (:meth:`LevelTab.read`), and the
block's end in a second (:meth:`LevelTab.mined`): the state's copies of the levels
(``margin_scale``, ``amm_price_usd``, ``mm_vault_size_base``, ``last_bad_debt_usd``,
``last_fees_usd``, rows of one state table the :class:`~simulator.engine.state.EngineState`'s
arrays are views of), the realized PnL of the traders whose outcome is the step's, and, on a
tuning path (a :class:`~simulator.engine.metrics.StepFigures` of ``rows=False`` in
``ctx.memo``), the step's figures as :func:`simulator.engine.metrics.step_rows` keeps them.

Every value is the same float as :func:`~simulator.mirror.sim.levels.levels_of` and the step's
numpy lines give (the same IEEE operations per element, no ``fastmath``); ``tests/mirror/
test_block_levels.py`` holds the two forms to each other on drawn states and step by step on a
run. What the table does not hold is set in the dict as before: the insurance fund (USD), the
ledgers (one list of zero ledgers a run while every ledger field is 0, else
:meth:`~simulator.mirror.sim.venue.VenueState.ledgers`), the backstop vault's levels
(:func:`simulator.mirror.sim.backstop.levels`, with one) and the market-making vault's
(:func:`simulator.mirror.sim.mm_vault.with_levels`, which the loop calls after :meth:`LevelTab.
read`).

Nothing keeps a level array of the dict across a block end: the phases read the last block's
levels during the step and copy what they keep (the state's rows are its own).

One module on purpose: numba's on-disk cache is invalidated by an edit of the file of the
function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np
from numba import uint64

from simulator.engine import metrics
from simulator.engine.context import Context
from simulator.engine.state import EngineState
from simulator.jit import kernel as _jit
from simulator.mirror.fixed import UNIT
from simulator.mirror.sim import backstop, jit_calls
from simulator.mirror.sim.venue import VenueState
from simulator.units import USD_UNITS

#: A market's ledger (:meth:`~simulator.mirror.sim.venue.VenueState.ledgers`) when all of its
#: fields are 0.
ZERO_LEDGER = {"badDebtLongs": 0, "badDebtShorts": 0, "adlContractsLongs": 0,
               "adlContractsShorts": 0, "finalBadDebtLongs": 0, "finalBadDebtShorts": 0}  # fmt: skip

#: The spot AMMs' levels (:meth:`~simulator.mirror.sim.spot.SpotBook.levels`).
AMM_LEVELS = ("amm_reserve_usd", "amm_reserve_base", "amm_price_usd")

#: Where :func:`write_level_floats` reads the venue's packed arrays: the rows of the market
#: floats (:data:`~simulator.mirror.sim.jit_calls.MARKET_FLOATS`: price, long and short open
#: interest, fees, penalties), then the column of the packed parameters with the skew scale.
#: Passed to the kernel (not read as globals, which numba would freeze into its cache).
AT = np.array([jit_calls.F_PRICE, jit_calls.F_LONG_OI, jit_calls.F_SHORT_OI, jit_calls.F_FEES,
               jit_calls.F_PENALTIES, jit_calls.P_SKEW_SCALE], dtype=np.int64)  # fmt: skip

#: The rows of :attr:`LevelTab.table` (per market), by the levels dict's key: the ten of
#: :func:`write_level_floats`, the spot AMMs' three, the market-making vault's size (base
#: units, 0 without a vault: :func:`~simulator.mirror.sim.mm_vault.with_levels` sets its own).
LEVEL_ROWS = ("index_usd", "oi_long_base", "oi_short_base", "funding_rate_per_hour",
              "funding_rate_per_day", "margin_scale", "bad_debt_usd", "fees_cum_usd",
              "socialized_cum_usd", "mark_usd", *AMM_LEVELS, "mm_vault_size_base")  # fmt: skip
(L_INDEX, L_OI_LONG, L_OI_SHORT, L_PER_HOUR, L_PER_DAY, L_SCALE, L_BAD_DEBT, L_FEES, L_SOCIALIZED,
 L_MARK, L_AMM_USD, L_AMM_BASE, L_AMM_PRICE, L_VAULT_SIZE) = range(len(LEVEL_ROWS))  # fmt: skip

#: :func:`~simulator.mirror.sim.levels.levels_of`'s keys of the table's rows, in its order.
_DICT_ORDER = (*LEVEL_ROWS[:6], *AMM_LEVELS, *LEVEL_ROWS[6:10])

#: The rows of :attr:`LevelTab.state`: the :class:`~simulator.engine.state.EngineState` arrays
#: that are views of them (each the copy of a level the state keeps).
STATE_ROWS = ("margin_scale", "amm_price_usd", "mm_vault_size_base", "last_bad_debt_usd",
              "last_fees_usd")  # fmt: skip
S_SCALE, S_AMM_PRICE, S_VAULT_SIZE, S_BAD_DEBT, S_FEES = range(len(STATE_ROWS))

#: The rows of :attr:`LevelTab.rows`, the one (:data:`N_ROWS`, M) array a run's table, state
#: table and previous levels are views of (so that a kernel takes the three as one argument):
#: the table's :data:`LEVEL_ROWS` from 0, the state's :data:`STATE_ROWS` from :data:`S0`, the
#: previous bad debt and fees (:attr:`LevelTab.previous`) at :data:`P0` and ``P0 + 1``.
S0 = len(LEVEL_ROWS)
P0 = S0 + len(STATE_ROWS)
N_ROWS = P0 + 2


# -- kernels ---------------------------------------------------------------------------------


@_jit
def write_level_floats(market_floats, at, rate, scale, params, bad_debt_longs,
                       bad_debt_shorts, final_bad_debt, socialized, adl_contracts,
                       out):  # fmt: skip
    """Fast mode's per-market levels from the venue's WAD floats: the packed market floats
    (rows ``at[:5]``: price, long and short open interest, fees, penalties), the funding rate
    per day, the margin scale, the packed parameters (column ``at[5]``: the skew scale), the
    bad debts (``final_bad_debt`` (M, 2)) and the socialized loss. Rows 0-9 of ``out``
    (:data:`LEVEL_ROWS`): index, open interest long and short, funding rate per hour and per
    day, margin scale, bad debt (outstanding and final), fees (with penalties), the socialized
    loss, each ``/ 1e18`` as :func:`~simulator.mirror.sim.levels.floats` divides (the rate per
    hour the rate per day ``/ 24``, the sums in :func:`~simulator.mirror.sim.levels.
    levels_of`'s exact-mode order), and the mark: ``fillPrice(market, 0)`` as
    :meth:`~simulator.mirror.sim.venue.VenueState.mark` prices it
    (:func:`simulator.mirror.sim.scalar.fill_price` of the skew, a delta of 0), ``/ 1e18``.
    Returns whether every market's ledger fields (the bad debts, outstanding and final, and
    the contracts queued for ADL, ``adl_contracts`` (M, 2)) are 0 (what
    :meth:`~simulator.mirror.sim.venue.VenueState.ledgers` reads)."""
    m = rate.shape[0]
    ledger_zero = True
    for j in range(m):
        if (bad_debt_longs[j] != 0 or bad_debt_shorts[j] != 0 or final_bad_debt[j, 0] != 0
                or final_bad_debt[j, 1] != 0 or adl_contracts[j, 0] != 0
                or adl_contracts[j, 1] != 0):  # fmt: skip
            ledger_zero = False
        price = market_floats[at[0], j]
        long_oi = market_floats[at[1], j]
        short_oi = market_floats[at[2], j]
        out[L_INDEX, j] = price / 1e18
        out[L_OI_LONG, j] = long_oi / 1e18
        out[L_OI_SHORT, j] = short_oi / 1e18
        per_day = rate[j] / 1e18
        out[L_PER_HOUR, j] = per_day / 24.0
        out[L_PER_DAY, j] = per_day
        out[L_SCALE, j] = scale[j] / 1e18
        debt = bad_debt_longs[j] + bad_debt_shorts[j] + final_bad_debt[j, 0] + final_bad_debt[j, 1]
        out[L_BAD_DEBT, j] = debt / 1e18
        out[L_FEES, j] = (market_floats[at[3], j] + market_floats[at[4], j]) / 1e18
        out[L_SOCIALIZED, j] = socialized[j] / 1e18
        skew_scale = params[j, at[5]]
        mark = price
        if skew_scale != 0:
            fill = price + (2.0 * (long_oi - short_oi) + 0.0) * price / (2.0 * skew_scale)
            mark = fill if fill > 0 else 0.0
        out[L_MARK, j] = mark / 1e18
    return ledger_zero


@_jit
def level_floats(market_floats, at, rate, scale, params, bad_debt_longs, bad_debt_shorts,
                 final_bad_debt, socialized, adl_contracts):  # fmt: skip
    """:func:`write_level_floats` into a new (10, M) array: ``(out, ledger_zero)``."""
    out = np.empty((10, rate.shape[0]))
    ledger_zero = write_level_floats(market_floats, at, rate, scale, params, bad_debt_longs,
                                     bad_debt_shorts, final_bad_debt, socialized,
                                     adl_contracts, out)  # fmt: skip
    return out, ledger_zero


@_jit
def read_levels(market_floats, at, rate, scale, params, bad_debt_longs, bad_debt_shorts,
                final_bad_debt, socialized, adl_contracts, amm, rows, with_state):  # fmt: skip
    """The block's levels into ``rows`` (:data:`N_ROWS`, M; :attr:`LevelTab.rows`): its
    :data:`LEVEL_ROWS` but the vault's size, the venue's (:func:`write_level_floats`, same
    arguments) and the spot AMMs' ``amm`` (3, M) (:meth:`~simulator.mirror.sim.spot.SpotBook.
    levels`' rows); with ``with_state`` the state's margin scale and AMM price (rows ``S0 +``
    :data:`S_SCALE`, ``S0 +`` :data:`S_AMM_PRICE`) set to them. Returns whether every ledger
    field is 0."""
    ledger_zero = write_level_floats(market_floats, at, rate, scale, params, bad_debt_longs,
                                     bad_debt_shorts, final_bad_debt, socialized,
                                     adl_contracts, rows)  # fmt: skip
    for j in range(rate.shape[0]):
        rows[L_AMM_USD, j] = amm[0, j]
        rows[L_AMM_BASE, j] = amm[1, j]
        rows[L_AMM_PRICE, j] = amm[2, j]
    if with_state:
        for j in range(rate.shape[0]):
            rows[S0 + S_SCALE, j] = rows[L_SCALE, j]
            rows[S0 + S_AMM_PRICE, j] = amm[2, j]
    return ledger_zero


@_jit
def end_block(t, rows, vault_size, outcome_step, realized_pnl, equity, collateral_in,
              figures_on, exogenous, outside, fund_usd, backstop_equity_usd, share_price,
              transactions, vault_equity_usd, figure_table, figure_venue, filled):  # fmt: skip
    """Step ``t``'s end after the levels (``rows``, :attr:`LevelTab.rows`: the table's
    :data:`LEVEL_ROWS`, the state's rows from :data:`S0`, the previous levels from
    :data:`P0`) and the traders' view are read.

    The realized PnL (USD) of every trader whose outcome is step ``t``'s and whose PnL is not
    yet taken (NaN): equity less the collateral paid in (the rows found a block of 64 at a
    time: a block's outcomes compared at once, its rows visited only when one is ``t``'s).
    The state's market-making vault size set to ``vault_size``; its last bad debt and fees
    moved to the previous rows and set to the table's. With ``figures_on``, the step's figures
    as :func:`simulator.engine.metrics.step_rows` keeps them in a
    :class:`~simulator.engine.metrics.StepFigures` (``figure_table`` (T, 11, M),
    ``figure_venue`` (T, 6), ``filled`` (T,)): the per-market table (the exogenous price
    ``exogenous`` (M,), the index, the outside price ``outside[t]`` (``outside`` the run's
    (T, M)), the mark, the AMM price, the open interest long and short, the change of the bad
    debt, the funding rate per hour, the change of the fees, the vault's size or with no vault
    (``vault_equity_usd`` NaN) the exogenous price again), the venue's levels (insurance fund,
    backstop equity, share price, transactions, vault equity) and no accounts liquidated (the
    loop adds a step's events' flows after it)."""
    n = outcome_step.shape[0]
    blocks = n // 64
    for b in range(blocks):  # unsigned indices: no wraparound test, the compare vectorized
        start = uint64(b) * uint64(64)
        hits = 0
        for k in range(64):
            hits += outcome_step[start + uint64(k)] == t
        if hits:
            for k in range(64):
                i = start + uint64(k)
                if outcome_step[i] == t and realized_pnl[i] != realized_pnl[i]:
                    realized_pnl[i] = equity[i] - collateral_in[i]
    for i in range(blocks * 64, n):
        if outcome_step[i] == t and realized_pnl[i] != realized_pnl[i]:
            realized_pnl[i] = equity[i] - collateral_in[i]
    m = rows.shape[1]
    for j in range(m):
        rows[P0, j] = rows[S0 + S_BAD_DEBT, j]
        rows[P0 + 1, j] = rows[S0 + S_FEES, j]
        rows[S0 + S_BAD_DEBT, j] = rows[L_BAD_DEBT, j]
        rows[S0 + S_FEES, j] = rows[L_FEES, j]
        rows[S0 + S_VAULT_SIZE, j] = vault_size[j]
    if not figures_on:
        return
    vault = vault_equity_usd == vault_equity_usd
    for j in range(m):
        figure_table[t, 0, j] = exogenous[j]
        figure_table[t, 1, j] = rows[L_INDEX, j]
        figure_table[t, 2, j] = outside[t, j]
        figure_table[t, 3, j] = rows[L_MARK, j]
        figure_table[t, 4, j] = rows[L_AMM_PRICE, j]
        figure_table[t, 5, j] = rows[L_OI_LONG, j]
        figure_table[t, 6, j] = rows[L_OI_SHORT, j]
        figure_table[t, 7, j] = rows[L_BAD_DEBT, j] - rows[P0, j]
        figure_table[t, 8, j] = rows[L_PER_HOUR, j]
        figure_table[t, 9, j] = rows[L_FEES, j] - rows[P0 + 1, j]
        figure_table[t, 10, j] = vault_size[j] if vault else exogenous[j]
    figure_venue[t, 0] = fund_usd
    figure_venue[t, 1] = backstop_equity_usd
    figure_venue[t, 2] = share_price
    figure_venue[t, 3] = transactions
    figure_venue[t, 4] = vault_equity_usd
    figure_venue[t, 5] = 0.0
    filled[t] = True


# -- the run's table ----------------------------------------------------------------------------


class LevelTab:
    """A fast run's levels table and its dict of views, the state table, and the scratch the
    block's end writes (made once a run, kept in ``ctx.memo`` under :data:`MEMO`)."""

    def __init__(self, n_markets: int):
        m = n_markets
        self.rows = np.zeros((N_ROWS, m))
        """(:data:`N_ROWS`, M): :attr:`table`, :attr:`state` and :attr:`previous` in one
        array, as the kernels take them."""
        self.table = self.rows[:S0]
        """(:data:`LEVEL_ROWS`, M): the levels, rewritten by every :meth:`read`."""
        self.state = self.rows[S0:P0]
        """(:data:`STATE_ROWS`, M): the state's copies of the levels (its arrays' storage)."""
        self.state_rows = tuple(self.state)
        """:attr:`state`'s rows, the views the state's arrays are (made once: checked by
        identity)."""
        self.previous = self.rows[P0:]
        """The state's last bad debt and fees before the block's end (USD): ``step_rows``'
        ``previous_*`` when it builds rows."""
        self.zero_ledgers = list(map(dict, repeat(ZERO_LEDGER, m)))
        """The ledgers while every ledger field is 0 (read, never written, by the phases)."""
        row = dict(zip(LEVEL_ROWS, self.table, strict=True))
        self.levels: dict[str, Any] = {
            **{name: row[name] for name in _DICT_ORDER},
            "insurance_fund_usd": 0.0, "vault_assets_usd": 0.0, "vault_supply": 0,
            "vault_size_wad": np.zeros(m, dtype=object),
            "mm_vault_size_base": row["mm_vault_size_base"], "mm_vault_equity_usd": np.nan,
            "ledgers": self.zero_ledgers, "extra": [],
        }  # fmt: skip
        """The levels dict (:func:`~simulator.mirror.sim.levels.levels_of`'s keys, in its
        order), its arrays the table's rows."""
        self._no_figures = (np.zeros((1, 11, m)), np.zeros((1, 6)), np.zeros(1, dtype=bool))

    def read(self, venue: VenueState, book: Any, s: EngineState | None = None) -> dict[str, Any]:
        """The levels after the block (the venue's at its current block time, the spot book's
        ``book``), in place; ``s``'s margin scale and AMM price set to them (its
        :data:`STATE_ROWS` arrays made views of :attr:`state` first where they are not)."""
        scale, price, size, bad_debt, fees = self.state_rows
        if s is not None and not (
            s.margin_scale is scale and s.amm_price_usd is price
            and s.mm_vault_size_base is size and s.last_bad_debt_usd is bad_debt
            and s.last_fees_usd is fees
        ):  # fmt: skip
            self._bind(s)
        amm = book.level_floats
        if amm is None:  # the book in Python ints
            lv = book.levels()
            amm = np.array([lv[name] for name in AMM_LEVELS], dtype=np.float64)
        # the funding at now and the packed parameters: the venue's caches read as
        # funding() and jit_buffers() check them (a call only when one is stale)
        cached = venue._funding_cache
        if cached is None or cached[0] != venue.version - venue.kept or cached[1] != venue.now:
            venue.funding()
            cached = venue._funding_cache
        buffers = venue._jit_cache
        if buffers is None or buffers[0] is not venue.scalar_params:
            venue.jit_buffers()
            buffers = venue._jit_cache
        ledger_zero = read_levels(
            venue._market_floats, AT, cached[2].funding_rate_per_day,
            venue.markets.margin_scale, buffers[1], venue.bad_debt_longs,
            venue.bad_debt_shorts, venue.final_bad_debt, venue.socialized, venue.adl_contracts,
            amm, self.rows, s is not None,
        )  # fmt: skip
        levels = self.levels
        # from_units(float(fund) / UNIT), inlined: the same two divisions
        levels["insurance_fund_usd"] = float(venue.fund) / UNIT / USD_UNITS
        levels["ledgers"] = self.zero_ledgers if ledger_zero else venue.ledgers()
        if venue.backstop is not None:
            levels.update(backstop.levels(venue))
        return levels

    def mined(
        self, ctx: Context, s: EngineState, t: int, step_seconds: int, symbols: list[str],
        exogenous_usd: np.ndarray, transactions: int, events: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Step ``t``'s end after :meth:`read` and the traders' view (one kernel,
        :func:`end_block`): the state's last levels and the realized PnL, then the step's
        ``steps`` rows (:func:`~simulator.engine.metrics.step_rows`), or on a tuning path the
        step's figures (the flows of its liquidation, ADL and final bad debt rows after the
        kernel, :func:`~simulator.engine.metrics.keep_event_figures`) and no rows."""
        memo, levels = ctx.memo, self.levels
        figures = memo[metrics.FIGURES_MEMO] if metrics.FIGURES_MEMO in memo else None
        figures_on = figures is not None and not figures.rows
        tr = s.trader
        equity = levels["mm_vault_equity_usd"]
        if figures_on:
            table, venue_row, filled = figures.table, figures.venue, figures.filled
        else:
            table, venue_row, filled = self._no_figures
        assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
        share = (
            assets / (supply / 10**metrics.VAULT_SHARE_DECIMALS) if supply else np.nan
        )  # metrics._venue_of's
        end_block(
            t, self.rows, levels["mm_vault_size_base"], s.outcome_step, s.realized_pnl_usd,
            tr.equity_usd, tr.collateral_in_usd, figures_on, exogenous_usd,
            s.outside_price_usd, levels["insurance_fund_usd"], assets, share, transactions,
            np.nan if equity is None else equity, table, venue_row, filled,
        )  # fmt: skip
        s.last_fund_usd = levels["insurance_fund_usd"]
        if not figures_on:
            return metrics.step_rows(
                t, step_seconds, symbols, exogenous_usd, levels, events, transactions,
                previous_bad_debt_usd=self.previous[0], previous_fees_usd=self.previous[1],
                outside_usd=s.outside_price_usd[t], figures=figures,
            )  # fmt: skip
        kinds = metrics.STEP_EVENT_KINDS
        for e in events:
            if e["kind"] in kinds:  # a liquidation, ADL or final bad debt row: its flows
                metrics.keep_event_figures(figures, t, events)
                break
        return []

    def _bind(self, s: EngineState) -> None:
        """Make ``s``'s :data:`STATE_ROWS` arrays views of :attr:`state`, with their values."""
        for row, name in zip(self.state_rows, STATE_ROWS, strict=True):
            row[:] = getattr(s, name)
            setattr(s, name, row)


#: The key of a run's :class:`LevelTab` in ``ctx.memo``.
MEMO = "mirror_level_tab"


def level_tab(ctx: Context) -> LevelTab:
    """The run's :class:`LevelTab` (made at the first ask)."""
    memo = ctx.memo
    if MEMO not in memo:
        memo[MEMO] = LevelTab(ctx.n_markets)
    return memo[MEMO]


__all__ = [
    "AMM_LEVELS",
    "AT",
    "LEVEL_ROWS",
    "MEMO",
    "N_ROWS",
    "P0",
    "S0",
    "STATE_ROWS",
    "ZERO_LEDGER",
    "LevelTab",
    "end_block",
    "level_floats",
    "level_tab",
    "read_levels",
    "write_level_floats",
]
