//! Embeds the dashboard (`assets/`) and the API docs page (`apidocs/`) into the binary:
//! writes `$OUT_DIR/embedded.rs` with one `include_bytes!` per file, so the shipped
//! binary serves them with nothing on disk and nothing fetched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let name = rel.to_string_lossy().replace('\\', "/");
            if !name.starts_with('.') && !name.contains("/.") {
                out.push((name, path.clone()));
            }
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut code = String::new();
    for (table, dir) in [("ASSETS", "assets"), ("APIDOCS", "apidocs")] {
        let root = manifest.join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut list = Vec::new();
        files(&root, &root, &mut list);
        let _ = writeln!(code, "/// Files under `{dir}/`: (path, bytes).");
        let _ = writeln!(code, "pub static {table}: &[(&str, &[u8])] = &[");
        for (name, path) in list {
            let _ =
                writeln!(code, "    ({name:?}, include_bytes!({:?})),", path.display().to_string());
        }
        let _ = writeln!(code, "];");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
