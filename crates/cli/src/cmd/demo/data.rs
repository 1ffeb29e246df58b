//! `alara demo data`: a hospital sells the shipped UCI breast-cancer CSV twice on the chain
//! of `--rpc-url` (by default the embedded one):
//!
//! 1. by download — encrypted (age) to a fresh dataset key, added to the store, listed
//!    with its plaintext SHA-256; a pharma company buys into escrow with a per-sale X25519
//!    key, the hospital delivers the dataset key encrypted to it, the buyer imports the
//!    ciphertext CAR, decrypts, checks the hash and confirms;
//! 2. by compute-to-data — listed compute-only, a logistic-regression recipe allow-listed
//!    by hash; a research lab pays for a job, the hospital runs it locally behind the
//!    output guard, signs an EIP-712 receipt, and the escrow is released on submission.
//!
//! Each party keeps its own store, keyring and audit trail under `<data-dir>/data-demo`;
//! the run ends with the lineage of the compute-only dataset from their trails.

use std::sync::Arc;

use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::client::provider_for;
use alara_market::algorithm::{Algorithm, LogisticRegression};
use alara_market::party::JobRun;
use alara_market::{DataMarket, GuardPolicy, Keyring, Offer, Party, Token};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

/// The dataset sold: shipped with the repository, compiled into the binary.
const CSV: &str = include_str!("../../../../../datasets/breast_cancer.csv");

/// Arguments of `alara demo data`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Price of the download, in milli-ETH.
    #[arg(long, default_value_t = 100)]
    price_milli: u64,
    /// Price of one compute-to-data job, in milli-ETH.
    #[arg(long, default_value_t = 20)]
    job_price_milli: u64,
    /// Training epochs of the allow-listed logistic-regression recipe.
    #[arg(long, default_value_t = 300)]
    epochs: u32,
}

#[derive(Serialize)]
struct TxLine {
    step: &'static str,
    tx: B256,
    gas: u64,
    audit_index: Option<u64>,
}

#[derive(Serialize)]
struct DownloadSale {
    listing: u64,
    sale: u64,
    cid: String,
    plaintext_sha256: B256,
    bytes: u64,
    verified: bool,
    seller_paid: U256,
    txs: Vec<TxLine>,
}

#[derive(Serialize)]
struct ComputeSale {
    listing: u64,
    job: u64,
    cid: String,
    algorithm: B256,
    recipe: serde_json::Value,
    outcome: &'static str,
    result_cid: String,
    model_hash: Option<B256>,
    metrics: serde_json::Value,
    receipt: serde_json::Value,
    receipt_verified: bool,
    owner_paid: U256,
    txs: Vec<TxLine>,
}

#[derive(Serialize)]
struct Report {
    chain_id: u64,
    contract: Address,
    hospital: Address,
    pharma: Address,
    lab: Address,
    download: DownloadSale,
    compute: ComputeSale,
    lineage: alara_market::lineage::Lineage,
    audit_dir: String,
}

/// A party's demo key: deterministic, so a rerun uses the same accounts.
fn party_key(name: &str) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("data {name}"))
}

fn line<T>(step: &'static str, tx: &alara_market::Tx<T>, audit_index: Option<u64>) -> TxLine {
    TxLine { step, tx: tx.hash, gas: tx.gas_used, audit_index }
}

fn milli(v: u64) -> U256 {
    U256::from(v) * U256::from(10u64).pow(U256::from(15))
}

async fn party(
    ctx: &Context,
    url: &str,
    market: Address,
    name: &str,
) -> eyre::Result<Party<DynProvider>> {
    party_in(ctx, url, market, "data", name).await
}

/// A party of demo `demo`: key `demo_key("<demo> <name>")`, store, keyring and audit trail
/// under `<data-dir>/<demo>-demo/<name>`.
pub(crate) async fn party_in(
    ctx: &Context,
    url: &str,
    market: Address,
    demo: &str,
    name: &str,
) -> eyre::Result<Party<DynProvider>> {
    let key = super::demo_key(&format!("{demo} {name}"))?;
    let account = key.address();
    let provider = provider_for(url, key.clone())?;
    let dir = ctx.data_dir.join(format!("{demo}-demo")).join(name);
    let store = Arc::new(
        alara_store::Store::open(dir.join("store")).wrap_err("opening a demo party's store")?,
    );
    let mut cfg = TrailConfig::new(dir.join("audit"), format!("alara-demo-{demo}-{name}"));
    cfg.key_work_factor = 10;
    let trail = Arc::new(AuditTrail::open(cfg).wrap_err("opening a demo party's audit trail")?);
    let market = DataMarket::new(market, provider, account).await?;
    Ok(Party::new(market, store, Keyring::in_data_dir(&dir), Some(trail), Some(key)))
}

fn car(p: &Party<DynProvider>, cid: &str) -> eyre::Result<Vec<u8>> {
    let mut out = Vec::new();
    p.export_ciphertext(cid, &mut out)?;
    Ok(out)
}

/// Runs `alara demo data`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let conn = ctx.connect().await?;
    let provider = conn.provider.clone();
    let contract = alara_market::ensure_deployed(&provider, &ctx.data_dir)
        .await
        .wrap_err("deploying DataMarket")?;

    // Gas money for the three parties (a dev chain's faucet: the connected account).
    for name in ["hospital", "pharma", "lab"] {
        let a = party_key(name)?.address();
        super::fund_if_below(&provider, a, milli(500), milli(1_000)).await?;
    }
    let hospital = party(ctx, &conn.url, contract, "hospital").await?;
    let pharma = party(ctx, &conn.url, contract, "pharma").await?;
    let lab = party(ctx, &conn.url, contract, "lab").await?;
    let say = |s: String| {
        if !ctx.json {
            println!("{s}");
        }
    };
    say(format!("DataMarket {contract} on chain {}", conn.chain_id));

    // 1. Download sale.
    let terms =
        "UCI breast cancer (Wisconsin diagnostic), CC BY 4.0; research use; no re-identification";
    let offer = Offer {
        token: Token::Eth,
        price: milli(args.price_milli),
        downloadable: true,
        delivery_window: 86_400,
        terms: terms.into(),
    };
    let listed = hospital.sell(CSV.as_bytes(), &offer).await?;
    say(format!(
        "hospital listed {} bytes as {} (plaintext sha256 {}), listing {}",
        listed.size, listed.cid, listed.plaintext_hash, listed.listing_id
    ));
    let mut txs = vec![line("list", &listed.step.tx, listed.step.audit_index)];
    let bought = pharma.buy(listed.listing_id).await?;
    let sale = bought.tx.value;
    txs.push(line("buy", &bought.tx, bought.audit_index));
    say(format!("pharma paid {} milli-ETH into escrow: sale {sale}", args.price_milli));
    let delivered = hospital.deliver(sale).await?;
    txs.push(line("deliver", &delivered.tx, delivered.audit_index));
    say("hospital delivered the dataset key encrypted to pharma's per-sale key".into());
    pharma.import_car(&car(&hospital, &listed.cid)?[..])?;
    let out = ctx.data_dir.join("data-demo").join("pharma").join("breast_cancer.csv");
    let received = pharma.receive(sale, &out).await?;
    let verified = received.plaintext_hash == listed.plaintext_hash
        && std::fs::read(&out).map(|b| b == CSV.as_bytes()).unwrap_or(false);
    say(format!(
        "pharma decrypted {} bytes to {}; sha256 matches the listing: {verified}",
        received.size,
        out.display()
    ));
    let confirmed = pharma.confirm(sale).await?;
    txs.push(line("confirm", &confirmed.tx, confirmed.audit_index));
    let paid = hospital.withdraw(Token::Eth).await?;
    txs.push(line("withdraw", &paid, None));
    say(format!("pharma confirmed; hospital withdrew {} wei", paid.value));
    let download = DownloadSale {
        listing: listed.listing_id,
        sale,
        cid: listed.cid.clone(),
        plaintext_sha256: listed.plaintext_hash,
        bytes: received.size,
        verified,
        seller_paid: paid.value,
        txs,
    };

    // 2. Compute-to-data.
    let offer = Offer { downloadable: false, ..offer };
    let c2d = hospital.sell(CSV.as_bytes(), &offer).await?;
    let mut txs = vec![line("list (compute-only)", &c2d.step.tx, c2d.step.audit_index)];
    let recipe = Algorithm::LogisticRegression(LogisticRegression {
        epochs: args.epochs,
        ..Default::default()
    });
    let allowed =
        hospital.offer_compute(c2d.listing_id, &recipe, milli(args.job_price_milli), 3_600).await?;
    txs.push(line("allow algorithm", &allowed, None));
    say(format!(
        "hospital listed {} compute-only and allow-listed logistic regression 0x{}",
        c2d.cid,
        hex::encode(recipe.hash())
    ));
    let requested = lab.request_job(c2d.listing_id, &recipe).await?;
    let job = requested.tx.value;
    txs.push(line("request job", &requested.tx, requested.audit_index));
    say(format!("lab paid {} milli-ETH into escrow: job {job}", args.job_price_milli));
    let run = hospital.run_job(job, &recipe, None, &GuardPolicy::default()).await?;
    let (result_cid, receipt, step) = match run {
        JobRun::Completed { result_cid, receipt, step, .. } => (result_cid, receipt, step),
        JobRun::Failed { reason, .. } => {
            eyre::bail!("the compute job failed on the hospital's node and was refunded: {reason}")
        }
    };
    txs.push(line("submit result", &step.tx, step.audit_index));
    say(format!(
        "hospital ran job {job} locally (guard passed), signed receipt {} and was paid",
        receipt.digest
    ));
    lab.import_car(&car(&hospital, &result_cid)?[..])?;
    let results = ctx.data_dir.join("data-demo").join("lab").join("results");
    let fetched = lab.fetch_result(job, &results).await?;
    let receipt_verified = fetched.receipt.verify(hospital.account()).is_ok();
    let owner_paid = hospital.withdraw(Token::Eth).await?;
    txs.push(line("withdraw", &owner_paid, None));
    say(format!(
        "lab fetched the result: model {} , metrics {}",
        fetched.model_hash.map(|h| h.to_string()).unwrap_or_default(),
        fetched.summary["metrics"]
    ));
    let compute = ComputeSale {
        listing: c2d.listing_id,
        job,
        cid: c2d.cid.clone(),
        algorithm: B256::from(recipe.hash()),
        recipe: serde_json::to_value(&recipe)?,
        outcome: "completed",
        result_cid,
        model_hash: fetched.model_hash,
        metrics: fetched.summary["metrics"].clone(),
        receipt: serde_json::to_value(&fetched.receipt)?,
        receipt_verified,
        owner_paid: owner_paid.value,
        txs,
    };

    // 3. Lineage from the parties' trails.
    let mut entries = Vec::new();
    for p in [&hospital, &pharma, &lab] {
        if let Some(t) = &p.trail {
            entries.extend(alara_market::lineage::from_trail(t)?);
        }
    }
    let lineage = alara_market::lineage::trace(&entries, &c2d.cid)?;

    let report = Report {
        chain_id: conn.chain_id,
        contract,
        hospital: hospital.account(),
        pharma: pharma.account(),
        lab: lab.account(),
        download,
        compute,
        lineage,
        audit_dir: ctx.data_dir.join("data-demo").display().to_string(),
    };
    ctx.emit(&report, || {
        println!("\nreceipts");
        for (sale, t) in report
            .download
            .txs
            .iter()
            .map(|t| ("download", t))
            .chain(report.compute.txs.iter().map(|t| ("compute", t)))
        {
            let audit = t.audit_index.map(|i| format!("audit #{i}")).unwrap_or_default();
            println!("  {sale:<9} {:<20} gas {:>7}  tx {}  {audit}", t.step, t.gas, t.tx);
        }
        println!(
            "  job receipt (EIP-712, signed by the hospital): {}",
            serde_json::to_string_pretty(&report.compute.receipt).unwrap_or_default()
        );
        println!("\nlineage of {}\n{}", report.compute.cid, report.lineage.render());
    })
}
