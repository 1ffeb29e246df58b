// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title DataMarket
/// @notice Tokenized data marketplace: escrowed dataset sales with key delivery, and
/// compute-to-data jobs over allow-listed algorithms. Nothing but commitments reaches the
/// chain: the ciphertext CID, the SHA-256 of the plaintext, hashes of terms, algorithms and
/// results, and the dataset key encrypted to the buyer's X25519 key.
///
/// Sale: Paid -> Delivered -> Confirmed (buyer) | Released (dispute window over)
///            |            -> Disputed -> Resolved (arbiter before its deadline, or by default after it)
///            -> Refunded (seller missed the delivery deadline)
/// Job:  Paid -> Completed (signed receipt; paid to the owner) | Failed | Refunded (timeout)
///
/// Money moves by pull payment: settling a sale or job credits `owed`, and `withdraw`
/// pays out. A dispute costs the buyer a bond of `disputeBondBps` of the price (rounded
/// up), in the sale's token; the loser's bond goes to the winner.
///
/// Disputes the arbiter leaves undecided past its deadline settle by default for the
/// seller: the price is credited to the seller and the bond returns to the buyer, exactly
/// as if no dispute had been opened. The key was delivered on-chain before any dispute, so
/// the buyer already holds what it paid for; a buyer-favourable default would let any buyer
/// keep the data and its money by disputing while the arbiter is offline or flooded. The
/// arbiter is rotated in two steps (`transferArbiter`, then `acceptArbiter` by the new
/// one, e.g. a multisig), and may rule only until the deadline (see crates/market/README.md).
///
/// Token amounts are credited as the balance the contract actually received, so a token
/// that takes a fee on transfer escrows and pays out the net amount and `owed` never exceeds
/// the balance. Tokens whose balances change without transfers (rebasing) are not supported.
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
        /// The price as received into escrow.
        uint256 amount;
        /// The dispute bond as received into escrow (Disputed, Resolved).
        uint256 bond;
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
        /// The price as received into escrow.
        uint256 amount;
        bytes32 algorithm;
    }

    /// @notice What the data owner signs when a job completes (EIP-712). `resultCidHash` is
    /// `keccak256(bytes(resultCid))`, so a relayer cannot record another result location.
    struct JobReceipt {
        uint256 jobId;
        bytes32 algorithm;
        bytes32 dataset;
        bytes32 result;
        bytes32 resultCidHash;
        uint64 rows;
        uint64 finishedAt;
    }

    bytes32 public constant JOB_RECEIPT_TYPEHASH = keccak256(
        "JobReceipt(uint256 jobId,bytes32 algorithm,bytes32 dataset,bytes32 result,bytes32 resultCidHash,uint64 rows,uint64 finishedAt)"
    );
    /// @notice Longest delivery, dispute, arbitration or job window.
    uint64 public constant MAX_WINDOW = 365 days;
    /// @notice Shortest dispute or arbitration window: buyers need time to fetch and check a
    /// delivery, the arbiter time to re-run the check.
    uint64 public constant MIN_DISPUTE_WINDOW = 1 hours;
    /// @notice Largest dispute bond: the whole price.
    uint16 public constant MAX_BOND_BPS = 10_000;
    /// @notice Largest key envelope or dispute evidence (an age file of one key is ~250 bytes).
    uint256 public constant MAX_ENVELOPE = 1024;

    /// @notice Decides disputes; first the deployer, then whoever accepted a transfer.
    address public arbiter;
    /// @notice The arbiter's X25519 public key: dispute evidence is encrypted to it.
    bytes32 public arbiterKey;
    /// @notice The arbiter proposed by `transferArbiter`, until it accepts.
    address public pendingArbiter;
    /// @notice The X25519 key that comes with `pendingArbiter`.
    bytes32 public pendingArbiterKey;
    /// @notice Seconds after delivery during which the buyer may dispute.
    uint64 public immutable disputeWindow;
    /// @notice Seconds the arbiter has to decide a dispute.
    uint64 public immutable arbitrationWindow;
    /// @notice Dispute bond in basis points of the price, 1 to 10,000.
    uint16 public immutable disputeBondBps;

    uint256 public listingCount;
    uint256 public saleCount;
    uint256 public jobCount;
    mapping(uint256 listingId => Listing) public listings;
    mapping(uint256 saleId => Sale) public sales;
    mapping(uint256 jobId => Job) public jobs;
    mapping(uint256 listingId => mapping(bytes32 algorithm => ComputeOffer)) public computeOffers;
    /// @notice Withdrawable balance per account and token (address(0) = ETH).
    mapping(address account => mapping(address token => uint256 amount)) public owed;

    /// @notice A dataset was listed; `cid`, `plaintextHash` and `termsHash` live only here.
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
    /// @notice A listing stopped taking purchases and jobs.
    event Delisted(uint256 indexed listingId);
    /// @notice An algorithm was allow-listed (or its offer changed) on a listing.
    event ComputeOffered(uint256 indexed listingId, bytes32 indexed algorithm, uint256 price, uint64 jobWindow);
    /// @notice An algorithm was removed from a listing's allow-list.
    event ComputeRevoked(uint256 indexed listingId, bytes32 indexed algorithm);
    /// @notice A download was paid into escrow; `amount` is what the contract received.
    event Purchased(
        uint256 indexed saleId,
        uint256 indexed listingId,
        address indexed buyer,
        bytes32 buyerKey,
        uint256 amount,
        uint64 deliverBy
    );
    /// @notice The dataset key, encrypted to the buyer's key, was delivered.
    event KeyDelivered(uint256 indexed saleId, bytes envelope, uint64 disputeUntil);
    /// @notice The buyer confirmed; `amount` was credited to the seller.
    event Confirmed(uint256 indexed saleId, address indexed seller, uint256 amount);
    /// @notice The dispute window ended; `amount` was credited to the seller.
    event Released(uint256 indexed saleId, address indexed seller, uint256 amount);
    /// @notice The seller missed the delivery deadline; `amount` was credited to the buyer.
    event Refunded(uint256 indexed saleId, address indexed buyer, uint256 amount);
    /// @notice The buyer disputed a delivery, posting `bond` (as received) and evidence.
    event Disputed(uint256 indexed saleId, bytes evidence, uint256 bond, uint64 resolveBy);
    /// @notice A dispute was settled: `payee` was credited `amount`; by default (no ruling by
    /// the deadline) the seller gets the price and `bondReturned` goes back to the buyer.
    event Resolved(
        uint256 indexed saleId,
        bool buyerWins,
        bool byDefault,
        address indexed payee,
        uint256 amount,
        uint256 bondReturned
    );
    /// @notice A compute job was paid into escrow; `amount` is what the contract received.
    event JobRequested(
        uint256 indexed jobId,
        uint256 indexed listingId,
        address indexed buyer,
        bytes32 algorithm,
        bytes32 buyerKey,
        uint256 amount,
        uint64 deadline
    );
    /// @notice A job's result was delivered with the owner's signed receipt; the owner was credited.
    event JobCompleted(uint256 indexed jobId, JobReceipt receipt, bytes32 receiptDigest, string resultCid, bytes signature);
    /// @notice The owner reported a failed job; the buyer was credited the escrow.
    event JobFailed(uint256 indexed jobId, bytes32 reason);
    /// @notice A job passed its deadline without a result; `amount` was credited to the buyer.
    event JobRefunded(uint256 indexed jobId, address indexed buyer, uint256 amount);
    /// @notice `account` withdrew `amount` of `token`.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice The arbiter proposed `newArbiter` (address(0): a proposal was cancelled).
    event ArbiterTransferStarted(address indexed arbiter, address indexed newArbiter, bytes32 newArbiterKey);
    /// @notice `newArbiter` accepted and now decides disputes with `arbiterKey`.
    event ArbiterTransferred(address indexed previousArbiter, address indexed newArbiter, bytes32 arbiterKey);

    /// @notice No listing has this id.
    error UnknownListing(uint256 listingId);
    /// @notice No sale has this id.
    error UnknownSale(uint256 saleId);
    /// @notice No job has this id.
    error UnknownJob(uint256 jobId);
    /// @notice The listing was delisted.
    error ListingInactive(uint256 listingId);
    /// @notice The listing is compute-only.
    error NotForDownload(uint256 listingId);
    /// @notice Only the listing's seller may do this.
    error NotSeller(address caller);
    /// @notice Only the sale's buyer may do this.
    error NotBuyer(address caller);
    /// @notice Only the arbiter may do this.
    error NotArbiter(address caller);
    /// @notice Only the proposed arbiter may accept.
    error NotPendingArbiter(address caller);
    /// @notice `msg.value` is not what the call costs (0 for token listings).
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The sale is not in the state this call needs.
    error InvalidSaleState(uint256 saleId, SaleState state);
    /// @notice The job is not in the state this call needs.
    error InvalidJobState(uint256 jobId, JobState state);
    /// @notice Too late: the deadline was `deadline`.
    error DeadlinePassed(uint64 deadline);
    /// @notice Too early: possible only after `deadline`.
    error DeadlineNotReached(uint64 deadline);
    /// @notice The algorithm is not allow-listed on the listing.
    error AlgorithmNotAllowed(uint256 listingId, bytes32 algorithm);
    /// @notice The compute offer's price rose above what the buyer accepted.
    error PriceAboveMax(uint256 price, uint256 maxPrice);
    /// @notice The compute offer's job window grew beyond what the buyer accepted.
    error WindowAboveMax(uint64 window, uint64 maxWindow);
    /// @notice The receipt is for another job or algorithm, or has no result.
    error ReceiptMismatch(uint256 jobId);
    /// @notice `resultCid` is not the one the receipt's `resultCidHash` commits to.
    error ResultCidMismatch(uint256 jobId);
    /// @notice The signature is not the seller's (EOA or ERC-1271) over this receipt's digest.
    error ReceiptSignerMismatch(address seller);
    /// @notice A public key is zero.
    error InvalidKey();
    /// @notice A commitment (CID, plaintext hash, algorithm) is empty.
    error InvalidCommitment();
    /// @notice An envelope or evidence is empty or larger than `max`.
    error EnvelopeSize(uint256 size, uint256 max);
    /// @notice A window is outside its bounds.
    error WindowOutOfRange(uint64 window);
    /// @notice The dispute bond is outside 1 to 10,000 basis points.
    error BondOutOfRange(uint16 bps);
    /// @notice Nothing is owed to `account` in `token`.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending ETH to `to` failed.
    error EthTransferFailed(address to);

    constructor(bytes32 arbiterKey_, uint64 disputeWindow_, uint64 arbitrationWindow_, uint16 disputeBondBps_)
        EIP712("Alara DataMarket", "1")
    {
        if (arbiterKey_ == bytes32(0)) revert InvalidKey();
        if (disputeWindow_ < MIN_DISPUTE_WINDOW) revert WindowOutOfRange(disputeWindow_);
        if (arbitrationWindow_ < MIN_DISPUTE_WINDOW) revert WindowOutOfRange(arbitrationWindow_);
        _checkWindow(disputeWindow_);
        _checkWindow(arbitrationWindow_);
        if (disputeBondBps_ == 0 || disputeBondBps_ > MAX_BOND_BPS) revert BondOutOfRange(disputeBondBps_);
        arbiter = msg.sender;
        arbiterKey = arbiterKey_;
        disputeWindow = disputeWindow_;
        arbitrationWindow = arbitrationWindow_;
        disputeBondBps = disputeBondBps_;
    }

    // ---------------------------------------------------------------- arbiter

    /// @notice The arbiter proposes `newArbiter` with its X25519 key; nothing changes until
    /// `newArbiter` calls `acceptArbiter`. `address(0)` cancels a proposal. Disputes opened
    /// before the handover carry evidence sealed to the previous key.
    function transferArbiter(address newArbiter, bytes32 newArbiterKey) external {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        if (newArbiter != address(0) && newArbiterKey == bytes32(0)) revert InvalidKey();
        pendingArbiter = newArbiter;
        pendingArbiterKey = newArbiterKey;
        emit ArbiterTransferStarted(msg.sender, newArbiter, newArbiterKey);
    }

    /// @notice The proposed arbiter takes over, with the key proposed with it.
    function acceptArbiter() external {
        if (msg.sender != pendingArbiter) revert NotPendingArbiter(msg.sender);
        address previous = arbiter;
        bytes32 key = pendingArbiterKey;
        arbiter = msg.sender;
        arbiterKey = key;
        delete pendingArbiter;
        delete pendingArbiterKey;
        emit ArbiterTransferred(previous, msg.sender, key);
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
    /// compute-to-data on a listing, at `price`, with `jobWindow` seconds to deliver. A
    /// change applies to later `requestJob`s within the buyer's `maxPrice` and `maxWindow`.
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
    /// listings pull the price with `transferFrom` (approve first) and escrow what arrives.
    function buy(uint256 listingId, bytes32 buyerKey) external payable nonReentrant returns (uint256 saleId) {
        Listing storage l = _activeListing(listingId);
        if (!l.downloadable) revert NotForDownload(listingId);
        if (buyerKey == bytes32(0)) revert InvalidKey();
        uint256 price = l.price;
        uint64 deliverBy = uint64(block.timestamp) + l.deliveryWindow;
        saleId = ++saleCount;
        Sale storage s = sales[saleId];
        s.buyer = msg.sender;
        s.deadline = deliverBy;
        s.state = SaleState.Paid;
        s.listingId = listingId;
        uint256 received = _collect(l.token, price);
        s.amount = received;
        emit Purchased(saleId, listingId, msg.sender, buyerKey, received, deliverBy);
    }

    /// @notice The seller publishes the dataset key encrypted to the buyer's key (an age
    /// file), by the delivery deadline. Opens the dispute window.
    function deliver(uint256 saleId, bytes calldata envelope) external nonReentrant {
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
    function confirm(uint256 saleId) external nonReentrant {
        Sale storage s = _sale(saleId);
        if (msg.sender != s.buyer) revert NotBuyer(msg.sender);
        _requireSaleState(saleId, s, SaleState.Delivered);
        s.state = SaleState.Confirmed;
        Listing storage l = listings[s.listingId];
        _credit(l.seller, l.token, s.amount);
        emit Confirmed(saleId, l.seller, s.amount);
    }

    /// @notice Anyone may release a delivered sale to the seller once the dispute window is over.
    function release(uint256 saleId) external nonReentrant {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Delivered);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        s.state = SaleState.Released;
        Listing storage l = listings[s.listingId];
        _credit(l.seller, l.token, s.amount);
        emit Released(saleId, l.seller, s.amount);
    }

    /// @notice Anyone may refund a sale to its buyer once the seller missed the delivery deadline.
    function refund(uint256 saleId) external nonReentrant {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Paid);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        s.state = SaleState.Refunded;
        _credit(s.buyer, listings[s.listingId].token, s.amount);
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
        uint256 received = _collect(listings[s.listingId].token, b);
        s.bond = received;
        emit Disputed(saleId, evidence, received, resolveBy);
    }

    /// @notice The arbiter decides a dispute by its deadline: the winner is credited the
    /// price and the bond.
    function resolve(uint256 saleId, bool buyerWins) external nonReentrant {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Disputed);
        if (block.timestamp > s.deadline) revert DeadlinePassed(s.deadline);
        s.state = SaleState.Resolved;
        Listing storage l = listings[s.listingId];
        address payee = buyerWins ? s.buyer : l.seller;
        uint256 amount = s.amount + s.bond;
        _credit(payee, l.token, amount);
        emit Resolved(saleId, buyerWins, false, payee, amount, 0);
    }

    /// @notice After the arbiter's deadline, anyone may settle an undecided dispute: the
    /// price is credited to the seller, who delivered the key on-chain, and the bond returns
    /// to the buyer, as if no dispute had been opened (see the contract's notice).
    function resolveExpired(uint256 saleId) external nonReentrant {
        Sale storage s = _sale(saleId);
        _requireSaleState(saleId, s, SaleState.Disputed);
        if (block.timestamp <= s.deadline) revert DeadlineNotReached(s.deadline);
        s.state = SaleState.Resolved;
        Listing storage l = listings[s.listingId];
        _credit(l.seller, l.token, s.amount);
        _credit(s.buyer, l.token, s.bond);
        emit Resolved(saleId, false, true, l.seller, s.amount, s.bond);
    }

    /// @notice The dispute bond for a sale of `amount`: `disputeBondBps` of it, rounded up.
    function bond(uint256 amount) public view returns (uint256) {
        return Math.mulDiv(amount, disputeBondBps, 10_000, Math.Rounding.Ceil);
    }

    // ---------------------------------------------------------------- compute-to-data

    /// @notice Pays into escrow for a compute-to-data job running an allow-listed algorithm.
    /// `buyerKey` (X25519) is the key the result is encrypted to. `maxPrice` and `maxWindow`
    /// are the offer the buyer saw: the call reverts if the seller raised either since.
    function requestJob(uint256 listingId, bytes32 algorithm, bytes32 buyerKey, uint256 maxPrice, uint64 maxWindow)
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
        uint64 window = o.jobWindow;
        if (price > maxPrice) revert PriceAboveMax(price, maxPrice);
        if (window > maxWindow) revert WindowAboveMax(window, maxWindow);
        uint64 deadline = uint64(block.timestamp) + window;
        jobId = ++jobCount;
        Job storage j = jobs[jobId];
        j.buyer = msg.sender;
        j.deadline = deadline;
        j.state = JobState.Paid;
        j.listingId = listingId;
        j.algorithm = algorithm;
        uint256 received = _collect(l.token, price);
        j.amount = received;
        emit JobRequested(jobId, listingId, msg.sender, algorithm, buyerKey, received, deadline);
    }

    /// @notice Delivers a job's result: the data owner's EIP-712 signature over `receipt`
    /// (an EOA signature, or one its ERC-1271 wallet accepts), the result hash, and the CID
    /// of the result encrypted to the buyer, which the receipt commits to. The escrow is
    /// credited to the owner. Anyone may relay a validly signed receipt.
    function submitResult(uint256 jobId, JobReceipt calldata receipt, string calldata resultCid, bytes calldata signature)
        external
        nonReentrant
    {
        Job storage j = _job(jobId);
        _requireJobState(jobId, j, JobState.Paid);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline);
        if (receipt.jobId != jobId || receipt.algorithm != j.algorithm || receipt.result == bytes32(0)) {
            revert ReceiptMismatch(jobId);
        }
        if (receipt.resultCidHash != keccak256(bytes(resultCid))) revert ResultCidMismatch(jobId);
        Listing storage l = listings[j.listingId];
        bytes32 digest = receiptDigest(receipt);
        if (!SignatureChecker.isValidSignatureNowCalldata(l.seller, digest, signature)) {
            revert ReceiptSignerMismatch(l.seller);
        }
        j.state = JobState.Completed;
        _credit(l.seller, l.token, j.amount);
        emit JobCompleted(jobId, receipt, digest, resultCid, signature);
    }

    /// @notice The data owner reports that a job failed (the run or the output guard); the
    /// escrow returns to the buyer.
    function failJob(uint256 jobId, bytes32 reason) external nonReentrant {
        Job storage j = _job(jobId);
        Listing storage l = listings[j.listingId];
        if (msg.sender != l.seller) revert NotSeller(msg.sender);
        _requireJobState(jobId, j, JobState.Paid);
        j.state = JobState.Failed;
        _credit(j.buyer, l.token, j.amount);
        emit JobFailed(jobId, reason);
    }

    /// @notice Anyone may refund a job whose deadline passed without a result.
    function refundJob(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        _requireJobState(jobId, j, JobState.Paid);
        if (block.timestamp <= j.deadline) revert DeadlineNotReached(j.deadline);
        j.state = JobState.Refunded;
        _credit(j.buyer, listings[j.listingId].token, j.amount);
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
                    receipt.resultCidHash,
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

    /// @dev Every settlement credits through here; `withdraw` pays it out.
    function _credit(address account, address token, uint256 amount) private {
        owed[account][token] += amount;
    }

    /// @dev Takes `amount` from the caller (ETH as `msg.value`, a token by `transferFrom`)
    /// and returns what the contract actually received: less than `amount` for a token that
    /// takes a fee on transfer. Callers are `nonReentrant`, and so is every function that
    /// settles or credits, so a token's transfer hook cannot re-enter the market.
    function _collect(address token, uint256 amount) private returns (uint256 received) {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongPayment(amount, msg.value);
            return amount;
        }
        if (msg.value != 0) revert WrongPayment(0, msg.value);
        if (amount == 0) return 0;
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), amount);
        received = t.balanceOf(address(this)) - before;
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
