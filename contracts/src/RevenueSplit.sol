// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {ModelRegistry} from "./ModelRegistry.sol";

/// @title RevenueSplit
/// @notice What InferenceChannels and ModelLicense share: exact payment intake, the split of
/// a payment for a model version between its parents and its owner, and pull payments.
///
/// A payment of `amount` for (modelId, version) credits each parent the registry lists
/// `amount * bps / 10000` (rounded down) and the model's current owner the remainder, so the
/// credits add up to `amount` exactly and no dust is lost. At most `MAX_PARENTS` parents, so
/// the loop is bounded. Credits are withdrawn by their payee with `withdraw(token)`: nobody
/// is ever paid inside a settlement, so a payee that refuses ETH blocks only itself.
///
/// Token payments must arrive in full: a token that takes a fee on transfer is refused, so
/// what is owed never exceeds what is held.
abstract contract RevenueSplit is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The registry whose owners and parents are paid.
    ModelRegistry public immutable REGISTRY;

    /// @notice Withdrawable balance per account and token (address(0) = ETH).
    mapping(address account => mapping(address token => uint256 amount)) public owed;

    /// @notice `account` withdrew `amount` of `token`.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice The registry given to the constructor has no code.
    error RegistryNotAContract(address registry);
    /// @notice `msg.value` is not what the call costs (0 for token payments).
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The token delivered `received` of `expected`: fee-on-transfer tokens are refused.
    error FeeOnTransfer(address token, uint256 expected, uint256 received);
    /// @notice Nothing is owed to `account` in `token`.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending `amount` of ETH to `to` failed.
    error TransferFailed(address to, uint256 amount);

    constructor(address registry) {
        if (registry.code.length == 0) revert RegistryNotAContract(registry);
        REGISTRY = ModelRegistry(registry);
    }

    /// @notice Pays out everything credited to the caller in `token` (address(0) = ETH);
    /// returns the amount.
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = owed[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        owed[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert TransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    /// @dev Takes exactly `amount` from the caller: ETH as `msg.value`, a token by
    /// `transferFrom` with the balance delta checked. Callers are `nonReentrant`.
    function _collect(address token, uint256 amount) internal {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongPayment(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert WrongPayment(0, msg.value);
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = t.balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransfer(token, amount, received);
    }

    /// @dev Credits `amount` of `token`, paid under `ref` (a channel or licence id) for
    /// version `version` of `modelId`: each parent its share, the model's owner the rest.
    function _split(uint256 ref, uint256 modelId, uint32 version, address token, uint256 amount) internal {
        ModelRegistry.Parent[] memory ps = REGISTRY.parents(modelId, version);
        address owner = REGISTRY.model(modelId).owner;
        uint256 rest = amount;
        for (uint256 i = 0; i < ps.length; ++i) {
            uint256 share = amount * ps[i].bps / 10_000;
            if (share == 0) continue;
            rest -= share;
            _credit(ps[i].payee, token, share);
            _paid(ref, ps[i].payee, share);
        }
        if (rest > 0) {
            _credit(owner, token, rest);
            _paid(ref, owner, rest);
        }
    }

    /// @dev Every payment credits through here; `withdraw` pays it out.
    function _credit(address account, address token, uint256 amount) internal {
        owed[account][token] += amount;
    }

    /// @dev Emits the contract's own event for one credit of a split.
    function _paid(uint256 ref, address payee, uint256 amount) internal virtual;
}
