// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";

/// @title PlainERC721 (test and bench only)
/// @notice OpenZeppelin's ERC-721 with a public sequential mint and nothing else: the
/// baseline that ProvenanceNFT's mint gas is measured against.
contract PlainERC721 is ERC721 {
    uint256 public totalMinted;

    constructor() ERC721("Plain", "PLAIN") {}

    /// @notice Mints the next token to `to`.
    function mint(address to) external returns (uint256 tokenId) {
        tokenId = ++totalMinted;
        _safeMint(to, tokenId);
    }
}

/// @title GreedyRoyaltyERC721 (test only)
/// @notice An ERC-721 whose ERC-2981 royalty is whatever its deployer chose, up to 100%:
/// NftMarket must cap it.
contract GreedyRoyaltyERC721 is ERC721, ERC2981 {
    uint256 public totalMinted;

    constructor(address receiver, uint96 bps) ERC721("Greedy", "GREEDY") {
        _setDefaultRoyalty(receiver, bps);
    }

    /// @notice Mints the next token to `to`.
    function mint(address to) external returns (uint256 tokenId) {
        tokenId = ++totalMinted;
        _safeMint(to, tokenId);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
