// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title OracleAggregator
/// @notice One value (a price, a rate) reported by a committee of n oracle nodes, of which up
/// to f may be faulty or malicious (n >= 3f + 1, n <= 31). Each node observes the value; a
/// leader assembles a report of the observations, sorted ascending, and collects signatures
/// from at least f + 1 distinct configured signers, so at least one honest node vouches for
/// it. The contract takes the median of the signed observations on-chain and serves it
/// behind Chainlink's `AggregatorV3Interface`, unchanged, so any Chainlink consumer reads it.
///
/// The report is `abi.encode(bytes32 configDigest, uint32 roundId, bytes32 observers,
/// int192[] observations)`:
/// - `configDigest` is `keccak256(abi.encode(block.chainid, address(this), configVersion,
///   signers, f, groupKey.x, groupKey.parity))`, so a report signed for another chain, another deployment or another
///   signer set (the version is bumped on every `setConfig`) is refused;
/// - `roundId` must be greater than the latest round's (honest nodes sign latest + 1);
/// - `observations` holds one value per observing node, at least 2f + 1 and at most n of
///   them, sorted ascending; byte i of `observers` is the index (in `signers`) of the node
///   that made `observations[i]`, each index at most once. With at most f faulty values
///   among at least 2f + 1, the median always lies between two honest observations.
///
/// Two ways to vouch for a report, both over the 32 bytes `keccak256(report)`:
/// - `transmit` (the baseline): f + 1 EIP-191 personal-message signatures (`personal_sign`)
///   by distinct configured signers, i.e. over `keccak256("\x19Ethereum Signed Message:\n32"
///   ‖ keccak256(report))`, given in ERC-2098 compact form (r, yParity << 255 | s); high-s
///   (malleable) signatures are refused. Gas grows with f: one ecrecover per signature.
/// - `transmitAggregate` (the default): one FROST threshold Schnorr signature (RFC 9591,
///   ciphersuite FROST(secp256k1, SHA-256)) by the committee's group key, whose shares the
///   n nodes hold with threshold f + 1 (from a distributed key generation: no node ever
///   holds the key). Any f + 1 nodes can sign; f cannot. It is verified with one
///   ecrecover (z·G − e·Y recovered as an address and compared with R's) and three
///   SHA-256 calls for the challenge e = H2(R ‖ Y ‖ msg), so its gas does not grow with n.
///
/// Anyone may transmit a report: what it says is only what its signers vouched for.
///
/// Answers are never clamped: there is no minimum or maximum answer that a report would
/// silently be set to (Chainlink's `minAnswer`, which kept reporting a floor price while
/// LUNA collapsed). Bounds belong to consumers, which refuse an answer outside theirs.
///
/// A round's data is one storage slot (answer, startedAt, updatedAt); answeredInRound is
/// always the round itself. Timestamps are stored as uint32 (good until 2106).
contract OracleAggregator is AggregatorV3Interface, Ownable2Step {
    /// @notice The largest committee: observer indices fit one byte each in a bytes32.
    uint256 public constant MAX_SIGNERS = 31;

    /// @notice One ERC-2098 compact signature: `vs` is `yParity << 255 | s`.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A FROST group public key Y: its x coordinate and the parity of its y (0 even,
    /// 1 odd), as in its 33-byte SEC1 compressed form `0x02 + parity ‖ x`. `x == 0` is "no
    /// group key": `transmitAggregate` is refused.
    struct GroupKey {
        uint256 x;
        uint8 parity;
    }

    /// @notice A FROST signature (R, z): the commitment R as an affine point and the response
    /// z, with z·G = R + e·Y for e = H2(compressed R ‖ compressed Y ‖ keccak256(report)).
    struct AggregateSignature {
        uint256 rx;
        uint256 ry;
        uint256 z;
    }

    struct Round {
        int192 answer;
        uint32 startedAt;
        uint32 updatedAt;
    }

    struct SignerSlot {
        uint8 index;
        uint64 configVersion; // the version this entry belongs to; older ones are dead
    }

    /// @notice The digest every report must carry (zero until `setConfig`).
    bytes32 public configDigest;
    /// @notice The latest accepted round (zero before the first report).
    uint32 public latestRound;
    /// @notice The number of faulty nodes tolerated.
    uint8 public f;
    /// @notice Bumped by every `setConfig`.
    uint64 public configVersion;
    /// @notice The number of signers (kept next to f, so `transmit` reads one slot for both).
    uint8 public signerCount;

    /// @notice The committee's FROST group key (x = 0 when none is configured).
    GroupKey public groupKey;

    uint8 private immutable DECIMALS;
    string private _description;
    address[] private _signers;
    mapping(address signer => SignerSlot) private _signerSlots;
    mapping(uint32 roundId => Round) private _rounds;

    /// @notice A new signer set (and with it a new config digest).
    event ConfigSet(
        bytes32 indexed configDigest, uint64 configVersion, address[] signers, uint8 f, GroupKey groupKey
    );
    /// @notice Chainlink's `AggregatorInterface` event, emitted for every accepted report.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error TooManySigners(uint256 n, uint256 max);
    error FaultToleranceZero();
    error FaultToleranceTooHigh(uint256 n, uint256 f);
    error ZeroSigner(uint256 index);
    error RepeatedSigner(address signer);
    error NotConfigured();
    error WrongConfigDigest(bytes32 expected, bytes32 got);
    error StaleRound(uint32 latest, uint32 got);
    error TooFewObservations(uint256 got, uint256 need);
    error TooManyObservations(uint256 got, uint256 max);
    error ObserverOutOfRange(uint256 position, uint256 observer);
    error DuplicateObserver(uint256 observer);
    error NotSorted(uint256 position);
    error TooFewSignatures(uint256 got, uint256 need);
    error TooManySignatures(uint256 got, uint256 max);
    /// @dev `reason` is OpenZeppelin's `ECDSA.RecoverError` (1 invalid, 3 high s), `detail`
    /// its argument (the refused s).
    error InvalidSignature(uint256 position, uint8 reason, bytes32 detail);
    error UnknownSigner(address signer);
    error DuplicateSigner(address signer);
    error NoDataPresent(uint80 roundId);
    /// @dev x must be 0 (none) or a coordinate below the group order (as ecrecover needs),
    /// parity 0 or 1.
    error InvalidGroupKey(uint256 x, uint8 parity);
    error NoGroupKey();
    /// @dev `reason`: 1 z is 0 or not below the group order, 2 R is not on the curve,
    /// 3 z·G − e·Y is not R.
    error InvalidAggregateSignature(uint8 reason);

    constructor(address initialOwner, uint8 decimals_, string memory description_) Ownable(initialOwner) {
        DECIMALS = decimals_;
        _description = description_;
    }

    /// @notice Replaces the signer set, f and the group key; bumps the config version, so every
    /// report signed under an earlier configuration is refused from now on. Rounds keep
    /// counting.
    function setConfig(address[] calldata signers_, uint8 f_, GroupKey calldata groupKey_) external onlyOwner {
        uint256 n = signers_.length;
        if (groupKey_.x >= Q || groupKey_.parity > 1) revert InvalidGroupKey(groupKey_.x, groupKey_.parity);
        if (n > MAX_SIGNERS) revert TooManySigners(n, MAX_SIGNERS);
        if (f_ == 0) revert FaultToleranceZero();
        if (n < 3 * uint256(f_) + 1) revert FaultToleranceTooHigh(n, f_);
        uint64 next = configVersion + 1;
        for (uint256 i = 0; i < n; ++i) {
            address s = signers_[i];
            if (s == address(0)) revert ZeroSigner(i);
            if (_signerSlots[s].configVersion == next) revert RepeatedSigner(s);
            _signerSlots[s] = SignerSlot({index: uint8(i), configVersion: next});
        }
        bytes32 digest =
            keccak256(abi.encode(block.chainid, address(this), next, signers_, f_, groupKey_.x, groupKey_.parity));
        configVersion = next;
        groupKey = groupKey_;
        f = f_;
        signerCount = uint8(n);
        configDigest = digest;
        _signers = signers_;
        emit ConfigSet(digest, next, signers_, f_, groupKey_);
    }

    /// @notice The current signer set, in index order.
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    /// @notice Accepts `report` (see the contract's notice for its layout) signed by at least
    /// f + 1 distinct configured signers, and records the median of its observations as a
    /// new round.
    function transmit(bytes calldata report, Signature[] calldata signatures) external {
        (uint32 roundId, int192 answer, uint256 faults, uint256 n) = _checkReport(report);
        _checkSignatures(keccak256(report), signatures, faults, n);
        _record(roundId, answer);
    }

    /// @notice Accepts `report` signed by the committee's group key (a FROST signature made by
    /// any f + 1 nodes together), and records the median of its observations as a new round.
    function transmitAggregate(bytes calldata report, AggregateSignature calldata signature) external {
        (uint32 roundId, int192 answer,,) = _checkReport(report);
        _checkAggregate(keccak256(report), signature);
        _record(roundId, answer);
    }

    /// @dev Decodes and checks everything but the signatures; returns the round, the median
    /// and the configuration's f and n.
    function _checkReport(bytes calldata report)
        private
        view
        returns (uint32 roundId, int192 answer, uint256 faults, uint256 n)
    {
        bytes32 digest = configDigest;
        if (digest == bytes32(0)) revert NotConfigured();
        (bytes32 reportDigest, uint32 round, bytes32 observers, int192[] memory observations) =
            abi.decode(report, (bytes32, uint32, bytes32, int192[]));
        if (reportDigest != digest) revert WrongConfigDigest(digest, reportDigest);
        uint32 latest = latestRound;
        if (round <= latest) revert StaleRound(latest, round);
        faults = f;
        n = signerCount;
        _checkObservations(observers, observations, faults, n);
        return (round, observations[observations.length / 2], faults, n);
    }

    function _record(uint32 roundId, int192 answer) private {
        uint32 now32 = uint32(block.timestamp);
        _rounds[roundId] = Round({answer: answer, startedAt: now32, updatedAt: now32});
        latestRound = roundId;
        emit AnswerUpdated(answer, roundId, block.timestamp);
    }

    /// @dev 2f + 1 to n observations from distinct configured observers, sorted ascending.
    function _checkObservations(bytes32 observers, int192[] memory observations, uint256 faults, uint256 n)
        private
        pure
    {
        uint256 m = observations.length;
        if (m < 2 * faults + 1) revert TooFewObservations(m, 2 * faults + 1);
        if (m > n) revert TooManyObservations(m, n);
        uint256 seen = 0;
        for (uint256 i = 0; i < m; ++i) {
            uint256 observer = uint8(observers[i]);
            if (observer >= n) revert ObserverOutOfRange(i, observer);
            if (seen & (1 << observer) != 0) revert DuplicateObserver(observer);
            seen |= 1 << observer;
            if (i > 0 && observations[i] < observations[i - 1]) revert NotSorted(i);
        }
    }

    /// @dev f + 1 to n valid signatures of `reportHash` by distinct signers of this config.
    function _checkSignatures(bytes32 reportHash, Signature[] calldata signatures, uint256 faults, uint256 n)
        private
        view
    {
        uint256 k = signatures.length;
        if (k < faults + 1) revert TooFewSignatures(k, faults + 1);
        if (k > n) revert TooManySignatures(k, n);
        bytes32 signed = MessageHashUtils.toEthSignedMessageHash(reportHash);
        uint64 current = configVersion;
        uint256 seen = 0;
        for (uint256 i = 0; i < k; ++i) {
            (address signer, ECDSA.RecoverError err, bytes32 errArg) =
                ECDSA.tryRecover(signed, signatures[i].r, signatures[i].vs);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i, uint8(err), errArg);
            SignerSlot memory slot = _signerSlots[signer];
            if (slot.configVersion != current) revert UnknownSigner(signer);
            if (seen & (1 << slot.index) != 0) revert DuplicateSigner(signer);
            seen |= 1 << slot.index;
        }
    }

    /// @dev The secp256k1 group order and field prime.
    uint256 private constant Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 private constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev FROST(secp256k1, SHA-256)'s challenge domain: "FROST-secp256k1-SHA256-v1" ‖ "chal".
    bytes private constant CHALLENGE_DST = "FROST-secp256k1-SHA256-v1chal";

    /// @dev z·G = R + e·Y, checked as ecrecover(−z·Yx, Y's v, Yx, −e·Yx) = address(R): the
    /// precompile returns Yx⁻¹·(s·Y − h·G) = z·G − e·Y.
    function _checkAggregate(bytes32 message, AggregateSignature calldata sig) private view {
        GroupKey memory key = groupKey;
        if (key.x == 0) revert NoGroupKey();
        uint256 rx = sig.rx;
        uint256 ry = sig.ry;
        uint256 z = sig.z;
        if (z == 0 || z >= Q) revert InvalidAggregateSignature(1);
        if (rx >= P || ry >= P || mulmod(ry, ry, P) != addmod(mulmod(mulmod(rx, rx, P), rx, P), 7, P)) {
            revert InvalidAggregateSignature(2);
        }
        uint256 e = _challenge(
            abi.encodePacked(uint8(2 + (ry & 1)), rx, uint8(2 + key.parity), key.x, message)
        );
        bytes32 h = bytes32(Q - mulmod(z, key.x, Q));
        bytes32 s = bytes32(Q - mulmod(e, key.x, Q));
        address recovered = ecrecover(h, 27 + key.parity, bytes32(key.x), s);
        address expected = address(uint160(uint256(keccak256(abi.encodePacked(rx, ry)))));
        if (recovered == address(0) || recovered != expected) revert InvalidAggregateSignature(3);
    }

    /// @dev H2 of FROST(secp256k1, SHA-256): hash_to_field with expand_message_xmd(SHA-256)
    /// (RFC 9380 §5.3.1), 48 bytes, read big-endian and reduced mod Q.
    function _challenge(bytes memory input) private pure returns (uint256) {
        bytes memory dstPrime = abi.encodePacked(CHALLENGE_DST, uint8(CHALLENGE_DST.length));
        bytes32 b0 = sha256(abi.encodePacked(bytes32(0), bytes32(0), input, uint16(48), uint8(0), dstPrime));
        bytes32 b1 = sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        bytes32 b2 = sha256(abi.encodePacked(b0 ^ b1, uint8(2), dstPrime));
        return addmod(mulmod(uint256(b1), 1 << 128, Q), uint256(b2) >> 128, Q);
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return DECIMALS;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return _description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Reverts with `NoDataPresent` for a round that was never reported.
    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (roundId_ == 0 || roundId_ > type(uint32).max) revert NoDataPresent(roundId_);
        Round memory r = _rounds[uint32(roundId_)];
        // slither-disable-next-line incorrect-equality -- 0 is "never written": a stored round has updatedAt = block.timestamp > 0
        if (r.updatedAt == 0) revert NoDataPresent(roundId_);
        return (roundId_, r.answer, r.startedAt, r.updatedAt, roundId_);
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Before the first report every field is zero, which consumers refuse
    /// (`startedAt == 0`, and `updatedAt` is as stale as can be).
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint32 id = latestRound;
        Round memory r = _rounds[id];
        return (id, r.answer, r.startedAt, r.updatedAt, id);
    }
}
