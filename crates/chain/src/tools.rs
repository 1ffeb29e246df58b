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

/// Path of a Foundry binary (`anvil`, `cast`, `forge`): the one `npm ci` installed in the
/// repository (the version pinned in `package-lock.json`), otherwise the first on `PATH`,
/// so an installed `alara` finds a system-wide Foundry.
pub fn foundry_bin(name: &str) -> Option<PathBuf> {
    let pinned = repo_root().map(|root| {
        root.join("node_modules/@foundry-rs")
            .join(format!("{name}-linux-amd64"))
            .join("bin")
            .join(name)
    });
    pinned.filter(|p| p.is_file()).or_else(|| on_path(name))
}

/// The first executable file called `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Like [`foundry_bin`] but with an error that says how to install it.
pub fn require_foundry_bin(name: &str) -> std::io::Result<PathBuf> {
    foundry_bin(name).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{name} not found under node_modules/@foundry-rs or on PATH: run `npm ci` in the \
                 repository root (it installs the version pinned in package-lock.json), or install \
                 Foundry"
            ),
        )
    })
}
