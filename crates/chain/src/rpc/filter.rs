//! Log queries and installed filters (`eth_getLogs`, `eth_newFilter`,
//! `eth_getFilterChanges`, ...), with the range and result caps of [`crate::NodeConfig`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{B256, U256};
use alloy::rpc::types::{Filter, FilterBlockOption, Log};

use super::api::EthApi;
use super::convert::{self, to_value, RpcResult};
use super::limits::Budget;
use super::RpcError;
use crate::storage::StorageReader;

/// Filters not polled for this long are dropped, as in geth.
const FILTER_TTL: Duration = Duration::from_secs(300);

/// What an installed filter reports.
pub(super) enum FilterKind {
    Logs(Box<Filter>),
    Blocks,
    PendingTransactions,
}

struct InstalledFilter {
    kind: FilterKind,
    next_block: u64,
    last_poll: Instant,
}

/// The installed filters, by id.
pub(super) struct Filters {
    installed: HashMap<U256, InstalledFilter>,
    next_id: u64,
}

impl Default for Filters {
    fn default() -> Self {
        Self { installed: HashMap::new(), next_id: 1 }
    }
}

impl EthApi {
    /// Logs matching `filter`; `since` overrides the start block (filter polling).
    pub(super) fn logs(
        &self,
        reader: &StorageReader,
        filter: &Filter,
        since: Option<u64>,
        budget: &mut Budget,
    ) -> std::result::Result<Vec<Log>, RpcError> {
        let head = self.head(reader)?;
        let (from, to) = match &filter.block_option {
            FilterBlockOption::AtBlockHash(h) => {
                let n = reader
                    .block_number(h)?
                    .ok_or_else(|| RpcError::new(-32000, "unknown block"))?;
                (n, n)
            }
            FilterBlockOption::Range { from_block, to_block } => {
                // An open start means "latest" for eth_getLogs and "since the last poll"
                // for an installed filter.
                let resolve = |t: &Option<BlockNumberOrTag>, open: u64| match t {
                    None => open,
                    Some(BlockNumberOrTag::Earliest) => 0,
                    Some(BlockNumberOrTag::Number(n)) => (*n).min(head),
                    Some(_) => head,
                };
                (resolve(from_block, since.unwrap_or(head)), resolve(to_block, head))
            }
        };
        let from = since.map_or(from, |s| s.max(from));
        if from > to {
            return Ok(Vec::new());
        }
        let config = self.node.config();
        if budget.logs_left == 0 {
            // Earlier queries of the batch returned all it may: refused without a scan.
            return Err(batch_logs_spent(config.max_logs_results));
        }
        if let Some(max) = config.max_logs_range {
            let span = to - from + 1;
            if span > max {
                let last = from.saturating_add(max.saturating_sub(1)).min(to);
                return Err(RpcError::new(
                    -32005,
                    format!(
                        "query exceeds max block range {max}: [{from:#x}, {to:#x}] spans {span} blocks. \
                         Try with this block range [{from:#x}, {last:#x}]."
                    ),
                ));
            }
        }
        let max_results = config.max_logs_results;
        // What is left of the batch's total is the tighter limit once earlier queries of
        // the same batch have returned logs.
        let limit = max_results.min(budget.logs_left);
        let mut out = Vec::new();
        for header in reader.headers(from, to)? {
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let block_hash = header.hash_slow();
            for hash in reader.block_tx_hashes(header.number)? {
                let (Some(tx), Some(r)) = (reader.tx(&hash)?, reader.receipt(&hash)?) else {
                    continue;
                };
                for log in convert::receipt_logs(&header, block_hash, hash, tx.index, &r) {
                    if filter.matches(&log.inner) {
                        if out.len() == limit {
                            let last = header.number.saturating_sub(1).max(from);
                            return Err(if limit < max_results {
                                batch_logs_spent(max_results)
                            } else {
                                RpcError::new(
                                    -32005,
                                    format!(
                                        "query returned more than {max_results} results. Try with \
                                     this block range [{from:#x}, {last:#x}], or raise the \
                                     limit with --max-logs-results."
                                    ),
                                )
                            });
                        }
                        out.push(log);
                    }
                }
            }
        }
        budget.logs_left -= out.len();
        Ok(out)
    }

    /// [`EthApi::logs`] as a JSON result, run on the EVM pool: a log query reads and
    /// converts up to [`crate::NodeConfig::max_logs_results`] logs, too much work for the
    /// threads that answer everyone else.
    pub(super) async fn logs_on_pool(
        &self,
        method: &str,
        filter: Filter,
        since: Option<u64>,
        budget: &mut Budget,
    ) -> RpcResult {
        let node = self.node.clone();
        let mut left = budget.clone();
        let (value, left) = self
            .evm
            .run(method, move |_| {
                let api = EthApi::for_worker(node);
                let reader = api.node.reader()?;
                let logs = api.logs(&reader, &filter, since, &mut left)?;
                Ok((to_value(logs)?, left))
            })
            .await?;
        budget.logs_left = left.logs_left;
        Ok(value)
    }

    pub(super) fn install(&self, kind: FilterKind) -> RpcResult {
        let reader = self.node.reader()?;
        let next_block = self.head(&reader)? + 1;
        let mut filters = self.filters.lock();
        filters.installed.retain(|_, f| f.last_poll.elapsed() < FILTER_TTL);
        let id = U256::from(filters.next_id);
        filters.next_id += 1;
        filters
            .installed
            .insert(id, InstalledFilter { kind, next_block, last_poll: Instant::now() });
        to_value(id)
    }

    pub(super) async fn filter_changes(&self, id: U256, budget: &mut Budget) -> RpcResult {
        let reader = self.node.reader()?;
        let head = self.head(&reader)?;
        let (kind_logs, next) = {
            let mut filters = self.filters.lock();
            let Some(f) = filters.installed.get_mut(&id) else {
                return Err(RpcError::new(-32000, "filter not found"));
            };
            f.last_poll = Instant::now();
            let next = f.next_block;
            f.next_block = head + 1;
            let kind = match &f.kind {
                FilterKind::Logs(filter) => Some(Some((**filter).clone())),
                FilterKind::Blocks => Some(None),
                FilterKind::PendingTransactions => None,
            };
            (kind, next)
        };
        match kind_logs {
            None => to_value(Vec::<B256>::new()),
            Some(None) => {
                let hashes: Vec<B256> = if next > head {
                    Vec::new()
                } else {
                    reader.headers(next, head)?.iter().map(|h| h.hash_slow()).collect()
                };
                to_value(hashes)
            }
            Some(Some(filter)) => {
                if next > head {
                    return to_value(Vec::<Log>::new());
                }
                drop(reader);
                // The worker reads a newer snapshot: stop at the head the filter moved to, so
                // that blocks mined meanwhile are reported by the next poll, once.
                let mut filter = filter;
                if let FilterBlockOption::Range { to_block, .. } = &mut filter.block_option {
                    if !matches!(to_block, Some(BlockNumberOrTag::Earliest))
                        && !matches!(to_block, Some(BlockNumberOrTag::Number(n)) if *n <= head)
                    {
                        *to_block = Some(BlockNumberOrTag::Number(head));
                    }
                }
                match self.logs_on_pool("eth_getFilterChanges", filter, Some(next), budget).await {
                    Ok(logs) => Ok(logs),
                    Err(e) => {
                        // Refused (too wide, too many): the next poll asks for the same blocks.
                        if let Some(f) = self.filters.lock().installed.get_mut(&id) {
                            f.next_block = f.next_block.min(next);
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// `eth_getFilterLogs`: every log the filter matches, not only the new ones.
    pub(super) async fn filter_logs(&self, id: U256, budget: &mut Budget) -> RpcResult {
        let filter = {
            let filters = self.filters.lock();
            match filters.installed.get(&id).map(|f| &f.kind) {
                Some(FilterKind::Logs(f)) => (**f).clone(),
                _ => return Err(RpcError::new(-32000, "filter not found")),
            }
        };
        self.logs_on_pool("eth_getFilterLogs", filter, None, budget).await
    }

    /// `eth_uninstallFilter`: whether there was such a filter.
    pub(super) fn uninstall(&self, id: U256) -> bool {
        self.filters.lock().installed.remove(&id).is_some()
    }
}

/// The error for a log query of a batch that has returned all the logs one batch may.
fn batch_logs_spent(max: usize) -> RpcError {
    RpcError::new(
        -32005,
        format!(
            "batch returned too many logs: one request (a whole batch) may return at most {max} \
             logs in total and the queries before this one used them. Send this query in \
             another request, or raise the limit with --max-logs-results."
        ),
    )
}
