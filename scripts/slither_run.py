"""Slither's command line (same arguments as `slither`), with one upstream bug fixed.

Slither 0.11.6 merges the `using ... for` directives a contract inherits with
`dict.update`, so when two parents both have `using L for *` only the last parent's library
survives. DataMarket inherits `using TransientSlot for *` (ReentrancyGuardTransient) and
`using ShortStrings for *` (EIP712): Slither then cannot resolve `toShortStringWithFallback`,
marks DataMarket as incorrectly parsed and skips its SSA form, which silently disables the
data-flow based detectors and the call graph (reachability) for the whole contract.

The fix below merges the inherited directives as Solidity does: the union of every parent's
libraries for each type. It is tied to the pinned version (scripts/requirements-test.txt);
on any other version this fails, so the next upgrade re-checks whether it is still needed.
"""

import sys
from importlib.metadata import version

PINNED = "0.11.6"


def _fix_inherited_using_for() -> None:
    from slither.solc_parsing.declarations.contract import ContractSolc

    upstream = ContractSolc.analyze_using_for

    def analyze_using_for(self) -> None:
        upstream(self)
        using_for = self._contract.using_for
        for father in self._contract.inheritance:
            for key, libraries in father.using_for.items():
                # A fresh list: upstream shares the parent's list with the child.
                merged = list(using_for.get(key, []))
                merged += [lib for lib in libraries if lib not in merged]
                using_for[key] = merged

    ContractSolc.analyze_using_for = analyze_using_for


def main() -> None:
    installed = version("slither-analyzer")
    if installed != PINNED:
        sys.exit(
            f"error: {__file__} patches slither-analyzer {PINNED}, found {installed}: check "
            "whether the inherited `using for` merge is fixed upstream, then update PINNED"
        )
    _fix_inherited_using_for()
    from slither.__main__ import main as slither_main

    sys.argv[0] = "slither"
    slither_main()


if __name__ == "__main__":
    main()
