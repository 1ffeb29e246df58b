// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

// Chainlink's price-feed interface, declared function for function as `@chainlink/contracts`
// publishes it (`src/v0.8/shared/interfaces/AggregatorV3Interface.sol`), so its ABI and
// selectors are the ones every Chainlink consumer calls. The npm package is not among this
// repository's pinned tools; with it installed, a consumer can import the package's file
// instead of this one without any other change.

// solhint-disable-next-line interface-starts-with-i
interface AggregatorV3Interface {
  function decimals() external view returns (uint8);

  function description() external view returns (string memory);

  function version() external view returns (uint256);

  function getRoundData(
    uint80 _roundId
  ) external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

  function latestRoundData()
    external
    view
    returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
