"""The contagion world's lending pool (``contracts/contagion/LendingPool.sol``): supply shares,
borrowing and the health factor to the wei against the Python references of
``contagion_helpers``; interest from utilisation; liquidation with the bonus under the close
factor; bad debt written off against suppliers when an account's collateral is gone; a fall of
the venue backstop vault's share price making a borrower of its shares liquidatable; access
control, reentrancy and rounding in the pool's favour."""

from __future__ import annotations

import pytest
from contagion_helpers import (
    ADMIN,
    BONUS_BPS,
    BORROWER,
    CF,
    CLOSE_FACTOR,
    LIQUIDATOR,
    LT,
    MAX_UINT,
    ORACLE,
    OUTSIDER,
    SUPPLIER,
    VAULT_SHARE,
    deploy,
    div_up,
    health_factor,
    next_index,
    oracle_value,
    revert_of,
    send,
)
from perp_helpers import KEEPER, MANAGER, TRADERS, UNIT, WAD, event, usd, wad
from vault_helpers import deploy_vault_venue
from venue_helpers import MarketSpec

ONE_AND_A_HALF = wad("1.5")
BPS_PLUS_BONUS = 10_000 + BONUS_BPS


def _borrower_at_2000(pw, borrow_usd: int = 2_000) -> None:
    """SUPPLIER supplies 100,000 USD; BORROWER posts 1.5 WETH (3,000 USD at 2,000) and borrows."""
    pw.supply(SUPPLIER, usd(100_000))
    pw.post(BORROWER, ONE_AND_A_HALF)
    send(pw.chain, pw.pool.call(BORROWER, "borrow", usd(borrow_usd)))


def test_supply_borrow_and_health_factor_match_the_formula_to_the_wei(pw):
    r = pw.supply(SUPPLIER, usd(100_000))
    shares = event(r, "Deposit")["shares"]
    assert shares == usd(100_000) * 10**6  # virtual offset 10**6: one share per 1e-12 USD
    pw.post(BORROWER, ONE_AND_A_HALF)
    price = wad("1999.123456789012345678")
    pw.push(price)
    value = oracle_value(ONE_AND_A_HALF, price)
    total, capacity, liquidation_value, debt_value = pw.pool.read("accountLiquidity", BORROWER)
    assert (total, capacity, liquidation_value, debt_value) == (
        value,
        value * CF // WAD,
        value * LT // WAD,
        0,
    )
    assert pw.hf(BORROWER) == MAX_UINT

    # the largest borrow the collateral factor allows goes through; one unit more does not
    max_units = value * CF // WAD // UNIT
    err = revert_of(pw.chain, pw.pool.call(BORROWER, "borrow", max_units + 1))
    assert err.name == "InsufficientCollateral"
    assert err.args == {"borrowCapacity": value * CF // WAD, "debt": (max_units + 1) * UNIT}
    r = send(pw.chain, pw.pool.call(BORROWER, "borrow", max_units))[0]
    assert event(r, "Borrowed") == {
        "account": BORROWER,
        "amount": max_units,
        "debtAfter": max_units,
    }
    assert pw.debt(BORROWER) == max_units
    assert pw.chain.read_one(pw.stable.balance_of(BORROWER)) == max_units
    assert pw.hf(BORROWER) == health_factor([(value, LT)], max_units)
    assert pw.pool.read("cash") == usd(100_000) - max_units
    assert pw.pool.read("totalAssets") == usd(100_000)

    # the health factor follows the price; withdrawing collateral needs borrowing power
    for p in ["1700", "1600.5", "1500"]:
        pw.push(p)
        assert pw.hf(BORROWER) == health_factor(
            [(oracle_value(ONE_AND_A_HALF, wad(p)), LT)], max_units
        )
    err = revert_of(pw.chain, pw.pool.call(BORROWER, "withdrawCollateral", pw.weth.address, 1))
    assert err.name == "InsufficientCollateral"


def test_interest_accrues_from_utilisation_and_goes_to_suppliers(pw):
    base, slope = wad("0.02"), wad("0.2")
    send(pw.chain, pw.pool.call(ADMIN, "setInterestRateModel", base, slope))
    _borrower_at_2000(pw)
    t0 = pw.chain.latest_timestamp()
    shares = usd(2_000)  # index 1: one debt share per unit
    pw.chain.set_next_block_timestamp(t0 + 86_400)
    r = send(pw.chain, pw.pool.call(OUTSIDER, "accrueInterest"))[0]
    index = next_index(WAD, shares, usd(98_000), 86_400, base, slope)
    accrued = event(r, "InterestAccrued")
    utilisation = usd(2_000) * WAD // usd(100_000)
    assert accrued["ratePerYear"] == base + slope * utilisation // WAD
    assert accrued["borrowIndex"] == index
    assert accrued["totalDebt"] == shares * index // WAD
    assert accrued["interest"] == shares * index // WAD - usd(2_000)
    assert accrued["interest"] > 0
    # suppliers own the interest: cash + debt
    pw.chain.set_next_block_timestamp(t0 + 86_400)  # no time passes for the reads' block
    assert pw.pool.read("totalAssets") >= usd(98_000) + shares * index // WAD


def test_liquidation_pays_the_bonus_under_the_close_factor(pw):
    _borrower_at_2000(pw)
    assert pw.hf(BORROWER) == wad("1.2")
    err = revert_of(
        pw.chain, pw.pool.call(LIQUIDATOR, "liquidate", BORROWER, pw.weth.address, 1, 0)
    )
    assert err.name == "NotLiquidatable" and err.args["healthFactor"] == wad("1.2")

    pw.push(1_600)  # value 2,400, liquidation value 1,920 < debt 2,000
    assert pw.hf(BORROWER) == wad("0.96")
    send(pw.chain, *pw.fund_stable(LIQUIDATOR, usd(5_000)))
    # asks for 5,000 USD: the close factor caps it at half the debt
    call = pw.pool.call(LIQUIDATOR, "liquidate", BORROWER, pw.weth.address, usd(5_000), 0)
    r = send(pw.chain, call)[0]
    seized = usd(1_000) * UNIT * BPS_PLUS_BONUS // 10_000 * WAD // wad(1_600)
    assert seized == wad("0.65625")
    assert event(r, "Liquidated") == {
        "account": BORROWER,
        "liquidator": LIQUIDATOR,
        "token": pw.weth.address,
        "repaid": usd(1_000),
        "seized": seized,
        "seizedValue": oracle_value(seized, wad(1_600)),
        "healthFactorBefore": wad("0.96"),
        "debtAfter": usd(1_000),
    }
    assert pw.debt(BORROWER) == usd(1_000)
    assert pw.pool.read("collateralOf", BORROWER, pw.weth.address) == ONE_AND_A_HALF - seized
    assert pw.weth.read("balanceOf", LIQUIDATOR) == seized
    assert pw.chain.read_one(pw.stable.balance_of(LIQUIDATOR)) == usd(4_000)
    # 1,050 USD of collateral for 1,000 USD repaid: the liquidator's bonus is 5%
    assert oracle_value(seized, wad(1_600)) == usd(1_050) * UNIT
    assert pw.hf(BORROWER) == health_factor(
        [(oracle_value(ONE_AND_A_HALF - seized, wad(1_600)), LT)], usd(1_000)
    )
    assert pw.pool.read("totalBadDebt") == 0


def test_bad_debt_is_recorded_and_written_off_when_collateral_value_falls_below_debt(pw):
    _borrower_at_2000(pw)
    supplier_shares = pw.pool.read("balanceOf", SUPPLIER)
    assets_before = pw.pool.read("convertToAssets", supplier_shares)
    pw.push(1_000)  # collateral 1,500 USD < debt 2,000 USD
    send(pw.chain, *pw.fund_stable(LIQUIDATOR, usd(5_000)))
    liquidate = pw.pool.call(LIQUIDATOR, "liquidate", BORROWER, pw.weth.address, usd(5_000), 0)
    first = send(pw.chain, liquidate)[0]
    assert event(first, "Liquidated")["repaid"] == usd(1_000)
    assert event(first, "Liquidated")["seized"] == wad("1.05")
    assert not [e for e in first.events if e.name == "BadDebtRecorded"]

    # 0.45 WETH (450 USD) left against 1,000 USD: all of it goes, for 450/1.05 USD rounded up
    second = send(pw.chain, liquidate)[0]
    liq = event(second, "Liquidated")
    repaid = div_up(450 * 10**6 * 10_000, BPS_PLUS_BONUS)
    assert liq["seized"] == wad("0.45") and liq["repaid"] == repaid == 428_571_429
    bad = usd(1_000) - repaid
    assert event(second, "BadDebtRecorded") == {
        "account": BORROWER,
        "amount": bad,
        "totalBadDebt": bad,
    }
    assert pw.pool.read("totalBadDebt") == bad
    assert pw.pool.read("badDebtOf", BORROWER) == bad and pw.pool.read("badDebtOf", SUPPLIER) == 0
    assert pw.debt(BORROWER) == 0 and pw.pool.read("totalDebt") == 0
    assert pw.pool.read("collateralOf", BORROWER, pw.weth.address) == 0
    # suppliers take the loss: the share price falls by the written-off debt
    assert pw.pool.read("totalAssets") == usd(100_000) - bad
    assets_after = pw.pool.read("convertToAssets", supplier_shares)
    assert assets_before - assets_after == pytest.approx(bad, abs=1)
    assert pw.pool.read("cash") == usd(100_000) - bad


def test_a_fall_of_the_backstop_vault_share_price_makes_its_holder_liquidatable(pw):
    """BORROWER holds shares of the venue's backstop vault worth 1,000 USD; the vault takes over
    an account near bankruptcy and the price keeps falling: the shares lose value on chain and
    the pool, which reads their price through ERC-4626 `convertToAssets`, liquidates."""
    a = TRADERS[35]
    vv = deploy_vault_venue(pw.chain, [MarketSpec("BTC", 1_000)], seed_usd=10_000)
    assert vv.vault.read("asset") == vv.mv.collateral.address
    # this pool must lend the venue's own collateral: a second pool on that token
    pool = deploy(
        pw.chain, "LendingPool", vv.mv.collateral.address, "venue lending", "vl", ADMIN, 0, 0,
        CLOSE_FACTOR,
    )  # fmt: skip
    send(
        pw.chain,
        pool.call(
            ADMIN, "listCollateral", vv.vault.address, VAULT_SHARE, OUTSIDER, CF, LT, BONUS_BPS
        ),
    )
    assert pool.read("collateralConfig", vv.vault.address)[2] == vv.vault.address  # feed = vault
    c = vv.mv.collateral
    send(
        pw.chain,
        c.mint(vv.mv.deployer, SUPPLIER, usd(50_000)),
        c.approve(SUPPLIER, pool.address, MAX_UINT),
        pool.call(SUPPLIER, "deposit", usd(50_000), SUPPLIER),
    )
    vv.lp_deposit(BORROWER, usd(1_000))
    shares = vv.vault.read("balanceOf", BORROWER)
    send(
        pw.chain,
        vv.vault.call(BORROWER, "approve", pool.address, MAX_UINT),
        pool.call(BORROWER, "depositCollateral", vv.vault.address, shares),
        pool.call(BORROWER, "borrow", usd(740)),
    )
    value = vv.vault.read("convertToAssets", shares) * UNIT
    assert pool.read("collateralValue", vv.vault.address, shares) == value
    assert pool.read("healthFactor", BORROWER) == health_factor([(value, LT)], usd(740)) > WAD

    # the vault takes over a 10 BTC long at 950 (equity 100 < 2/3 of MM 237.5) ...
    send(pw.chain, vv.vault.call(MANAGER, "depositMargin", usd(5_000)))
    vv.mv.setup(a, 600, [(1, 10)])
    vv.mv.push(1, 950)
    send(pw.chain, vv.mv.venue.backstop_takeover(KEEPER, a))
    # ... and BTC falls to 800: the vault's equity at the venue drops by 1,500 USD
    vv.mv.push(1, 800)
    value_after = vv.vault.read("convertToAssets", shares) * UNIT
    assert value_after < value * 93 // 100
    hf = pool.read("healthFactor", BORROWER)
    assert hf == health_factor([(value_after, LT)], usd(740)) < WAD

    send(
        pw.chain,
        c.mint(vv.mv.deployer, LIQUIDATOR, usd(1_000)),
        c.approve(LIQUIDATOR, pool.address, MAX_UINT),
    )
    r = send(pw.chain, pool.call(LIQUIDATOR, "liquidate", BORROWER, vv.vault.address, usd(370), 1))[
        0
    ]
    liq = event(r, "Liquidated")
    assert liq["repaid"] == usd(370) and liq["healthFactorBefore"] == hf
    # the seized shares are worth the repayment plus the bonus, rounded down
    assert liq["seized"] == vv.vault.read("convertToShares", usd(370) * BPS_PLUS_BONUS // 10_000)
    assert vv.vault.read("balanceOf", LIQUIDATOR) == liq["seized"]


def test_every_parameter_change_is_admin_only_and_validated(pw):
    p = pw.pool
    for name, args in [
        ("listCollateral", (pw.stable.address, ORACLE, pw.oracle.address, 0, 0, 0)),
        ("setCollateralParameters", (pw.weth.address, CF, LT, BONUS_BPS)),
        ("setInterestRateModel", (0, 0)),
        ("setCloseFactor", (WAD,)),
    ]:
        err = revert_of(pw.chain, p.call(OUTSIDER, name, *args))
        assert err.name == "AccessControlUnauthorizedAccount", name
        assert err.args["account"] == OUTSIDER
    bad = [
        (
            "setCollateralParameters",
            (pw.weth.address, wad("0.9"), wad("0.8"), 0),
            "collateralFactor",
        ),
        ("setCollateralParameters", (pw.weth.address, 0, wad("1.01"), 0), "liquidationThreshold"),
        # LT·(1 + bonus) > 1: a liquidation below HF 1 could not pay its bonus
        ("setCollateralParameters", (pw.weth.address, 0, wad("0.96"), 500), "liquidationBonusBps"),
        ("setCloseFactor", (0,), "closeFactor"),
        ("setInterestRateModel", (wad(11), 0), "baseRatePerYear"),
    ]
    for name, args, field in bad:
        err = revert_of(pw.chain, p.call(ADMIN, name, *args))
        assert err.name == "InvalidParameter", (name, err)
        assert err.args["name"].rstrip(b"\x00") == field.encode()
    err = revert_of(
        pw.chain,
        p.call(ADMIN, "listCollateral", pw.weth.address, ORACLE, pw.oracle.address, 0, 0, 0),
    )
    assert err.name == "CollateralAlreadyListed"
    # a vault whose asset is not the pool's stablecoin is refused
    other = deploy(pw.chain, "LendingPool", pw.weth.address, "weth pool", "wp", ADMIN, 0, 0, WAD)
    err = revert_of(
        pw.chain, p.call(ADMIN, "listCollateral", other.address, VAULT_SHARE, OUTSIDER, 0, 0, 0)
    )
    assert err.name == "VaultAssetMismatch" and err.args["asset"] == pw.weth.address
    r = send(
        pw.chain,
        p.call(ADMIN, "setCollateralParameters", pw.weth.address, wad("0.5"), wad("0.6"), 1_000),
    )[0]
    assert event(r, "CollateralParametersUpdated")["liquidationBonusBps"] == 1_000


def test_reentrancy_through_a_collateral_token_is_refused(pw):
    token = deploy(pw.chain, "ReentrantToken")
    send(
        pw.chain,
        pw.pool.call(
            ADMIN, "listCollateral", token.address, ORACLE, pw.oracle.address, CF, LT, BONUS_BPS
        ),
    )
    pw.supply(SUPPLIER, usd(10_000))
    send(
        pw.chain,
        token.call(OUTSIDER, "mint", BORROWER, wad(10)),
        token.call(BORROWER, "approve", pw.pool.address, MAX_UINT),
    )
    # the token calls back into the pool in the middle of depositCollateral's transferFrom
    reenter = pw.pool.function("borrow").encode(usd(1))
    send(pw.chain, token.call(OUTSIDER, "setHook", pw.pool.address, reenter))
    err = revert_of(pw.chain, pw.pool.call(BORROWER, "depositCollateral", token.address, wad(1)))
    assert err.name == "ReentrancyGuardReentrantCall"
    # without the hook the same deposit goes through
    send(pw.chain, token.call(OUTSIDER, "setHook", "0x" + "00" * 20, b""))
    send(pw.chain, pw.pool.call(BORROWER, "depositCollateral", token.address, wad(1)))
    assert pw.pool.read("collateralOf", BORROWER, token.address) == wad(1)


def test_rounding_favours_the_pool(pw):
    """Debt rounds up, supply and seized collateral round down (index above 1 after a year)."""
    send(pw.chain, pw.pool.call(ADMIN, "setInterestRateModel", wad("0.1"), 0))
    _borrower_at_2000(pw, borrow_usd=1)
    t0 = pw.chain.latest_timestamp()
    pw.chain.set_next_block_timestamp(t0 + 365 * 86_400 // 3)
    send(pw.chain, pw.pool.call(OUTSIDER, "accrueInterest"))
    index = pw.pool.read("borrowIndex")
    assert index % WAD != 0
    pw.push(2_000)  # a third of a year later: a fresh price for the checked reads
    # borrowing one unit books ceil(1/index) shares, so the debt is at least that unit
    pw.post(OUTSIDER, wad(1))
    send(pw.chain, pw.pool.call(OUTSIDER, "borrow", 1))
    assert pw.debt(OUTSIDER) >= 1
    shares = div_up(1 * WAD, pw.pool.read("borrowIndex"))
    assert pw.debt(OUTSIDER) == div_up(shares * pw.pool.read("borrowIndex"), WAD)
    # repaying less than the debt leaves the rounding with the borrower
    debt = pw.debt(BORROWER)
    send(pw.chain, *pw.fund_stable(BORROWER, usd(10)), pw.pool.call(BORROWER, "repay", BORROWER, 1))
    assert pw.debt(BORROWER) >= debt - 1
    # a supply redeemed at once returns at most what was put in
    r = pw.supply(LIQUIDATOR, 1_234_567)
    shares = event(r, "Deposit")["shares"]
    assert pw.pool.read("previewRedeem", shares) <= 1_234_567
    # the supply never counts more debt than borrowers owe
    assert pw.pool.read("totalDebt") <= pw.debt(BORROWER) + pw.debt(OUTSIDER)


def test_supply_withdrawals_are_capped_by_cash(pw):
    _borrower_at_2000(pw, borrow_usd=2_000)
    assert pw.pool.read("maxWithdraw", SUPPLIER) == usd(98_000)
    err = revert_of(pw.chain, pw.pool.call(SUPPLIER, "withdraw", usd(99_000), SUPPLIER, SUPPLIER))
    assert err.name == "ERC4626ExceededMaxWithdraw"
    r = send(pw.chain, pw.pool.call(SUPPLIER, "withdraw", usd(98_000), SUPPLIER, SUPPLIER))[0]
    assert event(r, "Withdraw")["assets"] == usd(98_000)
    assert pw.pool.read("cash") == 0
