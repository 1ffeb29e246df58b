//! Block 0: the dev accounts' balances and a header committing to them (the Merkle state
//! root of the alloc, whose trie nodes are written with the block).

use alloy::consensus::constants::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy::consensus::Header;
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy::primitives::{keccak256, Address, Bloom, Bytes, B256, B64, KECCAK256_EMPTY, U256};

use super::{now_secs, NodeConfig, INITIAL_BASE_FEE};
use crate::storage::{meta, AccountRecord, BlockRecord, CommitBatch, Storage};
use crate::trie::{NoNodes, StateUpdate};
use crate::{dev, Result};

/// Writes the genesis block (and the dev accounts, if configured) to a new database.
pub(super) fn write_genesis(storage: &Storage, config: &NodeConfig) -> Result<()> {
    let mut batch = CommitBatch::default();
    if config.dev_accounts {
        for addr in dev::dev_addresses() {
            batch.accounts.push((
                addr,
                Some(AccountRecord {
                    nonce: 0,
                    balance: dev::DEV_BALANCE,
                    code_hash: KECCAK256_EMPTY,
                }),
            ));
        }
    }
    let state_root = if config.merkle_state_root {
        let update = StateUpdate {
            accounts: batch.accounts.iter().copied().collect(),
            ..Default::default()
        };
        let (root, trie) = update.apply(&NoNodes, &mut |_| Ok(None))?;
        batch.trie = trie;
        root
    } else {
        let mut alloc = Vec::new();
        for (addr, rec) in &batch.accounts {
            alloc.extend_from_slice(addr.as_slice());
            alloc
                .extend_from_slice(&rec.map(|r| r.balance).unwrap_or_default().to_be_bytes::<32>());
        }
        keccak256([b"alara-genesis".as_slice(), &config.chain_id.to_be_bytes(), &alloc].concat())
    };
    let timestamp = now_secs();
    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: U256::ZERO,
        number: 0,
        gas_limit: config.gas_limit,
        gas_used: 0,
        timestamp,
        extra_data: Bytes::from_static(b"alara"),
        mix_hash: B256::ZERO,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(INITIAL_BASE_FEE),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: config.hardfork.has_requests().then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    };
    let hash = header.hash_slow();
    batch.blocks.push(BlockRecord {
        header,
        hash,
        txs: Vec::new(),
        receipts: Vec::new(),
        appearances: Vec::new(),
    });
    batch.meta = vec![
        (meta::HEAD, 0u64.to_be_bytes().to_vec()),
        (meta::LAST_SEQ, 0u64.to_be_bytes().to_vec()),
        (meta::TIME_OFFSET, 0i64.to_be_bytes().to_vec()),
        (meta::CHAIN_ID, config.chain_id.to_be_bytes().to_vec()),
        (meta::MERKLE_ROOT, u64::from(config.merkle_state_root).to_be_bytes().to_vec()),
    ];
    storage.commit(&batch)
}
