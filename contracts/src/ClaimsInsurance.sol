// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title ClaimsInsurance
/// @notice Indemnity cover paid in ETH from a pool funded by the insurer (the owner), with
/// claims assessed by an AI model and, where the model may not decide alone, by people.
///
/// Products: a sum insured, a premium, a term and the SHA-256 of the ONNX model that assesses
/// claims; a policy pins its product's model hash when it is bought, so an assessment made
/// with any other model is refused (`ModelNotPinned`). The pool never sells cover beyond what
/// it holds: the remaining cover of open policies never exceeds the balance less what is owed
/// and the bonds it holds.
///
/// A claim is filed by the policyholder with a bond, never in the block of the purchase (no
/// buying cover for a loss already known in the same transaction), one open claim per policy,
/// and never above the policy's remaining cover. Nothing personal is on-chain: the description
/// is a commitment (`descriptionHash`) and the evidence is the root of a manifest of encrypted
/// store objects (`evidenceRoot`); the manifest names the policy and the holder, so an evidence
/// root copied onto another policy is refused when the assessor opens it. One claimant never
/// files the same evidence root twice.
///
/// An assessor (the AI service's key) posts the model's fraud probability, its confidence, the
/// assessed amount, the model hash and a commitment to the model's input, so a disputed
/// decision can be re-run. The claim is approved automatically only when the fraud probability
/// is below `maxFraudBp`, the confidence at least `minConfidenceBp`, the amount at most
/// `autoMaxAmount`, and the day's automatic approvals stay within `dailyAutoCap` (a circuit
/// breaker against a misbehaving model); otherwise it waits for a reviewer. An approval opens a
/// challenge window in which anyone may post a bond and send the claim back to review (once).
/// After the window, anyone finalizes: the amount and the claimant's bond are credited to
/// `owed` and taken by `withdraw` (pull). A rejected claim's bond goes to the pool; a
/// challenger's bond goes back to it when the claim is rejected, and to the pool otherwise.
contract ClaimsInsurance is Ownable2Step, ReentrancyGuard {
    /// @notice The largest fraud probability or confidence, in basis points.
    uint16 public constant BP = 10_000;

    enum Status {
        None,
        Filed,
        Review,
        Approved,
        Paid,
        Rejected
    }

    /// @notice Why an assessed claim went to review instead of being approved automatically.
    enum ReviewReason {
        Fraud,
        Confidence,
        Amount,
        DailyCap,
        Challenge
    }

    struct Rules {
        uint128 claimBond;
        uint128 autoMaxAmount;
        uint128 dailyAutoCap;
        uint64 challengeWindow;
        uint16 maxFraudBp;
        uint16 minConfidenceBp;
    }

    struct Product {
        uint128 sumInsured;
        uint128 premium;
        uint64 term;
        bytes32 modelHash;
    }

    // Fields ordered so that each struct packs into as few storage slots as it can.
    struct Policy {
        address holder;
        uint64 product;
        bool closed;
        bool hasOpenClaim;
        uint64 boughtBlock;
        uint64 end;
        uint64 openClaim;
        uint128 paid;
        uint128 sumInsured;
        bytes32 modelHash;
    }

    struct Claim {
        address claimant;
        uint64 policyId;
        Status status;
        bool challenged;
        address challenger;
        uint64 approvedAt;
        uint16 fraudBp;
        uint16 confidenceBp;
        uint128 amount;
        uint128 approved;
        uint128 bond;
        uint128 challengeBond;
        bytes32 descriptionHash;
        bytes32 evidenceRoot;
        bytes32 inputCommitment;
    }

    /// @notice The rules of assessment, bonds and the challenge window.
    Rules public rules;
    /// @notice Accounts that post AI assessments.
    mapping(address account => bool) public isAssessor;
    /// @notice Accounts that decide claims sent to review.
    mapping(address account => bool) public isReviewer;
    /// @notice What each account may withdraw.
    mapping(address account => uint256) public owed;
    /// @notice Automatic approvals per day (unix day number), in wei.
    mapping(uint256 day => uint256) public autoApproved;
    /// @notice Whether a claimant has already filed an evidence root.
    mapping(address claimant => mapping(bytes32 evidenceRoot => bool)) public evidenceFiled;
    /// @notice The sum of all `owed`.
    uint256 public totalOwed;
    /// @notice The claimants' and challengers' bonds held.
    uint256 public totalBonds;
    /// @notice The remaining cover of open policies.
    uint256 public exposure;

    Product[] private _products;
    Policy[] private _policies;
    Claim[] private _claims;

    event Funded(address indexed from, uint256 amount);
    event RulesSet(Rules rules);
    event AssessorSet(address indexed account, bool allowed);
    event ReviewerSet(address indexed account, bool allowed);
    event Offered(uint256 indexed productId, uint256 sumInsured, uint256 premium, uint64 term, bytes32 modelHash);
    event Bought(uint256 indexed policyId, uint256 indexed productId, address indexed holder, bytes32 modelHash);
    event ClaimFiled(
        uint256 indexed claimId,
        uint256 indexed policyId,
        address indexed claimant,
        uint256 amount,
        bytes32 descriptionHash,
        bytes32 evidenceRoot
    );
    event Assessed(
        uint256 indexed claimId,
        bytes32 modelHash,
        bytes32 inputCommitment,
        uint16 fraudBp,
        uint16 confidenceBp,
        uint256 assessedAmount
    );
    event Approved(uint256 indexed claimId, uint256 amount, bool automatic, uint256 challengeEnds);
    event ReviewRequired(uint256 indexed claimId, ReviewReason reason);
    event Challenged(uint256 indexed claimId, address indexed challenger, uint256 bond);
    event Rejected(uint256 indexed claimId, address indexed reviewer, uint256 bondForfeited);
    event Paid(uint256 indexed claimId, uint256 indexed policyId, address indexed claimant, uint256 amount);
    event Expired(uint256 indexed policyId, uint256 released);
    event Withdrawn(address indexed account, uint256 amount);

    error ZeroAmount();
    error ZeroCommitment();
    error InvalidRules(string why);
    error UnknownProduct(uint256 productId);
    error UnknownPolicy(uint256 policyId);
    error UnknownClaim(uint256 claimId);
    error WrongPremium(uint256 expected, uint256 got);
    error WrongBond(uint256 expected, uint256 got);
    error InsufficientCapital(uint256 needed, uint256 free);
    error NotHolder(uint256 policyId, address holder, address caller);
    error ClaimInPurchaseBlock(uint256 policyId, uint256 blockNumber);
    error PolicyEnded(uint256 policyId, uint256 end, uint256 now_);
    error PolicyNotEnded(uint256 policyId, uint256 end, uint256 now_);
    error PolicyClosed(uint256 policyId);
    error ClaimOpen(uint256 policyId, uint256 claimId);
    error ExceedsCover(uint256 amount, uint256 remaining);
    error EvidenceReused(address claimant, bytes32 evidenceRoot);
    error NotAssessor(address caller);
    error NotReviewer(address caller);
    error WrongStatus(uint256 claimId, Status status, Status expected);
    error ModelNotPinned(uint256 policyId, bytes32 pinned, bytes32 got);
    error ScoreOutOfRange(uint256 fraudBp, uint256 confidenceBp);
    error AssessedAboveClaim(uint256 assessed, uint256 claimed);
    error ChallengeWindowClosed(uint256 claimId, uint256 ends, uint256 now_);
    error ChallengeWindowOpen(uint256 claimId, uint256 ends, uint256 now_);
    error AlreadyChallenged(uint256 claimId);
    error NothingOwed(address account);
    error TransferFailed(address account, uint256 amount);

    modifier onlyAssessor() {
        if (!isAssessor[msg.sender]) revert NotAssessor(msg.sender);
        _;
    }

    modifier onlyReviewer() {
        if (!isReviewer[msg.sender]) revert NotReviewer(msg.sender);
        _;
    }

    constructor(address initialOwner, Rules memory rules_) Ownable(initialOwner) {
        _setRules(rules_);
    }

    /// @notice Adds capital to the pool.
    function fund() external payable onlyOwner {
        if (msg.value == 0) revert ZeroAmount();
        emit Funded(msg.sender, msg.value);
    }

    /// @notice Replaces the rules; claims already assessed keep their decisions.
    function setRules(Rules calldata rules_) external onlyOwner {
        _setRules(rules_);
    }

    /// @notice Allows or disallows `account` to post assessments.
    function setAssessor(address account, bool allowed) external onlyOwner {
        isAssessor[account] = allowed;
        emit AssessorSet(account, allowed);
    }

    /// @notice Allows or disallows `account` to decide claims in review.
    function setReviewer(address account, bool allowed) external onlyOwner {
        isReviewer[account] = allowed;
        emit ReviewerSet(account, allowed);
    }

    /// @notice Offers a product whose claims are assessed by the model with SHA-256
    /// `modelHash`; returns its id.
    function offer(uint128 sumInsured, uint128 premium, uint64 term, bytes32 modelHash)
        external
        onlyOwner
        returns (uint256 productId)
    {
        if (sumInsured == 0 || term == 0) revert ZeroAmount();
        if (modelHash == bytes32(0)) revert ZeroCommitment();
        productId = _products.length;
        _products.push(Product({sumInsured: sumInsured, premium: premium, term: term, modelHash: modelHash}));
        emit Offered(productId, sumInsured, premium, term, modelHash);
    }

    /// @notice Buys a policy of `productId` for the sender, paying exactly its premium, if the
    /// pool can cover it; the policy pins the product's model hash. Returns the policy id.
    function buy(uint256 productId) external payable returns (uint256 policyId) {
        if (productId >= _products.length) revert UnknownProduct(productId);
        Product storage pr = _products[productId];
        if (msg.value != pr.premium) revert WrongPremium(pr.premium, msg.value);
        uint256 needed = exposure + pr.sumInsured;
        // The balance already holds this premium, which becomes capital.
        uint256 free = _free();
        if (needed > free) revert InsufficientCapital(needed, free);
        exposure = needed;
        policyId = _policies.length;
        _policies.push(
            Policy({
                holder: msg.sender,
                product: uint64(productId),
                closed: false,
                hasOpenClaim: false,
                boughtBlock: uint64(block.number),
                end: uint64(block.timestamp) + pr.term,
                openClaim: 0,
                paid: 0,
                sumInsured: pr.sumInsured,
                modelHash: pr.modelHash
            })
        );
        emit Bought(policyId, productId, msg.sender, pr.modelHash);
    }

    /// @notice Files a claim of `amount` on the sender's policy, with the claim bond; returns
    /// the claim id. `descriptionHash` commits to the description and `evidenceRoot` to the
    /// manifest of the encrypted evidence; neither reveals them.
    function fileClaim(uint256 policyId, uint128 amount, bytes32 descriptionHash, bytes32 evidenceRoot)
        external
        payable
        returns (uint256 claimId)
    {
        Policy storage po = _policy(policyId);
        if (msg.sender != po.holder) revert NotHolder(policyId, po.holder, msg.sender);
        if (block.number <= po.boughtBlock) revert ClaimInPurchaseBlock(policyId, block.number);
        if (po.closed) revert PolicyClosed(policyId);
        if (block.timestamp > po.end) revert PolicyEnded(policyId, po.end, block.timestamp);
        if (po.hasOpenClaim) revert ClaimOpen(policyId, po.openClaim);
        if (amount == 0) revert ZeroAmount();
        uint256 remaining = po.sumInsured - po.paid;
        if (amount > remaining) revert ExceedsCover(amount, remaining);
        if (descriptionHash == bytes32(0) || evidenceRoot == bytes32(0)) revert ZeroCommitment();
        if (evidenceFiled[msg.sender][evidenceRoot]) revert EvidenceReused(msg.sender, evidenceRoot);
        uint128 bond = rules.claimBond;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        evidenceFiled[msg.sender][evidenceRoot] = true;
        totalBonds += bond;
        claimId = _claims.length;
        po.openClaim = uint64(claimId);
        po.hasOpenClaim = true;
        Claim storage c = _claims.push();
        c.policyId = uint64(policyId);
        c.status = Status.Filed;
        c.claimant = msg.sender;
        c.amount = amount;
        c.bond = bond;
        c.descriptionHash = descriptionHash;
        c.evidenceRoot = evidenceRoot;
        emit ClaimFiled(claimId, policyId, msg.sender, amount, descriptionHash, evidenceRoot);
    }

    /// @notice Posts the AI assessment of a filed claim: the fraud probability and the
    /// confidence (basis points), the assessed amount, the hash of the model that ran (the
    /// policy's pinned one) and the commitment to its input. Approves the claim automatically
    /// when every rule allows it; sends it to review otherwise.
    function assess(
        uint256 claimId,
        uint16 fraudBp,
        uint16 confidenceBp,
        uint128 assessedAmount,
        bytes32 modelHash,
        bytes32 inputCommitment
    ) external onlyAssessor {
        Claim storage c = _claimIn(claimId, Status.Filed);
        bytes32 pinned = _policies[c.policyId].modelHash;
        if (modelHash != pinned) revert ModelNotPinned(c.policyId, pinned, modelHash);
        if (fraudBp > BP || confidenceBp > BP) revert ScoreOutOfRange(fraudBp, confidenceBp);
        if (assessedAmount > c.amount) revert AssessedAboveClaim(assessedAmount, c.amount);
        if (inputCommitment == bytes32(0)) revert ZeroCommitment();
        c.fraudBp = fraudBp;
        c.confidenceBp = confidenceBp;
        c.inputCommitment = inputCommitment;
        c.approved = assessedAmount;
        emit Assessed(claimId, modelHash, inputCommitment, fraudBp, confidenceBp, assessedAmount);

        Rules storage r = rules;
        uint256 day = block.timestamp / 1 days;
        ReviewReason reason;
        if (fraudBp >= r.maxFraudBp) reason = ReviewReason.Fraud;
        else if (confidenceBp < r.minConfidenceBp) reason = ReviewReason.Confidence;
        else if (assessedAmount == 0 || assessedAmount > r.autoMaxAmount) reason = ReviewReason.Amount;
        else if (autoApproved[day] + assessedAmount > r.dailyAutoCap) reason = ReviewReason.DailyCap;
        else {
            autoApproved[day] += assessedAmount;
            _approve(claimId, c, assessedAmount, true);
            return;
        }
        c.status = Status.Review;
        emit ReviewRequired(claimId, reason);
    }

    /// @notice Decides a claim in review: approves `amount` (at most what was claimed), which
    /// opens a challenge window, or rejects it, forfeiting the claimant's bond to the pool.
    function review(uint256 claimId, bool approve, uint128 amount) external onlyReviewer {
        Claim storage c = _claimIn(claimId, Status.Review);
        uint256 challengeBond = c.challengeBond;
        if (approve) {
            if (amount == 0) revert ZeroAmount();
            if (amount > c.amount) revert AssessedAboveClaim(amount, c.amount);
            if (challengeBond > 0) {
                // The challenge failed: its bond becomes capital.
                c.challengeBond = 0;
                totalBonds -= challengeBond;
            }
            _approve(claimId, c, amount, false);
            return;
        }
        uint256 bond = c.bond;
        c.status = Status.Rejected;
        c.bond = 0;
        totalBonds -= bond;
        _policies[c.policyId].hasOpenClaim = false;
        if (challengeBond > 0) {
            // The challenge was right: its bond goes back.
            c.challengeBond = 0;
            totalBonds -= challengeBond;
            _credit(c.challenger, challengeBond);
        }
        emit Rejected(claimId, msg.sender, bond);
    }

    /// @notice Sends an approved claim back to review before its challenge window closes,
    /// posting the claim bond; once per claim.
    function challenge(uint256 claimId) external payable {
        Claim storage c = _claimIn(claimId, Status.Approved);
        uint256 ends = uint256(c.approvedAt) + rules.challengeWindow;
        if (block.timestamp >= ends) revert ChallengeWindowClosed(claimId, ends, block.timestamp);
        if (c.challenged) revert AlreadyChallenged(claimId);
        uint128 bond = rules.claimBond;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        c.challenged = true;
        c.challenger = msg.sender;
        c.challengeBond = bond;
        c.status = Status.Review;
        // The approval is withdrawn. Clearing its time also keeps the gas of a later approval
        // from depending on whether it lands in the same second as this one (a rewrite of an
        // unchanged slot costs less), which would make estimates taken a block early too low.
        c.approvedAt = 0;
        totalBonds += bond;
        emit Challenged(claimId, msg.sender, bond);
        emit ReviewRequired(claimId, ReviewReason.Challenge);
    }

    /// @notice Pays an approved claim once its challenge window has closed: the amount and the
    /// bond are credited to the claimant's `owed`.
    function finalize(uint256 claimId) external {
        Claim storage c = _claimIn(claimId, Status.Approved);
        uint256 ends = uint256(c.approvedAt) + rules.challengeWindow;
        if (block.timestamp < ends) revert ChallengeWindowOpen(claimId, ends, block.timestamp);
        Policy storage po = _policies[c.policyId];
        uint128 amount = c.approved;
        uint256 bond = c.bond;
        c.status = Status.Paid;
        c.bond = 0;
        po.paid += amount;
        po.hasOpenClaim = false;
        totalBonds -= bond;
        // An open claim keeps its policy from expiring, so the policy's cover is still in
        // `exposure`.
        exposure -= amount;
        _credit(c.claimant, amount + bond);
        emit Paid(claimId, c.policyId, c.claimant, amount);
    }

    /// @notice Releases the remaining cover of a policy past its end with no open claim.
    function expire(uint256 policyId) external {
        Policy storage po = _policy(policyId);
        if (po.closed) revert PolicyClosed(policyId);
        if (block.timestamp <= po.end) revert PolicyNotEnded(policyId, po.end, block.timestamp);
        if (po.hasOpenClaim) revert ClaimOpen(policyId, po.openClaim);
        uint256 released = po.sumInsured - po.paid;
        po.closed = true;
        exposure -= released;
        emit Expired(policyId, released);
    }

    /// @notice Sends the sender what it is owed.
    function withdraw() external nonReentrant {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    function product(uint256 productId) external view returns (Product memory) {
        if (productId >= _products.length) revert UnknownProduct(productId);
        return _products[productId];
    }

    function policy(uint256 policyId) external view returns (Policy memory) {
        return _policy(policyId);
    }

    function claim(uint256 claimId) external view returns (Claim memory) {
        if (claimId >= _claims.length) revert UnknownClaim(claimId);
        return _claims[claimId];
    }

    /// @notice Capital not committed to owed amounts or held bonds.
    function freeCapital() external view returns (uint256) {
        return _free();
    }

    function _free() private view returns (uint256) {
        return address(this).balance - totalOwed - totalBonds;
    }

    function _setRules(Rules memory r) private {
        if (r.maxFraudBp > BP || r.minConfidenceBp > BP) revert InvalidRules("scores are basis points");
        if (r.challengeWindow == 0) revert InvalidRules("the challenge window is empty");
        if (r.claimBond == 0) revert InvalidRules("the claim bond is zero");
        rules = r;
        emit RulesSet(r);
    }

    function _approve(uint256 claimId, Claim storage c, uint128 amount, bool automatic) private {
        c.status = Status.Approved;
        c.approved = amount;
        c.approvedAt = uint64(block.timestamp);
        emit Approved(claimId, amount, automatic, block.timestamp + rules.challengeWindow);
    }

    function _credit(address account, uint256 amount) private {
        owed[account] += amount;
        totalOwed += amount;
    }

    function _policy(uint256 policyId) private view returns (Policy storage) {
        if (policyId >= _policies.length) revert UnknownPolicy(policyId);
        return _policies[policyId];
    }

    function _claimIn(uint256 claimId, Status expected) private view returns (Claim storage c) {
        if (claimId >= _claims.length) revert UnknownClaim(claimId);
        c = _claims[claimId];
        if (c.status != expected) revert WrongStatus(claimId, c.status, expected);
    }
}
