//! Hostile input to the networked coordinator and client: invented client ids, unsigned
//! or wrongly signed updates, floods of bad posts, and oversized answers from a fake
//! coordinator.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alara_fl::commitment::SignedCommitment;
use alara_fl::net::{self, ClientOptions, CoordinatorService, RoundTiming, MAX_REJECTIONS};
use alara_fl::settle::{ChainTask, ClientGate};
use alara_fl::{ClientUpdate, Error};
use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::{body::Body, http::Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::common::{nudged, service};

const CHAIN: ChainTask = ChainTask {
    chain_id: 31337,
    contract: Address::repeat_byte(0x5a),
    task: U256::from_limbs([3, 0, 0, 0]),
};

fn keys() -> Vec<PrivateKeySigner> {
    (2..5).map(alara_chain::dev::dev_signer).collect()
}

fn gated() -> Arc<CoordinatorService> {
    let coord = crate::common::net_coordinator(2, 3);
    let clients = keys()
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("hospital-{i}"), k.address()))
        .collect::<Vec<_>>();
    CoordinatorService::gated(
        coord,
        RoundTiming { deadline: Duration::from_secs(600), expected_clients: Some(3) },
        ClientGate::new(CHAIN, clients),
    )
}

fn post(uri: &str, body: Vec<u8>, signature: Option<&[u8]>) -> Request<Body> {
    let mut b = Request::builder().method("POST").uri(uri);
    if let Some(sig) = signature {
        b = b.header("x-alara-signature", hex::encode(sig));
    }
    b.body(Body::from(body)).unwrap()
}

fn signed(key: &PrivateKeySigner, round: u64, update: &ClientUpdate) -> Vec<u8> {
    let c = CHAIN.commitment(round, update.update_hash, update.sample_count);
    SignedCommitment::sign(key, &CHAIN.domain(), c).unwrap().signature.to_vec()
}

#[tokio::test]
async fn invented_client_ids_and_bad_signatures_cannot_close_a_round() {
    let svc = gated();
    let app = net::router(svc.clone());
    let g = svc.global();
    let keys = keys();
    let mallory = PrivateKeySigner::random();
    // The attack of the review: made-up ids fill the expected count of 3.
    for (i, id) in ["c1", "mallory-a", "mallory-b"].iter().enumerate() {
        let u = ClientUpdate::new(id, 1, 10, nudged(&g, i as f32 + 1.0));
        let sig = signed(&mallory, 1, &u);
        let res = app
            .clone()
            .oneshot(post(&format!("/v1/update/{id}/1/10"), u.weights.to_safetensors(), Some(&sig)))
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{id}");
    }
    // A registered id without a signature, with a stranger's, and with its own key over
    // other numbers (another sample count).
    let u = ClientUpdate::new("hospital-0", 1, 10, nudged(&g, 4.0));
    let body = u.weights.to_safetensors();
    let own = signed(&keys[0], 1, &u);
    for (sig, uri) in [
        (None, "/v1/update/hospital-0/1/10"),
        (Some(signed(&mallory, 1, &u)), "/v1/update/hospital-0/1/10"),
        (Some(own.clone()), "/v1/update/hospital-0/1/11"),
        (Some(own[..64].to_vec()), "/v1/update/hospital-0/1/10"),
        (Some(signed(&keys[1], 1, &u)), "/v1/update/hospital-0/1/10"),
    ] {
        let res = app.clone().oneshot(post(uri, body.clone(), sig.as_deref())).await.unwrap();
        assert_eq!(res.status(), 403, "{uri}");
    }
    assert!(svc.tick().unwrap().is_none(), "no rejected update counts toward the round");
    assert!(svc.records().is_empty());
    let stats = svc.rejection_stats();
    assert_eq!(stats.total, 8);
    assert_eq!(stats.by_reason["unknown_client"], 3);
    assert_eq!(stats.by_reason["bad_signature"], 5);
    // The genuine clients are still welcome and close the round.
    for (i, k) in keys.iter().enumerate() {
        let id = format!("hospital-{i}");
        let u = ClientUpdate::new(&id, 1, 10, nudged(&g, 10.0 + i as f32));
        let sig = signed(k, 1, &u);
        let res = app
            .clone()
            .oneshot(post(&format!("/v1/update/{id}/1/10"), u.weights.to_safetensors(), Some(&sig)))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{id}");
    }
    let record = svc.tick().unwrap().expect("the round closes with the three genuine clients");
    let ids: Vec<_> = record.clients.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(ids, ["hospital-0", "hospital-1", "hospital-2"]);
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn twenty_thousand_bad_posts_keep_records_and_logs_bounded() {
    let bytes = Counter::default();
    let writer = bytes.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    for svc in [
        gated(),
        service(2, 1, RoundTiming { deadline: Duration::from_secs(600), expected_clients: None }).0,
    ] {
        let before = bytes.0.load(Ordering::Relaxed);
        let app = net::router(svc.clone());
        let long = "m".repeat(4096);
        for n in 0..20_000u32 {
            let res = app
                .clone()
                .oneshot(post(&format!("/v1/update/{long}{n}/2/10"), b"junk".to_vec(), None))
                .await
                .unwrap();
            assert!(res.status().is_client_error());
        }
        let logged = bytes.0.load(Ordering::Relaxed) - before;
        let stats = svc.rejection_stats();
        assert_eq!(stats.total, 20_000);
        let kept = svc.rejections();
        assert_eq!(kept.len(), MAX_REJECTIONS);
        assert!(kept.iter().all(|r| r.client_id.len() < 100), "client ids are cut");
        assert!(kept.last().unwrap().client_id.contains("4101 bytes"), "{:?}", kept.last());
        // 64 lines of a few hundred bytes plus 20 summaries; 4 KiB ids unbounded would be 80 MB.
        assert!(logged > 0 && logged < 64 * 1024, "{logged} bytes of logs");
    }
}

/// A fake coordinator: answers `/v1/task` with `task_json` and `/v1/model` with `model`
/// (a 2 GiB body, declared or chunked); counts the body bytes it managed to send.
async fn fake_coordinator(
    task_json: Vec<u8>,
    oversize_task: bool,
    declared: bool,
) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let task_json = Arc::new(task_json);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (counter, task_json) = (counter.clone(), task_json.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let Ok(n) = sock.read(&mut buf).await else { return };
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let big = req.starts_with("GET /v1/model")
                    || (oversize_task && req.starts_with("GET /v1/task"));
                if !big {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        task_json.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&task_json).await;
                    return;
                }
                let total: u64 = 2 << 30;
                let head = if declared {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {total}\r\nconnection: close\r\n\r\n"
                    )
                } else {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'{'; 64 * 1024];
                let mut left = total;
                while left > 0 {
                    let ok = if declared {
                        sock.write_all(&chunk).await.is_ok()
                    } else {
                        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                        framed.extend_from_slice(&chunk);
                        framed.extend_from_slice(b"\r\n");
                        sock.write_all(&framed).await.is_ok()
                    };
                    if !ok {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    left = left.saturating_sub(chunk.len() as u64);
                }
            });
        }
    });
    (url, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_refuses_a_2_gib_answer_while_streaming() {
    let (svc, data) =
        service(2, 1, RoundTiming { deadline: Duration::from_secs(600), expected_clients: None });
    let res = net::router(svc)
        .oneshot(Request::builder().uri("/v1/task").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let task_json = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec();
    for (oversize_task, declared) in [(false, true), (false, false), (true, false), (true, true)] {
        let (url, sent) = fake_coordinator(task_json.clone(), oversize_task, declared).await;
        let opts = ClientOptions {
            coordinator: url,
            client_id: "hospital-0".into(),
            poll: Duration::from_millis(20),
            max_rounds: None,
            patience: Duration::from_secs(5),
            signer: None,
        };
        let r = tokio::time::timeout(Duration::from_secs(60), net::run_client(&opts, &data[0]))
            .await
            .expect("refused early, not after downloading 2 GiB");
        match r {
            Err(Error::TooLarge { what, limit, seen: s }) => {
                assert!(
                    what.contains(if oversize_task { "/v1/task" } else { "/v1/model" }),
                    "{what}"
                );
                assert!(limit <= 1 << 20, "{limit}");
                if declared {
                    assert_eq!(s, 2 << 30, "refused on the declared length");
                }
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = sent.load(Ordering::Relaxed);
        assert!(n < 64 << 20, "the fake sent {n} bytes before the client hung up");
    }
}
