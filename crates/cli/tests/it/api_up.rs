//! `alara up` serves the API, its docs and the dashboard beside JSON-RPC on one port; keys
//! made by `alara api key create` work on the running server at once; `--no-api` serves
//! JSON-RPC only; a server on a non-loopback address allows no anonymous reads.

use serde_json::{json, Value};

use crate::support::{alara, AlaraNode};

const PASS: (&str, &str) = ("ALARA_LOG_KEY_PASSWORD", "api test passphrase");

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_dashboard_api_and_json_rpc_on_one_port() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start_with_env(dir.path(), &["up"], &[PASS]);
    let base = node.summary["dashboard_url"].as_str().expect("dashboard_url").to_string();
    assert_eq!(base, format!("{}/", node.url));
    let (status, html) = get(&base, None).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html") || html.contains("<!doctype"), "{html}");
    let (status, doc) = get(&format!("{}/openapi.json", node.url), None).await;
    assert_eq!(status, 200);
    assert!(doc.contains("\"openapi\": \"3.1"));
    // JSON-RPC is still POST / on the same port.
    let (status, rpc) =
        post(&node.url, None, &json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}))
            .await;
    assert_eq!((status, rpc["result"].as_str()), (200, Some("0x7a69")));
    // The API knows the contracts `up` deployed.
    let (_, info) = get(&format!("{}/api/v1/info", node.url), None).await;
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(
        info["contracts"]["AuditAnchor"].as_str().map(str::to_lowercase),
        node.summary["contracts"]["audit_anchor"].as_str().map(str::to_lowercase)
    );
    assert_eq!(info["audit"]["size"], 0);

    // Writing needs a key; one made by the CLI works on the running server.
    let entry = json!({"time_ms": 1, "type": "payout", "context": "fl/round/1",
        "recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "token": "ALR",
        "amount": "1000", "tx": null});
    let entries = format!("{}/api/v1/audit/entries", node.url);
    let (status, err) = post(&entries, None, &entry).await;
    assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")));
    let out = alara()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["api", "key", "create", "--name", "test", "--role", "writer", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(key), "the key is not logged");
    let (status, appended) = post(&entries, Some(key), &entry).await;
    assert_eq!(status, 200, "{appended}");
    assert_eq!(appended["index"], 0);
    let (status, receipt) =
        get(&format!("{}/api/v1/audit/entries/0/receipt", node.url), None).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(receipt.contains("alara.audit.receipt/v2"));
    // The key file holds a hash, never the key.
    let file = std::fs::read_to_string(dir.path().join("api/keys.json")).unwrap();
    assert!(!file.contains(key.rsplit('_').next().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_api_serves_json_rpc_only_and_public_hosts_need_keys() {
    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up", "--no-api", "--no-deploy"]);
    assert!(node.summary["dashboard_url"].is_null());
    let (status, _) = get(&format!("{}/api/v1/info", node.url), None).await;
    assert_eq!(status, 404);
    drop(node);

    let dir = tempfile::tempdir().unwrap();
    let node = AlaraNode::start(dir.path(), &["up", "--no-deploy", "--host", "0.0.0.0"]);
    let port = node.url.rsplit(':').next().unwrap().to_string();
    let (status, body) = get(&format!("http://127.0.0.1:{port}/api/v1/audit/status"), None).await;
    assert_eq!(status, 401, "{body}");
}
