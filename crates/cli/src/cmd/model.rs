//! `alara model …` and `alara serve`: the model marketplace from the command line.
//!
//! Publishing stores the model file, its card and a package naming both in this data
//! directory's store and registers the version (its SHA-256, the card's SHA-256, the
//! package CID, prices and parents) in `ModelRegistry`. `pull` fetches a version and checks
//! every byte against the registry. `serve` sells calls through payment channels and
//! licences, one audit entry per call; `claim` settles what it earned; `usage` reads the
//! calls and revenue back from the audit log with their receipts verified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alara_market::model::artifact::{self, Artifact};
use alara_market::model::card::{CardMeta, ModelCard};
use alara_market::model::chain::{
    self as market_chain, ModelMarket, ParentKind, ParentRef, Payer, VersionInput,
};
use alara_market::model::serve::{ServeConfig, Server};
use alara_market::Token;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

/// `alara model` subcommands.
#[derive(clap::Subcommand, Debug)]
#[command(after_help = "Publish, serve, pay, settle (one data directory, dev accounts):
  alara model publish model.onnx --name triage --card README.md --price 1000000000000
  alara serve --model 1 &                       (answers unpaid calls with 402)
  alara model --account 1 channel open 1 --deposit 1000000000000000
  alara model --account 1 call http://127.0.0.1:8547 --channel 1 --input '[[…30 numbers…]]'
  alara model claim --model 1                   (one transaction for any number of calls)
  alara model usage 1 --period day")]
pub enum Command {
    /// Publish a model file (ONNX or safetensors) with its card, as a new model or as a
    /// new version of one you own.
    Publish {
        /// The model file. Pickle-based files (.pt, .bin, .pkl) are refused.
        file: PathBuf,
        /// Name of the model.
        #[arg(long)]
        name: String,
        /// The model card: a Hugging Face README.md with YAML front matter (license,
        /// pipeline_tag, datasets, base_model, metrics). Without one, a card is written
        /// from --license.
        #[arg(long)]
        card: Option<PathBuf>,
        /// Licence id for a generated card.
        #[arg(long, default_value = "other")]
        license: String,
        /// Price of one call (row) through a channel, in wei or token base units.
        #[arg(long, default_value_t = U256::ZERO)]
        price: U256,
        /// Price of a one-time licence (0: licences are not sold).
        #[arg(long, default_value_t = U256::ZERO)]
        license_price: U256,
        /// Pay in this ERC-20 (e.g. the AlaraToken) instead of ETH (new models only).
        #[arg(long)]
        token: Option<Address>,
        /// A parent paid a share of every payment: `dataset:<listing id>:<bps>` (paid to the
        /// DataMarket listing's seller) or `model:<model id>:<bps>` (paid to its owner).
        #[arg(long = "parent", value_name = "KIND:ID:BPS")]
        parents: Vec<String>,
        /// Publish as a new version of this model id (you must own it).
        #[arg(long)]
        version_of: Option<u64>,
    },
    /// List the registry's models.
    List,
    /// Show a model: owner, versions, the latest card, parents.
    Show {
        /// Model id.
        id: u64,
    },
    /// A model's versions, each pinned by its file's SHA-256.
    Versions {
        /// Model id.
        id: u64,
    },
    /// Fetch a version from the store and check it against the registry's hashes.
    Pull {
        /// Model id.
        id: u64,
        /// Version (default: the latest).
        #[arg(long)]
        model_version: Option<u32>,
        /// Directory to write the model file and README.md to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Calls and revenue of a version per period, from this data directory's audit log,
    /// every receipt verified.
    Usage {
        /// Model id.
        id: u64,
        /// Version (default: the latest).
        #[arg(long)]
        model_version: Option<u32>,
        /// Period: hour or day.
        #[arg(long, default_value = "day", value_parser = ["hour", "day"])]
        period: String,
        /// Skip verifying each call's receipt.
        #[arg(long)]
        no_verify: bool,
    },
    /// Deprecate a version: no new channels or licences (open channels still settle).
    Deprecate {
        /// Model id.
        id: u64,
        /// Version.
        model_version: u32,
    },
    /// Payment channels (buyer side).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Call a served model through a channel (signs the voucher, prints outputs and receipt).
    Call {
        /// The server's URL.
        url: String,
        /// Your channel.
        #[arg(long)]
        channel: u64,
        /// Rows as JSON (`[[…], …]`), a CSV file, or `-` for stdin.
        #[arg(long)]
        input: String,
    },
    /// Buy a one-time licence (an ERC-1155 token) for a version.
    BuyLicense {
        /// Model id.
        id: u64,
        /// Version (default: the latest).
        #[arg(long)]
        model_version: Option<u32>,
    },
    /// Claim every channel with unclaimed calls of a version from this data directory's
    /// audit log: one transaction per channel whatever the number of calls. Run it while
    /// `alara serve` is stopped (the server claims on exit itself).
    Claim {
        /// Model id.
        #[arg(long)]
        model: u64,
        /// Version (default: the latest).
        #[arg(long)]
        model_version: Option<u32>,
        /// Close the channels (the rest of each deposit goes back to its buyer).
        #[arg(long)]
        close: bool,
    },
    /// Withdraw what claims, licence sales and refunds credited to this account.
    Withdraw {
        /// The ERC-20 to withdraw (default: ETH).
        #[arg(long)]
        token: Option<Address>,
    },
}

/// `alara model channel` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ChannelCommand {
    /// Open a channel to a version, depositing its asset.
    Open {
        /// Model id.
        id: u64,
        /// Version (default: the latest).
        #[arg(long)]
        model_version: Option<u32>,
        /// Deposit in wei or token base units.
        #[arg(long)]
        deposit: U256,
        /// Days until the channel expires (then the rest is refundable).
        #[arg(long, default_value_t = 7)]
        days: u64,
        /// Who signs vouchers (default: this account).
        #[arg(long)]
        signer: Option<Address>,
    },
    /// Show a channel.
    Show {
        /// Channel id.
        id: u64,
    },
    /// Add to a channel's deposit.
    TopUp {
        /// Channel id.
        id: u64,
        /// Amount.
        amount: U256,
    },
    /// Move a channel's expiry later.
    Extend {
        /// Channel id.
        id: u64,
        /// Days from now.
        #[arg(long)]
        days: u64,
    },
    /// Take back the rest of an expired channel's deposit (credited; then `withdraw`).
    Refund {
        /// Channel id.
        id: u64,
    },
}

/// Arguments of `alara serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Model id in the registry.
    #[arg(long)]
    model: u64,
    /// Version of the model (default: the latest).
    #[arg(long)]
    model_version: Option<u32>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8547")]
    addr: std::net::SocketAddr,
    /// Refuse channels expiring sooner than this many seconds (time left to claim).
    #[arg(long, default_value_t = 600)]
    expiry_margin: u64,
    /// Do not claim the channels on exit.
    #[arg(long)]
    no_claim_on_exit: bool,
}

/// A connected marketplace client with this data directory's store.
struct Market {
    market: ModelMarket<DynProvider>,
    store: alara_store::Store,
    _embedded: Option<alara_chain::client::EmbeddedChain>,
}

async fn market(ctx: &Context) -> eyre::Result<Market> {
    let conn = ctx.connect().await?;
    let addresses = market_chain::ensure_deployed(&conn.provider, &ctx.data_dir)
        .await
        .wrap_err("finding or deploying the model marketplace contracts")?;
    let market = ModelMarket::new(addresses, conn.provider.clone(), conn.signer).await?;
    let store =
        alara_store::Store::open(ctx.data_dir.join("store")).wrap_err("opening the store")?;
    Ok(Market { market, store, _embedded: conn.embedded })
}

/// Parses `dataset:<id>:<bps>` / `model:<id>:<bps>`.
pub fn parse_parent(s: &str) -> eyre::Result<ParentRef> {
    let parts: Vec<&str> = s.split(':').collect();
    let [kind, id, bps] = parts[..] else {
        bail!(
            "--parent {s:?}: expected KIND:ID:BPS, e.g. dataset:1:2000 (20% to listing 1's seller)"
        );
    };
    let kind = match kind {
        "dataset" => ParentKind::Dataset,
        "model" => ParentKind::Model,
        k => bail!("--parent {s:?}: the kind is `dataset` or `model`, not {k:?}"),
    };
    let id = id.parse().wrap_err_with(|| format!("--parent {s:?}: the id is a number"))?;
    let bps: u16 = bps
        .parse()
        .ok()
        .filter(|b| (1..=10_000).contains(b))
        .ok_or_else(|| eyre::eyre!("--parent {s:?}: the share is 1 to 10000 basis points"))?;
    Ok(ParentRef { kind, id, bps })
}

#[derive(Serialize)]
struct Published {
    model: u64,
    version: u32,
    name: String,
    format: &'static str,
    sha256: B256,
    package: String,
    file_cid: String,
    card_sha256: B256,
    license: String,
    price_per_call: String,
    license_price: String,
    parents: Vec<ParentRef>,
    tx: B256,
    gas: u64,
}

/// Publishes `bytes` with `card`; the library call behind `alara model publish` and the
/// demo.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    market: &ModelMarket<DynProvider>,
    store: &alara_store::Store,
    name: &str,
    bytes: Vec<u8>,
    card: ModelCard,
    price: U256,
    license_price: U256,
    token: Token,
    parents: &[ParentRef],
    version_of: Option<u64>,
) -> eyre::Result<(u64, u32, B256, u64, String, Artifact)> {
    let artifact = Artifact::new(name, bytes, card)?;
    if let Some((m, v)) = market.by_file_hash(B256::from(artifact.sha256)).await? {
        bail!(
            "this file (sha256 {}) is already published as model {m} version {v}",
            hex::encode(artifact.sha256)
        );
    }
    let (_package, cid) = artifact.store(store)?;
    let input = VersionInput {
        file_hash: B256::from(artifact.sha256),
        card_hash: B256::from(artifact.card.sha256()),
        cid: cid.clone(),
        format: artifact.format,
        price_per_call: price,
        license_price,
    };
    let (model, version, tx, gas) = match version_of {
        None => {
            let t = market.publish(name, token, &input, parents).await?;
            (t.value, 1, t.hash, t.gas_used)
        }
        Some(m) => {
            let t = market.publish_version(m, &input, parents).await?;
            (m, t.value, t.hash, t.gas_used)
        }
    };
    Ok((model, version, tx, gas, cid, artifact))
}

async fn latest(
    market: &ModelMarket<DynProvider>,
    id: u64,
    version: Option<u32>,
) -> eyre::Result<u32> {
    let m = market.model(id).await?;
    let v = version.unwrap_or(m.versions);
    if v == 0 || v > m.versions {
        bail!("model {id} has versions 1 to {}; there is no version {v}", m.versions);
    }
    Ok(v)
}

/// Runs an `alara model` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    let m = market(ctx).await?;
    let market = &m.market;
    match command {
        Command::Publish {
            file,
            name,
            card,
            license,
            price,
            license_price,
            token,
            parents,
            version_of,
        } => {
            let bytes = crate::files::read(&file, artifact::MAX_MODEL_BYTES, "the model file")?;
            let card = match card {
                Some(p) => ModelCard::parse(&crate::files::read(
                    &p,
                    alara_market::model::card::MAX_CARD_BYTES as u64,
                    "the model card",
                )?)
                .wrap_err_with(|| format!("reading {}", p.display()))?,
                None => ModelCard::render(
                    &CardMeta { license, library_name: Some("onnx".into()), ..CardMeta::default() },
                    &format!("# {name}\n"),
                )?,
            };
            let parents =
                parents.iter().map(|p| parse_parent(p)).collect::<eyre::Result<Vec<_>>>()?;
            let token = token.map_or(Token::Eth, Token::Erc20);
            let (model, version, tx, gas, package, a) = publish(
                market,
                &m.store,
                &name,
                bytes,
                card,
                price,
                license_price,
                token,
                &parents,
                version_of,
            )
            .await?;
            let out = Published {
                model,
                version,
                name: a.name.clone(),
                format: a.format.name(),
                sha256: B256::from(a.sha256),
                package,
                file_cid: String::new(),
                card_sha256: B256::from(a.card.sha256()),
                license: a.card.meta.license.clone(),
                price_per_call: price.to_string(),
                license_price: license_price.to_string(),
                parents,
                tx,
                gas,
            };
            ctx.emit(&out, || {
                println!("published {} as model {model} version {version}", out.name);
                println!("  file     {} ({}), sha256 {}", out.format, out.package, out.sha256);
                println!(
                    "  licence  {}, {} per call, licence {}",
                    out.license, out.price_per_call, out.license_price
                );
                for p in &out.parents {
                    println!("  parent   {:?} {} gets {} bps", p.kind, p.id, p.bps);
                }
                println!("  tx       {tx} ({gas} gas)");
            })
        }
        Command::List => {
            let n = market
                .registry()
                .modelCount()
                .call()
                .await
                .wrap_err("reading ModelRegistry.modelCount")?;
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            let mut rows = Vec::new();
            for id in 1..=n {
                let md = market.model(id).await?;
                let v = market.version(id, md.versions).await?;
                rows.push(serde_json::json!({
                    "id": id, "name": md.name, "owner": md.owner, "versions": md.versions,
                    "token": md.token, "price_per_call": v.price_per_call.to_string(),
                    "license_price": v.license_price.to_string(), "deprecated": v.deprecated,
                }));
            }
            ctx.emit(&rows, || {
                if rows.is_empty() {
                    println!("no models yet: `alara model publish <file> --name <name>`");
                }
                println!(
                    "{:>4}  {:<24} {:>8}  {:>20}  {:>20}  owner",
                    "id", "name", "versions", "price/call", "licence"
                );
                for r in &rows {
                    println!(
                        "{:>4}  {:<24} {:>8}  {:>20}  {:>20}  {}",
                        r["id"],
                        r["name"].as_str().unwrap_or(""),
                        r["versions"],
                        r["price_per_call"].as_str().unwrap_or(""),
                        r["license_price"].as_str().unwrap_or(""),
                        r["owner"].as_str().unwrap_or("")
                    );
                }
            })
        }
        Command::Show { id } => {
            let md = market.model(id).await?;
            let v = market.version(id, md.versions).await?;
            let parents = market.parents(id, md.versions).await?;
            let card =
                artifact::pull(&m.store, &v.cid, v.file_hash.0, v.card_hash.0).map(|p| p.card);
            let meta = card.as_ref().ok().map(|c| c.meta.clone());
            let out = serde_json::json!({
                "id": id, "model": md, "latest": md.versions, "version": v, "parents": parents,
                "card": meta, "card_error": card.as_ref().err().map(|e| e.to_string()),
            });
            ctx.emit(&out, || {
                println!(
                    "model {id}: {} (owner {}, {} versions, paid in {:?})",
                    md.name, md.owner, md.versions, md.token
                );
                println!("  latest   v{} sha256 {} package {}", md.versions, v.file_hash, v.cid);
                println!(
                    "  prices   {} per call, licence {}{}",
                    v.price_per_call,
                    v.license_price,
                    if v.deprecated { " (deprecated)" } else { "" }
                );
                for p in &parents {
                    println!("  parent   {:?} {} → {} ({} bps)", p.kind, p.id, p.payee, p.bps);
                }
                match &card {
                    Ok(c) => println!(
                        "  card     license {}, task {}, datasets {:?}, base {:?}, metrics {:?}",
                        c.meta.license,
                        c.meta.pipeline_tag.as_deref().unwrap_or("-"),
                        c.meta.datasets,
                        c.meta.base_model,
                        c.meta.metrics
                    ),
                    Err(e) => println!("  card     not in this store: {e}"),
                }
            })
        }
        Command::Versions { id } => {
            let md = market.model(id).await?;
            let mut rows = Vec::new();
            for v in 1..=md.versions {
                rows.push((v, market.version(id, v).await?));
            }
            let json: Vec<_> =
                rows.iter().map(|(n, v)| serde_json::json!({"version": n, "detail": v})).collect();
            ctx.emit(&json, || {
                println!(
                    "{:>3}  {:<66} {:>20}  {:<11} published",
                    "v", "sha256", "price/call", "format"
                );
                for (n, v) in &rows {
                    println!(
                        "{n:>3}  {:<66} {:>20}  {:<11} {}{}",
                        v.file_hash.to_string(),
                        v.price_per_call.to_string(),
                        format!("{:?}", v.format),
                        v.published_at,
                        if v.deprecated { "  deprecated" } else { "" }
                    );
                }
            })
        }
        Command::Pull { id, model_version, out } => {
            let v = latest(market, id, model_version).await?;
            let ver = market.version(id, v).await?;
            let pulled = artifact::pull(&m.store, &ver.cid, ver.file_hash.0, ver.card_hash.0)
                .wrap_err_with(|| format!("pulling model {id} version {v}"))?;
            std::fs::create_dir_all(&out)
                .wrap_err_with(|| format!("creating {}", out.display()))?;
            let file = out.join(format!(
                "{}.{}",
                sanitize(&pulled.package.name),
                pulled.package.format.name()
            ));
            alara_store::write_atomic(&file, &pulled.bytes)?;
            let card = out.join("README.md");
            alara_store::write_atomic(&card, &pulled.card.raw)?;
            let res = serde_json::json!({"model": id, "version": v, "file": file, "card": card, "sha256": ver.file_hash, "verified": true});
            ctx.emit(&res, || {
                println!(
                    "pulled model {id} version {v}: {} ({} bytes, sha256 {} as the registry pins)",
                    file.display(),
                    pulled.bytes.len(),
                    ver.file_hash
                );
                println!("card: {}", card.display());
            })
        }
        Command::Usage { id, model_version, period, no_verify } => {
            let v = latest(market, id, model_version).await?;
            let ver = market.version(id, v).await?;
            let trail = crate::cmd::audit::open_trail_read_only(ctx)?;
            let period_ms = if period == "hour" { 3_600_000 } else { 86_400_000 };
            let report = alara_market::model::usage::usage(
                &trail,
                alara_audit::Hash(ver.file_hash.0),
                period_ms,
                !no_verify,
            )?;
            ctx.emit(&report, || {
                println!("model {id} version {v}: {} calls, revenue {} (base units), {} receipts verified", report.calls, report.revenue, report.receipts_verified);
                println!("{:<20} {:>8} {:>8} {:>8} {:>22} {:>7}", "period (UTC ms)", "calls", "channel", "licence", "revenue", "payers");
                for p in &report.periods {
                    println!("{:<20} {:>8} {:>8} {:>8} {:>22} {:>7}", p.start_ms, p.calls, p.channel_calls, p.licensed_calls, p.revenue, p.payers);
                }
            })
        }
        Command::Deprecate { id, model_version: version } => {
            let t = market.deprecate(id, version).await?;
            ctx.emit(&serde_json::json!({"tx": t.hash, "gas": t.gas_used}), || {
                println!("model {id} version {version} deprecated ({})", t.hash)
            })
        }
        Command::Channel(c) => channel(ctx, market, c).await,
        Command::Call { url, channel, input } => {
            let rows = alara_ml::input::read_rows(&input, None)?;
            let signer = ctx.wallet()?.signer()?;
            let mut client =
                alara_market::model::client::ChannelClient::connect(&url, signer, channel).await?;
            let r = client.call(&rows).await?;
            ctx.emit(&r, || {
                for (i, o) in r.outputs.iter().enumerate() {
                    println!("row {i}: label {} probabilities {:?}", o.label, o.probabilities);
                }
                println!(
                    "paid {} so far on channel {channel}; receipt {}",
                    client.amount(),
                    r.call_receipt.hash
                );
            })
        }
        Command::BuyLicense { id, model_version } => {
            let v = latest(market, id, model_version).await?;
            let t = market.buy_license(id, v).await?;
            ctx.emit(&serde_json::json!({"license_id": t.value.to_string(), "tx": t.hash, "gas": t.gas_used}), || {
                println!("bought licence {} for model {id} version {v} ({})", t.value, t.hash)
            })
        }
        Command::Claim { model, model_version, close } => {
            let v = latest(market, model, model_version).await?;
            let ver = market.version(model, v).await?;
            let trail = crate::cmd::audit::open_trail_read_only(ctx)?;
            let vouchers = alara_market::model::serve::latest_vouchers(
                &trail,
                market.chain_id(),
                market.addresses().channels,
                alara_audit::Hash(ver.file_hash.0),
            )?;
            let claims =
                alara_market::model::serve::claim_vouchers(market, vouchers, !close).await?;
            ctx.emit(&claims, || {
                if claims.is_empty() {
                    println!("nothing to claim for model {model} version {v}");
                }
                for c in &claims {
                    println!(
                        "claimed channel {}: {} ({} calls' worth) in one tx, {} gas",
                        c.channel, c.amount, c.calls, c.gas
                    );
                }
            })
        }
        Command::Withdraw { token } => {
            let token = token.map_or(Token::Eth, Token::Erc20);
            let mut out = Vec::new();
            for payer in [Payer::Channels, Payer::Licenses] {
                if market.owed(payer, market.account(), token).await?.is_zero() {
                    continue;
                }
                let t = market.withdraw(payer, token).await?;
                out.push(
                    serde_json::json!({"from": payer, "amount": t.value.to_string(), "tx": t.hash}),
                );
            }
            ctx.emit(&out, || {
                if out.is_empty() {
                    println!("nothing is owed to {}", market.account());
                }
                for o in &out {
                    println!("withdrew {} from {}", o["amount"].as_str().unwrap_or(""), o["from"]);
                }
            })
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// The chain's time: its latest block's timestamp (a dev chain's clock may have been moved
/// away from the wall clock; expiries are judged by block time).
pub async fn chain_now(provider: &DynProvider) -> eyre::Result<u64> {
    use alloy::providers::Provider;
    let block = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .wrap_err("reading the latest block")?
        .ok_or_else(|| eyre::eyre!("the chain has no latest block"))?;
    Ok(block.header.timestamp)
}

async fn channel(
    ctx: &Context,
    market: &ModelMarket<DynProvider>,
    c: ChannelCommand,
) -> eyre::Result<()> {
    let now = chain_now(market.registry().provider()).await?;
    match c {
        ChannelCommand::Open { id, model_version, deposit, days, signer } => {
            let v = latest(market, id, model_version).await?;
            let signer = signer.unwrap_or(market.account());
            let expiry = now + days.clamp(1, 365) * 86_400 - u64::from(days >= 365) * 60;
            let t = market.open_channel(id, v, signer, deposit, expiry).await?;
            ctx.emit(&serde_json::json!({"channel": t.value, "model": id, "version": v, "deposit": deposit.to_string(), "expiry": expiry, "tx": t.hash}), || {
                println!("opened channel {} to model {id} version {v}: {deposit} deposited, expires {expiry}; vouchers signed by {signer}", t.value)
            })
        }
        ChannelCommand::Show { id } => {
            let ch = market.channel(id).await?;
            ctx.emit(&ch, || {
                println!("channel {id}: {}", serde_json::to_string_pretty(&ch).unwrap_or_default())
            })
        }
        ChannelCommand::TopUp { id, amount } => {
            let t = market.top_up(id, amount).await?;
            ctx.emit(&serde_json::json!({"value": t.value.to_string(), "tx": t.hash}), || {
                println!("channel {id} now holds {}", t.value)
            })
        }
        ChannelCommand::Extend { id, days } => {
            let expiry = now + days.clamp(1, 364) * 86_400;
            let t = market.extend(id, expiry).await?;
            ctx.emit(&serde_json::json!({"expiry": expiry, "tx": t.hash}), || {
                println!("channel {id} now expires at {expiry}")
            })
        }
        ChannelCommand::Refund { id } => {
            let t = market.refund(id).await?;
            ctx.emit(&serde_json::json!({"refunded": t.value.to_string(), "tx": t.hash}), || {
                println!("channel {id} closed; {} credited to you: `alara model withdraw`", t.value)
            })
        }
    }
}

/// Runs `alara serve`.
pub async fn serve(ctx: &Context, args: ServeArgs) -> eyre::Result<()> {
    let m = market(ctx).await?;
    let market = m.market.clone();
    let v = latest(&market, args.model, args.model_version).await?;
    let md = market.model(args.model).await?;
    let ver = market.version(args.model, v).await?;
    if ver.deprecated {
        tracing::warn!(
            "model {} version {v} is deprecated: open channels settle, new ones are refused",
            args.model
        );
    }
    let pulled = artifact::pull(&m.store, &ver.cid, ver.file_hash.0, ver.card_hash.0)
        .wrap_err("the served version must be in this data directory's store (publish it here or import its CAR)")?;
    if pulled.package.format != artifact::Format::Onnx {
        bail!("`alara serve` runs ONNX models; version {v} is {}", pulled.package.format.name());
    }
    let model = alara_ml::OnnxModel::from_bytes(&pulled.bytes)?;
    let trail = Arc::new(crate::cmd::audit::open_trail(ctx)?);
    let addresses = market.addresses();
    if md.owner != market.account() {
        tracing::warn!(
            "this account ({}) does not own model {} (owner {}): only the owner can claim",
            market.account(),
            args.model,
            md.owner
        );
    }
    let cfg = ServeConfig {
        system: format!("alara-serve/{}/{v}", args.model),
        model_id: args.model,
        version: v,
        price: ver.price_per_call,
        token: md.token.address(),
        owner: md.owner,
        chain_id: market.chain_id(),
        channels: addresses.channels,
        license: Some(addresses.license),
        license_price: ver.license_price,
        expiry_margin: Duration::from_secs(args.expiry_margin),
    };
    let server = Server::open(cfg, model, trail, market.clone())?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .wrap_err_with(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr()?;
    if !ctx.quiet {
        println!("serving model {} version {v} ({}) on http://{addr}", args.model, md.name);
        println!(
            "  price {} per row; unpaid calls get 402 with the terms; Ctrl-C to stop",
            ver.price_per_call
        );
    }
    axum::serve(listener, server.clone().router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if !args.no_claim_on_exit {
        let claims = server.claim(true).await?;
        for c in &claims {
            println!("claimed channel {}: {} in tx {}", c.channel, c.amount, c.tx);
        }
    }
    Ok(())
}
