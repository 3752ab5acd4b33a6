"""The obviously-correct reference of :mod:`simulator.mirror.backstop`: plain Python integers,
one account at a time, line by line after ``VenueLiquidationModule.backstopTakeover`` (with
``_loadCross``), ``VenueStorage._settleFunding`` / ``_applyFill``, ``PerpVenue._trade`` for a
closing trade, ``VenueBackstopVault.totalAssets`` and OpenZeppelin's ERC-4626 conversions with
``LockedShareVault``'s offset. Markets and accounts are :mod:`simulator.mirror.reference`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulator.mirror.reference import (
    BPS,
    UNIT,
    WAD,
    RefAccount,
    RefMarket,
    RefPosition,
    apply_fill,
    cross_health,
    funding_owed,
    mul_div,
    mul_div_ceil_u,
    unrealized_pnl,
)


@dataclass
class RefTakeover:
    outcome: str
    threshold: int = 0
    positions: int = 0
    transferred: int = 0
    vault_equity: int = 0
    vault_maintenance: int = 0
    vault: RefAccount | None = None
    realized: dict[int, int] = field(default_factory=dict)


def takeover(account: RefAccount, vault: RefAccount, markets: dict[int, RefMarket]) -> RefTakeover:
    """``backstopTakeover(account)`` with `markets` accrued to the call (nothing is mutated)."""
    acct = RefAccount(account.collateral, {i: replace(p) for i, p in account.positions.items()})
    v = RefAccount(vault.collateral, {i: replace(p) for i, p in vault.positions.items()})
    slots = []
    eq = mm_threshold = 0
    for i in sorted(acct.positions):
        p = acct.positions[i]
        if p.isolated or p.size == 0:
            continue
        m = markets[i]
        acct.collateral -= funding_owed(p.size, p.snapshot, m.long_index, m.short_index)
        p.snapshot = m.long_index if p.size >= 0 else m.short_index
        mm = m.maintenance_margin(p.size)
        eq += unrealized_pnl(p.size, p.entry, m.price)
        mm_threshold += mul_div(mm, m.params["backstopFraction"], WAD)
        slots.append(i)
    eq += acct.collateral
    if not slots:
        return RefTakeover("NoPosition")
    if eq >= mm_threshold:
        return RefTakeover("NotBelowBackstopThreshold", threshold=mm_threshold)
    out = RefTakeover("ok", threshold=mm_threshold, positions=len(slots))
    for i in slots:
        p, m = acct.positions[i], markets[i]
        size = p.size
        _, _, realized = apply_fill(p.size, p.entry, -size, m.price)
        acct.collateral += realized
        q = v.positions.get(i, RefPosition(0, 0))
        if q.size != 0 and q.isolated:
            return RefTakeover("WrongMarginMode", threshold=mm_threshold)
        v.collateral -= funding_owed(q.size, q.snapshot, m.long_index, m.short_index)
        q.size, q.entry, r = apply_fill(q.size, q.entry, size, m.price)
        v.collateral += r
        q.snapshot = m.long_index if q.size >= 0 else m.short_index
        out.realized[i] = r
        v.positions[i] = q
    v.positions = {i: q for i, q in v.positions.items() if q.size != 0}
    out.transferred = acct.collateral
    v.collateral += acct.collateral
    veq, vmm, _ = cross_health(v, markets)
    if veq < vmm:
        return RefTakeover("BackstopWouldBeUnderwater", threshold=mm_threshold)
    out.vault_equity, out.vault_maintenance, out.vault = veq, vmm, v
    return out


def unwind(
    p: RefPosition, m: RefMarket, share_bps: int
) -> tuple[int, int, int, int, int, int, int]:
    """A closing trade of ``⌊|size|·share/1e4⌋`` (``PerpVenue._trade``'s arithmetic):
    (delta, fill, fee, funding, realized, new size, new entry); all 0 / unchanged for none."""
    close = abs(p.size) * share_bps // BPS
    if close == 0:
        return 0, 0, 0, 0, 0, p.size, p.entry
    delta = -close if p.size > 0 else close
    owed = funding_owed(p.size, p.snapshot, m.long_index, m.short_index)
    fill = m.fill(delta)
    new_size, new_entry, realized = apply_fill(p.size, p.entry, delta, fill)
    fee = mul_div_ceil_u(mul_div_ceil_u(abs(delta), fill, WAD), m.params["takerFeeBps"], BPS)
    return delta, fill, fee, owed, realized, new_size, new_entry


def total_assets(idle: int, equity: int, held: list[int], prices: list[int]) -> int:
    total = idle
    for h, p in zip(held, prices, strict=True):
        if h != 0:
            total += mul_div(h, p, WAD) // UNIT
    if equity > 0:
        total += equity // UNIT
    return total


def convert_to_assets(shares: int, supply: int, assets: int, round_up: bool = False) -> int:
    if round_up:
        return mul_div_ceil_u(shares, assets + 1, supply + 10**6)
    return mul_div(shares, assets + 1, supply + 10**6)


def convert_to_shares(assets: int, supply: int, total: int, round_up: bool = False) -> int:
    if round_up:
        return mul_div_ceil_u(assets, supply + 10**6, total + 1)
    return mul_div(assets, supply + 10**6, total + 1)
