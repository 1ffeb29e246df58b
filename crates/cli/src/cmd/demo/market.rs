//! `alara demo market`: the model marketplace end to end on the chain of `--rpc-url` (by
//! default the embedded one).
//!
//! 1. A hospital lists the shipped breast-cancer CSV compute-only on the data market; a
//!    lab pays for a compute-to-data job and gets back a logistic regression trained on
//!    it (the data never leaves the hospital).
//! 2. The lab publishes the model in `ModelRegistry` — file, Hugging Face-style card and
//!    package in the store, version pinned by SHA-256 — with the dataset as a parent
//!    earning 20% of every payment.
//! 3. The lab serves it (`alara serve`, in this process). A clinic's unpaid call gets
//!    402 with the terms; the clinic opens a channel and makes paid calls, each voucher
//!    acknowledging the previous call's receipt; every call is a durable audit entry.
//! 4. A second clinic buys a one-time licence (ERC-1155) and calls with a signature.
//! 5. The lab claims every call of the channel in one transaction; the split pays the
//!    hospital its 20% for the dataset; both withdraw. The usage report is read back from
//!    the lab's audit log, every receipt verified.

use std::sync::Arc;
use std::time::Duration;

use alara_market::model::card::ModelCard;
use alara_market::model::chain::{self as market_chain, ModelMarket, ParentKind, ParentRef, Payer};
use alara_market::model::client::ChannelClient;
use alara_market::model::serve::{ServeConfig, Server};
use alara_market::model::voucher::{LicensedCall, SignedLicensedCall};
use alara_market::party::JobRun;
use alara_market::{GuardPolicy, Offer, Token};
use alloy::primitives::{B256, U256};
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

/// The dataset the model is trained on, compiled into the binary.
const CSV: &str = include_str!("../../../../../datasets/breast_cancer.csv");

/// The fixed passphrase of the demo server's audit trail (public: a demonstration).
pub const SERVE_PASSPHRASE: &str = "alara-demo-market-serve";

/// Where the demo server keeps its audit trail.
pub fn serve_trail_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("market-demo").join("lab").join("serve-audit")
}

/// Arguments of `alara demo market`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Paid calls the clinic makes through its channel.
    #[arg(long, default_value_t = 100)]
    calls: u64,
    /// Price of one call, in gwei.
    #[arg(long, default_value_t = 10_000)]
    price_gwei: u64,
    /// The dataset's share of every payment, in basis points.
    #[arg(long, default_value_t = 2_000)]
    dataset_bps: u16,
}

#[derive(Serialize)]
struct Report {
    listing: u64,
    job: u64,
    model: u64,
    version: u32,
    model_sha256: B256,
    package: String,
    unpaid_status: u16,
    channel: u64,
    calls: u64,
    price: String,
    claim_tx: B256,
    claim_gas: u64,
    claimed: String,
    dataset_share: String,
    owner_share: String,
    hospital_withdrew: String,
    lab_withdrew: String,
    license_id: String,
    licensed_call_ok: bool,
    usage_calls: u64,
    usage_revenue: String,
    receipts_verified: u64,
}

fn gwei(v: u64) -> U256 {
    U256::from(v) * U256::from(1_000_000_000u64)
}

/// Runs `alara demo market`.
pub async fn run(ctx: &Context, args: Args) -> eyre::Result<()> {
    let say = |s: String| {
        if !ctx.json && !ctx.quiet {
            println!("{s}");
        }
    };
    let conn = ctx.connect().await?;
    let provider = conn.provider.clone();
    let addresses = market_chain::ensure_deployed(&provider, &ctx.data_dir)
        .await
        .wrap_err("deploying the marketplace contracts")?;
    for name in ["hospital", "lab", "clinic", "clinic-2"] {
        let a = super::demo_key(&format!("market {name}"))?.address();
        super::fund_if_below(&provider, a, gwei(500_000_000), gwei(1_000_000_000)).await?;
    }
    let party = |name: &'static str| {
        super::data::party_in(ctx, &conn.url, addresses.data_market, "market", name)
    };
    let hospital = party("hospital").await?;
    let lab = party("lab").await?;
    say(format!(
        "ModelRegistry {} · InferenceChannels {} · ModelLicense {} on chain {}",
        addresses.registry, addresses.channels, addresses.license, conn.chain_id
    ));

    // 1. A model trained by compute-to-data on the hospital's dataset.
    let offer = Offer {
        token: Token::Eth,
        price: U256::ZERO,
        downloadable: false,
        delivery_window: 86_400,
        terms: "research use".into(),
    };
    let listed = hospital.sell(CSV.as_bytes(), &offer).await?;
    let recipe = alara_market::Algorithm::LogisticRegression(Default::default());
    hospital.offer_compute(listed.listing_id, &recipe, gwei(1_000_000), 3_600).await?;
    let job = lab.request_job(listed.listing_id, &recipe).await?.tx.value;
    let (result_cid, ..) =
        match hospital.run_job(job, &recipe, None, &GuardPolicy::default()).await? {
            JobRun::Completed { result_cid, receipt, step, .. } => (result_cid, receipt, step),
            JobRun::Failed { reason, .. } => eyre::bail!("the compute job failed: {reason}"),
        };
    let mut car = Vec::new();
    hospital.export_ciphertext(&result_cid, &mut car)?;
    lab.import_car(&car[..])?;
    let out = ctx.data_dir.join("market-demo").join("lab").join("results");
    let fetched = lab.fetch_result(job, &out).await?;
    let model_path = fetched.model_path.ok_or_else(|| eyre::eyre!("the job returned no model"))?;
    let bytes =
        std::fs::read(&model_path).wrap_err_with(|| format!("reading {}", model_path.display()))?;
    say(format!("hospital listed the dataset compute-only (listing {}); lab's job {job} trained a logistic regression on it", listed.listing_id));

    // 2. Publish with the dataset as a parent.
    let lab_key = super::demo_key("market lab")?;
    let lab_provider = alara_chain::client::provider_for(&conn.url, lab_key.clone())?;
    let lab_market = ModelMarket::new(addresses, lab_provider.clone(), lab_key.address()).await?;
    let card = ModelCard::parse(
        format!(
            "---\nlicense: cc-by-4.0\npipeline_tag: tabular-classification\nlibrary_name: onnx\ndatasets:\n- {}\nmetrics:\n- accuracy\ntags:\n- compute-to-data\n---\n# Breast-cancer logistic regression\n\nTrained by compute-to-data on DataMarket listing {}; the data never left its owner.\n",
            listed.cid, listed.listing_id
        )
        .as_bytes(),
    )?;
    let price = gwei(args.price_gwei);
    let parents =
        [ParentRef { kind: ParentKind::Dataset, id: listed.listing_id, bps: args.dataset_bps }];
    let sha = B256::from(alara_store::sha256(&bytes));
    let (model, version) = match lab_market.by_file_hash(sha).await? {
        Some((model, version)) => {
            say(format!("the trained model (sha256 {sha}) is already model {model} v{version} from an earlier run: serving that"));
            (model, version)
        }
        None => {
            let (model, version, _tx, gas, package, _) = crate::cmd::model::publish(
                &lab_market,
                &lab.store,
                "breast-cancer-logreg",
                bytes.clone(),
                card,
                price,
                gwei(50_000_000),
                Token::Eth,
                &parents,
                None,
            )
            .await?;
            say(format!(
                "lab published model {model} v{version}: sha256 {sha}, package {package}, {price} wei per call, dataset gets {} bps ({gas} gas)",
                args.dataset_bps
            ));
            (model, version)
        }
    };
    let v = lab_market.version(model, version).await?;
    let price = v.price_per_call;
    let package = v.cid.clone();
    let dataset_bps = lab_market.parents(model, version).await?.first().map_or(0, |p| p.bps);

    // 3. Serve it.
    let mut tcfg = alara_audit::TrailConfig::new(serve_trail_dir(&ctx.data_dir), SERVE_PASSPHRASE);
    tcfg.key_work_factor = 10;
    let trail =
        Arc::new(alara_audit::AuditTrail::open(tcfg).wrap_err("opening the server's audit trail")?);
    let cfg = ServeConfig {
        system: "alara-serve/demo".into(),
        model_id: model,
        version,
        price,
        token: alloy::primitives::Address::ZERO,
        owner: lab_key.address(),
        chain_id: conn.chain_id,
        channels: addresses.channels,
        license: Some(addresses.license),
        license_price: v.license_price,
        expiry_margin: Duration::from_secs(600),
    };
    let before =
        alara_market::model::usage::usage(&trail, alara_audit::Hash(sha.0), 86_400_000, false)?;
    let onnx = alara_ml::OnnxModel::from_bytes(&bytes)?;
    let server = Server::open(cfg, onnx, trail.clone(), lab_market.clone())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = server.clone().router();
    let serving = tokio::spawn(async move { axum::serve(listener, router).await });

    let dataset = alara_ml::datasets::breast_cancer()?;
    let row = dataset.features[0].clone();
    let http = reqwest::Client::new();
    let unpaid = http
        .post(format!("{url}/v1/infer"))
        .json(&serde_json::json!({"inputs": [row]}))
        .send()
        .await?;
    let unpaid_status = unpaid.status().as_u16();
    let terms: serde_json::Value = unpaid.json().await.unwrap_or_default();
    say(format!(
        "an unpaid call got {unpaid_status}: schemes {}, {} wei per row",
        terms["accepts"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["scheme"].as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        terms["accepts"][0]["maxAmountRequired"].as_str().unwrap_or("?")
    ));

    let clinic_key = super::demo_key("market clinic")?;
    let clinic_market = lab_market.as_account(
        alara_chain::client::provider_for(&conn.url, clinic_key.clone())?,
        clinic_key.address(),
    );
    let deposit = price * U256::from(args.calls + 10);
    let now = crate::cmd::model::chain_now(&provider).await?;
    let channel = clinic_market
        .open_channel(model, version, clinic_key.address(), deposit, now + 7 * 86_400)
        .await?
        .value;
    let mut client = ChannelClient::connect(&url, clinic_key.clone(), channel).await?;
    let bar = crate::cmd::fl::progress(args.calls, ctx.json || ctx.quiet);
    bar.set_message("paid calls");
    for i in 0..args.calls {
        let r = dataset.features[i as usize % dataset.features.len()].clone();
        client.call(&[r]).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    say(format!(
        "clinic opened channel {channel} with {deposit} wei and made {} paid calls ({} wei signed)",
        client.calls(),
        client.amount()
    ));

    // 4. A licence holder's call.
    let clinic2 = super::demo_key("market clinic-2")?;
    let clinic2_market = lab_market.as_account(
        alara_chain::client::provider_for(&conn.url, clinic2.clone())?,
        clinic2.address(),
    );
    let license_id = clinic2_market.buy_license(model, version).await?.value;
    let body = serde_json::to_vec(&serde_json::json!({"inputs": [row]}))?;
    let call = LicensedCall {
        licenseId: license_id,
        request: B256::from(alara_store::sha256(&body)),
        issuedAt: alara_audit::entry::now_ms() / 1000,
    };
    let signed = SignedLicensedCall::sign(call, &clinic2, &lab_market.license_domain())?;
    let licensed = http
        .post(format!("{url}/v1/infer"))
        .header("content-type", "application/json")
        .header("x-license", signed.to_header())
        .body(body)
        .send()
        .await?;
    let licensed_call_ok = licensed.status().is_success();
    say(format!(
        "clinic-2 bought licence {license_id} and called with a signature: {}",
        licensed.status()
    ));

    // 5. Claim once, split, withdraw.
    let claims = server.claim(true).await?;
    let claim = claims.first().ok_or_else(|| eyre::eyre!("nothing was claimable"))?;
    serving.abort();
    let hospital_market = lab_market.as_account(
        alara_chain::client::provider_for(&conn.url, super::demo_key("market hospital")?)?,
        super::demo_key("market hospital")?.address(),
    );
    let dataset_share = claim.payments.first().map(|p| p.1).unwrap_or_default();
    let owner_share = claim.payments.last().map(|p| p.1).unwrap_or_default();
    let hospital_withdrew = hospital_market.withdraw(Payer::Channels, Token::Eth).await?.value;
    let lab_withdrew = lab_market.withdraw(Payer::Channels, Token::Eth).await?.value;
    say(format!(
        "lab claimed {} wei for {} calls in ONE transaction ({} gas): hospital's dataset share {dataset_share}, lab {owner_share}",
        claim.amount, claim.calls, claim.gas
    ));
    say(format!("hospital withdrew {hospital_withdrew} wei, lab withdrew {lab_withdrew} wei (licence sales stay in ModelLicense until withdrawn)"));
    let usage =
        alara_market::model::usage::usage(&trail, alara_audit::Hash(sha.0), 86_400_000, true)?;
    let (usage_calls, usage_revenue) = (usage.calls - before.calls, usage.revenue - before.revenue);
    say(format!(
        "usage from the lab's audit log: {usage_calls} calls this run ({} in all), {usage_revenue} wei earned by vouchers, {} receipts verified",
        usage.calls, usage.receipts_verified
    ));
    let report = Report {
        listing: listed.listing_id,
        job,
        model,
        version,
        model_sha256: sha,
        package,
        unpaid_status,
        channel,
        calls: client.calls(),
        price: price.to_string(),
        claim_tx: claim.tx,
        claim_gas: claim.gas,
        claimed: claim.amount.to_string(),
        dataset_share: dataset_share.to_string(),
        owner_share: owner_share.to_string(),
        hospital_withdrew: hospital_withdrew.to_string(),
        lab_withdrew: lab_withdrew.to_string(),
        license_id: license_id.to_string(),
        licensed_call_ok,
        usage_calls,
        usage_revenue: usage_revenue.to_string(),
        receipts_verified: usage.receipts_verified,
    };
    if U256::from(usage_revenue) != claim.amount
        || dataset_share * U256::from(10_000u64) != claim.amount * U256::from(dataset_bps)
    {
        eyre::bail!("the books do not balance: {}", serde_json::to_string(&report)?);
    }
    ctx.emit(&report, || {})
}
