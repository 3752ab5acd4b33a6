"""The single-market suite's review and mutation regressions the venue suite lacked (ported
from test_review_fixes.py, test_mutation_cases.py and test_peripheral_fixes.py; PORTING.md maps
each test): the F1 mark held while the account is still unhealthy, the penalty split with a 30%
keeper share to the wei, the ADL role held by the ADL keeper only, and the venue vault's shares
(1 USD at the start, the lock carried through transfers, the cooldown set by the timelock only).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from perp_helpers import KEEPER, MANAGER, TRADERS, UNIT, WAD, event, ok, usd, wad
from vault_helpers import VaultVenue, deploy_vault_venue, govern_on
from venue_helpers import ADL_KEEPER, MarketSpec

A, B, C, D = TRADERS[5:9]
PARTIAL = {"partialLiquidationThreshold": 5_000 * WAD, "partialLiquidationShareBps": 2_000,
           "liquidationCooldown": 30, "fullLiquidationAfterCooldown": True}  # fmt: skip


def test_f1_a_top_up_that_restores_health_clears_the_mark_at_once(make_mv):
    """After the cooldown a marked position goes whole; a deposit that makes the account
    healthy again ends the episode: falling again, it is liquidated partially (1.6 of 8), like
    an unmarked account, not whole (8.0, penalty 72.4, before the fix)."""
    mv = make_mv([MarketSpec("BTC", 1_000, PARTIAL), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 920)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 2 * WAD
    assert v.position_now(A, 1)["partialLiquidatedAt"] > 0
    mv.chain.advance_time(31)  # cooldown over: a liquidation now would take the whole position
    mv.push_all({1: 920, 2: 100})
    ok(mv.chain.execute(mv.fund_calls([A], usd(100)) + [v.deposit(A, usd(100))]))
    eq, mm, _ = v.health_now(A)
    assert eq >= mm  # healthy again
    assert v.position_now(A, 1)["partialLiquidatedAt"] == 0
    mv.push(1, 905)  # liquidatable again: a fresh episode
    assert v.health_now(A)[0] < v.health_now(A)[1]
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == wad("1.6")


def test_f1_the_mark_stays_while_the_account_is_still_unhealthy(make_mv):
    """A top-up that leaves the account under maintenance does not clear the partial mark:
    liquidatable just after the cooldown, the whole position goes (Hyperliquid)."""
    mv = make_mv([MarketSpec("BTC", 1_000, PARTIAL), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 920)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 2 * WAD
    marked_at = v.position_now(A, 1)["partialLiquidatedAt"]
    assert marked_at > 0
    ok(mv.chain.execute(mv.fund_calls([A], usd(1)) + [v.deposit(A, usd(1))]))
    eq, mm, _ = v.health_now(A)
    assert eq < mm  # still unhealthy
    assert v.position_now(A, 1)["partialLiquidatedAt"] == marked_at
    mv.chain.advance_time(31)
    mv.push(1, 920)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 8 * WAD and event(r, "Liquidated")["full"]


def test_a_thirty_percent_keeper_share_splits_the_penalty_to_the_wei(make_mv):
    """Keeper share 30 %: keeper gets floor(30 % of the penalty) in whole collateral units, the
    fund the rest in whole units, the protocol the sub-unit dust. Mutant: the fund's share
    computed as floor(70 % of the penalty) on its own moves one unit from the fund to fees."""
    mv = make_mv([MarketSpec("BTC", 1_000, {"keeperShareBps": 3_000}), MarketSpec("ETH", 100)])
    v = mv.venue
    size = wad("9.876543")
    mv.setup(A, 1_000, [(1, Fraction(size, WAD))])
    price = wad("911.7777777")
    mv.push(1, price)
    fund_before = mv.chain.read_one(mv.fund.balance())
    fees_before = v.accounting_now()["protocolFees"]
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]

    notional = size * price // WAD
    penalty = -(-notional * 100 // 10_000)
    keeper = penalty * 3_000 // 10_000 // UNIT * UNIT
    insurance = (penalty - keeper) // UNIT * UNIT
    dust = penalty - keeper - insurance
    assert (penalty, keeper, insurance, dust) == (
        90_052_124_278_984_911_000,
        27_015_637_000_000_000_000,
        63_036_487_000_000_000_000,
        278_984_911_000,
    )
    args = event(r, "Liquidated")
    assert (args["notional"], args["penalty"], args["keeperReward"], args["insuranceShare"]) == (
        notional, penalty, keeper, insurance,
    )  # fmt: skip
    assert mv.chain.read_one(mv.collateral.balance_of(KEEPER)) == keeper // UNIT
    assert mv.chain.read_one(mv.fund.balance()) == fund_before + insurance // UNIT
    assert v.accounting_now()["protocolFees"] == fees_before + dust
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance


#: Price (wei) at which an isolated long of 1 BTC from 1000 with 50 USD of margin has equity ==
#: MM to the wei: 50 + (P − 1000) = ceil(P/40) = 24.358974358974358975 USD.
TIE_PRICE = 974_358_974_358_974_358_975


def test_isolated_equity_exactly_at_maintenance_is_not_liquidatable_one_wei_below_is(mv):
    """The isolated path's tie (the cross one: test_venue_cross). Mutant: liquidateIsolated
    reverting only when equity > MM, accepting the tie."""
    v = mv.venue
    ok(mv.chain.execute(mv.fund_calls([B], usd(50)) + [
        v.deposit(B, usd(50)), v.trade_isolated(B, 1, WAD, 50 * WAD),
    ]))  # fmt: skip
    mv.push(1, TIE_PRICE)
    equity, mm = v.read("isolatedHealth", B, 1)[:2]
    assert equity == mm == 50 * WAD + TIE_PRICE - 1_000 * WAD == -(-TIE_PRICE // 40)
    r = mv.chain.execute_one(v.liquidate_isolated(KEEPER, B, 1))
    assert r.error.name == "NotLiquidatable"
    assert r.error.args == {"account": B, "equity": equity, "maintenanceMargin": mm}
    mv.push(1, TIE_PRICE - 1)
    equity, mm = v.read("isolatedHealth", B, 1)[:2]
    assert equity == mm - 1
    ok([mv.chain.execute_one(v.liquidate_isolated(KEEPER, B, 1))])


def test_the_vault_absorbs_the_negative_collateral_of_a_bankrupt_account(chain):
    with chain.isolate():
        vv = deploy_vault_venue(chain, [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100)], seed_usd=10_000)  # fmt: skip
        v = vv.mv.venue
        ok([chain.execute_one(vv.vault.call(MANAGER, "depositMargin", usd(5_000)))])
        vv.mv.setup(A, 1_000, [(1, 10)])
        vv.mv.push(1, 880)  # equity −200
        assert v.health_now(A)[0] == -200 * WAD
        r = ok([chain.execute_one(v.backstop_takeover(KEEPER, A))])[0]
        assert event(r, "BackstopTakeover")["collateralTransferred"] == -200 * WAD
        assert v.collateral_now(vv.vault.address) == 4_800 * WAD
        assert v.collateral_now(A) == 0 and len(v.read("positionsOf", A)) == 0
        assert vv.vault.read("positions")[0][1:3] == (10 * WAD, 880 * WAD)
        ledgers, flows, balance = vv.mv.cash_identity()
        assert ledgers == flows == balance


def test_deploy_grants_the_adl_role_only_to_the_adl_keeper(mv):
    role = mv.venue.role("ADL_KEEPER_ROLE")
    assert mv.venue.read("hasRole", role, ADL_KEEPER) is True
    for other in (mv.deployer, mv.governor, KEEPER):
        assert mv.venue.read("hasRole", role, other) is False


# ---------------------------------------------------------------------------------------------
# The venue vault's shares
# ---------------------------------------------------------------------------------------------

COOLDOWN = 900


@pytest.fixture
def locked(chain) -> VaultVenue:
    with chain.isolate():
        yield deploy_vault_venue(chain, [MarketSpec("BTC", 1_000)], cooldown_s=COOLDOWN, seed_usd=10_000)  # fmt: skip


def test_vault_shares_have_twelve_decimals_and_start_at_one_usd(locked):
    vault = locked.vault
    assert vault.read("decimals") == 12
    assert vault.read("totalSupply") == locked.total_assets() * 10**6  # seeded at 1 USD a share


def test_vault_shares_carry_their_lock_through_transfers_weighted_by_shares(chain, locked):
    vault, token, mv = locked.vault, locked.mv.collateral, locked.mv
    ok(chain.execute([token.mint(mv.deployer, x, usd(100_000)) for x in (A, B, C, D)]
                     + [token.approve(x, vault.address, 2**256 - 1) for x in (A, B, C, D)]))  # fmt: skip
    t = chain.latest_timestamp() + 10
    chain.set_next_block_timestamp(t)
    ok([chain.execute_one(vault.call(A, "deposit", usd(90_000), A))])
    assert vault.read("unlockTime", A) == t + COOLDOWN
    # A's locked shares moved to a fresh address keep A's unlock time: no bypass by transfer
    a_shares = vault.read("balanceOf", A)
    chain.set_next_block_timestamp(t + 100)
    ok([chain.execute_one(vault.call(A, "transfer", B, a_shares // 2))])
    assert vault.read("unlockTime", B) == t + COOLDOWN
    assert chain.execute_one(vault.call(B, "redeem", 1, B, B)).error.name == "RedeemLocked"
    # C holds unlocked shares; D's dust deposit in C's name moves C's lock by a share-weighted
    # mean (rounded up), not by the whole cooldown: griefing C costs D the dust.
    chain.set_next_block_timestamp(t + 200)
    ok([chain.execute_one(vault.call(C, "deposit", usd(10_000), C))])
    chain.set_next_block_timestamp(t + 200 + COOLDOWN)
    ok([chain.execute_one(vault.call(C, "redeem", 1, C, C))])  # unlocked
    held = vault.read("balanceOf", C)
    dust = vault.read("previewDeposit", usd(1))
    now = t + 200 + COOLDOWN + 1
    chain.set_next_block_timestamp(now)
    ok([chain.execute_one(vault.call(D, "deposit", usd(1), C))])
    expected_wait = -(-COOLDOWN * dust // (held + dust))  # ceil
    assert vault.read("unlockTime", C) == now + expected_wait
    assert expected_wait == 1  # 1 USD against ~10,000 USD of held shares
    # a lock is never shortened: unlocked shares sent to a locked holder leave it as it was
    locked_until = vault.read("unlockTime", B)
    chain.set_next_block_timestamp(now + 10)
    ok([chain.execute_one(vault.call(C, "transfer", B, held // 2))])
    assert vault.read("unlockTime", B) == locked_until


def test_only_the_timelock_sets_the_redeem_cooldown_and_within_its_bound(locked):
    vault, mv = locked.vault, locked.mv
    tl = mv.timelock.address
    assert vault.read("redeemCooldown") == COOLDOWN
    r = mv.chain.execute_one(vault.call(KEEPER, "setRedeemCooldown", 0))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = mv.chain.execute_one(vault.call(MANAGER, "setRedeemCooldown", 0))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    r = ok([govern_on(mv, vault.address, vault.call(tl, "setRedeemCooldown", 3_600))])[0]
    assert event(r, "RedeemCooldownUpdated") == {"cooldown": 3_600}
    r = govern_on(mv, vault.address, vault.call(tl, "setRedeemCooldown", 31 * 86_400), b"\x01" * 32)
    assert not r.ok
    assert vault.read("redeemCooldown") == 3_600
