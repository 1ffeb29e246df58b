//! Where the pinned external tools live.
//!
//! `npm ci` in the repository root installs solc-js, OpenZeppelin and Foundry's
//! anvil/cast/forge from `package-lock.json` into `node_modules`. Tests and benchmarks
//! find them here; `ALARA_REPO_ROOT` overrides the search (useful for an installed binary).

use std::path::{Path, PathBuf};

/// The repository root: the nearest ancestor holding `package.json` and `Cargo.toml`.
///
/// Searches from `ALARA_REPO_ROOT`, then the current directory, then this crate's
/// manifest directory (known at compile time, so tests find it from any working directory).
pub fn repo_root() -> Option<PathBuf> {
    let starts = [
        std::env::var_os("ALARA_REPO_ROOT").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    starts.into_iter().flatten().find_map(|start| {
        start
            .ancestors()
            .find(|dir| dir.join("package.json").is_file() && dir.join("Cargo.toml").is_file())
            .map(Path::to_path_buf)
    })
}

/// Path of a Foundry binary (`anvil`, `cast`, `forge`) installed by `npm ci`.
pub fn foundry_bin(name: &str) -> Option<PathBuf> {
    let path = repo_root()?
        .join("node_modules/@foundry-rs")
        .join(format!("{name}-linux-amd64"))
        .join("bin")
        .join(name);
    path.is_file().then_some(path)
}

/// Like [`foundry_bin`] but with an error that says how to install it.
pub fn require_foundry_bin(name: &str) -> std::io::Result<PathBuf> {
    foundry_bin(name).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{name} not found under node_modules/@foundry-rs: run `npm ci` in the repository root \
                 (it installs the version pinned in package-lock.json)"
            ),
        )
    })
}
