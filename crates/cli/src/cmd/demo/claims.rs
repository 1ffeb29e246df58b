//! `alara demo claims`: AI-assessed claims insurance on the chain of `--rpc-url` (the data
//! directory's node, or its chain opened in this process), with real workers' compensation
//! claims that the shipped model never saw in training (`datasets/claims.csv`, held out).
//!
//! A `ClaimsInsurance` pool is deployed and funded, with one product pinned to the SHA-256
//! of `models/claims_assessor.onnx`, an assessor key (the AI service) and a reviewer key.
//! Three workers buy cover and file a claim each, with a bond: the description as a salted
//! commitment and the evidence encrypted to the assessor in the content store, only its
//! manifest's hash on-chain. The model assesses each claim with tract; the contract decides:
//! a small, low-risk claim is approved automatically, a large one goes to the reviewer, who
//! approves it, and one the model scores as likely fraud goes to the reviewer, who rejects
//! it, forfeiting its bond. The same claim filed twice is refused. After the challenge
//! window (a dev chain's `evm_increaseTime`), approved claims are finalized and withdrawn.
//! Every assessment (`claim_assessment`, with the model hash and the input commitment) and
//! every payout is an entry in the demo's audit log.

use alara_contracts::call::{event_of, send};
use alara_contracts::ClaimsInsurance;
use alara_oracle::claims::{
    held_out, post_assessment, seal_evidence, Assessment, ClaimInput, ClaimsAssessor, DatasetClaim,
    Decision, Rules, CLAIMED_USD, DECODERS,
};
use alloy::primitives::{keccak256, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use eyre::WrapErr;
use serde::Serialize;

use crate::context::Context;

const DAY: u64 = 86_400;
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The demo's audit trail passphrase (public: the trail is a demonstration).
pub const DEMO_PASSPHRASE: &str = "alara-demo-claims";

/// Where the demo records its decisions: `<data-dir>/claims-demo/audit`.
pub fn demo_trail_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("claims-demo").join("audit")
}

/// Arguments of `alara demo claims`. It moves the chain's clock forward by one day (the
/// challenge window) with a dev chain's `evm_increaseTime`.
#[derive(clap::Args, Debug)]
pub struct Args {}

const RULES: Rules = alara_oracle::claims::DEMO_RULES;
const SUM_INSURED: u128 = alara_oracle::claims::DEMO_SUM_INSURED;
const PREMIUM: u128 = ETHER / 10;

#[derive(Serialize)]
struct ClaimReport {
    worker: String,
    kind: &'static str,
    dataset_row: usize,
    claimed_usd: f64,
    claimed_wei: String,
    policy: u64,
    claim: u64,
    fraud_bp: u16,
    confidence_bp: u16,
    decision: String,
    outcome: String,
    paid_wei: String,
    gas_file_claim: u64,
    gas_assess: u64,
    gas_finalize: Option<u64>,
}

#[derive(Serialize)]
struct Summary {
    audit_dir: String,
    pool: String,
    chain_id: u64,
    model_sha256: String,
    claims: Vec<ClaimReport>,
    duplicate: String,
    audit_entries: Vec<String>,
    pool_left_wei: String,
}

fn key(what: &str) -> eyre::Result<PrivateKeySigner> {
    super::demo_key(&format!("claims {what}"))
}

/// The first held-out claim the model assesses as `want` asks.
fn pick(
    claims: &[(DatasetClaim, Assessment)],
    want: impl Fn(&Assessment) -> bool,
) -> eyre::Result<&DatasetClaim> {
    claims
        .iter()
        .find(|(_, a)| want(a))
        .map(|(c, _)| c)
        .ok_or_else(|| eyre::eyre!("no held-out claim of the kind the demo needs"))
}

/// Runs `alara demo claims`.
pub async fn run(ctx: &Context, _args: Args) -> eyre::Result<()> {
    let conn = ctx.connect().await?;
    let p = conn.provider.clone();
    let owner = conn.signer;
    let audit_dir = demo_trail_dir(&ctx.data_dir);
    let mut config = alara_audit::TrailConfig::new(&audit_dir, DEMO_PASSPHRASE);
    config.key_work_factor = 10;
    let trail = alara_audit::AuditTrail::open(config).wrap_err("opening the demo's audit trail")?;
    let store = alara_store::Store::open(ctx.data_dir.join("claims-demo").join("store"))
        .wrap_err("opening the demo's evidence store")?;
    // The AI service's key for evidence; a fresh one each run (the demo keeps no secrets).
    let evidence_key = alara_store::encrypt::generate_identity();

    // The model, loaded only because its hash is the pinned one.
    let assessor = ClaimsAssessor::shipped()?;
    let model = assessor.model_hash();
    let held_out = held_out()?;
    let scored: Vec<(DatasetClaim, Assessment)> = {
        let inputs: Vec<ClaimInput> = held_out
            .iter()
            .map(|c| ClaimInput {
                features: c.features.clone(),
                salt: [0; 32],
                claimed: c.features.claimed_wei(),
                cover_left: SUM_INSURED,
            })
            .collect();
        held_out.iter().cloned().zip(assessor.assess_many(&inputs)?).collect()
    };
    let honest = pick(&scored, |a| {
        a.fraud_bp < 500
            && a.confidence_bp >= 9500
            && a.amount > ETHER / 50
            && a.amount <= ETHER / 10
    })?;
    let large =
        pick(&scored, |a| a.fraud_bp < 500 && a.amount > ETHER / 5 && a.amount < ETHER * 9 / 10)?;
    let risky = pick(&scored, |a| a.fraud_bp >= 5000 && a.amount < 2 * ETHER)?;

    let pool = ClaimsInsurance::deploy(p.clone(), owner, RULES.abi())
        .await
        .wrap_err("deploying ClaimsInsurance")?;
    let at = *pool.address();
    send("fund", &pool.fund().value(U256::from(10 * ETHER)), DECODERS).await?;
    let ai = key("assessor")?;
    let reviewer = key("reviewer")?;
    send("setAssessor", &pool.setAssessor(ai.address(), true), DECODERS).await?;
    send("setReviewer", &pool.setReviewer(reviewer.address(), true), DECODERS).await?;
    let offer = pool.offer(SUM_INSURED, PREMIUM, 365 * DAY, B256::from(model.0));
    let product = offer.call().await?;
    send("offer", &offer, DECODERS).await?;
    let workers: Vec<PrivateKeySigner> =
        (0..3).map(|i| key(&format!("worker {i}"))).collect::<eyre::Result<_>>()?;
    for k in workers.iter().chain([&ai, &reviewer]) {
        let gas_money = U256::from(ETHER);
        super::fund_if_below(&p, k.address(), gas_money, gas_money).await?;
    }
    let as_ = |k: &PrivateKeySigner| -> eyre::Result<_> {
        Ok(ClaimsInsurance::new(at, alara_chain::client::provider_for(&conn.url, k.clone())?))
    };
    let (as_ai, as_reviewer) = (as_(&ai)?, as_(&reviewer)?);

    let mut reports = Vec::new();
    let mut approved = Vec::new();
    let mut duplicate = String::new();
    for (i, (kind, claim)) in
        [("honest, small", honest), ("large", large), ("fraud-looking", risky)]
            .into_iter()
            .enumerate()
    {
        let worker = &workers[i];
        let as_worker = as_(worker)?;
        let r = send("buy", &as_worker.buy(product).value(U256::from(PREMIUM)), DECODERS).await?;
        let policy = event_of::<ClaimsInsurance::Bought>(&r, at, "buy")?.policyId;
        // A claim in the block of the purchase is refused; this one comes a block later.
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;

        let report = format!(
            "workers' compensation claim, held-out row {}: {}",
            claim.row,
            claim.features.canonical_json()
        );
        let manifest = seal_evidence(
            &store,
            &evidence_key.to_public(),
            &[report.as_bytes()],
            conn.chain_id,
            at,
            policy.to(),
            worker.address(),
        )?;
        let salt = *keccak256(format!("claims demo {} {}", at, claim.row));
        let description = alara_audit::entry::commit(&salt, b"injured at work; see the evidence");
        let input = ClaimInput {
            features: claim.features.clone(),
            salt,
            claimed: claim.features.claimed_wei(),
            cover_left: SUM_INSURED,
        };
        let file = as_worker
            .fileClaim(policy, input.claimed, B256::from(description.0), manifest.root())
            .value(U256::from(RULES.claim_bond));
        let filed = send("fileClaim", &file, DECODERS).await?;
        let claim_id = event_of::<ClaimsInsurance::ClaimFiled>(&filed, at, "fileClaim")?.claimId;
        if i == 0 {
            // The same claim again, while the first is open.
            duplicate = match send("fileClaim", &file, DECODERS).await {
                Ok(_) => eyre::bail!("a duplicate claim was accepted"),
                Err(e) => e.revert_name().unwrap_or("reverted").to_string(),
            };
        }

        let a = assessor.assess(&input)?;
        let (assessed, decision) = post_assessment(&as_ai, claim_id, &a).await?;
        let entry = a.entry(conn.chain_id, at, policy.to(), claim_id.to(), decision);
        // Anyone holding the input can re-run the decision from the entry.
        assessor.rerun(&entry, &input)?;
        trail.append(&alara_audit::entry::Entry::now(
            alara_audit::entry::EntryBody::ClaimAssessment(entry),
        ))?;
        let outcome = match decision {
            Decision::AutoApproved => {
                approved.push((i, claim_id, policy));
                "approved by the model; paid after the challenge window".to_string()
            }
            Decision::Review(_) if a.fraud_bp >= RULES.max_fraud_bp => {
                send("review", &as_reviewer.review(claim_id, false, 0), DECODERS).await?;
                "rejected by the reviewer; the bond goes to the pool".to_string()
            }
            Decision::Review(_) => {
                send("review", &as_reviewer.review(claim_id, true, a.amount), DECODERS).await?;
                approved.push((i, claim_id, policy));
                "approved by the reviewer; paid after the challenge window".to_string()
            }
        };
        reports.push(ClaimReport {
            worker: worker.address().to_string(),
            kind,
            dataset_row: claim.row,
            claimed_usd: f64::from(claim.features.0[CLAIMED_USD]),
            claimed_wei: input.claimed.to_string(),
            policy: policy.to(),
            claim: claim_id.to(),
            fraud_bp: a.fraud_bp,
            confidence_bp: a.confidence_bp,
            decision: decision.name(),
            outcome,
            paid_wei: "0".into(),
            gas_file_claim: filed.gas_used,
            gas_assess: assessed.gas_used,
            gas_finalize: None,
        });
    }

    super::warp(&p, RULES.challenge_window, "claims").await?;
    for (i, claim_id, _policy) in approved {
        let fin = send("finalize", &pool.finalize(claim_id), DECODERS).await?;
        let paid = event_of::<ClaimsInsurance::Paid>(&fin, at, "finalize")?;
        send("withdraw", &as_(&workers[i])?.withdraw(), DECODERS).await?;
        trail.append(&alara_audit::entry::Entry::now(alara_audit::entry::EntryBody::Payout(
            alara_audit::entry::Payout {
                context: format!("claims-insurance/{at}/claim/{claim_id}"),
                recipient: workers[i].address().to_string(),
                token: "ETH".into(),
                amount: paid.amount.to::<u128>(),
                tx: Some(alara_audit::Hash(fin.transaction_hash.0)),
            },
        )))?;
        reports[i].paid_wei = paid.amount.to_string();
        reports[i].gas_finalize = Some(fin.gas_used);
    }
    let entries = trail.query(&alara_audit::Query::default())?;
    let audit_entries = entries
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|r| match &r.entry.body {
            alara_audit::entry::EntryBody::ClaimAssessment(c) => format!(
                "claim_assessment {} {}: fraud {} bp, confidence {} bp, model {}…, input {}…",
                c.claim,
                c.decision,
                c.fraud_bp,
                c.confidence_bp,
                &c.model.to_string()[..10],
                &c.input.to_string()[..10]
            ),
            alara_audit::entry::EntryBody::Payout(x) => {
                format!("payout {} wei to {} ({})", x.amount, x.recipient, x.context)
            }
            other => other.kind_name().to_string(),
        })
        .collect();
    let left = p.get_balance(at).await?;
    let summary = Summary {
        audit_dir: audit_dir.display().to_string(),
        pool: at.to_string(),
        chain_id: conn.chain_id,
        model_sha256: model.to_string(),
        claims: reports,
        duplicate,
        audit_entries,
        pool_left_wei: left.to_string(),
    };
    ctx.emit(&summary, || print_summary(&summary))
}

fn eth(wei: &str) -> f64 {
    wei.parse::<f64>().unwrap_or(0.0) / 1e18
}

fn print_summary(s: &Summary) {
    println!("pool (ClaimsInsurance) {}, claims model sha256 {}", s.pool, s.model_sha256);
    println!(
        "{:<14} {:>5} {:>10} {:>7} {:>6}  {:<16} {:>10}  outcome",
        "claim", "row", "claimed $", "fraud", "conf", "decision", "paid ETH"
    );
    for c in &s.claims {
        println!(
            "{:<14} {:>5} {:>10.2} {:>6.1}% {:>5.1}%  {:<16} {:>10.4}  {}",
            c.kind,
            c.dataset_row,
            c.claimed_usd,
            f64::from(c.fraud_bp) / 100.0,
            f64::from(c.confidence_bp) / 100.0,
            c.decision,
            eth(&c.paid_wei),
            c.outcome
        );
    }
    println!("the honest claim filed twice: reverted with {}", s.duplicate);
    let gas: Vec<String> = s
        .claims
        .iter()
        .map(|c| {
            format!(
                "{}: fileClaim {}, assess {}, finalize {}",
                c.kind,
                c.gas_file_claim,
                c.gas_assess,
                c.gas_finalize.map_or("-".into(), |g| g.to_string())
            )
        })
        .collect();
    println!("gas: {}", gas.join("; "));
    println!("audit log {}:", s.audit_dir);
    for e in &s.audit_entries {
        println!("  {e}");
    }
    println!("pool left: {:.4} ETH", eth(&s.pool_left_wei));
}
