// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title AlaraToken (ALR)
/// @notice The platform's ERC-20: pays for inference, data and compute, funds reward pools.
/// Fixed supply minted once to `treasury`; EIP-2612 `permit` lets users approve by signature.
contract AlaraToken is ERC20, ERC20Permit {
    constructor(address treasury, uint256 supply) ERC20("Alara", "ALR") ERC20Permit("Alara") {
        _mint(treasury, supply);
    }
}
