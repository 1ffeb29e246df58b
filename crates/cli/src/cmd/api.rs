//! `alara api key …`: API keys for services calling the HTTP API that `alara up` serves.
//! A running server sees a new or revoked key at once (it re-reads the key file when it
//! changes).

use alara_api::auth::keys::KeyRing;
use alara_api::Role;

use crate::context::Context;

/// API administration.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// API keys (`Authorization: Bearer alara_k_…`).
    #[command(subcommand)]
    Key(KeyCommand),
}

/// API key commands.
#[derive(clap::Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a key and print it once (it is stored only as a hash).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// reader, writer or admin.
        #[arg(long, default_value = "reader", value_parser = ["reader", "writer", "admin"])]
        role: String,
        /// Days until the key expires (default: never).
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
        valid_days: Option<u32>,
    },
    /// List keys (ids, names, roles; no secrets).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (the 8 hex digits after `alara_k_`).
        id: String,
    },
}

/// Runs an `alara api` subcommand.
pub fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    let Command::Key(command) = command;
    let ring = KeyRing::new(&ctx.data_dir);
    match command {
        KeyCommand::Create { name, role, valid_days } => {
            let role: Role = role.parse().map_err(|e: String| eyre::eyre!(e))?;
            let valid = valid_days.map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400));
            let (key, record) = ring.create(&name, role, valid)?;
            ctx.emit(&serde_json::json!({ "key": key, "record": record }), || {
                println!("{key}");
                eprintln!(
                    "API key {} ({}, {}) created; it is shown only now — store it in your secret store.",
                    record.id, record.name, record.role
                );
            })
        }
        KeyCommand::List => {
            let keys = ring.keys()?;
            ctx.emit(&keys, || {
                if keys.is_empty() {
                    println!("no API keys (create one with `alara api key create --name NAME --role ROLE`)");
                }
                for k in &keys {
                    let expires = k.expires_ms.map_or("never".to_string(), |e| format!("{e} (Unix ms)"));
                    println!("{}  {:<6}  {}  expires {expires}", k.id, k.role, k.name);
                }
            })
        }
        KeyCommand::Revoke { id } => {
            let r = ring.revoke(&id)?;
            ctx.emit(&r, || println!("revoked API key {} ({})", r.id, r.name))
        }
    }
}
