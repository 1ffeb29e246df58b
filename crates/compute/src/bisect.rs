//! The bisection both parties of a dispute play, off-chain: the same rules as
//! `DisputeGame`, so a party can plan its moves and tests can check the game finds the
//! faulty operator.

use alloy::primitives::B256;

use crate::trace::{final_leaf, state_leaf, Trace};

/// An interval on which two traces agree at `lo` and disagree at `hi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bisection {
    /// The last step both agree on.
    pub lo: u64,
    /// The first known step they disagree on.
    pub hi: u64,
    /// The agreed leaf at `lo`.
    pub agreed: B256,
    /// The claimer's leaf at `hi`.
    pub claimer_hi: B256,
    /// The challenger's leaf at `hi`.
    pub challenger_hi: B256,
    /// Rounds played.
    pub rounds: u32,
}

impl Bisection {
    /// The start of a game over `n` steps between a claim of `claimed` and one of
    /// `challenged` correct answers.
    pub fn new(n: u64, claimed: u64, challenged: u64) -> Bisection {
        Bisection {
            lo: 0,
            hi: n,
            agreed: state_leaf(0, B256::ZERO, 0),
            claimer_hi: final_leaf(n, claimed),
            challenger_hi: final_leaf(n, challenged),
            rounds: 0,
        }
    }

    /// `true` once only one step is left to re-execute.
    pub fn is_done(&self) -> bool {
        self.hi <= self.lo + 1
    }

    /// The step both parties reveal next.
    pub fn mid(&self) -> u64 {
        (self.lo + self.hi) / 2
    }

    /// Records both parties' leaves at [`Bisection::mid`].
    pub fn record(&mut self, claimer: B256, challenger: B256) {
        let mid = self.mid();
        if claimer == challenger {
            self.lo = mid;
            self.agreed = claimer;
        } else {
            self.hi = mid;
            self.claimer_hi = claimer;
            self.challenger_hi = challenger;
        }
        self.rounds += 1;
    }

    /// Plays two traces to the step to re-execute.
    pub fn play(claimer: &Trace, challenger: &Trace) -> Bisection {
        let mut b = Bisection::new(claimer.n(), claimer.correct(), challenger.correct());
        while !b.is_done() {
            let mid = b.mid();
            b.record(
                claimer.leaf(mid).unwrap_or_default(),
                challenger.leaf(mid).unwrap_or_default(),
            );
        }
        b
    }
}

/// The most rounds a game over `n` steps takes: `⌈log2 n⌉`.
pub fn max_rounds(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_rounds_is_the_ceiling_of_log2() {
        for (n, r) in [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (1 << 20, 20)] {
            assert_eq!(max_rounds(n), r, "n = {n}");
        }
    }
}
