//! What one HTTP request (a single call or a whole batch) may cost the node, and the pool
//! that runs the EVM for `eth_call`-like methods off the threads that answer everything
//! else.
//!
//! The caps of [`crate::NodeConfig`] are per request, and a batch shares them: its logs
//! in total ([`crate::NodeConfig::max_logs_results`]), its answer's bytes
//! ([`crate::NodeConfig::max_response_bytes`]) and the blocks it mines
//! ([`crate::NodeConfig::max_mine_blocks`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::RpcError;
use crate::NodeConfig;

/// JSON-RPC error code of an answer over [`NodeConfig::max_response_bytes`] (geth's).
pub const RESPONSE_TOO_LARGE: i64 = -32003;
/// JSON-RPC error code of a request over a limit (as public providers answer).
pub const LIMIT_EXCEEDED: i64 = -32005;

/// What is left of one HTTP request's allowance.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Logs the rest of the request may return.
    pub logs_left: usize,
    /// Answer bytes the rest of the request may take.
    pub bytes_left: usize,
    /// Blocks the rest of the request may mine.
    pub blocks_left: u64,
}

impl Budget {
    /// The allowance of one HTTP request under `config`.
    pub fn new(config: &NodeConfig) -> Self {
        Self {
            logs_left: config.max_logs_results,
            bytes_left: config.max_response_bytes,
            blocks_left: config.max_mine_blocks,
        }
    }

    /// Takes `blocks` mined blocks from the allowance, or says why they cannot be mined.
    pub fn take_blocks(
        &mut self,
        method: &str,
        blocks: u64,
        config: &NodeConfig,
    ) -> Result<(), RpcError> {
        let max = config.max_mine_blocks;
        if blocks > max {
            return Err(RpcError::invalid_params(format!(
                "{method}: {blocks} blocks is too many: at most {max} blocks may be mined per \
                 call (raise the limit with --max-mine-blocks)"
            )));
        }
        if blocks > self.blocks_left {
            return Err(RpcError::invalid_params(format!(
                "{method}: {blocks} blocks is too many: at most {max} blocks may be mined per \
                 batch and {} are left (send the rest in another request, or raise the limit \
                 with --max-mine-blocks)",
                self.blocks_left
            )));
        }
        self.blocks_left -= blocks;
        Ok(())
    }

    /// Takes `len` bytes of answer from the allowance; false when they do not fit (and the
    /// answer must be replaced by [`Budget::too_large`]).
    pub fn take_bytes(&mut self, len: usize) -> bool {
        match self.bytes_left.checked_sub(len) {
            Some(left) => {
                self.bytes_left = left;
                true
            }
            None => {
                // Nothing more fits: later answers are refused too, even small ones, so that
                // a batch's answer is a prefix of what it asked for plus errors.
                self.bytes_left = 0;
                false
            }
        }
    }

    /// The error answering a request whose answer did not fit.
    pub fn too_large(config: &NodeConfig) -> RpcError {
        RpcError::new(
            RESPONSE_TOO_LARGE,
            format!(
                "response too large: the answer to one HTTP request may hold at most {} bytes \
                 (raise the limit with --max-response-bytes, or split the batch)",
                config.max_response_bytes
            ),
        )
    }
}

/// The bounded pool that runs the EVM for RPC methods, with a time budget per request.
///
/// Every method that executes transactions for an answer — `eth_call`, `eth_estimateGas`,
/// the gas estimate of `eth_sendTransaction`, `debug_traceTransaction`/`debug_traceCall`,
/// the `ots_*` methods that replay a transaction (`ots_traceTransaction`,
/// `ots_getInternalOperations`, `ots_getTransactionError`), and `eth_getProof` (which may
/// rewind the tries to an old block) —
/// goes through [`EvmPool::run`]: the work runs on a blocking thread (never on an I/O
/// worker), at most [`NodeConfig::evm_workers`] at a time, and the caller gets an error
/// once [`NodeConfig::evm_timeout`] has passed.
#[derive(Debug)]
pub struct EvmPool {
    permits: Arc<Semaphore>,
    timeout: Duration,
    workers: usize,
}

/// Set when the request that started a piece of EVM work has given up on it, so that work
/// made of several executions (gas estimation) stops at the next one.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Whether the requester has given up.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Cancels on drop: the request's future was dropped (the client went away) or timed out.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl EvmPool {
    /// The pool `config` asks for.
    pub fn new(config: &NodeConfig) -> Self {
        let workers = config.evm_workers.clamp(1, Semaphore::MAX_PERMITS);
        Self { permits: Arc::new(Semaphore::new(workers)), timeout: config.evm_timeout, workers }
    }

    /// Runs `work` on the pool; `method` names the request in the error when the time
    /// budget runs out. The permit is held until `work` returns, so abandoned work still
    /// counts against the pool.
    pub async fn run<T, F>(&self, method: &str, work: F) -> Result<T, RpcError>
    where
        T: Send + 'static,
        F: FnOnce(&Cancel) -> Result<T, RpcError> + Send + 'static,
    {
        let cancel = Cancel::default();
        let guard = CancelOnDrop(cancel.clone());
        let permits = self.permits.clone();
        let job = async move {
            let permit = permits
                .acquire_owned()
                .await
                .map_err(|_| RpcError::new(-32603, "the EVM pool is closed"))?;
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                if cancel.is_cancelled() {
                    return Err(RpcError::new(
                        -32000,
                        "execution aborted (the request was dropped)",
                    ));
                }
                work(&cancel)
            });
            task.await.map_err(|e| RpcError::new(-32603, format!("EVM worker failed: {e}")))?
        };
        let result = tokio::time::timeout(self.timeout, job).await;
        drop(guard);
        result.unwrap_or_else(|_| {
            Err(RpcError::new(
                -32000,
                format!(
                    "execution aborted: {method} exceeded the time budget of {:?} per request \
                     ({} EVM worker(s); raise the budget with --evm-timeout or \
                     NodeConfig::evm_timeout)",
                    self.timeout, self.workers
                ),
            ))
        })
    }
}
