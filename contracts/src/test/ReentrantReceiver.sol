// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IDataMarket {
    function list(
        address token,
        uint256 price,
        bool downloadable,
        uint64 deliveryWindow,
        string calldata cid,
        bytes32 plaintextHash,
        bytes32 termsHash
    ) external returns (uint256);
    function buy(uint256 listingId, bytes32 buyerKey) external payable returns (uint256);
    function deliver(uint256 saleId, bytes calldata envelope) external;
    function refund(uint256 saleId) external;
    function withdraw(address token) external returns (uint256);
}

/// @title ReentrantReceiver (test only)
/// @notice An attacker for DataMarket's tests. It sells or buys through the market; when it
/// receives ETH from `withdraw` and is armed, it calls `withdraw` again from `receive` and
/// records whether that re-entry succeeded and the revert data it got.
contract ReentrantReceiver {
    IDataMarket public immutable market;
    bool public armed;
    uint256 public reentries;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    constructor(IDataMarket market_) {
        market = market_;
    }

    function arm(bool armed_) external {
        armed = armed_;
    }

    function listDataset(uint256 price, uint64 deliveryWindow) external returns (uint256) {
        return market.list(address(0), price, true, deliveryWindow, "bafyattacker", keccak256("plain"), bytes32(0));
    }

    function buy(uint256 listingId, bytes32 buyerKey) external payable returns (uint256) {
        return market.buy{value: msg.value}(listingId, buyerKey);
    }

    function deliver(uint256 saleId, bytes calldata envelope) external {
        market.deliver(saleId, envelope);
    }

    function refund(uint256 saleId) external {
        market.refund(saleId);
    }

    function withdraw() external returns (uint256) {
        return market.withdraw(address(0));
    }

    receive() external payable {
        if (!armed || reentries > 0) return;
        reentries += 1;
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IDataMarket.withdraw, (address(0))));
        reentrySucceeded = ok;
        reentryRevertData = data;
    }
}
