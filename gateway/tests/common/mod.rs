//! Test harness: a gateway on port 0 with a fresh database (SQLite file or a new PostgreSQL
//! database on the server that `tools/test.sh` starts), plus a merchant and its keys.
#![allow(dead_code)]

pub mod chaos;
pub mod chaos_routes;
pub mod devnet;
pub mod eip3009;
pub mod fixtures;
pub mod tls_ca;

use std::sync::Arc;

use reqwest::{Client, RequestBuilder, Response};
use rialto_core::asset::AssetRegistry;
use rialto_gateway::api::AppState;
use rialto_gateway::clock::{Clock, SystemClock};
use rialto_gateway::compliance::Compliance;
use rialto_gateway::config::Config;
use rialto_gateway::http_client::{outbound, CONNECT_TIMEOUT};
use rialto_gateway::merchants::{create_merchant, CreatedMerchant, NewMerchant};
use rialto_gateway::registry;
use rialto_gateway::server::{metrics_handle, open_store, sandbox_chains};
use rialto_gateway::store::SqlStore;
use rialto_gateway::webhooks::Sealer;
use serde_json::Value;
use sqlx::any::AnyPoolOptions;

pub const ADDRESS: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database URL for one test.
pub async fn fresh_database(db: Db) -> (String, Option<tempfile::TempDir>) {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("rialto.db").display());
            (url, Some(dir))
        }
        Db::Postgres => {
            let admin = std::env::var("RIALTO_TEST_PG_URL").expect(
                "RIALTO_TEST_PG_URL is not set: run the tests with tools/test.sh, which starts a \
                 throwaway PostgreSQL, or point it at a server where you may create databases",
            );
            sqlx::any::install_default_drivers();
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .expect("connect to the test PostgreSQL server");
            let name = format!(
                "rialto_{}",
                rialto_core::id::MerchantId::generate()
                    .to_string()
                    .replace("mer_", "")
            );
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create test database");
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            (format!("{base}/{name}"), None)
        }
    }
}

pub fn registry() -> Arc<AssetRegistry> {
    Arc::new(registry::builtin().expect("built-in registry"))
}

pub async fn fresh_store(db: Db) -> (Arc<SqlStore>, Option<tempfile::TempDir>) {
    let (url, dir) = fresh_database(db).await;
    let mut config = Config::default();
    config.database.url = url;
    let store = open_store(&config, registry()).await.expect("open store");
    (Arc::new(store), dir)
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Arc<SqlStore>,
    pub merchant: CreatedMerchant,
    pub database_url: String,
    pub sealer: Arc<Sealer>,
    pub clock: Arc<dyn Clock>,
    _dir: Option<tempfile::TempDir>,
    _chain_stop: tokio::sync::watch::Sender<bool>,
    /// Running when the test configured a devnet manifest.
    pub sandbox_exchange: Option<Arc<rialto_connectors::exchange::sandbox::Sandbox>>,
    /// Running when the test turned `sandbox.bank` on (with a devnet manifest).
    pub sandbox_bank: Option<Arc<rialto_connectors::issuer::sandbox::SandboxBank>>,
    /// The gateway's state, for suites that call its modules directly.
    pub state: AppState,
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: Db, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_full(db, tweak, None).await
}

/// A gateway whose clock the test controls.
pub async fn spawn_app_with_clock(db: Db, clock: Arc<dyn Clock>) -> TestApp {
    spawn_app_full(db, |_| {}, Some(clock)).await
}

/// Builds the test mode's venues from the started sandbox exchange's base URL, in place of the
/// sandbox wiring (the live-venue suite wires `[[live.venues]]` at it over TLS).
pub type VenueHook = Box<
    dyn FnOnce(
            String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = rialto_gateway::exchange::Venues> + Send>,
        > + Send,
>;

pub async fn spawn_app_full(
    db: Db,
    tweak: impl FnOnce(&mut Config),
    clock_override: Option<Arc<dyn Clock>>,
) -> TestApp {
    spawn_app_wired(db, tweak, clock_override, None).await
}

/// [`spawn_app_full`], with the test mode's venues built by `venues` when given.
pub async fn spawn_app_wired(
    db: Db,
    tweak: impl FnOnce(&mut Config),
    clock_override: Option<Arc<dyn Clock>>,
    venues: Option<VenueHook>,
) -> TestApp {
    let (url, dir) = fresh_database(db).await;
    let mut config = Config::default();
    config.database.url = url.clone();
    config.rate_limit.per_second = 10_000;
    config.rate_limit.burst = 10_000;
    // The suites' webhook receivers listen on loopback: the development setting, explicitly.
    config.webhooks.allow_private_targets = true;
    // The sandbox bank (and the treasury's onboarding on chain) only where a suite asks for it.
    config.sandbox.bank = false;
    tweak(&mut config);
    // As `rialto serve` does: the devnet's deposit tokens join the registry first.
    let registry = rialto_gateway::deposit_tokens::with_devnet_deposit_tokens(
        registry(),
        &config.sandbox.devnet_manifest,
    )
    .expect("devnet deposit tokens");
    let store = Arc::new(
        open_store(&config, registry.clone())
            .await
            .expect("open store"),
    );
    let clock: Arc<dyn Clock> = clock_override.unwrap_or_else(|| Arc::new(SystemClock));
    let merchant = create_merchant(
        store.as_ref(),
        &registry,
        &NewMerchant {
            name: "Test Shop".into(),
            settlement: Some(("usdc".into(), "base".into(), ADDRESS.into())),
            live_keys: true,
            country: None,
        },
        clock.now_ms(),
    )
    .await
    .expect("create merchant");
    let sealer = Arc::new(Sealer::from_base64(&Sealer::generate_key()).expect("key"));
    let http = outbound(CONNECT_TIMEOUT).expect("outbound HTTP client");
    let compliance = Arc::new(Compliance::new(&config.compliance, http).expect("compliance lists"));
    let chains = sandbox_chains(&config, &registry, clock.clone()).expect("devnet manifest");
    let exchange = rialto_gateway::server::sandbox_exchange(&config)
        .await
        .expect("sandbox exchange");
    let bank = rialto_gateway::sandbox_bank::sandbox_bank(&config)
        .await
        .expect("sandbox bank");
    let state = AppState::new(
        store.clone(),
        registry,
        Arc::new(config),
        clock.clone(),
        metrics_handle(),
        sealer.clone(),
        compliance,
    )
    .with_chains(chains);
    let (state, sandbox_exchange) = match (exchange, venues) {
        (Some((sandbox, _)), Some(hook)) => {
            let wired = hook(sandbox.base_url()).await;
            (state.with_venues(false, wired), Some(Arc::new(sandbox)))
        }
        (Some((sandbox, venues)), None) => {
            (state.with_venues(false, venues), Some(Arc::new(sandbox)))
        }
        (None, _) => (state, None),
    };
    let mut state = state;
    let (engine, sandbox_bank) =
        rialto_gateway::sandbox_bank::wire_started(state.engine.clone(), bank)
            .await
            .expect("treasury onboarded at the sandbox bank");
    state.engine = engine;
    let sandbox_bank = sandbox_bank.map(Arc::new);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    // The chain worker runs as in `rialto serve` (a no-op without sandbox chains); it stops
    // when the test's runtime ends.
    let (chain_stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(rialto_gateway::chain::worker::run_chain_worker(
        state.engine.clone(),
        stop_rx.clone(),
    ));
    tokio::spawn(rialto_gateway::batch_relay::run_batch_relay_worker(
        state.engine.clone(),
        state.batch_relays.clone(),
        stop_rx,
    ));
    let served = state.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, rialto_gateway::api::app(served)).await;
    });
    TestApp {
        base,
        client: Client::new(),
        store,
        merchant,
        database_url: url,
        sealer,
        clock,
        _dir: dir,
        _chain_stop: chain_stop,
        sandbox_exchange,
        sandbox_bank,
        state,
    }
}

impl TestApp {
    pub fn sk(&self) -> &str {
        &self.merchant.secret_key
    }

    pub fn get(&self, path: &str, key: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// `GET path` with the secret key, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path, self.sk())
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON body")
    }

    pub fn post(&self, path: &str, key: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// Creates a merchant on the same database and returns its keys.
    pub async fn another_merchant(&self) -> CreatedMerchant {
        create_merchant(
            self.store.as_ref(),
            &registry(),
            &NewMerchant {
                name: "Other Shop".into(),
                settlement: Some(("usdc".into(), "ethereum".into(), ADDRESS.into())),
                live_keys: false,
                country: None,
            },
            SystemClock.now_ms(),
        )
        .await
        .expect("create merchant")
    }

    pub async fn create_intent(&self, body: Value) -> Value {
        let response = self
            .post("/v1/payment_intents", self.sk())
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "create failed");
        response.json().await.expect("json")
    }

    /// Polls `path` until its `status` is `want`; fails after 30 s (a hang, not a timing
    /// check).
    pub async fn wait_status(&self, path: &str, want: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let body = self.get_json(path).await;
            if body["status"] == want {
                return body;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{path} stuck in {body}, wanted {want}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn intent_count(&self) -> usize {
        let list: Value = self
            .get("/v1/payment_intents?limit=100", self.sk())
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        list["data"].as_array().map(Vec::len).unwrap_or(0)
    }
}

/// Asserts an error response's status and code, and returns its error object.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(got, status, "status for {body}");
    assert_eq!(body["error"]["code"], code, "code in {body}");
    assert!(body["error"]["type"].is_string(), "type in {body}");
    assert!(body["error"]["message"].is_string(), "message in {body}");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_")),
        "request id in {body}"
    );
    body["error"].clone()
}

/// Every scenario ends with the ledger invariant: when a test's gateway goes away (and the
/// test has not already failed), its database is read afresh and every ledger transaction
/// must balance per asset, and every account's balance must equal the sum of its entries.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let url = self.database_url.clone();
        // A runtime of its own on a thread of its own: Drop cannot await, and the test's
        // runtime must not be blocked by queries that need it.
        let checked = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(ledger_invariant(&url))
        })
        .join();
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(broken)) => {
                panic!("ledger invariant broken at the end of the scenario: {broken}")
            }
            Err(_) => panic!("the ledger invariant check panicked"),
        }
    }
}

/// The invariant [`TestApp`]'s drop checks, for tests that run the gateway another way.
pub async fn ledger_invariant(url: &str) -> Result<(), String> {
    use rialto_gateway::store::ledger::LedgerStore;
    use rialto_gateway::store::money::MoneyStore;
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    let store = SqlStore::connect(url, 1, registry())
        .await
        .map_err(|e| format!("open {url}: {e}"))?;
    let postings = store.all_postings().await.map_err(|e| e.to_string())?;
    let mut sums: BTreeMap<(rialto_gateway::ledger::Account, String, bool), Decimal> =
        BTreeMap::new();
    for p in &postings {
        p.check().map_err(|e| e.to_string())?;
        for e in &p.entries {
            *sums
                .entry((e.account.clone(), e.asset.clone(), p.livemode))
                .or_default() += e.amount;
        }
    }
    for ((account, asset, livemode), sum) in &sums {
        let stored = store
            .account_balance(account, asset, *livemode)
            .await
            .map_err(|e| e.to_string())?;
        if stored != *sum {
            return Err(format!(
                "{account} {asset}: balance {stored}, entries sum to {sum}"
            ));
        }
    }
    Ok(())
}

/// The ledger invariant, checked after money-moving scenarios: every ledger transaction
/// balances per asset, and the merchant's `GET /v1/balance` equals the sum of its accounts'
/// entries, recomputed here from the raw entries.
pub async fn assert_ledger_balanced(app: &TestApp) {
    use rialto_gateway::store::ledger::LedgerStore;
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    let postings = app.store.all_postings().await.expect("ledger readable");
    let mut sums: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for p in &postings {
        p.check().unwrap_or_else(|e| panic!("{e}"));
        for e in &p.entries {
            *sums
                .entry((e.account.to_string(), e.asset.clone()))
                .or_default() += e.amount;
        }
    }
    let balance: Value = app
        .get("/v1/balance", app.sk())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    for (field, suffix) in [("available", "balance"), ("settled", "settled")] {
        let account = format!("merchant:{}:{suffix}", app.merchant.id);
        let mut expected: BTreeMap<String, Decimal> = sums
            .iter()
            .filter(|((a, _), amount)| *a == account && !amount.is_zero())
            .map(|((_, asset), amount)| (asset.clone(), *amount))
            .collect();
        for row in balance[field].as_array().expect("list") {
            let asset = row["asset"].as_str().expect("asset").to_owned();
            let amount: Decimal = row["amount"]
                .as_str()
                .expect("amount")
                .parse()
                .expect("decimal");
            assert_eq!(
                expected.remove(&asset),
                Some(amount),
                "{field} {asset} in {balance}"
            );
        }
        assert!(
            expected.is_empty(),
            "{field} misses {expected:?} in {balance}"
        );
    }
}
