// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice TEST ONLY: an 18-decimal ERC-20 whose every transfer first calls `target` with
///         `data` (once: the hook clears itself) and bubbles up a revert. The contagion
///         tests list it as a collateral or spot token to check the reentrancy guards of
///         LendingPool and SyntheticDollar. Never deployed by the simulator.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public data;

    constructor() ERC20("Reentrant", "REENT") {}

    /// @notice Mint `amount` to `to` (anyone: a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Call `target_` with `data_` on every later transfer (zero target: off).
    function setHook(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
    }

    /// @dev The hook is cleared before it runs (one call per `setHook`; a reverted transfer
    ///      restores it with the rest of the state).
    function _update(address from, address to, uint256 value) internal override {
        address hookTarget = target;
        if (hookTarget != address(0) && from != address(0)) {
            target = address(0);
            (bool ok, bytes memory ret) = hookTarget.call(data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
        super._update(from, to, value);
    }
}
