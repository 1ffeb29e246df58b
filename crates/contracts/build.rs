//! Generates an alloy `sol!` binding for every committed artifact in `contracts/out`, so a
//! new contract gets Rust bindings by being compiled, and a changed ABI changes the bindings.
#![allow(clippy::expect_used, reason = "a build script reports failure by panicking")]

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = manifest.join("../../contracts/out");
    println!("cargo:rerun-if-changed={}", out_dir.display());

    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", out_dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();

    let mut code = String::new();
    for name in &names {
        let path = out_dir.join(format!("{name}.json")).canonicalize().expect("artifact exists");
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "alloy::sol!(\n    #[sol(rpc)]\n    #[derive(Debug)]\n    {name},\n    {:?}\n);",
            path.display().to_string()
        )
        .expect("write to String");
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("bindings.rs");
    std::fs::write(dest, code).expect("write bindings");
}
