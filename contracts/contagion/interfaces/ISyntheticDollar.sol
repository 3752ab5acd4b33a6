// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MarketId} from "../../interfaces/IPerpVenueTypes.sol";

/// @title ISyntheticDollar
/// @notice A delta-neutral synthetic dollar of the contagion world (issue 13; Ethena's USDe is
///         the model): minted against spot collateral (the venue market's base token) whose
///         price risk is hedged by a short of the same size on a perp venue, held by this
///         contract as an ordinary cross account. Its backing is what it holds: spot value +
///         idle stablecoin + the hedge account's equity at the venue. A hedge that is
///         liquidated, auto-deleveraged or pays funding lowers the backing; redemptions pay
///         `min(1, backingRatio)` USD per token. Its market price is an ordinary `SpotAMM`
///         pool of this token against the stablecoin, which can depeg.
/// @dev Units: the token has 18 decimals, 1 token = 1 USD of face value (WAD); base amounts
///      are the base token's 18-decimal units = WAD base units of the venue; prices and USD
///      values are WAD; stablecoin amounts are its base units (6 decimals, 1 unit = 1e12 WAD).
///
///      backing (WAD USD) = spotBase·price + idleStable·1e12 + max(0, cross equity at the venue)
///      (each term rounded down; a negative equity is the venue's bad debt, not a claim on the
///      spot); `backingRatio = backing / totalSupply` (WAD, down; 1e18 with no supply).
///      Views use the oracle's `lastPrice()`; mint and redeem its `price()` (stale reverts).
///
///      Mint (refused while the backing ratio is below 1: a mint would give the minter less
///      than it paid): `minted = baseIn·price` (down), and the hedge shorts `baseIn` more.
///      Redeem `amount`: value `v = amount·min(1, ratio)` (down), paid first in base,
///      `min(spotBase, v/price)` (down), and the rest in stablecoin (down; from idle stablecoin,
///      then withdrawn from the venue); the short is bought back by the base paid out (at most
///      its size). Trading fees and fill impact of the hedge are borne by the backing (the
///      manager's reserve), not by the minter or redeemer. The hedge trades carry an
///      acceptable price `maxSlippageBps` from the oracle price.
interface ISyntheticDollar {
    error ZeroAmount();
    /// @notice A parameter failed validation (`name` the field, `value` what was given).
    error InvalidParameter(bytes32 name, uint256 value);
    /// @notice `what` ("minted", "base", "stable") came out at `amount`, below the caller's `minimum`.
    error InsufficientOutput(bytes32 what, uint256 amount, uint256 minimum);
    /// @notice Minting is refused while the backing ratio (WAD) is below 1.
    error BackingBelowPar(uint256 backingRatio);
    /// @notice The venue settles in `venueCollateral`, not in the stablecoin given.
    error WrongStablecoin(address venueCollateral, address stablecoin);

    /// @notice `baseIn` spot collateral (base units) at `price` (WAD) minted `minted` tokens.
    event Minted(address indexed sender, address indexed receiver, uint256 baseIn, uint256 minted, uint256 price);
    /// @notice `amount` tokens redeemed at `backingRatio` (WAD, capped at 1) for `baseOut` base
    ///         units and `stableOut` stablecoin units, at `price` (WAD).
    event Redeemed(
        address indexed sender,
        address indexed receiver,
        uint256 amount,
        uint256 baseOut,
        uint256 stableOut,
        uint256 backingRatio,
        uint256 price
    );
    /// @notice The hedge traded `sizeDelta` (WAD base units, − = more short) at `fill` (WAD);
    ///         its size after (signed).
    event HedgeAdjusted(int256 sizeDelta, uint256 fill, int256 sizeAfter);
    /// @notice Stablecoin moved into (+) or out of (−) the venue account (units).
    event MarginMoved(int256 amount);
    /// @notice `amount` stablecoin units added to the reserve (idle stablecoin) by `from`.
    event ReserveAdded(address indexed from, uint256 amount);
    /// @notice The backing after an action of this contract (WAD USD), the supply (WAD) and the
    ///         backing ratio (WAD, uncapped). Venue-side events (liquidation, ADL, funding) move
    ///         the backing without an event here: read `backingRatio()`.
    event BackingUpdated(uint256 backing, uint256 supply, uint256 backingRatio);
    event MaxSlippageUpdated(uint256 maxSlippageBps);

    /// @notice Deposit `baseIn` base tokens (transferFrom), short as much on the venue, mint
    ///         `baseIn·price` tokens to `receiver` (at least `minMinted`).
    function mint(uint256 baseIn, uint256 minMinted, address receiver) external returns (uint256 minted);

    /// @notice Burn `amount` of the caller's tokens for `amount·min(1, backingRatio)` USD paid
    ///         in base, then stablecoin, to `receiver` (at least the minimums).
    function redeem(uint256 amount, uint256 minBaseOut, uint256 minStableOut, address receiver)
        external
        returns (uint256 baseOut, uint256 stableOut);

    /// @notice Add `amount` stablecoin units (transferFrom) to the reserve; MANAGER_ROLE.
    function addReserve(uint256 amount) external;

    /// @notice Move `amount` stablecoin units from idle to the venue (+) or back (−); MANAGER_ROLE.
    function moveMargin(int256 amount) external;

    /// @notice Trade the hedge back to `−spotBase` (after a liquidation or ADL shrank it);
    ///         MANAGER_ROLE. Returns the size traded (0: already hedged).
    function rebalanceHedge() external returns (int256 sizeDelta);

    /// @notice Set the hedge's acceptable-price band, bps (at most 1000); DEFAULT_ADMIN_ROLE.
    function setMaxSlippageBps(uint256 maxSlippageBps) external;

    /// @notice Backing over supply, WAD (1e18 when nothing is minted), at the oracle's last price.
    function backingRatio() external view returns (uint256);

    /// @notice The backing (WAD USD) and its parts: spot value, idle stablecoin (WAD USD), the
    ///         hedge account's cross equity (WAD USD, may be negative) and the hedge's size
    ///         (WAD base units, − = short).
    function backing()
        external
        view
        returns (uint256 total, uint256 spotValue, uint256 idleStableValue, int256 hedgeEquity, int256 hedgeSize);

    /// @notice Spot collateral held, base token units.
    function spotBase() external view returns (uint256);

    /// @notice Idle stablecoin held, units.
    function idleStable() external view returns (uint256);

    function maxSlippageBps() external view returns (uint256);

    function venue() external view returns (address);

    function market() external view returns (MarketId);

    function oracle() external view returns (address);

    function baseToken() external view returns (address);

    function stablecoin() external view returns (address);
}
