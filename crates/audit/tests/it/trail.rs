use std::time::Duration;

use alara_audit::entry::{Entry, EntryBody, Inference, ModelRef, Payout};
use alara_audit::{AuditTrail, Hash, Opening, Query, Receipt, TrailConfig};

fn open(dir: &std::path::Path) -> AuditTrail {
    let mut c = TrailConfig::new(dir, "test passphrase");
    c.key_work_factor = 10;
    c.origin = Some("alara.test/trail".into());
    AuditTrail::open(c).unwrap()
}

fn inference(subject: &str, row: &str, t: u64) -> (Entry, Vec<Opening>) {
    let input = Opening::seal(subject, "input", row.as_bytes().to_vec());
    let output = Opening::seal(subject, "output", b"{\"label\":1}".to_vec());
    let e = Entry {
        time_ms: t,
        body: EntryBody::Inference(Inference {
            system: "breast-cancer-triage".into(),
            model: ModelRef {
                id: "bc-v1".into(),
                version_hash: alara_audit::hash::sha256(b"model"),
            },
            started_ms: t,
            ended_ms: t + 1,
            input: input.commitment(),
            output: output.commitment(),
            verified_by: None,
            purpose: "screening".into(),
        }),
    };
    (e, vec![input, output])
}

#[test]
fn receipts_verify_offline_and_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let trail = open(dir.path());
    let a = trail.record(&[inference("alice", "17.99,10.38", 1000)]).unwrap();
    let r = trail.receipt(a.index).unwrap();
    let v = r.verify_offline(Some(trail.verifier())).unwrap();
    assert_eq!((v.leaf_index, v.kind.as_str(), v.key_pinned), (0, "inference", true));

    let json = r.to_json();
    let parsed = Receipt::from_json(json.as_bytes()).unwrap();
    assert_eq!(parsed, r);

    // Each tampering is caught.
    let mut t = r.clone();
    t.leaf_index = 1;
    assert!(t.verify_offline(None).is_err());
    let mut t = r.clone();
    if let EntryBody::Inference(i) = &mut t.entry.body {
        i.purpose = "marketing".into();
    }
    assert!(t.verify_offline(None).is_err());
    let mut t = r.clone();
    t.checkpoint = t.checkpoint.replacen("\n1\n", "\n2\n", 1);
    assert!(t.verify_offline(None).is_err());
    let other = alara_audit::NoteSigner::new("alara.test/trail", [9; 32]).unwrap().verifier();
    assert!(r.verify_offline(Some(&other)).is_err());
}

#[test]
fn erasure_keeps_receipts_valid_and_unlinks_data() {
    let dir = tempfile::tempdir().unwrap();
    let trail = open(dir.path());
    let row = "patient-7 radius=17.99 texture=10.38";
    let (e, openings) = inference("patient-7", row, 1);
    let commitments: Vec<Hash> = openings.iter().map(Opening::commitment).collect();
    let salts: Vec<[u8; 32]> = openings.iter().map(|o| o.salt).collect();
    let a = trail.record(&[(e, openings), inference("patient-8", "other", 2)]).unwrap();
    let before = trail.receipt(a.index).unwrap();
    assert!(trail.open_commitment(&commitments[0]).unwrap().is_some());
    assert_eq!(
        trail
            .query(&Query { subject: Some("patient-7".into()), ..Default::default() })
            .unwrap()
            .len(),
        1
    );

    let report = trail.erase_subject("patient-7", "GDPR Art. 17(1)(b)").unwrap();
    assert_eq!(report.commitments_erased.len(), 2);
    assert_eq!(report.entries_affected, vec![a.index]);

    // Every earlier receipt still verifies, including a fresh one for the erased entry.
    before.verify_offline(Some(trail.verifier())).unwrap();
    trail.receipt(a.index).unwrap().verify_offline(Some(trail.verifier())).unwrap();
    trail.receipt(a.index + 1).unwrap().verify_offline(Some(trail.verifier())).unwrap();
    let erasure = trail.receipt(report.erasure_entry).unwrap();
    erasure.verify_offline(Some(trail.verifier())).unwrap();
    assert_eq!(erasure.entry.body.kind_name(), "erasure");
    assert!(!serde_json::to_string(&erasure).unwrap().contains("patient-7"));

    // The commitments no longer open, and nothing on disk links them to the data.
    for c in &commitments {
        assert!(trail.open_commitment(c).unwrap().is_none());
    }
    assert!(trail
        .query(&Query { subject: Some("patient-7".into()), ..Default::default() })
        .unwrap()
        .is_empty());
    let the_other =
        trail.query(&Query { subject: Some("patient-8".into()), ..Default::default() }).unwrap();
    assert_eq!(the_other.len(), 1);
    drop(trail);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for s in &salts {
            assert!(!bytes.windows(32).any(|w| w == s), "salt still in {}", entry.display());
        }
        assert!(
            !bytes.windows(row.len()).any(|w| w == row.as_bytes()),
            "row still in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn query_filters_and_export_lines_verify() {
    let dir = tempfile::tempdir().unwrap();
    let trail = open(dir.path());
    trail
        .record(&[inference("a", "1", 100), inference("b", "2", 200), inference("a", "3", 300)])
        .unwrap();
    let payout = Entry {
        time_ms: 250,
        body: EntryBody::Payout(Payout {
            context: "fl/1".into(),
            recipient: "0x1".into(),
            token: "ALR".into(),
            amount: 5,
            tx: None,
        }),
    };
    trail.append(&payout).unwrap();
    let q = |q: Query| trail.query(&q).unwrap().iter().map(|r| r.leaf_index).collect::<Vec<_>>();
    assert_eq!(q(Query { from_ms: Some(150), to_ms: Some(260), ..Default::default() }), vec![1, 3]);
    assert_eq!(q(Query { kinds: vec!["payout".into()], ..Default::default() }), vec![3]);
    assert_eq!(q(Query { subject: Some("a".into()), ..Default::default() }), vec![0, 2]);
    assert_eq!(q(Query { model: Some("bc-v1".into()), ..Default::default() }), vec![0, 1, 2]);
    let h = alara_audit::hash::sha256(b"model").to_hex();
    assert_eq!(q(Query { model: Some(h), limit: Some(2), ..Default::default() }), vec![0, 1]);
    assert!(trail.query(&Query { kinds: vec!["nope".into()], ..Default::default() }).is_err());

    let mut out = Vec::new();
    let n = trail.export(&Query { from_ms: Some(150), ..Default::default() }, &mut out).unwrap();
    assert_eq!(n, 3);
    for line in String::from_utf8(out).unwrap().lines() {
        Receipt::from_json(line.as_bytes())
            .unwrap()
            .verify_offline(Some(trail.verifier()))
            .unwrap();
    }
}

#[tokio::test]
async fn async_appends_and_checkpoint_cadence() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = TrailConfig::new(dir.path(), "pw");
    c.key_work_factor = 10;
    c.checkpoint_interval = Duration::from_millis(200);
    let trail = std::sync::Arc::new(AuditTrail::open(c).unwrap());
    let e = Entry::now(EntryBody::Payout(Payout {
        context: "c".into(),
        recipient: "r".into(),
        token: "t".into(),
        amount: 1,
        tx: None,
    }));
    let a = trail.append_batch_async(&[e.clone(), e]).await.unwrap();
    assert_eq!(a.count, 2);
    let t = trail.clone();
    let r = tokio::task::spawn_blocking(move || t.receipt(1)).await.unwrap().unwrap();
    r.verify_offline(None).unwrap();
}

/// The example in docs/receipt.md is a real receipt: it parses and verifies offline
/// (including its anchor section), so the documentation cannot drift from the schema.
#[test]
fn documented_example_receipt_verifies() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/receipt.md"))
            .unwrap();
    let start = doc.find("```json\n").expect("docs/receipt.md has a JSON example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let r = Receipt::from_json(&doc.as_bytes()[start..end]).unwrap();
    let v = r.verify_offline(None).unwrap();
    assert!(v.anchored.is_some());
    assert_eq!(r.schema, alara_audit::receipt::SCHEMA);
    let binding = v.binding.expect("a v2 anchor names its chain, contract and account");
    assert_eq!(binding.chain_id, r.anchor.as_ref().unwrap().chain_id);
    assert_eq!(v.kind, "inference");
    let mut bad = r.clone();
    bad.inclusion_proof[0].0[0] ^= 1;
    let err = bad.verify_offline(None).unwrap_err().to_string();
    assert!(err.contains("inclusion proof does not verify"), "{err}");
}
