"""Order-flow model: who arrives each step, what they open, and which flow positions close.

The flow's parameters as arrays per kind (:class:`FlowParams`; the model and the intensity
formula: :mod:`simulator.scenario.flow`), the step's random streams (:func:`step_rng`,
:func:`step_generators`), the slots (:func:`slot_book`, :func:`slot_groups`,
:func:`slot_capacity_base`) and the model's decisions in numpy, vectorized over the flow slots
(rows of the book with ``flow_kind >= 0``): :func:`exits`, :func:`market_signals`,
:func:`intensity` and :func:`pick_slots`, each pure. The engines run the same decisions
compiled over the book-wide state, the draws too (:func:`simulator.engine.flow.plan_arrays`
on :mod:`simulator.agents.flow_jit`); ``tests/engine/flow_reference.py`` keeps the step as these
functions composed it (``step_orders``) and ``tests/engine/test_flow_plan.py`` holds the
engine's plan to it, float for float.

Randomness: step ``t``'s draws come from the generator :func:`step_rng` derives from the
scenario's ``flow`` stream (child 4 of the seed) and ``t``, so a step's draws depend only on
the seed and the step (a resumed run draws what the uninterrupted one did; a run gets the
same generators from :func:`step_generators` without a SeedSequence per step). Per step, in
order:
one Poisson count per (kind, market), then four uniforms per slot (ordering key, leverage,
holding time, side), drawn for every slot whatever the state.

Units: prices USD, sizes base units, equity USD, rates fractions (per hour for funding),
times in steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.scenario.flow import FLOW_KINDS, OrderFlow
from simulator.scenario.randomness import StepStream

MOMENTUM, DIP_BUYERS, SHORT_SELLERS, REENTRY, FUNDING_ARBITRAGE = range(len(FLOW_KINDS))
#: ``detail`` of a flow close, by exit code of :func:`exits`.
EXIT_REASONS = ("take_profit", "stop_loss", "hold_expired")
#: Uniform draws per slot per step (ordering key, leverage, holding time, side).
DRAWS_PER_SLOT = 4


def _steps(minutes: float, step_seconds: int) -> int:
    """``minutes`` as a whole number of steps, at least one."""
    return max(1, math.ceil(minutes * 60.0 / step_seconds - 1e-9))


@dataclass(frozen=True)
class FlowParams:
    """The order flow's parameters as arrays per kind (K = 5, :data:`FLOW_KINDS` order) and
    windows in steps."""

    step_hours: float
    lookback_steps: int
    reference_steps: int
    volatility_sensitivity: float
    momentum_sensitivity: float
    min_equity_usd: float
    rate_per_hour: np.ndarray
    """Base arrivals per hour per market (K,)."""
    leverage_min_share: np.ndarray
    leverage_max_share: np.ndarray
    hold_steps: np.ndarray
    """Mean holding time (steps, float) (K,)."""
    take_profit_fraction: np.ndarray
    """Profit / equity at open that closes (inf: never) (K,)."""
    stop_loss_fraction: np.ndarray
    """Loss / equity at open that closes (inf: never) (K,)."""
    cooldown_steps: np.ndarray
    """Steps a slot waits after its position ended (int64) (K,)."""
    min_return: float
    dip_min_fall: float
    short_min_fall: float
    reentry_long_share: float
    min_funding_rate_per_hour: float

    @classmethod
    def from_spec(cls, spec: OrderFlow, step_seconds: int) -> FlowParams:
        """The kernel's parameters of a scenario's ``order_flow`` at ``step_seconds``."""
        kinds = spec.kinds()

        def per_kind(name: str, none=np.inf) -> np.ndarray:
            values = [getattr(k, name) for k in kinds]
            return np.array([none if v is None else v for v in values], dtype=np.float64)

        return cls(
            step_hours=step_seconds / 3600.0,
            lookback_steps=_steps(spec.lookback_minutes, step_seconds),
            reference_steps=_steps(spec.reference_minutes, step_seconds),
            volatility_sensitivity=spec.volatility_sensitivity,
            momentum_sensitivity=spec.momentum_sensitivity,
            min_equity_usd=spec.min_equity_usd,
            rate_per_hour=per_kind("rate_per_hour"),
            leverage_min_share=per_kind("leverage_min_share"),
            leverage_max_share=per_kind("leverage_max_share"),
            hold_steps=per_kind("hold_minutes") * 60.0 / step_seconds,
            take_profit_fraction=per_kind("take_profit_fraction"),
            stop_loss_fraction=per_kind("stop_loss_fraction"),
            cooldown_steps=np.array(
                [math.ceil(k.cooldown_minutes * 60.0 / step_seconds - 1e-9) for k in kinds],
                dtype=np.int64,
            ),
            min_return=spec.momentum.min_return,
            dip_min_fall=spec.dip_buyers.min_fall,
            short_min_fall=spec.short_sellers.min_fall,
            reentry_long_share=spec.reentry.long_share,
            min_funding_rate_per_hour=spec.funding_arbitrage.min_funding_rate_per_hour,
        )


def step_rng(flow_stream: np.random.Generator, t: int) -> np.random.Generator:
    """Step ``t``'s generator: child ``(1, t)`` of the flow stream's seed sequence."""
    seq = flow_stream.bit_generator.seed_seq
    return np.random.default_rng(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 1, int(t)))
    )


def step_generators(flow_stream: np.random.Generator) -> StepStream:
    """Every step's :func:`step_rng` of a run, without a SeedSequence per step:
    ``step_generators(stream).generator(t)`` draws what ``step_rng(stream, t)`` does (one
    generator, reset to step ``t``'s state at each call; see
    :class:`~simulator.scenario.randomness.StepStream`, the oracle's noise's too)."""
    return StepStream(flow_stream.bit_generator.seed_seq, (1,))


def setup_rng(flow_stream: np.random.Generator) -> np.random.Generator:
    """The generator of the slots' setup draws: child ``(0,)`` of the flow stream's seed
    sequence."""
    seq = flow_stream.bit_generator.seed_seq
    return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 0)))


# ----------------------------------------------------------------------------------------------
# Market signals and intensity
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSignals:
    """What the flow reads of each market's recent prices (M,)."""

    ret: np.ndarray
    """Return over the lookback (fraction)."""
    drawdown: np.ndarray
    """Fall from the lookback's peak (fraction, >= 0)."""
    vol_excess: np.ndarray
    """``max(sigma_short / sigma_long - 1, 0)`` of one-step log returns (0 without history)."""


def _std_rows(x: np.ndarray) -> np.ndarray:
    """``x.std(axis=0)`` of a 2-d float array by the same float operations as numpy's
    ``_var`` (sum, divide by the count, squared deviations, sum, divide, square root), without
    its per-call Python overhead (two calls a step)."""
    n = x.shape[0]
    mean = np.add.reduce(x, axis=0, keepdims=True)
    np.true_divide(mean, n, out=mean)
    d = x - mean
    np.multiply(d, d, out=d)
    var = np.add.reduce(d, axis=0)
    np.true_divide(var, n, out=var)
    return np.sqrt(var, out=var)


def _finite_or_zero(x: np.ndarray) -> np.ndarray:
    """``x`` with every non-finite entry 0 (``x`` itself when every entry is finite: the
    signals' arrays are the caller's own)."""
    finite = np.isfinite(x)
    return x if finite.all() else np.where(finite, x, 0.0)


def market_signals(history_usd: np.ndarray, lookback: int, reference: int) -> MarketSignals:
    """Signals from ``history_usd`` (T, M): every market's price at steps 0..now, the last row
    the current one. Fewer rows than a window: the window is what there is. Non-finite prices
    give no signal (0)."""
    p = np.asarray(history_usd, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    now = p[-1]
    w = min(lookback, len(p) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = now / p[-1 - w] - 1.0 if w > 0 else np.zeros(p.shape[1])
        drawdown = 1.0 - now / p[len(p) - 1 - w :].max(axis=0)
        log_p = np.log(p[max(0, len(p) - 1 - reference) :])
        logret = log_p[1:] - log_p[:-1]  # np.diff's own subtraction
        short = logret[-lookback:]
        if len(short) >= 2:
            sigma_short = _std_rows(short)
            sigma_long = _std_rows(logret)
            excess = np.where(sigma_long > 0, sigma_short / sigma_long - 1.0, 0.0)
        else:
            excess = np.zeros(p.shape[1])
    return MarketSignals(
        ret=_finite_or_zero(ret),
        drawdown=np.maximum(_finite_or_zero(drawdown), 0.0),
        vol_excess=np.maximum(_finite_or_zero(excess), 0.0),
    )


def intensity(
    params: FlowParams, signals: MarketSignals, funding_rate_per_hour: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected arrivals this step per (kind, market), shape (K, M), and each kind's side in
    each market (+1 / -1; 0: the slot's own side, for re-entry).

    ``lambda = rate_per_hour × step_hours × (1 + a_vol × vol_excess + a_mom × |ret|) ×
    active``; ``active`` is the kind's trigger (module docstring of
    :mod:`simulator.scenario.flow`). A positive funding rate means longs pay shorts: funding
    arbitrage goes short."""
    ret, dd = signals.ret, signals.drawdown
    rate = np.asarray(funding_rate_per_hour, dtype=np.float64)
    if not np.isfinite(rate).all():  # np.nan_to_num costs ~10 us even on finite rates
        rate = np.nan_to_num(rate)
    n = len(ret)
    # Rows filled in place (one array each, no np.stack of five temporaries).
    active = np.empty((len(FLOW_KINDS), n), dtype=bool)
    abs_ret = np.abs(ret)
    np.logical_and(abs_ret >= params.min_return, ret != 0, out=active[MOMENTUM])
    np.greater_equal(dd, params.dip_min_fall, out=active[DIP_BUYERS])
    np.greater_equal(dd, params.short_min_fall, out=active[SHORT_SELLERS])
    active[REENTRY] = True
    np.greater_equal(np.abs(rate), params.min_funding_rate_per_hour, out=active[FUNDING_ARBITRAGE])
    side = np.empty((len(FLOW_KINDS), n), dtype=np.int8)
    side[MOMENTUM] = np.sign(ret)
    side[DIP_BUYERS] = 1
    side[SHORT_SELLERS] = -1
    side[REENTRY] = 0
    side[FUNDING_ARBITRAGE] = -np.sign(rate)
    boost = (
        1.0
        + params.volatility_sensitivity * signals.vol_excess
        + params.momentum_sensitivity * abs_ret
    )
    lam = params.rate_per_hour[:, None] * params.step_hours * boost[None, :] * active
    return lam, side


# ----------------------------------------------------------------------------------------------
# Arrivals: which idle slots open
# ----------------------------------------------------------------------------------------------


def pick_slots(
    counts: np.ndarray,
    eligible: np.ndarray,
    kind: np.ndarray,
    market: np.ndarray,
    keys: np.ndarray,
    group_of_slot: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The slots that take this step's arrivals, and the arrivals left unfilled.

    ``counts`` (K, M): arrivals per (kind, market); ``eligible`` (R,): idle slots that may
    enter; ``kind`` / ``market`` (R,): each slot's; ``keys`` (R,): uniform ordering keys. Each
    (kind, market) takes its first ``counts[k, m]`` eligible slots in key order. Returns the
    rows (ascending) and the unfilled arrivals per (kind, market), shape (K, M).
    ``group_of_slot`` (R,): each slot's ``kind × M + market`` (int64), fixed for a run
    (:func:`slot_groups`); computed here when not given."""
    counts = np.asarray(counts, dtype=np.int64)
    n_markets = counts.shape[1]
    wanted = counts.ravel()
    rows = eligible.nonzero()[0]  # np.flatnonzero of a 1-d array, without its wrappers
    if group_of_slot is None:
        group = kind[rows].astype(np.int64) * n_markets + market[rows]
    else:
        group = group_of_slot[rows]
    available = np.bincount(group, minlength=counts.size).reshape(counts.shape)
    unfilled = np.maximum(counts - available, 0)
    # Only the groups that have arrivals are ordered (a group's order is its own rows').
    arrived = wanted[group] > 0
    rows, group = rows[arrived], group[arrived]
    order = np.lexsort((keys[rows], group))
    sorted_group = group[order]
    first = sorted_group.searchsorted(sorted_group, side="left")
    position = np.arange(len(order)) - first
    taken = position < wanted[sorted_group]
    picked = rows[order[taken]]
    picked.sort()  # np.sort's own sort, in place on the fresh array
    return picked, unfilled


def slot_groups(kind: np.ndarray, market: np.ndarray, n_markets: int) -> np.ndarray:
    """Each slot's (kind, market) group as :func:`pick_slots` numbers it: ``kind × M +
    market`` (int64)."""
    return kind.astype(np.int64) * n_markets + np.asarray(market, dtype=np.int64)


def pick_slots_reference(counts, eligible, kind, market, keys) -> tuple[list[int], np.ndarray]:
    """Row-by-row version of :func:`pick_slots` for tests."""
    counts = np.asarray(counts)
    chosen: list[int] = []
    unfilled = np.zeros_like(counts)
    for k in range(counts.shape[0]):
        for m in range(counts.shape[1]):
            pool = [r for r in range(len(kind)) if eligible[r] and kind[r] == k and market[r] == m]
            pool.sort(key=lambda r: keys[r])
            chosen += pool[: counts[k, m]]
            unfilled[k, m] = max(counts[k, m] - len(pool), 0)
    return sorted(chosen), unfilled


def exits(
    params: FlowParams,
    kind: np.ndarray,
    size_base: np.ndarray,
    equity_usd: np.ndarray,
    open_equity_usd: np.ndarray,
    exit_step: np.ndarray,
    t: int,
    can_close: np.ndarray,
    ticket_usd: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Open flow positions that close at step ``t`` and why (index into
    :data:`EXIT_REASONS`, first that holds): profit >= take-profit × equity at open, loss >=
    stop-loss × equity at open, holding time over. ``equity_usd``: each row's equity carried
    to this step's price; ``can_close``: its margin unit is above maintenance (else the keepers'
    business); ``ticket_usd``: the take-profit and stop-loss are shares of ``min(equity at
    open, ticket)``, the stake the open used (default: the equity at open)."""
    # Only the open flow positions whose unit may close are judged.
    rows = ((kind >= 0) & (size_base > 0) & can_close).nonzero()[0]
    k = kind[rows]
    open_equity = open_equity_usd[rows]
    profit = equity_usd[rows] - open_equity
    stake = open_equity if ticket_usd is None else np.minimum(open_equity, ticket_usd[rows])
    with np.errstate(invalid="ignore"):
        tp = profit >= params.take_profit_fraction[k] * stake
        sl = -profit >= params.stop_loss_fraction[k] * stake
    held = t >= exit_step[rows]
    closing = tp | sl | held
    rows, tp, sl = rows[closing], tp[closing], sl[closing]
    reason = np.where(tp, 0, np.where(sl, 1, 2)).astype(np.int8)
    return rows, reason


# ----------------------------------------------------------------------------------------------
# Slots
# ----------------------------------------------------------------------------------------------


def slot_book(spec: OrderFlow, n_markets: int, rng: np.random.Generator):
    """The flow slots as a :class:`~simulator.population.TraderBook`: per kind (in
    :data:`FLOW_KINDS` order), per market, ``slots_per_market`` rows, each its own cross
    account (numbered 0..), flat (``size_base`` 0, ``flow_kind`` k), holding (no behaviour of
    the opening book's applies), collateral lognormal with the kind's median and sigma (one
    standard normal per slot from ``rng``, in row order)."""
    from simulator.population import Behaviour, TraderBook

    kinds = spec.kinds()
    per_kind = [k.slots_per_market * n_markets for k in kinds]
    total = sum(per_kind)
    kind = np.repeat(np.arange(len(kinds)), per_kind)
    market = np.concatenate(
        [np.repeat(np.arange(n_markets), k.slots_per_market) for k in kinds]
    ).astype(np.int64)
    median = np.array([k.collateral_usd.median_usd for k in kinds])[kind]
    sigma = np.array([k.collateral_usd.sigma for k in kinds])[kind]
    collateral = median * np.exp(sigma * rng.standard_normal(total))
    never = np.full(total, np.inf)
    zero = np.zeros(total)
    return TraderBook(
        side=np.ones(total),
        collateral_usd=collateral,
        size_base=zero,
        leverage=zero,
        behaviour=np.full(total, int(Behaviour.HOLD)),
        take_profit_fraction=never,
        stop_loss_fraction=never,
        top_up_probability=zero,
        top_up_fraction=zero,
        top_up_margin_ratio=zero,
        panic_drawdown=never,
        account=np.arange(total),
        market=market,
        isolated=np.zeros(total, dtype=bool),
        flow_kind=kind,
    )


def slot_capacity_base(
    spec: OrderFlow, book, max_leverage: np.ndarray, prices_usd: np.ndarray
) -> np.ndarray:
    """Per market (M,): the largest size the flow slots could hold at once at ``prices_usd``
    (every slot at its collateral × the kind's ``leverage_max_share`` × the market's maximum
    leverage; base units). The world gives the pool's hedger this much more inventory."""
    flat = np.flatnonzero(book.start_flat)
    share = np.array([k.leverage_max_share for k in spec.kinds()])[book.flow_kind[flat]]
    m = book.market[flat]
    notional = book.collateral_usd[flat] * share * np.asarray(max_leverage)[m]
    return np.bincount(m, weights=notional / np.asarray(prices_usd)[m], minlength=len(prices_usd))
