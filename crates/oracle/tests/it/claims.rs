//! `ClaimsInsurance`, claims assessed by the shipped ONNX model (tract) on real workers'
//! compensation claims held out from training, on every backend: the honest path from
//! filing to withdrawal, review, challenge, the daily circuit breaker, bonds, and each
//! attack (front-running a claim, duplicate claims, a claim in the purchase block, an
//! unauthorized assessor, a model that is not the pinned one) by its named error. Off-chain:
//! tract agrees with onnxruntime on the held-out claims, the model is the pinned one, and an
//! audit entry re-runs to the same assessment.

use crate::clock::{advance, now};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolInterface;

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::call::{event_of, send, CallError};
use alara_contracts::ClaimsInsurance::{self, ClaimsInsuranceErrors, ClaimsInsuranceInstance};
use alara_contracts::SameBlockClaimer;
use alara_oracle::claims::{
    bench_assess, dataset, open_evidence, post_assessment, seal_evidence, Assessment,
    ClaimFeatures, ClaimInput, ClaimsAssessor, Decision, EvidenceManifest, ReviewReason, Rules,
    CLAIMS_MODEL_SHA256,
};

const DAY: u64 = 86_400;
const ETHER: u128 = 1_000_000_000_000_000_000;
const SUM_INSURED: u128 = 3 * ETHER;
const PREMIUM: u128 = ETHER / 10;
const TERM: u64 = 365 * DAY;
const OWNER: usize = 0;
const ASSESSOR: usize = 5;
const REVIEWER: usize = 6;
const ATTACKER: usize = 7;
const CHALLENGER: usize = 8;

const RULES: Rules = Rules {
    claim_bond: ETHER / 100,
    auto_max_amount: ETHER / 10,
    daily_auto_cap: ETHER,
    challenge_window: DAY,
    max_fraud_bp: 1500,
    min_confidence_bp: 9000,
};

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
}

fn dev(i: usize) -> Address {
    alara_chain::dev::dev_addresses()[i]
}

/// The named `ClaimsInsurance` error of a refused transaction.
fn named(e: &CallError) -> ClaimsInsuranceErrors {
    let data = e.revert_data().unwrap_or_else(|| panic!("not a revert: {e}"));
    ClaimsInsuranceErrors::abi_decode(data)
        .unwrap_or_else(|_| panic!("revert without a named ClaimsInsurance error: {e}"))
}

/// The contract's refusal inside an oracle error.
fn revert(e: alara_oracle::Error) -> CallError {
    match e {
        alara_oracle::Error::Contract(c) => c,
        other => panic!("not a contract refusal: {other}"),
    }
}

fn salt(i: u64) -> [u8; 32] {
    *alloy::primitives::keccak256(format!("claims test salt {i}"))
}

/// The held-out claims (never seen in training) with the shipped model's assessment.
struct HeldOut {
    assessor: ClaimsAssessor,
    claims: Vec<(usize, ClaimFeatures, Assessment)>,
}

impl HeldOut {
    fn load() -> HeldOut {
        let expected = expected();
        let rows: Vec<usize> = serde_json::from_value(expected["heldout_rows"].clone()).unwrap();
        let all = dataset().unwrap();
        let assessor = ClaimsAssessor::shipped().unwrap();
        let inputs: Vec<ClaimInput> = rows
            .iter()
            .map(|&r| ClaimInput {
                features: all[r].features.clone(),
                salt: salt(r as u64),
                claimed: all[r].features.claimed_wei(),
                cover_left: SUM_INSURED,
            })
            .collect();
        let assessed = assessor.assess_many(&inputs).unwrap();
        let claims =
            rows.iter().zip(inputs).zip(assessed).map(|((&r, i), a)| (r, i.features, a)).collect();
        HeldOut { assessor, claims }
    }

    /// The first held-out claim whose assessment satisfies `want`, skipping `skip` of them.
    fn pick(&self, skip: usize, want: impl Fn(&Assessment) -> bool) -> (usize, ClaimFeatures) {
        let (r, f, _) = self
            .claims
            .iter()
            .filter(|(_, _, a)| want(a))
            .nth(skip)
            .unwrap_or_else(|| panic!("no held-out claim of that kind"));
        (*r, f.clone())
    }

    /// An honest small claim: low risk, confident, within the automatic maximum.
    fn small(&self, skip: usize) -> (usize, ClaimFeatures) {
        self.pick(skip, |a| {
            a.fraud_bp < 500
                && a.confidence_bp >= 9500
                && a.amount > ETHER / 50
                && a.amount <= ETHER / 10
        })
    }

    /// A low-risk claim above the automatic maximum (within the sum insured).
    fn large(&self) -> (usize, ClaimFeatures) {
        self.pick(0, |a| a.fraud_bp < 500 && a.amount > ETHER / 5 && a.amount < ETHER * 9 / 10)
    }

    /// A claim the model scores as a likely long claim.
    fn risky(&self) -> (usize, ClaimFeatures) {
        self.pick(0, |a| a.fraud_bp >= 5000 && a.amount < 2 * ETHER)
    }
}

fn expected() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/claims_assessor.expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A deployed, funded pool with an assessor and a reviewer and one product pinned to the
/// shipped model.
struct Pool {
    c: ClaimsInsuranceInstance<DynProvider>,
    product: U256,
    chain_id: u64,
}

impl Pool {
    async fn deploy(chain: &TestChain, capital: u128, rules: Rules) -> Pool {
        let p0 = chain.provider(OWNER);
        let c = ClaimsInsurance::deploy(p0, dev(OWNER), rules.abi()).await.unwrap();
        send("fund", &c.fund().value(U256::from(capital)), &[]).await.unwrap();
        send("setAssessor", &c.setAssessor(dev(ASSESSOR), true), &[]).await.unwrap();
        send("setReviewer", &c.setReviewer(dev(REVIEWER), true), &[]).await.unwrap();
        let model = B256::from_slice(&hex::decode(CLAIMS_MODEL_SHA256).unwrap());
        let offer = c.offer(SUM_INSURED, PREMIUM, TERM, model);
        let product = offer.call().await.unwrap();
        send("offer", &offer, &[]).await.unwrap();
        Pool { c, product, chain_id: chain.chain_id() }
    }

    fn addr(&self) -> Address {
        *self.c.address()
    }

    fn as_(&self, p: &DynProvider) -> ClaimsInsuranceInstance<DynProvider> {
        ClaimsInsurance::new(self.addr(), p.clone())
    }

    async fn buy(&self, p: &DynProvider) -> Result<U256, CallError> {
        let c = self.as_(p);
        let call = c.buy(self.product).value(U256::from(PREMIUM));
        let r = send("buy", &call, &[]).await?;
        Ok(event_of::<ClaimsInsurance::Bought>(&r, self.addr(), "buy")?.policyId)
    }

    async fn file(
        &self,
        p: &DynProvider,
        policy: U256,
        amount: u128,
        description: B256,
        root: B256,
    ) -> Result<(U256, TransactionReceipt), CallError> {
        let c = self.as_(p);
        let call =
            c.fileClaim(policy, amount, description, root).value(U256::from(RULES.claim_bond));
        let r = send("fileClaim", &call, &[]).await?;
        Ok((event_of::<ClaimsInsurance::ClaimFiled>(&r, self.addr(), "fileClaim")?.claimId, r))
    }

    /// Buys a policy as account `holder`, lets a block pass (no claim in the purchase
    /// block), and files `row`'s claim on it with its evidence: the policy, the claim, the
    /// filing and the receipt.
    async fn buy_and_file(
        &self,
        chain: &TestChain,
        holder: usize,
        row: usize,
        features: &ClaimFeatures,
    ) -> (U256, U256, Filing, TransactionReceipt) {
        let p = chain.provider(holder);
        let policy = self.buy(&p).await.unwrap();
        chain.mine_blocks(1).await.unwrap();
        let f = filing(self, policy, dev(holder), row, features, SUM_INSURED);
        let (claim, r) =
            self.file(&p, policy, f.input.claimed, f.description, f.manifest.root()).await.unwrap();
        (policy, claim, f, r)
    }

    fn assessor(&self, chain: &TestChain) -> ClaimsInsuranceInstance<DynProvider> {
        self.as_(&chain.provider(ASSESSOR))
    }

    async fn review(
        &self,
        chain: &TestChain,
        claim: U256,
        approve: bool,
        amount: u128,
    ) -> Result<TransactionReceipt, CallError> {
        let c = self.as_(&chain.provider(REVIEWER));
        send("review", &c.review(claim, approve, amount), &[]).await
    }

    async fn finalize(&self, claim: U256) -> Result<TransactionReceipt, CallError> {
        send("finalize", &self.c.finalize(claim), &[]).await
    }

    async fn status(&self, claim: U256) -> u8 {
        self.c.claim(claim).call().await.unwrap().status
    }
}

/// `Status` of the contract.
const FILED: u8 = 1;
const REVIEW: u8 = 2;
const APPROVED: u8 = 3;
const PAID: u8 = 4;
const REJECTED: u8 = 5;

/// A claim as a claimant makes it: a description commitment and an evidence root over
/// encrypted documents in a fresh store.
struct Filing {
    description: B256,
    manifest: EvidenceManifest,
    input: ClaimInput,
    /// The evidence store (deleted on drop) and the assessor's key to it.
    store: tempfile::TempDir,
    identity: alara_store::Identity,
    /// The plaintexts, which must never reach the chain.
    report: String,
    description_text: String,
}

fn filing(
    pool: &Pool,
    policy: U256,
    holder: Address,
    row: usize,
    features: &ClaimFeatures,
    cover_left: u128,
) -> Filing {
    let store_dir = tempfile::tempdir().unwrap();
    let store = alara_store::Store::open(store_dir.path()).unwrap();
    let identity = alara_store::encrypt::generate_identity();
    let report = format!("medical report of claim row {row}: {}", features.canonical_json());
    let manifest = seal_evidence(
        &store,
        &identity.to_public(),
        &[report.as_bytes()],
        pool.chain_id,
        pool.addr(),
        policy.to::<u64>(),
        holder,
    )
    .unwrap();
    let description_text = format!("Back injury at work, claim row {row}");
    let description = B256::from(
        alara_audit::entry::commit(&salt(1000 + row as u64), description_text.as_bytes()).0,
    );
    let input = ClaimInput {
        features: features.clone(),
        salt: salt(row as u64),
        claimed: features.claimed_wei(),
        cover_left,
    };
    drop(store);
    Filing { description, manifest, input, store: store_dir, identity, report, description_text }
}

/// tract's probabilities on every held-out claim agree with onnxruntime's within 1e-5, the
/// labels are the same, the held-out AUC is the one documented, and the model is the
/// pinned one.
#[test]
fn tract_agrees_with_onnxruntime_on_held_out_claims_and_the_model_is_pinned() {
    let e = expected();
    assert_eq!(e["sha256"], CLAIMS_MODEL_SHA256);
    let assessor = ClaimsAssessor::shipped().unwrap();
    assert_eq!(assessor.model_hash().to_string().trim_start_matches("0x"), CLAIMS_MODEL_SHA256);
    let rows: Vec<usize> = serde_json::from_value(e["heldout_rows"].clone()).unwrap();
    let want: Vec<[f32; 2]> = serde_json::from_value(e["probabilities"].clone()).unwrap();
    let labels: Vec<u8> = serde_json::from_value(e["heldout_labels"].clone()).unwrap();
    let all = dataset().unwrap();
    let x: Vec<Vec<f32>> = rows.iter().map(|&r| all[r].features.0.to_vec()).collect();
    let got = assessor.probabilities(&x).unwrap();
    let mut worst = 0f32;
    for (g, w) in got.iter().zip(&want) {
        worst = worst.max((g[0] - w[0]).abs()).max((g[1] - w[1]).abs());
    }
    assert!(worst <= 1e-5, "tract and onnxruntime differ by {worst}");
    let want_labels: Vec<i64> = serde_json::from_value(e["labels"].clone()).unwrap();
    let got_labels: Vec<i64> = got.iter().map(|p| i64::from(p[1] > p[0])).collect();
    assert_eq!(got_labels, want_labels);
    assert_eq!(got.len(), 1706);
    // AUC by the rank-sum formula on tract's scores.
    let mut scored: Vec<(f32, u8)> = got.iter().map(|p| p[1]).zip(labels.iter().copied()).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0f64, 0usize);
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum += scored[i..j].iter().filter(|s| s.1 == 1).count() as f64 * mid;
        i = j;
    }
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let neg = labels.len() as f64 - pos;
    let auc = (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg);
    let documented = e["heldout_auc"].as_f64().unwrap();
    assert!((auc - documented).abs() < 1e-4, "held-out AUC {auc}, documented {documented}");
    println!(
        "tract vs onnxruntime: max |Δp| {worst:e} on {} claims; held-out AUC {auc:.4}",
        got.len()
    );
}

/// An audit entry re-runs: its input commitment opens with the features and salt, and the
/// model it names gives the same assessment; a wrong salt or other features are refused.
#[test]
fn an_audit_entry_re_runs_to_the_same_assessment() {
    let h = HeldOut::load();
    let (row, features) = h.risky();
    let input = ClaimInput {
        features: features.clone(),
        salt: salt(row as u64),
        claimed: features.claimed_wei(),
        cover_left: SUM_INSURED,
    };
    let a = h.assessor.assess(&input).unwrap();
    assert_eq!(a, h.assessor.assess_many(std::slice::from_ref(&input)).unwrap()[0]);
    let entry = a.entry(31337, Address::repeat_byte(1), 2, 3, RULES.decide(&a, 0));
    assert_eq!(entry.decision, "review_fraud");
    // Through the canonical encoding, as the log keeps it.
    let logged = alara_audit::entry::Entry {
        time_ms: 1,
        body: alara_audit::entry::EntryBody::ClaimAssessment(entry),
    };
    let back = alara_audit::entry::Entry::decode(&logged.encode()).unwrap();
    let alara_audit::entry::EntryBody::ClaimAssessment(entry) = back.body else { panic!() };
    assert_eq!(h.assessor.rerun(&entry, &input).unwrap(), a);

    let wrong_salt = ClaimInput { salt: salt(99_999), ..input.clone() };
    let e = h.assessor.rerun(&entry, &wrong_salt).unwrap_err();
    assert!(e.to_string().contains("does not open"), "{e}");
    let mut other = input.clone();
    other.features.0[0] += 1.0;
    assert!(h.assessor.rerun(&entry, &other).is_err());
    let mut forged = entry.clone();
    forged.fraud_bp = 10;
    let e = h.assessor.rerun(&forged, &input).unwrap_err();
    assert!(e.to_string().contains("the model gives"), "{e}");
    let mut other_model = entry;
    other_model.model = alara_audit::Hash([7; 32]);
    assert!(h
        .assessor
        .rerun(&other_model, &input)
        .unwrap_err()
        .to_string()
        .contains("names model"));
}

/// Claims assessed per second by tract, one a call and in batches of 64 (printed; machines
/// here are noisy, so nothing is asserted about speed).
#[test]
fn claims_assessed_per_second() {
    let h = HeldOut::load();
    let inputs: Vec<ClaimInput> = h
        .claims
        .iter()
        .map(|(r, f, _)| ClaimInput {
            features: f.clone(),
            salt: salt(*r as u64),
            claimed: f.claimed_wei(),
            cover_left: SUM_INSURED,
        })
        .collect();
    let t = bench_assess(&h.assessor, &inputs, 2000, 64).unwrap();
    println!(
        "claims assessed per second (tract, debug build unless --release): single {:.0}/s, batch of {} {:.0}/s",
        t.single_per_s, t.batch, t.batch_per_s
    );
    assert!(t.single_per_s > 0.0 && t.batch_per_s > 0.0);
}

/// An honest small claim from filing to withdrawal: the evidence encrypted in the store, the
/// assessment posted with the pinned model hash, automatic approval, no payout inside the
/// challenge window, payout and bond after it. Prints the gas of fileClaim, assess and
/// finalize.
#[tokio::test]
async fn an_honest_small_claim_is_approved_automatically_and_paid_after_the_window() {
    let h = HeldOut::load();
    let (row, features) = h.small(0);
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let p1 = chain.provider(1);
        let policy = pool.buy(&p1).await.unwrap();
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::from(SUM_INSURED));
        let pinned = pool.c.policy(policy).call().await.unwrap().modelHash;
        assert_eq!(hex::encode(pinned), CLAIMS_MODEL_SHA256);
        chain.mine_blocks(1).await.unwrap();

        let f = filing(&pool, policy, dev(1), row, &features, SUM_INSURED);
        let root = f.manifest.root();
        let (claim, filed) =
            pool.file(&p1, policy, f.input.claimed, f.description, root).await.unwrap();
        assert_eq!(pool.status(claim).await, FILED);
        assert_eq!(pool.c.totalBonds().call().await.unwrap(), U256::from(RULES.claim_bond));

        let stored = pool.c.claim(claim).call().await.unwrap();
        assert_eq!((stored.descriptionHash, stored.evidenceRoot), (f.description, root));

        // The assessor binds the evidence to the claim and assesses with the pinned model.
        assert!(f.manifest.binds(pool.chain_id, pool.addr(), policy.to(), dev(1)));
        let a = h.assessor.assess(&f.input).unwrap();
        assert_eq!(RULES.decide(&a, 0), Decision::AutoApproved);
        let (assessed, decision) =
            post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        assert_eq!(decision, Decision::AutoApproved, "[{backend}]");
        let ev = event_of::<ClaimsInsurance::Assessed>(&assessed, pool.addr(), "assess").unwrap();
        assert_eq!(ev.modelHash.0, a.model.0);
        assert_eq!(ev.inputCommitment.0, a.input.0);
        assert_eq!((ev.fraudBp, ev.confidenceBp), (a.fraud_bp, a.confidence_bp));
        let entry = a.entry(pool.chain_id, pool.addr(), policy.to(), claim.to(), decision);
        assert_eq!(h.assessor.rerun(&entry, &f.input).unwrap(), a);
        assert_eq!(pool.status(claim).await, APPROVED);

        // No money moves inside the challenge window.
        match named(&pool.finalize(claim).await.unwrap_err()) {
            ClaimsInsuranceErrors::ChallengeWindowOpen(x) => assert_eq!(x.claimId, claim),
            other => panic!("[{backend}] finalize in window: {other:?}"),
        }
        advance(&chain, DAY).await;
        let fin = pool.finalize(claim).await.unwrap();
        let paid = event_of::<ClaimsInsurance::Paid>(&fin, pool.addr(), "finalize").unwrap();
        assert_eq!((paid.claimId, paid.amount), (claim, U256::from(a.amount)));
        assert_eq!(pool.status(claim).await, PAID);
        let owed = U256::from(a.amount + RULES.claim_bond);
        assert_eq!(pool.c.owed(dev(1)).call().await.unwrap(), owed);
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::from(SUM_INSURED - a.amount));
        assert_eq!(pool.c.policy(policy).call().await.unwrap().paid, a.amount);

        let before = p1.get_balance(dev(1)).await.unwrap();
        let w = send("withdraw", &pool.as_(&p1).withdraw(), &[]).await.unwrap();
        let fee = U256::from(w.gas_used) * U256::from(w.effective_gas_price);
        assert_eq!(p1.get_balance(dev(1)).await.unwrap(), before + owed - fee, "[{backend}]");
        println!(
            "[{backend}] claim row {row}: ${:.2}, fraud {} bp, confidence {} bp; gas fileClaim {}, assess {}, finalize {}",
            features.0[alara_oracle::claims::CLAIMED_USD],
            a.fraud_bp,
            a.confidence_bp,
            filed.gas_used,
            assessed.gas_used,
            fin.gas_used
        );
        assert!(filed.gas_used < 250_000 && assessed.gas_used < 150_000 && fin.gas_used < 120_000);
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No personal data reaches the chain: the transactions of a claim's life (fileClaim,
/// assess, finalize) carry only amounts, scores and hashes, as do their events and the stored
/// claim; the description is a salted commitment, the evidence the root of a manifest of
/// ciphertexts; the store holds only ciphertext, which the assessor's key opens.
#[tokio::test]
async fn no_personal_data_reaches_the_chain() {
    let h = HeldOut::load();
    let (row, features) = h.small(0);
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let p1 = chain.provider(1);
        let (_, claim, f, filed) = pool.buy_and_file(&chain, 1, row, &features).await;
        let a = h.assessor.assess(&f.input).unwrap();
        let (assessed, _) = post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        advance(&chain, DAY).await;
        let finalized = pool.finalize(claim).await.unwrap();

        let json = f.input.features.canonical_json();
        let secrets: [&[u8]; 5] = [
            json.as_bytes(),
            f.report.as_bytes(),
            f.description_text.as_bytes(),
            b"Back injury",
            &f.input.salt,
        ];
        let words =
            [("fileClaim", &filed, 4), ("assess", &assessed, 6), ("finalize", &finalized, 1)];
        for (call, r, n) in words {
            let tx = p1.get_transaction_by_hash(r.transaction_hash).await.unwrap().unwrap();
            let input: Bytes = alloy::consensus::Transaction::input(&tx).clone();
            assert_eq!(input.len(), 4 + n * 32, "[{backend}] {call} is the selector and {n} words");
            let logs: Vec<u8> = r
                .inner
                .logs()
                .iter()
                .flat_map(|l| {
                    let topics = l.topics().iter().flat_map(|t| t.0);
                    l.data().data.iter().copied().chain(topics).collect::<Vec<u8>>()
                })
                .collect();
            for s in secrets {
                assert!(!contains(&input, s) && !contains(&logs, s), "[{backend}] {call}");
            }
        }
        let stored = pool.c.claim(claim).call().await.unwrap();
        let description_commitment =
            alara_audit::entry::commit(&salt(1000 + row as u64), f.description_text.as_bytes());
        assert_eq!(stored.descriptionHash.0, description_commitment.0);
        assert_eq!(stored.evidenceRoot, f.manifest.root());
        assert_eq!(stored.inputCommitment.0, f.input.commitment().0);

        // The store holds ciphertext only; the assessor's key opens it.
        let mut stack = vec![f.store.path().to_path_buf()];
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files += 1;
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(!contains(&bytes, b"medical report"), "{}", path.display());
                }
            }
        }
        assert!(files > 0, "the evidence is in the store");
        let store = alara_store::Store::open(f.store.path()).unwrap();
        let opened = open_evidence(&store, &f.identity, &f.manifest.items[0]).unwrap();
        assert_eq!(opened, f.report.as_bytes());
        let stranger = alara_store::encrypt::generate_identity();
        assert!(open_evidence(&store, &stranger, &f.manifest.items[0]).is_err());
    }
}

/// A claim above the automatic maximum goes to review; only a reviewer decides it, for at
/// most the claimed amount; the approval then waits out its window like any other.
#[tokio::test]
async fn a_claim_over_the_automatic_maximum_goes_to_review() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    let (row, features) = h.large();
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let (_, claim, f, _) = pool.buy_and_file(&chain, 2, row, &features).await;
        let a = h.assessor.assess(&f.input).unwrap();
        assert!(a.amount > RULES.auto_max_amount);
        let (_, decision) = post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        assert_eq!(decision, Decision::Review(ReviewReason::Amount), "[{backend}]");
        assert_eq!(pool.status(claim).await, REVIEW);
        // A second assessment of a claim already in review is refused.
        let e =
            post_assessment(&pool.assessor(&chain), claim, &a).await.map_err(revert).unwrap_err();
        assert!(matches!(named(&e), E::WrongStatus(_)), "[{backend}]");
        // Neither the claimant nor the assessor may review.
        for who in [2, ASSESSOR] {
            let c = pool.as_(&chain.provider(who));
            let e = send("review", &c.review(claim, true, a.amount), &[]).await.unwrap_err();
            assert!(matches!(named(&e), E::NotReviewer(_)), "[{backend}]");
        }
        match named(&pool.review(&chain, claim, true, a.amount + 1).await.unwrap_err()) {
            E::AssessedAboveClaim(x) => assert_eq!(x.claimed, U256::from(a.amount)),
            other => panic!("[{backend}] above claim: {other:?}"),
        }
        let settle = a.amount * 9 / 10;
        let r = pool.review(&chain, claim, true, settle).await.unwrap();
        let ev = event_of::<ClaimsInsurance::Approved>(&r, pool.addr(), "review").unwrap();
        assert!(!ev.automatic);
        assert_eq!(ev.amount, U256::from(settle));
        assert!(matches!(
            named(&pool.finalize(claim).await.unwrap_err()),
            E::ChallengeWindowOpen(_)
        ));
        advance(&chain, DAY).await;
        pool.finalize(claim).await.unwrap();
        assert_eq!(
            pool.c.owed(dev(2)).call().await.unwrap(),
            U256::from(settle + RULES.claim_bond)
        );
    }
}

/// A challenge inside the window sends an approved claim back to review and stops its
/// payout; a rejection then returns the challenger's bond and forfeits the claimant's. A
/// second challenge, and one after the window, are refused; a failed challenge's bond goes
/// to the pool.
#[tokio::test]
async fn a_challenge_within_the_window_stops_the_payout() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let pc = chain.provider(CHALLENGER);
        let bond = U256::from(RULES.claim_bond);
        let approve = |k: usize, holder: usize| {
            let (pool, chain, h) = (&pool, &chain, &h);
            async move {
                let (row, features) = h.small(k);
                let (_, claim, f, _) = pool.buy_and_file(chain, holder, row, &features).await;
                let a = h.assessor.assess(&f.input).unwrap();
                let (_, d) = post_assessment(&pool.assessor(chain), claim, &a).await.unwrap();
                assert_eq!(d, Decision::AutoApproved);
                (claim, a.amount)
            }
        };
        let (c0, _) = approve(0, 1).await;
        let (c1, _) = approve(1, 2).await;

        // Claim 0: challenged (a wrong bond first), so it cannot be finalized; rejected.
        let e = send("challenge", &pool.as_(&pc).challenge(c0).value(bond - U256::from(1)), &[])
            .await
            .unwrap_err();
        assert!(matches!(named(&e), E::WrongBond(_)), "[{backend}]");
        let r = send("challenge", &pool.as_(&pc).challenge(c0).value(bond), &[]).await.unwrap();
        let ev = event_of::<ClaimsInsurance::Challenged>(&r, pool.addr(), "challenge").unwrap();
        assert_eq!(ev.challenger, dev(CHALLENGER));
        assert_eq!(pool.status(c0).await, REVIEW);
        advance(&chain, DAY).await;
        match named(&pool.finalize(c0).await.unwrap_err()) {
            E::WrongStatus(x) => assert_eq!((x.status, x.expected), (REVIEW, APPROVED)),
            other => panic!("[{backend}] finalize challenged: {other:?}"),
        }
        let free = pool.c.freeCapital().call().await.unwrap();
        pool.review(&chain, c0, false, 0).await.unwrap();
        assert_eq!(pool.status(c0).await, REJECTED);
        assert_eq!(pool.c.owed(dev(CHALLENGER)).call().await.unwrap(), bond, "[{backend}]");
        assert_eq!(pool.c.owed(dev(1)).call().await.unwrap(), U256::ZERO);
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), free + bond, "forfeited");

        // Claim 1: its window has closed; no challenge, it is paid.
        let late = send("challenge", &pool.as_(&pc).challenge(c1).value(bond), &[]).await;
        match named(&late.unwrap_err()) {
            E::ChallengeWindowClosed(x) => assert_eq!(x.claimId, c1),
            other => panic!("[{backend}] late challenge: {other:?}"),
        }
        pool.finalize(c1).await.unwrap();
        assert_eq!(pool.status(c1).await, PAID);

        // Claim 2: challenged, and the reviewer approves it anyway: the challenge bond goes
        // to the pool, a second challenge is refused, and the payout waits a new window.
        let (c2, amount) = approve(2, 3).await;
        send("challenge", &pool.as_(&pc).challenge(c2).value(bond), &[]).await.unwrap();
        let free = pool.c.freeCapital().call().await.unwrap();
        pool.review(&chain, c2, true, amount).await.unwrap();
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), free + bond, "[{backend}]");
        let again = send("challenge", &pool.as_(&pc).challenge(c2).value(bond), &[]).await;
        assert!(matches!(named(&again.unwrap_err()), E::AlreadyChallenged(_)), "[{backend}]");
        assert!(matches!(named(&pool.finalize(c2).await.unwrap_err()), E::ChallengeWindowOpen(_)));
        advance(&chain, DAY).await;
        pool.finalize(c2).await.unwrap();
        assert_eq!(pool.c.owed(dev(3)).call().await.unwrap(), U256::from(amount) + bond);
    }
}

/// Only the assessor role posts assessments, only with the policy's pinned model hash, with
/// scores in basis points and never above the claimed amount.
#[tokio::test]
async fn an_unauthorized_assessor_or_an_unpinned_model_is_refused() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    let (row, features) = h.small(0);
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let (_, claim, f, _) = pool.buy_and_file(&chain, 1, row, &features).await;
        let a = h.assessor.assess(&f.input).unwrap();
        for who in [1, ATTACKER, REVIEWER, OWNER] {
            let e = post_assessment(&pool.as_(&chain.provider(who)), claim, &a)
                .await
                .map_err(revert)
                .unwrap_err();
            match named(&e) {
                E::NotAssessor(x) => assert_eq!(x.caller, dev(who)),
                other => panic!("[{backend}] assessor {who}: {other:?}"),
            }
        }
        let other_model = Assessment { model: alara_audit::Hash([9; 32]), ..a.clone() };
        match named(
            &post_assessment(&pool.assessor(&chain), claim, &other_model)
                .await
                .map_err(revert)
                .unwrap_err(),
        ) {
            E::ModelNotPinned(x) => assert_eq!(hex::encode(x.pinned), CLAIMS_MODEL_SHA256),
            other => panic!("[{backend}] unpinned: {other:?}"),
        }
        let over = Assessment { fraud_bp: 10_001, ..a.clone() };
        let e = post_assessment(&pool.assessor(&chain), claim, &over)
            .await
            .map_err(revert)
            .unwrap_err();
        assert!(matches!(named(&e), E::ScoreOutOfRange(_)), "[{backend}]");
        let more = Assessment { amount: a.amount + 1, ..a.clone() };
        let e = post_assessment(&pool.assessor(&chain), claim, &more)
            .await
            .map_err(revert)
            .unwrap_err();
        assert!(matches!(named(&e), E::AssessedAboveClaim(_)), "[{backend}]");
        // A revoked assessor is refused too.
        send("setAssessor", &pool.c.setAssessor(dev(ASSESSOR), false), &[]).await.unwrap();
        let e =
            post_assessment(&pool.assessor(&chain), claim, &a).await.map_err(revert).unwrap_err();
        assert!(matches!(named(&e), E::NotAssessor(_)), "[{backend}]");
        assert_eq!(pool.status(claim).await, FILED);
    }
}

/// The daily cap on automatic approvals trips: with a cap of 0.15 ether, claims approved
/// automatically stop at the cap and the next goes to review; the next day they pass again.
#[tokio::test]
async fn the_daily_cap_trips_the_circuit_breaker() {
    let h = HeldOut::load();
    for backend in backends() {
        let chain = start(backend).await;
        let rules = Rules { daily_auto_cap: ETHER * 15 / 100, ..RULES };
        let pool = Pool::deploy(&chain, 40 * ETHER, rules).await;
        let mut used = 0u128;
        let mut tripped = false;
        let mut day = now(&chain.provider(0)).await / DAY;
        for (k, holder) in [1usize, 2, 3, 4, 9, 1, 2, 3].into_iter().enumerate() {
            let (row, features) = h.small(k);
            let p = chain.provider(holder);
            let policy = pool.buy(&p).await.unwrap();
            chain.mine_blocks(1).await.unwrap();
            if now(&p).await / DAY != day {
                // The chain crossed midnight: the day's sum starts over.
                day = now(&p).await / DAY;
                used = 0;
            }
            let f = filing(&pool, policy, dev(holder), row, &features, SUM_INSURED);
            let (claim, _) = pool
                .file(&p, policy, f.input.claimed, f.description, f.manifest.root())
                .await
                .unwrap();
            let a = h.assessor.assess(&f.input).unwrap();
            let want = rules.decide(&a, used);
            let (_, got) = post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
            assert_eq!(got, want, "[{backend}] claim {k}");
            match got {
                Decision::AutoApproved => used += a.amount,
                Decision::Review(ReviewReason::DailyCap) => {
                    tripped = true;
                    let on_chain = pool.c.autoApproved(U256::from(day)).call().await.unwrap();
                    assert_eq!(on_chain, U256::from(used));
                    assert!(used + a.amount > rules.daily_auto_cap);
                    break;
                }
                other => panic!("[{backend}] claim {k}: {other:?}"),
            }
        }
        assert!(tripped, "[{backend}] the cap never tripped after {used} wei");
        // The next day, the same kind of claim is approved automatically again.
        advance(&chain, DAY).await;
        let (row, features) = h.small(10);
        let (_, claim, f, _) = pool.buy_and_file(&chain, 4, row, &features).await;
        let a = h.assessor.assess(&f.input).unwrap();
        let (_, got) = post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        assert_eq!(got, Decision::AutoApproved, "[{backend}] next day");
    }
}

/// A claim the model scores as likely fraud (a likely long claim) goes to review; its
/// rejection forfeits the bond to the pool, closes the claim, and the same evidence cannot
/// be filed again.
#[tokio::test]
async fn the_bond_is_forfeited_on_a_rejected_claim() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    let (row, features) = h.risky();
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let p3 = chain.provider(3);
        let policy = pool.buy(&p3).await.unwrap();
        chain.mine_blocks(1).await.unwrap();
        let f = filing(&pool, policy, dev(3), row, &features, SUM_INSURED);
        let root = f.manifest.root();
        let (claim, _) =
            pool.file(&p3, policy, f.input.claimed, f.description, root).await.unwrap();
        let a = h.assessor.assess(&f.input).unwrap();
        let (_, d) = post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        assert_eq!(d, Decision::Review(ReviewReason::Fraud), "[{backend}] {} bp", a.fraud_bp);
        let free = pool.c.freeCapital().call().await.unwrap();
        let r = pool.review(&chain, claim, false, 0).await.unwrap();
        let ev = event_of::<ClaimsInsurance::Rejected>(&r, pool.addr(), "review").unwrap();
        assert_eq!(ev.bondForfeited, U256::from(RULES.claim_bond));
        assert_eq!(pool.status(claim).await, REJECTED);
        assert_eq!(pool.c.totalBonds().call().await.unwrap(), U256::ZERO);
        assert_eq!(pool.c.freeCapital().call().await.unwrap(), free + U256::from(RULES.claim_bond));
        assert_eq!(pool.c.owed(dev(3)).call().await.unwrap(), U256::ZERO);
        let e = send("withdraw", &pool.as_(&p3).withdraw(), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::NothingOwed(_)), "[{backend}]");
        match named(
            &pool.file(&p3, policy, f.input.claimed, f.description, root).await.unwrap_err(),
        ) {
            E::EvidenceReused(x) => assert_eq!((x.claimant, x.evidenceRoot), (dev(3), root)),
            other => panic!("[{backend}] refiled: {other:?}"),
        }
        // A rejected decision is final: the reviewer cannot decide it again.
        assert!(matches!(
            named(&pool.review(&chain, claim, true, 1).await.unwrap_err()),
            E::WrongStatus(_)
        ));
    }
}

/// A contract that buys a policy and claims on it in one transaction is refused
/// (`ClaimInPurchaseBlock`); the purchase is undone with it.
#[tokio::test]
async fn a_claim_in_the_purchase_block_is_refused() {
    let h = HeldOut::load();
    let (row, features) = h.small(0);
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let p7 = chain.provider(ATTACKER);
        let claimer = SameBlockClaimer::deploy(p7.clone(), pool.addr()).await.unwrap();
        let f = filing(&pool, U256::ZERO, *claimer.address(), row, &features, SUM_INSURED);
        let call = claimer
            .buyAndClaim(
                pool.product,
                U256::from(PREMIUM),
                f.input.claimed,
                f.description,
                f.manifest.root(),
            )
            .value(U256::from(PREMIUM + RULES.claim_bond));
        let e = send("buyAndClaim", &call, &[]).await.unwrap_err();
        match named(&e) {
            ClaimsInsuranceErrors::ClaimInPurchaseBlock(x) => assert_eq!(x.policyId, U256::ZERO),
            other => panic!("[{backend}] same block: {other:?}"),
        }
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::ZERO, "[{backend}]");
        assert!(pool.c.policy(U256::ZERO).call().await.is_err(), "no policy was sold");
    }
}

/// Front-running a claim: a copy of the holder's transaction sent from another account is
/// refused (`NotHolder`); the copied evidence root filed on the copier's own policy blocks
/// nobody, opens to the holder's policy, not the copier's, so the assessor flags it and the
/// reviewer rejects it, forfeiting the copier's bond, while the holder's claim is paid.
#[tokio::test]
async fn front_running_a_claim_gains_nothing() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    let (row, features) = h.small(0);
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let (p1, p7) = (chain.provider(1), chain.provider(ATTACKER));
        let policy = pool.buy(&p1).await.unwrap();
        let own = pool.buy(&p7).await.unwrap();
        chain.mine_blocks(1).await.unwrap();
        let f = filing(&pool, policy, dev(1), row, &features, SUM_INSURED);
        let root = f.manifest.root();

        // The holder's pending claim, copied verbatim by the attacker.
        match named(
            &pool.file(&p7, policy, f.input.claimed, f.description, root).await.unwrap_err(),
        ) {
            E::NotHolder(x) => assert_eq!((x.holder, x.caller), (dev(1), dev(ATTACKER))),
            other => panic!("[{backend}] copy: {other:?}"),
        }
        // The same evidence on the attacker's own policy, landing first.
        let (copy, _) = pool.file(&p7, own, f.input.claimed, f.description, root).await.unwrap();
        let (honest, _) =
            pool.file(&p1, policy, f.input.claimed, f.description, root).await.unwrap();

        // The assessor opens the manifest behind each root: it binds the holder's policy.
        assert!(!f.manifest.binds(pool.chain_id, pool.addr(), own.to(), dev(ATTACKER)));
        assert!(f.manifest.binds(pool.chain_id, pool.addr(), policy.to(), dev(1)));
        let a = h.assessor.assess(&f.input).unwrap();
        let flagged = Assessment { fraud_bp: 10_000, confidence_bp: 10_000, ..a.clone() };
        let (_, d) = post_assessment(&pool.assessor(&chain), copy, &flagged).await.unwrap();
        assert_eq!(d, Decision::Review(ReviewReason::Fraud));
        pool.review(&chain, copy, false, 0).await.unwrap();
        let (_, d) = post_assessment(&pool.assessor(&chain), honest, &a).await.unwrap();
        assert_eq!(d, Decision::AutoApproved, "[{backend}]");
        advance(&chain, DAY).await;
        pool.finalize(honest).await.unwrap();
        assert_eq!(pool.c.owed(dev(ATTACKER)).call().await.unwrap(), U256::ZERO, "[{backend}]");
        assert_eq!(
            pool.c.owed(dev(1)).call().await.unwrap(),
            U256::from(a.amount + RULES.claim_bond)
        );
    }
}

/// Duplicate claims cannot drain the pool: one open claim per policy, the same evidence root
/// never twice from one claimant (on the same policy or another), never above the remaining
/// cover, so the total paid on a policy stays within its sum insured; and the same document
/// under a fresh root is seen by the assessor.
#[tokio::test]
async fn duplicate_claims_cannot_drain_the_pool() {
    use ClaimsInsuranceErrors as E;
    let h = HeldOut::load();
    let (row, features) = h.large();
    for backend in backends() {
        let chain = start(backend).await;
        let pool = Pool::deploy(&chain, 10 * ETHER, RULES).await;
        let p1 = chain.provider(1);
        let policy = pool.buy(&p1).await.unwrap();
        let second = pool.buy(&p1).await.unwrap();
        chain.mine_blocks(1).await.unwrap();
        let f = filing(&pool, policy, dev(1), row, &features, SUM_INSURED);
        let root = f.manifest.root();
        let amount = f.input.claimed;
        let (claim, _) = pool.file(&p1, policy, amount, f.description, root).await.unwrap();

        // While it is open, no second claim on the policy, whatever the evidence.
        match named(
            &pool.file(&p1, policy, amount, f.description, B256::repeat_byte(5)).await.unwrap_err(),
        ) {
            E::ClaimOpen(x) => assert_eq!(x.claimId, claim),
            other => panic!("[{backend}] second open claim: {other:?}"),
        }
        // The same evidence on the holder's other policy.
        match named(&pool.file(&p1, second, amount, f.description, root).await.unwrap_err()) {
            E::EvidenceReused(x) => assert_eq!(x.evidenceRoot, root),
            other => panic!("[{backend}] other policy: {other:?}"),
        }
        // Paid after review.
        let a = h.assessor.assess(&f.input).unwrap();
        post_assessment(&pool.assessor(&chain), claim, &a).await.unwrap();
        pool.review(&chain, claim, true, amount).await.unwrap();
        advance(&chain, DAY).await;
        pool.finalize(claim).await.unwrap();
        let left = SUM_INSURED - amount;
        // The same root again on the same policy, and a claim above what is left.
        let e = pool.file(&p1, policy, 1, f.description, root).await.unwrap_err();
        assert!(matches!(named(&e), E::EvidenceReused(_)), "[{backend}]");
        match named(
            &pool
                .file(&p1, policy, left + 1, f.description, B256::repeat_byte(6))
                .await
                .unwrap_err(),
        ) {
            E::ExceedsCover(x) => assert_eq!(x.remaining, U256::from(left)),
            other => panic!("[{backend}] above cover: {other:?}"),
        }
        // The same document under a fresh manifest (another root) reaches the assessor,
        // which sees that it was filed before.
        let again = filing(&pool, policy, dev(1), row, &features, left);
        assert_ne!(again.manifest.root(), root, "fresh ciphertext, fresh root");
        assert!(again.manifest.shares_evidence_with(&f.manifest));
        let (dup, _) =
            pool.file(&p1, policy, left, again.description, again.manifest.root()).await.unwrap();
        let flagged = Assessment { fraud_bp: 10_000, amount: left, ..a.clone() };
        let (_, d) = post_assessment(&pool.assessor(&chain), dup, &flagged).await.unwrap();
        assert_eq!(d, Decision::Review(ReviewReason::Fraud));
        pool.review(&chain, dup, false, 0).await.unwrap();
        let paid = pool.c.policy(policy).call().await.unwrap().paid;
        assert!(paid <= SUM_INSURED, "[{backend}]");
        assert_eq!(paid, amount);
    }
}

/// The remaining refusals by name: cover beyond capital, a wrong premium, a wrong bond, zero
/// commitments, an unknown policy, claims after the term, rules and roles set by a stranger;
/// and `expire` releases a finished policy's cover.
#[tokio::test]
async fn capital_premium_bond_term_and_ownership_refusals_are_named() {
    use ClaimsInsuranceErrors as E;
    for backend in backends() {
        let chain = start(backend).await;
        // Capital for two policies (plus their premiums), not three.
        let pool = Pool::deploy(&chain, 2 * SUM_INSURED - 2 * PREMIUM, RULES).await;
        let p1 = chain.provider(1);
        let c1 = pool.as_(&p1);
        let call = c1.buy(pool.product).value(U256::from(PREMIUM - 1));
        match named(&send("buy", &call, &[]).await.unwrap_err()) {
            E::WrongPremium(x) => assert_eq!(x.expected, U256::from(PREMIUM)),
            other => panic!("[{backend}] premium: {other:?}"),
        }
        let a = pool.buy(&p1).await.unwrap();
        let _b = pool.buy(&p1).await.unwrap();
        match named(&pool.buy(&p1).await.unwrap_err()) {
            E::InsufficientCapital(x) => assert_eq!(x.needed, U256::from(3 * SUM_INSURED)),
            other => panic!("[{backend}] capital: {other:?}"),
        }
        chain.mine_blocks(1).await.unwrap();
        let c = pool.as_(&p1);
        let wrong =
            c.fileClaim(a, ETHER, B256::repeat_byte(1), B256::repeat_byte(2)).value(U256::from(1));
        assert!(matches!(
            named(&send("fileClaim", &wrong, &[]).await.unwrap_err()),
            E::WrongBond(_)
        ));
        let e = pool.file(&p1, a, ETHER, B256::ZERO, B256::repeat_byte(2)).await.unwrap_err();
        assert!(matches!(named(&e), E::ZeroCommitment(_)), "[{backend}]");
        let e = pool.file(&p1, a, 0, B256::repeat_byte(1), B256::repeat_byte(2)).await.unwrap_err();
        assert!(matches!(named(&e), E::ZeroAmount(_)), "[{backend}]");
        let e = pool
            .file(&p1, U256::from(9), ETHER, B256::repeat_byte(1), B256::repeat_byte(2))
            .await
            .unwrap_err();
        assert!(matches!(named(&e), E::UnknownPolicy(_)), "[{backend}]");
        // Strangers set neither rules nor roles.
        let p7 = chain.provider(ATTACKER);
        let e = send("setAssessor", &pool.as_(&p7).setAssessor(dev(ATTACKER), true), &[])
            .await
            .unwrap_err();
        assert!(matches!(named(&e), E::OwnableUnauthorizedAccount(_)), "[{backend}]");
        let e = send("setRules", &pool.as_(&p7).setRules(RULES.abi()), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::OwnableUnauthorizedAccount(_)), "[{backend}]");
        let bad = Rules { claim_bond: 0, ..RULES };
        let e = send("setRules", &pool.c.setRules(bad.abi()), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::InvalidRules(_)), "[{backend}]");
        // Not before the end; after it, no claim, and the cover is released.
        match named(&send("expire", &pool.c.expire(a), &[]).await.unwrap_err()) {
            E::PolicyNotEnded(x) => assert_eq!(x.policyId, a),
            other => panic!("[{backend}] early expire: {other:?}"),
        }
        advance(&chain, TERM + 1).await;
        let e =
            pool.file(&p1, a, ETHER, B256::repeat_byte(1), B256::repeat_byte(2)).await.unwrap_err();
        assert!(matches!(named(&e), E::PolicyEnded(_)), "[{backend}]");
        let r = send("expire", &pool.c.expire(a), &[]).await.unwrap();
        let ev = event_of::<ClaimsInsurance::Expired>(&r, pool.addr(), "expire").unwrap();
        assert_eq!(ev.released, U256::from(SUM_INSURED));
        assert_eq!(pool.c.exposure().call().await.unwrap(), U256::from(SUM_INSURED));
        let e = send("expire", &pool.c.expire(a), &[]).await.unwrap_err();
        assert!(matches!(named(&e), E::PolicyClosed(_)), "[{backend}]");
        // With that cover released, a new policy fits.
        pool.buy(&p1).await.unwrap();
    }
}
