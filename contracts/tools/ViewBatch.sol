// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ViewBatch
/// @notice Runs many read-only calls in one `eth_call`, each with its own success flag and
///         return (or revert) data.
/// @dev Never deployed. The simulator's JSON-RPC chain places this runtime code at an unused
///      address through the `eth_call` state override and reads a whole batch of views with
///      one call: anvil executes the pending block again for every `eth_call` on the
///      `pending` tag, so N separate pending views cost N executions of the block and one
///      batched call costs one. Every read is a STATICCALL: nothing a view does can change
///      state. The loop runs over the caller's own list (an off-chain read, not an account
///      set of the protocol).
contract ViewBatch {
    /// @notice One view: the contract to call and its calldata.
    struct Read {
        address target;
        bytes data;
    }

    /// @notice The outcome of one view: whether it returned, and its return or revert data.
    struct Reply {
        bool ok;
        bytes data;
    }

    /// @notice Call every read in order with STATICCALL; a reverting read does not stop the
    ///         others.
    function readAll(Read[] calldata reads) external view returns (Reply[] memory replies) {
        uint256 n = reads.length;
        replies = new Reply[](n);
        for (uint256 i = 0; i < n; ++i) {
            (bool ok, bytes memory data) = reads[i].target.staticcall(reads[i].data);
            replies[i] = Reply(ok, data);
        }
    }
}
