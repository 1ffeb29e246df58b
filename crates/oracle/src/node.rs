//! The oracle network: n node processes that observe and sign, and a leader that assembles
//! their observations into a report and has any f + 1 of them sign it with the committee's
//! threshold key.
//!
//! A node ([`Node`], served by [`router`]) watches the committee's sources (for the shipped
//! series: [`QuoteModel`] quotes, its own seeded view of the same exchanges), runs the
//! detectors over them each epoch and answers the leader over HTTP:
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/observe {epoch, round}` | its observation for `round`, signed with its ECDSA key, with the decision and raw quotes behind it |
//! | `POST /v1/commit {round}` | fresh FROST nonce commitments for that round (the nonces stay in its memory, used at most once) |
//! | `POST /v1/sign {report, observations, package}` | its signature share, only if the report is for its configuration and a round it has not signed, every observation in it is signed by its observer, at least 2f + 1 of them, and its own observation (if used) is unchanged |
//! | `GET /v1/node` | index, address, feed |
//!
//! A node refuses to sign a second report for a round it signed, so a leader cannot get two
//! different answers for one round. The [`Leader`] asks every node to observe, keeps the
//! observations whose signatures check, builds the report, and asks f + 1 nodes to sign;
//! a share that does not verify is named by FROST and the leader tries again without that
//! node. f malicious nodes can neither move the median outside the honest observations nor
//! sign a report alone.
//!
//! Secrets: a node's ECDSA key and FROST share are one age file encrypted with a passphrase
//! ([`NodeSecret::seal`]); the committee file holds public data only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::aliases::I192;
use alloy::primitives::{keccak256, Address, Bytes, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{sol_data, SolType};
use frost_secp256k1 as frost;
use frost_secp256k1::keys::{KeyPackage, PublicKeyPackage};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::consensus::{decide, Decision};
use crate::detect::{Detector, DetectorConfig};
use crate::report::{Observation, Report};
use crate::series::QuoteModel;
use crate::threshold::{self, AggregateSignature, Committee};
use crate::{Error, Result};

/// The environment variable node secrets' passphrase is read from.
pub const PASSPHRASE_ENV: &str = "ALARA_ORACLE_PASSWORD";

/// Largest request body a node reads.
pub const MAX_REQUEST: usize = 256 * 1024;

/// What every node and the leader share: public data only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CommitteeFile {
    /// The feed's name (the aggregator's description).
    pub feed: String,
    /// The shipped series the sources quote ([`crate::series::named`]).
    pub series: String,
    /// The sources every node watches (node i sees them with seed `model.seed + i`).
    pub model: QuoteModel,
    /// Accepted quotes a node needs to observe.
    pub quorum: usize,
    /// Nodes.
    pub n: u8,
    /// Faulty nodes tolerated; the threshold is f + 1.
    pub f: u8,
    /// Node i's ECDSA address at index i (the aggregator's signer set).
    pub signers: Vec<Address>,
    /// The FROST public key package (group key and the shares' keys), hex.
    pub public: String,
    /// Chain the aggregator lives on.
    pub chain_id: u64,
    /// The `OracleAggregator`.
    pub aggregator: Address,
    /// The digest reports must carry.
    pub config_digest: B256,
    /// The `UptimeFeed` the leader reports the network's status to (up, or down when a round
    /// lacks its quorum: [`crate::health`]); none in committee files made before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Address>,
}

impl CommitteeFile {
    /// The FROST public key package.
    pub fn public_package(&self) -> Result<PublicKeyPackage> {
        let bytes = hex::decode(self.public.trim_start_matches("0x")).map_err(|e| {
            Error::Malformed { what: "committee public key", detail: e.to_string() }
        })?;
        PublicKeyPackage::deserialize(&bytes)
            .map_err(|e| Error::Malformed { what: "committee public key", detail: e.to_string() })
    }

    /// Observations a report needs: 2f + 1.
    pub fn min_observations(&self) -> usize {
        2 * usize::from(self.f) + 1
    }
}

/// One node's secrets: its ECDSA key (observations) and its FROST share (reports).
#[derive(Clone)]
pub struct NodeSecret {
    /// Its index in the signer set.
    pub index: u8,
    /// Its ECDSA key.
    pub key: PrivateKeySigner,
    /// Its share of the group key.
    pub share: KeyPackage,
}

impl std::fmt::Debug for NodeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key or the share.
        f.debug_struct("NodeSecret")
            .field("index", &self.index)
            .field("address", &self.key.address())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct SecretJson {
    index: u8,
    key: B256,
    share: String,
}

impl NodeSecret {
    /// Encrypted with `passphrase` (age, scrypt work factor `work_factor`), armored.
    pub fn seal(&self, passphrase: &str, work_factor: u8) -> Result<Vec<u8>> {
        let share = self.share.serialize().map_err(|e| Error::Signature(e.to_string()))?;
        let json = serde_json::to_vec(&SecretJson {
            index: self.index,
            key: self.key.to_bytes(),
            share: hex::encode(share),
        })
        .map_err(|e| Error::Signature(e.to_string()))?;
        alara_audit::keyfile::seal(passphrase, work_factor, &json)
            .map_err(|e| Error::Invalid { what: "node secret", detail: e })
    }

    /// Decrypts what [`NodeSecret::seal`] made.
    pub fn open(armored: &[u8], passphrase: &str) -> Result<Self> {
        let plain =
            alara_audit::keyfile::unseal(armored, passphrase).map_err(|e| Error::Invalid {
                what: "node secret",
                detail: format!("{e}; is {PASSPHRASE_ENV} the passphrase it was created with?"),
            })?;
        let malformed = |detail: String| Error::Malformed { what: "node secret", detail };
        let s: SecretJson = serde_json::from_slice(&plain).map_err(|e| malformed(e.to_string()))?;
        let key = PrivateKeySigner::from_bytes(&s.key).map_err(|e| malformed(e.to_string()))?;
        let share = hex::decode(&s.share).map_err(|e| malformed(e.to_string()))?;
        let share = KeyPackage::deserialize(&share).map_err(|e| malformed(e.to_string()))?;
        Ok(Self { index: s.index, key, share })
    }
}

/// Keys for a committee of `n` tolerating `f`: fresh ECDSA keys and a distributed key
/// generation with threshold f + 1 (run here for every node: a setup in one place, so the
/// place that runs it must be trusted to forget the shares it hands out).
pub fn new_committee<R: rand::RngCore + rand::CryptoRng>(
    n: u8,
    f: u8,
    rng: &mut R,
) -> Result<(Vec<NodeSecret>, Committee)> {
    if f == 0 || usize::from(n) < 3 * usize::from(f) + 1 {
        return Err(Error::Invalid {
            what: "committee",
            detail: format!("n = {n}, f = {f}: need f ≥ 1 and n ≥ 3f + 1"),
        });
    }
    let committee = threshold::dkg(n, f + 1, rng)?;
    let secrets = committee
        .shares
        .iter()
        .enumerate()
        .map(|(i, share)| {
            let mut bytes = B256::ZERO;
            rng.fill_bytes(bytes.as_mut_slice());
            let key = PrivateKeySigner::from_bytes(&bytes)
                .map_err(|e| Error::Signature(format!("node key: {e}")))?;
            Ok(NodeSecret { index: i as u8, key, share: share.clone() })
        })
        .collect::<Result<_>>()?;
    Ok((secrets, committee))
}

/// Deploys an `OracleAggregator` for `feed` (owned by `owner`, the provider's account) and
/// configures it for a new committee of `n` nodes tolerating `f`: their ECDSA addresses and
/// their FROST group key. Returns the node secrets and the committee file every node and
/// the leader share (quorum 3 accepted quotes).
pub async fn deploy_committee<R: rand::RngCore + rand::CryptoRng>(
    p: &alloy::providers::DynProvider,
    owner: Address,
    feed: &str,
    (series, model): (&str, QuoteModel),
    (n, f): (u8, u8),
    rng: &mut R,
) -> Result<(Vec<NodeSecret>, CommitteeFile)> {
    use alloy::providers::Provider;
    crate::series::named(series)?;
    let (secrets, committee) = new_committee(n, f, rng)?;
    let key = threshold::GroupKey::of(&committee.public)?;
    let c = alara_contracts::OracleAggregator::deploy(
        p.clone(),
        owner,
        crate::consensus::DECIMALS,
        feed.to_string(),
    )
    .await
    .map_err(|e| Error::Deploy { contract: "OracleAggregator", detail: e.to_string() })?;
    let signers: Vec<Address> = secrets.iter().map(|s| s.key.address()).collect();
    alara_contracts::call::send(
        "setConfig",
        &c.setConfig(signers.clone(), f, key.to_contract()),
        crate::report::DECODERS,
    )
    .await?;
    let config_digest = c
        .configDigest()
        .call()
        .await
        .map_err(|e| Error::Deploy { contract: "OracleAggregator", detail: e.to_string() })?;
    let chain_id = p
        .get_chain_id()
        .await
        .map_err(|e| Error::Deploy { contract: "OracleAggregator", detail: e.to_string() })?;
    let public = committee
        .public
        .serialize()
        .map_err(|e| Error::Malformed { what: "committee public key", detail: e.to_string() })?;
    let file = CommitteeFile {
        feed: feed.to_string(),
        series: series.to_string(),
        model,
        quorum: 3,
        n,
        f,
        signers,
        public: hex::encode(public),
        chain_id,
        aggregator: *c.address(),
        config_digest,
        uptime: None,
    };
    Ok((secrets, file))
}

/// Serves every node of `committee` in this process on loopback (node i behaving as
/// `behaviour(i)`), for tests and benchmarks; their URLs, in index order.
pub async fn serve_local(
    committee: &CommitteeFile,
    secrets: &[NodeSecret],
    behaviour: impl Fn(usize) -> Behaviour,
) -> Result<Vec<Option<String>>> {
    let mut urls = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let node = Arc::new(Node::new(committee.clone(), secret.clone(), behaviour(i))?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Invalid { what: "listener", detail: e.to_string() })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Invalid { what: "listener", detail: e.to_string() })?;
        urls.push(Some(format!("http://{addr}")));
        let app = router(node);
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Ok(urls)
}

/// The 32 bytes a node signs (EIP-191) for an observation:
/// `keccak256(abi.encode(configDigest, roundId, observer, value))`.
pub fn observation_hash(digest: B256, round: u32, observer: u8, value: i128) -> B256 {
    type Abi =
        (sol_data::FixedBytes<32>, sol_data::Uint<32>, sol_data::Uint<8>, sol_data::Int<192>);
    let v = I192::try_from(value).unwrap_or(I192::ZERO);
    keccak256(Abi::abi_encode_params(&(digest, round, observer, v)))
}

/// An observation as a node hands it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedObservation {
    /// The report round it is for.
    pub round: u32,
    /// The observer's index.
    pub observer: u8,
    /// The value (fixed point, the feed's decimals).
    pub value: i128,
    /// EIP-191 signature of [`observation_hash`], 65 bytes.
    pub signature: Bytes,
}

impl SignedObservation {
    /// Whether it is signed by `signers[observer]` for `digest`.
    pub fn check(&self, digest: B256, signers: &[Address]) -> Result<()> {
        let who = signers.get(usize::from(self.observer)).ok_or_else(|| Error::Invalid {
            what: "observation",
            detail: format!("observer {} is not in the committee", self.observer),
        })?;
        let sig = alloy::primitives::Signature::try_from(self.signature.as_ref())
            .map_err(|e| Error::Signature(format!("observation {}: {e}", self.observer)))?;
        let h = observation_hash(digest, self.round, self.observer, self.value);
        let got = sig
            .recover_address_from_msg(h.as_slice())
            .map_err(|e| Error::Signature(format!("observation {}: {e}", self.observer)))?;
        if got != *who {
            return Err(Error::Signature(format!(
                "observation {} is signed by {got}, not {who}",
                self.observer
            )));
        }
        Ok(())
    }
}

/// `POST /v1/observe`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObserveRequest {
    /// The observation epoch (which data point of the sources; increases by one each time
    /// the leader asks, whether or not a report follows).
    pub epoch: u64,
    /// The report round the observation is for (the aggregator's latest + 1).
    pub round: u32,
}

/// A node's answer to `POST /v1/observe`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObserveResponse {
    /// The signed observation.
    pub observation: SignedObservation,
    /// How the node reached it: accepted and dropped sources, confidence, detector.
    pub decision: Decision,
    /// The raw quotes the decision was made from (their SHA-256 is `decision.quotes`).
    pub quotes: Vec<(String, f64)>,
    /// The node's detector as it was before this epoch (settings and per-source history):
    /// with `quotes`, all [`crate::journal::replay`] needs to recompute `decision`.
    pub detector: Detector,
}

/// `POST /v1/commit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitRequest {
    /// The round to be signed.
    pub round: u32,
}

/// A node's answer to `POST /v1/commit`: FROST signing commitments, serialized.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitResponse {
    /// The commitments.
    pub commitments: Bytes,
}

/// `POST /v1/sign`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignRequest {
    /// The encoded report.
    pub report: Bytes,
    /// The signed observations it is made of.
    pub observations: Vec<SignedObservation>,
    /// The FROST signing package (every chosen signer's commitments and the message).
    pub package: Bytes,
}

/// A node's answer to `POST /v1/sign`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignResponse {
    /// Its signature share, serialized.
    pub share: Bytes,
}

/// `GET /v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Index in the committee.
    pub index: u8,
    /// ECDSA address.
    pub address: Address,
    /// Feed.
    pub feed: String,
    /// Latest epoch observed.
    pub epoch: u64,
}

/// How a node misbehaves (for tests and demos of f malicious nodes); honest by default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Behaviour {
    /// Observes and signs as the protocol says.
    #[default]
    Honest,
    /// Reports its observation × the factor.
    Lie(f64),
    /// Sends a signature share that does not verify.
    BadShare,
}

struct State {
    detector: Detector,
    quotes: Vec<Vec<Option<f64>>>,
    epoch: u64,
    /// Per epoch: the decision, its quotes and the detector before it.
    decided: BTreeMap<u64, (Decision, crate::detect::Quotes, Detector)>,
    nonces: BTreeMap<u32, frost::round1::SigningNonces>,
    signed: u32,
}

/// One oracle node.
pub struct Node {
    committee: CommitteeFile,
    secret: NodeSecret,
    behaviour: Behaviour,
    state: Mutex<State>,
}

impl Node {
    /// A node with `secret` in `committee`, watching its view of the committee's sources.
    pub fn new(committee: CommitteeFile, secret: NodeSecret, behaviour: Behaviour) -> Result<Self> {
        if committee.signers.get(usize::from(secret.index)) != Some(&secret.key.address()) {
            return Err(Error::Invalid {
                what: "node",
                detail: format!(
                    "the key of node {} is not the committee's signer {}",
                    secret.index, secret.index
                ),
            });
        }
        let truth: Vec<f64> =
            crate::series::named(&committee.series)?.into_iter().map(|p| p.value).collect();
        let mut model = committee.model.clone();
        model.seed = model.seed.wrapping_add(u64::from(secret.index));
        let quotes = model.quotes(&truth)?;
        let state = State {
            detector: Detector::new(DetectorConfig::default()),
            quotes,
            epoch: 0,
            decided: BTreeMap::new(),
            nonces: BTreeMap::new(),
            signed: 0,
        };
        Ok(Self { committee, secret, behaviour, state: Mutex::new(state) })
    }

    /// Its index.
    pub fn index(&self) -> u8 {
        self.secret.index
    }

    /// Decides every epoch up to `epoch` in order (so a node that missed some catches up
    /// exactly as if it had seen them), and answers for `round`.
    pub async fn observe(&self, req: &ObserveRequest) -> Result<ObserveResponse> {
        let mut st = self.state.lock().await;
        if req.epoch == 0 {
            return Err(Error::Invalid { what: "epoch", detail: "epochs start at 1".into() });
        }
        if req.epoch < st.epoch && !st.decided.contains_key(&req.epoch) {
            return Err(Error::Invalid {
                what: "epoch",
                detail: format!("epoch {} is older than the last 64 ({})", req.epoch, st.epoch),
            });
        }
        while st.epoch < req.epoch {
            let e = st.epoch + 1;
            let row = &st.quotes[((e - 1) as usize) % st.quotes.len()];
            let quotes: Vec<(String, f64)> = row
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (format!("source-{i}"), v)))
                .collect();
            let quorum = self.committee.quorum;
            let st = &mut *st;
            let before = st.detector.clone();
            match decide(&self.committee.feed, e, &quotes, &mut st.detector, quorum) {
                Ok(d) => {
                    st.decided.insert(e, (d, quotes, before));
                }
                Err(e) if e.is_no_report() => {}
                Err(err) => return Err(err),
            }
            st.epoch = e;
            while st.decided.len() > 64 {
                st.decided.pop_first();
            }
        }
        let (decision, quotes, detector) =
            st.decided.get(&req.epoch).cloned().ok_or_else(|| Error::Quorum {
                round: req.epoch,
                have: 0,
                need: self.committee.quorum,
            })?;
        let mut value = decision.fixed;
        if let Behaviour::Lie(factor) = self.behaviour {
            value = crate::consensus::to_fixed(decision.value * factor)?;
        }
        let h = observation_hash(self.committee.config_digest, req.round, self.index(), value);
        let sig = self
            .secret
            .key
            .sign_message_sync(h.as_slice())
            .map_err(|e| Error::Signature(e.to_string()))?;
        let observation = SignedObservation {
            round: req.round,
            observer: self.index(),
            value,
            signature: Bytes::from(sig.as_bytes().to_vec()),
        };
        Ok(ObserveResponse { observation, decision, quotes, detector })
    }

    /// Fresh nonces for `round`; their commitments.
    pub async fn commit(&self, req: &CommitRequest) -> Result<CommitResponse> {
        let mut st = self.state.lock().await;
        if req.round <= st.signed {
            return Err(Error::Invalid {
                what: "round",
                detail: format!(
                    "round {} is not after the last one signed ({})",
                    req.round, st.signed
                ),
            });
        }
        let (nonces, commitments) = threshold::commit(&self.secret.share, &mut rand::rngs::OsRng);
        st.nonces.insert(req.round, nonces);
        while st.nonces.len() > 8 {
            st.nonces.pop_first();
        }
        let bytes = commitments.serialize().map_err(|e| Error::Signature(e.to_string()))?;
        Ok(CommitResponse { commitments: bytes.into() })
    }

    /// Checks the report and signs it (see the module's table); the nonces are used once.
    pub async fn sign(&self, req: &SignRequest) -> Result<SignResponse> {
        let c = &self.committee;
        let report = Report::decode(&req.report)?;
        let refuse = |detail: String| Error::Invalid { what: "report", detail };
        if report.config_digest != c.config_digest {
            return Err(refuse("it is for another configuration".into()));
        }
        if report.observations.len() < c.min_observations() {
            return Err(refuse(format!(
                "{} observations, at least {} needed",
                report.observations.len(),
                c.min_observations()
            )));
        }
        if report.values().windows(2).any(|w| w[0] > w[1]) {
            return Err(refuse("observations are not sorted".into()));
        }
        let signed: BTreeMap<u8, &SignedObservation> =
            req.observations.iter().map(|o| (o.observer, o)).collect();
        for o in &report.observations {
            let s = signed.get(&o.observer).ok_or_else(|| {
                refuse(format!("observation of node {} comes without its signature", o.observer))
            })?;
            if s.value != o.value || s.round != report.round {
                return Err(refuse(format!("node {}'s observation was altered", o.observer)));
            }
            s.check(c.config_digest, &c.signers)?;
        }
        let package = frost::SigningPackage::deserialize(&req.package)
            .map_err(|e| Error::Malformed { what: "signing package", detail: e.to_string() })?;
        if package.message() != report.hash().as_slice() {
            return Err(refuse("the signing package is for another message".into()));
        }
        let mut st = self.state.lock().await;
        if report.round <= st.signed {
            return Err(refuse(format!(
                "round {} is not after the last one this node signed ({})",
                report.round, st.signed
            )));
        }
        let nonces = st.nonces.remove(&report.round).ok_or_else(|| {
            refuse(format!("no commitment of this node for round {}", report.round))
        })?;
        let share = frost::round2::sign(&package, &nonces, &self.secret.share)
            .map_err(|e| Error::Signature(e.to_string()))?;
        st.signed = report.round;
        let mut bytes = share.serialize();
        if self.behaviour == Behaviour::BadShare {
            if let Some(b) = bytes.last_mut() {
                *b ^= 1;
            }
        }
        Ok(SignResponse { share: bytes.into() })
    }

    /// `GET /v1/node`.
    pub async fn info(&self) -> NodeInfo {
        NodeInfo {
            index: self.index(),
            address: self.secret.key.address(),
            feed: self.committee.feed.clone(),
            epoch: self.state.lock().await.epoch,
        }
    }
}

type Reply<T> =
    std::result::Result<axum::Json<T>, (axum::http::StatusCode, axum::Json<serde_json::Value>)>;

fn reply<T>(r: Result<T>) -> Reply<T> {
    r.map(axum::Json).map_err(|e| {
        let status = match e {
            Error::Quorum { .. } | Error::NoMajority { .. } => {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Malformed { .. } => axum::http::StatusCode::BAD_REQUEST,
            _ => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        };
        (status, axum::Json(serde_json::json!({ "error": { "message": e.to_string() } })))
    })
}

/// A request body as the handlers take it: the JSON, or why it is not.
type Body<T> = std::result::Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T> {
    b.map(|j| j.0).map_err(|e| Error::Malformed { what: "request", detail: e.body_text() })
}

type NodeState = axum::extract::State<Arc<Node>>;

async fn observe_handler(n: NodeState, b: Body<ObserveRequest>) -> Reply<ObserveResponse> {
    reply(match body(b) {
        Ok(req) => n.observe(&req).await,
        Err(e) => Err(e),
    })
}

async fn commit_handler(n: NodeState, b: Body<CommitRequest>) -> Reply<CommitResponse> {
    reply(match body(b) {
        Ok(req) => n.commit(&req).await,
        Err(e) => Err(e),
    })
}

async fn sign_handler(n: NodeState, b: Body<SignRequest>) -> Reply<SignResponse> {
    reply(match body(b) {
        Ok(req) => n.sign(&req).await,
        Err(e) => Err(e),
    })
}

/// The node's HTTP API (see the module's table). Bodies past [`MAX_REQUEST`] are refused,
/// malformed JSON is a 400 with a JSON error, a refused request a 422 naming why.
pub fn router(node: Arc<Node>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/observe", post(observe_handler))
        .route("/v1/commit", post(commit_handler))
        .route("/v1/sign", post(sign_handler))
        .route("/v1/node", get(|n: NodeState| async move { axum::Json(n.info().await) }))
        .fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({ "error": { "message": "no such endpoint" } })),
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(node)
}

/// What the leader got in a round.
#[derive(Clone, Debug)]
pub struct RoundOutcome {
    /// The epoch observed.
    pub epoch: u64,
    /// The report (its median is the answer).
    pub report: Report,
    /// Every answering node's observation, decision and quotes.
    pub observed: Vec<ObserveResponse>,
    /// Nodes that did not answer or whose answer did not check, and why.
    pub failed: Vec<(u8, String)>,
    /// The nodes whose shares made the signature.
    pub signers: Vec<u8>,
    /// The aggregate signature.
    pub signature: AggregateSignature,
    /// Time to collect the observations.
    pub observe_ms: f64,
    /// Time for the two signing rounds.
    pub sign_ms: f64,
}

impl RoundOutcome {
    /// The report's median.
    pub fn answer(&self) -> i128 {
        crate::report::median(&self.report.values()).unwrap_or(0)
    }
}

/// The leader: asks the nodes at `urls` (index order; `None` for a node not running) to
/// observe and sign.
pub struct Leader {
    committee: CommitteeFile,
    public: PublicKeyPackage,
    urls: Vec<Option<String>>,
    http: reqwest::Client,
}

/// A report assembled from the nodes' observations, not yet signed.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The epoch observed.
    pub epoch: u64,
    /// The report.
    pub report: Report,
    /// Every answering node's observation, decision and quotes.
    pub observed: Vec<ObserveResponse>,
    /// Nodes that did not answer or whose answer did not check, and why.
    pub failed: Vec<(u8, String)>,
    /// Time to collect the observations.
    pub observe_ms: f64,
}

/// When a new observation is worth a report: Chainlink's deviation threshold and heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Relative change of the answer that triggers a report (0.005 = 0.5%).
    pub deviation: f64,
    /// Seconds after the last report at which one is sent regardless.
    pub heartbeat: u64,
}

impl Trigger {
    /// Why a report is due for `answer` at `now` after the last one (`None`: not due).
    pub fn due(&self, last: Option<(i128, u64)>, answer: i128, now: u64) -> Option<String> {
        let Some((prev, at)) = last else { return Some("first round".into()) };
        if now.saturating_sub(at) >= self.heartbeat {
            return Some(format!("heartbeat: {} s since the last report", now.saturating_sub(at)));
        }
        let change =
            if prev == 0 { f64::INFINITY } else { ((answer - prev) as f64 / prev as f64).abs() };
        (change >= self.deviation).then(|| format!("deviation: {:.2}%", change * 100.0))
    }
}

impl Leader {
    /// A leader for `committee` with its nodes at `urls` (node i at `urls[i]`).
    pub fn new(
        committee: CommitteeFile,
        urls: Vec<Option<String>>,
        timeout: Duration,
    ) -> Result<Self> {
        if urls.len() != usize::from(committee.n) {
            return Err(Error::Invalid {
                what: "nodes",
                detail: format!("{} URLs for a committee of {}", urls.len(), committee.n),
            });
        }
        let public = committee.public_package()?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Invalid { what: "HTTP client", detail: e.to_string() })?;
        Ok(Self { committee, public, urls, http })
    }

    /// The committee.
    pub fn committee(&self) -> &CommitteeFile {
        &self.committee
    }

    /// `path` at node `node`'s URL; `None` for a node not running.
    fn url(&self, node: u8, path: &str) -> Option<String> {
        let base = self.urls.get(usize::from(node))?.as_deref()?;
        Some(format!("{}{path}", base.trim_end_matches('/')))
    }

    async fn call<Q: Serialize, A: serde::de::DeserializeOwned>(
        &self,
        node: u8,
        path: &str,
        req: &Q,
    ) -> Result<A> {
        let err = |detail: String| Error::Source { source_id: format!("node {node}"), detail };
        let url = self.url(node, path).ok_or_else(|| err("not running".into()))?;
        let resp = self.http.post(&url).json(req).send().await.map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(err(format!("{status}: {msg}")));
        }
        serde_json::from_slice(&body).map_err(|e| err(format!("answer: {e}")))
    }

    /// Asks every node to observe `epoch` for `round`; keeps the answers whose signatures
    /// check.
    pub async fn observe(
        &self,
        epoch: u64,
        round: u32,
    ) -> (Vec<ObserveResponse>, Vec<(u8, String)>) {
        let req = ObserveRequest { epoch, round };
        let calls = (0..self.committee.n).map(|i| {
            let req = &req;
            async move { (i, self.call::<_, ObserveResponse>(i, "/v1/observe", req).await) }
        });
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (i, r) in futures_util::future::join_all(calls).await {
            let checked = r.and_then(|o| {
                if o.observation.observer != i || o.observation.round != round {
                    return Err(Error::Invalid {
                        what: "observation",
                        detail: format!(
                            "node {i} answered for node {} round {}",
                            o.observation.observer, o.observation.round
                        ),
                    });
                }
                o.observation.check(self.committee.config_digest, &self.committee.signers)?;
                Ok(o)
            });
            match checked {
                Ok(o) => ok.push(o),
                Err(e) => failed.push((i, e.to_string())),
            }
        }
        (ok, failed)
    }

    /// Has f + 1 of the nodes in `candidates` sign `report`; a node that refuses or sends a
    /// bad share is left out and the next one tried.
    pub async fn sign(
        &self,
        report: &Report,
        observed: &[SignedObservation],
        candidates: &[u8],
        failed: &mut Vec<(u8, String)>,
    ) -> Result<(AggregateSignature, Vec<u8>)> {
        let t = usize::from(self.committee.f) + 1;
        let mut pool: Vec<u8> = candidates.to_vec();
        loop {
            if pool.len() < t {
                return Err(Error::Quorum {
                    round: report.round.into(),
                    have: pool.len(),
                    need: t,
                });
            }
            // Commitments from the first t that answer.
            let mut commitments = BTreeMap::new();
            let mut chosen = Vec::new();
            for &i in pool.clone().iter() {
                if chosen.len() == t {
                    break;
                }
                let got = self
                    .call::<_, CommitResponse>(
                        i,
                        "/v1/commit",
                        &CommitRequest { round: report.round },
                    )
                    .await
                    .and_then(|c| {
                        frost::round1::SigningCommitments::deserialize(&c.commitments).map_err(
                            |e| Error::Malformed { what: "commitments", detail: e.to_string() },
                        )
                    });
                match got {
                    Ok(c) => {
                        commitments.insert(threshold::identifier(i)?, c);
                        chosen.push(i);
                    }
                    Err(e) => {
                        failed.push((i, e.to_string()));
                        pool.retain(|&x| x != i);
                    }
                }
            }
            if chosen.len() < t {
                continue;
            }
            let package = threshold::package(report, commitments);
            let req = SignRequest {
                report: report.encode(),
                observations: observed.to_vec(),
                package: package.serialize().map_err(|e| Error::Signature(e.to_string()))?.into(),
            };
            let calls = chosen.iter().map(|&i| {
                let req = &req;
                async move { (i, self.call::<_, SignResponse>(i, "/v1/sign", req).await) }
            });
            let mut shares = BTreeMap::new();
            let mut refused = Vec::new();
            for (i, r) in futures_util::future::join_all(calls).await {
                let share = r.and_then(|s| {
                    frost::round2::SignatureShare::deserialize(&s.share)
                        .map_err(|e| Error::Malformed { what: "share", detail: e.to_string() })
                });
                match share {
                    Ok(s) => {
                        shares.insert(threshold::identifier(i)?, s);
                    }
                    Err(e) => refused.push((i, e.to_string())),
                }
            }
            if refused.is_empty() {
                match frost::aggregate(&package, &shares, &self.public) {
                    Ok(sig) => return Ok((threshold::to_contract(&sig)?, chosen)),
                    Err(frost::Error::InvalidSignatureShare { culprit }) => {
                        let who = chosen
                            .iter()
                            .find(|&&i| threshold::identifier(i).ok() == Some(culprit));
                        match who {
                            Some(&i) => {
                                refused.push((i, "its signature share does not verify".into()))
                            }
                            None => {
                                return Err(Error::Signature(
                                    "a share from outside the chosen signers".into(),
                                ))
                            }
                        }
                    }
                    Err(e) => return Err(Error::Signature(format!("aggregate: {e}"))),
                }
            }
            for (i, why) in refused {
                failed.push((i, why));
                pool.retain(|&x| x != i);
            }
        }
    }

    /// Observes `epoch` for `round` and builds the report from every checked observation;
    /// an error without 2f + 1 of them.
    pub async fn prepare(&self, epoch: u64, round: u32) -> Result<Prepared> {
        let t0 = Instant::now();
        let (observed, failed) = self.observe(epoch, round).await;
        let observe_ms = t0.elapsed().as_secs_f64() * 1e3;
        let need = self.committee.min_observations();
        if observed.len() < need {
            return Err(Error::Quorum { round: round.into(), have: observed.len(), need });
        }
        let obs: Vec<Observation> = observed
            .iter()
            .map(|o| Observation { observer: o.observation.observer, value: o.observation.value })
            .collect();
        let report = Report::new(self.committee.config_digest, round, obs)?;
        Ok(Prepared { epoch, report, observed, failed, observe_ms })
    }

    /// Has f + 1 of the observing nodes sign a prepared report.
    pub async fn finish(&self, prepared: Prepared) -> Result<RoundOutcome> {
        let Prepared { epoch, report, observed, mut failed, observe_ms } = prepared;
        let signed: Vec<SignedObservation> =
            observed.iter().map(|o| o.observation.clone()).collect();
        let candidates: Vec<u8> = observed.iter().map(|o| o.observation.observer).collect();
        let t1 = Instant::now();
        let (signature, signers) = self.sign(&report, &signed, &candidates, &mut failed).await?;
        Ok(RoundOutcome {
            epoch,
            report,
            observed,
            failed,
            signers,
            signature,
            observe_ms,
            sign_ms: t1.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// One round: [`Leader::prepare`] then [`Leader::finish`]. Not sent: see
    /// [`crate::report::transmit_aggregate`].
    pub async fn round(&self, epoch: u64, round: u32) -> Result<RoundOutcome> {
        self.finish(self.prepare(epoch, round).await?).await
    }

    /// The next epoch to observe: one past the latest any running node has seen.
    pub async fn next_epoch(&self) -> u64 {
        let calls = (0..self.committee.n).map(|i| async move {
            let url = self.url(i, "/v1/node")?;
            let info: NodeInfo = self.http.get(url).send().await.ok()?.json().await.ok()?;
            Some(info.epoch)
        });
        let seen = futures_util::future::join_all(calls).await;
        seen.into_iter().flatten().max().unwrap_or(0) + 1
    }
}
