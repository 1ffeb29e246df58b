//! `alara chain keystore-new` and `--keystore`: the files are standard Web3 Secret Storage
//! (other implementations read them), a malformed file is not called a wrong password, and
//! without a password or a terminal the command says what it needs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;

use crate::support::{alara, repo_root, run};

const PASSWORD_ENV: &str = "ALARA_KEYSTORE_PASSWORD";

/// The python of `.venv` (with eth_account): `ALARA_PYTHON`, else the repository's `.venv`.
fn python() -> PathBuf {
    let python = std::env::var("ALARA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} missing: run scripts/test.sh, which installs eth_account into .venv (or set \
         ALARA_PYTHON)",
        python.display()
    );
    python
}

/// The address eth_account decrypts from the keystore at `path`.
fn eth_account_decrypt(path: &Path, password: &str) -> Address {
    const SCRIPT: &str = "import json, sys\n\
        from eth_account import Account\n\
        with open(sys.argv[1]) as f:\n    keystore = json.load(f)\n\
        print(Account.from_key(Account.decrypt(keystore, sys.argv[2])).address)\n";
    let out = run(Command::new(python()).arg("-c").arg(SCRIPT).arg(path).arg(password));
    out.trim().parse().unwrap_or_else(|e| panic!("eth_account printed {out:?}: {e}"))
}

/// `alara chain keystore-new --dir <dir> --json` with the password in the environment.
fn keystore_new(data_dir: &Path, dir: &Path, password: &str) -> (PathBuf, Address) {
    let out = run(alara()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["chain", "keystore-new", "--json", "--dir"])
        .arg(dir)
        .env(PASSWORD_ENV, password)
        .stdin(Stdio::null()));
    let out: Value = serde_json::from_str(&out).unwrap();
    let path = PathBuf::from(out["keystore"].as_str().unwrap());
    (path, out["address"].as_str().unwrap().parse().unwrap())
}

/// `alara chain info --keystore <keystore>` with `password` in the environment: the command
/// that signs first and fails on the keystore before anything else.
fn chain_info(data_dir: &Path, keystore: &Path, password: &str) -> Output {
    alara()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["chain", "info", "--json", "--keystore"])
        .arg(keystore)
        .env(PASSWORD_ENV, password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The error a failed `--json` command printed: its JSON object's message and causes, one
/// per line.
fn error_of(out: &Output) -> String {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("no JSON error on stdout ({e}): {}", String::from_utf8_lossy(&out.stderr))
    });
    let mut lines = vec![v["error"]["message"].as_str().unwrap_or_default().to_string()];
    for c in v["error"]["causes"].as_array().into_iter().flatten() {
        lines.push(c.as_str().unwrap_or_default().to_string());
    }
    lines.join("\n")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn keystore_new_writes_a_standard_file_that_others_decrypt() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("keys");
    let (path, address) = keystore_new(data.path(), &dir, "a long password");
    assert_eq!(files_in(&dir), vec![path.clone()], "one file, no temporary left");

    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["version"], 3, "{file}");
    let crypto = &file["crypto"];
    assert_eq!((&crypto["cipher"], &crypto["kdf"]), (&"aes-128-ctr".into(), &"scrypt".into()));
    let kdf = &crypto["kdfparams"];
    assert_eq!(
        [&kdf["n"], &kdf["r"], &kdf["p"], &kdf["dklen"]],
        [&Value::from(262_144), &8.into(), &1.into(), &32.into()],
        "the standard scrypt cost: {file}"
    );

    // Two implementations that are not Alara's: eth_account (Python) and eth-keystore.
    assert_eq!(eth_account_decrypt(&path, "a long password"), address);
    let signer = PrivateKeySigner::decrypt_keystore(&path, "a long password").unwrap();
    assert_eq!(signer.address(), address);

    // And Alara signs with it.
    let out = chain_info(data.path(), &path, "a long password");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["signer"].as_str().unwrap().parse::<Address>().unwrap(), address);

    let out = chain_info(data.path(), &path, "another long password");
    assert!(!out.status.success());
    let stderr = error_of(&out);
    let shown = path.display().to_string();
    let line = stderr.lines().find(|l| l.contains(&shown)).unwrap_or_default();
    assert!(line.contains("wrong password"), "{stderr}");
}

#[test]
fn a_malformed_keystore_is_reported_as_malformed_not_as_a_wrong_password() {
    let data = tempfile::tempdir().unwrap();
    let cases = [
        ("not-json.json", "this is not a keystore".to_string(), "not JSON"),
        ("no-crypto.json", r#"{"version": 3, "id": "x"}"#.to_string(), "missing field `crypto`"),
        (
            "version-2.json",
            r#"{"version": 2, "crypto": {}}"#.to_string(),
            "version 2; only version 3 is read",
        ),
        (
            "no-mac.json",
            r#"{"version": 3, "crypto": {"cipher": "aes-128-ctr", "ciphertext": "00",
                "cipherparams": {"iv": "00"}, "kdf": "scrypt", "kdfparams": {}}}"#
                .to_string(),
            "missing field `mac`",
        ),
    ];
    for (name, text, reason) in cases {
        let path = data.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = chain_info(data.path(), &path, "a long password");
        let stderr = error_of(&out);
        assert!(!out.status.success(), "{name}: {stderr}");
        // The message is the line naming the file.
        let shown = path.display().to_string();
        let line = stderr.lines().find(|l| l.contains(&shown));
        let line =
            line.unwrap_or_else(|| panic!("{name}: the error does not name {shown}: {stderr}"));
        assert!(line.contains("not a valid keystore file"), "{name}: {line}");
        assert!(line.contains(reason), "{name}: {line}");
        assert!(!line.contains("password"), "{name}: {line}");
    }
}

#[test]
fn keystore_new_without_a_password_or_a_terminal_says_what_it_needs() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("keys");
    for password in [None, Some("")] {
        let mut cmd = alara();
        cmd.arg("--data-dir")
            .arg(data.path())
            .args(["chain", "keystore-new", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null());
        match password {
            Some(p) => cmd.env(PASSWORD_ENV, p),
            None => cmd.env_remove(PASSWORD_ENV),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains(PASSWORD_ENV) && stderr.contains("terminal"),
            "{password:?}: {stderr}"
        );
        assert!(!stderr.contains("os error"), "{password:?}: {stderr}");
        assert!(files_in(&dir).is_empty(), "nothing written");
    }
}

/// Runs `alara <args>` on a pseudo-terminal (util-linux `script`), answering each prompt
/// with its reply once the prompt has appeared. Returns whether it succeeded and what the
/// terminal showed.
fn on_terminal(args: &[&str], dialogue: &[(&str, &str)]) -> (bool, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(env!("CARGO_BIN_EXE_alara"));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env_remove(PASSWORD_ENV)
        .env_remove("ALARA_RPC_URL")
        .env_remove("ALARA_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run util-linux `script` (for a terminal): {e}"));
    let shown: Arc<Mutex<String>> = Arc::default();
    let mut stdout = child.stdout.take().unwrap();
    let sink = shown.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (prompt, reply) in dialogue {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = shown.lock().unwrap().clone();
            if let Some(at) = text[seen..].find(prompt) {
                seen += at + prompt.len();
                break;
            }
            assert!(Instant::now() < deadline, "no prompt {prompt:?}; the terminal shows {text:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        stdin.write_all(format!("{reply}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("alara did not exit; the terminal shows {:?}", shown.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    reader.join().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let text = shown.lock().unwrap().clone();
    (status.success(), format!("{text}{stderr}"))
}

#[test]
fn keystore_new_on_a_terminal_asks_twice_and_compares() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("keys");
    let data_dir = data.path().to_str().unwrap();
    let args = ["--data-dir", data_dir, "chain", "keystore-new", "--dir", dir.to_str().unwrap()];

    let (ok, shown) = on_terminal(
        &args,
        &[("New keystore password: ", "first password"), ("Repeat", "second password")],
    );
    assert!(!ok, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown}");
    assert!(files_in(&dir).is_empty(), "nothing written: {shown}");

    let (ok, shown) = on_terminal(
        &args,
        &[("New keystore password: ", "same password"), ("Repeat", "same password")],
    );
    assert!(ok, "{shown}");
    let files = files_in(&dir);
    assert_eq!(files.len(), 1, "{shown}");
    assert!(shown.contains(&files[0].display().to_string()), "{shown}");
    let signer = PrivateKeySigner::decrypt_keystore(&files[0], "same password").unwrap();
    assert!(shown.contains(&signer.address().to_string()), "{shown}");
}
