//! `alara data …`: the tokenized data marketplace from the command line. Each command acts
//! as the account of `--account`/`--keystore` on the chain of `--rpc-url`, with this data
//! directory's store (`<data-dir>/store`), keyring (`<data-dir>/market/keys`) and audit
//! trail (`<data-dir>/audit`, unlocked with ALARA_LOG_KEY_PASSWORD).

use std::path::PathBuf;
use std::sync::Arc;

use alara_market::algorithm::Algorithm;
use alara_market::party::JobRun;
use alara_market::{DataMarket, GuardPolicy, Keyring, Offer, Party, Token};
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use eyre::WrapErr;

use crate::context::Context;

/// `alara data` subcommands.
#[derive(clap::Subcommand, Debug)]
#[command(after_help = "A download sale, seller and buyer in one data directory:
  alara data list data.csv --price 100000000000000000 --terms 'CC BY 4.0'
  alara data --account 1 buy 1
  alara data deliver 1
  alara data --account 1 receive 1 --out data.csv    (decrypts, checks the committed hash)
  alara data --account 1 confirm 1
  alara data withdraw
Compute-to-data:
  alara data list data.csv --compute-only --price 0
  alara data jobs allow 1 --recipe logreg.json --price 20000000000000000
  alara data --account 2 jobs request 1 --recipe logreg.json
  alara data jobs run 1 --recipe logreg.json
  alara data --account 2 jobs fetch 1 --out results/")]
pub enum Command {
    /// Encrypt a file, add it to the store and list it (prints the listing id and CID).
    List {
        /// The dataset file.
        file: PathBuf,
        /// Price in wei (ETH) or token base units.
        #[arg(long)]
        price: U256,
        /// Pay in this ERC-20 (AlaraToken address) instead of ETH.
        #[arg(long)]
        token: Option<Address>,
        /// Sell only compute-to-data jobs; the data is never handed out.
        #[arg(long)]
        compute_only: bool,
        /// Seconds the seller has to deliver the key after a purchase.
        #[arg(long, default_value_t = 86_400)]
        delivery_window: u64,
        /// Licence terms (their SHA-256 goes on-chain).
        #[arg(long, default_value = "all rights reserved")]
        terms: String,
    },
    /// Show the listings (or one).
    Listings {
        /// Only this listing.
        id: Option<u64>,
    },
    /// Show a sale.
    Sale {
        /// Sale id.
        id: u64,
    },
    /// Buy a download: the price goes into escrow with a fresh per-sale key.
    Buy {
        /// Listing id.
        listing: u64,
    },
    /// Seller: deliver the dataset key encrypted to the buyer's registered key.
    Deliver {
        /// Sale id.
        sale: u64,
    },
    /// Buyer: decrypt the delivered dataset and check it against the committed hash.
    /// The ciphertext must be in the store (`alara store import <car>`).
    Receive {
        /// Sale id.
        sale: u64,
        /// Where to write the plaintext (only when it checks out).
        #[arg(long)]
        out: PathBuf,
    },
    /// Buyer: confirm the delivery; the escrow is credited to the seller.
    Confirm {
        /// Sale id.
        sale: u64,
    },
    /// Anyone: refund a sale whose seller missed the delivery deadline.
    Refund {
        /// Sale id.
        sale: u64,
    },
    /// Anyone: release a delivered sale to the seller after the dispute window.
    Release {
        /// Sale id.
        sale: u64,
    },
    /// Buyer: dispute a faulty delivery (posts the bond; the per-sale key goes to the
    /// arbiter, encrypted to the arbiter's key).
    Dispute {
        /// Sale id.
        sale: u64,
    },
    /// Arbiter: re-run the buyer's check with the evidence and decide.
    Arbitrate {
        /// Sale id.
        sale: u64,
    },
    /// Withdraw what this account is owed.
    Withdraw {
        /// The ERC-20 to withdraw (default ETH).
        #[arg(long)]
        token: Option<Address>,
    },
    /// Compute-to-data jobs.
    #[command(subcommand)]
    Jobs(JobCommand),
}

/// `alara data jobs` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum JobCommand {
    /// Owner: allow-list a recipe (JSON, e.g. {"recipe":"logistic_regression",…}) on a listing.
    Allow {
        /// Listing id.
        listing: u64,
        /// Recipe file.
        #[arg(long)]
        recipe: PathBuf,
        /// Price of one job.
        #[arg(long)]
        price: U256,
        /// Seconds the owner has to deliver a result.
        #[arg(long, default_value_t = 3_600)]
        window: u64,
    },
    /// Buyer: pay into escrow for a job running an allow-listed recipe.
    Request {
        /// Listing id.
        listing: u64,
        /// Recipe file (its hash must be allow-listed).
        #[arg(long)]
        recipe: PathBuf,
    },
    /// Owner: run a paid job locally behind the output guard, sign the receipt, submit.
    Run {
        /// Job id.
        job: u64,
        /// Recipe file (must hash to what the job paid for).
        #[arg(long)]
        recipe: PathBuf,
        /// ONNX model for an `onnx_score` recipe.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Buyer: decrypt a completed job's result, check it against the signed receipt.
    /// The result's ciphertext must be in the store (`alara store import <car>`).
    Fetch {
        /// Job id.
        job: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Anyone: refund a job whose deadline passed.
    Refund {
        /// Job id.
        job: u64,
    },
    /// Show a job.
    Show {
        /// Job id.
        job: u64,
    },
}

/// The acting party, and the embedded chain when this process opened one (it must outlive
/// the command).
async fn party(
    ctx: &Context,
) -> eyre::Result<(Party<DynProvider>, Option<alara_chain::client::EmbeddedChain>)> {
    let conn = ctx.connect().await?;
    let signer = ctx.wallet()?.signer()?;
    let contract = alara_market::ensure_deployed(&conn.provider, &ctx.data_dir)
        .await
        .wrap_err("finding or deploying DataMarket")?;
    let market = DataMarket::new(contract, conn.provider.clone(), conn.signer).await?;
    let store = Arc::new(
        alara_store::Store::open(ctx.data_dir.join("store")).wrap_err("opening the store")?,
    );
    let trail = match crate::cmd::audit::open_trail(ctx) {
        Ok(t) => Some(Arc::new(t)),
        Err(e) => {
            tracing::warn!("no audit entries will be written: {e:#}");
            None
        }
    };
    let party = Party::new(market, store, Keyring::in_data_dir(&ctx.data_dir), trail, Some(signer));
    Ok((party, conn.embedded))
}

fn token(t: Option<Address>) -> Token {
    t.map_or(Token::Eth, Token::Erc20)
}

fn recipe(path: &std::path::Path) -> eyre::Result<Algorithm> {
    let bytes = crate::files::read(path, crate::files::MAX_TEXT, "the recipe")?;
    Ok(Algorithm::from_json(&bytes)?)
}

fn emit_tx<T: serde::Serialize>(ctx: &Context, what: &str, v: &T) -> eyre::Result<()> {
    ctx.emit(v, || {
        let j = serde_json::to_value(v).unwrap_or_default();
        println!("{what}: {}", serde_json::to_string_pretty(&j).unwrap_or_default());
    })
}

/// Runs an `alara data` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    let (p, _embedded) = party(ctx).await?;
    match command {
        Command::List { file, price, token: t, compute_only, delivery_window, terms } => {
            let f = std::fs::File::open(&file)
                .wrap_err_with(|| format!("opening {}", file.display()))?;
            let offer = Offer {
                token: token(t),
                price,
                downloadable: !compute_only,
                delivery_window,
                terms,
            };
            let listed = p.sell(std::io::BufReader::new(f), &offer).await?;
            emit_tx(ctx, "listed", &listed)
        }
        Command::Listings { id } => {
            let ls = match id {
                Some(id) => vec![p.market.listing(id).await?],
                None => p.market.listings().await?,
            };
            ctx.emit(&ls, || {
                for l in &ls {
                    println!(
                        "{:>4} {} {} {} {} {}{}",
                        l.id,
                        l.terms.cid,
                        l.terms.price,
                        l.terms.token.label(),
                        l.seller,
                        if l.terms.downloadable { "download" } else { "compute-only" },
                        if l.active { "" } else { " (closed)" }
                    );
                }
            })
        }
        Command::Sale { id } => emit_tx(ctx, "sale", &p.market.sale(id).await?),
        Command::Buy { listing } => emit_tx(ctx, "bought", &p.buy(listing).await?),
        Command::Deliver { sale } => emit_tx(ctx, "delivered", &p.deliver(sale).await?),
        Command::Receive { sale, out } => emit_tx(ctx, "received", &p.receive(sale, &out).await?),
        Command::Confirm { sale } => emit_tx(ctx, "confirmed", &p.confirm(sale).await?),
        Command::Refund { sale } => emit_tx(ctx, "refunded", &p.refund(sale).await?),
        Command::Release { sale } => emit_tx(ctx, "released", &p.release(sale).await?),
        Command::Dispute { sale } => emit_tx(ctx, "disputed", &p.dispute(sale).await?),
        Command::Arbitrate { sale } => {
            let (verdict, step) = p.arbitrate(sale).await?;
            emit_tx(ctx, "resolved", &serde_json::json!({ "verdict": verdict, "step": step }))
        }
        Command::Withdraw { token: t } => emit_tx(ctx, "withdrawn", &p.withdraw(token(t)).await?),
        Command::Jobs(JobCommand::Allow { listing, recipe: r, price, window }) => {
            let a = recipe(&r)?;
            let tx = p.offer_compute(listing, &a, price, window).await?;
            emit_tx(
                ctx,
                "allowed",
                &serde_json::json!({ "algorithm": format!("0x{}", hex::encode(a.hash())), "tx": tx }),
            )
        }
        Command::Jobs(JobCommand::Request { listing, recipe: r }) => {
            emit_tx(ctx, "requested", &p.request_job(listing, &recipe(&r)?).await?)
        }
        Command::Jobs(JobCommand::Run { job, recipe: r, model }) => {
            let model = match model {
                Some(m) => Some(crate::files::read(&m, crate::files::MAX_MODEL, "the model")?),
                None => None,
            };
            let run =
                p.run_job(job, &recipe(&r)?, model.as_deref(), &GuardPolicy::default()).await?;
            if let JobRun::Failed { reason, .. } = &run {
                tracing::warn!("job {job} failed and was refunded: {reason}");
            }
            emit_tx(ctx, "job", &run)
        }
        Command::Jobs(JobCommand::Fetch { job, out }) => {
            emit_tx(ctx, "fetched", &p.fetch_result(job, &out).await?)
        }
        Command::Jobs(JobCommand::Refund { job }) => {
            emit_tx(ctx, "refunded", &p.refund_job(job).await?)
        }
        Command::Jobs(JobCommand::Show { job }) => emit_tx(ctx, "job", &p.market.job(job).await?),
    }
}
