// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

interface IProvenanceNFT {
    struct MintRequest {
        bytes32 modelHash;
        bytes32 promptCommitment;
        uint64 seed;
        uint96 royaltyBps;
        bytes32 imageHash;
        string imageCid;
        string metadataCid;
    }

    function commit(bytes32 commitment) external;
    function mint(MintRequest calldata request) external returns (uint256);
}

interface INftMarket {
    function list(address nft, uint256 tokenId, address currency, uint256 price) external returns (uint256);
    function buy(uint256 listingId) external payable;
    function withdraw(address currency) external returns (uint256);
}

/// @title NftAttacker (test only)
/// @notice A contract artist, buyer and royalty receiver that attacks ProvenanceNFT and
/// NftMarket from its callbacks, recording whether each re-entry succeeded and its revert
/// data:
/// - `Mode.Mint`: on receiving its minted token, mints the same request again;
/// - `Mode.Buy`: on receiving a bought token, buys the same listing again;
/// - `Mode.Withdraw`: on receiving ETH from `withdraw`, withdraws again.
/// `commitAndMint` commits and mints in one transaction, as a front-runner would have to.
contract NftAttacker is IERC721Receiver {
    enum Mode {
        None,
        Mint,
        Buy,
        Withdraw
    }

    IProvenanceNFT public immutable nft;
    INftMarket public immutable market;
    Mode public mode;
    uint256 public reentries;
    bool public reentrySucceeded;
    bytes public reentryRevertData;
    IProvenanceNFT.MintRequest private _request;
    uint256 private _listingId;
    uint256 private _price;

    constructor(IProvenanceNFT nft_, INftMarket market_) {
        nft = nft_;
        market = market_;
    }

    function arm(Mode mode_) external {
        mode = mode_;
        reentries = 0;
    }

    function commit(bytes32 commitment) external {
        nft.commit(commitment);
    }

    function mint(IProvenanceNFT.MintRequest calldata request) external returns (uint256) {
        _request = request;
        return nft.mint(request);
    }

    function commitAndMint(bytes32 commitment, IProvenanceNFT.MintRequest calldata request) external returns (uint256) {
        nft.commit(commitment);
        return nft.mint(request);
    }

    function approveAndList(uint256 tokenId, uint256 price) external returns (uint256) {
        IERC721(address(nft)).approve(address(market), tokenId);
        return market.list(address(nft), tokenId, address(0), price);
    }

    /// @notice Buys `listingId` for `price`; `msg.value` beyond it pays a re-entrant buy.
    function buy(uint256 listingId, uint256 price) external payable {
        _listingId = listingId;
        _price = price;
        market.buy{value: price}(listingId);
    }

    function withdraw() external returns (uint256) {
        return market.withdraw(address(0));
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (mode == Mode.Mint && reentries == 0) {
            reentries += 1;
            (bool ok, bytes memory data) = address(nft).call(abi.encodeCall(IProvenanceNFT.mint, (_request)));
            _record(ok, data);
        } else if (mode == Mode.Buy && reentries == 0) {
            reentries += 1;
            (bool ok, bytes memory data) =
                address(market).call{value: _price}(abi.encodeCall(INftMarket.buy, (_listingId)));
            _record(ok, data);
        }
        return IERC721Receiver.onERC721Received.selector;
    }

    receive() external payable {
        if (mode == Mode.Withdraw && reentries == 0) {
            reentries += 1;
            (bool ok, bytes memory data) = address(market).call(abi.encodeCall(INftMarket.withdraw, (address(0))));
            _record(ok, data);
        }
    }

    function _record(bool ok, bytes memory data) private {
        reentrySucceeded = ok;
        reentryRevertData = data;
    }
}
