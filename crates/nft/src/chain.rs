//! Typed clients of ProvenanceNFT and NftMarket over any alloy [`Provider`]: commit, wait a
//! block, mint; reveal; list, buy, cancel, withdraw. Every call goes through
//! [`alara_contracts::call::send`] (simulated first, reverts decoded by name).

use std::time::{Duration, Instant};

use alara_contracts::call::{decoder, event_of, send, CallError, Decoder};
use alara_contracts::NftMarket::{self, NftMarketErrors, NftMarketInstance};
use alara_contracts::ProvenanceNFT::{
    self, MintRequest, ProvenanceNFTErrors, ProvenanceNFTInstance,
};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::{SolEvent, SolValue};

use crate::{Error, Result};

/// Decoders of ProvenanceNFT's errors (its own and OpenZeppelin's ERC-721 ones).
pub const NFT_DECODERS: &[Decoder] = &[decoder::<ProvenanceNFTErrors>];
/// Decoders of a market call: NftMarket's errors, then the token's.
pub const MARKET_DECODERS: &[Decoder] =
    &[decoder::<NftMarketErrors>, decoder::<ProvenanceNFTErrors>];

/// `keccak256(abi.encode(minter, request))`: what `minter` commits before minting
/// `request` (ProvenanceNFT's `commitmentOf`).
pub fn commitment_of(minter: Address, request: &MintRequest) -> B256 {
    keccak256((minter, request.clone()).abi_encode_params())
}

/// A token minted: its id, the commitment it consumed, and both transactions.
#[derive(Clone, Debug)]
pub struct Minted {
    /// The token id.
    pub token_id: U256,
    /// The commitment revealed.
    pub commitment: B256,
    /// The commit transaction's receipt.
    pub commit: TransactionReceipt,
    /// The mint transaction's receipt.
    pub mint: TransactionReceipt,
}

/// A ProvenanceNFT contract.
#[derive(Clone, Debug)]
pub struct Collection<P> {
    /// The contract.
    pub c: ProvenanceNFTInstance<P>,
}

impl<P: Provider + Clone> Collection<P> {
    /// Deploys a new ProvenanceNFT.
    pub async fn deploy(p: P) -> Result<Self> {
        let c = ProvenanceNFT::deploy(p).await.map_err(alara_contracts::Error::from)?;
        Ok(Collection { c })
    }

    /// The contract at `address`.
    pub fn at(p: P, address: Address) -> Self {
        Collection { c: ProvenanceNFT::new(address, p) }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        *self.c.address()
    }

    /// Commits to minting `request` as `minter` (the provider's sender).
    pub async fn commit(
        &self,
        minter: Address,
        request: &MintRequest,
    ) -> Result<(B256, TransactionReceipt)> {
        let commitment = commitment_of(minter, request);
        let receipt = send("commit", &self.c.commit(commitment), NFT_DECODERS).await?;
        Ok((commitment, receipt))
    }

    /// Mints a request committed in an earlier block; the new token's id.
    pub async fn mint(&self, request: &MintRequest) -> Result<(U256, TransactionReceipt)> {
        let receipt = send("mint", &self.c.mint(request.clone()), NFT_DECODERS).await?;
        let ev: ProvenanceNFT::Minted = event_of(&receipt, self.address(), "mint")?;
        Ok((ev.tokenId, receipt))
    }

    /// Commits, waits until the chain is past the commit's block (at most `timeout`), and
    /// mints: the whole front-running-safe mint.
    pub async fn commit_and_mint(
        &self,
        minter: Address,
        request: &MintRequest,
        timeout: Duration,
    ) -> Result<Minted> {
        let (commitment, commit) = self.commit(minter, request).await?;
        // The commit's receipt exists only once its block is sealed, so the mint sent now
        // lands in a later block (on automining chains the mint's own block). `timeout`
        // bounds the wait for a node that reports the receipt before its head moves.
        // The mint is simulated against the latest block before it is sent, so the head
        // must be past the commit's block.
        let at = commit.block_number.unwrap_or_default();
        wait_until(self.c.provider(), at + 1, timeout).await?;
        let (token_id, mint) = self.mint(request).await?;
        Ok(Minted { token_id, commitment, commit, mint })
    }

    /// Reveals the prompt of `token` (ERC-7007 `AigcData`).
    pub async fn reveal(
        &self,
        token: U256,
        prompt: &str,
        salt: [u8; 32],
    ) -> Result<TransactionReceipt> {
        let call = self.c.revealPrompt(token, prompt.to_string(), B256::from(salt));
        Ok(send("revealPrompt", &call, NFT_DECODERS).await?)
    }

    /// The provenance of `token`.
    pub async fn artwork(&self, token: U256) -> Result<ProvenanceNFT::Artwork> {
        Ok(self
            .c
            .artwork(token)
            .call()
            .await
            .map_err(CallError::contract("artwork", NFT_DECODERS))?)
    }

    /// The revealed prompt of `token`, from its `PromptRevealed` event (scanned from
    /// `from_block`, in pages).
    pub async fn revealed_prompt(&self, token: U256, from_block: u64) -> Result<Option<String>> {
        let filter = Filter::new()
            .address(self.address())
            .event_signature(ProvenanceNFT::PromptRevealed::SIGNATURE_HASH)
            .topic1(B256::from(token));
        let logs = alara_contracts::logs::scan(self.c.provider(), &filter, from_block).await?;
        Ok(logs
            .iter()
            .find_map(|l| l.log_decode::<ProvenanceNFT::PromptRevealed>().ok())
            .map(|l| l.inner.data.prompt))
    }

    /// Every `Minted` event from `from_block`, oldest first.
    pub async fn minted(&self, from_block: u64) -> Result<Vec<ProvenanceNFT::Minted>> {
        let filter = Filter::new()
            .address(self.address())
            .event_signature(ProvenanceNFT::Minted::SIGNATURE_HASH);
        let logs = alara_contracts::logs::scan(self.c.provider(), &filter, from_block).await?;
        Ok(logs
            .iter()
            .filter_map(|l| l.log_decode::<ProvenanceNFT::Minted>().ok())
            .map(|l| l.inner.data)
            .collect())
    }

    /// Approves `operator` (a market) for `token`.
    pub async fn approve(&self, operator: Address, token: U256) -> Result<TransactionReceipt> {
        Ok(send("approve", &self.c.approve(operator, token), NFT_DECODERS).await?)
    }

    /// The owner of `token`.
    pub async fn owner_of(&self, token: U256) -> Result<Address> {
        Ok(self
            .c
            .ownerOf(token)
            .call()
            .await
            .map_err(CallError::contract("ownerOf", NFT_DECODERS))?)
    }
}

/// Waits until the head is at `block` or later.
pub async fn wait_until<P: Provider>(p: &P, block: u64, timeout: Duration) -> Result<u64> {
    let start = Instant::now();
    let mut asked_to_mine = false;
    loop {
        let head = p.get_block_number().await.map_err(CallError::rpc("eth_blockNumber"))?;
        if head >= block {
            return Ok(head);
        }
        // A dev chain that mines only on transactions (the embedded node, anvil) never
        // moves on its own: ask it for one empty block. A real chain refuses `evm_mine`
        // and moves by itself.
        if !asked_to_mine && start.elapsed() > Duration::from_millis(600) {
            asked_to_mine = true;
            let _ = p.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await;
            continue;
        }
        if start.elapsed() > timeout {
            return Err(Error::Timeout {
                what: "a block after the commit",
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A sale made: the listing, price, royalty and its receiver, and the receipt.
#[derive(Clone, Debug)]
pub struct Sale {
    /// The `Sold` event.
    pub sold: NftMarket::Sold,
    /// The buy transaction's receipt.
    pub receipt: TransactionReceipt,
}

/// An NftMarket contract.
#[derive(Clone, Debug)]
pub struct Market<P> {
    /// The contract.
    pub c: NftMarketInstance<P>,
}

impl<P: Provider + Clone> Market<P> {
    /// Deploys a new NftMarket.
    pub async fn deploy(p: P) -> Result<Self> {
        let c = NftMarket::deploy(p).await.map_err(alara_contracts::Error::from)?;
        Ok(Market { c })
    }

    /// The market at `address`.
    pub fn at(p: P, address: Address) -> Self {
        Market { c: NftMarket::new(address, p) }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        *self.c.address()
    }

    /// The same market as another account.
    pub fn as_(&self, p: P) -> Self {
        Market::at(p, self.address())
    }

    /// Lists `token` of `nft` for `price` of `currency` (address(0) = ETH); the listing id.
    pub async fn list(
        &self,
        nft: Address,
        token: U256,
        currency: Address,
        price: U256,
    ) -> Result<U256> {
        let r = send("list", &self.c.list(nft, token, currency, price), MARKET_DECODERS).await?;
        let ev: NftMarket::Listed = event_of(&r, self.address(), "list")?;
        Ok(ev.listingId)
    }

    /// Buys `listing`, sending `value` wei (the price for an ETH listing, 0 for ERC-20).
    pub async fn buy(&self, listing: U256, value: U256) -> Result<Sale> {
        let receipt = send("buy", &self.c.buy(listing).value(value), MARKET_DECODERS).await?;
        let sold = event_of(&receipt, self.address(), "buy")?;
        Ok(Sale { sold, receipt })
    }

    /// Cancels `listing`.
    pub async fn cancel(&self, listing: U256) -> Result<TransactionReceipt> {
        Ok(send("cancel", &self.c.cancel(listing), MARKET_DECODERS).await?)
    }

    /// Withdraws what the sender is owed in `currency`; the amount.
    pub async fn withdraw(&self, currency: Address) -> Result<(U256, TransactionReceipt)> {
        let r = send("withdraw", &self.c.withdraw(currency), MARKET_DECODERS).await?;
        let ev: NftMarket::Withdrawn = event_of(&r, self.address(), "withdraw")?;
        Ok((ev.amount, r))
    }

    /// What `account` is owed in `currency`.
    pub async fn owed(&self, account: Address, currency: Address) -> Result<U256> {
        Ok(self
            .c
            .owed(account, currency)
            .call()
            .await
            .map_err(CallError::contract("owed", MARKET_DECODERS))?)
    }
}
