// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title AuditAnchor
/// @notice Anchors checkpoints of Alara audit logs (RFC 6962/9162 Merkle trees). A log's
/// registered signer may anchor a new (size, root) only together with a consistency proof
/// from the last anchored one, so once anchored the log can neither fork nor rewrite its
/// history. Anyone can check an inclusion proof against the latest anchor.
/// @dev Hashing follows RFC 9162: node = SHA-256(0x01 || left || right), via the SHA-256
/// precompile, in assembly loops (about 230 gas per hash). Storage per log: one slot (signer, size), one slot (root), one slot
/// (Ed25519 note key, written once), so an anchor rewrites two warm slots.
contract AuditAnchor {
    struct Log {
        address signer;
        uint64 size;
        bytes32 root;
        bytes32 noteKey;
    }

    mapping(bytes32 logId => Log) private _logs;

    /// @notice A log was registered: `signer` may anchor it; `noteKey` is the Ed25519 key
    /// that signs its checkpoints (C2SP signed notes).
    event LogRegistered(bytes32 indexed logId, address indexed signer, bytes32 noteKey);
    /// @notice The log's signer changed.
    event SignerChanged(bytes32 indexed logId, address indexed signer);
    /// @notice A checkpoint was anchored.
    event Anchored(bytes32 indexed logId, uint64 treeSize, bytes32 rootHash);

    /// @notice The log id is already registered.
    error LogExists(bytes32 logId);
    /// @notice No such log.
    error UnknownLog(bytes32 logId);
    /// @notice Only the log's registered signer may do this.
    error NotSigner(bytes32 logId, address caller);
    /// @notice The new tree is not larger than the anchored one (also refuses anchoring the
    /// same checkpoint twice).
    error NotNewer(uint64 anchoredSize, uint64 treeSize);
    /// @notice The first anchor of a log carries no consistency proof.
    error UnexpectedProof();
    /// @notice The consistency proof does not prove the anchored tree a prefix of the new one.
    error InconsistentCheckpoint(uint64 anchoredSize, uint64 treeSize);
    /// @notice The zero address cannot sign.
    error ZeroSigner();

    /// @notice The id a signer gets for a note key: keccak256(abi.encode(signer, noteKey)).
    function logIdOf(address signer, bytes32 noteKey) public pure returns (bytes32) {
        return keccak256(abi.encode(signer, noteKey));
    }

    /// @notice Registers a log signed by `noteKey` with the caller as its anchoring signer.
    function registerLog(bytes32 noteKey) external returns (bytes32 logId) {
        logId = logIdOf(msg.sender, noteKey);
        if (_logs[logId].signer != address(0)) revert LogExists(logId);
        _logs[logId] = Log({signer: msg.sender, size: 0, root: bytes32(0), noteKey: noteKey});
        emit LogRegistered(logId, msg.sender, noteKey);
    }

    /// @notice Hands anchoring of `logId` to `newSigner`.
    function setSigner(bytes32 logId, address newSigner) external {
        Log storage log = _logs[logId];
        if (log.signer != msg.sender) revert NotSigner(logId, msg.sender);
        if (newSigner == address(0)) revert ZeroSigner();
        log.signer = newSigner;
        emit SignerChanged(logId, newSigner);
    }

    /// @notice Anchors checkpoint (treeSize, rootHash) of `logId`, proven consistent with the
    /// last anchored checkpoint by `consistencyProof` (RFC 9162 §2.1.4; empty for the first).
    function anchor(bytes32 logId, uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external {
        Log storage log = _logs[logId];
        address signer = log.signer;
        uint64 oldSize = log.size;
        if (signer != msg.sender) revert NotSigner(logId, msg.sender);
        if (treeSize <= oldSize) revert NotNewer(oldSize, treeSize);
        if (oldSize == 0) {
            if (consistencyProof.length != 0) revert UnexpectedProof();
        } else if (!_consistent(oldSize, treeSize, log.root, rootHash, consistencyProof)) {
            revert InconsistentCheckpoint(oldSize, treeSize);
        }
        log.size = treeSize;
        log.root = rootHash;
        emit Anchored(logId, treeSize, rootHash);
    }

    /// @notice True iff `proof` shows `leafHash` at `index` in the tree (treeSize, root) and
    /// that tree is the latest anchored checkpoint of `logId`.
    function verifyInclusion(
        bytes32 logId,
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32 root,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Log storage log = _logs[logId];
        if (log.size != treeSize || log.root != root || treeSize == 0) return false;
        return _included(leafHash, index, treeSize, root, proof);
    }

    /// @notice The latest anchored checkpoint of `logId` (size 0 before the first anchor).
    function latest(bytes32 logId) external view returns (uint64 treeSize, bytes32 rootHash) {
        Log storage log = _logs[logId];
        if (log.signer == address(0)) revert UnknownLog(logId);
        return (log.size, log.root);
    }

    /// @notice Signer and note key of `logId`.
    function logInfo(bytes32 logId) external view returns (address signer, bytes32 noteKey) {
        Log storage log = _logs[logId];
        if (log.signer == address(0)) revert UnknownLog(logId);
        return (log.signer, log.noteKey);
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

    /// @dev RFC 9162 §2.1.4.2 in assembly, for 0 < first < second.
    function _consistent(uint256 first, uint256 second, bytes32 firstHash, bytes32 secondHash, bytes32[] calldata proof)
        private
        view
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let off := proof.offset
            let end := add(off, shl(5, proof.length))
            if lt(off, end) {
                let fr := firstHash
                if and(first, sub(first, 1)) {
                    fr := calldataload(off)
                    off := add(off, 32)
                }
                let sr := fr
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
                ok := and(ok, and(iszero(sn), and(eq(fr, firstHash), eq(sr, secondHash))))
            }
        }
    }
}
