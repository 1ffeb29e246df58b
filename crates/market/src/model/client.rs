//! The buyer's side of a paid model: calls `alara serve`, signs the next voucher of its
//! channel from the previous answer's receipt, and keeps the chain of receipts.
//!
//! ```no_run
//! # async fn demo(signer: alloy::signers::local::PrivateKeySigner) -> alara_market::Result<()> {
//! use alara_market::model::client::ChannelClient;
//! let mut client = ChannelClient::connect("http://127.0.0.1:8547", signer, 1).await?;
//! let answer = client.call(&[vec![0.0; 30]]).await?;
//! println!("{:?} paid {} so far", answer.outputs, client.amount());
//! # Ok(()) }
//! ```

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use serde::Deserialize;

use crate::model::serve::CallResponse;
use crate::model::voucher::{SignedVoucher, Voucher};
use crate::{Error, Result};

/// What `GET /v1/model` says about the served model.
#[derive(Clone, Debug, Deserialize)]
pub struct ModelInfo {
    /// Registry model id.
    pub model_id: u64,
    /// Registry version.
    pub version: u32,
    /// SHA-256 of the model file.
    pub sha256: B256,
    /// Features per row.
    pub input_width: usize,
    /// Price of a row in base units.
    pub price_per_row: String,
    /// Payment asset.
    pub asset: Address,
    /// Chain id.
    pub chain_id: u64,
    /// InferenceChannels contract.
    pub channels: Address,
}

/// A buyer's channel to one server.
#[derive(Debug)]
pub struct ChannelClient {
    http: reqwest::Client,
    url: String,
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    info: ModelInfo,
    price: U256,
    channel: U256,
    nonce: u64,
    amount: U256,
    prev_receipt: B256,
    calls: u64,
    /// The amount of a voucher sent whose answer never came (the server may have recorded
    /// the call).
    unanswered: Option<U256>,
}

impl ChannelClient {
    /// Connects to a server at `url` and pays through `channel` (signed by `signer`),
    /// starting at nonce 0 with nothing spent.
    pub async fn connect(url: &str, signer: PrivateKeySigner, channel: u64) -> Result<Self> {
        let http = reqwest::Client::new();
        let url = url.trim_end_matches('/').to_string();
        let info: ModelInfo = http
            .get(format!("{url}/v1/model"))
            .send()
            .await
            .map_err(|e| Error::Payment(format!("cannot reach {url}: {e}")))?
            .json()
            .await
            .map_err(|e| Error::Payment(format!("{url}/v1/model is not an alara serve: {e}")))?;
        let price = info
            .price_per_row
            .parse::<U256>()
            .map_err(|e| Error::Payment(format!("price {:?}: {e}", info.price_per_row)))?;
        let domain = crate::model::voucher::channels_domain(info.chain_id, info.channels);
        Ok(ChannelClient {
            http,
            url,
            signer,
            domain,
            info,
            price,
            channel: U256::from(channel),
            nonce: 0,
            amount: U256::ZERO,
            prev_receipt: B256::ZERO,
            calls: 0,
            unanswered: None,
        })
    }

    /// The same client, calling the server at `url` (a restarted or moved server).
    pub fn with_url(mut self, url: &str) -> Self {
        self.url = url.trim_end_matches('/').to_string();
        self
    }

    /// Continues a channel from a known position (after a claim moved the nonce, or from
    /// the channel state a refusal carried).
    pub fn resume(&mut self, nonce: u64, amount: U256, prev_receipt: B256) {
        self.nonce = nonce;
        self.amount = amount;
        self.prev_receipt = prev_receipt;
    }

    /// The served model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Cumulative amount signed for the current nonce.
    pub fn amount(&self) -> U256 {
        self.amount
    }

    /// Calls answered.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The key that signs this client's vouchers.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// The channel id.
    pub fn channel(&self) -> u64 {
        u64::try_from(self.channel).unwrap_or(u64::MAX)
    }

    /// The receipt hash the next voucher acknowledges.
    pub fn last_receipt(&self) -> B256 {
        self.prev_receipt
    }

    /// Signs `voucher` with this client's key in `domain` (tests of forged vouchers).
    pub fn sign_voucher(&self, voucher: &Voucher, domain: &Eip712Domain) -> Result<SignedVoucher> {
        voucher.clone().sign(&self.signer, domain)
    }

    /// The voucher header for a call of `rows` rows (exposed for tests of refusals).
    pub fn voucher_for(&self, rows: usize) -> Result<SignedVoucher> {
        Voucher {
            channelId: self.channel,
            nonce: self.nonce,
            amount: self.amount + self.price * U256::from(rows),
            prevReceipt: self.prev_receipt,
        }
        .sign(&self.signer, &self.domain)
    }

    /// Pays for and makes one call; on success the next voucher acknowledges its receipt.
    ///
    /// When the server refuses the voucher but reports a channel position this client has
    /// not seen — the call whose answer never arrived (a crash, a lost connection) and
    /// that the server recorded, or a claim that moved the nonce — the client takes that
    /// position and pays once more from there. It never accepts a position above what it
    /// signed: a server cannot make it pay for calls it did not send.
    pub async fn call(&mut self, rows: &[Vec<f32>]) -> Result<CallResponse> {
        let header = self.voucher_for(rows.len())?;
        self.unanswered = Some(header.voucher.amount);
        let r = match self.send_raw(&header, rows).await? {
            Ok(r) => r,
            Err((msg, channel)) => {
                if !self.resync(&channel) {
                    return Err(Error::Payment(msg));
                }
                let header = self.voucher_for(rows.len())?;
                match self.send_raw(&header, rows).await? {
                    Ok(r) => {
                        self.finish(&header, &r);
                        return Ok(r);
                    }
                    Err((msg, _)) => return Err(Error::Payment(msg)),
                }
            }
        };
        self.finish(&header, &r);
        Ok(r)
    }

    fn finish(&mut self, header: &SignedVoucher, r: &CallResponse) {
        self.unanswered = None;
        self.amount = header.voucher.amount;
        self.prev_receipt = r.call_receipt.hash;
        self.calls += 1;
    }

    /// Takes the channel position a refusal reported, if it differs from ours.
    fn resync(&mut self, channel: &serde_json::Value) -> bool {
        let Some(nonce) = channel["nonce"].as_u64() else { return false };
        let amount = channel["last_amount"].as_str().and_then(|a| a.parse::<U256>().ok());
        let receipt = channel["last_receipt"].as_str().and_then(|r| r.parse::<B256>().ok());
        let last_nonce = channel["last_nonce"].as_u64();
        let (amount, receipt) = match (amount, receipt, last_nonce) {
            (Some(a), Some(r), Some(n)) if n == nonce => (a, r),
            _ => (U256::ZERO, B256::ZERO),
        };
        if (nonce, amount, receipt) == (self.nonce, self.amount, self.prev_receipt) {
            return false;
        }
        // Same nonce: only the one voucher we sent and never saw answered.
        if nonce == self.nonce && self.unanswered != Some(amount) {
            return false;
        }
        if nonce < self.nonce {
            return false;
        }
        self.resume(nonce, amount, receipt);
        true
    }

    /// Sends a call with the given voucher; a refusal becomes [`Error::Payment`] with the
    /// server's message.
    pub async fn send(&self, header: &SignedVoucher, rows: &[Vec<f32>]) -> Result<CallResponse> {
        self.send_raw(header, rows).await?.map_err(|(msg, _)| Error::Payment(msg))
    }

    /// The answer, or the refusal's message and the channel state it carried.
    async fn send_raw(
        &self,
        header: &SignedVoucher,
        rows: &[Vec<f32>],
    ) -> Result<std::result::Result<CallResponse, (String, serde_json::Value)>> {
        let body = serde_json::to_vec(&serde_json::json!({ "inputs": rows }))?;
        let resp = self
            .http
            .post(format!("{}/v1/infer", self.url))
            .header("content-type", "application/json")
            .header("x-payment", header.to_header())
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Payment(format!("calling {}: {e}", self.url)))?;
        let status = resp.status();
        let bytes =
            resp.bytes().await.map_err(|e| Error::Payment(format!("reading the answer: {e}")))?;
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let msg = v["error"].as_str().unwrap_or("no reason given").to_string();
            return Ok(Err((format!("{status}: {msg}"), v["channel"].clone())));
        }
        Ok(Ok(serde_json::from_slice(&bytes)?))
    }
}
