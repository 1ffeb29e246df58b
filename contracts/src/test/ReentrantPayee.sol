// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title ReentrantPayee (test only)
/// @notice An attacker for the model marketplace's tests: it acts through `execute` (opens a
/// channel, buys a licence, withdraws), and when armed, the next ETH it receives (or a call
/// of `reenter`, e.g. from a HookedToken's transfer hook) makes it call `target` with `data`
/// once, recording whether that re-entry succeeded and what it reverted with.
contract ReentrantPayee {
    address public target;
    bytes public data;
    bool public armed;
    uint256 public reentries;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    function execute(address to, bytes calldata callData) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: msg.value}(callData);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
        armed = true;
    }

    function reenter() public {
        if (!armed) return;
        armed = false;
        reentries += 1;
        (bool ok, bytes memory ret) = target.call(data);
        reentrySucceeded = ok;
        reentryRevertData = ret;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external returns (bytes4) {
        reenter();
        return this.onERC1155Received.selector;
    }

    receive() external payable {
        reenter();
    }
}
