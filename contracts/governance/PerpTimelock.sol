// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title PerpTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: it holds the admin and governor roles
///         of every venue contract, so a parameter change takes effect only `minDelay` seconds
///         after it is scheduled.
contract PerpTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
