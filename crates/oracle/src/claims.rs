//! AI assessment of insurance claims for `ClaimsInsurance`.
//!
//! A claim's features (the columns of `datasets/claims.csv`: real workers' compensation
//! claims) run through the ONNX claims assessor with tract ([`alara_ml::OnnxModel`]); the
//! model is loaded only when its SHA-256 is the hash the policy pins, and that hash is what
//! [`post_assessment`] sends on-chain, where a policy refuses any other. The assessment is
//! the model's fraud (review-risk) probability and confidence in basis points, and the
//! claimed amount capped by the policy's remaining cover: the amount is not a model output.
//!
//! What the model saw is committed, salted, as [`ClaimInput::commitment`]: `SHA-256(salt ‖
//! canonical features JSON)`. The features are personal (age, wage, injury) and few enough
//! to guess from an unsalted hash, so the assessor keeps the salt off-chain and discloses it,
//! with the features, to whoever disputes a decision. The audit entry ([`Assessment::entry`], kind `claim_assessment`) carries the
//! model hash and the commitment; [`ClaimsAssessor::rerun`] opens the commitment with the
//! input and checks that the same model gives the same assessment.
//!
//! Evidence is encrypted to the assessor and stored ([`seal_evidence`]); its manifest names
//! the chain, the pool, the policy and the holder, and only the manifest's hash (the
//! evidence root) goes on-chain. An evidence root copied onto another policy (a claim
//! front-run) does not open to that policy ([`EvidenceManifest::binds`]).

use std::time::Instant;

use alara_audit::entry::{commit, ClaimAssessment};
use alara_audit::Hash;
use alara_contracts::call::{decoder, event_of, send, Decoder};
use alara_contracts::ClaimsInsurance::{self, ClaimsInsuranceErrors, ClaimsInsuranceInstance};
use alara_ml::OnnxModel;
use alara_store::{AddOptions, Blockstore, Recipient, Store};
use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The claims of `datasets/claims.csv` (features, then the long-claim label).
pub const CLAIMS_CSV: &str = include_str!("../../../datasets/claims.csv");
/// The shipped claims assessor, `models/claims_assessor.onnx`.
pub const CLAIMS_MODEL: &[u8] = include_bytes!("../../../models/claims_assessor.onnx");
/// SHA-256 of [`CLAIMS_MODEL`]: the hash a policy pins (as in its `expected.json`).
pub const CLAIMS_MODEL_SHA256: &str =
    "96ca0821530e63f47b935f3dd411a462be8987d8f1e6da1c46e112e42a124c8c";

/// What onnxruntime computes on the held-out claims, `models/claims_assessor.expected.json`.
pub const CLAIMS_EXPECTED_JSON: &str =
    include_str!("../../../models/claims_assessor.expected.json");

/// The model's input columns, in order (the CSV header without `label`).
pub const FEATURES: [&str; 19] = [
    "age",
    "male",
    "married",
    "hospitalised",
    "high_earner",
    "weekly_wage",
    "weekly_benefit",
    "claimed_usd",
    "industry",
    "injury_type",
    "head",
    "neck",
    "upper_extremity",
    "trunk",
    "low_back",
    "lower_extremity",
    "occupational_disease",
    "kentucky",
    "after_benefit_change",
];
/// Index of `claimed_usd` in [`FEATURES`].
pub const CLAIMED_USD: usize = 7;
/// The exchange rate the demos and tests use: one US dollar is 10¹⁴ wei ($10,000 = 1 ETH).
pub const WEI_PER_USD: u128 = 100_000_000_000_000;

/// The named errors of `ClaimsInsurance`, for [`send`].
pub const DECODERS: &[Decoder] = &[decoder::<ClaimsInsuranceErrors>];

/// One claim as the model sees it: the values of [`FEATURES`], in order.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimFeatures(pub [f32; 19]);

impl ClaimFeatures {
    /// The canonical JSON of the features: an object with the keys of [`FEATURES`] in that
    /// order and each value as the shortest decimal that reads back as the same `f32`.
    pub fn canonical_json(&self) -> String {
        let fields: Vec<String> = FEATURES
            .iter()
            .zip(self.0)
            .map(|(name, v)| {
                // serde_json writes an f32 as its shortest round-trip decimal (ryu).
                let v = serde_json::to_string(&v).unwrap_or_else(|_| "null".into());
                format!("\"{name}\":{v}")
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// The claimed amount in wei at [`WEI_PER_USD`], to the cent.
    pub fn claimed_wei(&self) -> u128 {
        let cents = (f64::from(self.0[CLAIMED_USD]) * 100.0).round().max(0.0) as u128;
        cents * (WEI_PER_USD / 100)
    }
}

/// A claim of the shipped dataset: its features and its label (1 = a long claim).
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetClaim {
    /// 0-based data row of `datasets/claims.csv`.
    pub row: usize,
    /// The features.
    pub features: ClaimFeatures,
    /// The long-claim label.
    pub label: u8,
}

/// Every claim of `datasets/claims.csv`, in order.
pub fn dataset() -> Result<Vec<DatasetClaim>> {
    let bad = |detail: String| Error::Malformed { what: "datasets/claims.csv", detail };
    let mut lines = CLAIMS_CSV.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if header.len() != FEATURES.len() + 1 || header[..FEATURES.len()] != FEATURES[..] {
        return Err(bad(format!("header {header:?}, expected {FEATURES:?} then label")));
    }
    lines
        .enumerate()
        .map(|(row, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != FEATURES.len() + 1 {
                return Err(bad(format!("row {row} has {} cells", cells.len())));
            }
            let mut v = [0f32; 19];
            for (i, c) in cells[..FEATURES.len()].iter().enumerate() {
                v[i] = c.parse().map_err(|e| bad(format!("row {row} column {i}: {e}")))?;
            }
            let label =
                cells[FEATURES.len()].parse().map_err(|e| bad(format!("row {row} label: {e}")))?;
            Ok(DatasetClaim { row, features: ClaimFeatures(v), label })
        })
        .collect()
}

/// The claims training never saw: the held-out rows of `expected.json`, in order.
pub fn held_out() -> Result<Vec<DatasetClaim>> {
    #[derive(Deserialize)]
    struct Expected {
        heldout_rows: Vec<usize>,
    }
    let e: Expected = serde_json::from_str(CLAIMS_EXPECTED_JSON).map_err(|e| Error::Malformed {
        what: "models/claims_assessor.expected.json",
        detail: e.to_string(),
    })?;
    let all = dataset()?;
    e.heldout_rows
        .into_iter()
        .map(|r| {
            all.get(r).cloned().ok_or_else(|| Error::Malformed {
                what: "models/claims_assessor.expected.json",
                detail: format!("held-out row {r} of {} claims", all.len()),
            })
        })
        .collect()
}

/// What the assessor is asked: the features, the salt of their commitment, the amount
/// claimed and what is left of the policy's cover (wei).
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimInput {
    /// The model's input.
    pub features: ClaimFeatures,
    /// Salt of the input commitment (kept off-chain by the assessor).
    pub salt: [u8; 32],
    /// The amount claimed, wei.
    pub claimed: u128,
    /// The policy's remaining cover, wei.
    pub cover_left: u128,
}

impl ClaimInput {
    /// `SHA-256(salt ‖ canonical features JSON)`: the input commitment posted on-chain and in
    /// the audit entry.
    pub fn commitment(&self) -> Hash {
        commit(&self.salt, self.features.canonical_json().as_bytes())
    }
}

/// The model's verdict on one claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Probability (basis points) that the claim is one to review (a long claim).
    pub fraud_bp: u16,
    /// Confidence (basis points): the probability of the predicted class.
    pub confidence_bp: u16,
    /// The claimed amount capped by the remaining cover, wei.
    pub amount: u128,
    /// SHA-256 of the model that ran.
    pub model: Hash,
    /// The input commitment.
    pub input: Hash,
}

/// The pinned claims model, loaded once.
#[derive(Debug)]
pub struct ClaimsAssessor {
    model: OnnxModel,
}

fn to_bp(p: f32) -> u16 {
    (f64::from(p).clamp(0.0, 1.0) * 10_000.0).round() as u16
}

impl ClaimsAssessor {
    /// The shipped model, checked against [`CLAIMS_MODEL_SHA256`].
    pub fn shipped() -> Result<Self> {
        let pinned = hex::decode(CLAIMS_MODEL_SHA256).unwrap_or_default();
        Self::from_bytes(CLAIMS_MODEL, &pinned)
    }

    /// Loads a model from its bytes if its SHA-256 is `pinned` and it takes the claim
    /// features.
    pub fn from_bytes(bytes: &[u8], pinned: &[u8]) -> Result<Self> {
        let found: [u8; 32] = Sha256::digest(bytes).into();
        if found[..] != *pinned {
            return Err(Error::Invalid {
                what: "claims model",
                detail: format!(
                    "its SHA-256 is {}, the policy pins {}: load the pinned model",
                    hex::encode(found),
                    hex::encode(pinned)
                ),
            });
        }
        let model = OnnxModel::from_bytes(bytes).map_err(|e| Error::Model(Box::new(e)))?;
        if model.input_width() != FEATURES.len() {
            return Err(Error::Invalid {
                what: "claims model",
                detail: format!(
                    "it takes {} features, a claim has {}",
                    model.input_width(),
                    FEATURES.len()
                ),
            });
        }
        Ok(Self { model })
    }

    /// SHA-256 of the model.
    pub fn model_hash(&self) -> Hash {
        Hash(self.model.hash())
    }

    /// The probabilities of each row being a long claim (column 1 of the output).
    pub fn probabilities(&self, rows: &[Vec<f32>]) -> Result<Vec<[f32; 2]>> {
        let out = self.model.predict(rows).map_err(|e| Error::Model(Box::new(e)))?;
        out.iter()
            .map(|p| match p.probabilities[..] {
                [a, b] => Ok([a, b]),
                _ => Err(Error::Malformed {
                    what: "claims model output",
                    detail: format!("{} probabilities, expected 2", p.probabilities.len()),
                }),
            })
            .collect()
    }

    /// Assesses one claim.
    pub fn assess(&self, claim: &ClaimInput) -> Result<Assessment> {
        Ok(self.assess_many(std::slice::from_ref(claim))?.remove(0))
    }

    /// Assesses claims in one batch of the model.
    pub fn assess_many(&self, claims: &[ClaimInput]) -> Result<Vec<Assessment>> {
        let rows: Vec<Vec<f32>> = claims.iter().map(|c| c.features.0.to_vec()).collect();
        let model = self.model_hash();
        Ok(self
            .probabilities(&rows)?
            .into_iter()
            .zip(claims)
            .map(|([p0, p1], c)| Assessment {
                fraud_bp: to_bp(p1),
                confidence_bp: to_bp(p0.max(p1)),
                amount: c.claimed.min(c.cover_left),
                model,
                input: c.commitment(),
            })
            .collect())
    }

    /// Re-runs a recorded assessment: `input` must open the entry's commitment, the entry
    /// must name this model, and the model must give the same scores and amount.
    pub fn rerun(&self, entry: &ClaimAssessment, input: &ClaimInput) -> Result<Assessment> {
        let refuse = |detail: String| Err(Error::Invalid { what: "claim assessment", detail });
        if entry.model != self.model_hash() {
            return refuse(format!(
                "the entry names model {}, this is {}: load the model it names",
                entry.model,
                self.model_hash()
            ));
        }
        if input.commitment() != entry.input {
            return refuse(format!(
                "the input does not open the entry's commitment {} (wrong features or salt)",
                entry.input
            ));
        }
        let a = self.assess(input)?;
        let recorded = (entry.fraud_bp, entry.confidence_bp, entry.amount);
        let now = (u32::from(a.fraud_bp), u32::from(a.confidence_bp), a.amount);
        if recorded != now {
            return refuse(format!(
                "the entry records (fraud, confidence, amount) = {recorded:?}, the model gives \
                 {now:?}"
            ));
        }
        Ok(a)
    }
}

/// Why `ClaimsInsurance` sent a claim to review (the contract's `ReviewReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// The fraud probability is at or above `maxFraudBp`.
    Fraud,
    /// The confidence is below `minConfidenceBp`.
    Confidence,
    /// The amount is zero or above `autoMaxAmount`.
    Amount,
    /// The day's automatic approvals would exceed `dailyAutoCap`.
    DailyCap,
    /// Someone challenged the approval.
    Challenge,
}

impl ReviewReason {
    /// The reason with the contract's number, if this version knows it.
    pub fn from_number(v: u8) -> Option<Self> {
        [Self::Fraud, Self::Confidence, Self::Amount, Self::DailyCap, Self::Challenge]
            .get(usize::from(v))
            .copied()
    }

    /// Name as the audit entry's decision carries it (`review_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fraud => "fraud",
            Self::Confidence => "confidence",
            Self::Amount => "amount",
            Self::DailyCap => "daily_cap",
            Self::Challenge => "challenge",
        }
    }
}

/// What the contract did with an assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approved automatically; paid after the challenge window.
    AutoApproved,
    /// Sent to a reviewer.
    Review(ReviewReason),
}

impl Decision {
    /// The decision as the audit entry records it: `auto_approved` or `review_<reason>`.
    pub fn name(self) -> String {
        match self {
            Decision::AutoApproved => "auto_approved".into(),
            Decision::Review(r) => format!("review_{}", r.name()),
        }
    }
}

/// 1 ETH in wei.
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The rules `alara demo claims` deploys and the API quotes by: a bond of 0.01 ETH,
/// automatic approval up to 0.1 ETH and 2 ETH a day, a day to challenge, a fraud score
/// under 15% and a confidence of at least 90%.
pub const DEMO_RULES: Rules = Rules {
    claim_bond: ETHER / 100,
    auto_max_amount: ETHER / 10,
    daily_auto_cap: 2 * ETHER,
    challenge_window: 86_400,
    max_fraud_bp: 1500,
    min_confidence_bp: 9000,
};

/// The sum insured of the demo's policies: 3 ETH.
pub const DEMO_SUM_INSURED: u128 = 3 * ETHER;

/// The rules of `ClaimsInsurance` (the constructor's `Rules`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// The claim (and challenge) bond, wei.
    pub claim_bond: u128,
    /// The largest automatically approved amount, wei.
    pub auto_max_amount: u128,
    /// The most approved automatically in one day, wei.
    pub daily_auto_cap: u128,
    /// Seconds after an approval during which it can be challenged.
    pub challenge_window: u64,
    /// Fraud probabilities at or above this go to review.
    pub max_fraud_bp: u16,
    /// Confidences below this go to review.
    pub min_confidence_bp: u16,
}

impl Rules {
    /// The contract's decision on `a` when `used_today` wei were already approved
    /// automatically today (the same tests in the same order as `assess`).
    pub fn decide(&self, a: &Assessment, used_today: u128) -> Decision {
        use ReviewReason as R;
        if a.fraud_bp >= self.max_fraud_bp {
            Decision::Review(R::Fraud)
        } else if a.confidence_bp < self.min_confidence_bp {
            Decision::Review(R::Confidence)
        } else if a.amount == 0 || a.amount > self.auto_max_amount {
            Decision::Review(R::Amount)
        } else if used_today + a.amount > self.daily_auto_cap {
            Decision::Review(R::DailyCap)
        } else {
            Decision::AutoApproved
        }
    }

    /// The ABI form.
    pub fn abi(&self) -> ClaimsInsurance::Rules {
        ClaimsInsurance::Rules {
            claimBond: self.claim_bond,
            autoMaxAmount: self.auto_max_amount,
            dailyAutoCap: self.daily_auto_cap,
            challengeWindow: self.challenge_window,
            maxFraudBp: self.max_fraud_bp,
            minConfidenceBp: self.min_confidence_bp,
        }
    }
}

impl Assessment {
    /// The audit entry of this assessment of claim `claim_id` on policy `policy_id` of the
    /// pool at `pool` on chain `chain_id`.
    pub fn entry(
        &self,
        chain_id: u64,
        pool: alloy::primitives::Address,
        policy_id: u64,
        claim_id: u64,
        decision: Decision,
    ) -> ClaimAssessment {
        ClaimAssessment {
            policy: format!("{chain_id}/{pool}/{policy_id}"),
            claim: format!("{chain_id}/{pool}/claim/{claim_id}"),
            model: self.model,
            input: self.input,
            fraud_bp: u32::from(self.fraud_bp),
            confidence_bp: u32::from(self.confidence_bp),
            amount: self.amount,
            decision: decision.name(),
        }
    }
}

/// Posts `a` as the assessment of `claim_id` and reads the contract's decision from its
/// events. A refusal is [`Error::Contract`], naming the contract's error.
pub async fn post_assessment<P: Provider>(
    pool: &ClaimsInsuranceInstance<P>,
    claim_id: U256,
    a: &Assessment,
) -> Result<(TransactionReceipt, Decision)> {
    let call = pool.assess(
        claim_id,
        a.fraud_bp,
        a.confidence_bp,
        a.amount,
        B256::from(a.model.0),
        B256::from(a.input.0),
    );
    let r = send("assess", &call, DECODERS).await?;
    let at = *pool.address();
    if event_of::<ClaimsInsurance::Approved>(&r, at, "assess").is_ok() {
        return Ok((r, Decision::AutoApproved));
    }
    let ev = event_of::<ClaimsInsurance::ReviewRequired>(&r, at, "assess")?;
    let reason = ReviewReason::from_number(ev.reason).ok_or_else(|| Error::Malformed {
        what: "ReviewRequired event",
        detail: format!(
            "reason {}, this version knows 0 to 4: is the pool a ClaimsInsurance?",
            ev.reason
        ),
    })?;
    Ok((r, Decision::Review(reason)))
}

/// One piece of evidence as stored: the CID of its ciphertext and the SHA-256 of its
/// plaintext (which lets the assessor see the same document filed twice).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// CID of the encrypted file.
    pub cid: String,
    /// SHA-256 of the plaintext, hex.
    pub plaintext_sha256: String,
}

/// What a claim's evidence root commits to: where the claim is filed, by whom, and the
/// evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceManifest {
    /// Chain id.
    pub chain_id: u64,
    /// The pool contract.
    pub pool: String,
    /// The policy claimed on.
    pub policy: u64,
    /// The policyholder filing the claim.
    pub holder: String,
    /// The encrypted evidence.
    pub items: Vec<EvidenceItem>,
}

impl EvidenceManifest {
    /// SHA-256 of the manifest's JSON: the `evidenceRoot` filed on-chain.
    pub fn root(&self) -> B256 {
        B256::from(<[u8; 32]>::from(Sha256::digest(serde_json::to_vec(self).unwrap_or_default())))
    }

    /// Whether this manifest is the evidence of a claim on `policy` by `holder` at `pool`:
    /// the check that refuses an evidence root copied onto another policy.
    pub fn binds(
        &self,
        chain_id: u64,
        pool: alloy::primitives::Address,
        policy: u64,
        holder: alloy::primitives::Address,
    ) -> bool {
        self.chain_id == chain_id
            && self.pool == pool.to_string()
            && self.policy == policy
            && self.holder == holder.to_string()
    }

    /// Whether two manifests share a document (the same plaintext filed twice).
    pub fn shares_evidence_with(&self, other: &EvidenceManifest) -> bool {
        self.items
            .iter()
            .any(|a| other.items.iter().any(|b| a.plaintext_sha256 == b.plaintext_sha256))
    }
}

/// Encrypts each document to `assessor` and stores it; returns the manifest of a claim on
/// `policy` by `holder` at `pool`.
pub fn seal_evidence<B: Blockstore>(
    store: &Store<B>,
    assessor: &Recipient,
    documents: &[&[u8]],
    chain_id: u64,
    pool: alloy::primitives::Address,
    policy: u64,
    holder: alloy::primitives::Address,
) -> Result<EvidenceManifest> {
    let items = documents
        .iter()
        .map(|doc| {
            let sealed = store
                .add_encrypted(std::slice::from_ref(assessor), *doc, &AddOptions::v1())
                .map_err(|e| Error::Store(Box::new(e)))?;
            Ok(EvidenceItem {
                cid: sealed.ciphertext.cid.to_string(),
                plaintext_sha256: sealed.plaintext_sha256,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EvidenceManifest {
        chain_id,
        pool: pool.to_string(),
        policy,
        holder: holder.to_string(),
        items,
    })
}

/// Reads and decrypts one piece of evidence with the assessor's identity.
pub fn open_evidence<B: Blockstore>(
    store: &Store<B>,
    identity: &alara_store::Identity,
    item: &EvidenceItem,
) -> Result<Vec<u8>> {
    let cid = alara_store::parse_cid(&item.cid).map_err(|e| Error::Store(Box::new(e)))?;
    let reader = store.cat(&cid).map_err(|e| Error::Store(Box::new(e)))?;
    let mut plain = Vec::new();
    alara_store::decrypt(identity, reader, &mut plain).map_err(|e| Error::Store(Box::new(e)))?;
    let found = hex::encode(Sha256::digest(&plain));
    if found != item.plaintext_sha256 {
        return Err(Error::Malformed {
            what: "evidence",
            detail: format!(
                "plaintext SHA-256 {found}, the manifest says {}",
                item.plaintext_sha256
            ),
        });
    }
    Ok(plain)
}

/// Claims assessed per second by tract, one claim a call and in batches; each assessment
/// includes its input commitment (the canonical JSON and its SHA-256), as in service.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Claims assessed, each way.
    pub claims: usize,
    /// Claims a batch.
    pub batch: usize,
    /// Claims per second, one a call ([`ClaimsAssessor::assess`]).
    pub single_per_s: f64,
    /// Claims per second in batches of `batch` ([`ClaimsAssessor::assess_many`]).
    pub batch_per_s: f64,
}

/// Measures [`Throughput`] on `claims` (cycled to `n` claims), in batches of `batch`.
pub fn bench_assess(
    assessor: &ClaimsAssessor,
    claims: &[ClaimInput],
    n: usize,
    batch: usize,
) -> Result<Throughput> {
    if claims.is_empty() || n == 0 || batch == 0 {
        return Err(Error::Invalid {
            what: "benchmark",
            detail: "needs at least one claim, n > 0 and batch > 0".into(),
        });
    }
    let inputs: Vec<ClaimInput> = claims.iter().cycle().take(n).cloned().collect();
    let t = Instant::now();
    for c in &inputs {
        std::hint::black_box(assessor.assess(c)?);
    }
    let single = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in inputs.chunks(batch) {
        std::hint::black_box(assessor.assess_many(chunk)?);
    }
    let batched = t.elapsed().as_secs_f64();
    Ok(Throughput {
        claims: n,
        batch,
        single_per_s: n as f64 / single.max(1e-9),
        batch_per_s: n as f64 / batched.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_has_every_claim_and_the_header_of_the_model() {
        let d = dataset().unwrap();
        assert_eq!(d.len(), 6822);
        assert_eq!(d.iter().filter(|c| c.label == 1).count(), 367);
        let m = ClaimsAssessor::shipped().unwrap();
        let names = m.model.feature_names().unwrap();
        assert_eq!(names, FEATURES.map(String::from));
    }

    #[test]
    fn canonical_json_is_ordered_and_shortest() {
        let mut v = [0f32; 19];
        v[0] = 26.0;
        v[CLAIMED_USD] = 1187.5732;
        let j = ClaimFeatures(v).canonical_json();
        assert!(j.starts_with("{\"age\":26.0,\"male\":0.0,"), "{j}");
        assert!(j.contains("\"claimed_usd\":1187.5732,"), "{j}");
        assert!(j.ends_with("\"after_benefit_change\":0.0}"), "{j}");
        let back: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&j).unwrap();
        assert_eq!(back.len(), 19);
    }

    #[test]
    fn a_model_that_is_not_the_pinned_one_is_refused() {
        let mut other = CLAIMS_MODEL.to_vec();
        other.push(0);
        let pinned = hex::decode(CLAIMS_MODEL_SHA256).unwrap();
        let e = ClaimsAssessor::from_bytes(&other, &pinned).unwrap_err();
        assert!(e.to_string().contains("the policy pins"), "{e}");
    }

    #[test]
    fn decide_follows_the_contracts_order() {
        let rules = Rules {
            claim_bond: 1,
            auto_max_amount: 100,
            daily_auto_cap: 150,
            challenge_window: 60,
            max_fraud_bp: 1500,
            min_confidence_bp: 9000,
        };
        let a = |fraud_bp, confidence_bp, amount| Assessment {
            fraud_bp,
            confidence_bp,
            amount,
            model: Hash::ZERO,
            input: Hash::ZERO,
        };
        use ReviewReason as R;
        assert_eq!(rules.decide(&a(100, 9900, 100), 0), Decision::AutoApproved);
        assert_eq!(rules.decide(&a(1500, 9900, 100), 0), Decision::Review(R::Fraud));
        assert_eq!(rules.decide(&a(100, 8999, 100), 0), Decision::Review(R::Confidence));
        assert_eq!(rules.decide(&a(100, 9900, 101), 0), Decision::Review(R::Amount));
        assert_eq!(rules.decide(&a(100, 9900, 0), 0), Decision::Review(R::Amount));
        assert_eq!(rules.decide(&a(100, 9900, 100), 51), Decision::Review(R::DailyCap));
        assert_eq!(Decision::Review(R::DailyCap).name(), "review_daily_cap");
    }
}
