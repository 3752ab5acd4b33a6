"""Phase 3b: the backstop vault's unwind, arbitrageurs and the pool's hedger on every market's
spot AMM (one AMM per asset; all markets in the same block).

The inputs are the state before the block's liquidations: the pending block's market states,
AMM reserves and the vault's positions when the block read them (:func:`spot_views` /
:func:`parse_spot`), else the last block's levels less the positions traders are closing
(:func:`spot_inputs_after_closes`) with the block's flow and market-making orders. What the
keepers' calls change, this phase sees from the next block on.
Arbitrageurs go first (toward the market's outside price of the next step, within their
capital), then the hedger's forced flow: its net sale moves the outside market by the
square-root impact law (:mod:`simulator.prices.impact`, the metaorder of its recent net sales),
which the oracle's venues post from the next step on, and its swap moves the local AMM, one of
the oracle's sources."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from simulator.agents import liquidity
from simulator.engine import jit_spot
from simulator.engine.context import Action, Context
from simulator.engine.levels import market_views, parse_markets, parse_vault, vault_views
from simulator.engine.oracle import run_oracle_model
from simulator.engine.state import EngineState
from simulator.prices.impact import decay_per_step
from simulator.scenario.models import Controls
from simulator.units import to_units, to_wad

#: The default share of the backstop vault's position it closes per block while unwinding
#: (fraction): ``controls.backstop_unwind_share_per_step``'s, which :func:`plan_vault_unwind`
#: uses.
VAULT_UNWIND_SHARE_PER_STEP = Controls.model_fields["backstop_unwind_share_per_step"].default
#: The hedger keeps the pool this fraction delta-neutral (1 = fully hedged).
HEDGE_RATIO = 1.0


def spot_views(ctx: Context) -> list:
    """What the spot phase reads: every market's state and AMM reserves, the vault's
    positions."""
    return market_views(ctx) + vault_views(ctx)


def parse_spot(ctx: Context, got: list) -> dict[str, Any]:
    """The results of :func:`spot_views` as the spot phase's inputs."""
    n = 2 * ctx.n_markets
    out = parse_markets(ctx, got[:n])
    out["vault_size_wad"] = parse_vault(ctx, got[n:])
    return out


def spot_inputs_after_closes(
    ctx: Context, last: dict[str, Any], s: EngineState, closes: np.ndarray
) -> dict[str, Any]:
    """Spot inputs without a read: the last block's levels ``last``, minus the closed
    positions (rows ``closes``) of every market (one kernel,
    :func:`~simulator.engine.jit_spot.oi_after_closes`)."""
    t = s.trader
    oi = np.empty((2, ctx.n_markets))
    jit_spot.oi_after_closes(
        ctx.world.book.market, t.size_base, t.side, closes,
        np.asarray(last["oi_long_base"], dtype=np.float64),
        np.asarray(last["oi_short_base"], dtype=np.float64), oi,
    )  # fmt: skip
    return {
        **{
            k: last[k] for k in ("ledgers", "amm_reserve_usd", "amm_reserve_base", "vault_size_wad")
        },
        "oi_long_base": oi[0],
        "oi_short_base": oi[1],
    }


def plan_vault_unwind(ctx: Context, levels: dict[str, Any]) -> list[Action]:
    """In every market, the backstop vault's manager closes
    ``controls.backstop_unwind_share_per_step`` of the position it still holds (``levels``'
    ``vault_size_wad``, WAD base units; all of it once that share rounds to zero wei): one
    ``tradePosition`` per market, so what it took over decays geometrically, 0.9 a step at the
    default 0.1, and at 1 it is all closed in one trade."""
    v = ctx.venue
    if v.vault is None:
        return []
    share = ctx.scenario.controls.backstop_unwind_share_per_step
    actions = []
    for m, size in enumerate(levels["vault_size_wad"]):
        size = int(size)
        if size:
            unwind = vault_unwind_delta(size, share)
            call = v.vault.trade_position(v.manager, ctx.market_ids[m], unwind)
            actions.append(Action(call, "vault_unwind", -1, m))
    return actions


def vault_unwind_delta(size_wad: int, share: float) -> int:
    """The trade (WAD base units, signed) that closes ``share`` (fraction, in (0, 1]) of the
    vault's position ``size_wad`` (WAD base units, signed, not 0): ``−int(size × share)``, or
    the whole position at ``share`` = 1 and when the product rounds to zero or, in floating
    point, to the whole position or more (a float product of a 20-digit size is off by some
    wei either way: the position is closed exactly, never left as dust nor flipped).

    >>> vault_unwind_delta(10**20, 0.1), vault_unwind_delta(-9, 0.1)
    (-10000000000000000000, 9)
    >>> vault_unwind_delta(10728978767972000000, 1.0)  # the float product is 256 wei short
    -10728978767972000000
    """
    close = int(size_wad * share)
    if share >= 1 or close == 0 or abs(close) >= abs(size_wad):
        close = size_wad
    return -close


class _Constants(NamedTuple):
    """What :func:`plan_swaps` passes the kernel every step, built once per run context."""

    params: np.ndarray
    """(M, 3) :data:`~simulator.engine.jit_spot.MARKET_PARAMS`."""
    scalars: np.ndarray
    """:data:`~simulator.engine.jit_spot.SCALARS`."""
    capacity: int
    """The most swaps a step plans: M·(N+1)."""


def kernel_constants(ctx: Context) -> _Constants:
    """The kernel's constants of ``ctx`` (which nothing changes during a run), kept in the
    context's :attr:`~simulator.engine.context.Context.memo` with the scenario they were made
    from (its oracle model's and arbitrageurs' figures)."""
    last = ctx.memo.get("spot_constants")
    if last is not None and last[0] is ctx.scenario:
        return last[1]
    model = run_oracle_model(ctx)
    n = ctx.n_markets
    arb = ctx.scenario.arbitrageurs
    decay = decay_per_step(model.half_life_steps)
    params = np.empty((n, len(jit_spot.MARKET_PARAMS)))
    params[:, jit_spot.P_FEE] = np.asarray(ctx.amm_fee, dtype=np.float64)
    params[:, jit_spot.P_SIGMA] = np.broadcast_to(np.asarray(model.sigma_daily, np.float64), n)
    params[:, jit_spot.P_VOLUME] = np.broadcast_to(
        np.asarray(model.volume_daily_usd, np.float64), n
    )
    scalars = np.empty(len(jit_spot.SCALARS))
    scalars[jit_spot.K_MAX_TRADE_USD] = arb.capital_usd * arb.max_trade_fraction
    scalars[jit_spot.K_DECAY] = decay
    scalars[jit_spot.K_DECAY_SQUARED] = decay_per_step(model.half_life_steps) ** 2
    scalars[jit_spot.K_IMPACT_Y] = model.impact_y
    scalars[jit_spot.K_PERSISTENT] = model.persistent_share
    scalars[jit_spot.K_TRANSIENT] = 1.0 - model.persistent_share
    scalars[jit_spot.K_HEDGE_RATIO] = HEDGE_RATIO
    scalars[jit_spot.K_DUST] = liquidity.HEDGE_DUST_FRACTION
    constants = _Constants(params, scalars, n * (len(ctx.world.arbitrageurs) + 1))
    ctx.memo["spot_constants"] = (ctx.scenario, constants)
    return constants


_N_SWAP_COLUMNS = len(jit_spot.SWAP_COLUMNS)


def plan_swaps(ctx: Context, s: EngineState, t: int, levels: dict[str, Any]) -> np.ndarray:
    """Per market: arbitrage toward the next step's outside price (before this step's hedge),
    then the hedger's swap, as rows of :data:`~simulator.engine.jit_spot.SWAP_COLUMNS` in the
    block's order (one kernel, :func:`~simulator.engine.jit_spot.plan_step`); carries the
    outside market's log impact in ``s`` to the next step with the hedger's net sale added to
    the metaorder the square-root law prices (:mod:`simulator.prices.impact`'s metaorder form;
    ``s``'s three impact arrays are replaced, not written)."""
    c = kernel_constants(ctx)
    out = np.empty((c.capacity, _N_SWAP_COLUMNS))
    impact = np.empty((3, len(c.params)))
    # The arbitrageurs trade with the world's (none without any: their inventory's rows).
    arbs = s.arb_inventory if ctx.world.arbitrageurs else s.arb_inventory[:0]
    count = jit_spot.plan_step(
        np.asarray(levels["amm_reserve_usd"], dtype=np.float64),
        np.asarray(levels["amm_reserve_base"], dtype=np.float64),
        np.asarray(levels["oi_long_base"], dtype=np.float64),
        np.asarray(levels["oi_short_base"], dtype=np.float64),
        s.hedged_base, s.hedger_inventory, arbs, ctx.exogenous_usd, t,
        s.permanent_log_impact, s.transient_log_impact, s.metaorder_sale_usd,
        c.params, c.scalars, impact, out,
    )  # fmt: skip
    s.permanent_log_impact, s.transient_log_impact, s.metaorder_sale_usd = impact
    return out[:count]


def plan_spot(ctx: Context, s: EngineState, t: int, levels: dict[str, Any]) -> list[Action]:
    """The swaps of :func:`plan_swaps` as the agents' calls on the markets' AMMs (kind
    ``arb`` with the arbitrageur's index, or ``hedge``)."""
    rows = plan_swaps(ctx, s, t, levels)
    arbitrageurs, hedger = ctx.world.arbitrageurs, ctx.world.hedger
    amms, market_ids = ctx.venue.amms, ctx.market_ids
    actions: list[Action] = []
    for m, who, base_in, amount_in, capped in rows.tolist():
        m, who, base_in = int(m), int(who), bool(base_in)
        agent = hedger if who == jit_spot.HEDGER else arbitrageurs[who]
        amount = swap_amount(base_in, amount_in, bool(capped))
        call = amms[market_ids[m]].swap(agent, base_in, amount, 0, agent)
        actions.append(Action(call, "arb" if who >= 0 else "hedge", who, m))
    return actions


#: Below these amounts (base units, USD) a planned swap's integer is the digits that
#: ``f"{x:.12f}"`` (``f"{x:.6f}"``) prints (:func:`swap_amount`): their 12 (6) decimals leave
#: at most 15 significant digits.
_EXACT_BELOW_BASE, _EXACT_BELOW_USD = 1e3, 1e9


def swap_amount(base_in: bool, amount_in: float, capped: bool) -> int:
    """A planned swap's amount in (base units, or USD) as the integer sent:
    ``to_wad(round(amount, 12))`` (base) or ``to_units(round(amount, 6))`` (USD), at least 1.
    A hedge ``capped`` by the hedger's inventory rounds as numpy rounds its float (the code
    before the kernel passed the inventory's numpy scalar on: its rounding differs from a
    Python float's in a few percent of amounts).

    Without the cap, below :data:`_EXACT_BELOW_BASE` / :data:`_EXACT_BELOW_USD` the integer
    is read off ``f"{amount:.12f}"`` / ``f"{amount:.6f}"`` directly, at a fraction of the
    cost: CPython's ``round(x, n)`` is the float nearest the decimal ``D`` that ``f"{x:.nf}"`` prints (both
    round ``x`` through the same correctly rounded ``dtoa``, mode 3), and a decimal of at
    most 15 significant digits is exactly what ``repr`` prints of its nearest float, which
    :func:`~simulator.units.to_wad` / :func:`~simulator.units.to_units` scale: so the
    integer is ``D``'s digits (times 10**6 for WAD). ``tests/engine/test_spot_kernel.py``
    holds it to the expression on drawn amounts."""
    if capped:
        a = np.float64(amount_in)
        amount = to_wad(round(a, 12)) if base_in else to_units(round(a, 6))
    elif base_in:
        if 0.0 <= amount_in < _EXACT_BELOW_BASE:
            amount = int(f"{amount_in:.12f}".replace(".", "")) * 1_000_000
        else:
            amount = to_wad(round(amount_in, 12))
    elif 0.0 <= amount_in < _EXACT_BELOW_USD:
        amount = int(f"{amount_in:.6f}".replace(".", ""))
    else:
        amount = to_units(round(amount_in, 6))
    return max(amount, 1)
