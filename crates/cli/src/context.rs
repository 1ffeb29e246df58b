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

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How a command reaches a chain and signs: flags of the commands that use a chain only
/// (`audit`, `data`, `fl`, `demo`, `chain`), so `--help` elsewhere does not list them.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Chain")]
pub struct ChainArgs {
    /// JSON-RPC endpoint of the chain to use: the embedded node, anvil, geth or any
    /// EVM RPC. Default: the node serving --data-dir (`alara up` records its URL in
    /// <data-dir>/node.json), otherwise that data directory's chain opened in this process.
    #[arg(long, global = true, env = "ALARA_RPC_URL")]
    pub rpc_url: Option<String>,

    /// Sign with this dev account (0-9) of the standard test mnemonic. Dev chains only.
    #[arg(long, global = true, default_value_t = 0, conflicts_with = "keystore")]
    pub account: usize,

    /// Sign with a Web3 Secret Storage keystore file (for real networks). The password
    /// comes from ALARA_KEYSTORE_PASSWORD or an interactive prompt.
    #[arg(long, global = true, env = "ALARA_KEYSTORE")]
    pub keystore: Option<PathBuf>,
}

/// What a subcommand gets: resolved global options.
#[derive(Clone)]
pub struct Context {
    /// Data directory, created on first use.
    pub data_dir: PathBuf,
    /// Print JSON.
    pub json: bool,
    /// Print no result at all (a command run by another, e.g. `up --demo`'s demos, whose
    /// stdout is the caller's).
    pub quiet: bool,
    /// The global options as given.
    pub global: GlobalArgs,
    /// The chain flags of the command being run (defaults for commands without them).
    pub chain: ChainArgs,
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
        Ok(Self { data_dir, json: global.json, quiet: false, global, chain: ChainArgs::default() })
    }

    /// This context with a command's chain flags.
    pub fn with_chain(mut self, chain: ChainArgs) -> Self {
        self.chain = chain;
        self
    }

    /// How this invocation signs transactions. A keystore's password comes from
    /// `ALARA_KEYSTORE_PASSWORD` or a prompt on the terminal.
    pub fn wallet(&self) -> eyre::Result<WalletSource> {
        let Some(path) = &self.chain.keystore else {
            return Ok(WalletSource::Dev(self.chain.account));
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
            self.chain.rpc_url.as_deref(),
            &self.data_dir,
            &self.wallet()?,
        )
        .await?;
        Ok(conn)
    }

    /// Prints `value` as JSON when `--json` is set, otherwise calls `human`.
    pub fn emit<T: serde::Serialize>(&self, value: &T, human: impl FnOnce()) -> eyre::Result<()> {
        if self.quiet {
            return Ok(());
        }
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
            "this command signs with the audit log's key, which needs its passphrase: set \
             {ENV} (the passphrase the log was created with), or run on a terminal to be asked"
        )
    })
}

/// The passphrase for a new audit log key in `dir`. Creating a key creates a new log
/// identity, so a person at a terminal is told and asked to confirm, and types the
/// passphrase twice; a script passes `ALARA_LOG_KEY_PASSWORD` and gets a notice on stderr.
pub fn new_log_key_passphrase(dir: &std::path::Path) -> eyre::Result<String> {
    const ENV: &str = alara_audit::keyfile::PASSPHRASE_ENV;
    let notice = format!(
        "creating a new audit log in {} with a new signing key: its checkpoints and \
         receipts are signed by it, encrypted with the passphrase. Keep the passphrase in \
         your secret store; without it the log needs a new key and identity.",
        dir.display()
    );
    let missing = || {
        format!(
            "no audit log key in {} and no passphrase to create one: set {ENV} to the \
             passphrase that will encrypt the new key (keep it in your secret store), or run \
             on a terminal to be asked",
            dir.display()
        )
    };
    let confirm = || {
        eprintln!("{notice}");
        eprint!("Create it? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).wrap_err("reading the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eyre::bail!("no audit log created");
        }
        Ok(())
    };
    let prompts = ["new audit log key passphrase: ", "again: "];
    let (pass, typed) = new_secret(ENV, prompts, "passphrases", missing, confirm)?;
    if !typed {
        eprintln!("{notice}");
    }
    eyre::ensure!(!pass.is_empty(), "an empty passphrase; nothing was created");
    Ok(pass)
}

/// A secret for something new (a key to create): the environment variable `env` when set
/// and not empty, else typed twice at a terminal, after `on_terminal` (a notice, a
/// confirmation) has run, with `prompts`; the two must agree (`noun` names them in the
/// error). Without either, the error is `missing()`. Returns the secret and whether it was
/// typed.
pub fn new_secret(
    env: &str,
    prompts: [&str; 2],
    noun: &str,
    missing: impl FnOnce() -> String,
    on_terminal: impl FnOnce() -> eyre::Result<()>,
) -> eyre::Result<(String, bool)> {
    if let Some(s) = std::env::var(env).ok().filter(|s| !s.is_empty()) {
        return Ok((s, false));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(eyre::eyre!(missing()));
    }
    on_terminal()?;
    let read =
        |prompt: &str| rpassword::prompt_password(prompt).wrap_err("reading from the terminal");
    let first = read(prompts[0])?;
    let second = read(prompts[1])?;
    eyre::ensure!(first == second, "the two {noun} differ; nothing was created");
    Ok((first, true))
}

/// A secret from the environment variable `env` (when set and not empty), else asked for
/// with `prompt` when stdin is a terminal, else an error with the text of `missing`.
pub fn secret(
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

/// Prints a failed command's error for a person or a script: the message and its causes,
/// with no source locations or backtraces (those are for bugs, and a user's mistake is not
/// one, whatever `RUST_BACKTRACE` says). With `--json`, a JSON object on stdout
/// (`{"error": {"message", "causes"}}`), so a script that parses stdout sees it.
pub fn report_error(e: &eyre::Report, json: bool) {
    let message = e.to_string();
    let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
    if json {
        let body = serde_json::json!({ "error": { "message": message, "causes": causes } });
        println!("{body}");
        return;
    }
    eprintln!("error: {message}");
    for c in causes {
        eprintln!("  caused by: {c}");
    }
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
    // Colour codes only for a terminal: logs redirected to a file stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
