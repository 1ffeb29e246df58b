//! Integration tests of the contracts toolchain and the core deployment.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

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

/// The deployment block is recorded by `ensure`, and found by binary search over
/// `eth_getCode` when a book has none (books written before the field existed).
#[tokio::test]
async fn deployment_block_is_recorded_and_found_on_every_backend() {
    use alara_contracts::deploy::{deployment_block, first_block_with_code};
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let provider = chain.provider(0);
        let dir = tempfile::tempdir().unwrap();
        let me = alara_chain::dev::dev_addresses()[0];
        // Blocks before the deployment, so block 0 and the deployment block differ.
        let _: serde_json::Value =
            provider.raw_request("anvil_mine".into(), (U256::from(40u64),)).await.unwrap();
        let token = deploy_core(&provider, dir.path(), me).await.unwrap().token;
        let mined_in = provider.get_block_number().await.unwrap();
        let _: serde_json::Value =
            provider.raw_request("anvil_mine".into(), (U256::from(25u64),)).await.unwrap();

        let recorded = deployment_block(&provider, dir.path(), "AlaraToken", token).await.unwrap();
        assert!(
            (mined_in - 1..=mined_in).contains(&recorded),
            "{backend}: recorded {recorded}, mined in {mined_in}"
        );
        assert_eq!(first_block_with_code(&provider, token).await.unwrap(), mined_in, "{backend}");
        // Another address under the same name is not trusted to the book's block.
        let other = alloy::primitives::Address::repeat_byte(7);
        let head = provider.get_block_number().await.unwrap();
        assert_eq!(
            deployment_block(&provider, dir.path(), "AlaraToken", other).await.unwrap(),
            head,
            "{backend}: no code there, nothing to scan"
        );
    }
}

/// A paged scan returns exactly what one unbounded `eth_getLogs` returns, in order, for any
/// page size.
#[tokio::test]
async fn paged_scan_matches_one_wide_query_on_every_backend() {
    use alara_contracts::logs::{scan, scan_range};
    use alloy::rpc::types::Filter;
    use alloy::sol_types::SolEvent;
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let provider = chain.provider(0);
        let dir = tempfile::tempdir().unwrap();
        let me = alara_chain::dev::dev_addresses()[0];
        let addr = deploy_core(&provider, dir.path(), me).await.unwrap().token;
        let token = AlaraToken::new(addr, &provider);
        for i in 0..12u64 {
            let to = alara_chain::dev::dev_addresses()[1 + (i as usize % 3)];
            token
                .transfer(to, U256::from(i + 1))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            if i % 4 == 0 {
                let _: serde_json::Value =
                    provider.raw_request("anvil_mine".into(), (U256::from(9u64),)).await.unwrap();
            }
        }
        let filter =
            Filter::new().address(addr).event_signature(AlaraToken::Transfer::SIGNATURE_HASH);
        let head = provider.get_block_number().await.unwrap();
        let all = provider.get_logs(&filter.clone().from_block(0).to_block(head)).await.unwrap();
        assert_eq!(all.len(), 13, "{backend}: mint + 12 transfers");
        for page in [1, 2, 7, 1000] {
            let paged = scan_range(&provider, &filter, 0, head, page).await.unwrap();
            assert_eq!(paged, all, "{backend}: page {page}");
        }
        let from = all[5].block_number.unwrap();
        let tail = scan(&provider, &filter, from).await.unwrap();
        assert_eq!(
            tail,
            all.iter().filter(|l| l.block_number.unwrap() >= from).cloned().collect::<Vec<_>>()
        );
    }
}

/// `call::send` names a revert, and `event_of` reports a missing event as an error.
#[tokio::test]
async fn send_decodes_reverts_and_event_of_never_defaults() {
    use alara_contracts::call::{decoder, event_of, send, CallError, Decoder};
    const DECODERS: &[Decoder] = &[decoder::<AlaraToken::AlaraTokenErrors>];
    for backend in backends() {
        let chain = TestChain::start(backend).await.unwrap();
        let provider = chain.provider(0);
        let poor = chain.provider(1);
        let dir = tempfile::tempdir().unwrap();
        let me = alara_chain::dev::dev_addresses()[0];
        let addr = deploy_core(&provider, dir.path(), me).await.unwrap().token;

        let nonce = poor.get_transaction_count(alara_chain::dev::dev_addresses()[1]).await.unwrap();
        let err =
            send("transfer", &AlaraToken::new(addr, &poor).transfer(me, U256::from(1)), DECODERS)
                .await
                .unwrap_err();
        assert_eq!(err.revert_name(), Some("ERC20InsufficientBalance"), "{backend}: {err}");
        assert!(
            err.to_string().starts_with("transfer reverted: ERC20InsufficientBalance"),
            "{err}"
        );
        assert_eq!(
            poor.get_transaction_count(alara_chain::dev::dev_addresses()[1]).await.unwrap(),
            nonce,
            "{backend}: a refused call sends nothing"
        );

        let token = AlaraToken::new(addr, &provider);
        let receipt = send("approve", &token.approve(addr, U256::from(5)), DECODERS).await.unwrap();
        let ev: AlaraToken::Approval = event_of(&receipt, addr, "approve").unwrap();
        assert_eq!(ev.value, U256::from(5));
        let missing = event_of::<AlaraToken::Transfer>(&receipt, addr, "approve").unwrap_err();
        assert!(matches!(missing, CallError::MissingEvent { .. }), "{backend}: {missing}");
    }
}
