// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title UptimeFeed
/// @notice Whether Alara's oracle network is up, behind Chainlink's `AggregatorV3Interface`
/// and in the manner of Chainlink's L2 sequencer uptime feeds: the answer is 0 while the
/// network is up and 1 while it is down, `startedAt` is when the current status began, and
/// a consumer refuses a data feed's answer while this one says down and for a grace period
/// after it comes back up (answers made from a thin quorum, or a backlog of stale ones
/// refreshed at once, are what the grace period keeps out).
///
/// Down, for Alara, means the oracle network lost its quorum of healthy sources or nodes:
/// the committee's nodes accepted fewer sources than the quorum (so they do not observe), or
/// too few nodes observed to make a report: fewer than 2f + 1 observations, or fewer than
/// f + 1 nodes to sign. Up means the last round gathered its quorum.
///
/// Rounds: a report that changes the status opens a new round whose `startedAt` is the
/// report's timestamp (when the leader observed the change); a report of the status already
/// held only refreshes the round's `updatedAt` (the block's time), so `startedAt` keeps
/// saying since when the status has held. Report timestamps strictly increase and are never
/// in the future, so an old report (a replay, or one delayed in a mempool past a newer one)
/// cannot bring an old status back. Before the first report every field of
/// `latestRoundData` is zero, which consumers refuse (`startedAt == 0`).
///
/// Who reports: one reporter set by the owner, the account of the oracle network's leader.
/// Not a report signed by the committee: the status matters most when the committee cannot
/// gather f + 1 signers, and that is exactly when it could not sign "down". The owner
/// (Ownable2Step) replaces a lost or compromised reporter.
///
/// A round's data is one storage slot (status, startedAt, updatedAt); answeredInRound is
/// always the round itself.
contract UptimeFeed is AggregatorV3Interface, Ownable2Step {
    /// @notice The answer while the network is up.
    int256 public constant UP = 0;
    /// @notice The answer while the network is down.
    int256 public constant DOWN = 1;

    struct Round {
        bool down;
        uint64 startedAt;
        uint64 updatedAt;
    }

    /// @notice The latest round (zero before the first report).
    uint32 public latestRound;
    /// @notice The timestamp of the latest accepted report; the next one must be later.
    uint64 public latestReportAt;
    /// @notice The one account whose status reports are accepted (zero: none yet).
    address public reporter;

    string private _description;
    mapping(uint32 roundId => Round) private _rounds;

    /// @notice The reporter was replaced.
    event ReporterSet(address indexed previous, address indexed current);
    /// @notice Chainlink's `AggregatorInterface` event: a status change opened round `roundId`.
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    /// @notice Chainlink's `AggregatorInterface` event, emitted with every new round.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice A report confirmed the current status: the round's `updatedAt` moved.
    event RoundUpdated(uint256 indexed roundId, int256 status, uint256 updatedAt);

    error NotReporter(address caller, address reporter);
    error StaleReport(uint64 latest, uint64 got);
    error ReportFromFuture(uint64 timestamp, uint256 now_);
    error NoDataPresent(uint80 roundId);

    constructor(address initialOwner, address reporter_, string memory description_) Ownable(initialOwner) {
        _description = description_;
        reporter = reporter_;
        emit ReporterSet(address(0), reporter_);
    }

    /// @notice Replaces the reporter (zero: no one may report until the next one is set).
    function setReporter(address reporter_) external onlyOwner {
        emit ReporterSet(reporter, reporter_);
        reporter = reporter_;
    }

    /// @notice Reports the network's status as observed at `timestamp` (unix seconds, later
    /// than the latest report's and not in the future): `down` true for down. Opens a round
    /// when the status changes (or on the first report), else refreshes the current round.
    function updateStatus(bool down, uint64 timestamp) external {
        uint32 round = latestRound;
        uint64 latest = latestReportAt;
        address who = reporter;
        if (msg.sender != who) revert NotReporter(msg.sender, who);
        if (timestamp <= latest) revert StaleReport(latest, timestamp);
        if (timestamp > block.timestamp) revert ReportFromFuture(timestamp, block.timestamp);
        uint64 now64 = uint64(block.timestamp);
        int256 answer = down ? DOWN : UP;
        Round storage current = _rounds[round];
        if (round != 0 && current.down == down) {
            current.updatedAt = now64;
            latestReportAt = timestamp;
            emit RoundUpdated(round, answer, now64);
            return;
        }
        uint32 next = round + 1;
        _rounds[next] = Round({down: down, startedAt: timestamp, updatedAt: now64});
        latestRound = next;
        latestReportAt = timestamp;
        emit NewRound(next, msg.sender, timestamp);
        emit AnswerUpdated(answer, next, now64);
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external pure returns (uint8) {
        return 0;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return _description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Reverts with `NoDataPresent` for round 0 and rounds not opened yet.
    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (roundId_ == 0 || roundId_ > latestRound) revert NoDataPresent(roundId_);
        Round memory r = _rounds[uint32(roundId_)];
        return (roundId_, r.down ? DOWN : UP, r.startedAt, r.updatedAt, roundId_);
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Before the first report every field is zero, which consumers refuse.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint32 id = latestRound;
        Round memory r = _rounds[id];
        return (id, r.down ? DOWN : UP, r.startedAt, r.updatedAt, id);
    }
}
