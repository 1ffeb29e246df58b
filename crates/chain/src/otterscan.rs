//! What Otterscan shows of one transaction, recorded while it runs again on the state it
//! saw (as [`crate::trace`] does for geth's tracers): its call tree for
//! `ots_traceTransaction`, its internal operations for `ots_getInternalOperations`, and its
//! revert data for `ots_getTransactionError`. The JSON-RPC answers themselves (blocks,
//! searches, creators) are in `rpc/otterscan.rs`; the indexes searches read are
//! [`crate::history`]'s.

use alloy::primitives::{Bytes, U256};
use alloy::rpc::types::trace::otterscan::{InternalOperation, TraceEntry};
use revm::context::result::ExecutionResult;
use revm::context::TxEnv;
use revm::Database;
use revm_inspectors::otterscan::InternalOperationsInspector;
use revm_inspectors::tracing::types::CallTraceNode;
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use crate::exec::{self, BlockContext, Leniency};
use crate::Result;

/// Otterscan's API level this node serves (`ots_getApiLevel`): what the explorer requires.
pub const API_LEVEL: u64 = 8;

/// Runs `tx` and lists its call frames in execution order, as erigon's
/// `ots_traceTransaction` does: every CALL, STATICCALL, DELEGATECALL and CALLCODE, every
/// CREATE and CREATE2 (`to` is the new contract, `input` the init code, `output` the code it
/// returned), and a SELFDESTRUCT entry one level below the frame that ran it. `depth` is 0
/// for the transaction's own call. Zero-value calls from contracts to precompiles are left
/// out, as parity traces leave them out. A frame that halted (rather than reverted) has no
/// output.
pub fn trace_entries<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
) -> Result<Vec<TraceEntry>> {
    let inspector = TracingInspector::new(TracingInspectorConfig::default_parity());
    let (_, inspector) = exec::inspect(db, chain_id, block, tx, Leniency::default(), inspector)?;
    let nodes = inspector.traces().nodes();
    let mut entries = Vec::with_capacity(nodes.len());
    // Walked from the root through `children`: precompile calls are in the arena but not
    // attached to their caller.
    if let Some(root) = nodes.first() {
        push_entries(nodes, root, &mut entries);
    }
    Ok(entries)
}

fn push_entries(nodes: &[CallTraceNode], node: &CallTraceNode, out: &mut Vec<TraceEntry>) {
    let trace = &node.trace;
    let output =
        if trace.is_error() && !trace.is_revert() { Bytes::new() } else { trace.output.clone() };
    out.push(TraceEntry {
        r#type: trace.kind.to_string(),
        depth: trace.depth as u32,
        from: trace.caller,
        to: trace.address,
        value: Some(trace.value),
        input: trace.data.clone(),
        output,
    });
    for child in &node.children {
        if let Some(child) = nodes.get(*child) {
            push_entries(nodes, child, out);
        }
    }
    if let Some(beneficiary) = trace.selfdestruct_refund_target {
        out.push(TraceEntry {
            r#type: "SELFDESTRUCT".into(),
            depth: trace.depth as u32 + 1,
            from: trace.selfdestruct_address.unwrap_or(trace.address),
            to: beneficiary,
            value: Some(trace.selfdestruct_transferred_value.unwrap_or(U256::ZERO)),
            input: Bytes::new(),
            output: Bytes::new(),
        });
    }
}

/// Runs `tx` and lists what it did inside itself, in execution order, as erigon and reth
/// answer `ots_getInternalOperations` (revm-inspectors' [`InternalOperationsInspector`]):
/// value sent by CALLs from contracts, every CREATE and CREATE2, and every SELFDESTRUCT. The
/// transaction's own transfer or creation is not listed, and operations inside frames that
/// later reverted are, since Otterscan shows what was attempted.
pub fn internal_operations<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
) -> Result<Vec<InternalOperation>> {
    let inspector = InternalOperationsInspector::default();
    let (_, inspector) = exec::inspect(db, chain_id, block, tx, Leniency::default(), inspector)?;
    Ok(inspector.into_operations())
}

/// Runs `tx` and returns its revert data (empty when it succeeded, or halted with none).
pub fn revert_output<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
) -> Result<Bytes> {
    let outcome = exec::execute(db, chain_id, block, tx, Leniency::default())?;
    Ok(match outcome.result {
        ExecutionResult::Revert { output, .. } => output,
        ExecutionResult::Success { .. } | ExecutionResult::Halt { .. } => Bytes::new(),
    })
}
