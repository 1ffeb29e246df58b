//! `alara demo …`: end-to-end demonstrations on the embedded chain.

use crate::context::Context;

pub mod audit;
pub mod claims;
pub mod compute;
pub mod data;
pub mod fl;
pub mod insurance;
pub mod market;
pub mod nft;
pub mod oracle;

/// Demonstrations.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Audited inference on the shipped breast-cancer model: log, anchor, receipt, verify on-chain.
    Audit(audit::Args),
    /// Claims insurance assessed by an ONNX model on real workers' compensation claims:
    /// automatic payouts, review, a rejected claim's bond, a duplicate refused.
    Claims(claims::Args),
    /// Verifiable compute: two workers compete, one lies about its score, a validator
    /// disputes it down to one operator re-executed on-chain, the liar is slashed.
    Compute(compute::Args),
    /// Sell a hospital-style dataset twice: by download and by compute-to-data.
    Data(data::Args),
    /// Federated training across simulated hospitals, one settlement transaction per round.
    Fl(fl::Args),
    /// Parametric drought cover paid from Seattle's real rainfall through a signed oracle feed.
    Insurance(insurance::Args),
    /// The model marketplace: a model trained by compute-to-data, published with the
    /// dataset as a parent, served and paid per call through a channel, claimed once,
    /// the dataset's seller paid its share.
    Market(market::Args),
    /// Generative art: generate, mint by commit-reveal, list, resell with the artist's
    /// 10% royalty paid, and verify the provenance by regenerating the image.
    Nft(nft::Args),
    /// The oracle network: node processes, colluding exchanges, a malicious node, one
    /// aggregate signature per report, read through Chainlink's interface.
    Oracle(oracle::Args),
}

/// The audit trails the demonstrations keep for their simulated parties (the data
/// demo's hospital, pharma company and lab; the FL demo's coordinator when
/// `ALARA_LOG_KEY_PASSWORD` is unset; the audit, claims and insurance demos'): name,
/// directory and the fixed demo passphrase.
/// These passphrases are public: the trails are demonstrations, not records.
pub fn demo_trails(data_dir: &std::path::Path) -> Vec<(String, std::path::PathBuf, String)> {
    let mut v: Vec<_> = ["hospital", "pharma", "lab"]
        .iter()
        .map(|name| {
            (
                (*name).to_string(),
                data_dir.join("data-demo").join(name).join("audit"),
                format!("alara-demo-data-{name}"),
            )
        })
        .collect();
    for name in ["hospital", "lab"] {
        v.push((
            format!("market-{name}"),
            data_dir.join("market-demo").join(name).join("audit"),
            format!("alara-demo-market-{name}"),
        ));
    }
    v.push((
        "market-serve".into(),
        market::serve_trail_dir(data_dir),
        market::SERVE_PASSPHRASE.into(),
    ));
    v.push(("fl-demo".into(), data_dir.join("fl-demo").join("audit"), "alara-demo-fl".into()));
    v.push(("audit-demo".into(), data_dir.join("audit-demo"), audit::DEMO_PASSPHRASE.into()));
    v.push((
        "claims-demo".into(),
        claims::demo_trail_dir(data_dir),
        claims::DEMO_PASSPHRASE.into(),
    ));
    v.push((
        "insurance-demo".into(),
        insurance::demo_trail_dir(data_dir),
        insurance::DEMO_PASSPHRASE.into(),
    ));
    v.push(("nft-demo".into(), nft::demo_trail_dir(data_dir), nft::DEMO_PASSPHRASE.into()));
    v
}

/// A demo account's key: `keccak256("alara demo <label>")`, deterministic, so a rerun uses
/// the same accounts. These keys are as public as the dev keys: demo chains only.
pub fn demo_key(label: &str) -> eyre::Result<alloy::signers::local::PrivateKeySigner> {
    alloy::signers::local::PrivateKeySigner::from_bytes(&alloy::primitives::keccak256(format!(
        "alara demo {label}"
    )))
    .map_err(|e| eyre::eyre!("deriving the demo key {label:?}: {e}"))
}

/// Gas money for a demo account: when `account` holds less than `below`, the connected
/// account (a dev chain's faucet) sends it `amount`.
pub async fn fund_if_below(
    provider: &alloy::providers::DynProvider,
    account: alloy::primitives::Address,
    below: alloy::primitives::U256,
    amount: alloy::primitives::U256,
) -> eyre::Result<()> {
    use alloy::network::TransactionBuilder;
    use alloy::providers::Provider;
    if provider.get_balance(account).await? < below {
        let tx =
            alloy::rpc::types::TransactionRequest::default().with_to(account).with_value(amount);
        provider.send_transaction(tx).await?.get_receipt().await?;
    }
    Ok(())
}

/// Runs a demonstration.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Audit(args) => audit::run(ctx, args).await,
        Command::Claims(args) => claims::run(ctx, args).await,
        Command::Compute(args) => compute::run(ctx, args).await,
        Command::Data(args) => data::run(ctx, args).await,
        Command::Oracle(args) => oracle::run(ctx, args).await,
        Command::Fl(args) => fl::run(ctx, args).await,
        Command::Insurance(args) => insurance::run(ctx, args).await,
        Command::Market(args) => market::run(ctx, args).await,
        Command::Nft(args) => nft::run(ctx, args).await,
    }
}

/// Moves a dev chain's clock forward by `secs` and mines a block, for the demo called
/// `demo` (which says so when the chain refuses).
pub async fn warp(p: &alloy::providers::DynProvider, secs: u64, demo: &str) -> eyre::Result<()> {
    use alloy::providers::Provider;
    use eyre::WrapErr;
    let r: Result<serde_json::Value, _> = p.raw_request("evm_increaseTime".into(), (secs,)).await;
    r.wrap_err_with(|| {
        format!(
            "the {demo} demo moves the chain's clock (evm_increaseTime): run it on the \
             embedded chain or anvil"
        )
    })?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    Ok(())
}
