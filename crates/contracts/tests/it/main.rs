//! Integration tests of the contracts toolchain and the core deployment.

use alara_chain::testing::{backends, TestChain};
use alara_contracts::{deploy_core, AddressBook, AlaraToken};
use alloy::primitives::U256;
use alloy::providers::Provider;

/// The committed artifacts must be exactly what solc makes of the sources today.
#[test]
fn artifacts_are_fresh() {
    let root = alara_chain::tools::repo_root().expect("repository root");
    let out = std::process::Command::new("node")
        .arg("contracts/build.js")
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("node is installed (the test command installs the npm tools first)");
    assert!(
        out.status.success(),
        "stale artifacts:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn deploy_core_is_idempotent_on_every_backend() {
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let provider = chain.provider(0);
        let dir = tempfile::tempdir().unwrap();
        let me = alara_chain::dev::dev_addresses()[0];

        let first = deploy_core(&provider, dir.path(), me).await.unwrap();
        let block = provider.get_block_number().await.unwrap();
        let second = deploy_core(&provider, dir.path(), me).await.unwrap();
        assert_eq!(first, second, "{backend}: second deploy must reuse the first");
        assert_eq!(provider.get_block_number().await.unwrap(), block, "{backend}: no new tx");

        let book = AddressBook::load(dir.path(), chain.chain_id(), {
            let b = provider.get_block_by_number(0.into()).await.unwrap().unwrap();
            b.header.hash
        })
        .unwrap()
        .expect("book written");
        assert_eq!(book.get("AlaraToken"), Some(first.token));

        let token = AlaraToken::new(first.token, &provider);
        assert_eq!(token.symbol().call().await.unwrap(), "ALR");
        assert_eq!(
            token.balanceOf(me).call().await.unwrap(),
            alara_contracts::deploy::initial_supply()
        );
        assert_eq!(
            token.totalSupply().call().await.unwrap(),
            token.balanceOf(me).call().await.unwrap()
        );
        let _ = U256::ZERO;
    }
}
