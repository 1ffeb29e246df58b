// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface ICropInsurance {
    function buy(uint256 productId) external payable returns (uint256);
    function withdraw() external;
}

/// @title RefusingHolder (test only)
/// @notice A policyholder contract that reverts on receiving ETH, for CropInsurance's tests:
/// its own `withdraw` fails, and nobody else's settlement or withdrawal may.
contract RefusingHolder {
    ICropInsurance public immutable insurance;

    error Refused();

    constructor(ICropInsurance insurance_) {
        insurance = insurance_;
    }

    function buy(uint256 productId) external payable returns (uint256) {
        return insurance.buy{value: msg.value}(productId);
    }

    function withdraw() external {
        insurance.withdraw();
    }

    receive() external payable {
        revert Refused();
    }
}
