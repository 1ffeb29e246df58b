//! `/api/v1/nft`: generative art. The tokens of this chain's ProvenanceNFT with their
//! provenance (model hash, seed, prompt commitment or revealed prompt, image, royalty), and
//! a preview of the image any (prompt, seed) generates with the shipped CPPN — the same
//! bytes `alara nft mint` would mint — without minting or storing anything.

use std::sync::{Arc, OnceLock};

use alara_nft::chain::Collection;
use alara_nft::Cppn;
use axum::extract::{Query, State};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Most tokens one answer lists.
const MAX_LISTED: usize = 100;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(tokens)).routes(routes!(preview))
}

fn cppn() -> ApiResult<&'static Cppn> {
    static MODEL: OnceLock<Result<Cppn, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| Cppn::shipped().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ApiError::internal(format!("the generator model: {e}")))
}

/// Which tokens to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    /// At most this many, newest first (1 to 100, default 20).
    pub limit: Option<usize>,
}

/// One minted token and its provenance.
#[derive(Serialize, ToSchema)]
pub struct Token {
    /// The token id.
    pub token_id: u64,
    /// The artist (minter and royalty receiver).
    pub artist: String,
    /// The current owner.
    pub owner: String,
    /// SHA-256 of the model file, hex.
    pub model_sha256: String,
    /// The seed.
    pub seed: u64,
    /// `sha256(salt ‖ prompt)`, hex.
    pub prompt_commitment: String,
    /// The prompt, once revealed on-chain.
    pub prompt: Option<String>,
    /// CID of the image.
    pub image_cid: String,
    /// SHA-256 of the image file, hex.
    pub image_sha256: String,
    /// `ipfs://<metadata CID>`.
    pub token_uri: String,
    /// The royalty in basis points.
    pub royalty_bps: u64,
    /// The block it was minted in.
    pub minted_block: u64,
    /// Whether the shipped generator's model is the token's (so it can be regenerated here).
    pub shipped_model: bool,
}

/// The tokens of the chain's ProvenanceNFT.
#[derive(Serialize, ToSchema)]
pub struct TokensAnswer {
    /// The contract (empty when none is deployed on this chain yet).
    pub contract: String,
    /// Tokens minted in all.
    pub total: usize,
    /// The tokens listed, newest first.
    pub tokens: Vec<Token>,
}

/// Minted tokens with their provenance, newest first.
#[utoipa::path(get, path = "/nft/tokens", tag = "nft", params(TokensQuery),
    responses((status = 200, body = TokensAnswer), (status = 400, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
async fn tokens(
    State(s): State<Arc<ApiState>>,
    p: Principal,
    q: Result<Query<TokensQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<TokensAnswer>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LISTED {
        return Err(ApiError::bad_request(format!("limit={limit}")).hint("limit=1 to 100 tokens"));
    }
    let provider = s.chain()?.clone();
    let chain = |e: alara_nft::Error| ApiError::chain(e.to_string());
    let book = alara_contracts::deploy::book_for(&provider, &s.config.data_dir)
        .await
        .map_err(|e| ApiError::chain(e.to_string()))?;
    let Some(addr) = book.get("ProvenanceNFT") else {
        return Ok(Json(TokensAnswer { contract: String::new(), total: 0, tokens: vec![] }));
    };
    let from = alara_contracts::deploy::deployment_block(
        &provider,
        &s.config.data_dir,
        "ProvenanceNFT",
        addr,
    )
    .await
    .map_err(|e| ApiError::chain(e.to_string()))?;
    let nft = Collection::at(provider, addr);
    let minted = nft.minted(from).await.map_err(chain)?;
    let shipped = cppn()?.model_hash();
    let total = minted.len();
    let mut out = Vec::new();
    for m in minted.iter().rev().take(limit) {
        let art = nft.artwork(m.tokenId).await.map_err(chain)?;
        let prompt = if art.promptRevealed {
            nft.revealed_prompt(m.tokenId, from).await.map_err(chain)?
        } else {
            None
        };
        out.push(Token {
            token_id: m.tokenId.to::<u64>(),
            artist: art.artist.to_string(),
            owner: nft.owner_of(m.tokenId).await.map_err(chain)?.to_string(),
            model_sha256: hex::encode(art.modelHash),
            seed: art.seed,
            prompt_commitment: hex::encode(art.promptCommitment),
            prompt,
            image_cid: art.imageCid.clone(),
            image_sha256: hex::encode(art.imageHash),
            token_uri: format!("ipfs://{}", art.metadataCid),
            royalty_bps: m.royaltyBps.to::<u64>(),
            minted_block: art.mintedBlock,
            shipped_model: art.modelHash.0 == shipped,
        });
    }
    Ok(Json(TokensAnswer { contract: addr.to_string(), total, tokens: out }))
}

/// A prompt and seed to preview.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The prompt: 1 to 1000 bytes of UTF-8, not blank.
    pub prompt: String,
    /// The seed, 0 to 2^64 − 1 (as a JSON number up to 2^53, or a decimal string).
    #[schema(value_type = String)]
    pub seed: SeedValue,
}

/// A seed as a JSON number or a decimal string (JSON numbers above 2^53 lose precision).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum SeedValue {
    /// A number.
    Number(u64),
    /// A decimal string.
    Text(String),
}

/// The generated image.
#[derive(Serialize, ToSchema)]
pub struct PreviewAnswer {
    /// The PNG, base64.
    pub png_base64: String,
    /// SHA-256 of the PNG, hex: what a token of this (prompt, seed) records.
    pub sha256: String,
    /// SHA-256 of the model, hex.
    pub model_sha256: String,
    /// The seed used.
    pub seed: String,
    /// Width and height in pixels.
    pub size: u32,
}

/// Generates the image of a prompt and seed with the shipped CPPN, without minting.
#[utoipa::path(post, path = "/nft/preview", tag = "nft", request_body = PreviewRequest,
    responses((status = 200, body = PreviewAnswer), (status = 400, body = crate::error::ErrorBody)))]
async fn preview(
    p: Principal,
    body: Result<axum::Json<PreviewRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<PreviewAnswer>> {
    p.require(Role::Reader)?;
    let axum::Json(req) = body?;
    if req.prompt.trim().is_empty() || req.prompt.len() > alara_nft::generate::MAX_PROMPT_BYTES {
        return Err(ApiError::bad_request(format!("prompt of {} bytes", req.prompt.len()))
            .hint("a prompt is 1 to 1000 bytes of UTF-8 and not blank"));
    }
    let seed = match req.seed {
        SeedValue::Number(n) => n,
        SeedValue::Text(t) => t.trim().parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("seed {t:?} is not a whole number"))
                .hint("the seed is 0 to 18446744073709551615, as a number or a decimal string")
        })?,
    };
    blocking(move || {
        let cppn = cppn()?;
        let (png, hash) = cppn.generate_png(&req.prompt, seed).map_err(ApiError::internal)?;
        Ok(Json(PreviewAnswer {
            png_base64: base64::engine::general_purpose::STANDARD.encode(&png),
            sha256: hex::encode(hash),
            model_sha256: hex::encode(cppn.model_hash()),
            seed: seed.to_string(),
            size: alara_nft::generate::SIZE,
        }))
    })
    .await
}
