// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IBackstopVault
/// @notice ERC-4626 vault over the collateral whose capital backs positions taken over from
///         accounts near bankruptcy (`PerpMarket.backstopTakeover`). Its share price is what
///         other protocols (e.g. a lending market) hold.
/// @dev totalAssets = idle collateral + max(0, the vault's equity in the market) + base tokens
///      held × the oracle's latest price, all rounded down to collateral base units. The
///      equity includes unrealized PnL and funding of the positions it took over, so the share
///      price moves with them. Withdrawals are limited to idle collateral.
///
///      Deposit lock (review F3: deposit, trigger a takeover, redeem in one block took 4,545 USD
///      of a 5,000 USD takeover gain). New shares are locked for `redeemCooldown` seconds; a
///      transfer's shares keep their sender's unlock time. When `owner` receives `value` shares
///      whose own unlock time is `u_in` while holding `held` shares locked until `u`, its unlock
///      time becomes `max(u, now + ceil((held·max(0, u − now) + value·(u_in − now)) /
///      (held + value)))` (unchanged if `u_in <= max(u, now)`): a lock is never shortened, and a
///      dust deposit or transfer to someone else barely moves their lock. While
///      `now < unlockTime(owner)`, `withdraw` and `redeem` revert `RedeemLocked` and
///      `maxWithdraw`/`maxRedeem` are 0; deposits and transfers stay open. A sandwich must hold
///      the vault's book (and its risk) for the cooldown instead of one block.
///
///      Share offset (review F9: an unseeded vault turned a victim's 500 USD into 0 shares after
///      a donation). OpenZeppelin's virtual shares: `_decimalsOffset() = DECIMALS_OFFSET`, so
///      shares have 6 + 6 = 12 decimals (one share per USD at the start) and a donation mostly
///      accrues to the virtual shares; a deposit that would still mint 0 shares reverts
///      `ZeroSharesMinted`.
interface IBackstopVault {
    /// @notice `owner` is locked until `unlockTime` (Unix seconds): it cannot withdraw or redeem.
    error RedeemLocked(address owner, uint256 unlockTime);
    /// @notice A deposit of `assets` (collateral base units) would mint no share.
    error ZeroSharesMinted(uint256 assets);
    /// @notice A cooldown above `maxCooldown` seconds was asked for.
    error InvalidRedeemCooldown(uint256 cooldown, uint256 maxCooldown);

    /// @notice `owner`'s shares are locked until `unlockTime` (Unix seconds).
    event Locked(address indexed owner, uint256 unlockTime);
    /// @notice The deposit lock is now `cooldown` seconds (applies to shares received from now on).
    event RedeemCooldownUpdated(uint256 cooldown);
    /// @notice The manager moved `amount` (collateral base units) into (+) or out of (−) the
    ///         vault's margin account in the market.
    event MarginMoved(int256 amount);
    /// @notice The manager traded the vault's perp position (hedge or unwind).
    event PositionTraded(int256 sizeDelta, uint256 fillPrice);
    /// @notice The manager hedged on the spot AMM.
    event Hedged(bool baseIn, uint256 amountIn, uint256 amountOut);

    /// @notice Move `amount` idle collateral base units into the vault's market margin; MANAGER_ROLE.
    function depositMargin(uint256 amount) external;

    /// @notice Move `amount` base units of market margin back to idle; MANAGER_ROLE.
    function withdrawMargin(uint256 amount) external;

    /// @notice Trade the vault's perp position by `sizeDelta` (WAD base); MANAGER_ROLE.
    function tradePosition(int256 sizeDelta, uint256 acceptablePrice) external returns (uint256 fillPrice);

    /// @notice Swap on the spot AMM (`baseIn` sells base); MANAGER_ROLE.
    function hedgeOnAmm(bool baseIn, uint256 amountIn, uint256 minAmountOut) external returns (uint256 amountOut);

    /// @notice Idle collateral held by the vault (base units): the most that can be withdrawn.
    function idleAssets() external view returns (uint256);

    /// @notice Set the deposit lock, seconds (at most 30 days); admin (timelock) only. Locks
    ///         already running keep their unlock time.
    function setRedeemCooldown(uint256 cooldown) external;

    /// @notice Seconds new shares stay locked.
    function redeemCooldown() external view returns (uint256);

    /// @notice Unix time from which `owner` may withdraw or redeem (0 or past = unlocked).
    function unlockTime(address owner) external view returns (uint256);

    function market() external view returns (address);
}
