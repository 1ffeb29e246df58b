// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title IERC7007
/// @notice ERC-7007, Verifiable AI-Generated Content Token (final text): the two functions
/// and the event. Its ERC-165 identifier is 0x702c55a6.
interface IERC7007 is IERC165 {
    /// @notice Emitted when AI-generated content data is added to token `tokenId`.
    event AigcData(uint256 indexed tokenId, bytes indexed prompt, bytes indexed aigcData, bytes proof);

    /// @notice Adds AIGC data to token `tokenId` given `prompt`, `aigcData` and `proof`.
    function addAigcData(uint256 tokenId, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external;

    /// @notice Verifies the `prompt`, `aigcData` and `proof`.
    function verify(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        view
        returns (bool success);
}

/// @title ProvenanceNFT
/// @notice ERC-721 tokens of reproducible generative art, with an ERC-2981 royalty to the
/// artist and ERC-7007's `addAigcData`/`verify`.
///
/// Each token records what reproduces its image: the SHA-256 of the model file, a salted
/// commitment to the prompt (`sha256(salt ‖ prompt)`), the seed, and the SHA-256 and CID of
/// the PNG. The generator is deterministic bit for bit (crates/nft), so anyone holding the
/// model, the prompt and the seed regenerates the exact image off-chain and compares bytes;
/// the contract cannot run the model, and `verify` says nothing about pixels.
///
/// ERC-7007 here: `aigcData` is the 32-byte SHA-256 of the image file; `proof` is
/// `abi.encode(uint256 tokenId, bytes32 salt)`, the "reproducible" proof type: `verify`
/// checks that the token records this image and that `sha256(salt ‖ prompt)` is the
/// token's prompt commitment. Model hash and seed are read from the token. No zkML or opML
/// proof is involved; reproduction is the check.
///
/// Minting is commit–reveal, so nobody watching the mempool can take an artist's work:
/// `commit(c)` first, where `c = commitmentOf(minter, request)` binds the minter's address
/// to the whole mint request, then `mint(request)` in a later block, within
/// `COMMITMENT_TTL` blocks. A copied commitment committed by another account, or copied mint
/// calldata, recomputes to a different commitment for the copier and reverts
/// `NoCommitment`. An image (by its SHA-256) is minted once.
///
/// The royalty is set per token at mint (the artist chooses up to `MAX_ROYALTY_BPS`;
/// clients default to `DEFAULT_ROYALTY_BPS`, 10%) and paid to the minter. ERC-2981 only
/// reports a royalty: no standard forces a marketplace or a private transfer to pay it.
/// NftMarket pays it; others may not.
contract ProvenanceNFT is ERC721, ERC2981, IERC7007, ReentrancyGuardTransient {
    /// @notice What a mint records; committed to (with the minter) before it is revealed.
    struct MintRequest {
        /// SHA-256 of the model file (the ONNX CPPN).
        bytes32 modelHash;
        /// `sha256(salt ‖ prompt)`.
        bytes32 promptCommitment;
        /// The generator's seed.
        uint64 seed;
        /// The artist's royalty in basis points, at most `MAX_ROYALTY_BPS`.
        uint96 royaltyBps;
        /// SHA-256 of the PNG file.
        bytes32 imageHash;
        /// CID of the PNG in the content store.
        string imageCid;
        /// CID of the metadata JSON; `tokenURI` is `ipfs://<metadataCid>`.
        string metadataCid;
    }

    /// @notice A token's provenance.
    struct Artwork {
        address artist;
        uint64 seed;
        uint64 mintedBlock;
        bool promptRevealed;
        bytes32 modelHash;
        bytes32 promptCommitment;
        bytes32 imageHash;
        string imageCid;
        string metadataCid;
    }

    /// @notice The royalty clients propose by default: 10%.
    uint96 public constant DEFAULT_ROYALTY_BPS = 1_000;
    /// @notice The largest royalty an artist may set: 25%.
    uint96 public constant MAX_ROYALTY_BPS = 2_500;
    /// @notice Blocks after its commit block within which a commitment can be minted.
    uint64 public constant COMMITMENT_TTL = 256;
    /// @notice Longest CID accepted (a CIDv1 base32 SHA-256 CID is 59 characters).
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Longest prompt that can be revealed, in bytes.
    uint256 public constant MAX_PROMPT_LENGTH = 1_000;

    /// @notice Block of each account's commitments (0 = none).
    mapping(address minter => mapping(bytes32 commitment => uint64 blockNumber)) public committedAt;
    /// @notice The token of each minted image, by the image's SHA-256 (0 = none).
    mapping(bytes32 imageHash => uint256 tokenId) public tokenOfImage;
    /// @notice Tokens minted so far; ids start at 1.
    uint256 public totalMinted;

    mapping(uint256 tokenId => Artwork) private _artworks;

    /// @notice `minter` committed `commitment` in this block.
    event Committed(address indexed minter, bytes32 indexed commitment, uint64 blockNumber);
    /// @notice Token `tokenId` was minted to its artist with this provenance.
    event Minted(
        uint256 indexed tokenId,
        address indexed artist,
        bytes32 indexed imageHash,
        bytes32 modelHash,
        bytes32 promptCommitment,
        uint64 seed,
        uint96 royaltyBps,
        string imageCid,
        string metadataCid
    );
    /// @notice The prompt of `tokenId` was revealed and matched its commitment.
    event PromptRevealed(uint256 indexed tokenId, string prompt);

    /// @notice `minter` has no commitment `commitment` (never committed, already used, or
    /// committed by another account).
    error NoCommitment(address minter, bytes32 commitment);
    /// @notice `commitment` was already committed by `minter`, at `blockNumber`.
    error AlreadyCommitted(address minter, bytes32 commitment, uint64 blockNumber);
    /// @notice A commitment is minted in a later block than its commit: it was committed
    /// at `committed`, this is block `current`.
    error CommitmentTooFresh(uint64 committed, uint256 current);
    /// @notice The commitment of block `committed` expired at block `expired`.
    error CommitmentExpired(uint64 committed, uint256 expired);
    /// @notice A royalty of `bps` is above the maximum `max`.
    error RoyaltyTooHigh(uint96 bps, uint96 max);
    /// @notice The image was already minted as `tokenId`.
    error ImageAlreadyMinted(bytes32 imageHash, uint256 tokenId);
    /// @notice A CID is empty or longer than `max` (`length` given).
    error InvalidCid(uint256 length, uint256 max);
    /// @notice A required hash is zero.
    error ZeroHash();
    /// @notice No token `tokenId`.
    error UnknownToken(uint256 tokenId);
    /// @notice The prompt of `tokenId` was already revealed.
    error PromptAlreadyRevealed(uint256 tokenId);
    /// @notice A prompt longer than `max` bytes (`length` given).
    error PromptTooLong(uint256 length, uint256 max);
    /// @notice The prompt, salt or image do not match what token `tokenId` recorded.
    error ProofMismatch(uint256 tokenId);

    constructor() ERC721("Alara Provenance", "ALART") {}

    /// @notice Commits to a mint: `commitment` is `commitmentOf(msg.sender, request)`. Mint
    /// it in a later block with `mint(request)`.
    /// @param commitment The commitment to the minter and the mint request.
    function commit(bytes32 commitment) external {
        if (commitment == bytes32(0)) revert ZeroHash();
        uint64 at = committedAt[msg.sender][commitment];
        if (at != 0) revert AlreadyCommitted(msg.sender, commitment, at);
        uint64 current = uint64(block.number);
        committedAt[msg.sender][commitment] = current;
        emit Committed(msg.sender, commitment, current);
    }

    /// @notice Mints the token committed by the caller in an earlier block: records its
    /// provenance, sets its royalty to the caller, and mints it to the caller (a contract
    /// caller must accept ERC-721 tokens).
    /// @param request The mint request committed to.
    /// @return tokenId The new token's id.
    function mint(MintRequest calldata request) external nonReentrant returns (uint256 tokenId) {
        bytes32 c = commitmentOf(msg.sender, request);
        uint64 at = committedAt[msg.sender][c];
        if (at == 0) revert NoCommitment(msg.sender, c);
        if (block.number <= at) revert CommitmentTooFresh(at, block.number);
        if (block.number > uint256(at) + COMMITMENT_TTL) revert CommitmentExpired(at, uint256(at) + COMMITMENT_TTL);
        if (request.royaltyBps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(request.royaltyBps, MAX_ROYALTY_BPS);
        if (request.modelHash == bytes32(0) || request.promptCommitment == bytes32(0) || request.imageHash == bytes32(0))
        {
            revert ZeroHash();
        }
        _checkCid(request.imageCid);
        _checkCid(request.metadataCid);
        uint256 existing = tokenOfImage[request.imageHash];
        if (existing != 0) revert ImageAlreadyMinted(request.imageHash, existing);

        delete committedAt[msg.sender][c];
        tokenId = ++totalMinted;
        tokenOfImage[request.imageHash] = tokenId;
        _artworks[tokenId] = Artwork({
            artist: msg.sender,
            seed: request.seed,
            mintedBlock: uint64(block.number),
            promptRevealed: false,
            modelHash: request.modelHash,
            promptCommitment: request.promptCommitment,
            imageHash: request.imageHash,
            imageCid: request.imageCid,
            metadataCid: request.metadataCid
        });
        _setTokenRoyalty(tokenId, msg.sender, request.royaltyBps);
        emit Minted(
            tokenId,
            msg.sender,
            request.imageHash,
            request.modelHash,
            request.promptCommitment,
            request.seed,
            request.royaltyBps,
            request.imageCid,
            request.metadataCid
        );
        _safeMint(msg.sender, tokenId);
    }

    /// @notice Reveals the prompt of `tokenId`: anyone holding the prompt and its salt may,
    /// since they must match the commitment. Emits `PromptRevealed` and ERC-7007's
    /// `AigcData`. Once per token.
    /// @param tokenId The token.
    /// @param prompt The prompt text as UTF-8.
    /// @param salt The 32-byte salt of the prompt commitment.
    function revealPrompt(uint256 tokenId, string calldata prompt, bytes32 salt) external {
        Artwork storage a = _artwork(tokenId);
        _addAigcData(tokenId, a, bytes(prompt), abi.encodePacked(a.imageHash), abi.encode(tokenId, salt));
    }

    /// @notice ERC-7007: adds the AIGC data of `tokenId`, i.e. reveals its prompt. `aigcData`
    /// is the image's 32-byte SHA-256 and `proof` is `abi.encode(tokenId, salt)`; reverts
    /// `ProofMismatch` unless `verify` holds for this token. Once per token.
    /// @param tokenId The token.
    /// @param prompt The prompt as UTF-8 bytes.
    /// @param aigcData The image's SHA-256 (32 bytes).
    /// @param proof `abi.encode(uint256 tokenId, bytes32 salt)`.
    function addAigcData(uint256 tokenId, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
    {
        _addAigcData(tokenId, _artwork(tokenId), prompt, aigcData, proof);
    }

    /// @notice ERC-7007: true when `proof` (`abi.encode(tokenId, salt)`) names a token that
    /// records the image `aigcData` (its SHA-256) and whose prompt commitment is
    /// `sha256(salt ‖ prompt)`. It cannot re-run the model: whether the image really comes
    /// from (model, prompt, seed) is checked off-chain by regenerating it.
    /// @param prompt The prompt as UTF-8 bytes.
    /// @param aigcData The image's SHA-256 (32 bytes).
    /// @param proof `abi.encode(uint256 tokenId, bytes32 salt)` (64 bytes).
    /// @return success Whether all three match a token.
    function verify(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        view
        returns (bool success)
    {
        (success,) = _verify(prompt, aigcData, proof);
    }

    /// @notice The commitment `minter` commits to before minting `request`:
    /// `keccak256(abi.encode(minter, request))`.
    /// @param minter The account that will call `mint`.
    /// @param request The mint request.
    /// @return The commitment.
    function commitmentOf(address minter, MintRequest calldata request) public pure returns (bytes32) {
        return keccak256(abi.encode(minter, request));
    }

    /// @notice The provenance of `tokenId`.
    /// @param tokenId The token.
    /// @return The artwork record.
    function artwork(uint256 tokenId) external view returns (Artwork memory) {
        return _artwork(tokenId);
    }

    /// @notice `ipfs://<metadata CID>` of `tokenId`.
    /// @param tokenId The token.
    /// @return The metadata URI.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        return string.concat("ipfs://", _artwork(tokenId).metadataCid);
    }

    /// @notice ERC-165: ERC-721, ERC-721 metadata, ERC-2981 and ERC-7007.
    /// @param interfaceId The interface id.
    /// @return Whether it is supported.
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981, IERC165) returns (bool) {
        return interfaceId == type(IERC7007).interfaceId || super.supportsInterface(interfaceId);
    }

    function _addAigcData(
        uint256 tokenId,
        Artwork storage a,
        bytes memory prompt,
        bytes memory aigcData,
        bytes memory proof
    ) private {
        if (a.promptRevealed) revert PromptAlreadyRevealed(tokenId);
        if (prompt.length > MAX_PROMPT_LENGTH) revert PromptTooLong(prompt.length, MAX_PROMPT_LENGTH);
        (bool ok, uint256 proven) = _verify(prompt, aigcData, proof);
        // The proof names its token: it must be this one.
        if (!ok || proven != tokenId) revert ProofMismatch(tokenId);
        a.promptRevealed = true;
        emit PromptRevealed(tokenId, string(prompt));
        emit AigcData(tokenId, prompt, aigcData, proof);
    }

    /// @dev `verify`, also returning the token the proof names.
    function _verify(bytes memory prompt, bytes memory aigcData, bytes memory proof)
        private
        view
        returns (bool ok, uint256 tokenId)
    {
        if (proof.length != 64 || aigcData.length != 32) return (false, 0);
        bytes32 salt;
        (tokenId, salt) = abi.decode(proof, (uint256, bytes32));
        if (tokenId == 0 || tokenId > totalMinted) return (false, tokenId);
        Artwork storage a = _artworks[tokenId];
        ok = bytes32(aigcData) == a.imageHash && sha256(abi.encodePacked(salt, prompt)) == a.promptCommitment;
    }

    function _artwork(uint256 tokenId) private view returns (Artwork storage a) {
        a = _artworks[tokenId];
        if (a.artist == address(0)) revert UnknownToken(tokenId);
    }

    function _checkCid(string calldata cid) private pure {
        uint256 n = bytes(cid).length;
        if (n == 0 || n > MAX_CID_LENGTH) revert InvalidCid(n, MAX_CID_LENGTH);
    }
}
