"""Trader populations as arrays, one row per trader.

:func:`draw_population` draws a random population from a :class:`~simulator.scenario.
RandomPopulation` spec; :func:`book_from_explicit` turns an explicit book into the same
:class:`TraderBook`. Both are vectorized; pure-Python reference versions sit beside the kernels
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
from simulator.scenario import BEHAVIOURS, BehaviourParams, ExplicitBook, RandomPopulation

__all__ = [
    "Behaviour",
    "PopulationError",
    "TraderBook",
    "draw_population",
    "book_from_explicit",
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

    _DTYPES = {
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


def _check_price(price_usd: float) -> float:
    price = float(price_usd)
    if not math.isfinite(price) or price <= 0:
        raise PopulationError(f"open price must be a positive number (got {price_usd})")
    return price


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


def _population_draws(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All random inputs of a population, drawn in a fixed order (uniforms in [0, 1))."""
    return {
        "u_side": rng.random(n),
        "z_collateral": rng.standard_normal(n),
        "u_whale": rng.random(n),
        "u_whale_size": rng.random(n),
        "u_leverage": rng.random(n),
        "u_behaviour": rng.random(n),
        "u_jitter": rng.random((4, n)),
    }


def _leverage_limit(spec: RandomPopulation, max_leverage: float) -> float:
    limit = float(max_leverage)
    if not math.isfinite(limit) or limit <= 0:
        raise PopulationError(f"max_leverage must be a positive number (got {max_leverage})")
    return min(spec.leverage.max, limit)


def _population_from_draws(
    spec: RandomPopulation, price_usd: float, max_leverage: float, d: dict[str, np.ndarray]
) -> TraderBook:
    """Vectorized transform of the draws into a book (the kernel)."""
    side = np.where(d["u_side"] < spec.long_share, 1, -1)
    collateral = spec.collateral_usd.median_usd * np.exp(
        spec.collateral_usd.sigma * d["z_collateral"]
    )
    w = spec.whales
    whale = d["u_whale"] < w.share
    whale_collateral = w.min_collateral_usd * (1.0 - d["u_whale_size"]) ** (-1.0 / w.alpha)
    collateral = np.where(whale, np.minimum(whale_collateral, w.max_collateral_usd), collateral)
    lev = spec.leverage
    alpha = np.where(side > 0, lev.tail_alpha_long, lev.tail_alpha_short or lev.tail_alpha_long)
    leverage = np.minimum(
        lev.min * (1.0 - d["u_leverage"]) ** (-1.0 / alpha), _leverage_limit(spec, max_leverage)
    )
    cumulative = np.cumsum(spec.behaviour.weights.as_array())
    codes = np.minimum(np.searchsorted(cumulative, d["u_behaviour"], side="right"), 4)
    jit = spec.behaviour.jitter
    jitter = 1.0 - jit + 2.0 * jit * d["u_jitter"]
    return TraderBook(
        side=side,
        collateral_usd=collateral,
        size_base=collateral * leverage / price_usd,
        leverage=leverage,
        behaviour=codes,
        **_behaviour_columns(codes, spec.behaviour, jitter),
    )


def _population_from_draws_python(spec, price_usd, max_leverage, d) -> list[dict]:
    """Reference version of the kernel, one trader at a time with the math module."""
    weights = spec.behaviour.weights.as_array().tolist()
    limit = min(spec.leverage.max, max_leverage)
    rows = []
    for i in range(len(d["u_side"])):
        side = 1 if d["u_side"][i] < spec.long_share else -1
        if d["u_whale"][i] < spec.whales.share:
            collateral = min(
                spec.whales.min_collateral_usd
                * (1 - d["u_whale_size"][i]) ** (-1 / spec.whales.alpha),
                spec.whales.max_collateral_usd,
            )
        else:
            collateral = spec.collateral_usd.median_usd * math.exp(
                spec.collateral_usd.sigma * d["z_collateral"][i]
            )
        alpha = spec.leverage.tail_alpha_long
        if side < 0 and spec.leverage.tail_alpha_short is not None:
            alpha = spec.leverage.tail_alpha_short
        leverage = min(spec.leverage.min * (1 - d["u_leverage"][i]) ** (-1 / alpha), limit)
        code, acc = len(weights) - 1, 0.0
        for c, weight in enumerate(weights):
            acc += weight
            if d["u_behaviour"][i] < acc:
                code = c
                break
        jit = spec.behaviour.jitter
        f = [1 - jit + 2 * jit * d["u_jitter"][k][i] for k in range(4)]
        p = spec.behaviour
        rows.append(
            {
                "side": side,
                "collateral_usd": collateral,
                "size_base": collateral * leverage / price_usd,
                "leverage": leverage,
                "behaviour": code,
                "take_profit_fraction": p.take_profit_fraction * f[0] if code == 1 else math.inf,
                "stop_loss_fraction": min(p.stop_loss_fraction * f[1], 1)
                if code == 2
                else math.inf,
                "top_up_probability": min(p.top_up_probability * f[2], 1) if code == 3 else 0.0,
                "top_up_fraction": p.top_up_fraction if code == 3 else 0.0,
                "top_up_margin_ratio": p.top_up_margin_ratio if code == 3 else 0.0,
                "panic_drawdown": min(p.panic_drawdown * f[3], 0.999) if code == 4 else math.inf,
            }
        )
    return rows


def draw_population(
    spec: RandomPopulation, price_usd: float, max_leverage: float, rng: np.random.Generator
) -> TraderBook:
    """Draw a random trader population.

    Parameters
    ----------
    spec : RandomPopulation
        The scenario's ``traders`` (``kind: random``).
    price_usd : float
        Price at which positions are opened (USD); ``size = collateral × leverage / price``.
    max_leverage : float
        Highest leverage the venue accepts (the preset's maximum or the leverage cap); drawn
        leverage is clipped at ``min(spec.leverage.max, max_leverage)``.
    rng : numpy.random.Generator
        Source of randomness; pass ``random_streams(seed).population``.

    Returns
    -------
    TraderBook
        ``spec.count`` traders.

    Raises
    ------
    PopulationError
        ``price_usd`` or ``max_leverage`` is not a positive number.

    Examples
    --------
    >>> from simulator.scenario import RandomPopulation
    >>> spec = RandomPopulation(kind="random", count=5, long_share=1.0)
    >>> book = draw_population(spec, 100.0, 10.0, np.random.default_rng(0))
    >>> len(book), bool((book.side == 1).all()), bool((book.leverage <= 10).all())
    (5, True, True)
    """
    price = _check_price(price_usd)
    _leverage_limit(spec, max_leverage)
    draws = _population_draws(spec.count, rng)
    return _population_from_draws(spec, price, float(max_leverage), draws)


# ----------------------------------------------------------------------------------------------
# Explicit book
# ----------------------------------------------------------------------------------------------


def book_from_explicit(
    spec: ExplicitBook, price_usd: float, max_leverage: float | None = None
) -> TraderBook:
    """The traders of an explicit book (positions inline or from its CSV file).

    Parameters
    ----------
    spec : ExplicitBook
        The scenario's ``traders`` (``kind: explicit``); positions without a behaviour hold.
    price_usd : float
        Open price (USD), used for the leverage column ``size × price / collateral``.
    max_leverage : float, optional
        If given, a position above this leverage is an error naming it.

    Raises
    ------
    PopulationError
        Bad price, or a position above ``max_leverage``.
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
    price = _check_price(price_usd)
    positions = spec.load_positions()
    side = np.array([1 if p.side == "long" else -1 for p in positions])
    collateral = np.array([p.collateral_usd for p in positions], dtype=float)
    size = np.array([p.size_base for p in positions], dtype=float)
    codes = np.array([BEHAVIOURS.index(p.behaviour or "hold") for p in positions])
    leverage = size * price / collateral
    if max_leverage is not None:
        over = np.flatnonzero(leverage > float(max_leverage) * (1 + 1e-12))
        if len(over):
            i = int(over[0])
            raise PopulationError(
                f"traders position {i + 1} ({positions[i].side}, collateral_usd="
                f"{collateral[i]:g}, size_base={size[i]:g}) has leverage {leverage[i]:.4g}x at "
                f"{price:g} USD, above the maximum {float(max_leverage):g}x"
            )
    return TraderBook(
        side=side,
        collateral_usd=collateral,
        size_base=size,
        leverage=leverage,
        behaviour=codes,
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
