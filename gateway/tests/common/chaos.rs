//! The SIGKILL chaos harness: the real `rialto serve` binary on one database (a SQLite file, or
//! a PostgreSQL database shared by several instances) against a local devnet, killed and
//! restarted at seeded points (`chaos.rs`, `chaos_routes.rs`, `chaos_pg.rs`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use serde_json::Value;

pub const MERCHANT: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/// xorshift64*: reproducible kill points without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

pub fn rialto(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rialto"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RIALTO__SANDBOX__POLL_MS", "50")
        .env("RIALTO__SANDBOX__CONFIRMATIONS", "1")
        // The chaos runs' webhook receiver listens on loopback: a development setting.
        .env("RIALTO__WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg("/nonexistent/rialto.toml")
        .args(args);
    cmd
}

pub struct Gateway {
    pub url: String,
    pub manifest: String,
    pub listen: String,
    /// Every run's output, appended: printed when the test fails.
    pub log: PathBuf,
    /// The master key every instance on this database seals and opens secrets with.
    pub master_key: String,
    /// Extra `RIALTO__…` settings for every start (batch relaying on, say).
    pub env: Vec<(String, String)>,
    pub child: Option<Child>,
}

impl Gateway {
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = rialto(&[
            "serve",
            "--listen",
            &self.listen,
            "--database-url",
            &self.url,
            "--devnet-manifest",
            &self.manifest,
        ])
        .env("RIALTO__SECRETS__MASTER_KEY", &self.master_key)
        .envs(self.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
        self.child = Some(child);
    }

    /// Another instance on the same database and devnet, on a port of its own (not started).
    pub fn another(&self, sk: &str, log: PathBuf) -> (Gateway, Api) {
        let port = free_port();
        let gateway = Gateway {
            url: self.url.clone(),
            manifest: self.manifest.clone(),
            listen: format!("127.0.0.1:{port}"),
            log,
            master_key: self.master_key.clone(),
            env: self.env.clone(),
            child: None,
        };
        (gateway, Api::new(port, sk))
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: no graceful stop, whatever was in flight.
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("--- gateway log (last 80 lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// How long a request is retried while the gateway is down or says its key is in use. A key
/// reserved by an instance killed mid-request is taken over only once the reservation is stale
/// (120 s, `api::idempotency_layer::STALE_AFTER_MS`, for the writes that layer wraps), so this
/// must be longer than that.
pub const PATIENCE: Duration = Duration::from_secs(150);

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub sk: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(port: u16, sk: &str) -> Self {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            sk: sk.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// GET (no body) or POST, retried while the gateway is down or restarting (no answer, a
    /// 5xx, or the key still in flight) until it answers.
    pub async fn call(&self, path: &str, body: Option<&Value>, key: Option<&str>) -> (u16, Value) {
        let started = Instant::now();
        let mut last;
        loop {
            let url = format!("{}{path}", self.base);
            let mut request = match body {
                Some(b) => self.client.post(url).json(b),
                None => self.client.get(url),
            };
            request = request
                .bearer_auth(&self.sk)
                .timeout(Duration::from_secs(10));
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.json::<Value>().await {
                        Ok(v) => {
                            let in_use =
                                status == 409 && v["error"]["code"] == "idempotency_key_in_use";
                            if status < 500 && !in_use {
                                return (status, v);
                            }
                            last = format!("{status} {v}");
                        }
                        Err(e) => last = format!("{status}: {e}"),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{path} never answered; last: {last}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(path, None, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
}

impl Api {
    /// POST with an Idempotency-Key, retried through restarts (and while the answer is a 409:
    /// a reservation still settling) until the gateway answers otherwise.
    pub async fn post_settled(&self, path: &str, body: &Value, key: &str) -> (u16, Value) {
        let started = Instant::now();
        loop {
            let (status, v) = self.call(path, Some(body), Some(key)).await;
            if status != 409 {
                return (status, v);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{path} kept answering 409: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every refund of `refunds` and every payout ended (within `deadline`);
    /// answers the payouts.
    pub async fn wait_money_ended(&self, refunds: &[String], deadline: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let mut open = Vec::new();
            for re in refunds {
                let r = self.get(&format!("/v1/refunds/{re}")).await;
                if r["status"] == "pending" {
                    open.push(r);
                }
            }
            let payouts = self.get("/v1/payouts?limit=100").await["data"]
                .as_array()
                .unwrap()
                .clone();
            open.extend(
                payouts
                    .iter()
                    .filter(|p| ["pending", "in_transit"].contains(&p["status"].as_str().unwrap()))
                    .cloned(),
            );
            if open.is_empty() {
                return payouts;
            }
            assert!(started.elapsed() < deadline, "still open: {open:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A devnet, a migrated SQLite database with one merchant settling USDC on Base at
/// [`MERCHANT`], and the gateway on a free port (not started).
pub struct Chaos {
    pub devnet: Devnet,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub created: Value,
    pub gateway: Gateway,
    pub api: Api,
}

pub async fn start(merchant_name: &str, log: Option<PathBuf>) -> Chaos {
    start_on(merchant_name, log, None).await
}

/// As [`start`], on the given database URL (a fresh, empty database) instead of a new SQLite
/// file.
pub async fn start_on(merchant_name: &str, log: Option<PathBuf>, url: Option<String>) -> Chaos {
    sqlx::any::install_default_drivers();
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    let devnet = Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .expect("devnet starts");
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("devnet.json");
    devnet.manifest().write(&manifest_path).unwrap();
    let url = url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("rialto.db").display()));
    let out = rialto(&["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rialto(&[
        "merchants",
        "create",
        "--name",
        merchant_name,
        "--settlement-asset",
        "usdc",
        "--settlement-chain",
        "base",
        "--settlement-address",
        MERCHANT,
        "--database-url",
        &url,
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = free_port();
    let gateway = Gateway {
        url: url.clone(),
        manifest: manifest_path.display().to_string(),
        listen: format!("127.0.0.1:{port}"),
        log: log.unwrap_or_else(|| dir.path().join("gateway.log")),
        master_key: rialto_gateway::webhooks::Sealer::generate_key(),
        env: Vec::new(),
        child: None,
    };
    let api = Api::new(port, created["secret_key"].as_str().unwrap());
    Chaos {
        devnet,
        dir,
        url,
        created,
        gateway,
        api,
    }
}
