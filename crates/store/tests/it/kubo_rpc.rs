//! The Kubo HTTP RPC client against a stand-in server that answers with the request and
//! response shapes of Kubo's `/api/v0` (recorded from its documentation and behaviour).
//! No real Kubo node can run here; see the crate README for what this leaves untested.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use alara_store::{
    AddOptions, Blockstore, Cid, CidVersion, Error, FsOptions, KuboBlockstore, Store,
};
use sha2::Digest;

use crate::common::content;

#[derive(Default)]
struct Node {
    blocks: HashMap<Vec<u8>, Vec<u8>>,
    pins: Vec<String>,
    requests: Vec<(String, String, HashMap<String, String>)>,
    corrupt_gets: bool,
}

fn query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.replace("%2F", "/"))
        })
        .collect()
}

fn read_body(r: &mut BufReader<std::net::TcpStream>, headers: &HashMap<String, String>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        body.resize(len.parse().unwrap(), 0);
        r.read_exact(&mut body).unwrap();
    } else if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    body
}

/// The file part of a multipart body.
fn file_part(body: &[u8], content_type: &str) -> Vec<u8> {
    let boundary = content_type.split("boundary=").nth(1).unwrap().trim_matches('"');
    let start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let end_marker = format!("\r\n--{boundary}");
    let end =
        body[start..].windows(end_marker.len()).position(|w| w == end_marker.as_bytes()).unwrap();
    body[start..start + end].to_vec()
}

fn respond(stream: &mut std::net::TcpStream, status: &str, body: &[u8]) {
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

fn kubo_error(msg: &str) -> Vec<u8> {
    serde_json::json!({"Message": msg, "Code": 0, "Type": "error"}).to_string().into_bytes()
}

fn serve(node: Arc<Mutex<Node>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(500) {
            let Ok(mut stream) = stream else { break };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let target = parts.next().unwrap_or_default().to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let body = read_body(&mut r, &headers);
            let (path, q) = target.split_once('?').unwrap_or((&target, ""));
            let q = query(q);
            let mut n = node.lock().unwrap();
            n.requests.push((method.clone(), path.to_string(), q.clone()));
            if method != "POST" {
                respond(&mut stream, "405 Method Not Allowed", b"");
                continue;
            }
            let arg_cid = q.get("arg").map(|a| Cid::try_from(a.as_str()).unwrap());
            match path {
                "/api/v0/block/put" => {
                    let data = file_part(&body, &headers["content-type"]);
                    let codec = if q["cid-codec"] == "raw" { 0x55 } else { 0x70 };
                    let mh =
                        cid::multihash::Multihash::<64>::wrap(0x12, &sha2::Sha256::digest(&data))
                            .unwrap();
                    let cid = Cid::new_v1(codec, mh);
                    let size = data.len();
                    n.blocks.insert(mh.to_bytes(), data);
                    respond(
                        &mut stream,
                        "200 OK",
                        serde_json::json!({"Key": cid.to_string(), "Size": size})
                            .to_string()
                            .as_bytes(),
                    );
                }
                "/api/v0/block/get" | "/api/v0/block/stat" => {
                    let cid = arg_cid.unwrap();
                    match n.blocks.get(&cid.hash().to_bytes()).cloned() {
                        Some(mut data) if path.ends_with("get") => {
                            if n.corrupt_gets && !data.is_empty() {
                                data[0] ^= 1;
                            }
                            respond(&mut stream, "200 OK", &data);
                        }
                        Some(data) => respond(
                            &mut stream,
                            "200 OK",
                            serde_json::json!({"Key": cid.to_string(), "Size": data.len()})
                                .to_string()
                                .as_bytes(),
                        ),
                        None => respond(
                            &mut stream,
                            "500 Internal Server Error",
                            &kubo_error(&format!(
                                "block was not found locally (offline): ipld: could not find {cid}"
                            )),
                        ),
                    }
                }
                "/api/v0/pin/add" => {
                    let cid = arg_cid.unwrap().to_string();
                    n.pins.push(cid.clone());
                    respond(
                        &mut stream,
                        "200 OK",
                        serde_json::json!({"Pins": [cid]}).to_string().as_bytes(),
                    );
                }
                "/api/v0/pin/rm" => {
                    let cid = arg_cid.unwrap().to_string();
                    if let Some(i) = n.pins.iter().position(|p| *p == cid) {
                        n.pins.remove(i);
                        respond(
                            &mut stream,
                            "200 OK",
                            serde_json::json!({"Pins": [cid]}).to_string().as_bytes(),
                        );
                    } else {
                        respond(
                            &mut stream,
                            "500 Internal Server Error",
                            &kubo_error("not pinned or pinned indirectly"),
                        );
                    }
                }
                "/api/v0/pin/ls" => {
                    let keys: serde_json::Map<String, serde_json::Value> = n
                        .pins
                        .iter()
                        .map(|p| (p.clone(), serde_json::json!({"Type": "recursive"})))
                        .collect();
                    respond(
                        &mut stream,
                        "200 OK",
                        serde_json::json!({"Keys": keys}).to_string().as_bytes(),
                    );
                }
                "/api/v0/repo/gc" => {
                    // Removes everything when nothing is pinned, the only case tested here.
                    let removed: Vec<String> = if n.pins.is_empty() {
                        n.blocks
                            .drain()
                            .map(|(k, _)| {
                                Cid::new_v1(
                                    0x55,
                                    cid::multihash::Multihash::<64>::from_bytes(&k).unwrap(),
                                )
                                .to_string()
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let lines: String = removed
                        .iter()
                        .map(|c| format!("{}\n", serde_json::json!({"Key": {"/": c}})))
                        .collect();
                    respond(&mut stream, "200 OK", lines.as_bytes());
                }
                "/api/v0/add" => {
                    let data = file_part(&body, &headers["content-type"]);
                    let answer = serde_json::json!({"Name": "file", "Hash": "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN", "Size": "14", "Bytes": data.len()});
                    respond(&mut stream, "200 OK", format!("{answer}\n").as_bytes());
                }
                "/api/v0/cat" => respond(&mut stream, "200 OK", b"hello\n"),
                _ => respond(&mut stream, "404 Not Found", b"404 page not found"),
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn store_over_kubo_rpc_adds_reads_pins_and_collects() {
    let node = Arc::new(Mutex::new(Node::default()));
    let url = serve(node.clone());
    let store = Store::with_blockstore(KuboBlockstore::new(&url).unwrap());
    let data = content(31, 700_000);
    let added = store.add_reader(&data[..], &AddOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = Store::open_with(dir.path(), FsOptions { sync: false }).unwrap();
    assert_eq!(added.cid, local.add_reader(&data[..], &AddOptions::default()).unwrap().cid);
    let mut out = Vec::new();
    store.cat_to(&added.cid, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(store.pins().unwrap(), vec![added.cid]);
    assert!(store.blockstore().has(&added.cid).unwrap());
    let absent = alara_store::Block::encode(0x55, CidVersion::V1, b"absent".to_vec()).unwrap();
    assert!(!store.blockstore().has(absent.cid()).unwrap());
    assert!(matches!(store.blockstore().get(absent.cid()), Err(Error::BlockNotFound(_))));
    assert!(store.rm(&added.cid).unwrap());
    assert!(!store.rm(&added.cid).unwrap());
    assert_eq!(store.gc().unwrap().removed_blocks, added.blocks);

    let n = node.lock().unwrap();
    assert!(n.requests.iter().all(|(m, _, _)| m == "POST"), "the RPC accepts only POST");
    let puts: Vec<_> = n.requests.iter().filter(|(_, p, _)| p == "/api/v0/block/put").collect();
    assert_eq!(puts.len() as u64, added.blocks);
    assert!(puts.iter().all(|(_, _, q)| q["cid-codec"] == "dag-pb" && q["mhtype"] == "sha2-256"));
    let pin = n.requests.iter().find(|(_, p, _)| p == "/api/v0/pin/add").unwrap();
    assert_eq!(pin.2["recursive"], "true");
    assert_eq!(pin.2["arg"], added.cid.to_string());
}

#[test]
fn blocks_from_the_node_are_verified() {
    let node = Arc::new(Mutex::new(Node::default()));
    let url = serve(node.clone());
    let kubo = KuboBlockstore::new(&url).unwrap();
    let block = alara_store::Block::encode(0x55, CidVersion::V1, b"some bytes".to_vec()).unwrap();
    kubo.put(block.cid(), block.data()).unwrap();
    assert_eq!(kubo.get(block.cid()).unwrap(), block.data());
    node.lock().unwrap().corrupt_gets = true;
    assert!(matches!(kubo.get(block.cid()), Err(Error::CorruptBlock { .. })));
}

#[test]
fn node_add_and_cat_encode_kubo_parameters() {
    let node = Arc::new(Mutex::new(Node::default()));
    let url = serve(node.clone());
    let kubo = KuboBlockstore::new(&url).unwrap();
    let added = kubo.add(std::io::Cursor::new(b"hello\n".to_vec()), &AddOptions::v1()).unwrap();
    assert_eq!(added.size, 6);
    let mut out = String::new();
    kubo.cat(&added.cid).unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(out, "hello\n");
    let n = node.lock().unwrap();
    let add = n.requests.iter().find(|(_, p, _)| p == "/api/v0/add").unwrap();
    assert_eq!(add.2["cid-version"], "1");
    assert_eq!(add.2["raw-leaves"], "true");
    assert_eq!(add.2["chunker"], "size-262144");
}

#[test]
fn unreachable_node_is_a_clear_error() {
    let kubo = KuboBlockstore::new("http://127.0.0.1:9").unwrap();
    let cid = alara_store::Block::encode(0x55, CidVersion::V1, vec![]).unwrap();
    let err = kubo.get(cid.cid()).unwrap_err();
    assert!(err.to_string().contains("is the node running"), "{err}");
    assert!(KuboBlockstore::new("localhost:5001").is_err());
}
