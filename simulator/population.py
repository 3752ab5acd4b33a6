"""Trader populations as arrays, one row per position (an account holds one or several).

:func:`draw_population` draws a random population of accounts from a
:class:`~simulator.scenario.RandomPopulation` spec; :func:`book_from_explicit` turns an
explicit book into the same :class:`TraderBook`. Both are vectorized; pure-Python reference versions sit beside the kernels
and the tests check that they agree row by row.

Behaviour parameters are stored per trader so the engine can apply every rule to every row
without masks: a rule a trader does not follow holds a value that never triggers it
(``inf`` for the take-profit / stop-loss fractions and the panic drawdown, 0 for the top-up
probability, fraction and margin ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import pandas as pd

from simulator.errors import PerpsimError
from simulator.scenario import (
    BEHAVIOURS,
    BehaviourParams,
    ExplicitBook,
    RandomPopulation,
    book_accounts,
)

__all__ = [
    "Behaviour",
    "PopulationError",
    "TraderBook",
    "draw_population",
    "book_from_explicit",
    "concat_books",
    "liquidation_price_usd",
]


class PopulationError(PerpsimError):
    """A population cannot be built (bad price, leverage above the maximum, ...)."""


class Behaviour(IntEnum):
    """Integer codes of trader behaviours (``TraderBook.behaviour``, int8)."""

    HOLD = 0
    """Keep the position until liquidated or the run ends."""
    TAKE_PROFIT = 1
    """Close when the profit reaches ``take_profit_fraction`` of collateral."""
    STOP_LOSS = 2
    """Close when the loss reaches ``stop_loss_fraction`` of collateral."""
    TOP_UP = 3
    """Add ``top_up_fraction`` × initial collateral with ``top_up_probability`` per step while
    equity < ``top_up_margin_ratio`` × maintenance margin."""
    PANIC = 4
    """Close when the price has moved ``panic_drawdown`` (fraction of entry) against the position."""


assert tuple(b.name.lower() for b in Behaviour) == BEHAVIOURS


@dataclass(frozen=True, eq=False)
class TraderBook:
    """Positions as read-only arrays, one row per position (all arrays have the same length).

    A row is one position of one trader account in one market: ``account`` numbers the
    accounts 0..``n_accounts``-1 (an account holds several rows, one per market it trades),
    ``market`` indexes the scenario's ``markets`` list. Collateral, leverage and behaviour are
    per row: a cross account deposits the sum of its cross rows' ``collateral_usd`` into one
    shared balance; an isolated row carries its own margin. Without ``account`` / ``market`` /
    ``isolated`` the book is the one-market, one-position-per-account book (account = row,
    market 0, cross)."""

    side: np.ndarray
    """+1 long, -1 short (int8)."""
    collateral_usd: np.ndarray
    """Collateral posted at open (USD, float64)."""
    size_base: np.ndarray
    """Position size (base units, float64, > 0)."""
    leverage: np.ndarray
    """Notional at the open price over collateral (times, float64)."""
    behaviour: np.ndarray
    """Behaviour code, see :class:`Behaviour` (int8)."""
    take_profit_fraction: np.ndarray
    """Profit / collateral at which the trader closes (inf: never)."""
    stop_loss_fraction: np.ndarray
    """Loss / collateral at which the trader closes (inf: never)."""
    top_up_probability: np.ndarray
    """Probability per step of topping up when near liquidation (0: never)."""
    top_up_fraction: np.ndarray
    """Margin added per top-up, as a fraction of initial collateral (0: never)."""
    top_up_margin_ratio: np.ndarray
    """Near liquidation means equity < this × maintenance margin (0: never)."""
    panic_drawdown: np.ndarray
    """Adverse move since entry, fraction of entry price, that makes the trader close (inf: never)."""
    account: np.ndarray | None = None
    """Trader account of each row (int64, 0..n_accounts-1, every number used); default: the
    row number (one position per account)."""
    market: np.ndarray | None = None
    """Market of each row, an index into the scenario's ``markets`` (int64); default 0."""
    isolated: np.ndarray | None = None
    """Whether the row is an isolated position carrying its own margin (bool); default
    False (cross: margined by the account's shared collateral)."""
    flow_kind: np.ndarray | None = None
    """-1 for a position of the opening book; ``k >= 0`` for an order-flow slot of kind
    ``FLOW_KINDS[k]`` (:mod:`simulator.scenario.flow`): the row starts flat (``size_base`` 0,
    no opening trade) and opens and closes through the run (int8); default -1."""

    _DTYPES = {
        "flow_kind": np.int8,
        "side": np.int8,
        "behaviour": np.int8,
        "account": np.int64,
        "market": np.int64,
        "isolated": np.bool_,
    }

    def __post_init__(self) -> None:
        rows = len(np.asarray(self.side))
        defaults = {
            "account": np.arange(rows),
            "market": np.zeros(rows),
            "isolated": np.zeros(rows, dtype=bool),
            "flow_kind": np.full(rows, -1),
        }
        length = None
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                value = defaults[f.name]
            array = np.array(value, dtype=self._DTYPES.get(f.name, np.float64))
            if array.ndim != 1:
                raise ValueError(f"TraderBook.{f.name} must be 1-d (got shape {array.shape})")
            if length is None:
                length = len(array)
            elif len(array) != length:
                raise ValueError(
                    f"TraderBook.{f.name} has {len(array)} rows, expected {length} like side"
                )
            array.setflags(write=False)
            object.__setattr__(self, f.name, array)
        if not np.all(np.isin(self.side, (-1, 1))):
            raise ValueError("TraderBook.side must hold only +1 and -1")
        if rows and (self.account.min() < 0 or self.market.min() < 0):
            raise ValueError("TraderBook.account and TraderBook.market must be >= 0")
        if rows and len(np.unique(self.account)) != int(self.account.max()) + 1:
            raise ValueError("TraderBook.account must number the accounts 0..n_accounts-1")
        pairs = self.account * (int(self.market.max()) + 1 if rows else 1) + self.market
        if len(np.unique(pairs)) != rows:
            raise ValueError("TraderBook holds two rows for the same (account, market)")

    @classmethod
    def _of_checked(cls, columns: dict[str, np.ndarray]) -> TraderBook:
        """A book of ``columns`` (every field) that already satisfy :meth:`__post_init__`'s
        rules (rows a valid book's, or two valid books' with disjoint accounts), without its
        checks: each column converted to its dtype (a copy where it is not one already) and
        made read-only, as :meth:`__post_init__` stores it."""
        book = object.__new__(cls)
        length = None
        for f in fields(cls):
            array = np.array(columns[f.name], dtype=cls._DTYPES.get(f.name, np.float64))
            if array.ndim != 1 or (length is not None and len(array) != length):
                raise ValueError(f"TraderBook.{f.name}: shape {array.shape} (rows {length})")
            length = len(array)
            array.setflags(write=False)
            object.__setattr__(book, f.name, array)
        return book

    def with_sizes(self, *, size_base: np.ndarray, leverage: np.ndarray) -> TraderBook:
        """The book with new sizes and leverages (float64, one per row): what
        ``dataclasses.replace`` gives, without checking the rows again (the other columns are
        this valid book's)."""
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        columns["size_base"], columns["leverage"] = size_base, leverage
        return TraderBook._of_checked(columns)

    def __len__(self) -> int:
        return len(self.side)

    @property
    def count(self) -> int:
        """Number of rows (positions)."""
        return len(self.side)

    @property
    def n_accounts(self) -> int:
        """Number of trader accounts (distinct ``account`` values)."""
        return int(self.account.max()) + 1 if len(self.account) else 0

    @property
    def start_flat(self) -> np.ndarray:
        """Per row: the row starts flat (an order-flow slot, no opening trade; bool)."""
        return self.flow_kind >= 0

    def notional_usd(self, price_usd: float | np.ndarray) -> np.ndarray:
        """Notional of each position at ``price_usd`` (USD)."""
        return self.size_base * price_usd

    def select(self, mask_or_index: np.ndarray) -> TraderBook:
        """The rows selected by a boolean mask or an index array, as a new book (accounts
        renumbered 0.. in order of their first appearance among the kept rows)."""
        picked = {f.name: getattr(self, f.name)[mask_or_index] for f in fields(self)}
        _, first, inverse = np.unique(picked["account"], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        picked["account"] = order[inverse]
        return TraderBook(**picked)

    def to_frame(self) -> pd.DataFrame:
        """One row per trader; ``behaviour`` as its name, ``side`` as ``long`` / ``short``."""
        frame = pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})
        frame["side"] = np.where(self.side > 0, "long", "short")
        frame["behaviour"] = [BEHAVIOURS[int(c)] for c in self.behaviour]
        return frame

    def equals(self, other: TraderBook) -> bool:
        """True when every array is identical (NaN-free arrays, so exact equality)."""
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        )


def concat_books(first: TraderBook, second: TraderBook) -> TraderBook:
    """The rows of ``first`` then ``second``, ``second``'s accounts numbered after
    ``first``'s."""
    columns = {}
    for f in fields(first):
        a, b = getattr(first, f.name), getattr(second, f.name)
        if f.name == "account":
            b = b + first.n_accounts
        columns[f.name] = np.concatenate([a, b])
    # two valid books, ``second``'s accounts after ``first``'s: a valid book
    return TraderBook._of_checked(columns)


def _behaviour_columns(codes: np.ndarray, params: BehaviourParams, jitter: np.ndarray | None):
    """Per-trader behaviour parameters; rules a trader does not follow never trigger."""
    ones = np.ones(len(codes))
    j = jitter if jitter is not None else np.ones((4, len(codes)))
    is_top_up = codes == Behaviour.TOP_UP
    return {
        "take_profit_fraction": np.where(
            codes == Behaviour.TAKE_PROFIT, params.take_profit_fraction * j[0], np.inf
        ),
        "stop_loss_fraction": np.where(
            codes == Behaviour.STOP_LOSS,
            np.minimum(params.stop_loss_fraction * j[1], 1.0),
            np.inf,
        ),
        "top_up_probability": np.where(
            is_top_up, np.minimum(params.top_up_probability * j[2], 1.0), 0.0
        ),
        "top_up_fraction": np.where(is_top_up, params.top_up_fraction * ones, 0.0),
        "top_up_margin_ratio": np.where(is_top_up, params.top_up_margin_ratio * ones, 0.0),
        "panic_drawdown": np.where(
            codes == Behaviour.PANIC, np.minimum(params.panic_drawdown * j[3], 0.999), np.inf
        ),
    }


# ----------------------------------------------------------------------------------------------
# Random population
# ----------------------------------------------------------------------------------------------


def _as_market_array(values, name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.ndim != 1 or len(array) == 0:
        raise PopulationError(f"{name} must be one number per market (got shape {array.shape})")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise PopulationError(f"{name} must be positive numbers (got {array.tolist()})")
    return array


def _population_draws(
    n: int, n_markets: int, spec: RandomPopulation, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """All random inputs of a population, drawn in a fixed order (uniforms in [0, 1)).

    Per account (``n``): the number of markets, the collateral normal, whale draws, the
    behaviour and its jitter, isolated or cross, one uniform per market for the choice of
    markets. Then per position (their number follows from the first draw): side, leverage,
    the split of the account's collateral."""
    d = {
        "u_count": rng.random(n),
        "z_collateral": rng.standard_normal(n),
        "u_whale": rng.random(n),
        "u_whale_size": rng.random(n),
        "u_behaviour": rng.random(n),
        "u_jitter": rng.random((4, n)),
        "u_isolated": rng.random(n),
        "u_market": rng.random((n, n_markets)),
    }
    counts = _market_counts(spec, d["u_count"])
    rows = int(counts.sum())
    d["u_side"] = rng.random(rows)
    d["u_leverage"] = rng.random(rows)
    d["u_split"] = rng.random(rows)
    return d


def _market_counts(spec: RandomPopulation, u_count: np.ndarray) -> np.ndarray:
    """Number of markets of each account: inverse CDF of ``markets_per_account``."""
    cumulative = np.cumsum(spec.count_probabilities())
    return np.minimum(np.searchsorted(cumulative, u_count, side="right"), len(cumulative) - 1) + 1


def _leverage_limits(spec: RandomPopulation, max_leverage: np.ndarray) -> np.ndarray:
    return np.minimum(spec.leverage.max, max_leverage)


def _population_from_draws(
    spec: RandomPopulation,
    prices_usd: np.ndarray,
    max_leverage: np.ndarray,
    weights: np.ndarray,
    d: dict[str, np.ndarray],
) -> TraderBook:
    """Vectorized transform of the draws into a book (the kernel)."""
    prices_usd = np.atleast_1d(np.asarray(prices_usd, dtype=float))
    max_leverage = np.atleast_1d(np.asarray(max_leverage, dtype=float))
    counts = _market_counts(spec, d["u_count"])
    n = len(counts)
    # Markets of each account: weighted sampling without replacement by exponential races
    # (the k smallest of -log(U)/w), listed in market order.
    with np.errstate(divide="ignore"):
        keys = -np.log1p(-d["u_market"]) / weights[None, :]
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    chosen = ranks < counts[:, None]
    account, market = np.nonzero(chosen)  # row-major: by account, then market index
    # Account-level draws.
    collateral = spec.collateral_usd.median_usd * np.exp(
        spec.collateral_usd.sigma * d["z_collateral"]
    )
    w = spec.whales
    whale = d["u_whale"] < w.share
    whale_collateral = w.min_collateral_usd * (1.0 - d["u_whale_size"]) ** (-1.0 / w.alpha)
    collateral = np.where(whale, np.minimum(whale_collateral, w.max_collateral_usd), collateral)
    cumulative = np.cumsum(spec.behaviour.weights.as_array())
    codes = np.minimum(np.searchsorted(cumulative, d["u_behaviour"], side="right"), 4)
    jit = spec.behaviour.jitter
    jitter = 1.0 - jit + 2.0 * jit * d["u_jitter"]
    isolated = d["u_isolated"] < spec.isolated_share
    # Position-level draws: the collateral split (flat Dirichlet), side, leverage.
    e = -np.log1p(-d["u_split"])
    e = np.where(e > 0, e, np.finfo(float).tiny)
    share = e / np.bincount(account, weights=e, minlength=n)[account]
    share = np.where(counts[account] == 1, 1.0, share)
    row_collateral = collateral[account] * share
    side = np.where(d["u_side"] < spec.long_share, 1, -1)
    lev = spec.leverage
    alpha = np.where(side > 0, lev.tail_alpha_long, lev.tail_alpha_short or lev.tail_alpha_long)
    limit = _leverage_limits(spec, max_leverage)[market]
    leverage = np.minimum(lev.min * (1.0 - d["u_leverage"]) ** (-1.0 / alpha), limit)
    row_codes = codes[account]
    return TraderBook(
        side=side,
        collateral_usd=row_collateral,
        size_base=row_collateral * leverage / prices_usd[market],
        leverage=leverage,
        behaviour=row_codes,
        account=account,
        market=market,
        isolated=isolated[account],
        **_behaviour_columns(row_codes, spec.behaviour, jitter[:, account]),
    )


def _population_from_draws_python(spec, prices_usd, max_leverage, weights, d) -> list[dict]:
    """Reference version of the kernel, one account and one position at a time with the math
    module (markets chosen by sequential weighted draws of the same exponential keys)."""
    probabilities = spec.count_probabilities().tolist()
    behaviour_weights = spec.behaviour.weights.as_array().tolist()
    rows: list[dict] = []
    r = 0
    for a in range(len(d["u_count"])):
        k, acc = len(probabilities), 0.0
        for c, pr in enumerate(probabilities):
            acc += pr
            if d["u_count"][a] < acc:
                k = c + 1
                break
        keyed = []
        for m, wm in enumerate(weights):
            key = math.inf if wm == 0 else -math.log1p(-d["u_market"][a][m]) / wm
            keyed.append((key, m))
        picked = sorted(m for _, m in sorted(keyed)[:k])
        if d["u_whale"][a] < spec.whales.share:
            collateral = min(
                spec.whales.min_collateral_usd
                * (1 - d["u_whale_size"][a]) ** (-1 / spec.whales.alpha),
                spec.whales.max_collateral_usd,
            )
        else:
            collateral = spec.collateral_usd.median_usd * math.exp(
                spec.collateral_usd.sigma * d["z_collateral"][a]
            )
        code, acc = len(behaviour_weights) - 1, 0.0
        for c, weight in enumerate(behaviour_weights):
            acc += weight
            if d["u_behaviour"][a] < acc:
                code = c
                break
        jit = spec.behaviour.jitter
        f = [1 - jit + 2 * jit * d["u_jitter"][j][a] for j in range(4)]
        isolated = d["u_isolated"][a] < spec.isolated_share
        es = [max(-math.log1p(-d["u_split"][r + j]), 5e-324) for j in range(k)]
        total = sum(es)
        for j, m in enumerate(picked):
            i = r + j
            share = 1.0 if k == 1 else es[j] / total
            side = 1 if d["u_side"][i] < spec.long_share else -1
            alpha = spec.leverage.tail_alpha_long
            if side < 0 and spec.leverage.tail_alpha_short is not None:
                alpha = spec.leverage.tail_alpha_short
            limit = min(spec.leverage.max, max_leverage[m])
            leverage = min(spec.leverage.min * (1 - d["u_leverage"][i]) ** (-1 / alpha), limit)
            p = spec.behaviour
            row_collateral = collateral * share
            rows.append(
                {
                    "account": a,
                    "market": m,
                    "isolated": isolated,
                    "side": side,
                    "collateral_usd": row_collateral,
                    "size_base": row_collateral * leverage / prices_usd[m],
                    "leverage": leverage,
                    "behaviour": code,
                    "take_profit_fraction": p.take_profit_fraction * f[0]
                    if code == 1
                    else math.inf,
                    "stop_loss_fraction": min(p.stop_loss_fraction * f[1], 1)
                    if code == 2
                    else math.inf,
                    "top_up_probability": min(p.top_up_probability * f[2], 1) if code == 3 else 0.0,
                    "top_up_fraction": p.top_up_fraction if code == 3 else 0.0,
                    "top_up_margin_ratio": p.top_up_margin_ratio if code == 3 else 0.0,
                    "panic_drawdown": min(p.panic_drawdown * f[3], 0.999)
                    if code == 4
                    else math.inf,
                }
            )
        r += k
    return rows


def draw_population(
    spec: RandomPopulation,
    prices_usd: float | np.ndarray,
    max_leverage: float | np.ndarray,
    rng: np.random.Generator,
    symbols: list[str] | None = None,
) -> TraderBook:
    """Draw a random population of trader accounts and their positions.

    See :class:`~simulator.scenario.RandomPopulation` for the model: each account holds
    ``k`` positions in ``k`` distinct markets (``markets_per_account``, ``market_weights``),
    its collateral split over them; isolated or cross per account (``isolated_share``).

    Parameters
    ----------
    spec : RandomPopulation
        The scenario's ``traders`` (``kind: random``).
    prices_usd : float or numpy.ndarray
        Price of each market at which positions are opened (USD), shape ``(M,)`` in the
        scenario's market order (a number: one market); ``size = collateral × leverage /
        price``.
    max_leverage : float or numpy.ndarray
        Highest leverage each market accepts (its maximum after the leverage cap), shape
        ``(M,)``; a position's leverage is clipped at ``min(spec.leverage.max, max_leverage[m])``.
    rng : numpy.random.Generator
        Source of randomness; pass ``random_streams(seed).population``.
    symbols : list of str, optional
        The markets' symbols, for ``spec.market_weights`` (required when it is given).

    Returns
    -------
    TraderBook
        One row per position, ``spec.count`` accounts, rows ordered by account then market.

    Raises
    ------
    PopulationError
        Prices or maximum leverages that are not positive numbers, one per market; more
        markets per account than markets with a positive weight; weights given without
        ``symbols``.

    Examples
    --------
    >>> from simulator.scenario import RandomPopulation
    >>> spec = RandomPopulation(kind="random", count=5, long_share=1.0,
    ...                         markets_per_account={2: 1.0})
    >>> book = draw_population(spec, [100.0, 10.0], [10.0, 5.0], np.random.default_rng(0))
    >>> len(book), book.n_accounts, bool((book.leverage <= 10).all())
    (10, 5, True)
    """
    prices = _as_market_array(prices_usd, "prices_usd")
    limits = _as_market_array(max_leverage, "max_leverage")
    if len(limits) != len(prices):
        raise PopulationError(f"max_leverage has {len(limits)} markets, prices_usd {len(prices)}")
    if spec.market_weights is not None and symbols is None:
        raise PopulationError("traders.market_weights needs the markets' symbols")
    weights = spec.market_weight_array(symbols) if symbols is not None else np.ones(len(prices))
    if len(weights) != len(prices):
        raise PopulationError(f"{len(weights)} symbols for {len(prices)} markets")
    top = len(spec.count_probabilities())
    if top > np.count_nonzero(weights):
        raise PopulationError(
            f"traders.markets_per_account reaches {top} markets, but only "
            f"{np.count_nonzero(weights)} markets have a positive weight"
        )
    draws = _population_draws(spec.count, len(prices), spec, rng)
    return _population_from_draws(spec, prices, limits, weights, draws)


# ----------------------------------------------------------------------------------------------
# Explicit book
# ----------------------------------------------------------------------------------------------


def book_from_explicit(
    spec: ExplicitBook,
    prices_usd: float | np.ndarray,
    symbols: list[str] | None = None,
    max_leverage: float | np.ndarray | None = None,
) -> TraderBook:
    """The positions of an explicit book (inline or from its CSV file).

    Parameters
    ----------
    spec : ExplicitBook
        The scenario's ``traders`` (``kind: explicit``); positions without a behaviour hold.
    prices_usd : float or numpy.ndarray
        Open price of each market (USD), shape ``(M,)`` in market order (a number: one
        market), used for the leverage column ``size × price / collateral``.
    symbols : list of str, optional
        The markets' symbols (the ``market`` of each position); default: one market.
    max_leverage : float or numpy.ndarray, optional
        If given (per market), a position above its market's leverage is an error naming it.

    Returns
    -------
    TraderBook
        One row per position in book order; accounts numbered in order of first appearance
        (a position without ``account`` has one of its own).

    Raises
    ------
    PopulationError
        Bad prices, a position above ``max_leverage``, or a book the scenario would refuse
        (a market not listed, two positions of one account in a market, an account over the
        venue's position bound; message naming the row).
    ScenarioError
        The book's CSV file is missing or malformed (names the line).

    Examples
    --------
    >>> from simulator.scenario import ExplicitBook
    >>> spec = ExplicitBook(kind="explicit", positions=[
    ...     {"side": "long", "collateral_usd": 100, "size_base": 1.0}])
    >>> book_from_explicit(spec, 500.0).leverage.tolist()
    [5.0]
    """
    prices = _as_market_array(prices_usd, "prices_usd")
    symbols = list(symbols) if symbols is not None else [f"market {i}" for i in range(len(prices))]
    if len(symbols) != len(prices):
        raise PopulationError(f"{len(symbols)} symbols for {len(prices)} prices")
    positions = spec.load_positions()
    try:
        accounts, markets = book_accounts(spec, symbols)
    except ValueError as exc:
        raise PopulationError(str(exc)) from None
    market = np.asarray(markets, dtype=np.int64)
    side = np.array([1 if p.side == "long" else -1 for p in positions])
    collateral = np.array([p.collateral_usd for p in positions], dtype=float)
    size = np.array([p.size_base for p in positions], dtype=float)
    codes = np.array([BEHAVIOURS.index(p.behaviour or "hold") for p in positions])
    leverage = size * prices[market] / collateral
    if max_leverage is not None:
        limits = np.broadcast_to(np.asarray(max_leverage, dtype=float), prices.shape)[market]
        over = np.flatnonzero(leverage > limits * (1 + 1e-12))
        if len(over):
            i = int(over[0])
            raise PopulationError(
                f"traders position {i + 1} ({positions[i].side} {symbols[market[i]]}, "
                f"collateral_usd={collateral[i]:g}, size_base={size[i]:g}) has leverage "
                f"{leverage[i]:.4g}x at {prices[market[i]]:g} USD, above the maximum "
                f"{limits[i]:g}x"
            )
    return TraderBook(
        side=side,
        collateral_usd=collateral,
        size_base=size,
        leverage=leverage,
        behaviour=codes,
        account=np.asarray(accounts, dtype=np.int64),
        market=market,
        isolated=np.array([p.isolated for p in positions], dtype=bool),
        **_behaviour_columns(codes, spec.behaviour_params, None),
    )


# ----------------------------------------------------------------------------------------------
# Liquidation price
# ----------------------------------------------------------------------------------------------


def liquidation_price_usd(
    side: np.ndarray | int,
    collateral_usd: np.ndarray | float,
    size_base: np.ndarray | float,
    entry_price_usd: np.ndarray | float,
    maintenance_margin_fraction: np.ndarray | float,
) -> np.ndarray:
    """Price at which an isolated position's equity equals its maintenance margin.

    Equity is ``collateral + side·size·(P − entry)``; solving equity = ``mmf·size·P`` gives
    ``P_liq = (entry − side·collateral/size) / (1 − side·mmf)`` (REFERENCES.md, "Liquidation
    price"; the same as Hyperliquid's and dYdX v4's formulas). Fees and funding are ignored.
    A long that cannot be liquidated (``P_liq`` <= 0) gets 0.

    Parameters
    ----------
    side : int or array
        +1 long, -1 short.
    collateral_usd, size_base, entry_price_usd : float or array
        Collateral (USD), size (base units, > 0), entry price (USD).
    maintenance_margin_fraction : float or array
        Maintenance margin as a fraction of notional at the mark price (< 1).

    Returns
    -------
    numpy.ndarray
        Liquidation prices (USD), float64.

    Examples
    --------
    >>> float(liquidation_price_usd(1, 100.0, 1.0, 1000.0, 0.01))
    909.0909090909091
    """
    side = np.asarray(side, dtype=float)
    price = (np.asarray(entry_price_usd, dtype=float) - side * collateral_usd / size_base) / (
        1.0 - side * np.asarray(maintenance_margin_fraction, dtype=float)
    )
    return np.maximum(price, 0.0)


def _liquidation_price_python(side, collateral, size, entry, mmf) -> float:
    """Reference version: solve equity == maintenance margin for P by bisection."""

    def excess(p):
        return collateral + side * size * (p - entry) - mmf * size * p

    if side > 0:
        lo, hi = 0.0, entry
        if excess(lo) >= 0:
            return 0.0
    else:
        lo, hi = entry, entry * 4.0
        while excess(hi) > 0:
            hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (excess(mid) < 0) == (side > 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
