//! Starting `alara` processes for tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The `alara` binary under test.
pub fn alara() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alara"));
    cmd.env_remove("ALARA_RPC_URL").env_remove("ALARA_DATA_DIR");
    cmd
}

/// A running `alara up` (or `alara chain node`) process; killed on drop.
pub struct AlaraNode {
    /// The child process.
    pub child: Child,
    /// JSON-RPC endpoint.
    pub url: String,
    /// The JSON summary the node printed.
    pub summary: Value,
}

impl AlaraNode {
    /// Starts `alara <args> --json --port 0` and waits for its summary.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(data_dir, args, &[])
    }

    /// [`AlaraNode::start`] with extra environment variables.
    pub fn start_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = alara();
        cmd.envs(env.iter().copied());
        Self::launch(cmd, data_dir, args, Stdio::inherit())
    }

    /// [`AlaraNode::start`] with `alara` run by `wrapper` (a program and its arguments
    /// before the command, e.g. `prlimit --nofile=64:64 --`). The node's stderr is
    /// collected, line by line, in the returned buffer (and passed on to the test's).
    pub fn start_wrapped(
        data_dir: &Path,
        args: &[&str],
        wrapper: &[&str],
    ) -> (Self, Arc<Mutex<String>>) {
        let (program, wrapper_args) = wrapper.split_first().expect("a wrapper program");
        let mut cmd = Command::new(program);
        cmd.args(wrapper_args)
            .arg(env!("CARGO_BIN_EXE_alara"))
            .env_remove("ALARA_RPC_URL")
            .env_remove("ALARA_DATA_DIR");
        let mut node = Self::launch(cmd, data_dir, args, Stdio::piped());
        let stderr = node.child.stderr.take().expect("stderr");
        let log: Arc<Mutex<String>> = Arc::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                eprintln!("{line}");
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        (node, log)
    }

    /// Runs `cmd` (an `alara` invocation without its arguments) with `args` on `data_dir`
    /// and waits for the summary it prints.
    fn launch(mut cmd: Command, data_dir: &Path, args: &[&str], stderr: Stdio) -> Self {
        let mut child = cmd
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .args(["--json", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn alara");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read summary");
            assert!(n > 0, "alara exited before printing its summary; output so far: {text}");
            text.push_str(&line);
            if line.starts_with('}') {
                break;
            }
        }
        std::thread::spawn(move || for _ in reader.lines() {});
        let summary: Value = serde_json::from_str(&text).expect("summary is JSON");
        let url = summary["rpc_url"].as_str().expect("rpc_url").to_string();
        AlaraNode { child, url, summary }
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AlaraNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path to a Foundry binary installed by `npm ci`; panics with the fix if missing.
pub fn foundry(name: &str) -> PathBuf {
    alara_chain::tools::require_foundry_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command, returning stdout; panics with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
