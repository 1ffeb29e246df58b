// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// A contract created by another one: it takes value, answers, and can self-destruct.
contract OtsChild {
    address public immutable parent;

    constructor() payable {
        parent = msg.sender;
    }

    function ping() external payable returns (uint256) {
        return msg.value;
    }

    /// Since Cancun only sends the balance away (the account stays, it was not created in
    /// the same transaction), which is what Otterscan shows as a self-destruct.
    function vanish(address payable to) external {
        selfdestruct(to);
    }
}

/// What the Otterscan tests of the embedded chain run on both backends: reverts with a
/// reason and with a custom error, value sent in internal calls, internal CREATE and
/// CREATE2, a contract calling another, and a creation undone by a caught revert.
contract OtsProbe {
    error Refused(uint256 code, address who);

    event FannedOut(address indexed to, uint256 value, address child);

    uint256 public salt;
    OtsChild public lastChild;

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function refuse(uint256 code) external view {
        revert Refused(code, msg.sender);
    }

    /// Half the value to `to`, a quarter into a new child (CREATE), one wei to the child's
    /// `ping`, and an empty child by CREATE2.
    function fanOut(address payable to) public payable returns (address) {
        to.transfer(msg.value / 2);
        OtsChild child = new OtsChild{value: msg.value / 4}();
        child.ping{value: 1}();
        salt += 1;
        new OtsChild{salt: bytes32(salt)}();
        lastChild = child;
        emit FannedOut(to, msg.value / 2, address(child));
        return address(child);
    }

    /// A contract calling another: `other.fanOut` with all the value.
    function relay(OtsProbe other, address payable to) external payable returns (address) {
        return other.fanOut{value: msg.value}(to);
    }

    /// Creates a child and pays `to` inside a call that reverts, and carries on: the child
    /// never exists and the payment never happens, though both were attempted.
    function attempt(address payable to) external payable {
        try this.createThenFail{value: msg.value}(to) {} catch {}
    }

    function createThenFail(address payable to) external payable {
        new OtsChild{value: msg.value / 2}();
        to.transfer(msg.value / 2);
        revert("undone");
    }
}
