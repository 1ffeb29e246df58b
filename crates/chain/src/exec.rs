//! Running the EVM: transaction environments, execution, `eth_call` and gas estimation.

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::Typed2718;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{decode_revert_reason, SolError};
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::either::Either;
use revm::primitives::hardfork::SpecId;
use revm::state::EvmState;
use revm::{Database, ExecuteEvm, MainBuilder, MainContext};

use crate::{Error, Result};

/// The rule set the embedded chain runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hardfork {
    /// Cancun (Dencun, March 2024): the rules most L2s ran through 2025.
    Cancun,
    /// Prague (Pectra, May 2025): adds EIP-7702 and the EIP-7623 calldata floor.
    #[default]
    Prague,
}

impl Hardfork {
    /// revm's identifier.
    pub fn spec_id(self) -> SpecId {
        match self {
            Hardfork::Cancun => SpecId::CANCUN,
            Hardfork::Prague => SpecId::PRAGUE,
        }
    }

    /// Whether blocks carry the EIP-7685 requests hash.
    pub fn has_requests(self) -> bool {
        self == Hardfork::Prague
    }
}

impl std::fmt::Display for Hardfork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hardfork::Cancun => "cancun",
            Hardfork::Prague => "prague",
        })
    }
}

impl std::str::FromStr for Hardfork {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cancun" => Ok(Hardfork::Cancun),
            "prague" | "pectra" => Ok(Hardfork::Prague),
            other => Err(Error::InvalidParams(format!(
                "unknown hardfork {other:?}: use cancun or prague"
            ))),
        }
    }
}

/// Block context for one execution.
#[derive(Debug, Clone)]
pub struct BlockContext {
    /// Block number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// PREVRANDAO value.
    pub prevrandao: B256,
    /// Fee recipient.
    pub coinbase: Address,
    /// Rules in force.
    pub hardfork: Hardfork,
}

impl BlockContext {
    fn env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: self.coinbase,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            blob_excess_gas_and_price: Some(
                revm::context_interface::block::BlobExcessGasAndPrice::new(
                    0,
                    revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
                ),
            ),
            ..Default::default()
        }
    }
}

/// How lenient an execution is: mined transactions are strict; calls are not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leniency {
    /// Skip the base-fee check (calls with gas price 0).
    pub no_base_fee: bool,
    /// Skip the nonce check (calls).
    pub no_nonce_check: bool,
}

/// The outcome of executing a transaction (not yet committed).
pub struct Outcome {
    /// revm's result.
    pub result: ExecutionResult,
    /// State changes.
    pub state: EvmState,
}

/// The revm environment for a signed transaction.
pub fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let authorization_list = tx
        .authorization_list()
        .map(|list| list.iter().cloned().map(Either::Left).collect())
        .unwrap_or_default();
    TxEnv {
        tx_type: tx.ty(),
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list,
    }
}

/// The revm environment for an `eth_call`/`eth_estimateGas` request.
pub fn call_env(req: &TransactionRequest, chain_id: u64, gas_cap: u64, nonce: u64) -> TxEnv {
    let gas_price = req.gas_price.or(req.max_fee_per_gas).unwrap_or(0);
    TxEnv {
        tx_type: if req.max_fee_per_gas.is_some() { 2 } else { 0 },
        caller: req.from.unwrap_or_default(),
        gas_limit: req.gas.unwrap_or(gas_cap).min(gas_cap),
        gas_price,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: req.input.input().cloned().unwrap_or_default(),
        nonce,
        chain_id: Some(chain_id),
        access_list: req.access_list.clone().unwrap_or_default(),
        gas_priority_fee: req.max_priority_fee_per_gas,
        ..Default::default()
    }
}

fn cfg(chain_id: u64, block: &BlockContext, leniency: Leniency) -> CfgEnv {
    let spec = block.hardfork.spec_id();
    let mut cfg = CfgEnv::new_with_spec(spec).with_chain_id(chain_id);
    cfg.set_spec_and_mainnet_gas_params(spec);
    cfg.disable_base_fee = leniency.no_base_fee;
    cfg.disable_nonce_check = leniency.no_nonce_check;
    // Calls may come from contract addresses (EIP-3607 only binds signed transactions).
    cfg.disable_eip3607 = leniency.no_nonce_check;
    cfg
}

fn evm_error<E: std::fmt::Display>(e: EVMError<E>) -> Error {
    match e {
        EVMError::Transaction(e) => Error::InvalidTx(invalid_tx_message(&e)),
        EVMError::Header(e) => Error::InvalidTx(format!("invalid block: {e}")),
        EVMError::Database(e) => Error::Corrupt(e.to_string()),
        EVMError::Custom(e) => Error::InvalidTx(e),
        e => Error::InvalidTx(e.to_string()),
    }
}

/// Executes `tx` on `db` without committing.
pub fn execute<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
    leniency: Leniency,
) -> Result<Outcome> {
    let ctx = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg(chain_id, block, leniency))
        .with_block(block.env());
    let mut evm = ctx.build_mainnet();
    match evm.transact(tx) {
        Ok(r) => Ok(Outcome { result: r.result, state: r.state }),
        Err(e) => Err(evm_error(e)),
    }
}

/// Executes `tx` like [`execute`] with `inspector` watching every step; returns the
/// outcome and the inspector.
pub fn inspect<DB, I>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
    leniency: Leniency,
    inspector: I,
) -> Result<(Outcome, I)>
where
    DB: Database,
    I: revm::Inspector<revm::handler::MainnetContext<DB>>,
{
    use revm::InspectEvm;
    let ctx = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg(chain_id, block, leniency))
        .with_block(block.env());
    let mut evm = ctx.build_mainnet_with_inspector(inspector);
    let r = evm.inspect_tx(tx).map_err(evm_error)?;
    Ok((Outcome { result: r.result, state: r.state }, evm.inspector))
}

/// Checks `tx` as a transaction pool does before taking it, with the same rules as
/// [`execute`] but running nothing: chain id, fee fields, gas limit against the block,
/// initcode size, intrinsic gas and the EIP-7623 floor, and the sender's nonce, balance
/// and code (EIP-3607) in `db`. With `check_nonce` false the nonce may be ahead of the
/// account's (a transaction queued behind a gap).
pub fn validate<DB: Database>(
    db: DB,
    chain_id: u64,
    block: &BlockContext,
    tx: TxEnv,
    check_nonce: bool,
) -> Result<()> {
    use revm::handler::{EthFrame, Handler, MainnetHandler};
    use revm::interpreter::interpreter::EthInterpreter;
    let mut cfg = cfg(chain_id, block, Leniency::default());
    cfg.disable_nonce_check = !check_nonce;
    let ctx = Context::mainnet().with_db(db).with_cfg(cfg).with_block(block.env()).with_tx(tx);
    let mut evm = ctx.build_mainnet();
    let handler: MainnetHandler<_, EVMError<DB::Error>, EthFrame<EthInterpreter>> =
        MainnetHandler::default();
    handler.validate(&mut evm).map(|_| ()).map_err(evm_error)
}

/// geth's wording for a refused transaction, which tools match on.
pub fn invalid_tx_message(e: &InvalidTransaction) -> String {
    match e {
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".to_string()
        }
        InvalidTransaction::CallerGasLimitMoreThanBlock => "exceeds block gas limit".to_string(),
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, floor data gas cost {gas_floor}")
        }
        InvalidTransaction::InvalidChainId => "invalid chain id for signer".to_string(),
        InvalidTransaction::RejectCallerWithCode => "sender not an eoa".to_string(),
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".to_string()
        }
        other => other.to_string(),
    }
}

/// Turns a non-success result into the error an RPC caller expects.
pub fn result_error(result: &ExecutionResult) -> Option<Error> {
    match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { output, .. } => Some(revert_error(output.clone())),
        ExecutionResult::Halt { reason, .. } => Some(Error::Halt(halt_message(reason))),
    }
}

/// A revert error with the reason decoded when it is `Error(string)`, `Panic(uint256)` or a
/// custom error (shown by selector).
pub fn revert_error(data: Bytes) -> Error {
    let reason = decode_revert_reason(&data).or_else(|| {
        (data.len() >= 4 && !data.starts_with(&alloy::sol_types::Revert::SELECTOR))
            .then(|| format!("custom error 0x{}", hex::encode(&data[..4])))
    });
    Error::Revert { data, reason }
}

fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".to_string(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".to_string(),
        HaltReason::StackOverflow => "stack limit reached 1024".to_string(),
        HaltReason::StackUnderflow => "stack underflow".to_string(),
        other => format!("{other:?}"),
    }
}
