"""The venue's backstop vault (``VenueBackstopVault``): a takeover moves a whole multi-position
cross account into the vault and the share price follows the vault's equity at the venue; the
review fixes on it (F3 deposit-takeover-redeem sandwich, F8 a takeover that would leave the
vault under maintenance, F9 donation to an unseeded vault); the manager's margin, trades and
per-market spot hedges; contract sizes under EIP-170."""

from __future__ import annotations

import pytest
from perp_helpers import KEEPER, MANAGER, TRADERS, UNIT, WAD, event, ok, usd, wad
from vault_helpers import VaultVenue, deploy_vault_venue, govern_on
from venue_helpers import MarketSpec

from simulator.chain.artifacts import load_artifacts
from simulator.chain.contracts import ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, deploy_contract

A, B, C = TRADERS[30:33]
#: The four markets of the venue tests (tests/contracts/venue/conftest.py), round prices.
FOUR_MARKETS = [
    MarketSpec("BTC", 1_000),
    MarketSpec("ETH", 100),
    MarketSpec("SOL", 10),
    MarketSpec("ALT", 2),
]
COOLDOWN = 900
EIP170 = 24_576
BIG_GAS = 3_000_000


@pytest.fixture
def vaults(chain):
    """Deploy a vault venue (redeem cooldown, LP seed by MANAGER) inside the test's isolation."""
    with chain.isolate():

        def make(cooldown_s: int = 0, seed_usd: float = 10_000) -> VaultVenue:
            return deploy_vault_venue(chain, FOUR_MARKETS, cooldown_s=cooldown_s, seed_usd=seed_usd)

        yield make


def _margin(vv: VaultVenue, units: int) -> None:
    ok([vv.chain.execute_one(vv.vault.call(MANAGER, "depositMargin", units))])


def _three_position_account(vv: VaultVenue) -> None:
    """A: 1,200 USD, 10 BTC at 1000, 50 ETH at 100, 30 SOL at 10; then BTC 940, ETH 93, SOL 9.5:
    equity 1200 − 600 − 350 − 15 = 235 < 2/3 of MM 358.375 (235 + 116.25 + 7.125)."""
    vv.mv.setup(A, 1_200, [(1, 10), (2, 50), (3, 30)])
    vv.mv.push_all({1: 940, 2: 93, 3: "9.5"})
    eq, mm, _ = vv.mv.venue.health_now(A)
    assert (eq, mm) == (235 * WAD, wad("358.375"))


def _takeover(vv: VaultVenue, who: str = A):
    return vv.chain.execute_one(vv.mv.venue.backstop_takeover(KEEPER, who))


def _assets_from_health(vv: VaultVenue) -> int:
    """idle + max(0, equity) in base units (no spot inventory)."""
    eq, _, _ = vv.vault.read("accountHealth")
    return vv.vault.read("idleAssets") + max(eq, 0) // UNIT


def _lp_value(shares: int, assets: int, supply: int) -> int:
    """ERC-4626 convertToAssets with OpenZeppelin's virtual offset (10**6 shares, 1 unit), down."""
    return shares * (assets + 1) // (supply + 10**6)


def test_a_takeover_moves_a_whole_cross_account_and_the_share_price_follows_its_equity(vaults):
    vv = vaults()
    v = vv.mv.venue
    _margin(vv, usd(5_000))
    assert vv.total_assets() == usd(10_000)
    supply = vv.vault.read("totalSupply")
    lp_shares = vv.vault.read("balanceOf", MANAGER)
    _three_position_account(vv)

    r = ok([_takeover(vv)])[0]
    e = event(r, "BackstopTakeover")
    assert e["vault"] == vv.vault.address
    assert e["positions"] == 3 and e["collateralTransferred"] == 235 * WAD
    # the account is empty; the vault holds every position at the index it was taken at
    assert len(v.read("positionsOf", A)) == 0 and v.collateral_now(A) == 0
    held = {p[0]: (p[1], p[2], p[4]) for p in vv.vault.read("positions")}
    assert held == {
        1: (10 * WAD, 940 * WAD, False),
        2: (50 * WAD, 93 * WAD, False),
        3: (30 * WAD, wad("9.5"), False),
    }
    assert vv.vault.read("venueCollateral") == 5_235 * WAD
    eq, mm, _ = vv.vault.read("accountHealth")
    assert (eq, mm) == (5_235 * WAD, wad("358.375"))
    # the share price takes the account's equity, no share was minted
    assert vv.vault.read("totalSupply") == supply
    assert vv.total_assets() == usd(10_235) == _assets_from_health(vv)
    assert vv.vault.read("convertToAssets", lp_shares) == _lp_value(lp_shares, usd(10_235), supply)

    # then it moves with the positions' PnL in every market
    for prices, equity in [
        ({1: 960, 2: 95, 3: 10}, 5_235 + 200 + 100 + 15),
        ({1: 900, 2: 95, 3: 10}, 5_235 - 400 + 100 + 15),
        ({1: 900, 2: 80, 3: 8}, 5_235 - 400 - 650 - 45),
    ]:
        vv.mv.push_all(prices)
        eq, _, _ = vv.vault.read("accountHealth")
        assert eq == equity * WAD
        assert vv.total_assets() == usd(5_000 + equity) == _assets_from_health(vv)
        value = _lp_value(lp_shares, usd(5_000 + equity), supply)
        assert vv.vault.read("convertToAssets", lp_shares) == value


def test_f8_the_venue_refuses_a_takeover_that_would_leave_the_real_vault_under_maintenance(vaults):
    vv = vaults()
    v = vv.mv.venue
    _margin(vv, usd(100))  # 100 USD against the account's MM of 358.375
    _three_position_account(vv)
    before = vv.total_assets()
    r = _takeover(vv)
    assert r.error is not None and r.error.name == "BackstopWouldBeUnderwater"
    assert r.error.args == {
        "vaultEquity": 335 * WAD,
        "vaultMaintenanceMargin": wad("358.375"),
    }
    assert len(vv.vault.read("positions")) == 0 and vv.total_assets() == before
    assert len(v.read("positionsOf", A)) == 3
    # with enough margin it goes through, and the same caller cannot liquidate the vault
    _margin(vv, usd(100))
    results = vv.chain.execute(
        [v.backstop_takeover(KEEPER, A), v.liquidate(KEEPER, vv.vault.address)]
    )
    e = event(ok([results[0]])[0], "BackstopTakeover")
    assert e["vaultEquityAfter"] == 435 * WAD >= e["vaultMaintenanceMarginAfter"]
    assert results[1].error.name == "NotLiquidatable"
    assert vv.total_assets() == before + usd(235)  # the account's equity


def test_f3_a_deposit_takeover_redeem_sandwich_on_the_venue_vault_captures_nothing(vaults):
    vv = vaults(cooldown_s=COOLDOWN)
    v, vault, token = vv.mv.venue, vv.vault, vv.mv.collateral
    _margin(vv, usd(5_000))
    _three_position_account(vv)
    deposit = usd(1_000_000)
    ok(vv.chain.execute([token.mint(DEFAULT_DEPLOYER, B, deposit)]))
    before = vv.chain.read_one(token.balance_of(B))
    shares = vault.read("previewDeposit", deposit)
    results = vv.chain.execute(
        [
            token.approve(B, vault.address, deposit),
            vault.call(B, "deposit", deposit, B),
            v.backstop_takeover(KEEPER, A),
            vault.call(B, "redeem", shares, B, B),
        ]
    )
    assert [r.ok for r in results[:3]] == [True, True, True]
    assert event(results[2], "BackstopTakeover")["collateralTransferred"] == 235 * WAD
    unlock = vault.read("unlockTime", B)
    assert unlock == vv.chain.latest_timestamp() + COOLDOWN
    assert results[3].error.name == "RedeemLocked"
    assert results[3].error.args == {"owner": B, "unlockTime": unlock}
    assert vv.chain.read_one(token.balance_of(B)) - before == -deposit  # nothing came back
    assert vault.read("maxRedeem", B) == 0 and vault.read("maxWithdraw", B) == 0
    assert vv.chain.execute_one(vault.call(B, "withdraw", 1, B, B)).error.name == "RedeemLocked"
    # the depositor carries the vault's book for the cooldown, then redeems what shares are worth
    vv.chain.set_next_block_timestamp(unlock)
    r = ok([vv.chain.execute_one(vault.call(B, "redeem", shares, B, B))])[0]
    assert event(r, "Withdraw")["shares"] == shares


def test_f9_a_donation_to_the_unseeded_venue_vault_cannot_zero_a_victims_deposit(vaults):
    vv = vaults(seed_usd=0)
    vault, token = vv.vault, vv.mv.collateral
    assert vault.read("totalSupply") == 0 and vault.read("decimals") == 12
    ok(vv.chain.execute([token.mint(DEFAULT_DEPLOYER, x, usd(10_000)) for x in (A, B)]))
    ok(
        vv.chain.execute(
            [token.approve(x, vault.address, 2**256 - 1) for x in (A, B)]
            + [
                vault.call(A, "deposit", 1, A),  # the attacker mints first, with one base unit
                token.transfer(A, vault.address, usd(1_000)),  # and donates 1,000 USD
            ]
        )
    )
    r = ok([vv.chain.execute_one(vault.call(B, "deposit", usd(500), B))])[0]
    victim = vault.read("balanceOf", B)
    assert victim > 0 and event(r, "Deposit")["shares"] == victim
    assert vault.read("convertToAssets", victim) >= usd("499.999")
    assert vault.read("convertToAssets", vault.read("balanceOf", A)) < usd(501)
    r = vv.chain.execute_one(vault.call(B, "deposit", 1, B))
    assert r.error.name == "ZeroSharesMinted" and r.error.args == {"assets": 1}
    assert vault.read("balanceOf", B) == victim


# ---------------------------------------------------------------------------------------------
# The manager: margin, trades in any market, a spot hedge per market
# ---------------------------------------------------------------------------------------------


def _spot(vv: VaultVenue, symbol: str, price: int, collateral: str | None = None):
    """A BaseToken and a 0.3% SpotAMM against `collateral` (default: the venue's), 1,000,000
    USD deep at `price`."""
    artifacts, d = load_artifacts(), DEFAULT_DEPLOYER
    chain, token = vv.chain, vv.mv.collateral

    def deploy(name, *args):
        return deploy_contract(
            chain, ContractWrapper, *args, sender=d, artifacts=artifacts, contract_name=name
        )

    base = deploy("BaseToken", symbol, symbol, d)
    amm = deploy("SpotAMM", collateral or token.address, base.address, 30, d)
    if collateral is not None:
        return base, amm  # an AMM against another token: only ever refused, no liquidity
    depth_units, depth_base = usd(1_000_000), 1_000_000 * WAD // price
    ok(
        chain.execute(
            [
                token.mint(d, d, depth_units),
                base.call(d, "mint", d, depth_base),
                token.approve(d, amm.address, depth_units),
                base.call(d, "approve", amm.address, depth_base),
                amm.call(d, "addLiquidity", depth_units, depth_base),
            ]
        )
    )
    return base, amm


def test_the_manager_moves_margin_and_trades_any_market_at_an_unchanged_share_price(vaults):
    vv = vaults()
    vault, v = vv.vault, vv.mv.venue
    r = vv.chain.execute_one(vault.call(A, "depositMargin", usd(1)))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    _margin(vv, usd(4_000))
    assert vault.read("idleAssets") == usd(6_000) and vv.total_assets() == usd(10_000)
    r = ok([vv.chain.execute_one(vault.call(MANAGER, "withdrawMargin", usd(1_000)))])[0]
    assert event(r, "MarginMoved") == {"amount": -usd(1_000)}
    assert vault.read("venueCollateral") == 3_000 * WAD
    calls = [
        vault.call(MANAGER, "tradePosition", 2, -20 * WAD, 0, gas=BIG_GAS),
        vault.call(MANAGER, "tradePosition", 4, 500 * WAD, 0, gas=BIG_GAS),
    ]
    results = ok(vv.chain.execute(calls))
    assert event(results[0], "PositionTraded") == {
        "market": 2,
        "sizeDelta": -20 * WAD,
        "fillPrice": 100 * WAD,
    }
    assert {p[0]: p[1] for p in v.read("positionsOf", vault.address)} == {
        2: -20 * WAD,
        4: 500 * WAD,
    }
    assert vv.total_assets() == usd(10_000)  # no fee, no impact: value neutral
    vv.mv.push_all({2: 90, 4: 3})
    assert vv.total_assets() == usd(10_000 + 200 + 500)


def test_the_manager_hedges_on_each_markets_own_spot_amm_counted_at_its_index(vaults):
    vv = vaults()
    vault, mv = vv.vault, vv.mv
    tl = mv.timelock.address
    btc, btc_amm = _spot(vv, "BTC", 1_000)
    eth, eth_amm = _spot(vv, "ETH", 100)
    # only the admin (the timelock) sets an AMM, for a listed market, trading the vault's asset
    r = vv.chain.execute_one(vault.call(MANAGER, "setSpotAmm", 1, btc_amm.address))
    assert r.error.name == "AccessControlUnauthorizedAccount"
    assert not govern_on(mv, vault.address, vault.call(tl, "setSpotAmm", 9, btc_amm.address)).ok
    _, foreign = _spot(vv, "XYZ", 10, collateral=btc.address)
    bad = govern_on(mv, vault.address, vault.call(tl, "setSpotAmm", 3, foreign.address))
    assert not bad.ok
    r = ok([govern_on(mv, vault.address, vault.call(tl, "setSpotAmm", 1, btc_amm.address))])[0]
    assert event(r, "SpotAmmSet") == {"market": 1, "amm": btc_amm.address, "baseToken": btc.address}
    ok([govern_on(mv, vault.address, vault.call(tl, "setSpotAmm", 2, eth_amm.address))])
    # one base token counts for one market only
    dup = govern_on(
        mv, vault.address, vault.call(tl, "setSpotAmm", 3, btc_amm.address), b"\x01" * 32
    )
    assert not dup.ok
    assert list(vault.read("spotMarkets")) == [1, 2]
    r = vv.chain.execute_one(vault.call(MANAGER, "hedgeOnAmm", 3, False, usd(1), 0))
    assert r.error.name == "SpotAmmNotSet" and r.error.args == {"market": 3}

    r = ok([vv.chain.execute_one(vault.call(MANAGER, "hedgeOnAmm", 1, False, usd(2_000), 0))])[0]
    btc_held = event(r, "Hedged")["amountOut"]
    assert btc_held == vv.chain.read_one(btc.view("balanceOf", vault.address)) > 0
    r = ok([vv.chain.execute_one(vault.call(MANAGER, "hedgeOnAmm", 2, False, usd(1_000), 0))])[0]
    eth_held = event(r, "Hedged")["amountOut"]
    for prices in ({1: 1_000, 2: 100}, {1: 1_100, 2: 90}):
        mv.push_all(prices)
        spot = btc_held * prices[1] // UNIT + eth_held * prices[2] // UNIT  # each down
        assert vault.read("spotInventoryValue") == spot
        assert vv.total_assets() == usd(7_000) + spot
    # an AMM is not replaced while its inventory is held (it would drop out of totalAssets)
    held = govern_on(
        mv, vault.address, vault.call(tl, "setSpotAmm", 1, eth_amm.address), b"\x02" * 32
    )
    assert not held.ok
    ok([vv.chain.execute_one(vault.call(MANAGER, "hedgeOnAmm", 1, True, btc_held, 0))])
    ok([govern_on(mv, vault.address, vault.call(tl, "setSpotAmm", 1, ZERO), b"\x03" * 32)])
    assert list(vault.read("spotMarkets")) == [2] and vault.read("spotAmm", 1) == ZERO


ZERO = "0x0000000000000000000000000000000000000000"


@pytest.mark.parametrize(
    "name",
    ["VenueBackstopVault", "VenueMarginController"],
)
def test_vault_and_controller_fit_eip170(name):
    size = len(load_artifacts()[name].runtime_bytecode)
    assert 0 < size < EIP170, (name, size)
