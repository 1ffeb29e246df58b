//! Requests as data: every supported JSON-RPC method parsed into one enum.
//!
//! Parsing is separate from answering so that a wrong method name is always `-32601` and
//! wrong parameters are always `-32602` with a message naming the parameter, whatever the
//! method; the handler is then one `match` over well-typed values.

use alloy::dyn_abi::TypedData;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions};
use alloy::rpc::types::{Filter, Index, TransactionRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Response, RpcError, MAX_BATCH};

/// Options of `evm_mine`: a timestamp, or `{ timestamp, blocks }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MineOptions {
    /// Timestamp of the (first) block.
    pub timestamp: Option<u64>,
    /// Number of blocks.
    pub blocks: Option<u64>,
}

/// A parsed JSON-RPC request.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each variant is the method it names
pub enum Request {
    Web3ClientVersion,
    Web3Sha3(Bytes),
    NetVersion,
    NetListening,
    NetPeerCount,
    EthChainId,
    EthBlockNumber,
    EthAccounts,
    EthSyncing,
    EthMining,
    EthHashrate,
    EthCoinbase,
    EthProtocolVersion,
    EthGasPrice,
    EthMaxPriorityFeePerGas,
    EthBlobBaseFee,
    EthFeeHistory(u64, BlockNumberOrTag, Vec<f64>),
    EthGetBalance(Address, BlockId),
    EthGetTransactionCount(Address, BlockId),
    EthGetCode(Address, BlockId),
    EthGetStorageAt(Address, U256, BlockId),
    EthGetProof(Address, Vec<alloy::serde::JsonStorageKey>, BlockId),
    EthCall(TransactionRequest, BlockId),
    EthEstimateGas(TransactionRequest, BlockId),
    EthSendRawTransaction(Bytes),
    EthSendTransaction(TransactionRequest),
    EthGetTransactionByHash(B256),
    EthGetTransactionReceipt(B256),
    EthGetBlockByNumber(BlockNumberOrTag, bool),
    EthGetBlockByHash(B256, bool),
    EthGetBlockReceipts(BlockId),
    EthGetBlockTransactionCountByNumber(BlockNumberOrTag),
    EthGetBlockTransactionCountByHash(B256),
    EthGetTransactionByBlockNumberAndIndex(BlockNumberOrTag, Index),
    EthGetTransactionByBlockHashAndIndex(B256, Index),
    EthGetUncleCountByBlockNumber(BlockNumberOrTag),
    EthGetUncleCountByBlockHash(B256),
    EthGetLogs(Box<Filter>),
    EthSign(Address, Bytes),
    PersonalSign(Bytes, Address),
    EthSignTypedDataV4(Address, Box<TypedData>),
    EthNewFilter(Box<Filter>),
    EthNewBlockFilter,
    EthNewPendingTransactionFilter,
    EthGetFilterChanges(U256),
    EthGetFilterLogs(U256),
    EthUninstallFilter(U256),
    EvmSnapshot,
    EvmRevert(U256),
    EvmMine(MineOptions),
    EvmIncreaseTime(i64),
    EvmSetNextBlockTimestamp(u64),
    AnvilMine(u64, Option<u64>),
    AnvilSetBalance(Address, U256),
    AnvilSetNonce(Address, u64),
    AnvilSetCode(Address, Bytes),
    AnvilSetStorageAt(Address, U256, B256),
    DebugTraceTransaction(B256, Box<GethDebugTracingOptions>),
    DebugTraceCall(TransactionRequest, BlockId, Box<GethDebugTracingOptions>),
    OtsGetApiLevel,
    OtsHasCode(Address, BlockId),
    OtsGetInternalOperations(B256),
    OtsGetTransactionError(B256),
    OtsTraceTransaction(B256),
    OtsGetBlockDetails(BlockNumberOrTag),
    OtsGetBlockDetailsByHash(B256),
    /// Block number, page number, page size.
    OtsGetBlockTransactions(u64, u64, u64),
    /// Address, block number (0: from the head), page size.
    OtsSearchTransactionsBefore(Address, u64, u64),
    /// Address, block number (0: from genesis), page size.
    OtsSearchTransactionsAfter(Address, u64, u64),
    OtsGetTransactionBySenderAndNonce(Address, u64),
    OtsGetContractCreator(Address),
    ErigonGetHeaderByNumber(BlockNumberOrTag),
}

/// Most transactions one `ots_searchTransactionsBefore`/`After` page may ask for (a page
/// still takes the whole of its last block). Otterscan asks for 25.
pub const MAX_SEARCH_PAGE_SIZE: u64 = 1000;

/// Every method name the node answers, for `rpc_modules`-style listings and docs.
pub const METHODS: &[&str] = &[
    "web3_clientVersion",
    "web3_sha3",
    "net_version",
    "net_listening",
    "net_peerCount",
    "eth_chainId",
    "eth_blockNumber",
    "eth_accounts",
    "eth_syncing",
    "eth_mining",
    "eth_hashrate",
    "eth_coinbase",
    "eth_protocolVersion",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_blobBaseFee",
    "eth_feeHistory",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_getProof",
    "eth_call",
    "eth_estimateGas",
    "eth_sendRawTransaction",
    "eth_sendTransaction",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockReceipts",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getUncleCountByBlockNumber",
    "eth_getUncleCountByBlockHash",
    "eth_getLogs",
    "eth_sign",
    "personal_sign",
    "eth_signTypedData_v4",
    "eth_signTypedData",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "evm_snapshot",
    "evm_revert",
    "evm_mine",
    "evm_increaseTime",
    "evm_setNextBlockTimestamp",
    "anvil_mine",
    "hardhat_mine",
    "anvil_setBalance",
    "hardhat_setBalance",
    "anvil_setNonce",
    "hardhat_setNonce",
    "anvil_setCode",
    "hardhat_setCode",
    "anvil_setStorageAt",
    "debug_traceTransaction",
    "debug_traceCall",
    "hardhat_setStorageAt",
    "anvil_snapshot",
    "anvil_revert",
    "anvil_increaseTime",
    "anvil_setNextBlockTimestamp",
    "ots_getApiLevel",
    "ots_hasCode",
    "ots_getInternalOperations",
    "ots_getTransactionError",
    "ots_traceTransaction",
    "ots_getBlockDetails",
    "ots_getBlockDetailsByHash",
    "ots_getBlockTransactions",
    "ots_searchTransactionsBefore",
    "ots_searchTransactionsAfter",
    "ots_getTransactionBySenderAndNonce",
    "ots_getContractCreator",
    "erigon_getHeaderByNumber",
];

/// Positional parameters with typed, named access.
struct Params<'a> {
    method: &'a str,
    values: Vec<Value>,
}

impl<'a> Params<'a> {
    fn new(method: &'a str, params: Option<Value>) -> Result<Self, RpcError> {
        let values = match params {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(v)) => v,
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "{method}: params must be an array, found {}",
                    json_kind(&other)
                )))
            }
        };
        Ok(Self { method, values })
    }

    fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.values.len() > n {
            return Err(RpcError::invalid_params(format!(
                "{}: too many arguments, want at most {n}, found {}",
                self.method,
                self.values.len()
            )));
        }
        Ok(())
    }

    fn req<T: DeserializeOwned>(&self, i: usize, name: &str) -> Result<T, RpcError> {
        match self.values.get(i) {
            None => Err(RpcError::invalid_params(format!(
                "{}: missing value for required argument {i} ({name})",
                self.method
            ))),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                RpcError::invalid_params(format!(
                    "{}: invalid argument {i} ({name}): {e}",
                    self.method
                ))
            }),
        }
    }

    fn opt<T: DeserializeOwned>(&self, i: usize, name: &str) -> Result<Option<T>, RpcError> {
        match self.values.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.req(i, name).map(Some),
        }
    }

    fn block(&self, i: usize) -> Result<BlockId, RpcError> {
        Ok(self.opt(i, "block")?.unwrap_or(BlockId::latest()))
    }

    /// A quantity given as a hex string or a JSON number (Otterscan sends numbers).
    fn quantity(&self, i: usize, name: &str) -> Result<u64, RpcError> {
        match self.values.get(i) {
            None => Err(RpcError::invalid_params(format!(
                "{}: missing value for required argument {i} ({name})",
                self.method
            ))),
            Some(v) => quantity(v, &format!("{}: invalid argument {i} ({name})", self.method)),
        }
    }

    /// A block number or tag that may also be a JSON number, as Otterscan sends it.
    fn block_tag(&self, i: usize) -> Result<BlockNumberOrTag, RpcError> {
        match self.values.get(i) {
            Some(Value::Number(_)) => Ok(BlockNumberOrTag::Number(self.quantity(i, "block")?)),
            _ => self.req(i, "block"),
        }
    }

    /// [`Params::block`] that also takes a JSON number.
    fn lenient_block(&self, i: usize) -> Result<BlockId, RpcError> {
        match self.values.get(i) {
            Some(Value::Number(_)) => Ok(BlockId::number(self.quantity(i, "block")?)),
            _ => self.block(i),
        }
    }

    /// The page size of an address search: 1 to [`MAX_SEARCH_PAGE_SIZE`].
    fn search_page_size(&self, i: usize) -> Result<u64, RpcError> {
        let size = self.quantity(i, "page size")?;
        if size == 0 || size > MAX_SEARCH_PAGE_SIZE {
            return Err(RpcError::invalid_params(format!(
                "{}: invalid argument {i} (page size): {size} is not between 1 and \
                 {MAX_SEARCH_PAGE_SIZE}; ask for fewer and page on with the block number of \
                 the last result",
                self.method
            )));
        }
        Ok(size)
    }

    fn none(&self) -> Result<(), RpcError> {
        self.at_most(0)
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A quantity given either as a hex string or as a JSON number.
fn quantity(v: &Value, what: &str) -> Result<u64, RpcError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| RpcError::invalid_params(format!("{what}: not a non-negative integer"))),
        Value::String(s) => {
            let digits = s.strip_prefix("0x").ok_or_else(|| {
                RpcError::invalid_params(format!("{what}: hex quantity must start with 0x"))
            })?;
            u64::from_str_radix(digits, 16)
                .map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
        }
        other => Err(RpcError::invalid_params(format!(
            "{what}: expected a quantity, found {}",
            json_kind(other)
        ))),
    }
}

/// One entry of a request body, checked but not yet answered.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // short-lived: made and consumed per request
pub enum Call {
    /// A request object. Its method may still be unknown or its params wrong: then
    /// `request` is the `-32601`/`-32602` error to answer with.
    Request {
        /// The id to answer with.
        id: Value,
        /// No `id` member: nothing is answered.
        notification: bool,
        /// The method named.
        method: String,
        /// The parsed request, or why it could not be parsed.
        request: Result<Request, RpcError>,
    },
    /// Not a request object (`-32600`): answered with this at once.
    Invalid(Response),
}

/// An HTTP request body: one call, a batch, or an error answering the whole body.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // short-lived: made and consumed per request
pub enum Body {
    /// A single request.
    One(Call),
    /// A batch of 1 to [`MAX_BATCH`] entries.
    Batch(Vec<Call>),
    /// Not JSON (`-32700`), an empty batch or one over [`MAX_BATCH`] (`-32600`).
    Invalid(Response),
}

/// Parses an HTTP body holding one request or a batch, without answering anything.
pub fn parse_body(body: &[u8]) -> Body {
    parse_body_with(body, MAX_BATCH)
}

/// [`parse_body`] with batches of at most `max_batch` requests
/// ([`crate::NodeConfig::max_batch_requests`]).
pub fn parse_body_with(body: &[u8], max_batch: usize) -> Body {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError::parse_error(format!("parse error: {e}"));
            return Body::Invalid(Response::err(Value::Null, err));
        }
    };
    match parsed {
        Value::Array(items) => {
            if items.is_empty() {
                let err = RpcError::invalid_request("empty batch");
                return Body::Invalid(Response::err(Value::Null, err));
            }
            if items.len() > max_batch {
                let err = RpcError::invalid_request(format!(
                    "batch of {} requests exceeds the limit of {max_batch} (raise it with \
                     --max-batch-requests)",
                    items.len()
                ));
                return Body::Invalid(Response::err(Value::Null, err));
            }
            Body::Batch(items.into_iter().map(parse_call).collect())
        }
        single => Body::One(parse_call(single)),
    }
}

/// Checks one request object and parses its method and params.
fn parse_call(item: Value) -> Call {
    let Value::Object(mut obj) = item else {
        return Call::Invalid(Response::err(
            Value::Null,
            RpcError::invalid_request("invalid request: expected an object"),
        ));
    };
    let id = obj.remove("id");
    let notification = id.is_none();
    let id = id.unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::Number(_) | Value::String(_)) {
        return Call::Invalid(Response::err(
            Value::Null,
            RpcError::invalid_request("invalid request: id must be a number, string or null"),
        ));
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Call::Invalid(Response::err(
            id,
            RpcError::invalid_request("invalid request: jsonrpc must be \"2.0\""),
        ));
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return Call::Invalid(Response::err(
            id,
            RpcError::invalid_request("invalid request: method must be a string"),
        ));
    };
    let request = Request::parse(&method, obj.remove("params"));
    Call::Request { id, notification, method, request }
}

impl Request {
    /// Parses `method` and `params`; an unknown method is `-32601`, bad params `-32602`.
    pub fn parse(method: &str, params: Option<Value>) -> Result<Self, RpcError> {
        let p = Params::new(method, params)?;
        use Request::*;
        let r = match method {
            "web3_clientVersion" => p.none().map(|_| Web3ClientVersion)?,
            "web3_sha3" => {
                p.at_most(1)?;
                Web3Sha3(p.req(0, "data")?)
            }
            "net_version" => p.none().map(|_| NetVersion)?,
            "net_listening" => p.none().map(|_| NetListening)?,
            "net_peerCount" => p.none().map(|_| NetPeerCount)?,
            "eth_chainId" => p.none().map(|_| EthChainId)?,
            "eth_blockNumber" => p.none().map(|_| EthBlockNumber)?,
            "eth_accounts" => p.none().map(|_| EthAccounts)?,
            "eth_syncing" => p.none().map(|_| EthSyncing)?,
            "eth_mining" => p.none().map(|_| EthMining)?,
            "eth_hashrate" => p.none().map(|_| EthHashrate)?,
            "eth_coinbase" => p.none().map(|_| EthCoinbase)?,
            "eth_protocolVersion" => p.none().map(|_| EthProtocolVersion)?,
            "eth_gasPrice" => p.none().map(|_| EthGasPrice)?,
            "eth_maxPriorityFeePerGas" => p.none().map(|_| EthMaxPriorityFeePerGas)?,
            "eth_blobBaseFee" => p.none().map(|_| EthBlobBaseFee)?,
            "eth_feeHistory" => {
                p.at_most(3)?;
                let count = quantity(
                    p.values.first().unwrap_or(&Value::Null),
                    "eth_feeHistory: block count",
                )?;
                EthFeeHistory(
                    count,
                    p.req(1, "newest block")?,
                    p.opt(2, "reward percentiles")?.unwrap_or_default(),
                )
            }
            "eth_getBalance" => {
                p.at_most(2)?;
                EthGetBalance(p.req(0, "address")?, p.block(1)?)
            }
            "eth_getTransactionCount" => {
                p.at_most(2)?;
                EthGetTransactionCount(p.req(0, "address")?, p.block(1)?)
            }
            "eth_getCode" => {
                p.at_most(2)?;
                EthGetCode(p.req(0, "address")?, p.block(1)?)
            }
            "eth_getStorageAt" => {
                p.at_most(3)?;
                EthGetStorageAt(p.req(0, "address")?, p.req(1, "slot")?, p.block(2)?)
            }
            "debug_traceTransaction" => {
                p.at_most(2)?;
                let opts = p.opt(1, "tracing options")?.unwrap_or_default();
                DebugTraceTransaction(p.req(0, "hash")?, Box::new(opts))
            }
            "debug_traceCall" => {
                p.at_most(3)?;
                let opts: GethDebugTracingCallOptions =
                    p.opt(2, "tracing options")?.unwrap_or_default();
                if opts.state_overrides.is_some() || opts.block_overrides.is_some() {
                    return Err(RpcError::invalid_params(
                        "debug_traceCall: state and block overrides are not supported by this node",
                    ));
                }
                DebugTraceCall(
                    p.req(0, "transaction")?,
                    p.block(1)?,
                    Box::new(opts.tracing_options),
                )
            }
            "eth_getProof" => {
                p.at_most(3)?;
                EthGetProof(p.req(0, "address")?, p.req(1, "storage keys")?, p.block(2)?)
            }
            "eth_call" => {
                p.at_most(3)?;
                if p.values.get(2).is_some_and(|v| !v.is_null()) {
                    return Err(RpcError::invalid_params(
                        "eth_call: state overrides are not supported by this node",
                    ));
                }
                EthCall(p.req(0, "transaction")?, p.block(1)?)
            }
            "eth_estimateGas" => {
                p.at_most(3)?;
                if p.values.get(2).is_some_and(|v| !v.is_null()) {
                    return Err(RpcError::invalid_params(
                        "eth_estimateGas: state overrides are not supported by this node",
                    ));
                }
                EthEstimateGas(
                    p.req(0, "transaction")?,
                    p.opt(1, "block")?.unwrap_or(BlockId::pending()),
                )
            }
            "eth_sendRawTransaction" => {
                p.at_most(1)?;
                EthSendRawTransaction(p.req(0, "signed transaction")?)
            }
            "eth_sendTransaction" => {
                p.at_most(1)?;
                EthSendTransaction(p.req(0, "transaction")?)
            }
            "eth_getTransactionByHash" => {
                p.at_most(1)?;
                EthGetTransactionByHash(p.req(0, "hash")?)
            }
            "eth_getTransactionReceipt" => {
                p.at_most(1)?;
                EthGetTransactionReceipt(p.req(0, "hash")?)
            }
            "eth_getBlockByNumber" => {
                p.at_most(2)?;
                EthGetBlockByNumber(
                    p.req(0, "block")?,
                    p.opt(1, "full transactions")?.unwrap_or(false),
                )
            }
            "eth_getBlockByHash" => {
                p.at_most(2)?;
                EthGetBlockByHash(
                    p.req(0, "hash")?,
                    p.opt(1, "full transactions")?.unwrap_or(false),
                )
            }
            "eth_getBlockReceipts" => {
                p.at_most(1)?;
                EthGetBlockReceipts(p.req(0, "block")?)
            }
            "eth_getBlockTransactionCountByNumber" => {
                p.at_most(1)?;
                EthGetBlockTransactionCountByNumber(p.req(0, "block")?)
            }
            "eth_getBlockTransactionCountByHash" => {
                p.at_most(1)?;
                EthGetBlockTransactionCountByHash(p.req(0, "hash")?)
            }
            "eth_getTransactionByBlockNumberAndIndex" => {
                p.at_most(2)?;
                EthGetTransactionByBlockNumberAndIndex(p.req(0, "block")?, p.req(1, "index")?)
            }
            "eth_getTransactionByBlockHashAndIndex" => {
                p.at_most(2)?;
                EthGetTransactionByBlockHashAndIndex(p.req(0, "hash")?, p.req(1, "index")?)
            }
            "eth_getUncleCountByBlockNumber" => {
                p.at_most(1)?;
                EthGetUncleCountByBlockNumber(p.req(0, "block")?)
            }
            "eth_getUncleCountByBlockHash" => {
                p.at_most(1)?;
                EthGetUncleCountByBlockHash(p.req(0, "hash")?)
            }
            "eth_getLogs" => {
                p.at_most(1)?;
                EthGetLogs(Box::new(p.req(0, "filter")?))
            }
            "eth_sign" => {
                p.at_most(2)?;
                EthSign(p.req(0, "address")?, p.req(1, "message")?)
            }
            "personal_sign" => {
                p.at_most(3)?;
                PersonalSign(p.req(0, "message")?, p.req(1, "address")?)
            }
            "eth_signTypedData_v4" | "eth_signTypedData" => {
                p.at_most(2)?;
                let typed: TypedData = match p.values.get(1) {
                    Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                        RpcError::invalid_params(format!(
                            "{method}: invalid argument 1 (typed data): {e}"
                        ))
                    })?,
                    _ => p.req(1, "typed data")?,
                };
                EthSignTypedDataV4(p.req(0, "address")?, Box::new(typed))
            }
            "eth_newFilter" => {
                p.at_most(1)?;
                EthNewFilter(Box::new(p.req(0, "filter")?))
            }
            "eth_newBlockFilter" => p.none().map(|_| EthNewBlockFilter)?,
            "eth_newPendingTransactionFilter" => {
                p.at_most(1)?;
                EthNewPendingTransactionFilter
            }
            "eth_getFilterChanges" => {
                p.at_most(1)?;
                EthGetFilterChanges(p.req(0, "filter id")?)
            }
            "eth_getFilterLogs" => {
                p.at_most(1)?;
                EthGetFilterLogs(p.req(0, "filter id")?)
            }
            "eth_uninstallFilter" => {
                p.at_most(1)?;
                EthUninstallFilter(p.req(0, "filter id")?)
            }
            "evm_snapshot" | "anvil_snapshot" => p.none().map(|_| EvmSnapshot)?,
            "evm_revert" | "anvil_revert" => {
                p.at_most(1)?;
                EvmRevert(p.req(0, "snapshot id")?)
            }
            "evm_mine" => {
                p.at_most(1)?;
                let opts = match p.values.first() {
                    None | Some(Value::Null) => MineOptions::default(),
                    Some(Value::Object(o)) => MineOptions {
                        timestamp: o
                            .get("timestamp")
                            .map(|v| quantity(v, "evm_mine: timestamp"))
                            .transpose()?,
                        blocks: o
                            .get("blocks")
                            .map(|v| quantity(v, "evm_mine: blocks"))
                            .transpose()?,
                    },
                    Some(v) => MineOptions {
                        timestamp: Some(quantity(v, "evm_mine: timestamp")?),
                        blocks: None,
                    },
                };
                EvmMine(opts)
            }
            "evm_increaseTime" | "anvil_increaseTime" => {
                p.at_most(1)?;
                let v = p.values.first().ok_or_else(|| {
                    RpcError::invalid_params(format!(
                        "{method}: missing value for required argument 0 (seconds)"
                    ))
                })?;
                let seconds = quantity(v, "seconds")?;
                EvmIncreaseTime(i64::try_from(seconds).map_err(|_| {
                    RpcError::invalid_params(format!(
                        "{method}: {seconds} seconds is more than the clock can move (at most \
                         {} seconds from now)",
                        crate::MAX_TIMESTAMP
                    ))
                })?)
            }
            "evm_setNextBlockTimestamp" | "anvil_setNextBlockTimestamp" => {
                p.at_most(1)?;
                let v = p.values.first().ok_or_else(|| {
                    RpcError::invalid_params(format!(
                        "{method}: missing value for required argument 0 (timestamp)"
                    ))
                })?;
                EvmSetNextBlockTimestamp(quantity(v, "timestamp")?)
            }
            "anvil_mine" | "hardhat_mine" => {
                p.at_most(2)?;
                let blocks = p
                    .values
                    .first()
                    .filter(|v| !v.is_null())
                    .map(|v| quantity(v, "blocks"))
                    .transpose()?;
                let interval = p
                    .values
                    .get(1)
                    .filter(|v| !v.is_null())
                    .map(|v| quantity(v, "interval"))
                    .transpose()?;
                AnvilMine(blocks.unwrap_or(1), interval)
            }
            "anvil_setBalance" | "hardhat_setBalance" => {
                p.at_most(2)?;
                AnvilSetBalance(p.req(0, "address")?, p.req(1, "balance")?)
            }
            "anvil_setNonce" | "hardhat_setNonce" => {
                p.at_most(2)?;
                let v = p.values.get(1).ok_or_else(|| {
                    RpcError::invalid_params(format!(
                        "{method}: missing value for required argument 1 (nonce)"
                    ))
                })?;
                AnvilSetNonce(p.req(0, "address")?, quantity(v, "nonce")?)
            }
            "anvil_setCode" | "hardhat_setCode" => {
                p.at_most(2)?;
                AnvilSetCode(p.req(0, "address")?, p.req(1, "code")?)
            }
            "anvil_setStorageAt" | "hardhat_setStorageAt" => {
                p.at_most(3)?;
                AnvilSetStorageAt(p.req(0, "address")?, p.req(1, "slot")?, p.req(2, "value")?)
            }
            "ots_getApiLevel" => p.none().map(|_| OtsGetApiLevel)?,
            "ots_hasCode" => {
                p.at_most(2)?;
                OtsHasCode(p.req(0, "address")?, p.lenient_block(1)?)
            }
            "ots_getInternalOperations" => {
                p.at_most(1)?;
                OtsGetInternalOperations(p.req(0, "hash")?)
            }
            "ots_getTransactionError" => {
                p.at_most(1)?;
                OtsGetTransactionError(p.req(0, "hash")?)
            }
            "ots_traceTransaction" => {
                p.at_most(1)?;
                OtsTraceTransaction(p.req(0, "hash")?)
            }
            "ots_getBlockDetails" => {
                p.at_most(1)?;
                OtsGetBlockDetails(p.block_tag(0)?)
            }
            "ots_getBlockDetailsByHash" => {
                p.at_most(1)?;
                OtsGetBlockDetailsByHash(p.req(0, "hash")?)
            }
            "ots_getBlockTransactions" => {
                p.at_most(3)?;
                OtsGetBlockTransactions(
                    p.quantity(0, "block number")?,
                    p.quantity(1, "page number")?,
                    p.quantity(2, "page size")?,
                )
            }
            "ots_searchTransactionsBefore" => {
                p.at_most(3)?;
                OtsSearchTransactionsBefore(
                    p.req(0, "address")?,
                    p.quantity(1, "block number")?,
                    p.search_page_size(2)?,
                )
            }
            "ots_searchTransactionsAfter" => {
                p.at_most(3)?;
                OtsSearchTransactionsAfter(
                    p.req(0, "address")?,
                    p.quantity(1, "block number")?,
                    p.search_page_size(2)?,
                )
            }
            "ots_getTransactionBySenderAndNonce" => {
                p.at_most(2)?;
                OtsGetTransactionBySenderAndNonce(p.req(0, "sender")?, p.quantity(1, "nonce")?)
            }
            "ots_getContractCreator" => {
                p.at_most(1)?;
                OtsGetContractCreator(p.req(0, "address")?)
            }
            "erigon_getHeaderByNumber" => {
                p.at_most(1)?;
                ErigonGetHeaderByNumber(p.block_tag(0)?)
            }
            other => {
                return Err(RpcError::new(
                    -32601,
                    format!("the method {other} does not exist/is not available"),
                ))
            }
        };
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_method_is_32601() {
        let e = Request::parse("eth_teleport", None).unwrap_err();
        assert_eq!(e.code, -32601);
        assert!(e.message.contains("eth_teleport"));
    }

    #[test]
    fn wrong_param_types_are_32602_and_named() {
        let e = Request::parse("eth_getBalance", Some(json!([42]))).unwrap_err();
        assert_eq!(e.code, -32602);
        assert!(e.message.contains("address"), "{}", e.message);
        let e = Request::parse("eth_getBalance", Some(json!({"a": 1}))).unwrap_err();
        assert_eq!(e.code, -32602);
        let e = Request::parse("eth_blockNumber", Some(json!([1]))).unwrap_err();
        assert_eq!(e.code, -32602);
        assert!(e.message.contains("too many arguments"));
    }

    #[test]
    fn optional_block_defaults_to_latest() {
        let r = Request::parse(
            "eth_getBalance",
            Some(json!(["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"])),
        )
        .unwrap();
        assert!(matches!(r, Request::EthGetBalance(_, b) if b == BlockId::latest()));
    }

    #[test]
    fn evm_mine_accepts_number_object_or_nothing() {
        assert!(
            matches!(Request::parse("evm_mine", None).unwrap(), Request::EvmMine(o) if o == MineOptions::default())
        );
        assert!(
            matches!(Request::parse("evm_mine", Some(json!([100]))).unwrap(), Request::EvmMine(o) if o.timestamp == Some(100))
        );
        assert!(
            matches!(Request::parse("evm_mine", Some(json!([{"timestamp": "0x10", "blocks": 2}]))).unwrap(), Request::EvmMine(o) if o.timestamp == Some(16) && o.blocks == Some(2))
        );
    }

    #[test]
    fn otterscan_takes_numbers_where_it_sends_them() {
        let r = Request::parse("ots_getBlockDetails", Some(json!([7]))).unwrap();
        assert!(matches!(r, Request::OtsGetBlockDetails(BlockNumberOrTag::Number(7))));
        let r = Request::parse("erigon_getHeaderByNumber", Some(json!(["latest"]))).unwrap();
        assert!(matches!(r, Request::ErigonGetHeaderByNumber(BlockNumberOrTag::Latest)));
        let r = Request::parse("ots_getBlockTransactions", Some(json!([5, "0x1", 25]))).unwrap();
        assert!(matches!(r, Request::OtsGetBlockTransactions(5, 1, 25)));
        let r = Request::parse(
            "ots_hasCode",
            Some(json!(["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", 3])),
        )
        .unwrap();
        assert!(matches!(r, Request::OtsHasCode(_, b) if b == BlockId::number(3)));
    }

    #[test]
    fn search_page_sizes_out_of_range_are_32602_and_named() {
        let addr = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        for size in [json!(0), json!(MAX_SEARCH_PAGE_SIZE + 1)] {
            let e = Request::parse("ots_searchTransactionsBefore", Some(json!([addr, 0, size])))
                .unwrap_err();
            assert_eq!(e.code, -32602);
            assert!(e.message.contains("page size"), "{}", e.message);
        }
        let e = Request::parse("ots_searchTransactionsAfter", Some(json!([addr, "x", 25])))
            .unwrap_err();
        assert!(e.message.contains("block number"), "{}", e.message);
    }

    /// The method names the parser's `match` accepts, read from this file's source.
    fn names_in_the_parser() -> Vec<String> {
        let src = include_str!("request.rs");
        let start = src.find("let r = match method {").expect("the parser's match");
        let end = start + src[start..].find("other =>").expect("the fallback arm");
        src[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('"') && l.contains("=>"))
            .flat_map(|l| {
                let pattern = &l[..l.find("=>").unwrap_or(0)];
                pattern
                    .split('|')
                    .map(|n| n.trim().trim_matches('"').to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_method_the_parser_accepts_is_listed_and_vice_versa() {
        let parsed = names_in_the_parser();
        assert!(parsed.len() > 50, "the source scan found only {} names", parsed.len());
        for name in &parsed {
            assert!(METHODS.contains(&name.as_str()), "{name} is parsed but missing from METHODS");
            if let Err(e) = Request::parse(name, None) {
                assert_ne!(e.code, -32601, "{name} is in the match but unknown");
            }
        }
        for m in METHODS {
            assert!(parsed.iter().any(|n| n == m), "{m} is in METHODS but not in the parser");
        }
        let mut unique = parsed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), parsed.len(), "a name appears twice in the parser");
        assert_eq!(unique.len(), METHODS.len(), "METHODS lists a name twice");
    }

    #[test]
    fn every_listed_method_parses_its_name() {
        for m in METHODS {
            if let Err(e) = Request::parse(m, None) {
                assert_ne!(e.code, -32601, "{m} is listed but unknown");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_params_never_panic(method in proptest::sample::select(METHODS), s in ".{0,64}", n in proptest::prelude::any::<i64>()) {
            let _ = Request::parse(method, Some(json!([s.clone(), n, {"k": s}])));
            let _ = Request::parse(method, Some(json!([n])));
            let _ = Request::parse(method, Some(json!(s)));
        }
    }
}
