// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title DataMarket
/// @notice Tokenized data marketplace: escrowed dataset sales with key delivery, and
/// compute-to-data jobs over allow-listed algorithms. Nothing but commitments reaches the
/// chain: the ciphertext CID, the SHA-256 of the plaintext, hashes of terms, algorithms and
/// results, and the dataset key encrypted to the buyer's X25519 key.
///
/// Sale: Paid -> Delivered -> Confirmed (buyer) | Released (dispute window over)
///            |            -> Disputed -> Resolved (arbiter, or by default after its deadline)
///            -> Refunded (seller missed the delivery deadline)
/// Job:  Paid -> Completed (signed receipt; paid to the owner) | Failed | Refunded (timeout)
///
/// Money moves by pull payment: settling a sale or job credits `owed`, and `withdraw`
/// pays out. A dispute costs the buyer a bond of `disputeBondBps` of the price, in the
/// sale's token; the loser's bond goes to the winner (see crates/market/README.md).
contract DataMarket is ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    enum SaleState {
        None,
        Paid,
        Delivered,
        Confirmed,
        Released,
        Refunded,
        Disputed,
        Resolved
    }

    enum JobState {
        None,
        Paid,
        Completed,
        Failed,
        Refunded
    }

    struct Listing {
        address seller;
        uint64 deliveryWindow;
        bool downloadable;
        bool active;
        address token; // address(0) = ETH
        uint256 price;
    }

    struct Sale {
        address buyer;
        /// Paid: delivery deadline; Delivered: end of the dispute window;
        /// Disputed: the arbiter's deadline.
        uint64 deadline;
        SaleState state;
        uint256 listingId;
        uint256 amount;
    }

    struct ComputeOffer {
        uint256 price;
        uint64 jobWindow;
        bool allowed;
    }

    struct Job {
        address buyer;
        uint64 deadline;
        JobState state;
        uint256 listingId;
        uint256 amount;
        bytes32 algorithm;
    }

    /// @notice What the data owner signs when a job completes (EIP-712).
    struct JobReceipt {
        uint256 jobId;
        bytes32 algorithm;
        bytes32 dataset;
        bytes32 result;
        uint64 rows;
        uint64 finishedAt;
    }

    bytes32 public constant JOB_RECEIPT_TYPEHASH = keccak256(
        "JobReceipt(uint256 jobId,bytes32 algorithm,bytes32 dataset,bytes32 result,uint64 rows,uint64 finishedAt)"
    );
    /// @notice Longest delivery, dispute, arbitration or job window.
    uint64 public constant MAX_WINDOW = 365 days;
    /// @notice Largest key envelope or dispute evidence (an age file of one key is ~250 bytes).
    uint256 public constant MAX_ENVELOPE = 1024;

    /// @notice Decides disputes; the deployer.
    address public immutable arbiter;
    /// @notice The arbiter's X25519 public key: dispute evidence is encrypted to it.
    bytes32 public immutable arbiterKey;
    /// @notice Seconds after delivery during which the buyer may dispute.
    uint64 public immutable disputeWindow;
    /// @notice Seconds the arbiter has to decide a dispute.
    uint64 public immutable arbitrationWindow;
    /// @notice Dispute bond in basis points of the price.
    uint16 public immutable disputeBondBps;

    uint256 public listingCount;
    uint256 public saleCount;
    uint256 public jobCount;
    mapping(uint256 => Listing) public listings;
    mapping(uint256 => Sale) public sales;
    mapping(uint256 => Job) public jobs;
    mapping(uint256 => mapping(bytes32 => ComputeOffer)) public computeOffers;
    /// @notice Withdrawable balance: account => token (address(0) = ETH) => amount.
    mapping(address => mapping(address => uint256)) public owed;

    event Listed(
        uint256 indexed listingId,
        address indexed seller,
        address token,
        uint256 price,
        bool downloadable,
        uint64 deliveryWindow,
        string cid,
        bytes32 plaintextHash,
        bytes32 termsHash
    );
    event Delisted(uint256 indexed listingId);
    event ComputeOffered(uint256 indexed listingId, bytes32 indexed algorithm, uint256 price, uint64 jobWindow);
    event ComputeRevoked(uint256 indexed listingId, bytes32 indexed algorithm);
    event Purchased(
        uint256 indexed saleId,
        uint256 indexed listingId,
        address indexed buyer,
        bytes32 buyerKey,
        uint256 amount,
        uint64 deliverBy
    );
    event KeyDelivered(uint256 indexed saleId, bytes envelope, uint64 disputeUntil);
    event Confirmed(uint256 indexed saleId, address indexed seller, uint256 amount);
    event Released(uint256 indexed saleId, address indexed seller, uint256 amount);
    event Refunded(uint256 indexed saleId, address indexed buyer, uint256 amount);
    event Disputed(uint256 indexed saleId, bytes evidence, uint256 bond, uint64 resolveBy);
    event Resolved(uint256 indexed saleId, bool buyerWins, bool byDefault, address indexed payee, uint256 amount);
    event JobRequested(
        uint256 indexed jobId,
        uint256 indexed listingId,
        address indexed buyer,
        bytes32 algorithm,
        bytes32 buyerKey,
        uint256 amount,
        uint64 deadline
    );
    event JobCompleted(uint256 indexed jobId, JobReceipt receipt, bytes32 receiptDigest, string resultCid, bytes signature);
    event JobFailed(uint256 indexed jobId, bytes32 reason);
    event JobRefunded(uint256 indexed jobId, address indexed buyer, uint256 amount);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    error UnknownListing(uint256 listingId);
    error UnknownSale(uint256 saleId);
    error UnknownJob(uint256 jobId);
    error ListingInactive(uint256 listingId);
    error NotForDownload(uint256 listingId);
    error NotSeller(address caller);
    error NotBuyer(address caller);
    error NotArbiter(address caller);
    error WrongPayment(uint256 expected, uint256 sent);
    error InvalidSaleState(uint256 saleId, SaleState state);
    error InvalidJobState(uint256 jobId, JobState state);
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotReached(uint64 deadline);
    error AlgorithmNotAllowed(uint256 listingId, bytes32 algorithm);
    error ReceiptMismatch(uint256 jobId);
    error ReceiptSignerMismatch(address expected, address recovered);
    error InvalidKey();
    error InvalidCommitment();
    error EnvelopeSize(uint256 size, uint256 max);
    error WindowOutOfRange(uint64 window);
    error NothingToWithdraw(address account, address token);
    error EthTransferFailed(address to);

    constructor(bytes32 arbiterKey_, uint64 disputeWindow_, uint64 arbitrationWindow_, uint16 disputeBondBps_)
        EIP712("Alara DataMarket", "1")
    {
        if (arbiterKey_ == bytes32(0)) revert InvalidKey();
        _checkWindow(disputeWindow_);
        _checkWindow(arbitrationWindow_);
        arbiter = msg.sender;
        arbiterKey = arbiterKey_;
        disputeWindow = disputeWindow_;
        arbitrationWindow = arbitrationWindow_;
        disputeBondBps = disputeBondBps_;
    }

    // ---------------------------------------------------------------- listings

    /// @notice Lists a dataset: its ciphertext CID, the SHA-256 of its plaintext, the hash of
    /// its licence terms, its price in `token` (address(0) = ETH), and how long the seller has
    /// to deliver the key after a purchase. A compute-only listing has `downloadable = false`.
    function list(
        address token,
        uint256 price,
        bool downloadable,
        uint64 deliveryWindow,
        string calldata cid,
        bytes32 plaintextHash,
        bytes32 termsHash
    ) external returns (uint256 listingId) {
        if (plaintextHash == bytes32(0) || bytes(cid).length == 0) revert InvalidCommitment();
        _checkWindow(deliveryWindow);
        listingId = ++listingCount;
        listings[listingId] = Listing({
            seller: msg.sender,
            deliveryWindow: deliveryWindow,
            downloadable: downloadable,
            active: true,
            token: token,
            price: price
        });
        emit Listed(listingId, msg.sender, token, price, downloadable, deliveryWindow, cid, plaintextHash, termsHash);
    }

    /// @notice Stops new purchases and jobs; open sales and jobs run to their end.
    function delist(uint256 listingId) external {
        Listing storage l = _sellerListing(listingId);
        l.active = false;
        emit Delisted(listingId);
    }

    /// @notice Allow-lists an algorithm (by hash of its declarative recipe) for
    /// compute-to-data on a listing, at `price`, with `jobWindow` seconds to deliver.
    function offerCompute(uint256 listingId, bytes32 algorithm, uint256 price, uint64 jobWindow) external {
        _sellerListing(listingId);
        if (algorithm == bytes32(0)) revert InvalidCommitment();
        _checkWindow(jobWindow);
        computeOffers[listingId][algorithm] = ComputeOffer({price: price, jobWindow: jobWindow, allowed: true});
        emit ComputeOffered(listingId, algorithm, price, jobWindow);
    }

    /// @notice Removes an algorithm from a listing's allow-list.
    function revokeCompute(uint256 listingId, bytes32 algorithm) external {
        _sellerListing(listingId);
        delete computeOffers[listingId][algorithm];
        emit ComputeRevoked(listingId, algorithm);
    }

    // ---------------------------------------------------------------- sales

    /// @notice Buys a download: the price goes into escrow and `buyerKey` (X25519 public key)
    /// is registered for the key delivery. ETH listings take `msg.value == price`; token
    /// listings pull the price with `transferFrom` (approve first).
    function buy(uint256 listingId, bytes32 buyerKey) external payable nonReentrant returns (uint256 saleId) {
        Listing storage l = _activeListing(listingId);
        if (!l.downloadable) revert NotForDownload(listingId);
        if (buyerKey == bytes32(0)) revert InvalidKey();
        uint256 price = l.price;
        address token = l.token;
        uint64 deliverBy = uint64(block.timestamp) + l.deliveryWindow;
        saleId = ++saleCount;
        sales[saleId] =
            Sale({buyer: msg.sender, deadline: deliverBy, state: SaleState.Paid, listingId: listingId, amount: price});
        emit Purchased(saleId, listingId, msg.sender, buyerKey, price, deliverBy);
        _collect(token, price);
    }

    /// @notice The seller publishes the dataset key encrypted to the buyer's key (an age
    /// file), before the delivery deadline. Opens the dispute window.
    function deliver(uint256 saleId, bytes calldata envelope) external {
        Sale storage s = _sale(saleId);
        Listing storage l = listings[s.listingId];
        if (msg.sender != l.seller) revert NotSeller(msg.sender);
        _requireSaleState(saleId, s, SaleState.Paid);
        if (block.timestamp > s.deadline) revert DeadlinePassed(s.deadline);
        if (envelope.length == 0 || envelope.length > MAX_ENVELOPE) revert EnvelopeSize(envelope.length, MAX_ENVELOPE);
        uint64 until = uint64(block.timestamp) + disputeWindow;
        s.state = SaleState.Delivered;
        s.deadline = until;
        emit KeyDelivered(saleId, envelope, until);
    }

    /// @notice The buyer confirms the delivery; the escrow is credited to the seller.
    function confirm(uint256 saleId) external {
        Sale storage s = _sale(saleId);
        if (msg.sender != s.buyer) revert NotBuyer(msg.sender);
        _requireSaleState(saleId, s, SaleState.Delivered);
        s.state = SaleState.Confirmed;
        Listing storage l = listings[s.listingId];
        owed[l.seller][l.token] += s.amount;
        emit Confirmed(saleId, l.seller, s.amount);
    }

    /// @notice Anyone may release a delivered sale to the seller once the dispute window is over.
    function release(uint256 saleId) external {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Delivered);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        s.state = SaleState.Released;
        Listing storage l = listings[s.listingId];
        owed[l.seller][l.token] += s.amount;
        emit Released(saleId, l.seller, s.amount);
    }

    /// @notice Anyone may refund a sale to its buyer once the seller missed the delivery deadline.
    function refund(uint256 saleId) external {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Paid);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        s.state = SaleState.Refunded;
        owed[s.buyer][listings[s.listingId].token] += s.amount;
        emit Refunded(saleId, s.buyer, s.amount);
    }

    /// @notice The buyer disputes a delivery within the dispute window, posting a bond of
    /// `disputeBondBps` of the price and `evidence`: the buyer's per-sale secret key encrypted
    /// to `arbiterKey`, with which the arbiter re-runs the decryption and the hash check.
    function dispute(uint256 saleId, bytes calldata evidence) external payable nonReentrant {
        Sale storage s = _sale(saleId);
        if (msg.sender != s.buyer) revert NotBuyer(msg.sender);
        _requireSaleState(saleId, s, SaleState.Delivered);
        if (block.timestamp > s.deadline) revert DeadlinePassed(s.deadline);
        if (evidence.length == 0 || evidence.length > MAX_ENVELOPE) revert EnvelopeSize(evidence.length, MAX_ENVELOPE);
        uint256 b = bond(s.amount);
        uint64 resolveBy = uint64(block.timestamp) + arbitrationWindow;
        s.state = SaleState.Disputed;
        s.deadline = resolveBy;
        emit Disputed(saleId, evidence, b, resolveBy);
        _collect(listings[s.listingId].token, b);
    }

    /// @notice The arbiter decides a dispute: the winner is credited the price and the bond.
    function resolve(uint256 saleId, bool buyerWins) external {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Disputed);
        _settleDispute(saleId, s, buyerWins, false);
    }

    /// @notice After the arbiter's deadline, anyone may settle an undecided dispute: without a
    /// verdict the delivery is unproven, so price and bond return to the buyer.
    function resolveExpired(uint256 saleId) external {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Disputed);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        _settleDispute(saleId, s, true, true);
    }

    /// @notice The dispute bond for a sale of `amount`.
    function bond(uint256 amount) public view returns (uint256) {
        return amount * disputeBondBps / 10_000;
    }

    // ---------------------------------------------------------------- compute-to-data

    /// @notice Pays into escrow for a compute-to-data job running an allow-listed algorithm.
    /// `buyerKey` (X25519) is the key the result is encrypted to.
    function requestJob(uint256 listingId, bytes32 algorithm, bytes32 buyerKey)
        external
        payable
        nonReentrant
        returns (uint256 jobId)
    {
        Listing storage l = _activeListing(listingId);
        ComputeOffer storage o = computeOffers[listingId][algorithm];
        if (!o.allowed) revert AlgorithmNotAllowed(listingId, algorithm);
        if (buyerKey == bytes32(0)) revert InvalidKey();
        uint256 price = o.price;
        uint64 deadline = uint64(block.timestamp) + o.jobWindow;
        jobId = ++jobCount;
        jobs[jobId] = Job({
            buyer: msg.sender,
            deadline: deadline,
            state: JobState.Paid,
            listingId: listingId,
            amount: price,
            algorithm: algorithm
        });
        emit JobRequested(jobId, listingId, msg.sender, algorithm, buyerKey, price, deadline);
        _collect(l.token, price);
    }

    /// @notice Delivers a job's result: the data owner's EIP-712 signature over `receipt`
    /// (checked here), the result hash, and the CID of the result encrypted to the buyer.
    /// The escrow is credited to the owner. Anyone may relay a validly signed receipt.
    function submitResult(uint256 jobId, JobReceipt calldata receipt, string calldata resultCid, bytes calldata signature)
        external
    {
        Job storage j = _job(jobId);
        _requireJobState(jobId, j, JobState.Paid);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline);
        if (receipt.jobId != jobId || receipt.algorithm != j.algorithm || receipt.result == bytes32(0)) {
            revert ReceiptMismatch(jobId);
        }
        Listing storage l = listings[j.listingId];
        bytes32 digest = receiptDigest(receipt);
        // slither-disable-next-line unused-return -- tryRecover gives address(0) on any error, and a listing's seller is never address(0), so the check below rejects it
        (address signer,,) = ECDSA.tryRecover(digest, signature);
        if (signer != l.seller) revert ReceiptSignerMismatch(l.seller, signer);
        j.state = JobState.Completed;
        owed[l.seller][l.token] += j.amount;
        emit JobCompleted(jobId, receipt, digest, resultCid, signature);
    }

    /// @notice The data owner reports that a job failed (the run or the output guard); the
    /// escrow returns to the buyer.
    function failJob(uint256 jobId, bytes32 reason) external {
        Job storage j = _job(jobId);
        address seller = listings[j.listingId].seller;
        if (msg.sender != seller) revert NotSeller(msg.sender);
        _requireJobState(jobId, j, JobState.Paid);
        j.state = JobState.Failed;
        owed[j.buyer][listings[j.listingId].token] += j.amount;
        emit JobFailed(jobId, reason);
    }

    /// @notice Anyone may refund a job whose deadline passed without a result.
    function refundJob(uint256 jobId) external {
        Job storage j = _job(jobId);
        _requireJobState(jobId, j, JobState.Paid);
        if (block.timestamp <= j.deadline) revert DeadlineNotReached(j.deadline);
        j.state = JobState.Refunded;
        owed[j.buyer][listings[j.listingId].token] += j.amount;
        emit JobRefunded(jobId, j.buyer, j.amount);
    }

    /// @notice The EIP-712 digest the data owner signs for `receipt`.
    function receiptDigest(JobReceipt calldata receipt) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    JOB_RECEIPT_TYPEHASH,
                    receipt.jobId,
                    receipt.algorithm,
                    receipt.dataset,
                    receipt.result,
                    receipt.rows,
                    receipt.finishedAt
                )
            )
        );
    }

    // ---------------------------------------------------------------- payouts

    /// @notice Pays out everything credited to the caller in `token` (address(0) = ETH).
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = owed[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        owed[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert EthTransferFailed(msg.sender);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- internals

    function _settleDispute(uint256 saleId, Sale storage s, bool buyerWins, bool byDefault) private {
        Listing storage l = listings[s.listingId];
        address payee = buyerWins ? s.buyer : l.seller;
        uint256 amount = s.amount + bond(s.amount);
        s.state = SaleState.Resolved;
        owed[payee][l.token] += amount;
        emit Resolved(saleId, buyerWins, byDefault, payee, amount);
    }

    function _collect(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongPayment(amount, msg.value);
        } else {
            if (msg.value != 0) revert WrongPayment(0, msg.value);
            if (amount > 0) IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        }
    }

    function _checkWindow(uint64 window) private pure {
        if (window == 0 || window > MAX_WINDOW) revert WindowOutOfRange(window);
    }

    function _activeListing(uint256 listingId) private view returns (Listing storage l) {
        l = listings[listingId];
        if (l.seller == address(0)) revert UnknownListing(listingId);
        if (!l.active) revert ListingInactive(listingId);
    }

    function _sellerListing(uint256 listingId) private view returns (Listing storage l) {
        l = listings[listingId];
        if (l.seller == address(0)) revert UnknownListing(listingId);
        if (l.seller != msg.sender) revert NotSeller(msg.sender);
    }

    function _sale(uint256 saleId) private view returns (Sale storage s) {
        s = sales[saleId];
        if (s.state == SaleState.None) revert UnknownSale(saleId);
    }

    function _job(uint256 jobId) private view returns (Job storage j) {
        j = jobs[jobId];
        if (j.state == JobState.None) revert UnknownJob(jobId);
    }

    function _requireSaleState(uint256 saleId, Sale storage s, SaleState expected) private view {
        if (s.state != expected) revert InvalidSaleState(saleId, s.state);
    }

    function _requireJobState(uint256 jobId, Job storage j, JobState expected) private view {
        if (j.state != expected) revert InvalidJobState(jobId, j.state);
    }
}
