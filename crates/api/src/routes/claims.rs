//! `/api/v1/claims`: AI-assessed claims as `ClaimsInsurance` treats them — the pinned
//! claims model (`models/claims_assessor.onnx`, run with tract by
//! `alara_oracle::claims`), what it says of the held-out real claims it never saw in
//! training, and an assessment of a claim you describe, each with the decision the
//! contract would take under the demo's rules (automatic approval or review, and why).
//! Nothing here touches a chain or stores a claim: the salt of the input commitment is
//! drawn afresh and returned, so the caller can file the same commitment itself.

use std::sync::{Arc, OnceLock};

use alara_oracle::claims::{
    held_out, Assessment, ClaimFeatures, ClaimInput, ClaimsAssessor, DEMO_RULES, DEMO_SUM_INSURED,
    FEATURES,
};
use axum::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Most held-out claims one answer lists.
const MAX_LISTED: usize = 200;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(held_out_claims)).routes(routes!(assess))
}

fn assessor() -> ApiResult<&'static ClaimsAssessor> {
    static MODEL: OnceLock<Result<ClaimsAssessor, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| ClaimsAssessor::shipped().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ApiError::internal(format!("the claims model: {e}")))
}

/// An assessment and what the contract would do with it.
#[derive(Serialize, ToSchema)]
pub struct Assessed {
    /// Probability (basis points) that the claim is one to review.
    pub fraud_bp: u16,
    /// Confidence of the model (basis points).
    pub confidence_bp: u16,
    /// The amount claimed, capped by the remaining cover, wei, decimal.
    pub amount: String,
    /// `auto_approved`, or `review_<fraud|confidence|amount|daily_cap>`.
    pub decision: String,
    /// SHA-256 of the model that ran, hex.
    pub model: String,
    /// The input commitment `SHA-256(salt ‖ canonical features)`, hex.
    pub input: String,
}

fn assessed(a: &Assessment) -> Assessed {
    Assessed {
        fraud_bp: a.fraud_bp,
        confidence_bp: a.confidence_bp,
        amount: a.amount.to_string(),
        decision: DEMO_RULES.decide(a, 0).name(),
        model: a.model.to_hex(),
        input: a.input.to_hex(),
    }
}

fn features_map(f: &ClaimFeatures) -> serde_json::Map<String, serde_json::Value> {
    FEATURES.iter().zip(f.0).map(|(k, v)| ((*k).to_string(), serde_json::json!(v))).collect()
}

/// Which held-out claims to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HeldOutQuery {
    /// At most this many (1 to 200, default 20).
    pub limit: Option<usize>,
    /// Skip this many first (default 0).
    pub offset: Option<usize>,
}

/// One held-out real claim, assessed.
#[derive(Serialize, ToSchema)]
pub struct HeldOutClaim {
    /// Its data row in `datasets/claims.csv` (0-based).
    pub row: usize,
    /// The claim's features, by name.
    #[schema(value_type = Object)]
    pub features: serde_json::Map<String, serde_json::Value>,
    /// Whether it was in fact a long claim (the label the model learns).
    pub long_claim: bool,
    /// The assessment and the decision.
    pub assessment: Assessed,
}

/// The held-out claims and what the model says of them.
#[derive(Serialize, ToSchema)]
pub struct HeldOutAnswer {
    /// SHA-256 of the pinned model, hex.
    pub model: String,
    /// Held-out claims in all.
    pub total: usize,
    /// The rules the decisions follow (`alara demo claims`'s).
    pub rules: RulesInfo,
    /// The claims listed.
    pub claims: Vec<HeldOutClaim>,
}

/// The contract's rules, as the decisions apply them.
#[derive(Serialize, ToSchema)]
pub struct RulesInfo {
    /// Fraud scores at or above this go to review (basis points).
    pub max_fraud_bp: u16,
    /// Confidences below this go to review (basis points).
    pub min_confidence_bp: u16,
    /// The largest automatically approved amount, wei, decimal.
    pub auto_max_amount: String,
    /// The cover of each policy, wei, decimal.
    pub sum_insured: String,
}

fn rules_info() -> RulesInfo {
    RulesInfo {
        max_fraud_bp: DEMO_RULES.max_fraud_bp,
        min_confidence_bp: DEMO_RULES.min_confidence_bp,
        auto_max_amount: DEMO_RULES.auto_max_amount.to_string(),
        sum_insured: DEMO_SUM_INSURED.to_string(),
    }
}

fn salt() -> [u8; 32] {
    use rand::RngCore;
    let mut s = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// The real claims the model never saw in training, assessed with the pinned model.
#[utoipa::path(get, path = "/claims/held-out", tag = "claims", params(HeldOutQuery),
    responses((status = 200, body = HeldOutAnswer), (status = 400, body = crate::error::ErrorBody)))]
async fn held_out_claims(
    p: Principal,
    q: Result<Query<HeldOutQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<HeldOutAnswer>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LISTED {
        return Err(ApiError::bad_request(format!("limit={limit}"))
            .hint("limit=1 to 200 held-out claims a page; page with offset="));
    }
    let offset = q.offset.unwrap_or(0);
    blocking(move || {
        let model = assessor()?;
        let all = held_out().map_err(ApiError::internal)?;
        let total = all.len();
        if offset > total {
            return Err(ApiError::bad_request(format!("offset={offset}"))
                .hint(format!("there are {total} held-out claims")));
        }
        let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
        let inputs: Vec<ClaimInput> = page
            .iter()
            .map(|c| ClaimInput {
                features: c.features.clone(),
                salt: salt(),
                claimed: c.features.claimed_wei(),
                cover_left: DEMO_SUM_INSURED,
            })
            .collect();
        let assessments = model.assess_many(&inputs).map_err(ApiError::internal)?;
        let claims = page
            .iter()
            .zip(&assessments)
            .map(|(c, a)| HeldOutClaim {
                row: c.row,
                features: features_map(&c.features),
                long_claim: c.label == 1,
                assessment: assessed(a),
            })
            .collect();
        Ok(Json(HeldOutAnswer {
            model: model.model_hash().to_hex(),
            total,
            rules: rules_info(),
            claims,
        }))
    })
    .await
}

/// A claim to assess: every feature of the model, by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessRequest {
    /// The model's features by name (all of `age`, `male`, …, `after_benefit_change`; see
    /// `GET /claims/held-out` for real examples).
    #[schema(value_type = Object)]
    pub features: serde_json::Map<String, serde_json::Value>,
}

/// The assessment of a described claim, with the salt of its input commitment.
#[derive(Serialize, ToSchema)]
pub struct AssessAnswer {
    /// The assessment and the decision under the demo's rules.
    pub assessment: Assessed,
    /// The salt of `assessment.input`, hex (drawn for this call; keep it to re-run).
    pub salt: String,
    /// The rules the decision follows.
    pub rules: RulesInfo,
}

/// Assesses one claim with the pinned model.
#[utoipa::path(post, path = "/claims/assess", tag = "claims", request_body = AssessRequest,
    responses((status = 200, body = AssessAnswer), (status = 400, body = crate::error::ErrorBody)))]
async fn assess(
    p: Principal,
    body: Result<axum::Json<AssessRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<AssessAnswer>> {
    p.require(Role::Reader)?;
    let axum::Json(req) = body?;
    let mut values = [0f32; FEATURES.len()];
    for (i, name) in FEATURES.iter().enumerate() {
        let v = req.features.get(*name).ok_or_else(|| {
            ApiError::bad_request(format!("features.{name} is missing"))
                .hint(format!("give every feature: {}", FEATURES.join(", ")))
        })?;
        let x = v.as_f64().filter(|x| x.is_finite() && x.abs() < 1e12).ok_or_else(|| {
            ApiError::bad_request(format!("features.{name} = {v} is not a finite number"))
                .hint("each feature is a number, as in GET /claims/held-out")
        })?;
        values[i] = x as f32;
    }
    if let Some(extra) = req.features.keys().find(|k| !FEATURES.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "features.{extra} is not a feature of the model"
        ))
        .hint(format!("the features are {}", FEATURES.join(", "))));
    }
    if values[alara_oracle::claims::CLAIMED_USD] < 0.0 {
        return Err(ApiError::bad_request("features.claimed_usd is negative")
            .hint("the claimed amount is in US dollars, 0 or more"));
    }
    blocking(move || {
        let features = ClaimFeatures(values);
        let salt = salt();
        let input = ClaimInput {
            claimed: features.claimed_wei(),
            features,
            salt,
            cover_left: DEMO_SUM_INSURED,
        };
        let a = assessor()?.assess(&input).map_err(ApiError::internal)?;
        Ok(Json(AssessAnswer {
            assessment: assessed(&a),
            salt: hex::encode(salt),
            rules: rules_info(),
        }))
    })
    .await
}
