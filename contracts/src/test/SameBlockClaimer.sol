// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IClaimsInsurance {
    function buy(uint256 productId) external payable returns (uint256);
    function fileClaim(uint256 policyId, uint128 amount, bytes32 descriptionHash, bytes32 evidenceRoot)
        external
        payable
        returns (uint256);
}

/// @title SameBlockClaimer (test only)
/// @notice Buys a ClaimsInsurance policy and claims on it in the same transaction, as someone
/// who already knows of the loss would: the claim must revert with `ClaimInPurchaseBlock`.
contract SameBlockClaimer {
    IClaimsInsurance public immutable insurance;

    constructor(IClaimsInsurance insurance_) {
        insurance = insurance_;
    }

    /// @notice `msg.value` is the premium plus the claim bond.
    function buyAndClaim(uint256 productId, uint256 premium, uint128 amount, bytes32 descriptionHash, bytes32 evidenceRoot)
        external
        payable
        returns (uint256 claimId)
    {
        uint256 policyId = insurance.buy{value: premium}(productId);
        claimId = insurance.fileClaim{value: msg.value - premium}(policyId, amount, descriptionHash, evidenceRoot);
    }
}
