"""The venue's risk controls in the mirror's run: the circuit breaker (:class:`Breaker`) and the
dynamic margin controller (:class:`Controller`), on a
:class:`~simulator.mirror.sim.venue.VenueState`, acting where the chain's contracts act.

The breaker (``VenueMarket.checkBreaker``): a market whose oracle price is more than
``circuitBreakerBandBps`` away from the oracle's TWAP over ``circuitBreakerWindow`` seconds
(``Oracle.twap``) refuses a trade that adds risk (``PerpVenue._trade``, after ``RiskPaused``)
and, with ``liquidationsHaltOnBreaker``, its liquidations (``_loadCross`` for every cross
position in the account's ``_open`` order right after its fresh price, ``liquidateIsolated``
after its fresh price) with ``CircuitBreakerTripped(market, indexPrice, referencePrice,
bandBps)``. The TWAP is the oracle's: the step price its accepted pushes describe since its
creation (the last push of a second wins), averaged over ``[max(now − window, created),
now)`` and rounded down (:func:`twap_of`); the venue's parameters in force are read at every
check (a governance change moves the band).

The controller (``VenueMarginController.pokeMany`` of every market, sent by the engine right
after the oracle pushes of each step, :func:`simulator.engine.oracle.plan_oracle`): each
market's EWMA variance, skew average and target scale (the kernels of
:mod:`simulator.mirror.controls`); a scale that differs from the venue's is set
(``setMarginScale``). The call reads every oracle's ``price()``: one stale oracle reverts the
whole ``pokeMany`` (nothing changes; the transaction still counts). Its state starts when its
parameters are set at deployment (``MarginControlMath.start``: the oracle's latest price and
its time, the skew then, which is 0 before any trade).

Values are WAD in the venue's mode (exact: Python ints, equal to the chain's; fast: floats).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from simulator.mirror import controls as kernels
from simulator.mirror.fixed import BPS
from simulator.mirror.sim import jit_open, scalar
from simulator.mirror.sim.calls import Reverted, error_text
from simulator.mirror.sim.venue import VenueState


def twap_of(history: list[tuple[int, Any]], now: int, window: int, exact_mode: bool) -> Any:
    """``Oracle.twap(window)`` at ``now`` (s) from ``history``: the oracle's (time s, price WAD)
    steps, oldest first, the first its creation (times non-decreasing, one per second)."""
    price = history[-1][1]
    if window == 0:
        return price
    start = max(now - window, history[0][0])
    if start >= now:
        return price
    cumulative: Any = 0
    end = now
    for t, p in reversed(history):
        lo = max(t, start)
        if end > lo:
            cumulative = cumulative + p * (end - lo)
        end = t
        if t <= start:
            break
    elapsed = now - start
    return cumulative // elapsed if exact_mode else cumulative / elapsed


class Breaker:
    """The circuit breaker of every market of ``venue`` (set as its ``breaker``): the oracles'
    histories from their creation at ``created_at_s`` (s) at the venue's listed prices.

    Exact mode keeps each history as a list of (time s, price WAD) tuples; fast mode as
    arrays the compiled opening of a block appends to in place
    (:func:`simulator.mirror.sim.jit_open.open_block`): :attr:`times` (M, capacity) int64,
    :attr:`prices` (M, capacity) float64 and :attr:`count` (M,) entries in use
    (:attr:`history` reads them as the lists)."""

    def __init__(self, venue: VenueState, created_at_s: int):
        self.exact_mode = venue.exact_mode
        n = venue.n_markets
        if self.exact_mode:
            self._history: list[list[tuple[int, Any]]] = [
                [(int(created_at_s), venue.price[m])] for m in range(n)
            ]
        else:
            self.times = np.zeros((n, _FIRST_CAPACITY), dtype=np.int64)
            self.prices = np.zeros((n, _FIRST_CAPACITY))
            self.times[:, 0] = int(created_at_s)
            self.prices[:, 0] = venue.price
            self.count = np.ones(n, dtype=np.int64)
        self._cache: dict[tuple[int, int, int], Any] = {}

    @property
    def history(self) -> list[list[tuple[int, Any]]]:
        """Each market's (time s, price WAD) steps, oldest first (fast mode: read out of the
        arrays, the prices numpy floats as the venue's)."""
        if self.exact_mode:
            return self._history
        return [list(zip(self.times[m, :c].tolist(), self.prices[m, :c], strict=True))
                for m, c in enumerate(self.count.tolist())]  # fmt: skip

    def grow(self) -> None:
        """Fast mode: twice the histories' capacity."""
        n, cap = self.times.shape
        times, prices = np.zeros((n, 2 * cap), dtype=np.int64), np.zeros((n, 2 * cap))
        times[:, :cap], prices[:, :cap] = self.times, self.prices
        self.times, self.prices = times, prices

    def _push(self, m: int, now: int, price: Any) -> None:
        if self.exact_mode:
            h = self._history[m]
            if h[-1][0] == now:
                h[-1] = (now, price)
            else:
                h.append((now, price))
            return
        c = int(self.count[m])
        if self.times[m, c - 1] == now:
            self.prices[m, c - 1] = price
            return
        if c == self.times.shape[1]:
            self.grow()
        self.times[m, c], self.prices[m, c] = now, price
        self.count[m] = c + 1

    def pushed(self, m: int, now: int, price: Any) -> None:
        """An accepted ``pushPrice`` of market ``m`` at ``now`` (the last of a second wins)."""
        self._push(m, now, price)
        self._cache.clear()

    def pushed_many(self, codes: list[int], accepted: int, now: int, prices: Any) -> None:
        """:meth:`pushed` of each market ``m`` whose ``codes[m]`` is ``accepted`` (its push at
        ``now`` accepted), in market order, at its price ``prices[m]`` (the venue's price
        array); ``codes`` may run past the markets."""
        for m in range(len(self._history) if self.exact_mode else len(self.count)):
            if codes[m] == accepted:
                self._push(m, now, prices[m])
        self._cache.clear()

    def reference(self, venue: VenueState, m: int, window: int) -> Any:
        """Market ``m``'s TWAP over ``window`` seconds now (cached per block time)."""
        key = (m, venue.now, window)
        if key not in self._cache:
            if self.exact_mode:
                self._cache[key] = twap_of(self._history[m], venue.now, window, True)
            else:
                self._cache[key] = jit_open.twap(self.times[m], self.prices[m],
                                                 int(self.count[m]), venue.now, window)  # fmt: skip
        return self._cache[key]

    def check(self, venue: VenueState, m: int, *, liquidation: bool = False) -> None:
        """``checkBreaker(market, price)`` (for a liquidation only when the market's
        ``liquidationsHaltOnBreaker``): raises :class:`Reverted` ``CircuitBreakerTripped``."""
        params = venue.params_chain[m][0]
        band = int(params.get("circuitBreakerBandBps", 0))
        if band == 0 or (liquidation and not params.get("liquidationsHaltOnBreaker", False)):
            return
        price = venue.price[m]
        ref = self.reference(venue, m, int(params["circuitBreakerWindow"]))
        move = price - ref if price > ref else ref - price
        if move * BPS > band * ref:
            raise Reverted(error_text("CircuitBreakerTripped", market=m + 1, indexPrice=price,
                                      referencePrice=ref, bandBps=band))  # fmt: skip


_FIRST_CAPACITY = 64
"""Fast mode: the entries a market's history holds before it grows (doubling)."""


def breaker_on(params: list[dict[str, Any]]) -> bool:
    """Whether any market's parameters (chain names) set a breaker band."""
    return any(int(p.get("circuitBreakerBandBps", 0)) for p in params)


class Controller:
    """The dynamic margin controller of every market of ``venue``: ``chain_params`` is
    ``ControllerParams.to_chain()`` (the same for every market), its state started at
    ``started_at_s`` (s) with the oracles' prices of ``priced_at_s`` (s) and an empty book."""

    def __init__(self, venue: VenueState, chain_params: tuple[int, ...], *, started_at_s: int,
                 priced_at_s: int):  # fmt: skip
        n = venue.n_markets
        self.params = kernels.ControllerArrays.from_chain([chain_params] * n,
                                                          exact_mode=venue.exact_mode)  # fmt: skip
        conv = venue.conv
        zero = conv([0] * n)
        self.state = kernels.ControllerState.start(
            venue.price.copy(), conv([int(priced_at_s)] * n), zero, conv([int(started_at_s)] * n)
        )

    def poke_many(self, venue: VenueState) -> kernels.Poke | None:
        """``pokeMany`` of every market at the venue's time: the pokes (None when a stale
        oracle reverts the call; nothing changes then)."""
        stale = venue.now - venue.updated_at > venue.max_age_s
        if stale.any():
            return None
        now = venue.conv([venue.now] * venue.n_markets)
        got = kernels.poke(self.state, self.params, venue.long_oi, venue.short_oi, venue.price,
                           now)  # fmt: skip
        self.state = got.state
        changed = [m for m in range(venue.n_markets)
                   if got.scale[m] != venue.markets.margin_scale[m]]  # fmt: skip
        if changed:
            set_margin_scale(venue, got.scale)
        return got


def set_margin_scale(venue: VenueState, scales: Any) -> None:
    """``setMarginScale`` of every market to ``scales`` (WAD; the venue's margin
    requirements read it from now on)."""
    venue.markets = replace(venue.markets, margin_scale=scales.copy())
    if not venue.exact_mode:
        venue.scalar_params = scalar.params_of(venue.markets)
    venue.version += 1


class Controls:
    """The risk controls of a mirror run (either part None when the scenario has none)."""

    def __init__(self, breaker: Breaker | None, controller: Controller | None):
        self.breaker = breaker
        self.controller = controller

    def poke(self, venue: VenueState) -> int:
        """Phase 1a after the oracle pushes: the controller's ``pokeMany``; the transactions
        sent (1 with a controller, else 0)."""
        if self.controller is None:
            return 0
        self.controller.poke_many(venue)
        return 1


def controls_of(scenario, venue: VenueState, *, oracles_created_at_s: int, listed_at_s: int,
                controller_at_s: int, params=None) -> Controls:  # fmt: skip
    """The :class:`Controls` of ``scenario`` on ``venue`` (listed at ``listed_at_s``): the
    breaker watching it (``venue.breaker``; it checks only a market with a band), the
    controller when
    ``controls.dynamic_margin`` wires it (its parameters set at ``controller_at_s``).
    ``params``: the scenario's venue when the caller holds it (``scenario.venue_params()``)."""
    params = params if params is not None else scenario.venue_params()
    breaker = Breaker(venue, oracles_created_at_s)  # a governance change may set a band later
    venue.breaker = breaker
    controller = None
    if params.controller.enabled:
        controller = Controller(venue, params.controller.to_chain(),
                                started_at_s=controller_at_s, priced_at_s=listed_at_s)  # fmt: skip
    return Controls(breaker, controller)


__all__ = ["Breaker", "Controller", "Controls", "breaker_on", "controls_of", "set_margin_scale",
           "twap_of"]  # fmt: skip
