//! The node reopens its database and continues exactly where it stopped.

use alara_chain::{dev, serve, Node, NodeConfig};
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use serde_json::json;

use crate::support::{rpc, transfer_1559};

#[tokio::test]
async fn reopening_keeps_blocks_receipts_state_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let to = Address::repeat_byte(0x44);
    let (hash, head, balance, genesis) = {
        let node = Node::open(NodeConfig::persistent(dir.path())).unwrap();
        let server = serve(node.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
        let (hash, raw) = transfer_1559(&dev::dev_signer(0), 31337, 0, to, U256::from(1234));
        let _ = p.send_raw_transaction(&raw).await.unwrap();
        rpc(&url, "evm_increaseTime", json!([1000])).await;
        let head = p.get_block_number().await.unwrap();
        let genesis = p.get_block_by_number(0.into()).await.unwrap().unwrap().header.hash;
        let balance = p.get_balance(to).await.unwrap();
        drop(node);
        server.stop().await;
        (hash, head, balance, genesis)
    };

    let node = Node::open(NodeConfig::persistent(dir.path())).unwrap();
    let server = serve(node, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
    assert_eq!(p.get_block_number().await.unwrap(), head);
    assert_eq!(p.get_block_by_number(0.into()).await.unwrap().unwrap().header.hash, genesis);
    assert_eq!(p.get_balance(to).await.unwrap(), balance);
    assert!(p.get_transaction_receipt(hash).await.unwrap().unwrap().status());
    // The clock offset survived: the next block is at least 1000 s ahead of the wall.
    rpc(&url, "evm_mine", json!([])).await;
    let ts = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(ts >= now + 990, "timestamp {ts} vs now {now}");
    // And the nonce continues.
    let (_, raw) = transfer_1559(&dev::dev_signer(0), 31337, 1, to, U256::from(1));
    p.send_raw_transaction(&raw).await.unwrap().get_receipt().await.unwrap();
}

#[tokio::test]
async fn a_second_process_on_the_same_data_dir_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _node = Node::open(NodeConfig::persistent(dir.path())).unwrap();
    let err = Node::open(NodeConfig::persistent(dir.path())).unwrap_err();
    assert!(err.to_string().contains("in use by another process"), "{err}");
}

#[tokio::test]
async fn a_different_chain_id_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Node::open(NodeConfig::persistent(dir.path())).unwrap());
    let mut config = NodeConfig::persistent(dir.path());
    config.chain_id = 5;
    let err = Node::open(config).unwrap_err();
    assert!(err.to_string().contains("holds chain 31337"), "{err}");
}
