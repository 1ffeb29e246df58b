//! From a prompt to a verified token: [`prepare`] generates the image and writes image,
//! model, manifest and metadata to the content store; [`mint`] commits, waits a block,
//! mints, optionally reveals the prompt, and appends the `artwork` audit entry; [`verify`]
//! regenerates the image from what the token records and checks every piece.

use std::time::Duration;

use alara_audit::entry::{Entry, EntryBody};
use alara_audit::{AuditTrail, Opening};
use alara_contracts::ProvenanceNFT::MintRequest;
use alara_store::{AddOptions, Blockstore, Store};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::chain::{Collection, Minted};
use crate::generate::{check_prompt, Cppn, GENERATOR};
use crate::provenance::{self, prompt_commitment, Manifest, Metadata, ProvenanceFields};
use crate::{Error, Result};

/// Documents larger than this are refused when read back from the store.
const MAX_DOCUMENT: u64 = 4 << 20;

/// An artwork ready to mint: everything stored, the mint request built.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The prompt.
    pub prompt: String,
    /// The salt of the prompt commitment.
    pub salt: [u8; 32],
    /// The seed.
    pub seed: u64,
    /// The PNG file.
    pub png: Vec<u8>,
    /// Its SHA-256.
    pub image_sha256: [u8; 32],
    /// Its CID.
    pub image_cid: String,
    /// CID of the model file.
    pub model_cid: String,
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// Its CID.
    pub manifest_cid: String,
    /// The metadata's bytes.
    pub metadata: Vec<u8>,
    /// Its CID.
    pub metadata_cid: String,
    /// What the token will record.
    pub request: MintRequest,
}

fn add<B: Blockstore>(store: &Store<B>, bytes: &[u8]) -> Result<String> {
    Ok(store.add_reader(bytes, &AddOptions::v1())?.cid.to_string())
}

/// Reads a whole document back from the store, capped.
pub fn fetch<B: Blockstore>(store: &Store<B>, cid: &str) -> Result<Vec<u8>> {
    let cid = alara_store::parse_cid(cid)?;
    let reader = store.cat(&cid)?;
    Ok(alara_store::read_capped(reader, MAX_DOCUMENT, "document")?)
}

/// Generates the image of `prompt` and `seed`, stores image, model, manifest and metadata,
/// and builds the mint request with `royalty_bps`. With `publish_prompt` the metadata
/// carries the prompt; without, only its commitment (reveal it later with the salt).
pub fn prepare<B: Blockstore>(
    store: &Store<B>,
    cppn: &Cppn,
    prompt: &str,
    seed: u64,
    salt: [u8; 32],
    royalty_bps: u16,
    publish_prompt: bool,
) -> Result<Draft> {
    check_prompt(prompt)?;
    let (png, image_sha256) = cppn.generate_png(prompt, seed)?;
    let image_cid = add(store, &png)?;
    let model_cid = add(store, cppn.bytes())?;
    let commitment = prompt_commitment(&salt, prompt);
    let manifest =
        Manifest::new(&png, &model_cid, &cppn.model_hash(), seed, &commitment).to_bytes()?;
    let manifest_cid = add(store, &manifest)?;
    let fields = ProvenanceFields {
        generator: GENERATOR.into(),
        model_cid: model_cid.clone(),
        model_sha256: hex::encode(cppn.model_hash()),
        seed,
        prompt_commitment: hex::encode(commitment),
        image_sha256: hex::encode(image_sha256),
        manifest: format!("ipfs://{manifest_cid}"),
    };
    let metadata =
        Metadata::new(publish_prompt.then_some(prompt), fields, &image_cid).to_bytes()?;
    let metadata_cid = add(store, &metadata)?;
    let request = MintRequest {
        modelHash: B256::from(cppn.model_hash()),
        promptCommitment: B256::from(commitment),
        seed,
        royaltyBps: alloy::primitives::aliases::U96::from(royalty_bps),
        imageHash: B256::from(image_sha256),
        imageCid: image_cid.clone(),
        metadataCid: metadata_cid.clone(),
    };
    Ok(Draft {
        prompt: prompt.into(),
        salt,
        seed,
        png,
        image_sha256,
        image_cid,
        model_cid,
        manifest,
        manifest_cid,
        metadata,
        metadata_cid,
        request,
    })
}

/// A minted draft: the token, its transactions and its audit entry.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// Commit and mint.
    pub minted: Minted,
    /// The reveal transaction's hash, when the prompt was revealed.
    pub reveal_tx: Option<B256>,
    /// The audit entry appended, and its leaf index.
    pub audit: Option<(EntryBody, u64)>,
}

/// Commits and mints `draft` as `minter` (the sender of the collection's provider), reveals
/// its prompt on-chain when `reveal`, and appends the `artwork` entry to `trail` (with the
/// prompt's opening in the vault, under `subject`).
pub async fn mint<P: Provider + Clone>(
    collection: &Collection<P>,
    minter: Address,
    draft: &Draft,
    reveal: bool,
    trail: Option<(&AuditTrail, &str)>,
    timeout: Duration,
) -> Result<Receipt> {
    let minted = collection.commit_and_mint(minter, &draft.request, timeout).await?;
    let reveal_tx = if reveal {
        Some(collection.reveal(minted.token_id, &draft.prompt, draft.salt).await?.transaction_hash)
    } else {
        None
    };
    let audit = match trail {
        Some((trail, subject)) => {
            let chain_id = collection
                .c
                .provider()
                .get_chain_id()
                .await
                .map_err(alara_contracts::call::CallError::rpc("eth_chainId"))?;
            let body = EntryBody::Artwork(provenance::artwork_entry(
                chain_id,
                collection.address(),
                minted.token_id.to::<u64>(),
                &draft.model_cid,
                draft.request.modelHash.0,
                draft.request.promptCommitment.0,
                draft.seed,
                &draft.image_cid,
                draft.image_sha256,
                &draft.manifest,
                Some(minted.mint.transaction_hash.0),
            ));
            let opening = Opening {
                subject: subject.into(),
                label: "prompt".into(),
                salt: draft.salt,
                payload: draft.prompt.as_bytes().to_vec(),
            };
            let appended = trail.record(&[(Entry::now(body.clone()), vec![opening])])?;
            Some((body, appended.index))
        }
        None => None,
    };
    Ok(Receipt { minted, reveal_tx, audit })
}

/// One check of a verification.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The verdict on a token's provenance.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The token.
    pub token_id: u64,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Whether every check holds.
    pub ok: bool,
    /// The prompt the image was regenerated from, when known.
    pub prompt: Option<String>,
}

/// Where `verify` finds the prompt: revealed on-chain (scanned from `from_block`), or given
/// with its salt.
#[derive(Clone, Debug)]
pub enum PromptSource {
    /// The `PromptRevealed` event, scanned from this block.
    Revealed {
        /// First block to scan (the contract's deployment block).
        from_block: u64,
    },
    /// A prompt and its salt held off-chain.
    Given {
        /// The prompt.
        prompt: String,
        /// The salt.
        salt: [u8; 32],
    },
}

/// Regenerates the image of `token` from its on-chain model hash, prompt and seed; compares
/// it byte for byte with the stored image; checks the metadata, the manifest and (given a
/// trail) the `artwork` audit entry. Refusals of a check are in the verdict, not errors;
/// errors are failures to ask (chain, store).
pub async fn verify<P: Provider + Clone, B: Blockstore>(
    collection: &Collection<P>,
    token: U256,
    store: &Store<B>,
    cppn: &Cppn,
    prompt: PromptSource,
    trail: Option<&AuditTrail>,
) -> Result<Verdict> {
    let art = collection.artwork(token).await?;
    let mut checks = Vec::new();
    let mut check = |name, ok, detail: String| checks.push(Check { name, ok, detail });

    let model_ok = art.modelHash.0 == cppn.model_hash();
    check(
        "model",
        model_ok,
        format!("token model {}, generator model {}", art.modelHash, B256::from(cppn.model_hash())),
    );
    let prompt = match prompt {
        PromptSource::Revealed { from_block } => {
            let p = collection.revealed_prompt(token, from_block).await?;
            check(
                "prompt",
                p.is_some(),
                match &p {
                    Some(_) => {
                        "revealed on-chain, checked against the commitment by the contract".into()
                    }
                    None => "not revealed on-chain: give the prompt and its salt".into(),
                },
            );
            p
        }
        PromptSource::Given { prompt, salt } => {
            let c = prompt_commitment(&salt, &prompt);
            let ok = c == art.promptCommitment.0;
            check(
                "prompt",
                ok,
                format!(
                    "sha256(salt ‖ prompt) = {}, token records {}",
                    B256::from(c),
                    art.promptCommitment
                ),
            );
            ok.then_some(prompt)
        }
    };
    let stored = fetch(store, &art.imageCid);
    let stored_ok =
        matches!(&stored, Ok(b) if Sha256::digest(b).as_slice() == art.imageHash.as_slice());
    check(
        "stored image",
        stored_ok,
        match &stored {
            Ok(b) => format!(
                "{} ({} bytes), SHA-256 {}",
                art.imageCid,
                b.len(),
                hex::encode(Sha256::digest(b))
            ),
            Err(e) => format!("{}: {e}", art.imageCid),
        },
    );
    match (&prompt, model_ok) {
        (Some(p), true) => {
            let (png, hash) = cppn.generate_png(p, art.seed)?;
            let same = matches!(&stored, Ok(b) if *b == png);
            check(
                "regenerated image",
                hash == art.imageHash.0 && same,
                format!(
                    "seed {}: SHA-256 {} ({}), token records {}",
                    art.seed,
                    hex::encode(hash),
                    if same {
                        "bytes equal the stored image"
                    } else {
                        "bytes differ from the stored image"
                    },
                    art.imageHash
                ),
            );
        }
        _ => check(
            "regenerated image",
            false,
            "not regenerated: needs the prompt and the token's model".into(),
        ),
    }
    let metadata = fetch(store, &art.metadataCid).and_then(|b| Metadata::from_bytes(&b));
    let manifest_cid = match &metadata {
        Ok(m) => {
            let p = &m.provenance;
            let ok = m.image == format!("ipfs://{}", art.imageCid)
                && p.image_sha256 == hex::encode(art.imageHash)
                && p.model_sha256 == hex::encode(art.modelHash)
                && p.seed == art.seed
                && p.prompt_commitment == hex::encode(art.promptCommitment)
                && m.proof_type == provenance::PROOF_TYPE
                && (m.prompt.is_empty() || prompt.as_ref().is_none_or(|p| *p == m.prompt));
            check(
                "metadata",
                ok,
                format!("ipfs://{} names image, model, seed and commitment", art.metadataCid),
            );
            p.manifest.strip_prefix("ipfs://").map(String::from)
        }
        Err(e) => {
            check("metadata", false, format!("{}: {e}", art.metadataCid));
            None
        }
    };
    let mut manifest_hash = None;
    match manifest_cid.as_deref().map(|cid| (cid, fetch(store, cid))) {
        Some((cid, Ok(bytes))) => {
            manifest_hash = Some(<[u8; 32]>::from(Sha256::digest(&bytes)));
            let ok = match (Manifest::from_bytes(&bytes), &metadata) {
                (Ok(m), Ok(meta)) => {
                    m.image_hash() == Some(art.imageHash.0)
                        && m.software_agent() == Some(meta.provenance.model_cid.as_str())
                        && m.digital_source_type() == Some(provenance::TRAINED_ALGORITHMIC_MEDIA)
                }
                _ => false,
            };
            check(
                "manifest",
                ok,
                format!("ipfs://{cid}: c2pa.created by the model, c2pa.hash.data of the image"),
            );
        }
        Some((cid, Err(e))) => check("manifest", false, format!("{cid}: {e}")),
        None => check("manifest", false, "the metadata names no manifest".into()),
    }
    if let Some(trail) = trail {
        let chain_id = collection
            .c
            .provider()
            .get_chain_id()
            .await
            .map_err(alara_contracts::call::CallError::rpc("eth_chainId"))?;
        let name = provenance::token_ref(chain_id, collection.address(), token.to::<u64>());
        let found = find_entry(trail, &name)?;
        let ok = matches!(&found, Some((_, a)) if Some(a.manifest.0) == manifest_hash
            && a.image == art.imageCid && a.prompt.0 == art.promptCommitment.0 && a.seed == art.seed);
        check(
            "audit entry",
            ok,
            match &found {
                Some((i, _)) => format!("artwork entry {i} of the log for {name}"),
                None => format!("no artwork entry for {name} in this log"),
            },
        );
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(Verdict { token_id: token.to::<u64>(), checks, ok, prompt })
}

/// The latest `artwork` entry of `token` (`<chain>/<contract>/<id>`) in `trail`.
pub fn find_entry(
    trail: &AuditTrail,
    token: &str,
) -> Result<Option<(u64, alara_audit::entry::Artwork)>> {
    let query = alara_audit::Query { kinds: vec!["artwork".into()], ..Default::default() };
    let found = trail.query(&query)?;
    Ok(found.into_iter().rev().find_map(|row| match row.entry.body {
        EntryBody::Artwork(a) if a.token == token => Some((row.leaf_index, a)),
        _ => None,
    }))
}

/// Sanity limit for royalties the CLI accepts (ProvenanceNFT's `MAX_ROYALTY_BPS`).
pub const MAX_ROYALTY_BPS: u16 = 2_500;

/// Refuses royalties above [`MAX_ROYALTY_BPS`].
pub fn check_royalty(bps: u16) -> Result<()> {
    if bps > MAX_ROYALTY_BPS {
        return Err(Error::Invalid {
            what: "royalty",
            detail: format!("{bps} bps; at most {MAX_ROYALTY_BPS} (25%), default 1000 (10%)"),
        });
    }
    Ok(())
}
