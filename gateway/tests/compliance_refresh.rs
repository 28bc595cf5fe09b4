//! `rialto compliance refresh` against a local HTTPS server (a test CA's certificate, the CA
//! given as `[tls] extra_ca_file` would give it) serving OFAC's official formats: the shipped
//! `SDN.CSV` and `ALT.CSV` and the per-asset address lists. A good download replaces the
//! folder; a truncated, mis-pinned, unparsable or untrusted one leaves the lists in force
//! untouched; a running gateway screens with a newly listed address without a restart.

mod common;
mod compliance_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::tls_ca::{tls_proxy, TestCa};
use common::{spawn_app_with, Db};
use compliance_support::{copy_dir, pay, PAYER};
use rialto_compliance::AddressKey;
use rialto_engine::config::ComplianceConfig;
use rialto_gateway::clock::SystemClock;
use rialto_gateway::compliance::lists::OfacLists;
use rialto_gateway::config::Config;
use rialto_gateway::lists_refresh::{refresh, RefreshError};
use serde_json::json;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac")
}

/// What the server answers: URL path → body. Tests change it between refreshes.
type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// The official files, as OFAC and the address-list publisher name them.
fn official_files() -> HashMap<String, Vec<u8>> {
    let read = |p: &str| std::fs::read(shipped().join(p)).unwrap();
    let mut files = HashMap::new();
    files.insert("/SDN.CSV".to_owned(), read("sdn/2024-05-03/sdn.csv"));
    files.insert("/ALT.CSV".to_owned(), read("sdn/2022-01-31/alt.csv"));
    for entry in std::fs::read_dir(shipped()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("sanctioned_addresses_") {
            files.insert(
                format!("/lists/{name}"),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    files
}

/// An HTTPS server on localhost presenting a certificate `ca` signed; answers its port.
async fn https_server(ca: &TestCa, files: Files) -> u16 {
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let files = files.clone();
        async move {
            match files.lock().unwrap().get(uri.path()) {
                Some(body) => (axum::http::StatusCode::OK, body.clone()),
                None => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    tls_proxy(ca.server_config("localhost"), plain).await
}

fn refresh_config(port: u16, ofac_dir: &Path) -> ComplianceConfig {
    let mut c = ComplianceConfig {
        ofac_dir: ofac_dir.display().to_string(),
        ..Default::default()
    };
    c.refresh.sdn_url = format!("https://localhost:{port}/SDN.CSV");
    c.refresh.alt_url = format!("https://localhost:{port}/ALT.CSV");
    c.refresh.addresses_url = format!("https://localhost:{port}/lists/");
    c
}

fn source_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("SOURCE")).unwrap()
}

/// The folder's siblings (staging folders must not be left behind).
fn siblings(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_refresh_downloads_the_official_files_over_https_and_replaces_the_folder() {
    let ca = TestCa::new("lists");
    let files: Files = Arc::new(Mutex::new(official_files()));
    let port = https_server(&ca, files.clone()).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ofac");
    std::fs::create_dir_all(&dir).unwrap();
    copy_dir(&shipped(), &dir);
    let config = refresh_config(port, &dir);
    let now = 1_796_583_900_000;

    let report = refresh(&config, &ca.client_config(), now).await.unwrap();
    assert_eq!(report.sdn_entries, 14_965);
    assert_eq!(report.files.len(), 2 + 17, "SDN, ALT and 17 address lists");
    assert!(report.sanctioned_addresses >= 600, "{report:?}");
    assert!(source_of(&dir).contains(&format!("fetched_at_ms={now}")));
    let loaded = OfacLists::from_dir(&dir).unwrap();
    assert_eq!(loaded.fetched_at_ms, Some(now));
    assert_eq!(loaded.versions(), report.list_versions);
    assert!(report.list_versions[0].ends_with("@202612061905"));
    // The lists it replaced are kept beside it, and no staging folder is left.
    let previous = PathBuf::from(report.previous_dir.unwrap());
    assert!(!source_of(&previous).contains("fetched_at_ms"));
    assert_eq!(siblings(&dir), vec!["ofac", "ofac.previous"]);
}

#[tokio::test]
async fn a_bad_download_leaves_the_lists_in_force_untouched() {
    let ca = TestCa::new("lists");
    let files: Files = Arc::new(Mutex::new(official_files()));
    let port = https_server(&ca, files.clone()).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ofac");
    std::fs::create_dir_all(&dir).unwrap();
    copy_dir(&shipped(), &dir);
    let before = source_of(&dir);
    let tls = ca.client_config();
    let mut config = refresh_config(port, &dir);

    // Truncated: a tenth of the SDN file still parses, but is far under the minimum.
    let full = files.lock().unwrap()["/SDN.CSV"].clone();
    let cut = full.len() / 10;
    let cut = cut + full[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    files
        .lock()
        .unwrap()
        .insert("/SDN.CSV".into(), full[..cut].to_vec());
    let err = refresh(&config, &tls, 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            RefreshError::TooFew {
                what: "SDN entries",
                ..
            }
        ),
        "{err}"
    );
    files.lock().unwrap().insert("/SDN.CSV".into(), full);

    // A pinned checksum the download does not have.
    config
        .refresh
        .sha256
        .insert("sdn.csv".into(), "00".repeat(32));
    let err = refresh(&config, &tls, 2).await.unwrap_err();
    assert!(matches!(err, RefreshError::Checksum { .. }), "{err}");
    config.refresh.sha256.clear();

    // A list the server does not have.
    config.refresh.assets.push("SOL".into());
    let err = refresh(&config, &tls, 3).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    config.refresh.assets.pop();

    // A server whose certificate another CA signed.
    let err = refresh(&config, &TestCa::new("other").client_config(), 4)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // An address list with a line that is no address (an error page served as the file).
    files.lock().unwrap().insert(
        "/lists/sanctioned_addresses_ETH.txt".into(),
        b"<html>rate limited</html>\n".to_vec(),
    );
    let err = refresh(&config, &tls, 5).await.unwrap_err();
    assert!(matches!(err, RefreshError::Invalid(_)), "{err}");

    assert_eq!(source_of(&dir), before);
    assert_eq!(siblings(&dir), vec!["ofac"]);
}

#[tokio::test]
async fn a_running_gateway_blocks_an_address_listed_by_a_refresh_without_a_restart() {
    let ca = TestCa::new("lists");
    let files: Files = Arc::new(Mutex::new(official_files()));
    let port = https_server(&ca, files.clone()).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ofac");
    std::fs::create_dir_all(&dir).unwrap();
    copy_dir(&shipped(), &dir);
    let config = refresh_config(port, &dir);
    let app = spawn_app_with(Db::Sqlite, |c: &mut Config| {
        c.compliance.ofac_dir = config.ofac_dir.clone();
        c.compliance.watch_secs = 1;
    })
    .await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(rialto_gateway::server::run_list_watch(
        app.state.compliance.clone(),
        Arc::new(SystemClock),
        stop_rx,
    ));
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "funds_received"
    );

    // OFAC lists the payer: the publisher's ETH file gains a line.
    {
        let mut served = files.lock().unwrap();
        let eth = served
            .get_mut("/lists/sanctioned_addresses_ETH.txt")
            .unwrap();
        eth.extend_from_slice(format!("{}\n", PAYER.to_ascii_lowercase()).as_bytes());
    }
    refresh(&config, &ca.client_config(), 7).await.unwrap();
    let payer = AddressKey::parse(PAYER).unwrap();
    let started = Instant::now();
    while app
        .state
        .compliance
        .lists()
        .sanctions
        .check(&payer)
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway never re-read the refreshed folder"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.state.compliance.lists().fetched_at_ms, Some(7));
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "blocked");
}
