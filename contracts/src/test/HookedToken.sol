// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HookedToken (test only)
/// @notice An ERC-20 with a transfer hook, like ERC-777 or tokens with callbacks: when
/// armed, the next transfer calls `target` with `data` before moving the balance, and
/// records whether that call succeeded and what it reverted with. DataMarket's tests arm it
/// to re-enter the market from inside `buy`, `dispute`, `requestJob` and `withdraw`.
contract HookedToken is ERC20 {
    address public target;
    bytes public data;
    bool public armed;
    uint256 public hookCalls;
    bool public hookSucceeded;
    bytes public hookRevertData;

    constructor(uint256 supply) ERC20("Hooked", "HOOK") {
        _mint(msg.sender, supply);
    }

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (armed && from != address(0) && to != address(0)) {
            armed = false;
            hookCalls += 1;
            (bool ok, bytes memory ret) = target.call(data);
            hookSucceeded = ok;
            hookRevertData = ret;
        }
        super._update(from, to, value);
    }
}
