// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title ReentrantWorker (test only)
/// @notice An attacker for the compute market's tests: it acts as a worker through
/// `execute` (stakes and commits, reveals, withdraws), and when armed, the next ETH it
/// receives makes it call `target` with `data` once (e.g. `withdraw` again from inside the
/// market's payout), recording whether that re-entry succeeded and what it reverted with;
/// with `refuse(true)` it refuses every ETH payment.
contract ReentrantWorker {
    address public target;
    bytes public data;
    bool public armed;
    uint256 public reentries;
    bool public reentrySucceeded;
    bytes public reentryRevertData;
    bool public refusing;

    /// @notice Calls `to` with `callData` and `msg.value`, bubbling up a revert.
    function execute(address to, bytes calldata callData) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: msg.value}(callData);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    /// @notice Makes the next ETH received call `target_` with `data_`, once.
    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
        armed = true;
    }

    /// @notice While `on`, every ETH sent here reverts (a payee that cannot be paid).
    function refuse(bool on) external {
        refusing = on;
    }

    receive() external payable {
        if (refusing) revert("refusing ETH");
        if (!armed) return;
        armed = false;
        reentries += 1;
        (bool ok, bytes memory ret) = target.call(data);
        reentrySucceeded = ok;
        reentryRevertData = ret;
    }
}
