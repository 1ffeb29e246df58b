//! Transactions waiting to be mined: queued by sender and nonce, taken first come,
//! first served.

use std::collections::{BTreeMap, HashMap};

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::primitives::{Address, B256};
use tokio::sync::oneshot;

use crate::Result;

/// A transaction waiting to be mined.
pub(super) struct PoolTx {
    pub(super) envelope: TxEnvelope,
    pub(super) hash: B256,
    pub(super) sender: Address,
    pub(super) reply: Option<oneshot::Sender<Result<B256>>>,
    /// Arrival order in the pool: a block takes transactions first come, first served.
    pub(super) arrival: u64,
}

/// Queued transactions by sender and nonce.
#[derive(Default)]
pub(super) struct Pool {
    pub(super) by_sender: HashMap<Address, BTreeMap<u64, PoolTx>>,
    arrivals: u64,
}

impl Pool {
    /// Queues a newly arrived transaction; returns the one it replaces.
    pub(super) fn insert(&mut self, mut tx: PoolTx) -> Option<PoolTx> {
        self.arrivals += 1;
        tx.arrival = self.arrivals;
        self.put_back(tx)
    }

    /// Queues a transaction again, keeping its place in the arrival order.
    pub(super) fn put_back(&mut self, tx: PoolTx) -> Option<PoolTx> {
        self.by_sender.entry(tx.sender).or_default().insert(tx.envelope.nonce(), tx)
    }

    pub(super) fn highest_nonce(&self, addr: &Address) -> Option<u64> {
        self.by_sender.get(addr).and_then(|m| m.keys().next_back().copied())
    }

    pub(super) fn take(&mut self, addr: &Address, nonce: u64) -> Option<PoolTx> {
        let queue = self.by_sender.get_mut(addr)?;
        let tx = queue.remove(&nonce);
        if queue.is_empty() {
            self.by_sender.remove(addr);
        }
        tx
    }
}
