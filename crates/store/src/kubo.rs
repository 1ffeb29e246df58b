//! A Kubo node as a blockstore, over its HTTP RPC (`/api/v0/…`, default
//! `http://127.0.0.1:5001`).
//!
//! Blocks go through `block/put` and `block/get` (every block fetched is verified here
//! against its CID, whatever the node says), pins through `pin/add|rm|ls`, garbage
//! collection through `repo/gc`. Because CIDs here are Kubo's, [`Store::add_reader`] over
//! this blockstore stores exactly the blocks `ipfs add` would. [`KuboBlockstore::add`] and
//! [`KuboBlockstore::cat`] call the node's own `add` and `cat`.
//!
//! The client is blocking; from async code call it inside `spawn_blocking`.
//!
//! [`Store::add_reader`]: crate::Store::add_reader

use std::io::Read;
use std::time::Duration;

use cid::Cid;
use reqwest::blocking::{multipart, Client, Response};
use serde::Deserialize;

use crate::block::{self, parse_cid};
use crate::blockstore::{Blockstore, GcStats};
use crate::dag_pb::{DAG_PB, RAW};
use crate::importer::{AddOptions, AddResult};
use crate::{Error, Result};

/// Kubo's default RPC address.
pub const DEFAULT_KUBO_RPC: &str = "http://127.0.0.1:5001";

/// A Kubo node reached over its HTTP RPC API.
#[derive(Debug, Clone)]
pub struct KuboBlockstore {
    base: String,
    client: Client,
    timeout: Duration,
}

#[derive(Deserialize)]
struct KuboErrorBody {
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
struct BlockPutResponse {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Deserialize)]
struct PinLsResponse {
    #[serde(rename = "Keys", default)]
    keys: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct AddResponse {
    #[serde(rename = "Hash")]
    hash: Option<String>,
    #[serde(rename = "Size")]
    size: Option<String>,
    #[serde(rename = "Bytes")]
    bytes: Option<u64>,
}

impl KuboBlockstore {
    /// A client for the RPC at `base_url` (e.g. `http://127.0.0.1:5001`). Nothing is
    /// contacted until the first call.
    pub fn new(base_url: &str) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::InvalidOptions(format!(
                "Kubo RPC URL must start with http:// or https://, not {base:?}"
            )));
        }
        let client = Client::builder()
            .timeout(None)
            .build()
            .map_err(|e| Error::Kubo { endpoint: base.clone(), message: e.to_string() })?;
        Ok(Self { base, client, timeout: Duration::from_secs(60) })
    }

    /// Timeout of single-block calls (default 60 s; `add` and `cat` have none).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/api/v0/{endpoint}", self.base)
    }

    /// Sends a POST (the RPC accepts only POST) and maps error answers.
    fn call(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        form: Option<multipart::Form>,
        timeout: Option<Duration>,
    ) -> Result<Response> {
        let mut req = self.client.post(self.url(endpoint)).query(query);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(form) = form {
            req = req.multipart(form);
        }
        let err =
            |message: String| Error::Kubo { endpoint: format!("/api/v0/{endpoint}"), message };
        let resp =
            req.send().map_err(|e| err(format!("{e} (is the node running at {}?)", self.base)))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().unwrap_or_default();
        let message = serde_json::from_str::<KuboErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| body.chars().take(300).collect());
        Err(err(format!("HTTP {status}: {message}")))
    }

    fn json<T: for<'de> Deserialize<'de>>(endpoint: &str, resp: Response) -> Result<T> {
        let text = resp
            .text()
            .map_err(|e| Error::Kubo { endpoint: endpoint.into(), message: e.to_string() })?;
        serde_json::from_str(&text).map_err(|e| Error::Kubo {
            endpoint: endpoint.into(),
            message: format!(
                "unexpected answer ({e}): {}",
                text.chars().take(200).collect::<String>()
            ),
        })
    }

    /// Adds a file with the node's own importer (`/api/v0/add`), with the same options
    /// [`Store::add_reader`](crate::Store::add_reader) takes, streaming the upload.
    pub fn add(
        &self,
        reader: impl Read + Send + 'static,
        options: &AddOptions,
    ) -> Result<AddResult> {
        let query = vec![
            ("cid-version", options.cid_version.number().to_string()),
            ("raw-leaves", options.raw_leaves().to_string()),
            ("chunker", format!("size-{}", options.chunk_size)),
            ("pin", options.pin.to_string()),
            ("progress", "false".to_string()),
        ];
        let form =
            multipart::Form::new().part("file", multipart::Part::reader(reader).file_name("file"));
        let resp = self.call("add", &query, Some(form), None)?;
        let text = resp
            .text()
            .map_err(|e| Error::Kubo { endpoint: "/api/v0/add".into(), message: e.to_string() })?;
        // One JSON object per line; the last with a Hash is the file.
        let last = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<AddResponse>(l).ok())
            .find(|r| r.hash.is_some())
            .ok_or_else(|| Error::Kubo {
                endpoint: "/api/v0/add".into(),
                message: format!(
                    "no Hash in answer: {}",
                    text.chars().take(200).collect::<String>()
                ),
            })?;
        let cid = parse_cid(last.hash.as_deref().unwrap_or_default())?;
        let dag_size = last.size.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(AddResult { cid, size: last.bytes.unwrap_or(0), dag_size, blocks: 0 })
    }

    /// Streams a file from the node (`/api/v0/cat`). The node assembles the bytes; to
    /// verify every block here instead, read through [`Store::cat`](crate::Store::cat).
    pub fn cat(&self, cid: &Cid) -> Result<impl Read> {
        self.call("cat", &[("arg", cid.to_string())], None, None)
    }
}

impl Blockstore for KuboBlockstore {
    fn get(&self, cid: &Cid) -> Result<Vec<u8>> {
        let resp =
            match self.call("block/get", &[("arg", cid.to_string())], None, Some(self.timeout)) {
                Ok(r) => r,
                Err(Error::Kubo { message, .. }) if is_not_found(&message) => {
                    return Err(Error::BlockNotFound(*cid));
                }
                Err(e) => return Err(e),
            };
        let data = resp
            .bytes()
            .map_err(|e| Error::Kubo {
                endpoint: "/api/v0/block/get".into(),
                message: e.to_string(),
            })?
            .to_vec();
        block::verify(cid, &data)?;
        Ok(data)
    }

    fn has(&self, cid: &Cid) -> Result<bool> {
        let query = [("arg", cid.to_string()), ("offline", "true".to_string())];
        match self.call("block/stat", &query, None, Some(self.timeout)) {
            Ok(_) => Ok(true),
            Err(Error::Kubo { message, .. }) if is_not_found(&message) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn put_parts(&self, cid: &Cid, parts: &[&[u8]]) -> Result<()> {
        let codec = match cid.codec() {
            DAG_PB => "dag-pb",
            RAW => "raw",
            codec => return Err(Error::UnsupportedCodec { cid: *cid, codec }),
        };
        let query = [
            ("cid-codec", codec.to_string()),
            ("mhtype", "sha2-256".to_string()),
            ("mhlen", "32".to_string()),
            ("pin", "false".to_string()),
        ];
        let form = multipart::Form::new()
            .part("file", multipart::Part::bytes(parts.concat()).file_name("block"));
        let resp = self.call("block/put", &query, Some(form), Some(self.timeout))?;
        let answer: BlockPutResponse = Self::json("/api/v0/block/put", resp)?;
        let stored = parse_cid(&answer.key)?;
        if stored.hash() != cid.hash() {
            return Err(Error::Kubo {
                endpoint: "/api/v0/block/put".into(),
                message: format!("node stored the block as {stored}, expected the hash of {cid}"),
            });
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        // The node fsyncs its own datastore on every put (Kubo's flatfs sync = true).
        Ok(())
    }

    fn pin(&self, root: &Cid) -> Result<()> {
        self.call(
            "pin/add",
            &[("arg", root.to_string()), ("recursive", "true".into())],
            None,
            None,
        )?;
        Ok(())
    }

    fn unpin(&self, root: &Cid) -> Result<bool> {
        match self.call(
            "pin/rm",
            &[("arg", root.to_string()), ("recursive", "true".into())],
            None,
            None,
        ) {
            Ok(_) => Ok(true),
            Err(Error::Kubo { message, .. }) if message.contains("not pinned") => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn pins(&self) -> Result<Vec<Cid>> {
        let resp =
            self.call("pin/ls", &[("type", "recursive".into())], None, Some(self.timeout))?;
        let answer: PinLsResponse = Self::json("/api/v0/pin/ls", resp)?;
        answer.keys.keys().map(|k| parse_cid(k)).collect()
    }

    fn gc(&self) -> Result<GcStats> {
        let resp = self.call("repo/gc", &[], None, None)?;
        let text = resp.text().map_err(|e| Error::Kubo {
            endpoint: "/api/v0/repo/gc".into(),
            message: e.to_string(),
        })?;
        let mut stats = GcStats::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Kubo {
                endpoint: "/api/v0/repo/gc".into(),
                message: format!("unexpected answer line ({e})"),
            })?;
            if let Some(err) = v.get("Error").and_then(|e| e.as_str()).filter(|e| !e.is_empty()) {
                return Err(Error::Kubo {
                    endpoint: "/api/v0/repo/gc".into(),
                    message: err.into(),
                });
            }
            if v.get("Key").is_some() || v.get("cid").is_some() {
                stats.removed_blocks += 1;
            }
        }
        Ok(stats)
    }
}

fn is_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") || m.contains("notfound") || m.contains("could not find")
}
