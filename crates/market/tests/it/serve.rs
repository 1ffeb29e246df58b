//! `alara serve` over HTTP: 402 terms, paid calls from concurrent clients settled by
//! claims that pay exactly calls × price split exactly, every refused voucher (replayed,
//! skipping a receipt, another signer, above the deposit, another model's channel, about
//! to expire, a claimed nonce), licensed calls (another version's licence, a replay), bad
//! bodies, and a restart that resumes every channel from the audit log.

use std::sync::Arc;
use std::time::Duration;

use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::testing::{backends, Backend};
use alara_market::model::chain::{Format, ParentKind, ParentRef, Payer, VersionInput};
use alara_market::model::client::ChannelClient;
use alara_market::model::serve::{ServeConfig, Server};
use alara_market::model::voucher::{LicensedCall, SignedLicensedCall};
use alara_market::Token;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;

use crate::model_fixture::{Models, CLIENT, DATA_SELLER, OWNER, PRICE, STRANGER};

const MODEL: &[u8] = include_bytes!("../../../../models/breast_cancer_logreg.onnx");
const DATASET_BPS: u16 = 2_000;

fn row() -> Vec<f32> {
    alara_ml::datasets::breast_cancer().unwrap().features[3].clone()
}

fn sha(bytes: &[u8]) -> B256 {
    B256::from(alara_store::sha256(bytes))
}

/// A published version of the shipped logistic regression (file hash = its real SHA-256)
/// with the dataset listing as a parent, and a server for it on a free port.
struct Served {
    m: Models,
    model: u64,
    url: String,
    server: Arc<Server>,
    trail_dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

fn input(bytes: &[u8], price: u64) -> VersionInput {
    VersionInput {
        file_hash: sha(bytes),
        card_hash: B256::repeat_byte(7),
        cid: "bafkreiserved".into(),
        format: Format::Onnx,
        price_per_call: U256::from(price),
        license_price: U256::from(50 * PRICE),
    }
}

fn trail(dir: &std::path::Path) -> Arc<AuditTrail> {
    let mut cfg = TrailConfig::new(dir, "serve-test");
    cfg.key_work_factor = 10;
    Arc::new(AuditTrail::open(cfg).unwrap())
}

impl Served {
    async fn start(backend: Backend) -> Served {
        let m = Models::start(backend).await;
        let parents = [ParentRef { kind: ParentKind::Dataset, id: m.listing, bps: DATASET_BPS }];
        let model = m
            .c(OWNER)
            .publish("served", Token::Eth, &input(MODEL, PRICE), &parents)
            .await
            .unwrap()
            .value;
        let trail_dir = tempfile::tempdir().unwrap();
        let (server, url, task) = serve(&m, model, 1, trail(trail_dir.path())).await;
        Served { m, model, url, server, trail_dir, task }
    }

    /// CLIENT opens a channel of `calls` calls' worth signed by a fresh key.
    async fn channel(&self, calls: u64) -> (PrivateKeySigner, u64) {
        let key = PrivateKeySigner::random();
        (key.clone(), self.m.open(self.model, key.address(), calls).await)
    }

    async fn client(&self, calls: u64) -> ChannelClient {
        let (key, id) = self.channel(calls).await;
        ChannelClient::connect(&self.url, key, id).await.unwrap()
    }
}

async fn serve(
    m: &Models,
    model: u64,
    version: u32,
    trail: Arc<AuditTrail>,
) -> (Arc<Server>, String, tokio::task::JoinHandle<()>) {
    let cfg = ServeConfig {
        system: "serve-test".into(),
        model_id: model,
        version,
        price: U256::from(PRICE),
        token: Address::ZERO,
        owner: m.c(OWNER).account(),
        chain_id: m.c(OWNER).chain_id(),
        channels: m.addresses.channels,
        license: Some(m.addresses.license),
        license_price: U256::from(50 * PRICE),
        expiry_margin: Duration::from_secs(600),
    };
    let onnx = alara_ml::OnnxModel::from_bytes(MODEL).unwrap();
    let server = Server::open(cfg, onnx, trail, m.c(OWNER).clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = server.clone().router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (server, url, task)
}

async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().post(format!("{url}/v1/infer")).json(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn err(e: alara_market::Error) -> String {
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_calls_from_sixteen_clients_are_claimed_exactly_and_split_exactly() {
    for backend in backends() {
        let s = Served::start(backend).await;
        let per: Vec<u64> = (0..16).map(|i| if i < 8 { 63 } else { 62 }).collect();
        assert_eq!(per.iter().sum::<u64>(), 1_000);
        let mut tasks = Vec::new();
        for &n in &per {
            let mut c = s.client(n).await;
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    c.call(&[row()]).await.unwrap();
                }
                c.amount()
            }));
        }
        let mut signed = U256::ZERO;
        for t in tasks {
            signed += t.await.unwrap();
        }
        assert_eq!(signed, U256::from(1_000 * PRICE), "{backend}");
        let seller_before =
            s.m.c(DATA_SELLER)
                .owed(Payer::Channels, s.m.c(DATA_SELLER).account(), Token::Eth)
                .await
                .unwrap();
        let claims = s.server.claim(true).await.unwrap();
        assert_eq!(claims.len(), 16, "{backend}: one claim per channel");
        let total: U256 = claims.iter().map(|c| c.amount).sum();
        assert_eq!(total, U256::from(1_000 * PRICE), "{backend}");
        let mut dataset = U256::ZERO;
        for (c, n) in claims.iter().zip(&per) {
            assert_eq!(c.amount, U256::from(n * PRICE), "{backend}: channel {}", c.channel);
            assert_eq!(c.calls, *n, "{backend}");
            let share = c.amount * U256::from(DATASET_BPS) / U256::from(10_000);
            assert_eq!(c.payments[0], (s.m.c(DATA_SELLER).account(), share), "{backend}");
            assert_eq!(c.payments[1], (s.m.c(OWNER).account(), c.amount - share), "{backend}");
            dataset += share;
        }
        // Claim gas does not grow with calls: 63 and 62 calls cost the same, up to the
        // calldata of different amounts (the first claim also pays for the payees' first
        // credit slots).
        let gas: Vec<u64> = claims.iter().map(|c| c.gas).collect();
        assert!(gas[1..].windows(2).all(|w| w[0].abs_diff(w[1]) < 100), "{backend}: {gas:?}");
        let seller_after =
            s.m.c(DATA_SELLER)
                .owed(Payer::Channels, s.m.c(DATA_SELLER).account(), Token::Eth)
                .await
                .unwrap();
        assert_eq!(seller_after - seller_before, dataset, "{backend}");
        // The usage report, from the log, agrees, and every receipt verifies.
        let trail = s.server.trail().clone();
        let report = alara_market::model::usage::usage(
            &trail,
            alara_audit::Hash(sha(MODEL).0),
            3_600_000,
            true,
        )
        .unwrap();
        assert_eq!(
            (report.calls, report.revenue, report.receipts_verified),
            (1_000, u128::from(1_000 * PRICE), 1_000),
            "{backend}"
        );
        // Nothing is left to claim, and the channels carry on at the next nonce.
        assert!(s.server.claim(true).await.unwrap().is_empty(), "{backend}");
        s.task.abort();
        drop(s.trail_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_calls_get_402_with_the_terms_and_bad_bodies_get_400() {
    let s = Served::start(Backend::Embedded).await;
    let (status, body) = post(&s.url, &[], &serde_json::json!({"inputs": [row()]})).await;
    assert_eq!(status, 402);
    assert_eq!(body["x402Version"], 1);
    let accepts = body["accepts"].as_array().unwrap();
    assert_eq!(accepts[0]["scheme"], "alara-channel");
    assert_eq!(accepts[0]["maxAmountRequired"], PRICE.to_string());
    assert_eq!(accepts[0]["network"], format!("eip155:{}", s.m.c(OWNER).chain_id()));
    assert_eq!(
        accepts[0]["extra"]["channels"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", s.m.addresses.channels)
    );
    assert_eq!(accepts[1]["scheme"], "alara-license");
    for (body, says) in [
        (serde_json::json!({"inputs": []}), "1 to"),
        (serde_json::json!({"inputs": [[1.0, 2.0]]}), "features"),
        (serde_json::json!({"rows": [row()]}), "inputs"),
        (serde_json::json!({"inputs": vec![row(); 257]}), "1 to 256"),
    ] {
        let (status, b) = post(&s.url, &[], &body).await;
        assert_eq!(status, 400, "{b}");
        assert!(b["error"].as_str().unwrap().contains(says), "{b}");
    }
    let (status, b) = post(
        &s.url,
        &[("x-payment", "not base64!".into())],
        &serde_json::json!({"inputs": [row()]}),
    )
    .await;
    assert_eq!(status, 402, "{b}");
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_voucher_is_refused_with_what_to_send_and_nothing_is_recorded() {
    let s = Served::start(Backend::Embedded).await;
    let mut c = s.client(5).await;
    let first = c.voucher_for(1).unwrap();
    c.call(&[row()]).await.unwrap();
    let size = s.server.trail().log().size();
    // A replayed voucher: the amount is no longer the next one.
    let e = err(c.send(&first, &[row()]).await.unwrap_err());
    assert!(e.contains("402") && e.contains("acknowledges receipt"), "{e}");
    // A voucher that skips the last receipt.
    let mut v = c.voucher_for(1).unwrap().voucher;
    v.prevReceipt = B256::ZERO;
    let key = PrivateKeySigner::random();
    let domain = s.m.c(OWNER).channels_domain();
    let e = err(c.send(&v.clone().sign(&key, &domain).unwrap(), &[row()]).await.unwrap_err());
    assert!(e.contains("acknowledges receipt"), "{e}");
    // Another signer.
    let good = c.voucher_for(1).unwrap();
    let e = err(c
        .send(&good.voucher.clone().sign(&key, &domain).unwrap(), &[row()])
        .await
        .unwrap_err());
    assert!(e.contains("signed by"), "{e}");
    // Another contract or chain: the signature recovers to someone else.
    for other in [
        alara_market::model::voucher::channels_domain(
            s.m.c(OWNER).chain_id() + 1,
            s.m.addresses.channels,
        ),
        alara_market::model::voucher::channels_domain(
            s.m.c(OWNER).chain_id(),
            Address::repeat_byte(9),
        ),
    ] {
        let e = err(c
            .send(&c.sign_voucher(&good.voucher, &other).unwrap(), &[row()])
            .await
            .unwrap_err());
        assert!(e.contains("signed by"), "{e}");
    }
    // Too much: the amount skips ahead.
    let mut v = good.voucher.clone();
    v.amount += U256::from(1);
    let e = err(c.send(&c.sign_voucher(&v, &domain).unwrap(), &[row()]).await.unwrap_err());
    assert!(e.contains("expected"), "{e}");
    // Above the deposit: five calls' worth, the sixth is refused.
    for _ in 0..4 {
        c.call(&[row()]).await.unwrap();
    }
    let e = err(c.call(&[row()]).await.unwrap_err());
    assert!(e.contains("deposit"), "{e}");
    assert_eq!(s.server.trail().log().size(), size + 4, "refused calls leave no entry");
    // A channel of another model.
    let other =
        s.m.c(OWNER)
            .publish("other", Token::Eth, &input(b"\x08other model bytes", PRICE), &[])
            .await
            .unwrap()
            .value;
    let key = PrivateKeySigner::random();
    let id = s.m.open(other, key.address(), 3).await;
    let mut c2 = ChannelClient::connect(&s.url, key, id).await.unwrap();
    let e = err(c2.call(&[row()]).await.unwrap_err());
    assert!(e.contains("pays for model"), "{e}");
    // A channel that expires within the server's margin.
    let key = PrivateKeySigner::random();
    let soon = s.m.m.now().await + 60;
    let id =
        s.m.c(CLIENT)
            .open_channel(s.model, 1, key.address(), U256::from(3 * PRICE), soon)
            .await
            .unwrap()
            .value;
    let mut c3 = ChannelClient::connect(&s.url, key, id).await.unwrap();
    let e = err(c3.call(&[row()]).await.unwrap_err());
    assert!(e.contains("extend"), "{e}");
    // An unknown channel.
    let mut c4 = ChannelClient::connect(&s.url, PrivateKeySigner::random(), 999).await.unwrap();
    let e = err(c4.call(&[row()]).await.unwrap_err());
    assert!(e.contains("does not exist"), "{e}");
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_nonce_is_spent_and_the_channel_carries_on_at_the_next() {
    let s = Served::start(Backend::Embedded).await;
    let mut c = s.client(10).await;
    for _ in 0..3 {
        c.call(&[row()]).await.unwrap();
    }
    let old = c.voucher_for(1).unwrap();
    let claims = s.server.claim(true).await.unwrap();
    assert_eq!(claims[0].amount, U256::from(3 * PRICE));
    let e = err(c.send(&old, &[row()]).await.unwrap_err());
    assert!(e.contains("nonce"), "{e}");
    c.resume(1, U256::ZERO, B256::ZERO);
    c.call(&[row()]).await.unwrap();
    let claims = s.server.claim(false).await.unwrap();
    assert_eq!((claims[0].nonce, claims[0].amount), (1, U256::from(PRICE)));
    let e = err(c.call(&[row()]).await.unwrap_err());
    assert!(e.contains("closed") || e.contains("nonce"), "{e}");
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licensed_calls_need_this_versions_licence_and_cannot_be_replayed() {
    let s = Served::start(Backend::Embedded).await;
    // Version 2 of the same model: a licence of version 1 does not open it.
    let v2 =
        s.m.c(OWNER)
            .publish_version(s.model, &input(b"\x08version two bytes", PRICE), &[])
            .await
            .unwrap()
            .value;
    assert_eq!(v2, 2);
    let holder = s.m.c(CLIENT);
    let id = holder.buy_license(s.model, 1).await.unwrap().value;
    let key = alara_chain::dev::dev_signer(CLIENT);
    let body = serde_json::json!({"inputs": [row()]});
    let bytes = serde_json::to_vec(&body).unwrap();
    let signed = |license: U256, issued: u64, key: &PrivateKeySigner| {
        let call = LicensedCall { licenseId: license, request: sha(&bytes), issuedAt: issued };
        SignedLicensedCall::sign(call, key, &s.m.c(OWNER).license_domain()).unwrap().to_header()
    };
    let now = alara_audit::entry::now_ms() / 1000;
    let h = signed(id, now, &key);
    let send = |h: String| {
        let url = s.url.clone();
        let bytes = bytes.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{url}/v1/infer"))
                .header("content-type", "application/json")
                .header("x-license", h)
                .body(bytes)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (status, b) = send(h.clone()).await;
    assert_eq!(status, 200, "{b}");
    let (status, b) = send(h).await;
    assert_eq!(status, 409, "a replayed licensed call: {b}");
    // Stale, another holder, another version's licence id.
    let (status, b) = send(signed(id, now - 3_600, &key)).await;
    assert_eq!(status, 402, "{b}");
    assert!(b["error"].as_str().unwrap().contains("sign it again"), "{b}");
    let stranger = alara_chain::dev::dev_signer(STRANGER);
    let (status, b) = send(signed(id, now + 1, &stranger)).await;
    assert_eq!(status, 402);
    assert!(b["error"].as_str().unwrap().contains("holds no licence"), "{b}");
    let (server2, url2, task2) =
        serve(&s.m, s.model, 2, trail(tempfile::tempdir().unwrap().path())).await;
    let r = reqwest::Client::new()
        .post(format!("{url2}/v1/infer"))
        .header("content-type", "application/json")
        .header("x-license", signed(id, now + 2, &key))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 402);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(b["error"].as_str().unwrap().contains("not for this version"), "{b}");
    drop(server2);
    task2.abort();
    s.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_resumes_every_channel_from_the_log() {
    let s = Served::start(Backend::Embedded).await;
    let mut a = s.client(20).await;
    let mut b = s.client(20).await;
    for _ in 0..5 {
        a.call(&[row()]).await.unwrap();
        b.call(&[row()]).await.unwrap();
    }
    // The old server lets go of its trail once its connections have drained (the trail's
    // lock refuses a second open until then).
    let old = Arc::downgrade(&s.server);
    s.task.abort();
    drop(s.server);
    let gone = tokio::time::timeout(Duration::from_secs(30), async {
        while old.strong_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    gone.await.expect("the stopped server still holds its trail after 30 s");
    let (server, url, task) = serve(&s.m, s.model, 1, trail(s.trail_dir.path())).await;
    let mut a2 = ChannelClient::connect(&url, a.signer().clone(), a.channel()).await.unwrap();
    a2.resume(0, a.amount(), a.last_receipt());
    a2.call(&[row()]).await.unwrap();
    // The restarted server still refuses a stale voucher of b.
    let mut b2 = ChannelClient::connect(&url, b.signer().clone(), b.channel()).await.unwrap();
    let e = err(b2.call(&[row()]).await.unwrap_err());
    assert!(e.contains("acknowledges receipt"), "{e}");
    let claims = server.claim(true).await.unwrap();
    let amounts: Vec<U256> = claims.iter().map(|c| c.amount).collect();
    assert_eq!(amounts, vec![U256::from(6 * PRICE), U256::from(5 * PRICE)]);
    task.abort();
}
