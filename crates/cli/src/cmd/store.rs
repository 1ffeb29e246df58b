//! `alara store …`: the content store at `<data-dir>/store` (or a Kubo node with
//! `--kubo URL`): add, get, cat, export, import, rm, gc, plus age encryption.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use alara_store::encrypt::{
    self, generate_identity, identity_to_string, parse_identity, parse_recipient,
};
use alara_store::{
    parse_cid, AddOptions, AtomicFile, Blockstore, CidVersion, KuboBlockstore, Store,
};
use eyre::{bail, WrapErr};

use crate::context::Context;

/// An age identity file holds a few keys and comments: anything larger is not one.
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// `alara store` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Add a file (or `-` for stdin); prints its CID (identical to Kubo's `ipfs add`).
    Add {
        /// File to add, or `-` for standard input.
        path: PathBuf,
        /// CID version: 0 (`Qm…`, Kubo's default) or 1 (`bafy…`, raw leaves).
        #[arg(long, default_value_t = 0)]
        cid_version: u8,
        /// Raw leaves (default: on for CIDv1, off for CIDv0).
        #[arg(long)]
        raw_leaves: Option<bool>,
        /// Chunk size in bytes (Kubo `--chunker=size-N`).
        #[arg(long, default_value_t = alara_store::importer::DEFAULT_CHUNK_SIZE)]
        chunk_size: usize,
        /// Do not pin the root.
        #[arg(long)]
        no_pin: bool,
        /// Encrypt to these age recipients (`age1…`) before adding; prints the plaintext
        /// SHA-256 commitment and the ciphertext CID.
        #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
        encrypt_to: Vec<String>,
        /// Use a Kubo node's HTTP RPC instead of the local store.
        #[arg(long, value_name = "URL")]
        kubo: Option<String>,
    },
    /// Write a file to a path (verified block by block; written atomically).
    Get {
        /// CID of the file.
        cid: String,
        /// Output path.
        #[arg(short, long)]
        output: PathBuf,
        /// Use a Kubo node's HTTP RPC instead of the local store.
        #[arg(long, value_name = "URL")]
        kubo: Option<String>,
    },
    /// Write a file to standard output (verified block by block).
    Cat {
        /// CID of the file.
        cid: String,
        /// Use a Kubo node's HTTP RPC instead of the local store.
        #[arg(long, value_name = "URL")]
        kubo: Option<String>,
    },
    /// Export a file's DAG as a CARv1 (importable by `ipfs dag import`).
    Export {
        /// Root CID.
        cid: String,
        /// Output CAR file, or `-` for standard output.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Import a CAR (v1 or v2): every block verified, roots pinned.
    Import {
        /// CAR file, or `-` for standard input.
        path: PathBuf,
    },
    /// Unpin a root; its blocks go at the next `gc`.
    Rm {
        /// Root CID.
        cid: String,
        /// Use a Kubo node's HTTP RPC instead of the local store.
        #[arg(long, value_name = "URL")]
        kubo: Option<String>,
    },
    /// Delete every block no pin reaches.
    Gc {
        /// Use a Kubo node's HTTP RPC instead of the local store.
        #[arg(long, value_name = "URL")]
        kubo: Option<String>,
    },
    /// List pinned roots.
    Pins,
    /// Read and verify every block of a DAG.
    Verify {
        /// Root CID.
        cid: String,
    },
    /// Create an age X25519 identity; writes the secret key to a file (mode 0600).
    Keygen {
        /// Where to write the secret key.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Encrypt a file to age recipients.
    Encrypt {
        /// Input file, or `-` for stdin.
        input: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Recipient public keys (`age1…`).
        #[arg(short, long = "recipient", required = true)]
        recipients: Vec<String>,
    },
    /// Decrypt an age file (the output appears only if the whole file authenticates).
    Decrypt {
        /// Input file, or `-` for stdin.
        input: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// File holding the secret key (`AGE-SECRET-KEY-1…`).
        #[arg(short, long)]
        identity: PathBuf,
    },
}

fn open_input(path: &Path) -> eyre::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if path == Path::new("-") {
        return Ok((Box::new(io::stdin()), None));
    }
    let f = File::open(path).wrap_err_with(|| format!("open {}", path.display()))?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
}

/// Counts bytes into a progress bar.
struct Progress<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn progress_bar(ctx: &Context, len: Option<u64>) -> indicatif::ProgressBar {
    if ctx.json || !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_bar} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Runs an `alara store` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    let dir = ctx.data_dir.join("store");
    let ctx = ctx.clone();
    // The store does blocking file and HTTP I/O: keep it off the async runtime.
    tokio::task::spawn_blocking(move || {
        let kubo = match &command {
            Command::Add { kubo, .. }
            | Command::Get { kubo, .. }
            | Command::Cat { kubo, .. }
            | Command::Rm { kubo, .. }
            | Command::Gc { kubo } => kubo.clone(),
            _ => None,
        };
        match kubo {
            Some(url) => run_on(&ctx, Store::with_blockstore(KuboBlockstore::new(&url)?), command),
            None => run_on(
                &ctx,
                Store::open(&dir).wrap_err_with(|| format!("open store {}", dir.display()))?,
                command,
            ),
        }
    })
    .await?
}

fn run_on<B: Blockstore>(ctx: &Context, store: Store<B>, command: Command) -> eyre::Result<()> {
    match command {
        Command::Add { path, cid_version, raw_leaves, chunk_size, no_pin, encrypt_to, .. } => {
            let options = AddOptions {
                cid_version: CidVersion::try_from(cid_version)?,
                raw_leaves,
                chunk_size,
                pin: !no_pin,
                ..AddOptions::default()
            };
            let (input, len) = open_input(&path)?;
            let bar = progress_bar(ctx, len);
            let reader = Progress { inner: input, bar: bar.clone() };
            if encrypt_to.is_empty() {
                let added = store.add_reader(reader, &options)?;
                bar.finish_and_clear();
                ctx.emit(&added, || println!("added {} ({} bytes)", added.cid, added.size))
            } else {
                let recipients = encrypt_to
                    .iter()
                    .map(|r| parse_recipient(r).map_err(eyre::Report::from))
                    .collect::<eyre::Result<Vec<_>>>()?;
                let sealed = store.add_encrypted(&recipients, reader, &options)?;
                bar.finish_and_clear();
                ctx.emit(&sealed, || {
                    println!(
                        "plaintext sha256 {} ({} bytes)",
                        sealed.plaintext_sha256, sealed.plaintext_size
                    );
                    println!(
                        "ciphertext {} ({} bytes)",
                        sealed.ciphertext.cid, sealed.ciphertext.size
                    );
                })
            }
        }
        Command::Get { cid, output, .. } => {
            let cid = parse_cid(&cid)?;
            let n = store.get_to_path(&cid, &output)?;
            let out = serde_json::json!({"cid": cid.to_string(), "path": output, "size": n});
            ctx.emit(&out, || println!("wrote {} ({n} bytes)", output.display()))
        }
        Command::Cat { cid, .. } => {
            let cid = parse_cid(&cid)?;
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            store.cat_to(&cid, &mut lock)?;
            lock.flush()?;
            Ok(())
        }
        Command::Export { cid, output } => {
            let cid = parse_cid(&cid)?;
            let result = if output == Path::new("-") {
                store.export_car(&cid, io::BufWriter::new(io::stdout().lock()))?
            } else {
                // A failed export leaves an existing file as it was.
                let mut w = AtomicFile::create(&output)?;
                let r = store.export_car(&cid, &mut w)?;
                w.commit()?;
                r
            };
            if output == Path::new("-") {
                return Ok(());
            }
            ctx.emit(&result, || {
                println!(
                    "exported {} ({} blocks, {} bytes)",
                    result.root, result.blocks, result.bytes
                )
            })
        }
        Command::Import { path } => {
            let (input, _) = open_input(&path)?;
            let result = store.import_car(io::BufReader::new(input))?;
            ctx.emit(&result, || {
                for root in &result.roots {
                    println!("imported and pinned {root}");
                }
                println!("{} blocks, {} bytes", result.blocks, result.bytes);
            })
        }
        Command::Rm { cid, .. } => {
            let cid = parse_cid(&cid)?;
            let removed = store.rm(&cid)?;
            let out = serde_json::json!({"cid": cid.to_string(), "unpinned": removed});
            ctx.emit(&out, || {
                if removed {
                    println!("unpinned {cid}; run `alara store gc` to free its blocks");
                } else {
                    println!("{cid} was not pinned");
                }
            })
        }
        Command::Gc { .. } => {
            let stats = store.gc()?;
            ctx.emit(&stats, || {
                println!(
                    "removed {} blocks ({} bytes), kept {}",
                    stats.removed_blocks, stats.removed_bytes, stats.kept_blocks
                )
            })
        }
        Command::Pins => {
            let pins: Vec<String> = store.pins()?.iter().map(ToString::to_string).collect();
            ctx.emit(&pins, || pins.iter().for_each(|p| println!("{p}")))
        }
        Command::Verify { cid } => {
            let cid = parse_cid(&cid)?;
            let result = store.verify(&cid)?;
            ctx.emit(&result, || {
                println!(
                    "{}: {} blocks, {} bytes, all verified",
                    result.root, result.blocks, result.bytes
                )
            })
        }
        Command::Keygen { output } => {
            if output.exists() {
                bail!("{} exists; refusing to overwrite a key", output.display());
            }
            let id = generate_identity();
            let public = id.to_public().to_string();
            write_secret(
                &output,
                &format!("# public key: {public}\n{}\n", identity_to_string(&id)),
            )?;
            let out = serde_json::json!({"public_key": public, "identity_file": output});
            ctx.emit(&out, || {
                println!("public key: {public}\nsecret key written to {}", output.display())
            })
        }
        Command::Encrypt { input, output, recipients } => {
            let recipients = recipients
                .iter()
                .map(|r| parse_recipient(r).map_err(eyre::Report::from))
                .collect::<eyre::Result<Vec<_>>>()?;
            let (reader, _) = open_input(&input)?;
            let mut w = AtomicFile::create(&output)?;
            let n = encrypt::encrypt_to(&recipients, reader, &mut w)?;
            w.commit()?;
            let out = serde_json::json!({"output": output, "plaintext_bytes": n});
            ctx.emit(&out, || println!("encrypted {n} bytes to {}", output.display()))
        }
        Command::Decrypt { input, output, identity } => {
            let bytes = alara_store::read_file_capped(&identity, MAX_IDENTITY_FILE)
                .wrap_err("reading the identity file")?;
            let text = String::from_utf8(bytes).wrap_err_with(|| {
                format!("identity file {} is not UTF-8 text", identity.display())
            })?;
            let id = parse_identity(&text)?;
            let (reader, _) = open_input(&input)?;
            let mut w = AtomicFile::create(&output)?;
            let n = encrypt::decrypt(&id, reader, &mut w)?;
            w.commit()?;
            let out = serde_json::json!({"output": output, "plaintext_bytes": n});
            ctx.emit(&out, || println!("decrypted {n} bytes to {}", output.display()))
        }
    }
}

fn write_secret(path: &Path, text: &str) -> eyre::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).wrap_err_with(|| format!("create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
