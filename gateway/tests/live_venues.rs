//! Live venues by configuration (`[[live.venues]]`), proven against the sandbox exchange
//! configured as if it were the real venue: reached over HTTPS with a test CA given through
//! `[tls] extra_ca_file`, its base URL, network names, withdrawal terms and market-data
//! credentials (from files, mode 0600) all from the live configuration, and the clients built
//! by the live wiring (`rialto_gateway::exchange::live`), not the sandbox's.
//!
//! `rialto venues check` runs as an operator runs it (the binary, a config file) against a
//! sandbox that verifies credentials like the venues do (HMAC, `API-Sign`, ES256 JWT).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::U256;
use common::devnet::{intent, start_wired, usdc_balance, wait_for, MERCHANT};
use common::tls_ca::{tls_proxy, TestCa};
use rialto_connectors::exchange::coinbase::CdpKey;
use rialto_connectors::exchange::sandbox::{RecordingSink, Sandbox, SandboxConfig, SandboxKey};
use rialto_connectors::exchange::AssetCode;
use rialto_gateway::config::{SecretRef, VenueConfig, VenueKind, WithdrawalTermsConfig};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The devnet chain intents settle on in these tests (`devnet-base`).
const DEVNET_BASE: &str = "eip155:31338";
const BINANCE_SECRET: &str = "binance-market-secret";
const KRAKEN_SECRET: &str = "a3Jha2VuLW1hcmtldC1zZWNyZXQtZm9yLXRoZS1zYW5kYm94";

/// A secret file, owner-only, as an operator would write it.
fn secret_file(dir: &Path, name: &str, value: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    SecretRef {
        env: String::new(),
        file: path.display().to_string(),
    }
}

fn coinbase_pem(seed: u8) -> String {
    CdpKey::sandbox_pem(seed).unwrap()
}

/// `[[live.venues]]` for `kind` at `base_url`, its market credentials in files under `dir`.
fn venue(dir: &Path, kind: VenueKind, base_url: &str, key: &str, secret: &str) -> VenueConfig {
    let network = match kind {
        VenueKind::Binance => "DEVNET-BASE",
        VenueKind::Kraken => "devnet-base",
        VenueKind::Coinbase => "devnet-base",
    };
    VenueConfig {
        kind,
        base_url: base_url.into(),
        networks: BTreeMap::from([(DEVNET_BASE.to_owned(), network.to_owned())]),
        market_api_key: secret_file(dir, &format!("{}.key", kind.as_str()), key),
        market_api_secret: secret_file(dir, &format!("{}.secret", kind.as_str()), secret),
        withdrawals: vec![WithdrawalTermsConfig {
            asset: "USDC".into(),
            chain: DEVNET_BASE.into(),
            fee: "0.1".into(),
            minimum: "1".into(),
            typical_secs: 60,
        }],
    }
}

/// `upstream` (a plain-HTTP sandbox) behind a TLS proxy whose certificate `ca` signed for
/// localhost: the `https://` base URL a live configuration names.
async fn https_url(ca: &TestCa, upstream: &str) -> String {
    let addr: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let port = tls_proxy(ca.server_config("localhost"), addr).await;
    format!("https://localhost:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payer_pays_through_venues_configured_as_live_over_tls_and_the_merchant_is_paid_exactly()
{
    let ca = Arc::new(TestCa::new("venues"));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (hook_ca, hook_dir) = (ca.clone(), dir.clone());
    let hook: common::VenueHook = Box::new(move |sandbox_url: String| {
        Box::pin(async move {
            let url = https_url(&hook_ca, &sandbox_url).await;
            let d = hook_dir.path();
            let venues = vec![
                venue(d, VenueKind::Binance, &url, "rialto-md", BINANCE_SECRET),
                venue(d, VenueKind::Kraken, &url, "rialto-md", KRAKEN_SECRET),
                venue(
                    d,
                    VenueKind::Coinbase,
                    &url,
                    "organizations/r/apiKeys/md",
                    &coinbase_pem(9),
                ),
            ];
            rialto_gateway::exchange::live::live_venues(
                &common::registry(),
                &venues,
                &hook_ca.client_config(),
            )
            .expect("the live configuration builds")
            .expect("venues are configured")
        })
    });
    let setup = start_wired(1, None, None, Some(hook)).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().unwrap();
    // The wiring in force is the live one: every venue's base URL is the TLS proxy.
    let wired = app.state.engine.venues.get(&false).unwrap();
    for (venue, url) in &wired.map.base_urls {
        assert!(url.starts_with("https://localhost:"), "{venue}: {url}");
    }
    assert_eq!(
        wired.map.network_name("binance", DEVNET_BASE).as_deref(),
        Some("DEVNET-BASE")
    );
    let before = usdc_balance(chain, MERCHANT).await;

    let paying = intent(app, "25.00").await;
    let answer = link(
        app,
        &paying,
        json!({"venue": "binance", "api_key": "payer",
        "api_secret": "payer-secret"}),
    )
    .await;
    assert_eq!(answer.0, 202, "{}", answer.1);
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(25_000_000u64),
        "the merchant holds exactly the amount"
    );

    let second = intent(app, "12.50").await;
    let answer = link(
        app,
        &second,
        json!({"venue": "kraken", "api_key": "payer",
        "api_secret": KRAKEN_SECRET, "withdraw_key": "merchant-devnet-base"}),
    )
    .await;
    assert_eq!(answer.0, 202, "{}", answer.1);
    wait_for(app, &second, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(37_500_000u64)
    );
    assert_eq!(sandbox.executed_withdrawals(), 2);
    assert_eq!(sandbox.duplicate_submissions(), 0);
}

async fn link(app: &common::TestApp, intent: &Value, body: Value) -> (u16, Value) {
    let id = intent["id"].as_str().unwrap();
    let mut body = body;
    body["client_secret"] = intent["client_secret"].clone();
    let response = app
        .post(
            &format!("/v1/payment_intents/{id}/exchange_accounts"),
            &app.merchant.publishable_key,
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A sandbox that checks credentials: each venue's market key, readable or not.
async fn checking_sandbox(readable: bool) -> Sandbox {
    let mut config = SandboxConfig::new(Arc::new(RecordingSink::default()));
    config.balances = BTreeMap::from([(AssetCode::new("USDC").unwrap(), Decimal::new(5, 0))]);
    let key = |secret: String| SandboxKey {
        secret,
        read: readable,
        trade: false,
        withdraw: false,
        holder: None,
    };
    config.keys = BTreeMap::from([
        ("binance-md".to_owned(), key(BINANCE_SECRET.to_owned())),
        ("kraken-md".to_owned(), key(KRAKEN_SECRET.to_owned())),
        (
            "organizations/r/apiKeys/md".to_owned(),
            key(coinbase_pem(9)),
        ),
    ]);
    Sandbox::start(config).await.unwrap()
}

/// Runs `rialto venues check` on a configuration of `venues` trusting `ca`; answers the exit
/// status and the printed lines.
async fn venues_check(dir: &Path, ca: &TestCa, venues: &[VenueConfig]) -> (bool, String) {
    let q = |text: &str| serde_json::to_string(text).unwrap();
    let mut file = format!(
        "[tls]\nextra_ca_file = {}\n",
        q(&ca.pem_file.display().to_string())
    );
    for v in venues {
        let networks: Vec<String> = v
            .networks
            .iter()
            .map(|(c, n)| format!("{} = {}", q(c), q(n)))
            .collect();
        let secret = |s: &SecretRef| {
            if s.env.is_empty() {
                format!("{{ file = {} }}", q(&s.file))
            } else {
                format!("{{ env = {} }}", q(&s.env))
            }
        };
        let terms: Vec<String> = v
            .withdrawals
            .iter()
            .map(|w| {
                format!(
                    "{{ asset = {}, chain = {}, fee = {}, minimum = {}, typical_secs = {} }}",
                    q(&w.asset),
                    q(&w.chain),
                    q(&w.fee),
                    q(&w.minimum),
                    w.typical_secs
                )
            })
            .collect();
        file.push_str(&format!(
            "[[live.venues]]\nkind = {}\nbase_url = {}\nnetworks = {{ {} }}\nmarket_api_key = {}\nmarket_api_secret = {}\nwithdrawals = [{}]\n",
            q(v.kind.as_str()), q(&v.base_url), networks.join(", "),
            secret(&v.market_api_key), secret(&v.market_api_secret), terms.join(", ")));
    }
    let config: PathBuf = dir.join("rialto.toml");
    std::fs::write(&config, file).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rialto"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg(&config)
        .args(["venues", "check"])
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn all_three(dir: &Path, url: &str, secrets: [&str; 3]) -> Vec<VenueConfig> {
    vec![
        venue(dir, VenueKind::Binance, url, "binance-md", secrets[0]),
        venue(dir, VenueKind::Kraken, url, "kraken-md", secrets[1]),
        venue(
            dir,
            VenueKind::Coinbase,
            url,
            "organizations/r/apiKeys/md",
            secrets[2],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn venues_check_passes_good_credentials_and_names_a_wrong_secret_in_plain_words() {
    let ca = TestCa::new("check");
    let dir = tempfile::tempdir().unwrap();
    let sandbox = checking_sandbox(true).await;
    let url = https_url(&ca, &sandbox.base_url()).await;
    let pem = coinbase_pem(9);

    let (ok, text) = venues_check(
        dir.path(),
        &ca,
        &all_three(dir.path(), &url, [BINANCE_SECRET, KRAKEN_SECRET, &pem]),
    )
    .await;
    assert!(ok, "{text}");
    for kind in ["binance", "kraken", "coinbase"] {
        assert!(
            text.contains("ok   live.venues[")
                && text.contains(&format!("({kind}): {url}: credentials accepted")),
            "{kind}: {text}"
        );
    }

    // Each venue's secret replaced by another valid-looking one: the venue refuses it.
    let other_pem = coinbase_pem(10);
    let wrong = [
        "another-secret",
        "b3RoZXItc2VjcmV0LW9mLXRoZS1yaWdodC1sZW5ndGgxMjM0",
        &other_pem,
    ];
    let (ok, text) = venues_check(dir.path(), &ca, &all_three(dir.path(), &url, wrong)).await;
    assert!(!ok, "a wrong secret fails the check: {text}");
    for i in 0..3 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("FAIL live.venues[{i}]")))
            .unwrap_or_else(|| panic!("venue {i} fails: {text}"));
        assert!(
            line.contains("secret"),
            "the line says the secret is wrong: {line}"
        );
    }
    assert_eq!(
        sandbox.executed_orders() + sandbox.executed_withdrawals(),
        0,
        "nothing moved"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn venues_check_names_a_key_without_read_permission_and_an_unreachable_url() {
    let ca = TestCa::new("check");
    let dir = tempfile::tempdir().unwrap();
    let sandbox = checking_sandbox(false).await;
    let url = https_url(&ca, &sandbox.base_url()).await;
    let pem = coinbase_pem(9);
    let (ok, text) = venues_check(
        dir.path(),
        &ca,
        &all_three(dir.path(), &url, [BINANCE_SECRET, KRAKEN_SECRET, &pem]),
    )
    .await;
    assert!(!ok, "{text}");
    assert_eq!(
        text.matches("lacks the read permission").count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("\"Enable Reading\"")
            && text.contains("\"Query Funds\"")
            && text.contains("\"View\""),
        "{text}"
    );

    // Nothing listens on port 1.
    let gone = vec![venue(
        dir.path(),
        VenueKind::Binance,
        "https://localhost:1",
        "binance-md",
        BINANCE_SECRET,
    )];
    let (ok, text) = venues_check(dir.path(), &ca, &gone).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL live.venues[0] (binance): cannot reach https://localhost:1"),
        "{text}"
    );

    // A credential file others can read is refused before anything is sent.
    let mut open = venue(
        dir.path(),
        VenueKind::Kraken,
        &url,
        "kraken-md",
        KRAKEN_SECRET,
    );
    std::fs::set_permissions(
        &open.market_api_secret.file,
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    open.market_api_key = secret_file(dir.path(), "k2", "kraken-md");
    let (ok, text) = venues_check(dir.path(), &ca, &[open]).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL live.venues[0].market_api_secret") && text.contains("chmod 600"),
        "{text}"
    );
}
