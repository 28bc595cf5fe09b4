//! TLS on every outbound connection, against local HTTPS endpoints whose certificates a test CA
//! (`common::tls_ca`, made with rcgen) signed: anvil behind a TLS-terminating proxy (alloy's transport), the
//! sandbox exchange behind the same proxy (the venue clients), and a plain HTTP receiver
//! behind it (the webhook client and the external screener's client). The CA reaches the
//! clients the way an operator gives it: `[tls] extra_ca_file`. A certificate from another CA,
//! or for another host name, is refused with an error that says so.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use common::tls_ca::{tls_proxy, TestCa};
use rialto_connectors::exchange::sandbox::{RecordingSink, Sandbox, SandboxConfig};
use rialto_connectors::exchange::{
    AssetCode, Credentials, HttpVenueClients, SettlementTarget, VenueClients, VenueMap,
};
use rialto_engine::outbound::{HttpError, HttpRequest};
use rialto_gateway::http_client::{outbound_with, CONNECT_TIMEOUT};
use rialto_gateway::tls::{client_config, venue_http_setup, TlsConfig};
use rialto_gateway::webhooks::DeliveryConfig;
use rust_decimal::Decimal;
use tokio_rustls::rustls;

/// A bare anvil (no contracts, chain 31337) on a free port, ready once it answers as that
/// chain (the devnet's own start, which tries another port if one was taken meanwhile), and
/// its address; killed on drop.
async fn anvil() -> (rialto_evm::AnvilProcess, SocketAddr) {
    let root = rialto_evm::DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let bin =
        rialto_evm::locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    let anvil = rialto_evm::AnvilProcess::start(&bin, 31337, Duration::from_secs(30))
        .await
        .expect("anvil starts");
    let addr = anvil
        .rpc_url()
        .trim_start_matches("http://")
        .parse()
        .expect("anvil listens on an address");
    (anvil, addr)
}

/// The chain id read over `https://{host}:{port}` with `tls`, or the error's text.
async fn chain_id_over_tls(
    host: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> Result<u64, String> {
    let url = format!("https://{host}:{port}");
    rialto_evm::provider::trust_for(&url, tls);
    let provider = rialto_evm::provider::provider(&url).map_err(|e| e.to_string())?;
    provider
        .get_chain_id()
        .await
        .map_err(|e| rialto_evm::EvmError::from(e).to_string())
}

#[tokio::test]
async fn an_https_rpc_endpoint_signed_by_the_configured_ca_is_read_and_others_are_refused() {
    let anvil = anvil().await;
    let ca = TestCa::new("a");
    let port = tls_proxy(ca.server_config("localhost"), anvil.1).await;
    let chain = chain_id_over_tls("localhost", port, ca.client_config()).await;
    assert_eq!(
        chain,
        Ok(31337),
        "anvil answers over TLS with the CA configured"
    );

    // Without the extra CA (the webpki roots only), the same endpoint is refused.
    let default = client_config(&TlsConfig::default()).unwrap();
    let port_b = tls_proxy(ca.server_config("localhost"), anvil.1).await;
    let err = chain_id_over_tls("localhost", port_b, default)
        .await
        .expect_err("an unknown issuer is refused");
    assert!(
        err.contains("invalid peer certificate") && err.contains("UnknownIssuer"),
        "the error says the issuer is unknown: {err}"
    );

    // Another CA's certificate, while only CA "a" is configured: refused too.
    let other = TestCa::new("b");
    let port_c = tls_proxy(other.server_config("localhost"), anvil.1).await;
    let err = chain_id_over_tls("localhost", port_c, ca.client_config())
        .await
        .expect_err("another CA's certificate is refused");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn an_https_rpc_endpoint_whose_certificate_names_another_host_is_refused() {
    let anvil = anvil().await;
    let ca = TestCa::new("a");
    let port = tls_proxy(ca.server_config("rpc.other.example"), anvil.1).await;
    let err = chain_id_over_tls("localhost", port, ca.client_config())
        .await
        .expect_err("a certificate for another host is refused");
    assert!(
        err.contains("invalid peer certificate") && err.contains("not valid for name"),
        "the error says the name does not match: {err}"
    );
}

fn usdc() -> AssetCode {
    AssetCode::new("USDC").unwrap()
}

/// A sandbox exchange holding 1,000 USDC, behind a TLS proxy presenting `ca`'s certificate
/// for localhost; answers it (keep it alive) and the venue map pointing at the proxy.
async fn sandbox_over_tls(ca: &TestCa) -> (Sandbox, VenueMap) {
    let mut config = SandboxConfig::new(Arc::new(RecordingSink::default()));
    config.balances = BTreeMap::from([(usdc(), Decimal::new(1000, 0))]);
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let base = sandbox.base_url();
    let upstream: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let port = tls_proxy(ca.server_config("localhost"), upstream).await;
    let mut map = VenueMap::default();
    for venue in ["binance", "kraken", "coinbase"] {
        map.base_urls
            .insert(venue.to_owned(), format!("https://localhost:{port}"));
    }
    map.networks
        .insert("eip155:8453".to_owned(), "base".to_owned());
    (sandbox, map)
}

async fn sandbox_usdc_balance(
    clients: &HttpVenueClients,
    venue: &str,
    map: &VenueMap,
) -> Result<Decimal, String> {
    let credentials: Credentials = clients.market_credentials(venue).unwrap();
    let chain = "eip155:8453".parse().unwrap();
    let asset = usdc();
    let target = SettlementTarget {
        asset: &asset,
        chain: &chain,
        address: "0x000000000000000000000000000000000000dEaD",
    };
    let client = clients
        .client(venue, &credentials, map, target)
        .map_err(|e| e.to_string())?;
    let balances = client.balances().await.map_err(|e| format!("{e:?}"))?;
    Ok(balances
        .iter()
        .find(|b| b.asset == asset)
        .map(|b| b.available)
        .unwrap_or_default())
}

#[tokio::test]
async fn the_venue_clients_reach_the_sandbox_exchange_over_tls_only_with_the_configured_ca() {
    let ca = TestCa::new("a");
    let (_sandbox, map) = sandbox_over_tls(&ca).await;
    let trusted = HttpVenueClients::with_http_setup(venue_http_setup(&ca.client_config()));
    for venue in ["binance", "kraken", "coinbase"] {
        let balance = sandbox_usdc_balance(&trusted, venue, &map).await;
        assert_eq!(balance, Ok(Decimal::new(1000, 0)), "{venue} over TLS");
    }
    let other = TestCa::new("b");
    let distrusting = HttpVenueClients::with_http_setup(venue_http_setup(&other.client_config()));
    let err = sandbox_usdc_balance(&distrusting, "kraken", &map)
        .await
        .expect_err("the sandbox's certificate is not from CA b");
    assert!(
        err.contains("Unavailable") || err.contains("Network"),
        "{err}"
    );
}

/// A receiver answering 200 to every POST (a webhook endpoint or the external screener),
/// behind a TLS proxy presenting `ca`'s certificate for `host`. Answers its port.
async fn https_receiver(ca: &TestCa, host: &str, server: &wiremock::MockServer) -> u16 {
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("{}"))
        .mount(server)
        .await;
    tls_proxy(ca.server_config(host), *server.address()).await
}

fn post(port: u16) -> HttpRequest {
    let url = format!("https://localhost:{port}/hook").parse().unwrap();
    HttpRequest::post(url, b"{}".to_vec(), Duration::from_secs(10))
}

#[tokio::test]
async fn webhooks_and_the_screener_client_post_over_tls_and_refuse_a_bad_certificate() {
    let ca = TestCa::new("a");
    let receiver = wiremock::MockServer::start().await;
    let port = https_receiver(&ca, "localhost", &receiver).await;
    let deliveries = DeliveryConfig {
        allow_private_targets: true,
        ..DeliveryConfig::default()
    };
    let webhooks = rialto_gateway::webhooks::http_client(&deliveries, &ca.client_config()).unwrap();
    let screener = outbound_with(CONNECT_TIMEOUT, &ca.client_config()).unwrap();
    for client in [&webhooks, &screener] {
        let answer = client.post(post(port)).await.expect("delivered over TLS");
        assert_eq!(answer.status, 200);
    }
    assert_eq!(receiver.received_requests().await.unwrap().len(), 2);

    let wrong_name = https_receiver(&ca, "hooks.other.example", &receiver).await;
    let other = TestCa::new("b");
    let distrusting = outbound_with(CONNECT_TIMEOUT, &other.client_config()).unwrap();
    for (client, port) in [
        (&webhooks, wrong_name),
        (&screener, wrong_name),
        (&distrusting, port),
    ] {
        let refused = client.post(post(port)).await.expect_err("refused");
        assert_eq!(refused, HttpError::Certificate, "said plainly");
        assert!(refused.to_string().contains("TLS certificate was refused"));
    }
    assert_eq!(
        receiver.received_requests().await.unwrap().len(),
        2,
        "nothing reached the receiver past a refused certificate"
    );
}
