//! The buyer's steps: buy, import the ciphertext, receive and check the data, confirm,
//! release, refund, dispute, withdraw.

use std::io::Write as _;
use std::path::Path;

use alara_audit::entry::{DataAccess, EntryBody};
use alara_store::Cid;
use alloy::primitives::U256;
use alloy::providers::Provider;

use super::{Party, Received, Step};
use crate::contract::{SaleState, Token, Tx};
use crate::keys;
use crate::sale::{self, Fault};
use crate::{Error, Result};

impl<P: Provider + Clone> Party<P> {
    /// Buys a download with a fresh per-sale key (kept in the keyring).
    pub async fn buy(&self, listing: u64) -> Result<Step<u64>> {
        let (_, key) = self.keyring.new_buyer_identity()?;
        let tx = self.market.buy(listing, key).await?;
        let audit_index = self.log_sale(tx.value, "paid", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Imports a CAR of ciphertext into the store; a corrupt or truncated CAR is refused
    /// and leaves nothing pinned.
    pub fn import_car(&self, car: impl std::io::Read) -> Result<Vec<Cid>> {
        Ok(self.store.import_car(car)?.roots)
    }

    /// Opens the delivered key, decrypts the ciphertext from the store and checks it against
    /// the commitment; writes the plaintext to `out` (mode 0600) only when it checks out, and
    /// logs a `data_access` entry. A faulty delivery is [`Error::Delivery`].
    pub async fn receive(&self, sale: u64, out: &Path) -> Result<Received> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let envelope = s.envelope.clone().ok_or_else(|| {
            Error::NotFound(format!("sale {sale} is {:?}: no key has been delivered yet", s.state))
        })?;
        let buyer_identity = self.keyring.buyer_identity(&s.buyer_key)?;
        let cid = alara_store::parse_cid(&l.terms.cid)?;
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
        let tmp = dir.join(format!(
            ".{}.partial",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let checked = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(crate::error::io(&tmp))?;
            let r = sale::check_delivery(
                &self.store,
                &envelope,
                &buyer_identity,
                &cid,
                l.terms.plaintext_hash,
                &mut f,
            )?;
            f.flush().map_err(crate::error::io(&tmp))?;
            f.sync_all().map_err(crate::error::io(&tmp))?;
            Ok::<_, Error>(r)
        })();
        let size = match checked {
            Ok(Ok(size)) => size,
            Ok(Err(fault)) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::Delivery { sale, fault });
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        std::fs::rename(&tmp, out).map_err(crate::error::io(out))?;
        let audit_index = self
            .log(EntryBody::DataAccess(DataAccess {
                dataset: l.terms.cid.clone(),
                accessor: self.account().to_string(),
                mode: "download".into(),
                purpose: format!("purchase {}", self.sale_ref(sale)),
                subject: None,
            }))
            .await?;
        Ok(Received {
            sale_id: sale,
            path: out.to_path_buf(),
            size,
            plaintext_hash: l.terms.plaintext_hash,
            audit_index,
        })
    }

    /// Checks a delivery without keeping the plaintext: `Ok(Err(fault))` is grounds for a dispute.
    pub async fn check(&self, sale: u64) -> Result<std::result::Result<u64, Fault>> {
        let s = self.market.sale(sale).await?;
        let l = self.market.listing(s.listing_id).await?;
        let envelope = s
            .envelope
            .clone()
            .ok_or_else(|| Error::NotFound(format!("sale {sale} has no delivered key yet")))?;
        let id = self.keyring.buyer_identity(&s.buyer_key)?;
        let cid = alara_store::parse_cid(&l.terms.cid)?;
        sale::check_delivery(
            &self.store,
            &envelope,
            &id,
            &cid,
            l.terms.plaintext_hash,
            &mut std::io::sink(),
        )
    }

    /// Confirms a delivery; the seller is credited.
    pub async fn confirm(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.confirm(sale).await?;
        let audit_index = self.log_sale(sale, "confirmed", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Releases a delivered sale after its dispute window (anyone).
    pub async fn release(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.release(sale).await?;
        let audit_index = self.log_sale(sale, "released", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Refunds a sale whose seller missed the deadline (anyone).
    pub async fn refund(&self, sale: u64) -> Result<Step<()>> {
        let tx = self.market.refund(sale).await?;
        let audit_index = self.log_sale(sale, "refunded", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Disputes a delivery: seals the per-sale key for the arbiter and posts the bond.
    pub async fn dispute(&self, sale: u64) -> Result<Step<U256>> {
        let s = self.market.sale(sale).await?;
        if s.state != SaleState::Delivered {
            return Err(Error::NotFound(format!(
                "sale {sale} is {:?}; only a delivered sale can be disputed",
                s.state
            )));
        }
        let identity = self.keyring.buyer_identity(&s.buyer_key)?;
        let arbiter = keys::recipient_from_bytes(&self.market.arbiter_key().await?)?;
        let evidence = sale::seal_evidence(
            &arbiter,
            self.market.chain_id(),
            self.market.address(),
            sale,
            &identity,
        )?;
        let tx = self.market.dispute(sale, evidence).await?;
        let audit_index = self.log_sale(sale, "disputed", Some(tx.hash)).await?;
        Ok(Step { tx, audit_index })
    }

    /// Withdraws what the party is owed in `token`.
    pub async fn withdraw(&self, token: Token) -> Result<Tx<U256>> {
        self.market.withdraw(token).await
    }
}
