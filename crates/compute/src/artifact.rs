//! The documents a task moves between its parties, content-addressed in the store: the
//! training set (CSV), the evaluation set once opened and each worker's model (JSON).
//! Whoever receives one from a peer re-adds the bytes and compares the CID, so a peer can
//! serve it but cannot change it.

use alara_store::{AddOptions, Blockstore, Store};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::invalid;
use crate::eval::EvalSet;
use crate::model::FixedModel;
use crate::Result;

/// The largest document read back (an evaluation set of ~100k rows).
pub const MAX_DOCUMENT: u64 = 64 << 20;

/// Stores `bytes`; their CID (CIDv1, raw leaves, as `ipfs add --cid-version 1`).
pub fn put<B: Blockstore>(store: &Store<B>, bytes: &[u8]) -> Result<String> {
    Ok(store.add_reader(bytes, &AddOptions::v1())?.cid.to_string())
}

/// Reads a document back, capped at [`MAX_DOCUMENT`].
pub fn get<B: Blockstore>(store: &Store<B>, cid: &str) -> Result<Vec<u8>> {
    let parsed = alara_store::parse_cid(cid)?;
    let reader = store.cat(&parsed)?;
    Ok(alara_store::read_capped(reader, MAX_DOCUMENT, "document")?)
}

/// Stores `bytes` received from a peer only if they are the document `cid` names.
pub fn import_verified<B: Blockstore>(store: &Store<B>, cid: &str, bytes: &[u8]) -> Result<()> {
    let got = put(store, bytes)?;
    if got != cid {
        return Err(invalid(
            "document",
            format!("the bytes served for {cid} hash to {got}; the peer served something else"),
        ));
    }
    Ok(())
}

/// Stores a value as JSON.
pub fn put_json<B: Blockstore, T: Serialize>(store: &Store<B>, value: &T) -> Result<String> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| invalid("document", format!("cannot encode: {e}")))?;
    put(store, &bytes)
}

/// Reads a JSON document.
pub fn get_json<B: Blockstore, T: DeserializeOwned>(store: &Store<B>, cid: &str) -> Result<T> {
    let bytes = get(store, cid)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| invalid("document", format!("{cid} is not the expected JSON: {e}")))
}

/// Reads a model and checks it is the one `model_hash` names (and well formed).
pub fn get_model<B: Blockstore>(
    store: &Store<B>,
    cid: &str,
    model_hash: alloy::primitives::B256,
) -> Result<FixedModel> {
    let m: FixedModel = get_json(store, cid)?;
    let m = FixedModel::new(m.input_width, m.layers)?;
    if m.hash() != model_hash {
        return Err(invalid(
            "model",
            format!("{cid} has model hash {}, the chain records {model_hash}", m.hash()),
        ));
    }
    Ok(m)
}

/// Reads an evaluation set and checks it is the one `eval_root` names.
pub fn get_eval<B: Blockstore>(
    store: &Store<B>,
    cid: &str,
    eval_root: alloy::primitives::B256,
) -> Result<EvalSet> {
    let e: EvalSet = get_json(store, cid)?;
    for (i, c) in e.chunks.iter().enumerate() {
        crate::fixed::Tensor::new(c.features.rows, c.features.cols, c.features.data.clone())
            .map_err(|err| invalid("evaluation set", format!("chunk {i}: {err}")))?;
        if c.labels.cols != 1 || c.labels.rows != c.features.rows {
            return Err(invalid(
                "evaluation set",
                format!("chunk {i}: labels do not match its rows"),
            ));
        }
    }
    if e.root() != eval_root {
        return Err(invalid(
            "evaluation set",
            format!("{cid} has root {}, the task opened {eval_root}", e.root()),
        ));
    }
    Ok(e)
}

/// Reads a CSV dataset.
pub fn get_dataset<B: Blockstore>(store: &Store<B>, cid: &str) -> Result<alara_ml::Dataset> {
    let bytes = get(store, cid)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| invalid("dataset", format!("{cid} is not UTF-8 CSV")))?;
    Ok(alara_ml::datasets::parse_csv(&text, cid)?)
}
