//! Address history: which addresses each mined transaction touched and which contracts it
//! created, recorded by [`AppearanceInspector`] while the miner runs the transaction, and
//! written to the indexes behind `ots_searchTransactionsBefore`/`After` and
//! `ots_getContractCreator` in the same redb transaction as its block (see
//! [`crate::storage`]). Searches read the index and never replay or scan blocks.
//!
//! What a transaction is indexed under ([`Appearances::addresses`]), as erigon's call-trace
//! index and anvil's `ots_` searches match it:
//! - its sender and its recipient (the top-level call frame);
//! - the `from` and `to` of every internal call frame, whether or not it reverted, with
//!   CALL/STATICCALL counted as caller → callee and DELEGATECALL/CALLCODE as the calling
//!   contract → the code it runs (as parity traces write them); a zero-value call from a
//!   contract to a precompile is left out, as both leave it out of their traces;
//! - the creator of every CREATE/CREATE2 frame, and the new contract when the frame
//!   returned its code (the top-level creation included);
//! - the beneficiary of a SELFDESTRUCT (erigon counts it; anvil does not).
//!
//! Contract creators ([`Appearances::creations`]) are only the creations that outlived the
//! transaction: the frame returned code, no frame around it reverted and the transaction
//! succeeded. A contract created in a call that later reverted never existed, so it has no
//! creator.

use std::collections::HashSet;

use alloy::primitives::{Address, U256};
use revm::context::JournalTr;
use revm::context_interface::ContextTr;
use revm::interpreter::{CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome};
use revm::Inspector;

/// What one mined transaction adds to the address-history indexes (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appearances {
    /// Every address the transaction is indexed under, each once, in the order first met.
    pub addresses: Vec<Address>,
    /// `(contract, creator)` for each contract the transaction created that exists after
    /// it; the creator is the account whose CREATE/CREATE2 (or whose transaction) made it.
    pub creations: Vec<(Address, Address)>,
}

/// Records a transaction's [`Appearances`] while it runs.
#[derive(Debug, Default)]
pub struct AppearanceInspector {
    seen: HashSet<Address>,
    appearances: Appearances,
    /// Creations made inside each frame still running, innermost last: a frame that
    /// reverts takes its own and its children's with it.
    frames: Vec<Vec<(Address, Address)>>,
}

impl AppearanceInspector {
    fn touch(&mut self, addr: Address) {
        if self.seen.insert(addr) {
            self.appearances.addresses.push(addr);
        }
    }

    /// Ends the innermost frame: its creations pass to the frame around it, or become the
    /// transaction's when it was the top-level frame, unless it failed.
    fn end_frame(&mut self, ok: bool, created: Option<(Address, Address)>) {
        let Some(mut made) = self.frames.pop() else { return };
        if !ok {
            return;
        }
        made.extend(created);
        match self.frames.last_mut() {
            Some(parent) => parent.extend(made),
            None => self.appearances.creations.extend(made),
        }
    }

    /// What was recorded. `success` is whether the transaction succeeded: a failed one
    /// created nothing, though every address it touched is still indexed.
    pub fn into_appearances(self, success: bool) -> Appearances {
        let mut appearances = self.appearances;
        if !success {
            appearances.creations.clear();
        }
        appearances
    }
}

impl<CTX: ContextTr> Inspector<CTX> for AppearanceInspector {
    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let (from, to) = match inputs.scheme {
            CallScheme::DelegateCall | CallScheme::CallCode => {
                (inputs.target_address, inputs.bytecode_address)
            }
            CallScheme::Call | CallScheme::StaticCall => (inputs.caller, inputs.target_address),
        };
        let journal = context.journal();
        let precompile = journal.depth() > 0
            && inputs.call_value().is_zero()
            && journal.precompile_addresses().contains(&to);
        self.touch(from);
        if !precompile {
            self.touch(to);
        }
        self.frames.push(Vec::new());
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        self.end_frame(outcome.result.is_ok(), None);
    }

    fn create(&mut self, _: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.touch(inputs.caller());
        self.frames.push(Vec::new());
        None
    }

    fn create_end(&mut self, _: &mut CTX, inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        let created = outcome.address.filter(|_| outcome.result.is_ok());
        if let Some(contract) = created {
            self.touch(contract);
        }
        self.end_frame(outcome.result.is_ok(), created.map(|c| (c, inputs.caller())));
    }

    fn selfdestruct(&mut self, _contract: Address, target: Address, _value: U256) {
        self.touch(target);
    }
}
