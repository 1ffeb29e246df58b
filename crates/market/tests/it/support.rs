//! Shared fixtures: a chain with DataMarket and AlaraToken deployed and clients per account.

use alara_chain::dev::{dev_addresses, dev_signer};
use alara_chain::testing::{Backend, TestChain};
use alara_market::contract::{self, MarketParams};
use alara_market::{DataMarket, Error, ListingTerms, Token};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};

/// Dev account indices by role.
pub const ARBITER: usize = 0;
pub const SELLER: usize = 1;
pub const BUYER: usize = 2;
pub const OTHER: usize = 3;

pub const DELIVERY_WINDOW: u64 = 1_000;
pub const DISPUTE_WINDOW: u64 = 4_000;
pub const ARBITRATION_WINDOW: u64 = 5_000;

pub struct Market {
    pub chain: TestChain,
    pub address: Address,
    pub token: Address,
    pub arbiter_identity: alara_store::encrypt::Identity,
}

impl Market {
    /// A fresh chain with DataMarket (arbiter = account 0, 10 % bond) and AlaraToken, whose
    /// supply is spread over accounts 1-4 with the market approved to spend it.
    pub async fn start(backend: Backend) -> Self {
        Self::on(TestChain::start(backend).await.expect("test chain starts")).await
    }

    /// [`Market::start`] on a chain already running.
    pub async fn on(chain: TestChain) -> Self {
        let p0 = chain.provider(ARBITER);
        let arbiter_identity = alara_store::encrypt::generate_identity();
        let params = MarketParams {
            arbiter_key: alara_market::keys::recipient_bytes(&arbiter_identity.to_public())
                .unwrap(),
            dispute_window: DISPUTE_WINDOW,
            arbitration_window: ARBITRATION_WINDOW,
            dispute_bond_bps: 1_000,
        };
        let address = contract::deploy(&p0, &params).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let core = alara_contracts::deploy_core(&p0, dir.path(), dev_addresses()[0]).await.unwrap();
        let token = alara_contracts::AlaraToken::new(core.token, p0.clone());
        let each = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18));
        for i in 1..=4 {
            token
                .transfer(dev_addresses()[i], each)
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            let t = alara_contracts::AlaraToken::new(core.token, chain.provider(i));
            t.approve(address, U256::MAX).send().await.unwrap().get_receipt().await.unwrap();
        }
        Self { chain, address, token: core.token, arbiter_identity }
    }

    /// The parameters `start` deploys with.
    pub fn params(&self) -> MarketParams {
        MarketParams {
            arbiter_key: alara_market::keys::recipient_bytes(&self.arbiter_identity.to_public())
                .unwrap(),
            dispute_window: DISPUTE_WINDOW,
            arbitration_window: ARBITRATION_WINDOW,
            dispute_bond_bps: 1_000,
        }
    }

    pub async fn client(&self, account: usize) -> DataMarket<DynProvider> {
        DataMarket::new(self.address, self.chain.provider(account), dev_addresses()[account])
            .await
            .unwrap()
    }

    pub async fn warp(&self, secs: u64) {
        let p = self.chain.provider(0);
        let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// The next block gets timestamp `t` exactly.
    pub async fn set_next_timestamp(&self, t: u64) {
        let p = self.chain.provider(0);
        let _: serde_json::Value =
            p.raw_request("evm_setNextBlockTimestamp".into(), (t,)).await.unwrap();
    }

    /// Mines an empty block at timestamp `t`; returns its number.
    pub async fn mine_at(&self, t: u64) -> u64 {
        self.set_next_timestamp(t).await;
        let p = self.chain.provider(0);
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
        let n = p.get_block_number().await.unwrap();
        assert_eq!(self.block_time(n).await, t, "block {n} is at {t}");
        n
    }

    /// Timestamp of block `n`.
    pub async fn block_time(&self, n: u64) -> u64 {
        let p = self.chain.provider(0);
        p.get_block_by_number(n.into()).await.unwrap().unwrap().header.timestamp
    }

    /// Timestamp of the latest block.
    pub async fn now(&self) -> u64 {
        let p = self.chain.provider(0);
        self.block_time(p.get_block_number().await.unwrap()).await
    }

    pub async fn eth_balance(&self, who: Address) -> U256 {
        self.chain.provider(0).get_balance(who).await.unwrap()
    }

    pub async fn token_balance(&self, who: Address) -> U256 {
        alara_contracts::AlaraToken::new(self.token, self.chain.provider(0))
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }
}

pub fn terms(token: Token, price: u64) -> ListingTerms {
    ListingTerms {
        token,
        price: U256::from(price),
        downloadable: true,
        delivery_window: DELIVERY_WINDOW,
        cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into(),
        plaintext_hash: B256::repeat_byte(0xaa),
        terms_hash: B256::repeat_byte(0xbb),
    }
}

pub fn addr(i: usize) -> Address {
    dev_addresses()[i]
}

pub fn signer(i: usize) -> alloy::signers::local::PrivateKeySigner {
    dev_signer(i)
}

/// Runs `call` as `eth_call` in block `block`, so the contract sees exactly that block's
/// timestamp; a revert comes back as [`Error::Contract`] with the contract error's name.
pub async fn call_at<D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<&DynProvider, D>,
    from: Address,
    block: u64,
) -> Result<(), Error> {
    call.from(from)
        .block(block.into())
        .call_raw()
        .await
        .map(|_| ())
        .map_err(Error::contract("eth_call"))
}

/// Sends `call` without simulating it first, in a block at timestamp `t` exactly; returns
/// whether it succeeded. (A client simulates in the latest block, a second earlier.)
pub async fn send_at<D: alloy::contract::CallDecoder>(
    m: &Market,
    call: alloy::contract::CallBuilder<&DynProvider, D>,
    t: u64,
) -> bool {
    m.set_next_timestamp(t).await;
    let r = call.gas(1_000_000).send().await.unwrap().get_receipt().await.unwrap();
    let n = r.block_number.unwrap();
    assert_eq!(m.block_time(n).await, t, "mined at {t}");
    r.status()
}

/// Asserts that `r` is a revert with the named contract error.
#[track_caller]
pub fn assert_revert<T: std::fmt::Debug>(r: Result<T, Error>, name: &str, backend: Backend) {
    match r {
        Err(e) => assert_eq!(
            e.revert_name().as_deref(),
            Some(name),
            "{backend}: expected {name}, got {e}"
        ),
        Ok(v) => panic!("{backend}: expected a {name} revert, the call succeeded: {v:?}"),
    }
}
