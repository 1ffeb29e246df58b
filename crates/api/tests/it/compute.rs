//! The compute routes against a real DisputeGame and ComputeMarket on the embedded chain,
//! recorded in the address book as `alara demo compute` records them: nothing deployed, an
//! Optimistic task with an ETH reward and two commitments, its phases as the chain's clock
//! moves, a dispute played through every bisection round to a timeout and settled, the
//! game's moves with their transactions and gas, the winner, and the 400/404 answers.

use alara_contracts::call::{decoder, send, Decoder};
use alara_contracts::{ComputeMarket, DisputeGame};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolValue;
use axum::http::StatusCode;
use serde_json::Value;

use crate::support::{server_with_chain, Server};

const DECODERS: &[Decoder] =
    &[decoder::<ComputeMarket::ComputeMarketErrors>, decoder::<DisputeGame::DisputeGameErrors>];

const ETH: u128 = 1_000_000_000_000_000_000;
const CHUNKS: u32 = 4;
const ROWS: u32 = 40;
const LAYERS: u32 = 1;

/// Moves the chain's clock `secs` forward and mines a block at the new time.
/// Mines a block `secs` after the head's (relative to the chain's clock, which runs ahead of
/// the wall clock when blocks come faster than one a second).
async fn advance(p: &DynProvider, secs: u64) {
    let t = chain_time(p).await + secs;
    let _: Value = p.raw_request("evm_setNextBlockTimestamp".into(), (t,)).await.unwrap();
    let _: Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

async fn chain_time(p: &DynProvider) -> u64 {
    p.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap().header.timestamp
}

async fn ok(s: &Server, uri: &str) -> Value {
    let a = s.get(uri, None).await;
    assert_eq!(a.status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// A worker's model: its layer root and the commitment salt.
struct Model {
    layers_root: B256,
    salt: B256,
}

impl Model {
    fn new(byte: u8) -> Self {
        Self { layers_root: B256::repeat_byte(byte), salt: B256::repeat_byte(byte ^ 0xff) }
    }

    fn hash(&self) -> B256 {
        keccak256((U256::from(LAYERS), self.layers_root).abi_encode_params())
    }
}

#[tokio::test]
async fn tasks_submissions_disputes_and_game_moves_from_the_chain() {
    let s = server_with_chain(|_| {}).await;
    let chain = s.chain.as_ref().unwrap();
    let data_dir = s.state.config.data_dir.clone();
    let poster = chain.provider(0);
    let (worker, honest, challenger) = (chain.provider(1), chain.provider(3), chain.provider(2));
    let addr = |i: usize| alara_chain::dev::dev_signer(i).address();
    let (worker_addr, honest_addr, challenger_addr) = (addr(1), addr(3), addr(2));

    // Nothing deployed: the list says so, one task or game is a 404 that says what deploys it.
    let list = ok(&s, "/api/v1/compute").await;
    assert_eq!(list["deployed"], false, "{list}");
    assert!(list["contracts"].is_null() && list["tasks"].as_array().unwrap().is_empty(), "{list}");
    assert!(list["hint"].as_str().unwrap().contains("alara demo compute"), "{list}");
    for uri in ["/api/v1/compute/tasks/1", "/api/v1/compute/games/1"] {
        let a = s.get(uri, None).await;
        assert_eq!((a.status, a.code().as_str()), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
        let hint = a.json()["error"]["hint"].as_str().unwrap_or_default().to_string();
        assert!(hint.contains("alara demo compute"), "{uri}: {}", a.json());
    }

    // Deployed and recorded in the address book under the names the API looks up.
    let game_addr = alara_contracts::deploy::ensure(&poster, &data_dir, "DisputeGame", || async {
        Ok::<_, alara_contracts::Error>(*DisputeGame::deploy(&poster).await?.address())
    })
    .await
    .unwrap();
    let market_addr =
        alara_contracts::deploy::ensure(&poster, &data_dir, "ComputeMarket", || async {
            Ok::<_, alara_contracts::Error>(
                *ComputeMarket::deploy(&poster, game_addr).await?.address(),
            )
        })
        .await
        .unwrap();
    let market = ComputeMarket::new(market_addr, poster.clone());

    // An Optimistic task paying 1 ETH, staking 0.1 ETH.
    let now = chain_time(&poster).await;
    let (eval_root, eval_salt) = (B256::repeat_byte(0xe1), B256::repeat_byte(0xe2));
    let eval_commitment = market
        .evalCommitment(eval_root, U256::from(CHUNKS), U256::from(ROWS), eval_salt)
        .call()
        .await
        .unwrap();
    let reward = U256::from(ETH);
    let stake = U256::from(ETH / 10);
    let params = ComputeMarket::TaskParams {
        recipe: B256::repeat_byte(0x0c),
        datasetCid: "bafkreidataset".into(),
        evalCommitment: eval_commitment,
        chunkCount: CHUNKS,
        rowCount: ROWS,
        token: Address::ZERO,
        reward,
        stake,
        commitDeadline: now + 1_000,
        revealDeadline: now + 2_000,
        challengeWindow: 1_000,
        moveTimeout: 100,
        tier: 1,
    };
    send("postTask", &market.postTask(params).value(reward), DECODERS).await.unwrap();

    // Two workers commit (the poster may not).
    let (cheat, good) = (Model::new(0x11), Model::new(0x22));
    let mut commitments = Vec::new();
    for (p, who, m) in [(&worker, worker_addr, &cheat), (&honest, honest_addr, &good)] {
        let c =
            market.submissionCommitment(U256::from(1), who, m.hash(), m.salt).call().await.unwrap();
        let as_worker = ComputeMarket::new(market_addr, p.clone());
        send("commit", &as_worker.commit(U256::from(1), c).value(stake), DECODERS).await.unwrap();
        commitments.push(c);
    }

    let list = ok(&s, "/api/v1/compute").await;
    assert_eq!(list["deployed"], true);
    assert_eq!(list["contracts"]["market"], market_addr.to_string());
    assert_eq!(list["contracts"]["game"], game_addr.to_string());
    assert_eq!(list["total"], 1);
    let t = &list["tasks"][0];
    assert_eq!(t["id"], 1, "{t}");
    assert_eq!(t["poster"], addr(0).to_string());
    assert_eq!(t["tier"], "optimistic");
    assert_eq!(t["phase"], "commit");
    assert_eq!(t["reward"], "1000000000000000000");
    assert_eq!(t["stake"], "100000000000000000");
    assert_eq!(t["token"], Address::ZERO.to_string());
    assert_eq!((t["chunk_count"].as_u64(), t["row_count"].as_u64()), (Some(4), Some(40)));
    assert_eq!(t["commit_deadline"], now + 1_000);
    assert_eq!(t["challenge_ends_at"], now + 3_000);
    assert_eq!((t["submissions"].as_u64(), t["revealed"].as_u64()), (Some(2), Some(0)));
    assert_eq!(t["evaluation_open"], false);
    assert!(t["winner"].is_null() && t["eval_root"].is_null(), "{t}");

    let one = ok(&s, "/api/v1/compute/tasks/1").await;
    assert_eq!(one["task"]["id"], 1);
    let subs = one["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{one}");
    assert_eq!(subs[0]["worker"], worker_addr.to_string());
    assert_eq!(subs[0]["commitment"], commitments[0].to_string());
    assert_eq!(subs[0]["status"], "committed");
    assert_eq!(
        (&subs[0]["revealed"], &subs[0]["invalid"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    assert!(subs[0]["accuracy_pct"].is_null() && subs[0]["reveal_order"].is_null());
    assert_eq!(subs[1]["worker"], honest_addr.to_string());
    assert!(one["disputes"].as_array().unwrap().is_empty());

    // Malformed ids are 400s that say what an id is; unknown ones 404s.
    for (uri, says) in [
        ("/api/v1/compute/tasks/abc", "task id"),
        ("/api/v1/compute/tasks/-1", "task id"),
        ("/api/v1/compute/tasks/0", "from 1"),
        ("/api/v1/compute/tasks/99999999999999999999999", "task id"),
        ("/api/v1/compute/games/x", "game id"),
    ] {
        let a = s.get(uri, None).await;
        assert_eq!(
            (a.status, a.code().as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{uri}"
        );
        let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(says), "{uri}: {msg}");
    }
    for (uri, says) in
        [("/api/v1/compute/tasks/2", "no task 2"), ("/api/v1/compute/games/1", "no game 1")]
    {
        let a = s.get(uri, None).await;
        assert_eq!((a.status, a.code().as_str()), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
        let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(says), "{uri}: {msg}");
    }

    // Commits close; the poster has not opened the set yet.
    advance(&poster, 1_000).await;
    assert_eq!(ok(&s, "/api/v1/compute").await["tasks"][0]["phase"], "awaiting-evaluation");
    send(
        "openEvaluation",
        &market.openEvaluation(U256::from(1), eval_root, eval_salt, "bafkreieval".into()),
        DECODERS,
    )
    .await
    .unwrap();
    assert_eq!(ok(&s, "/api/v1/compute").await["tasks"][0]["phase"], "reveal");

    // Each trace root is a one-leaf tree (the leaf itself, proven by an empty proof), so
    // every reveal of the game below differs and each round moves `hi` down.
    let (cheat_root, good_root, challenger_root) =
        (B256::repeat_byte(0xa1), B256::repeat_byte(0xa2), B256::repeat_byte(0xa3));
    for (p, m, correct, root, cid) in [
        (&worker, &cheat, 30u32, cheat_root, "bafkreicheat"),
        (&honest, &good, 28u32, good_root, "bafkreihonest"),
    ] {
        let as_worker = ComputeMarket::new(market_addr, p.clone());
        let call = as_worker.reveal(
            U256::from(1),
            LAYERS,
            m.layers_root,
            m.salt,
            correct,
            root,
            cid.into(),
        );
        send("reveal", &call, DECODERS).await.unwrap();
    }
    let one = ok(&s, "/api/v1/compute/tasks/1").await;
    assert_eq!(one["task"]["eval_root"], eval_root.to_string());
    let s0 = &one["submissions"][0];
    assert_eq!(s0["status"], "valid");
    assert_eq!((s0["correct"].as_u64(), s0["reveal_order"].as_u64()), (Some(30), Some(1)));
    assert_eq!(s0["accuracy_pct"].as_f64(), Some(75.0));
    assert_eq!(s0["model_hash"], cheat.hash().to_string());
    assert_eq!(s0["trace_root"], cheat_root.to_string());
    assert_eq!(s0["model_cid"], "bafkreicheat");
    assert_eq!(one["submissions"][1]["accuracy_pct"].as_f64(), Some(70.0));

    // The challenge window: the cheater's claim is disputed.
    advance(&poster, 1_000).await;
    assert_eq!(ok(&s, "/api/v1/compute").await["tasks"][0]["phase"], "challenge");
    let as_challenger = ComputeMarket::new(market_addr, challenger.clone());
    let call = as_challenger.challenge(U256::from(1), worker_addr, 25, challenger_root);
    send("challenge", &call.value(stake), DECODERS).await.unwrap();
    let steps = u64::from(CHUNKS) * u64::from(LAYERS + 1);
    let rounds = 64 - (steps - 1).leading_zeros();
    for _ in 0..rounds {
        for (p, root) in [(&worker, cheat_root), (&challenger, challenger_root)] {
            let g = DisputeGame::new(game_addr, p.clone());
            send("reveal", &g.reveal(U256::from(1), root, vec![]), DECODERS).await.unwrap();
        }
    }
    let one = ok(&s, "/api/v1/compute/tasks/1").await;
    let d = &one["disputes"][0];
    assert_eq!(d["game_id"], 1, "{one}");
    assert_eq!(d["worker"], worker_addr.to_string());
    assert_eq!(d["challenger"], challenger_addr.to_string());
    assert_eq!(d["challenger_correct"], 25);
    assert_eq!(d["bond"], "100000000000000000");
    assert_eq!(d["settled"], false);
    assert!(d["invalidated"].is_null());
    let g = &d["game"];
    assert_eq!(g["phase"], "step", "{g}");
    assert_eq!(g["by_market"], true);
    assert_eq!(
        (g["lo"].as_u64(), g["hi"].as_u64(), g["steps"].as_u64()),
        (Some(0), Some(1), Some(steps))
    );
    assert_eq!((g["rounds"].as_u64(), g["max_rounds"].as_u64()), (Some(3), Some(3)));
    assert_eq!(g["diverging_step"], 0);
    assert_eq!(g["diverging_operation"], "layer 0 of chunk 0");
    assert_eq!(g["winner"], "none");
    assert_eq!(one["task"]["unsettled_games"], 1);

    // Nobody submits the one-step proof: the timeout resolves against the claimer, and the
    // market applies it.
    advance(&poster, 101).await;
    let game = DisputeGame::new(game_addr, poster.clone());
    send("timeout", &game.timeout(U256::from(1)), DECODERS).await.unwrap();
    send("settleDispute", &market.settleDispute(U256::from(1), U256::from(1)), DECODERS)
        .await
        .unwrap();

    let ga = ok(&s, "/api/v1/compute/games/1").await;
    assert_eq!(ga["game"]["winner"], "challenger", "{ga}");
    assert_eq!(ga["game"]["resolved_by_timeout"], true);
    assert_eq!(ga["dispute"]["task_id"], 1);
    assert_eq!(ga["dispute"]["invalidated"], true);
    let moves = ga["moves"].as_array().unwrap();
    let kinds: Vec<&str> = moves.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    let mut want = vec!["opened"];
    for _ in 0..rounds {
        want.extend(["reveal", "reveal", "bisect"]);
    }
    want.extend(["resolved", "settled"]);
    assert_eq!(kinds, want);
    for m in moves {
        assert!(
            m["tx_hash"].as_str().unwrap().len() == 66 && m["gas_used"].as_u64().unwrap() > 21_000,
            "{m}"
        );
    }
    assert_eq!((moves[0]["lo"].as_u64(), moves[0]["hi"].as_u64()), (Some(0), Some(steps)));
    assert_eq!(moves[1]["role"], "claimer");
    assert_eq!(moves[1]["party"], worker_addr.to_string());
    assert_eq!((moves[1]["mid"].as_u64(), moves[1]["round"].as_u64()), (Some(4), Some(1)));
    assert_eq!(moves[2]["role"], "challenger");
    assert_eq!(moves[2]["leaf"], challenger_root.to_string());
    // The second reveal of a round bisects in the same transaction.
    assert_eq!(moves[2]["tx_hash"], moves[3]["tx_hash"]);
    let intervals: Vec<_> = moves
        .iter()
        .filter(|m| m["kind"] == "bisect")
        .map(|m| (m["lo"].as_u64().unwrap(), m["hi"].as_u64().unwrap(), m["agreed"].clone()))
        .collect();
    assert_eq!(intervals, [(0, 4, false.into()), (0, 2, false.into()), (0, 1, false.into())]);
    let resolved = &moves[moves.len() - 2];
    assert_eq!(
        (&resolved["winner"], &resolved["by_timeout"]),
        (&"challenger".into(), &true.into())
    );
    let mut txs: Vec<(&str, u64)> = moves
        .iter()
        .map(|m| (m["tx_hash"].as_str().unwrap(), m["gas_used"].as_u64().unwrap()))
        .collect();
    txs.dedup();
    assert_eq!(ga["gas_used_total"].as_u64(), Some(txs.iter().map(|(_, g)| g).sum::<u64>()));

    // The window closes; finalizing pays the honest worker.
    let one = ok(&s, "/api/v1/compute/tasks/1").await;
    assert_eq!(one["submissions"][0]["status"], "invalid");
    assert_eq!(one["submissions"][0]["invalid"], true);
    assert_eq!(one["disputes"][0]["settled"], true);
    assert_eq!(one["disputes"][0]["invalidated"], true);
    assert_eq!(one["disputes"][0]["game"]["phase"], "resolved");
    advance(&poster, 1_000).await;
    let t = &ok(&s, "/api/v1/compute").await["tasks"][0];
    assert_eq!(
        (t["phase"].as_str(), t["finalizable"].as_bool()),
        (Some("finalizable"), Some(true)),
        "{t}"
    );
    send("finalize", &market.finalize(U256::from(1)), DECODERS).await.unwrap();
    let one = ok(&s, "/api/v1/compute/tasks/1").await;
    assert_eq!(one["task"]["finalized"], true);
    assert_eq!(one["task"]["winner"], honest_addr.to_string());
    assert_eq!(one["task"]["winner_correct"], 28);
    assert_eq!(one["submissions"][1]["winner"], true);
    assert_eq!(one["submissions"][0]["winner"], false);
}
