// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title AuditAnchor
/// @notice Anchors checkpoints of Alara audit logs (RFC 6962/9162 Merkle trees). A log is
/// identified by its anchoring account: `registerLog` binds the caller to the Ed25519 key
/// that signs the log's checkpoints, and only that account can ever anchor the log. A key
/// names at most one log (`logOfKey`), and an account at most one log, for good. A new
/// checkpoint is accepted only with a consistency proof from the last anchored one, so once
/// anchored the log can neither fork nor rewrite its history. Anyone can check an inclusion
/// proof against the latest anchor.
/// @dev There is deliberately no way to hand a log to another account or to unregister
/// one. A log's state never returns to "unknown", so its account can never register again
/// and start over with a first anchor (trust on first use) from a rewritten history; and
/// the anchoring account is part of what the log's key signs (Alara's anchored checkpoints
/// carry an `alara-anchor <chain> <contract> <account>` line), so moving a log would either
/// break every receipt issued before the move or make verifiers follow a chain of moves.
/// A log that must change accounts starts a new log (new key and origin) and anchors that.
/// Registration does not prove possession of the Ed25519 key: whoever registers a key first
/// holds it here. A squatter gains nothing a verifier accepts (the log's own signed
/// checkpoints name its account, and verifiers pin the contract and the key), but it blocks
/// the real log from this contract, which then anchors a new key or in a new deployment.
///
/// Gas is the point of the layout (the goal is a whole anchor transaction with a
/// 30-hash consistency proof under 60k gas, calldata and EIP-7623's floor included):
/// - The new root is not sent: the RFC 9162 consistency check computes both the old and the
///   new root from the proof, so the contract checks the old one and keeps the new one.
/// - `anchor` takes packed calldata (`ANCHOR_TAG ‖ uint64 oldSize ‖ uint64 newSize ‖
///   32-byte hashes`) through the fallback: no ABI offset and length words, no log id.
/// - A log's state is ONE slot (numbered by the signer's address), `keccak256(uint64 size ‖ bytes32 root)` of the latest
///   anchor, so an anchor writes one warm slot. The caller states the old size; the
///   commitment binds it (truncating the root to fit the size beside it would leave only
///   96-bit collision resistance, letting the log's owner prepare two histories for one
///   anchor). The size and root themselves are in the `Anchored` event and in calldata.
/// - `Anchored` is anonymous with the signer as its only topic: filters select one log's
///   anchors by `topic0 = signer` (and the contract's address) for 375 gas less than a
///   signature topic plus an indexed signer would cost. No other event of this contract
///   is anonymous, and a signature topic is never a zero-padded address, so the filter
///   matches nothing else.
/// Hashing follows RFC 9162: node = SHA-256(0x01 || left || right), via the SHA-256
/// precompile in assembly loops.
contract AuditAnchor {
    /// @notice First four bytes of a packed anchor call (the selector of
    /// `anchorPacked(bytes)`, a function that is not otherwise declared).
    bytes4 public constant ANCHOR_TAG = bytes4(keccak256("anchorPacked(bytes)"));

    // Each log's state, keccak256(abi.encodePacked(uint64 size, bytes32 root)) of its latest
    // anchor (keccak256(uint64 0 ‖ bytes32 0) once registered, zero when unknown), lives in
    // the storage slot numbered by the signer's address: no slot hashing on the hot path,
    // and no collision with the mappings below (their slots are keccak256 outputs; their
    // base slots 0 and 1 belong to addresses nobody can sign for).

    /// @dev Ed25519 public key of each log's checkpoint signatures.
    mapping(address signer => bytes32) private _noteKey;
    /// @notice The anchoring account of the log whose checkpoints `noteKey` signs (zero when
    /// the key is not registered). A key is registered at most once, for good.
    mapping(bytes32 noteKey => address signer) public logOfKey;

    /// @notice `signer` registered a log whose checkpoints are signed by `noteKey`.
    event LogRegistered(address indexed signer, bytes32 noteKey);
    /// @notice A checkpoint of the log of `signer` was anchored. Anonymous: its only topic
    /// is `signer`, so a scan for one log's anchors filters on `topic0 = signer`.
    event Anchored(address indexed signer, uint64 treeSize, bytes32 rootHash) anonymous;

    /// @notice The account already has a log.
    error LogExists(address signer);
    /// @notice The caller has no registered log, so it may not anchor.
    error NotSigner(address caller);
    /// @notice No log is registered for `signer`.
    error UnknownLog(address signer);
    /// @notice The new tree is not larger than the stated old one (a shrinking tree).
    error NotNewer(uint64 anchoredSize, uint64 treeSize);
    /// @notice This exact checkpoint is already the latest anchor (a replay).
    error AlreadyAnchored(uint64 treeSize);
    /// @notice The proof does not show the latest anchored checkpoint (of the stated old
    /// size) to be a prefix of the new tree: a fork, a rewrite, or a stale old size.
    error InconsistentCheckpoint(uint64 anchoredSize, uint64 treeSize);
    /// @notice Packed anchor calldata of the wrong shape, or a call to no function.
    error BadCalldata();
    /// @notice `noteKey` already names the log of `signer` (a key names one log).
    error KeyTaken(bytes32 noteKey, address signer);
    /// @notice The zero key is not an Ed25519 key (and would read as "not registered").
    error ZeroKey();

    /// @notice The commitment the contract keeps for a checkpoint.
    function stateOf(uint64 treeSize, bytes32 rootHash) public pure returns (bytes32 s) {
        assembly ("memory-safe") {
            mstore(0, shl(192, treeSize))
            mstore(8, rootHash)
            s := keccak256(0, 40)
        }
    }

    function _state(address signer) private view returns (bytes32 s) {
        assembly ("memory-safe") {
            s := sload(signer)
        }
    }

    function _setState(address signer, bytes32 s) private {
        assembly ("memory-safe") {
            sstore(signer, s)
        }
    }

    /// @notice Registers a log of the caller whose checkpoints are signed by `noteKey`. An
    /// account registers once and a key is registered once, for good (see the contract's
    /// notes on why a log cannot move).
    function registerLog(bytes32 noteKey) external {
        if (_state(msg.sender) != 0) revert LogExists(msg.sender);
        if (noteKey == 0) revert ZeroKey();
        address holder = logOfKey[noteKey];
        if (holder != address(0)) revert KeyTaken(noteKey, holder);
        _setState(msg.sender, stateOf(0, 0));
        _noteKey[msg.sender] = noteKey;
        logOfKey[noteKey] = msg.sender;
        emit LogRegistered(msg.sender, noteKey);
    }

    /// @notice Anchors a checkpoint of the caller's log. Calldata (packed, no ABI words):
    /// `ANCHOR_TAG ‖ uint64 oldSize ‖ uint64 newSize ‖ hashes`, where oldSize is the latest
    /// anchored size and `hashes` is
    /// - for the first anchor (oldSize 0): the new root alone;
    /// - when oldSize is a power of two: the old root followed by the RFC 9162 consistency
    ///   proof (RFC 9162 §2.1.4.2 prepends it too);
    /// - otherwise: the RFC 9162 consistency proof.
    /// The new root is the one the proof yields; it is emitted in `Anchored`.
    fallback() external {
        uint256 oldSize;
        uint256 newSize;
        bool shaped;
        bytes4 tag = ANCHOR_TAG;
        assembly ("memory-safe") {
            let sizes := calldataload(4)
            oldSize := shr(192, sizes)
            newSize := and(shr(128, sizes), 0xffffffffffffffff)
            let n := calldatasize()
            shaped := and(
                eq(shr(224, calldataload(0)), shr(224, tag)),
                and(gt(n, 51), iszero(and(sub(n, 20), 31)))
            )
        }
        if (!shaped) revert BadCalldata();
        bytes32 s = _state(msg.sender);
        if (s == 0) revert NotSigner(msg.sender);
        if (newSize <= oldSize) revert NotNewer(uint64(oldSize), uint64(newSize));
        (bool ok, bytes32 oldRoot, bytes32 newRoot) = _consistent(oldSize, newSize, 20, msg.data.length);
        if (!ok || stateOf(uint64(oldSize), oldRoot) != s) {
            if (ok && stateOf(uint64(newSize), newRoot) == s) revert AlreadyAnchored(uint64(newSize));
            revert InconsistentCheckpoint(uint64(oldSize), uint64(newSize));
        }
        assembly ("memory-safe") {
            mstore(0, shl(192, newSize))
            mstore(8, newRoot)
            sstore(caller(), keccak256(0, 40))
            // Anchored(signer indexed, treeSize, rootHash), anonymous: the data words fit
            // the scratch space.
            mstore(0, newSize)
            mstore(32, newRoot)
            log1(0, 64, caller())
        }
    }

    /// @notice True iff `proof` shows `leafHash` at `index` in the tree (treeSize, root) and
    /// that tree is the latest anchored checkpoint of the log of `signer`.
    function verifyInclusion(
        address signer,
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32 root,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (treeSize == 0 || _state(signer) != stateOf(treeSize, root)) return false;
        return _included(leafHash, index, treeSize, root, proof);
    }

    /// @notice True iff (treeSize, rootHash) is the latest anchored checkpoint of `signer`'s log.
    function isLatest(address signer, uint64 treeSize, bytes32 rootHash) external view returns (bool) {
        bytes32 s = _state(signer);
        if (s == 0) revert UnknownLog(signer);
        return s == stateOf(treeSize, rootHash);
    }

    /// @notice The note key of `signer`'s log.
    function noteKeyOf(address signer) external view returns (bytes32) {
        if (_state(signer) == 0) revert UnknownLog(signer);
        return _noteKey[signer];
    }

    /// @dev RFC 9162 §2.1.3.2 in assembly: one SHA-256 precompile call per proof hash.
    /// Scratch memory past the free-memory pointer holds `0x01 || left || right`; the
    /// running hash lives at p+1 so the common case rewrites only one word.
    function _included(bytes32 leaf, uint256 fn, uint256 size, bytes32 root, bytes32[] calldata proof)
        private
        view
        returns (bool ok)
    {
        assembly ("memory-safe") {
            if lt(fn, size) {
                let sn := sub(size, 1)
                let p := mload(0x40)
                mstore8(p, 1)
                mstore(add(p, 1), leaf)
                let off := proof.offset
                let end := add(off, shl(5, proof.length))
                ok := 1
                for {} lt(off, end) { off := add(off, 32) } {
                    if iszero(sn) {
                        ok := 0
                        break
                    }
                    let c := calldataload(off)
                    switch or(and(fn, 1), eq(fn, sn))
                    case 0 { mstore(add(p, 33), c) }
                    default {
                        mstore(add(p, 33), mload(add(p, 1)))
                        mstore(add(p, 1), c)
                        if iszero(and(fn, 1)) {
                            for {} and(iszero(and(fn, 1)), gt(fn, 0)) {} {
                                fn := shr(1, fn)
                                sn := shr(1, sn)
                            }
                        }
                    }
                    if iszero(staticcall(gas(), 2, p, 65, add(p, 1), 32)) { revert(0, 0) }
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                ok := and(ok, and(iszero(sn), eq(mload(add(p, 1)), root)))
            }
        }
    }

    /// @dev RFC 9162 §2.1.4.2 in assembly over the calldata hashes in [off, end), for
    /// first < second, returning the two roots the proof yields. For first == 0 the
    /// single hash is the new root and the old root is zero.
    function _consistent(uint256 first, uint256 second, uint256 off, uint256 end)
        private
        view
        returns (bool ok, bytes32 fr, bytes32 sr)
    {
        assembly ("memory-safe") {
            switch first
            case 0 {
                ok := eq(sub(end, off), 32)
                sr := calldataload(off)
            }
            default {
                // A power-of-two first size starts with the old root (prepended), others
                // with the first proof hash: either way the first hash seeds both roots.
                fr := calldataload(off)
                off := add(off, 32)
                sr := fr
                let fn := sub(first, 1)
                let sn := sub(second, 1)
                for {} and(fn, 1) {} {
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                let p := mload(0x40)
                mstore8(p, 1)
                ok := 1
                for {} lt(off, end) { off := add(off, 32) } {
                    if iszero(sn) {
                        ok := 0
                        break
                    }
                    let c := calldataload(off)
                    switch or(and(fn, 1), eq(fn, sn))
                    case 0 {
                        mstore(add(p, 1), sr)
                        mstore(add(p, 33), c)
                        if iszero(staticcall(gas(), 2, p, 65, 0, 32)) { revert(0, 0) }
                        sr := mload(0)
                    }
                    default {
                        mstore(add(p, 1), c)
                        mstore(add(p, 33), fr)
                        if iszero(staticcall(gas(), 2, p, 65, 0, 32)) { revert(0, 0) }
                        fr := mload(0)
                        mstore(add(p, 33), sr)
                        if iszero(staticcall(gas(), 2, p, 65, 0, 32)) { revert(0, 0) }
                        sr := mload(0)
                        if iszero(and(fn, 1)) {
                            for {} and(iszero(and(fn, 1)), gt(fn, 0)) {} {
                                fn := shr(1, fn)
                                sn := shr(1, sn)
                            }
                        }
                    }
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                ok := and(ok, iszero(sn))
            }
        }
    }
}
