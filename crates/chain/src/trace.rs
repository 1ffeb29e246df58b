//! Transaction traces as geth serves them: `debug_traceTransaction` and `debug_traceCall`
//! with the default struct logger or the `callTracer`, recorded by revm-inspectors'
//! `TracingInspector` while the transaction runs again on the state it saw.

use alloy::rpc::types::trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace,
};
use revm::context::TxEnv;
use revm::Database;
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use crate::exec::{self, BlockContext, Leniency};
use crate::{Error, Result};

/// The tracers this node runs, for error messages.
pub const SUPPORTED: &str = "the default struct logger (no `tracer`) and `callTracer`";

/// Runs `tx` on `db` in `block` and returns its trace as `opts` asks.
pub fn trace<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
    leniency: Leniency,
    opts: &GethDebugTracingOptions,
) -> Result<GethTrace> {
    match &opts.tracer {
        None => {
            let config = TracingInspectorConfig::from_geth_config(&opts.config);
            let inspector = TracingInspector::new(config);
            let (outcome, inspector) = exec::inspect(db, chain_id, block, tx, leniency, inspector)?;
            let gas_used = outcome.result.tx_gas_used();
            let output = outcome.result.into_output().unwrap_or_default();
            let frame = inspector.into_geth_builder().geth_traces(gas_used, output, opts.config);
            Ok(GethTrace::Default(frame))
        }
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => {
            let call = opts
                .tracer_config
                .clone()
                .into_call_config()
                .map_err(|e| Error::InvalidParams(format!("callTracer config: {e}")))?;
            let inspector =
                TracingInspector::new(TracingInspectorConfig::from_geth_call_config(&call));
            let (outcome, inspector) = exec::inspect(db, chain_id, block, tx, leniency, inspector)?;
            let gas_used = outcome.result.tx_gas_used();
            let frame = inspector.into_geth_builder().geth_call_traces(call, gas_used);
            Ok(GethTrace::CallTracer(frame))
        }
        Some(other) => Err(Error::InvalidParams(format!(
            "tracer {other:?} is not supported; this node runs {SUPPORTED}"
        ))),
    }
}
