//! The one path to a chain: an alloy [`DynProvider`] with a wallet, whatever is behind it.
//!
//! `--rpc-url` picks the endpoint: the embedded node, anvil, geth, or a public RPC. Without
//! one, the data directory decides: the node that `alara up` (or `alara chain node`) serves
//! for it, whose URL it records in `<data-dir>/node.json` ([`NodeRecord`]), if it answers;
//! otherwise the same chain (`<data-dir>/chain`) opened in this process. So a data directory
//! holds one chain, whichever way it is reached, and no command silently talks to whatever
//! happens to answer on port 8545. Everything above this module sees only a `Provider`, so
//! the same code runs on every chain.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use crate::{dev, Error, Node, NodeConfig, Result, ServerHandle};

/// Where the local node listens by default.
pub const DEFAULT_LOCAL_RPC: &str = "http://127.0.0.1:8545";

/// File in a data directory where a running node records its URL.
pub const NODE_RECORD: &str = "node.json";

/// What a running node records in its data directory so that other commands on the same
/// directory use it: written when it starts serving, removed when it stops. A stale file
/// (after `kill -9`) is harmless: a record whose URL does not answer is ignored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    /// JSON-RPC URL.
    pub url: String,
    /// Chain id served.
    pub chain_id: u64,
    /// Process id of the node.
    pub pid: u32,
}

impl NodeRecord {
    /// Records this process's node in `data_dir`; the file is replaced atomically.
    pub fn publish(&self, data_dir: &Path) -> Result<()> {
        let path = data_dir.join(NODE_RECORD);
        let tmp = data_dir.join(format!(".{NODE_RECORD}.tmp"));
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::InvalidParams(e.to_string()))?;
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Io(data_dir.to_path_buf(), e))?;
        std::fs::write(&tmp, bytes).map_err(|e| Error::Io(tmp.clone(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::Io(path, e))
    }

    /// The record in `data_dir`, if there is one that parses.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let path = data_dir.join(NODE_RECORD);
        // A record is a few dozen bytes; anything large is not one and is not read.
        if std::fs::metadata(&path).ok()?.len() > 64 * 1024 {
            return None;
        }
        serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
    }

    /// Removes the record if it is this process's.
    pub fn withdraw(data_dir: &Path) {
        if Self::read(data_dir).is_some_and(|r| r.pid == std::process::id()) {
            let _ = std::fs::remove_file(data_dir.join(NODE_RECORD));
        }
    }
}

/// Environment variable the CLI reads a keystore password from (otherwise it prompts).
pub const KEYSTORE_PASSWORD_ENV: &str = "ALARA_KEYSTORE_PASSWORD";

/// How transactions are signed.
#[derive(Clone)]
pub enum WalletSource {
    /// Dev account `i` (0..10) of the public test mnemonic: dev chains only.
    Dev(usize),
    /// A Web3 Secret Storage (v3) keystore file and its password (the caller gets it from
    /// the environment or a prompt; this crate never reads either).
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Its password.
        password: String,
    },
}

impl std::fmt::Debug for WalletSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalletSource::Dev(i) => f.debug_tuple("Dev").field(i).finish(),
            WalletSource::Keystore { path, .. } => f
                .debug_struct("Keystore")
                .field("path", path)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl WalletSource {
    /// Loads the signer. A keystore's password is never logged.
    pub fn signer(&self) -> Result<PrivateKeySigner> {
        match self {
            WalletSource::Dev(i) if *i < dev::DEV_KEYS.len() => Ok(dev::dev_signer(*i)),
            WalletSource::Dev(i) => Err(Error::InvalidParams(format!(
                "--account {i}: there are {} dev accounts (0-{})",
                dev::DEV_KEYS.len(),
                dev::DEV_KEYS.len() - 1
            ))),
            WalletSource::Keystore { path, password } => {
                Ok(crate::keystore::decrypt(path, password)?)
            }
        }
    }
}

/// Creates a new random key in a keystore file under `dir`, encrypted with `password` at
/// the standard scrypt cost ([`crate::keystore`]). Returns the file path and the address.
pub fn create_keystore(dir: &Path, password: &str) -> Result<(PathBuf, Address)> {
    Ok(crate::keystore::create(dir, password)?)
}

/// An embedded chain opened by this process because no node was running.
pub struct EmbeddedChain {
    /// The node.
    pub node: Arc<Node>,
    /// Its JSON-RPC server on a free loopback port.
    pub server: ServerHandle,
}

/// A connected chain: provider, signer, chain id.
pub struct Connection {
    /// Provider that signs with the chosen wallet and fills nonce, gas and fees.
    pub provider: DynProvider,
    /// The signing address.
    pub signer: Address,
    /// Chain id reported by the endpoint.
    pub chain_id: u64,
    /// Endpoint URL.
    pub url: String,
    /// Set when the chain runs inside this process.
    pub embedded: Option<EmbeddedChain>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("chain_id", &self.chain_id)
            .field("signer", &self.signer)
            .field("embedded", &self.embedded.is_some())
            .finish()
    }
}

/// A provider for `url` signing with `signer`.
pub fn provider_for(url: &str, signer: PrivateKeySigner) -> Result<DynProvider> {
    let parsed = url
        .parse()
        .map_err(|e| Error::InvalidParams(format!("--rpc-url {url:?} is not a URL: {e}")))?;
    Ok(ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(parsed).erased())
}

async fn answers(url: &str) -> bool {
    let Ok(parsed) = url.parse() else { return false };
    let provider = ProviderBuilder::new().connect_http(parsed);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), provider.get_chain_id()).await,
        Ok(Ok(_))
    )
}

/// Connects as described in the module docs.
pub async fn connect(
    rpc_url: Option<&str>,
    data_dir: &Path,
    wallet: &WalletSource,
) -> Result<Connection> {
    let signer = wallet.signer()?;
    let address = signer.address();
    let recorded = NodeRecord::read(data_dir);
    let (url, embedded) = match (rpc_url, recorded) {
        (Some(url), _) => (url.to_string(), None),
        (None, Some(r)) if answers(&r.url).await => (r.url, None),
        (None, recorded) => {
            let node = Node::open(NodeConfig::in_data_dir(data_dir)).map_err(|e| match e {
                Error::AlreadyOpen(path) => Error::InvalidParams(format!(
                    "the chain database {} is in use by another process{}: pass that node's \
                     URL with --rpc-url, or stop it",
                    path.display(),
                    match &recorded {
                        Some(r) => format!(
                            " (the node recorded in {} at {} does not answer)",
                            data_dir.join(NODE_RECORD).display(),
                            r.url
                        ),
                        None => String::new(),
                    }
                )),
                e => e,
            })?;
            let server =
                crate::serve(node.clone(), (std::net::Ipv4Addr::LOCALHOST, 0).into()).await?;
            tracing::info!(url = %server.url(), "no node running for {}; opened its chain in this process", data_dir.display());
            (server.url(), Some(EmbeddedChain { node, server }))
        }
    };
    let provider = provider_for(&url, signer)?;
    let chain_id = provider.get_chain_id().await.map_err(|e| Error::Remote {
        url: url.clone(),
        message: format!("eth_chainId failed: {e}"),
    })?;
    Ok(Connection { provider, signer: address, chain_id, url, embedded })
}
