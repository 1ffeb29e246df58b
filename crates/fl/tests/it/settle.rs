//! The round's chain path over the network: a gated coordinator service settles every
//! round through `Settler` (store, one `settleRound`, audit entry), clients sign their
//! updates, fetch their claim ticket over HTTP and are paid on-chain with their own keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alara_audit::{AuditTrail, TrailConfig};
use alara_chain::testing::TestChain;
use alara_contracts::AlaraToken;
use alara_fl::chain::{self, FederatedTraining};
use alara_fl::net::{self, ClientOptions, CoordinatorService, RoundTiming};
use alara_fl::settle::{self, Settler};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;

async fn clients_are_paid_on_chain_over_http(chain: TestChain) {
    let dir = tempfile::tempdir().unwrap();
    let p0 = chain.provider(0);
    let me = p0.get_accounts().await.unwrap()[0];
    let token = *AlaraToken::deploy(&p0, me, U256::from(10u64).pow(U256::from(24)))
        .await
        .unwrap()
        .address();
    let contract = chain::deploy(&p0, token).await.unwrap();
    let ft = FederatedTraining::new(contract, p0.clone()).await.unwrap();
    let (_, data) = crate::common::service(
        2,
        3,
        RoundTiming { deadline: Duration::from_secs(60), expected_clients: Some(3) },
    );
    let coord = crate::common::net_coordinator(2, 3);
    let pool = U256::from(coord.config().reward_pool_per_round) * U256::from(2);
    let keys: Vec<_> = (2..5).map(alara_chain::dev::dev_signer).collect();
    let accounts: HashMap<String, Address> =
        keys.iter().enumerate().map(|(i, k)| (format!("hospital-{i}"), k.address())).collect();
    let store = alara_store::Store::open(dir.path().join("store")).unwrap();
    let mut cfg = TrailConfig::new(dir.path().join("audit"), "test passphrase");
    cfg.key_work_factor = 10;
    let trail = AuditTrail::open(cfg).unwrap();
    let settler = Settler::create(
        ft,
        me,
        pool,
        B256::from(coord.config().hash()),
        store,
        trail,
        accounts,
        "net",
        "fedavg",
    )
    .await
    .unwrap();
    let task = settler.task();
    let service = CoordinatorService::gated(
        coord,
        RoundTiming { deadline: Duration::from_secs(60), expected_clients: Some(3) },
        settler.gate(),
    );
    let settler = Arc::new(tokio::sync::Mutex::new(settler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (svc, st) = (service.clone(), settler.clone());
    let server = tokio::spawn(net::serve_with(
        listener,
        service.clone(),
        Duration::from_secs(2),
        move |record, global| {
            let (svc, st) = (svc.clone(), st.clone());
            async move {
                let mut s = st.lock().await;
                s.settle(&record, &global).await?;
                let accounts: Vec<Address> = s.gate().clients().values().copied().collect();
                let tickets: Vec<_> =
                    accounts.into_iter().filter_map(|a| s.claim_ticket(a)).collect();
                svc.publish_tickets(record.round, tickets);
                Ok(())
            }
        },
    ));
    let mut running = Vec::new();
    for (i, (d, key)) in data.into_iter().zip(keys.iter().cloned()).enumerate() {
        let opts = ClientOptions {
            coordinator: url.clone(),
            client_id: format!("hospital-{i}"),
            poll: Duration::from_millis(50),
            max_rounds: None,
            patience: Duration::from_secs(5),
            signer: Some(key),
        };
        running.push(tokio::spawn(async move { net::run_client(&opts, &d).await }));
    }
    let records =
        tokio::time::timeout(Duration::from_secs(180), server).await.unwrap().unwrap().unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.clients.len() == 3));
    let mut paid = U256::ZERO;
    for (i, c) in running.into_iter().enumerate() {
        let report = c.await.unwrap().unwrap();
        assert_eq!(report.submitted.len(), 2, "{report:?}");
        let ticket = report.claim.expect("a claim ticket over HTTP");
        assert_eq!(ticket.round, 2);
        let mine = FederatedTraining::new(contract, chain.provider(i + 2)).await.unwrap();
        let payout = settle::claim(&mine, &ticket).await.unwrap();
        assert_eq!(payout.tx.value, ticket.leaf.cumulative);
        let balance = AlaraToken::new(token, p0.clone()).balanceOf(keys[i].address()).call().await;
        assert_eq!(balance.unwrap(), payout.tx.value);
        paid += payout.tx.value;
        settler.lock().await.record_payout(&payout).unwrap();
    }
    assert_eq!(paid, pool, "{}: the clients received the whole pool", chain.backend());
    let s = settler.lock().await;
    let state = s.contract().task(task).await.unwrap();
    assert_eq!((state.last_round, state.total_claimed), (2, pool));
    for r in s.rounds() {
        assert_eq!(
            s.contract().root_of(task, r.settlement.round).await.unwrap(),
            r.settlement.tree.root()
        );
    }
    assert_eq!(s.audit_entries(), 2 + 3, "a training_round per round and a payout per claim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networked_clients_are_paid_on_chain() {
    clients_are_paid_on_chain_over_http(TestChain::embedded().await.unwrap()).await;
}
