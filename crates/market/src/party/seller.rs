//! The seller's steps: list a sealed dataset, export its ciphertext, deliver the key.

use alara_audit::entry::{DataListing, EntryBody};
use alara_store::AddOptions;
use alloy::primitives::B256;
use alloy::providers::Provider;
use sha2::{Digest, Sha256};

use super::{amount_u128, hash, Listed, Offer, Party, Step};
use crate::contract::ListingTerms;
use crate::keys;
use crate::{Error, Result};

impl<P: Provider + Clone> Party<P> {
    /// Encrypts `plaintext` to a fresh dataset key, adds the ciphertext to the store, keeps
    /// the key in the keyring, lists the dataset and logs a `data_listing` entry.
    pub async fn sell(&self, plaintext: impl std::io::Read, offer: &Offer) -> Result<Listed> {
        let identity = alara_store::encrypt::generate_identity();
        let sealed =
            self.store.add_encrypted(&[identity.to_public()], plaintext, &AddOptions::v1())?;
        let cid = sealed.ciphertext.cid.to_string();
        self.keyring.put_dataset(&cid, &identity)?;
        let plaintext_hash = B256::from_slice(
            &hex::decode(&sealed.plaintext_sha256).map_err(|e| Error::OutOfRange(e.to_string()))?,
        );
        let terms_hash = B256::from(<[u8; 32]>::from(Sha256::digest(offer.terms.as_bytes())));
        let terms = ListingTerms {
            token: offer.token,
            price: offer.price,
            downloadable: offer.downloadable,
            delivery_window: offer.delivery_window,
            cid: cid.clone(),
            plaintext_hash,
            terms_hash,
        };
        let tx = self.market.list(&terms).await?;
        let audit_index = self
            .log(EntryBody::DataListing(DataListing {
                listing: format!("{}/{}", self.market.qualifier(), tx.value),
                dataset: cid.clone(),
                plaintext: hash(plaintext_hash),
                terms: hash(terms_hash),
                seller: self.account().to_string(),
                token: offer.token.label(),
                price: amount_u128(offer.price)?,
                tx: Some(hash(tx.hash)),
            }))
            .await?;
        Ok(Listed {
            listing_id: tx.value,
            cid,
            plaintext_hash,
            size: sealed.plaintext_size,
            step: Step { tx, audit_index },
        })
    }

    /// Writes the CAR of a listing's ciphertext (what a buyer or the arbiter imports).
    pub fn export_ciphertext(
        &self,
        cid: &str,
        out: impl std::io::Write,
    ) -> Result<alara_store::ExportResult> {
        Ok(self.store.export_car(&alara_store::parse_cid(cid)?, out)?)
    }

    /// Delivers the dataset key of `sale`, encrypted to the buyer's registered key.
    pub async fn deliver(&self, sale: u64) -> Result<Step<()>> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        if l.seller != self.account() {
            return Err(Error::Key {
                what: "deliver",
                reason: format!(
                    "sale {sale} is of listing {} sold by {}, not by {}",
                    l.id,
                    l.seller,
                    self.account()
                ),
            });
        }
        let identity = self.keyring.dataset(&l.terms.cid)?;
        let envelope =
            keys::seal_dataset_key(&identity, &keys::recipient_from_bytes(&s.buyer_key)?)?;
        let tx = self.market.deliver(sale, envelope).await?;
        let audit_index = self.log_sale(sale, "delivered", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }
}
