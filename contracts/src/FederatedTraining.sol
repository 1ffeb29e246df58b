// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title FederatedTraining
/// @notice Federated training tasks with a token reward pool in escrow, settled with ONE
/// transaction per round. The coordinator publishes the round's global model (hash and CID
/// digest) and the Merkle root of every client's cumulative reward; clients claim whenever
/// they like with a proof, and one claim covers every round so far.
///
/// Leaves follow OpenZeppelin's StandardMerkleTree: `keccak256(bytes.concat(keccak256(
/// abi.encode(client, updateHash, score, cumulative))))`, where `updateHash` is the
/// client's last accepted update and `score` its last round score (fixed point, 1e9 = 1).
/// Double hashing keeps a leaf from ever being read as an inner node.
///
/// Clients sign each update off-chain as the EIP-712 struct
/// `UpdateCommitment(uint256 task,uint64 round,bytes32 updateHash,uint64 sampleCount)`;
/// the coordinator checks the signature before aggregating, and anyone can re-check it
/// with `updateSigner` / `isValidUpdate`.
contract FederatedTraining is EIP712 {
    using SafeERC20 for IERC20;

    /// EIP-712 type hash of a client's update commitment.
    bytes32 public constant UPDATE_COMMITMENT_TYPEHASH =
        keccak256("UpdateCommitment(uint256 task,uint64 round,bytes32 updateHash,uint64 sampleCount)");

    struct Task {
        address coordinator; // sends the round settlements
        uint64 lastRound; // last settled round (0: none yet)
        bool closed; // no more rounds; the unallocated pool went back to the creator
        address creator; // funded the pool
        uint32 clients; // registered clients
        uint256 pool; // tokens escrowed for rewards
        uint256 totalCumulative; // rewards allocated so far (≤ pool)
        uint256 totalClaimed; // rewards paid out so far (≤ totalCumulative)
        bytes32 rewardsRoot; // Merkle root of the latest cumulative rewards
        bytes32 globalModelHash; // SHA-256 of the latest global model (safetensors)
        bytes32 globalModelCid; // digest of the latest global model's CID (sha2-256 multihash)
        bytes32 configHash; // commitment to the task configuration (seed, model, strategy)
    }

    /// The reward token.
    IERC20 public immutable token;
    /// Number of tasks created; task ids are 1..taskCount.
    uint256 public taskCount;

    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(address client => bool)) public isRegistered;
    mapping(uint256 taskId => mapping(address client => uint256)) public claimed;

    event TaskCreated(
        uint256 indexed taskId, address indexed creator, address indexed coordinator, uint256 pool, bytes32 configHash
    );
    event ClientRegistered(uint256 indexed taskId, address indexed client);
    event RoundSettled(
        uint256 indexed taskId,
        uint64 indexed round,
        bytes32 globalModelHash,
        bytes32 globalModelCid,
        bytes32 rewardsRoot,
        uint256 totalCumulative
    );
    event Claimed(uint256 indexed taskId, address indexed client, uint256 amount, uint256 cumulative);
    event TaskClosed(uint256 indexed taskId, uint256 refunded);

    error UnknownTask(uint256 taskId);
    error ZeroAddress();
    error ZeroPool();
    error NotCoordinator(uint256 taskId, address caller);
    error NotCreator(uint256 taskId, address caller);
    error TaskClosedAlready(uint256 taskId);
    error AlreadyRegistered(uint256 taskId, address client);
    error RoundNotIncreasing(uint256 taskId, uint64 round, uint64 lastRound);
    error RewardsDecreased(uint256 taskId, uint256 totalCumulative, uint256 previous);
    error RewardsExceedPool(uint256 taskId, uint256 totalCumulative, uint256 pool);
    error NoRoundSettled(uint256 taskId);
    error InvalidProof(uint256 taskId, address client);
    error NothingToClaim(uint256 taskId, address client, uint256 cumulative, uint256 alreadyClaimed);
    error ClaimExceedsSettled(uint256 taskId, uint256 wouldBeClaimed, uint256 totalCumulative);

    constructor(IERC20 token_) EIP712("Alara FederatedTraining", "1") {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
    }

    /// @notice Creates a task and pulls `pool` tokens from the caller into escrow (approve
    /// first, or use the token's permit).
    function createTask(address coordinator, uint256 pool, bytes32 configHash) external returns (uint256 taskId) {
        if (coordinator == address(0)) revert ZeroAddress();
        if (pool == 0) revert ZeroPool();
        taskId = ++taskCount;
        Task storage t = _tasks[taskId];
        t.coordinator = coordinator;
        t.creator = msg.sender;
        t.pool = pool;
        t.configHash = configHash;
        token.safeTransferFrom(msg.sender, address(this), pool);
        emit TaskCreated(taskId, msg.sender, coordinator, pool, configHash);
    }

    /// @notice Registers the caller as a client of `taskId`: its EIP-712 update
    /// commitments are accepted from now on.
    function register(uint256 taskId) external {
        Task storage t = _open(taskId);
        _register(t, taskId, msg.sender);
    }

    /// @notice The coordinator registers clients it enrolled off-chain (one transaction
    /// for many). Already registered clients are skipped.
    function addClients(uint256 taskId, address[] calldata clients) external {
        Task storage t = _open(taskId);
        if (msg.sender != t.coordinator) revert NotCoordinator(taskId, msg.sender);
        for (uint256 i = 0; i < clients.length; ++i) {
            address c = clients[i];
            if (c == address(0)) revert ZeroAddress();
            if (!isRegistered[taskId][c]) _register(t, taskId, c);
        }
    }

    /// @notice Settles a round in one transaction: the new global model, and the Merkle
    /// root of every client's cumulative reward over all rounds so far.
    /// @param round Strictly greater than the last settled round.
    /// @param totalCumulative Sum of the cumulative rewards in the tree; never decreases and
    /// never exceeds the pool.
    function settleRound(
        uint256 taskId,
        uint64 round,
        bytes32 globalModelHash,
        bytes32 globalModelCid,
        bytes32 rewardsRoot,
        uint256 totalCumulative
    ) external {
        Task storage t = _open(taskId);
        if (msg.sender != t.coordinator) revert NotCoordinator(taskId, msg.sender);
        uint64 last = t.lastRound;
        if (round <= last) revert RoundNotIncreasing(taskId, round, last);
        uint256 previous = t.totalCumulative;
        if (totalCumulative < previous) revert RewardsDecreased(taskId, totalCumulative, previous);
        if (totalCumulative > t.pool) revert RewardsExceedPool(taskId, totalCumulative, t.pool);
        t.lastRound = round;
        t.totalCumulative = totalCumulative;
        t.rewardsRoot = rewardsRoot;
        t.globalModelHash = globalModelHash;
        t.globalModelCid = globalModelCid;
        emit RoundSettled(taskId, round, globalModelHash, globalModelCid, rewardsRoot, totalCumulative);
    }

    /// @notice Pays the caller its cumulative reward minus what it already claimed. The
    /// leaf is the caller's entry in the latest settled tree.
    function claim(
        uint256 taskId,
        uint256 cumulativeAmount,
        bytes32 updateHash,
        uint256 score,
        bytes32[] calldata proof
    ) external returns (uint256 amount) {
        Task storage t = _task(taskId);
        bytes32 root = t.rewardsRoot;
        if (t.lastRound == 0) revert NoRoundSettled(taskId);
        bytes32 leaf = rewardLeaf(msg.sender, updateHash, score, cumulativeAmount);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(taskId, msg.sender);
        uint256 already = claimed[taskId][msg.sender];
        if (cumulativeAmount <= already) revert NothingToClaim(taskId, msg.sender, cumulativeAmount, already);
        amount = cumulativeAmount - already;
        uint256 paid = t.totalClaimed + amount;
        // A tree whose leaves promise more than the settled total cannot drain the escrow
        // of other tasks.
        if (paid > t.totalCumulative) revert ClaimExceedsSettled(taskId, paid, t.totalCumulative);
        t.totalClaimed = paid;
        claimed[taskId][msg.sender] = cumulativeAmount;
        token.safeTransfer(msg.sender, amount);
        emit Claimed(taskId, msg.sender, amount, cumulativeAmount);
    }

    /// @notice Ends a task: no more rounds; the unallocated part of the pool goes back to
    /// the creator. Allocated rewards stay claimable.
    function closeTask(uint256 taskId) external returns (uint256 refunded) {
        Task storage t = _open(taskId);
        if (msg.sender != t.creator) revert NotCreator(taskId, msg.sender);
        t.closed = true;
        refunded = t.pool - t.totalCumulative;
        t.pool = t.totalCumulative;
        if (refunded > 0) token.safeTransfer(t.creator, refunded);
        emit TaskClosed(taskId, refunded);
    }

    /// @notice The task's state.
    function getTask(uint256 taskId) external view returns (Task memory) {
        return _task(taskId);
    }

    /// @notice The double-hashed Merkle leaf of a client's cumulative reward.
    function rewardLeaf(address client, bytes32 updateHash, uint256 score, uint256 cumulative)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(client, updateHash, score, cumulative))));
    }

    /// @notice The EIP-712 digest a client signs for an update.
    function updateDigest(uint256 taskId, uint64 round, bytes32 updateHash, uint64 sampleCount)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(UPDATE_COMMITMENT_TYPEHASH, taskId, round, updateHash, sampleCount))
        );
    }

    /// @notice Who signed an update commitment (address(0) for a malformed signature).
    function updateSigner(
        uint256 taskId,
        uint64 round,
        bytes32 updateHash,
        uint64 sampleCount,
        bytes calldata signature
    ) public view returns (address signer) {
        (signer,,) = ECDSA.tryRecover(updateDigest(taskId, round, updateHash, sampleCount), signature);
    }

    /// @notice Whether `signature` is a registered client's commitment to this update, for
    /// a round that has not been settled yet.
    function isValidUpdate(
        uint256 taskId,
        uint64 round,
        bytes32 updateHash,
        uint64 sampleCount,
        bytes calldata signature
    ) external view returns (bool) {
        Task storage t = _task(taskId);
        if (round <= t.lastRound) return false;
        address signer = updateSigner(taskId, round, updateHash, sampleCount, signature);
        return signer != address(0) && isRegistered[taskId][signer];
    }

    /// @notice The EIP-712 domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _register(Task storage t, uint256 taskId, address client) private {
        if (isRegistered[taskId][client]) revert AlreadyRegistered(taskId, client);
        isRegistered[taskId][client] = true;
        unchecked {
            ++t.clients;
        }
        emit ClientRegistered(taskId, client);
    }

    function _task(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.coordinator == address(0)) revert UnknownTask(taskId);
    }

    function _open(uint256 taskId) private view returns (Task storage t) {
        t = _task(taskId);
        if (t.closed) revert TaskClosedAlready(taskId);
    }
}
