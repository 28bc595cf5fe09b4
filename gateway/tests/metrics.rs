//! `/metrics` after a devnet payment: every series docs/METRICS.md lists as produced by a
//! payment's path (HTTP, the intent, screening, the chain watcher, the gateway's legs, the
//! routing worker, webhook delivery) appears.

mod common;

use std::sync::Arc;

use alloy::primitives::U256;
use common::devnet::{deposit_address, intent, pay_usdc, start, wait_for};
use rialto_gateway::store::Store;
use rialto_gateway::webhooks::{deliver_due, dispatch_events, http_client, DeliveryConfig};
use serde_json::json;

#[tokio::test]
async fn a_devnet_payment_leaves_every_listed_series_on_metrics() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    // A receiver for the payment's webhooks, so delivery is counted too.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = app
        .post("/v1/webhook_endpoints", app.sk())
        .json(&json!({"url": format!("{}/hook", receiver.uri()), "enabled_events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 200, "{}", endpoint.text().await.unwrap());

    let paying = intent(app, "5.00").await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &to, U256::from(5_000_000u64)).await;
    wait_for(app, &paying, "succeeded").await;

    let store: Arc<dyn Store> = app.store.clone();
    dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    let config = DeliveryConfig {
        allow_private_targets: true,
        ..DeliveryConfig::default()
    };
    let client = http_client(&config, &rialto_evm::provider::default_tls()).unwrap();
    let delivered = deliver_due(
        store,
        app.sealer.clone(),
        app.clock.clone(),
        client,
        &config,
    )
    .await
    .unwrap();
    assert!(delivered > 0, "the payment's events were delivered");

    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let base = chain.chain_id.to_string();
    for series in [
        "rialto_http_requests_total{".to_owned(),
        "rialto_payment_intents_created_total".to_owned(),
        "rialto_compliance_screenings_total{".to_owned(),
        format!("rialto_chain_head_lag_blocks{{chain=\"{base}\"}}"),
        format!("rialto_chain_confirmations_pending{{chain=\"{base}\"}}"),
        format!("rialto_chain_legs{{chain=\"{base}\",state=\"pending\"}}"),
        format!("rialto_chain_legs{{chain=\"{base}\",state=\"submitted\"}}"),
        "rialto_route_executions_due{state=\"running\"}".to_owned(),
        "rialto_webhook_deliveries_claimed".to_owned(),
        "rialto_webhook_attempts_total{result=\"succeeded\"}".to_owned(),
    ] {
        assert!(
            metrics.contains(&series),
            "{series} missing from /metrics:\n{metrics}"
        );
    }
}
