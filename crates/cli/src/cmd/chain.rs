//! `alara chain …`: node-only commands.

use std::path::PathBuf;

use alloy::providers::Provider;
use serde::Serialize;

use crate::context::Context;

/// Node-only subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run the bare embedded node: JSON-RPC only, no contracts deployed, no API or
    /// dashboard (same flags as `alara up`).
    Node(Box<super::up::Args>),
    /// Show what the chain at --rpc-url is: chain id, head block, client.
    Info,
    /// Create a new key in an encrypted Web3 Secret Storage keystore file.
    ///
    /// The password comes from ALARA_KEYSTORE_PASSWORD or, on a terminal, is asked for
    /// twice. The file is encrypted with scrypt at the standard cost (n = 262,144, r = 8,
    /// p = 1), so geth, cast and eth_account read it. Use it with --keystore on any command
    /// that signs.
    KeystoreNew {
        /// Directory for the keystore file. Default: <data-dir>/keystore.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Info {
    rpc_url: String,
    chain_id: u64,
    block_number: u64,
    client_version: String,
    signer: String,
}

/// Runs an `alara chain` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Node(mut args) => {
            args.no_deploy = true;
            args.api.no_api = true;
            super::up::run(ctx, *args).await
        }
        Command::Info => {
            let conn = ctx.connect().await?;
            let info = Info {
                rpc_url: conn.url.clone(),
                chain_id: conn.chain_id,
                block_number: conn.provider.get_block_number().await?,
                client_version: conn.provider.get_client_version().await?,
                signer: conn.signer.to_string(),
            };
            ctx.emit(&info, || {
                println!("endpoint:  {}", info.rpc_url);
                println!("chain id:  {}", info.chain_id);
                println!("block:     {}", info.block_number);
                println!("client:    {}", info.client_version);
                println!("signer:    {}", info.signer);
            })
        }
        Command::KeystoreNew { dir } => {
            let dir = dir.unwrap_or_else(|| ctx.data_dir.join("keystore"));
            let password = new_keystore_password()?;
            let (path, address) = alara_chain::client::create_keystore(&dir, &password)?;
            let out = serde_json::json!({ "keystore": path, "address": address });
            ctx.emit(&out, || {
                println!("created {} for {address}", path.display());
                println!("use it with: --keystore {}", path.display());
            })
        }
    }
}

/// The password for a new keystore: `ALARA_KEYSTORE_PASSWORD` when set (and not empty),
/// else typed twice on the terminal. Without either there is no way to ask, and the error
/// says so (rather than failing to open a terminal that is not there).
fn new_keystore_password() -> eyre::Result<String> {
    const ENV: &str = alara_chain::client::KEYSTORE_PASSWORD_ENV;
    const MIN_LEN: usize = 8;
    let missing = || {
        format!(
            "a new keystore needs a password and there is no terminal to ask for one: set \
             {ENV} to the password that will encrypt the key, or run on a terminal to type \
             it (twice)"
        )
    };
    let prompts = ["New keystore password: ", "Repeat the password: "];
    let (password, _) = crate::context::new_secret(ENV, prompts, "passwords", missing, || Ok(()))?;
    eyre::ensure!(
        password.chars().count() >= MIN_LEN,
        "use a password of at least {MIN_LEN} characters; no keystore was created"
    );
    Ok(password)
}
