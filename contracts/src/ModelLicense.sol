// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ModelRegistry} from "./ModelRegistry.sol";
import {RevenueSplit} from "./RevenueSplit.sol";

/// @title ModelLicense
/// @notice One-time licences of model versions as ERC-1155 tokens: token id
/// `(modelId << 32) | version`, bought for the version's `licensePrice` in the model's token
/// and split between its parents and its owner exactly like a channel claim (RevenueSplit,
/// pull payments). Licences are ordinary ERC-1155 tokens: they can be transferred and sold,
/// and whoever holds one holds the licence. A licence is for one version only.
///
/// A holder calls a server under its licence by signing
/// `LicensedCall(uint256 licenseId,bytes32 request,uint64 issuedAt)` (EIP-712, domain
/// "AlaraModelLicense" / "1"); the server checks the signature off-chain and `holds` (or
/// `balanceOf`) on-chain.
contract ModelLicense is ERC1155, RevenueSplit, EIP712 {
    bytes32 public constant LICENSED_CALL_TYPEHASH =
        keccak256("LicensedCall(uint256 licenseId,bytes32 request,uint64 issuedAt)");

    /// @notice A licence was bought for `price`.
    event LicenseBought(
        uint256 indexed licenseId, address indexed buyer, uint256 indexed modelId, uint32 version, uint256 price
    );
    /// @notice One credit of a licence sale's split.
    event Paid(uint256 indexed licenseId, address indexed payee, uint256 amount);

    /// @notice The version has no licence price: it is not for sale.
    error NotForSale(uint256 modelId, uint32 version);
    /// @notice The version is deprecated: it sells no new licences.
    error VersionDeprecated(uint256 modelId, uint32 version);
    /// @notice A model id too large to share a token id with a version.
    error ModelIdTooLarge(uint256 modelId);

    constructor(address registry, string memory uri_)
        ERC1155(uri_)
        RevenueSplit(registry)
        EIP712("AlaraModelLicense", "1")
    {}

    /// @notice The token id of the licence of version `version` of `modelId`.
    function licenseId(uint256 modelId, uint32 version) public pure returns (uint256) {
        if (modelId >> 224 != 0) revert ModelIdTooLarge(modelId);
        return (modelId << 32) | version;
    }

    /// @notice Buys a licence of a version that is for sale and not deprecated, paying its
    /// `licensePrice` in the model's token (ETH: `msg.value`; ERC-20: approve first, the whole
    /// price must arrive). Mints one licence token to the caller; returns its id.
    function buy(uint256 modelId, uint32 version) external payable nonReentrant returns (uint256 id) {
        ModelRegistry.Version memory v = REGISTRY.version(modelId, version);
        if (v.deprecated) revert VersionDeprecated(modelId, version);
        uint256 price = v.licensePrice;
        if (price == 0) revert NotForSale(modelId, version);
        id = licenseId(modelId, version);
        address token = REGISTRY.model(modelId).token;
        emit LicenseBought(id, msg.sender, modelId, version, price);
        _collect(token, price);
        _split(id, modelId, version, token, price);
        _mint(msg.sender, id, 1, "");
    }

    /// @notice Whether `account` holds a licence of exactly version `version` of `modelId`.
    function holds(address account, uint256 modelId, uint32 version) external view returns (bool) {
        return balanceOf(account, licenseId(modelId, version)) > 0;
    }

    /// @notice The EIP-712 digest a holder signs to call a server under licence `licenseId`.
    function callDigest(uint256 licenseId_, bytes32 request, uint64 issuedAt) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(LICENSED_CALL_TYPEHASH, licenseId_, request, issuedAt)));
    }

    function _paid(uint256 ref, address payee, uint256 amount) internal override {
        emit Paid(ref, payee, amount);
    }
}
