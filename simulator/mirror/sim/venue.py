"""The venue's state in the mirror (:class:`VenueState`) and the contract calls a run makes on
it: a price push, a trade (``trade`` / ``tradeIsolated`` / ``closePosition``), a deposit, a
cross or isolated liquidation, and the views (``healthOf``, ``isolatedHealth``,
``marketState``, ``fillPrice(market, 0)``).

The state is what the contracts store: per market (M,) the oracle price, open interest,
funding indices, rate and the time of the last accrual, the last marks, the per-block
liquidation cap used, the ledger (fees, penalties, deficits, bad debt); per account and market
(A, M) size, entry, funding snapshot, isolated margin and flag, partial-liquidation mark and
block of the last liquidation; per account (A,) cross collateral; the insurance fund's balance.
Values are WAD in either mode of :mod:`simulator.mirror.fixed` (exact: object arrays of Python
ints, equal to the chain to the wei; fast: float64). In fast mode the per-market and
per-position arrays are rows of a few packed arrays (:data:`~simulator.mirror.sim.jit_calls.
PACKED`, what the compiled trade and liquidation calls take): write them in place, never
rebind them (:meth:`VenueState.begin_block` refuses a rebound one).

The calls live in mixins, one concept each: :mod:`~simulator.mirror.sim.venue_trades`,
:mod:`~simulator.mirror.sim.venue_liquidations`, :mod:`~simulator.mirror.sim.venue_adl`; what
they return in :mod:`~simulator.mirror.sim.calls`. Calls follow the contracts' order of effects (``PerpVenue._trade``,
``VenueLiquidationModule``): funding is accrued into a market's stored state only by a call
that touches the market (a view accrues in memory, :meth:`VenueState.funding`), at the
oracle's price of the moment. A call that the contract would revert changes nothing and
returns the error as the chain's decoder prints it (``Name(arg=value, ...)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from operator import is_, itemgetter
from typing import Any

import numpy as np

from simulator.mirror import fills, funding, health
from simulator.mirror.fixed import BPS, UNIT, exact, fast
from simulator.mirror.markets import MarketArrays, MarketState
from simulator.mirror.sim import jit_calls, scalar
from simulator.mirror.sim.calls import Liquidation, Reverted, error_text, where_sum
from simulator.mirror.sim.venue_adl import AdlMixin
from simulator.mirror.sim.venue_liquidations import LiquidationsMixin
from simulator.mirror.sim.venue_trades import TradesMixin
from simulator.protocol.venue_params import chain_params_rejection
from simulator.units import to_wad

#: The packed arrays and their views' names (:data:`jit_calls.PACKED`) read out of a venue's
#: ``__dict__`` at once (:meth:`VenueState.begin_block`'s identity test).
_PACKED_OBJECTS = itemgetter(
    *[k for packed, names, _ in jit_calls.PACKED for k in (packed, *names)]
)


def _bytes32(name: str) -> bytes:
    """A ``bytes32`` argument as the chain's decoder gives it."""
    return name.encode().ljust(32, b"\0")


_FLOAT_HEALTH_MAX = 100
"""Fast mode: :meth:`VenueState.cross_health` of at most this many positions (accounts ×
markets) runs in plain floats (:meth:`VenueState._cross_health_floats`), more through the
vectorized kernels."""

__all__ = ["Liquidation", "Reverted", "VenueState", "error_text", "where_sum"]

#: Where :func:`scalar.funding_rows` reads the packed arrays: the market floats' rows of the
#: price, the long and short open interest, the stored rate, the long and short index, then the
#: market ints' row of the last accrual's time (an argument, not a global numba would freeze).
_FUNDING_AT = np.array([jit_calls.F_PRICE, jit_calls.F_LONG_OI, jit_calls.F_SHORT_OI,
                        jit_calls.F_RATE, jit_calls.F_LONG_INDEX, jit_calls.F_SHORT_INDEX,
                        jit_calls.I_LAST_FUNDING_TIME], dtype=np.int64)  # fmt: skip


@dataclass
class VenueState(TradesMixin, LiquidationsMixin, AdlMixin):
    """The venue's stored state (see the module docstring); build it with :meth:`listed`."""

    exact_mode: bool
    markets: MarketArrays
    max_long_oi: Any
    max_short_oi: Any
    adl_policy: np.ndarray
    """Per market: ``AdlPolicy`` index (0 none, 1 contracts queue, 2 profit queue, 3 pro rata,
    4 socialized)."""
    max_adl_accounts: np.ndarray
    """Per market: ``maxAdlAccountsPerCall``."""
    max_deviation_bps: np.ndarray
    """Per market: the oracle's largest accepted move per push (bps, 0 = any)."""
    max_age_s: np.ndarray
    """Per market: the oracle's ``maxAge`` (s): a state change reads a price at most this old
    (``freshPrice``) or reverts ``StalePrice``."""
    updated_at: np.ndarray
    """Per market: the time of the oracle's last accepted push (s)."""
    price: Any
    long_oi: Any
    short_oi: Any
    long_index: Any
    short_index: Any
    rate: Any
    last_funding_time: np.ndarray
    last_mark: Any
    previous_mark: Any
    last_mark_block: np.ndarray
    rate_block: np.ndarray
    rate_used: Any
    fees: Any
    penalties: Any
    bad_debt_longs: Any
    bad_debt_shorts: Any
    total_deficit: Any
    paid_by_insurance: Any
    socialized: Any
    """Per market: ``ledger.socializedLoss`` (WAD USD)."""
    adl_contracts: Any
    """(M, 2): ``ledger.adlContractsLongs`` / ``Shorts``: bankrupt contracts queued for the
    contracts queue (WAD base units)."""
    adl_price: Any
    """(M, 2): ``ledger.adlPriceLongs`` / ``Shorts``: their averaged ADL price (WAD)."""
    final_bad_debt: Any
    """(M, 2): ``ledger.finalBadDebtLongs`` / ``Shorts``: bad debt written off as final, no
    ``adl`` call being able to clear it (WAD USD)."""
    adl_price_mode: np.ndarray
    """Per market: ``AdlPriceMode`` (0 bankruptcy price, 1 previous mark)."""
    size: Any
    entry: Any
    snapshot: Any
    margin: Any
    isolated: np.ndarray
    partial_at: np.ndarray
    last_liquidation_block: np.ndarray
    collateral: Any
    fund: Any
    """The insurance fund's balance (WAD, whole collateral units)."""
    pool: Any = 0
    """The venue's counterparty pool (``accounting().pool``, WAD): it pays realized profit and
    funding owed and takes losses, deficits and the fund's cover (``_creditFromPool``)."""
    block: int = 0
    now: int = 0
    risk_paused: np.ndarray | None = None
    """Per market: the guardian paused risk-adding trades (``riskPaused``)."""
    params_chain: list | None = None
    """Per market: its ``MarketParams`` (chain names) and margin tiers, as listed or last set."""
    addresses: list[str] | None = None
    """The accounts' addresses, for the errors' text (``#index`` without them)."""
    scalar_params: list | None = None
    """Fast mode: every market's :class:`~simulator.mirror.sim.scalar.Params` (the one-account
    calls run in plain floats, :mod:`~simulator.mirror.sim.scalar`)."""
    scalar_funding: Any = None
    """Fast mode: the markets' funding parameters (:func:`~simulator.mirror.sim.scalar.
    funding_array`), renewed by :meth:`set_parameters`."""
    open_order: list | None = None
    """Per account: its open markets in the venue's ``_open`` order (:meth:`_track_open`)."""
    breaker: Any = None
    """The circuit breaker (:class:`simulator.mirror.sim.controls.Breaker`: the oracles'
    histories and ``checkBreaker``), None without one."""
    backstop: Any = None
    """The backstop vault (:class:`simulator.mirror.sim.backstop.Vault`: its account row, idle
    assets and shares), None without one."""
    version: int = 0
    """Bumped by every change of a market's price, open interest or stored funding: with
    :attr:`kept`, the key of the cached :meth:`funding`."""
    kept: int = 0
    """Fast mode: the part of :attr:`version` bumped by calls that keep the funding at now (a
    compiled trade or liquidation accrues the markets it moves to now with the cached values
    and changes no other market's funding inputs, so that the funding at now is unchanged):
    the cache holds while ``version - kept`` and :attr:`now` hold."""
    _funding_cache: tuple | None = None
    """(version, now, the funding, then in fast mode its long and short indices as float
    lists or None, and its (3, M) array), :meth:`funding`."""
    _jit_cache: tuple | None = None
    """Fast mode: (the :attr:`scalar_params` they were packed from, the packed parameters
    and tiers, the kernels' scratch outputs), :meth:`jit_buffers`."""

    def address(self, a: int) -> str:
        """Account ``a``'s address as the chain's errors print it."""
        return self.addresses[a] if self.addresses is not None else f"#{a}"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def listed(
        cls,
        params: list[dict[str, Any]],
        tiers: list[list[tuple[int, int, int]]],
        prices_wad: list[int],
        max_deviation_bps: list[int],
        max_age_s: list[int],
        accounts: int,
        fund_wad: int,
        pool_wad: int = 0,
        *,
        listed_at: int,
        exact_mode: bool,
    ) -> VenueState:
        """The venue right after its markets were listed at ``listed_at`` (s) with their
        ``marketParameters`` dicts and tiers (chain integers) at ``prices_wad``, with
        ``accounts`` empty accounts and an insurance fund of ``fund_wad``."""
        conv = exact if exact_mode else fast
        m = len(params)

        def zeros(*shape: int) -> Any:
            return conv(np.zeros(shape, dtype=np.int64))

        return cls(
            exact_mode=exact_mode,
            markets=MarketArrays.from_chain(params, tiers, exact_mode=exact_mode),
            max_long_oi=conv([int(p["maxLongOpenInterest"]) for p in params]),
            max_short_oi=conv([int(p["maxShortOpenInterest"]) for p in params]),
            adl_policy=np.array([int(p["adlPolicy"]) for p in params], dtype=np.int64),
            max_adl_accounts=np.array([int(p["maxAdlAccountsPerCall"]) for p in params]),
            max_deviation_bps=np.array(max_deviation_bps, dtype=np.int64),
            max_age_s=np.array(max_age_s, dtype=np.int64),
            updated_at=np.full(m, listed_at, dtype=np.int64),
            price=conv(prices_wad),
            long_oi=zeros(m),
            short_oi=zeros(m),
            long_index=zeros(m),
            short_index=zeros(m),
            rate=zeros(m),
            last_funding_time=np.full(m, listed_at, dtype=np.int64),
            last_mark=conv(prices_wad),
            previous_mark=zeros(m),
            last_mark_block=np.zeros(m, dtype=np.int64),
            rate_block=np.full(m, -1, dtype=np.int64),
            rate_used=zeros(m),
            fees=zeros(m),
            penalties=zeros(m),
            bad_debt_longs=zeros(m),
            bad_debt_shorts=zeros(m),
            total_deficit=zeros(m),
            paid_by_insurance=zeros(m),
            socialized=zeros(m),
            adl_contracts=zeros(m, 2),
            adl_price=zeros(m, 2),
            final_bad_debt=zeros(m, 2),
            adl_price_mode=np.array([int(p["adlPriceMode"]) for p in params], dtype=np.int64),
            size=zeros(accounts, m),
            entry=zeros(accounts, m),
            snapshot=zeros(accounts, m),
            margin=zeros(accounts, m),
            isolated=np.zeros((accounts, m), dtype=bool),
            partial_at=np.zeros((accounts, m), dtype=np.int64),
            last_liquidation_block=np.full((accounts, m), -1, dtype=np.int64),
            collateral=zeros(accounts),
            params_chain=[(dict(p), list(t)) for p, t in zip(params, tiers, strict=True)],
            fund=conv(fund_wad)[()] if exact_mode else float(fund_wad),
            pool=int(pool_wad) if exact_mode else float(pool_wad),
        )

    def __post_init__(self) -> None:
        if not self.exact_mode:
            if self.scalar_params is None:
                self.scalar_params = scalar.params_of(self.markets)
            if self.scalar_funding is None:
                self.scalar_funding = scalar.funding_array(self.markets)
            self._pack()
            jit_calls.warm()  # the compiled calls loaded here, not in a run's first step

    def _pack(self) -> None:
        """Fast mode: the per-market and per-position arrays the compiled calls read and write
        (:data:`jit_calls.PACKED`) copied into a few packed arrays, each attribute then a view
        of its row (one kernel argument per packed array instead of one per attribute). They
        are written in place from then on; :meth:`begin_block` checks that none was rebound."""
        for packed, names, dtype in jit_calls.PACKED:
            rows = np.array([getattr(self, k) for k in names], dtype=dtype)
            setattr(self, packed, rows)
            for i, k in enumerate(names):
                setattr(self, k, rows[i])

    def __setstate__(self, state: dict) -> None:
        """Unpickled or deep-copied: the packed arrays' views made views again (a pickle
        holds each array apart); the funding cache dropped (its state's open interests are
        the packed views of the venue it was made on)."""
        self.__dict__.update(state)
        self._funding_cache = None
        if not self.exact_mode:
            self._pack()

    def _check_packed(self) -> None:
        """Fast mode: every packed attribute still a view of its packed array (a rebound one
        would leave the compiled calls reading stale values)."""
        for packed, names, _ in jit_calls.PACKED:
            rows = getattr(self, packed)
            for k in names:
                if getattr(self, k).base is not rows:
                    raise RuntimeError(
                        f"fast-mode venue array {k!r} was rebound: write it in place"
                    )

    def jit_buffers(self) -> tuple:
        """Fast mode: what the compiled calls (:mod:`~simulator.mirror.sim.jit_calls`) read
        besides the state: the markets' packed parameters and tiers (repacked when
        :attr:`scalar_params` is replaced), and scratch outputs (``out`` floats, a cross
        liquidation's per-market ``rows`` and its ``order`` of markets closed), and per market
        whether its circuit breaker has a band (``circuitBreakerBandBps`` != 0)."""
        cache = self._jit_cache
        if cache is None or cache[0] is not self.scalar_params:
            params, tiers = jit_calls.pack_params(self.scalar_params,
                                                  self.markets.insurance_fee_share_bps)  # fmt: skip
            n = self.n_markets
            armed = tuple(int(p.get("circuitBreakerBandBps", 0)) != 0
                          for p, _ in (self.params_chain or ()))  # fmt: skip
            cache = (self.scalar_params, params, tiers, np.zeros(jit_calls.N_OUT),
                     np.zeros((jit_calls.N_ROWS, n)), np.zeros(n + 1, dtype=np.int64),
                     armed or (True,) * n)  # fmt: skip
            self._jit_cache = cache
        return cache[1:]

    @property
    def conv(self):
        return exact if self.exact_mode else fast

    @property
    def n_markets(self) -> int:
        return self.markets.count

    def copy(self) -> VenueState:
        """An independent copy of the state (arrays copied; their ints and floats are
        immutable)."""
        arrays = {f.name: getattr(self, f.name).copy() for f in fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}  # fmt: skip
        return replace(self, **arrays, _funding_cache=None)

    def set_parameters(self, m: int, params: dict[str, Any]) -> None:
        """``setMarketParameters(market, params)`` (chain names): market ``m``'s funding accrued
        under the old parameters at its last price, then the new ones in force (its tiers
        kept)."""
        self.accrue(np.arange(self.n_markets) == m)
        self.params_chain[m] = (dict(params), self.params_chain[m][1])
        ps = [p for p, _ in self.params_chain]
        conv = self.conv
        scales = [int(x) for x in self.markets.margin_scale]  # the controller's, kept
        self.markets = MarketArrays.from_chain(ps, [t for _, t in self.params_chain], scales,
                                               exact_mode=self.exact_mode)  # fmt: skip
        if self.exact_mode:
            self.max_long_oi = conv([int(p["maxLongOpenInterest"]) for p in ps])
            self.max_short_oi = conv([int(p["maxShortOpenInterest"]) for p in ps])
        else:  # in place: views of the packed market floats
            self.max_long_oi[:] = conv([int(p["maxLongOpenInterest"]) for p in ps])
            self.max_short_oi[:] = conv([int(p["maxShortOpenInterest"]) for p in ps])
        self.adl_policy = np.array([int(p["adlPolicy"]) for p in ps], dtype=np.int64)
        self.adl_price_mode = np.array([int(p["adlPriceMode"]) for p in ps], dtype=np.int64)
        self.max_adl_accounts = np.array([int(p["maxAdlAccountsPerCall"]) for p in ps])
        if not self.exact_mode:
            self.scalar_params = scalar.params_of(self.markets)
            self.scalar_funding = scalar.funding_array(self.markets)
        self.version += 1

    def guardian(self, m: int, parameter: str, value: Any) -> None:
        """The guardian's call on market ``m`` (tighten only): ``guardianSetMaxLeverage``,
        ``guardianSetMaintenanceMarginFraction`` (each then ``setMarketParameters``'s checks)
        or ``guardianPauseRisk``; raises :class:`Reverted` as the contract."""
        if parameter == "risk_paused":
            if self.risk_paused is None:
                self.risk_paused = np.zeros(self.n_markets, dtype=bool)
            self.risk_paused[m] = True
            return
        name = {"max_leverage": "maxLeverage",
                "maintenance_margin_fraction": "maintenanceMarginFraction"}[parameter]  # fmt: skip
        params, tiers = self.params_chain[m]
        current, proposed = int(params[name]), to_wad(value)
        looser = proposed > current if name == "maxLeverage" else proposed < current
        if looser:
            raise Reverted(error_text("GuardianCannotLoosen", name=_bytes32(name),
                                      current=current, proposed=proposed))  # fmt: skip
        updated = {**params, name: proposed}
        rejected = chain_params_rejection(updated, tiers)
        if rejected is not None:
            raise Reverted(error_text("InvalidParameter", name=_bytes32(rejected[0]),
                                      value=rejected[1]))  # fmt: skip
        self.set_parameters(m, updated)

    def begin_block(self, now: int) -> None:
        """Start the next block at time ``now`` (s). Fast mode: :meth:`_check_packed`'s test,
        in C while the packed arrays and their views are the objects it last passed (a view
        stays its array's: one read of them all, compared by identity), else made again."""
        self.block += 1
        self.now = now
        if not self.exact_mode:
            d = self.__dict__
            seen = d["_packed_seen"] if "_packed_seen" in d else None
            if seen is None or not all(map(is_, _PACKED_OBJECTS(d), seen)):
                self._check_packed_seen()

    def _check_packed_seen(self) -> None:
        """:meth:`begin_block`'s full test (by subscripts): every packed attribute a view of
        its packed array, else RuntimeError; the objects it passed kept for the next block's
        identity test."""
        d = self.__dict__
        for packed, names, _ in jit_calls.PACKED:
            rows = d[packed]
            for k in names:
                if d[k].base is not rows:
                    raise RuntimeError(
                        f"fast-mode venue array {k!r} was rebound: write it in place"
                    )
        d["_packed_seen"] = _PACKED_OBJECTS(d)

    # -- funding ---------------------------------------------------------------------------------

    def stored(self) -> MarketState:
        """The stored funding and open-interest state of every market."""
        return MarketState(self.long_oi, self.short_oi, self.long_index, self.short_index,
                           self.rate)  # fmt: skip

    def funding(self) -> MarketState:
        """Every market's funding accrued to now at the oracle price, in memory (``fundingNow``
        as the views and the health checks compute it), cached while :attr:`now` and
        ``version - kept`` hold.

        Fast mode: one :class:`MarketState` per venue whose funding arrays are the rows of one
        (3, M) array (long index, short index, rate per day) that a recompute overwrites in
        place (one compiled call, :meth:`_funding_now_rows`), and whose open interests are the
        venue's own rows: a call that accrues the markets it moves to now with these values
        and changes nothing else a market's funding reads keeps the cache (it bumps
        :attr:`kept` with :attr:`version`), so that the funding is computed once a block
        (after the oracle's pushes) however many trades and liquidations follow."""
        cache = self._funding_cache
        if cache is not None and cache[0] == self.version - self.kept and cache[1] == self.now:
            return cache[2]
        if self.exact_mode:
            dt = self.conv(self.now - self.last_funding_time)
            f = funding.funding_now(self.markets, self.stored(), self.price, dt)
            self._funding_cache = (self.version - self.kept, self.now, f)
            return f
        if (cache is not None and cache[2].long_funding_index.base is cache[5]
                and cache[2].long_open_interest is self.long_oi):  # fmt: skip
            f, fn = cache[2], cache[5]  # the venue's own: recomputed in place
        else:
            fn = np.empty((3, self.n_markets))
            f = MarketState(self.long_oi, self.short_oi, fn[0], fn[1], fn[2])
        self._funding_now_rows(fn)
        self._funding_cache = (self.version - self.kept, self.now, f, None, None, fn)
        return f

    def _funding_now_rows(self, out: np.ndarray | None = None) -> np.ndarray:
        """Fast mode: :func:`scalar.funding_now` of every market at the current state in one
        compiled call (:func:`scalar.funding_rows`) into ``out`` (3, M: the long index, the
        short index and the rate per day; a new array without it)."""
        if self.scalar_funding is None:
            self.scalar_funding = scalar.funding_array(self.markets)
        if out is None:
            out = np.empty((3, self.n_markets))
        return scalar.funding_rows(self.scalar_funding, self._market_floats, self._market_ints,
                                   self.now, _FUNDING_AT, out)  # fmt: skip

    def funding_now(self) -> tuple[MarketState, np.ndarray]:
        """Fast mode: :meth:`funding` and the funding at now as one (3, M) array (long index,
        short index, rate: the compiled calls' input; its rows are the state's arrays)."""
        cache = self._funding_cache  # funding()'s check inlined: a read a call
        if cache is None or cache[0] != self.version - self.kept or cache[1] != self.now:
            self.funding()
            cache = self._funding_cache
        return cache[2], cache[5]

    def funding_rows(self) -> tuple[MarketState, list, list, np.ndarray]:
        """Fast mode: :meth:`funding`, its long and short indices as float lists (the
        one-account calls' inputs, without a conversion per call; made at the first ask after
        a recompute) and the funding at now as one (3, M) array (:meth:`funding_now`)."""
        f = self.funding()
        cache = self._funding_cache
        if cache[3] is None:
            fn = cache[5]
            cache = self._funding_cache = (*cache[:3], fn[0].tolist(), fn[1].tolist(), fn)
        return f, cache[3], cache[4], cache[5]

    def _keep_funding(self, f: MarketState, li: list | None = None, si: list | None = None):
        """Fast mode: ``f`` (the funding at this block's time before a call) is still every
        market's funding now: the call accrued its markets to now with ``f``'s values (a market
        accrued at now accrues nothing more, whatever its open interest) and changed no other
        market's funding inputs. ``li`` / ``si``: its indices as float lists, if made."""
        cache = self._funding_cache
        if cache is not None and cache[2] is f:
            if li is None:
                li, si = cache[3], cache[4]
            fn = cache[5]
        else:
            fn = np.array([f.long_funding_index, f.short_funding_index,
                           f.funding_rate_per_day], dtype=np.float64)  # fmt: skip
        self._funding_cache = (self.version - self.kept, self.now, f, li, si, fn)

    def accrue(self, mask: np.ndarray, now_state: MarketState | None = None) -> None:
        """``VenueMarket.accrue`` of the markets in ``mask``: store the funding accrued to now
        and track the marks (the last two blocks' prices)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        f = now_state if now_state is not None else self.funding()
        self.version += 1
        if not self.exact_mode:
            self._accrue_in_place(mask, f)
            return
        moved = mask & (self.last_funding_time != self.now)
        if moved.any():
            for name, value in (("long_index", f.long_funding_index),
                                ("short_index", f.short_funding_index),
                                ("rate", f.funding_rate_per_day)):  # fmt: skip
                arr = getattr(self, name).copy()
                arr[moved] = value[moved]
                setattr(self, name, arr)
            self.last_funding_time = np.where(moved, self.now, self.last_funding_time)
        new_block = mask & (self.last_mark_block != self.block)
        if new_block.any():
            prev, last = self.previous_mark.copy(), self.last_mark.copy()
            prev[new_block] = last[new_block]
            last[new_block] = self.price[new_block]
            self.previous_mark, self.last_mark = prev, last
            self.last_mark_block = np.where(new_block, self.block, self.last_mark_block)
        same = mask & ~new_block
        if same.any():
            last = self.last_mark.copy()
            last[same] = self.price[same]
            self.last_mark = last

    def _accrue_in_place(self, mask: np.ndarray, f: MarketState) -> None:
        """Fast mode: :meth:`accrue`'s writes in place (the arrays are packed views)."""
        moved = mask & (self.last_funding_time != self.now)
        if moved.any():
            self.long_index[moved] = f.long_funding_index[moved]
            self.short_index[moved] = f.short_funding_index[moved]
            self.rate[moved] = f.funding_rate_per_day[moved]
            self.last_funding_time[moved] = self.now
        new_block = mask & (self.last_mark_block != self.block)
        if new_block.any():
            self.previous_mark[new_block] = self.last_mark[new_block]
            self.last_mark[new_block] = self.price[new_block]
            self.last_mark_block[new_block] = self.block
        same = mask & ~new_block
        if same.any():
            self.last_mark[same] = self.price[same]

    def _accrue_one(self, m: int, f: MarketState) -> None:
        """Fast mode: :meth:`accrue` of market ``m`` alone with the funding ``f``, in place
        (the same stored values, without masks and array copies)."""
        self.version += 1
        if self.last_funding_time[m] != self.now:
            self.long_index[m] = f.long_funding_index[m]
            self.short_index[m] = f.short_funding_index[m]
            self.rate[m] = f.funding_rate_per_day[m]
            self.last_funding_time[m] = self.now
        if self.last_mark_block[m] != self.block:
            self.previous_mark[m] = self.last_mark[m]
            self.last_mark_block[m] = self.block
        self.last_mark[m] = self.price[m]

    # -- the oracle -------------------------------------------------------------------------

    def push_price(self, m: int, price_wad: int) -> bool:
        """``Oracle.pushPrice``: False (reverted, price kept) when the move exceeds the oracle's
        ``maxDeviationBps``."""
        dev = int(self.max_deviation_bps[m])
        previous = int(self.price[m]) if self.exact_mode else round(float(self.price[m]))
        if dev and abs(price_wad - previous) * BPS > dev * previous:
            return False
        if self.exact_mode:
            price = self.price.copy()
            price[m] = self.conv(price_wad)[()]
            self.price = price
        else:  # in place: a view of the packed market floats
            self.price[m] = float(price_wad)
        self.updated_at[m] = self.now
        self.version += 1
        if self.breaker is not None:
            self.breaker.pushed(m, self.now, self.price[m])
        return True

    def fresh_cross(self, a: int) -> None:
        """``_crossHealth(account, fresh=true)``'s price reads: ``StalePrice`` when any market
        of the account's cross positions has a stale oracle."""
        for j in self.open_markets(a):  # in _open order
            if self.size[a, j] != 0 and not self.isolated[a, j]:
                self.fresh(j)

    def fresh(self, m: int) -> None:
        """``freshPrice`` of market ``m``: raises :class:`Reverted` ``StalePrice`` when the
        oracle's price is older than its ``maxAge``."""
        if self.now - int(self.updated_at[m]) > int(self.max_age_s[m]):
            raise Reverted(error_text("StalePrice", updatedAt=int(self.updated_at[m]),
                                      maxAge=int(self.max_age_s[m]), nowTimestamp=self.now))  # fmt: skip

    # -- views ---------------------------------------------------------------------------------

    def book(self, accounts: np.ndarray) -> health.Book:
        """The accounts' rows as a mirror :class:`~simulator.mirror.health.Book`."""
        a = np.asarray(accounts, dtype=np.int64)
        return health.Book(self.size[a], self.entry[a], self.snapshot[a], self.margin[a],
                           self.isolated[a], self.collateral[a])  # fmt: skip

    def cross_health(
        self, accounts: np.ndarray, state: MarketState | None = None, *, initial: bool = True
    ):
        """``healthOf``: (equity, maintenance, initial) of the accounts' cross positions.
        ``initial=False``: for a reader of equity and maintenance only; the compiled path
        (fast mode, fewer than :data:`jit_calls.HEALTH_MAX_MARKETS` markets) then skips the
        initial margins and gives None for them (the other paths compute them anyway)."""
        if not self.exact_mode and self.price.shape[0] < jit_calls.HEALTH_MAX_MARKETS:
            f = state if state is not None else self.funding()
            rows = np.ascontiguousarray(accounts, dtype=np.int64)
            params, tiers = self.jit_buffers()[:2]
            k = rows.shape[0]
            eq, mm = np.empty(k), np.empty(k)
            im = np.empty(k) if initial else eq  # not written without the initial margins
            c = np.ascontiguousarray
            jit_calls.cross_health(rows, params, tiers, self.price, self._position_floats,
                                   self.isolated, self.collateral,
                                   c(f.long_funding_index, dtype=np.float64),
                                   c(f.short_funding_index, dtype=np.float64),
                                   c(f.long_open_interest, dtype=np.float64),
                                   c(f.short_open_interest, dtype=np.float64), initial, eq, mm,
                                   im)  # fmt: skip
            return eq, mm, (im if initial else None)
        if not self.exact_mode and 0 < len(accounts) * self.n_markets <= _FLOAT_HEALTH_MAX:
            return self._cross_health_floats(accounts, state if state is not None
                                             else self.funding())  # fmt: skip
        h = health.cross_health(self.book(accounts), self.price, self.markets,
                                state if state is not None else self.funding())  # fmt: skip
        return h.equity, h.maintenance, h.initial

    @staticmethod
    def _f64(f: MarketState) -> tuple[np.ndarray, ...]:
        """Fast mode: the funding state's long and short indices and open interest as the
        compiled views take them (contiguous float64; the venue's arrays as they are)."""
        return tuple(np.ascontiguousarray(v, dtype=np.float64) for v in (
            f.long_funding_index, f.short_funding_index, f.long_open_interest,
            f.short_open_interest))  # fmt: skip

    def _cross_health_floats(self, accounts: np.ndarray, f: MarketState):
        """Fast mode: :meth:`cross_health` of a few accounts, each position's terms in plain
        floats (:mod:`~simulator.mirror.sim.scalar`, the kernels' formulas term by term) and
        the sums over markets by numpy on arrays of the kernels' shape, so that the results
        are the kernels' to the bit, without their fixed cost per call."""
        ps, n = self.scalar_params, self.n_markets
        prices = self.price.tolist()
        cache = self._funding_cache
        if cache is not None and cache[2] is f and cache[3] is not None:
            li, si = cache[3], cache[4]
        else:
            li, si = f.long_funding_index.tolist(), f.short_funding_index.tolist()
        lo, so = f.long_open_interest.tolist(), f.short_open_interest.tolist()
        rows = np.asarray(accounts, dtype=np.int64)
        values, mms, ims = [], [], []
        for a in rows.tolist():
            size, iso = self.size[a].tolist(), self.isolated[a].tolist()
            entry, snap = self.entry[a].tolist(), self.snapshot[a].tolist()
            value, mm, im = [0.0] * n, [0.0] * n, [0.0] * n
            for j in range(n):
                s = size[j]
                if s == 0 or iso[j]:
                    continue  # the kernels' where(cross, ..., 0) and where(size == 0, 0, ...)
                p, pj = ps[j], prices[j]
                value[j] = scalar.upnl(s, entry[j], pj) - scalar.owed(s, snap[j], li[j], si[j])
                mm[j] = scalar.maintenance(p, s, pj)
                im[j] = scalar.initial(p, s, pj, lo[j], so[j])
            values.append(value)
            mms.append(mm)
            ims.append(im)
        equity = self.collateral[rows] + np.array(values).sum(axis=-1)
        return equity, np.array(mms).sum(axis=-1), np.array(ims).sum(axis=-1)

    def isolated_health(self, accounts: np.ndarray, markets: np.ndarray, state=None):
        """``isolatedHealth`` of each (account, market) pair: (equity, maintenance)."""
        if not self.exact_mode:  # compiled, pair by pair (the numpy kernels' floats)
            f = state if state is not None else self.funding()
            rows = np.ascontiguousarray(accounts, dtype=np.int64)
            cols = np.ascontiguousarray(markets, dtype=np.int64)
            params, tiers = self.jit_buffers()[:2]
            eq, mm = np.empty(len(rows)), np.empty(len(rows))
            jit_calls.isolated_health(rows, cols, params, tiers, self.price,
                                      self._position_floats, self.isolated,
                                      *self._f64(f)[:2], eq, mm)  # fmt: skip
            return eq, mm
        accounts = np.asarray(accounts, dtype=np.int64)
        markets = np.asarray(markets, dtype=np.int64)
        eq, mm = health.isolated_health(self.book(accounts), self.price, self.markets,
                                        state if state is not None else self.funding())  # fmt: skip
        rows = np.arange(len(accounts))
        return eq[rows, markets], mm[rows, markets]

    def mark(self) -> Any:
        """``fillPrice(market, 0)`` of every market."""
        skew = self.long_oi - self.short_oi
        if not self.exact_mode:  # the kernel's formula market by market, in plain floats
            return np.array([scalar.fill_price(p, price, k, 0.0) for p, price, k in
                             zip(self.scalar_params, self.price.tolist(), skew.tolist(),
                                 strict=True)], dtype=np.float64)  # fmt: skip
        return fills.fill_price(self.price, skew, self.conv([0] * self.n_markets),
                                self.markets.skew_scale)  # fmt: skip

    # -- deposits and trades --------------------------------------------------------------------

    def _whole_units(self, wad: Any) -> Any:
        """``wad`` down to whole collateral units: already so in exact mode (the kernels round
        what goes to the fund); in fast mode floored here, so that the fund holds whole units
        as on chain (a fund of a few units pays a deficit or not as on chain)."""
        return wad if self.exact_mode else math.floor(float(wad) / UNIT) * float(UNIT)

    def _below(self, have: Any, need: Any) -> bool:
        """``have < need`` as the contract compares balances and margins; in fast mode by more
        than a collateral unit (1e-6 USD) or 1e-12 of ``need``: the float residue of sums the
        exact mode holds to the wei (an account that moves all its collateral into isolated
        margins has exactly enough, and exactly 0 left)."""
        if self.exact_mode:
            return bool(have < need)
        return bool(have < need - max(1e-12 * abs(need), UNIT))

    def deposit(self, a: int, units: int) -> Any:
        """``deposit(units)``: the collateral credited (WAD); clears the account's cross
        partial marks when it is healthy after it (``_clearMarksIfHealthy``)."""
        wad = units * UNIT
        if self.exact_mode:
            col = self.collateral.copy()
            col[a] = col[a] + wad
            self.collateral = col
        else:  # in place: the same value, without a copy of every account's collateral
            self.collateral[a] = self.collateral[a] + float(wad)
        marked = (self.partial_at[a] != 0) & ~self.isolated[a]
        if marked.any():
            eq, mm, _ = self.cross_health(np.array([a]), initial=False)
            if not bool(eq[0] < mm[0]):
                self.partial_at[a] = np.where(marked, 0, self.partial_at[a])
        return wad if self.exact_mode else float(wad)

    def deposit_many(self, accounts: np.ndarray, units: np.ndarray) -> Any:
        """:meth:`deposit` of ``units[i]`` (base units, int64) by ``accounts[i]``, in order: the
        collateral credited per call (WAD: exact-mode Python ints, fast-mode floats).

        A deposit writes only its own account's collateral and, when that account has a cross
        partial mark, reads its health. With distinct accounts and no cross partial mark among
        them (a fresh venue's funding: ``partial_at`` is all 0 until a partial liquidation),
        the calls are independent and none reads health, so one vectorized add gives each
        account what its own call would: fast mode ``float(units)·1e12`` is the correctly
        rounded ``float(units·10**12)`` for ``|units| < 2**53`` (both factors exact). Otherwise
        the calls run one by one."""
        accounts = np.asarray(accounts, dtype=np.int64)
        units = np.asarray(units, dtype=np.int64)
        marked = (self.partial_at[accounts] != 0) & ~self.isolated[accounts]
        independent = (
            not marked.any()
            and len(np.unique(accounts)) == len(accounts)
            and (not len(units) or int(np.abs(units).max()) < 2**53)
        )
        if not independent:
            return self._deposit_each(accounts, units)
        if self.exact_mode:
            wad = np.array([int(u) * UNIT for u in units], dtype=object)
            col = self.collateral.copy()
            col[accounts] = col[accounts] + wad
            self.collateral = col
            return wad
        wad = units.astype(np.float64) * float(UNIT)
        self.collateral[accounts] = self.collateral[accounts] + wad  # in place (packed view)
        return wad

    def _deposit_each(self, accounts: np.ndarray, units: np.ndarray) -> Any:
        """:meth:`deposit_many` one call after another (:meth:`deposit`)."""
        got = [self.deposit(int(a), int(u)) for a, u in zip(accounts, units, strict=True)]
        return np.array(got, dtype=object if self.exact_mode else np.float64)

    def _move_oi(self, m: int, old: Any, new: Any, a: int | None = None) -> None:
        """Market ``m``'s open interest moved by a position from ``old`` to ``new`` (account
        ``a``'s: its open markets' order kept as ``_store`` keeps it)."""
        if a is not None:
            self._track_open(a, m, old, new)
        self.version += 1
        long_before, short_before = self.long_oi[m], self.short_oi[m]
        if old > 0:
            self.long_oi[m] = self.long_oi[m] - old
        else:
            self.short_oi[m] = self.short_oi[m] + old
        if new > 0:
            self.long_oi[m] = self.long_oi[m] + new
        else:
            self.short_oi[m] = self.short_oi[m] - new
        if not self.exact_mode:
            self._snap_oi(m, long_before, short_before)

    def open_markets(self, a: int) -> list[int]:
        """Account ``a``'s open markets in ``_open`` order."""
        if self.open_order is None:
            self.open_order = [[] for _ in range(len(self.collateral))]
        return list(self.open_order[a])

    def _track_open(self, a: int, m: int, old: Any, new: Any) -> None:
        """``_open[account]``: a market appended when its position opens, removed by moving
        the last one into its place when it closes (the order the venue walks an account's
        positions in, e.g. a deficit's markets)."""
        if self.open_order is None:
            self.open_order = [[] for _ in range(len(self.collateral))]
        order = self.open_order[a]
        if old == 0 and new != 0:
            order.append(m)
        elif old != 0 and new == 0 and m in order:
            i = order.index(m)
            order[i] = order[-1]
            order.pop()

    def _snap_oi(self, m: int, long_before: float, short_before: float) -> None:
        """Fast mode: an open interest within 1e-12 of its value before a move is the float
        residue of a side emptied (exactly 0 on chain and in exact mode): 0."""
        for side, before in (("long_oi", long_before), ("short_oi", short_before)):
            arr = getattr(self, side)
            if abs(arr[m]) <= 1e-12 * abs(before):
                arr[m] = 0.0
