//! The arbiter's step: decide a dispute by re-running the delivery check.

use alloy::providers::Provider;

use super::{Party, Step};
use crate::sale::{self, Verdict};
use crate::Result;

impl<P: Provider + Clone> Party<P> {
    /// Decides a dispute as the arbiter: [`sale::adjudicate`] with the arbiter's key from the
    /// keyring (the ciphertext must be in the store), then `resolve`.
    pub async fn arbitrate(&self, sale: u64) -> Result<(Verdict, Step<()>)> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let arbiter = self.keyring.arbiter_identity()?;
        let verdict = sale::adjudicate(
            &self.store,
            &arbiter,
            self.market.chain_id(),
            self.market.address(),
            &s,
            &l,
        )?;
        let tx = self.market.resolve(sale, verdict.buyer_wins).await?;
        let audit_index = self.log_sale(sale, "resolved", Some(tx.hash)).await?;
        Ok((verdict, Step { tx, audit_index }))
    }
}
