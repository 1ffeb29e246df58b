// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {UptimeGuard} from "../UptimeGuard.sol";

/// @title FeedConsumer
/// @notice A consumer of any Chainlink-style feed, written only against
/// `AggregatorV3Interface`, that refuses what a careful consumer must refuse: a round that
/// never started (`startedAt == 0`), an answer older than `maxAge`, an answer carried over
/// from an earlier round (`answeredInRound < roundId`), and an answer outside its own bounds
/// [`minAnswer`, `maxAnswer`]. It never clamps: an answer at a bound is accepted, one past
/// it is an error, never the bound. Before any of that it checks the oracle network's uptime
/// feed, if it has one (`UptimeGuard`: refused while down and for a grace period after).
contract FeedConsumer is UptimeGuard {
    AggregatorV3Interface public immutable FEED;
    uint256 public immutable MAX_AGE;
    int256 public immutable MIN_ANSWER;
    int256 public immutable MAX_ANSWER;

    error RoundNotStarted(uint80 roundId);
    error StaleAnswer(uint256 updatedAt, uint256 maxAge, uint256 now_);
    error IncompleteRound(uint80 roundId, uint80 answeredInRound);
    error AnswerOutOfBounds(int256 answer, int256 minAnswer, int256 maxAnswer);
    error InvalidBounds(int256 minAnswer, int256 maxAnswer);

    constructor(
        AggregatorV3Interface feed,
        uint256 maxAge,
        int256 minAnswer,
        int256 maxAnswer,
        AggregatorV3Interface uptimeFeed,
        uint256 gracePeriod
    ) UptimeGuard(uptimeFeed, gracePeriod) {
        if (minAnswer > maxAnswer) revert InvalidBounds(minAnswer, maxAnswer);
        FEED = feed;
        MAX_AGE = maxAge;
        MIN_ANSWER = minAnswer;
        MAX_ANSWER = maxAnswer;
    }

    /// @notice The feed's latest answer, with its round and update time, once it passes
    /// every check.
    function read() external view returns (int256 answer, uint80 roundId, uint256 updatedAt) {
        uint256 startedAt;
        uint80 answeredInRound;
        _checkUptime();
        (roundId, answer, startedAt, updatedAt, answeredInRound) = FEED.latestRoundData();
        if (startedAt == 0) revert RoundNotStarted(roundId);
        if (updatedAt > block.timestamp || block.timestamp - updatedAt > MAX_AGE) {
            revert StaleAnswer(updatedAt, MAX_AGE, block.timestamp);
        }
        if (answeredInRound < roundId) revert IncompleteRound(roundId, answeredInRound);
        if (answer < MIN_ANSWER || answer > MAX_ANSWER) revert AnswerOutOfBounds(answer, MIN_ANSWER, MAX_ANSWER);
    }
}
