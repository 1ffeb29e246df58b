//! [`DataMarket`]: a typed client of the `DataMarket` contract, and [`ensure_deployed`].
//!
//! Every transaction method waits for the receipt and returns a [`Tx`] with the gas used;
//! a revert becomes [`Error::Contract`] carrying the contract's
//! named error (`InvalidSaleState { saleId: 1, state: 5 }`). Views combine the contract's
//! storage with its events (the CID, commitments, keys and envelopes live only in events).

use std::path::Path;

use alara_contracts::AlaraToken;
use alara_contracts::DataMarket as Binding;
use alloy::eips::BlockNumberOrTag;
use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::error::DECODERS;
use crate::keys::Keyring;
use crate::{Error, Result};

/// Name of the contract in the address book.
pub const CONTRACT_NAME: &str = "DataMarket";

/// The instance type of the generated binding.
pub type Instance<P> = Binding::DataMarketInstance<P, Ethereum>;

/// Deployment parameters (immutable in the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketParams {
    /// The arbiter's X25519 public key: dispute evidence is encrypted to it.
    pub arbiter_key: [u8; 32],
    /// Seconds after delivery during which the buyer may dispute.
    pub dispute_window: u64,
    /// Seconds the arbiter has to decide a dispute.
    pub arbitration_window: u64,
    /// Dispute bond in basis points of the price.
    pub dispute_bond_bps: u16,
}

impl MarketParams {
    /// Defaults: three days to dispute, seven to arbitrate, a 10 % bond.
    pub fn new(arbiter_key: [u8; 32]) -> Self {
        Self {
            arbiter_key,
            dispute_window: 3 * 86_400,
            arbitration_window: 7 * 86_400,
            dispute_bond_bps: 1_000,
        }
    }
}

/// Deploys `DataMarket` once per chain and records it in the address book under
/// [`CONTRACT_NAME`]; later calls return the recorded address (no transaction) as long as
/// code is still there. The deploying account becomes the arbiter; its X25519 identity is
/// created in `<data-dir>/market/keys/arbiter.key`.
pub async fn ensure_deployed<P: Provider>(provider: &P, data_dir: &Path) -> Result<Address> {
    alara_contracts::deploy::ensure(provider, data_dir, CONTRACT_NAME, || async {
        let arbiter = Keyring::in_data_dir(data_dir).arbiter_identity()?;
        let params = MarketParams::new(crate::keys::recipient_bytes(&arbiter.to_public())?);
        deploy(provider, &params).await
    })
    .await
}

/// Deploys a new `DataMarket` with `params`; the sender is the arbiter.
pub async fn deploy<P: Provider>(provider: &P, params: &MarketParams) -> Result<Address> {
    let builder = Binding::deploy_builder(
        provider,
        B256::from(params.arbiter_key),
        params.dispute_window,
        params.arbitration_window,
        params.dispute_bond_bps,
    );
    // Simulate first: a constructor that reverts (out-of-range parameters) would otherwise
    // fail in gas estimation after alloy's nonce filler took a nonce, and every later
    // transaction of this provider would wait behind the gap (see alara_contracts::call).
    builder.call_raw().await.map_err(Error::contract("constructor"))?;
    builder.deploy().await.map_err(Error::contract("constructor"))
}

pub use alara_contracts::Tx;

mod types;
pub use types::{
    ComputeOffer, Job, JobResultRef, JobState, Listing, ListingTerms, Sale, SaleState, Token,
};

/// A typed client of one `DataMarket`, sending as one account.
#[derive(Debug, Clone)]
pub struct DataMarket<P> {
    instance: Instance<P>,
    account: Address,
    chain_id: u64,
    /// Where event scans start: the first block with the contract's code.
    from_block: u64,
}

fn id_u64(v: U256, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::OutOfRange(format!("{what} {v} does not fit in 64 bits")))
}

fn topic(id: u64) -> B256 {
    B256::from(U256::from(id))
}

/// The first `event` whose first indexed argument is `id` (a sale, job or listing id),
/// scanned from `from_block` (the contract's deployment) in pages, never from block 0:
/// public RPCs cap the range of `eth_getLogs`.
async fn first_event<P: Provider, E: alloy::sol_types::SolEvent>(
    event: alloy::contract::Event<P, E>,
    id: u64,
    from_block: u64,
    what: &'static str,
) -> Result<Option<E>> {
    let filter = event.filter.clone().topic1(topic(id));
    let logs = alara_contracts::logs::scan(&event.provider, &filter, from_block)
        .await
        .map_err(|e| Error::Scan { what, source: Box::new(e) })?;
    Ok(logs.iter().find_map(|l| E::decode_log(&l.inner).ok()).map(|l| l.data))
}

impl<P: Provider + Clone> DataMarket<P> {
    /// A client of the contract at `address` that sends as `account` (the provider's
    /// signer).
    pub async fn new(address: Address, provider: P, account: Address) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|source| Error::Rpc { what: "eth_chainId", source })?;
        let code = provider
            .get_code_at(address)
            .await
            .map_err(|source| Error::Rpc { what: "eth_getCode", source })?;
        if code.is_empty() {
            return Err(Error::NotFound(format!(
                "no contract at {address} on chain {chain_id}; deploy with `alara up` or `alara data` commands"
            )));
        }
        let from_block =
            alara_contracts::deploy::first_block_with_code(&provider, address)
                .await
                .map_err(|e| Error::NotFound(format!("the deployment block of {address}: {e}")))?;
        Ok(Self { instance: Binding::new(address, provider), account, chain_id, from_block })
    }

    /// The same contract, sending as another account through `provider`.
    pub fn as_account<Q: Provider + Clone>(&self, provider: Q, account: Address) -> DataMarket<Q> {
        DataMarket {
            instance: Binding::new(*self.instance.address(), provider),
            account,
            chain_id: self.chain_id,
            from_block: self.from_block,
        }
    }

    /// Contract address.
    pub fn address(&self) -> Address {
        *self.instance.address()
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sending account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        self.instance.provider()
    }

    /// The generated binding (for calls this client does not wrap).
    pub fn instance(&self) -> &Instance<P> {
        &self.instance
    }

    /// `<chain id>/<contract>`: prefix of the ids in audit entries.
    pub fn qualifier(&self) -> String {
        format!("{}/{}", self.chain_id, self.address())
    }

    /// Sends `builder` through [`alara_contracts::call::send`] (simulated first) and waits
    /// for its receipt.
    async fn mined<Q, D>(
        &self,
        call: &'static str,
        builder: &alloy::contract::CallBuilder<Q, D, Ethereum>,
    ) -> Result<TransactionReceipt>
    where
        Q: Provider,
        D: alloy::contract::CallDecoder,
    {
        Ok(alara_contracts::call::send(call, builder, DECODERS).await?)
    }

    fn event<E: SolEvent>(&self, receipt: &TransactionReceipt, call: &'static str) -> Result<E> {
        Ok(alara_contracts::call::event_of(receipt, self.address(), call)?)
    }

    // ------------------------------------------------------------ listings

    /// Lists a dataset; returns the listing id.
    pub async fn list(&self, terms: &ListingTerms) -> Result<Tx<u64>> {
        let call = self.instance.list(
            terms.token.address(),
            terms.price,
            terms.downloadable,
            terms.delivery_window,
            terms.cid.clone(),
            terms.plaintext_hash,
            terms.terms_hash,
        );
        let r = self.mined("list", &call).await?;
        let ev: Binding::Listed = self.event(&r, "list")?;
        Ok(Tx::from_receipt(&r, id_u64(ev.listingId, "listing id")?))
    }

    /// Closes a listing to new purchases and jobs.
    pub async fn delist(&self, listing: u64) -> Result<Tx<()>> {
        let r = self.mined("delist", &self.instance.delist(U256::from(listing))).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Allow-lists `algorithm` on `listing` at `price` with `job_window` seconds.
    pub async fn offer_compute(
        &self,
        listing: u64,
        algorithm: B256,
        price: U256,
        job_window: u64,
    ) -> Result<Tx<()>> {
        let call = self.instance.offerCompute(U256::from(listing), algorithm, price, job_window);
        let r = self.mined("offerCompute", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Removes `algorithm` from the allow-list of `listing`.
    pub async fn revoke_compute(&self, listing: u64, algorithm: B256) -> Result<Tx<()>> {
        let call = self.instance.revokeCompute(U256::from(listing), algorithm);
        let r = self.mined("revokeCompute", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    // ------------------------------------------------------------ payments

    /// Approves the market to pull `amount` of `token` when the allowance is short
    /// (nothing for ETH). Returns the approval transaction, if one was needed.
    pub async fn ensure_allowance(&self, token: Token, amount: U256) -> Result<Option<Tx<()>>> {
        let Token::Erc20(addr) = token else { return Ok(None) };
        if amount.is_zero() {
            return Ok(None);
        }
        let erc20 = AlaraToken::new(addr, self.provider().clone());
        let allowance = erc20
            .allowance(self.account, self.address())
            .call()
            .await
            .map_err(Error::contract("allowance"))?;
        if allowance >= amount {
            return Ok(None);
        }
        let r = self.mined("approve", &erc20.approve(self.address(), amount)).await?;
        Ok(Some(Tx::from_receipt(&r, ())))
    }

    fn value_for(token: Token, amount: U256) -> U256 {
        match token {
            Token::Eth => amount,
            Token::Erc20(_) => U256::ZERO,
        }
    }

    /// Buys a download of `listing`, registering `buyer_key`; pays the listed price (ETH
    /// as value, or ERC-20 after [`DataMarket::ensure_allowance`]). Returns the sale id.
    pub async fn buy(&self, listing: u64, buyer_key: [u8; 32]) -> Result<Tx<u64>> {
        let l = self.listing(listing).await?;
        self.ensure_allowance(l.terms.token, l.terms.price).await?;
        self.buy_paying(listing, buyer_key, Self::value_for(l.terms.token, l.terms.price)).await
    }

    /// [`DataMarket::buy`] with an explicit ETH value (tests of wrong payments).
    pub async fn buy_paying(
        &self,
        listing: u64,
        buyer_key: [u8; 32],
        value: U256,
    ) -> Result<Tx<u64>> {
        let call = self.instance.buy(U256::from(listing), B256::from(buyer_key)).value(value);
        let r = self.mined("buy", &call).await?;
        let ev: Binding::Purchased = self.event(&r, "buy")?;
        Ok(Tx::from_receipt(&r, id_u64(ev.saleId, "sale id")?))
    }

    /// Publishes the key envelope of `sale` (seller).
    pub async fn deliver(&self, sale: u64, envelope: Vec<u8>) -> Result<Tx<()>> {
        let call = self.instance.deliver(U256::from(sale), Bytes::from(envelope));
        let r = self.mined("deliver", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Confirms a delivery (buyer); the escrow is credited to the seller.
    pub async fn confirm(&self, sale: u64) -> Result<Tx<()>> {
        let r = self.mined("confirm", &self.instance.confirm(U256::from(sale))).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Releases a delivered sale to the seller after the dispute window (anyone).
    pub async fn release(&self, sale: u64) -> Result<Tx<()>> {
        let r = self.mined("release", &self.instance.release(U256::from(sale))).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Refunds a sale whose delivery deadline passed (anyone).
    pub async fn refund(&self, sale: u64) -> Result<Tx<()>> {
        let r = self.mined("refund", &self.instance.refund(U256::from(sale))).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Disputes a delivery (buyer), paying the bond; `evidence` is encrypted to the arbiter.
    /// Returns the bond as the contract received it.
    pub async fn dispute(&self, sale: u64, evidence: Vec<u8>) -> Result<Tx<U256>> {
        let s = self.sale(sale).await?;
        let l = self.listing(s.listing_id).await?;
        let bond = self.bond(s.amount).await?;
        self.ensure_allowance(l.terms.token, bond).await?;
        let call = self
            .instance
            .dispute(U256::from(sale), Bytes::from(evidence))
            .value(Self::value_for(l.terms.token, bond));
        let r = self.mined("dispute", &call).await?;
        let ev: Binding::Disputed = self.event(&r, "dispute")?;
        Ok(Tx::from_receipt(&r, ev.bond))
    }

    /// Decides a dispute (arbiter only, by the sale's deadline).
    pub async fn resolve(&self, sale: u64, buyer_wins: bool) -> Result<Tx<()>> {
        let call = self.instance.resolve(U256::from(sale), buyer_wins);
        let r = self.mined("resolve", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Settles a dispute the arbiter left undecided past its deadline (anyone): the price
    /// goes to the seller and the bond back to the buyer.
    pub async fn resolve_expired(&self, sale: u64) -> Result<Tx<()>> {
        let call = self.instance.resolveExpired(U256::from(sale));
        let r = self.mined("resolveExpired", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Proposes `new_arbiter` with its X25519 key (arbiter only); `Address::ZERO` cancels a
    /// proposal. Nothing changes until the new arbiter calls [`DataMarket::accept_arbiter`].
    pub async fn transfer_arbiter(&self, new_arbiter: Address, key: [u8; 32]) -> Result<Tx<()>> {
        let call = self.instance.transferArbiter(new_arbiter, B256::from(key));
        let r = self.mined("transferArbiter", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Takes over as arbiter (the proposed account only).
    pub async fn accept_arbiter(&self) -> Result<Tx<()>> {
        let r = self.mined("acceptArbiter", &self.instance.acceptArbiter()).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Pays out what the account is owed in `token`; returns the amount.
    pub async fn withdraw(&self, token: Token) -> Result<Tx<U256>> {
        let r = self.mined("withdraw", &self.instance.withdraw(token.address())).await?;
        let ev: Binding::Withdrawn = self.event(&r, "withdraw")?;
        Ok(Tx::from_receipt(&r, ev.amount))
    }

    // ------------------------------------------------------------ compute-to-data

    /// Pays for a job running `algorithm` on `listing`; the result will be encrypted to
    /// `buyer_key`. Reads the offer and pays it with [`DataMarket::request_job_quoted`], so
    /// the contract refuses the job if the seller raised the price or the window meanwhile.
    /// Returns the job id.
    pub async fn request_job(
        &self,
        listing: u64,
        algorithm: B256,
        buyer_key: [u8; 32],
    ) -> Result<Tx<u64>> {
        let quote = self.compute_offer(listing, algorithm).await?.ok_or_else(|| {
            Error::Algorithm(format!(
                "algorithm {algorithm} is not allow-listed on listing {listing}"
            ))
        })?;
        self.request_job_quoted(listing, algorithm, buyer_key, quote).await
    }

    /// Pays for a job at the offer `quote` the buyer saw: the price and window are sent as
    /// the contract's `maxPrice` and `maxWindow` (`PriceAboveMax`, `WindowAboveMax` when the
    /// offer grew since). Returns the job id.
    pub async fn request_job_quoted(
        &self,
        listing: u64,
        algorithm: B256,
        buyer_key: [u8; 32],
        quote: ComputeOffer,
    ) -> Result<Tx<u64>> {
        let l = self.listing(listing).await?;
        self.ensure_allowance(l.terms.token, quote.price).await?;
        let call = self
            .instance
            .requestJob(
                U256::from(listing),
                algorithm,
                B256::from(buyer_key),
                quote.price,
                quote.job_window,
            )
            .value(Self::value_for(l.terms.token, quote.price));
        let r = self.mined("requestJob", &call).await?;
        let ev: Binding::JobRequested = self.event(&r, "requestJob")?;
        Ok(Tx::from_receipt(&r, id_u64(ev.jobId, "job id")?))
    }

    /// Delivers a job result with the owner's signed receipt.
    pub async fn submit_result(
        &self,
        signed: &crate::receipt::SignedJobReceipt,
        result_cid: &str,
    ) -> Result<Tx<()>> {
        let call = self.instance.submitResult(
            U256::from(signed.receipt.job_id),
            signed.receipt.to_sol(),
            result_cid.to_string(),
            signed.signature.clone(),
        );
        let r = self.mined("submitResult", &call).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Reports a failed job (owner); the buyer is refunded.
    pub async fn fail_job(&self, job: u64, reason: B256) -> Result<Tx<()>> {
        let r = self.mined("failJob", &self.instance.failJob(U256::from(job), reason)).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    /// Refunds a job whose deadline passed (anyone).
    pub async fn refund_job(&self, job: u64) -> Result<Tx<()>> {
        let r = self.mined("refundJob", &self.instance.refundJob(U256::from(job))).await?;
        Ok(Tx::from_receipt(&r, ()))
    }

    // ------------------------------------------------------------ views

    /// The arbiter's address.
    pub async fn arbiter(&self) -> Result<Address> {
        self.instance.arbiter().call().await.map_err(Error::contract("arbiter"))
    }

    /// The proposed arbiter and its key, when a transfer is pending.
    pub async fn pending_arbiter(&self) -> Result<Option<(Address, [u8; 32])>> {
        let a = self
            .instance
            .pendingArbiter()
            .call()
            .await
            .map_err(Error::contract("pendingArbiter"))?;
        if a == Address::ZERO {
            return Ok(None);
        }
        let k = self
            .instance
            .pendingArbiterKey()
            .call()
            .await
            .map_err(Error::contract("pendingArbiterKey"))?;
        Ok(Some((a, k.0)))
    }

    /// The arbiter's X25519 public key.
    pub async fn arbiter_key(&self) -> Result<[u8; 32]> {
        Ok(self.instance.arbiterKey().call().await.map_err(Error::contract("arbiterKey"))?.0)
    }

    /// The dispute bond for a sale of `amount`.
    pub async fn bond(&self, amount: U256) -> Result<U256> {
        self.instance.bond(amount).call().await.map_err(Error::contract("bond"))
    }

    /// What `account` can withdraw in `token`.
    pub async fn owed(&self, account: Address, token: Token) -> Result<U256> {
        self.instance.owed(account, token.address()).call().await.map_err(Error::contract("owed"))
    }

    /// Number of listings, sales and jobs so far.
    pub async fn counts(&self) -> Result<(u64, u64, u64)> {
        let l =
            self.instance.listingCount().call().await.map_err(Error::contract("listingCount"))?;
        let s = self.instance.saleCount().call().await.map_err(Error::contract("saleCount"))?;
        let j = self.instance.jobCount().call().await.map_err(Error::contract("jobCount"))?;
        Ok((id_u64(l, "listing count")?, id_u64(s, "sale count")?, id_u64(j, "job count")?))
    }

    /// A listing with its terms (storage plus the `Listed` event).
    pub async fn listing(&self, id: u64) -> Result<Listing> {
        let r = self
            .instance
            .listings(U256::from(id))
            .call()
            .await
            .map_err(Error::contract("listings"))?;
        if r.seller == Address::ZERO {
            return Err(Error::NotFound(format!(
                "listing {id} does not exist on {}",
                self.qualifier()
            )));
        }
        let ev = first_event(self.instance.Listed_filter(), id, self.from_block, "Listed events")
            .await?
            .ok_or_else(|| Error::NotFound(format!("no Listed event for listing {id}")))?;
        Ok(Listing {
            id,
            seller: r.seller,
            active: r.active,
            terms: ListingTerms {
                token: Token::from_address(r.token),
                price: r.price,
                downloadable: r.downloadable,
                delivery_window: r.deliveryWindow,
                cid: ev.cid,
                plaintext_hash: ev.plaintextHash,
                terms_hash: ev.termsHash,
            },
        })
    }

    /// Every listing, oldest first.
    pub async fn listings(&self) -> Result<Vec<Listing>> {
        let (n, _, _) = self.counts().await?;
        let mut out = Vec::with_capacity(n as usize);
        for id in 1..=n {
            out.push(self.listing(id).await?);
        }
        Ok(out)
    }

    /// The allow-listed offer of `algorithm` on `listing`, if any.
    pub async fn compute_offer(
        &self,
        listing: u64,
        algorithm: B256,
    ) -> Result<Option<ComputeOffer>> {
        let r = self
            .instance
            .computeOffers(U256::from(listing), algorithm)
            .call()
            .await
            .map_err(Error::contract("computeOffers"))?;
        Ok(r.allowed.then_some(ComputeOffer { price: r.price, job_window: r.jobWindow }))
    }

    /// A sale with its registered key, envelope and evidence.
    pub async fn sale(&self, id: u64) -> Result<Sale> {
        let r =
            self.instance.sales(U256::from(id)).call().await.map_err(Error::contract("sales"))?;
        if r.state == 0 {
            return Err(Error::NotFound(format!(
                "sale {id} does not exist on {}",
                self.qualifier()
            )));
        }
        let state = SaleState::from_u8(r.state)?;
        let purchased =
            first_event(self.instance.Purchased_filter(), id, self.from_block, "Purchased events")
                .await?
                .ok_or_else(|| Error::NotFound(format!("no Purchased event for sale {id}")))?;
        let envelope = if state == SaleState::Paid || state == SaleState::Refunded {
            None
        } else {
            first_event(
                self.instance.KeyDelivered_filter(),
                id,
                self.from_block,
                "KeyDelivered events",
            )
            .await?
            .map(|e| e.envelope)
        };
        let evidence = if matches!(state, SaleState::Disputed | SaleState::Resolved) {
            first_event(self.instance.Disputed_filter(), id, self.from_block, "Disputed events")
                .await?
                .map(|e| e.evidence)
        } else {
            None
        };
        Ok(Sale {
            id,
            listing_id: id_u64(r.listingId, "listing id")?,
            buyer: r.buyer,
            amount: r.amount,
            bond: r.bond,
            state,
            deadline: r.deadline,
            buyer_key: purchased.buyerKey.0,
            envelope,
            evidence,
        })
    }

    /// A compute job with its registered key and result.
    pub async fn job(&self, id: u64) -> Result<Job> {
        let r = self.instance.jobs(U256::from(id)).call().await.map_err(Error::contract("jobs"))?;
        if r.state == 0 {
            return Err(Error::NotFound(format!(
                "job {id} does not exist on {}",
                self.qualifier()
            )));
        }
        let state = JobState::from_u8(r.state)?;
        let requested = first_event(
            self.instance.JobRequested_filter(),
            id,
            self.from_block,
            "JobRequested events",
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no JobRequested event for job {id}")))?;
        let seller = self.listing(id_u64(r.listingId, "listing id")?).await?.seller;
        let result = if state == JobState::Completed {
            let found = first_event(
                self.instance.JobCompleted_filter(),
                id,
                self.from_block,
                "JobCompleted events",
            )
            .await?;
            match found {
                Some(e) => Some(JobResultRef {
                    receipt: crate::receipt::SignedJobReceipt {
                        receipt: crate::receipt::JobReceipt::from_sol(&e.receipt)?,
                        chain_id: self.chain_id,
                        contract: self.address(),
                        signer: seller,
                        digest: e.receiptDigest,
                        signature: e.signature,
                    },
                    result_cid: e.resultCid,
                }),
                None => None,
            }
        } else {
            None
        };
        Ok(Job {
            id,
            listing_id: id_u64(r.listingId, "listing id")?,
            buyer: r.buyer,
            amount: r.amount,
            state,
            deadline: r.deadline,
            algorithm: r.algorithm,
            buyer_key: requested.buyerKey.0,
            result,
        })
    }

    /// The latest block's timestamp (deadlines are compared with it).
    pub async fn now(&self) -> Result<u64> {
        let b = self
            .provider()
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|source| Error::Rpc { what: "eth_getBlockByNumber(latest)", source })?
            .ok_or_else(|| Error::NotFound("the chain has no latest block".into()))?;
        Ok(b.header.timestamp)
    }
}
