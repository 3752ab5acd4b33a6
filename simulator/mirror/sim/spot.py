"""The spot AMMs on the mirror and phase 3b: arbitrageurs, then the pool's hedger, on every
market's constant-product pool, as :func:`simulator.engine.spot.plan_spot` plans them on chain.

:class:`SpotBook` holds what the chain holds of the spot side: every pool's reserves
(collateral base units, base-token units of 1e-18) and fee (bps), seeded as
:func:`simulator.protocol.venue_deploy.deploy_multi_venue` adds the liquidity, and the token
balances of the arbitrageurs and the hedger as :func:`simulator.world.build_world` mints them
(collateral, one token for all markets; each market's base token). Calls are executed with the
contract's math (:mod:`simulator.mirror.amm`, equal to ``SpotAMM.sol`` to the unit) in both
mirror modes: the pools are a few integers a step. A swap beyond what its sender holds reverts
(the token's ``transferFrom``), as does one the pool refuses (``ZeroAmount``, ``NoLiquidity``,
``InsufficientOutput``) and a removal beyond a reserve; a reverted call changes nothing.

The phase itself (:func:`run_phase`) runs on the compiled plan's rows
(:func:`simulator.engine.spot.plan_swaps`, what the chain engine's
:func:`~simulator.engine.spot.plan_spot` sends as calls), executed by :meth:`SpotBook.swap_rows`
with the integers the chain receives, the agents' inventories moved by the fills as the chain
engine decodes the ``Swap`` events (:func:`~simulator.engine.jit_spot.apply_fills`). The other
planners address the pools as on chain: ``ctx.venue.amms`` holds an :class:`AmmHandle` per
market id, whose ``swap`` / ``remove_liquidity`` return a :class:`SpotCall` (executed by
:meth:`SpotBook.execute`) where the chain's wrapper returns a transaction. The phase's inputs
are what the chain engine reads (:func:`spot_inputs`: the pending block's market state and
reserves, or the estimate :func:`simulator.engine.spot.spot_inputs_after_closes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np

from simulator.engine import jit_spot
from simulator.engine import spot as engine_spot
from simulator.engine.context import Context
from simulator.engine.state import EngineState
from simulator.mirror import amm, jit_amm
from simulator.mirror.sim import backstop
from simulator.mirror.sim.levels import floats
from simulator.mirror.sim.venue import VenueState
from simulator.units import USD_UNITS, WAD, to_units, to_wad
from simulator.world import World

#: The address the venue's deployer (the pools' owner, where LP withdrawals go) has here.
DEPLOYER = "deployer"


class SpotCall(NamedTuple):
    """One call on market ``market``'s pool: a ``swap`` (``amount``: in, collateral units or
    base-token units; ``base_in``) or a ``removeLiquidity`` (``amount`` collateral units,
    ``base_amount`` base-token units), sent by ``sender``."""

    method: str
    market: int
    sender: str
    amount: int
    base_in: bool = False
    base_amount: int = 0
    min_amount_out: int = 0


class AmmHandle:
    """Market ``market``'s pool as the engine's planners address it (``ctx.venue.amms[id]``,
    the :class:`simulator.protocol.contracts.SpotAMM` wrapper's signatures)."""

    def __init__(self, market: int):
        self.market = market

    def swap(self, sender: str, base_in: bool, amount_in: int, min_amount_out: int = 0,
             to: str | None = None) -> SpotCall:  # fmt: skip
        """``swap(baseIn, amountIn, minAmountOut, to)`` (the output goes to ``sender``, as
        every agent of the engine sends it)."""
        return SpotCall("swap", self.market, sender, int(amount_in), bool(base_in),
                        min_amount_out=int(min_amount_out))  # fmt: skip

    def remove_liquidity(self, sender: str, collateral_units: int, base_amount: int,
                         to: str) -> SpotCall:  # fmt: skip
        """``removeLiquidity(collateralAmount, baseAmount, to)`` (owner only)."""
        return SpotCall("remove_liquidity", self.market, sender, int(collateral_units),
                        base_amount=int(base_amount))  # fmt: skip


@dataclass
class IntBook:
    """The pools' reserves and fees and the spot agents' token balances (see the module
    docstring) in Python ints, as on chain: :class:`SpotBook`'s form for what its compiled
    digits do not cover (a value of 2**150 or more, a fee of 100% or more, an agent at two
    roles), and the reference its tests hold it to."""

    reserve_collateral: list[int]
    """Per market: the pool's collateral reserve (collateral base units, 1e-6 USD)."""
    reserve_base: list[int]
    """Per market: the pool's base reserve (base-token units, 1e-18)."""
    fee_bps: list[int]
    collateral: dict[str, int] = field(default_factory=dict)
    """Collateral tokens by holder (base units)."""
    base: dict[tuple[str, int], int] = field(default_factory=dict)
    """Market ``m``'s base tokens by (holder, m) (1e-18 units)."""

    def execute(self, call: SpotCall) -> Any:
        """Apply ``call``; returns what the chain engine decodes of its receipt (``ok``, and a
        ``Swap`` event with ``baseIn``, ``amountIn``, ``amountOut`` for a swap that went
        through)."""
        m = call.market
        rc, rb = self.reserve_collateral[m], self.reserve_base[m]
        if call.method == "remove_liquidity":
            rc2, rb2, ok = amm.remove_liquidity(
                _obj(rc), _obj(rb), _obj(call.amount), _obj(call.base_amount)
            )
            if bool(ok):
                self.reserve_collateral[m], self.reserve_base[m] = int(rc2), int(rb2)
                self.collateral[call.sender] = self.collateral.get(call.sender, 0) + call.amount
                key = (call.sender, m)
                self.base[key] = self.base.get(key, 0) + call.base_amount
            return SimpleNamespace(ok=bool(ok), events=[])
        out, rc2, rb2, outcome = amm.swap_int(
            bool(call.base_in), int(call.amount), int(rc), int(rb), int(self.fee_bps[m]),
            int(call.min_amount_out),
        )  # fmt: skip
        key = (call.sender, m)
        held = self.base.get(key, 0) if call.base_in else self.collateral.get(call.sender, 0)
        if outcome != amm.OK or held < call.amount:
            return SimpleNamespace(ok=False, events=[])
        self.reserve_collateral[m], self.reserve_base[m] = rc2, rb2
        if call.base_in:
            self.base[key] = held - call.amount
            self.collateral[call.sender] = self.collateral.get(call.sender, 0) + out
        else:
            self.collateral[call.sender] = held - call.amount
            self.base[key] = self.base.get(key, 0) + out
        swap = SimpleNamespace(
            name="Swap", args={"baseIn": call.base_in, "amountIn": call.amount, "amountOut": out}
        )
        return SimpleNamespace(ok=True, events=[swap])

    def swap_rows_python(
        self, rows: np.ndarray, arbitrageurs: list[str], hedger: str
    ) -> list[tuple[int, int, float, float]]:
        """Execute the planned swaps ``rows`` (:data:`~simulator.engine.jit_spot.SWAP_COLUMNS`,
        the block's order; ``who`` indexes ``arbitrageurs``, or is the ``hedger``), each sent
        with the integer amount the chain engine sends
        (:func:`simulator.engine.spot.swap_amount`), as :meth:`execute` executes a ``swap``
        call: the contract's math, a revert (the pool's, or beyond the sender's tokens)
        changing nothing. Returns the fills of the swaps that went through: (market, who, USD
        received, base received), negative where paid, the ``Swap`` event's integers as
        :func:`simulator.engine.events.update_inventories` converts them."""
        fills = []
        reserve_collateral, reserve_base, fee_bps = (
            self.reserve_collateral,
            self.reserve_base,
            self.fee_bps,
        )
        collateral, base = self.collateral, self.base
        for market, who, base_in, amount_in, capped in rows.tolist():
            m, n = int(market), int(who)
            sender = hedger if n == jit_spot.HEDGER else arbitrageurs[n]
            selling = base_in > 0
            amount = engine_spot.swap_amount(selling, amount_in, capped > 0)
            out, rc, rb, outcome = amm.swap_int(
                selling, amount, reserve_collateral[m], reserve_base[m], fee_bps[m]
            )
            key = (sender, m)
            held = base.get(key, 0) if selling else collateral.get(sender, 0)
            if outcome != amm.OK or held < amount:
                continue
            reserve_collateral[m], reserve_base[m] = rc, rb
            if selling:
                base[key] = held - amount
                collateral[sender] = collateral.get(sender, 0) + out
                fills.append((m, n, out / USD_UNITS, -(amount / WAD)))
            else:
                collateral[sender] = held - amount
                base[key] = base.get(key, 0) + out
                fills.append((m, n, -(amount / USD_UNITS), out / WAD))
        return fills

    def levels(self) -> dict[str, np.ndarray]:
        """The reserves and price as the chain engine parses ``reserves()``
        (:func:`simulator.engine.levels.parse_markets`): USD, base units, USD per base unit
        (NaN for an empty pool)."""
        # from_units / from_wad of each reserve, inlined (the same correctly rounded division).
        reserve_usd = [r / USD_UNITS for r in self.reserve_collateral]
        reserve_base = [r / WAD for r in self.reserve_base]
        # Element by element: the float division numpy makes, without np.errstate's cost.
        price = [u / b if b > 0 else np.nan for u, b in zip(reserve_usd, reserve_base, strict=True)]
        return {"amm_reserve_usd": np.array(reserve_usd), "amm_reserve_base": np.array(reserve_base),
                "amm_price_usd": np.array(price)}  # fmt: skip


class SpotBook:
    """The pools and the spot agents' tokens as compiled digits (:mod:`simulator.mirror.
    jit_amm`: every integer exact, as on chain): each pool's reserves (collateral base units,
    base-token units of 1e-18) and fee (bps), each holder's collateral and base tokens, and the
    pools' float levels (:meth:`levels`), kept current by every call. The spot phase's swaps
    run in one kernel a step (:meth:`swap_rows`); what the kernel does not cover runs in
    Python ints on an :class:`IntBook` (the book stays one from then on; :attr:`python_swaps`
    counts the swaps it executed)."""

    def __init__(self, ints: IntBook, holders: list[str]):
        self.holders = list(holders)
        """The holders of tokens by row (the arbitrageurs, the hedger, then the others)."""
        self.python_swaps = 0
        """Swaps executed in Python ints (:class:`IntBook`) rather than compiled."""
        self._ints: IntBook | None = None
        self._arbitrageurs: list[str] | None = None
        """The arbitrageurs' list last checked against :attr:`holders` (by identity)."""
        self._no_amount = np.full(jit_amm.WIDTH, -1, dtype=np.int64)
        self.level_floats: np.ndarray | None = None
        """(3, M) the pools' float levels (:meth:`levels`' rows: USD, base units, price) that
        the compiled swaps keep current; None while the book is in Python ints."""
        self._load(ints)

    # -- between the two forms -----------------------------------------------------------------

    def _load(self, ints: IntBook) -> None:
        """Hold ``ints`` as digits, or keep it (every later call in Python ints) where a value
        does not fit them, the fee is 100% or more, or a holder appears twice."""
        holders = self.holders + sorted(
            ({h for h in ints.collateral} | {h for h, _ in ints.base}) - set(self.holders)
        )
        values = [*ints.reserve_collateral, *ints.reserve_base, *ints.collateral.values(),
                  *ints.base.values()]  # fmt: skip
        if (
            len(set(holders)) != len(holders)
            or not all(jit_amm.fits(v) for v in values)
            or not all(0 <= f < jit_amm.BPS for f in ints.fee_bps)
        ):
            self._hold(ints)
            return
        n_markets, width = len(ints.reserve_collateral), jit_amm.WIDTH
        self.holders = holders
        self._row = {h: i for i, h in enumerate(holders)}
        self.reserves = np.zeros((n_markets, 2, width), dtype=np.int64)
        for m in range(n_markets):
            jit_amm.to_digits(ints.reserve_collateral[m], self.reserves[m, 0])
            jit_amm.to_digits(ints.reserve_base[m], self.reserves[m, 1])
        self.fee_bps = np.array(ints.fee_bps, dtype=np.int64)
        self.collateral = np.zeros((len(holders), width), dtype=np.int64)
        self.base = np.zeros((len(holders), n_markets, width), dtype=np.int64)
        for h, v in ints.collateral.items():
            jit_amm.to_digits(v, self.collateral[self._row[h]])
        for (h, m), v in ints.base.items():
            jit_amm.to_digits(v, self.base[self._row[h], m])
        self._levels = self.level_floats = np.empty((3, n_markets))
        jit_amm.refresh_levels(self.reserves, self._levels)

    def _hold(self, ints: IntBook) -> None:
        """Keep the book in Python ints ``ints`` from now on."""
        self._ints = ints
        self.level_floats = None

    def ints(self) -> IntBook:
        """The book in Python ints (a copy unless it is held so)."""
        if self._ints is not None:
            return self._ints
        digits = jit_amm.from_digits
        return IntBook(
            reserve_collateral=[digits(r) for r in self.reserves[:, 0]],
            reserve_base=[digits(r) for r in self.reserves[:, 1]],
            fee_bps=self.fee_bps.tolist(),
            collateral={h: digits(self.collateral[i]) for i, h in enumerate(self.holders)},
            base={
                (h, m): digits(self.base[i, m])
                for i, h in enumerate(self.holders)
                for m in range(self.base.shape[1])
            },
        )

    @property
    def reserve_collateral(self) -> list[int]:
        """Per market: the pool's collateral reserve (collateral base units, 1e-6 USD)."""
        return self.ints().reserve_collateral

    @property
    def reserve_base(self) -> list[int]:
        """Per market: the pool's base reserve (base-token units, 1e-18)."""
        return self.ints().reserve_base

    # -- calls ----------------------------------------------------------------------------------

    def execute(self, call: SpotCall) -> Any:
        """:meth:`IntBook.execute` (an LP's withdrawal, or any other planner's call): on the
        book in Python ints, then held as digits again where they fit."""
        if self._ints is not None:
            return self._ints.execute(call)
        ints = self.ints()
        result = ints.execute(call)
        self._load(ints)
        return result

    def swap_rows(self, rows: np.ndarray, arbitrageurs: list[str], hedger: str,
                  s: EngineState) -> None:  # fmt: skip
        """Execute the planned swaps ``rows`` (:data:`~simulator.engine.jit_spot.SWAP_COLUMNS`,
        the block's order) as :meth:`IntBook.swap_rows_python` does and move the agents'
        inventories in ``s`` by their fills as :func:`~simulator.engine.jit_spot.apply_fills`
        does: in one kernel (:func:`simulator.mirror.jit_amm.execute`), an amount it does not
        convert given from :func:`simulator.engine.spot.swap_amount`, the rest in Python ints
        from a swap whose integers leave the digits' range on."""
        if self._ints is None and arbitrageurs is not self._arbitrageurs:
            if self.holders[: len(arbitrageurs) + 1] != [*arbitrageurs, hedger]:
                self._hold(self.ints())  # not the holders the digits were laid out for
            self._arbitrageurs = arbitrageurs
        start = 0
        if self._ints is None:
            given = self._no_amount
            while True:
                code, start = jit_amm.execute(
                    rows, start, given, self.reserves, self.fee_bps, self.collateral,
                    self.base, len(arbitrageurs), self._levels, s.hedged_base,
                    s.hedger_inventory, s.arb_inventory,
                )  # fmt: skip
                if code != jit_amm.NEEDS_AMOUNT:
                    break
                _, _, base_in, amount_in, capped = rows[start].tolist()
                amount = engine_spot.swap_amount(base_in > 0, amount_in, capped > 0)
                if not jit_amm.fits(amount):
                    break
                given = jit_amm.to_digits(amount)
            if code == jit_amm.DONE:
                return
            self._hold(self.ints())  # Python ints from this swap on
        fills = self._ints.swap_rows_python(rows[start:], arbitrageurs, hedger)
        self.python_swaps += len(rows) - start
        if fills:
            jit_spot.apply_fills(
                np.array(fills, dtype=np.float64), s.hedged_base, s.hedger_inventory,
                s.arb_inventory,
            )  # fmt: skip

    def levels(self) -> dict[str, np.ndarray]:
        """The reserves and price as the chain engine parses ``reserves()``
        (:func:`simulator.engine.levels.parse_markets`): USD, base units, USD per base unit
        (NaN for an empty pool); :meth:`IntBook.levels`' floats, kept by the kernel."""
        if self._ints is not None:
            return self._ints.levels()
        lv = self._levels.copy()
        return {"amm_reserve_usd": lv[0], "amm_reserve_base": lv[1], "amm_price_usd": lv[2]}


def _obj(x: int) -> np.ndarray:
    """A Python int as a 0-d object array (the exact mode of :mod:`simulator.mirror.amm`)."""
    return np.array(int(x), dtype=object)


def spot_book(world: World) -> SpotBook:
    """The pools after the deployment's ``addLiquidity`` and the agents' tokens after the
    world's market-maker funding (the same integers as on chain)."""
    markets = world.params.markets
    units = [to_units(m.amm.liquidity_usd) for m in markets]
    base_wad = [
        int(Decimal(str(m.amm.liquidity_usd)) / Decimal(str(m.oracle.initial_price_usd)) * WAD)
        for m in markets
    ]
    seeded = [bool(u and b) for u, b in zip(units, base_wad, strict=True)]
    book = IntBook(
        reserve_collateral=[u if ok else 0 for u, ok in zip(units, seeded, strict=True)],
        reserve_base=[b if ok else 0 for b, ok in zip(base_wad, seeded, strict=True)],
        fee_bps=[int(m.amm.fee_bps) for m in markets],
    )
    prices = world.inputs.start_prices_usd
    capital = world.arbitrageur_capital_usd
    for m in range(len(markets)):
        for addr in world.arbitrageurs:
            book.collateral[addr] = book.collateral.get(addr, 0) + to_units(capital)
            book.base[(addr, m)] = to_wad(capital / prices[m])
        h = world.hedger
        book.collateral[h] = book.collateral.get(h, 0) + to_units(world.hedger_base[m] * prices[m])
        book.base[(h, m)] = to_wad(round(float(world.hedger_base[m]), 12))
    return SpotBook(book, [*world.arbitrageurs, world.hedger])


def attach(ctx: Context) -> None:
    """Give the engine's planners the pools to address: ``ctx.venue.amms`` (by market id) and
    the deployer (the mirror's venue record has neither)."""
    ctx.venue.amms = {mid: AmmHandle(m) for m, mid in enumerate(ctx.market_ids)}  # type: ignore[misc]
    ctx.venue.deployer = DEPLOYER  # type: ignore[misc]


def opening_inventories(world: World, price0_usd: np.ndarray) -> dict[str, np.ndarray]:
    """What the spot agents hold at step 0, as the chain engine's initial state has it: the
    hedged base (the opening book's net position times the hedge ratio), every arbitrageur's
    (USD, base) per market, the hedger's (USD, base) per market
    (:func:`simulator.engine.state.opening_state`'s keyword arguments)."""
    book, n_markets = world.book, len(price0_usd)
    signed = book.side * np.where(world.opened, world.opened_size_base, 0.0)
    capital = world.arbitrageur_capital_usd
    return {
        "hedged_base": np.bincount(book.market, weights=signed, minlength=n_markets)
        * engine_spot.HEDGE_RATIO,
        "arb_inventory": np.array(
            [[[capital, capital / p] for p in price0_usd] for _ in world.arbitrageurs],
            dtype=np.float64,
        ).reshape(len(world.arbitrageurs), n_markets, 2),
        "hedger_inventory": np.stack([world.hedger_base * price0_usd, world.hedger_base], axis=1),
    }


def spot_inputs(ctx: Context, venue: VenueState, book: SpotBook) -> dict[str, Any]:
    """What :func:`simulator.engine.spot.parse_spot` gives of a pending read of the venue's
    and the pools' current state (the backstop vault's sizes,
    :func:`simulator.mirror.sim.backstop.sizes`)."""
    return {
        "ledgers": venue.ledgers(),
        "oi_long_base": floats(venue.long_oi),
        "oi_short_base": floats(venue.short_oi),
        **book.levels(),
        "vault_size_wad": backstop.size_array(venue),
    }


def run_phase(ctx: Context, s: EngineState, book: SpotBook, t: int, inputs: dict[str, Any]) -> int:
    """Phase 3b on ``inputs`` (the state before the block's liquidations, as the chain engine
    chose it): arbitrageurs then the hedger (:func:`simulator.engine.spot.plan_swaps`' kernel,
    :func:`~simulator.engine.jit_spot.plan_step`, which also carries the outside market's
    impact), executed (:meth:`SpotBook.swap_rows`), the agents' inventories moved by the swaps
    that went through (:func:`~simulator.engine.jit_spot.apply_fills`); returns the calls sent.

    As :func:`~simulator.engine.spot.plan_swaps` plans them, on the run's buffers
    (:class:`_PhaseTab`, made once a run): the plan's rows written to one array, and the
    impact carried to the next step written in place into the state's three impact arrays,
    the rows of one (3, M) array (each market's impacts are read before they are written:
    the kernel's new values are the same as into fresh arrays)."""
    memo = ctx.memo
    tab = memo[_PHASE_MEMO] if _PHASE_MEMO in memo else _PhaseTab.of(ctx)
    permanent, transient, metaorder = tab.impact_rows
    if not (
        s.permanent_log_impact is permanent and s.transient_log_impact is transient
        and s.metaorder_sale_usd is metaorder
    ):  # fmt: skip
        tab.bind(s)
    reserve_usd, reserve_base = inputs["amm_reserve_usd"], inputs["amm_reserve_base"]
    oi_long, oi_short = inputs["oi_long_base"], inputs["oi_short_base"]
    if not (
        reserve_usd.__class__ is np.ndarray and reserve_usd.dtype == _F64
        and reserve_base.__class__ is np.ndarray and reserve_base.dtype == _F64
        and oi_long.__class__ is np.ndarray and oi_long.dtype == _F64
        and oi_short.__class__ is np.ndarray and oi_short.dtype == _F64
    ):  # fmt: skip
        reserve_usd, reserve_base, oi_long, oi_short = (
            np.asarray(x, dtype=np.float64) for x in (reserve_usd, reserve_base, oi_long, oi_short)
        )
    out = tab.out
    count = jit_spot.plan_step(
        reserve_usd, reserve_base, oi_long, oi_short, s.hedged_base, s.hedger_inventory,
        s.arb_inventory if tab.arbitrage else s.arb_inventory[:0], ctx.exogenous_usd, t,
        permanent, transient, metaorder, tab.params, tab.scalars, tab.impact, out,
    )  # fmt: skip
    if not count:
        return 0
    rows = out[:count]
    if book._ints is None and book._arbitrageurs is tab.arbitrageurs:  # holders checked
        # SpotBook.swap_rows' compiled call, inlined; what it leaves goes on through it
        code, start = jit_amm.execute(
            rows, 0, book._no_amount, book.reserves, book.fee_bps, book.collateral, book.base,
            tab.n_arbitrageurs, book._levels, s.hedged_base, s.hedger_inventory, s.arb_inventory,
        )  # fmt: skip
        if code == jit_amm.DONE:
            return count
        rows = rows[start:]  # the rows before it executed
    book.swap_rows(rows, tab.arbitrageurs, tab.hedger, s)
    return count


_F64 = np.dtype(np.float64)
_PHASE_MEMO = "mirror_spot_phase"


class _PhaseTab:
    """What :func:`run_phase` passes its kernels every step, made once a run (in
    ``ctx.memo``): :func:`simulator.engine.spot.kernel_constants`' ``params`` and ``scalars``,
    the plan's rows' array (M·(N+1) rows), the impact's (3, M) array whose rows the state's
    impact arrays are, whether the world has arbitrageurs, their addresses and the hedger's."""

    def __init__(self, ctx: Context):
        c = engine_spot.kernel_constants(ctx)
        self.params, self.scalars = c.params, c.scalars
        self.out = np.empty((c.capacity, len(jit_spot.SWAP_COLUMNS)))
        self.impact = np.zeros((3, len(c.params)))
        self.impact_rows = tuple(self.impact)
        """:attr:`impact`'s rows (permanent, transient, metaorder), made once: the state's
        impact arrays are these (checked by identity)."""
        self.arbitrage = bool(ctx.world.arbitrageurs)
        self.arbitrageurs, self.hedger = ctx.world.arbitrageurs, ctx.world.hedger
        self.n_arbitrageurs = len(self.arbitrageurs)

    @classmethod
    def of(cls, ctx: Context) -> _PhaseTab:
        tab = ctx.memo[_PHASE_MEMO] = cls(ctx)
        return tab

    def bind(self, s: EngineState) -> None:
        """Make ``s``'s impact arrays :attr:`impact`'s rows, with their values."""
        names = ("permanent_log_impact", "transient_log_impact", "metaorder_sale_usd")
        for row, name in zip(self.impact_rows, names, strict=True):
            row[:] = getattr(s, name)
            setattr(s, name, row)


__all__ = [
    "AmmHandle",
    "IntBook",
    "SpotBook",
    "SpotCall",
    "attach",
    "opening_inventories",
    "run_phase",
    "spot_book",
    "spot_inputs",
]
