// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title DisputeGame
/// @notice The bisection game that settles a disagreement about one evaluation of a
/// fixed-point model (docs/compute.md is the normative definition of every encoding used
/// here). A claimer and a challenger each committed to a trace, the Merkle root of the
/// `n + 1` state leaves of evaluating the model (`L` layers) on the evaluation set (`C`
/// chunks), `n = C · (L + 1)`. Their final states differ (their counts of correct answers
/// do), state 0 is fixed, so some step `s` has them agree at `s` and disagree at `s + 1`.
///
/// The game keeps `(lo, hi)` with the traces agreeing at `lo` and disagreeing at `hi`. Each
/// round both parties reveal their leaf at `mid = (lo + hi) / 2` with a proof against their
/// own root; equal leaves move `lo` to `mid`, different ones `hi`. When `hi = lo + 1`
/// anyone may submit the one-step proof: the contract re-executes that one operator (a
/// layer, or the score step) from the agreed state and compares the result with both
/// parties' leaves at `hi`.
///
/// Deadlines: a round, and the one-step phase, must be completed within `moveTimeout`
/// seconds of the moment it began (the opening or the previous bisection); both reveals of
/// a round share that deadline and a reveal does not move it. Moves are accepted until the
/// deadline (inclusive); after it only `timeout` is, which resolves against whoever has not
/// moved (a silent claimer before a silent challenger; in the one-step phase, the claimer).
///
/// Anyone may open a game: the caller is recorded as its `arbiter`, and a contract that acts
/// on outcomes (ComputeMarket) trusts only the games it opened itself.
contract DisputeGame {
    /// @notice A `rows × cols` Q16.16 tensor: `data` holds each value as a 4-byte
    /// big-endian two's-complement int32, row-major (`rows · cols · 4` bytes).
    struct Tensor {
        uint32 rows;
        uint32 cols;
        bytes data;
    }

    /// @notice Bisect: rounds of reveals; Step: waiting for the one-step proof.
    enum Phase {
        None,
        Bisect,
        Step,
        Resolved
    }

    /// @notice Who won a resolved game; Neither: the re-executed step matched neither party.
    enum Winner {
        None,
        Claimer,
        Challenger,
        Neither
    }

    /// @notice A game over `n = chunkCount · (layerCount + 1)` steps. `claimerMid` and
    /// `challengerMid` are the leaves revealed in the current round, meaningful only while the
    /// matching `…Revealed` flag is set.
    struct Game {
        address arbiter;
        Phase phase;
        Winner winner;
        bool claimerRevealed;
        bool challengerRevealed;
        uint32 layerCount;
        uint32 chunkCount;
        address claimer;
        uint64 lo;
        uint32 claimedCorrect;
        address challenger;
        uint64 hi;
        uint32 challengerCorrect;
        uint64 moveTimeout;
        uint64 deadline;
        bytes32 layersRoot;
        bytes32 evalRoot;
        bytes32 claimerTraceRoot;
        bytes32 challengerTraceRoot;
        /// The leaf both traces hold at `lo`.
        bytes32 agreed;
        /// The claimer's leaf at `hi`.
        bytes32 claimerHi;
        /// The challenger's leaf at `hi`.
        bytes32 challengerHi;
        bytes32 claimerMid;
        bytes32 challengerMid;
    }

    /// @notice What `open` takes: the two parties, the disputed model (layer count and
    /// root), the evaluation set (root and chunk count), both trace roots and final counts,
    /// and the seconds each move may take.
    struct GameParams {
        address claimer;
        address challenger;
        uint32 layerCount;
        bytes32 layersRoot;
        bytes32 evalRoot;
        uint32 chunkCount;
        bytes32 claimerTraceRoot;
        bytes32 challengerTraceRoot;
        uint32 claimedCorrect;
        uint32 challengerCorrect;
        uint64 moveTimeout;
    }

    /// @notice The one-step proof of step `s = lo` (chunk `c = s / (L + 1)`, position
    /// `l = s % (L + 1)`).
    struct StepProof {
        /// The agreed state `lo`: `stateLeaf(lo, actHash, correct)` must be the agreed leaf.
        bytes32 actHash;
        uint256 correct;
        /// The activation at `lo`, hashing to `actHash` (ignored when `l = 0`).
        Tensor act;
        /// Layer `l` (ignored when `l = L`): its operator, params and proof against the
        /// model's layer root.
        uint8 op;
        Tensor a;
        Tensor b;
        bytes32[] layerProof;
        /// Chunk `c`'s tensor hashes and proof against `evalRoot` (used when `l = 0` or
        /// `l = L`).
        bytes32 featuresHash;
        bytes32 labelsHash;
        bytes32[] chunkProof;
        /// Chunk `c`'s features (`l = 0`) or labels (`l = L`); ignored otherwise.
        Tensor chunk;
    }

    uint8 public constant OP_GEMM = 1;
    uint8 public constant OP_ADD = 2;
    uint8 public constant OP_MUL = 3;
    uint8 public constant OP_RELU = 4;
    uint8 public constant OP_SIGMOID = 5;
    /// @notice The `op` that `ShapeMismatch` reports for the score step.
    uint8 public constant SCORE_STEP = 0;

    /// @notice How many games exist; game ids are 1..gameCount.
    uint256 public gameCount;
    mapping(uint256 gameId => Game) private _games;

    /// @notice A game was opened by `arbiter` over `steps` steps.
    event GameOpened(
        uint256 indexed gameId,
        address indexed arbiter,
        address indexed claimer,
        address challenger,
        uint64 steps,
        uint32 claimedCorrect,
        uint32 challengerCorrect,
        uint64 deadline
    );
    /// @notice `party` revealed `leaf` as its state at `mid`.
    event LeafRevealed(uint256 indexed gameId, address indexed party, uint64 mid, bytes32 leaf);
    /// @notice Both parties revealed at the round's mid: the interval is now `(lo, hi)`.
    event Bisected(uint256 indexed gameId, uint64 lo, uint64 hi, uint64 deadline);
    /// @notice The one-step proof of step `step` computed `computed` as state `step + 1`.
    event Stepped(uint256 indexed gameId, uint64 step, bytes32 computed, address submitter);
    /// @notice The game was resolved for `winner`, by a timeout or by the one-step proof.
    event GameResolved(uint256 indexed gameId, Winner winner, bool byTimeout);

    /// @notice No game has this id.
    error UnknownGame(uint256 gameId);
    /// @notice The claimer and the challenger must be two distinct non-zero addresses.
    error InvalidParties(address claimer, address challenger);
    /// @notice A model has at least one layer.
    error InvalidLayerCount(uint32 layerCount);
    /// @notice An evaluation set has at least one chunk.
    error InvalidChunkCount(uint32 chunkCount);
    /// @notice The move timeout must be positive.
    error InvalidMoveTimeout(uint64 moveTimeout);
    /// @notice The challenger must claim another count than the claimer.
    error CountsAgree(uint32 count);
    /// @notice The game is not in the phase this call needs.
    error WrongPhase(uint256 gameId, Phase phase);
    /// @notice Only the game's claimer or challenger may reveal.
    error NotAParty(uint256 gameId, address caller);
    /// @notice `party` already revealed its leaf at `mid` in this round.
    error AlreadyRevealed(uint256 gameId, address party, uint64 mid);
    /// @notice The proof does not show `leaf` under the caller's trace root.
    error BadTraceProof(uint256 gameId, address party, bytes32 leaf);
    /// @notice Too late: the current move was due by `deadline`.
    error DeadlinePassed(uint256 gameId, uint64 deadline);
    /// @notice Too early: nobody is late before `deadline` has passed.
    error DeadlineNotReached(uint256 gameId, uint64 deadline);
    /// @notice The given state does not hash to the agreed leaf at `step`.
    error AgreedStateMismatch(uint256 step, bytes32 agreed, bytes32 given);
    /// @notice The activation tensor does not hash to the agreed state's `actHash`.
    error ActivationMismatch(bytes32 actHash, bytes32 given);
    /// @notice The layer is not leaf `layer` of the model's layer root.
    error BadLayerProof(uint256 layer);
    /// @notice The chunk's hashes are not leaf `chunk` of the evaluation root.
    error BadChunkProof(uint256 chunk);
    /// @notice The chunk tensor does not hash to the chunk's committed features or labels.
    error ChunkTensorMismatch(uint256 chunk, bytes32 expected, bytes32 given);
    /// @notice The tensors' shapes do not fit operator `op` (`SCORE_STEP` for the score step).
    error ShapeMismatch(uint8 op);
    /// @notice `op` is not an operator code (1 to 5).
    error UnknownOp(uint8 op);
    /// @notice A tensor's data is not `rows · cols · 4` bytes.
    error DataLengthMismatch(uint32 rows, uint32 cols, uint256 length);

    // ---------------------------------------------------------------- the game

    /// @notice Opens a game between `p.claimer`, whose trace (root `p.claimerTraceRoot`)
    /// ends with `p.claimedCorrect` correct answers, and `p.challenger`
    /// (`p.challengerTraceRoot`, `p.challengerCorrect`), over the model of `p.layerCount`
    /// layers with layer root `p.layersRoot` evaluated on the `p.chunkCount` chunks of
    /// `p.evalRoot`. The caller becomes the game's arbiter. Returns the game id (ids start
    /// at 1).
    function open(GameParams calldata p) external returns (uint256 gameId) {
        if (p.claimer == address(0) || p.challenger == address(0) || p.claimer == p.challenger) {
            revert InvalidParties(p.claimer, p.challenger);
        }
        if (p.layerCount == 0) revert InvalidLayerCount(p.layerCount);
        if (p.chunkCount == 0) revert InvalidChunkCount(p.chunkCount);
        if (p.moveTimeout == 0) revert InvalidMoveTimeout(p.moveTimeout);
        if (p.claimedCorrect == p.challengerCorrect) revert CountsAgree(p.claimedCorrect);
        // Both factors fit in 32 bits, so n fits in 64.
        uint64 n = uint64(p.chunkCount) * (uint64(p.layerCount) + 1);
        uint64 deadline = uint64(block.timestamp) + p.moveTimeout;
        gameId = ++gameCount;
        Game storage g = _games[gameId];
        g.arbiter = msg.sender;
        // n ≥ 2 (C ≥ 1, L ≥ 1), so there is always at least one round.
        g.phase = Phase.Bisect;
        g.layerCount = p.layerCount;
        g.chunkCount = p.chunkCount;
        g.claimer = p.claimer;
        g.claimedCorrect = p.claimedCorrect;
        g.challenger = p.challenger;
        g.hi = n;
        g.challengerCorrect = p.challengerCorrect;
        g.moveTimeout = p.moveTimeout;
        g.deadline = deadline;
        g.layersRoot = p.layersRoot;
        g.evalRoot = p.evalRoot;
        g.claimerTraceRoot = p.claimerTraceRoot;
        g.challengerTraceRoot = p.challengerTraceRoot;
        g.agreed = stateLeaf(0, bytes32(0), 0);
        g.claimerHi = stateLeaf(n, bytes32(0), p.claimedCorrect);
        g.challengerHi = stateLeaf(n, bytes32(0), p.challengerCorrect);
        emit GameOpened(gameId, msg.sender, p.claimer, p.challenger, n, p.claimedCorrect, p.challengerCorrect, deadline);
    }

    /// @notice The claimer or the challenger reveals `leaf`, its state leaf at the round's
    /// mid, with `proof` against its own trace root; once per party and round. The second
    /// reveal of a round bisects the interval and starts the next round (or the one-step
    /// phase, once `hi = lo + 1`).
    function reveal(uint256 gameId, bytes32 leaf, bytes32[] calldata proof) external {
        Game storage g = _game(gameId);
        if (g.phase != Phase.Bisect) revert WrongPhase(gameId, g.phase);
        if (block.timestamp > g.deadline) revert DeadlinePassed(gameId, g.deadline);
        uint64 m = (g.lo + g.hi) / 2;
        if (msg.sender == g.claimer) {
            if (g.claimerRevealed) revert AlreadyRevealed(gameId, msg.sender, m);
            if (!MerkleProof.verifyCalldata(proof, g.claimerTraceRoot, leaf)) {
                revert BadTraceProof(gameId, msg.sender, leaf);
            }
            g.claimerRevealed = true;
            g.claimerMid = leaf;
        } else if (msg.sender == g.challenger) {
            if (g.challengerRevealed) revert AlreadyRevealed(gameId, msg.sender, m);
            if (!MerkleProof.verifyCalldata(proof, g.challengerTraceRoot, leaf)) {
                revert BadTraceProof(gameId, msg.sender, leaf);
            }
            g.challengerRevealed = true;
            g.challengerMid = leaf;
        } else {
            revert NotAParty(gameId, msg.sender);
        }
        emit LeafRevealed(gameId, msg.sender, m, leaf);
        if (g.claimerRevealed && g.challengerRevealed) _bisect(gameId, g, m);
    }

    /// @notice Anyone submits the one-step proof of step `lo` in the one-step phase, before
    /// its deadline. The contract checks the agreed state, the activation, the layer and the
    /// chunk against their commitments, re-executes the step and resolves the game: the
    /// claimer wins if the computed state `lo + 1` is its leaf at `hi`, else the challenger
    /// if it is the challenger's, else neither party. Returns the winner.
    function step(uint256 gameId, StepProof calldata p) external returns (Winner winner) {
        Game storage g = _game(gameId);
        if (g.phase != Phase.Step) revert WrongPhase(gameId, g.phase);
        if (block.timestamp > g.deadline) revert DeadlinePassed(gameId, g.deadline);
        uint64 s = g.lo;
        bytes32 computed = _next(g, s, p);
        if (computed == g.claimerHi) winner = Winner.Claimer;
        else if (computed == g.challengerHi) winner = Winner.Challenger;
        else winner = Winner.Neither;
        emit Stepped(gameId, s, computed, msg.sender);
        _resolve(gameId, g, winner, false);
    }

    /// @notice After the current move's deadline, anyone resolves the game against the party
    /// that did not move: in a round, a claimer that has not revealed loses, else the
    /// challenger (which then has not revealed either); in the one-step phase, the claimer.
    function timeout(uint256 gameId) external returns (Winner winner) {
        Game storage g = _game(gameId);
        Phase phase = g.phase;
        if (phase != Phase.Bisect && phase != Phase.Step) revert WrongPhase(gameId, phase);
        if (block.timestamp <= g.deadline) revert DeadlineNotReached(gameId, g.deadline);
        if (phase == Phase.Step || !g.claimerRevealed) winner = Winner.Challenger;
        else winner = Winner.Claimer;
        _resolve(gameId, g, winner, true);
    }

    /// @notice The game `gameId`; reverts `UnknownGame` if there is none.
    function game(uint256 gameId) external view returns (Game memory) {
        return _game(gameId);
    }

    /// @notice Whether the game is resolved, and for whom (`Winner.None` while it is not).
    function outcome(uint256 gameId) external view returns (bool resolved, Winner winner) {
        Game storage g = _game(gameId);
        return (g.phase == Phase.Resolved, g.winner);
    }

    /// @notice The state index the current round reveals: `(lo + hi) / 2` (in the one-step
    /// phase, `lo`: the step to prove).
    function mid(uint256 gameId) external view returns (uint64) {
        Game storage g = _game(gameId);
        return (g.lo + g.hi) / 2;
    }

    // ---------------------------------------------------------------- encodings

    /// @notice `keccak256(abi.encodePacked(uint32 rows, uint32 cols, bytes data))`; reverts
    /// `DataLengthMismatch` unless `data` is `rows · cols · 4` bytes.
    function tensorHash(Tensor memory t) public pure returns (bytes32) {
        _checkData(t);
        return keccak256(abi.encodePacked(t.rows, t.cols, t.data));
    }

    /// @notice `keccak256(abi.encode(uint256 s, bytes32 actHash, uint256 correct))`.
    function stateLeaf(uint256 s, bytes32 actHash, uint256 correct) public pure returns (bytes32) {
        return keccak256(abi.encode(s, actHash, correct));
    }

    /// @notice `keccak256(abi.encode(uint256 i, uint8 op, bytes32 aHash, bytes32 bHash))`.
    function layerLeaf(uint256 i, uint8 op, bytes32 aHash, bytes32 bHash) public pure returns (bytes32) {
        return keccak256(abi.encode(i, op, aHash, bHash));
    }

    /// @notice `keccak256(abi.encode(uint256 c, bytes32 featuresHash, bytes32 labelsHash))`.
    function chunkLeaf(uint256 c, bytes32 featuresHash, bytes32 labelsHash) public pure returns (bytes32) {
        return keccak256(abi.encode(c, featuresHash, labelsHash));
    }

    /// @notice `keccak256(abi.encode(uint256 layerCount, bytes32 layersRoot))`.
    function modelHash(uint256 layerCount, bytes32 layersRoot) public pure returns (bytes32) {
        return keccak256(abi.encode(layerCount, layersRoot));
    }

    // ---------------------------------------------------------------- the runtime

    /// @notice Applies operator `op` with params `a`, `b` to `x` (docs/compute.md,
    /// "Operators"): GEMM (1), ADD (2), MUL (3), RELU (4), SIGMOID (5). Products and sums
    /// are exact in int256 and saturated to int32 once per output value. Reverts
    /// `ShapeMismatch` for shapes the operator does not take, `UnknownOp` for another code.
    function applyLayer(uint8 op, Tensor memory x, Tensor memory a, Tensor memory b)
        public
        pure
        returns (Tensor memory)
    {
        _checkData(x);
        _checkData(a);
        _checkData(b);
        if (op == OP_GEMM) {
            if (x.cols != a.rows || b.rows != 1 || b.cols != a.cols) revert ShapeMismatch(op);
            return Tensor(x.rows, a.cols, _gemm(x.data, a.data, b.data, x.rows, x.cols, a.cols));
        }
        if (op == OP_ADD || op == OP_MUL) {
            if (a.rows != 1 || a.cols != x.cols || !_isEmpty(b)) revert ShapeMismatch(op);
        } else if (op == OP_RELU || op == OP_SIGMOID) {
            if (!_isEmpty(a) || !_isEmpty(b)) revert ShapeMismatch(op);
        } else {
            revert UnknownOp(op);
        }
        return Tensor(x.rows, x.cols, _elementwise(op, x.data, a.data, x.cols));
    }

    /// @notice The score step: how many rows of `logits` (`R × C`, `C ≥ 1`) have their
    /// predicted class (the lowest column holding the row's largest value) equal to their
    /// label (`labels` is `R × 1`, class ids as plain integers).
    function scoreStep(Tensor memory logits, Tensor memory labels) public pure returns (uint256 count) {
        _checkData(logits);
        _checkData(labels);
        if (logits.cols == 0 || labels.cols != 1 || labels.rows != logits.rows) revert ShapeMismatch(SCORE_STEP);
        bytes memory ld = logits.data;
        bytes memory yd = labels.data;
        uint256 rows = logits.rows;
        uint256 cols = logits.cols;
        // Reads only: value i of a tensor is the top 4 bytes of the word at data + 32 + 4i,
        // sign-extended by `sar(224, ·)`. Reading up to 28 bytes past the data is harmless.
        assembly ("memory-safe") {
            let lp := add(ld, 32)
            let yp := add(yd, 32)
            let c4 := shl(2, cols)
            for { let r := 0 } lt(r, rows) { r := add(r, 1) } {
                let best := 0
                let bestV := sar(224, mload(lp))
                for { let j := 4 } lt(j, c4) { j := add(j, 4) } {
                    let v := sar(224, mload(add(lp, j)))
                    if sgt(v, bestV) {
                        bestV := v
                        best := shr(2, j)
                    }
                }
                // A negative label sign-extends to a word no column index equals.
                if eq(sar(224, mload(add(yp, shl(2, r)))), best) { count := add(count, 1) }
                lp := add(lp, c4)
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _game(uint256 gameId) private view returns (Game storage g) {
        g = _games[gameId];
        if (g.phase == Phase.None) revert UnknownGame(gameId);
    }

    /// @dev Both leaves at `m` are in: moves the interval and starts the next phase.
    function _bisect(uint256 gameId, Game storage g, uint64 m) private {
        bytes32 leaf = g.claimerMid;
        if (leaf == g.challengerMid) {
            g.lo = m;
            g.agreed = leaf;
        } else {
            g.hi = m;
            g.claimerHi = leaf;
            g.challengerHi = g.challengerMid;
        }
        g.claimerRevealed = false;
        g.challengerRevealed = false;
        uint64 deadline = uint64(block.timestamp) + g.moveTimeout;
        g.deadline = deadline;
        // hi > lo always holds, so this is hi == lo + 1.
        if (g.hi <= g.lo + 1) g.phase = Phase.Step;
        emit Bisected(gameId, g.lo, g.hi, deadline);
    }

    function _resolve(uint256 gameId, Game storage g, Winner winner, bool byTimeout) private {
        g.phase = Phase.Resolved;
        g.winner = winner;
        emit GameResolved(gameId, winner, byTimeout);
    }

    /// @dev State leaf `s + 1`, computed from the one-step proof of step `s`.
    function _next(Game storage g, uint64 s, StepProof calldata p) private view returns (bytes32) {
        bytes32 agreedLeaf = stateLeaf(s, p.actHash, p.correct);
        if (agreedLeaf != g.agreed) revert AgreedStateMismatch(s, g.agreed, agreedLeaf);
        uint256 layers = g.layerCount;
        uint256 c = s / (layers + 1);
        uint256 l = s % (layers + 1);
        if (l == layers) {
            Tensor memory logits = _activation(p);
            Tensor memory labels = _chunkTensor(g.evalRoot, c, p, p.labelsHash);
            return stateLeaf(s + 1, bytes32(0), p.correct + scoreStep(logits, labels));
        }
        Tensor memory x = l == 0 ? _chunkTensor(g.evalRoot, c, p, p.featuresHash) : _activation(p);
        Tensor memory a = p.a;
        Tensor memory b = p.b;
        bytes32 leaf = layerLeaf(l, p.op, tensorHash(a), tensorHash(b));
        if (!MerkleProof.verifyCalldata(p.layerProof, g.layersRoot, leaf)) revert BadLayerProof(l);
        return stateLeaf(s + 1, tensorHash(applyLayer(p.op, x, a, b)), p.correct);
    }

    /// @dev The proof's activation, checked against the agreed state's `actHash`.
    function _activation(StepProof calldata p) private pure returns (Tensor memory act) {
        act = p.act;
        bytes32 h = tensorHash(act);
        if (h != p.actHash) revert ActivationMismatch(p.actHash, h);
    }

    /// @dev The proof's chunk tensor, checked against `expected` (its features or labels
    /// hash), with the chunk's hashes checked against the evaluation root.
    function _chunkTensor(bytes32 evalRoot, uint256 c, StepProof calldata p, bytes32 expected)
        private
        pure
        returns (Tensor memory t)
    {
        if (!MerkleProof.verifyCalldata(p.chunkProof, evalRoot, chunkLeaf(c, p.featuresHash, p.labelsHash))) {
            revert BadChunkProof(c);
        }
        t = p.chunk;
        bytes32 h = tensorHash(t);
        if (h != expected) revert ChunkTensorMismatch(c, expected, h);
    }

    function _isEmpty(Tensor memory t) private pure returns (bool) {
        return t.rows == 0 && t.cols == 0;
    }

    function _checkData(Tensor memory t) private pure {
        if (t.data.length != uint256(t.rows) * t.cols * 4) revert DataLengthMismatch(t.rows, t.cols, t.data.length);
    }

    /// @dev A `bytes` of `len` bytes whose contents the caller writes, followed by one spare
    /// word: the writers store each 4-byte value with a whole-word `mstore`, whose 28
    /// trailing bytes spill into the next values (overwritten next) and, after the last
    /// value, into that spare word (zeros, and inside the allocation).
    function _alloc(uint256 len) private pure returns (bytes memory out) {
        assembly ("memory-safe") {
            out := mload(0x40)
            mstore(out, len)
            mstore(0x40, add(add(out, 64), and(add(len, 31), not(31))))
        }
    }

    /// @dev GEMM of `x` (`rows × k`) by `w` (`k × n`) plus `bias` (`1 × n`); the shapes and
    /// lengths were checked by the caller.
    function _gemm(bytes memory x, bytes memory w, bytes memory bias, uint256 rows, uint256 k, uint256 n)
        private
        pure
        returns (bytes memory out)
    {
        out = _alloc(rows * n * 4);
        // Value i of a tensor is the top 4 bytes of the word at data + 32 + 4i; `sar(224, ·)`
        // sign-extends it to int256. Products of two int32 (< 2^62) and their sums over k
        // (k < 2^32) are exact in int256, where EVM `mul`/`add` on two's-complement words
        // are the signed operations. `sar(16, acc + 2^15)` is the doc's rounding shift (an
        // arithmetic shift, toward −∞). `sat` clamps to int32 once per output value, and
        // `shl(224, ·)` keeps its low 32 bits (two's complement) as the value's 4 bytes.
        assembly ("memory-safe") {
            function sat(v) -> r {
                r := v
                if sgt(v, 0x7fffffff) { r := 0x7fffffff }
                // not(0x7fffffff) is -2^31.
                if slt(v, not(0x7fffffff)) { r := not(0x7fffffff) }
            }
            let wp := add(w, 32)
            let bp := add(bias, 32)
            let o := add(out, 32)
            let k4 := shl(2, k)
            let n4 := shl(2, n)
            let n8 := shl(1, n4)
            // The inner loop takes two values of the row per turn (both from one `mload`):
            // `xPairs` ends the even part of the row; an odd last value is added after it.
            let pairBytes := and(k4, not(7))
            let odd := and(k, 1)
            let xRow := add(x, 32)
            for { let r := 0 } lt(r, rows) { r := add(r, 1) } {
                let xEnd := add(xRow, k4)
                let xPairs := add(xRow, pairBytes)
                for { let j := 0 } lt(j, n4) { j := add(j, 4) } {
                    let acc := 0
                    let wq := add(wp, j)
                    for { let xq := xRow } lt(xq, xPairs) { xq := add(xq, 8) } {
                        let xw := mload(xq)
                        acc := add(acc, mul(sar(224, xw), sar(224, mload(wq))))
                        acc := add(acc, mul(sar(224, shl(32, xw)), sar(224, mload(add(wq, n4)))))
                        wq := add(wq, n8)
                    }
                    // The last value of an odd row: x at xPairs, W's row k - 1 at wq.
                    if odd { acc := add(acc, mul(sar(224, mload(xPairs)), sar(224, mload(wq)))) }
                    acc := add(sar(16, add(acc, 0x8000)), sar(224, mload(add(bp, j))))
                    mstore(o, shl(224, sat(acc)))
                    o := add(o, 4)
                }
                xRow := xEnd
            }
        }
    }

    /// @dev ADD, MUL (with the `1 × cols` constant `c`), RELU or SIGMOID of `x`, which has
    /// `cols` columns; shapes and lengths were checked by the caller.
    function _elementwise(uint8 op, bytes memory x, bytes memory c, uint256 cols)
        private
        pure
        returns (bytes memory out)
    {
        uint256 len = x.length;
        out = _alloc(len);
        // Decoding, exact int256 arithmetic, rounding and saturation as in `_gemm`; `op` is 2
        // to 5 (checked by the caller). The row loops of ADD and MUL advance by `cols · 4`
        // bytes, which is positive whenever `len` is: `len` is `rows · cols · 4`.
        assembly ("memory-safe") {
            function sat(v) -> r {
                r := v
                if sgt(v, 0x7fffffff) { r := 0x7fffffff }
                if slt(v, not(0x7fffffff)) { r := not(0x7fffffff) }
            }
            // PLAN on a = |v| (at most 2^31, so the logical shifts are the arithmetic ones).
            function sigmoid(v) -> y {
                let a := v
                if slt(v, 0) { a := sub(0, v) }
                y := 65536
                if lt(a, 327680) {
                    switch lt(a, 65536)
                    case 1 { y := add(shr(2, a), 32768) }
                    default {
                        switch lt(a, 155648)
                        case 1 { y := add(shr(3, a), 40960) }
                        default { y := add(shr(5, a), 55296) }
                    }
                }
                if slt(v, 0) { y := sub(65536, y) }
            }
            let xp := add(x, 32)
            let end := add(xp, len)
            let o := add(out, 32)
            // One loop per operator, so the operator is not dispatched per value. ADD and MUL
            // walk the constant row alongside each row of x: `j` is the byte offset in the row.
            switch op
            case 2 {
                let cp := add(c, 32)
                let c4 := shl(2, cols)
                for {} lt(xp, end) {} {
                    for { let j := 0 } lt(j, c4) { j := add(j, 4) } {
                        let v := add(sar(224, mload(add(xp, j))), sar(224, mload(add(cp, j))))
                        mstore(add(o, j), shl(224, sat(v)))
                    }
                    xp := add(xp, c4)
                    o := add(o, c4)
                }
            }
            case 3 {
                let cp := add(c, 32)
                let c4 := shl(2, cols)
                for {} lt(xp, end) {} {
                    for { let j := 0 } lt(j, c4) { j := add(j, 4) } {
                        let v := mul(sar(224, mload(add(xp, j))), sar(224, mload(add(cp, j))))
                        mstore(add(o, j), shl(224, sat(sar(16, add(v, 0x8000)))))
                    }
                    xp := add(xp, c4)
                    o := add(o, c4)
                }
            }
            case 4 {
                for {} lt(xp, end) {
                    xp := add(xp, 4)
                    o := add(o, 4)
                } {
                    let v := sar(224, mload(xp))
                    if slt(v, 0) { v := 0 }
                    mstore(o, shl(224, v))
                }
            }
            default {
                for {} lt(xp, end) {
                    xp := add(xp, 4)
                    o := add(o, 4)
                } { mstore(o, shl(224, sigmoid(sar(224, mload(xp))))) }
            }
        }
    }
}
