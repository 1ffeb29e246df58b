// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DataMarket} from "./DataMarket.sol";

/// @title ModelRegistry
/// @notice The model marketplace's catalogue: models published by their owners, each with
/// numbered versions stored content-addressed (the SHA-256 of the model file, the hash of its
/// model card, the CID of the file) in a format that cannot run code when loaded (ONNX or
/// safetensors: pickle-based formats have no value here). A version names its parents, the
/// base models it was fine-tuned from and the datasets (DataMarket listings) it was trained
/// on, each with a share in basis points of every payment for the version; the payee of a
/// parent is resolved once, at publication: the listing's seller for a dataset, the parent
/// model's owner for a model. InferenceChannels and ModelLicense split revenue by these
/// shares and pay the remainder to the model's current owner.
///
/// A file hash is registered at most once, so `byFileHash` names exactly one version.
/// Deprecating a version stops new channels and licences for it; channels already open
/// still settle. Ownership moves in two steps (`transferOwnership`, then `acceptOwnership`
/// by the new owner).
contract ModelRegistry {
    /// @notice Model file formats. Both are data-only: loading a model never runs its code.
    enum Format {
        Onnx,
        Safetensors
    }

    /// @notice What a parent is: a DataMarket listing or a model of this registry.
    enum ParentKind {
        Dataset,
        Model
    }

    /// @notice A parent as given at publication: a listing id or a model id, and its share.
    struct ParentRef {
        ParentKind kind;
        uint256 id;
        uint16 bps;
    }

    /// @notice A parent as stored: with the payee resolved at publication.
    struct Parent {
        ParentKind kind;
        uint256 id;
        address payee;
        uint16 bps;
    }

    /// @notice A version as given at publication.
    struct VersionInput {
        bytes32 fileHash;
        bytes32 cardHash;
        string cid;
        Format format;
        uint256 pricePerCall;
        uint256 licensePrice;
    }

    /// @notice A published version. `pricePerCall` and `licensePrice` are in the model's token.
    struct Version {
        bytes32 fileHash;
        bytes32 cardHash;
        string cid;
        Format format;
        uint256 pricePerCall;
        uint256 licensePrice;
        uint64 publishedAt;
        bool deprecated;
    }

    /// @notice A model: its owner, its payment asset (address(0) = ETH), how many versions
    /// it has, and its name.
    struct Model {
        address owner;
        address token;
        uint32 versions;
        string name;
    }

    struct FileRef {
        uint256 modelId;
        uint32 version;
    }

    /// @notice The most parents a version may name (bounds the split's loop).
    uint256 public constant MAX_PARENTS = 8;
    /// @notice A whole payment in basis points.
    uint16 public constant WHOLE = 10_000;

    /// @notice The data market whose listings are dataset parents.
    DataMarket public immutable DATA_MARKET;

    /// @notice How many models exist; model ids are 1..modelCount.
    uint256 public modelCount;
    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => mapping(uint32 version => Version)) private _versions;
    mapping(uint256 modelId => mapping(uint32 version => Parent[])) private _parents;
    mapping(bytes32 fileHash => FileRef) private _byFileHash;
    /// @notice The account a model's owner proposed as the next owner, until it accepts.
    mapping(uint256 modelId => address) public pendingOwner;

    /// @notice A model was created (with version 1).
    event ModelPublished(uint256 indexed modelId, address indexed owner, string name, address token);
    /// @notice A version was published.
    event VersionPublished(
        uint256 indexed modelId,
        uint32 indexed version,
        bytes32 fileHash,
        string cid,
        uint256 pricePerCall,
        uint256 licensePrice
    );
    /// @notice A version stopped taking new channels and licences.
    event Deprecated(uint256 indexed modelId, uint32 indexed version);
    /// @notice The owner proposed `newOwner` (address(0): a proposal was cancelled).
    event OwnershipTransferStarted(uint256 indexed modelId, address indexed owner, address indexed newOwner);
    /// @notice `newOwner` accepted and now owns the model.
    event OwnershipTransferred(uint256 indexed modelId, address indexed previousOwner, address indexed newOwner);

    /// @notice The data market given to the constructor has no code.
    error NotAContract(address account);
    /// @notice A model needs a name.
    error EmptyName();
    /// @notice A version needs the CID of its file.
    error EmptyCid();
    /// @notice A version needs the SHA-256 of its file.
    error ZeroFileHash();
    /// @notice The file was already published as `modelId` version `version`.
    error AlreadyPublished(bytes32 fileHash, uint256 modelId, uint32 version);
    /// @notice More than `MAX_PARENTS` parents.
    error TooManyParents(uint256 count, uint256 max);
    /// @notice The parent at `index` has a zero share.
    error ZeroShare(uint256 index);
    /// @notice The parents' shares add up to more than the whole payment.
    error SharesAboveWhole(uint256 sum, uint256 max);
    /// @notice No DataMarket listing has this id.
    error UnknownListing(uint256 listingId);
    /// @notice No model has this id.
    error UnknownModel(uint256 modelId);
    /// @notice The model has no such version.
    error UnknownVersion(uint256 modelId, uint32 version);
    /// @notice A model cannot be its own parent.
    error SelfParent(uint256 modelId);
    /// @notice Only the model's owner may do this.
    error NotOwner(address caller, address owner);
    /// @notice Only the proposed owner may accept.
    error NotPendingOwner(address caller, address pending);
    /// @notice The version is already deprecated.
    error AlreadyDeprecated(uint256 modelId, uint32 version);

    constructor(address dataMarket) {
        if (dataMarket.code.length == 0) revert NotAContract(dataMarket);
        DATA_MARKET = DataMarket(dataMarket);
    }

    /// @notice Creates a model owned by the caller, paid in `token` (address(0) = ETH), with
    /// `v` as its version 1 and `parents` as that version's parents. Returns the model id
    /// (ids start at 1).
    function publish(string calldata name, address token, VersionInput calldata v, ParentRef[] calldata parents_)
        external
        returns (uint256 modelId)
    {
        if (bytes(name).length == 0) revert EmptyName();
        modelId = ++modelCount;
        Model storage m = _models[modelId];
        m.owner = msg.sender;
        m.token = token;
        m.name = name;
        emit ModelPublished(modelId, msg.sender, name, token);
        _addVersion(modelId, m, v, parents_);
    }

    /// @notice Publishes the next version of `modelId` (owner only) with its parents; returns
    /// its number.
    function publishVersion(uint256 modelId, VersionInput calldata v, ParentRef[] calldata parents_)
        external
        returns (uint32 version_)
    {
        Model storage m = _ownedModel(modelId);
        version_ = _addVersion(modelId, m, v, parents_);
    }

    /// @notice Deprecates a version (owner only): it takes no new channels or licences, and
    /// channels already open on it still settle.
    function deprecate(uint256 modelId, uint32 version_) external {
        _ownedModel(modelId);
        Version storage v = _version(modelId, version_);
        if (v.deprecated) revert AlreadyDeprecated(modelId, version_);
        v.deprecated = true;
        emit Deprecated(modelId, version_);
    }

    /// @notice Proposes `newOwner` for `modelId` (owner only); nothing changes until
    /// `newOwner` calls `acceptOwnership`. `address(0)` cancels a proposal.
    function transferOwnership(uint256 modelId, address newOwner) external {
        _ownedModel(modelId);
        pendingOwner[modelId] = newOwner;
        emit OwnershipTransferStarted(modelId, msg.sender, newOwner);
    }

    /// @notice The proposed owner takes over `modelId`; from now on it claims the model's
    /// channels and receives the remainder of every split.
    function acceptOwnership(uint256 modelId) external {
        Model storage m = _model(modelId);
        address pending = pendingOwner[modelId];
        if (msg.sender != pending || pending == address(0)) revert NotPendingOwner(msg.sender, pending);
        address previous = m.owner;
        m.owner = msg.sender;
        delete pendingOwner[modelId];
        emit OwnershipTransferred(modelId, previous, msg.sender);
    }

    /// @notice The model `modelId`; reverts `UnknownModel` if there is none.
    function model(uint256 modelId) external view returns (Model memory) {
        return _model(modelId);
    }

    /// @notice Version `v` of `modelId`; reverts `UnknownModel` / `UnknownVersion`.
    function version(uint256 modelId, uint32 v) external view returns (Version memory) {
        _model(modelId);
        return _version(modelId, v);
    }

    /// @notice The parents of version `v` of `modelId`, with their payees and shares.
    function parents(uint256 modelId, uint32 v) external view returns (Parent[] memory) {
        _model(modelId);
        _version(modelId, v);
        return _parents[modelId][v];
    }

    /// @notice The model and version published with file hash `fileHash`; (0, 0) if none.
    function byFileHash(bytes32 fileHash) external view returns (uint256 modelId, uint32 version_) {
        FileRef storage r = _byFileHash[fileHash];
        return (r.modelId, r.version);
    }

    function _addVersion(uint256 modelId, Model storage m, VersionInput calldata v, ParentRef[] calldata refs)
        private
        returns (uint32 number)
    {
        if (v.fileHash == bytes32(0)) revert ZeroFileHash();
        if (bytes(v.cid).length == 0) revert EmptyCid();
        FileRef storage existing = _byFileHash[v.fileHash];
        if (existing.modelId != 0) revert AlreadyPublished(v.fileHash, existing.modelId, existing.version);
        if (refs.length > MAX_PARENTS) revert TooManyParents(refs.length, MAX_PARENTS);
        number = m.versions + 1;
        m.versions = number;
        _byFileHash[v.fileHash] = FileRef({modelId: modelId, version: number});
        _versions[modelId][number] = Version({
            fileHash: v.fileHash,
            cardHash: v.cardHash,
            cid: v.cid,
            format: v.format,
            pricePerCall: v.pricePerCall,
            licensePrice: v.licensePrice,
            publishedAt: uint64(block.timestamp),
            deprecated: false
        });
        uint256 sum = 0;
        for (uint256 i = 0; i < refs.length; ++i) {
            ParentRef calldata p = refs[i];
            if (p.bps == 0) revert ZeroShare(i);
            sum += p.bps;
            _parents[modelId][number].push(Parent({kind: p.kind, id: p.id, payee: _payee(modelId, p), bps: p.bps}));
        }
        if (sum > WHOLE) revert SharesAboveWhole(sum, WHOLE);
        emit VersionPublished(modelId, number, v.fileHash, v.cid, v.pricePerCall, v.licensePrice);
    }

    /// @dev Who a parent's share is paid to: the listing's seller, or the parent model's owner.
    function _payee(uint256 modelId, ParentRef calldata p) private view returns (address payee) {
        if (p.kind == ParentKind.Dataset) {
            // slither-disable-next-line unused-return -- only the seller is needed: it is the payee, and zero means no such listing
            (payee,,,,,) = DATA_MARKET.listings(p.id);
            if (payee == address(0)) revert UnknownListing(p.id);
        } else {
            if (p.id == modelId) revert SelfParent(modelId);
            payee = _model(p.id).owner;
        }
    }

    function _model(uint256 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
    }

    function _ownedModel(uint256 modelId) private view returns (Model storage m) {
        m = _model(modelId);
        if (m.owner != msg.sender) revert NotOwner(msg.sender, m.owner);
    }

    function _version(uint256 modelId, uint32 v) private view returns (Version storage ver) {
        ver = _versions[modelId][v];
        if (ver.fileHash == bytes32(0)) revert UnknownVersion(modelId, v);
    }
}
