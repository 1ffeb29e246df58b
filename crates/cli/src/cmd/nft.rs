//! `alara nft mint|verify|show`: generative art with reproducible provenance, over
//! `alara_nft` (generation, storage, commit–reveal minting, verification).

use std::time::Duration;

use alara_nft::chain::Collection;
use alara_nft::studio::{self, PromptSource};
use alara_nft::Cppn;
use alloy::primitives::U256;
use alloy::providers::DynProvider;
use eyre::{bail, WrapErr};
use serde::Serialize;

use crate::context::Context;

/// Generative-art tokens (ProvenanceNFT, deployed once per chain).
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Generate an image from a prompt and seed, store it with its metadata and manifest,
    /// commit, wait a block and mint it (10% royalty to you by default). Writes an
    /// `artwork` entry to the audit log (needs ALARA_LOG_KEY_PASSWORD).
    Mint(MintArgs),
    /// Regenerate a token's image from its on-chain model hash, prompt and seed and check
    /// it byte for byte against the stored image, with its metadata, manifest and audit
    /// entry. Exits non-zero on any mismatch.
    Verify(VerifyArgs),
    /// Print a token's provenance: artist, owner, model, seed, prompt, image, royalty.
    Show(ShowArgs),
}

/// Arguments of `alara nft mint`.
#[derive(clap::Args, Debug)]
pub struct MintArgs {
    /// The prompt (1 to 1000 bytes of UTF-8).
    #[arg(long)]
    prompt: String,
    /// The seed (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// Your royalty on every resale, in basis points (1000 = 10%, at most 2500).
    #[arg(long, default_value_t = 1000)]
    royalty_bps: u16,
    /// Publish only the prompt's commitment: the metadata and the chain do not show the
    /// prompt. Its salt is printed and kept in the audit log's vault; reveal it later or
    /// verify with `--prompt` and `--salt`.
    #[arg(long)]
    keep_prompt_secret: bool,
    /// Also write the PNG here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// Arguments of `alara nft verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The token id.
    token: u64,
    /// The prompt, for a token whose prompt was not revealed on-chain (with --salt).
    #[arg(long, requires = "salt")]
    prompt: Option<String>,
    /// The prompt commitment's salt, 64 hex digits (with --prompt).
    #[arg(long, requires = "prompt")]
    salt: Option<String>,
}

/// Arguments of `alara nft show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The token id.
    token: u64,
}

/// The data directory's content store.
pub fn open_store(ctx: &Context) -> eyre::Result<alara_store::Store<alara_store::FsBlockstore>> {
    alara_store::Store::open(ctx.data_dir.join("store")).wrap_err("opening the content store")
}

/// The ProvenanceNFT of this chain, deployed (and recorded in the address book) on first
/// use; its address and deployment block.
pub async fn collection(
    ctx: &Context,
    p: &DynProvider,
) -> eyre::Result<(Collection<DynProvider>, u64)> {
    let addr = alara_contracts::deploy::ensure(p, &ctx.data_dir, "ProvenanceNFT", || async {
        let c = Collection::deploy(p.clone()).await?;
        Ok::<_, eyre::Report>(c.address())
    })
    .await?;
    let from =
        alara_contracts::deploy::deployment_block(p, &ctx.data_dir, "ProvenanceNFT", addr).await?;
    Ok((Collection::at(p.clone(), addr), from))
}

#[derive(Serialize)]
struct Minted {
    token_id: u64,
    contract: String,
    artist: String,
    prompt_revealed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    seed: u64,
    model_sha256: String,
    image_cid: String,
    image_sha256: String,
    metadata_cid: String,
    manifest_cid: String,
    token_uri: String,
    royalty_bps: u16,
    commit_tx: String,
    commit_block: u64,
    mint_tx: String,
    mint_block: u64,
    audit_entry: Option<u64>,
}

async fn mint(ctx: &Context, args: MintArgs) -> eyre::Result<()> {
    studio::check_royalty(args.royalty_bps)?;
    alara_nft::generate::check_prompt(&args.prompt)?;
    let cppn = Cppn::shipped()?;
    let trail = super::audit::open_trail(ctx)?;
    let conn = ctx.connect().await?;
    let (nft, _) = collection(ctx, &conn.provider).await?;
    let store = open_store(ctx)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let salt = alara_nft::provenance::random_salt();
    let draft = studio::prepare(
        &store,
        &cppn,
        &args.prompt,
        seed,
        salt,
        args.royalty_bps,
        !args.keep_prompt_secret,
    )?;
    if let Some(out) = &args.out {
        alara_store::write_atomic(out, &draft.png)
            .wrap_err_with(|| format!("writing {}", out.display()))?;
    }
    let subject = format!("artist-{}", conn.signer);
    let r = studio::mint(
        &nft,
        conn.signer,
        &draft,
        !args.keep_prompt_secret,
        Some((&trail, &subject)),
        Duration::from_secs(120),
    )
    .await?;
    let m = Minted {
        token_id: r.minted.token_id.to::<u64>(),
        contract: nft.address().to_string(),
        artist: conn.signer.to_string(),
        prompt_revealed: r.reveal_tx.is_some(),
        salt: args.keep_prompt_secret.then(|| hex::encode(salt)),
        seed,
        model_sha256: hex::encode(cppn.model_hash()),
        image_cid: draft.image_cid.clone(),
        image_sha256: hex::encode(draft.image_sha256),
        metadata_cid: draft.metadata_cid.clone(),
        manifest_cid: draft.manifest_cid.clone(),
        token_uri: format!("ipfs://{}", draft.metadata_cid),
        royalty_bps: args.royalty_bps,
        commit_tx: r.minted.commit.transaction_hash.to_string(),
        commit_block: r.minted.commit.block_number.unwrap_or_default(),
        mint_tx: r.minted.mint.transaction_hash.to_string(),
        mint_block: r.minted.mint.block_number.unwrap_or_default(),
        audit_entry: r.audit.as_ref().map(|(_, i)| *i),
    };
    ctx.emit(&m, || {
        println!("minted token {} of ProvenanceNFT {}", m.token_id, m.contract);
        println!(
            "  committed in block {}, minted in block {} ({})",
            m.commit_block, m.mint_block, m.mint_tx
        );
        println!("  image    ipfs://{}  sha256 {}", m.image_cid, m.image_sha256);
        println!("  metadata {}", m.token_uri);
        println!("  manifest ipfs://{}", m.manifest_cid);
        println!("  model    sha256 {}, seed {}", m.model_sha256, m.seed);
        println!("  royalty  {} bps to {}", m.royalty_bps, m.artist);
        match &m.salt {
            Some(salt) => println!(
                "  prompt kept secret; its salt is {salt} (also in the audit vault): \
                 verify with --prompt and --salt"
            ),
            None => println!("  prompt revealed on-chain"),
        }
        if let Some(i) = m.audit_entry {
            println!("  audit entry {i} (artwork)");
        }
    })
}

fn parse_salt(hex_salt: &str) -> eyre::Result<[u8; 32]> {
    let bytes = hex::decode(hex_salt.trim_start_matches("0x")).wrap_err("--salt is not hex")?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        eyre::eyre!("--salt has {} bytes, expected 32 (64 hex digits)", b.len())
    })
}

async fn verify(ctx: &Context, args: VerifyArgs) -> eyre::Result<()> {
    let cppn = Cppn::shipped()?;
    let conn = ctx.connect().await?;
    let (nft, from_block) = collection(ctx, &conn.provider).await?;
    let store = open_store(ctx)?;
    let trail = super::audit::open_trail_read_only(ctx).ok();
    let source = match (args.prompt, args.salt) {
        (Some(prompt), Some(salt)) => PromptSource::Given { prompt, salt: parse_salt(&salt)? },
        _ => PromptSource::Revealed { from_block },
    };
    let v =
        studio::verify(&nft, U256::from(args.token), &store, &cppn, source, trail.as_ref()).await?;
    ctx.emit(&v, || {
        for c in &v.checks {
            println!("{} {:<18} {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
        if trail.is_none() {
            println!("(no audit log in this data directory: the audit entry was not checked)");
        }
        if v.ok {
            println!(
                "verified: token {} is the image its model, prompt and seed generate",
                v.token_id
            );
        } else {
            println!("NOT verified: token {} fails the checks marked FAIL", v.token_id);
        }
    })?;
    if !v.ok {
        bail!("token {} did not verify", v.token_id);
    }
    Ok(())
}

#[derive(Serialize)]
struct Shown {
    token_id: u64,
    contract: String,
    owner: String,
    artist: String,
    model_sha256: String,
    seed: u64,
    prompt_commitment: String,
    prompt: Option<String>,
    image_cid: String,
    image_sha256: String,
    token_uri: String,
    minted_block: u64,
    royalty_receiver: String,
    royalty_per_ether_wei: String,
}

async fn show(ctx: &Context, args: ShowArgs) -> eyre::Result<()> {
    let conn = ctx.connect().await?;
    let (nft, from_block) = collection(ctx, &conn.provider).await?;
    let token = U256::from(args.token);
    let art = nft.artwork(token).await?;
    let owner = nft.owner_of(token).await?;
    let uri = nft.c.tokenURI(token).call().await?;
    let royalty = nft.c.royaltyInfo(token, U256::from(10u64).pow(U256::from(18))).call().await?;
    let prompt = nft.revealed_prompt(token, from_block).await?;
    let s = Shown {
        token_id: args.token,
        contract: nft.address().to_string(),
        owner: owner.to_string(),
        artist: art.artist.to_string(),
        model_sha256: hex::encode(art.modelHash),
        seed: art.seed,
        prompt_commitment: hex::encode(art.promptCommitment),
        prompt,
        image_cid: art.imageCid.clone(),
        image_sha256: hex::encode(art.imageHash),
        token_uri: uri,
        minted_block: art.mintedBlock,
        royalty_receiver: royalty.receiver.to_string(),
        royalty_per_ether_wei: royalty.amount.to_string(),
    };
    ctx.emit(&s, || {
        println!("token {} of ProvenanceNFT {}", s.token_id, s.contract);
        println!("  owner      {}", s.owner);
        println!(
            "  artist     {} (royalty {} wei per ETH of a sale)",
            s.artist, s.royalty_per_ether_wei
        );
        println!("  model      sha256 {}", s.model_sha256);
        println!("  seed       {}", s.seed);
        match &s.prompt {
            Some(p) => println!("  prompt     {p:?}"),
            None => println!("  prompt     not revealed (commitment {})", s.prompt_commitment),
        }
        println!("  image      ipfs://{}  sha256 {}", s.image_cid, s.image_sha256);
        println!("  metadata   {}", s.token_uri);
        println!("  minted in block {}", s.minted_block);
    })
}

/// Runs an `alara nft` subcommand.
pub async fn run(ctx: &Context, command: Command) -> eyre::Result<()> {
    match command {
        Command::Mint(args) => mint(ctx, args).await,
        Command::Verify(args) => verify(ctx, args).await,
        Command::Show(args) => show(ctx, args).await,
    }
}
