// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {DisputeGame} from "./DisputeGame.sol";

/// @title ComputeMarket
/// @notice Tasks that pay a reward for the best model trained by a recipe and scored on a
/// held-out evaluation set, with staked workers and, in the Optimistic tier, bisection
/// disputes that re-execute one operator on-chain (docs/compute.md defines every encoding).
///
/// Lifecycle of a task:
/// 1. `postTask`: the poster escrows the reward and publishes only the commitment to the
///    evaluation set, `keccak256(abi.encode(evalRoot, chunkCount, rowCount, salt))`.
/// 2. `commit`, before `commitDeadline`: each worker stakes `stake` and commits to its model,
///    `keccak256(abi.encode(chainid, market, taskId, worker, modelHash, salt))`. The worker's
///    address is in the commitment, so a copier replaying another's commitment cannot reveal.
/// 3. `openEvaluation`, from `commitDeadline` until `revealDeadline`: the poster opens the
///    set (its root; the data behind `evalCid`).
/// 4. `reveal`, until `revealDeadline`: each worker opens its model (layer count, layer root)
///    and claims its count of correct answers with the root of its trace.
/// 5. `challenge`, Optimistic tier only, during the `challengeWindow` after `revealDeadline`:
///    anyone but the worker posts a bond of `stake` and opens a DisputeGame against a
///    revealed claim. Every challenger gets its own game (one per challenger and worker), so
///    a challenger colluding with the worker cannot block an honest one by losing on purpose.
///    `settleDispute` applies a resolved game once: a claim proven wrong (the challenger
///    wins) is invalid, half the worker's stake goes to the challenger and the rest to the
///    poster; a claimer that wins takes the bond; a game both sides lose (`Neither`) sends the
///    worker's stake and the bond to the poster.
/// 6. `finalize`, once the challenge window is over and every game is settled: the valid
///    revealed submission with the most correct answers (ties: the earlier reveal) takes the
///    reward; valid revealed stakes return; stakes of workers that never revealed go to the
///    poster. A poster that never opened the evaluation forfeits the reward to the committers
///    (equal shares, the remainder to the first) and every stake is returned.
///
/// The Trusted tier has no challenge window: claims are final when revealed (the poster
/// trusts its workers, or checks them off-chain). All money leaves by `withdraw` (pull
/// payments). ERC-20 deposits must arrive in full: fee-on-transfer tokens are refused.
contract ComputeMarket is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Trusted: no disputes; Optimistic: claims can be disputed for `challengeWindow`.
    enum Tier {
        Trusted,
        Optimistic
    }

    /// @notice What `postTask` takes. `token` is address(0) for ETH; `stake` is both each
    /// worker's stake and each challenger's bond; `tier` is 0 (Trusted, `challengeWindow`
    /// 0) or 1 (Optimistic, `challengeWindow` > 0).
    struct TaskParams {
        bytes32 recipe;
        string datasetCid;
        bytes32 evalCommitment;
        uint32 chunkCount;
        uint32 rowCount;
        address token;
        uint256 reward;
        uint256 stake;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint64 challengeWindow;
        uint64 moveTimeout;
        uint8 tier;
    }

    /// @notice A task. `evalRoot` and `evalCid` are set by `openEvaluation`; `winner` by
    /// `finalize` (address(0): nobody won).
    struct Task {
        address poster;
        Tier tier;
        bool evaluationOpen;
        bool finalized;
        uint32 chunkCount;
        uint32 rowCount;
        address token;
        uint64 commitDeadline;
        uint32 revealCount;
        address winner;
        uint64 revealDeadline;
        uint32 unsettledGames;
        uint64 challengeWindow;
        uint64 moveTimeout;
        uint256 reward;
        uint256 stake;
        bytes32 recipe;
        bytes32 evalCommitment;
        bytes32 evalRoot;
        string datasetCid;
        string evalCid;
    }

    /// @notice A worker's submission. `revealOrder` is 1 for the first reveal of the task, 2
    /// for the next, …; `invalid` once a game proved the claim wrong.
    struct Submission {
        bytes32 commitment;
        bool revealed;
        bool invalid;
        uint32 layerCount;
        uint32 correct;
        uint32 revealOrder;
        bytes32 layersRoot;
        bytes32 traceRoot;
        string modelCid;
    }

    /// @notice A game this market opened, and whether its outcome was applied.
    struct Dispute {
        uint256 taskId;
        address worker;
        bool settled;
        address challenger;
        uint32 challengerCorrect;
        uint256 bond;
    }

    /// @notice The most workers a task takes (the loops of `finalize` are bounded by it).
    uint256 public constant MAX_WORKERS = 64;

    /// @notice The game contract this market opens its disputes on.
    DisputeGame public immutable GAME;

    /// @notice How many tasks exist; task ids are 1..taskCount.
    uint256 public taskCount;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => address[]) private _workers;
    mapping(uint256 taskId => mapping(address worker => Submission)) private _submissions;
    mapping(uint256 gameId => Dispute) private _disputes;
    /// @notice The game `challenger` opened against `worker`'s submission to `taskId` (0: none).
    mapping(uint256 taskId => mapping(address worker => mapping(address challenger => uint256 gameId))) public gameOf;
    /// @notice Withdrawable balance per account and token (address(0) = ETH).
    mapping(address account => mapping(address token => uint256 amount)) public owed;

    /// @notice A task was posted with `reward` escrowed.
    event TaskPosted(
        uint256 indexed taskId,
        address indexed poster,
        bytes32 indexed recipe,
        address token,
        uint256 reward,
        uint256 stake,
        Tier tier,
        bytes32 evalCommitment,
        string datasetCid
    );
    /// @notice `worker` staked `stake` and committed to its model.
    event Committed(uint256 indexed taskId, address indexed worker, bytes32 commitment, uint256 stake);
    /// @notice The poster opened the evaluation set.
    event EvaluationOpened(uint256 indexed taskId, bytes32 evalRoot, bytes32 salt, string evalCid);
    /// @notice `worker` opened its model and claimed `correct` correct answers.
    event SubmissionRevealed(
        uint256 indexed taskId,
        address indexed worker,
        bytes32 modelHash,
        uint32 layerCount,
        bytes32 layersRoot,
        uint32 correct,
        bytes32 traceRoot,
        string modelCid
    );
    /// @notice `challenger` disputed `worker`'s claim in game `gameId`, posting `bond`.
    event Challenged(
        uint256 indexed taskId,
        address indexed worker,
        address indexed challenger,
        uint256 gameId,
        uint32 challengerCorrect,
        uint256 bond
    );
    /// @notice The outcome of game `gameId` was applied: `winner` is its
    /// `DisputeGame.Winner` (1 Claimer, 2 Challenger, 3 Neither); `invalidated` if it made the
    /// submission invalid.
    event DisputeSettled(uint256 indexed taskId, uint256 indexed gameId, uint8 winner, bool invalidated);
    /// @notice The task was finalized: `winner` (address(0): none) got `reward`;
    /// `evaluationOpened` false if the poster never opened the set.
    event Finalized(uint256 indexed taskId, address indexed winner, uint256 reward, bool evaluationOpened);
    /// @notice One credit of a settlement.
    event Paid(uint256 indexed taskId, address indexed payee, uint256 amount);
    /// @notice `account` withdrew `amount` of `token`.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice The game given to the constructor has no code.
    error GameNotAContract(address game);
    /// @notice No task has this id.
    error UnknownTask(uint256 taskId);
    /// @notice No game of this market belongs to this task under this id.
    error UnknownDispute(uint256 taskId, uint256 gameId);
    /// @notice `tier` is neither 0 (Trusted) nor 1 (Optimistic).
    error InvalidTier(uint8 tier);
    /// @notice The Trusted tier needs a challenge window of 0, the Optimistic tier one above 0.
    error InvalidChallengeWindow(uint8 tier, uint64 challengeWindow);
    /// @notice The commit deadline must be in the future and before the reveal deadline.
    error InvalidDeadlines(uint64 commitDeadline, uint64 revealDeadline, uint64 now_);
    /// @notice The reward must be positive.
    error ZeroReward();
    /// @notice The stake must be positive.
    error ZeroStake();
    /// @notice The evaluation set has at least one chunk.
    error ZeroChunkCount();
    /// @notice Every chunk holds at least one row.
    error RowCountBelowChunkCount(uint32 rowCount, uint32 chunkCount);
    /// @notice The move timeout must be positive.
    error ZeroMoveTimeout();
    /// @notice A commitment may not be zero.
    error ZeroCommitment();
    /// @notice `msg.value` is not what the call costs (0 for token payments).
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The token delivered `received` of `expected`: fee-on-transfer tokens are refused.
    error FeeOnTransfer(address token, uint256 expected, uint256 received);
    /// @notice Too early: possible from `opensAt`.
    error TooEarly(uint256 taskId, uint256 opensAt);
    /// @notice Too late: possible only before `closedAt`.
    error TooLate(uint256 taskId, uint256 closedAt);
    /// @notice The poster may not work on its own task (it knows the held-out set).
    error PosterCannotWork(uint256 taskId);
    /// @notice `worker` already committed to this task.
    error AlreadyCommitted(uint256 taskId, address worker);
    /// @notice The task has `MAX_WORKERS` workers.
    error TooManyWorkers(uint256 taskId);
    /// @notice Only the poster may do this.
    error NotPoster(uint256 taskId, address caller);
    /// @notice The evaluation set was already opened.
    error EvaluationAlreadyOpen(uint256 taskId);
    /// @notice The evaluation set has not been opened.
    error EvaluationNotOpen(uint256 taskId);
    /// @notice The root, counts and salt are not what the task's `evalCommitment` commits to.
    error EvalCommitmentMismatch(uint256 taskId);
    /// @notice `worker` has no commitment on this task.
    error NotCommitted(uint256 taskId, address worker);
    /// @notice `worker` already revealed.
    error AlreadyRevealed(uint256 taskId, address worker);
    /// @notice The model and salt are not what the worker committed to.
    error CommitmentMismatch(uint256 taskId, address worker);
    /// @notice A model has at least one layer.
    error InvalidLayerCount(uint32 layerCount);
    /// @notice A count of correct answers above the task's `rowCount`.
    error CountAboveRows(uint32 correct, uint32 rowCount);
    /// @notice Only Optimistic tasks take challenges.
    error NotOptimistic(uint256 taskId);
    /// @notice `worker` has not revealed a submission.
    error NotRevealed(uint256 taskId, address worker);
    /// @notice The submission was already proven wrong.
    error SubmissionInvalid(uint256 taskId, address worker);
    /// @notice A worker may not challenge itself.
    error SelfChallenge(uint256 taskId, address worker);
    /// @notice `challenger` already has a game against `worker`'s submission.
    error AlreadyChallenged(uint256 taskId, address worker, address challenger, uint256 gameId);
    /// @notice A challenger must claim another count than the worker.
    error CountsAgree(uint32 count);
    /// @notice The game is not resolved yet.
    error GameNotResolved(uint256 gameId);
    /// @notice The game's outcome was already applied.
    error AlreadySettled(uint256 gameId);
    /// @notice `count` games of the task are not settled yet.
    error UnsettledGames(uint256 taskId, uint256 count);
    /// @notice The task was already finalized.
    error AlreadyFinalized(uint256 taskId);
    /// @notice Nothing is owed to `account` in `token`.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending `amount` of ETH to `to` failed.
    error TransferFailed(address to, uint256 amount);

    constructor(address game) {
        if (game.code.length == 0) revert GameNotAContract(game);
        GAME = DisputeGame(game);
    }

    // ---------------------------------------------------------------- lifecycle

    /// @notice Posts a task and escrows its reward (ETH: `msg.value == reward`; ERC-20:
    /// approve first, `msg.value == 0`, and the whole reward must arrive). Returns the task
    /// id (ids start at 1).
    function postTask(TaskParams calldata p) external payable nonReentrant returns (uint256 taskId) {
        _checkParams(p);
        taskId = ++taskCount;
        Task storage t = _tasks[taskId];
        t.poster = msg.sender;
        t.tier = Tier(p.tier);
        t.chunkCount = p.chunkCount;
        t.rowCount = p.rowCount;
        t.token = p.token;
        t.commitDeadline = p.commitDeadline;
        t.revealDeadline = p.revealDeadline;
        t.challengeWindow = p.challengeWindow;
        t.moveTimeout = p.moveTimeout;
        t.reward = p.reward;
        t.stake = p.stake;
        t.recipe = p.recipe;
        t.evalCommitment = p.evalCommitment;
        t.datasetCid = p.datasetCid;
        emit TaskPosted(
            taskId, msg.sender, p.recipe, p.token, p.reward, p.stake, Tier(p.tier), p.evalCommitment, p.datasetCid
        );
        _collect(p.token, p.reward);
    }

    /// @notice Before the commit deadline, a worker (anyone but the poster) stakes the task's
    /// `stake` (paid as in `postTask`) and commits to its model: `commitment` is
    /// `submissionCommitment(taskId, worker, modelHash, salt)`. Once per worker; at most
    /// `MAX_WORKERS` workers.
    function commit(uint256 taskId, bytes32 commitment) external payable nonReentrant {
        Task storage t = _task(taskId);
        if (block.timestamp >= t.commitDeadline) revert TooLate(taskId, t.commitDeadline);
        if (msg.sender == t.poster) revert PosterCannotWork(taskId);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        Submission storage s = _submissions[taskId][msg.sender];
        if (s.commitment != bytes32(0)) revert AlreadyCommitted(taskId, msg.sender);
        if (_workers[taskId].length >= MAX_WORKERS) revert TooManyWorkers(taskId);
        s.commitment = commitment;
        _workers[taskId].push(msg.sender);
        emit Committed(taskId, msg.sender, commitment, t.stake);
        _collect(t.token, t.stake);
    }

    /// @notice The poster opens the evaluation set, from the commit deadline until the reveal
    /// deadline: `evalRoot` and `salt` must match the task's `evalCommitment`; `evalCid`
    /// locates the set's data.
    function openEvaluation(uint256 taskId, bytes32 evalRoot, bytes32 salt, string calldata evalCid)
        external
        nonReentrant
    {
        Task storage t = _task(taskId);
        if (msg.sender != t.poster) revert NotPoster(taskId, msg.sender);
        if (block.timestamp < t.commitDeadline) revert TooEarly(taskId, t.commitDeadline);
        if (block.timestamp >= t.revealDeadline) revert TooLate(taskId, t.revealDeadline);
        if (t.evaluationOpen) revert EvaluationAlreadyOpen(taskId);
        if (evalCommitment(evalRoot, t.chunkCount, t.rowCount, salt) != t.evalCommitment) {
            revert EvalCommitmentMismatch(taskId);
        }
        t.evaluationOpen = true;
        t.evalRoot = evalRoot;
        t.evalCid = evalCid;
        emit EvaluationOpened(taskId, evalRoot, salt, evalCid);
    }

    /// @notice A committed worker opens its model (`layerCount ≥ 1` layers, layer root
    /// `layersRoot`, committed with `salt`) and claims `correct` correct answers on the opened
    /// set, with `traceRoot` the root of its trace; `modelCid` locates the model. After the
    /// evaluation is open and before the reveal deadline; once.
    function reveal(
        uint256 taskId,
        uint32 layerCount,
        bytes32 layersRoot,
        bytes32 salt,
        uint32 correct,
        bytes32 traceRoot,
        string calldata modelCid
    ) external nonReentrant {
        Task storage t = _task(taskId);
        if (!t.evaluationOpen) revert EvaluationNotOpen(taskId);
        if (block.timestamp >= t.revealDeadline) revert TooLate(taskId, t.revealDeadline);
        Submission storage s = _submissions[taskId][msg.sender];
        if (s.commitment == bytes32(0)) revert NotCommitted(taskId, msg.sender);
        if (s.revealed) revert AlreadyRevealed(taskId, msg.sender);
        if (layerCount == 0) revert InvalidLayerCount(layerCount);
        if (correct > t.rowCount) revert CountAboveRows(correct, t.rowCount);
        bytes32 mh = keccak256(abi.encode(uint256(layerCount), layersRoot));
        if (submissionCommitment(taskId, msg.sender, mh, salt) != s.commitment) {
            revert CommitmentMismatch(taskId, msg.sender);
        }
        uint32 order = t.revealCount + 1;
        t.revealCount = order;
        s.revealed = true;
        s.layerCount = layerCount;
        s.correct = correct;
        s.revealOrder = order;
        s.layersRoot = layersRoot;
        s.traceRoot = traceRoot;
        s.modelCid = modelCid;
        emit SubmissionRevealed(taskId, msg.sender, mh, layerCount, layersRoot, correct, traceRoot, modelCid);
    }

    /// @notice In an Optimistic task's challenge window, anyone but `worker` disputes its
    /// revealed, not yet disproven claim: it names its own count `challengerCorrect` (another
    /// than the worker's) and trace root, posts a bond of `stake` (paid as in `postTask`),
    /// and a DisputeGame is opened with the worker as claimer. One game per challenger and
    /// worker. Returns the game id.
    function challenge(uint256 taskId, address worker, uint32 challengerCorrect, bytes32 challengerTraceRoot)
        external
        payable
        nonReentrant
        returns (uint256 gameId)
    {
        Task storage t = _task(taskId);
        if (t.tier != Tier.Optimistic) revert NotOptimistic(taskId);
        uint256 closesAt = uint256(t.revealDeadline) + t.challengeWindow;
        if (block.timestamp < t.revealDeadline) revert TooEarly(taskId, t.revealDeadline);
        if (block.timestamp >= closesAt) revert TooLate(taskId, closesAt);
        Submission storage s = _submissions[taskId][worker];
        if (!s.revealed) revert NotRevealed(taskId, worker);
        if (s.invalid) revert SubmissionInvalid(taskId, worker);
        if (msg.sender == worker) revert SelfChallenge(taskId, worker);
        uint256 previous = gameOf[taskId][worker][msg.sender];
        if (previous != 0) revert AlreadyChallenged(taskId, worker, msg.sender, previous);
        if (challengerCorrect == s.correct) revert CountsAgree(challengerCorrect);
        t.unsettledGames += 1;
        _collect(t.token, t.stake);
        // slither-disable-next-line reentrancy-no-eth -- GAME is the immutable DisputeGame, which makes no calls, and this function is nonReentrant
        gameId = GAME.open(
            DisputeGame.GameParams({
                claimer: worker,
                challenger: msg.sender,
                layerCount: s.layerCount,
                layersRoot: s.layersRoot,
                evalRoot: t.evalRoot,
                chunkCount: t.chunkCount,
                claimerTraceRoot: s.traceRoot,
                challengerTraceRoot: challengerTraceRoot,
                claimedCorrect: s.correct,
                challengerCorrect: challengerCorrect,
                moveTimeout: t.moveTimeout
            })
        );
        gameOf[taskId][worker][msg.sender] = gameId;
        _disputes[gameId] = Dispute({
            taskId: taskId,
            worker: worker,
            settled: false,
            challenger: msg.sender,
            challengerCorrect: challengerCorrect,
            bond: t.stake
        });
        emit Challenged(taskId, worker, msg.sender, gameId, challengerCorrect, t.stake);
    }

    /// @notice Applies the outcome of resolved game `gameId` of task `taskId`, once (anyone
    /// may call it). Challenger won: the submission is invalid, half the worker's stake is
    /// credited to the challenger and the rest to the poster (if another game had already
    /// invalidated it, nothing of the stake is left); the bond returns to the challenger.
    /// Claimer won: the bond goes to the worker. Neither: the submission is invalid and the
    /// worker's stake (if still there) and the bond go to the poster.
    function settleDispute(uint256 taskId, uint256 gameId) external nonReentrant {
        Task storage t = _task(taskId);
        Dispute storage d = _disputes[gameId];
        if (d.challenger == address(0) || d.taskId != taskId) revert UnknownDispute(taskId, gameId);
        if (d.settled) revert AlreadySettled(gameId);
        (bool resolved, DisputeGame.Winner outcome) = GAME.outcome(gameId);
        if (!resolved) revert GameNotResolved(gameId);
        d.settled = true;
        t.unsettledGames -= 1;
        Submission storage s = _submissions[taskId][d.worker];
        bool invalidated = false;
        address token = t.token;
        if (outcome == DisputeGame.Winner.Claimer) {
            _pay(taskId, d.worker, token, d.bond);
        } else {
            invalidated = !s.invalid;
            if (invalidated) s.invalid = true;
            uint256 stake = t.stake;
            if (outcome == DisputeGame.Winner.Challenger) {
                if (invalidated) {
                    _pay(taskId, d.challenger, token, stake / 2);
                    _pay(taskId, t.poster, token, stake - stake / 2);
                }
                _pay(taskId, d.challenger, token, d.bond);
            } else {
                _pay(taskId, t.poster, token, (invalidated ? stake : 0) + d.bond);
            }
        }
        emit DisputeSettled(taskId, gameId, uint8(outcome), invalidated);
    }

    /// @notice After the challenge window (for Trusted tasks, the reveal deadline), with every
    /// game settled, anyone finalizes the task once: see the contract's notice for who is
    /// credited what.
    function finalize(uint256 taskId) external nonReentrant {
        Task storage t = _task(taskId);
        uint256 endsAt = uint256(t.revealDeadline) + t.challengeWindow;
        if (block.timestamp < endsAt) revert TooEarly(taskId, endsAt);
        if (t.finalized) revert AlreadyFinalized(taskId);
        if (t.unsettledGames != 0) revert UnsettledGames(taskId, t.unsettledGames);
        t.finalized = true;
        if (t.evaluationOpen) _award(taskId, t);
        else _forfeit(taskId, t);
    }

    /// @notice Pays out everything credited to the caller in `token` (address(0) = ETH);
    /// returns the amount.
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = owed[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        owed[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert TransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The task `taskId`; reverts `UnknownTask` if there is none.
    function task(uint256 taskId) external view returns (Task memory) {
        return _task(taskId);
    }

    /// @notice `worker`'s submission to `taskId` (all zero if it never committed).
    function submission(uint256 taskId, address worker) external view returns (Submission memory) {
        _task(taskId);
        return _submissions[taskId][worker];
    }

    /// @notice The workers that committed to `taskId`, in commit order.
    function workers(uint256 taskId) external view returns (address[] memory) {
        _task(taskId);
        return _workers[taskId];
    }

    /// @notice The dispute of game `gameId` (all zero if this market did not open it).
    function dispute(uint256 gameId) external view returns (Dispute memory) {
        return _disputes[gameId];
    }

    /// @notice Whether `taskId` is finalized, and its winner (address(0): none, or not yet)
    /// with the winner's count of correct answers.
    function winner(uint256 taskId) external view returns (bool finalized, address account, uint32 correct) {
        Task storage t = _task(taskId);
        account = t.winner;
        return (t.finalized, account, _submissions[taskId][account].correct);
    }

    /// @notice The commitment to an evaluation set:
    /// `keccak256(abi.encode(evalRoot, uint256 chunkCount, uint256 rowCount, salt))`.
    function evalCommitment(bytes32 evalRoot, uint256 chunkCount, uint256 rowCount, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(evalRoot, chunkCount, rowCount, salt));
    }

    /// @notice The commitment of `worker` to a model on `taskId`: `keccak256(abi.encode(
    /// chainid, address(this), taskId, worker, modelHash, salt))`.
    function submissionCommitment(uint256 taskId, address worker, bytes32 modelHash, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), taskId, worker, modelHash, salt));
    }

    // ---------------------------------------------------------------- internals

    function _checkParams(TaskParams calldata p) private view {
        if (p.tier > uint8(Tier.Optimistic)) revert InvalidTier(p.tier);
        if ((p.tier == uint8(Tier.Trusted)) != (p.challengeWindow == 0)) {
            revert InvalidChallengeWindow(p.tier, p.challengeWindow);
        }
        if (p.commitDeadline <= block.timestamp || p.revealDeadline <= p.commitDeadline) {
            revert InvalidDeadlines(p.commitDeadline, p.revealDeadline, uint64(block.timestamp));
        }
        if (p.reward == 0) revert ZeroReward();
        if (p.stake == 0) revert ZeroStake();
        if (p.chunkCount == 0) revert ZeroChunkCount();
        if (p.rowCount < p.chunkCount) revert RowCountBelowChunkCount(p.rowCount, p.chunkCount);
        if (p.moveTimeout == 0) revert ZeroMoveTimeout();
        if (p.evalCommitment == bytes32(0)) revert ZeroCommitment();
    }

    /// @dev `finalize` of a task whose poster never opened the evaluation: every stake
    /// returns and the reward is shared equally among the committers (the remainder of the
    /// division to the first); with no committer it returns to the poster.
    function _forfeit(uint256 taskId, Task storage t) private {
        address[] storage list = _workers[taskId];
        uint256 count = list.length;
        address token = t.token;
        uint256 reward = t.reward;
        emit Finalized(taskId, address(0), 0, false);
        if (count == 0) {
            _pay(taskId, t.poster, token, reward);
            return;
        }
        uint256 share = reward / count;
        uint256 stake = t.stake;
        _pay(taskId, list[0], token, stake + share + reward % count);
        for (uint256 i = 1; i < count; ++i) {
            _pay(taskId, list[i], token, stake + share);
        }
    }

    /// @dev `finalize` of an opened evaluation: the reward to the best valid revealed
    /// submission (the most correct answers, ties to the earlier reveal; none: back to the
    /// poster), valid revealed stakes back to their workers, unrevealed stakes to the poster.
    /// Invalid submissions' stakes were settled by `settleDispute`.
    function _award(uint256 taskId, Task storage t) private {
        address[] storage list = _workers[taskId];
        uint256 count = list.length;
        address token = t.token;
        uint256 stake = t.stake;
        address best = address(0);
        uint32 bestCorrect = 0;
        uint32 bestOrder = 0;
        uint256 forfeited = 0;
        for (uint256 i = 0; i < count; ++i) {
            address w = list[i];
            Submission storage s = _submissions[taskId][w];
            if (!s.revealed) {
                forfeited += stake;
                continue;
            }
            if (s.invalid) continue;
            _pay(taskId, w, token, stake);
            uint32 c = s.correct;
            if (best == address(0) || c > bestCorrect || (c == bestCorrect && s.revealOrder < bestOrder)) {
                best = w;
                bestCorrect = c;
                bestOrder = s.revealOrder;
            }
        }
        t.winner = best;
        uint256 reward = t.reward;
        emit Finalized(taskId, best, best == address(0) ? 0 : reward, true);
        if (best == address(0)) forfeited += reward;
        else _pay(taskId, best, token, reward);
        _pay(taskId, t.poster, token, forfeited);
    }

    function _task(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.poster == address(0)) revert UnknownTask(taskId);
    }

    /// @dev Every settlement credits through here; `withdraw` pays it out.
    function _pay(uint256 taskId, address payee, address token, uint256 amount) private {
        if (amount == 0) return;
        owed[payee][token] += amount;
        emit Paid(taskId, payee, amount);
    }

    /// @dev Takes exactly `amount` from the caller: ETH as `msg.value`, a token by
    /// `transferFrom` with the balance delta checked. Callers are `nonReentrant`.
    function _collect(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongPayment(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert WrongPayment(0, msg.value);
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = t.balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransfer(token, amount, received);
    }
}
