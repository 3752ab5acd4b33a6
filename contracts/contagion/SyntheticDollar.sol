// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IPerpVenue} from "../interfaces/IPerpVenue.sol";
import {MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {ISyntheticDollar} from "./interfaces/ISyntheticDollar.sol";

/// @title SyntheticDollar
/// @notice Spot collateral hedged by a short on a PerpVenue market; redemptions at
///         min(1, backing ratio) (see ISyntheticDollar).
/// @dev The contract is an ordinary cross account of the venue: keepers liquidate its short,
///      ADL haircuts it, funding settles on it like on any account. Holdings are tracked, not
///      read from balances, so a donation does not move the backing.
contract SyntheticDollar is ISyntheticDollar, ERC20, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");
    /// @notice Widest hedge acceptable-price band governance may set, bps (10%).
    uint256 public constant MAX_SLIPPAGE_BPS = 1_000;

    IERC20 private immutable _base;
    IERC20 private immutable _stable;
    IPerpVenue private immutable _venue;
    MarketId private immutable _market;
    IOracle private immutable _oracle;

    uint256 private _spotBase;
    uint256 private _idleStable;
    /// @inheritdoc ISyntheticDollar
    uint256 public maxSlippageBps;

    /// @param oracle_ The venue market's index oracle: spot collateral is valued at its price.
    /// @param admin DEFAULT_ADMIN_ROLE: sets the slippage band and grants roles.
    /// @param manager MANAGER_ROLE: reserve, margin and re-hedging (0 = none yet).
    constructor(
        string memory name_,
        string memory symbol_,
        IERC20 base_,
        IERC20 stable_,
        IPerpVenue venue_,
        MarketId market_,
        IOracle oracle_,
        address admin,
        address manager,
        uint256 maxSlippageBps_
    ) ERC20(name_, symbol_) {
        address venueCollateral = venue_.collateral();
        if (venueCollateral != address(stable_)) revert WrongStablecoin(venueCollateral, address(stable_));
        _base = base_;
        _stable = stable_;
        _venue = venue_;
        _market = market_;
        _oracle = oracle_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (manager != address(0)) _grantRole(MANAGER_ROLE, manager);
        _setMaxSlippage(maxSlippageBps_);
        stable_.forceApprove(address(venue_), type(uint256).max);
    }

    // ---------------------------------------------------------------------------------------
    // Mint and redeem
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ISyntheticDollar
    function mint(uint256 baseIn, uint256 minMinted, address receiver)
        external
        nonReentrant
        returns (uint256 minted)
    {
        if (baseIn == 0) revert ZeroAmount();
        uint256 price = _oracle.price();
        uint256 supply = totalSupply();
        if (supply != 0) {
            uint256 ratio = _backingTotal(price).divWadDown(supply);
            if (ratio < FixedPointMath.WAD) revert BackingBelowPar(ratio);
        }
        minted = baseIn.mulWadDown(price);
        if (minted == 0) revert ZeroAmount();
        if (minted < minMinted) revert InsufficientOutput("minted", minted, minMinted);
        _base.safeTransferFrom(msg.sender, address(this), baseIn);
        _spotBase += baseIn;
        _hedge(-FixedPointMath.toInt(baseIn), price);
        _mint(receiver, minted);
        emit Minted(msg.sender, receiver, baseIn, minted, price);
        _emitBacking(price);
    }

    /// @inheritdoc ISyntheticDollar
    function redeem(uint256 amount, uint256 minBaseOut, uint256 minStableOut, address receiver)
        external
        nonReentrant
        returns (uint256 baseOut, uint256 stableOut)
    {
        if (amount == 0) revert ZeroAmount();
        uint256 price = _oracle.price();
        uint256 supply = totalSupply();
        _burn(msg.sender, amount); // reverts ERC20InsufficientBalance before any division by 0
        uint256 ratio = Math.min(FixedPointMath.WAD, _backingTotal(price).divWadDown(supply));
        uint256 value = amount.mulWadDown(ratio);
        baseOut = Math.min(_spotBase, value.divWadDown(price));
        uint256 paidInBase = baseOut.mulWadUp(price);
        stableOut = value > paidInBase ? (value - paidInBase).wadToUnitsDown() : 0;
        if (baseOut < minBaseOut) revert InsufficientOutput("base", baseOut, minBaseOut);
        if (stableOut < minStableOut) revert InsufficientOutput("stable", stableOut, minStableOut);

        _spotBase -= baseOut;
        uint256 fromIdle = Math.min(_idleStable, stableOut);
        _idleStable -= fromIdle;
        // buy back as much of the short as the spot paid out, keeping the rest hedged
        uint256 buyBack = Math.min(_shortSize(), baseOut);
        if (buyBack != 0) _hedge(FixedPointMath.toInt(buyBack), price);
        if (stableOut != 0) {
            // the rest comes from the venue, where the buy-back just realized the hedge's profit
            if (stableOut > fromIdle) {
                _venue.withdraw(stableOut - fromIdle);
                emit MarginMoved(-FixedPointMath.toInt(stableOut - fromIdle));
            }
            _stable.safeTransfer(receiver, stableOut);
        }
        if (baseOut != 0) _base.safeTransfer(receiver, baseOut);
        emit Redeemed(msg.sender, receiver, amount, baseOut, stableOut, ratio, price);
        _emitBacking(price);
    }

    // ---------------------------------------------------------------------------------------
    // Manager
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ISyntheticDollar
    function addReserve(uint256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _stable.safeTransferFrom(msg.sender, address(this), amount);
        _idleStable += amount;
        emit ReserveAdded(msg.sender, amount);
        _emitBacking(_oracle.lastPrice());
    }

    /// @inheritdoc ISyntheticDollar
    function moveMargin(int256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 units = FixedPointMath.abs(amount);
        if (amount > 0) {
            if (units > _idleStable) revert InvalidParameter("amount", units);
            _idleStable -= units;
            _venue.deposit(units);
        } else {
            _idleStable += units;
            _venue.withdraw(units);
        }
        emit MarginMoved(amount);
    }

    /// @inheritdoc ISyntheticDollar
    function rebalanceHedge() external onlyRole(MANAGER_ROLE) nonReentrant returns (int256 sizeDelta) {
        int256 size = _venue.positionOf(address(this), _market).size;
        sizeDelta = -FixedPointMath.toInt(_spotBase) - size;
        if (sizeDelta == 0) return 0;
        uint256 price = _oracle.price();
        _hedge(sizeDelta, price);
        _emitBacking(price);
    }

    /// @inheritdoc ISyntheticDollar
    function setMaxSlippageBps(uint256 maxSlippageBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxSlippage(maxSlippageBps_);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ISyntheticDollar
    function backingRatio() external view returns (uint256) {
        uint256 supply = totalSupply();
        if (supply == 0) return FixedPointMath.WAD;
        return _backingTotal(_oracle.lastPrice()).divWadDown(supply);
    }

    /// @inheritdoc ISyntheticDollar
    function backing()
        external
        view
        returns (uint256 total, uint256 spotValue, uint256 idleStableValue, int256 hedgeEquity, int256 hedgeSize)
    {
        spotValue = _spotBase.mulWadDown(_oracle.lastPrice());
        idleStableValue = _idleStable.unitsToWad();
        (hedgeEquity,,) = _venue.accountHealth(address(this));
        hedgeSize = _venue.positionOf(address(this), _market).size;
        total = spotValue + idleStableValue + (hedgeEquity > 0 ? uint256(hedgeEquity) : 0);
    }

    /// @inheritdoc ISyntheticDollar
    function spotBase() external view returns (uint256) {
        return _spotBase;
    }

    /// @inheritdoc ISyntheticDollar
    function idleStable() external view returns (uint256) {
        return _idleStable;
    }

    /// @inheritdoc ISyntheticDollar
    function venue() external view returns (address) {
        return address(_venue);
    }

    /// @inheritdoc ISyntheticDollar
    function market() external view returns (MarketId) {
        return _market;
    }

    /// @inheritdoc ISyntheticDollar
    function oracle() external view returns (address) {
        return address(_oracle);
    }

    /// @inheritdoc ISyntheticDollar
    function baseToken() external view returns (address) {
        return address(_base);
    }

    /// @inheritdoc ISyntheticDollar
    function stablecoin() external view returns (address) {
        return address(_stable);
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// @dev Backing at `price` (WAD USD, each part rounded down; negative equity counts 0).
    function _backingTotal(uint256 price) private view returns (uint256) {
        (int256 equity,,) = _venue.accountHealth(address(this));
        return _spotBase.mulWadDown(price) + _idleStable.unitsToWad() + (equity > 0 ? uint256(equity) : 0);
    }

    function _shortSize() private view returns (uint256) {
        int256 size = _venue.positionOf(address(this), _market).size;
        return size < 0 ? uint256(-size) : 0;
    }

    /// @dev Trade the hedge by `sizeDelta` with a fill bound `maxSlippageBps` from `price`.
    function _hedge(int256 sizeDelta, uint256 price) private {
        uint256 acceptable = sizeDelta < 0
            ? price.mulBpsDown(FixedPointMath.BPS - maxSlippageBps)
            : price.mulBpsUp(FixedPointMath.BPS + maxSlippageBps);
        uint256 fill = _venue.trade(_market, sizeDelta, acceptable);
        emit HedgeAdjusted(sizeDelta, fill, _venue.positionOf(address(this), _market).size);
    }

    function _emitBacking(uint256 price) private {
        uint256 total = _backingTotal(price);
        uint256 supply = totalSupply();
        emit BackingUpdated(total, supply, supply == 0 ? FixedPointMath.WAD : total.divWadDown(supply));
    }

    function _setMaxSlippage(uint256 maxSlippageBps_) private {
        if (maxSlippageBps_ > MAX_SLIPPAGE_BPS) revert InvalidParameter("maxSlippageBps", maxSlippageBps_);
        maxSlippageBps = maxSlippageBps_;
        emit MaxSlippageUpdated(maxSlippageBps_);
    }
}
