// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title UptimeGuard
/// @notice The check a consumer makes of an uptime feed (`UptimeFeed`, or any feed answering
/// as Chainlink's L2 sequencer uptime feeds do: 0 up, 1 down) before it trusts a data feed,
/// following Chainlink's documented sequencer check: refuse while the feed is not up
/// (`FeedDown`), and for `GRACE_PERIOD` seconds after it came back up (`GracePeriodNotOver`),
/// so that answers made from a thin quorum, or refreshed all at once after an outage, are not
/// acted on before everyone had the time to react. A feed with no round yet (`startedAt == 0`)
/// is refused (`UptimeRoundNotStarted`): its zero answer would otherwise read as "up since
/// 1970". Any answer but 0 is "not up". `startedAt` past the block's time (which `UptimeFeed`
/// never reports) counts as within the grace period rather than underflowing.
///
/// The uptime feed's own `updatedAt` is not checked, as in Chainlink's pattern: it is
/// reported on change, not on a heartbeat; a network that stopped reporting at all is caught
/// by the data feed's staleness check, which every consumer makes as well.
///
/// `UPTIME_FEED` zero means none: the check passes.
abstract contract UptimeGuard {
    /// @notice The uptime feed checked before every read (zero: none).
    AggregatorV3Interface public immutable UPTIME_FEED;
    /// @notice Seconds after the feed came back up during which reads are still refused.
    uint256 public immutable GRACE_PERIOD;

    error FeedDown();
    error GracePeriodNotOver(uint256 startedAt, uint256 grace, uint256 now_);
    error UptimeRoundNotStarted(uint80 roundId);

    constructor(AggregatorV3Interface uptimeFeed, uint256 gracePeriod) {
        UPTIME_FEED = uptimeFeed;
        GRACE_PERIOD = gracePeriod;
    }

    /// @dev Reverts unless the uptime feed (if any) has been up for more than `GRACE_PERIOD`.
    function _checkUptime() internal view {
        AggregatorV3Interface feed = UPTIME_FEED;
        if (address(feed) == address(0)) return;
        // slither-disable-next-line unused-return -- updatedAt and answeredInRound say nothing here: a status is reported on change, and each round answers itself
        (uint80 roundId, int256 answer, uint256 startedAt,,) = feed.latestRoundData();
        if (startedAt == 0) revert UptimeRoundNotStarted(roundId);
        if (answer != 0) revert FeedDown();
        if (startedAt > block.timestamp || block.timestamp - startedAt <= GRACE_PERIOD) {
            revert GracePeriodNotOver(startedAt, GRACE_PERIOD, block.timestamp);
        }
    }
}
