//! Model files the registry accepts, and the package a published version is stored as.
//!
//! Only ONNX and safetensors are accepted. Pickle-based formats (PyTorch `.bin`/`.pt`
//! checkpoints, which are zip archives around a pickle, and raw `.pkl`/joblib files) can
//! run arbitrary code when they are loaded, so a marketplace that hands them to buyers
//! hands out code execution; they are refused with the command that converts them.
//!
//! A published version is a [`ModelPackage`]: a small JSON document in the store naming
//! the model file's CID and SHA-256 and the card's CID and SHA-256. The registry records
//! the package CID and both hashes, so `pull` can check every byte it fetches against the
//! chain.

use serde::{Deserialize, Serialize};

use crate::model::card::ModelCard;
use crate::{Error, Result};

/// Largest model file accepted (the marketplace serves small models; ONNX's protobuf
/// limit is 2 GiB).
pub const MAX_MODEL_BYTES: u64 = 1 << 31;

pub use crate::model::chain::Format;

const PICKLE_ADVICE: &str = "pickle-based files can run code when loaded and are not accepted; \
     export the model to ONNX (torch.onnx.export, skl2onnx, tf2onnx) or save its weights \
     with safetensors (safetensors.torch.save_file)";

/// Detects the format of a model file from its bytes and checks that it loads as that
/// format (an ONNX graph that parses, a safetensors header that is valid). Refuses pickle
/// and anything unknown with what to do instead.
pub fn detect(bytes: &[u8]) -> Result<Format> {
    let bad = |m: String| Error::ModelFile(m);
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(bad(format!("{} bytes; at most {MAX_MODEL_BYTES} are accepted", bytes.len())));
    }
    // A pickle stream starts with PROTO (0x80) and a protocol number 2–5; PyTorch's
    // checkpoints are zip archives (PK\x03\x04) holding `data.pkl`.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Err(bad(format!("this is a Python pickle; {PICKLE_ADVICE}")));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(bad(format!(
            "this is a zip archive (a PyTorch .pt/.bin checkpoint holds a pickle); {PICKLE_ADVICE}"
        )));
    }
    if let Some(header) = safetensors_header(bytes) {
        safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
            bad(format!("the file has a safetensors header but does not parse: {e:?}"))
        })?;
        let _ = header;
        return Ok(Format::Safetensors);
    }
    // ONNX: a ModelProto; field 1 (ir_version, varint) comes first in every exporter's
    // output. Parse the whole graph to be sure.
    if bytes.first() == Some(&0x08) {
        use tract_onnx::prelude::Framework;
        return match tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]) {
            Ok(proto) if proto.graph.is_some() => Ok(Format::Onnx),
            Ok(_) => Err(bad("an ONNX model without a graph".into())),
            Err(e) => Err(bad(format!("not a valid ONNX model: {e}"))),
        };
    }
    Err(bad(format!(
        "not ONNX or safetensors (first bytes {}); the registry accepts those two formats only",
        hex::encode(&bytes[..bytes.len().min(8)])
    )))
}

/// The JSON header of a safetensors file, when the bytes look like one.
fn safetensors_header(bytes: &[u8]) -> Option<&[u8]> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(len).ok()?)?;
    let header = bytes.get(8..end)?;
    (header.first() == Some(&b'{')).then_some(header)
}

/// What a published version is stored as: names and hashes of the model file and its card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPackage {
    /// `alara.model-package/1`.
    pub schema: String,
    /// Model name as registered.
    pub name: String,
    /// File format.
    pub format: Format,
    /// CID of the model file in the store.
    pub file: String,
    /// SHA-256 of the model file (hex).
    pub file_sha256: String,
    /// Size of the model file in bytes.
    pub file_bytes: u64,
    /// CID of the card (`README.md`) in the store.
    pub card: String,
    /// SHA-256 of the card (hex).
    pub card_sha256: String,
}

/// The package schema name.
pub const PACKAGE_SCHEMA: &str = "alara.model-package/1";

/// A model file and its card, checked and ready to store.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// Model name.
    pub name: String,
    /// The model file's bytes.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: Format,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Its card.
    pub card: ModelCard,
}

impl Artifact {
    /// Checks a model file and its card.
    pub fn new(name: &str, bytes: Vec<u8>, card: ModelCard) -> Result<Artifact> {
        let name = name.trim();
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(Error::ModelFile(format!(
                "a model name is 1–128 printable characters, found {name:?}"
            )));
        }
        let format = detect(&bytes)?;
        let sha256 = alara_store::sha256(&bytes);
        Ok(Artifact { name: name.to_string(), bytes, format, sha256, card })
    }

    /// Adds the file, the card and the package to the store; returns the package and its
    /// CID (what the registry records).
    pub fn store<B: alara_store::Blockstore>(
        &self,
        store: &alara_store::Store<B>,
    ) -> Result<(ModelPackage, String)> {
        let opts = alara_store::AddOptions::default();
        let file = store.add_reader(&self.bytes[..], &opts)?;
        let card = store.add_reader(&self.card.raw[..], &opts)?;
        let package = ModelPackage {
            schema: PACKAGE_SCHEMA.to_string(),
            name: self.name.clone(),
            format: self.format,
            file: file.cid.to_string(),
            file_sha256: hex::encode(self.sha256),
            file_bytes: self.bytes.len() as u64,
            card: card.cid.to_string(),
            card_sha256: hex::encode(self.card.sha256()),
        };
        let json = serde_json::to_vec_pretty(&package)?;
        let added = store.add_reader(&json[..], &opts)?;
        for cid in [&file.cid, &card.cid, &added.cid] {
            store.pin(cid)?;
        }
        Ok((package, added.cid.to_string()))
    }
}

/// A version fetched from the store and checked against the registry's hashes.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The package.
    pub package: ModelPackage,
    /// The model file.
    pub bytes: Vec<u8>,
    /// The card.
    pub card: ModelCard,
}

/// Fetches a package and its files and checks them against the hashes the registry holds.
pub fn pull<B: alara_store::Blockstore>(
    store: &alara_store::Store<B>,
    package_cid: &str,
    file_sha256: [u8; 32],
    card_sha256: [u8; 32],
) -> Result<Pulled> {
    let read = |cid: &str, cap: u64| -> Result<Vec<u8>> {
        let cid = alara_store::parse_cid(cid)?;
        let mut out = Vec::new();
        let n = store.cat_to(&cid, &mut out)?;
        if n > cap {
            return Err(Error::Integrity(format!("{cid} is {n} bytes, more than {cap}")));
        }
        Ok(out)
    };
    let package: ModelPackage = serde_json::from_slice(&read(package_cid, 1 << 16)?)
        .map_err(|e| Error::Integrity(format!("{package_cid} is not a model package: {e}")))?;
    if package.schema != PACKAGE_SCHEMA {
        return Err(Error::Integrity(format!(
            "{package_cid} has schema {:?}, expected {PACKAGE_SCHEMA}",
            package.schema
        )));
    }
    let bytes = read(&package.file, MAX_MODEL_BYTES)?;
    let got = alara_store::sha256(&bytes);
    if got != file_sha256 {
        return Err(Error::Integrity(format!(
            "the model file {} hashes to {}, but the registry pins {}: do not use it",
            package.file,
            hex::encode(got),
            hex::encode(file_sha256)
        )));
    }
    let card_bytes = read(&package.card, super::card::MAX_CARD_BYTES as u64)?;
    let got = alara_store::sha256(&card_bytes);
    if got != card_sha256 {
        return Err(Error::Integrity(format!(
            "the card {} hashes to {}, but the registry pins {}",
            package.card,
            hex::encode(got),
            hex::encode(card_sha256)
        )));
    }
    let card = ModelCard::parse(&card_bytes)?;
    Ok(Pulled { package, bytes, card })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_onnx() -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
        let path = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "onnx"))
            .unwrap();
        std::fs::read(path).unwrap()
    }

    fn safetensors_file() -> Vec<u8> {
        let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header);
        v.extend_from_slice(&[0u8; 8]);
        v
    }

    #[test]
    fn onnx_and_safetensors_are_recognised() {
        assert_eq!(detect(&shipped_onnx()).unwrap(), Format::Onnx);
        assert_eq!(detect(&safetensors_file()).unwrap(), Format::Safetensors);
    }

    #[test]
    fn pickles_and_unknown_files_are_refused_with_what_to_do() {
        // `pickle.dumps({}, protocol=4)` and a zip's local header (a torch checkpoint).
        let pickle = hex::decode("80049502000000000000007d942e").unwrap();
        let e = detect(&pickle).unwrap_err().to_string();
        assert!(e.contains("pickle") && e.contains("ONNX"), "{e}");
        let e = detect(b"PK\x03\x04rest of a zip").unwrap_err().to_string();
        assert!(e.contains("PyTorch"), "{e}");
        let e = detect(b"hello").unwrap_err().to_string();
        assert!(e.contains("not ONNX or safetensors"), "{e}");
        let mut broken = shipped_onnx();
        broken.truncate(broken.len() / 2);
        assert!(detect(&broken).unwrap_err().to_string().contains("ONNX"));
        let mut st = safetensors_file();
        st.truncate(st.len() - 4);
        assert!(detect(&st).unwrap_err().to_string().contains("safetensors"));
        assert!(detect(&[]).is_err());
    }

    #[test]
    fn a_stored_package_pulls_back_and_a_wrong_pin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = alara_store::Store::open(dir.path()).unwrap();
        let card = ModelCard::parse(b"---\nlicense: mit\n---\n# m\n").unwrap();
        let a = Artifact::new("m", shipped_onnx(), card).unwrap();
        let (package, cid) = a.store(&store).unwrap();
        let card_sha = a.card.sha256();
        let pulled = pull(&store, &cid, a.sha256, card_sha).unwrap();
        assert_eq!(pulled.package, package);
        assert_eq!(pulled.bytes, a.bytes);
        let e = pull(&store, &cid, [0; 32], card_sha).unwrap_err().to_string();
        assert!(e.contains("registry pins"), "{e}");
        let e = pull(&store, &cid, a.sha256, [1; 32]).unwrap_err().to_string();
        assert!(e.contains("card"), "{e}");
        assert!(Artifact::new(" ", a.bytes.clone(), a.card.clone()).is_err());
    }
}
