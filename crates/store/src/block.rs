//! Blocks and CIDs: SHA-256 multihashes, CIDv0/CIDv1, and the check that a block's bytes
//! match its CID.

use cid::multihash::Multihash;
pub use cid::Cid;
use sha2::{Digest, Sha256};

use crate::dag_pb::{DAG_PB, RAW};
use crate::{Error, Result};

/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// A block: bytes and the CID they hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    data: Vec<u8>,
}

impl Block {
    /// Hashes `data` into a block with the given codec and CID version (CIDv0 is only
    /// possible for dag-pb).
    pub fn encode(codec: u64, version: CidVersion, data: Vec<u8>) -> Result<Self> {
        let cid = cid_for(codec, version, &Sha256::digest(&data).into())?;
        Ok(Self { cid, data })
    }

    /// A block received from elsewhere: checked against its CID.
    pub fn verified(cid: Cid, data: Vec<u8>) -> Result<Self> {
        verify(&cid, &data)?;
        Ok(Self { cid, data })
    }

    /// The block's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The block's bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// CID version of the nodes an add produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CidVersion {
    /// `Qm…`, base58btc, dag-pb only: Kubo's default.
    #[default]
    V0,
    /// `bafy…`/`bafk…`, base32.
    V1,
}

impl CidVersion {
    /// 0 or 1.
    pub fn number(self) -> u8 {
        match self {
            CidVersion::V0 => 0,
            CidVersion::V1 => 1,
        }
    }
}

impl TryFrom<u8> for CidVersion {
    type Error = Error;
    fn try_from(v: u8) -> Result<Self> {
        match v {
            0 => Ok(CidVersion::V0),
            1 => Ok(CidVersion::V1),
            other => Err(Error::InvalidOptions(format!("CID version must be 0 or 1, not {other}"))),
        }
    }
}

/// Builds the CID of a SHA-256 digest.
pub fn cid_for(codec: u64, version: CidVersion, digest: &[u8; 32]) -> Result<Cid> {
    let mh = Multihash::<64>::wrap(SHA2_256, digest)
        .map_err(|e| Error::InvalidOptions(format!("multihash: {e}")))?;
    match version {
        CidVersion::V0 if codec == DAG_PB => Cid::new_v0(mh)
            .map_err(|e| Error::InvalidCid { input: hex::encode(digest), reason: e.to_string() }),
        CidVersion::V0 => Err(Error::InvalidOptions(format!(
            "CIDv0 can only name dag-pb blocks, not codec {codec:#x}; use CIDv1"
        ))),
        CidVersion::V1 => Ok(Cid::new_v1(codec, mh)),
    }
}

/// Checks that `data` hashes to `cid`'s SHA-256 digest; the error names the CID.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<()> {
    let code = cid.hash().code();
    if code != SHA2_256 {
        return Err(Error::UnsupportedHash { cid: *cid, code });
    }
    let digest = Sha256::digest(data);
    if digest.as_slice() != cid.hash().digest() {
        return Err(Error::CorruptBlock { cid: *cid, actual: hex::encode(digest) });
    }
    Ok(())
}

/// SHA-256 of `data`: the plaintext commitment a dataset is committed under on-chain.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Parses a CID string (`Qm…`, `bafy…`, any multibase).
pub fn parse_cid(s: &str) -> Result<Cid> {
    let trimmed = s.trim().trim_start_matches("/ipfs/");
    Cid::try_from(trimmed).map_err(|e| Error::InvalidCid {
        input: trimmed.chars().take(80).collect(),
        reason: format!("{e} (expected e.g. Qm… or bafy…)"),
    })
}

/// The codecs a file DAG may use.
pub(crate) fn check_file_codec(cid: &Cid) -> Result<()> {
    match cid.codec() {
        DAG_PB | RAW => Ok(()),
        codec => Err(Error::UnsupportedCodec { cid: *cid, codec }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubo_empty_file_cid() {
        let b = Block::encode(DAG_PB, CidVersion::V0, vec![0x0a, 0x04, 0x08, 0x02, 0x18, 0x00])
            .unwrap();
        assert_eq!(b.cid().to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
        assert_eq!(b.cid().version(), cid::Version::V0);
    }

    #[test]
    fn corrupt_block_error_names_the_cid() {
        let b = Block::encode(RAW, CidVersion::V1, b"abc".to_vec()).unwrap();
        let err = Block::verified(*b.cid(), b"abd".to_vec()).unwrap_err();
        assert!(matches!(err, Error::CorruptBlock { cid, .. } if cid == *b.cid()));
        assert!(err.to_string().contains(&b.cid().to_string()));
    }

    #[test]
    fn v0_raw_is_refused() {
        assert!(Block::encode(RAW, CidVersion::V0, vec![]).is_err());
    }

    #[test]
    fn parse_cid_accepts_ipfs_paths_and_rejects_garbage() {
        let c = parse_cid("/ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH").unwrap();
        assert_eq!(c.codec(), DAG_PB);
        assert!(matches!(parse_cid("not-a-cid"), Err(Error::InvalidCid { .. })));
    }
}
