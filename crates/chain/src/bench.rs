//! What `alara bench chain` measures: the embedded node against anvil, same workload, same
//! run (feature `bench`).
//!
//! Throughput: ERC-20 transfers signed ahead of time, submitted with
//! `eth_sendRawTransaction` by several concurrent senders, and confirmed by receipts; the
//! clock runs from the first submission to the last confirmation. Cold start: process
//! start until the first JSON-RPC answer — for Alara with a persisted chain of many blocks
//! to reopen (stopped cleanly before; a start after `kill -9` is reported apart), for anvil
//! with an empty in-memory chain.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alara_contracts::AlaraToken;
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::{client, dev};

/// How long a node may mine nothing while transactions are outstanding before it is nudged.
const STALL: Duration = Duration::from_millis(250);

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `alara` executable that serves the embedded node (`alara chain node`).
    pub alara_exe: PathBuf,
    /// ERC-20 transfers to submit to each node in each workload.
    pub txs: usize,
    /// Concurrent senders of the pipelined workload (each a dev account with its own nonce
    /// sequence), 1-9.
    pub senders: usize,
    /// Requests each sender of the pipelined workload keeps in flight.
    pub window: usize,
    /// Sender counts of the one-at-a-time workloads: each sender waits for the answer of
    /// `eth_sendRawTransaction` before sending its next transaction, as scripts and wallets
    /// do. Each 1-9.
    pub sequential_senders: Vec<usize>,
    /// Blocks in the persisted chain Alara reopens for the cold-start measurement.
    pub cold_blocks: u64,
    /// Cold starts per node (the median is reported).
    pub cold_runs: usize,
}

/// How one node did on one workload.
#[derive(Debug, Serialize, Default, Clone, Copy)]
pub struct Run {
    /// Transfers submitted and confirmed per second.
    pub transfers_per_sec: f64,
    /// Wall time from the first submission to the last confirmation.
    pub elapsed_ms: f64,
    /// What the client had to do to get everything mined.
    pub fixes: Fixes,
}

/// One throughput workload on both nodes.
#[derive(Debug, Serialize)]
pub struct Workload {
    /// What was sent.
    pub name: String,
    /// Concurrent senders.
    pub senders: usize,
    /// Requests in flight per sender (1: wait for each answer before the next).
    pub in_flight: usize,
    /// Transfers sent to each node.
    pub transfers: usize,
    /// The embedded node.
    pub alara: Run,
    /// The embedded node without the Merkle-Patricia state trie (`--no-merkle-root`).
    pub alara_without_root: Run,
    /// anvil.
    pub anvil: Run,
    /// Alara's transfers/s over anvil's.
    pub ratio: f64,
    /// The same without the state trie.
    pub ratio_without_root: f64,
}

/// Process start until the first JSON-RPC answer.
#[derive(Debug, Serialize, Default)]
pub struct ColdStart {
    /// Blocks in the chain Alara reopened.
    pub blocks: u64,
    /// Median for Alara, stopped with SIGTERM before.
    pub alara_ms: f64,
    /// Median for anvil (an empty in-memory chain).
    pub anvil_ms: f64,
    /// Median for Alara after the previous run was killed with SIGKILL (database repair).
    pub alara_after_kill_9_ms: f64,
    /// Alara's over anvil's.
    pub ratio: f64,
}

/// Both nodes' figures and their ratios.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The throughput workloads, pipelined first.
    pub workloads: Vec<Workload>,
    /// Cold start.
    pub cold_start: ColdStart,
    /// `anvil --version`.
    pub anvil_version: String,
}

struct Proc(Child);

impl Proc {
    /// Stops the node as a service manager would (SIGTERM) and waits for it to exit, so
    /// that its database is closed cleanly.
    fn stop(mut self) {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if stopped {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Drop kills it.
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> eyre::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One raw HTTP JSON-RPC call on a fresh connection; `None` until something answers.
fn probe(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(50)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains("\"result\"").then_some(out)
}

fn alara_node(exe: &Path, data_dir: &Path, port: u16) -> eyre::Result<Proc> {
    alara_node_with(exe, data_dir, port, &[])
}

fn alara_node_with(exe: &Path, data_dir: &Path, port: u16, extra: &[&str]) -> eyre::Result<Proc> {
    let child = Command::new(exe)
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["chain", "node", "--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Proc(child))
}

fn anvil_node(port: u16) -> eyre::Result<Proc> {
    let bin = crate::tools::require_foundry_bin("anvil")?;
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Proc(child))
}

/// Starts a process and returns it once its endpoint answers, with the time that took.
fn cold_start(
    start: impl Fn(u16) -> eyre::Result<Proc>,
) -> eyre::Result<(Proc, Duration, SocketAddr)> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let t0 = Instant::now();
    let proc = start(port)?;
    loop {
        if probe(addr).is_some() {
            return Ok((proc, t0.elapsed(), addr));
        }
        eyre::ensure!(
            t0.elapsed() < Duration::from_secs(60),
            "node on {addr} did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn sign_transfer(
    signer: &PrivateKeySigner,
    token: Address,
    nonce: u64,
    to: Address,
) -> eyre::Result<(B256, String)> {
    let input = AlaraToken::transferCall { to, value: U256::from(1) }.abi_encode();
    let mut tx = TxEip1559 {
        chain_id: dev_chain_id(),
        nonce,
        gas_limit: 80_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(token),
        value: U256::ZERO,
        input: input.into(),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx)?;
    let env = TxEnvelope::from(tx.into_signed(sig));
    Ok((*env.tx_hash(), format!("0x{}", hex::encode(env.encoded_2718()))))
}

fn dev_chain_id() -> u64 {
    crate::DEFAULT_CHAIN_ID
}

/// Deploys a token, funds the senders, then times the signed transfers.
struct Sender {
    address: Address,
    first_nonce: u64,
    txs: Vec<(B256, String)>,
}

/// What the client had to do to get every transfer mined.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Fixes {
    /// `evm_mine` calls after the node mined nothing for a while.
    pub nudges: u32,
    /// Transactions sent again because the node had forgotten them.
    pub resubmitted: u32,
}

async fn submit(http: &reqwest::Client, url: &str, raw: &str) -> eyre::Result<String> {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["{raw}"]}}"#
    );
    Ok(http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .text()
        .await?)
}

async fn throughput(
    url: &str,
    txs: usize,
    senders: usize,
    window: usize,
    label: &str,
) -> eyre::Result<(Duration, Fixes)> {
    let owner = client::provider_for(url, dev::dev_signer(0))?;
    let supply = U256::from(10u64).pow(U256::from(27));
    let token = AlaraToken::deploy(&owner, dev::dev_addresses()[0], supply).await?;
    let signers: Vec<PrivateKeySigner> = (1..=senders).map(dev::dev_signer).collect();
    for s in &signers {
        token
            .transfer(s.address(), U256::from(10u64).pow(U256::from(24)))
            .send()
            .await?
            .get_receipt()
            .await?;
    }
    let per_sender = txs.div_ceil(senders);
    let mut work = Vec::new();
    for (i, s) in signers.iter().enumerate() {
        let nonce = owner.get_transaction_count(s.address()).await?;
        let list = (0..per_sender as u64)
            .map(|k| {
                // Fresh recipients, so storage grows as in real use.
                let mut to = [0u8; 20];
                to[..8].copy_from_slice(&(i as u64).to_be_bytes());
                to[8..16].copy_from_slice(&k.to_be_bytes());
                to[19] = 1;
                sign_transfer(s, *token.address(), nonce + k, Address::from(to))
            })
            .collect::<eyre::Result<Vec<_>>>()?;
        work.push(Sender { address: s.address(), first_nonce: nonce, txs: list });
    }

    let http = reqwest::Client::builder().pool_max_idle_per_host(senders * 2).build()?;
    let bar = ProgressBar::new((per_sender * senders) as u64)
        .with_style(ProgressStyle::with_template("{prefix:>8} {bar:40} {pos}/{len} transfers")?);
    bar.set_prefix(label.to_string());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for sender in &work {
        let http = http.clone();
        let url = url.to_string();
        let bar = bar.clone();
        let raws: Vec<String> = sender.txs.iter().map(|(_, raw)| raw.clone()).collect();
        let window = window.max(1);
        tasks.push(tokio::spawn(async move {
            // Up to `window` requests in flight, sent in nonce order; a node must queue the
            // ones that overtake their predecessors on the wire.
            let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(window));
            let mut inflight = tokio::task::JoinSet::new();
            for raw in raws {
                let permit = slots.clone().acquire_owned().await?;
                let (http, url, bar) = (http.clone(), url.clone(), bar.clone());
                inflight.spawn(async move {
                    let resp = submit(&http, &url, &raw).await;
                    drop(permit);
                    let resp = resp?;
                    eyre::ensure!(!resp.contains("\"error\""), "submission refused: {resp}");
                    bar.inc(1);
                    Ok::<(), eyre::Report>(())
                });
            }
            while let Some(r) = inflight.join_next().await {
                r??;
            }
            Ok::<(), eyre::Report>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    // Confirmed: every sender's nonce has reached its last transaction. A node may stop
    // mining with executable transactions pending, or drop accepted ones (anvil does both
    // under concurrent load); like a careful wallet, the client resubmits what the node no
    // longer knows and nudges a stalled automine with `evm_mine`. Both are counted.
    let mut fixes = Fixes::default();
    let mut reached: Vec<u64> = vec![0; work.len()];
    let mut last_progress = Instant::now();
    loop {
        let mut all_done = true;
        for (i, sender) in work.iter().enumerate() {
            let n = owner.get_transaction_count(sender.address).await?;
            if n != reached[i] {
                reached[i] = n;
                last_progress = Instant::now();
            }
            all_done &= n >= sender.first_nonce + sender.txs.len() as u64;
        }
        if all_done {
            break;
        }
        if last_progress.elapsed() > STALL {
            let mut resubmitted = false;
            for (i, sender) in work.iter().enumerate() {
                let next = reached[i].saturating_sub(sender.first_nonce) as usize;
                let Some((hash, _)) = sender.txs.get(next) else { continue };
                if owner.get_transaction_by_hash(*hash).await?.is_none() {
                    for (_, raw) in &sender.txs[next..] {
                        submit(&http, url, raw).await?;
                        fixes.resubmitted += 1;
                    }
                    resubmitted = true;
                }
            }
            if !resubmitted {
                let _: serde_json::Value = owner.raw_request("evm_mine".into(), ()).await?;
                fixes.nudges += 1;
            }
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = t0.elapsed();
    bar.finish_and_clear();
    for sender in &work {
        let Some((hash, _)) = sender.txs.last() else { continue };
        let receipt = owner.get_transaction_receipt(*hash).await?;
        eyre::ensure!(
            receipt.is_some_and(|r| r.status()),
            "{label}: transfer {hash} did not succeed"
        );
    }
    eprintln!(
        "{label}: {} transfers confirmed in {elapsed:.2?} ({} stall nudges, {} resubmitted)",
        per_sender * senders,
        fixes.nudges,
        fixes.resubmitted
    );
    Ok((elapsed, fixes))
}

/// Builds a chain of `blocks` empty blocks in `dir` (once), for the cold-start measurement.
async fn persisted_chain(exe: &Path, dir: &Path, blocks: u64) -> eyre::Result<()> {
    let (proc, _, addr) = cold_start(|port| alara_node(exe, dir, port))?;
    let url = format!("http://{addr}");
    let provider = client::provider_for(&url, dev::dev_signer(0))?;
    let head = provider.get_block_number().await?;
    if head < blocks {
        let missing = blocks - head;
        let _: serde_json::Value =
            provider.raw_request("anvil_mine".into(), (U256::from(missing),)).await?;
    }
    proc.stop();
    Ok(())
}

fn anvil_version() -> String {
    crate::tools::foundry_bin("anvil")
        .and_then(|b| Command::new(b).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Runs `senders × in_flight` on a fresh Alara node and a fresh anvil.
async fn workload(
    args: &Config,
    scratch: &Path,
    name: String,
    senders: usize,
    in_flight: usize,
) -> eyre::Result<Workload> {
    eyre::ensure!((1..=9).contains(&senders), "senders must be 1-9 (dev accounts 1-9 send)");
    let transfers = args.txs.div_ceil(senders) * senders;
    let alara = {
        let dir = scratch.join(format!("throughput-{senders}x{in_flight}"));
        let (_proc, _, addr) = cold_start(|port| alara_node(&args.alara_exe, &dir, port))?;
        throughput(&format!("http://{addr}"), args.txs, senders, in_flight, "alara").await?
    };
    let without_root = {
        let dir = scratch.join(format!("throughput-{senders}x{in_flight}-no-root"));
        let start = |port| alara_node_with(&args.alara_exe, &dir, port, &["--no-merkle-root"]);
        let (_proc, _, addr) = cold_start(start)?;
        let url = format!("http://{addr}");
        throughput(&url, args.txs, senders, in_flight, "alara (no trie)").await?
    };
    let anvil = {
        let (_proc, _, addr) = cold_start(anvil_node)?;
        throughput(&format!("http://{addr}"), args.txs, senders, in_flight, "anvil").await?
    };
    let run = |(elapsed, fixes): (Duration, Fixes)| Run {
        transfers_per_sec: transfers as f64 / elapsed.as_secs_f64(),
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        fixes,
    };
    let (alara, alara_without_root, anvil) = (run(alara), run(without_root), run(anvil));
    Ok(Workload {
        name,
        senders,
        in_flight,
        transfers,
        ratio: alara.transfers_per_sec / anvil.transfers_per_sec,
        ratio_without_root: alara_without_root.transfers_per_sec / anvil.transfers_per_sec,
        alara,
        alara_without_root,
        anvil,
    })
}

/// Runs both nodes through the throughput workloads and the cold-start measurement.
pub async fn run(args: &Config) -> eyre::Result<Report> {
    eyre::ensure!(args.cold_runs >= 1, "--cold-runs must be at least 1");
    let scratch = tempfile::tempdir()?;
    let mut workloads = vec![
        workload(
            args,
            scratch.path(),
            format!("pipelined: {} senders × {} in flight", args.senders, args.window),
            args.senders,
            args.window.max(1),
        )
        .await?,
    ];
    for &senders in &args.sequential_senders {
        let name = format!("one at a time: {senders} senders, each waits for its answer");
        workloads.push(workload(args, scratch.path(), name, senders, 1).await?);
    }

    // Cold start: alternate the two so machine noise hits both alike.
    let exe = &args.alara_exe;
    let cold_dir = scratch.path().join("cold");
    eprintln!("building a persisted chain of {} blocks for the cold start…", args.cold_blocks);
    persisted_chain(exe, &cold_dir, args.cold_blocks).await?;
    let (mut alara_runs, mut anvil_runs) = (Vec::new(), Vec::new());
    for _ in 0..args.cold_runs {
        let (p, t, _) = cold_start(|port| alara_node(exe, &cold_dir, port))?;
        p.stop();
        alara_runs.push(t);
        let (p, t, _) = cold_start(anvil_node)?;
        drop(p);
        anvil_runs.push(t);
    }
    // After `kill -9` the database is reopened with a repair: slower, and reported apart.
    let mut crash_runs = Vec::new();
    for _ in 0..3 {
        let (p, _, _) = cold_start(|port| alara_node(exe, &cold_dir, port))?;
        drop(p);
        let (p, t, _) = cold_start(|port| alara_node(exe, &cold_dir, port))?;
        p.stop();
        crash_runs.push(t);
    }
    let ms = |v: Vec<Duration>| median(v).as_secs_f64() * 1e3;
    let (alara_ms, anvil_ms) = (ms(alara_runs), ms(anvil_runs));
    let cold_start = ColdStart {
        blocks: args.cold_blocks,
        alara_ms,
        anvil_ms,
        alara_after_kill_9_ms: ms(crash_runs),
        ratio: alara_ms / anvil_ms,
    };
    Ok(Report { workloads, cold_start, anvil_version: anvil_version() })
}
