//! [`ModelMarket`]: a typed client of `ModelRegistry`, `InferenceChannels` and
//! `ModelLicense`, and [`ensure_deployed`], which deploys them once per chain.
//!
//! Every transaction is simulated first and waited for (through
//! [`alara_contracts::call::send`]); it returns a [`Tx`] with the gas used. A revert
//! becomes [`Error::ModelContract`] carrying the contract's named error
//! (`AmountAboveValue { amount: …, value: … }`; [`Error::revert_name`] gives the name and
//! [`Error::revert_data`] the raw data to decode with the generated `…Errors` enums).

use std::path::Path;

use alara_contracts::call::{event_of, send, CallError};
use alara_contracts::InferenceChannels::{self, InferenceChannelsInstance};
use alara_contracts::ModelLicense::{self, ModelLicenseInstance};
use alara_contracts::ModelRegistry::{self, ModelRegistryInstance};
use alara_contracts::{AlaraToken, Tx};
use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{Eip712Domain, SolEvent};
use serde::{Deserialize, Serialize};

use super::voucher::{channels_domain, license_domain, SignedVoucher};
use crate::error::DECODERS;
use crate::{Error, Result, Token};

/// Name of `ModelRegistry` in the address book.
pub const REGISTRY_NAME: &str = "ModelRegistry";
/// Name of `InferenceChannels` in the address book.
pub const CHANNELS_NAME: &str = "InferenceChannels";
/// Name of `ModelLicense` in the address book.
pub const LICENSE_NAME: &str = "ModelLicense";
/// The ERC-1155 metadata URI of `ModelLicense` (`{id}` is the licence id in hex).
pub const LICENSE_URI: &str = "alara://model-license/{id}";

/// Where the model marketplace's contracts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelMarketAddresses {
    /// The `DataMarket` whose listings are dataset parents.
    pub data_market: Address,
    /// `ModelRegistry`.
    pub registry: Address,
    /// `InferenceChannels`.
    pub channels: Address,
    /// `ModelLicense`.
    pub license: Address,
}

/// Deploys `ModelRegistry`, `InferenceChannels` and `ModelLicense` once per chain (and the
/// `DataMarket` they refer to first, if it is missing; see [`crate::ensure_deployed`]),
/// recording them in the address book of `data_dir`; later calls send no transaction.
pub async fn ensure_deployed<P: Provider>(
    provider: &P,
    data_dir: &Path,
) -> Result<ModelMarketAddresses> {
    let data_market = crate::ensure_deployed(provider, data_dir).await?;
    let registry = alara_contracts::deploy::ensure(provider, data_dir, REGISTRY_NAME, || {
        deploy_registry(provider, data_market)
    })
    .await?;
    let channels = alara_contracts::deploy::ensure(provider, data_dir, CHANNELS_NAME, || {
        deploy_channels(provider, registry)
    })
    .await?;
    let license = alara_contracts::deploy::ensure(provider, data_dir, LICENSE_NAME, || {
        deploy_license(provider, registry)
    })
    .await?;
    Ok(ModelMarketAddresses { data_market, registry, channels, license })
}

/// Deploys a new set of the three contracts on `data_market` (no address book).
pub async fn deploy<P: Provider>(
    provider: &P,
    data_market: Address,
) -> Result<ModelMarketAddresses> {
    let registry = deploy_registry(provider, data_market).await?;
    let channels = deploy_channels(provider, registry).await?;
    let license = deploy_license(provider, registry).await?;
    Ok(ModelMarketAddresses { data_market, registry, channels, license })
}

fn model_error(call: &'static str) -> impl FnOnce(alloy::contract::Error) -> Error {
    move |source| Error::ModelContract(CallError::from_contract(call, DECODERS, source))
}

/// Deploys a `ModelRegistry` over the `DataMarket` at `data_market`.
pub async fn deploy_registry<P: Provider>(provider: &P, data_market: Address) -> Result<Address> {
    let builder = ModelRegistry::deploy_builder(provider, data_market);
    // Simulated first, as every send: a failing estimate would leave a nonce gap.
    builder.call_raw().await.map_err(model_error("ModelRegistry constructor"))?;
    builder.deploy().await.map_err(model_error("ModelRegistry constructor"))
}

/// Deploys an `InferenceChannels` over the registry at `registry`.
pub async fn deploy_channels<P: Provider>(provider: &P, registry: Address) -> Result<Address> {
    let builder = InferenceChannels::deploy_builder(provider, registry);
    builder.call_raw().await.map_err(model_error("InferenceChannels constructor"))?;
    builder.deploy().await.map_err(model_error("InferenceChannels constructor"))
}

/// Deploys a `ModelLicense` over the registry at `registry`.
pub async fn deploy_license<P: Provider>(provider: &P, registry: Address) -> Result<Address> {
    let builder = ModelLicense::deploy_builder(provider, registry, LICENSE_URI.to_string());
    builder.call_raw().await.map_err(model_error("ModelLicense constructor"))?;
    builder.deploy().await.map_err(model_error("ModelLicense constructor"))
}

/// A model file format (both load without running code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ONNX.
    Onnx,
    /// safetensors.
    Safetensors,
}

impl Format {
    /// Lower-case name (`onnx`, `safetensors`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Onnx => "onnx",
            Format::Safetensors => "safetensors",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Format::Onnx => 0,
            Format::Safetensors => 1,
        }
    }

    fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(Format::Onnx),
            1 => Ok(Format::Safetensors),
            _ => Err(Error::OutOfRange(format!(
                "model format {v} is not ONNX (0) or safetensors (1); is this a ModelRegistry?"
            ))),
        }
    }
}

/// What a parent of a version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParentKind {
    /// A `DataMarket` listing (the dataset a model was trained on).
    Dataset,
    /// Another model of the registry (a base model).
    Model,
}

impl ParentKind {
    fn to_u8(self) -> u8 {
        match self {
            ParentKind::Dataset => 0,
            ParentKind::Model => 1,
        }
    }

    fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(ParentKind::Dataset),
            1 => Ok(ParentKind::Model),
            _ => Err(Error::OutOfRange(format!(
                "parent kind {v} is not dataset (0) or model (1); is this a ModelRegistry?"
            ))),
        }
    }
}

/// A parent named at publication, with its share of every payment in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// Dataset or model.
    pub kind: ParentKind,
    /// The listing id or model id.
    pub id: u64,
    /// Share in basis points (1 to 10,000; all parents together at most 10,000).
    pub bps: u16,
}

/// A stored parent, with the payee resolved at publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    /// Dataset or model.
    pub kind: ParentKind,
    /// The listing id or model id.
    pub id: u64,
    /// Who is paid: the listing's seller, or the parent model's owner at publication.
    pub payee: Address,
    /// Share in basis points.
    pub bps: u16,
}

/// A version to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInput {
    /// SHA-256 of the model file.
    pub file_hash: B256,
    /// Hash of the model card.
    pub card_hash: B256,
    /// CID of the model file in the content store.
    pub cid: String,
    /// File format.
    pub format: Format,
    /// Price of one call through a channel, in the model's token.
    pub price_per_call: U256,
    /// Price of a licence (zero: not for sale).
    pub license_price: U256,
}

/// A published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// SHA-256 of the model file.
    pub file_hash: B256,
    /// Hash of the model card.
    pub card_hash: B256,
    /// CID of the model file.
    pub cid: String,
    /// File format.
    pub format: Format,
    /// Price of one call.
    pub price_per_call: U256,
    /// Price of a licence (zero: not for sale).
    pub license_price: U256,
    /// Block time of publication.
    pub published_at: u64,
    /// Whether it takes no new channels or licences.
    pub deprecated: bool,
}

/// A model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// Current owner: claims channels, receives the remainder of each split.
    pub owner: Address,
    /// Payment asset.
    pub token: Token,
    /// Number of versions (1..=versions exist).
    pub versions: u32,
    /// Name.
    pub name: String,
}

/// A payment channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Who opened it and gets the refund.
    pub sender: Address,
    /// Who signs its vouchers.
    pub signer: Address,
    /// The model.
    pub model: u64,
    /// The version.
    pub version: u32,
    /// Payment asset.
    pub token: Token,
    /// Number of claims so far: the nonce the next voucher must carry.
    pub nonce: u64,
    /// Unix time from which only the refund is possible.
    pub expiry: u64,
    /// What is still deposited.
    pub value: U256,
    /// Closed by a final claim or the refund.
    pub closed: bool,
}

/// What one claim paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The channel.
    pub channel: u64,
    /// The nonce the voucher was for (the channel is now at `nonce + 1`).
    pub nonce: u64,
    /// The amount claimed.
    pub amount: U256,
    /// Each credit of the split, parents first, the owner last.
    pub payments: Vec<(Address, U256)>,
    /// Credited back to the sender when the claim closed the channel.
    pub refunded: Option<U256>,
}

/// Which contract holds a credit to withdraw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payer {
    /// `InferenceChannels` (claims, refunds).
    Channels,
    /// `ModelLicense` (licence sales).
    Licenses,
}

fn id_u64(v: U256, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::OutOfRange(format!("{what} {v} does not fit in 64 bits")))
}

/// The licence token id of version `version` of `model`: `(model << 32) | version`.
pub fn license_id(model: u64, version: u32) -> U256 {
    (U256::from(model) << 32) | U256::from(version)
}

/// A typed client of the model marketplace's three contracts, sending as one account.
#[derive(Debug, Clone)]
pub struct ModelMarket<P> {
    addresses: ModelMarketAddresses,
    registry: ModelRegistryInstance<P, Ethereum>,
    channels: InferenceChannelsInstance<P, Ethereum>,
    license: ModelLicenseInstance<P, Ethereum>,
    account: Address,
    chain_id: u64,
}

impl<P: Provider + Clone> ModelMarket<P> {
    /// A client of the contracts at `addresses` that sends as `account` (the provider's
    /// signer). Fails when one of them has no code.
    pub async fn new(
        addresses: ModelMarketAddresses,
        provider: P,
        account: Address,
    ) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|source| Error::Rpc { what: "eth_chainId", source })?;
        for (name, address) in [
            (REGISTRY_NAME, addresses.registry),
            (CHANNELS_NAME, addresses.channels),
            (LICENSE_NAME, addresses.license),
        ] {
            let code = provider
                .get_code_at(address)
                .await
                .map_err(|source| Error::Rpc { what: "eth_getCode", source })?;
            if code.is_empty() {
                return Err(Error::NotFound(format!(
                    "no {name} at {address} on chain {chain_id}; deploy it with `alara up`"
                )));
            }
        }
        Ok(Self::bind(addresses, provider, account, chain_id))
    }

    fn bind(addresses: ModelMarketAddresses, provider: P, account: Address, chain_id: u64) -> Self {
        Self {
            addresses,
            registry: ModelRegistry::new(addresses.registry, provider.clone()),
            channels: InferenceChannels::new(addresses.channels, provider.clone()),
            license: ModelLicense::new(addresses.license, provider),
            account,
            chain_id,
        }
    }

    /// The same contracts, sending as another account through `provider`.
    pub fn as_account<Q: Provider + Clone>(&self, provider: Q, account: Address) -> ModelMarket<Q> {
        ModelMarket::bind(self.addresses, provider, account, self.chain_id)
    }

    /// The contracts' addresses.
    pub fn addresses(&self) -> ModelMarketAddresses {
        self.addresses
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sending account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The EIP-712 domain vouchers of this `InferenceChannels` are signed in.
    pub fn channels_domain(&self) -> Eip712Domain {
        channels_domain(self.chain_id, self.addresses.channels)
    }

    /// The EIP-712 domain licensed calls of this `ModelLicense` are signed in.
    pub fn license_domain(&self) -> Eip712Domain {
        license_domain(self.chain_id, self.addresses.license)
    }

    /// The `ModelRegistry` binding (for calls this client does not wrap).
    pub fn registry(&self) -> &ModelRegistryInstance<P, Ethereum> {
        &self.registry
    }

    /// The `InferenceChannels` binding.
    pub fn channels(&self) -> &InferenceChannelsInstance<P, Ethereum> {
        &self.channels
    }

    /// The `ModelLicense` binding.
    pub fn license(&self) -> &ModelLicenseInstance<P, Ethereum> {
        &self.license
    }

    async fn mined<Q: Provider, D: alloy::contract::CallDecoder>(
        &self,
        call: &'static str,
        builder: &alloy::contract::CallBuilder<Q, D, Ethereum>,
    ) -> Result<TransactionReceipt> {
        send(call, builder, DECODERS).await.map_err(Error::ModelContract)
    }

    fn event<E: SolEvent>(
        receipt: &TransactionReceipt,
        contract: Address,
        call: &'static str,
    ) -> Result<E> {
        event_of(receipt, contract, call).map_err(Error::ModelContract)
    }

    /// Every `E` the transaction emitted from `contract`, in order.
    fn events<E: SolEvent>(receipt: &TransactionReceipt, contract: Address) -> Vec<E> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == contract)
            .filter_map(|l| E::decode_log(&l.inner).ok().map(|l| l.data))
            .collect()
    }

    // ------------------------------------------------------------ registry

    /// Publishes a model paid in `token` with `v` as version 1; returns the model id.
    pub async fn publish(
        &self,
        name: &str,
        token: Token,
        v: &VersionInput,
        parents: &[ParentRef],
    ) -> Result<Tx<u64>> {
        let call = self.registry.publish(
            name.to_string(),
            token.address(),
            sol_version(v),
            sol_parents(parents),
        );
        let r = self.mined("publish", &call).await?;
        let ev: ModelRegistry::ModelPublished =
            Self::event(&r, self.addresses.registry, "publish")?;
        Ok(Tx::from_receipt(&r, id_u64(ev.modelId, "model id")?))
    }

    /// Publishes the next version of `model` (owner only); returns its number.
    pub async fn publish_version(
        &self,
        model: u64,
        v: &VersionInput,
        parents: &[ParentRef],
    ) -> Result<Tx<u32>> {
        let call =
            self.registry.publishVersion(U256::from(model), sol_version(v), sol_parents(parents));
        let r = self.mined("publishVersion", &call).await?;
        let ev: ModelRegistry::VersionPublished =
            Self::event(&r, self.addresses.registry, "publishVersion")?;
        Ok(Tx::from_receipt(&r, ev.version))
    }

    /// Deprecates a version (owner only): no new channels or licences.
    pub async fn deprecate(&self, model: u64, version: u32) -> Result<Tx<()>> {
        let r =
            self.mined("deprecate", &self.registry.deprecate(U256::from(model), version)).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Proposes `new_owner` for `model` (owner only); `Address::ZERO` cancels.
    pub async fn transfer_ownership(&self, model: u64, new_owner: Address) -> Result<Tx<()>> {
        let call = self.registry.transferOwnership(U256::from(model), new_owner);
        let r = self.mined("transferOwnership", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Takes over `model` (the proposed owner only).
    pub async fn accept_ownership(&self, model: u64) -> Result<Tx<()>> {
        let r = self
            .mined("acceptOwnership", &self.registry.acceptOwnership(U256::from(model)))
            .await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// The model `model`.
    pub async fn model(&self, model: u64) -> Result<Model> {
        let m =
            self.registry.model(U256::from(model)).call().await.map_err(model_error("model"))?;
        Ok(Model {
            owner: m.owner,
            token: Token::from_address(m.token),
            versions: m.versions,
            name: m.name,
        })
    }

    /// Version `version` of `model`.
    pub async fn version(&self, model: u64, version: u32) -> Result<Version> {
        let v = self
            .registry
            .version(U256::from(model), version)
            .call()
            .await
            .map_err(model_error("version"))?;
        Ok(Version {
            file_hash: v.fileHash,
            card_hash: v.cardHash,
            cid: v.cid,
            format: Format::from_u8(v.format)?,
            price_per_call: v.pricePerCall,
            license_price: v.licensePrice,
            published_at: v.publishedAt,
            deprecated: v.deprecated,
        })
    }

    /// The parents of version `version` of `model`.
    pub async fn parents(&self, model: u64, version: u32) -> Result<Vec<Parent>> {
        let ps = self
            .registry
            .parents(U256::from(model), version)
            .call()
            .await
            .map_err(model_error("parents"))?;
        ps.into_iter()
            .map(|p| {
                Ok(Parent {
                    kind: ParentKind::from_u8(p.kind)?,
                    id: id_u64(p.id, "parent id")?,
                    payee: p.payee,
                    bps: p.bps,
                })
            })
            .collect()
    }

    /// The model and version published with `file_hash`, if any.
    pub async fn by_file_hash(&self, file_hash: B256) -> Result<Option<(u64, u32)>> {
        let r =
            self.registry.byFileHash(file_hash).call().await.map_err(model_error("byFileHash"))?;
        if r.modelId.is_zero() {
            return Ok(None);
        }
        Ok(Some((id_u64(r.modelId, "model id")?, r.version_)))
    }

    // ------------------------------------------------------------ payments

    /// Approves `spender` to pull `amount` of `token` when the allowance is short (nothing
    /// for ETH).
    async fn ensure_allowance(&self, token: Token, spender: Address, amount: U256) -> Result<()> {
        let Token::Erc20(addr) = token else { return Ok(()) };
        let erc20 = AlaraToken::new(addr, self.registry.provider().clone());
        let allowance = erc20
            .allowance(self.account, spender)
            .call()
            .await
            .map_err(model_error("allowance"))?;
        if allowance < amount {
            send("approve", &erc20.approve(spender, amount), DECODERS)
                .await
                .map_err(Error::ModelContract)?;
        }
        Ok(())
    }

    fn value_for(token: Token, amount: U256) -> U256 {
        match token {
            Token::Eth => amount,
            Token::Erc20(_) => U256::ZERO,
        }
    }

    /// Opens a channel on `version` of `model` with `amount` deposited (ETH as value, or
    /// the model's ERC-20 after approving it), vouchers signed by `signer`, expiring at
    /// `expiry` (unix seconds, at most 365 days away). Returns the channel id.
    pub async fn open_channel(
        &self,
        model: u64,
        version: u32,
        signer: Address,
        amount: U256,
        expiry: u64,
    ) -> Result<Tx<u64>> {
        let token = self.model(model).await?.token;
        self.ensure_allowance(token, self.addresses.channels, amount).await?;
        let call = self
            .channels
            .open(U256::from(model), version, signer, amount, expiry)
            .value(Self::value_for(token, amount));
        let r = self.mined("open", &call).await?;
        let ev: InferenceChannels::Opened = Self::event(&r, self.addresses.channels, "open")?;
        Ok(Tx::from_receipt(&r, id_u64(ev.channelId, "channel id")?))
    }

    /// Adds `amount` to `channel` (sender only); returns the new value.
    pub async fn top_up(&self, channel: u64, amount: U256) -> Result<Tx<U256>> {
        let token = self.channel(channel).await?.token;
        self.ensure_allowance(token, self.addresses.channels, amount).await?;
        let call =
            self.channels.topUp(U256::from(channel), amount).value(Self::value_for(token, amount));
        let r = self.mined("topUp", &call).await?;
        let ev: InferenceChannels::ToppedUp = Self::event(&r, self.addresses.channels, "topUp")?;
        Ok(Tx::from_receipt(&r, ev.value))
    }

    /// Moves the expiry of `channel` to `new_expiry` (sender only, later only).
    pub async fn extend(&self, channel: u64, new_expiry: u64) -> Result<Tx<()>> {
        let r =
            self.mined("extend", &self.channels.extend(U256::from(channel), new_expiry)).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Claims `voucher` (the model's owner only, before expiry). With `keep_open` false the
    /// rest of the deposit goes back to the sender and the channel closes.
    pub async fn claim(&self, voucher: &SignedVoucher, keep_open: bool) -> Result<Tx<Claim>> {
        let v = &voucher.voucher;
        let call = self.channels.claim(
            v.channelId,
            v.amount,
            v.prevReceipt,
            Bytes::copy_from_slice(&voucher.signature),
            keep_open,
        );
        let r = self.mined("claim", &call).await?;
        let ev: InferenceChannels::Claimed = Self::event(&r, self.addresses.channels, "claim")?;
        let payments = Self::events::<InferenceChannels::Paid>(&r, self.addresses.channels)
            .into_iter()
            .map(|p| (p.payee, p.amount))
            .collect();
        let refunded =
            Self::events::<InferenceChannels::ChannelClosed>(&r, self.addresses.channels)
                .first()
                .map(|c| c.refunded);
        Ok(Tx::from_receipt(
            &r,
            Claim {
                channel: id_u64(ev.channelId, "channel id")?,
                nonce: ev.nonce,
                amount: ev.amount,
                payments,
                refunded,
            },
        ))
    }

    /// Closes `channel` after its expiry (sender only); returns what was credited back.
    pub async fn refund(&self, channel: u64) -> Result<Tx<U256>> {
        let r = self.mined("refund", &self.channels.refund(U256::from(channel))).await?;
        let ev: InferenceChannels::ChannelClosed =
            Self::event(&r, self.addresses.channels, "refund")?;
        Ok(Tx::from_receipt(&r, ev.refunded))
    }

    /// The channel `channel`.
    pub async fn channel(&self, channel: u64) -> Result<Channel> {
        let id = U256::from(channel);
        let c = self.channels.channels(id).call().await.map_err(model_error("channels"))?;
        let closed = self.channels.closed(id).call().await.map_err(model_error("closed"))?;
        Ok(Channel {
            sender: c.sender,
            signer: c.signer,
            model: id_u64(c.modelId, "model id")?,
            version: c.version,
            token: Token::from_address(c.token),
            nonce: c.nonce,
            expiry: c.expiry,
            value: c.value,
            closed,
        })
    }

    /// What `account` may withdraw from `payer` in `token`.
    pub async fn owed(&self, payer: Payer, account: Address, token: Token) -> Result<U256> {
        match payer {
            Payer::Channels => self.channels.owed(account, token.address()).call().await,
            Payer::Licenses => self.license.owed(account, token.address()).call().await,
        }
        .map_err(model_error("owed"))
    }

    /// Withdraws everything the account is owed by `payer` in `token`; returns the amount.
    pub async fn withdraw(&self, payer: Payer, token: Token) -> Result<Tx<U256>> {
        let (r, contract) = match payer {
            Payer::Channels => (
                self.mined("withdraw", &self.channels.withdraw(token.address())).await?,
                self.addresses.channels,
            ),
            Payer::Licenses => (
                self.mined("withdraw", &self.license.withdraw(token.address())).await?,
                self.addresses.license,
            ),
        };
        let ev: InferenceChannels::Withdrawn = Self::event(&r, contract, "withdraw")?;
        Ok(Tx::from_receipt(&r, ev.amount))
    }

    // ------------------------------------------------------------ licences

    /// Buys a licence of `version` of `model` at its licence price (ETH as value, or the
    /// model's ERC-20 after approving it); returns the licence id.
    pub async fn buy_license(&self, model: u64, version: u32) -> Result<Tx<U256>> {
        let token = self.model(model).await?.token;
        let price = self.version(model, version).await?.license_price;
        self.ensure_allowance(token, self.addresses.license, price).await?;
        let call =
            self.license.buy(U256::from(model), version).value(Self::value_for(token, price));
        let r = self.mined("buy", &call).await?;
        let ev: ModelLicense::LicenseBought = Self::event(&r, self.addresses.license, "buy")?;
        Ok(Tx::from_receipt(&r, ev.licenseId))
    }

    /// Whether `account` holds a licence of exactly `version` of `model`.
    pub async fn holds(&self, account: Address, model: u64, version: u32) -> Result<bool> {
        self.license
            .holds(account, U256::from(model), version)
            .call()
            .await
            .map_err(model_error("holds"))
    }
}

fn sol_version(v: &VersionInput) -> ModelRegistry::VersionInput {
    ModelRegistry::VersionInput {
        fileHash: v.file_hash,
        cardHash: v.card_hash,
        cid: v.cid.clone(),
        format: v.format.to_u8(),
        pricePerCall: v.price_per_call,
        licensePrice: v.license_price,
    }
}

fn sol_parents(parents: &[ParentRef]) -> Vec<ModelRegistry::ParentRef> {
    parents
        .iter()
        .map(|p| ModelRegistry::ParentRef {
            kind: p.kind.to_u8(),
            id: U256::from(p.id),
            bps: p.bps,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn license_ids_pack_model_and_version() {
        assert_eq!(license_id(1, 1), U256::from((1u64 << 32) | 1));
        assert_ne!(license_id(1, 2), license_id(2, 1));
        assert_eq!(license_id(u64::MAX, u32::MAX) >> 32, U256::from(u64::MAX));
    }

    #[test]
    fn enums_roundtrip_and_refuse_unknown_values() {
        for f in [Format::Onnx, Format::Safetensors] {
            assert_eq!(Format::from_u8(f.to_u8()).unwrap(), f);
        }
        for k in [ParentKind::Dataset, ParentKind::Model] {
            assert_eq!(ParentKind::from_u8(k.to_u8()).unwrap(), k);
        }
        assert!(Format::from_u8(2).is_err());
        assert!(ParentKind::from_u8(9).is_err());
    }
}
