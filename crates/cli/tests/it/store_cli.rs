//! `alara store …` output files.

use std::path::Path;
use std::process::Command;

use crate::support::{alara, run};

fn store(data_dir: &Path) -> Command {
    let mut c = alara();
    c.arg("--data-dir").arg(data_dir).args(["--json", "store"]);
    c
}

#[test]
fn failed_export_leaves_an_existing_car_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("file.bin");
    std::fs::write(&file, (0..300_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>()).unwrap();
    let added: serde_json::Value =
        serde_json::from_str(&run(store(&data).arg("add").arg(&file))).unwrap();
    let cid = added["cid"].as_str().expect("cid").to_string();

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let car = out.join("z.car");
    run(store(&data).args(["export", &cid, "-o"]).arg(&car));
    let good = std::fs::read(&car).unwrap();
    assert!(good.len() > 300_000, "{} bytes", good.len());

    // A CID that is not in the store: the export fails after its header is written.
    let missing = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    let failed = store(&data).args(["export", missing, "-o"]).arg(&car).output().unwrap();
    assert!(!failed.status.success(), "export of a missing CID succeeded");
    // With --json the error is a JSON object on stdout.
    let err: serde_json::Value = serde_json::from_slice(&failed.stdout).expect("a JSON error");
    let message = format!("{} {}", err["error"]["message"], err["error"]["causes"]);
    assert!(message.contains("not in the store"), "{err}");
    assert_eq!(std::fs::read(&car).unwrap(), good, "the good CAR was changed");
    let names: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["z.car"], "a partial file was left behind");

    // And a failed export to a new name creates nothing.
    let fresh = out.join("new.car");
    assert!(!store(&data).args(["export", missing, "-o"]).arg(&fresh).status().unwrap().success());
    assert!(!fresh.exists());
}
