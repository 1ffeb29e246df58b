//! `alara up`: the embedded chain with the core contracts, served until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alara_chain::{client, dev, Mining, Node, NodeConfig};
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

/// Arguments of `alara up`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Port for the JSON-RPC endpoint.
    #[arg(long, default_value_t = 8545)]
    pub port: u16,
    /// Address to bind. Use 0.0.0.0 to serve other machines (the dev keys are public!).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Keep the chain in memory only; nothing is written to --data-dir/chain.
    #[arg(long)]
    pub ephemeral: bool,
    /// Mine a block every N seconds instead of one block per transaction.
    #[arg(long, value_name = "SECONDS")]
    pub block_time: Option<f64>,
    /// Chain id (EIP-155). The default matches anvil and hardhat.
    #[arg(long, default_value_t = alara_chain::DEFAULT_CHAIN_ID)]
    pub chain_id: u64,
    /// Rules the chain runs: prague (default, as mainnet since May 2025) or cancun.
    #[arg(long, default_value = "prague", value_parser = clap::builder::ValueParser::new(parse_hardfork))]
    pub hardfork: alara_chain::Hardfork,
    /// Start the node only; do not deploy the platform's contracts.
    #[arg(long)]
    pub no_deploy: bool,
    /// Keep no Merkle-Patricia state trie: headers chain a digest of each block's changes
    /// and `eth_getProof` is refused. Only for measuring what the trie costs (`alara bench
    /// chain` runs both); fixed when the data directory is created.
    #[arg(long)]
    pub no_merkle_root: bool,
    /// Refuse `eth_getLogs` over more than N blocks (error -32005), as public providers do;
    /// useful to check that a client pages its log scans. Default: no limit.
    #[arg(long, value_name = "BLOCKS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_logs_range: Option<u64>,
    /// Refuse `eth_getLogs` that would return more than N logs (error -32005); one batch
    /// returns at most N logs in total.
    #[arg(long, value_name = "LOGS", default_value_t = alara_chain::MAX_LOGS)]
    pub max_logs_results: usize,
    /// Refuse JSON-RPC batches of more than N requests (error -32600).
    #[arg(long, value_name = "REQUESTS", default_value_t = alara_chain::node::MAX_BATCH_REQUESTS)]
    pub max_batch_requests: usize,
    /// Most bytes of one HTTP answer (a whole batch); the rest of a batch past it gets
    /// error -32003 "response too large".
    #[arg(long, value_name = "BYTES", default_value_t = alara_chain::node::MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,
    /// Time budget of one eth_call or eth_estimateGas, in seconds (waiting for an EVM
    /// worker included).
    #[arg(long, value_name = "SECONDS", default_value_t = alara_chain::node::EVM_TIMEOUT.as_secs_f64())]
    pub evm_timeout: f64,
    /// Threads that run eth_call and eth_estimateGas. Default: one per core but one.
    #[arg(long, value_name = "THREADS")]
    pub evm_workers: Option<usize>,
    /// Most gas one eth_call or eth_estimateGas may use (never more than the block gas limit).
    #[arg(long, value_name = "GAS", default_value_t = alara_chain::node::DEFAULT_GAS_LIMIT)]
    pub rpc_gas_cap: u64,
    /// Most blocks one anvil_mine or evm_mine (or one batch of them) may mine.
    #[arg(long, value_name = "BLOCKS", default_value_t = alara_chain::node::MAX_MINE_BLOCKS)]
    pub max_mine_blocks: u64,
    /// Most open HTTP connections; more are answered 503 and closed.
    #[arg(long, value_name = "CONNECTIONS", default_value_t = alara_chain::node::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds a connection has to send a request head (slow or idle connections are
    /// closed after it).
    #[arg(long, value_name = "SECONDS", default_value_t = alara_chain::node::HEADER_READ_TIMEOUT.as_secs_f64())]
    pub header_read_timeout: f64,
    /// Seconds a request has to send its body (408 after it).
    #[arg(long, value_name = "SECONDS", default_value_t = alara_chain::node::BODY_READ_TIMEOUT.as_secs_f64())]
    pub body_read_timeout: f64,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The HTTP API and dashboard `alara up` serves beside JSON-RPC, on the same port.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "API and dashboard")]
pub struct ApiArgs {
    /// Serve only JSON-RPC: no API (`/api/v1`), no docs (`/docs`), no dashboard (`/`).
    #[arg(long)]
    pub no_api: bool,
    /// Run the demonstrations (audited inference, a data sale, federated rounds, the model
    /// market, a disputed compute task) against this node before serving, so the dashboard
    /// has something to show.
    #[arg(long)]
    pub demo: bool,
    /// Role of API requests without a token: reader or none. Default: reader when --host
    /// is a loopback address, none otherwise.
    #[arg(long, value_name = "ROLE", value_parser = ["reader", "none"])]
    pub anonymous_role: Option<String>,
    /// A wallet that gets the admin role when it signs in with Ethereum (repeatable).
    /// Other wallets get the reader role.
    #[arg(long, value_name = "ADDRESS")]
    pub admin_wallet: Vec<alloy::primitives::Address>,
    /// An origin allowed to call the API from a browser page (CORS; repeatable; `*` for
    /// any). Default: none, so only the dashboard served here calls it.
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Vec<String>,
    /// Requests per second each API caller (key, wallet or address) may make; bursts of
    /// twice that.
    #[arg(long, value_name = "N", default_value_t = 200.0)]
    pub rate_limit: f64,
}

/// A positive number of seconds from the flag `name`.
fn seconds(name: &str, secs: f64) -> eyre::Result<Duration> {
    eyre::ensure!(
        secs > 0.0 && secs.is_finite() && secs < 1e9,
        "--{name} must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(secs))
}

/// The platform's contracts on this chain, as recorded in the address book.
#[derive(Serialize)]
struct Contracts {
    alara_token: alloy::primitives::Address,
    audit_anchor: alloy::primitives::Address,
    data_market: alloy::primitives::Address,
    federated_training: alloy::primitives::Address,
}

/// Deploys every contract the other commands expect, each once per chain.
async fn deploy_all(ctx: &Context, url: &str) -> eyre::Result<Contracts> {
    let provider = client::provider_for(url, dev::dev_signer(0))?;
    let dir = &ctx.data_dir;
    let core = alara_contracts::deploy_core(&provider, dir, dev::dev_addresses()[0]).await?;
    Ok(Contracts {
        alara_token: core.token,
        audit_anchor: alara_audit::anchor::ensure_deployed(&provider, dir).await?,
        data_market: alara_market::ensure_deployed(&provider, dir).await?,
        federated_training: alara_fl::chain::ensure_deployed(&provider, dir, core.token).await?,
    })
}

#[derive(Serialize)]
struct Summary {
    rpc_url: String,
    dashboard_url: Option<String>,
    api_docs_url: Option<String>,
    audit_note: Option<String>,
    chain_id: u64,
    data_dir: Option<String>,
    head_block: u64,
    accounts: Vec<String>,
    contracts: Option<Contracts>,
}

fn parse_hardfork(s: &str) -> Result<alara_chain::Hardfork, String> {
    s.parse().map_err(|e: alara_chain::Error| e.to_string())
}

/// Builds the node configuration from the arguments.
pub fn node_config(ctx: &Context, args: &Args) -> eyre::Result<NodeConfig> {
    let mut config = if args.ephemeral {
        NodeConfig::ephemeral()
    } else {
        NodeConfig::in_data_dir(&ctx.data_dir)
    };
    config.chain_id = args.chain_id;
    config.hardfork = args.hardfork;
    config.merkle_state_root = !args.no_merkle_root;
    config.max_logs_range = args.max_logs_range;
    eyre::ensure!(args.max_logs_results >= 1, "--max-logs-results must be at least 1");
    config.max_logs_results = args.max_logs_results;
    eyre::ensure!(args.max_batch_requests >= 1, "--max-batch-requests must be at least 1");
    config.max_batch_requests = args.max_batch_requests;
    eyre::ensure!(args.max_response_bytes >= 1024, "--max-response-bytes must be at least 1024");
    config.max_response_bytes = args.max_response_bytes;
    config.evm_timeout = seconds("evm-timeout", args.evm_timeout)?;
    if let Some(workers) = args.evm_workers {
        eyre::ensure!(workers >= 1, "--evm-workers must be at least 1");
        config.evm_workers = workers;
    }
    eyre::ensure!(args.rpc_gas_cap >= 21_000, "--rpc-gas-cap must be at least 21000");
    config.rpc_gas_cap = args.rpc_gas_cap;
    eyre::ensure!(args.max_mine_blocks >= 1, "--max-mine-blocks must be at least 1");
    config.max_mine_blocks = args.max_mine_blocks;
    eyre::ensure!(args.max_connections >= 1, "--max-connections must be at least 1");
    config.max_connections = args.max_connections;
    config.header_read_timeout = seconds("header-read-timeout", args.header_read_timeout)?;
    config.body_read_timeout = seconds("body-read-timeout", args.body_read_timeout)?;
    if let Some(secs) = args.block_time {
        eyre::ensure!(
            secs > 0.0 && secs.is_finite(),
            "--block-time must be a positive number of seconds"
        );
        config.mining = Mining::Interval(Duration::from_secs_f64(secs));
    }
    Ok(config)
}

/// Starts a node and its server, prints where it is, and waits for Ctrl-C.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|e| eyre::eyre!("--host {} --port {}: {e}", args.host, args.port))?;
    let config = node_config(ctx, &args)?;
    let data_dir = config.db_path.as_ref().map(|p| p.display().to_string());
    let node = Node::open(config)?;
    let api = (!args.api.no_api).then(|| api_config(ctx, &args)).transpose()?;
    let mut api_state = None;
    let server = alara_chain::serve_with(node.clone(), addr, |bound| match &api {
        Some(config) => {
            let state = api_state_for(ctx, config.clone(), bound);
            let router = alara_api::router(state.clone());
            api_state = Some(state);
            router
        }
        None => axum::Router::new(),
    })
    .await
    .map_err(|e| {
        eyre::eyre!("{e}\nIs another node already listening on {addr}? Pick another with --port.")
    })?;
    let url = server.url();
    // Other commands on this data directory use this node (and not whatever answers on
    // port 8545) while it runs.
    let record = (!args.ephemeral).then(|| client::NodeRecord {
        url: url.clone(),
        chain_id: node.chain_id(),
        pid: std::process::id(),
    });
    if let Some(r) = &record {
        r.publish(&ctx.data_dir)?;
    }
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let setup = async {
        let contracts = if args.no_deploy { None } else { Some(deploy_all(ctx, &url).await?) };
        if args.api.demo {
            run_demos(ctx, &url).await?;
        }
        eyre::Ok(contracts)
    };
    let contracts = tokio::select! {
        r = setup => r,
        r = &mut stop => {
            r?;
            Err(eyre::eyre!("stopped by a signal before the node was ready"))
        }
    };
    let contracts = match contracts {
        Ok(c) => c,
        Err(e) => {
            close(ctx, server, &node, record.is_some());
            return Err(e);
        }
    };
    let audit_note = match &api_state {
        Some(state) => serve_audit(ctx, state),
        None => None,
    };
    let head = node.reader()?.meta_u64(alara_chain::storage::meta::HEAD)?.unwrap_or(0);
    let summary = Summary {
        dashboard_url: api_state.as_ref().map(|_| format!("{url}/")),
        api_docs_url: api_state.as_ref().map(|_| format!("{url}/docs")),
        audit_note,
        rpc_url: url.clone(),
        chain_id: node.chain_id(),
        data_dir,
        head_block: head,
        accounts: dev::dev_addresses().iter().map(|a| a.to_string()).collect(),
        contracts,
    };
    ctx.emit(&summary, || print_summary(&summary))?;

    let stopped = stop.await;
    eprintln!("\nstopping: finishing the batch in hand and closing the database");
    close(ctx, server, &node, record.is_some());
    Ok(stopped?)
}

/// Stops serving, withdraws the node's record from the data directory and closes the
/// database.
fn close(ctx: &Context, server: alara_chain::ServerHandle, node: &Node, recorded: bool) {
    drop(server);
    if recorded {
        client::NodeRecord::withdraw(&ctx.data_dir);
    }
    node.shutdown();
}

/// The API's settings from the flags (the bound address is added by [`api_state_for`]).
fn api_config(ctx: &Context, args: &Args) -> eyre::Result<alara_api::ApiConfig> {
    let a = &args.api;
    eyre::ensure!(
        a.rate_limit > 0.0 && a.rate_limit.is_finite(),
        "--rate-limit must be a positive number of requests per second"
    );
    let loopback = args
        .host
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(args.host == "localhost");
    let mut config = alara_api::ApiConfig::new(&ctx.data_dir);
    config.anonymous_role = match a.anonymous_role.as_deref() {
        Some("reader") => Some(alara_api::Role::Reader),
        Some(_) => None,
        None => loopback.then_some(alara_api::Role::Reader),
    };
    config.wallet_roles = a.admin_wallet.iter().map(|w| (*w, alara_api::Role::Admin)).collect();
    config.cors_origins = a.cors_origin.clone();
    config.rate_limit =
        alara_api::auth::limit::RateLimit { per_sec: a.rate_limit, burst: a.rate_limit * 2.0 };
    Ok(config)
}

/// The API's state once the node's address is known: the chain at that address, the
/// data directory's store (the audit trail comes later, see [`serve_audit`]).
fn api_state_for(
    ctx: &Context,
    mut config: alara_api::ApiConfig,
    bound: SocketAddr,
) -> Arc<alara_api::ApiState> {
    config.rpc_url = Some(format!("http://{bound}"));
    config.siwe_domain = bound.to_string();
    let mut state = alara_api::ApiState::new(config);
    match alara_store::Store::open(ctx.data_dir.join("store")) {
        Ok(store) => state = state.with_store(Arc::new(store)),
        Err(e) => tracing::warn!(error = %e, "the API serves no store"),
    }
    let state = match state.with_chain() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e.message, "the API reads no chain");
            alara_api::ApiState::new(alara_api::ApiConfig::new(&ctx.data_dir))
        }
    };
    Arc::new(state)
}

/// Opens the audit trails the API serves: the data directory's own (`main`) when its key
/// can be unlocked without asking (`ALARA_LOG_KEY_PASSWORD`), and the demonstrations'
/// trails that exist. Returns a note for the summary when `main` is not served.
fn serve_audit(ctx: &Context, state: &alara_api::ApiState) -> Option<String> {
    const ENV: &str = alara_audit::keyfile::PASSPHRASE_ENV;
    let open = |dir: &std::path::Path, pass: String| {
        let mut config = alara_audit::TrailConfig::new(dir, pass);
        config.key_work_factor = 10;
        alara_audit::AuditTrail::open(config).map(Arc::new)
    };
    let mut note = None;
    match std::env::var(ENV).ok().filter(|p| !p.is_empty()) {
        Some(pass) => {
            let dir = crate::cmd::audit::trail_dir(ctx);
            match alara_audit::AuditTrail::open(alara_audit::TrailConfig::new(&dir, pass)) {
                Ok(trail) => state.add_trail("main", Arc::new(trail)),
                Err(e) => note = Some(format!("audit log not served: {e}")),
            }
        }
        None => {
            note = Some(format!(
                "the audit log in {} is not served, so other commands can write it; to serve \
                 it (and write it through the API) start with {ENV} set to its passphrase",
                crate::cmd::audit::trail_dir(ctx).display()
            ))
        }
    }
    for (name, dir, pass) in crate::cmd::demo::demo_trails(&ctx.data_dir) {
        if dir.join(alara_audit::trail::KEY_FILE).exists() {
            match open(&dir, pass) {
                Ok(trail) => state.add_trail(&name, trail),
                Err(e) => tracing::warn!(error = %e, log = %name, "demo trail not served"),
            }
        }
    }
    note
}

/// `alara up --demo`: the demonstrations, against this node, into this data directory.
async fn run_demos(ctx: &Context, url: &str) -> eyre::Result<()> {
    let chain = crate::context::ChainArgs { rpc_url: Some(url.to_string()), ..ctx.chain.clone() };
    // The demos' own output would mix with the summary on stdout: they run quietly.
    let mut demo_ctx = Context::new(ctx.global.clone())?.with_chain(chain);
    demo_ctx.quiet = true;
    for name in ["audit", "data", "fl", "market", "compute"] {
        eprintln!("--demo: running `alara demo {name}`");
        let parser = <crate::cmd::demo::Command as clap::Subcommand>::augment_subcommands(
            clap::Command::new("demo"),
        );
        let matches =
            parser.try_get_matches_from(["demo", name]).map_err(|e| eyre::eyre!("{e}"))?;
        let command =
            <crate::cmd::demo::Command as clap::FromArgMatches>::from_arg_matches(&matches)
                .map_err(|e| eyre::eyre!("{e}"))?;
        crate::cmd::demo::run(&demo_ctx, command)
            .await
            .wrap_err_with(|| format!("`alara demo {name}` (from `alara up --demo`)"))?;
        eprintln!("--demo: `alara demo {name}` done");
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM (what `kill` and process managers send), so that both
/// close the database cleanly and the next start opens it without a repair.
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

fn print_summary(s: &Summary) {
    println!("Alara chain {} listening on {}", s.chain_id, s.rpc_url);
    match &s.data_dir {
        Some(d) => println!("data: {d} (head block {})", s.head_block),
        None => println!("data: in memory (--ephemeral)"),
    }
    println!("\nDev accounts (10,000 ETH each; mnemonic \"{}\"):", dev::DEV_MNEMONIC);
    for (i, (addr, key)) in dev::DEV_KEYS.iter().enumerate() {
        println!("  ({i}) {addr}  key {key}");
    }
    println!("  These keys are public. Never use them on a real network.");
    if let Some(c) = &s.contracts {
        println!("\nContracts:");
        println!("  AlaraToken         {}", c.alara_token);
        println!("  AuditAnchor        {}", c.audit_anchor);
        println!("  DataMarket         {}", c.data_market);
        println!("  FederatedTraining  {}", c.federated_training);
    }
    if let Some(d) = &s.dashboard_url {
        println!("\nDashboard:  {d}");
        if let Some(docs) = &s.api_docs_url {
            println!("API:        {}api/v1  (OpenAPI at {}openapi.json, docs at {docs})", d, d);
        }
        if let Some(n) = &s.audit_note {
            println!("            {n}");
        }
    }
    println!("\nTry:  cast block-number --rpc-url {}", s.rpc_url);
    println!("Press Ctrl-C to stop.");
}
