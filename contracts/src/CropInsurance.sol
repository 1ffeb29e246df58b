// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {UptimeGuard} from "./UptimeGuard.sol";

/// @title CropInsurance
/// @notice Parametric drought cover paid in ETH from a pool funded by the insurer (the owner).
/// The owner offers products: a region, a season [start, end] (unix seconds), trigger and
/// exit levels of a rainfall index (exit < trigger), a sum insured and a premium. Anyone buys
/// a policy of a product before its season starts by paying exactly its premium. The index is
/// the answer of the region's `AggregatorV3Interface` feed (set by the owner, with the largest
/// index plausible for the region): the cumulative precipitation over the season, in the
/// feed's fixed point. The payout is linear between the levels, as in Etherisc's area-yield
/// index formula: index >= trigger pays nothing, index <= exit pays the sum insured, and in
/// between sumInsured * (trigger - index) / (trigger - exit), rounded down. It is computed here from the feed's signed answer; nobody sets it.
///
/// Capital: the pool never sells cover beyond what it holds. The sum of the sums insured of
/// open (unsettled) policies never exceeds the balance minus what is owed to holders. What
/// lies beyond both (`freeCapital`: balance − totalOwed − exposure) the owner may take back
/// with `withdrawCapital`; nothing that covers a policy or is owed to a holder.
///
/// Settlement is by anyone, in batches of at most `MAX_BATCH` policies. Each policy settles
/// once: a batch naming a settled policy reverts with `AlreadySettled` (never silently
/// skipped). Payouts are recorded in `owed` and taken by `withdraw` (pull), so a holder that
/// refuses ETH cannot block a batch or other holders.
///
/// Settlement refuses an answer that a careful consumer must refuse: the oracle network down
/// or back up for less than the grace period (`UptimeGuard`, when the pool has an uptime
/// feed), the season not over, a round never started, an answer carried over from an earlier
/// round, an answer updated before the season's end, an answer older than `MAX_AGE`, a
/// negative answer, and an answer above the region's `maxIndex`, never clamped to it (an
/// implausible rainfall is a broken feed, and paying on it as if it were the bound is how
/// LUNA's floor price paid out). The index is the feed's latest answer: a region's feed
/// reports one season at a time, and a policy is settled on the first answer after its
/// season's end, within `MAX_AGE` of it being reported.
contract CropInsurance is Ownable2Step, ReentrancyGuard, UptimeGuard {
    /// @notice The most policies one `settle` call takes.
    uint256 public constant MAX_BATCH = 50;

    struct Product {
        uint64 start;
        uint64 end;
        uint32 region;
        uint128 trigger;
        uint128 exit;
        uint128 sumInsured;
        uint128 premium;
    }

    struct Policy {
        address holder;
        uint64 product;
        bool settled;
    }

    /// @notice A region's rainfall index feed and the largest index it plausibly answers.
    struct RegionFeed {
        AggregatorV3Interface feed;
        uint96 maxIndex;
    }

    /// @notice The largest age (seconds) of a feed answer that settlement accepts.
    uint256 public immutable MAX_AGE;

    /// @notice The feed of each region's seasonal rainfall index, with its upper bound.
    mapping(uint32 region => RegionFeed) public feeds;
    /// @notice What each holder may withdraw.
    mapping(address holder => uint256) public owed;
    /// @notice The sum of all `owed`.
    uint256 public totalOwed;
    /// @notice The sum of the sums insured of open policies.
    uint256 public exposure;

    Product[] private _products;
    Policy[] private _policies;

    event Funded(address indexed from, uint256 amount);
    event FeedSet(uint32 indexed region, address feed, uint256 maxIndex);
    event Offered(uint256 indexed productId, uint32 indexed region, uint64 start, uint64 end);
    event Bought(uint256 indexed policyId, uint256 indexed productId, address indexed holder, uint256 premium);
    event Settled(uint256 indexed policyId, uint256 index, uint256 payout);
    event Withdrawn(address indexed holder, uint256 amount);
    event CapitalWithdrawn(address indexed owner, uint256 amount);

    error ZeroAmount();
    error InvalidSeason(uint64 start, uint64 end);
    error InvalidLevels(uint256 trigger, uint256 exit);
    error UnknownProduct(uint256 productId);
    error UnknownPolicy(uint256 policyId);
    error SeasonStarted(uint256 start, uint256 now_);
    error WrongPremium(uint256 expected, uint256 got);
    error InsufficientCapital(uint256 needed, uint256 free);
    error BatchTooLarge(uint256 got, uint256 max);
    error AlreadySettled(uint256 policyId);
    error SeasonNotOver(uint256 end, uint256 now_);
    error FeedNotSet(uint32 region);
    error RoundNotStarted(uint80 roundId);
    error IncompleteRound(uint80 roundId, uint80 answeredInRound);
    error AnswerBeforeSeasonEnd(uint256 updatedAt, uint256 end);
    error StaleAnswer(uint256 updatedAt, uint256 maxAge, uint256 now_);
    error NegativeAnswer(int256 answer);
    error IndexOutOfBounds(int256 answer, uint256 max);
    error InvalidMaxIndex(uint256 maxIndex);
    error ExceedsFreeCapital(uint256 amount, uint256 free);
    error NothingOwed(address holder);
    error TransferFailed(address holder, uint256 amount);

    /// @param uptimeFeed the oracle network's uptime feed (zero: none), checked at settlement
    /// @param gracePeriod seconds after the uptime feed came back up during which settlement
    /// is still refused
    constructor(address initialOwner, uint256 maxAge, AggregatorV3Interface uptimeFeed, uint256 gracePeriod)
        Ownable(initialOwner)
        UptimeGuard(uptimeFeed, gracePeriod)
    {
        MAX_AGE = maxAge;
    }

    /// @notice Adds capital to the pool.
    function fund() external payable onlyOwner {
        if (msg.value == 0) revert ZeroAmount();
        emit Funded(msg.sender, msg.value);
    }

    /// @notice Sets (or replaces) the feed of `region` and the largest index it plausibly
    /// answers (in the feed's fixed point, at least 1): settlement refuses any answer above it.
    function setFeed(uint32 region, AggregatorV3Interface feed, uint96 maxIndex) external onlyOwner {
        if (maxIndex == 0) revert InvalidMaxIndex(maxIndex);
        feeds[region] = RegionFeed({feed: feed, maxIndex: maxIndex});
        emit FeedSet(region, address(feed), maxIndex);
    }

    /// @notice Capital that covers no open policy and is owed to no holder: what
    /// `withdrawCapital` may take.
    function freeCapital() public view returns (uint256) {
        uint256 locked = totalOwed + exposure;
        uint256 balance = address(this).balance;
        return balance > locked ? balance - locked : 0;
    }

    /// @notice Sends the owner `amount` of free capital (see `freeCapital`); more is refused.
    function withdrawCapital(uint256 amount) external onlyOwner nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 free = freeCapital();
        if (amount > free) revert ExceedsFreeCapital(amount, free);
        emit CapitalWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Offers a product; returns its id.
    function offer(uint32 region, uint64 start, uint64 end, uint128 trigger, uint128 exit, uint128 sumInsured, uint128 premium)
        external
        onlyOwner
        returns (uint256 productId)
    {
        if (start >= end) revert InvalidSeason(start, end);
        if (exit >= trigger) revert InvalidLevels(trigger, exit);
        if (sumInsured == 0) revert ZeroAmount();
        productId = _products.length;
        _products.push(
            Product({
                start: start,
                end: end,
                region: region,
                trigger: trigger,
                exit: exit,
                sumInsured: sumInsured,
                premium: premium
            })
        );
        emit Offered(productId, region, start, end);
    }

    /// @notice Buys a policy of `productId` for the sender, paying exactly its premium, before
    /// its season starts and only if the pool can cover it; returns the policy id.
    function buy(uint256 productId) external payable returns (uint256 policyId) {
        if (productId >= _products.length) revert UnknownProduct(productId);
        Product storage pr = _products[productId];
        if (block.timestamp >= pr.start) revert SeasonStarted(pr.start, block.timestamp);
        if (msg.value != pr.premium) revert WrongPremium(pr.premium, msg.value);
        uint256 needed = exposure + pr.sumInsured;
        // The balance already holds this premium, which becomes capital.
        uint256 free = address(this).balance - totalOwed;
        if (needed > free) revert InsufficientCapital(needed, free);
        exposure = needed;
        policyId = _policies.length;
        _policies.push(Policy({holder: msg.sender, product: uint64(productId), settled: false}));
        emit Bought(policyId, productId, msg.sender, msg.value);
    }

    /// @notice The payout of a policy of product `productId` at `index`.
    function payoutOf(uint256 productId, uint256 index) external view returns (uint256) {
        if (productId >= _products.length) revert UnknownProduct(productId);
        return _payout(_products[productId], index);
    }

    function product(uint256 productId) external view returns (Product memory) {
        if (productId >= _products.length) revert UnknownProduct(productId);
        return _products[productId];
    }

    function policy(uint256 policyId) external view returns (Policy memory) {
        if (policyId >= _policies.length) revert UnknownPolicy(policyId);
        return _policies[policyId];
    }

    /// @notice Settles the policies `ids` (at most `MAX_BATCH`) from their regions' feeds,
    /// crediting each payout to its holder's `owed`.
    function settle(uint256[] calldata ids) external {
        uint256 count = ids.length;
        if (count > MAX_BATCH) revert BatchTooLarge(count, MAX_BATCH);
        // Once per batch: the network's status is the same for every policy in it.
        _checkUptime();
        uint256 nPolicies = _policies.length;
        uint256 released = 0;
        uint256 credited = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 id = ids[i];
            if (id >= nPolicies) revert UnknownPolicy(id);
            Policy storage po = _policies[id];
            if (po.settled) revert AlreadySettled(id);
            Product storage pr = _products[po.product];
            uint256 index = _index(pr.region, pr.end);
            uint256 payout = _payout(pr, index);
            po.settled = true;
            released += pr.sumInsured;
            if (payout > 0) {
                owed[po.holder] += payout;
                credited += payout;
            }
            emit Settled(id, index, payout);
        }
        exposure -= released;
        totalOwed += credited;
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

    /// @dev The region's latest answer, once it passes every check for a season ending `end`.
    function _index(uint32 region, uint256 end) private view returns (uint256) {
        if (block.timestamp < end) revert SeasonNotOver(end, block.timestamp);
        RegionFeed memory rf = feeds[region];
        AggregatorV3Interface feed = rf.feed;
        if (address(feed) == address(0)) revert FeedNotSet(region);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        if (startedAt == 0) revert RoundNotStarted(roundId);
        if (answeredInRound < roundId) revert IncompleteRound(roundId, answeredInRound);
        if (updatedAt < end) revert AnswerBeforeSeasonEnd(updatedAt, end);
        if (updatedAt > block.timestamp || block.timestamp - updatedAt > MAX_AGE) {
            revert StaleAnswer(updatedAt, MAX_AGE, block.timestamp);
        }
        if (answer < 0) revert NegativeAnswer(answer);
        if (uint256(answer) > rf.maxIndex) revert IndexOutOfBounds(answer, rf.maxIndex);
        return uint256(answer);
    }

    function _payout(Product storage pr, uint256 index) private view returns (uint256) {
        uint256 trigger = pr.trigger;
        uint256 exit = pr.exit;
        if (index >= trigger) return 0;
        if (index <= exit) return pr.sumInsured;
        return uint256(pr.sumInsured) * (trigger - index) / (trigger - exit);
    }
}
