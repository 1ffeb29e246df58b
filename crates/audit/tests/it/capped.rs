//! The audit client behind a capped `eth_getLogs`, like public providers.

use std::time::Duration;

use alloy::providers::Provider;

use alara_audit::anchor::{self, AnchorPolicy, Anchorer, Pins};
use alara_chain::testing::TestChain;

use crate::chain::{dev_address, payouts, trail};

/// The anchoring service and on-chain verification behind an `eth_getLogs` cap of 1,000
/// blocks (as public providers have), with 2,500 empty blocks before the contract and
/// between anchors: a scan from genesis, or one unpaged query, would be refused.
#[tokio::test]
async fn anchoring_and_verification_page_their_event_scans() {
    let chain = TestChain::embedded_capped(1000).await.unwrap();
    let (p, me) = (chain.provider(0), dev_address(0));
    chain.mine_blocks(2_500).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trail = trail(dir.path());
    let policy = AnchorPolicy {
        every_entries: 1,
        every: Duration::from_secs(3600),
        pending_timeout: Duration::from_secs(5),
    };
    let contract = anchor::ensure_deployed(&p, dir.path()).await.unwrap();
    let mut a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), contract, policy).await.unwrap();
    trail.append_batch(&payouts(15)).unwrap();
    a.tick(trail.log(), false).await.unwrap().expect("anchored");
    let mut r = trail.receipt(4).unwrap();
    assert!(anchor::upgrade_receipt(&mut r, trail.log(), a.state()).unwrap());
    chain.mine_blocks(2_500).await.unwrap();
    trail.append_batch(&payouts(20)).unwrap();
    a.tick(trail.log(), false).await.unwrap().expect("anchored again");

    let wide = alloy::rpc::types::Filter::new().address(contract).from_block(0);
    let e = p.get_logs(&wide).await.unwrap_err();
    assert!(e.to_string().contains("-32005") || e.to_string().contains("range"), "{e}");

    // The superseded receipt: the current anchor is found by a paged scan.
    let pins = Pins { contract, key: trail.verifier().clone() };
    let v = anchor::verify_onchain(&p, &r, &pins, Some(trail.log())).await.unwrap();
    assert_eq!((v.latest, v.current.0), (false, 35));
    // The state file lost: the service recovers the latest anchor the same way.
    std::fs::remove_file(dir.path().join(anchor::STATE_FILE)).unwrap();
    let a =
        Anchorer::setup(p.clone(), me, trail.log(), dir.path(), contract, policy).await.unwrap();
    assert_eq!(a.onchain_latest().await.unwrap(), (35, trail.log().root_at(35).unwrap()));
}
