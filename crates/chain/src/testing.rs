//! Chains for tests and benchmarks: the embedded node and anvil behind one interface.
//!
//! Contract tests run against every backend in [`backends`], so a behaviour that differs
//! between Alara's node and anvil shows up as a failing test rather than a surprise on a
//! real network.
//!
//! ```no_run
//! # async fn demo() -> Result<(), alara_chain::testing::StartError> {
//! use alara_chain::testing::{backends, TestChain};
//! use alloy::providers::Provider;
//! for backend in backends() {
//!     let chain = TestChain::start(backend).await?;
//!     let provider = chain.provider(0);
//!     assert_eq!(provider.get_chain_id().await?, chain.chain_id());
//! }
//! # Ok(()) }
//! ```
#![allow(clippy::expect_used, reason = "test helpers fail the test by panicking")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};

use crate::dev;

/// Which node a [`TestChain`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Alara's embedded revm node, in this process, in memory.
    Embedded,
    /// Foundry's anvil from `node_modules`, as a child process.
    Anvil,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Embedded => "embedded",
            Backend::Anvil => "anvil",
        })
    }
}

/// The backends every contract test runs against.
pub fn backends() -> Vec<Backend> {
    vec![Backend::Embedded, Backend::Anvil]
}

/// A running chain with the ten dev accounts funded; stopped on drop.
pub struct TestChain {
    backend: Backend,
    url: String,
    chain_id: u64,
    _guard: Guard,
}

enum Guard {
    Embedded { _server: crate::server::ServerHandle },
    Anvil(Child),
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self {
            Guard::Embedded { .. } => {}
            Guard::Anvil(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Errors starting a test chain.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

impl TestChain {
    /// Starts a fresh chain on `backend`.
    pub async fn start(backend: Backend) -> Result<Self, StartError> {
        match backend {
            Backend::Embedded => Self::embedded().await,
            Backend::Anvil => Self::anvil(),
        }
    }

    /// Starts Alara's embedded node in memory on a free loopback port.
    pub async fn embedded() -> Result<Self, StartError> {
        Self::embedded_with(crate::NodeConfig::ephemeral()).await
    }

    /// Starts the embedded node with `eth_getLogs` limited to `range` blocks per query, as
    /// public providers limit it: a wider query is refused with `-32005`.
    pub async fn embedded_capped(range: u64) -> Result<Self, StartError> {
        let config =
            crate::NodeConfig { max_logs_range: Some(range), ..crate::NodeConfig::ephemeral() };
        Self::embedded_with(config).await
    }

    /// Starts the embedded node with `config` (in memory unless it names a database).
    pub async fn embedded_with(config: crate::NodeConfig) -> Result<Self, StartError> {
        let chain_id = config.chain_id;
        let node = crate::Node::open(config)?;
        let handle = crate::server::serve(node, "127.0.0.1:0".parse()?).await?;
        Ok(Self {
            backend: Backend::Embedded,
            url: format!("http://{}", handle.local_addr()),
            chain_id,
            _guard: Guard::Embedded { _server: handle },
        })
    }

    /// Starts anvil from `node_modules` on a free loopback port.
    pub fn anvil() -> Result<Self, StartError> {
        Self::anvil_with(&[])
    }

    /// Starts anvil with extra command-line `args` (e.g. `--hardfork cancun`).
    pub fn anvil_with(args: &[&str]) -> Result<Self, StartError> {
        let (child, url) = spawn_anvil(args)?;
        Ok(Self {
            backend: Backend::Anvil,
            url,
            chain_id: crate::DEFAULT_CHAIN_ID,
            _guard: Guard::Anvil(child),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The HTTP JSON-RPC endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id (31337 on both backends).
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Mines `n` empty blocks at once (`anvil_mine`, which both backends answer); returns
    /// the new head.
    pub async fn mine_blocks(&self, n: u64) -> Result<u64, StartError> {
        let provider = self.provider(0);
        let _: serde_json::Value =
            provider.raw_request("anvil_mine".into(), (alloy::primitives::U256::from(n),)).await?;
        Ok(provider.get_block_number().await?)
    }

    /// A provider that signs locally with dev account `account` and fills nonce, gas and fees.
    pub fn provider(&self, account: usize) -> DynProvider {
        let wallet = EthereumWallet::from(dev::dev_signer(account));
        ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(self.url.parse().expect("test chain URL is valid"))
            .erased()
    }
}

/// Spawns anvil on a free port with extra `args`; returns the child and its endpoint.
///
/// Waits for anvil's "Listening on" line, so the endpoint answers when this returns.
pub fn spawn_anvil(args: &[&str]) -> Result<(Child, String), StartError> {
    let bin = crate::tools::require_foundry_bin("anvil")?;
    let mut child = Command::new(bin)
        // `--steps-tracing`: without it anvil answers the struct logger with no steps.
        .args(["--port", "0", "--host", "127.0.0.1", "--steps-tracing"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("anvil stdout not captured")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(line) = lines.next() else { break };
        let line = line?;
        if let Some(addr) = line.trim().strip_prefix("Listening on ") {
            // Keep draining anvil's stdout so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return Ok((child, format!("http://{}", addr.trim())));
        }
    }
    let _ = child.kill();
    Err("anvil did not report a listening address within 30 s".into())
}
