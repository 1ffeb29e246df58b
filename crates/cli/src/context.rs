//! Global options and what every subcommand shares: the data directory, output mode,
//! and the way to a chain.

use std::path::PathBuf;

use alara_chain::client::{Connection, WalletSource};
use eyre::WrapErr;

/// Options every subcommand accepts.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Data directory (chain database, store, audit log, keys, address books).
    /// Default: the per-user data directory, e.g. ~/.local/share/alara.
    #[arg(long, global = true, env = "ALARA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// JSON-RPC endpoint of the chain to use: the embedded node, anvil, geth or any
    /// EVM RPC. Default: the local node at http://127.0.0.1:8545 if one answers there,
    /// otherwise an embedded chain opened in this process on --data-dir.
    #[arg(long, global = true, env = "ALARA_RPC_URL")]
    pub rpc_url: Option<String>,

    /// Sign with this dev account (0-9) of the standard test mnemonic. Dev chains only.
    #[arg(long, global = true, default_value_t = 0, conflicts_with = "keystore")]
    pub account: usize,

    /// Sign with a Web3 Secret Storage keystore file (for real networks). The password
    /// comes from ALARA_KEYSTORE_PASSWORD or an interactive prompt.
    #[arg(long, global = true, env = "ALARA_KEYSTORE")]
    pub keystore: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// What a subcommand gets: resolved global options.
pub struct Context {
    /// Data directory, created on first use.
    pub data_dir: PathBuf,
    /// Print JSON.
    pub json: bool,
    /// The global options as given.
    pub global: GlobalArgs,
}

impl Context {
    /// Resolves the global options.
    pub fn new(global: GlobalArgs) -> eyre::Result<Self> {
        let data_dir = match &global.data_dir {
            Some(d) => d.clone(),
            None => {
                dirs::data_dir().map(|d| d.join("alara")).unwrap_or_else(|| PathBuf::from(".alara"))
            }
        };
        Ok(Self { data_dir, json: global.json, global })
    }

    /// How this invocation signs transactions. A keystore's password comes from
    /// `ALARA_KEYSTORE_PASSWORD` or a prompt on the terminal.
    pub fn wallet(&self) -> eyre::Result<WalletSource> {
        let Some(path) = &self.global.keystore else {
            return Ok(WalletSource::Dev(self.global.account));
        };
        let env = alara_chain::client::KEYSTORE_PASSWORD_ENV;
        let prompt = format!("Password for {}: ", path.display());
        let password = secret(env, &prompt, "keystore password", || {
            format!(
                "no password for the keystore {}: set {env}, or run on a terminal to be asked",
                path.display()
            )
        })?;
        Ok(WalletSource::Keystore { path: path.clone(), password })
    }

    /// Connects to the chain chosen by `--rpc-url` (see [`GlobalArgs::rpc_url`]).
    pub async fn connect(&self) -> eyre::Result<Connection> {
        let conn = alara_chain::client::connect(
            self.global.rpc_url.as_deref(),
            &self.data_dir,
            &self.wallet()?,
        )
        .await?;
        Ok(conn)
    }

    /// Prints `value` as JSON when `--json` is set, otherwise calls `human`.
    pub fn emit<T: serde::Serialize>(&self, value: &T, human: impl FnOnce()) -> eyre::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human();
        }
        Ok(())
    }
}

/// The audit log key's passphrase: `ALARA_LOG_KEY_PASSWORD`, or a prompt when stdin is a
/// terminal. It is never written anywhere; lose it and the log needs a new key (and
/// origin). The libraries take it as a parameter.
pub fn log_key_passphrase() -> eyre::Result<String> {
    const ENV: &str = alara_audit::keyfile::PASSPHRASE_ENV;
    secret(ENV, "audit log key passphrase: ", "audit log key passphrase", || {
        format!(
            "no passphrase for the audit log key: set {ENV} (it encrypts the \
             log's signing key; keep it in your secret store), or run on a terminal to be asked"
        )
    })
}

/// A secret from the environment variable `env` (when set and not empty), else asked for
/// with `prompt` when stdin is a terminal, else an error with the text of `missing`.
fn secret(
    env: &str,
    prompt: &str,
    what: &str,
    missing: impl FnOnce() -> String,
) -> eyre::Result<String> {
    if let Some(s) = std::env::var(env).ok().filter(|s| !s.is_empty()) {
        return Ok(s);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return rpassword::prompt_password(prompt)
            .wrap_err_with(|| format!("reading the {what} from the terminal"));
    }
    Err(eyre::eyre!(missing()))
}

/// Sets up `tracing` from `-v` and `RUST_LOG`; logs go to stderr so stdout stays parseable.
pub fn init_tracing(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let default = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
