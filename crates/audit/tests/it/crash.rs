use std::process::Command;

/// ≥ 20 SIGKILL cycles: every acknowledged entry survives, the tree verifies, and each
/// restart is consistent with the checkpoint seen after the previous one.
#[test]
fn sigkill_during_concurrent_appends_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let report = alara_audit::crash::crash_cycles(
        dir.path(),
        20,
        |d| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_alara-audit-crash-writer"));
            c.arg(d).arg("4");
            c
        },
        |_, _| {},
    )
    .unwrap();
    assert_eq!(report.cycles, 20);
    assert!(report.acknowledged > 0, "the writer never acknowledged anything: {report:?}");
    assert!(report.final_size >= report.acknowledged.min(1));
    println!("{report:?}");
}
