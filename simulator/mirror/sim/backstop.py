"""The backstop vault on the mirror (``VenueBackstopVault`` wired as the venue's backstop,
``controls.backstop_vault_usd > 0``), as the chain engine runs it.

* **Setup** (:func:`vault_of`): the vault is one more venue account (the last row of the
  :class:`~simulator.mirror.sim.venue.VenueState`, at the contract's address: the deployer's
  first deployment of the deploy's block 2b) holding ``backstop_margin_share`` of the LP deposit
  as cross collateral; the rest stays idle in the vault; the LP's shares are the first
  ERC-4626 deposit's (``assets × 10**6``).
* **Takeover** (:func:`takeover`, ``VenueLiquidationModule.backstopTakeover``): the account's
  cross positions read by ``_loadCross`` in ``_open`` order (fresh prices, the breaker's
  liquidation halt, funding accrued and settled), the threshold, then the positions moved at the
  index price into the vault and the account's collateral after it, refused when the vault
  ends below maintenance -- the arithmetic of :func:`simulator.mirror.backstop.takeover`.
* **Keepers** (:func:`plan`): :func:`simulator.engine.keepers.plan_keepers`' selection with the
  backstop threshold: takeovers first (but the units whose takeover the venue refused
  ``BackstopWouldBeUnderwater``, ``takeover_refused``), then liquidations; :func:`execute` runs
  a takeover and gives its ``backstop_takeover`` rows when the block is decoded.
* **Unwind** (:func:`unwind`, :func:`simulator.engine.spot.plan_vault_unwind`): after the ADL
  keeper, the manager's ``tradePosition`` of ``controls.backstop_unwind_share_per_step`` of
  each position (:func:`simulator.engine.spot.vault_unwind_delta`), sized on the vault's
  positions as the chain engine read them (:func:`sizes`), a plain venue trade.
* **LPs** (:func:`lp_withdraw`, :func:`simulator.engine.lps.plan_lp_withdrawals`): the first
  time a market falls ``lps.withdraw_on_drawdown`` from its peak, ``withdraw_fraction`` of
  ``maxWithdraw`` as the last block reads it (0 while the shares are locked, at most the idle
  collateral), withdrawn now (ERC-4626 ``withdraw``: shares burnt rounded up).
* **Levels** (:func:`levels`): ``vault_assets_usd`` (``totalAssets``: idle + max(0, cross
  equity), each in whole units), ``vault_supply`` (share units) and ``vault_size_wad``.

The keepers' takeover of the market-making vault is the same :func:`takeover`, called through
:mod:`~simulator.mirror.sim.planned`. Not modelled: the manager's hedges on the spot AMMs (the
chain engine sends none; ``totalAssets`` has no spot inventory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import numpy as np
from eth_utils import keccak, to_canonical_address, to_checksum_address

from simulator.engine import keepers as engine_keepers
from simulator.engine.context import Context
from simulator.engine.events import _takeover_rows, event_row
from simulator.engine.spot import vault_unwind_delta
from simulator.engine.state import EngineState
from simulator.mirror import backstop as kernels
from simulator.mirror import fills, funding
from simulator.mirror.fixed import UNIT
from simulator.mirror.sim.calls import Reverted, error_text
from simulator.mirror.sim.venue import VenueState
from simulator.protocol.venue_params import MultiVenueParams
from simulator.scenario import Scenario
from simulator.units import from_units, to_units

#: ``LockedShareVault.DECIMALS_OFFSET``: the first deposit mints 10**6 shares per unit.
SHARES_PER_UNIT = 10**kernels.DECIMALS_OFFSET
#: The deploy's contracts before the vault (phase 1: collateral, timelock, three modules; phase
#: 2: venue, fund) besides three per market (base token, oracle, AMM).
_DEPLOYS_BEFORE_VAULT = 7


@dataclass
class Vault:
    """The backstop vault of a mirror run: its venue account ``index`` (a row of the venue's
    state), ``address``, the collateral ``idle_units`` it holds outside the venue (base
    units) and its shares' ``supply`` (share units). Without LP withdrawals neither changes."""

    index: int
    address: str
    idle_units: int
    supply: int
    unlock_at_s: int = 0
    """When the LP's shares unlock (``_unlockAt``: the deposit's block time + the redeem
    cooldown; 0: none)."""
    total_assets_units: int = 0
    """``totalAssets`` as the last levels read it (base units)."""


def wired(scenario: Scenario, params: MultiVenueParams | None = None) -> bool:
    """Whether the scenario's venue has a backstop vault wired (as ``build_world`` deploys).
    ``params``: the scenario's venue when the caller holds it (``scenario.venue_params()``)."""
    b = (params if params is not None else scenario.venue_params()).buffers
    return bool(b.backstop_enabled and b.backstop_vault_usd > 0)


def vault_address(deployer: str, n_markets: int) -> str:
    """The vault contract's address: the ``CREATE`` address of the deployer's deployment after
    the ``7 + 3·markets`` of the deploy's first two blocks."""
    nonce = _DEPLOYS_BEFORE_VAULT + 3 * n_markets
    # RLP of [address, nonce]: a 20-byte string, then the nonce's big-endian bytes (a single
    # byte below 0x80 is its own encoding, 0 the empty string), in a list
    sender = b"\x94" + to_canonical_address(deployer)
    body = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
    tail = body if len(body) == 1 and body[0] < 0x80 else bytes([0x80 + len(body)]) + body
    payload = sender + tail
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


def vault_of(
    scenario: Scenario, venue: VenueState, index: int, deposited_at_s: int,
    params: MultiVenueParams | None = None,
) -> Vault | None:  # fmt: skip
    """Wire the scenario's vault into ``venue`` as account ``index`` (its margin deposit
    credited; ``venue.backstop`` set; the LP's deposit made at ``deposited_at_s``, s); None
    without a vault. ``params``: as :func:`wired` takes it."""
    params = params if params is not None else scenario.venue_params()
    if not wired(scenario, params):
        return None
    from simulator.chain.deploy import DEFAULT_DEPLOYER

    b = params.buffers
    units = to_units(b.backstop_vault_usd)
    margin = int(Decimal(units) * Decimal(str(b.backstop_margin_share)))
    vault = Vault(index=index, address=vault_address(DEFAULT_DEPLOYER, venue.n_markets),
                  idle_units=units - margin, supply=units * SHARES_PER_UNIT,
                  unlock_at_s=deposited_at_s + b.backstop_redeem_cooldown_s
                  if b.backstop_redeem_cooldown_s else 0)  # fmt: skip
    if margin:
        venue.deposit(index, margin)
    if venue.addresses is not None:
        venue.addresses = [*venue.addresses[:index], vault.address]
    venue.backstop = vault
    return vault


def wire(engine: Any) -> None:
    """The mirror engine's context as the chain engine's with a vault: the markets' backstop
    fractions (the keepers' takeover threshold) and the vault's address (the ADL keeper ranks
    it), the last of the context's venue accounts; ``row_of`` gets the vault's row (no book
    row). Nothing without a vault."""
    vault = engine.venue.backstop
    if vault is None:
        return
    markets = [m.params for m in engine.world.params.markets]
    ctx = engine.ctx
    ctx.backstop_fraction = np.array([p.backstop_fraction for p in markets])
    ctx.vault_address = vault.address
    # the venue's accounts in order (the vault last): ``ctx.index`` maps the ranked addresses
    ctx.accounts = [*ctx.accounts, vault.address]
    ctx._index_of.clear()
    extra = np.full((1, engine.row_of.shape[1]), -1, dtype=np.int64)
    engine.row_of = np.vstack([engine.row_of, extra])


# -- the keepers ------------------------------------------------------------------------------


def plan(
    ctx: Context, s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray,
    notional_row: np.ndarray, notional: np.ndarray,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """The margin units the keepers act on this block, in call order, and how many of the
    first are takeovers (:func:`simulator.engine.keepers.plan_keepers`' order: takeovers, then
    the refused takeovers' liquidations, then the liquidations); updates
    ``s.liquidatable_since``."""
    engine_keepers.track_liquidatable(s, t, eq, mm, notional)
    if not ((notional > 0) & (eq < mm)).any():
        return np.zeros(0, dtype=np.int64), 0
    reward, backstop_fraction = engine_keepers.unit_fractions(ctx, notional_row)
    chosen = engine_keepers.scenario_plan(ctx, s, t, eq, mm, notional, reward, backstop_fraction)
    refused = s.takeover_refused[chosen.backstop]
    takeovers = chosen.backstop[~refused]
    units = np.concatenate([takeovers, chosen.backstop[refused], chosen.liquidate])
    return units.astype(np.int64), len(takeovers)


def execute(
    ctx: Context, s: EngineState, venue: VenueState, u: int, t: int,
    decoded: list[Callable[[], None]],
) -> list[dict]:  # fmt: skip
    """``backstopTakeover`` of margin unit ``u`` (a cross account) on the venue: its rows, a
    ``backstop_reverted`` row (and ``takeover_refused`` set when the vault would end under
    water) or one placeholder whose ``backstop_takeover`` rows are written when the block is
    decoded (the traders' rows as the block's earlier calls leave them, as on chain), see
    :func:`expand`."""
    a = int(ctx.units.account[u])
    try:
        transferred = takeover(venue, a)
    except Reverted as exc:
        if str(exc).startswith(engine_keepers.TAKEOVER_REFUSED_ERROR):
            s.takeover_refused[u] = True
        return [event_row(t, "backstop_reverted", account=ctx.accounts[a], detail=str(exc))]
    holder: dict[str, Any] = {"_rows": []}
    wad = int(transferred) if venue.exact_mode else round(float(transferred))
    e = SimpleNamespace(args={"account": ctx.accounts[a], "collateralTransferred": wad})

    def decode() -> None:
        holder["_rows"] = _takeover_rows(ctx, s, e, t)  # type: ignore[arg-type]

    decoded.append(decode)
    return [holder]


def expand(events: list[dict]) -> list[dict]:
    """The step's event rows with each takeover's placeholder replaced by its rows."""
    out: list[dict] = []
    for e in events:
        out += e["_rows"] if "_rows" in e else [e]
    return out


def takeover(venue: VenueState, a: int) -> Any:
    """``backstopTakeover(account a)`` on ``venue``: the collateral transferred (WAD); raises
    :class:`Reverted` as the contract (nothing changed)."""
    vault: Vault = venue.backstop
    v = vault.index
    if a == v:
        raise Reverted(error_text("BackstopCannotTakeOverItself"))
    slots = [j for j in venue.open_markets(a) if not venue.isolated[a, j]]
    for j in slots:  # _loadCross: each cross position's fresh price, then its breaker
        venue.fresh(j)
        if venue.breaker is not None:
            venue.breaker.check(venue, j, liquidation=True)
    state = venue.funding()
    got = kernels.takeover(venue.book(np.array([a])), venue.price, venue.markets, state,
                           venue.book(np.array([v])))  # fmt: skip
    outcome = int(got.outcome[0])
    account = venue.address(a)
    if outcome == kernels.NO_POSITION:
        raise Reverted(error_text("NoPosition", account=account, market=0))
    if outcome == kernels.NOT_BELOW_THRESHOLD:
        eq, _, _ = _equity(venue, a, slots, state)
        raise Reverted(error_text("NotBelowBackstopThreshold", account=account, equity=eq,
                                  threshold=got.threshold[0]))  # fmt: skip
    if outcome == kernels.WRONG_MARGIN_MODE:
        j = next(j for j in slots if venue.size[v, j] != 0 and venue.isolated[v, j])
        raise Reverted(error_text("WrongMarginMode", market=j + 1, isolated=True))
    venue.fresh_cross(v)  # _crossHealth(vault, fresh=true): the vault's prices (the slots' read)
    if outcome == kernels.UNDERWATER:
        raise Reverted(error_text("BackstopWouldBeUnderwater",
                                  vaultEquity=got.equity_after[0],
                                  vaultMaintenanceMargin=got.maintenance_after[0]))  # fmt: skip
    _commit(venue, a, v, slots, state, got)
    return got.transferred[0]


def _equity(venue: VenueState, a: int, slots: list[int], state) -> tuple[Any, Any, Any]:
    """The account's ``_loadCross`` run and closes: (equity: collateral − Σ funding owed +
    Σ unrealized PnL, Σ funding owed, Σ PnL its closes at the index realize) over its cross
    positions (WAD)."""
    x = venue.conv
    owed_sum = pnl_sum = realized_sum = venue.collateral[a] * 0
    for j in slots:
        size, entry, price = x([venue.size[a, j]]), x([venue.entry[a, j]]), x([venue.price[j]])
        owed = funding.funding_owed(size, x([venue.snapshot[a, j]]),
                                    x([state.long_funding_index[j]]),
                                    x([state.short_funding_index[j]]))[0]  # fmt: skip
        _, _, realized = fills.apply_fill(size, entry, -size, price)
        owed_sum = owed_sum + owed
        pnl_sum = pnl_sum + fills.unrealized_pnl(size, entry, price)[0]
        realized_sum = realized_sum + realized[0]
    return venue.collateral[a] - owed_sum + pnl_sum, owed_sum, realized_sum


def _commit(venue: VenueState, a: int, v: int, slots: list[int], state, got) -> None:
    """A takeover's effects: funding accrued in the account's cross markets, both accounts'
    funding and PnL against the pool, open interest moved position by position (the
    ``_open`` lists kept as ``_store`` keeps them), the positions and collateral stored."""
    mask = np.zeros(venue.n_markets, dtype=bool)
    mask[slots] = True
    venue.accrue(mask, state)
    _, owed, realized = _equity(venue, a, slots, state)
    vault_paid = sum((got.vault_funding[0, j] for j in slots), venue.collateral[a] * 0)
    vault_realized = sum((got.vault_realized[0, j] for j in slots), venue.collateral[a] * 0)
    venue.pool = venue.pool + owed - realized + vault_paid - vault_realized
    for j in slots:
        venue._move_oi(j, venue.size[a, j], venue.size[a, j] * 0, a)
        venue._move_oi(j, venue.size[v, j], got.vault_size[0, j], v)
        venue.size[a, j] = venue.entry[a, j] = venue.snapshot[a, j] = venue.size[a, j] * 0
        venue.partial_at[a, j] = 0
        venue.last_liquidation_block[a, j] = -1
        venue.size[v, j], venue.entry[v, j] = got.vault_size[0, j], got.vault_entry[0, j]
        venue.snapshot[v, j] = got.vault_snapshot[0, j]
    venue.collateral[v] = got.vault_collateral[0]
    venue.collateral[a] = venue.collateral[a] * 0
    venue.version += 1


# -- the unwind -------------------------------------------------------------------------------


def sizes(venue: VenueState) -> list[int]:
    """The vault's signed size per market as the chain engine reads it (WAD integers)."""
    vault: Vault | None = venue.backstop
    if vault is None:
        return [0] * venue.n_markets
    return [int(x) if venue.exact_mode else round(float(x)) for x in venue.size[vault.index]]


def size_array(venue: VenueState) -> np.ndarray:
    """:func:`sizes` as the chain engine's levels hold them (object array of ints, (M,))."""
    out = np.empty(venue.n_markets, dtype=object)
    out[:] = sizes(venue)
    return out


def unwind(ctx: Context, venue: VenueState, size_wad: list[int]) -> int:
    """The manager's unwind (:func:`simulator.engine.spot.plan_vault_unwind`: the scenario's
    ``controls.backstop_unwind_share_per_step`` of each) of the vault's positions ``size_wad``
    (as read for the spot phase) on the venue, market by market; the calls sent. A refused
    trade changes nothing (the chain engine records no row)."""
    vault: Vault | None = venue.backstop
    if vault is None:
        return 0
    share = ctx.scenario.controls.backstop_unwind_share_per_step
    sent = 0
    for m, size in enumerate(size_wad):
        if not size:
            continue
        delta = vault_unwind_delta(int(size), share)
        sent += 1
        try:
            venue.trade(vault.index, m, delta if venue.exact_mode else float(delta),
                        isolated=False)  # fmt: skip
        except Reverted:
            continue
    return sent


# -- the LPs' withdrawal -----------------------------------------------------------------------


def total_assets(venue: VenueState) -> int:
    """``totalAssets`` now (base units): idle + max(0, the vault's cross equity) in whole units
    (no spot inventory: the chain engine's manager does not hedge)."""
    vault: Vault = venue.backstop
    eq, _, _ = venue.cross_health(np.array([vault.index]))
    e = eq[0]
    if venue.exact_mode:
        held = int(e) // UNIT if e > 0 else 0
    else:
        held = math.floor(float(e) / UNIT) if e > 0 else 0
    return vault.idle_units + held


def max_withdraw(vault: Vault, now_s: int, total_assets_units: int) -> int:
    """``maxWithdraw(LP)`` at time ``now_s`` with ``totalAssets`` ``total_assets_units``: 0
    while the LP's shares are locked, else ``convertToAssets`` of all its shares (the LP holds
    the whole supply), at most the idle collateral (base units)."""
    if now_s < vault.unlock_at_s:
        return 0
    assets = int(kernels.convert_to_assets(vault.supply, vault.supply, total_assets_units))
    return min(assets, vault.idle_units)


def lp_withdraw(
    ctx: Context, s: EngineState, venue: VenueState, t: int, fell: bool, last_s: int,
    events: list[dict],
) -> list[str]:  # fmt: skip
    """The backstop vault's LPs' withdrawal of :func:`simulator.engine.lps.plan_lp_withdrawals`
    (``fell``: a market fell ``lps.withdraw_on_drawdown`` from its peak this step, the first
    time for the vault): ``withdraw_fraction`` of ``maxWithdraw`` as the last mined block (at
    ``last_s``, s) reads it, its ``lp_withdrawal`` row appended to ``events``, then the
    ERC-4626 ``withdraw`` on the vault now (refused, changing nothing, while locked or beyond
    ``maxWithdraw``; shares burnt rounded up). Returns the calls sent (one or none)."""
    vault: Vault | None = venue.backstop
    lps = ctx.scenario.lps
    if vault is None or not fell or lps.applies_to not in ("backstop", "both"):
        return []
    if s.vault_lps_withdrew:
        return []
    s.vault_lps_withdrew = True
    idle = max_withdraw(vault, last_s, vault.total_assets_units)
    amount = int(idle * lps.withdraw_fraction)
    if amount <= 0:
        return []
    events.append(event_row(t, "lp_withdrawal", amount=from_units(amount),
                            detail="backstop_vault"))  # fmt: skip
    assets = total_assets(venue)
    if venue.now >= vault.unlock_at_s and amount <= max_withdraw(vault, venue.now, assets):
        shares = int(kernels.convert_to_shares(amount, vault.supply, assets, round_up=True))
        vault.supply -= shares
        vault.idle_units -= amount
    return ["withdraw"]


# -- the levels ---------------------------------------------------------------------------------


def levels(venue: VenueState) -> dict[str, Any]:
    """The vault's levels as :class:`simulator.engine.levels.Levels` parses them:
    ``vault_assets_usd`` (``totalAssets``), ``vault_supply`` and ``vault_size_wad``."""
    vault: Vault = venue.backstop
    vault.total_assets_units = total_assets(venue)
    return {
        "vault_assets_usd": from_units(vault.total_assets_units),
        "vault_supply": vault.supply,
        "vault_size_wad": size_array(venue),
    }


__all__ = ["Vault", "execute", "expand", "levels", "plan", "size_array", "sizes", "takeover", "total_assets", "max_withdraw", "lp_withdraw", "unwind",
           "vault_address", "vault_of", "wire", "wired"]  # fmt: skip
