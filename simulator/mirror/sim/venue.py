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
ints, equal to the chain to the wei; fast: float64).

Calls follow the contracts' order of effects (``PerpVenue._trade``,
``VenueLiquidationModule``): funding is accrued into a market's stored state only by a call
that touches the market (a view accrues in memory, :meth:`VenueState.funding`), at the
oracle's price of the moment. A call that the contract would revert changes nothing and
returns the error as the chain's decoder prints it (``Name(arg=value, ...)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from simulator.mirror import adl as mirror_adl
from simulator.mirror import fills, funding, health, liquidation, margins
from simulator.mirror.fixed import BPS, UNIT, WAD, exact, fast, mul_div_up
from simulator.mirror.markets import MarketArrays, MarketState
from simulator.mirror.sim import scalar


def where_sum(values: Any, mask: Any) -> Any:
    """The sum of ``values`` where ``mask`` (the mode's zero when none)."""
    total = values[0] * 0
    for v, keep in zip(values, mask, strict=True):
        if keep:
            total = total + v
    return total


class Reverted(Exception):
    """A call the contract reverts: ``str`` is the decoded error, e.g.
    ``NotLiquidatable(account=0x.., equity=.., maintenanceMargin=..)``."""


def error_text(name: str, **args: Any) -> str:
    """A custom error as :class:`simulator.chain.abi.DecodedError` prints it."""
    return f"{name}({', '.join(f'{k}={v}' for k, v in args.items())})"


@dataclass
class Liquidation:
    """What one liquidation call did, for the event rows (WAD values in the mode's type;
    per market closed, in the order the venue closed them)."""

    account: int
    isolated: bool
    markets: list[int] = field(default_factory=list)
    closed: list[Any] = field(default_factory=list)
    """Size closed, signed as ``Liquidated.sizeClosed`` (+ closing a long)."""
    fill: list[Any] = field(default_factory=list)
    penalty: list[Any] = field(default_factory=list)
    full: list[bool] = field(default_factory=list)
    deficits: list[tuple[int, bool, Any, Any, Any, Any]] = field(default_factory=list)
    """``DeficitAttributed`` per market: (market, longs bankrupt, deficit, paid by the fund,
    remaining, charged): ``charged`` is what a socialized loss charged the open interest
    (``AdlExecuted.haircuts``; None: the remaining is bad debt)."""


@dataclass
class VenueState:
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
    addresses: list[str] | None = None
    """The accounts' addresses, for the errors' text (``#index`` without them)."""
    scalar_params: list | None = None
    """Fast mode: every market's :class:`~simulator.mirror.sim.scalar.Params` (the one-account
    calls run in plain floats, :mod:`~simulator.mirror.sim.scalar`)."""
    scalar_funding: Any = None
    """Fast mode: the markets' :class:`~simulator.mirror.sim.scalar.FundingParams`."""
    open_order: list | None = None
    """Per account: its open markets in the venue's ``_open`` order (:meth:`_track_open`)."""
    version: int = 0
    """Bumped by every change of a market's price, open interest or stored funding: the key
    of the cached :meth:`funding`."""
    _funding_cache: tuple | None = None

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
            adl_price_mode=np.array([int(p["adlPriceMode"]) for p in params], dtype=np.int64),
            size=zeros(accounts, m),
            entry=zeros(accounts, m),
            snapshot=zeros(accounts, m),
            margin=zeros(accounts, m),
            isolated=np.zeros((accounts, m), dtype=bool),
            partial_at=np.zeros((accounts, m), dtype=np.int64),
            last_liquidation_block=np.full((accounts, m), -1, dtype=np.int64),
            collateral=zeros(accounts),
            fund=conv(fund_wad)[()] if exact_mode else float(fund_wad),
            pool=int(pool_wad) if exact_mode else float(pool_wad),
        )

    def __post_init__(self) -> None:
        if not self.exact_mode and self.scalar_params is None:
            self.scalar_params = scalar.params_of(self.markets)

    @property
    def conv(self):
        return exact if self.exact_mode else fast

    @property
    def n_markets(self) -> int:
        return self.markets.count

    def copy(self) -> VenueState:
        """An independent copy of the state (arrays copied; their ints and floats are
        immutable)."""
        return replace(self, **{f.name: getattr(self, f.name).copy() for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})  # fmt: skip

    def begin_block(self, now: int) -> None:
        """Start the next block at time ``now`` (s)."""
        self.block += 1
        self.now = now

    # -- funding ---------------------------------------------------------------------------------

    def stored(self) -> MarketState:
        """The stored funding and open-interest state of every market."""
        return MarketState(self.long_oi, self.short_oi, self.long_index, self.short_index,
                           self.rate)  # fmt: skip

    def funding(self) -> MarketState:
        """Every market's funding accrued to now at the oracle price, in memory (``fundingNow``
        as the views and the health checks compute it)."""
        key = (self.now, self.version)
        if self._funding_cache is not None and self._funding_cache[0] == key:
            return self._funding_cache[1]
        if self.exact_mode:
            dt = self.conv(self.now - self.last_funding_time)
            f = funding.funding_now(self.markets, self.stored(), self.price, dt)
        else:
            if self.scalar_funding is None:
                self.scalar_funding = scalar.funding_params_of(self.markets)
            li, si, rate = scalar.funding_now(
                self.scalar_funding, (self.long_oi - self.short_oi).tolist(), self.rate.tolist(),
                self.long_index.tolist(), self.short_index.tolist(), self.price.tolist(),
                (self.now - self.last_funding_time).tolist(),
            )  # fmt: skip
            f = MarketState(self.long_oi, self.short_oi, np.array(li), np.array(si),
                            np.array(rate))  # fmt: skip
        self._funding_cache = (key, f)
        return f

    def accrue(self, mask: np.ndarray, now_state: MarketState | None = None) -> None:
        """``VenueMarket.accrue`` of the markets in ``mask``: store the funding accrued to now
        and track the marks (the last two blocks' prices)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        f = now_state if now_state is not None else self.funding()
        self.version += 1
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

    # -- the oracle -------------------------------------------------------------------------

    def push_price(self, m: int, price_wad: int) -> bool:
        """``Oracle.pushPrice``: False (reverted, price kept) when the move exceeds the oracle's
        ``maxDeviationBps``."""
        dev = int(self.max_deviation_bps[m])
        previous = int(self.price[m]) if self.exact_mode else round(float(self.price[m]))
        if dev and abs(price_wad - previous) * BPS > dev * previous:
            return False
        price = self.price.copy()
        price[m] = self.conv(price_wad)[()] if self.exact_mode else float(price_wad)
        self.price = price
        self.updated_at[m] = self.now
        self.version += 1
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

    def cross_health(self, accounts: np.ndarray, state: MarketState | None = None):
        """``healthOf``: (equity, maintenance, initial) of the accounts' cross positions."""
        h = health.cross_health(self.book(accounts), self.price, self.markets,
                                state if state is not None else self.funding())  # fmt: skip
        return h.equity, h.maintenance, h.initial

    def isolated_health(self, accounts: np.ndarray, markets: np.ndarray, state=None):
        """``isolatedHealth`` of each (account, market) pair: (equity, maintenance)."""
        accounts = np.asarray(accounts, dtype=np.int64)
        markets = np.asarray(markets, dtype=np.int64)
        eq, mm = health.isolated_health(self.book(accounts), self.price, self.markets,
                                        state if state is not None else self.funding())  # fmt: skip
        rows = np.arange(len(accounts))
        return eq[rows, markets], mm[rows, markets]

    def mark(self) -> Any:
        """``fillPrice(market, 0)`` of every market."""
        skew = self.long_oi - self.short_oi
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
        col = self.collateral.copy()
        col[a] = col[a] + (wad if self.exact_mode else float(wad))
        self.collateral = col
        marked = (self.partial_at[a] != 0) & ~self.isolated[a]
        if marked.any():
            eq, mm, _ = self.cross_health(np.array([a]))
            if not bool(eq[0] < mm[0]):
                self.partial_at[a] = np.where(marked, 0, self.partial_at[a])
        return wad if self.exact_mode else float(wad)

    def trade(self, a: int, m: int, delta: Any, *, isolated: bool, margin_delta: Any = 0) -> dict:
        """``_trade`` of ``delta`` (WAD base units, signed) in market ``m`` by account ``a``
        (``tradeIsolated`` with ``margin_delta`` moved into the isolated margin first): the
        ``PositionModified`` fields (``fill``, ``new_size``, ``entry``, ``realized``, ``fee``,
        ``funding``). Raises :class:`Reverted` (nothing changed) as the contract reverts."""
        self.fresh(m)
        if not self.exact_mode:
            return self._trade_fast(a, m, float(delta), isolated, float(margin_delta))
        x = lambda v: self.conv([v])  # noqa: E731
        size0, entry0 = self.size[a, m], self.entry[a, m]
        if size0 != 0 and bool(self.isolated[a, m]) != isolated:
            raise Reverted(error_text("WrongMarginMode", market=m + 1,
                                      isolated=bool(self.isolated[a, m])))  # fmt: skip
        new_size = size0 + delta
        adds_risk = abs(new_size) > abs(size0) or (new_size != 0 and (new_size > 0) != (size0 > 0))
        now_state = self.funding()
        f_long, f_short = now_state.long_funding_index[m], now_state.short_funding_index[m]
        owed = funding.funding_owed(x(size0), x(self.snapshot[a, m]), x(f_long), x(f_short))[0]
        collateral = self.collateral[a]
        margin = self.margin[a, m]
        if isolated:
            margin = margin - owed
        else:
            collateral = collateral - owed
        if margin_delta > 0:
            if self._below(collateral, margin_delta):
                raise Reverted(error_text("InsufficientBalance", available=collateral,
                                          requested=margin_delta))  # fmt: skip
            collateral, margin = collateral - margin_delta, margin + margin_delta
        skew = self.long_oi[m] - self.short_oi[m]
        price = self.price[m]
        fill = fills.fill_price(x(price), x(skew), x(delta), x(self.markets.skew_scale[m]))[0]
        if fill == 0:
            raise Reverted(error_text("InvalidFillPrice", market=m + 1, sizeDelta=delta))
        size1, entry1, realized = (v[0] for v in fills.apply_fill(x(size0), x(entry0), x(delta),
                                                                   x(fill)))  # fmt: skip
        if isolated:
            margin = margin + realized
        else:
            collateral = collateral + realized
        long_oi, short_oi = self.long_oi[m], self.short_oi[m]
        long_before, short_before = long_oi, short_oi
        if size0 > 0:
            long_oi = long_oi - size0
        else:
            short_oi = short_oi + size0
        if size1 > 0:
            long_oi = long_oi + size1
        else:
            short_oi = short_oi - size1
        if long_oi > long_before and long_oi > self.max_long_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=True,
                                      openInterest=long_oi, cap=self.max_long_oi[m]))  # fmt: skip
        if short_oi > short_before and short_oi > self.max_short_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=False,
                                      openInterest=short_oi, cap=self.max_short_oi[m]))  # fmt: skip
        fee = fills.taker_fee(x(delta), x(fill), x(self.markets.taker_fee_bps[m]))[0]
        if isolated:
            margin = margin - fee
        else:
            collateral = collateral - fee
        partial_at = int(self.partial_at[a, m])
        if size1 == 0:
            partial_at = 0
            if isolated:
                if self._below(margin, 0):
                    raise Reverted(error_text("InsufficientMargin", equity=margin, required=0))
                collateral, margin = collateral + margin, margin * 0
        snapshot = f_long if size1 >= 0 else f_short
        # The trade's effects, then the checks on them (a revert undoes everything).
        saved = self._save(a, m)
        self.accrue(np.arange(self.n_markets) == m, now_state)
        self.size[a, m], self.entry[a, m], self.snapshot[a, m] = size1, entry1, snapshot
        self.margin[a, m], self.isolated[a, m] = margin, isolated
        self.partial_at[a, m] = partial_at
        self.collateral[a] = collateral
        self.long_oi[m], self.short_oi[m] = long_oi, short_oi
        self.version += 1
        try:
            self._check_after_trade(a, m, adds_risk, isolated, margin_delta)
        except Reverted:
            self._restore(saved)
            raise
        self._track_open(a, m, size0, size1)
        self.pool = self.pool + owed - realized
        sent, _ = fills.fee_split(x(fee), x(self.markets.insurance_fee_share_bps[m]))
        if fee != 0:
            self.fees[m] = self.fees[m] + fee
            self.fund = self.fund + self._whole_units(sent[0])
        return {"fill": fill, "new_size": size1, "entry": entry1, "realized": realized,
                "fee": fee, "funding": owed}  # fmt: skip

    def _trade_fast(self, a: int, m: int, delta: float, isolated: bool, margin_delta: float):
        """:meth:`trade` in plain floats (fast mode)."""
        p = self.scalar_params[m]
        size0, entry0 = float(self.size[a, m]), float(self.entry[a, m])
        if size0 != 0 and bool(self.isolated[a, m]) != isolated:
            raise Reverted(error_text("WrongMarginMode", market=m + 1,
                                      isolated=bool(self.isolated[a, m])))  # fmt: skip
        new_size = size0 + delta
        adds_risk = abs(new_size) > abs(size0) or (new_size != 0 and (new_size > 0) != (size0 > 0))
        now_state = self.funding()
        li, si = float(now_state.long_funding_index[m]), float(now_state.short_funding_index[m])
        paid = scalar.owed(size0, float(self.snapshot[a, m]), li, si)
        collateral, margin = float(self.collateral[a]), float(self.margin[a, m])
        if isolated:
            margin -= paid
        else:
            collateral -= paid
        if margin_delta > 0:
            if self._below(collateral, margin_delta):
                raise Reverted(error_text("InsufficientBalance", available=collateral,
                                          requested=margin_delta))  # fmt: skip
            collateral, margin = collateral - margin_delta, margin + margin_delta
        long_oi, short_oi = float(self.long_oi[m]), float(self.short_oi[m])
        price = float(self.price[m])
        fill = scalar.fill_price(p, price, long_oi - short_oi, delta)
        if fill == 0:
            raise Reverted(error_text("InvalidFillPrice", market=m + 1, sizeDelta=delta))
        size1, entry1, realized = scalar.apply_fill(size0, entry0, delta, fill)
        if isolated:
            margin += realized
        else:
            collateral += realized
        long_before, short_before = long_oi, short_oi
        long_oi = long_oi - size0 if size0 > 0 else long_oi
        short_oi = short_oi + size0 if size0 <= 0 else short_oi
        long_oi = long_oi + size1 if size1 > 0 else long_oi
        short_oi = short_oi - size1 if size1 <= 0 else short_oi
        if long_oi > long_before and long_oi > self.max_long_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=True,
                                      openInterest=long_oi, cap=self.max_long_oi[m]))  # fmt: skip
        if short_oi > short_before and short_oi > self.max_short_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=False,
                                      openInterest=short_oi, cap=self.max_short_oi[m]))  # fmt: skip
        fee = (abs(delta) * fill / WAD) * p.taker_fee_bps / BPS
        if isolated:
            margin -= fee
        else:
            collateral -= fee
        partial_at = int(self.partial_at[a, m])
        if size1 == 0:
            partial_at = 0
            if isolated:
                if self._below(margin, 0):
                    raise Reverted(error_text("InsufficientMargin", equity=margin, required=0))
                collateral, margin = collateral + margin, 0.0
        saved = self._save(a, m)
        self.accrue(np.arange(self.n_markets) == m, now_state)
        self.size[a, m], self.entry[a, m] = size1, entry1
        self.snapshot[a, m] = li if size1 >= 0 else si
        self.margin[a, m], self.isolated[a, m] = margin, isolated
        self.partial_at[a, m] = partial_at
        self.collateral[a] = collateral
        long_before, short_before = self.long_oi[m], self.short_oi[m]
        self.long_oi[m], self.short_oi[m] = long_oi, short_oi
        self._snap_oi(m, long_before, short_before)
        self.version += 1
        try:
            self._check_after_trade_fast(a, m, adds_risk, isolated, margin_delta)
        except Reverted:
            self._restore(saved)
            raise
        self._track_open(a, m, size0, size1)
        self.pool = self.pool + paid - realized
        if fee != 0:
            self.fees[m] = self.fees[m] + fee
            share = float(self.markets.insurance_fee_share_bps[m])
            self.fund = self.fund + self._whole_units(fee * share / BPS)
        return {"fill": fill, "new_size": size1, "entry": entry1, "realized": realized,
                "fee": fee, "funding": paid}  # fmt: skip

    def _check_after_trade_fast(self, a, m, adds_risk, isolated, margin_delta) -> None:
        f = self.funding()
        li = [float(x) for x in f.long_funding_index]
        si = [float(x) for x in f.short_funding_index]
        ps, size = self.scalar_params, float(self.size[a, m])
        price = float(self.price[m])
        if isolated and size != 0:
            value = scalar.upnl(size, float(self.entry[a, m]), price) - scalar.owed(
                size, float(self.snapshot[a, m]), li[m], si[m])  # fmt: skip
            eq = float(self.margin[a, m]) + value
            need = 0.0
            if adds_risk or margin_delta < 0:
                need = scalar.initial(ps[m], size, price, float(self.long_oi[m]),
                                      float(self.short_oi[m]))  # fmt: skip
            if self._below(eq, need):
                raise Reverted(error_text("InsufficientMargin", equity=eq, required=need))
            if self.partial_at[a, m] != 0 and not eq < scalar.maintenance(ps[m], size, price):
                self.partial_at[a, m] = 0
        self.fresh_cross(a)
        ceq, cmm, cim = float(self.collateral[a]), 0.0, 0.0
        for j in range(self.n_markets):
            sj = float(self.size[a, j])
            if sj == 0 or self.isolated[a, j]:
                continue
            pj = float(self.price[j])
            ceq += scalar.upnl(sj, float(self.entry[a, j]), pj) - scalar.owed(
                sj, float(self.snapshot[a, j]), li[j], si[j])  # fmt: skip
            cmm += scalar.maintenance(ps[j], sj, pj)
            cim += scalar.initial(ps[j], sj, pj, float(self.long_oi[j]), float(self.short_oi[j]))
        required = cim if (not isolated and adds_risk) or (isolated and margin_delta > 0) else 0.0
        if (not isolated or margin_delta > 0) and self._below(ceq, required):
            raise Reverted(error_text("InsufficientMargin", equity=ceq, required=required))
        if not isolated and size != 0 and self.partial_at[a, m] != 0 and not ceq < cmm:
            self.partial_at[a, m] = 0

    def _check_after_trade(self, a: int, m: int, adds_risk: bool, isolated: bool, margin_delta):
        x = lambda v: self.conv([v])  # noqa: E731
        f = self.funding()
        size = self.size[a, m]
        if isolated and size != 0:
            eq, mm = self.isolated_health(np.array([a]), np.array([m]), f)
            need = 0
            if adds_risk or margin_delta < 0:
                sub = replace(f, long_open_interest=x(self.long_oi[m]),
                              short_open_interest=x(self.short_oi[m]))  # fmt: skip
                need = margins.initial_margin(x(size), x(self.price[m]), self.markets.take(
                    np.array([m])), sub)[0]  # fmt: skip
            if self._below(eq[0], need):
                raise Reverted(error_text("InsufficientMargin", equity=eq[0], required=need))
            if self.partial_at[a, m] != 0 and not bool(eq[0] < mm[0]):
                self.partial_at[a, m] = 0
        self.fresh_cross(a)
        ceq, cmm, cim = self.cross_health(np.array([a]), f)
        required = cim[0] if (not isolated and adds_risk) or (isolated and margin_delta > 0) else 0
        if (not isolated or margin_delta > 0) and self._below(ceq[0], required):
            raise Reverted(error_text("InsufficientMargin", equity=ceq[0], required=required))
        if not isolated and size != 0 and self.partial_at[a, m] != 0 and not bool(ceq[0] < cmm[0]):
            self.partial_at[a, m] = 0

    _SAVED = ("long_index", "short_index", "rate", "last_funding_time", "last_mark",
              "previous_mark", "last_mark_block", "long_oi", "short_oi")  # fmt: skip

    def _save(self, a: int, m: int) -> dict:
        out = {k: getattr(self, k).copy() for k in self._SAVED}
        out["account"] = (a, m, self.size[a, m], self.entry[a, m], self.snapshot[a, m],
                          self.margin[a, m], self.isolated[a, m], self.partial_at[a, m],
                          self.collateral[a])  # fmt: skip
        return out

    def _restore(self, saved: dict) -> None:
        for k in self._SAVED:
            setattr(self, k, saved[k])
        self.version += 1
        a, m, size, entry, snap, margin, iso, partial, col = saved["account"]
        self.size[a, m], self.entry[a, m], self.snapshot[a, m] = size, entry, snap
        self.margin[a, m], self.isolated[a, m], self.partial_at[a, m] = margin, iso, partial
        self.collateral[a] = col

    # -- liquidations ---------------------------------------------------------------------------

    def _rate_used(self) -> Any:
        """Each market's per-block liquidation cap used in this block (WAD USD)."""
        return np.where(self.rate_block == self.block, self.rate_used, self.rate_used * 0)

    def _use_rate(self, m: int, closed: Any) -> None:
        """``rateLimited``'s bookkeeping of ``closed`` (WAD base units, > 0) in market ``m``."""
        if self.markets.max_liquidation_notional_per_block[m] == 0:
            return
        used = self._rate_used()
        n = mul_div_up(self.conv([abs(closed)]), self.conv([self.price[m]]), WAD)[0]
        self.rate_used[m] = used[m] + n
        self.rate_block[m] = self.block

    def liquidate(self, a: int) -> Liquidation:
        """``liquidate(account)`` of account ``a``'s cross positions; raises :class:`Reverted`
        (``NoPosition``, ``NotLiquidatable``, ``NothingLiquidatableNow``)."""
        slots = self.open_markets(a)
        for j in slots:  # _loadCross reads every cross position's fresh price, in _open order
            if not self.isolated[a, j]:
                self.fresh(j)
        if not self.exact_mode:
            return self._liquidate_fast(a, slots)
        state = self.funding()
        cross = (self.size[a] != 0) & ~self.isolated[a]
        book = self.book(np.array([a]))
        got = liquidation.liquidate_cross(
            book, self.price, self.markets, state, fund_balance=self.fund, now=self.now,
            partial_at=self.partial_at[a][None, :].astype(object) if self.exact_mode
            else self.partial_at[a][None, :].astype(np.float64),
            liquidated_this_block=(self.last_liquidation_block[a] == self.block)[None, :],
            rate_limit_used=self._rate_used(),
        )  # fmt: skip
        outcome = int(got.outcome[0])
        if outcome != liquidation.OK:
            eq, mm, _ = self.cross_health(np.array([a]), state)
            account = self.address(a)
            if outcome == liquidation.NO_POSITION:
                raise Reverted(error_text("NoPosition", account=account, market=0))
            raise Reverted(error_text(liquidation.OUTCOMES[outcome], account=account,
                                      equity=eq[0], maintenanceMargin=mm[0]))  # fmt: skip
        self.accrue(cross, state)
        owed = funding.funding_owed(book.size, book.snapshot, state.long_funding_index,
                                    state.short_funding_index)  # fmt: skip
        self.pool = self.pool + where_sum(owed[0], cross) - sum(
            got.realized[0, j] for j in range(self.n_markets) if got.rank[0, j])  # fmt: skip
        out = Liquidation(account=a, isolated=False)
        order = sorted((int(got.rank[0, j]), j) for j in range(self.n_markets) if got.rank[0, j])
        for _, j in order:
            old = self.size[a, j]
            new = got.book.size[0, j]
            self._move_oi(j, old, new, a)
            self._use_rate(j, got.closed[0, j])
            self.penalties[j] = self.penalties[j] + got.penalty[0, j]
            self.fund = self.fund + self._whole_units(got.insurance_share[0, j])
            self.partial_at[a, j] = 0 if got.full[0, j] else self.now
            self.last_liquidation_block[a, j] = self.block
            out.markets.append(j)
            out.closed.append(got.closed[0, j] if old > 0 else -got.closed[0, j])
            out.fill.append(got.fill[0, j])
            out.penalty.append(got.penalty[0, j])
            out.full.append(bool(got.full[0, j]))
        self.size[a], self.entry[a] = got.book.size[0], got.book.entry[0]
        self.snapshot[a] = got.book.snapshot[0]
        self.collateral[a] = got.book.collateral[0]
        if got.deficit[0] != 0:
            self.fund = self.fund - got.fund_paid[0]
            self.pool = self.pool - got.deficit[0] + got.fund_paid[0]
            for j in [j for j in slots if cross[j]]:  # the account's markets in _open order
                share = got.deficit_share[0, j]
                if share == 0:
                    continue
                self._absorb(out, int(j), bool(book.size[0, j] > 0), share,
                             got.fund_paid_share[0, j], got.closed[0, j], got.fill[0, j])  # fmt: skip
        return out

    def liquidate_isolated(self, a: int, m: int) -> Liquidation:
        """``liquidateIsolated(account, market)``; raises :class:`Reverted` as the contract."""
        if self.size[a, m] != 0 and self.isolated[a, m]:
            self.fresh(m)  # after NoPosition and WrongMarginMode, as the contract checks
        if not self.exact_mode:
            return self._liquidate_isolated_fast(a, m)
        state = self.funding()
        book = self.book(np.array([a]))
        got = liquidation.liquidate_isolated(
            book, self.price, self.markets, state, fund_balance=self.fund, now=self.now,
            partial_at=self.partial_at[a][None, :].astype(object) if self.exact_mode
            else self.partial_at[a][None, :].astype(np.float64),
            liquidated_this_block=(self.last_liquidation_block[a] == self.block)[None, :],
            rate_limit_used=self._rate_used(),
        )  # fmt: skip
        outcome = int(got.outcome[0, m])
        if outcome != liquidation.OK:
            account = self.address(a)
            if outcome == liquidation.NO_POSITION:
                raise Reverted(error_text("NoPosition", account=account, market=m + 1))
            if outcome == liquidation.WRONG_MARGIN_MODE:
                raise Reverted(error_text("WrongMarginMode", market=m + 1, isolated=False))
            eq, mm = self.isolated_health(np.array([a]), np.array([m]), state)
            raise Reverted(error_text(liquidation.OUTCOMES[outcome], account=account,
                                      equity=eq[0], maintenanceMargin=mm[0]))  # fmt: skip
        self.accrue(np.arange(self.n_markets) == m, state)
        old = self.size[a, m]
        closed = got.closed[0, m]
        owed = funding.funding_owed(self.conv([old]), self.conv([self.snapshot[a, m]]),
                                    self.conv([state.long_funding_index[m]]),
                                    self.conv([state.short_funding_index[m]]))[0]  # fmt: skip
        self.pool = self.pool + owed - got.realized[0, m]
        new = old - closed if old > 0 else old + closed
        self._move_oi(m, old, new, a)
        self._use_rate(m, closed)
        self.penalties[m] = self.penalties[m] + got.penalty[0, m]
        self.fund = self.fund + self._whole_units(got.insurance_share[0, m])
        full = bool(got.full[0, m])
        out = Liquidation(account=a, isolated=True, markets=[m],
                          closed=[closed if old > 0 else -closed], fill=[got.fill[0, m]],
                          penalty=[got.penalty[0, m]], full=[full])  # fmt: skip
        # The position after the call: funding settled, the close applied, the penalty taken.
        _, entry1, _ = fills.apply_fill(self.conv([old]), self.conv([self.entry[a, m]]),
                                        self.conv([new - old]), self.conv([got.fill[0, m]]))  # fmt: skip
        self.size[a, m] = new
        self.entry[a, m] = entry1[0] if new != 0 else entry1[0] * 0
        self.snapshot[a, m] = (state.long_funding_index[m] if new >= 0
                               else state.short_funding_index[m])  # fmt: skip
        self.margin[a, m] = got.margin[0, m]
        self.collateral[a] = self.collateral[a] + got.released[0, m]
        self.partial_at[a, m] = 0 if full else self.now
        self.last_liquidation_block[a, m] = self.block
        if new == 0:
            self.isolated[a, m] = False
        if got.deficit[0, m] != 0:
            self.fund = self.fund - got.fund_paid[0, m]
            self.pool = self.pool - got.deficit[0, m] + got.fund_paid[0, m]
            self._absorb(out, m, bool(old > 0), got.deficit[0, m], got.fund_paid[0, m], closed,
                         got.fill[0, m])  # fmt: skip
        return out

    # -- fast mode's one-account calls in plain floats (:mod:`~simulator.mirror.sim.scalar`) ----

    def _floats(self, a: int) -> tuple[list, list, list]:
        return ([float(x) for x in self.size[a]], [float(x) for x in self.entry[a]],
                [float(x) for x in self.snapshot[a]])  # fmt: skip

    def _liquidate_fast(self, a: int, slots: list[int]) -> Liquidation:
        state = self.funding()
        n = self.n_markets
        size0, entry0, snapshot0 = self._floats(a)
        cross = [bool(size0[j] != 0 and not self.isolated[a, j]) for j in range(n)]
        used = self._rate_used()
        got = scalar.liquidate_cross(
            self.scalar_params, size0, entry0, snapshot0, cross, float(self.collateral[a]),
            [float(x) for x in self.price], [float(x) for x in self.long_oi - self.short_oi],
            [float(x) for x in state.long_funding_index],
            [float(x) for x in state.short_funding_index], float(self.fund), float(self.now),
            [float(x) for x in self.partial_at[a]],
            [bool(x) for x in self.last_liquidation_block[a] == self.block],
            [float(x) for x in used],
        )  # fmt: skip
        if got.error is not None:
            name, eq, mm = got.error
            if name == "NoPosition":
                raise Reverted(error_text("NoPosition", account=self.address(a), market=0))
            raise Reverted(error_text(name, account=self.address(a), equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        self.accrue(np.array(cross), state)
        li = [float(x) for x in state.long_funding_index]
        si = [float(x) for x in state.short_funding_index]
        owed = sum(scalar.owed(size0[j], snapshot0[j], li[j], si[j])
                   for j in range(n) if cross[j])  # fmt: skip
        self.pool = self.pool + owed - sum(got.realized[j] for j in got.order)
        out = Liquidation(account=a, isolated=False)
        for j in got.order:
            old, new = size0[j], got.size[j]
            self._move_oi(j, old, new, a)
            self._use_rate(j, got.closed[j])
            self.penalties[j] = self.penalties[j] + got.penalty[j]
            self.fund = self.fund + self._whole_units(got.insurance[j])
            self.partial_at[a, j] = 0 if got.full[j] else self.now
            self.last_liquidation_block[a, j] = self.block
            out.markets.append(j)
            out.closed.append(got.closed[j] if old > 0 else -got.closed[j])
            out.fill.append(got.fill[j])
            out.penalty.append(got.penalty[j])
            out.full.append(got.full[j])
        for j in range(n):
            if cross[j]:
                self.size[a, j], self.entry[a, j] = got.size[j], got.entry[j]
                self.snapshot[a, j] = (state.long_funding_index[j] if size0[j] >= 0
                                       else state.short_funding_index[j])  # fmt: skip
        self.collateral[a] = got.collateral
        if got.deficit != 0:
            self.fund = self.fund - got.paid
            self.pool = self.pool - got.deficit + got.paid
            for j in [j for j in slots if cross[j]]:  # the account's markets in _open order
                share, paid = got.shares.get(j, (0.0, 0.0))
                if cross[j] and share != 0:
                    self._absorb(out, j, size0[j] > 0, share, paid, got.closed.get(j, 0.0),
                                 got.fill.get(j, 0.0))  # fmt: skip
        return out

    def _liquidate_isolated_fast(self, a: int, m: int) -> Liquidation:
        state = self.funding()
        p = self.scalar_params[m]
        size, entry = float(self.size[a, m]), float(self.entry[a, m])
        account = self.address(a)
        if size == 0:
            raise Reverted(error_text("NoPosition", account=account, market=m + 1))
        if not self.isolated[a, m]:
            raise Reverted(error_text("WrongMarginMode", market=m + 1, isolated=False))
        price = float(self.price[m])
        li, si = float(state.long_funding_index[m]), float(state.short_funding_index[m])
        owed = scalar.owed(size, float(self.snapshot[a, m]), li, si)
        margin = float(self.margin[a, m]) - owed
        eq = margin + scalar.upnl(size, entry, price)
        mm = scalar.maintenance(p, size, price)
        if not eq < mm:
            raise Reverted(error_text("NotLiquidatable", account=account, equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        close = scalar.close_size(p, size, price, float(self.partial_at[a, m]), float(self.now),
                                  bool(self.last_liquidation_block[a, m] == self.block),
                                  float(self._rate_used()[m]))  # fmt: skip
        if not close > 0:
            raise Reverted(error_text("NothingLiquidatableNow", account=account, equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        delta = -close if size > 0 else close
        skew = float(self.long_oi[m] - self.short_oi[m])
        fill = scalar.liquidation_fill(p, price, skew, delta)
        new, entry1, realized = scalar.apply_fill(size, entry, delta, fill)
        margin += realized
        penalty = (close * fill / WAD) * p.penalty_bps / BPS
        left = margin + scalar.upnl(new, entry1, price)
        penalty = 0.0 if left <= 0 else (left if penalty > left else penalty)
        margin -= penalty
        insurance = penalty - penalty * p.keeper_share_bps / BPS
        released = margin if new == 0 and margin >= 0 else 0.0
        # a deficit below a collateral unit is the float residue of an exact 0
        deficit = -margin if new == 0 and margin < -UNIT else 0.0
        margin = 0.0 if new == 0 else margin
        paid = min(scalar.units_up(deficit), float(self.fund))
        full = close == abs(size)
        self.accrue(np.arange(self.n_markets) == m, state)
        self.pool = self.pool + owed - realized
        self._move_oi(m, size, new, a)
        self._use_rate(m, close)
        self.penalties[m] = self.penalties[m] + penalty
        self.fund = self.fund + self._whole_units(insurance)
        out = Liquidation(account=a, isolated=True, markets=[m],
                          closed=[close if size > 0 else -close], fill=[fill],
                          penalty=[penalty], full=[full])  # fmt: skip
        self.size[a, m], self.entry[a, m] = new, entry1
        self.snapshot[a, m] = li if new >= 0 else si
        self.margin[a, m] = margin
        self.collateral[a] = self.collateral[a] + released
        self.partial_at[a, m] = 0 if full else self.now
        self.last_liquidation_block[a, m] = self.block
        if new == 0:
            self.isolated[a, m] = False
        if deficit != 0:
            self.fund = self.fund - paid
            self.pool = self.pool - deficit + paid
            self._absorb(out, m, size > 0, deficit, paid, close, fill)
        return out

    # -- auto-deleveraging ------------------------------------------------------------------------

    def ledgers(self) -> list[dict[str, Any]]:
        """Every market's ledger fields the ADL keeper reads (chain names, WAD integers)."""
        return [
            {"badDebtLongs": int(self.bad_debt_longs[m]), "badDebtShorts": int(self.bad_debt_shorts[m]),
             "adlContractsLongs": int(self.adl_contracts[m, 0]),
             "adlContractsShorts": int(self.adl_contracts[m, 1])}
            for m in range(self.n_markets)
        ]  # fmt: skip

    def _adl_ledger(self, m: int) -> mirror_adl.AdlLedger:
        """Market ``m``'s ADL ledger fields as the kernels take them (arrays of one)."""
        x = self.conv
        return mirror_adl.AdlLedger(
            x([self.bad_debt_longs[m]]), x([self.bad_debt_shorts[m]]),
            x([self.adl_contracts[m, 0]]), x([self.adl_contracts[m, 1]]),
            x([self.adl_price[m, 0]]), x([self.adl_price[m, 1]]),
        )  # fmt: skip

    def _set_adl_ledger(self, m: int, ledger: mirror_adl.AdlLedger) -> None:
        self.bad_debt_longs[m] = ledger.bad_debt_longs[0]
        self.bad_debt_shorts[m] = ledger.bad_debt_shorts[0]
        self.adl_contracts[m, 0] = ledger.adl_contracts_longs[0]
        self.adl_contracts[m, 1] = ledger.adl_contracts_shorts[0]
        self.adl_price[m, 0] = ledger.adl_price_longs[0]
        self.adl_price[m, 1] = ledger.adl_price_shorts[0]

    def _values(self, accounts: np.ndarray, m: int, f: MarketState) -> Any:
        """Each account's value as the ADL call reads it: cross equity, or the isolated
        position's margin + uPnL − funding owed (WAD)."""
        eq, _, _ = self.cross_health(accounts, f)
        ieq, _ = self.isolated_health(accounts, np.full(len(accounts), m), f)
        return np.where(self.isolated[accounts, m], ieq, eq)

    def adl_ranking(self, m: int, accounts: np.ndarray) -> tuple[Any, Any]:
        """``adlRanking(market, accounts)``: (scores, uPnL) at the last price and funding now."""
        accounts = np.asarray(accounts, dtype=np.int64)
        f = self.funding()
        size, entry = self.size[accounts, m], self.entry[accounts, m]
        price = self.price[m]
        pnl = fills.unrealized_pnl(size, entry, price)
        scores = mirror_adl.ranking_score(size, entry, price, self._values(accounts, m, f))
        return scores, pnl

    def adl(self, m: int, longs_bankrupt: bool, accounts: list[int]) -> dict[str, Any]:
        """``adl(market, longsBankrupt, winners)`` (PROFIT_QUEUE, PRO_RATA): the winners'
        haircuts (``AdlHaircut``: account, size closed, price, haircut) and ``AdlExecuted``'s
        fields; raises :class:`Reverted` as the contract does."""
        policy = int(self.adl_policy[m])
        bad = self.bad_debt_longs[m] if longs_bankrupt else self.bad_debt_shorts[m]
        n, most = len(accounts), int(self.max_adl_accounts[m])
        if policy not in (mirror_adl.PROFIT_QUEUE, mirror_adl.PRO_RATA, mirror_adl.CONTRACTS_QUEUE):
            raise Reverted(error_text("AdlPolicyNotCallable", market=m + 1, policy=policy))
        if n == 0 or n > most:
            raise Reverted(error_text("AdlBatchSize", given=n, maximum=most))
        queued = self.adl_contracts[m, 0 if longs_bankrupt else 1]
        if bad == 0 or (policy == mirror_adl.CONTRACTS_QUEUE and queued == 0):
            raise Reverted(error_text("NoDeficit", market=m + 1, longsBankrupt=longs_bankrupt))
        self.fresh(m)
        f = self.funding()
        a = np.asarray(accounts, dtype=np.int64)
        size, entry = self.size[a, m], self.entry[a, m]
        pnl = fills.unrealized_pnl(size, entry, self.price[m])
        for i, w in enumerate(a):  # _winner: eligibility, then the cross value at fresh prices
            if size[i] == 0 or (size[i] > 0) == longs_bankrupt or not pnl[i] > 0:
                break
            if not self.isolated[w, m]:
                self.fresh_cross(int(w))
        owed = funding.funding_owed(size, self.snapshot[a, m], f.long_funding_index[m],
                                    f.short_funding_index[m])  # fmt: skip
        value = self._values(a, m, f)
        ledger = self._adl_ledger(m)
        run = mirror_adl.adl(ledger, np.array([policy]), np.array([longs_bankrupt]),
                             size[None, :], entry[None, :], value[None, :], owed[None, :],
                             self.conv([self.price[m]]), self.conv([self.pool]),
                             max_accounts=np.array([most]))  # fmt: skip
        outcome = int(run.outcome[0])
        if outcome != mirror_adl.OK:
            raise Reverted(self._adl_error(outcome, a, m, size, entry, value))
        self.accrue(np.arange(self.n_markets) == m, f)
        li, si = f.long_funding_index[m], f.short_funding_index[m]
        haircuts = []
        for i, w in enumerate(a):
            old = size[i]
            if self.isolated[w, m]:
                self.margin[w, m] = self.margin[w, m] - owed[i]
            else:
                self.collateral[w] = self.collateral[w] - owed[i]
            self.snapshot[w, m] = li if old >= 0 else si
            if not run.touched[0, i]:
                continue
            new = run.new_size[0, i]
            self._move_oi(m, old, new, int(w))
            self.size[w, m], self.entry[w, m] = new, run.new_entry[0, i]
            if self.isolated[w, m]:
                self.margin[w, m] = self.margin[w, m] + run.credit[0, i]
            else:
                self.collateral[w] = self.collateral[w] + run.credit[0, i]
            if new == 0:
                self.partial_at[w, m] = 0
                if self.isolated[w, m]:
                    self.collateral[w] = self.collateral[w] + self.margin[w, m]
                    self.margin[w, m] = self.margin[w, m] * 0
                    self.isolated[w, m] = False
            haircuts.append((int(w), run.size_closed[0, i], self.price[m], run.haircut[0, i]))
        self._set_adl_ledger(m, run.ledger)
        self.pool = run.pool[0]
        self.fund = self.fund + self._whole_units(run.to_fund[0])
        executed = {k: getattr(run, k)[0] for k in ("deficit", "minimum_haircut", "haircuts",
                                                    "covered", "overshoot", "to_fund",
                                                    "contracts", "notional", "accounts")}  # fmt: skip
        executed["policy"] = policy
        return {"haircuts": haircuts, "executed": executed}

    def _adl_error(self, outcome: int, a, m: int, size, entry, value) -> str:
        """The text of an ``adl`` call's revert (the kernel's outcome, with the contract's
        arguments: the first winner out of order or ineligible)."""
        name = mirror_adl.OUTCOMES[outcome]
        price = self.price[m]
        pnl = fills.unrealized_pnl(size, entry, price)
        if outcome == mirror_adl.INELIGIBLE:
            winners_long = bool(size[0] > 0) if len(size) else True
            for i in range(len(a)):
                if (size[i] > 0) != winners_long or not pnl[i] > 0 or not value[i] > 0:
                    return error_text(name, account=self.address(int(a[i])), size=size[i],
                                      unrealizedPnl=pnl[i])  # fmt: skip
        if outcome == mirror_adl.OUT_OF_ORDER:
            scores = mirror_adl.adl_score(size, entry, price, value)
            previous = 2**256 - 1
            for i, score in enumerate(scores):
                if score > previous:
                    return error_text(name, index=i, previousScore=previous, score=score)
                previous = score
        return f"{name}()"

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

    def _absorb(self, out: Liquidation, m: int, longs: bool, deficit: Any, paid: Any,
                contracts: Any, fill: Any) -> None:  # fmt: skip
        """``_absorbDeficit`` in market ``m`` of a deficit share (the bankrupt position's
        ``contracts`` closed at ``fill``): the ledger, then what the fund left: charged to the
        open interest through both funding indices under SOCIALIZED (``_socialize``:
        ``⌈loss/OI⌉`` per contract, refused when there is no open interest or the charge
        exceeds the last mark), else bad debt of the side, and under CONTRACTS_QUEUE the
        contracts behind it queued at the averaged ADL price (:func:`simulator.mirror.adl.
        absorb_deficit`)."""
        self.total_deficit[m] = self.total_deficit[m] + deficit
        self.paid_by_insurance[m] = self.paid_by_insurance[m] + paid
        remaining = deficit - paid if paid < deficit else deficit * 0
        if not self.exact_mode and remaining < UNIT:
            # Float residue of the fund's whole-unit cover and the shares (the exact
            # remaining is 0 whenever the fund holds the deficit rounded up to a unit).
            remaining = 0.0
        if remaining == 0:
            out.deficits.append((m, longs, deficit, paid, remaining, None))
            return
        if self.adl_policy[m] == mirror_adl.SOCIALIZED:
            charged = self._socialize(m, remaining)
            if charged is not None:
                out.deficits.append((m, longs, deficit, paid, remaining, charged))
                return
        elif self.adl_policy[m] == mirror_adl.CONTRACTS_QUEUE and contracts != 0:
            x = self.conv
            previous = (self.previous_mark[m] if self.last_mark_block[m] == self.block
                        else self.last_mark[m])  # fmt: skip
            got = mirror_adl.absorb_deficit(
                self._adl_ledger(m), np.array([1]), np.array([int(self.adl_price_mode[m])]),
                np.array([longs]), x([deficit]), x([paid]), x([contracts]), x([fill]),
                x([previous]), x([self.long_oi[m] + self.short_oi[m]]), x([self.last_mark[m]]),
            )  # fmt: skip
            self._set_adl_ledger(m, got.ledger)
            out.deficits.append((m, longs, deficit, paid, remaining, None))
            return
        out.deficits.append((m, longs, deficit, paid, remaining, None))
        if longs:
            self.bad_debt_longs[m] = self.bad_debt_longs[m] + remaining
        else:
            self.bad_debt_shorts[m] = self.bad_debt_shorts[m] + remaining

    def _socialize(self, m: int, loss: Any) -> Any:
        """``_socialize``: the loss charged to market ``m``'s open interest (``charged``, WAD),
        or None when refused (no open interest, or a charge above the last mark)."""
        oi = self.long_oi[m] + self.short_oi[m]
        if oi == 0:
            return None
        per_unit = mul_div_up(self.conv([loss]), WAD, self.conv([oi]))[0]
        if per_unit > self.last_mark[m]:
            return None
        self.long_index[m] = self.long_index[m] + per_unit
        self.short_index[m] = self.short_index[m] + per_unit
        self.version += 1
        self.socialized[m] = self.socialized[m] + loss
        return mul_div_up(self.conv([oi]), self.conv([per_unit]), WAD)[0]
