//! Shared fixtures of the model marketplace's tests: a chain with DataMarket, AlaraToken and
//! the three model contracts, one client per account (one provider each, so nonces never go
//! stale), a dataset listing, and typed decoding of each contract's named errors.

use alara_chain::testing::Backend;
use alara_contracts::InferenceChannels::InferenceChannelsErrors;
use alara_contracts::ModelLicense::ModelLicenseErrors;
use alara_contracts::ModelRegistry::ModelRegistryErrors;
use alara_market::model::chain::{
    self, Format, ModelMarket, ModelMarketAddresses, ParentRef, VersionInput,
};
use alara_market::{DataMarket, Error, Token, DECODERS};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolInterface;

use crate::support::{addr, terms, Market};

/// Dev account indices by role (accounts 1-4 hold AlaraToken, approved to the DataMarket).
pub const OWNER: usize = 1;
pub const CLIENT: usize = 2;
pub const DATA_SELLER: usize = 3;
pub const BASE_OWNER: usize = 4;
pub const STRANGER: usize = 5;
const ACCOUNTS: usize = 6;

/// Price of one call (wei or token units).
pub const PRICE: u64 = 1_000_003;

pub struct Models {
    pub m: Market,
    pub addresses: ModelMarketAddresses,
    clients: Vec<ModelMarket<DynProvider>>,
    /// A dataset listed on the DataMarket by DATA_SELLER.
    pub listing: u64,
}

impl Models {
    pub async fn start(backend: Backend) -> Self {
        let m = Market::start(backend).await;
        let providers: Vec<DynProvider> = (0..ACCOUNTS).map(|i| m.chain.provider(i)).collect();
        let addresses = chain::deploy(&providers[0], m.address).await.unwrap();
        let mut clients = Vec::new();
        for (i, p) in providers.iter().enumerate() {
            clients.push(ModelMarket::new(addresses, p.clone(), addr(i)).await.unwrap());
        }
        let seller = DataMarket::new(m.address, providers[DATA_SELLER].clone(), addr(DATA_SELLER))
            .await
            .unwrap();
        let listing = seller.list(&terms(Token::Eth, 1)).await.unwrap().value;
        Self { m, addresses, clients, listing }
    }

    /// The client sending as dev account `i`.
    pub fn c(&self, i: usize) -> &ModelMarket<DynProvider> {
        &self.clients[i]
    }

    /// Account `i`'s provider (the one its client uses).
    pub fn p(&self, i: usize) -> &DynProvider {
        self.clients[i].registry().provider()
    }

    /// OWNER publishes a model paid in `token` whose version 1 is `version(tag)`.
    pub async fn publish(&self, tag: u8, token: Token, parents: &[ParentRef]) -> u64 {
        self.c(OWNER)
            .publish(&format!("model {tag}"), token, &version(tag), parents)
            .await
            .unwrap()
            .value
    }

    /// A channel of CLIENT on version 1 of `model`, signed by `signer`, holding `calls`
    /// calls' worth, expiring in a day.
    pub async fn open(&self, model: u64, signer: Address, calls: u64) -> u64 {
        let expiry = self.m.now().await + 86_400;
        self.c(CLIENT)
            .open_channel(model, 1, signer, U256::from(PRICE * calls), expiry)
            .await
            .unwrap()
            .value
    }

    pub async fn eth(&self, who: Address) -> U256 {
        self.p(0).get_balance(who).await.unwrap()
    }
}

/// A version input whose file hash is `tag` repeated, priced at `PRICE` per call and
/// `10 * PRICE` per licence.
pub fn version(tag: u8) -> VersionInput {
    VersionInput {
        file_hash: B256::repeat_byte(tag),
        card_hash: B256::repeat_byte(tag.wrapping_add(0x80)),
        cid: format!("bafkreimodel{tag}"),
        format: if tag.is_multiple_of(2) { Format::Onnx } else { Format::Safetensors },
        price_per_call: U256::from(PRICE),
        license_price: U256::from(10 * PRICE),
    }
}

/// Sends `call` simulated first, as the client does; a revert is decoded by name.
pub async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    call: &'static str,
    builder: &alloy::contract::CallBuilder<P, D>,
) -> Result<TransactionReceipt, Error> {
    alara_contracts::call::send(call, builder, DECODERS).await.map_err(Error::ModelContract)
}

fn revert_data<T: std::fmt::Debug>(r: Result<T, Error>, backend: Backend) -> Vec<u8> {
    match r {
        Ok(v) => panic!("{backend}: expected a revert, the call succeeded: {v:?}"),
        Err(e) => e
            .revert_data()
            .unwrap_or_else(|| panic!("{backend}: expected a revert, got {e}"))
            .to_vec(),
    }
}

/// The InferenceChannels error `r` reverted with.
#[track_caller]
pub fn channels_err<T: std::fmt::Debug>(
    r: Result<T, Error>,
    backend: Backend,
) -> InferenceChannelsErrors {
    let data = revert_data(r, backend);
    InferenceChannelsErrors::abi_decode(&data).unwrap_or_else(|_| {
        panic!(
            "{backend}: not an InferenceChannels error: {}",
            alara_market::describe_revert(&data)
        )
    })
}

/// The ModelRegistry error `r` reverted with.
#[track_caller]
pub fn registry_err<T: std::fmt::Debug>(
    r: Result<T, Error>,
    backend: Backend,
) -> ModelRegistryErrors {
    let data = revert_data(r, backend);
    ModelRegistryErrors::abi_decode(&data).unwrap_or_else(|_| {
        panic!("{backend}: not a ModelRegistry error: {}", alara_market::describe_revert(&data))
    })
}

/// The ModelLicense error `r` reverted with.
#[track_caller]
pub fn license_err<T: std::fmt::Debug>(
    r: Result<T, Error>,
    backend: Backend,
) -> ModelLicenseErrors {
    let data = revert_data(r, backend);
    ModelLicenseErrors::abi_decode(&data).unwrap_or_else(|_| {
        panic!("{backend}: not a ModelLicense error: {}", alara_market::describe_revert(&data))
    })
}

/// Asserts that `e` matches `pattern`, naming the backend and what came instead.
#[macro_export]
macro_rules! assert_err {
    ($e:expr, $pattern:pat, $backend:expr) => {{
        let e = $e;
        assert!(
            matches!(e, $pattern),
            "{}: expected {}, got {:?}",
            $backend,
            stringify!($pattern),
            e
        );
    }};
}
