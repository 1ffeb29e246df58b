//! `alara bench market`: the model marketplace's hot paths, each beside its peer in the
//! same run:
//!
//! - voucher verification (EIP-712 digest + secp256k1 recovery) per core: the server's
//!   libsecp256k1 path beside alloy's pure-Rust k256 path;
//! - paid, audited inferences per second through `alara serve` (HTTP on loopback, many
//!   clients, each with its own channel; every call's voucher checked, its entry durable
//!   and its receipt returned) beside bare tract on the same model and cores;
//! - claim gas for a voucher covering 1 and 10,000 calls with 0 and 3 parents (equal by
//!   construction: one signature check whatever the calls).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alara_chain::testing::{Backend, TestChain};
use alara_market::model::chain::{self as market_chain, Format, ModelMarket, VersionInput};
use alara_market::model::load::{self, Buyer};
use alara_market::model::serve::{ServeConfig, Server};
use alara_market::model::voucher::{channels_domain, Voucher};
use alara_market::Token;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

const MODEL: &[u8] = include_bytes!("../../../../../models/breast_cancer_logreg.onnx");

/// Arguments of `alara bench market`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent clients, each with its own channel.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Paid calls per client.
    #[arg(long, default_value_t = 60)]
    calls: u64,
    /// Vouchers to verify per method.
    #[arg(long, default_value_t = 20_000)]
    vouchers: usize,
    /// Skip everything that needs a chain (voucher verification only).
    #[arg(long)]
    no_chain: bool,
}

#[derive(Serialize)]
struct Verify {
    libsecp256k1_per_s: f64,
    k256_per_s: f64,
    ratio: f64,
}

/// Vouchers verified per second on one core by each recovery path.
fn verify_rates(n: usize) -> eyre::Result<Verify> {
    let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42))?;
    let domain = channels_domain(31337, Address::repeat_byte(7));
    let signed: Vec<_> = (0..n.max(1))
        .map(|i| {
            Voucher {
                channelId: U256::from(i % 64 + 1),
                nonce: 0,
                amount: U256::from(i as u64 * 1_000),
                prevReceipt: B256::repeat_byte(i as u8),
            }
            .sign(&key, &domain)
            .map_err(|e| eyre::eyre!("{e}"))
        })
        .collect::<eyre::Result<_>>()?;
    let t = Instant::now();
    for s in &signed {
        let digest = s.voucher.eip712_signing_hash(&domain);
        let who = alara_market::model::serve::recover(&digest, &s.signature);
        eyre::ensure!(who == Some(key.address()), "libsecp256k1 recovered the wrong signer");
    }
    let fast = signed.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for s in &signed {
        eyre::ensure!(s.signer(&domain)? == key.address(), "k256 recovered the wrong signer");
    }
    let slow = signed.len() as f64 / t.elapsed().as_secs_f64();
    Ok(Verify { libsecp256k1_per_s: fast, k256_per_s: slow, ratio: fast / slow })
}

#[derive(Serialize)]
struct Serving {
    clients: usize,
    calls: u64,
    paid_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    bare_tract_per_s: f64,
    paid_over_bare: f64,
}

async fn serving(clients: usize, calls: u64) -> eyre::Result<Serving> {
    let chain = TestChain::start(Backend::Embedded)
        .await
        .map_err(|e| eyre::eyre!("the embedded chain did not start: {e}"))?;
    let p = chain.provider(0);
    let owner = alara_chain::dev::dev_addresses()[0];
    let dir = tempfile::tempdir()?;
    let addresses = market_chain::ensure_deployed(&p, dir.path()).await?;
    let market = ModelMarket::new(addresses, p.clone(), owner).await?;
    let price = U256::from(1_000_000_000u64);
    let input = VersionInput {
        file_hash: B256::from(alara_store::sha256(MODEL)),
        card_hash: B256::repeat_byte(1),
        cid: "bafkreibench".into(),
        format: Format::Onnx,
        price_per_call: price,
        license_price: U256::ZERO,
    };
    let model = market.publish("bench", Token::Eth, &input, &[]).await?.value;
    let expiry = alara_audit::entry::now_ms() / 1000 + 86_400;
    let mut buyers = Vec::new();
    for _ in 0..clients {
        let signer = PrivateKeySigner::random();
        let deposit = price * U256::from(calls + 1);
        let channel = market.open_channel(model, 1, signer.address(), deposit, expiry).await?.value;
        buyers.push(Buyer { signer, channel });
    }
    let mut tcfg = alara_audit::TrailConfig::new(dir.path().join("audit"), "bench-market");
    tcfg.key_work_factor = 10;
    let trail = Arc::new(alara_audit::AuditTrail::open(tcfg)?);
    let cfg = ServeConfig {
        system: "bench".into(),
        model_id: model,
        version: 1,
        price,
        token: Address::ZERO,
        owner,
        chain_id: chain.chain_id(),
        channels: addresses.channels,
        license: None,
        license_price: U256::ZERO,
        expiry_margin: Duration::from_secs(60),
    };
    let onnx = alara_ml::OnnxModel::from_bytes(MODEL)?;
    let server = Server::open(cfg, onnx, trail, market)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = server.clone().router();
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    let row = alara_ml::datasets::breast_cancer()?.features[0].clone();
    let r = load::paid_calls(&url, &buyers, calls, &row).await?;
    task.abort();
    let onnx = Arc::new(alara_ml::OnnxModel::from_bytes(MODEL)?);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let bare = load::bare_predictions(onnx, &row, threads, Duration::from_secs(2))?;
    Ok(Serving {
        clients,
        calls: r.calls,
        paid_per_s: r.per_second,
        p50_ms: r.p50_ms,
        p99_ms: r.p99_ms,
        bare_tract_per_s: bare,
        paid_over_bare: r.per_second / bare,
    })
}

/// Runs `alara bench market`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    eyre::ensure!((1..=512).contains(&args.clients), "--clients must be 1 to 512");
    eyre::ensure!((1..=10_000).contains(&args.calls), "--calls must be 1 to 10000");
    let verify = verify_rates(args.vouchers.clamp(100, 1_000_000))?;
    let (serve, claim) = if args.no_chain {
        (None, None)
    } else {
        let s = serving(args.clients, args.calls).await.wrap_err("the serving benchmark")?;
        let chain = TestChain::start(Backend::Embedded)
            .await
            .map_err(|e| eyre::eyre!("the embedded chain did not start: {e}"))?;
        let owner = alara_chain::dev::dev_addresses()[0];
        let c = alara_market::model::bench::claim_gas(chain.provider(0), owner).await?;
        (Some(s), Some(c))
    };
    let out = serde_json::json!({ "verify": verify, "serve": serve, "claim_gas": claim });
    ctx.emit(&out, || {
        println!("Voucher verification (EIP-712 digest + secp256k1 recovery), one core:");
        println!(
            "  libsecp256k1 (alara serve) {:>10.0}/s   k256 (alloy) {:>10.0}/s   ratio {:.1}x   target ≥ 100000/s",
            verify.libsecp256k1_per_s, verify.k256_per_s, verify.ratio
        );
        if let Some(s) = &serve {
            println!("\nPaid, audited inferences through alara serve ({} clients, {} calls, embedded chain):", s.clients, s.calls);
            println!(
                "  paid {:>8.0}/s (p50 {:.2} ms, p99 {:.2} ms)   bare tract {:>9.0}/s   paid/bare {:.3}   goal ≥ 5000/s",
                s.paid_per_s, s.p50_ms, s.p99_ms, s.bare_tract_per_s, s.paid_over_bare
            );
        }
        if let Some(c) = &claim {
            println!("\nClaim gas (one claim settles any number of calls):");
            println!("{}", serde_json::to_string_pretty(c).unwrap_or_default());
        }
    })
}
