// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ModelRegistry} from "./ModelRegistry.sol";
import {RevenueSplit} from "./RevenueSplit.sol";

/// @title InferenceChannels
/// @notice Pay-per-inference through unidirectional payment channels, in the style of
/// SingularityNET's Multi-Party Escrow. A client (the sender) opens a channel on one version
/// of a model, depositing value in the model's token, and names a signer (its own key, a
/// session key, or an ERC-1271 contract wallet). For each call it sends the server a voucher
/// signed by that signer (EIP-712, domain "AlaraInferenceChannels" / "1"):
/// `Voucher(uint256 channelId,uint64 nonce,uint256 amount,bytes32 prevReceipt)`, where
/// `amount` is cumulative since the last claim and `prevReceipt` is the EIP-712 struct hash of
/// the receipt of the previous call, `CallReceipt(bytes32 model,bytes32 input,bytes32 output)`
/// (model = SHA-256 of the model file, input/output = the audit log's salted SHA-256
/// commitments; bytes32(0) for the first call of a nonce). Payment is thereby bound to
/// receipted work: a voucher pays for the calls up to and including the one it acknowledges.
///
/// The model's owner settles any number of calls with one `claim` of the latest voucher; its
/// gas does not depend on how many calls it covers. A claim moves the channel's nonce on, so
/// every voucher of the old nonce is dead (no replay), and splits the amount between the
/// version's parents and the owner (see RevenueSplit). Claims are possible only while
/// `block.timestamp < expiry`, the sender's refund only when `block.timestamp >= expiry`: the
/// two can never both succeed. All money leaves by `withdraw` (pull payments).
contract InferenceChannels is RevenueSplit, EIP712 {
    /// @notice A channel. `nonce` counts claims; `value` is what is still deposited.
    struct Channel {
        address sender;
        address signer;
        uint256 modelId;
        uint32 version;
        address token;
        uint64 nonce;
        uint64 expiry;
        uint256 value;
    }

    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(uint256 channelId,uint64 nonce,uint256 amount,bytes32 prevReceipt)");
    bytes32 public constant CALL_RECEIPT_TYPEHASH = keccak256("CallReceipt(bytes32 model,bytes32 input,bytes32 output)");
    /// @notice The longest a channel may run from now, at opening or extension.
    uint64 public constant MAX_DURATION = 365 days;

    /// @notice How many channels exist; channel ids are 1..channelCount.
    uint256 public channelCount;
    mapping(uint256 channelId => Channel) private _channels;
    /// @notice Whether a channel was closed (by a final claim or the refund).
    mapping(uint256 channelId => bool) public closed;

    /// @notice A channel was opened with `value` deposited.
    event Opened(
        uint256 indexed channelId,
        address indexed sender,
        uint256 indexed modelId,
        uint32 version,
        address signer,
        address token,
        uint256 value,
        uint64 expiry
    );
    /// @notice The sender added `amount`; the channel now holds `value`.
    event ToppedUp(uint256 indexed channelId, uint256 amount, uint256 value);
    /// @notice The sender moved the expiry to `expiry`.
    event Extended(uint256 indexed channelId, uint64 expiry);
    /// @notice The owner claimed `amount` with the voucher of `nonce`, acknowledging the call
    /// whose receipt hash is `prevReceipt`.
    event Claimed(uint256 indexed channelId, uint64 nonce, uint256 amount, bytes32 prevReceipt, bool keepOpen);
    /// @notice One credit of a claim's split.
    event Paid(uint256 indexed channelId, address indexed payee, uint256 amount);
    /// @notice The channel closed; `refunded` was credited back to the sender.
    event ChannelClosed(uint256 indexed channelId, uint256 refunded);

    /// @notice No channel has this id.
    error UnknownChannel(uint256 channelId);
    /// @notice The channel was closed.
    error ChannelIsClosed(uint256 channelId);
    /// @notice Only the channel's sender may do this.
    error NotSender(address caller, address sender);
    /// @notice Only the model's current owner may claim.
    error NotModelOwner(address caller, address owner);
    /// @notice Too late: the channel expired at `expiry`.
    error ChannelExpired(uint256 channelId, uint64 expiry);
    /// @notice Too early: the channel expires at `expiry`.
    error NotExpired(uint256 channelId, uint64 expiry);
    /// @notice The signature is not `signer`'s over the voucher (this channel, its current
    /// nonce, this amount and receipt, this chain and contract).
    error BadSignature(uint256 channelId, address signer);
    /// @notice An amount of zero.
    error ZeroAmount();
    /// @notice The voucher's amount is above what the channel holds.
    error AmountAboveValue(uint256 amount, uint256 value);
    /// @notice The expiry must be after now and at most `MAX_DURATION` from now (and, when
    /// extending, after the current expiry).
    error ExpiryOutOfRange(uint64 expiry, uint64 earliest, uint64 latest);
    /// @notice The version is deprecated: it takes no new channels.
    error VersionDeprecated(uint256 modelId, uint32 version);
    /// @notice The signer may not be address(0).
    error ZeroSigner();

    constructor(address registry) RevenueSplit(registry) EIP712("AlaraInferenceChannels", "1") {}

    /// @notice Opens a channel on version `version` of `modelId`, depositing `amount` of the
    /// model's token (ETH: `msg.value == amount`; ERC-20: approve first, `msg.value == 0`, and
    /// the whole amount must arrive). `signer` signs the vouchers; `expiry` is after now and at
    /// most 365 days away. Returns the channel id (ids start at 1).
    function open(uint256 modelId, uint32 version, address signer, uint256 amount, uint64 expiry)
        external
        payable
        nonReentrant
        returns (uint256 channelId)
    {
        if (signer == address(0)) revert ZeroSigner();
        if (amount == 0) revert ZeroAmount();
        if (REGISTRY.version(modelId, version).deprecated) revert VersionDeprecated(modelId, version);
        _checkExpiry(expiry, uint64(block.timestamp));
        address token = REGISTRY.model(modelId).token;
        channelId = ++channelCount;
        _channels[channelId] = Channel({
            sender: msg.sender,
            signer: signer,
            modelId: modelId,
            version: version,
            token: token,
            nonce: 0,
            expiry: expiry,
            value: amount
        });
        emit Opened(channelId, msg.sender, modelId, version, signer, token, amount, expiry);
        _collect(token, amount);
    }

    /// @notice Adds `amount` to an open, unexpired channel (sender only; paid as in `open`).
    function topUp(uint256 channelId, uint256 amount) external payable nonReentrant {
        Channel storage c = _live(channelId);
        if (msg.sender != c.sender) revert NotSender(msg.sender, c.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 value = c.value + amount;
        c.value = value;
        emit ToppedUp(channelId, amount, value);
        _collect(c.token, amount);
    }

    /// @notice Moves the expiry of an open, unexpired channel later (sender only), to at most
    /// 365 days from now.
    function extend(uint256 channelId, uint64 newExpiry) external {
        Channel storage c = _live(channelId);
        if (msg.sender != c.sender) revert NotSender(msg.sender, c.sender);
        _checkExpiry(newExpiry, c.expiry);
        c.expiry = newExpiry;
        emit Extended(channelId, newExpiry);
    }

    /// @notice The model's owner claims `amount` with the signer's voucher for
    /// (channelId, the channel's current nonce, amount, prevReceipt), before expiry. The
    /// amount is split between the version's parents and the owner (credited, see `withdraw`)
    /// and the nonce moves on. With `keepOpen` false the rest of the deposit is credited back
    /// to the sender and the channel closes.
    function claim(uint256 channelId, uint256 amount, bytes32 prevReceipt, bytes calldata signature, bool keepOpen)
        external
        nonReentrant
    {
        Channel storage c = _live(channelId);
        uint64 nonce = _checkClaim(c, channelId, amount, prevReceipt, signature);
        uint256 rest = c.value - amount;
        c.nonce = nonce + 1;
        c.value = keepOpen ? rest : 0;
        if (!keepOpen) closed[channelId] = true;
        emit Claimed(channelId, nonce, amount, prevReceipt, keepOpen);
        _split(channelId, c.modelId, c.version, c.token, amount);
        if (!keepOpen) _close(channelId, c.sender, c.token, rest);
    }

    /// @notice After expiry, the sender takes back what is left (credited, see `withdraw`)
    /// and the channel closes.
    function refund(uint256 channelId) external nonReentrant {
        Channel storage c = _channel(channelId);
        if (msg.sender != c.sender) revert NotSender(msg.sender, c.sender);
        if (block.timestamp < c.expiry) revert NotExpired(channelId, c.expiry);
        uint256 rest = c.value;
        c.value = 0;
        closed[channelId] = true;
        _close(channelId, c.sender, c.token, rest);
    }

    /// @notice The channel `channelId`; reverts `UnknownChannel` if there is none.
    function channels(uint256 channelId) external view returns (Channel memory) {
        Channel storage c = _channels[channelId];
        if (c.sender == address(0)) revert UnknownChannel(channelId);
        return c;
    }

    /// @notice The EIP-712 struct hash of a call receipt: what the next voucher's
    /// `prevReceipt` carries.
    function receiptHash(bytes32 model, bytes32 input, bytes32 output) public pure returns (bytes32) {
        return keccak256(abi.encode(CALL_RECEIPT_TYPEHASH, model, input, output));
    }

    /// @notice The EIP-712 digest the channel's signer signs for a voucher.
    function voucherDigest(uint256 channelId, uint64 nonce, uint256 amount, bytes32 prevReceipt)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, nonce, amount, prevReceipt)));
    }

    /// @dev The checks of `claim`; returns the channel's current nonce.
    function _checkClaim(
        Channel storage c,
        uint256 channelId,
        uint256 amount,
        bytes32 prevReceipt,
        bytes calldata signature
    ) private view returns (uint64 nonce) {
        address owner = REGISTRY.model(c.modelId).owner;
        if (msg.sender != owner) revert NotModelOwner(msg.sender, owner);
        if (amount == 0) revert ZeroAmount();
        if (amount > c.value) revert AmountAboveValue(amount, c.value);
        nonce = c.nonce;
        address signer = c.signer;
        bytes32 digest = voucherDigest(channelId, nonce, amount, prevReceipt);
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, digest, signature)) {
            revert BadSignature(channelId, signer);
        }
    }

    function _close(uint256 channelId, address sender, address token, uint256 rest) private {
        if (rest > 0) _credit(sender, token, rest);
        emit ChannelClosed(channelId, rest);
    }

    function _paid(uint256 ref, address payee, uint256 amount) internal override {
        emit Paid(ref, payee, amount);
    }

    /// @dev `expiry` must be later than `after_` and than now, and at most MAX_DURATION from now.
    function _checkExpiry(uint64 expiry, uint64 after_) private view {
        uint64 latest = uint64(block.timestamp) + MAX_DURATION;
        if (expiry <= after_ || expiry <= block.timestamp || expiry > latest) {
            revert ExpiryOutOfRange(expiry, after_ + 1, latest);
        }
    }

    function _channel(uint256 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        if (c.sender == address(0)) revert UnknownChannel(channelId);
        if (closed[channelId]) revert ChannelIsClosed(channelId);
    }

    /// @dev An open channel before its expiry.
    function _live(uint256 channelId) private view returns (Channel storage c) {
        c = _channel(channelId);
        if (block.timestamp >= c.expiry) revert ChannelExpired(channelId, c.expiry);
    }
}
