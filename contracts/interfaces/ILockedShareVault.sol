// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ILockedShareVault
/// @notice The share side of perpsim's backstop vault (`VenueBackstopVault`): an ERC-4626 vault
///         over the collateral whose shares are locked after they are received and never minted
///         for nothing.
/// @dev Deposit lock (review F3: deposit, trigger a takeover, redeem in one block took 4,545 USD
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
///
///      Withdrawals are limited to idle collateral (`idleAssets`, base units): margin and
///      positions are not withdrawable on demand.
interface ILockedShareVault {
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

    /// @notice Idle collateral held by the vault (base units): the most that can be withdrawn.
    function idleAssets() external view returns (uint256);

    /// @notice Set the deposit lock, seconds (at most 30 days); admin (timelock) only. Locks
    ///         already running keep their unlock time.
    function setRedeemCooldown(uint256 cooldown) external;

    /// @notice Seconds new shares stay locked.
    function redeemCooldown() external view returns (uint256);

    /// @notice Unix time from which `owner` may withdraw or redeem (0 or past = unlocked).
    function unlockTime(address owner) external view returns (uint256);
}
