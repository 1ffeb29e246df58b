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
/// abi.encode(chainId, contract, taskId, client, updateHash, score, cumulative))))`, where
/// `updateHash` is the client's last accepted update and `score` its last round score
/// (fixed point, 1e9 = 1). Double hashing keeps a leaf from ever being read as an inner
/// node; the chain id, this contract's address and the task id keep a root (or a proof)
/// published for one task from paying out in another task or deployment.
///
/// Every settled root stays valid (`rootOf[taskId][round]`): a claim names the round whose
/// tree it proves against, so a new settlement never invalidates a claim in flight, and a
/// client that a later tree drops or lowers still claims what an earlier tree gave it. A
/// client is paid `cumulative − claimed` and `claimed` only grows, so over any set of
/// trees it receives at most the largest cumulative amount any of them gave it, and the
/// task as a whole never more than the settled `totalCumulative`.
///
/// Ending a task (no mid-round grab of the pool): the coordinator, which sends the
/// settlements, may close at any time — its last `settleRound` is the final settlement.
/// The creator first calls `requestClose` and may close only after `CLOSE_NOTICE`; during
/// the notice `settleRound` keeps working, so a round the coordinator is settling is paid
/// for before the unallocated rest of the pool goes back. After closing, clients have
/// `CLAIM_WINDOW` to claim; then `sweep` returns what is still unclaimed to the creator.
///
/// Clients sign each update off-chain as the EIP-712 struct
/// `UpdateCommitment(uint256 task,uint64 round,bytes32 updateHash,uint64 sampleCount)`;
/// the coordinator checks the signature before aggregating, and anyone can re-check it
/// with `updateSigner` / `isValidUpdate`. Only clients the coordinator approved
/// (`addClients`) count: `register` is a request to be approved, nothing more.
contract FederatedTraining is EIP712 {
    using SafeERC20 for IERC20;

    /// EIP-712 type hash of a client's update commitment.
    bytes32 public constant UPDATE_COMMITMENT_TYPEHASH =
        keccak256("UpdateCommitment(uint256 task,uint64 round,bytes32 updateHash,uint64 sampleCount)");

    /// How long after `requestClose` the creator must wait before `closeTask`; rounds can
    /// still be settled meanwhile.
    uint64 public constant CLOSE_NOTICE = 1 days;
    /// How long after closing clients can still claim; then `sweep` refunds the rest.
    uint64 public constant CLAIM_WINDOW = 90 days;

    struct Task {
        address coordinator; // sends the round settlements
        uint64 lastRound; // last settled round (0: none yet)
        bool closed; // no more rounds; the unallocated pool went back to the creator
        bool swept; // the unclaimed rest went back to the creator after the claim window
        address creator; // funded the pool
        uint32 clients; // clients approved by the coordinator
        uint64 closeAt; // open: earliest creator close (0: not requested); closed: when it closed
        uint256 pool; // tokens escrowed for rewards
        uint256 totalCumulative; // rewards allocated so far (≤ pool)
        uint256 totalClaimed; // rewards paid out so far (≤ totalCumulative)
        bytes32 rewardsRoot; // Merkle root of the latest cumulative rewards (= rootOf[lastRound])
        bytes32 globalModelHash; // SHA-256 of the latest global model (safetensors)
        bytes32 globalModelCid; // digest of the latest global model's CID (sha2-256 multihash)
        bytes32 configHash; // commitment to the task configuration (seed, model, strategy)
    }

    /// The reward token.
    IERC20 public immutable token;
    /// Number of tasks created; task ids are 1..taskCount.
    uint256 public taskCount;

    mapping(uint256 taskId => Task) private _tasks;
    /// Clients approved by the task's coordinator: their update commitments count.
    mapping(uint256 taskId => mapping(address client => bool)) public isRegistered;
    /// Clients that asked to take part (`register`) and await the coordinator's approval.
    mapping(uint256 taskId => mapping(address client => bool)) public hasRequested;
    /// The highest cumulative amount each client has been paid.
    mapping(uint256 taskId => mapping(address client => uint256)) public claimed;
    /// Reward root of every settled round; claims prove against any of them.
    mapping(uint256 taskId => mapping(uint64 round => bytes32)) public rootOf;

    event TaskCreated(
        uint256 indexed taskId, address indexed creator, address indexed coordinator, uint256 pool, bytes32 configHash
    );
    event RegistrationRequested(uint256 indexed taskId, address indexed client);
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
    event CloseRequested(uint256 indexed taskId, uint64 closeAt);
    event TaskClosed(uint256 indexed taskId, uint256 refunded);
    event Swept(uint256 indexed taskId, uint256 amount);

    error UnknownTask(uint256 taskId);
    error ZeroAddress();
    error ZeroPool();
    error NotCoordinator(uint256 taskId, address caller);
    error NotCreator(uint256 taskId, address caller);
    error TaskClosedAlready(uint256 taskId);
    error TaskNotClosed(uint256 taskId);
    error AlreadyRegistered(uint256 taskId, address client);
    error AlreadyRequested(uint256 taskId, address client);
    error RoundNotIncreasing(uint256 taskId, uint64 round, uint64 lastRound);
    error RewardsDecreased(uint256 taskId, uint256 totalCumulative, uint256 previous);
    error RewardsExceedPool(uint256 taskId, uint256 totalCumulative, uint256 pool);
    error EmptyRoot(uint256 taskId, uint64 round);
    error NoRoundSettled(uint256 taskId);
    error UnknownRound(uint256 taskId, uint64 round);
    error InvalidProof(uint256 taskId, address client);
    error NothingToClaim(uint256 taskId, address client, uint256 cumulative, uint256 alreadyClaimed);
    error ClaimExceedsSettled(uint256 taskId, uint256 wouldBeClaimed, uint256 totalCumulative);
    error CloseNotRequested(uint256 taskId);
    error CloseNoticePending(uint256 taskId, uint64 closeAt, uint256 now_);
    error ClaimWindowOver(uint256 taskId, uint256 deadline);
    error ClaimWindowOpen(uint256 taskId, uint256 deadline);
    error AlreadySwept(uint256 taskId);

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

    /// @notice Asks to take part in `taskId`. This registers nothing: the caller's update
    /// commitments count only once the coordinator approves it with `addClients`.
    function register(uint256 taskId) external {
        _open(taskId);
        if (isRegistered[taskId][msg.sender]) revert AlreadyRegistered(taskId, msg.sender);
        if (hasRequested[taskId][msg.sender]) revert AlreadyRequested(taskId, msg.sender);
        hasRequested[taskId][msg.sender] = true;
        emit RegistrationRequested(taskId, msg.sender);
    }

    /// @notice The coordinator approves clients (enrolled off-chain, or that asked with
    /// `register`) in one transaction. Already approved clients are skipped.
    function addClients(uint256 taskId, address[] calldata clients) external {
        Task storage t = _open(taskId);
        if (msg.sender != t.coordinator) revert NotCoordinator(taskId, msg.sender);
        for (uint256 i = 0; i < clients.length; ++i) {
            address c = clients[i];
            if (c == address(0)) revert ZeroAddress();
            if (!isRegistered[taskId][c]) {
                isRegistered[taskId][c] = true;
                unchecked {
                    ++t.clients;
                }
                emit ClientRegistered(taskId, c);
            }
        }
    }

    /// @notice Settles a round in one transaction: the new global model, and the Merkle
    /// root of every client's cumulative reward over all rounds so far. Works until the
    /// task is closed, including during the creator's close notice.
    /// @param round Strictly greater than the last settled round.
    /// @param rewardsRoot Non-zero; stays claimable as `rootOf[taskId][round]`.
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
        if (rewardsRoot == bytes32(0)) revert EmptyRoot(taskId, round);
        uint256 previous = t.totalCumulative;
        if (totalCumulative < previous) revert RewardsDecreased(taskId, totalCumulative, previous);
        if (totalCumulative > t.pool) revert RewardsExceedPool(taskId, totalCumulative, t.pool);
        t.lastRound = round;
        t.totalCumulative = totalCumulative;
        rootOf[taskId][round] = rewardsRoot;
        t.globalModelHash = globalModelHash;
        t.globalModelCid = globalModelCid;
        emit RoundSettled(taskId, round, globalModelHash, globalModelCid, rewardsRoot, totalCumulative);
    }

    /// @notice Pays the caller its cumulative reward minus what it already claimed. The
    /// leaf is the caller's entry in the tree settled for `round` (any settled round).
    /// After closing, claims are accepted for `CLAIM_WINDOW`.
    function claim(
        uint256 taskId,
        uint64 round,
        uint256 cumulativeAmount,
        bytes32 updateHash,
        uint256 score,
        bytes32[] calldata proof
    ) external returns (uint256 amount) {
        Task storage t = _task(taskId);
        if (t.lastRound == 0) revert NoRoundSettled(taskId);
        if (t.closed) {
            uint256 deadline = uint256(t.closeAt) + CLAIM_WINDOW;
            if (block.timestamp > deadline || t.swept) revert ClaimWindowOver(taskId, deadline);
        }
        bytes32 root = rootOf[taskId][round];
        if (root == bytes32(0)) revert UnknownRound(taskId, round);
        bytes32 leaf = rewardLeaf(taskId, msg.sender, updateHash, score, cumulativeAmount);
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

    /// @notice The creator announces the end of a task: `closeTask` works for it from
    /// `CLOSE_NOTICE` seconds on, and until then the coordinator can still settle rounds.
    function requestClose(uint256 taskId) external returns (uint64 closeAt) {
        Task storage t = _open(taskId);
        if (msg.sender != t.creator) revert NotCreator(taskId, msg.sender);
        closeAt = uint64(block.timestamp) + CLOSE_NOTICE;
        t.closeAt = closeAt;
        emit CloseRequested(taskId, closeAt);
    }

    /// @notice Ends a task: no more rounds; the unallocated part of the pool goes back to
    /// the creator. Allocated rewards stay claimable for `CLAIM_WINDOW`. The coordinator
    /// may close at any time (after its final settlement); the creator only once the
    /// notice of `requestClose` has passed.
    function closeTask(uint256 taskId) external returns (uint256 refunded) {
        Task storage t = _open(taskId);
        if (msg.sender != t.coordinator) {
            if (msg.sender != t.creator) revert NotCreator(taskId, msg.sender);
            uint64 closeAt = t.closeAt;
            if (closeAt == 0) revert CloseNotRequested(taskId);
            if (block.timestamp < closeAt) revert CloseNoticePending(taskId, closeAt, block.timestamp);
        }
        t.closed = true;
        t.closeAt = uint64(block.timestamp);
        refunded = t.pool - t.totalCumulative;
        t.pool = t.totalCumulative;
        if (refunded > 0) token.safeTransfer(t.creator, refunded);
        emit TaskClosed(taskId, refunded);
    }

    /// @notice After the claim window of a closed task, returns every allocated but
    /// unclaimed reward to the creator; no claims afterwards.
    function sweep(uint256 taskId) external returns (uint256 amount) {
        Task storage t = _task(taskId);
        if (msg.sender != t.creator) revert NotCreator(taskId, msg.sender);
        if (!t.closed) revert TaskNotClosed(taskId);
        if (t.swept) revert AlreadySwept(taskId);
        uint256 deadline = uint256(t.closeAt) + CLAIM_WINDOW;
        if (block.timestamp <= deadline) revert ClaimWindowOpen(taskId, deadline);
        t.swept = true;
        amount = t.totalCumulative - t.totalClaimed;
        t.pool = t.totalClaimed;
        if (amount > 0) token.safeTransfer(t.creator, amount);
        emit Swept(taskId, amount);
    }

    /// @notice The task's state.
    function getTask(uint256 taskId) external view returns (Task memory task) {
        task = _task(taskId);
        task.rewardsRoot = rootOf[taskId][task.lastRound];
    }

    /// @notice The double-hashed Merkle leaf of a client's cumulative reward in `taskId` of
    /// this contract on this chain.
    function rewardLeaf(uint256 taskId, address client, bytes32 updateHash, uint256 score, uint256 cumulative)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            bytes.concat(
                keccak256(abi.encode(block.chainid, address(this), taskId, client, updateHash, score, cumulative))
            )
        );
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
        // slither-disable-next-line unused-return -- address(0) for a malformed signature is the documented result; isValidUpdate rejects address(0)
        (signer,,) = ECDSA.tryRecover(updateDigest(taskId, round, updateHash, sampleCount), signature);
    }

    /// @notice Whether `signature` is a commitment to this update by a client the
    /// coordinator approved, for a round that has not been settled yet (of an open task).
    function isValidUpdate(
        uint256 taskId,
        uint64 round,
        bytes32 updateHash,
        uint64 sampleCount,
        bytes calldata signature
    ) external view returns (bool) {
        Task storage t = _task(taskId);
        if (t.closed || round <= t.lastRound) return false;
        address signer = updateSigner(taskId, round, updateHash, sampleCount, signature);
        return signer != address(0) && isRegistered[taskId][signer];
    }

    /// @notice The EIP-712 domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
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
