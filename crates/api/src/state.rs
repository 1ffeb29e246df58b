//! What the handlers share: the configuration, the parts of the platform this server was
//! given (audit trail, store, chain RPC), and the auth state.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use alara_audit::AuditTrail;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use parking_lot::{Mutex, RwLock};

use crate::auth::keys::KeyRing;
use crate::auth::limit::{Limiter, RateLimit};
use crate::auth::{Role, Sessions};
use crate::error::{ApiError, ApiResult};

/// Largest JSON body a route takes by default.
pub const MAX_BODY: usize = 1 << 20;

/// Largest upload to the store (`POST /api/v1/store`).
pub const MAX_UPLOAD: usize = 256 << 20;

/// How the server is set up.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The data directory (address books, API keys, store, anchors).
    pub data_dir: PathBuf,
    /// The chain's JSON-RPC endpoint, as a browser or client should reach it.
    pub rpc_url: Option<String>,
    /// Role of a request without a token (`None`: refused). `alara up` gives `reader` on a
    /// loopback address and nothing otherwise.
    pub anonymous_role: Option<Role>,
    /// Roles of wallets that sign in with SIWE; any other wallet gets `siwe_default_role`.
    pub wallet_roles: HashMap<Address, Role>,
    /// Role of a wallet not in `wallet_roles`.
    pub siwe_default_role: Role,
    /// The authority SIWE messages must name (e.g. `127.0.0.1:8580`); set by
    /// the caller (`alara up`) from the bound address when empty.
    pub siwe_domain: String,
    /// Origins allowed by CORS (`*` for any); none by default, so only the dashboard
    /// served from the same origin calls the API from a browser.
    pub cors_origins: Vec<String>,
    /// Every caller's rate limit.
    pub rate_limit: RateLimit,
    /// Largest JSON body.
    pub max_body: usize,
    /// Largest store upload.
    pub max_upload: usize,
}

impl ApiConfig {
    /// Defaults for a data directory: anonymous reads allowed, no CORS origins.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            rpc_url: None,
            anonymous_role: Some(Role::Reader),
            wallet_roles: HashMap::new(),
            siwe_default_role: Role::Reader,
            siwe_domain: String::new(),
            cors_origins: Vec::new(),
            rate_limit: RateLimit::default(),
            max_body: MAX_BODY,
            max_upload: MAX_UPLOAD,
        }
    }
}

/// The shared state of the handlers.
pub struct ApiState {
    /// Configuration.
    pub config: ApiConfig,
    /// The audit trails served, by name; the first is the default (`main`, the data
    /// directory's own trail). More are added for the trails of other parties on this
    /// machine (the demos' hospital, pharma company and lab each keep their own).
    trails: RwLock<Vec<NamedTrail>>,
    /// The content store.
    pub store: Option<Arc<alara_store::Store>>,
    /// The chain, read over JSON-RPC.
    pub chain: Option<DynProvider>,
    /// API keys.
    pub keys: KeyRing,
    /// SIWE sessions and nonces.
    pub sessions: Sessions,
    /// Rate limits.
    pub limiter: Limiter,
}

/// One served trail.
#[derive(Clone)]
pub struct NamedTrail {
    /// Its name in the API (`?log=<name>`).
    pub name: String,
    /// The trail.
    pub trail: Arc<AuditTrail>,
    /// Leaf hash → index for the entries seen so far (extended on demand).
    pub leaf_index: Arc<Mutex<crate::routes::audit::LeafIndex>>,
    /// The market entries seen so far (extended on demand).
    pub market: Arc<Mutex<crate::routes::market::MarketIndex>>,
}

impl ApiState {
    /// State for `config`, with no platform parts yet (add them with the `with_*` calls).
    pub fn new(config: ApiConfig) -> Self {
        let keys = KeyRing::new(&config.data_dir);
        let limiter = Limiter::new(config.rate_limit);
        Self {
            config,
            trails: RwLock::new(Vec::new()),
            store: None,
            chain: None,
            keys,
            sessions: Sessions::default(),
            limiter,
        }
    }

    /// Serves this trail as `main`, the default.
    pub fn with_audit(self, trail: Arc<AuditTrail>) -> Self {
        self.add_trail("main", trail);
        self
    }

    /// Serves `trail` as `name` (replacing a trail of that name); the first trail added
    /// is the default of every audit route.
    pub fn add_trail(&self, name: &str, trail: Arc<AuditTrail>) {
        let named = NamedTrail {
            name: name.to_string(),
            trail,
            leaf_index: Arc::new(Mutex::new(Default::default())),
            market: Arc::new(Mutex::new(Default::default())),
        };
        let mut t = self.trails.write();
        match t.iter_mut().find(|n| n.name == name) {
            Some(slot) => *slot = named,
            None => t.push(named),
        }
    }

    /// The trails served.
    pub fn trails(&self) -> Vec<NamedTrail> {
        self.trails.read().clone()
    }

    /// The trail `name` (default: the first), or a 404/503 that says what there is.
    pub fn trail(&self, name: Option<&str>) -> ApiResult<NamedTrail> {
        let t = self.trails.read();
        match name {
            None => t.first().cloned().ok_or_else(|| {
                ApiError::unavailable("this server has no audit trail open").hint(
                    "start `alara up` with the log key's passphrase in ALARA_LOG_KEY_PASSWORD",
                )
            }),
            Some(n) => t.iter().find(|x| x.name == n).cloned().ok_or_else(|| {
                let names: Vec<_> = t.iter().map(|x| x.name.as_str()).collect();
                ApiError::not_found(format!("no audit log named {n:?}"))
                    .hint(format!("served logs: {}", names.join(", ")))
            }),
        }
    }

    /// The default trail, or a 503.
    pub fn audit(&self) -> ApiResult<Arc<AuditTrail>> {
        self.trail(None).map(|t| t.trail)
    }

    /// The default trail, if any.
    pub fn audit_opt(&self) -> Option<Arc<AuditTrail>> {
        self.trails.read().first().map(|t| t.trail.clone())
    }

    /// Serves this store.
    pub fn with_store(mut self, store: Arc<alara_store::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reads the chain at `config.rpc_url`.
    pub fn with_chain(mut self) -> ApiResult<Self> {
        if let Some(url) = &self.config.rpc_url {
            let parsed =
                url.parse().map_err(|e| ApiError::bad_request(format!("RPC URL {url:?}: {e}")))?;
            self.chain = Some(ProviderBuilder::new().connect_http(parsed).erased());
        }
        Ok(self)
    }

    /// The store or a 503.
    pub fn store(&self) -> ApiResult<&Arc<alara_store::Store>> {
        self.store
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("this server has no content store open"))
    }

    /// The chain provider or a 503.
    pub fn chain(&self) -> ApiResult<&DynProvider> {
        self.chain.as_ref().ok_or_else(|| {
            ApiError::unavailable("this server reads no chain").hint("start it with an RPC URL")
        })
    }
}

/// Runs blocking work (file reads, proofs, scans) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?
}
