//! Crash-test writer: appends to the audit log at `argv[1]` from several threads until
//! killed, printing each acknowledged entry. Driven by `alara_audit::crash::crash_cycles`.

use std::time::Duration;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: alara-audit-crash-writer <log dir> [threads]");
        std::process::exit(2);
    };
    let threads = std::env::args().nth(2).and_then(|t| t.parse().ok()).unwrap_or(4);
    if let Err(e) = alara_audit::crash::run_writer(dir.as_ref(), threads, Duration::from_secs(60)) {
        eprintln!("crash writer: {e}");
        std::process::exit(1);
    }
}
