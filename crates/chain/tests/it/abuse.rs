//! The node stays up under abuse: while an abusive client runs, a second client's
//! `eth_blockNumber` stays fast and the process's memory stays bounded.
//!
//! Each test runs one kind of abuse for [`PHASE`] against a fresh in-process node (its own
//! two-worker runtime, like `alara up` on two cores) while a probe on its own thread sends
//! `eth_blockNumber` over a keep-alive connection every few milliseconds. The bounds:
//! - the probe's p99 latency stays under [`P99_BOUND`] (50 ms). A healthy node answers in
//!   well under a millisecond; an unprotected one makes the probe wait seconds;
//! - the process's resident memory (`VmRSS`) grows by less than [`RSS_GROWTH_BOUND`]
//!   (256 MiB) during the phase; an unprotected node grew by gigabytes;
//! - the abusive requests themselves get an answer (a JSON-RPC error naming the limit) or
//!   their connections are closed, instead of being served forever.
//!
//! The tests take a lock so that only one abuse runs at a time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alara_chain::{Node, NodeConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long each abuse runs.
const PHASE: Duration = Duration::from_secs(3);
/// The probe's p99 `eth_blockNumber` latency must stay under this.
const P99_BOUND: Duration = Duration::from_millis(50);
/// The process's resident memory may grow by at most this much during a phase.
const RSS_GROWTH_BOUND: u64 = 256 << 20;

static SERIAL: Mutex<()> = Mutex::new(());

/// The limits the abuse tests run with: the defaults, with the connection timeouts and
/// the connection limit lowered so that a few seconds show them at work.
fn config() -> NodeConfig {
    NodeConfig {
        header_read_timeout: Duration::from_millis(800),
        body_read_timeout: Duration::from_millis(800),
        max_connections: 256,
        ..NodeConfig::ephemeral()
    }
}

/// A node served on its own two-worker runtime.
struct Server {
    rt: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    _handle: alara_chain::ServerHandle,
}

impl Server {
    fn start(config: NodeConfig) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let node = Node::open(config).unwrap();
        let handle = rt.block_on(alara_chain::serve(node, "127.0.0.1:0".parse().unwrap())).unwrap();
        Server { addr: handle.local_addr(), rt: Some(rt), _handle: handle }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One call from a fresh client, outside the abuse.
    fn rpc(&self, method: &str, params: Value) -> Value {
        let url = self.url();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let r = reqwest::Client::new().post(&url).json(&body).send().await.unwrap();
                    r.json::<Value>().await.unwrap()
                })
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // A node stuck in work it cannot leave must not hang the test's exit.
            rt.shutdown_background();
        }
    }
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Reads one HTTP/1.1 response with a `Content-Length` from `stream`.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(buf[end + 4..end + 4 + len].to_vec());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// What a phase measured.
struct Report {
    samples: usize,
    failures: usize,
    p99: Duration,
    max: Duration,
    rss_before: u64,
    rss_peak: u64,
}

impl Report {
    fn check(&self, what: &str) {
        let growth = self.rss_peak.saturating_sub(self.rss_before);
        eprintln!(
            "{what}: {} probes ({} failed), p99 {:?}, max {:?}; RSS {} MiB -> peak {} MiB",
            self.samples,
            self.failures,
            self.p99,
            self.max,
            self.rss_before >> 20,
            self.rss_peak >> 20
        );
        assert!(self.samples >= 10, "{what}: the probe got only {} answers", self.samples);
        assert!(
            self.p99 < P99_BOUND,
            "{what}: eth_blockNumber p99 {:?} (max {:?}) is over {P99_BOUND:?}",
            self.p99,
            self.max
        );
        assert!(
            growth < RSS_GROWTH_BOUND,
            "{what}: resident memory grew by {} MiB (bound {} MiB)",
            growth >> 20,
            RSS_GROWTH_BOUND >> 20
        );
    }
}

/// Runs `abuse` on its own runtime for [`PHASE`] while probing `server`; then drops every
/// abusive task and connection.
fn phase<F, Fut>(server: &Server, abuse: F) -> Report
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    // The probe: a client with a keep-alive connection, as wallets and indexers keep one.
    let probe = {
        let stop = stop.clone();
        let mut stream = TcpStream::connect(addr).unwrap();
        std::thread::spawn(move || {
            let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
            let request = format!(
                "POST / HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let (mut samples, mut failures) = (Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let ok = stream.write_all(request.as_bytes()).is_ok()
                    && read_response(&mut stream)
                        .is_ok_and(|b| b.windows(6).any(|w| w == b"result"));
                samples.push(start.elapsed());
                if !ok {
                    failures += 1;
                    match TcpStream::connect(addr) {
                        Ok(s) => stream = s,
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (samples, failures)
        })
    };
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let rss_before = rss_bytes();
    let abuser =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    abuser.spawn(abuse(addr));
    std::thread::sleep(PHASE);
    stop.store(true, Ordering::Relaxed);
    abuser.shutdown_background();
    let (mut samples, failures) = probe.join().unwrap();
    let rss_peak = sampler.join().unwrap().max(rss_bytes());
    samples.sort();
    let p99 = samples
        .get((samples.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or(Duration::MAX);
    Report {
        samples: samples.len(),
        failures,
        p99,
        max: samples.last().copied().unwrap_or(Duration::MAX),
        rss_before,
        rss_peak,
    }
}

/// POSTs `body` from a fresh client; the response text.
async fn post(addr: SocketAddr, body: String) -> Option<String> {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    resp.text().await.ok()
}

fn call(id: usize, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// An `eth_call` to the BLAKE2F precompile with 29 million rounds: 29M gas, and about
/// 0.7 s of CPU each.
fn blake2f_call(id: usize) -> Value {
    let mut input = Vec::with_capacity(213);
    input.extend_from_slice(&29_000_000u32.to_be_bytes());
    input.extend_from_slice(&[0u8; 208]);
    input.push(1);
    call(
        id,
        "eth_call",
        json!([{"to": "0x0000000000000000000000000000000000000009",
                "data": format!("0x{}", hex::encode(&input))}, "latest"]),
    )
}

#[test]
fn a_batch_of_heavy_calls_does_not_delay_other_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(config());
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let report = phase(&server, move |addr| async move {
        let batch = Value::Array((0..15).map(blake2f_call).collect()).to_string();
        let single = blake2f_call(1).to_string();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let body = if i < 2 { batch.clone() } else { single.clone() };
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    if post(addr, body.clone()).await.is_some() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    report.check("heavy eth_call batches");
    // The calls themselves are still served.
    let r = server.rpc("eth_call", blake2f_call(1)["params"].clone());
    assert!(r["result"].is_string(), "a heavy call alone succeeds: {r}");
}

/// Runtime code that emits `n` empty `LOG0`s and stops.
fn log_emitter(n: u16) -> String {
    let [hi, lo] = n.to_be_bytes();
    format!("0x61{hi:02x}{lo:02x}5b801560155760006000a0600190036003565b00")
}

#[test]
fn a_batch_of_huge_log_queries_is_capped_in_total() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(config());
    let emitter = "0x00000000000000000000000000000000000a1a7a";
    let code = log_emitter(10_000);
    assert_eq!(server.rpc("anvil_setCode", json!([emitter, code]))["result"], Value::Null);
    let from = alara_chain::dev::dev_addresses()[0];
    let r = server
        .rpc("eth_sendTransaction", json!([{"from": from, "to": emitter, "gas": "0x7a1200"}]));
    let hash = r["result"].clone();
    // Answered when taken; the receipt is served once its block is durable.
    let receipt = loop {
        let r = server.rpc("eth_getTransactionReceipt", json!([hash]));
        if !r["result"].is_null() {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let block = receipt["result"]["blockNumber"].as_str().unwrap().to_string();
    assert_eq!(
        receipt["result"]["logs"].as_array().map(Vec::len),
        Some(10_000),
        "{}",
        receipt["result"]["status"]
    );

    let sizes = Arc::new(Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let report = phase(&server, move |addr| async move {
        let filter = json!([{"fromBlock": block, "toBlock": block}]);
        let batch =
            Value::Array((0..300).map(|i| call(i, "eth_getLogs", filter.clone())).collect())
                .to_string();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (batch, seen) = (batch.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    if let Some(text) = post(addr, batch.clone()).await {
                        seen.lock().unwrap().push(text);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    report.check("batches of 300 eth_getLogs of 10,000 logs each");
    let answers = sizes.lock().unwrap();
    assert!(!answers.is_empty(), "no batch of log queries was answered within {PHASE:?}");
    let answer: Value = serde_json::from_str(&answers[0]).unwrap();
    let items = answer.as_array().unwrap();
    assert_eq!(items.len(), 300, "every request of the batch is answered");
    assert_eq!(items[0]["result"].as_array().map(Vec::len), Some(10_000), "the first query fits");
    let refused = &items[1]["error"];
    assert_eq!(refused["code"], -32005, "{refused}");
    let msg = refused["message"].as_str().unwrap();
    assert!(msg.contains("--max-logs-results"), "the error says how to raise the limit: {msg}");
    assert!(answers[0].len() < 8 << 20, "the batch answer is {} bytes", answers[0].len());
}

#[test]
fn mining_two_to_the_64_blocks_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(config());
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    let report = phase(&server, move |addr| async move {
        let bodies = [
            call(1, "anvil_mine", json!(["0xffffffffffffffff"])),
            call(2, "hardhat_mine", json!(["0xffffffffffffffff", "0x1"])),
            call(3, "evm_mine", json!([{"blocks": "0xffffffffffffffff"}])),
        ];
        for body in bodies {
            let text = post(addr, body.to_string()).await;
            seen.lock().unwrap().push(text);
        }
    });
    report.check("anvil_mine 2^64");
    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), 3, "every absurd mine request is answered within {PHASE:?}");
    for text in answers.iter() {
        let r: Value = serde_json::from_str(text.as_deref().unwrap_or("null")).unwrap();
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("at most"), "{r}");
    }
    // Normal counts still mine, as anvil does.
    assert_eq!(server.rpc("anvil_mine", json!(["0x3e8"]))["result"], Value::Null);
    assert_eq!(server.rpc("eth_blockNumber", json!([]))["result"], "0x3e8");
}

/// Opens connections that trickle their headers or body one byte at a time; counts the
/// ones the server closes.
async fn slow_loris(addr: SocketAddr, body: bool, closed: Arc<AtomicUsize>) {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else { return };
    let (mut rd, mut wr) = stream.into_split();
    let head: &[u8] = if body {
        b"POST / HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    } else {
        b"POST / HTTP/1.1\r\nHost: node\r\n"
    };
    if wr.write_all(head).await.is_err() {
        closed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(_) => continue, // an error response; the close follows
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                let byte: &[u8] = if body { b" " } else { b"x" };
                if wr.write_all(byte).await.is_err() {
                    break;
                }
            }
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn slow_loris_connections_are_dropped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(config());
    let closed = Arc::new(AtomicUsize::new(0));
    let count = closed.clone();
    let report = phase(&server, move |addr| async move {
        let mut tasks = Vec::new();
        for i in 0..200 {
            tasks.push(tokio::spawn(slow_loris(addr, i % 2 == 1, count.clone())));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    report.check("200 slow-loris connections");
    let closed = closed.load(Ordering::Relaxed);
    assert_eq!(closed, 200, "the server closed only {closed} of 200 slow connections");
    assert_eq!(server.rpc("eth_chainId", json!([]))["result"], "0x7a69");
}

#[test]
fn idle_sockets_do_not_exhaust_the_node() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(config());
    let closed = Arc::new(AtomicUsize::new(0));
    let count = closed.clone();
    const IDLE: usize = 2000;
    let report = phase(&server, move |addr| async move {
        let mut tasks = Vec::new();
        for i in 0..IDLE {
            if i % 100 == 99 {
                // In waves, so that the listen backlog (not the node) is never what drops one.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let count = count.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
                    count.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    report.check("2,000 idle sockets");
    let closed = closed.load(Ordering::Relaxed);
    assert_eq!(closed, IDLE, "the server closed only {closed} of {IDLE} idle connections");
    assert_eq!(server.rpc("eth_chainId", json!([]))["result"], "0x7a69");
}
