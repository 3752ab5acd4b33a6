// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPerpVenueErrors, IPerpVenueEvents} from "../interfaces/IPerpVenue.sol";
import {MarketId, MAX_POSITIONS_PER_ACCOUNT} from "../interfaces/IPerpVenueTypes.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {VenueMarket} from "./VenueMarket.sol";

/// @title VenueStorage
/// @notice Storage layout and the account logic shared by `PerpVenue` and its modules
///         (`VenueLiquidationModule`, `VenueAdlModule`, `VenueGovernanceModule`).
/// @dev The modules run with `delegatecall` on the venue's storage, so they all inherit this
///      contract (same layout). Only append new state at the end.
///      Accounts: `_collateral[a]` is the cross collateral (WAD USD, signed); each open position
///      of `a` is `_positions[a][id]` and its market id is in `_open[a]` (≤ MAX_POSITIONS_PER_ACCOUNT);
///      an isolated position carries its own margin. `_ledger.totalCollateral` is the sum of all
///      cross collateral and isolated margins, kept exact by `_addCollateral` and `_store`.
abstract contract VenueStorage is IPerpVenueErrors, IPerpVenueEvents, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;
    using VenueMarket for VenueMarket.State;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant CONTROLLER_ROLE = keccak256("CONTROLLER_ROLE");
    bytes32 public constant ADL_KEEPER_ROLE = keccak256("ADL_KEEPER_ROLE");

    uint256 internal constant WAD = 1e18;

    /// @dev One position in three slots.
    struct StoredPosition {
        int128 size;
        uint128 entryPrice;
        int128 fundingSnapshot;
        int128 margin;
        uint64 partialLiquidatedAt;
        uint64 lastLiquidationBlock;
        bool isolated;
    }

    /// @dev A position in memory while an action runs.
    struct Pos {
        MarketId id;
        int256 size;
        uint256 entry;
        int256 snapshot;
        /// @dev Isolated margin (WAD USD); 0 for cross positions.
        int256 margin;
        uint256 partialAt;
        uint256 lastLiquidationBlock;
        bool isolated;
        bool wasOpen;
        int256 marginBefore;
    }

    // ---------------------------------------------------------------------------------------
    // Storage (shared with the modules; append only)
    // ---------------------------------------------------------------------------------------

    IERC20 internal _collateralToken;
    IInsuranceFund internal _fund;
    address internal _vault;
    address internal _initializer;
    uint256 internal _marketCount;
    mapping(MarketId => VenueMarket.State) internal _markets;
    mapping(bytes32 => MarketId) internal _marketBySymbol;
    mapping(address => mapping(MarketId => StoredPosition)) internal _positions;
    mapping(address => MarketId[]) internal _open;
    mapping(address => int256) internal _collateral;
    Accounting internal _ledger;

    // ---------------------------------------------------------------------------------------
    // Markets
    // ---------------------------------------------------------------------------------------

    function _market(MarketId id) internal view returns (VenueMarket.State storage) {
        uint256 raw = MarketId.unwrap(id);
        if (raw == 0 || raw > _marketCount) revert UnknownMarket(id);
        return _markets[id];
    }

    // ---------------------------------------------------------------------------------------
    // Positions and collateral
    // ---------------------------------------------------------------------------------------

    function _load(address who, MarketId id) internal view returns (Pos memory p) {
        StoredPosition storage s = _positions[who][id];
        p.id = id;
        p.size = s.size;
        p.entry = s.entryPrice;
        p.snapshot = s.fundingSnapshot;
        p.margin = s.margin;
        p.partialAt = s.partialLiquidatedAt;
        p.lastLiquidationBlock = s.lastLiquidationBlock;
        p.isolated = s.isolated;
        p.wasOpen = s.size != 0;
        p.marginBefore = s.margin;
    }

    /// @dev Write `p` back, keep `_open` and `totalCollateral` exact. A position closed to zero
    ///      is deleted; the caller has moved an isolated margin back to collateral before (or
    ///      resolved it as a deficit).
    function _store(address who, Pos memory p) internal {
        if (p.size == 0) {
            delete _positions[who][p.id];
            if (p.wasOpen) _removeOpen(who, p.id);
        } else {
            _positions[who][p.id] = StoredPosition({
                size: p.size.toInt128(),
                entryPrice: p.entry.toUint128(),
                fundingSnapshot: p.snapshot.toInt128(),
                margin: p.margin.toInt128(),
                partialLiquidatedAt: uint64(p.partialAt),
                lastLiquidationBlock: uint64(p.lastLiquidationBlock),
                isolated: p.isolated
            });
            if (!p.wasOpen) {
                if (_open[who].length >= MAX_POSITIONS_PER_ACCOUNT) {
                    revert TooManyPositions(who, MAX_POSITIONS_PER_ACCOUNT);
                }
                _open[who].push(p.id);
            }
        }
        int256 marginAfter = p.size == 0 ? int256(0) : p.margin;
        _ledger.totalCollateral += marginAfter - p.marginBefore;
        p.marginBefore = marginAfter;
        p.wasOpen = p.size != 0;
    }

    function _removeOpen(address who, MarketId id) private {
        MarketId[] storage list = _open[who];
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            if (MarketId.unwrap(list[i]) == MarketId.unwrap(id)) {
                list[i] = list[n - 1];
                list.pop();
                return;
            }
        }
    }

    function _addCollateral(address who, int256 delta) internal {
        if (delta == 0) return;
        _collateral[who] += delta;
        _ledger.totalCollateral += delta;
    }

    /// @dev Credit (or debit) the account side of a position: its isolated margin, or the
    ///      account's cross collateral. The pool takes the other side.
    function _creditFromPool(address who, Pos memory p, int256 amount) internal {
        if (amount == 0) return;
        if (p.isolated) p.margin += amount; // totalCollateral moves in _store
        else _addCollateral(who, amount);
        _ledger.pool -= amount;
    }

    /// @dev Realize funding owed since the position's snapshot against the pool.
    function _settleFunding(address who, Pos memory p, VenueMarket.Funding memory f) internal returns (int256 owed) {
        owed = PerpMath.fundingOwed(p.size, p.snapshot, f.longIndex, f.shortIndex);
        _creditFromPool(who, p, -owed);
        p.snapshot = p.size >= 0 ? f.longIndex : f.shortIndex;
    }

    /// @dev Apply a fill: realize PnL against the pool, move open interest.
    function _applyFill(
        address who,
        VenueMarket.State storage m,
        Pos memory p,
        int256 delta,
        uint256 fillPrice,
        VenueMarket.Funding memory f
    ) internal returns (int256 realized, bool longUp, bool shortUp) {
        int256 oldSize = p.size;
        (p.size, p.entry, realized) = PerpMath.applyFill(oldSize, p.entry, delta, fillPrice);
        _creditFromPool(who, p, realized);
        p.snapshot = p.size >= 0 ? f.longIndex : f.shortIndex;
        (longUp, shortUp) = m.moveOpenInterest(oldSize, p.size);
    }

    /// @dev Equity of one position's own terms (uPnL − funding owed), WAD USD.
    function _positionValue(Pos memory p, uint256 price, VenueMarket.Funding memory f) internal pure returns (int256) {
        return PerpMath.unrealizedPnl(p.size, p.entry, price)
            - PerpMath.fundingOwed(p.size, p.snapshot, f.longIndex, f.shortIndex);
    }

    /// @dev One market's last oracle price and its funding accrued to now, as a view over many
    ///      accounts computes them once per market (a zero price: not computed yet).
    struct PriceFunding {
        uint256 price;
        VenueMarket.Funding funding;
    }

    /// @dev A memo for `_crossHealthMemo`, one slot per listed market (ids start at 1).
    function _priceFundingMemo() internal view returns (PriceFunding[] memory) {
        return new PriceFunding[](_marketCount + 1);
    }

    /// @dev Cross equity, MM and IM of an account; `fresh` uses the staleness-checked prices
    ///      (state changes), otherwise the last prices (views). Funding is accrued in memory.
    function _crossHealth(address who, bool fresh) internal view returns (int256 eq, uint256 mm, uint256 im) {
        return _crossHealthMemo(who, fresh, new PriceFunding[](0));
    }

    /// @dev `_crossHealth` with each market's price and accrued funding taken from `memo` once
    ///      computed there (views over many accounts at one state: `healthOf`, `adlRanking`).
    ///      The funding accrual is most of a position's cost, and it is the same for every
    ///      account in one call. An empty memo computes everything.
    function _crossHealthMemo(address who, bool fresh, PriceFunding[] memory memo)
        internal
        view
        returns (int256 eq, uint256 mm, uint256 im)
    {
        eq = _collateral[who];
        MarketId[] storage list = _open[who];
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            MarketId id = list[i];
            Pos memory p = _load(who, id);
            if (p.isolated) continue;
            VenueMarket.State storage m = _markets[id];
            uint256 k = MarketId.unwrap(id);
            uint256 price;
            // No memory is allocated on a hit (memory is never freed within a call and its cost
            // grows quadratically, so a batch over many accounts must not allocate per position).
            if (k < memo.length && memo[k].price != 0) {
                PriceFunding memory hit = memo[k];
                price = hit.price;
                eq += _positionValue(p, price, hit.funding);
            } else {
                price = fresh ? m.freshPrice() : m.latestPrice();
                VenueMarket.Funding memory f = m.fundingNow(price);
                if (k < memo.length) memo[k] = PriceFunding(price, f);
                eq += _positionValue(p, price, f);
            }
            mm += m.maintenanceMargin(p.size, price);
            im += m.initialMargin(p.size, price);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Final bad debt
    // ---------------------------------------------------------------------------------------

    /// @dev Write a market side's whole outstanding bad debt off as final (`BadDebtFinalized`):
    ///      called where no `adl` call could clear it any more. The pool already bears it (the
    ///      deficit was taken from the pool when it arose); no cash moves.
    function _finalizeBadDebt(VenueMarket.State storage m, MarketId id, bool longsBankrupt) internal {
        uint256 amount;
        uint256 total;
        if (longsBankrupt) {
            amount = m.ledger.badDebtLongs;
            if (amount == 0) return;
            m.ledger.badDebtLongs = 0;
            total = m.ledger.finalBadDebtLongs = VenueMarket.plus(m.ledger.finalBadDebtLongs, amount);
        } else {
            amount = m.ledger.badDebtShorts;
            if (amount == 0) return;
            m.ledger.badDebtShorts = 0;
            total = m.ledger.finalBadDebtShorts = VenueMarket.plus(m.ledger.finalBadDebtShorts, amount);
        }
        emit BadDebtFinalized(id, longsBankrupt, amount, total);
    }

    // ---------------------------------------------------------------------------------------
    // Token flows to the insurance fund
    // ---------------------------------------------------------------------------------------

    /// @dev Send whole collateral units of `amount` (WAD USD) to the fund; returns the WAD sent.
    function _sendToFund(uint256 amount) internal returns (uint256 sent) {
        if (address(_fund) == address(0)) return 0;
        uint256 units = amount.wadToUnitsDown();
        if (units == 0) return 0;
        _collateralToken.safeTransfer(address(_fund), units);
        sent = units.unitsToWad();
        _ledger.paidToInsurance += sent;
    }

    /// @dev Split a trading fee: the market's insurance share (whole units) to the fund, the
    ///      rest to the protocol fee ledger.
    function _collectFee(VenueMarket.State storage m, uint256 fee) internal {
        if (fee == 0) return;
        m.ledger.fees = VenueMarket.plus(m.ledger.fees, fee);
        uint256 sent = _sendToFund(fee.mulBpsDown(m.params.insuranceFeeShareBps));
        _ledger.protocolFees += fee - sent;
    }
}
